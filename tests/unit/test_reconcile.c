/* SPDX-License-Identifier: ISC */
/*
 * The reconciliation of a server's log with its agents' logs: each case
 * writes real, signed logs with the audit writer and real signed
 * envelopes (a clean run, or one bent the way a lost record, a stolen
 * agent key or a server rewriting its own log would bend it), runs
 * reconcile_run and compares the problem kinds found with the ones
 * expected; then the JSON and text outputs of a clean and a bad run;
 * then a cluster's two replicas' logs, each under its own audit key.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "audit.h"
#include "clock.h"
#include "envelope.h"
#include "jsonx.h"
#include "keys.h"
#include "reconcile.h"
#include "testlib.h"

#define WEB "web-01"
#define DB "db-01"
#define CID "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define AID "0123456789abcdef0123456789abcdef"
#define AID2 "f0123456789abcdef0123456789abcde"

struct world {
	char dir[64], agents[128], server[256], web[256], db[256];
	struct keys_secret audit, action, webk, dbk;
	struct keys_pubset action_pub;
	struct audit_writer *sw, *ww, *dw;
	bool heads_supported;
};

/* ---- building blocks ---- */

/* An action envelope; extra is appended to the payload's members. */
static int
action_env(struct world *w, const char *id, const char *host,
    const char *reason, int64_t issued, int64_t expires, const char *extra,
    struct envelope *env, char sha[static 65])
{
	struct envelope_action_payload a;
	char *json = NULL, *full = NULL;
	size_t n;
	int r = -1;

	memset(&a, 0, sizeof(a));
	(void)snprintf(a.action_id, sizeof(a.action_id), "%s", id);
	(void)snprintf(a.host_id, sizeof(a.host_id), "%s", host);
	memcpy(a.container_id, CID, sizeof(CID));
	a.action = ENVELOPE_ACTION_STOP;
	(void)snprintf(a.reason, sizeof(a.reason), "%s", reason);
	(void)snprintf(a.requested_by, sizeof(a.requested_by), "alice");
	a.issued_at = issued;
	a.expires_at = expires;
	if (envelope_action_encode(&a, &json) != 0)
		return -1;
	n = strlen(json) + (extra != NULL ? strlen(extra) + 2 : 0) + 1;
	full = malloc(n);
	if (full == NULL)
		goto out;
	if (extra != NULL)
		(void)snprintf(full, n, "%.*s,%s}", (int)strlen(json) - 1, json,
		    extra);
	else
		(void)snprintf(full, n, "%s", json);
	envelope_sha256_hex(full, strlen(full), sha);
	r = envelope_sign(ENVELOPE_CTX_ACTION, full, strlen(full), &w->action,
	    env);
out:
	free(json);
	free(full);
	return r;
}

static int
result_env(const struct keys_secret *key, const char *id, const char *host,
    enum envelope_status st, int64_t dst, const char *req_sha,
    const char *extra, struct envelope *env)
{
	struct envelope_result_payload p;
	char *json = NULL, *full = NULL;
	size_t n;
	int r = -1;

	memset(&p, 0, sizeof(p));
	(void)snprintf(p.action_id, sizeof(p.action_id), "%s", id);
	(void)snprintf(p.host_id, sizeof(p.host_id), "%s", host);
	memcpy(p.container_id, CID, sizeof(CID));
	p.action = ENVELOPE_ACTION_STOP;
	p.status = st;
	p.docker_status = dst;
	p.started_at = clock_wall_ms();
	p.finished_at = p.started_at + 5;
	memcpy(p.request_sha256, req_sha, 65);
	if (envelope_result_encode(&p, &json) != 0)
		return -1;
	n = strlen(json) + (extra != NULL ? strlen(extra) + 2 : 0) + 1;
	full = malloc(n);
	if (full == NULL)
		goto out;
	if (extra != NULL)
		(void)snprintf(full, n, "%.*s,%s}", (int)strlen(json) - 1, json,
		    extra);
	else
		(void)snprintf(full, n, "%s", json);
	r = envelope_sign(ENVELOPE_CTX_RESULT, full, strlen(full), key, env);
out:
	free(json);
	free(full);
	return r;
}

static void
add_env(cJSON *d, const char *name, const struct envelope *env, bool key)
{
	cJSON *e = cJSON_AddObjectToObject(d, name);

	(void)cJSON_AddStringToObject(e, "payload", env->payload_b64);
	(void)cJSON_AddStringToObject(e, "sig", env->sig_b64);
	if (key)
		(void)cJSON_AddStringToObject(e, "key_id", env->key_id);
}

static void
append(struct audit_writer *aw, const char *event, const char *actor, cJSON *d)
{
	struct err_msg msg;

	if (audit_append(aw, event, actor, d, NULL, &msg) != 0)
		fprintf(stderr, "append %s: %s\n", event, msg.text);
	cJSON_Delete(d);
}

static void
num(cJSON *d, const char *k, int64_t v)
{
	if (!jsonx_add_int64(d, k, v))
		fprintf(stderr, "out of memory\n");
}

static cJSON *
base(const char *id, const char *host)
{
	cJSON *d = cJSON_CreateObject();

	(void)cJSON_AddStringToObject(d, "action_id", id);
	(void)cJSON_AddStringToObject(d, "host_id", host);
	return d;
}

static void
s_requested(struct world *w, const char *id, const char *host, int64_t exp,
    const struct envelope *env)
{
	cJSON *d = base(id, host);

	(void)cJSON_AddStringToObject(d, "container_id", CID);
	(void)cJSON_AddStringToObject(d, "action_name", "STOP");
	(void)cJSON_AddStringToObject(d, "reason", "deploy");
	(void)cJSON_AddStringToObject(d, "requested_by", "alice");
	(void)cJSON_AddStringToObject(d, "requester", "server-asserted");
	num(d, "expires_at", exp);
	add_env(d, "action", env, true);
	append(w->sw, "action.requested", "server", d);
}

static void
s_result(struct world *w, const char *id, const char *host, const char *st,
    int64_t dst, const struct envelope *env)
{
	cJSON *d = base(id, host);

	(void)cJSON_AddStringToObject(d, "status", st);
	num(d, "docker_status", dst);
	(void)cJSON_AddNullToObject(d, "error");
	add_env(d, "result", env, false);
	append(w->sw, "action.result", "server", d);
}

static void
s_end(struct world *w, const char *event, const char *id, const char *host)
{
	cJSON *d = base(id, host);

	(void)cJSON_AddStringToObject(d, "reason", "test");
	append(w->sw, event, "server", d);
}

static void
s_approved(struct world *w, const char *id, const char *host, const char *who,
    const char *kid)
{
	cJSON *d = base(id, host);

	(void)cJSON_AddStringToObject(d, "approver", who);
	(void)cJSON_AddStringToObject(d, "approver_key_id", kid);
	append(w->sw, "action.approved", "server", d);
}

static void
a_received(struct audit_writer *aw, const char *id, const char *host,
    int64_t exp, const struct envelope *env)
{
	cJSON *d = base(id, host);

	num(d, "expires_at", exp);
	(void)cJSON_AddStringToObject(d, "container_id", CID);
	(void)cJSON_AddStringToObject(d, "action_name", "STOP");
	(void)cJSON_AddStringToObject(d, "requested_by", "alice");
	(void)cJSON_AddStringToObject(d, "reason", "deploy");
	(void)cJSON_AddStringToObject(d, "container_name", "nginx");
	(void)cJSON_AddStringToObject(d, "requester", "server-asserted");
	add_env(d, "action", env, true);
	append(aw, "action.received", "agent", d);
}

static void
a_dispatched(struct audit_writer *aw, const char *id, const char *host,
    int64_t exp)
{
	cJSON *d = base(id, host);

	num(d, "expires_at", exp);
	(void)cJSON_AddStringToObject(d, "container_id", CID);
	(void)cJSON_AddStringToObject(d, "action_name", "STOP");
	append(aw, "action.dispatched", "agent", d);
}

static void
a_executed(struct audit_writer *aw, const char *id, const char *host,
    int64_t exp, const char *st, int64_t dst, const struct envelope *env)
{
	cJSON *d = base(id, host);

	num(d, "expires_at", exp);
	(void)cJSON_AddStringToObject(d, "container_id", CID);
	(void)cJSON_AddStringToObject(d, "action_name", "STOP");
	(void)cJSON_AddStringToObject(d, "status", st);
	num(d, "docker_status", dst);
	(void)cJSON_AddNullToObject(d, "error");
	num(d, "duration_ms", 5);
	if (env != NULL)
		add_env(d, "result", env, false);
	append(aw, "action.executed", "agent", d);
}

static void
a_started(struct audit_writer *aw, const char *host)
{
	cJSON *d = cJSON_CreateObject();

	(void)cJSON_AddStringToObject(d, "host_id", host);
	append(aw, "agent.started", "agent", d);
}

static void
head_text(struct audit_writer *aw, char *out, size_t len)
{
	struct audit_head h;

	audit_get_head(aw, &h);
	(void)snprintf(out, len, "%" PRIu64 ":%s", h.seq, h.hash);
}

/* ---- the cases ---- */

/* How one case bends the logs; the default is a clean STOP on web-01. */
struct tcase {
	const char *name;
	bool no_request, no_agent, no_exec, no_web_log, expired, twice;
	bool other_action, other_result, db_runs_it, approvals;
	bool result_no_agent, result_dropped;
	const char *end; /* "timeout", "undelivered" instead of a result */
	bool heads, bad_server_head, bad_agent_head;
	const char *want; /* problem kinds, sorted, comma-separated */
};

static const struct tcase cases[] = {
	{ .name = "clean", .want = "" },
	{ .name = "not requested",
	    .no_request = true,
	    .want = "not_requested" },
	{ .name = "not received",
	    .no_agent = true,
	    .end = "none",
	    .want = "not_received" },
	{ .name = "timed out",
	    .no_agent = true,
	    .end = "action.timeout",
	    .want = "" },
	{ .name = "undelivered",
	    .no_agent = true,
	    .end = "action.undelivered",
	    .want = "" },
	{ .name = "host log missing",
	    .no_web_log = true,
	    .want = "host_log_missing" },
	{ .name = "result differs",
	    .other_result = true,
	    .want = "result_differs" },
	{ .name = "agent log short",
	    .no_exec = true,
	    .want = "agent_log_short" },
	{ .name = "agent log short, nothing",
	    .result_no_agent = true,
	    .want = "agent_log_short" },
	{ .name = "run after expiry",
	    .expired = true,
	    .want = "run_after_expiry" },
	{ .name = "duplicate execution",
	    .twice = true,
	    .want = "duplicate_execution" },
	{ .name = "wrong host",
	    .db_runs_it = true,
	    .want = "not_received,wrong_host" },
	{ .name = "approvals differ",
	    .approvals = true,
	    .want = "approvals_differ" },
	{ .name = "action differs",
	    .other_action = true,
	    .want = "action_differs,result_not_recorded" },
	{ .name = "result not recorded",
	    .end = "none",
	    .want = "result_not_recorded" },
	{ .name = "result dropped by the agent's outbox",
	    .end = "none",
	    .result_dropped = true,
	    .want = "" },
	{ .name = "heads", .heads = true, .want = "" },
	{ .name = "bad server head",
	    .heads = true,
	    .bad_server_head = true,
	    .want = "foreign_head_mismatch" },
	{ .name = "bad agent head",
	    .heads = true,
	    .bad_agent_head = true,
	    .want = "foreign_head_mismatch" },
};

static int
world_open(struct world *w, const char *sub)
{
	struct err_msg msg;
	char d[128];

	(void)snprintf(d, sizeof(d), "%s/%s", w->dir, sub);
	if (mkdir(d, 0700) != 0)
		return -1;
	(void)snprintf(w->server, sizeof(w->server), "%s/server.log", d);
	(void)snprintf(w->web, sizeof(w->web), "%s/web.log", d);
	(void)snprintf(w->db, sizeof(w->db), "%s/db.log", d);
	if (audit_open(w->server, &w->audit, &w->sw, &msg) != 0 ||
	    audit_open(w->web, &w->webk, &w->ww, &msg) != 0 ||
	    audit_open(w->db, &w->dbk, &w->dw, &msg) != 0) {
		fprintf(stderr, "open: %s\n", msg.text);
		return -1;
	}
	a_started(w->ww, WEB);
	a_started(w->dw, DB);
	return 0;
}

static void
world_close(struct world *w)
{
	audit_close(w->sw);
	audit_close(w->ww);
	audit_close(w->dw);
	w->sw = w->ww = w->dw = NULL;
}

/* Writes the logs of case c. */
static int
write_case(struct world *w, const struct tcase *c)
{
	struct envelope aenv = { 0 }, aenv2 = { 0 }, renv = { 0 },
	                renv2 = { 0 };
	char sha[65], sha2[65], head[128], extra[160];
	int64_t now = clock_wall_ms();
	int64_t issued = c->expired ? now - 200000 : now;
	int64_t exp = issued + 60000;
	struct audit_writer *aw = c->db_runs_it ? w->dw : w->ww;
	const char *st = "SUCCESS";
	int r = -1;

	if (c->heads) {
		append(w->sw, "server.started", "server", cJSON_CreateObject());
		head_text(w->sw, head, sizeof(head));
		if (c->bad_server_head)
			head[strlen(head) - 1] = head[strlen(head) - 1] == '0' ?
			    '1' :
			    '0';
		(void)snprintf(extra, sizeof(extra), "\"server_head\":\"%s\"",
		    head);
	}
	if (action_env(w, AID, WEB, "deploy", issued, exp,
	        c->heads ? extra : NULL, &aenv, sha) != 0 ||
	    action_env(w, AID, WEB, "other", issued, exp, NULL, &aenv2, sha2) !=
	        0)
		goto out;
	if (c->approvals)
		s_approved(w, AID, WEB, "bob", "0011223344556677");
	if (!c->no_request)
		s_requested(w, AID, WEB, exp, &aenv);
	if (!c->no_agent && !c->result_no_agent) {
		a_received(aw, AID, WEB, exp, c->other_action ? &aenv2 : &aenv);
		a_dispatched(aw, AID, WEB, exp);
		if (c->twice)
			a_dispatched(aw, AID, WEB, exp);
	}
	if (c->heads) {
		head_text(aw, head, sizeof(head));
		if (c->bad_agent_head)
			head[0] = head[0] == '9' ? '8' : '9';
		(void)snprintf(extra, sizeof(extra), "\"agent_head\":\"%s\"",
		    head);
	}
	if (result_env(&w->webk, AID, WEB, ENVELOPE_STATUS_SUCCESS, 204,
	        c->other_action ? sha2 : sha, c->heads ? extra : NULL,
	        &renv) != 0 ||
	    result_env(&w->webk, AID, WEB, ENVELOPE_STATUS_FAILURE, 500, sha,
	        NULL, &renv2) != 0)
		goto out;
	if (!c->no_agent && !c->no_exec && !c->result_no_agent) {
		a_executed(aw, AID, WEB, exp, st, 204, &renv);
		if (c->twice)
			a_executed(aw, AID, WEB, exp, st, 204, &renv);
	}
	if (c->result_dropped) {
		cJSON *d = base(AID, WEB);

		(void)cJSON_AddStringToObject(d, "request_sha256", sha);
		(void)cJSON_AddStringToObject(d, "reason", "outbox full");
		append(aw, "action.result_undelivered", "agent", d);
	}
	if (c->end != NULL && strcmp(c->end, "none") != 0)
		s_end(w, c->end, AID, WEB);
	else if (c->end == NULL && !c->no_agent && !c->no_request &&
	    !c->other_action)
		s_result(w, AID, WEB, c->other_result ? "FAILURE" : st,
		    c->other_result ? 500 : 204,
		    c->other_result ? &renv2 : &renv);
	/* A second, clean action on db-01 keeps every log busy. */
	envelope_free(&aenv2);
	r = action_env(w, AID2, DB, "db", now, now + 60000, NULL, &aenv2, sha2);
	if (r != 0)
		goto out;
	s_requested(w, AID2, DB, now + 60000, &aenv2);
	a_received(w->dw, AID2, DB, now + 60000, &aenv2);
	a_dispatched(w->dw, AID2, DB, now + 60000);
	envelope_free(&renv2);
	r = result_env(&w->dbk, AID2, DB, ENVELOPE_STATUS_SUCCESS, 204, sha2,
	    NULL, &renv2);
	if (r != 0)
		goto out;
	a_executed(w->dw, AID2, DB, now + 60000, "SUCCESS", 204, &renv2);
	s_result(w, AID2, DB, "SUCCESS", 204, &renv2);
	r = 0;
out:
	envelope_free(&aenv);
	envelope_free(&aenv2);
	envelope_free(&renv);
	envelope_free(&renv2);
	return r;
}

static int
kind_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The kinds of problems_by_kind, sorted, as "a,b". */
static void
kinds_of(const cJSON *summary, char *out, size_t len)
{
	const cJSON *e;
	const char *k[32];
	size_t n = 0, i, off = 0;

	out[0] = '\0';
	cJSON_ArrayForEach(e,
	    cJSON_GetObjectItemCaseSensitive(summary, "problems_by_kind"))
	{
		if (n < 32)
			k[n++] = e->string;
	}
	qsort(k, n, sizeof(*k), kind_cmp);
	for (i = 0; i < n && off < len; i++)
		off += (size_t)snprintf(out + off, len - off, "%s%s",
		    i > 0 ? "," : "", k[i]);
}

static int
run(struct world *w, bool with_web, struct reconcile **out)
{
	const char *sf[] = { w->server }, *wf[] = { w->web }, *df[] = { w->db };
	struct reconcile_log logs[3] = {
		{ RECONCILE_SERVER, sf, 1 },
		{ RECONCILE_AGENT, df, 1 },
		{ RECONCILE_AGENT, wf, 1 },
	};
	struct keys_public spub = w->audit.pub;
	struct reconcile_opts o;
	struct err_msg msg;
	int r;

	memset(&o, 0, sizeof(o));
	o.server_key = &spub;
	o.action_keys = &w->action_pub;
	o.agent_keys_dir = w->agents;
	o.now_ms = 1;
	r = reconcile_run(&o, logs, with_web ? 3 : 2, out, &msg);
	if (r != 0)
		fprintf(stderr, "reconcile_run: %s\n", msg.text);
	return r;
}

static void
test_cases(struct world *w)
{
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct tcase *c = &cases[i];
		struct reconcile *rc = NULL;
		char sub[32], kinds[512];

		if (c->heads && !w->heads_supported) {
			printf("skipped: %s (envelope decode without "
			       "server_head/agent_head)\n",
			    c->name);
			continue;
		}
		(void)snprintf(sub, sizeof(sub), "case%zu", i);
		CHECKF(world_open(w, sub) == 0, "%s", c->name);
		CHECKF(write_case(w, c) == 0, "%s", c->name);
		world_close(w);
		CHECKF(run(w, !c->no_web_log, &rc) == 0, "%s", c->name);
		if (rc == NULL)
			continue;
		kinds_of(reconcile_summary(rc), kinds, sizeof(kinds));
		CHECKF(strcmp(kinds, c->want) == 0,
		    "%s: kinds \"%s\", want \"%s\"", c->name, kinds, c->want);
		CHECKF(reconcile_clean(rc) == (c->want[0] == '\0'), "%s",
		    c->name);
		reconcile_free(rc);
	}
}

/* The outputs: problems first, the ACTION shape, the text line. */
static void
test_outputs(struct world *w)
{
	static const struct tcase bad = { .name = "outputs",
		.no_agent = true,
		.end = "none" };
	struct reconcile *rc = NULL;
	cJSON *a = NULL;
	const cJSON *srv, *agt;
	int64_t t0;
	char *text;
	int r;

	CHECK(world_open(w, "outputs") == 0);
	/* The request must come after the host's last record (ms clock). */
	t0 = clock_wall_ms();
	while (clock_wall_ms() <= t0)
		(void)usleep(500);
	CHECK(write_case(w, &bad) == 0);
	world_close(w);
	CHECK(run(w, true, &rc) == 0);
	if (rc == NULL)
		return;
	CHECK(!reconcile_clean(rc));
	CHECKF(cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(
	           reconcile_summary(rc), "actions")) == 2,
	    "%s", cJSON_PrintUnformatted(reconcile_summary(rc)));
	r = reconcile_next(rc, &a);
	CHECK(r == 1);
	if (r == 1) {
		CHECK(strcmp(
		          cJSON_GetStringValue(
		              cJSON_GetObjectItemCaseSensitive(a, "action_id")),
		          AID) == 0);
		srv = cJSON_GetObjectItemCaseSensitive(a, "server");
		agt = cJSON_GetObjectItemCaseSensitive(a, "agent");
		CHECK(strcmp(cJSON_GetStringValue(
		                 cJSON_GetObjectItemCaseSensitive(srv, "end")),
		          "none") == 0);
		CHECK(strcmp(cJSON_GetStringValue(
		                 cJSON_GetObjectItemCaseSensitive(agt,
		                     "decision")),
		          "none") == 0);
		CHECK(cJSON_GetObjectItemCaseSensitive(srv, "requested_seq") !=
		    NULL);
		text = reconcile_action_text(a);
		CHECK(text != NULL);
		if (text != NULL) {
			CHECK_CONTAINS(text, "PROBLEM " AID " web-01 STOP ");
			CHECK_CONTAINS(text,
			    "by alice (server-asserted): "
			    "not_received (requested seq ");
			/* web-01's log holds only its start, written before. */
			CHECK_CONTAINS(text,
			    "requested after the host's log ends");
			free(text);
		}
		cJSON_Delete(a);
	}
	r = reconcile_next(rc, &a);
	CHECK(r == 1);
	if (r == 1) {
		text = reconcile_action_text(a);
		CHECK(text != NULL &&
		    strncmp(text,
		        "ok " AID2 " db-01 STOP "
		        "nginx by alice",
		        strlen("ok " AID2) + 20) == 0);
		free(text);
		cJSON_Delete(a);
	}
	CHECK(reconcile_next(rc, &a) == 0);
	CHECK(reconcile_rewind(rc) == 0);
	CHECK(reconcile_next(rc, &a) == 1);
	cJSON_Delete(a);
	reconcile_free(rc);
}

/* A log that does not verify is reported (log_invalid), not an error. */
static void
test_invalid(struct world *w)
{
	static const struct tcase clean = { .name = "invalid", .want = "" };
	struct reconcile *rc = NULL;
	const cJSON *logs, *e;
	char kinds[256];
	FILE *f;

	CHECK(world_open(w, "invalid") == 0);
	CHECK(write_case(w, &clean) == 0);
	world_close(w);
	/* A line appended that no key signed. */
	f = fopen(w->web, "a");
	CHECK(f != NULL);
	if (f != NULL) {
		fprintf(f, "{\"seq\":99}\n");
		CHECK(fclose(f) == 0);
	}
	CHECK(run(w, true, &rc) == 0);
	if (rc == NULL)
		return;
	kinds_of(reconcile_summary(rc), kinds, sizeof(kinds));
	CHECKF(strcmp(kinds, "log_invalid") == 0, "%s", kinds);
	CHECK(!reconcile_clean(rc));
	logs = cJSON_GetObjectItemCaseSensitive(reconcile_summary(rc), "logs");
	e = cJSON_GetArrayItem(logs, 2);
	CHECK(cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(e, "valid")));
	CHECK(cJSON_GetStringValue(
	          cJSON_GetObjectItemCaseSensitive(e, "error")) != NULL &&
	    strstr(cJSON_GetStringValue(
	               cJSON_GetObjectItemCaseSensitive(e, "error")),
	        "web.log:") != NULL);
	reconcile_free(rc);
}

/*
 * agent.connected's agent_head (the agent's head in its hello, as the
 * server recorded it) must name a line of the agent's log: a problem of
 * no action, in the summary's "problems".
 */
static void
test_connected_head(struct world *w, bool bad)
{
	static const struct tcase clean = { .name = "connected", .want = "" };
	struct reconcile *rc = NULL;
	const cJSON *probs;
	char head[128], kinds[256];
	cJSON *d;

	CHECK(world_open(w, bad ? "connected-bad" : "connected") == 0);
	head_text(w->ww, head, sizeof(head));
	if (bad)
		head[strlen(head) - 1] = head[strlen(head) - 1] == 'a' ? 'b' :
		                                                         'a';
	d = cJSON_CreateObject();
	(void)cJSON_AddStringToObject(d, "host_id", WEB);
	(void)cJSON_AddStringToObject(d, "agent_head", head);
	append(w->sw, "agent.connected", "server", d);
	CHECK(write_case(w, &clean) == 0);
	world_close(w);
	CHECK(run(w, true, &rc) == 0);
	if (rc == NULL)
		return;
	kinds_of(reconcile_summary(rc), kinds, sizeof(kinds));
	CHECKF(strcmp(kinds, bad ? "foreign_head_mismatch" : "") == 0, "%s",
	    kinds);
	probs = cJSON_GetObjectItemCaseSensitive(reconcile_summary(rc),
	    "problems");
	CHECK(cJSON_GetArraySize(probs) == (bad ? 1 : 0));
	if (bad)
		CHECK_CONTAINS(
		    cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(
		        cJSON_GetArrayItem(probs, 0), "detail")),
		    "agent.connected (seq 0) names the agent log head 0:");
	CHECK(reconcile_clean(rc) == !bad);
	reconcile_free(rc);
}

/* Whether this build's envelope decode takes the cross-anchored heads. */
/* ---- a cluster: two replicas' logs, each under its own audit key ---- */

enum rp_variant {
	RP_CLEAN,
	RP_RELAY_OTHER_BYTES,
	RP_REQUESTED_TWICE,
	RP_RESULTS_DIFFER,
	RP_RELAY_HOSTILE,
	RP_NOT_REQUESTED,
	RP_UNKNOWN_RESULT, /* only r2's "action_known": false result */
};

static void
r_started(struct audit_writer *aw, const char *replica)
{
	cJSON *d = cJSON_CreateObject();

	(void)cJSON_AddStringToObject(d, "replica", replica);
	append(aw, "server.started", "server", d);
}

static void
r_relayed(struct audit_writer *aw, const char *id, int64_t exp,
    const struct envelope *env, const char *sha, bool hostile)
{
	cJSON *d = base(id, WEB);

	(void)cJSON_AddStringToObject(d, "container_id", CID);
	(void)cJSON_AddStringToObject(d, "action_name", "STOP");
	if (hostile) {
		/* Every member of the wrong type or missing. */
		(void)cJSON_AddNumberToObject(d, "origin", 7);
		(void)cJSON_AddStringToObject(d, "request_sha256", "zz");
		(void)cJSON_AddStringToObject(d, "action", "not an envelope");
	} else {
		(void)cJSON_AddStringToObject(d, "origin", "r1");
		(void)cJSON_AddStringToObject(d, "request_sha256", sha);
		num(d, "expires_at", exp);
		add_env(d, "action", env, true);
	}
	append(aw, "action.relayed", "server", d);
}

/*
 * r1 requests a STOP of web-01, r2 holds web-01 and relays it, both
 * record the result; variant v bends one step. *kinds gets the kinds,
 * *json the STOP's ACTION (cJSON_Delete).
 */
static int
run_replicas(struct world *w, enum rp_variant v, char *kinds, size_t len,
    cJSON **json)
{
	struct envelope aenv = { 0 }, aenv2 = { 0 }, renv = { 0 },
	                renv2 = { 0 };
	struct keys_secret r2k;
	struct keys_public keys[2];
	struct audit_writer *r2 = NULL, *keep = NULL;
	char sub[32], r2path[300], sha[65], sha2[65];
	const char *sf[1], *r2f[1], *wf[1];
	struct reconcile_log logs[3];
	struct reconcile_opts o;
	struct reconcile *rc = NULL;
	struct err_msg msg;
	int64_t now = clock_wall_ms(), exp = now + 60000;
	cJSON *a = NULL;
	int r = -1;

	*json = NULL;
	kinds[0] = '\0';
	(void)snprintf(sub, sizeof(sub), "replicas%d", (int)v);
	if (keys_generate(&r2k) != 0 || world_open(w, sub) != 0)
		return -1;
	keep = w->sw;
	(void)snprintf(r2path, sizeof(r2path), "%s/%s/r2.log", w->dir, sub);
	if (audit_open(r2path, &r2k, &r2, &msg) != 0)
		goto out;
	if (action_env(w, AID, WEB, "deploy", now, exp, NULL, &aenv, sha) !=
	        0 ||
	    action_env(w, AID, WEB, "other", now, exp, NULL, &aenv2, sha2) !=
	        0 ||
	    result_env(&w->webk, AID, WEB, ENVELOPE_STATUS_SUCCESS, 204, sha,
	        NULL, &renv) != 0 ||
	    result_env(&w->webk, AID, WEB, ENVELOPE_STATUS_FAILURE, 500, sha,
	        NULL, &renv2) != 0)
		goto out;
	r_started(w->sw, "r1");
	r_started(r2, "r2");
	if (v != RP_NOT_REQUESTED && v != RP_UNKNOWN_RESULT)
		s_requested(w, AID, WEB, exp, &aenv);
	w->sw = r2;
	if (v == RP_UNKNOWN_RESULT) {
		cJSON *d = base(AID, WEB);

		(void)cJSON_AddStringToObject(d, "status", "SUCCESS");
		num(d, "docker_status", 204);
		(void)cJSON_AddNullToObject(d, "error");
		(void)cJSON_AddFalseToObject(d, "action_known");
		add_env(d, "result", &renv, false);
		append(r2, "action.result", "server", d);
		w->sw = keep;
		goto written;
	}
	if (v == RP_REQUESTED_TWICE)
		s_requested(w, AID, WEB, exp, &aenv);
	else
		r_relayed(r2, AID, exp,
		    v == RP_RELAY_OTHER_BYTES ? &aenv2 : &aenv,
		    v == RP_RELAY_OTHER_BYTES ? sha2 : sha,
		    v == RP_RELAY_HOSTILE);
	w->sw = keep;
	a_received(w->ww, AID, WEB, exp, &aenv);
	a_dispatched(w->ww, AID, WEB, exp);
	a_executed(w->ww, AID, WEB, exp, "SUCCESS", 204, &renv);
	w->sw = r2;
	s_result(w, AID, WEB, v == RP_RESULTS_DIFFER ? "FAILURE" : "SUCCESS",
	    v == RP_RESULTS_DIFFER ? 500 : 204,
	    v == RP_RESULTS_DIFFER ? &renv2 : &renv);
	w->sw = keep;
	if (v != RP_NOT_REQUESTED)
		s_result(w, AID, WEB, "SUCCESS", 204, &renv);
written:
	audit_close(r2);
	r2 = NULL;
	world_close(w);
	keep = NULL; /* closed */
	sf[0] = w->server;
	r2f[0] = r2path;
	wf[0] = w->web;
	logs[0] = (struct reconcile_log){ RECONCILE_SERVER, sf, 1 };
	logs[1] = (struct reconcile_log){ RECONCILE_SERVER, r2f, 1 };
	logs[2] = (struct reconcile_log){ RECONCILE_AGENT, wf, 1 };
	keys[0] = w->audit.pub;
	keys[1] = r2k.pub;
	memset(&o, 0, sizeof(o));
	o.server_keys = keys;
	o.n_server_keys = 2;
	o.action_keys = &w->action_pub;
	o.agent_keys_dir = w->agents;
	o.now_ms = 1;
	if (reconcile_run(&o, logs, 3, &rc, &msg) != 0) {
		fprintf(stderr, "reconcile_run: %s\n", msg.text);
		goto out;
	}
	kinds_of(reconcile_summary(rc), kinds, len);
	while (reconcile_next(rc, &a) == 1) {
		const char *id = cJSON_GetStringValue(
		    cJSON_GetObjectItemCaseSensitive(a, "action_id"));

		if (id != NULL && strcmp(id, AID) == 0 && *json == NULL) {
			*json = a;
			a = NULL;
		}
		cJSON_Delete(a);
		a = NULL;
	}
	r = 0;
out:
	if (keep != NULL)
		w->sw = keep;
	audit_close(r2);
	world_close(w);
	reconcile_free(rc);
	envelope_free(&aenv);
	envelope_free(&aenv2);
	envelope_free(&renv);
	envelope_free(&renv2);
	sodium_memzero(&r2k, sizeof(r2k));
	return r;
}

/* The names of ACTION.replicas.STEP, as "a,b". */
static void
replicas_of(const cJSON *a, const char *step, char *out, size_t len)
{
	const cJSON *e;
	size_t off = 0;

	out[0] = '\0';
	cJSON_ArrayForEach(e,
	    cJSON_GetObjectItemCaseSensitive(
	        cJSON_GetObjectItemCaseSensitive(a, "replicas"), step))
	{
		if (cJSON_IsString(e) && off < len)
			off += (size_t)snprintf(out + off, len - off, "%s%s",
			    off > 0 ? "," : "", e->valuestring);
	}
}

static void
test_replicas(struct world *w)
{
	static const struct {
		enum rp_variant v;
		const char *name, *want;
	} vs[] = {
		{ RP_CLEAN, "clean cluster", "" },
		{ RP_RELAY_OTHER_BYTES, "relay of other bytes",
		    "action_differs,log_invalid" },
		{ RP_REQUESTED_TWICE, "requested in two logs",
		    "requested_twice" },
		{ RP_RESULTS_DIFFER, "results differ", "result_differs" },
		{ RP_RELAY_HOSTILE, "hostile relay record",
		    "action_differs,log_invalid" },
		{ RP_NOT_REQUESTED, "relay requested nowhere",
		    "not_requested" },
		{ RP_UNKNOWN_RESULT, "a result of an action no log requests",
		    "result_unknown_action" },
	};
	char kinds[512], names[128];
	struct keys_public many[RECONCILE_SERVER_KEYS_MAX + 1];
	const char *sf[] = { w->server };
	struct reconcile_log one = { RECONCILE_SERVER, sf, 1 };
	struct reconcile_opts o;
	struct reconcile *rc = NULL;
	struct err_msg msg;
	cJSON *a = NULL;
	size_t i;

	for (i = 0; i < sizeof(vs) / sizeof(vs[0]); i++) {
		CHECKF(run_replicas(w, vs[i].v, kinds, sizeof(kinds), &a) == 0,
		    "%s", vs[i].name);
		CHECKF(strcmp(kinds, vs[i].want) == 0,
		    "%s: kinds \"%s\", want \"%s\"", vs[i].name, kinds,
		    vs[i].want);
		CHECKF(a != NULL, "%s: the action reported", vs[i].name);
		replicas_of(a, "relayed", names, sizeof(names));
		CHECKF(vs[i].v == RP_REQUESTED_TWICE ||
		        vs[i].v == RP_UNKNOWN_RESULT ||
		        strcmp(names, "r2") == 0,
		    "%s: relayed by \"%s\"", vs[i].name, names);
		if (vs[i].v == RP_CLEAN) {
			replicas_of(a, "requested", names, sizeof(names));
			CHECKF(strcmp(names, "r1") == 0, "requested on \"%s\"",
			    names);
			replicas_of(a, "results", names, sizeof(names));
			CHECKF(strcmp(names, "r1,r2") == 0, "results by \"%s\"",
			    names);
		}
		cJSON_Delete(a);
		a = NULL;
	}
	/* Too many keys: refused before anything is read. */
	memset(many, 0, sizeof(many));
	memset(&o, 0, sizeof(o));
	o.server_keys = many;
	o.n_server_keys = RECONCILE_SERVER_KEYS_MAX + 1;
	o.action_keys = &w->action_pub;
	o.agent_keys_dir = w->agents;
	CHECK(reconcile_run(&o, &one, 1, &rc, &msg) == SIGNET_ERR_INVALID_ARG);
	CHECK(rc == NULL);
}

static bool
heads_supported(void)
{
	static const char p[] =
	    "{\"v\":1,\"action_id\":\"" AID "\",\"host_id\":\"web-01\","
	    "\"container_id\":\"" CID "\",\"action\":\"STOP\",\"reason\":"
	    "\"x\",\"requested_by\":\"alice\",\"issued_at\":1,"
	    "\"expires_at\":2,\"server_head\":\"1:"
	    "0000000000000000000000000000000000000000000000000000000000000000"
	    "\"}";
	struct envelope_action_payload a;
	struct err_msg msg;

	return envelope_action_decode(p, strlen(p), &a, &msg) == 0;
}

int
main(void)
{
	struct world w;
	struct err_msg msg;
	char cmd[128];

	if (sodium_init() < 0)
		return 1;
	memset(&w, 0, sizeof(w));
	(void)snprintf(w.dir, sizeof(w.dir), "/tmp/signet-test-rc.XXXXXX");
	if (mkdtemp(w.dir) == NULL)
		return 1;
	(void)snprintf(w.agents, sizeof(w.agents), "%s/agents", w.dir);
	if (mkdir(w.agents, 0755) != 0 || keys_generate(&w.audit) != 0 ||
	    keys_generate(&w.action) != 0 || keys_generate(&w.webk) != 0 ||
	    keys_generate(&w.dbk) != 0 ||
	    keys_write_pair(w.agents, WEB, &w.webk, &msg) != 0 ||
	    keys_write_pair(w.agents, DB, &w.dbk, &msg) != 0)
		return 1;
	w.action_pub.count = 1;
	w.action_pub.keys[0] = w.action.pub;
	w.heads_supported = heads_supported();
	test_cases(&w);
	test_outputs(&w);
	test_invalid(&w);
	test_connected_head(&w, false);
	test_connected_head(&w, true);
	test_replicas(&w);
	(void)snprintf(cmd, sizeof(cmd), "rm -rf %s", w.dir);
	if (system(cmd) != 0)
		CHECK(false);
	return test_finish("test_reconcile");
}
