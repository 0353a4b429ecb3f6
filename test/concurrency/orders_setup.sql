/*
 * test/concurrency/orders_setup.sql
 *		Setup for the multi-line order run: 200 products, of which every
 *		tenth is short, and test-only helpers that place random orders and
 *		restock, logging what they did so the check can account for it.
 *
 * Run by run.sh with psql in a database where the extension is created and
 * configured.  Everything but the products lives in the public schema of the
 * test database; none of it is part of the extension.
 */

/* Products M-001 .. M-200; every tenth one starts with only 5 units. */
CREATE TABLE public.conc_product (
	idx			integer PRIMARY KEY,
	product_id	bigint NOT NULL UNIQUE,
	initial		bigint NOT NULL
);

INSERT INTO inventory.product (sku, name)
SELECT pg_catalog.format('M-%s', pg_catalog.lpad(i::text, 3, '0')),
	   pg_catalog.format('multi-line product %s', i)
FROM generate_series(1, 200) AS i;

INSERT INTO public.conc_product (idx, product_id, initial)
SELECT substr(sku, 3)::integer,
	   product_id,
	   CASE WHEN substr(sku, 3)::integer % 10 = 0 THEN 5 ELSE 100000 END
FROM inventory.product
WHERE sku LIKE 'M-%';

SELECT count(*) AS stocked
FROM public.conc_product c,
	 LATERAL inventory.inv_adjust(c.product_id, c.initial, 'set',
								  'concurrency stock') \gset

/* Every order placed, as the helper asked for it. */
CREATE SEQUENCE public.conc_order_seq;

CREATE TABLE public.conc_order (
	ord			bigint PRIMARY KEY,
	product_ids	bigint[] NOT NULL,
	quantities	bigint[] NOT NULL
);

/* Every restock made while the orders ran. */
CREATE TABLE public.conc_restock (
	product_id	bigint NOT NULL,
	quantity	bigint NOT NULL
);

/*
 * conc_place_order()
 *		Reserve an order of 3 to 6 lines over random products, in random
 *		order, sometimes naming a product twice; return the order number
 *		(its reference is 'multi-<number>'), or 0 when a product is short
 *		(SQLSTATE IV002).  Any other error goes back to pgbench.
 */
CREATE FUNCTION public.conc_place_order()
RETURNS bigint
LANGUAGE plpgsql
AS $$
DECLARE
	ord			bigint := nextval('public.conc_order_seq');
	nlines		integer := 3 + floor(random() * 4)::integer;
	ids			bigint[] := '{}';
	qtys		bigint[] := '{}';
	pick		integer;
	pid			bigint;
BEGIN
	FOR i IN 1..nlines LOOP
		IF i > 1 AND random() < 0.15 THEN
			pid := ids[1 + floor(random() * (i - 1))::integer];
		ELSE
			pick := 1 + floor(random() * 200)::integer;
			SELECT c.product_id INTO STRICT pid
			FROM public.conc_product c
			WHERE c.idx = pick;
		END IF;
		ids := ids || pid;
		qtys := qtys || (1 + floor(random() * 3))::bigint;
	END LOOP;

	PERFORM inventory.inv_reserve_order('multi-' || ord, ids, qtys);
	INSERT INTO public.conc_order VALUES (ord, ids, qtys);
	RETURN ord;
EXCEPTION
	WHEN SQLSTATE 'IV002' THEN
		RETURN 0;
END
$$;

/*
 * conc_restock()
 *		Add 1 to 3 units to a random short product, as a delivery would,
 *		and log it in the same transaction.
 */
CREATE FUNCTION public.conc_restock()
RETURNS bigint
LANGUAGE plpgsql
AS $$
DECLARE
	pick		integer := 10 * (1 + floor(random() * 20)::integer);
	qty			bigint := 1 + floor(random() * 3)::bigint;
	pid			bigint;
BEGIN
	SELECT c.product_id INTO STRICT pid
	FROM public.conc_product c
	WHERE c.idx = pick;
	PERFORM inventory.inv_adjust(pid, qty, 'delta', 'concurrency restock');
	INSERT INTO public.conc_restock VALUES (pid, qty);
	RETURN qty;
END
$$;
