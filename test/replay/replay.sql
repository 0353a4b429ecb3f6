/* test/replay/replay.sql */

/*
 * The replay driver: a staging table for the raw order lines, the catalogue
 * derived from them, and the procedure that feeds the invoices to the
 * extension one transaction each.  It lives in schema "replay" of a test
 * database, never in the extension.  The rules are in README.md beside this
 * file; expected.py computes the same replay without PostgreSQL.
 */

\set ON_ERROR_STOP on

CREATE SCHEMA replay;

/*
 * The CSV as it is, one row per line; line_no keeps the file order (COPY
 * appends rows in file order, so the identity numbers them in that order).
 */
CREATE TABLE replay.line (
	line_no		bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	invoice_no	text NOT NULL,
	stock_code	text NOT NULL,
	description	text,
	quantity	bigint NOT NULL,
	invoice_date timestamp,
	unit_price	numeric,
	customer_id	text,
	country		text
);

/* Goods lines only, with their SKU. */
CREATE VIEW replay.goods_line AS
SELECT line_no, invoice_no, upper(stock_code) AS sku, quantity
FROM replay.line
WHERE stock_code ~ '^[0-9]{5}[A-Za-z]*$';

/* Every invoice, numbered from 0 in order of first appearance. */
CREATE TABLE replay.invoice (
	invoice_no	text PRIMARY KEY,
	first_line	bigint NOT NULL UNIQUE,
	seq			integer NOT NULL UNIQUE
);

/* The opening stock of every product, as set before the replay. */
CREATE TABLE replay.opening (
	sku			text PRIMARY KEY,
	product_id	bigint NOT NULL UNIQUE,
	opening		bigint NOT NULL
);

/* What became of each invoice, and which worker replayed it. */
CREATE TABLE replay.outcome (
	invoice_no	text PRIMARY KEY REFERENCES replay.invoice,
	outcome		text NOT NULL
		CHECK (outcome IN ('accepted', 'rejected', 'returns', 'no goods')),
	worker		integer,
	done_at		timestamptz NOT NULL DEFAULT clock_timestamp()
);

/*
 * Derive the invoices and the catalogue from the loaded lines: one product
 * per goods SKU, opening stock floor(0.6 * its positive quantity over the
 * whole file), set through the extension.
 */
CREATE PROCEDURE replay.prepare()
LANGUAGE plpgsql
AS $$
DECLARE
	o			record;
BEGIN
	CREATE INDEX line_invoice_idx ON replay.line (invoice_no, line_no);

	INSERT INTO replay.invoice (invoice_no, first_line, seq)
	SELECT invoice_no, first_line,
		   (row_number() OVER (ORDER BY first_line) - 1)::integer
	FROM (SELECT invoice_no, min(line_no) AS first_line
		  FROM replay.line
		  GROUP BY invoice_no) i;

	INSERT INTO inventory.product (sku, name)
	SELECT sku,
		   coalesce((array_agg(description ORDER BY line_no)
					 FILTER (WHERE description <> ''))[1], '')
	FROM replay.goods_line g
	JOIN replay.line USING (line_no)
	GROUP BY sku
	ORDER BY sku COLLATE "C";

	INSERT INTO replay.opening (sku, product_id, opening)
	SELECT p.sku, p.product_id,
		   floor(0.6 * coalesce(sum(g.quantity) FILTER (WHERE g.quantity > 0),
								0))::bigint
	FROM inventory.product p
	JOIN replay.goods_line g USING (sku)
	GROUP BY p.sku, p.product_id;

	FOR o IN SELECT sku, opening FROM replay.opening ORDER BY product_id
	LOOP
		PERFORM inventory.inv_adjust(o.sku::text, o.opening::bigint,
									 'set', 'opening stock');
	END LOOP;
END
$$;

/*
 * Replay one invoice in the caller's transaction and return its outcome.
 *
 * Returns go back into stock first, line by line (in file order, or in
 * product_id order when returns_by_product is set, so that concurrent
 * sessions take row locks in one global order); they stay applied whatever
 * happens to the order.  The positive lines then form one order, reserved
 * all or nothing and confirmed at once; a short order (IV002) is rolled back
 * to the savepoint and the invoice counts as rejected.  Any other error
 * propagates.
 */
CREATE FUNCTION replay.replay_invoice(invoice text,
									  returns_by_product boolean DEFAULT false,
									  worker integer DEFAULT NULL)
RETURNS text
LANGUAGE plpgsql
AS $$
DECLARE
	r			record;
	had_returns	boolean := false;
	skus		text[];
	quantities	bigint[];
	result		text;
BEGIN
	FOR r IN
		SELECT g.sku, -g.quantity AS quantity
		FROM replay.goods_line g
		JOIN replay.opening o USING (sku)
		WHERE g.invoice_no = replay_invoice.invoice AND g.quantity < 0
		ORDER BY CASE WHEN returns_by_product THEN o.product_id END,
				 g.line_no
	LOOP
		PERFORM inventory.inv_adjust(r.sku::text, r.quantity::bigint,
									 'delta', 'return ' || invoice);
		had_returns := true;
	END LOOP;

	SELECT array_agg(g.sku ORDER BY g.line_no),
		   array_agg(g.quantity ORDER BY g.line_no)
	INTO skus, quantities
	FROM replay.goods_line g
	WHERE g.invoice_no = replay_invoice.invoice AND g.quantity > 0;

	IF skus IS NULL THEN
		result := CASE WHEN had_returns THEN 'returns' ELSE 'no goods' END;
	ELSE
		BEGIN
			PERFORM inventory.inv_reserve_order(invoice, skus, quantities);
			PERFORM inventory.inv_confirm_order(invoice);
			result := 'accepted';
		EXCEPTION
			WHEN SQLSTATE 'IV002' THEN
				result := 'rejected';
		END;
	END IF;

	INSERT INTO replay.outcome (invoice_no, outcome, worker)
	VALUES (invoice, result, replay_invoice.worker);
	RETURN result;
END
$$;

/*
 * Replay the invoices in file order, committing after each one.  With
 * shares > 1 only the invoices whose sequence number is share modulo shares
 * are replayed, so that that many sessions can split the file between them.
 */
CREATE PROCEDURE replay.run(share integer DEFAULT 0,
							shares integer DEFAULT 1,
							returns_by_product boolean DEFAULT false)
LANGUAGE plpgsql
AS $$
DECLARE
	i			record;
BEGIN
	FOR i IN
		SELECT invoice_no
		FROM replay.invoice
		WHERE seq % shares = share
		ORDER BY seq
	LOOP
		PERFORM replay.replay_invoice(i.invoice_no, returns_by_product, share);
		COMMIT;
	END LOOP;
END
$$;
