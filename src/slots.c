/*-------------------------------------------------------------------------
 *
 * slots.c
 *		Hot products: a product's stock spread over several slot rows.
 *
 * Orders for one product queue on its stock row's lock, and each holds it
 * until its commit is flushed, so one row caps a product at one commit at a
 * time.  A hot product can have its stock spread over n slot rows (slots
 * 0 .. n-1, set with inv_set_slots); the product's stock is the sum of its
 * slots, as for every product.  An order then reserves from one slot:
 *
 *	1. Each backend starts at its own slot (its backend id modulo n) and
 *	   takes the first slot, in rotation from there, that has the units and
 *	   that no other transaction holds locked (SKIP LOCKED); with about a
 *	   slot per backend that orders the product, its own is nearly always
 *	   free and orders do not meet at all;
 *	2. if every slot with the units is locked, it waits for one of them,
 *	   picked at random, like an order on a one-slot product;
 *	3. if no single slot has the units although the product has, it
 *	   rebalances: it locks all the product's slots in ascending slot order
 *	   and spreads the free (unreserved) units evenly over them, its own
 *	   slot getting at least what it needs.
 *
 * Only free units move between slots, so reserved <= stock level holds per
 * slot; confirm, release, expiry and cancel act on the slot the reservation
 * names.  Moves are written to the ledger as kind "rebalance", two or more
 * rows that sum to zero for the product.
 *
 * Slot 0 is the product's home slot: inv_slots_gather moves all free units
 * into it under the slots' locks, so that afterwards slot 0's available is
 * the product's available.  Stock adjustments use it before they change
 * the level, which then lands on slot 0 alone; the next order that finds no
 * slot with its units spreads them out again.
 *
 * A product with slots beyond slot 0 carries its low-stock threshold on
 * every slot as -1 - threshold, so that the low-stock trigger
 * (inv_low_stock_check) asks inv_low_stock_slots, which alerts on the
 * crossing of the product's summed available, instead of comparing the
 * slot's.  Changes that
 * may cross take a per-product advisory lock until commit, so that each
 * sees the ones before it (READ COMMITTED, as the order functions run).
 *
 * Steps 1 and 2 go straight through the table (inv_stock_claim_slot in
 * stock_write.c), in the order's own transaction, locking only a row
 * version already seen to have the units; where the table is not as this
 * extension made it, they run as statements, each attempt after the first
 * in a subtransaction that gives back the lock on a slot emptied while it
 * waited.
 *
 * Deadlocks: an order waits for a slot only in step 2, holding none of the
 * product's slots; rebalancing and gathering take the slots in ascending
 * order, holding none before.
 *
 * Ring-fenced stock lives on slot 0 and is checked there, so a product with
 * allocations keeps one slot: inv_set_slots refuses it, and so does
 * inv_set_allocation on a product with several slots.  With a cross-node
 * lock scope in force, orders of a several-slot product reserve from slot 0
 * (gathering into it when it runs short), since the lock already puts them
 * in single file and the fencing numbers live on slot 0.
 *
 * Copyright (c) 2026, the inventory authors
 *
 * IDENTIFICATION
 *		src/slots.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/xact.h"
#include "common/pg_prng.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "storage/lock.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/rel.h"
#include "utils/resowner.h"

#include "inventory.h"

/*
 * The last field of the advisory lock tag that serializes low-stock checks
 * of a product; SQL's advisory lock functions use 1 and 2 there.
 */
#define INV_ALERT_LOCK_FIELD	0x4956

/* Rounds of looking for a slot with the units before rebalancing */
#define INV_CLAIM_ATTEMPTS	4

/*
 * The same when looking straight through the table: a round there ends
 * after a wait that another order's commit cuts short, so there are more
 */
#define INV_CLAIM_ROUNDS	64

PG_FUNCTION_INFO_V1(inv_set_slots);
PG_FUNCTION_INFO_V1(inv_gather_slots);
PG_FUNCTION_INFO_V1(inv_low_stock_slots);
PG_FUNCTION_INFO_V1(inv_low_stock_check);

/* One slot as the rebalancer reads it, locked */
typedef struct InvSlotFree
{
	int16		slot;
	int64		free;
} InvSlotFree;

/*
 * inv_slot_try
 *		Run a statement that locks and returns at most one slot, in a
 *		subtransaction; return the slot, or -1 having given back whatever
 *		the statement locked.
 *
 * A locking read that finds a row changed by a transaction that committed
 * meanwhile locks it, checks it again and may then pass it over, keeping
 * the lock.  Holding such a lock while waiting for another slot, or while
 * rebalancing, could deadlock; the subtransaction's end releases it.
 */
static int
inv_slot_try(InvPlan *plan, Datum *args)
{
	MemoryContext context = CurrentMemoryContext;
	ResourceOwner owner = CurrentResourceOwner;
	volatile int slot = -1;

	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(context);
	PG_TRY();
	{
		bool		isnull;

		inv_plan_run(plan, args, NULL, false, 1);
		if (SPI_processed == 1)
			slot = DatumGetInt16(SPI_getbinval(SPI_tuptable->vals[0],
											   SPI_tuptable->tupdesc, 1,
											   &isnull));
	}
	PG_CATCH();
	{
		ErrorData  *error;

		/*
		 * A lock timeout, a deadlock or a cancel while waiting: end the
		 * subtransaction before the error goes on, or the caller's own
		 * savepoint would roll back only ours, and keep the rest of an order
		 * that failed
		 */
		MemoryContextSwitchTo(context);
		error = CopyErrorData();
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(context);
		CurrentResourceOwner = owner;
		ReThrowError(error);
	}
	PG_END_TRY();

	if (slot >= 0)
		ReleaseCurrentSubTransaction();
	else
		RollbackAndReleaseCurrentSubTransaction();
	MemoryContextSwitchTo(context);
	CurrentResourceOwner = owner;
	return slot;
}

/*
 * inv_slot_claim
 *		Lock a slot of a several-slot product that has quantity units
 *		available, by steps 1 to 3 of the file header, and return its
 *		number; -1 if the product as a whole has fewer available.
 *
 * The caller must be connected to SPI and hold none of the product's
 * slots.
 */
int
inv_slot_claim(int64 supplier_id, int64 product_id, int nslots,
			   int64 quantity)
{
	static InvPlan claim_free = {
		"SELECT slot FROM inventory.stock_slot "
		"WHERE supplier_id = $1 AND product_id = $2 "
		"AND (made_to_order OR available - ring_fenced >= $3) "
		"ORDER BY (slot + $4) % $5 "
		"FOR NO KEY UPDATE SKIP LOCKED LIMIT 1",
		5, {INT8OID, INT8OID, INT8OID, INT4OID, INT4OID}, NULL
	};
	static InvPlan pick_busy = {
		"SELECT slot FROM inventory.stock_slot "
		"WHERE supplier_id = $1 AND product_id = $2 "
		"AND (made_to_order OR available - ring_fenced >= $3) "
		"ORDER BY (slot + $4) % $5 LIMIT 1",
		5, {INT8OID, INT8OID, INT8OID, INT4OID, INT4OID}, NULL
	};
	static InvPlan claim_busy = {
		"SELECT slot FROM inventory.stock_slot "
		"WHERE supplier_id = $1 AND product_id = $2 AND slot = $6 "
		"AND (made_to_order OR available - ring_fenced >= $3) "
		"FOR NO KEY UPDATE",
		6, {INT8OID, INT8OID, INT8OID, INT4OID, INT4OID, INT2OID}, NULL
	};
	Datum		args[6];
	int			start = MyBackendId % nslots;
	int			attempt;
	int			slot;
	bool		isnull;

	/* Straight through the table, when it is as this extension made it */
	slot = inv_stock_claim_slot(supplier_id, product_id, nslots, quantity,
								INV_CLAIM_ROUNDS);
	if (slot == INV_CLAIM_NONE)
		return inv_slots_rebalance(supplier_id, product_id, start, quantity);
	if (slot >= 0)
		return slot;

	args[0] = Int64GetDatum(supplier_id);
	args[1] = Int64GetDatum(product_id);
	args[2] = Int64GetDatum(quantity);
	args[3] = Int32GetDatum(nslots - start);
	args[4] = Int32GetDatum(nslots);

	/*
	 * The first try runs in the transaction itself: a row lock taken in a
	 * subtransaction turns the UPDATE that follows into a MultiXact, which
	 * costs more than the rest of the order.  If it fails having locked a
	 * slot it then passed over, the rounds below still run; a deadlock the
	 * detector breaks is then possible, near a sell-out only.
	 */
	inv_plan_run(&claim_free, args, NULL, false, 1);
	if (SPI_processed == 1)
		return DatumGetInt16(SPI_getbinval(SPI_tuptable->vals[0],
										   SPI_tuptable->tupdesc, 1,
										   &isnull));

	for (attempt = 0; attempt < INV_CLAIM_ATTEMPTS; attempt++)
	{
		/* A free slot with the units */
		slot = attempt == 0 ? -1 : inv_slot_try(&claim_free, args);
		if (slot >= 0)
			return slot;

		/*
		 * Every slot with them is busy: wait for one, picked at random so
		 * that the backends that share a starting slot do not all queue on
		 * it
		 */
		args[3] = Int32GetDatum(nslots -
								(int) (pg_prng_uint32(&pg_global_prng_state) %
									   (uint32) nslots));
		inv_plan_run(&pick_busy, args, NULL, false, 1);
		args[3] = Int32GetDatum(nslots - start);
		if (SPI_processed == 0)
			break;
		args[5] = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc,
								1, &isnull);
		slot = inv_slot_try(&claim_busy, args);
		if (slot >= 0)
			return slot;
		CHECK_FOR_INTERRUPTS();
	}

	/* The units are scattered, or not there */
	return inv_slots_rebalance(supplier_id, product_id, start, quantity);
}

/*
 * inv_slots_lock_all
 *		Lock every slot of a product in ascending slot order; return their
 *		free units in *slots (palloc'd) and how many there are.
 */
static int
inv_slots_lock_all(int64 supplier_id, int64 product_id, InvSlotFree **slots)
{
	static InvPlan lock_all = {
		"SELECT slot, stock_level - reserved FROM inventory.stock_slot "
		"WHERE supplier_id = $1 AND product_id = $2 "
		"ORDER BY slot FOR NO KEY UPDATE",
		2, {INT8OID, INT8OID}, NULL
	};
	Datum		args[2];
	bool		isnull;
	int			n;
	int			i;

	args[0] = Int64GetDatum(supplier_id);
	args[1] = Int64GetDatum(product_id);
	inv_plan_run(&lock_all, args, NULL, false, 0);
	n = (int) SPI_processed;
	*slots = palloc(sizeof(InvSlotFree) * Max(n, 1));
	for (i = 0; i < n; i++)
	{
		(*slots)[i].slot = DatumGetInt16(SPI_getbinval(SPI_tuptable->vals[i],
													   SPI_tuptable->tupdesc,
													   1, &isnull));
		(*slots)[i].free = inv_spi_int64(i, 2, &isnull);
	}
	return n;
}

/*
 * inv_slots_move
 *		Give each locked slot the free units in share[], moving units
 *		between the slots (their sum must stay what it is), and record the
 *		moves in the ledger as kind "rebalance".
 */
static void
inv_slots_move(int64 supplier_id, int64 product_id, InvSlotFree *slots,
			   const int64 *share, int n)
{
	static InvPlan move = {
		"UPDATE inventory.stock_slot s "
		"SET stock_level = s.stock_level + m.delta "
		"FROM ROWS FROM (pg_catalog.unnest($3::pg_catalog.int2[]), "
		"pg_catalog.unnest($4::pg_catalog.int8[])) AS m (slot, delta) "
		"WHERE s.supplier_id = $1 AND s.product_id = $2 AND s.slot = m.slot",
		4, {INT8OID, INT8OID, INT2ARRAYOID, INT8ARRAYOID}, NULL
	};
	InvChange	change = {0};
	Datum	   *slot_elems = palloc(sizeof(Datum) * n);
	Datum	   *delta_elems = palloc(sizeof(Datum) * n);
	Datum		args[4];
	int			moves = 0;
	int			i;

	for (i = 0; i < n; i++)
	{
		if (share[i] == slots[i].free)
			continue;
		slot_elems[moves] = Int16GetDatum(slots[i].slot);
		delta_elems[moves] = Int64GetDatum(share[i] - slots[i].free);
		moves++;
	}
	if (moves == 0)
		return;

	/* Moves made for a bulk load carry its batch */
	change.kind = "rebalance";
	change.reason = "free stock moved between the product's slots";
	if (inv_current_change() != NULL)
		change.batch_id = inv_current_change()->batch_id;
	args[0] = Int64GetDatum(supplier_id);
	args[1] = Int64GetDatum(product_id);
	args[2] = PointerGetDatum(construct_array(slot_elems, moves, INT2OID, 2,
											  true, TYPALIGN_SHORT));
	args[3] = PointerGetDatum(construct_array(delta_elems, moves, INT8OID, 8,
											  FLOAT8PASSBYVAL,
											  TYPALIGN_DOUBLE));
	inv_plan_run_change(&move, args, NULL, &change);
}

/*
 * inv_slots_rebalance
 *		Spread a product's free units evenly over its slots, the slot at
 *		index target (in slot order) getting at least need; return that
 *		slot's number, or -1, moving nothing, if the product has fewer than
 *		need free units.
 *
 * Locks all the product's slots in ascending order.  The caller must be
 * connected to SPI and hold none of them.
 */
int
inv_slots_rebalance(int64 supplier_id, int64 product_id, int target,
					int64 need)
{
	InvSlotFree *slots;
	int64	   *share;
	int64		total = 0;
	int64		rest;
	int			n;
	int			others;
	int			i;
	int			k;

	n = inv_slots_lock_all(supplier_id, product_id, &slots);
	if (n == 0)
		return -1;
	if (target >= n)
		target = 0;
	for (i = 0; i < n; i++)
		total += slots[i].free;
	if (total < need)
		return -1;

	/* Even shares; the target's raised to what it needs */
	share = palloc(sizeof(int64) * n);
	if (total / n >= need)
	{
		for (i = 0; i < n; i++)
			share[i] = total / n + (i < total % n ? 1 : 0);
	}
	else
	{
		share[target] = need;
		rest = total - need;
		others = n - 1;
		for (i = 0, k = 0; i < n; i++)
		{
			if (i == target)
				continue;
			share[i] = rest / others + (k < rest % others ? 1 : 0);
			k++;
		}
	}
	inv_slots_move(supplier_id, product_id, slots, share, n);
	return slots[target].slot;
}

/*
 * inv_slots_gather
 *		Move all free units of a product's slots into slot 0, under the
 *		slots' locks taken in ascending order; return the units moved.
 *
 * Afterwards slot 0's available is the product's available, and the
 * caller holds every slot locked, so a change of the stock level can land
 * on slot 0.  A one-slot product only has its row locked.  The caller must
 * be connected to SPI and hold none of the product's slots but slot 0.
 */
int64
inv_slots_gather(int64 supplier_id, int64 product_id)
{
	InvSlotFree *slots;
	int64	   *share;
	int64		moved = 0;
	int			n;
	int			i;

	n = inv_slots_lock_all(supplier_id, product_id, &slots);
	if (n == 0 || slots[0].slot != 0)
		inv_report_missing_slot(product_id);
	if (n == 1)
		return 0;

	share = palloc0(sizeof(int64) * n);
	for (i = 0; i < n; i++)
		share[0] += slots[i].free;
	for (i = 1; i < n; i++)
		moved += slots[i].free;
	inv_slots_move(supplier_id, product_id, slots, share, n);
	return moved;
}

/*
 * inv_slots_mark_threshold
 *		Write the product's low-stock threshold on each of its slots, as
 *		the triggers expect it: as it is on a one-slot product, as
 *		-1 - threshold on a product with several slots.
 */
static void
inv_slots_mark_threshold(int64 supplier_id, int64 product_id)
{
	static InvPlan mark = {
		"UPDATE inventory.stock_slot s SET low_stock_threshold = "
		"CASE WHEN (SELECT pg_catalog.count(*) FROM inventory.stock_slot o "
		"WHERE o.supplier_id = $1 AND o.product_id = $2) > 1 "
		"THEN -1 - p.low_stock_threshold ELSE p.low_stock_threshold END "
		"FROM inventory.product p "
		"WHERE p.supplier_id = $1 AND p.product_id = $2 "
		"AND s.supplier_id = $1 AND s.product_id = $2",
		2, {INT8OID, INT8OID}, NULL
	};
	Datum		args[2];

	args[0] = Int64GetDatum(supplier_id);
	args[1] = Int64GetDatum(product_id);
	inv_plan_run(&mark, args, NULL, false, 0);
}

/*
 * inv_set_slots(product, slots)
 *		Spread a product's stock over this many slot rows (1 puts it back
 *		on slot 0 alone); return the number of slots it now has.
 *
 * Slots beyond the new number are removed once empty; one that still holds
 * reserved or committed units of open orders stays, with no free units,
 * until they end and the function is called again.
 */
Datum
inv_set_slots(PG_FUNCTION_ARGS)
{
	static InvPlan has_allocation = {
		"SELECT FROM inventory.allocation "
		"WHERE supplier_id = $1 AND product_id = $2",
		2, {INT8OID, INT8OID}, NULL
	};
	static InvPlan add_slots = {
		"INSERT INTO inventory.stock_slot (supplier_id, product_id, slot, "
		"made_to_order, low_stock_threshold) "
		"SELECT s.supplier_id, s.product_id, g, s.made_to_order, "
		"s.low_stock_threshold "
		"FROM inventory.stock_slot s, "
		"pg_catalog.generate_series(1, $3 - 1) g "
		"WHERE s.supplier_id = $1 AND s.product_id = $2 AND s.slot = 0 "
		"ON CONFLICT DO NOTHING",
		3, {INT8OID, INT8OID, INT4OID}, NULL
	};
	static InvPlan drop_slots = {
		"DELETE FROM inventory.stock_slot s "
		"WHERE s.supplier_id = $1 AND s.product_id = $2 AND s.slot >= $3 "
		"AND s.stock_level = 0 AND s.reserved = 0 AND s.committed = 0 "
		"AND NOT EXISTS (SELECT FROM inventory.reservation r "
		"WHERE r.supplier_id = $1 AND r.product_id = $2 AND r.slot = s.slot "
		"AND r.state IN ('reserved', 'confirmed'))",
		3, {INT8OID, INT8OID, INT4OID}, NULL
	};
	int64		supplier_id;
	int64		product_id;
	int32		nslots;
	Datum		args[3];
	InvSlotFree *slots;
	int			n;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("product and number of slots must not be null")));
	nslots = PG_GETARG_INT32(1);
	if (nslots < 1 || nslots > INV_MAX_SLOTS)
		ereport(ERROR,
				(errcode(ERRCODE_INV_INVALID_SLOT_COUNT),
				 errmsg("number of slots must be between 1 and %d", INV_MAX_SLOTS),
				 errdetail("The number given was %d.", nslots),
				 errhint("About one slot per session that orders the product at the same time is enough.")));

	SPI_connect();
	supplier_id = inv_get_supplier_id();
	product_id = inv_resolve_product(supplier_id, fcinfo, 0);

	/* Slot 0 first: set_allocation takes it first too */
	(void) inv_lock_stock_row(supplier_id, product_id);
	args[0] = Int64GetDatum(supplier_id);
	args[1] = Int64GetDatum(product_id);
	args[2] = Int32GetDatum(nslots);
	if (nslots > 1)
	{
		inv_plan_run(&has_allocation, args, NULL, false, 1);
		if (SPI_processed > 0)
			ereport(ERROR,
					(errcode(ERRCODE_INV_SLOTS_WITH_ALLOCATION),
					 errmsg("product " INT64_FORMAT " has ring-fenced stock and keeps one slot",
							product_id),
					 errdetail("Ring-fenced units are checked on the product's slot 0."),
					 errhint("Remove its allocations with inventory.inv_set_allocation(..., 0) first.")));
		inv_plan_run(&add_slots, args, NULL, false, 0);

		/* Encoded before any unit moves, so no move looks like a fall */
		inv_slots_mark_threshold(supplier_id, product_id);
	}

	/* Everything home, the surplus slots away, then spread again */
	(void) inv_slots_gather(supplier_id, product_id);
	inv_plan_run(&drop_slots, args, NULL, false, 0);
	n = inv_slots_lock_all(supplier_id, product_id, &slots);
	if (n > 1 && nslots > 1)
		(void) inv_slots_rebalance(supplier_id, product_id, 0, 0);
	inv_slots_mark_threshold(supplier_id, product_id);
	if (n > nslots)
		ereport(NOTICE,
				(errmsg("product " INT64_FORMAT " keeps %d slots for now",
						product_id, n),
				 errdetail("A slot numbered %d or more is removed only once no open order holds units in it.",
						   nslots),
				 errhint("Call inventory.inv_set_slots again once those orders are confirmed and dispatched, released or expired.")));

	SPI_finish();
	PG_RETURN_INT32(n);
}

/*
 * inv_gather_slots(product)
 *		SQL form of inv_slots_gather: move a product's free units into slot
 *		0; return slot 0's available quantity afterwards, which is the
 *		product's.
 */
Datum
inv_gather_slots(PG_FUNCTION_ARGS)
{
	static InvPlan home = {
		"SELECT available FROM inventory.stock_slot "
		"WHERE supplier_id = $1 AND product_id = $2 AND slot = 0",
		2, {INT8OID, INT8OID}, NULL
	};
	int64		supplier_id;
	int64		product_id;
	Datum		args[2];
	bool		isnull;
	int64		available;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("product must not be null")));

	SPI_connect();
	supplier_id = inv_get_supplier_id();
	product_id = inv_resolve_product(supplier_id, fcinfo, 0);
	(void) inv_slots_gather(supplier_id, product_id);
	args[0] = Int64GetDatum(supplier_id);
	args[1] = Int64GetDatum(product_id);
	inv_plan_run(&home, args, NULL, false, 1);
	available = inv_spi_int64(0, 1, &isnull);
	SPI_finish();

	PG_RETURN_INT64(available);
}

/*
 * inv_low_stock_slots(supplier_id, product_id, slot_drop, threshold)
 *		Called by the low-stock trigger for a slot of a product with several
 *		slots whose available fell by slot_drop to below the threshold:
 *		raise the alert if the product's summed available fell from at or
 *		above the threshold to below it.
 *
 * Moves between slots leave the product's available as it was and raise
 * nothing.
 */
Datum
inv_low_stock_slots(PG_FUNCTION_ARGS)
{
	static InvPlan product_available = {
		"SELECT pg_catalog.sum(available)::bigint FROM inventory.stock_slot "
		"WHERE supplier_id = $1 AND product_id = $2",
		2, {INT8OID, INT8OID}, NULL
	};
	static InvPlan raise_alert = {
		"SELECT inventory.inv_raise_low_stock($1, $2, $3, $4)",
		4, {INT8OID, INT8OID, INT8OID, INT8OID}, NULL
	};
	const InvChange *change = inv_current_change();
	int64		supplier_id = PG_GETARG_INT64(0);
	int64		product_id = PG_GETARG_INT64(1);
	int64		slot_drop = PG_GETARG_INT64(2);
	int64		threshold = PG_GETARG_INT64(3);
	int64		after;
	bool		isnull;
	Datum		args[4];
	LOCKTAG		tag;

	if (change != NULL && strcmp(change->kind, "rebalance") == 0)
		PG_RETURN_VOID();

	/*
	 * Orders on different slots do not see each other's uncommitted
	 * changes, so two of them could each see the product above the
	 * threshold and together leave it below.  Those that may cross take
	 * the product's alert lock until they commit, and each then sums the
	 * slots as the ones before it committed them.
	 */
	SET_LOCKTAG_ADVISORY(tag, MyDatabaseId, (uint32) (product_id >> 32),
						 (uint32) product_id, INV_ALERT_LOCK_FIELD);
	(void) LockAcquire(&tag, ExclusiveLock, false, false);

	/* The product's available now, and before this slot's change */
	SPI_connect();
	args[0] = Int64GetDatum(supplier_id);
	args[1] = Int64GetDatum(product_id);
	inv_plan_run(&product_available, args, NULL, false, 1);
	after = inv_spi_int64(0, 1, &isnull);
	if (!isnull && after < threshold && after + slot_drop >= threshold)
	{
		args[2] = Int64GetDatum(after);
		args[3] = Int64GetDatum(threshold);
		inv_plan_run(&raise_alert, args, NULL, false, 0);
	}
	SPI_finish();

	PG_RETURN_VOID();
}

/*
 * inv_slot_value
 *		A bigint column of a stock_slot tuple; *isnull tells a null.
 */
static int64
inv_slot_value(HeapTuple tuple, TupleDesc tupdesc, const char *name,
			   bool *isnull)
{
	Datum		value = SPI_getbinval(tuple, tupdesc,
									  SPI_fnumber(tupdesc, name), isnull);

	return *isnull ? 0 : DatumGetInt64(value);
}

/*
 * inv_low_stock_check()
 *		AFTER UPDATE row trigger on inventory.stock_slot: raise the low-stock
 *		alert when a stocked product's available falls from at or above its
 *		threshold to below it.
 *
 * It has no WHEN clause: the executor compiles a trigger's WHEN clause
 * again for every statement, which cost more than the two stock updates of
 * an order make of this function.  A slot whose available did not fall
 * below the threshold returns at once.  A one-slot product's slot carries
 * the threshold as it is and decides alone; a several-slot product's
 * carries -1 - threshold and inv_low_stock_slots decides on the sum.
 */
Datum
inv_low_stock_check(PG_FUNCTION_ARGS)
{
	static InvPlan raise_alert = {
		"SELECT inventory.inv_raise_low_stock($1, $2, $3, $4)",
		4, {INT8OID, INT8OID, INT8OID, INT8OID}, NULL
	};
	TriggerData *trigdata = (TriggerData *) fcinfo->context;
	TupleDesc	tupdesc;
	HeapTuple	old_row;
	HeapTuple	new_row;
	bool		isnull;
	int64		threshold;
	int64		old_available;
	int64		new_available;
	int64		supplier_id;
	int64		product_id;
	Datum		args[4];

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("inv_low_stock_check() was not called by the trigger manager")));
	if (!TRIGGER_FIRED_BY_UPDATE(trigdata->tg_event) ||
		!TRIGGER_FIRED_FOR_ROW(trigdata->tg_event) ||
		!TRIGGER_FIRED_AFTER(trigdata->tg_event))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("inv_low_stock_check() must be fired after each updated row")));

	/* Most changes stop here: no threshold, or still above it */
	tupdesc = trigdata->tg_relation->rd_att;
	old_row = trigdata->tg_trigtuple;
	new_row = trigdata->tg_newtuple;
	threshold = inv_slot_value(new_row, tupdesc, "low_stock_threshold",
							   &isnull);
	if (isnull)
		return PointerGetDatum(NULL);
	if (DatumGetBool(SPI_getbinval(new_row, tupdesc,
								   SPI_fnumber(tupdesc, "made_to_order"),
								   &isnull)))
		return PointerGetDatum(NULL);
	old_available = inv_slot_value(old_row, tupdesc, "available", &isnull);
	new_available = inv_slot_value(new_row, tupdesc, "available", &isnull);
	if (new_available >= old_available)
		return PointerGetDatum(NULL);
	if (threshold >= 0 ?
		(old_available < threshold || new_available >= threshold) :
		new_available >= -1 - threshold)
		return PointerGetDatum(NULL);

	/* Fallen below: the slot is the product, or the sum decides */
	supplier_id = inv_slot_value(new_row, tupdesc, "supplier_id", &isnull);
	product_id = inv_slot_value(new_row, tupdesc, "product_id", &isnull);
	if (threshold < 0)
	{
		DirectFunctionCall4(inv_low_stock_slots,
							Int64GetDatum(supplier_id),
							Int64GetDatum(product_id),
							Int64GetDatum(old_available - new_available),
							Int64GetDatum(-1 - threshold));
		return PointerGetDatum(NULL);
	}
	SPI_connect();
	args[0] = Int64GetDatum(supplier_id);
	args[1] = Int64GetDatum(product_id);
	args[2] = Int64GetDatum(new_available);
	args[3] = Int64GetDatum(threshold);
	inv_plan_run(&raise_alert, args, NULL, false, 0);
	SPI_finish();

	return PointerGetDatum(NULL);
}
