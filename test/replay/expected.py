#!/usr/bin/env python3
"""
expected.py - what the order-line replay must end with, computed without
PostgreSQL.

Reads the raw Online Retail CSV and simulates the replay rules of
test/replay/README.md sequentially, with nothing but the standard library.
It shares no code and no query with the SQL driver, so it is an independent
answer to compare the database against.

Usage: expected.py CSV_FILE OUT_DIR

Writes into OUT_DIR (tab-separated, one row per line, sorted bytewise):
  catalogue.tsv     sku, opening stock
  returned.tsv      sku, units that came back through returns
  supply.tsv        sku, opening stock + returned units (what stock_level +
                    committed must come to under any interleaving)
  committed.tsv     sku, units committed by accepted orders
  final.tsv         sku, final stock level
  accepted.txt      invoice numbers whose order was accepted
  rejected.txt      invoice numbers whose order was short
  orders.tsv        invoice, sku, quantity of every order line, accepted or
                    not (lines naming one sku summed)
  reservations.tsv  the rows of orders.tsv whose invoice was accepted
and prints the counts as key=value lines on stdout.
"""

import csv
import os
import re
import sys

GOODS = re.compile(r'[0-9]{5}[A-Za-z]*')


def goods_sku(stock_code):
    """Return the SKU for a StockCode that names goods, else None."""
    if GOODS.fullmatch(stock_code):
        return stock_code.upper()
    return None


def read_invoices(path):
    """
    Return (invoices, total_positive, lines): invoices is a list of
    (invoice_no, [(sku, quantity), ...]) in order of first appearance, holding
    only goods lines in file order; total_positive maps every goods SKU to
    its summed positive quantity (0 for SKUs seen only in returns); lines is
    the number of CSV records read.
    """
    invoices = []
    by_no = {}
    total_positive = {}
    lines = 0

    with open(path, newline='', encoding='utf-8') as f:
        for row in csv.DictReader(f):
            lines += 1
            invoice_no = row['InvoiceNo']
            if invoice_no not in by_no:
                by_no[invoice_no] = []
                invoices.append((invoice_no, by_no[invoice_no]))

            sku = goods_sku(row['StockCode'])
            if sku is None:
                continue
            quantity = int(row['Quantity'])
            by_no[invoice_no].append((sku, quantity))
            total_positive.setdefault(sku, 0)
            if quantity > 0:
                total_positive[sku] += quantity

    return invoices, total_positive, lines


def simulate(invoices, total_positive):
    """Replay the invoices one after the other; return the outcome."""
    opening = {sku: (6 * total) // 10 for sku, total in total_positive.items()}
    stock = dict(opening)
    committed = {sku: 0 for sku in opening}
    returned = {sku: 0 for sku in opening}
    accepted = []
    rejected = []
    orders = []
    reservations = []
    return_only = 0
    no_goods = 0

    for invoice_no, lines in invoices:
        if not lines:
            no_goods += 1
            continue

        # Returns first, each line on its own, whatever happens to the order.
        for sku, quantity in lines:
            if quantity < 0:
                stock[sku] += -quantity
                returned[sku] += -quantity

        # The positive lines form one order, summed per SKU, all or nothing.
        order = {}
        for sku, quantity in lines:
            if quantity > 0:
                order[sku] = order.get(sku, 0) + quantity
        if not order:
            return_only += 1
            continue
        orders.extend((invoice_no, sku, q) for sku, q in order.items())
        if any(stock[sku] < quantity for sku, quantity in order.items()):
            rejected.append(invoice_no)
            continue
        for sku, quantity in order.items():
            stock[sku] -= quantity
            committed[sku] += quantity
            reservations.append((invoice_no, sku, quantity))
        accepted.append(invoice_no)

    return {
        'opening': opening,
        'stock': stock,
        'committed': committed,
        'returned': returned,
        'accepted': accepted,
        'rejected': rejected,
        'orders': orders,
        'reservations': reservations,
        'return_only': return_only,
        'no_goods': no_goods,
    }


def write_rows(path, rows):
    """Write rows (tuples) as sorted tab-separated lines."""
    lines = sorted('\t'.join(str(v) for v in row) for row in rows)
    with open(path, 'w', encoding='utf-8') as f:
        for line in lines:
            f.write(line + '\n')


def main():
    if len(sys.argv) != 3:
        sys.exit('usage: expected.py CSV_FILE OUT_DIR')
    csv_path, out_dir = sys.argv[1], sys.argv[2]
    os.makedirs(out_dir, exist_ok=True)

    invoices, total_positive, lines = read_invoices(csv_path)
    r = simulate(invoices, total_positive)

    def out(name):
        return os.path.join(out_dir, name)

    write_rows(out('catalogue.tsv'), r['opening'].items())
    write_rows(out('returned.tsv'), r['returned'].items())
    write_rows(out('supply.tsv'),
               [(sku, r['opening'][sku] + r['returned'][sku])
                for sku in r['opening']])
    write_rows(out('committed.tsv'), r['committed'].items())
    write_rows(out('final.tsv'), r['stock'].items())
    write_rows(out('accepted.txt'), [(i,) for i in r['accepted']])
    write_rows(out('rejected.txt'), [(i,) for i in r['rejected']])
    write_rows(out('orders.tsv'), r['orders'])
    write_rows(out('reservations.tsv'), r['reservations'])

    print('lines=%d' % lines)
    print('invoices=%d' % len(invoices))
    print('products=%d' % len(r['opening']))
    print('opening_units=%d' % sum(r['opening'].values()))
    print('accepted=%d' % len(r['accepted']))
    print('rejected=%d' % len(r['rejected']))
    print('return_only=%d' % r['return_only'])
    print('no_goods=%d' % r['no_goods'])
    print('returned_units=%d' % sum(r['returned'].values()))
    print('committed_units=%d' % sum(r['committed'].values()))
    print('final_units=%d' % sum(r['stock'].values()))


if __name__ == '__main__':
    main()
