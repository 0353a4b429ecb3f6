/*-------------------------------------------------------------------------
 *
 * lock_worker.c
 *		The background worker that owns the connection to Redis.
 *
 * The worker waits on its latch.  Each time it wakes it takes every pending
 * request, every queued release and every lease due for renewal, sends them
 * to Redis in one pipeline, waits for the answers on the socket and the
 * latch together (so that a shutdown is seen at once), and hands the answers
 * back.  It never sleeps any other way.
 *
 * The lock protocol, which any other service can follow to take part in
 * the same mutual exclusion:
 *
 *	key		inventory:supplier:<supplier id>:product:<product id>
 *	fence	the same key followed by ":fence", an integer counter
 *	take	SET key token NX PX ttl; if it was set, INCR fence and use the
 *			result as the fencing number.  Both in one script, atomically.
 *	renew	PEXPIRE key ttl, only while GET key is still our token
 *	give	DEL key, only while GET key is still our token
 *	refence	while GET key is still our token, raise fence to at least the
 *			number the stock row last accepted and INCR it: for a fence
 *			counter that Redis lost in a restart or failover
 *
 * A token is 32 random hex digits.  Tokens make release safe: a lock that
 * lapsed and was taken by someone else is never deleted by its old owner.
 * Fencing numbers make stale writes safe: the stock row remembers the last
 * number it accepted and refuses older ones.
 *
 * When Redis cannot be reached, acquisitions are answered "unavailable" at
 * once, and the worker reconnects with exponential backoff, logging each
 * change of state once.
 *
 * Copyright (c) 2026, the inventory authors
 *
 * IDENTIFICATION
 *		src/lock_worker.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <hiredis/hiredis.h>
#include <sys/time.h>

#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/fd.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/proc.h"
#include "tcop/tcopprot.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "inventory.h"
#include "lock_service.h"
#include "redis_sentinel.h"

/* The scripts of the protocol; KEYS[1] is the lock, ARGV[1] the token */
#define INV_SCRIPT_TAKE \
	"if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then " \
	"return redis.call('INCR', KEYS[2]) end return 0"
#define INV_SCRIPT_RENEW \
	"if redis.call('GET', KEYS[1]) == ARGV[1] then " \
	"return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end return 0"
#define INV_SCRIPT_REFENCE \
	"if redis.call('GET', KEYS[1]) == ARGV[1] then " \
	"if tonumber(redis.call('GET', KEYS[2]) or '0') < tonumber(ARGV[2]) then " \
	"redis.call('SET', KEYS[2], ARGV[2]) end " \
	"return redis.call('INCR', KEYS[2]) end return 0"
#define INV_SCRIPT_GIVE \
	"if redis.call('GET', KEYS[1]) == ARGV[1] then " \
	"return redis.call('DEL', KEYS[1]) end return 0"

/* Longest wait between two reconnection attempts */
#define INV_MAX_BACKOFF_MS		5000
/* ... when sentinels name the server: their answer may change any moment */
#define INV_SENTINEL_MAX_BACKOFF_MS	500

/* What one pipelined command is for */
typedef enum InvCommandKind
{
	INV_CMD_REQUEST,			/* a backend's request slot */
	INV_CMD_RELEASE,			/* a queued release, or an abandoned lock */
	INV_CMD_RENEW				/* a lease renewal */
} InvCommandKind;

typedef struct InvCommand
{
	InvCommandKind kind;
	int			slot;			/* request slot, or held-table index */
	InvLockOp	op;
	int			ttl_ms;
	int64		floor;
	char		key[INV_LOCK_KEY_LEN];
	char		token[INV_LOCK_TOKEN_LEN];
	redisReply *reply;
	int			wake_procno;	/* answered: the poster to wake, or -1 */
	int			waiter_procno;	/* given back: a waiter to wake, or -1 */
} InvCommand;

/* The scripts in the order of script_sha[] */
static const char *const inv_scripts[] = {
	INV_SCRIPT_TAKE, INV_SCRIPT_RENEW, INV_SCRIPT_GIVE, INV_SCRIPT_REFENCE
};

#define INV_TAKE	0
#define INV_RENEW	1
#define INV_GIVE	2
#define INV_REFENCE	3
#define INV_NSCRIPTS 4

/* The worker's connection and the settings it was made with */
static redisContext *redis = NULL;
static WaitEventSet *redis_wait_set = NULL;
static char script_sha[INV_NSCRIPTS][41];
static char *connected_host = NULL;
static int	connected_port = 0;
static int	connected_database = 0;
static char *connected_password_file = NULL;
static char *connected_sentinels = NULL;
static char *connected_master_name = NULL;
static char server_desc[INV_REDIS_HOST_LEN + 64];	/* for the log */
static int	backoff_ms = 0;
static TimestampTz next_connect_at = 0;
static bool ever_connected = false;
static bool failure_logged = false;
static bool scripts_lost = false;	/* Redis forgot our scripts, or is no
										 * longer a master: reconnect */

/*
 * Acquisitions sent to Redis whose answer never came back: Redis may have
 * carried them out after all, leaving a lock nobody owns.  Their tokens are
 * given back as soon as the worker is connected again.
 */
#define INV_MAX_UNCERTAIN 1024
static InvLockRelease uncertain[INV_MAX_UNCERTAIN];
static int	nuncertain = 0;

PGDLLEXPORT void inv_lock_worker_main(Datum main_arg);

/*
 * inv_lock_worker_register
 *		Register the lock service worker.  Called from _PG_init while
 *		shared_preload_libraries is processed.
 */
void
inv_lock_worker_register(void)
{
	BackgroundWorker worker;

	memset(&worker, 0, sizeof(worker));
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS |
		BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
	worker.bgw_restart_time = 1;
	strlcpy(worker.bgw_library_name, "inventory", BGW_MAXLEN);
	strlcpy(worker.bgw_function_name, "inv_lock_worker_main", BGW_MAXLEN);
	strlcpy(worker.bgw_name, "inventory lock service", BGW_MAXLEN);
	strlcpy(worker.bgw_type, "inventory lock service", BGW_MAXLEN);
	RegisterBackgroundWorker(&worker);
}

/*
 * inv_set_state
 *		Publish whether Redis is reachable, and log the change once.
 */
static void
inv_set_state(bool connected, const char *error)
{
	bool		was_connected;

	LWLockAcquire(inv_lock_shared->lock, LW_EXCLUSIVE);
	was_connected = inv_lock_shared->connected;
	inv_lock_shared->connected = connected;
	if (connected)
	{
		inv_lock_shared->connected_since = GetCurrentTimestamp();
		inv_lock_shared->last_error[0] = '\0';
	}
	else if (error)
		strlcpy(inv_lock_shared->last_error, error, INV_LOCK_ERROR_LEN);
	LWLockRelease(inv_lock_shared->lock);

	if (connected && !was_connected)
	{
		ereport(LOG,
				(errmsg("inventory lock service connected to Redis at %s",
						server_desc)));
		if (ever_connected)
			pg_atomic_fetch_add_u64(&inv_lock_shared->counters.reconnects, 1);
		ever_connected = true;
		failure_logged = false;
	}
	else if (!connected && (was_connected || !failure_logged))
	{
		ereport(LOG,
				(errmsg("inventory lock service cannot reach Redis at %s",
						server_desc),
				 errdetail_internal("%s", error ? error : "unknown error")));
		failure_logged = true;
	}
}

/*
 * inv_close
 *		Close the connection, if any, and forget what was tied to it.
 */
static void
inv_close(void)
{
	if (redis_wait_set != NULL)
	{
		FreeWaitEventSet(redis_wait_set);
		redis_wait_set = NULL;
	}
	if (redis != NULL)
	{
		redisFree(redis);
		ReleaseExternalFD();
		redis = NULL;
	}
}

/*
 * inv_disconnect
 *		Drop the connection after a failure and schedule the next attempt.
 */
static void
inv_disconnect(const char *error)
{
	inv_close();
	pg_atomic_fetch_add_u64(&inv_lock_shared->counters.redis_errors, 1);
	if (backoff_ms == 0)
		backoff_ms = 100;
	else
		backoff_ms = Min(backoff_ms * 2, inv_sentinel_enabled() ?
						 INV_SENTINEL_MAX_BACKOFF_MS : INV_MAX_BACKOFF_MS);
	next_connect_at = TimestampTzPlusMilliseconds(GetCurrentTimestamp(),
												  backoff_ms);
	inv_set_state(false, error);
}

/*
 * inv_redis_simple
 *		Run one command during connection set-up; true if Redis did not
 *		answer with an error.  On failure error receives the reason.
 */
static bool
inv_redis_simple(char *error, int argc, const char **argv)
{
	redisReply *reply;
	bool		ok;

	reply = redisCommandArgv(redis, argc, argv, NULL);
	if (reply == NULL)
	{
		strlcpy(error, redis->errstr, INV_LOCK_ERROR_LEN);
		return false;
	}
	ok = reply->type != REDIS_REPLY_ERROR;
	if (!ok)
		strlcpy(error, reply->str, INV_LOCK_ERROR_LEN);
	freeReplyObject(reply);
	return ok;
}

/*
 * inv_read_password
 *		Read the Redis password: the first line of
 *		inventory.redis_password_file.  The password never lives in a
 *		setting, because the server logs a setting's new value when the
 *		configuration is reloaded.  On failure error receives the reason.
 */
static bool
inv_read_password(char *password, size_t size, char *error)
{
	FILE	   *file = AllocateFile(inv_redis_password_file, "r");
	size_t		len;

	if (file == NULL)
	{
		snprintf(error, INV_LOCK_ERROR_LEN, "could not open \"%s\": %m",
				 inv_redis_password_file);
		return false;
	}
	if (fgets(password, size, file) == NULL)
		password[0] = '\0';
	FreeFile(file);
	len = strlen(password);
	while (len > 0 && (password[len - 1] == '\n' || password[len - 1] == '\r'))
		password[--len] = '\0';
	if (len == 0)
	{
		snprintf(error, INV_LOCK_ERROR_LEN, "\"%s\" holds no password",
				 inv_redis_password_file);
		return false;
	}
	return true;
}

/*
 * inv_connect
 *		Connect to Redis, authenticate, choose the database and check that
 *		the server is a master.  With inventory.redis_sentinels set, ask the
 *		sentinels first which server that is (redis_sentinel.c); every
 *		reconnection asks again, which is how a failover is followed.  On
 *		failure, schedule a retry.
 */
static void
inv_connect(void)
{
	struct timeval connect_tv;
	struct timeval command_tv;
	char		error[INV_LOCK_ERROR_LEN];
	char		dbtext[16];
	char		master_host[INV_REDIS_HOST_LEN];
	const char *host = inv_redis_host;
	int			port = inv_redis_port;
	redisReply *reply;
	int			i;

	connect_tv.tv_sec = inv_redis_connect_timeout / 1000;
	connect_tv.tv_usec = (inv_redis_connect_timeout % 1000) * 1000;
	command_tv.tv_sec = inv_redis_command_timeout / 1000;
	command_tv.tv_usec = (inv_redis_command_timeout % 1000) * 1000;

	/* Behind Sentinel, the sentinels name the master */
	if (inv_sentinel_enabled())
	{
		snprintf(server_desc, sizeof(server_desc),
				 "the master \"%s\" named by inventory.redis_sentinels",
				 inv_redis_master_name);
		if (!inv_sentinel_find_master(master_host, &port, error))
		{
			inv_disconnect(error);
			return;
		}
		host = master_host;
		snprintf(server_desc, sizeof(server_desc), "%s:%d (master \"%s\")",
				 host, port, inv_redis_master_name);
	}
	else if (host[0] == '/')
		strlcpy(server_desc, host, sizeof(server_desc));
	else
		snprintf(server_desc, sizeof(server_desc), "%s:%d", host, port);

	/* The socket counts against the process's file descriptors */
	if (!AcquireExternalFD())
	{
		inv_disconnect("too many open files in the lock service worker");
		return;
	}
	if (host[0] == '/')
		redis = redisConnectUnixWithTimeout(host, connect_tv);
	else
		redis = redisConnectWithTimeout(host, port, connect_tv);
	if (redis == NULL || redis->err)
	{
		strlcpy(error, redis ? redis->errstr : "out of memory",
				INV_LOCK_ERROR_LEN);
		if (redis == NULL)
			ReleaseExternalFD();
		inv_disconnect(error);
		return;
	}
	redisSetTimeout(redis, command_tv);

	/*
	 * TCP keepalive notices a Redis host that vanished without closing the
	 * connection.  A Unix socket has no such option: asking for it fails
	 * and would leave the context in error.
	 */
	if (host[0] != '/')
		redisEnableKeepAlive(redis);

	/* Authenticate and pick the database */
	if (inv_redis_password_file[0] != '\0')
	{
		char		password[512];
		const char *argv[2];
		bool		ok;

		if (!inv_read_password(password, sizeof(password), error))
		{
			inv_disconnect(error);
			return;
		}
		argv[0] = "AUTH";
		argv[1] = password;
		ok = inv_redis_simple(error, 2, argv);
		explicit_bzero(password, sizeof(password));
		if (!ok)
		{
			inv_disconnect(error);
			return;
		}
	}
	if (inv_redis_database != 0)
	{
		const char *argv[] = {"SELECT", dbtext};

		snprintf(dbtext, sizeof(dbtext), "%d", inv_redis_database);
		if (!inv_redis_simple(error, 2, argv))
		{
			inv_disconnect(error);
			return;
		}
	}

	/* A replica would accept nothing; make sure this is the master */
	reply = redisCommand(redis, "ROLE");
	if (reply == NULL)
	{
		inv_disconnect(redis->errstr);
		return;
	}
	if (reply->type != REDIS_REPLY_ARRAY || reply->elements < 1 ||
		reply->element[0]->type != REDIS_REPLY_STRING ||
		strcmp(reply->element[0]->str, "master") != 0)
	{
		freeReplyObject(reply);
		inv_disconnect(inv_sentinel_enabled() ?
					   "the server the sentinels named is not a Redis master (yet)" :
					   "the server is not a Redis master");
		return;
	}
	freeReplyObject(reply);

	/* Load the scripts once; commands then name them by digest */
	for (i = 0; i < INV_NSCRIPTS; i++)
	{
		const char *argv[] = {"SCRIPT", "LOAD", inv_scripts[i]};

		reply = redisCommandArgv(redis, 3, argv, NULL);
		if (reply == NULL || reply->type != REDIS_REPLY_STRING ||
			reply->len != 40)
		{
			strlcpy(error, reply == NULL ? redis->errstr :
					reply->type == REDIS_REPLY_ERROR ? reply->str :
					"unexpected answer to SCRIPT LOAD", INV_LOCK_ERROR_LEN);
			if (reply)
				freeReplyObject(reply);
			inv_disconnect(error);
			return;
		}
		memcpy(script_sha[i], reply->str, 41);
		freeReplyObject(reply);
	}

	/* Wait on the socket and the latch together, with one set for good */
	redis_wait_set = CreateWaitEventSet(TopMemoryContext, 3);
	AddWaitEventToSet(redis_wait_set, WL_LATCH_SET, PGINVALID_SOCKET,
					  MyLatch, NULL);
	AddWaitEventToSet(redis_wait_set, WL_EXIT_ON_PM_DEATH, PGINVALID_SOCKET,
					  NULL, NULL);
	AddWaitEventToSet(redis_wait_set, WL_SOCKET_READABLE, redis->fd,
					  NULL, NULL);

	/* Remember what we connected with, to notice a change on reload */
	if (connected_host)
		pfree(connected_host);
	if (connected_password_file)
		pfree(connected_password_file);
	if (connected_sentinels)
		pfree(connected_sentinels);
	if (connected_master_name)
		pfree(connected_master_name);
	connected_host = MemoryContextStrdup(TopMemoryContext, inv_redis_host);
	connected_password_file = MemoryContextStrdup(TopMemoryContext,
												  inv_redis_password_file);
	connected_sentinels = MemoryContextStrdup(TopMemoryContext,
											  inv_redis_sentinels);
	connected_master_name = MemoryContextStrdup(TopMemoryContext,
												inv_redis_master_name);
	connected_port = inv_redis_port;
	connected_database = inv_redis_database;
	backoff_ms = 0;
	inv_sentinel_note_server(host, port);
	inv_set_state(true, NULL);

	/* Give back what may have been taken while the answers were lost */
	for (i = 0; i < nuncertain; i++)
		(void) inv_lock_post_release(uncertain[i].key, uncertain[i].token);
	nuncertain = 0;
}

/*
 * inv_settings_changed
 *		Whether a reload changed where or how to connect.
 */
static bool
inv_settings_changed(void)
{
	return connected_host == NULL ||
		strcmp(connected_host, inv_redis_host) != 0 ||
		strcmp(connected_password_file, inv_redis_password_file) != 0 ||
		strcmp(connected_sentinels, inv_redis_sentinels) != 0 ||
		strcmp(connected_master_name, inv_redis_master_name) != 0 ||
		connected_port != inv_redis_port ||
		connected_database != inv_redis_database;
}

/*
 * inv_append
 *		Add one script call to the pipeline.
 */
static void
inv_append(int script, InvCommand *command, bool with_fence)
{
	char		fence_key[INV_LOCK_KEY_LEN + 8];
	char		ttl[24];
	const char *argv[7];
	int			argc = 0;

	/* The last argument is the time-to-live, or the floor of a refence */
	if (command->op == INV_LOCK_REFENCE)
		snprintf(ttl, sizeof(ttl), INT64_FORMAT, command->floor);
	else
		snprintf(ttl, sizeof(ttl), "%d", command->ttl_ms);
	argv[argc++] = "EVALSHA";
	argv[argc++] = script_sha[script];
	argv[argc++] = with_fence ? "2" : "1";
	argv[argc++] = command->key;
	if (with_fence)
	{
		snprintf(fence_key, sizeof(fence_key), "%s:fence", command->key);
		argv[argc++] = fence_key;
	}
	argv[argc++] = command->token;
	argv[argc++] = ttl;
	redisAppendCommandArgv(redis, argc, argv, NULL);
}

/*
 * inv_collect
 *		Gather the work of one round under the LWLock: pending requests,
 *		queued releases, and leases due for renewal.  Returns how many
 *		commands were filled in, at most max_commands, and sets *next_due
 *		to when the next lease will need renewing or forgetting.
 */
static int
inv_collect(InvCommand *commands, int max_commands, bool connected,
			bool full_scan, TimestampTz *next_due)
{
	TimestampTz now = GetCurrentTimestamp();
	int			n = 0;
	int			free_slots;
	int			last_in_use = -1;
	int			i;

	*next_due = TimestampTzPlusMilliseconds(now, 1000);

	LWLockAcquire(inv_lock_shared->lock, LW_EXCLUSIVE);

	/*
	 * Releases go first: a backend's next lock on a product must not reach
	 * Redis ahead of its own release of the previous one.
	 */
	while (inv_lock_shared->release_count > 0 && n < max_commands)
	{
		InvLockRelease *release =
		&inv_lock_releases[inv_lock_shared->release_head];

		commands[n].kind = INV_CMD_RELEASE;
		commands[n].op = INV_LOCK_RELEASE;
		commands[n].ttl_ms = 0;
		strlcpy(commands[n].key, release->key, INV_LOCK_KEY_LEN);
		strlcpy(commands[n].token, release->token, INV_LOCK_TOKEN_LEN);
		n++;
		inv_lock_shared->release_head =
			(inv_lock_shared->release_head + 1) % inv_lock_shared->nreleases;
		inv_lock_shared->release_count--;
	}

	/* Room left in the held table bounds how many locks may be taken now */
	free_slots = inv_lock_shared->nheld;
	for (i = 0; i < inv_lock_shared->held_hwm; i++)
		if (inv_held_locks[i].in_use)
			free_slots--;

	/*
	 * Pending requests: their count ends the scan early, so that a round
	 * does not read every backend's slot.  A full scan now and then (when
	 * the worker wakes by its timeout) keeps a miscount from stranding one.
	 */
	for (i = 0; i < inv_lock_shared->nrequests && n < max_commands &&
		 (inv_lock_shared->npending > 0 || full_scan); i++)
	{
		InvLockRequest *request = &inv_lock_requests[i];

		if (request->state != INV_REQ_PENDING)
			continue;
		if (inv_lock_shared->npending > 0)
			inv_lock_shared->npending--;
		if (request->abandoned)
		{
			request->state = INV_REQ_FREE;
			continue;
		}
		if (request->op == INV_LOCK_ACQUIRE && free_slots-- <= 0)
		{
			request->result = INV_LOCK_FAILED;
			strlcpy(request->error,
					"this node already holds inventory.max_locks locks",
					INV_LOCK_ERROR_LEN);
			request->state = INV_REQ_DONE;
			SetLatch(&ProcGlobal->allProcs[request->procno].procLatch);
			continue;
		}
		request->state = INV_REQ_SENT;
		commands[n].kind = INV_CMD_REQUEST;
		commands[n].slot = i;
		commands[n].op = request->op;
		commands[n].ttl_ms = request->ttl_ms;
		commands[n].floor = request->floor;
		strlcpy(commands[n].key, request->key, INV_LOCK_KEY_LEN);
		strlcpy(commands[n].token, request->token, INV_LOCK_TOKEN_LEN);
		n++;
	}

	/*
	 * Renew an order-scope lease once a third of its time-to-live is left,
	 * until its maximum hold; forget any lease that has run out.  *next_due
	 * becomes the earliest moment another lease needs attention.
	 */
	for (i = 0; i < inv_lock_shared->held_hwm; i++)
	{
		InvHeldLock *held = &inv_held_locks[i];

		if (!held->in_use)
			continue;
		last_in_use = i;
		if (held->expires_at <= now)
		{
			held->in_use = false;
			pg_atomic_fetch_add_u64(&inv_lock_shared->counters.lapsed, 1);
			continue;
		}
		if (!held->in_use)
			continue;
		if (!held->renew || !connected || n >= max_commands)
		{
			/* Still wake up in time to forget it when it runs out */
			if (held->expires_at < *next_due)
				*next_due = held->expires_at;
			continue;
		}
		if (held->expires_at > TimestampTzPlusMilliseconds(now, held->ttl_ms / 3))
		{
			TimestampTz due = TimestampTzPlusMilliseconds(held->expires_at,
														  -(held->ttl_ms / 3));

			if (due < *next_due)
				*next_due = due;
			continue;
		}
		if (now >= held->hold_until)
		{
			held->renew = false;
			continue;
		}
		commands[n].kind = INV_CMD_RENEW;
		commands[n].slot = i;
		commands[n].op = INV_LOCK_ACQUIRE;
		commands[n].ttl_ms = held->ttl_ms;
		strlcpy(commands[n].key, held->key, INV_LOCK_KEY_LEN);
		strlcpy(commands[n].token, held->token, INV_LOCK_TOKEN_LEN);
		n++;
	}

	inv_lock_shared->held_hwm = last_in_use + 1;

	LWLockRelease(inv_lock_shared->lock);
	return n;
}

/*
 * inv_exchange
 *		Send the pipeline and read one reply per command, waiting on the
 *		socket and the latch.  Returns false, with error set, if the
 *		connection failed; replies already read are kept.
 */
static bool
inv_exchange(InvCommand *commands, int n, char *error)
{
	TimestampTz started = GetCurrentTimestamp();
	TimestampTz deadline;
	int			done = 0;
	int			i;

	for (i = 0; i < n; i++)
	{
		if (commands[i].kind == INV_CMD_REQUEST &&
			commands[i].op == INV_LOCK_ACQUIRE)
			inv_append(INV_TAKE, &commands[i], true);
		else if (commands[i].kind == INV_CMD_REQUEST &&
				 commands[i].op == INV_LOCK_REFENCE)
			inv_append(INV_REFENCE, &commands[i], true);
		else if (commands[i].kind == INV_CMD_RENEW)
			inv_append(INV_RENEW, &commands[i], false);
		else
			inv_append(INV_GIVE, &commands[i], false);
	}
	while (!done)
	{
		if (redisBufferWrite(redis, &done) == REDIS_ERR)
		{
			strlcpy(error, redis->errstr, INV_LOCK_ERROR_LEN);
			return false;
		}
	}

	deadline = TimestampTzPlusMilliseconds(started, inv_redis_command_timeout);
	for (i = 0; i < n;)
	{
		void	   *reply = NULL;
		long		remaining;
		WaitEvent	event;

		if (redisGetReplyFromReader(redis, &reply) == REDIS_ERR)
		{
			strlcpy(error, redis->errstr, INV_LOCK_ERROR_LEN);
			return false;
		}
		if (reply != NULL)
		{
			commands[i++].reply = reply;
			continue;
		}

		/* Not all there yet: wait for the socket, or a signal */
		remaining = TimestampDifferenceMilliseconds(GetCurrentTimestamp(),
													deadline);
		if (remaining <= 0)
		{
			strlcpy(error,
					"Redis did not answer within inventory.redis_command_timeout",
					INV_LOCK_ERROR_LEN);
			return false;
		}
		if (WaitEventSetWait(redis_wait_set, remaining, &event, 1,
							 PG_WAIT_EXTENSION) == 0)
			continue;			/* timed out: the deadline check decides */
		if (event.events & WL_LATCH_SET)
		{
			ResetLatch(MyLatch);
			CHECK_FOR_INTERRUPTS();
		}
		if ((event.events & WL_SOCKET_READABLE) &&
			redisBufferRead(redis) == REDIS_ERR)
		{
			strlcpy(error, redis->errstr, INV_LOCK_ERROR_LEN);
			return false;
		}
	}

	pg_atomic_fetch_add_u64(&inv_lock_shared->counters.round_trips, 1);
	pg_atomic_fetch_add_u64(&inv_lock_shared->counters.round_trip_us,
							(uint64) (GetCurrentTimestamp() - started));
	return true;
}

/*
 * inv_remember_lock
 *		Enter a freshly taken lock in the held table.  Caller must hold the
 *		LWLock exclusively.
 */
static void
inv_remember_lock(InvLockRequest *request)
{
	TimestampTz now = GetCurrentTimestamp();
	int			i;

	for (i = 0; i < inv_lock_shared->nheld; i++)
	{
		InvHeldLock *held = &inv_held_locks[i];

		if (held->in_use)
			continue;
		held->in_use = true;
		held->renew = request->renew;
		strlcpy(held->key, request->key, INV_LOCK_KEY_LEN);
		strlcpy(held->token, request->token, INV_LOCK_TOKEN_LEN);
		held->fence = request->fence;
		held->reservation_id = 0;
		held->database = request->database;
		held->ttl_ms = request->ttl_ms;
		held->acquired_at = now;
		held->expires_at = TimestampTzPlusMilliseconds(now, request->ttl_ms);
		held->hold_until = TimestampTzPlusMilliseconds(now,
													   inv_lock_max_hold * 1000L);
		if (i >= inv_lock_shared->held_hwm)
			inv_lock_shared->held_hwm = i + 1;
		return;
	}
	/* A full table only costs the renewals and the listing */
}

/*
 * inv_forget_lock
 *		Remove a lock from the held table.  Caller must hold the LWLock
 *		exclusively.
 */
static void
inv_forget_lock(const char *key, const char *token)
{
	InvHeldLock *held = inv_find_held_lock(key, token);

	if (held != NULL)
		held->in_use = false;
}

/*
 * inv_refence_lock
 *		Record a held lock's new fencing number.  Caller must hold the
 *		LWLock exclusively.
 */
static void
inv_refence_lock(const char *key, const char *token, int64 fence)
{
	InvHeldLock *held = inv_find_held_lock(key, token);

	if (held != NULL)
		held->fence = fence;
}

/*
 * inv_take_waiter
 *		The PGPROC number of the backend that has waited longest for key,
 *		which is no longer marked waiting, or -1 if none waits.  Called when
 *		key has been given back: waking one waiter, not all, lets it retry
 *		at once without a stampede on Redis.  Caller must hold the LWLock
 *		exclusively.
 */
static int
inv_take_waiter(const char *key)
{
	InvLockRequest *best = NULL;
	int			i;

	if (inv_lock_shared->nawaiting <= 0)
		return -1;
	for (i = 0; i < inv_lock_shared->nrequests; i++)
	{
		InvLockRequest *request = &inv_lock_requests[i];

		if (request->awaiting && strcmp(request->key, key) == 0 &&
			(best == NULL || request->awaiting_since < best->awaiting_since))
			best = request;
	}
	if (best == NULL)
		return -1;
	best->awaiting = false;
	inv_lock_shared->nawaiting--;
	return best->procno;
}

/*
 * inv_answer
 *		Turn the replies into answers, and wake the waiting backends.  With
 *		connected false, every command without a reply is answered
 *		"unavailable".  Locks won for abandoned requests are queued for
 *		release in *orphans.
 */
static void
inv_answer(InvCommand *commands, int n, bool connected, const char *error,
		   InvCommand *orphans, int *norphans)
{
	InvLockCounters *c = &inv_lock_shared->counters;
	int			i;

	LWLockAcquire(inv_lock_shared->lock, LW_EXCLUSIVE);
	for (i = 0; i < n; i++)
	{
		InvCommand *command = &commands[i];
		redisReply *reply = command->reply;
		InvLockResult result;
		int64		value = 0;

		command->wake_procno = -1;
		command->waiter_procno = -1;

		/* What did Redis say? */
		if (reply == NULL)
		{
			result = INV_LOCK_UNAVAILABLE;
		}
		else if (reply->type == REDIS_REPLY_INTEGER)
		{
			value = reply->integer;
			if (command->kind == INV_CMD_REQUEST &&
				command->op == INV_LOCK_ACQUIRE)
				result = value > 0 ? INV_LOCK_OK : INV_LOCK_BUSY;
			else
				result = value > 0 ? INV_LOCK_OK : INV_LOCK_NOT_OWNER;
		}
		else
		{
			result = INV_LOCK_FAILED;
			pg_atomic_fetch_add_u64(&c->redis_errors, 1);
			if (reply->type == REDIS_REPLY_ERROR &&
				(strncmp(reply->str, "NOSCRIPT", 8) == 0 ||
				 inv_redis_error_demoted(reply->str)))
				scripts_lost = true;
		}

		switch (command->kind)
		{
			case INV_CMD_REQUEST:
				{
					InvLockRequest *request = &inv_lock_requests[command->slot];

					if (reply == NULL && command->op == INV_LOCK_ACQUIRE &&
						nuncertain < INV_MAX_UNCERTAIN)
					{
						strlcpy(uncertain[nuncertain].key, command->key,
								INV_LOCK_KEY_LEN);
						strlcpy(uncertain[nuncertain].token, command->token,
								INV_LOCK_TOKEN_LEN);
						nuncertain++;
					}
					request->result = result;
					request->fence = value;
					if (reply && reply->type == REDIS_REPLY_ERROR)
						strlcpy(request->error, reply->str, INV_LOCK_ERROR_LEN);
					else if (reply == NULL)
						strlcpy(request->error, error ? error : "",
								INV_LOCK_ERROR_LEN);
					else
						request->error[0] = '\0';

					if (command->op == INV_LOCK_ACQUIRE && result == INV_LOCK_OK)
					{
						pg_atomic_fetch_add_u64(&c->acquired, 1);
						if (request->abandoned)
							orphans[(*norphans)++] = *command;
						else
							inv_remember_lock(request);
					}
					else if (command->op == INV_LOCK_ACQUIRE &&
							 result == INV_LOCK_BUSY)
					{
						pg_atomic_fetch_add_u64(&c->contended, 1);

						/* The poster backs off; wake it when the key is free */
						if (!request->abandoned && !request->awaiting)
						{
							request->awaiting = true;
							inv_lock_shared->nawaiting++;
							if (request->awaiting_since == 0)
								request->awaiting_since = GetCurrentTimestamp();
						}
					}
					else if (command->op == INV_LOCK_REFENCE &&
							 result == INV_LOCK_OK)
						inv_refence_lock(command->key, command->token, value);
					else if (command->op == INV_LOCK_RELEASE)
					{
						inv_forget_lock(command->key, command->token);
						if (result == INV_LOCK_OK)
							pg_atomic_fetch_add_u64(&c->released, 1);
						if (reply != NULL)
							command->waiter_procno = inv_take_waiter(command->key);
					}

					if (request->abandoned)
						request->state = INV_REQ_FREE;
					else
					{
						request->state = INV_REQ_DONE;
						command->wake_procno = request->procno;
					}
					break;
				}
			case INV_CMD_RELEASE:
				inv_forget_lock(command->key, command->token);
				if (result == INV_LOCK_OK)
					pg_atomic_fetch_add_u64(&c->released, 1);
				else if (result == INV_LOCK_UNAVAILABLE)
					pg_atomic_fetch_add_u64(&c->releases_dropped, 1);
				if (reply != NULL)
					command->waiter_procno = inv_take_waiter(command->key);
				break;
			case INV_CMD_RENEW:
				{
					InvHeldLock *held = &inv_held_locks[command->slot];

					if (!held->in_use || strcmp(held->token, command->token) != 0)
						break;
					if (result == INV_LOCK_OK)
					{
						held->expires_at =
							TimestampTzPlusMilliseconds(GetCurrentTimestamp(),
														held->ttl_ms);
						pg_atomic_fetch_add_u64(&c->renewed, 1);
					}
					else if (result == INV_LOCK_NOT_OWNER)
					{
						/* Gone already: it lapsed, or was taken over */
						held->in_use = false;
						pg_atomic_fetch_add_u64(&c->lapsed, 1);
					}
					break;
				}
		}

		if (reply)
			freeReplyObject(reply);
		command->reply = NULL;
	}
	LWLockRelease(inv_lock_shared->lock);

	/*
	 * Wake the posters only now: woken under the LWLock, each would queue
	 * for it at once.  A poster that gave up meanwhile gets a spurious
	 * wake-up, which latches allow.
	 */
	for (i = 0; i < n; i++)
	{
		if (commands[i].wake_procno >= 0)
			SetLatch(&ProcGlobal->allProcs[commands[i].wake_procno].procLatch);
		if (commands[i].waiter_procno >= 0)
			SetLatch(&ProcGlobal->allProcs[commands[i].waiter_procno].procLatch);
	}
}

/*
 * inv_answer_in_flight
 *		Answer "unavailable" to every request a worker took but never
 *		answered, and wake its owner.  Caller must hold the LWLock
 *		exclusively.
 */
static void
inv_answer_in_flight(void)
{
	int			i;

	for (i = 0; i < inv_lock_shared->nrequests; i++)
	{
		InvLockRequest *request = &inv_lock_requests[i];

		if (request->state != INV_REQ_SENT)
			continue;
		if (request->abandoned)
		{
			request->state = INV_REQ_FREE;
			continue;
		}
		request->result = INV_LOCK_UNAVAILABLE;
		strlcpy(request->error, "the lock service worker restarted",
				INV_LOCK_ERROR_LEN);
		request->state = INV_REQ_DONE;
		SetLatch(&ProcGlobal->allProcs[request->procno].procLatch);
	}
}

/*
 * inv_lock_worker_exit
 *		before_shmem_exit callback: the worker is gone, and so is Redis as
 *		far as the backends can tell; nobody will answer what it had taken.
 */
static void
inv_lock_worker_exit(int code, Datum arg)
{
	LWLockAcquire(inv_lock_shared->lock, LW_EXCLUSIVE);
	if (inv_lock_shared->worker_pid == MyProcPid)
	{
		inv_lock_shared->worker_pid = 0;
		inv_lock_shared->worker_procno = -1;
		inv_lock_shared->connected = false;
		inv_answer_in_flight();
	}
	LWLockRelease(inv_lock_shared->lock);
}

/*
 * inv_lock_worker_main
 *		Entry point of the lock service worker.
 */
void
inv_lock_worker_main(Datum main_arg)
{
	int			max_commands;
	InvCommand *commands;
	InvCommand *orphans;
	bool		idle_wake = true;

	/* Reload on SIGHUP; exit at once on SIGTERM: there is nothing to flush */
	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();

	/* No database: only a place in pg_stat_activity, for operators */
	BackgroundWorkerInitializeConnection(NULL, NULL, 0);

	if (inv_lock_shared == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("inventory lock service started without its shared memory")));

	/* Claim the service; a second worker would only compete for requests */
	LWLockAcquire(inv_lock_shared->lock, LW_EXCLUSIVE);
	if (inv_lock_shared->worker_pid != 0)
	{
		pid_t		running = inv_lock_shared->worker_pid;

		LWLockRelease(inv_lock_shared->lock);
		ereport(LOG,
				(errmsg("inventory lock service is already running under PID %d",
						(int) running)));
		return;
	}
	inv_lock_shared->worker_pid = MyProcPid;
	inv_lock_shared->worker_procno = MyProc->pgprocno;
	inv_lock_shared->connected = false;
	inv_answer_in_flight();		/* left by a worker that died mid-round */
	LWLockRelease(inv_lock_shared->lock);
	before_shmem_exit(inv_lock_worker_exit, (Datum) 0);

	pgstat_report_appname("inventory lock service");
	ereport(LOG, (errmsg("inventory lock service started")));

	/* One round never holds more commands than there are sources */
	max_commands = inv_lock_shared->nrequests + 2 * inv_lock_shared->nheld;
	commands = MemoryContextAllocZero(TopMemoryContext,
									  sizeof(InvCommand) * max_commands);
	orphans = MemoryContextAllocZero(TopMemoryContext,
									 sizeof(InvCommand) * inv_lock_shared->nrequests);

	for (;;)
	{
		int			n;
		int			norphans = 0;
		char		error[INV_LOCK_ERROR_LEN];
		bool		ok = true;
		long		timeout;
		TimestampTz next_due;

		CHECK_FOR_INTERRUPTS();

		/* A reload may point us at another server */
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
			if (redis != NULL && inv_settings_changed())
			{
				inv_close();
				next_connect_at = 0;
				backoff_ms = 0;
				inv_set_state(false, "settings changed; reconnecting");
			}
		}

		/* Connect when due */
		if (redis == NULL && GetCurrentTimestamp() >= next_connect_at)
			inv_connect();

		/* Do one round of work */
		error[0] = '\0';
		n = inv_collect(commands, max_commands, redis != NULL, idle_wake,
						&next_due);
		idle_wake = false;
		timeout = TimestampDifferenceMilliseconds(GetCurrentTimestamp(),
												  next_due);
		if (n > 0)
		{
			if (redis != NULL)
				ok = inv_exchange(commands, n, error);
			else
				ok = false;
			if (!ok && redis != NULL)
				inv_disconnect(error);
			if (!ok && error[0] == '\0')
			{
				LWLockAcquire(inv_lock_shared->lock, LW_SHARED);
				strlcpy(error, inv_lock_shared->last_error, INV_LOCK_ERROR_LEN);
				LWLockRelease(inv_lock_shared->lock);
			}
			inv_answer(commands, n, ok, error, orphans, &norphans);
			if (scripts_lost)
			{
				scripts_lost = false;
				inv_disconnect("Redis lost the lock scripts, or is no longer a master");
			}

			/* Give back what abandoned requests won */
			if (norphans > 0)
			{
				int			i;

				for (i = 0; i < norphans; i++)
					inv_lock_post_release(orphans[i].key, orphans[i].token);
			}
			if (redis != NULL)
				timeout = 0;	/* there may be more */
		}

		/* Sleep until there is work, a lease needs renewing, or a retry */
		if (timeout > 0 && redis == NULL)
			timeout = Max(1, Min(timeout,
								 TimestampDifferenceMilliseconds(GetCurrentTimestamp(),
																 next_connect_at)));
		if (timeout > 0)
		{
			idle_wake = (WaitLatch(MyLatch,
								   WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
								   timeout, PG_WAIT_EXTENSION) &
						 WL_LATCH_SET) == 0;
			ResetLatch(MyLatch);
		}
	}
}
