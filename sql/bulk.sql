--
-- bulk: stock updates from a CSV file, all or nothing
--
-- Runs after the other suites, against its own products.
\set SHOW_CONTEXT never
INSERT INTO inventory.product (sku, name) VALUES
	('BULK-1', 'First'), ('BULK-2', 'Second'), ('0007', 'Leading zeros'),
	('7', 'Not the same as 0007'), ('A,"B"', 'Comma and quotes'),
	('BULK-SPREAD', 'Stock in two slots');
INSERT INTO inventory.product (sku, name, made_to_order)
VALUES ('BULK-MTO', 'Made to order', true);

-- A helper that runs one load and prints its result, one line per problem
-- and per change a dry run would make
CREATE FUNCTION pg_temp.bulk(csv text, mode text DEFAULT 'set',
							 dry_run boolean DEFAULT false,
							 reason text DEFAULT NULL)
RETURNS SETOF text
LANGUAGE plpgsql
AS $$
DECLARE
	r inventory.bulk_result;
	p inventory.bulk_problem;
	c inventory.bulk_change;
BEGIN
	r := inventory.inv_bulk_load(csv, mode, dry_run, reason);
	RETURN NEXT format('applied %s, dry run %s, batch %s: read %s, changed %s, unchanged %s, rejected %s',
					   r.applied, r.dry_run, coalesce(r.batch_id::text, 'none'),
					   r.rows_read, r.changed, r.unchanged, r.rejected);
	FOREACH p IN ARRAY coalesce(r.problems, '{}') LOOP
		RETURN NEXT format('  line %s, SKU %s: %s. %s', p.line,
						   coalesce(quote_literal(p.sku), 'none'), p.problem, p.detail);
	END LOOP;
	FOREACH c IN ARRAY coalesce(r.changes, '{}') LOOP
		RETURN NEXT format('  line %s would %s %s of %s (its product: %s): %s -> %s, %s reserved',
						   c.line, c.mode, c.quantity, quote_literal(c.sku),
						   c.product_id = (SELECT product_id FROM inventory.product
										   WHERE sku = c.sku),
						   c.stock_level_before, c.stock_level_after, c.reserved);
	END LOOP;
END
$$;

-- The stock and the bulk ledger rows of our products
CREATE VIEW pg_temp.bulk_stock AS
SELECT sku, stock_level, reserved FROM inventory.stock
WHERE product_id >= (SELECT min(product_id) FROM inventory.product WHERE sku = 'BULK-1')
ORDER BY sku COLLATE "C";
CREATE VIEW pg_temp.bulk_ledger AS
SELECT p.sku, l.kind, l.stock_level_before, l.stock_level_after, l.reason, l.batch_id
FROM inventory.ledger l JOIN inventory.product p USING (supplier_id, product_id)
WHERE l.batch_id IS NOT NULL
ORDER BY l.batch_id, p.sku COLLATE "C", l.ledger_id;

-- The template: header and one example row
SELECT inventory.inv_csv_template();

-- The dialect users produce: a byte-order mark, CRLF line ends, header
-- names in any case with spaces around them, blank lines (and a
-- spreadsheet's row of empty fields), quoted commas, quotes and newlines,
-- and SKUs with leading zeros kept as text
SELECT pg_temp.bulk(E'\xEF\xBB\xBF SKU , Quantity,MODE ,  Reason \r\n'
	'BULK-1,10,set,opening\r\n'
	'\r\n'
	'   \r\n'
	',,,\r\n'
	'0007, 7 ,SET,"stock take, aisle 3"\r\n'
	'"A,""B""",3,set,"two\r\nlines"\r\n'
	'"BULK-2","5","Set",\r\n', reason => 'default reason');
SELECT * FROM pg_temp.bulk_stock;
SELECT * FROM pg_temp.bulk_ledger;
SELECT batch_id, source, rows_read, changed, unchanged, db_user = current_user AS by_me
FROM inventory.bulk_load ORDER BY batch_id;

-- Deltas, by the mode column or by the mode argument; a row that changes
-- nothing writes no ledger row
SELECT pg_temp.bulk(E'sku,quantity,mode\nBULK-1,-4,delta\nBULK-2,+2,\n7,0,delta\n0007,7,set\n',
					mode => 'delta');
SELECT * FROM pg_temp.bulk_stock;
SELECT sku, kind, stock_level_before, stock_level_after, batch_id
FROM pg_temp.bulk_ledger WHERE batch_id = 2;

-- Without a mode column every row takes the mode argument
SELECT pg_temp.bulk(E'quantity,sku\n1,BULK-1\n', mode => 'delta');
SELECT stock_level FROM pg_temp.bulk_stock WHERE sku = 'BULK-1';

-- A file that changes nothing is still a batch, with no ledger rows
SELECT count(*) AS ledger_before FROM inventory.ledger \gset
SELECT pg_temp.bulk(E'sku,quantity\nBULK-1,7\nBULK-2,7\n');
SELECT count(*) - :ledger_before AS new_ledger_rows FROM inventory.ledger;

-- Every problem of every row is reported with its line, and nothing is
-- applied.  Line numbers are physical lines: the quoted reason on line 3
-- runs on to line 4, so the next row is on line 5.
SELECT reservation_id > 0 AS reserved FROM inventory.inv_reserve('BULK-ORDER', 'BULK-2', 4);
SELECT reservation_id > 0 AS reserved FROM inventory.inv_reserve('BULK-MTO-ORDER', 'BULK-MTO', 2);
SELECT count(*) AS ledger_before FROM inventory.ledger \gset
SELECT pg_temp.bulk(E'sku,quantity,mode,reason\n'
	'BULK-1,100,set,fine on its own\n'
	'NO-SUCH,1,set,"a reason\nover two lines"\n'
	'BULK-1,5,delta,\n'
	'BULK-2,3,set,\n'
	'0007,-8,delta,\n'
	'7,1.5,set,\n'
	'7,abc,delta,\n'
	'A,"B",99999999999999999999,set,\n'
	'BULK-SPREAD,-1,set,\n'
	',1,set,\n'
	'BULK-MTO,1,add,\n'
	'BULK-MTO,1\n'
	'BULK-MTO,1,set,,\n'
	|| repeat('X', 201) || E',1,set,\n'
	'0007,9223372036854775807,delta,\n');
SELECT * FROM pg_temp.bulk_stock;
SELECT count(*) - :ledger_before AS new_ledger_rows FROM inventory.ledger;
SELECT count(*) AS batches FROM inventory.bulk_load;

-- A negative quantity is a level below zero too when the row takes the
-- load's default mode (no mode column, or an empty mode field), and the
-- dry run says so as the load does
SELECT pg_temp.bulk(E'sku,quantity\nBULK-1,-50\n', dry_run => true);
SELECT pg_temp.bulk(E'sku,quantity,mode\nBULK-1,-50,\nBULK-2,-1,\n');
SELECT pg_temp.bulk(E'sku,quantity,mode\nBULK-1,-50,\n', mode => 'delta', dry_run => true);

-- A dry run gives the same report and what the good rows would change
SELECT pg_temp.bulk(E'sku,quantity,mode\nBULK-1,100,set\nBULK-2,-1,delta\nNO-SUCH,1,set\nBULK-MTO,0,set\n',
					dry_run => true);
SELECT pg_temp.bulk(E'sku,quantity,mode\nBULK-1,100,set\nBULK-2,-1,delta\nBULK-MTO,1,set\n',
					dry_run => true);
SELECT * FROM pg_temp.bulk_stock;
SELECT count(*) - :ledger_before AS new_ledger_rows FROM inventory.ledger;

-- A made-to-order product's level may be below what is reserved
SELECT pg_temp.bulk(E'sku,quantity\nBULK-MTO,1\n');

-- A product whose stock is spread over several slots is checked against its
-- summed quantities; the change lands in slot 0 once its free units are
-- gathered there, and the other slots keep only what orders hold
SELECT stock_level FROM inventory.inv_adjust('BULK-SPREAD', 30, 'set');
SELECT inventory.inv_set_slots('BULK-SPREAD', 3);
SELECT state FROM inventory.inv_reserve('BULK-SPREAD-ORDER', 'BULK-SPREAD', 4);
SELECT max(ledger_id) AS before_spread_loads FROM inventory.ledger \gset
SELECT pg_temp.bulk(E'sku,quantity\nBULK-SPREAD,3\n');
SELECT pg_temp.bulk(E'sku,quantity\nBULK-SPREAD,25\n');
SELECT stock_level, reserved, available FROM inventory.stock WHERE sku = 'BULK-SPREAD';
SELECT pg_temp.bulk(E'sku,quantity,mode\nBULK-SPREAD,-21,delta\n');
SELECT pg_temp.bulk(E'sku,quantity,mode\nBULK-SPREAD,-20,delta\n');
SELECT stock_level, reserved, available FROM inventory.stock WHERE sku = 'BULK-SPREAD';
SELECT sum(stock_level) AS slots_level, sum(reserved) AS slots_reserved,
	   count(*) AS slots
FROM inventory.stock_slot s JOIN inventory.product p USING (supplier_id, product_id)
WHERE p.sku = 'BULK-SPREAD';
SELECT l.kind, l.stock_level_after - l.stock_level_before AS change,
	   l.batch_id IS NOT NULL AS in_batch
FROM inventory.ledger l JOIN inventory.product p USING (supplier_id, product_id)
WHERE p.sku = 'BULK-SPREAD' AND l.kind IN ('set', 'adjust')
ORDER BY l.ledger_id;
-- The units the loads gathered into slot 0 moved as part of their batches
SELECT count(*) > 0 AS gathered, count(*) FILTER (WHERE batch_id IS NULL)
	   AS moves_outside_a_batch,
	   sum(stock_level_after - stock_level_before) AS net
FROM inventory.ledger l JOIN inventory.product p USING (supplier_id, product_id)
WHERE p.sku = 'BULK-SPREAD' AND l.kind = 'rebalance'
  AND l.ledger_id > :before_spread_loads;
SELECT * FROM inventory.inv_verify();

-- Files that are not CSV, or not UTF-8, or have no usable header, are
-- refused as a whole with the line named
SELECT pg_temp.bulk(E'sku,quantity\nBULK-1,1\nBULK-2,"2\n\n');
\echo :LAST_ERROR_SQLSTATE
SELECT pg_temp.bulk(E'sku,quantity\nBULK-1,1\nBULK"2,2\n');
\echo :LAST_ERROR_SQLSTATE
SELECT pg_temp.bulk(E'sku,quantity\nBULK-1,"1"x\n');
\echo :LAST_ERROR_SQLSTATE
SELECT pg_temp.bulk(E'\n\nsku,qty\nBULK-1,1\n');
\echo :LAST_ERROR_SQLSTATE
SELECT pg_temp.bulk(E'sku,quantity,SKU\nBULK-1,1,2\n');
\echo :LAST_ERROR_SQLSTATE
SELECT pg_temp.bulk(E'quantity,mode\n1,set\n');
\echo :LAST_ERROR_SQLSTATE
SELECT pg_temp.bulk(E'\r\n\r\n');
\echo :LAST_ERROR_SQLSTATE
SELECT pg_temp.bulk('sku,quantity' || E'\n"' || repeat('x', 1100000) || E'",1\n');
\echo :LAST_ERROR_SQLSTATE
SELECT pg_temp.bulk(E'sku,quantity\nBULK-1,1\n', mode => 'add');
\echo :LAST_ERROR_SQLSTATE
SELECT inventory.inv_bulk_load(NULL);
\echo :LAST_ERROR_SQLSTATE

-- The server-file variant: the same loads, from a file the server reads
SELECT 'inv_bulk_' || pg_backend_pid() || '.csv' AS bulk_file \gset
SELECT current_setting('data_directory') || '/' || :'bulk_file' AS bulk_path \gset
SELECT lo_from_bytea(0, convert_to(E'\xEF\xBB\xBFsku,quantity\r\nBULK-1,8\r\nBULK-2,9\r\n', 'UTF8')) AS lo \gset
SELECT lo_export(:lo, :'bulk_path') AS exported;
SELECT batch_id AS file_batch, applied, rows_read, changed, unchanged, rejected
FROM inventory.inv_bulk_load_file(:'bulk_path', reason => 'from a file') \gset
SELECT :'applied' AS applied, :rows_read AS rows_read, :changed AS changed,
	   :unchanged AS unchanged, :rejected AS rejected,
	   source = :'bulk_path' AS source_is_path
FROM inventory.bulk_load WHERE batch_id = :file_batch;
SELECT * FROM pg_temp.bulk_ledger WHERE reason = 'from a file';
-- ... relative names are read from the data directory
SELECT applied, dry_run, changed, unchanged
FROM inventory.inv_bulk_load_file(:'bulk_file', dry_run => true);

-- Bytes that are not UTF-8 are refused with their line
SELECT lo_unlink(:lo);
SELECT lo_from_bytea(0, '\x736b752c7175616e746974790a42554c4b2d312c310a42554c4b2dff2c320a'::bytea) AS lo \gset
SELECT lo_export(:lo, :'bulk_path') AS exported;
SELECT * FROM inventory.inv_bulk_load_file(:'bulk_path');
\echo :LAST_ERROR_SQLSTATE
SELECT lo_unlink(:lo);
SELECT lo_from_bytea(0, '\x736b752c7175616e746974790a42554c4b2d312c310a42554c4b2d00312c320a'::bytea) AS lo \gset
SELECT lo_export(:lo, :'bulk_path') AS exported;
SELECT * FROM inventory.inv_bulk_load_file(:'bulk_path');
\echo :LAST_ERROR_SQLSTATE
SELECT lo_unlink(:lo);
SELECT * FROM inventory.inv_bulk_load_file('no_such_file.csv');
\echo :LAST_ERROR_SQLSTATE

-- Only roles allowed to read server files may use it
CREATE ROLE regress_bulk_clerk;
GRANT USAGE ON SCHEMA inventory TO regress_bulk_clerk;
GRANT EXECUTE ON FUNCTION inventory.inv_bulk_load_file(text, text, boolean, text)
	TO regress_bulk_clerk;
SET ROLE regress_bulk_clerk;
SELECT * FROM inventory.inv_bulk_load_file(:'bulk_path');
\echo :LAST_ERROR_SQLSTATE
RESET ROLE;
GRANT pg_read_server_files TO regress_bulk_clerk;
GRANT SELECT ON inventory.config, inventory.product, inventory.stock_slot
	TO regress_bulk_clerk;
SELECT lo_from_bytea(0, convert_to(E'sku,quantity\nBULK-1,8\n', 'UTF8')) AS lo \gset
SELECT lo_export(:lo, :'bulk_path') AS exported, lo_unlink(:lo) AS unlinked;
SET ROLE regress_bulk_clerk;
SELECT applied, dry_run, rows_read FROM inventory.inv_bulk_load_file(:'bulk_path', dry_run => true);
\echo :LAST_ERROR_SQLSTATE
RESET ROLE;

-- The large object variant: a client streams the file in (psql's
-- \lo_import), and the load reads it back a chunk at a time; a field of
-- 70,000 bytes spans the chunks
SELECT lo_from_bytea(4242001, convert_to(E'\xEF\xBB\xBFsku,quantity,mode,reason\r\n'
	|| 'BULK-1,30,set,' || repeat('r', 70000) || E'\r\nBULK-2,+1,delta,\r\n',
	'UTF8')) AS lo \gset
SELECT batch_id AS lo_batch, applied, rows_read, changed, unchanged, rejected
FROM inventory.inv_bulk_load_lo(:lo, reason => 'from a large object') \gset
SELECT :'applied' AS applied, :rows_read AS rows_read, :changed AS changed,
	   source AS source
FROM inventory.bulk_load WHERE batch_id = :lo_batch;
SELECT sku, kind, stock_level_after, length(reason) AS reason_length
FROM pg_temp.bulk_ledger WHERE batch_id = :lo_batch;
-- ... with the same report as the other variants
SELECT lo_unlink(:lo);
SELECT lo_from_bytea(4242002, convert_to(E'sku,quantity\nBULK-1,x\nNO-SUCH,1\n', 'UTF8')) AS lo \gset
SELECT applied, rejected, problems FROM inventory.inv_bulk_load_lo(:lo);
SELECT * FROM inventory.inv_bulk_load_lo(NULL);
\echo :LAST_ERROR_SQLSTATE
SELECT lo_unlink(:lo);
SELECT * FROM inventory.inv_bulk_load_lo(:lo);
\echo :LAST_ERROR_SQLSTATE

-- The calling role must be allowed to read the large object
SELECT lo_from_bytea(4242003, convert_to(E'sku,quantity\nBULK-1,31\n', 'UTF8')) AS lo \gset
GRANT EXECUTE ON FUNCTION inventory.inv_bulk_load_lo(oid, text, boolean, text)
	TO regress_bulk_clerk;
SET ROLE regress_bulk_clerk;
SELECT * FROM inventory.inv_bulk_load_lo(:lo);
\echo :LAST_ERROR_SQLSTATE
RESET ROLE;
GRANT SELECT ON LARGE OBJECT :lo TO regress_bulk_clerk;
SET ROLE regress_bulk_clerk;
SELECT applied, dry_run, rows_read, changed FROM inventory.inv_bulk_load_lo(:lo, dry_run => true);
RESET ROLE;
SELECT lo_unlink(:lo);

-- Two loads in one transaction, and one rolled back to a savepoint: the
-- work tables of one never get in the way of the next
BEGIN;
SELECT pg_temp.bulk(E'sku,quantity\nBULK-1,20\n');
SAVEPOINT s;
SELECT pg_temp.bulk(E'sku,quantity\nBULK-1,"21\n');
ROLLBACK TO s;
SELECT pg_temp.bulk(E'sku,quantity\nBULK-1,22\n');
COMMIT;
SELECT stock_level FROM pg_temp.bulk_stock WHERE sku = 'BULK-1';

-- A long load can be cancelled: the reading and the checks look for
-- interrupts, and nothing is left behind
SET statement_timeout = '300ms';
SELECT applied FROM inventory.inv_bulk_load('sku,quantity' || E'\n' ||
											repeat(E'NO-SUCH,1\n', 3000000));
\echo :LAST_ERROR_SQLSTATE
RESET statement_timeout;
SELECT pg_temp.bulk(E'sku,quantity\nBULK-1,22\n');

-- Spaces inside quotes belong to the SKU, which is compared exactly; around
-- a quoted name or number they are ignored
INSERT INTO inventory.product (sku, name) VALUES
	('SP', 'no spaces'), ('SP ', 'a trailing space'), (' SP', 'a leading space');
SELECT pg_temp.bulk(E'" SKU ",quantity\n"SP ", 5 \n" SP"," 6"\nSP,7\n');
SELECT '[' || sku || ']' AS sku, stock_level FROM pg_temp.bulk_stock
WHERE sku IN ('SP', 'SP ', ' SP') ORDER BY sku COLLATE "C";

-- Everything the loads did is in the ledger, and the books still balance
SELECT count(*) AS problems FROM inventory.inv_verify();

DROP OWNED BY regress_bulk_clerk;
DROP ROLE regress_bulk_clerk;
