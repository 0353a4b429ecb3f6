/*-------------------------------------------------------------------------
 *
 * reservation.c
 *		The order lifecycle: reserve, confirm, release, dispatch, expire.
 *
 * A reservation is one order line: an order reference, a product and a
 * quantity held out of the product's available stock.  It is created in
 * state "reserved" and ends confirmed (then dispatched), released or
 * expired:
 *
 *	reserve:  reserved += q                        (needs available >= q)
 *	confirm:  stock_level -= q, reserved -= q, committed += q
 *	release:  reserved -= q
 *	expire:   reserved -= q, once the reservation is past its expiry time
 *	cancel:   as release; or, once confirmed, stock_level += q, committed -= q
 *	dispatch: committed -= q
 *
 * A made-to-order product has no stock of its own: reserving it needs no
 * available stock and confirming it leaves the stock level alone; its
 * reservation records the date it ships, its lead time in working days
 * after the order.
 *
 * Never overselling rests on one statement: the conditional UPDATE that adds
 * to "reserved" only where enough is available.  Two orders racing for the
 * last unit queue on the stock row's lock, and the second re-evaluates the
 * condition on the row the first one left.
 *
 * Locking order.  Every function here locks, product by product in
 * ascending product id, first the reservation row and then the stock row.
 * Two calls that follow this order cannot deadlock, which is why a
 * multi-line order sorts its lines before it touches anything.
 *
 * Idempotency.  The reservation table's unique key on (supplier, order
 * reference, product) makes a retried reserve find the first one's row
 * instead of holding stock twice; a retried confirm, release or dispatch
 * finds the state it would have produced and changes nothing.
 *
 * Copyright (c) 2026, the inventory authors
 *
 * IDENTIFICATION
 *		src/reservation.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/stratnum.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/tupconvert.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_am.h"
#include "catalog/pg_index.h"
#include "catalog/pg_type.h"
#include "common/int.h"
#include "executor/tuptable.h"
#include "fmgr.h"
#include "funcapi.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"
#include "utils/tuplestore.h"

#include "inventory.h"
#include "order_lock.h"

/* What a caller asks of a reservation */
typedef enum InvAction
{
	INV_CONFIRM,
	INV_RELEASE,
	INV_CANCEL,
	INV_DISPATCH,
	INV_EXPIRE
} InvAction;

/*
 * How a transition moves a reservation's units: each quantity of the stock
 * row changes by the factor times the reservation's quantity.  A stock
 * level move is skipped for made-to-order products, which have none.
 */
typedef struct InvUnitMove
{
	int			stock_level;
	int			reserved;
	int			committed;
} InvUnitMove;

static const InvUnitMove confirm_move = {-1, -1, +1};
static const InvUnitMove release_move = {0, -1, 0}; /* also expiry */
static const InvUnitMove unconfirm_move = {+1, 0, -1};	/* cancel after confirm */
static const InvUnitMove dispatch_move = {0, 0, -1};

/* The ledger's kind of change for each action, in InvAction order */
static const char *const inv_action_kind[] = {
	"confirm", "release", "cancel", "dispatch", "expire"
};

/* One line of an order, after its product has been resolved */
typedef struct InvOrderLine
{
	int64		product_id;
	int64		quantity;
	int			nslots;			/* stock slots of the product */
} InvOrderLine;

PG_FUNCTION_INFO_V1(inv_reserve);
PG_FUNCTION_INFO_V1(inv_reserve_order);
PG_FUNCTION_INFO_V1(inv_confirm);
PG_FUNCTION_INFO_V1(inv_release);
PG_FUNCTION_INFO_V1(inv_cancel);
PG_FUNCTION_INFO_V1(inv_dispatch);
PG_FUNCTION_INFO_V1(inv_confirm_order);
PG_FUNCTION_INFO_V1(inv_release_order);
PG_FUNCTION_INFO_V1(inv_cancel_order);
PG_FUNCTION_INFO_V1(inv_dispatch_order);
PG_FUNCTION_INFO_V1(inv_expire);

/*
 * inv_check_order_ref
 *		Return the order reference argument as a C string, refusing a null
 *		or empty one.
 */
static char *
inv_check_order_ref(FunctionCallInfo fcinfo, int argno)
{
	char	   *order_ref;

	if (PG_ARGISNULL(argno))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("order reference must not be null")));
	order_ref = text_to_cstring(PG_GETARG_TEXT_PP(argno));
	if (order_ref[0] == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("order reference must not be empty")));
	if (pg_mbstrlen(order_ref) > INV_MAX_ORDER_REF)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("order reference is too long"),
				 errdetail("It has %d characters; the most allowed is %d.",
						   pg_mbstrlen(order_ref), INV_MAX_ORDER_REF)));
	return order_ref;
}

/*
 * inv_check_quantity
 *		Refuse a quantity that cannot be reserved.
 */
static void
inv_check_quantity(int64 quantity)
{
	if (quantity <= 0)
		ereport(ERROR,
				(errcode(ERRCODE_INV_INVALID_QUANTITY),
				 errmsg("quantity to reserve must be positive"),
				 errdetail("The quantity given was " INT64_FORMAT ".", quantity)));
}

/*
 * inv_change_stock
 *		Make a stock change straight into the heap (stock_write.c), or with
 *		its UPDATE statement when that cannot be done; return the rows
 *		changed.  args are the statement's.
 */
static uint64
inv_change_stock(InvPlan *plan, Datum *args, const InvStockUpdate *update,
				 const InvChange *change)
{
	int			rows = inv_stock_update(update, change);

	if (rows >= 0)
		return rows;
	inv_plan_run_change(plan, args, NULL, change);
	return SPI_processed;
}

/*
 * inv_slot_fence
 *		The highest fencing number a product's stock row has accepted.
 */
static int64
inv_slot_fence(int64 supplier_id, int64 product_id)
{
	static InvPlan read_fence = {
		"SELECT lock_fence FROM inventory.stock_slot "
		"WHERE supplier_id = $1 AND product_id = $2 AND slot = 0",
		2, {INT8OID, INT8OID}, NULL
	};
	Datum		args[2];
	bool		isnull;

	args[0] = Int64GetDatum(supplier_id);
	args[1] = Int64GetDatum(product_id);
	inv_plan_run(&read_fence, args, NULL, false, 1);
	if (SPI_processed != 1)
		inv_report_missing_slot(product_id);
	return inv_spi_int64(0, 1, &isnull);
}

/*
 * inv_set_reservation_fence
 *		Record the fencing number a reservation ended up writing with, and
 *		return the reservation row as it now is (in the current SPI
 *		context, with its descriptor in *tupdesc).
 */
static HeapTuple
inv_set_reservation_fence(int64 supplier_id, int64 reservation_id,
						  int64 fence, TupleDesc *tupdesc)
{
	static InvPlan set_fence = {
		"UPDATE inventory.reservation SET lock_fence = $3 "
		"WHERE supplier_id = $1 AND reservation_id = $2 RETURNING *",
		3, {INT8OID, INT8OID, INT8OID}, NULL
	};
	Datum		args[3];

	args[0] = Int64GetDatum(supplier_id);
	args[1] = Int64GetDatum(reservation_id);
	args[2] = Int64GetDatum(fence);
	inv_plan_run(&set_fence, args, NULL, false, 0);
	*tupdesc = SPI_tuptable->tupdesc;
	return SPI_tuptable->vals[0];
}

/*
 * inv_report_refusal
 *		Raise the error for a stock update that matched no row: IV013 if a
 *		newer lock holder has written to the row since our lock was granted,
 *		otherwise IV002 with the product's numbers (summed over its slots)
 *		as they are now.
 */
static void
inv_report_refusal(int64 supplier_id, int64 product_id, int64 quantity,
				   int64 fence)
{
	static InvPlan read_slot = {
		"SELECT pg_catalog.sum(s.stock_level)::bigint, "
		"pg_catalog.sum(s.reserved)::bigint, "
		"pg_catalog.sum(s.available)::bigint, p.sku, "
		"pg_catalog.max(s.lock_fence) FILTER (WHERE s.slot = 0), "
		"pg_catalog.sum(s.ring_fenced)::bigint "
		"FROM inventory.stock_slot s JOIN inventory.product p "
		"USING (supplier_id, product_id) "
		"WHERE s.supplier_id = $1 AND s.product_id = $2 GROUP BY p.sku",
		2, {INT8OID, INT8OID}, NULL
	};
	Datum		args[2];
	bool		isnull;
	int64		accepted_fence;

	args[0] = Int64GetDatum(supplier_id);
	args[1] = Int64GetDatum(product_id);
	inv_plan_run(&read_slot, args, NULL, false, 1);
	if (SPI_processed != 1)
		inv_report_missing_slot(product_id);

	accepted_fence = inv_spi_int64(0, 5, &isnull);
	if (fence > 0 && accepted_fence > fence)
		ereport(ERROR,
				(errcode(ERRCODE_INV_STALE_FENCE),
				 errmsg("order lock on product \"%s\" (id " INT64_FORMAT ") was superseded",
						inv_spi_text(0, 4), product_id),
				 errdetail("This call's lock has fencing number " INT64_FORMAT "; the stock row already accepted " INT64_FORMAT " from a later holder.",
						   fence, accepted_fence),
				 errhint("The lock lapsed while this call stalled; nothing was changed, so the order can be retried.")));

	if (inv_spi_int64(0, 6, &isnull) > 0)
		ereport(ERROR,
				(errcode(ERRCODE_INV_INSUFFICIENT_STOCK),
				 errmsg("insufficient stock for product \"%s\" (id " INT64_FORMAT ")",
						inv_spi_text(0, 4), product_id),
				 errdetail("Requested " INT64_FORMAT "; " INT64_FORMAT " are available, " INT64_FORMAT " of them ring-fenced for particular retailers.",
						   quantity, inv_spi_int64(0, 3, &isnull),
						   inv_spi_int64(0, 6, &isnull)),
				 errhint("A retailer can order its own ring-fenced units; everyone can order the rest.")));
	ereport(ERROR,
			(errcode(ERRCODE_INV_INSUFFICIENT_STOCK),
			 errmsg("insufficient stock for product \"%s\" (id " INT64_FORMAT ")",
					inv_spi_text(0, 4), product_id),
			 errdetail("Requested " INT64_FORMAT ", available " INT64_FORMAT " (stock level " INT64_FORMAT ", reserved " INT64_FORMAT ").",
					   quantity, inv_spi_int64(0, 3, &isnull),
					   inv_spi_int64(0, 1, &isnull),
					   inv_spi_int64(0, 2, &isnull)),
			 errhint("Reserve a smaller quantity, or wait until stock is added.")));
}

/*
 * inv_find_line
 *		Look an order line up through the reservation table's unique key on
 *		(supplier_id, order_ref, product_id), as a SELECT would with a fresh
 *		snapshot; return whether the look-up could be made that way, with
 *		the row (or NULL) in *row and its descriptor in *tupdesc, both in
 *		the current memory context.
 *
 * Planned as a SELECT, the look-up's plan depended on the table's
 * statistics: without them (a new database, or an analysed empty table)
 * the planner chose the product index and read every earlier reservation
 * of the product, on every call (bench/README.md, "The plan of the retry
 * lookup").  The index is found by its columns; without it, without the
 * right to read the table, or under row security, the caller runs its
 * SELECT.
 */
static bool
inv_find_line(int64 supplier_id, const char *order_ref, int64 product_id,
			  HeapTuple *row, TupleDesc *tupdesc)
{
	Oid			nsp = get_namespace_oid("inventory", true);
	Oid			relid;
	Relation	rel;
	List	   *indexes;
	ListCell   *lc;
	Oid			key_index = InvalidOid;
	AttrNumber	att[3];
	const char *names[3] = {"supplier_id", "order_ref", "product_id"};
	int			i;

	relid = OidIsValid(nsp) ? get_relname_relid("reservation", nsp) :
		InvalidOid;
	if (!OidIsValid(relid) ||
		pg_class_aclcheck(relid, GetUserId(), ACL_SELECT) != ACLCHECK_OK)
		return false;
	rel = try_table_open(relid, AccessShareLock);
	if (rel == NULL)
		return false;
	if (rel->rd_rel->relrowsecurity || rel->rd_rel->relhassubclass ||
		rel->rd_rel->relkind != RELKIND_RELATION)
	{
		table_close(rel, AccessShareLock);
		return false;
	}

	/* The unique index on exactly the three columns */
	for (i = 0; i < 3; i++)
	{
		int			attno = SPI_fnumber(RelationGetDescr(rel), names[i]);

		att[i] = attno > 0 ? attno : InvalidAttrNumber;
	}
	indexes = RelationGetIndexList(rel);
	foreach(lc, indexes)
	{
		Relation	index = index_open(lfirst_oid(lc), AccessShareLock);
		Form_pg_index form = index->rd_index;

		if (form->indisunique && form->indisvalid && form->indimmediate &&
			form->indnkeyatts == 3 &&
			index->rd_rel->relam == BTREE_AM_OID &&
			form->indkey.values[0] == att[0] &&
			form->indkey.values[1] == att[1] &&
			form->indkey.values[2] == att[2] &&
			index->rd_opcintype[1] == TEXTOID &&
			heap_attisnull(index->rd_indextuple, Anum_pg_index_indexprs,
						   NULL) &&
			heap_attisnull(index->rd_indextuple, Anum_pg_index_indpred,
						   NULL))
			key_index = RelationGetRelid(index);
		index_close(index, AccessShareLock);
	}
	list_free(indexes);

	/* Probe it with a snapshot taken now, as a new statement would */
	if (OidIsValid(key_index) && att[0] != InvalidAttrNumber)
	{
		Relation	index = index_open(key_index, AccessShareLock);
		TupleTableSlot *slot = table_slot_create(rel, NULL);
		ScanKeyData keys[3];
		IndexScanDesc scan;

		CommandCounterIncrement();
		PushActiveSnapshot(GetTransactionSnapshot());
		ScanKeyInit(&keys[0], 1, BTEqualStrategyNumber, F_INT8EQ,
					Int64GetDatum(supplier_id));
		ScanKeyEntryInitialize(&keys[1], 0, 2, BTEqualStrategyNumber,
							   InvalidOid, index->rd_indcollation[1],
							   F_TEXTEQ, CStringGetTextDatum(order_ref));
		ScanKeyInit(&keys[2], 3, BTEqualStrategyNumber, F_INT8EQ,
					Int64GetDatum(product_id));
		scan = index_beginscan(rel, index, GetActiveSnapshot(), 3, 0);
		index_rescan(scan, keys, 3, NULL, 0);
		*row = NULL;
		if (index_getnext_slot(scan, ForwardScanDirection, slot))
			*row = ExecCopySlotHeapTuple(slot);
		index_endscan(scan);
		PopActiveSnapshot();
		ExecDropSingleTupleTableSlot(slot);
		index_close(index, AccessShareLock);
		*tupdesc = CreateTupleDescCopy(RelationGetDescr(rel));
	}
	table_close(rel, AccessShareLock);
	return OidIsValid(key_index) && att[0] != InvalidAttrNumber;
}

/*
 * inv_existing_line
 *		Return the reservation an earlier call made for this order line, or
 *		NULL if there is none; refuse it if it differs from this call.
 *
 * The row is allocated in the current SPI context and its descriptor
 * stored in *tupdesc.
 */
static HeapTuple
inv_existing_line(int64 supplier_id, const char *order_ref, int64 product_id,
				  int64 quantity, const char *retailer_id, TupleDesc *tupdesc)
{
	static InvPlan find_reservation = {
		"SELECT * FROM inventory.reservation "
		"WHERE supplier_id = $1 AND order_ref = $2 AND product_id = $3",
		3, {INT8OID, TEXTOID, INT8OID}, NULL
	};
	Datum		args[3];
	HeapTuple	reservation;
	int64		held;
	char	   *held_retailer;
	char	   *held_state;
	bool		isnull;

	if (!inv_find_line(supplier_id, order_ref, product_id, &reservation,
					   tupdesc))
	{
		args[0] = Int64GetDatum(supplier_id);
		args[1] = CStringGetTextDatum(order_ref);
		args[2] = Int64GetDatum(product_id);
		inv_plan_run(&find_reservation, args, NULL, false, 1);
		reservation = SPI_processed > 0 ? SPI_tuptable->vals[0] : NULL;
		*tupdesc = SPI_tuptable->tupdesc;
	}
	if (reservation == NULL)
		return NULL;

	/* A retry must ask for what the first call got */
	held = DatumGetInt64(SPI_getbinval(reservation, *tupdesc,
									   SPI_fnumber(*tupdesc, "quantity"),
									   &isnull));
	held_retailer = SPI_getvalue(reservation, *tupdesc,
								 SPI_fnumber(*tupdesc, "retailer_id"));
	if (held != quantity ||
		(held_retailer == NULL) != (retailer_id == NULL) ||
		(held_retailer && strcmp(held_retailer, retailer_id) != 0))
		ereport(ERROR,
				(errcode(ERRCODE_INV_ORDER_LINE_CONFLICT),
				 errmsg("order \"%s\" already has a different reservation for product " INT64_FORMAT,
						order_ref, product_id),
				 errdetail("The existing reservation holds " INT64_FORMAT " for retailer %s; this call asked for " INT64_FORMAT " for retailer %s.",
						   held, held_retailer ? held_retailer : "(none)",
						   quantity, retailer_id ? retailer_id : "(none)"),
				 errhint("An order line is reserved once; use a new order reference for a different order.")));

	/* It may have ended since */
	held_state = SPI_getvalue(reservation, *tupdesc,
							  SPI_fnumber(*tupdesc, "state"));
	if (strcmp(held_state, "reserved") != 0)
		ereport(NOTICE,
				(errmsg("order \"%s\" already reserved product " INT64_FORMAT ", and that reservation is now %s",
						order_ref, product_id, held_state),
				 errhint("Nothing is held for it now; use a new order reference to order again.")));
	return reservation;
}

/*
 * inv_reserve_line
 *		Reserve quantity units of a product for an order line, or find the
 *		reservation an earlier call made for the same line.
 *
 * With a cross-node lock scope in force, the product's lock is taken first
 * and its fencing number written to the stock row.  A retry looks for the
 * earlier reservation before it asks for the lock, which that reservation
 * may still own.
 *
 * A product with several slots (nslots > 1) has a slot chosen and locked
 * first (see slots.c), and the reservation names that slot.
 *
 * Returns the reservation row, allocated in the current SPI context; the
 * row's descriptor is stored in *tupdesc.  The caller must be connected to
 * SPI and must have checked the arguments.
 */
static HeapTuple
inv_reserve_line(int64 supplier_id, const char *order_ref, int64 product_id,
				 int nslots, int64 quantity, const char *retailer_id,
				 TupleDesc *tupdesc)
{
	static InvPlan insert_reservation = {
		"INSERT INTO inventory.reservation (supplier_id, order_ref, "
		"product_id, slot, retailer_id, quantity, expires_at, lock_token, "
		"lock_fence, ship_date) "
		"SELECT $1, $2, $3, $9, $4, $5, "
		"pg_catalog.statement_timestamp() + "
		"pg_catalog.make_interval(secs => $6), $7, $8, "
		"CASE WHEN p.made_to_order THEN inventory.inv_ship_date("
		"p.lead_time_days, pg_catalog.statement_timestamp()) END "
		"FROM inventory.product p "
		"WHERE p.supplier_id = $1 AND p.product_id = $3 "
		"ON CONFLICT (supplier_id, order_ref, product_id) DO NOTHING "
		"RETURNING *",
		9, {INT8OID, TEXTOID, INT8OID, TEXTOID, INT8OID, FLOAT8OID, TEXTOID,
		INT8OID, INT2OID}, NULL
	};
	static InvPlan take_stock = {
		"UPDATE inventory.stock_slot SET reserved = reserved + $4, "
		"ring_fenced = ring_fenced - $6, "
		"lock_fence = pg_catalog.int8larger(lock_fence, $5) "
		"WHERE supplier_id = $1 AND product_id = $2 AND slot = $3 "
		"AND (made_to_order "
		"OR pg_catalog.int8larger(available - ring_fenced, 0) >= $4 - $6) "
		"AND ($5 = 0 OR lock_fence <= $5)",
		6, {INT8OID, INT8OID, INT2OID, INT8OID, INT8OID, INT8OID}, NULL
	};
	static InvPlan has_allocation = {
		"SELECT FROM inventory.allocation "
		"WHERE supplier_id = $1 AND product_id = $2 AND retailer_id = $3",
		3, {INT8OID, INT8OID, TEXTOID}, NULL
	};
	static InvPlan set_fenced = {
		"UPDATE inventory.reservation SET fenced_quantity = $3 "
		"WHERE supplier_id = $1 AND reservation_id = $2 RETURNING *",
		3, {INT8OID, INT8OID, INT8OID}, NULL
	};
	Datum		args[9];
	char		nulls[9] = {' ', ' ', ' ', ' ', ' ', ' ', ' ', ' ', ' '};
	HeapTuple	reservation;
	InvChange	change = {0};
	InvStockUpdate update = {0};
	InvNewReservation line;
	char		token[INV_LOCK_TOKEN_LEN];
	int			before_claim = -1;
	int			inserted;
	int64		fence = 0;
	int64		from_fence = 0;
	bool		took_stock;
	bool		keep_token;
	bool		isnull;
	int			slot = 0;

	/* Take the cross-node lock, unless this is a retry */
	if (inv_order_lock_scope() != INV_SCOPE_NONE)
	{
		reservation = inv_existing_line(supplier_id, order_ref, product_id,
										quantity, retailer_id, tupdesc);
		if (reservation != NULL)
			return reservation;
		fence = inv_order_lock_acquire(supplier_id, product_id, token);

		/* Under the lock, a product's orders use its home slot */
		if (nslots > 1)
			(void) inv_slots_gather(supplier_id, product_id);
	}
	else
	{
		token[0] = '\0';

		/*
		 * A hot product: the slot this order takes, locked; a retried line
		 * takes none, and the product is locked before the slot
		 */
		if (nslots > 1)
		{
			before_claim = inv_reservation_line_before_claim(supplier_id,
															 order_ref,
															 product_id);
			if (before_claim == 1)
			{
				reservation = inv_existing_line(supplier_id, order_ref,
												product_id, quantity,
												retailer_id, tupdesc);
				if (reservation != NULL)
					return reservation;
			}
			slot = Max(inv_slot_claim(supplier_id, product_id, nslots,
									  quantity), 0);
		}
	}

	/*
	 * Claim the order line.  If the same line is being reserved by another
	 * transaction, the unique index makes us wait for its outcome.  The
	 * row goes straight into the table, or by the INSERT where it cannot.
	 */
	keep_token = token[0] != '\0' && inv_order_lock_scope() == INV_SCOPE_ORDER;
	line.supplier_id = supplier_id;
	line.order_ref = order_ref;
	line.product_id = product_id;
	line.slot = slot;
	line.retailer_id = retailer_id;
	line.quantity = quantity;
	line.timeout = (double) inv_reservation_timeout;
	line.lock_token = keep_token ? token : NULL;
	line.lock_fence = fence;
	line.stocked_product_locked = before_claim == 0;
	inserted = inv_reservation_insert(&line, &reservation, tupdesc);
	if (inserted < 0)
	{
		args[0] = Int64GetDatum(supplier_id);
		args[1] = CStringGetTextDatum(order_ref);
		args[2] = Int64GetDatum(product_id);
		args[3] = retailer_id ? CStringGetTextDatum(retailer_id) : (Datum) 0;
		nulls[3] = retailer_id ? ' ' : 'n';
		args[4] = Int64GetDatum(quantity);
		args[5] = Float8GetDatum(line.timeout);
		args[6] = keep_token ? CStringGetTextDatum(token) : (Datum) 0;
		nulls[6] = keep_token ? ' ' : 'n';
		args[7] = Int64GetDatum(fence);
		nulls[7] = fence > 0 ? ' ' : 'n';
		args[8] = Int16GetDatum(slot);
		inv_plan_run(&insert_reservation, args, nulls, false, 0);
		inserted = (int) SPI_processed;
		if (inserted > 0)
		{
			reservation = SPI_tuptable->vals[0];
			*tupdesc = SPI_tuptable->tupdesc;
		}
	}

	if (inserted == 0)
	{
		/* A retry that raced the first attempt: that one owns the line */
		if (keep_token)
			inv_order_lock_release_at_commit(supplier_id, product_id, token);
		reservation = inv_existing_line(supplier_id, order_ref, product_id,
										quantity, retailer_id, tupdesc);
		if (reservation != NULL)
			return reservation;

		/* No line and no row inserted: the product went away meanwhile */
		(void) inv_product_by_id(supplier_id, product_id);
		elog(ERROR, "order line \"%s\" vanished after a conflict", order_ref);
	}

	/* Take the units, if they are there */
	change.kind = "reserve";
	change.order_ref = order_ref;
	change.reservation_id =
		DatumGetInt64(SPI_getbinval(reservation, *tupdesc,
									SPI_fnumber(*tupdesc, "reservation_id"),
									&isnull));

	/*
	 * A retailer with an allocation draws on its own ring-fence first.  The
	 * stock row is locked before its allocations are read, so the backing
	 * cannot change underneath.  Without an allocation, an order draws on the
	 * shared pool alone, which is what protects everyone's ring-fence.
	 */
	if (retailer_id != NULL)
	{
		args[0] = Int64GetDatum(supplier_id);
		args[1] = Int64GetDatum(product_id);
		args[2] = CStringGetTextDatum(retailer_id);
		inv_plan_run(&has_allocation, args, NULL, false, 1);
		if (SPI_processed > 0)
		{
			int64		available = inv_lock_stock_row(supplier_id, product_id);
			int64		backed = inv_fence_backed(supplier_id, product_id,
												  retailer_id, available);

			from_fence = Min(quantity, Max(backed, 0));
		}
	}

	args[0] = Int64GetDatum(supplier_id);
	args[1] = Int64GetDatum(product_id);
	args[2] = Int16GetDatum(slot);
	args[3] = Int64GetDatum(quantity);
	args[4] = Int64GetDatum(fence);
	args[5] = Int64GetDatum(from_fence);
	update.supplier_id = supplier_id;
	update.product_id = product_id;
	update.slot = slot;
	update.reserved = quantity;
	update.ring_fenced = -from_fence;
	update.fence = fence;
	update.need_available = true;
	took_stock = inv_change_stock(&take_stock, args, &update, &change) == 1;

	/*
	 * Refused with a lock in hand: if the row has seen a higher fencing
	 * number while the lock is still ours, Redis lost its counter; take a
	 * number above the row's and try once more.
	 */
	if (!took_stock && fence > 0)
	{
		int64		accepted = inv_slot_fence(supplier_id, product_id);
		int64		new_fence = 0;

		if (accepted > fence)
			new_fence = inv_order_lock_refence(supplier_id, product_id, token,
											   accepted);
		if (new_fence > accepted)
		{
			fence = new_fence;
			args[4] = Int64GetDatum(fence);
			update.fence = fence;
			took_stock = inv_change_stock(&take_stock, args, &update,
										  &change) == 1;
			if (took_stock)
				reservation = inv_set_reservation_fence(supplier_id,
														change.reservation_id,
														fence, tupdesc);
		}
	}

	/*
	 * NB: decide on took_stock, never on SPI_processed: the look-ups above
	 * have replaced the count of the stock update.
	 */
	if (!took_stock)
		inv_report_refusal(supplier_id, product_id, quantity, fence);

	/* Record what came out of the ring-fence */
	if (from_fence > 0)
	{
		inv_fence_draw(supplier_id, product_id, retailer_id, from_fence);
		args[0] = Int64GetDatum(supplier_id);
		args[1] = Int64GetDatum(change.reservation_id);
		args[2] = Int64GetDatum(from_fence);
		inv_plan_run(&set_fenced, args, NULL, false, 0);
		reservation = SPI_tuptable->vals[0];
		*tupdesc = SPI_tuptable->tupdesc;
	}

	/* An order-scope lock now belongs to the reservation */
	if (keep_token)
	{
		Datum		expires_at;

		expires_at = SPI_getbinval(reservation, *tupdesc,
								   SPI_fnumber(*tupdesc, "expires_at"),
								   &isnull);
		inv_order_lock_note(supplier_id, product_id, token,
							change.reservation_id,
							DatumGetTimestampTz(expires_at));
	}

	return reservation;
}

/*
 * inv_reservation_as_result
 *		A reservation row as its statement or inv_reservation_insert gave it
 *		(the table's live columns) in the layout of the reservation row
 *		type, which keeps a place for each column dropped since the table
 *		was made.
 */
static HeapTuple
inv_reservation_as_result(HeapTuple reservation, TupleDesc tupdesc,
						  TupleDesc result_desc)
{
	TupleConversionMap *map = convert_tuples_by_name(tupdesc, result_desc);

	return map == NULL ? reservation :
		execute_attr_map_tuple(reservation, map);
}

/*
 * inv_reserve(order_ref, product, quantity, retailer_id)
 *		Reserve stock for one order line; return the reservation row.
 */
Datum
inv_reserve(PG_FUNCTION_ARGS)
{
	char	   *order_ref = inv_check_order_ref(fcinfo, 0);
	char	   *retailer_id = NULL;
	int64		quantity;
	int64		supplier_id;
	int64		product_id;
	HeapTuple	reservation;
	TupleDesc	tupdesc;
	TupleDesc	result_desc;
	Datum		result;
	int			nslots;

	/* Check the arguments */
	if (PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("product must not be null")));
	if (PG_ARGISNULL(2))
		ereport(ERROR,
				(errcode(ERRCODE_INV_INVALID_QUANTITY),
				 errmsg("quantity must not be null")));
	quantity = PG_GETARG_INT64(2);
	inv_check_quantity(quantity);
	if (!PG_ARGISNULL(3))
		retailer_id = text_to_cstring(PG_GETARG_TEXT_PP(3));

	/* Reserve */
	SPI_connect();
	supplier_id = inv_get_supplier_id();
	product_id = inv_resolve_product_slots(supplier_id, fcinfo, 1, &nslots);
	reservation = inv_reserve_line(supplier_id, order_ref, product_id,
								   nslots, quantity, retailer_id, &tupdesc);
	if (get_call_result_type(fcinfo, NULL, &result_desc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "inv_reserve must return a row type");
	reservation = inv_reservation_as_result(reservation, tupdesc, result_desc);
	result = PointerGetDatum(SPI_returntuple(reservation, result_desc));
	SPI_finish();

	PG_RETURN_DATUM(result);
}

/*
 * inv_order_line_cmp
 *		qsort comparator: order lines by product id.
 */
static int
inv_order_line_cmp(const void *a, const void *b)
{
	const InvOrderLine *la = (const InvOrderLine *) a;
	const InvOrderLine *lb = (const InvOrderLine *) b;

	if (la->product_id < lb->product_id)
		return -1;
	return la->product_id > lb->product_id ? 1 : 0;
}

/*
 * inv_reserve_order(order_ref, products, quantities, retailer_id)
 *		Reserve every line of an order, or none; return the reservations.
 *
 * products is an array of product ids or of SKUs.  Lines naming the same
 * product are summed into one reservation before anything is checked, and
 * products are reserved in ascending id order (see the file header).
 */
Datum
inv_reserve_order(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	char	   *order_ref = inv_check_order_ref(fcinfo, 0);
	char	   *retailer_id = NULL;
	Oid			products_type;
	ArrayType  *products;
	ArrayType  *quantities;
	Datum	   *product_elems;
	bool	   *product_nulls;
	int			nproducts;
	Datum	   *quantity_elems;
	bool	   *quantity_nulls;
	int			nquantities;
	InvOrderLine *lines;
	int			nlines;
	int64		supplier_id;
	int			i;

	/* Check the shape of the order */
	if (PG_ARGISNULL(1) || PG_ARGISNULL(2))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("products and quantities must not be null")));
	products = PG_GETARG_ARRAYTYPE_P(1);
	quantities = PG_GETARG_ARRAYTYPE_P(2);
	if (!PG_ARGISNULL(3))
		retailer_id = text_to_cstring(PG_GETARG_TEXT_PP(3));
	if (ARR_NDIM(products) > 1 || ARR_NDIM(quantities) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("products and quantities must be one-dimensional arrays")));

	products_type = ARR_ELEMTYPE(products);
	if (products_type == TEXTOID)
		deconstruct_array(products, TEXTOID, -1, false, TYPALIGN_INT,
						  &product_elems, &product_nulls, &nproducts);
	else
		deconstruct_array(products, INT8OID, 8, FLOAT8PASSBYVAL,
						  TYPALIGN_DOUBLE, &product_elems, &product_nulls,
						  &nproducts);
	deconstruct_array(quantities, INT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE,
					  &quantity_elems, &quantity_nulls, &nquantities);

	if (nproducts == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("order \"%s\" has no lines", order_ref)));
	if (nproducts != nquantities)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("order \"%s\" names %d products but %d quantities",
						order_ref, nproducts, nquantities),
				 errhint("Give one quantity per product, in the same order.")));
	for (i = 0; i < nproducts; i++)
	{
		if (product_nulls[i] || quantity_nulls[i])
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("line %d of order \"%s\" has a null product or quantity",
							i + 1, order_ref)));
		inv_check_quantity(DatumGetInt64(quantity_elems[i]));
	}

	InitMaterializedSRF(fcinfo, 0);
	SPI_connect();
	supplier_id = inv_get_supplier_id();

	/* Resolve the products, then sort and merge the lines */
	lines = palloc(sizeof(InvOrderLine) * nproducts);
	for (i = 0; i < nproducts; i++)
	{
		if (products_type == TEXTOID)
			lines[i].product_id =
				inv_product_by_sku(supplier_id,
								   TextDatumGetCString(product_elems[i]));
		else
			lines[i].product_id =
				inv_product_by_id(supplier_id, DatumGetInt64(product_elems[i]));
		lines[i].quantity = DatumGetInt64(quantity_elems[i]);
		lines[i].nslots = Max(inv_product_slots(supplier_id,
												lines[i].product_id), 1);
	}
	qsort(lines, nproducts, sizeof(InvOrderLine), inv_order_line_cmp);
	nlines = 0;
	for (i = 0; i < nproducts; i++)
	{
		if (nlines > 0 && lines[nlines - 1].product_id == lines[i].product_id)
		{
			if (pg_add_s64_overflow(lines[nlines - 1].quantity,
									lines[i].quantity,
									&lines[nlines - 1].quantity))
				ereport(ERROR,
						(errcode(ERRCODE_INV_INVALID_QUANTITY),
						 errmsg("total quantity of product " INT64_FORMAT " in order \"%s\" is out of range",
								lines[i].product_id, order_ref)));
		}
		else
			lines[nlines++] = lines[i];
	}

	/* Reserve line by line; the first shortage aborts them all */
	for (i = 0; i < nlines; i++)
	{
		TupleDesc	tupdesc;
		HeapTuple	reservation;

		reservation = inv_reserve_line(supplier_id, order_ref,
									   lines[i].product_id, lines[i].nslots,
									   lines[i].quantity, retailer_id,
									   &tupdesc);
		tuplestore_puttuple(rsinfo->setResult,
							inv_reservation_as_result(reservation, tupdesc,
													  rsinfo->setDesc));
	}

	SPI_finish();
	return (Datum) 0;
}

/*
 * inv_timestamptz_text
 *		A timestamptz value as text, as the session shows it.
 */
static char *
inv_timestamptz_text(Datum value)
{
	return DatumGetCString(DirectFunctionCall1(timestamptz_out, value));
}

/*
 * inv_state_name
 *		The label of a reservation_state enum value.
 */
static char *
inv_state_name(Datum state)
{
	return DatumGetCString(DirectFunctionCall1(enum_out, state));
}

/*
 * inv_refuse_transition
 *		Raise IV005 for an action that the reservation's state rules out.
 */
static void
inv_refuse_transition(InvAction action, int64 reservation_id,
					  const char *state)
{
	const char *verb;

	switch (action)
	{
		case INV_CONFIRM:
			verb = "confirm";
			break;
		case INV_RELEASE:
			verb = "release";
			break;
		case INV_CANCEL:
			verb = "cancel";
			break;
		default:
			verb = "dispatch";
			break;
	}

	/* Units already sold: point at the way back that still exists */
	if (strcmp(state, "confirmed") == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INV_RESERVATION_FINISHED),
				 errmsg("cannot %s reservation " INT64_FORMAT, verb, reservation_id),
				 errdetail("The reservation is already confirmed; its units are committed to the order."),
				 errhint("To call off a confirmed order, use inventory.inv_cancel().")));
	if (strcmp(state, "dispatched") == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INV_RESERVATION_FINISHED),
				 errmsg("cannot %s reservation " INT64_FORMAT, verb, reservation_id),
				 errdetail("The reservation is already dispatched; its units have left the building."),
				 errhint("To take units back into stock, record a return with inventory.inv_adjust().")));
	if (strcmp(state, "reserved") == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INV_RESERVATION_FINISHED),
				 errmsg("cannot %s reservation " INT64_FORMAT, verb, reservation_id),
				 errdetail("The reservation has not been confirmed."),
				 errhint("Confirm the order before dispatching it.")));

	/* Released or expired: nothing is held any more */
	ereport(ERROR,
			(errcode(ERRCODE_INV_RESERVATION_FINISHED),
			 errmsg("cannot %s reservation " INT64_FORMAT, verb, reservation_id),
			 errdetail("The reservation is already %s.", state),
			 errhint("Reserve the stock again under a new order reference.")));
}

/*
 * inv_transition
 *		Apply an action to one reservation and describe the outcome in
 *		values[]/nulls[], laid out as the inventory.transition type.
 *
 * Returns false, with nothing filled in, only for INV_EXPIRE on a
 * reservation another transaction holds locked or that is not due: the
 * sweeper leaves those alone.  A repeated action (confirming a confirmed
 * reservation, say) changes nothing and reports the state it found.  The
 * caller must be connected to SPI.
 */
static bool
inv_transition(int64 supplier_id, int64 reservation_id, InvAction action,
			   const char *reason, Datum *values, bool *nulls)
{
	static InvPlan lock_reservation = {
		"SELECT order_ref, product_id, slot, quantity, state, "
		"expires_at <= pg_catalog.statement_timestamp(), expires_at, "
		"lock_token, retailer_id, fenced_quantity "
		"FROM inventory.reservation "
		"WHERE supplier_id = $1 AND reservation_id = $2 FOR UPDATE",
		2, {INT8OID, INT8OID}, NULL
	};
	static InvPlan lock_reservation_nowait = {
		"SELECT order_ref, product_id, slot, quantity, state, "
		"expires_at <= pg_catalog.statement_timestamp(), expires_at, "
		"lock_token, retailer_id, fenced_quantity "
		"FROM inventory.reservation "
		"WHERE supplier_id = $1 AND reservation_id = $2 "
		"FOR UPDATE SKIP LOCKED",
		2, {INT8OID, INT8OID}, NULL
	};
	static InvPlan move_units = {
		"UPDATE inventory.stock_slot SET "
		"stock_level = stock_level"
		" + CASE WHEN made_to_order THEN 0 ELSE $4 END, "
		"reserved = reserved + $5, committed = committed + $6, "
		"ring_fenced = ring_fenced + $7 "
		"WHERE supplier_id = $1 AND product_id = $2 AND slot = $3",
		7, {INT8OID, INT8OID, INT2OID, INT8OID, INT8OID, INT8OID, INT8OID},
		NULL
	};
	static InvPlan set_state = {
		"UPDATE inventory.reservation "
		"SET state = $3::inventory.reservation_state, "
		"updated_at = pg_catalog.now() "
		"WHERE supplier_id = $1 AND reservation_id = $2 RETURNING state",
		3, {INT8OID, INT8OID, TEXTOID}, NULL
	};
	Datum		args[7];
	InvHeldReservation held;
	int			found;
	int64		fenced;
	int64		ring_delta = 0;
	char	   *order_ref;
	int64		product_id;
	int16		slot;
	int64		quantity;
	Datum		found_state;
	char	   *state;
	bool		lapsed;
	bool		isnull;
	const InvUnitMove *move;
	const char *new_state;
	InvChange	change = {0};
	InvStockUpdate update = {0};

	/* Lock the reservation; this settles races between its callers */
	found = inv_reservation_lock(supplier_id, reservation_id,
								 action == INV_EXPIRE, &held);
	if (found < 0)
	{
		HeapTuple	row;
		TupleDesc	rowdesc;

		/* The SELECT, where the lock cannot be taken straight */
		args[0] = Int64GetDatum(supplier_id);
		args[1] = Int64GetDatum(reservation_id);
		inv_plan_run(action == INV_EXPIRE ?
					 &lock_reservation_nowait : &lock_reservation,
					 args, NULL, false, 0);
		found = SPI_processed > 0;
		if (found)
		{
			row = SPI_tuptable->vals[0];
			rowdesc = SPI_tuptable->tupdesc;
			held.tuple = NULL;
			held.order_ref = SPI_getvalue(row, rowdesc, 1);
			held.product_id = DatumGetInt64(SPI_getbinval(row, rowdesc, 2,
														  &isnull));
			held.slot = DatumGetInt16(SPI_getbinval(row, rowdesc, 3, &isnull));
			held.quantity = DatumGetInt64(SPI_getbinval(row, rowdesc, 4,
														&isnull));
			held.state = SPI_getbinval(row, rowdesc, 5, &isnull);
			held.lapsed = DatumGetBool(SPI_getbinval(row, rowdesc, 6,
													 &isnull));
			held.expires_at = SPI_getbinval(row, rowdesc, 7, &isnull);
			held.lock_token = SPI_getvalue(row, rowdesc, 8);
			held.retailer_id = SPI_getvalue(row, rowdesc, 9);
			held.fenced_quantity = DatumGetInt64(SPI_getbinval(row, rowdesc,
															   10, &isnull));
		}
	}
	if (found == 0)
	{
		if (action == INV_EXPIRE)
			return false;
		ereport(ERROR,
				(errcode(ERRCODE_INV_UNKNOWN_RESERVATION),
				 errmsg("reservation " INT64_FORMAT " does not exist", reservation_id),
				 errhint("Reservation ids are returned by inventory.inv_reserve() and listed in inventory.reservation.")));
	}
	order_ref = held.order_ref;
	product_id = held.product_id;
	slot = held.slot;
	quantity = held.quantity;
	found_state = held.state;
	lapsed = held.lapsed;
	fenced = held.fenced_quantity;
	state = inv_state_name(found_state);

	/* Decide what the action means in the state we found */
	move = NULL;
	new_state = NULL;
	switch (action)
	{
		case INV_CONFIRM:
			if (strcmp(state, "reserved") == 0)
			{
				if (lapsed)
					ereport(ERROR,
							(errcode(ERRCODE_INV_RESERVATION_FINISHED),
							 errmsg("cannot confirm reservation " INT64_FORMAT, reservation_id),
							 errdetail("The reservation expired at %s.",
									   inv_timestamptz_text(held.expires_at)),
							 errhint("Reserve the stock again under a new order reference.")));
				move = &confirm_move;
				new_state = "confirmed";
			}
			else if (strcmp(state, "released") == 0 ||
					 strcmp(state, "expired") == 0)
				inv_refuse_transition(action, reservation_id, state);
			break;
		case INV_RELEASE:
			if (strcmp(state, "reserved") == 0)
			{
				move = &release_move;
				new_state = "released";
			}
			else if (strcmp(state, "confirmed") == 0 ||
					 strcmp(state, "dispatched") == 0)
				inv_refuse_transition(action, reservation_id, state);
			break;
		case INV_CANCEL:
			if (strcmp(state, "reserved") == 0)
			{
				move = &release_move;
				new_state = "released";
			}
			else if (strcmp(state, "confirmed") == 0)
			{
				move = &unconfirm_move;
				new_state = "released";
			}
			else if (strcmp(state, "dispatched") == 0)
				inv_refuse_transition(action, reservation_id, state);
			break;
		case INV_DISPATCH:
			if (strcmp(state, "confirmed") == 0)
			{
				move = &dispatch_move;
				new_state = "dispatched";
			}
			else if (strcmp(state, "dispatched") != 0)
				inv_refuse_transition(action, reservation_id, state);
			break;
		case INV_EXPIRE:
			if (strcmp(state, "reserved") != 0 || !lapsed)
				return false;
			move = &release_move;
			new_state = "expired";
			break;
	}

	/* Describe the outcome; a repeated action stops here */
	values[0] = Int64GetDatum(reservation_id);
	values[1] = CStringGetTextDatum(order_ref);
	values[2] = Int64GetDatum(product_id);
	values[3] = Int64GetDatum(quantity);
	values[4] = found_state;
	values[5] = found_state;
	values[6] = BoolGetDatum(new_state != NULL);
	memset(nulls, false, 7 * sizeof(bool));
	if (new_state == NULL)
	{
		ereport(NOTICE,
				(errmsg("reservation " INT64_FORMAT " is already %s", reservation_id, state)));
		return true;
	}

	/* Move the units, then the reservation's state */
	change.kind = inv_action_kind[action];
	change.reason = reason;
	change.order_ref = order_ref;
	change.reservation_id = reservation_id;

	/*
	 * Ring-fenced units go back to the retailer's allocation when the order
	 * fails or ships; a confirmed order keeps them drawn until dispatch.
	 */
	if (fenced > 0 && action != INV_CONFIRM)
		ring_delta = inv_fence_return(supplier_id, product_id,
									  held.retailer_id, fenced);

	args[0] = Int64GetDatum(supplier_id);
	args[1] = Int64GetDatum(product_id);
	args[2] = Int16GetDatum(slot);
	args[3] = Int64GetDatum(move->stock_level * quantity);
	args[4] = Int64GetDatum(move->reserved * quantity);
	args[5] = Int64GetDatum(move->committed * quantity);
	args[6] = Int64GetDatum(ring_delta);
	update.supplier_id = supplier_id;
	update.product_id = product_id;
	update.slot = slot;
	update.stock_level = move->stock_level * quantity;
	update.reserved = move->reserved * quantity;
	update.committed = move->committed * quantity;
	update.ring_fenced = ring_delta;
	if (inv_change_stock(&move_units, args, &update, &change) != 1)
		inv_report_missing_slot(product_id);

	/* Whoever ends an order-scope reservation gives back its lock */
	if (strcmp(state, "reserved") == 0)
		inv_order_lock_release_at_commit(supplier_id, product_id,
										 held.lock_token);

	/* The new state, straight into the locked row when it can be */
	if (held.tuple == NULL ||
		inv_reservation_set_state(&held, new_state, &values[5]) < 0)
	{
		args[0] = Int64GetDatum(supplier_id);
		args[1] = Int64GetDatum(reservation_id);
		args[2] = CStringGetTextDatum(new_state);
		inv_plan_run(&set_state, args, NULL, false, 0);
		values[5] = SPI_getbinval(SPI_tuptable->vals[0],
								  SPI_tuptable->tupdesc, 1, &isnull);
	}
	return true;
}

/*
 * inv_transition_one
 *		Body of inv_confirm, inv_release and inv_dispatch.
 */
static Datum
inv_transition_one(FunctionCallInfo fcinfo, InvAction action)
{
	int64		reservation_id;
	const char *reason = NULL;
	TupleDesc	result_desc;
	Datum		values[7];
	bool		nulls[7];
	Datum		result;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("reservation id must not be null")));
	reservation_id = PG_GETARG_INT64(0);
	if (PG_NARGS() > 1 && !PG_ARGISNULL(1))
		reason = text_to_cstring(PG_GETARG_TEXT_PP(1));
	if (get_call_result_type(fcinfo, NULL, &result_desc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	result_desc = BlessTupleDesc(result_desc);

	SPI_connect();
	inv_transition(inv_get_supplier_id(), reservation_id, action, reason,
				   values, nulls);
	result = PointerGetDatum(SPI_returntuple(heap_form_tuple(result_desc,
															 values, nulls),
											 result_desc));
	SPI_finish();

	PG_RETURN_DATUM(result);
}

/*
 * inv_transition_order
 *		Body of inv_confirm_order, inv_release_order and inv_dispatch_order:
 *		the action on every reservation of an order, in product order.
 */
static Datum
inv_transition_order(FunctionCallInfo fcinfo, InvAction action)
{
	static InvPlan order_reservations = {
		"SELECT reservation_id FROM inventory.reservation "
		"WHERE supplier_id = $1 AND order_ref = $2 "
		"ORDER BY product_id, slot",
		2, {INT8OID, TEXTOID}, NULL
	};
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	char	   *order_ref = inv_check_order_ref(fcinfo, 0);
	const char *reason = NULL;
	int64		supplier_id;
	int64	   *ids;
	uint64		nids;
	uint64		i;
	bool		isnull;
	Datum		args[2];

	if (PG_NARGS() > 1 && !PG_ARGISNULL(1))
		reason = text_to_cstring(PG_GETARG_TEXT_PP(1));

	InitMaterializedSRF(fcinfo, 0);
	SPI_connect();
	supplier_id = inv_get_supplier_id();

	/* Find the order's lines */
	args[0] = Int64GetDatum(supplier_id);
	args[1] = CStringGetTextDatum(order_ref);
	inv_plan_run(&order_reservations, args, NULL, false, 0);
	nids = SPI_processed;
	if (nids == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INV_UNKNOWN_RESERVATION),
				 errmsg("order \"%s\" has no reservations", order_ref),
				 errhint("Order references are compared exactly, including case and spaces.")));
	ids = palloc(sizeof(int64) * nids);
	for (i = 0; i < nids; i++)
		ids[i] = inv_spi_int64(i, 1, &isnull);

	/* Act on each; any refusal undoes the whole call */
	for (i = 0; i < nids; i++)
	{
		Datum		values[7];
		bool		nulls[7];

		inv_transition(supplier_id, ids[i], action, reason, values, nulls);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}

	SPI_finish();
	return (Datum) 0;
}

/*
 * inv_confirm(reservation_id)
 *		The order went through: the reserved units leave the stock level and
 *		become committed until dispatch.
 */
Datum
inv_confirm(PG_FUNCTION_ARGS)
{
	return inv_transition_one(fcinfo, INV_CONFIRM);
}

/*
 * inv_release(reservation_id, reason)
 *		The order failed: the reserved units become available again.
 */
Datum
inv_release(PG_FUNCTION_ARGS)
{
	return inv_transition_one(fcinfo, INV_RELEASE);
}

/*
 * inv_cancel(reservation_id, reason)
 *		The order was called off: an open reservation is released, and a
 *		confirmed one gives its committed units back to the stock level.
 */
Datum
inv_cancel(PG_FUNCTION_ARGS)
{
	return inv_transition_one(fcinfo, INV_CANCEL);
}

/*
 * inv_dispatch(reservation_id)
 *		The confirmed units left the building.
 */
Datum
inv_dispatch(PG_FUNCTION_ARGS)
{
	return inv_transition_one(fcinfo, INV_DISPATCH);
}

/*
 * inv_confirm_order(order_ref)
 *		inv_confirm for every line of an order.
 */
Datum
inv_confirm_order(PG_FUNCTION_ARGS)
{
	return inv_transition_order(fcinfo, INV_CONFIRM);
}

/*
 * inv_release_order(order_ref, reason)
 *		inv_release for every line of an order.
 */
Datum
inv_release_order(PG_FUNCTION_ARGS)
{
	return inv_transition_order(fcinfo, INV_RELEASE);
}

/*
 * inv_cancel_order(order_ref, reason)
 *		inv_cancel for every line of an order.
 */
Datum
inv_cancel_order(PG_FUNCTION_ARGS)
{
	return inv_transition_order(fcinfo, INV_CANCEL);
}

/*
 * inv_dispatch_order(order_ref)
 *		inv_dispatch for every line of an order.
 */
Datum
inv_dispatch_order(PG_FUNCTION_ARGS)
{
	return inv_transition_order(fcinfo, INV_DISPATCH);
}

/*
 * inv_expire()
 *		Release every reservation past its expiry time; return how many.
 *
 * Candidates are read without locks and then taken one by one in product
 * order, skipping any that another transaction is confirming or releasing
 * at this moment; a later sweep catches them if they are still open.
 */
Datum
inv_expire(PG_FUNCTION_ARGS)
{
	static InvPlan lapsed_reservations = {
		"SELECT reservation_id FROM inventory.reservation "
		"WHERE supplier_id = $1 AND state = 'reserved' "
		"AND expires_at <= pg_catalog.statement_timestamp() "
		"ORDER BY product_id, slot, reservation_id",
		1, {INT8OID}, NULL
	};
	int64		supplier_id;
	int64	   *ids;
	uint64		nids;
	uint64		i;
	int64		expired = 0;
	bool		isnull;
	Datum		args[1];

	SPI_connect();
	supplier_id = inv_get_supplier_id();

	/* Find the candidates */
	args[0] = Int64GetDatum(supplier_id);
	inv_plan_run(&lapsed_reservations, args, NULL, false, 0);
	nids = SPI_processed;
	ids = palloc(sizeof(int64) * Max(nids, 1));
	for (i = 0; i < nids; i++)
		ids[i] = inv_spi_int64(i, 1, &isnull);

	/* Expire each one still due */
	for (i = 0; i < nids; i++)
	{
		Datum		values[7];
		bool		nulls[7];

		CHECK_FOR_INTERRUPTS();
		if (inv_transition(supplier_id, ids[i], INV_EXPIRE, NULL,
						   values, nulls))
			expired++;
	}

	SPI_finish();
	PG_RETURN_INT64(expired);
}
