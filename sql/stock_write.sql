--
-- stock_write: the order path writes stock rows straight into the heap;
-- what it writes, and the table as it is now (constraints and triggers
-- added since the backend last looked), are as an UPDATE would have them
--
INSERT INTO inventory.product (sku, name) VALUES ('SW-1', 'direct write');
SELECT product_id AS sw FROM inventory.product WHERE sku = 'SW-1' \gset
SELECT stock_level FROM inventory.inv_adjust(:sw, 20, 'set', 'delivery');

-- An order, then its confirmation: the row, its generated column, the ledger
SELECT reservation_id AS r1 FROM inventory.inv_reserve('sw-1', :sw, 3) \gset
SELECT stock_level, reserved, available, committed
FROM inventory.stock_slot WHERE product_id = :sw;
SELECT changed FROM inventory.inv_confirm(:r1);
SELECT stock_level, reserved, available, committed
FROM inventory.stock_slot WHERE product_id = :sw;
SELECT kind, stock_level_before, stock_level_after, reserved_before,
	   reserved_after, committed_before, committed_after, order_ref
FROM inventory.ledger WHERE product_id = :sw ORDER BY ledger_id;

-- A CHECK constraint added after this backend prepared the table's: the
-- order is refused with that constraint's error, and nothing changes
ALTER TABLE inventory.stock_slot
	ADD CONSTRAINT sw_small_holds CHECK (reserved <= 4) NOT VALID;
\set VERBOSITY terse
SELECT quantity FROM inventory.inv_reserve('sw-2', :sw, 5);
\set VERBOSITY default
SELECT reserved, available FROM inventory.stock_slot WHERE product_id = :sw;
SELECT count(*) AS lines FROM inventory.reservation WHERE order_ref = 'sw-2';
ALTER TABLE inventory.stock_slot DROP CONSTRAINT sw_small_holds;
SELECT quantity FROM inventory.inv_reserve('sw-2', :sw, 5);
SELECT reserved, available FROM inventory.stock_slot WHERE product_id = :sw;

-- Someone else's trigger on the stock table fires for the order path too
CREATE FUNCTION public.sw_watch() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	RAISE NOTICE 'reserved % -> %, available % -> %',
		OLD.reserved, NEW.reserved, OLD.available, NEW.available;
	RETURN NULL;
END
$$;
CREATE TRIGGER sw_watch AFTER UPDATE ON inventory.stock_slot
	FOR EACH ROW EXECUTE FUNCTION public.sw_watch();
SELECT quantity FROM inventory.inv_reserve('sw-3', :sw, 1);
DROP TRIGGER sw_watch ON inventory.stock_slot;
DROP FUNCTION public.sw_watch();
SELECT quantity FROM inventory.inv_reserve('sw-4', :sw, 1);

-- Two changes of one row in one transaction: the second sees the first
BEGIN;
SELECT quantity FROM inventory.inv_reserve('sw-5', :sw, 1);
SELECT quantity FROM inventory.inv_reserve('sw-6', :sw, 1);
SELECT reserved, available FROM inventory.stock_slot WHERE product_id = :sw;
ROLLBACK;
SELECT reserved, available FROM inventory.stock_slot WHERE product_id = :sw;

-- Errors below name product ids, which depend on the suites before
\set VERBOSITY sqlstate

-- A product created in the transaction that orders it
BEGIN;
INSERT INTO inventory.product (sku) VALUES ('SW-NEW');
SELECT stock_level FROM inventory.inv_adjust('SW-NEW', 2, 'set');
SELECT quantity FROM inventory.inv_reserve('sw-8', 'SW-NEW', 2);
SELECT quantity FROM inventory.inv_reserve('sw-9', 'SW-NEW', 1);
\echo :LAST_ERROR_SQLSTATE
ROLLBACK;

-- Other isolation levels and read-only transactions take the UPDATE
BEGIN ISOLATION LEVEL REPEATABLE READ;
SELECT quantity FROM inventory.inv_reserve('sw-10', :sw, 1);
COMMIT;
BEGIN READ ONLY;
SELECT quantity FROM inventory.inv_reserve('sw-11', :sw, 1);
\echo :LAST_ERROR_SQLSTATE
ROLLBACK;

-- Not a unit more than the stock: the last one, then a refusal
SELECT available AS left FROM inventory.stock_slot WHERE product_id = :sw \gset
SELECT quantity FROM inventory.inv_reserve('sw-12', :sw, :left);
SELECT quantity FROM inventory.inv_reserve('sw-13', :sw, 1);
\echo :LAST_ERROR_SQLSTATE
SELECT stock_level, reserved, available, committed
FROM inventory.stock_slot WHERE product_id = :sw;

\set VERBOSITY default

-- A retried line is found, and returned as it is
SELECT quantity, state FROM inventory.inv_reserve('sw-12', :sw, :left);

-- The ledger explains every change
SELECT count(*) AS discrepancies FROM inventory.inv_verify();
