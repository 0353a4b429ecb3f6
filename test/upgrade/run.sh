#!/usr/bin/env bash
#
# test/upgrade/run.sh
#	A tenant filled at version 1.0 keeps its data and behaviour through
#	ALTER EXTENSION inventory UPDATE.
#
# Installs the oldest version (CREATE EXTENSION inventory VERSION '1.0'),
# fills it through the 1.0 API (fill_1_0.sql), fingerprints every table
# column by column, updates to the default version, and checks that:
#
#	- the update reaches the control file's default_version;
#	- every row of every 1.0 column is as it was (columns the update adds
#	  are left out of the comparison);
#	- inv_verify() is clean before and after;
#	- the upgraded database is the same as a fresh install of the new
#	  version: functions (privileges, SECURITY DEFINER, settings, bodies),
#	  tables, columns, constraints, triggers, and the tables pg_dump keeps;
#	- orders made before the update go on: the open one confirms, the
#	  made-to-order one dispatches, a new order draws on the ring-fence,
#	  a fall below a threshold still raises an alert, and numbering goes on;
#	- a member of inventory_service orders on the upgraded database, and
#	  the ledger names it.
#
# Contract (test/run_all.sh): PGHOST, PGPORT and PGUSER (a superuser) point
# at a server with the extension installed; prints one line per check;
# exits 0 only if every check passed.

set -u

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
pgbin=/usr/lib/postgresql/15/bin
[ -x "$pgbin/psql" ] || pgbin=$(pg_config --bindir)
old=inv_upgrade_old
fresh=inv_upgrade_fresh
role=inv_upgrade_app
work=$(mktemp -d)
failed=0
n=0

cleanup()
{
	"$pgbin/dropdb" --if-exists "$old" >/dev/null 2>&1
	"$pgbin/dropdb" --if-exists "$fresh" >/dev/null 2>&1
	"$pgbin/psql" -X -q -d postgres -c "DROP ROLE IF EXISTS $role" \
		>/dev/null 2>&1
	rm -rf "$work"
}
trap cleanup EXIT

q() { "$pgbin/psql" -X -q -At -v ON_ERROR_STOP=1 -d "$1" "${@:2}"; }

ok() { n=$((n + 1)); echo "ok $n - $1"; }
not_ok()
{
	n=$((n + 1))
	echo "not ok $n - $1"
	failed=1
}

#
# check NAME EXPECTED ACTUAL: one check comparing two strings.
#
check()
{
	if [ "$2" = "$3" ]; then
		ok "$1"
	else
		not_ok "$1"
		echo "#   expected: $2"
		echo "#   got:      $3"
	fi
}

target=$(sed -n "s/^default_version = '\(.*\)'/\1/p" "$root/inventory.control")
cleanup
work=$(mktemp -d)

# Version 1.0, filled through its own API
"$pgbin/createdb" "$old" || exit 1
if ! q "$old" -c "CREATE EXTENSION inventory VERSION '1.0'" \
	-f "$here/fill_1_0.sql" >"$work/fill.log" 2>&1; then
	not_ok "installing and filling version 1.0"
	sed 's/^/# /' "$work/fill.log"
	exit 1
fi
check "version 1.0 installed and filled through the 1.0 API" \
	"1.0|0" "$(q "$old" -c "SELECT extversion, (SELECT count(*) FROM inventory.inv_verify()) FROM pg_extension WHERE extname = 'inventory'")"

q "$old" -f "$here/fingerprint.sql" >"$work/fingerprint_query.sql"
q "$old" -f "$work/fingerprint_query.sql" >"$work/before.txt"
next_ledger=$(q "$old" -c "SELECT max(ledger_id) FROM inventory.ledger")

# The update
if q "$old" -c "ALTER EXTENSION inventory UPDATE" >"$work/update.log" 2>&1; then
	ok "ALTER EXTENSION inventory UPDATE on a filled 1.0 database"
else
	not_ok "ALTER EXTENSION inventory UPDATE failed"
	sed 's/^/# /' "$work/update.log"
	exit 1
fi
check "the update reaches the default version" \
	"$target" "$(q "$old" -c "SELECT extversion FROM pg_extension WHERE extname = 'inventory'")"

q "$old" -f "$work/fingerprint_query.sql" >"$work/after.txt"
if diff "$work/before.txt" "$work/after.txt" >/dev/null; then
	ok "every 1.0 table kept every row of its 1.0 columns ($(wc -l <"$work/before.txt") tables, $(awk -F'|' '{n += $2} END {print n}' "$work/before.txt") rows)"
else
	not_ok "table contents changed in the update"
	diff "$work/before.txt" "$work/after.txt" | sed 's/^/# /'
fi
check "inv_verify() is clean after the update" \
	"0" "$(q "$old" -c "SELECT count(*) FROM inventory.inv_verify()")"

# The same as a fresh install
"$pgbin/createdb" "$fresh" || exit 1
q "$fresh" -c "CREATE EXTENSION inventory" >/dev/null || exit 1
q "$old" -f "$here/catalog.sql" >"$work/old.catalog"
q "$fresh" -f "$here/catalog.sql" >"$work/fresh.catalog"
if [ -s "$work/fresh.catalog" ] &&
	diff "$work/fresh.catalog" "$work/old.catalog" >/dev/null; then
	ok "the upgraded database matches a fresh install ($(wc -l <"$work/fresh.catalog") catalog entries)"
else
	not_ok "the upgraded database differs from a fresh install (< fresh, > upgraded)"
	diff "$work/fresh.catalog" "$work/old.catalog" | sed 's/^/# /'
fi

# Orders from before the update go on
out=$(q "$old" \
	-c "SELECT state FROM inventory.inv_confirm_order('U-3')" \
	-c "SELECT state FROM inventory.inv_confirm_order('U-4')" \
	-c "SELECT state FROM inventory.inv_dispatch_order('U-4')" \
	-c "SELECT fenced_quantity FROM inventory.inv_reserve('U-6', 'LAMP', 2, 'big-shop')" \
	-c "SELECT stock_level FROM inventory.inv_adjust('LAMP', -3, reason => 'broken')" \
	-c "SELECT string_agg(state::text, ',' ORDER BY order_ref) FROM inventory.reservation" 2>&1 | tr '\n' ' ')
check "the 1.0 orders confirm and dispatch, a new one draws on the ring-fence" \
	"confirmed confirmed dispatched 2 2 dispatched,dispatched,released,released,confirmed,dispatched,released,reserved " "$out"
check "a fall below a threshold still raises an alert" \
	"t" "$(q "$old" -c "SELECT count(*) > 0 FROM inventory.alert a JOIN inventory.product p USING (supplier_id, product_id) WHERE p.sku = 'LAMP' AND a.available < a.threshold")"
check "ledger numbering goes on, and inv_verify() stays clean" \
	"t|0" "$(q "$old" -c "SELECT min(ledger_id) > $next_ledger, (SELECT count(*) FROM inventory.inv_verify()) FROM inventory.ledger WHERE order_ref = 'U-6'")"

# The new privilege model holds on the upgraded database
q postgres -c "SET client_min_messages = warning" \
	-c "DROP ROLE IF EXISTS $role" -c "CREATE ROLE $role NOLOGIN IN ROLE inventory_service" \
	>/dev/null || exit 1
out=$(q "$old" -c "SET ROLE $role" \
	-c "SELECT quantity FROM inventory.inv_reserve('U-7', 'DESK', 1)" \
	-c "SELECT state FROM inventory.inv_release_order('U-7')" \
	-c "RESET ROLE" \
	-c "SELECT string_agg(DISTINCT db_user, ',') FROM inventory.ledger WHERE order_ref = 'U-7'" 2>&1 | tr '\n' ' ')
check "a member of inventory_service orders on the upgraded database; the ledger names it" \
	"1 released $role " "$out"
out=$(q "$old" -c "SET ROLE $role" -c "UPDATE inventory.stock_slot SET stock_level = 0" 2>&1 | grep -o 'permission denied[^"]*')
check "and cannot write the stock table directly" "permission denied for table stock_slot" "$out"

exit $failed
