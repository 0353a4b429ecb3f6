-- ########################################################################
-- 04_lock_service.sql
--
-- The cross-node lock service as seen from a server that did not preload
-- the library: its functions exist, say clearly why they cannot work, and
-- an order that asks for a lock is refused rather than left unprotected.
-- Its settings are checked when set.  The service itself, with Redis, is
-- tested by test/locks/run.sh.
-- ########################################################################

\set ON_ERROR_ROLLBACK 1
\set ON_ERROR_STOP true

BEGIN;
SET search_path = public, inventory;

SELECT plan(14);

-- ---------- functions ----------
SELECT has_function('inventory', 'inv_locks', ARRAY[]::name[],
	'inv_locks() exists');
SELECT has_function('inventory', 'inv_lock_stats', ARRAY[]::name[],
	'inv_lock_stats() exists');
SELECT has_function('inventory', 'inv_lock_probe', ARRAY['integer'],
	'inv_lock_probe(integer) exists');

-- ---------- not preloaded ----------
SELECT throws_ok('SELECT * FROM inventory.inv_lock_stats()', '55000',
	'the inventory lock service is not running',
	'inv_lock_stats() refuses without the preloaded library');
SELECT throws_ok('SELECT * FROM inventory.inv_locks()', '55000',
	'the inventory lock service is not running',
	'inv_locks() refuses without the preloaded library');
SELECT throws_ok('SELECT * FROM inventory.inv_lock_probe(1)', '55000',
	'the inventory lock service is not running',
	'inv_lock_probe() refuses without the preloaded library');

INSERT INTO inventory.product (sku) VALUES ('LOCKED-1');
SELECT lives_ok($$SELECT inventory.inv_adjust('LOCKED-1', 5, 'set')$$,
	'stock for the lock tests');
SET LOCAL inventory.lock_scope = 'reserve';
SELECT throws_ok($$SELECT inventory.inv_reserve('L-1', 'LOCKED-1', 1)$$,
	'IV012', NULL,
	'with a lock scope and no lock service, an order is refused (IV012)');
SELECT is((SELECT reserved FROM inventory.stock WHERE sku = 'LOCKED-1'), 0::bigint,
	'the refused order holds nothing');
SET LOCAL inventory.lock_failure_policy = 'fallback';
SELECT lives_ok($$SELECT inventory.inv_reserve('L-2', 'LOCKED-1', 1)$$,
	'under the fallback policy the order goes on with row locks');
SELECT is((SELECT lock_fence FROM inventory.reservation WHERE order_ref = 'L-2'),
	NULL::bigint, 'an order taken without a lock records no fencing number');

-- ---------- settings are checked when set ----------
SELECT throws_ok($$SET inventory.lock_scope = 'bogus'$$, '22023', NULL,
	'an unknown lock scope is refused');
SELECT throws_ok($$SET inventory.lock_wait_timeout = -1$$, '22023', NULL,
	'a negative lock wait is refused');
SELECT throws_ok($$SET inventory.lock_failure_policy = 'maybe'$$, '22023', NULL,
	'an unknown failure policy is refused');

SELECT * FROM finish();
ROLLBACK;
