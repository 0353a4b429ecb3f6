#!/usr/bin/env bash
#
# bench/orders/run.sh
#	The order path against what a user would write instead: the one-UPDATE
#	floor, a straightforward PL/pgSQL reserve + confirm (the baseline), and
#	the extension's inv_reserve + inv_confirm and 3-line inv_reserve_order +
#	inv_confirm_order, without and with the Redis lock in each scope.
#
# One command, one private Redis and one private PostgreSQL 15 cluster,
# started here and stopped at the end (also on error or Ctrl-C):
#
#	redis-server	127.0.0.1, a free port, no persistence
#	PostgreSQL		test/lib/common.sh's inv_cluster_start, with the library
#					preloaded, inventory.redis_port = that port and
#					inventory.lock_wait_timeout = 30s (so that a queue for a
#					hot product's lock makes orders slow, not failed)
#
# Workloads (pgbench -M prepared, the scripts in bench/orders/*.pgbench;
# floor and baseline are defined in bench/orders/baseline.sql):
#
#	floor		UPDATE ... SET reserved = reserved + 1 WHERE ... AND
#				stock_level - reserved >= 1 on a trigger-less copy of
#				inventory.stock_slot: 1 transaction per script
#	baseline	bench.baseline_reserve then bench.baseline_confirm (PL/pgSQL,
#				a reservation row and a ledger row each): 2 transactions
#	line		inventory.inv_reserve then inventory.inv_confirm: 2
#	order		inventory.inv_reserve_order (3 lines) then
#				inventory.inv_confirm_order: 2
#
# line and order run in each inventory.lock_scope (none, reserve, order).
# Every workload runs on one hot product and spread over all products, at
# each client count, with synchronous_commit on and off (set per session),
# and the whole matrix is repeated; the table shows medians.  After each
# run the invariants are checked: stock_level + committed summed over each
# stock table is what it was at the start, and inventory.inv_verify()
# returns no rows (after each run, or with INV_BENCH_VERIFY=pass after each
# run of the first pass and at the end of every pass: inv_verify() reads the
# whole ledger, which grows to millions of rows over a full run).
#
# Usage: bash bench/orders/run.sh [--quick]
#
# Environment (defaults in brackets):
#	INV_BENCH_DURATION	seconds per run [2; 1 with --quick]
#	INV_BENCH_REPEATS	passes over the matrix, medians reported [3; 1 with --quick]
#	INV_BENCH_CLIENTS	client counts [1,8,32,64]
#	INV_BENCH_SYNC		synchronous_commit values [on,off]
#	INV_BENCH_SETS		product sets [hot,spread]
#	INV_BENCH_WORKLOADS	[floor,baseline,line,order]
#	INV_BENCH_SCOPES	lock scopes for line and order [none,reserve,order]
#	INV_BENCH_PRODUCTS	products in the catalogue [100000]
#	INV_BENCH_HOT_SLOTS	stock slots for the hot product, used only when the
#						extension has inv_set_slots [64]
#	INV_BENCH_VERIFY	run or pass: inv_verify() after every run, or after each run
#						of the first pass and at the end of every pass
#						[pass; run with --quick]
#	INV_BENCH_OUT		keep the raw results (pgbench output, TSV) in this directory
#
# Needs root, or the packages already installed, and the extension
# installed (make install with the same PG_CONFIG).  Wrap it in
# "flock /tmp/inventory-bench.lock" on a shared machine.  The table goes to
# stdout, progress to stderr.

set -euo pipefail

bench_dir=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$bench_dir/../.." && pwd)
# shellcheck source=SCRIPTDIR/../../test/lib/common.sh
source "$root/test/lib/common.sh"

quick=0
while (($# > 0)); do
	case $1 in
		--quick) quick=1 ;;
		-h | --help)
			sed -n '/^# Usage:/,/^# stdout/p' "$0" | sed 's/^# \{0,1\}//' >&2
			exit 0
			;;
		*) inv_die "unknown option: $1 (see --help)"; exit 1 ;;
	esac
	shift
done

if ((quick)); then
	duration=${INV_BENCH_DURATION:-1}
	repeats=${INV_BENCH_REPEATS:-1}
	verify_when=${INV_BENCH_VERIFY:-run}
else
	duration=${INV_BENCH_DURATION:-2}
	repeats=${INV_BENCH_REPEATS:-3}
	verify_when=${INV_BENCH_VERIFY:-pass}
fi
case $verify_when in run | pass) ;; *) inv_die "INV_BENCH_VERIFY: run or pass, not $verify_when"; exit 1 ;; esac
clients_list=${INV_BENCH_CLIENTS:-1,8,32,64}
sync_list=${INV_BENCH_SYNC:-on,off}
sets_list=${INV_BENCH_SETS:-hot,spread}
workloads_list=${INV_BENCH_WORKLOADS:-floor,baseline,line,order}
scopes_list=${INV_BENCH_SCOPES:-none,reserve,order}
products=${INV_BENCH_PRODUCTS:-100000}
hot_slots=${INV_BENCH_HOT_SLOTS:-64}
out_dir=${INV_BENCH_OUT:-}

for v in duration repeats products hot_slots; do
	[[ ${!v} =~ ^[0-9]+$ && ${!v} -ge 1 ]] ||
		{ inv_die "$v must be a positive whole number, not \"${!v}\""; exit 1; }
done
((products >= 4)) || { inv_die "INV_BENCH_PRODUCTS must be at least 4"; exit 1; }
IFS=, read -r -a client_counts <<<"$clients_list"
IFS=, read -r -a syncs <<<"$sync_list"
IFS=, read -r -a sets <<<"$sets_list"
IFS=, read -r -a workloads <<<"$workloads_list"
IFS=, read -r -a scopes <<<"$scopes_list"
for c in "${client_counts[@]}"; do
	[[ $c =~ ^[0-9]+$ && $c -ge 1 && $c -le 150 ]] ||
		{ inv_die "client count must be 1-150: $c"; exit 1; }
done
for s in "${syncs[@]}"; do
	case $s in on | off) ;; *) inv_die "synchronous_commit: on or off, not $s"; exit 1 ;; esac
done
for s in "${sets[@]}"; do
	case $s in hot | spread) ;; *) inv_die "unknown product set: $s"; exit 1 ;; esac
done
for w in "${workloads[@]}"; do
	case $w in floor | baseline | line | order) ;; *) inv_die "unknown workload: $w"; exit 1 ;; esac
done
for s in "${scopes[@]}"; do
	case $s in none | reserve | order) ;; *) inv_die "unknown scope: $s"; exit 1 ;; esac
done

#
# Scratch space and cleanup: the cluster first, then Redis, then the files
#
work=$(mktemp -d "${TMPDIR:-/tmp}/inventory-orders.XXXXXX")
chmod 755 "$work"
redis_pid=
bench_cleanup()
{
	inv_cluster_stop || true
	if [[ -n $redis_pid ]] && kill -0 "$redis_pid" 2>/dev/null; then
		kill -TERM "$redis_pid" 2>/dev/null || true
		for _ in 1 2 3 4 5 6 7 8 9 10; do
			kill -0 "$redis_pid" 2>/dev/null || break
			sleep 0.2
		done
		kill -KILL "$redis_pid" 2>/dev/null || true
	fi
	redis_pid=
	if [[ -n $out_dir && -d $work ]] && mkdir -p "$out_dir"; then
		cp -r "$work"/. "$out_dir"/ 2>/dev/null || true
	fi
	rm -rf "$work"
}
inv_exit_trap_add bench_cleanup
trap 'exit 130' INT
trap 'exit 143' TERM

log() { inv_log "$*"; }
load() { cut -d' ' -f1 /proc/loadavg; }
started=$SECONDS

inv_install_deps
for tool in pgbench psql redis-server redis-cli python3; do
	command -v "$tool" >/dev/null || { inv_die "$tool not found"; exit 1; }
done
[[ -f $(pg_config --pkglibdir)/inventory.so ]] ||
	{ inv_die "the extension is not installed: make -C $root install"; exit 1; }

#
# Redis, then PostgreSQL
#
redis_port=$(inv_free_port)
redis-server --port "$redis_port" --bind 127.0.0.1 --protected-mode yes \
	--save '' --appendonly no --dir "$work" --logfile "$work/redis.log" \
	--daemonize no &
redis_pid=$!
for _ in $(seq 100); do
	[[ $(redis-cli -p "$redis_port" ping 2>/dev/null) == PONG ]] && break
	kill -0 "$redis_pid" 2>/dev/null ||
		{ cat "$work/redis.log" >&2; inv_die "redis-server exited"; exit 1; }
	sleep 0.1
done
[[ $(redis-cli -p "$redis_port" ping 2>/dev/null) == PONG ]] ||
	{ inv_die "redis-server did not answer"; exit 1; }
log "redis up: port $redis_port, pid $redis_pid"

inv_cluster_start \
	"shared_preload_libraries = 'inventory'" \
	"inventory.redis_host = '127.0.0.1'" \
	"inventory.redis_port = $redis_port" \
	"inventory.lock_wait_timeout = '30s'" \
	"max_wal_size = '4GB'" \
	"checkpoint_timeout = '30min'"

q() # q SQL: one value, or unaligned rows, from database orders
{
	psql -X -q -A -t -v ON_ERROR_STOP=1 -d orders -c "$1"
}

inv_new_db orders 1
for _ in $(seq 150); do
	[[ $(q "SELECT connected FROM inventory.inv_lock_stats()") == t ]] && break
	sleep 0.1
done
[[ $(q "SELECT connected FROM inventory.inv_lock_stats()") == t ]] ||
	{ inv_die "the lock service did not connect to Redis"; exit 1; }

#
# The catalogue: products 1..N with 10^9 units each (an order takes 1 unit,
# so no run ever runs out), then the floor's and the baseline's copies
#
log "loading $products products"
q "INSERT INTO inventory.product (sku, name)
   SELECT 'BENCH-' || lpad(g::text, 6, '0'), 'bench product ' || g
   FROM generate_series(1, $products) g" >/dev/null
q "SET inventory.reason = 'bench opening stock';
   UPDATE inventory.stock_slot SET stock_level = 1000000000" >/dev/null
psql -X -q -v ON_ERROR_STOP=1 -d orders -f "$bench_dir/baseline.sql" >/dev/null
read -r lo hi <<<"$(q "SELECT min(product_id), max(product_id) FROM inventory.product" | tr '|' ' ')"
hot=$lo

# The hot product over several stock slots, if this build can do that
slots_note="one stock slot per product (this build has no inv_set_slots)"
if [[ $(q "SELECT count(*) FROM pg_proc WHERE proname = 'inv_set_slots'
           AND pronamespace = 'inventory'::regnamespace") != 0 ]]; then
	if q "SELECT inventory.inv_set_slots($hot::bigint, $hot_slots)" >/dev/null 2>"$work/slots.err"; then
		slots_note="hot product spread over $hot_slots stock slots (inv_set_slots)"
	else
		slots_note="inv_set_slots($hot, $hot_slots) failed: $(head -n 1 "$work/slots.err")"
	fi
fi
log "$slots_note"

# Warm-up: some confirmed orders of every kind before the statistics are
# taken.  Planned against an empty (or never analysed) reservation table,
# the extension's lookup of an order line by (order_ref, product) picks the
# (product, slot, state) index and filters by order_ref, which on a hot
# product reads every earlier reservation of it; a database in service has
# statistics, and autovacuum keeps them current during the runs.
log "warm-up: 4,000 orders, then VACUUM ANALYZE"
q "SELECT count(*) FROM generate_series(1, 2000) g,
     LATERAL inventory.inv_reserve('warm-' || g,
       CASE WHEN g % 2 = 0 THEN $hot ELSE $lo + (g * 7919) % ($hi - $lo + 1) END, 1) r,
     LATERAL inventory.inv_confirm(r.reservation_id) c" >/dev/null
q "SELECT count(*) FROM generate_series(1, 2000) g,
     LATERAL bench.baseline_confirm(bench.baseline_reserve('warm-' || g,
       CASE WHEN g % 2 = 0 THEN $hot ELSE $lo + (g * 7919) % ($hi - $lo + 1) END, 1))" >/dev/null
q "VACUUM ANALYZE" >/dev/null
q "CHECKPOINT" >/dev/null

# What each stock table holds in stock_level + committed: conserved by
# every reserve and confirm
conserved()
{
	q "SELECT (SELECT sum(stock_level + committed) FROM inventory.stock_slot) || ' ' ||
	          (SELECT sum(stock_level + committed) FROM bench.baseline_stock) || ' ' ||
	          (SELECT sum(stock_level + committed) FROM bench.floor_slot) || ' ' ||
	          (SELECT count(*) FROM bench.floor_slot WHERE reserved > stock_level)"
}
conserved0=$(conserved)
[[ $(q "SELECT count(*) FROM inventory.inv_verify()") == 0 ]] ||
	{ inv_die "inv_verify() finds discrepancies before the first run"; exit 1; }

# One run: echoes "tps p50_us p95_us p99_us contended"; ERR on failure
run_one()
{
	local workload=$1 set=$2 clients=$3 sync=$4 scope=$5 prefix=$6
	local plo=$lo phi=$hi j tps cont0 cont1 pct

	[[ $set == hot ]] && phi=$lo
	j=$((clients < 2 ? 1 : 2))
	cont0=$(q "SELECT contended FROM inventory.inv_lock_stats()")
	if ! PGOPTIONS="-c synchronous_commit=$sync -c inventory.lock_scope=$scope" \
		pgbench -n -M prepared -c "$clients" -j "$j" -T "$duration" \
		-D lo="$plo" -D hi="$phi" -D all_lo="$lo" -D all_hi="$hi" \
		-f "$bench_dir/$workload.pgbench" -l --log-prefix="$prefix" orders \
		>"$prefix.out" 2>&1; then
		echo ERR
		return 0
	fi
	cont1=$(q "SELECT contended FROM inventory.inv_lock_stats()")
	tps=$(sed -n 's/^tps = \([0-9.]*\) (without initial connection time)/\1/p' "$prefix.out")
	# pgbench -l: one line per script run, its latency in us in field 3
	pct=$(cat "$prefix".[0-9]* 2>/dev/null | awk '{ print $3 }' | sort -n |
		awk '{ v[NR] = $1 } END {
			if (NR == 0) { print "nan nan nan"; exit }
			printf "%d %d %d\n", v[int(NR * 0.50 + 0.999999)],
				v[int(NR * 0.95 + 0.999999)], v[int(NR * 0.99 + 0.999999)] }')
	rm -f "$prefix".[0-9]*
	echo "${tps:-ERR} $pct $((cont1 - cont0))"
}

# After a run of ours: orders cut off between reserve and confirm are
# released, so that no order-scope lease lives on into the next run, and
# the worker has given back every lock.  Then the invariants; sets open to
# the number of orders released.
settle_and_check()
{
	local workload=$1 full=$2 now verify

	open=0
	if [[ $workload == line || $workload == order ]]; then
		open=$(q "SELECT count(*) FROM inventory.reservation r,
			LATERAL inventory.inv_release(r.reservation_id, 'bench run over') t
			WHERE r.state = 'reserved'")
		for _ in $(seq 100); do
			[[ $(q "SELECT held_locks + queued_releases FROM inventory.inv_lock_stats()") == 0 ]] && break
			sleep 0.1
		done
	fi
	now=$(conserved)
	if [[ $now != "$conserved0" ]]; then
		inv_die "stock_level + committed not conserved after $workload: $conserved0 -> $now"
		exit 1
	fi
	if [[ $full == 1 ]]; then
		verify_runs=$((verify_runs + 1))
		verify=$(q "SELECT count(*) FROM inventory.inv_verify()")
		if [[ $verify != 0 ]]; then
			q "SELECT * FROM inventory.inv_verify() LIMIT 10" >&2
			inv_die "inv_verify() finds $verify discrepancies after $workload"
			exit 1
		fi
	fi
}

#
# The matrix: every pass runs every cell once, so that a slow patch of the
# shared machine hits all cells of a pass alike
#
cells=()
for sync in "${syncs[@]}"; do
	for set in "${sets[@]}"; do
		for c in "${client_counts[@]}"; do
			for w in "${workloads[@]}"; do
				if [[ $w == line || $w == order ]]; then
					for s in "${scopes[@]}"; do cells+=("$sync $set $c $w $s"); done
				else
					cells+=("$sync $set $c $w none")
				fi
			done
		done
	done
done
ncells=${#cells[@]}
log "$ncells cells x $repeats passes x ${duration}s"
results=$work/runs.tsv
printf 'pass\tsync\tset\tclients\tworkload\tscope\ttps\tp50_us\tp95_us\tp99_us\tcontended\tleft_open\tload\n' >"$results"
load_start=$(load)
checks=0
verify_runs=0
for ((pass = 1; pass <= repeats; pass++)); do
	i=0
	for cell in "${cells[@]}"; do
		read -r sync set c w s <<<"$cell"
		i=$((i + 1))
		prefix=$work/run_${pass}_$i
		read -r tps p50 p95 p99 cont <<<"$(run_one "$w" "$set" "$c" "$sync" "$s" "$prefix")"
		full=0
		if [[ $w == line || $w == order ]] &&
			[[ $verify_when == run || $pass == 1 ]]; then
			full=1
		fi
		[[ $i == "$ncells" ]] && full=1
		settle_and_check "$w" "$full"
		checks=$((checks + 1))
		if [[ $tps == ERR ]]; then
			log "pass $pass $cell: pgbench failed:"
			tail -n 5 "$prefix.out" >&2
			p50=nan p95=nan p99=nan cont=0
		fi
		printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$pass" "$sync" "$set" \
			"$c" "$w" "$s" "$tps" "$p50" "$p95" "$p99" "$cont" "$open" "$(load)" >>"$results"
		if ((i % 16 == 0 || i == ncells)); then
			log "pass $pass/$repeats: $i/$ncells cells, $((SECONDS - started)) s so far, load $(load)"
		fi
	done
done
load_end=$(load)

#
# The table
#
pg_version=$(q "SELECT version()" | sed 's/ on .*//')
cpu_model=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
mem=$(awk '/^MemTotal/ { printf "%.1f GB", $2 / 1048576 }' /proc/meminfo)
redis_version=$(redis-server --version | sed -n 's/.*v=\([0-9.]*\).*/\1/p')

cat <<-EOF
	inventory order benchmark: $(nproc) CPUs ($cpu_model), $mem, $pg_version, Redis $redis_version
	source tree $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)$(git -C "$root" diff --quiet 2>/dev/null || echo '+changes'); $products products; $slots_note
	$repeats passes x $ncells cells x ${duration}s, pgbench -M prepared -j 2; medians over passes; load average $load_start at the start, $load_end at the end; $((SECONDS - started)) s in all
	invariants checked after each of the $checks runs: stock_level + committed conserved in all three stock tables; inv_verify() empty each of the $verify_runs times it ran (INV_BENCH_VERIFY=$verify_when)
EOF
python3 - "$results" <<-'EOF'
	import csv, statistics, sys
	rows = list(csv.DictReader(open(sys.argv[1]), delimiter='\t'))
	per_script = {'floor': 1, 'baseline': 2, 'line': 2, 'order': 2}
	cells, order = {}, []
	for r in rows:
	    key = (r['sync'], r['set'], int(r['clients']), r['workload'], r['scope'])
	    if key not in cells:
	        cells[key] = []
	        order.append(key)
	    cells[key].append(r)
	def med(vals):
	    vals = [float(v) for v in vals if v not in ('ERR', 'nan', '')]
	    return statistics.median(vals) if vals else None
	agg = {}
	for key in order:
	    rs = cells[key]
	    tps = med(r['tps'] for r in rs)
	    agg[key] = dict(
	        txn=None if tps is None else tps * per_script[key[3]],
	        scripts=tps,
	        p50=med(r['p50_us'] for r in rs), p95=med(r['p95_us'] for r in rs),
	        p99=med(r['p99_us'] for r in rs),
	        cont=med(r['contended'] for r in rs),
	        errs=sum(1 for r in rs if r['tps'] == 'ERR'),
	        open=sum(int(r['left_open'] or 0) for r in rs))
	def f(v, fmt):
	    return '-' if v is None else format(v, fmt)
	def ratio(a, b):
	    return '-' if a is None or not b else '%.2fx' % (a / b)
	print()
	print('txn/s = transactions per second (scripts/s x transactions per script: floor 1, the others 2);')
	print('latency = one script (floor: the UPDATE; others: reserve + confirm), ms, from pgbench -l;')
	print('x floor, x baseline = txn/s against the floor and the PL/pgSQL baseline in the same sync/products/clients group')
	hdr = '%-4s %-6s %4s %-9s %-7s %9s %9s %8s %8s %8s %8s %10s %7s' % (
	    'sync', 'prods', 'cli', 'workload', 'scope', 'txn/s', 'scripts/s', 'p50 ms',
	    'p95 ms', 'p99 ms', 'x floor', 'x baseline', 'busy')
	last = None
	for key in order:
	    sync, pset, c, w, s = key
	    grp = (sync, pset)
	    if grp != last:
	        print()
	        print(hdr)
	        last = grp
	    a = agg[key]
	    fl = agg.get((sync, pset, c, 'floor', 'none'), {}).get('txn')
	    bl = agg.get((sync, pset, c, 'baseline', 'none'), {}).get('txn')
	    print('%-4s %-6s %4d %-9s %-7s %9s %9s %8s %8s %8s %8s %10s %7s%s' % (
	        sync, pset, c, w, s if w in ('line', 'order') else '-',
	        f(a['txn'], '.0f'), f(a['scripts'], '.0f'),
	        f(a['p50'] and a['p50'] / 1000, '.2f'), f(a['p95'] and a['p95'] / 1000, '.2f'),
	        f(a['p99'] and a['p99'] / 1000, '.2f'),
	        '-' if w == 'floor' else ratio(a['txn'], fl),
	        '-' if w in ('floor', 'baseline') else ratio(a['txn'], bl),
	        f(a['cont'], '.0f') if s != 'none' else '-',
	        ('  (%d runs failed)' % a['errs']) if a['errs'] else ''))
	print()
	print('busy = lock requests answered "held by another order" (retried after a 1-50 ms backoff), median per run')
	print('orders cut off between reserve and confirm by the end of a run (released afterwards): %d'
	      % sum(a['open'] for a in agg.values()))
	EOF
