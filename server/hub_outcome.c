/* SPDX-License-Identifier: ISC */
/*
 * An agent's action_outcome frame (docs/protocol.md, "Action outcome"):
 * what became of an action it answered UNKNOWN. The signature is checked
 * under the host's result key on the exact bytes before anything is
 * parsed; the outcome must be the host's own and fit the action sent to
 * it (container, action, request_sha256). It is recorded as
 * action.outcome, then shown on the action (API), then acknowledged with
 * an outcome_ack, in that order: the agent keeps the outcome until that
 * ack. An outcome for an action this server does not know is recorded
 * and acknowledged too (what it knows is all in the signed outcome); a
 * repeat of one recorded already is acknowledged without a new record.
 */
#include "hub_int.h"

#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "keyset.h"
#include "log.h"
#include "outcome.h"
#include "text.h"
#include "wire.h"

bool
hub_retired_allows(struct hub *hub, const char *host,
    const struct keyset_key *k, const char *action_id, struct err_msg *msg)
{
	struct action_info info;

	if (!k->retired)
		return true;
	if (actions_get(hub->actions, action_id, &info) != 0 ||
	    strcmp(info.host_id, host) != 0)
		return true; /* unknown here, or refused as not host's later */
	if (keyset_allows(k, true, info.requested_at))
		return true;
	err_set(msg, SIGNET_ERR_BAD_SIGNATURE,
	    "signed with result key %s, retired at %s, for action_id=%s "
	    "sent after that (a retired key answers only what was sent "
	    "before it was retired)",
	    k->pub.id, k->stamp, action_id);
	return false;
}

int
hub_handle_outcome(struct hub *hub, struct hub_conn *c, struct wire_frame *f)
{
	struct outcome_payload p;
	const struct keyset_key *used = NULL;
	struct keyset ks;
	struct err_msg msg;
	enum actions_verdict v;
	char det[ERR_MSG_MAX];
	cJSON *d = NULL;
	size_t i;
	int r;

	err_clear(&msg);
	r = server_ctx_agent_keys(hub->ctx, c->id.name, &ks, &msg);
	if (r != 0) {
		log_error("agent %s: cannot load its result keys to check an "
		          "outcome: %s",
		    c->id.name, msg.text);
		return hub_drop_session(hub, c, HUB_CLOSE_INTERNAL,
		    "internal error", "internal", "result key unavailable");
	}
	/* As a result: the current key, then the retired ones. */
	r = SIGNET_ERR_BAD_SIGNATURE;
	for (i = 0; i < ks.count && r == SIGNET_ERR_BAD_SIGNATURE; i++) {
		r = outcome_verify(&ks.keys[i].pub, f->payload_b64, f->sig_b64,
		    &p, NULL, NULL, &msg);
		if (r == 0)
			used = &ks.keys[i];
	}
	if (r == 0 &&
	    !hub_retired_allows(hub, c->id.name, used, p.action_id, &msg))
		r = SIGNET_ERR_BAD_SIGNATURE;
	if (r != 0) {
		metrics_inc(hub->ctx->metrics, M_AGENT_FRAMES_BAD);
		hub_fmt(det, sizeof(det), "outcome refused: %s", msg.text);
		log_warn("agent %s sent a bad action outcome: %s; dropping it",
		    c->id.name, msg.text);
		return hub_drop_session(hub, c, HUB_CLOSE_POLICY, "bad outcome",
		    "bad_outcome", det);
	}
	v = strcmp(p.host_id, c->id.name) != 0 ?
	    ACTIONS_RESULT_MISMATCH :
	    actions_set_outcome(hub->actions, c->id.name, &p, false);
	if (v == ACTIONS_RESULT_MISMATCH) {
		hub_fmt(det, sizeof(det),
		    "outcome for action_id=%s does not match the action sent "
		    "to host %s (host_id, container_id, action or "
		    "request_sha256)",
		    p.action_id, c->id.name);
		log_warn("agent %s: %s; dropping it", c->id.name, det);
		return hub_drop_session(hub, c, HUB_CLOSE_POLICY, "bad outcome",
		    "bad_outcome", det);
	}
	if (v == ACTIONS_RESULT_DUPLICATE) {
		log_info("agent %s sent the outcome of action_id=%s again: "
		         "recorded once",
		    c->id.name, p.action_id);
		return hub_queue_ack(hub, c, true, p.action_id,
		    p.request_sha256);
	}
	d = outcome_record(&p, f->payload_b64, f->sig_b64);
	if (d != NULL &&
	    (!cJSON_AddBoolToObject(d, "known", v == ACTIONS_RESULT_OK) ||
	        cJSON_AddStringToObject(d, "result_key_id", used->pub.id) ==
	            NULL)) {
		cJSON_Delete(d);
		d = NULL;
	}
	r = audit_event(hub->ctx->audit, "action.outcome", SERVER_ACTOR, d,
	    d != NULL);
	if (r != 0)
		return hub_drop_session(hub, c, HUB_CLOSE_INTERNAL,
		    "audit unavailable", "internal",
		    "action.outcome could not be recorded");
	if (v == ACTIONS_RESULT_OK)
		(void)actions_set_outcome(hub->actions, c->id.name, &p, true);
	log_info("action outcome: action_id=%s host=%s observed=%s%s",
	    p.action_id, c->id.name, outcome_observed_name(p.observed),
	    v == ACTIONS_RESULT_OK ? "" : " (action unknown here)");
	return hub_queue_ack(hub, c, true, p.action_id, p.request_sha256);
}
