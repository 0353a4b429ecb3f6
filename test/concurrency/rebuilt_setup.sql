/*
 * test/concurrency/rebuilt_setup.sql
 *		Setup for the race with cache rebuilds: 100 products of 10^9 units,
 *		the first spread over 8 stock slots.  Prints the first product's id.
 *
 * Run by run.sh with psql in a database where the extension is created and
 * configured.
 */

INSERT INTO inventory.product (sku, name)
SELECT 'REBUILT-' || g, 'rebuilt race ' || g FROM generate_series(1, 100) g;

SET inventory.reason = 'rebuilt race stock';
UPDATE inventory.stock_slot SET stock_level = 1000000000;
RESET inventory.reason;

SELECT inventory.inv_set_slots(min(product_id), 8) AS slots
FROM inventory.product \gset

SELECT min(product_id) FROM inventory.product;
