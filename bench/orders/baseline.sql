--
-- bench/orders/baseline.sql
--	The two references the order benchmark measures the extension against.
--	Neither is part of the extension; both live in schema bench.
--
--	floor		one conditional UPDATE of a stock row, nothing else: a copy of
--				inventory.stock_slot with its columns, defaults, CHECK
--				constraints, generated column and primary key, but without
--				its triggers and foreign key.
--	baseline	what a team would write by hand in PL/pgSQL: a stock table of
--				the same shape, a reservation row per order line and a ledger
--				row per change of stock, in plain functions.  It is the
--				"straightforward PL/pgSQL" column of the benchmark, named
--				baseline_* everywhere.
--
-- Loaded by bench/orders/run.sh into a database that has the extension
-- and its products, configured for supplier 1 (the functions name it).
--

CREATE SCHEMA IF NOT EXISTS bench;

-- The floor: the same rows as inventory.stock_slot, no triggers
CREATE TABLE bench.floor_slot (LIKE inventory.stock_slot
	INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING GENERATED
	INCLUDING INDEXES);

-- The baseline's stock, reservations and ledger
CREATE TABLE bench.baseline_stock (LIKE inventory.stock_slot
	INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING GENERATED
	INCLUDING INDEXES);

CREATE TABLE bench.baseline_reservation (
	reservation_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	order_ref	text NOT NULL,
	product_id	bigint NOT NULL,
	quantity	bigint NOT NULL CHECK (quantity > 0),
	state		text NOT NULL DEFAULT 'reserved',
	created_at	timestamptz NOT NULL DEFAULT now(),
	expires_at	timestamptz NOT NULL DEFAULT now() + interval '15 minutes',
	updated_at	timestamptz NOT NULL DEFAULT now(),
	UNIQUE (order_ref, product_id)
);

CREATE TABLE bench.baseline_ledger (
	ledger_id	bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	recorded_at	timestamptz NOT NULL DEFAULT now(),
	product_id	bigint NOT NULL,
	kind		text NOT NULL,
	stock_level_delta bigint NOT NULL,
	reserved_delta bigint NOT NULL,
	committed_delta bigint NOT NULL,
	order_ref	text,
	reservation_id bigint
);

-- Reserve: hold q units if available covers them; one reservation row and
-- one ledger row.  Returns the reservation id.
CREATE FUNCTION bench.baseline_reserve(p_order_ref text, p_product bigint,
									   p_quantity bigint)
RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
	v_id bigint;
BEGIN
	UPDATE bench.baseline_stock
	   SET reserved = reserved + p_quantity
	 WHERE supplier_id = 1 AND product_id = p_product AND slot = 0
	   AND stock_level - reserved >= p_quantity;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'insufficient stock for product %', p_product
			USING ERRCODE = 'IV002';
	END IF;

	INSERT INTO bench.baseline_reservation (order_ref, product_id, quantity)
	VALUES (p_order_ref, p_product, p_quantity)
	RETURNING reservation_id INTO v_id;

	INSERT INTO bench.baseline_ledger (product_id, kind, stock_level_delta,
									   reserved_delta, committed_delta,
									   order_ref, reservation_id)
	VALUES (p_product, 'reserve', 0, p_quantity, 0, p_order_ref, v_id);
	RETURN v_id;
END
$$;

-- Confirm: the reservation's units leave the stock level for committed;
-- one ledger row.  Returns whether anything changed.
CREATE FUNCTION bench.baseline_confirm(p_reservation_id bigint)
RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
	v_product bigint;
	v_quantity bigint;
	v_order_ref text;
BEGIN
	UPDATE bench.baseline_reservation
	   SET state = 'confirmed', updated_at = now()
	 WHERE reservation_id = p_reservation_id AND state = 'reserved'
	   AND expires_at > now()
	RETURNING product_id, quantity, order_ref
	  INTO v_product, v_quantity, v_order_ref;
	IF NOT FOUND THEN
		RETURN false;
	END IF;

	UPDATE bench.baseline_stock
	   SET stock_level = stock_level - v_quantity,
		   reserved = reserved - v_quantity,
		   committed = committed + v_quantity
	 WHERE supplier_id = 1 AND product_id = v_product AND slot = 0;

	INSERT INTO bench.baseline_ledger (product_id, kind, stock_level_delta,
									   reserved_delta, committed_delta,
									   order_ref, reservation_id)
	VALUES (v_product, 'confirm', -v_quantity, -v_quantity, v_quantity,
			v_order_ref, p_reservation_id);
	RETURN true;
END
$$;

-- The stock both references start from: a copy of the extension's slot 0 rows
INSERT INTO bench.floor_slot (supplier_id, product_id, slot, stock_level)
SELECT supplier_id, product_id, 0, stock_level
  FROM inventory.stock_slot WHERE slot = 0;
INSERT INTO bench.baseline_stock (supplier_id, product_id, slot, stock_level)
SELECT supplier_id, product_id, 0, stock_level
  FROM inventory.stock_slot WHERE slot = 0;
