-- One line per table: its name, row count and a digest of its rows in key
-- order.  Two databases holding the same data print the same lines.
SELECT 'config', count(*), md5(string_agg(c::text, '|' ORDER BY c::text)) FROM inventory.config c
UNION ALL SELECT 'holiday', count(*), md5(string_agg(h::text, '|' ORDER BY h.day)) FROM inventory.holiday h
UNION ALL SELECT 'product', count(*), md5(string_agg(p::text, '|' ORDER BY p.product_id)) FROM inventory.product p
UNION ALL SELECT 'stock_slot', count(*), md5(string_agg(s::text, '|' ORDER BY s.product_id, s.slot)) FROM inventory.stock_slot s
UNION ALL SELECT 'reservation', count(*), md5(string_agg(r::text, '|' ORDER BY r.reservation_id)) FROM inventory.reservation r
UNION ALL SELECT 'ledger', count(*), md5(string_agg(l::text, '|' ORDER BY l.ledger_id)) FROM inventory.ledger l
UNION ALL SELECT 'allocation', count(*), md5(string_agg(a::text, '|' ORDER BY a.product_id, a.retailer_id)) FROM inventory.allocation a
UNION ALL SELECT 'alert', count(*), md5(string_agg(a::text, '|' ORDER BY a.alert_id)) FROM inventory.alert a
UNION ALL SELECT 'alert_delivery', count(*), md5(string_agg(d::text, '|' ORDER BY d.delivery_id)) FROM inventory.alert_delivery d
UNION ALL SELECT 'alert_preference', count(*), md5(string_agg(p::text, '|' ORDER BY p.preference_id)) FROM inventory.alert_preference p
UNION ALL SELECT 'retailer_role', count(*), md5(string_agg(m::text, '|' ORDER BY m.role_name)) FROM inventory.retailer_role m;
