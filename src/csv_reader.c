/*-------------------------------------------------------------------------
 *
 * csv_reader.c
 *		The stock-update CSV dialect, above libcsv's tokeniser.
 *
 * libcsv splits bytes into fields and records; it knows quotes, doubled
 * quotes, quoted commas and newlines, and CR, LF or CRLF line ends.  This
 * file is the layer the users' files need on top: a UTF-8 byte-order mark,
 * UTF-8 validation, blank lines (and spreadsheet rows of empty fields),
 * the physical line each record starts on, header names in any case and
 * with spaces around them, and each data row's own problems (wrong number
 * of fields, a quantity that is not a whole number or out of range, an
 * unknown mode).  Problems that concern the catalogue (unknown or repeated
 * SKUs, levels below what is reserved) are for the caller.
 *
 * Bytes are fed to libcsv one physical line at a time, so that the line
 * counter moves exactly at each LF, quoted or not.  Only an LF ends a
 * record (the CR of a CRLF is trimmed as space), so a record starts on the
 * first line, after the end of the previous record, that holds anything
 * but spaces, tabs and CRs.  Files with bare CR line ends (classic Mac OS)
 * therefore read as one long line.
 *
 * Nothing here depends on the server: the fuzz harness in fuzz/ links this
 * file with libcsv alone.  All memory comes from the allocator hooks.
 *
 * Copyright (c) 2026, the inventory authors
 *
 * IDENTIFICATION
 *		src/csv_reader.c
 *
 *-------------------------------------------------------------------------
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "csv_reader.h"

/* The header names, in InvCsvColumn order */
static const char *const inv_csv_names[INV_CSV_NCOLUMNS] = {
	"sku", "quantity", "mode", "reason"
};

/* Allocation hooks; libc's until the caller says otherwise */
static void *(*inv_csv_realloc_fn) (void *ptr, size_t size) = realloc;
static void (*inv_csv_free_fn) (void *ptr) = free;

static void inv_csv_field_cb(void *data, size_t len, void *arg);
static void inv_csv_record_cb(int c, void *arg);

/*
 * inv_csv_set_allocator
 *		Route every allocation of the reader and of libcsv through the hooks.
 *
 * The hooks are process-wide because libcsv's own hooks take no argument.
 */
void
inv_csv_set_allocator(const InvCsvAllocator *allocator)
{
	inv_csv_realloc_fn = allocator->realloc_fn;
	inv_csv_free_fn = allocator->free_fn;
}

/*
 * inv_csv_parser_realloc
 *		libcsv's realloc hook: refuse to grow a field past INV_CSV_MAX_FIELD,
 *		so that one endless quoted field cannot take all memory.
 */
static void *
inv_csv_parser_realloc(void *ptr, size_t size)
{
	if (size > INV_CSV_MAX_FIELD + 1024)
		return NULL;
	return inv_csv_realloc_fn(ptr, size);
}

/*
 * inv_csv_parser_free
 *		libcsv's free hook.
 */
static void
inv_csv_parser_free(void *ptr)
{
	if (ptr != NULL)
		inv_csv_free_fn(ptr);
}

/*
 * inv_csv_trim
 *		Narrow *s and *len to the text between the spaces and tabs around
 *		it, as a quoted name or number may have.
 */
static void
inv_csv_trim(const char **s, size_t *len)
{
	while (*len > 0 && ((*s)[0] == ' ' || (*s)[0] == '\t'))
	{
		(*s)++;
		(*len)--;
	}
	while (*len > 0 && ((*s)[*len - 1] == ' ' || (*s)[*len - 1] == '\t'))
		(*len)--;
}

/*
 * inv_csv_is_space
 *		libcsv's space test: spaces and tabs around a field are dropped, and
 *		so is the CR of a CRLF line end.
 */
static int
inv_csv_is_space(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\r';
}

/*
 * inv_csv_is_term
 *		libcsv's line-end test: only LF ends a record.
 *
 * With CR a terminator too, a lone CR could end a record in the middle of
 * a physical line, and the record after it would start on no line of its
 * own.  CRLF still works: the CR is space before the LF.
 */
static int
inv_csv_is_term(unsigned char c)
{
	return c == '\n';
}

/*
 * inv_csv_column_name
 *		The header name of a column.
 */
const char *
inv_csv_column_name(InvCsvColumn column)
{
	return inv_csv_names[column];
}

/*
 * inv_csv_header_line
 *		The template's header line, without a line end.
 */
const char *
inv_csv_header_line(void)
{
	return "sku,quantity,mode,reason";
}

/*
 * inv_csv_init
 *		Prepare a reader; return 0, or -1 when libcsv could not start.
 */
int
inv_csv_init(InvCsvReader *reader, InvCsvRowCallback row_cb, void *row_arg)
{
	int			i;

	memset(reader, 0, sizeof(*reader));
	if (csv_init(&reader->parser, CSV_STRICT | CSV_STRICT_FINI) != 0)
		return -1;
	csv_set_realloc_func(&reader->parser, inv_csv_parser_realloc);
	csv_set_free_func(&reader->parser, inv_csv_parser_free);
	csv_set_space_func(&reader->parser, inv_csv_is_space);
	csv_set_term_func(&reader->parser, inv_csv_is_term);
	reader->row_cb = row_cb;
	reader->row_arg = row_arg;
	reader->line = 1;
	for (i = 0; i < INV_CSV_NCOLUMNS; i++)
		reader->column_of[i] = -1;
	return 0;
}

/*
 * inv_csv_fail
 *		Remember the first fatal problem; later ones add nothing.
 */
static void
inv_csv_fail(InvCsvReader *reader, InvCsvStatus status, int64_t line,
			 const char *text, size_t len)
{
	if (reader->status != INV_CSV_OK)
		return;
	reader->status = status;
	reader->err_line = line;
	if (text != NULL)
	{
		if (len > sizeof(reader->err_text) - 1)
			len = sizeof(reader->err_text) - 1;
		memcpy(reader->err_text, text, len);
		reader->err_text[len] = '\0';
	}
}

/*
 * inv_csv_utf8_error
 *		Offset of the first byte of s that is not valid UTF-8 (or is NUL),
 *		or len when all of it is valid.
 *
 * Overlong forms, surrogates and code points above U+10FFFF are refused,
 * as PostgreSQL refuses them.
 */
static size_t
inv_csv_utf8_error(const unsigned char *s, size_t len)
{
	size_t		i = 0;

	while (i < len)
	{
		unsigned char c = s[i];
		size_t		n;
		unsigned int cp;
		size_t		k;

		if (c >= 0x01 && c < 0x80)
		{
			i++;
			continue;
		}
		if (c >= 0xC2 && c <= 0xDF)
		{
			n = 2;
			cp = c & 0x1F;
		}
		else if (c >= 0xE0 && c <= 0xEF)
		{
			n = 3;
			cp = c & 0x0F;
		}
		else if (c >= 0xF0 && c <= 0xF4)
		{
			n = 4;
			cp = c & 0x07;
		}
		else
			return i;			/* NUL, a continuation byte, or 0xF5.. */
		if (len - i < n)
			return i;
		for (k = 1; k < n; k++)
		{
			if ((s[i + k] & 0xC0) != 0x80)
				return i;
			cp = (cp << 6) | (s[i + k] & 0x3F);
		}
		if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
			cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
			return i;
		i += n;
	}
	return len;
}

/*
 * inv_csv_field_cb
 *		libcsv's field callback: check the field's encoding and append it to
 *		the record being assembled.
 */
static void
inv_csv_field_cb(void *data, size_t len, void *arg)
{
	InvCsvReader *reader = (InvCsvReader *) arg;
	const unsigned char *s = (const unsigned char *) data;
	size_t		bad;
	int			i;

	if (reader->status != INV_CSV_OK)
		return;

	/* Defensive: a record the line scan did not see start starts here */
	if (!reader->in_record)
	{
		reader->in_record = 1;
		reader->record_line = reader->line;
	}

	/* Name the line of the bad byte: the field may span several */
	bad = inv_csv_utf8_error(s, len);
	if (bad < len)
	{
		int64_t		line = reader->line;
		size_t		k;

		for (k = bad; k < len; k++)
			if (s[k] == '\n')
				line--;
		inv_csv_fail(reader, INV_CSV_ERR_ENCODING, line, NULL, 0);
		return;
	}

	/* Fields past the most a stock row can use are only counted */
	i = reader->nfields++;
	if (i >= INV_CSV_MAX_FIELDS)
		return;

	/*
	 * Append it as it is: libcsv has dropped the spaces around an unquoted
	 * field, and those inside quotes belong to the value (a SKU may end in a
	 * space).  Names and numbers are trimmed where they are read.
	 */
	if (reader->buf_used + len + 1 > reader->buf_size)
	{
		size_t		want = (reader->buf_used + len + 1) * 2;
		char	   *grown = inv_csv_realloc_fn(reader->buf, want);

		if (grown == NULL)
		{
			inv_csv_fail(reader, INV_CSV_ERR_TOO_LONG, reader->record_line,
						 NULL, 0);
			return;
		}
		reader->buf = grown;
		reader->buf_size = want;
	}
	if (len > 0)
		memcpy(reader->buf + reader->buf_used, s, len);
	reader->field_start[i] = reader->buf_used;
	reader->field_len[i] = len;
	reader->buf_used += len;
	reader->buf[reader->buf_used++] = '\0';
}

/*
 * inv_csv_name_matches
 *		Whether a header field names a column: ASCII case is ignored.
 */
static int
inv_csv_name_matches(const char *field, size_t len, const char *name)
{
	size_t		i;

	inv_csv_trim(&field, &len);
	if (strlen(name) != len)
		return 0;
	for (i = 0; i < len; i++)
	{
		char		c = field[i];

		if (c >= 'A' && c <= 'Z')
			c += 'a' - 'A';
		if (c != name[i])
			return 0;
	}
	return 1;
}

/*
 * inv_csv_read_header
 *		Map the header's fields to columns; a fatal problem if a name is
 *		unknown, repeated or empty, or a required column is missing.
 */
static void
inv_csv_read_header(InvCsvReader *reader)
{
	int			i;
	int			c;

	if (reader->nfields > INV_CSV_MAX_FIELDS)
	{
		inv_csv_fail(reader, INV_CSV_ERR_HEADER, reader->record_line,
					 "too many columns", strlen("too many columns"));
		return;
	}
	for (i = 0; i < reader->nfields; i++)
	{
		const char *name = reader->buf + reader->field_start[i];
		size_t		len = reader->field_len[i];

		for (c = 0; c < INV_CSV_NCOLUMNS; c++)
			if (inv_csv_name_matches(name, len, inv_csv_names[c]))
				break;
		if (c == INV_CSV_NCOLUMNS || reader->column_of[c] >= 0)
		{
			/* err_text says which: "unknown:NAME" or "repeated:NAME" */
			char		text[sizeof(reader->err_text)];

			snprintf(text, sizeof(text), "%s:%.*s",
					 c == INV_CSV_NCOLUMNS ? "unknown" : "repeated",
					 (int) (len > 100 ? 100 : len), name);
			inv_csv_fail(reader, INV_CSV_ERR_HEADER, reader->record_line,
						 text, strlen(text));
			return;
		}
		reader->column_of[c] = i;
	}
	for (c = INV_CSV_SKU; c <= INV_CSV_QUANTITY; c++)
	{
		if (reader->column_of[c] < 0)
		{
			char		text[sizeof(reader->err_text)];

			snprintf(text, sizeof(text), "missing:%s", inv_csv_names[c]);
			inv_csv_fail(reader, INV_CSV_ERR_HEADER, reader->record_line,
						 text, strlen(text));
			return;
		}
	}
	reader->ncolumns = reader->nfields;
	reader->have_header = 1;
}

/*
 * inv_csv_parse_quantity
 *		Read a whole number, with an optional sign, into row->quantity, or
 *		flag the row.
 */
static void
inv_csv_parse_quantity(InvCsvRow *row, const char *s, size_t len)
{
	size_t		i = 0;
	int			negative = 0;
	uint64_t	magnitude = 0;
	uint64_t	limit;

	inv_csv_trim(&s, &len);
	if (len > 0 && (s[0] == '+' || s[0] == '-'))
	{
		negative = (s[0] == '-');
		i = 1;
	}
	if (i == len)
	{
		row->problems |= INV_CSV_P_NOT_WHOLE;
		return;
	}
	limit = negative ? (uint64_t) INT64_MAX + 1 : (uint64_t) INT64_MAX;
	for (; i < len; i++)
	{
		unsigned	digit;

		if (s[i] < '0' || s[i] > '9')
		{
			row->problems |= INV_CSV_P_NOT_WHOLE;
			return;
		}
		digit = (unsigned) (s[i] - '0');
		if (magnitude > (limit - digit) / 10)
		{
			/* keep looking: "99999999999999999999x" is not a number at all */
			size_t		k;

			for (k = i; k < len; k++)
				if (s[k] < '0' || s[k] > '9')
				{
					row->problems |= INV_CSV_P_NOT_WHOLE;
					return;
				}
			row->problems |= INV_CSV_P_OUT_OF_RANGE;
			return;
		}
		magnitude = magnitude * 10 + digit;
	}
	if (negative)
		row->quantity = magnitude == (uint64_t) INT64_MAX + 1 ?
			INT64_MIN : -(int64_t) magnitude;
	else
		row->quantity = (int64_t) magnitude;
}

/*
 * inv_csv_utf8_chars
 *		Characters in a valid UTF-8 string.
 */
static size_t
inv_csv_utf8_chars(const char *s, size_t len)
{
	size_t		n = 0;
	size_t		i;

	for (i = 0; i < len; i++)
		if (((unsigned char) s[i] & 0xC0) != 0x80)
			n++;
	return n;
}

/*
 * inv_csv_read_row
 *		Turn the assembled record into a data row and hand it over.
 */
static void
inv_csv_read_row(InvCsvReader *reader)
{
	InvCsvRow	row;
	int			c;

	memset(&row, 0, sizeof(row));
	row.line = reader->record_line;
	row.nfields = reader->nfields;
	if (reader->nfields < reader->ncolumns)
		row.problems |= INV_CSV_P_MISSING_COLUMNS;
	else if (reader->nfields > reader->ncolumns)
		row.problems |= INV_CSV_P_EXTRA_COLUMNS;

	for (c = 0; c < INV_CSV_NCOLUMNS; c++)
	{
		int			pos = reader->column_of[c];

		if (pos >= 0 && pos < reader->nfields && pos < INV_CSV_MAX_FIELDS)
		{
			row.field[c] = reader->buf + reader->field_start[pos];
			row.len[c] = reader->field_len[pos];
		}
	}

	/* The SKU is text as written: leading zeros stay */
	if (row.field[INV_CSV_SKU] == NULL || row.len[INV_CSV_SKU] == 0)
		row.problems |= INV_CSV_P_MISSING_SKU;
	else if (inv_csv_utf8_chars(row.field[INV_CSV_SKU],
								row.len[INV_CSV_SKU]) > INV_CSV_MAX_SKU_CHARS)
		row.problems |= INV_CSV_P_SKU_TOO_LONG;

	/* A missing mode leaves the choice to the caller's default */
	row.mode = INV_CSV_MODE_DEFAULT;
	if (row.field[INV_CSV_MODE] != NULL && row.len[INV_CSV_MODE] > 0)
	{
		if (inv_csv_name_matches(row.field[INV_CSV_MODE],
								 row.len[INV_CSV_MODE], "set"))
			row.mode = INV_CSV_MODE_SET;
		else if (inv_csv_name_matches(row.field[INV_CSV_MODE],
									  row.len[INV_CSV_MODE], "delta"))
			row.mode = INV_CSV_MODE_DELTA;
		else
		{
			row.mode = INV_CSV_MODE_INVALID;
			row.problems |= INV_CSV_P_BAD_MODE;
		}
	}

	/* A quantity is a whole number; a new level is not negative */
	if (row.field[INV_CSV_QUANTITY] != NULL)
		inv_csv_parse_quantity(&row, row.field[INV_CSV_QUANTITY],
							   row.len[INV_CSV_QUANTITY]);
	else if (!(row.problems & INV_CSV_P_MISSING_COLUMNS))
		row.problems |= INV_CSV_P_NOT_WHOLE;
	if (row.mode == INV_CSV_MODE_SET && row.quantity < 0 &&
		!(row.problems & (INV_CSV_P_NOT_WHOLE | INV_CSV_P_OUT_OF_RANGE)))
		row.problems |= INV_CSV_P_NEGATIVE_LEVEL;

	reader->rows++;
	reader->row_cb(&row, reader->row_arg);
}

/*
 * inv_csv_record_cb
 *		libcsv's record callback: the header first, then data rows.  Records
 *		whose fields are all empty are blank lines to a spreadsheet.
 */
static void
inv_csv_record_cb(int c, void *arg)
{
	InvCsvReader *reader = (InvCsvReader *) arg;
	int			i;
	int			blank = 1;

	if (reader->status == INV_CSV_OK)
	{
		for (i = 0; i < reader->nfields && i < INV_CSV_MAX_FIELDS; i++)
			if (reader->field_len[i] > 0)
				blank = 0;
		if (reader->nfields > INV_CSV_MAX_FIELDS)
			blank = 0;

		if (blank)
			 /* skip */ ;
		else if (!reader->have_header)
			inv_csv_read_header(reader);
		else
			inv_csv_read_row(reader);
	}

	reader->nfields = 0;
	reader->buf_used = 0;
	reader->in_record = 0;
}

/*
 * inv_csv_skip_bom
 *		Drop a UTF-8 byte-order mark at the very start of the input, even if
 *		it arrives split over several calls.  Returns how many of the len
 *		bytes at data belong to it.
 */
static size_t
inv_csv_skip_bom(InvCsvReader *reader, const unsigned char *data, size_t len)
{
	static const unsigned char bom[3] = {0xEF, 0xBB, 0xBF};
	size_t		used = 0;

	while (!reader->started && used < len)
	{
		if (data[used] != bom[reader->bom_seen])
		{
			/*
			 * Not a BOM after all.  The part already swallowed (one or two
			 * bytes of EF BB) cannot begin valid UTF-8 text here, so it is
			 * an encoding error rather than something to give back.
			 */
			if (reader->bom_seen > 0)
				inv_csv_fail(reader, INV_CSV_ERR_ENCODING, 1, NULL, 0);
			reader->started = 1;
			break;
		}
		used++;
		if (++reader->bom_seen == 3)
			reader->started = 1;
	}
	return used;
}

/*
 * inv_csv_feed
 *		Read the next len bytes of the file; return the status so far.  After
 *		a fatal problem the rest of the input is ignored.
 */
InvCsvStatus
inv_csv_feed(InvCsvReader *reader, const char *data, size_t len)
{
	const unsigned char *p = (const unsigned char *) data;

	if (reader->status != INV_CSV_OK)
		return reader->status;

	if (!reader->started)
	{
		size_t		skip = inv_csv_skip_bom(reader, p, len);

		p += skip;
		len -= skip;
		if (reader->status != INV_CSV_OK)
			return reader->status;
	}

	while (len > 0)
	{
		const unsigned char *nl = memchr(p, '\n', len);
		size_t		n = nl ? (size_t) (nl - p) + 1 : len;

		/* Between records, the first line with content starts the next */
		if (!reader->in_record)
		{
			size_t		k;

			for (k = 0; k < n; k++)
				if (p[k] != ' ' && p[k] != '\t' && p[k] != '\r' &&
					p[k] != '\n')
				{
					reader->in_record = 1;
					reader->record_line = reader->line;
					break;
				}
		}

		if (csv_parse(&reader->parser, p, n, inv_csv_field_cb,
					  inv_csv_record_cb, reader) != n)
		{
			if (csv_error(&reader->parser) == CSV_EPARSE)
				inv_csv_fail(reader, INV_CSV_ERR_SYNTAX, reader->line,
							 NULL, 0);
			else
				inv_csv_fail(reader, INV_CSV_ERR_TOO_LONG, reader->line,
							 NULL, 0);
		}
		if (reader->status != INV_CSV_OK)
			return reader->status;
		if (nl)
			reader->line++;
		p += n;
		len -= n;
	}
	return reader->status;
}

/*
 * inv_csv_finish
 *		End of input: submit the last record and check that a header was
 *		seen.  Returns the final status.
 */
InvCsvStatus
inv_csv_finish(InvCsvReader *reader)
{
	if (reader->status != INV_CSV_OK)
		return reader->status;

	/* An unclosed quote is reported on the line the record started */
	if (csv_fini(&reader->parser, inv_csv_field_cb, inv_csv_record_cb,
				 reader) != 0)
		inv_csv_fail(reader, INV_CSV_ERR_SYNTAX,
					 reader->in_record ? reader->record_line : reader->line,
					 "unterminated", strlen("unterminated"));
	if (reader->status == INV_CSV_OK && !reader->have_header)
		inv_csv_fail(reader, INV_CSV_ERR_NO_HEADER, reader->line, NULL, 0);
	return reader->status;
}

/*
 * inv_csv_free
 *		Give back the reader's memory.
 */
void
inv_csv_free(InvCsvReader *reader)
{
	csv_free(&reader->parser);
	if (reader->buf != NULL)
		inv_csv_free_fn(reader->buf);
	reader->buf = NULL;
}
