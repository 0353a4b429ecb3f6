#!/usr/bin/env bash
#
# bench/orders/profile.sh
#	Instruction counts of the order path under callgrind: noise-free, so
#	that a change can be judged on a shared machine.
#
# Builds a tenant database with PRODUCTS products (stock 10^12 each,
# threshold 10) and a few thousand earlier orders in a private cluster,
# analyses it and stops the server; then runs a single-user backend
# (postgres --single) under valgrind --tool=callgrind, once empty and once
# per workload, each on a fresh copy of the data directory:
#
#	line	2 x ORDERS times inv_reserve(ref, p, 1) then inv_confirm(id), two
#			transactions, products spread by (i * 7919) % PRODUCTS (the ids
#			are the reservation sequence's next values)
#	order	ORDERS times inv_reserve_order(ref, 3 products) then
#			inv_confirm_order(ref)
#	floor	ORDERS times the one conditional UPDATE of bench.floor_slot
#	baseline ORDERS times bench.baseline_reserve then baseline_confirm
#	bare	line with the stock table's ledger and low-stock triggers
#			disabled (the ALTER TABLE doing so counted in): with line,
#			what the two triggers cost an order
#
# (the second ORDERS scripts on the first ORDERS' products again) and
# prints the instructions per script (the empty run subtracted) and the
# bytes of WAL per script, "cold" over the first half (the copy starts
# just after a checkpoint, so each page's first change writes a full-page
# image) and "warm" over the second (the same pages again: no images).  The
# callgrind output files stay in OUT (default /tmp/inventory-profile) for
# callgrind_annotate.
#
# Usage: bash bench/orders/profile.sh [WORKLOAD...]   (default: line order floor baseline)
# Environment: PG_CONFIG, INV_PROFILE_PRODUCTS [100000],
# INV_PROFILE_ORDERS [1000], INV_PROFILE_OUT [/tmp/inventory-profile],
# INV_PROFILE_WALDUMP (set: pg_waldump --stats=record of the warm half in
# OUT/WORKLOAD.waldump).
#
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../../test/lib/common.sh
source "$here/../../test/lib/common.sh"

products=${INV_PROFILE_PRODUCTS:-100000}
orders=${INV_PROFILE_ORDERS:-1000}
out=${INV_PROFILE_OUT:-/tmp/inventory-profile}
workloads=("$@")
((${#workloads[@]})) || workloads=(line order floor baseline)

inv_use_pg_bindir
bindir=$(inv_pg_bindir)
mkdir -p "$out"
chown postgres:postgres "$out" 2>/dev/null || true

# The database, built once on a running server
inv_cluster_start
inv_psql -q -c "CREATE DATABASE prof" postgres
inv_psql -q -v ON_ERROR_STOP=1 prof <<SQL
CREATE EXTENSION inventory;
SELECT inventory.inv_configure(1);
INSERT INTO inventory.product (sku, name, low_stock_threshold)
SELECT 'SKU-' || i, 'product ' || i, 10 FROM generate_series(1, $products) i;
UPDATE inventory.stock_slot SET stock_level = 1000000000000;
SQL
inv_psql -q -v ON_ERROR_STOP=1 prof <"$here/baseline.sql"
inv_psql -q -v ON_ERROR_STOP=1 prof <<SQL
SELECT count(*) FROM (SELECT inventory.inv_confirm(reservation_id)
  FROM generate_series(1, 5000) i,
       LATERAL inventory.inv_reserve('warm-' || i, (i * 104729) % $products + 1, 1)) s;
SELECT count(*) FROM (SELECT bench.baseline_confirm(bench.baseline_reserve('warm-' || i, (i * 104729) % $products + 1, 1))
  FROM generate_series(1, 5000) i) s;
VACUUM ANALYZE;
CHECKPOINT;
SQL
# Ids come from sequences: the next ones are known in a single-user backend
rbase=$(inv_psql -Atc "SELECT max(reservation_id) FROM inventory.reservation" prof)
bbase=$(inv_psql -Atc "SELECT max(reservation_id) FROM bench.baseline_reservation" prof)
datadir=$INV_CLUSTER_DIR/data
inv_as_pg pg_ctl -D "$datadir" -w stop -m fast >/dev/null

# One script per workload, as a single-user backend reads it (one command
# per line)
gen()
{
	local w=$1 i p q r
	local j
	echo "CREATE TEMP TABLE wal_mark (at int, lsn pg_lsn);"
	echo "INSERT INTO wal_mark VALUES (0, pg_current_wal_insert_lsn());"
	for ((i = 1; i <= 2 * orders; i++)); do
		# the second half orders the first half's products again
		((i == orders + 1)) &&
			echo "INSERT INTO wal_mark VALUES (1, pg_current_wal_insert_lsn());"
		j=$(((i - 1) % orders + 1))
		p=$(((j * 7919) % products + 1))
		q=$(((j * 15485863) % products + 1))
		r=$(((j * 32452843) % products + 1))
		case $w in
			empty) ;;
			line | bare)
				((i == 1)) && [[ $w == bare ]] &&
					echo "ALTER TABLE inventory.stock_slot DISABLE TRIGGER stock_slot_ledger, DISABLE TRIGGER stock_slot_low_stock;"
				echo "SELECT reservation_id FROM inventory.inv_reserve('p-$i', ${p}::bigint, 1);"
				echo "SELECT changed FROM inventory.inv_confirm($((rbase + i)));"
				;;
			order)
				echo "SELECT count(*) FROM inventory.inv_reserve_order('o-$i', ARRAY[$p, $q, $r]::bigint[], ARRAY[1, 1, 1]::bigint[]);"
				echo "SELECT count(*) FROM inventory.inv_confirm_order('o-$i');"
				;;
			floor)
				echo "UPDATE bench.floor_slot SET reserved = reserved + 1 WHERE supplier_id = 1 AND product_id = $p AND slot = 0 AND stock_level - reserved >= 1;"
				;;
			baseline)
				echo "SELECT bench.baseline_reserve('p-$i', $p, 1);"
				echo "SELECT bench.baseline_confirm($((bbase + i)));"
				;;
		esac
	done
	echo "SELECT pg_wal_lsn_diff(m1.lsn, m0.lsn) AS wal_cold, pg_wal_lsn_diff(pg_current_wal_insert_lsn(), m1.lsn) AS wal_warm, m1.lsn AS warm_from, pg_current_wal_insert_lsn() AS warm_to FROM wal_mark m0, wal_mark m1 WHERE m0.at = 0 AND m1.at = 1;"
}

run()
{
	local w=$1 copy=$INV_CLUSTER_DIR/copy
	rm -rf "$copy"
	cp -a "$datadir" "$copy"
	gen "$w" >"$out/$w.sql"
	chown postgres:postgres "$out/$w.sql"
	inv_as_pg valgrind --tool=callgrind --callgrind-out-file="$out/$w.out" \
		"$bindir/postgres" --single -D "$copy" -c fsync=off prof \
		<"$out/$w.sql" >"$out/$w.log" 2>&1
	callgrind_annotate "$out/$w.out" 2>/dev/null |
		awk '/PROGRAM TOTALS/ && !n++ { gsub(",", "", $1); printf "%s ", $1 }'
	sed -n 's/.*wal_cold = "\([0-9]*\)".*/\1/p' "$out/$w.log" | tr '\n' ' '
	sed -n 's/.*wal_warm = "\([0-9]*\)".*/\1/p' "$out/$w.log"

	# What the warm half's WAL is made of, per kind of record
	if [[ -n ${INV_PROFILE_WALDUMP:-} && $w != empty ]]; then
		inv_as_pg "$bindir/pg_waldump" -p "$copy/pg_wal" --stats=record \
			-s "$(sed -n 's/.*warm_from = "\([^"]*\)".*/\1/p' "$out/$w.log")" \
			-e "$(sed -n 's/.*warm_to = "\([^"]*\)".*/\1/p' "$out/$w.log")" \
			>"$out/$w.waldump" 2>&1 || true
	fi
}

read -r empty _ _ <<<"$(run empty)"
printf '%-10s %14s %12s %16s %16s\n' workload instructions per-script \
	wal/script-cold wal/script-warm
declare -A per_script
for w in "${workloads[@]}"; do
	read -r total cold warm <<<"$(run "$w")"
	per_script[$w]=$(((total - empty) / (2 * orders)))
	printf '%-10s %14s %12s %16s %16s\n' "$w" "$total" \
		"${per_script[$w]}" $((cold / orders)) $((warm / orders))
done
if [[ -n ${per_script[line]:-} && -n ${per_script[bare]:-} ]]; then
	awk -v line="${per_script[line]}" -v bare="${per_script[bare]}" 'BEGIN {
		printf "ledger + low-stock triggers: %d instructions per order, %.1f%% of line\n",
			line - bare, 100 * (line - bare) / line }'
fi
