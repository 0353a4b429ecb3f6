-- A tenant at version 1.0, filled through the 1.0 API only: something in
-- every table, orders in every state, a ring-fence, a low-stock alert.
SELECT inventory.inv_configure(77);
UPDATE inventory.config SET time_zone = 'America/New_York', order_cutoff = '13:00';
INSERT INTO inventory.holiday (day, description) VALUES ('2026-11-26', 'Thanksgiving');
INSERT INTO inventory.product (sku, name, low_stock_threshold)
VALUES ('LAMP', 'Lamp', 8), ('DESK', 'Desk', NULL), ('0007', 'Leading zeros', 1);
INSERT INTO inventory.product (sku, name, made_to_order, lead_time_days)
VALUES ('SOFA', 'Sofa', true, 12);
INSERT INTO inventory.alert_preference (channel, target) VALUES ('slack', '#stock');
SELECT inventory.inv_adjust('LAMP', 30, 'set', 'stock take');
SELECT inventory.inv_adjust('DESK', 9, 'set', 'stock take');
SELECT inventory.inv_adjust('0007', 4, 'set', 'stock take');
SELECT inventory.inv_set_allocation('LAMP', 'big-shop', 5, 1);
SELECT inventory.inv_reserve_order('U-1', ARRAY['LAMP', 'DESK'], ARRAY[7, 2], 'big-shop');
SELECT inventory.inv_confirm_order('U-1');
SELECT inventory.inv_reserve_order('U-2', ARRAY['LAMP', '0007'], ARRAY[16, 1]);
SELECT inventory.inv_release_order('U-2', 'payment declined');
SELECT inventory.inv_reserve('U-3', 'LAMP', 18);
SELECT inventory.inv_reserve('U-4', 'SOFA', 3);
SELECT inventory.inv_reserve('U-5', 'DESK', 1);
SELECT inventory.inv_cancel_order('U-5', 'changed their mind');
SELECT inventory.inv_dispatch_order('U-1');
