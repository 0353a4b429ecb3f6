-- ########## inventory pgTAP: invariants ##########
-- Plain SQL cannot break the stock of record: the constraints refuse
-- overselling, negative quantities, empty reservations and dangling
-- products; the ledger refuses to be rewritten by anyone but a superuser;
-- every change, direct ones included, lands in the ledger, whose sums give
-- back the stock; and inv_verify() sees a counter that no longer agrees with
-- the reservations, which inv_repair() puts right.
--
-- Run with: pg_prove -ovf test/pgtap/*.sql, as a superuser, in a database
-- where CREATE EXTENSION pgtap, CREATE EXTENSION inventory and
-- inventory.inv_configure(...) have been done, and whose stock is healthy
-- (inv_verify() returns no rows).  Everything is rolled back.

\set ON_ERROR_ROLLBACK 1
\set ON_ERROR_STOP true

BEGIN;
SET search_path = inventory, public, pg_catalog;

SELECT plan(43);

-- ---------- setup: four products of our own ----------
INSERT INTO inventory.product (sku, name, made_to_order)
VALUES ('TAP-INV-A', 'constraint target', false),
	   ('TAP-INV-B', 'direct change target', false),
	   ('TAP-INV-C', 'ledger sequence target', false),
	   ('TAP-INV-M', 'made to order', true);
SELECT product_id AS pa FROM inventory.product WHERE sku = 'TAP-INV-A' \gset
SELECT product_id AS pb FROM inventory.product WHERE sku = 'TAP-INV-B' \gset
SELECT product_id AS pc FROM inventory.product WHERE sku = 'TAP-INV-C' \gset
SELECT product_id AS pm FROM inventory.product WHERE sku = 'TAP-INV-M' \gset
SELECT inventory.inv_supplier_id() AS supplier \gset

-- Product A: 10 in stock, 4 of them reserved.
SELECT stock_level AS a_level FROM inventory.inv_adjust(:pa, 10) \gset
SELECT reservation_id AS ra
FROM inventory.inv_reserve('tap-inv-a1', :pa, 4) \gset

-- ---------- constraints on direct changes ----------
SELECT throws_ok(
	format('UPDATE inventory.stock_slot SET reserved = stock_level + 1 WHERE product_id = %s', :pa),
	'23514', NULL, 'stock_slot: reserved above stock_level is refused');
SELECT throws_ok(
	format('UPDATE inventory.stock_slot SET stock_level = 3 WHERE product_id = %s', :pa),
	'23514', NULL, 'stock_slot: stock_level below what is reserved is refused');
SELECT throws_ok(
	format('UPDATE inventory.stock_slot SET stock_level = -1, reserved = 0 WHERE product_id = %s', :pa),
	'23514', NULL, 'stock_slot: a negative stock_level is refused');
SELECT throws_ok(
	format('UPDATE inventory.stock_slot SET reserved = -1 WHERE product_id = %s', :pa),
	'23514', NULL, 'stock_slot: a negative reserved is refused');
SELECT throws_ok(
	format('UPDATE inventory.stock_slot SET committed = -1 WHERE product_id = %s', :pa),
	'23514', NULL, 'stock_slot: a negative committed is refused');
SELECT throws_ok(
	format('UPDATE inventory.stock_slot SET available = 100 WHERE product_id = %s', :pa),
	'428C9', NULL, 'stock_slot: available cannot be written');
SELECT throws_ok(
	format($$INSERT INTO inventory.reservation (supplier_id, order_ref, product_id, quantity, expires_at)
			 VALUES (%s, 'tap-inv-x1', %s, 0, now() + interval '1 hour')$$, :supplier, :pa),
	'23514', NULL, 'reservation: a quantity of 0 is refused');
SELECT throws_ok(
	format($$INSERT INTO inventory.reservation (supplier_id, order_ref, product_id, quantity, expires_at)
			 VALUES (%s, 'tap-inv-x2', %s, -2, now() + interval '1 hour')$$, :supplier, :pa),
	'23514', NULL, 'reservation: a negative quantity is refused');
SELECT throws_ok(
	format($$INSERT INTO inventory.reservation (supplier_id, order_ref, product_id, quantity, expires_at)
			 VALUES (%s, '', %s, 1, now() + interval '1 hour')$$, :supplier, :pa),
	'23514', NULL, 'reservation: an empty order reference is refused');
SELECT throws_ok(
	format($$INSERT INTO inventory.reservation (supplier_id, order_ref, product_id, quantity, expires_at)
			 VALUES (%s, 'tap-inv-x3', %s, 1, now() - interval '1 hour')$$, :supplier, :pa),
	'23514', NULL, 'reservation: expiring before it was made is refused');
SELECT throws_ok(
	format($$INSERT INTO inventory.reservation (supplier_id, order_ref, product_id, quantity, expires_at)
			 VALUES (%s, 'tap-inv-x4', 999999999, 1, now() + interval '1 hour')$$, :supplier),
	'23503', NULL, 'reservation: an unknown product is refused');
SELECT throws_ok(
	format($$INSERT INTO inventory.stock_slot (supplier_id, product_id, slot)
			 VALUES (%s, 999999999, 0)$$, :supplier),
	'23503', NULL, 'stock_slot: an unknown product is refused');
SELECT throws_ok(
	format($$INSERT INTO inventory.ledger (supplier_id, product_id, slot, db_user, kind,
										   stock_level_before, stock_level_after,
										   reserved_before, reserved_after,
										   committed_before, committed_after)
			 VALUES (%s, 999999999, 0, current_user, 'direct', 0, 1, 0, 0, 0, 0)$$, :supplier),
	'23503', NULL, 'ledger: an unknown product is refused');
SELECT throws_ok(
	format($$INSERT INTO inventory.ledger (supplier_id, product_id, slot, db_user, kind,
										   stock_level_before, stock_level_after,
										   reserved_before, reserved_after,
										   committed_before, committed_after)
			 VALUES (%s, %s, 0, current_user, 'bogus', 0, 0, 0, 0, 0, 0)$$, :supplier, :pa),
	'23514', NULL, 'ledger: an unknown kind of change is refused');
SELECT throws_ok(
	$$INSERT INTO inventory.product (sku) VALUES ('')$$,
	'23514', NULL, 'product: an empty SKU is refused');
SELECT throws_ok(
	$$INSERT INTO inventory.product (sku, lead_time_days) VALUES ('TAP-INV-X', -1)$$,
	'23514', NULL, 'product: a negative lead time is refused');

-- A made-to-order product may hold reservations beyond its stock, but may
-- not lose the flag while it does.
SELECT lives_ok(
	format('UPDATE inventory.stock_slot SET reserved = 3 WHERE product_id = %s', :pm),
	'stock_slot: a made-to-order product may reserve beyond its stock');
SELECT throws_ok(
	format('UPDATE inventory.product SET made_to_order = false WHERE product_id = %s', :pm),
	'23514', NULL, 'product: clearing made_to_order while oversold is refused');
UPDATE inventory.stock_slot SET reserved = 0 WHERE product_id = :pm;

-- ---------- the ledger is append-only for ordinary roles ----------
SELECT count(*) AS a_ledger_rows
FROM inventory.ledger WHERE product_id = :pa \gset

CREATE ROLE inv_tap_clerk NOLOGIN;
GRANT USAGE ON SCHEMA inventory TO inv_tap_clerk;
GRANT SELECT, INSERT, UPDATE, DELETE, TRUNCATE ON inventory.ledger
	TO inv_tap_clerk;
SET ROLE inv_tap_clerk;
SELECT throws_ok(
	format($$UPDATE inventory.ledger SET reason = 'rewritten' WHERE product_id = %s$$, :pa),
	'42501', NULL, 'ledger: a non-superuser cannot UPDATE it, even with the privilege');
SELECT throws_ok(
	format('DELETE FROM inventory.ledger WHERE product_id = %s', :pa),
	'42501', NULL, 'ledger: a non-superuser cannot DELETE from it, even with the privilege');
SELECT throws_ok(
	$$TRUNCATE inventory.ledger$$,
	'42501', NULL, 'ledger: a non-superuser cannot TRUNCATE it, even with the privilege');
RESET ROLE;

SELECT results_eq(
	format($$SELECT count(*), count(*) FILTER (WHERE reason = 'rewritten')
			 FROM inventory.ledger WHERE product_id = %s$$, :pa),
	format('VALUES (%s::bigint, 0::bigint)', :a_ledger_rows),
	'ledger: the refused statements left it as it was');
SELECT lives_ok(
	format($$UPDATE inventory.ledger SET actor = actor WHERE product_id = %s$$, :pa),
	'ledger: a superuser may still rewrite it');

-- ---------- a direct change is recorded as such ----------
SELECT stock_level AS b_level FROM inventory.inv_adjust(:pb, 20, 'set') \gset
SET LOCAL inventory.actor = 'tap-auditor';
SET LOCAL inventory.reason = 'cycle count';
UPDATE inventory.stock_slot SET stock_level = stock_level + 7
WHERE product_id = :pb AND slot = 0;

SELECT results_eq(
	format($$SELECT kind, slot, stock_level_before, stock_level_after,
					reserved_before, reserved_after, committed_before,
					committed_after, actor, reason, db_user::text,
					order_ref, reservation_id
			 FROM inventory.ledger WHERE product_id = %s
			 ORDER BY ledger_id DESC LIMIT 1$$, :pb),
	$$VALUES ('direct'::text, 0::smallint, 20::bigint, 27::bigint, 0::bigint,
			  0::bigint, 0::bigint, 0::bigint, 'tap-auditor'::text,
			  'cycle count'::text, current_user::text, NULL::text,
			  NULL::bigint)$$,
	'a direct UPDATE writes a ledger row of kind direct, with before/after, actor and reason');

SELECT count(*) AS b_ledger_rows
FROM inventory.ledger WHERE product_id = :pb \gset
UPDATE inventory.stock_slot SET stock_level = stock_level
WHERE product_id = :pb AND slot = 0;
SELECT is(
	(SELECT count(*) FROM inventory.ledger WHERE product_id = :pb),
	:b_ledger_rows::bigint,
	'an UPDATE that changes no quantity writes no ledger row');

SELECT stock_level AS b_level FROM inventory.inv_adjust(:pb, -2, 'delta', 'breakage') \gset
SELECT results_eq(
	format($$SELECT kind, stock_level_before, stock_level_after, actor, reason
			 FROM inventory.ledger WHERE product_id = %s
			 ORDER BY ledger_id DESC LIMIT 1$$, :pb),
	$$VALUES ('adjust'::text, 27::bigint, 25::bigint, 'tap-auditor'::text,
			  'breakage'::text)$$,
	'inv_adjust() records kind adjust, its own reason, and the session actor');
RESET inventory.actor;
RESET inventory.reason;

-- ---------- the ledger reproduces the stock ----------
SELECT stock_level AS c_level FROM inventory.inv_adjust(:pc, 50) \gset
SELECT stock_level AS c_level FROM inventory.inv_adjust(:pc, -5) \gset
SELECT stock_level AS c_level FROM inventory.inv_adjust(:pc, 60, 'set', 'stock take') \gset
SELECT reservation_id AS r1 FROM inventory.inv_reserve('tap-inv-c1', :pc, 10) \gset
SELECT reservation_id AS r2 FROM inventory.inv_reserve('tap-inv-c2', :pc, 7) \gset
SELECT reservation_id AS r3 FROM inventory.inv_reserve('tap-inv-c3', :pc, 3) \gset
SELECT changed AS ok FROM inventory.inv_confirm(:r1) \gset
SELECT changed AS ok FROM inventory.inv_release(:r2, 'customer cancelled') \gset
SELECT changed AS ok FROM inventory.inv_dispatch(:r1) \gset
SELECT changed AS ok FROM inventory.inv_confirm(:r3) \gset
SELECT count(*) AS n FROM inventory.inv_reserve_order('tap-inv-c4',
	ARRAY[:pc, :pc]::bigint[], ARRAY[2, 3]::bigint[]) \gset
SELECT count(*) AS n FROM inventory.inv_confirm_order('tap-inv-c4') \gset
SELECT count(*) AS n FROM inventory.inv_dispatch_order('tap-inv-c4') \gset
SELECT count(*) AS c_ledger_rows
FROM inventory.ledger WHERE product_id = :pc \gset

SELECT throws_ok(
	format($$SELECT inventory.inv_reserve('tap-inv-c5', %s::bigint, 1000::bigint)$$, :pc),
	'IV002', NULL, 'reserving more than is available fails with IV002');
SELECT is(
	(SELECT count(*) FROM inventory.ledger WHERE product_id = :pc),
	:c_ledger_rows::bigint,
	'the refused reservation wrote no ledger row');

SELECT results_eq(
	format($$SELECT stock_level, reserved, committed, available
			 FROM inventory.stock WHERE product_id = %s$$, :pc),
	$$VALUES (42::bigint, 0::bigint, 3::bigint, 42::bigint)$$,
	'after the sequence the stock is 42, none reserved, 3 committed');
SELECT results_eq(
	format($$SELECT order_ref, state::text, quantity
			 FROM inventory.reservation WHERE product_id = %s
			 ORDER BY order_ref$$, :pc),
	$$VALUES ('tap-inv-c1'::text, 'dispatched'::text, 10::bigint),
			 ('tap-inv-c2', 'released', 7),
			 ('tap-inv-c3', 'confirmed', 3),
			 ('tap-inv-c4', 'dispatched', 5)$$,
	'the reservations ended in the expected states, the repeated order line summed');
SELECT results_eq(
	format($$SELECT sum(stock_level_after - stock_level_before)::bigint,
					sum(reserved_after - reserved_before)::bigint,
					sum(committed_after - committed_before)::bigint
			 FROM inventory.ledger WHERE product_id = %s AND slot = 0$$, :pc),
	format($$SELECT stock_level, reserved, committed
			 FROM inventory.stock_slot WHERE product_id = %s AND slot = 0$$, :pc),
	'summing the ledger gives back stock_level, reserved and committed');
SELECT is_empty(
	format($$SELECT ledger_id
			 FROM (SELECT ledger_id,
						  stock_level_before, reserved_before, committed_before,
						  lag(stock_level_after) OVER w AS prev_stock_level,
						  lag(reserved_after) OVER w AS prev_reserved,
						  lag(committed_after) OVER w AS prev_committed
				   FROM inventory.ledger
				   WHERE product_id = %s
				   WINDOW w AS (PARTITION BY slot ORDER BY ledger_id)) l
			 WHERE prev_stock_level IS NOT NULL
			   AND (stock_level_before, reserved_before, committed_before)
				   IS DISTINCT FROM (prev_stock_level, prev_reserved, prev_committed)$$, :pc),
	'each ledger row starts where the one before it ended');
SELECT results_eq(
	format($$SELECT kind FROM inventory.ledger WHERE product_id = %s
			 ORDER BY ledger_id$$, :pc),
	$$VALUES ('adjust'::text), ('adjust'), ('set'), ('reserve'), ('reserve'),
			 ('reserve'), ('confirm'), ('release'), ('dispatch'), ('confirm'),
			 ('reserve'), ('confirm'), ('dispatch')$$,
	'the ledger names each change by its kind, in order');
SELECT is_empty(
	format($$SELECT ledger_id FROM inventory.ledger
			 WHERE product_id = %s
			   AND kind IN ('reserve', 'confirm', 'release', 'dispatch')
			   AND (order_ref IS NULL OR reservation_id IS NULL)$$, :pc),
	'every reservation change in the ledger names its order and reservation');
SELECT results_eq(
	format($$SELECT reason, order_ref, reservation_id FROM inventory.ledger
			 WHERE product_id = %s AND kind IN ('release', 'set')
			 ORDER BY ledger_id$$, :pc),
	format($$VALUES ('stock take'::text, NULL::text, NULL::bigint),
					('customer cancelled', 'tap-inv-c2', %s)$$, :r2),
	'ledger rows carry the reason given to inv_adjust() and inv_release()');
SELECT is_empty(
	format($$SELECT s.product_id
			 FROM inventory.stock_slot s
			 LEFT JOIN (SELECT product_id, slot,
							   sum(stock_level_after - stock_level_before) AS stock_level,
							   sum(reserved_after - reserved_before) AS reserved,
							   sum(committed_after - committed_before) AS committed
						FROM inventory.ledger GROUP BY product_id, slot) l
				  USING (product_id, slot)
			 WHERE s.product_id IN (%s, %s, %s, %s)
			   AND (s.stock_level, s.reserved, s.committed)
				   IS DISTINCT FROM (coalesce(l.stock_level, 0),
									 coalesce(l.reserved, 0),
									 coalesce(l.committed, 0))$$,
		   :pa, :pb, :pc, :pm),
	'for every product of this test the ledger sums match its stock');
SELECT is_empty($$SELECT * FROM inventory.inv_verify()$$,
	'inv_verify() finds nothing wrong after the sequence');

-- ---------- a counter out of step, found and repaired ----------
UPDATE inventory.stock_slot SET reserved = reserved + 2
WHERE product_id = :pc AND slot = 0;

SELECT results_eq(
	$$SELECT check_name, product_id, slot, expected, actual
	  FROM inventory.inv_verify()$$,
	format($$VALUES ('reserved'::text, %s::bigint, 0::smallint, 0::bigint,
					 2::bigint)$$, :pc),
	'inv_verify() reports exactly the reserved counter that disagrees with the reservations');
SELECT results_eq(
	$$SELECT product_id, slot, quantity, before, after, repaired
	  FROM inventory.inv_repair('tap repair')$$,
	format($$VALUES (%s::bigint, 0::smallint, 'reserved'::text, 2::bigint,
					 0::bigint, true)$$, :pc),
	'inv_repair() puts reserved back from 2 to 0');
SELECT is_empty($$SELECT * FROM inventory.inv_verify()$$,
	'inv_verify() is empty again after inv_repair()');
SELECT results_eq(
	format($$SELECT stock_level, reserved, committed
			 FROM inventory.stock_slot WHERE product_id = %s AND slot = 0$$, :pc),
	$$VALUES (42::bigint, 0::bigint, 3::bigint)$$,
	'the repair touched only the counter that was wrong');
SELECT results_eq(
	format($$SELECT kind, reserved_before, reserved_after, reason
			 FROM inventory.ledger WHERE product_id = %s
			 ORDER BY ledger_id DESC LIMIT 2$$, :pc),
	$$VALUES ('repair'::text, 2::bigint, 0::bigint, 'tap repair'::text),
			 ('direct', 0, 2, NULL)$$,
	'the ledger holds the direct change and the repair that undid it');
SELECT is_empty($$SELECT * FROM inventory.inv_repair('nothing to do') WHERE repaired$$,
	'inv_repair() on a healthy database repairs nothing');

SELECT * FROM finish();
ROLLBACK;
