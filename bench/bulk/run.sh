#!/usr/bin/env bash
#
# bench/bulk/run.sh
#	Bulk stock loads against the floor PostgreSQL itself sets.
#
# One command, one private PostgreSQL 15 cluster (test/lib/common.sh's
# inv_cluster_start), started here and stopped at the end.  It builds a
# catalogue of --products products (1,000,000), writes a stock file of
# --rows rows (1,000,000) that gives each of them a new level, and times,
# side by side in the same run, on identical copies of the catalogue
# (CREATE DATABASE ... TEMPLATE, so each starts from the same pages):
#
#	floor	COPY the file into a temporary staging table (FORMAT csv,
#			HEADER), then one UPDATE inventory.stock_slot ... FROM the staging
#			table joined with the catalogue by SKU; the stock table's ledger
#			trigger writes the one audit row per change.  No checks at all.
#	file	inventory.inv_bulk_load_file(path): read, check every row, apply,
#			with the ledger rows tagged by batch.
#	lo		psql's \lo_import of the file, then
#			inventory.inv_bulk_load_lo(oid): how a client without server file
#			access streams a large file in.
#	text	inventory.inv_bulk_load(:'csv'), the file passed by psql as a
#			text literal (\set csv `cat file`), as a client would with a
#			small file.
#	literal	SELECT length(:'csv'): what PostgreSQL alone keeps of the same
#			literal, to receive, parse and plan it; no load (its time and
#			ledger are not compared).
#
# For each: wall time of the whole statement(s) in one fresh session and the
# CPU time its server process spent (utime + stime), each with its
# ratio to the floor, and the session's server process memory: VmHWM (peak
# resident, which also counts the shared buffers it touched) and the peak
# of RssAnon (private memory, sampled every 50 ms), against the file's
# size.  Ours also reports its phases (read, check, apply) from its DEBUG1
# line.  Every run must change every product exactly once: the ledger count
# is checked.
#
# Usage: bash bench/bulk/run.sh [--products N] [--rows N] [--reps R]
#				[--no-text]
# Run it under flock /tmp/inventory-bench.lock.  Needs the extension
# installed (make install with the same PG_CONFIG).  Table to stdout,
# progress to stderr.

set -euo pipefail

bench_dir=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$bench_dir/../.." && pwd)
# shellcheck source=SCRIPTDIR/../../test/lib/common.sh
source "$root/test/lib/common.sh"

products=1000000
rows=1000000
reps=1
text=1
while (($# > 0)); do
	case $1 in
		--products) products=$2; shift 2 ;;
		--rows) rows=$2; shift 2 ;;
		--reps) reps=$2; shift 2 ;;
		--no-text) text=0; shift ;;
		*) echo "unknown option $1" >&2; exit 2 ;;
	esac
done
((rows <= products)) || { echo "--rows cannot exceed --products" >&2; exit 2; }

work=$(mktemp -d)
chmod 755 "$work"
trap 'rm -rf "$work"' EXIT

inv_cluster_start "max_wal_size = '4GB'" "checkpoint_timeout = '30min'" >&2

q() { psql -X -q -At -v ON_ERROR_STOP=1 "$@"; }

# The catalogue, once, frozen, as the template of every run's database
inv_log "building a catalogue of $products products"
inv_new_db bulk_template 1
q -d bulk_template <<SQL >&2
INSERT INTO inventory.product (sku, name)
SELECT 'SKU-' || lpad(i::text, 8, '0'), 'Product ' || i
FROM generate_series(1, $products) i;
VACUUM (FREEZE, ANALYZE);
SQL

# The stock file: every row a new level (levels start at 0)
file=$work/stock.csv
{
	echo "sku,quantity,mode"
	awk -v n="$rows" 'BEGIN { for (i = 1; i <= n; i++) printf "SKU-%08d,%d,set\n", i, i % 997 + 1 }'
} >"$file"
chmod 644 "$file"
size=$(stat -c %s "$file")
inv_log "stock file: $rows rows, $size bytes"

#
# run_one NAME SQL_FILE: run one case in a fresh database and session;
# prints "seconds vmhwm_kb peak_anon_kb ledger_rows phases".
#
run_one()
{
	local name=$1 script=$2 db=bulk_$1 start end hwm peak ledger phases cpu

	q -d postgres -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db TEMPLATE bulk_template" >&2
	q -d postgres -c "CHECKPOINT" >&2
	rm -f "$work/pid" "$work/peak" "$work/status"

	# Sample the backend's private memory while it works
	(
		while [[ ! -s $work/pid ]]; do sleep 0.02; done
		p=$(cat "$work/pid")
		max=0
		while [[ -r /proc/$p/status ]]; do
			v=$(awk '$1 == "RssAnon:" {print $2}' "/proc/$p/status" 2>/dev/null || echo 0)
			[[ -n $v ]] && ((v > max)) && max=$v && echo "$max" >"$work/peak"
			sleep 0.05
		done
	) &
	local sampler=$!

	start=$(date +%s.%N)
	q -d "$db" -v work="$work" -v file="$file" -f "$script" >"$work/$name.out" 2>"$work/$name.err" || {
		cat "$work/$name.err" >&2
		kill "$sampler" 2>/dev/null
		return 1
	}
	end=$(date +%s.%N)
	wait "$sampler" 2>/dev/null || true

	hwm=$(awk '$1 == "VmHWM:" {print $2}' "$work/status")
	# utime + stime of the backend, in seconds: the CPU it spent itself,
	# which the other load on the machine disturbs far less than wall time
	cpu=$(awk -v hz="$(getconf CLK_TCK)" '{printf "%.2f", ($14 + $15) / hz}' "$work/stat")
	peak=$(cat "$work/peak" 2>/dev/null || echo 0)
	ledger=$(q -d "$db" -c "SELECT count(*) FROM inventory.ledger")
	phases=$(grep -o 'read in [0-9]* ms, checked in [0-9]* ms, applied in [0-9]* ms' "$work/$name.err" || echo -)
	q -d postgres -c "DROP DATABASE $db" >&2
	echo "$(echo "$end - $start" | bc) $cpu $hwm $peak $ledger $phases"
}

# The cases, as psql scripts; each writes its backend's pid first
# and its /proc status last, from the same session
cat >"$work/floor.sql" <<'SQL'
SELECT pg_backend_pid() AS pid \gset
\o :work/pid
\qecho :pid
\o
BEGIN;
CREATE TEMP TABLE staging (sku text, quantity bigint, mode text);
COPY staging FROM :'file' (FORMAT csv, HEADER);
UPDATE inventory.stock_slot s SET stock_level = st.quantity
FROM staging st JOIN inventory.product p ON p.sku = st.sku
WHERE s.supplier_id = p.supplier_id AND s.product_id = p.product_id
  AND s.slot = 0 AND s.stock_level <> st.quantity;
COMMIT;
\setenv INV_PID :pid
\setenv INV_WORK :work
\! cat /proc/$INV_PID/status > $INV_WORK/status; cat /proc/$INV_PID/stat > $INV_WORK/stat
SQL
cat >"$work/file.sql" <<'SQL'
SELECT pg_backend_pid() AS pid \gset
\o :work/pid
\qecho :pid
\o
SET client_min_messages = debug1;
SELECT applied, rows_read, changed, unchanged, rejected
FROM inventory.inv_bulk_load_file(:'file');
\setenv INV_PID :pid
\setenv INV_WORK :work
\! cat /proc/$INV_PID/status > $INV_WORK/status; cat /proc/$INV_PID/stat > $INV_WORK/stat
SQL
cat >"$work/lo.sql" <<'SQL'
SELECT pg_backend_pid() AS pid \gset
\o :work/pid
\qecho :pid
\o
SET client_min_messages = debug1;
\lo_import :file
SELECT applied, rows_read, changed, unchanged, rejected
FROM inventory.inv_bulk_load_lo(:LASTOID);
\lo_unlink :LASTOID
\setenv INV_PID :pid
\setenv INV_WORK :work
\! cat /proc/$INV_PID/status > $INV_WORK/status; cat /proc/$INV_PID/stat > $INV_WORK/stat
SQL
cat >"$work/text.sql" <<'SQL'
\set csv `cat :file`
SELECT pg_backend_pid() AS pid \gset
\o :work/pid
\qecho :pid
\o
SET client_min_messages = debug1;
SELECT applied, rows_read, changed, unchanged, rejected
FROM inventory.inv_bulk_load(:'csv');
\setenv INV_PID :pid
\setenv INV_WORK :work
\! cat /proc/$INV_PID/status > $INV_WORK/status; cat /proc/$INV_PID/stat > $INV_WORK/stat
SQL

cat >"$work/literal.sql" <<'SQL'
\set csv `cat :file`
SELECT pg_backend_pid() AS pid \gset
\o :work/pid
\qecho :pid
\o
SELECT length(:'csv');
\setenv INV_PID :pid
\setenv INV_WORK :work
\! cat /proc/$INV_PID/status > $INV_WORK/status; cat /proc/$INV_PID/stat > $INV_WORK/stat
SQL

cases=(floor file lo)
((text)) && cases+=(text literal)
declare -A secs cpus hwms peaks
for ((r = 1; r <= reps; r++)); do
	for c in "${cases[@]}"; do
		inv_log "run $r/$reps: $c"
		read -r s u h p l ph < <(run_one "$c" "$work/$c.sql")
		if [[ $c != literal && $l != "$rows" ]]; then
			echo "$c wrote $l ledger rows, expected $rows" >&2
			exit 1
		fi
		secs[$c]+="$s "
		cpus[$c]+="$u "
		hwms[$c]=$h
		peaks[$c]=$p
		echo "# run $r $c: ${s}s wall, ${u}s backend CPU, VmHWM ${h} kB, peak RssAnon ${p} kB, $l ledger rows, ours: $ph" >&2
		echo "# run $r $c: ${s}s wall, ${u}s backend CPU, VmHWM ${h} kB, peak RssAnon ${p} kB, $l ledger rows, ours: $ph"
	done
done

median()
{
	tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR] = $1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'
}

floor=$(echo "${secs[floor]}" | median)
floor_cpu=$(echo "${cpus[floor]}" | median)
echo
echo "$rows rows against $products products, file $size bytes ($(echo "scale=1; $size / 1048576" | bc) MiB); medians of $reps run(s)"
printf '%-6s %9s %9s %9s %9s %10s %14s %17s\n' case "wall s" "vs floor" "CPU s" "vs floor" \
	"VmHWM MiB" "peak anon MiB" "anon / file size"
for c in "${cases[@]}"; do
	t=$(echo "${secs[$c]}" | median)
	u=$(echo "${cpus[$c]}" | median)
	printf '%-6s %9.2f %8.2fx %9.2f %8.2fx %10.1f %14.1f %16.2fx\n' "$c" "$t" \
		"$(echo "$t / $floor" | bc -l)" "$u" "$(echo "$u / $floor_cpu" | bc -l)" \
		"$(echo "${hwms[$c]} / 1024" | bc -l)" \
		"$(echo "${peaks[$c]} / 1024" | bc -l)" \
		"$(echo "${peaks[$c]} * 1024 / $size" | bc -l)"
done
