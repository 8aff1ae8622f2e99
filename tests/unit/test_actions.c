/* SPDX-License-Identifier: ISC */
/*
 * The server's action table: the state machine (PENDING to one end),
 * results accepted once per action_id and only when they match what was
 * sent to that host, a late result replacing TIMEOUT, waiters woken once,
 * the bounds (full table, finished entries forgotten), and putting back
 * after a restart the actions the audit log shows as still open.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "actions.h"
#include "clock.h"
#include "keys.h"
#include "testlib.h"

#define HOST "web-01"
#define CID "cccccccccccc3333333333333333333333333333333333333333333333333333"
#define SHA "5f2b7d8e0a1c3b4d5f2b7d8e0a1c3b4d5f2b7d8e0a1c3b4d5f2b7d8e0a1c3b4d"

static void
payload(struct envelope_action_payload *p, unsigned n)
{
	memset(p, 0, sizeof(*p));
	(void)snprintf(p->action_id, sizeof(p->action_id), "%032x", n);
	(void)snprintf(p->host_id, sizeof(p->host_id), HOST);
	(void)snprintf(p->container_id, sizeof(p->container_id), CID);
	p->action = ENVELOPE_ACTION_RESTART;
	(void)snprintf(p->reason, sizeof(p->reason), "reason %u", n);
	(void)snprintf(p->requested_by, sizeof(p->requested_by), "alice");
	p->issued_at = 1000;
	p->expires_at = 41000;
}

static void
result(struct envelope_result_payload *r, unsigned n, enum envelope_status st)
{
	memset(r, 0, sizeof(*r));
	(void)snprintf(r->action_id, sizeof(r->action_id), "%032x", n);
	(void)snprintf(r->host_id, sizeof(r->host_id), HOST);
	(void)snprintf(r->container_id, sizeof(r->container_id), CID);
	r->action = ENVELOPE_ACTION_RESTART;
	r->status = st;
	r->docker_status = st == ENVELOPE_STATUS_SUCCESS ? 204 : 0;
	if (st == ENVELOPE_STATUS_DENIED) {
		r->has_error = true;
		(void)snprintf(r->error, sizeof(r->error), "policy says no");
	}
	(void)snprintf(r->request_sha256, sizeof(r->request_sha256), SHA);
}

static int woken;
static uint64_t woken_token;

static void
wake(void *ctx, uint64_t token)
{
	(void)ctx;
	woken++;
	woken_token = token;
}

static const char *
id_of(unsigned n, char buf[33])
{
	(void)snprintf(buf, 33, "%032x", n);
	return buf;
}

/* Table rows: a result variant and the verdict it must get. */
static void
test_match(void)
{
	static const struct {
		const char *what;
		const char *host; /* the connection's host */
		int tweak;        /* 0 none, 1 container, 2 action,
		                              3 sha, 4 payload host, 5 id */
		enum actions_verdict want;
	} rows[] = {
		{ "other connection host", "web-02", 0,
		    ACTIONS_RESULT_MISMATCH },
		{ "other container", HOST, 1, ACTIONS_RESULT_MISMATCH },
		{ "other action", HOST, 2, ACTIONS_RESULT_MISMATCH },
		{ "other request hash", HOST, 3, ACTIONS_RESULT_MISMATCH },
		{ "payload names another host", HOST, 4,
		    ACTIONS_RESULT_MISMATCH },
		{ "unknown id", HOST, 5, ACTIONS_RESULT_UNKNOWN },
		{ "the real one", HOST, 0, ACTIONS_RESULT_OK },
		{ "the real one again", HOST, 0, ACTIONS_RESULT_DUPLICATE },
	};
	struct actions *t = actions_new(8, ACTIONS_KEEP_MS);
	struct envelope_action_payload p;
	struct envelope_result_payload r;
	struct action_info info;
	size_t i;

	CHECK(t != NULL);
	payload(&p, 1);
	CHECK(actions_add(t, &p, SHA, 31000, 1000) == 0);
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		enum actions_verdict v;

		result(&r, 1, ENVELOPE_STATUS_SUCCESS);
		if (rows[i].tweak == 1)
			r.container_id[0] = 'd';
		else if (rows[i].tweak == 2)
			r.action = ENVELOPE_ACTION_STOP;
		else if (rows[i].tweak == 3)
			r.request_sha256[0] = '0';
		else if (rows[i].tweak == 4)
			(void)snprintf(r.host_id, sizeof(r.host_id), "web-02");
		else if (rows[i].tweak == 5)
			r.action_id[0] = 'f';
		v = actions_claim_result(t, rows[i].host, &r, &info);
		CHECKF(v == rows[i].want, "%s: verdict %d, want %d",
		    rows[i].what, (int)v, (int)rows[i].want);
		if (v == ACTIONS_RESULT_OK)
			CHECK(actions_complete(t, &r, 2000) == 0);
	}
	CHECK(actions_get(t, p.action_id, &info) == 0);
	CHECK(info.status == ACTION_SUCCESS && info.has_result &&
	    info.docker_status == 204 && !info.has_error &&
	    info.finished_at == 2000);
	actions_free(t);
}

static void
test_states(void)
{
	struct actions *t = actions_new(8, ACTIONS_KEEP_MS);
	struct envelope_action_payload p;
	struct envelope_result_payload r;
	struct action_info info;
	char ids[4][ACTIONS_ID_LEN + 1];
	cJSON *j;
	char *s;

	CHECK(t != NULL);
	/* PENDING, then DENIED with the agent's error; the waiter once. */
	payload(&p, 2);
	CHECK(actions_add(t, &p, SHA, 31000, 1000) == 0);
	CHECK(actions_add(t, &p, SHA, 31000, 1000) == SIGNET_ERR_EXISTS);
	CHECK(actions_get(t, p.action_id, &info) == 0 &&
	    info.status == ACTION_PENDING && info.finished_at == 0 &&
	    strcmp(info.reason, "reason 2") == 0 &&
	    strcmp(info.requested_by, "alice") == 0);
	CHECK(actions_set_waiter(t, p.action_id, wake, NULL, 7) == 0);
	result(&r, 2, ENVELOPE_STATUS_DENIED);
	CHECK(actions_claim_result(t, HOST, &r, NULL) == ACTIONS_RESULT_OK);
	/* Claimed: a deadline passing meanwhile does not end it. */
	CHECK(actions_expire(t, 99999, ids, 4) == 0);
	CHECK(actions_complete(t, &r, 3000) == 0);
	woken = 0;
	actions_wake(t, p.action_id);
	actions_wake(t, p.action_id);
	CHECK(woken == 1 && woken_token == 7);
	CHECK(actions_get(t, p.action_id, &info) == 0 &&
	    info.status == ACTION_DENIED && info.has_error &&
	    strcmp(info.error, "policy says no") == 0);
	CHECK(actions_set_waiter(t, p.action_id, wake, NULL, 8) == 1);
	j = actions_info_json(&info);
	s = j != NULL ? cJSON_PrintUnformatted(j) : NULL;
	CHECK(s != NULL);
	if (s != NULL) {
		CHECK_CONTAINS(s, "\"status\":\"DENIED\"");
		CHECK_CONTAINS(s, "\"error\":\"policy says no\"");
		CHECK_CONTAINS(s, "\"docker_status\":0");
		CHECK_CONTAINS(s, "\"requested_at\":\"1970-01-01T00:00:01");
	}
	free(s);
	cJSON_Delete(j);

	/* TIMEOUT at the deadline, then a late result replaces it. */
	payload(&p, 3);
	CHECK(actions_add(t, &p, SHA, 5000, 1000) == 0);
	CHECK(actions_set_waiter(t, p.action_id, wake, NULL, 9) == 0);
	CHECK(actions_expire(t, 4999, ids, 4) == 0);
	CHECK(actions_expire(t, 5000, ids, 4) == 1 &&
	    strcmp(ids[0], p.action_id) == 0);
	CHECK(actions_expire(t, 6000, ids, 4) == 0);
	woken = 0;
	actions_wake(t, p.action_id);
	CHECK(woken == 1 && woken_token == 9);
	CHECK(actions_get(t, p.action_id, &info) == 0 &&
	    info.status == ACTION_TIMEOUT && info.has_error &&
	    !info.has_result);
	result(&r, 3, ENVELOPE_STATUS_SUCCESS);
	CHECK(actions_claim_result(t, HOST, &r, &info) == ACTIONS_RESULT_OK);
	CHECK(info.status == ACTION_TIMEOUT);
	CHECK(actions_complete(t, &r, 7000) == 0);
	CHECK(actions_get(t, p.action_id, &info) == 0 &&
	    info.status == ACTION_SUCCESS && !info.has_error &&
	    info.finished_at == 7000);
	CHECK(actions_claim_result(t, HOST, &r, NULL) ==
	    ACTIONS_RESULT_DUPLICATE);

	/* UNDELIVERED: ends once; a result for it is a mismatch. */
	payload(&p, 4);
	CHECK(actions_add(t, &p, SHA, 31000, 1000) == 0);
	CHECK(actions_mark_undelivered(t, p.action_id, "host gone", 1500) == 0);
	CHECK(actions_mark_undelivered(t, p.action_id, "again", 1600) ==
	    SIGNET_ERR_NOT_FOUND);
	CHECK(actions_get(t, p.action_id, &info) == 0 &&
	    info.status == ACTION_UNDELIVERED &&
	    strcmp(info.error, "host gone") == 0 && info.finished_at == 1500);
	CHECK(actions_expire(t, 99999, ids, 4) == 0);
	result(&r, 4, ENVELOPE_STATUS_SUCCESS);
	CHECK(
	    actions_claim_result(t, HOST, &r, NULL) == ACTIONS_RESULT_MISMATCH);

	/* A claim released (audit failed) can be made again. */
	payload(&p, 5);
	CHECK(actions_add(t, &p, SHA, 31000, 1000) == 0);
	result(&r, 5, ENVELOPE_STATUS_FAILURE);
	CHECK(actions_claim_result(t, HOST, &r, NULL) == ACTIONS_RESULT_OK);
	CHECK(actions_mark_undelivered(t, p.action_id, "x", 1) ==
	    SIGNET_ERR_NOT_FOUND);
	actions_unclaim(t, p.action_id);
	CHECK(actions_claim_result(t, HOST, &r, NULL) == ACTIONS_RESULT_OK);
	CHECK(actions_complete(t, &r, 2000) == 0);
	CHECK(actions_get(t, p.action_id, &info) == 0 &&
	    info.status == ACTION_FAILURE);

	/* A waiter cleared by its request is not called. */
	payload(&p, 6);
	CHECK(actions_add(t, &p, SHA, 2000, 1000) == 0);
	CHECK(actions_set_waiter(t, p.action_id, wake, NULL, 11) == 0);
	actions_clear_waiter(t, p.action_id, 12); /* not its token */
	actions_clear_waiter(t, p.action_id, 11);
	CHECK(actions_expire(t, 2000, ids, 4) == 1);
	woken = 0;
	actions_wake(t, p.action_id);
	CHECK(woken == 0);

	/* Removed (action.requested not recorded): gone. */
	actions_remove(t, p.action_id);
	CHECK(actions_get(t, p.action_id, &info) == SIGNET_ERR_NOT_FOUND);
	CHECK(
	    actions_add(t, &p, "nothex", 2000, 1000) == SIGNET_ERR_INVALID_ARG);
	actions_free(t);
}

/* The late result of action n, claimed and completed at now. */
static void
finish_late(struct actions *t, unsigned n, int64_t now)
{
	struct envelope_result_payload res;
	struct action_info info;

	result(&res, n, ENVELOPE_STATUS_SUCCESS);
	CHECK(actions_claim_result(t, HOST, &res, &info) == ACTIONS_RESULT_OK);
	CHECK(info.status == ACTION_TIMEOUT);
	CHECK(actions_complete(t, &res, now) == 0);
}

static void
test_bounds(void)
{
	struct actions *t = actions_new(3, 60000);
	struct envelope_action_payload p;
	struct envelope_result_payload res;
	struct action_info info;
	char ids[8][ACTIONS_ID_LEN + 1], id[33];
	unsigned n;

	CHECK(actions_new(0, 1) == NULL);
	CHECK(actions_new(10, -1) == NULL);
	CHECK(t != NULL);
	for (n = 10; n < 13; n++) {
		payload(&p, n);
		CHECK(actions_add(t, &p, SHA, 5000, 1000) == 0);
	}
	CHECK(actions_count(t) == 3);
	/* Full of live entries: refused. */
	payload(&p, 13);
	CHECK(actions_add(t, &p, SHA, 5000, 1000) == SIGNET_ERR_UNAVAILABLE);
	/* Ended at 5000, but kept for keep_ms: still refused at 60000. */
	CHECK(actions_expire(t, 5000, ids, 8) == 3);
	CHECK(actions_add(t, &p, SHA, 70000, 60000) == SIGNET_ERR_UNAVAILABLE);
	/* After keep_ms finished entries are forgotten. */
	CHECK(actions_add(t, &p, SHA, 70000, 65000) == 0);
	CHECK(actions_count(t) == 1);
	CHECK(actions_get(t, id_of(10, id), &info) == SIGNET_ERR_NOT_FOUND);
	CHECK(actions_get(t, id_of(13, id), &info) == 0);
	/* expire hands out at most max ids per call; the rest next time. */
	for (n = 20; n < 22; n++) {
		payload(&p, n);
		CHECK(actions_add(t, &p, SHA, 80000, 65000) == 0);
	}
	CHECK(actions_expire(t, 90000, ids, 2) == 2);
	CHECK(actions_expire(t, 90000, ids, 2) == 1);
	CHECK(actions_expire(t, 90000, ids, 2) == 0);
	actions_free(t);
	actions_free(NULL);

	/* A table full of finished entries makes room, oldest first. */
	t = actions_new(2, 3600000);
	CHECK(t != NULL);
	for (n = 30; n < 32; n++) {
		payload(&p, n);
		CHECK(actions_add(t, &p, SHA, 5000, 1000) == 0);
		CHECK(actions_mark_undelivered(t, id_of(n, id), "gone",
		          1000 + n) == 0);
	}
	payload(&p, 32);
	CHECK(actions_add(t, &p, SHA, 5000, 2000) == 0);
	CHECK(actions_get(t, id_of(30, id), &info) == SIGNET_ERR_NOT_FOUND);
	CHECK(actions_get(t, id_of(31, id), &info) == 0);
	CHECK(actions_count(t) == 2);
	actions_free(t);

	/*
	 * Eviction order follows when entries finished, not when they were
	 * added: a TIMEOUT that gets its late result finishes again, and a
	 * TIMEOUT whose action may still run is kept while anything else can
	 * go; an entry whose result is being recorded is never dropped.
	 */
	t = actions_new(3, 3600000);
	CHECK(t != NULL);
	for (n = 40; n < 43; n++) {
		payload(&p, n);
		CHECK(actions_add(t, &p, SHA, 5000, 1000) == 0);
	}
	CHECK(actions_expire(t, 5000, ids, 8) == 3); /* 40..42 TIMEOUT */
	finish_late(t, 41, 6000);                    /* 41 SUCCESS */
	finish_late(t, 40, 6500);                    /* 40 SUCCESS */
	payload(&p, 43);
	CHECK(actions_add(t, &p, SHA, 9000, 7000) == 0); /* evicts 41 */
	CHECK(actions_get(t, id_of(41, id), &info) == SIGNET_ERR_NOT_FOUND);
	CHECK(actions_get(t, id_of(40, id), &info) == 0);
	CHECK(actions_get(t, id_of(42, id), &info) == 0);
	CHECK(actions_expire(t, 9000, ids, 8) == 1); /* 43 TIMEOUT */
	payload(&p, 44);
	CHECK(actions_add(t, &p, SHA, 200000, 10000) == 0); /* evicts 40 */
	CHECK(actions_get(t, id_of(40, id), &info) == SIGNET_ERR_NOT_FOUND);
	/* Only TIMEOUTs left, live until 41000 + 2 x skew: refused. */
	payload(&p, 45);
	CHECK(actions_add(t, &p, SHA, 300000, 10001) == SIGNET_ERR_UNAVAILABLE);
	/* Later, the oldest of them goes, unless its result is being recorded. */
	result(&res, 42, ENVELOPE_STATUS_SUCCESS);
	CHECK(actions_claim_result(t, HOST, &res, &info) == ACTIONS_RESULT_OK);
	CHECK(info.status == ACTION_TIMEOUT);
	CHECK(actions_add(t, &p, SHA, 300000, 110000) == 0);
	CHECK(actions_get(t, id_of(42, id), &info) == 0);
	CHECK(actions_get(t, id_of(43, id), &info) == SIGNET_ERR_NOT_FOUND);
	CHECK(actions_complete(t, &res, 110001) == 0);
	CHECK(actions_get(t, id_of(42, id), &info) == 0 &&
	    info.status == ACTION_SUCCESS);
	/* Expiry looks only at pending entries, and only at due ones. */
	CHECK(actions_expire(t, 150000, ids, 8) == 0);
	CHECK(actions_expire(t, 200000, ids, 8) == 1);
	CHECK(strcmp(ids[0], id_of(44, id)) == 0);
	CHECK(actions_expire(t, 300000, ids, 8) == 1);
	CHECK(strcmp(ids[0], id_of(45, id)) == 0);
	actions_free(t);
}

/* Appends action.requested for p, its envelope signed with key. */
static void
log_requested(struct audit_writer *w, const struct keys_secret *key,
    struct envelope_action_payload *p)
{
	struct envelope env;
	struct err_msg m;
	cJSON *d = cJSON_CreateObject(), *e;

	memset(&env, 0, sizeof(env));
	CHECK(envelope_action_sign(p, key, &env) == 0);
	CHECK(d != NULL);
	cJSON_AddStringToObject(d, "action_id", p->action_id);
	e = cJSON_AddObjectToObject(d, "action");
	cJSON_AddStringToObject(e, "payload", env.payload_b64);
	cJSON_AddStringToObject(e, "sig", env.sig_b64);
	cJSON_AddStringToObject(e, "key_id", env.key_id);
	CHECKF(audit_append(w, "action.requested", "server", d, NULL, &m) == 0,
	    "append: %s", m.text);
	cJSON_Delete(d);
	envelope_free(&env);
}

static void
log_event(struct audit_writer *w, const char *event, unsigned n)
{
	char id[33];
	struct err_msg m;
	cJSON *d = cJSON_CreateObject();

	(void)snprintf(id, sizeof(id), "%032x", n);
	cJSON_AddStringToObject(d, "action_id", id);
	CHECKF(audit_append(w, event, "server", d, NULL, &m) == 0, "append: %s",
	    m.text);
	cJSON_Delete(d);
}

/* action.result for action n as the hub writes it. */
static void
log_result(struct audit_writer *w, unsigned n, const char *status,
    const char *error)
{
	char id[33];
	struct err_msg m;
	cJSON *d = cJSON_CreateObject();

	(void)snprintf(id, sizeof(id), "%032x", n);
	cJSON_AddStringToObject(d, "action_id", id);
	cJSON_AddStringToObject(d, "host_id", HOST);
	if (status != NULL)
		cJSON_AddStringToObject(d, "status", status);
	cJSON_AddNumberToObject(d, "docker_status", 0);
	if (error != NULL)
		cJSON_AddStringToObject(d, "error", error);
	else
		cJSON_AddNullToObject(d, "error");
	CHECKF(audit_append(w, "action.result", "server", d, NULL, &m) == 0,
	    "append: %s", m.text);
	cJSON_Delete(d);
}

/* The result the agent would send for action n (requested as in the log). */
static void
late_result(unsigned n, int64_t now, struct envelope_result_payload *res)
{
	struct envelope_action_payload p;
	char *json = NULL;

	payload(&p, n);
	p.issued_at = now - 1000;
	p.expires_at = now + 60000;
	result(res, n, ENVELOPE_STATUS_SUCCESS);
	CHECK(envelope_action_encode(&p, &json) == 0 && json != NULL);
	if (json != NULL)
		envelope_sha256_hex(json, strlen(json), res->request_sha256);
	free(json);
}

/*
 * A restart: requested actions with no end come back PENDING (and a late
 * result is then accepted); ended ones come back as they ended (a TIMEOUT
 * still takes its late result, the others none); ones signed by another
 * key, and ones older than ACTIONS_RELOAD_MS, do not come back.
 */
static void
test_reload(void)
{
	char dir[] = "/tmp/signet-test-actions.XXXXXX", path[128], cmd[160];
	struct keys_secret key, other, audit_key;
	struct envelope_action_payload p;
	struct envelope_result_payload res;
	struct action_info info;
	struct audit_writer *w = NULL;
	struct actions *t = actions_new(16, ACTIONS_KEEP_MS);
	struct err_msg m;
	char id[33];
	int64_t now;
	size_t n = 99;
	unsigned i;

	CHECK(t != NULL && mkdtemp(dir) != NULL);
	now = clock_wall_ms();
	(void)snprintf(path, sizeof(path), "%s/audit.log", dir);
	CHECK(keys_generate(&key) == 0 && keys_generate(&other) == 0 &&
	    keys_generate(&audit_key) == 0);
	/* No log yet: nothing to put back, no error. */
	CHECK(actions_reload(t, path, &key.pub, now, &n, &m) == 0 && n == 0);
	CHECKF(audit_open(path, &audit_key, &w, &m) == 0, "open: %s", m.text);
	for (i = 1; i <= 7; i++) {
		payload(&p, i);
		p.issued_at = now - 1000;
		p.expires_at = now + 60000;
		log_requested(w, i == 4 ? &other : &key, &p);
	}
	log_result(w, 1, "DENIED", "policy says no");
	log_event(w, "action.undelivered", 2);
	log_event(w, "action.timeout", 5);
	log_event(w, "action.timeout", 6);
	log_result(w, 6, "SUCCESS", NULL); /* late, before the restart */
	log_result(w, 7, NULL, NULL);      /* status unreadable */
	log_result(w, 4, "SUCCESS", NULL); /* not put back: ignored */
	audit_close(w);
	/* Seen from ACTIONS_RELOAD_MS in the future, all are too old. */
	CHECK(actions_reload(t, path, &key.pub, now + ACTIONS_RELOAD_MS + 60000,
	          &n, &m) == 0 &&
	    n == 0 && actions_count(t) == 0);
	CHECKF(actions_reload(t, path, &key.pub, now, &n, &m) == 0,
	    "reload: %s", m.text);
	CHECK(n == 1 && actions_count(t) == 6);
	CHECK(actions_get(t, id_of(3, id), &info) == 0 &&
	    info.status == ACTION_PENDING &&
	    info.deadline == now + 60000 + ENVELOPE_SKEW_MS);
	CHECK(actions_get(t, id_of(4, id), &info) == SIGNET_ERR_NOT_FOUND);
	CHECK(actions_get(t, id_of(1, id), &info) == 0 &&
	    info.status == ACTION_DENIED && info.has_result &&
	    strcmp(info.error, "policy says no") == 0);
	CHECK(actions_get(t, id_of(2, id), &info) == 0 &&
	    info.status == ACTION_UNDELIVERED && !info.has_result);
	CHECK(actions_get(t, id_of(5, id), &info) == 0 &&
	    info.status == ACTION_TIMEOUT && !info.has_result);
	CHECK(actions_get(t, id_of(6, id), &info) == 0 &&
	    info.status == ACTION_SUCCESS && info.has_result &&
	    !info.has_error);
	CHECK(actions_get(t, id_of(7, id), &info) == 0 &&
	    info.status == ACTION_FAILURE && info.has_result);
	/* Late results: accepted for the PENDING and the TIMEOUT, once. */
	for (i = 1; i <= 7; i++) {
		enum actions_verdict want = i == 3 || i == 5 ?
		    ACTIONS_RESULT_OK :
		    i == 2 ? ACTIONS_RESULT_MISMATCH :
		    i == 4 ? ACTIONS_RESULT_UNKNOWN :
		             ACTIONS_RESULT_DUPLICATE;

		late_result(i, now, &res);
		CHECKF(actions_claim_result(t, HOST, &res, &info) == want,
		    "late result for %u", i);
	}
	actions_free(t);
	keys_secret_wipe(&key);
	keys_secret_wipe(&other);
	keys_secret_wipe(&audit_key);
	(void)snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	CHECK(system(cmd) == 0);
}

/* action.result for action n as the hub writes it when it did not hold n. */
static void
log_unknown_result(struct audit_writer *w, const struct keys_secret *agent,
    const struct envelope_result_payload *res)
{
	struct envelope env = { NULL, NULL, "" };
	struct err_msg m;
	cJSON *d = cJSON_CreateObject(), *e;

	CHECK(envelope_result_sign(res, agent, &env) == 0);
	cJSON_AddStringToObject(d, "action_id", res->action_id);
	cJSON_AddStringToObject(d, "host_id", res->host_id);
	cJSON_AddStringToObject(d, "status", "SUCCESS");
	cJSON_AddNumberToObject(d, "docker_status", 204);
	cJSON_AddNullToObject(d, "error");
	cJSON_AddBoolToObject(d, "action_known", 0);
	e = cJSON_AddObjectToObject(d, "result");
	cJSON_AddStringToObject(e, "payload", env.payload_b64);
	cJSON_AddStringToObject(e, "sig", env.sig_b64);
	CHECKF(audit_append(w, "action.result", "server", d, NULL, &m) == 0,
	    "append: %s", m.text);
	cJSON_Delete(d);
	envelope_free(&env);
}

/*
 * A result recorded while the server did not hold its action ("action_known":
 * false) ends the action a later restart puts back, when its embedded
 * result answers it; one that does not (another request's hash, another
 * container) leaves it PENDING.
 */
static void
test_reload_unknown_result(void)
{
	char dir[] = "/tmp/signet-test-actions.XXXXXX", path[128], cmd[160];
	struct keys_secret key, agent, audit_key;
	struct envelope_action_payload p;
	struct envelope_result_payload res;
	struct action_info info;
	struct audit_writer *w = NULL;
	struct actions *t = actions_new(16, ACTIONS_KEEP_MS);
	struct err_msg m;
	char id[33];
	int64_t now;
	size_t n = 99;
	unsigned i;

	CHECK(t != NULL && mkdtemp(dir) != NULL);
	now = clock_wall_ms();
	(void)snprintf(path, sizeof(path), "%s/audit.log", dir);
	CHECK(keys_generate(&key) == 0 && keys_generate(&agent) == 0 &&
	    keys_generate(&audit_key) == 0);
	CHECKF(audit_open(path, &audit_key, &w, &m) == 0, "open: %s", m.text);
	for (i = 1; i <= 3; i++) {
		payload(&p, i);
		p.issued_at = now - 1000;
		p.expires_at = now + 60000;
		log_requested(w, &key, &p);
	}
	late_result(1, now, &res);
	log_unknown_result(w, &agent, &res);
	late_result(2, now, &res);
	res.request_sha256[0] = res.request_sha256[0] == '0' ? '1' : '0';
	log_unknown_result(w, &agent, &res);
	late_result(3, now, &res);
	res.container_id[0] = res.container_id[0] == '0' ? '1' : '0';
	log_unknown_result(w, &agent, &res);
	audit_close(w);
	CHECKF(actions_reload(t, path, &key.pub, now, &n, &m) == 0,
	    "reload: %s", m.text);
	CHECK(n == 2 && actions_count(t) == 3);
	CHECKF(actions_get(t, id_of(1, id), &info) == 0 &&
	        info.status == ACTION_SUCCESS && info.has_result,
	    "a recorded unknown result did not complete its action: %s",
	    action_status_name(info.status));
	CHECK(actions_get(t, id_of(2, id), &info) == 0 &&
	    info.status == ACTION_PENDING && !info.has_result);
	CHECK(actions_get(t, id_of(3, id), &info) == 0 &&
	    info.status == ACTION_PENDING && !info.has_result);
	/* A minute later, with the window narrowed to a second: none. */
	actions_free(t);
	t = actions_new(16, ACTIONS_KEEP_MS);
	CHECK(t != NULL && actions_set_reload_window(t, 1000) == 0);
	CHECK(actions_set_reload_window(t, ACTIONS_RELOAD_MS + 1) ==
	        SIGNET_ERR_INVALID_ARG &&
	    actions_set_reload_window(t, -1) == SIGNET_ERR_INVALID_ARG);
	CHECK(actions_reload(t, path, &key.pub, now + 60000, &n, &m) == 0 &&
	    n == 0 && actions_count(t) == 0);
	actions_free(t);
	keys_secret_wipe(&key);
	keys_secret_wipe(&agent);
	keys_secret_wipe(&audit_key);
	(void)snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	CHECK(system(cmd) == 0);
}

int
main(void)
{
	CHECK(sodium_init() >= 0);
	test_match();
	test_states();
	test_bounds();
	test_reload();
	test_reload_unknown_result();
	return test_finish("test_actions");
}
