/* SPDX-License-Identifier: ISC */
/*
 * The reviewer's HTML report (cli/reconcile_html.c): hostile strings come
 * out as text (markup, quotes, control bytes, bidi overrides, invalid
 * UTF-8 replaced), absent members and unknown kinds render, the sections
 * come in order, times are UTC ISO 8601, write errors are SIGNET_ERR_IO
 * and calls out of order are refused.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "reconcile_html.h"
#include "testlib.h"

#define FFFD "\xef\xbf\xbd"

/* Renders summary and the actions (may be NULL) into a new string. */
static char *
render(const cJSON *summary, const cJSON *const *actions, size_t n)
{
	char *buf = NULL;
	size_t len = 0, i;
	FILE *f = open_memstream(&buf, &len);
	int r;

	if (f == NULL)
		return NULL;
	r = reconcile_html_begin(f, summary);
	CHECKF(r == 0, "begin: %d", r);
	for (i = 0; i < n; i++) {
		r = reconcile_html_action(f, actions[i]);
		CHECKF(r == 0, "action %zu: %d", i, r);
	}
	r = reconcile_html_end(f);
	CHECKF(r == 0, "end: %d", r);
	if (fclose(f) != 0) {
		free(buf);
		return NULL;
	}
	return buf;
}

static cJSON *
parse(const char *json)
{
	cJSON *j = cJSON_Parse(json);

	CHECKF(j != NULL, "fixture does not parse: %s", json);
	return j;
}

/* Occurrences of sub in text. */
static size_t
count(const char *text, const char *sub)
{
	size_t n = 0;
	const char *p = text;

	while ((p = strstr(p, sub)) != NULL) {
		n++;
		p += strlen(sub);
	}
	return n;
}

/* The text between "<dt>label</dt><dd>" and the next "</dd>" (static). */
static const char *
dd_of(const char *html, const char *label)
{
	static char out[16384];
	char key[128];
	const char *p, *e;

	snprintf(key, sizeof(key), "<dt>%s</dt><dd>", label);
	p = strstr(html, key);
	if (p == NULL)
		return "(no such label)";
	p += strlen(key);
	e = strstr(p, "</dd>");
	if (e == NULL || (size_t)(e - p) >= sizeof(out))
		return "(no end)";
	memcpy(out, p, (size_t)(e - p));
	out[e - p] = '\0';
	return out;
}

/* A well-formed document: one of each wrapper, balanced, no script. */
static void
check_document(const char *html)
{
	CHECK(strncmp(html, "<!DOCTYPE html>\n", 16) == 0);
	CHECK_CONTAINS(html,
	    "<meta http-equiv=\"Content-Security-Policy\" "
	    "content=\"default-src 'none'; style-src "
	    "'unsafe-inline';");
	CHECK(count(html, "<article") == count(html, "</article>"));
	CHECK(count(html, "<section") == count(html, "</section>"));
	CHECK(count(html, "<dd>") == count(html, "</dd>"));
	CHECK(count(html, "<code>") == count(html, "</code>"));
	CHECK(count(html, "<h2>Actions with problems</h2>") == 1);
	CHECK(count(html, "<h2>Actions in agreement</h2>") == 1);
	CHECK(strstr(html, "<script") == NULL);
	CHECK(strstr(html, "http://") == NULL);
	CHECK(strstr(html, "https://") == NULL);
	CHECK(strstr(html, "(null)") == NULL);
	CHECK(strlen(html) > 8 &&
	    strcmp(html + strlen(html) - 8, "</html>\n") == 0);
}

/* Each hostile reason, and exactly what the report shows of it. */
static void
check_escaping(void)
{
	static const struct {
		const char *in;
		const char *out;
	} rows[] = {
		{ "plain words", "plain words" },
		{ "<script>alert(1)</script>",
		    "&lt;script&gt;alert(1)&lt;/script&gt;" },
		{ "a\"b'c&d", "a&quot;b&#39;c&amp;d" },
		{ "\"><img src=x onerror=alert(1)>",
		    "&quot;&gt;&lt;img src=x onerror=alert(1)&gt;" },
		{ "&amp;", "&amp;amp;" },
		{ "x\x01y\x7fz", "x" FFFD "y" FFFD "z" },
		{ "line\nbreak\ttab\r", "line" FFFD "break" FFFD "tab" FFFD },
		{ "\x1b[31mred", FFFD "[31mred" },
		{ "\xff\xfe", FFFD FFFD },
		{ "\xc0\xaf", FFFD FFFD },                   /* overlong '/' */
		{ "\xe0\x80\xaf", FFFD FFFD FFFD },          /* overlong '/' */
		{ "\xf0\x82\x82\xac", FFFD FFFD FFFD FFFD }, /* overlong euro */
		{ "\xed\xa0\x80", FFFD FFFD FFFD },          /* a surrogate */
		{ "\xf4\x90\x80\x80",
		    FFFD FFFD FFFD FFFD },        /* above U+10FFFF */
		{ "ab\xe2\x82", "ab" FFFD FFFD }, /* cut short */
		{ "\xc2\x85", FFFD },             /* C1 NEL */
		{ "abc\xe2\x80\xae"
		  "cba",
		    "abc" FFFD "cba" },                         /* RLO */
		{ "\xe2\x81\xa6x\xe2\x81\xa9", FFFD "x" FFFD }, /* LRI, PDI */
		{ "\xef\xbb\xbfx", FFFD "x" },                  /* BOM */
		{ "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80",
		    "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80" },
		{ "", "" },
	};
	size_t i;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		cJSON *a = cJSON_CreateObject();
		const cJSON *acts[1];
		char *html;
		const char *got;

		CHECK(a != NULL &&
		    cJSON_AddStringToObject(a, "reason", rows[i].in) != NULL);
		acts[0] = a;
		html = render(NULL, acts, 1);
		CHECK(html != NULL);
		if (html != NULL) {
			got = dd_of(html, "Reason");
			CHECKF(strcmp(got, rows[i].out) == 0,
			    "row %zu: got \"%s\", want \"%s\"", i, got,
			    rows[i].out);
			check_document(html);
		}
		free(html);
		cJSON_Delete(a);
	}
}

/* A long value: the first 8 KiB shown, the rest counted. */
static void
check_long(void)
{
	size_t n = 10000;
	char *s = malloc(n + 1);
	cJSON *a = cJSON_CreateObject();
	const cJSON *acts[1];
	char *html = NULL;
	const char *got;

	CHECK(s != NULL && a != NULL);
	if (s == NULL || a == NULL)
		goto out;
	memset(s, 'a', n);
	s[n] = '\0';
	/* A multi-byte character across the cut is not split. */
	memcpy(s + 8190, "\xe2\x82\xac", 3);
	CHECK(cJSON_AddStringToObject(a, "reason", s) != NULL);
	acts[0] = a;
	html = render(NULL, acts, 1);
	CHECK(html != NULL);
	if (html == NULL)
		goto out;
	got = dd_of(html, "Reason");
	CHECK_CONTAINS(got,
	    "aa\xe2\x82\xac<span class=\"cut\"> [1807 more "
	    "bytes not shown]</span>");
	CHECK(strlen(got) < 8300);
out:
	free(html);
	free(s);
	cJSON_Delete(a);
}

/* Every string of summary and action hostile: no "<x" survives. */
static void
check_hostile_everywhere(void)
{
	const char *h = "\"<x'&>";
	const char *summary_json =
	    "{\"generated_at\":\"<x>\",\"logs\":[{\"role\":\"\\\"<x'&>\","
	    "\"host_id\":\"\\\"<x'&>\",\"files\":[\"\\\"<x'&>\",\"<x>\"],"
	    "\"records\":\"<x>\",\"head\":\"\\\"<x'&>\",\"valid\":false,"
	    "\"error\":\"\\\"<x'&>\"}],\"actions\":\"<x>\",\"ok\":\"<x>\","
	    "\"with_problems\":\"<x>\",\"problems_by_kind\":{\"<x>\":1,"
	    "\"not_received\":\"<x>\"},\"hosts_missing\":[\"<x>\"]}";
	const char *keys[] = { "action_id", "host_id", "container_id", "action",
		"requested_by", "requester", "reason" };
	const char *server_keys[] = { "requested_seq", "requested_at",
		"expires_at", "action_sha256", "end", "status", "docker_status",
		"result_seq" };
	const char *agent_keys[] = { "received_seq", "decision",
		"decision_detail", "dispatched_at", "executed_seq", "status",
		"docker_status", "started_at", "finished_at" };
	cJSON *summary = parse(summary_json);
	cJSON *a = cJSON_CreateObject();
	cJSON *s = cJSON_CreateObject();
	cJSON *g = cJSON_CreateObject();
	cJSON *p = cJSON_CreateObject();
	cJSON *probs = cJSON_CreateArray();
	cJSON *ap1 = cJSON_CreateArray(), *ap2 = cJSON_CreateArray();
	const cJSON *acts[1];
	char *html;
	size_t i;

	CHECK(a != NULL && s != NULL && g != NULL && p != NULL &&
	    probs != NULL && ap1 != NULL && ap2 != NULL);
	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		CHECK(cJSON_AddStringToObject(a, keys[i], h) != NULL);
	for (i = 0; i < sizeof(server_keys) / sizeof(server_keys[0]); i++)
		CHECK(cJSON_AddStringToObject(s, server_keys[i], h) != NULL);
	for (i = 0; i < sizeof(agent_keys) / sizeof(agent_keys[0]); i++)
		CHECK(cJSON_AddStringToObject(g, agent_keys[i], h) != NULL);
	CHECK(cJSON_AddItemToArray(ap1, cJSON_CreateString(h)));
	CHECK(cJSON_AddItemToArray(ap2, cJSON_CreateString(h)));
	CHECK(cJSON_AddItemToObject(s, "approvals", ap1));
	CHECK(cJSON_AddItemToObject(g, "approvals", ap2));
	CHECK(cJSON_AddStringToObject(p, "kind", h) != NULL);
	CHECK(cJSON_AddStringToObject(p, "detail", h) != NULL);
	CHECK(cJSON_AddItemToArray(probs, p));
	CHECK(cJSON_AddItemToObject(a, "problems", probs));
	CHECK(cJSON_AddItemToObject(a, "server", s));
	CHECK(cJSON_AddItemToObject(a, "agent", g));
	acts[0] = a;
	html = render(summary, acts, 1);
	CHECK(html != NULL);
	if (html != NULL) {
		check_document(html);
		CHECK(strstr(html, "<x") == NULL);
		CHECK(strstr(html, "'&>") == NULL);
		CHECK(count(html, "&quot;&lt;x&#39;&amp;&gt;") >= 30);
		CHECK_CONTAINS(html, "INVALID");
		CHECK_CONTAINS(html, "PROBLEMS FOUND");
	}
	free(html);
	cJSON_Delete(a);
	cJSON_Delete(summary);
}

/* Nothing known: the report still renders, saying "unknown". */
static void
check_absent(void)
{
	cJSON *empty = parse("{}");
	cJSON *only_id = parse("{\"action_id\":\"0123\",\"problems\":[]}");
	cJSON *not_obj = parse("[1,2]");
	cJSON *odd = parse("{\"action_id\":7,\"problems\":[{},3,"
	                   "{\"kind\":5}],\"server\":{},\"agent\":{"
	                   "\"approvals\":[]},\"reason\":null,"
	                   "\"requested_by\":[\"a\"]}");
	const cJSON *acts[5];
	char *html;

	acts[0] = odd;
	acts[1] = not_obj;
	acts[2] = NULL;
	acts[3] = empty;
	acts[4] = only_id;
	html = render(NULL, acts, 5);
	CHECK(html != NULL);
	if (html != NULL) {
		check_document(html);
		CHECK(count(html, "<article class=\"problem\">") == 3);
		CHECK(count(html, "<article class=\"agree\">") == 2);
		CHECK(count(html, "unreadable") == 2);
		CHECK_CONTAINS(html, "<code>7</code>");
		CHECK_CONTAINS(html, "<code>0123</code>");
		CHECK_CONTAINS(html, "3 problems");
		CHECK_CONTAINS(html, "no record of this action");
		CHECK_CONTAINS(html, "(not a single value)");
		CHECK_CONTAINS(html, "<dt>Approvals seen</dt><dd>none</dd>");
		CHECK_CONTAINS(html, "<span class=\"unk\">unknown</span>");
		CHECK_CONTAINS(html, "No log is listed.");
		CHECK(strstr(html, "No action has a problem.") == NULL);
	}
	free(html);
	cJSON_Delete(empty);
	cJSON_Delete(only_id);
	cJSON_Delete(not_obj);
	cJSON_Delete(odd);
}

/* Known kinds get their sentence; an unknown kind the generic one. */
static void
check_kinds(void)
{
	cJSON *summary = parse("{\"generated_at\":1700000000123,"
	                       "\"problems_by_kind\":{\"martian\":2,"
	                       "\"duplicate_execution\":1},"
	                       "\"with_problems\":3}");
	cJSON *a = parse("{\"action_id\":\"aa\",\"problems\":[{\"kind\":"
	                 "\"martian\",\"detail\":\"from mars\"},{\"kind\":"
	                 "\"run_after_expiry\"}]}");
	const cJSON *acts[1];
	char *html;

	acts[0] = a;
	html = render(summary, acts, 1);
	CHECK(html != NULL);
	if (html != NULL) {
		check_document(html);
		CHECK(count(html,
		          "A problem of a kind this version of "
		          "signetctl does not describe") == 2);
		CHECK_CONTAINS(html, "<code>martian</code><br>from mars</li>");
		CHECK_CONTAINS(html,
		    "It ran after the action had expired."
		    "</strong> <code>run_after_expiry</code>");
		CHECK_CONTAINS(html,
		    "<td>It was executed more than once.</td>");
		CHECK_CONTAINS(html,
		    "Generated <time>2023-11-14T22:13:20.123Z"
		    "</time> (UTC)");
		CHECK_CONTAINS(html, "2 problems");
	}
	free(html);
	cJSON_Delete(summary);
	cJSON_Delete(a);
}

/* Times as UTC ISO 8601; others shown as they are. */
static void
check_times(void)
{
	static const struct {
		const char *json;
		const char *out;
	} rows[] = {
		{ "0", "<time>1970-01-01T00:00:00.000Z</time>" },
		{ "1700000000123", "<time>2023-11-14T22:13:20.123Z</time>" },
		{ "253402300799999", "<time>9999-12-31T23:59:59.999Z</time>" },
		{ "253402300800000",
		    "253402300800000 ms since 1970 (out of range)" },
		{ "-1", "-1 ms since 1970 (out of range)" },
		{ "1.5", "1.5" },
		{ "\"<soon>\"", "&lt;soon&gt;" },
		{ "null", "<span class=\"unk\">unknown</span>" },
		{ "true", "true" },
	};
	size_t i;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		char json[256];
		cJSON *a;
		const cJSON *acts[1];
		char *html;

		snprintf(json, sizeof(json), "{\"agent\":{\"finished_at\":%s}}",
		    rows[i].json);
		a = parse(json);
		acts[0] = a;
		html = render(NULL, acts, 1);
		CHECK(html != NULL);
		if (html != NULL) {
			const char *got = dd_of(html, "Finished");
			CHECKF(strcmp(got, rows[i].out) == 0,
			    "row %zu: got \"%s\", want \"%s\"", i, got,
			    rows[i].out);
		}
		free(html);
		cJSON_Delete(a);
	}
}

/* Problems first, then agreement; the empty cases say so. */
static void
check_sections(void)
{
	cJSON *bad = parse("{\"action_id\":\"bad1\",\"problems\":[{\"kind\":"
	                   "\"not_received\"}]}");
	cJSON *good = parse(
	    "{\"action_id\":\"good1\",\"problems\":[],"
	    "\"requester\":\"verified\",\"server\":{\"end\":"
	    "\"result\"},\"agent\":{\"decision\":\"allowed\"}}");
	const cJSON *acts[2];
	char *html;

	acts[0] = bad;
	acts[1] = good;
	html = render(NULL, acts, 2);
	CHECK(html != NULL);
	if (html != NULL) {
		const char *p = strstr(html, "Actions with problems");
		const char *b = strstr(html, "bad1");
		const char *g = strstr(html, "Actions in agreement");
		const char *o = strstr(html, "good1");

		check_document(html);
		CHECK(p != NULL && b != NULL && g != NULL && o != NULL);
		CHECK(p < b && b < g && g < o);
		CHECK(strstr(html, "No action") == NULL);
		CHECK_CONTAINS(html,
		    "(verified: the operator signed the "
		    "request)");
		CHECK_CONTAINS(html, "a result signed by the host");
		CHECK_CONTAINS(html, "allowed by its policy");
	}
	free(html);

	html = render(NULL, acts, 1);
	CHECK(html != NULL);
	if (html != NULL) {
		check_document(html);
		CHECK_CONTAINS(html, "No action is in agreement.");
		CHECK(strstr(html, "No action has a problem.") == NULL);
	}
	free(html);

	html = render(NULL, acts + 1, 1);
	CHECK(html != NULL);
	if (html != NULL) {
		check_document(html);
		CHECK_CONTAINS(html, "No action has a problem.");
		CHECK(strstr(html, "No action is in agreement.") == NULL);
	}
	free(html);

	html = render(NULL, NULL, 0);
	CHECK(html != NULL);
	if (html != NULL) {
		check_document(html);
		CHECK_CONTAINS(html, "No action has a problem.");
		CHECK_CONTAINS(html, "No action is in agreement.");
	}
	free(html);
	cJSON_Delete(bad);
	cJSON_Delete(good);
}

/* /dev/full: every failed write is SIGNET_ERR_IO, buffered or not. */
static void
check_write_errors(void)
{
	cJSON *a = parse("{\"action_id\":\"x\",\"reason\":\"r\"}");
	FILE *f;
	int r, i;

	f = fopen("/dev/full", "w");
	CHECK(f != NULL);
	if (f != NULL) {
		CHECK(setvbuf(f, NULL, _IONBF, 0) == 0);
		r = reconcile_html_begin(f, NULL);
		CHECKF(r == SIGNET_ERR_IO, "unbuffered begin: %d", r);
		/* A failed begin opens nothing. */
		CHECK(reconcile_html_action(f, a) == SIGNET_ERR_INVALID_ARG);
		fclose(f);
	}

	f = fopen("/dev/full", "w");
	CHECK(f != NULL);
	if (f != NULL) {
		r = reconcile_html_begin(f, NULL);
		/* Buffered: the error shows at the latest at the flush. */
		for (i = 0; r == 0 && i < 1000; i++)
			r = reconcile_html_action(f, a);
		CHECKF(r == SIGNET_ERR_IO, "buffered actions: %d", r);
		r = reconcile_html_end(f);
		CHECKF(r == SIGNET_ERR_IO, "end: %d", r);
		fclose(f);
	}

	f = fopen("/dev/full", "w");
	CHECK(f != NULL);
	if (f != NULL) {
		r = reconcile_html_begin(f, NULL);
		CHECK(r == 0 || r == SIGNET_ERR_IO);
		if (r == 0) {
			r = reconcile_html_end(f);
			CHECKF(r == SIGNET_ERR_IO, "end's flush: %d", r);
		}
		fclose(f);
	}
	cJSON_Delete(a);
}

/* Calls out of order and NULL are refused. */
static void
check_order(void)
{
	char *buf = NULL, *buf2 = NULL;
	size_t len = 0, len2 = 0;
	FILE *f = open_memstream(&buf, &len);
	FILE *g = open_memstream(&buf2, &len2);

	CHECK(f != NULL && g != NULL);
	if (f == NULL || g == NULL)
		goto out;
	CHECK(reconcile_html_begin(NULL, NULL) == SIGNET_ERR_INVALID_ARG);
	CHECK(reconcile_html_action(f, NULL) == SIGNET_ERR_INVALID_ARG);
	CHECK(reconcile_html_end(f) == SIGNET_ERR_INVALID_ARG);
	CHECK(reconcile_html_begin(f, NULL) == 0);
	CHECK(reconcile_html_action(NULL, NULL) == SIGNET_ERR_INVALID_ARG);
	CHECK(reconcile_html_action(g, NULL) == SIGNET_ERR_INVALID_ARG);
	CHECK(reconcile_html_end(g) == SIGNET_ERR_INVALID_ARG);
	CHECK(reconcile_html_end(f) == 0);
	CHECK(reconcile_html_end(f) == SIGNET_ERR_INVALID_ARG);
out:
	if (f != NULL)
		fclose(f);
	free(buf);
	if (g != NULL)
		fclose(g);
	free(buf2);
}

int
main(void)
{
	check_escaping();
	check_long();
	check_hostile_everywhere();
	check_absent();
	check_kinds();
	check_times();
	check_sections();
	check_write_errors();
	check_order();
	return test_finish("test_reconcile_html");
}
