--
-- ledger: every stock change, whoever makes it, and nothing else
--
-- Summing the ledger reproduces every slot's stock
SELECT s.product_id, s.stock_level, s.reserved, s.committed,
	   sum(l.stock_level_after - l.stock_level_before) AS ledger_stock_level,
	   sum(l.reserved_after - l.reserved_before) AS ledger_reserved,
	   sum(l.committed_after - l.committed_before) AS ledger_committed
FROM inventory.stock_slot s
LEFT JOIN inventory.ledger l USING (supplier_id, product_id, slot)
GROUP BY s.product_id, s.stock_level, s.reserved, s.committed
ORDER BY s.product_id;

-- The order path names its kind, order and reservation
SELECT kind, count(*), bool_and(order_ref IS NOT NULL) AS has_order,
	   bool_and(reservation_id IS NOT NULL) AS has_reservation
FROM inventory.ledger
WHERE kind IN ('reserve', 'confirm', 'release', 'dispatch', 'expire')
GROUP BY kind ORDER BY kind COLLATE "C";

-- A direct UPDATE by an administrator is recorded too, with the actor and
-- reason the session names
BEGIN;
SET LOCAL inventory.actor = 'alice@supplier.example';
SET LOCAL inventory.reason = 'found a pallet behind the shelf';
UPDATE inventory.stock_slot SET stock_level = stock_level + 7 WHERE product_id = 3;
COMMIT;
SELECT kind, product_id, stock_level_before, stock_level_after, actor, reason,
	   db_user = current_user AS by_me, order_ref
FROM inventory.ledger ORDER BY ledger_id DESC LIMIT 1;

-- The actor of a function call is recorded the same way
BEGIN;
SET LOCAL inventory.actor = 'bob@supplier.example';
SELECT stock_level FROM inventory.inv_adjust(3, -7, reason => 'pallet was a mix-up');
COMMIT;
SELECT kind, actor, reason FROM inventory.ledger ORDER BY ledger_id DESC LIMIT 1;

-- A rolled-back change leaves no trace
BEGIN;
SELECT stock_level FROM inventory.inv_adjust(3, 100);
ROLLBACK;
SELECT max(stock_level_after) < 100 AS never_logged
FROM inventory.ledger WHERE product_id = 3;

-- The database user is the role in effect, not the session's
CREATE ROLE regress_inventory_clerk;
GRANT USAGE ON SCHEMA inventory TO regress_inventory_clerk;
GRANT SELECT, UPDATE ON inventory.stock_slot TO regress_inventory_clerk;
GRANT SELECT, INSERT, UPDATE, DELETE, TRUNCATE ON inventory.ledger TO regress_inventory_clerk;
SET ROLE regress_inventory_clerk;
UPDATE inventory.stock_slot SET stock_level = stock_level + 1 WHERE product_id = 3;
SELECT kind, db_user, actor FROM inventory.ledger ORDER BY ledger_id DESC LIMIT 1;

-- The ledger is append-only, even for a role granted every privilege on it
UPDATE inventory.ledger SET reason = 'rewritten' WHERE ledger_id = 1;
\echo :LAST_ERROR_SQLSTATE
DELETE FROM inventory.ledger WHERE ledger_id = 1;
\echo :LAST_ERROR_SQLSTATE
TRUNCATE inventory.ledger;
\echo :LAST_ERROR_SQLSTATE
RESET ROLE;
SELECT stock_level FROM inventory.inv_adjust(3, -1, reason => 'undo clerk test');
REVOKE ALL ON inventory.stock_slot, inventory.ledger FROM regress_inventory_clerk;
REVOKE ALL ON SCHEMA inventory FROM regress_inventory_clerk;
DROP ROLE regress_inventory_clerk;

-- Stock cannot leave a slot except through the ledger
TRUNCATE inventory.stock_slot;
\echo :LAST_ERROR_SQLSTATE
UPDATE inventory.stock_slot SET slot = 3 WHERE product_id = 3;
\echo :LAST_ERROR_SQLSTATE
UPDATE inventory.stock_slot SET product_id = 1, slot = 1 WHERE product_id = 3;
\echo :LAST_ERROR_SQLSTATE

-- A stock row deleted by hand is named as such, and can be put back
BEGIN;
DELETE FROM inventory.stock_slot WHERE product_id = 3;
SELECT * FROM inventory.inv_adjust(3, 1);
\echo :LAST_ERROR_SQLSTATE
ROLLBACK;

-- A change that touches no quantity writes nothing
SELECT count(*) AS ledger_before FROM inventory.ledger \gset
UPDATE inventory.stock_slot SET stock_level = stock_level WHERE product_id = 3;
SELECT count(*) - :ledger_before AS new_ledger_rows FROM inventory.ledger;

-- Invariants hold against direct changes too
UPDATE inventory.stock_slot SET reserved = stock_level + 1 WHERE product_id = 2;
\echo :LAST_ERROR_SQLSTATE
UPDATE inventory.stock_slot SET stock_level = -1 WHERE product_id = 2;
\echo :LAST_ERROR_SQLSTATE
\set VERBOSITY terse
UPDATE inventory.reservation SET quantity = 0 WHERE order_ref = 'R-1';
\echo :LAST_ERROR_SQLSTATE
\set VERBOSITY default
UPDATE inventory.stock_slot SET available = 100 WHERE product_id = 2;
\echo :LAST_ERROR_SQLSTATE
INSERT INTO inventory.reservation (supplier_id, order_ref, product_id, quantity, expires_at)
VALUES (7, 'ghost', 999, 1, now());
\echo :LAST_ERROR_SQLSTATE

-- The trigger functions are for triggers only
SELECT inventory.inv_ledger_record();
\echo :LAST_ERROR_SQLSTATE
