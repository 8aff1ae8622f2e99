/* SPDX-License-Identifier: ISC */
/*
 * signetctl audit tail: the server's latest audit records (GET
 * /api/audit?after=SEQ&limit=N), and with --follow the new ones as they
 * come, polling every --interval seconds until SIGINT or SIGTERM. Memory
 * stays bounded: one page of at most TAIL_MAX records at a time.
 */
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "clock.h"
#include "cmd.h"
#include "http.h"
#include "text.h"

#define TAIL_DEFAULT 20
#define TAIL_MAX 1000
#define INTERVAL_DEFAULT 2
#define INTERVAL_MAX 3600

enum {
	OPT_AFTER = CMD_OPT_FIRST_OWN,
	OPT_LIMIT,
	OPT_FOLLOW,
	OPT_INTERVAL,
};

static volatile sig_atomic_t stop_flag;

static void
on_stop(int sig)
{
	(void)sig;
	stop_flag = 1;
}

static void
usage_tail(FILE *f)
{
	fprintf(f,
	    "usage: signetctl audit tail [--after SEQ] [--limit N] "
	    "[--follow [--interval S]]\n"
	    "       [-o table|json] [--json] [CONNECTION OPTIONS]\n"
	    "  --after SEQ              only records after seq SEQ\n"
	    "  --limit N                at most N records, 1 to 1000 "
	    "(default 20)\n"
	    "  --follow                 then print new records as they come, "
	    "until\n"
	    "                           interrupted (SIGINT, SIGTERM: exit 0)\n"
	    "  --interval S             poll every S seconds, 1 to 3600 "
	    "(default 2)\n"
	    "  -o, --output table|json  one line a record (default), or "
	    "JSON: the server's\n"
	    "                           answer; with --follow one record a "
	    "line\n"
	    "                           --json is -o json\n"
	    "connection options: signetctl --help\n");
}

/*
 * GET /api/audit?after=&limit=; *doc the answer, *records its array.
 * Returns CMD_OK or an exit code (said on stderr).
 */
static int
audit_page(const struct http_opts *o, bool has_after, int64_t after,
    int64_t limit, cJSON **doc, const cJSON **records)
{
	char path[128], num[24];
	struct http_response resp;
	struct err_msg msg;
	int rc = CMD_FAIL;

	*doc = NULL;
	*records = NULL;
	memset(&resp, 0, sizeof(resp));
	err_clear(&msg);
	(void)snprintf(path, sizeof(path), "/api/audit");
	(void)snprintf(num, sizeof(num), "%" PRId64, after);
	if (has_after &&
	    http_path_add_query(path, sizeof(path), "after", num) != 0)
		goto out;
	(void)snprintf(num, sizeof(num), "%" PRId64, limit);
	if (http_path_add_query(path, sizeof(path), "limit", num) != 0)
		goto out;
	if (http_request(o, "GET", path, NULL, 0, 0, &resp, &msg) != 0) {
		if (resp.failure != HTTP_FAIL_ABORTED)
			fprintf(stderr, "signetctl audit tail: %s\n", msg.text);
		rc = cmd_exit_of_failure(resp.failure);
		if (rc == CMD_OK)
			rc = -1; /* stopped: no page */
		goto out;
	}
	if (resp.status < 200 || resp.status > 299) {
		http_print_failure("audit tail", &resp);
		rc = cmd_exit_of_status(resp.status);
		goto out;
	}
	*doc = cJSON_ParseWithLength(resp.body, resp.len);
	*records = cJSON_GetObjectItemCaseSensitive(*doc, "records");
	if (!cJSON_IsArray(*records)) {
		fprintf(stderr,
		    "signetctl audit tail: the server's answer is "
		    "not a {\"records\":[...]} document\n");
		cJSON_Delete(*doc);
		*doc = NULL;
		*records = NULL;
		goto out;
	}
	rc = CMD_OK;
out:
	http_response_free(&resp);
	return rc;
}

/* Whether a record with seq exists: 1 yes, 0 no, else -(exit code). */
static int
seq_exists(const struct http_opts *o, int64_t seq)
{
	const cJSON *recs;
	cJSON *doc = NULL;
	int r;

	r = audit_page(o, seq > 0, seq - 1, 1, &doc, &recs);
	if (r != CMD_OK)
		return r > 0 ? -r : -CMD_FAIL;
	r = cJSON_GetArraySize(recs) > 0 ? 1 : 0;
	cJSON_Delete(doc);
	return r;
}

/*
 * The last seq of the log (-1 when empty): the API pages forward, so
 * probe exponentially, then bisect (about 2 log2(N) small requests).
 * Returns 0 or an exit code.
 */
static int
last_seq(const struct http_opts *o, int64_t *last)
{
	int64_t lo = 0, hi = 1, mid;
	int e;

	*last = -1;
	e = seq_exists(o, 0);
	if (e <= 0)
		return -e;
	for (;;) {
		e = seq_exists(o, hi);
		if (e < 0)
			return -e;
		if (e == 0)
			break;
		lo = hi;
		if (hi > INT64_MAX / 4)
			return CMD_FAIL;
		hi *= 2;
	}
	while (hi - lo > 1) {
		mid = lo + (hi - lo) / 2;
		e = seq_exists(o, mid);
		if (e < 0)
			return -e;
		if (e == 1)
			lo = mid;
		else
			hi = mid;
	}
	*last = lo;
	return 0;
}

static void
print_record(const cJSON *rec)
{
	const cJSON *seq = cJSON_GetObjectItemCaseSensitive(rec, "seq");
	const cJSON *ts = cJSON_GetObjectItemCaseSensitive(rec, "ts");
	const cJSON *data = cJSON_GetObjectItemCaseSensitive(rec, "data");
	char when[40] = "-", sq[32], ev[80], actor[140], text[600];
	char *d = NULL;

	if (cJSON_IsNumber(ts) && ts->valuedouble >= 0 &&
	    ts->valuedouble < 253402300800000.0 &&
	    clock_format((int64_t)ts->valuedouble, false, when,
	        sizeof(when))[0] == '\0')
		(void)snprintf(when, sizeof(when), "-");
	d = data != NULL ? cJSON_PrintUnformatted(data) : NULL;
	printf("%s  %s  %s  %s  %s\n",
	    cJSON_IsNumber(seq) ? http_json_cell(rec, "seq", sq, sizeof(sq)) :
	                          "-",
	    when, http_json_cell(rec, "event", ev, sizeof(ev)),
	    http_json_cell(rec, "actor", actor, sizeof(actor)),
	    text_vis_str(d != NULL ? d : "{}", text, sizeof(text)));
	free(d);
}

/*
 * Prints a page's records (a line each, or each record's JSON on a line)
 * and moves *after to the last seq. Returns CMD_OK or CMD_FAIL.
 */
static int
print_page(const cJSON *recs, bool json, bool *has_after, int64_t *after)
{
	const cJSON *rec, *seq;
	char *text;

	cJSON_ArrayForEach(rec, recs)
	{
		if (json) {
			text = cJSON_PrintUnformatted(rec);
			if (text == NULL || printf("%s\n", text) < 0) {
				free(text);
				return CMD_FAIL;
			}
			free(text);
		} else {
			print_record(rec);
		}
		seq = cJSON_GetObjectItemCaseSensitive(rec, "seq");
		if (cJSON_IsNumber(seq) && seq->valuedouble >= 0 &&
		    seq->valuedouble < 9e15 &&
		    (!*has_after || (int64_t)seq->valuedouble > *after)) {
			*after = (int64_t)seq->valuedouble;
			*has_after = true;
		}
	}
	return fflush(stdout) == 0 ? CMD_OK : CMD_FAIL;
}

/* Sleeps ms milliseconds, or less when stop_flag is set. */
static void
nap(int64_t ms)
{
	int64_t end = clock_mono_ms() + ms, left;
	struct timespec ts;

	while (stop_flag == 0) {
		left = end - clock_mono_ms();
		if (left <= 0)
			break;
		if (left > 100)
			left = 100;
		ts.tv_sec = 0;
		ts.tv_nsec = (long)left * 1000000L;
		(void)nanosleep(&ts, NULL); /* EINTR: the loop looks */
	}
}

/* --follow: poll for records after *after until stopped. */
static int
follow(struct cmd_ctx *ctx, bool json, bool has_after, int64_t after,
    int64_t interval)
{
	struct sigaction sa, old_int, old_term;
	const cJSON *recs;
	cJSON *doc = NULL;
	int n, rc = CMD_FAIL;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop;
	(void)sigemptyset(&sa.sa_mask);
	/* No SA_RESTART: a signal cuts the nap and the request short. */
	if (sigaction(SIGINT, &sa, &old_int) != 0 ||
	    sigaction(SIGTERM, &sa, &old_term) != 0) {
		fprintf(stderr,
		    "signetctl audit tail: cannot catch "
		    "signals\n");
		return CMD_FAIL;
	}
	ctx->conn.stop = &stop_flag;
	while (stop_flag == 0) {
		rc = audit_page(&ctx->conn, has_after, after, TAIL_MAX, &doc,
		    &recs);
		if (rc == -1 || stop_flag != 0) {
			rc = CMD_OK;
			break;
		}
		if (rc != CMD_OK)
			break;
		n = cJSON_GetArraySize(recs);
		rc = print_page(recs, json, &has_after, &after);
		cJSON_Delete(doc);
		doc = NULL;
		if (rc != CMD_OK)
			break;
		/* A full page: more may be waiting, ask again at once. */
		if (n < TAIL_MAX)
			nap(interval * 1000);
	}
	if (stop_flag != 0)
		rc = CMD_OK;
	cJSON_Delete(doc);
	ctx->conn.stop = NULL;
	(void)sigaction(SIGINT, &old_int, NULL);
	(void)sigaction(SIGTERM, &old_term, NULL);
	return rc;
}

int
cmd_audit_tail(struct cmd_ctx *ctx, int argc, char **argv)
{
	static const struct option longopts[] = { CMD_COMMON_LONGOPTS,
		{ "after", required_argument, NULL, OPT_AFTER },
		{ "limit", required_argument, NULL, OPT_LIMIT },
		{ "follow", no_argument, NULL, OPT_FOLLOW },
		{ "interval", required_argument, NULL, OPT_INTERVAL },
		{ NULL, 0, NULL, 0 } };
	const cJSON *recs;
	cJSON *doc = NULL;
	int64_t after = 0, limit = TAIL_DEFAULT, last, interval;
	bool has_after = false, json, do_follow = false, has_interval = false;
	char *text = NULL, esc[160];
	int opt, rc = CMD_USAGE;

	interval = INTERVAL_DEFAULT;
	while ((opt = getopt_long(argc, argv, CMD_COMMON_SHORTOPTS, longopts,
	            NULL)) != -1) {
		if (opt == 'h') {
			usage_tail(stdout);
			rc = CMD_OK;
			goto out;
		} else if (opt == OPT_AFTER) {
			if (text_to_int64(optarg, 0, INT64_MAX / 2, &after) !=
			    0) {
				fprintf(stderr,
				    "signetctl audit tail: --after "
				    "\"%s\": give a seq (0 or more)\n",
				    text_escape_str(optarg, esc, sizeof(esc)));
				goto out;
			}
			has_after = true;
		} else if (opt == OPT_LIMIT) {
			if (text_to_int64(optarg, 1, TAIL_MAX, &limit) != 0) {
				fprintf(stderr,
				    "signetctl audit tail: --limit "
				    "\"%s\": give 1 to %d\n",
				    text_escape_str(optarg, esc, sizeof(esc)),
				    TAIL_MAX);
				goto out;
			}
		} else if (opt == OPT_FOLLOW) {
			do_follow = true;
		} else if (opt == OPT_INTERVAL) {
			if (text_to_int64(optarg, 1, INTERVAL_MAX, &interval) !=
			    0) {
				fprintf(stderr,
				    "signetctl audit tail: "
				    "--interval \"%s\": give 1 to %d seconds\n",
				    text_escape_str(optarg, esc, sizeof(esc)),
				    INTERVAL_MAX);
				goto out;
			}
			has_interval = true;
		} else if (cmd_common_opt(ctx, "audit tail", opt, argv) != 1) {
			usage_tail(stderr);
			goto out;
		}
	}
	if (cmd_too_many_args("audit tail", argc, argv, optind, usage_tail))
		goto out;
	if (has_interval && !do_follow) {
		fprintf(stderr,
		    "signetctl audit tail: --interval goes with "
		    "--follow\n");
		usage_tail(stderr);
		goto out;
	}
	json = ctx->output == CMD_OUTPUT_JSON;
	rc = cmd_conn_finish(ctx, "audit tail");
	if (rc != CMD_OK)
		goto out;
	if (!has_after) {
		/* The last `limit` records. */
		rc = last_seq(&ctx->conn, &last);
		if (rc != CMD_OK)
			goto out;
		if (last >= limit) {
			has_after = true;
			after = last - limit;
		}
	}
	rc = audit_page(&ctx->conn, has_after, after, limit, &doc, &recs);
	if (rc != CMD_OK)
		goto out;
	if (json && !do_follow) {
		text = cJSON_PrintUnformatted(doc);
		if (text == NULL || printf("%s\n", text) < 0 ||
		    fflush(stdout) != 0) {
			rc = CMD_FAIL;
			goto out;
		}
	} else {
		rc = print_page(recs, json, &has_after, &after);
		if (rc != CMD_OK)
			goto out;
	}
	if (do_follow)
		rc = follow(ctx, json, has_after, after, interval);
out:
	free(text);
	cJSON_Delete(doc);
	return rc;
}
