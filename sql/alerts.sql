--
-- alerts: low-stock thresholds, the outbox, NOTIFY, and delivery state
--
-- A product of its own for these tests; the others keep their thresholds
INSERT INTO inventory.product (sku, name, low_stock_threshold)
VALUES (E'Q"uote\\Back\nNew ñ 🎁', 'Tricky SKU', 10);
SELECT product_id AS tricky FROM inventory.product WHERE name = 'Tricky SKU' \gset
SELECT stock_level FROM inventory.inv_adjust(:tricky, 12, 'set', 'stock for alerts');
SELECT count(*) AS alerts_before FROM inventory.alert \gset

-- Where alerts go: supplier-wide defaults, and a product's own choice
INSERT INTO inventory.alert_preference (channel, target)
VALUES ('email', 'ops@supplier.example'), ('slack', '#stock');
INSERT INTO inventory.alert_preference (product_id, channel, target)
VALUES (2, 'sms', '+15550100');

-- Invalid preferences are refused
INSERT INTO inventory.alert_preference (channel, target) VALUES ('pigeon', 'roof');
\echo :LAST_ERROR_SQLSTATE
INSERT INTO inventory.alert_preference (channel, target) VALUES ('email', 'not an address');
\echo :LAST_ERROR_SQLSTATE
INSERT INTO inventory.alert_preference (channel, target) VALUES ('email', E'a@b.c\nBcc: x@y.z');
\echo :LAST_ERROR_SQLSTATE
INSERT INTO inventory.alert_preference (channel, target) VALUES ('slack', '#stock');
\echo :LAST_ERROR_SQLSTATE

-- Staying at or above the threshold raises nothing
SELECT state FROM inventory.inv_reserve('AL-1', :tricky, 2);
SELECT count(*) - :alerts_before AS new_alerts FROM inventory.alert;

-- Crossing below it raises one alert, and it stays quiet while low
SELECT state FROM inventory.inv_reserve('AL-2', :tricky, 1);
SELECT state FROM inventory.inv_reserve('AL-3', :tricky, 1);
SELECT stock_level FROM inventory.inv_adjust(:tricky, -1, reason => 'breakage');
SELECT count(*) - :alerts_before AS new_alerts FROM inventory.alert;

SELECT available FROM inventory.stock WHERE product_id = :tricky;

-- The payload NOTIFY carries is valid JSON whatever the SKU holds
SELECT (payload::jsonb - 'raised_at' - 'alert_id' - 'product_id') AS payload,
	   payload::jsonb ->> 'sku' = sku AS sku_intact,
	   (payload::jsonb ->> 'alert_id')::bigint = alert_id AS right_alert,
	   (payload::jsonb ->> 'raised_at')::timestamptz = raised_at AS right_time,
	   octet_length(payload) < 8000 AS under_limit
FROM (SELECT a.*, inventory.inv_alert_payload(a) AS payload
	  FROM inventory.alert a WHERE product_id = :tricky
	  ORDER BY alert_id DESC LIMIT 1) p;

-- The longest SKU, all quotes and backslashes, still fits
SELECT octet_length(inventory.inv_alert_payload(
		   ROW(7, 1, 1, repeat(E'"\\', 100), 0, 1,
			   '2026-12-03 10:00:00.123456+00')::inventory.alert)) AS bytes;

-- Climbing back to the threshold re-arms it; the next fall alerts again
SELECT state FROM inventory.inv_release_order('AL-2');
SELECT stock_level FROM inventory.inv_adjust(:tricky, 5, reason => 'delivery');
SELECT available FROM inventory.stock WHERE product_id = :tricky;
SELECT state FROM inventory.inv_reserve('AL-4', :tricky, 6);
SELECT count(*) - :alerts_before AS new_alerts FROM inventory.alert;

-- A rolled-back fall leaves no alert and no delivery behind
BEGIN;
SELECT stock_level FROM inventory.inv_adjust(:tricky, 20, reason => 'found more');
SELECT state FROM inventory.inv_reserve('AL-5', :tricky, 20);
ROLLBACK;
SELECT count(*) - :alerts_before AS new_alerts FROM inventory.alert;

-- A direct UPDATE that crosses alerts too
SELECT stock_level FROM inventory.inv_adjust(:tricky, 30, 'set', 'recount');
UPDATE inventory.stock_slot SET stock_level = stock_level - 15 WHERE product_id = :tricky;
SELECT count(*) - :alerts_before AS new_alerts FROM inventory.alert;

-- Made-to-order products never alert, and nor do products without a threshold
UPDATE inventory.product SET low_stock_threshold = 5 WHERE sku = 'BESPOKE-9';
SELECT state FROM inventory.inv_reserve('AL-6', 'BESPOKE-9', 3);
SELECT state FROM inventory.inv_reserve('AL-7', 'GADGET-2', 1);
SELECT count(*) AS alerts_for_others FROM inventory.alert
WHERE product_id IN (2, 4) AND alert_id > :alerts_before;

-- A threshold change follows the product onto its stock row
UPDATE inventory.product SET low_stock_threshold = 3 WHERE product_id = 2;
SELECT low_stock_threshold FROM inventory.stock_slot WHERE product_id = 2;
SELECT stock_level, available FROM inventory.stock WHERE product_id = 2;
SELECT state FROM inventory.inv_reserve('AL-8', 'GADGET-2', 6);
SELECT count(*) AS gadget_alerts FROM inventory.alert WHERE product_id = 2;

-- Deliveries come from the preferences: the product's own, else the defaults
SELECT a.product_id = :tricky AS tricky, d.channel, d.target, d.state
FROM inventory.alert_delivery d JOIN inventory.alert a USING (supplier_id, alert_id)
WHERE a.alert_id > :alerts_before
ORDER BY d.delivery_id;

-- Claiming: each due delivery goes to one consumer, with its message ready
-- (times and ids blanked out); the SKU's line break cannot reach a header
SELECT channel, target, attempts,
	   regexp_replace(regexp_replace(message, 'raised [^)]*\)', 'raised …)', 'g'),
					  '(alert|product) [0-9]+', '\1 N', 'g') AS message
FROM inventory.inv_alert_claim('consumer-a', 3);
SELECT count(*) AS claimed_by_b
FROM inventory.inv_alert_claim('consumer-b', 100);
SELECT count(*) AS nothing_left FROM inventory.inv_alert_claim('consumer-c');
SELECT claimed_by, count(*) FROM inventory.alert_delivery
WHERE state = 'claimed' GROUP BY claimed_by ORDER BY 1;


-- Delivered once; the other consumer cannot mark it; a failure is retried
SELECT min(delivery_id) AS first_a FROM inventory.alert_delivery
WHERE claimed_by = 'consumer-a' \gset
SELECT inventory.inv_alert_delivered(:first_a, 'consumer-b') AS by_b,
	   inventory.inv_alert_delivered(:first_a, 'consumer-a') AS by_a,
	   inventory.inv_alert_delivered(:first_a, 'consumer-a') AS again;
SELECT max(delivery_id) AS last_a FROM inventory.alert_delivery
WHERE claimed_by = 'consumer-a' \gset
SELECT inventory.inv_alert_failed(:last_a, 'consumer-a', 'HTTP 500') AS state;
SELECT state, attempts, last_error,
	   next_attempt_at - now() BETWEEN interval '9 seconds' AND interval '11 seconds' AS backs_off
FROM inventory.alert_delivery WHERE delivery_id = :last_a;
SELECT count(*) AS not_yet_due FROM inventory.inv_alert_claim('consumer-c');

-- Past its last attempt a delivery stays failed
UPDATE inventory.alert_delivery SET next_attempt_at = now() WHERE delivery_id = :last_a;
SELECT delivery_id = :last_a AS same, attempts FROM inventory.inv_alert_claim('consumer-c');
SELECT inventory.inv_alert_failed(:last_a, 'consumer-c', 'HTTP 500', max_attempts => 2) AS state;

-- A claim whose lease ran out can be taken over
UPDATE inventory.alert_delivery SET claimed_until = now() - interval '1 second'
WHERE claimed_by = 'consumer-b';
SELECT count(*) > 0 AS taken_over FROM inventory.inv_alert_claim('consumer-d', 100);
SELECT count(*) AS still_with_b FROM inventory.alert_delivery
WHERE state = 'claimed' AND claimed_by = 'consumer-b';

-- Invalid claims, extensions and failures
SELECT * FROM inventory.inv_alert_claim('');
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM inventory.inv_alert_claim('x', 0);
\echo :LAST_ERROR_SQLSTATE
SELECT inventory.inv_alert_extend(1, 'consumer-d', '-1 day');
\echo :LAST_ERROR_SQLSTATE
SELECT inventory.inv_alert_extend(1, 'consumer-d', NULL);
\echo :LAST_ERROR_SQLSTATE
SELECT inventory.inv_alert_failed(1, 'consumer-d', 'x', NULL);
\echo :LAST_ERROR_SQLSTATE

-- Extending a live claim keeps it; a lapsed one is not extended
SELECT min(delivery_id) AS held_d FROM inventory.alert_delivery
WHERE state = 'claimed' AND claimed_by = 'consumer-d' \gset
SELECT inventory.inv_alert_extend(:held_d, 'consumer-d', '5 minutes') AS still_ours,
	   inventory.inv_alert_extend(:held_d, 'consumer-x', '5 minutes') AS not_theirs;
UPDATE inventory.alert_delivery SET claimed_until = now() - interval '1 second'
WHERE delivery_id = :held_d;
SELECT inventory.inv_alert_extend(:held_d, 'consumer-d') AS lapsed;

-- The backoff stays at an hour however many attempts there were
UPDATE inventory.alert_delivery SET attempts = 60, claimed_until = now() + interval '1 minute'
WHERE delivery_id = :held_d;
SELECT inventory.inv_alert_failed(:held_d, 'consumer-d', 'still down', 100) AS state;
SELECT next_attempt_at - now() BETWEEN interval '59 minutes' AND interval '61 minutes' AS an_hour
FROM inventory.alert_delivery WHERE delivery_id = :held_d;

-- Settle what the alerts tests reserved
SELECT count(*) FROM inventory.reservation r,
	LATERAL inventory.inv_release(r.reservation_id)
WHERE r.order_ref LIKE 'AL-%' AND r.state = 'reserved';
SELECT * FROM inventory.inv_verify();
