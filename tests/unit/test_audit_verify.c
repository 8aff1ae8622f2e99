/* SPDX-License-Identifier: ISC */
/*
 * The offline verifier ties each action.result to its action.requested:
 * a log written with the real writer and real signed envelopes, then
 * tampered the way a server holding its audit key could (a genuine
 * agent-signed result paired with another action, record fields that
 * disagree with the signed result), must fail naming the record, the
 * field and both values; a result whose action is not in the files is
 * an error in a log that starts at seq 0, and is counted as untied when
 * the server marked it "action_known": false. An action.outcome's embedded
 * outcome verifies under the host's key and its record says what the
 * signed outcome says.
 *
 * Verifying on several threads (opts.jobs) must find exactly what one
 * thread finds: the same first bad line, message, code and counters, and
 * the same operator-request findings in the same order, over good and
 * tampered logs of more lines than one batch holds, with the damage
 * placed near the batch boundaries.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "audit.h"
#include "envelope.h"
#include "keys.h"
#include "audit_request.h"
#include "outcome.h"
#include "testlib.h"
#include "text.h"

#define HOST "web-01"
#define CID "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define CID2 "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
#define AID "0123456789abcdef0123456789abcdef"
#define AID2 "fedcba9876543210fedcba9876543210"

struct world {
	char dir[64];
	char agents[128];
	struct keys_secret audit, action, agent;
	struct keys_pubset action_pub;
};

/* How one row bends the log a compromised server would write. */
struct row {
	const char *name;
	bool no_request;       /* no action.requested record at all */
	const char *req_event; /* the request's event (NULL: requested) */
	bool action_unknown;   /* data.action_known false */
	const char *rec_aid;   /* record's action_id (NULL: the true one) */
	const char *rec_host;  /* record's host_id */
	const char *rec_status;
	const char *rec_cid; /* adds data.container_id */
	const char *res_cid; /* the signed result's container_id */
	enum envelope_action res_action;
	bool res_other_sha; /* request_sha256 of other bytes */
	bool second_result; /* the same result recorded twice */
	const char *why;    /* NULL: verifies */
	const char *why2;   /* a second substring of the error */
	uint64_t untied;    /* results reported untied */
	const char *key_id; /* adds data.result_key_id */
};

static const struct row rows[] = {
	{ .name = "tied", .why = NULL },
	{ .name = "request_sha256 of other bytes",
	    .res_other_sha = true,
	    .why = "signed request_sha256 is ",
	    .why2 = "action.requested of action_id " AID " (seq 0) has " },
	{ .name = "record status",
	    .rec_status = "SUCCESS",
	    .why = "data.status is \"SUCCESS\", the signed result's is "
	           "\"FAILURE\"" },
	{ .name = "record action_id",
	    .rec_aid = AID2,
	    .why = "data.action_id is \"" AID2 "\", the signed result's is "
	           "\"" AID "\"" },
	{ .name = "record host_id",
	    .rec_host = "db-01",
	    .why = "data.host_id is \"db-01\", the signed result's is "
	           "\"" HOST "\"" },
	{ .name = "record container_id",
	    .rec_cid = CID2,
	    .why = "data.container_id is \"" CID2 "\", the signed result's "
	           "is \"" CID "\"" },
	{ .name = "result for another container",
	    .res_cid = CID2,
	    .why = "signed container_id is \"" CID2 "\"",
	    .why2 = "action.requested of action_id " AID " (seq 0) has "
	            "\"" CID "\"" },
	{ .name = "result for another verb",
	    .res_action = ENVELOPE_ACTION_STOP,
	    .why = "signed action is \"STOP\"",
	    .why2 = "\"RESTART\"" },
	{ .name = "no action.requested",
	    .no_request = true,
	    .why = "no action.requested for action_id " AID,
	    .why2 = "not tied" },
	{ .name = "unknown to the server, marked",
	    .no_request = true,
	    .action_unknown = true,
	    .why = NULL,
	    .untied = 1 },
	{ .name = "marked unknown but tied",
	    .action_unknown = true,
	    .why = NULL },
	{ .name = "marked unknown, other bytes",
	    .action_unknown = true,
	    .res_other_sha = true,
	    .why = "signed request_sha256 is " },
	{ .name = "relayed by a replica, tied",
	    .req_event = "action.relayed",
	    .why = NULL },
	{ .name = "relayed by a replica, other bytes",
	    .req_event = "action.relayed",
	    .res_other_sha = true,
	    .why = "signed request_sha256 is " },
	{ .name = "second result",
	    .second_result = true,
	    .why = "second action.result for action_id " AID },
};

static int
world_init(struct world *w)
{
	struct err_msg msg;

	memset(w, 0, sizeof(*w));
	(void)snprintf(w->dir, sizeof(w->dir), "/tmp/signet-test-av.XXXXXX");
	if (mkdtemp(w->dir) == NULL)
		return -1;
	(void)snprintf(w->agents, sizeof(w->agents), "%s/agents", w->dir);
	if (mkdir(w->agents, 0755) != 0 || keys_generate(&w->audit) != 0 ||
	    keys_generate(&w->action) != 0 || keys_generate(&w->agent) != 0 ||
	    keys_write_pair(w->agents, HOST, &w->agent, &msg) != 0)
		return -1;
	w->action_pub.count = 1;
	w->action_pub.keys[0] = w->action.pub;
	return 0;
}

/* Adds {payload, sig[, key_id]} under name. */
static bool
add_env(cJSON *d, const char *name, const struct envelope *env, bool key)
{
	cJSON *e = cJSON_AddObjectToObject(d, name);

	return e != NULL &&
	    cJSON_AddStringToObject(e, "payload", env->payload_b64) != NULL &&
	    cJSON_AddStringToObject(e, "sig", env->sig_b64) != NULL &&
	    (!key || cJSON_AddStringToObject(e, "key_id", env->key_id) != NULL);
}

static int
append(struct audit_writer *aw, const char *event, cJSON *d)
{
	struct err_msg msg;
	int r = audit_append(aw, event, "server", d, NULL, &msg);

	if (r != 0)
		fprintf(stderr, "append %s: %s\n", event, msg.text);
	cJSON_Delete(d);
	return r;
}

/* Writes the log of one row into path. */
static int
write_log(struct world *w, const struct row *row, const char *path)
{
	struct envelope_action_payload act;
	struct envelope_result_payload res;
	struct envelope aenv, renv;
	struct audit_writer *aw = NULL;
	struct err_msg msg;
	uint8_t *raw = NULL;
	size_t raw_len = 0;
	cJSON *d;
	int k, r = -1;

	memset(&act, 0, sizeof(act));
	memset(&aenv, 0, sizeof(aenv));
	memset(&renv, 0, sizeof(renv));
	memcpy(act.action_id, AID, sizeof(AID));
	memcpy(act.host_id, HOST, sizeof(HOST));
	memcpy(act.container_id, CID, sizeof(CID));
	act.action = ENVELOPE_ACTION_RESTART;
	(void)snprintf(act.reason, sizeof(act.reason), "deploy");
	(void)snprintf(act.requested_by, sizeof(act.requested_by), "alice");
	act.issued_at = 1700000000000;
	act.expires_at = act.issued_at + 60000;
	if (envelope_action_sign(&act, &w->action, &aenv) != 0 ||
	    envelope_action_verify(&w->action_pub, aenv.key_id,
	        aenv.payload_b64, aenv.sig_b64, &act, &raw, &raw_len,
	        &msg) != 0)
		goto out;

	memset(&res, 0, sizeof(res));
	memcpy(res.action_id, AID, sizeof(AID));
	memcpy(res.host_id, HOST, sizeof(HOST));
	(void)snprintf(res.container_id, sizeof(res.container_id), "%s",
	    row->res_cid != NULL ? row->res_cid : CID);
	res.action = row->res_action != ENVELOPE_ACTION_NONE ?
	    row->res_action :
	    ENVELOPE_ACTION_RESTART;
	res.status = ENVELOPE_STATUS_FAILURE;
	res.has_error = true;
	(void)snprintf(res.error, sizeof(res.error), "no such container");
	res.docker_status = 404;
	res.started_at = act.issued_at + 10;
	res.finished_at = act.issued_at + 20;
	if (row->res_other_sha)
		envelope_sha256_hex("other bytes", 11, res.request_sha256);
	else
		envelope_sha256_hex(raw, raw_len, res.request_sha256);
	if (envelope_result_sign(&res, &w->agent, &renv) != 0)
		goto out;

	if (audit_open(path, &w->audit, &aw, &msg) != 0)
		goto out;
	if (!row->no_request) {
		d = cJSON_CreateObject();
		if (d == NULL ||
		    cJSON_AddStringToObject(d, "action_id", AID) == NULL ||
		    cJSON_AddStringToObject(d, "host_id", HOST) == NULL ||
		    cJSON_AddStringToObject(d, "container_id", CID) == NULL ||
		    cJSON_AddStringToObject(d, "action_name", "RESTART") ==
		        NULL ||
		    !add_env(d, "action", &aenv, true) ||
		    append(aw,
		        row->req_event != NULL ? row->req_event :
		                                 "action.requested",
		        d) != 0)
			goto out;
	}
	for (k = 0; k < (row->second_result ? 2 : 1); k++) {
		d = cJSON_CreateObject();
		if (d == NULL ||
		    cJSON_AddStringToObject(d, "action_id",
		        row->rec_aid != NULL ? row->rec_aid : AID) == NULL ||
		    cJSON_AddStringToObject(d, "host_id",
		        row->rec_host != NULL ? row->rec_host : HOST) == NULL ||
		    (row->rec_cid != NULL &&
		        cJSON_AddStringToObject(d, "container_id",
		            row->rec_cid) == NULL) ||
		    cJSON_AddStringToObject(d, "status",
		        row->rec_status != NULL ? row->rec_status :
		                                  "FAILURE") == NULL ||
		    cJSON_AddNumberToObject(d, "docker_status", 404) == NULL ||
		    cJSON_AddStringToObject(d, "error", "no such container") ==
		        NULL ||
		    (row->action_unknown &&
		        cJSON_AddFalseToObject(d, "action_known") == NULL) ||
		    !add_env(d, "result", &renv, false) ||
		    (row->key_id != NULL &&
		        cJSON_AddStringToObject(d, "result_key_id",
		            row->key_id) == NULL) ||
		    append(aw, "action.result", d) != 0)
			goto out;
	}
	r = 0;
out:
	audit_close(aw);
	envelope_free(&aenv);
	envelope_free(&renv);
	free(raw);
	return r;
}

static void
test_rows(struct world *w)
{
	struct audit_verify_opts o = { .audit_key = &w->audit.pub,
		.action_keys = &w->action_pub,
		.agent_keys_dir = w->agents };
	struct audit_verify_report rep;
	struct err_msg msg;
	char path[160];
	size_t i;
	int r;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		const struct row *row = &rows[i];

		(void)snprintf(path, sizeof(path), "%s/audit-%zu.log", w->dir,
		    i);
		CHECKF(write_log(w, row, path) == 0, "%s: log written",
		    row->name);
		err_clear(&msg);
		r = audit_verify_file(path, &o, &rep, &msg);
		if (row->why == NULL) {
			CHECKF(r == 0, "%s: verifies: %s", row->name, msg.text);
			CHECKF(rep.results_untied == row->untied,
			    "%s: %llu untied", row->name,
			    (unsigned long long)rep.results_untied);
			CHECKF(rep.results_tied + rep.results_untied ==
			        rep.results_checked,
			    "%s: every checked result tied or untied",
			    row->name);
			continue;
		}
		CHECKF(r == SIGNET_ERR_CHAIN, "%s: refused (%d): %s", row->name,
		    r, msg.text);
		CHECK_CONTAINS(msg.text, "action.result");
		CHECK_CONTAINS(msg.text, row->why);
		if (row->why2 != NULL)
			CHECK_CONTAINS(msg.text, row->why2);
		CHECKF(rep.bad_line > 0, "%s: names the line", row->name);
	}
}

/*
 * Without the agents' keys a result is not authentic, so it is not tied
 * either: counted unchecked, never as tied.
 */
static void
test_unchecked(struct world *w)
{
	struct audit_verify_opts o = { .audit_key = &w->audit.pub,
		.action_keys = &w->action_pub };
	struct audit_verify_report rep;
	struct err_msg msg;
	char path[160];

	(void)snprintf(path, sizeof(path), "%s/audit-unchecked.log", w->dir);
	CHECK(write_log(w, &rows[0], path) == 0);
	CHECK(audit_verify_file(path, &o, &rep, &msg) == 0);
	CHECK(rep.results_unchecked == 1 && rep.results_tied == 0 &&
	    rep.results_untied == 0);

	/*
	 * Without the action keys the recorded action bytes are still what
	 * the agent's request_sha256 must name: the tie is checked.
	 */
	o.action_keys = NULL;
	o.agent_keys_dir = w->agents;
	CHECK(audit_verify_file(path, &o, &rep, &msg) == 0);
	CHECK(rep.actions_unchecked == 1 && rep.results_tied == 1);
	(void)snprintf(path, sizeof(path), "%s/audit-unchecked-sha.log",
	    w->dir);
	CHECK(write_log(w, &rows[1], path) == 0);
	CHECK(audit_verify_file(path, &o, &rep, &msg) == SIGNET_ERR_CHAIN);
	CHECK_CONTAINS(msg.text, "signed request_sha256 is ");
}

/*
 * Writes one action.outcome record into path: signed by signer, the
 * record's "observed" as given (the signed one is "not_run").
 */
static int
write_outcome_log(struct world *w, const struct keys_secret *signer,
    const char *observed, const char *path)
{
	struct outcome_payload p;
	struct envelope env;
	struct audit_writer *aw = NULL;
	struct err_msg msg;
	char sha[65];
	cJSON *d = NULL;
	int r = -1;

	memset(&p, 0, sizeof(p));
	memset(&env, 0, sizeof(env));
	memcpy(p.action_id, AID, sizeof(AID));
	memcpy(p.host_id, HOST, sizeof(HOST));
	memcpy(p.container_id, CID, sizeof(CID));
	p.action = ENVELOPE_ACTION_RESTART;
	envelope_sha256_hex("the action", 10, sha);
	memcpy(p.request_sha256, sha, sizeof(sha));
	p.observed = OUTCOME_NOT_RUN;
	(void)snprintf(p.detail, sizeof(p.detail), "state unchanged");
	p.observed_at = 1700000100000;
	if (outcome_sign(&p, signer, &env) != 0 ||
	    audit_open(path, &w->audit, &aw, &msg) != 0)
		goto out;
	d = cJSON_CreateObject();
	if (d == NULL || cJSON_AddStringToObject(d, "action_id", AID) == NULL ||
	    cJSON_AddStringToObject(d, "host_id", HOST) == NULL ||
	    cJSON_AddStringToObject(d, "container_id", CID) == NULL ||
	    cJSON_AddStringToObject(d, "action_name", "RESTART") == NULL ||
	    cJSON_AddStringToObject(d, "request_sha256", sha) == NULL ||
	    cJSON_AddStringToObject(d, "observed", observed) == NULL ||
	    cJSON_AddStringToObject(d, "detail", p.detail) == NULL ||
	    !add_env(d, "outcome", &env, false)) {
		cJSON_Delete(d);
		goto out;
	}
	r = append(aw, "action.outcome", d);
out:
	if (aw != NULL)
		audit_close(aw);
	envelope_free(&env);
	return r;
}

/*
 * An embedded outcome is checked like a result: its signature under the
 * host's key, and the record's members against the signed ones.
 */
static void
test_outcomes(struct world *w)
{
	struct audit_verify_opts o = { .audit_key = &w->audit.pub,
		.action_keys = &w->action_pub,
		.agent_keys_dir = w->agents };
	struct audit_verify_report rep;
	struct err_msg msg;
	char path[160];

	(void)snprintf(path, sizeof(path), "%s/outcome-good.log", w->dir);
	CHECK(write_outcome_log(w, &w->agent, "not_run", path) == 0);
	CHECK(audit_verify_file(path, &o, &rep, &msg) == 0);
	CHECKF(rep.outcomes_checked == 1 && rep.outcomes_unchecked == 0,
	    "genuine outcome: %llu checked (%s)",
	    (unsigned long long)rep.outcomes_checked, msg.text);
	o.agent_keys_dir = NULL;
	CHECK(audit_verify_file(path, &o, &rep, &msg) == 0);
	CHECK(rep.outcomes_checked == 0 && rep.outcomes_unchecked == 1);
	o.agent_keys_dir = w->agents;

	(void)snprintf(path, sizeof(path), "%s/outcome-said.log", w->dir);
	CHECK(write_outcome_log(w, &w->agent, "ran", path) == 0);
	CHECKF(audit_verify_file(path, &o, &rep, &msg) == SIGNET_ERR_CHAIN,
	    "record says ran, signed not_run: refused (%s)", msg.text);
	CHECK_CONTAINS(msg.text,
	    "data.observed is \"ran\", the signed outcome says \"not_run\"");

	(void)snprintf(path, sizeof(path), "%s/outcome-forged.log", w->dir);
	CHECK(write_outcome_log(w, &w->action, "not_run", path) == 0);
	CHECKF(audit_verify_file(path, &o, &rep, &msg) ==
	        SIGNET_ERR_BAD_SIGNATURE,
	    "outcome signed by another key: refused (%s)", msg.text);
	CHECK_CONTAINS(msg.text, "embedded outcome from host " HOST);
}

/* ---- several threads against one ---- */

#define PLINES 1100 /* records: over two batches of 512 lines */

/* A log written line by line, as the writer would, without syncs. */
struct plog {
	FILE *f;
	const struct keys_secret *key;
	uint64_t seq;
	char prev[AUDIT_HASH_HEX + 1];
	int64_t ts;
};

static int
plog_put(struct plog *l, const char *event, const char *qdata)
{
	const size_t clen = sizeof(AUDIT_CTX) - 1;
	static char buf[AUDIT_LINE_MAX + 64];
	uint8_t sig[KEYS_SIG_LEN];
	char b64[sodium_base64_ENCODED_LEN(KEYS_SIG_LEN,
	    sodium_base64_VARIANT_ORIGINAL)];
	int n;

	memcpy(buf, AUDIT_CTX, clen);
	n = snprintf(buf + clen, sizeof(buf) - clen,
	    "{\"seq\":%llu,\"ts\":%lld,\"prev\":\"%s\",\"event\":\"%s\","
	    "\"actor\":\"server\",\"data\":%s}",
	    (unsigned long long)l->seq, (long long)l->ts++, l->prev, event,
	    qdata);
	if (n < 0 || (size_t)n >= sizeof(buf) - clen - sizeof(b64) - 16 ||
	    crypto_sign_detached(sig, NULL, (unsigned char *)buf,
	        clen + (size_t)n, l->key->sk) != 0)
		return -1;
	sodium_bin2base64(b64, sizeof(b64), sig, sizeof(sig),
	    sodium_base64_VARIANT_ORIGINAL);
	(void)snprintf(buf + clen + n - 1, sizeof(buf) - clen - (size_t)n + 1,
	    ",\"sig\":\"%s\"}", b64);
	audit_line_hash(buf + clen, strlen(buf + clen), l->prev);
	l->seq++;
	return fprintf(l->f, "%s\n", buf + clen) < 0 ? -1 : 0;
}

/* Writes data (freed) as one record. */
static int
plog_data(struct plog *l, const char *event, cJSON *d, bool built)
{
	char *q = built && d != NULL ? cJSON_PrintUnformatted(d) : NULL;
	int r = q != NULL ? plog_put(l, event, q) : -1;

	free(q);
	cJSON_Delete(d);
	return r;
}

/* How one log of the parallel tests is made and damaged. */
struct pspec {
	const char *name;
	long bad_action;  /* line whose action is signed by another key */
	long bad_result;  /* line whose result is signed by another key */
	long bad_record;  /* an action.result saying another status */
	long dup_request; /* a second action.requested of an action */
	long bad_outcome; /* an action.outcome saying it ran */
	long flip_sig;    /* a line whose data is changed afterwards */
	long flip_prev;   /* a line whose prev is changed afterwards */
	long drop;        /* a line deleted afterwards */
	bool torn;        /* the last line cut in two */
	long head_seq;    /* --expect-head of this seq (line - 1) ... */
	bool head_wrong;  /* ... with a hash that is not the line's; else
	                   * the log's real head */
	long want_line;   /* the first bad line; 0: it verifies */
	const char *why;  /* in the message, when not NULL */
};

/* Line L of a parallel-test log (1-based), as the spec says. */
static int
pspec_line(struct world *w, const struct pspec *sp, struct plog *l, long L,
    struct envelope_action_payload *act, struct envelope *aenv)
{
	struct envelope_result_payload res;
	struct envelope_action_payload got;
	struct outcome_payload op;
	struct envelope renv = { 0 };
	uint8_t *raw = NULL;
	size_t raw_len = 0;
	struct err_msg msg;
	uint8_t rnd[16];
	cJSON *d = cJSON_CreateObject(), *e;
	const char *event = "test.record";
	bool ok = d != NULL;
	int r = -1;

	memset(&res, 0, sizeof(res));
	if (L == sp->dup_request ||
	    (L % 3 == 1 && L != sp->bad_result && L != sp->bad_record &&
	        L != sp->bad_outcome)) {
		event = "action.requested";
		if (L != sp->dup_request) {
			envelope_free(aenv);
			randombytes_buf(rnd, sizeof(rnd));
			text_hex(rnd, sizeof(rnd), act->action_id);
			act->issued_at = 1700000000000 + L;
			act->expires_at = act->issued_at + 60000;
			if (envelope_action_sign(act,
			        L == sp->bad_action ? &w->agent : &w->action,
			        aenv) != 0)
				goto out;
		}
		ok = ok &&
		    cJSON_AddStringToObject(d, "action_id", act->action_id) &&
		    cJSON_AddStringToObject(d, "host_id", HOST) &&
		    cJSON_AddStringToObject(d, "container_id", CID) &&
		    cJSON_AddStringToObject(d, "action_name", "RESTART") &&
		    add_env(d, "action", aenv, true);
	} else if (L == sp->bad_outcome) {
		event = "action.outcome";
		memset(&op, 0, sizeof(op));
		memcpy(op.action_id, act->action_id, sizeof(op.action_id));
		memcpy(op.host_id, HOST, sizeof(HOST));
		memcpy(op.container_id, CID, sizeof(CID));
		op.action = ENVELOPE_ACTION_RESTART;
		envelope_sha256_hex("x", 1, op.request_sha256);
		op.observed = OUTCOME_NOT_RUN;
		op.observed_at = 1700000100000;
		if (outcome_sign(&op, &w->agent, &renv) != 0)
			goto out;
		ok = ok &&
		    cJSON_AddStringToObject(d, "action_id", op.action_id) &&
		    cJSON_AddStringToObject(d, "host_id", HOST) &&
		    cJSON_AddStringToObject(d, "container_id", CID) &&
		    cJSON_AddStringToObject(d, "action_name", "RESTART") &&
		    cJSON_AddStringToObject(d, "request_sha256",
		        op.request_sha256) &&
		    cJSON_AddStringToObject(d, "observed", "ran") &&
		    add_env(d, "outcome", &renv, false);
	} else if (L % 3 == 2 || L == sp->bad_result || L == sp->bad_record) {
		event = "action.result";
		if (envelope_action_verify(&w->action_pub, aenv->key_id,
		        aenv->payload_b64, aenv->sig_b64, &got, &raw, &raw_len,
		        &msg) != 0 &&
		    L != sp->bad_action + 1)
			goto out;
		memcpy(res.action_id, act->action_id, sizeof(res.action_id));
		memcpy(res.host_id, HOST, sizeof(HOST));
		memcpy(res.container_id, CID, sizeof(CID));
		res.action = ENVELOPE_ACTION_RESTART;
		res.status = ENVELOPE_STATUS_SUCCESS;
		res.docker_status = 204;
		res.started_at = act->issued_at + 1;
		res.finished_at = act->issued_at + 2;
		envelope_sha256_hex(raw != NULL ? (const void *)raw : "",
		    raw_len, res.request_sha256);
		if (envelope_result_sign(&res,
		        L == sp->bad_result ? &w->action : &w->agent,
		        &renv) != 0)
			goto out;
		ok = ok &&
		    cJSON_AddStringToObject(d, "action_id", res.action_id) &&
		    cJSON_AddStringToObject(d, "host_id", HOST) &&
		    cJSON_AddStringToObject(d, "status",
		        L == sp->bad_record ? "FAILURE" : "SUCCESS") &&
		    cJSON_AddNumberToObject(d, "docker_status", 204) &&
		    add_env(d, "result", &renv, false);
	} else {
		ok = ok && (e = cJSON_AddNumberToObject(d, "i", (double)L));
	}
	r = plog_data(l, event, d, ok);
	d = NULL;
out:
	cJSON_Delete(d);
	envelope_free(&renv);
	free(raw);
	return r;
}

/* sed-like damage to line L of path: what the spec says. */
static int
pspec_damage(const struct pspec *sp, const char *path)
{
	char cmd[512];
	int n = 0;

	if (sp->flip_sig > 0)
		n = snprintf(cmd, sizeof(cmd),
		    "sed -i '%lds/\"ts\":1/\"ts\":2/' %s", sp->flip_sig, path);
	else if (sp->flip_prev > 0)
		n = snprintf(cmd, sizeof(cmd),
		    "sed -i '%lds/\"prev\":\"./\"prev\":\"g/' %s",
		    sp->flip_prev, path);
	else if (sp->drop > 0)
		n = snprintf(cmd, sizeof(cmd), "sed -i '%ldd' %s", sp->drop,
		    path);
	else if (sp->torn)
		n = snprintf(cmd, sizeof(cmd), "truncate -s -40 %s", path);
	else
		return 0;
	if (n < 0 || (size_t)n >= sizeof(cmd))
		return -1;
	return system(cmd) == 0 ? 0 : -1;
}

static int
write_plog(struct world *w, const struct pspec *sp, const char *path,
    const char *mode, long first, long last, struct plog *l)
{
	struct envelope_action_payload act;
	struct envelope aenv = { 0 };
	long L;
	int r = 0;

	memset(&act, 0, sizeof(act));
	memcpy(act.host_id, HOST, sizeof(HOST));
	memcpy(act.container_id, CID, sizeof(CID));
	act.action = ENVELOPE_ACTION_RESTART;
	(void)snprintf(act.requested_by, sizeof(act.requested_by), "alice");
	(void)snprintf(act.reason, sizeof(act.reason), "deploy");
	l->f = fopen(path, mode);
	if (l->f == NULL)
		return -1;
	for (L = first; L <= last && r == 0; L++)
		r = pspec_line(w, sp, l, L, &act, &aenv);
	if (fclose(l->f) != 0)
		r = -1;
	envelope_free(&aenv);
	return r;
}

/* The findings handed to on_request, in order, as one digest. */
struct fsink {
	crypto_hash_sha256_state h;
	uint64_t n;
};

static void
on_finding(const struct audit_request_finding *f, void *arg)
{
	struct fsink *s = arg;

	crypto_hash_sha256_update(&s->h, (const uint8_t *)f, sizeof(*f));
	s->n++;
}

/* One verification's whole outcome. */
struct outcome_all {
	int r;
	struct audit_verify_report rep;
	struct audit_verify_file_info info[4];
	struct err_msg msg;
	uint8_t findings[crypto_hash_sha256_BYTES];
	uint64_t nfindings;
};

static void
verify_jobs(struct world *w, const char *const *paths, size_t n,
    const struct audit_head *head, unsigned jobs, struct outcome_all *out)
{
	struct audit_verify_opts o = { .audit_key = &w->audit.pub,
		.action_keys = &w->action_pub,
		.agent_keys_dir = w->agents,
		.on_request = on_finding };
	struct fsink sink;

	memset(out, 0, sizeof(*out));
	crypto_hash_sha256_init(&sink.h);
	sink.n = 0;
	o.on_request_arg = &sink;
	o.jobs = jobs;
	if (head != NULL) {
		o.has_expect_head = true;
		o.expect_head = *head;
	}
	out->r = audit_verify_files(paths, n, &o, out->info, &out->rep,
	    &out->msg);
	crypto_hash_sha256_final(&sink.h, out->findings);
	out->nfindings = sink.n;
}

/* Every field of two outcomes, named when they differ. */
static void
check_same(const char *name, unsigned jobs, const struct outcome_all *a,
    const struct outcome_all *b, size_t nfiles)
{
	const struct audit_verify_report *x = &a->rep, *y = &b->rep;
	size_t k;

	CHECKF(a->r == b->r, "%s, jobs %u: code %d, one thread %d", name, jobs,
	    b->r, a->r);
	CHECKF(strcmp(a->msg.text, b->msg.text) == 0,
	    "%s, jobs %u: \"%s\", one thread \"%s\"", name, jobs, b->msg.text,
	    a->msg.text);
	CHECKF(x->records == y->records && x->bad_line == y->bad_line &&
	        x->bad_file == y->bad_file && x->head.empty == y->head.empty &&
	        x->head.seq == y->head.seq &&
	        strcmp(x->head.hash, y->head.hash) == 0 &&
	        x->actions_checked == y->actions_checked &&
	        x->actions_unchecked == y->actions_unchecked &&
	        x->results_checked == y->results_checked &&
	        x->results_unchecked == y->results_unchecked &&
	        x->results_tied == y->results_tied &&
	        x->results_untied == y->results_untied &&
	        x->outcomes_checked == y->outcomes_checked &&
	        x->outcomes_unchecked == y->outcomes_unchecked &&
	        x->requests_verified == y->requests_verified &&
	        x->requests_server_asserted == y->requests_server_asserted &&
	        x->requests_unverified == y->requests_unverified &&
	        x->requests_failed == y->requests_failed &&
	        x->requests_unchecked == y->requests_unchecked &&
	        x->torn_tails == y->torn_tails &&
	        x->rotations == y->rotations && x->continues == y->continues &&
	        strcmp(x->continues_from.previous,
	            y->continues_from.previous) == 0,
	    "%s, jobs %u: the reports differ (records %llu / %llu, bad "
	    "line %llu / %llu, requests %llu / %llu)",
	    name, jobs, (unsigned long long)y->records,
	    (unsigned long long)x->records, (unsigned long long)y->bad_line,
	    (unsigned long long)x->bad_line,
	    (unsigned long long)y->requests_server_asserted,
	    (unsigned long long)x->requests_server_asserted);
	CHECKF(a->nfindings == b->nfindings &&
	        memcmp(a->findings, b->findings, sizeof(a->findings)) == 0,
	    "%s, jobs %u: %llu findings, one thread %llu (or in another "
	    "order)",
	    name, jobs, (unsigned long long)b->nfindings,
	    (unsigned long long)a->nfindings);
	for (k = 0; k < nfiles; k++)
		CHECKF(a->info[k].records == b->info[k].records &&
		        a->info[k].first_seq == b->info[k].first_seq &&
		        a->info[k].last_seq == b->info[k].last_seq &&
		        a->info[k].linked == b->info[k].linked,
		    "%s, jobs %u: file %zu reported otherwise", name, jobs, k);
}

/*
 * Verifies with 2 or 3 jobs (in turn, from one call to the next) and
 * compares with one thread (jobs 0).
 */
static void
compare_jobs(struct world *w, const char *name, const char *const *paths,
    size_t n, const struct audit_head *head, long want_line, const char *why)
{
	static unsigned turn;
	struct outcome_all one, many;
	unsigned jobs = 2 + turn++ % 2;

	verify_jobs(w, paths, n, head, 0, &one);
	if (want_line == 0)
		CHECKF(one.r == 0, "%s: verifies: %s", name, one.msg.text);
	else if (want_line < 0)
		CHECKF(one.r != 0 && one.rep.bad_line == 0,
		    "%s: refused, no line named: %s", name, one.msg.text);
	else
		CHECKF(one.r != 0 && one.rep.bad_line == (uint64_t)want_line,
		    "%s: bad line %llu, wanted %ld: %s", name,
		    (unsigned long long)one.rep.bad_line, want_line,
		    one.msg.text);
	if (why != NULL)
		CHECK_CONTAINS(one.msg.text, why);
	verify_jobs(w, paths, n, head, jobs, &many);
	check_same(name, jobs, &one, &many, n);
}

static const struct pspec pspecs[] = {
	{ .name = "good" },
	{ .name = "sig at line 1", .flip_sig = 1, .want_line = 1 },
	{ .name = "sig at line 511", .flip_sig = 511, .want_line = 511 },
	{ .name = "sig at line 512", .flip_sig = 512, .want_line = 512 },
	{ .name = "sig at line 513", .flip_sig = 513, .want_line = 513 },
	{ .name = "sig at line 1024", .flip_sig = 1024, .want_line = 1024 },
	{ .name = "sig at line 1025", .flip_sig = 1025, .want_line = 1025 },
	{ .name = "sig at the last line",
	    .flip_sig = PLINES,
	    .want_line = PLINES },
	{ .name = "prev at line 512", .flip_prev = 512, .want_line = 512 },
	{ .name = "prev at line 513", .flip_prev = 513, .want_line = 513 },
	{ .name = "line 512 deleted", .drop = 512, .want_line = 512 },
	{ .name = "line 1025 deleted", .drop = 1025, .want_line = 1025 },
	{ .name = "torn tail", .torn = true, .want_line = PLINES },
	{ .name = "action at line 511", .bad_action = 511, .want_line = 511 },
	{ .name = "result at line 512", .bad_result = 512, .want_line = 512 },
	{ .name = "record at line 1024",
	    .bad_record = 1024,
	    .want_line = 1024,
	    .why = "data.status is \"FAILURE\", the signed result's is "
	           "\"SUCCESS\"" },
	{ .name = "second request at line 513",
	    .dup_request = 513,
	    .want_line = 513,
	    .why = "a second action.requested for action_id " },
	{ .name = "second request, its first at seq 510",
	    .dup_request = 513,
	    .want_line = 513,
	    .why = "(the first at seq 510)" },
	{ .name = "outcome at line 700", .bad_outcome = 700, .want_line = 700 },
	/* A failure in order before one a worker found first. */
	{ .name = "second request before a bad action",
	    .dup_request = 601,
	    .bad_action = 604,
	    .want_line = 601 },
	{ .name = "deleted line before a bad sig",
	    .drop = 900,
	    .bad_result = 905,
	    .want_line = 900 },
	{ .name = "bad sig in one batch, bad result in the one before",
	    .flip_sig = 1030,
	    .bad_result = 1010,
	    .want_line = 1010 },
	{ .name = "expected head found", .head_seq = PLINES - 1 },
	{ .name = "expected head differs",
	    .head_seq = 700,
	    .head_wrong = true,
	    .want_line = 701 },
	{ .name = "expected head past the end",
	    .head_seq = PLINES + 5,
	    .head_wrong = true,
	    .want_line = -1 },
};

static void
test_parallel(struct world *w)
{
	struct plog l;
	char path[160];
	const char *paths[1] = { path };
	struct outcome_all one;
	struct audit_head head;
	size_t i;

	for (i = 0; i < sizeof(pspecs) / sizeof(pspecs[0]); i++) {
		const struct pspec *sp = &pspecs[i];

		memset(&l, 0, sizeof(l));
		l.key = &w->audit;
		l.ts = 1700000000000;
		memset(l.prev, '0', AUDIT_HASH_HEX);
		(void)snprintf(path, sizeof(path), "%s/par-%zu.log", w->dir, i);
		CHECKF(write_plog(w, sp, path, "w", 1, PLINES, &l) == 0 &&
		        pspec_damage(sp, path) == 0,
		    "%s: written", sp->name);
		memset(&head, 0, sizeof(head));
		if (sp->head_seq > 0 && !sp->head_wrong) {
			/* The log's real head. */
			verify_jobs(w, paths, 1, NULL, 0, &one);
			CHECK(one.r == 0);
			head = one.rep.head;
		} else if (sp->head_seq > 0) {
			head.seq = (uint64_t)sp->head_seq;
			memset(head.hash, 'e', AUDIT_HASH_HEX);
		}
		compare_jobs(w, sp->name, paths, 1,
		    sp->head_seq > 0 ? &head : NULL, sp->want_line, sp->why);
	}
}

/*
 * A rotated log: FIRST holds lines 1..700, the current file an
 * audit.rotated record linking to it, then lines 702..1100; verified in
 * order, out of order, with the first file cut short, alone, with an
 * empty or missing file, and damaged in either file.
 */
static void
test_parallel_rotated(struct world *w)
{
	static const struct pspec good = { .name = "rotated" };
	static const struct pspec sig600 = { .name = "rotated, bad sig",
		.flip_sig = 600 };
	static const struct pspec sig300 = { .name = "rotated, bad sig",
		.flip_sig = 300 };
	char cur[160], first[200], cut[200], empty[160], missing[160];
	char q[400], cmd[600];
	const char *paths[3];
	struct plog l;
	struct outcome_all one;
	FILE *f;

	(void)snprintf(cur, sizeof(cur), "%s/rot.log", w->dir);
	CHECK(audit_rotated_name(cur, 0, 699, first, sizeof(first)) == 0);
	memset(&l, 0, sizeof(l));
	l.key = &w->audit;
	l.ts = 1700000000000;
	memset(l.prev, '0', AUDIT_HASH_HEX);
	CHECK(write_plog(w, &good, first, "w", 1, 700, &l) == 0);
	(void)snprintf(q, sizeof(q),
	    "{\"previous\":\"rot.log.0000000000000000-0000000000000699\","
	    "\"previous_head\":\"699:%s\",\"reason\":\"size\"}",
	    l.prev);
	l.f = fopen(cur, "w");
	CHECK(l.f != NULL && plog_put(&l, AUDIT_EVENT_ROTATED, q) == 0 &&
	    fclose(l.f) == 0);
	CHECK(write_plog(w, &good, cur, "a", 702, PLINES, &l) == 0);

	paths[0] = first;
	paths[1] = cur;
	compare_jobs(w, "rotated, in order", paths, 2, NULL, 0, NULL);
	verify_jobs(w, paths, 2, NULL, 2, &one);
	CHECK(one.r == 0 && one.rep.rotations == 1 && one.info[1].linked &&
	    one.info[0].records == 700 && one.info[1].first_seq == 700);
	paths[0] = cur;
	paths[1] = first;
	compare_jobs(w, "rotated, out of order", paths, 2, NULL, 1, NULL);
	paths[0] = cur;
	compare_jobs(w, "rotated, the later file alone", paths, 1, NULL, 0,
	    NULL);
	verify_jobs(w, paths, 1, NULL, 3, &one);
	CHECK(one.r == 0 && one.rep.continues);

	/* The first file without its last line: the link is broken. */
	(void)snprintf(cut, sizeof(cut), "%s/rot.log.cut", w->dir);
	(void)snprintf(cmd, sizeof(cmd), "head -n 699 %s >%s", first, cut);
	CHECK(system(cmd) == 0);
	paths[0] = cut;
	paths[1] = cur;
	compare_jobs(w, "rotated, link broken", paths, 2, NULL, 1, NULL);

	(void)snprintf(empty, sizeof(empty), "%s/rot.empty", w->dir);
	f = fopen(empty, "w");
	CHECK(f != NULL && fclose(f) == 0);
	paths[0] = first;
	paths[1] = empty;
	paths[2] = cur;
	compare_jobs(w, "rotated, an empty file between", paths, 3, NULL, -1,
	    NULL);
	(void)snprintf(missing, sizeof(missing), "%s/rot.missing", w->dir);
	paths[1] = cur;
	paths[2] = missing;
	compare_jobs(w, "rotated, a missing file after", paths, 3, NULL, -1,
	    NULL);

	/* Damage in the first file, then in the second. */
	(void)snprintf(cmd, sizeof(cmd), "cp %s %s", first, cut);
	CHECK(system(cmd) == 0 && pspec_damage(&sig600, cut) == 0);
	paths[0] = cut;
	paths[1] = cur;
	compare_jobs(w, "rotated, bad sig in the first file", paths, 2, NULL,
	    600, NULL);
	(void)snprintf(cmd, sizeof(cmd), "cp %s %s.2", cur, cur);
	CHECK(system(cmd) == 0);
	(void)snprintf(cmd, sizeof(cmd), "%s.2", cur);
	CHECK(pspec_damage(&sig300, cmd) == 0);
	paths[0] = first;
	paths[1] = cmd;
	compare_jobs(w, "rotated, bad sig in the second file", paths, 2, NULL,
	    300, NULL);
	verify_jobs(w, paths, 2, NULL, 2, &one);
	CHECK(one.rep.bad_file == 1);
}

/* Verifies path; 0 or the code, the error in msg. */
static int
verify_with(const char *path, const struct keys_public *key,
    const struct keys_public *more, size_t nmore, const char *agents,
    unsigned jobs, struct err_msg *msg)
{
	struct audit_verify_opts o = { .audit_key = key,
		.more_keys = more,
		.n_more_keys = nmore,
		.agent_keys_dir = agents,
		.jobs = jobs };
	struct audit_verify_report rep;

	err_clear(msg);
	return audit_verify_file(path, &o, &rep, msg);
}

/* Appends event with data {"host_id","result_key_id":id} (id NULL: none). */
static int
append_started(struct audit_writer *aw, const char *event, const char *id)
{
	cJSON *d = cJSON_CreateObject();

	if (d == NULL || cJSON_AddStringToObject(d, "host_id", HOST) == NULL ||
	    (id != NULL &&
	        cJSON_AddStringToObject(d, "result_key_id", id) == NULL)) {
		cJSON_Delete(d);
		return -1;
	}
	return append(aw, event, d);
}

/*
 * A rotated result key (common/keyset.h): embedded results checked under
 * the key of their result_key_id, else the current then the retired
 * keys; an agent's log that changes key at its agent.started.
 */
static void
test_key_rotation(struct world *w)
{
	struct row row;
	struct keys_secret nk;
	struct keys_pubset prev;
	struct keys_public both[2];
	struct audit_writer *aw = NULL;
	struct err_msg msg;
	char rot[160], retired[200], path[200], alog[200], cmd[512];
	unsigned jobs;

	CHECK(keys_generate(&nk) == 0);
	(void)snprintf(rot, sizeof(rot), "%s/agents-rot", w->dir);
	(void)snprintf(retired, sizeof(retired), "%s/retired", rot);
	CHECK(mkdir(rot, 0755) == 0 && mkdir(retired, 0755) == 0);
	CHECK(keys_write_pair(rot, HOST, &nk, &msg) == 0);
	(void)snprintf(cmd, sizeof(cmd),
	    "cp %s/%s.pub %s/%s.20260101T000000Z.pub", w->agents, HOST, retired,
	    HOST);
	CHECK(system(cmd) == 0);
	(void)snprintf(path, sizeof(path), "%s/rot.log", w->dir);

	/* No result_key_id (an older log): the current, then the retired. */
	memset(&row, 0, sizeof(row));
	CHECK(write_log(w, &row, path) == 0);
	CHECKF(verify_with(path, &w->audit.pub, NULL, 0, rot, 0, &msg) == 0,
	    "%s", msg.text);
	/* By result_key_id: the retired key that signed it. */
	(void)unlink(path);
	row.key_id = w->agent.pub.id;
	CHECK(write_log(w, &row, path) == 0);
	CHECKF(verify_with(path, &w->audit.pub, NULL, 0, rot, 0, &msg) == 0,
	    "%s", msg.text);
	/* ... and the same log with the old layout (the key current). */
	CHECKF(verify_with(path, &w->audit.pub, NULL, 0, w->agents, 0, &msg) ==
	        0,
	    "%s", msg.text);
	/* A result_key_id of a key of the host that did not sign it. */
	(void)unlink(path);
	row.key_id = nk.pub.id;
	CHECK(write_log(w, &row, path) == 0);
	CHECK(verify_with(path, &w->audit.pub, NULL, 0, rot, 0, &msg) ==
	    SIGNET_ERR_BAD_SIGNATURE);
	CHECK_CONTAINS(msg.text, "embedded result from host " HOST);
	/* An id that is none of the host's keys: named. */
	(void)unlink(path);
	row.key_id = "0123456789abcdef";
	CHECK(write_log(w, &row, path) == 0);
	CHECK(verify_with(path, &w->audit.pub, NULL, 0, rot, 0, &msg) ==
	    SIGNET_ERR_UNKNOWN_KEY);
	CHECK_CONTAINS(msg.text, "result_key_id 0123456789abcdef is none");
	/* Not an id. */
	(void)unlink(path);
	row.key_id = "0123456789ABCDEF";
	CHECK(write_log(w, &row, path) == 0);
	CHECK(verify_with(path, &w->audit.pub, NULL, 0, rot, 0, &msg) ==
	    SIGNET_ERR_FORMAT);
	CHECK_CONTAINS(msg.text, "result_key_id");
	/* The retired key removed: the id is named. */
	(void)unlink(path);
	row.key_id = w->agent.pub.id;
	CHECK(write_log(w, &row, path) == 0);
	(void)snprintf(cmd, sizeof(cmd), "%s/%s.20260101T000000Z.pub", retired,
	    HOST);
	CHECK(unlink(cmd) == 0);
	CHECK(verify_with(path, &w->audit.pub, NULL, 0, rot, 0, &msg) ==
	    SIGNET_ERR_UNKNOWN_KEY);
	CHECK_CONTAINS(msg.text, w->agent.pub.id);
	/* ... and without an id, no key verifies it. */
	(void)unlink(path);
	row.key_id = NULL;
	CHECK(write_log(w, &row, path) == 0);
	CHECK(verify_with(path, &w->audit.pub, NULL, 0, rot, 0, &msg) ==
	    SIGNET_ERR_BAD_SIGNATURE);

	/*
	 * An agent's log: two records under the old key, then, after the
	 * rotation, agent.started naming the new key and one more.
	 */
	(void)snprintf(alog, sizeof(alog), "%s/agent-rot.log", w->dir);
	CHECK(audit_open(alog, &w->agent, &aw, &msg) == 0);
	CHECK(append_started(aw, "agent.started", w->agent.pub.id) == 0);
	CHECK(append_started(aw, "agent.stopped", NULL) == 0);
	audit_close(aw);
	aw = NULL;
	/* The new key alone does not go on with the old key's log. */
	CHECK(audit_open(alog, &nk, &aw, &msg) == SIGNET_ERR_BAD_SIGNATURE);
	CHECK_CONTAINS(msg.text, "not signed by this writer's key");
	memset(&prev, 0, sizeof(prev));
	prev.count = 1;
	prev.keys[0] = w->agent.pub;
	CHECKF(audit_open_keys(alog, &nk, &prev, NULL, &aw, &msg) == 0, "%s",
	    msg.text);
	CHECK(append_started(aw, "agent.started", nk.pub.id) == 0);
	CHECK(append_started(aw, "agent.stopped", NULL) == 0);
	audit_close(aw);
	aw = NULL;
	both[0] = nk.pub;
	both[1] = w->agent.pub;
	for (jobs = 0; jobs <= 4; jobs += 4) {
		CHECKF(verify_with(alog, &both[0], &both[1], 1, NULL, jobs,
		           &msg) == 0,
		    "jobs %u: %s", jobs, msg.text);
		CHECKF(verify_with(alog, &both[1], &both[0], 1, NULL, jobs,
		           &msg) == 0,
		    "jobs %u: %s", jobs, msg.text);
		/* One key alone: the agent.started of the other is named. */
		CHECK(verify_with(alog, &both[0], NULL, 0, NULL, jobs, &msg) ==
		    SIGNET_ERR_UNKNOWN_KEY);
		CHECK_CONTAINS(msg.text, w->agent.pub.id);
		CHECK_CONTAINS(msg.text, "agent-rot.log:1:");
		CHECK(verify_with(alog, &both[1], NULL, 0, NULL, jobs, &msg) ==
		    SIGNET_ERR_UNKNOWN_KEY);
		CHECK_CONTAINS(msg.text, nk.pub.id);
		CHECK_CONTAINS(msg.text, "agent-rot.log:3:");
	}
	/*
	 * A record under the old key after the change (a thief of the
	 * retired key appending): refused, though it verifies.
	 */
	CHECK(audit_open_keys(alog, &w->agent, &prev, NULL, &aw, &msg) ==
	    SIGNET_ERR_BAD_SIGNATURE);
	prev.keys[0] = nk.pub;
	CHECKF(audit_open_keys(alog, &w->agent, &prev, NULL, &aw, &msg) == 0,
	    "%s", msg.text);
	CHECK(append_started(aw, "agent.stopped", NULL) == 0);
	audit_close(aw);
	aw = NULL;
	for (jobs = 0; jobs <= 4; jobs += 4) {
		CHECK(verify_with(alog, &both[0], &both[1], 1, NULL, jobs,
		          &msg) == SIGNET_ERR_CHAIN);
		CHECK_CONTAINS(msg.text, "agent-rot.log:5:");
		CHECK_CONTAINS(msg.text, "but the log's key is");
		CHECK_CONTAINS(msg.text, nk.pub.id);
	}
	keys_secret_wipe(&nk);
}

int
main(void)
{
	struct world w;
	char cmd[128];

	if (sodium_init() < 0 || world_init(&w) != 0)
		return 1;
	test_rows(&w);
	test_unchecked(&w);
	test_outcomes(&w);
	test_parallel(&w);
	test_parallel_rotated(&w);
	test_key_rotation(&w);
	(void)snprintf(cmd, sizeof(cmd), "rm -rf %s", w.dir);
	CHECK(system(cmd) == 0);
	keys_secret_wipe(&w.audit);
	keys_secret_wipe(&w.action);
	keys_secret_wipe(&w.agent);
	return test_finish("test_audit_verify");
}
