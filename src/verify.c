/*-------------------------------------------------------------------------
 *
 * verify.c
 *		Checking the stock of record against its two witnesses, and repair.
 *
 * Each stock slot's quantities can be derived twice over: "reserved" and
 * "committed" from the reservation rows that hold them, and all three
 * quantities from the ledger, whose rows carry each change's before and
 * after.  inv_verify compares the three and lists every disagreement;
 * inv_repair sets reserved and committed back to what the reservations say,
 * through the ledger like any other change.  The ledger itself is never
 * rewritten.
 *
 * Copyright (c) 2026, the inventory authors
 *
 * IDENTIFICATION
 *		src/verify.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/tuplestore.h"

#include "inventory.h"

PG_FUNCTION_INFO_V1(inv_verify);
PG_FUNCTION_INFO_V1(inv_repair);

/*
 * inv_verify()
 *		Return one row per discrepancy: (check_name, product_id, slot,
 *		expected, actual, detail).  A healthy database returns none.
 *
 * The checks:
 *	reserved	slot's reserved vs. open ("reserved") reservations
 *	committed	slot's committed vs. confirmed reservations
 *	ledger_*	slot's quantities vs. the sum of its ledger changes
 *	oversold	a stocked product with more reserved than in stock
 *	ring_fenced	slot's ring_fenced vs. what its allocations still hold
 *	allocation_drawn  an allocation's drawn vs. its retailer's reservations
 *	no_slot		a product without stock, or reservations on a missing slot
 */
Datum
inv_verify(PG_FUNCTION_ARGS)
{
	static InvPlan find_discrepancies = {
		"WITH slots AS ("
		"  SELECT product_id, slot, stock_level, reserved, committed,"
		"   made_to_order"
		"  FROM inventory.stock_slot WHERE supplier_id = $1),"
		" held AS ("
		"  SELECT product_id, slot,"
		"   pg_catalog.sum(quantity) FILTER (WHERE state = 'reserved')"
		"    AS reserved,"
		"   pg_catalog.sum(quantity) FILTER (WHERE state = 'confirmed')"
		"    AS committed"
		"  FROM inventory.reservation WHERE supplier_id = $1"
		"  GROUP BY product_id, slot),"
		" history AS ("
		"  SELECT product_id, slot,"
		"   pg_catalog.sum(stock_level_after - stock_level_before)"
		"    AS stock_level,"
		"   pg_catalog.sum(reserved_after - reserved_before) AS reserved,"
		"   pg_catalog.sum(committed_after - committed_before) AS committed"
		"  FROM inventory.ledger WHERE supplier_id = $1"
		"  GROUP BY product_id, slot),"
		" checks (check_name, product_id, slot, expected, actual, detail) AS ("
		"  SELECT 'reserved', s.product_id, s.slot,"
		"   COALESCE(h.reserved, 0), s.reserved,"
		"   'reserved differs from the sum of open reservations'"
		"  FROM slots s LEFT JOIN held h USING (product_id, slot)"
		"  WHERE s.reserved <> COALESCE(h.reserved, 0)"
		"  UNION ALL"
		"  SELECT 'committed', s.product_id, s.slot,"
		"   COALESCE(h.committed, 0), s.committed,"
		"   'committed differs from the sum of confirmed reservations'"
		"  FROM slots s LEFT JOIN held h USING (product_id, slot)"
		"  WHERE s.committed <> COALESCE(h.committed, 0)"
		"  UNION ALL"
		"  SELECT 'ledger_stock_level', product_id, slot,"
		"   COALESCE(l.stock_level, 0), COALESCE(s.stock_level, 0),"
		"   'stock level differs from the sum of its ledger changes'"
		"  FROM slots s FULL JOIN history l USING (product_id, slot)"
		"  WHERE COALESCE(s.stock_level, 0) <> COALESCE(l.stock_level, 0)"
		"  UNION ALL"
		"  SELECT 'ledger_reserved', product_id, slot,"
		"   COALESCE(l.reserved, 0), COALESCE(s.reserved, 0),"
		"   'reserved differs from the sum of its ledger changes'"
		"  FROM slots s FULL JOIN history l USING (product_id, slot)"
		"  WHERE COALESCE(s.reserved, 0) <> COALESCE(l.reserved, 0)"
		"  UNION ALL"
		"  SELECT 'ledger_committed', product_id, slot,"
		"   COALESCE(l.committed, 0), COALESCE(s.committed, 0),"
		"   'committed differs from the sum of its ledger changes'"
		"  FROM slots s FULL JOIN history l USING (product_id, slot)"
		"  WHERE COALESCE(s.committed, 0) <> COALESCE(l.committed, 0)"
		"  UNION ALL"
		"  SELECT 'oversold', product_id, slot, stock_level, reserved,"
		"   'more reserved than in stock'"
		"  FROM slots WHERE NOT made_to_order AND reserved > stock_level"
		"  UNION ALL"
		"  SELECT 'ring_fenced', s.product_id, s.slot,"
		"   COALESCE(f.held, 0), s.ring_fenced,"
		"   'ring_fenced differs from the units its allocations still hold'"
		"  FROM inventory.stock_slot s LEFT JOIN ("
		"   SELECT product_id,"
		"    pg_catalog.sum(pg_catalog.int8larger(quantity - drawn, 0)) AS held"
		"   FROM inventory.allocation WHERE supplier_id = $1"
		"   GROUP BY product_id) f USING (product_id)"
		"  WHERE s.supplier_id = $1 AND s.ring_fenced <> COALESCE(f.held, 0)"
		"  UNION ALL"
		"  SELECT 'allocation_drawn', a.product_id, 0::smallint,"
		"   COALESCE(r.fenced, 0), a.drawn,"
		"   'drawn differs from the ring-fenced units of the retailer''s'"
		"   || ' open and confirmed reservations: ' || a.retailer_id"
		"  FROM inventory.allocation a LEFT JOIN ("
		"   SELECT product_id, retailer_id,"
		"    pg_catalog.sum(fenced_quantity) AS fenced"
		"   FROM inventory.reservation"
		"   WHERE supplier_id = $1 AND state IN ('reserved', 'confirmed')"
		"   GROUP BY product_id, retailer_id) r USING (product_id, retailer_id)"
		"  WHERE a.supplier_id = $1 AND a.drawn <> COALESCE(r.fenced, 0)"
		"  UNION ALL"
		"  SELECT 'no_slot', p.product_id, 0::smallint, NULL, NULL,"
		"   'product has no stock slot'"
		"  FROM inventory.product p"
		"  WHERE p.supplier_id = $1 AND NOT EXISTS (SELECT FROM slots s"
		"   WHERE s.product_id = p.product_id)"
		"  UNION ALL"
		"  SELECT 'no_slot', h.product_id, h.slot,"
		"   COALESCE(h.reserved, 0) + COALESCE(h.committed, 0), NULL,"
		"   'reservations refer to a missing stock slot'"
		"  FROM held h LEFT JOIN slots s USING (product_id, slot)"
		"  WHERE s.product_id IS NULL"
		"   AND COALESCE(h.reserved, 0) + COALESCE(h.committed, 0) > 0)"
		"SELECT check_name, product_id, slot::smallint, expected::bigint,"
		" actual::bigint, detail FROM checks"
		" ORDER BY product_id, slot, check_name COLLATE \"C\"",
		1, {INT8OID}, NULL
	};
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	Datum		args[1];
	uint64		row;

	InitMaterializedSRF(fcinfo, 0);
	SPI_connect();

	args[0] = Int64GetDatum(inv_get_supplier_id());
	inv_plan_run(&find_discrepancies, args, NULL, true, 0);

	/* Hand the rows over column by column: the descriptors differ in names */
	for (row = 0; row < SPI_processed; row++)
	{
		Datum		values[6];
		bool		nulls[6];
		int			col;

		for (col = 0; col < 6; col++)
			values[col] = SPI_getbinval(SPI_tuptable->vals[row],
										SPI_tuptable->tupdesc, col + 1,
										&nulls[col]);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}

	SPI_finish();
	return (Datum) 0;
}

/*
 * inv_repair(reason)
 *		Set every slot's reserved and committed to what its reservations
 *		hold; return one row per quantity examined that was wrong.
 *
 * A slot whose open reservations exceed its stock level cannot be repaired
 * this way, since that would oversell it; it is reported with repaired =
 * false and left for an administrator to adjust.
 */
Datum
inv_repair(PG_FUNCTION_ARGS)
{
	static InvPlan suspects = {
		"SELECT s.product_id, s.slot FROM inventory.stock_slot s"
		" LEFT JOIN (SELECT product_id, slot,"
		"   pg_catalog.sum(quantity) FILTER (WHERE state = 'reserved')"
		"    AS reserved,"
		"   pg_catalog.sum(quantity) FILTER (WHERE state = 'confirmed')"
		"    AS committed"
		"  FROM inventory.reservation WHERE supplier_id = $1"
		"  GROUP BY product_id, slot) h USING (product_id, slot)"
		" WHERE s.supplier_id = $1"
		"  AND (s.reserved <> COALESCE(h.reserved, 0)"
		"   OR s.committed <> COALESCE(h.committed, 0))"
		" ORDER BY s.product_id, s.slot",
		1, {INT8OID}, NULL
	};
	static InvPlan lock_slot = {
		"SELECT stock_level, reserved, committed, made_to_order"
		" FROM inventory.stock_slot"
		" WHERE supplier_id = $1 AND product_id = $2 AND slot = $3"
		" FOR NO KEY UPDATE",
		3, {INT8OID, INT8OID, INT2OID}, NULL
	};
	static InvPlan held = {
		"SELECT COALESCE(pg_catalog.sum(quantity)"
		"   FILTER (WHERE state = 'reserved'), 0)::bigint,"
		" COALESCE(pg_catalog.sum(quantity)"
		"   FILTER (WHERE state = 'confirmed'), 0)::bigint"
		" FROM inventory.reservation"
		" WHERE supplier_id = $1 AND product_id = $2 AND slot = $3",
		3, {INT8OID, INT8OID, INT2OID}, NULL
	};
	static InvPlan rewrite_slot = {
		"UPDATE inventory.stock_slot SET reserved = $4, committed = $5"
		" WHERE supplier_id = $1 AND product_id = $2 AND slot = $3",
		5, {INT8OID, INT8OID, INT2OID, INT8OID, INT8OID}, NULL
	};
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	InvChange	change = {0};
	int64		supplier_id;
	uint64		nsuspects;
	int64	   *product_ids;
	int16	   *slots;
	uint64		i;
	bool		isnull;
	Datum		args[5];

	change.kind = "repair";
	if (!PG_ARGISNULL(0))
		change.reason = text_to_cstring(PG_GETARG_TEXT_PP(0));

	InitMaterializedSRF(fcinfo, 0);
	SPI_connect();
	supplier_id = inv_get_supplier_id();
	args[0] = Int64GetDatum(supplier_id);

	/* Find the slots that look wrong, without locking anything yet */
	inv_plan_run(&suspects, args, NULL, false, 0);
	nsuspects = SPI_processed;
	product_ids = palloc(sizeof(int64) * Max(nsuspects, 1));
	slots = palloc(sizeof(int16) * Max(nsuspects, 1));
	for (i = 0; i < nsuspects; i++)
	{
		product_ids[i] = inv_spi_int64(i, 1, &isnull);
		slots[i] = DatumGetInt16(SPI_getbinval(SPI_tuptable->vals[i],
											   SPI_tuptable->tupdesc, 2,
											   &isnull));
	}

	/*
	 * Under the slot's lock no reservation of it can change state, so the
	 * sums read next are the ones the slot must agree with.
	 */
	for (i = 0; i < nsuspects; i++)
	{
		int64		level;
		int64		reserved;
		int64		committed;
		bool		made_to_order;
		int64		held_reserved;
		int64		held_committed;
		bool		repairable;
		Datum		values[6];
		bool		nulls[6] = {false};

		CHECK_FOR_INTERRUPTS();
		args[1] = Int64GetDatum(product_ids[i]);
		args[2] = Int16GetDatum(slots[i]);
		inv_plan_run(&lock_slot, args, NULL, false, 0);
		if (SPI_processed != 1)
			continue;
		level = inv_spi_int64(0, 1, &isnull);
		reserved = inv_spi_int64(0, 2, &isnull);
		committed = inv_spi_int64(0, 3, &isnull);
		made_to_order = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0],
												   SPI_tuptable->tupdesc, 4,
												   &isnull));

		inv_plan_run(&held, args, NULL, false, 0);
		held_reserved = inv_spi_int64(0, 1, &isnull);
		held_committed = inv_spi_int64(0, 2, &isnull);
		if (held_reserved == reserved && held_committed == committed)
			continue;

		repairable = made_to_order || held_reserved <= level;
		if (repairable)
		{
			args[3] = Int64GetDatum(held_reserved);
			args[4] = Int64GetDatum(held_committed);
			inv_plan_run_change(&rewrite_slot, args, NULL, &change);
		}
		else
			ereport(WARNING,
					(errcode(ERRCODE_INV_INSUFFICIENT_STOCK),
					 errmsg("cannot repair stock of product " INT64_FORMAT,
							product_ids[i]),
					 errdetail("Open reservations hold " INT64_FORMAT " but the stock level is " INT64_FORMAT ".",
							   held_reserved, level),
					 errhint("Adjust the stock level or release reservations, then repair again.")));

		/* Report each quantity that was wrong */
		values[0] = Int64GetDatum(product_ids[i]);
		values[1] = Int16GetDatum(slots[i]);
		values[5] = BoolGetDatum(repairable);
		if (held_reserved != reserved)
		{
			values[2] = CStringGetTextDatum("reserved");
			values[3] = Int64GetDatum(reserved);
			values[4] = Int64GetDatum(held_reserved);
			tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc,
								 values, nulls);
		}
		if (held_committed != committed)
		{
			values[2] = CStringGetTextDatum("committed");
			values[3] = Int64GetDatum(committed);
			values[4] = Int64GetDatum(held_committed);
			tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc,
								 values, nulls);
		}
	}

	SPI_finish();
	return (Datum) 0;
}
