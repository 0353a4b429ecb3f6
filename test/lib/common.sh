# test/lib/common.sh
#	Shared shell functions for the inventory test suites and the demo.
#
# Sourced, never run.  It gives every suite the same way to install what
# the tests need, build and install the extension, and run a private
# PostgreSQL 15 cluster that nothing else on the machine can disturb:
#
#	inv_install_deps		apt-get install whatever is missing (root only)
#	inv_build_install [ARG...]	make ARG... && make install, in the project root
#	inv_cluster_start [LINE...]	initdb + start; exports PGHOST, PGPORT, PGUSER,
#					INV_CLUSTER_DIR; LINEs go into postgresql.conf
#	inv_cluster_stop		stop the cluster and remove its directory
#	inv_new_db NAME [SUPPLIER]	createdb, CREATE EXTENSION inventory, inv_configure
#	inv_wait TIMEOUT CMD...		poll CMD until it succeeds, at most TIMEOUT seconds
#	inv_since START			seconds since an $EPOCHREALTIME, 3 decimals
#
# The cluster lives in a fresh temporary directory, listens on a free port
# of 127.0.0.1 only, and keeps its socket in that directory.  PostgreSQL
# refuses to run as root, so when we are root the server and initdb run as
# the "postgres" user.  Starting it also arranges for inv_cluster_stop to run
# on EXIT, so an interrupted suite does not leave a server behind.
#
# Everything here works under "set -euo pipefail" and changes no shell
# options of the script that sources it.  Each function checks its own
# steps ("|| return 1"), so a failure is reported even when it is called
# where "set -e" is off (in an "if" or on the left of "||").
#
# Environment knobs:
#	PG_CONFIG		pg_config to use (default: the one on PATH)
#	INV_CLUSTER_CONF	extra postgresql.conf lines, newline-separated
#	INV_KEEP_CLUSTER=1	leave the stopped cluster's directory (and log) behind
#	INV_START_TIMEOUT	seconds pg_ctl may wait for startup (default 60)
#	INV_DATA_DIR		the sample data (default: ../shared/data beside the root)

# shellcheck shell=bash

# Project root: two levels above this file.
INV_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# The shared sample data sits beside the project root; suites that use it
# must skip (and say so) when the directory is absent.  INV_DATA_DIR may
# point elsewhere.
INV_DATA_DIR=${INV_DATA_DIR:-$(cd "$INV_ROOT/.." && pwd)/shared/data}

# Debian packages the build, the suites and the demo need.
INV_DEB_PACKAGES=(
	postgresql-15 postgresql-server-dev-15 postgresql-contrib
	libhiredis-dev redis-server redis-sentinel postgresql-15-pgtap
	libtap-parser-sourcehandler-pgtap-perl libcurl4-openssl-dev
	clang make gcc python3 libcsv-dev libclang-rt-14-dev
)

#
# inv_log MESSAGE...: progress note on stderr, so it never mixes with the
# output a suite is checking.
#
inv_log()
{
	printf '[inv] %s\n' "$*" >&2
}

#
# inv_die MESSAGE...: report and fail.  Returns 1 rather than exiting so a
# caller using "if" can recover; under "set -e" the script stops.
#
inv_die()
{
	printf '[inv] error: %s\n' "$*" >&2
	return 1
}

#
# inv_is_root: true when running as uid 0.
#
inv_is_root()
{
	[[ $(id -u) -eq 0 ]]
}

#
# inv_as_pg CMD...: run CMD as the user who owns the cluster: "postgres"
# when we are root, ourselves otherwise.  It runs from the cluster
# directory (or /) because the postgres user may not be able to read our
# current directory, which makes the server tools print warnings.
#
inv_as_pg()
{
	local dir=${INV_CLUSTER_DIR:-/}

	if inv_is_root; then
		(cd "$dir" && runuser -u postgres -- "$@")
	else
		(cd "$dir" && "$@")
	fi
}

#
# inv_pg_bindir: print the PostgreSQL 15 binary directory.
#
inv_pg_bindir()
{
	"${PG_CONFIG:-pg_config}" --bindir
}

#
# inv_use_pg_bindir: put the server's own binaries first on PATH, so psql,
# pg_ctl, createdb and pgbench all come from the version we build against
# (not Debian's version-picking wrappers in /usr/bin).  Idempotent; quiet
# when pg_config is not installed yet.
#
inv_use_pg_bindir()
{
	local bindir

	command -v "${PG_CONFIG:-pg_config}" >/dev/null 2>&1 || return 0
	bindir=$(inv_pg_bindir) || return 0
	case ":$PATH:" in
		*":$bindir:"*) ;;
		*) export PATH="$bindir:$PATH" ;;
	esac
}

#
# inv_install_deps: install the Debian packages that are missing.  Skips
# apt entirely when everything is present; needs root otherwise.
#
inv_install_deps()
{
	local pkg
	local missing=()

	if ! command -v dpkg-query >/dev/null 2>&1; then
		inv_log "no dpkg-query: not a Debian system, assuming dependencies are present"
		inv_use_pg_bindir
		return 0
	fi

	for pkg in "${INV_DEB_PACKAGES[@]}"; do
		if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null |
			grep -q 'install ok installed'; then
			missing+=("$pkg")
		fi
	done

	if ((${#missing[@]} == 0)); then
		inv_use_pg_bindir
		return 0
	fi

	inv_is_root ||
		inv_die "missing packages (${missing[*]}); run as root to install them" ||
		return 1
	inv_log "installing: ${missing[*]}"
	apt-get update || return 1
	DEBIAN_FRONTEND=noninteractive apt-get install -y "${missing[@]}"
	inv_use_pg_bindir
}

#
# inv_build_install [MAKE_ARG...]: build the extension in the project root,
# passing MAKE_ARGs to the build (e.g. -B COPT=-Werror), then install it.
#
inv_build_install()
{
	make -C "$INV_ROOT" -j "$(nproc)" "$@" || return 1
	make -C "$INV_ROOT" install
}

#
# inv_port_in_use PORT: true when something accepts connections on
# 127.0.0.1:PORT.  Bash's /dev/tcp connects without any extra tool.
#
inv_port_in_use()
{
	(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

#
# inv_since START: seconds since START (an $EPOCHREALTIME), 3 decimals.
#
inv_since()
{
	awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.3f", b - a }'
}

#
# inv_wait TIMEOUT CMD...: run CMD every 0.05 s until it succeeds; return 1
# once TIMEOUT seconds have gone by without success.
#
inv_wait()
{
	local timeout=$1 start=$EPOCHREALTIME

	shift
	until "$@"; do
		awk -v a="$start" -v b="$EPOCHREALTIME" -v t="$timeout" \
			'BEGIN { exit !(b - a > t) }' && return 1
		sleep 0.05
	done
	return 0
}

#
# inv_free_port: print a port on 127.0.0.1 that nothing listens on.  The
# search starts at a random point of 20000-31999 (below Linux's ephemeral
# range) so that suites running side by side rarely pick the same one;
# inv_cluster_start retries if it loses that race anyway.
#
inv_free_port()
{
	local port=$((20000 + (RANDOM + $$) % 12000))
	local tries

	for ((tries = 0; tries < 100; tries++)); do
		if ! inv_port_in_use "$port"; then
			echo "$port"
			return 0
		fi
		port=$((20000 + (port - 20000 + 1) % 12000))
	done
	inv_die "no free port on 127.0.0.1 in 20000-31999"
}

#
# inv_cluster_conf DATADIR PORT LINE...: write our settings into
# DATADIR/inventory_test.conf, which postgresql.conf includes.  Rewritten
# on every start attempt since the port may change.
#
inv_cluster_conf()
{
	local datadir=$1 port=$2 line

	shift 2
	{
		echo "# written by test/lib/common.sh"
		echo "listen_addresses = '127.0.0.1'"
		echo "port = $port"
		echo "unix_socket_directories = '$INV_CLUSTER_DIR'"
		# The pgbench suites run 64 clients at once.
		echo "max_connections = 200"
		echo "shared_buffers = 128MB"
		# A real test: the server syncs as it would in production.
		echo "fsync = on"
		echo "log_line_prefix = '%m [%p] %q%a '"
		echo "lc_messages = 'C'"
		if [[ -n ${INV_CLUSTER_CONF:-} ]]; then
			printf '%s\n' "$INV_CLUSTER_CONF"
		fi
		for line in "$@"; do
			printf '%s\n' "$line"
		done
	} >"$datadir/inventory_test.conf"
	if inv_is_root; then
		chown postgres:postgres "$datadir/inventory_test.conf"
	fi
}

#
# inv_exit_trap_add CMD: run CMD on EXIT after whatever EXIT trap the
# calling script already set, instead of replacing it.  Adding the same
# CMD twice is harmless.
#
inv_exit_trap_add()
{
	local cmd=$1 current=""

	# In a subshell that has set no trap through us, "trap -p" shows the
	# parent's traps, which do not run here: chaining them would run the
	# parent's cleanup too early.  Anywhere else it shows the live trap.
	if [[ ${INV_TRAP_PID:-} == "$BASHPID" || $BASHPID == "$$" ]]; then
		# "trap -p EXIT" prints: trap -- 'command' EXIT; let the shell
		# unquote it.
		eval "set -- $(trap -p EXIT)"
		current=${3:-}
	fi
	INV_TRAP_PID=$BASHPID

	case "$current" in
		"") trap -- "$cmd" EXIT ;;
		*"$cmd"*) ;;
		*) trap -- "$current; $cmd" EXIT ;;
	esac
}

#
# inv_cluster_start [CONF_LINE...]: create and start a private cluster and
# export PGHOST, PGPORT, PGUSER and INV_CLUSTER_DIR for it.  CONF_LINEs
# (and $INV_CLUSTER_CONF) are added to its configuration, e.g.
# "shared_preload_libraries = 'inventory'".  Never hangs: pg_ctl waits at
# most INV_START_TIMEOUT seconds, and on failure the server log is printed.
#
inv_cluster_start()
{
	local dir datadir port attempt
	local timeout=${INV_START_TIMEOUT:-60}

	if [[ -n ${INV_CLUSTER_DIR:-} && -d ${INV_CLUSTER_DIR:-} ]]; then
		inv_die "a cluster is already running in $INV_CLUSTER_DIR" || return 1
	fi
	inv_use_pg_bindir

	# A directory the server's user owns; it also holds the socket and log.
	dir=$(mktemp -d "${TMPDIR:-/tmp}/inventory-pg.XXXXXX") || return 1
	export INV_CLUSTER_DIR=$dir
	inv_exit_trap_add inv_cluster_stop
	datadir=$dir/data
	if inv_is_root; then
		chown postgres:postgres "$dir" || return 1
		if ! runuser -u postgres -- test -w "$dir"; then
			inv_die "user postgres cannot write to $dir; set TMPDIR to a directory it can reach" ||
				return 1
		fi
	fi

	# C locale: sorting and messages come out the same on every machine.
	# --no-sync only skips initdb's final flush of a throwaway directory;
	# the server itself runs with fsync on.
	if ! inv_as_pg initdb -D "$datadir" -U postgres -A trust -E UTF8 \
		--locale=C --no-sync >"$dir/initdb.log" 2>&1; then
		cat "$dir/initdb.log" >&2
		inv_die "initdb failed" || return 1
	fi
	echo "include 'inventory_test.conf'" >>"$datadir/postgresql.conf" ||
		return 1

	# Another suite may grab the port between our check and the server's
	# bind; then the server exits at once and we try another port.
	for attempt in 1 2 3 4 5; do
		port=$(inv_free_port) || return 1
		inv_cluster_conf "$datadir" "$port" "$@" || return 1
		if inv_as_pg pg_ctl -D "$datadir" -l "$dir/server.log" -w \
			-t "$timeout" start >/dev/null 2>&1; then
			export PGHOST=$dir PGPORT=$port PGUSER=postgres
			inv_log "cluster up: port $port, dir $dir"
			return 0
		fi
		if grep -qE 'could not bind|could not create any TCP/IP sockets|Address already in use' \
			"$dir/server.log" 2>/dev/null; then
			inv_log "port $port was taken (attempt $attempt), trying another"
			inv_as_pg pg_ctl -D "$datadir" -m immediate -w -t 10 stop \
				>/dev/null 2>&1 || true
			continue
		fi
		break
	done

	echo "---- server log ($dir/server.log) ----" >&2
	cat "$dir/server.log" >&2 2>/dev/null || true
	echo "---- end of server log ----" >&2
	inv_cluster_stop
	inv_die "could not start the test cluster" || return 1
}

#
# inv_cluster_stop: stop the cluster started by inv_cluster_start and remove
# its directory.  Safe to call more than once, and from an EXIT trap.
#
inv_cluster_stop()
{
	local dir=${INV_CLUSTER_DIR:-} pid

	[[ -n $dir && -d $dir ]] || return 0

	if [[ -f $dir/data/postmaster.pid ]]; then
		if ! inv_as_pg pg_ctl -D "$dir/data" -m fast -w -t 30 stop \
			>/dev/null 2>&1; then
			inv_log "fast shutdown failed; stopping immediately"
			inv_as_pg pg_ctl -D "$dir/data" -m immediate -w -t 15 stop \
				>/dev/null 2>&1 || true
		fi
		# Last resort: the postmaster we started, by its pid.
		if [[ -f $dir/data/postmaster.pid ]]; then
			pid=$(head -n 1 "$dir/data/postmaster.pid")
			if [[ $pid =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null; then
				kill -KILL "$pid" 2>/dev/null || true
			fi
		fi
	fi

	if [[ ${INV_KEEP_CLUSTER:-0} == 1 ]]; then
		inv_log "cluster stopped; kept $dir (INV_KEEP_CLUSTER=1)"
	else
		rm -rf "$dir"
	fi
	unset INV_CLUSTER_DIR PGHOST PGPORT PGUSER
	return 0
}

#
# inv_psql ARG...: psql that reads no ~/.psqlrc and stops at the first error.
#
inv_psql()
{
	psql -X -v ON_ERROR_STOP=1 "$@"
}

#
# inv_new_db NAME [SUPPLIER_ID]: create database NAME with the extension
# installed and configured for SUPPLIER_ID (default 1).
#
inv_new_db()
{
	local name=${1:?usage: inv_new_db NAME [SUPPLIER_ID]}
	local supplier=${2:-1}

	[[ $supplier =~ ^[0-9]+$ ]] ||
		inv_die "supplier id must be a positive integer, not \"$supplier\"" ||
		return 1
	createdb "$name" || return 1
	inv_psql -q -d "$name" >/dev/null <<-SQL
		CREATE EXTENSION inventory;
		SELECT inventory.inv_configure($supplier);
	SQL
}

inv_use_pg_bindir
