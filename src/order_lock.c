/*-------------------------------------------------------------------------
 *
 * order_lock.c
 *		When the order path takes and gives back its cross-node locks.
 *
 * inventory.lock_scope decides how long a reservation's lock on its product
 * lives:
 *
 *	none	no lock: the stock row's own lock serialises this database only
 *	reserve	taken by the reservation, given back when its transaction ends
 *	order	taken by the reservation and owned by it, not by the connection:
 *			its token is stored on the reservation, the worker keeps the
 *			lease alive, and confirming, releasing or expiring the
 *			reservation gives it back, from any connection or node
 *
 * Whatever the scope, a lock taken by a transaction (or subtransaction) that
 * aborts is given back, and a lock is given back only after the transaction
 * that ends its use has committed.  Both happen in transaction callbacks,
 * which post to the worker without waiting and without failing; a release
 * that cannot be posted lapses by its time-to-live.
 *
 * Copyright (c) 2026, the inventory authors
 *
 * IDENTIFICATION
 *		src/order_lock.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/xact.h"
#include "access/xlog.h"
#include "fmgr.h"
#include "funcapi.h"
#include "lib/ilist.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "storage/backendid.h"
#include "storage/latch.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "inventory.h"
#include "lock_service.h"
#include "order_lock.h"

/* A lock this transaction must give back at its end */
typedef struct InvPendingRelease
{
	dlist_node	node;
	char		key[INV_LOCK_KEY_LEN];
	char		token[INV_LOCK_TOKEN_LEN];
	SubTransactionId subxid;	/* the subtransaction that queued it */
	int64		fence;			/* its fencing number, if taken here */
	bool		taken_here;		/* acquired by this transaction */
	bool		at_commit;		/* give back at commit too, not only abort */
} InvPendingRelease;

static dlist_head pending_releases = DLIST_STATIC_INIT(pending_releases);
static bool callbacks_registered = false;
static int	inv_locks_taken = 0;	/* by the current transaction */

PG_FUNCTION_INFO_V1(inv_lock_probe);
PG_FUNCTION_INFO_V1(inv_lock_probe_release);

/*
 * inv_lock_key
 *		The Redis key of a product's lock.
 */
void
inv_lock_key(int64 supplier_id, int64 product_id, char *key)
{
	snprintf(key, INV_LOCK_KEY_LEN,
			 "inventory:supplier:" INT64_FORMAT ":product:" INT64_FORMAT,
			 supplier_id, product_id);
}

/*
 * inv_new_token
 *		Fill token with 32 random hex digits.
 */
static void
inv_new_token(char *token)
{
	uint8		random_bytes[16];
	int			i;

	if (!pg_strong_random(random_bytes, sizeof(random_bytes)))
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("could not generate a random lock token")));
	for (i = 0; i < 16; i++)
		snprintf(token + 2 * i, 3, "%02x", random_bytes[i]);
}

/*
 * inv_lock_answer_timeout
 *		How long a backend waits for the worker's answer: long enough for the
 *		worker to connect, finish the round it is in and do ours, and a
 *		second to spare.
 */
static long
inv_lock_answer_timeout(void)
{
	return inv_redis_connect_timeout + 2L * inv_redis_command_timeout + 1000L;
}

/*
 * inv_remember_release
 *		Queue a release for the end of this transaction.
 */
static void
inv_remember_release(const char *key, const char *token, int64 fence,
					 bool taken_here, bool at_commit)
{
	InvPendingRelease *pending;

	pending = MemoryContextAllocZero(TopMemoryContext,
									 sizeof(InvPendingRelease));
	strlcpy(pending->key, key, INV_LOCK_KEY_LEN);
	strlcpy(pending->token, token, INV_LOCK_TOKEN_LEN);
	pending->subxid = GetCurrentSubTransactionId();
	pending->fence = fence;
	pending->taken_here = taken_here;
	pending->at_commit = at_commit;
	dlist_push_tail(&pending_releases, &pending->node);
}

/*
 * inv_order_lock_xact_callback
 *		At commit, give back the locks whose use ended; at abort, the locks
 *		this transaction took.  Never raises an error.
 */
static void
inv_order_lock_xact_callback(XactEvent event, void *arg)
{
	dlist_mutable_iter iter;
	bool		committed;

	switch (event)
	{
		case XACT_EVENT_PRE_PREPARE:

			/*
			 * A prepared transaction may yet be rolled back by another
			 * session, which would have to give back locks it cannot see.
			 */
			if (!dlist_is_empty(&pending_releases))
				ereport(ERROR,
						(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
						 errmsg("cannot prepare a transaction that took or gives back cross-node order locks"),
						 errhint("Commit it directly, or set inventory.lock_scope to \"none\" for two-phase transactions.")));
			return;
		case XACT_EVENT_COMMIT:
		case XACT_EVENT_PARALLEL_COMMIT:
			committed = true;
			break;
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PARALLEL_ABORT:
			committed = false;
			/* Cancelled while waiting for a lock: no longer a waiter */
			inv_lock_await_cancel();
			break;
		default:
			return;
	}

	dlist_foreach_modify(iter, &pending_releases)
	{
		InvPendingRelease *pending =
		dlist_container(InvPendingRelease, node, iter.cur);

		if (committed ? pending->at_commit : pending->taken_here)
			(void) inv_lock_post_release(pending->key, pending->token);
		dlist_delete(&pending->node);
		pfree(pending);
	}
	inv_locks_taken = 0;
}

/*
 * inv_order_lock_subxact_callback
 *		A rolled-back subtransaction gives back the locks it took, and
 *		forgets the releases it queued: the reservations it finished are
 *		open again.
 */
static void
inv_order_lock_subxact_callback(SubXactEvent event, SubTransactionId mySubid,
								SubTransactionId parentSubid, void *arg)
{
	dlist_mutable_iter iter;

	if (event != SUBXACT_EVENT_ABORT_SUB && event != SUBXACT_EVENT_COMMIT_SUB)
		return;

	dlist_foreach_modify(iter, &pending_releases)
	{
		InvPendingRelease *pending =
		dlist_container(InvPendingRelease, node, iter.cur);

		if (pending->subxid != mySubid)
			continue;
		if (event == SUBXACT_EVENT_COMMIT_SUB)
		{
			pending->subxid = parentSubid;
			continue;
		}
		if (pending->taken_here)
		{
			(void) inv_lock_post_release(pending->key, pending->token);
			inv_locks_taken--;
		}
		dlist_delete(&pending->node);
		pfree(pending);
	}
}

/*
 * inv_order_lock_init
 *		Register the transaction callbacks; called from _PG_init.
 */
void
inv_order_lock_init(void)
{
	if (callbacks_registered)
		return;
	RegisterXactCallback(inv_order_lock_xact_callback, NULL);
	RegisterSubXactCallback(inv_order_lock_subxact_callback, NULL);
	callbacks_registered = true;
}

/*
 * inv_order_lock_scope
 *		The scope in force for this call: none when the setting says so.
 */
InvLockScope
inv_order_lock_scope(void)
{
	return (InvLockScope) inv_lock_scope;
}

/*
 * inv_order_lock_acquire
 *		Take the cross-node lock on a product for a reservation, in the
 *		current scope.
 *
 * Returns the fencing number, or 0 when no lock was taken (scope none, or
 * Redis unreachable under the fallback policy).  The lock's token is copied
 * to token_out, or the empty string when there is no lock; in order scope
 * the reservation keeps it.  Raises IV011 when the lock stays contended past
 * inventory.lock_wait_timeout and IV012 when Redis cannot be reached under
 * the refuse policy.
 */
int64
inv_order_lock_acquire(int64 supplier_id, int64 product_id, char *token_out)
{
	InvLockScope scope = inv_order_lock_scope();
	char		key[INV_LOCK_KEY_LEN];
	char		token[INV_LOCK_TOKEN_LEN];
	char		error[INV_LOCK_ERROR_LEN];
	TimestampTz deadline;
	long		backoff_ms = 1;
	long		answer_timeout;
	int64		fence = 0;

	token_out[0] = '\0';
	if (scope == INV_SCOPE_NONE)
		return 0;

	inv_lock_key(supplier_id, product_id, key);

	/*
	 * A reserve-scope lock this transaction already holds serves again:
	 * asking Redis would only make us wait for ourselves.
	 */
	if (scope == INV_SCOPE_RESERVE)
	{
		dlist_iter	iter;

		dlist_foreach(iter, &pending_releases)
		{
			InvPendingRelease *pending =
			dlist_container(InvPendingRelease, node, iter.cur);

			if (pending->taken_here && pending->at_commit &&
				strcmp(pending->key, key) == 0)
			{
				strlcpy(token_out, pending->token, INV_LOCK_TOKEN_LEN);
				return pending->fence;
			}
		}
	}

	/*
	 * Every lock a transaction holds is given back through the release queue
	 * when it ends; a transaction holding more than half the queue could not
	 * give them all back, so it may not take them.
	 */
	if (inv_locks_taken >= inv_max_locks / 2)
		ereport(ERROR,
				(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
				 errmsg("too many cross-node locks in one transaction"),
				 errdetail("A transaction may hold at most %d, half of inventory.max_locks.",
						   inv_max_locks / 2),
				 errhint("Reserve fewer products per transaction, or raise inventory.max_locks.")));

	inv_new_token(token);
	deadline = TimestampTzPlusMilliseconds(GetCurrentTimestamp(),
										   inv_lock_wait_timeout);
	answer_timeout = inv_lock_answer_timeout();

	for (;;)
	{
		InvLockResult result;
		long		remaining;

		result = inv_lock_service_ready() ?
			inv_lock_call(INV_LOCK_ACQUIRE, key, token, inv_lock_ttl,
						  scope == INV_SCOPE_ORDER, answer_timeout,
						  &fence, error) :
			INV_LOCK_UNAVAILABLE;
		if (result == INV_LOCK_UNAVAILABLE && !inv_lock_service_ready())
			strlcpy(error, "the lock service worker is not running",
					INV_LOCK_ERROR_LEN);

		/* Won it; a wait for it is over */
		if (result == INV_LOCK_OK)
		{
			inv_lock_await_cancel();
			inv_locks_taken++;
			inv_remember_release(key, token, fence, true,
								 scope == INV_SCOPE_RESERVE);
			strlcpy(token_out, token, INV_LOCK_TOKEN_LEN);
			return fence;
		}

		/* No lock service: refuse, or carry on with the row locks alone */
		if (result != INV_LOCK_BUSY)
		{
			inv_lock_await_cancel();
			if (inv_lock_failure_policy == INV_FAILURE_FALLBACK)
			{
				ereport(WARNING,
						(errcode(ERRCODE_INV_LOCK_UNAVAILABLE),
						 errmsg("order lock service unavailable; serialising product " INT64_FORMAT " by row locks only",
								product_id),
						 errdetail_internal("%s", error)));
				return 0;
			}
			ereport(ERROR,
					(errcode(ERRCODE_INV_LOCK_UNAVAILABLE),
					 errmsg("could not take the order lock on product " INT64_FORMAT,
							product_id),
					 errdetail_internal("%s", error),
					 errhint("Check that Redis is running at the address in inventory.redis_host (or that inventory.redis_sentinels name a master), or set inventory.lock_failure_policy to \"fallback\".")));
		}

		/*
		 * Held by someone else: retry with backoff until the wait runs out.
		 * When a session of this node gives the key back, the worker wakes
		 * the longest waiter at once; the backoff is for holders elsewhere.
		 */
		remaining = TimestampDifferenceMilliseconds(GetCurrentTimestamp(),
													deadline);
		if (remaining <= 0)
		{
			inv_lock_await_cancel();
			pg_atomic_fetch_add_u64(&inv_lock_shared->counters.timed_out, 1);
			ereport(ERROR,
					(errcode(ERRCODE_INV_LOCK_TIMEOUT),
					 errmsg("timed out waiting for the order lock on product " INT64_FORMAT,
							product_id),
					 errdetail("Lock \"%s\" was held by another order for %d ms.",
							   key, inv_lock_wait_timeout),
					 errhint("Retry the order, or raise inventory.lock_wait_timeout.")));
		}
		(void) WaitLatch(MyLatch,
						 WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 Min(backoff_ms, remaining), PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
		backoff_ms = Min(backoff_ms * 2, 50);
	}
}

/*
 * inv_order_lock_refence
 *		Get a fencing number above floor for a lock this call holds, and
 *		return it; return 0 when the lock is no longer ours.
 *
 * Called when a stock row refused our fencing number.  If we still hold
 * the lock, the refusal can only mean that Redis lost its fence counter,
 * and the counter is raised past the row's; if we do not, the lease lapsed
 * and a later holder has written, and the refusal stands.
 */
int64
inv_order_lock_refence(int64 supplier_id, int64 product_id, const char *token,
					   int64 floor)
{
	char		key[INV_LOCK_KEY_LEN];
	char		error[INV_LOCK_ERROR_LEN];
	int64		fence = 0;

	inv_lock_key(supplier_id, product_id, key);
	if (!inv_lock_service_ready() ||
		inv_lock_refence(key, token, floor,
						 inv_lock_answer_timeout(),
						 &fence, error) != INV_LOCK_OK)
		return 0;
	return fence;
}

/*
 * inv_order_lock_note
 *		Tell the lock service which reservation owns an order-scope lock,
 *		and when the reservation expires.
 */
void
inv_order_lock_note(int64 supplier_id, int64 product_id, const char *token,
					int64 reservation_id, TimestampTz expires_at)
{
	char		key[INV_LOCK_KEY_LEN];

	inv_lock_key(supplier_id, product_id, key);
	inv_lock_note_reservation(key, token, reservation_id, expires_at);
}

/*
 * inv_order_lock_release_at_commit
 *		Give back a reservation's order-scope lock once the transaction that
 *		confirms, releases or expires the reservation has committed.
 */
void
inv_order_lock_release_at_commit(int64 supplier_id, int64 product_id,
								 const char *token)
{
	char		key[INV_LOCK_KEY_LEN];

	if (token == NULL || token[0] == '\0')
		return;
	inv_lock_key(supplier_id, product_id, key);
	inv_remember_release(key, token, 0, false, true);
}

/*
 * inv_lock_probe_loop
 *		The body of both probes: take and give back a private lock
 *		iterations times and return the probe's row.  With wait_release
 *		false each release is posted the way a transaction's end posts it,
 *		without waiting for Redis's answer, so that the probe waits for what
 *		an order waits for: one round trip per lock.  The last release is
 *		waited for in either case, so that the next probe finds its key free.
 */
static Datum
inv_lock_probe_loop(FunctionCallInfo fcinfo, int32 iterations,
					bool wait_release)
{
	char		key[INV_LOCK_KEY_LEN];
	char		token[INV_LOCK_TOKEN_LEN];
	char		error[INV_LOCK_ERROR_LEN];
	long		answer_timeout;
	TimestampTz started;
	double		total_ms;
	TupleDesc	tupdesc;
	Datum		values[3];
	bool		nulls[3] = {false};
	int			i;

	if (iterations < 1 || iterations > 1000000)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("iterations must be between 1 and 1000000")));
	if (!inv_lock_service_ready())
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("the inventory lock service is not running"),
				 errhint("Add \"inventory\" to shared_preload_libraries and restart the server.")));
	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "inv_lock_probe: return type must be a row type");

	/* One key per backend slot of this cluster: a bounded set, never shared */
	snprintf(key, sizeof(key), "inventory:probe:" UINT64_FORMAT ":%d",
			 GetSystemIdentifier(), MyBackendId);
	answer_timeout = inv_lock_answer_timeout();
	started = GetCurrentTimestamp();
	for (i = 0; i < iterations; i++)
	{
		InvLockResult result;
		int64		fence;

		CHECK_FOR_INTERRUPTS();
		inv_new_token(token);
		result = inv_lock_call(INV_LOCK_ACQUIRE, key, token, inv_lock_ttl,
							   false, answer_timeout, &fence, error);

		/*
		 * A posted release goes to Redis before any later request of ours,
		 * so the next acquisition finds the key free; if the queue is full,
		 * wait for this one instead.
		 */
		if (result == INV_LOCK_OK &&
			(wait_release || i == iterations - 1 ||
			 !inv_lock_post_release(key, token)))
			result = inv_lock_call(INV_LOCK_RELEASE, key, token, 0, false,
								   answer_timeout, &fence, error);
		if (result != INV_LOCK_OK)
			ereport(ERROR,
					(errcode(ERRCODE_INV_LOCK_UNAVAILABLE),
					 errmsg("lock service probe failed after %d round trips", i),
					 errdetail_internal("%s", error[0] ? error : "The probe key was held by someone else.")));
	}
	total_ms = (GetCurrentTimestamp() - started) / 1000.0;

	values[0] = Int32GetDatum(iterations);
	values[1] = Float8GetDatum(total_ms);
	values[2] = Float8GetDatum(total_ms * 1000.0 / iterations);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(tupdesc),
													  values, nulls)));
}

/*
 * inv_lock_probe(iterations)
 *		Take and give back a private lock through the worker iterations
 *		times, waiting for each answer; return (iterations, total_ms,
 *		avg_round_trip_us).  A health and latency probe of the lock service
 *		that touches no stock.
 */
Datum
inv_lock_probe(PG_FUNCTION_ARGS)
{
	return inv_lock_probe_loop(fcinfo, PG_GETARG_INT32(0), true);
}

/*
 * inv_lock_probe_release(iterations, wait_for_release)
 *		The probe with the choice of how releases go: waited for, or posted
 *		as at the end of a transaction (what an order does).
 */
Datum
inv_lock_probe_release(PG_FUNCTION_ARGS)
{
	return inv_lock_probe_loop(fcinfo, PG_GETARG_INT32(0), PG_GETARG_BOOL(1));
}
