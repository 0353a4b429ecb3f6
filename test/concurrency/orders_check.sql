/*
 * test/concurrency/orders_check.sql
 *		The state left by the multi-line order run, as one line of numbers.
 *
 * Columns, in order: products, accepted orders, reservation rows, restocks,
 * then the number of products breaking each invariant: stock level equal to
 * initial + restocked - (confirmed + dispatched), reserved equal to the open
 * reservations, committed equal to the confirmed ones, available never
 * negative, made consistent with the stock_slot row; then the number of
 * accepted orders whose rows do not match what was asked (one row per
 * distinct product, quantities summed), of orders with lines in more than one
 * state, of reservation rows belonging to no accepted order, and the number
 * of rows inv_verify() reports.
 */
WITH asked AS (
	SELECT o.ord, l.product_id, sum(l.quantity) AS quantity
	FROM public.conc_order o,
		 LATERAL unnest(o.product_ids, o.quantities) AS l(product_id, quantity)
	GROUP BY o.ord, l.product_id
),
got AS (
	SELECT substr(r.order_ref, 7)::bigint AS ord, r.product_id, r.quantity
	FROM inventory.reservation r
	WHERE r.order_ref LIKE 'multi-%'
),
per_product AS (
	SELECT c.product_id,
		   c.initial,
		   coalesce((SELECT sum(x.quantity) FROM public.conc_restock x
					 WHERE x.product_id = c.product_id), 0) AS restocked,
		   coalesce(sum(r.quantity) FILTER (WHERE r.state IN ('confirmed', 'dispatched')), 0) AS consumed,
		   coalesce(sum(r.quantity) FILTER (WHERE r.state = 'reserved'), 0) AS open_qty,
		   coalesce(sum(r.quantity) FILTER (WHERE r.state = 'confirmed'), 0) AS confirmed_qty
	FROM public.conc_product c
	LEFT JOIN inventory.reservation r ON r.product_id = c.product_id
	GROUP BY c.product_id, c.initial
),
joined AS (
	SELECT p.*, s.stock_level, s.reserved, s.committed, s.available
	FROM per_product p
	JOIN inventory.stock s USING (product_id)
)
SELECT (SELECT count(*) FROM joined) AS products,
	   (SELECT count(*) FROM public.conc_order) AS orders,
	   (SELECT count(*) FROM got) AS reservation_rows,
	   (SELECT count(*) FROM public.conc_restock) AS restocks,
	   (SELECT count(*) FROM joined
		WHERE stock_level <> initial + restocked - consumed) AS bad_stock_level,
	   (SELECT count(*) FROM joined WHERE reserved <> open_qty) AS bad_reserved,
	   (SELECT count(*) FROM joined WHERE committed <> confirmed_qty) AS bad_committed,
	   (SELECT count(*) FROM joined
		WHERE available < 0 OR available <> stock_level - reserved) AS bad_available,
	   (SELECT count(*) FROM (
			SELECT ord FROM (
				(SELECT ord, product_id, quantity FROM asked
				 EXCEPT ALL
				 SELECT ord, product_id, quantity FROM got)
				UNION ALL
				(SELECT ord, product_id, quantity FROM got
				 EXCEPT ALL
				 SELECT ord, product_id, quantity FROM asked)) d
			GROUP BY ord) m) AS bad_orders,
	   (SELECT count(*) FROM (
			SELECT r.order_ref FROM inventory.reservation r
			WHERE r.order_ref LIKE 'multi-%'
			GROUP BY r.order_ref
			HAVING count(DISTINCT r.state) > 1) m) AS split_orders,
	   (SELECT count(*) FROM got g
		WHERE NOT EXISTS (SELECT FROM public.conc_order o
						  WHERE o.ord = g.ord)) AS stray_rows,
	   (SELECT count(*) FROM inventory.inv_verify()) AS verify_rows;
