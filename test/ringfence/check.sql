-- What each kind of retailer ended up with, and whether the fences held.
WITH sold AS (
	SELECT CASE WHEN retailer_id IN ('vip', 'gold') THEN retailer_id
				ELSE 'others' END AS who,
		   sum(quantity) AS units, sum(fenced_quantity) AS fenced
	FROM inventory.reservation WHERE state = 'confirmed'
	GROUP BY 1)
SELECT
	(SELECT COALESCE(units, 0) FROM sold WHERE who = 'others') AS others_units,
	(SELECT COALESCE(fenced, 0) FROM sold WHERE who = 'others') AS others_fenced,
	(SELECT COALESCE(units, 0) FROM sold WHERE who = 'vip') AS vip_units,
	(SELECT COALESCE(units, 0) FROM sold WHERE who = 'gold') AS gold_units,
	(SELECT stock_level FROM inventory.stock WHERE sku = 'CONTESTED') AS stock_left,
	(SELECT count(*) FROM inventory.inv_verify()) AS discrepancies;
