-- ########## inventory pgTAP: who the ledger names, and what retailers see ##########
-- Inside the SECURITY DEFINER functions current_user is the extension's
-- owner, yet the ledger must name the role that called.  The actor
-- (inventory.actor) may be named by members of inventory_admin and
-- inventory_proxy only; anyone else is refused (IV040) and changes nothing.
-- The ledger stays append-only for every role, even one granted UPDATE,
-- DELETE and TRUNCATE on it.  A retailer's role sees its own allocations and
-- storefront only, even through a leaky function of its own.
--
-- Run with: pg_prove -ovf test/pgtap/*.sql, as a superuser, in a database
-- where CREATE EXTENSION pgtap, CREATE EXTENSION inventory and
-- inventory.inv_configure(...) have been done.  Changes nothing.

\set ON_ERROR_ROLLBACK 1
\set ON_ERROR_STOP true

BEGIN;
SET search_path = inventory, public, pg_catalog;

SELECT plan(22);

INSERT INTO inventory.product (sku, name) VALUES ('TAP-WHO', 'callers');
SELECT product_id AS pid FROM inventory.product WHERE sku = 'TAP-WHO' \gset
SELECT inventory.inv_adjust(:pid, 50, 'set');

CREATE ROLE inv_tap_svc NOLOGIN IN ROLE inventory_service;
CREATE ROLE inv_tap_app NOLOGIN IN ROLE inventory_service, inventory_proxy;
CREATE ROLE inv_tap_boss NOLOGIN IN ROLE inventory_admin;
CREATE ROLE inv_tap_rewriter NOLOGIN IN ROLE inventory_admin;
GRANT SELECT, UPDATE, DELETE, TRUNCATE ON inventory.ledger TO inv_tap_rewriter;

-- ---------- the ledger names the calling role ----------
SET ROLE inv_tap_svc;
SELECT inventory.inv_reserve('tap-who-1', 'TAP-WHO'::text, 1::bigint);
RESET ROLE;
SELECT results_eq(
	$$SELECT db_user::text COLLATE "default", actor FROM inventory.ledger WHERE order_ref = 'tap-who-1'$$,
	$$VALUES ('inv_tap_svc', NULL::text)$$,
	'the ledger records the service''s own role, not the functions'' owner');

-- ---------- the actor ----------
SET ROLE inv_tap_svc;
SET inventory.actor = 'forged@example';
SELECT throws_ok(
	$$SELECT inventory.inv_reserve('tap-who-2', 'TAP-WHO'::text, 1::bigint)$$,
	'IV040', NULL, 'a plain service role may not name an actor');
SELECT throws_ok(
	$$SELECT inventory.inv_confirm_order('tap-who-1')$$,
	'IV040', NULL, 'not for a confirmation either');
RESET inventory.actor;
RESET ROLE;
SELECT is((SELECT count(*) FROM inventory.reservation WHERE order_ref = 'tap-who-2'),
	0::bigint, 'the refused reservation left nothing behind');
SELECT is((SELECT state::text FROM inventory.reservation WHERE order_ref = 'tap-who-1'),
	'reserved', 'the refused confirmation changed nothing');

SET ROLE inv_tap_app;
SET inventory.actor = 'alice@shop.example';
SELECT lives_ok(
	$$SELECT inventory.inv_reserve('tap-who-3', 'TAP-WHO'::text, 1::bigint)$$,
	'a member of inventory_proxy may name the actor');
RESET inventory.actor;
RESET ROLE;
SELECT results_eq(
	$$SELECT db_user::text COLLATE "default", actor FROM inventory.ledger WHERE order_ref = 'tap-who-3'$$,
	$$VALUES ('inv_tap_app', 'alice@shop.example')$$,
	'the ledger records the proxy''s role and the actor it named');

SET ROLE inv_tap_boss;
SET inventory.actor = 'bob@supplier.example';
SELECT lives_ok($$SELECT inventory.inv_adjust('TAP-WHO', 2, reason => 'tap who')$$,
	'an administrator may name the actor');
RESET inventory.actor;
RESET ROLE;
SELECT results_eq(
	$$SELECT db_user::text COLLATE "default", actor FROM inventory.ledger
	  WHERE reason = 'tap who'$$,
	$$VALUES ('inv_tap_boss', 'bob@supplier.example')$$,
	'the ledger records the administrator and the actor');

-- ---------- append-only, even with the privileges ----------
SELECT count(*) AS ledger_rows FROM inventory.ledger \gset
SET ROLE inv_tap_rewriter;
SELECT throws_ok($$UPDATE inventory.ledger SET actor = 'nobody'$$,
	'42501', 'cannot update the inventory ledger',
	'a role granted UPDATE on the ledger still cannot rewrite it');
SELECT throws_ok($$DELETE FROM inventory.ledger$$,
	'42501', 'cannot delete from the inventory ledger',
	'a role granted DELETE on the ledger still cannot delete from it');
SELECT throws_ok($$TRUNCATE inventory.ledger$$,
	'42501', 'cannot truncate the inventory ledger',
	'a role granted TRUNCATE on the ledger still cannot truncate it');
RESET ROLE;
SET ROLE inv_tap_boss;
SELECT throws_ok($$DELETE FROM inventory.ledger$$,
	'42501', NULL, 'an administrator cannot delete from the ledger');
RESET ROLE;
SET ROLE inv_tap_svc;
SELECT throws_ok($$UPDATE inventory.ledger SET actor = 'nobody'$$,
	'42501', NULL, 'the service cannot update the ledger');
RESET ROLE;
SELECT is((SELECT count(*) FROM inventory.ledger), :ledger_rows::bigint,
	'the ledger is as it was');

-- ---------- retailers ----------
CREATE ROLE inv_tap_shop_a NOLOGIN IN ROLE inventory_retailer;
CREATE ROLE inv_tap_shop_b NOLOGIN IN ROLE inventory_retailer;
CREATE ROLE inv_tap_shop_x NOLOGIN IN ROLE inventory_retailer;
INSERT INTO inventory.retailer_role (role_name, retailer_id)
VALUES ('inv_tap_shop_a', 'tap-retailer-a'), ('inv_tap_shop_b', 'tap-retailer-b');
SELECT inventory.inv_set_allocation('TAP-WHO', 'tap-retailer-a', 10, 1);
SELECT inventory.inv_set_allocation('TAP-WHO', 'tap-retailer-b', 7, 2);
CREATE TEMP TABLE storefront_a AS
SELECT * FROM inventory.inv_storefront('tap-retailer-a');
GRANT SELECT ON storefront_a TO inventory_retailer;

SET ROLE inv_tap_shop_a;
SELECT results_eq(
	$$SELECT retailer_id, quantity FROM inventory.my_allocation$$,
	$$VALUES ('tap-retailer-a', 10::bigint)$$,
	'a retailer sees its own allocation and no other');
SELECT throws_ok($$SELECT * FROM inventory.allocation$$,
	'42501', NULL, 'a retailer cannot read the allocation table');
SELECT throws_ok($$SELECT * FROM inventory.inv_storefront('tap-retailer-b')$$,
	'42501', NULL, 'a retailer cannot ask for another retailer''s storefront');
SELECT results_eq(
	$$SELECT * FROM inventory.inv_my_storefront() WHERE sku = 'TAP-WHO'$$,
	$$SELECT * FROM pg_temp.storefront_a WHERE sku = 'TAP-WHO'$$,
	'a retailer''s own storefront is inv_storefront() of its retailer');
CREATE TEMP TABLE seen (retailer text);
CREATE FUNCTION pg_temp.peek(r text) RETURNS boolean
LANGUAGE plpgsql COST 0.0000001 AS $$
BEGIN
	INSERT INTO pg_temp.seen VALUES (r);
	RETURN true;
END
$$;
SELECT count(*) FROM inventory.my_allocation WHERE pg_temp.peek(retailer_id);
SELECT results_eq($$SELECT DISTINCT retailer FROM pg_temp.seen$$,
	$$VALUES ('tap-retailer-a')$$,
	'a cheap leaky function of the retailer''s own sees no other retailer''s rows');
RESET ROLE;

SET ROLE inv_tap_shop_x;
SELECT throws_ok($$SELECT * FROM inventory.inv_my_storefront()$$,
	'IV041', NULL, 'a retailer role with no mapping is refused');
SELECT is_empty($$SELECT * FROM inventory.my_allocation$$,
	'and sees no allocation');
RESET ROLE;

SELECT * FROM finish();
ROLLBACK;
