/*
 * test/concurrency/atomic_setup.sql
 *		Setup for the all-or-nothing check: ATOM-ONE on one slot, ATOM-HOT
 *		spread over 2 slots, 10 units each.
 *
 * Run by run.sh with psql in a database where the extension is created and
 * configured.
 */

INSERT INTO inventory.product (sku, name)
VALUES ('ATOM-ONE', 'atomic order, one slot'),
	   ('ATOM-HOT', 'atomic order, two slots');
SELECT stock_level FROM inventory.inv_adjust('ATOM-ONE', 10, 'set') \gset
SELECT stock_level FROM inventory.inv_adjust('ATOM-HOT', 10, 'set') \gset
SELECT inventory.inv_set_slots('ATOM-HOT', 2) AS slots \gset
