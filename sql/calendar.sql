--
-- calendar: working days, holidays, the order cut-off, and made-to-order
-- ship dates
--
-- Weekdays count; Saturdays and Sundays do not.  Mon 2026-11-30 ... Sun 12-06.
SET timezone = 'UTC';
SELECT inventory.inv_ship_date(2, '2026-11-30 09:00+00') AS mon_plus_2,
	   inventory.inv_ship_date(3, '2026-12-03 09:00+00') AS thu_plus_3,
	   inventory.inv_ship_date(1, '2026-12-05 09:00+00') AS sat_plus_1,
	   inventory.inv_ship_date(0, '2026-12-06 09:00+00') AS sun_plus_0,
	   inventory.inv_ship_date(0, '2026-12-02 09:00+00') AS wed_plus_0,
	   inventory.inv_ship_date(10, '2026-11-30 09:00+00') AS mon_plus_10;

-- The cut-off (14:00 by default): from then on an order counts from the
-- next working day; a Friday afternoon order counts from Monday
SELECT inventory.inv_ship_date(0, '2026-12-02 13:59:59+00') AS before_cutoff,
	   inventory.inv_ship_date(0, '2026-12-02 14:00+00') AS at_cutoff,
	   inventory.inv_ship_date(1, '2026-12-04 15:00+00') AS fri_late_plus_1;
UPDATE inventory.config SET order_cutoff = '18:30';
SELECT inventory.inv_ship_date(0, '2026-12-02 18:00+00') AS before_new_cutoff;

-- Counted in the supplier's time zone: 23:00 UTC on Tuesday is already
-- Wednesday morning in Tokyo, and Tuesday afternoon, after the cut-off, in
-- Los Angeles
UPDATE inventory.config SET time_zone = 'Asia/Tokyo', order_cutoff = '14:00';
SELECT inventory.inv_ship_date(0, '2026-12-01 23:00+00') AS tokyo;
UPDATE inventory.config SET time_zone = 'America/Los_Angeles';
SELECT inventory.inv_ship_date(0, '2026-12-01 23:00+00') AS los_angeles;
UPDATE inventory.config SET time_zone = 'Mars/Olympus_Mons';
\echo :LAST_ERROR_SQLSTATE
UPDATE inventory.config SET time_zone = 'UTC';

-- Holidays are skipped, and so is a year end full of them
INSERT INTO inventory.holiday (day, description) VALUES
	('2026-12-24', 'Christmas Eve'), ('2026-12-25', 'Christmas Day'),
	('2026-12-31', 'New Year''s Eve'), ('2027-01-01', 'New Year''s Day');
SELECT inventory.inv_ship_date(1, '2026-12-23 09:00+00') AS dec23_plus_1,
	   inventory.inv_ship_date(0, '2026-12-24 09:00+00') AS on_a_holiday,
	   inventory.inv_ship_date(3, '2026-12-28 09:00+00') AS across_new_year,
	   inventory.inv_ship_date(1, '2026-12-30 16:00+00') AS late_dec30_plus_1;

-- Invalid input
SELECT inventory.inv_ship_date(-1);
\echo :LAST_ERROR_SQLSTATE
SELECT inventory.inv_ship_date(3651);
\echo :LAST_ERROR_SQLSTATE
SELECT inventory.inv_ship_date(1, 'infinity');
\echo :LAST_ERROR_SQLSTATE
SELECT inventory.inv_ship_date(NULL) IS NULL AS null_in_null_out;

-- A made-to-order reservation records its ship date (BESPOKE-9 takes 10 days)
SELECT lead_time_days FROM inventory.product WHERE sku = 'BESPOKE-9';
SELECT product_id, quantity,
	   ship_date = inventory.inv_ship_date(10, created_at) AS promised,
	   ship_date > created_at::date + 13 AS two_weeks_out
FROM inventory.inv_reserve('MTO-1', 'BESPOKE-9', 4);
SELECT ship_date IS NULL AS stocked_has_none
FROM inventory.inv_reserve('MTO-2', 'WIDGET-1', 1);

-- Confirming it commits units for production; the stock level is untouched
SELECT stock_level, reserved, committed FROM inventory.stock_slot WHERE product_id = 4;
SELECT state FROM inventory.inv_confirm_order('MTO-1');
SELECT stock_level, reserved, committed FROM inventory.stock_slot WHERE product_id = 4;
SELECT state FROM inventory.inv_release_order('MTO-2');
SELECT state FROM inventory.inv_dispatch_order('MTO-1');
SELECT * FROM inventory.inv_verify();
