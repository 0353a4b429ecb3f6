/*-------------------------------------------------------------------------
 *
 * stock_write.c
 *		The order path's row changes, written straight into the heap.
 *
 * Every order changes a stock row twice (reserve, confirm) and its
 * reservation's state once.  Run as an UPDATE through SPI, each change pays
 * for an executor of its own, and the executor re-reads the table's CHECK
 * constraints (seven on stock_slot) and its generated column from their
 * stored text every time: together more than the change itself.
 * inv_stock_update makes the stock change, inv_reservation_insert the new
 * reservation's INSERT ... ON CONFLICT DO NOTHING, inv_reservation_lock
 * with inv_reservation_set_state the reservation's SELECT ... FOR UPDATE
 * and change of state, and inv_stock_claim_slot the locking look for a free
 * slot of a product spread over several, with the table access method, and
 * keep what the statements guarantee:
 *
 *	- the row is found through the primary key with a fresh snapshot, and a
 *	  row updated by a concurrent transaction is handled as READ COMMITTED
 *	  does: wait for it, lock its newest version, test the condition again
 *	  on that version and update it, or find that it went away;
 *	- the generated column is computed, the CHECK and NOT NULL constraints
 *	  and partial indexes' predicates are tested, from expressions prepared
 *	  once per backend and dropped whenever the table's definition changes
 *	  (relation cache callback) or a function does (system cache callback);
 *	- index entries are added when the update is not HOT;
 *	- the AFTER ROW UPDATE triggers are fired, in name order, through the
 *	  function manager (the ledger and the low-stock check), the
 *	  extension's own C functions without their SECURITY DEFINER wrapper
 *	  when the caller already runs as their owner with their search_path;
 *	  a foreign key's check needs no firing when its columns are a
 *	  product's key or a slot number, which the order path never changes;
 *	- the caller's SELECT and UPDATE rights on the table are checked, as is
 *	  the replica identity a publication needs;
 *	- a new reservation takes its table's defaults (the identity's sequence
 *	  among them), is inserted speculatively as the executor does for ON
 *	  CONFLICT, so that a concurrent insertion of the same order line is
 *	  waited for and found, and locks its product FOR KEY SHARE as the
 *	  foreign key check does.
 *
 * A writer (what is known of one table) may be invalidated while in use,
 * since opening a relation processes invalidations: it is then only
 * detached, and freed by its last user.  For the same reason it keeps its
 * own copy of the table's triggers: the relation's copy is replaced when
 * its cache entry is rebuilt, which may happen while a trigger runs.
 *
 * Whatever it does not know how to honour, it leaves to the statement: it
 * returns -1, having changed nothing, and the caller runs its statement.
 * That covers other isolation levels than READ COMMITTED, read-only and
 * parallel mode, a call made while another runs in the same backend (from
 * a CHECK constraint or a trigger that orders), a table with rules, row
 * security, child tables or a partition's bounds, other triggers (BEFORE,
 * statement-level, WHEN clauses, column lists, any other function), a
 * foreign key on a column the order path changes, a new reservation's
 * column of a domain type or identity other than its id, indexes on
 * expressions, exclusion and deferrable unique constraints, column-level
 * rights only, a row created by this transaction (the foreign key check
 * then fires even though the key is unchanged), a quantity that would
 * overflow, a lock that meets anything but a row to take or one to skip,
 * any row that fails a constraint (so that the statement raises the error
 * exactly as always), and the reservation of a made-to-order product (its
 * ship date comes from the working-day calendar) or of a product that is
 * not there.
 *
 * Copyright (c) 2026, the inventory authors
 *
 * IDENTIFICATION
 *		src/stock_write.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

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
#include "catalog/pg_constraint.h"
#include "catalog/pg_index.h"
#include "catalog/pg_language.h"
#include "catalog/pg_proc.h"
#include "catalog/pg_trigger.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "common/int.h"
#include "common/pg_prng.h"
#include "executor/executor.h"
#include "miscadmin.h"
#include "nodes/execnodes.h"
#include "optimizer/optimizer.h"
#include "pgstat.h"
#include "storage/backendid.h"
#include "storage/bufmgr.h"
#include "storage/lmgr.h"
#include "storage/proc.h"
#include "rewrite/rewriteHandler.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/fmgroids.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"

#include "inventory.h"

/* The tables written here */
typedef enum InvWriterKind
{
	INV_WRITER_STOCK,			/* inventory.stock_slot */
	INV_WRITER_RESERVATION,		/* inventory.reservation */
	INV_WRITER_KINDS
} InvWriterKind;

/*
 * One of the extension's C trigger functions, called without the wrapper
 * the function manager puts around a SECURITY DEFINER function or one with
 * a SET clause: valid when fn.fn_addr is set, and usable only while the
 * caller already runs as owner (if the function is SECURITY DEFINER) with
 * search_path set to path (if it sets one), so that the wrapper would
 * change nothing but cost a GUC nesting level per row.
 */
typedef struct InvTriggerBody
{
	FmgrInfo	fn;
	Oid			owner;			/* InvalidOid: runs as its caller */
	char	   *path;			/* NULL: keeps its caller's */
} InvTriggerBody;

/*
 * What this backend knows about one of those tables, built on first use
 * and dropped on any invalidation of the table (or of functions, which its
 * constraints may call).
 */
typedef struct InvWriter
{
	InvWriterKind kind;
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
	/* reservation: the columns read or written besides the above */
	AttrNumber	att_id;
	AttrNumber	att_order_ref;
	AttrNumber	att_quantity;
	AttrNumber	att_state;
	AttrNumber	att_expires;
	AttrNumber	att_updated;
	AttrNumber	att_token;
	AttrNumber	att_retailer;
	AttrNumber	att_fenced;
	/* reservation: what its direct insertion needs (insertable if valid) */
	AttrNumber	att_line_fence;
	AttrNumber	att_ship_date;
	Oid			line_key;		/* unique key of an order line */
	ExprState **defaults;		/* per column: its default, or NULL */
	Oid			product_relid;	/* the table the foreign key references */
	Oid			product_key;	/* and the key it references */
	AttrNumber	product_att_mto;
	Oid			pkey;			/* the key a row is found by */
	int			nindexes;
	Oid		   *indexes;
	ExprState **index_preds;	/* per index: its predicate, or NULL */
	int			ncheck;
	ExprState **checks;
	int			ngenerated;
	AttrNumber *gen_attnums;
	ExprState **gen_exprs;
	int			busy;			/* calls using it now */
	TriggerDesc *trigdesc;		/* a copy of the table's, or NULL */
	int			ntriggers;		/* rel->trigdesc->numtriggers when built */
	FmgrInfo   *trig_fn;		/* per trigger, for those this file fires */
	InvTriggerBody *trig_body;	/* and how to call it unwrapped */
	TupleTableSlot *oldslot;
	TupleTableSlot *newslot;
	ExprContext *econtext;
} InvWriter;

static InvWriter *inv_writers[INV_WRITER_KINDS];

/*
 * Where inv_stock_slot_count last found slot 0 of a product that has no
 * other.  A reserve counts the slots, inserts its reservation and then
 * updates that very row: the update starts from this version, if it is
 * still the one its snapshot sees, instead of descending the key again.
 * Used once, and only by the subtransaction that counted: the count's lock
 * on the table keeps VACUUM from moving rows or cutting blocks off, and a
 * subtransaction rolled back gives that lock up.  The table's file is
 * compared too, since its own transaction may rewrite it.
 */
static struct
{
	LocalTransactionId lxid;
	SubTransactionId subxid;
	RelFileNode node;
	int64		supplier_id;
	int64		product_id;
	ItemPointerData tid;
} inv_slot0_seen;

static bool inv_slot_writer_callbacks = false;
static uint64 inv_slot_writer_resets = 0;	/* invalidations seen */

static void inv_slot_writer_free(InvWriter *writer);
static int	inv_stock_update_once(const InvStockUpdate *u, InvWriter **writer);
static bool inv_product_reference(InvWriter *w, Oid constraint);
static void inv_trigger_body_prepare(FmgrInfo *fn, InvTriggerBody *body,
									 MemoryContext cxt);
static void inv_reservation_insert_prepare(InvWriter *w, Relation rel);
static int	inv_reservation_insert_once(const InvNewReservation *line,
										HeapTuple *tuple, TupleDesc *tupdesc,
										InvWriter **writer);
static int	inv_reservation_line_before_claim_once(int64 supplier_id,
												   const char *order_ref,
												   int64 product_id,
												   InvWriter **writer);
static int	inv_stock_claim_slot_once(int64 supplier_id, int64 product_id,
									  int nslots, int64 quantity, int rounds,
									  InvWriter **writer);

/* The extension's trigger functions that this file may fire, per table */
static const char *const inv_stock_triggers[] = {
	"inv_ledger_record", "inv_low_stock_check", NULL
};
static const char *const inv_reservation_triggers[] = {NULL};

/*
 * inv_slot_writer_reset
 *		Forget everything known about one table.
 */
static void
inv_slot_writer_reset(InvWriterKind kind)
{
	inv_slot_writer_resets++;
	if (inv_writers[kind] != NULL)
	{
		InvWriter  *writer = inv_writers[kind];

		/* One in use is only detached: its user frees it */
		inv_writers[kind] = NULL;
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
inv_slot_writer_free(InvWriter *writer)
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
 *		Relation cache callback: one of the tables (or every table) changed.
 */
static void
inv_slot_writer_relcache(Datum arg, Oid relid)
{
	int			kind;

	inv_slot_writer_resets++;	/* may be a table being built */
	for (kind = 0; kind < INV_WRITER_KINDS; kind++)
		if (relid == InvalidOid ||
			(inv_writers[kind] != NULL &&
			 (relid == inv_writers[kind]->relid ||
			  relid == inv_writers[kind]->product_relid)))
			inv_slot_writer_reset(kind);
}

/*
 * inv_slot_writer_syscache
 *		System cache callback on functions: a constraint may call one.
 */
static void
inv_slot_writer_syscache(Datum arg, int cacheid, uint32 hashvalue)
{
	int			kind;

	for (kind = 0; kind < INV_WRITER_KINDS; kind++)
		inv_slot_writer_reset(kind);
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
inv_known_trigger(Relation rel, Trigger *trigger,
				  const char *const *known)
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
	for (i = 0; name != NULL && known[i] != NULL; i++)
		if (strcmp(name, known[i]) == 0)
			return true;
	return false;
}

/*
 * inv_constraint_columns
 *		Read a two-column key (conkey or confkey) of a pg_constraint row into
 *		columns[]; false if it is missing or has another number of columns.
 */
bool
inv_constraint_columns(HeapTuple tuple, AttrNumber attnum, int16 *columns)
{
	Datum		datum;
	Datum	   *elems;
	int			nelems;
	bool		isnull;

	datum = SysCacheGetAttr(CONSTROID, tuple, attnum, &isnull);
	if (isnull)
		return false;
	deconstruct_array(DatumGetArrayTypeP(datum), INT2OID, 2, true,
					  TYPALIGN_SHORT, &elems, NULL, &nelems);
	if (nelems != 2)
		return false;
	columns[0] = DatumGetInt16(elems[0]);
	columns[1] = DatumGetInt16(elems[1]);
	return true;
}

/*
 * inv_key_kept
 *		Whether the columns of a foreign key are among those the direct
 *		writes never change: a product's key and a slot's number.  Its check
 *		on update can then be left out, as the UPDATE leaves it out when the
 *		key has not changed.
 */
static bool
inv_key_kept(InvWriter *w, Oid constraint)
{
	HeapTuple	tuple;
	Datum		datum;
	Datum	   *columns;
	int			ncolumns;
	bool		isnull;
	bool		kept = true;
	int			i;

	tuple = SearchSysCache1(CONSTROID, ObjectIdGetDatum(constraint));
	if (!HeapTupleIsValid(tuple))
		return false;
	datum = SysCacheGetAttr(CONSTROID, tuple, Anum_pg_constraint_conkey,
							&isnull);
	if (isnull)
		kept = false;
	else
	{
		deconstruct_array(DatumGetArrayTypeP(datum), INT2OID, 2, true,
						  TYPALIGN_SHORT, &columns, NULL, &ncolumns);
		for (i = 0; i < ncolumns && kept; i++)
		{
			AttrNumber	attnum = DatumGetInt16(columns[i]);

			kept = attnum == w->att_supplier || attnum == w->att_product ||
				attnum == w->att_slot ||
				(w->kind == INV_WRITER_STOCK && attnum == w->att_mto);
		}
	}
	ReleaseSysCache(tuple);
	return kept;
}

/*
 * inv_product_reference
 *		Whether a foreign key constraint of the reservation table is the
 *		one to the product, (supplier_id, product_id) referencing a plain
 *		unique key; if so, remember the table and key for the check that
 *		inv_reservation_insert makes in its place.
 */
static bool
inv_product_reference(InvWriter *w, Oid constraint)
{
	HeapTuple	tuple;
	Form_pg_constraint con;
	int16		conkey[2];
	int16		confkey[2];
	bool		ok;

	tuple = SearchSysCache1(CONSTROID, ObjectIdGetDatum(constraint));
	if (!HeapTupleIsValid(tuple))
		return false;
	con = (Form_pg_constraint) GETSTRUCT(tuple);
	ok = con->contype == CONSTRAINT_FOREIGN && !con->condeferrable &&
		inv_constraint_columns(tuple, Anum_pg_constraint_conkey, conkey) &&
		inv_constraint_columns(tuple, Anum_pg_constraint_confkey, confkey) &&
		conkey[0] == w->att_supplier && conkey[1] == w->att_product;
	w->product_relid = con->confrelid;
	w->product_key = con->conindid;
	ReleaseSysCache(tuple);

	/* The referenced key: the product's (supplier_id, product_id), a b-tree */
	if (ok)
	{
		Relation	product = table_open(w->product_relid, AccessShareLock);
		Relation	key = index_open(w->product_key, AccessShareLock);
		TupleDesc	desc = RelationGetDescr(product);
		Form_pg_index form = key->rd_index;

		ok = product->rd_rel->relkind == RELKIND_RELATION &&
			!product->rd_rel->relhassubclass &&
			key->rd_rel->relam == BTREE_AM_OID &&
			form->indisunique && form->indimmediate &&
			form->indnkeyatts == 2 &&
			form->indkey.values[0] == confkey[0] &&
			form->indkey.values[1] == confkey[1] &&
			inv_slot_attnum(desc, "supplier_id", INT8OID) == confkey[0] &&
			inv_slot_attnum(desc, "product_id", INT8OID) == confkey[1];
		w->product_att_mto = inv_slot_attnum(desc, "made_to_order", BOOLOID);
		ok = ok && w->product_att_mto != 0;
		index_close(key, AccessShareLock);
		table_close(product, AccessShareLock);
	}
	if (!ok)
		w->product_relid = w->product_key = InvalidOid;
	return ok;
}

/*
 * inv_reservation_insert_prepare
 *		Learn what inserting a reservation straight into the table needs:
 *		the unique key of an order line, the columns' defaults, and the
 *		product key that the foreign key references.  Leaves line_key
 *		invalid (every insertion then goes through the INSERT) when the
 *		table is not as this file knows it.  Runs in the writer's context.
 */
static void
inv_reservation_insert_prepare(InvWriter *w, Relation rel)
{
	TupleDesc	tupdesc = RelationGetDescr(rel);
	TriggerDesc *trigdesc = w->trigdesc;
	Oid			constraint = InvalidOid;
	Oid			line_key = InvalidOid;
	ListCell   *lc;
	int			i;

	w->att_line_fence = inv_slot_attnum(tupdesc, "lock_fence", INT8OID);
	w->att_ship_date = inv_slot_attnum(tupdesc, "ship_date", DATEOID);
	if (!w->att_line_fence || !w->att_ship_date)
		return;

	/*
	 * RETURNING * returns every column: none may be dropped.  A domain's
	 * constraints would be tested by the INSERT's coercions, not here, and
	 * an identity column other than the id would refuse the INSERT's value.
	 */
	for (i = 0; i < tupdesc->natts; i++)
		if (TupleDescAttr(tupdesc, i)->attisdropped ||
			TupleDescAttr(tupdesc, i)->attgenerated ||
			get_typtype(TupleDescAttr(tupdesc, i)->atttypid) ==
			TYPTYPE_DOMAIN ||
			(TupleDescAttr(tupdesc, i)->attidentity &&
			 i + 1 != w->att_id))
			return;

	/* Of the insert triggers, only the foreign key check, made here */
	if (trigdesc != NULL)
	{
		if (trigdesc->trig_insert_before_row ||
			trigdesc->trig_insert_instead_row ||
			trigdesc->trig_insert_before_statement ||
			trigdesc->trig_insert_after_statement ||
			trigdesc->trig_insert_new_table)
			return;
		for (i = 0; i < trigdesc->numtriggers; i++)
		{
			Trigger    *trigger = &trigdesc->triggers[i];

			if (!TRIGGER_FOR_INSERT(trigger->tgtype))
				continue;
			if (trigger->tgfoid != F_RI_FKEY_CHECK_INS ||
				OidIsValid(constraint))
				return;
			constraint = trigger->tgconstraint;
		}
	}
	if (!OidIsValid(constraint) || !inv_product_reference(w, constraint))
		return;

	/* The defaults of the columns the order path leaves to the table */
	w->defaults = palloc0(sizeof(ExprState *) * tupdesc->natts);
	for (i = 0; i < tupdesc->natts; i++)
	{
		AttrNumber	attnum = i + 1;
		Expr	   *expr;

		if (attnum == w->att_supplier || attnum == w->att_order_ref ||
			attnum == w->att_product || attnum == w->att_slot ||
			attnum == w->att_retailer || attnum == w->att_quantity ||
			attnum == w->att_expires || attnum == w->att_token ||
			attnum == w->att_line_fence || attnum == w->att_ship_date)
			continue;
		expr = (Expr *) build_column_default(rel, attnum);
		if (expr != NULL)
			w->defaults[i] = ExecInitExpr(expression_planner(expr), NULL);
	}

	/* The order line's unique key, which ON CONFLICT names */
	foreach(lc, RelationGetIndexList(rel))
	{
		Relation	index = index_open(lfirst_oid(lc), AccessShareLock);
		Form_pg_index form = index->rd_index;

		if (form->indisunique && form->indimmediate && form->indisvalid &&
			form->indnkeyatts == 3 && form->indnatts == 3 &&
			form->indkey.values[0] == w->att_supplier &&
			form->indkey.values[1] == w->att_order_ref &&
			form->indkey.values[2] == w->att_product &&
			heap_attisnull(index->rd_indextuple, Anum_pg_index_indpred, NULL))
			line_key = RelationGetRelid(index);
		index_close(index, AccessShareLock);
	}
	w->line_key = line_key;
}

/*
 * inv_slot_writer_build
 *		Learn a table's shape from the open relation, and prepare its
 *		constraints, generated columns, index predicates and triggers;
 *		install it as the current writer of its kind and return it, or
 *		return NULL if an invalidation arrived meanwhile (the caller then
 *		uses its statement this once).
 */
static InvWriter *
inv_slot_writer_build(Relation rel, InvWriterKind kind)
{
	uint64		resets = inv_slot_writer_resets;
	MemoryContext cxt;
	MemoryContext old;
	InvWriter  *w;
	TupleDesc	tupdesc = RelationGetDescr(rel);
	TriggerDesc *trigdesc;
	List	   *indexes;
	ListCell   *lc;
	int			i;
	bool		shape_ok;

	if (!inv_slot_writer_callbacks)
	{
		CacheRegisterRelcacheCallback(inv_slot_writer_relcache, (Datum) 0);
		CacheRegisterSyscacheCallback(PROCOID, inv_slot_writer_syscache,
									  (Datum) 0);
		inv_slot_writer_callbacks = true;
	}

	cxt = AllocSetContextCreate(CacheMemoryContext, "inventory direct writer",
								ALLOCSET_SMALL_SIZES);
	old = MemoryContextSwitchTo(cxt);
	w = palloc0(sizeof(InvWriter));
	w->kind = kind;
	w->cxt = cxt;
	w->relid = RelationGetRelid(rel);
	w->tupdesc = CreateTupleDescCopyConstr(tupdesc);

	/*
	 * The relation's own trigger descriptor is replaced whenever its cache
	 * entry is rebuilt, which opening any relation may do (a trigger that
	 * this file fires opens the ledger): only a copy can be kept.
	 */
	w->trigdesc = CopyTriggerDesc(rel->trigdesc);
	trigdesc = w->trigdesc;

	/* The table as the order path knows it, and nothing the UPDATE adds */
	w->att_supplier = inv_slot_attnum(tupdesc, "supplier_id", INT8OID);
	w->att_product = inv_slot_attnum(tupdesc, "product_id", INT8OID);
	w->att_slot = inv_slot_attnum(tupdesc, "slot", INT2OID);
	if (kind == INV_WRITER_STOCK)
	{
		w->att_mto = inv_slot_attnum(tupdesc, "made_to_order", BOOLOID);
		w->att_level = inv_slot_attnum(tupdesc, "stock_level", INT8OID);
		w->att_reserved = inv_slot_attnum(tupdesc, "reserved", INT8OID);
		w->att_committed = inv_slot_attnum(tupdesc, "committed", INT8OID);
		w->att_fence = inv_slot_attnum(tupdesc, "lock_fence", INT8OID);
		w->att_ring = inv_slot_attnum(tupdesc, "ring_fenced", INT8OID);
		shape_ok = w->att_mto && w->att_level && w->att_reserved &&
			w->att_committed && w->att_fence && w->att_ring &&
			strcmp(RelationGetRelationName(rel), "stock_slot") == 0;
	}
	else
	{
		w->att_id = inv_slot_attnum(tupdesc, "reservation_id", INT8OID);
		w->att_order_ref = inv_slot_attnum(tupdesc, "order_ref", TEXTOID);
		w->att_quantity = inv_slot_attnum(tupdesc, "quantity", INT8OID);
		w->att_expires = inv_slot_attnum(tupdesc, "expires_at",
										 TIMESTAMPTZOID);
		w->att_updated = inv_slot_attnum(tupdesc, "updated_at",
										 TIMESTAMPTZOID);
		w->att_token = inv_slot_attnum(tupdesc, "lock_token", TEXTOID);
		w->att_retailer = inv_slot_attnum(tupdesc, "retailer_id", TEXTOID);
		w->att_fenced = inv_slot_attnum(tupdesc, "fenced_quantity", INT8OID);
		for (i = 0; i < tupdesc->natts; i++)
			if (!TupleDescAttr(tupdesc, i)->attisdropped &&
				strcmp(NameStr(TupleDescAttr(tupdesc, i)->attname),
					   "state") == 0 &&
				type_is_enum(TupleDescAttr(tupdesc, i)->atttypid))
				w->att_state = i + 1;
		shape_ok = w->att_id && w->att_order_ref && w->att_quantity &&
			w->att_expires && w->att_updated && w->att_token &&
			w->att_retailer && w->att_fenced && w->att_state &&
			strcmp(RelationGetRelationName(rel), "reservation") == 0;
	}
	if (!shape_ok || !w->att_supplier || !w->att_product || !w->att_slot ||
		rel->rd_rel->relkind != RELKIND_RELATION ||
		rel->rd_rel->relhasrules || rel->rd_rel->relhassubclass ||
		rel->rd_rel->relispartition || rel->rd_rel->relrowsecurity)
		goto unusable;

	/* Indexes on columns, one of them the key a row is found by */
	indexes = RelationGetIndexList(rel);
	w->indexes = palloc0(sizeof(Oid) * Max(list_length(indexes), 1));
	w->index_preds = palloc0(sizeof(ExprState *) *
							 Max(list_length(indexes), 1));
	foreach(lc, indexes)
	{
		Relation	index = index_open(lfirst_oid(lc), AccessShareLock);
		Form_pg_index form = index->rd_index;
		bool		plain;
		bool		is_key;

		plain = form->indimmediate && !form->indisexclusion &&
			heap_attisnull(index->rd_indextuple, Anum_pg_index_indexprs,
						   NULL);
		is_key = plain && form->indisunique && form->indisvalid &&
			index->rd_rel->relam == BTREE_AM_OID &&
			heap_attisnull(index->rd_indextuple, Anum_pg_index_indpred, NULL);
		if (kind == INV_WRITER_STOCK)
			is_key = is_key && form->indnkeyatts == 3 &&
				form->indkey.values[0] == w->att_supplier &&
				form->indkey.values[1] == w->att_product &&
				form->indkey.values[2] == w->att_slot;
		else
			is_key = is_key && form->indnkeyatts == 2 &&
				form->indkey.values[0] == w->att_supplier &&
				form->indkey.values[1] == w->att_id;
		if (is_key)
			w->pkey = RelationGetRelid(index);
		if (plain &&
			!heap_attisnull(index->rd_indextuple, Anum_pg_index_indpred, NULL))
		{
			Expr	   *pred = (Expr *) RelationGetIndexPredicate(index);

			w->index_preds[w->nindexes] =
				ExecInitQual((List *) expression_planner(pred), NULL);
		}
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

		if (att->attisdropped ||
			att->attgenerated != ATTRIBUTE_GENERATED_STORED)
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
		w->trig_body = palloc0(sizeof(InvTriggerBody) * Max(w->ntriggers, 1));
		for (i = 0; i < trigdesc->numtriggers; i++)
		{
			Trigger    *trigger = &trigdesc->triggers[i];

			if (!TRIGGER_FOR_UPDATE(trigger->tgtype))
				continue;
			if (trigger->tgfoid == F_RI_FKEY_CHECK_UPD &&
				!inv_key_kept(w, trigger->tgconstraint))
				goto unusable;
			if (!inv_known_trigger(rel, trigger,
								   kind == INV_WRITER_STOCK ?
								   inv_stock_triggers :
								   inv_reservation_triggers))
				goto unusable;
			if (trigger->tgfoid != F_RI_FKEY_CHECK_UPD)
			{
				fmgr_info_cxt(trigger->tgfoid, &w->trig_fn[i], cxt);
				inv_trigger_body_prepare(&w->trig_fn[i], &w->trig_body[i],
										 cxt);
			}
		}
	}

	/* What inserting a reservation needs */
	if (kind == INV_WRITER_RESERVATION)
		inv_reservation_insert_prepare(w, rel);

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
	inv_writers[kind] = w;
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
 * inv_trigger_body_prepare
 *		Fill *body for the trigger function fn, if it is a C function whose
 *		only wrapping is SECURITY DEFINER and a SET search_path.
 */
static void
inv_trigger_body_prepare(FmgrInfo *fn, InvTriggerBody *body,
						 MemoryContext cxt)
{
	HeapTuple	proctup;
	Form_pg_proc proc;
	Datum		datum;
	bool		isnull;
	char	   *probin;
	char	   *prosrc;

	memset(body, 0, sizeof(InvTriggerBody));
	if (FmgrHookIsNeeded(fn->fn_oid))
		return;
	proctup = SearchSysCache1(PROCOID, ObjectIdGetDatum(fn->fn_oid));
	if (!HeapTupleIsValid(proctup))
		return;
	proc = (Form_pg_proc) GETSTRUCT(proctup);
	if (proc->prolang != ClanguageId)
		goto done;

	/* Settings: none, or search_path alone */
	datum = SysCacheGetAttr(PROCOID, proctup, Anum_pg_proc_proconfig,
							&isnull);
	if (!isnull)
	{
		Datum	   *settings;
		int			nsettings;
		char	   *setting;

		deconstruct_array(DatumGetArrayTypeP(datum), TEXTOID, -1, false,
						  TYPALIGN_INT, &settings, NULL, &nsettings);
		if (nsettings != 1)
			goto done;
		setting = TextDatumGetCString(settings[0]);
		if (strncmp(setting, "search_path=", strlen("search_path=")) != 0)
			goto done;
		body->path = MemoryContextStrdup(cxt,
										 setting + strlen("search_path="));
	}
	else if (!proc->prosecdef)
		goto done;				/* no wrapper to leave out */
	body->owner = proc->prosecdef ? proc->proowner : InvalidOid;

	/* The function itself, as the wrapper would find it */
	datum = SysCacheGetAttr(PROCOID, proctup, Anum_pg_proc_probin, &isnull);
	if (isnull)
		goto done;
	probin = TextDatumGetCString(datum);
	datum = SysCacheGetAttr(PROCOID, proctup, Anum_pg_proc_prosrc, &isnull);
	if (isnull)
		goto done;
	prosrc = TextDatumGetCString(datum);
	body->fn = *fn;
	body->fn.fn_addr = load_external_function(probin, prosrc, false, NULL);
	body->fn.fn_extra = NULL;
	body->fn.fn_stats = TRACK_FUNC_PL;	/* as for any C function */

done:
	if (body->fn.fn_addr == NULL)
		body->path = NULL;
	ReleaseSysCache(proctup);
}

/*
 * inv_trigger_body_usable
 *		Whether calling body directly is the same as calling its function
 *		through the wrapper: the current user is the one it would switch to,
 *		search_path is already the one it would set, and no module loaded
 *		since has asked to hook the call.
 */
static inline bool
inv_trigger_body_usable(InvTriggerBody *body)
{
	if (body->fn.fn_addr == NULL || FmgrHookIsNeeded(body->fn.fn_oid))
		return false;
	if (OidIsValid(body->owner) && GetUserId() != body->owner)
		return false;
	return body->path == NULL ||
		(namespace_search_path != NULL &&
		 strcmp(namespace_search_path, body->path) == 0);
}

/*
 * inv_fire_after_update
 *		Fire the table's AFTER ROW UPDATE triggers for one updated row.
 */
static void
inv_fire_after_update(InvWriter *w, Relation rel, HeapTuple oldtuple,
					  HeapTuple newtuple)
{
	TriggerDesc *trigdesc = w->trigdesc;
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
		InitFunctionCallInfoData(*fcinfo,
								 inv_trigger_body_usable(&w->trig_body[i]) ?
								 &w->trig_body[i].fn : &w->trig_fn[i],
								 0, InvalidOid, (Node *) &trigdata, NULL);
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
inv_check_new_row(InvWriter *w, Datum *values, bool *nulls)
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
	slot->tts_tableOid = w->relid;
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
inv_insert_index_entries(InvWriter *w, Relation rel, HeapTuple tuple,
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

		if (info->ii_ReadyForInserts && w->index_preds[i] != NULL)
		{
			ExprContext *econtext = w->econtext;
			bool		matches;

			/* A partial index takes only the rows its predicate admits */
			ExecClearTuple(w->newslot);
			memcpy(w->newslot->tts_values, values,
				   sizeof(Datum) * w->tupdesc->natts);
			memcpy(w->newslot->tts_isnull, nulls,
				   sizeof(bool) * w->tupdesc->natts);
			ExecStoreVirtualTuple(w->newslot);
			econtext->ecxt_scantuple = w->newslot;
			matches = ExecQual(w->index_preds[i], econtext);
			ResetExprContext(econtext);
			ExecClearTuple(w->newslot);
			if (!matches)
			{
				index_close(index, NoLock);
				continue;
			}
		}
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
inv_apply_update(InvWriter *w, const InvStockUpdate *u, Datum *values,
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
 * inv_direct_writes_allowed
 *		Whether the transaction is one where a direct write behaves exactly
 *		as its statement would: READ COMMITTED, read-write, not parallel,
 *		not in recovery.
 */
static bool
inv_direct_writes_allowed(void)
{
	return XactIsoLevel == XACT_READ_COMMITTED && !XactReadOnly &&
		!IsInParallelMode() && !RecoveryInProgress();
}

/*
 * inv_writer_open
 *		Open one of the tables with the given lock, and its writer (built if
 *		need be); return the writer, marked busy, with the relation in
 *		*relp, or NULL with nothing held when the caller must use its
 *		statement.  The caller lets the writer go with inv_writer_release.
 */
static InvWriter *
inv_writer_open(InvWriterKind kind, LOCKMODE lockmode, Relation *relp)
{
	InvWriter  *w = inv_writers[kind];
	Relation	rel;
	Oid			relid;

	if (w != NULL)
		relid = w->relid;
	else
	{
		Oid			nsp = get_namespace_oid("inventory", true);

		relid = !OidIsValid(nsp) ? InvalidOid :
			get_relname_relid(kind == INV_WRITER_STOCK ?
							  "stock_slot" : "reservation", nsp);
		if (!OidIsValid(relid))
			return NULL;
	}

	/* Opening may process invalidations that reset the writer */
	rel = try_table_open(relid, lockmode);
	if (rel == NULL)
	{
		inv_slot_writer_reset(kind);
		return NULL;
	}
	w = inv_writers[kind];
	if (w != NULL && w->busy > 0)
	{
		/*
		 * A call made from inside another's write (a CHECK constraint or a
		 * trigger that orders): its slots and expression context hold the
		 * outer row, so the inner one runs its statement.
		 */
		table_close(rel, lockmode);
		return NULL;
	}
	if (w == NULL || w->relid != relid)
	{
		inv_slot_writer_reset(kind);
		w = inv_slot_writer_build(rel, kind);
		if (w == NULL)
		{
			table_close(rel, lockmode);
			return NULL;
		}
	}
	w->busy++;
	*relp = rel;
	return w;
}

/*
 * inv_writer_release
 *		Let go of a writer; free it if it was invalidated meanwhile.
 */
static void
inv_writer_release(InvWriter *w)
{
	if (w != NULL && --w->busy == 0 && w != inv_writers[w->kind])
		inv_slot_writer_free(w);
}

/*
 * inv_writer_release_on_error
 *		Let go of a writer whose user is failing: first empty its slots,
 *		which may hold a pin on the page of a row it was waiting for.  The
 *		pin is still ours here; once the transaction aborts it is dropped
 *		behind the slot's back, and the next use of the slot would release
 *		a pin the backend no longer holds.
 */
static void
inv_writer_release_on_error(InvWriter *w)
{
	if (w == NULL)
		return;
	if (w->oldslot != NULL)
		ExecClearTuple(w->oldslot);
	if (w->newslot != NULL)
		ExecClearTuple(w->newslot);
	inv_writer_release(w);
}

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
	InvWriter  *volatile writer = NULL;
	volatile int result = -1;

	/* The writer may be invalidated while in use: free it only after */
	PG_TRY();
	{
		result = inv_stock_update_once(u, (InvWriter **) &writer);
	}
	PG_CATCH();
	{
		(void) inv_swap_change(outer_change);
		inv_writer_release_on_error(writer);
		PG_RE_THROW();
	}
	PG_END_TRY();
	(void) inv_swap_change(outer_change);
	inv_writer_release(writer);

	return result;
}

/*
 * inv_slot0_refetch
 *		Load into w->oldslot the version of slot 0 that inv_stock_slot_count
 *		saw in this transaction, if u is its update and that version is
 *		still the one snapshot sees: the row the key would lead to.
 */
static bool
inv_slot0_refetch(InvWriter *w, Relation rel, const InvStockUpdate *u,
				  Snapshot snapshot)
{
	ItemPointerData tid = inv_slot0_seen.tid;
	bool		isnull;

	if (u->slot != 0 || !ItemPointerIsValid(&tid) ||
		inv_slot0_seen.lxid != MyProc->lxid ||
		inv_slot0_seen.subxid != GetCurrentSubTransactionId() ||
		!RelFileNodeEquals(inv_slot0_seen.node, rel->rd_node) ||
		inv_slot0_seen.supplier_id != u->supplier_id ||
		inv_slot0_seen.product_id != u->product_id)
		return false;
	ItemPointerSetInvalid(&inv_slot0_seen.tid);

	/* Visible, and still that row (the slot may have been reused) */
	if (!table_tuple_fetch_row_version(rel, &tid, snapshot, w->oldslot))
		return false;
	if (DatumGetInt64(slot_getattr(w->oldslot, w->att_supplier, &isnull)) ==
		u->supplier_id && !isnull &&
		DatumGetInt64(slot_getattr(w->oldslot, w->att_product, &isnull)) ==
		u->product_id && !isnull &&
		DatumGetInt16(slot_getattr(w->oldslot, w->att_slot, &isnull)) == 0 &&
		!isnull)
		return true;
	ExecClearTuple(w->oldslot);
	return false;
}

/*
 * inv_stock_update_once
 *		Body of inv_stock_update, with the writer in *writer once it has
 *		one (marked busy), so that the caller can let it go.
 */
static int
inv_stock_update_once(const InvStockUpdate *u, InvWriter **writer)
{
	InvWriter  *w;
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
	if (!inv_direct_writes_allowed())
		return -1;

	/* The table, and what we know of it */
	w = inv_writer_open(INV_WRITER_STOCK, RowExclusiveLock, &rel);
	if (w == NULL)
		return -1;
	*writer = w;
	relid = w->relid;
	if (!w->usable ||
		(rel->trigdesc == NULL ? w->ntriggers != 0 :
		 rel->trigdesc->numtriggers != w->ntriggers))
		goto fallback;

	/* The rights an UPDATE needs, and a replica identity if published */
	if (pg_class_aclmask(relid, GetUserId(), ACL_SELECT | ACL_UPDATE,
						 ACLMASK_ALL) != (ACL_SELECT | ACL_UPDATE))
		goto fallback;
	CheckCmdReplicaIdentity(rel, CMD_UPDATE);
	if (w->trigdesc != NULL)
		for (i = 0; i < w->trigdesc->numtriggers; i++)
			if (w->trigdesc->triggers[i].tgfoid == F_RI_FKEY_CHECK_UPD &&
				inv_trigger_enabled(&w->trigdesc->triggers[i]))
				fk_check_on_own_rows = true;

	/* A statement of its own, as SPI would run it */
	CommandCounterIncrement();
	PushActiveSnapshot(GetTransactionSnapshot());
	snapshot = GetActiveSnapshot();
	cid = GetCurrentCommandId(true);

	/* Find the row: where the count just saw it, or through the key */
	found = inv_slot0_refetch(w, rel, u, snapshot);
	if (!found)
	{
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
	}

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
		TransactionId xmin;
		bool		qualifies;

		oldtuple = ExecFetchSlotHeapTuple(w->oldslot, false, NULL);
		tid = oldtuple->t_self;
		xmin = HeapTupleHeaderGetXmin(oldtuple->t_data);
		if (fk_check_on_own_rows && TransactionIdIsCurrentTransactionId(xmin))
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
 * inv_slot_has_units
 *		Whether a stock row in slot can take an order of quantity units on
 *		its own: made to order, or its shared pool (available less what is
 *		ring-fenced) holds them.
 */
static bool
inv_slot_has_units(InvWriter *w, TupleTableSlot *slot, int64 quantity)
{
	bool		isnull[4];
	bool		made_to_order;
	int64		level;
	int64		reserved;
	int64		ring;
	int64		shared;

	made_to_order = DatumGetBool(slot_getattr(slot, w->att_mto, &isnull[0]));
	level = DatumGetInt64(slot_getattr(slot, w->att_level, &isnull[1]));
	reserved = DatumGetInt64(slot_getattr(slot, w->att_reserved, &isnull[2]));
	ring = DatumGetInt64(slot_getattr(slot, w->att_ring, &isnull[3]));
	if (isnull[0] || isnull[1] || isnull[2] || isnull[3])
		return false;
	if (made_to_order)
		return true;
	if (pg_sub_s64_overflow(level, reserved, &shared) ||
		pg_sub_s64_overflow(shared, ring, &shared))
		return false;
	return shared >= quantity;
}

/*
 * inv_slot_wait
 *		Wait for the holder of a slot's row version *tid and lock it, as FOR
 *		NO KEY UPDATE does; true if locked.  When the holder changed the
 *		row, its new version is read and, if it still has quantity units,
 *		waited for and locked in turn; false, having locked nothing, once a
 *		version lacks them or the row is gone.
 *
 * Each version is read before it is locked, and only that version is
 * locked (a newer one makes the lock fail and is read in its turn), so
 * that nothing is ever locked that turns out to lack the units.
 */
static bool
inv_slot_wait(InvWriter *w, Relation rel, ItemPointer tid, Snapshot snapshot,
			  CommandId cid, int64 quantity)
{
	SnapshotData dirty;

	InitDirtySnapshot(dirty);
	for (;;)
	{
		TM_FailureData tmfd;
		TM_Result	status;

		status = table_tuple_lock(rel, tid, snapshot, w->oldslot, cid,
								  LockTupleNoKeyExclusive, LockWaitBlock, 0,
								  &tmfd);
		ExecClearTuple(w->oldslot);
		if (status == TM_Ok)
			return true;
		if (status != TM_Updated || ItemPointerEquals(tid, &tmfd.ctid))
			return false;

		/* Its holder changed it: does the new version still do? */
		*tid = tmfd.ctid;
		if (!table_tuple_fetch_row_version(rel, tid, &dirty, w->oldslot) ||
			!inv_slot_has_units(w, w->oldslot, quantity))
		{
			ExecClearTuple(w->oldslot);
			return false;
		}
		ExecClearTuple(w->oldslot);
		CHECK_FOR_INTERRUPTS();
	}
}

/*
 * inv_stock_claim_slot
 *		Lock, as FOR NO KEY UPDATE does, one slot of a several-slot product
 *		that can take quantity units on its own, and return its number.
 *		Returns INV_CLAIM_NONE when, after the given number of rounds, no
 *		slot was found with the units (the caller rebalances), and
 *		INV_CLAIM_STATEMENT, having locked nothing, when the caller must
 *		use its statements instead (see the file header).
 *
 * A first look at the backend's own slot (its backend id modulo the number
 * of slots) takes it if it has the units and nobody holds it.  Otherwise
 * each round reads all the product's slots through the key with a new
 * snapshot, then tries those with the units in turn from the backend's own
 * slot, skipping any that another transaction holds.  If all of those are
 * held, it waits for one picked at random (so that backends starting from
 * the same slot do not all queue on it) and takes it if it still has the
 * units once its holder is done.
 *
 * Everything runs in the caller's transaction: a lock taken in a
 * subtransaction would make the stock update that follows write a
 * MultiXact, which on a hot product costs more than the rest of the order.
 * Since a row lock cannot be given back before the transaction ends, only
 * the very version found to have the units is ever locked: one that
 * another transaction changed meanwhile is read again, never locked
 * unseen.  So the order holds no slot of the product while it waits for
 * one, or when the caller goes on to rebalance, and cannot deadlock with
 * another order of the product.
 */
int
inv_stock_claim_slot(int64 supplier_id, int64 product_id, int nslots,
					 int64 quantity, int rounds)
{
	InvWriter  *volatile writer = NULL;
	int			result;

	/* The writer may be invalidated while in use: free it only after */
	PG_TRY();
	{
		result = inv_stock_claim_slot_once(supplier_id, product_id, nslots,
										   quantity, rounds,
										   (InvWriter **) &writer);
	}
	PG_CATCH();
	{
		inv_writer_release_on_error(writer);
		PG_RE_THROW();
	}
	PG_END_TRY();
	inv_writer_release(writer);

	return result;
}

/*
 * inv_stock_claim_slot_once
 *		Body of inv_stock_claim_slot, with the writer in *writer once it
 *		has one (marked busy), so that the caller can let it go.
 */
static pg_noinline int
inv_stock_claim_slot_once(int64 supplier_id, int64 product_id, int nslots,
						  int64 quantity, int rounds, InvWriter **writer)
{
	InvWriter  *w;
	Relation	rel;
	Relation	pkey;
	ItemPointerData tids[INV_MAX_SLOTS];
	bool		candidate[INV_MAX_SLOTS];
	int			busy[INV_MAX_SLOTS];
	int			start;
	int			round;
	int			result = INV_CLAIM_STATEMENT;

	/* Only where the locking SELECT would behave exactly as this does */
	if (!inv_direct_writes_allowed() ||
		nslots < 1 || nslots > INV_MAX_SLOTS)
		return INV_CLAIM_STATEMENT;

	w = inv_writer_open(INV_WRITER_STOCK, RowExclusiveLock, &rel);
	if (w == NULL)
		return INV_CLAIM_STATEMENT;
	*writer = w;
	if (!w->usable ||
		pg_class_aclmask(w->relid, GetUserId(), ACL_SELECT | ACL_UPDATE,
						 ACLMASK_ALL) != (ACL_SELECT | ACL_UPDATE))
	{
		table_close(rel, NoLock);
		return INV_CLAIM_STATEMENT;
	}

	pkey = index_open(w->pkey, AccessShareLock);
	start = MyBackendId % nslots;
	result = INV_CLAIM_NONE;
	for (round = 0; round <= rounds && result == INV_CLAIM_NONE; round++)
	{
		Snapshot	snapshot;
		CommandId	cid;
		IndexScanDesc scan;
		ScanKeyData keys[3];
		TM_FailureData tmfd;
		TM_Result	status;
		bool		own_only = round == 0;
		bool		any_candidate = false;
		bool		changed = false;
		int			nbusy = 0;
		int			i;

		/* A statement of its own, as SPI would run it */
		CommandCounterIncrement();
		PushActiveSnapshot(GetTransactionSnapshot());
		snapshot = GetActiveSnapshot();
		cid = GetCurrentCommandId(true);

		/*
		 * The product's slots as of now, and those with the units.  The first
		 * round looks at our own slot alone, which is usually free when the
		 * product has about a slot per busy backend.
		 */
		memset(candidate, 0, sizeof(candidate));
		ScanKeyInit(&keys[0], 1, BTEqualStrategyNumber, F_INT8EQ,
					Int64GetDatum(supplier_id));
		ScanKeyInit(&keys[1], 2, BTEqualStrategyNumber, F_INT8EQ,
					Int64GetDatum(product_id));
		ScanKeyInit(&keys[2], 3, BTEqualStrategyNumber, F_INT2EQ,
					Int16GetDatum(start));
		scan = index_beginscan(rel, pkey, snapshot, own_only ? 3 : 2, 0);
		index_rescan(scan, keys, own_only ? 3 : 2, NULL, 0);
		while (index_getnext_slot(scan, ForwardScanDirection, w->oldslot))
		{
			bool		isnull;
			int			slotno;

			slotno = DatumGetInt16(slot_getattr(w->oldslot, w->att_slot,
												&isnull));
			if (isnull || slotno < 0 || slotno >= nslots ||
				!inv_slot_has_units(w, w->oldslot, quantity))
				continue;
			candidate[slotno] = true;
			tids[slotno] = w->oldslot->tts_tid;
			any_candidate = true;
		}
		index_endscan(scan);
		ExecClearTuple(w->oldslot);

		/* None has them: the units are scattered, or not there */
		if (!any_candidate)
		{
			PopActiveSnapshot();
			if (own_only)
				continue;
			break;
		}

		/*
		 * The first one free, from our own slot on.  Only the version read
		 * above is locked, never a newer one: a lock taken is then on a row
		 * known to have the units.  A row changed since is passed over and
		 * read again in the next round.
		 */
		for (i = 0; i < nslots && result == INV_CLAIM_NONE; i++)
		{
			int			slotno = (start + i) % nslots;

			if (!candidate[slotno])
				continue;
			status = table_tuple_lock(rel, &tids[slotno], snapshot,
									  w->oldslot, cid,
									  LockTupleNoKeyExclusive, LockWaitSkip,
									  0, &tmfd);
			if (status == TM_Ok)
				result = slotno;
			else if (status == TM_WouldBlock)
				busy[nbusy++] = slotno;
			else
				changed = true;
			ExecClearTuple(w->oldslot);
		}

		/* All of them held: wait for one */
		if (result == INV_CLAIM_NONE && nbusy > 0 && !changed && !own_only)
		{
			int			slotno;

			slotno = busy[pg_prng_uint32(&pg_global_prng_state) % nbusy];
			if (inv_slot_wait(w, rel, &tids[slotno], snapshot, cid,
							  quantity))
				result = slotno;
		}
		PopActiveSnapshot();
		CHECK_FOR_INTERRUPTS();
	}
	index_close(pkey, AccessShareLock);
	table_close(rel, NoLock);
	return result;
}

/*
 * inv_stock_slot_count
 *		How many stock slots a product has (its highest slot number + 1, 0
 *		if none), read from the end of the table's key with a snapshot
 *		taken now, as a new statement would; -1 if the caller must run its
 *		SELECT instead (the table is not as this file knows it, or the
 *		caller may not read it).  The table stays locked, as by a SELECT,
 *		until the transaction ends (or the subtransaction, if it rolls back).
 */
int
inv_stock_slot_count(int64 supplier_id, int64 product_id)
{
	InvWriter  *w;
	Relation	rel;
	Relation	pkey;
	Oid			pkey_oid;
	AttrNumber	att_slot;
	TupleTableSlot *slot;
	IndexScanDesc scan;
	ScanKeyData keys[2];
	int			count = 0;

	w = inv_writer_open(INV_WRITER_STOCK, AccessShareLock, &rel);
	if (w == NULL)
		return -1;
	pkey_oid = w->pkey;
	att_slot = w->att_slot;
	inv_writer_release(w);
	if (!OidIsValid(pkey_oid) || rel->rd_rel->relrowsecurity ||
		rel->rd_rel->relhassubclass ||
		pg_class_aclcheck(RelationGetRelid(rel), GetUserId(),
						  ACL_SELECT) != ACLCHECK_OK)
	{
		table_close(rel, AccessShareLock);
		return -1;
	}

	ItemPointerSetInvalid(&inv_slot0_seen.tid);
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
		if (count == 1)
		{
			inv_slot0_seen.lxid = MyProc->lxid;
			inv_slot0_seen.subxid = GetCurrentSubTransactionId();
			inv_slot0_seen.node = rel->rd_node;
			inv_slot0_seen.supplier_id = supplier_id;
			inv_slot0_seen.product_id = product_id;
			inv_slot0_seen.tid = slot->tts_tid;
		}
	}
	index_endscan(scan);
	PopActiveSnapshot();
	ExecDropSingleTupleTableSlot(slot);
	index_close(pkey, NoLock);
	table_close(rel, NoLock);
	return count;
}

/*
 * inv_text_column
 *		A text column of a deformed row as a C string, or NULL.
 */
static char *
inv_text_column(Datum *values, bool *nulls, AttrNumber attnum)
{
	return nulls[attnum - 1] ? NULL : TextDatumGetCString(values[attnum - 1]);
}

/*
 * inv_reservation_lock_once
 *		Body of inv_reservation_lock, with the writer in *writer once it has
 *		one.
 */
static int
inv_reservation_lock_once(int64 supplier_id, int64 reservation_id,
						  bool skip_locked, InvHeldReservation *held,
						  InvWriter **writer)
{
	InvWriter  *w;
	Relation	rel;
	Relation	pkey;
	ScanKeyData keys[2];
	IndexScanDesc scan;
	Snapshot	snapshot;
	TM_FailureData tmfd;
	TM_Result	status;
	ItemPointerData tid;
	HeapTuple	tuple;
	Datum	   *values;
	bool	   *nulls;
	int			result = -1;

	if (!inv_direct_writes_allowed())
		return -1;
	w = inv_writer_open(INV_WRITER_RESERVATION, RowShareLock, &rel);
	if (w == NULL)
		return -1;
	*writer = w;

	/* FOR UPDATE needs the rights to read and to update */
	if (!w->usable ||
		pg_class_aclmask(w->relid, GetUserId(), ACL_SELECT | ACL_UPDATE,
						 ACLMASK_ALL) != (ACL_SELECT | ACL_UPDATE))
	{
		table_close(rel, NoLock);
		return -1;
	}

	/* The row through the key, as a new statement would see it */
	CommandCounterIncrement();
	PushActiveSnapshot(GetTransactionSnapshot());
	snapshot = GetActiveSnapshot();
	pkey = index_open(w->pkey, RowShareLock);
	ScanKeyInit(&keys[0], 1, BTEqualStrategyNumber, F_INT8EQ,
				Int64GetDatum(supplier_id));
	ScanKeyInit(&keys[1], 2, BTEqualStrategyNumber, F_INT8EQ,
				Int64GetDatum(reservation_id));
	scan = index_beginscan(rel, pkey, snapshot, 2, 0);
	index_rescan(scan, keys, 2, NULL, 0);
	if (!index_getnext_slot(scan, ForwardScanDirection, w->oldslot))
		result = 0;
	index_endscan(scan);
	index_close(pkey, NoLock);
	if (result == 0)
		goto done;

	/*
	 * Lock it; one that a concurrent transaction updated is followed to its
	 * newest version, as READ COMMITTED does, and skipped when asked to.
	 */
	tid = w->oldslot->tts_tid;
	status = table_tuple_lock(rel, &tid, snapshot, w->oldslot,
							  GetCurrentCommandId(false), LockTupleExclusive,
							  skip_locked ? LockWaitSkip : LockWaitBlock,
							  TUPLE_LOCK_FLAG_FIND_LAST_VERSION, &tmfd);
	if (status == TM_WouldBlock || status == TM_Deleted)
	{
		result = 0;
		goto done;
	}
	if (status != TM_Ok)
		goto done;				/* result -1: the SELECT decides */

	/* The version locked, which must still be the one asked for */
	tuple = ExecFetchSlotHeapTuple(w->oldslot, false, NULL);
	values = palloc(sizeof(Datum) * w->tupdesc->natts);
	nulls = palloc(sizeof(bool) * w->tupdesc->natts);
	heap_deform_tuple(tuple, w->tupdesc, values, nulls);
	if (nulls[w->att_supplier - 1] || nulls[w->att_id - 1] ||
		DatumGetInt64(values[w->att_supplier - 1]) != supplier_id ||
		DatumGetInt64(values[w->att_id - 1]) != reservation_id)
	{
		result = 0;
		goto done;
	}
	if (nulls[w->att_order_ref - 1] || nulls[w->att_product - 1] ||
		nulls[w->att_slot - 1] || nulls[w->att_quantity - 1] ||
		nulls[w->att_state - 1] || nulls[w->att_expires - 1] ||
		nulls[w->att_fenced - 1])
		goto done;
	held->tuple = heap_copytuple(tuple);
	held->tid = tuple->t_self;
	held->order_ref = inv_text_column(values, nulls, w->att_order_ref);
	held->product_id = DatumGetInt64(values[w->att_product - 1]);
	held->slot = DatumGetInt16(values[w->att_slot - 1]);
	held->quantity = DatumGetInt64(values[w->att_quantity - 1]);
	held->state = values[w->att_state - 1];
	held->expires_at = values[w->att_expires - 1];
	held->lapsed = DatumGetTimestampTz(held->expires_at) <=
		GetCurrentStatementStartTimestamp();
	held->lock_token = inv_text_column(values, nulls, w->att_token);
	held->retailer_id = inv_text_column(values, nulls, w->att_retailer);
	held->fenced_quantity = DatumGetInt64(values[w->att_fenced - 1]);
	result = 1;

done:
	ExecClearTuple(w->oldslot);
	PopActiveSnapshot();
	table_close(rel, NoLock);
	return result;
}

/*
 * inv_reservation_lock
 *		Find a reservation by its id and lock it FOR UPDATE, as the SELECT
 *		of inv_transition would; return 1 with the row in *held, 0 if there
 *		is no such row (or, with skip_locked, it is locked by another
 *		transaction), or -1 having locked nothing when the caller must run
 *		its SELECT (see the file header).  The caller must be connected to
 *		SPI; *held is allocated in the current memory context.
 */
int
inv_reservation_lock(int64 supplier_id, int64 reservation_id,
					 bool skip_locked, InvHeldReservation *held)
{
	InvWriter  *volatile writer = NULL;
	volatile int result = -1;

	PG_TRY();
	{
		result = inv_reservation_lock_once(supplier_id, reservation_id,
										   skip_locked, held,
										   (InvWriter **) &writer);
	}
	PG_CATCH();
	{
		inv_writer_release_on_error(writer);
		PG_RE_THROW();
	}
	PG_END_TRY();
	inv_writer_release(writer);

	return result;
}

/*
 * inv_row_version_updated
 *		Whether a row version has been updated or deleted since it was read
 *		(a lock alone does not count).  For a row this transaction holds
 *		locked, only the transaction itself can have done it.
 */
static bool
inv_row_version_updated(Relation rel, ItemPointer tid)
{
	Buffer		buffer;
	Page		page;
	OffsetNumber offset = ItemPointerGetOffsetNumber(tid);
	ItemId		item;
	HeapTupleHeader tuple;
	bool		updated = true;

	buffer = ReadBuffer(rel, ItemPointerGetBlockNumber(tid));
	LockBuffer(buffer, BUFFER_LOCK_SHARE);
	page = BufferGetPage(buffer);
	if (offset <= PageGetMaxOffsetNumber(page))
	{
		item = PageGetItemId(page, offset);
		if (ItemIdIsNormal(item))
		{
			tuple = (HeapTupleHeader) PageGetItem(page, item);
			updated = !(tuple->t_infomask & HEAP_XMAX_INVALID) &&
				!HEAP_XMAX_IS_LOCKED_ONLY(tuple->t_infomask);
		}
	}
	UnlockReleaseBuffer(buffer);
	return updated;
}

/*
 * inv_reservation_set_state_once
 *		Body of inv_reservation_set_state, with the writer in *writer once
 *		it has one.
 */
static int
inv_reservation_set_state_once(const InvHeldReservation *held,
							   const char *state, Datum *new_state,
							   InvWriter **writer)
{
	InvWriter  *w;
	Relation	rel;
	Datum	   *values;
	bool	   *nulls;
	HeapTuple	newtuple;
	ItemPointerData tid = held->tid;
	TM_FailureData tmfd;
	TM_Result	status;
	LockTupleMode lockmode;
	TransactionId xmin;
	Oid			state_type;
	int			result = -1;
	int			i;

	if (!inv_direct_writes_allowed())
		return -1;
	w = inv_writer_open(INV_WRITER_RESERVATION, RowExclusiveLock, &rel);
	if (w == NULL)
		return -1;
	*writer = w;
	if (!w->usable ||
		(rel->trigdesc == NULL ? w->ntriggers != 0 :
		 rel->trigdesc->numtriggers != w->ntriggers) ||
		pg_class_aclmask(w->relid, GetUserId(), ACL_SELECT | ACL_UPDATE,
						 ACLMASK_ALL) != (ACL_SELECT | ACL_UPDATE))
	{
		table_close(rel, NoLock);
		return -1;
	}
	CheckCmdReplicaIdentity(rel, CMD_UPDATE);

	/* A row this transaction created has its foreign key checked again */
	xmin = HeapTupleHeaderGetXmin(held->tuple->t_data);
	for (i = 0; w->trigdesc != NULL && i < w->trigdesc->numtriggers; i++)
		if (w->trigdesc->triggers[i].tgfoid == F_RI_FKEY_CHECK_UPD &&
			inv_trigger_enabled(&w->trigdesc->triggers[i]) &&
			TransactionIdIsCurrentTransactionId(xmin))
		{
			table_close(rel, NoLock);
			return -1;
		}

	/* The new state, and now() as the time of the change */
	CommandCounterIncrement();
	PushActiveSnapshot(GetTransactionSnapshot());
	values = palloc(sizeof(Datum) * w->tupdesc->natts);
	nulls = palloc(sizeof(bool) * w->tupdesc->natts);
	heap_deform_tuple(held->tuple, w->tupdesc, values, nulls);
	state_type = TupleDescAttr(w->tupdesc, w->att_state - 1)->atttypid;
	values[w->att_state - 1] = DirectFunctionCall2(enum_in,
												   CStringGetDatum(state),
												   ObjectIdGetDatum(state_type));
	values[w->att_updated - 1] =
		TimestampTzGetDatum(GetCurrentTransactionStartTimestamp());
	nulls[w->att_updated - 1] = false;
	if (!inv_check_new_row(w, values, nulls))
		goto done;

	/*
	 * The row is ours (locked above): the update cannot meet another.  But
	 * a trigger of this transaction (on the stock or the ledger) may have
	 * changed it since, and the version held is then not the row any more.
	 */
	if (inv_row_version_updated(rel, &tid))
		goto done;
	newtuple = heap_form_tuple(RelationGetDescr(rel), values, nulls);
	status = heap_update(rel, &tid, newtuple, GetCurrentCommandId(true),
						 InvalidSnapshot, true, &tmfd, &lockmode);
	if (status != TM_Ok)
		goto done;
	if (!HeapTupleIsHeapOnly(newtuple))
		inv_insert_index_entries(w, rel, newtuple, values, nulls);
	inv_fire_after_update(w, rel, held->tuple, newtuple);
	*new_state = values[w->att_state - 1];
	result = 1;

done:
	PopActiveSnapshot();
	table_close(rel, NoLock);
	return result;
}

/*
 * inv_reservation_set_state
 *		Set a reservation locked by inv_reservation_lock to a new state, with
 *		updated_at = now(), as the UPDATE of inv_transition would; return 1
 *		with the new state's value in *new_state, or -1 having changed
 *		nothing when the caller must run its UPDATE.
 */
int
inv_reservation_set_state(const InvHeldReservation *held, const char *state,
						  Datum *new_state)
{
	InvWriter  *volatile writer = NULL;
	volatile int result = -1;

	PG_TRY();
	{
		result = inv_reservation_set_state_once(held, state, new_state,
												(InvWriter **) &writer);
	}
	PG_CATCH();
	{
		inv_writer_release_on_error(writer);
		PG_RE_THROW();
	}
	PG_END_TRY();
	inv_writer_release(writer);

	return result;
}

/*
 * inv_product_lock
 *		Find a product and lock it as the foreign key check of a new
 *		reservation would (FOR KEY SHARE, so that it cannot be deleted or
 *		have its key changed before we commit); true if it is there and
 *		locked, with whether it is made to order in *made_to_order.
 *
 * False leaves the reservation to the INSERT, which reports a missing
 * product as the foreign key does; so does a made-to-order product, whose
 * lead time the INSERT reads.  A lock taken here is then merely taken
 * twice.
 */
static bool
inv_product_lock(InvWriter *w, int64 supplier_id, int64 product_id,
				 Snapshot snapshot, CommandId cid, bool *made_to_order)
{
	Relation	product;
	Relation	key;
	TupleTableSlot *slot;
	IndexScanDesc scan;
	ScanKeyData keys[2];
	TM_FailureData tmfd;
	bool		isnull = true;
	bool		ok = false;

	product = table_open(w->product_relid, RowShareLock);
	key = index_open(w->product_key, AccessShareLock);
	slot = table_slot_create(product, NULL);
	ScanKeyInit(&keys[0], 1, BTEqualStrategyNumber, F_INT8EQ,
				Int64GetDatum(supplier_id));
	ScanKeyInit(&keys[1], 2, BTEqualStrategyNumber, F_INT8EQ,
				Int64GetDatum(product_id));
	scan = index_beginscan(product, key, snapshot, 2, 0);
	index_rescan(scan, keys, 2, NULL, 0);
	if (index_getnext_slot(scan, ForwardScanDirection, slot))
	{
		ItemPointerData tid = slot->tts_tid;

		ok = table_tuple_lock(product, &tid, snapshot, slot, cid,
							  LockTupleKeyShare, LockWaitBlock,
							  TUPLE_LOCK_FLAG_FIND_LAST_VERSION,
							  &tmfd) == TM_Ok;
		if (ok)
			*made_to_order = DatumGetBool(slot_getattr(slot,
													   w->product_att_mto,
													   &isnull));
		ok = ok && !isnull;
	}
	index_endscan(scan);
	ExecDropSingleTupleTableSlot(slot);
	index_close(key, AccessShareLock);
	table_close(product, NoLock);
	return ok;
}

/*
 * inv_reservation_insert
 *		Insert a new order line's reservation as the statement
 *
 *			INSERT INTO reservation (...) SELECT ... FROM product
 *			ON CONFLICT (supplier_id, order_ref, product_id) DO NOTHING
 *			RETURNING *
 *
 *		would for a product that is not made to order.  Returns 1 with the
 *		new row in *tuple and its descriptor in *tupdesc (both allocated in
 *		the caller's memory context), 0 if the order line already has a
 *		reservation (a concurrent one is waited for first), or -1 having
 *		inserted nothing when the caller must run its statement (see the
 *		file header).
 *
 * The conflict is handled as the executor does, by a speculative
 * insertion: check the order line's key, insert the row marked with a
 * token, add its index entries and keep the row only if no concurrent
 * insertion of the same line got there first (else take it back and look
 * again).  The foreign key check is made before the row exists, by
 * inv_product_lock; the other defaults are the table's own.
 */
int
inv_reservation_insert(const InvNewReservation *line, HeapTuple *tuple,
					   TupleDesc *tupdesc)
{
	InvWriter  *volatile writer = NULL;
	volatile int result = -1;

	PG_TRY();
	{
		result = inv_reservation_insert_once(line, tuple, tupdesc,
											 (InvWriter **) &writer);
	}
	PG_CATCH();
	{
		inv_writer_release_on_error(writer);
		PG_RE_THROW();
	}
	PG_END_TRY();
	inv_writer_release(writer);

	return result;
}

/*
 * inv_reservation_insert_once
 *		Body of inv_reservation_insert, with the writer in *writer once it
 *		has one (marked busy), so that the caller can let it go.
 */
static pg_noinline int
inv_reservation_insert_once(const InvNewReservation *line, HeapTuple *tuple,
							TupleDesc *tupdesc, InvWriter **writer)
{
	MemoryContext caller_cxt = CurrentMemoryContext;
	InvWriter  *w;
	Relation	rel;
	Snapshot	snapshot;
	CommandId	cid;
	Datum	   *values;
	bool	   *nulls;
	TimestampTz expires_at;
	bool		made_to_order;
	EState	   *estate;
	ResultRelInfo *result_rel;
	TupleTableSlot *slot;
	List	   *arbiter;
	int			natts;
	int			result = -1;
	int			i;

	/* Only where the statement would behave exactly as this does */
	if (!inv_direct_writes_allowed())
		return -1;

	w = inv_writer_open(INV_WRITER_RESERVATION, RowExclusiveLock, &rel);
	if (w == NULL)
		return -1;
	*writer = w;
	if (!w->usable || !OidIsValid(w->line_key) ||
		(rel->trigdesc == NULL ? w->ntriggers != 0 :
		 rel->trigdesc->numtriggers != w->ntriggers) ||
		pg_class_aclmask(w->relid, GetUserId(), ACL_INSERT | ACL_SELECT,
						 ACLMASK_ALL) != (ACL_INSERT | ACL_SELECT) ||
		pg_class_aclcheck(w->product_relid, GetUserId(),
						  ACL_SELECT) != ACLCHECK_OK)
	{
		table_close(rel, NoLock);
		return -1;
	}
	CheckCmdReplicaIdentity(rel, CMD_INSERT);

	/* When it expires: statement_timestamp() + make_interval(secs => t) */
	if (isnan(line->timeout) ||
		fabs(line->timeout) >= (double) PG_INT64_MAX / USECS_PER_SEC ||
		pg_add_s64_overflow(GetCurrentStatementStartTimestamp(),
							(int64) rint(line->timeout * USECS_PER_SEC),
							&expires_at) ||
		!IS_VALID_TIMESTAMP(expires_at))
	{
		table_close(rel, NoLock);
		return -1;
	}

	/* A statement of its own, as SPI would run it */
	CommandCounterIncrement();
	PushActiveSnapshot(GetTransactionSnapshot());
	snapshot = GetActiveSnapshot();
	cid = GetCurrentCommandId(true);

	/* The product, locked for the foreign key unless the caller has */
	if (!line->stocked_product_locked &&
		(!inv_product_lock(w, line->supplier_id, line->product_id,
						   snapshot, cid, &made_to_order) ||
		 made_to_order))
	{
		PopActiveSnapshot();
		table_close(rel, NoLock);
		return -1;
	}

	/* The new row: what the order line says, and the table's defaults */
	natts = w->tupdesc->natts;
	values = palloc0(sizeof(Datum) * natts);
	nulls = palloc(sizeof(bool) * natts);
	memset(nulls, true, sizeof(bool) * natts);
	for (i = 0; i < natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(w->tupdesc, i);
		Datum		value;
		bool		isnull;

		if (w->defaults[i] == NULL)
			continue;
		value = ExecEvalExprSwitchContext(w->defaults[i], w->econtext,
										  &isnull);
		values[i] = isnull ? (Datum) 0 :
			datumCopy(value, att->attbyval, att->attlen);
		nulls[i] = isnull;
	}
	ResetExprContext(w->econtext);
#define INV_SET(attnum, datum) \
	(values[(attnum) - 1] = (datum), nulls[(attnum) - 1] = false)
	INV_SET(w->att_supplier, Int64GetDatum(line->supplier_id));
	INV_SET(w->att_order_ref, CStringGetTextDatum(line->order_ref));
	INV_SET(w->att_product, Int64GetDatum(line->product_id));
	INV_SET(w->att_slot, Int16GetDatum(line->slot));
	if (line->retailer_id != NULL)
		INV_SET(w->att_retailer, CStringGetTextDatum(line->retailer_id));
	INV_SET(w->att_quantity, Int64GetDatum(line->quantity));
	INV_SET(w->att_expires, TimestampTzGetDatum(expires_at));
	if (line->lock_token != NULL)
		INV_SET(w->att_token, CStringGetTextDatum(line->lock_token));
	if (line->lock_fence > 0)
		INV_SET(w->att_line_fence, Int64GetDatum(line->lock_fence));
#undef INV_SET

	/* A row the constraints refuse: let the INSERT report it */
	if (!inv_check_new_row(w, values, nulls))
	{
		PopActiveSnapshot();
		table_close(rel, NoLock);
		return -1;
	}

	/* Insert it, unless the order line is there already */
	estate = CreateExecutorState();
	estate->es_output_cid = cid;
	result_rel = makeNode(ResultRelInfo);
	InitResultRelInfo(result_rel, rel, 1, NULL, 0);
	ExecOpenIndices(result_rel, true);
	arbiter = list_make1_oid(w->line_key);
	slot = ExecInitExtraTupleSlot(estate, RelationGetDescr(rel),
								  table_slot_callbacks(rel));
	ExecClearTuple(slot);
	memcpy(slot->tts_values, values, sizeof(Datum) * natts);
	memcpy(slot->tts_isnull, nulls, sizeof(bool) * natts);
	ExecStoreVirtualTuple(slot);
	for (;;)
	{
		ItemPointerData conflict;
		TransactionId xid;
		uint32		token;
		bool		lost_race = false;

		/* Waits for a concurrent insertion of the line to end */
		if (!ExecCheckIndexConstraints(result_rel, slot, estate, &conflict,
									   arbiter))
		{
			result = 0;
			break;
		}

		xid = GetCurrentTransactionId();
		token = SpeculativeInsertionLockAcquire(xid);
		table_tuple_insert_speculative(rel, slot, cid, 0, NULL, token);
		list_free(ExecInsertIndexTuples(result_rel, slot, estate, false, true,
										&lost_race, arbiter));
		table_tuple_complete_speculative(rel, slot, token, !lost_race);
		SpeculativeInsertionLockRelease(xid);
		if (!lost_race)
		{
			MemoryContext old = MemoryContextSwitchTo(caller_cxt);

			*tuple = ExecCopySlotHeapTuple(slot);
			*tupdesc = CreateTupleDescCopy(RelationGetDescr(rel));
			MemoryContextSwitchTo(old);
			result = 1;
			break;
		}
		CHECK_FOR_INTERRUPTS();
	}

	list_free(arbiter);
	ExecCloseIndices(result_rel);
	ExecResetTupleTable(estate->es_tupleTable, false);
	FreeExecutorState(estate);
	PopActiveSnapshot();
	table_close(rel, NoLock);
	return result;
}

/*
 * inv_reservation_line_before_claim
 *		Ready an order line of a product spread over several slots for its
 *		slot claim: return 1 if the line has a reservation already (one
 *		being inserted by another transaction is waited for first); else
 *		lock the product FOR KEY SHARE, as inserting the reservation will,
 *		and return 0, or 2 if the product is made to order or could not be
 *		locked here (the INSERT then locks it).  Returns -1, having done
 *		nothing, when the tables are not as this file knows them.
 *
 * Both happen before the claim, so that the order waits holding none of
 * the product's slots: a retried line needs no slot (and would otherwise
 * wait for its first attempt while holding one), and a change of the
 * product's made-to-order flag locks the product row and then every slot,
 * so an order must not take them the other way round.
 */
int
inv_reservation_line_before_claim(int64 supplier_id, const char *order_ref,
								  int64 product_id)
{
	InvWriter  *volatile writer = NULL;
	int			result;

	PG_TRY();
	{
		result = inv_reservation_line_before_claim_once(supplier_id,
														order_ref,
														product_id,
														(InvWriter **) &writer);
	}
	PG_CATCH();
	{
		inv_writer_release_on_error(writer);
		PG_RE_THROW();
	}
	PG_END_TRY();
	inv_writer_release(writer);

	return result;
}

/*
 * inv_reservation_line_before_claim_once
 *		Body of inv_reservation_line_before_claim, with the writer in
 *		*writer once it has one (marked busy), so that the caller can let
 *		it go.
 */
static pg_noinline int
inv_reservation_line_before_claim_once(int64 supplier_id,
									   const char *order_ref,
									   int64 product_id, InvWriter **writer)
{
	InvWriter  *w;
	Relation	rel;
	Relation	key;
	TupleTableSlot *slot;
	Datum		order_ref_datum = CStringGetTextDatum(order_ref);
	int			result = -1;

	if (!inv_direct_writes_allowed())
		return -1;
	w = inv_writer_open(INV_WRITER_RESERVATION, RowExclusiveLock, &rel);
	if (w == NULL)
		return -1;
	*writer = w;
	if (!w->usable || !OidIsValid(w->line_key) ||
		pg_class_aclcheck(w->relid, GetUserId(), ACL_SELECT) != ACLCHECK_OK)
	{
		table_close(rel, NoLock);
		return -1;
	}

	/* The order line's key, read dirty so as to see insertions in flight */
	key = index_open(w->line_key, AccessShareLock);
	slot = table_slot_create(rel, NULL);
	for (;;)
	{
		SnapshotData dirty;
		IndexScanDesc scan;
		ScanKeyData keys[3];
		TransactionId inserter = InvalidTransactionId;
		uint32		token = 0;
		ItemPointerData tid;
		bool		found;

		InitDirtySnapshot(dirty);
		ScanKeyInit(&keys[0], 1, BTEqualStrategyNumber, F_INT8EQ,
					Int64GetDatum(supplier_id));
		ScanKeyEntryInitialize(&keys[1], 0, 2, BTEqualStrategyNumber,
							   InvalidOid, key->rd_indcollation[1], F_TEXTEQ,
							   order_ref_datum);
		ScanKeyInit(&keys[2], 3, BTEqualStrategyNumber, F_INT8EQ,
					Int64GetDatum(product_id));
		scan = index_beginscan(rel, key, &dirty, 3, 0);
		index_rescan(scan, keys, 3, NULL, 0);
		found = index_getnext_slot(scan, ForwardScanDirection, slot);
		if (found && TransactionIdIsValid(dirty.xmin))
		{
			inserter = dirty.xmin;
			token = dirty.speculativeToken;
			tid = slot->tts_tid;
		}
		index_endscan(scan);
		ExecClearTuple(slot);
		if (!found)
		{
			result = 0;
			break;
		}
		if (!TransactionIdIsValid(inserter))
		{
			result = 1;
			break;
		}

		/* Another transaction is inserting the line: wait for its outcome */
		if (token != 0)
			SpeculativeInsertionWait(inserter, token);
		else
			XactLockTableWait(inserter, rel, &tid, XLTW_InsertIndex);
		CHECK_FOR_INTERRUPTS();
	}
	ExecDropSingleTupleTableSlot(slot);
	index_close(key, AccessShareLock);

	/* A new line: the product, locked as the foreign key check locks it */
	if (result == 0)
	{
		bool		made_to_order;

		CommandCounterIncrement();
		PushActiveSnapshot(GetTransactionSnapshot());
		if (!OidIsValid(w->product_relid) ||
			!inv_product_lock(w, supplier_id, product_id,
							  GetActiveSnapshot(), GetCurrentCommandId(true),
							  &made_to_order) ||
			made_to_order)
			result = 2;
		PopActiveSnapshot();
	}
	table_close(rel, NoLock);
	return result;
}
