/*
 * test/multinode/tenant.sql
 *		Test-only helpers for the order storm of test/multinode/run.sh,
 *		created in the public schema of each tenant database (not part of
 *		the extension).
 *
 * mn_order(product, quantity, pick) reserves under a fresh order reference
 * and then, in the same transaction, confirms the line (pick <= 70),
 * releases it (pick <= 90) or leaves it open.  Whatever happens is recorded
 * in mn_attempt with the time: 'ok', or the SQLSTATE that refused the order
 * (IV002 short, IV011 lock busy, IV012 no lock service, IV013 stale fence,
 * or anything unexpected, which the suite reports).  The error is caught so
 * that a pgbench client goes on through the failover.
 */
CREATE SEQUENCE public.mn_order_seq;

CREATE TABLE public.mn_attempt (
	at			timestamptz NOT NULL DEFAULT clock_timestamp(),
	outcome		text NOT NULL
);

CREATE FUNCTION public.mn_order(p_product bigint, p_quantity bigint,
								p_pick integer)
RETURNS text
LANGUAGE plpgsql
AS $$
DECLARE
	r			inventory.reservation;
	v_outcome	text := 'ok';
BEGIN
	BEGIN
		r := inventory.inv_reserve('mn-' || nextval('public.mn_order_seq'),
								   p_product, p_quantity);
		IF p_pick <= 70 THEN
			PERFORM inventory.inv_confirm(r.reservation_id);
		ELSIF p_pick <= 90 THEN
			PERFORM inventory.inv_release(r.reservation_id, 'storm');
		END IF;
	EXCEPTION
		WHEN OTHERS THEN
			v_outcome := SQLSTATE;
	END;
	INSERT INTO public.mn_attempt (outcome) VALUES (v_outcome);
	RETURN v_outcome;
END
$$;
