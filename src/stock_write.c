/*-------------------------------------------------------------------------
 *
 * stock_write.c
 *		The order path's stock updates, written straight into the heap.
 *
 * Every order changes a stock row twice (reserve, confirm).  Run as an
 * UPDATE through SPI, each change pays for an executor of its own, and the
 * executor re-reads the table's seven CHECK constraints and its generated
 * column from their stored text every time: together more than the change
 * itself.  inv_stock_update makes the same change with the table access
 * method and keeps what the UPDATE guarantees:
 *
 *	- the row is found through the primary key with a fresh snapshot, and a
 *	  row updated by a concurrent transaction is handled as READ COMMITTED
 *	  does: wait for it, lock its newest version, test the condition again
 *	  on that version and update it, or find that it went away;
 *	- the generated column is computed, the CHECK and NOT NULL constraints
 *	  are tested, from expressions prepared once per backend and dropped
 *	  whenever the table's definition changes (relation cache callback);
 *	- index entries are added when the update is not HOT;
 *	- the AFTER ROW UPDATE triggers are fired, in name order, through the
 *	  function manager (the ledger and the low-stock check); the foreign key
 *	  check needs no firing, as the order path never changes the key;
 *	- the caller's SELECT and UPDATE rights on the table are checked, as is
 *	  the replica identity a publication needs.
 *
 * Whatever it does not know how to honour, it leaves to the UPDATE: it
 * returns -1, having changed nothing, and the caller runs its statement.
 * That covers other isolation levels than READ COMMITTED, read-only and
 * parallel mode, a table with rules, row security, child tables, other
 * triggers (BEFORE, statement-level, WHEN clauses, column lists, any other
 * function), indexes on expressions or with predicates, exclusion and
 * deferrable unique constraints, column-level rights only, a row created
 * by this transaction (the foreign key check then fires even though the
 * key is unchanged), a quantity that would overflow, and any row that
 * fails a constraint (so the UPDATE raises the error exactly as always).
 *
 * Copyright (c) 2026, the inventory authors
 *
 * IDENTIFICATION
 *		src/stock_write.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/relscan.h"
#include "access/stratnum.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "access/xlog.h"
#include "catalog/index.h"
#include "catalog/namespace.h"
#include "catalog/pg_am.h"
#include "catalog/pg_class.h"
#include "catalog/pg_index.h"
#include "catalog/pg_trigger.h"
#include "commands/trigger.h"
#include "common/int.h"
#include "executor/executor.h"
#include "miscadmin.h"
#include "nodes/execnodes.h"
#include "optimizer/optimizer.h"
#include "pgstat.h"
#include "rewrite/rewriteHandler.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/fmgroids.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"

#include "inventory.h"

/*
 * What this backend knows about inventory.stock_slot, built on first use
 * and dropped on any invalidation of the table (or of functions, which its
 * constraints may call).
 */
typedef struct InvSlotWriter
{
	Oid			relid;
	bool		usable;			/* false: leave every change to the UPDATE */
	MemoryContext cxt;
	TupleDesc	tupdesc;		/* a copy of the table's */
	AttrNumber	att_supplier;
	AttrNumber	att_product;
	AttrNumber	att_slot;
	AttrNumber	att_mto;
	AttrNumber	att_level;
	AttrNumber	att_reserved;
	AttrNumber	att_committed;
	AttrNumber	att_fence;
	AttrNumber	att_ring;
	Oid			pkey;			/* (supplier_id, product_id, slot) */
	int			nindexes;
	Oid		   *indexes;
	int			ncheck;
	ExprState **checks;
	int			ngenerated;
	AttrNumber *gen_attnums;
	ExprState **gen_exprs;
	int			busy;			/* calls using it now */
	int			ntriggers;		/* rel->trigdesc->numtriggers when built */
	FmgrInfo   *trig_fn;		/* per trigger, for those this file fires */
	TupleTableSlot *oldslot;
	TupleTableSlot *newslot;
	ExprContext *econtext;
} InvSlotWriter;

static InvSlotWriter *inv_slot_writer = NULL;
static bool inv_slot_writer_callbacks = false;
static uint64 inv_slot_writer_resets = 0;	/* invalidations seen */

static void inv_slot_writer_free(InvSlotWriter *writer);

/* The trigger functions of the extension that this file may fire itself */
static const char *const inv_known_triggers[] = {
	"inv_ledger_record", "inv_low_stock_check", NULL
};

/*
 * inv_slot_writer_reset
 *		Forget everything known about the stock table.
 */
static void
inv_slot_writer_reset(void)
{
	inv_slot_writer_resets++;
	if (inv_slot_writer != NULL)
	{
		InvSlotWriter *writer = inv_slot_writer;

		/* One in use is only detached: its user frees it */
		inv_slot_writer = NULL;
		if (writer->busy > 0)
			return;
		inv_slot_writer_free(writer);
	}
}

/*
 * inv_slot_writer_free
 *		Release a writer that is no longer the current one.
 */
static void
inv_slot_writer_free(InvSlotWriter *writer)
{
	if (writer->econtext != NULL)
		FreeExprContext(writer->econtext, false);
	if (writer->oldslot != NULL)
		ExecDropSingleTupleTableSlot(writer->oldslot);
	if (writer->newslot != NULL)
		ExecDropSingleTupleTableSlot(writer->newslot);
	MemoryContextDelete(writer->cxt);
}

/*
 * inv_slot_writer_relcache
 *		Relation cache callback: the stock table (or every table) changed.
 */
static void
inv_slot_writer_relcache(Datum arg, Oid relid)
{
	if (relid == InvalidOid ||
		(inv_slot_writer != NULL && relid == inv_slot_writer->relid))
		inv_slot_writer_reset();
	else
		inv_slot_writer_resets++;	/* may be a table being built */
}

/*
 * inv_slot_writer_syscache
 *		System cache callback on functions: a constraint may call one.
 */
static void
inv_slot_writer_syscache(Datum arg, int cacheid, uint32 hashvalue)
{
	inv_slot_writer_reset();
}

/*
 * inv_slot_attnum
 *		The number of a stock_slot column of the given type, or 0.
 */
static AttrNumber
inv_slot_attnum(TupleDesc tupdesc, const char *name, Oid type)
{
	int			i;

	for (i = 0; i < tupdesc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(tupdesc, i);

		if (!att->attisdropped && strcmp(NameStr(att->attname), name) == 0)
			return att->atttypid == type ? att->attnum : 0;
	}
	return 0;
}

/*
 * inv_known_trigger
 *		Whether a trigger is one this file may fire itself: an AFTER ROW
 *		trigger of one of the extension's own functions, or the foreign key
 *		check, without WHEN clause or column list.
 */
static bool
inv_known_trigger(Relation rel, Trigger *trigger)
{
	char	   *name;
	int			i;

	if (trigger->tgfoid == F_RI_FKEY_CHECK_UPD)
		return true;
	if (!TRIGGER_FOR_ROW(trigger->tgtype) ||
		!TRIGGER_FOR_AFTER(trigger->tgtype) ||
		trigger->tgqual != NULL || trigger->tgnattr > 0 ||
		trigger->tgdeferrable ||
		get_func_namespace(trigger->tgfoid) != RelationGetNamespace(rel))
		return false;
	name = get_func_name(trigger->tgfoid);
	for (i = 0; name != NULL && inv_known_triggers[i] != NULL; i++)
		if (strcmp(name, inv_known_triggers[i]) == 0)
			return true;
	return false;
}

/*
 * inv_slot_writer_build
 *		Learn the stock table's shape from the open relation, and prepare
 *		its constraints, generated columns and triggers; install it as the
 *		current writer and return it, or return NULL if an invalidation
 *		arrived meanwhile (the caller then uses the UPDATE this once).
 */
static InvSlotWriter *
inv_slot_writer_build(Relation rel)
{
	uint64		resets = inv_slot_writer_resets;
	MemoryContext cxt;
	MemoryContext old;
	InvSlotWriter *w;
	TupleDesc	tupdesc = RelationGetDescr(rel);
	TriggerDesc *trigdesc = rel->trigdesc;
	List	   *indexes;
	ListCell   *lc;
	int			i;

	if (!inv_slot_writer_callbacks)
	{
		CacheRegisterRelcacheCallback(inv_slot_writer_relcache, (Datum) 0);
		CacheRegisterSyscacheCallback(PROCOID, inv_slot_writer_syscache,
									  (Datum) 0);
		inv_slot_writer_callbacks = true;
	}

	cxt = AllocSetContextCreate(CacheMemoryContext, "inventory stock writer",
								ALLOCSET_SMALL_SIZES);
	old = MemoryContextSwitchTo(cxt);
	w = palloc0(sizeof(InvSlotWriter));
	w->cxt = cxt;
	w->relid = RelationGetRelid(rel);
	w->tupdesc = CreateTupleDescCopyConstr(tupdesc);

	/* The table as the order path knows it, and nothing the UPDATE adds */
	w->att_supplier = inv_slot_attnum(tupdesc, "supplier_id", INT8OID);
	w->att_product = inv_slot_attnum(tupdesc, "product_id", INT8OID);
	w->att_slot = inv_slot_attnum(tupdesc, "slot", INT2OID);
	w->att_mto = inv_slot_attnum(tupdesc, "made_to_order", BOOLOID);
	w->att_level = inv_slot_attnum(tupdesc, "stock_level", INT8OID);
	w->att_reserved = inv_slot_attnum(tupdesc, "reserved", INT8OID);
	w->att_committed = inv_slot_attnum(tupdesc, "committed", INT8OID);
	w->att_fence = inv_slot_attnum(tupdesc, "lock_fence", INT8OID);
	w->att_ring = inv_slot_attnum(tupdesc, "ring_fenced", INT8OID);
	if (!w->att_supplier || !w->att_product || !w->att_slot ||
		!w->att_mto || !w->att_level || !w->att_reserved ||
		!w->att_committed || !w->att_fence || !w->att_ring ||
		rel->rd_rel->relkind != RELKIND_RELATION ||
		rel->rd_rel->relhasrules || rel->rd_rel->relhassubclass ||
		rel->rd_rel->relrowsecurity ||
		strcmp(RelationGetRelationName(rel), "stock_slot") != 0)
		goto unusable;

	/* Plain indexes, one of them the key the row is found by */
	indexes = RelationGetIndexList(rel);
	w->indexes = palloc0(sizeof(Oid) * Max(list_length(indexes), 1));
	foreach(lc, indexes)
	{
		Relation	index = index_open(lfirst_oid(lc), AccessShareLock);
		Form_pg_index form = index->rd_index;
		bool		plain;

		plain = form->indimmediate && !form->indisexclusion &&
			heap_attisnull(index->rd_indextuple, Anum_pg_index_indexprs,
						   NULL) &&
			heap_attisnull(index->rd_indextuple, Anum_pg_index_indpred,
						   NULL);
		if (plain && form->indisunique && form->indisvalid &&
			index->rd_rel->relam == BTREE_AM_OID &&
			form->indnkeyatts == 3 &&
			form->indkey.values[0] == w->att_supplier &&
			form->indkey.values[1] == w->att_product &&
			form->indkey.values[2] == w->att_slot)
			w->pkey = RelationGetRelid(index);
		index_close(index, AccessShareLock);
		if (!plain)
			goto unusable;
		w->indexes[w->nindexes++] = lfirst_oid(lc);
	}
	if (!OidIsValid(w->pkey))
		goto unusable;

	/* The CHECK constraints and generated columns, prepared once */
	if (tupdesc->constr != NULL)
	{
		ConstrCheck *check = tupdesc->constr->check;

		w->ncheck = tupdesc->constr->num_check;
		w->checks = palloc0(sizeof(ExprState *) * Max(w->ncheck, 1));
		for (i = 0; i < w->ncheck; i++)
			w->checks[i] =
				ExecInitExpr(expression_planner(stringToNode(check[i].ccbin)),
							 NULL);
	}
	w->gen_attnums = palloc0(sizeof(AttrNumber) * tupdesc->natts);
	w->gen_exprs = palloc0(sizeof(ExprState *) * tupdesc->natts);
	for (i = 0; i < tupdesc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(tupdesc, i);
		Expr	   *expr;

		if (att->attisdropped || att->attgenerated != ATTRIBUTE_GENERATED_STORED)
			continue;
		expr = (Expr *) build_column_default(rel, i + 1);
		if (expr == NULL)
			goto unusable;
		w->gen_attnums[w->ngenerated] = i + 1;
		w->gen_exprs[w->ngenerated++] = ExecInitExpr(expression_planner(expr),
													 NULL);
	}

	/* Only AFTER ROW UPDATE triggers this file knows how to fire */
	if (trigdesc != NULL)
	{
		if (trigdesc->trig_update_before_row ||
			trigdesc->trig_update_instead_row ||
			trigdesc->trig_update_before_statement ||
			trigdesc->trig_update_after_statement ||
			trigdesc->trig_update_old_table ||
			trigdesc->trig_update_new_table)
			goto unusable;
		w->ntriggers = trigdesc->numtriggers;
		w->trig_fn = palloc0(sizeof(FmgrInfo) * Max(w->ntriggers, 1));
		for (i = 0; i < trigdesc->numtriggers; i++)
		{
			Trigger    *trigger = &trigdesc->triggers[i];

			if (!TRIGGER_FOR_UPDATE(trigger->tgtype))
				continue;
			if (!inv_known_trigger(rel, trigger))
				goto unusable;
			if (trigger->tgfoid != F_RI_FKEY_CHECK_UPD)
				fmgr_info_cxt(trigger->tgfoid, &w->trig_fn[i], cxt);
		}
	}

	w->oldslot = MakeSingleTupleTableSlot(w->tupdesc, &TTSOpsBufferHeapTuple);
	w->newslot = MakeSingleTupleTableSlot(w->tupdesc, &TTSOpsVirtual);
	w->econtext = CreateStandaloneExprContext();
	w->usable = true;

unusable:
	MemoryContextSwitchTo(old);
	if (resets != inv_slot_writer_resets)
	{
		inv_slot_writer_free(w);
		return NULL;
	}
	inv_slot_writer = w;
	return w;
}

/*
 * inv_trigger_enabled
 *		Whether a trigger fires in this session (session_replication_role).
 */
static bool
inv_trigger_enabled(Trigger *trigger)
{
	if (SessionReplicationRole == SESSION_REPLICATION_ROLE_REPLICA)
		return trigger->tgenabled != TRIGGER_FIRES_ON_ORIGIN &&
			trigger->tgenabled != TRIGGER_DISABLED;
	return trigger->tgenabled != TRIGGER_FIRES_ON_REPLICA &&
		trigger->tgenabled != TRIGGER_DISABLED;
}

/*
 * inv_fire_after_update
 *		Fire the table's AFTER ROW UPDATE triggers for one updated row.
 */
static void
inv_fire_after_update(InvSlotWriter *w, Relation rel, HeapTuple oldtuple,
					  HeapTuple newtuple)
{
	TriggerDesc *trigdesc = rel->trigdesc;
	int			i;

	if (trigdesc == NULL)
		return;
	for (i = 0; i < trigdesc->numtriggers; i++)
	{
		Trigger    *trigger = &trigdesc->triggers[i];
		TriggerData trigdata = {0};
		LOCAL_FCINFO(fcinfo, 0);
		PgStat_FunctionCallUsage fcusage;

		if (!TRIGGER_FOR_UPDATE(trigger->tgtype) ||
			trigger->tgfoid == F_RI_FKEY_CHECK_UPD ||
			!inv_trigger_enabled(trigger))
			continue;

		trigdata.type = T_TriggerData;
		trigdata.tg_event = TRIGGER_EVENT_UPDATE | TRIGGER_EVENT_ROW;
		trigdata.tg_relation = rel;
		trigdata.tg_trigtuple = oldtuple;
		trigdata.tg_newtuple = newtuple;
		trigdata.tg_trigger = trigger;
		InitFunctionCallInfoData(*fcinfo, &w->trig_fn[i], 0, InvalidOid,
								 (Node *) &trigdata, NULL);
		pgstat_init_function_usage(fcinfo, &fcusage);
		(void) FunctionCallInvoke(fcinfo);
		pgstat_end_function_usage(&fcusage, true);
	}
}

/*
 * inv_check_new_row
 *		Compute the generated columns of the new row in values[] and test
 *		its constraints; false if any fails (the UPDATE then reports it).
 */
static bool
inv_check_new_row(InvSlotWriter *w, Datum *values, bool *nulls)
{
	TupleTableSlot *slot = w->newslot;
	ExprContext *econtext = w->econtext;
	TupleDesc	tupdesc = w->tupdesc;
	bool		ok = true;
	int			i;

	ExecClearTuple(slot);
	memcpy(slot->tts_values, values, sizeof(Datum) * tupdesc->natts);
	memcpy(slot->tts_isnull, nulls, sizeof(bool) * tupdesc->natts);
	ExecStoreVirtualTuple(slot);
	econtext->ecxt_scantuple = slot;

	/* Generated columns never refer to each other: one pass */
	for (i = 0; i < w->ngenerated; i++)
	{
		AttrNumber	attnum = w->gen_attnums[i];
		Form_pg_attribute att = TupleDescAttr(tupdesc, attnum - 1);
		bool		isnull;
		Datum		value;

		value = ExecEvalExprSwitchContext(w->gen_exprs[i], econtext, &isnull);
		values[attnum - 1] = isnull ? (Datum) 0 :
			datumCopy(value, att->attbyval, att->attlen);
		nulls[attnum - 1] = isnull;
	}
	memcpy(slot->tts_values, values, sizeof(Datum) * tupdesc->natts);
	memcpy(slot->tts_isnull, nulls, sizeof(bool) * tupdesc->natts);

	for (i = 0; ok && i < tupdesc->natts; i++)
		if (TupleDescAttr(tupdesc, i)->attnotnull && nulls[i])
			ok = false;
	for (i = 0; ok && i < w->ncheck; i++)
		if (!ExecCheck(w->checks[i], econtext))
			ok = false;

	ResetExprContext(econtext);
	ExecClearTuple(slot);
	return ok;
}

/*
 * inv_insert_index_entries
 *		Add the new row version to every index, after an update that could
 *		not be HOT.
 */
static void
inv_insert_index_entries(InvSlotWriter *w, Relation rel, HeapTuple tuple,
						 Datum *values, bool *nulls)
{
	int			i;

	for (i = 0; i < w->nindexes; i++)
	{
		Relation	index = index_open(w->indexes[i], RowExclusiveLock);
		IndexInfo  *info = BuildIndexInfo(index);
		Datum		keys[INDEX_MAX_KEYS];
		bool		keynulls[INDEX_MAX_KEYS];
		int			k;

		if (info->ii_ReadyForInserts)
		{
			for (k = 0; k < info->ii_NumIndexAttrs; k++)
			{
				AttrNumber	attnum = info->ii_IndexAttrNumbers[k];

				keys[k] = values[attnum - 1];
				keynulls[k] = nulls[attnum - 1];
			}

			/* The key did not change: a hint for bottom-up deletion */
			index_insert(index, keys, keynulls, &tuple->t_self, rel,
						 index->rd_index->indisunique ?
						 UNIQUE_CHECK_YES : UNIQUE_CHECK_NO,
						 true, info);
		}
		index_close(index, NoLock);
	}
}

/*
 * inv_apply_update
 *		Work out the new row from the old one in values[]/nulls[]; false if
 *		the row does not qualify (*qualifies false) or if the arithmetic
 *		overflows (*qualifies true: the UPDATE reports the error).
 */
static bool
inv_apply_update(InvSlotWriter *w, const InvStockUpdate *u, Datum *values,
				 bool *nulls, bool *qualifies)
{
	int64		level = DatumGetInt64(values[w->att_level - 1]);
	int64		reserved = DatumGetInt64(values[w->att_reserved - 1]);
	int64		committed = DatumGetInt64(values[w->att_committed - 1]);
	int64		fence = DatumGetInt64(values[w->att_fence - 1]);
	int64		ring = DatumGetInt64(values[w->att_ring - 1]);
	bool		made_to_order = DatumGetBool(values[w->att_mto - 1]);
	int64		shared;
	int			i;

	*qualifies = false;
	for (i = 0; i < w->tupdesc->natts; i++)
		if (nulls[i] &&
			(i + 1 == w->att_level || i + 1 == w->att_reserved ||
			 i + 1 == w->att_committed || i + 1 == w->att_fence ||
			 i + 1 == w->att_ring || i + 1 == w->att_mto))
			return false;		/* the UPDATE knows what a null does */

	/* The condition: enough in the shared pool, and no newer lock holder */
	if (u->need_available && !made_to_order)
	{
		int64		need;

		if (pg_sub_s64_overflow(level, reserved, &shared) ||
			pg_sub_s64_overflow(shared, ring, &shared) ||
			pg_sub_s64_overflow(u->reserved, -u->ring_fenced, &need))
		{
			*qualifies = true;
			return false;
		}
		if (Max(shared, 0) < need)
			return false;
	}
	if (u->fence > 0 && fence > u->fence)
		return false;
	*qualifies = true;

	/* The new quantities */
	if (pg_add_s64_overflow(level, made_to_order ? 0 : u->stock_level,
							&level) ||
		pg_add_s64_overflow(reserved, u->reserved, &reserved) ||
		pg_add_s64_overflow(committed, u->committed, &committed) ||
		pg_add_s64_overflow(ring, u->ring_fenced, &ring))
		return false;
	values[w->att_level - 1] = Int64GetDatum(level);
	values[w->att_reserved - 1] = Int64GetDatum(reserved);
	values[w->att_committed - 1] = Int64GetDatum(committed);
	values[w->att_ring - 1] = Int64GetDatum(ring);
	values[w->att_fence - 1] = Int64GetDatum(Max(fence, u->fence));
	return true;
}

/*
 * inv_stock_update_once
 *		Body of inv_stock_update, with the writer in *writer once it has
 *		one (marked busy), so that the caller can let it go.
 */
static int
inv_stock_update_once(const InvStockUpdate *u, InvSlotWriter **writer);

/*
 * inv_stock_update
 *		Apply a change to one stock slot, as the given change for the
 *		ledger; return the number of rows changed (0 or 1), or -1 having
 *		changed nothing when the caller must run its UPDATE instead (see the
 *		file header).
 *
 * The row qualifies when no newer lock holder has written to it (fence >
 * 0 and lock_fence > fence refuse it) and, with need_available, when it is
 * made to order or its shared pool, max(available - ring_fenced, 0), holds
 * reserved - ring_fenced units.  The caller must be connected to SPI.
 */
int
inv_stock_update(const InvStockUpdate *u, const InvChange *change)
{
	const InvChange *outer_change = inv_swap_change(change);
	InvSlotWriter *volatile writer = NULL;
	volatile int result = -1;

	/* The writer may be invalidated while in use: free it only after */
	PG_TRY();
	{
		result = inv_stock_update_once(u, (InvSlotWriter **) &writer);
	}
	PG_FINALLY();
	{
		(void) inv_swap_change(outer_change);
		if (writer != NULL && --writer->busy == 0 &&
			writer != inv_slot_writer)
			inv_slot_writer_free(writer);
	}
	PG_END_TRY();

	return result;
}

static int
inv_stock_update_once(const InvStockUpdate *u, InvSlotWriter **writer)
{
	InvSlotWriter *w = inv_slot_writer;
	Relation	rel;
	Relation	pkey;
	Oid			relid;
	Snapshot	snapshot;
	IndexScanDesc scan;
	ScanKeyData keys[3];
	CommandId	cid;
	int			result = -1;
	bool		found;
	bool		fk_check_on_own_rows = false;
	int			i;

	/* Only where the UPDATE would behave exactly as this does */
	if (XactIsoLevel != XACT_READ_COMMITTED || XactReadOnly ||
		IsInParallelMode() || RecoveryInProgress())
		return -1;

	/* The table, then what we know of it (opening may have reset that) */
	if (w != NULL)
		relid = w->relid;
	else
	{
		Oid			nsp = get_namespace_oid("inventory", true);

		relid = OidIsValid(nsp) ? get_relname_relid("stock_slot", nsp) :
			InvalidOid;
		if (!OidIsValid(relid))
			return -1;
	}
	rel = try_table_open(relid, RowExclusiveLock);
	if (rel == NULL)
	{
		inv_slot_writer_reset();
		return -1;
	}
	w = inv_slot_writer;
	if (w == NULL || w->relid != relid)
	{
		inv_slot_writer_reset();
		w = inv_slot_writer_build(rel);
		if (w == NULL)
		{
			table_close(rel, NoLock);
			return -1;
		}
	}
	w->busy++;
	*writer = w;
	if (!w->usable ||
		(rel->trigdesc == NULL ? w->ntriggers != 0 :
		 rel->trigdesc->numtriggers != w->ntriggers))
		goto fallback;

	/* The rights an UPDATE needs, and a replica identity if published */
	if (pg_class_aclmask(relid, GetUserId(), ACL_SELECT | ACL_UPDATE,
						 ACLMASK_ALL) != (ACL_SELECT | ACL_UPDATE))
		goto fallback;
	CheckCmdReplicaIdentity(rel, CMD_UPDATE);
	if (rel->trigdesc != NULL)
		for (i = 0; i < rel->trigdesc->numtriggers; i++)
			if (rel->trigdesc->triggers[i].tgfoid == F_RI_FKEY_CHECK_UPD &&
				inv_trigger_enabled(&rel->trigdesc->triggers[i]))
				fk_check_on_own_rows = true;

	/* A statement of its own, as SPI would run it */
	CommandCounterIncrement();
	PushActiveSnapshot(GetTransactionSnapshot());
	snapshot = GetActiveSnapshot();
	cid = GetCurrentCommandId(true);

	/* Find the row through the key */
	pkey = index_open(w->pkey, RowExclusiveLock);
	ScanKeyInit(&keys[0], 1, BTEqualStrategyNumber, F_INT8EQ,
				Int64GetDatum(u->supplier_id));
	ScanKeyInit(&keys[1], 2, BTEqualStrategyNumber, F_INT8EQ,
				Int64GetDatum(u->product_id));
	ScanKeyInit(&keys[2], 3, BTEqualStrategyNumber, F_INT2EQ,
				Int16GetDatum(u->slot));
	scan = index_beginscan(rel, pkey, snapshot, 3, 0);
	index_rescan(scan, keys, 3, NULL, 0);
	found = index_getnext_slot(scan, ForwardScanDirection, w->oldslot);
	index_endscan(scan);
	index_close(pkey, NoLock);

	/* Update it; one that a concurrent transaction updated first, again */
	result = 0;
	while (found)
	{
		int			natts = w->tupdesc->natts;
		Datum	   *values = palloc(sizeof(Datum) * natts);
		bool	   *nulls = palloc(sizeof(bool) * natts);
		HeapTuple	oldtuple;
		HeapTuple	newtuple;
		ItemPointerData tid;
		TM_FailureData tmfd;
		TM_Result	status;
		LockTupleMode lockmode;
		bool		qualifies;

		oldtuple = ExecFetchSlotHeapTuple(w->oldslot, false, NULL);
		tid = oldtuple->t_self;
		if (fk_check_on_own_rows &&
			TransactionIdIsCurrentTransactionId(HeapTupleHeaderGetXmin(oldtuple->t_data)))
		{
			result = -1;
			break;
		}
		heap_deform_tuple(oldtuple, w->tupdesc, values, nulls);
		if (!inv_apply_update(w, u, values, nulls, &qualifies))
		{
			result = qualifies ? -1 : 0;
			break;
		}
		if (!inv_check_new_row(w, values, nulls))
		{
			result = -1;
			break;
		}
		oldtuple = heap_copytuple(oldtuple);
		newtuple = heap_form_tuple(RelationGetDescr(rel), values, nulls);

		status = heap_update(rel, &tid, newtuple, cid, InvalidSnapshot, true,
							 &tmfd, &lockmode);
		if (status == TM_Ok)
		{
			if (!HeapTupleIsHeapOnly(newtuple))
				inv_insert_index_entries(w, rel, newtuple, values, nulls);
			ExecClearTuple(w->oldslot);
			inv_fire_after_update(w, rel, oldtuple, newtuple);
			result = 1;
			break;
		}
		if (status == TM_Deleted)
			break;				/* gone: no row, as the UPDATE finds */
		if (status != TM_Updated)
		{
			/* Changed by this very command: let the UPDATE say so */
			result = -1;
			break;
		}

		/* READ COMMITTED: lock the newest version and try it instead */
		status = table_tuple_lock(rel, &tid, snapshot, w->oldslot, cid,
								  lockmode, LockWaitBlock,
								  TUPLE_LOCK_FLAG_FIND_LAST_VERSION, &tmfd);
		if (status == TM_Deleted)
			break;
		if (status != TM_Ok)
		{
			result = -1;
			break;
		}
	}
	ExecClearTuple(w->oldslot);
	PopActiveSnapshot();

fallback:
	table_close(rel, NoLock);
	return result;
}

/*
 * inv_stock_slot_count
 *		How many stock slots a product has (its highest slot number + 1, 0
 *		if none), read from the end of the table's key with a snapshot
 *		taken now, as a new statement would; -1 if the caller must run its
 *		SELECT instead (the table is not as this file knows it, or the
 *		caller may not read it).
 */
int
inv_stock_slot_count(int64 supplier_id, int64 product_id)
{
	InvSlotWriter *w = inv_slot_writer;
	Relation	rel;
	Relation	pkey;
	Oid			relid;
	Oid			pkey_oid;
	AttrNumber	att_slot;
	TupleTableSlot *slot;
	IndexScanDesc scan;
	ScanKeyData keys[2];
	int			count = 0;

	if (w == NULL)
	{
		Oid			nsp = get_namespace_oid("inventory", true);

		relid = OidIsValid(nsp) ? get_relname_relid("stock_slot", nsp) :
			InvalidOid;
	}
	else
		relid = w->relid;
	if (!OidIsValid(relid) ||
		pg_class_aclcheck(relid, GetUserId(), ACL_SELECT) != ACLCHECK_OK)
		return -1;
	rel = try_table_open(relid, AccessShareLock);
	if (rel == NULL)
	{
		inv_slot_writer_reset();
		return -1;
	}
	w = inv_slot_writer;
	if (w == NULL || w->relid != relid)
	{
		inv_slot_writer_reset();
		w = inv_slot_writer_build(rel);
	}
	if (w == NULL || !OidIsValid(w->pkey) || rel->rd_rel->relrowsecurity ||
		rel->rd_rel->relhassubclass)
	{
		table_close(rel, AccessShareLock);
		return -1;
	}

	/* Opening the index may reset the writer: keep what is needed */
	pkey_oid = w->pkey;
	att_slot = w->att_slot;
	pkey = index_open(pkey_oid, AccessShareLock);
	slot = table_slot_create(rel, NULL);
	CommandCounterIncrement();
	PushActiveSnapshot(GetTransactionSnapshot());
	ScanKeyInit(&keys[0], 1, BTEqualStrategyNumber, F_INT8EQ,
				Int64GetDatum(supplier_id));
	ScanKeyInit(&keys[1], 2, BTEqualStrategyNumber, F_INT8EQ,
				Int64GetDatum(product_id));
	scan = index_beginscan(rel, pkey, GetActiveSnapshot(), 2, 0);
	index_rescan(scan, keys, 2, NULL, 0);
	if (index_getnext_slot(scan, BackwardScanDirection, slot))
	{
		bool		isnull;
		Datum		value = slot_getattr(slot, att_slot, &isnull);

		count = isnull ? 0 : DatumGetInt16(value) + 1;
	}
	index_endscan(scan);
	PopActiveSnapshot();
	ExecDropSingleTupleTableSlot(slot);
	index_close(pkey, AccessShareLock);
	table_close(rel, AccessShareLock);
	return count;
}
