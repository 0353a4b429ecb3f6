-- The contested product: 300 units, of which 60 are ring-fenced for the
-- retailer "vip" and 30 for "gold"; every other retailer shares the rest.
SELECT inventory.inv_configure(1);
INSERT INTO inventory.product (sku) VALUES ('CONTESTED');
SELECT stock_level FROM inventory.inv_adjust('CONTESTED', 300, 'set');
SELECT backed FROM inventory.inv_set_allocation('CONTESTED', 'vip', 60, 1);
SELECT backed FROM inventory.inv_set_allocation('CONTESTED', 'gold', 30, 2);

CREATE SCHEMA ringfence_test;
CREATE SEQUENCE ringfence_test.order_seq;

-- Clients 0 and 1 of every 8 order for vip, 2 for gold, the rest for
-- retailers without an allocation.
CREATE FUNCTION ringfence_test.try_order(client integer, quantity integer)
RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
	retailer text := CASE WHEN client < 2 THEN 'vip'
						  WHEN client = 2 THEN 'gold'
						  ELSE 'shop-' || client END;
	ref text := 'RACE-' || nextval('ringfence_test.order_seq');
BEGIN
	PERFORM inventory.inv_reserve_order(ref, ARRAY['CONTESTED'],
										ARRAY[quantity::bigint], retailer);
	PERFORM inventory.inv_confirm_order(ref);
	RETURN true;
EXCEPTION WHEN SQLSTATE 'IV002' THEN
	RETURN false;
END
$$;
