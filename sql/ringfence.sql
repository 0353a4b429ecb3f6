--
-- ringfence: stock held for chosen retailers, and what each retailer sees
--
INSERT INTO inventory.product (sku, name, low_stock_threshold)
VALUES ('FENCED-1', 'Ring-fenced jacket', 5);
SELECT product_id AS fp FROM inventory.product WHERE sku = 'FENCED-1' \gset
SELECT stock_level FROM inventory.inv_adjust(:fp, 20, 'set', 'delivery');

-- Hold 6 for acme and 4 for bolt: the shared pool is what is left
SELECT * FROM inventory.inv_set_allocation('FENCED-1', 'acme', 6, priority => 1);
SELECT * FROM inventory.inv_set_allocation('FENCED-1', 'bolt', 4, priority => 2);
SELECT stock_level, reserved, available, ring_fenced
FROM inventory.stock_slot WHERE product_id = :fp;
SELECT retailer, s.orderable, s.status
FROM unnest(ARRAY['acme', 'bolt', 'corner-shop']) AS retailer,
	 LATERAL inventory.inv_storefront(retailer) s
WHERE s.sku = 'FENCED-1' ORDER BY retailer;

-- Another retailer can take the shared pool, and not one unit more
SELECT state FROM inventory.inv_reserve('RF-1', :fp, 10, 'corner-shop');
SELECT * FROM inventory.inv_reserve('RF-2', :fp, 1, 'corner-shop');
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM inventory.inv_reserve('RF-3', :fp, 1);
\echo :LAST_ERROR_SQLSTATE

-- A ring-fenced retailer draws on its fence first, then on the shared pool
SELECT state FROM inventory.inv_release_order('RF-1');
SELECT fenced_quantity FROM inventory.inv_reserve('RF-4', :fp, 8, 'acme');
SELECT retailer_id, quantity, drawn FROM inventory.allocation
WHERE product_id = :fp ORDER BY retailer_id;
SELECT available, ring_fenced FROM inventory.stock_slot WHERE product_id = :fp;
SELECT retailer, s.orderable
FROM unnest(ARRAY['acme', 'bolt', 'corner-shop']) AS retailer,
	 LATERAL inventory.inv_storefront(retailer) s
WHERE s.sku = 'FENCED-1' ORDER BY retailer;

-- Confirmed units stay drawn until dispatch; then the fence is whole again
SELECT state FROM inventory.inv_confirm_order('RF-4');
SELECT drawn FROM inventory.allocation WHERE product_id = :fp AND retailer_id = 'acme';
SELECT state FROM inventory.inv_dispatch_order('RF-4');
SELECT drawn FROM inventory.allocation WHERE product_id = :fp AND retailer_id = 'acme';
SELECT stock_level, available, ring_fenced FROM inventory.stock_slot WHERE product_id = :fp;

-- A released order gives its ring-fenced units back at once
SELECT fenced_quantity FROM inventory.inv_reserve('RF-5', :fp, 3, 'bolt');
SELECT state FROM inventory.inv_release_order('RF-5');
SELECT drawn FROM inventory.allocation WHERE product_id = :fp AND retailer_id = 'bolt';

-- Stock below the sum of the fences: acme (priority 1) keeps its guarantee,
-- bolt keeps what is left, the shared pool shows nothing
SELECT stock_level FROM inventory.inv_adjust(:fp, 8, 'set', 'recount');
SELECT retailer, s.orderable, s.status
FROM unnest(ARRAY['acme', 'bolt', 'corner-shop']) AS retailer,
	 LATERAL inventory.inv_storefront(retailer) s
WHERE s.sku = 'FENCED-1' ORDER BY retailer;
SELECT * FROM inventory.inv_reserve('RF-6', :fp, 1, 'corner-shop');
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM inventory.inv_reserve('RF-7', :fp, 3, 'bolt');
\echo :LAST_ERROR_SQLSTATE
SELECT fenced_quantity FROM inventory.inv_reserve('RF-8', :fp, 2, 'bolt');
SELECT fenced_quantity FROM inventory.inv_reserve('RF-9', :fp, 6, 'acme');
SELECT stock_level, reserved, available, ring_fenced
FROM inventory.stock_slot WHERE product_id = :fp;

-- Shrinking an allocation below what is drawn holds nothing more; removing
-- it waits until nothing is drawn on it
SELECT * FROM inventory.inv_set_allocation('FENCED-1', 'acme', 2);
SELECT * FROM inventory.inv_set_allocation('FENCED-1', 'bolt', 0);
SELECT retailer_id, quantity, drawn FROM inventory.allocation
WHERE product_id = :fp ORDER BY retailer_id;
SELECT count(*) FROM inventory.reservation r,
	LATERAL inventory.inv_release(r.reservation_id)
WHERE r.order_ref IN ('RF-8', 'RF-9');
SELECT * FROM inventory.inv_set_allocation('FENCED-1', 'bolt', 0);
SELECT retailer_id, quantity, drawn FROM inventory.allocation
WHERE product_id = :fp ORDER BY retailer_id;

-- Invalid input
SELECT * FROM inventory.inv_set_allocation('FENCED-1', 'acme', -1);
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM inventory.inv_set_allocation('FENCED-1', '', 1);
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM inventory.inv_set_allocation('NO-SUCH', 'acme', 1);
\echo :LAST_ERROR_SQLSTATE

-- The storefront's other statuses
SELECT sku, status, orderable, lead_time_days, ship_date IS NOT NULL AS has_ship_date
FROM inventory.inv_storefront('corner-shop')
WHERE sku IN ('BESPOKE-9', 'FENCED-1', '00042', 'WIDGET-1') ORDER BY sku;

-- A direct change to the fences is seen by inv_verify
UPDATE inventory.allocation SET drawn = drawn + 1 WHERE retailer_id = 'acme';
SELECT check_name, product_id, expected, actual FROM inventory.inv_verify();
UPDATE inventory.allocation SET drawn = drawn - 1 WHERE retailer_id = 'acme';
SELECT * FROM inventory.inv_verify();
