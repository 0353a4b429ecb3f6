--
-- stock_write: the order path writes stock rows and reservations' changes
-- of state straight into the heap; what it writes, and the tables as they
-- are now (constraints and triggers added since the backend last looked),
-- are as an UPDATE would have them
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

-- A reservation's new state: its CHECK constraints as they are now, its
-- partial index, and its foreign key when created in the same transaction
INSERT INTO inventory.product (sku, name) VALUES ('SW-2', 'direct state');
SELECT product_id AS sw2 FROM inventory.product WHERE sku = 'SW-2' \gset
SELECT stock_level FROM inventory.inv_adjust(:sw2, 10, 'set');
SELECT reservation_id AS r2 FROM inventory.inv_reserve('sw-20', :sw2, 2) \gset
SELECT reservation_id AS r3 FROM inventory.inv_reserve('sw-21', :sw2, 3) \gset
SELECT found_state, state, changed FROM inventory.inv_confirm(:r3);
ALTER TABLE inventory.reservation
	ADD CONSTRAINT sw_no_release CHECK (state <> 'released') NOT VALID;
\set VERBOSITY terse
SELECT changed FROM inventory.inv_release(:r2, 'not now');
\set VERBOSITY default
SELECT state FROM inventory.reservation WHERE reservation_id = :r2;
SELECT reserved, committed FROM inventory.stock_slot WHERE product_id = :sw2;
ALTER TABLE inventory.reservation DROP CONSTRAINT sw_no_release;
SELECT found_state, state, changed FROM inventory.inv_release(:r2, 'now');
SET client_min_messages = warning;	-- its notice names the id
SELECT found_state, state, changed FROM inventory.inv_release(:r2, 'again');
RESET client_min_messages;
BEGIN;
SELECT reservation_id AS r4 FROM inventory.inv_reserve('sw-22', :sw2, 1) \gset
SELECT found_state, state, changed FROM inventory.inv_confirm(:r4);
COMMIT;
SELECT order_ref, state, updated_at >= created_at AS stamped
FROM inventory.reservation WHERE product_id = :sw2 ORDER BY order_ref;
SELECT stock_level, reserved, available, committed
FROM inventory.stock_slot WHERE product_id = :sw2;

-- The partial index of open reservations holds exactly the open ones
SET enable_seqscan = off;
SET enable_bitmapscan = off;
SELECT count(*) AS open_by_index FROM inventory.reservation
WHERE state = 'reserved' AND expires_at > '-infinity' \gset
RESET enable_seqscan;
RESET enable_bitmapscan;
SET enable_indexscan = off;
SET enable_bitmapscan = off;
SELECT count(*) = :open_by_index AS index_agrees FROM inventory.reservation
WHERE state = 'reserved' AND expires_at > '-infinity';
RESET enable_indexscan;
RESET enable_bitmapscan;

-- A new reservation is inserted straight into the table: the table's
-- defaults, the same row as the INSERT gives (taken at REPEATABLE READ), and
-- its product locked FOR KEY SHARE as the foreign key check locks it
INSERT INTO inventory.product (sku, name) VALUES ('SW-3', 'direct insert');
SELECT product_id AS sw3 FROM inventory.product WHERE sku = 'SW-3' \gset
SELECT stock_level FROM inventory.inv_adjust(:sw3, 10, 'set');
CREATE EXTENSION pgrowlocks;
SET inventory.reservation_timeout = 60;
BEGIN;
SELECT reservation_id AS r5 FROM inventory.inv_reserve('sw-30', :sw3, 2) \gset
SELECT modes FROM pgrowlocks('inventory.product') WHERE locked_row =
	(SELECT ctid FROM inventory.product WHERE product_id = :sw3);
COMMIT;
BEGIN ISOLATION LEVEL REPEATABLE READ;
SELECT reservation_id AS r6 FROM inventory.inv_reserve('sw-31', :sw3, 2) \gset
COMMIT;
RESET inventory.reservation_timeout;
DROP EXTENSION pgrowlocks;
SELECT order_ref, reservation_id >= :r5 AS in_sequence, slot, retailer_id,
	   quantity, state, updated_at = created_at AS fresh,
	   expires_at - created_at BETWEEN '60 s' AND '70 s' AS expires_in_60_s,
	   lock_token, lock_fence, ship_date, fenced_quantity
FROM inventory.reservation WHERE product_id = :sw3 ORDER BY order_ref;

-- The table's own rules as they are now: a CHECK constraint added since
-- refuses the order with its own error, and a trigger added since fires
ALTER TABLE inventory.reservation
	ADD CONSTRAINT sw_small_orders CHECK (quantity <= 4) NOT VALID;
\set VERBOSITY terse
SELECT quantity FROM inventory.inv_reserve('sw-32', :sw3, 5);
\set VERBOSITY default
ALTER TABLE inventory.reservation DROP CONSTRAINT sw_small_orders;
CREATE FUNCTION public.sw_new_line() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	RAISE NOTICE 'new line % of % units', NEW.order_ref, NEW.quantity;
	RETURN NEW;
END
$$;
CREATE TRIGGER sw_new_line BEFORE INSERT ON inventory.reservation
	FOR EACH ROW EXECUTE FUNCTION public.sw_new_line();
SELECT quantity FROM inventory.inv_reserve('sw-33', :sw3, 1);
DROP TRIGGER sw_new_line ON inventory.reservation;
DROP FUNCTION public.sw_new_line();
SELECT quantity FROM inventory.inv_reserve('sw-34', :sw3, 1);
SELECT order_ref, quantity FROM inventory.reservation
WHERE product_id = :sw3 ORDER BY order_ref;
SELECT reserved, available FROM inventory.stock_slot WHERE product_id = :sw3;

-- Every index entry points at its row, and every row has its entries
CREATE EXTENSION amcheck;
SELECT count(*) > 0 AS indexes_checked
FROM (SELECT bt_index_check(i.indexrelid, true)
	  FROM pg_index i
	  WHERE i.indrelid IN ('inventory.reservation'::regclass,
						   'inventory.stock_slot'::regclass)) s;
DROP EXTENSION amcheck;

-- The ledger explains every change
SELECT count(*) AS discrepancies FROM inventory.inv_verify();

-- A retried line of a product spread over slots takes no slot: its first
-- attempt holds one already
INSERT INTO inventory.product (sku, name) VALUES ('SW-4', 'direct slots');
SELECT product_id AS sw4 FROM inventory.product WHERE sku = 'SW-4' \gset
SELECT stock_level FROM inventory.inv_adjust(:sw4, 40, 'set');
SELECT inventory.inv_set_slots(:sw4, 4);
SELECT quantity FROM inventory.inv_reserve('sw-35', :sw4, 2);
CREATE EXTENSION pgrowlocks;
BEGIN;
SELECT quantity, state FROM inventory.inv_reserve('sw-35', :sw4, 2);
SELECT count(*) AS slots_locked FROM pgrowlocks('inventory.stock_slot');
COMMIT;
DROP EXTENSION pgrowlocks;
SELECT sum(reserved) AS reserved, count(*) AS slots
FROM inventory.stock_slot WHERE product_id = :sw4;

-- An identity column other than the id: the INSERT refuses a value for it
ALTER TABLE inventory.reservation
	ALTER COLUMN quantity ADD GENERATED ALWAYS AS IDENTITY;
\set VERBOSITY terse
SELECT quantity FROM inventory.inv_reserve('sw-38', :sw3, 1);
\set VERBOSITY default
ALTER TABLE inventory.reservation ALTER COLUMN quantity DROP IDENTITY;
SELECT quantity FROM inventory.inv_reserve('sw-38', :sw3, 1);

-- A column whose domain forbids nulls and that has no default: the INSERT
-- would coerce the missing value to the domain and fail, and so does the
-- order, leaving nothing
CREATE DOMAIN sw_required AS text NOT NULL;
ALTER TABLE inventory.reservation ADD COLUMN sw_needed sw_required DEFAULT 'given';
ALTER TABLE inventory.reservation ALTER COLUMN sw_needed DROP DEFAULT;
\set VERBOSITY terse
SELECT quantity FROM inventory.inv_reserve('sw-39', :sw3, 1);
\set VERBOSITY default
SELECT count(*) AS lines FROM inventory.reservation WHERE order_ref = 'sw-39';
ALTER TABLE inventory.reservation DROP COLUMN sw_needed;
DROP DOMAIN sw_required;

-- A column added to the reservations and dropped again: the row type keeps
-- a place for it, and orders still return their rows in that shape (the
-- direct insertion leaves such a table to the INSERT)
ALTER TABLE inventory.reservation ADD COLUMN sw_note text;
ALTER TABLE inventory.reservation ADD COLUMN sw_after text DEFAULT 'kept';
ALTER TABLE inventory.reservation DROP COLUMN sw_note;
SELECT order_ref, quantity, state, sw_after
FROM inventory.inv_reserve('sw-40', :sw3, 1);
SELECT order_ref, quantity, state, sw_after
FROM inventory.inv_reserve('sw-40', :sw3, 1);
SELECT order_ref, product_id = :sw3 AS sw3, quantity, state, sw_after
FROM inventory.inv_reserve_order('sw-41', ARRAY[:sw3, :sw2]::bigint[],
								 ARRAY[1, 1]::bigint[]);
ALTER TABLE inventory.reservation DROP COLUMN sw_after;
SELECT count(*) AS discrepancies FROM inventory.inv_verify();

-- The ledger's writer keeps its owner's rights on the order path: with an
-- owner that may not write the ledger, an order fails and leaves nothing
SELECT r.rolname AS ledger_owner FROM pg_proc p JOIN pg_roles r ON r.oid = p.proowner
WHERE p.oid = 'inventory.inv_ledger_record()'::regprocedure \gset
CREATE ROLE sw_no_ledger;
ALTER FUNCTION inventory.inv_ledger_record() OWNER TO sw_no_ledger;
\set VERBOSITY terse
SELECT quantity FROM inventory.inv_reserve('sw-50', :sw3, 1);
\set VERBOSITY default
SELECT count(*) AS lines FROM inventory.reservation WHERE order_ref = 'sw-50';
ALTER FUNCTION inventory.inv_ledger_record() OWNER TO :"ledger_owner";
DROP ROLE sw_no_ledger;
SELECT quantity FROM inventory.inv_reserve('sw-50', :sw3, 1);
SELECT kind, db_user = current_user AS by_caller, order_ref
FROM inventory.ledger WHERE order_ref = 'sw-50';
SELECT count(*) AS discrepancies FROM inventory.inv_verify();

-- A ledger not as the extension made it: each change of stock goes through
-- the INSERT, which honours what was changed.  A column of another type:
ALTER TABLE inventory.ledger ALTER COLUMN stock_level_after TYPE numeric;
SELECT stock_level FROM inventory.inv_adjust(:sw3, 30, 'set', 'numeric column');
SELECT kind, stock_level_after, pg_typeof(stock_level_after) AS type
FROM inventory.ledger WHERE reason = 'numeric column';
ALTER TABLE inventory.ledger ALTER COLUMN stock_level_after TYPE bigint;

-- A CHECK constraint added since, on the order path: the order fails with
-- it and leaves nothing
ALTER TABLE inventory.ledger
	ADD CONSTRAINT sw_no_reserve CHECK (kind <> 'reserve') NOT VALID;
\set VERBOSITY terse
SELECT quantity FROM inventory.inv_reserve('sw-60', :sw3, 1);
\set VERBOSITY default
SELECT count(*) AS lines FROM inventory.reservation WHERE order_ref = 'sw-60';
ALTER TABLE inventory.ledger DROP CONSTRAINT sw_no_reserve;

-- Another foreign key
CREATE TABLE sw_reasons (reason text PRIMARY KEY);
ALTER TABLE inventory.ledger ADD CONSTRAINT sw_known_reason
	FOREIGN KEY (reason) REFERENCES sw_reasons NOT VALID;
\set VERBOSITY terse
SELECT stock_level FROM inventory.inv_adjust(:sw3, 31, 'set', 'unlisted');
\set VERBOSITY default
INSERT INTO sw_reasons VALUES ('listed');
SELECT stock_level FROM inventory.inv_adjust(:sw3, 31, 'set', 'listed');
ALTER TABLE inventory.ledger DROP CONSTRAINT sw_known_reason;
DROP TABLE sw_reasons;

-- Another default for the time of a change
ALTER TABLE inventory.ledger
	ALTER COLUMN recorded_at SET DEFAULT '2000-01-01 00:00+00';
SELECT stock_level FROM inventory.inv_adjust(:sw3, 32, 'set', 'old default');
SELECT recorded_at = '2000-01-01 00:00+00' AS from_default
FROM inventory.ledger WHERE reason = 'old default';
ALTER TABLE inventory.ledger ALTER COLUMN recorded_at SET DEFAULT pg_catalog.now();

-- A foreign key on a column that orders change, on the stock rows and on
-- the reservations: its check is made, where the writes that leave a key
-- as it was can leave it out
CREATE TABLE sw_holds (n bigint PRIMARY KEY);
ALTER TABLE inventory.stock_slot ADD CONSTRAINT sw_hold_listed
	FOREIGN KEY (reserved) REFERENCES sw_holds NOT VALID;
\set VERBOSITY terse
SELECT quantity FROM inventory.inv_reserve('sw-61', :sw3, 1);
\set VERBOSITY default
SELECT count(*) AS lines FROM inventory.reservation WHERE order_ref = 'sw-61';
ALTER TABLE inventory.stock_slot DROP CONSTRAINT sw_hold_listed;
DROP TABLE sw_holds;
CREATE TABLE sw_states (state inventory.reservation_state PRIMARY KEY);
INSERT INTO sw_states VALUES ('reserved');
ALTER TABLE inventory.reservation ADD CONSTRAINT sw_state_listed
	FOREIGN KEY (state) REFERENCES sw_states NOT VALID;
SELECT reservation_id AS r61 FROM inventory.inv_reserve('sw-61', :sw3, 1) \gset
\set VERBOSITY terse
SELECT state FROM inventory.inv_release(:r61);
\set VERBOSITY default
SELECT state FROM inventory.reservation WHERE reservation_id = :r61;
ALTER TABLE inventory.reservation DROP CONSTRAINT sw_state_listed;
DROP TABLE sw_states;
SELECT state FROM inventory.inv_release(:r61);

-- An identity column added to the ledger: its INSERT refuses the value
ALTER TABLE inventory.ledger
	ALTER COLUMN stock_level_before ADD GENERATED ALWAYS AS IDENTITY;
\set VERBOSITY terse
SELECT stock_level FROM inventory.inv_adjust(:sw3, 34, 'set');
\set VERBOSITY default
ALTER TABLE inventory.ledger ALTER COLUMN stock_level_before DROP IDENTITY;

-- A CHECK constraint that reads tableoid sees the table's
ALTER TABLE inventory.stock_slot ADD CONSTRAINT sw_not_here
	CHECK (tableoid <> 'inventory.stock_slot'::regclass) NOT VALID;
\set VERBOSITY terse
SELECT quantity FROM inventory.inv_reserve('sw-63', :sw3, 1);
\set VERBOSITY default
ALTER TABLE inventory.stock_slot DROP CONSTRAINT sw_not_here;

-- The stock table as a partition: an order that takes a row out of its
-- bounds fails
CREATE TABLE sw_stock_parent (LIKE inventory.stock_slot
	INCLUDING DEFAULTS INCLUDING GENERATED) PARTITION BY RANGE (reserved);
SELECT max(reserved) + 1 AS reserved_end FROM inventory.stock_slot \gset
SELECT stock_level FROM inventory.inv_adjust(:sw3, :reserved_end + 100, 'set');
SELECT :reserved_end - reserved AS take
FROM inventory.stock_slot WHERE product_id = :sw3 \gset
ALTER TABLE sw_stock_parent ATTACH PARTITION inventory.stock_slot
	FOR VALUES FROM (MINVALUE) TO (:reserved_end);
\set VERBOSITY terse
SELECT quantity FROM inventory.inv_reserve('sw-67', :sw3, :take);
\set VERBOSITY default
ALTER TABLE sw_stock_parent DETACH PARTITION inventory.stock_slot;
DROP TABLE sw_stock_parent;
SELECT stock_level FROM inventory.inv_adjust(:sw3, 32, 'set');

-- A CHECK whose function changes stock itself, tested before the others
-- (by name): the inner changes go through their statements, the outer
-- row's remaining checks still see the outer row, and both are recorded
CREATE FUNCTION sw_restock(product bigint) RETURNS boolean
LANGUAGE plpgsql AS $$
BEGIN
	IF product = (SELECT product_id FROM inventory.product WHERE sku = 'SW-3') THEN
		PERFORM inventory.inv_adjust('SW-2', 1, 'delta', 'from a check');
	END IF;
	RETURN true;
END
$$;
ALTER TABLE inventory.ledger
	ADD CONSTRAINT ledger_check_restock CHECK (sw_restock(product_id)) NOT VALID;
SELECT stock_level FROM inventory.inv_adjust(:sw2, 1, 'delta');
SELECT stock_level FROM inventory.inv_adjust(:sw3, 1, 'delta');
SELECT sku, kind, stock_level_after - stock_level_before AS delta, reason
FROM inventory.ledger JOIN inventory.product USING (supplier_id, product_id)
WHERE ledger_id > (SELECT max(ledger_id) - 3 FROM inventory.ledger)
ORDER BY ledger_id;
ALTER TABLE inventory.ledger DROP CONSTRAINT ledger_check_restock;
DROP FUNCTION sw_restock(bigint);
CREATE FUNCTION sw_order_more(product bigint) RETURNS boolean
LANGUAGE plpgsql AS $$
BEGIN
	IF product = (SELECT product_id FROM inventory.product WHERE sku = 'SW-3') THEN
		PERFORM inventory.inv_reserve('sw-64-inner', 'SW-2', 1);
	END IF;
	RETURN true;
END
$$;
ALTER TABLE inventory.stock_slot
	ADD CONSTRAINT stock_check_order CHECK (sw_order_more(product_id)) NOT VALID;
SELECT quantity FROM inventory.inv_reserve('sw-64', :sw3, 1);
SELECT order_ref, quantity, state FROM inventory.reservation
WHERE order_ref LIKE 'sw-64%' ORDER BY order_ref;
ALTER TABLE inventory.stock_slot DROP CONSTRAINT stock_check_order;
DROP FUNCTION sw_order_more(bigint);

-- A function that a ledger CHECK calls, replaced: the new body counts
CREATE FUNCTION sw_kind_ok(kind text) RETURNS boolean
LANGUAGE sql AS $$ SELECT true $$;
ALTER TABLE inventory.ledger
	ADD CONSTRAINT sw_kind_ok CHECK (sw_kind_ok(kind)) NOT VALID;
SELECT quantity FROM inventory.inv_reserve('sw-65', :sw3, 1);
CREATE OR REPLACE FUNCTION sw_kind_ok(kind text) RETURNS boolean
LANGUAGE sql AS $$ SELECT kind <> 'reserve' $$;
\set VERBOSITY terse
SELECT quantity FROM inventory.inv_reserve('sw-66', :sw3, 1);
\set VERBOSITY default
ALTER TABLE inventory.ledger DROP CONSTRAINT sw_kind_ok;
DROP FUNCTION sw_kind_ok(text);

-- The ledger's reference to the product made to another unique key of it:
-- the INSERT checks it
ALTER TABLE inventory.product ADD COLUMN sw_alt bigint;
UPDATE inventory.product
SET sw_alt = CASE WHEN sku = 'SW-3' THEN -product_id ELSE product_id END;
ALTER TABLE inventory.product ADD CONSTRAINT sw_alt_key UNIQUE (supplier_id, sw_alt);
ALTER TABLE inventory.ledger DROP CONSTRAINT ledger_supplier_id_product_id_fkey;
ALTER TABLE inventory.ledger ADD CONSTRAINT sw_alt_reference
	FOREIGN KEY (supplier_id, product_id)
	REFERENCES inventory.product (supplier_id, sw_alt) NOT VALID;
\set VERBOSITY terse
SELECT stock_level FROM inventory.inv_adjust(:sw3, 35, 'set');
\set VERBOSITY default
ALTER TABLE inventory.ledger DROP CONSTRAINT sw_alt_reference;
ALTER TABLE inventory.ledger ADD CONSTRAINT ledger_supplier_id_product_id_fkey
	FOREIGN KEY (supplier_id, product_id)
	REFERENCES inventory.product (supplier_id, product_id);
ALTER TABLE inventory.product DROP COLUMN sw_alt;

-- A stock column the ledger records, renamed: changes are refused
ALTER TABLE inventory.stock_slot RENAME COLUMN committed TO sw_committed;
\set VERBOSITY terse
UPDATE inventory.stock_slot SET stock_level = stock_level + 1
WHERE product_id = :sw3;
\set VERBOSITY default
ALTER TABLE inventory.stock_slot RENAME COLUMN sw_committed TO committed;

-- A trigger of the order's own transaction that changes the reservation
-- between its lock and its change of state: the release finds the row
CREATE FUNCTION sw_touch_line() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	UPDATE inventory.reservation SET retailer_id = 'touched'
	WHERE order_ref = 'sw-68';
	RETURN NULL;
END
$$;
SELECT reservation_id AS r68 FROM inventory.inv_reserve('sw-68', :sw3, 3) \gset
CREATE TRIGGER sw_touch_line AFTER INSERT ON inventory.ledger
	FOR EACH ROW EXECUTE FUNCTION sw_touch_line();
SELECT state FROM inventory.inv_release(:r68);
DROP TRIGGER sw_touch_line ON inventory.ledger;
DROP FUNCTION sw_touch_line();
SELECT state, retailer_id FROM inventory.reservation WHERE reservation_id = :r68;

-- A partial unique index added to the ledger once its writer knows it:
-- the INSERT keeps to the predicate and reports the duplicate
CREATE UNIQUE INDEX sw_one_recount ON inventory.ledger (product_id)
	WHERE reason = 'recount';
SELECT stock_level FROM inventory.inv_adjust(:sw3, 1, 'delta', 'recount');
SELECT stock_level FROM inventory.inv_adjust(:sw3, -1, 'delta', 'miscount');
\set VERBOSITY terse
SELECT stock_level FROM inventory.inv_adjust(:sw3, 1, 'delta', 'recount');
\set VERBOSITY default
DROP INDEX inventory.sw_one_recount;

-- The tables as they were: orders and their ledger rows as before
SELECT reservation_id AS r62 FROM inventory.inv_reserve('sw-62', :sw3, 2) \gset
SELECT changed FROM inventory.inv_confirm(:r62);
SELECT kind, stock_level_before, stock_level_after, reserved_before,
	   reserved_after, order_ref
FROM inventory.ledger WHERE order_ref IN ('sw-61', 'sw-62') ORDER BY ledger_id;
SELECT count(*) AS discrepancies FROM inventory.inv_verify();
