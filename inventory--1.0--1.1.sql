/* inventory--1.0--1.1.sql */

-- complain if script is sourced in psql, rather than through ALTER EXTENSION
\echo Use "ALTER EXTENSION inventory UPDATE TO '1.1'" to load this file. \quit

-- Version 1.1.  A new database gets it by CREATE EXTENSION, which runs the
-- 1.0 script and then this one; an existing 1.0 database by ALTER EXTENSION
-- inventory UPDATE.  Each part below belongs to one feature of the release.

--------------------------------------------------------------------------
-- Bulk stock updates from CSV
--------------------------------------------------------------------------



--------------------------------------------------------------------------
-- The order path: hot products spread over several stock slots
--------------------------------------------------------------------------



--------------------------------------------------------------------------
-- Roles, privileges and functions that run with raised rights
--------------------------------------------------------------------------



--------------------------------------------------------------------------
-- Several tenant databases and nodes sharing one lock service
--------------------------------------------------------------------------


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
