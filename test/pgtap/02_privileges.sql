-- ########## inventory pgTAP: privileges ##########
-- The privilege model: nothing is open to PUBLIC; the extension's roles
-- (inventory_admin, inventory_service, inventory_reader, inventory_retailer,
-- inventory_proxy, inventory_alerts) hold exactly what their job needs; no
-- role may write the stock tables directly, so every change of stock goes
-- through the SECURITY DEFINER functions.  Each role is then exercised
-- through a login-less member created inside the test transaction, which
-- vanishes with its rollback.
--
-- Run with: pg_prove -ovf test/pgtap/*.sql, as a superuser, in a database
-- where CREATE EXTENSION pgtap, CREATE EXTENSION inventory and
-- inventory.inv_configure(...) have been done.  Changes nothing.

\set ON_ERROR_ROLLBACK 1
\set ON_ERROR_STOP true

BEGIN;
SET search_path = inventory, public, pg_catalog;

SELECT plan(69);

-- ---------- what PUBLIC holds ----------
SELECT is_empty(
	$$SELECT p.oid::regprocedure
	  FROM pg_catalog.pg_proc p
	  WHERE p.pronamespace = 'inventory'::regnamespace
		AND pg_catalog.has_function_privilege('public', p.oid, 'EXECUTE')$$,
	'PUBLIC may execute no function of schema inventory');
SELECT is_empty(
	$$SELECT c.oid::regclass
	  FROM pg_catalog.pg_class c
	  WHERE c.relnamespace = 'inventory'::regnamespace
		AND CASE WHEN c.relkind IN ('r', 'v', 'm', 'p', 'f')
				 THEN pg_catalog.has_table_privilege('public', c.oid,
						'SELECT, INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER')
				 ELSE false END$$,
	'PUBLIC holds no privilege on any table or view of schema inventory');
SELECT is_empty(
	$$SELECT c.oid::regclass
	  FROM pg_catalog.pg_class c
	  WHERE c.relnamespace = 'inventory'::regnamespace
		AND CASE WHEN c.relkind = 'S'
				 THEN pg_catalog.has_sequence_privilege('public', c.oid,
						'USAGE, SELECT, UPDATE')
				 ELSE false END$$,
	'PUBLIC holds no privilege on any sequence of schema inventory');
SELECT schema_privs_are('inventory', 'public', ARRAY[]::name[],
	'PUBLIC holds no privilege on schema inventory');

-- ---------- the roles ----------
SELECT results_eq(
	$$SELECT rolname::text COLLATE "default", rolcanlogin, rolsuper, rolcreaterole, rolcreatedb
	  FROM pg_catalog.pg_roles WHERE rolname LIKE 'inventory\_%'
	  ORDER BY rolname COLLATE "C"$$,
	$$VALUES ('inventory_admin', false, false, false, false),
			 ('inventory_alerts', false, false, false, false),
			 ('inventory_proxy', false, false, false, false),
			 ('inventory_reader', false, false, false, false),
			 ('inventory_retailer', false, false, false, false),
			 ('inventory_service', false, false, false, false)$$,
	'the extension''s six roles exist, as plain NOLOGIN group roles');
SELECT schema_privs_are('inventory', r, ARRAY['USAGE'],
	r || ' may use schema inventory, and not create in it')
FROM unnest(ARRAY['inventory_admin', 'inventory_service', 'inventory_reader',
				  'inventory_retailer', 'inventory_alerts']) AS r;
SELECT schema_privs_are('inventory', 'inventory_proxy', ARRAY[]::name[],
	'inventory_proxy holds nothing: it only lets its members name an actor');

-- ---------- what each role may execute ----------
SELECT results_eq(
	$$SELECT p.oid::regprocedure::text COLLATE "default" AS f
	  FROM pg_catalog.pg_proc p
	  WHERE p.pronamespace = 'inventory'::regnamespace
		AND pg_catalog.has_function_privilege('inventory_service', p.oid, 'EXECUTE')
	  ORDER BY 1$$,
	$$VALUES ('inv_cancel(bigint,text)'),
			 ('inv_cancel_order(text,text)'),
			 ('inv_confirm(bigint)'),
			 ('inv_confirm_order(text)'),
			 ('inv_dispatch(bigint)'),
			 ('inv_dispatch_order(text)'),
			 ('inv_expire()'),
			 ('inv_release(bigint,text)'),
			 ('inv_release_order(text,text)'),
			 ('inv_reserve(text,bigint,bigint,text)'),
			 ('inv_reserve(text,text,bigint,text)'),
			 ('inv_reserve_order(text,bigint[],bigint[],text)'),
			 ('inv_reserve_order(text,text[],bigint[],text)')$$,
	'inventory_service may execute the order path and nothing else');
SELECT is_empty(
	$$SELECT p.oid::regprocedure
	  FROM pg_catalog.pg_proc p
	  WHERE p.pronamespace = 'inventory'::regnamespace
		AND pg_catalog.has_function_privilege('inventory_reader', p.oid, 'EXECUTE')
		AND (p.prosecdef
			 OR (p.provolatile = 'v'
				 AND p.proname NOT IN ('inv_locks', 'inv_lock_stats',
									 'inv_lock_server')))$$,
	'inventory_reader may execute no function that runs with raised rights or changes anything');
SELECT is_empty(
	$$SELECT p.oid::regprocedure
	  FROM pg_catalog.pg_proc p
	  WHERE p.pronamespace = 'inventory'::regnamespace
		AND pg_catalog.has_function_privilege('inventory_admin', p.oid, 'EXECUTE')
		AND p.proname ~ '^inv_(reserve|confirm|release|cancel|dispatch|alert_claim|alert_extend|alert_delivered|alert_failed|my_storefront)'$$,
	'inventory_admin may execute neither the order path nor the alert consumer''s functions');
SELECT results_eq(
	$$SELECT p.oid::regprocedure::text COLLATE "default" AS f
	  FROM pg_catalog.pg_proc p
	  WHERE p.pronamespace = 'inventory'::regnamespace
		AND pg_catalog.has_function_privilege('inventory_retailer', p.oid, 'EXECUTE')
	  ORDER BY 1$$,
	$$VALUES ('inv_my_storefront()')$$,
	'inventory_retailer may execute its own storefront only');
SELECT results_eq(
	$$SELECT p.proname::text COLLATE "default" AS f
	  FROM pg_catalog.pg_proc p
	  WHERE p.pronamespace = 'inventory'::regnamespace
		AND pg_catalog.has_function_privilege('inventory_alerts', p.oid, 'EXECUTE')
	  ORDER BY 1$$,
	$$VALUES ('inv_alert_claim'), ('inv_alert_delivered'), ('inv_alert_extend'),
			 ('inv_alert_failed')$$,
	'inventory_alerts may execute the alert consumer''s four functions only');
SELECT function_privs_are('inventory', 'inv_adjust',
	ARRAY['text', 'bigint', 'text', 'text', 'bigint'],
	'inventory_admin', ARRAY['EXECUTE'], 'inventory_admin may adjust stock');
SELECT function_privs_are('inventory', 'inv_set_allocation',
	ARRAY['text', 'text', 'bigint', 'integer'],
	'inventory_admin', ARRAY['EXECUTE'], 'inventory_admin may set allocations');

-- ---------- what each role may do to the tables ----------
SELECT is_empty(
	$$SELECT r, c.oid::regclass
	  FROM pg_catalog.pg_class c,
		   unnest(ARRAY['inventory_service', 'inventory_reader',
						'inventory_retailer', 'inventory_alerts',
						'inventory_proxy']) AS r
	  WHERE c.relnamespace = 'inventory'::regnamespace
		AND c.relkind IN ('r', 'v', 'p')
		AND (pg_catalog.has_table_privilege(r, c.oid,
				'INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER')
			 OR pg_catalog.has_any_column_privilege(r, c.oid, 'INSERT, UPDATE'))$$,
	'no role but inventory_admin may write any table, or any column of one');
SELECT is_empty(
	$$SELECT c.oid::regclass
	  FROM pg_catalog.pg_class c
	  WHERE c.relnamespace = 'inventory'::regnamespace
		AND c.relname IN ('stock_slot', 'reservation', 'ledger', 'allocation',
						  'alert', 'alert_delivery')
		AND (pg_catalog.has_table_privilege('inventory_admin', c.oid,
				'INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER')
			 OR pg_catalog.has_any_column_privilege('inventory_admin', c.oid,
				'INSERT, UPDATE'))$$,
	'inventory_admin may not write the stock, reservations, ledger, allocations or alert outbox directly');
SELECT is_empty(
	$$SELECT r, c.oid::regclass
	  FROM pg_catalog.pg_class c,
		   unnest(ARRAY['inventory_service', 'inventory_retailer',
						'inventory_alerts', 'inventory_proxy']) AS r
	  WHERE c.relnamespace = 'inventory'::regnamespace
		AND c.relkind IN ('r', 'v', 'p')
		AND c.relname <> 'my_allocation'
		AND pg_catalog.has_table_privilege(r, c.oid, 'SELECT')$$,
	'the service, retailers, the alert consumer and proxies read no table or view directly');
SELECT table_privs_are('inventory', t, 'inventory_reader', ARRAY['SELECT'],
	'inventory_reader may read ' || t || ' and nothing more')
FROM unnest(ARRAY['stock', 'product', 'stock_slot', 'reservation', 'ledger',
				  'allocation', 'config', 'holiday']) AS t;
SELECT table_privs_are('inventory', 'my_allocation', 'inventory_retailer',
	ARRAY['SELECT'], 'inventory_retailer may read my_allocation');
SELECT table_privs_are('inventory', 'product', 'inventory_admin',
	ARRAY['SELECT', 'INSERT', 'DELETE'],
	'inventory_admin may read, add and remove products (updates are per column)');
SELECT column_privs_are('inventory', 'product', 'low_stock_threshold',
	'inventory_admin', ARRAY['SELECT', 'INSERT', 'UPDATE'],
	'inventory_admin may change a product''s low-stock threshold');

-- ---------- a member of each role, at work ----------
INSERT INTO inventory.product (sku, name) VALUES ('TAP-PRIV', 'privileges');
SELECT product_id AS pid FROM inventory.product WHERE sku = 'TAP-PRIV' \gset
SELECT stock_level FROM inventory.inv_adjust(:pid, 20) \gset

CREATE ROLE inv_tap_service NOLOGIN IN ROLE inventory_service;
CREATE ROLE inv_tap_admin NOLOGIN IN ROLE inventory_admin;
CREATE ROLE inv_tap_reader NOLOGIN IN ROLE inventory_reader;
CREATE ROLE inv_tap_stranger NOLOGIN;

SET ROLE inv_tap_service;
SELECT lives_ok(
	$$SELECT inventory.inv_reserve('tap-priv-1', 'TAP-PRIV'::text, 2::bigint)$$,
	'the service reserves without any privilege on the tables');
SELECT lives_ok(
	$$SELECT inventory.inv_confirm_order('tap-priv-1')$$,
	'the service confirms');
SELECT throws_ok(
	format('SELECT inventory.inv_adjust(%s::bigint, 5::bigint)', :pid),
	'42501', NULL, 'the service cannot adjust stock');
SELECT throws_ok($$UPDATE inventory.stock_slot SET stock_level = 1000000$$,
	'42501', NULL, 'the service cannot update stock_slot directly');
SELECT throws_ok(
	$$INSERT INTO inventory.reservation (supplier_id, order_ref, product_id,
										 quantity, expires_at)
	  VALUES (1, 'tap-priv-x', 1, 1, now() + interval '1 hour')$$,
	'42501', NULL, 'the service cannot insert a reservation directly');
SELECT throws_ok($$SELECT * FROM inventory.stock$$,
	'42501', NULL, 'the service cannot read the stock view');
SELECT throws_ok($$SELECT * FROM inventory.inv_verify()$$,
	'42501', NULL, 'the service cannot run inv_verify()');
SELECT throws_ok($$SELECT inventory.inv_bulk_load(E'sku,quantity\nTAP-PRIV,1\n')$$,
	'42501', NULL, 'the service cannot load stock from CSV');
SELECT throws_ok($$SELECT inventory.inv_set_slots('TAP-PRIV', 2)$$,
	'42501', NULL, 'the service cannot spread a product over slots');
RESET ROLE;

-- A large object the administrator did not write, and may not read
SELECT lo_from_bytea(0, convert_to(E'sku,quantity\nTAP-PRIV,1\n', 'UTF8')) AS tap_foreign_lo \gset

SET ROLE inv_tap_admin;
SELECT lives_ok(
	$$SELECT inventory.inv_adjust('TAP-PRIV', 5, reason => 'found')$$,
	'the administrator adjusts stock');
SELECT lives_ok(
	$$INSERT INTO inventory.product (sku, name) VALUES ('TAP-PRIV-2', 'second')$$,
	'the administrator adds a product (its stock row comes with it)');
SELECT lives_ok(
	$$UPDATE inventory.product SET low_stock_threshold = 3 WHERE sku = 'TAP-PRIV'$$,
	'the administrator sets a threshold');
SELECT lives_ok(
	$$SELECT inventory.inv_set_allocation('TAP-PRIV', 'retailer-p', 2)$$,
	'the administrator sets an allocation');
SELECT lives_ok(
	$$INSERT INTO inventory.holiday (day, description) VALUES ('2031-01-01', 'tap')$$,
	'the administrator edits the calendar');
SELECT lives_ok(
	$$UPDATE inventory.config SET order_cutoff = '15:00'$$,
	'the administrator sets the order cut-off');
SELECT lives_ok(
	$$INSERT INTO inventory.alert_preference (channel, target) VALUES ('email', 'tap@example.com')$$,
	'the administrator sets alert preferences');
SELECT lives_ok(
	$$INSERT INTO inventory.retailer_role (role_name, retailer_id) VALUES ('inv_tap_reader', 'retailer-p')$$,
	'the administrator maps a role to a retailer');
SELECT throws_ok($$UPDATE inventory.config SET supplier_id = 99$$,
	'42501', NULL, 'the administrator cannot change the supplier id but through inv_configure()');
SELECT throws_ok($$UPDATE inventory.stock_slot SET stock_level = 1000000$$,
	'42501', NULL, 'the administrator cannot update stock_slot directly');
SELECT throws_ok($$UPDATE inventory.product SET supplier_id = 99$$,
	'42501', NULL, 'the administrator cannot move products to another supplier');
SELECT throws_ok(
	$$SELECT inventory.inv_reserve('tap-priv-2', 'TAP-PRIV'::text, 1::bigint)$$,
	'42501', NULL, 'the administrator cannot place orders');
SELECT is(ARRAY[(inventory.inv_bulk_load(E'sku,quantity,mode\nTAP-PRIV,1,delta\n')).changed,
				 (inventory.inv_bulk_load(E'sku,quantity,mode\nTAP-PRIV,-1,delta\n')).changed],
	ARRAY[1, 1]::bigint[],
	'the administrator loads stock from CSV text');
SELECT lo_from_bytea(0, convert_to(E'sku,quantity,mode\nTAP-PRIV,0,delta\n', 'UTF8')) AS tap_own_lo \gset
SELECT is((inventory.inv_bulk_load_lo(:tap_own_lo)).rows_read, 1::bigint,
	'the administrator loads stock from a large object it wrote');
SELECT throws_ok(
	format('SELECT inventory.inv_bulk_load_lo(%s)', :tap_foreign_lo),
	'42501', NULL,
	'the administrator cannot load from a large object it may not read, although the function runs with its owner''s rights');
SELECT throws_ok(
	$$SELECT inventory.inv_bulk_load_file('/dev/null')$$,
	'42501', NULL,
	'the administrator cannot read a server file without pg_read_server_files, although the function runs with its owner''s rights');
SELECT lives_ok(
	$$SELECT inventory.inv_set_slots('TAP-PRIV-2', 2)$$,
	'the administrator spreads a product over slots');
SELECT lives_ok(
	$$SELECT inventory.inv_gather_slots('TAP-PRIV-2')$$,
	'the administrator gathers a product''s slots');
RESET ROLE;

SET ROLE inv_tap_reader;
SELECT is((SELECT stock_level FROM inventory.stock WHERE sku = 'TAP-PRIV'),
	23::bigint, 'the reader reads the stock view');
SELECT lives_ok($$SELECT * FROM inventory.inv_storefront('retailer-p')$$,
	'the reader reads any retailer''s storefront');
SELECT lives_ok($$SELECT * FROM inventory.ledger$$, 'the reader reads the ledger');
SELECT throws_ok(
	$$SELECT inventory.inv_reserve('tap-priv-3', 'TAP-PRIV'::text, 1::bigint)$$,
	'42501', NULL, 'the reader cannot place orders');
SELECT throws_ok($$UPDATE inventory.product SET name = 'x'$$,
	'42501', NULL, 'the reader cannot update products');
RESET ROLE;

CREATE ROLE inv_tap_alerts NOLOGIN IN ROLE inventory_alerts;
SET ROLE inv_tap_alerts;
SELECT lives_ok($$SELECT * FROM inventory.inv_alert_claim('tap-consumer')$$,
	'the alert consumer claims deliveries');
SELECT throws_ok($$SELECT * FROM inventory.alert_delivery$$,
	'42501', NULL, 'the alert consumer cannot read the outbox directly');
RESET ROLE;

SET ROLE inv_tap_stranger;
SELECT throws_ok(
	$$SELECT inventory.inv_reserve('tap-priv-4', 1::bigint, 1::bigint)$$,
	'42501', NULL, 'a role granted nothing cannot reach inv_reserve()');
SELECT throws_ok($$SELECT * FROM inventory.stock$$,
	'42501', NULL, 'a role granted nothing cannot reach view stock');
RESET ROLE;

SELECT is(current_user, session_user, 'back to the session role');

SELECT * FROM finish();
ROLLBACK;
