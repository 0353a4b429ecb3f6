#!/usr/bin/env bash
#
# bench/privileges/run.sh
#	What SECURITY DEFINER with a pinned search_path costs the order path.
#
# Starts its own cluster (test/lib/common.sh) with two databases side by
# side: "base", where the functions are put back as 1.0 had them (running
# as the caller, C functions without a search_path of their own), and
# "ours", as version 1.1 installs them.  One session then reserves
# and releases lines (two calls, each writing a stock row and a ledger row)
# in a loop inside one session, PAIRS pairs a round, against each database
# in turn for ROUNDS rounds, and prints every round's time per pair and the
# ratio ours/base of the fastest rounds.  Run it under flock:
#
#	flock /tmp/inventory-bench.lock bash bench/privileges/run.sh [ROUNDS [PAIRS]]
#

set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=SCRIPTDIR/../../test/lib/common.sh
source "$root/test/lib/common.sh"

rounds=${1:-7}
work=$(mktemp -d)
inv_exit_trap_add "rm -rf $work"

inv_cluster_start "synchronous_commit = off" >/dev/null
for db in base ours; do
	inv_new_db "$db" 1
	inv_psql -q -d "$db" >/dev/null <<-'SQL'
		INSERT INTO inventory.product (sku) VALUES ('BENCH');
		SELECT inventory.inv_adjust('BENCH', 1000000, 'set');
	SQL
done
inv_psql -q -d base >/dev/null <<-'SQL'
	DO $$
	DECLARE
		f regprocedure;
	BEGIN
		FOR f IN SELECT p.oid FROM pg_proc p
				 WHERE p.pronamespace = 'inventory'::regnamespace AND p.prosecdef LOOP
			EXECUTE format('ALTER FUNCTION %s SECURITY INVOKER', f);
		END LOOP;
		FOR f IN SELECT p.oid FROM pg_proc p JOIN pg_language l ON l.oid = p.prolang
				 WHERE p.pronamespace = 'inventory'::regnamespace
				   AND l.lanname = 'c' AND p.proconfig IS NOT NULL LOOP
			EXECUTE format('ALTER FUNCTION %s RESET search_path', f);
		END LOOP;
	END
	$$;
SQL

# One round: PAIRS reserve+release pairs in one session, timed inside the
# server; the fastest round of each side is the least disturbed by the
# other work on the machine.
pairs=${2:-2000}
round_us()
{
	inv_psql -q -d "$1" -c "
		DO \$\$
		DECLARE
			t0 timestamptz := clock_timestamp();
			rid bigint;
		BEGIN
			FOR i IN 1..$pairs LOOP
				SELECT reservation_id INTO rid
				FROM inventory.inv_reserve('B-$2-' || i, 'BENCH'::text, 1::bigint);
				PERFORM inventory.inv_release(rid);
			END LOOP;
			RAISE NOTICE 'us_per_pair=%',
				round((extract(epoch FROM clock_timestamp() - t0) * 1e6 / $pairs)::numeric, 1);
		END
		\$\$" 2>&1 | sed -n 's/.*us_per_pair=//p'
}

echo "round base_us_per_pair ours_us_per_pair"
best_base="" best_ours=""
for ((r = 1; r <= rounds; r++)); do
	b=$(round_us base "$r")
	o=$(round_us ours "$r")
	echo "$r $b $o"
	best_base=$(awk -v a="$b" -v m="${best_base:-1e18}" 'BEGIN { print (a < m ? a : m) }')
	best_ours=$(awk -v a="$o" -v m="${best_ours:-1e18}" 'BEGIN { print (a < m ? a : m) }')
done
awk -v a="$best_base" -v b="$best_ours" 'BEGIN {
	printf "fastest round: base %s us, ours %s us per reserve+release pair; ratio ours/base %.3f\n", a, b, b / a }'
