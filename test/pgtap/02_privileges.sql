-- ########## inventory pgTAP: privileges ##########
-- Nothing in the extension is open to PUBLIC: a role that was granted
-- nothing can neither call the functions nor read or write the tables, even
-- once it may look into the schema.  The roles used here are created inside
-- the test transaction and vanish with its rollback.
--
-- Run with: pg_prove -ovf test/pgtap/*.sql, as a superuser, in a database
-- where CREATE EXTENSION pgtap, CREATE EXTENSION inventory and
-- inventory.inv_configure(...) have been done.  Changes nothing.

\set ON_ERROR_ROLLBACK 1
\set ON_ERROR_STOP true

BEGIN;
SET search_path = inventory, public, pg_catalog;

SELECT plan(59);

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

SELECT function_privs_are('inventory', 'inv_configure', ARRAY['bigint'],
	'public', ARRAY[]::name[], 'PUBLIC may not execute inv_configure()');
SELECT function_privs_are('inventory', 'inv_adjust',
	ARRAY['bigint', 'bigint', 'text', 'text', 'bigint'],
	'public', ARRAY[]::name[], 'PUBLIC may not execute inv_adjust(bigint, ...)');
SELECT function_privs_are('inventory', 'inv_adjust',
	ARRAY['text', 'bigint', 'text', 'text', 'bigint'],
	'public', ARRAY[]::name[], 'PUBLIC may not execute inv_adjust(text, ...)');
SELECT function_privs_are('inventory', 'inv_reserve',
	ARRAY['text', 'bigint', 'bigint', 'text'],
	'public', ARRAY[]::name[], 'PUBLIC may not execute inv_reserve(text, bigint, ...)');
SELECT function_privs_are('inventory', 'inv_reserve',
	ARRAY['text', 'text', 'bigint', 'text'],
	'public', ARRAY[]::name[], 'PUBLIC may not execute inv_reserve(text, text, ...)');
SELECT function_privs_are('inventory', 'inv_reserve_order',
	ARRAY['text', 'bigint[]', 'bigint[]', 'text'],
	'public', ARRAY[]::name[], 'PUBLIC may not execute inv_reserve_order(text, bigint[], ...)');
SELECT function_privs_are('inventory', 'inv_reserve_order',
	ARRAY['text', 'text[]', 'bigint[]', 'text'],
	'public', ARRAY[]::name[], 'PUBLIC may not execute inv_reserve_order(text, text[], ...)');
SELECT function_privs_are('inventory', 'inv_confirm', ARRAY['bigint'],
	'public', ARRAY[]::name[], 'PUBLIC may not execute inv_confirm()');
SELECT function_privs_are('inventory', 'inv_release', ARRAY['bigint', 'text'],
	'public', ARRAY[]::name[], 'PUBLIC may not execute inv_release()');
SELECT function_privs_are('inventory', 'inv_cancel', ARRAY['bigint', 'text'],
	'public', ARRAY[]::name[], 'PUBLIC may not execute inv_cancel()');
SELECT function_privs_are('inventory', 'inv_dispatch', ARRAY['bigint'],
	'public', ARRAY[]::name[], 'PUBLIC may not execute inv_dispatch()');
SELECT function_privs_are('inventory', 'inv_confirm_order', ARRAY['text'],
	'public', ARRAY[]::name[], 'PUBLIC may not execute inv_confirm_order()');
SELECT function_privs_are('inventory', 'inv_release_order',
	ARRAY['text', 'text'],
	'public', ARRAY[]::name[], 'PUBLIC may not execute inv_release_order()');
SELECT function_privs_are('inventory', 'inv_dispatch_order', ARRAY['text'],
	'public', ARRAY[]::name[], 'PUBLIC may not execute inv_dispatch_order()');
SELECT function_privs_are('inventory', 'inv_expire', ARRAY[]::name[],
	'public', ARRAY[]::name[], 'PUBLIC may not execute inv_expire()');
SELECT function_privs_are('inventory', 'inv_verify', ARRAY[]::name[],
	'public', ARRAY[]::name[], 'PUBLIC may not execute inv_verify()');
SELECT function_privs_are('inventory', 'inv_repair', ARRAY['text'],
	'public', ARRAY[]::name[], 'PUBLIC may not execute inv_repair()');

SELECT table_privs_are('inventory', 'config', 'public', ARRAY[]::name[],
	'PUBLIC holds no privilege on config');
SELECT table_privs_are('inventory', 'product', 'public', ARRAY[]::name[],
	'PUBLIC holds no privilege on product');
SELECT table_privs_are('inventory', 'stock_slot', 'public', ARRAY[]::name[],
	'PUBLIC holds no privilege on stock_slot');
SELECT table_privs_are('inventory', 'reservation', 'public', ARRAY[]::name[],
	'PUBLIC holds no privilege on reservation');
SELECT table_privs_are('inventory', 'ledger', 'public', ARRAY[]::name[],
	'PUBLIC holds no privilege on ledger');
SELECT table_privs_are('inventory', 'stock', 'public', ARRAY[]::name[],
	'PUBLIC holds no privilege on view stock');

-- ---------- a fresh role that may only look into the schema ----------
CREATE ROLE inv_tap_outsider NOLOGIN;
GRANT USAGE ON SCHEMA inventory TO inv_tap_outsider;

SELECT function_privs_are('inventory', 'inv_reserve',
	ARRAY['text', 'bigint', 'bigint', 'text'],
	'inv_tap_outsider', ARRAY[]::name[],
	'a fresh role may not execute inv_reserve()');
SELECT function_privs_are('inventory', 'inv_adjust',
	ARRAY['bigint', 'bigint', 'text', 'text', 'bigint'],
	'inv_tap_outsider', ARRAY[]::name[],
	'a fresh role may not execute inv_adjust()');
SELECT table_privs_are('inventory', 'stock_slot', 'inv_tap_outsider',
	ARRAY[]::name[], 'a fresh role holds no privilege on stock_slot');
SELECT table_privs_are('inventory', 'ledger', 'inv_tap_outsider',
	ARRAY[]::name[], 'a fresh role holds no privilege on ledger');

SET ROLE inv_tap_outsider;

SELECT throws_ok(
	$$SELECT inventory.inv_reserve('tap-priv-1', 1::bigint, 1::bigint)$$,
	'42501', NULL, 'a fresh role cannot call inv_reserve() by product id');
SELECT throws_ok(
	$$SELECT inventory.inv_reserve('tap-priv-1', 'TAP-SKU'::text, 1::bigint)$$,
	'42501', NULL, 'a fresh role cannot call inv_reserve() by SKU');
SELECT throws_ok(
	$$SELECT inventory.inv_adjust(1::bigint, 5::bigint)$$,
	'42501', NULL, 'a fresh role cannot call inv_adjust() by product id');
SELECT throws_ok(
	$$SELECT inventory.inv_adjust('TAP-SKU'::text, 5::bigint, 'set')$$,
	'42501', NULL, 'a fresh role cannot call inv_adjust() by SKU');
SELECT throws_ok(
	$$SELECT inventory.inv_reserve_order('tap-priv-2', ARRAY[1]::bigint[],
										 ARRAY[1]::bigint[])$$,
	'42501', NULL, 'a fresh role cannot call inv_reserve_order()');
SELECT throws_ok(
	$$SELECT inventory.inv_confirm(1)$$,
	'42501', NULL, 'a fresh role cannot call inv_confirm()');
SELECT throws_ok(
	$$SELECT inventory.inv_release(1)$$,
	'42501', NULL, 'a fresh role cannot call inv_release()');
SELECT throws_ok(
	$$SELECT inventory.inv_confirm_order('tap-priv-2')$$,
	'42501', NULL, 'a fresh role cannot call inv_confirm_order()');
SELECT throws_ok(
	$$SELECT * FROM inventory.inv_verify()$$,
	'42501', NULL, 'a fresh role cannot call inv_verify()');
SELECT throws_ok(
	$$SELECT * FROM inventory.inv_repair('tap')$$,
	'42501', NULL, 'a fresh role cannot call inv_repair()');
SELECT throws_ok(
	$$SELECT inventory.inv_configure(2)$$,
	'42501', NULL, 'a fresh role cannot call inv_configure()');

SELECT throws_ok($$SELECT * FROM inventory.config$$,
	'42501', NULL, 'a fresh role cannot select from config');
SELECT throws_ok($$SELECT * FROM inventory.product$$,
	'42501', NULL, 'a fresh role cannot select from product');
SELECT throws_ok($$SELECT * FROM inventory.stock_slot$$,
	'42501', NULL, 'a fresh role cannot select from stock_slot');
SELECT throws_ok($$SELECT * FROM inventory.reservation$$,
	'42501', NULL, 'a fresh role cannot select from reservation');
SELECT throws_ok($$SELECT * FROM inventory.ledger$$,
	'42501', NULL, 'a fresh role cannot select from ledger');
SELECT throws_ok($$SELECT * FROM inventory.stock$$,
	'42501', NULL, 'a fresh role cannot select from view stock');
SELECT throws_ok(
	$$INSERT INTO inventory.product (supplier_id, sku) VALUES (1, 'TAP-PRIV')$$,
	'42501', NULL, 'a fresh role cannot insert into product');
SELECT throws_ok(
	$$UPDATE inventory.stock_slot SET stock_level = 1000000$$,
	'42501', NULL, 'a fresh role cannot update stock_slot');
SELECT throws_ok(
	$$INSERT INTO inventory.reservation (supplier_id, order_ref, product_id,
										 quantity, expires_at)
	  VALUES (1, 'tap-priv-3', 1, 1, now() + interval '1 hour')$$,
	'42501', NULL, 'a fresh role cannot insert into reservation');
SELECT throws_ok(
	$$UPDATE inventory.reservation SET state = 'released'$$,
	'42501', NULL, 'a fresh role cannot update reservation');
SELECT throws_ok(
	$$DELETE FROM inventory.product$$,
	'42501', NULL, 'a fresh role cannot delete from product');
SELECT throws_ok(
	$$INSERT INTO inventory.ledger (supplier_id, product_id, slot, db_user,
									kind, stock_level_before, stock_level_after,
									reserved_before, reserved_after,
									committed_before, committed_after)
	  VALUES (1, 1, 0, current_user, 'direct', 0, 1, 0, 0, 0, 0)$$,
	'42501', NULL, 'a fresh role cannot insert into ledger');
SELECT throws_ok($$TRUNCATE inventory.reservation$$,
	'42501', NULL, 'a fresh role cannot truncate reservation');

RESET ROLE;

-- A grant is all it takes: the refusals above came from missing privileges.
GRANT SELECT ON inventory.stock TO inv_tap_outsider;
SET ROLE inv_tap_outsider;
SELECT lives_ok($$SELECT * FROM inventory.stock$$,
	'once granted SELECT, the role can read view stock');
RESET ROLE;

-- ---------- a fresh role without even schema usage ----------
CREATE ROLE inv_tap_stranger NOLOGIN;
SET ROLE inv_tap_stranger;
SELECT throws_ok(
	$$SELECT inventory.inv_reserve('tap-priv-4', 1::bigint, 1::bigint)$$,
	'42501', NULL, 'a role without schema usage cannot reach inv_reserve()');
SELECT throws_ok($$SELECT * FROM inventory.stock$$,
	'42501', NULL, 'a role without schema usage cannot reach view stock');
RESET ROLE;

SELECT is(current_user, session_user, 'back to the session role');

SELECT * FROM finish();
ROLLBACK;
