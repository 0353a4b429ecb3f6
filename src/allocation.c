/*-------------------------------------------------------------------------
 *
 * allocation.c
 *		Stock ring-fenced for chosen retailers.
 *
 * An allocation holds G units of a product for one retailer.  Its drawn
 * count is the ring-fenced units in that retailer's reservations that have
 * not yet been released, expired, cancelled or dispatched, so that
 * held = max(0, G - drawn) units are still waiting for it.  The product's
 * stock row keeps ring_fenced, the sum of held over its allocations:
 *
 *	shared pool			  = max(0, available - ring_fenced)
 *	backed for retailer r = what of r's held the available stock covers,
 *							allocations taken by priority, then retailer id
 *	orderable by r		  = backed(r) + shared pool
 *
 * When stock covers every allocation, backed equals held; when it does not,
 * lower priority numbers keep their guarantee first and the shared pool is
 * empty.  A retailer's order draws on its own backed units first and then
 * on the shared pool; every other order draws on the shared pool only, which
 * is what keeps ring-fenced units from being taken by another retailer.
 *
 * Locking: the product's stock row is locked before any of its allocation
 * rows, by every function here and by the order functions that call them.
 *
 * Copyright (c) 2026, the inventory authors
 *
 * IDENTIFICATION
 *		src/allocation.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "fmgr.h"
#include "funcapi.h"
#include "utils/builtins.h"

#include "inventory.h"

PG_FUNCTION_INFO_V1(inv_set_allocation);

/*
 * inv_lock_stock_row
 *		Lock a product's stock row ahead of its allocations, and return its
 *		available quantity (stock level - reserved).  The caller must be
 *		connected to SPI.
 */
int64
inv_lock_stock_row(int64 supplier_id, int64 product_id)
{
	static InvPlan lock_slot = {
		"SELECT stock_level - reserved FROM inventory.stock_slot "
		"WHERE supplier_id = $1 AND product_id = $2 AND slot = 0 "
		"FOR NO KEY UPDATE",
		2, {INT8OID, INT8OID}, NULL
	};
	Datum		args[2];
	bool		isnull;

	args[0] = Int64GetDatum(supplier_id);
	args[1] = Int64GetDatum(product_id);
	inv_plan_run(&lock_slot, args, NULL, false, 1);
	if (SPI_processed != 1)
		inv_report_missing_slot(product_id);
	return inv_spi_int64(0, 1, &isnull);
}

/*
 * inv_fence_backed
 *		How many ring-fenced units the available stock backs for a retailer,
 *		or -1 if the retailer has no allocation for the product.
 *
 * available is the product's stock level - reserved.  The rule lives in
 * the SQL function of the same name, which the storefront uses too.  The
 * caller must hold the product's stock row lock and be connected to SPI.
 */
int64
inv_fence_backed(int64 supplier_id, int64 product_id, const char *retailer_id,
				 int64 available)
{
	static InvPlan backed = {
		"SELECT inventory.inv_fence_backed($1, $2, $3, $4)",
		4, {INT8OID, INT8OID, TEXTOID, INT8OID}, NULL
	};
	Datum		args[4];
	bool		isnull;
	int64		units;

	args[0] = Int64GetDatum(supplier_id);
	args[1] = Int64GetDatum(product_id);
	args[2] = CStringGetTextDatum(retailer_id);
	args[3] = Int64GetDatum(available);
	inv_plan_run(&backed, args, NULL, false, 1);
	units = inv_spi_int64(0, 1, &isnull);
	return isnull ? -1 : units;
}

/*
 * inv_fence_draw
 *		Record that a retailer's reservation drew units from its ring-fence.
 *		The caller must hold the stock row lock and adjust ring_fenced.
 */
void
inv_fence_draw(int64 supplier_id, int64 product_id, const char *retailer_id,
			   int64 units)
{
	static InvPlan draw = {
		"UPDATE inventory.allocation SET drawn = drawn + $4 "
		"WHERE supplier_id = $1 AND product_id = $2 AND retailer_id = $3",
		4, {INT8OID, INT8OID, TEXTOID, INT8OID}, NULL
	};
	Datum		args[4];

	args[0] = Int64GetDatum(supplier_id);
	args[1] = Int64GetDatum(product_id);
	args[2] = CStringGetTextDatum(retailer_id);
	args[3] = Int64GetDatum(units);
	inv_plan_run(&draw, args, NULL, false, 0);
}

/*
 * inv_fence_return
 *		A retailer's reservation gives its ring-fenced units back (it was
 *		released, expired, cancelled or dispatched); return by how much the
 *		units held for the retailer grew, for the stock row's ring_fenced.
 *
 * Locks the stock row first.  An allocation removed meanwhile gives
 * nothing back.  The caller must be connected to SPI.
 */
int64
inv_fence_return(int64 supplier_id, int64 product_id, const char *retailer_id,
				 int64 units)
{
	static InvPlan give_back = {
		"WITH before AS ("
		" SELECT quantity, drawn FROM inventory.allocation"
		" WHERE supplier_id = $1 AND product_id = $2 AND retailer_id = $3"
		" FOR UPDATE)"
		" UPDATE inventory.allocation a"
		" SET drawn = pg_catalog.int8larger(a.drawn - $4, 0)"
		" FROM before"
		" WHERE a.supplier_id = $1 AND a.product_id = $2 AND a.retailer_id = $3"
		" RETURNING pg_catalog.int8larger(a.quantity - a.drawn, 0)"
		"  - pg_catalog.int8larger(before.quantity - before.drawn, 0)",
		4, {INT8OID, INT8OID, TEXTOID, INT8OID}, NULL
	};
	Datum		args[4];
	bool		isnull;

	if (units <= 0 || retailer_id == NULL)
		return 0;
	(void) inv_lock_stock_row(supplier_id, product_id);

	args[0] = Int64GetDatum(supplier_id);
	args[1] = Int64GetDatum(product_id);
	args[2] = CStringGetTextDatum(retailer_id);
	args[3] = Int64GetDatum(units);
	inv_plan_run(&give_back, args, NULL, false, 0);
	if (SPI_processed == 0)
		return 0;
	return inv_spi_int64(0, 1, &isnull);
}

/*
 * inv_set_allocation(product, retailer_id, quantity, priority)
 *		Ring-fence quantity units of a product for a retailer (0 removes the
 *		allocation once nothing is drawn on it); return the units now held
 *		for the retailer and the product's shared pool.
 */
Datum
inv_set_allocation(PG_FUNCTION_ARGS)
{
	static InvPlan upsert = {
		"INSERT INTO inventory.allocation AS a (supplier_id, product_id,"
		" retailer_id, quantity, priority) VALUES ($1, $2, $3, $4, $5)"
		" ON CONFLICT (supplier_id, product_id, retailer_id)"
		" DO UPDATE SET quantity = EXCLUDED.quantity, priority = EXCLUDED.priority",
		5, {INT8OID, INT8OID, TEXTOID, INT8OID, INT4OID}, NULL
	};
	static InvPlan drop_unused = {
		"DELETE FROM inventory.allocation"
		" WHERE supplier_id = $1 AND product_id = $2 AND retailer_id = $3"
		" AND quantity = 0 AND drawn = 0",
		3, {INT8OID, INT8OID, TEXTOID}, NULL
	};
	static InvPlan refresh = {
		"UPDATE inventory.stock_slot s SET ring_fenced = COALESCE(("
		" SELECT pg_catalog.sum(pg_catalog.int8larger(a.quantity - a.drawn, 0))"
		" FROM inventory.allocation a"
		" WHERE a.supplier_id = $1 AND a.product_id = $2), 0)"
		" WHERE s.supplier_id = $1 AND s.product_id = $2 AND s.slot = 0"
		" RETURNING pg_catalog.int8larger(s.available - s.ring_fenced, 0)",
		2, {INT8OID, INT8OID}, NULL
	};
	char	   *retailer_id;
	int64		quantity;
	int32		priority;
	int64		supplier_id;
	int64		product_id;
	int64		available;
	int64		backed;
	int64		shared;
	bool		isnull;
	Datum		args[5];
	TupleDesc	result_desc;
	Datum		result[2];
	bool		result_nulls[2] = {false, false};

	/* Check the arguments */
	if (PG_ARGISNULL(0) || PG_ARGISNULL(1) || PG_ARGISNULL(2))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("product, retailer and quantity must not be null")));
	retailer_id = text_to_cstring(PG_GETARG_TEXT_PP(1));
	quantity = PG_GETARG_INT64(2);
	priority = PG_ARGISNULL(3) ? 100 : PG_GETARG_INT32(3);
	if (retailer_id[0] == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("retailer id must not be empty")));
	if (quantity < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INV_INVALID_QUANTITY),
				 errmsg("a ring-fence cannot be negative"),
				 errdetail("The quantity given was " INT64_FORMAT ".", quantity)));
	if (get_call_result_type(fcinfo, NULL, &result_desc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "inv_set_allocation: return type must be a row type");

	SPI_connect();
	supplier_id = inv_get_supplier_id();
	product_id = inv_resolve_product(supplier_id, fcinfo, 0);

	/* Stock row first, then the allocation, then the total held */
	available = inv_lock_stock_row(supplier_id, product_id);
	if (quantity > 0 && inv_product_slots(supplier_id, product_id) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_INV_SLOTS_WITH_ALLOCATION),
				 errmsg("product " INT64_FORMAT " has its stock spread over several slots",
						product_id),
				 errdetail("Ring-fenced units are checked on the product's slot 0 alone."),
				 errhint("Put its stock back on one slot with inventory.inv_set_slots(product, 1) first.")));
	args[0] = Int64GetDatum(supplier_id);
	args[1] = Int64GetDatum(product_id);
	args[2] = CStringGetTextDatum(retailer_id);
	args[3] = Int64GetDatum(quantity);
	args[4] = Int32GetDatum(priority);
	inv_plan_run(&upsert, args, NULL, false, 0);
	if (quantity == 0)
		inv_plan_run(&drop_unused, args, NULL, false, 0);
	inv_plan_run(&refresh, args, NULL, false, 0);
	shared = inv_spi_int64(0, 1, &isnull);
	backed = inv_fence_backed(supplier_id, product_id, retailer_id, available);

	SPI_finish();

	result[0] = Int64GetDatum(Max(backed, 0));
	result[1] = Int64GetDatum(shared);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(result_desc),
													  result, result_nulls)));
}
