/*-------------------------------------------------------------------------
 *
 * ledger.c
 *		The stock ledger: its writer trigger and its append-only guard.
 *
 * inv_ledger_record fires after every row change of inventory.stock_slot and
 * appends one ledger row holding the before and after of each quantity, so
 * that summing a slot's ledger rows gives its current stock whatever made
 * the changes.  The extension's own functions announce the kind of change,
 * the reason and the order through the change context of spi_util.c; a
 * change made by plain SQL is recorded as "direct", with the reason taken
 * from the inventory.reason setting.  A row whose quantities did not change
 * (for instance when only its made-to-order flag moved) writes nothing.
 *
 * Copyright (c) 2026, the inventory authors
 *
 * IDENTIFICATION
 *		src/ledger.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/rel.h"

#include "inventory.h"

PG_FUNCTION_INFO_V1(inv_ledger_record);
PG_FUNCTION_INFO_V1(inv_ledger_append_only);

/* The quantities of a stock slot that the ledger follows */
typedef struct InvSlotQuantities
{
	int64		supplier_id;
	int64		product_id;
	int16		slot;
	int64		stock_level;
	int64		reserved;
	int64		committed;
} InvSlotQuantities;

/*
 * inv_slot_column
 *		A named bigint or smallint column of a stock_slot tuple.
 */
static int64
inv_slot_column(HeapTuple tuple, TupleDesc tupdesc, const char *name)
{
	int			attnum = SPI_fnumber(tupdesc, name);
	bool		isnull;
	Datum		value;

	value = SPI_getbinval(tuple, tupdesc, attnum, &isnull);
	if (isnull)
		elog(ERROR, "stock_slot.%s is null", name);
	if (TupleDescAttr(tupdesc, attnum - 1)->atttypid == INT2OID)
		return DatumGetInt16(value);
	return DatumGetInt64(value);
}

/*
 * inv_read_slot
 *		Read the ledger's fields out of a stock_slot tuple.
 */
static void
inv_read_slot(HeapTuple tuple, TupleDesc tupdesc, InvSlotQuantities *slot)
{
	slot->supplier_id = inv_slot_column(tuple, tupdesc, "supplier_id");
	slot->product_id = inv_slot_column(tuple, tupdesc, "product_id");
	slot->slot = (int16) inv_slot_column(tuple, tupdesc, "slot");
	slot->stock_level = inv_slot_column(tuple, tupdesc, "stock_level");
	slot->reserved = inv_slot_column(tuple, tupdesc, "reserved");
	slot->committed = inv_slot_column(tuple, tupdesc, "committed");
}

/*
 * inv_nonempty
 *		A GUC string as a text datum, or null when it is empty.
 */
static Datum
inv_nonempty(const char *value, char *null_flag)
{
	if (value == NULL || value[0] == '\0')
	{
		*null_flag = 'n';
		return (Datum) 0;
	}
	*null_flag = ' ';
	return CStringGetTextDatum(value);
}

/*
 * inv_ledger_record()
 *		AFTER ROW trigger on inventory.stock_slot that appends to the ledger.
 */
Datum
inv_ledger_record(PG_FUNCTION_ARGS)
{
	static InvPlan insert_ledger = {
		"INSERT INTO inventory.ledger (supplier_id, product_id, slot, db_user, "
		"actor, kind, stock_level_before, stock_level_after, reserved_before, "
		"reserved_after, committed_before, committed_after, reason, order_ref, "
		"reservation_id) "
		"VALUES ($1, $2, $3, $4::pg_catalog.name, $5, $6, $7, $8, $9, $10, "
		"$11, $12, $13, $14, $15)",
		15, {INT8OID, INT8OID, INT2OID, TEXTOID, TEXTOID, TEXTOID,
			INT8OID, INT8OID, INT8OID, INT8OID, INT8OID, INT8OID,
		TEXTOID, TEXTOID, INT8OID}, NULL
	};
	TriggerData *trigdata = (TriggerData *) fcinfo->context;
	TupleDesc	tupdesc;
	InvSlotQuantities before = {0};
	InvSlotQuantities after = {0};
	const InvChange *change = inv_current_change();
	Datum		values[15];
	char		nulls[15];

	/* Make sure it is fired as it was declared */
	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("inv_ledger_record() was not called by the trigger manager")));
	if (TRIGGER_FIRED_BY_TRUNCATE(trigdata->tg_event))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("cannot truncate the inventory stock table"),
				 errdetail("Every change of stock must reach the ledger."),
				 errhint("Set stock levels to zero with inventory.inv_adjust(), or delete the products.")));
	if (!TRIGGER_FIRED_FOR_ROW(trigdata->tg_event) ||
		!TRIGGER_FIRED_AFTER(trigdata->tg_event))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("inv_ledger_record() must be fired after each row")));

	/* Read the row as it was and as it is; a missing side counts as zero */
	tupdesc = trigdata->tg_relation->rd_att;
	if (TRIGGER_FIRED_BY_INSERT(trigdata->tg_event))
	{
		inv_read_slot(trigdata->tg_trigtuple, tupdesc, &after);
		before.supplier_id = after.supplier_id;
		before.product_id = after.product_id;
		before.slot = after.slot;
	}
	else if (TRIGGER_FIRED_BY_DELETE(trigdata->tg_event))
	{
		inv_read_slot(trigdata->tg_trigtuple, tupdesc, &before);
		after.supplier_id = before.supplier_id;
		after.product_id = before.product_id;
		after.slot = before.slot;
	}
	else
	{
		inv_read_slot(trigdata->tg_trigtuple, tupdesc, &before);
		inv_read_slot(trigdata->tg_newtuple, tupdesc, &after);

		/* The ledger follows a slot by its key: the key cannot move */
		if (before.supplier_id != after.supplier_id ||
			before.product_id != after.product_id ||
			before.slot != after.slot)
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("cannot move stock between products or slots by updating a stock row"),
					 errhint("Adjust each product's stock with inventory.inv_adjust() instead.")));
	}

	/* Nothing the ledger follows has moved: nothing to record */
	if (before.stock_level == after.stock_level &&
		before.reserved == after.reserved &&
		before.committed == after.committed)
		return PointerGetDatum(NULL);

	/* Describe the change */
	memset(nulls, ' ', sizeof(nulls));
	values[0] = Int64GetDatum(after.supplier_id);
	values[1] = Int64GetDatum(after.product_id);
	values[2] = Int16GetDatum(after.slot);
	values[3] = CStringGetTextDatum(inv_caller_name());
	values[4] = inv_ledger_actor(&nulls[4]);
	values[5] = CStringGetTextDatum(change ? change->kind : "direct");
	values[6] = Int64GetDatum(before.stock_level);
	values[7] = Int64GetDatum(after.stock_level);
	values[8] = Int64GetDatum(before.reserved);
	values[9] = Int64GetDatum(after.reserved);
	values[10] = Int64GetDatum(before.committed);
	values[11] = Int64GetDatum(after.committed);
	values[12] = inv_nonempty(change ? change->reason : inv_reason, &nulls[12]);
	values[13] = inv_nonempty(change ? change->order_ref : NULL, &nulls[13]);
	values[14] = Int64GetDatum(change ? change->reservation_id : 0);
	if (change == NULL || change->reservation_id == 0)
		nulls[14] = 'n';

	/* Append it */
	SPI_connect();
	inv_plan_run(&insert_ledger, values, nulls, false, 0);
	SPI_finish();

	return PointerGetDatum(NULL);
}

/*
 * inv_ledger_append_only()
 *		BEFORE UPDATE/DELETE row trigger and BEFORE TRUNCATE statement trigger
 *		on inventory.ledger: only a superuser may rewrite history.
 */
Datum
inv_ledger_append_only(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;
	const char *operation;

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("inv_ledger_append_only() was not called by the trigger manager")));
	if (!TRIGGER_FIRED_BEFORE(trigdata->tg_event))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("inv_ledger_append_only() must be fired before the change")));

	if (superuser())
	{
		if (!TRIGGER_FIRED_FOR_ROW(trigdata->tg_event))
			return PointerGetDatum(NULL);
		return PointerGetDatum(TRIGGER_FIRED_BY_UPDATE(trigdata->tg_event) ?
							   trigdata->tg_newtuple : trigdata->tg_trigtuple);
	}

	if (TRIGGER_FIRED_BY_UPDATE(trigdata->tg_event))
		operation = "update";
	else if (TRIGGER_FIRED_BY_DELETE(trigdata->tg_event))
		operation = "delete from";
	else
		operation = "truncate";

	ereport(ERROR,
			(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
			 errmsg("cannot %s the inventory ledger", operation),
			 errdetail("The ledger is append-only: it is the history of every stock change."),
			 errhint("Record a correcting change instead, for example with inventory.inv_adjust().")));
	return PointerGetDatum(NULL);	/* keep compiler quiet */
}
