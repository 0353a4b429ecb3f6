/*-------------------------------------------------------------------------
 *
 * direct_client.c
 *		The baseline of bench/locks: take and give back a lock straight
 *		from a client to Redis, with the extension's own protocol.
 *
 * Each of CLIENTS processes opens its own connection and, on its own key,
 * runs PAIRS times:
 *
 *	take	EVAL INV_SCRIPT_TAKE 2 key key:fence token ttl	(must answer > 0)
 *	give	EVAL INV_SCRIPT_GIVE 1 key token				(must answer 1)
 *
 * one command at a time (send, wait for the reply), with a fresh 32-hex-digit
 * token per pair, as inv_lock_probe() does through the lock service worker.
 * The script texts are copied from src/lock_worker.c; keep them in step with
 * it.  With -m evalsha the scripts are loaded once (SCRIPT LOAD) and called
 * by digest (EVALSHA sha ...), as the worker does since it learned to; with
 * -m eval (the default) the script text goes with every call.
 *
 * The processes start together (released by the parent through a pipe once
 * all are connected); the parent times from the release to the last exit.
 * Prints one line of key=value pairs:
 *
 *	mode=M clients=C pairs=P elapsed_s=... pairs_per_s=... us_per_pair=...
 *
 * us_per_pair is the mean time of one lock+unlock pair seen by one client
 * (elapsed time / pairs per client).
 *
 * Usage: direct_client [-h host] [-p port] [-n pairs] [-c clients]
 *						[-t ttl_ms] [-k key_prefix] [-m eval|evalsha]
 *
 * Build: cc -O2 -o direct_client direct_client.c -lhiredis
 *
 *-------------------------------------------------------------------------
 */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <hiredis/hiredis.h>

/* Copied from src/lock_worker.c (INV_SCRIPT_TAKE, INV_SCRIPT_GIVE) */
#define INV_SCRIPT_TAKE \
	"if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then " \
	"return redis.call('INCR', KEYS[2]) end return 0"
#define INV_SCRIPT_GIVE \
	"if redis.call('GET', KEYS[1]) == ARGV[1] then " \
	"return redis.call('DEL', KEYS[1]) end return 0"

static const char *host = "127.0.0.1";
static int	port = 6379;
static long pairs = 10000;
static int	clients = 1;
static int	ttl_ms = 10000;
static const char *key_prefix = "bench:direct";
static int	use_evalsha = 0;

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* xorshift64*: tokens only need to differ, not to be unguessable */
static uint64_t rng_state;

static uint64_t
rng_next(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * UINT64_C(2685821657736338717);
}

static void
new_token(char *token)
{
	static const char hex[] = "0123456789abcdef";
	uint64_t	a = rng_next();
	uint64_t	b = rng_next();
	int			i;

	for (i = 0; i < 16; i++)
	{
		token[i] = hex[(a >> (4 * i)) & 15];
		token[16 + i] = hex[(b >> (4 * i)) & 15];
	}
	token[32] = '\0';
}

/* Run one EVAL; return its integer answer, or exit on anything else */
static long long
eval(redisContext *c, int argc, const char **argv)
{
	redisReply *reply = redisCommandArgv(c, argc, argv, NULL);
	long long	value;

	if (reply == NULL)
	{
		fprintf(stderr, "direct_client: %s\n", c->errstr);
		exit(2);
	}
	if (reply->type != REDIS_REPLY_INTEGER)
	{
		fprintf(stderr, "direct_client: unexpected reply type %d%s%s\n",
				reply->type, reply->type == REDIS_REPLY_ERROR ? ": " : "",
				reply->type == REDIS_REPLY_ERROR ? reply->str : "");
		exit(2);
	}
	value = reply->integer;
	freeReplyObject(reply);
	return value;
}

/* SCRIPT LOAD a script into sha (41 bytes); exit on failure */
static void
load_script(redisContext *c, const char *script, char *sha)
{
	const char *argv[] = {"SCRIPT", "LOAD", script};
	redisReply *reply = redisCommandArgv(c, 3, argv, NULL);

	if (reply == NULL || reply->type != REDIS_REPLY_STRING || reply->len != 40)
	{
		fprintf(stderr, "direct_client: SCRIPT LOAD failed: %s\n",
				reply == NULL ? c->errstr :
				reply->type == REDIS_REPLY_ERROR ? reply->str : "unexpected reply");
		exit(2);
	}
	memcpy(sha, reply->str, 41);
	freeReplyObject(reply);
}

/* One client: connect, wait for the start signal, run the pairs */
static void
client_main(int id, int ready_fd, int go_fd)
{
	struct timeval tv = {5, 0};
	redisContext *c;
	char		key[128];
	char		fence_key[160];
	char		ttl[24];
	char		token[33];
	char		take_sha[41];
	char		give_sha[41];
	const char *take[7];
	const char *give[5];
	char		byte;
	long		i;

	rng_state = (uint64_t) getpid() * UINT64_C(0x9E3779B97F4A7C15) ^
		(uint64_t) (now_s() * 1e9);
	if (rng_state == 0)
		rng_state = 1;

	c = redisConnectWithTimeout(host, port, tv);
	if (c == NULL || c->err)
	{
		fprintf(stderr, "direct_client: cannot connect to %s:%d: %s\n",
				host, port, c ? c->errstr : "out of memory");
		exit(2);
	}
	redisSetTimeout(c, tv);

	snprintf(key, sizeof(key), "%s:%d:%d", key_prefix, (int) getpid(), id);
	snprintf(fence_key, sizeof(fence_key), "%s:fence", key);
	snprintf(ttl, sizeof(ttl), "%d", ttl_ms);

	if (use_evalsha)
	{
		load_script(c, INV_SCRIPT_TAKE, take_sha);
		load_script(c, INV_SCRIPT_GIVE, give_sha);
	}
	take[0] = use_evalsha ? "EVALSHA" : "EVAL";
	take[1] = use_evalsha ? take_sha : INV_SCRIPT_TAKE;
	take[2] = "2";
	take[3] = key;
	take[4] = fence_key;
	take[5] = token;
	take[6] = ttl;
	give[0] = use_evalsha ? "EVALSHA" : "EVAL";
	give[1] = use_evalsha ? give_sha : INV_SCRIPT_GIVE;
	give[2] = "1";
	give[3] = key;
	give[4] = token;

	/* Connected: tell the parent, then wait for everyone */
	if (write(ready_fd, "r", 1) != 1 || read(go_fd, &byte, 1) != 1)
		exit(2);

	for (i = 0; i < pairs; i++)
	{
		new_token(token);
		if (eval(c, 7, take) <= 0)
		{
			fprintf(stderr, "direct_client: key %s was busy\n", key);
			exit(3);
		}
		if (eval(c, 5, give) != 1)
		{
			fprintf(stderr, "direct_client: key %s no longer ours\n", key);
			exit(3);
		}
	}

	/* Leave nothing behind but the fence counter */
	{
		const char *del[] = {"DEL", fence_key};
		redisReply *reply = redisCommandArgv(c, 2, del, NULL);

		if (reply)
			freeReplyObject(reply);
	}
	redisFree(c);
	exit(0);
}

static void
usage(void)
{
	fprintf(stderr,
			"usage: direct_client [-h host] [-p port] [-n pairs] [-c clients]\n"
			"                     [-t ttl_ms] [-k key_prefix] [-m eval|evalsha]\n");
	exit(1);
}

int
main(int argc, char **argv)
{
	int			opt;
	int			ready[2];
	int			go[2];
	int			i;
	int			failed = 0;
	double		started;
	double		elapsed;
	pid_t	   *pids;

	while ((opt = getopt(argc, argv, "h:p:n:c:t:k:m:")) != -1)
	{
		switch (opt)
		{
			case 'h':
				host = optarg;
				break;
			case 'p':
				port = atoi(optarg);
				break;
			case 'n':
				pairs = atol(optarg);
				break;
			case 'c':
				clients = atoi(optarg);
				break;
			case 't':
				ttl_ms = atoi(optarg);
				break;
			case 'k':
				key_prefix = optarg;
				break;
			case 'm':
				if (strcmp(optarg, "eval") == 0)
					use_evalsha = 0;
				else if (strcmp(optarg, "evalsha") == 0)
					use_evalsha = 1;
				else
					usage();
				break;
			default:
				usage();
		}
	}
	if (optind != argc || pairs < 1 || clients < 1 || clients > 1024 ||
		port < 1 || port > 65535 || ttl_ms < 1)
		usage();

	if (pipe(ready) != 0 || pipe(go) != 0)
	{
		perror("direct_client: pipe");
		return 2;
	}
	pids = calloc(clients, sizeof(pid_t));
	for (i = 0; i < clients; i++)
	{
		pids[i] = fork();
		if (pids[i] < 0)
		{
			perror("direct_client: fork");
			return 2;
		}
		if (pids[i] == 0)
		{
			close(ready[0]);
			close(go[1]);
			client_main(i, ready[1], go[0]);
		}
	}
	close(ready[1]);
	close(go[0]);

	/* Wait until every client is connected, then release them together */
	for (i = 0; i < clients; i++)
	{
		char		byte;

		if (read(ready[0], &byte, 1) != 1)
		{
			fprintf(stderr, "direct_client: a client failed before starting\n");
			for (i = 0; i < clients; i++)
				kill(pids[i], SIGTERM);
			return 2;
		}
	}
	started = now_s();
	for (i = 0; i < clients; i++)
		if (write(go[1], "g", 1) != 1)
			return 2;

	for (i = 0; i < clients; i++)
	{
		int			status;

		if (waitpid(pids[i], &status, 0) < 0 ||
			!WIFEXITED(status) || WEXITSTATUS(status) != 0)
			failed++;
	}
	elapsed = now_s() - started;
	if (failed)
	{
		fprintf(stderr, "direct_client: %d client(s) failed\n", failed);
		return 2;
	}

	printf("mode=%s clients=%d pairs=%ld elapsed_s=%.6f pairs_per_s=%.1f us_per_pair=%.3f\n",
		   use_evalsha ? "evalsha" : "eval", clients, pairs * clients, elapsed,
		   pairs * clients / elapsed, elapsed * 1e6 / pairs);
	return 0;
}
