/*-------------------------------------------------------------------------
 *
 * spi_util.c
 *		Prepared statements kept per backend, and the stock-change context.
 *
 * Every statement the extension runs is written once, next to its caller,
 * as a static InvPlan; it is prepared on first use and kept for the life of
 * the backend, so a call pays for neither parsing nor planning.  The plan
 * cache re-plans a kept statement by itself when the tables change.
 *
 * A statement that changes a stock slot is run through inv_plan_run_change,
 * which publishes what the change is (its kind, reason, order) for the
 * duration of the statement.  The ledger trigger fires inside it and reads
 * that context; outside it the context is empty, so any other change of a
 * stock slot is recorded as a direct one.
 *
 * Copyright (c) 2026, the inventory authors
 *
 * IDENTIFICATION
 *		src/spi_util.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "executor/spi.h"
#include "utils/builtins.h"

#include "inventory.h"

/* The change being made by the statement now running, if any */
static const InvChange *current_change = NULL;

/*
 * inv_plan_get
 *		Return the prepared form of a statement, preparing it on first use.
 *
 * The caller must be connected to SPI.
 */
SPIPlanPtr
inv_plan_get(InvPlan *plan)
{
	if (plan->plan == NULL)
	{
		SPIPlanPtr	prepared;

		prepared = SPI_prepare(plan->sql, plan->nargs, plan->argtypes);
		if (prepared == NULL)
			elog(ERROR, "could not prepare \"%s\": %s",
				 plan->sql, SPI_result_code_string(SPI_result));

		/* Only a fully prepared statement is remembered */
		if (SPI_keepplan(prepared) != 0)
			elog(ERROR, "could not keep plan for \"%s\"", plan->sql);
		plan->plan = prepared;
	}
	return plan->plan;
}

/*
 * inv_plan_run
 *		Execute a kept statement; return the SPI result code.
 *
 * nulls follows SPI's convention (' ' not null, 'n' null) and may be NULL
 * when no argument is null.  count limits the rows fetched, 0 for all.
 *
 * NB: read_only runs the statement in the calling query's snapshot.  Only a
 * STABLE function may ask for that: a volatile one must see what other
 * transactions committed while it waited on a lock, for instance the order
 * line that a concurrent retry inserted first.
 */
int
inv_plan_run(InvPlan *plan, Datum *values, const char *nulls,
			 bool read_only, long count)
{
	int			rc;

	rc = SPI_execute_plan(inv_plan_get(plan), values, nulls, read_only, count);
	if (rc < 0)
		elog(ERROR, "could not execute \"%s\": %s",
			 plan->sql, SPI_result_code_string(rc));
	return rc;
}

/*
 * inv_plan_run_change
 *		Execute a statement that changes stock slots, as the given change.
 *
 * The context is withdrawn however the statement ends, so that an error
 * caught by a savepoint cannot leave it behind for a later direct update.
 */
int
inv_plan_run_change(InvPlan *plan, Datum *values, const char *nulls,
					const InvChange *change)
{
	const InvChange *outer_change = current_change;
	int			rc;

	current_change = change;
	PG_TRY();
	{
		rc = inv_plan_run(plan, values, nulls, false, 0);
	}
	PG_FINALLY();
	{
		current_change = outer_change;
	}
	PG_END_TRY();

	return rc;
}

/*
 * inv_swap_change
 *		Publish a change made without a statement (stock_write.c); return
 *		the one it replaces, which the caller must put back however it ends.
 */
const InvChange *
inv_swap_change(const InvChange *change)
{
	const InvChange *outer_change = current_change;

	current_change = change;
	return outer_change;
}

/*
 * inv_current_change
 *		The change the running statement makes, or NULL for a direct change.
 */
const InvChange *
inv_current_change(void)
{
	return current_change;
}

/*
 * inv_change_reason
 *		The reason to record for a change of the given product: the change's
 *		own per-product reason if it has one, else its common reason.
 */
const char *
inv_change_reason(const InvChange *change, int64 product_id)
{
	const char *reason = NULL;

	if (change->reason_of != NULL)
		reason = change->reason_of(product_id, change->reason_arg);
	return reason != NULL ? reason : change->reason;
}

/*
 * inv_spi_int64
 *		Column col (1-based) of row row of the last SPI result, as int64.
 *
 * The column must be of type bigint; *isnull is set, and 0 returned, for
 * a null.
 */
int64
inv_spi_int64(int row, int col, bool *isnull)
{
	Datum		value;

	value = SPI_getbinval(SPI_tuptable->vals[row], SPI_tuptable->tupdesc,
						  col, isnull);
	return *isnull ? 0 : DatumGetInt64(value);
}

/*
 * inv_spi_text
 *		Column col (1-based) of row row of the last SPI result, as a C string
 *		in the current memory context, or NULL.
 */
char *
inv_spi_text(int row, int col)
{
	return SPI_getvalue(SPI_tuptable->vals[row], SPI_tuptable->tupdesc, col);
}
