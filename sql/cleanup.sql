--
-- cleanup: the extension leaves nothing behind
--
DROP EXTENSION inventory;
SELECT count(*) AS schemas FROM pg_namespace WHERE nspname = 'inventory';
SELECT count(*) AS types FROM pg_type WHERE typname IN ('reservation_state', 'transition');
