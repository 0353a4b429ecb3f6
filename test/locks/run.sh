#!/usr/bin/env bash
#
# test/locks/run.sh
#	The cross-node order lock service, against a real Redis.
#
# Starts its own redis-server (Debian's, on a free loopback port, no
# persistence) and its own PostgreSQL clusters with the library in
# shared_preload_libraries, whatever cluster run_all.sh may have started:
#
#	cluster 1	test/lib/common.sh's inv_cluster_start; its expiry worker
#			sweeps the database "postgres" every second
#	cluster 2	started here (common.sh runs one cluster per shell); shares
#			Redis with cluster 1 as a second node; at the end restarted
#			without preloading
#
# Checks, one line each ("ok N - ..." / "not ok N - ...", with "# " lines
# explaining a failure), each asserting an SQLSTATE and the state left:
#
#	1  the worker runs, is connected, and shows in pg_stat_activity
#	2  a key held from outside: IV011 after lock_wait_timeout, then success
#	3  reserve scope: released at commit, rollback, and savepoint rollback
#	4  order scope: the reservation owns the lock until confirm, release,
#	   cancel or expiry commits; a second order times out meanwhile
#	5  lease renewal past the TTL, and the lapse at inventory.lock_max_hold
#	6  fencing: a holder stalled past its TTL gets IV013 and changes nothing
#	7  Redis loses its fence counters (FLUSHALL): the next reserve refences
#	8  Redis down: IV012 (refuse) or a WARNING (fallback); reconnection;
#	   one log line per outage
#	9  two clusters sharing Redis exclude each other; a pgbench race on both
#	10 a backend SIGKILLed holding locks: the server restarts, the keys lapse
#	   by their TTL, the expiry worker expires the orphaned reservation
#	11 64 clients race for 1,000 units, in reserve and in order scope
#	12 bad settings refused; the Redis password never shown nor logged
#	13 not preloaded: inv_lock_stats() 55000, inv_reserve IV012
#	14 the worker under faults: idle while Redis is down, in-flight
#	   requests answered when it dies
#	15 inv_lock_probe(N, false): releases posted as at a transaction's end
#	   reach Redis ahead of the next lock (none answered busy), all counted,
#	   none left in Redis; waited releases alike
#	16 sessions of one node waiting for a product's lock each get it in
#	   turn once its holder gives it back (woken by the worker)
#	17 DROP EXTENSION gives back the locks of its reservations; the expiry
#	   worker of that database stops for good, without errors
#	18 Redis behind a Unix socket (inventory.redis_host a path)
#	19 no server process died of a signal that only a bug sends
#
# Contract (test/run_all.sh): print one line per check, exit 0 only if every
# check passed.  It ignores the PGHOST/PGPORT cluster run_all.sh started.
# Knobs: LK_CLIENTS (64), LK_RACE_SECONDS (8), LK_BENCH_SECONDS (10),
# LK_ONLY="6 8" (run only those checks; the others print as skipped),
# INV_KEEP_CLUSTER=1 (keep both clusters' directories, Redis's log, and the
# work directory with each session's output), PG_CONFIG (the server to
# test).  Takes about a minute; helpers.sql and race.pgbench are its own.
#

set -u

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
# shellcheck source=SCRIPTDIR/../lib/common.sh
source "$root/test/lib/common.sh"

# This suite runs clusters of its own; forget the one run_all.sh started.
unset INV_CLUSTER_DIR PGHOST PGPORT PGUSER PGDATABASE PGOPTIONS PGAPPNAME

LK_CLIENTS=${LK_CLIENTS:-64}
LK_RACE_SECONDS=${LK_RACE_SECONDS:-8}
LK_BENCH_SECONDS=${LK_BENCH_SECONDS:-10}

pgbin=$(inv_pg_bindir)
PSQL=$pgbin/psql
PGBENCH=$pgbin/pgbench
REDIS_SERVER=/usr/bin/redis-server
REDIS_CLI=/usr/bin/redis-cli

work=$(mktemp -d "${TMPDIR:-/tmp}/inv_locks.XXXXXX")
chmod 755 "$work"

rport=""		# Redis port
rpass=""		# Redis password, once check 12 sets one
c1_dir="" c1_port=""
c2_dir="" c2_port=""
declare -A LK_FD=() LK_PID=() LK_SYNC=()
bg_pids=()

check_no=0
failures=0
reasons=()

# ---------------------------------------------------------------------------
# Cleanup
# ---------------------------------------------------------------------------

lk_cleanup()
{
	local name pid

	for name in "${!LK_PID[@]}"; do
		kill "${LK_PID[$name]}" 2>/dev/null
	done
	for pid in "${bg_pids[@]}"; do
		kill "$pid" 2>/dev/null
	done
	c2_stop
	redis_stop
	if [[ ${INV_KEEP_CLUSTER:-0} == 1 ]]; then
		inv_log "kept $work (INV_KEEP_CLUSTER=1)"
	else
		rm -rf "$work"
	fi
}
trap lk_cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
# A session whose server went away must not kill us when we write to it.
trap '' PIPE

# ---------------------------------------------------------------------------
# Reporting
# ---------------------------------------------------------------------------

# lk_begin: start collecting the failed expectations of a check.
lk_begin()
{
	reasons=()
	check_start=$EPOCHREALTIME
	# An earlier check may have left cluster 1 restarting after a crash.
	if [[ -n $c1_dir ]] && ! lk_connected 1; then
		inv_wait 30 lk_connected 1 ||
			lk_note "cluster 1's lock service not connected at the start of the check"
	fi
}

# lk_note TEXT: a failed expectation of the current check.
lk_note()
{
	reasons+=("$1")
}

# lk_end DESCRIPTION: print the check's verdict and its failed expectations.
lk_end()
{
	local r secs

	check_no=$((check_no + 1))
	secs=$(inv_since "$check_start")
	if ((${#reasons[@]} == 0)); then
		echo "ok $check_no - $1 (${secs}s)"
	else
		failures=$((failures + 1))
		echo "not ok $check_no - $1 (${secs}s)"
		for r in "${reasons[@]}"; do
			printf '%s\n' "$r" | sed 's/^/#   /'
		done
	fi
}

# lk_eq WHAT ACTUAL EXPECTED
lk_eq()
{
	[[ $2 == "$3" ]] || lk_note "$1: got '$2', expected '$3'"
}

# lk_ne WHAT ACTUAL UNEXPECTED
lk_ne()
{
	[[ $2 != "$3" ]] || lk_note "$1: got '$2'"
}

# lk_true WHAT AWK-CONDITION: numeric comparison, e.g. lk_true x "$a >= 0.5"
lk_true()
{
	local what=$1 cond=$2

	if ! awk "BEGIN { exit !($cond) }" 2>/dev/null; then
		lk_note "$what: not ($cond)"
	fi
}

# ---------------------------------------------------------------------------
# Redis
# ---------------------------------------------------------------------------

rcli()
{
	if [[ -n $rpass ]]; then
		"$REDIS_CLI" -h 127.0.0.1 -p "$rport" -a "$rpass" --no-auth-warning "$@"
	else
		"$REDIS_CLI" -h 127.0.0.1 -p "$rport" "$@"
	fi
}

redis_start()
{
	mkdir -p "$work/redis"
	[[ -n $rport ]] || rport=$(inv_free_port) || return 1
	"$REDIS_SERVER" --port "$rport" --bind 127.0.0.1 --save '' \
		--appendonly no --dir "$work/redis" --daemonize yes \
		--pidfile "$work/redis/redis.pid" \
		--unixsocket "$work/redis/redis.sock" --unixsocketperm 777 \
		--logfile "$work/redis/redis.log" >/dev/null || return 1
	inv_wait 10 lk_redis_up
}

lk_redis_up()
{
	[[ $(rcli PING 2>/dev/null) == PONG ]]
}

redis_pid()
{
	local pid

	pid=$(cat "$work/redis/redis.pid" 2>/dev/null) || return 1
	[[ $pid =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null && echo "$pid"
}

redis_stop()
{
	local pid

	pid=$(redis_pid) || return 0
	kill -TERM "$pid" 2>/dev/null
	inv_wait 10 lk_not_running "$pid" || kill -KILL "$pid" 2>/dev/null
	inv_wait 5 lk_not_running "$pid"
}

lk_not_running()
{
	! kill -0 "$1" 2>/dev/null
}

# lk_key PRODUCT [SUPPLIER]: the Redis key of a product's lock.
lk_key()
{
	echo "inventory:supplier:${2:-1}:product:$1"
}

rget()
{
	rcli GET "$1" 2>/dev/null
}

# lk_key_gone KEY: true when the key does not exist.
lk_key_gone()
{
	[[ $(rcli EXISTS "$1" 2>/dev/null) == 0 ]]
}

# ---------------------------------------------------------------------------
# PostgreSQL
# ---------------------------------------------------------------------------

# c2_conf LINE...: (re)write cluster 2's configuration.
c2_conf()
{
	local line

	{
		echo "# written by test/locks/run.sh"
		echo "listen_addresses = '127.0.0.1'"
		echo "port = $c2_port"
		echo "unix_socket_directories = '$c2_dir'"
		echo "max_connections = 100"
		echo "shared_buffers = 64MB"
		echo "log_line_prefix = '%m [%p] %q%a '"
		echo "lc_messages = 'C'"
		for line in "$@"; do
			printf '%s\n' "$line"
		done
	} >"$c2_dir/data/inventory_test.conf"
	inv_is_root && chown postgres:postgres "$c2_dir/data/inventory_test.conf"
	return 0
}

# c2_pg CMD...: run a server tool as the cluster's owner, from its directory.
c2_pg()
{
	INV_CLUSTER_DIR=$c2_dir inv_as_pg "$@"
}

# c2_start LINE...: a second private cluster; common.sh keeps one per shell.
c2_start()
{
	local attempt

	c2_dir=$(mktemp -d "${TMPDIR:-/tmp}/inventory-pg2.XXXXXX") || return 1
	if inv_is_root; then
		chown postgres:postgres "$c2_dir" || return 1
	fi
	if ! c2_pg initdb -D "$c2_dir/data" -U postgres -A trust -E UTF8 \
		--locale=C --no-sync >"$c2_dir/initdb.log" 2>&1; then
		cat "$c2_dir/initdb.log" >&2
		return 1
	fi
	echo "include 'inventory_test.conf'" >>"$c2_dir/data/postgresql.conf"
	for attempt in 1 2 3 4 5; do
		c2_port=$(inv_free_port) || return 1
		c2_conf "$@"
		if c2_pg pg_ctl -D "$c2_dir/data" -l "$c2_dir/server.log" -w -t 60 \
			start >/dev/null 2>&1; then
			inv_log "cluster 2 up: port $c2_port, dir $c2_dir"
			return 0
		fi
		grep -qE 'could not bind|Address already in use' "$c2_dir/server.log" ||
			break
		c2_pg pg_ctl -D "$c2_dir/data" -m immediate -w -t 10 stop >/dev/null 2>&1
	done
	cat "$c2_dir/server.log" >&2
	return 1
}

# c2_restart LINE...: restart cluster 2 with a new configuration.
c2_restart()
{
	c2_conf "$@"
	c2_pg pg_ctl -D "$c2_dir/data" -l "$c2_dir/server.log" -w -t 60 -m fast \
		restart >/dev/null 2>&1
}

c2_stop()
{
	local pid

	[[ -n $c2_dir && -d $c2_dir ]] || return 0
	if [[ -f $c2_dir/data/postmaster.pid ]]; then
		c2_pg pg_ctl -D "$c2_dir/data" -m fast -w -t 30 stop >/dev/null 2>&1 ||
			c2_pg pg_ctl -D "$c2_dir/data" -m immediate -w -t 15 stop >/dev/null 2>&1
		if [[ -f $c2_dir/data/postmaster.pid ]]; then
			pid=$(head -n 1 "$c2_dir/data/postmaster.pid")
			[[ $pid =~ ^[0-9]+$ ]] && kill -KILL "$pid" 2>/dev/null
		fi
	fi
	if [[ ${INV_KEEP_CLUSTER:-0} == 1 ]]; then
		inv_log "cluster 2 stopped; kept $c2_dir"
	else
		rm -rf "$c2_dir"
	fi
	c2_dir=""
}

# lk_conn CLUSTER: the connection options of cluster 1 or 2.
lk_conn()
{
	if [[ $1 == 2 ]]; then
		echo "-h $c2_dir -p $c2_port -U postgres"
	else
		echo "-h $c1_dir -p $c1_port -U postgres"
	fi
}

# lk_sql CLUSTER DB SQL: run SQL (psql script text) in one session, going
# on after errors.  Sets LK_OUT (stdout: unaligned, tuples only), LK_ERR
# (stderr, verbose errors), LK_STATE (the first error's SQLSTATE, or 00000),
# LK_STATES (every error's SQLSTATE), LK_HINT (the first HINT).
lk_sql()
{
	local cluster=$1 db=$2 sql=$3
	local -a conn

	read -r -a conn <<<"$(lk_conn "$cluster")"
	LK_OUT=$("$PSQL" -X -q -A -t -v ON_ERROR_STOP=0 -v VERBOSITY=verbose \
		"${conn[@]}" -d "$db" 2>"$work/lk_sql.err" <<<"$sql")
	LK_ERR=$(cat "$work/lk_sql.err")
	LK_STATES=$(lk_states_of "$work/lk_sql.err")
	LK_STATE=$(head -n 1 <<<"$LK_STATES")
	: "${LK_STATE:=00000}"
	LK_HINT=$(sed -n 's/^HINT:  //p' "$work/lk_sql.err" | head -n 1)
}

# lk_states_of FILE: the SQLSTATE of every ERROR in a psql stderr file.
lk_states_of()
{
	sed -n 's/^\(psql:[^ ]* \)\{0,1\}ERROR:  \([0-9A-Z]\{5\}\): .*/\2/p' "$1"
}

# lk_val CLUSTER DB SQL: print one query's output; empty on error.
lk_val()
{
	local -a conn

	read -r -a conn <<<"$(lk_conn "$1")"
	"$PSQL" -X -q -A -t -v ON_ERROR_STOP=1 "${conn[@]}" -d "$2" -c "$3" 2>/dev/null
}

# lk_query_is CLUSTER DB SQL VALUE: true when the query prints VALUE.
lk_query_is()
{
	[[ $(lk_val "$1" "$2" "$3") == "$4" ]]
}

# lk_newdb CLUSTER DB SUPPLIER: a database with the extension, configured,
# and the pgbench helpers.
lk_newdb()
{
	local -a conn

	read -r -a conn <<<"$(lk_conn "$1")"
	"$pgbin/createdb" "${conn[@]}" "$2" || return 1
	"$PSQL" -X -q -v ON_ERROR_STOP=1 "${conn[@]}" -d "$2" >/dev/null <<-SQL
		CREATE EXTENSION inventory;
		SELECT inventory.inv_configure($3);
		\i $here/helpers.sql
	SQL
}

# lk_product CLUSTER DB SKU UNITS: create a product with UNITS in stock;
# print its id.
lk_product()
{
	lk_val "$1" "$2" "
		WITH p AS (INSERT INTO inventory.product (sku, name)
				   VALUES ('$3', 'locks test $3') RETURNING product_id)
		SELECT product_id FROM p;" || return 1
}

lk_stock_set()
{
	lk_val "$1" "$2" "SELECT stock_level FROM inventory.inv_adjust($3::bigint, $4, 'set', 'locks test')" >/dev/null
}

# lk_new_product CLUSTER DB SKU UNITS: product + stock; print its id.
lk_new_product()
{
	local id

	id=$(lk_product "$1" "$2" "$3") && [[ $id =~ ^[0-9]+$ ]] || return 1
	lk_stock_set "$1" "$2" "$id" "$4" || return 1
	echo "$id"
}

# lk_stock CLUSTER DB PRODUCT: "stock_level reserved committed lock_fence"
lk_stock()
{
	lk_val "$1" "$2" "SELECT stock_level || ' ' || reserved || ' ' || committed || ' ' || lock_fence
		FROM inventory.stock_slot WHERE product_id = $3 AND slot = 0"
}

# lk_verify_rows CLUSTER DB [PRODUCT...]: rows inv_verify() reports (about
# those products only, when any are named).
lk_verify_rows()
{
	local cluster=$1 db=$2 ids

	shift 2
	ids=$(IFS=,; echo "$*")
	if [[ -n $ids ]]; then
		lk_val "$cluster" "$db" "SELECT count(*) FROM inventory.inv_verify() WHERE product_id IN ($ids)"
	else
		lk_val "$cluster" "$db" "SELECT count(*) FROM inventory.inv_verify()"
	fi
}

# lk_stat CLUSTER COLUMN: one column of inv_lock_stats(), from database
# postgres (the function needs the extension in some database: use lk).
lk_stat()
{
	lk_val "$1" "${LK_STATDB:-lk}" "SELECT $2 FROM inventory.inv_lock_stats()"
}

lk_connected()
{
	[[ $(lk_stat "$1" connected) == t ]]
}

# ---------------------------------------------------------------------------
# Sessions kept open across steps: psql reading a FIFO.
# ---------------------------------------------------------------------------

# lk_open NAME CLUSTER DB: start a session (psql reading a FIFO), going on
# after errors; its output and errors go to $work/NAME.out and .err.
lk_open()
{
	local name=$1 fd
	local -a conn

	read -r -a conn <<<"$(lk_conn "$2")"
	rm -f "$work/$name.in" "$work/$name.out" "$work/$name.err"
	mkfifo "$work/$name.in"
	"$PSQL" -X -q -A -t -v ON_ERROR_STOP=0 -v VERBOSITY=verbose \
		"${conn[@]}" -d "$3" <"$work/$name.in" >"$work/$name.out" \
		2>"$work/$name.err" &
	LK_PID[$name]=$!
	exec {fd}>"$work/$name.in"
	LK_FD[$name]=$fd
	LK_SYNC[$name]=0
}

# lk_send NAME TEXT: send psql input to a session, without waiting.
lk_send()
{
	printf '%s\n' "$2" 1>&"${LK_FD[$1]}" 2>/dev/null
}

# lk_sync NAME [TIMEOUT]: wait until the session has run all it was sent.
lk_sync()
{
	local name=$1 n

	n=$((LK_SYNC[$name] + 1))
	LK_SYNC[$name]=$n
	lk_send "$name" "\\echo __lk_sync_${n}__"
	inv_wait "${2:-30}" grep -qx "__lk_sync_${n}__" "$work/$name.out"
}

# lk_session_pid NAME: set LK_SPID to the session's backend pid.  (Not
# for a command substitution: lk_sync must count in this shell.)
lk_session_pid()
{
	LK_SPID=""
	lk_send "$1" "SELECT 'backend_pid=' || pg_backend_pid();"
	lk_sync "$1" || return 1
	LK_SPID=$(sed -n 's/^backend_pid=//p' "$work/$1.out" | tail -n 1)
}

# lk_close NAME: end a session.
lk_close()
{
	local name=$1 pid=${LK_PID[$1]:-} fd=${LK_FD[$1]:-}

	[[ -n $pid ]] || return 0
	printf '\\q\n' 1>&"$fd" 2>/dev/null
	exec {fd}>&-
	inv_wait 10 lk_not_running "$pid" || kill "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	unset "LK_PID[$name]" "LK_FD[$name]"
}

# lk_pgbench CLUSTER DB SECONDS CLIENTS SCOPE LOG -D...: run race.pgbench.
lk_pgbench()
{
	local cluster=$1 db=$2 secs=$3 clients=$4 scope=$5 log=$6
	local -a conn

	shift 6
	read -r -a conn <<<"$(lk_conn "$cluster")"
	PGOPTIONS="-c inventory.lock_scope=$scope" timeout 120 "$PGBENCH" -n \
		"${conn[@]}" -c "$clients" -j 2 -T "$secs" --failures-detailed \
		-f "$here/race.pgbench" "$@" "$db" >"$log" 2>&1
}

# lk_bench_summary LOG: "rc processed failed aborted errors" of a pgbench log
lk_bench_line()
{
	local log=$1 processed failed aborted errors

	processed=$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' "$log")
	failed=$(sed -n 's/^number of failed transactions: \([0-9]*\).*/\1/p' "$log")
	aborted=$(grep -c 'aborted' "$log")
	errors=$(grep -c 'ERROR' "$log")
	echo "${processed:-?} ${failed:-?} $aborted $errors"
}

# ---------------------------------------------------------------------------
# Start Redis and cluster 1
# ---------------------------------------------------------------------------

if ! redis_start; then
	echo "not ok 1 - redis-server did not start"
	sed 's/^/# /' "$work/redis/redis.log" 2>/dev/null
	exit 1
fi
inv_log "redis up: port $rport"

if ! inv_cluster_start "shared_preload_libraries = 'inventory'" \
	"inventory.redis_port = $rport" \
	"inventory.expiry_databases = 'postgres'" \
	"inventory.expiry_interval = 1"; then
	echo "not ok 1 - cluster 1 did not start"
	exit 1
fi
c1_dir=$INV_CLUSTER_DIR
c1_port=$PGPORT
c1_log=$c1_dir/server.log

if ! lk_newdb 1 lk 1; then
	echo "not ok 1 - could not create the test database"
	exit 1
fi

# ---------------------------------------------------------------------------
# 1. The worker runs and is connected.
# ---------------------------------------------------------------------------
check_worker()
{
	local row pid connected activity probe

	lk_begin
	inv_wait 10 lk_connected 1 || lk_note "the worker did not connect within 10 s"
	row=$(lk_val 1 lk "SELECT coalesce(worker_pid, 0) || ' ' || connected || ' ' || coalesce(last_error, '-') FROM inventory.inv_lock_stats()")
	read -r pid connected _ <<<"$row"
	lk_eq "inv_lock_stats().connected" "$connected" true
	if [[ ${pid:-0} =~ ^[1-9][0-9]*$ ]] && kill -0 "$pid" 2>/dev/null; then
		[[ $(tr '\0' ' ' </proc/"$pid"/cmdline) == *"inventory lock service"* ]] ||
			lk_note "process $pid is not the lock service: $(tr '\0' ' ' </proc/"$pid"/cmdline)"
	else
		lk_note "inv_lock_stats().worker_pid is not a live process: '$row'"
	fi
	activity=$(lk_val 1 lk "SELECT string_agg(pid::text, ',') FROM pg_stat_activity WHERE backend_type = 'inventory lock service'")
	lk_eq "pid of pg_stat_activity's backend_type 'inventory lock service'" \
		"$activity" "$pid"
	probe=$(lk_val 1 lk "SELECT iterations FROM inventory.inv_lock_probe(20)")
	lk_eq "inv_lock_probe(20).iterations" "$probe" 20
	lk_end "lock service worker runs (pid ${pid:-?}), is connected, and is listed in pg_stat_activity"
}

# ---------------------------------------------------------------------------
# 2. A lock held from outside: IV011 after lock_wait_timeout.
# ---------------------------------------------------------------------------
check_outside_holder()
{
	local p key elapsed stock timed0 timed1

	lk_begin
	p=$(lk_new_product 1 lk C2 10)
	key=$(lk_key "$p")
	timed0=$(lk_stat 1 timed_out)
	lk_eq "redis-cli SET NX PX" "$(rcli SET "$key" someone NX PX 60000)" OK
	lk_sql 1 lk "
		SET inventory.lock_scope = 'reserve';
		SET inventory.lock_wait_timeout = 500;
		SELECT clock_timestamp() AS t0 \\gset
		SELECT reservation_id FROM inventory.inv_reserve('C2-1', $p, 1);
		SELECT extract(epoch FROM clock_timestamp() - :'t0'::timestamptz);"
	elapsed=$(tail -n 1 <<<"$LK_OUT")
	lk_eq "SQLSTATE while held from outside" "$LK_STATE" IV011
	[[ $LK_HINT == *inventory.lock_wait_timeout* ]] ||
		lk_note "IV011 hint does not name inventory.lock_wait_timeout: '$LK_HINT'"
	lk_true "waited ${elapsed}s, expected about 0.5 s" "${elapsed:-0} >= 0.5 && ${elapsed:-0} < 3"
	lk_eq "key value after the timeout" "$(rget "$key")" someone
	lk_eq "reservations of C2-1" "$(lk_val 1 lk "SELECT count(*) FROM inventory.reservation WHERE order_ref = 'C2-1'")" 0
	timed1=$(lk_stat 1 timed_out)
	lk_true "inv_lock_stats().timed_out grows ($timed0 -> $timed1)" "${timed1:-0} > ${timed0:-0}"

	rcli DEL "$key" >/dev/null
	lk_sql 1 lk "
		SET inventory.lock_scope = 'reserve';
		SET inventory.lock_wait_timeout = 500;
		SELECT state FROM inventory.inv_reserve('C2-2', $p, 1);"
	lk_eq "SQLSTATE after redis-cli DEL" "$LK_STATE" 00000
	lk_eq "reservation state" "$LK_OUT" reserved
	stock=$(lk_stock 1 lk "$p")
	lk_eq "stock_level reserved committed" "${stock% *}" "10 1 0"
	inv_wait 2 lk_key_gone "$key" || lk_note "key still there after commit: $(rget "$key")"
	lk_end "a lock held from outside: IV011 after ${elapsed:-?}s with its hint; reserve succeeds once the key is deleted"
}

# ---------------------------------------------------------------------------
# 3. Reserve scope: given back at commit, rollback, savepoint rollback.
# ---------------------------------------------------------------------------
check_reserve_scope()
{
	local p key token spid state

	lk_begin
	p=$(lk_new_product 1 lk C3 10)
	key=$(lk_key "$p")
	lk_open s3 1 lk
	lk_session_pid s3
	spid=$LK_SPID
	lk_send s3 "SET inventory.lock_scope = 'reserve';"

	# commit
	lk_send s3 "BEGIN;"
	lk_send s3 "SELECT 'r1=' || coalesce(lock_token, 'NULL') || ',' || lock_fence FROM inventory.inv_reserve('C3-1', $p, 1);"
	lk_sync s3
	token=$(rget "$key")
	[[ $token =~ ^[0-9a-f]{32}$ ]] || lk_note "during the transaction the key holds '$token', not a token"
	grep -q '^r1=NULL,[1-9]' "$work/s3.out" ||
		lk_note "reserve-scope reservation should have lock_token NULL and a lock_fence: $(grep '^r1=' "$work/s3.out")"
	lk_eq "inv_locks() scope during the transaction" \
		"$(lk_val 1 lk "SELECT scope FROM inventory.inv_locks() WHERE key = '$key'")" reserve
	lk_send s3 "COMMIT;"
	lk_sync s3
	inv_wait 2 lk_key_gone "$key" || lk_note "key still there 2 s after COMMIT"

	# rollback
	lk_send s3 "BEGIN;"
	lk_send s3 "SELECT reservation_id FROM inventory.inv_reserve('C3-2', $p, 1);"
	lk_sync s3
	[[ $(rget "$key") =~ ^[0-9a-f]{32}$ ]] || lk_note "key missing during the second transaction"
	lk_send s3 "ROLLBACK;"
	lk_sync s3
	inv_wait 2 lk_key_gone "$key" || lk_note "key still there 2 s after ROLLBACK"

	# savepoint rolled back: the lock goes back before the transaction ends
	lk_send s3 "BEGIN;"
	lk_send s3 "SAVEPOINT s;"
	lk_send s3 "SELECT reservation_id FROM inventory.inv_reserve('C3-3', $p, 1);"
	lk_sync s3
	[[ $(rget "$key") =~ ^[0-9a-f]{32}$ ]] || lk_note "key missing inside the savepoint"
	lk_send s3 "ROLLBACK TO SAVEPOINT s;"
	lk_sync s3
	inv_wait 2 lk_key_gone "$key" || lk_note "key still there 2 s after ROLLBACK TO SAVEPOINT"
	state=$(lk_val 1 lk "SELECT state FROM pg_stat_activity WHERE pid = $spid")
	lk_eq "session state when the key went" "$state" "idle in transaction"
	# a reserve in a released (committed) savepoint keeps its lock to the end
	lk_send s3 "SAVEPOINT t;"
	lk_send s3 "SELECT reservation_id FROM inventory.inv_reserve('C3-4', $p, 2);"
	lk_send s3 "RELEASE SAVEPOINT t;"
	lk_sync s3
	[[ $(rget "$key") =~ ^[0-9a-f]{32}$ ]] || lk_note "key missing after RELEASE SAVEPOINT"
	lk_send s3 "COMMIT;"
	lk_sync s3
	inv_wait 2 lk_key_gone "$key" || lk_note "key still there 2 s after the last COMMIT"

	# two lines for the product in one transaction: the second reuses the
	# transaction's lock instead of waiting for it
	lk_send s3 "SET inventory.lock_wait_timeout = 500;"
	lk_send s3 "BEGIN;"
	lk_send s3 "SELECT 'r5=' || lock_fence FROM inventory.inv_reserve('C3-5', $p, 1);"
	lk_send s3 "SELECT 'r6=' || lock_fence FROM inventory.inv_reserve('C3-6', $p, 1);"
	lk_sync s3
	[[ $(rget "$key") =~ ^[0-9a-f]{32}$ ]] || lk_note "key missing during the two-line transaction"
	lk_eq "fences of two lines in one transaction" \
		"$(sed -n 's/^r[56]=//p' "$work/s3.out" | sort -u | wc -l)" 1
	lk_send s3 "COMMIT;"
	lk_sync s3
	inv_wait 2 lk_key_gone "$key" || lk_note "key still there 2 s after the two-line COMMIT"
	lk_close s3

	[[ -s $work/s3.err ]] && lk_note "session errors: $(cat "$work/s3.err")"
	lk_eq "order refs kept" \
		"$(lk_val 1 lk "SELECT string_agg(order_ref, ',' ORDER BY order_ref) FROM inventory.reservation WHERE order_ref LIKE 'C3-%'")" "C3-1,C3-4,C3-5,C3-6"
	lk_eq "stock_level reserved committed" "$(lk_stock 1 lk "$p" | cut -d' ' -f1-3)" "10 5 0"
	lk_eq "inv_verify() rows" "$(lk_verify_rows 1 lk "$p")" 0
	lk_end "reserve scope: the key lives only during the reserving transaction (commit, rollback, savepoint rollback; two lines share it)"
}

# ---------------------------------------------------------------------------
# 4. Order scope: the reservation owns the lock.
# ---------------------------------------------------------------------------

# lk_order_reserve REF PRODUCT QTY [EXTRA-SQL]: reserve in order scope in its
# own transaction; sets RES_ID and RES_TOKEN.
lk_order_reserve()
{
	local row

	lk_sql 1 lk "
		SET inventory.lock_scope = 'order';
		${4:-}
		SELECT reservation_id || ' ' || coalesce(lock_token, 'NULL') || ' ' || coalesce(lock_fence::text, 'NULL')
		FROM inventory.inv_reserve('$1', $2, $3);"
	row=$(tail -n 1 <<<"$LK_OUT")
	read -r RES_ID RES_TOKEN _ <<<"$row"
}

check_order_scope()
{
	local p key row action ref n

	lk_begin
	p=$(lk_new_product 1 lk C4 20)
	key=$(lk_key "$p")

	lk_order_reserve C4-A "$p" 2
	lk_eq "SQLSTATE of the order-scope reserve" "$LK_STATE" 00000
	lk_eq "key value = reservation.lock_token" "$(rget "$key")" "$RES_TOKEN"
	[[ $RES_TOKEN =~ ^[0-9a-f]{32}$ ]] || lk_note "lock_token '$RES_TOKEN' is not a token"
	row=$(lk_val 1 lk "SELECT reservation_id || ',' || scope FROM inventory.inv_locks() WHERE key = '$key'")
	lk_eq "inv_locks() row" "$row" "$RES_ID,order"

	lk_sql 1 lk "
		SET inventory.lock_scope = 'order';
		SET inventory.lock_wait_timeout = 500;
		SELECT reservation_id FROM inventory.inv_reserve('C4-B', $p, 1);"
	lk_eq "SQLSTATE of a second order for the product" "$LK_STATE" IV011
	lk_eq "reservations of C4-B" "$(lk_val 1 lk "SELECT count(*) FROM inventory.reservation WHERE order_ref = 'C4-B'")" 0

	# a confirmation rolled back gives nothing back
	lk_sql 1 lk "BEGIN; SELECT changed FROM inventory.inv_confirm_order('C4-A'); ROLLBACK;"
	sleep 0.3
	lk_eq "key after a rolled-back confirm" "$(rget "$key")" "$RES_TOKEN"

	n=0
	for action in confirm release cancel; do
		n=$((n + 1))
		ref=C4-A
		if [[ $action != confirm ]]; then
			ref=C4-$action
			lk_order_reserve "$ref" "$p" 1
			lk_eq "$action: key value = lock_token" "$(rget "$key")" "$RES_TOKEN"
		fi
		lk_sql 1 lk "SELECT state FROM inventory.inv_${action}_order('$ref');"
		lk_eq "$action: SQLSTATE" "$LK_STATE" 00000
		inv_wait 2 lk_key_gone "$key" ||
			lk_note "$action: key still there 2 s after inv_${action}_order"
	done

	# expiry
	lk_order_reserve C4-expire "$p" 1 "SET inventory.reservation_timeout = 1;"
	lk_eq "expire: key value = lock_token" "$(rget "$key")" "$RES_TOKEN"
	sleep 1.2
	lk_eq "inv_expire()" "$(lk_val 1 lk "SELECT inventory.inv_expire()")" 1
	inv_wait 2 lk_key_gone "$key" || lk_note "expire: key still there 2 s after inv_expire()"

	lk_eq "states" "$(lk_val 1 lk "SELECT string_agg(order_ref || '=' || state, ',' ORDER BY order_ref) FROM inventory.reservation WHERE order_ref LIKE 'C4-%'")" \
		"C4-A=confirmed,C4-cancel=released,C4-expire=expired,C4-release=released"
	lk_eq "stock_level reserved committed" "$(lk_stock 1 lk "$p" | cut -d' ' -f1-3)" "18 0 2"
	lk_eq "inv_verify() rows" "$(lk_verify_rows 1 lk "$p")" 0
	lk_end "order scope: the key is the reservation's until confirm, release, cancel or expiry commits; a second order gets IV011"
}

# ---------------------------------------------------------------------------
# 5. Lease renewal, and maximum hold.
# ---------------------------------------------------------------------------
check_renewal()
{
	local p key renewed0 renewed1 start t last_seen="" gone_at="" token lapsed0 lapsed1
	local lost=""

	lk_begin
	p=$(lk_new_product 1 lk C5 10)
	key=$(lk_key "$p")

	renewed0=$(lk_stat 1 renewed)
	lk_order_reserve C5-A "$p" 1 "SET inventory.lock_ttl = 1000;"
	token=$RES_TOKEN
	lk_eq "SQLSTATE of the reserve" "$LK_STATE" 00000
	start=$EPOCHREALTIME
	while :; do
		t=$(inv_since "$start")
		awk "BEGIN { exit !($t > 3.0) }" && break
		if [[ $(rget "$key") != "$token" ]]; then
			lost="missing at ${t}s"
			break
		fi
		sleep 0.1
	done
	[[ -z $lost ]] || lk_note "with lock_ttl = 1000ms the key did not survive 3 s: $lost"
	renewed1=$(lk_stat 1 renewed)
	lk_true "inv_lock_stats().renewed grows by 2+ in 3 s ($renewed0 -> $renewed1)" "${renewed1:-0} >= ${renewed0:-0} + 2"
	lk_sql 1 lk "SELECT state FROM inventory.inv_release_order('C5-A');"
	inv_wait 2 lk_key_gone "$key" || lk_note "key still there after inv_release_order"

	# inventory.lock_max_hold = 2: the lease lapses after 2 s + ttl.  The
	# worker's own lock_ttl is set to the session's too, so that this part
	# tests the maximum hold alone.
	lk_val 1 lk "ALTER SYSTEM SET inventory.lock_max_hold = 2" >/dev/null
	lk_val 1 lk "ALTER SYSTEM SET inventory.lock_ttl = 1000" >/dev/null
	lk_val 1 lk "SELECT pg_reload_conf()" >/dev/null
	sleep 0.5
	lapsed0=$(lk_stat 1 lapsed)
	lk_order_reserve C5-B "$p" 3 "SET inventory.lock_ttl = 1000;"
	token=$RES_TOKEN
	start=$EPOCHREALTIME
	while :; do
		t=$(inv_since "$start")
		if [[ $(rget "$key") == "$token" ]]; then
			last_seen=$t
		else
			gone_at=$t
			break
		fi
		awk "BEGIN { exit !($t > 8.0) }" && break
		sleep 0.1
	done
	lk_true "key last seen at ${last_seen:-never}s, expected past 1.9 s (max hold 2 s)" "${last_seen:-0} >= 1.9"
	lk_true "key gone at ${gone_at:-never}s, expected by 4.5 s (2 s + ttl 1 s + slack)" "${gone_at:-99} <= 4.5"
	lk_eq "reservation C5-B state" "$(lk_val 1 lk "SELECT state FROM inventory.reservation WHERE order_ref = 'C5-B'")" reserved
	lk_eq "stock_level reserved committed" "$(lk_stock 1 lk "$p" | cut -d' ' -f1-3)" "10 3 0"
	lk_eq "inv_verify() rows" "$(lk_verify_rows 1 lk "$p")" 0
	inv_wait 2 lk_query_is 1 lk "SELECT count(*) FROM inventory.inv_locks() WHERE key = '$key'" 0 ||
		lk_note "inv_locks() still lists the key 2 s after it lapsed"
	lapsed1=$(lk_stat 1 lapsed)
	lk_true "inv_lock_stats().lapsed grows ($lapsed0 -> $lapsed1)" "${lapsed1:-0} > ${lapsed0:-0}"

	lk_val 1 lk "ALTER SYSTEM RESET inventory.lock_max_hold" >/dev/null
	lk_val 1 lk "ALTER SYSTEM RESET inventory.lock_ttl" >/dev/null
	lk_val 1 lk "SELECT pg_reload_conf()" >/dev/null
	lk_sql 1 lk "SELECT state FROM inventory.inv_release_order('C5-B');"
	lk_eq "release after the lapse" "$LK_STATE" 00000
	lk_end "order scope, lock_ttl 1 s: the lease is renewed past 3 s; with lock_max_hold = 2 it lapses at ${gone_at:-?}s and the units stay reserved"
}

# ---------------------------------------------------------------------------
# 6. Fencing: a stalled holder is refused.
# ---------------------------------------------------------------------------
check_fencing()
{
	local p key spid fence_a="" b_fence slot_fence states waited row

	lk_begin
	p=$(lk_new_product 1 lk C6 10)
	key=$(lk_key "$p")
	lk_val 1 lk "
		CREATE FUNCTION public.lk_stall() RETURNS trigger LANGUAGE plpgsql AS \$\$
		BEGIN
			IF NEW.order_ref LIKE 'STALL%' THEN
				PERFORM pg_sleep(3);
			END IF;
			RETURN NEW;
		END
		\$\$;
		CREATE TRIGGER lk_stall BEFORE INSERT ON inventory.reservation
			FOR EACH ROW EXECUTE FUNCTION public.lk_stall();" >/dev/null ||
		lk_note "could not create the stalling trigger"

	lk_open s6 1 lk
	lk_session_pid s6
	spid=$LK_SPID
	lk_send s6 "SET inventory.lock_scope = 'reserve';"
	lk_send s6 "SET inventory.lock_ttl = 1000;"
	lk_send s6 "SELECT reservation_id FROM inventory.inv_reserve('STALL-1', $p, 1);"
	if inv_wait 5 lk_query_is 1 lk "SELECT wait_event FROM pg_stat_activity WHERE pid = $spid" PgSleep; then
		fence_a=$(rget "$key:fence")
		[[ $(rget "$key") =~ ^[0-9a-f]{32}$ ]] || lk_note "A stalls without holding the key"
	else
		lk_note "session A never reached the stalling trigger"
	fi

	waited=$EPOCHREALTIME
	lk_sql 1 lk "
		SET inventory.lock_scope = 'reserve';
		SET inventory.lock_wait_timeout = 2500;
		SELECT lock_fence FROM inventory.inv_reserve('B-1', $p, 1);"
	waited=$(inv_since "$waited")
	b_fence=$LK_OUT
	lk_eq "SQLSTATE of B" "$LK_STATE" 00000
	lk_true "B's fence ($b_fence) above A's ($fence_a)" "${b_fence:-0} > ${fence_a:-0}"

	lk_sync s6 10 || lk_note "session A did not finish"
	states=$(lk_states_of "$work/s6.err" | tr '\n' ' ')
	lk_eq "SQLSTATE of A" "${states% }" IV013
	lk_close s6

	row=$(lk_stock 1 lk "$p")
	slot_fence=${row##* }
	lk_eq "stock_level reserved committed" "${row% *}" "10 1 0"
	lk_eq "stock_slot.lock_fence = B's reservation lock_fence" "$slot_fence" "$b_fence"
	lk_eq "reservation rows of STALL-1" "$(lk_val 1 lk "SELECT count(*) FROM inventory.reservation WHERE order_ref = 'STALL-1'")" 0
	lk_eq "ledger rows of STALL-1" "$(lk_val 1 lk "SELECT count(*) FROM inventory.ledger WHERE order_ref = 'STALL-1'")" 0
	lk_eq "B's reservation: lock_token" "$(lk_val 1 lk "SELECT coalesce(lock_token, 'NULL') FROM inventory.reservation WHERE order_ref = 'B-1'")" NULL
	lk_eq "inv_verify() rows" "$(lk_verify_rows 1 lk "$p")" 0
	lk_val 1 lk "DROP TRIGGER lk_stall ON inventory.reservation; DROP FUNCTION public.lk_stall();" >/dev/null
	lk_end "fencing: A stalls past its 1 s lease, B reserves after ${waited}s with fence ${b_fence:-?} > ${fence_a:-?}; A gets IV013 and changes nothing"
}

# ---------------------------------------------------------------------------
# 7. The fence counter lost.
# ---------------------------------------------------------------------------
check_refence()
{
	local p key i f before after res_fence counter row

	lk_begin
	p=$(lk_new_product 1 lk C7 20)
	key=$(lk_key "$p")
	before=0
	for i in 1 2 3; do
		lk_sql 1 lk "SET inventory.lock_scope = 'reserve'; SELECT lock_fence FROM inventory.inv_reserve('C7-$i', $p, 1);"
		f=$(lk_stock 1 lk "$p" | cut -d' ' -f4)
		lk_true "lock_fence grows ($before -> $f)" "${f:-0} > $before"
		before=${f:-0}
	done
	lk_eq "FLUSHALL" "$(rcli FLUSHALL)" OK
	lk_eq "fence counter after FLUSHALL" "$(rget "$key:fence")" ""

	lk_sql 1 lk "SET inventory.lock_scope = 'reserve'; SELECT lock_fence FROM inventory.inv_reserve('C7-4', $p, 1);"
	lk_eq "SQLSTATE of the reserve after FLUSHALL" "$LK_STATE" 00000
	res_fence=$LK_OUT
	after=$(lk_stock 1 lk "$p" | cut -d' ' -f4)
	lk_true "stock_slot.lock_fence only grows ($before -> $after)" "${after:-0} > $before"
	lk_eq "reservation lock_fence = row's" "$res_fence" "$after"
	counter=$(rget "$key:fence")
	lk_eq "Redis fence counter = row's" "$counter" "$after"

	# and in order scope
	before=$after
	lk_order_reserve C7-5 "$p" 1
	lk_eq "SQLSTATE in order scope" "$LK_STATE" 00000
	after=$(lk_stock 1 lk "$p" | cut -d' ' -f4)
	lk_true "order scope: lock_fence grows ($before -> $after)" "${after:-0} > $before"
	lk_eq "order scope: key value = lock_token" "$(rget "$key")" "$RES_TOKEN"
	lk_sql 1 lk "SELECT state FROM inventory.inv_confirm_order('C7-5');"
	inv_wait 2 lk_key_gone "$key" || lk_note "key still there after the confirm"
	row=$(lk_stock 1 lk "$p")
	lk_eq "stock_level reserved committed" "${row% *}" "19 4 1"
	lk_eq "inv_verify() rows" "$(lk_verify_rows 1 lk "$p")" 0
	lk_end "fence counter lost (FLUSHALL): the next reserve refences ($before -> $after), lock_fence only grows"
}

# ---------------------------------------------------------------------------
# 8. Redis stopped, then back.
# ---------------------------------------------------------------------------
check_redis_down()
{
	local p key offset reconnects0 reconnects1 elapsed row lines states down=0

	lk_begin
	p=$(lk_new_product 1 lk C8 20)
	key=$(lk_key "$p")
	offset=$(wc -c <"$c1_log")
	reconnects0=$(lk_stat 1 reconnects)
	redis_stop
	redis_pid >/dev/null && lk_note "redis-server did not stop"

	lk_sql 1 lk "
		SET inventory.lock_scope = 'reserve';
		SET inventory.lock_failure_policy = 'refuse';
		SELECT clock_timestamp() AS t0 \\gset
		SELECT reservation_id FROM inventory.inv_reserve('C8-1', $p, 1);
		SELECT extract(epoch FROM clock_timestamp() - :'t0'::timestamptz);"
	elapsed=$(tail -n 1 <<<"$LK_OUT")
	lk_eq "SQLSTATE with Redis down (refuse)" "$LK_STATE" IV012
	lk_true "IV012 after ${elapsed}s, expected < 1 s" "${elapsed:-9} < 1"

	lk_sql 1 lk "
		SET inventory.lock_scope = 'reserve';
		SELECT clock_timestamp() AS t0 \\gset
		SELECT reservation_id FROM inventory.inv_reserve('C8-2', $p, 1);
		SELECT reservation_id FROM inventory.inv_reserve('C8-3', $p, 1);
		SET inventory.lock_scope = 'order';
		SELECT reservation_id FROM inventory.inv_reserve('C8-4', $p, 1);
		SELECT extract(epoch FROM clock_timestamp() - :'t0'::timestamptz);"
	states=$(tr '\n' ' ' <<<"$LK_STATES")
	lk_eq "three more refusals" "${states% }" "IV012 IV012 IV012"
	elapsed=$(tail -n 1 <<<"$LK_OUT")
	lk_true "three refusals took ${elapsed}s, expected < 1 s" "${elapsed:-9} < 1"
	lk_eq "inv_lock_stats().connected during the outage" "$(lk_stat 1 connected)" f

	lk_sql 1 lk "
		SET inventory.lock_scope = 'reserve';
		SET inventory.lock_failure_policy = 'fallback';
		SELECT state FROM inventory.inv_reserve('C8-5', $p, 1);
		SET inventory.lock_scope = 'order';
		SELECT coalesce(lock_token, 'NULL') FROM inventory.inv_reserve('C8-6', $p, 1);"
	lk_eq "SQLSTATE with Redis down (fallback)" "$LK_STATE" 00000
	lk_eq "fallback results" "$(tr '\n' ' ' <<<"$LK_OUT")" "reserved NULL "
	lk_eq "fallback warnings on stderr" \
		"$(grep -c '^WARNING:  IV012: order lock service unavailable' <<<"$LK_ERR")" 2
	lk_eq "reservations made during the outage" \
		"$(lk_val 1 lk "SELECT string_agg(order_ref, ',' ORDER BY order_ref) FROM inventory.reservation WHERE order_ref LIKE 'C8-%'")" "C8-5,C8-6"
	lk_eq "stock_level reserved committed" "$(lk_stock 1 lk "$p" | cut -d' ' -f1-3)" "20 2 0"
	down=$(inv_since "$check_start")

	if ! redis_start; then
		lk_note "redis-server did not restart on port $rport"
	fi
	inv_wait 15 lk_connected 1 || lk_note "not reconnected 15 s after Redis came back"
	reconnects1=$(lk_stat 1 reconnects)
	lk_true "inv_lock_stats().reconnects grows ($reconnects0 -> $reconnects1)" "${reconnects1:-0} >= ${reconnects0:-0} + 1"
	lk_sql 1 lk "
		SET inventory.lock_scope = 'reserve';
		SELECT state FROM inventory.inv_reserve('C8-7', $p, 1);"
	lk_eq "SQLSTATE after Redis came back" "$LK_STATE" 00000
	inv_wait 2 lk_key_gone "$key" || lk_note "key still there after the commit"

	lines=$(tail -c "+$((offset + 1))" "$c1_log" | grep -c 'inventory lock service cannot reach Redis')
	lk_eq "server log lines 'cannot reach Redis' for the outage" "$lines" 1
	[[ $lines == 1 ]] ||
		lk_note "$(tail -c "+$((offset + 1))" "$c1_log" | grep 'Redis' | head -n 10)"
	lk_eq "inv_verify() rows" "$(lk_verify_rows 1 lk "$p")" 0
	lk_val 1 lk "SELECT count(*) FROM inventory.inv_release_order('C8-6')" >/dev/null
	lk_end "Redis down ${down}s: IV012 at once (refuse), WARNING (fallback); reconnected after restart; one log line"
}

# ---------------------------------------------------------------------------
# 9. Two clusters sharing one Redis.
# ---------------------------------------------------------------------------
check_two_clusters()
{
	local c p1 key token c1_before c2_before c1_after c2_after line1 line2
	local rc1 rc2 pids=() row

	lk_begin
	if ! c2_start "shared_preload_libraries = 'inventory'" \
		"inventory.redis_port = $rport"; then
		lk_note "cluster 2 did not start"
		lk_end "two clusters sharing one Redis"
		return
	fi
	for c in 1 2; do
		lk_newdb "$c" lk_two 9 || lk_note "could not create lk_two on cluster $c"
		p1=$(lk_new_product "$c" lk_two N-1 1000)
		lk_new_product "$c" lk_two N-2 1000 >/dev/null
		lk_eq "cluster $c: product id" "$p1" 1
	done
	LK_STATDB=lk_two inv_wait 10 lk_connected 2 || lk_note "cluster 2's worker did not connect"
	key=$(lk_key 1 9)

	lk_sql 1 lk_two "SET inventory.lock_scope = 'order'; SELECT lock_token FROM inventory.inv_reserve('N1-1', 1, 1);"
	token=$LK_OUT
	lk_eq "cluster 1 reserve" "$LK_STATE" 00000
	lk_eq "key value = cluster 1's token" "$(rget "$key")" "$token"
	lk_sql 2 lk_two "
		SET inventory.lock_scope = 'order';
		SET inventory.lock_wait_timeout = 500;
		SELECT lock_token FROM inventory.inv_reserve('N2-1', 1, 1);"
	lk_eq "cluster 2 reserve while cluster 1 holds" "$LK_STATE" IV011
	lk_eq "cluster 2 reservations" "$(lk_val 2 lk_two "SELECT count(*) FROM inventory.reservation")" 0
	lk_sql 1 lk_two "SELECT state FROM inventory.inv_confirm_order('N1-1');"
	lk_sql 2 lk_two "
		SET inventory.lock_scope = 'order';
		SET inventory.lock_wait_timeout = 2000;
		SELECT lock_token FROM inventory.inv_reserve('N2-1', 1, 1);"
	lk_eq "cluster 2 reserve after cluster 1 confirmed" "$LK_STATE" 00000
	lk_eq "key value = cluster 2's token" "$(rget "$key")" "$LK_OUT"
	lk_sql 2 lk_two "SELECT state FROM inventory.inv_release_order('N2-1');"
	inv_wait 2 lk_key_gone "$key" || lk_note "key still there after cluster 2 released"

	# both clusters race at once, reserve scope
	c1_before=$(LK_STATDB=lk_two lk_stat 1 contended)
	c2_before=$(LK_STATDB=lk_two lk_stat 2 contended)
	for c in 1 2; do
		lk_pgbench "$c" lk_two "$LK_BENCH_SECONDS" 8 reserve "$work/two_$c.log" \
			-D lo=1 -D hi=2 -D confirm=70 -D release=95 &
		pids+=($!)
		bg_pids+=($!)
	done
	wait "${pids[0]}"
	rc1=$?
	wait "${pids[1]}"
	rc2=$?
	c1_after=$(LK_STATDB=lk_two lk_stat 1 contended)
	c2_after=$(LK_STATDB=lk_two lk_stat 2 contended)
	line1=$(lk_bench_line "$work/two_1.log")
	line2=$(lk_bench_line "$work/two_2.log")
	for c in 1 2; do
		local rc=$rc1 line=$line1 processed failed aborted errors
		[[ $c == 2 ]] && { rc=$rc2; line=$line2; }
		read -r processed failed aborted errors <<<"$line"
		lk_eq "cluster $c pgbench exit" "$rc" 0
		lk_eq "cluster $c failed transactions" "$failed" 0
		lk_eq "cluster $c aborted clients" "$aborted" 0
		lk_eq "cluster $c errors in the pgbench log" "$errors" 0
		lk_true "cluster $c processed $processed transactions" "${processed//\?/0} > 0"
		[[ $rc == 0 && $errors == 0 ]] || lk_note "$(grep -E 'ERROR|error' "$work/two_$c.log" | head -n 5)"
		lk_eq "cluster $c inv_verify() rows" "$(lk_verify_rows "$c" lk_two)" 0
		row=$(lk_val "$c" lk_two "
			SELECT count(*) FILTER (WHERE s.stock_level + s.committed <> 1000 OR s.reserved <> r.open_qty OR s.available < 0)
			FROM inventory.stock_slot s,
			LATERAL (SELECT coalesce(sum(quantity) FILTER (WHERE state = 'reserved'), 0) AS open_qty
					 FROM inventory.reservation WHERE product_id = s.product_id) r")
		lk_eq "cluster $c products whose counters disagree" "$row" 0
	done
	lk_true "cluster 1 inv_lock_stats().contended grows ($c1_before -> $c1_after)" "${c1_after:-0} > ${c1_before:-0}"
	lk_true "cluster 2 inv_lock_stats().contended grows ($c2_before -> $c2_after)" "${c2_after:-0} > ${c2_before:-0}"
	lk_end "two clusters sharing Redis: cluster 2 gets IV011 while cluster 1's order holds the product, succeeds after confirm; pgbench on both (${line1%% *} + ${line2%% *} orders), contention on both (+$((${c1_after:-0} - ${c1_before:-0})), +$((${c2_after:-0} - ${c2_before:-0})))"
}

# ---------------------------------------------------------------------------
# 10. A backend killed while holding locks.
# ---------------------------------------------------------------------------
lk_worker_back()
{
	local pid

	pid=$(LK_STATDB=postgres lk_stat 1 "coalesce(worker_pid, 0) || ' ' || connected")
	[[ -n $pid && ${pid% *} != 0 && ${pid% *} != "$1" && ${pid#* } == true ]]
}

check_sigkill()
{
	local k1 k2 key1 key2 pid_a pid_b w0 killed t_restart t_gone row

	lk_begin
	lk_val 1 postgres "CREATE EXTENSION inventory" >/dev/null
	lk_val 1 postgres "SELECT inventory.inv_configure(10)" >/dev/null
	k1=$(lk_new_product 1 postgres K1 10)
	k2=$(lk_new_product 1 postgres K2 10)
	key1=$(lk_key "$k1" 10)
	key2=$(lk_key "$k2" 10)
	w0=$(LK_STATDB=postgres lk_stat 1 worker_pid)

	lk_open s10b 1 postgres
	lk_session_pid s10b
	pid_b=$LK_SPID
	lk_send s10b "SET inventory.lock_scope = 'order'; SET inventory.lock_ttl = 2000; SET inventory.reservation_timeout = 4;"
	lk_send s10b "SELECT reservation_id FROM inventory.inv_reserve('K-COMMITTED', $k2, 2);"
	lk_sync s10b

	lk_open s10a 1 postgres
	lk_session_pid s10a
	pid_a=$LK_SPID
	lk_send s10a "SET inventory.lock_scope = 'order'; SET inventory.lock_ttl = 2000;"
	lk_send s10a "BEGIN;"
	lk_send s10a "SELECT reservation_id FROM inventory.inv_reserve('K-OPEN', $k1, 3);"
	lk_sync s10a
	[[ -s $work/s10a.err || -s $work/s10b.err ]] &&
		lk_note "session errors: $(cat "$work/s10a.err" "$work/s10b.err")"
	[[ $(rget "$key1") =~ ^[0-9a-f]{32}$ ]] || lk_note "no key for the open transaction's lock"
	[[ $(rget "$key2") =~ ^[0-9a-f]{32}$ ]] || lk_note "no key for the committed reservation's lock"

	killed=$EPOCHREALTIME
	kill -KILL "$pid_a" "$pid_b" 2>/dev/null || lk_note "could not kill $pid_a $pid_b"
	lk_close s10a
	lk_close s10b
	# Nobody gives the keys back: they lapse by their TTL (2 s), counted
	# from the kill since the last renewal came before it.
	if inv_wait 8 lk_keys_gone "$key1" "$key2"; then
		t_gone=$(inv_since "$killed")
		lk_true "keys lapsed ${t_gone}s after the kill (ttl 2 s)" "$t_gone <= 3.5"
	else
		lk_note "keys still there 8 s after the kill: $(rcli PTTL "$key1") $(rcli PTTL "$key2") ms left"
	fi
	if inv_wait 30 lk_worker_back "${w0:-0}"; then
		t_restart=$(inv_since "$killed")
	else
		lk_note "the lock service did not come back within 30 s of the crash"
	fi
	grep -q 'terminated by signal 9' "$c1_log" || lk_note "no crash restart in the server log"
	# and the restarted worker does not bring them back
	sleep 0.5
	lk_keys_gone "$key1" "$key2" || lk_note "a key is back after the restart"
	lk_eq "inv_locks() rows after the restart" "$(lk_val 1 postgres "SELECT count(*) FROM inventory.inv_locks() WHERE key IN ('$key1', '$key2')")" 0
	lk_eq "K-OPEN reservations" "$(lk_val 1 postgres "SELECT count(*) FROM inventory.reservation WHERE order_ref = 'K-OPEN'")" 0
	inv_wait 15 lk_query_is 1 postgres "SELECT state FROM inventory.reservation WHERE order_ref = 'K-COMMITTED'" expired ||
		lk_note "K-COMMITTED not expired by the expiry worker within 15 s: $(lk_val 1 postgres "SELECT state || ' expires ' || expires_at || ' now ' || now() FROM inventory.reservation WHERE order_ref = 'K-COMMITTED'")"
	row="$(lk_stock 1 postgres "$k1" | cut -d' ' -f1-3)/$(lk_stock 1 postgres "$k2" | cut -d' ' -f1-3)"
	lk_eq "stock of K1/K2 (level reserved committed)" "$row" "10 0 0/10 0 0"
	lk_eq "inv_verify() rows" "$(lk_verify_rows 1 postgres "$k1" "$k2")" 0
	lk_end "SIGKILL of lock holders: server restarts (worker back after ${t_restart:-?}s), keys lapse by TTL (${t_gone:-?}s), expiry worker expires the orphaned order"
}

lk_keys_gone()
{
	local k

	for k in "$@"; do
		lk_key_gone "$k" || return 1
	done
}

# ---------------------------------------------------------------------------
# 11. 64 clients race for 1,000 units, in both scopes.
# ---------------------------------------------------------------------------
check_race()
{
	local scope p key row summary="" rc line processed failed aborted errors
	local stock reserved committed open_qty held n_open verify timeouts shorts keys

	lk_begin
	lk_newdb 1 lk_race 11 || lk_note "could not create lk_race"
	for scope in reserve order; do
		p=$(lk_new_product 1 lk_race "RACE-$scope" 1000)
		key=$(lk_key "$p" 11)
		lk_val 1 lk_race "SELECT setval('public.lk_short_count', 1, false), setval('public.lk_timeout_count', 1, false)" >/dev/null
		if [[ $scope == reserve ]]; then
			lk_pgbench 1 lk_race "$LK_RACE_SECONDS" "$LK_CLIENTS" reserve \
				"$work/race_$scope.log" -D lo="$p" -D hi="$p" -D confirm=70 -D release=95
		else
			lk_pgbench 1 lk_race "$LK_RACE_SECONDS" "$LK_CLIENTS" order \
				"$work/race_$scope.log" -D lo="$p" -D hi="$p" -D confirm=70 -D release=100
		fi
		rc=$?
		line=$(lk_bench_line "$work/race_$scope.log")
		read -r processed failed aborted errors <<<"$line"
		lk_eq "$scope: pgbench exit" "$rc" 0
		lk_eq "$scope: failed transactions" "$failed" 0
		lk_eq "$scope: aborted clients" "$aborted" 0
		lk_eq "$scope: errors in the pgbench log" "$errors" 0
		[[ $rc == 0 && $errors == 0 ]] || lk_note "$(grep -E 'ERROR|error' "$work/race_$scope.log" | head -n 5)"

		if [[ $scope == order ]]; then
			# one order still open at the end
			lk_sql 1 lk_race "SET inventory.lock_scope = 'order'; SET inventory.lock_wait_timeout = 5000;
				SELECT state FROM inventory.inv_reserve('race-open', $p, 1);"
			[[ $LK_STATE == 00000 || $LK_STATE == IV002 ]] ||
				lk_note "order: the last open order failed with $LK_STATE: $LK_ERR"
		fi
		row=$(lk_val 1 lk_race "
			SELECT s.stock_level || ' ' || s.reserved || ' ' || s.committed || ' ' ||
				   r.open_qty || ' ' || (r.open_qty + r.confirmed_qty) || ' ' || r.n_open || ' ' ||
				   (SELECT count(*) FROM inventory.inv_verify() v WHERE v.product_id = s.product_id) || ' ' ||
				   public.lk_count('public.lk_timeout_count') || ' ' ||
				   public.lk_count('public.lk_short_count')
			FROM inventory.stock_slot s,
			LATERAL (SELECT coalesce(sum(quantity) FILTER (WHERE state = 'reserved'), 0) AS open_qty,
							coalesce(sum(quantity) FILTER (WHERE state = 'confirmed'), 0) AS confirmed_qty,
							count(*) FILTER (WHERE state = 'reserved') AS n_open
					 FROM inventory.reservation WHERE product_id = s.product_id) r
			WHERE s.product_id = $p")
		read -r stock reserved committed open_qty held n_open verify timeouts shorts <<<"$row"
		lk_eq "$scope: stock_level + committed" "$((${stock:-0} + ${committed:-0}))" 1000
		lk_eq "$scope: reserved = open reservations" "$reserved" "$open_qty"
		lk_true "$scope: held $held <= 1000 (nothing oversold)" "${held:-9999} <= 1000"
		lk_eq "$scope: inv_verify() rows" "$verify" 0
		[[ $verify == 0 ]] || lk_note "$(lk_val 1 lk_race "SELECT * FROM inventory.inv_verify() WHERE product_id = $p")"

		# settle every open order; then no lock key may be left
		lk_val 1 lk_race "SELECT count(*) FROM inventory.reservation r,
			LATERAL inventory.inv_release(r.reservation_id, 'settled') t
			WHERE r.product_id = $p AND r.state = 'reserved'" >/dev/null ||
			lk_note "$scope: could not settle the open orders"
		lk_eq "$scope: open reservations after settling" \
			"$(lk_val 1 lk_race "SELECT count(*) FROM inventory.reservation WHERE product_id = $p AND state = 'reserved'")" 0
		if ! inv_wait 3 lk_key_gone "$key"; then
			lk_note "$scope: lock key left after all orders were settled: $(rget "$key") (pttl $(rcli PTTL "$key"))"
		fi
		keys=$(rcli --scan --pattern 'inventory:supplier:11:product:*' | grep -vc ':fence$')
		lk_eq "$scope: lock keys of supplier 11 in Redis" "$keys" 0
		lk_eq "$scope: reserved after settling" "$(lk_stock 1 lk_race "$p" | cut -d' ' -f2)" 0
		lk_eq "$scope: inv_verify() rows after settling" "$(lk_verify_rows 1 lk_race "$p")" 0
		summary="$summary $scope: ${processed:-?} orders, ${timeouts:-?} IV011, ${shorts:-?} IV002, $n_open open, stock $stock+$committed;"
	done
	lk_end "$LK_CLIENTS clients race for 1,000 units with locks on:${summary%;}"
}

# ---------------------------------------------------------------------------
# 12. Bad settings; the password is never shown.
# ---------------------------------------------------------------------------
check_settings()
{
	local pw="lk-Secret-$RANDOM$RANDOM" out auto pwfile

	lk_begin
	lk_sql 1 lk "SET inventory.lock_scope = 'bogus';"
	lk_eq "SET inventory.lock_scope = 'bogus'" "$LK_STATE" 22023
	lk_sql 1 lk "SET inventory.lock_wait_timeout = -1;"
	lk_eq "SET inventory.lock_wait_timeout = -1" "$LK_STATE" 22023
	lk_sql 1 lk "SET inventory.lock_ttl = 0;"
	lk_eq "SET inventory.lock_ttl = 0" "$LK_STATE" 22023
	lk_sql 1 lk "SET inventory.lock_failure_policy = 'maybe';"
	lk_eq "SET inventory.lock_failure_policy = 'maybe'" "$LK_STATE" 22023
	lk_sql 1 lk "ALTER SYSTEM SET inventory.redis_port = 70000;"
	lk_eq "ALTER SYSTEM SET inventory.redis_port = 70000" "$LK_STATE" 22023
	auto=$(cat "$c1_dir/data/postgresql.auto.conf")
	[[ $auto == *redis_port* ]] && lk_note "postgresql.auto.conf took the bad port: $auto"
	lk_eq "SHOW inventory.redis_port" "$(lk_val 1 lk "SHOW inventory.redis_port")" "$rport"
	lk_sql 1 lk "CREATE ROLE lk_plain LOGIN; GRANT USAGE ON SCHEMA inventory TO lk_plain;"
	out=$("$PSQL" -X -q -A -t -v VERBOSITY=verbose -h "$c1_dir" -p "$c1_port" -U lk_plain -d lk \
		-c "SET inventory.lock_scope = 'none'" 2>&1)
	[[ $out == *42501* ]] || lk_note "a plain role may SET inventory.lock_scope: $out"

	# the password: Redis requires it, the worker reads it from a file and
	# reconnects with it; the password is in no setting, log or view
	rcli CONFIG SET requirepass "$pw" >/dev/null
	rpass=$pw
	pwfile=$work/redis.password
	printf '%s\n' "$pw" >"$pwfile"
	chmod 600 "$pwfile"
	[ "$(id -u)" -eq 0 ] && chown postgres "$pwfile"
	lk_val 1 lk "ALTER SYSTEM SET inventory.redis_password_file = '$pwfile'" >/dev/null ||
		lk_note "ALTER SYSTEM SET inventory.redis_password_file failed"
	lk_val 1 lk "SELECT pg_reload_conf()" >/dev/null
	sleep 0.5
	out=$(lk_val 1 lk "SELECT (SELECT count(*) FROM pg_settings WHERE setting LIKE '%$pw%'); SHOW ALL")
	[[ $out == *"$pw"* ]] && lk_note "the password is visible: $(grep -F "$pw" <<<"$out")"
	inv_wait 10 lk_connected 1 || lk_note "not connected with the password: $(lk_stat 1 last_error)"
	lk_sql 1 lk "SET inventory.lock_scope = 'reserve'; SELECT inventory.inv_lock_probe(5) IS NOT NULL;"
	lk_eq "lock probe with the password" "$LK_STATE" 00000
	if grep -qF "$pw" "$c1_log"; then
		lk_note "the password is in the server log: $(grep -F "$pw" "$c1_log" | sed "s/$pw/<password>/g" | head -n 3)"
	fi

	# the file's path is for superusers only
	out=$("$PSQL" -X -q -A -t -v VERBOSITY=verbose -h "$c1_dir" -p "$c1_port" -U lk_plain -d lk \
		-c "SHOW inventory.redis_password_file" 2>&1)
	[[ $out == *42501* ]] || lk_note "a plain role may SHOW inventory.redis_password_file: $out"
	out=$("$PSQL" -X -q -A -t -h "$c1_dir" -p "$c1_port" -U lk_plain -d lk \
		-c "SELECT count(*) FROM pg_settings WHERE name = 'inventory.redis_password_file'" 2>&1)
	lk_eq "pg_settings rows of inventory.redis_password_file for a plain role" "$out" 0

	# a wrong password: refused by Redis, and shown nowhere either
	printf '%s\n' "$pw-wrong" >"$pwfile.wrong"
	chmod 600 "$pwfile.wrong"
	[ "$(id -u)" -eq 0 ] && chown postgres "$pwfile.wrong"
	lk_val 1 lk "ALTER SYSTEM SET inventory.redis_password_file = '$pwfile.wrong'" >/dev/null
	lk_val 1 lk "SELECT pg_reload_conf()" >/dev/null
	inv_wait 10 lk_query_is 1 lk "SELECT connected FROM inventory.inv_lock_stats()" f ||
		lk_note "still connected with a wrong password"
	lk_sql 1 lk "SET inventory.lock_scope = 'reserve'; SELECT inventory.inv_lock_probe(1) IS NOT NULL;"
	out="$LK_ERR $(lk_stat 1 last_error)"
	[[ $out == *"$pw"* ]] && lk_note "the wrong password shows in an error: $out"
	grep -qF "$pw" "$c1_log" && lk_note "the wrong password is in the server log"

	lk_val 1 lk "ALTER SYSTEM RESET inventory.redis_password_file" >/dev/null
	lk_val 1 lk "SELECT pg_reload_conf()" >/dev/null
	rcli CONFIG SET requirepass "" >/dev/null
	rpass=""
	inv_wait 10 lk_connected 1 || lk_note "not reconnected without the password"
	lk_end "bad settings refused with 22023; the Redis password, read from a file, appears in no setting, error or log, right or wrong; its path is for superusers only"
}

# ---------------------------------------------------------------------------
# 13. Not preloaded.
# ---------------------------------------------------------------------------
check_not_preloaded()
{
	local p row

	lk_begin
	if [[ -z $c2_dir ]] || ! c2_restart "inventory.redis_port = $rport"; then
		lk_note "could not restart cluster 2 without preloading"
		lk_end "not preloaded"
		return
	fi
	lk_eq "shared_preload_libraries" "$(lk_val 2 lk_two "SHOW shared_preload_libraries")" ""
	lk_sql 2 lk_two "SELECT * FROM inventory.inv_lock_stats();"
	lk_eq "inv_lock_stats() not preloaded" "$LK_STATE" 55000
	[[ $LK_HINT == *shared_preload_libraries* ]] || lk_note "55000 hint: '$LK_HINT'"
	lk_sql 2 lk_two "SELECT * FROM inventory.inv_locks();"
	lk_eq "inv_locks() not preloaded" "$LK_STATE" 55000
	p=$(lk_new_product 2 lk_two NP 5)
	lk_sql 2 lk_two "SET inventory.lock_scope = 'reserve'; SELECT state FROM inventory.inv_reserve('NP-1', $p, 1);"
	lk_eq "inv_reserve in reserve scope, not preloaded" "$LK_STATE" IV012
	lk_eq "stock_level reserved committed, after IV012" "$(lk_stock 2 lk_two "$p" | cut -d' ' -f1-3)" "5 0 0"
	lk_eq "reservations of NP-1" "$(lk_val 2 lk_two "SELECT count(*) FROM inventory.reservation WHERE order_ref = 'NP-1'")" 0
	lk_sql 2 lk_two "SELECT state FROM inventory.inv_reserve('NP-2', $p, 1);"
	lk_eq "inv_reserve in scope none, not preloaded" "$LK_STATE/$LK_OUT" "00000/reserved"
	lk_eq "inv_verify() rows" "$(lk_verify_rows 2 lk_two "$p")" 0
	lk_end "not preloaded: inv_lock_stats() 55000 with its hint; inv_reserve IV012 in reserve scope, works in scope none"
}

# ---------------------------------------------------------------------------
# 18. Redis behind a Unix socket: inventory.redis_host set to the socket's
#     path (reloaded, no restart) connects, and orders take their locks
#     through it; back on TCP afterwards.
# ---------------------------------------------------------------------------
lk_on_socket()
{
	[[ $(lk_val 1 lk "SELECT connected AND server = '$work/redis/redis.sock' FROM inventory.inv_lock_server()") == t ]]
}

check_unix_socket()
{
	local p key tok

	lk_begin
	p=$(lk_new_product 1 lk C18 5)
	key=$(lk_key "$p")
	lk_val 1 lk "ALTER SYSTEM SET inventory.redis_host = '$work/redis/redis.sock'" >/dev/null
	lk_val 1 lk "SELECT pg_reload_conf()" >/dev/null
	inv_wait 10 lk_on_socket ||
		lk_note "not connected through the socket 10 s after the reload: $(lk_val 1 lk "SELECT server, connected, sentinel_error FROM inventory.inv_lock_server()")"
	lk_sql 1 lk "SET inventory.lock_scope = 'order';
		SELECT lock_token FROM inventory.inv_reserve('C18-1', $p, 1);"
	lk_eq "SQLSTATE of an order-scope reserve through the socket" "$LK_STATE" 00000
	tok=$(tail -n 1 <<<"$LK_OUT")
	lk_eq "the key, read over TCP from the same server" "$(rget "$key")" "$tok"
	lk_sql 1 lk "SELECT state FROM inventory.inv_confirm_order('C18-1');"
	inv_wait 5 lk_key_gone "$key" || lk_note "key still held after the confirm: $(rget "$key")"

	lk_val 1 lk "ALTER SYSTEM RESET inventory.redis_host" >/dev/null
	lk_val 1 lk "SELECT pg_reload_conf()" >/dev/null
	inv_wait 10 lk_connected 1 || lk_note "not back on TCP 10 s after the reset"
	lk_end "Redis behind a Unix socket: connected after a reload, an order-scope lock taken and given back through it"
}

# ---------------------------------------------------------------------------
# 19. No process died of a bug.
# ---------------------------------------------------------------------------
check_no_crash()
{
	local log found

	lk_begin
	for log in "$c1_log" "${c2_dir:+$c2_dir/server.log}"; do
		[[ -n $log && -f $log ]] || continue
		found=$(grep -E 'terminated by signal|terminated by exception|PANIC|TRAP:' "$log" |
			grep -v 'terminated by signal 9: Killed')
		[[ -z $found ]] || lk_note "$log: $found"
	done
	lk_end "no server process died of a signal other than the test's SIGKILL"
}

# ---------------------------------------------------------------------------
# 14. The worker under faults: it stays idle while Redis is down even with a
#     lease to renew, and a request in flight when the worker dies is
#     answered, so the session can use the service again.
# ---------------------------------------------------------------------------
check_worker_faults()
{
	local p wpid t0 t1 out

	lk_begin
	p=$(lk_new_product 1 lk C14 20)
	lk_sql 1 lk "
		SET inventory.lock_scope = 'order';
		SET inventory.lock_ttl = '60s';
		SELECT state FROM inventory.inv_reserve('C14-1', $p, 1);"
	lk_eq "an order-scope lease to renew" "$LK_STATE" 00000

	# No spinning while disconnected with a renewable lease
	wpid=$(lk_stat 1 worker_pid)
	redis_stop
	sleep 1
	t0=$(awk '{print $14 + $15}' "/proc/$wpid/stat" 2>/dev/null)
	sleep 3
	t1=$(awk '{print $14 + $15}' "/proc/$wpid/stat" 2>/dev/null)
	lk_true "worker CPU ticks in 3 s with Redis down: $((t1 - t0))" "$((t1 - t0)) < 30"
	redis_start || lk_note "redis-server did not restart on port $rport"
	inv_wait 15 lk_connected 1 || lk_note "not reconnected after Redis came back"

	# A request in flight when the worker dies: Redis is paused so that the
	# probe stays in flight while the worker is terminated
	rcli CLIENT PAUSE 3000 >/dev/null
	out=$work/c14_probe.out
	"$PSQL" -X -q -A -t -h "$c1_dir" -p "$c1_port" -d lk >"$out" 2>&1 <<'SQL' &
SELECT 'first', (SELECT count(*) FROM inventory.inv_lock_probe(1));
SELECT pg_sleep(8);
SELECT 'second', round(avg_round_trip_us) > 0 FROM inventory.inv_lock_probe(1);
SQL
	sleep 0.5
	lk_val 1 lk "SELECT pg_terminate_backend($wpid)" >/dev/null
	wait $!
	lk_eq "the probe after the worker's restart" "$(grep '^second' "$out")" "second|t"

	lk_sql 1 lk "SELECT state FROM inventory.inv_release_order('C14-1');"
	lk_end "worker faults: idle while Redis is down with a lease to renew; a request in flight when the worker dies is answered"
}

# ---------------------------------------------------------------------------
# 15. The probe with posted releases: each release queued as a transaction's
#     end queues it goes to Redis before the same session's next lock, so
#     no acquisition is ever answered busy, every release is counted, and
#     nothing stays in Redis or in the worker's table.
# ---------------------------------------------------------------------------
lk_idle()
{
	lk_query_is 1 lk "SELECT held_locks + queued_releases FROM inventory.inv_lock_stats()" 0
}

check_probe_posted()
{
	local released0 released1 busy0 busy1 out keys

	lk_begin
	inv_wait 5 lk_idle || lk_note "the worker was not idle at the start"
	released0=$(lk_stat 1 released)
	busy0=$(lk_stat 1 contended)
	out=$(lk_val 1 lk "SELECT iterations || ' ' || (avg_round_trip_us > 0) FROM inventory.inv_lock_probe(500, false)")
	lk_eq "inv_lock_probe(500, false)" "$out" "500 true"
	inv_wait 5 lk_idle || lk_note "locks or releases left in the worker after the probe: $(lk_val 1 lk "SELECT held_locks, queued_releases FROM inventory.inv_lock_stats()")"
	released1=$(lk_stat 1 released)
	busy1=$(lk_stat 1 contended)
	lk_eq "releases counted by the worker" "$((${released1:-0} - ${released0:-0}))" 500
	lk_eq "acquisitions answered busy" "$((${busy1:-0} - ${busy0:-0}))" 0
	keys=$(rcli --scan --pattern 'inventory:probe:*' | grep -cv ':fence$')
	lk_eq "probe keys left in Redis" "$keys" 0

	out=$(lk_val 1 lk "SELECT iterations FROM inventory.inv_lock_probe(50, true)")
	lk_eq "inv_lock_probe(50, true)" "$out" 50
	lk_sql 1 lk "SELECT * FROM inventory.inv_lock_probe(0, false);"
	lk_eq "inv_lock_probe(0, false)" "$LK_STATE" 22023
	lk_end "inv_lock_probe(N, false): posted releases reach Redis before the next lock (0 busy), $((${released1:-0} - ${released0:-0})) counted, no key left"
}

# ---------------------------------------------------------------------------
# 16. Waiters on one node: three sessions answered busy while an order holds
#     the product each get the lock in turn once it is given back (the
#     worker wakes the longest waiter at each release), and none times out.
# ---------------------------------------------------------------------------
check_waiters()
{
	local p i busy0 busy1 stock t0 elapsed
	local -a waiters=()

	lk_begin
	p=$(lk_new_product 1 lk C16 10)
	lk_order_reserve C16-A "$p" 1
	lk_eq "order A holds the lock" "$LK_STATE" 00000
	busy0=$(lk_stat 1 contended)
	for i in 1 2 3; do
		"$PSQL" -X -q -A -t -h "$c1_dir" -p "$c1_port" -d lk >"$work/c16_$i.out" 2>&1 <<-SQL &
			SET inventory.lock_scope = 'order';
			SET inventory.lock_wait_timeout = '20s';
			SELECT 'got', state FROM inventory.inv_reserve('C16-$i', $p, 1);
			SELECT 'confirmed', count(*) FROM inventory.inv_confirm_order('C16-$i');
		SQL
		waiters+=($!)
	done
	sleep 1
	busy1=$(lk_stat 1 contended)
	lk_true "the three were answered busy while A held the lock ($busy0 -> $busy1)" \
		"${busy1:-0} >= ${busy0:-0} + 3"

	t0=$EPOCHREALTIME
	lk_sql 1 lk "SELECT count(*) FROM inventory.inv_confirm_order('C16-A');"
	lk_eq "A confirmed" "$LK_STATE|$LK_OUT" "00000|1"
	wait "${waiters[@]}"
	elapsed=$(inv_since "$t0")
	for i in 1 2 3; do
		lk_eq "waiter $i" "$(grep -E '^(got|confirmed)' "$work/c16_$i.out" | tr '\n' ' ')" \
			"got|reserved confirmed|1 "
	done
	stock=$(lk_stock 1 lk "$p")
	lk_eq "stock_level reserved committed" "${stock% *}" "6 0 4"
	lk_eq "inv_verify() rows" "$(lk_verify_rows 1 lk "$p")" 0
	inv_wait 5 lk_idle || lk_note "locks or releases left in the worker"
	lk_end "three waiters on one node each got the lock in turn after A's confirm (all done ${elapsed}s after it), none timed out"
}

# ---------------------------------------------------------------------------
# 17. DROP EXTENSION leaves nothing behind: the order-scope locks of its
#     reservations go back to Redis once the drop commits (not when it is
#     rolled back, nor undone by a savepoint), locks of other databases stay,
#     and the expiry worker of that database waits quietly instead of
#     failing every sweep.
# ---------------------------------------------------------------------------
lk_drop_db_locks()
{
	lk_val 1 lk "SELECT count(*) FROM inventory.inv_locks() WHERE database = 'postgres'"
}

check_drop_extension()
{
	local d1 d2 other key1 key2 key_other tok1 tok2 tok_other offset wpid errors
	local -a conn

	lk_begin
	if [[ $(lk_val 1 postgres "SELECT count(*) FROM pg_extension WHERE extname = 'inventory'") != 1 ]]; then
		lk_val 1 postgres "CREATE EXTENSION inventory" >/dev/null
		lk_val 1 postgres "SELECT inventory.inv_configure(10)" >/dev/null
	fi
	d1=$(lk_new_product 1 postgres D1 10)
	d2=$(lk_new_product 1 postgres D2 10)
	other=$(lk_new_product 1 lk C15 10)
	key1=$(lk_key "$d1" 10)
	key2=$(lk_key "$d2" 10)
	key_other=$(lk_key "$other")
	tok1=$(lk_val 1 postgres "SET inventory.lock_scope = 'order'; SET inventory.lock_ttl = '60s';
		SELECT lock_token FROM inventory.inv_reserve('D-1', $d1, 1)")
	tok2=$(lk_val 1 postgres "SET inventory.lock_scope = 'order'; SET inventory.lock_ttl = '60s';
		SELECT lock_token FROM inventory.inv_reserve('D-2', $d2, 2)")
	tok_other=$(lk_val 1 lk "SET inventory.lock_scope = 'order'; SET inventory.lock_ttl = '60s';
		SELECT lock_token FROM inventory.inv_reserve('C15-1', $other, 1)")
	[[ $tok1 =~ ^[0-9a-f]{32}$ && $tok2 =~ ^[0-9a-f]{32}$ && $tok_other =~ ^[0-9a-f]{32}$ ]] ||
		lk_note "order-scope reservations got no tokens: '$tok1' '$tok2' '$tok_other'"
	lk_eq "locks held for database postgres" "$(lk_drop_db_locks)" 2
	lk_eq "databases whose locks a reader of database lk sees" \
		"$(lk_val 1 lk "CREATE ROLE lk_tenant_reader IN ROLE inventory_reader;
			SET ROLE lk_tenant_reader;
			SELECT string_agg(DISTINCT database, ',') FROM inventory.inv_locks();
			RESET ROLE; DROP ROLE lk_tenant_reader;")" lk

	# A drop that is rolled back, or undone by a savepoint, gives nothing back
	lk_sql 1 postgres "BEGIN; DROP EXTENSION inventory; ROLLBACK;"
	lk_eq "rolled-back DROP EXTENSION" "$LK_STATE" 00000
	lk_sql 1 postgres "BEGIN; SAVEPOINT s; DROP EXTENSION inventory; ROLLBACK TO SAVEPOINT s; COMMIT;"
	lk_eq "DROP EXTENSION undone by a savepoint" "$LK_STATE" 00000
	sleep 0.5
	lk_eq "key 1 after the undone drops" "$(rget "$key1")" "$tok1"
	lk_eq "key 2 after the undone drops" "$(rget "$key2")" "$tok2"
	lk_eq "locks held for database postgres after the undone drops" "$(lk_drop_db_locks)" 2

	# The drop itself, once the expiry worker has swept the database (every
	# second) with the extension in place
	sleep 1.5
	wpid=$(lk_val 1 lk "SELECT pid FROM pg_stat_activity WHERE backend_type = 'inventory expiry' AND datname = 'postgres'")
	offset=$(wc -c <"$c1_log")
	lk_sql 1 postgres "DROP EXTENSION inventory;"
	lk_eq "DROP EXTENSION" "$LK_STATE" 00000
	inv_wait 2 lk_keys_gone "$key1" "$key2" ||
		lk_note "keys still in Redis 2 s after DROP EXTENSION: $(rget "$key1") $(rget "$key2")"
	lk_eq "locks held for database postgres after the drop" "$(lk_drop_db_locks)" 0
	lk_eq "another database's lock is untouched" "$(rget "$key_other")" "$tok_other"
	sleep 1.5
	lk_keys_gone "$key1" "$key2" || lk_note "a key came back: renewed after the drop"

	# The expiry worker of that database: gone for good, without errors
	sleep 2
	[[ -n $wpid ]] || lk_note "no expiry worker for database postgres"
	lk_eq "expiry workers of database postgres after the drop" \
		"$(lk_val 1 lk "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'inventory expiry' AND datname = 'postgres'")" 0
	errors=$(tail -c "+$((offset + 1))" "$c1_log" | grep -E 'inventory expiry.*(ERROR|FATAL)')
	[[ -z $errors ]] || lk_note "the expiry worker fails after the drop: $(head -n 3 <<<"$errors")"
	tail -c "+$((offset + 1))" "$c1_log" | grep -q 'expiry worker for database "postgres" is stopping because the extension was dropped' ||
		lk_note "the expiry worker did not say it stops"
	sleep 1.5
	lk_eq "expiry workers of database postgres 1.5 s later (not restarted)" \
		"$(lk_val 1 lk "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'inventory expiry' AND datname = 'postgres'")" 0

	# DROP DATABASE gives back the locks of the database's reservations too
	if lk_newdb 1 lk_dropped 11; then
		d1=$(lk_new_product 1 lk_dropped DD1 10)
		key1=$(lk_key "$d1" 11)
		tok1=$(lk_val 1 lk_dropped "SET inventory.lock_scope = 'order'; SET inventory.lock_ttl = '60s';
			SELECT lock_token FROM inventory.inv_reserve('DD-1', $d1, 1)")
		lk_eq "key of the database to drop" "$(rget "$key1")" "$tok1"
		read -r -a conn <<<"$(lk_conn 1)"
		"$pgbin/dropdb" "${conn[@]}" lk_dropped || lk_note "dropdb lk_dropped failed"
		inv_wait 2 lk_key_gone "$key1" ||
			lk_note "key still in Redis 2 s after DROP DATABASE: $(rget "$key1")"
	else
		lk_note "could not create database lk_dropped"
	fi
	lk_eq "another database's lock is still untouched" "$(rget "$key_other")" "$tok_other"

	lk_sql 1 lk "SELECT state FROM inventory.inv_release_order('C15-1');"
	lk_end "DROP EXTENSION gives back its order-scope locks after commit (not after a rollback or savepoint), and DROP DATABASE too; other databases' stay; the expiry worker stops for good without errors"
}

checks=(check_worker check_outside_holder check_reserve_scope
	check_order_scope check_renewal check_fencing check_refence
	check_redis_down check_two_clusters check_sigkill check_race
	check_settings check_not_preloaded check_worker_faults check_probe_posted
	check_waiters check_drop_extension check_unix_socket check_no_crash)
for i in "${!checks[@]}"; do
	# LK_ONLY="6 8": run only those checks (for debugging); keep the numbers.
	if [[ -n ${LK_ONLY:-} && " $LK_ONLY " != *" $((i + 1)) "* ]]; then
		check_no=$((check_no + 1))
		echo "ok $check_no - # SKIP not in LK_ONLY"
		continue
	fi
	"${checks[i]}"
done

echo "# $((check_no - failures))/$check_no checks passed"
((failures == 0))
