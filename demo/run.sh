#!/usr/bin/env bash
#
# demo/run.sh
#	The extension's main job, end to end, on a private throwaway cluster.
#
# A supplier (id 1) loads its catalogue, takes stock, receives and writes
# off a few units, and then a web shop throws a burst of concurrent
# checkouts at it with pgbench: each reserves 1-3 units of a product (best
# sellers are picked far more often), about 80% are paid and confirmed, the
# rest are declined and released; the best sellers run out, so some
# checkouts are turned away.  A warehouse run dispatches some paid orders,
# a few abandoned carts expire and a few are left open.  The demo ends with
# the stock, the tail of the ledger, the reservations per state and
# inv_verify(), and fails if the books do not balance.
#
# The catalogue is the simple products of the Magento sample data
# (../shared/data/magento_sample_products.csv beside the project root, or
# $INV_DATA_DIR) when present: 1847 products, 20 units each.  Otherwise
# 200 products are generated, 150 units each (about as many units in all),
# so that both runs end alike: most checkouts confirmed, some released, a
# minority turned away, a handful of products sold out, stock left on the
# rest.
#
# The burst is throttled to DEMO_RATE checkouts a second (pgbench -R), so it
# asks for at most DEMO_RATE * DEMO_SECONDS checkouts however fast the
# machine is; an unthrottled burst on a fast machine would empty the shelves.
#
# Environment: DEMO_CLIENTS (16), DEMO_SECONDS (10), DEMO_RATE (1200; 0 for
# no limit), DEMO_OPENING_STOCK (20 for the Magento catalogue, 150 for the
# generated one), and the knobs of test/lib/common.sh.  Needs root or the
# packages already installed and a writable PostgreSQL library directory.
#

# inv_build_install and inv_cluster_start take no arguments here.
# shellcheck disable=SC2119

set -euo pipefail

cd "$(dirname "$0")/.."
# shellcheck source=SCRIPTDIR/../test/lib/common.sh
source test/lib/common.sh

DEMO_DB=inventory_demo
DEMO_SUPPLIER=1
DEMO_CLIENTS=${DEMO_CLIENTS:-16}
DEMO_SECONDS=${DEMO_SECONDS:-10}
DEMO_RATE=${DEMO_RATE:-1200}
# Empty: chosen below, once we know which catalogue was loaded.
DEMO_OPENING_STOCK=${DEMO_OPENING_STOCK:-}
# The generated catalogue, when the sample data is absent.
DEMO_GENERATED_PRODUCTS=200
DEMO_GENERATED_STOCK=150
DEMO_CSV=$INV_DATA_DIR/magento_sample_products.csv
demo_failures=0

#
# demo_step TITLE: start a section of the output.
#
demo_step()
{
	echo
	echo "== $* =="
}

#
# demo_sql ARG...: psql on the demo database, aligned output, no pager.
#
demo_sql()
{
	inv_psql -d "$DEMO_DB" -P pager=off "$@"
}

#
# demo_value SQL: the single value SQL returns.
#
demo_value()
{
	inv_psql -d "$DEMO_DB" -At -c "$1"
}

#
# demo_fail MESSAGE: note a failed check; the demo goes on to print the rest
# and exits non-zero at the end.
#
demo_fail()
{
	echo "FAILED: $*"
	demo_failures=$((demo_failures + 1))
}

demo_started=$SECONDS
demo_tmp=$(mktemp -d "${TMPDIR:-/tmp}/inventory-demo.XXXXXX")
inv_exit_trap_add "rm -rf '$demo_tmp'"

#
# Dependencies, build, cluster and database.
#
demo_step "dependencies, build and install"
inv_install_deps
if ! inv_build_install >"$demo_tmp/build.log" 2>&1; then
	cat "$demo_tmp/build.log"
	inv_die "the build failed"
fi
echo "built and installed into $(pg_config --pkglibdir)"

demo_step "private cluster"
inv_cluster_start	# also stops it on exit
echo "PostgreSQL $(inv_psql -At -c 'SHOW server_version') on port $PGPORT," \
	"socket in $PGHOST"

demo_step "database $DEMO_DB for supplier $DEMO_SUPPLIER"
inv_new_db "$DEMO_DB" "$DEMO_SUPPLIER"
inv_psql -q -d "$DEMO_DB" -f demo/demo.sql
echo "extension $(demo_value "SELECT extversion FROM pg_extension
	WHERE extname = 'inventory'") configured for supplier" \
	"$(demo_value 'SELECT inventory.inv_supplier_id()');" \
	"demo helpers loaded from demo/demo.sql"

#
# Catalogue.
#
demo_step "catalogue"
if [[ -r $DEMO_CSV ]]; then
	# Stage the whole file, all of its columns as text, named after its
	# header; then keep the simple (stock-keeping) products.
	demo_sql -q -v header="$(head -n 1 "$DEMO_CSV")" <<-'SQL'
		SELECT format('CREATE TABLE demo.magento_product (%s)',
					  string_agg(format('%I text', col), ', ' ORDER BY ord))
		FROM unnest(string_to_array(:'header', ',')) WITH ORDINALITY
			AS h(col, ord)
		\gexec
	SQL
	demo_sql -q -c "\\copy demo.magento_product FROM pstdin WITH (FORMAT csv, HEADER true)" \
		<"$DEMO_CSV"
	demo_sql -q <<-'SQL'
		INSERT INTO inventory.product (sku, name, low_stock_threshold)
		SELECT DISTINCT ON (sku) sku, name, 5
		FROM demo.magento_product
		WHERE product_type = 'simple'
		ORDER BY sku;
	SQL
	DEMO_OPENING_STOCK=${DEMO_OPENING_STOCK:-20}
	echo "$DEMO_CSV:" \
		"$(demo_value "SELECT format('%s rows, %s columns staged; %s simple products loaded',
			(SELECT count(*) FROM demo.magento_product),
			(SELECT count(*) FROM pg_attribute
			 WHERE attrelid = 'demo.magento_product'::regclass
			   AND attnum > 0 AND NOT attisdropped),
			(SELECT count(*) FROM inventory.product))")"
else
	DEMO_OPENING_STOCK=${DEMO_OPENING_STOCK:-$DEMO_GENERATED_STOCK}
	echo "$DEMO_CSV not found: generating $DEMO_GENERATED_PRODUCTS products" \
		"instead"
	demo_sql -q <<-SQL
		INSERT INTO inventory.product (sku, name, low_stock_threshold)
		SELECT format('DEMO-%s', lpad(i::text, 4, '0')),
			   format('Demo product %s', i), 5
		FROM generate_series(1, $DEMO_GENERATED_PRODUCTS) AS i;
	SQL
fi
# The cycle count finds two units fewer than the opening stock take.
demo_recount=$((DEMO_OPENING_STOCK >= 2 ? DEMO_OPENING_STOCK - 2 : 0))
demo_nproducts=$(demo_value 'SELECT demo.fill_shelf()')
demo_sql -c "SELECT product_id, sku, name, stock_level, available
	FROM inventory.stock ORDER BY product_id LIMIT 5"

#
# Stock take and a few movements.
#
demo_step "opening stock take: $DEMO_OPENING_STOCK units of every product"
demo_sql -q -c "SET inventory.actor = 'warehouse'" -c "
	SELECT count(*) AS products_counted, sum(a.stock_level) AS units_on_hand
	FROM demo.shelf s,
		 LATERAL inventory.inv_adjust(s.product_id, $DEMO_OPENING_STOCK,
									  'set', 'opening stock take') a"

demo_step "stock movements"
# The moves are listed first (MATERIALIZED) so that inv_adjust runs exactly
# once per move, whatever join order the planner picks.
demo_sql -q -c "SET inventory.actor = 'warehouse'" -c "
	WITH move AS MATERIALIZED (
		SELECT m.*, s.product_id, p.sku
		FROM (VALUES
				(1, 'delivery +30', 30::bigint, 'delta', 'delivery from manufacturer', NULL::bigint),
				(2, 'delivery +30', 30, 'delta', 'delivery from manufacturer', NULL),
				(3, 'delivery +30', 30, 'delta', 'delivery from manufacturer', NULL),
				(4, 'damaged -2', -2, 'delta', 'damaged in warehouse', NULL),
				(5, 'damaged -2', -2, 'delta', 'damaged in warehouse', NULL),
				(6, 'damaged -2', -2, 'delta', 'damaged in warehouse', NULL),
				(7, 'recount = $demo_recount', $demo_recount, 'set', 'cycle count', $DEMO_OPENING_STOCK)
			 ) AS m(position, movement, quantity, mode, reason, expected_level)
		JOIN demo.shelf s USING (position)
		JOIN inventory.product p USING (product_id)
	)
	SELECT move.sku, move.movement, a.stock_level_before, a.stock_level,
		   a.available
	FROM move,
		 LATERAL inventory.inv_adjust(move.product_id, move.quantity,
									  move.mode, move.reason,
									  move.expected_level) a
	ORDER BY move.position"

#
# The burst.
#
demo_jobs=$(nproc)
if ((demo_jobs > DEMO_CLIENTS)); then
	demo_jobs=$DEMO_CLIENTS
fi
# At most DEMO_RATE checkouts a second in all, so at most DEMO_RATE *
# DEMO_SECONDS checkouts (12000 by default) whatever the machine's speed:
# the opening stock is sized for that many.  A slower machine asks for
# fewer and turns fewer away.
demo_rate_args=()
if ((DEMO_RATE > 0)); then
	demo_rate_args=(-R "$DEMO_RATE")
	demo_step "checkout burst: $DEMO_CLIENTS clients for ${DEMO_SECONDS}s," \
		"at most $DEMO_RATE checkouts/s"
else
	demo_step "checkout burst: $DEMO_CLIENTS clients for ${DEMO_SECONDS}s"
fi
# timeout: pgbench -T stops by itself; this only guards against a hang.
if ! timeout -k 10 $((DEMO_SECONDS + 120)) \
	pgbench -n -c "$DEMO_CLIENTS" -j "$demo_jobs" -T "$DEMO_SECONDS" \
	"${demo_rate_args[@]}" \
	-D nproducts="$demo_nproducts" -f demo/orders.pgbench "$DEMO_DB"; then
	demo_fail "pgbench reported errors (see above)"
fi

demo_step "warehouse ships the 100 oldest paid orders"
demo_sql -q -c "SET inventory.actor = 'warehouse'" -c "
	SELECT count(*) AS dispatched, sum(t.quantity) AS units
	FROM (SELECT reservation_id FROM inventory.reservation
		  WHERE state = 'confirmed'
		  ORDER BY reservation_id LIMIT 100) r,
		 LATERAL inventory.inv_dispatch(r.reservation_id) t
	WHERE t.changed"

demo_step "carts: five abandoned (1 s hold, then inv_expire), three left open"
# Carts go to products that still have stock, picked before any reserving;
# when the burst sold everything there may be fewer.
demo_carts=$(inv_psql -d "$DEMO_DB" -At -q \
	-c "SET inventory.actor = 'web shop'" \
	-c "SET inventory.reservation_timeout = 1" -c "
	WITH cart AS MATERIALIZED (
		SELECT product_id, sku FROM inventory.stock
		WHERE available >= 1
		ORDER BY available DESC, sku COLLATE \"C\" LIMIT 5)
	SELECT count(*) FROM cart,
		 LATERAL inventory.inv_reserve('CART-' || cart.sku, cart.product_id, 1) r")
echo "abandoned carts: $demo_carts"
sleep 2
demo_sql -q -c "SET inventory.actor = 'expiry job'" \
	-c "SELECT inventory.inv_expire() AS expired"
demo_carts=$(inv_psql -d "$DEMO_DB" -At -q \
	-c "SET inventory.actor = 'web shop'" -c "
	WITH cart AS MATERIALIZED (
		SELECT product_id, sku FROM inventory.stock
		WHERE available >= 2
		ORDER BY available DESC, sku COLLATE \"C\" LIMIT 3)
	SELECT count(*) FROM cart,
		 LATERAL inventory.inv_reserve('CART-OPEN-' || cart.sku,
									   cart.product_id, 2) r")
echo "carts left open: $demo_carts"

#
# Results.
#
demo_step "stock summary"
demo_sql -c "
	SELECT count(*) AS products,
		   sum(stock_level) AS stock_level,
		   sum(reserved) AS reserved,
		   sum(available) AS available,
		   sum(committed) AS committed,
		   count(*) FILTER (WHERE available = 0) AS sold_out,
		   count(*) FILTER (WHERE available <= low_stock_threshold)
			   AS low_stock
	FROM inventory.stock"
echo "best sellers:"
demo_sql -c "
	SELECT s.sku, left(s.name, 36) AS name, sold.units AS sold,
		   s.stock_level, s.reserved, s.available, s.committed
	FROM inventory.stock s
	JOIN (SELECT product_id, sum(quantity) AS units
		  FROM inventory.reservation
		  WHERE state IN ('confirmed', 'dispatched')
		  GROUP BY product_id) sold USING (product_id)
	ORDER BY sold.units DESC, s.sku COLLATE \"C\"
	LIMIT 10"
echo "most stock left:"
demo_sql -c "
	SELECT sku, left(name, 36) AS name, stock_level, reserved, available,
		   committed
	FROM inventory.stock
	ORDER BY available DESC, sku COLLATE \"C\"
	LIMIT 5"
echo "checkouts turned away (IV002), by product:"
demo_sql -c "
	SELECT p.sku, count(*) AS rejected, sum(r.quantity) AS units_asked
	FROM demo.rejection r
	JOIN inventory.product p USING (product_id)
	GROUP BY p.sku
	ORDER BY count(*) DESC, p.sku COLLATE \"C\"
	LIMIT 5"

demo_step "last 15 ledger rows"
demo_sql -c "
	SELECT l.ledger_id, p.sku, l.kind, l.actor,
		   l.stock_level_before || '->' || l.stock_level_after AS stock,
		   l.reserved_before || '->' || l.reserved_after AS reserved,
		   l.committed_before || '->' || l.committed_after AS committed,
		   l.order_ref, l.reason
	FROM (SELECT * FROM inventory.ledger
		  ORDER BY ledger_id DESC LIMIT 15) l
	JOIN inventory.product p USING (supplier_id, product_id)
	ORDER BY l.ledger_id"

demo_step "reservations per state"
demo_sql -c "
	SELECT state::text, count(*) AS reservations, sum(quantity) AS units
	FROM inventory.reservation
	GROUP BY state
	UNION ALL
	SELECT 'rejected (IV002, no reservation)', count(*),
		   coalesce(sum(quantity), 0)
	FROM demo.rejection
	ORDER BY 1"

demo_step "checks"
# Every unit the warehouse put in is either still on hand or was sold:
# per product, the set/delta movements in the ledger equal the stock level
# plus the units of confirmed and dispatched reservations.
demo_unbalanced=$(demo_value "
	SELECT count(*)
	FROM inventory.stock s
	LEFT JOIN (SELECT product_id,
					  sum(stock_level_after - stock_level_before) AS units
			   FROM inventory.ledger
			   WHERE kind IN ('set', 'adjust')
			   GROUP BY product_id) supplied USING (product_id)
	LEFT JOIN (SELECT product_id, sum(quantity) AS units
			   FROM inventory.reservation
			   WHERE state IN ('confirmed', 'dispatched')
			   GROUP BY product_id) sold USING (product_id)
	WHERE coalesce(supplied.units, 0)
		  <> s.stock_level + coalesce(sold.units, 0)")
if [[ $demo_unbalanced == 0 ]]; then
	echo "units: every product's deliveries = stock on hand + units sold"
else
	demo_fail "units: $demo_unbalanced product(s) do not balance"
fi

# What is reserved and committed must match the open reservations.
demo_mismatched=$(demo_value "
	SELECT count(*)
	FROM inventory.stock s
	LEFT JOIN (SELECT product_id,
					  sum(quantity) FILTER (WHERE state = 'reserved') AS reserved,
					  sum(quantity) FILTER (WHERE state = 'confirmed') AS committed
			   FROM inventory.reservation
			   GROUP BY product_id) r USING (product_id)
	WHERE s.reserved <> coalesce(r.reserved, 0)
	   OR s.committed <> coalesce(r.committed, 0)
	   OR s.available < 0")
if [[ $demo_mismatched == 0 ]]; then
	echo "reservations: reserved and committed match them, nothing oversold"
else
	demo_fail "reservations: $demo_mismatched product(s) disagree with them"
fi

if [[ $(demo_value 'SELECT count(*) FROM inventory.inv_verify()') == 0 ]]; then
	echo "inv_verify: clean"
else
	demo_sql -c 'SELECT * FROM inventory.inv_verify()'
	demo_fail "inv_verify reported discrepancies"
fi

inv_cluster_stop
echo
if ((demo_failures > 0)); then
	echo "demo finished with $demo_failures failed check(s)" \
		"in $((SECONDS - demo_started))s"
	exit 1
fi
echo "demo finished in $((SECONDS - demo_started))s"
