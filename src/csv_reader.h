/*-------------------------------------------------------------------------
 *
 * csv_reader.h
 *		The stock-update CSV dialect, above libcsv's tokeniser.
 *
 * The reader depends on the C library and libcsv only, so that the same
 * code runs inside the server and in a libFuzzer harness outside it.  It
 * allocates through the hooks it is given and reports every problem
 * through its result, never by exiting or jumping.
 *
 * Copyright (c) 2026, the inventory authors
 *
 * IDENTIFICATION
 *		src/csv_reader.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef CSV_READER_H
#define CSV_READER_H

#include <stddef.h>
#include <stdint.h>

#include <csv.h>

/* The columns a stock file may have; the first two are required */
typedef enum InvCsvColumn
{
	INV_CSV_SKU = 0,
	INV_CSV_QUANTITY,
	INV_CSV_MODE,
	INV_CSV_REASON,
	INV_CSV_NCOLUMNS
} InvCsvColumn;

/* What a row's mode column says */
typedef enum InvCsvMode
{
	INV_CSV_MODE_DEFAULT = 0,	/* no mode column, or an empty one */
	INV_CSV_MODE_SET,
	INV_CSV_MODE_DELTA,
	INV_CSV_MODE_INVALID
} InvCsvMode;

/* Problems a row can have on its own, as bits of InvCsvRow.problems */
#define INV_CSV_P_MISSING_COLUMNS	0x0001
#define INV_CSV_P_EXTRA_COLUMNS		0x0002
#define INV_CSV_P_MISSING_SKU		0x0004
#define INV_CSV_P_SKU_TOO_LONG		0x0008
#define INV_CSV_P_NOT_WHOLE			0x0010
#define INV_CSV_P_OUT_OF_RANGE		0x0020
#define INV_CSV_P_BAD_MODE			0x0040
#define INV_CSV_P_NEGATIVE_LEVEL	0x0080

/* Longest SKU, in characters, as the product table allows */
#define INV_CSV_MAX_SKU_CHARS	200

/* Longest field, in bytes; a longer one makes the file unreadable */
#define INV_CSV_MAX_FIELD		(1024 * 1024)

/* Most fields a record may have before it stops being a stock row */
#define INV_CSV_MAX_FIELDS		64

/* How reading the file as a whole went */
typedef enum InvCsvStatus
{
	INV_CSV_OK = 0,
	INV_CSV_ERR_SYNTAX,			/* not CSV: stray or unbalanced quotes */
	INV_CSV_ERR_ENCODING,		/* not UTF-8, or a NUL byte */
	INV_CSV_ERR_HEADER,			/* unknown, repeated or missing column */
	INV_CSV_ERR_NO_HEADER,		/* no record at all */
	INV_CSV_ERR_TOO_LONG		/* a field over INV_CSV_MAX_FIELD */
} InvCsvStatus;

/*
 * One data row, valid only during the row callback.  field[c] is the text of
 * column c (not NUL-terminated), or NULL when the file has no such column
 * or the row is too short to reach it.  quantity is meaningful only when
 * problems has neither INV_CSV_P_NOT_WHOLE nor INV_CSV_P_OUT_OF_RANGE.
 */
typedef struct InvCsvRow
{
	int64_t		line;			/* physical line the record starts on */
	int			nfields;		/* fields found in the record */
	const char *field[INV_CSV_NCOLUMNS];
	size_t		len[INV_CSV_NCOLUMNS];
	int64_t		quantity;
	InvCsvMode	mode;
	unsigned	problems;
} InvCsvRow;

typedef void (*InvCsvRowCallback) (const InvCsvRow *row, void *arg);

/*
 * Reader state.  Callers fill in the callback and its argument with
 * inv_csv_init, feed bytes with inv_csv_feed and finish with inv_csv_finish;
 * the other fields belong to the reader.
 */
typedef struct InvCsvReader
{
	struct csv_parser parser;
	InvCsvRowCallback row_cb;
	void	   *row_arg;

	/* position */
	int64_t		line;			/* physical line being fed, from 1 */
	int64_t		record_line;	/* line the current record started on */
	int			in_record;
	int			bom_seen;		/* bytes of a leading BOM matched so far */
	int			started;		/* any byte past a possible BOM fed */

	/* the record being assembled */
	char	   *buf;
	size_t		buf_used;
	size_t		buf_size;
	size_t		field_start[INV_CSV_MAX_FIELDS];
	size_t		field_len[INV_CSV_MAX_FIELDS];
	int			nfields;		/* fields seen, may exceed the array */

	/* the header */
	int			have_header;
	int			ncolumns;		/* fields in the header */
	int			column_of[INV_CSV_NCOLUMNS];	/* header position, or -1 */

	/* counts */
	int64_t		rows;			/* data rows handed to the callback */

	/* the first fatal problem, if any */
	InvCsvStatus status;
	int64_t		err_line;
	char		err_text[128];
} InvCsvReader;

/* Allocation hooks: the server passes palloc-based ones, the fuzzer libc's */
typedef struct InvCsvAllocator
{
	void	   *(*realloc_fn) (void *ptr, size_t size);
	void		(*free_fn) (void *ptr);
} InvCsvAllocator;

extern void inv_csv_set_allocator(const InvCsvAllocator *allocator);
extern int	inv_csv_init(InvCsvReader *reader, InvCsvRowCallback row_cb,
						 void *row_arg);
extern InvCsvStatus inv_csv_feed(InvCsvReader *reader, const char *data,
								 size_t len);
extern InvCsvStatus inv_csv_finish(InvCsvReader *reader);
extern void inv_csv_free(InvCsvReader *reader);
extern const char *inv_csv_column_name(InvCsvColumn column);
extern const char *inv_csv_header_line(void);

#endif							/* CSV_READER_H */
