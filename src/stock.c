/*-------------------------------------------------------------------------
 *
 * stock.c
 *		Stock adjustments: a new stock level, or a change by a signed delta.
 *
 * An adjustment locks the product's stock row, checks it against what the
 * caller expects and against what is reserved, and writes the new level;
 * the ledger trigger records it with its reason.  Refusals leave everything
 * as it was.
 *
 * A product whose stock is spread over several slots (slots.c) first has
 * its free units gathered into slot 0 under all its slots' locks, taken in
 * slot order; the levels checked and reported are the product's, summed
 * over its slots, and the change lands on slot 0.
 *
 * Copyright (c) 2026, the inventory authors
 *
 * IDENTIFICATION
 *		src/stock.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "common/int.h"
#include "fmgr.h"
#include "funcapi.h"
#include "utils/builtins.h"

#include "inventory.h"

PG_FUNCTION_INFO_V1(inv_adjust);

/*
 * inv_adjust(product, quantity, mode, reason, expected_level)
 *		Set a product's stock level (mode 'set') or change it by a signed
 *		quantity (mode 'delta'); return the stock before and after.
 *
 * With expected_level, the adjustment applies only if the stock level is
 * still the one the caller read, so that a stock take does not overwrite
 * the orders that came in since.  The new level may not fall below what is
 * reserved, except for made-to-order products, which reserve without stock.
 */
Datum
inv_adjust(PG_FUNCTION_ARGS)
{
	static InvPlan lock_slot = {
		"SELECT stock_level, reserved, committed, made_to_order "
		"FROM inventory.stock_slot "
		"WHERE supplier_id = $1 AND product_id = $2 AND slot = 0 "
		"FOR NO KEY UPDATE",
		2, {INT8OID, INT8OID}, NULL
	};
	static InvPlan totals = {
		"SELECT pg_catalog.sum(stock_level)::bigint, "
		"pg_catalog.sum(reserved)::bigint, pg_catalog.sum(committed)::bigint "
		"FROM inventory.stock_slot WHERE supplier_id = $1 AND product_id = $2",
		2, {INT8OID, INT8OID}, NULL
	};
	static InvPlan update_level = {
		"UPDATE inventory.stock_slot SET stock_level = $3 "
		"WHERE supplier_id = $1 AND product_id = $2 AND slot = 0",
		3, {INT8OID, INT8OID, INT8OID}, NULL
	};
	int64		quantity;
	const char *mode;
	bool		is_set;
	InvChange	change = {0};
	int64		supplier_id;
	int64		product_id;
	int64		level_before;
	int64		level_after;
	int64		reserved;
	int64		committed;
	bool		made_to_order;
	bool		isnull;
	int			nslots;
	int64		other_slots_level = 0;
	Datum		args[3];
	TupleDesc	result_desc;
	Datum		result[6];
	bool		result_nulls[6] = {false};

	/* Check the arguments before touching anything */
	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("product must not be null")));
	if (PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_INV_INVALID_QUANTITY),
				 errmsg("quantity must not be null")));
	quantity = PG_GETARG_INT64(1);
	mode = PG_ARGISNULL(2) ? "delta" : text_to_cstring(PG_GETARG_TEXT_PP(2));
	if (strcmp(mode, "set") == 0)
		is_set = true;
	else if (strcmp(mode, "delta") == 0)
		is_set = false;
	else
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid adjustment mode \"%s\"", mode),
				 errhint("Use \"set\" for a new stock level or \"delta\" for a signed change.")));
	if (is_set && quantity < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INV_INVALID_QUANTITY),
				 errmsg("stock level cannot be negative"),
				 errdetail("The new level given was " INT64_FORMAT ".", quantity)));
	change.kind = is_set ? "set" : "adjust";
	if (!PG_ARGISNULL(3))
		change.reason = text_to_cstring(PG_GETARG_TEXT_PP(3));

	if (get_call_result_type(fcinfo, NULL, &result_desc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "inv_adjust: return type must be a row type");

	SPI_connect();
	supplier_id = inv_get_supplier_id();
	product_id = inv_resolve_product_slots(supplier_id, fcinfo, 0, &nslots);

	/*
	 * Lock the stock row, all of them if several: orders queue here.  A
	 * product spread over several slots while we waited for slot 0 (which
	 * inv_set_slots locks first) is gathered then, so that the level set
	 * is the product's and not slot 0's alone.
	 */
	if (nslots > 1)
		(void) inv_slots_gather(supplier_id, product_id);
	args[0] = Int64GetDatum(supplier_id);
	args[1] = Int64GetDatum(product_id);
	inv_plan_run(&lock_slot, args, NULL, false, 0);
	if (SPI_processed != 1)
		inv_report_missing_slot(product_id);
	if (nslots == 1)
	{
		nslots = inv_product_slots(supplier_id, product_id);
		if (nslots > 1)
		{
			(void) inv_slots_gather(supplier_id, product_id);
			inv_plan_run(&lock_slot, args, NULL, false, 0);
			if (SPI_processed != 1)
				inv_report_missing_slot(product_id);
		}
	}
	level_before = inv_spi_int64(0, 1, &isnull);
	reserved = inv_spi_int64(0, 2, &isnull);
	committed = inv_spi_int64(0, 3, &isnull);
	made_to_order = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0],
											   SPI_tuptable->tupdesc, 4,
											   &isnull));

	/* The other slots hold only reserved units now: add them in */
	if (nslots > 1)
	{
		int64		slot0_level = level_before;

		inv_plan_run(&totals, args, NULL, false, 0);
		level_before = inv_spi_int64(0, 1, &isnull);
		reserved = inv_spi_int64(0, 2, &isnull);
		committed = inv_spi_int64(0, 3, &isnull);
		other_slots_level = level_before - slot0_level;
	}

	/* A stock take based on an old reading must not overwrite newer orders */
	if (!PG_ARGISNULL(4) && PG_GETARG_INT64(4) != level_before)
		ereport(ERROR,
				(errcode(ERRCODE_INV_STALE_STOCK_LEVEL),
				 errmsg("stock level of product " INT64_FORMAT " has changed", product_id),
				 errdetail("The adjustment expected a level of " INT64_FORMAT ", but it is now " INT64_FORMAT ".",
						   PG_GETARG_INT64(4), level_before),
				 errhint("Read the current level and decide again whether the adjustment applies.")));

	/* Work out the new level and whether the reservations still fit */
	if (is_set)
		level_after = quantity;
	else if (pg_add_s64_overflow(level_before, quantity, &level_after))
		ereport(ERROR,
				(errcode(ERRCODE_INV_INVALID_QUANTITY),
				 errmsg("stock level of product " INT64_FORMAT " would be out of range", product_id),
				 errdetail("Stock level is " INT64_FORMAT "; the change asked for " INT64_FORMAT ".",
						   level_before, quantity)));
	if (level_after < 0 || (!made_to_order && level_after < reserved))
		ereport(ERROR,
				(errcode(ERRCODE_INV_BELOW_RESERVED),
				 errmsg("cannot bring stock level of product " INT64_FORMAT " to " INT64_FORMAT,
						product_id, level_after),
				 errdetail("Stock level is " INT64_FORMAT ", of which " INT64_FORMAT " are reserved by open orders.",
						   level_before, made_to_order ? 0 : reserved),
				 errhint("A stock level cannot go below zero or below what is reserved; release reservations first if the stock is really gone.")));

	/* Write it; an unchanged level writes nothing, not even a ledger row */
	if (level_after != level_before)
	{
		args[2] = Int64GetDatum(level_after - other_slots_level);
		inv_plan_run_change(&update_level, args, NULL, &change);
	}

	SPI_finish();

	/* Report the stock before and after */
	result[0] = Int64GetDatum(product_id);
	result[1] = Int64GetDatum(level_before);
	result[2] = Int64GetDatum(level_after);
	result[3] = Int64GetDatum(reserved);
	result[4] = Int64GetDatum(level_after - reserved);
	result_nulls[4] = made_to_order;	/* not limited by stock */
	result[5] = Int64GetDatum(committed);
	result_desc = BlessTupleDesc(result_desc);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(result_desc, result,
													  result_nulls)));
}
