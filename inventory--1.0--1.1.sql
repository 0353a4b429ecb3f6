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



--------------------------------------------------------------------------
-- Roles, privileges and functions that run with raised rights
--------------------------------------------------------------------------



--------------------------------------------------------------------------
-- Several tenant databases and nodes sharing one lock service
--------------------------------------------------------------------------


