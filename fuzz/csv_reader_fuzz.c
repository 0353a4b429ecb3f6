/*-------------------------------------------------------------------------
 *
 * csv_reader_fuzz.c
 *		libFuzzer target for the stock-update CSV reader.
 *
 * Each input is a whole file.  It is fed twice: in one piece, and split at
 * a point taken from its first byte, and both ways must give the same rows
 * and the same verdict, since the server reads a file in chunks of any
 * size.  Every row the reader hands over is checked against what the
 * reader promises (line numbers never go back, fields lie within the
 * record buffer, quantity flags are consistent), so that a broken promise
 * aborts like a crash does.
 *
 * Copyright (c) 2026, the inventory authors
 *
 * IDENTIFICATION
 *		fuzz/csv_reader_fuzz.c
 *
 *-------------------------------------------------------------------------
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "csv_reader.h"

/* A digest of what the reader produced, to compare two readings */
typedef struct FuzzDigest
{
	uint64_t	hash;
	int64_t		rows;
	int64_t		last_line;
} FuzzDigest;

/*
 * fuzz_mix
 *		Fold bytes into the digest (FNV-1a).
 */
static void
fuzz_mix(FuzzDigest *d, const void *data, size_t len)
{
	const unsigned char *p = data;
	size_t		i;

	for (i = 0; i < len; i++)
		d->hash = (d->hash ^ p[i]) * 1099511628211ULL;
}

/*
 * fuzz_row
 *		Row callback: check the reader's promises and fold the row in.
 */
static void
fuzz_row(const InvCsvRow *row, void *arg)
{
	FuzzDigest *d = arg;
	int			c;

	if (row->line < 1 || row->line < d->last_line)
		abort();
	d->last_line = row->line;
	d->rows++;
	fuzz_mix(d, &row->line, sizeof(row->line));
	fuzz_mix(d, &row->problems, sizeof(row->problems));
	fuzz_mix(d, &row->mode, sizeof(row->mode));
	if (!(row->problems & (INV_CSV_P_NOT_WHOLE | INV_CSV_P_OUT_OF_RANGE)))
		fuzz_mix(d, &row->quantity, sizeof(row->quantity));
	if ((row->problems & INV_CSV_P_NEGATIVE_LEVEL) && row->quantity >= 0)
		abort();
	for (c = 0; c < INV_CSV_NCOLUMNS; c++)
	{
		if (row->field[c] == NULL)
			continue;
		/* read every byte, so that ASan sees an overrun */
		fuzz_mix(d, row->field[c], row->len[c]);
		if (row->field[c][row->len[c]] != '\0')
			abort();
	}
}

/*
 * fuzz_read
 *		Read the input, split at cut, into a digest; return the status.
 */
static InvCsvStatus
fuzz_read(const uint8_t *data, size_t size, size_t cut, FuzzDigest *d,
		  int64_t *err_line)
{
	InvCsvReader reader;
	InvCsvStatus status;

	memset(d, 0, sizeof(*d));
	d->hash = 1469598103934665603ULL;
	if (inv_csv_init(&reader, fuzz_row, d) != 0)
		abort();
	status = inv_csv_feed(&reader, (const char *) data, cut);
	if (status == INV_CSV_OK)
		status = inv_csv_feed(&reader, (const char *) data + cut, size - cut);
	if (status == INV_CSV_OK)
		status = inv_csv_finish(&reader);
	*err_line = status == INV_CSV_OK ? 0 : reader.err_line;
	if (status != INV_CSV_OK && reader.err_line < 1)
		abort();
	inv_csv_free(&reader);
	return status;
}

/*
 * LLVMFuzzerTestOneInput
 *		libFuzzer's entry point.
 */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	FuzzDigest	whole;
	FuzzDigest	split;
	int64_t		line_whole;
	int64_t		line_split;
	InvCsvStatus s_whole;
	InvCsvStatus s_split;
	size_t		cut = size > 0 ? data[0] % (size + 1) : 0;

	s_whole = fuzz_read(data, size, size, &whole, &line_whole);
	s_split = fuzz_read(data, size, cut, &split, &line_split);

	/* Where the input is cut must not change what it means */
	if (s_whole != s_split || line_whole != line_split)
		abort();
	if (s_whole == INV_CSV_OK &&
		(whole.hash != split.hash || whole.rows != split.rows))
		abort();
	return 0;
}
