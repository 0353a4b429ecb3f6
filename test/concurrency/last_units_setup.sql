/*
 * test/concurrency/last_units_setup.sql
 *		Setup for the last-units race: one product holding 1,000 units and a
 *		test-only helper that reserves under a fresh order reference.
 *
 * Run by run.sh with psql in a database where the extension is created and
 * configured.  The helper lives in the public schema of the test database;
 * it is not part of the extension.
 */

INSERT INTO inventory.product (sku, name)
VALUES ('RACE-1', 'last units race');

SELECT stock_level AS race_stock
FROM inventory.inv_adjust('RACE-1', 1000, 'set', 'race stock') \gset

/* Order references never repeat: each attempt gets the next number. */
CREATE SEQUENCE public.conc_order_seq;

/*
 * conc_race_reserve(product_id, quantity)
 *		Reserve under a new order reference; return the reservation id, or
 *		0 when the stock is short (SQLSTATE IV002).  Any other error goes
 *		back to pgbench, which then counts the transaction as failed or
 *		aborts the client.
 */
CREATE FUNCTION public.conc_race_reserve(p_product bigint, p_quantity bigint)
RETURNS bigint
LANGUAGE plpgsql
AS $$
DECLARE
	r	inventory.reservation;
BEGIN
	r := inventory.inv_reserve('race-' || nextval('public.conc_order_seq'),
							   p_product, p_quantity);
	RETURN r.reservation_id;
EXCEPTION
	WHEN SQLSTATE 'IV002' THEN
		RETURN 0;
END
$$;

SELECT product_id FROM inventory.product WHERE sku = 'RACE-1';
