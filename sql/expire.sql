--
-- expire: reservations that are neither confirmed nor released in time
--
SELECT product_id, quantity FROM inventory.inv_reserve_order('E-1', ARRAY[1, 2], ARRAY[2, 1]);
SELECT product_id, quantity FROM inventory.inv_reserve('E-2', 2, 1);
SELECT product_id, reserved, available FROM inventory.stock
WHERE product_id IN (1, 2) ORDER BY product_id;

-- Nothing is due yet
SELECT inventory.inv_expire();

-- Let E-1 lapse, as if its time had passed
UPDATE inventory.reservation SET created_at = created_at - interval '1 hour',
	expires_at = now() - interval '1 second'
WHERE order_ref = 'E-1';

-- Confirming a lapsed reservation is refused even before the sweep
\set VERBOSITY terse
SELECT * FROM inventory.inv_confirm_order('E-1');
\echo :LAST_ERROR_SQLSTATE
\set VERBOSITY default

-- The sweep releases exactly the lapsed ones
SELECT inventory.inv_expire();
SELECT order_ref, product_id, state FROM inventory.reservation
WHERE order_ref IN ('E-1', 'E-2') ORDER BY order_ref, product_id;
SELECT product_id, reserved, available FROM inventory.stock
WHERE product_id IN (1, 2) ORDER BY product_id;
SELECT inventory.inv_expire();

-- An expired line is finished: a release finds it so, a confirm is refused
SELECT * FROM inventory.inv_release_order('E-1');
\set VERBOSITY terse
SELECT * FROM inventory.inv_confirm_order('E-1');
\echo :LAST_ERROR_SQLSTATE
\set VERBOSITY default

-- The sweep wrote one ledger row per expired line
SELECT kind, product_id, reserved_before, reserved_after, order_ref
FROM inventory.ledger WHERE kind = 'expire' ORDER BY ledger_id;

SELECT * FROM inventory.inv_release_order('E-2');
SELECT * FROM inventory.inv_verify();
