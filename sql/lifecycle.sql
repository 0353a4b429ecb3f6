--
-- lifecycle: confirm, release, dispatch, and their retries
--
SELECT reservation_id AS r1 FROM inventory.reservation WHERE order_ref = 'R-1' AND product_id = 1 \gset
SELECT reservation_id AS r2 FROM inventory.reservation WHERE order_ref = 'R-2' \gset
SELECT reservation_id AS r6 FROM inventory.reservation WHERE order_ref = 'R-6' \gset
SELECT stock_level, reserved, committed FROM inventory.stock WHERE product_id = 1;

-- Confirm: stock level and reserved go down, committed goes up
SELECT * FROM inventory.inv_confirm(:r1);
SELECT stock_level, reserved, committed FROM inventory.stock WHERE product_id = 1;

-- Confirming again changes nothing and says what it found
SELECT * FROM inventory.inv_confirm(:r1);
SELECT stock_level, reserved, committed FROM inventory.stock WHERE product_id = 1;

-- Release: the hold goes back, the stock level is untouched
SELECT * FROM inventory.inv_release(:r2, 'payment declined');
SELECT * FROM inventory.inv_release(:r2);
SELECT stock_level, reserved, committed FROM inventory.stock WHERE product_id = 1;

-- Dispatch: committed units leave
SELECT * FROM inventory.inv_dispatch(:r1);
SELECT * FROM inventory.inv_dispatch(:r1);
SELECT * FROM inventory.inv_confirm(:r1);
SELECT stock_level, reserved, committed FROM inventory.stock WHERE product_id = 1;

-- What a state rules out is refused, with its own SQLSTATE
SELECT * FROM inventory.inv_confirm(:r2);
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM inventory.inv_dispatch(:r2);
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM inventory.inv_release(:r1);
\echo :LAST_ERROR_SQLSTATE
SELECT reservation_id AS r3 FROM inventory.reservation WHERE order_ref = 'R-3' \gset
SELECT * FROM inventory.inv_dispatch(:r3);
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM inventory.inv_confirm(987654);
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM inventory.inv_release(NULL);
\echo :LAST_ERROR_SQLSTATE

-- A made-to-order product commits units for production, stock level alone
SELECT * FROM inventory.inv_confirm(:r6);
SELECT stock_level, reserved, committed FROM inventory.stock_slot WHERE product_id = 4;

-- Whole orders, in product order
SELECT * FROM inventory.inv_confirm_order('O-1');
SELECT * FROM inventory.inv_dispatch_order('O-1');
SELECT * FROM inventory.inv_release_order('O-3', 'customer cancelled');
SELECT * FROM inventory.inv_release_order('O-3');
SELECT * FROM inventory.inv_confirm_order('NO-SUCH-ORDER');
\echo :LAST_ERROR_SQLSTATE

-- An order whose lines are in mixed states is confirmed all or not at all
SELECT product_id FROM inventory.inv_reserve_order('O-6', ARRAY[1, 2], ARRAY[1, 1]);
SELECT state FROM inventory.inv_release(
	(SELECT reservation_id FROM inventory.reservation
	 WHERE order_ref = 'O-6' AND product_id = 2));
SELECT * FROM inventory.inv_confirm_order('O-6');
\echo :LAST_ERROR_SQLSTATE
SELECT product_id, state FROM inventory.reservation
WHERE order_ref = 'O-6' ORDER BY product_id;

SELECT product_id, stock_level, reserved, available, committed
FROM inventory.stock ORDER BY product_id;
SELECT * FROM inventory.inv_verify();

-- Cancel: an open line is released; a confirmed one gives its units back
SELECT product_id FROM inventory.inv_reserve_order('C-1', ARRAY[1, 2], ARRAY[2, 1]);
SELECT state FROM inventory.inv_confirm(
	(SELECT reservation_id FROM inventory.reservation
	 WHERE order_ref = 'C-1' AND product_id = 1));
SELECT product_id, stock_level, reserved, committed FROM inventory.stock
WHERE product_id IN (1, 2) ORDER BY product_id;
SELECT * FROM inventory.inv_cancel_order('C-1', 'customer changed their mind');
SELECT product_id, stock_level, reserved, committed FROM inventory.stock
WHERE product_id IN (1, 2) ORDER BY product_id;
SELECT * FROM inventory.inv_cancel_order('C-1');
SELECT kind, product_id, stock_level_before, stock_level_after,
	   committed_before, committed_after, reason
FROM inventory.ledger WHERE order_ref = 'C-1' AND kind = 'cancel'
ORDER BY ledger_id;

-- A release after confirmation points at cancel; a dispatched line is gone
SELECT product_id FROM inventory.inv_reserve('C-2', 1, 1);
SELECT state FROM inventory.inv_confirm_order('C-2');
SELECT * FROM inventory.inv_release_order('C-2');
\echo :LAST_ERROR_SQLSTATE
SELECT state FROM inventory.inv_dispatch_order('C-2');
SELECT * FROM inventory.inv_cancel_order('C-2');
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM inventory.inv_release_order('C-2');
\echo :LAST_ERROR_SQLSTATE

-- Null arguments are refused, not ignored
SELECT * FROM inventory.inv_confirm(NULL);
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM inventory.inv_cancel(NULL);
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM inventory.inv_dispatch_order(NULL);
\echo :LAST_ERROR_SQLSTATE

SELECT * FROM inventory.inv_verify();
