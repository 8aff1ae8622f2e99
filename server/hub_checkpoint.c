/* SPDX-License-Identifier: ISC */
/*
 * The hub's part in the agents' checkpoints (docs/transparency.md,
 * "Agents' checkpoints"; server/agent_checkpoints.h judges and keeps
 * them): a checkpoint_ack with the size held for the host after each
 * hello and after each checkpoint taken; a refused checkpoint audited as
 * audit.checkpoint_refused (bounded) and not acknowledged, the session
 * kept: the record is the alarm, and the host's results still need the
 * channel.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "agent_checkpoints.h"
#include "hub_int.h"
#include "jsonx.h"
#include "log.h"
#include "server_ctx.h"
#include "text.h"

#define CP_REFUSED_EVENT "audit.checkpoint_refused"

void
hub_checkpoint_ack(struct hub *hub, struct hub_conn *c, uint64_t size)
{
	struct hub_out *o = NULL;
	char *text = NULL;
	size_t len = 0;

	(void)hub;
	if (wire_build_checkpoint_ack(size, &text, &len) == 0) {
		o = calloc(1, sizeof(*o));
		if (o != NULL && (o->buf = malloc(LWS_PRE + len)) == NULL) {
			free(o);
			o = NULL;
		}
	}
	if (o == NULL) {
		free(text);
		log_error("agent %s: out of memory acknowledging checkpoint "
		          "size %" PRIu64 "; it sends it again next connection",
		    c->id.name, size);
		return;
	}
	/* Nothing to undeliver: counted with the acknowledgements. */
	o->is_ack = true;
	memcpy(o->host_id, c->id.name, strlen(c->id.name) + 1);
	memcpy(o->buf + LWS_PRE, text, len);
	o->len = len;
	free(text);
	hub_out_append(c, o);
}

void
hub_checkpoint_hello(struct hub *hub, struct hub_conn *c)
{
	struct err_msg m;
	uint64_t size = 0;

	if (hub->ctx->agent_cp == NULL)
		return;
	err_clear(&m);
	if (agent_cp_held(hub->ctx->agent_cp, c->id.name, &size, &m) != 0) {
		/* No ack: the agent sends no checkpoint this session. */
		log_error("agent %s: its checkpoints are not taken: %s",
		    c->id.name, m.text);
		return;
	}
	hub_checkpoint_ack(hub, c, size);
}

/* audit.checkpoint_refused, within its bound. */
static void
audit_refused(struct hub *hub, struct hub_conn *c,
    const struct agent_cp_refusal *ref)
{
	const char *reason = agent_cp_reason_name(ref->reason);
	char det[ERR_MSG_MAX];
	cJSON *d = NULL, *summary = NULL;
	bool full, ok;

	full = audit_limit_take(&hub->cp_refused_lim, reason, hub_now_ms(),
	    &summary);
	(void)audit_limit_write(hub->ctx->audit, SERVER_ACTOR, summary);
	if (!full)
		return;
	(void)text_vis_str(ref->detail, det, sizeof(det));
	d = cJSON_CreateObject();
	ok = d != NULL && hub_put_str(d, "host_id", c->id.name) &&
	    hub_put_str(d, "reason", reason) &&
	    jsonx_add_int64(d, "size", (int64_t)ref->size) &&
	    jsonx_add_int64(d, "held_size", (int64_t)ref->held_size) &&
	    hub_put_str(d, "detail", det);
	if (audit_event(hub->ctx->audit, CP_REFUSED_EVENT, SERVER_ACTOR, d,
	        ok) != 0)
		log_error("agent %s: %s not recorded", c->id.name,
		    CP_REFUSED_EVENT);
}

void
hub_checkpoint(struct hub *hub, struct hub_conn *c,
    const struct wire_checkpoint *cp)
{
	struct agent_cp_refusal ref;
	struct err_msg m;
	char det[ERR_MSG_MAX];
	uint64_t acked = 0;
	int r;

	if (hub->ctx->agent_cp == NULL) {
		log_warn("agent %s sent a checkpoint, but this server keeps "
		         "no agents' checkpoints (see its start): ignored",
		    c->id.name);
		return;
	}
	err_clear(&m);
	r = agent_cp_offer(hub->ctx->agent_cp, c->id.name, cp->note,
	    cp->note_len, cp->old, (const uint8_t(*)[MERKLE_HASH_LEN])cp->proof,
	    cp->nproof, &acked, &ref, &m);
	if (r == 0) {
		log_debug("agent %s: checkpoint of size %" PRIu64 " held",
		    c->id.name, acked);
		hub_checkpoint_ack(hub, c, acked);
		return;
	}
	if (r < 0) {
		log_error("agent %s: checkpoint not taken: %s", c->id.name,
		    m.text);
		return;
	}
	(void)text_vis_str(ref.detail, det, sizeof(det));
	log_warn("agent %s: checkpoint refused: reason=%s size=%" PRIu64
	         " held_size=%" PRIu64 ": %s",
	    c->id.name, agent_cp_reason_name(ref.reason), ref.size,
	    ref.held_size, det);
	audit_refused(hub, c, &ref);
}
