--
-- reserve: holding stock for one order line
--
-- By SKU and by id; the row returned is the reservation
SELECT reservation_id, order_ref, product_id, slot, retailer_id, quantity,
	   state, expires_at - created_at AS holds_for
FROM inventory.inv_reserve('R-1', 'WIDGET-1', 4, 'retailer-a');
SELECT reservation_id, order_ref, product_id, quantity, state
FROM inventory.inv_reserve('R-2', 1, 6);

-- A retry of the same order line returns the same reservation, holding once
SELECT reservation_id, quantity, state
FROM inventory.inv_reserve('R-1', 'WIDGET-1', 4, 'retailer-a');
SELECT stock_level, reserved, available FROM inventory.stock WHERE product_id = 1;

-- ... but a "retry" that asks for something else is refused
SELECT * FROM inventory.inv_reserve('R-1', 'WIDGET-1', 5, 'retailer-a');
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM inventory.inv_reserve('R-1', 'WIDGET-1', 4, 'retailer-b');
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM inventory.inv_reserve('R-1', 'WIDGET-1', 4);
\echo :LAST_ERROR_SQLSTATE

-- The last units can be reserved; one more cannot
SELECT reservation_id, quantity FROM inventory.inv_reserve('R-3', 1, 10);
SELECT * FROM inventory.inv_reserve('R-4', 1, 1);
\echo :LAST_ERROR_SQLSTATE
SELECT stock_level, reserved, available FROM inventory.stock WHERE product_id = 1;

-- A failed reservation leaves no row behind
SELECT count(*) FROM inventory.reservation WHERE order_ref = 'R-4';

-- The same order reference may name other products
SELECT reservation_id, order_ref, product_id, quantity
FROM inventory.inv_reserve('R-1', 'GADGET-2', 1);

-- SKUs are text: leading zeros are part of them
SELECT product_id, quantity FROM inventory.inv_reserve('R-5', '00042', 1);

-- A made-to-order product has no stock to run out of
SELECT product_id, quantity, state
FROM inventory.inv_reserve('R-6', 'BESPOKE-9', 25);
SELECT stock_level, reserved, available, committed
FROM inventory.stock_slot WHERE product_id = 4;
SELECT available FROM inventory.stock WHERE product_id = 4;

-- Whether a product is made to order cannot change under open orders
UPDATE inventory.product SET made_to_order = false WHERE sku = 'BESPOKE-9';
\echo :LAST_ERROR_SQLSTATE
UPDATE inventory.product SET made_to_order = true WHERE sku = 'WIDGET-1';
\echo :LAST_ERROR_SQLSTATE
UPDATE inventory.product SET made_to_order = true WHERE sku = 'BESPOKE-9';
SELECT * FROM inventory.inv_adjust('BESPOKE-9', 2, 'set', 'sample pieces');
SELECT * FROM inventory.inv_adjust('BESPOKE-9', 0, 'set', 'samples sold');

-- Expiry follows inventory.reservation_timeout
SET inventory.reservation_timeout = '90s';
SELECT expires_at - created_at AS holds_for
FROM inventory.inv_reserve('R-7', 'GADGET-2', 1);
RESET inventory.reservation_timeout;

-- Invalid input, each with its own SQLSTATE
SELECT * FROM inventory.inv_reserve('R-8', 1, 0);
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM inventory.inv_reserve('R-8', 1, -2);
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM inventory.inv_reserve('R-8', 1, NULL);
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM inventory.inv_reserve('R-8', NULL::bigint, 1);
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM inventory.inv_reserve('', 1, 1);
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM inventory.inv_reserve(repeat('x', 201), 1, 1);
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM inventory.inv_reserve(NULL, 1, 1);
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM inventory.inv_reserve('R-8', 4242, 1);
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM inventory.inv_reserve('R-8', 'NO-SUCH-SKU', 1);
\echo :LAST_ERROR_SQLSTATE

SELECT reservation_id, order_ref, product_id, retailer_id, quantity, state
FROM inventory.reservation ORDER BY reservation_id;
SELECT product_id, stock_level, reserved, available, committed
FROM inventory.stock ORDER BY product_id;
