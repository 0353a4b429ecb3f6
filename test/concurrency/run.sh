#!/usr/bin/env bash
#
# test/concurrency/run.sh
#	Races between many sessions, driven by pgbench.
#
# Eight checks, each in a database of its own:
#
#   last_units  64 clients fight over one product's 1,000 units, reserving
#               1-3 units at a time and then confirming or releasing; demand
#               is several times the stock.  Afterwards nothing may be
#               oversold and every counter must agree with the reservations.
#   orders      64 clients place multi-line orders over 200 products (lines
#               in random order, products sometimes repeated, some products
#               short) and confirm, dispatch or release them as a whole,
#               while deliveries restock the short products.  No transaction
#               may fail (a deadlock would), and every product's counters
#               must agree with its reservations and restocks.
#   retries     64 clients reserve order lines and two-line orders under
#               references from a small pool, so the same line is often
#               reserved by several sessions at once (a retailer retrying
#               a request still in flight).  Each attempt must reserve or
#               return the first attempt's reservation: no error, no double
#               reservation.
#   last_units_slots
#               the last-units race on a product spread over 8 stock slots,
#               with a low-stock threshold, while one client in twenty
#               gathers the free units home to slot 0 instead of ordering:
#               the same checks, and every slot within its stock level, the
#               8 slots still there, and the threshold's crossing alerted.
#   rebuilt     64 clients reserve and confirm or release single units, half
#               of them on a product spread over 8 slots, while ANALYZE runs
#               on the extension's tables over and over, so that backends
#               rebuild their cache entries of the tables in the middle of
#               orders (which the order path's direct writes must survive).
#               No transaction may fail and every unit must be accounted for.
#   atomic      a two-line order that times out waiting for a slot held by
#               another session, inside a PL/pgSQL block that catches the
#               error, at READ COMMITTED, at REPEATABLE READ and through the
#               order path's SQL statements: nothing of it may stay, and the
#               session must be in a fresh transaction afterwards.
#   flip        orders on a product spread over 8 slots while one client in
#               32 switches it to or from made-to-order: no deadlock (the
#               switch locks the product and then its slots, so an order
#               locks the product before it takes a slot).
#   timeout     an order and a confirmation that time out waiting for rows
#               another session holds; the same session must then order and
#               confirm as usual.
#
# Contract (test/run_all.sh): PGHOST, PGPORT and PGUSER point at a running
# server where the extension is installed; print one line per check; exit 0
# only if every check passed.  INV_CONC_CLIENTS, INV_CONC_JOBS,
# INV_CONC_TRANSACTIONS, INV_CONC_ORDER_TRANSACTIONS,
# INV_CONC_RETRY_TRANSACTIONS, INV_CONC_REBUILT_TRANSACTIONS and
# INV_CONC_FLIP_TRANSACTIONS override the load (defaults 64 clients on 2
# threads; 40 transactions per client in the last-units race, 100 in the
# order run, 25 in the retry run, 100 in the rebuilt and flip runs).

set -u

here=$(cd "$(dirname "$0")" && pwd)

clients=${INV_CONC_CLIENTS:-64}
jobs=${INV_CONC_JOBS:-2}
transactions=${INV_CONC_TRANSACTIONS:-40}
order_transactions=${INV_CONC_ORDER_TRANSACTIONS:-100}
retry_transactions=${INV_CONC_RETRY_TRANSACTIONS:-25}
rebuilt_transactions=${INV_CONC_REBUILT_TRANSACTIONS:-100}
flip_transactions=${INV_CONC_FLIP_TRANSACTIONS:-100}
pgbench_timeout=${INV_CONC_TIMEOUT:-300}

# pgbench of the server's major version, whatever pg_config is first in PATH
pgbin=/usr/lib/postgresql/15/bin
if [ ! -x "$pgbin/pgbench" ]; then
	pgbin=$(pg_config --bindir)
fi
PGBENCH=$pgbin/pgbench
PSQL=$pgbin/psql
[ -x "$PSQL" ] || PSQL=psql

workdir=$(mktemp -d "${TMPDIR:-/tmp}/inv_concurrency.XXXXXX")
trap 'rm -rf "$workdir"' EXIT

failed=0

# Run psql quietly against database $1, unaligned and tuples only; stop at
# the first error.
conc_psql()
{
	local db=$1
	shift
	"$PSQL" -X -q -A -t -v ON_ERROR_STOP=1 -d "$db" "$@"
}

# Print diagnostics to stderr, each line marked as a comment.
conc_diag()
{
	sed 's/^/# /' >&2
}

# A fresh database with the extension created and configured for supplier 1.
conc_new_db()
{
	local db=$1 out

	"$pgbin/dropdb" --if-exists "$db" >/dev/null 2>&1
	if ! out=$("$pgbin/createdb" "$db" 2>&1) ||
		! out=$(conc_psql "$db" -c "CREATE EXTENSION inventory" \
			-c "SELECT inventory.inv_configure(1)" 2>&1); then
		echo "$out" | conc_diag
		return 1
	fi
}

# Run pgbench with script $3 against database $1, $2 transactions per
# client, extra options after that.  Sets bench_total, bench_rc, bench_done,
# bench_expected, bench_failed, bench_deadlocks, bench_aborted, bench_tps
# and bench_secs; the full output is in $workdir/$1.pgbench.log.
conc_pgbench()
{
	local db=$1 per_client=$2 script=$3 log="$workdir/$1.pgbench.log"
	local started ended
	shift 3

	bench_total=$((clients * per_client))
	started=$(date +%s.%N)
	timeout "$pgbench_timeout" "$PGBENCH" -n -c "$clients" -j "$jobs" \
		-t "$per_client" --failures-detailed -f "$script" "$@" "$db" \
		>"$log" 2>&1
	bench_rc=$?
	ended=$(date +%s.%N)
	bench_secs=$(awk -v a="$started" -v b="$ended" 'BEGIN { printf "%.1f", b - a }')

	bench_done=$(sed -n 's/^number of transactions actually processed: \([0-9]*\)\/\([0-9]*\).*/\1/p' "$log")
	bench_expected=$(sed -n 's/^number of transactions actually processed: \([0-9]*\)\/\([0-9]*\).*/\2/p' "$log")
	bench_failed=$(sed -n 's/^number of failed transactions: \([0-9]*\).*/\1/p' "$log")
	bench_deadlocks=$(sed -n 's/^number of deadlock failures: \([0-9]*\).*/\1/p' "$log")
	bench_tps=$(sed -n 's/^tps = \([0-9]*\).*/\1/p' "$log" | head -n 1)
	bench_aborted=$(grep -c 'aborted in command' "$log")
	: "${bench_done:=?}" "${bench_expected:=?}" "${bench_failed:=?}"
	: "${bench_deadlocks:=?}" "${bench_tps:=?}"
}

# Are all arguments integers?  Guards the arithmetic on a query's output.
conc_all_numbers()
{
	local v

	for v in "$@"; do
		[[ $v =~ ^-?[0-9]+$ ]] || return 1
	done
}

# Did the last pgbench run finish every transaction with no failure?
conc_pgbench_clean()
{
	[ "$bench_rc" -eq 0 ] &&
		[ "$bench_failed" = 0 ] &&
		[ "$bench_aborted" -eq 0 ] &&
		[ "$bench_done" = "$bench_expected" ] &&
		[ "$bench_done" = "$bench_total" ]
}

# Show why the last pgbench run was not clean: its first few errors, how
# many there were in all, and its summary.
conc_pgbench_diag()
{
	local log="$workdir/$1.pgbench.log"

	{
		echo "pgbench exit $bench_rc, $(grep -c 'ERROR: ' "$log") error(s); the first:"
		grep 'ERROR: ' "$log" | head -n 5
		grep -E '^(number of|pgbench: error: Run was aborted)' "$log"
	} | conc_diag
}

# ---------------------------------------------------------------------------
# Check 1: the last units of one product.
# ---------------------------------------------------------------------------
check_last_units()
{
	local slots=${1:-}
	local db=inv_conc_last_units${slots:+_slots} product row ok=1 reasons=""
	local name=last_units${slots:+_slots} slot_row
	local stock reserved committed available open_qty confirmed_qty held_qty
	local n_all n_confirmed n_released n_open n_other verify_rows shortages
	local script="$here/last_units.pgbench" extra=()

	if ! conc_new_db "$db" ||
		! product=$(conc_psql "$db" -f "$here/last_units_setup.sql" 2>&1); then
		echo "FAIL $name: setup failed"
		echo "$product" | conc_diag
		return 1
	fi
	if [ -n "$slots" ]; then
		if ! out=$(conc_psql "$db" -c "UPDATE inventory.product SET low_stock_threshold = 100" \
			-c "SELECT inventory.inv_set_slots($product, $slots)" 2>&1); then
			echo "FAIL $name: setup failed"
			echo "$out" | conc_diag
			return 1
		fi
		script="$here/last_units.pgbench@19"
		extra=("-f" "$here/last_units_slots.pgbench@1")
	fi

	conc_pgbench "$db" "$transactions" "$script" "${extra[@]}" \
		-D product="$product"

	if ! row=$(conc_psql "$db" -F ' ' -f "$here/last_units_check.sql" 2>&1) ||
		[ -z "$row" ]; then
		echo "FAIL $name: final check query failed"
		echo "$row" | conc_diag
		return 1
	fi
	read -r stock reserved committed available open_qty confirmed_qty \
		held_qty n_all n_confirmed n_released n_open n_other verify_rows \
		<<<"$row"
	if ! conc_all_numbers "$stock" "$reserved" "$committed" "$available" \
		"$open_qty" "$confirmed_qty" "$held_qty" "$n_all" "$n_confirmed" \
		"$n_released" "$n_open" "$n_other" "$verify_rows"; then
		echo "FAIL $name: unexpected final state: $row"
		return 1
	fi
	shortages=$((bench_total - n_all))
	if [ -n "$slots" ]; then
		# One transaction in twenty gathers instead of ordering: count the
		# ordering ones from pgbench's per-script summary.
		local ordering
		ordering=$(awk '/^SQL script [0-9]+: .*last_units\.pgbench/ { s = 1; next }
			s && /^ - [0-9]+ transactions/ { print $2; exit }' \
			"$workdir/$db.pgbench.log")
		conc_all_numbers "$ordering" && shortages=$((ordering - n_all))
		slot_row=$(conc_psql "$db" -F ' ' -c "SELECT count(*), count(*) FILTER (WHERE reserved > stock_level), (SELECT count(*) FROM inventory.alert) FROM inventory.stock_slot WHERE product_id = $product" 2>&1)
	fi

	if ! conc_pgbench_clean; then
		ok=0
		reasons="$reasons pgbench-not-clean"
		conc_pgbench_diag "$db"
	fi
	[ $((stock + committed)) -eq 1000 ] || { ok=0; reasons="$reasons stock+committed<>1000"; }
	[ "$reserved" -eq "$open_qty" ] || { ok=0; reasons="$reasons reserved<>open"; }
	[ "$committed" -eq "$confirmed_qty" ] || { ok=0; reasons="$reasons committed<>confirmed"; }
	[ "$available" -ge 0 ] || { ok=0; reasons="$reasons available<0"; }
	[ "$held_qty" -le 1000 ] || { ok=0; reasons="$reasons oversold"; }
	if [ -n "$slots" ]; then
		local n_slots over_slots alerts
		read -r n_slots over_slots alerts <<<"$slot_row"
		if ! conc_all_numbers "$n_slots" "$over_slots" "$alerts"; then
			echo "FAIL $name: unexpected slot state: $slot_row"
			return 1
		fi
		[ "$n_slots" -eq "$slots" ] || { ok=0; reasons="$reasons slots<>$slots"; }
		[ "$over_slots" -eq 0 ] || { ok=0; reasons="$reasons slot-oversold"; }
		[ "$alerts" -ge 1 ] || { ok=0; reasons="$reasons no-alert"; }
	fi
	[ "$n_other" -eq 0 ] || { ok=0; reasons="$reasons unexpected-states"; }
	[ "$verify_rows" -eq 0 ] || { ok=0; reasons="$reasons inv_verify"; }
	# The race must actually have run the stock out.
	[ "$shortages" -gt 0 ] || { ok=0; reasons="$reasons no-shortage"; }
	if [ "$verify_rows" -ne 0 ]; then
		conc_psql "$db" -c "SELECT * FROM inventory.inv_verify()" 2>&1 | conc_diag
	fi

	if [ $ok -eq 1 ]; then
		printf 'PASS'
	else
		printf 'FAIL'
	fi
	printf ' %s: %s/%s transactions, %s failed, %s in %ss (%s tps);' "$name" \
		"$bench_done" "$bench_expected" "$bench_failed" \
		"$clients clients" "$bench_secs" "$bench_tps"
	printf ' %s reservations (%s confirmed, %s released, %s open), %s short;' \
		"$n_all" "$n_confirmed" "$n_released" "$n_open" "$shortages"
	printf ' stock_level %s + committed %s = %s, reserved %s = open %s, available %s, held %s <= 1000, inv_verify rows %s' \
		"$stock" "$committed" $((stock + committed)) "$reserved" \
		"$open_qty" "$available" "$held_qty" "$verify_rows"
	[ -z "$slots" ] || printf '; slots, slots oversold, alerts: %s' "$slot_row"
	[ $ok -eq 1 ] || printf ' [%s ]' "$reasons"
	printf '\n'

	[ $ok -eq 1 ] && "$pgbin/dropdb" --if-exists "$db" >/dev/null 2>&1
	[ $ok -eq 1 ]
}

# ---------------------------------------------------------------------------
# Check 2: multi-line orders over many products.
# ---------------------------------------------------------------------------
check_orders()
{
	local db=inv_conc_orders out row ok=1 reasons=""
	local products orders reservation_rows restocks bad_stock_level
	local bad_reserved bad_committed bad_available bad_orders split_orders
	local stray_rows verify_rows

	if ! conc_new_db "$db" ||
		! out=$(conc_psql "$db" -f "$here/orders_setup.sql" 2>&1); then
		echo "FAIL orders: setup failed"
		echo "$out" | conc_diag
		return 1
	fi

	conc_pgbench "$db" "$order_transactions" "$here/orders.pgbench"

	if ! row=$(conc_psql "$db" -F ' ' -f "$here/orders_check.sql" 2>&1) ||
		[ -z "$row" ]; then
		echo "FAIL orders: final check query failed"
		echo "$row" | conc_diag
		return 1
	fi
	read -r products orders reservation_rows restocks bad_stock_level \
		bad_reserved bad_committed bad_available bad_orders split_orders \
		stray_rows verify_rows <<<"$row"
	if ! conc_all_numbers "$products" "$orders" "$reservation_rows" \
		"$restocks" "$bad_stock_level" "$bad_reserved" "$bad_committed" \
		"$bad_available" "$bad_orders" "$split_orders" "$stray_rows" \
		"$verify_rows"; then
		echo "FAIL orders: unexpected final state: $row"
		return 1
	fi

	if ! conc_pgbench_clean; then
		ok=0
		reasons="$reasons pgbench-not-clean"
		conc_pgbench_diag "$db"
	fi
	[ "$products" -eq 200 ] || { ok=0; reasons="$reasons products<>200"; }
	[ "$orders" -gt 0 ] || { ok=0; reasons="$reasons no-orders"; }
	[ "$bad_stock_level" -eq 0 ] || { ok=0; reasons="$reasons stock_level"; }
	[ "$bad_reserved" -eq 0 ] || { ok=0; reasons="$reasons reserved"; }
	[ "$bad_committed" -eq 0 ] || { ok=0; reasons="$reasons committed"; }
	[ "$bad_available" -eq 0 ] || { ok=0; reasons="$reasons available"; }
	[ "$bad_orders" -eq 0 ] || { ok=0; reasons="$reasons order-lines"; }
	[ "$split_orders" -eq 0 ] || { ok=0; reasons="$reasons split-orders"; }
	[ "$stray_rows" -eq 0 ] || { ok=0; reasons="$reasons stray-rows"; }
	[ "$verify_rows" -eq 0 ] || { ok=0; reasons="$reasons inv_verify"; }
	if [ "$verify_rows" -ne 0 ]; then
		conc_psql "$db" -c "SELECT * FROM inventory.inv_verify() LIMIT 20" 2>&1 | conc_diag
	fi

	if [ $ok -eq 1 ]; then
		printf 'PASS'
	else
		printf 'FAIL'
	fi
	printf ' orders: %s/%s transactions, %s failed (%s deadlocks), %s in %ss (%s tps);' \
		"$bench_done" "$bench_expected" "$bench_failed" "$bench_deadlocks" \
		"$clients clients" "$bench_secs" "$bench_tps"
	printf ' %s orders accepted, %s short; %s reservation rows, %s restocks;' \
		"$orders" $((bench_total - orders)) "$reservation_rows" \
		"$restocks"
	printf ' products off: stock_level %s, reserved %s, committed %s, available %s; orders off %s, split %s, stray rows %s; inv_verify rows %s' \
		"$bad_stock_level" "$bad_reserved" "$bad_committed" "$bad_available" \
		"$bad_orders" "$split_orders" "$stray_rows" "$verify_rows"
	[ $ok -eq 1 ] || printf ' [%s ]' "$reasons"
	printf '\n'

	[ $ok -eq 1 ] && "$pgbin/dropdb" --if-exists "$db" >/dev/null 2>&1
	[ $ok -eq 1 ]
}

# ---------------------------------------------------------------------------
# Check 3: the same order lines reserved by several sessions at once.
# ---------------------------------------------------------------------------
check_retries()
{
	local db=inv_conc_retries ids p1 p2 row ok=1 reasons=""
	local single_refs order_refs reservation_rows bad_orders off_1 off_2
	local bad_quantities verify_rows errors

	if ! conc_new_db "$db" ||
		! ids=$(conc_psql "$db" -F ' ' -f "$here/retries_setup.sql" 2>&1); then
		echo "FAIL retries: setup failed"
		echo "$ids" | conc_diag
		return 1
	fi
	read -r p1 p2 <<<"$ids"

	conc_pgbench "$db" "$retry_transactions" "$here/retries.pgbench" \
		-D p1="$p1" -D p2="$p2"

	if ! row=$(conc_psql "$db" -F ' ' -f "$here/retries_check.sql" 2>&1) ||
		[ -z "$row" ]; then
		echo "FAIL retries: final check query failed"
		echo "$row" | conc_diag
		return 1
	fi
	read -r single_refs order_refs reservation_rows bad_orders off_1 off_2 \
		bad_quantities verify_rows <<<"$row"
	if ! conc_all_numbers "$single_refs" "$order_refs" "$reservation_rows" \
		"$bad_orders" "$off_1" "$off_2" "$bad_quantities" "$verify_rows"; then
		echo "FAIL retries: unexpected final state: $row"
		return 1
	fi
	errors=$(grep -c 'ERROR: ' "$workdir/$db.pgbench.log")

	if ! conc_pgbench_clean; then
		ok=0
		reasons="$reasons pgbench-not-clean"
		conc_pgbench_diag "$db"
	fi
	[ $((single_refs + 2 * order_refs)) -eq "$reservation_rows" ] ||
		{ ok=0; reasons="$reasons rows<>lines"; }
	[ "$bad_orders" -eq 0 ] || { ok=0; reasons="$reasons partial-orders"; }
	[ "$off_1" -eq 0 ] || { ok=0; reasons="$reasons reserved-1"; }
	[ "$off_2" -eq 0 ] || { ok=0; reasons="$reasons reserved-2"; }
	[ "$bad_quantities" -eq 0 ] || { ok=0; reasons="$reasons quantities"; }
	[ "$verify_rows" -eq 0 ] || { ok=0; reasons="$reasons inv_verify"; }

	if [ $ok -eq 1 ]; then
		printf 'PASS'
	else
		printf 'FAIL'
	fi
	printf ' retries: %s/%s transactions, %s failed, %s errors, %s in %ss (%s tps);' \
		"$bench_done" "$bench_expected" "$bench_failed" "$errors" \
		"$clients clients" "$bench_secs" "$bench_tps"
	printf ' %s order lines and %s two-line orders held by %s reservation rows; reserved off by %s and %s; inv_verify rows %s' \
		"$single_refs" "$order_refs" "$reservation_rows" "$off_1" "$off_2" \
		"$verify_rows"
	[ $ok -eq 1 ] || printf ' [%s ]' "$reasons"
	printf '\n'

	[ $ok -eq 1 ] && "$pgbin/dropdb" --if-exists "$db" >/dev/null 2>&1
	[ $ok -eq 1 ]
}

# ---------------------------------------------------------------------------
# Check 5: orders while the tables' cache entries are rebuilt.
# ---------------------------------------------------------------------------
check_rebuilt()
{
	local db=inv_conc_rebuilt first row ok=1 reasons="" analyzes=0
	local before after reserved open_qty verify_rows analyzer

	if ! conc_new_db "$db" ||
		! first=$(conc_psql "$db" -f "$here/rebuilt_setup.sql" 2>&1); then
		echo "FAIL rebuilt: setup failed"
		echo "$first" | conc_diag
		return 1
	fi
	before=$(conc_psql "$db" -c "SELECT sum(stock_level + committed) FROM inventory.stock_slot")

	# ANALYZE changes each table's statistics in pg_class, which makes every
	# backend rebuild its cache entry of the table at its next look.
	: >"$workdir/$db.analyze"
	(
		while [ ! -e "$workdir/$db.done" ]; do
			conc_psql "$db" -c "ANALYZE inventory.stock_slot" \
				-c "ANALYZE inventory.reservation" \
				-c "ANALYZE inventory.ledger" \
				-c "ANALYZE inventory.product" >/dev/null 2>&1 &&
				echo >>"$workdir/$db.analyze"
		done
	) &
	analyzer=$!
	conc_pgbench "$db" "$rebuilt_transactions" "$here/rebuilt.pgbench" \
		-D first="$first"
	touch "$workdir/$db.done"
	wait "$analyzer"
	analyzes=$(wc -l <"$workdir/$db.analyze")

	if ! row=$(conc_psql "$db" -F ' ' -c "
		SELECT (SELECT sum(stock_level + committed) FROM inventory.stock_slot),
		       (SELECT sum(reserved) FROM inventory.stock_slot),
		       (SELECT coalesce(sum(quantity), 0) FROM inventory.reservation
		         WHERE state = 'reserved'),
		       (SELECT count(*) FROM inventory.inv_verify())" 2>&1) ||
		[ -z "$row" ]; then
		echo "FAIL rebuilt: final check query failed"
		echo "$row" | conc_diag
		return 1
	fi
	read -r after reserved open_qty verify_rows <<<"$row"
	if ! conc_all_numbers "$before" "$after" "$reserved" "$open_qty" \
		"$verify_rows"; then
		echo "FAIL rebuilt: unexpected final state: $row"
		return 1
	fi

	if ! conc_pgbench_clean; then
		ok=0
		reasons="$reasons pgbench-not-clean"
		conc_pgbench_diag "$db"
	fi
	[ "$before" -eq "$after" ] || { ok=0; reasons="$reasons stock+committed-moved"; }
	[ "$reserved" -eq "$open_qty" ] || { ok=0; reasons="$reasons reserved<>open"; }
	[ "$verify_rows" -eq 0 ] || { ok=0; reasons="$reasons inv_verify"; }
	[ "$analyzes" -ge 3 ] || { ok=0; reasons="$reasons too-few-analyzes"; }

	if [ $ok -eq 1 ]; then
		printf 'PASS'
	else
		printf 'FAIL'
	fi
	printf ' rebuilt: %s/%s transactions, %s failed, %s in %ss (%s tps), %s rounds of ANALYZE meanwhile;' \
		"$bench_done" "$bench_expected" "$bench_failed" "$clients clients" \
		"$bench_secs" "$bench_tps" "$analyzes"
	printf ' stock_level + committed %s before, %s after; reserved %s = open %s; inv_verify rows %s' \
		"$before" "$after" "$reserved" "$open_qty" "$verify_rows"
	[ $ok -eq 1 ] || printf ' [%s ]' "$reasons"
	printf '\n'

	[ $ok -eq 1 ] && "$pgbin/dropdb" --if-exists "$db" >/dev/null 2>&1
	[ $ok -eq 1 ]
}

# ---------------------------------------------------------------------------
# Check 6: an order that fails while waiting for a slot leaves nothing.
# ---------------------------------------------------------------------------
check_atomic()
{
	local db=inv_conc_atomic out holder variant iso row ok=1 reasons=""
	local results=""

	if ! conc_new_db "$db" ||
		! out=$(conc_psql "$db" -f "$here/atomic_setup.sql" 2>&1); then
		echo "FAIL atomic: setup failed"
		echo "$out" | conc_diag
		return 1
	fi

	# Each variant: another session holds every slot of ATOM-HOT for 3 s,
	# and the order times out waiting for one.  "statements": a trigger of
	# someone else's on the stock table sends the order path through its
	# SQL statements, whose waits run in subtransactions.
	for variant in direct repeatable statements; do
		iso="READ COMMITTED"
		[ "$variant" = repeatable ] && iso="REPEATABLE READ"
		if [ "$variant" = statements ]; then
			conc_psql "$db" -c "CREATE FUNCTION public.atomic_noop() RETURNS trigger LANGUAGE plpgsql AS 'BEGIN RETURN NEW; END'" \
				-c "CREATE TRIGGER atomic_noop BEFORE UPDATE ON inventory.stock_slot FOR EACH ROW EXECUTE FUNCTION public.atomic_noop()" >/dev/null 2>&1
		fi
		conc_psql "$db" -c "BEGIN" \
			-c "SELECT s.slot FROM inventory.stock_slot s JOIN inventory.product p USING (supplier_id, product_id) WHERE p.sku = 'ATOM-HOT' FOR UPDATE OF s" \
			-c "SELECT pg_sleep(3)" -c "COMMIT" >/dev/null 2>&1 &
		holder=$!
		sleep 1
		row=$("$PSQL" -X -q -A -t -F ' ' -v ON_ERROR_STOP=1 -v iso="$iso" \
			-d "$db" -f "$here/atomic_order.sql" 2>"$workdir/$db.$variant.err")
		wait "$holder"
		results="$results $variant: $row;"
		if [ "$row" != "t 0 0" ]; then
			ok=0
			reasons="$reasons $variant-kept-something"
		fi
		if ! grep -q 'the order timed out' "$workdir/$db.$variant.err"; then
			ok=0
			reasons="$reasons $variant-did-not-time-out"
		fi
		if grep -q -E 'WARNING|FATAL|ERROR' "$workdir/$db.$variant.err"; then
			ok=0
			reasons="$reasons $variant-warnings"
			conc_diag <"$workdir/$db.$variant.err"
		fi
	done

	if [ $ok -eq 1 ]; then
		printf 'PASS'
	else
		printf 'FAIL'
	fi
	printf ' atomic: a two-line order timing out on a busy slot, caught by a PL/pgSQL handler, at READ COMMITTED (direct writes), REPEATABLE READ and through the SQL statements; fresh transaction after, lines kept, units held:%s' \
		"$results"
	[ $ok -eq 1 ] || printf ' [%s ]' "$reasons"
	printf '\n'

	[ $ok -eq 1 ] && "$pgbin/dropdb" --if-exists "$db" >/dev/null 2>&1
	[ $ok -eq 1 ]
}

# ---------------------------------------------------------------------------
# Check 7: orders on a product spread over slots while it changes between
# stocked and made-to-order.
# ---------------------------------------------------------------------------
check_flip()
{
	local db=inv_conc_flip out row ok=1 reasons="" verify_rows flips

	if ! conc_new_db "$db" ||
		! out=$(conc_psql "$db" \
			-c "INSERT INTO inventory.product (sku, name) VALUES ('FLIP-1', 'flip race')" \
			-c "SELECT stock_level FROM inventory.inv_adjust('FLIP-1', 1000000, 'set')" \
			-c "SELECT inventory.inv_set_slots('FLIP-1', 8)" 2>&1); then
		echo "FAIL flip: setup failed"
		echo "$out" | conc_diag
		return 1
	fi

	conc_pgbench "$db" "$flip_transactions" "$here/flip_order.pgbench@31" \
		-f "$here/flip_flip.pgbench@1"
	flips=$(awk '/^SQL script [0-9]+: .*flip_flip\.pgbench/ { s = 1; next }
		s && /^ - [0-9]+ transactions/ { print $2; exit }' \
		"$workdir/$db.pgbench.log")
	verify_rows=$(conc_psql "$db" -c "SELECT count(*) FROM inventory.inv_verify()" 2>&1)
	if ! conc_all_numbers "$verify_rows" "${flips:-x}"; then
		echo "FAIL flip: unexpected final state: $verify_rows, $flips flips"
		return 1
	fi

	if ! conc_pgbench_clean; then
		ok=0
		reasons="$reasons pgbench-not-clean"
		conc_pgbench_diag "$db"
	fi
	[ "$flips" -gt 0 ] || { ok=0; reasons="$reasons no-flips"; }
	[ "$verify_rows" -eq 0 ] || { ok=0; reasons="$reasons inv_verify"; }

	if [ $ok -eq 1 ]; then
		printf 'PASS'
	else
		printf 'FAIL'
	fi
	printf ' flip: %s/%s transactions, %s failed (%s deadlocks), %s in %ss (%s tps), %s of them switching the product to or from made-to-order; inv_verify rows %s' \
		"$bench_done" "$bench_expected" "$bench_failed" "$bench_deadlocks" \
		"$clients clients" "$bench_secs" "$bench_tps" "$flips" "$verify_rows"
	[ $ok -eq 1 ] || printf ' [%s ]' "$reasons"
	printf '\n'

	[ $ok -eq 1 ] && "$pgbin/dropdb" --if-exists "$db" >/dev/null 2>&1
	[ $ok -eq 1 ]
}

# ---------------------------------------------------------------------------
# Check 8: a session whose order times out waiting for a row goes on working.
# ---------------------------------------------------------------------------
check_timeout()
{
	local db=inv_conc_timeout out held holder ok=1 reasons=""

	if ! conc_new_db "$db" ||
		! held=$(conc_psql "$db" \
			-c "INSERT INTO inventory.product (sku, name) VALUES ('TIMEOUT-1', 'held'), ('TIMEOUT-2', 'free')" \
			-c "SELECT stock_level FROM inventory.inv_adjust('TIMEOUT-1', 10, 'set')" \
			-c "SELECT stock_level FROM inventory.inv_adjust('TIMEOUT-2', 10, 'set')" \
			-c "SELECT reservation_id FROM inventory.inv_reserve('timeout-held', 'TIMEOUT-2', 1)" 2>&1 | tail -n 1); then
		echo "FAIL timeout: setup failed"
		echo "$held" | conc_diag
		return 1
	fi

	# Another session holds TIMEOUT-1's stock row and the reservation
	conc_psql "$db" -c "BEGIN" \
		-c "SELECT 1 FROM inventory.stock_slot s JOIN inventory.product p USING (supplier_id, product_id) WHERE p.sku = 'TIMEOUT-1' FOR UPDATE OF s" \
		-c "SELECT 1 FROM inventory.reservation WHERE reservation_id = $held FOR UPDATE" \
		-c "SELECT pg_sleep(2)" -c "COMMIT" >/dev/null 2>&1 &
	holder=$!
	sleep 0.5
	out=$("$PSQL" -X -q -A -t -v held="$held" -d "$db" \
		-f "$here/timeout_session.sql" 2>&1)
	wait "$holder"

	[ "$(grep -c 'canceling statement due to statement timeout' <<<"$out")" -eq 2 ] ||
		{ ok=0; reasons="$reasons no-timeouts"; }
	grep -q '^after: 1$' <<<"$out" || { ok=0; reasons="$reasons order-after-failed"; }
	grep -q '^after: confirmed$' <<<"$out" || { ok=0; reasons="$reasons confirm-after-failed"; }
	[ $ok -eq 1 ] || echo "$out" | conc_diag

	if [ $ok -eq 1 ]; then
		printf 'PASS'
	else
		printf 'FAIL'
	fi
	printf ' timeout: an order and a confirmation time out waiting for rows another session holds; the same session then orders and confirms'
	[ $ok -eq 1 ] || printf ' [%s ]' "$reasons"
	printf '\n'

	[ $ok -eq 1 ] && "$pgbin/dropdb" --if-exists "$db" >/dev/null 2>&1
	[ $ok -eq 1 ]
}

check_last_units || failed=$((failed + 1))
check_orders || failed=$((failed + 1))
check_retries || failed=$((failed + 1))
check_last_units 8 || failed=$((failed + 1))
check_rebuilt || failed=$((failed + 1))
check_atomic || failed=$((failed + 1))
check_flip || failed=$((failed + 1))
check_timeout || failed=$((failed + 1))

[ $failed -eq 0 ]
