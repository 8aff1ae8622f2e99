/* SPDX-License-Identifier: ISC */
/*
 * The reviewer's report of signetctl audit reconcile as one self-contained
 * HTML5 file, written as a stream: the summary, then one action at a time
 * (problems first), then the end. All markup is static text of this file;
 * every value from the JSON goes through one escaper (w_text), which
 * keeps well-formed UTF-8, turns & < > " ' into entities (safe in text
 * and in quoted attributes alike) and replaces control characters,
 * bidirectional overrides and invalid UTF-8 with U+FFFD, so that a log's
 * string can neither open markup nor reorder what the reviewer reads.
 * No value is ever placed in a URL, a style or a script.
 */
#include "reconcile_html.h"

#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include "jsonx.h"

/* Bytes of one string shown; the rest is counted, not shown. */
#define RHTML_TEXT_MAX 8192
/* 9999-12-31T23:59:59.999Z: the last time ISO 8601's four digits hold. */
#define RHTML_TIME_MAX 253402300799999LL

/* The one table of problem kinds and what each means, in plain words. */
static const struct {
	const char *kind;
	const char *sentence;
} kinds[] = {
	{ "not_requested",
	    "Executed on a host, but the server's log never "
	    "requested it." },
	{ "not_received",
	    "Requested by the server, never received by the host, "
	    "and the server recorded neither action.undelivered "
	    "nor action.timeout." },
	{ "host_log_missing",
	    "The server sent it to a host whose log was not "
	    "given to reconcile: what the host did is "
	    "unknown." },
	{ "result_differs",
	    "The result in the server's log differs from the "
	    "one the host signed." },
	{ "agent_log_short",
	    "The host's log stops before the result the "
	    "server holds: records were removed or lost." },
	{ "run_after_expiry", "It ran after the action had expired." },
	{ "duplicate_execution", "It was executed more than once." },
	{ "wrong_host",
	    "It was recorded by a host other than the one the "
	    "server addressed." },
	{ "approvals_differ",
	    "The approvals in the server's log differ from "
	    "those the host counted." },
	{ "action_differs",
	    "What the host received differs from what the "
	    "server signed (host, container, action or "
	    "hash)." },
	{ "foreign_head_mismatch",
	    "A head of the other log recorded in this "
	    "one does not match that log: one of the "
	    "two was rewritten." },
	{ "log_invalid",
	    "A log that holds this action does not verify: its "
	    "records cannot be trusted." },
	{ "checkpoint_mismatch",
	    "A signed checkpoint does not hold over its log: the log "
	    "was rewritten or cut after the checkpoint was signed." },
	{ "result_unknown_action",
	    "The server holds a result for an action it never "
	    "requested." },
	{ "result_not_recorded",
	    "The host signed a result the server never recorded." },
	{ "requested_twice",
	    "Two replicas' logs both request it (or one log twice with "
	    "other bytes): one action id, two requests." },
};

/* A word of the JSON and its plain words in the report. */
struct rhtml_word {
	const char *word;
	const char *words;
};

static const struct rhtml_word server_ends[] = {
	{ "result", "a result signed by the host" },
	{ "outcome", "an outcome signed by the host (after UNKNOWN)" },
	{ "timeout", "timed out (action.timeout)" },
	{ "undelivered", "never delivered (action.undelivered)" },
	{ "unverified", "an answer whose signature did not verify" },
	{ "refused", "refused by the server" },
	{ "awaiting", "still awaiting approvals" },
	{ "none", "nothing recorded" },
	{ NULL, NULL },
};

static const struct rhtml_word decisions[] = {
	{ "allowed", "allowed by its policy" },
	{ "denied", "DENIED by its policy" },
	{ "rejected", "REJECTED (a check of the signed action failed)" },
	{ "none", "no decision recorded" },
	{ NULL, NULL },
};

static const struct rhtml_word requesters[] = {
	{ "verified", "verified: the operator signed the request" },
	{ "server-asserted",
	    "server-asserted: signed by the relay alone, not "
	    "by the operator" },
	{ NULL, NULL },
};

/* Which part of the document is open between begin and end. */
enum rhtml_state {
	RHTML_IDLE = 0,
	RHTML_PROBLEMS,  /* "Actions with problems" open */
	RHTML_AGREEMENT, /* "Actions in agreement" open */
};

static struct {
	FILE *out;
	enum rhtml_state state;
	unsigned long long problems;  /* actions shown with problems */
	unsigned long long agreement; /* actions shown in agreement */
} cur;

/* A writer that remembers its first failure, so callers check once. */
struct w {
	FILE *f;
	bool failed;
};

static void
w_raw(struct w *w, const char *s)
{
	if (!w->failed && fputs(s, w->f) == EOF)
		w->failed = true;
}

static void w_fmt(struct w *w, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
w_fmt(struct w *w, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (w->failed)
		return;
	va_start(ap, fmt);
	n = vfprintf(w->f, fmt, ap);
	va_end(ap);
	if (n < 0)
		w->failed = true;
}

static void
w_bytes(struct w *w, const char *p, size_t n)
{
	if (!w->failed && n > 0 && fwrite(p, 1, n, w->f) != n)
		w->failed = true;
}

/*
 * The length of the well-formed UTF-8 sequence at p[0..n) (1 to 4) and
 * its code point, or 0 when the bytes there are not one.
 */
static size_t
utf8_seq(const unsigned char *p, size_t n, uint32_t *cp)
{
	size_t len, k;
	uint32_t c, min;

	if (p[0] < 0x80) {
		*cp = p[0];
		return 1;
	}
	if (p[0] >= 0xc2 && p[0] <= 0xdf) {
		len = 2;
		c = p[0] & 0x1f;
		min = 0x80;
	} else if (p[0] >= 0xe0 && p[0] <= 0xef) {
		len = 3;
		c = p[0] & 0x0f;
		min = 0x800;
	} else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
		len = 4;
		c = p[0] & 0x07;
		min = 0x10000;
	} else {
		return 0;
	}
	if (len > n)
		return 0;
	for (k = 1; k < len; k++) {
		if ((p[k] & 0xc0) != 0x80)
			return 0;
		c = (c << 6) | (p[k] & 0x3f);
	}
	if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
		return 0;
	*cp = c;
	return len;
}

/*
 * True for code points shown as U+FFFD: C0 and C1 controls, DEL, the
 * bidirectional marks, embeddings, overrides and isolates (which could
 * make a value read as another), line and paragraph separators, BOM.
 */
static bool
cp_replaced(uint32_t c)
{
	return c < 0x20 || (c >= 0x7f && c <= 0x9f) || c == 0x061c ||
	    c == 0x200e || c == 0x200f || (c >= 0x2028 && c <= 0x202e) ||
	    (c >= 0x2066 && c <= 0x2069) || c == 0xfeff;
}

/* Writes s[0..n) as HTML text, safe in text and in quoted attributes. */
static void
w_text_n(struct w *w, const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, run = 0, shown;

	shown = n > RHTML_TEXT_MAX ? RHTML_TEXT_MAX : n;
	while (i < shown) {
		const char *ent = NULL;
		uint32_t c = 0;
		size_t len = utf8_seq(p + i, n - i, &c);

		if (len == 0 || cp_replaced(c)) {
			ent = "\xef\xbf\xbd"; /* U+FFFD */
			if (len == 0)
				len = 1;
		} else if (c == '&') {
			ent = "&amp;";
		} else if (c == '<') {
			ent = "&lt;";
		} else if (c == '>') {
			ent = "&gt;";
		} else if (c == '"') {
			ent = "&quot;";
		} else if (c == '\'') {
			ent = "&#39;";
		}
		if (ent == NULL) {
			i += len;
			continue;
		}
		w_bytes(w, s + run, i - run);
		w_raw(w, ent);
		i += len;
		run = i;
	}
	w_bytes(w, s + run, i - run);
	if (i < n)
		w_fmt(w,
		    "<span class=\"cut\"> [%zu more bytes not shown]</span>",
		    n - i);
}

static void
w_text(struct w *w, const char *s)
{
	w_text_n(w, s, strlen(s));
}

/* The member key of obj, or NULL when obj is not an object or lacks it. */
static const cJSON *
member(const cJSON *obj, const char *key)
{
	if (!cJSON_IsObject(obj))
		return NULL;
	return cJSON_GetObjectItemCaseSensitive(obj, key);
}

/* True when v is a whole number a double holds exactly. */
static bool
as_int(const cJSON *v, long long *out)
{
	double d;

	if (!cJSON_IsNumber(v))
		return false;
	d = v->valuedouble;
	if (!isfinite(d) || d != floor(d) || d > (double)JSONX_INT_MAX ||
	    d < -(double)JSONX_INT_MAX)
		return false;
	*out = (long long)d;
	return true;
}

static void
w_unknown(struct w *w)
{
	w_raw(w, "<span class=\"unk\">unknown</span>");
}

/* Any value: a string as text, a number, true/false; else "unknown". */
static void
w_value(struct w *w, const cJSON *v)
{
	long long n;

	if (cJSON_IsString(v) && v->valuestring != NULL)
		w_text(w, v->valuestring);
	else if (as_int(v, &n))
		w_fmt(w, "%lld", n);
	else if (cJSON_IsNumber(v) && isfinite(v->valuedouble))
		w_fmt(w, "%.17g", v->valuedouble);
	else if (cJSON_IsTrue(v))
		w_raw(w, "true");
	else if (cJSON_IsFalse(v))
		w_raw(w, "false");
	else if (cJSON_IsArray(v) || cJSON_IsObject(v))
		w_raw(w, "<span class=\"unk\">(not a single value)</span>");
	else
		w_unknown(w);
}

/* A value in <code>, for ids, hashes and heads. */
static void
w_code(struct w *w, const cJSON *v)
{
	if (v == NULL || cJSON_IsNull(v)) {
		w_unknown(w);
		return;
	}
	w_raw(w, "<code>");
	w_value(w, v);
	w_raw(w, "</code>");
}

/* Unix ms as UTC ISO 8601 (2026-12-05T07:05:36.123Z). */
static void
w_time(struct w *w, const cJSON *v)
{
	long long ms;
	time_t t;
	struct tm tm;
	char buf[32];

	if (!as_int(v, &ms)) {
		w_value(w, v);
		return;
	}
	t = (time_t)(ms / 1000);
	if (ms < 0 || ms > RHTML_TIME_MAX || gmtime_r(&t, &tm) == NULL ||
	    strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm) == 0) {
		w_fmt(w, "%lld ms since 1970 (out of range)", ms);
		return;
	}
	w_fmt(w, "<time>%s.%03lldZ</time>", buf, ms % 1000);
}

/* An array of names joined by ", "; [] is "none". */
static void
w_list(struct w *w, const cJSON *v, bool code)
{
	const cJSON *it;
	bool first = true;

	if (!cJSON_IsArray(v)) {
		w_value(w, v);
		return;
	}
	if (cJSON_GetArraySize(v) == 0) {
		w_raw(w, "none");
		return;
	}
	cJSON_ArrayForEach(it, v)
	{
		if (!first)
			w_raw(w, code ? " " : ", ");
		first = false;
		if (code)
			w_code(w, it);
		else
			w_value(w, it);
	}
}

/* A word of a table in its plain words, or the value itself escaped. */
static void
w_word(struct w *w, const cJSON *v, const struct rhtml_word *table)
{
	const struct rhtml_word *t;

	if (cJSON_IsString(v) && v->valuestring != NULL) {
		for (t = table; t->word != NULL; t++) {
			if (strcmp(v->valuestring, t->word) == 0) {
				w_raw(w, t->words);
				return;
			}
		}
	}
	w_value(w, v);
}

/* The sentence of a problem kind (NULL: none), generic for unknown kinds. */
static void
w_kind_sentence(struct w *w, const char *kind)
{
	size_t i;

	if (kind != NULL) {
		for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
			if (strcmp(kind, kinds[i].kind) == 0) {
				w_raw(w, kinds[i].sentence);
				return;
			}
		}
	}
	w_raw(w,
	    "A problem of a kind this version of signetctl does not "
	    "describe; its detail says more.");
}

/* One <dt>label</dt><dd> opened; the caller writes the value. */
static void
w_dt(struct w *w, const char *label)
{
	w_fmt(w, "<dt>%s</dt><dd>", label);
}

static const char style[] =
    "<style>\n"
    ":root{--bad:#a40000;--bad-bg:#fdecea;--ok:#1e6b1e;--ok-bg:#e9f5e9;"
    "--line:#c8c8c8;--muted:#5a5a5a}\n"
    "*{box-sizing:border-box}\n"
    "body{font:15px/1.45 system-ui,-apple-system,\"Segoe UI\",Roboto,"
    "\"DejaVu Sans\",sans-serif;color:#111;background:#fff;margin:0 auto;"
    "max-width:1100px;padding:1.5em}\n"
    "h1{font-size:1.6em;margin:.2em 0}h2{font-size:1.3em;margin-top:1.6em;"
    "border-bottom:2px solid #111;padding-bottom:.2em}"
    "h3{font-size:1.05em;margin:0 0 .4em}"
    "h4{font-size:.9em;margin:0 0 .3em;text-transform:uppercase;"
    "letter-spacing:.04em;color:var(--muted)}\n"
    "time{white-space:nowrap}\n"
    "code,time{font-family:\"DejaVu Sans Mono\",Menlo,Consolas,monospace;"
    "font-size:.92em}\n"
    "code,dd,td,li,p{overflow-wrap:anywhere;word-break:break-word}\n"
    "table{border-collapse:collapse;width:100%;table-layout:fixed;"
    "margin:.5em 0}"
    "th,td{border:1px solid var(--line);padding:.3em .45em;text-align:left;"
    "vertical-align:top}th{background:#f2f2f2}\n"
    ".verdict{font-weight:700;padding:.5em .8em;border-radius:4px}\n"
    ".bad{color:var(--bad)}.ok{color:var(--ok)}"
    ".verdict.bad{background:var(--bad-bg)}.verdict.ok{background:"
    "var(--ok-bg)}\n"
    ".unk{color:var(--muted);font-style:italic}"
    ".cut{color:var(--muted);font-style:italic}\n"
    "article{border:1px solid var(--line);border-left:6px solid var(--ok);"
    "border-radius:4px;padding:.7em .9em;margin:.8em 0;"
    "break-inside:avoid;page-break-inside:avoid}\n"
    "article.problem{border-left-color:var(--bad)}\n"
    ".tag{display:inline-block;font-size:.8em;font-weight:700;"
    "padding:.05em .5em;border-radius:3px;margin-right:.4em;"
    "border:1px solid currentColor}\n"
    "ul.problems{margin:.3em 0 .7em;padding-left:1.2em}"
    "ul.problems li{margin:.2em 0}\n"
    ".cols{display:grid;grid-template-columns:repeat(auto-fit,"
    "minmax(380px,1fr));gap:.8em 1.6em}\n"
    "dl{margin:0;display:grid;grid-template-columns:max-content 1fr;"
    "gap:.1em .6em}dt{color:var(--muted)}dd{margin:0;min-width:0}\n"
    "footer{margin-top:2em;color:var(--muted);font-size:.85em}\n"
    "@media print{body{padding:0;font-size:11pt;max-width:none}"
    "h2{break-after:avoid}a{color:inherit}}\n"
    "</style>\n";

/* Has the summary member key a count above 0? */
static bool
count_positive(const cJSON *summary, const char *key)
{
	long long n;

	return as_int(member(summary, key), &n) && n > 0;
}

/* Does any log of the summary say "valid": false? */
static bool
any_log_invalid(const cJSON *logs)
{
	const cJSON *it;

	if (!cJSON_IsArray(logs))
		return false;
	cJSON_ArrayForEach(it, logs)
	{
		if (!cJSON_IsTrue(member(it, "valid")))
			return true;
	}
	return false;
}

static void
w_logs(struct w *w, const cJSON *logs)
{
	const cJSON *it;

	w_raw(w, "<h2>Logs reconciled</h2>\n");
	if (!cJSON_IsArray(logs) || cJSON_GetArraySize(logs) == 0) {
		w_raw(w, "<p class=\"unk\">No log is listed.</p>\n");
		return;
	}
	w_raw(w,
	    "<table><colgroup><col style=\"width:8%\">"
	    "<col style=\"width:14%\"><col style=\"width:30%\">"
	    "<col style=\"width:9%\"><col style=\"width:24%\">"
	    "<col style=\"width:15%\"></colgroup>\n"
	    "<tr><th>Role</th><th>Host</th><th>Files</th><th>Records</th>"
	    "<th>Head</th><th>Valid</th></tr>\n");
	cJSON_ArrayForEach(it, logs)
	{
		const cJSON *valid = member(it, "valid");
		const cJSON *error = member(it, "error");
		const cJSON *host = member(it, "host_id");

		w_raw(w, "<tr><td>");
		w_value(w, member(it, "role"));
		w_raw(w, "</td><td>");
		if (host != NULL) {
			w_code(w, host);
		} else if (member(it, "replica") != NULL) {
			/* A cluster replica's server log. */
			w_raw(w, "replica ");
			w_code(w, member(it, "replica"));
		} else {
			w_raw(w, "&#8212;");
		}
		w_raw(w, "</td><td>");
		w_list(w, member(it, "files"), true);
		w_raw(w, "</td><td>");
		w_value(w, member(it, "records"));
		w_raw(w, "</td><td>");
		w_code(w, member(it, "head"));
		w_raw(w, "</td><td>");
		if (cJSON_IsTrue(valid))
			w_raw(w, "<span class=\"ok\">valid</span>");
		else if (cJSON_IsFalse(valid))
			w_raw(w, "<strong class=\"bad\">INVALID</strong>");
		else
			w_unknown(w);
		if (error != NULL) {
			w_raw(w, "<br>");
			w_value(w, error);
		}
		w_raw(w, "</td></tr>\n");
	}
	w_raw(w, "</table>\n");
}

static void
w_by_kind(struct w *w, const cJSON *by_kind)
{
	const cJSON *it;

	w_raw(w, "<h2>Problems by kind</h2>\n");
	if (!cJSON_IsObject(by_kind) || cJSON_GetArraySize(by_kind) == 0) {
		w_raw(w,
		    cJSON_IsObject(by_kind) ?
		        "<p class=\"ok\">No problem was found.</p>\n" :
		        "<p class=\"unk\">Not given.</p>\n");
		return;
	}
	w_raw(w,
	    "<table><colgroup><col style=\"width:22%\">"
	    "<col style=\"width:9%\"><col></colgroup>\n"
	    "<tr><th>Kind</th><th>Actions</th><th>What it means</th>"
	    "</tr>\n");
	cJSON_ArrayForEach(it, by_kind)
	{
		w_raw(w, "<tr><td><code>");
		if (it->string != NULL)
			w_text(w, it->string);
		w_raw(w, "</code></td><td>");
		w_value(w, it);
		w_raw(w, "</td><td>");
		w_kind_sentence(w, it->string);
		w_raw(w, "</td></tr>\n");
	}
	w_raw(w, "</table>\n");
}

static void
w_summary(struct w *w, const cJSON *summary)
{
	const cJSON *logs = member(summary, "logs");
	const cJSON *missing = member(summary, "hosts_missing");
	bool bad;

	w_raw(w,
	    "<header>\n<h1>signet audit reconciliation</h1>\n"
	    "<p>Generated ");
	w_time(w, member(summary, "generated_at"));
	w_raw(w,
	    " (UTC) by <code>signetctl audit reconcile</code>: every "
	    "action of the server's log joined with the hosts' logs by "
	    "action id, and each step checked against the other "
	    "log.</p>\n");
	bad = count_positive(summary, "with_problems") ||
	    any_log_invalid(logs) ||
	    (cJSON_IsArray(missing) && cJSON_GetArraySize(missing) > 0);
	if (bad)
		w_raw(w,
		    "<p class=\"verdict bad\">PROBLEMS FOUND: the logs do "
		    "not agree. Each action with a problem is listed "
		    "first.</p>\n");
	else if (member(summary, "with_problems") != NULL)
		w_raw(w,
		    "<p class=\"verdict ok\">The logs agree: no action "
		    "has a problem.</p>\n");
	w_raw(w, "<p>Actions: ");
	w_value(w, member(summary, "actions"));
	w_raw(w, "; in agreement: ");
	w_value(w, member(summary, "ok"));
	w_raw(w, "; with problems: ");
	w_value(w, member(summary, "with_problems"));
	w_raw(w, ".</p>\n");
	if (cJSON_IsArray(missing) && cJSON_GetArraySize(missing) > 0) {
		w_raw(w,
		    "<p class=\"bad\">Hosts named in the server's log "
		    "whose logs were not given: ");
		w_list(w, missing, true);
		w_raw(w, ".</p>\n");
	}
	w_raw(w, "</header>\n");
	w_logs(w, logs);
	w_by_kind(w, member(summary, "problems_by_kind"));
}

int
reconcile_html_begin(FILE *out, const cJSON *summary)
{
	struct w w = { out, false };

	if (out == NULL)
		return SIGNET_ERR_INVALID_ARG;
	memset(&cur, 0, sizeof(cur));
	w_raw(&w,
	    "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n"
	    "<meta charset=\"utf-8\">\n"
	    "<meta http-equiv=\"Content-Security-Policy\" "
	    "content=\"default-src 'none'; style-src 'unsafe-inline'; "
	    "base-uri 'none'; form-action 'none'\">\n"
	    "<meta name=\"referrer\" content=\"no-referrer\">\n"
	    "<meta name=\"viewport\" content=\"width=device-width, "
	    "initial-scale=1\">\n"
	    "<title>signet audit reconciliation</title>\n");
	w_raw(&w, style);
	w_raw(&w, "</head>\n<body>\n");
	w_summary(&w, summary);
	w_raw(&w,
	    "<section class=\"problems\">\n"
	    "<h2>Actions with problems</h2>\n");
	if (w.failed || ferror(out))
		return SIGNET_ERR_IO;
	cur.out = out;
	cur.state = RHTML_PROBLEMS;
	return 0;
}

/* Closes "Actions with problems" and opens "Actions in agreement". */
static void
w_to_agreement(struct w *w)
{
	if (cur.problems == 0)
		w_raw(w, "<p class=\"ok\">No action has a problem.</p>\n");
	w_raw(w,
	    "</section>\n<section class=\"agreement\">\n"
	    "<h2>Actions in agreement</h2>\n");
	cur.state = RHTML_AGREEMENT;
}

static void
w_problems(struct w *w, const cJSON *problems)
{
	const cJSON *it;

	w_raw(w, "<ul class=\"problems\">\n");
	cJSON_ArrayForEach(it, problems)
	{
		const cJSON *kind = member(it, "kind");
		const cJSON *detail = member(it, "detail");

		w_raw(w, "<li><strong class=\"bad\">");
		w_kind_sentence(w,
		    cJSON_IsString(kind) ? kind->valuestring : NULL);
		w_raw(w, "</strong> <code>");
		w_value(w, kind);
		w_raw(w, "</code>");
		if (detail != NULL) {
			w_raw(w, "<br>");
			w_value(w, detail);
		}
		w_raw(w, "</li>\n");
	}
	w_raw(w, "</ul>\n");
}

/* " (seq N)" when the log's sequence number is known. */
static void
w_seq(struct w *w, const cJSON *seq)
{
	if (seq == NULL)
		return;
	w_raw(w, " (seq ");
	w_value(w, seq);
	w_raw(w, ")");
}

static void
w_server(struct w *w, const cJSON *a, const cJSON *s)
{
	w_raw(w, "<section><h4>What the server signed</h4><dl>");
	w_dt(w, "Action");
	w_value(w, member(a, "action"));
	w_raw(w, "</dd>");
	w_dt(w, "Container");
	w_code(w, member(a, "container_id"));
	w_raw(w, "</dd>");
	w_dt(w, "Host");
	w_code(w, member(a, "host_id"));
	w_raw(w, "</dd>");
	if (member(a, "replicas") != NULL) {
		/* A cluster's: which replica's log did what. */
		w_dt(w, "Requested on replica");
		w_list(w, member(member(a, "replicas"), "requested"), false);
		w_raw(w, "</dd>");
		w_dt(w, "Relayed by replica");
		w_list(w, member(member(a, "replicas"), "relayed"), false);
		w_raw(w, "</dd>");
		w_dt(w, "Result recorded by");
		w_list(w, member(member(a, "replicas"), "results"), false);
		w_raw(w, "</dd>");
	}
	if (s == NULL) {
		w_raw(w,
		    "<dt>Server's log</dt><dd><strong class=\"bad\">no "
		    "record of this action</strong></dd></dl></section>\n");
		return;
	}
	w_dt(w, "Requested");
	w_time(w, member(s, "requested_at"));
	w_seq(w, member(s, "requested_seq"));
	w_raw(w, "</dd>");
	w_dt(w, "Expires");
	w_time(w, member(s, "expires_at"));
	w_raw(w, "</dd>");
	w_dt(w, "Action SHA-256");
	w_code(w, member(s, "action_sha256"));
	w_raw(w, "</dd>");
	w_dt(w, "Approvals");
	w_list(w, member(s, "approvals"), false);
	w_raw(w, "</dd>");
	w_dt(w, "Ended with");
	w_word(w, member(s, "end"), server_ends);
	w_seq(w, member(s, "result_seq"));
	w_raw(w, "</dd>");
	w_dt(w, "Status recorded");
	w_value(w, member(s, "status"));
	if (member(s, "docker_status") != NULL) {
		w_raw(w, " (dockerd ");
		w_value(w, member(s, "docker_status"));
		w_raw(w, ")");
	}
	w_raw(w, "</dd></dl></section>\n");
}

static void
w_agent(struct w *w, const cJSON *g)
{
	const cJSON *detail = member(g, "decision_detail");

	w_raw(w, "<section><h4>What the host judged</h4><dl>");
	if (g == NULL) {
		w_raw(w,
		    "<dt>Host's log</dt><dd><strong class=\"bad\">no "
		    "record of this action</strong></dd></dl></section>\n"
		    "<section><h4>What dockerd did</h4><dl><dt>Host's log"
		    "</dt><dd><span class=\"unk\">unknown</span></dd></dl>"
		    "</section>\n");
		return;
	}
	w_dt(w, "Received");
	if (member(g, "received_seq") != NULL)
		w_raw(w, "yes");
	else
		w_unknown(w);
	w_seq(w, member(g, "received_seq"));
	w_raw(w, "</dd>");
	w_dt(w, "Decision");
	w_word(w, member(g, "decision"), decisions);
	if (detail != NULL) {
		w_raw(w, ": ");
		w_value(w, detail);
	}
	w_raw(w, "</dd>");
	w_dt(w, "Approvals seen");
	w_list(w, member(g, "approvals"), false);
	w_raw(w, "</dd></dl></section>\n");

	w_raw(w, "<section><h4>What dockerd did</h4><dl>");
	w_dt(w, "Dispatched");
	w_time(w, member(g, "dispatched_at"));
	w_raw(w, "</dd>");
	w_dt(w, "Started");
	w_time(w, member(g, "started_at"));
	w_raw(w, "</dd>");
	w_dt(w, "Finished");
	w_time(w, member(g, "finished_at"));
	w_raw(w, "</dd>");
	w_dt(w, "Status");
	w_value(w, member(g, "status"));
	w_raw(w, "</dd>");
	w_dt(w, "Docker status");
	w_value(w, member(g, "docker_status"));
	w_raw(w, "</dd>");
	w_dt(w, "Executed");
	if (member(g, "executed_seq") != NULL)
		w_raw(w, "yes");
	else
		w_unknown(w);
	w_seq(w, member(g, "executed_seq"));
	w_raw(w, "</dd></dl></section>\n");
}

int
reconcile_html_action(FILE *out, const cJSON *action)
{
	struct w w = { out, false };
	const cJSON *problems = member(action, "problems");
	const cJSON *server = member(action, "server");
	const cJSON *agent = member(action, "agent");
	bool bad;
	int n;

	if (out == NULL || out != cur.out || cur.state == RHTML_IDLE)
		return SIGNET_ERR_INVALID_ARG;
	n = cJSON_IsArray(problems) ? cJSON_GetArraySize(problems) : 0;
	/* An action nobody could read is not in agreement either. */
	bad = n > 0 || !cJSON_IsObject(action);
	if (!bad && cur.state == RHTML_PROBLEMS)
		w_to_agreement(&w);
	if (bad)
		cur.problems++;
	else
		cur.agreement++;

	w_raw(&w,
	    bad ? "<article class=\"problem\">\n<h3><span class=\"tag "
	          "bad\">" :
	          "<article class=\"agree\">\n<h3><span class=\"tag "
	          "ok\">");
	if (!cJSON_IsObject(action))
		w_raw(&w, "unreadable");
	else if (n == 1)
		w_raw(&w, "1 problem");
	else if (n > 1)
		w_fmt(&w, "%d problems", n);
	else
		w_raw(&w, "in agreement");
	w_raw(&w, "</span>Action ");
	w_code(&w, member(action, "action_id"));
	w_raw(&w, "</h3>\n");
	if (n > 0)
		w_problems(&w, problems);

	w_raw(&w, "<div class=\"cols\">\n<section><h4>Who and why</h4><dl>");
	w_dt(&w, "Requested by");
	w_value(&w, member(action, "requested_by"));
	if (member(action, "requester") != NULL) {
		w_raw(&w, " (");
		w_word(&w, member(action, "requester"), requesters);
		w_raw(&w, ")");
	}
	w_raw(&w, "</dd>");
	w_dt(&w, "Reason");
	w_value(&w, member(action, "reason"));
	w_raw(&w, "</dd></dl></section>\n");
	w_server(&w, action, server);
	w_agent(&w, agent);
	w_raw(&w, "</div>\n</article>\n");
	if (w.failed || ferror(out))
		return SIGNET_ERR_IO;
	return 0;
}

int
reconcile_html_end(FILE *out)
{
	struct w w = { out, false };

	if (out == NULL || out != cur.out || cur.state == RHTML_IDLE)
		return SIGNET_ERR_INVALID_ARG;
	if (cur.state == RHTML_PROBLEMS)
		w_to_agreement(&w);
	if (cur.agreement == 0)
		w_raw(&w, "<p class=\"unk\">No action is in agreement.</p>\n");
	w_raw(&w,
	    "</section>\n<footer>Written by signetctl audit reconcile. "
	    "Each value comes from the logs as recorded; the logs "
	    "themselves, checked with signetctl audit verify, are the "
	    "evidence.</footer>\n</body>\n</html>\n");
	memset(&cur, 0, sizeof(cur));
	if (w.failed || fflush(out) != 0 || ferror(out))
		return SIGNET_ERR_IO;
	return 0;
}
