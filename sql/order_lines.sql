--
-- order_lines: reserving every line of an order, or none
--
-- Give the products fresh stock to work with
SELECT stock_level FROM inventory.inv_adjust('GADGET-2', 10);
SELECT stock_level FROM inventory.inv_adjust('00042', 2);
SELECT product_id, available FROM inventory.stock
WHERE product_id IN (2, 3) ORDER BY product_id;

-- Lines come back in product order, one reservation per product
SELECT reservation_id, order_ref, product_id, quantity, state
FROM inventory.inv_reserve_order('O-1', ARRAY['00042', 'GADGET-2'], ARRAY[1, 2]);

-- Lines naming the same product are summed: two lines of 1 against 1 unit
SELECT available FROM inventory.stock WHERE product_id = 3;
SELECT * FROM inventory.inv_reserve_order('O-2', ARRAY[3, 3], ARRAY[1, 1]);
\echo :LAST_ERROR_SQLSTATE
SELECT product_id, quantity
FROM inventory.inv_reserve_order('O-3', ARRAY[2, 2, 2], ARRAY[1, 2, 3]);

-- All or nothing: the first line fits, the second does not, nothing is held
SELECT product_id, available FROM inventory.stock
WHERE product_id IN (2, 3) ORDER BY product_id;
SELECT * FROM inventory.inv_reserve_order('O-4', ARRAY[2, 3], ARRAY[1, 5]);
\echo :LAST_ERROR_SQLSTATE
SELECT count(*) AS o4_rows FROM inventory.reservation WHERE order_ref = 'O-4';
SELECT product_id, available FROM inventory.stock
WHERE product_id IN (2, 3) ORDER BY product_id;

-- A retried order returns what the first call reserved
SELECT reservation_id, product_id, quantity
FROM inventory.inv_reserve_order('O-1', ARRAY['GADGET-2', '00042'], ARRAY[2, 1]);

-- Invalid input, each with its own SQLSTATE
SELECT * FROM inventory.inv_reserve_order('O-5', ARRAY[]::bigint[], ARRAY[]::bigint[]);
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM inventory.inv_reserve_order('O-5', ARRAY[1, 2], ARRAY[1]);
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM inventory.inv_reserve_order('O-5', ARRAY[1, NULL], ARRAY[1, 1]);
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM inventory.inv_reserve_order('O-5', ARRAY[2], ARRAY[0]);
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM inventory.inv_reserve_order('O-5', ARRAY['GADGET-2', 'NOPE'], ARRAY[1, 1]);
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM inventory.inv_reserve_order('O-5', NULL::bigint[], ARRAY[1]);
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM inventory.inv_reserve_order('O-5', ARRAY[[2, 3]], ARRAY[[1, 1]]);
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM inventory.inv_reserve_order('O-5', ARRAY[2, 2], ARRAY[9223372036854775807, 1]);
\echo :LAST_ERROR_SQLSTATE
SELECT count(*) AS o5_rows FROM inventory.reservation WHERE order_ref = 'O-5';
