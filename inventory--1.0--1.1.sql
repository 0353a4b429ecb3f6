/* inventory--1.0--1.1.sql */

-- complain if script is sourced in psql, rather than through ALTER EXTENSION
\echo Use "ALTER EXTENSION inventory UPDATE TO '1.1'" to load this file. \quit

-- Version 1.1.  A new database gets it by CREATE EXTENSION, which runs the
-- 1.0 script and then this one; an existing 1.0 database by ALTER EXTENSION
-- inventory UPDATE.  Each part below belongs to one feature of the release.

--------------------------------------------------------------------------
-- Bulk stock updates from CSV
--------------------------------------------------------------------------

/*
 * One row per bulk load that was applied.  Every ledger row it wrote carries
 * its batch_id; a dry run or a load refused for its problems leaves no row.
 * source is "text" for inv_bulk_load(), the file name for
 * inv_bulk_load_file().
 */
CREATE TABLE inventory.bulk_load (
	supplier_id	bigint NOT NULL,
	batch_id	bigint GENERATED ALWAYS AS IDENTITY,
	loaded_at	timestamptz NOT NULL DEFAULT pg_catalog.now(),
	db_user		name NOT NULL DEFAULT CURRENT_USER,
	source		text NOT NULL,
	rows_read	bigint NOT NULL CHECK (rows_read >= 0),
	changed		bigint NOT NULL CHECK (changed >= 0),
	unchanged	bigint NOT NULL CHECK (unchanged >= 0),
	PRIMARY KEY (supplier_id, batch_id)
);

/* The bulk load that made a ledger row, if one did. */
ALTER TABLE inventory.ledger ADD COLUMN batch_id bigint;

/* One problem of one row of a stock file. */
CREATE TYPE inventory.bulk_problem AS (
	line		bigint,
	sku			text,
	problem		text,
	detail		text
);

/* One change a dry run would make. */
CREATE TYPE inventory.bulk_change AS (
	line		bigint,
	sku			text,
	product_id	bigint,
	mode		text,
	quantity	bigint,
	stock_level_before bigint,
	stock_level_after bigint,
	reserved	bigint
);

/*
 * What a bulk load did.  applied is true only when every row was good and
 * this was not a dry run; batch_id is then the bulk_load row's.  changed and
 * unchanged count the good rows that change stock and those that leave it
 * as it is (applied or not); rejected counts the rows with problems, each
 * of which is in problems, in line order.  changes lists, for a dry run
 * only, what the good rows would change.
 */
CREATE TYPE inventory.bulk_result AS (
	batch_id	bigint,
	applied		boolean,
	dry_run		boolean,
	rows_read	bigint,
	changed		bigint,
	unchanged	bigint,
	rejected	bigint,
	problems	inventory.bulk_problem[],
	changes		inventory.bulk_change[]
);

/* The file to fill in: the header line and an example row. */
CREATE FUNCTION inventory.inv_csv_template()
RETURNS pg_catalog.text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
	SELECT E'sku,quantity,mode,reason\nWIDGET-1,25,set,stock take\n'
$$;

/* Load stock from CSV text; mode applies to rows with an empty mode. */
CREATE FUNCTION inventory.inv_bulk_load(
	csv pg_catalog.text,
	mode pg_catalog.text DEFAULT 'set',
	dry_run boolean DEFAULT false,
	reason pg_catalog.text DEFAULT NULL)
RETURNS inventory.bulk_result
AS 'MODULE_PATHNAME', 'inv_bulk_load'
LANGUAGE C CALLED ON NULL INPUT VOLATILE PARALLEL UNSAFE;

/* The same from a file on the server: needs pg_read_server_files. */
CREATE FUNCTION inventory.inv_bulk_load_file(
	path pg_catalog.text,
	mode pg_catalog.text DEFAULT 'set',
	dry_run boolean DEFAULT false,
	reason pg_catalog.text DEFAULT NULL)
RETURNS inventory.bulk_result
AS 'MODULE_PATHNAME', 'inv_bulk_load_file'
LANGUAGE C CALLED ON NULL INPUT VOLATILE PARALLEL UNSAFE;

/*
 * The same from a large object, which a client without server file access
 * streams in (psql's \lo_import): the caller must be able to read it.
 */
CREATE FUNCTION inventory.inv_bulk_load_lo(
	loid pg_catalog.oid,
	mode pg_catalog.text DEFAULT 'set',
	dry_run boolean DEFAULT false,
	reason pg_catalog.text DEFAULT NULL)
RETURNS inventory.bulk_result
AS 'MODULE_PATHNAME', 'inv_bulk_load_lo'
LANGUAGE C CALLED ON NULL INPUT VOLATILE PARALLEL UNSAFE;

REVOKE ALL ON FUNCTION inventory.inv_csv_template() FROM PUBLIC;
REVOKE ALL ON FUNCTION inventory.inv_bulk_load(pg_catalog.text,
	pg_catalog.text, boolean, pg_catalog.text) FROM PUBLIC;
REVOKE ALL ON FUNCTION inventory.inv_bulk_load_file(pg_catalog.text,
	pg_catalog.text, boolean, pg_catalog.text) FROM PUBLIC;
REVOKE ALL ON FUNCTION inventory.inv_bulk_load_lo(pg_catalog.oid,
	pg_catalog.text, boolean, pg_catalog.text) FROM PUBLIC;
REVOKE ALL ON TABLE inventory.bulk_load FROM PUBLIC;

SELECT pg_catalog.pg_extension_config_dump('inventory.bulk_load', '');
SELECT pg_catalog.pg_extension_config_dump(
	pg_catalog.pg_get_serial_sequence('inventory.bulk_load', 'batch_id'), '');



--------------------------------------------------------------------------
-- The order path: hot products spread over several stock slots
--------------------------------------------------------------------------

/*
 * Moves of free units between a product's slots are recorded as kind
 * 'rebalance': rows that sum to zero over the product.
 */
ALTER TABLE inventory.ledger DROP CONSTRAINT ledger_kind_check;
ALTER TABLE inventory.ledger ADD CONSTRAINT ledger_kind_check
	CHECK (kind IN ('set', 'adjust', 'reserve', 'confirm', 'release', 'expire',
					'cancel', 'dispatch', 'repair', 'direct', 'rebalance'));

/*
 * Spread a product's stock over this many slot rows, which its orders
 * spread over; 1 puts it back on slot 0 alone.  Returns the number of
 * slots the product now has (a surplus slot still holding units of open
 * orders stays until they end).
 */
CREATE FUNCTION inventory.inv_set_slots(
	product_id pg_catalog.int8,
	slots pg_catalog.int4)
RETURNS pg_catalog.int4
AS 'MODULE_PATHNAME', 'inv_set_slots'
LANGUAGE C CALLED ON NULL INPUT VOLATILE PARALLEL UNSAFE;

CREATE FUNCTION inventory.inv_set_slots(
	sku pg_catalog.text,
	slots pg_catalog.int4)
RETURNS pg_catalog.int4
AS 'MODULE_PATHNAME', 'inv_set_slots'
LANGUAGE C CALLED ON NULL INPUT VOLATILE PARALLEL UNSAFE;

/*
 * Gather a product's free (unreserved) units into its home slot 0, under
 * the locks of all its slots taken in slot order, so that slot 0's
 * available equals the product's; returns that available quantity.  The
 * slots stay locked until the transaction ends, so a change of the stock
 * level that follows in it can be made on slot 0.  inv_adjust does this
 * itself; so should any other writer of stock levels (the C entry point is
 * inv_slots_gather in src/slots.c).
 */
CREATE FUNCTION inventory.inv_gather_slots(product_id pg_catalog.int8)
RETURNS pg_catalog.int8
AS 'MODULE_PATHNAME', 'inv_gather_slots'
LANGUAGE C CALLED ON NULL INPUT VOLATILE PARALLEL UNSAFE;

CREATE FUNCTION inventory.inv_gather_slots(sku pg_catalog.text)
RETURNS pg_catalog.int8
AS 'MODULE_PATHNAME', 'inv_gather_slots'
LANGUAGE C CALLED ON NULL INPUT VOLATILE PARALLEL UNSAFE;

/*
 * Raise a low-stock alert for a product: write it and its deliveries to the
 * outbox and announce it.  The low-stock trigger calls it, directly or by
 * way of inv_low_stock_slots.
 */
CREATE FUNCTION inventory.inv_raise_low_stock(
	supplier_id bigint,
	product_id bigint,
	available bigint,
	threshold bigint)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	new_alert inventory.alert;
BEGIN
	INSERT INTO inventory.alert (supplier_id, product_id, sku, available,
								 threshold)
	SELECT inv_raise_low_stock.supplier_id, inv_raise_low_stock.product_id,
		   p.sku, inv_raise_low_stock.available, inv_raise_low_stock.threshold
	FROM inventory.product p
	WHERE p.supplier_id = inv_raise_low_stock.supplier_id
	  AND p.product_id = inv_raise_low_stock.product_id
	RETURNING * INTO new_alert;

	INSERT INTO inventory.alert_delivery (supplier_id, alert_id, channel, target)
	SELECT inv_raise_low_stock.supplier_id, new_alert.alert_id, pref.channel,
		   pref.target
	FROM inventory.alert_preference pref
	WHERE pref.supplier_id = inv_raise_low_stock.supplier_id
	  AND (pref.product_id = inv_raise_low_stock.product_id
		   OR (pref.product_id IS NULL
			   AND NOT EXISTS (SELECT FROM inventory.alert_preference own
							   WHERE own.supplier_id = inv_raise_low_stock.supplier_id
								 AND own.product_id = inv_raise_low_stock.product_id)));

	PERFORM pg_catalog.pg_notify('inventory_low_stock',
								 inventory.inv_alert_payload(new_alert));
END
$$;

/*
 * A product with several slots carries its threshold on each of them as
 * -1 - threshold.  For a decrease that leaves such a slot below the
 * threshold (any slot of a product below it is), the low-stock trigger
 * asks this function, which decides on the product's sum.
 */
CREATE FUNCTION inventory.inv_low_stock_slots(
	supplier_id bigint,
	product_id bigint,
	slot_drop bigint,
	threshold bigint)
RETURNS void
AS 'MODULE_PATHNAME', 'inv_low_stock_slots'
LANGUAGE C STRICT VOLATILE PARALLEL UNSAFE;

/*
 * The low-stock trigger, now in C and without a WHEN clause, which the
 * executor would compile again for every statement that updates stock; the
 * function returns at once unless the slot fell below the threshold.
 */
CREATE FUNCTION inventory.inv_low_stock_check()
RETURNS trigger
AS 'MODULE_PATHNAME', 'inv_low_stock_check'
LANGUAGE C;

DROP TRIGGER stock_slot_low_stock ON inventory.stock_slot;
CREATE TRIGGER stock_slot_low_stock
	AFTER UPDATE ON inventory.stock_slot
	FOR EACH ROW EXECUTE FUNCTION inventory.inv_low_stock_check();
DROP FUNCTION inventory.inv_low_stock_alert();

/* A product's threshold follows it onto its slots, encoded if several. */
CREATE OR REPLACE FUNCTION inventory.inv_product_threshold_changed()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	UPDATE inventory.stock_slot
	SET low_stock_threshold =
		CASE WHEN (SELECT count(*) FROM inventory.stock_slot o
				   WHERE o.supplier_id = NEW.supplier_id
					 AND o.product_id = NEW.product_id) > 1
			 THEN -1 - NEW.low_stock_threshold
			 ELSE NEW.low_stock_threshold END
	WHERE supplier_id = NEW.supplier_id AND product_id = NEW.product_id;
	RETURN NULL;
END
$$;

REVOKE ALL ON FUNCTION inventory.inv_set_slots(pg_catalog.int8, pg_catalog.int4),
	inventory.inv_set_slots(pg_catalog.text, pg_catalog.int4),
	inventory.inv_gather_slots(pg_catalog.int8),
	inventory.inv_gather_slots(pg_catalog.text),
	inventory.inv_raise_low_stock(bigint, bigint, bigint, bigint),
	inventory.inv_low_stock_slots(bigint, bigint, bigint, bigint),
	inventory.inv_low_stock_check()
	FROM PUBLIC;

--------------------------------------------------------------------------
-- Roles, privileges and functions that run with raised rights
--------------------------------------------------------------------------

/*
 * THE RULE FOR EVERY FUNCTION ADDED TO SCHEMA inventory, in any section of
 * this file or of a later upgrade script:
 *
 *	1. REVOKE ALL ON FUNCTION ... FROM PUBLIC (a new function is open to
 *	   PUBLIC until revoked);
 *	2. GRANT EXECUTE to the role that needs it: inventory_admin (stock
 *	   adjustments, bulk loads, thresholds, allocations, calendars,
 *	   preferences), inventory_service (the order path only),
 *	   inventory_reader (read-only functions), inventory_alerts (the alert
 *	   consumer);
 *	3. if it writes, make it SECURITY DEFINER with
 *	   SET search_path = pg_catalog, pg_temp, and schema-qualify what it
 *	   names; the roles hold no write privilege on the stock tables.
 *
 * test/pgtap/05_definer.sql fails when any function of the schema is
 * executable by PUBLIC, or a SECURITY DEFINER function has no pinned
 * search_path, so a forgotten step 1 or 3 is caught by the suite.
 *
 * The roles are cluster-wide and NOLOGIN; this script creates those that do
 * not exist yet and grants them the privileges of this database.  Being
 * cluster objects, they are not dropped with the extension (another tenant
 * database may use them).  Log-in roles are granted membership:
 * GRANT inventory_service TO order_app.
 */
DO $roles$
DECLARE
	r text;
BEGIN
	FOREACH r IN ARRAY ARRAY['inventory_admin', 'inventory_service',
							 'inventory_reader', 'inventory_retailer',
							 'inventory_proxy', 'inventory_alerts'] LOOP
		IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = r) THEN
			EXECUTE pg_catalog.format('CREATE ROLE %I NOLOGIN', r);
		ELSIF EXISTS (SELECT FROM pg_catalog.pg_roles
					  WHERE rolname = r AND (rolsuper OR rolcanlogin)) THEN
			RAISE WARNING 'role "%" already exists and can log in or is a superuser', r
				USING HINT = 'The extension grants privileges to it; make it a NOLOGIN group role.';
		END IF;
	END LOOP;
END
$roles$;

/*
 * Which retailer each database role buys for.  A retailer's own role (a
 * member of inventory_retailer) sees its allocations and its storefront
 * through inventory.my_allocation and inventory.inv_my_storefront(), and
 * nothing else.  Role names rather than OIDs, so that a dump restores the
 * mapping into another cluster.
 */
CREATE TABLE inventory.retailer_role (
	supplier_id	bigint NOT NULL DEFAULT inventory.inv_supplier_id(),
	role_name	name NOT NULL,
	retailer_id	text NOT NULL CHECK (retailer_id <> ''),
	PRIMARY KEY (supplier_id, role_name)
);

SELECT pg_catalog.pg_extension_config_dump('inventory.retailer_role', '');

/* The calling role, inside a SECURITY DEFINER function too. */
CREATE FUNCTION inventory.inv_caller()
RETURNS pg_catalog.name
AS 'MODULE_PATHNAME', 'inv_caller'
LANGUAGE C STRICT STABLE PARALLEL RESTRICTED;

/*
 * A retailer's allocations.  security_barrier keeps a caller's own
 * functions in the WHERE clause from seeing other retailers' rows first.
 */
CREATE VIEW inventory.my_allocation WITH (security_barrier) AS
SELECT a.product_id, p.sku, a.retailer_id, a.quantity, a.priority, a.drawn,
	   pg_catalog.int8larger(a.quantity - a.drawn, 0) AS held
FROM inventory.allocation a
JOIN inventory.product p USING (supplier_id, product_id)
JOIN inventory.retailer_role m USING (supplier_id, retailer_id)
JOIN inventory.config c USING (supplier_id)
WHERE m.role_name = CURRENT_USER;

/* A retailer's storefront: inv_storefront() for the caller's retailer. */
CREATE FUNCTION inventory.inv_my_storefront()
RETURNS TABLE (
	product_id bigint,
	sku text,
	name text,
	status text,
	orderable bigint,
	lead_time_days integer,
	ship_date date)
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	caller name := inventory.inv_caller();
	retailer text;
BEGIN
	SELECT m.retailer_id INTO retailer
	FROM inventory.retailer_role m
	WHERE m.supplier_id = inventory.inv_supplier_id()
	  AND m.role_name OPERATOR(pg_catalog.=) caller;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'role "%" is not mapped to a retailer', caller
			USING ERRCODE = 'IV041',
				  HINT = 'An administrator maps it with INSERT INTO inventory.retailer_role (role_name, retailer_id).';
	END IF;
	RETURN QUERY SELECT * FROM inventory.inv_storefront(retailer);
END
$$;

/*
 * Functions that write run with the owner's rights and a pinned
 * search_path: pg_catalog first, and pg_temp last (functions and operators
 * are never looked up in pg_temp).  Their SQL names tables by schema, so
 * neither a caller's search_path nor look-alike objects can change what
 * they run.  The trigger functions that write (a product's first stock row,
 * the ledger, low-stock alerts) are SECURITY DEFINER too, so that no role
 * needs write access to stock_slot, ledger or the alert outbox.  The
 * ledger's append-only guard is not: it asks whether the current user is a
 * superuser.
 */
ALTER FUNCTION inventory.inv_configure(bigint)
	SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION inventory.inv_adjust(bigint, bigint, text, text, bigint)
	SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION inventory.inv_adjust(text, bigint, text, text, bigint)
	SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION inventory.inv_reserve(text, bigint, bigint, text)
	SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION inventory.inv_reserve(text, text, bigint, text)
	SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION inventory.inv_reserve_order(text, bigint[], bigint[], text)
	SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION inventory.inv_reserve_order(text, text[], bigint[], text)
	SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION inventory.inv_confirm(bigint)
	SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION inventory.inv_release(bigint, text)
	SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION inventory.inv_cancel(bigint, text)
	SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION inventory.inv_dispatch(bigint)
	SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION inventory.inv_confirm_order(text)
	SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION inventory.inv_release_order(text, text)
	SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION inventory.inv_cancel_order(text, text)
	SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION inventory.inv_dispatch_order(text)
	SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION inventory.inv_expire()
	SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION inventory.inv_set_allocation(bigint, text, bigint, integer)
	SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION inventory.inv_set_allocation(text, text, bigint, integer)
	SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION inventory.inv_repair(text)
	SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION inventory.inv_bulk_load(text, text, boolean, text)
	SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION inventory.inv_bulk_load_file(text, text, boolean, text)
	SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION inventory.inv_bulk_load_lo(oid, text, boolean, text)
	SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION inventory.inv_set_slots(bigint, integer)
	SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION inventory.inv_set_slots(text, integer)
	SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION inventory.inv_gather_slots(bigint)
	SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION inventory.inv_gather_slots(text)
	SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION inventory.inv_alert_claim(text, integer, interval)
	SECURITY DEFINER;
ALTER FUNCTION inventory.inv_alert_extend(bigint, text, interval)
	SECURITY DEFINER;
ALTER FUNCTION inventory.inv_alert_delivered(bigint, text)
	SECURITY DEFINER;
ALTER FUNCTION inventory.inv_alert_failed(bigint, text, text, integer)
	SECURITY DEFINER;
ALTER FUNCTION inventory.inv_product_created()
	SECURITY DEFINER;
ALTER FUNCTION inventory.inv_product_threshold_changed()
	SECURITY DEFINER;
ALTER FUNCTION inventory.inv_raise_low_stock(bigint, bigint, bigint, bigint)
	SECURITY DEFINER;
ALTER FUNCTION inventory.inv_ledger_record()
	SECURITY DEFINER SET search_path = pg_catalog, pg_temp;

/* Read-only functions keep the caller's rights, with a pinned path too. */
ALTER FUNCTION inventory.inv_verify()
	SET search_path = pg_catalog, pg_temp;

/*
 * Nothing for PUBLIC, including what the sections above this one added.
 * Then each role gets what its job needs, and no more.
 */
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA inventory FROM PUBLIC;
REVOKE ALL ON ALL TABLES IN SCHEMA inventory FROM PUBLIC;
REVOKE ALL ON ALL SEQUENCES IN SCHEMA inventory FROM PUBLIC;
REVOKE ALL ON SCHEMA inventory FROM PUBLIC;

GRANT USAGE ON SCHEMA inventory
	TO inventory_admin, inventory_service, inventory_reader,
	   inventory_retailer, inventory_alerts;

-- The order service: the order path, and nothing else
GRANT EXECUTE ON FUNCTION
	inventory.inv_reserve(text, bigint, bigint, text),
	inventory.inv_reserve(text, text, bigint, text),
	inventory.inv_reserve_order(text, bigint[], bigint[], text),
	inventory.inv_reserve_order(text, text[], bigint[], text),
	inventory.inv_confirm(bigint),
	inventory.inv_release(bigint, text),
	inventory.inv_cancel(bigint, text),
	inventory.inv_dispatch(bigint),
	inventory.inv_confirm_order(text),
	inventory.inv_release_order(text, text),
	inventory.inv_cancel_order(text, text),
	inventory.inv_dispatch_order(text),
	inventory.inv_expire()
	TO inventory_service;

-- Readers (and administrators): the tables and views, the read-only functions
GRANT SELECT ON ALL TABLES IN SCHEMA inventory
	TO inventory_reader, inventory_admin;
REVOKE SELECT ON inventory.my_allocation FROM inventory_reader, inventory_admin;
GRANT EXECUTE ON FUNCTION
	inventory.inv_supplier_id(),
	inventory.inv_ship_date(integer, timestamptz),
	inventory.inv_fence_backed(bigint, bigint, text, bigint),
	inventory.inv_storefront(text),
	inventory.inv_alert_payload(inventory.alert),
	inventory.inv_verify(),
	inventory.inv_locks(),
	inventory.inv_lock_stats()
	TO inventory_reader, inventory_admin;

-- Administrators: stock, catalogue, allocations, calendar, preferences
GRANT EXECUTE ON FUNCTION
	inventory.inv_configure(bigint),
	inventory.inv_adjust(bigint, bigint, text, text, bigint),
	inventory.inv_adjust(text, bigint, text, text, bigint),
	inventory.inv_set_allocation(bigint, text, bigint, integer),
	inventory.inv_set_allocation(text, text, bigint, integer),
	inventory.inv_repair(text),
	inventory.inv_lock_probe(integer),
	inventory.inv_csv_template(),
	inventory.inv_bulk_load(text, text, boolean, text),
	inventory.inv_bulk_load_file(text, text, boolean, text),
	inventory.inv_bulk_load_lo(oid, text, boolean, text),
	inventory.inv_set_slots(bigint, integer),
	inventory.inv_set_slots(text, integer),
	inventory.inv_gather_slots(bigint),
	inventory.inv_gather_slots(text)
	TO inventory_admin;
GRANT INSERT, DELETE,
	  UPDATE (sku, name, made_to_order, lead_time_days, low_stock_threshold)
	ON inventory.product TO inventory_admin;
GRANT UPDATE (time_zone, order_cutoff) ON inventory.config TO inventory_admin;
GRANT INSERT, UPDATE, DELETE ON inventory.holiday TO inventory_admin;
GRANT INSERT, UPDATE, DELETE ON inventory.alert_preference TO inventory_admin;
GRANT INSERT, UPDATE, DELETE ON inventory.retailer_role TO inventory_admin;

-- Retailers: their own allocations and storefront
GRANT SELECT ON inventory.my_allocation TO inventory_retailer;
GRANT EXECUTE ON FUNCTION inventory.inv_my_storefront() TO inventory_retailer;

-- The alert consumer (inventory-alerts)
GRANT EXECUTE ON FUNCTION
	inventory.inv_alert_claim(text, integer, interval),
	inventory.inv_alert_extend(bigint, text, interval),
	inventory.inv_alert_delivered(bigint, text),
	inventory.inv_alert_failed(bigint, text, text, integer)
	TO inventory_alerts;


--------------------------------------------------------------------------
-- Several tenant databases and nodes sharing one lock service
--------------------------------------------------------------------------

-- Where this node's lock service finds Redis: a fixed host, or the master
-- that inventory.redis_sentinels name; the server it is on (or was on
-- last), the sentinel that named it, and how often the named master has
-- changed since the server started.
CREATE FUNCTION inventory.inv_lock_server(
	OUT source pg_catalog.text,
	OUT master_name pg_catalog.text,
	OUT server pg_catalog.text,
	OUT sentinel pg_catalog.text,
	OUT connected boolean,
	OUT connected_since pg_catalog.timestamptz,
	OUT master_changes pg_catalog.int8,
	OUT master_changed_at pg_catalog.timestamptz,
	OUT sentinel_error pg_catalog.text)
AS 'MODULE_PATHNAME', 'inv_lock_server'
LANGUAGE C STRICT VOLATILE PARALLEL UNSAFE;

REVOKE ALL ON FUNCTION inventory.inv_lock_server() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION inventory.inv_lock_server()
	TO inventory_reader, inventory_admin;


--------------------------------------------------------------------------
-- The lock path's latency: a probe that gives back as an order does
--------------------------------------------------------------------------

-- inv_lock_probe with the choice of waiting for each release (as the 1.0
-- probe does) or posting it the way a transaction's end does, which is
-- what an order waits for
CREATE FUNCTION inventory.inv_lock_probe(
	iterations pg_catalog.int4,
	wait_for_release pg_catalog.bool,
	OUT iterations pg_catalog.int4,
	OUT total_ms pg_catalog.float8,
	OUT avg_round_trip_us pg_catalog.float8)
AS 'MODULE_PATHNAME', 'inv_lock_probe_release'
LANGUAGE C STRICT VOLATILE PARALLEL UNSAFE;

REVOKE ALL ON FUNCTION inventory.inv_lock_probe(pg_catalog.int4, pg_catalog.bool)
	FROM PUBLIC;
GRANT EXECUTE ON FUNCTION inventory.inv_lock_probe(pg_catalog.int4, pg_catalog.bool)
	TO inventory_admin;


--------------------------------------------------------------------------
-- A product's made-to-order flag against orders that race the change
--------------------------------------------------------------------------

/*
 * product_guard refuses to change the flag while orders of the product are
 * open, but an order in flight has a reservation row that no other
 * transaction sees until it commits.  It does hold the product's stock row
 * locked, though: this trigger, which fires first (triggers fire in name
 * order), takes those locks, so the guard's check runs after every order in
 * flight has committed or rolled back, and sees what they left.  It runs
 * with its owner's rights because the stock rows are not the caller's to
 * lock.
 */
CREATE FUNCTION inventory.inv_product_flag_wait()
RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	PERFORM FROM inventory.stock_slot s
	WHERE s.supplier_id = OLD.supplier_id AND s.product_id = OLD.product_id
	ORDER BY s.slot
	FOR NO KEY UPDATE;
	RETURN NEW;
END
$$;

REVOKE ALL ON FUNCTION inventory.inv_product_flag_wait() FROM PUBLIC;

CREATE TRIGGER product_flag_awaits_orders
	BEFORE UPDATE OF made_to_order ON inventory.product
	FOR EACH ROW
	WHEN (NEW.made_to_order IS DISTINCT FROM OLD.made_to_order)
	EXECUTE FUNCTION inventory.inv_product_flag_wait();


--------------------------------------------------------------------------
-- The order path at the speed of PostgreSQL itself: products spread wide
--------------------------------------------------------------------------

-- Every change of the config table, whoever makes it and however it ends,
-- invalidates the table's relation cache entry, so that a backend may keep
-- the supplier id across transactions until then (src/inventory.c).  It
-- fires always, in replicas and logical replication's apply too.
CREATE FUNCTION inventory.inv_config_changed()
RETURNS trigger
AS 'MODULE_PATHNAME', 'inv_config_changed'
LANGUAGE C;

REVOKE ALL ON FUNCTION inventory.inv_config_changed() FROM PUBLIC;

CREATE TRIGGER config_changed
	AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON inventory.config
	FOR EACH STATEMENT EXECUTE FUNCTION inventory.inv_config_changed();
ALTER TABLE inventory.config ENABLE ALWAYS TRIGGER config_changed;
