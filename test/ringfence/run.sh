#!/usr/bin/env bash
#
# test/ringfence/run.sh
#	A ring-fenced retailer and many others race for one product.
#
# 300 units, 60 ring-fenced for "vip" (priority 1) and 30 for "gold"; 64
# pgbench clients order 1-3 units and confirm at once, a quarter of them for
# vip, one in eight for gold, the rest for retailers without an allocation,
# until demand has far outrun stock.  Whatever the interleaving, the others
# may never get a ring-fenced unit: together they get at most 300 - 90, and
# vip and gold each get at least their ring-fence.  Confirmed units stay
# drawn until dispatch, so nothing here refills a fence.
#
# Contract (test/run_all.sh): PGHOST, PGPORT and PGUSER point at a server
# with the extension installed; prints one line per check; exits 0 only if
# every check passed.

set -u

here=$(cd "$(dirname "$0")" && pwd)
pgbin=/usr/lib/postgresql/15/bin
[ -x "$pgbin/pgbench" ] || pgbin=$(pg_config --bindir)
db=inv_ringfence_race
failed=0

"$pgbin/dropdb" --if-exists "$db" >/dev/null 2>&1
"$pgbin/createdb" "$db" || exit 1
"$pgbin/psql" -X -q -v ON_ERROR_STOP=1 -d "$db" -c "CREATE EXTENSION inventory" \
	-f "$here/setup.sql" >/dev/null || exit 1

# The race: 64 clients, 20 orders each (about 2,500 units asked for 300)
log=$(mktemp)
trap 'rm -f "$log"' EXIT
if ! timeout 300 "$pgbin/pgbench" -n -c 64 -j 2 -t 20 -f "$here/race.pgbench" "$db" >"$log" 2>&1; then
	echo "not ok 1 - pgbench ran the race without errors"
	cat "$log"
	exit 1
fi
if ! grep -q "number of failed transactions: 0" "$log"; then
	echo "not ok 1 - no transaction failed"
	grep -E "failed|aborted" "$log"
	exit 1
fi
echo "ok 1 - 64 clients raced for 300 units (1,280 orders, no failed transaction)"

# The verdict
read -r others others_fenced vip gold stock_left discrepancies < <(
	"$pgbin/psql" -X -qAt -F ' ' -d "$db" -f "$here/check.sql")

if [ "$others" -le 210 ] && [ "$others_fenced" -eq 0 ]; then
	echo "ok 2 - retailers without an allocation got $others units, none ring-fenced (at most 210 allowed)"
else
	echo "not ok 2 - retailers without an allocation got $others units, $others_fenced ring-fenced (at most 210, none fenced)"
	failed=1
fi
if [ "$vip" -ge 60 ] && [ "$gold" -ge 30 ]; then
	echo "ok 3 - vip got $vip units (fence 60), gold got $gold (fence 30)"
else
	echo "not ok 3 - vip got $vip units (fence 60), gold got $gold (fence 30)"
	failed=1
fi
if [ "$stock_left" -eq $((300 - others - vip - gold)) ] && [ "$discrepancies" -eq 0 ]; then
	echo "ok 4 - stock left $stock_left = 300 - sold; inv_verify() clean"
else
	echo "not ok 4 - stock left $stock_left, sold $((others + vip + gold)), inv_verify() rows $discrepancies"
	failed=1
fi

"$pgbin/dropdb" "$db" >/dev/null 2>&1
exit $failed
