/*-------------------------------------------------------------------------
 *
 * redis_sentinel.c
 *		Finding the Redis master through Redis Sentinel.
 *
 * With inventory.redis_sentinels set, the lock service worker no longer
 * connects to inventory.redis_host: each time it (re)connects it asks the
 * sentinels, one after another, which server is the master of
 * inventory.redis_master_name (SENTINEL get-master-addr-by-name), and then
 * connects there; the worker's own ROLE check makes sure the server really
 * is a master.  Every loss of the connection, and every error by which the
 * server says it is no longer a master (READONLY), leads back here, so a
 * failover is followed without restarting PostgreSQL.  The sentinel that
 * answered last is asked first next time; a sentinel that does not answer
 * moves the search on to the next one.
 *
 * One pass over the sentinels is bounded: each sentinel gets its share of
 * inventory.redis_connect_timeout to accept the connection and of
 * inventory.redis_command_timeout to answer, so that the worker never
 * blocks for longer than it would on one plain connection attempt.
 *
 * Nothing here may raise an error while a hiredis context or reply is
 * alive: the worker would leak them.  Every step reports through an error
 * buffer instead, and the caller (lock_worker.c) decides.
 *
 * The worker also publishes here which server it is on and which sentinel
 * named it, in a small shared struct of its own guarded by a spinlock, for
 * inv_lock_server().
 *
 * Copyright (c) 2026, the inventory authors
 *
 * IDENTIFICATION
 *		src/redis_sentinel.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <ctype.h>
#include <hiredis/hiredis.h>
#include <sys/time.h>

#include "access/htup_details.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "storage/fd.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "storage/spin.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/timestamp.h"

#include "inventory.h"
#include "lock_service.h"
#include "redis_sentinel.h"

/* Longest inventory.redis_sentinels value the parser copies */
#define INV_SENTINELS_TEXT_LEN	4096

/* Room for "host:port" */
#define INV_ADDR_LEN			(INV_REDIS_HOST_LEN + 8)

/* Shortest time a sentinel is given to connect or answer */
#define INV_SENTINEL_MIN_WAIT_MS	10

/* One sentinel of the list */
typedef struct InvSentinelAddr
{
	char		host[INV_REDIS_HOST_LEN];
	int			port;
} InvSentinelAddr;

/* What the worker publishes about its server; guarded by mutex */
typedef struct InvSentinelShared
{
	slock_t		mutex;
	bool		via_sentinel;	/* the server was named by a sentinel */
	char		server[INV_ADDR_LEN];	/* the server connected to last */
	char		sentinel[INV_ADDR_LEN]; /* the sentinel that named it */
	char		named[INV_ADDR_LEN];	/* the master sentinels named last */
	int64		master_changes; /* times the named master changed */
	TimestampTz master_changed_at;
	char		sentinel_error[INV_LOCK_ERROR_LEN];
} InvSentinelShared;

/* Settings */
char	   *inv_redis_sentinels = NULL;
char	   *inv_redis_master_name = NULL;

static InvSentinelShared *inv_sentinel_shared = NULL;
static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

/* The worker's place in the list: the sentinel to ask first */
static int	first_sentinel = 0;

PG_FUNCTION_INFO_V1(inv_lock_server);

static bool inv_check_redis_sentinels(char **newval, void **extra,
									  GucSource source);
static bool inv_check_redis_master_name(char **newval, void **extra,
										GucSource source);

/*
 * inv_parse_sentinels
 *		Split a "host:port, host:port" list into addrs[], at most
 *		INV_MAX_SENTINELS of them, and return how many there are; -1 when
 *		the list is malformed, with the reason in detail.  An IPv6 address
 *		goes in brackets: "[::1]:26379".  Allocates nothing, so that a GUC
 *		check hook and the worker in the middle of a connection can use it.
 */
static int
inv_parse_sentinels(const char *value, InvSentinelAddr *addrs,
					char *detail, size_t detail_len)
{
	char		copy[INV_SENTINELS_TEXT_LEN];
	char	   *entry;
	int			n = 0;

	if (strlen(value) >= sizeof(copy))
	{
		snprintf(detail, detail_len,
				 "The list must be shorter than %d bytes.",
				 INV_SENTINELS_TEXT_LEN);
		return -1;
	}
	strlcpy(copy, value, sizeof(copy));

	entry = copy;
	while (entry != NULL)
	{
		char	   *next = strchr(entry, ',');
		char	   *end;
		char	   *host;
		char	   *colon;
		char	   *digits;
		long		port = 0;

		if (next != NULL)
			*next++ = '\0';

		/* Trim the blanks around the entry; an empty list is no list */
		while (isspace((unsigned char) *entry))
			entry++;
		end = entry + strlen(entry);
		while (end > entry && isspace((unsigned char) end[-1]))
			*--end = '\0';
		if (*entry == '\0')
		{
			if (n == 0 && next == NULL)
				return 0;
			snprintf(detail, detail_len, "The list has an empty entry.");
			return -1;
		}

		/* host:port, or [v6 address]:port */
		host = entry;
		if (*entry == '[')
		{
			char	   *close = strchr(entry, ']');

			if (close == NULL || close[1] != ':')
			{
				snprintf(detail, detail_len,
						 "Entry \"%s\" is not of the form [address]:port.",
						 entry);
				return -1;
			}
			host = entry + 1;
			*close = '\0';
			colon = close + 1;
		}
		else
		{
			colon = strchr(entry, ':');
			if (colon == NULL || strchr(colon + 1, ':') != NULL)
			{
				snprintf(detail, detail_len,
						 "Entry \"%s\" is not of the form host:port.", entry);
				return -1;
			}
		}
		*colon = '\0';
		digits = colon + 1;
		if (*host == '\0' || strlen(host) >= INV_REDIS_HOST_LEN)
		{
			snprintf(detail, detail_len,
					 "A sentinel's host must be 1 to %d bytes long.",
					 INV_REDIS_HOST_LEN - 1);
			return -1;
		}
		if (*digits == '\0' || strspn(digits, "0123456789") != strlen(digits) ||
			strlen(digits) > 5 || (port = strtol(digits, NULL, 10)) < 1 ||
			port > 65535)
		{
			snprintf(detail, detail_len,
					 "The port of sentinel \"%s\" must be a number from 1 to 65535.",
					 host);
			return -1;
		}
		if (n >= INV_MAX_SENTINELS)
		{
			snprintf(detail, detail_len,
					 "At most %d sentinels can be listed.", INV_MAX_SENTINELS);
			return -1;
		}
		strlcpy(addrs[n].host, host, INV_REDIS_HOST_LEN);
		addrs[n].port = (int) port;
		n++;
		entry = next;
	}
	return n;
}

/*
 * inv_check_redis_sentinels
 *		GUC check hook: the sentinel list must parse.
 */
static bool
inv_check_redis_sentinels(char **newval, void **extra, GucSource source)
{
	InvSentinelAddr addrs[INV_MAX_SENTINELS];
	char		detail[256];

	if (*newval == NULL)
		return true;
	if (inv_parse_sentinels(*newval, addrs, detail, sizeof(detail)) < 0)
	{
		GUC_check_errdetail("%s", detail);
		GUC_check_errhint("List the sentinels as \"host:port, host:port\".");
		return false;
	}
	return true;
}

/*
 * inv_check_redis_master_name
 *		GUC check hook: a master name is one word, as Sentinel's own
 *		configuration has it.
 */
static bool
inv_check_redis_master_name(char **newval, void **extra, GucSource source)
{
	const char *c;

	if (*newval == NULL)
		return true;
	if (strlen(*newval) >= INV_REDIS_HOST_LEN)
	{
		GUC_check_errdetail("The master name must be shorter than %d bytes.",
							INV_REDIS_HOST_LEN);
		return false;
	}
	for (c = *newval; *c; c++)
	{
		if (isspace((unsigned char) *c) || iscntrl((unsigned char) *c))
		{
			GUC_check_errdetail("The master name must not contain blanks or control characters.");
			return false;
		}
	}
	return true;
}

/*
 * inv_sentinel_define_settings
 *		Define inventory.redis_sentinels and inventory.redis_master_name.
 *		Called from _PG_init with the other lock settings.
 */
void
inv_sentinel_define_settings(void)
{
	DefineCustomStringVariable("inventory.redis_sentinels",
							   "Redis Sentinel instances that name the lock service's master.",
							   "A comma-separated list of host:port.  When set, "
							   "inventory.redis_host and inventory.redis_port are not used.",
							   &inv_redis_sentinels,
							   "",
							   PGC_SIGHUP,
							   GUC_LIST_INPUT,
							   inv_check_redis_sentinels,
							   NULL,
							   NULL);

	DefineCustomStringVariable("inventory.redis_master_name",
							   "Name under which the sentinels monitor the lock service's master.",
							   NULL,
							   &inv_redis_master_name,
							   "",
							   PGC_SIGHUP,
							   0,
							   inv_check_redis_master_name,
							   NULL,
							   NULL);
}

/*
 * inv_sentinel_shmem_request
 *		shmem_request_hook: reserve the space for the published state.
 */
static void
inv_sentinel_shmem_request(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();

	RequestAddinShmemSpace(MAXALIGN(sizeof(InvSentinelShared)));
}

/*
 * inv_sentinel_shmem_startup
 *		shmem_startup_hook: find or create the published state.
 */
static void
inv_sentinel_shmem_startup(void)
{
	bool		found;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();

	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	inv_sentinel_shared = ShmemInitStruct("inventory redis sentinel",
										  sizeof(InvSentinelShared), &found);
	if (!found)
	{
		memset(inv_sentinel_shared, 0, sizeof(InvSentinelShared));
		SpinLockInit(&inv_sentinel_shared->mutex);
	}
	LWLockRelease(AddinShmemInitLock);
}

/*
 * inv_sentinel_shmem_init
 *		Install the shared memory hooks.  Called from _PG_init while
 *		shared_preload_libraries is processed.
 */
void
inv_sentinel_shmem_init(void)
{
	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = inv_sentinel_shmem_request;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = inv_sentinel_shmem_startup;
}

/*
 * inv_sentinel_enabled
 *		Whether the worker finds its server through the sentinels.
 */
bool
inv_sentinel_enabled(void)
{
	return inv_redis_sentinels != NULL && inv_redis_sentinels[0] != '\0';
}

/*
 * inv_ms_timeval
 *		A number of milliseconds as a struct timeval.
 */
static struct timeval
inv_ms_timeval(int ms)
{
	struct timeval tv;

	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	return tv;
}

/*
 * inv_ask_sentinel
 *		Ask one sentinel for the master's address.  Returns true with host
 *		and port set, or false with the reason in error.  The context and
 *		the reply are freed before returning, whatever happens.
 */
static bool
inv_ask_sentinel(const InvSentinelAddr *sentinel, int connect_ms,
				 int command_ms, char *host, int *port, char *error)
{
	redisContext *c;
	redisReply *reply;
	const char *argv[3];
	bool		ok = false;

	/* The socket counts against the worker's file descriptors */
	if (!AcquireExternalFD())
	{
		snprintf(error, INV_LOCK_ERROR_LEN,
				 "sentinel %s:%d: too many open files",
				 sentinel->host, sentinel->port);
		return false;
	}
	c = redisConnectWithTimeout(sentinel->host, sentinel->port,
								inv_ms_timeval(connect_ms));
	if (c == NULL || c->err)
	{
		snprintf(error, INV_LOCK_ERROR_LEN, "sentinel %s:%d: %s",
				 sentinel->host, sentinel->port,
				 c ? c->errstr : "out of memory");
		if (c)
			redisFree(c);
		ReleaseExternalFD();
		return false;
	}
	redisSetTimeout(c, inv_ms_timeval(command_ms));

	/* Both layers: the connection (no reply), then the reply itself */
	argv[0] = "SENTINEL";
	argv[1] = "get-master-addr-by-name";
	argv[2] = inv_redis_master_name;
	reply = redisCommandArgv(c, 3, argv, NULL);
	if (reply == NULL)
		snprintf(error, INV_LOCK_ERROR_LEN, "sentinel %s:%d: %s",
				 sentinel->host, sentinel->port, c->errstr);
	else if (reply->type == REDIS_REPLY_ERROR)
		snprintf(error, INV_LOCK_ERROR_LEN, "sentinel %s:%d: %s",
				 sentinel->host, sentinel->port, reply->str);
	else if (reply->type == REDIS_REPLY_NIL ||
			 (reply->type == REDIS_REPLY_ARRAY && reply->elements == 0))
		snprintf(error, INV_LOCK_ERROR_LEN,
				 "sentinel %s:%d knows no master named \"%s\"",
				 sentinel->host, sentinel->port, inv_redis_master_name);
	else if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 2 ||
			 reply->element[0]->type != REDIS_REPLY_STRING ||
			 reply->element[1]->type != REDIS_REPLY_STRING ||
			 reply->element[0]->len == 0 ||
			 reply->element[0]->len >= INV_REDIS_HOST_LEN)
		snprintf(error, INV_LOCK_ERROR_LEN,
				 "sentinel %s:%d: unexpected answer to get-master-addr-by-name",
				 sentinel->host, sentinel->port);
	else
	{
		const char *digits = reply->element[1]->str;
		long		value = 0;

		if (strspn(digits, "0123456789") == strlen(digits) &&
			strlen(digits) >= 1 && strlen(digits) <= 5)
			value = strtol(digits, NULL, 10);
		if (value < 1 || value > 65535)
			snprintf(error, INV_LOCK_ERROR_LEN,
					 "sentinel %s:%d named a master with port \"%s\"",
					 sentinel->host, sentinel->port, digits);
		else
		{
			strlcpy(host, reply->element[0]->str, INV_REDIS_HOST_LEN);
			*port = (int) value;
			ok = true;
		}
	}

	if (reply)
		freeReplyObject(reply);
	redisFree(c);
	ReleaseExternalFD();
	return ok;
}

/*
 * inv_sentinel_find_master
 *		Ask the sentinels in turn, from the one that answered last, for the
 *		address of inventory.redis_master_name.  Returns true with host (of
 *		INV_REDIS_HOST_LEN bytes) and *port set, or false with the reason in
 *		error (INV_LOCK_ERROR_LEN bytes).  Publishes the answer for
 *		inv_lock_server().  Called by the lock service worker only.
 */
bool
inv_sentinel_find_master(char *host, int *port, char *error)
{
	InvSentinelAddr addrs[INV_MAX_SENTINELS];
	char		detail[256];
	char		last[INV_LOCK_ERROR_LEN];
	char		named[INV_ADDR_LEN];
	int			n;
	int			connect_ms;
	int			command_ms;
	int			i;

	/* The settings were checked when set; check the pair here */
	n = inv_parse_sentinels(inv_redis_sentinels, addrs, detail,
							sizeof(detail));
	if (n <= 0)
	{
		snprintf(error, INV_LOCK_ERROR_LEN,
				 "inventory.redis_sentinels is not usable");
		goto failed;
	}
	if (inv_redis_master_name == NULL || inv_redis_master_name[0] == '\0')
	{
		snprintf(error, INV_LOCK_ERROR_LEN,
				 "inventory.redis_sentinels is set but inventory.redis_master_name is not");
		goto failed;
	}

	/* Each sentinel gets its share of one connection attempt's time */
	connect_ms = Max(inv_redis_connect_timeout / n, INV_SENTINEL_MIN_WAIT_MS);
	command_ms = Max(inv_redis_command_timeout / n, INV_SENTINEL_MIN_WAIT_MS);
	if (first_sentinel >= n)
		first_sentinel = 0;

	last[0] = '\0';
	for (i = 0; i < n; i++)
	{
		int			which = (first_sentinel + i) % n;

		if (!inv_ask_sentinel(&addrs[which], connect_ms, command_ms,
							  host, port, last))
		{
			ereport(DEBUG1,
					(errmsg_internal("inventory lock service: %s", last)));
			continue;
		}

		/* Found: remember who answered, and whether the master moved */
		first_sentinel = which;
		snprintf(named, sizeof(named), "%s:%d", host, *port);
		if (inv_sentinel_shared != NULL)
		{
			TimestampTz now = GetCurrentTimestamp();

			SpinLockAcquire(&inv_sentinel_shared->mutex);
			if (inv_sentinel_shared->named[0] != '\0' &&
				strcmp(inv_sentinel_shared->named, named) != 0)
			{
				inv_sentinel_shared->master_changes++;
				inv_sentinel_shared->master_changed_at = now;
			}
			strlcpy(inv_sentinel_shared->named, named, INV_ADDR_LEN);
			snprintf(inv_sentinel_shared->sentinel, INV_ADDR_LEN, "%s:%d",
					 addrs[which].host, addrs[which].port);
			inv_sentinel_shared->sentinel_error[0] = '\0';
			SpinLockRelease(&inv_sentinel_shared->mutex);
		}
		return true;
	}

	/* Nobody answered: start with the next one next time */
	first_sentinel = (first_sentinel + 1) % n;
	if (n == 1)
		strlcpy(error, last, INV_LOCK_ERROR_LEN);
	else
		snprintf(error, INV_LOCK_ERROR_LEN,
				 "none of %d sentinels named master \"%s\"; last: %s",
				 n, inv_redis_master_name, last);

failed:
	if (inv_sentinel_shared != NULL)
	{
		SpinLockAcquire(&inv_sentinel_shared->mutex);
		strlcpy(inv_sentinel_shared->sentinel_error, error,
				INV_LOCK_ERROR_LEN);
		SpinLockRelease(&inv_sentinel_shared->mutex);
	}
	return false;
}

/*
 * inv_redis_error_demoted
 *		Whether a Redis error says the server is no longer a master: a
 *		replica refuses writes with READONLY (inside a script, the error
 *		is wrapped in the script's error text).
 */
bool
inv_redis_error_demoted(const char *message)
{
	return message != NULL && strstr(message, "READONLY") != NULL;
}

/*
 * inv_sentinel_note_server
 *		Publish the server the worker has just connected to.
 */
void
inv_sentinel_note_server(const char *host, int port)
{
	if (inv_sentinel_shared == NULL)
		return;
	SpinLockAcquire(&inv_sentinel_shared->mutex);
	inv_sentinel_shared->via_sentinel = inv_sentinel_enabled();
	if (host[0] == '/')
		strlcpy(inv_sentinel_shared->server, host, INV_ADDR_LEN);
	else
		snprintf(inv_sentinel_shared->server, INV_ADDR_LEN, "%s:%d",
				 host, port);
	if (!inv_sentinel_shared->via_sentinel)
		inv_sentinel_shared->sentinel[0] = '\0';
	SpinLockRelease(&inv_sentinel_shared->mutex);
}

/*
 * inv_lock_server()
 *		One row: where this node's lock service finds Redis (a host, or
 *		sentinels), the server it is on or was on last, the sentinel that
 *		named it, whether it is connected, and how often the sentinels
 *		have named a new master since the server started.
 */
Datum
inv_lock_server(PG_FUNCTION_ARGS)
{
	InvSentinelShared copy;
	TupleDesc	tupdesc;
	Datum		values[9];
	bool		nulls[9] = {false};
	bool		connected;
	TimestampTz connected_since;

	if (inv_lock_shared == NULL || inv_sentinel_shared == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("the inventory lock service is not running"),
				 errdetail("The library was not loaded at server start."),
				 errhint("Add \"inventory\" to shared_preload_libraries and restart the server.")));
	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "inv_lock_server: return type must be a row type");

	/* Copy both states first, so that no lock is held while building */
	SpinLockAcquire(&inv_sentinel_shared->mutex);
	memcpy(&copy, inv_sentinel_shared, sizeof(copy));
	SpinLockRelease(&inv_sentinel_shared->mutex);
	LWLockAcquire(inv_lock_shared->lock, LW_SHARED);
	connected = inv_lock_shared->connected;
	connected_since = inv_lock_shared->connected_since;
	LWLockRelease(inv_lock_shared->lock);

	values[0] = CStringGetTextDatum(inv_sentinel_enabled() ?
									"sentinel" : "host");
	values[1] = CStringGetTextDatum(inv_redis_master_name);
	nulls[1] = !inv_sentinel_enabled();
	values[2] = CStringGetTextDatum(copy.server);
	nulls[2] = copy.server[0] == '\0';
	values[3] = CStringGetTextDatum(copy.sentinel);
	nulls[3] = copy.sentinel[0] == '\0' || !copy.via_sentinel;
	values[4] = BoolGetDatum(connected);
	values[5] = TimestampTzGetDatum(connected_since);
	nulls[5] = !connected;
	values[6] = Int64GetDatum(copy.master_changes);
	values[7] = TimestampTzGetDatum(copy.master_changed_at);
	nulls[7] = copy.master_changes == 0;
	values[8] = CStringGetTextDatum(copy.sentinel_error);
	nulls[8] = copy.sentinel_error[0] == '\0';

	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(tupdesc),
													  values, nulls)));
}
