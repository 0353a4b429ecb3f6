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
ALTER FUNCTION inventory.inv_low_stock_alert()
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
	inventory.inv_lock_probe(integer)
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


