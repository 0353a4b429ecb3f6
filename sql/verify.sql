--
-- verify: finding discrepancies, and repair
--
SELECT * FROM inventory.inv_verify();

-- A direct change of reserved is in the ledger but disagrees with the
-- reservations
UPDATE inventory.stock_slot SET reserved = reserved + 2 WHERE product_id = 2;
UPDATE inventory.stock_slot SET committed = committed + 1 WHERE product_id = 1;
SELECT * FROM inventory.inv_verify();

-- Repair sets them back, through the ledger
SELECT * FROM inventory.inv_repair('regression test');
SELECT kind, product_id, reserved_before, reserved_after, committed_before,
	   committed_after, reason
FROM inventory.ledger ORDER BY ledger_id DESC LIMIT 2;
SELECT * FROM inventory.inv_verify();
SELECT * FROM inventory.inv_repair();

-- A change that bypassed the ledger shows as a ledger discrepancy
ALTER TABLE inventory.stock_slot DISABLE TRIGGER stock_slot_ledger;
UPDATE inventory.stock_slot SET stock_level = stock_level + 3 WHERE product_id = 2;
ALTER TABLE inventory.stock_slot ENABLE TRIGGER stock_slot_ledger;
SELECT * FROM inventory.inv_verify();

-- Repair does not rewrite history; putting the stock back clears it
SELECT * FROM inventory.inv_repair();
ALTER TABLE inventory.stock_slot DISABLE TRIGGER stock_slot_ledger;
UPDATE inventory.stock_slot SET stock_level = stock_level - 3 WHERE product_id = 2;
ALTER TABLE inventory.stock_slot ENABLE TRIGGER stock_slot_ledger;
SELECT * FROM inventory.inv_verify();

-- Open reservations beyond the stock level cannot be repaired by recount
SELECT reservation_id AS held FROM inventory.inv_reserve('V-1', 3, 1) \gset
ALTER TABLE inventory.stock_slot DISABLE TRIGGER stock_slot_ledger;
UPDATE inventory.stock_slot SET reserved = 0, stock_level = 0 WHERE product_id = 3;
ALTER TABLE inventory.stock_slot ENABLE TRIGGER stock_slot_ledger;
SELECT check_name, product_id, expected, actual FROM inventory.inv_verify();
SELECT * FROM inventory.inv_repair();
ALTER TABLE inventory.stock_slot DISABLE TRIGGER stock_slot_ledger;
UPDATE inventory.stock_slot s SET stock_level = l.stock_level, reserved = l.reserved
FROM (SELECT product_id,
			 sum(stock_level_after - stock_level_before) AS stock_level,
			 sum(reserved_after - reserved_before) AS reserved
	  FROM inventory.ledger WHERE product_id = 3 GROUP BY product_id) l
WHERE s.product_id = l.product_id;
ALTER TABLE inventory.stock_slot ENABLE TRIGGER stock_slot_ledger;
SELECT state FROM inventory.inv_release(:held);
SELECT * FROM inventory.inv_verify();
