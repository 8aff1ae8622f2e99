/* SPDX-License-Identifier: ISC */
/*
 * The table of requests waiting for approvals (server/approvals.c) and
 * its reload at start from the server's audit log (approvals_reload.c):
 * one end per entry however many race, duplicates refused, expiry found,
 * and a restart that puts back exactly what still waits, with the
 * approvals taken, and nothing the log shows ended.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "approvals.h"
#include "audit.h"
#include "clock.h"
#include "request.h"
#include "testlib.h"

#define NOW 1750000000000LL

static struct keys_secret op_key, audit_key;

/* A waiting entry for request n, signed by op_key. */
static void
make_entry(struct approval_entry *e, unsigned n)
{
	struct request_payload p;
	struct request_signed s;

	memset(e, 0, sizeof(*e));
	memset(&p, 0, sizeof(p));
	memset(&s, 0, sizeof(s));
	(void)snprintf(p.action_id, sizeof(p.action_id), "%032x", n);
	(void)snprintf(p.host_id, sizeof(p.host_id), "db-01");
	memset(p.container_id, 'c', 64);
	p.action = ENVELOPE_ACTION_STOP;
	(void)snprintf(p.reason, sizeof(p.reason), "failover drill %u", n);
	(void)snprintf(p.requested_by, sizeof(p.requested_by), "alice");
	p.issued_at = NOW;
	p.expires_at = NOW + 600000;
	p.roster_version = 1;
	CHECK(request_sign(&p, &op_key, &s) == 0);
	memcpy(e->action_id, p.action_id, sizeof(e->action_id));
	memcpy(e->host_id, p.host_id, sizeof(e->host_id));
	memcpy(e->container_id, p.container_id, sizeof(e->container_id));
	e->action = p.action;
	memcpy(e->reason, p.reason, sizeof(e->reason));
	memcpy(e->requested_by, p.requested_by, sizeof(e->requested_by));
	e->issued_at = p.issued_at;
	e->expires_at = p.expires_at;
	(void)snprintf(e->request.payload_b64, sizeof(e->request.payload_b64),
	    "%s", s.payload_b64);
	(void)snprintf(e->request.sig_b64, sizeof(e->request.sig_b64), "%s",
	    s.sig_b64);
	memcpy(e->request.key_id, s.key_id, sizeof(e->request.key_id));
	e->nterms = 2;
	(void)snprintf(e->terms[0].group, sizeof(e->terms[0].group), "dba");
	e->terms[0].count = 1;
	(void)snprintf(e->terms[1].group, sizeof(e->terms[1].group), "sre");
	e->terms[1].count = 1;
	e->wait_ms = 600000;
	request_signed_free(&s);
}

static void
approval(struct request_approval *a, char c)
{
	memset(a, 0, sizeof(*a));
	memset(a->key_id, c, KEYS_ID_LEN);
	memset(a->sig_b64, 'A', 86);
	a->sig_b64[86] = '=';
	a->sig_b64[87] = '=';
}

static void
test_table(void)
{
	struct approvals *t = approvals_new();
	struct approval_entry *e = calloc(1, sizeof(*e));
	struct approval_entry *got = calloc(1, sizeof(*got));
	struct request_approval a;
	char ids[4][33];
	unsigned i;

	CHECK(t != NULL && e != NULL && got != NULL);
	if (t == NULL || e == NULL || got == NULL)
		goto out;
	make_entry(e, 1);
	CHECK(approvals_add(t, e, NOW) == 0);
	CHECK(approvals_add(t, e, NOW) == SIGNET_ERR_EXISTS);
	CHECK(approvals_get(t, e->action_id, got) == 0 &&
	    got->state == APPROVAL_AWAITING && got->created_at == NOW);
	CHECK(approvals_get(t, "00000000000000000000000000000009", got) ==
	    SIGNET_ERR_NOT_FOUND);
	approval(&a, 'b');
	CHECK(approvals_approve(t, e->action_id, &a, "bob", got) == 0 &&
	    got->napprovals == 1 && strcmp(got->approvers[0], "bob") == 0);
	CHECK(approvals_approve(t, e->action_id, &a, "bob", NULL) ==
	    SIGNET_ERR_EXISTS);
	/* Exactly one end. */
	CHECK(approvals_end(t, e->action_id, APPROVAL_AWAITING, "x", NOW) ==
	    SIGNET_ERR_UNAVAILABLE);
	CHECK(
	    approvals_end(t, e->action_id, APPROVAL_RELAYED, "done", NOW) == 0);
	CHECK(approvals_end(t, e->action_id, APPROVAL_REFUSED, "late", NOW) ==
	    SIGNET_ERR_UNAVAILABLE);
	approval(&a, 'e');
	CHECK(approvals_approve(t, e->action_id, &a, "erin", NULL) ==
	    SIGNET_ERR_UNAVAILABLE);
	/* Ended entries are kept an hour, then forgotten at the next add. */
	make_entry(e, 2);
	CHECK(approvals_add(t, e, NOW + APPROVALS_KEEP_MS + 1) == 0);
	make_entry(e, 1);
	CHECK(approvals_get(t, e->action_id, got) == SIGNET_ERR_NOT_FOUND);
	/* Expiry: due once the request expired beyond the skew. */
	CHECK(approvals_due(t, NOW + 600000, ids, 4) == 0);
	CHECK(
	    approvals_due(t, NOW + 600000 + ENVELOPE_SKEW_MS + 1, ids, 4) == 1);
	/* The full approval list. */
	make_entry(e, 3);
	CHECK(approvals_add(t, e, NOW) == 0);
	for (i = 0; i < REQUEST_APPROVALS_MAX; i++) {
		approval(&a, 'a');
		a.key_id[0] = (char)('0' + (char)(i % 10));
		a.key_id[1] = (char)('a' + (char)(i / 10));
		CHECK(approvals_approve(t, e->action_id, &a, "x", NULL) == 0);
	}
	approval(&a, 'f');
	CHECK(approvals_approve(t, e->action_id, &a, "x", NULL) ==
	    SIGNET_ERR_TOO_LARGE);
out:
	approvals_free(t);
	free(e);
	free(got);
}

/* Appends a record of the server's, as api_approvals.c writes it. */
static void
put(struct audit_writer *w, const char *event, cJSON *d)
{
	struct err_msg m;

	CHECKF(audit_append(w, event, "server", d, NULL, &m) == 0, "%s: %s",
	    event, m.text);
	cJSON_Delete(d);
}

static cJSON *
awaiting_record(const struct approval_entry *e)
{
	cJSON *d = cJSON_CreateObject();

	cJSON_AddStringToObject(d, "action_id", e->action_id);
	cJSON_AddStringToObject(d, "host_id", e->host_id);
	cJSON_AddNumberToObject(d, "expires_at", (double)e->expires_at);
	CHECK(approvals_put_request(d, e));
	return d;
}

static cJSON *
id_record(const char *id)
{
	cJSON *d = cJSON_CreateObject();

	cJSON_AddStringToObject(d, "action_id", id);
	cJSON_AddStringToObject(d, "host_id", "db-01");
	return d;
}

static void
test_reload(void)
{
	char dir[] = "/tmp/signet-test-approvals.XXXXXX", path[96];
	struct audit_writer *w = NULL;
	struct approvals *t = NULL;
	struct approval_entry *e = calloc(1, sizeof(*e));
	struct approval_entry *got = calloc(1, sizeof(*got));
	struct request_approval a;
	struct err_msg m;
	cJSON *d, *o;
	size_t n = 0;
	unsigned i;

	CHECK(mkdtemp(dir) != NULL && e != NULL && got != NULL);
	(void)snprintf(path, sizeof(path), "%s/server-audit.log", dir);
	CHECKF(audit_open(path, &audit_key, &w, &m) == 0, "%s", m.text);
	if (w == NULL || e == NULL || got == NULL)
		goto out;
	/* 1 waits with bob's approval; 2 refused; 3 expired; 4 relayed. */
	for (i = 1; i <= 4; i++) {
		make_entry(e, i);
		put(w, "action.awaiting_approval", awaiting_record(e));
	}
	make_entry(e, 1);
	approval(&a, 'b');
	d = id_record(e->action_id);
	cJSON_AddStringToObject(d, "approver", "bob");
	o = cJSON_AddObjectToObject(d, "approval");
	cJSON_AddStringToObject(o, "key_id", a.key_id);
	cJSON_AddStringToObject(o, "sig", a.sig_b64);
	put(w, "action.approved", d);
	make_entry(e, 2);
	d = id_record(e->action_id);
	cJSON_AddStringToObject(d, "refused_by", "carol");
	put(w, "action.approval_refused", d);
	make_entry(e, 3);
	put(w, "action.approval_expired", id_record(e->action_id));
	make_entry(e, 4);
	put(w, "action.requested", id_record(e->action_id));
	/* A record that does not read back is skipped, not fatal. */
	d = id_record("00000000000000000000000000000005");
	cJSON_AddStringToObject(d, "request", "not an object");
	put(w, "action.awaiting_approval", d);
	audit_close(w);
	w = NULL;

	t = approvals_new();
	CHECK(t != NULL);
	if (t == NULL)
		goto out;
	CHECKF(approvals_reload(t, path, clock_wall_ms(), &n, &m) == 0, "%s",
	    m.text);
	CHECKF(n == 1, "reloaded %zu", n);
	make_entry(e, 1);
	CHECK(approvals_get(t, e->action_id, got) == 0);
	CHECK(got->state == APPROVAL_AWAITING && got->napprovals == 1 &&
	    strcmp(got->approvers[0], "bob") == 0 &&
	    strcmp(got->approvals[0].key_id, a.key_id) == 0);
	CHECK(strcmp(got->reason, e->reason) == 0 &&
	    strcmp(got->request.payload_b64, e->request.payload_b64) == 0 &&
	    got->nterms == 2 && strcmp(got->terms[1].group, "sre") == 0 &&
	    got->expires_at == e->expires_at && got->wait_ms == 600000);
	make_entry(e, 2);
	CHECK(approvals_get(t, e->action_id, got) == 0 &&
	    got->state == APPROVAL_REFUSED && strstr(got->why, "carol"));
	make_entry(e, 3);
	CHECK(approvals_get(t, e->action_id, got) == 0 &&
	    got->state == APPROVAL_EXPIRED);
	make_entry(e, 4);
	CHECK(approvals_get(t, e->action_id, got) == 0 &&
	    got->state == APPROVAL_RELAYED);
	CHECK(approvals_get(t, "00000000000000000000000000000005", got) ==
	    SIGNET_ERR_NOT_FOUND);
	/* No log: nothing to put back. */
	approvals_free(t);
	t = approvals_new();
	(void)snprintf(path, sizeof(path), "%s/none.log", dir);
	CHECK(
	    approvals_reload(t, path, clock_wall_ms(), &n, &m) == 0 && n == 0);
out:
	audit_close(w);
	approvals_free(t);
	free(e);
	free(got);
	(void)snprintf(path, sizeof(path), "rm -rf %s", dir);
	CHECK(system(path) == 0);
}

int
main(void)
{
	if (sodium_init() < 0)
		return 1;
	CHECK(keys_generate(&op_key) == 0);
	CHECK(keys_generate(&audit_key) == 0);
	test_table();
	test_reload();
	keys_secret_wipe(&op_key);
	keys_secret_wipe(&audit_key);
	return test_finish("test_approvals");
}
