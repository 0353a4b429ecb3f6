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
 * The trigger fires twice per order (reserve, confirm), so it writes its row
 * straight into the heap and the ledger's indexes instead of running an
 * INSERT: an executed INSERT re-reads the table's CHECK constraint from its
 * stored text, sets up an executor and queues a foreign key check, which
 * together cost more than the stock update that fired the trigger.  The
 * direct write keeps what the INSERT guarantees: the caller's INSERT
 * privilege is checked on every call, the identity column takes the next
 * value of its sequence, and the kinds written are those the CHECK allows.
 * The foreign key to the product needs no check: the stock row that fired
 * the trigger references the same product and is locked by this
 * transaction, so the product cannot go away before it commits.  CHECK
 * and NOT NULL constraints are tested on each row, and a row that fails one
 * goes to the INSERT, which reports it.  Whenever the ledger is not exactly
 * as this file knows it (other columns or column types, other defaults or
 * identity columns, another foreign key, triggers, row security, a
 * partition, an index on an expression or a partial one, an exclusion
 * constraint), for a row written while another row's checks run (a CHECK
 * whose function changes stock), and for deletions, the row goes through
 * the ordinary INSERT.
 *
 * Copyright (c) 2026, the inventory authors
 *
 * IDENTIFICATION
 *		src/ledger.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/heapam.h"
#include "access/table.h"
#include "catalog/dependency.h"
#include "catalog/index.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "catalog/pg_constraint.h"
#include "catalog/pg_index.h"
#include "catalog/pg_trigger.h"
#include "catalog/pg_type.h"
#include "commands/sequence.h"
#include "commands/trigger.h"
#include "executor/executor.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "nodes/execnodes.h"
#include "nodes/nodeFuncs.h"
#include "optimizer/optimizer.h"
#include "rewrite/rewriteHandler.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"

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

/* The ledger's columns, in table order, as the direct writer fills them */
#define INV_LEDGER_NATTS	18
static const char *const inv_ledger_columns[INV_LEDGER_NATTS] = {
	"supplier_id", "ledger_id", "product_id", "slot", "recorded_at",
	"db_user", "actor", "kind", "stock_level_before", "stock_level_after",
	"reserved_before", "reserved_after", "committed_before",
	"committed_after", "reason", "order_ref", "reservation_id", "batch_id"
};

/* Their types: a value is laid out for exactly these */
static const Oid inv_ledger_types[INV_LEDGER_NATTS] = {
	INT8OID, INT8OID, INT8OID, INT2OID, TIMESTAMPTZOID,
	NAMEOID, TEXTOID, TEXTOID, INT8OID, INT8OID,
	INT8OID, INT8OID, INT8OID,
	INT8OID, TEXTOID, TEXTOID, INT8OID, INT8OID
};

#define INV_LEDGER_ATT_SUPPLIER		1
#define INV_LEDGER_ATT_ID			2
#define INV_LEDGER_ATT_PRODUCT		3
#define INV_LEDGER_ATT_RECORDED_AT	5

/*
 * The ledger table and its identity sequence, looked up once per backend
 * and checked again on every use (the extension may have been dropped and
 * created anew since).
 */
static Oid	inv_ledger_relid = InvalidOid;
static Oid	inv_ledger_seqid = InvalidOid;
static bool inv_ledger_callback_set = false;

/*
 * What the direct write learnt of the ledger's definition.  Any change of
 * the table marks it stale and it is learnt again at the next write, never
 * in the middle of one, since the cache callback may run at any time.
 */
typedef struct InvLedgerShape
{
	MemoryContext cxt;
	bool		usable;			/* the table is as this file knows it */
	int			ncheck;
	ExprState **checks;			/* its CHECK constraints, prepared */
	TupleTableSlot *slot;		/* the new row, for the checks */
	ExprContext *econtext;
} InvLedgerShape;

static InvLedgerShape *inv_ledger_shape = NULL;
static bool inv_ledger_shape_stale = true;
static bool inv_ledger_shape_busy = false;	/* a row's checks are running */

/*
 * inv_ledger_forget
 *		Relation cache callback: forget the ledger's OIDs when it changes.
 */
static void
inv_ledger_forget(Datum arg, Oid relid)
{
	if (relid == InvalidOid || relid == inv_ledger_relid)
	{
		inv_ledger_relid = InvalidOid;
		inv_ledger_seqid = InvalidOid;
		inv_ledger_shape_stale = true;
	}
}

/*
 * inv_ledger_function_changed
 *		System cache callback on functions: a CHECK constraint may call one,
 *		and its prepared form may have inlined the old body.
 */
static void
inv_ledger_function_changed(Datum arg, int cacheid, uint32 hashvalue)
{
	inv_ledger_shape_stale = true;
}

/*
 * inv_slot_column
 *		A named integer column of a stock_slot tuple.
 */
static int64
inv_slot_column(HeapTuple tuple, TupleDesc tupdesc, const char *name)
{
	int			attnum = SPI_fnumber(tupdesc, name);
	bool		isnull;
	Datum		value;
	Oid			type;

	if (attnum <= 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("the inventory stock table has no column \"%s\"", name),
				 errdetail("The ledger records that column of every change."),
				 errhint("Give the column back its name, or reinstall the extension.")));
	type = TupleDescAttr(tupdesc, attnum - 1)->atttypid;
	if (type != INT8OID && type != INT4OID && type != INT2OID)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("column \"%s\" of the inventory stock table is of type %s",
						name, format_type_be(type)),
				 errdetail("The ledger records it as bigint."),
				 errhint("Give the column back its type, or reinstall the extension.")));
	value = SPI_getbinval(tuple, tupdesc, attnum, &isnull);
	if (isnull)
		elog(ERROR, "stock_slot.%s is null", name);
	if (type == INT2OID)
		return DatumGetInt16(value);
	if (type == INT4OID)
		return DatumGetInt32(value);
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
 * inv_ledger_product_key
 *		Whether a foreign key of the ledger is its reference to the product:
 *		(supplier_id, product_id), to the product table in its own schema.
 */
static bool
inv_ledger_product_key(Relation rel, Oid constraint)
{
	HeapTuple	tuple;
	Form_pg_constraint con;
	Oid			product;
	int16		conkey[2];
	int16		confkey[2];
	bool		ok;

	tuple = SearchSysCache1(CONSTROID, ObjectIdGetDatum(constraint));
	if (!HeapTupleIsValid(tuple))
		return false;
	con = (Form_pg_constraint) GETSTRUCT(tuple);
	product = get_relname_relid("product", RelationGetNamespace(rel));

	/* From the ledger's (supplier_id, product_id) to the product's */
	ok = con->contype == CONSTRAINT_FOREIGN && OidIsValid(product) &&
		con->confrelid == product &&
		inv_constraint_columns(tuple, Anum_pg_constraint_conkey, conkey) &&
		inv_constraint_columns(tuple, Anum_pg_constraint_confkey, confkey) &&
		conkey[0] == INV_LEDGER_ATT_SUPPLIER &&
		conkey[1] == INV_LEDGER_ATT_PRODUCT &&
		confkey[0] == get_attnum(product, "supplier_id") &&
		confkey[1] == get_attnum(product, "product_id");
	ReleaseSysCache(tuple);
	return ok;
}

/*
 * inv_ledger_recorded_now
 *		Whether recorded_at takes now() by default, as the direct write
 *		gives it.
 */
static bool
inv_ledger_recorded_now(Relation rel)
{
	Node	   *expr = build_column_default(rel, INV_LEDGER_ATT_RECORDED_AT);

	expr = strip_implicit_coercions(expr);
	return expr != NULL && IsA(expr, FuncExpr) &&
		((FuncExpr *) expr)->funcid == F_NOW;
}

/*
 * inv_ledger_learn
 *		Learn the ledger's definition from the open relation into a new
 *		inv_ledger_shape: whether the direct write may run, and its CHECK
 *		constraints prepared.
 */
static void
inv_ledger_learn(Relation rel)
{
	TupleDesc	tupdesc = RelationGetDescr(rel);
	InvLedgerShape *shape;
	MemoryContext old;
	ListCell   *lc;
	int			i;

	if (inv_ledger_shape != NULL)
	{
		if (inv_ledger_shape->slot != NULL)
			ExecDropSingleTupleTableSlot(inv_ledger_shape->slot);
		if (inv_ledger_shape->econtext != NULL)
			FreeExprContext(inv_ledger_shape->econtext, false);
		MemoryContextDelete(inv_ledger_shape->cxt);
		inv_ledger_shape = NULL;
	}

	/* An invalidation arriving from here on makes this one stale again */
	inv_ledger_shape_stale = false;
	old = MemoryContextSwitchTo(CacheMemoryContext);
	shape = palloc0(sizeof(InvLedgerShape));
	shape->cxt = AllocSetContextCreate(CacheMemoryContext,
									   "inventory ledger writer",
									   ALLOCSET_SMALL_SIZES);
	inv_ledger_shape = shape;
	MemoryContextSwitchTo(shape->cxt);

	/* Each column: its name, its type, a default only where it has one */
	if (tupdesc->natts != INV_LEDGER_NATTS ||
		(tupdesc->constr != NULL && tupdesc->constr->has_generated_stored))
		goto done;
	for (i = 0; i < INV_LEDGER_NATTS; i++)
	{
		Form_pg_attribute att = TupleDescAttr(tupdesc, i);

		if (att->attisdropped ||
			strcmp(NameStr(att->attname), inv_ledger_columns[i]) != 0 ||
			att->atttypid != inv_ledger_types[i] || att->atttypmod != -1 ||
			att->attgenerated != '\0' ||
			att->atthasdef != (i + 1 == INV_LEDGER_ATT_RECORDED_AT) ||
			(att->attidentity != '\0') != (i + 1 == INV_LEDGER_ATT_ID))
			goto done;
	}
	if (!inv_ledger_recorded_now(rel))
		goto done;

	/*
	 * Plain column indexes only: anything else needs the executor.  An
	 * index created, dropped or made ready changes the table's cache entry,
	 * which makes this shape stale.
	 */
	foreach(lc, RelationGetIndexList(rel))
	{
		Relation	index = index_open(lfirst_oid(lc), AccessShareLock);
		bool		plain;

		plain = index->rd_index->indimmediate &&
			!index->rd_index->indisexclusion &&
			heap_attisnull(index->rd_indextuple, Anum_pg_index_indexprs,
						   NULL) &&
			heap_attisnull(index->rd_indextuple, Anum_pg_index_indpred,
						   NULL);
		index_close(index, AccessShareLock);
		if (!plain)
			goto done;
	}

	/* On insert, only the foreign key check the file header answers */
	if (rel->trigdesc != NULL)
	{
		int			product_keys = 0;

		for (i = 0; i < rel->trigdesc->numtriggers; i++)
		{
			Trigger    *trigger = &rel->trigdesc->triggers[i];

			if (!TRIGGER_FOR_INSERT(trigger->tgtype))
				continue;
			if (trigger->tgfoid != F_RI_FKEY_CHECK_INS ||
				!inv_ledger_product_key(rel, trigger->tgconstraint))
				goto done;
			product_keys++;
		}
		if (product_keys > 1)
			goto done;
	}

	/* The CHECK constraints, tested on each row as an INSERT would */
	if (tupdesc->constr != NULL && tupdesc->constr->num_check > 0)
	{
		ConstrCheck *check = tupdesc->constr->check;

		shape->ncheck = tupdesc->constr->num_check;
		shape->checks = palloc0(sizeof(ExprState *) * shape->ncheck);
		for (i = 0; i < shape->ncheck; i++)
			shape->checks[i] =
				ExecInitExpr(expression_planner(stringToNode(check[i].ccbin)),
							 NULL);
	}
	shape->slot = MakeSingleTupleTableSlot(CreateTupleDescCopy(tupdesc),
										   &TTSOpsHeapTuple);
	shape->econtext = CreateStandaloneExprContext();
	shape->usable = true;

done:
	MemoryContextSwitchTo(old);
}

/*
 * inv_ledger_row_allowed
 *		Whether a ledger row passes the table's NOT NULL and CHECK
 *		constraints; if not, the INSERT is to report which.
 */
static bool
inv_ledger_row_allowed(Relation rel, HeapTuple tuple, bool *nulls)
{
	InvLedgerShape *shape = inv_ledger_shape;
	ExprContext *econtext = shape->econtext;
	volatile bool allowed = true;
	int			i;

	for (i = 0; i < INV_LEDGER_NATTS; i++)
		if (nulls[i] && TupleDescAttr(RelationGetDescr(rel), i)->attnotnull)
			return false;
	if (shape->ncheck == 0)
		return true;

	/* A check may call anything, this file included, and may fail */
	tuple->t_tableOid = RelationGetRelid(rel);
	ExecStoreHeapTuple(tuple, shape->slot, false);
	econtext->ecxt_scantuple = shape->slot;
	inv_ledger_shape_busy = true;
	PG_TRY();
	{
		for (i = 0; i < shape->ncheck && allowed; i++)
			allowed = ExecCheck(shape->checks[i], econtext);
	}
	PG_FINALLY();
	{
		inv_ledger_shape_busy = false;
	}
	PG_END_TRY();
	ResetExprContext(econtext);
	ExecClearTuple(shape->slot);
	return allowed;
}

/*
 * inv_ledger_open
 *		Open the ledger for a direct write, with its identity sequence in
 *		*seqid, or return NULL if the row must go through an INSERT instead
 *		(see the file header).
 */
static Relation
inv_ledger_open(Oid *seqid)
{
	Oid			relid;
	Relation	rel;

	if (!inv_ledger_callback_set)
	{
		CacheRegisterRelcacheCallback(inv_ledger_forget, (Datum) 0);
		CacheRegisterSyscacheCallback(PROCOID, inv_ledger_function_changed,
									  (Datum) 0);
		inv_ledger_callback_set = true;
	}
	if (!OidIsValid(inv_ledger_relid))
	{
		Oid			nsp = get_namespace_oid("inventory", true);

		if (!OidIsValid(nsp))
			return NULL;
		inv_ledger_relid = get_relname_relid("ledger", nsp);
		if (!OidIsValid(inv_ledger_relid))
			return NULL;
		inv_ledger_seqid = getIdentitySequence(inv_ledger_relid, 2, true);
	}

	/* Opening may process invalidations that reset the cache: copy it */
	relid = inv_ledger_relid;
	*seqid = inv_ledger_seqid;
	rel = try_table_open(relid, RowExclusiveLock);
	if (rel == NULL)
	{
		inv_ledger_relid = InvalidOid;
		return NULL;
	}

	/* The caller needs the right to insert, as an INSERT would */
	if (pg_class_aclcheck(relid, GetUserId(), ACL_INSERT) != ACLCHECK_OK)
		goto refuse;

	/* Exactly the table this file knows */
	if (rel->rd_rel->relkind != RELKIND_RELATION ||
		rel->rd_rel->relrowsecurity || rel->rd_rel->relispartition ||
		strcmp(RelationGetRelationName(rel), "ledger") != 0 ||
		!OidIsValid(*seqid))
		goto refuse;

	/*
	 * A row written from inside another's checks (a CHECK constraint whose
	 * function changes stock) goes through the INSERT: the outer row is in
	 * the shape's slot, and its shape must not be learnt anew under it.
	 */
	if (inv_ledger_shape_busy)
		goto refuse;
	if (inv_ledger_shape == NULL || inv_ledger_shape_stale)
		inv_ledger_learn(rel);
	if (!inv_ledger_shape->usable)
		goto refuse;
	return rel;

refuse:
	table_close(rel, RowExclusiveLock);
	return NULL;
}
/*
 * inv_ledger_write_direct
 *		Append one ledger row given as values[]/nulls[] in the order of the
 *		ledger's columns other than ledger_id and recorded_at (the INSERT
 *		statement's order, SPI null flags); return false, having written
 *		nothing, when it must go through an INSERT instead.
 */
static bool
inv_ledger_write_direct(Datum *values, const char *nulls)
{
	Relation	rel;
	List	   *indexes;
	ListCell   *lc;
	Datum		row[INV_LEDGER_NATTS];
	bool		rownulls[INV_LEDGER_NATTS];
	NameData   *db_user;
	HeapTuple	tuple;
	Oid			seqid;
	int			i;
	int			from;

	rel = inv_ledger_open(&seqid);
	if (rel == NULL)
		return false;

	/* Lay the row out in table order, with the defaults an INSERT takes */
	from = 0;
	for (i = 0; i < INV_LEDGER_NATTS; i++)
	{
		if (i == 1)
		{
			row[i] = Int64GetDatum(nextval_internal(seqid, false));
			rownulls[i] = false;
			continue;
		}
		if (i == 4)
		{
			row[i] = TimestampTzGetDatum(GetCurrentTransactionStartTimestamp());
			rownulls[i] = false;
			continue;
		}
		row[i] = values[from];
		rownulls[i] = nulls[from] == 'n';
		from++;
	}
	db_user = (NameData *) palloc0(NAMEDATALEN);
	namestrcpy(db_user, TextDatumGetCString(row[5]));
	row[5] = NameGetDatum(db_user);

	/* The row's constraints, then the heap, then each index */
	tuple = heap_form_tuple(RelationGetDescr(rel), row, rownulls);
	if (!inv_ledger_row_allowed(rel, tuple, rownulls))
	{
		heap_freetuple(tuple);
		table_close(rel, RowExclusiveLock);
		return false;
	}
	simple_heap_insert(rel, tuple);
	indexes = RelationGetIndexList(rel);
	foreach(lc, indexes)
	{
		Relation	index = index_open(lfirst_oid(lc), RowExclusiveLock);
		IndexInfo  *info = BuildIndexInfo(index);
		Datum		keys[INDEX_MAX_KEYS];
		bool		keynulls[INDEX_MAX_KEYS];
		int			k;

		if (info->ii_ReadyForInserts)
		{
			for (k = 0; k < info->ii_NumIndexAttrs; k++)
			{
				AttrNumber	attnum = info->ii_IndexAttrNumbers[k];

				keys[k] = row[attnum - 1];
				keynulls[k] = rownulls[attnum - 1];
			}
			index_insert(index, keys, keynulls, &tuple->t_self, rel,
						 index->rd_index->indisunique ?
						 UNIQUE_CHECK_YES : UNIQUE_CHECK_NO,
						 false, info);
		}
		index_close(index, NoLock);
	}
	list_free(indexes);
	table_close(rel, NoLock);
	return true;
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
	/* The same, for a bulk load's change: only 1.1 has the batch column */
	static InvPlan insert_ledger_batch = {
		"INSERT INTO inventory.ledger (supplier_id, product_id, slot, db_user, "
		"actor, kind, stock_level_before, stock_level_after, reserved_before, "
		"reserved_after, committed_before, committed_after, reason, order_ref, "
		"reservation_id, batch_id) "
		"VALUES ($1, $2, $3, $4::pg_catalog.name, $5, $6, $7, $8, $9, $10, "
		"$11, $12, $13, $14, $15, $16)",
		16, {INT8OID, INT8OID, INT2OID, TEXTOID, TEXTOID, TEXTOID,
			INT8OID, INT8OID, INT8OID, INT8OID, INT8OID, INT8OID,
		TEXTOID, TEXTOID, INT8OID, INT8OID}, NULL
	};
	TriggerData *trigdata = (TriggerData *) fcinfo->context;
	TupleDesc	tupdesc;
	InvSlotQuantities before = {0};
	InvSlotQuantities after = {0};
	const InvChange *change = inv_current_change();
	Datum		values[16];
	char		nulls[16];

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
	if (change != NULL && change->levels_moved != NULL &&
		before.stock_level != after.stock_level)
		(*change->levels_moved)++;

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
	values[12] = inv_nonempty(change ? inv_change_reason(change, after.product_id) :
							  inv_reason, &nulls[12]);
	values[13] = inv_nonempty(change ? change->order_ref : NULL, &nulls[13]);
	values[14] = Int64GetDatum(change ? change->reservation_id : 0);
	if (change == NULL || change->reservation_id == 0)
		nulls[14] = 'n';
	values[15] = Int64GetDatum(change ? change->batch_id : 0);
	if (change == NULL || change->batch_id == 0)
		nulls[15] = 'n';

	/* Append it; a deleted row's product may be going away with it */
	if (TRIGGER_FIRED_BY_DELETE(trigdata->tg_event) ||
		!inv_ledger_write_direct(values, nulls))
	{
		SPI_connect();
		if (change != NULL && change->batch_id != 0)
			inv_plan_run(&insert_ledger_batch, values, nulls, false, 0);
		else
			inv_plan_run(&insert_ledger, values, nulls, false, 0);
		SPI_finish();
	}

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
