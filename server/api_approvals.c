/* SPDX-License-Identifier: ISC */
/*
 * Approvals at the server (docs/operators.md, docs/http-api.md): a signed
 * request that the host's shared policy would deny for want of approvals
 * waits (AWAITING_APPROVAL) instead of being relayed to a certain DENIED;
 * other operators read its exact bytes, approve it with their own
 * signature over those bytes, or refuse it; once the host's policy would
 * allow it, request and approvals are relayed together and the host
 * judges them itself. Each approval is checked here against the roster
 * the server holds (so a bad one is refused at once, with the reason),
 * but only the host's check counts.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <sodium.h>

#include "actions.h"
#include "api_int.h"
#include "clock.h"
#include "jsonx.h"
#include "log.h"
#include "registry.h"
#include "roster_store.h"
#include "text.h"

#define BODY_DEPTH 3
#define EXPIRE_BATCH 64

/* Records event with d (consumed); 0 once durable. */
static int
record(struct api *api, const char *event, cJSON *d, bool ok)
{
	struct err_msg msg;
	int r;

	if (!ok) {
		cJSON_Delete(d);
		return SIGNET_ERR_ALLOC;
	}
	err_clear(&msg);
	r = audit_append(api->ctx->audit, event, SERVER_ACTOR, d, NULL, &msg);
	cJSON_Delete(d);
	if (r != 0)
		log_error("%s not recorded: %s", event, msg.text);
	return r;
}

/* {"action_id","host_id"} to start a record with; NULL: no memory. */
static cJSON *
record_data(const struct approval_entry *e, bool *ok)
{
	cJSON *d = cJSON_CreateObject();

	*ok = d != NULL &&
	    cJSON_AddStringToObject(d, "action_id", e->action_id) != NULL &&
	    cJSON_AddStringToObject(d, "host_id", e->host_id) != NULL;
	return d;
}

/* 202 (waiting) or 200 with the entry, Location set. */
static void
answer_entry(struct api_answer *ans, unsigned status,
    const struct approval_entry *e)
{
	api_answer_json(ans, status, approvals_entry_json(e));
	(void)snprintf(ans->location, sizeof(ans->location), "/api/actions/%s",
	    e->action_id);
}

int
api_approvals_hold(struct api *api, const struct envelope_action_payload *p,
    struct api_answer *ans, struct api_pending *pend)
{
	struct approval_entry *e = NULL;
	struct policy_request q;
	struct policy_decision dec;
	cJSON *d;
	bool ok;
	int r, rc = -1;

	memset(&q, 0, sizeof(q));
	memset(&dec, 0, sizeof(dec));
	e = calloc(1, sizeof(*e));
	if (e == NULL) {
		api_answer_error(ans, 500, "out of memory");
		return -1;
	}
	q.action = p->action;
	q.operator_name = p->requested_by;
	q.reason = p->reason;
	q.operator_signed = true;
	q.request_lifetime_ms = p->expires_at - p->issued_at;
	q.now_ms = policy_now_ms();
	r = registry_judge(api->ctx->registry, p->host_id, p->container_id, &q,
	    &dec, e->terms, POLICY_TERMS_MAX, &e->nterms, &e->wait_ms);
	/* Unknown, allowed, or denied for another reason: the host judges. */
	if (r != 0 || dec.allow || dec.stage != POLICY_STAGE_APPROVALS ||
	    e->nterms == 0) {
		rc = 0;
		goto out;
	}
	memcpy(e->action_id, p->action_id, sizeof(e->action_id));
	memcpy(e->host_id, p->host_id, sizeof(e->host_id));
	memcpy(e->container_id, p->container_id, sizeof(e->container_id));
	e->action = p->action;
	memcpy(e->reason, p->reason, sizeof(e->reason));
	memcpy(e->requested_by, p->requested_by, sizeof(e->requested_by));
	e->issued_at = p->issued_at;
	e->expires_at = p->expires_at;
	e->request = p->request;
	r = approvals_add(api->approvals, e, clock_wall_ms());
	if (r != 0) {
		if (r == SIGNET_ERR_EXISTS)
			api_answer_error(ans, 409,
			    "action %s was requested already: a signed "
			    "request is sent once",
			    e->action_id);
		else
			api_answer_error(ans,
			    r == SIGNET_ERR_UNAVAILABLE ? 503 : 500,
			    "too many requests wait for approvals");
		goto out;
	}
	d = record_data(e, &ok);
	ok = ok &&
	    cJSON_AddStringToObject(d, "container_id", e->container_id) !=
	        NULL &&
	    cJSON_AddStringToObject(d, "action_name",
	        envelope_action_name(e->action)) != NULL &&
	    cJSON_AddStringToObject(d, "reason", e->reason) != NULL &&
	    cJSON_AddStringToObject(d, "requested_by", e->requested_by) !=
	        NULL &&
	    cJSON_AddStringToObject(d, "requester", "verified") != NULL &&
	    cJSON_AddStringToObject(d, "requester_key_id", e->request.key_id) !=
	        NULL &&
	    cJSON_AddNumberToObject(d, "expires_at", (double)e->expires_at) !=
	        NULL &&
	    approvals_put_request(d, e);
	/* Nothing waits unrecorded. */
	if (record(api, "action.awaiting_approval", d, ok) != 0) {
		if (approvals_end(api->approvals, e->action_id,
		        APPROVAL_REFUSED, "the audit log cannot be written",
		        clock_wall_ms()) != 0)
			log_warn("action %s: ended already", e->action_id);
		api_answer_error(ans, 503,
		    "the audit log cannot be written: request refused");
		goto out;
	}
	pend->recorded = true;
	log_info("action %s awaits approvals: host=%s action=%s "
	         "requested_by=%s needs=%zu term(s)",
	    e->action_id, e->host_id, envelope_action_name(e->action),
	    e->requested_by, e->nterms);
	if (approvals_get(api->approvals, e->action_id, e) == 0)
		answer_entry(ans, 202, e);
	else
		api_answer_error(ans, 500, "the request was forgotten");
	rc = 1;
out:
	free(e);
	return rc;
}

/* The body {"approval":{"key_id","sig"}}, strictly. */
static int
parse_approval(const char *body, size_t len, struct request_approval *a,
    struct err_msg *msg)
{
	static const char *const top[] = { "approval", NULL };
	static const char *const members[] = { "key_id", "sig", NULL };
	const cJSON *o = NULL;
	const char *kid = NULL, *sig = NULL;
	cJSON *root = NULL;
	int r;

	memset(a, 0, sizeof(*a));
	r = jsonx_parse_object("request body", body, len, BODY_DEPTH, &root,
	    msg);
	if (r == 0)
		r = jsonx_only_members(root, top, "request body", msg);
	if (r == 0)
		r = jsonx_get_object(root, "approval", "request body", &o, msg);
	if (r == 0)
		r = jsonx_only_members(o, members, "approval", msg);
	if (r == 0)
		r = jsonx_get_string(o, "key_id", false, "approval", &kid, msg);
	if (r == 0)
		r = jsonx_get_string(o, "sig", false, "approval", &sig, msg);
	if (r == 0 && !text_is_hex(kid, KEYS_ID_LEN))
		r = err_set(msg, SIGNET_ERR_FORMAT,
		    "approval.key_id must be %d lowercase hex digits",
		    KEYS_ID_LEN);
	if (r == 0 && (sig[0] == '\0' || strlen(sig) >= sizeof(a->sig_b64)))
		r = err_set(msg, SIGNET_ERR_FORMAT,
		    "approval.sig must be base64 of a signature");
	if (r == 0) {
		memcpy(a->key_id, kid, KEYS_ID_LEN + 1);
		memcpy(a->sig_b64, sig, strlen(sig) + 1);
	}
	cJSON_Delete(root);
	return r;
}

/* The body {"reason":"..."}: 1..512 characters, no control bytes. */
static int
parse_refusal(const char *body, size_t len, char *reason, size_t size,
    struct err_msg *msg)
{
	static const char *const members[] = { "reason", NULL };
	const char *why = NULL;
	cJSON *root = NULL;
	size_t chars;
	int r;

	r = jsonx_parse_object("request body", body, len, BODY_DEPTH, &root,
	    msg);
	if (r == 0)
		r = jsonx_only_members(root, members, "request body", msg);
	if (r == 0)
		r = jsonx_get_string(root, "reason", false, "request body",
		    &why, msg);
	if (r == 0) {
		chars = text_utf8_chars(why);
		if (chars == 0 || chars > ENVELOPE_REASON_CHARS ||
		    strlen(why) >= size || text_has_control(why))
			r = err_set(msg, SIGNET_ERR_FORMAT,
			    "reason must be 1 to %d characters without "
			    "control characters",
			    ENVELOPE_REASON_CHARS);
		else
			memcpy(reason, why, strlen(why) + 1);
	}
	cJSON_Delete(root);
	return r;
}

/* The waiting entry id, or an answer (404 / 409). 0 when it waits. */
static int
awaiting(struct api *api, const char *id, struct approval_entry *e,
    struct api_answer *ans)
{
	struct action_info *a;

	if (approvals_get(api->approvals, id, e) != 0) {
		a = calloc(1, sizeof(*a));
		if (a != NULL && actions_get(api->actions, id, a) == 0)
			api_answer_error(ans, 409,
			    "action %s is not waiting for approvals (it is "
			    "%s)",
			    id, action_status_name(a->status));
		else
			api_answer_error(ans, 404,
			    "no request %s waits for approvals", id);
		free(a);
		return -1;
	}
	if (e->state != APPROVAL_AWAITING) {
		api_answer_error(ans, 409,
		    "request %s no longer waits for approvals: %s%s%s", id,
		    approval_state_name(e->state), e->why[0] ? ": " : "",
		    e->why);
		return -1;
	}
	return 0;
}

/*
 * Whether the host's policy, with the approvals so far (checked against
 * roster r), would let e through: true to relay it now.
 */
static bool
requirement_met(struct api *api, const struct approval_entry *e,
    const struct request_approver *checked, size_t n)
{
	struct policy_approver ap[REQUEST_APPROVALS_MAX];
	const char *groups[REQUEST_APPROVALS_MAX][ROSTER_GROUPS_MAX];
	struct policy_approval_term terms[POLICY_TERMS_MAX];
	struct policy_request q;
	struct policy_decision dec;
	size_t i, g, k = 0, nterms = 0;
	int64_t wait = 0;

	memset(&q, 0, sizeof(q));
	for (i = 0; i < n; i++) {
		if (!checked[i].valid || checked[i].op == NULL)
			continue;
		for (g = 0; g < checked[i].op->ngroups; g++)
			groups[k][g] = checked[i].op->groups[g];
		ap[k].name = checked[i].op->name;
		ap[k].key_id = checked[i].key_id;
		ap[k].groups = groups[k];
		ap[k].ngroups = checked[i].op->ngroups;
		k++;
	}
	q.action = e->action;
	q.operator_name = e->requested_by;
	q.reason = e->reason;
	q.operator_signed = true;
	q.request_lifetime_ms = e->expires_at - e->issued_at;
	q.approvers = ap;
	q.napprovers = k;
	q.now_ms = policy_now_ms();
	if (registry_judge(api->ctx->registry, e->host_id, e->container_id, &q,
	        &dec, terms, POLICY_TERMS_MAX, &nterms, &wait) != 0)
		return true; /* the host stopped sharing: it judges */
	return dec.allow || dec.stage != POLICY_STAGE_APPROVALS;
}

/* Relays e with its approvals (the requirement is met). */
static void
relay_approved(struct api *api, const struct approval_entry *e, int wait_s,
    struct api_answer *ans, struct api_pending *pend)
{
	struct envelope_action_payload *p = calloc(1, sizeof(*p));

	if (p == NULL) {
		api_answer_error(ans, 500, "out of memory");
		return;
	}
	memcpy(p->action_id, e->action_id, sizeof(p->action_id));
	memcpy(p->host_id, e->host_id, sizeof(p->host_id));
	memcpy(p->container_id, e->container_id, sizeof(p->container_id));
	p->action = e->action;
	memcpy(p->reason, e->reason, sizeof(p->reason));
	memcpy(p->requested_by, e->requested_by, sizeof(p->requested_by));
	p->issued_at = e->issued_at;
	p->expires_at = e->expires_at;
	p->has_request = true;
	p->request = e->request;
	p->napprovals = e->napprovals;
	memcpy(p->approvals, e->approvals,
	    e->napprovals * sizeof(e->approvals[0]));
	api_action_relay(api, p, wait_s, ans, pend);
	free(p);
}

static void
approve(struct api *api, const struct api_post *post,
    const struct identity *peer, const char *body, size_t len,
    struct api_answer *ans, struct api_pending *pend)
{
	struct approval_entry *e = calloc(1, sizeof(*e));
	struct request_approval all[REQUEST_APPROVALS_MAX + 1];
	struct request_approver checked[REQUEST_APPROVALS_MAX + 1];
	struct request_verified v;
	struct request_signed s;
	struct roster *roster = NULL;
	struct err_msg msg;
	const struct request_approver *mine;
	cJSON *d, *o;
	size_t n;
	bool ok;
	int r;

	memset(&v, 0, sizeof(v));
	memset(&s, 0, sizeof(s));
	err_clear(&msg);
	if (e == NULL) {
		api_answer_error(ans, 500, "out of memory");
		return;
	}
	/*
	 * Cluster mode: an approval may release the action, which is not
	 * taken while the database does not answer; refused before it is
	 * recorded, so the request keeps waiting and may be approved again.
	 */
	if (api_cluster_refuses(api, ans))
		goto out;
	if (awaiting(api, post->container, e, ans) != 0)
		goto out;
	if (parse_approval(body, len, &all[e->napprovals], &msg) != 0) {
		api_answer_error(ans, 400, "%s", msg.text);
		goto out;
	}
	roster = roster_store_acquire(api->ctx->roster);
	if (roster == NULL) {
		api_answer_error(ans, 503,
		    "this server holds no operator roster: approvals cannot "
		    "be checked");
		goto out;
	}
	s.payload_b64 = e->request.payload_b64;
	s.sig_b64 = e->request.sig_b64;
	memcpy(s.key_id, e->request.key_id, sizeof(s.key_id));
	r = request_verify(roster, &s, clock_wall_ms(), &v, &msg);
	if (r != 0) {
		api_answer_error(ans, 409,
		    "the request no longer verifies against roster version "
		    "%" PRId64 ": %s",
		    roster->version, msg.text);
		goto out;
	}
	memcpy(all, e->approvals, e->napprovals * sizeof(all[0]));
	n = e->napprovals + 1;
	if (n > REQUEST_APPROVALS_MAX) {
		api_answer_error(ans, 409,
		    "request %s has %d approvals "
		    "already",
		    e->action_id, REQUEST_APPROVALS_MAX);
		goto out;
	}
	r = request_check_approvals(roster, &v, all, n, clock_wall_ms(),
	    checked);
	mine = &checked[n - 1];
	if (r < 0 || !mine->valid) {
		api_answer_error(ans, 403, "approval refused: %s",
		    r < 0 ? err_str(r) : mine->why);
		goto out;
	}
	if (strcmp(mine->op->name, peer->name) != 0) {
		api_answer_error(ans, 403,
		    "approval refused: key %s is %s's, but this client is %s: "
		    "operators send their own approvals",
		    mine->key_id, mine->op->name, peer->name);
		goto out;
	}
	d = record_data(e, &ok);
	ok = ok &&
	    cJSON_AddStringToObject(d, "approver", mine->op->name) != NULL &&
	    cJSON_AddStringToObject(d, "approver_key_id", mine->key_id) !=
	        NULL &&
	    (o = cJSON_AddObjectToObject(d, "approval")) != NULL &&
	    cJSON_AddStringToObject(o, "key_id", all[n - 1].key_id) != NULL &&
	    cJSON_AddStringToObject(o, "sig", all[n - 1].sig_b64) != NULL;
	if (record(api, "action.approved", d, ok) != 0) {
		api_answer_error(ans, 503,
		    "the audit log cannot be written: approval not taken");
		goto out;
	}
	pend->recorded = true;
	r = approvals_approve(api->approvals, e->action_id, &all[n - 1],
	    mine->op->name, e);
	if (r != 0) {
		api_answer_error(ans, 409, "approval not taken: %s",
		    r == SIGNET_ERR_EXISTS ? "that key approved already" :
		                             "the request no longer waits");
		goto out;
	}
	log_info("action %s approved by %s (key %s): %zu approval(s)",
	    e->action_id, mine->op->name, mine->key_id, e->napprovals);
	if (!requirement_met(api, e, checked, n)) {
		answer_entry(ans, 200, e);
		goto out;
	}
	/* Exactly one approval relays it, however many race. */
	if (approvals_end(api->approvals, e->action_id, APPROVAL_RELAYED,
	        "relayed with its approvals", clock_wall_ms()) != 0) {
		answer_entry(ans, 200, e);
		goto out;
	}
	relay_approved(api, e, post->wait_s, ans, pend);
out:
	request_verified_free(&v);
	roster_store_release(api->ctx->roster, roster);
	free(e);
}

static void
refuse(struct api *api, const struct api_post *post,
    const struct identity *peer, const char *body, size_t len,
    struct api_answer *ans, struct api_pending *pend)
{
	struct approval_entry *e = calloc(1, sizeof(*e));
	char reason[ENVELOPE_REASON_BYTES + 1], why[APPROVALS_WHY_MAX + 1];
	struct err_msg msg;
	cJSON *d;
	bool ok;

	err_clear(&msg);
	if (e == NULL) {
		api_answer_error(ans, 500, "out of memory");
		return;
	}
	if (awaiting(api, post->container, e, ans) != 0)
		goto out;
	if (parse_refusal(body, len, reason, sizeof(reason), &msg) != 0) {
		api_answer_error(ans, 400, "%s", msg.text);
		goto out;
	}
	d = record_data(e, &ok);
	ok = ok &&
	    cJSON_AddStringToObject(d, "refused_by", peer->name) != NULL &&
	    cJSON_AddStringToObject(d, "reason", reason) != NULL;
	if (record(api, "action.approval_refused", d, ok) != 0) {
		api_answer_error(ans, 503,
		    "the audit log cannot be written: refusal not taken");
		goto out;
	}
	pend->recorded = true;
	(void)snprintf(why, sizeof(why), "refused by %s: %s", peer->name,
	    reason);
	if (approvals_end(api->approvals, e->action_id, APPROVAL_REFUSED, why,
	        clock_wall_ms()) != 0) {
		api_answer_error(ans, 409, "request %s no longer waits",
		    e->action_id);
		goto out;
	}
	log_info("action %s refused by %s", e->action_id, peer->name);
	if (approvals_get(api->approvals, e->action_id, e) == 0)
		answer_entry(ans, 200, e);
	else
		api_answer_error(ans, 500, "the request was forgotten");
out:
	free(e);
}

void
api_approvals_post(struct api *api, const struct api_post *post,
    const struct identity *peer, const char *body, size_t len,
    struct api_answer *ans, struct api_pending *pend)
{
	memset(pend, 0, sizeof(*pend));
	if (api->approvals == NULL || api->actions == NULL) {
		api_answer_error(ans, 503, "this server has no action relay");
		return;
	}
	if (post->kind == API_POST_APPROVE)
		approve(api, post, peer, body, len, ans, pend);
	else
		refuse(api, post, peer, body, len, ans, pend);
}

void
api_approvals_list(struct api *api, struct api_answer *ans)
{
	cJSON *doc;

	if (api->approvals == NULL) {
		api_answer_json(ans, 200, cJSON_Parse("{\"approvals\":[]}"));
		return;
	}
	doc = approvals_list_json(api->approvals);
	if (doc == NULL)
		api_answer_error(ans, 500, "out of memory");
	else
		api_answer_json(ans, 200, doc);
}

int
api_approvals_get(struct api *api, const char *id, struct api_answer *ans)
{
	struct approval_entry *e = calloc(1, sizeof(*e));
	int r = SIGNET_ERR_NOT_FOUND;

	if (e == NULL) {
		api_answer_error(ans, 500, "out of memory");
		return 0;
	}
	if (approvals_get(api->approvals, id, e) == 0) {
		api_answer_json(ans, 200, approvals_entry_json(e));
		r = 0;
	}
	free(e);
	return r;
}

void
api_approvals_expire(struct api *api)
{
	char ids[EXPIRE_BATCH][33];
	struct approval_entry *e;
	size_t i, n;
	cJSON *d;
	bool ok;

	if (api->approvals == NULL)
		return;
	n = approvals_due(api->approvals, clock_wall_ms(), ids, EXPIRE_BATCH);
	if (n == 0)
		return;
	e = calloc(1, sizeof(*e));
	if (e == NULL)
		return;
	for (i = 0; i < n; i++) {
		if (approvals_get(api->approvals, ids[i], e) != 0)
			continue;
		d = record_data(e, &ok);
		ok = ok &&
		    cJSON_AddNumberToObject(d, "expires_at",
		        (double)e->expires_at) != NULL &&
		    cJSON_AddNumberToObject(d, "approvals",
		        (double)e->napprovals) != NULL;
		/* Unrecorded, it stays: the next pass tries again. */
		if (record(api, "action.approval_expired", d, ok) != 0)
			continue;
		if (approvals_end(api->approvals, ids[i], APPROVAL_EXPIRED,
		        "the request expired before enough approvals came",
		        clock_wall_ms()) != 0)
			continue;
		log_info("action %s: the request expired awaiting approvals",
		    ids[i]);
	}
	free(e);
}
