/*
 * test/concurrency/retries_check.sql
 *		The state left by the retry run, as one line of numbers.
 *
 * Columns, in order: distinct single-line references, distinct order
 * references, reservation rows, orders without exactly their two lines,
 * reserved of RETRY-1 and of RETRY-2 minus what the reservations hold
 * (2 per single line plus 1 per order line), and the number of rows
 * inv_verify() reports.
 */
WITH r AS (
	SELECT r.order_ref, r.product_id, r.quantity, p.sku
	FROM inventory.reservation r
	JOIN inventory.product p USING (supplier_id, product_id)
	WHERE r.order_ref LIKE 'retry-%' AND r.state = 'reserved'
)
SELECT (SELECT count(DISTINCT order_ref) FROM r
		WHERE order_ref NOT LIKE 'retry-order-%') AS single_refs,
	   (SELECT count(DISTINCT order_ref) FROM r
		WHERE order_ref LIKE 'retry-order-%') AS order_refs,
	   (SELECT count(*) FROM r) AS reservation_rows,
	   (SELECT count(*) FROM (
			SELECT order_ref FROM r
			WHERE order_ref LIKE 'retry-order-%'
			GROUP BY order_ref
			HAVING count(*) <> 2 OR sum(quantity) <> 2) x) AS bad_orders,
	   (SELECT reserved FROM inventory.stock WHERE sku = 'RETRY-1')
		- (SELECT coalesce(sum(quantity), 0) FROM r WHERE sku = 'RETRY-1') AS off_1,
	   (SELECT reserved FROM inventory.stock WHERE sku = 'RETRY-2')
		- (SELECT coalesce(sum(quantity), 0) FROM r WHERE sku = 'RETRY-2') AS off_2,
	   (SELECT count(*) FROM r
		WHERE (order_ref LIKE 'retry-order-%' AND quantity <> 1)
		   OR (order_ref NOT LIKE 'retry-order-%' AND quantity <> 2)) AS bad_quantities,
	   (SELECT count(*) FROM inventory.inv_verify()) AS verify_rows;
