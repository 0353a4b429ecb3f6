/*
 * test/alerts/listener.c
 *		A tiny LISTEN client for the alerts suite.
 *
 * Usage: listener CONNINFO OUTFILE [SILENCE_SECONDS [CHANNEL]]
 *
 * Connects (the PG* environment variables apply), LISTENs on CHANNEL
 * (default inventory_low_stock), prints "listening" on stdout once the
 * LISTEN has taken effect, then appends every notification's payload to
 * OUTFILE, one payload a line, flushed at once.  It exits 0 after
 * SILENCE_SECONDS (default 30) without a notification, or on SIGTERM or
 * SIGINT; 1 if the connection fails or is lost.
 *
 * Payloads are written verbatim: the extension's payload is JSON, which
 * never holds a raw line break, so one line is one payload.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <time.h>

#include <libpq-fe.h>

static volatile sig_atomic_t stop_requested = 0;

static void
handle_stop(int signo)
{
	(void) signo;
	stop_requested = 1;
}

/* Write every pending notification; return how many there were. */
static int
drain(PGconn *conn, FILE *out)
{
	PGnotify   *notify;
	int			count = 0;

	while ((notify = PQnotifies(conn)) != NULL)
	{
		fprintf(out, "%s\n", notify->extra);
		PQfreemem(notify);
		count++;
	}
	fflush(out);
	return count;
}

static double
now_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int
main(int argc, char **argv)
{
	const char *conninfo;
	const char *channel = "inventory_low_stock";
	double		silence = 30;
	double		last_news;
	struct sigaction action;
	PGconn	   *conn;
	PGresult   *result;
	FILE	   *out;
	char	   *command;

	if (argc < 3 || argc > 5)
	{
		fprintf(stderr, "usage: %s CONNINFO OUTFILE [SILENCE_SECONDS [CHANNEL]]\n",
				argv[0]);
		return 2;
	}
	conninfo = argv[1];
	if (argc >= 4)
		silence = atof(argv[3]);
	if (argc >= 5)
		channel = argv[4];
	if (silence <= 0)
	{
		fprintf(stderr, "listener: SILENCE_SECONDS must be positive\n");
		return 2;
	}

	/* No SA_RESTART: a signal must interrupt select() */
	memset(&action, 0, sizeof(action));
	action.sa_handler = handle_stop;
	sigemptyset(&action.sa_mask);
	sigaction(SIGTERM, &action, NULL);
	sigaction(SIGINT, &action, NULL);

	out = fopen(argv[2], "a");
	if (out == NULL)
	{
		fprintf(stderr, "listener: cannot open %s: %s\n", argv[2], strerror(errno));
		return 1;
	}

	conn = PQconnectdb(conninfo);
	if (PQstatus(conn) != CONNECTION_OK)
	{
		fprintf(stderr, "listener: %s", PQerrorMessage(conn));
		PQfinish(conn);
		return 1;
	}
	command = PQescapeIdentifier(conn, channel, strlen(channel));
	{
		char		sql[512];

		snprintf(sql, sizeof(sql), "LISTEN %s", command);
		result = PQexec(conn, sql);
	}
	PQfreemem(command);
	if (PQresultStatus(result) != PGRES_COMMAND_OK)
	{
		fprintf(stderr, "listener: LISTEN failed: %s", PQerrorMessage(conn));
		PQclear(result);
		PQfinish(conn);
		return 1;
	}
	PQclear(result);
	printf("listening\n");
	fflush(stdout);

	last_news = now_seconds();
	while (!stop_requested)
	{
		int			sock = PQsocket(conn);
		double		left = silence - (now_seconds() - last_news);
		fd_set		readable;
		struct timeval timeout;
		int			ready;

		if (left <= 0)
			break;
		FD_ZERO(&readable);
		FD_SET(sock, &readable);
		timeout.tv_sec = (long) left;
		timeout.tv_usec = (long) ((left - (long) left) * 1e6);
		ready = select(sock + 1, &readable, NULL, NULL, &timeout);
		if (ready < 0)
		{
			if (errno == EINTR)
				continue;
			fprintf(stderr, "listener: select: %s\n", strerror(errno));
			break;
		}
		if (ready == 0)
			continue;
		if (!PQconsumeInput(conn))
		{
			fprintf(stderr, "listener: connection lost: %s", PQerrorMessage(conn));
			drain(conn, out);
			fclose(out);
			PQfinish(conn);
			return 1;
		}
		if (drain(conn, out) > 0)
			last_news = now_seconds();
	}

	/* Whatever arrived with the signal */
	PQconsumeInput(conn);
	drain(conn, out);
	fclose(out);
	PQfinish(conn);
	return 0;
}
