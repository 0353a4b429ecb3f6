-- ########## inventory pgTAP: functions that run with raised rights ##########
-- Two guards that every function added later must pass: none is open to
-- PUBLIC, and every SECURITY DEFINER function pins its search_path to
-- pg_catalog, pg_temp.  Then the hijack: a member of the service role (and
-- one of the admin role) creates look-alike functions and operators in a
-- schema of its own and in pg_temp, puts them first on its search_path and
-- calls the API.  Nothing of theirs may run, and the results must be the
-- ones the real operators give.
--
-- Run with: pg_prove -ovf test/pgtap/*.sql, as a superuser, in a database
-- where CREATE EXTENSION pgtap, CREATE EXTENSION inventory and
-- inventory.inv_configure(...) have been done.  Changes nothing.

\set ON_ERROR_ROLLBACK 1
\set ON_ERROR_STOP true

BEGIN;
SET search_path = inventory, public, pg_catalog;

SELECT plan(15);

-- ---------- the guards ----------
SELECT is_empty(
	$$SELECT p.oid::regprocedure
	  FROM pg_catalog.pg_proc p
	  WHERE p.pronamespace = 'inventory'::regnamespace
		AND pg_catalog.has_function_privilege('public', p.oid, 'EXECUTE')$$,
	'no function of schema inventory is executable by PUBLIC (REVOKE each new one)');
SELECT is_empty(
	$$SELECT p.oid::regprocedure
	  FROM pg_catalog.pg_proc p
	  WHERE p.pronamespace = 'inventory'::regnamespace
		AND p.prosecdef
		AND NOT COALESCE('search_path=pg_catalog, pg_temp' = ANY (p.proconfig), false)$$,
	'every SECURITY DEFINER function of schema inventory pins search_path = pg_catalog, pg_temp');
SELECT is_empty(
	$$SELECT p.oid::regprocedure
	  FROM pg_catalog.pg_proc p
	  WHERE p.pronamespace = 'inventory'::regnamespace
		AND p.proname IN ('inv_ledger_append_only')
		AND p.prosecdef$$,
	'the ledger''s append-only guard runs as the caller (it asks whether the caller is a superuser)');

-- ---------- the attacker's look-alikes ----------
INSERT INTO inventory.product (sku, name) VALUES ('TAP-HIJACK', 'hijack target');
SELECT product_id AS pid FROM inventory.product WHERE sku = 'TAP-HIJACK' \gset
SELECT inventory.inv_adjust(:pid, 5, 'set');

CREATE ROLE inv_tap_attacker NOLOGIN IN ROLE inventory_service, inventory_admin;
CREATE SCHEMA inv_tap_evil AUTHORIZATION inv_tap_attacker;

SET ROLE inv_tap_attacker;
CREATE TABLE inv_tap_evil.hits (what text);
CREATE FUNCTION inv_tap_evil.hit(what text) RETURNS void
LANGUAGE sql AS $$ INSERT INTO inv_tap_evil.hits VALUES (what) $$;

-- Comparisons that always say yes, arithmetic that lies
CREATE FUNCTION inv_tap_evil.yes(a bigint, b bigint) RETURNS boolean
LANGUAGE plpgsql AS $$ BEGIN PERFORM inv_tap_evil.hit('bigint comparison'); RETURN true; END $$;
CREATE FUNCTION inv_tap_evil.plus(a bigint, b bigint) RETURNS bigint
LANGUAGE plpgsql AS $$ BEGIN PERFORM inv_tap_evil.hit('bigint arithmetic'); RETURN 0; END $$;
CREATE FUNCTION inv_tap_evil.texteq(a text, b text) RETURNS boolean
LANGUAGE plpgsql AS $$ BEGIN PERFORM inv_tap_evil.hit('text comparison'); RETURN true; END $$;
CREATE OPERATOR inv_tap_evil.= (LEFTARG = bigint, RIGHTARG = bigint, FUNCTION = inv_tap_evil.yes);
CREATE OPERATOR inv_tap_evil.<= (LEFTARG = bigint, RIGHTARG = bigint, FUNCTION = inv_tap_evil.yes);
CREATE OPERATOR inv_tap_evil.>= (LEFTARG = bigint, RIGHTARG = bigint, FUNCTION = inv_tap_evil.yes);
CREATE OPERATOR inv_tap_evil.+ (LEFTARG = bigint, RIGHTARG = bigint, FUNCTION = inv_tap_evil.plus);
CREATE OPERATOR inv_tap_evil.- (LEFTARG = bigint, RIGHTARG = bigint, FUNCTION = inv_tap_evil.plus);
CREATE OPERATOR inv_tap_evil.= (LEFTARG = text, RIGHTARG = text, FUNCTION = inv_tap_evil.texteq);
CREATE FUNCTION inv_tap_evil.now() RETURNS timestamptz
LANGUAGE plpgsql AS $$ BEGIN PERFORM inv_tap_evil.hit('now'); RETURN '2000-01-01'; END $$;
CREATE FUNCTION inv_tap_evil.inv_supplier_id() RETURNS bigint
LANGUAGE plpgsql AS $$ BEGIN PERFORM inv_tap_evil.hit('inv_supplier_id'); RETURN 424242; END $$;
CREATE FUNCTION inv_tap_evil.int8larger(a bigint, b bigint) RETURNS bigint
LANGUAGE plpgsql AS $$ BEGIN PERFORM inv_tap_evil.hit('int8larger'); RETURN 1000000; END $$;
CREATE FUNCTION inv_tap_evil.sum(bigint) RETURNS bigint
LANGUAGE plpgsql AS $$ BEGIN PERFORM inv_tap_evil.hit('sum'); RETURN 0; END $$;
-- The same in pg_temp, which a caller may also put first
CREATE FUNCTION pg_temp.now() RETURNS timestamptz
LANGUAGE plpgsql AS $$ BEGIN PERFORM inv_tap_evil.hit('pg_temp.now'); RETURN '2000-01-01'; END $$;
CREATE FUNCTION pg_temp.yes(a bigint, b bigint) RETURNS boolean
LANGUAGE plpgsql AS $$ BEGIN PERFORM inv_tap_evil.hit('pg_temp comparison'); RETURN true; END $$;
CREATE OPERATOR pg_temp.= (LEFTARG = bigint, RIGHTARG = bigint, FUNCTION = pg_temp.yes);
CREATE OPERATOR pg_temp.<= (LEFTARG = bigint, RIGHTARG = bigint, FUNCTION = pg_temp.yes);
CREATE TEMP TABLE outcome (step text, result text);

-- ---------- the calls, with the look-alikes first ----------
SET search_path = inv_tap_evil, pg_catalog;
INSERT INTO pg_temp.outcome
SELECT 'reserve 2', r.quantity::text || '/' || r.state::text
FROM inventory.inv_reserve('tap-hj-1', 'TAP-HIJACK'::text, 2::bigint) r;
DO $$
BEGIN
	PERFORM inventory.inv_reserve('tap-hj-2', 'TAP-HIJACK'::text, 4::bigint);
	INSERT INTO pg_temp.outcome VALUES ('reserve 4 of 3 left', 'no error');
EXCEPTION WHEN OTHERS THEN
	INSERT INTO pg_temp.outcome VALUES ('reserve 4 of 3 left', SQLSTATE);
END
$$;
INSERT INTO pg_temp.outcome
SELECT 'confirm', t.state::text FROM inventory.inv_confirm_order('tap-hj-1') t;
INSERT INTO pg_temp.outcome
SELECT 'adjust +1', a.stock_level::text
FROM inventory.inv_adjust('TAP-HIJACK'::text, 1::bigint) a;
INSERT INTO inventory.product (sku, name) VALUES ('TAP-HIJACK-2', 'added under the look-alikes');

SET search_path = pg_temp, inv_tap_evil, pg_catalog;
INSERT INTO pg_temp.outcome
SELECT 'reserve 1 with pg_temp first', r.quantity::text || '/' || r.state::text
FROM inventory.inv_reserve('tap-hj-3', 'TAP-HIJACK'::text, 1::bigint) r;
INSERT INTO pg_temp.outcome
SELECT 'expire', inventory.inv_expire()::text;

RESET search_path;
SET search_path = inventory, public, pg_catalog;
CREATE TEMP TABLE hits_seen AS SELECT * FROM inv_tap_evil.hits;
RESET ROLE;

-- ---------- nothing of theirs ran, and the answers are right ----------
SELECT is_empty($$SELECT * FROM pg_temp.hits_seen$$,
	'none of the look-alike functions or operators ran inside the API');
SELECT is((SELECT result FROM pg_temp.outcome WHERE step = 'reserve 2'),
	'2/reserved', 'the reservation was made as asked');
SELECT is((SELECT result FROM pg_temp.outcome WHERE step = 'reserve 4 of 3 left'),
	'IV002', 'an order larger than the stock is still refused (no comparison hijacked)');
SELECT is((SELECT result FROM pg_temp.outcome WHERE step = 'confirm'),
	'confirmed', 'the confirmation went through');
SELECT is((SELECT result FROM pg_temp.outcome WHERE step = 'adjust +1'),
	'4', 'the adjustment computed 5 - 2 + 1 (no arithmetic hijacked)');
SELECT is((SELECT result FROM pg_temp.outcome WHERE step = 'reserve 1 with pg_temp first'),
	'1/reserved', 'with pg_temp first on the path, the reservation is still right');
SELECT is((SELECT result FROM pg_temp.outcome WHERE step = 'expire'),
	'0', 'inv_expire() expired nothing (its clock was not hijacked)');
SELECT results_eq(
	format($$SELECT stock_level, reserved, committed FROM inventory.stock_slot
			 WHERE product_id = %s$$, :pid),
	$$VALUES (4::bigint, 1::bigint, 2::bigint)$$,
	'the stock row holds what the real operators give');
SELECT is((SELECT supplier_id FROM inventory.product WHERE sku = 'TAP-HIJACK-2'),
	inventory.inv_supplier_id(), 'a product added under the look-alikes belongs to the real supplier');
SELECT is(
	(SELECT count(*) FROM inventory.stock_slot s JOIN inventory.product p
		 USING (supplier_id, product_id) WHERE p.sku = 'TAP-HIJACK-2'),
	1::bigint, 'and got its stock row from the trigger');
SELECT is(
	(SELECT count(*) FROM inventory.reservation
	 WHERE order_ref LIKE 'tap-hj-%' AND expires_at < now()),
	0::bigint, 'the reservations expire in the future (now() was not hijacked)');
SELECT is_empty($$SELECT * FROM inventory.inv_verify()$$,
	'inv_verify() is clean after the hijack attempts');

SELECT * FROM finish();
ROLLBACK;
