#!/usr/bin/env bash
#
# test/multinode/run.sh
#	Many tenant databases on three PostgreSQL nodes sharing one lock
#	service, through a Redis failover driven by Redis Sentinel.
#
# Starts, all on loopback and all its own (whatever cluster run_all.sh may
# have started):
#
#	redis		a master and a replica (no persistence), three sentinels
#			(quorum 2, down-after 1 s, failover-timeout 3 s), a
#			standalone server for the READONLY check, and two fake
#			sentinels (fake_sentinel.py) that answer as they are told
#	postgres	nodes 1-3, each preloading the library with the sentinels
#			in inventory.redis_sentinels and lock scope "reserve";
#			tenants t1a t1b t1c (suppliers 101-103) on node 1, t2a t2b
#			(201, 202) on node 2, t3a t3b (301, 302) on node 3, every
#			one with products 1-4 (the same ids, other suppliers); t1dup
#			on node 1 shares supplier 101 with t1a
#
# Checks, one line each ("ok N - ..." / "not ok N - ...", with "# " lines
# explaining a failure):
#
#	1  the sentinels agree on the master; every node's worker found it
#	   through them (inv_lock_server())
#	2  every sentinel down: IV012 with the reason in its DETAIL (refuse),
#	   a WARNING and the order (fallback); nothing reserved on refusal
#	3  the sentinels know no such master name: IV012, and why
#	4  a sentinel names a replica: the worker's ROLE check refuses it
#	5  a sentinel that never answers is passed over within the timeouts
#	6  the master is demoted under the worker (REPLICAOF): the worker
#	   leaves it and asks the sentinels again
#	7  malformed sentinel settings refused (22023), nothing changed
#	8  tenants on one node: other suppliers with the same product ids
#	   never collide; a database sharing a supplier id shares its locks
#	9  order storm on all 7 tenants while the Redis master is SIGKILLed:
#	   the sentinels promote the replica and every node's worker follows
#	   by itself; the time without a lock service is measured and printed.
#	   The replica is cut off just before, so that the last locks (one of
#	   them an order-scope lock in t1a) are lost for certain; a second
#	   order then takes that product's lock again: two holders, both
#	   served in turn by the stock row
#	10 no unit oversold in any tenant: stock_level + committed conserved,
#	   reserved = open reservations, inv_verify() clean, no unexpected
#	   errors
#	11 orders resume in every tenant on the new master, and each supplier
#	   has its own fence counters there
#	12 no server process died of a signal that only a bug sends
#
# Contract (test/run_all.sh): print one line per check, exit 0 only if every
# check passed.  Everything it started is stopped on exit, even on failure.
# Knobs: MN_STORM_SECONDS (14), MN_CLIENTS (2 per tenant), INV_KEEP_CLUSTER=1
# (keep the work directory: server logs, Redis and sentinel logs, pgbench
# logs), PG_CONFIG.  Takes about half a minute.
#

set -u

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
# shellcheck source=SCRIPTDIR/../lib/common.sh
source "$root/test/lib/common.sh"

# This suite runs clusters of its own; forget the one run_all.sh started.
unset INV_CLUSTER_DIR PGHOST PGPORT PGUSER PGDATABASE PGOPTIONS PGAPPNAME

MN_STORM_SECONDS=${MN_STORM_SECONDS:-14}
MN_CLIENTS=${MN_CLIENTS:-2}

pgbin=$(inv_pg_bindir)
PSQL=$pgbin/psql
PGBENCH=$pgbin/pgbench
REDIS_SERVER=/usr/bin/redis-server
REDIS_SENTINEL=/usr/bin/redis-sentinel
REDIS_CLI=/usr/bin/redis-cli
MASTER=inv

work=$(mktemp -d "${TMPDIR:-/tmp}/inv_multinode.XXXXXX")
chmod 755 "$work"

# The tenants: node, database, supplier id.
T_NODE=(1 1 1 2 2 3 3)
T_DB=(t1a t1b t1c t2a t2b t3a t3b)
T_SUP=(101 102 103 201 202 301 302)
# Products 1-5 of every tenant; the storm orders 1-4, and product 1 runs
# out during it; product 5 is for the lost lock of check 9.
P_STOCK=(0 40 100000 100000 100000 100)

taken_ports=()
declare -A PG_PORT=() PG_DIR=()
bg_pids=()
check_no=0
failures=0
reasons=()

# ---------------------------------------------------------------------------
# Cleanup: everything started here is stopped, whatever happened.
# ---------------------------------------------------------------------------

mn_cleanup()
{
	local pid node f

	for pid in "${bg_pids[@]}"; do
		kill "$pid" 2>/dev/null
	done
	for node in "${!PG_DIR[@]}"; do
		pg_stop "$node"
	done
	for f in "$work"/*/redis.pid "$work"/*/sentinel.pid "$work"/fake*.pid; do
		[[ -f $f ]] || continue
		pid=$(cat "$f" 2>/dev/null)
		[[ $pid =~ ^[0-9]+$ ]] && kill -KILL "$pid" 2>/dev/null
	done
	if [[ ${INV_KEEP_CLUSTER:-0} == 1 ]]; then
		inv_log "kept $work (INV_KEEP_CLUSTER=1)"
	else
		rm -rf "$work"
	fi
}
trap mn_cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap '' PIPE

# ---------------------------------------------------------------------------
# Reporting (as in test/locks/run.sh)
# ---------------------------------------------------------------------------

mn_begin()
{
	reasons=()
	check_start=$EPOCHREALTIME
}

mn_note()
{
	reasons+=("$1")
}

mn_end()
{
	local r

	check_no=$((check_no + 1))
	if ((${#reasons[@]} == 0)); then
		echo "ok $check_no - $1 ($(inv_since "$check_start")s)"
	else
		failures=$((failures + 1))
		echo "not ok $check_no - $1 ($(inv_since "$check_start")s)"
		for r in "${reasons[@]}"; do
			printf '%s\n' "$r" | sed 's/^/#   /'
		done
	fi
}

mn_eq()
{
	[[ $2 == "$3" ]] || mn_note "$1: got '$2', expected '$3'"
}

mn_true()
{
	awk "BEGIN { exit !($2) }" 2>/dev/null || mn_note "$1: not ($2)"
}

mn_not_running()
{
	! kill -0 "$1" 2>/dev/null
}

# mn_port VAR: set VAR to a free loopback port not handed out before (not
# in a command substitution: the list of ports taken lives in this shell).
mn_port()
{
	local p tries

	for ((tries = 0; tries < 50; tries++)); do
		p=$(inv_free_port) || return 1
		if [[ " ${taken_ports[*]} " != *" $p "* ]]; then
			taken_ports+=("$p")
			printf -v "$1" '%s' "$p"
			return 0
		fi
	done
	return 1
}

# ---------------------------------------------------------------------------
# Redis, sentinels, fake sentinels
# ---------------------------------------------------------------------------

rcli()
{
	local port=$1

	shift
	timeout 5 "$REDIS_CLI" -h 127.0.0.1 -p "$port" "$@" 2>/dev/null
}

# redis_start NAME PORT ARG...: a redis-server without persistence.
redis_start()
{
	local name=$1 port=$2

	shift 2
	mkdir -p "$work/$name"
	"$REDIS_SERVER" --port "$port" --bind 127.0.0.1 --save '' \
		--appendonly no --dir "$work/$name" --daemonize yes \
		--pidfile "$work/$name/redis.pid" \
		--logfile "$work/$name/redis.log" "$@" >/dev/null || return 1
	inv_wait 10 redis_up "$port"
}

redis_up()
{
	[[ $(rcli "$1" PING) == PONG ]]
}

# sentinel_start I PORT: sentinel I monitoring the master as "inv".
sentinel_start()
{
	local dir=$work/sentinel$1 port=$2

	mkdir -p "$dir"
	cat >"$dir/sentinel.conf" <<-EOF
		port $port
		bind 127.0.0.1
		daemonize yes
		pidfile $dir/sentinel.pid
		logfile $dir/sentinel.log
		dir $dir
		sentinel monitor $MASTER 127.0.0.1 $rm_port 2
		sentinel down-after-milliseconds $MASTER 1000
		sentinel failover-timeout $MASTER 3000
		sentinel parallel-syncs $MASTER 1
	EOF
	"$REDIS_SENTINEL" "$dir/sentinel.conf" >/dev/null || return 1
	inv_wait 10 redis_up "$port"
}

# sentinel_master PORT: the master sentinel PORT names, as host:port.
sentinel_master()
{
	rcli "$1" SENTINEL get-master-addr-by-name "$MASTER" | paste -sd: -
}

# sentinels_ready: all three agree on the master, see the replica and each
# other (quorum and failover authorisation reachable).
sentinels_ready()
{
	local p

	for p in "${rs_ports[@]}"; do
		[[ $(sentinel_master "$p") == "127.0.0.1:$rm_port" ]] || return 1
		rcli "$p" SENTINEL ckquorum "$MASTER" | grep -q '^OK 3 usable' ||
			return 1
		rcli "$p" SENTINEL replicas "$MASTER" | grep -qx "$rr_port" ||
			return 1
	done
}

# fake_start N PORT MODE: fake sentinel N, answering MODE (see the script).
fake_start()
{
	local n=$1 port=$2

	echo "$3" >"$work/fake$n.mode"
	python3 "$here/fake_sentinel.py" "$port" "$work/fake$n.mode" \
		>"$work/fake$n.log" 2>&1 &
	bg_pids+=($!)
	inv_wait 10 fake_up "$port"
}

fake_up()
{
	(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# fake_asked_more N COUNT: fake sentinel N was asked more than COUNT times.
fake_asked_more()
{
	(($(fake_asked "$1") > $2))
}

fake_mode()
{
	echo "$2" >"$work/fake$1.mode"
}

# fake_asked N: how many questions fake sentinel N has been asked.
fake_asked()
{
	if [[ -f $work/fake$1.mode.count ]]; then
		wc -l <"$work/fake$1.mode.count"
	else
		echo 0
	fi
}

# ---------------------------------------------------------------------------
# PostgreSQL nodes
# ---------------------------------------------------------------------------

pg_as()
{
	local node=$1

	shift
	INV_CLUSTER_DIR=${PG_DIR[$node]} inv_as_pg "$@"
}

# pg_conf NODE: the node's configuration.
pg_conf()
{
	local node=$1 dir=${PG_DIR[$1]}

	cat >"$dir/data/inventory_test.conf" <<-EOF
		# written by test/multinode/run.sh
		listen_addresses = '127.0.0.1'
		port = ${PG_PORT[$node]}
		unix_socket_directories = '$dir'
		max_connections = 40
		shared_buffers = 32MB
		synchronous_commit = off
		log_line_prefix = '%m [%p] %q%a '
		lc_messages = 'C'
		shared_preload_libraries = 'inventory'
		inventory.redis_sentinels = '$sentinel_list'
		inventory.redis_master_name = '$MASTER'
		inventory.redis_connect_timeout = 300
		inventory.redis_command_timeout = 500
		inventory.lock_scope = 'reserve'
		inventory.lock_failure_policy = 'refuse'
		inventory.lock_wait_timeout = 1000
	EOF
	inv_is_root && chown postgres:postgres "$dir/data/inventory_test.conf"
	return 0
}

# pg_init NODE: initdb (run for all nodes at once).
pg_init()
{
	local node=$1 dir=$work/pg$1

	mkdir -p "$dir"
	inv_is_root && chown postgres:postgres "$dir"
	PG_DIR[$node]=$dir
	pg_as "$node" initdb -D "$dir/data" -U postgres -A trust -E UTF8 \
		--locale=C --no-sync >"$dir/initdb.log" 2>&1
}

# pg_start NODE: start an initialised node on a free port.
pg_start()
{
	local node=$1 dir=$work/pg$1 port

	PG_DIR[$node]=$dir
	echo "include 'inventory_test.conf'" >>"$dir/data/postgresql.conf"
	for _ in 1 2 3; do
		mn_port port || return 1
		PG_PORT[$node]=$port
		pg_conf "$node"
		if pg_as "$node" pg_ctl -D "$dir/data" -l "$dir/server.log" -w \
			-t 60 start >/dev/null 2>&1; then
			inv_log "node $node up: port ${PG_PORT[$node]}"
			return 0
		fi
		grep -qE 'could not bind|Address already in use' "$dir/server.log" ||
			break
	done
	cat "$dir/server.log" >&2
	return 1
}

pg_stop()
{
	local node=$1 dir=${PG_DIR[$1]:-} pid

	[[ -n $dir && -f $dir/data/postmaster.pid ]] || return 0
	pg_as "$node" pg_ctl -D "$dir/data" -m fast -w -t 20 stop >/dev/null 2>&1 ||
		pg_as "$node" pg_ctl -D "$dir/data" -m immediate -w -t 10 stop >/dev/null 2>&1
	if [[ -f $dir/data/postmaster.pid ]]; then
		pid=$(head -n 1 "$dir/data/postmaster.pid")
		[[ $pid =~ ^[0-9]+$ ]] && kill -KILL "$pid" 2>/dev/null
	fi
}

mn_conn()
{
	echo "-h ${PG_DIR[$1]} -p ${PG_PORT[$1]} -U postgres"
}

# mn_val NODE DB SQL: one query's output; empty on error.
mn_val()
{
	local -a conn

	read -r -a conn <<<"$(mn_conn "$1")"
	timeout 30 "$PSQL" -X -q -A -t -v ON_ERROR_STOP=1 "${conn[@]}" -d "$2" \
		-c "$3" 2>/dev/null
}

# mn_sql NODE DB SQL: run a script going on after errors; sets MN_OUT,
# MN_ERR (stderr, verbose) and MN_STATE (the first error's SQLSTATE, or
# 00000).
mn_sql()
{
	local -a conn

	read -r -a conn <<<"$(mn_conn "$1")"
	MN_OUT=$(timeout 30 "$PSQL" -X -q -A -t -v ON_ERROR_STOP=0 \
		-v VERBOSITY=verbose "${conn[@]}" -d "$2" 2>"$work/mn_sql.err" <<<"$3")
	MN_ERR=$(cat "$work/mn_sql.err")
	MN_STATE=$(sed -n 's/^\(psql:[^ ]* \)\{0,1\}ERROR:  \([0-9A-Z]\{5\}\): .*/\2/p' \
		"$work/mn_sql.err" | head -n 1)
	: "${MN_STATE:=00000}"
}

# mn_server NODE: "connected|server|source|master_changes" of the node's
# lock service.
mn_server()
{
	mn_val "$1" "$(mn_statdb "$1")" \
		"SELECT connected || '|' || coalesce(server, '-') || '|' || source || '|' || master_changes FROM inventory.inv_lock_server()"
}

# mn_statdb NODE: a database of the node with the extension.
mn_statdb()
{
	echo "t$1a"
}

# mn_on NODE PORT: the node's worker is connected to 127.0.0.1:PORT.
mn_on()
{
	[[ $(mn_server "$1") == "true|127.0.0.1:$2|"* ]]
}

# mn_off NODE: the node's worker is not connected.
mn_off()
{
	[[ $(mn_server "$1") == false\|* ]]
}

# mn_set1 SQL...: ALTER SYSTEM on node 1, then reload.
mn_set1()
{
	local sql="" s

	for s in "$@"; do
		sql+="ALTER SYSTEM $s;"$'\n'
	done
	mn_sql 1 postgres "$sql SELECT pg_reload_conf();"
}

# mn_reserve1 DB REF [POLICY]: one reservation of product 2 on node 1 in
# its own session; sets MN_STATE, MN_ERR.
mn_reserve1()
{
	mn_sql 1 "$1" "SET inventory.lock_failure_policy = '${3:-refuse}';
		SELECT reservation_id FROM inventory.inv_reserve('$2', 2, 1);"
}

# mn_reservations NODE DB: reservations in a tenant.
mn_reservations()
{
	mn_val "$1" "$2" "SELECT count(*) FROM inventory.reservation"
}

# mn_tenant NODE DB SUPPLIER: a tenant database with products 1-4.
mn_tenant()
{
	local -a conn

	read -r -a conn <<<"$(mn_conn "$1")"
	"$pgbin/createdb" "${conn[@]}" "$2" || return 1
	"$PSQL" -X -q -v ON_ERROR_STOP=1 "${conn[@]}" -d "$2" >/dev/null <<-SQL
		CREATE EXTENSION inventory;
		SELECT inventory.inv_configure($3);
		INSERT INTO inventory.product (sku, name)
			SELECT 'MN-' || i, 'multinode ' || i FROM generate_series(1, 5) i;
		SELECT inventory.inv_adjust(1::bigint, ${P_STOCK[1]}, 'set', 'multinode');
		SELECT inventory.inv_adjust(2::bigint, ${P_STOCK[2]}, 'set', 'multinode');
		SELECT inventory.inv_adjust(3::bigint, ${P_STOCK[3]}, 'set', 'multinode');
		SELECT inventory.inv_adjust(4::bigint, ${P_STOCK[4]}, 'set', 'multinode');
		SELECT inventory.inv_adjust(5::bigint, ${P_STOCK[5]}, 'set', 'multinode');
		\i $here/tenant.sql
	SQL
}

# ---------------------------------------------------------------------------
# Start everything
# ---------------------------------------------------------------------------

mn_fatal()
{
	echo "not ok 1 - $1"
	for f in "$work"/*/redis.log "$work"/*/sentinel.log "$work"/pg*/server.log; do
		[[ -f $f ]] && { echo "# ---- $f"; tail -n 20 "$f" | sed 's/^/# /'; }
	done
	exit 1
}

if ! command -v "$REDIS_SENTINEL" >/dev/null; then
	echo "skipped: $REDIS_SENTINEL is not installed"
	exit 77
fi

rs_ports=()
for var in rm_port rr_port rx_port rs0 rs1 rs2 f1_port f2_port dead1 dead2; do
	mn_port "$var" || mn_fatal "no free ports"
done
rs_ports=("$rs0" "$rs1" "$rs2")
sentinel_list="127.0.0.1:${rs_ports[0]}, 127.0.0.1:${rs_ports[1]}, 127.0.0.1:${rs_ports[2]}"

# initdb is the slow part: all three at once, while Redis starts.
init_pids=()
for node in 1 2 3; do
	pg_init "$node" &
	init_pids+=($!)
	bg_pids+=($!)
done
redis_start master "$rm_port" || mn_fatal "the Redis master did not start"
redis_start replica "$rr_port" --replicaof 127.0.0.1 "$rm_port" ||
	mn_fatal "the Redis replica did not start"
redis_start standalone "$rx_port" || mn_fatal "the standalone Redis did not start"
for i in 0 1 2; do
	sentinel_start "$i" "${rs_ports[i]}" || mn_fatal "sentinel $i did not start"
done
fake_start 1 "$f1_port" nil || mn_fatal "fake sentinel 1 did not start"
fake_start 2 "$f2_port" nil || mn_fatal "fake sentinel 2 did not start"
for pid in "${init_pids[@]}"; do
	wait "$pid" || mn_fatal "initdb failed"
done
for node in 1 2 3; do
	PG_DIR[$node]=$work/pg$node
	pg_start "$node" || mn_fatal "node $node did not start"
done
for i in "${!T_DB[@]}"; do
	mn_tenant "${T_NODE[i]}" "${T_DB[i]}" "${T_SUP[i]}" ||
		mn_fatal "could not create tenant ${T_DB[i]}"
done
mn_tenant 1 t1dup 101 || mn_fatal "could not create t1dup"
inv_log "redis master $rm_port, replica $rr_port, sentinels ${rs_ports[*]}"

# ---------------------------------------------------------------------------
# 1. The sentinels agree, and every node found the master through them.
# ---------------------------------------------------------------------------
check_topology()
{
	local node row

	mn_begin
	inv_wait 30 sentinels_ready ||
		mn_note "the sentinels did not agree on master, replica and quorum within 30 s"
	for node in 1 2 3; do
		inv_wait 10 mn_on "$node" "$rm_port" ||
			mn_note "node $node: not connected to the master: $(mn_server "$node")"
		row=$(mn_val "$node" "t${node}a" "SELECT source || ' ' || master_name || ' ' || (sentinel IN ('127.0.0.1:${rs_ports[0]}', '127.0.0.1:${rs_ports[1]}', '127.0.0.1:${rs_ports[2]}')) FROM inventory.inv_lock_server()")
		mn_eq "node $node: source, master name, named by one of our sentinels" "$row" "sentinel $MASTER true"
	done
	mn_end "three sentinels agree on master $rm_port (replica $rr_port, quorum 2); the workers of nodes 1-3 found it through them"
}

# ---------------------------------------------------------------------------
# 2. Every sentinel down.
# ---------------------------------------------------------------------------
check_all_down()
{
	local before detail

	mn_begin
	before=$(mn_reservations 1 t1a)
	mn_set1 "SET inventory.redis_sentinels = '127.0.0.1:$dead1, 127.0.0.1:$dead2'"
	mn_eq "ALTER SYSTEM" "$MN_STATE" 00000
	inv_wait 10 mn_off 1 || mn_note "node 1 still connected: $(mn_server 1)"
	mn_reserve1 t1a DOWN-1
	mn_eq "reserve with every sentinel down (refuse)" "$MN_STATE" IV012
	detail=$(sed -n 's/^DETAIL:  //p' <<<"$MN_ERR" | head -n 1)
	[[ $detail == "none of 2 sentinels named master \"$MASTER\"; last: sentinel 127.0.0.1:"*"onnection refused"* ]] ||
		mn_note "DETAIL does not say why: '$detail'"
	mn_eq "reservations after the refusal" "$(mn_reservations 1 t1a)" "$before"
	mn_eq "inv_lock_server().sentinel_error" \
		"$(mn_val 1 t1a "SELECT sentinel_error LIKE 'none of 2 sentinels%' FROM inventory.inv_lock_server()")" t
	mn_reserve1 t1a DOWN-2 fallback
	mn_eq "reserve with every sentinel down (fallback)" "$MN_STATE" 00000
	grep -q 'WARNING:  IV012: order lock service unavailable' <<<"$MN_ERR" ||
		mn_note "no IV012 WARNING under fallback: $MN_ERR"
	mn_end "every sentinel down: IV012 (\"$detail\"), nothing reserved; fallback warns and reserves"
}

# ---------------------------------------------------------------------------
# 3. The sentinels know no such master.
# ---------------------------------------------------------------------------
check_unknown_master()
{
	local detail

	mn_begin
	mn_set1 "RESET inventory.redis_sentinels" \
		"SET inventory.redis_master_name = 'nosuch'"
	inv_wait 10 mn_val_is 1 t1a "SELECT sentinel_error LIKE '%knows no master named \"nosuch\"%' FROM inventory.inv_lock_server()" t ||
		mn_note "no 'knows no master' error: $(mn_val 1 t1a "SELECT sentinel_error FROM inventory.inv_lock_server()")"
	mn_reserve1 t1a UNKNOWN-1
	mn_eq "reserve" "$MN_STATE" IV012
	detail=$(sed -n 's/^DETAIL:  //p' <<<"$MN_ERR" | head -n 1)
	[[ $detail == *"knows no master named \"nosuch\""* ]] ||
		mn_note "DETAIL: '$detail'"
	mn_end "the real sentinels asked for an unknown master name: IV012 (\"$detail\")"
}

mn_val_is()
{
	[[ $(mn_val "$1" "$2" "$3") == "$4" ]]
}

# ---------------------------------------------------------------------------
# 4. A sentinel names a replica.
# ---------------------------------------------------------------------------
check_names_replica()
{
	local detail

	mn_begin
	fake_mode 1 "addr 127.0.0.1 $rr_port"
	mn_set1 "SET inventory.redis_sentinels = '127.0.0.1:$f1_port'" \
		"SET inventory.redis_master_name = '$MASTER'"
	inv_wait 10 mn_val_is 1 t1a "SELECT connected = false AND last_error LIKE '%is not a Redis master%' FROM inventory.inv_lock_stats()" t ||
		mn_note "the worker did not refuse the replica: $(mn_val 1 t1a "SELECT connected, last_error FROM inventory.inv_lock_stats()")"
	mn_reserve1 t1a REPLICA-1
	mn_eq "reserve" "$MN_STATE" IV012
	detail=$(sed -n 's/^DETAIL:  //p' <<<"$MN_ERR" | head -n 1)
	[[ $detail == *"not a Redis master"* ]] || mn_note "DETAIL: '$detail'"
	inv_wait 10 fake_asked_more 1 1 ||
		mn_note "the fake sentinel was not asked again after the refusal"
	mn_end "a sentinel naming the replica: ROLE check refuses it, IV012 (\"$detail\"), asked again $(fake_asked 1) times"
}

# ---------------------------------------------------------------------------
# 5. A sentinel that never answers.
# ---------------------------------------------------------------------------
check_hanging_sentinel()
{
	local asked start

	mn_begin
	fake_mode 2 hang
	asked=$(fake_asked 2)
	start=$EPOCHREALTIME
	mn_set1 "SET inventory.redis_sentinels = '127.0.0.1:$f2_port, ${sentinel_list}'"
	inv_wait 10 mn_on 1 "$rm_port" ||
		mn_note "not on the master behind a hanging sentinel: $(mn_server 1)"
	mn_true "the hanging sentinel was asked" "$(fake_asked 2) > $asked"
	mn_reserve1 t1a HANG-1
	mn_eq "reserve" "$MN_STATE" 00000
	mn_end "a sentinel that accepts and never answers is passed over: on the master after $(inv_since "$start") s"
}

# ---------------------------------------------------------------------------
# 6. The master is demoted under the worker.
# ---------------------------------------------------------------------------
check_demoted()
{
	local changes after how state

	mn_begin
	fake_mode 1 "addr 127.0.0.1 $rx_port"
	mn_set1 "SET inventory.redis_sentinels = '127.0.0.1:$f1_port'"
	inv_wait 10 mn_on 1 "$rx_port" ||
		mn_note "not on the standalone server: $(mn_server 1)"
	changes=$(mn_server 1 | cut -d'|' -f4)
	log_offset=$(wc -c <"${PG_DIR[1]}/server.log")

	# It becomes a replica; the sentinels now name the real master.
	rcli "$rx_port" REPLICAOF 127.0.0.1 "$rm_port" >/dev/null
	fake_mode 1 "addr 127.0.0.1 $rm_port"
	mn_reserve1 t1a DEMOTED-1
	state=$MN_STATE
	inv_wait 10 mn_on 1 "$rm_port" ||
		mn_note "the worker did not move to the master: $(mn_server 1)"
	after=$(mn_server 1 | cut -d'|' -f4)
	mn_true "master_changes grew ($changes -> $after)" "${after:-0} > ${changes:-0}"
	if tail -c "+$((log_offset + 1))" "${PG_DIR[1]}/server.log" |
		grep -q 'or is no longer a master'; then
		how="READONLY seen, reconnected"
	else
		how="connection dropped by the server, reconnected"
	fi
	[[ $state == IV012 || $state == 00000 ]] ||
		mn_note "reserve on the demoted server: $state"
	mn_reserve1 t1a DEMOTED-2
	mn_eq "reserve after the move" "$MN_STATE" 00000
	rcli "$rx_port" REPLICAOF NO ONE >/dev/null
	mn_end "the server turned replica under the worker: $how (first order: $state), now on the master"
}

# ---------------------------------------------------------------------------
# 7. Malformed settings.
# ---------------------------------------------------------------------------
check_bad_settings()
{
	local bad

	mn_begin
	for bad in "nohost" "127.0.0.1:0" "127.0.0.1:99999" "127.0.0.1:1,,127.0.0.1:2" \
		"::1:26379" "[::1]26379"; do
		mn_sql 1 postgres "ALTER SYSTEM SET inventory.redis_sentinels = '$bad';"
		mn_eq "redis_sentinels = '$bad'" "$MN_STATE" 22023
	done
	mn_sql 1 postgres "ALTER SYSTEM SET inventory.redis_master_name = 'two words';"
	mn_eq "redis_master_name = 'two words'" "$MN_STATE" 22023
	grep -q 'DETAIL:' <<<"$MN_ERR" || mn_note "no DETAIL for the master name"
	mn_eq "setting unchanged" "$(mn_val 1 postgres "SHOW inventory.redis_sentinels")" "127.0.0.1:$f1_port"

	# Back to the configuration file: the real sentinels
	mn_set1 "RESET inventory.redis_sentinels" "RESET inventory.redis_master_name"
	inv_wait 10 mn_on 1 "$rm_port" || mn_note "node 1 not back on the master: $(mn_server 1)"
	mn_end "malformed sentinel lists and master names refused with 22023; node 1 back on the sentinels"
}

# ---------------------------------------------------------------------------
# 8. Tenants on one node.
# ---------------------------------------------------------------------------
check_tenants()
{
	local key_a key_b

	mn_begin
	mn_sql 1 t1a "SET inventory.lock_scope = 'order';
		SELECT reservation_id FROM inventory.inv_reserve('HOLD-1', 1, 1);"
	mn_eq "t1a holds product 1 (order scope)" "$MN_STATE" 00000
	key_a="inventory:supplier:101:product:1"
	key_b="inventory:supplier:102:product:1"
	[[ -n $(rcli "$rm_port" GET "$key_a") ]] || mn_note "no key $key_a in Redis"
	mn_sql 1 t1b "SET inventory.lock_scope = 'order'; SET inventory.lock_wait_timeout = 300;
		SELECT reservation_id FROM inventory.inv_reserve('HOLD-2', 1, 1);"
	mn_eq "t1b (supplier 102) product 1 meanwhile" "$MN_STATE" 00000
	[[ -n $(rcli "$rm_port" GET "$key_b") ]] || mn_note "no key $key_b in Redis"
	mn_sql 2 t2a "SET inventory.lock_wait_timeout = 300;
		SELECT reservation_id FROM inventory.inv_reserve('HOLD-3', 1, 1);"
	mn_eq "t2a (supplier 201, node 2) product 1 meanwhile" "$MN_STATE" 00000
	mn_sql 1 t1dup "SET inventory.lock_wait_timeout = 300;
		SELECT reservation_id FROM inventory.inv_reserve('HOLD-4', 1, 1);"
	mn_eq "t1dup (supplier 101 too) product 1 meanwhile" "$MN_STATE" IV011
	mn_sql 1 t1a "SELECT changed FROM inventory.inv_release_order('HOLD-1');"
	mn_sql 1 t1b "SELECT changed FROM inventory.inv_release_order('HOLD-2');"
	mn_sql 2 t2a "SELECT changed FROM inventory.inv_release_order('HOLD-3');"
	mn_sql 1 t1dup "SET inventory.lock_wait_timeout = 2000;
		SELECT reservation_id FROM inventory.inv_reserve('HOLD-5', 1, 1);
		SELECT changed FROM inventory.inv_release_order('HOLD-5');"
	mn_eq "t1dup after t1a released" "$MN_STATE" 00000
	mn_end "same product ids, other suppliers: separate keys, no waiting; the same supplier id in another database shares the lock (IV011)"
}

# ---------------------------------------------------------------------------
# 9. The order storm through a failover.
# ---------------------------------------------------------------------------

# storm SECONDS TAG: one pgbench per tenant, in the background.
storm()
{
	local i
	local -a conn

	storm_pids=()
	for i in "${!T_DB[@]}"; do
		read -r -a conn <<<"$(mn_conn "${T_NODE[i]}")"
		timeout 120 "$PGBENCH" -n "${conn[@]}" -c "$MN_CLIENTS" -j 1 \
			-T "$1" -f "$here/storm.pgbench" "${T_DB[i]}" \
			>"$work/storm_$2_${T_DB[i]}.log" 2>&1 &
		storm_pids+=($!)
		bg_pids+=($!)
	done
}

# storm_wait TAG: wait for the storm; note pgbench failures.
storm_wait()
{
	local i

	for i in "${!storm_pids[@]}"; do
		wait "${storm_pids[i]}" ||
			mn_note "pgbench on ${T_DB[i]} ($1) failed: $(tail -n 3 "$work/storm_$1_${T_DB[i]}.log")"
	done
}

check_failover()
{
	local node t_kill t_named="" back gaps="" i line now pause pauses=""
	local lost_state lost_fence lost_two lost_how

	mn_begin
	declare -g -A BACK_AT=()
	storm "$MN_STORM_SECONDS" one
	sleep 3
	for i in "${!T_DB[@]}"; do
		inv_wait 5 mn_val_is "${T_NODE[i]}" "${T_DB[i]}" \
			"SELECT count(*) > 0 FROM mn_attempt WHERE outcome = 'ok'" t ||
			mn_note "${T_DB[i]}: no order taken before the failover"
	done

	# Cut the replica off (pointed at a dead port, it keeps its data) so
	# that what follows never reaches it: the storm's last locks and fence
	# numbers, and one order-scope lock held in t1a.  This is the loss that
	# asynchronous replication allows, made certain; a stopped replica or a
	# killed link would not do (the kernel keeps what the master sent, and
	# the replica reconnects at once).  Then kill the master outright; the
	# sentinels must notice and promote the replica all the same.
	rcli "$rr_port" REPLICAOF 127.0.0.1 "$dead1" >/dev/null
	mn_sql 1 t1a "SET inventory.lock_scope = 'order';
		SELECT lock_fence FROM inventory.inv_reserve('LOST-1', 5, 1);"
	lost_state=$MN_STATE
	lost_fence=$MN_OUT
	t_kill=$EPOCHREALTIME
	T_KILL=$t_kill
	kill -KILL "$(cat "$work/master/redis.pid")"
	mn_eq "order-scope reserve of product 5 just before the kill" "$lost_state" 00000
	# Bounded: 30 s, polled every 0.1 s plus the queries' own time.
	while ((${#BACK_AT[@]} < 3)) &&
		awk -v a="$t_kill" -v b="$EPOCHREALTIME" 'BEGIN { exit !(b - a < 30) }'; do
		now=$EPOCHREALTIME
		if [[ -z $t_named && $(sentinel_master "${rs_ports[0]}") == "127.0.0.1:$rr_port" ]]; then
			t_named=$now
		fi
		for node in 1 2 3; do
			[[ -n ${BACK_AT[$node]:-} ]] && continue
			back=$(mn_val "$node" "t${node}a" "SELECT extract(epoch FROM connected_since) FROM inventory.inv_lock_server() WHERE connected AND server = '127.0.0.1:$rr_port'")
			[[ -n $back ]] && BACK_AT[$node]=$back
		done
		sleep 0.1
	done
	[[ -n $t_named ]] ||
		t_named=$( [[ $(sentinel_master "${rs_ports[0]}") == "127.0.0.1:$rr_port" ]] && echo "$EPOCHREALTIME")
	[[ -n $t_named ]] || mn_note "the sentinels never named the replica"
	storm_wait one

	for node in 1 2 3; do
		if [[ -z ${BACK_AT[$node]:-} ]]; then
			mn_note "node $node did not reconnect to the new master $rr_port: $(mn_server "$node")"
			continue
		fi
		line=$(mn_server "$node")
		[[ $(cut -d'|' -f4 <<<"$line") -ge 1 ]] ||
			mn_note "node $node: master_changes not counted: $line"
		gaps+="${gaps:+,} node $node $(awk -v a="$t_kill" -v b="${BACK_AT[$node]}" 'BEGIN { printf "%.2f", b - a }') s"
	done
	# The lock of LOST-1 died with the master; a second order takes it anew
	# while LOST-1 still believes it holds it: two holders, one stock row.
	lost_how="lost with the master"
	if [[ -n $(rcli "$rr_port" GET inventory:supplier:101:product:5) ]]; then
		# Should not happen; said in the check's line if it does.
		rcli "$rr_port" DEL inventory:supplier:101:product:5 >/dev/null
		lost_how="replicated after all, deleted on the new master to stand for a lost one"
	fi
	mn_sql 1 t1a "SELECT lock_fence FROM inventory.inv_reserve('LOST-2', 5, 1);"
	mn_eq "second holder of product 5 after the failover" "$MN_STATE" 00000
	lost_two="fences $lost_fence and ${MN_OUT:-?}"
	mn_sql 1 t1a "SELECT state FROM inventory.inv_confirm_order('LOST-1');
		SELECT state FROM inventory.inv_confirm_order('LOST-2');"
	mn_eq "both holders confirm" "$MN_STATE|$(tr '\n' ' ' <<<"$MN_OUT")" "00000|confirmed confirmed "
	mn_eq "product 5 in t1a: level, reserved, committed" \
		"$(mn_val 1 t1a "SELECT sum(stock_level) || ' ' || sum(reserved) || ' ' || sum(committed) FROM inventory.stock_slot WHERE product_id = 5")" \
		"$((P_STOCK[5] - 2)) 0 2"

	# The longest time each tenant went without a successful order
	for i in "${!T_DB[@]}"; do
		pause=$(mn_val "${T_NODE[i]}" "${T_DB[i]}" "SELECT round(extract(epoch FROM max(gap))::numeric, 2) FROM (SELECT at - lag(at) OVER (ORDER BY at) AS gap, at FROM mn_attempt WHERE outcome = 'ok') g WHERE at > to_timestamp($t_kill)")
		pauses+=" ${T_DB[i]} ${pause:-?}"
	done
	FAILOVER_SUMMARY="sentinels named the replica after $(awk -v a="$t_kill" -v b="${t_named:-$t_kill}" 'BEGIN { printf "%.2f", b - a }') s; lock service back:$gaps"
	echo "# master killed; $FAILOVER_SUMMARY"
	echo "# longest pause between two orders per tenant, in s:$pauses"
	mn_end "order storm on 7 tenants, replica cut off for the last writes, Redis master SIGKILLed: replica promoted, every node's worker on it by itself ($FAILOVER_SUMMARY); a lock $lost_how taken again by a second order ($lost_two), both served by the stock row"
}

# ---------------------------------------------------------------------------
# 10. No unit oversold anywhere.
# ---------------------------------------------------------------------------
check_no_oversell()
{
	local i node db bad verify odd counts total=0 n

	mn_begin
	for i in "${!T_DB[@]}"; do
		node=${T_NODE[i]}
		db=${T_DB[i]}
		bad=$(mn_val "$node" "$db" "
			WITH init(product_id, units) AS (VALUES (1::bigint, ${P_STOCK[1]}), (2, ${P_STOCK[2]}), (3, ${P_STOCK[3]}), (4, ${P_STOCK[4]}), (5, ${P_STOCK[5]})),
			slots AS (SELECT product_id, sum(stock_level) AS level, sum(reserved) AS reserved,
							 sum(committed) AS committed, bool_and(reserved <= stock_level) AS covered
					  FROM inventory.stock_slot GROUP BY product_id),
			open AS (SELECT product_id, sum(quantity) AS qty FROM inventory.reservation
					 WHERE state = 'reserved' GROUP BY product_id)
			SELECT count(*) FROM init
			JOIN slots USING (product_id) LEFT JOIN open USING (product_id)
			WHERE slots.level + slots.committed <> init.units
			   OR slots.reserved <> coalesce(open.qty, 0)
			   OR NOT slots.covered")
		mn_eq "$db: products whose units are not conserved" "$bad" 0
		verify=$(mn_val "$node" "$db" "SELECT count(*) FROM inventory.inv_verify()")
		mn_eq "$db: inv_verify() rows" "$verify" 0
		odd=$(mn_val "$node" "$db" "SELECT coalesce(string_agg(outcome || ' x' || n, ', '), '') FROM (SELECT outcome, count(*) n FROM mn_attempt WHERE outcome NOT IN ('ok', 'IV002', 'IV011', 'IV012', 'IV013', '40001', '40P01') GROUP BY outcome) o")
		mn_eq "$db: unexpected errors" "$odd" ""
		n=$(mn_val "$node" "$db" "SELECT count(*) FROM mn_attempt WHERE outcome = 'ok'")
		total=$((total + ${n:-0}))
	done
	counts=$(for i in "${!T_DB[@]}"; do
		mn_val "${T_NODE[i]}" "${T_DB[i]}" "SELECT outcome, count(*) FROM mn_attempt GROUP BY outcome"
	done | awk -F'|' '{ n[$1] += $2 } END { for (k in n) printf "%s %d, ", k, n[k] }')
	echo "# outcomes over all tenants: ${counts%, }"
	mn_end "no unit oversold in any of 7 tenants: units conserved, reserved = open reservations, inv_verify() clean ($total orders taken; ${counts%, })"
}

# ---------------------------------------------------------------------------
# 11. Orders resume on the new master.
# ---------------------------------------------------------------------------
check_resume()
{
	local i node db after sup keys

	mn_begin
	storm 3 two
	storm_wait two
	for i in "${!T_DB[@]}"; do
		node=${T_NODE[i]}
		db=${T_DB[i]}
		after=$(mn_val "$node" "$db" "SELECT count(*) FROM mn_attempt WHERE outcome = 'ok' AND at > to_timestamp(${BACK_AT[$node]:-$T_KILL})")
		mn_true "$db: orders taken after node $node reconnected" "${after:-0} > 0"
		sup=${T_SUP[i]}
		keys=$(rcli "$rr_port" --scan --pattern "inventory:supplier:$sup:product:*:fence" | wc -l)
		mn_true "$db: fence counters of supplier $sup on the new master" "$keys >= 1"
	done
	keys=$(rcli "$rr_port" --scan --pattern "inventory:supplier:*:fence" |
		sed 's/^inventory:supplier:\([0-9]*\):.*/\1/' | sort -u | paste -sd, -)
	mn_eq "suppliers with fence counters on the new master" "$keys" "101,102,103,201,202,301,302"
	mn_end "orders resume in every tenant on the new master after the storm; one set of counters per supplier on it"
}

# ---------------------------------------------------------------------------
# 12. No crash.
# ---------------------------------------------------------------------------
check_no_crash()
{
	local node found

	mn_begin
	for node in 1 2 3; do
		found=$(grep -E 'terminated by signal (4|6|7|8|11)|PANIC' "${PG_DIR[$node]}/server.log")
		[[ -z $found ]] || mn_note "node $node: $found"
	done
	mn_end "no server process of nodes 1-3 died of a signal that only a bug sends"
}

T_KILL=""
FAILOVER_SUMMARY=""
check_topology
check_all_down
check_unknown_master
check_names_replica
check_hanging_sentinel
check_demoted
check_bad_settings
check_tenants
check_failover
check_no_oversell
check_resume
check_no_crash

echo "# $check_no checks, $failures failed"
((failures == 0))
