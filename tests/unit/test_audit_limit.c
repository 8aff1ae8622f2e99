/* SPDX-License-Identifier: ISC */
/*
 * The bound on audit volume (common/audit_limit.c), on a clock the test
 * sets: per reason the first records of a window in full, the rest
 * counted; one summary with the counts of each reason and the window
 * when it closes (next event after its end, a timer, the daemon
 * stopping); a clock that goes back; more reasons than the table holds;
 * the configuration keys. Then a summary written to a real audit log.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "audit.h"
#include "audit_limit.h"
#include "config.h"
#include "keys.h"
#include "testlib.h"

#define T0 1800000000000LL /* Unix ms */

static double
num(const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);

	return cJSON_IsNumber(v) ? v->valuedouble : -1;
}

static double
count_of(const cJSON *summary, const char *reason)
{
	return num(cJSON_GetObjectItemCaseSensitive(summary, "counts"), reason);
}

/* How many of n events of reason at now are written in full. */
static unsigned
takes(struct audit_limit *al, const char *reason, unsigned n, int64_t now,
    cJSON **summary)
{
	unsigned i, full = 0;

	*summary = NULL;
	for (i = 0; i < n; i++) {
		cJSON *s = NULL;

		full += audit_limit_take(al, reason, now, &s);
		if (s != NULL) {
			CHECK(*summary == NULL); /* one summary a window */
			*summary = s;
		}
	}
	return full;
}

static void
test_windows(void)
{
	struct audit_limit_bounds b = { 3, 10000 };
	struct audit_limit al;
	cJSON *s = NULL;
	const cJSON *ev;

	audit_limit_init(&al, "auth.rejected", &b);
	/* A burst: three of each reason in full, the rest counted. */
	CHECK(takes(&al, "no_client_cert", 300, T0, &s) == 3 && s == NULL);
	CHECK(takes(&al, "untrusted", 5, T0 + 100, &s) == 3 && s == NULL);
	CHECK(takes(&al, "revoked", 2, T0 + 200, &s) == 2 && s == NULL);
	/* Within the window: still counted; a timer before its end: none. */
	CHECK(takes(&al, "no_client_cert", 1, T0 + 9999, &s) == 0);
	audit_limit_close(&al, T0 + 9999, false, &s);
	CHECK(s == NULL);
	/* The next event after the end closes it: one summary, the counts
	 * of each reason that held records back, the window's bounds. */
	CHECK(takes(&al, "untrusted", 1, T0 + 10000, &s) == 1);
	CHECKF(s != NULL, "a summary when the window closes");
	ev = cJSON_GetObjectItemCaseSensitive(s, "event");
	CHECK(cJSON_IsString(ev) &&
	    strcmp(ev->valuestring, "auth.rejected") == 0);
	CHECKF(count_of(s, "no_client_cert") == 298, "no_client_cert %g",
	    count_of(s, "no_client_cert"));
	CHECK(count_of(s, "untrusted") == 2);
	CHECK(count_of(s, "revoked") == -1); /* none held back: absent */
	CHECK(num(s, "window_start") == (double)T0);
	CHECK(num(s, "window_end") == (double)(T0 + 10000));
	CHECK(num(s, "limit") == 3);
	cJSON_Delete(s);
	/* A new window opened at that event: its own three. */
	CHECK(takes(&al, "untrusted", 5, T0 + 10001, &s) == 2 && s == NULL);
	/* A timer after the end closes it without an event. */
	audit_limit_close(&al, T0 + 20000, false, &s);
	CHECK(s != NULL && count_of(s, "untrusted") == 3);
	CHECK(num(s, "window_start") == (double)(T0 + 10000) &&
	    num(s, "window_end") == (double)(T0 + 20000));
	cJSON_Delete(s);
	/* A window that held nothing back closes without a summary. */
	CHECK(takes(&al, "revoked", 1, T0 + 30000, &s) == 1 && s == NULL);
	audit_limit_close(&al, T0 + 90000, false, &s);
	CHECK(s == NULL);
	/* Stopping: the open window ends now, its counts written. */
	CHECK(takes(&al, "revoked", 4, T0 + 100000, &s) == 3 && s == NULL);
	audit_limit_close(&al, T0 + 100500, true, &s);
	CHECK(s != NULL && count_of(s, "revoked") == 1 &&
	    num(s, "window_end") == (double)(T0 + 100500));
	cJSON_Delete(s);
	audit_limit_close(&al, T0 + 100600, true, &s);
	CHECK(s == NULL); /* nothing open any more */
	/* The clock goes back: the window closes rather than lasting. */
	CHECK(takes(&al, "revoked", 4, T0 + 200000, &s) == 3 && s == NULL);
	CHECK(takes(&al, "revoked", 1, T0 + 100, &s) == 1);
	CHECK(s != NULL && count_of(s, "revoked") == 1 &&
	    num(s, "window_end") == (double)(T0 + 200000));
	cJSON_Delete(s);
}

static void
test_reasons(void)
{
	struct audit_limit_bounds b = { 1, 60000 };
	struct audit_limit al;
	char reason[32];
	cJSON *s = NULL;
	unsigned i, full = 0;

	audit_limit_init(&al, "frame.refused", &b);
	/* More reasons than the table holds: the rest share "other"; a
	 * reason that could not be a plain member name is "other" too. */
	for (i = 0; i < AUDIT_LIMIT_REASONS + 4; i++) {
		(void)snprintf(reason, sizeof(reason), "r%u", i);
		full += takes(&al, reason, 2, T0, &s);
		CHECK(s == NULL);
	}
	full += takes(&al, "Bad \"reason\"\n", 2, T0, &s);
	full += takes(&al, NULL, 1, T0, &s);
	CHECKF(full == AUDIT_LIMIT_REASONS, "%u in full", full);
	audit_limit_close(&al, T0 + 1, true, &s);
	CHECK(s != NULL);
	CHECK(count_of(s, "r0") == 1 && count_of(s, "r14") == 1);
	/* 5 reasons and 3 events past the table: 5 x 2 + 3, one written. */
	CHECKF(count_of(s, AUDIT_LIMIT_OTHER) == 12, "other %g",
	    count_of(s, AUDIT_LIMIT_OTHER));
	cJSON_Delete(s);
}

static void
test_config(void)
{
	static const struct config_key schema[] = {
		{ "audit", "limit_burst", CONFIG_INT, false, "10", 1, 100000 },
		{ "audit", "limit_window", CONFIG_INT, false, "60", 1, 86400 },
	};
	static const char text[] = "[audit]\nlimit_burst = 4\n"
	                           "limit_window = 30\n";
	struct audit_limit_bounds b;
	struct config *cfg = NULL;
	struct err_msg m;

	CHECK(config_parse("t.conf", text, strlen(text), schema, 2, &cfg, &m) ==
	    0);
	CHECK(audit_limit_config(cfg, &b, &m) == 0);
	CHECK(b.burst == 4 && b.window_ms == 30000);
	config_free(cfg);
	cfg = NULL;
	CHECK(config_parse("t.conf", "", 0, schema, 2, &cfg, &m) == 0);
	CHECK(audit_limit_config(cfg, &b, &m) == 0);
	CHECK(b.burst == AUDIT_LIMIT_BURST_DEFAULT &&
	    b.window_ms == AUDIT_LIMIT_WINDOW_DEFAULT * 1000);
	config_free(cfg);
	cfg = NULL;
	CHECK(config_parse("t.conf", "[audit]\nlimit_burst = 0\n", 25, schema,
	          2, &cfg, &m) != 0);
	config_free(cfg);
}

/* A summary as a real record: audit.suppressed, the actor's, its data. */
static void
test_write(void)
{
	struct audit_limit_bounds b = { 1, 60000 };
	struct audit_limit al;
	struct keys_secret key;
	struct audit_writer *w = NULL;
	struct audit_record rec;
	struct err_msg m;
	char dir[] = "/tmp/test_audit_limit.XXXXXX", path[128];
	cJSON *s = NULL;

	CHECK(mkdtemp(dir) != NULL);
	(void)snprintf(path, sizeof(path), "%s/audit.log", dir);
	CHECK(keys_generate(&key) == 0);
	CHECK(audit_open(path, &key, &w, &m) == 0);
	audit_limit_init(&al, "server.reloaded", &b);
	CHECK(takes(&al, "ok", 3, T0, &s) == 1);
	audit_limit_close(&al, T0 + 5, true, &s);
	CHECK(audit_limit_write(w, "server", s) == 0);
	CHECK(audit_limit_write(w, "server", NULL) == 0);
	audit_close(w);
	CHECK(audit_read_first(path, &rec, &m) == 0);
	CHECK(strcmp(rec.event, AUDIT_LIMIT_EVENT) == 0);
	CHECK(strcmp(rec.actor, "server") == 0);
	CHECK(count_of(rec.data, "ok") == 2);
	audit_record_free(&rec);
	keys_secret_wipe(&key);
	CHECK(unlink(path) == 0 && rmdir(dir) == 0);
}

int
main(void)
{
	CHECK(sodium_init() >= 0);
	test_windows();
	test_reasons();
	test_config();
	test_write();
	return test_finish("test_audit_limit");
}
