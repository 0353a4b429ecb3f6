/*
 * test/concurrency/timeout_session.sql
 *		One session whose order and confirmation time out waiting for rows
 *		another session holds (run.sh holds TIMEOUT-1's stock row and the
 *		reservation :held), then orders and confirms something else: the
 *		session must go on working.  Errors are expected, so no
 *		ON_ERROR_STOP.
 */

SET statement_timeout = '300ms';
SELECT quantity FROM inventory.inv_reserve('timeout-1', 'TIMEOUT-1', 1);
SELECT state FROM inventory.inv_confirm(:held);
RESET statement_timeout;

SELECT 'after: ' || quantity AS reserved
FROM inventory.inv_reserve('timeout-2', 'TIMEOUT-2', 1) \gset
\echo :reserved
SELECT 'after: ' || state AS confirmed
FROM inventory.inv_confirm((SELECT reservation_id FROM inventory.reservation
							WHERE order_ref = 'timeout-2')) \gset
\echo :confirmed
