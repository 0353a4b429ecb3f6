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

REVOKE ALL ON FUNCTION inventory.inv_csv_template() FROM PUBLIC;
REVOKE ALL ON FUNCTION inventory.inv_bulk_load(pg_catalog.text,
	pg_catalog.text, boolean, pg_catalog.text) FROM PUBLIC;
REVOKE ALL ON FUNCTION inventory.inv_bulk_load_file(pg_catalog.text,
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
