/* SPDX-License-Identifier: ISC */
/*
 * The offline verifier checks the operators' requests a log records:
 * logs written with the real audit writer, holding real signed actions
 * that relay real operator requests and approvals, checked against real
 * signed roster files. Each row is one action as an honest writer, or a
 * writer that holds its audit key and lies, would record it: the chain
 * and signatures hold, and the verdict must say whether the requester and
 * approvers verify against the roster in force at the record's time, or
 * name why not. Bad roster files are refused naming the file.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "audit.h"
#include "audit_request.h"
#include "clock.h"
#include "envelope.h"
#include "fileio.h"
#include "keys.h"
#include "request.h"
#include "roster.h"
#include "testlib.h"
#include "text.h"

#define HOST "web-01"
#define CID "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define AID "0123456789abcdef0123456789abcdef"
#define HOUR (3600LL * 1000)

enum op { OP_ALICE, OP_BOB, OP_CAROL, OP_MALLORY, OP_N };
static const char *const op_names[OP_N] = { "alice", "bob", "carol",
	"mallory" };

struct world {
	char dir[64];
	char roster1[128], roster2[128], roster_other[128], roster1b[128];
	char roster_missing[128], roster3[128];
	int64_t now;
	struct keys_secret audit, action, rk, other_rk, ops[OP_N];
	struct keys_pubset action_pub, roster_pub;
	struct audit_request_rosters *rs;
};

/* How one row's action and record look. */
struct row {
	const char *name;
	const char *event; /* NULL: action.requested */
	bool no_request;
	enum op signer;
	bool bad_sig;       /* signed by mallory, under signer's key id */
	int64_t req_roster; /* the request's roster_version (0: 2) */
	const char *claim;  /* data.requester; NULL: absent */
	bool claim_key;     /* data.requester_key_id: the signer's */
	enum op claim_key_of;
	int64_t rec_roster; /* data.roster_version; 0: absent */
	size_t napp;
	enum op app[3];
	bool claim_approvals; /* data.approvals */
	bool app_counted[3];  /* ... and what it says of each */
	bool other_reason;    /* the action's reason is not the request's */
	enum audit_request_verdict want;
	int64_t want_roster;
	const char *why; /* a substring of the finding's why */
	bool want_counted[3];
};

static const struct row rows[] = {
	{ .name = "server: verified, bob approves",
	    .signer = OP_ALICE,
	    .claim = "verified",
	    .claim_key = true,
	    .napp = 1,
	    .app = { OP_BOB },
	    .want = AUDIT_REQUEST_VERIFIED,
	    .want_roster = 2,
	    .want_counted = { true } },
	{ .name = "agent: verified under its roster, approvals counted",
	    .event = "action.received",
	    .signer = OP_ALICE,
	    .req_roster = 1,
	    .claim = "verified",
	    .claim_key = true,
	    .rec_roster = 1,
	    .napp = 2,
	    .app = { OP_BOB, OP_CAROL },
	    .claim_approvals = true,
	    .app_counted = { true, true },
	    .want = AUDIT_REQUEST_VERIFIED,
	    .want_roster = 1,
	    .want_counted = { true, true } },
	{ .name = "bad operator signature recorded as verified",
	    .signer = OP_ALICE,
	    .bad_sig = true,
	    .claim = "verified",
	    .claim_key = true,
	    .want = AUDIT_REQUEST_FAILED,
	    .want_roster = 2,
	    .why = "the record says verified, but bad operator signature: " },
	{ .name = "bad operator signature, agent record",
	    .event = "policy.denied",
	    .signer = OP_ALICE,
	    .bad_sig = true,
	    .claim = "verified",
	    .rec_roster = 2,
	    .want = AUDIT_REQUEST_FAILED,
	    .why = "signature does not verify under operator alice's key" },
	{ .name = "approval by the requester, not counted",
	    .event = "action.received",
	    .signer = OP_ALICE,
	    .claim = "verified",
	    .rec_roster = 2,
	    .napp = 2,
	    .app = { OP_ALICE, OP_BOB },
	    .claim_approvals = true,
	    .app_counted = { false, true },
	    .want = AUDIT_REQUEST_VERIFIED,
	    .want_roster = 2,
	    .want_counted = { false, true } },
	{ .name = "approval by the requester, recorded as counted",
	    .event = "action.received",
	    .signer = OP_ALICE,
	    .claim = "verified",
	    .rec_roster = 2,
	    .napp = 1,
	    .app = { OP_ALICE },
	    .claim_approvals = true,
	    .app_counted = { true },
	    .want = AUDIT_REQUEST_FAILED,
	    .why = "the requester cannot approve" },
	{ .name = "approval recorded for a key the action lacks",
	    .event = "action.received",
	    .signer = OP_ALICE,
	    .claim = "verified",
	    .rec_roster = 2,
	    .napp = 0,
	    .claim_approvals = true,
	    .app = { OP_BOB },
	    .app_counted = { true },
	    .want = AUDIT_REQUEST_FAILED,
	    .why = "is not among the 0 approvals the action carries" },
	{ .name = "roster version missing",
	    .event = "action.received",
	    .signer = OP_ALICE,
	    .claim = "verified",
	    .rec_roster = 3,
	    .want = AUDIT_REQUEST_FAILED,
	    .why = "roster version 3, which is not among the --roster files" },
	{ .name = "request under a roster newer than any given",
	    .signer = OP_ALICE,
	    .req_roster = 3,
	    .claim = "verified",
	    .want = AUDIT_REQUEST_FAILED,
	    .why = "no roster of version 3 or newer" },
	{ .name = "operator removed in the roster in force",
	    .signer = OP_CAROL,
	    .req_roster = 1,
	    .claim = "verified",
	    .want = AUDIT_REQUEST_FAILED,
	    .want_roster = 2,
	    .why = "is not in roster version 2" },
	{ .name = "server-asserted",
	    .no_request = true,
	    .claim = "server-asserted",
	    .want = AUDIT_REQUEST_SERVER_ASSERTED },
	{ .name = "older record: no claim, no request",
	    .no_request = true,
	    .want = AUDIT_REQUEST_SERVER_ASSERTED },
	{ .name = "claims verified without a request",
	    .no_request = true,
	    .claim = "verified",
	    .want = AUDIT_REQUEST_FAILED,
	    .why = "carries no operator request" },
	{ .name = "claims server-asserted with a request",
	    .signer = OP_ALICE,
	    .claim = "server-asserted",
	    .want = AUDIT_REQUEST_FAILED,
	    .why = "but the action carries an operator request" },
	{ .name = "names another requester key",
	    .signer = OP_ALICE,
	    .claim = "verified",
	    .claim_key = true,
	    .claim_key_of = OP_BOB,
	    .want = AUDIT_REQUEST_FAILED,
	    .why = "the record names requester key " },
	{ .name = "relay changed the reason",
	    .signer = OP_ALICE,
	    .claim = "verified",
	    .other_reason = true,
	    .want = AUDIT_REQUEST_FAILED,
	    .why = "the relay changed the request: reason differs" },
	{ .name = "changed reason in a rejection is the host's finding",
	    .event = "action.rejected",
	    .signer = OP_ALICE,
	    .claim = "verified",
	    .rec_roster = 2,
	    .other_reason = true,
	    .want = AUDIT_REQUEST_VERIFIED,
	    .want_roster = 2 },
	{ .name = "host recorded it unverified",
	    .event = "action.rejected",
	    .signer = OP_ALICE,
	    .bad_sig = true,
	    .claim = "unverified",
	    .want = AUDIT_REQUEST_UNVERIFIED,
	    .why = "bad operator signature: " },
	{ .name = "bad claim value",
	    .signer = OP_ALICE,
	    .claim = "trusted",
	    .want = AUDIT_REQUEST_FAILED,
	    .why = "data.requester must be" },
};

/* Writes a roster of version v listing ops[0..n) signed by key. */
static int
write_roster(struct world *w, const char *path, int64_t version,
    int64_t issued_at, const enum op *ops, size_t n,
    const struct keys_secret *key)
{
	struct roster_operator list[OP_N];
	struct roster r;
	struct err_msg msg;
	char *payload = NULL, *file = NULL;
	size_t i;
	int rc = -1;

	memset(&r, 0, sizeof(r));
	memset(list, 0, sizeof(list));
	for (i = 0; i < n; i++) {
		(void)snprintf(list[i].name, sizeof(list[i].name), "%s",
		    op_names[ops[i]]);
		list[i].key = w->ops[ops[i]].pub;
		list[i].ngroups = 1;
		(void)snprintf(list[i].groups[0], sizeof(list[i].groups[0]),
		    "sre");
		list[i].not_after = w->now + 24 * HOUR;
	}
	r.version = version;
	r.issued_at = issued_at;
	r.expires_at = w->now + 24 * HOUR;
	r.nops = n;
	r.ops = list;
	if (roster_encode_payload(&r, &payload) != 0 ||
	    roster_sign((const uint8_t *)payload, strlen(payload), key, NULL, 0,
	        &file, &msg) != 0 ||
	    fileio_write_new(path, file, strlen(file), 0644, &msg) != 0)
		goto out;
	rc = 0;
out:
	free(payload);
	free(file);
	return rc;
}

static int
world_init(struct world *w)
{
	static const enum op v1[] = { OP_ALICE, OP_BOB, OP_CAROL };
	static const enum op v2[] = { OP_ALICE, OP_BOB };
	static const enum op v3[] = { OP_BOB };
	struct err_msg msg;
	const char *paths[2];
	size_t i;

	memset(w, 0, sizeof(*w));
	(void)snprintf(w->dir, sizeof(w->dir), "/tmp/signet-test-ar.XXXXXX");
	if (mkdtemp(w->dir) == NULL)
		return -1;
	w->now = clock_wall_ms();
	if (keys_generate(&w->audit) != 0 || keys_generate(&w->action) != 0 ||
	    keys_generate(&w->rk) != 0 || keys_generate(&w->other_rk) != 0)
		return -1;
	for (i = 0; i < OP_N; i++) {
		if (keys_generate(&w->ops[i]) != 0)
			return -1;
	}
	w->action_pub.count = 1;
	w->action_pub.keys[0] = w->action.pub;
	w->roster_pub.count = 1;
	w->roster_pub.keys[0] = w->rk.pub;
	(void)snprintf(w->roster1, sizeof(w->roster1), "%s/roster-1.json",
	    w->dir);
	(void)snprintf(w->roster2, sizeof(w->roster2), "%s/roster-2.json",
	    w->dir);
	(void)snprintf(w->roster1b, sizeof(w->roster1b), "%s/roster-1b.json",
	    w->dir);
	(void)snprintf(w->roster_other, sizeof(w->roster_other),
	    "%s/roster-other.json", w->dir);
	(void)snprintf(w->roster3, sizeof(w->roster3), "%s/roster-3.json",
	    w->dir);
	(void)snprintf(w->roster_missing, sizeof(w->roster_missing),
	    "%s/no-such-roster.json", w->dir);
	if (write_roster(w, w->roster1, 1, w->now - 2 * HOUR, v1, 3, &w->rk) !=
	        0 ||
	    write_roster(w, w->roster2, 2, w->now - HOUR, v2, 2, &w->rk) != 0 ||
	    write_roster(w, w->roster1b, 1, w->now - 2 * HOUR, v2, 2, &w->rk) !=
	        0 ||
	    write_roster(w, w->roster_other, 3, w->now - HOUR, v2, 2,
	        &w->other_rk) != 0 ||
	    write_roster(w, w->roster3, 3, w->now, v3, 1, &w->rk) != 0)
		return -1;
	paths[0] = w->roster1;
	paths[1] = w->roster2;
	if (audit_request_rosters_load(paths, 2, &w->roster_pub, 1, &w->rs,
	        &msg) != 0) {
		fprintf(stderr, "rosters: %s\n", msg.text);
		return -1;
	}
	return 0;
}

/* The action of row: its request signed, approvals made, all signed. */
static int
make_action(struct world *w, const struct row *row, struct envelope *env)
{
	struct envelope_action_payload act;
	struct request_payload p;
	struct request_signed s;
	uint8_t *raw = NULL;
	size_t raw_len = 0, i;
	int rc = -1;

	memset(&act, 0, sizeof(act));
	memset(&s, 0, sizeof(s));
	memset(&p, 0, sizeof(p));
	memcpy(p.action_id, AID, sizeof(AID));
	memcpy(p.host_id, HOST, sizeof(HOST));
	memcpy(p.container_id, CID, sizeof(CID));
	p.action = ENVELOPE_ACTION_STOP;
	(void)snprintf(p.reason, sizeof(p.reason), "disk full");
	(void)snprintf(p.requested_by, sizeof(p.requested_by), "%s",
	    op_names[row->signer]);
	p.issued_at = w->now - 1000;
	p.expires_at = w->now + 60000;
	p.roster_version = row->req_roster != 0 ? row->req_roster : 2;

	memcpy(act.action_id, p.action_id, sizeof(act.action_id));
	memcpy(act.host_id, p.host_id, sizeof(act.host_id));
	memcpy(act.container_id, p.container_id, sizeof(act.container_id));
	act.action = p.action;
	(void)snprintf(act.reason, sizeof(act.reason), "%s",
	    row->other_reason ? "the relay's reason" : p.reason);
	memcpy(act.requested_by, p.requested_by, sizeof(act.requested_by));
	act.issued_at = w->now;
	act.expires_at = w->now + 30000;
	if (!row->no_request) {
		if (request_sign(&p,
		        &w->ops[row->bad_sig ? OP_MALLORY : row->signer],
		        &s) != 0)
			goto out;
		act.has_request = true;
		(void)snprintf(act.request.payload_b64,
		    sizeof(act.request.payload_b64), "%s", s.payload_b64);
		(void)snprintf(act.request.sig_b64, sizeof(act.request.sig_b64),
		    "%s", s.sig_b64);
		memcpy(act.request.key_id, w->ops[row->signer].pub.id,
		    sizeof(act.request.key_id));
		if (text_b64_decode(s.payload_b64, strlen(s.payload_b64),
		        REQUEST_PAYLOAD_MAX, &raw, &raw_len) != 0)
			goto out;
		for (i = 0; i < row->napp; i++) {
			if (request_approve(raw, raw_len, &w->ops[row->app[i]],
			        &act.approvals[i]) != 0)
				goto out;
		}
		act.napprovals = row->napp;
	}
	if (envelope_action_sign(&act, &w->action, env) != 0)
		goto out;
	rc = 0;
out:
	free(raw);
	request_signed_free(&s);
	return rc;
}

/* The record's data for row, around the signed action env. */
static cJSON *
make_data(struct world *w, const struct row *row, const struct envelope *env)
{
	cJSON *d = cJSON_CreateObject(), *e, *arr;
	enum op key_of = row->claim_key_of != OP_ALICE ? row->claim_key_of :
	                                                 row->signer;
	size_t i;
	bool ok;

	ok = d != NULL && cJSON_AddStringToObject(d, "action_id", AID) &&
	    cJSON_AddStringToObject(d, "host_id", HOST) &&
	    (row->claim == NULL ||
	        cJSON_AddStringToObject(d, "requester", row->claim)) &&
	    (!row->claim_key ||
	        cJSON_AddStringToObject(d, "requester_key_id",
	            w->ops[key_of].pub.id)) &&
	    (row->rec_roster == 0 ||
	        cJSON_AddNumberToObject(d, "roster_version",
	            (double)row->rec_roster)) &&
	    (e = cJSON_AddObjectToObject(d, "action")) != NULL &&
	    cJSON_AddStringToObject(e, "payload", env->payload_b64) &&
	    cJSON_AddStringToObject(e, "sig", env->sig_b64) &&
	    cJSON_AddStringToObject(e, "key_id", env->key_id);
	if (ok && row->claim_approvals) {
		arr = cJSON_AddArrayToObject(d, "approvals");
		ok = arr != NULL;
		for (i = 0; ok && i < 3 && (i < row->napp || i == 0); i++) {
			ok = (e = cJSON_CreateObject()) != NULL &&
			    cJSON_AddItemToArray(arr, e) &&
			    cJSON_AddStringToObject(e, "key_id",
			        w->ops[row->app[i]].pub.id) &&
			    cJSON_AddStringToObject(e, "name",
			        op_names[row->app[i]]) &&
			    cJSON_AddBoolToObject(e, "counted",
			        row->app_counted[i]);
		}
	}
	if (!ok) {
		cJSON_Delete(d);
		return NULL;
	}
	return d;
}

/* Writes the one-record log of row into path. */
static int
write_log(struct world *w, const struct row *row, const char *path)
{
	struct audit_writer *aw = NULL;
	struct envelope env;
	struct err_msg msg;
	cJSON *d = NULL;
	const char *event = row->event != NULL ? row->event :
	                                         "action.requested";
	int rc = -1;

	memset(&env, 0, sizeof(env));
	if (make_action(w, row, &env) != 0)
		goto out;
	d = make_data(w, row, &env);
	if (d == NULL || audit_open(path, &w->audit, &aw, &msg) != 0)
		goto out;
	if (audit_append(aw, event,
	        strcmp(event, "action.requested") == 0 ? "server" : "agent", d,
	        NULL, &msg) != 0) {
		fprintf(stderr, "append: %s\n", msg.text);
		goto out;
	}
	rc = 0;
out:
	cJSON_Delete(d);
	audit_close(aw);
	envelope_free(&env);
	return rc;
}

/* What the verifier reported, for the rows to check. */
struct seen {
	size_t n;
	struct audit_request_finding f;
};

static void
collect(const struct audit_request_finding *f, void *arg)
{
	struct seen *s = arg;

	s->n++;
	s->f = *f;
}

static void
test_rows(struct world *w)
{
	struct audit_verify_opts o = { .audit_key = &w->audit.pub,
		.action_keys = &w->action_pub,
		.rosters = w->rs,
		.on_request = collect };
	struct audit_verify_report rep, rep2;
	struct err_msg msg;
	struct seen seen, seen2;
	char path[160];
	size_t i, k;
	int r;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		const struct row *row = &rows[i];

		(void)snprintf(path, sizeof(path), "%s/audit-%zu.log", w->dir,
		    i);
		CHECKF(write_log(w, row, path) == 0, "%s: log written",
		    row->name);
		memset(&seen, 0, sizeof(seen));
		o.on_request_arg = &seen;
		err_clear(&msg);
		r = audit_verify_file(path, &o, &rep, &msg);
		/* The chain holds either way: a lie is not a broken chain. */
		CHECKF(r == 0, "%s: the chain verifies: %s", row->name,
		    msg.text);
		CHECKF(seen.n == 1, "%s: one finding (%zu)", row->name, seen.n);
		CHECKF(seen.f.verdict == row->want,
		    "%s: verdict %s, want %s: %s", row->name,
		    audit_request_verdict_name(seen.f.verdict),
		    audit_request_verdict_name(row->want), seen.f.why);
		CHECKF(strcmp(seen.f.action_id, AID) == 0, "%s: action_id",
		    row->name);
		CHECKF(rep.requests_failed ==
		        (row->want == AUDIT_REQUEST_FAILED ? 1u : 0u),
		    "%s: failed counted", row->name);
		/* Judged on a worker thread: the very same finding. */
		memset(&seen2, 0, sizeof(seen2));
		o.on_request_arg = &seen2;
		o.jobs = 2;
		r = audit_verify_file(path, &o, &rep2, &msg);
		o.jobs = 0;
		CHECKF(r == 0 && seen2.n == 1 &&
		        memcmp(&seen2.f, &seen.f, sizeof(seen.f)) == 0 &&
		        rep2.requests_failed == rep.requests_failed &&
		        rep2.requests_verified == rep.requests_verified &&
		        rep2.requests_unverified == rep.requests_unverified,
		    "%s: the same finding with 2 jobs", row->name);
		if (row->why != NULL)
			CHECKF(strstr(seen.f.why, row->why) != NULL,
			    "%s: why \"%s\" says \"%s\"", row->name, seen.f.why,
			    row->why);
		if (row->want_roster != 0)
			CHECKF(seen.f.roster_version == row->want_roster,
			    "%s: roster v%lld", row->name,
			    (long long)seen.f.roster_version);
		if (row->want != AUDIT_REQUEST_VERIFIED)
			continue;
		CHECKF(strcmp(seen.f.requester, op_names[row->signer]) == 0,
		    "%s: requester %s", row->name, seen.f.requester);
		CHECKF(strcmp(seen.f.key_id, w->ops[row->signer].pub.id) == 0,
		    "%s: key id", row->name);
		CHECKF(seen.f.napprovals == row->napp, "%s: %zu approvals",
		    row->name, seen.f.napprovals);
		for (k = 0; k < row->napp && k < seen.f.napprovals; k++) {
			CHECKF(seen.f.approvals[k].counted ==
			        row->want_counted[k],
			    "%s: approval %zu counted: %s", row->name, k,
			    seen.f.approvals[k].why);
			CHECKF(strcmp(seen.f.approvals[k].name,
			           op_names[row->app[k]]) == 0,
			    "%s: approval %zu name", row->name, k);
		}
		if (row->app[0] == OP_ALICE && row->napp > 0)
			CHECK_CONTAINS(seen.f.approvals[0].why,
			    "the requester cannot approve");
	}
}

/*
 * Without rosters a request is not checked, a server-asserted action is
 * still judged, and without action keys nothing is.
 */
static void
test_unchecked(struct world *w)
{
	struct audit_verify_opts o = { .audit_key = &w->audit.pub,
		.action_keys = &w->action_pub,
		.on_request = collect };
	struct audit_verify_report rep;
	struct err_msg msg;
	struct seen seen;
	char path[160];

	(void)snprintf(path, sizeof(path), "%s/audit-0.log", w->dir);
	memset(&seen, 0, sizeof(seen));
	o.on_request_arg = &seen;
	CHECK(audit_verify_file(path, &o, &rep, &msg) == 0);
	CHECK(seen.n == 1 && seen.f.verdict == AUDIT_REQUEST_UNCHECKED);
	CHECK(rep.requests_unchecked == 1 && rep.requests_failed == 0);

	(void)snprintf(path, sizeof(path), "%s/audit-12.log", w->dir);
	memset(&seen, 0, sizeof(seen));
	CHECK(audit_verify_file(path, &o, &rep, &msg) == 0);
	CHECK(seen.n == 1 && seen.f.verdict == AUDIT_REQUEST_FAILED);
	CHECK(rep.requests_failed == 1);

	o.action_keys = NULL;
	o.rosters = w->rs;
	memset(&seen, 0, sizeof(seen));
	CHECK(audit_verify_file(path, &o, &rep, &msg) == 0);
	CHECK(seen.n == 0 && rep.requests_failed == 0);
}

/* Roster files refused, each naming the file; nothing is kept. */
static void
test_rosters_load(struct world *w)
{
	struct audit_request_rosters *rs = NULL;
	struct keys_pubset pub = w->roster_pub;
	struct err_msg msg;
	const char *paths[2];
	int r;

	paths[0] = w->roster_other;
	r = audit_request_rosters_load(paths, 1, &w->roster_pub, 1, &rs, &msg);
	CHECK(r == SIGNET_ERR_BAD_SIGNATURE && rs == NULL);
	CHECK_CONTAINS(msg.text, w->roster_other);

	paths[0] = w->roster1;
	paths[1] = w->roster1b;
	r = audit_request_rosters_load(paths, 2, &w->roster_pub, 1, &rs, &msg);
	CHECK(r == SIGNET_ERR_FORMAT && rs == NULL);
	CHECK_CONTAINS(msg.text, "differs from another file of the same");
	CHECK_CONTAINS(msg.text, w->roster1b);

	/* The same file twice is one roster. */
	paths[1] = w->roster1;
	r = audit_request_rosters_load(paths, 2, &w->roster_pub, 1, &rs, &msg);
	CHECK(r == 0 && rs != NULL);
	audit_request_rosters_free(rs);
	rs = NULL;

	paths[0] = w->roster_missing;
	r = audit_request_rosters_load(paths, 1, &w->roster_pub, 1, &rs, &msg);
	CHECK(r == SIGNET_ERR_NOT_FOUND && rs == NULL);
	CHECK_CONTAINS(msg.text, w->roster_missing);

	/* Two signatures wanted, one given. */
	pub.keys[pub.count++] = w->other_rk.pub;
	paths[0] = w->roster1;
	r = audit_request_rosters_load(paths, 1, &pub, 2, &rs, &msg);
	CHECK(r == SIGNET_ERR_BAD_SIGNATURE && rs == NULL);

	r = audit_request_rosters_load(paths, 0, &w->roster_pub, 1, &rs, &msg);
	CHECK(r == SIGNET_ERR_INVALID_ARG && rs == NULL);
	r = audit_request_rosters_load(paths, 1, &w->roster_pub, 0, &rs, &msg);
	CHECK(r == SIGNET_ERR_INVALID_ARG && rs == NULL);
	r = audit_request_rosters_load(paths, 1, NULL, 1, &rs, &msg);
	CHECK(r == SIGNET_ERR_INVALID_ARG && rs == NULL);
	r = audit_request_rosters_load(NULL, 1, &w->roster_pub, 1, &rs, &msg);
	CHECK(r == SIGNET_ERR_INVALID_ARG && rs == NULL);
	audit_request_rosters_free(NULL);
}

/*
 * Which roster judges a server record, at chosen record times: the newest
 * issued by then (a roster signed after the record never displaces it),
 * one issued just after only within the clocks' skew.
 */
static void
test_roster_pick(struct world *w)
{
	static const struct {
		const char *name;
		enum op signer;
		int64_t req_roster;
		int64_t at; /* the record's ts - the time v3 was issued */
		enum audit_request_verdict want;
		int64_t want_roster;
		const char *why;
	} cases[] = {
		{ "before v3: v2 judges", OP_ALICE, 2, -1,
		    AUDIT_REQUEST_VERIFIED, 2, NULL },
		{ "after v3: alice is not in it", OP_ALICE, 2, 1000,
		    AUDIT_REQUEST_FAILED, 3, "is not in roster version 3" },
		{ "v3 issued within the skew after", OP_BOB, 3, -10000,
		    AUDIT_REQUEST_VERIFIED, 3, NULL },
		{ "v3 issued beyond the skew after", OP_BOB, 3, -40000,
		    AUDIT_REQUEST_FAILED, 0,
		    "no roster of version 3 or newer, issued by" },
	};
	struct audit_request_rosters *rs = NULL;
	struct envelope_action_payload act;
	struct audit_request_finding f;
	struct audit_record rec;
	struct envelope env;
	struct err_msg msg;
	const char *paths[3] = { w->roster1, w->roster2, w->roster3 };
	size_t i;

	CHECK(audit_request_rosters_load(paths, 3, &w->roster_pub, 1, &rs,
	          &msg) == 0);
	for (i = 0; rs != NULL && i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct row row = { .signer = cases[i].signer,
			.req_roster = cases[i].req_roster };

		memset(&env, 0, sizeof(env));
		memset(&rec, 0, sizeof(rec));
		CHECK(make_action(w, &row, &env) == 0);
		CHECK(envelope_action_verify(&w->action_pub, env.key_id,
		          env.payload_b64, env.sig_b64, &act, NULL, NULL,
		          &msg) == 0);
		rec.root = cJSON_CreateObject();
		CHECK(rec.root != NULL &&
		    cJSON_AddStringToObject(rec.root, "requester", "verified"));
		rec.data = rec.root;
		rec.ts = w->now + cases[i].at;
		(void)snprintf(rec.event, sizeof(rec.event),
		    "action.requested");
		CHECK(audit_request_check(rs, &rec, &act, &f) == 0);
		CHECKF(f.verdict == cases[i].want, "%s: verdict %s: %s",
		    cases[i].name, audit_request_verdict_name(f.verdict),
		    f.why);
		CHECKF(f.roster_version == cases[i].want_roster,
		    "%s: roster v%lld", cases[i].name,
		    (long long)f.roster_version);
		if (cases[i].why != NULL)
			CHECKF(strstr(f.why, cases[i].why) != NULL,
			    "%s: why \"%s\"", cases[i].name, f.why);
		cJSON_Delete(rec.root);
		envelope_free(&env);
	}
	audit_request_rosters_free(rs);
}

static void
test_bad_args(void)
{
	struct envelope_action_payload act;
	struct audit_request_finding f;
	struct audit_record rec;

	memset(&act, 0, sizeof(act));
	memset(&rec, 0, sizeof(rec));
	CHECK(audit_request_check(NULL, NULL, &act, &f) ==
	    SIGNET_ERR_INVALID_ARG);
	CHECK(audit_request_check(NULL, &rec, NULL, &f) ==
	    SIGNET_ERR_INVALID_ARG);
	CHECK(audit_request_check(NULL, &rec, &act, NULL) ==
	    SIGNET_ERR_INVALID_ARG);
	CHECK(strcmp(audit_request_verdict_name(AUDIT_REQUEST_FAILED),
	          "failed") == 0);
}

int
main(void)
{
	struct world w;
	char cmd[128];
	size_t i;

	if (sodium_init() < 0 || world_init(&w) != 0)
		return 1;
	test_rows(&w);
	test_unchecked(&w);
	test_rosters_load(&w);
	test_roster_pick(&w);
	test_bad_args();
	audit_request_rosters_free(w.rs);
	(void)snprintf(cmd, sizeof(cmd), "rm -rf %s", w.dir);
	CHECK(system(cmd) == 0);
	keys_secret_wipe(&w.audit);
	keys_secret_wipe(&w.action);
	keys_secret_wipe(&w.rk);
	keys_secret_wipe(&w.other_rk);
	for (i = 0; i < OP_N; i++)
		keys_secret_wipe(&w.ops[i]);
	return test_finish("test_audit_request");
}
