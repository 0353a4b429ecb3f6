/*
 * demo/demo.sql
 *		The web shop side of the demo: a product picker and the two steps of
 *		a checkout, written against the extension's public functions.
 *
 * These helpers belong to the demo, not to the extension: they live in
 * schema "demo" of the demo database and are loaded by demo/run.sh after
 * CREATE EXTENSION inventory.
 */

\set ON_ERROR_STOP 1

CREATE SCHEMA demo;

/* Order numbers for the shop: WEB-000001, WEB-000002, ... */
CREATE SEQUENCE demo.order_no;

/*
 * The shelf numbers products 1..N, so that pgbench can pick one with a
 * random integer whatever product ids the catalogue load produced.
 */
CREATE TABLE demo.shelf (
	position	integer PRIMARY KEY,
	product_id	bigint NOT NULL
);

/* Checkouts turned away because the product was short (SQLSTATE IV002). */
CREATE TABLE demo.rejection (
	order_ref	text PRIMARY KEY,
	product_id	bigint NOT NULL,
	quantity	bigint NOT NULL,
	rejected_at timestamptz NOT NULL DEFAULT now()
);

/*
 * demo.fill_shelf(): number the catalogue in a scrambled but repeatable
 * order (by the md5 of the SKU), so that the low positions pgbench favours
 * are spread over the whole range rather than one product family.
 */
CREATE FUNCTION demo.fill_shelf()
RETURNS integer
LANGUAGE sql
AS $$
	INSERT INTO demo.shelf (position, product_id)
	SELECT row_number() OVER (ORDER BY md5(sku), product_id), product_id
	FROM inventory.product;
	SELECT count(*)::integer FROM demo.shelf;
$$;

/*
 * demo.checkout(position, quantity): first step of a web order.  Reserves
 * quantity units of the product on that shelf position under a new order
 * number and returns the reservation id, or 0 when the stock is short, in
 * which case the attempt is recorded in demo.rejection.  Any other error
 * propagates: the demo must not hide a fault of the extension.
 */
CREATE FUNCTION demo.checkout(p_position integer, p_quantity bigint)
RETURNS bigint
LANGUAGE plpgsql
SET inventory.actor = 'web shop'
AS $$
DECLARE
	v_order_ref text := 'WEB-' || lpad(nextval('demo.order_no')::text, 6, '0');
	v_product_id bigint;
	v_reservation_id bigint;
BEGIN
	SELECT s.product_id INTO STRICT v_product_id
	FROM demo.shelf s
	WHERE s.position = p_position;

	BEGIN
		SELECT r.reservation_id INTO v_reservation_id
		FROM inventory.inv_reserve(v_order_ref, v_product_id, p_quantity,
								   'demo-retailer') r;
	EXCEPTION
		WHEN SQLSTATE 'IV002' THEN
			INSERT INTO demo.rejection (order_ref, product_id, quantity)
			VALUES (v_order_ref, v_product_id, p_quantity);
			RETURN 0;
	END;
	RETURN v_reservation_id;
END
$$;

/*
 * demo.settle(reservation_id, paid): second step, once the payment provider
 * answered.  Paid orders are confirmed; declined ones give their units
 * back.  Returns what happened; 0 (a rejected checkout) does nothing.
 */
CREATE FUNCTION demo.settle(p_reservation_id bigint, p_paid boolean)
RETURNS text
LANGUAGE plpgsql
SET inventory.actor = 'web shop'
AS $$
BEGIN
	IF p_reservation_id = 0 THEN
		RETURN 'rejected';
	ELSIF p_paid THEN
		PERFORM inventory.inv_confirm(p_reservation_id);
		RETURN 'confirmed';
	ELSE
		PERFORM inventory.inv_release(p_reservation_id, 'payment declined');
		RETURN 'released';
	END IF;
END
$$;
