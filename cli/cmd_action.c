/* SPDX-License-Identifier: ISC */
/*
 * signetctl action, action-status and audit tail: ask the server to START,
 * STOP or RESTART a container and wait for the agent's signed result; show
 * one action; show the server's latest audit records. Exit codes follow
 * the HTTP answer: 0 for 2xx (202 included: --no-wait), 1 otherwise (the
 * server's message on stderr), 2 for usage errors.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "cmd.h"
#include "http.h"
#include "text.h"

#define WAIT_DEFAULT 30
#define WAIT_MAX 120
#define HTTP_SLACK 30                  /* seconds beyond the server's wait */
#define TAIL_DEFAULT 20
#define TAIL_MAX 1000

static void
usage_action(FILE *f)
{
	fprintf(f, "usage: signetctl action CONTAINER-ID start|stop|restart "
	    "--reason TEXT [--no-wait | --wait SECONDS] [--json]\n"
	    "       [--server URL] [--cert FILE] [--key FILE] [--ca FILE]\n");
}

static void
usage_status(FILE *f)
{
	fprintf(f, "usage: signetctl action-status ACTION-ID [--json] "
	    "[--server URL] [--cert FILE] [--key FILE] [--ca FILE]\n");
}

static void
usage_tail(FILE *f)
{
	fprintf(f, "usage: signetctl audit tail [--after SEQ] [--limit N] "
	    "[--json] [--server URL] [--cert FILE] [--key FILE] "
	    "[--ca FILE]\n");
}

/* Prints body to stdout as it came, with a final newline. */
static int
print_raw(const struct http_response *resp)
{
	if (fwrite(resp->body, 1, resp->len, stdout) != resp->len ||
	    (resp->len > 0 && resp->body[resp->len - 1] != '\n' &&
	    putchar('\n') == EOF) || fflush(stdout) != 0)
		return CMD_FAIL;
	return CMD_OK;
}

/* One "name: value" line of an action, terminal-safe. */
static void
field(FILE *f, const cJSON *a, const char *key, const char *label)
{
	char cell[1200];

	fprintf(f, "%-13s %s\n", label, http_json_cell(a, key, cell,
	    sizeof(cell)));
}

/* The whole action, one field per line. */
static void
print_action(FILE *f, const cJSON *a)
{
	field(f, a, "action_id", "action_id:");
	field(f, a, "status", "status:");
	field(f, a, "action", "action:");
	field(f, a, "container_id", "container:");
	field(f, a, "host_id", "host:");
	field(f, a, "requested_by", "requested_by:");
	field(f, a, "reason", "reason:");
	field(f, a, "requested_at", "requested_at:");
	field(f, a, "finished_at", "finished_at:");
	field(f, a, "docker_status", "docker_status:");
	field(f, a, "error", "error:");
}

/*
 * Reports an action answer: 2xx on stdout, else on stderr with the
 * server's message. Returns the exit code.
 */
static int
report_action(const char *cmd, const struct http_response *resp, bool json)
{
	cJSON *doc = NULL;
	const cJSON *id, *st, *er;
	char ids[80], sts[40], ers[1200];
	bool ok = resp->status >= 200 && resp->status <= 299;
	int rc = ok ? CMD_OK : CMD_FAIL;

	if (json) {
		if (print_raw(resp) != CMD_OK)
			rc = CMD_FAIL;
		if (!ok)
			http_print_failure(cmd, resp);
		return rc;
	}
	doc = cJSON_ParseWithLength(resp->body, resp->len);
	id = cJSON_GetObjectItemCaseSensitive(doc, "action_id");
	st = cJSON_GetObjectItemCaseSensitive(doc, "status");
	if (!cJSON_IsString(id) || !cJSON_IsString(st)) {
		if (ok) {
			fprintf(stderr, "signetctl %s: the server's answer is "
			    "not an action\n", cmd);
			rc = CMD_FAIL;
		} else {
			http_print_failure(cmd, resp);
			if (cJSON_IsString(id))
				fprintf(stderr, "signetctl %s: action_id %s\n",
				    cmd, http_term_safe(id->valuestring, ids,
				    sizeof(ids)));
		}
		goto out;
	}
	if (ok) {
		print_action(stdout, doc);
		if (resp->status == 202)
			printf("(not waiting: see signetctl action-status "
			    "%s)\n", http_term_safe(id->valuestring, ids,
			    sizeof(ids)));
		if (fflush(stdout) != 0)
			rc = CMD_FAIL;
		goto out;
	}
	er = cJSON_GetObjectItemCaseSensitive(doc, "error");
	fprintf(stderr, "signetctl %s: server answered %ld: action %s %s%s%s\n",
	    cmd, resp->status, http_term_safe(id->valuestring, ids,
	    sizeof(ids)), http_term_safe(st->valuestring, sts, sizeof(sts)),
	    cJSON_IsString(er) ? ": " : "", cJSON_IsString(er) ?
	    http_term_safe(er->valuestring, ers, sizeof(ers)) : "");
	print_action(stderr, doc);
out:
	cJSON_Delete(doc);
	return rc;
}

/* Connection options; 1 consumed, 0 not one, -1 error (said). */
static int
conn_arg(const char *cmd, struct http_opts *o, int argc, char **argv, int *i)
{
	struct err_msg msg;
	int r;

	err_clear(&msg);
	r = http_opts_arg(o, argc, argv, i, &msg);
	if (r < 0) {
		fprintf(stderr, "signetctl %s: %s\n", cmd, msg.text);
		return -1;
	}
	return r;
}

static int
finish_opts(const char *cmd, struct http_opts *o)
{
	struct err_msg msg;

	err_clear(&msg);
	if (http_opts_finish(o, &msg) != 0) {
		fprintf(stderr, "signetctl %s: %s\n", cmd, msg.text);
		return -1;
	}
	return 0;
}

int
cmd_action(int argc, char **argv)
{
	const char *id = NULL, *verb = NULL, *reason = NULL, *action = NULL;
	char path[512], num[24], *body = NULL;
	struct http_response resp;
	struct http_opts o;
	struct err_msg msg;
	int64_t wait = WAIT_DEFAULT;
	bool json = false, no_wait = false, has_wait = false;
	cJSON *doc = NULL;
	int i, r, rc = CMD_USAGE;

	memset(&o, 0, sizeof(o));
	memset(&resp, 0, sizeof(resp));
	err_clear(&msg);
	for (i = 0; i < argc; i++) {
		const char *a = argv[i];

		r = conn_arg("action", &o, argc, argv, &i);
		if (r < 0)
			goto out;
		if (r == 1)
			continue;
		if (strcmp(a, "--json") == 0) {
			json = true;
		} else if (strcmp(a, "--no-wait") == 0) {
			no_wait = true;
		} else if (strcmp(a, "--reason") == 0 ||
		    strcmp(a, "--wait") == 0) {
			if (i + 1 >= argc) {
				fprintf(stderr, "signetctl action: %s needs a "
				    "value\n", a);
				goto out;
			}
			if (strcmp(a, "--reason") == 0) {
				reason = argv[++i];
			} else if (text_to_int64(argv[++i], 0, WAIT_MAX,
			    &wait) != 0) {
				fprintf(stderr, "signetctl action: --wait "
				    "wants 0 to %d seconds\n", WAIT_MAX);
				goto out;
			} else {
				has_wait = true;
			}
		} else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
			usage_action(stdout);
			rc = CMD_OK;
			goto out;
		} else if (a[0] != '-' && id == NULL) {
			id = a;
		} else if (a[0] != '-' && verb == NULL) {
			verb = a;
		} else {
			fprintf(stderr, "signetctl action: unexpected argument "
			    "\"%s\"\n", a);
			usage_action(stderr);
			goto out;
		}
	}
	if (id == NULL || verb == NULL || reason == NULL) {
		fprintf(stderr, "signetctl action: a container id, an action "
		    "and --reason are required\n");
		usage_action(stderr);
		goto out;
	}
	if (strcmp(verb, "start") == 0)
		action = "START";
	else if (strcmp(verb, "stop") == 0)
		action = "STOP";
	else if (strcmp(verb, "restart") == 0)
		action = "RESTART";
	if (action == NULL || (no_wait && has_wait)) {
		fprintf(stderr, "signetctl action: the action is start, stop "
		    "or restart; give --no-wait or --wait, not both\n");
		usage_action(stderr);
		goto out;
	}
	if (no_wait)
		wait = 0;
	if (finish_opts("action", &o) != 0)
		goto out;
	/* The server checks the id; here it is only encoded. */
	(void)snprintf(path, sizeof(path), "/api/containers");
	(void)snprintf(num, sizeof(num), "%" PRId64, wait);
	if (strlen(id) > 128 || strchr(id, '/') != NULL ||
	    strlen(path) + 1 + strlen(id) + sizeof("/actions") >
	    sizeof(path)) {
		fprintf(stderr, "signetctl action: bad container id\n");
		goto out;
	}
	(void)snprintf(path + strlen(path), sizeof(path) - strlen(path),
	    "/%s/actions", id);
	if (http_path_add_query(path, sizeof(path), "wait", num) != 0) {
		fprintf(stderr, "signetctl action: container id too long\n");
		goto out;
	}
	rc = CMD_FAIL;
	doc = cJSON_CreateObject();
	if (doc == NULL ||
	    cJSON_AddStringToObject(doc, "action", action) == NULL ||
	    cJSON_AddStringToObject(doc, "reason", reason) == NULL ||
	    (body = cJSON_PrintUnformatted(doc)) == NULL) {
		fprintf(stderr, "signetctl action: out of memory\n");
		goto out;
	}
	if (http_request(&o, "POST", path, body, strlen(body),
	    (long)wait + HTTP_SLACK, &resp, &msg) != 0) {
		fprintf(stderr, "signetctl action: %s\n", msg.text);
		goto out;
	}
	rc = report_action("action", &resp, json);
out:
	http_response_free(&resp);
	cJSON_Delete(doc);
	free(body);
	return rc;
}

int
cmd_action_status(int argc, char **argv)
{
	const char *id = NULL;
	char path[256];
	struct http_response resp;
	struct http_opts o;
	struct err_msg msg;
	bool json = false;
	int i, r, rc = CMD_USAGE;

	memset(&o, 0, sizeof(o));
	memset(&resp, 0, sizeof(resp));
	err_clear(&msg);
	for (i = 0; i < argc; i++) {
		const char *a = argv[i];

		r = conn_arg("action-status", &o, argc, argv, &i);
		if (r < 0)
			goto out;
		if (r == 1)
			continue;
		if (strcmp(a, "--json") == 0) {
			json = true;
		} else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
			usage_status(stdout);
			rc = CMD_OK;
			goto out;
		} else if (a[0] != '-' && id == NULL) {
			id = a;
		} else {
			fprintf(stderr, "signetctl action-status: unexpected "
			    "argument \"%s\"\n", a);
			usage_status(stderr);
			goto out;
		}
	}
	if (id == NULL) {
		usage_status(stderr);
		goto out;
	}
	if (finish_opts("action-status", &o) != 0)
		goto out;
	if (strlen(id) > 64 || strchr(id, '/') != NULL ||
	    strchr(id, '?') != NULL || strchr(id, '%') != NULL) {
		fprintf(stderr, "signetctl action-status: an action id is 32 "
		    "hex digits\n");
		goto out;
	}
	(void)snprintf(path, sizeof(path), "/api/actions/%s", id);
	rc = CMD_FAIL;
	if (http_request(&o, "GET", path, NULL, 0, 0, &resp, &msg) != 0) {
		fprintf(stderr, "signetctl action-status: %s\n", msg.text);
		goto out;
	}
	rc = report_action("action-status", &resp, json);
out:
	http_response_free(&resp);
	return rc;
}

/* GET /api/audit?after=&limit=; *doc the answer, *records its array. */
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
	err_clear(&msg);
	(void)snprintf(path, sizeof(path), "/api/audit");
	(void)snprintf(num, sizeof(num), "%" PRId64, after);
	if (has_after && http_path_add_query(path, sizeof(path), "after",
	    num) != 0)
		return CMD_FAIL;
	(void)snprintf(num, sizeof(num), "%" PRId64, limit);
	if (http_path_add_query(path, sizeof(path), "limit", num) != 0)
		return CMD_FAIL;
	if (http_request(o, "GET", path, NULL, 0, 0, &resp, &msg) != 0) {
		fprintf(stderr, "signetctl audit tail: %s\n", msg.text);
		return CMD_FAIL;
	}
	if (resp.status < 200 || resp.status > 299) {
		http_print_failure("audit tail", &resp);
		goto out;
	}
	*doc = cJSON_ParseWithLength(resp.body, resp.len);
	*records = cJSON_GetObjectItemCaseSensitive(*doc, "records");
	if (!cJSON_IsArray(*records)) {
		fprintf(stderr, "signetctl audit tail: the server's answer is "
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

/* Whether a record with seq exists: 1 yes, 0 no, -1 error. */
static int
seq_exists(const struct http_opts *o, int64_t seq)
{
	const cJSON *recs;
	cJSON *doc = NULL;
	int r;

	if (audit_page(o, seq > 0, seq - 1, 1, &doc, &recs) != CMD_OK)
		return -1;
	r = cJSON_GetArraySize(recs) > 0 ? 1 : 0;
	cJSON_Delete(doc);
	return r;
}

/*
 * The last seq of the log (-1 when empty): the API pages forward, so
 * probe exponentially, then bisect (about 2 log2(N) small requests).
 */
static int
last_seq(const struct http_opts *o, int64_t *last)
{
	int64_t lo = 0, hi = 1, mid;
	int e;

	*last = -1;
	e = seq_exists(o, 0);
	if (e <= 0)
		return e;
	for (;;) {
		e = seq_exists(o, hi);
		if (e < 0)
			return -1;
		if (e == 0)
			break;
		lo = hi;
		if (hi > INT64_MAX / 4)
			return -1;
		hi *= 2;
	}
	while (hi - lo > 1) {
		mid = lo + (hi - lo) / 2;
		e = seq_exists(o, mid);
		if (e < 0)
			return -1;
		if (e == 1)
			lo = mid;
		else
			hi = mid;
	}
	*last = lo;
	return 1;
}

static void
print_record(const cJSON *rec)
{
	const cJSON *seq = cJSON_GetObjectItemCaseSensitive(rec, "seq");
	const cJSON *ts = cJSON_GetObjectItemCaseSensitive(rec, "ts");
	const cJSON *data = cJSON_GetObjectItemCaseSensitive(rec, "data");
	char when[40] = "-", sq[32], ev[80], actor[140], text[600];
	char *d = NULL;
	struct tm tm;
	time_t t;

	if (cJSON_IsNumber(ts) && ts->valuedouble >= 0 &&
	    ts->valuedouble < 253402300800000.0) {
		t = (time_t)(ts->valuedouble / 1000);
		if (gmtime_r(&t, &tm) != NULL)
			(void)strftime(when, sizeof(when),
			    "%Y-%m-%dT%H:%M:%SZ", &tm);
	}
	d = data != NULL ? cJSON_PrintUnformatted(data) : NULL;
	printf("%s  %s  %s  %s  %s\n",
	    cJSON_IsNumber(seq) ? http_json_cell(rec, "seq", sq,
	    sizeof(sq)) : "-", when,
	    http_json_cell(rec, "event", ev, sizeof(ev)),
	    http_json_cell(rec, "actor", actor, sizeof(actor)),
	    http_term_safe(d != NULL ? d : "{}", text, sizeof(text)));
	free(d);
}

int
cmd_audit_tail(int argc, char **argv)
{
	struct http_opts o;
	const cJSON *recs, *rec;
	cJSON *doc = NULL;
	int64_t after = 0, limit = TAIL_DEFAULT, last;
	bool has_after = false, json = false;
	char *text = NULL;
	int i, r, rc = CMD_USAGE;

	memset(&o, 0, sizeof(o));
	for (i = 0; i < argc; i++) {
		const char *a = argv[i];

		r = conn_arg("audit tail", &o, argc, argv, &i);
		if (r < 0)
			goto out;
		if (r == 1)
			continue;
		if (strcmp(a, "--json") == 0) {
			json = true;
		} else if (strcmp(a, "--after") == 0 ||
		    strcmp(a, "--limit") == 0) {
			if (i + 1 >= argc) {
				fprintf(stderr, "signetctl audit tail: %s "
				    "needs a value\n", a);
				goto out;
			}
			i++;
			if (strcmp(a, "--after") == 0) {
				if (text_to_int64(argv[i], 0, INT64_MAX / 2,
				    &after) != 0) {
					fprintf(stderr, "signetctl audit "
					    "tail: --after wants a seq\n");
					goto out;
				}
				has_after = true;
			} else if (text_to_int64(argv[i], 1, TAIL_MAX,
			    &limit) != 0) {
				fprintf(stderr, "signetctl audit tail: --limit "
				    "wants 1 to %d\n", TAIL_MAX);
				goto out;
			}
		} else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
			usage_tail(stdout);
			rc = CMD_OK;
			goto out;
		} else {
			fprintf(stderr, "signetctl audit tail: unexpected "
			    "argument \"%s\"\n", a);
			usage_tail(stderr);
			goto out;
		}
	}
	if (finish_opts("audit tail", &o) != 0)
		goto out;
	rc = CMD_FAIL;
	if (!has_after) {
		/* The last `limit` records. */
		r = last_seq(&o, &last);
		if (r < 0)
			goto out;
		if (last >= limit) {
			has_after = true;
			after = last - limit;
		}
	}
	if (audit_page(&o, has_after, after, limit, &doc, &recs) != CMD_OK)
		goto out;
	if (json) {
		text = cJSON_PrintUnformatted(doc);
		if (text == NULL || printf("%s\n", text) < 0)
			goto out;
	} else {
		cJSON_ArrayForEach(rec, recs)
			print_record(rec);
	}
	rc = fflush(stdout) == 0 ? CMD_OK : CMD_FAIL;
out:
	free(text);
	cJSON_Delete(doc);
	return rc;
}
