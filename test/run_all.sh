#!/usr/bin/env bash
#
# test/run_all.sh
#	The one test command: build, install, and run every suite against a
#	private PostgreSQL 15 cluster.
#
# Steps: install missing Debian packages (root only), build with -Werror and
# install the extension, start a throwaway cluster (test/lib/common.sh),
# then run the suites in this order:
#
#	build		make -B COPT=-Werror, then make install
#	regress		pg_regress suites (REGRESS in the Makefile), via installcheck
#	isolation	isolationtester suites (ISOLATION), via installcheck
#	pgtap		pg_prove over test/pgtap/*.sql, in a database of its own
#	<name>		every test/<name>/run.sh except lib, in name order
#
# A suite passes when its command exits 0, is skipped when it exits 77 (or
# has nothing to run), and fails otherwise, including when it runs longer
# than INV_SUITE_TIMEOUT seconds (default 600).  The last line printed is
# exactly "N passed, N failed", counting suites; the exit status is 0 only
# when none failed.
#
# Environment: INV_SUITE_TIMEOUT, plus the knobs test/lib/common.sh reads
# (INV_KEEP_CLUSTER=1 keeps the cluster directory and its server log).
#

# The suite functions below are called indirectly, through inv_suite, and
# inv_cluster_start takes no arguments here.
# shellcheck disable=SC2317,SC2119

set -euo pipefail

cd "$(dirname "$0")/.."
# shellcheck source=SCRIPTDIR/lib/common.sh
source test/lib/common.sh

INV_SUITE_TIMEOUT=${INV_SUITE_TIMEOUT:-600}
# Exit status by which a suite says it had nothing to do.
INV_SKIP=77

inv_names=()
inv_results=()
inv_passed=0
inv_failed=0
inv_started=$SECONDS

#
# inv_timeout CMD...: run an external command, killed (with its children)
# after INV_SUITE_TIMEOUT seconds.  timeout exits 124 when that happens.
#
inv_timeout()
{
	timeout -k 15 "$INV_SUITE_TIMEOUT" "$@"
}

#
# inv_server_log_size: bytes in the cluster's server log so far (0 when
# there is no cluster), to show only what a suite added to it.
#
inv_server_log_size()
{
	local log=${INV_CLUSTER_DIR:-/nonexistent}/server.log

	if [[ -f $log ]]; then
		wc -c <"$log"
	else
		echo 0
	fi
}

#
# inv_report_crashes OFFSET: print server log lines written after byte
# OFFSET that show a server process dying; a crash in the extension is the
# one failure a suite's own output may not show.  Returns 1 when a process
# died of a signal that only a bug sends (SIGILL, SIGABRT, SIGBUS, SIGFPE,
# SIGSEGV) or the server PANICked; a SIGKILL may be a fault suite's doing.
#
inv_report_crashes()
{
	local log=${INV_CLUSTER_DIR:-/nonexistent}/server.log
	local found=${INV_CLUSTER_DIR:-}/crashes.txt

	[[ -f $log ]] || return 0
	tail -c "+$(($1 + 1))" "$log" |
		grep -E 'terminated by signal|terminated by exception|PANIC' \
			>"$found" || return 0

	echo "!!! the server log shows processes dying during this suite:"
	sed 's/^/!!!   /' "$found"
	if grep -qE 'signal (4|6|7|8|11):|PANIC' "$found"; then
		return 1
	fi
	return 0
}

#
# inv_suite NAME CMD...: run one suite, print a banner and its verdict, and
# count it.  CMD may be a shell function; see the note in inv_suite_regress.
#
inv_suite()
{
	local name=$1 start=$SECONDS log_offset rc=0 verdict

	shift
	log_offset=$(inv_server_log_size)
	echo
	echo "==== $name ===="
	"$@" || rc=$?

	case $rc in
		0)
			verdict=passed
			inv_passed=$((inv_passed + 1))
			;;
		"$INV_SKIP")
			verdict=skipped
			;;
		124)
			verdict="FAILED (timed out after ${INV_SUITE_TIMEOUT}s)"
			inv_failed=$((inv_failed + 1))
			;;
		*)
			verdict="FAILED (exit status $rc)"
			inv_failed=$((inv_failed + 1))
			;;
	esac
	if ! inv_report_crashes "$log_offset" && [[ $verdict != FAILED* ]]; then
		# Counted as passed or skipped above; a crash overrides that.
		[[ $verdict == passed ]] && inv_passed=$((inv_passed - 1))
		inv_failed=$((inv_failed + 1))
		verdict="FAILED (a server process crashed)"
	fi
	verdict="$verdict, $((SECONDS - start))s"
	echo "---- $name: $verdict"
	inv_names+=("$name")
	inv_results+=("$verdict")
}

#
# inv_make_var NAME: print the value of Makefile variable NAME.
#
inv_make_var()
{
	echo "inv-print-%: ; @echo '\$(\$*)'" |
		make -s --no-print-directory -f Makefile -f - "inv-print-$1"
}

#
# inv_suite_build: compile every source afresh with warnings as errors, then
# install.  -B rebuilds objects an earlier plain "make" left behind, so a
# warning cannot hide in an up-to-date object file.
#
inv_suite_build()
{
	inv_build_install -B COPT=-Werror
}

#
# inv_suite_regress KIND: the pg_regress ("regress") or isolationtester
# ("isolation") part of PGXS's installcheck, run on its own so that one
# failing does not keep the other from running.  Prints the diffs on failure.
#
# Note: these functions run in an "if"-like context where "set -e" is off,
# so every step checks its own status.
#
inv_suite_regress()
{
	local kind=$1 tests diffs
	local args=()

	if [[ $kind == regress ]]; then
		tests=$(inv_make_var REGRESS) || return 1
		args=(ISOLATION=)
		diffs=regression.diffs
	else
		tests=$(inv_make_var ISOLATION) || return 1
		args=(REGRESS=)
		diffs=output_iso/regression.diffs
	fi
	if [[ -z ${tests// /} ]]; then
		echo "no $kind tests listed in the Makefile"
		return "$INV_SKIP"
	fi

	# NO_INSTALLCHECK= : PGXS drops the installcheck target whenever that
	# variable is non-empty, even "0".
	if inv_timeout make --no-print-directory installcheck \
		NO_INSTALLCHECK= "${args[@]}"; then
		return 0
	else
		local rc=$?

		if [[ -s $diffs ]]; then
			echo "---- $diffs"
			cat "$diffs"
		fi
		return "$rc"
	fi
}

#
# inv_suite_pgtap: every test/pgtap/*.sql through pg_prove, in a database
# with both extensions.
#
inv_suite_pgtap()
{
	local files=(test/pgtap/*.sql)

	if [[ ! -e ${files[0]} ]]; then
		echo "no test/pgtap/*.sql files"
		return "$INV_SKIP"
	fi
	inv_new_db inv_pgtap || return 1
	inv_psql -q -d inv_pgtap -c 'CREATE EXTENSION pgtap' || return 1
	inv_timeout pg_prove -ovf -d inv_pgtap "${files[@]}"
}

#
# inv_suite_script RUN_SH: one test/<suite>/run.sh, from the project root.
#
inv_suite_script()
{
	local script=$1

	if [[ -x $script ]]; then
		inv_timeout "./$script"
	else
		echo "note: $script is not executable; running it with bash"
		inv_timeout bash "$script"
	fi
}

#
# inv_finish: stop the cluster, print the summary and the final count, and
# exit: 0 when no suite failed, 1 otherwise.  The count must be the very last line.
#
inv_finish()
{
	local i

	inv_cluster_stop
	echo
	echo "==== summary ($((SECONDS - inv_started))s) ===="
	for i in "${!inv_names[@]}"; do
		printf '%-20s %s\n' "${inv_names[i]}" "${inv_results[i]}"
	done
	echo "$inv_passed passed, $inv_failed failed"
	((inv_failed == 0)) && exit 0
	exit 1
}

#
# Set-up.  Missing dependencies or a cluster that will not start fail the
# run as one suite, since nothing else could be tested.
#
if ! inv_install_deps; then
	inv_names+=(dependencies)
	inv_results+=(FAILED)
	inv_failed=1
	inv_finish
fi

inv_suite build inv_suite_build
if ((inv_failed > 0)); then
	echo "the build failed; no other suite can run"
	inv_finish
fi

if ! inv_cluster_start; then
	inv_names+=(cluster)
	inv_results+=(FAILED)
	inv_failed=$((inv_failed + 1))
	inv_finish
fi

#
# The suites.
#
inv_suite regress inv_suite_regress regress
inv_suite isolation inv_suite_regress isolation
inv_suite pgtap inv_suite_pgtap

# Sorted bytewise, whatever the locale.
while IFS= read -r run_sh; do
	suite=$(basename "$(dirname "$run_sh")")
	[[ $suite == lib ]] && continue
	inv_suite "$suite" inv_suite_script "$run_sh"
done < <(find test -mindepth 2 -maxdepth 2 -name run.sh -type f | LC_ALL=C sort)

inv_finish
