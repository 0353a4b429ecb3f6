--
-- setup: installing and configuring the extension
--
CREATE EXTENSION inventory;

-- Everything lives in the extension's own schema, which belongs to it
SELECT pg_describe_object(classid, objid, 0) AS schema
FROM pg_depend
WHERE refobjid = (SELECT oid FROM pg_extension WHERE extname = 'inventory')
  AND classid = 'pg_namespace'::regclass;
SELECT n.nspname, count(*) > 0 AS has_objects
FROM pg_depend d
JOIN pg_class c ON c.oid = d.objid AND d.classid = 'pg_class'::regclass
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'inventory')
GROUP BY n.nspname;

-- Nothing works until the supplier is configured
SELECT inventory.inv_supplier_id();
\echo :LAST_ERROR_SQLSTATE
INSERT INTO inventory.product (sku) VALUES ('too-early');
\echo :LAST_ERROR_SQLSTATE

-- Invalid input: supplier ids are positive
SELECT inventory.inv_configure(0);
\echo :LAST_ERROR_SQLSTATE
SELECT inventory.inv_configure(NULL);
\echo :LAST_ERROR_SQLSTATE

SELECT inventory.inv_configure(7);
SELECT inventory.inv_configure(7);		-- the same id again is fine
SELECT inventory.inv_supplier_id();

-- A configuration rolled back to a savepoint is forgotten at once
BEGIN;
SAVEPOINT before_change;
SELECT inventory.inv_configure(9), inventory.inv_supplier_id();
ROLLBACK TO before_change;
SELECT inventory.inv_supplier_id();
ROLLBACK;

-- The catalogue used by the following tests
INSERT INTO inventory.product (sku, name, low_stock_threshold)
VALUES ('WIDGET-1', 'Widget', 5),
	   ('GADGET-2', 'Gadget', NULL),
	   ('00042', 'SKU with leading zeros', 2);
INSERT INTO inventory.product (sku, name, made_to_order, lead_time_days)
VALUES ('BESPOKE-9', 'Made to order chair', true, 10);

-- Every product has its stock row, empty, and every row carries the supplier
SELECT p.product_id, p.sku, p.supplier_id, s.slot, s.made_to_order,
	   s.stock_level, s.reserved, s.committed, s.available
FROM inventory.product p JOIN inventory.stock_slot s USING (supplier_id, product_id)
ORDER BY p.product_id;

-- Empty stock rows are not changes: the ledger is still empty
SELECT count(*) AS ledger_rows FROM inventory.ledger;

-- Once products exist the supplier cannot change, by function or by hand
SELECT inventory.inv_configure(8);
\echo :LAST_ERROR_SQLSTATE
UPDATE inventory.config SET supplier_id = 8;
\echo :LAST_ERROR_SQLSTATE
TRUNCATE inventory.config;
\echo :LAST_ERROR_SQLSTATE
SELECT supplier_id FROM inventory.config;

-- A tenant database holds its own supplier's products only
INSERT INTO inventory.product (supplier_id, sku) VALUES (99, 'FOREIGN-1');
\echo :LAST_ERROR_SQLSTATE
UPDATE inventory.product SET supplier_id = 99 WHERE sku = 'WIDGET-1';
\echo :LAST_ERROR_SQLSTATE

-- Invalid input: SKUs are unique per supplier and not empty
INSERT INTO inventory.product (sku) VALUES ('WIDGET-1');
\echo :LAST_ERROR_SQLSTATE
\set VERBOSITY terse
INSERT INTO inventory.product (sku) VALUES ('');
\echo :LAST_ERROR_SQLSTATE
\set VERBOSITY default

-- Settings are checked when set
SET inventory.reservation_timeout = 0;
\echo :LAST_ERROR_SQLSTATE
SET inventory.reservation_timeout = '15min';
SHOW inventory.reservation_timeout;
RESET inventory.reservation_timeout;
SET inventory.no_such_setting = 1;
\echo :LAST_ERROR_SQLSTATE
