/* SPDX-License-Identifier: ISC */
/*
 * Unit tests of common/audit_mirror.c: the priority table (every event
 * that docs/schema/audit describes is in it, with the documented
 * priority), the [audit] mirror setting, and the syslog message's cut.
 */
#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "audit_mirror.h"
#include "config.h"
#include "testlib.h"

static void
test_priorities(void)
{
	static const struct {
		const char *event;
		const char *prio;
		bool known;
	} rows[] = {
		{ "action.unverified", "crit", true },
		{ "audit.torn_tail", "err", true },
		{ "auth.rejected", "warning", true },
		{ "action.refused", "warning", true },
		{ "frame.refused", "warning", true },
		{ "roster.refused", "warning", true },
		{ "action.rejected", "warning", true },
		{ "audit.suppressed", "warning", true },
		{ "policy.denied", "notice", true },
		{ "roster.accepted", "notice", true },
		{ "action.requested", "info", true },
		{ "action.relayed", "info", true },
		{ "action.executed", "info", true },
		{ "audit.rotated", "info", true },
		{ "server.started", "info", true },
		{ "no.such_event", "info", false },
		{ "", "info", false },
	};
	size_t i;
	bool known;
	int p;

	for (i = 0; i < sizeof(rows) / sizeof(*rows); i++) {
		p = audit_mirror_priority(rows[i].event, &known);
		CHECKF(strcmp(audit_mirror_priority_name(p), rows[i].prio) == 0,
		    "%s: %s, want %s", rows[i].event,
		    audit_mirror_priority_name(p), rows[i].prio);
		CHECKF(known == rows[i].known, "%s known", rows[i].event);
	}
	CHECK(audit_mirror_priority(NULL, &known) == LOG_INFO && !known);
	CHECK(strcmp(audit_mirror_priority_name(LOG_EMERG), "emerg") == 0);
	CHECK(strcmp(audit_mirror_priority_name(LOG_DEBUG), "debug") == 0);
	CHECK(strcmp(audit_mirror_priority_name(-1), "info") == 0);
	CHECK(strcmp(audit_mirror_priority_name(8), "info") == 0);
}

/* Every event with a schema has its own row: none falls to the default. */
static void
test_every_event_in_table(void)
{
	const char *src = getenv("SIGNET_SOURCE_DIR");
	char dir[4096], event[128];
	struct dirent *de;
	const char *suffix = ".schema.json";
	size_t n, slen = strlen(suffix), seen = 0;
	bool known;
	DIR *d;

	CHECK(src != NULL);
	if (src == NULL)
		return;
	(void)snprintf(dir, sizeof(dir), "%s/docs/schema/audit", src);
	d = opendir(dir);
	CHECK(d != NULL);
	if (d == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		n = strlen(de->d_name);
		if (n <= slen || n - slen >= sizeof(event) ||
		    strcmp(de->d_name + n - slen, suffix) != 0)
			continue;
		memcpy(event, de->d_name, n - slen);
		event[n - slen] = '\0';
		(void)audit_mirror_priority(event, &known);
		CHECKF(known, "event %s has no priority in the table", event);
		seen++;
	}
	(void)closedir(d);
	CHECKF(seen >= 30, "only %zu event schemas found", seen);
}

static void
test_modes(void)
{
	static const struct {
		const char *text;
		int r;
		enum audit_mirror_mode mode;
	} rows[] = {
		{ "none", 0, AUDIT_MIRROR_NONE },
		{ "journal", 0, AUDIT_MIRROR_JOURNAL },
		{ "syslog", 0, AUDIT_MIRROR_SYSLOG },
		{ "Journal", SIGNET_ERR_FORMAT, AUDIT_MIRROR_NONE },
		{ "syslog ", SIGNET_ERR_FORMAT, AUDIT_MIRROR_NONE },
		{ "", SIGNET_ERR_FORMAT, AUDIT_MIRROR_NONE },
		{ "file", SIGNET_ERR_FORMAT, AUDIT_MIRROR_NONE },
	};
	enum audit_mirror_mode mode;
	size_t i;

	for (i = 0; i < sizeof(rows) / sizeof(*rows); i++) {
		mode = AUDIT_MIRROR_SYSLOG;
		CHECKF(audit_mirror_parse_mode(rows[i].text, &mode) ==
		            rows[i].r &&
		        mode == rows[i].mode,
		    "\"%s\"", rows[i].text);
	}
	CHECK(audit_mirror_parse_mode(NULL, &mode) == SIGNET_ERR_FORMAT);
}

static void
test_config(void)
{
	static const struct config_key schema[] = {
		{ "audit", "path", CONFIG_PATH, true, NULL, 0, 0 },
		{ "audit", "mirror", CONFIG_STRING, false, "none", 0, 0 },
	};
	static const char good[] = "[audit]\npath = /x\nmirror = syslog\n";
	static const char dflt[] = "[audit]\npath = /x\n";
	static const char bad[] = "[audit]\npath = /x\n\nmirror = journald\n";
	struct config *cfg = NULL;
	enum audit_mirror_mode mode;
	struct err_msg msg;

	CHECK(config_parse("a.conf", good, sizeof(good) - 1, schema, 2, &cfg,
	          &msg) == 0);
	CHECK(audit_config_mirror(cfg, &mode, &msg) == 0 &&
	    mode == AUDIT_MIRROR_SYSLOG);
	config_free(cfg);
	cfg = NULL;
	CHECK(config_parse("a.conf", dflt, sizeof(dflt) - 1, schema, 2, &cfg,
	          &msg) == 0);
	CHECK(audit_config_mirror(cfg, &mode, &msg) == 0 &&
	    mode == AUDIT_MIRROR_NONE);
	config_free(cfg);
	cfg = NULL;
	CHECK(config_parse("b.conf", bad, sizeof(bad) - 1, schema, 2, &cfg,
	          &msg) == 0);
	CHECK(audit_config_mirror(cfg, &mode, &msg) == SIGNET_ERR_CONFIG);
	CHECK_CONTAINS(msg.text, "b.conf:4: mirror: \"journald\" is not");
	config_free(cfg);
}

static void
test_syslog_text(void)
{
	char out[AUDIT_MIRROR_SYSLOG_MAX], small[128];
	char *line = malloc(65536);
	size_t n, i, pre, cut;

	CHECK(line != NULL);
	if (line == NULL)
		return;
	/* Short: the line as it is. */
	n = audit_mirror_syslog_text("{\"seq\":1}", 9, 1, out, sizeof(out));
	CHECK(n == 9 && strcmp(out, "{\"seq\":1}") == 0);
	/* Exactly the limit less one fits; the limit itself is cut. */
	memset(line, 'a', AUDIT_MIRROR_SYSLOG_MAX);
	n = audit_mirror_syslog_text(line, AUDIT_MIRROR_SYSLOG_MAX - 1, 2, out,
	    sizeof(out));
	CHECK(n == AUDIT_MIRROR_SYSLOG_MAX - 1 && strlen(out) == n);
	n = audit_mirror_syslog_text(line, AUDIT_MIRROR_SYSLOG_MAX, 3, out,
	    sizeof(out));
	CHECK(n < AUDIT_MIRROR_SYSLOG_MAX && strlen(out) == n);
	CHECK_CONTAINS(out, "of 4096 bytes; the whole record is seq 3 in");
	/*
	 * A long record of 3-byte characters is cut between two, whatever
	 * the ASCII before them (0, 1 or 2 bytes) makes of the alignment.
	 */
	for (pre = 0; pre < 3; pre++) {
		memset(line, 'a', pre);
		for (i = pre; i + 3 <= 60000; i += 3)
			memcpy(line + i, "\xe2\x82\xac", 3);
		n = audit_mirror_syslog_text(line, i, 77, out, sizeof(out));
		CHECK(n > 3000 && n < AUDIT_MIRROR_SYSLOG_MAX);
		CHECK_CONTAINS(out, " [truncated: ");
		CHECK_CONTAINS(out,
		    " bytes; the whole record is seq 77 in "
		    "the signed log]");
		cut = (size_t)(strstr(out, " [truncated: ") - out);
		CHECKF(cut >= pre && (cut - pre) % 3 == 0,
		    "cut at %zu after %zu ASCII bytes: inside a character", cut,
		    pre);
	}
	/* A small buffer bounds the message too. */
	n = audit_mirror_syslog_text(line, 60000, 1, small, sizeof(small));
	CHECK(n < sizeof(small) && strlen(small) == n);
	free(line);
}

static void
test_new(void)
{
	struct audit_mirror_conf conf;
	struct audit_mirror *m = NULL;
	struct err_msg msg;

	memset(&conf, 0, sizeof(conf));
	conf.mode = AUDIT_MIRROR_NONE;
	CHECK(audit_mirror_new(&conf, &m, &msg) == SIGNET_ERR_INVALID_ARG);
	memcpy(conf.ident, "signet test", 12);
	CHECK(audit_mirror_new(&conf, &m, &msg) == SIGNET_ERR_INVALID_ARG);
	memcpy(conf.ident, "signet-test", 12);
	memcpy(conf.host_id, "bad\nhost", 9);
	CHECK(audit_mirror_new(&conf, &m, &msg) == SIGNET_ERR_INVALID_ARG);
	memcpy(conf.host_id, "web-01", 7);
	CHECK(audit_mirror_new(&conf, &m, &msg) == 0 && m != NULL);
	/* Mode none sends nothing and never fails. */
	CHECK(
	    audit_mirror_send(m, "{}", 2, 0, "server.started", "server") == 0);
	CHECK(audit_mirror_failures(m) == 0);
	audit_mirror_free(m);
	CHECK(audit_mirror_send(NULL, "{}", 2, 0, "x", "y") == 0);
	CHECK(audit_mirror_failures(NULL) == 0);
	audit_mirror_free(NULL);
}

int
main(void)
{
	test_priorities();
	test_every_event_in_table();
	test_modes();
	test_config();
	test_syslog_text();
	test_new();
	return test_finish("test_audit_mirror");
}
