/* SPDX-License-Identifier: ISC */
/*
 * The operator's part of an action (docs/operators.md, "What the agent
 * checks"): the signed request the server relays is verified here, on its
 * exact bytes and against the roster this host holds, before the action
 * id joins the seen set; its approvals are counted by distinct key, and
 * what was verified (never what the relay claims) is what the policy
 * judges and the audit log records.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "executor_int.h"
#include "jsonx.h"
#include "log.h"
#include "roster.h"
#include "text.h"

/* REJECTED with "operator request: WHY". Returns false. */
static bool
reject(struct executor *ex, struct executor_act *act, const char *why)
{
	char text[EXECUTOR_REASON_MAX + 32];

	(void)snprintf(text, sizeof(text), "operator request: %s", why);
	act->request_refused = true;
	executor_reject(ex, act, text);
	return false;
}

/* The counted approvals as the policy takes them. */
static void
collect_counted(struct executor_act *act)
{
	size_t i, g;

	act->ncounted = 0;
	for (i = 0; i < act->napprovals; i++) {
		const struct request_approver *ap = &act->approvers[i];
		struct policy_approver *pa = &act->counted[act->ncounted];

		if (!ap->valid || ap->op == NULL)
			continue;
		for (g = 0; g < ap->op->ngroups && g < ROSTER_GROUPS_MAX; g++)
			act->counted_groups[act->ncounted][g] =
			    ap->op->groups[g];
		pa->name = ap->op->name;
		pa->key_id = ap->key_id;
		pa->groups = act->counted_groups[act->ncounted];
		pa->ngroups = ap->op->ngroups;
		act->ncounted++;
	}
}

bool
executor_check_request(struct executor *ex, struct executor_act *act,
    int64_t now)
{
	struct request_signed s;
	struct err_msg m;
	char why[EXECUTOR_REASON_MAX];
	int r, n;
	bool ok = false;

	memset(&s, 0, sizeof(s));
	err_clear(&m);
	if (!act->a.has_request)
		return true;
	act->roster = roster_store_acquire(ex->roster);
	if (act->roster == NULL)
		return reject(ex, act,
		    "this host holds no operator roster, so no operator's "
		    "signature can be checked");
	r = request_from_action(&act->a, &s);
	if (r != 0) {
		(void)snprintf(why, sizeof(why), "cannot read it: %s",
		    err_str(r));
		goto out_reject;
	}
	r = request_verify(act->roster, &s, now, &act->req, &m);
	if (r != 0) {
		(void)snprintf(why, sizeof(why), "%s%s",
		    r == SIGNET_ERR_BAD_SIGNATURE ? "bad operator signature: " :
		                                    "",
		    m.text);
		goto out_reject;
	}
	act->operator_signed = true;
	if (roster_check_time(act->roster, now, &m) != 0) {
		(void)snprintf(why, sizeof(why), "%s", m.text);
		goto out_reject;
	}
	if (request_matches_action(&act->req.p, &act->a, &m) != 0) {
		(void)snprintf(why, sizeof(why), "%s", m.text);
		goto out_reject;
	}
	if (now > act->req.p.expires_at + ENVELOPE_SKEW_MS) {
		(void)snprintf(why, sizeof(why),
		    "the operator's request expired %" PRId64 " ms ago",
		    now - act->req.p.expires_at);
		goto out_reject;
	}
	if (act->req.p.issued_at > now + ENVELOPE_SKEW_MS) {
		(void)snprintf(why, sizeof(why),
		    "the operator's request is issued %" PRId64
		    " ms in the future",
		    act->req.p.issued_at - now);
		goto out_reject;
	}
	n = request_check_approvals(act->roster, &act->req, act->a.approvals,
	    act->a.napprovals, now, act->approvers);
	if (n < 0) {
		(void)snprintf(why, sizeof(why), "approvals: %s", err_str(n));
		goto out_reject;
	}
	act->napprovals = act->a.napprovals;
	collect_counted(act);
	ok = true;
	goto out;
out_reject:
	(void)reject(ex, act, why);
out:
	request_signed_free(&s);
	return ok;
}

int64_t
executor_replay_until(const struct executor_act *act)
{
	if (act->operator_signed && act->req.p.expires_at > act->a.expires_at)
		return act->req.p.expires_at;
	return act->a.expires_at;
}

void
executor_request_policy(const struct executor_act *act,
    struct policy_request *req)
{
	req->operator_signed = act->operator_signed;
	if (!act->operator_signed)
		return;
	req->operator_name = act->req.p.requested_by;
	req->request_lifetime_ms = act->req.p.expires_at - act->req.p.issued_at;
	req->approvers = act->counted;
	req->napprovers = act->ncounted;
}

void
executor_request_audit(const struct executor_act *act, cJSON *o, bool *ok)
{
	cJSON *arr = NULL, *e = NULL;
	size_t i;

	if (!*ok || o == NULL || !act->authentic)
		return;
	if (!act->a.has_request) {
		*ok = cJSON_AddStringToObject(o, "requester",
		          "server-asserted") != NULL;
		return;
	}
	if (!act->operator_signed) {
		*ok = cJSON_AddStringToObject(o, "requester", "unverified") !=
		    NULL;
		return;
	}
	*ok = cJSON_AddStringToObject(o, "requester", "verified") != NULL &&
	    cJSON_AddStringToObject(o, "requester_key_id",
	        act->req.signer->key.id) != NULL &&
	    cJSON_AddStringToObject(o, "operator_request_sha256",
	        act->req.sha256) != NULL &&
	    jsonx_add_int64(o, "roster_version", act->roster->version) &&
	    jsonx_add_int64(o, "request_expires_at", act->req.p.expires_at) &&
	    (arr = cJSON_AddArrayToObject(o, "approvals")) != NULL;
	for (i = 0; *ok && i < act->napprovals; i++) {
		const struct request_approver *ap = &act->approvers[i];

		*ok = (e = cJSON_CreateObject()) != NULL &&
		    cJSON_AddItemToArray(arr, e) &&
		    cJSON_AddStringToObject(e, "key_id", ap->key_id) != NULL &&
		    (ap->op == NULL ||
		        cJSON_AddStringToObject(e, "name", ap->op->name) !=
		            NULL) &&
		    cJSON_AddBoolToObject(e, "counted", ap->valid) != NULL &&
		    (ap->valid ||
		        cJSON_AddStringToObject(e, "why", ap->why) != NULL);
	}
}

void
executor_request_release(struct executor *ex, struct executor_act *act)
{
	request_verified_free(&act->req);
	if (act->roster != NULL)
		roster_store_release(ex->roster, act->roster);
	act->roster = NULL;
}
