#!/usr/bin/env bash
#
# test/dump/run.sh
#	A tenant database survives pg_dump and pg_restore.
#
# Fills a database (every table the extension keeps, a retailer mapping,
# grants of its own on the extension's objects, inventory.* settings of the
# database), dumps it with pg_dump -Fc, and restores it three ways:
#
#	two steps	the schema first, then the data with triggers disabled
#	one step	pg_restore with session_replication_role = replica, which
#			keeps every trigger (and foreign-key check) from firing
#	--create	one step, into a database of the same name after the
#			original is dropped, which also brings its settings
#
# Each restored database must hold every table row for row, the same
# privileges (ACLs of the schema, tables, columns and functions, and which
# functions run with raised rights), a clean inv_verify(), and go on
# working: new products, orders and ledger rows continue the restored
# numbering, and a member of inventory_service can order.  A plain one-step
# pg_restore, with the triggers firing, must fail loudly rather than
# restore something else.
#
# Contract (test/run_all.sh): PGHOST, PGPORT and PGUSER (a superuser) point
# at a server with the extension installed; prints one line per check;
# exits 0 only if every check passed.

set -u

here=$(cd "$(dirname "$0")" && pwd)
pgbin=/usr/lib/postgresql/15/bin
[ -x "$pgbin/pg_dump" ] || pgbin=$(pg_config --bindir)
src=inv_dump_source
work=$(mktemp -d)
app_role=inv_dump_app
failed=0
n=0

cleanup()
{
	local db

	for db in "$src" inv_dump_two inv_dump_one inv_dump_plain; do
		"$pgbin/dropdb" --if-exists "$db" >/dev/null 2>&1
	done
	"$pgbin/psql" -X -q -d postgres -c "DROP ROLE IF EXISTS $app_role" \
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
# check_restored DB HOW: the checks every restored database must pass.
#
check_restored()
{
	local db=$1 how=$2 out verify

	q "$db" -f "$here/fingerprint.sql" >"$work/$db.txt"
	if diff "$work/source.txt" "$work/$db.txt" >/dev/null; then
		ok "$how: all $(wc -l <"$work/source.txt") tables restored row for row ($(awk -F'|' '{n += $2} END {print n}' "$work/source.txt") rows)"
	else
		not_ok "$how: restored tables differ"
		diff "$work/source.txt" "$work/$db.txt" | sed 's/^/# /'
	fi

	q "$db" -f "$here/privileges.sql" >"$work/$db.acl"
	if diff "$work/source.acl" "$work/$db.acl" >/dev/null; then
		ok "$how: the same privileges and settings ($(wc -l <"$work/source.acl") objects)"
	else
		not_ok "$how: restored privileges or settings differ"
		diff "$work/source.acl" "$work/$db.acl" | sed 's/^/# /'
	fi

	verify=$(q "$db" -c "SELECT count(*) FROM inventory.inv_verify()")
	if [ "$verify" = 0 ]; then
		ok "$how: inv_verify() is clean after the restore"
	else
		not_ok "$how: inv_verify() reports $verify rows after the restore"
	fi

	# Numbering goes on where it stopped, and the order path still works,
	# for a member of the service role too (separate statements: the
	# checks must see what the reservations wrote)
	out=$(q "$db" -c "INSERT INTO inventory.product (sku) VALUES ('NEW')" \
		-c "SELECT reservation_id FROM inventory.inv_reserve('O-5', 'CUP', 1)" \
		-c "SET ROLE $app_role" \
		-c "SELECT reservation_id FROM inventory.inv_reserve('O-6', 'CUP', 1)" \
		-c "RESET ROLE" \
		-c "SELECT (SELECT max(product_id) FROM inventory.product) > 4,
			(SELECT reservation_id FROM inventory.reservation WHERE order_ref = 'O-5')
				> (SELECT max(reservation_id) FROM inventory.reservation WHERE order_ref NOT IN ('O-5', 'O-6')),
			(SELECT count(*) FROM inventory.ledger WHERE order_ref = 'O-5') = 1,
			(SELECT db_user FROM inventory.ledger WHERE order_ref = 'O-6') = '$app_role',
			(SELECT count(*) FROM inventory.inv_verify()) = 0" 2>&1 | tail -n 1)
	if [ "$out" = "t|t|t|t|t" ]; then
		ok "$how: new products, reservations and ledger rows continue the restored numbering; the service role orders"
	else
		not_ok "$how: after the restore: $out"
	fi
}

# The source: data in every table, grants and settings of its own
"$pgbin/dropdb" --if-exists "$src" >/dev/null 2>&1
"$pgbin/createdb" "$src" || exit 1
q postgres -c "SET client_min_messages = warning" \
	-c "DROP ROLE IF EXISTS $app_role" -c "CREATE ROLE $app_role NOLOGIN" \
	>/dev/null || exit 1
q "$src" -c "CREATE EXTENSION inventory" -f "$here/populate.sql" >/dev/null || exit 1
q postgres -c "GRANT inventory_service TO $app_role" >/dev/null || exit 1
q "$src" >/dev/null <<-SQL || exit 1
	INSERT INTO inventory.retailer_role (role_name, retailer_id) VALUES ('$app_role', 'vip');
	GRANT SELECT ON inventory.stock TO $app_role;
	GRANT SELECT (sku, name) ON inventory.product TO $app_role;
	GRANT EXECUTE ON FUNCTION inventory.inv_verify() TO $app_role;
	REVOKE SELECT ON inventory.holiday FROM inventory_reader;
	ALTER DATABASE $src SET inventory.reservation_timeout = '20min';
SQL
q "$src" -f "$here/fingerprint.sql" >"$work/source.txt"
q "$src" -f "$here/privileges.sql" >"$work/source.acl"
if ! grep -q "inventory.reservation_timeout=20min" "$work/source.acl" ||
	! grep -q "relation|stock|.*$app_role=r/" "$work/source.acl"; then
	not_ok "the source does not hold the grants and settings to compare"
	cat "$work/source.acl" | sed 's/^/# /'
	exit 1
fi

if "$pgbin/pg_dump" -Fc -d "$src" -f "$work/tenant.dump"; then
	ok "pg_dump -Fc of a populated tenant"
else
	not_ok "pg_dump failed"
	exit 1
fi

# Two steps: schema, then data with triggers disabled
"$pgbin/createdb" inv_dump_two || exit 1
if "$pgbin/pg_restore" --schema-only -d inv_dump_two "$work/tenant.dump" &&
	"$pgbin/pg_restore" --data-only --disable-triggers -d inv_dump_two "$work/tenant.dump"; then
	ok "two steps: pg_restore --schema-only, then --data-only --disable-triggers"
	# Database settings are not part of a restore into an existing database
	q inv_dump_two -c "ALTER DATABASE inv_dump_two SET inventory.reservation_timeout = '20min'"
	check_restored inv_dump_two "two steps"
else
	not_ok "two steps: the restore failed"
fi

# One step, with the triggers kept quiet by session_replication_role
"$pgbin/createdb" inv_dump_one || exit 1
if PGOPTIONS='-c session_replication_role=replica' \
	"$pgbin/pg_restore" -d inv_dump_one "$work/tenant.dump"; then
	ok "one step: pg_restore with session_replication_role = replica"
	q inv_dump_one -c "ALTER DATABASE inv_dump_one SET inventory.reservation_timeout = '20min'"
	check_restored inv_dump_one "one step"
else
	not_ok "one step: the restore failed"
fi

# A plain one-step restore runs the rows through the triggers: it must fail
"$pgbin/createdb" inv_dump_plain || exit 1
if "$pgbin/pg_restore" -d inv_dump_plain "$work/tenant.dump" >"$work/plain.log" 2>&1; then
	not_ok "a plain one-step pg_restore (triggers firing) succeeded; the README says it fails"
else
	ok "a plain one-step pg_restore, with the triggers firing, fails loudly ($(grep -c 'error:' "$work/plain.log") errors)"
fi

# --create: the source is dropped and comes back with its settings
q "$src" -c "SELECT 1" >/dev/null
"$pgbin/dropdb" "$src" || exit 1
if PGOPTIONS='-c session_replication_role=replica' \
	"$pgbin/pg_restore" --create -d postgres "$work/tenant.dump"; then
	ok "--create: one step into a database of the original name, after dropping it"
	check_restored "$src" "--create"
else
	not_ok "--create: the restore failed"
fi

exit $failed
