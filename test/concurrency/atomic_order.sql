/*
 * test/concurrency/atomic_order.sql
 *		One attempt at a two-line order that times out waiting for a slot of
 *		ATOM-HOT (run.sh holds them all), inside a PL/pgSQL block that
 *		catches the error, as an application's retry wrapper would; then
 *		whether anything of it stayed.  psql variable iso: the isolation
 *		level of the attempt's transaction.
 */

SET lock_timeout = '300ms';
BEGIN ISOLATION LEVEL :iso;
DO $$
BEGIN
	PERFORM inventory.inv_reserve_order('ATOM-' || current_setting('transaction_isolation'),
										ARRAY['ATOM-ONE', 'ATOM-HOT'],
										ARRAY[1, 1]);
	RAISE NOTICE 'the order went through';
EXCEPTION WHEN lock_not_available THEN
	RAISE NOTICE 'the order timed out';
END
$$;
COMMIT;

/* A new transaction, with nothing of the attempt left in it */
SELECT pg_current_xact_id_if_assigned() IS NULL AS fresh_transaction,
	   (SELECT count(*) FROM inventory.reservation
		WHERE order_ref LIKE 'ATOM-%') AS lines_kept,
	   (SELECT sum(reserved) FROM inventory.stock_slot s
		JOIN inventory.product p USING (supplier_id, product_id)
		WHERE p.sku LIKE 'ATOM-%') AS units_held;
