#!/bin/bash
#
# test/replay/run.sh
#	Replay a month of real order lines through the extension and check the
#	outcome against an independent computation.
#
# Input: ../shared/data/online_retail_2010-12_order_lines.csv beside the
# project root (override the folder with INV_DATA_DIR).  When it is absent
# the suite says so and exits 77, which test/run_all.sh reports as skipped.
#
# Rules (README.md has the long form; expected.py implements them without
# PostgreSQL, replay.sql through the extension):
#  - Goods: StockCode matching ^[0-9]{5}[A-Za-z]*$, SKU = upper(StockCode);
#    every other line (POST, M, DOT, AMAZONFEE, gift_..., ...) is skipped.
#  - Catalogue: one product per goods SKU, opening stock
#    floor(0.6 * its positive quantity over the file), set with
#    inv_adjust(sku, n, 'set', 'opening stock').
#  - Each InvoiceNo is one event, in order of first appearance.  Its negative
#    lines are returns, applied first, one inv_adjust(sku, |q|, 'delta',
#    'return <invoice>') each; its positive lines form one order,
#    inv_reserve_order(invoice, skus, quantities) then inv_confirm_order.
#    IV002 rejects the order (returns stay applied); any other error fails.
#  - Sequential run: one session, COMMIT after each invoice; accepted
#    invoices, confirmed lines, committed and final stock per SKU must equal
#    expected.py's, and inv_verify() must return no rows.
#  - Concurrent run: a fresh database, invoice k of the file goes to share
#    k % 8, eight psql sessions at once (returns applied in product_id
#    order); every worker must succeed, and per product stock_level +
#    committed = opening + returned, reserved = 0, confirmed quantities sum
#    to committed, each order all or nothing, inv_verify() empty.  Which
#    orders win the last units depends on how the sessions interleave, so
#    its counts differ from the sequential run's by design.
#
# Needs PGHOST/PGPORT/PGUSER exported and the extension installed.  Creates
# the databases replay_seq and replay_par (dropping any left over) and leaves
# them behind for inspection.  Prints one TAP-style line per check and exits
# 0 only if every check passed, 77 if skipped for want of the data.
#

set -u

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
DATA_DIR=${INV_DATA_DIR:-$ROOT/../shared/data}
CSV=$DATA_DIR/online_retail_2010-12_order_lines.csv
WORKERS=8
SUPPLIER_ID=1
# Exit status for "skipped", as test/run_all.sh (and automake) read it.
SKIP=77

if [ ! -r "$CSV" ]; then
	echo "1..0 # SKIP replay: the data is absent ($CSV not found)"
	exit $SKIP
fi

TMP=$(mktemp -d "${TMPDIR:-/tmp}/inv_replay.XXXXXX")
trap 'rm -rf "$TMP"' EXIT

n=0
failed=0

# ok DESCRIPTION / not_ok DESCRIPTION: print one check's result.
ok()
{
	n=$((n + 1))
	echo "ok $n - $1"
}

not_ok()
{
	n=$((n + 1))
	failed=$((failed + 1))
	echo "not ok $n - $1"
}

# note TEXT: a line of information, not a check.
note()
{
	echo "# $*"
}

# q DB SQL: run SQL in DB, unaligned tuples-only, tab-separated.
q()
{
	psql -X -q -v ON_ERROR_STOP=1 -At -F $'\t' -d "$1" -c "$2"
}

# check_query DB DESCRIPTION WANT SQL: pass if SQL's single value is WANT.
check_query()
{
	local got

	got=$(q "$1" "$4" 2>&1)
	if [ "$got" = "$3" ]; then
		ok "$2"
	else
		not_ok "$2"
		note "wanted '$3', got:"
		printf '%s\n' "$got" | head -20 | sed 's/^/#   /'
	fi
}

# check_same DB DESCRIPTION FILE SQL: pass if SQL returns exactly FILE's rows.
check_same()
{
	local got=$TMP/got.$n

	if ! q "$1" "$4" >"$got.raw" 2>&1; then
		not_ok "$2"
		head -20 "$got.raw" | sed 's/^/#   /'
		return
	fi
	LC_ALL=C sort "$got.raw" >"$got"
	if LC_ALL=C sort "$3" | cmp -s - "$got"; then
		ok "$2 ($(wc -l <"$got") rows)"
	else
		not_ok "$2"
		note "diff (< expected, > database), first lines:"
		LC_ALL=C sort "$3" | diff - "$got" | head -20 | sed 's/^/#   /'
	fi
}

# setup_db DB: fresh database with the extension, the driver, the lines and
# the catalogue; prints checks for each step and returns non-zero on failure.
setup_db()
{
	local db=$1 out csv_q

	dropdb --if-exists --force "$db" >/dev/null 2>&1
	if ! out=$( (createdb -T template0 -E UTF8 --locale=C "$db" &&
				 q "$db" "CREATE EXTENSION inventory" &&
				 q "$db" "SELECT inventory.inv_configure($SUPPLIER_ID)" &&
				 psql -X -q -v ON_ERROR_STOP=1 -d "$db" -f "$HERE/replay.sql") 2>&1); then
		not_ok "$db: database, extension and driver created"
		printf '%s\n' "$out" | head -20 | sed 's/^/#   /'
		return 1
	fi
	ok "$db: database, extension and driver created"

	csv_q=${CSV//\'/\'\'}
	if ! out=$(psql -X -q -v ON_ERROR_STOP=1 -d "$db" -c "\\copy replay.line (invoice_no, stock_code, description, quantity, invoice_date, unit_price, customer_id, country) FROM '$csv_q' WITH (FORMAT csv, HEADER true, ENCODING 'UTF8')" 2>&1); then
		not_ok "$db: order lines loaded with \\copy"
		printf '%s\n' "$out" | head -20 | sed 's/^/#   /'
		return 1
	fi
	check_query "$db" "$db: all $EXP_LINES order lines loaded" "$EXP_LINES" \
		"SELECT count(*) FROM replay.line"

	if ! out=$(q "$db" "CALL replay.prepare()" 2>&1); then
		not_ok "$db: catalogue created and opening stock set"
		printf '%s\n' "$out" | head -20 | sed 's/^/#   /'
		return 1
	fi
	check_same "$db" "$db: catalogue and opening stock as expected" \
		"$EXP/catalogue.tsv" \
		"SELECT sku, stock_level FROM inventory.stock"
	return 0
}

# elapsed FROM TO: seconds between two `date +%s.%N` stamps, one decimal.
elapsed()
{
	awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'
}

# expect KEY: a count printed by expected.py.
expect()
{
	sed -n "s/^$1=//p" "$EXP/summary"
}

start=$(date +%s.%N)

#
# The expectation, computed without PostgreSQL.
#
EXP=$TMP/expected
if ! python3 "$HERE/expected.py" "$CSV" "$EXP" >"$TMP/expected.out" 2>&1; then
	not_ok "expected.py computed the expected outcome"
	sed 's/^/#   /' "$TMP/expected.out" | head -20
	echo "# 1 check(s) failed"
	exit 1
fi
cp "$TMP/expected.out" "$EXP/summary"
ok "expected.py computed the expected outcome"
EXP_LINES=$(expect lines)
EXP_ACCEPTED=$(expect accepted)
EXP_REJECTED=$(expect rejected)
EXP_RETURNS=$(expect return_only)
EXP_NO_GOODS=$(expect no_goods)
EXP_INVOICES=$(expect invoices)
note "expected: $EXP_INVOICES invoices: $EXP_ACCEPTED accepted," \
	"$EXP_REJECTED rejected, $EXP_RETURNS returns only," \
	"$EXP_NO_GOODS without goods; $(expect products) products," \
	"$(expect opening_units) units opening stock, $(expect returned_units)" \
	"returned, $(expect committed_units) committed, $(expect final_units) left"

#
# Sequential run: one session, invoices in file order.
#
DB=replay_seq
if setup_db $DB; then
	t0=$(date +%s.%N)
	if out=$(q $DB "CALL replay.run()" 2>&1); then
		ok "$DB: every invoice replayed without an error other than IV002"
	else
		not_ok "$DB: every invoice replayed without an error other than IV002"
		printf '%s\n' "$out" | head -20 | sed 's/^/#   /'
	fi
	t1=$(date +%s.%N)

	check_same $DB "$DB: accepted invoices (with confirmed reservations) as expected" \
		"$EXP/accepted.txt" \
		"SELECT DISTINCT order_ref FROM inventory.reservation
		 WHERE state = 'confirmed'"
	check_same $DB "$DB: rejected invoices as expected" \
		"$EXP/rejected.txt" \
		"SELECT invoice_no FROM replay.outcome WHERE outcome = 'rejected'"
	check_query $DB "$DB: no reservation is in any state but confirmed" "0" \
		"SELECT count(*) FROM inventory.reservation
		 WHERE state <> 'confirmed'"
	check_same $DB "$DB: confirmed reservation lines as expected" \
		"$EXP/reservations.tsv" \
		"SELECT r.order_ref, p.sku, r.quantity
		 FROM inventory.reservation r
		 JOIN inventory.product p USING (supplier_id, product_id)
		 WHERE r.state = 'confirmed'"
	check_same $DB "$DB: units committed per SKU as expected" \
		"$EXP/committed.tsv" \
		"SELECT sku, committed FROM inventory.stock"
	check_same $DB "$DB: final stock level per SKU as expected" \
		"$EXP/final.tsv" \
		"SELECT sku, stock_level FROM inventory.stock"
	check_query $DB "$DB: nothing left reserved" "0" \
		"SELECT count(*) FROM inventory.stock WHERE reserved <> 0"
	check_same $DB "$DB: inv_verify() returns no rows" /dev/null \
		"SELECT * FROM inventory.inv_verify()"

	note "$DB: $(q $DB "SELECT format('%s accepted, %s rejected, %s returns only, %s without goods',
			count(*) FILTER (WHERE outcome = 'accepted'),
			count(*) FILTER (WHERE outcome = 'rejected'),
			count(*) FILTER (WHERE outcome = 'returns'),
			count(*) FILTER (WHERE outcome = 'no goods'))
		FROM replay.outcome");" \
		"$(q $DB "SELECT sum(committed) FROM inventory.stock") units committed;" \
		"replay took $(elapsed "$t0" "$t1")s"
fi

#
# Concurrent run: a fresh database, the invoices dealt out to eight sessions.
#
DB=replay_par
if setup_db $DB; then
	t0=$(date +%s.%N)
	pids=()
	for ((w = 0; w < WORKERS; w++)); do
		q $DB "CALL replay.run($w, $WORKERS, true)" \
			>"$TMP/worker.$w.log" 2>&1 &
		pids[w]=$!
	done
	for ((w = 0; w < WORKERS; w++)); do
		if wait "${pids[w]}"; then
			rc=0
		else
			rc=$?
		fi
		if [ $rc -eq 0 ] && ! grep -q -E 'ERROR|FATAL|deadlock' "$TMP/worker.$w.log"; then
			ok "$DB: worker $w of $WORKERS finished without an error other than IV002"
		else
			not_ok "$DB: worker $w of $WORKERS finished without an error other than IV002 (exit $rc)"
			head -20 "$TMP/worker.$w.log" | sed 's/^/#   /'
		fi
	done
	t1=$(date +%s.%N)

	check_query $DB "$DB: every invoice replayed once, by the worker of its share" \
		"$EXP_INVOICES	0" \
		"SELECT count(*), count(*) FILTER (WHERE o.worker IS DISTINCT FROM i.seq % $WORKERS)
		 FROM replay.outcome o JOIN replay.invoice i USING (invoice_no)"
	check_query $DB "$DB: $((EXP_ACCEPTED + EXP_REJECTED)) orders, $EXP_RETURNS returns only, $EXP_NO_GOODS without goods" \
		"$((EXP_ACCEPTED + EXP_REJECTED))	$EXP_RETURNS	$EXP_NO_GOODS" \
		"SELECT count(*) FILTER (WHERE outcome IN ('accepted', 'rejected')),
				count(*) FILTER (WHERE outcome = 'returns'),
				count(*) FILTER (WHERE outcome = 'no goods')
		 FROM replay.outcome"
	check_query $DB "$DB: invoices with confirmed reservations are exactly the accepted ones" "0" \
		"SELECT count(*) FROM
		 ((SELECT DISTINCT order_ref FROM inventory.reservation
		   WHERE state = 'confirmed'
		   EXCEPT
		   SELECT invoice_no FROM replay.outcome WHERE outcome = 'accepted')
		  UNION ALL
		  (SELECT invoice_no FROM replay.outcome WHERE outcome = 'accepted'
		   EXCEPT
		   SELECT DISTINCT order_ref FROM inventory.reservation
		   WHERE state = 'confirmed')) d"
	check_query $DB "$DB: no reservation is in any state but confirmed" "0" \
		"SELECT count(*) FROM inventory.reservation
		 WHERE state <> 'confirmed'"

	# All or nothing: the accepted invoices' lines, as expected.py has them.
	q $DB "SELECT invoice_no FROM replay.outcome WHERE outcome = 'accepted'" \
		>"$TMP/par_accepted.txt" 2>&1
	awk -F '\t' 'NR == FNR { a[$1] = 1; next } ($1 in a)' \
		"$TMP/par_accepted.txt" "$EXP/orders.tsv" >"$TMP/par_lines.tsv"
	check_same $DB "$DB: every accepted order reserved all its lines, in full" \
		"$TMP/par_lines.tsv" \
		"SELECT r.order_ref, p.sku, r.quantity
		 FROM inventory.reservation r
		 JOIN inventory.product p USING (supplier_id, product_id)
		 WHERE r.state = 'confirmed'"

	check_same $DB "$DB: stock_level + committed = opening + returned, per SKU" \
		"$EXP/supply.tsv" \
		"SELECT sku, stock_level + committed FROM inventory.stock"
	check_query $DB "$DB: nothing left reserved" "0" \
		"SELECT count(*) FROM inventory.stock WHERE reserved <> 0"
	check_query $DB "$DB: confirmed quantities sum to committed, per product" "0" \
		"SELECT count(*)
		 FROM inventory.stock s
		 LEFT JOIN (SELECT product_id, sum(quantity) AS confirmed
					FROM inventory.reservation
					WHERE state = 'confirmed'
					GROUP BY product_id) r USING (product_id)
		 WHERE s.committed <> coalesce(r.confirmed, 0)"
	check_same $DB "$DB: inv_verify() returns no rows" /dev/null \
		"SELECT * FROM inventory.inv_verify()"

	note "$DB: $(q $DB "SELECT format('%s accepted, %s rejected',
			count(*) FILTER (WHERE outcome = 'accepted'),
			count(*) FILTER (WHERE outcome = 'rejected'))
		FROM replay.outcome");" \
		"$(q $DB "SELECT sum(committed) FROM inventory.stock") units committed" \
		"(differs from the sequential run by design: $WORKERS workers race" \
		"in another order, so other orders get the last units);" \
		"$WORKERS workers took $(elapsed "$t0" "$t1")s"
fi

end=$(date +%s.%N)
note "replay suite: $n checks, $failed failed, $(elapsed "$start" "$end")s"
[ $failed -eq 0 ]
