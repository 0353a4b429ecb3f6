#!/usr/bin/env bash
#
# test/bulk_catalog/run.sh
#	A real catalogue through the bulk loader: the Magento sample products.
#
# Creates the 1,994 Magento products, then loads stock files derived from
# the catalogue (derive.py; the source file is never changed): a stock take
# saved the way spreadsheets save it (BOM, CRLF, spaced header names, names
# with commas and quotes as reasons), the same again (which must change
# nothing), and a file whose reasons are the HTML descriptions, full of
# quoted newlines, with an unknown SKU at the end, whose physical line the
# report must name.  Skips (77) when ../shared/data has no Magento file.
#
# Contract (test/run_all.sh): PGHOST, PGPORT and PGUSER (a superuser) point
# at a server with the extension installed; prints one line per check;
# exits 0 only if every check passed.

set -u

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=SCRIPTDIR/../lib/common.sh
source "$here/../lib/common.sh"

magento=$INV_DATA_DIR/magento_sample_products.csv
if [[ ! -r $magento ]]; then
	echo "no $magento: skipped"
	exit 77
fi

db=inv_bulk_catalog
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# The server reads the files itself, possibly as another user
chmod 755 "$work"
failed=0
n=0

q() { psql -X -q -At -v ON_ERROR_STOP=1 -d "$db" "$@"; }
check()
{
	n=$((n + 1))
	if [[ $2 == "$3" ]]; then
		echo "ok $n - $1"
	else
		echo "not ok $n - $1: got \"$2\", expected \"$3\""
		failed=1
	fi
}

python3 "$here/derive.py" "$magento" "$work" || exit 1
chmod 644 "$work"/*
products=$(awk '$1 == "products" {print $2}' "$work/expected.txt")
nonzero=$(awk '$1 == "nonzero" {print $2}' "$work/expected.txt")
bad_line=$(awk '$1 == "bad_line" {print $2}' "$work/expected.txt")
bad_sku=$(awk '$1 == "bad_sku" {print $2}' "$work/expected.txt")

dropdb --if-exists "$db" >/dev/null 2>&1
inv_new_db "$db" 3 || exit 1
q -c "\\copy inventory.product (sku, name) FROM '$work/products.tsv'" || exit 1
check "the catalogue has every Magento product" \
	"$(q -c "SELECT count(*) FROM inventory.product")" "$products"

# The stock take, as a spreadsheet saves it
got=$(q -F' ' -c "SELECT applied, rows_read, changed, unchanged, rejected
	FROM inventory.inv_bulk_load_file('$work/stock.csv')")
check "stock take applied: every row read, the nonzero ones changed" \
	"$got" "t $products $nonzero $((products - nonzero)) 0"
check "one ledger row per changed product, all with the batch id" \
	"$(q -c "SELECT count(*) FILTER (WHERE batch_id = (SELECT max(batch_id) FROM inventory.bulk_load)),
		count(*) FROM inventory.ledger")" "$nonzero|$nonzero"
check "every product's stock is the file's quantity" \
	"$(python3 - "$work/stock.csv" <<'PY' | q -c "CREATE TEMP TABLE want (sku text, qty bigint)" -c "\\copy want FROM STDIN" -c "SELECT count(*) FROM want w JOIN inventory.stock s USING (sku) WHERE s.stock_level = w.qty"
import csv, sys
with open(sys.argv[1], newline='', encoding='utf-8-sig') as f:
    r = csv.reader(f)
    next(r)
    for sku, qty, mode, reason in r:
        print(f"{sku}\t{qty}")
PY
)" "$products"
check "a product's ledger reason is its name, commas and quotes included" \
	"$(q -c "SELECT count(*) FROM inventory.ledger l JOIN inventory.product p
		USING (supplier_id, product_id) WHERE l.reason = p.name")" "$nonzero"

# The same file again changes nothing and writes nothing
before=$(q -c "SELECT count(*) FROM inventory.ledger")
got=$(q -F' ' -c "SELECT applied, changed, unchanged
	FROM inventory.inv_bulk_load_file('$work/stock.csv')")
check "the same stock take again changes nothing" "$got" "t 0 $products"
check "... and writes no ledger row" \
	"$(q -c "SELECT count(*) FROM inventory.ledger")" "$before"

# Quoted newlines everywhere, and one unknown SKU on a known line
got=$(q -F' ' -c "SELECT applied, rows_read, rejected, (problems[1]).line,
	(problems[1]).sku, (problems[1]).problem
	FROM inventory.inv_bulk_load_file('$work/descr.csv', mode => 'delta')")
check "HTML descriptions as reasons: the unknown SKU's physical line is named" \
	"$got" "f $((products + 1)) 1 $bad_line $bad_sku unknown SKU"
check "... and nothing was applied" \
	"$(q -c "SELECT count(*) FROM inventory.ledger")" "$before"

# The text variant reads the same file the same way
got=$(q -F' ' -v csv="$(cat "$work/stock.csv")" <<'SQL'
SELECT applied, rows_read, changed, rejected FROM inventory.inv_bulk_load(:'csv', dry_run => true);
SQL
)
check "the text variant (psql variable) reads the same stock take" \
	"$got" "f $products 0 0"

check "inv_verify() is clean" "$(q -c "SELECT count(*) FROM inventory.inv_verify()")" 0

dropdb "$db" >/dev/null 2>&1
exit "$failed"
