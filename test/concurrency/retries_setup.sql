/*
 * test/concurrency/retries_setup.sql
 *		Setup for the retry run: two products with ample stock.
 *
 * Run by run.sh with psql in a database where the extension is created and
 * configured; prints the two product ids, space-separated.
 */

INSERT INTO inventory.product (sku, name)
VALUES ('RETRY-1', 'retried order lines'),
	   ('RETRY-2', 'retried orders');

SELECT count(*) AS stocked
FROM inventory.product p,
	 LATERAL inventory.inv_adjust(p.product_id, 1000000, 'set', 'retry stock')
WHERE p.sku LIKE 'RETRY-%' \gset

SELECT (SELECT product_id FROM inventory.product WHERE sku = 'RETRY-1'),
	   (SELECT product_id FROM inventory.product WHERE sku = 'RETRY-2');
