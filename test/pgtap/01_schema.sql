-- ########## inventory pgTAP: schema ##########
-- The objects the extension installs: tables, columns, keys, constraints,
-- the stock view, types, functions with their argument and result types,
-- and the triggers that keep the ledger.
--
-- Run with: pg_prove -ovf test/pgtap/*.sql, in a database where
-- CREATE EXTENSION pgtap, CREATE EXTENSION inventory and
-- inventory.inv_configure(...) have been done.  Changes nothing.

\set ON_ERROR_ROLLBACK 1
\set ON_ERROR_STOP true

BEGIN;
SET search_path = inventory, public, pg_catalog;

SELECT plan(150);

-- ---------- schema, tables, view ----------
SELECT has_schema('inventory', 'schema inventory exists');
SELECT has_extension('inventory', 'extension inventory is installed');

SELECT tables_are('inventory',
	ARRAY['config', 'holiday', 'product', 'stock_slot', 'reservation', 'ledger',
		  'allocation', 'alert_preference', 'alert', 'alert_delivery',
		  'bulk_load', 'retailer_role'],
	'inventory has exactly its tables');
SELECT has_table('inventory', 'config', 'table inventory.config exists');
SELECT has_table('inventory', 'product', 'table inventory.product exists');
SELECT has_table('inventory', 'stock_slot', 'table inventory.stock_slot exists');
SELECT has_table('inventory', 'reservation', 'table inventory.reservation exists');
SELECT has_table('inventory', 'ledger', 'table inventory.ledger exists');
SELECT has_view('inventory', 'stock', 'view inventory.stock exists');

-- ---------- columns ----------
SELECT columns_are('inventory', 'config',
	ARRAY['singleton', 'supplier_id', 'configured_at', 'time_zone', 'order_cutoff'],
	'config has the expected columns');
SELECT columns_are('inventory', 'product',
	ARRAY['supplier_id', 'product_id', 'sku', 'name', 'made_to_order',
		  'lead_time_days', 'low_stock_threshold', 'created_at'],
	'product has the expected columns');
SELECT columns_are('inventory', 'stock_slot',
	ARRAY['supplier_id', 'product_id', 'slot', 'made_to_order',
		  'stock_level', 'reserved', 'committed', 'available', 'lock_fence',
		  'low_stock_threshold', 'ring_fenced'],
	'stock_slot has the expected columns');
SELECT columns_are('inventory', 'reservation',
	ARRAY['supplier_id', 'reservation_id', 'order_ref', 'product_id', 'slot',
		  'retailer_id', 'quantity', 'state', 'created_at', 'expires_at',
		  'updated_at', 'lock_token', 'lock_fence', 'ship_date',
		  'fenced_quantity'],
	'reservation has the expected columns');
SELECT columns_are('inventory', 'ledger',
	ARRAY['supplier_id', 'ledger_id', 'product_id', 'slot', 'recorded_at',
		  'db_user', 'actor', 'kind', 'stock_level_before',
		  'stock_level_after', 'reserved_before', 'reserved_after',
		  'committed_before', 'committed_after', 'reason', 'order_ref',
		  'reservation_id', 'batch_id'],
	'ledger has the expected columns');
SELECT columns_are('inventory', 'bulk_load',
	ARRAY['supplier_id', 'batch_id', 'loaded_at', 'db_user', 'source',
		  'rows_read', 'changed', 'unchanged'],
	'bulk_load has the expected columns');
SELECT columns_are('inventory', 'stock',
	ARRAY['supplier_id', 'product_id', 'sku', 'name', 'made_to_order',
		  'lead_time_days', 'low_stock_threshold', 'stock_level', 'reserved',
		  'available', 'committed'],
	'view stock has the expected columns');

SELECT has_column('inventory', 'stock_slot', 'available',
	'stock_slot.available exists');
SELECT has_column('inventory', 'reservation', 'expires_at',
	'reservation.expires_at exists');
SELECT has_column('inventory', 'ledger', 'kind', 'ledger.kind exists');
SELECT has_column('inventory', 'ledger', 'db_user', 'ledger.db_user exists');

SELECT col_type_is('inventory', 'config', 'supplier_id', 'bigint',
	'config.supplier_id is bigint');
SELECT col_type_is('inventory', 'product', 'product_id', 'bigint',
	'product.product_id is bigint');
SELECT col_type_is('inventory', 'product', 'sku', 'text',
	'product.sku is text');
SELECT col_type_is('inventory', 'stock_slot', 'slot', 'smallint',
	'stock_slot.slot is smallint');
SELECT col_type_is('inventory', 'stock_slot', 'stock_level', 'bigint',
	'stock_slot.stock_level is bigint');
SELECT col_type_is('inventory', 'stock_slot', 'reserved', 'bigint',
	'stock_slot.reserved is bigint');
SELECT col_type_is('inventory', 'stock_slot', 'committed', 'bigint',
	'stock_slot.committed is bigint');
SELECT col_type_is('inventory', 'stock_slot', 'available', 'bigint',
	'stock_slot.available is bigint');
SELECT col_type_is('inventory', 'reservation', 'quantity', 'bigint',
	'reservation.quantity is bigint');
SELECT col_type_is('inventory', 'reservation', 'state', 'reservation_state',
	'reservation.state is reservation_state');
SELECT col_type_is('inventory', 'reservation', 'expires_at',
	'timestamp with time zone', 'reservation.expires_at is timestamptz');
SELECT col_type_is('inventory', 'ledger', 'db_user', 'name',
	'ledger.db_user is name');
SELECT col_type_is('inventory', 'ledger', 'stock_level_before', 'bigint',
	'ledger.stock_level_before is bigint');

SELECT col_not_null('inventory', 'config', 'supplier_id',
	'config.supplier_id is NOT NULL');
SELECT col_not_null('inventory', 'product', 'supplier_id',
	'product.supplier_id is NOT NULL');
SELECT col_not_null('inventory', 'product', 'sku', 'product.sku is NOT NULL');
SELECT col_not_null('inventory', 'product', 'made_to_order',
	'product.made_to_order is NOT NULL');
SELECT col_not_null('inventory', 'stock_slot', 'stock_level',
	'stock_slot.stock_level is NOT NULL');
SELECT col_not_null('inventory', 'stock_slot', 'reserved',
	'stock_slot.reserved is NOT NULL');
SELECT col_not_null('inventory', 'stock_slot', 'committed',
	'stock_slot.committed is NOT NULL');
SELECT col_not_null('inventory', 'reservation', 'order_ref',
	'reservation.order_ref is NOT NULL');
SELECT col_not_null('inventory', 'reservation', 'product_id',
	'reservation.product_id is NOT NULL');
SELECT col_not_null('inventory', 'reservation', 'quantity',
	'reservation.quantity is NOT NULL');
SELECT col_not_null('inventory', 'reservation', 'state',
	'reservation.state is NOT NULL');
SELECT col_not_null('inventory', 'reservation', 'expires_at',
	'reservation.expires_at is NOT NULL');
SELECT col_not_null('inventory', 'ledger', 'kind', 'ledger.kind is NOT NULL');
SELECT col_not_null('inventory', 'ledger', 'db_user',
	'ledger.db_user is NOT NULL');
SELECT col_not_null('inventory', 'ledger', 'stock_level_before',
	'ledger.stock_level_before is NOT NULL');
SELECT col_not_null('inventory', 'ledger', 'committed_after',
	'ledger.committed_after is NOT NULL');
SELECT col_is_null('inventory', 'ledger', 'actor',
	'ledger.actor may be NULL');
SELECT col_is_null('inventory', 'reservation', 'retailer_id',
	'reservation.retailer_id may be NULL');

SELECT is((SELECT a.attgenerated::text FROM pg_catalog.pg_attribute a
		   WHERE a.attrelid = 'inventory.stock_slot'::regclass
			 AND a.attname = 'available'),
	's', 'stock_slot.available is a stored generated column');
SELECT col_default_is('inventory', 'reservation', 'state', 'reserved',
	'a reservation starts in state reserved');

-- ---------- keys ----------
SELECT col_is_pk('inventory', 'config', ARRAY['singleton'],
	'config is keyed by singleton');
SELECT col_is_pk('inventory', 'product', ARRAY['supplier_id', 'product_id'],
	'product is keyed by (supplier_id, product_id)');
SELECT col_is_pk('inventory', 'stock_slot',
	ARRAY['supplier_id', 'product_id', 'slot'],
	'stock_slot is keyed by (supplier_id, product_id, slot)');
SELECT col_is_pk('inventory', 'reservation',
	ARRAY['supplier_id', 'reservation_id'],
	'reservation is keyed by (supplier_id, reservation_id)');
SELECT col_is_pk('inventory', 'ledger', ARRAY['supplier_id', 'ledger_id'],
	'ledger is keyed by (supplier_id, ledger_id)');

SELECT col_is_unique('inventory', 'product', ARRAY['supplier_id', 'sku'],
	'a SKU names one product per supplier');
SELECT col_is_unique('inventory', 'reservation',
	ARRAY['supplier_id', 'order_ref', 'product_id'],
	'an order names a product at most once');

SELECT fk_ok('inventory', 'stock_slot',
	ARRAY['supplier_id', 'product_id', 'made_to_order'],
	'inventory', 'product',
	ARRAY['supplier_id', 'product_id', 'made_to_order'],
	'stock_slot references product, made-to-order flag included');
SELECT fk_ok('inventory', 'reservation', ARRAY['supplier_id', 'product_id'],
	'inventory', 'product', ARRAY['supplier_id', 'product_id'],
	'reservation references product');
SELECT fk_ok('inventory', 'ledger', ARRAY['supplier_id', 'product_id'],
	'inventory', 'product', ARRAY['supplier_id', 'product_id'],
	'ledger references product');

-- ---------- check constraints ----------
SELECT has_check('inventory', 'config', 'config has a check constraint');
SELECT has_check('inventory', 'product', 'product has check constraints');
SELECT has_check('inventory', 'stock_slot',
	'stock_slot has check constraints');
SELECT has_check('inventory', 'reservation',
	'reservation has check constraints');
SELECT has_check('inventory', 'ledger', 'ledger has a check constraint');

SELECT col_has_check('inventory', 'config', 'supplier_id',
	'config.supplier_id is checked');
SELECT col_has_check('inventory', 'product', 'sku', 'product.sku is checked');
SELECT col_has_check('inventory', 'product', 'lead_time_days',
	'product.lead_time_days is checked');
SELECT col_has_check('inventory', 'stock_slot', 'stock_level',
	'stock_slot.stock_level is checked');
SELECT col_has_check('inventory', 'stock_slot', 'reserved',
	'stock_slot.reserved is checked');
SELECT col_has_check('inventory', 'stock_slot', 'committed',
	'stock_slot.committed is checked');
SELECT col_has_check('inventory', 'stock_slot',
	ARRAY['made_to_order', 'reserved', 'stock_level'],
	'stock_slot has a check tying reserved to stock_level and made_to_order');
SELECT ok(EXISTS (SELECT FROM pg_catalog.pg_constraint
				  WHERE conrelid = 'inventory.stock_slot'::regclass
					AND conname = 'stock_slot_within_stock_level'
					AND contype = 'c'),
	'stock_slot has the check constraint stock_slot_within_stock_level');
SELECT col_has_check('inventory', 'reservation', 'quantity',
	'reservation.quantity is checked');
SELECT col_has_check('inventory', 'reservation', 'order_ref',
	'reservation.order_ref is checked');
SELECT col_has_check('inventory', 'ledger', 'kind', 'ledger.kind is checked');

-- ---------- types ----------
SELECT has_enum('inventory', 'reservation_state',
	'enum reservation_state exists');
SELECT enum_has_labels('inventory', 'reservation_state',
	ARRAY['reserved', 'confirmed', 'released', 'expired', 'dispatched'],
	'reservation_state has its five states, in order');
SELECT has_composite('inventory', 'transition',
	'composite type transition exists');

-- ---------- functions and their signatures ----------
SELECT has_function('inventory', 'inv_supplier_id', ARRAY[]::name[],
	'inv_supplier_id() exists');
SELECT has_function('inventory', 'inv_configure', ARRAY['bigint'],
	'inv_configure(bigint) exists');
SELECT has_function('inventory', 'inv_adjust',
	ARRAY['bigint', 'bigint', 'text', 'text', 'bigint'],
	'inv_adjust(bigint, bigint, text, text, bigint) exists');
SELECT has_function('inventory', 'inv_adjust',
	ARRAY['text', 'bigint', 'text', 'text', 'bigint'],
	'inv_adjust(text, bigint, text, text, bigint) exists');
SELECT has_function('inventory', 'inv_reserve',
	ARRAY['text', 'bigint', 'bigint', 'text'],
	'inv_reserve(text, bigint, bigint, text) exists');
SELECT has_function('inventory', 'inv_reserve',
	ARRAY['text', 'text', 'bigint', 'text'],
	'inv_reserve(text, text, bigint, text) exists');
SELECT has_function('inventory', 'inv_reserve_order',
	ARRAY['text', 'bigint[]', 'bigint[]', 'text'],
	'inv_reserve_order(text, bigint[], bigint[], text) exists');
SELECT has_function('inventory', 'inv_reserve_order',
	ARRAY['text', 'text[]', 'bigint[]', 'text'],
	'inv_reserve_order(text, text[], bigint[], text) exists');
SELECT has_function('inventory', 'inv_confirm', ARRAY['bigint'],
	'inv_confirm(bigint) exists');
SELECT has_function('inventory', 'inv_release', ARRAY['bigint', 'text'],
	'inv_release(bigint, text) exists');
SELECT has_function('inventory', 'inv_dispatch', ARRAY['bigint'],
	'inv_dispatch(bigint) exists');
SELECT has_function('inventory', 'inv_confirm_order', ARRAY['text'],
	'inv_confirm_order(text) exists');
SELECT has_function('inventory', 'inv_release_order', ARRAY['text', 'text'],
	'inv_release_order(text, text) exists');
SELECT has_function('inventory', 'inv_cancel', ARRAY['bigint', 'text'],
	'inv_cancel(bigint, text) exists');
SELECT has_function('inventory', 'inv_cancel_order', ARRAY['text', 'text'],
	'inv_cancel_order(text, text) exists');
SELECT has_function('inventory', 'inv_product_guard', ARRAY[]::name[],
	'trigger function inv_product_guard() exists');
SELECT has_function('inventory', 'inv_dispatch_order', ARRAY['text'],
	'inv_dispatch_order(text) exists');
SELECT has_function('inventory', 'inv_expire', ARRAY[]::name[],
	'inv_expire() exists');
SELECT has_function('inventory', 'inv_verify', ARRAY[]::name[],
	'inv_verify() exists');
SELECT has_function('inventory', 'inv_repair', ARRAY['text'],
	'inv_repair(text) exists');
SELECT has_function('inventory', 'inv_product_created', ARRAY[]::name[],
	'trigger function inv_product_created() exists');
SELECT has_function('inventory', 'inv_config_guard', ARRAY[]::name[],
	'trigger function inv_config_guard() exists');
SELECT has_function('inventory', 'inv_ledger_record', ARRAY[]::name[],
	'trigger function inv_ledger_record() exists');
SELECT has_function('inventory', 'inv_ledger_append_only', ARRAY[]::name[],
	'trigger function inv_ledger_append_only() exists');

SELECT has_function('inventory', 'inv_csv_template', ARRAY[]::name[],
	'inv_csv_template() exists');
SELECT has_function('inventory', 'inv_bulk_load',
	ARRAY['text', 'text', 'boolean', 'text'],
	'inv_bulk_load(text, text, boolean, text) exists');
SELECT has_function('inventory', 'inv_bulk_load_file',
	ARRAY['text', 'text', 'boolean', 'text'],
	'inv_bulk_load_file(text, text, boolean, text) exists');
SELECT has_function('inventory', 'inv_bulk_load_lo',
	ARRAY['oid', 'text', 'boolean', 'text'],
	'inv_bulk_load_lo(oid, text, boolean, text) exists');
SELECT function_returns('inventory', 'inv_csv_template', ARRAY[]::name[],
	'text', 'inv_csv_template() returns text');
SELECT function_returns('inventory', 'inv_bulk_load',
	ARRAY['text', 'text', 'boolean', 'text'], 'bulk_result',
	'inv_bulk_load(...) returns a bulk_result');
SELECT function_returns('inventory', 'inv_bulk_load_file',
	ARRAY['text', 'text', 'boolean', 'text'], 'bulk_result',
	'inv_bulk_load_file(...) returns a bulk_result');
SELECT function_returns('inventory', 'inv_bulk_load_lo',
	ARRAY['oid', 'text', 'boolean', 'text'], 'bulk_result',
	'inv_bulk_load_lo(...) returns a bulk_result');

SELECT function_returns('inventory', 'inv_supplier_id', ARRAY[]::name[],
	'bigint', 'inv_supplier_id() returns bigint');
SELECT function_returns('inventory', 'inv_configure', ARRAY['bigint'],
	'bigint', 'inv_configure(bigint) returns bigint');
SELECT function_returns('inventory', 'inv_adjust',
	ARRAY['bigint', 'bigint', 'text', 'text', 'bigint'], 'record',
	'inv_adjust(bigint, ...) returns a record');
SELECT function_returns('inventory', 'inv_adjust',
	ARRAY['text', 'bigint', 'text', 'text', 'bigint'], 'record',
	'inv_adjust(text, ...) returns a record');
SELECT function_returns('inventory', 'inv_reserve',
	ARRAY['text', 'bigint', 'bigint', 'text'], 'reservation',
	'inv_reserve(text, bigint, ...) returns a reservation');
SELECT function_returns('inventory', 'inv_reserve',
	ARRAY['text', 'text', 'bigint', 'text'], 'reservation',
	'inv_reserve(text, text, ...) returns a reservation');
SELECT function_returns('inventory', 'inv_reserve_order',
	ARRAY['text', 'bigint[]', 'bigint[]', 'text'], 'setof reservation',
	'inv_reserve_order(text, bigint[], ...) returns setof reservation');
SELECT function_returns('inventory', 'inv_reserve_order',
	ARRAY['text', 'text[]', 'bigint[]', 'text'], 'setof reservation',
	'inv_reserve_order(text, text[], ...) returns setof reservation');
SELECT function_returns('inventory', 'inv_confirm', ARRAY['bigint'],
	'transition', 'inv_confirm(bigint) returns a transition');
SELECT function_returns('inventory', 'inv_release', ARRAY['bigint', 'text'],
	'transition', 'inv_release(bigint, text) returns a transition');
SELECT function_returns('inventory', 'inv_dispatch', ARRAY['bigint'],
	'transition', 'inv_dispatch(bigint) returns a transition');
SELECT function_returns('inventory', 'inv_confirm_order', ARRAY['text'],
	'setof transition', 'inv_confirm_order(text) returns setof transition');
SELECT function_returns('inventory', 'inv_release_order',
	ARRAY['text', 'text'], 'setof transition',
	'inv_release_order(text, text) returns setof transition');
SELECT function_returns('inventory', 'inv_dispatch_order', ARRAY['text'],
	'setof transition', 'inv_dispatch_order(text) returns setof transition');
SELECT function_returns('inventory', 'inv_expire', ARRAY[]::name[],
	'bigint', 'inv_expire() returns bigint');
SELECT function_returns('inventory', 'inv_verify', ARRAY[]::name[],
	'setof record', 'inv_verify() returns setof record');
SELECT function_returns('inventory', 'inv_repair', ARRAY['text'],
	'setof record', 'inv_repair(text) returns setof record');
SELECT function_returns('inventory', 'inv_ledger_record', ARRAY[]::name[],
	'trigger', 'inv_ledger_record() returns trigger');

SELECT is(
	(SELECT string_agg(a.n || ' ' || pg_catalog.format_type(a.t, NULL), ', '
					   ORDER BY a.o) COLLATE "default"
	 FROM pg_catalog.pg_proc p,
		  unnest(p.proargnames, p.proallargtypes, p.proargmodes)
			WITH ORDINALITY AS a(n, t, m, o)
	 WHERE p.oid = 'inventory.inv_verify()'::regprocedure AND a.m = 'o'),
	'check_name text, product_id bigint, slot smallint, expected bigint, actual bigint, detail text',
	'inv_verify() returns (check_name, product_id, slot, expected, actual, detail)');
SELECT is(
	(SELECT string_agg(a.n || ' ' || pg_catalog.format_type(a.t, NULL), ', '
					   ORDER BY a.o) COLLATE "default"
	 FROM pg_catalog.pg_proc p,
		  unnest(p.proargnames, p.proallargtypes, p.proargmodes)
			WITH ORDINALITY AS a(n, t, m, o)
	 WHERE p.oid = 'inventory.inv_adjust(bigint, bigint, text, text, bigint)'::regprocedure
	   AND a.m = 'o'),
	'product_id bigint, stock_level_before bigint, stock_level bigint, reserved bigint, available bigint, committed bigint',
	'inv_adjust() returns (product_id, stock_level_before, stock_level, reserved, available, committed)');
SELECT is(
	(SELECT string_agg(a.n || ' ' || pg_catalog.format_type(a.t, NULL), ', '
					   ORDER BY a.o) COLLATE "default"
	 FROM pg_catalog.pg_proc p,
		  unnest(p.proargnames, p.proallargtypes, p.proargmodes)
			WITH ORDINALITY AS a(n, t, m, o)
	 WHERE p.oid = 'inventory.inv_repair(text)'::regprocedure AND a.m = 'o'),
	'product_id bigint, slot smallint, quantity text, before bigint, after bigint, repaired boolean',
	'inv_repair() returns (product_id, slot, quantity, before, after, repaired)');

SELECT volatility_is('inventory', 'inv_verify', ARRAY[]::name[], 'stable',
	'inv_verify() is STABLE');
SELECT volatility_is('inventory', 'inv_reserve',
	ARRAY['text', 'bigint', 'bigint', 'text'], 'volatile',
	'inv_reserve() is VOLATILE');
SELECT is_definer('inventory', 'inv_reserve',
	ARRAY['text', 'bigint', 'bigint', 'text'],
	'inv_reserve() is SECURITY DEFINER (the service holds no write privilege)');

-- ---------- triggers ----------
SELECT has_trigger('inventory', 'product', 'product_guard',
	'product has trigger product_guard');
SELECT trigger_is('inventory', 'product', 'product_guard',
	'inventory', 'inv_product_guard',
	'product_guard runs inv_product_guard()');
SELECT has_trigger('inventory', 'product', 'product_created',
	'product has trigger product_created');
SELECT trigger_is('inventory', 'product', 'product_created',
	'inventory', 'inv_product_created',
	'product_created runs inv_product_created()');
SELECT has_trigger('inventory', 'config', 'config_guard',
	'config has trigger config_guard');
SELECT has_trigger('inventory', 'stock_slot', 'stock_slot_ledger',
	'stock_slot has trigger stock_slot_ledger');
SELECT trigger_is('inventory', 'stock_slot', 'stock_slot_ledger',
	'inventory', 'inv_ledger_record',
	'stock_slot_ledger runs inv_ledger_record()');
SELECT has_trigger('inventory', 'ledger', 'ledger_append_only',
	'ledger has trigger ledger_append_only');
SELECT trigger_is('inventory', 'ledger', 'ledger_append_only',
	'inventory', 'inv_ledger_append_only',
	'ledger_append_only runs inv_ledger_append_only()');
SELECT has_trigger('inventory', 'ledger', 'ledger_no_truncate',
	'ledger has trigger ledger_no_truncate');
SELECT results_eq(
	$$SELECT t.tgname::text COLLATE "default",
			 (t.tgtype & 2) <> 0 AS before,
			 (t.tgtype & 1) <> 0 AS for_row,
			 (t.tgtype & 4) <> 0 AS on_insert,
			 (t.tgtype & 8) <> 0 AS on_delete,
			 (t.tgtype & 16) <> 0 AS on_update,
			 (t.tgtype & 32) <> 0 AS on_truncate
	  FROM pg_catalog.pg_trigger t
	  WHERE t.tgrelid IN ('inventory.stock_slot'::regclass,
						  'inventory.ledger'::regclass)
		AND NOT t.tgisinternal
	  ORDER BY 1$$,
	$$VALUES ('ledger_append_only', true, true, false, true, true, false),
			 ('ledger_no_truncate', true, false, false, false, false, true),
			 ('stock_slot_ledger', false, true, true, true, true, false),
			 ('stock_slot_low_stock', false, true, false, false, true, false),
			 ('stock_slot_no_truncate', true, false, false, false, false, true)$$,
	'ledger triggers fire: after each stock_slot row change; before ledger update, delete and truncate; stock_slot cannot be truncated');

-- ---------- extension bookkeeping ----------
SELECT results_eq(
	$$SELECT c.relname::text COLLATE "default"
	  FROM pg_catalog.pg_extension e,
		   LATERAL unnest(e.extconfig) AS x(oid)
	  JOIN pg_catalog.pg_class c ON c.oid = x.oid
	  WHERE e.extname = 'inventory'
	  ORDER BY 1$$,
	$$VALUES ('alert'), ('alert_alert_id_seq'), ('alert_delivery'),
			 ('alert_delivery_delivery_id_seq'), ('alert_preference'),
			 ('alert_preference_preference_id_seq'), ('allocation'),
			 ('bulk_load'), ('bulk_load_batch_id_seq'), ('config'), ('holiday'), ('ledger'), ('ledger_ledger_id_seq'), ('product'),
			 ('product_product_id_seq'), ('reservation'),
			 ('reservation_reservation_id_seq'), ('retailer_role'),
			 ('stock_slot')$$,
	'pg_dump keeps the data of every table and identity sequence');

SELECT * FROM finish();
ROLLBACK;
