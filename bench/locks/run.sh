#!/usr/bin/env bash
#
# bench/locks/run.sh
#	What the cross-node order lock costs: the lock service worker against a
#	client talking to Redis directly, and orders with the lock in each scope
#	against orders without it.
#
# One command, one private Redis and one private PostgreSQL 15 cluster,
# started here and stopped at the end (also on error or Ctrl-C):
#
#	redis-server	127.0.0.1, a free port, no persistence (no RDB, no AOF)
#	PostgreSQL		test/lib/common.sh's inv_cluster_start, with
#					shared_preload_libraries = 'inventory',
#					inventory.redis_port = <that port>, max_connections = 200
#					and synchronous_commit = off (or on, --sync-commit on)
#
# Parts (all in the same run, side by side):
#
#	1  lock+unlock round trip, 1 client: bench/locks/direct_client (hiredis,
#	   the worker's own scripts, sent as EVAL and as EVALSHA) against
#	   inventory.inv_lock_probe(N) from one session; microseconds per pair,
#	   median of --reps runs, and the ratio worker/direct.  Also the worker's
#	   own Redis round trip from inv_lock_stats(), to split the cost, which
#	   command the worker sends (Redis INFO commandstats), and the same
#	   measurement again with Redis, PostgreSQL and the client all pinned to
#	   CPU 0 (taskset), where no wake-up crosses CPUs.
#	2  8 clients on distinct keys: direct_client -c 8 (EVAL and EVALSHA)
#	   against pgbench -c 8 -j 2 running inv_lock_probe(200); lock+unlock
#	   pairs per second, median of --reps runs, and the ratio worker/direct.
#	3  orders: pgbench -M prepared, each script reserves 1 unit under a new
#	   order reference (one transaction) and confirms it (the next), on one
#	   hot product and spread over 1,000, at 1, 8, 32 and 64 clients, with
#	   inventory.lock_scope none, reserve and order; orders per second, p50
#	   and p95 latency of the whole order, lock timeouts (IV011, caught and
#	   counted by a plpgsql helper), and each scope's throughput against
#	   'none' in the same cell.
#
# Usage: bash bench/locks/run.sh [options]
#	--quick				part 3 cells of 3 s instead of 10 (about 2.5 minutes in all)
#	--duration S		seconds per part 3 cell (default 10)
#	--sync-commit on|off	synchronous_commit of the cluster (default off)
#	--parts LIST		which parts, e.g. 1,2 (default 1,2,3)
#	--clients LIST		part 3 client counts (default "1,8,32,64")
#	--scopes LIST		part 3 scopes (default "none,reserve,order")
#	--pairs N			part 1 lock+unlock pairs per run (default 3000)
#	--pairs8 N			part 2 pairs per client per run, a multiple of 200
#						(default 3000)
#	--reps R			runs of parts 1 and 2 (default 5)
#	--out DIR			keep the raw results (pgbench output, part 3 TSV, Redis log) in DIR
#	--no-pin			part 1 without its second round on one CPU
#	--syscalls			part 1 also counts the worker's and the backend's system
#						calls per request (strace -c; slows that one probe only)
#
# Needs root, or the packages already installed (postgresql-15, pgbench,
# redis-server, libhiredis-dev, gcc), and the extension installed
# (make -C /work/main install).  The table goes to stdout, progress to
# stderr.

set -euo pipefail

bench_dir=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$bench_dir/../.." && pwd)
# shellcheck source=SCRIPTDIR/../../test/lib/common.sh
source "$root/test/lib/common.sh"

#
# Options
#
duration=10
sync_commit=off
parts=1,2,3
clients_list=1,8,32,64
scopes_list=none,reserve,order
pairs1=3000
pairs8=3000
reps=5
out_dir=
syscalls=0
pin=1
products=1000

usage()
{
	sed -n '/^# Usage:/,/^# stderr/p' "$0" | sed 's/^# \{0,1\}//' >&2
	exit "${1:-1}"
}

while (($# > 0)); do
	case $1 in
		--quick) duration=3 ;;
		--duration) duration=${2:?}; shift ;;
		--sync-commit) sync_commit=${2:?}; shift ;;
		--parts) parts=${2:?}; shift ;;
		--clients) clients_list=${2:?}; shift ;;
		--scopes) scopes_list=${2:?}; shift ;;
		--pairs) pairs1=${2:?}; shift ;;
		--pairs8) pairs8=${2:?}; shift ;;
		--reps) reps=${2:?}; shift ;;
		--out) out_dir=${2:?}; shift ;;
		--syscalls) syscalls=1 ;;
		--no-pin) pin=0 ;;
		-h | --help) usage 0 ;;
		*) echo "unknown option: $1" >&2; usage ;;
	esac
	shift
done

case $sync_commit in on | off) ;; *) inv_die "--sync-commit takes on or off"; exit 1 ;; esac
[[ $duration =~ ^[0-9]+$ && $duration -ge 1 ]] || { inv_die "--duration takes whole seconds"; exit 1; }
[[ $pairs1 =~ ^[0-9]+$ && $pairs1 -ge 1 ]] || { inv_die "--pairs takes a positive number"; exit 1; }
[[ $pairs8 =~ ^[0-9]+$ && $pairs8 -ge 200 && $((pairs8 % 200)) -eq 0 ]] ||
	{ inv_die "--pairs8 takes a multiple of 200"; exit 1; }
[[ $reps =~ ^[0-9]+$ && $reps -ge 1 ]] || { inv_die "--reps takes a positive number"; exit 1; }
IFS=, read -r -a client_counts <<<"$clients_list"
IFS=, read -r -a scopes <<<"$scopes_list"
for s in "${scopes[@]}"; do
	case $s in none | reserve | order) ;; *) inv_die "unknown scope: $s"; exit 1 ;; esac
done
want_part() { [[ ,$parts, == *",$1,"* ]]; }

#
# Scratch space and cleanup: the cluster first (its worker would only
# complain about a vanished Redis), then Redis, then the files.
#
work=$(mktemp -d "${TMPDIR:-/tmp}/inventory-bench.XXXXXX")
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
	if [[ -n $out_dir && -d $work ]]; then
		if mkdir -p "$out_dir"; then
			cp -r "$work"/. "$out_dir"/ 2>/dev/null || true
		fi
	fi
	rm -rf "$work"
}
inv_exit_trap_add bench_cleanup
trap 'exit 130' INT
trap 'exit 143' TERM

log() { inv_log "$*"; }

#
# Tools
#
inv_install_deps
for tool in pgbench psql redis-server redis-cli gcc; do
	command -v "$tool" >/dev/null || { inv_die "$tool not found"; exit 1; }
done
[[ -f /usr/include/hiredis/hiredis.h ]] || { inv_die "hiredis headers missing (libhiredis-dev)"; exit 1; }
[[ -f $(pg_config --pkglibdir)/inventory.so ]] ||
	{ inv_die "the extension is not installed: make -C $root install"; exit 1; }

gcc -O2 -Wall -o "$work/direct_client" "$bench_dir/direct_client.c" -lhiredis
DIRECT=$work/direct_client

#
# Redis
#
redis_port=$(inv_free_port)
redis-server --port "$redis_port" --bind 127.0.0.1 --protected-mode yes \
	--save '' --appendonly no --dir "$work" --logfile "$work/redis.log" \
	--daemonize no &
redis_pid=$!
for _ in $(seq 100); do
	[[ $(redis-cli -p "$redis_port" ping 2>/dev/null) == PONG ]] && break
	kill -0 "$redis_pid" 2>/dev/null || { cat "$work/redis.log" >&2; inv_die "redis-server exited"; exit 1; }
	sleep 0.1
done
[[ $(redis-cli -p "$redis_port" ping 2>/dev/null) == PONG ]] || { inv_die "redis-server did not answer"; exit 1; }
log "redis up: port $redis_port, pid $redis_pid"

#
# PostgreSQL
#
inv_cluster_start \
	"shared_preload_libraries = 'inventory'" \
	"inventory.redis_host = '127.0.0.1'" \
	"inventory.redis_port = $redis_port" \
	"max_connections = 200" \
	"synchronous_commit = $sync_commit"

q() # q DB SQL: one value or unaligned rows
{
	psql -X -q -A -t -v ON_ERROR_STOP=1 -d "$1" -c "$2"
}

inv_new_db bench 1
for _ in $(seq 150); do
	[[ $(q bench "SELECT connected FROM inventory.inv_lock_stats()") == t ]] && break
	sleep 0.1
done
[[ $(q bench "SELECT connected FROM inventory.inv_lock_stats()") == t ]] ||
	{ inv_die "the lock service did not connect to Redis"; exit 1; }

pg_version=$(q bench "SHOW server_version")
redis_version=$(redis-cli -p "$redis_port" info server | sed -n 's/^redis_version:\(.*\)\r*$/\1/p' | tr -d '\r')
cpu_model=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
ncpu=$(nproc)
so=$(pg_config --pkglibdir)/inventory.so
so_stamp="$(md5sum "$so" | cut -c1-12), installed $(date -u -r "$so" '+%Y-%m-%d %H:%M:%S UTC')"
tree=$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)
if [[ $tree != unknown && -n $(git -C "$root" status --porcelain -- src inventory--1.0.sql 2>/dev/null) ]]; then
	tree="$tree + uncommitted changes in src/ or inventory--1.0.sql"
fi

# The worker's counters: round_trips, total ms of them, acquired, released,
# contended, timed_out
lock_stats()
{
	q bench "SELECT round_trips, avg_round_trip_ms * round_trips, acquired,
	                released, contended, timed_out
	         FROM inventory.inv_lock_stats()" | tr '|' ' '
}

median()
{
	printf '%s\n' "$@" | sort -g |
		awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2];
		                          else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# pin_all CPULIST: move Redis, the postmaster and all its children (and so
# every backend started later) onto CPULIST
pin_all()
{
	local pm pid

	taskset -a -p -c "$1" "$redis_pid" >/dev/null 2>&1 || true
	pm=$(head -n 1 "$INV_CLUSTER_DIR/data/postmaster.pid")
	for pid in "$pm" $(pgrep -P "$pm"); do
		taskset -a -p -c "$1" "$pid" >/dev/null 2>&1 || true
	done
}

kv() { sed -n "s/.*\<$1=\([^ ]*\).*/\1/p"; }

report=$work/report.txt
: >"$report"
say() { printf '%s\n' "$*" >>"$report"; }
# The 1-minute load average: anything well above what this run puts on the
# machine means someone else was busy too, and the numbers are noisy
load() { cut -d' ' -f1 /proc/loadavg; }

say "inventory lock benchmark: $ncpu CPUs ($cpu_model), PostgreSQL $pg_version, Redis $redis_version"
say "inventory.so $so_stamp; source tree $tree"
say "synchronous_commit = $(q bench "SHOW synchronous_commit"), lock_ttl = $(q bench "SHOW inventory.lock_ttl"), lock_wait_timeout = $(q bench "SHOW inventory.lock_wait_timeout")"

#
# Part 1: one client
#
# Calls of a Redis command so far (from INFO commandstats)
redis_calls()
{
	redis-cli -p "$redis_port" info commandstats | tr -d '\r' |
		sed -n "s/^cmdstat_$1:calls=\([0-9]*\),.*/\1/p" | grep . || echo 0
}

worker_mode=
if want_part 1; then
	load1=$(load)
	log "part 1: lock+unlock round trip, 1 client, $reps x $pairs1 pairs"
	# Warm up both paths, and see which command the worker sends
	"$DIRECT" -p "$redis_port" -n 200 -m eval >/dev/null
	"$DIRECT" -p "$redis_port" -n 200 -m evalsha >/dev/null
	e0=$(redis_calls eval) s0=$(redis_calls evalsha)
	q bench "SELECT * FROM inventory.inv_lock_probe(200)" >/dev/null
	e1=$(redis_calls eval) s1=$(redis_calls evalsha)
	if ((s1 - s0 >= 400)); then worker_mode=evalsha; elif ((e1 - e0 >= 400)); then worker_mode="eval"; else worker_mode=unknown; fi
	log "  the worker sends $worker_mode (EVAL +$((e1 - e0)), EVALSHA +$((s1 - s0)) for 200 pairs)"

	de_us=() ds_us=() w_us=() w_rtt=() wp_us=()
	for ((r = 1; r <= reps; r++)); do
		de_us+=("$("$DIRECT" -p "$redis_port" -n "$pairs1" -m eval | kv us_per_pair)")
		ds_us+=("$("$DIRECT" -p "$redis_port" -n "$pairs1" -m evalsha | kv us_per_pair)")

		read -r rt0 ms0 _ <<<"$(lock_stats)"
		w_us+=("$(q bench "SELECT round(avg_round_trip_us::numeric, 3) FROM inventory.inv_lock_probe($pairs1)")")
		read -r rt1 ms1 _ <<<"$(lock_stats)"
		w_rtt+=("$(awk -v a="$ms0" -v b="$ms1" -v x="$rt0" -v y="$rt1" \
			'BEGIN { printf "%.3f", (b - a) * 1000 / (y - x) }')")
		# The same with each release posted, as a transaction's end posts it
		wp_us+=("$(q bench "SELECT round(avg_round_trip_us::numeric, 3) FROM inventory.inv_lock_probe($pairs1, false)")")
		log "  run $r: direct EVAL ${de_us[-1]}, direct EVALSHA ${ds_us[-1]}, worker ${w_us[-1]} us/pair, release posted ${wp_us[-1]} (worker's own Redis round trip ${w_rtt[-1]} us/command)"
	done
	de=$(median "${de_us[@]}")
	ds=$(median "${ds_us[@]}")
	w=$(median "${w_us[@]}")
	rtt=$(median "${w_rtt[@]}")
	wp=$(median "${wp_us[@]}")
	say ""
	say "== Part 1: lock+unlock round trip, 1 client ($pairs1 pairs per run, median of $reps runs; load average $load1 -> $(load)) =="
	say "the worker sends: $worker_mode"
	awk -v de="$de" -v ds="$ds" -v w="$w" -v wp="$wp" -v rtt="$rtt" 'BEGIN {
		printf "%-36s %12s %10s %16s %14s\n", "", "us per pair", "pairs/s", "worker/this", "posted/this"
		printf "%-36s %12.1f %10.0f %15.2fx %13.2fx\n", "direct, EVAL (hiredis, 1 connection)", de, 1e6 / de, w / de, wp / de
		printf "%-36s %12.1f %10.0f %15.2fx %13.2fx\n", "direct, EVALSHA", ds, 1e6 / ds, w / ds, wp / ds
		printf "%-36s %12.1f %10.0f\n", "worker, both waited (probe(N))", w, 1e6 / w
		printf "%-36s %12.1f %10.0f\n", "worker, release posted (N, false)", wp, 1e6 / wp
		printf "(release posted = what an order waits for: the lock, then its release queued at commit)\n"
		printf "worker -> Redis round trip, as the worker times it (inv_lock_stats): %.1f us per request,\n", rtt
		printf "  %.1f us per pair; the other %.1f us per pair (%.1f us per request) is the mailbox:\n", 2 * rtt, w - 2 * rtt, (w - 2 * rtt) / 2
		printf "  post under the LWLock, wake the worker, collect, answer, wake the backend\n"
	}' >>"$report"
	say "runs, direct EVAL us/pair:    ${de_us[*]}"
	say "runs, direct EVALSHA us/pair: ${ds_us[*]}"
	say "runs, worker us/pair:         ${w_us[*]}"
	say "runs, worker posted us/pair:  ${wp_us[*]}"
	say "runs, worker's Redis round trip us/request: ${w_rtt[*]}"

	# The same with Redis, PostgreSQL and the client all on one CPU: no
	# wake-up has to cross to another CPU (on a VM, an inter-processor
	# interrupt through the hypervisor)
	if [[ $pin == 1 ]] && command -v taskset >/dev/null && ((ncpu >= 2)); then
		dmode=$([[ $worker_mode == eval ]] && echo eval || echo evalsha)
		log "  again with everything on CPU 0 (direct $dmode)"
		pin_all 0
		pd_us=() pw_us=() pp_us=()
		for ((r = 1; r <= reps; r++)); do
			pd_us+=("$(taskset -c 0 "$DIRECT" -p "$redis_port" -n "$pairs1" -m "$dmode" | kv us_per_pair)")
			pw_us+=("$(taskset -c 0 psql -X -q -A -t -v ON_ERROR_STOP=1 -d bench \
				-c "SELECT round(avg_round_trip_us::numeric, 3) FROM inventory.inv_lock_probe($pairs1)")")
			pp_us+=("$(taskset -c 0 psql -X -q -A -t -v ON_ERROR_STOP=1 -d bench \
				-c "SELECT round(avg_round_trip_us::numeric, 3) FROM inventory.inv_lock_probe($pairs1, false)")")
			log "  run $r on one CPU: direct ${pd_us[-1]}, worker ${pw_us[-1]}, release posted ${pp_us[-1]} us/pair"
		done
		pin_all "0-$((ncpu - 1))"
		pd=$(median "${pd_us[@]}")
		pw=$(median "${pw_us[@]}")
		pp=$(median "${pp_us[@]}")
		say "all on one CPU (taskset: Redis, the postmaster and its children, the client):"
		awk -v d="$pd" -v w="$pw" -v p="$pp" -v m="$dmode" 'BEGIN {
			printf "%-36s %12.1f %10.0f %15.2fx %13.2fx\n", "direct, " toupper(m) ", one CPU", d, 1e6 / d, w / d, p / d
			printf "%-36s %12.1f %10.0f\n", "worker, both waited, one CPU", w, 1e6 / w
			printf "%-36s %12.1f %10.0f\n", "worker, release posted, one CPU", p, 1e6 / p
		}' >>"$report"
		say "runs, one CPU, direct us/pair: ${pd_us[*]}"
		say "runs, one CPU, worker us/pair: ${pw_us[*]}"
		say "runs, one CPU, worker posted us/pair: ${pp_us[*]}"
	fi

	# Optional: what the two processes do per request, by system call
	if [[ $syscalls == 1 ]]; then
		if ! command -v strace >/dev/null; then
			log "  --syscalls: strace not found, skipped"
		else
			log "  --syscalls: counting system calls of the worker and the backend over probe($pairs1)"
			wpid=$(q bench "SELECT worker_pid FROM inventory.inv_lock_stats()")
			PGAPPNAME=bench-syscalls psql -X -q -A -t -v ON_ERROR_STOP=1 -d bench \
				-c "SELECT pg_sleep(1)" \
				-c "SELECT * FROM inventory.inv_lock_probe($pairs1)" >/dev/null &
			probe_pid=$!
			sleep 0.3
			bpid=$(q bench "SELECT pid FROM pg_stat_activity WHERE application_name = 'bench-syscalls'")
			strace -c -p "$wpid" -o "$work/strace_worker.txt" 2>/dev/null &
			st1=$!
			strace -c -p "$bpid" -o "$work/strace_backend.txt" 2>/dev/null &
			st2=$!
			wait "$probe_pid"
			sleep 0.2
			kill -INT "$st1" "$st2" 2>/dev/null || true
			wait "$st1" "$st2" 2>/dev/null || true
			say "system calls per request (probe($pairs1) = $((2 * pairs1)) requests, under strace -c):"
			for who in worker backend; do
				awk -v who="$who" -v n="$((2 * pairs1))" '
					$NF ~ /^[a-z_0-9]+$/ && $4 ~ /^[0-9]+$/ && $NF != "total" {
						out = out sprintf(" %s %.2f", $NF, $4 / n) }
					END { printf "  %-8s%s\n", who, out }' "$work/strace_$who.txt" >>"$report"
			done
		fi
	fi
fi

#
# Part 2: eight clients, distinct keys
#
if want_part 2; then
	load2=$(load)
	log "part 2: 8 clients on distinct keys, $reps x 8 x $pairs8 pairs"
	probe_calls=$((pairs8 / 200))
	echo "SELECT * FROM inventory.inv_lock_probe(200);" >"$work/probe.pgbench"
	echo "SELECT * FROM inventory.inv_lock_probe(200, false);" >"$work/probe_posted.pgbench"
	de_ps=() ds_ps=() w_ps=() w_batch=() wp_ps=()
	for ((r = 1; r <= reps; r++)); do
		de_ps+=("$("$DIRECT" -p "$redis_port" -n "$pairs8" -c 8 -m eval | kv pairs_per_s)")
		ds_ps+=("$("$DIRECT" -p "$redis_port" -n "$pairs8" -c 8 -m evalsha | kv pairs_per_s)")

		read -r rt0 _ acq0 rel0 _ <<<"$(lock_stats)"
		pgbench -n -c 8 -j 2 -t "$probe_calls" -f "$work/probe.pgbench" bench \
			>"$work/part2_pgbench_$r.out" 2>&1 ||
			{ cat "$work/part2_pgbench_$r.out" >&2; inv_die "pgbench failed in part 2"; exit 1; }
		read -r rt1 _ acq1 rel1 _ <<<"$(lock_stats)"
		tps=$(sed -n 's/^tps = \([0-9.]*\) (without initial connection time)/\1/p' "$work/part2_pgbench_$r.out")
		w_ps+=("$(awk -v t="$tps" 'BEGIN { printf "%.1f", t * 200 }')")
		w_batch+=("$(awk -v a="$((acq1 - acq0 + rel1 - rel0))" -v n="$((rt1 - rt0))" \
			'BEGIN { printf "%.2f", a / n }')")
		pgbench -n -c 8 -j 2 -t "$probe_calls" -f "$work/probe_posted.pgbench" bench \
			>"$work/part2_posted_$r.out" 2>&1 ||
			{ cat "$work/part2_posted_$r.out" >&2; inv_die "pgbench failed in part 2"; exit 1; }
		tps=$(sed -n 's/^tps = \([0-9.]*\) (without initial connection time)/\1/p' "$work/part2_posted_$r.out")
		wp_ps+=("$(awk -v t="$tps" 'BEGIN { printf "%.1f", t * 200 }')")
		log "  run $r: direct EVAL ${de_ps[-1]}, direct EVALSHA ${ds_ps[-1]}, worker ${w_ps[-1]} pairs/s (${w_batch[-1]} requests per Redis round trip), release posted ${wp_ps[-1]}"
	done
	de=$(median "${de_ps[@]}")
	ds=$(median "${ds_ps[@]}")
	w=$(median "${w_ps[@]}")
	b=$(median "${w_batch[@]}")
	wp=$(median "${wp_ps[@]}")
	say ""
	say "== Part 2: 8 clients on distinct keys ($pairs8 pairs per client per run, median of $reps runs; load average $load2 -> $(load)) =="
	awk -v de="$de" -v ds="$ds" -v w="$w" -v wp="$wp" -v b="$b" 'BEGIN {
		printf "%-42s %10s %14s %12s %12s\n", "", "pairs/s", "us/pair/client", "worker/this", "posted/this"
		printf "%-42s %10.0f %14.1f %11.2fx %11.2fx\n", "direct, EVAL (8 processes, 8 connections)", de, 8e6 / de, w / de, wp / de
		printf "%-42s %10.0f %14.1f %11.2fx %11.2fx\n", "direct, EVALSHA", ds, 8e6 / ds, w / ds, wp / ds
		printf "%-42s %10.0f %14.1f\n", "worker, both waited (pgbench -c 8 -j 2)", w, 8e6 / w
		printf "%-42s %10.0f %14.1f\n", "worker, release posted", wp, 8e6 / wp
		printf "worker: %.2f requests per pipelined Redis round trip\n", b
	}' >>"$report"
	say "runs, direct EVAL pairs/s:    ${de_ps[*]}"
	say "runs, direct EVALSHA pairs/s: ${ds_ps[*]}"
	say "runs, worker pairs/s:         ${w_ps[*]}"
	say "runs, worker posted pairs/s:  ${wp_ps[*]}"
fi

#
# Part 3: orders
#
if want_part 3; then
	load3=$(load)
	log "part 3: orders, ${#scopes[@]} scopes x ${#client_counts[@]} client counts x 2 product sets, ${duration}s per cell"
	inv_new_db orders 1
	q orders "
		CREATE SCHEMA bench;
		CREATE SEQUENCE bench.order_seq CACHE 1000;
		CREATE UNLOGGED TABLE bench.lock_timeout (
			at timestamptz NOT NULL DEFAULT clock_timestamp(),
			product_id bigint NOT NULL,
			scope text NOT NULL);
		INSERT INTO inventory.product (sku, name)
		SELECT 'BENCH-' || lpad(g::text, 4, '0'), 'bench product ' || g
		FROM generate_series(1, $products) g;
		SELECT count(*) FROM inventory.product p,
			LATERAL inventory.inv_adjust(p.product_id, 1000000000, 'set', 'bench opening stock') a;
	" >/dev/null
	# Reserve 1 unit under a new order reference; a lock timeout (IV011) is
	# counted and answered 0, so that pgbench goes on.  The catch costs a
	# subtransaction, in every scope alike.
	q orders "
		CREATE FUNCTION bench.reserve(p_product bigint) RETURNS bigint
		LANGUAGE plpgsql AS \$\$
		DECLARE
			n bigint := nextval('bench.order_seq');
		BEGIN
			PERFORM inventory.inv_reserve('bench-' || n, p_product, 1);
			RETURN n;
		EXCEPTION WHEN SQLSTATE 'IV011' THEN
			INSERT INTO bench.lock_timeout (product_id, scope)
			VALUES (p_product, current_setting('inventory.lock_scope'));
			RETURN 0;
		END
		\$\$;
	" >/dev/null
	q orders "VACUUM ANALYZE" >/dev/null
	read -r lo hi <<<"$(q orders "SELECT min(product_id), max(product_id) FROM inventory.product" | tr '|' ' ')"

	# One order: reserve (a transaction), then confirm (the next one).  In
	# scope order the lock is held from the first to the second.
	cat >"$work/orders.pgbench" <<-'EOF'
		\set p random(:lo, :hi)
		SELECT bench.reserve(:p) AS n \gset
		\if :n > 0
		SELECT count(*) FROM inventory.inv_confirm_order('bench-' || :n);
		\endif
	EOF

	results=$work/part3.tsv
	printf 'products\tclients\tscope\ttps\torders_s\tp50_ms\tp95_ms\ttimeouts\tcontended\tleft_open\n' >"$results"
	cell=0
	for set in hot spread; do
		if [[ $set == hot ]]; then plo=$lo phi=$lo; else plo=$lo phi=$hi; fi
		for c in "${client_counts[@]}"; do
			j=$((c < 2 ? 1 : 2))
			for scope in "${scopes[@]}"; do
				cell=$((cell + 1))
				prefix=$work/cell$cell
				q orders "CHECKPOINT" >/dev/null
				t0=$(q orders "SELECT count(*) FROM bench.lock_timeout")
				read -r _ _ _ _ cont0 _ <<<"$(lock_stats)"
				ok=1
				PGOPTIONS="-c inventory.lock_scope=$scope" \
					pgbench -n -M prepared -c "$c" -j "$j" -T "$duration" \
					-D lo="$plo" -D hi="$phi" -f "$work/orders.pgbench" \
					-l --log-prefix="$prefix" orders >"$prefix.out" 2>&1 || ok=0
				t1=$(q orders "SELECT count(*) FROM bench.lock_timeout")
				read -r _ _ _ _ cont1 _ <<<"$(lock_stats)"
				# An order cut short by the end of the run keeps its lease
				# alive: release it, and wait for the lock to be given back.
				open=$(q orders "SELECT count(*) FROM inventory.reservation r,
					LATERAL inventory.inv_release_order(r.order_ref, 'bench cell over') t
					WHERE r.state = 'reserved'")
				for _ in $(seq 50); do
					[[ $(q bench "SELECT held_locks + queued_releases FROM inventory.inv_lock_stats()") == 0 ]] && break
					sleep 0.1
				done
				if ((ok == 0)); then
					log "  $set c=$c $scope: pgbench failed:"
					tail -n 5 "$prefix.out" >&2
					printf '%s\t%s\t%s\tERR\tERR\tERR\tERR\t%s\t%s\t%s\n' \
						"$set" "$c" "$scope" "$((t1 - t0))" "$((cont1 - cont0))" "$open" >>"$results"
					continue
				fi
				tps=$(sed -n 's/^tps = \([0-9.]*\) (without initial connection time)/\1/p' "$prefix.out")
				# Per-order latencies (us, 3rd field) from every thread's log
				read -r p50 p95 n <<<"$(cat "$prefix".[0-9]* 2>/dev/null | awk '$3 ~ /^[0-9]+$/ { print $3 }' |
					sort -n | awk '{ v[NR] = $1 } END {
						if (NR == 0) { print "nan nan 0"; exit }
						i50 = int(NR * 0.50 + 0.999999); i95 = int(NR * 0.95 + 0.999999)
						printf "%.2f %.2f %d\n", v[i50] / 1000, v[i95] / 1000, NR }')"
				timeouts=$((t1 - t0))
				# Orders that went through: scripts minus lock timeouts
				orders_s=$(awk -v t="$tps" -v n="$n" -v x="$timeouts" \
					'BEGIN { printf "%.1f", (n > 0 ? t * (n - x) / n : 0) }')
				printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$set" "$c" "$scope" \
					"$tps" "$orders_s" "$p50" "$p95" "$timeouts" "$((cont1 - cont0))" "$open" >>"$results"
				log "  $set c=$c $scope: $orders_s orders/s, p50 $p50 ms, p95 $p95 ms, $timeouts lock timeouts"
				rm -f "$prefix".[0-9]*
			done
		done
	done

	verify=$(q orders "SELECT count(*) FROM inventory.inv_verify()")
	say ""
	say "== Part 3: orders (reserve 1 unit, then confirm: 2 transactions), pgbench -M prepared, ${duration}s per cell; load average $load3 -> $(load) =="
	say "hot = 1 product, spread = $products products; orders/s = confirmed orders (scripts minus lock timeouts);"
	say "latency of the whole order; vs none = orders/s against scope none in the same row group"
	awk -F '\t' '
		NR == 1 { next }
		{
			key = $1 SUBSEP $2
			if ($3 == "none") base[key] = $5
			row[NR] = $0
		}
		END {
			printf "%-8s %7s %-8s %10s %9s %9s %9s %10s %8s\n", "products", "clients", "scope",
				"orders/s", "p50 ms", "p95 ms", "timeouts", "contended", "vs none"
			for (i = 2; i <= NR; i++) {
				split(row[i], f, "\t")
				key = f[1] SUBSEP f[2]
				ratio = (f[5] != "ERR" && base[key] > 0) ? sprintf("%.2fx", f[5] / base[key]) : "-"
				printf "%-8s %7s %-8s %10s %9s %9s %9s %10s %8s\n", f[1], f[2], f[3], f[5],
					f[6], f[7], f[8], f[9], ratio
			}
		}' "$results" >>"$report"
	say "contended = lock requests answered busy (each retried after a 1-50 ms backoff)"
	open_total=$(awk -F '\t' 'NR > 1 { s += $10 } END { print s + 0 }' "$results")
	say "orders left open by the end of a cell and released: $open_total; inv_verify() discrepancies: $verify"
fi

echo
cat "$report"
