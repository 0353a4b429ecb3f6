/*
 * test/locks/helpers.sql
 *		Test-only helpers for the pgbench races of test/locks/run.sh, created
 *		in the public schema of a test database (not part of the extension).
 *
 * lk_try_reserve(product, quantity) reserves under a fresh order reference
 * and returns the reservation id, or 0 when the order lost fairly: stock
 * short (IV002) or the cross-node lock busy past inventory.lock_wait_timeout
 * (IV011).  Each kind of loss is counted in a sequence, so the runs can say
 * how often it happened.  Any other error goes back to pgbench, which counts
 * the transaction as failed.
 */
CREATE SEQUENCE public.lk_order_seq;
CREATE SEQUENCE public.lk_short_count;
CREATE SEQUENCE public.lk_timeout_count;

CREATE FUNCTION public.lk_try_reserve(p_product bigint, p_quantity bigint)
RETURNS bigint
LANGUAGE plpgsql
AS $$
DECLARE
	r	inventory.reservation;
BEGIN
	r := inventory.inv_reserve('lk-' || nextval('public.lk_order_seq'),
							   p_product, p_quantity);
	RETURN r.reservation_id;
EXCEPTION
	WHEN SQLSTATE 'IV002' THEN
		PERFORM nextval('public.lk_short_count');
		RETURN 0;
	WHEN SQLSTATE 'IV011' THEN
		PERFORM nextval('public.lk_timeout_count');
		RETURN 0;
END
$$;

/* How many times a counter sequence was bumped. */
CREATE FUNCTION public.lk_count(p_seq regclass)
RETURNS bigint
LANGUAGE plpgsql
AS $$
DECLARE
	n	bigint;
	called boolean;
BEGIN
	EXECUTE format('SELECT last_value, is_called FROM %s', p_seq)
		INTO n, called;
	RETURN CASE WHEN called THEN n ELSE 0 END;
END
$$;
