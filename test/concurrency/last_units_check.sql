/*
 * test/concurrency/last_units_check.sql
 *		The state left by the last-units race, as one line of numbers.
 *
 * Columns, in order: stock_level, reserved, committed, available (from the
 * stock view), then the sums of reservation quantities in state reserved,
 * confirmed, and reserved+confirmed, the counts of reservations in all,
 * confirmed, released and still reserved, the number of reservations in a
 * state this test never produces, and the number of rows inv_verify()
 * reports.  run.sh checks the relations between them.
 */
SELECT s.stock_level,
	   s.reserved,
	   s.committed,
	   s.available,
	   r.open_qty,
	   r.confirmed_qty,
	   r.open_qty + r.confirmed_qty AS held_qty,
	   r.n_all,
	   r.n_confirmed,
	   r.n_released,
	   r.n_open,
	   r.n_other,
	   (SELECT count(*) FROM inventory.inv_verify()) AS verify_rows
FROM inventory.stock s,
	 LATERAL (SELECT coalesce(sum(quantity) FILTER (WHERE state = 'reserved'), 0) AS open_qty,
					 coalesce(sum(quantity) FILTER (WHERE state = 'confirmed'), 0) AS confirmed_qty,
					 count(*) AS n_all,
					 count(*) FILTER (WHERE state = 'confirmed') AS n_confirmed,
					 count(*) FILTER (WHERE state = 'released') AS n_released,
					 count(*) FILTER (WHERE state = 'reserved') AS n_open,
					 count(*) FILTER (WHERE state NOT IN ('reserved', 'confirmed', 'released')) AS n_other
			  FROM inventory.reservation
			  WHERE product_id = s.product_id) r
WHERE s.sku = 'RACE-1';
