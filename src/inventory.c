/*-------------------------------------------------------------------------
 *
 * inventory.c
 *		Module entry point, settings, and the tenant's supplier id.
 *
 * A tenant database belongs to one supplier.  Its id lives in the one-row
 * table inventory.config; every function that touches stock needs it, so it
 * is kept in a backend-local cache.  Where the statement trigger
 * config_changed (1.1) is in place and fires always, every change of the
 * table, committed or rolled back, invalidates the table's relation cache
 * entry, and the cache lasts until that invalidation arrives: another
 * session's change is seen from this backend's next transaction on (the
 * id can change only while no product exists, so nothing depends on the
 * old one).  Without the trigger (a database still at 1.0, or the trigger
 * disabled), the id is read once per (sub)transaction as before.
 *
 * Copyright (c) 2026, the inventory authors
 *
 * IDENTIFICATION
 *		src/inventory.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <limits.h>

#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_trigger.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "storage/proc.h"
#include "utils/guc.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/relcache.h"

#include "expiry_worker.h"
#include "inventory.h"
#include "lock_service.h"
#include "redis_sentinel.h"
#include "order_lock.h"

PG_MODULE_MAGIC;

/* GUC variables */
int			inv_reservation_timeout = 900;
char	   *inv_actor = NULL;
char	   *inv_reason = NULL;
char	   *inv_redis_host = NULL;
int			inv_redis_port = 6379;
char	   *inv_redis_password_file = NULL;
int			inv_redis_database = 0;
int			inv_redis_connect_timeout = 1000;
int			inv_redis_command_timeout = 1000;
int			inv_lock_ttl = 10000;
int			inv_lock_wait_timeout = 2000;
int			inv_lock_max_hold = 900;
int			inv_lock_scope = INV_SCOPE_NONE;
int			inv_lock_failure_policy = INV_FAILURE_REFUSE;
int			inv_max_locks = 4096;
char	   *inv_expiry_databases = NULL;
int			inv_expiry_interval = 60;

static const struct config_enum_entry inv_lock_scope_options[] = {
	{"none", INV_SCOPE_NONE, false},
	{"reserve", INV_SCOPE_RESERVE, false},
	{"order", INV_SCOPE_ORDER, false},
	{NULL, 0, false}
};

static const struct config_enum_entry inv_lock_failure_options[] = {
	{"refuse", INV_FAILURE_REFUSE, false},
	{"fallback", INV_FAILURE_FALLBACK, false},
	{NULL, 0, false}
};

/*
 * Supplier id cache: valid within the (sub)transaction that filled it, so
 * that a rolled-back inv_configure() cannot leave a value behind.
 */
static int64 cached_supplier_id = 0;
static LocalTransactionId cached_supplier_lxid = InvalidLocalTransactionId;
static SubTransactionId cached_supplier_subxid = InvalidSubTransactionId;

/*
 * ... or, with the config_changed trigger in place, until the config
 * table's relation cache entry is invalidated (see the file header).
 */
static bool cached_supplier_lasting = false;
static Oid	cached_config_relid = InvalidOid;
static uint64 config_invalidations = 0;
static bool config_callback_set = false;

void		_PG_init(void);
static bool inv_check_redis_host(char **newval, void **extra, GucSource source);
static void inv_config_forget(Datum arg, Oid relid);
static bool inv_config_watched(void);
static void inv_define_lock_settings(void);

PG_FUNCTION_INFO_V1(inv_supplier_id);
PG_FUNCTION_INFO_V1(inv_configure);
PG_FUNCTION_INFO_V1(inv_config_changed);

/*
 * Module load callback: define the settings, and when the library is
 * preloaded, set up the lock service and the expiry workers.
 */
void
_PG_init(void)
{
	DefineCustomIntVariable("inventory.reservation_timeout",
							"Time a reservation holds stock before it expires.",
							"A reservation not confirmed or released within "
							"this time is released by inv_expire().",
							&inv_reservation_timeout,
							900,
							1,
							INT_MAX / 1000,
							PGC_USERSET,
							GUC_UNIT_S,
							NULL,
							NULL,
							NULL);

	DefineCustomStringVariable("inventory.actor",
							   "Application user recorded in the ledger for the changes that follow.",
							   "Set it, usually with SET LOCAL, to the person "
							   "or service on whose behalf the database user acts.",
							   &inv_actor,
							   "",
							   PGC_USERSET,
							   0,
							   NULL,
							   NULL,
							   NULL);

	DefineCustomStringVariable("inventory.reason",
							   "Reason recorded in the ledger for direct changes to stock rows.",
							   "Functions that take a reason argument record "
							   "that instead.",
							   &inv_reason,
							   "",
							   PGC_USERSET,
							   0,
							   NULL,
							   NULL,
							   NULL);

	inv_define_lock_settings();
	inv_sentinel_define_settings();
	inv_order_lock_init();
	inv_extension_drop_init();

	/*
	 * Shared memory and workers exist only when loaded at server start, and
	 * so do the settings that size or name them.
	 */
	if (process_shared_preload_libraries_in_progress)
	{
		DefineCustomIntVariable("inventory.max_locks",
								"Number of cross-node locks this node can track at once.",
								"Also the number of releases that can wait for the lock service.",
								&inv_max_locks,
								4096,
								16,
								1000000,
								PGC_POSTMASTER,
								0,
								NULL,
								NULL,
								NULL);

		DefineCustomStringVariable("inventory.expiry_databases",
								   "Databases whose lapsed reservations a background worker expires.",
								   "A comma-separated list; one worker per database.",
								   &inv_expiry_databases,
								   "",
								   PGC_POSTMASTER,
								   GUC_LIST_INPUT,
								   NULL,
								   NULL,
								   NULL);

		inv_lock_shmem_init();
		inv_sentinel_shmem_init();
		inv_lock_worker_register();
		inv_expiry_workers_register();
	}

	MarkGUCPrefixReserved("inventory");
}

/*
 * inv_define_lock_settings
 *		Define the settings of the cross-node order locks.  The connection
 *		settings are read by the lock service worker, and reloadable.
 */
static void
inv_define_lock_settings(void)
{
	DefineCustomStringVariable("inventory.redis_host",
							   "Redis server holding the cross-node order locks.",
							   "A host name or address, or the path of a Unix socket.",
							   &inv_redis_host,
							   "127.0.0.1",
							   PGC_SIGHUP,
							   0,
							   inv_check_redis_host,
							   NULL,
							   NULL);

	DefineCustomIntVariable("inventory.redis_port",
							"TCP port of the Redis server.",
							NULL,
							&inv_redis_port,
							6379,
							1,
							65535,
							PGC_SIGHUP,
							0,
							NULL,
							NULL,
							NULL);

	DefineCustomStringVariable("inventory.redis_password_file",
							   "File whose first line is the password the lock service gives Redis.",
							   "The password itself is never a setting: the server logs new setting values on reload.",
							   &inv_redis_password_file,
							   "",
							   PGC_SIGHUP,
							   GUC_SUPERUSER_ONLY,
							   NULL,
							   NULL,
							   NULL);

	DefineCustomIntVariable("inventory.redis_database",
							"Redis database number holding the locks.",
							NULL,
							&inv_redis_database,
							0,
							0,
							1023,
							PGC_SIGHUP,
							0,
							NULL,
							NULL,
							NULL);

	DefineCustomIntVariable("inventory.redis_connect_timeout",
							"Time allowed to connect to Redis.",
							NULL,
							&inv_redis_connect_timeout,
							1000,
							10,
							60000,
							PGC_SIGHUP,
							GUC_UNIT_MS,
							NULL,
							NULL,
							NULL);

	DefineCustomIntVariable("inventory.redis_command_timeout",
							"Time allowed for Redis to answer a batch of lock commands.",
							NULL,
							&inv_redis_command_timeout,
							1000,
							10,
							60000,
							PGC_SIGHUP,
							GUC_UNIT_MS,
							NULL,
							NULL,
							NULL);

	DefineCustomIntVariable("inventory.lock_ttl",
							"Time-to-live of an order lock in Redis.",
							"A lock not renewed or released within this time lapses.",
							&inv_lock_ttl,
							10000,
							100,
							3600000,
							PGC_SUSET,
							GUC_UNIT_MS,
							NULL,
							NULL,
							NULL);

	DefineCustomIntVariable("inventory.lock_wait_timeout",
							"Time an order waits for a lock held by another order.",
							NULL,
							&inv_lock_wait_timeout,
							2000,
							0,
							3600000,
							PGC_USERSET,
							GUC_UNIT_MS,
							NULL,
							NULL,
							NULL);

	DefineCustomIntVariable("inventory.lock_max_hold",
							"Longest time an order-scope lock is kept alive.",
							"Past it the lock lapses; the reservation still holds its units.",
							&inv_lock_max_hold,
							900,
							1,
							86400,
							PGC_SIGHUP,
							GUC_UNIT_S,
							NULL,
							NULL,
							NULL);

	DefineCustomEnumVariable("inventory.lock_scope",
							 "How long a reservation holds the cross-node lock on its product.",
							 "none: no cross-node lock; reserve: while the reservation is made; "
							 "order: until the order is confirmed, released or expired.",
							 &inv_lock_scope,
							 INV_SCOPE_NONE,
							 inv_lock_scope_options,
							 PGC_SUSET,
							 0,
							 NULL,
							 NULL,
							 NULL);

	DefineCustomEnumVariable("inventory.lock_failure_policy",
							 "What an order does when Redis cannot be reached.",
							 "refuse: fail at once; fallback: go on with row locks only, with a warning.",
							 &inv_lock_failure_policy,
							 INV_FAILURE_REFUSE,
							 inv_lock_failure_options,
							 PGC_SUSET,
							 0,
							 NULL,
							 NULL,
							 NULL);

	DefineCustomIntVariable("inventory.expiry_interval",
							"Time between two expiry sweeps of the expiry workers.",
							NULL,
							&inv_expiry_interval,
							60,
							1,
							86400,
							PGC_SIGHUP,
							GUC_UNIT_S,
							NULL,
							NULL,
							NULL);
}

/*
 * inv_check_redis_host
 *		GUC check hook: a host name must be short enough to use.
 */
static bool
inv_check_redis_host(char **newval, void **extra, GucSource source)
{
	if (*newval == NULL || (*newval)[0] == '\0')
	{
		GUC_check_errdetail("The Redis host must not be empty.");
		return false;
	}
	if (strlen(*newval) >= 256)
	{
		GUC_check_errdetail("The Redis host must be shorter than 256 bytes.");
		return false;
	}
	return true;
}

/*
 * inv_get_supplier_id
 *		Return the supplier id of this tenant database.
 *
 * Raises IV009 if the extension has not been configured yet.  The caller
 * must be connected to SPI.
 */
int64
inv_get_supplier_id(void)
{
	static InvPlan read_config = {
		"SELECT supplier_id FROM inventory.config",
		0, {0}, NULL
	};
	bool		isnull;
	uint64		invalidations;

	/* Until the table changes, or once per (sub)transaction */
	if (cached_supplier_id > 0 &&
		(cached_supplier_lasting ||
		 (cached_supplier_lxid == MyProc->lxid &&
		  cached_supplier_subxid == GetCurrentSubTransactionId())))
		return cached_supplier_id;

	if (!config_callback_set)
	{
		CacheRegisterRelcacheCallback(inv_config_forget, (Datum) 0);
		config_callback_set = true;
	}
	invalidations = config_invalidations;
	inv_plan_run(&read_config, NULL, NULL, true, 1);
	if (SPI_processed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INV_NOT_CONFIGURED),
				 errmsg("inventory is not configured for this database"),
				 errdetail("No supplier id has been set."),
				 errhint("Call inventory.inv_configure(supplier_id) once, as the extension's owner or a member of inventory_admin.")));

	cached_supplier_id = inv_spi_int64(0, 1, &isnull);
	cached_supplier_lxid = MyProc->lxid;
	cached_supplier_subxid = GetCurrentSubTransactionId();

	/* An invalidation that came in during the read may concern it */
	cached_supplier_lasting = inv_config_watched() &&
		invalidations == config_invalidations;
	return cached_supplier_id;
}

/*
 * inv_config_forget
 *		Relation cache callback: the config table (or every table) changed,
 *		so the supplier id must be read again.
 */
static void
inv_config_forget(Datum arg, Oid relid)
{
	config_invalidations++;
	if (relid == InvalidOid || relid == cached_config_relid)
	{
		cached_supplier_lasting = false;
		cached_supplier_id = 0;
	}
}

/*
 * inv_config_watched
 *		Whether every change of inventory.config invalidates it: the
 *		config_changed trigger exists and fires always.  Notes the table's
 *		OID for inv_config_forget.  The caller has just read the table, so it
 *		holds a lock on it.
 */
static bool
inv_config_watched(void)
{
	Oid			nsp = get_namespace_oid("inventory", true);
	Relation	rel;
	TriggerDesc *trigdesc;
	bool		watched = false;
	int			i;

	cached_config_relid = OidIsValid(nsp) ?
		get_relname_relid("config", nsp) : InvalidOid;
	if (!OidIsValid(cached_config_relid))
		return false;
	rel = RelationIdGetRelation(cached_config_relid);
	if (!RelationIsValid(rel))
		return false;

	/* A copy: catalog look-ups may rebuild the relation's descriptor */
	trigdesc = CopyTriggerDesc(rel->trigdesc);
	RelationClose(rel);
	for (i = 0; trigdesc != NULL && i < trigdesc->numtriggers; i++)
	{
		Trigger    *trigger = &trigdesc->triggers[i];
		int16		events = TRIGGER_TYPE_INSERT | TRIGGER_TYPE_UPDATE |
			TRIGGER_TYPE_DELETE | TRIGGER_TYPE_TRUNCATE;
		char	   *name = get_func_name(trigger->tgfoid);

		if (name != NULL && strcmp(name, "inv_config_changed") == 0 &&
			get_func_namespace(trigger->tgfoid) == nsp &&
			trigger->tgenabled == TRIGGER_FIRES_ALWAYS &&
			(trigger->tgtype & events) == events)
			watched = true;
	}
	if (trigdesc != NULL)
		FreeTriggerDesc(trigdesc);
	return watched;
}

/*
 * inv_config_changed()
 *		Statement trigger on inventory.config: have every backend read the
 *		supplier id again, at commit (or, in this backend, at rollback too).
 */
Datum
inv_config_changed(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("inv_config_changed() was not called by the trigger manager")));
	CacheInvalidateRelcache(trigdata->tg_relation);
	return PointerGetDatum(NULL);
}

/*
 * inv_supplier_id()
 *		SQL-callable form of inv_get_supplier_id, used as the default of the
 *		supplier_id columns.
 */
Datum
inv_supplier_id(PG_FUNCTION_ARGS)
{
	int64		supplier_id;

	SPI_connect();
	supplier_id = inv_get_supplier_id();
	SPI_finish();

	PG_RETURN_INT64(supplier_id);
}

/*
 * inv_configure(supplier_id)
 *		Set the supplier this database belongs to and return it.
 *
 * Setting the same id again is a no-op.  A different id is accepted only
 * while no product exists, since every row and every lock key carries it.
 */
Datum
inv_configure(PG_FUNCTION_ARGS)
{
	static InvPlan upsert_config = {
		"INSERT INTO inventory.config AS c (supplier_id) VALUES ($1) "
		"ON CONFLICT (singleton) DO UPDATE "
		"SET supplier_id = EXCLUDED.supplier_id, "
		"configured_at = pg_catalog.now() "
		"WHERE c.supplier_id <> EXCLUDED.supplier_id "
		"RETURNING supplier_id",
		1, {INT8OID}, NULL
	};
	static InvPlan any_product = {
		"SELECT supplier_id FROM inventory.product LIMIT 1",
		0, {0}, NULL
	};
	int64		supplier_id;
	Datum		values[1];

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("supplier id must not be null")));
	supplier_id = PG_GETARG_INT64(0);
	if (supplier_id <= 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("supplier id must be a positive number"),
				 errdetail("The value given was " INT64_FORMAT ".", supplier_id)));

	SPI_connect();

	/*
	 * Refuse a change of supplier here with a clear message; the trigger on
	 * inventory.config enforces the same rule for direct updates.
	 */
	inv_plan_run(&any_product, NULL, NULL, false, 1);
	if (SPI_processed > 0)
	{
		bool		isnull;
		int64		existing = inv_spi_int64(0, 1, &isnull);

		if (existing != supplier_id)
			ereport(ERROR,
					(errcode(ERRCODE_INV_ALREADY_CONFIGURED),
					 errmsg("inventory is already configured for supplier " INT64_FORMAT,
							existing),
					 errdetail("Products of supplier " INT64_FORMAT " exist in this database.",
							   existing),
					 errhint("A tenant database holds the stock of one supplier.")));
	}

	values[0] = Int64GetDatum(supplier_id);
	inv_plan_run(&upsert_config, values, NULL, false, 0);
	cached_supplier_id = supplier_id;
	cached_supplier_lxid = MyProc->lxid;
	cached_supplier_subxid = GetCurrentSubTransactionId();
	cached_supplier_lasting = false;	/* until it is read back */

	SPI_finish();

	PG_RETURN_INT64(supplier_id);
}
