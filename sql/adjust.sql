--
-- adjust: setting and changing stock levels
--
-- Set a level by SKU, then change it by a delta by id
SELECT * FROM inventory.inv_adjust('WIDGET-1', 10, 'set', 'opening stock take');
SELECT * FROM inventory.inv_adjust(1, 5, reason => 'delivery');
SELECT * FROM inventory.inv_adjust(1, -3, 'delta', 'damaged in store');
SELECT * FROM inventory.inv_adjust('GADGET-2', 4, 'set');
SELECT * FROM inventory.inv_adjust('00042', 1, 'set');

-- A set carrying the level the caller read applies while it is still true
SELECT * FROM inventory.inv_adjust(1, 20, 'set', 'recount', expected_level => 12);

-- ... and is refused once stock has moved
SELECT * FROM inventory.inv_adjust(1, 25, 'set', 'recount', expected_level => 12);
\echo :LAST_ERROR_SQLSTATE

-- Setting the level it already has changes nothing and writes no ledger row
SELECT count(*) AS ledger_before FROM inventory.ledger \gset
SELECT * FROM inventory.inv_adjust(1, 20, 'set', 'no-op');
SELECT * FROM inventory.inv_adjust(1, 0);
SELECT count(*) - :ledger_before AS new_ledger_rows FROM inventory.ledger;

-- Stock cannot go below zero, nor below what is reserved
SELECT * FROM inventory.inv_adjust(1, -21);
\echo :LAST_ERROR_SQLSTATE
SELECT reservation_id FROM inventory.inv_reserve('ADJ-1', 'GADGET-2', 3);
SELECT * FROM inventory.inv_adjust('GADGET-2', 2, 'set', 'recount');
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM inventory.inv_adjust('GADGET-2', -2);
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM inventory.inv_adjust('GADGET-2', 3, 'set', 'recount down to reserved');
SELECT * FROM inventory.inv_release_order('ADJ-1');

-- Retrying a line whose reservation has ended returns it, and says so
SELECT reservation_id, state FROM inventory.inv_reserve('ADJ-1', 'GADGET-2', 3);

-- Invalid input, each with its own SQLSTATE, and nothing changed
SELECT * FROM inventory.inv_adjust(1, -1, 'set');
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM inventory.inv_adjust(1, 1, 'add');
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM inventory.inv_adjust(1, NULL);
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM inventory.inv_adjust(NULL::bigint, 1);
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM inventory.inv_adjust(999, 1);
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM inventory.inv_adjust('NO-SUCH-SKU', 1);
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM inventory.inv_adjust('widget-1', 1);
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM inventory.inv_adjust(1, 9223372036854775807);
\echo :LAST_ERROR_SQLSTATE

SELECT product_id, sku, stock_level, reserved, available, committed
FROM inventory.stock ORDER BY product_id;

-- The ledger tells the story, with reasons and kinds
SELECT ledger_id, product_id, kind, stock_level_before, stock_level_after,
	   reserved_before, reserved_after, reason, db_user = current_user AS by_me
FROM inventory.ledger ORDER BY ledger_id;
