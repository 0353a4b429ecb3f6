/*-------------------------------------------------------------------------
 *
 * extension_drop.c
 *		Give back the cross-node locks of a database whose extension (or
 *		which itself) is dropped.
 *
 * An order-scope lock belongs to its reservation and is renewed by the lock
 * service worker until the reservation ends.  When DROP EXTENSION removes
 * the reservations, nothing would ever end them, and the worker would go on
 * renewing their locks in Redis until inventory.lock_max_hold.  So an object
 * access hook notes the drop of the extension (or of a whole database), and
 * once that transaction has committed the locks the worker holds for this
 * database are queued for release and no longer renewed.  A drop that is
 * rolled back, including one undone by ROLLBACK TO SAVEPOINT, releases
 * nothing: at pre-commit the extension must really be gone.
 *
 * The fencing counters beside the lock keys stay in Redis on purpose: they
 * are shared by every node and service that follows the protocol, and
 * removing one would let a stalled holder's old fencing number pass again.
 *
 * Copyright (c) 2026, the inventory authors
 *
 * IDENTIFICATION
 *		src/extension_drop.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/objectaccess.h"
#include "catalog/pg_database.h"
#include "catalog/pg_extension.h"
#include "commands/extension.h"
#include "miscadmin.h"
#include "storage/lwlock.h"

#include "inventory.h"
#include "lock_service.h"

static object_access_hook_type prev_object_access_hook = NULL;
static bool drop_hook_installed = false;

/* Drops seen in the current transaction */
static bool extension_drop_seen = false;
static Oid	database_dropped = InvalidOid;

/* Set at pre-commit: the database whose locks go back after the commit */
static Oid	release_after_commit = InvalidOid;

/*
 * inv_release_database_locks
 *		Queue the release of every lock the worker holds for database
 *		dboid, and stop renewing them.  Never raises an error: it runs
 *		after the commit.  Takes the LWLock once per lock, since queueing a
 *		release takes it too.
 */
static void
inv_release_database_locks(Oid dboid)
{
	int			next = 0;

	for (;;)
	{
		char		key[INV_LOCK_KEY_LEN];
		char		token[INV_LOCK_TOKEN_LEN];
		bool		found = false;

		/* Find the next lock of that database */
		LWLockAcquire(inv_lock_shared->lock, LW_EXCLUSIVE);
		for (; next < inv_lock_shared->held_hwm; next++)
		{
			InvHeldLock *held = &inv_held_locks[next];

			if (held->in_use && held->database == dboid)
			{
				held->renew = false;
				strlcpy(key, held->key, INV_LOCK_KEY_LEN);
				strlcpy(token, held->token, INV_LOCK_TOKEN_LEN);
				found = true;
				next++;
				break;
			}
		}
		LWLockRelease(inv_lock_shared->lock);
		if (!found)
			break;

		/* A release that finds the queue full lapses by its time-to-live */
		(void) inv_lock_post_release(key, token);
	}
}

/*
 * inv_extension_drop_access
 *		object_access_hook: note a drop of the inventory extension or of a
 *		database, to act on once the transaction commits.
 */
static void
inv_extension_drop_access(ObjectAccessType access, Oid classId, Oid objectId,
						  int subId, void *arg)
{
	if (prev_object_access_hook)
		prev_object_access_hook(access, classId, objectId, subId, arg);

	if (access != OAT_DROP || inv_lock_shared == NULL)
		return;

	if (classId == ExtensionRelationId)
	{
		char	   *name = get_extension_name(objectId);

		if (name != NULL && strcmp(name, "inventory") == 0)
			extension_drop_seen = true;
	}
	else if (classId == DatabaseRelationId)
		database_dropped = objectId;
}

/*
 * inv_extension_drop_xact
 *		Transaction callback: decide at pre-commit, release after commit,
 *		forget on abort.
 */
static void
inv_extension_drop_xact(XactEvent event, void *arg)
{
	switch (event)
	{
		case XACT_EVENT_PRE_COMMIT:
			if (OidIsValid(database_dropped))
				release_after_commit = database_dropped;
			else if (extension_drop_seen &&
					 !OidIsValid(get_extension_oid("inventory", true)))
				release_after_commit = MyDatabaseId;
			break;
		case XACT_EVENT_COMMIT:
			if (OidIsValid(release_after_commit) && inv_lock_shared != NULL)
				inv_release_database_locks(release_after_commit);
			break;
		default:
			break;
	}

	if (event == XACT_EVENT_COMMIT || event == XACT_EVENT_ABORT ||
		event == XACT_EVENT_PARALLEL_COMMIT ||
		event == XACT_EVENT_PARALLEL_ABORT)
	{
		extension_drop_seen = false;
		database_dropped = InvalidOid;
		release_after_commit = InvalidOid;
	}
}

/*
 * inv_extension_drop_init
 *		Install the hook and the transaction callback; called from _PG_init.
 */
void
inv_extension_drop_init(void)
{
	if (drop_hook_installed)
		return;
	prev_object_access_hook = object_access_hook;
	object_access_hook = inv_extension_drop_access;
	RegisterXactCallback(inv_extension_drop_xact, NULL);
	drop_hook_installed = true;
}
