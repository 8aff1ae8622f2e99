/* SPDX-License-Identifier: ISC */
/*
 * The server's CRL expiry reports (server/crl_watch.c) on a made-up clock:
 * what is logged at startup and reload, on a change of state, as a repeat
 * every hour while the CRL is expiring or expired, and nothing in between;
 * when the watcher wants to look again; and the CRL gauges of /metrics
 * (server/metrics.c). The log lines are read back from stderr.
 */
#include "crl_watch.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "metrics.h"
#include "testlib.h"

#define DAY 86400
#define HOUR 3600
#define T0 1900000000LL /* 2030-03-17T17:46:40Z */
#define PATH "/etc/signet/crl.pem"

static char logpath[] = "/tmp/signet-test-crlwatch.XXXXXX";
static int saved_stderr = -1;
static long log_off;

/* The log text written since the last call. */
static const char *
new_log(void)
{
	static char buf[8192];
	FILE *f;
	size_t n;

	(void)fflush(stderr);
	buf[0] = '\0';
	f = fopen(logpath, "r");
	if (f == NULL)
		return buf;
	if (fseek(f, log_off, SEEK_SET) == 0) {
		n = fread(buf, 1, sizeof(buf) - 1, f);
		buf[n] = '\0';
		log_off += (long)n;
	}
	(void)fclose(f);
	return buf;
}

/* One check at now; returns the level and leaves the lines in *text. */
static int
check(struct crl_watch *w, int64_t last, int64_t next, int64_t now, bool force,
    const char *when, const char **text)
{
	int level;

	(void)new_log();
	level = crl_watch_check(w, PATH, last, next, now, force, when);
	*text = new_log();
	return level;
}

static void
test_reports(void)
{
	struct crl_watch w;
	const char *t;
	const int64_t last = T0 - DAY, next = T0 + 30 * DAY;
	int64_t now;

	crl_watch_init(&w);
	/* Startup with 30 days left: one info line, then quiet. */
	CHECK(check(&w, last, next, T0, true, "startup", &t) == LOG_LVL_INFO);
	CHECK_CONTAINS(t,
	    "startup: CRL /etc/signet/crl.pem valid until "
	    "2030-04-16T17:46:40Z (in 30 days 0 hours)");
	CHECK(w.next_check == next - 7 * DAY);
	CHECK(crl_watch_wait(&w, T0) == CRL_WATCH_TICK_MAX);
	CHECK(check(&w, last, next, T0 + HOUR, false, "check", &t) == -1);
	CHECK(t[0] == '\0');

	/* Seven days before nextUpdate: a warning, as it starts. */
	now = next - 7 * DAY;
	CHECK(check(&w, last, next, now - 1, false, "check", &t) == -1);
	CHECK(check(&w, last, next, now, false, "check", &t) == LOG_LVL_WARN);
	CHECK_CONTAINS(t, " warn ");
	CHECK_CONTAINS(t,
	    "check: CRL /etc/signet/crl.pem expires at "
	    "2030-04-16T17:46:40Z (in 7 days 0 hours): renew it before then "
	    "(signet-pki crl, install the new crl.pem here, then SIGHUP the "
	    "server (systemctl reload signet-server)), or every agent, "
	    "operator and auditor will be refused");
	CHECK(w.next_check == now + CRL_WATCH_REPEAT_SECS);
	CHECK(crl_watch_wait(&w, now) == CRL_WATCH_REPEAT_SECS);
	/* Not again within the hour; again after it. */
	CHECK(check(&w, last, next, now + HOUR - 1, false, "check", &t) == -1);
	CHECK(t[0] == '\0');
	CHECK(check(&w, last, next, now + HOUR, false, "check", &t) ==
	    LOG_LVL_WARN);
	CHECK_CONTAINS(t, "(in 6 days 23 hours)");
	/* A reload always reports, even within the hour. */
	CHECK(check(&w, last, next, now + HOUR + 5, true, "SIGHUP", &t) ==
	    LOG_LVL_WARN);
	CHECK_CONTAINS(t, "SIGHUP: CRL ");

	/* The last hour: the next look is at nextUpdate, not an hour on. */
	now = next - 30 * 60;
	CHECK(check(&w, last, next, now, false, "check", &t) == LOG_LVL_WARN);
	CHECK_CONTAINS(t, "(in 30 minutes)");
	CHECK(w.next_check == next);
	CHECK(crl_watch_wait(&w, now) == 30 * 60);
	CHECK(check(&w, last, next, next - 1, false, "check", &t) == -1);
	CHECK(crl_watch_wait(&w, next - 1) == 1);

	/* Expired: an error at once, then hourly. */
	CHECK(check(&w, last, next, next, false, "check", &t) == LOG_LVL_ERROR);
	CHECK_CONTAINS(t, " error ");
	CHECK_CONTAINS(t,
	    "check: CRL /etc/signet/crl.pem expired at "
	    "2030-04-16T17:46:40Z: every agent, operator and auditor is "
	    "refused until it is renewed (signet-pki crl");
	CHECK(check(&w, last, next, next + 60, false, "check", &t) == -1);
	CHECK(check(&w, last, next, next + HOUR, false, "check", &t) ==
	    LOG_LVL_ERROR);
	CHECK(crl_watch_wait(&w, next + HOUR) == CRL_WATCH_REPEAT_SECS);

	/* A renewed CRL (another one): reported at once, valid, then quiet. */
	now = next + HOUR + 10;
	CHECK(check(&w, now - 60, now + 30 * DAY, now, false, "check", &t) ==
	    LOG_LVL_INFO);
	CHECK_CONTAINS(t, "valid until");
	CHECK(strstr(t, "refused") == NULL);
	CHECK(check(&w, now - 60, now + 30 * DAY, now + 2 * HOUR, false,
	          "check", &t) == -1);

	/* A new CRL that is itself short: a warning, not an info line. */
	crl_watch_init(&w);
	CHECK(check(&w, T0, T0 + 3 * DAY + 5, T0, false, "startup", &t) ==
	    LOG_LVL_WARN);
	CHECK_CONTAINS(t, "(in 3 days 0 hours)");
	/* No CRL known: expired, with an unknown date. */
	crl_watch_init(&w);
	CHECK(check(&w, 0, 0, T0, true, "check", &t) == LOG_LVL_ERROR);
	CHECK_CONTAINS(t, "expired at (unknown)");
	/* A clock set far back never waits longer than the tick. */
	crl_watch_init(&w);
	(void)check(&w, last, next, T0, true, "startup", &t);
	CHECK(crl_watch_wait(&w, T0 - 400 * DAY) == CRL_WATCH_TICK_MAX);
	CHECK(crl_watch_wait(&w, next) == 1);
}

/* metrics_render with only the CRL's nextUpdate known. */
static char *
render(struct metrics *m, const struct registry_stats *st, int64_t next)
{
	struct metrics_trust t;

	memset(&t, 0, sizeof(t));
	t.crl_next_update = next;
	return metrics_render(m, st, &t, T0);
}

static void
test_metrics(void)
{
	struct metrics *m = metrics_new();
	struct registry_stats st;
	char *text;

	CHECK(m != NULL);
	memset(&st, 0, sizeof(st));
	text = render(m, &st, T0 + 8 * DAY);
	CHECK(text != NULL);
	if (text != NULL) {
		CHECK_CONTAINS(text,
		    "# TYPE signet_crl_next_update_timestamp_seconds "
		    "gauge\nsignet_crl_next_update_timestamp_seconds 1900691200\n");
		CHECK_CONTAINS(text, "# HELP signet_crl_expiring ");
		CHECK_CONTAINS(text,
		    "# TYPE signet_crl_expiring gauge\n"
		    "signet_crl_expiring 0\n");
	}
	free(text);
	text = render(m, &st, T0 + 7 * DAY);
	CHECK(
	    text != NULL && strstr(text, "\nsignet_crl_expiring 1\n") != NULL);
	free(text);
	text = render(m, &st, 0);
	CHECK(text != NULL &&
	    strstr(text, "\nsignet_crl_expiring 1\n") != NULL &&
	    strstr(text, "\nsignet_crl_next_update_timestamp_seconds 0\n") !=
	        NULL);
	free(text);
	metrics_free(m);
}

int
main(void)
{
	int fd;

	/* Log lines go to stderr: into a file we read back. */
	fd = mkstemp(logpath);
	if (fd < 0) {
		perror("mkstemp");
		return 1;
	}
	(void)fflush(stderr);
	saved_stderr = dup(STDERR_FILENO);
	if (saved_stderr < 0 || dup2(fd, STDERR_FILENO) < 0) {
		perror("dup2");
		return 1;
	}
	(void)close(fd);
	log_init("signet-server", LOG_LVL_INFO);

	test_reports();
	test_metrics();

	(void)fflush(stderr);
	if (dup2(saved_stderr, STDERR_FILENO) < 0)
		return 1;
	(void)close(saved_stderr);
	if (test_failed != 0) {
		/* Show what was logged (and the failures, logged with it). */
		log_off = 0;
		(void)fputs(new_log(), stderr);
	}
	(void)unlink(logpath);
	return test_finish("test_crl_watch");
}
