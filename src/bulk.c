/*-------------------------------------------------------------------------
 *
 * bulk.c
 *		Bulk stock updates from a CSV file: read, check everything, then
 *		apply all of it or none of it.
 *
 * A load runs in three steps, each over the whole file at once:
 *
 *	1. Read.  csv_reader.c streams the file into a temporary staging table
 *	   through table_multi_insert, the way COPY does: one row per data
 *	   record with its line, its fields and the problems it has on its own.
 *	   Only the current batch of rows is held in memory.
 *	2. Check.  One join of the staging table with the catalogue and the
 *	   stock rows finds every product and its summed stock; every problem
 *	   of every row (unknown or repeated SKU, a new level below what is
 *	   reserved, a delta taking stock below zero, and the row's own ones)
 *	   becomes a line of the report.
 *	3. Apply, only if nothing is wrong and this is not a dry run: one
 *	   UPDATE ... FROM per mode on the stock rows, run as a change of the
 *	   new batch, so that the ledger trigger writes one row per changed
 *	   product tagged with the batch id.  Rows that change nothing write
 *	   nothing.
 *
 * NB: the report is computed on one snapshot and the UPDATE runs on a later
 * one.  An order that reserves in between cannot break anything: the stock
 * table's CHECK constraints refuse a level below zero or below what is
 * reserved, and the number of rows the UPDATE changed must be the number the
 * check found, or the whole load fails.
 *
 * Copyright (c) 2026, the inventory authors
 *
 * IDENTIFICATION
 *		src/bulk.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <sys/stat.h>

#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/tableam.h"
#include "catalog/namespace.h"
#include "catalog/pg_authid.h"
#include "catalog/pg_type.h"
#include "executor/executor.h"
#include "executor/tuptable.h"
#include "funcapi.h"
#include "lib/bloomfilter.h"
#include "libpq/libpq-fs.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "storage/fd.h"
#include "storage/large_object.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "portability/instr_time.h"
#include "utils/rel.h"

#include "csv_reader.h"
#include "inventory.h"

PG_FUNCTION_INFO_V1(inv_bulk_load);
PG_FUNCTION_INFO_V1(inv_bulk_load_file);
PG_FUNCTION_INFO_V1(inv_bulk_load_lo);

/* Rows inserted into the staging table at a time, as COPY does */
#define INV_BULK_BATCH		1000

/* Bytes read from a server file at a time */
#define INV_BULK_CHUNK		(64 * 1024)

/* Changed products applied per statement, bounding its trigger queue */
#define INV_BULK_APPLY_CHUNK	20000

/* Columns of the staging table, in order */
#define INV_BULK_NCOLS		10

/*
 * The join of the staged rows with the catalogue and the stock rows, for
 * inv_bulk_check_sql: the supplier id three times.
 */
#define INV_BULK_CHECK_SQL \
	"CREATE TEMP TABLE inv_bulk_check AS " \
	"SELECT st.*, p.product_id, p.made_to_order, s0.ctid AS stock_tid, " \
	"s0.stock_level + COALESCE(sx.level, 0) AS level, " \
	"s0.reserved + COALESCE(sx.reserved, 0) AS reserved, " \
	"1 + COALESCE(sx.nslots, 0) AS nslots, " \
	"d.copies, d.first_line, " \
	"CASE WHEN st.is_set THEN st.quantity::numeric " \
	"ELSE s0.stock_level + COALESCE(sx.level, 0) " \
	"+ st.quantity::numeric END AS new_level " \
	"FROM pg_temp.inv_bulk_staging st " \
	"LEFT JOIN inventory.product p " \
	"ON p.supplier_id = " INT64_FORMAT " AND p.sku = st.sku " \
	"LEFT JOIN inventory.stock_slot s0 " \
	"ON s0.supplier_id = " INT64_FORMAT \
	" AND s0.product_id = p.product_id AND s0.slot = 0 " \
	"LEFT JOIN (SELECT product_id, " \
	"pg_catalog.sum(stock_level) AS level, " \
	"pg_catalog.sum(reserved) AS reserved, " \
	"pg_catalog.count(*) AS nslots " \
	"FROM inventory.stock_slot " \
	"WHERE supplier_id = " INT64_FORMAT " AND slot <> 0 " \
	"GROUP BY product_id) sx ON sx.product_id = p.product_id " \
	"LEFT JOIN (SELECT sku, pg_catalog.count(*) AS copies, " \
	"pg_catalog.min(line) AS first_line " \
	"FROM pg_temp.inv_bulk_staging WHERE sku IN (SELECT sku " \
	"FROM pg_temp.inv_bulk_staging WHERE maybe_repeated) " \
	"GROUP BY sku HAVING pg_catalog.count(*) > 1) d " \
	"ON d.sku = st.sku"

/*
 * The problem list and the counts, for inv_bulk_report_sql: the problem
 * bits and column counts it tests, then the dry run's change list (or a
 * null array).  The good rows are counted as all rows less the rejected
 * ones, so that a clean file, the usual case, is read once more rather
 * than anti-joined with its (empty) problem list; only a dry run's change
 * list reads the good rows themselves.
 */
#define INV_BULK_REPORT_SQL \
	"WITH problem AS MATERIALIZED (" \
	"SELECT c.line, c.sku, x.ord, x.problem, x.detail, " \
	"c.new_level <> c.level AS changes " \
	"FROM pg_temp.inv_bulk_check c CROSS JOIN LATERAL (VALUES " \
	"(1, CASE WHEN c.problems & %d <> 0 THEN 'missing columns' END, " \
	"pg_catalog.format('The header has %d columns; this row has %%s.', c.nfields)), " \
	"(2, CASE WHEN c.problems & %d <> 0 THEN 'extra columns' END, " \
	"pg_catalog.format('The header has %d columns; this row has %%s.', c.nfields)), " \
	"(3, CASE WHEN c.problems & %d <> 0 THEN 'missing SKU' END, " \
	"'The SKU field is empty.'), " \
	"(4, CASE WHEN c.problems & %d <> 0 THEN 'SKU too long' END, " \
	"'The SKU is longer than %d characters.'), " \
	"(5, CASE WHEN c.problems & %d <> 0 THEN 'quantity not a whole number' END, " \
	"pg_catalog.format('The quantity \"%%s\" is not a whole number.', " \
	"COALESCE(c.bad_quantity, ''))), " \
	"(6, CASE WHEN c.problems & %d <> 0 THEN 'quantity out of range' END, " \
	"pg_catalog.format('The quantity %%s is out of range.', c.bad_quantity)), " \
	"(7, CASE WHEN c.problems & %d <> 0 THEN 'unknown mode' END, " \
	"pg_catalog.format('The mode \"%%s\" is neither \"set\" nor \"delta\".', c.bad_mode)), " \
	"(8, CASE WHEN c.problems & %d <> 0 THEN 'negative level' END, " \
	"pg_catalog.format('A new stock level of %%s is below zero.', c.quantity)), " \
	"(9, CASE WHEN c.sku IS NOT NULL AND c.product_id IS NULL " \
	"AND c.problems & %d = 0 THEN 'unknown SKU' END, " \
	"'No product has this SKU.'), " \
	"(10, CASE WHEN c.copies IS NOT NULL THEN 'duplicate SKU' END, " \
	"pg_catalog.format('The SKU appears %%s times in the file, first on line %%s.', " \
	"c.copies, c.first_line)), " \
	"(12, CASE WHEN c.new_level < 0 AND NOT c.is_set " \
	"THEN 'below zero' END, " \
	"pg_catalog.format('Stock level %%s changed by %%s would be %%s.', " \
	"c.level, c.quantity, c.new_level)), " \
	"(13, CASE WHEN c.new_level >= 0 AND c.new_level < c.reserved " \
	"AND NOT c.made_to_order THEN 'below reserved' END, " \
	"pg_catalog.format('The new stock level %%s is below the %%s units " \
	"reserved by open orders.', c.new_level, c.reserved)), " \
	"(14, CASE WHEN c.new_level > 9223372036854775807 " \
	"THEN 'quantity out of range' END, " \
	"pg_catalog.format('Stock level %%s changed by %%s would be out of range.', " \
	"c.level, c.quantity))" \
	") AS x(ord, problem, detail) " \
	"WHERE (c.problems <> 0 OR c.product_id IS NULL " \
	"OR c.copies IS NOT NULL OR c.new_level < 0 " \
	"OR (c.new_level < c.reserved AND NOT c.made_to_order) " \
	"OR c.new_level > 9223372036854775807) " \
	"AND x.problem IS NOT NULL), " \
	"good AS (" \
	"SELECT c.* FROM pg_temp.inv_bulk_check c " \
	"WHERE NOT EXISTS (SELECT FROM problem WHERE problem.line = c.line)), " \
	"every_row AS (SELECT pg_catalog.count(*) AS n, " \
	"pg_catalog.count(*) FILTER (WHERE new_level <> level) AS changing, " \
	"pg_catalog.count(*) FILTER (WHERE new_level = level) AS same " \
	"FROM pg_temp.inv_bulk_check), " \
	"bad_row AS (SELECT pg_catalog.count(DISTINCT line) AS n, " \
	"pg_catalog.count(DISTINCT line) FILTER (WHERE changes) AS changing, " \
	"pg_catalog.count(DISTINCT line) FILTER (WHERE NOT changes) AS same " \
	"FROM problem) " \
	"SELECT " \
	"(SELECT pg_catalog.array_agg(ROW(line, sku, problem, detail)" \
	"::inventory.bulk_problem ORDER BY line, ord) FROM problem), " \
	"b.n, a.n, a.changing - b.changing, a.same - b.same, " \
	"%s " \
	"FROM every_row a, bad_row b"

/* The state of one load while the file is read */
typedef struct InvBulkLoad
{
	Relation	rel;			/* the staging table */
	BulkInsertState bistate;
	CommandId	cid;
	TupleTableSlot *slots[INV_BULK_BATCH];
	int			nslots;			/* slots filled and not yet inserted */
	MemoryContext batch_cxt;	/* the datums of the filled slots */
	bool		default_set;	/* mode for rows that name none */
	bloom_filter *skus_seen;	/* the SKUs of the rows staged so far */
} InvBulkLoad;

/* One product's change, as the apply step reads it from the checked rows */
typedef struct InvBulkChange
{
	ItemPointerData stock_tid;	/* where the check found its slot 0 */
	int64		product_id;
	int64		quantity;
	int32		nslots;			/* the product's stock slots */
	bool		is_set;			/* a new level, not a delta */
	char	   *reason;			/* the row's own reason, or NULL */
} InvBulkChange;

/* A per-product reason for the ledger, from the file's reason column */
typedef struct InvBulkReason
{
	int64		product_id;		/* hash key */
	char	   *reason;
} InvBulkReason;

/*
 * inv_bulk_realloc
 *		The reader's allocation hook: palloc memory in the current context,
 *		so that an error anywhere frees it with the rest.
 */
static void *
inv_bulk_realloc(void *ptr, size_t size)
{
	if (ptr == NULL)
		return palloc_extended(size, MCXT_ALLOC_NO_OOM);
	return repalloc(ptr, size);
}

/*
 * inv_bulk_free
 *		The reader's free hook.
 */
static void
inv_bulk_free(void *ptr)
{
	pfree(ptr);
}

/*
 * inv_bulk_sql
 *		Run one statement that needs no arguments; return SPI_processed.
 */
static uint64
inv_bulk_sql(const char *sql)
{
	int			rc = SPI_execute(sql, false, 0);

	if (rc < 0)
		elog(ERROR, "could not execute \"%s\": %s", sql,
			 SPI_result_code_string(rc));
	return SPI_processed;
}

/*
 * inv_bulk_temp_relid
 *		The OID of one of our temporary tables, or InvalidOid.
 */
static Oid
inv_bulk_temp_relid(const char *name)
{
	return RangeVarGetRelid(makeRangeVar("pg_temp", (char *) name, -1),
							NoLock, true);
}

/*
 * inv_bulk_drop_work_tables
 *		Drop the temporary tables a load uses, if they exist.
 *
 * An earlier load in the same transaction, or one whose error a savepoint
 * caught, may have left them behind.  IF EXISTS would say so in a NOTICE.
 */
static void
inv_bulk_drop_work_tables(void)
{
	if (OidIsValid(inv_bulk_temp_relid("inv_bulk_check")))
		inv_bulk_sql("DROP TABLE pg_temp.inv_bulk_check");
	if (OidIsValid(inv_bulk_temp_relid("inv_bulk_staging")))
		inv_bulk_sql("DROP TABLE pg_temp.inv_bulk_staging");
}

/*
 * inv_bulk_flush
 *		Insert the filled slots into the staging table and forget their data.
 */
static void
inv_bulk_flush(InvBulkLoad *load)
{
	MemoryContext outer_cxt;
	int			i;

	if (load->nslots == 0)
		return;

	/* What the heap keeps of the batch while it inserts goes with it, too */
	outer_cxt = MemoryContextSwitchTo(load->batch_cxt);
	table_multi_insert(load->rel, load->slots, load->nslots, load->cid, 0,
					   load->bistate);
	MemoryContextSwitchTo(outer_cxt);
	for (i = 0; i < load->nslots; i++)
		ExecClearTuple(load->slots[i]);
	load->nslots = 0;
	MemoryContextReset(load->batch_cxt);
}

/*
 * inv_bulk_text
 *		A field as a text datum in the batch context, or null when empty.
 */
static Datum
inv_bulk_text(const char *s, size_t len, bool *isnull)
{
	*isnull = (s == NULL || len == 0);
	if (*isnull)
		return (Datum) 0;
	return PointerGetDatum(cstring_to_text_with_len(s, (int) len));
}

/*
 * inv_bulk_row
 *		The reader's row callback: stage one data row.
 *
 * Staging columns: line, sku, quantity, is_set, reason, problems, nfields,
 * bad_quantity, bad_mode, maybe_repeated.  A quantity or mode that could
 * not be read is null, with its text kept for the report.
 *
 * maybe_repeated marks a row whose SKU an earlier row may have had, as a
 * Bloom filter of the SKUs seen tells: never wrongly false, seldom wrongly
 * true.  The check then counts copies of those SKUs only, instead of
 * grouping every row of the file by SKU, which for a large file is a hash
 * table of all its SKUs spilled to disk.
 */
static void
inv_bulk_row(const InvCsvRow *row, void *arg)
{
	InvBulkLoad *load = (InvBulkLoad *) arg;
	TupleTableSlot *slot;
	MemoryContext old;
	Datum	   *values;
	bool	   *isnull;
	bool		bad_quantity;
	uint32		problems;

	CHECK_FOR_INTERRUPTS();

	if (load->slots[load->nslots] == NULL)
		load->slots[load->nslots] = table_slot_create(load->rel, NULL);
	slot = load->slots[load->nslots];
	ExecClearTuple(slot);
	values = slot->tts_values;
	isnull = slot->tts_isnull;
	old = MemoryContextSwitchTo(load->batch_cxt);

	bad_quantity = (row->problems &
					(INV_CSV_P_NOT_WHOLE | INV_CSV_P_OUT_OF_RANGE)) != 0 ||
		row->field[INV_CSV_QUANTITY] == NULL;
	values[0] = Int64GetDatum(row->line);
	isnull[0] = false;
	values[1] = inv_bulk_text(row->field[INV_CSV_SKU], row->len[INV_CSV_SKU],
							  &isnull[1]);
	values[2] = Int64GetDatum(row->quantity);
	isnull[2] = bad_quantity;
	values[3] = BoolGetDatum(row->mode == INV_CSV_MODE_SET ||
							 (row->mode == INV_CSV_MODE_DEFAULT &&
							  load->default_set));
	isnull[3] = (row->mode == INV_CSV_MODE_INVALID);
	values[4] = inv_bulk_text(row->field[INV_CSV_REASON],
							  row->len[INV_CSV_REASON], &isnull[4]);
	/*
	 * The reader knows a row's own mode only; a negative quantity is a new
	 * level below zero also when the row takes the load's default "set".
	 */
	problems = row->problems;
	if (row->mode == INV_CSV_MODE_DEFAULT && load->default_set &&
		!bad_quantity && row->quantity < 0)
		problems |= INV_CSV_P_NEGATIVE_LEVEL;
	values[5] = Int32GetDatum((int32) problems);
	isnull[5] = false;
	values[6] = Int32GetDatum(row->nfields);
	isnull[6] = false;
	values[7] = (Datum) 0;
	isnull[7] = true;
	if (bad_quantity && row->field[INV_CSV_QUANTITY] != NULL)
		values[7] = inv_bulk_text(row->field[INV_CSV_QUANTITY],
								  row->len[INV_CSV_QUANTITY], &isnull[7]);
	values[8] = (Datum) 0;
	isnull[8] = true;
	if (row->mode == INV_CSV_MODE_INVALID)
		values[8] = inv_bulk_text(row->field[INV_CSV_MODE],
								  row->len[INV_CSV_MODE], &isnull[8]);
	values[9] = BoolGetDatum(false);
	isnull[9] = false;
	if (!isnull[1])
	{
		unsigned char *sku = (unsigned char *) VARDATA_ANY(values[1]);
		size_t		sku_len = VARSIZE_ANY_EXHDR(values[1]);

		if (!bloom_lacks_element(load->skus_seen, sku, sku_len))
			values[9] = BoolGetDatum(true);
		else
			bloom_add_element(load->skus_seen, sku, sku_len);
	}

	MemoryContextSwitchTo(old);
	ExecStoreVirtualTuple(slot);
	if (++load->nslots == INV_BULK_BATCH)
		inv_bulk_flush(load);
}

/*
 * inv_bulk_report_error
 *		Turn the reader's fatal problem into an error.
 */
static void
inv_bulk_report_error(InvCsvReader *reader)
{
	const char *text = reader->err_text;

	switch (reader->status)
	{
		case INV_CSV_OK:
			return;
		case INV_CSV_ERR_SYNTAX:
			ereport(ERROR,
					(errcode(ERRCODE_INV_CSV_SYNTAX),
					 errmsg("stock file is not valid CSV at line " INT64_FORMAT,
							reader->err_line),
					 strcmp(text, "unterminated") == 0 ?
					 errdetail("A quoted field that starts on this line is never closed.") :
					 errdetail("A quote appears inside an unquoted field, or text follows a closing quote."),
					 errhint("Enclose fields that contain commas, quotes or line breaks in double quotes, and double every quote inside them.")));
			break;
		case INV_CSV_ERR_ENCODING:
			ereport(ERROR,
					(errcode(ERRCODE_INV_CSV_ENCODING),
					 errmsg("stock file is not valid UTF-8 at line " INT64_FORMAT,
							reader->err_line),
					 errhint("Save the file as UTF-8 (\"CSV UTF-8\" in spreadsheet programs).")));
			break;
		case INV_CSV_ERR_HEADER:
			if (strncmp(text, "unknown:", 8) == 0)
				ereport(ERROR,
						(errcode(ERRCODE_INV_CSV_HEADER),
						 errmsg("unknown column \"%s\" in the header of the stock file", text + 8),
						 errdetail("The header is line " INT64_FORMAT ".", reader->err_line),
						 errhint("The columns are %s; see inventory.inv_csv_template().",
								 inv_csv_header_line())));
			else if (strncmp(text, "repeated:", 9) == 0)
				ereport(ERROR,
						(errcode(ERRCODE_INV_CSV_HEADER),
						 errmsg("column \"%s\" appears more than once in the header of the stock file", text + 9),
						 errdetail("The header is line " INT64_FORMAT ".", reader->err_line)));
			else if (strncmp(text, "missing:", 8) == 0)
				ereport(ERROR,
						(errcode(ERRCODE_INV_CSV_HEADER),
						 errmsg("stock file has no \"%s\" column", text + 8),
						 errdetail("The header is line " INT64_FORMAT ".", reader->err_line),
						 errhint("The first line must name the columns; see inventory.inv_csv_template().")));
			else
				ereport(ERROR,
						(errcode(ERRCODE_INV_CSV_HEADER),
						 errmsg("the header of the stock file has too many columns"),
						 errdetail("The header is line " INT64_FORMAT ".", reader->err_line)));
			break;
		case INV_CSV_ERR_NO_HEADER:
			ereport(ERROR,
					(errcode(ERRCODE_INV_CSV_HEADER),
					 errmsg("stock file is empty"),
					 errdetail("It has no header line naming its columns."),
					 errhint("See inventory.inv_csv_template().")));
			break;
		case INV_CSV_ERR_TOO_LONG:
			ereport(ERROR,
					(errcode(ERRCODE_INV_CSV_FIELD_TOO_LONG),
					 errmsg("stock file has a field longer than %d bytes at line " INT64_FORMAT,
							INV_CSV_MAX_FIELD, reader->err_line),
					 errhint("Check for a quote that is opened and never closed.")));
			break;
	}
}

/*
 * inv_bulk_check_sql
 *		The statement that joins the staged rows with the catalogue.
 *
 * Multi-slot products: a product's stock is the sum of its slots, so the
 * checks compare the file with the summed quantities; the change itself
 * lands in slot 0, its home slot, once inv_bulk_apply has gathered the
 * product's free units there.
 */
static char *
inv_bulk_check_sql(int64 supplier_id)
{
	/*
	 * Slot 0 is joined directly, so that the planner can hash-join a large
	 * file and look a small one up by index; the other slots, which few
	 * products have, are summed apart.
	 */
	return psprintf(INV_BULK_CHECK_SQL, supplier_id, supplier_id, supplier_id);
}

/*
 * inv_bulk_report_sql
 *		The statement that lists every problem and counts the rows.
 *
 * Only rows that fail one of the tests get their problems spelled out, so a
 * good file costs one scan.  Its one row holds: the problems as an
 * inventory.bulk_problem[] in line order (null when there are none), the
 * rejected lines, the rows read, the good rows that change stock and those
 * that do not, and (for a dry run) the changes as an inventory.bulk_change[].
 */
static char *
inv_bulk_report_sql(int ncolumns, bool dry_run)
{
	return psprintf(INV_BULK_REPORT_SQL,
					INV_CSV_P_MISSING_COLUMNS, ncolumns,
					INV_CSV_P_EXTRA_COLUMNS, ncolumns,
					INV_CSV_P_MISSING_SKU,
					INV_CSV_P_SKU_TOO_LONG, INV_CSV_MAX_SKU_CHARS,
					INV_CSV_P_NOT_WHOLE,
					INV_CSV_P_OUT_OF_RANGE,
					INV_CSV_P_BAD_MODE,
					INV_CSV_P_NEGATIVE_LEVEL,
					INV_CSV_P_SKU_TOO_LONG,
					dry_run ?
					"(SELECT pg_catalog.array_agg(ROW(line, sku, product_id, "
					"CASE WHEN is_set THEN 'set' ELSE 'delta' END, quantity, "
					"level, new_level, reserved)::inventory.bulk_change ORDER BY line) "
					"FROM good WHERE new_level <> level)" :
					"NULL::inventory.bulk_change[]");
}

/*
 * inv_bulk_reason_of
 *		The ledger's per-product reason hook: the reason column of the row
 *		that changed the product, if it had one.
 */
static const char *
inv_bulk_reason_of(int64 product_id, void *arg)
{
	HTAB	   *reasons = (HTAB *) arg;
	InvBulkReason *entry;

	entry = hash_search(reasons, &product_id, HASH_FIND, NULL);
	return entry ? entry->reason : NULL;
}

/*
 * inv_bulk_change_cmp
 *		qsort order of a chunk's changes: by where their stock row was when
 *		the check read it, so that the UPDATE walks the heap forwards.
 */
static int
inv_bulk_change_cmp(const void *a, const void *b)
{
	return ItemPointerCompare(&((InvBulkChange *) a)->stock_tid,
							  &((InvBulkChange *) b)->stock_tid);
}

/*
 * inv_bulk_prepare
 *		Prepare and keep a statement of the apply step, with a generic plan:
 *		a custom one would see how many rows the arrays hold and hash them
 *		against a scan of every stock row, once per chunk.
 */
static SPIPlanPtr
inv_bulk_prepare(const char *sql, int nargs, Oid *argtypes)
{
	SPIPlanPtr	prepared;

	prepared = SPI_prepare_cursor(sql, nargs, argtypes,
								  CURSOR_OPT_GENERIC_PLAN);
	if (prepared == NULL)
		elog(ERROR, "could not prepare \"%s\": %s",
			 sql, SPI_result_code_string(SPI_result));
	if (SPI_keepplan(prepared) != 0)
		elog(ERROR, "could not keep plan for \"%s\"", sql);
	return prepared;
}

/*
 * inv_bulk_array
 *		An array datum of count int8, int4 or tid values.
 */
static Datum
inv_bulk_array(Datum *values, int count, Oid type)
{
	if (type == INT8OID)
		return PointerGetDatum(construct_array(values, count, INT8OID, 8,
											   FLOAT8PASSBYVAL,
											   TYPALIGN_DOUBLE));
	if (type == INT4OID)
		return PointerGetDatum(construct_array(values, count, INT4OID, 4,
											   true, TYPALIGN_INT));
	return PointerGetDatum(construct_array(values, count, TIDOID,
										   sizeof(ItemPointerData), false,
										   TYPALIGN_SHORT));
}

/*
 * inv_bulk_apply_mode
 *		Apply the changes of one mode among a chunk's, as statements of the
 *		batch; return the rows they changed.
 *
 * The check read each product's slot 0 and noted where it was.  A product
 * on one slot is first updated at that place (a TID scan, which rechecks
 * the key there), sparing a descent of the primary key per row; whatever
 * is not found there, because an order has moved the row since, a product
 * with several slots, is then updated by its key.  RETURNING tells the
 * first statement's rows apart, so that no product is changed twice.
 */
static uint64
inv_bulk_apply_mode(int64 supplier_id, InvBulkChange *changes, int n,
					bool is_set, InvChange *change, MemoryContext chunk_cxt)
{
	static SPIPlanPtr update_at_tid = NULL;
	static SPIPlanPtr update_by_key = NULL;
	static InvPlan update_stock = {"the bulk load's stock UPDATE", 0, {0},
	NULL};
	MemoryContext outer_cxt = MemoryContextSwitchTo(chunk_cxt);
	Datum	   *tids = palloc(sizeof(Datum) * Max(n, 1));
	Datum	   *product_ids = palloc(sizeof(Datum) * Max(n, 1));
	Datum	   *quantities = palloc(sizeof(Datum) * Max(n, 1));
	Datum	   *nslots = palloc(sizeof(Datum) * Max(n, 1));
	bool	   *pending = palloc(sizeof(bool) * Max(n, 1));
	Datum		args[5];
	HASHCTL		ctl;
	HTAB	   *reasons = NULL;
	HTAB	   *done_at_tid = NULL;
	uint64		done = 0;
	int			count = 0;
	int			i;

	if (update_at_tid == NULL)
	{
		Oid			types[5] = {INT8OID, BOOLOID, TIDARRAYOID, INT8ARRAYOID,
		INT8ARRAYOID};

		update_at_tid = inv_bulk_prepare(
			"UPDATE inventory.stock_slot s "
			"SET stock_level = CASE WHEN $2 THEN c.quantity "
			"ELSE s.stock_level + c.quantity END "
			"FROM unnest($3, $4, $5) AS c(tid, product_id, quantity) "
			"WHERE s.ctid = c.tid AND s.supplier_id = $1 "
			"AND s.product_id = c.product_id AND s.slot = 0 "
			"RETURNING s.product_id", 5, types);
	}
	if (update_by_key == NULL)
	{
		Oid			types[5] = {INT8OID, BOOLOID, INT8ARRAYOID, INT8ARRAYOID,
		INT4ARRAYOID};

		/* A set level lands in slot 0 less what the other slots hold */
		update_by_key = inv_bulk_prepare(
			"UPDATE inventory.stock_slot s "
			"SET stock_level = CASE WHEN NOT $2 "
			"THEN s.stock_level + c.quantity "
			"WHEN c.nslots = 1 THEN c.quantity "
			"ELSE c.quantity - (SELECT pg_catalog.sum(o.stock_level) "
			"FROM inventory.stock_slot o WHERE o.supplier_id = $1 "
			"AND o.product_id = c.product_id AND o.slot <> 0) END "
			"FROM unnest($3, $4, $5) AS c(product_id, quantity, nslots) "
			"WHERE s.supplier_id = $1 AND s.product_id = c.product_id "
			"AND s.slot = 0", 5, types);
	}

	/* This mode's rows, their reasons, and the one-slot ones at their place */
	for (i = 0; i < n; i++)
	{
		pending[i] = (changes[i].is_set == is_set);
		if (!pending[i])
			continue;

		if (changes[i].reason != NULL)
		{
			if (reasons == NULL)
			{
				ctl.keysize = sizeof(int64);
				ctl.entrysize = sizeof(InvBulkReason);
				ctl.hcxt = chunk_cxt;
				reasons = hash_create("inventory bulk reasons", n, &ctl,
									  HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
			}
			((InvBulkReason *) hash_search(reasons, &changes[i].product_id,
										   HASH_ENTER, NULL))->reason =
				changes[i].reason;
		}

		if (changes[i].nslots != 1 ||
			!ItemPointerIsValid(&changes[i].stock_tid))
			continue;
		tids[count] = PointerGetDatum(&changes[i].stock_tid);
		product_ids[count] = Int64GetDatum(changes[i].product_id);
		quantities[count] = Int64GetDatum(changes[i].quantity);
		count++;
	}

	change->kind = is_set ? "set" : "adjust";
	change->reason_arg = reasons;
	change->reason_of = reasons ? inv_bulk_reason_of : NULL;
	args[0] = Int64GetDatum(supplier_id);
	args[1] = BoolGetDatum(is_set);

	if (count > 0)
	{
		args[2] = inv_bulk_array(tids, count, TIDOID);
		args[3] = inv_bulk_array(product_ids, count, INT8OID);
		args[4] = inv_bulk_array(quantities, count, INT8OID);
		update_stock.plan = update_at_tid;
		MemoryContextSwitchTo(outer_cxt);
		inv_plan_run_change(&update_stock, args, NULL, change);
		MemoryContextSwitchTo(chunk_cxt);
		done = SPI_processed;

		ctl.keysize = sizeof(int64);
		ctl.entrysize = sizeof(int64);
		ctl.hcxt = chunk_cxt;
		done_at_tid = hash_create("inventory bulk rows updated", Max(done, 1),
								  &ctl, HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
		for (i = 0; i < (int) done; i++)
		{
			bool		isnull;
			int64		product_id = inv_spi_int64(i, 1, &isnull);

			(void) hash_search(done_at_tid, &product_id, HASH_ENTER, NULL);
		}
		SPI_freetuptable(SPI_tuptable);
	}

	/* The rest by key */
	count = 0;
	for (i = 0; i < n; i++)
	{
		if (!pending[i] ||
			(done_at_tid != NULL &&
			 hash_search(done_at_tid, &changes[i].product_id, HASH_FIND,
						 NULL) != NULL))
			continue;
		product_ids[count] = Int64GetDatum(changes[i].product_id);
		quantities[count] = Int64GetDatum(changes[i].quantity);
		nslots[count] = Int32GetDatum(changes[i].nslots);
		count++;
	}
	if (count > 0)
	{
		args[2] = inv_bulk_array(product_ids, count, INT8OID);
		args[3] = inv_bulk_array(quantities, count, INT8OID);
		args[4] = inv_bulk_array(nslots, count, INT4OID);
		update_stock.plan = update_by_key;
		MemoryContextSwitchTo(outer_cxt);
		inv_plan_run_change(&update_stock, args, NULL, change);
		MemoryContextSwitchTo(chunk_cxt);
		done += SPI_processed;
	}

	MemoryContextSwitchTo(outer_cxt);
	return done;
}

/*
 * inv_bulk_gather
 *		Gather into slot 0 the free units of each of the given products
 *		spread over several slots, the moves recorded as the given change's
 *		(so that they carry the load's batch).
 */
static void
inv_bulk_gather(int64 supplier_id, const int64 *products, uint64 nproducts,
				const InvChange *change)
{
	const InvChange *outer_change = inv_swap_change(change);

	PG_TRY();
	{
		uint64		i;

		for (i = 0; i < nproducts; i++)
			(void) inv_slots_gather(supplier_id, products[i]);
	}
	PG_FINALLY();
	{
		(void) inv_swap_change(outer_change);
	}
	PG_END_TRY();
}

/*
 * inv_bulk_apply
 *		Write the checked changes as one batch; return its id.
 *
 * The changes go in chunks of INV_BULK_APPLY_CHUNK products, each one or
 * two statements (one per mode, so that the ledger records a set as "set"
 * and a delta as "adjust", as inv_adjust() does).  One statement for the
 * whole file would queue an after-trigger event per stock row for the
 * ledger and the low-stock triggers until its end: more memory than the
 * file itself, for a million rows.  Together the statements must change
 * exactly the rows the check expected.
 */
static int64
inv_bulk_apply(int64 supplier_id, const char *source, const char *reason,
			   int64 rows_read, int64 *changed, int64 *unchanged)
{
	static InvPlan insert_batch = {
		"INSERT INTO inventory.bulk_load (supplier_id, source, rows_read, "
		"changed, unchanged) VALUES ($1, $2, $3, $4, $5) RETURNING batch_id",
		5, {INT8OID, TEXTOID, INT8OID, INT8OID, INT8OID}, NULL
	};
	static InvPlan recount_batch = {
		"UPDATE inventory.bulk_load SET changed = $3, unchanged = $4 "
		"WHERE supplier_id = $1 AND batch_id = $2",
		4, {INT8OID, INT8OID, INT8OID, INT8OID}, NULL
	};
	static InvPlan spread_since = {
		"SELECT pg_catalog.count(*) FROM inventory.stock_slot s "
		"JOIN pg_temp.inv_bulk_check c ON c.product_id = s.product_id "
		"WHERE s.supplier_id = $1 AND s.slot > 0 "
		"AND c.nslots = 1 AND c.new_level <> c.level",
		1, {INT8OID}, NULL
	};
	static InvPlan spread_products = {
		"SELECT c.product_id FROM pg_temp.inv_bulk_check c "
		"WHERE c.nslots > 1 AND c.new_level <> c.level "
		"ORDER BY c.product_id",
		0, {0}, NULL
	};
	Datum		args[5];
	bool		isnull;
	int64		batch_id;
	InvChange	change = {0};
	int64		levels_moved = 0;
	uint64		done = 0;
	int64	   *spread;
	uint64		nspread;
	uint64		i;
	Portal		portal;
	MemoryContext chunk_cxt;
	MemoryContext outer_cxt;
	InvBulkChange *changes;

	/* The batch comes first: its id tags every ledger row */
	args[0] = Int64GetDatum(supplier_id);
	args[1] = CStringGetTextDatum(source);
	args[2] = Int64GetDatum(rows_read);
	args[3] = Int64GetDatum(*changed);
	args[4] = Int64GetDatum(*unchanged);
	inv_plan_run(&insert_batch, args, NULL, false, 0);
	batch_id = inv_spi_int64(0, 1, &isnull);
	change.batch_id = batch_id;
	change.reason = reason;
	change.levels_moved = &levels_moved;

	/*
	 * A product spread over several slots first has its free units gathered
	 * into slot 0, whose level can then take any change the check allowed;
	 * the gather locks all its slots, in product order, until commit.  Its
	 * moves are the batch's too.
	 */
	inv_plan_run(&spread_products, NULL, NULL, false, 0);
	nspread = SPI_processed;
	spread = palloc(sizeof(int64) * Max(nspread, 1));
	for (i = 0; i < nspread; i++)
		spread[i] = inv_spi_int64(i, 1, &isnull);
	inv_bulk_gather(supplier_id, spread, nspread, &change);

	/* Apply the changing rows chunk by chunk, in the file's order */
	portal = SPI_cursor_open_with_args(NULL,
									   "SELECT product_id, is_set, quantity, "
									   "nslots, reason, stock_tid "
									   "FROM pg_temp.inv_bulk_check "
									   "WHERE new_level <> level",
									   0, NULL, NULL, NULL, false, 0);
	chunk_cxt = AllocSetContextCreate(CurrentMemoryContext,
									  "inventory bulk chunk",
									  ALLOCSET_DEFAULT_SIZES);
	for (;;)
	{
		int			n;
		Datum		tid;

		CHECK_FOR_INTERRUPTS();
		SPI_cursor_fetch(portal, true, INV_BULK_APPLY_CHUNK);
		n = (int) SPI_processed;
		if (n == 0)
			break;

		outer_cxt = MemoryContextSwitchTo(chunk_cxt);
		changes = palloc(sizeof(InvBulkChange) * n);
		for (i = 0; i < (uint64) n; i++)
		{
			changes[i].product_id = inv_spi_int64(i, 1, &isnull);
			changes[i].is_set =
				DatumGetBool(SPI_getbinval(SPI_tuptable->vals[i],
										   SPI_tuptable->tupdesc, 2,
										   &isnull));
			changes[i].quantity = inv_spi_int64(i, 3, &isnull);
			changes[i].nslots = (int32) inv_spi_int64(i, 4, &isnull);
			changes[i].reason = inv_spi_text(i, 5);
			tid = SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc,
								6, &isnull);
			if (isnull)
				ItemPointerSetInvalid(&changes[i].stock_tid);
			else
				ItemPointerCopy((ItemPointer) DatumGetPointer(tid),
								&changes[i].stock_tid);
		}
		SPI_freetuptable(SPI_tuptable);
		qsort(changes, n, sizeof(InvBulkChange), inv_bulk_change_cmp);

		MemoryContextSwitchTo(outer_cxt);

		done += inv_bulk_apply_mode(supplier_id, changes, n, true, &change,
									chunk_cxt);
		done += inv_bulk_apply_mode(supplier_id, changes, n, false, &change,
									chunk_cxt);
		MemoryContextReset(chunk_cxt);
	}
	SPI_cursor_close(portal);
	MemoryContextDelete(chunk_cxt);

	if (done != (uint64) *changed)
		ereport(ERROR,
				(errcode(ERRCODE_INV_BULK_CONCURRENT_CHANGE),
				 errmsg("stock changed while the stock file was being applied"),
				 errdetail("The check found " INT64_FORMAT " products to change, but " UINT64_FORMAT " were changed.",
						   *changed, done),
				 errhint("Load the file again.")));

	/*
	 * An order that committed between the check and the update may have
	 * taken a level to the very one the file sets: that product is then
	 * updated but not changed, and has no ledger row of the batch.  The
	 * batch counts what the ledger shows.
	 */
	if (levels_moved != *changed)
	{
		*unchanged += *changed - levels_moved;
		*changed = levels_moved;
		args[0] = Int64GetDatum(supplier_id);
		args[1] = Int64GetDatum(batch_id);
		args[2] = Int64GetDatum(*changed);
		args[3] = Int64GetDatum(*unchanged);
		inv_plan_run(&recount_batch, args, NULL, false, 0);
	}

	/*
	 * A product found on one slot was changed there alone.  If it was
	 * spread over several meanwhile (inv_set_slots locks slot 0 first, so
	 * this statement, newer than our update of slot 0, sees it), the other
	 * slots now hold units the file did not count.
	 */
	args[0] = Int64GetDatum(supplier_id);
	inv_plan_run(&spread_since, args, NULL, false, 0);
	if (inv_spi_int64(0, 1, &isnull) > 0)
		ereport(ERROR,
				(errcode(ERRCODE_INV_BULK_CONCURRENT_CHANGE),
				 errmsg("stock changed while the stock file was being applied"),
				 errdetail("A product the file changes was spread over several stock slots meanwhile."),
				 errhint("Load the file again.")));
	return batch_id;
}

/*
 * inv_bulk_run
 *		Read a file through a feeding callback, check it, and apply it unless
 *		it has problems or this is a dry run; return the result row.
 *
 * feed is called with the reader until it returns false.
 */
static Datum
inv_bulk_run(FunctionCallInfo fcinfo, const char *source, int64 size_hint,
			 bool (*feed) (InvCsvReader *reader, void *arg), void *feed_arg)
{
	static const InvCsvAllocator allocator = {inv_bulk_realloc, inv_bulk_free};
	const char *mode;
	bool		dry_run;
	const char *reason = NULL;
	InvBulkLoad load;
	InvCsvReader reader;
	int64		supplier_id;
	TupleDesc	result_desc;
	Datum		result[9];
	bool		result_nulls[9] = {false};
	int64		rows_read;
	int64		rejected;
	int64		changed;
	int64		unchanged;
	bool		isnull;
	int			i;
	HeapTuple	report;
	TupleDesc	report_desc;
	instr_time	started;
	instr_time	read_done;
	instr_time	check_done;
	instr_time	apply_done;

	/* Check the arguments before touching anything */
	mode = PG_ARGISNULL(1) ? "set" : text_to_cstring(PG_GETARG_TEXT_PP(1));
	if (strcmp(mode, "set") != 0 && strcmp(mode, "delta") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid adjustment mode \"%s\"", mode),
				 errhint("Use \"set\" for new stock levels or \"delta\" for signed changes.")));
	dry_run = PG_ARGISNULL(2) ? false : PG_GETARG_BOOL(2);
	if (!PG_ARGISNULL(3))
		reason = text_to_cstring(PG_GETARG_TEXT_PP(3));
	if (GetDatabaseEncoding() != PG_UTF8 &&
		GetDatabaseEncoding() != PG_SQL_ASCII)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("bulk stock loads need a UTF-8 database"),
				 errdetail("This database's encoding is %s.",
						   GetDatabaseEncodingName())));
	if (get_call_result_type(fcinfo, NULL, &result_desc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "inv_bulk_load: return type must be a row type");

	SPI_connect();
	supplier_id = inv_get_supplier_id();
	INSTR_TIME_SET_CURRENT(started);

	/* 1. Read the file into a fresh staging table */
	inv_bulk_drop_work_tables();
	inv_bulk_sql("CREATE TEMP TABLE inv_bulk_staging ("
				 "line bigint, sku text, quantity bigint, is_set boolean, "
				 "reason text, problems integer, nfields integer, "
				 "bad_quantity text, bad_mode text, "
				 "maybe_repeated boolean)");
	memset(&load, 0, sizeof(load));
	load.rel = table_open(inv_bulk_temp_relid("inv_bulk_staging"),
						  RowExclusiveLock);
	Assert(RelationGetDescr(load.rel)->natts == INV_BULK_NCOLS);
	load.bistate = GetBulkInsertState();
	load.cid = GetCurrentCommandId(true);
	load.batch_cxt = AllocSetContextCreate(CurrentMemoryContext,
										   "inventory bulk batch",
										   ALLOCSET_DEFAULT_SIZES);
	load.default_set = (strcmp(mode, "set") == 0);

	/*
	 * Sized for a row of every 16 bytes of the file (a million rows when
	 * the size is not known beforehand), within work_mem
	 */
	load.skus_seen = bloom_create(size_hint > 0 ? size_hint / 16 : 1000000,
								  work_mem, 0);

	inv_csv_set_allocator(&allocator);
	if (inv_csv_init(&reader, inv_bulk_row, &load) != 0)
		elog(ERROR, "could not start the CSV parser");
	while (feed(&reader, feed_arg))
		 /* keep feeding */ ;
	inv_csv_finish(&reader);
	inv_bulk_report_error(&reader);
	inv_bulk_flush(&load);
	inv_csv_free(&reader);
	for (i = 0; i < INV_BULK_BATCH && load.slots[i] != NULL; i++)
		ExecDropSingleTupleTableSlot(load.slots[i]);
	FreeBulkInsertState(load.bistate);
	table_finish_bulk_insert(load.rel, 0);
	table_close(load.rel, NoLock);
	MemoryContextDelete(load.batch_cxt);
	CommandCounterIncrement();

	INSTR_TIME_SET_CURRENT(read_done);

	/* 2. Check every row against the catalogue, and report */
	inv_bulk_sql("ANALYZE pg_temp.inv_bulk_staging");
	inv_bulk_sql(inv_bulk_check_sql(supplier_id));
	inv_bulk_sql(inv_bulk_report_sql(reader.ncolumns, dry_run));
	report = SPI_copytuple(SPI_tuptable->vals[0]);
	report_desc = SPI_tuptable->tupdesc;
	result[7] = SPI_getbinval(report, report_desc, 1, &result_nulls[7]);
	rejected = DatumGetInt64(SPI_getbinval(report, report_desc, 2, &isnull));
	rows_read = DatumGetInt64(SPI_getbinval(report, report_desc, 3, &isnull));
	changed = DatumGetInt64(SPI_getbinval(report, report_desc, 4, &isnull));
	unchanged = DatumGetInt64(SPI_getbinval(report, report_desc, 5, &isnull));
	result[8] = SPI_getbinval(report, report_desc, 6, &result_nulls[8]);

	INSTR_TIME_SET_CURRENT(check_done);

	/* 3. Apply it all, or nothing */
	result_nulls[0] = true;
	result[1] = BoolGetDatum(false);
	if (rejected == 0 && !dry_run)
	{
		result[0] = Int64GetDatum(inv_bulk_apply(supplier_id, source, reason,
												 rows_read, &changed,
												 &unchanged));
		result_nulls[0] = false;
		result[1] = BoolGetDatum(true);
	}
	inv_bulk_drop_work_tables();
	INSTR_TIME_SET_CURRENT(apply_done);
	INSTR_TIME_SUBTRACT(apply_done, check_done);
	INSTR_TIME_SUBTRACT(check_done, read_done);
	INSTR_TIME_SUBTRACT(read_done, started);
	ereport(DEBUG1,
			(errmsg_internal("inventory bulk load: " INT64_FORMAT " rows read in %.0f ms, checked in %.0f ms, applied in %.0f ms",
							 rows_read, INSTR_TIME_GET_MILLISEC(read_done),
							 INSTR_TIME_GET_MILLISEC(check_done),
							 INSTR_TIME_GET_MILLISEC(apply_done))));

	/* NB: the arrays live in the report tuple, which SPI_copytuple made
	 * in the caller's memory, so they outlast SPI_finish */
	SPI_finish();

	result[2] = BoolGetDatum(dry_run);
	result[3] = Int64GetDatum(rows_read);
	result[4] = Int64GetDatum(changed);
	result[5] = Int64GetDatum(unchanged);
	result[6] = Int64GetDatum(rejected);
	result_desc = BlessTupleDesc(result_desc);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(result_desc, result,
													  result_nulls)));
}

/* What inv_bulk_load feeds: one text in memory */
typedef struct InvBulkText
{
	const char *data;
	size_t		len;
	size_t		done;
} InvBulkText;

/*
 * inv_bulk_feed_text
 *		Feed the next piece of an in-memory text; false when all is fed.
 *
 * Pieces keep the interrupt checks of inv_bulk_row from being the only ones
 * while long runs of blank lines are skipped.
 */
static bool
inv_bulk_feed_text(InvCsvReader *reader, void *arg)
{
	InvBulkText *text = (InvBulkText *) arg;
	size_t		n = Min(text->len - text->done, (size_t) INV_BULK_CHUNK);

	if (n == 0)
		return false;
	CHECK_FOR_INTERRUPTS();
	if (inv_csv_feed(reader, text->data + text->done, n) != INV_CSV_OK)
		return false;
	text->done += n;
	return true;
}

/*
 * inv_bulk_load(csv, mode, dry_run, reason)
 *		Load stock levels or changes from CSV text.
 */
Datum
inv_bulk_load(PG_FUNCTION_ARGS)
{
	text	   *csv;
	InvBulkText feed;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("stock file must not be null")));
	csv = PG_GETARG_TEXT_PP(0);
	feed.data = VARDATA_ANY(csv);
	feed.len = VARSIZE_ANY_EXHDR(csv);
	feed.done = 0;
	return inv_bulk_run(fcinfo, "text", feed.len, inv_bulk_feed_text, &feed);
}

/* What inv_bulk_load_file feeds: an open server file */
typedef struct InvBulkFile
{
	FILE	   *file;
	const char *path;
	char	   *buf;
} InvBulkFile;

/*
 * inv_bulk_feed_file
 *		Feed the next chunk of a server file; false at its end.
 */
static bool
inv_bulk_feed_file(InvCsvReader *reader, void *arg)
{
	InvBulkFile *file = (InvBulkFile *) arg;
	size_t		n;

	CHECK_FOR_INTERRUPTS();
	n = fread(file->buf, 1, INV_BULK_CHUNK, file->file);
	if (n == 0)
	{
		if (ferror(file->file))
			ereport(ERROR,
					(errcode_for_file_access(),
					 errmsg("could not read file \"%s\": %m", file->path)));
		return false;
	}
	return inv_csv_feed(reader, file->buf, n) == INV_CSV_OK;
}

/*
 * inv_bulk_load_file(path, mode, dry_run, reason)
 *		Load stock levels or changes from a CSV file on the server.
 *
 * Reading any file the server can read is what pg_read_server_files
 * grants, so that is what this asks for, as COPY FROM a file does.  It asks
 * it of the calling role, not of the owner whose rights the function runs
 * with.
 */
Datum
inv_bulk_load_file(PG_FUNCTION_ARGS)
{
	InvBulkFile file;
	struct stat file_stat;
	Datum		result;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("file name must not be null")));
	if (!has_privs_of_role(GetOuterUserId(), ROLE_PG_READ_SERVER_FILES))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to load stock from a server file"),
				 errdetail("Only roles with privileges of the \"pg_read_server_files\" role may read files on the server."),
				 errhint("Pass the file's contents to inventory.inv_bulk_load() instead, for example with psql's \\set var `cat file`.")));

	file.path = text_to_cstring(PG_GETARG_TEXT_PP(0));
	file.file = AllocateFile(file.path, PG_BINARY_R);
	if (file.file == NULL)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not open file \"%s\" for reading: %m",
						file.path)));
	file.buf = palloc(INV_BULK_CHUNK);

	if (fstat(fileno(file.file), &file_stat) != 0)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not stat file \"%s\": %m", file.path)));
	result = inv_bulk_run(fcinfo, file.path, (int64) file_stat.st_size,
						  inv_bulk_feed_file, &file);
	FreeFile(file.file);
	pfree(file.buf);
	return result;
}

/* What inv_bulk_load_lo feeds: a large object open for reading */
typedef struct InvBulkLargeObject
{
	int32		fd;				/* as lo_open() returned it */
} InvBulkLargeObject;

/*
 * inv_bulk_feed_lo
 *		Feed the next chunk of a large object; false at its end.
 *
 * The SQL-level large object functions are used, rather than the backend's
 * lower-level reader, because they are what closes the large object table
 * at the end of the transaction.
 */
static bool
inv_bulk_feed_lo(InvCsvReader *reader, void *arg)
{
	InvBulkLargeObject *lo = (InvBulkLargeObject *) arg;
	bytea	   *chunk;
	bool		more;

	CHECK_FOR_INTERRUPTS();
	chunk = DatumGetByteaPP(DirectFunctionCall2(be_loread,
												Int32GetDatum(lo->fd),
												Int32GetDatum(INV_BULK_CHUNK)));
	more = VARSIZE_ANY_EXHDR(chunk) > 0 &&
		inv_csv_feed(reader, VARDATA_ANY(chunk),
					 VARSIZE_ANY_EXHDR(chunk)) == INV_CSV_OK;
	pfree(chunk);
	return more;
}

/*
 * inv_bulk_load_lo(loid, mode, dry_run, reason)
 *		Load stock levels or changes from a CSV file held in a large object.
 *
 * This is how a client sends a large file without server file access and
 * without the copies of a text argument that PostgreSQL's parser and
 * planner make: psql's \lo_import (or any driver's large object writer)
 * streams it in, and the load reads it back a chunk at a time.  The calling
 * role must be allowed to read the large object, as lo_get() would ask of
 * it, not the owner whose rights the function runs with.
 */
Datum
inv_bulk_load_lo(PG_FUNCTION_ARGS)
{
	InvBulkLargeObject lo;
	Oid			loid;
	char		source[32];
	Datum		result;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("large object OID must not be null")));
	loid = PG_GETARG_OID(0);

	if (!lo_compat_privileges &&
		pg_largeobject_aclcheck_snapshot(loid, GetOuterUserId(), ACL_SELECT,
										 NULL) != ACLCHECK_OK)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied for large object %u", loid),
				 errhint("The role that loads the file must own the large object or have SELECT on it.")));

	lo.fd = DatumGetInt32(DirectFunctionCall2(be_lo_open,
											  ObjectIdGetDatum(loid),
											  Int32GetDatum(INV_READ)));
	snprintf(source, sizeof(source), "large object %u", loid);

	result = inv_bulk_run(fcinfo, source, -1, inv_bulk_feed_lo, &lo);
	DirectFunctionCall1(be_lo_close, Int32GetDatum(lo.fd));
	return result;
}
