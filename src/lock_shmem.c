/*-------------------------------------------------------------------------
 *
 * lock_shmem.c
 *		Shared memory of the order lock service, and the backends' side of
 *		the mailbox.
 *
 * Every backend owns one request slot, found by its BackendId.  To ask the
 * worker for something it fills the slot, marks it pending, sets the
 * worker's latch and sleeps on its own latch until the worker has marked
 * the slot done.  A backend that stops waiting (cancelled, timed out, or
 * exiting) marks its slot abandoned; the worker then throws the answer away
 * and, if the answer was a lock, gives the lock back at once.
 *
 * Releases posted when a transaction ends cannot wait and must not fail, so
 * they go into a ring that the worker drains; when the ring is full the
 * release is dropped and the lock lapses by its time-to-live instead.
 *
 * See lock_service.h for what the LWLock protects.
 *
 * Copyright (c) 2026, the inventory authors
 *
 * IDENTIFICATION
 *		src/lock_shmem.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/pg_authid.h"
#include "commands/dbcommands.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/proc.h"
#include "storage/shmem.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"
#include "utils/tuplestore.h"

#include "inventory.h"
#include "lock_service.h"

/* Pointers into shared memory; NULL unless the library was preloaded */
InvLockShared *inv_lock_shared = NULL;
InvLockRequest *inv_lock_requests = NULL;
InvLockRelease *inv_lock_releases = NULL;
InvHeldLock *inv_held_locks = NULL;

static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;
static bool exit_callback_registered = false;

PG_FUNCTION_INFO_V1(inv_locks);
PG_FUNCTION_INFO_V1(inv_lock_stats);

/*
 * inv_lock_shmem_size
 *		Bytes of shared memory the lock service needs.
 */
static Size
inv_lock_shmem_size(void)
{
	Size		size;

	size = MAXALIGN(sizeof(InvLockShared));
	size = add_size(size, MAXALIGN(mul_size(MaxBackends,
											sizeof(InvLockRequest))));
	size = add_size(size, MAXALIGN(mul_size(inv_max_locks,
											sizeof(InvLockRelease))));
	size = add_size(size, MAXALIGN(mul_size(inv_max_locks,
											sizeof(InvHeldLock))));
	return size;
}

/*
 * inv_lock_shmem_request
 *		shmem_request_hook: reserve the space and the LWLock.
 */
static void
inv_lock_shmem_request(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();

	RequestAddinShmemSpace(inv_lock_shmem_size());
	RequestNamedLWLockTranche("inventory", 1);
}

/*
 * inv_lock_shmem_startup
 *		shmem_startup_hook: find or create the shared state.
 */
static void
inv_lock_shmem_startup(void)
{
	bool		found;
	char	   *base;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();

	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	base = ShmemInitStruct("inventory lock service", inv_lock_shmem_size(),
						   &found);
	inv_lock_shared = (InvLockShared *) base;
	base += MAXALIGN(sizeof(InvLockShared));
	inv_lock_requests = (InvLockRequest *) base;
	base += MAXALIGN(mul_size(MaxBackends, sizeof(InvLockRequest)));
	inv_lock_releases = (InvLockRelease *) base;
	base += MAXALIGN(mul_size(inv_max_locks, sizeof(InvLockRelease)));
	inv_held_locks = (InvHeldLock *) base;

	if (!found)
	{
		InvLockCounters *c = &inv_lock_shared->counters;

		memset(inv_lock_shared, 0, inv_lock_shmem_size());
		inv_lock_shared->lock = &(GetNamedLWLockTranche("inventory"))->lock;
		inv_lock_shared->worker_procno = -1;
		inv_lock_shared->nrequests = MaxBackends;
		inv_lock_shared->nreleases = inv_max_locks;
		inv_lock_shared->nheld = inv_max_locks;
		pg_atomic_init_u64(&c->acquired, 0);
		pg_atomic_init_u64(&c->contended, 0);
		pg_atomic_init_u64(&c->timed_out, 0);
		pg_atomic_init_u64(&c->released, 0);
		pg_atomic_init_u64(&c->renewed, 0);
		pg_atomic_init_u64(&c->lapsed, 0);
		pg_atomic_init_u64(&c->redis_errors, 0);
		pg_atomic_init_u64(&c->reconnects, 0);
		pg_atomic_init_u64(&c->releases_dropped, 0);
		pg_atomic_init_u64(&c->round_trips, 0);
		pg_atomic_init_u64(&c->round_trip_us, 0);
	}
	LWLockRelease(AddinShmemInitLock);
}

/*
 * inv_lock_shmem_init
 *		Install the shared memory hooks.  Called from _PG_init while
 *		shared_preload_libraries is processed.
 */
void
inv_lock_shmem_init(void)
{
	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = inv_lock_shmem_request;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = inv_lock_shmem_startup;
}

/*
 * inv_lock_service_ready
 *		Whether requests can be posted: the library was preloaded and the
 *		worker is running.
 */
bool
inv_lock_service_ready(void)
{
	bool		ready;

	if (inv_lock_shared == NULL)
		return false;
	LWLockAcquire(inv_lock_shared->lock, LW_SHARED);
	ready = inv_lock_shared->worker_pid != 0;
	LWLockRelease(inv_lock_shared->lock);
	return ready;
}

/*
 * inv_my_request
 *		This backend's request slot.
 */
static InvLockRequest *
inv_my_request(void)
{
	Assert(MyBackendId > 0 && MyBackendId <= inv_lock_shared->nrequests);
	return &inv_lock_requests[MyBackendId - 1];
}

/*
 * inv_clear_await
 *		Stop waiting for a key to be given back.  Caller must hold the
 *		LWLock exclusively.
 */
static void
inv_clear_await(InvLockRequest *request)
{
	if (request->awaiting)
	{
		request->awaiting = false;
		inv_lock_shared->nawaiting--;
	}
	request->awaiting_since = 0;
}

/*
 * inv_lock_await_cancel
 *		This backend no longer waits for a key it was refused: it got it,
 *		gave up, or its transaction ended.  Cheap when it was not waiting.
 */
void
inv_lock_await_cancel(void)
{
	InvLockRequest *request;

	if (inv_lock_shared == NULL || MyBackendId == InvalidBackendId)
		return;
	request = inv_my_request();

	/*
	 * The worker changes these fields only while answering a request of
	 * ours, and none is in flight here, so an unlocked look is enough.
	 */
	if (!request->awaiting && request->awaiting_since == 0)
		return;
	LWLockAcquire(inv_lock_shared->lock, LW_EXCLUSIVE);
	inv_clear_await(request);
	LWLockRelease(inv_lock_shared->lock);
}

/*
 * inv_abandon_request
 *		Tell the worker that nobody will read the answer to this backend's
 *		request.  Safe to call in any state, including from an exit hook.
 */
static void
inv_abandon_request(void)
{
	InvLockRequest *request = inv_my_request();
	bool		granted = false;
	char		key[INV_LOCK_KEY_LEN];
	char		token[INV_LOCK_TOKEN_LEN];

	LWLockAcquire(inv_lock_shared->lock, LW_EXCLUSIVE);
	inv_clear_await(request);
	if (request->state == INV_REQ_DONE)
	{
		/* An answer nobody will read: a lock in it must go back */
		granted = request->op == INV_LOCK_ACQUIRE &&
			request->result == INV_LOCK_OK;
		strlcpy(key, request->key, INV_LOCK_KEY_LEN);
		strlcpy(token, request->token, INV_LOCK_TOKEN_LEN);
		request->state = INV_REQ_FREE;
	}
	else if (request->state != INV_REQ_FREE)
		request->abandoned = true;
	LWLockRelease(inv_lock_shared->lock);

	if (granted)
		(void) inv_lock_post_release(key, token);
}

/*
 * inv_lock_exit_callback
 *		before_shmem_exit callback: abandon a request still in flight, so
 *		that the next backend to get this BackendId finds its slot usable.
 */
static void
inv_lock_exit_callback(int code, Datum arg)
{
	if (inv_lock_shared != NULL && MyBackendId != InvalidBackendId)
		inv_abandon_request();
}

/*
 * inv_worker_latch
 *		The worker's latch, or NULL while no worker runs.  Caller must hold
 *		the LWLock; the latch is set after releasing it (inv_wake), so that
 *		the worker does not wake only to queue for the lock still held.
 */
static Latch *
inv_worker_latch(void)
{
	int			procno = inv_lock_shared->worker_procno;

	return procno >= 0 ? &ProcGlobal->allProcs[procno].procLatch : NULL;
}

/*
 * inv_wake
 *		Set a latch found under the LWLock, if there was one.  A worker that
 *		exited meanwhile leaves a latch nobody waits on, which is harmless.
 */
static void
inv_wake(Latch *latch)
{
	if (latch != NULL)
		SetLatch(latch);
}

/*
 * inv_lock_request
 *		Post a request to the worker and wait for its answer.
 *
 * Waits at most timeout_ms for the answer; returns INV_LOCK_UNAVAILABLE at
 * once when the worker is not connected to Redis, and also when no answer
 * came in time.  On INV_LOCK_OK for an acquisition *fence is the fencing
 * number; with renew, the worker keeps the lease alive until it is
 * released or inventory.lock_max_hold has passed.  Any text Redis gave with
 * a failure is copied to error, which must have room for INV_LOCK_ERROR_LEN
 * bytes.  The caller may be cancelled while it waits; the request is then
 * abandoned.
 */
static InvLockResult
inv_lock_request(InvLockOp op, const char *key, const char *token, int ttl_ms,
				 int64 floor, bool renew, long timeout_ms, int64 *fence,
				 char *error)
{
	InvLockRequest *request = inv_my_request();
	TimestampTz deadline;
	volatile InvLockResult result = INV_LOCK_UNAVAILABLE;

	error[0] = '\0';
	deadline = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), timeout_ms);
	if (!exit_callback_registered)
	{
		before_shmem_exit(inv_lock_exit_callback, (Datum) 0);
		exit_callback_registered = true;
	}

	/*
	 * NB: nothing may return from inside PG_TRY: the error context it set up
	 * must be restored by PG_END_TRY.  Leave the loops with posted/answered.
	 */
	PG_TRY();
	{
		bool		posted = false;
		bool		answered = false;

		/*
		 * Post the request.  A slot still busy with an abandoned request is
		 * freed by the worker within its command timeout.
		 */
		for (;;)
		{
			bool		unavailable = false;
			Latch	   *worker_latch = NULL;

			LWLockAcquire(inv_lock_shared->lock, LW_EXCLUSIVE);
			if (!inv_lock_shared->connected)
			{
				strlcpy(error, inv_lock_shared->last_error, INV_LOCK_ERROR_LEN);
				unavailable = true;
			}
			else if (request->state == INV_REQ_FREE)
			{
				/*
				 * A retry of the key we wait for keeps our place among its
				 * waiters; anything else starts afresh.
				 */
				if (request->awaiting)
				{
					request->awaiting = false;
					inv_lock_shared->nawaiting--;
				}
				if (op != INV_LOCK_ACQUIRE || strcmp(request->key, key) != 0)
					request->awaiting_since = 0;
				request->op = op;
				request->ttl_ms = ttl_ms;
				request->floor = floor;
				request->renew = renew;
				request->database = MyDatabaseId;
				request->procno = MyProc->pgprocno;
				request->abandoned = false;
				strlcpy(request->key, key, INV_LOCK_KEY_LEN);
				strlcpy(request->token, token, INV_LOCK_TOKEN_LEN);
				request->state = INV_REQ_PENDING;
				inv_lock_shared->npending++;
				worker_latch = inv_worker_latch();
				posted = true;
			}
			LWLockRelease(inv_lock_shared->lock);
			inv_wake(worker_latch);
			if (posted || unavailable)
				break;
			if (GetCurrentTimestamp() >= deadline)
			{
				strlcpy(error, "the lock service did not take the request in time",
						INV_LOCK_ERROR_LEN);
				break;
			}

			(void) WaitLatch(MyLatch,
							 WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
							 10, PG_WAIT_EXTENSION);
			ResetLatch(MyLatch);
			CHECK_FOR_INTERRUPTS();
		}

		/* Wait for the answer */
		while (posted && !answered)
		{
			long		remaining;

			LWLockAcquire(inv_lock_shared->lock, LW_EXCLUSIVE);
			if (request->state == INV_REQ_DONE)
			{
				result = request->result;
				*fence = request->fence;
				strlcpy(error, request->error, INV_LOCK_ERROR_LEN);
				request->state = INV_REQ_FREE;
				answered = true;
			}
			LWLockRelease(inv_lock_shared->lock);
			if (answered)
				break;

			remaining = TimestampDifferenceMilliseconds(GetCurrentTimestamp(),
														deadline);
			if (remaining <= 0)
			{
				inv_abandon_request();
				strlcpy(error, "the lock service did not answer in time",
						INV_LOCK_ERROR_LEN);
				result = INV_LOCK_UNAVAILABLE;
				break;
			}
			(void) WaitLatch(MyLatch,
							 WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
							 remaining, PG_WAIT_EXTENSION);
			ResetLatch(MyLatch);
			CHECK_FOR_INTERRUPTS();
		}
	}
	PG_CATCH();
	{
		inv_abandon_request();
		PG_RE_THROW();
	}
	PG_END_TRY();

	return result;
}

/*
 * inv_lock_call
 *		Post an acquisition or a release and wait for the answer; see
 *		inv_lock_request.
 */
InvLockResult
inv_lock_call(InvLockOp op, const char *key, const char *token, int ttl_ms,
			  bool renew, long timeout_ms, int64 *fence, char *error)
{
	Assert(op == INV_LOCK_ACQUIRE || op == INV_LOCK_RELEASE);
	return inv_lock_request(op, key, token, ttl_ms, 0, renew, timeout_ms,
							fence, error);
}

/*
 * inv_lock_refence
 *		Ask for a fencing number above floor for a lock we hold.
 *
 * Answers INV_LOCK_OK with the new number in *fence while the key still
 * holds our token, and INV_LOCK_NOT_OWNER once it does not: a holder whose
 * lease lapsed cannot get a newer number this way.  It exists for a fence
 * counter that Redis lost (a restart without persistence, or a failover),
 * which would otherwise leave every new holder below the number the stock
 * row last accepted.
 */
InvLockResult
inv_lock_refence(const char *key, const char *token, int64 floor,
				 long timeout_ms, int64 *fence, char *error)
{
	return inv_lock_request(INV_LOCK_REFENCE, key, token, 0, floor, false,
							timeout_ms, fence, error);
}

/*
 * inv_find_held_lock
 *		The held-table entry of a lock, or NULL if the table does not hold
 *		it.  Caller must hold the LWLock.
 */
InvHeldLock *
inv_find_held_lock(const char *key, const char *token)
{
	int			i;

	for (i = 0; i < inv_lock_shared->held_hwm; i++)
	{
		InvHeldLock *held = &inv_held_locks[i];

		if (held->in_use && strcmp(held->key, key) == 0 &&
			strcmp(held->token, token) == 0)
			return held;
	}
	return NULL;
}

/*
 * inv_lock_post_release
 *		Queue the release of a lock without waiting for it; return false if
 *		it had to be dropped.  Never raises an error, so it may be called at
 *		transaction end.
 */
bool
inv_lock_post_release(const char *key, const char *token)
{
	bool		queued = false;
	Latch	   *worker_latch = NULL;

	if (inv_lock_shared == NULL)
		return false;

	LWLockAcquire(inv_lock_shared->lock, LW_EXCLUSIVE);
	if (inv_lock_shared->release_count < inv_lock_shared->nreleases)
	{
		int			slot = (inv_lock_shared->release_head +
							inv_lock_shared->release_count) %
		inv_lock_shared->nreleases;

		strlcpy(inv_lock_releases[slot].key, key, INV_LOCK_KEY_LEN);
		strlcpy(inv_lock_releases[slot].token, token, INV_LOCK_TOKEN_LEN);
		inv_lock_shared->release_count++;
		worker_latch = inv_worker_latch();
		queued = true;
	}
	else
	{
		/* It will lapse by its time-to-live; it must not be renewed */
		InvHeldLock *held = inv_find_held_lock(key, token);

		if (held != NULL)
			held->renew = false;
	}
	LWLockRelease(inv_lock_shared->lock);
	inv_wake(worker_latch);

	if (!queued)
		pg_atomic_fetch_add_u64(&inv_lock_shared->counters.releases_dropped, 1);
	return queued;
}

/*
 * inv_lock_note_reservation
 *		Record which reservation owns a held lock, for inv_locks(), and stop
 *		renewing the lock once the reservation expires: past that it
 *		protects nothing the reservation does not.
 */
void
inv_lock_note_reservation(const char *key, const char *token,
						  int64 reservation_id, TimestampTz expires_at)
{
	InvHeldLock *held;

	if (inv_lock_shared == NULL)
		return;

	LWLockAcquire(inv_lock_shared->lock, LW_EXCLUSIVE);
	held = inv_find_held_lock(key, token);
	if (held != NULL)
	{
		held->reservation_id = reservation_id;
		if (expires_at < held->hold_until)
			held->hold_until = expires_at;
	}
	LWLockRelease(inv_lock_shared->lock);
}

/*
 * inv_require_lock_service
 *		Refuse to report on a lock service that was never started.
 */
static void
inv_require_lock_service(void)
{
	if (inv_lock_shared == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("the inventory lock service is not running"),
				 errdetail("The library was not loaded at server start."),
				 errhint("Add \"inventory\" to shared_preload_libraries and restart the server.")));
}

/*
 * inv_locks()
 *		The locks this node holds: key, owning reservation, fencing number,
 *		scope, when taken, time left, and the database that took them.
 *
 * A node may hold many tenants' databases, so, as pg_stat_activity does
 * with other roles' queries, it shows other databases' locks only to roles
 * with the privileges of pg_read_all_stats.
 */
Datum
inv_locks(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	InvHeldLock *copy;
	int			nheld;
	int			i;
	TimestampTz now = GetCurrentTimestamp();
	bool		all_databases;

	inv_require_lock_service();
	InitMaterializedSRF(fcinfo, 0);
	all_databases = has_privs_of_role(GetUserId(), ROLE_PG_READ_ALL_STATS);

	/* Copy the table so that no lock is held while building tuples */
	nheld = inv_lock_shared->nheld;
	copy = palloc(sizeof(InvHeldLock) * nheld);
	LWLockAcquire(inv_lock_shared->lock, LW_SHARED);
	memcpy(copy, inv_held_locks, sizeof(InvHeldLock) * nheld);
	LWLockRelease(inv_lock_shared->lock);

	for (i = 0; i < nheld; i++)
	{
		Datum		values[7];
		bool		nulls[7] = {false};
		char	   *dbname;

		if (!copy[i].in_use ||
			(!all_databases && copy[i].database != MyDatabaseId))
			continue;
		values[0] = CStringGetTextDatum(copy[i].key);
		values[1] = Int64GetDatum(copy[i].reservation_id);
		nulls[1] = copy[i].reservation_id == 0;
		values[2] = Int64GetDatum(copy[i].fence);
		values[3] = CStringGetTextDatum(copy[i].renew ? "order" : "reserve");
		values[4] = TimestampTzGetDatum(copy[i].acquired_at);
		values[5] = DirectFunctionCall2(timestamp_mi,
										TimestampTzGetDatum(copy[i].expires_at),
										TimestampTzGetDatum(now));
		dbname = get_database_name(copy[i].database);
		values[6] = dbname ? CStringGetTextDatum(dbname) : (Datum) 0;
		nulls[6] = dbname == NULL;
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}

/*
 * inv_lock_stats()
 *		One row: the worker's state and its counters since server start.
 */
Datum
inv_lock_stats(PG_FUNCTION_ARGS)
{
	InvLockCounters *c;
	TupleDesc	tupdesc;
	Datum		values[17];
	bool		nulls[17] = {false};
	uint64		round_trips;
	int			held = 0;
	int			queued;
	int			i;

	inv_require_lock_service();
	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "inv_lock_stats: return type must be a row type");
	c = &inv_lock_shared->counters;

	LWLockAcquire(inv_lock_shared->lock, LW_SHARED);
	values[0] = Int32GetDatum(inv_lock_shared->worker_pid);
	nulls[0] = inv_lock_shared->worker_pid == 0;
	values[1] = BoolGetDatum(inv_lock_shared->connected);
	values[2] = TimestampTzGetDatum(inv_lock_shared->connected_since);
	nulls[2] = !inv_lock_shared->connected;
	values[3] = CStringGetTextDatum(inv_lock_shared->last_error);
	nulls[3] = inv_lock_shared->last_error[0] == '\0';
	for (i = 0; i < inv_lock_shared->nheld; i++)
		if (inv_held_locks[i].in_use)
			held++;
	queued = inv_lock_shared->release_count;
	LWLockRelease(inv_lock_shared->lock);

	values[4] = Int32GetDatum(held);
	values[5] = Int32GetDatum(queued);
	values[6] = Int64GetDatum((int64) pg_atomic_read_u64(&c->acquired));
	values[7] = Int64GetDatum((int64) pg_atomic_read_u64(&c->contended));
	values[8] = Int64GetDatum((int64) pg_atomic_read_u64(&c->timed_out));
	values[9] = Int64GetDatum((int64) pg_atomic_read_u64(&c->released));
	values[10] = Int64GetDatum((int64) pg_atomic_read_u64(&c->renewed));
	values[11] = Int64GetDatum((int64) pg_atomic_read_u64(&c->lapsed));
	values[12] = Int64GetDatum((int64) pg_atomic_read_u64(&c->redis_errors));
	values[13] = Int64GetDatum((int64) pg_atomic_read_u64(&c->reconnects));
	values[14] =
		Int64GetDatum((int64) pg_atomic_read_u64(&c->releases_dropped));
	round_trips = pg_atomic_read_u64(&c->round_trips);
	values[15] = Int64GetDatum((int64) round_trips);
	values[16] = Float8GetDatum(round_trips == 0 ? 0.0 :
								(double) pg_atomic_read_u64(&c->round_trip_us) /
								round_trips / 1000.0);

	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(tupdesc),
													  values, nulls)));
}
