#!/usr/bin/env bash
#
# test/alerts/run.sh
#	Low-stock alerts end to end: the NOTIFY announcements under load, and the
#	inventory-alerts daemon against a fake webhook receiver and a fake
#	sendmail.
#
# Checks, one line each ("ok N - ..." / "not ok N - ...", then "# " lines
# with what was measured or what went wrong):
#
#	1  64 pgbench clients drain a product (1,000 units, threshold 100) while
#	   restocks lift it back above the threshold: notifications received ==
#	   alert rows == crossings counted from the ledger; every payload is
#	   JSON with all its keys, available < threshold, distinct alert ids;
#	   inv_verify() clean.  A rolled-back crossing announces nothing.
#	2  a SKU with quotes, backslashes, a line break and non-ASCII arrives
#	   intact in the payload (->>'sku' equals it)
#	3  the daemon delivers email (fake_sendmail), Slack and SMS (receiver.py)
#	   for several crossings: every delivery 'delivered', each exactly once
#	4  alerts raised while the daemon is stopped are delivered once it starts
#	5  a webhook answering 500 twice: retried until delivered (attempts >= 3,
#	   last_error NULL), POSTed successfully exactly once
#	6  two daemons (different consumers) and many crossings: still exactly once
#	7  the daemon survives a database restart (on a cluster of its own, so the
#	   shared one is never restarted under the other suites)
#	8  --help (exit 0, mentions --config), an unknown option (exit 2), and a
#	   config file in place of flags (flags still override it)
#	9  a claimed batch that outlasts its lease (six slack deliveries, a
#	   webhook taking 1 s each, --lease 3) while a second daemon waits to
#	   claim what lapses: every delivery 'delivered', each POSTed once
#	10 SIGTERM during the first of five slow POSTs (2 s each): the daemon
#	   exits 0 within 4 s having POSTed at most 2; the rest of its batch
#	   stays claimed until the lease (3 s) runs out, and a daemon under
#	   another consumer then delivers it, each exactly once
#
# Contract (test/run_all.sh): PGHOST, PGPORT and PGUSER point at a running
# server (not preloaded) where the extension is installed and we are
# superuser; print one line per check; exit 0 only if every check passed.
# Every process started here (listener, receiver, daemons, the extra
# cluster) is stopped by the EXIT trap.  Knobs: AL_CLIENTS (64),
# AL_TRANSACTIONS (per client, 40), INV_KEEP_CLUSTER=1 also keeps the work
# directory (logs, received messages).
#

set -u

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
# shellcheck source=SCRIPTDIR/../lib/common.sh
source "$root/test/lib/common.sh"
cd "$root" || exit 1

AL_CLIENTS=${AL_CLIENTS:-64}
AL_TRANSACTIONS=${AL_TRANSACTIONS:-40}

pgbin=$(inv_pg_bindir)
PSQL=$pgbin/psql
PGBENCH=$pgbin/pgbench
ALERTS=$pgbin/inventory-alerts
# Payloads and SKUs are UTF-8 whatever the locale says.
export PGCLIENTENCODING=UTF8
# The fakes, as the daemon is told to run them (relative to the root).
SENDMAIL=test/alerts/fake_sendmail

workdir=$(mktemp -d "${TMPDIR:-/tmp}/inv_alerts.XXXXXX")
posts=$workdir/posts.jsonl		# every POST the receiver got
port_file=$workdir/receiver.port
receiver_port=
receiver_pid=
listener_pid=
declare -A daemon_pid=()

passed=0
failed=0

# ---------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------

# q DB [PSQL_ARG...]: psql, unaligned, tuples only, stop at the first error.
q()
{
	local db=$1
	shift
	"$PSQL" -X -q -A -t -v ON_ERROR_STOP=1 -d "$db" "$@"
}

# Stop one process we started, by pid: TERM, up to 10 s, then KILL.
stop_pid()
{
	local pid=$1 i

	[[ -n $pid ]] || return 0
	kill -TERM "$pid" 2>/dev/null || return 0
	for ((i = 0; i < 100; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	return 0
}

cleanup()
{
	local name

	for name in "${!daemon_pid[@]}"; do
		stop_pid "${daemon_pid[$name]}"
	done
	stop_pid "$listener_pid"
	stop_pid "$receiver_pid"
	if [[ ${INV_KEEP_CLUSTER:-0} == 1 ]]; then
		echo "# work directory kept: $workdir"
	else
		rm -rf "$workdir"
	fi
}
trap cleanup EXIT
trap 'exit 143' TERM
trap 'exit 130' INT

# wait_until SECONDS CMD...: run CMD every 0.2 s until it succeeds; false if
# it never did within SECONDS.
wait_until()
{
	local deadline=$((SECONDS + $1))

	shift
	while ! "$@"; do
		((SECONDS >= deadline)) && return 1
		sleep 0.2
	done
	return 0
}

# sql_true DB SQL: the query's single value is "t".
sql_true()
{
	[[ $(q "$1" -c "$2" 2>/dev/null) == t ]]
}

# same WHAT GOT WANT: compare, and say what differed.
same()
{
	[[ $2 == "$3" ]] && return 0
	echo "$1: got '$2', want '$3'"
	return 1
}

# new_db NAME: a fresh database with the extension, supplier 1, and the
# helpers the checks use to move stock across a threshold:
#	al_rearm(sku)	lift available to threshold + 5 (a delivery), if lower
#	al_drop(sku)	reserve just enough to leave available at threshold - 1:
#			one crossing, in one transaction
new_db()
{
	"$pgbin/dropdb" --if-exists "$1" >/dev/null 2>&1
	inv_new_db "$1" || return 1
	q "$1" <<-'SQL'
		CREATE SEQUENCE public.al_order_seq;
		CREATE FUNCTION public.al_rearm(p_sku text) RETURNS bigint
		LANGUAGE plpgsql AS $$
		DECLARE
			s inventory.stock;
		BEGIN
			SELECT * INTO STRICT s FROM inventory.stock WHERE sku = p_sku;
			IF s.available < s.low_stock_threshold + 5 THEN
				PERFORM inventory.inv_adjust(p_sku,
					s.low_stock_threshold + 5 - s.available, 'delta', 're-arm');
			END IF;
			RETURN (SELECT available FROM inventory.stock WHERE sku = p_sku);
		END $$;
		CREATE FUNCTION public.al_drop(p_sku text) RETURNS bigint
		LANGUAGE plpgsql AS $$
		DECLARE
			s inventory.stock;
		BEGIN
			SELECT * INTO STRICT s FROM inventory.stock WHERE sku = p_sku;
			IF s.available < s.low_stock_threshold THEN
				RAISE EXCEPTION 'al_drop(%): already below the threshold', p_sku;
			END IF;
			PERFORM inventory.inv_reserve('al-' || nextval('public.al_order_seq'),
				p_sku, s.available - s.low_stock_threshold + 1);
			RETURN (SELECT available FROM inventory.stock WHERE sku = p_sku);
		END $$;
	SQL
}

# cross DB N SKU...: N rounds; in each, every SKU is re-armed and then
# dropped below its threshold, each step a transaction of its own.
cross()
{
	local db=$1 rounds=$2 i sku
	shift 2

	for ((i = 0; i < rounds; i++)); do
		for sku in "$@"; do
			printf "SELECT public.al_rearm('%s');\nSELECT public.al_drop('%s');\n" "$sku" "$sku"
		done
	done | q "$db" >/dev/null
}

# start_receiver [RECEIVER_ARG...]: receiver.py in the background, on
# $receiver_port if one was chosen already, else on a free port.
start_receiver()
{
	local args=(--out "$posts" --port-file "$port_file")

	[[ -n $receiver_port ]] && args+=(--port "$receiver_port")
	rm -f "$port_file"
	python3 "$here/receiver.py" "${args[@]}" "$@" >>"$workdir/receiver.log" 2>&1 &
	receiver_pid=$!
	if ! wait_until 10 test -s "$port_file"; then
		echo "receiver.py did not start:"
		cat "$workdir/receiver.log"
		return 1
	fi
	receiver_port=$(cat "$port_file")
}

# ensure_receiver: start the receiver unless it runs already.
ensure_receiver()
{
	[[ -n $receiver_pid ]] && kill -0 "$receiver_pid" 2>/dev/null && return 0
	start_receiver
}

# start_daemon NAME DB URL_PREFIX [DAEMON_ARG...]: inventory-alerts in the
# background with --poll 1, webhooks on the receiver under URL_PREFIX, and
# the fake sendmail, whose messages go to $workdir/mail.DB; its log goes to
# $workdir/daemon.NAME.log.  Waits until it LISTENs.
start_daemon()
{
	local name=$1 db=$2 prefix=$3 log=$workdir/daemon.$1.log
	shift 3

	FAKE_SENDMAIL_OUT=$workdir/mail.$db "$ALERTS" -d "$db" \
		--sendmail "$SENDMAIL" \
		--slack-webhook "http://127.0.0.1:$receiver_port$prefix/slack" \
		--sms-webhook "http://127.0.0.1:$receiver_port$prefix/sms" \
		--poll 1 "$@" >>"$log" 2>&1 &
	daemon_pid[$name]=$!
	# -s: the log may not be there yet (the child opens it).
	if ! wait_until 15 grep -qs 'listening on' "$log"; then
		echo "daemon $name did not start listening:"
		tail -n 20 "$log"
		return 1
	fi
}

# stop_daemon NAME: SIGTERM; it must exit 0 within 10 s.
stop_daemon()
{
	local name=$1 pid=${daemon_pid[$1]:-} i rc

	[[ -n $pid ]] || return 0
	kill -TERM "$pid" 2>/dev/null
	for ((i = 0; i < 100; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$pid" 2>/dev/null; then
		echo "daemon $name ignored SIGTERM for 10 s"
		kill -KILL "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
		unset "daemon_pid[$name]"
		return 1
	fi
	wait "$pid"
	rc=$?
	unset "daemon_pid[$name]"
	same "daemon $name exit status after SIGTERM" "$rc" 0
}

# all_delivered DB: every delivery row is 'delivered'.
all_delivered()
{
	sql_true "$1" "SELECT count(*) > 0 AND bool_and(state = 'delivered')
		FROM inventory.alert_delivery"
}

# verify_deliveries DB URL_PREFIX: what the fakes received against the
# outbox of DB.  Every delivery must be 'delivered' and received exactly
# once (a 2xx POST or a mail naming its alert and target); nothing may be
# received that no delivery asked for.  Prints the counts.
verify_deliveries()
{
	local db=$1 prefix=$2 tsv=$workdir/sent.$1.tsv out
	local deliveries not_delivered never twice unexpected unreadable

	python3 "$here/tally.py" "$posts" "$workdir/mail.$db" "$prefix" >"$tsv" ||
		return 1
	out=$(q "$db" -F ' ' <<-SQL
		CREATE TEMP TABLE sent (channel text, target text, alert text, status int);
		\copy sent FROM '$tsv'
		WITH d AS (
			SELECT channel, target, alert_id::text AS alert, state
			FROM inventory.alert_delivery
		), ok AS (
			SELECT channel, target, alert, count(*) AS n
			FROM sent WHERE status BETWEEN 200 AND 299
			GROUP BY channel, target, alert
		)
		SELECT (SELECT count(*) FROM d),
			   (SELECT count(*) FROM d WHERE state <> 'delivered'),
			   (SELECT count(*) FROM d LEFT JOIN ok USING (channel, target, alert)
				WHERE ok.n IS NULL),
			   (SELECT count(*) FROM ok WHERE n > 1),
			   (SELECT count(*) FROM ok LEFT JOIN d USING (channel, target, alert)
				WHERE d.state IS NULL),
			   (SELECT count(*) FROM sent WHERE alert = '?' OR target = '?');
	SQL
	) || return 1
	read -r deliveries not_delivered never twice unexpected unreadable <<<"$out"
	echo "$db: $deliveries deliveries; not delivered $not_delivered, never received $never," \
		"received twice $twice, unexpected $unexpected, unreadable $unreadable"
	if [[ $deliveries -gt 0 && "$not_delivered$never$twice$unexpected$unreadable" == 00000 ]]; then
		return 0
	fi
	q "$db" -c "SELECT delivery_id, alert_id, channel, target, state, attempts, claimed_by, last_error
		FROM inventory.alert_delivery WHERE state <> 'delivered'
		ORDER BY delivery_id LIMIT 10"
	return 1
}

# run_check N DESCRIPTION FUNCTION: run one check, report it with its time
# and what it printed (as "# " lines).
run_check()
{
	local n=$1 desc=$2 fn=$3 start secs rc=0 diag=$workdir/check$1.diag

	start=$(date +%s.%N)
	"$fn" >"$diag" 2>&1 || rc=$?
	secs=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
	if ((rc == 0)); then
		echo "ok $n - $desc (${secs}s)"
		passed=$((passed + 1))
	else
		echo "not ok $n - $desc (${secs}s)"
		failed=$((failed + 1))
	fi
	sed 's/^/# /' "$diag"
}

# ---------------------------------------------------------------------------
# Checks 1 and 2: NOTIFY
# ---------------------------------------------------------------------------

notes=$workdir/notifications.txt
sentinels=0

# notes_sql: SQL that loads the listener's file, verbatim, into the temp
# table note (n, line, j): CSV with a quote and a delimiter that never occur,
# so no byte is interpreted; j is the line as jsonb, NULL if it is not JSON.
# Sentinels (see barrier) are left out.
notes_sql()
{
	cat <<-'SQL'
		CREATE FUNCTION pg_temp.try_jsonb(t text) RETURNS jsonb
		LANGUAGE plpgsql AS $$
		BEGIN
			RETURN t::jsonb;
		EXCEPTION WHEN others THEN
			RETURN NULL;
		END $$;
		CREATE TEMP TABLE got (n bigserial, line text);
	SQL
	printf '%s\n' "\\copy got (line) FROM '$notes' WITH (FORMAT csv, QUOTE E'\\x01', DELIMITER E'\\x02')"
	cat <<-'SQL'
		CREATE TEMP TABLE note AS
		SELECT n, line, pg_temp.try_jsonb(line) AS j FROM got;
		DELETE FROM note WHERE jsonb_typeof(j) = 'object' AND j ? 'sentinel';
	SQL
}

# Send a sentinel notification on the channel and wait until the listener
# has written it: NOTIFYs reach a listener in commit order, so everything
# committed before has arrived by then.
barrier()
{
	sentinels=$((sentinels + 1))
	q al_notify -c "SELECT pg_notify('inventory_low_stock', '{\"sentinel\": $sentinels}')" >/dev/null ||
		return 1
	if ! wait_until 15 grep -qxF "{\"sentinel\": $sentinels}" "$notes"; then
		echo "the listener never received sentinel $sentinels"
		cat "$workdir/listener.out"
		return 1
	fi
}

check_notify_race()
{
	local rc=0 product out log=$workdir/race.pgbench.log
	local lines invalid keys not_below distinct for_product alerts crossings
	local mismatched verify inconsistent other before after

	cc -O2 -Wall -Wextra -o "$workdir/listener" "$here/listener.c" \
		-I"$("$pgbin/pg_config" --includedir)" \
		-L"$("$pgbin/pg_config" --libdir)" -lpq || return 1

	new_db al_notify || return 1
	product=$(q al_notify <<-'SQL'
		INSERT INTO inventory.product (sku, name, low_stock_threshold)
		VALUES ('ALERT-RACE', 'alerts race', 100);
		SELECT stock_level FROM inventory.inv_adjust('ALERT-RACE', 1000, 'set', 'opening stock') \g /dev/null
		CREATE FUNCTION public.al_reserve(p_product bigint, p_quantity bigint)
		RETURNS bigint LANGUAGE plpgsql AS $$
		DECLARE
			r inventory.reservation;
		BEGIN
			r := inventory.inv_reserve('race-' || nextval('public.al_order_seq'),
									   p_product, p_quantity);
			RETURN r.reservation_id;
		EXCEPTION
			WHEN SQLSTATE 'IV002' THEN
				RETURN 0;
		END $$;
		CREATE FUNCTION public.al_restock(p_product bigint, p_threshold bigint,
										  p_amount bigint)
		RETURNS boolean LANGUAGE plpgsql AS $$
		BEGIN
			IF (SELECT available FROM inventory.stock_slot
				WHERE product_id = p_product AND slot = 0) < p_threshold THEN
				PERFORM inventory.inv_adjust(p_product, p_amount, 'delta', 'restock');
				RETURN true;
			END IF;
			RETURN false;
		END $$;
		SELECT product_id FROM inventory.product WHERE sku = 'ALERT-RACE';
	SQL
	) || return 1

	# The listener is connected (and LISTENing) before the first client.
	: >"$notes"
	"$workdir/listener" "dbname=al_notify" "$notes" 60 >"$workdir/listener.out" 2>&1 &
	listener_pid=$!
	if ! wait_until 10 grep -q listening "$workdir/listener.out"; then
		echo "the listener did not start:"
		cat "$workdir/listener.out"
		return 1
	fi

	if ! "$PGBENCH" -n -c "$AL_CLIENTS" -j 4 -t "$AL_TRANSACTIONS" --failures-detailed \
		-D product="$product" -D threshold=100 -D restock=150 \
		-f "$here/drain.pgbench@96" -f "$here/restock.pgbench@4" \
		al_notify >"$log" 2>&1 || ! grep -q '^number of failed transactions: 0 ' "$log" ||
		! grep -qE "^number of transactions actually processed: ([0-9]+)/\1$" "$log"; then
		echo "pgbench did not run cleanly:"
		grep -E 'ERROR|^number of|aborted' "$log" | head -n 15
		rc=1
	fi
	grep -E '^(number of transactions actually processed|tps)' "$log" | head -n 2

	barrier || return 1

	out=$({
		notes_sql
		cat <<-'SQL'
			CREATE TEMP TABLE crossing AS
			SELECT count(*) FILTER (WHERE prev >= 100 AND avail < 100) AS crossings,
				   count(*) FILTER (WHERE before <> prev) AS inconsistent
			FROM (SELECT stock_level_after - reserved_after AS avail,
						 stock_level_before - reserved_before AS before,
						 lag(stock_level_after - reserved_after, 1, 0::bigint)
							OVER (ORDER BY ledger_id) AS prev
				  FROM inventory.ledger
				  WHERE product_id = :product AND slot = 0) l;
			SELECT (SELECT count(*) FROM note),
				   (SELECT count(*) FROM note WHERE j IS NULL OR jsonb_typeof(j) <> 'object'),
				   (SELECT count(*) FROM note
					WHERE NOT coalesce(j ?& ARRAY['supplier_id', 'product_id', 'sku', 'available',
												  'threshold', 'alert_id', 'raised_at'], false)),
				   (SELECT count(*) FROM note
					WHERE NOT coalesce((j->>'available')::bigint < (j->>'threshold')::bigint, false)),
				   (SELECT count(DISTINCT j->>'alert_id') FROM note),
				   (SELECT count(*) FROM note WHERE (j->>'product_id')::bigint = :product),
				   (SELECT count(*) FROM inventory.alert WHERE product_id = :product),
				   (SELECT crossings FROM crossing),
				   (SELECT count(*) FROM note
					WHERE NOT EXISTS (SELECT FROM inventory.alert a
									  WHERE a.alert_id = (j->>'alert_id')::bigint
										AND a.product_id = (j->>'product_id')::bigint
										AND a.supplier_id = (j->>'supplier_id')::bigint
										AND a.sku = j->>'sku'
										AND a.available = (j->>'available')::bigint
										AND a.threshold = (j->>'threshold')::bigint
										AND a.raised_at = (j->>'raised_at')::timestamptz)),
				   (SELECT count(*) FROM inventory.inv_verify()),
				   (SELECT inconsistent FROM crossing);
		SQL
	} | q al_notify -F ' ' -v product="$product") || return 1
	read -r lines invalid keys not_below distinct for_product alerts crossings \
		mismatched verify inconsistent <<<"$out"
	echo "crossings (from the ledger) $crossings, alert rows $alerts, notifications $lines" \
		"($for_product for the product, $distinct distinct alert ids)"
	same "notifications received == alert rows" "$lines" "$alerts" || rc=1
	same "alert rows == crossings" "$alerts" "$crossings" || rc=1
	same "notifications naming the product" "$for_product" "$lines" || rc=1
	same "distinct alert ids" "$distinct" "$lines" || rc=1
	same "payloads that are not a JSON object" "$invalid" 0 || rc=1
	same "payloads missing a key" "$keys" 0 || rc=1
	same "payloads with available >= threshold" "$not_below" 0 || rc=1
	same "payloads that do not match their alert row" "$mismatched" 0 || rc=1
	same "inv_verify() rows" "$verify" 0 || rc=1
	same "ledger rows whose before is not the previous after" "$inconsistent" 0 || rc=1
	if [[ $crossings =~ ^[0-9]+$ ]] && ((crossings < 3)); then
		echo "only $crossings crossing(s): the race did not cross the threshold several times"
		rc=1
	fi

	# A rolled-back crossing announces nothing: lift the product well above
	# the threshold (committed), then cross in a transaction that rolls back.
	q al_notify -c "SELECT public.al_restock($product, 150, 200)" >/dev/null || return 1
	before=$(wc -l <"$notes")
	other=$(q al_notify -c "SELECT count(*) FROM inventory.alert") || return 1
	out=$(q al_notify <<-SQL
		BEGIN;
		SELECT state FROM inventory.inv_reserve('rolled-back', $product,
			(SELECT available - 50 FROM inventory.stock WHERE product_id = $product)) \g /dev/null
		SELECT available < 100 AND
			   (SELECT count(*) FROM inventory.alert) = $other + 1 AS crossed
		FROM inventory.stock WHERE product_id = $product;
		ROLLBACK;
	SQL
	) || return 1
	same "inside the transaction: below the threshold, with an alert row" "$out" t || rc=1
	sleep 2
	after=$(wc -l <"$notes")
	same "lines received within 2 s of a rolled-back crossing" "$((after - before))" 0 || rc=1
	same "alert rows after a rolled-back crossing" \
		"$(q al_notify -c "SELECT count(*) FROM inventory.alert")" "$other" || rc=1
	# ... and the listener was still there to hear it.
	barrier || rc=1
	return "$rc"
}

check_notify_sku()
{
	local rc=0 product out

	if [[ -z $listener_pid ]] || ! kill -0 "$listener_pid" 2>/dev/null; then
		echo "the listener of check 1 is not running"
		return 1
	fi
	product=$(q al_notify <<-'SQL'
		INSERT INTO inventory.product (sku, name, low_stock_threshold)
		VALUES (E'Q"\\\\x\nñ🎁\t''', 'tricky SKU', 5);
		SELECT stock_level FROM inventory.inv_adjust(E'Q"\\\\x\nñ🎁\t''', 10, 'set', 'stock') \g /dev/null
		SELECT state FROM inventory.inv_reserve('tricky-1', E'Q"\\\\x\nñ🎁\t''', 6) \g /dev/null
		SELECT product_id FROM inventory.product WHERE name = 'tricky SKU';
	SQL
	) || return 1
	barrier || return 1
	out=$({
		notes_sql
		cat <<-'SQL'
			SELECT (SELECT count(*) FROM note WHERE (j->>'product_id')::bigint = :product),
				   (SELECT count(*) FROM note WHERE j IS NULL),
				   (SELECT count(*) FROM note, inventory.product p
					WHERE (j->>'product_id')::bigint = :product AND p.product_id = :product
					  AND j->>'sku' = p.sku
					  AND p.sku = E'Q"\\\\x\nñ🎁\t''');
		SQL
	} | q al_notify -F ' ' -v product="$product") || return 1
	read -r lines invalid intact <<<"$out"
	same "notifications for the tricky SKU" "$lines" 1 || rc=1
	same "lines that are not JSON" "$invalid" 0 || rc=1
	same "of them whose ->>'sku' is the SKU exactly" "$intact" 1 || rc=1
	grep -F "\"product_id\" : $product," "$notes" | sed 's/^/payload: /'
	stop_pid "$listener_pid"
	listener_pid=
	return "$rc"
}

# ---------------------------------------------------------------------------
# Checks 3 to 6: the daemon on database al_deliver
# ---------------------------------------------------------------------------

check_daemon_delivers()
{
	local rc=0 out

	new_db al_deliver || return 1
	q al_deliver >/dev/null <<-'SQL' || return 1
		INSERT INTO inventory.product (sku, name, low_stock_threshold)
		VALUES ('DL-A', 'supplier-wide A', 10), ('DL-B', 'own sms', 10),
			   ('DL-C', 'supplier-wide C', 10), ('DL-D', 'supplier-wide D', 10);
		INSERT INTO inventory.alert_preference (channel, target)
		VALUES ('email', 'ops@supplier.example'), ('slack', '#stock');
		INSERT INTO inventory.alert_preference (product_id, channel, target)
		SELECT product_id, 'sms', '+15550100' FROM inventory.product WHERE sku = 'DL-B';
	SQL

	ensure_receiver || return 1
	start_daemon test al_deliver "" --consumer test || return 1
	cross al_deliver 2 DL-A DL-B DL-C || return 1
	if ! wait_until 20 all_delivered al_deliver; then
		echo "not all delivered within 20 s"
		rc=1
	fi
	out=$(q al_deliver -F ' ' -c "SELECT
		(SELECT count(*) FROM inventory.alert),
		(SELECT string_agg(channel || '=' || n, ',' ORDER BY channel)
		 FROM (SELECT channel, count(*) AS n FROM inventory.alert_delivery GROUP BY channel) c),
		(SELECT string_agg(DISTINCT claimed_by, ',') FROM inventory.alert_delivery)")
	same "alerts, deliveries by channel, consumers" "$out" "6 email=4,slack=4,sms=2 test" || rc=1
	verify_deliveries al_deliver "" || rc=1
	return "$rc"
}

check_daemon_catches_up()
{
	local rc=0 first out

	stop_daemon test || rc=1
	first=$(q al_deliver -c "SELECT coalesce(max(alert_id), 0) FROM inventory.alert") || return 1
	cross al_deliver 1 DL-A DL-B DL-C DL-A || return 1
	sleep 1.5
	out=$(q al_deliver -F ' ' -c "SELECT count(*), count(*) FILTER (WHERE state = 'pending' AND attempts = 0)
		FROM inventory.alert_delivery WHERE alert_id > $first")
	same "deliveries raised while stopped, and of them still pending" "$out" "7 7" || rc=1
	start_daemon test al_deliver "" --consumer test || return 1
	if ! wait_until 20 all_delivered al_deliver; then
		echo "not all delivered within 20 s of the daemon's start"
		rc=1
	fi
	verify_deliveries al_deliver "" || rc=1
	return "$rc"
}

check_daemon_retries()
{
	local rc=0 alert delivery state out i

	# The receiver again, on the same port, failing its first 2 requests.
	stop_pid "$receiver_pid"
	receiver_pid=
	start_receiver --fail-first 2 || return 1

	alert=$(q al_deliver -c "SELECT coalesce(max(alert_id), 0) FROM inventory.alert") || return 1
	cross al_deliver 1 DL-C || return 1
	alert=$(q al_deliver -c "SELECT alert_id FROM inventory.alert WHERE alert_id > $alert") || return 1
	delivery=$(q al_deliver -c "SELECT delivery_id FROM inventory.alert_delivery
		WHERE alert_id = $alert AND channel = 'slack'") || return 1
	[[ $delivery =~ ^[0-9]+$ ]] || { echo "no slack delivery for alert $alert"; return 1; }

	# inv_alert_failed schedules the retry 10 s, then 20 s later.  To keep
	# the suite short, the test (as superuser) moves a failed delivery's
	# next_attempt_at to now() as soon as it is pending again: the daemon's
	# own backoff is not what is tested here, its retrying is.
	for ((i = 0; i < 150; i++)); do
		state=$(q al_deliver -c "SELECT state FROM inventory.alert_delivery
			WHERE delivery_id = $delivery") || return 1
		[[ $state == delivered || $state == failed ]] && break
		if [[ $state == pending ]]; then
			q al_deliver -c "UPDATE inventory.alert_delivery SET next_attempt_at = now()
				WHERE delivery_id = $delivery AND state = 'pending' AND attempts > 0
				  AND next_attempt_at > now()" >/dev/null || return 1
		fi
		sleep 0.2
	done
	out=$(q al_deliver -F ' ' -c "SELECT state, attempts >= 3, last_error IS NULL
		FROM inventory.alert_delivery WHERE delivery_id = $delivery")
	same "slack delivery: state, attempts >= 3, last_error null" "$out" "delivered t t" || rc=1
	q al_deliver -c "SELECT 'slack delivery ' || delivery_id || ': ' || attempts || ' attempts'
		FROM inventory.alert_delivery WHERE delivery_id = $delivery"
	grep -c 'failed (attempt' "$workdir/daemon.test.log" | sed 's/^/failed attempts in the daemon log: /'
	out=$(python3 "$here/tally.py" "$posts" /nonexistent "" |
		awk -F '\t' -v a="$alert" '$1 == "slack" && $3 == a { n[$4]++ }
			END { printf "%d %d", n[500], n[200] }')
	same "POSTs of alert $alert to /slack answered 500, and 200" "$out" "2 1" || rc=1
	verify_deliveries al_deliver "" || rc=1
	return "$rc"
}

check_two_daemons()
{
	local rc=0 first out

	first=$(q al_deliver -c "SELECT coalesce(max(alert_id), 0) FROM inventory.alert") || return 1
	start_daemon test-2 al_deliver "" --consumer test-2 --batch 3 || return 1
	cross al_deliver 20 DL-A DL-B DL-C DL-D || return 1
	if ! wait_until 40 all_delivered al_deliver; then
		echo "not all delivered within 40 s"
		rc=1
	fi
	out=$(q al_deliver -F ' ' -c "SELECT count(*) FROM inventory.alert WHERE alert_id > $first")
	same "alerts raised" "$out" 80 || rc=1
	q al_deliver -c "SELECT 'delivered by ' || string_agg(claimed_by || ': ' || n, ', ' ORDER BY claimed_by)
		FROM (SELECT claimed_by, count(*) AS n FROM inventory.alert_delivery
			  WHERE alert_id > $first GROUP BY claimed_by) c"
	verify_deliveries al_deliver "" || rc=1
	grep -h 'claimed by another consumer' "$workdir"/daemon.test*.log | head -n 3
	stop_daemon test || rc=1
	stop_daemon test-2 || rc=1
	return "$rc"
}

# ---------------------------------------------------------------------------
# Check 7: a database restart, on a cluster of this check's own
# ---------------------------------------------------------------------------

# Runs in a subshell: it starts a second cluster with common.sh (which keeps
# one cluster per shell), and its EXIT trap stops that cluster and the
# daemon whatever happens.
check_restart_inner()
{
	local rc=0 pid_before pid_after log=$workdir/daemon.restart.log

	# Not local: the EXIT trap reads it after this function has returned.
	c7_daemon=

	unset INV_CLUSTER_DIR PGHOST PGPORT PGUSER PGDATABASE
	# shellcheck disable=SC2119	# no extra postgresql.conf lines
	inv_cluster_start >"$workdir/restart-cluster.log" 2>&1 || {
		cat "$workdir/restart-cluster.log"
		return 1
	}
	trap 'stop_pid "$c7_daemon"; inv_cluster_stop' EXIT
	echo "cluster of its own on port $PGPORT"

	new_db al_restart || return 1
	q al_restart >/dev/null <<-'SQL' || return 1
		INSERT INTO inventory.product (sku, name, low_stock_threshold)
		VALUES ('RS-1', 'restart', 10);
		INSERT INTO inventory.alert_preference (channel, target)
		VALUES ('slack', '#restart'), ('email', 'ops@supplier.example');
	SQL

	FAKE_SENDMAIL_OUT=$workdir/mail.al_restart "$ALERTS" -d al_restart \
		--sendmail "$SENDMAIL" \
		--slack-webhook "http://127.0.0.1:$receiver_port/restart/slack" \
		--sms-webhook "http://127.0.0.1:$receiver_port/restart/sms" \
		--poll 1 --consumer restart >"$log" 2>&1 &
	c7_daemon=$!
	wait_until 15 grep -qs 'listening on' "$log" || { cat "$log"; return 1; }

	# Delivered before the restart...
	cross al_restart 1 RS-1 || return 1
	wait_until 15 all_delivered al_restart || { echo "first alert not delivered"; rc=1; }
	q al_restart -c "SELECT public.al_rearm('RS-1')" >/dev/null || return 1

	# pg_ctl restart must be given the log file again: without -l the new
	# postmaster would write to, and hold open, this script's output.
	pid_before=$(head -n 1 "$INV_CLUSTER_DIR/data/postmaster.pid")
	if ! inv_as_pg pg_ctl -D "$INV_CLUSTER_DIR/data" -l "$INV_CLUSTER_DIR/server.log" \
		-m fast -w -t 60 restart >"$workdir/restart-pg_ctl.log" 2>&1; then
		echo "pg_ctl restart failed:"
		cat "$workdir/restart-pg_ctl.log"
		return 1
	fi
	pid_after=$(head -n 1 "$INV_CLUSTER_DIR/data/postmaster.pid")
	[[ $pid_before != "$pid_after" ]] || { echo "the postmaster did not restart"; rc=1; }

	# ... and after it.
	cross al_restart 1 RS-1 || return 1
	if ! wait_until 45 all_delivered al_restart; then
		echo "the alert raised after the restart was not delivered within 45 s"
		rc=1
	fi
	kill -0 "$c7_daemon" 2>/dev/null || { echo "the daemon died"; rc=1; }
	same "times the daemon started listening" "$(grep -c 'listening on' "$log")" 2 || rc=1
	grep -E 'lost the connection|could not (connect|claim)' "$log" | head -n 3 |
		sed -E 's/^[0-9-]+ [0-9:]+ //'
	verify_deliveries al_restart /restart || rc=1
	return "$rc"
}

check_restart()
{
	ensure_receiver || return 1
	(
		trap 'exit 143' TERM
		check_restart_inner
	)
}

# ---------------------------------------------------------------------------
# Check 8: the command line and the config file
# ---------------------------------------------------------------------------

check_cli()
{
	local rc=0 status out conf=$workdir/alerts.conf

	"$ALERTS" --help >"$workdir/help.out" 2>&1
	status=$?
	same "--help exit status" "$status" 0 || rc=1
	grep -q -- '--config' "$workdir/help.out" || { echo "--help does not mention --config"; rc=1; }
	"$ALERTS" --no-such-option >"$workdir/unknown.out" 2>&1
	status=$?
	same "exit status of an unknown option" "$status" 2 || rc=1
	"$ALERTS" --poll=soon >/dev/null 2>&1
	same "exit status of --poll=soon" "$?" 2 || rc=1

	ensure_receiver || return 1
	new_db al_config || return 1
	q al_config >/dev/null <<-'SQL' || return 1
		INSERT INTO inventory.product (sku, name, low_stock_threshold)
		VALUES ('CF-1', 'config', 10), ('CF-2', 'config sms', 10);
		INSERT INTO inventory.alert_preference (channel, target)
		VALUES ('email', 'cfg@supplier.example'), ('slack', '#config');
		INSERT INTO inventory.alert_preference (product_id, channel, target)
		SELECT product_id, 'sms', '+15550199' FROM inventory.product WHERE sku = 'CF-2';
	SQL
	cat >"$conf" <<-EOF
		# inventory-alerts settings for the alerts suite
		dbname = al_config
		consumer = from-config-file
		sendmail = $SENDMAIL
		slack-webhook = http://127.0.0.1:$receiver_port/cfg/slack
		sms-webhook   =   http://127.0.0.1:$receiver_port/cfg/sms
		poll = 1
		once = true
		verbose = on
	EOF

	# The config file alone: deliver what is due, then exit.
	cross al_config 1 CF-1 CF-2 || return 1
	FAKE_SENDMAIL_OUT=$workdir/mail.al_config timeout 30 "$ALERTS" --config "$conf" \
		>"$workdir/daemon.config.log" 2>&1
	same "exit status of --config FILE (once = true)" "$?" 0 || rc=1
	out=$(q al_config -F ' ' -c "SELECT count(*), string_agg(DISTINCT claimed_by, ','),
		count(*) FILTER (WHERE state = 'delivered') FROM inventory.alert_delivery")
	same "deliveries, consumer, delivered" "$out" "3 from-config-file 3" || rc=1

	# Flags override the file (-c FILE, then --consumer).
	cross al_config 1 CF-1 || return 1
	FAKE_SENDMAIL_OUT=$workdir/mail.al_config timeout 30 "$ALERTS" -c "$conf" \
		--consumer from-flag >>"$workdir/daemon.config.log" 2>&1
	same "exit status of -c FILE --consumer NAME" "$?" 0 || rc=1
	out=$(q al_config -F ' ' -c "SELECT string_agg(claimed_by, ',' ORDER BY delivery_id)
		FROM inventory.alert_delivery WHERE delivery_id > 3")
	same "consumer of the second run" "$out" "from-flag,from-flag" || rc=1
	verify_deliveries al_config /cfg || rc=1
	[[ $rc -eq 0 ]] || cat "$workdir/daemon.config.log"
	return "$rc"
}

# ---------------------------------------------------------------------------
# Checks 9 and 10: leases and SIGTERM, each on a database of its own, with
# the receiver made slow (--delay) so that a batch takes longer than a lease
# ---------------------------------------------------------------------------

# restart_receiver [RECEIVER_ARG...]: the receiver again, on the same port,
# with these arguments (and none of the previous ones).
restart_receiver()
{
	stop_pid "$receiver_pid"
	receiver_pid=
	start_receiver "$@"
}

# posts_under PREFIX: how many POSTs the receiver logged to PREFIX/slack and
# PREFIX/sms, whatever it answered.
posts_under()
{
	python3 "$here/tally.py" "$posts" /nonexistent "$1" | wc -l
}

# posted_at_least PREFIX N: posts_under PREFIX is N or more.
posted_at_least()
{
	(($(posts_under "$1") >= $2))
}

# alert_db DB SKU TARGET: new_db DB, with one product (threshold 10) and one
# supplier-wide preference, Slack to TARGET: one delivery per crossing.
alert_db()
{
	new_db "$1" || return 1
	q "$1" >/dev/null <<-SQL
		INSERT INTO inventory.product (sku, name, low_stock_threshold)
		VALUES ('$2', 'slow webhook', 10);
		INSERT INTO inventory.alert_preference (channel, target)
		VALUES ('slack', '$3');
	SQL
}

# The daemon claims a batch at once but sends it one delivery at a time, so
# a batch can outlast its lease: then another consumer may claim (and send)
# what the first has not sent yet.  The daemon must renew its claim before
# each send and leave what it no longer holds.  Here daemon A claims all six
# with a 3 s lease and each POST takes 1 s; B starts 0.5 s later and, polling
# every second, is there to claim whatever lapses.
check_lease_outlasted()
{
	local rc=0 out posted

	alert_db al_lease LS-1 '#lease' || return 1
	cross al_lease 6 LS-1 || return 1
	out=$(q al_lease -c "SELECT count(*) FILTER (WHERE state = 'pending')
		FROM inventory.alert_delivery") || return 1
	same "pending deliveries before the daemons start" "$out" 6 || return 1

	restart_receiver --delay 1 || return 1
	start_daemon lease-a al_lease /lease --consumer lease-a --lease 3 --batch 10 || return 1
	sleep 0.5
	start_daemon lease-b al_lease /lease --consumer lease-b --lease 3 || return 1
	if ! wait_until 20 all_delivered al_lease; then
		echo "not all delivered within 20 s"
		rc=1
	fi
	# Both stopped before counting: whatever either was still sending is in.
	stop_daemon lease-a || rc=1
	stop_daemon lease-b || rc=1

	# Claimed more than once: the batch did outlast its lease (else this
	# check tested nothing).
	out=$(q al_lease -c "SELECT count(*) FROM inventory.alert_delivery WHERE attempts > 1") ||
		return 1
	echo "deliveries claimed again after their lease ran out: $out"
	if ! [[ $out =~ ^[0-9]+$ ]] || ((out == 0)); then
		echo "no claim ever lapsed: the batch did not outlast its lease"
		rc=1
	fi
	q al_lease -c "SELECT 'delivered by ' || string_agg(claimed_by || ': ' || n, ', ' ORDER BY claimed_by)
		FROM (SELECT claimed_by, count(*) AS n FROM inventory.alert_delivery
			  GROUP BY claimed_by) c"
	grep -ch 'claim lapsed' "$workdir"/daemon.lease-[ab].log |
		paste -sd ' ' | sed 's/^/claims found lapsed before sending (A, B): /'
	grep -h 'claimed by another consumer' "$workdir"/daemon.lease-[ab].log | head -n 3 |
		sed -E 's/^[0-9-]+ [0-9:]+ //'
	posted=$(posts_under /lease)
	same "POSTs to /lease" "$posted" 6 || rc=1
	verify_deliveries al_lease /lease || rc=1
	return "$rc"
}

# SIGTERM lets the delivery under way finish, and no more: the rest of the
# claimed batch is left claimed, to be claimed again once its lease runs out.
# Five deliveries, one batch, a 3 s lease, each POST taking 2 s: sending the
# whole batch would take 10 s.
check_term_mid_batch()
{
	local rc=0 out pid start secs i status posted

	alert_db al_term TM-1 '#term' || return 1
	cross al_term 5 TM-1 || return 1

	restart_receiver --delay 2 || return 1
	start_daemon term-1 al_term /term --consumer term-1 --lease 3 || return 1
	pid=${daemon_pid[term-1]}
	# The receiver logs a POST before its delay: the first is under way.
	if ! wait_until 10 posted_at_least /term 1; then
		echo "no POST within 10 s of the daemon's start"
		return 1
	fi
	# It should be gone about 2 s later (the POST's end, then up to --poll,
	# 1 s, spent in its wait for news); sending all five would take 10 s.
	# Allowed 4 s, timed by the clock; waited for up to 15 s (so that an old
	# daemon's POSTs are all counted), then killed.
	start=$(date +%s.%N)
	kill -TERM "$pid"
	for ((i = 0; i < 150; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	secs=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
	kill -KILL "$pid" 2>/dev/null && echo "term-1 ignored SIGTERM for 15 s: killed"
	wait "$pid"
	status=$?
	unset "daemon_pid[term-1]"
	posted=$(posts_under /term)
	echo "term-1 exited ${secs}s after SIGTERM, having POSTed $posted of 5"
	if awk -v s="$secs" 'BEGIN { exit !(s > 4.0) }'; then
		echo "term-1 took ${secs}s to stop after SIGTERM: want at most 4 s"
		rc=1
	fi
	same "term-1 exit status after SIGTERM" "$status" 0 || rc=1
	if ((posted > 2)); then
		echo "term-1 POSTed $posted of the 5 before it exited: want at most 2"
		rc=1
	fi
	# What it sent is marked; what it did not is still claimed by it.
	out=$(q al_term -F ' ' -c "SELECT count(*) FILTER (WHERE state = 'delivered'),
		count(*) FILTER (WHERE state = 'claimed' AND claimed_by = 'term-1')
		FROM inventory.alert_delivery") || return 1
	same "delivered, and left claimed by term-1" "$out" "$posted $((5 - posted))" || rc=1

	# Another consumer delivers the rest once term-1's lease has run out (no
	# need for a slow webhook any more).
	restart_receiver || return 1
	start_daemon term-2 al_term /term --consumer term-2 || return 1
	if ! wait_until 20 all_delivered al_term; then
		echo "not all delivered within 20 s of term-2's start"
		rc=1
	fi
	stop_daemon term-2 || rc=1
	q al_term -c "SELECT 'delivered by ' || string_agg(claimed_by || ': ' || n, ', ' ORDER BY claimed_by)
		FROM (SELECT claimed_by, count(*) AS n FROM inventory.alert_delivery
			  GROUP BY claimed_by) c"
	verify_deliveries al_term /term || rc=1
	return "$rc"
}

# ---------------------------------------------------------------------------

run_check 1 "one notification per crossing under 64 clients; none for a rollback" check_notify_race
run_check 2 "a SKU with quotes, backslashes, a line break and non-ASCII survives the payload" check_notify_sku
run_check 3 "the daemon delivers email, Slack and SMS, each exactly once" check_daemon_delivers
run_check 4 "alerts raised while the daemon is stopped are delivered when it starts" check_daemon_catches_up
run_check 5 "a webhook answering 500 is retried until delivered, POSTed once successfully" check_daemon_retries
run_check 6 "two daemons at once: every delivery exactly once" check_two_daemons
run_check 7 "the daemon reconnects after a database restart" check_restart
run_check 8 "--help, an unknown option, and a config file in place of flags" check_cli
run_check 9 "a batch that outlasts its lease is still delivered exactly once" check_lease_outlasted
run_check 10 "SIGTERM stops the daemon after the delivery under way" check_term_mid_batch

echo "# $passed passed, $failed failed"
((failed == 0))
