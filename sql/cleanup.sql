--
-- cleanup: the extension leaves nothing behind
--
DROP EXTENSION inventory;
SELECT count(*) AS schemas FROM pg_namespace WHERE nspname = 'inventory';
SELECT count(*) AS types FROM pg_type WHERE typname IN ('reservation_state', 'transition');
-- The roles are the cluster's, kept for other tenant databases; this
-- database keeps no grant or ownership naming them
SELECT count(*) AS roles_kept FROM pg_roles WHERE rolname IN
	('inventory_admin', 'inventory_service', 'inventory_reader',
	 'inventory_retailer', 'inventory_proxy', 'inventory_alerts');
SELECT count(*) AS grants_left FROM pg_shdepend d JOIN pg_roles r ON r.oid = d.refobjid
WHERE d.dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
  AND r.rolname LIKE 'inventory\_%';
SELECT count(*) AS init_privs_left FROM pg_init_privs i
WHERE i.privtype = 'e' AND NOT EXISTS (SELECT FROM pg_class c WHERE c.oid = i.objoid)
  AND NOT EXISTS (SELECT FROM pg_proc p WHERE p.oid = i.objoid)
  AND NOT EXISTS (SELECT FROM pg_namespace n WHERE n.oid = i.objoid);
