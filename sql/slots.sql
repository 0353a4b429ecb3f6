--
-- slots: a hot product's stock spread over several slot rows
--
-- Which slot an order takes depends on the backend's process id, so what is
-- shown here is the product's, summed over its slots, and what must hold
-- for every slot.
--
INSERT INTO inventory.product (sku, name, low_stock_threshold)
VALUES ('HOT-1', 'Hot mug', 5);
SELECT product_id AS hp FROM inventory.product WHERE sku = 'HOT-1' \gset
SELECT stock_level FROM inventory.inv_adjust(:hp, 20, 'set', 'delivery');

-- Bad input changes nothing
SELECT inventory.inv_set_slots(:hp, 0);
\echo :LAST_ERROR_SQLSTATE
SELECT inventory.inv_set_slots(:hp, 65);
\echo :LAST_ERROR_SQLSTATE
SELECT inventory.inv_set_slots(:hp, NULL);
\echo :LAST_ERROR_SQLSTATE
SELECT inventory.inv_set_slots('NO-SUCH-SKU', 4);
\echo :LAST_ERROR_SQLSTATE
SELECT inventory.inv_set_slots(999999, 4);
\echo :LAST_ERROR_SQLSTATE
SELECT count(*) AS slots FROM inventory.stock_slot WHERE product_id = :hp;

-- Four slots share the stock evenly; the threshold is kept encoded on them
SELECT inventory.inv_set_slots('HOT-1', 4);
SELECT slot, stock_level, reserved, available, low_stock_threshold
FROM inventory.stock_slot WHERE product_id = :hp ORDER BY slot;
SELECT stock_level, reserved, available, low_stock_threshold
FROM inventory.stock WHERE product_id = :hp;

-- Orders of 4 each find a slot with the units
SELECT state, quantity FROM inventory.inv_reserve('HOT-A', :hp, 4);
SELECT state, quantity FROM inventory.inv_reserve('HOT-B', :hp, 4);
SELECT state, quantity FROM inventory.inv_reserve('HOT-C', :hp, 4);
SELECT stock_level, reserved, available FROM inventory.stock WHERE product_id = :hp;
SELECT count(*) AS alerts FROM inventory.alert WHERE product_id = :hp;
-- 8 -> 4 crosses the threshold of 5: one alert, with the product's available
SELECT state, quantity FROM inventory.inv_reserve('HOT-D', :hp, 4);
SELECT available, threshold FROM inventory.alert WHERE product_id = :hp;

-- The last 4 units are spread over the slots, one in each: an order of 3
-- gathers them, an order of 2 is refused with the product's numbers
SELECT count(*) FILTER (WHERE available > 0) AS slots_with_units,
	   max(available) AS most_in_one_slot
FROM inventory.stock_slot WHERE product_id = :hp;
SELECT state, quantity FROM inventory.inv_reserve('HOT-E', :hp, 3);
SELECT * FROM inventory.inv_reserve('HOT-F', :hp, 2);
\echo :LAST_ERROR_SQLSTATE
SELECT stock_level, reserved, available FROM inventory.stock WHERE product_id = :hp;
SELECT count(*) AS alerts FROM inventory.alert WHERE product_id = :hp;

-- Every slot keeps its invariant; the rebalancing moves sum to zero
SELECT bool_and(reserved <= stock_level) AS every_slot_covered,
	   sum(reserved) AS reserved
FROM inventory.stock_slot WHERE product_id = :hp;
SELECT count(*) > 0 AS moved, sum(stock_level_after - stock_level_before) AS net
FROM inventory.ledger WHERE product_id = :hp AND kind = 'rebalance';
SELECT count(*) AS discrepancies FROM inventory.inv_verify();

-- Reservations name the slot they took; confirm and release act on it
SELECT bool_and(r.quantity <= s.reserved) AS slot_holds_its_orders
FROM inventory.reservation r
JOIN inventory.stock_slot s USING (supplier_id, product_id, slot)
WHERE r.product_id = :hp AND r.state = 'reserved';
SELECT state FROM inventory.inv_confirm_order('HOT-A');
SELECT state FROM inventory.inv_confirm_order('HOT-B');
SELECT state FROM inventory.inv_release_order('HOT-C');
SELECT stock_level, reserved, available, committed
FROM inventory.stock WHERE product_id = :hp;
SELECT count(*) AS discrepancies FROM inventory.inv_verify();

-- Adjustments check and report the product's levels, and land on slot 0
SELECT * FROM inventory.inv_adjust(:hp, 30, 'set', expected_level => 99);
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM inventory.inv_adjust(:hp, 5, 'set');
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM inventory.inv_adjust(:hp, 30, 'set', 'recount', expected_level => 12);
SELECT slot, available FROM inventory.stock_slot WHERE product_id = :hp ORDER BY slot;
SELECT stock_level, reserved, available, committed
FROM inventory.stock WHERE product_id = :hp;
SELECT count(*) AS discrepancies FROM inventory.inv_verify();

-- Gathering brings every free unit home; it is what a bulk loader calls
SELECT state, quantity FROM inventory.inv_reserve('HOT-G', :hp, 2);
SELECT inventory.inv_gather_slots(:hp) AS slot0_available,
	   (SELECT available FROM inventory.stock WHERE product_id = :hp) AS product_available;
SELECT slot, available FROM inventory.stock_slot WHERE product_id = :hp ORDER BY slot;
SELECT inventory.inv_gather_slots('NO-SUCH-SKU');
\echo :LAST_ERROR_SQLSTATE

-- The alert fires on the product's sum, once per crossing: moves between
-- slots raise nothing, a fall of the product through 5 raises one
SELECT inventory.inv_set_slots(:hp, 4);
SELECT count(*) AS alerts FROM inventory.alert WHERE product_id = :hp;
SELECT available FROM inventory.inv_adjust(:hp, -17, reason => 'breakage');
SELECT available FROM inventory.inv_adjust(:hp, -1, reason => 'breakage');
SELECT available, threshold FROM inventory.alert WHERE product_id = :hp
ORDER BY alert_id;

-- A threshold change reaches every slot, encoded
UPDATE inventory.product SET low_stock_threshold = 3 WHERE product_id = :hp;
SELECT DISTINCT low_stock_threshold FROM inventory.stock_slot WHERE product_id = :hp;

-- The storefront and a multi-line order see the product as one
SELECT orderable, status FROM inventory.inv_storefront('anyone') WHERE sku = 'HOT-1';
SELECT product_id = :hp AS hot, quantity
FROM inventory.inv_reserve_order('HOT-H', ARRAY['HOT-1', 'HOT-1'], ARRAY[1, 2]);
SELECT stock_level, reserved, available FROM inventory.stock WHERE product_id = :hp;

-- Ring-fenced stock keeps one slot, both ways round
SELECT * FROM inventory.inv_set_allocation(:hp, 'acme', 2);
\echo :LAST_ERROR_SQLSTATE
SELECT inventory.inv_set_slots('FENCED-1', 2);
\echo :LAST_ERROR_SQLSTATE

-- Back to one slot: slots holding open orders stay until those end
SELECT inventory.inv_set_slots(:hp, 1) > 1 AS some_slots_stay;
SELECT state FROM inventory.inv_release_order('HOT-D');
SELECT state FROM inventory.inv_release_order('HOT-E');
SELECT state FROM inventory.inv_release_order('HOT-G');
SELECT state FROM inventory.inv_release_order('HOT-H');
SELECT state FROM inventory.inv_dispatch_order('HOT-A');
SELECT state FROM inventory.inv_dispatch_order('HOT-B');
SELECT inventory.inv_set_slots(:hp, 1);
SELECT slot, stock_level, reserved, committed, low_stock_threshold
FROM inventory.stock_slot WHERE product_id = :hp;
SELECT count(*) AS discrepancies FROM inventory.inv_verify();

-- Made-to-order products can be spread too: they never run short
INSERT INTO inventory.product (sku, name, made_to_order, lead_time_days)
VALUES ('HOT-MTO', 'Hot chair', true, 5);
SELECT inventory.inv_set_slots('HOT-MTO', 3);
SELECT state, ship_date IS NOT NULL AS ships
FROM inventory.inv_reserve('HOT-M1', 'HOT-MTO', 50);
SELECT state FROM inventory.inv_confirm_order('HOT-M1');
SELECT stock_level, reserved, available, committed
FROM inventory.stock WHERE sku = 'HOT-MTO';
SELECT count(*) AS discrepancies FROM inventory.inv_verify();
