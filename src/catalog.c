/*-------------------------------------------------------------------------
 *
 * catalog.c
 *		Finding the product a caller names, by id or by SKU.
 *
 * The SQL functions that take a product come in two forms, one with a
 * bigint product id and one with a text SKU, bound to the same C function;
 * the argument's declared type tells them apart.
 *
 * Copyright (c) 2026, the inventory authors
 *
 * IDENTIFICATION
 *		src/catalog.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "utils/builtins.h"

#include "inventory.h"

/*
 * inv_product_by_id
 *		Return product_id if the supplier has such a product; raise IV001 if
 *		not.  The caller must be connected to SPI.
 */
int64
inv_product_by_id(int64 supplier_id, int64 product_id)
{
	static InvPlan find_by_id = {
		"SELECT product_id FROM inventory.product "
		"WHERE supplier_id = $1 AND product_id = $2",
		2, {INT8OID, INT8OID}, NULL
	};
	Datum		values[2];

	values[0] = Int64GetDatum(supplier_id);
	values[1] = Int64GetDatum(product_id);
	inv_plan_run(&find_by_id, values, NULL, false, 1);

	if (SPI_processed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INV_UNKNOWN_PRODUCT),
				 errmsg("product " INT64_FORMAT " does not exist", product_id),
				 errdetail("Supplier " INT64_FORMAT " has no product with that id.",
						   supplier_id),
				 errhint("Products are listed in inventory.product.")));
	return product_id;
}

/*
 * inv_product_by_sku
 *		Return the id of the supplier's product with the given SKU; raise
 *		IV001 if there is none.  The caller must be connected to SPI.
 */
int64
inv_product_by_sku(int64 supplier_id, const char *sku)
{
	static InvPlan find_by_sku = {
		"SELECT product_id FROM inventory.product "
		"WHERE supplier_id = $1 AND sku = $2",
		2, {INT8OID, TEXTOID}, NULL
	};
	Datum		values[2];
	bool		isnull;

	values[0] = Int64GetDatum(supplier_id);
	values[1] = CStringGetTextDatum(sku);
	inv_plan_run(&find_by_sku, values, NULL, false, 1);

	if (SPI_processed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INV_UNKNOWN_PRODUCT),
				 errmsg("product with SKU \"%s\" does not exist", sku),
				 errdetail("Supplier " INT64_FORMAT " has no product with that SKU.",
						   supplier_id),
				 errhint("SKUs are compared exactly, including case and spaces.")));
	return inv_spi_int64(0, 1, &isnull);
}

/*
 * inv_resolve_product
 *		Return the id of the product named by argument argno of the calling
 *		SQL function, which is either a bigint id or a text SKU.
 *
 * The argument must not be null.  The caller must be connected to SPI.
 */
int64
inv_resolve_product(int64 supplier_id, FunctionCallInfo fcinfo, int argno)
{
	Oid			argtype = get_fn_expr_argtype(fcinfo->flinfo, argno);

	if (argtype == TEXTOID)
		return inv_product_by_sku(supplier_id,
								  TextDatumGetCString(PG_GETARG_DATUM(argno)));
	if (argtype == INT8OID)
		return inv_product_by_id(supplier_id, PG_GETARG_INT64(argno));

	elog(ERROR, "unexpected type %u for a product argument", argtype);
	return 0;					/* keep compiler quiet */
}

/*
 * inv_product_slots
 *		Return how many stock slots a product has, 0 if none: its highest
 *		slot number + 1, read from the end of the primary key (the slots
 *		are 0 .. n-1, but for surplus ones still waiting to be removed).
 *		The caller must be connected to SPI.
 */
int
inv_product_slots(int64 supplier_id, int64 product_id)
{
	static InvPlan last_slot = {
		"SELECT slot FROM inventory.stock_slot "
		"WHERE supplier_id = $1 AND product_id = $2 "
		"ORDER BY slot DESC LIMIT 1",
		2, {INT8OID, INT8OID}, NULL
	};
	Datum		values[2];
	bool		isnull;
	int			count = inv_stock_slot_count(supplier_id, product_id);

	/* Straight from the key's index when it can (stock_write.c) */
	if (count >= 0)
		return count;

	values[0] = Int64GetDatum(supplier_id);
	values[1] = Int64GetDatum(product_id);
	inv_plan_run(&last_slot, values, NULL, false, 1);
	if (SPI_processed == 0)
		return 0;
	return DatumGetInt16(SPI_getbinval(SPI_tuptable->vals[0],
									   SPI_tuptable->tupdesc, 1,
									   &isnull)) + 1;
}

/*
 * inv_resolve_product_slots
 *		inv_resolve_product for the order path, which also needs to know
 *		how many slots the product has (*nslots; at least 1).
 *
 * By id, one look-up answers both: a product with a stock slot exists,
 * since the slot references it, and only a product without any is looked
 * up in the product table.
 */
int64
inv_resolve_product_slots(int64 supplier_id, FunctionCallInfo fcinfo,
						  int argno, int *nslots)
{
	static InvPlan find_by_sku = {
		"SELECT p.product_id, (SELECT s.slot + 1 "
		"FROM inventory.stock_slot s WHERE s.supplier_id = p.supplier_id "
		"AND s.product_id = p.product_id ORDER BY s.slot DESC LIMIT 1) "
		"FROM inventory.product p WHERE p.supplier_id = $1 AND p.sku = $2",
		2, {INT8OID, TEXTOID}, NULL
	};
	Oid			argtype = get_fn_expr_argtype(fcinfo->flinfo, argno);
	int64		product_id;

	if (argtype == TEXTOID)
	{
		char	   *sku = TextDatumGetCString(PG_GETARG_DATUM(argno));
		Datum		values[2];
		bool		isnull;

		values[0] = Int64GetDatum(supplier_id);
		values[1] = CStringGetTextDatum(sku);
		inv_plan_run(&find_by_sku, values, NULL, false, 1);
		if (SPI_processed == 0)
			return inv_product_by_sku(supplier_id, sku);	/* raises IV001 */
		product_id = inv_spi_int64(0, 1, &isnull);
		*nslots = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0],
											  SPI_tuptable->tupdesc, 2,
											  &isnull));
		if (isnull)
			*nslots = 0;
	}
	else if (argtype == INT8OID)
	{
		product_id = PG_GETARG_INT64(argno);
		*nslots = inv_product_slots(supplier_id, product_id);
		if (*nslots == 0)
			(void) inv_product_by_id(supplier_id, product_id);
	}
	else
		elog(ERROR, "unexpected type %u for a product argument", argtype);

	/* A product whose slot was deleted by hand fails on slot 0 later */
	*nslots = Max(*nslots, 1);
	return product_id;
}

/*
 * inv_report_missing_slot
 *		Raise the error for a product whose stock row was deleted by hand.
 */
void
inv_report_missing_slot(int64 product_id)
{
	ereport(ERROR,
			(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
			 errmsg("product " INT64_FORMAT " has no stock row", product_id),
			 errdetail("Its row in inventory.stock_slot was deleted directly."),
			 errhint("Insert it again with INSERT INTO inventory.stock_slot (supplier_id, product_id) VALUES (inventory.inv_supplier_id(), " INT64_FORMAT ").",
					 product_id)));
}
