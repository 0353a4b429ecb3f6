-- A tenant with something in every table the extension keeps.
SELECT inventory.inv_configure(42);
UPDATE inventory.config SET time_zone = 'Europe/Paris', order_cutoff = '15:30';
INSERT INTO inventory.holiday (day, description) VALUES ('2026-12-25', 'Christmas');
INSERT INTO inventory.product (sku, name, low_stock_threshold)
VALUES ('MUG', 'Mug', 5), ('CUP', 'Cup', NULL), ('00042', 'Leading zeros', 2);
INSERT INTO inventory.product (sku, name, made_to_order, lead_time_days)
VALUES ('CHAIR', 'Chair', true, 10);
SELECT inventory.inv_adjust('MUG', 20, 'set', 'stock take');
SELECT inventory.inv_adjust('CUP', 7, 'set', 'stock take');
SELECT inventory.inv_adjust('00042', 3, 'set', 'stock take');
INSERT INTO inventory.alert_preference (channel, target) VALUES ('email', 'ops@example.com');
SELECT inventory.inv_set_allocation('MUG', 'vip', 4, 1);
SELECT inventory.inv_reserve_order('O-1', ARRAY['MUG', 'CUP'], ARRAY[6, 1], 'vip');
SELECT inventory.inv_confirm_order('O-1');
SELECT inventory.inv_reserve_order('O-2', ARRAY['MUG', '00042'], ARRAY[12, 2]);
SELECT inventory.inv_release_order('O-2', 'payment declined');
SELECT inventory.inv_reserve('O-3', 'MUG', 10);
SELECT inventory.inv_reserve('O-4', 'CHAIR', 2);
SELECT inventory.inv_dispatch_order('O-1');
