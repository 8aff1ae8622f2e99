/* SPDX-License-Identifier: ISC */
/*
 * Unit tests of common/audit_export.c: the time and pattern parsers, the
 * filter, and the export lines (members, the writer named from the
 * records, records held back until then and at most AUDIT_EXPORT_HOLD).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "audit_export.h"
#include "testlib.h"

static void
test_parse_time(void)
{
	static const struct {
		const char *text;
		int r;
		int64_t ms;
	} rows[] = {
		{ "1970-01-01T00:00:00Z", 0, 0 },
		{ "2026-12-05T07:00:00Z", 0, 1796454000000LL },
		{ "2026-12-05t07:00:00.5z", 0, 1796454000500LL },
		{ "2026-12-05T07:00:00.123456Z", 0, 1796454000123LL },
		{ "2026-12-05T08:00:00+01:00", 0, 1796454000000LL },
		{ "2026-12-05T06:30:00-00:30", 0, 1796454000000LL },
		{ "2026-12-05", 0, 1796428800000LL },
		{ "2024-02-29", 0, 1709164800000LL },
		{ "9999-12-31T23:59:59.999Z", 0, 253402300799999LL },
		{ "2023-02-29", SIGNET_ERR_FORMAT, 0 },
		{ "2026-13-01", SIGNET_ERR_FORMAT, 0 },
		{ "2026-12-05T24:00:00Z", SIGNET_ERR_FORMAT, 0 },
		{ "2026-12-05T07:00:60Z", SIGNET_ERR_FORMAT, 0 },
		{ "2026-12-05T07:00:00", SIGNET_ERR_FORMAT, 0 },
		{ "2026-12-05T07:00:00.Z", SIGNET_ERR_FORMAT, 0 },
		{ "2026-12-05T07:00:00+0100", SIGNET_ERR_FORMAT, 0 },
		{ "2026-12-05T07:00:00Zx", SIGNET_ERR_FORMAT, 0 },
		{ "2026-12-05 07:00:00Z", SIGNET_ERR_FORMAT, 0 },
		{ "1969-12-31T23:59:59Z", SIGNET_ERR_FORMAT, 0 },
		{ "1970-01-01T00:30:00+01:00", SIGNET_ERR_FORMAT, 0 },
		{ "yesterday", SIGNET_ERR_FORMAT, 0 },
		{ "1796454000000", SIGNET_ERR_FORMAT, 0 },
		{ "", SIGNET_ERR_FORMAT, 0 },
		{ "2026-1-05", SIGNET_ERR_FORMAT, 0 },
		{ "+026-12-05", SIGNET_ERR_FORMAT, 0 },
	};
	size_t i;
	int64_t ms;

	for (i = 0; i < sizeof(rows) / sizeof(*rows); i++) {
		ms = -1;
		CHECKF(audit_export_parse_time(rows[i].text, &ms) ==
		            rows[i].r &&
		        ms == rows[i].ms,
		    "\"%s\": %lld", rows[i].text, (long long)ms);
	}
	CHECK(audit_export_parse_time(NULL, &ms) == SIGNET_ERR_FORMAT);
}

static void
test_patterns(void)
{
	static const struct {
		const char *p;
		int r;
	} rows[] = {
		{ "action.*", 0 },
		{ "auth.rejected", 0 },
		{ "*", 0 },
		{ "action.[!r]*", 0 },
		{ "a?", 0 },
		{ "", SIGNET_ERR_FORMAT },
		{ "Action.*", SIGNET_ERR_FORMAT },
		{ "action *", SIGNET_ERR_FORMAT },
		{ "a/b", SIGNET_ERR_FORMAT },
		{ "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
		    SIGNET_ERR_FORMAT },
	};
	size_t i;

	for (i = 0; i < sizeof(rows) / sizeof(*rows); i++)
		CHECKF(audit_export_check_pattern(rows[i].p) == rows[i].r,
		    "\"%s\"", rows[i].p);
}

/* A parsed record of event, actor and data (sig not checked). */
static char line[1024];

static int
make_record(uint64_t seq, int64_t ts, const char *event, const char *actor,
    const char *data, struct audit_record *rec)
{
	struct err_msg msg;
	int n;

	n = snprintf(line, sizeof(line),
	    "{\"seq\":%llu,\"ts\":%lld,\"prev\":\"%064d\",\"event\":\"%s\","
	    "\"actor\":\"%s\",\"data\":%s,\"sig\":\"%.86s==\"}",
	    (unsigned long long)seq, (long long)ts, 0, event, actor, data,
	    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
	    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
	if (n < 0 || (size_t)n >= sizeof(line))
		return -1;
	return audit_parse_line(line, (size_t)n, rec, &msg);
}

static const char HASH[] =
    "abababababababababababababababababababababababababababababababab";

/* Exports records (event, actor, data) with filter; *out the text. */
static int
run(const char *const (*recs)[3], size_t n,
    const struct audit_export_filter *filter, bool verified, char **out,
    size_t *outlen)
{
	struct audit_export *x = NULL;
	struct audit_record rec;
	struct err_msg msg;
	FILE *f = open_memstream(out, outlen);
	size_t i;
	int r = -1;

	if (f == NULL || audit_export_new(f, filter, &x, &msg) != 0)
		goto out;
	for (i = 0; i < n; i++) {
		if (make_record(i, 1796454000000LL + (int64_t)i * 1000,
		        recs[i][0], recs[i][1], recs[i][2], &rec) != 0)
			goto out;
		r = audit_export_record(x, &rec, line, HASH, verified, &msg);
		audit_record_free(&rec);
		if (r != 0)
			goto out;
	}
	r = audit_export_finish(x, &msg);
out:
	audit_export_free(x);
	if (f != NULL)
		(void)fclose(f);
	return r;
}

/* Line k (0-based) of text as parsed JSON, or NULL. */
static cJSON *
line_json(const char *text, size_t k)
{
	const char *p = text, *nl;
	char buf[4096];

	while (k-- > 0 && p != NULL) {
		p = strchr(p, '\n');
		if (p != NULL)
			p++;
	}
	if (p == NULL || (nl = strchr(p, '\n')) == NULL ||
	    (size_t)(nl - p) >= sizeof(buf))
		return NULL;
	memcpy(buf, p, (size_t)(nl - p));
	buf[nl - p] = '\0';
	return cJSON_Parse(buf);
}

static size_t
count_lines(const char *text)
{
	size_t n = 0;

	for (; *text != '\0'; text++)
		n += *text == '\n';
	return n;
}

static const char *
str(const cJSON *o, const char *a, const char *b)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, a);

	if (b != NULL)
		v = cJSON_GetObjectItemCaseSensitive(v, b);
	return cJSON_IsString(v) ? v->valuestring : "(none)";
}

static void
test_lines(void)
{
	static const char *const agent[][3] = {
		{ "audit.rotated", "audit",
		    "{\"previous\":\"a.log\",\"previous_head\":\"1:x\"}" },
		{ "audit.suppressed", "agent",
		    "{\"event\":\"frame.refused\"}" },
		{ "agent.started", "agent",
		    "{\"host_id\":\"web-01\",\"n\":1}" },
		{ "policy.denied", "agent",
		    "{\"host_id\":\"web-01\",\"s\":\"a\\\"b\\u00e9\"}" },
	};
	static const char *const server[][3] = {
		{ "server.started", "server", "{\"pid\":9007199254740991}" },
		{ "auth.rejected", "server", "{\"reason\":\"untrusted\"}" },
		{ "action.unverified", "server", "{}" },
	};
	struct audit_export_filter f;
	char *text = NULL;
	size_t len = 0;
	cJSON *j;

	/* The writer named by the first agent record that has host_id. */
	CHECK(run(agent, 4, NULL, true, &text, &len) == 0);
	CHECK(count_lines(text) == 4);
	j = line_json(text, 0);
	CHECK(j != NULL);
	CHECK(strcmp(str(j, "schema", NULL), AUDIT_EXPORT_SCHEMA) == 0);
	CHECK(strcmp(str(j, "log", "writer"), "agent") == 0);
	CHECK(strcmp(str(j, "log", "host_id"), "web-01") == 0);
	CHECK(strcmp(str(j, "event", NULL), "audit.rotated") == 0);
	CHECK(strcmp(str(j, "time", NULL), "2026-12-05T07:00:00.000Z") == 0);
	CHECK(strcmp(str(j, "severity", NULL), "info") == 0);
	CHECK(strcmp(str(j, "hash", NULL), HASH) == 0);
	CHECK(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "verified")));
	cJSON_Delete(j);
	j = line_json(text, 3);
	CHECK(strcmp(str(j, "severity", NULL), "notice") == 0);
	CHECK(strcmp(str(j, "data", "s"), "a\"b\xc3\xa9") == 0);
	CHECK(strcmp(str(j, "time", NULL), "2026-12-05T07:00:03.000Z") == 0);
	cJSON_Delete(j);
	/* Member order as documented. */
	CHECK(strncmp(text,
	          "{\"schema\":\"signet.audit.export/v1\",\"log\":{\"writer\":"
	          "\"agent\",\"host_id\":\"web-01\"},\"seq\":0,\"ts\":",
	          88) == 0);
	CHECK_CONTAINS(text,
	    ",\"event\":\"audit.rotated\",\"actor\":\"audit\","
	    "\"severity\":\"info\",\"data\":{\"previous\"");
	CHECK_CONTAINS(text, "},\"hash\":\"abab");
	CHECK_CONTAINS(text, "\",\"prev\":\"0000");
	free(text);
	text = NULL;

	/* A server's log; big integers exact; unverified. */
	CHECK(run(server, 3, NULL, false, &text, &len) == 0);
	CHECK(count_lines(text) == 3);
	CHECK_CONTAINS(text, "\"log\":{\"writer\":\"server\"},\"seq\":0");
	CHECK_CONTAINS(text, "\"data\":{\"pid\":9007199254740991}");
	CHECK_CONTAINS(text, "\"severity\":\"warning\",\"data\":{\"reason\"");
	CHECK_CONTAINS(text,
	    "\"event\":\"action.unverified\",\"actor\":"
	    "\"server\",\"severity\":\"crit\"");
	CHECK(strstr(text, "\"verified\":true") == NULL);
	free(text);
	text = NULL;

	/* Filters: the window is [since, until), patterns any. */
	memset(&f, 0, sizeof(f));
	f.has_since = true;
	f.since_ms = 1796454001000LL;
	f.has_until = true;
	f.until_ms = 1796454003000LL;
	CHECK(run(agent, 4, &f, true, &text, &len) == 0);
	CHECK(count_lines(text) == 2);
	CHECK_CONTAINS(text, "\"seq\":1,");
	CHECK_CONTAINS(text, "\"seq\":2,");
	/* The writer is named though seq 2 came after the held seq 1. */
	CHECK(strstr(text,
	          "\"writer\":\"agent\",\"host_id\":\"web-01\"},"
	          "\"seq\":1,") != NULL);
	free(text);
	text = NULL;
	memset(&f, 0, sizeof(f));
	f.npatterns = 2;
	f.patterns[0] = "policy.*";
	f.patterns[1] = "audit.rot*";
	CHECK(run(agent, 4, &f, true, &text, &len) == 0);
	CHECK(count_lines(text) == 2);
	CHECK(strstr(text, "agent.started") == NULL);
	CHECK(strstr(text, "audit.suppressed") == NULL);
	free(text);
	text = NULL;
}

/* Records that never name the writer: held at most AUDIT_EXPORT_HOLD. */
static void
test_hold(void)
{
	static const char *rows[AUDIT_EXPORT_HOLD + 3][3];
	char *text = NULL;
	size_t len = 0, i;
	cJSON *j;

	for (i = 0; i < AUDIT_EXPORT_HOLD + 3; i++) {
		rows[i][0] = "audit.rotated";
		rows[i][1] = i == AUDIT_EXPORT_HOLD + 2 ? "server" : "audit";
		rows[i][2] = "{}";
	}
	CHECK(run(rows, AUDIT_EXPORT_HOLD + 3, NULL, true, &text, &len) == 0);
	CHECK(count_lines(text) == AUDIT_EXPORT_HOLD + 3);
	j = line_json(text, AUDIT_EXPORT_HOLD + 2);
	/* Decided at the overflow: a later record cannot change it. */
	CHECK(strcmp(str(j, "log", "writer"), "unknown") == 0);
	cJSON_Delete(j);
	free(text);
	text = NULL;
	/* An export that ends before anything names it: unknown. */
	CHECK(run(rows, 2, NULL, true, &text, &len) == 0);
	CHECK(count_lines(text) == 2);
	CHECK_CONTAINS(text, "\"log\":{\"writer\":\"unknown\"}");
	free(text);
}

/* A write that fails is an error, not a silent loss. */
static void
test_write_error(void)
{
	static const char *const rows[][3] = {
		{ "server.started", "server", "{}" },
	};
	struct audit_export *x = NULL;
	struct audit_record rec;
	struct err_msg msg;
	FILE *f = fopen("/dev/full", "w");
	int r;

	CHECK(f != NULL);
	if (f == NULL)
		return;
	CHECK(setvbuf(f, NULL, _IONBF, 0) == 0);
	CHECK(audit_export_new(f, NULL, &x, &msg) == 0);
	CHECK(make_record(0, 1, rows[0][0], rows[0][1], rows[0][2], &rec) == 0);
	r = audit_export_record(x, &rec, line, HASH, true, &msg);
	CHECK(r == SIGNET_ERR_IO);
	audit_record_free(&rec);
	audit_export_free(x);
	(void)fclose(f);
}

#define Z64 "0000000000000000000000000000000000000000000000000000000000000000"
#define SIG88                                                                  \
	"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"     \
	"AAAAAAAAAAAAAAAAAAAAAA=="

/* Data not where the writers put it cannot be exported as recorded. */
static void
test_data_order(void)
{
	static const char *const lines[] = {
		/* data before actor */
		"{\"seq\":0,\"ts\":1,\"prev\":\"" Z64 "\",\"event\":\"e\","
		"\"data\":{\"a\":1},\"actor\":\"x\",\"sig\":\"" SIG88 "\"}",
		/* a space before the key */
		"{\"seq\":0,\"ts\":1,\"prev\":\"" Z64 "\",\"event\":\"e\","
		"\"actor\":\"x\", \"data\":{\"a\":1},\"sig\":\"" SIG88 "\"}",
		/* a nested "data" first, the real data first of all */
		"{\"data\":{\"b\":2,\"data\":{}},\"seq\":0,\"ts\":1,"
		"\"prev\":\"" Z64 "\",\"event\":\"e\",\"actor\":\"x\","
		"\"sig\":\"" SIG88 "\"}",
	};
	struct audit_export *x = NULL;
	struct audit_record rec;
	struct err_msg msg;
	char *text = NULL;
	size_t len = 0, i, n;
	FILE *f;

	for (i = 0; i < sizeof(lines) / sizeof(*lines); i++) {
		f = open_memstream(&text, &len);
		CHECK(f != NULL);
		if (f == NULL)
			return;
		CHECK(audit_export_new(f, NULL, &x, &msg) == 0);
		n = strlen(lines[i]);
		memcpy(line, lines[i], n + 1);
		CHECKF(audit_parse_line(line, n, &rec, &msg) == 0,
		    "line %zu: %s", i, msg.text);
		CHECKF(audit_export_record(x, &rec, line, HASH, false, &msg) ==
		        SIGNET_ERR_FORMAT,
		    "line %zu", i);
		audit_record_free(&rec);
		CHECK(audit_export_finish(x, &msg) == 0);
		audit_export_free(x);
		x = NULL;
		(void)fclose(f);
		CHECK(len == 0);
		free(text);
		text = NULL;
	}
}

int
main(void)
{
	test_data_order();
	test_parse_time();
	test_patterns();
	test_lines();
	test_hold();
	test_write_error();
	return test_finish("test_audit_export");
}
