/*-------------------------------------------------------------------------
 *
 * inventory_alerts.c
 *		inventory-alerts: delivers the inventory extension's low-stock alerts.
 *
 * The daemon LISTENs on the channel the extension NOTIFYs when a product's
 * available stock falls below its threshold.  At start-up, on every
 * notification, and every --poll seconds (for retries that come due), it
 * claims due deliveries from the extension's outbox with
 * inventory.inv_alert_claim() and sends each through its channel: email by
 * handing the ready-made message to a sendmail-compatible command, Slack and
 * SMS by POSTing the ready-made JSON body to the configured webhook.  Each
 * delivery is then marked delivered, or failed, which schedules a retry
 * with backoff; one failing delivery never holds up the others.  If the
 * database goes away, the daemon reconnects with backoff and picks up what
 * is due, so nothing raised meanwhile is lost.
 *
 * Messages and JSON bodies are built by the database, so nothing here
 * escapes or formats user data.
 *
 * Copyright (c) 2026, the inventory authors
 *
 * IDENTIFICATION
 *		src/alerts/inventory_alerts.c
 *
 *-------------------------------------------------------------------------
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <libpq-fe.h>

#define ALERTS_CHANNEL		"inventory_low_stock"
#define ALERTS_VERSION		"1.0"
#define MAX_RECONNECT_WAIT	30

/* What the daemon was told to do */
typedef struct AlertsConfig
{
	char	   *dbname;			/* a connection string or database name */
	char	   *consumer;		/* name recorded on claimed deliveries */
	char	   *sendmail;		/* command that reads a message on stdin */
	char	   *slack_webhook;
	char	   *sms_webhook;
	int			batch;			/* deliveries claimed at a time */
	int			lease;			/* seconds a claim lasts */
	int			max_attempts;
	int			http_timeout;	/* seconds */
	int			poll;			/* seconds between looks for due retries */
	bool		once;			/* deliver what is due, then exit */
	bool		verbose;
} AlertsConfig;

static AlertsConfig config = {
	.dbname = NULL,
	.consumer = NULL,
	.sendmail = "/usr/sbin/sendmail -t -i",
	.slack_webhook = NULL,
	.sms_webhook = NULL,
	.batch = 10,
	.lease = 60,
	.max_attempts = 10,
	.http_timeout = 10,
	.poll = 5,
	.once = false,
	.verbose = false
};

static volatile sig_atomic_t stop_requested = 0;

static const struct option long_options[] = {
	{"dbname", required_argument, NULL, 'd'},
	{"config", required_argument, NULL, 'c'},
	{"consumer", required_argument, NULL, 'n'},
	{"sendmail", required_argument, NULL, 's'},
	{"slack-webhook", required_argument, NULL, 'S'},
	{"sms-webhook", required_argument, NULL, 'M'},
	{"batch", required_argument, NULL, 'b'},
	{"lease", required_argument, NULL, 'l'},
	{"max-attempts", required_argument, NULL, 'a'},
	{"http-timeout", required_argument, NULL, 't'},
	{"poll", required_argument, NULL, 'p'},
	{"once", no_argument, NULL, '1'},
	{"verbose", no_argument, NULL, 'v'},
	{"help", no_argument, NULL, 'h'},
	{"version", no_argument, NULL, 'V'},
	{NULL, 0, NULL, 0}
};

static void say(const char *format,...) __attribute__((format(printf, 1, 2)));

/*
 * say
 *		Log a line to stderr with a timestamp.
 */
static void
say(const char *format,...)
{
	va_list		args;
	time_t		now = time(NULL);
	char		stamp[32];

	strftime(stamp, sizeof(stamp), "%Y-%m-%d %H:%M:%S", localtime(&now));
	fprintf(stderr, "%s inventory-alerts: ", stamp);
	va_start(args, format);
	vfprintf(stderr, format, args);
	va_end(args);
	fputc('\n', stderr);
}

static void
usage(void)
{
	printf("inventory-alerts delivers low-stock alerts raised by the inventory extension.\n\n"
		   "Usage:\n  inventory-alerts [OPTION]...\n\n"
		   "Options:\n"
		   "  -d, --dbname=CONNINFO     database to serve (connection string or name;\n"
		   "                            the PG* environment variables apply)\n"
		   "  -c, --config=FILE         read options from FILE, one \"name = value\" a line,\n"
		   "                            names as the long options (e.g. slack-webhook)\n"
		   "      --consumer=NAME       name recorded on claimed deliveries\n"
		   "                            (default: host name and process id)\n"
		   "      --sendmail=COMMAND    command that sends an email read on stdin\n"
		   "                            (default: \"/usr/sbin/sendmail -t -i\")\n"
		   "      --slack-webhook=URL   where Slack messages are POSTed\n"
		   "      --sms-webhook=URL     where SMS messages are POSTed\n"
		   "      --batch=N             deliveries claimed at a time (default: 10)\n"
		   "      --lease=SECONDS       how long a claim lasts (default: 60)\n"
		   "      --max-attempts=N      attempts before a delivery is given up (default: 10)\n"
		   "      --http-timeout=SECONDS  limit on one webhook call (default: 10)\n"
		   "      --poll=SECONDS        how often to look for retries that came due (default: 5)\n"
		   "      --once                deliver what is due now, then exit\n"
		   "  -v, --verbose             log every delivery\n"
		   "  -h, --help                show this help, then exit\n"
		   "  -V, --version             show the version, then exit\n\n"
		   "The daemon LISTENs on \"%s\", claims due deliveries with\n"
		   "inventory.inv_alert_claim(), and marks each delivered or failed.\n",
		   ALERTS_CHANNEL);
}

/*
 * parse_int
 *		A whole number from an option, within bounds, or exit.
 */
static int
parse_int(const char *name, const char *value, int min, int max)
{
	char	   *end;
	long		number;

	errno = 0;
	number = strtol(value, &end, 10);
	if (errno != 0 || *value == '\0' || *end != '\0' ||
		number < min || number > max)
	{
		fprintf(stderr, "inventory-alerts: invalid value \"%s\" for --%s: expected a whole number from %d to %d\n",
				value, name, min, max);
		exit(2);
	}
	return (int) number;
}

/*
 * apply_option
 *		Set one option, from the command line or the config file.
 */
static void
apply_option(int code, const char *name, const char *value)
{
	switch (code)
	{
		case 'd':
			config.dbname = strdup(value);
			break;
		case 'n':
			config.consumer = strdup(value);
			break;
		case 's':
			config.sendmail = strdup(value);
			break;
		case 'S':
			config.slack_webhook = strdup(value);
			break;
		case 'M':
			config.sms_webhook = strdup(value);
			break;
		case 'b':
			config.batch = parse_int(name, value, 1, 1000);
			break;
		case 'l':
			config.lease = parse_int(name, value, 1, 86400);
			break;
		case 'a':
			config.max_attempts = parse_int(name, value, 1, 1000);
			break;
		case 't':
			config.http_timeout = parse_int(name, value, 1, 3600);
			break;
		case 'p':
			config.poll = parse_int(name, value, 1, 3600);
			break;
		case '1':
			config.once = true;
			break;
		case 'v':
			config.verbose = true;
			break;
	}
}

/*
 * trim
 *		Strip leading and trailing white space in place.
 */
static char *
trim(char *line)
{
	char	   *end;

	while (*line == ' ' || *line == '\t')
		line++;
	end = line + strlen(line);

	while (end > line && (end[-1] == ' ' || end[-1] == '\t' ||
						  end[-1] == '\n' || end[-1] == '\r'))
		*--end = '\0';
	return line;
}

/*
 * read_config_file
 *		Apply "name = value" lines; # starts a comment.  Exits on an unknown
 *		name or a malformed line, naming it.
 */
static void
read_config_file(const char *path)
{
	FILE	   *file = fopen(path, "r");
	char		line[4096];
	int			lineno = 0;

	if (file == NULL)
	{
		fprintf(stderr, "inventory-alerts: could not open config file \"%s\": %s\n",
				path, strerror(errno));
		exit(2);
	}
	while (fgets(line, sizeof(line), file) != NULL)
	{
		char	   *text = trim(line);
		char	   *equals;
		char	   *name;
		char	   *value;
		const struct option *option;

		lineno++;
		if (*text == '\0' || *text == '#')
			continue;
		equals = strchr(text, '=');
		if (equals == NULL)
		{
			fprintf(stderr, "inventory-alerts: %s:%d: expected \"name = value\"\n",
					path, lineno);
			exit(2);
		}
		*equals = '\0';
		name = trim(text);
		value = trim(equals + 1);
		for (option = long_options; option->name != NULL; option++)
			if (strcmp(option->name, name) == 0)
				break;
		if (option->name == NULL || option->val == 'c' || option->val == 'h' ||
			option->val == 'V')
		{
			fprintf(stderr, "inventory-alerts: %s:%d: unknown option \"%s\"\n",
					path, lineno, name);
			exit(2);
		}
		if (option->has_arg == no_argument)
		{
			if (strcmp(value, "true") == 0 || strcmp(value, "on") == 0 ||
				strcmp(value, "1") == 0)
				apply_option(option->val, name, value);
			continue;
		}
		apply_option(option->val, name, value);
	}
	fclose(file);
}

/*
 * handle_stop
 *		SIGTERM and SIGINT: finish the delivery under way, then exit.  The
 *		rest of a claimed batch is left to be claimed again once its lease
 *		runs out.
 */
static void
handle_stop(int signo)
{
	(void) signo;
	stop_requested = 1;
}

/*
 * send_email
 *		Hand a ready-made message to the sendmail command; true if it
 *		exited with status 0.
 */
static bool
send_email(const char *message, char *error, size_t error_size)
{
	FILE	   *pipe = popen(config.sendmail, "w");
	int			status;

	if (pipe == NULL)
	{
		snprintf(error, error_size, "could not run \"%s\": %s",
				 config.sendmail, strerror(errno));
		return false;
	}
	fputs(message, pipe);
	status = pclose(pipe);
	if (status == -1 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
	{
		snprintf(error, error_size, "\"%s\" failed with status %d",
				 config.sendmail, status == -1 ? -1 : WEXITSTATUS(status));
		return false;
	}
	return true;
}

/*
 * discard_body
 *		libcurl write callback: the webhook's answer body is not needed.
 */
static size_t
discard_body(char *data, size_t size, size_t count, void *context)
{
	(void) data;
	(void) context;
	return size * count;
}

/*
 * post_json
 *		POST a JSON body to a webhook; true on a 2xx answer.
 */
static bool
post_json(const char *url, const char *body, char *error, size_t error_size)
{
	CURL	   *curl;
	struct curl_slist *headers = NULL;
	CURLcode	result;
	long		status = 0;

	if (url == NULL)
	{
		snprintf(error, error_size, "no webhook is configured for this channel");
		return false;
	}
	curl = curl_easy_init();
	if (curl == NULL)
	{
		snprintf(error, error_size, "could not start an HTTP request");
		return false;
	}
	headers = curl_slist_append(headers, "Content-Type: application/json");
	curl_easy_setopt(curl, CURLOPT_URL, url);
	curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(curl, CURLOPT_TIMEOUT, (long) config.http_timeout);
	curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, discard_body);
	result = curl_easy_perform(curl);
	if (result == CURLE_OK)
		curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
	curl_slist_free_all(headers);
	curl_easy_cleanup(curl);

	if (result != CURLE_OK)
	{
		snprintf(error, error_size, "%s", curl_easy_strerror(result));
		return false;
	}
	if (status < 200 || status > 299)
	{
		snprintf(error, error_size, "the webhook answered HTTP %ld", status);
		return false;
	}
	return true;
}

/*
 * mark
 *		Record a delivery's outcome; false if the connection failed.
 */
static bool
mark(PGconn *conn, const char *delivery_id, bool delivered, const char *error)
{
	PGresult   *result;
	char		attempts[16];
	bool		ok;

	snprintf(attempts, sizeof(attempts), "%d", config.max_attempts);
	if (delivered)
	{
		const char *params[] = {delivery_id, config.consumer};

		result = PQexecParams(conn,
							  "SELECT inventory.inv_alert_delivered($1::bigint, $2)",
							  2, NULL, params, NULL, NULL, 0);
	}
	else
	{
		const char *params[] = {delivery_id, config.consumer, error, attempts};

		result = PQexecParams(conn,
							  "SELECT inventory.inv_alert_failed($1::bigint, $2, $3, $4::integer)",
							  4, NULL, params, NULL, NULL, 0);
	}
	ok = PQresultStatus(result) == PGRES_TUPLES_OK;
	if (!ok)
		say("could not record delivery %s: %s", delivery_id,
			PQerrorMessage(conn));
	else if (PQgetisnull(result, 0, 0))
		say("delivery %s was claimed by another consumer meanwhile", delivery_id);
	PQclear(result);
	return ok;
}

/*
 * still_claimed
 *		Renew this consumer's claim on a delivery just before sending it:
 *		1 if the claim held, 0 if it had lapsed, -1 if the connection failed.
 */
static int
still_claimed(PGconn *conn, const char *delivery_id, const char *lease)
{
	const char *params[] = {delivery_id, config.consumer, lease};
	PGresult   *result;
	int			held;

	result = PQexecParams(conn,
						  "SELECT inventory.inv_alert_extend($1::bigint, $2, $3::interval)",
						  3, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(result) != PGRES_TUPLES_OK)
	{
		say("could not renew the claim on delivery %s: %s", delivery_id,
			PQerrorMessage(conn));
		PQclear(result);
		return -1;
	}
	held = PQgetisnull(result, 0, 0) ? 0 : 1;
	PQclear(result);
	return held;
}

/*
 * deliver_due
 *		Claim and deliver everything due, batch by batch.  Returns false if
 *		the connection failed.
 */
static bool
deliver_due(PGconn *conn)
{
	char		batch[16];
	char		lease[32];

	snprintf(batch, sizeof(batch), "%d", config.batch);
	snprintf(lease, sizeof(lease), "%d seconds", config.lease);

	while (!stop_requested)
	{
		const char *params[] = {config.consumer, batch, lease};
		PGresult   *claimed;
		int			row;

		claimed = PQexecParams(conn,
							   "SELECT delivery_id, channel, target, message, attempts"
							   " FROM inventory.inv_alert_claim($1, $2::integer, $3::interval)",
							   3, NULL, params, NULL, NULL, 0);
		if (PQresultStatus(claimed) != PGRES_TUPLES_OK)
		{
			say("could not claim deliveries: %s", PQerrorMessage(conn));
			PQclear(claimed);
			return false;
		}
		if (PQntuples(claimed) == 0)
		{
			PQclear(claimed);
			return true;
		}

		for (row = 0; row < PQntuples(claimed) && !stop_requested; row++)
		{
			const char *delivery_id = PQgetvalue(claimed, row, 0);
			const char *channel = PQgetvalue(claimed, row, 1);
			const char *target = PQgetvalue(claimed, row, 2);
			const char *message = PQgetvalue(claimed, row, 3);
			char		error[512] = "";
			bool		sent;
			int			still_ours = still_claimed(conn, delivery_id, lease);

			/*
			 * The batch's claim may have run out while earlier items were
			 * sent; another consumer may then hold this one, so leave it.
			 */
			if (still_ours < 0)
			{
				PQclear(claimed);
				return false;
			}
			if (still_ours == 0)
			{
				say("delivery %s: claim lapsed before sending; left to its new holder",
					delivery_id);
				continue;
			}

			if (strcmp(channel, "email") == 0)
				sent = send_email(message, error, sizeof(error));
			else if (strcmp(channel, "slack") == 0)
				sent = post_json(config.slack_webhook, message, error, sizeof(error));
			else
				sent = post_json(config.sms_webhook, message, error, sizeof(error));

			if (sent && config.verbose)
				say("delivered %s to %s %s", delivery_id, channel, target);
			if (!sent)
				say("delivery %s to %s %s failed (attempt %s): %s", delivery_id,
					channel, target, PQgetvalue(claimed, row, 4), error);
			if (!mark(conn, delivery_id, sent, error))
			{
				PQclear(claimed);
				return false;
			}
		}
		PQclear(claimed);
	}
	return true;
}

/*
 * connect_and_listen
 *		Connect and LISTEN; NULL on failure, with the reason logged.
 */
static PGconn *
connect_and_listen(void)
{
	const char *keywords[] = {"dbname", "application_name", NULL};
	const char *values[] = {config.dbname, "inventory-alerts", NULL};
	PGconn	   *conn;
	PGresult   *result;

	conn = PQconnectdbParams(keywords, values, 1);
	if (PQstatus(conn) != CONNECTION_OK)
	{
		say("could not connect: %s", PQerrorMessage(conn));
		PQfinish(conn);
		return NULL;
	}
	result = PQexec(conn, "LISTEN " ALERTS_CHANNEL);
	if (PQresultStatus(result) != PGRES_COMMAND_OK)
	{
		say("could not listen: %s", PQerrorMessage(conn));
		PQclear(result);
		PQfinish(conn);
		return NULL;
	}
	PQclear(result);
	return conn;
}

/*
 * wait_for_news
 *		Sleep until a notification arrives, --poll seconds pass, or a signal
 *		comes.  Returns false if the connection failed.
 */
static bool
wait_for_news(PGconn *conn)
{
	int			sock = PQsocket(conn);
	fd_set		readable;
	struct timeval timeout;
	PGnotify   *notify;
	bool		queued = false;

	/* A notification read during the last queries is news already */
	while ((notify = PQnotifies(conn)) != NULL)
	{
		queued = true;
		PQfreemem(notify);
	}
	if (queued)
		return true;

	FD_ZERO(&readable);
	FD_SET(sock, &readable);
	timeout.tv_sec = config.poll;
	timeout.tv_usec = 0;
	if (select(sock + 1, &readable, NULL, NULL, &timeout) < 0 && errno != EINTR)
	{
		say("could not wait on the connection: %s", strerror(errno));
		return false;
	}
	if (!PQconsumeInput(conn))
	{
		say("lost the connection: %s", PQerrorMessage(conn));
		return false;
	}
	while ((notify = PQnotifies(conn)) != NULL)
	{
		if (config.verbose)
			say("notified: %s", notify->extra);
		PQfreemem(notify);
	}
	return true;
}

/*
 * back_off
 *		Sleep *wait seconds, then double it, up to MAX_RECONNECT_WAIT.
 */
static void
back_off(int *wait)
{
	sleep(*wait);
	*wait = *wait * 2 > MAX_RECONNECT_WAIT ? MAX_RECONNECT_WAIT : *wait * 2;
}

int
main(int argc, char **argv)
{
	int			option;
	int			reconnect_wait = 1;
	char		consumer[256];

	/*
	 * Options: a first pass reads the config files, in whatever form getopt
	 * accepts them, so that the flags read in the second pass override them.
	 */
	opterr = 0;
	while ((option = getopt_long(argc, argv, "d:c:vhV", long_options, NULL)) != -1)
		if (option == 'c')
			read_config_file(optarg);
	opterr = 1;
	optind = 0;					/* start the scan afresh */
	while ((option = getopt_long(argc, argv, "d:c:vhV", long_options, NULL)) != -1)
	{
		switch (option)
		{
			case 'h':
				usage();
				return 0;
			case 'V':
				printf("inventory-alerts %s\n", ALERTS_VERSION);
				return 0;
			case 'c':
				break;			/* read in the first pass */
			case '?':
				fprintf(stderr, "Try \"inventory-alerts --help\" for more information.\n");
				return 2;
			default:
				{
					const struct option *known;
					const char *name = "?";

					for (known = long_options; known->name != NULL; known++)
						if (known->val == option)
							name = known->name;
					apply_option(option, name, optarg);
				}
		}
	}
	if (optind < argc)
	{
		fprintf(stderr, "inventory-alerts: unexpected argument \"%s\"\n", argv[optind]);
		fprintf(stderr, "Try \"inventory-alerts --help\" for more information.\n");
		return 2;
	}
	if (config.consumer == NULL)
	{
		char		host[200] = "localhost";

		gethostname(host, sizeof(host) - 1);
		snprintf(consumer, sizeof(consumer), "%s:%d", host, (int) getpid());
		config.consumer = consumer;
	}

	/* Stop cleanly on a signal; a sendmail that exits early must not kill us */
	signal(SIGTERM, handle_stop);
	signal(SIGINT, handle_stop);
	signal(SIGPIPE, SIG_IGN);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	say("starting as consumer \"%s\"", config.consumer);

	while (!stop_requested)
	{
		PGconn	   *conn = connect_and_listen();

		/* The database is away: try again later, waiting longer each time */
		if (conn == NULL)
		{
			if (config.once)
				return 1;
			back_off(&reconnect_wait);
			continue;
		}
		say("listening on \"%s\"", ALERTS_CHANNEL);

		/* What came in while we were away, then whatever is announced */
		while (!stop_requested && deliver_due(conn))
		{
			reconnect_wait = 1;
			if (config.once)
			{
				PQfinish(conn);
				curl_global_cleanup();
				return 0;
			}
			if (stop_requested || !wait_for_news(conn))
				break;
		}
		PQfinish(conn);

		/*
		 * A failed query (the extension missing, no permission) would fail
		 * again at once: back off as for a failed connection.
		 */
		if (!stop_requested)
		{
			if (config.once)
				return 1;
			back_off(&reconnect_wait);
		}
	}

	say("stopped");
	curl_global_cleanup();
	return 0;
}
