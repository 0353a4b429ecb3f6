#!/usr/bin/env python3
#
# test/bulk_catalog/derive.py
#	Derive the bulk-load suite's files from the Magento sample catalogue.
#
# Usage: derive.py MAGENTO_CSV OUT_DIR
#
# Writes, without touching the source file:
#	products.tsv	sku, name: the catalogue to create (COPY text format)
#	stock.csv		a stock take as spreadsheets save it: UTF-8 BOM, CRLF,
#					header "SKU , Quantity,Mode,Reason", every product's qty
#					with its name as the reason (quoted when it needs it)
#	descr.csv		sku,quantity,reason with the HTML description as the
#					reason (quoted newlines and commas), plus one unknown SKU
#					after them; expected.txt gives that row's physical line
#	expected.txt	"products N", "nonzero N", "bad_line N", "bad_sku S"

import csv
import io
import os
import sys

src, out = sys.argv[1], sys.argv[2]
with open(src, newline='', encoding='utf-8') as f:
    rows = list(csv.DictReader(f))

with open(os.path.join(out, 'products.tsv'), 'w', encoding='utf-8') as f:
    for r in rows:
        name = r['name'].replace('\\', '\\\\').replace('\t', ' ').replace('\n', ' ')
        f.write(f"{r['sku']}\t{name}\n")

buf = io.StringIO(newline='')
w = csv.writer(buf, lineterminator='\r\n')
w.writerow(['SKU ', ' Quantity', 'Mode', 'Reason'])
for r in rows:
    w.writerow([r['sku'], int(float(r['qty'] or 0)), 'set', r['name']])
with open(os.path.join(out, 'stock.csv'), 'wb') as f:
    f.write(b'\xef\xbb\xbf' + buf.getvalue().encode('utf-8'))

buf = io.StringIO(newline='')
w = csv.writer(buf, lineterminator='\n')
w.writerow(['sku', 'quantity', 'reason'])
for r in rows:
    w.writerow([r['sku'], 5, r['description']])
text = buf.getvalue()
bad_line = text.count('\n') + 1
bad_sku = 'NOT-IN-MAGENTO-0001'
text += f'{bad_sku},1,"last row\nof the file"\n'
with open(os.path.join(out, 'descr.csv'), 'w', encoding='utf-8', newline='') as f:
    f.write(text)

nonzero = sum(1 for r in rows if int(float(r['qty'] or 0)) != 0)
with open(os.path.join(out, 'expected.txt'), 'w') as f:
    f.write(f'products {len(rows)}\nnonzero {nonzero}\n'
            f'bad_line {bad_line}\nbad_sku {bad_sku}\n')
