/*-------------------------------------------------------------------------
 *
 * lock_service.h
 *		The cross-node order lock service: shared state and its interfaces.
 *
 * Backends never talk to Redis.  They post requests into shared memory and
 * wait on their latch; one background worker owns the Redis connection,
 * sends every pending request in one pipeline, and posts the answers back.
 * The structures below are that mailbox, plus the worker's table of the
 * locks this node holds and its counters.
 *
 * Locking protocol: InvLockShared->lock (an LWLock) guards every field of
 * InvLockShared and of the arrays that follow it, except the counters, which
 * are atomics.  Nobody holds the LWLock while waiting for Redis.
 *
 * Copyright (c) 2026, the inventory authors
 *
 * IDENTIFICATION
 *		src/lock_service.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef INVENTORY_LOCK_SERVICE_H
#define INVENTORY_LOCK_SERVICE_H

#include "datatype/timestamp.h"
#include "port/atomics.h"
#include "storage/lwlock.h"

/* Sizes of the text fields; keys are "inventory:supplier:S:product:P" */
#define INV_LOCK_KEY_LEN		80
#define INV_LOCK_TOKEN_LEN		33	/* 32 hex digits and a NUL */
#define INV_LOCK_ERROR_LEN		128

/* What a request asks of the worker */
typedef enum InvLockOp
{
	INV_LOCK_ACQUIRE,			/* SET NX PX, and take a fencing number */
	INV_LOCK_RELEASE,			/* delete the key if it still holds our token */
	INV_LOCK_REFENCE			/* while we hold the key, a fencing number
								 * above floor */
} InvLockOp;

/* Where a request stands */
typedef enum InvRequestState
{
	INV_REQ_FREE,				/* slot unused */
	INV_REQ_PENDING,			/* posted, not yet taken by the worker */
	INV_REQ_SENT,				/* taken by the worker, answer outstanding */
	INV_REQ_DONE				/* answered; the poster reads it */
} InvRequestState;

/* How the worker answered */
typedef enum InvLockResult
{
	INV_LOCK_OK,				/* acquired (with a fence) or released */
	INV_LOCK_BUSY,				/* someone else holds the key */
	INV_LOCK_NOT_OWNER,			/* release: the key no longer holds our token */
	INV_LOCK_UNAVAILABLE,		/* Redis cannot be reached */
	INV_LOCK_FAILED				/* Redis answered with an error */
} InvLockResult;

/* One backend's request; the slot is indexed by BackendId - 1 */
typedef struct InvLockRequest
{
	InvRequestState state;
	bool		abandoned;		/* the poster gave up waiting */
	InvLockOp	op;
	int			ttl_ms;
	int64		floor;			/* refence: the number to get above */
	bool		renew;			/* acquire: keep the lease alive */
	Oid			database;		/* the poster's database, for inv_locks() */
	int			procno;			/* the poster's PGPROC, to wake it */
	char		key[INV_LOCK_KEY_LEN];
	char		token[INV_LOCK_TOKEN_LEN];
	/* set by the worker */
	InvLockResult result;
	int64		fence;
	char		error[INV_LOCK_ERROR_LEN];

	/*
	 * A poster answered "busy" waits for key to be given back: the worker
	 * wakes the longest waiter (earliest awaiting_since) when it gives key
	 * back, instead of leaving it to its backoff.  Set by the worker with
	 * the answer, cleared by whichever of the two acts first.
	 */
	bool		awaiting;
	TimestampTz awaiting_since; /* first "busy" of this wait; 0 if none */
} InvLockRequest;

/* A release nobody waits for, posted at transaction end */
typedef struct InvLockRelease
{
	char		key[INV_LOCK_KEY_LEN];
	char		token[INV_LOCK_TOKEN_LEN];
} InvLockRelease;

/* A lock this node holds, as the worker knows it */
typedef struct InvHeldLock
{
	bool		in_use;
	bool		renew;			/* order scope: keep it alive until released */
	char		key[INV_LOCK_KEY_LEN];
	char		token[INV_LOCK_TOKEN_LEN];
	int64		fence;
	int64		reservation_id; /* 0 until the reservation exists */
	Oid			database;
	int			ttl_ms;
	TimestampTz acquired_at;
	TimestampTz expires_at;		/* as last set in Redis */
	TimestampTz hold_until;		/* no renewal past this */
} InvHeldLock;

/* Counters, shown by inv_lock_stats() */
typedef struct InvLockCounters
{
	pg_atomic_uint64 acquired;
	pg_atomic_uint64 contended;
	pg_atomic_uint64 timed_out;
	pg_atomic_uint64 released;
	pg_atomic_uint64 renewed;
	pg_atomic_uint64 lapsed;
	pg_atomic_uint64 redis_errors;
	pg_atomic_uint64 reconnects;
	pg_atomic_uint64 releases_dropped;
	pg_atomic_uint64 round_trips;
	pg_atomic_uint64 round_trip_us; /* summed over round_trips */
} InvLockCounters;

typedef struct InvLockShared
{
	LWLock	   *lock;
	pid_t		worker_pid;		/* 0 while no worker runs */
	int			worker_procno;	/* to wake the worker */
	bool		connected;		/* the worker's Redis connection is up */
	TimestampTz connected_since;
	char		last_error[INV_LOCK_ERROR_LEN];
	int			nrequests;		/* MaxBackends */
	int			npending;		/* request slots in state INV_REQ_PENDING */
	int			nawaiting;		/* request slots with awaiting set */
	int			nreleases;		/* size of the release ring */
	int			release_head;	/* next to send */
	int			release_count;	/* queued */
	int			nheld;			/* size of the held-lock table */
	int			held_hwm;		/* no entry at or past this index is in use */
	InvLockCounters counters;
	/* followed by the request slots, the release ring and the held table */
} InvLockShared;

/* lock_shmem.c */
extern InvLockShared *inv_lock_shared;
extern InvLockRequest *inv_lock_requests;
extern InvLockRelease *inv_lock_releases;
extern InvHeldLock *inv_held_locks;
extern void inv_lock_shmem_init(void);
extern bool inv_lock_service_ready(void);
extern InvLockResult inv_lock_call(InvLockOp op, const char *key,
								   const char *token, int ttl_ms, bool renew,
								   long timeout_ms, int64 *fence,
								   char *error);
extern InvLockResult inv_lock_refence(const char *key, const char *token,
									  int64 floor, long timeout_ms,
									  int64 *fence, char *error);
extern InvHeldLock *inv_find_held_lock(const char *key, const char *token);
extern void inv_lock_await_cancel(void);
extern bool inv_lock_post_release(const char *key, const char *token);
extern void inv_lock_note_reservation(const char *key, const char *token,
									  int64 reservation_id,
									  TimestampTz expires_at);

/* lock_worker.c */
extern void inv_lock_worker_register(void);

/* Settings (inventory.c) */
extern char *inv_redis_host;
extern int	inv_redis_port;
extern char *inv_redis_password_file;
extern int	inv_redis_database;
extern int	inv_redis_connect_timeout;
extern int	inv_redis_command_timeout;
extern int	inv_lock_ttl;
extern int	inv_lock_wait_timeout;
extern int	inv_lock_max_hold;
extern int	inv_lock_scope;
extern int	inv_lock_failure_policy;
extern int	inv_max_locks;

/* inventory.lock_scope */
typedef enum InvLockScope
{
	INV_SCOPE_NONE,
	INV_SCOPE_RESERVE,
	INV_SCOPE_ORDER
} InvLockScope;

/* inventory.lock_failure_policy */
typedef enum InvLockFailurePolicy
{
	INV_FAILURE_REFUSE,
	INV_FAILURE_FALLBACK
} InvLockFailurePolicy;

#endif							/* INVENTORY_LOCK_SERVICE_H */
