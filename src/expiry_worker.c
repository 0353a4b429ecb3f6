/*-------------------------------------------------------------------------
 *
 * expiry_worker.c
 *		Background workers that give abandoned reservations' stock back.
 *
 * A reservation that is neither confirmed nor released by its expiry time
 * still holds its units until inv_expire() runs.  One worker per database
 * named in inventory.expiry_databases runs it every
 * inventory.expiry_interval, each sweep in a transaction of its own.  A
 * database without the extension, or not yet configured, is skipped until
 * it has both.  Once a worker has swept its database, the extension going
 * away (DROP EXTENSION) ends the worker for good: it exits with status 0,
 * so the postmaster does not start it again, and nothing of the extension
 * keeps running for that database.
 *
 * Copyright (c) 2026, the inventory authors
 *
 * IDENTIFICATION
 *		src/expiry_worker.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "tcop/tcopprot.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/varlena.h"

#include "expiry_worker.h"

PGDLLEXPORT void inv_expiry_worker_main(Datum main_arg);

/*
 * inv_expiry_workers_register
 *		Register one expiry worker per database in
 *		inventory.expiry_databases.  Called from _PG_init while
 *		shared_preload_libraries is processed.
 */
void
inv_expiry_workers_register(void)
{
	char	   *names;
	List	   *databases;
	ListCell   *cell;

	names = pstrdup(inv_expiry_databases);
	if (!SplitIdentifierString(names, ',', &databases))
	{
		ereport(LOG,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid list syntax in \"inventory.expiry_databases\"; no expiry worker started")));
		return;
	}

	foreach(cell, databases)
	{
		const char *dbname = (const char *) lfirst(cell);
		BackgroundWorker worker;

		memset(&worker, 0, sizeof(worker));
		worker.bgw_flags = BGWORKER_SHMEM_ACCESS |
			BGWORKER_BACKEND_DATABASE_CONNECTION;
		worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
		worker.bgw_restart_time = 10;
		strlcpy(worker.bgw_library_name, "inventory", BGW_MAXLEN);
		strlcpy(worker.bgw_function_name, "inv_expiry_worker_main", BGW_MAXLEN);
		snprintf(worker.bgw_name, BGW_MAXLEN, "inventory expiry for %s", dbname);
		strlcpy(worker.bgw_type, "inventory expiry", BGW_MAXLEN);
		strlcpy(worker.bgw_extra, dbname, BGW_EXTRALEN);
		RegisterBackgroundWorker(&worker);
	}
}

/*
 * inv_expiry_sweep
 *		One sweep in a transaction of its own; returns how many
 *		reservations expired, or -1 when the database is not set up.
 */
static int64
inv_expiry_sweep(void)
{
	int64		expired = -1;
	bool		isnull;

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	SPI_connect();
	PushActiveSnapshot(GetTransactionSnapshot());
	pgstat_report_activity(STATE_RUNNING, "SELECT inventory.inv_expire()");

	/* Only a database with the extension, configured, can be swept */
	if (SPI_execute("SELECT pg_catalog.to_regclass('inventory.config') IS NOT NULL"
					" AND EXISTS (SELECT FROM pg_catalog.pg_extension"
					"  WHERE extname = 'inventory')",
					true, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not look for the inventory extension");
	if (DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0],
								   SPI_tuptable->tupdesc, 1, &isnull)) &&
		SPI_execute("SELECT FROM inventory.config", true, 1) == SPI_OK_SELECT &&
		SPI_processed == 1)
	{
		if (SPI_execute("SELECT inventory.inv_expire()", false, 1) != SPI_OK_SELECT)
			elog(ERROR, "could not run inventory.inv_expire()");
		expired = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0],
											  SPI_tuptable->tupdesc, 1,
											  &isnull));
	}

	SPI_finish();
	PopActiveSnapshot();
	CommitTransactionCommand();
	pgstat_report_stat(false);
	pgstat_report_activity(STATE_IDLE, NULL);
	return expired;
}

/*
 * inv_expiry_worker_main
 *		Entry point of an expiry worker; bgw_extra names its database.
 */
void
inv_expiry_worker_main(Datum main_arg)
{
	char		dbname[BGW_EXTRALEN];
	bool		reported_unset = false;
	bool		swept = false;

	strlcpy(dbname, MyBgworkerEntry->bgw_extra, BGW_EXTRALEN);

	/* Reload on SIGHUP; a SIGTERM ends the worker between statements */
	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();

	BackgroundWorkerInitializeConnection(dbname, NULL, 0);
	pgstat_report_appname("inventory expiry");
	ereport(LOG,
			(errmsg("inventory expiry worker started for database \"%s\"",
					dbname)));

	for (;;)
	{
		int64		expired;

		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}

		/* Sweep, and say so only when it matters */
		expired = inv_expiry_sweep();
		if (expired < 0 && swept)
		{
			ereport(LOG,
					(errmsg("inventory expiry worker for database \"%s\" is stopping because the extension was dropped",
							dbname),
					 errhint("Restart the server to sweep the database again once the extension is created anew, or remove it from inventory.expiry_databases.")));
			proc_exit(0);
		}
		if (expired < 0 && !reported_unset)
		{
			ereport(LOG,
					(errmsg("inventory expiry worker is waiting for the extension to be installed and configured in database \"%s\"",
							dbname)));
			reported_unset = true;
		}
		else if (expired >= 0)
		{
			reported_unset = false;
			swept = true;
			ereport(DEBUG1,
					(errmsg_internal("inventory expiry worker expired " INT64_FORMAT " reservations in \"%s\"",
									 expired, dbname)));
		}

		(void) WaitLatch(MyLatch,
						 WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 inv_expiry_interval * 1000L, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
	}
}
