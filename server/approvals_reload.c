/* SPDX-License-Identifier: ISC */
/*
 * At start: the requests that were waiting for approvals when the server
 * stopped, put back from its own audit log, with the approvals it had
 * taken, so that a restart loses none of them. A waiting request is
 * rebuilt from its action.awaiting_approval record (its signed request
 * re-parsed), then each later action.approved adds its approval, and an
 * action.approval_refused, action.approval_expired or action.requested of
 * the same id ends it. Everything is checked again when it is used: the
 * request and every approval against the roster at the next approval,
 * and by the host when it is relayed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "approvals.h"
#include "audit.h"
#include "jsonx.h"
#include "log.h"
#include "text.h"

/* A string member of d copied into dst (size), or false. */
static bool
str(const cJSON *d, const char *key, char *dst, size_t size)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(d, key);

	if (!cJSON_IsString(v) || strlen(v->valuestring) >= size)
		return false;
	memcpy(dst, v->valuestring, strlen(v->valuestring) + 1);
	return true;
}

/* The waiting request an action.awaiting_approval record describes. */
static bool
entry_of(const cJSON *d, struct approval_entry *e)
{
	const cJSON *req = cJSON_GetObjectItemCaseSensitive(d, "request");
	const cJSON *needs = cJSON_GetObjectItemCaseSensitive(d, "needs");
	const cJSON *wait = cJSON_GetObjectItemCaseSensitive(d,
	    "approval_wait");
	const cJSON *t;
	struct request_payload *p;
	uint8_t *raw = NULL;
	size_t rawlen = 0;
	bool ok;

	memset(e, 0, sizeof(*e));
	if (!str(req, "payload", e->request.payload_b64,
	        sizeof(e->request.payload_b64)) ||
	    !str(req, "sig", e->request.sig_b64, sizeof(e->request.sig_b64)) ||
	    !str(req, "key_id", e->request.key_id, sizeof(e->request.key_id)) ||
	    !cJSON_IsArray(needs) || !cJSON_IsNumber(wait) ||
	    wait->valuedouble < 0 || wait->valuedouble > 86400)
		return false;
	cJSON_ArrayForEach(t, needs)
	{
		const cJSON *g = cJSON_GetObjectItemCaseSensitive(t, "group");
		const cJSON *c = cJSON_GetObjectItemCaseSensitive(t, "count");

		if (e->nterms == POLICY_TERMS_MAX || !cJSON_IsString(g) ||
		    !text_valid_name(g->valuestring) || !cJSON_IsNumber(c) ||
		    c->valuedouble < 1 || c->valuedouble > 16)
			return false;
		(void)snprintf(e->terms[e->nterms].group,
		    sizeof(e->terms[e->nterms].group), "%s", g->valuestring);
		e->terms[e->nterms++].count = (unsigned)c->valuedouble;
	}
	e->wait_ms = (int64_t)wait->valuedouble * 1000;
	/* What it asks for comes from the signed bytes, as at the POST. */
	p = calloc(1, sizeof(*p));
	ok = p != NULL &&
	    text_b64_decode(e->request.payload_b64,
	        strlen(e->request.payload_b64), REQUEST_PAYLOAD_MAX, &raw,
	        &rawlen) == 0 &&
	    request_decode(raw, rawlen, p, NULL) == 0;
	if (ok) {
		memcpy(e->action_id, p->action_id, sizeof(e->action_id));
		memcpy(e->host_id, p->host_id, sizeof(e->host_id));
		memcpy(e->container_id, p->container_id,
		    sizeof(e->container_id));
		e->action = p->action;
		memcpy(e->reason, p->reason, sizeof(e->reason));
		memcpy(e->requested_by, p->requested_by,
		    sizeof(e->requested_by));
		e->issued_at = p->issued_at;
		e->expires_at = p->expires_at;
	}
	free(raw);
	free(p);
	return ok && e->nterms > 0;
}

/* Applies one record of the log to the table. */
static void
apply(struct approvals *t, const struct audit_record *rec, int64_t now_ms,
    size_t *added)
{
	struct approval_entry *e;
	struct request_approval a;
	char id[33], who[64], why[APPROVALS_WHY_MAX + 1];
	const cJSON *ap;

	if (!str(rec->data, "action_id", id, sizeof(id)) ||
	    !text_is_hex(id, 32))
		return;
	if (strcmp(rec->event, "action.awaiting_approval") == 0) {
		e = malloc(sizeof(*e));
		if (e == NULL)
			return;
		if (entry_of(rec->data, e) && strcmp(e->action_id, id) == 0 &&
		    approvals_add(t, e, now_ms) == 0)
			(*added)++;
		else
			log_warn("approvals: the waiting request %s of the log "
			         "could not be put back",
			    id);
		free(e);
	} else if (strcmp(rec->event, "action.approved") == 0) {
		ap = cJSON_GetObjectItemCaseSensitive(rec->data, "approval");
		memset(&a, 0, sizeof(a));
		if (str(rec->data, "approver", who, sizeof(who)) &&
		    str(ap, "key_id", a.key_id, sizeof(a.key_id)) &&
		    str(ap, "sig", a.sig_b64, sizeof(a.sig_b64)) &&
		    approvals_approve(t, id, &a, who, NULL) != 0)
			log_debug("approvals: approval of %s not put back", id);
	} else if (strcmp(rec->event, "action.approval_refused") == 0) {
		(void)snprintf(why, sizeof(why), "refused");
		if (str(rec->data, "refused_by", who, sizeof(who)))
			(void)snprintf(why, sizeof(why), "refused by %s", who);
		if (approvals_end(t, id, APPROVAL_REFUSED, why, rec->ts) == 0 &&
		    *added > 0)
			(*added)--;
	} else if (strcmp(rec->event, "action.approval_expired") == 0) {
		if (approvals_end(t, id, APPROVAL_EXPIRED,
		        "the request expired before enough approvals came",
		        rec->ts) == 0 &&
		    *added > 0)
			(*added)--;
	} else if (strcmp(rec->event, "action.requested") == 0) {
		if (approvals_end(t, id, APPROVAL_RELAYED,
		        "relayed with its approvals", rec->ts) == 0 &&
		    *added > 0)
			(*added)--;
	}
}

int
approvals_reload(struct approvals *t, const char *audit_path, int64_t now_ms,
    size_t *reloaded, struct err_msg *msg)
{
	struct audit_reader *rd = NULL;
	size_t added = 0;
	int r;

	*reloaded = 0;
	if (t == NULL || audit_path == NULL)
		return err_set(msg, SIGNET_ERR_INVALID_ARG,
		    "approvals_reload: missing argument");
	r = audit_reader_open_since(audit_path, now_ms - APPROVALS_RELOAD_MS,
	    &rd, msg);
	if (r == SIGNET_ERR_NOT_FOUND)
		return 0;
	if (r != 0)
		return r;
	for (;;) {
		struct audit_record rec;

		r = audit_reader_next_record(rd, &rec, msg);
		if (r <= 0)
			break;
		if (rec.ts >= now_ms - APPROVALS_RELOAD_MS)
			apply(t, &rec, now_ms, &added);
		audit_record_free(&rec);
	}
	*reloaded = added;
	audit_reader_close(rd);
	return r < 0 ? r : 0;
}
