-- Print a query that fingerprints every table of schema inventory as it is
-- now, column by column: one line per table with its row count and a digest
-- of its rows.  Run the printed query before and after an upgrade: columns
-- an upgrade adds are left out, so only what was there is compared.
SELECT string_agg(
		   pg_catalog.format(
			   'SELECT %L AS tbl, count(*), md5(string_agg(ROW(%s)::text, %L ORDER BY ROW(%s)::text)) FROM inventory.%I',
			   c.relname, cols.list, '|', cols.list, c.relname),
		   E'\nUNION ALL ' ORDER BY c.relname)
	   || E'\nORDER BY 1;'
FROM pg_catalog.pg_class c
CROSS JOIN LATERAL (
	SELECT string_agg(pg_catalog.quote_ident(a.attname), ', ' ORDER BY a.attnum) AS list
	FROM pg_catalog.pg_attribute a
	WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
) cols
WHERE c.relnamespace = 'inventory'::regnamespace AND c.relkind = 'r';
