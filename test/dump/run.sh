#!/usr/bin/env bash
#
# test/dump/run.sh
#	A tenant database survives pg_dump and pg_restore.
#
# Fills a database (every table the extension keeps), dumps it with pg_dump
# -Fc, and restores it into a fresh database the way the README says: the
# schema first, then the data with triggers disabled, so that rows are
# loaded as they were instead of being checked, logged and completed by the
# extension's triggers a second time.  Every table must come back row for
# row, inv_verify() must be clean, and new products, orders and ledger rows
# must continue the restored numbering.
#
# Contract (test/run_all.sh): PGHOST, PGPORT and PGUSER (a superuser) point
# at a server with the extension installed; prints one line per check;
# exits 0 only if every check passed.

set -u

here=$(cd "$(dirname "$0")" && pwd)
pgbin=/usr/lib/postgresql/15/bin
[ -x "$pgbin/pg_dump" ] || pgbin=$(pg_config --bindir)
src=inv_dump_source
dst=inv_dump_restored
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failed=0

q() { "$pgbin/psql" -X -q -At -v ON_ERROR_STOP=1 -d "$1" "${@:2}"; }

for db in "$src" "$dst"; do
	"$pgbin/dropdb" --if-exists "$db" >/dev/null 2>&1
	"$pgbin/createdb" "$db" || exit 1
done
q "$src" -c "CREATE EXTENSION inventory" -f "$here/populate.sql" >/dev/null || exit 1

# Dump, then restore: schema first, data second with triggers disabled
if "$pgbin/pg_dump" -Fc -d "$src" -f "$work/tenant.dump" &&
	"$pgbin/pg_restore" --schema-only -d "$dst" "$work/tenant.dump" &&
	"$pgbin/pg_restore" --data-only --disable-triggers -d "$dst" "$work/tenant.dump"; then
	echo "ok 1 - pg_dump -Fc, then pg_restore --schema-only and --data-only --disable-triggers"
else
	echo "not ok 1 - the dump or the restore failed"
	exit 1
fi

# Every table comes back as it was
q "$src" -f "$here/fingerprint.sql" >"$work/source.txt"
q "$dst" -f "$here/fingerprint.sql" >"$work/restored.txt"
if diff "$work/source.txt" "$work/restored.txt" >/dev/null; then
	echo "ok 2 - all $(wc -l <"$work/source.txt") tables restored row for row ($(awk -F'|' '{n += $2} END {print n}' "$work/source.txt") rows)"
else
	echo "not ok 2 - restored tables differ"
	diff "$work/source.txt" "$work/restored.txt" | sed 's/^/# /'
	failed=1
fi

verify=$(q "$dst" -c "SELECT count(*) FROM inventory.inv_verify()")
if [ "$verify" = 0 ]; then
	echo "ok 3 - inv_verify() is clean after the restore"
else
	echo "not ok 3 - inv_verify() reports $verify rows after the restore"
	failed=1
fi

# Numbering goes on where it stopped, and the order path still works
# (separate statements: the checks must see what the reservation wrote)
out=$(q "$dst" -c "INSERT INTO inventory.product (sku) VALUES ('NEW')" \
	-c "SELECT reservation_id FROM inventory.inv_reserve('O-5', 'CUP', 1)" \
	-c "SELECT (SELECT max(product_id) FROM inventory.product) > 4,
		(SELECT reservation_id FROM inventory.reservation WHERE order_ref = 'O-5')
			> (SELECT max(reservation_id) FROM inventory.reservation WHERE order_ref <> 'O-5'),
		(SELECT count(*) FROM inventory.ledger WHERE order_ref = 'O-5') = 1,
		(SELECT count(*) FROM inventory.inv_verify()) = 0" 2>&1 | tail -n 1)
if [ "$out" = "t|t|t|t" ]; then
	echo "ok 4 - new products, reservations and ledger rows continue the restored numbering"
else
	echo "not ok 4 - after the restore: $out"
	failed=1
fi

for db in "$src" "$dst"; do
	"$pgbin/dropdb" "$db" >/dev/null 2>&1
done
exit $failed
