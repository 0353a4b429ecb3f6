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
