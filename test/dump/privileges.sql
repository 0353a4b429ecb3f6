-- The privileges and settings a restore must carry: every ACL of schema
-- inventory's objects (columns included), which functions run with raised
-- rights and with which settings, and the database's own inventory.*
-- settings.  One line each, sorted.
SELECT 'schema|' || n.nspname || '|' || COALESCE(n.nspacl::text, '')
FROM pg_catalog.pg_namespace n WHERE n.nspname = 'inventory'
UNION ALL
SELECT 'relation|' || c.relname || '|' || COALESCE(c.relacl::text, '')
FROM pg_catalog.pg_class c WHERE c.relnamespace = 'inventory'::regnamespace
UNION ALL
SELECT 'column|' || c.relname || '.' || a.attname || '|' || a.attacl::text
FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_class c ON c.oid = a.attrelid
WHERE c.relnamespace = 'inventory'::regnamespace AND a.attacl IS NOT NULL
UNION ALL
SELECT 'function|' || p.oid::regprocedure::text || '|' || COALESCE(p.proacl::text, '')
	   || '|' || p.prosecdef || '|' || COALESCE(p.proconfig::text, '')
FROM pg_catalog.pg_proc p WHERE p.pronamespace = 'inventory'::regnamespace
UNION ALL
SELECT 'database setting|' || s
FROM pg_catalog.pg_db_role_setting r, unnest(r.setconfig) AS s
WHERE r.setrole = 0
  AND r.setdatabase = (SELECT oid FROM pg_catalog.pg_database
					   WHERE datname = pg_catalog.current_database())
  AND s LIKE 'inventory.%'
ORDER BY 1;
