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
#include "outcome.h"
#include "testlib.h"

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
	bool no_request;      /* no action.requested record at all */
	bool action_unknown;  /* data.action_known false */
	const char *rec_aid;  /* record's action_id (NULL: the true one) */
	const char *rec_host; /* record's host_id */
	const char *rec_status;
	const char *rec_cid; /* adds data.container_id */
	const char *res_cid; /* the signed result's container_id */
	enum envelope_action res_action;
	bool res_other_sha; /* request_sha256 of other bytes */
	bool second_result; /* the same result recorded twice */
	const char *why;    /* NULL: verifies */
	const char *why2;   /* a second substring of the error */
	uint64_t untied;    /* results reported untied */
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
		    append(aw, "action.requested", d) != 0)
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
	(void)snprintf(cmd, sizeof(cmd), "rm -rf %s", w.dir);
	CHECK(system(cmd) == 0);
	keys_secret_wipe(&w.audit);
	keys_secret_wipe(&w.action);
	keys_secret_wipe(&w.agent);
	return test_finish("test_audit_verify");
}
