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


