-- What an installed version consists of, to compare an upgraded database
-- with a fresh install of the same version: the version, each function
-- with its privileges, rights and settings, each table and view with its
-- privileges, columns, constraints and triggers, and the tables pg_dump
-- keeps.  One line each, sorted.
SELECT 'version|' || e.extversion
FROM pg_catalog.pg_extension e WHERE e.extname = 'inventory'
UNION ALL
SELECT 'function|' || p.oid::regprocedure::text || '|' || COALESCE(p.proacl::text, '')
	   || '|' || p.prosecdef || '|' || COALESCE(p.proconfig::text, '')
	   || '|' || p.provolatile::text || '|' || pg_catalog.md5(p.prosrc)
FROM pg_catalog.pg_proc p WHERE p.pronamespace = 'inventory'::regnamespace
UNION ALL
SELECT 'relation|' || c.relname || '|' || c.relkind::text || '|' || COALESCE(c.relacl::text, '')
FROM pg_catalog.pg_class c WHERE c.relnamespace = 'inventory'::regnamespace
  AND c.relkind IN ('r', 'v', 'S', 'i')
UNION ALL
SELECT 'column|' || c.relname || '.' || a.attname || '|'
	   || pg_catalog.format_type(a.atttypid, a.atttypmod) || '|' || a.attnotnull
	   || '|' || COALESCE(pg_catalog.pg_get_expr(d.adbin, d.adrelid), '')
	   || '|' || COALESCE(a.attacl::text, '')
FROM pg_catalog.pg_attribute a
JOIN pg_catalog.pg_class c ON c.oid = a.attrelid
LEFT JOIN pg_catalog.pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
WHERE c.relnamespace = 'inventory'::regnamespace AND c.relkind IN ('r', 'v')
  AND a.attnum > 0 AND NOT a.attisdropped
UNION ALL
SELECT 'constraint|' || c.relname || '|' || pg_catalog.pg_get_constraintdef(k.oid)
FROM pg_catalog.pg_constraint k JOIN pg_catalog.pg_class c ON c.oid = k.conrelid
WHERE c.relnamespace = 'inventory'::regnamespace
UNION ALL
SELECT 'trigger|' || c.relname || '|' || pg_catalog.pg_get_triggerdef(t.oid)
FROM pg_catalog.pg_trigger t JOIN pg_catalog.pg_class c ON c.oid = t.tgrelid
WHERE c.relnamespace = 'inventory'::regnamespace AND NOT t.tgisinternal
UNION ALL
SELECT 'dumped|' || x.oid::regclass::text
FROM pg_catalog.pg_extension e, unnest(e.extconfig) AS x(oid)
WHERE e.extname = 'inventory'
ORDER BY 1;
