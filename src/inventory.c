/*-------------------------------------------------------------------------
 *
 * inventory.c
 *		Module entry point, settings, and the tenant's supplier id.
 *
 * A tenant database belongs to one supplier.  Its id lives in the one-row
 * table inventory.config; every function that touches stock needs it, so it
 * is read once per transaction and kept in a backend-local cache keyed by
 * the local transaction id.  It cannot change under a running transaction
 * except through inv_configure, which clears the cache itself.
 *
 * Copyright (c) 2026, the inventory authors
 *
 * IDENTIFICATION
 *		src/inventory.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <limits.h>

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "storage/proc.h"
#include "utils/guc.h"

#include "inventory.h"

PG_MODULE_MAGIC;

/* GUC variables */
int			inv_reservation_timeout = 900;
char	   *inv_actor = NULL;
char	   *inv_reason = NULL;

/* Supplier id cache: valid while cached_supplier_lxid is the current one */
static int64 cached_supplier_id = 0;
static LocalTransactionId cached_supplier_lxid = InvalidLocalTransactionId;

void		_PG_init(void);

PG_FUNCTION_INFO_V1(inv_supplier_id);
PG_FUNCTION_INFO_V1(inv_configure);

/*
 * Module load callback: define the settings.  None of them needs the library
 * to be preloaded.
 */
void
_PG_init(void)
{
	DefineCustomIntVariable("inventory.reservation_timeout",
							"Time a reservation holds stock before it expires.",
							"A reservation not confirmed or released within "
							"this time is released by inv_expire().",
							&inv_reservation_timeout,
							900,
							1,
							INT_MAX / 1000,
							PGC_USERSET,
							GUC_UNIT_S,
							NULL,
							NULL,
							NULL);

	DefineCustomStringVariable("inventory.actor",
							   "Application user recorded in the ledger for the changes that follow.",
							   "Set it, usually with SET LOCAL, to the person "
							   "or service on whose behalf the database user acts.",
							   &inv_actor,
							   "",
							   PGC_USERSET,
							   0,
							   NULL,
							   NULL,
							   NULL);

	DefineCustomStringVariable("inventory.reason",
							   "Reason recorded in the ledger for direct changes to stock rows.",
							   "Functions that take a reason argument record "
							   "that instead.",
							   &inv_reason,
							   "",
							   PGC_USERSET,
							   0,
							   NULL,
							   NULL,
							   NULL);

	MarkGUCPrefixReserved("inventory");
}

/*
 * inv_get_supplier_id
 *		Return the supplier id of this tenant database.
 *
 * Raises IV009 if the extension has not been configured yet.  The caller
 * must be connected to SPI.
 */
int64
inv_get_supplier_id(void)
{
	static InvPlan read_config = {
		"SELECT supplier_id FROM inventory.config",
		0, {0}, NULL
	};
	bool		isnull;

	/* One look-up per transaction is enough */
	if (cached_supplier_lxid == MyProc->lxid && cached_supplier_id > 0)
		return cached_supplier_id;

	inv_plan_run(&read_config, NULL, NULL, true, 1);
	if (SPI_processed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INV_NOT_CONFIGURED),
				 errmsg("inventory is not configured for this database"),
				 errdetail("No supplier id has been set."),
				 errhint("Call inventory.inv_configure(supplier_id) once, as the extension's owner.")));

	cached_supplier_id = inv_spi_int64(0, 1, &isnull);
	cached_supplier_lxid = MyProc->lxid;
	return cached_supplier_id;
}

/*
 * inv_supplier_id()
 *		SQL-callable form of inv_get_supplier_id, used as the default of the
 *		supplier_id columns.
 */
Datum
inv_supplier_id(PG_FUNCTION_ARGS)
{
	int64		supplier_id;

	SPI_connect();
	supplier_id = inv_get_supplier_id();
	SPI_finish();

	PG_RETURN_INT64(supplier_id);
}

/*
 * inv_configure(supplier_id)
 *		Set the supplier this database belongs to and return it.
 *
 * Setting the same id again is a no-op.  A different id is accepted only
 * while no product exists, since every row and every lock key carries it.
 */
Datum
inv_configure(PG_FUNCTION_ARGS)
{
	static InvPlan upsert_config = {
		"INSERT INTO inventory.config AS c (supplier_id) VALUES ($1) "
		"ON CONFLICT (singleton) DO UPDATE "
		"SET supplier_id = EXCLUDED.supplier_id, "
		"configured_at = pg_catalog.now() "
		"WHERE c.supplier_id <> EXCLUDED.supplier_id "
		"RETURNING supplier_id",
		1, {INT8OID}, NULL
	};
	static InvPlan any_product = {
		"SELECT supplier_id FROM inventory.product LIMIT 1",
		0, {0}, NULL
	};
	int64		supplier_id;
	Datum		values[1];

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("supplier id must not be null")));
	supplier_id = PG_GETARG_INT64(0);
	if (supplier_id <= 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("supplier id must be a positive number"),
				 errdetail("The value given was " INT64_FORMAT ".", supplier_id)));

	SPI_connect();

	/*
	 * Refuse a change of supplier here with a clear message; the trigger on
	 * inventory.config enforces the same rule for direct updates.
	 */
	inv_plan_run(&any_product, NULL, NULL, false, 1);
	if (SPI_processed > 0)
	{
		bool		isnull;
		int64		existing = inv_spi_int64(0, 1, &isnull);

		if (existing != supplier_id)
			ereport(ERROR,
					(errcode(ERRCODE_INV_ALREADY_CONFIGURED),
					 errmsg("inventory is already configured for supplier " INT64_FORMAT,
							existing),
					 errdetail("Products of supplier " INT64_FORMAT " exist in this database.",
							   existing),
					 errhint("A tenant database holds the stock of one supplier.")));
	}

	values[0] = Int64GetDatum(supplier_id);
	inv_plan_run(&upsert_config, values, NULL, false, 0);
	cached_supplier_lxid = InvalidLocalTransactionId;

	SPI_finish();

	PG_RETURN_INT64(supplier_id);
}
