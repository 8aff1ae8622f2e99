/* SPDX-License-Identifier: ISC */
/*
 * One agent's session on the hub (hub.h, "The session" and "Actions"):
 * messages assembled within their limits, the hello that opens a session,
 * inventory and action_result frames, the result_ack of each durable
 * result, refusals (auth.rejected, rate limited), the session's end
 * (agent.disconnected) and the ways a connection is closed.
 */
#include "hub_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "cluster_relay.h"
#include "envelope.h"
#include "keyset.h"
#include "log.h"
#include "text.h"
#include "wire.h"

bool
hub_put_str(cJSON *o, const char *k, const char *v)
{
	return v == NULL || cJSON_AddStringToObject(o, k, v) != NULL;
}

bool
hub_put_num(cJSON *o, const char *k, double v)
{
	return cJSON_AddNumberToObject(o, k, v) != NULL;
}

/*
 * Queues the acknowledgement of (action_id, request_sha256) on c: a
 * result_ack, or an outcome_ack when outcome; called only once that
 * result or outcome is durable in the audit log (or was before). Returns
 * 0 (also when out of memory: the agent sends it again), or -1 when c
 * has HUB_CONN_ACK_MAX unwritten: an agent that does not read its
 * acknowledgements is dropped rather than let them pile up.
 */
static int
queue_ack(struct hub_conn *c, bool outcome, const char *action_id,
    const char *request_sha256)
{
	struct wire_result_ack ack;
	struct hub_out *o = NULL;
	char *text = NULL;
	size_t len = 0;
	int r;

	if (c->nack >= HUB_CONN_ACK_MAX)
		return -1;
	memset(&ack, 0, sizeof(ack));
	memcpy(ack.action_id, action_id, sizeof(ack.action_id));
	memcpy(ack.request_sha256, request_sha256, sizeof(ack.request_sha256));
	r = outcome ? wire_build_outcome_ack(&ack, &text, &len) :
	              wire_build_result_ack(&ack, &text, &len);
	if (r == 0) {
		o = calloc(1, sizeof(*o));
		if (o != NULL)
			o->buf = malloc(LWS_PRE + len);
	}
	if (r != 0 || o == NULL || o->buf == NULL) {
		free(text);
		hub_out_free(o);
		log_error("agent %s: out of memory acknowledging the %s of "
		          "action %s; it will send it again",
		    c->id.name, outcome ? "outcome" : "result", action_id);
		return 0;
	}
	o->is_ack = true;
	memcpy(o->host_id, c->id.name, strlen(c->id.name) + 1);
	memcpy(o->action_id, action_id, sizeof(o->action_id));
	memcpy(o->buf + LWS_PRE, text, len);
	o->len = len;
	free(text);
	hub_out_append(c, o);
	return 0;
}

int
hub_queue_ack(struct hub *hub, struct hub_conn *c, bool outcome,
    const char *action_id, const char *request_sha256)
{
	if (queue_ack(c, outcome, action_id, request_sha256) != 0)
		return hub_drop_session(hub, c, HUB_CLOSE_BUSY, "server busy",
		    "busy", "the agent does not read its acknowledgements");
	return 0;
}

int
hub_ack_result(struct hub_conn *c, const char *action_id,
    const char *request_sha256)
{
	return queue_ack(c, false, action_id, request_sha256);
}

/*
 * The agent refused an action frame it could not verify. Its word names
 * no action: the frame is found by the hash of the payload bytes this
 * server signed and sent to that very host, and only a PENDING action
 * ends (REJECTED, no result; actions_refused_unverified). One that
 * matches nothing is only logged (the agent's log holds frame.refused).
 */
static void
handle_refused(struct hub *hub, struct hub_conn *c,
    const struct wire_refusal *ref)
{
	char id[ACTIONS_ID_LEN + 1], esc[WIRE_REASON_MAX + 1];
	int r;

	(void)text_vis_str(ref->reason, esc, sizeof(esc));
	r = ref->request_sha256[0] == '\0' ?
	    SIGNET_ERR_NOT_FOUND :
	    actions_refused_unverified(hub->actions, hub->ctx->audit,
	        c->id.name, ref->request_sha256, ref->frame_sha256, ref->reason,
	        id);
	if (r == 0)
		log_warn("agent %s refused the frame of action_id=%s "
		         "unverified: %s; the action is REJECTED, not run",
		    c->id.name, id, esc);
	else if (r == SIGNET_ERR_NOT_FOUND)
		log_warn("agent %s refused a frame unverified (sha256=%s, "
		         "payload sha256=%s) that names no pending action of "
		         "its own: %s",
		    c->id.name, ref->frame_sha256,
		    ref->request_sha256[0] != '\0' ? ref->request_sha256 : "-",
		    esc);
	else
		log_error("agent %s refused the frame of action_id=%s "
		          "unverified, but action.unverified cannot be "
		          "recorded (%s): the action ends at its deadline",
		    c->id.name, id, err_str(r));
}

/*
 * Counts, logs and audits one refused peer. cert may be NULL; claimed is
 * the host id the peer's hello named (raw, escaped here) or NULL.
 */
void
hub_reject(struct hub *hub, const char *peer, const char *reason,
    enum metric which, const char *detail, X509 *cert, const char *claimed)
{
	char subject[HUB_SUBJECT_MAX], serial[IDENTITY_SERIAL_MAX + 1];
	char det[ERR_MSG_MAX], host[96];
	cJSON *d = NULL, *summary = NULL;
	bool ok, full;

	metrics_inc(hub->ctx->metrics, which);
	subject[0] = serial[0] = host[0] = '\0';
	if (cert != NULL) {
		(void)identity_subject_text(cert, subject, sizeof(subject));
		if (identity_serial_hex(cert, serial) != 0)
			(void)snprintf(serial, sizeof(serial), "unknown");
	}
	if (claimed != NULL)
		(void)text_escape_str(claimed, host, sizeof(host));
	(void)text_vis_str(detail, det, sizeof(det));
	log_warn("agent refused: reason=%s peer=%s subject=\"%s\" "
	         "serial=%s: %s",
	    reason, peer, subject, serial, det);
	/* Bounded per reason (hub.h): the rest go into audit.suppressed. */
	full = audit_limit_take(&hub->reject_lim, reason, hub_now_ms(),
	    &summary);
	(void)audit_limit_write(hub->ctx->audit, SERVER_ACTOR, summary);
	if (!full)
		return;
	d = cJSON_CreateObject();
	ok = d != NULL && hub_put_str(d, "reason", reason) &&
	    hub_put_str(d, "detail", det) && hub_put_str(d, "peer", peer) &&
	    hub_put_str(d, "subject", cert != NULL ? subject : NULL) &&
	    hub_put_str(d, "serial", cert != NULL ? serial : NULL) &&
	    hub_put_str(d, "host_id", claimed != NULL ? host : NULL);
	(void)audit_event(hub->ctx->audit, "auth.rejected", SERVER_ACTOR, d,
	    ok);
}

/*
 * Ends c's session (once): the registry marks the host offline if this is
 * still its session, and agent.disconnected is audited.
 */
void
hub_end_session(struct hub *hub, struct hub_conn *c, const char *reason,
    const char *detail, int code)
{
	char det[ERR_MSG_MAX];
	cJSON *d;
	bool ok;

	if (!c->hello_done || c->ended)
		return;
	c->ended = true;
	hub_out_flush(hub, c, "the agent connection closed");
	registry_disconnect(hub->ctx->registry, c->id.name, c->session,
	    hub_now_ms());
	hub_map_remove(hub, c);
	/* Its claim goes (a newer session's is left alone). */
	cluster_release_post(hub->cluster, c->id.name, c->session);
	(void)text_vis_str(detail, det, sizeof(det));
	log_info("agent disconnected: host=%s session=%llu reason=%s peer=%s"
	         "%s%s",
	    c->id.name, (unsigned long long)c->session, reason, c->peer,
	    detail != NULL ? ": " : "", detail != NULL ? det : "");
	d = cJSON_CreateObject();
	ok = d != NULL && hub_put_str(d, "host_id", c->id.name) &&
	    hub_put_num(d, "session", (double)c->session) &&
	    hub_put_str(d, "serial", c->id.serial) &&
	    hub_put_str(d, "reason", reason) &&
	    hub_put_str(d, "peer", c->peer) &&
	    hub_put_str(d, "detail", detail != NULL ? det : NULL) &&
	    (code == 0 || hub_put_num(d, "code", code));
	(void)audit_event(hub->ctx->audit, "agent.disconnected", SERVER_ACTOR,
	    d, ok);
}

/*
 * Closes c from outside its own callback (another connection's hello, the
 * reload, shutdown): the wsi's timer fires at once and its callback
 * returns -1 after staging the close frame.
 */
void
hub_schedule_close(struct hub_conn *c, uint16_t code, const char *text)
{
	if (c->closing)
		return;
	c->closing = true;
	c->close_code = code;
	hub_fmt(c->close_text, sizeof(c->close_text), "%s", text);
	lws_set_timer_usecs(c->wsi, 1);
}

/* Closes c from within its own callback: stage the frame, return -1. */
int
hub_close_now(struct hub_conn *c, uint16_t code, const char *text)
{
	c->closing = true;
	lws_close_reason(c->wsi, (enum lws_close_status)code,
	    (unsigned char *)text, strlen(text));
	return -1;
}

/* Drops an agent after its hello (bad frame, too big...). */
int
hub_drop_session(struct hub *hub, struct hub_conn *c, uint16_t code,
    const char *text, const char *reason, const char *detail)
{
	hub_end_session(hub, c, reason, detail, 0);
	return hub_close_now(c, code, text);
}

/* "KEY":"SEQ:HASH"; false on allocation failure. */
static bool
hub_put_head(cJSON *d, const char *key, const struct audit_head *h)
{
	char text[AUDIT_HEAD_TEXT_MAX];

	audit_head_format(h, text);
	return hub_put_str(d, key, text);
}

/* The hello arrived (c->buf): check it, open the session. */
static int
handle_hello(struct hub *hub, struct hub_conn *c)
{
	struct wire_hello h;
	struct keys_public pub;
	struct err_msg msg;
	struct hub_settle *settle;
	struct hub_conn *old;
	char det[ERR_MSG_MAX], nab[32];
	uint64_t replaced = 0, session;
	cJSON *d;
	bool ok;
	int r;

	err_clear(&msg);
	/*
	 * The key of the certificate's host first: the hello is a claim
	 * signed with it (over this connection's challenge), checked before
	 * anything in it is read.
	 */
	r = server_ctx_agent_key(hub->ctx, c->id.name, &pub, &msg);
	if (r != 0) {
		if (r == SIGNET_ERR_NOT_FOUND)
			hub_fmt(det, sizeof(det),
			    "no result key "
			    "registered for %s (%s/%s.pub)",
			    c->id.name, hub->ctx->agents_dir, c->id.name);
		else
			hub_fmt(det, sizeof(det),
			    "the result key of "
			    "%s cannot be loaded: %s",
			    c->id.name, msg.text);
		hub_reject(hub, c->peer, "no_key", M_AGENT_AUTH_NO_KEY, det,
		    c->cert, NULL);
		return hub_close_now(c, HUB_CLOSE_POLICY,
		    "no result key registered");
	}
	r = wire_parse_hello(c->buf, c->len, &pub, c->challenge, &h, &msg);
	if (r == SIGNET_ERR_BAD_SIGNATURE) {
		hub_reject(hub, c->peer, "bad_proof", M_AGENT_AUTH_BAD_HELLO,
		    msg.text, c->cert, NULL);
		return hub_close_now(c, HUB_CLOSE_POLICY,
		    "hello does not prove the result key");
	}
	if (r != 0) {
		hub_reject(hub, c->peer, "bad_hello", M_AGENT_AUTH_BAD_HELLO,
		    msg.text, c->cert, NULL);
		return hub_close_now(c, HUB_CLOSE_POLICY, "bad hello");
	}
	if (strcmp(h.host_id, c->id.name) != 0) {
		hub_fmt(det, sizeof(det),
		    "hello host_id \"%s\" but "
		    "the certificate's CN is \"%s\"",
		    h.host_id, c->id.name);
		hub_reject(hub, c->peer, "host_mismatch",
		    M_AGENT_AUTH_HOST_MISMATCH, det, c->cert, h.host_id);
		return hub_close_now(c, HUB_CLOSE_POLICY,
		    "host_id does not match the certificate");
	}
	if (strcmp(pub.id, h.result_key_id) != 0) {
		hub_fmt(det, sizeof(det),
		    "hello result_key_id %s but "
		    "the key registered for %s is %s",
		    h.result_key_id, h.host_id, pub.id);
		hub_reject(hub, c->peer, "key_mismatch",
		    M_AGENT_AUTH_KEY_MISMATCH, det, c->cert, h.host_id);
		return hub_close_now(c, HUB_CLOSE_POLICY,
		    "result_key_id is not the registered key");
	}

	session = registry_connect(hub->ctx->registry, h.host_id,
	    h.agent_version, h.docker_version, c->id.not_after, hub_now_ms(),
	    &replaced);
	if (session == 0) {
		log_error("agent %s: out of memory registering it", h.host_id);
		return hub_close_now(c, HUB_CLOSE_INTERNAL, "internal error");
	}
	registry_set_anchors(hub->ctx->registry, h.host_id, session,
	    h.has_audit_head);
	c->session = session;
	c->hello_done = true;
	/* The hello timer may still fire: hub_conn_timer ignores it now. */
	registry_format_time(c->id.not_after * 1000, nab, sizeof(nab));
	d = cJSON_CreateObject();
	ok = d != NULL && hub_put_str(d, "host_id", h.host_id) &&
	    hub_put_num(d, "session", (double)session) &&
	    hub_put_str(d, "serial", c->id.serial) &&
	    hub_put_str(d, "agent_version", h.agent_version) &&
	    hub_put_str(d, "docker_version", h.docker_version) &&
	    hub_put_str(d, "result_key_id", h.result_key_id) &&
	    hub_put_str(d, "cert_not_after", nab) &&
	    hub_put_str(d, "peer", c->peer) &&
	    (!h.has_audit_head || hub_put_head(d, "agent_head", &h.audit_head));
	old = hub_map_get(hub, h.host_id);
	if (old == c || (old != NULL && old->session != replaced))
		old = NULL;
	/* Durable at the next sync (hub_settle.c), before any frame goes. */
	settle = hub_settle_new(c, HUB_SETTLE_HELLO, NULL, NULL, NULL, NULL);
	if (audit_event_write(hub->ctx->audit, "agent.connected", SERVER_ACTOR,
	        d, ok && settle != NULL) != 0) {
		hub_settle_discard(settle);
		/*
		 * Nothing happens unrecorded: refuse the agent. The registry
		 * already dropped the old session, so that one goes too.
		 */
		registry_disconnect(hub->ctx->registry, h.host_id, session,
		    hub_now_ms());
		c->ended = true;
		if (old != NULL) {
			hub_end_session(hub, old, "replaced",
			    "audit unavailable", 0);
			hub_schedule_close(old, HUB_CLOSE_INTERNAL,
			    "audit unavailable");
		}
		return hub_close_now(c, HUB_CLOSE_INTERNAL,
		    "audit unavailable");
	}
	c->hello_unsynced = true;
	hub_settle_add(hub, settle);
	metrics_observe(hub->ctx->metrics, MH_AGENT_HANDSHAKE,
	    (double)(clock_mono_ms() - c->established_ms) / 1000.0);
	log_info("agent connected: host=%s session=%llu serial=%s "
	         "agent_version=%s docker_version=%s peer=%s",
	    h.host_id, (unsigned long long)session, c->id.serial,
	    h.agent_version, h.docker_version, c->peer);
	/*
	 * A certificate that expires soon is said in the log (at most once
	 * a day per host, cert_expiry.h), never refused for it.
	 */
	registry_check_certs(hub->ctx->registry, h.host_id, hub_now_ms() / 1000,
	    hub->ctx->expiry_warn_days, 0, "hello");

	hub_map_put(hub, c);
	/* The roster this server holds goes to every agent that says hello. */
	hub_roster_send(hub, c);
	/*
	 * So does the size of its last checkpoint the server holds, to an
	 * agent whose hello said it anchors (an earlier one would refuse
	 * the frame it does not know).
	 */
	if (h.has_audit_head)
		hub_checkpoint_hello(hub, c);
	if (replaced != 0) {
		metrics_inc(hub->ctx->metrics, M_AGENT_REPLACED);
		d = cJSON_CreateObject();
		ok = d != NULL && hub_put_str(d, "host_id", h.host_id) &&
		    hub_put_num(d, "old_session", (double)replaced) &&
		    hub_put_num(d, "new_session", (double)session) &&
		    hub_put_str(d, "old_peer",
		        old != NULL ? old->peer : NULL) &&
		    hub_put_str(d, "peer", c->peer);
		(void)audit_event(hub->ctx->audit, "agent.replaced",
		    SERVER_ACTOR, d, ok);
		if (old != NULL) {
			hub_fmt(det, sizeof(det),
			    "replaced by session "
			    "%llu from %s",
			    (unsigned long long)session, c->peer);
			hub_end_session(hub, old, "replaced", det, 0);
			hub_schedule_close(old, HUB_CLOSE_REPLACED,
			    "replaced by a newer connection");
		}
	}
	/* Cluster mode: the host is claimed for this replica (-1: closed). */
	return hub_cluster_hello(hub, c);
}

/*
 * Writes a verified result's action.result record (not yet durable:
 * hub_settle.c) and hands what follows to the next sync: what the
 * signed result says, the envelope itself and the id of the key it
 * verified under ("result_key_id"). kind HUB_SETTLE_UNKNOWN is a result
 * for an action_id the server does not hold ("action_known": false says
 * so); info is the claimed action for HUB_SETTLE_RESULT, else NULL.
 * Returns 0, or -1 when the record could not be written: c is dropped
 * (the caller releases a claim).
 */
static int
record_result(struct hub *hub, struct hub_conn *c, enum hub_settle_kind kind,
    const struct wire_frame *f, const struct envelope_result_payload *res,
    const struct keyset_key *used, const struct action_info *info)
{
	const char *st = envelope_status_name(res->status);
	struct hub_settle *s;
	cJSON *d, *env;
	bool ok;

	/* Made first: once the record is written it cannot be taken back. */
	s = hub_settle_new(c, kind, f, res, used, info);
	d = cJSON_CreateObject();
	ok = s != NULL && d != NULL &&
	    hub_put_str(d, "action_id", res->action_id) &&
	    hub_put_str(d, "host_id", res->host_id) &&
	    hub_put_str(d, "status", st != NULL ? st : "FAILURE") &&
	    hub_put_num(d, "docker_status", (double)res->docker_status) &&
	    (res->has_error ? hub_put_str(d, "error", res->error) :
	                      cJSON_AddNullToObject(d, "error") != NULL) &&
	    (kind != HUB_SETTLE_UNKNOWN ||
	        cJSON_AddBoolToObject(d, "action_known", 0) != NULL) &&
	    (env = cJSON_AddObjectToObject(d, "result")) != NULL &&
	    hub_put_str(env, "payload", f->payload_b64) &&
	    hub_put_str(env, "sig", f->sig_b64) &&
	    hub_put_str(d, "result_key_id", used->pub.id);
	if (audit_event_write(hub->ctx->audit, "action.result", SERVER_ACTOR, d,
	        ok) != 0) {
		hub_settle_discard(s);
		return hub_drop_session(hub, c, HUB_CLOSE_INTERNAL,
		    "audit unavailable", "internal",
		    "action.result could not be recorded");
	}
	hub_settle_add(hub, s);
	return 0;
}

/*
 * An action_result frame: verify on the exact bytes (under the host's
 * current key, else one of its retired keys: hub_retired_allows), match
 * with the action sent, record; once the record is durable (hub_settle.c)
 * answer whoever waits and acknowledge (see hub.h).
 */
static int
handle_result(struct hub *hub, struct hub_conn *c, struct wire_frame *f)
{
	struct envelope_result_payload res;
	const struct keyset_key *used = NULL;
	struct keyset ks;
	struct action_info info;
	struct hub_settle *s;
	struct err_msg msg;
	enum actions_verdict v;
	uint8_t *raw = NULL;
	size_t raw_len = 0, i;
	char det[ERR_MSG_MAX];
	int r;

	err_clear(&msg);
	memset(&res, 0, sizeof(res));
	r = server_ctx_agent_keys(hub->ctx, c->id.name, &ks, &msg);
	if (r != 0) {
		log_error("agent %s: cannot load its result keys to check a "
		          "result: %s",
		    c->id.name, msg.text);
		r = hub_drop_session(hub, c, HUB_CLOSE_INTERNAL,
		    "internal error", "internal", "result key unavailable");
		goto out;
	}
	/* The current key first, then the retired ones, newest first. */
	r = SIGNET_ERR_BAD_SIGNATURE;
	for (i = 0; i < ks.count && r == SIGNET_ERR_BAD_SIGNATURE; i++) {
		free(raw);
		raw = NULL;
		r = envelope_result_verify(&ks.keys[i].pub, f->payload_b64,
		    f->sig_b64, &res, &raw, &raw_len, &msg);
		if (r == 0)
			used = &ks.keys[i];
	}
	if (r != 0 && r != SIGNET_ERR_BAD_SIGNATURE) {
		/* Not even a well-formed envelope: a malformed frame. */
		metrics_inc(hub->ctx->metrics, M_AGENT_FRAMES_BAD);
		metrics_inc(hub->ctx->metrics, M_ACTION_RESULTS_BAD);
		log_warn("agent %s sent a malformed action result: %s; "
		         "dropping it",
		    c->id.name, msg.text);
		r = hub_drop_session(hub, c, HUB_CLOSE_POLICY, "bad frame",
		    "bad_frame", msg.text);
		goto out;
	}
	if (r == 0 && used->retired &&
	    !hub_retired_allows(hub, c->id.name, used, res.action_id, &msg))
		r = SIGNET_ERR_BAD_SIGNATURE;
	else if (r != 0 && ks.count > 1)
		hub_fmt(msg.text, sizeof(msg.text),
		    "signature does not verify under the current result key "
		    "%s nor any of the %zu retired keys of %s",
		    ks.keys[0].pub.id, ks.count - 1, c->id.name);
	if (r != 0) {
		metrics_inc(hub->ctx->metrics, M_ACTION_RESULTS_BAD);
		hub_fmt(det, sizeof(det), "result refused: %s", msg.text);
		log_warn("agent %s sent a bad action result: %s; dropping it",
		    c->id.name, msg.text);
		r = hub_drop_session(hub, c, HUB_CLOSE_POLICY, "bad result",
		    "bad_result", det);
		goto out;
	}
	v = strcmp(res.host_id, c->id.name) != 0 ?
	    ACTIONS_RESULT_MISMATCH :
	    actions_claim_result(hub->actions, c->id.name, &res, &info);
	switch (v) {
	case ACTIONS_RESULT_UNKNOWN:
		/*
		 * Signed by this host, for an action this server does not hold
		 * (requested before the reload window, a reload that failed,
		 * an entry a full table forgot): the agent's word that it
		 * acted must not be lost, so it is recorded as it is, then
		 * acknowledged; an agent keeps it until then.
		 */
		metrics_inc(hub->ctx->metrics, M_ACTION_RESULTS_UNKNOWN);
		r = record_result(hub, c, HUB_SETTLE_UNKNOWN, f, &res, used,
		    NULL);
		goto out;
	case ACTIONS_RESULT_DUPLICATE:
		/*
		 * The first one is recorded: this copy is acknowledged too,
		 * once the first is durable (it may not be yet).
		 */
		metrics_inc(hub->ctx->metrics, M_ACTION_RESULTS_DUPLICATE);
		log_info("agent %s sent another result for action_id=%s: "
		         "ignored (accepted once)",
		    c->id.name, res.action_id);
		s = hub_settle_new(c, HUB_SETTLE_REPEAT, f, &res, used, NULL);
		if (s == NULL) {
			log_error("agent %s: out of memory acknowledging the "
			          "result of action %s; it will send it again",
			    c->id.name, res.action_id);
			r = 0;
			goto out;
		}
		hub_settle_add(hub, s);
		r = 0;
		goto out;
	case ACTIONS_RESULT_MISMATCH:
		metrics_inc(hub->ctx->metrics, M_ACTION_RESULTS_BAD);
		hub_fmt(det, sizeof(det),
		    "result for action_id=%s does not "
		    "match the action sent to host %s (host_id, "
		    "container_id, action or request_sha256)",
		    res.action_id, c->id.name);
		log_warn("agent %s: %s; dropping it", c->id.name, det);
		r = hub_drop_session(hub, c, HUB_CLOSE_POLICY, "bad result",
		    "bad_result", det);
		goto out;
	case ACTIONS_RESULT_OK:
	default: break;
	}
	if (used->retired && !keyset_allows(used, true, info.requested_at)) {
		/* Sent while hub_retired_allows looked: the same refusal. */
		actions_unclaim(hub->actions, res.action_id);
		metrics_inc(hub->ctx->metrics, M_ACTION_RESULTS_BAD);
		hub_fmt(det, sizeof(det),
		    "result refused: action_id=%s was sent after result key "
		    "%s was retired (%s)",
		    res.action_id, used->pub.id, used->stamp);
		log_warn("agent %s: %s; dropping it", c->id.name, det);
		r = hub_drop_session(hub, c, HUB_CLOSE_POLICY, "bad result",
		    "bad_result", det);
		goto out;
	}
	r = record_result(hub, c, HUB_SETTLE_RESULT, f, &res, used, &info);
	if (r != 0)
		actions_unclaim(hub->actions, res.action_id);
out:
	free(raw);
	return r;
}

/* A frame after the hello (c->buf). */
static int
handle_frame(struct hub *hub, struct hub_conn *c)
{
	struct wire_frame f;
	struct err_msg msg;
	int r;

	err_clear(&msg);
	r = wire_parse_agent_frame(c->buf, c->len, &f, &msg);
	if (r == 0 &&
	    (f.type == WIRE_ACTION_RESULT || f.type == WIRE_ACTION_OUTCOME ||
	        f.type == WIRE_FRAME_REFUSED) &&
	    hub->actions == NULL) {
		wire_frame_free(&f);
		r = err_set(&msg, SIGNET_ERR_FORMAT,
		    "frame type "
		    "\"action_result\" is not accepted here (no action "
		    "relay)");
	}
	if (r != 0) {
		metrics_inc(hub->ctx->metrics, M_AGENT_FRAMES_BAD);
		log_warn("agent %s sent a bad frame (%zu bytes): %s",
		    c->id.name, c->len, msg.text);
		return hub_drop_session(hub, c, HUB_CLOSE_POLICY, "bad frame",
		    "bad_frame", msg.text);
	}
	if (f.type == WIRE_ACTION_RESULT) {
		r = handle_result(hub, c, &f);
		wire_frame_free(&f);
		return r;
	}
	if (f.type == WIRE_ACTION_OUTCOME) {
		r = hub_handle_outcome(hub, c, &f);
		wire_frame_free(&f);
		return r;
	}
	if (f.type == WIRE_FRAME_REFUSED) {
		handle_refused(hub, c, &f.refusal);
		wire_frame_free(&f);
		return 0;
	}
	if (f.type == WIRE_POLICY) {
		hub_policy(hub, c, f.payload_b64);
		wire_frame_free(&f);
		return 0;
	}
	if (f.type == WIRE_CHECKPOINT) {
		hub_checkpoint(hub, c, &f.cp);
		wire_frame_free(&f);
		return 0;
	}
	if (f.type == WIRE_ROSTER_STATUS) {
		hub_roster_status(hub, c, &f.roster);
		wire_frame_free(&f);
		return 0;
	}
	r = hub_inventory(hub, c, f.inv);
	f.inv = NULL;
	wire_frame_free(&f);
	return r;
}

/* Makes room for len more bytes of the current message. */
static int
buffer_grow(struct hub *hub, struct hub_conn *c, size_t len, size_t limit)
{
	size_t need, ncap;
	char *nb;

	need = c->len + len; /* <= limit, checked by caller */
	if (need <= c->cap)
		return 0;
	ncap = c->cap < 4096 ? 4096 : c->cap;
	while (ncap < need)
		ncap = ncap > limit / 2 ? limit : ncap * 2;
	if (ncap - c->cap > HUB_BUFFERED_MAX - hub->buffered)
		return SIGNET_ERR_TOO_LARGE;
	nb = realloc(c->buf, ncap);
	if (nb == NULL)
		return SIGNET_ERR_ALLOC;
	hub->buffered += ncap - c->cap;
	c->buf = nb;
	c->cap = ncap;
	return 0;
}

/* LWS_CALLBACK_RECEIVE: one chunk of a frame of a message. */
int
hub_conn_receive(struct hub *hub, struct hub_conn *c, const void *in,
    size_t len)
{
	size_t limit = c->hello_done ? HUB_MESSAGE_MAX : HUB_HELLO_MAX;
	char det[128];
	int r;

	if (c->closing)
		return 0;
	if (lws_is_first_fragment(c->wsi)) {
		c->len = 0;
		if (lws_frame_is_binary(c->wsi)) {
			metrics_inc(hub->ctx->metrics, M_AGENT_FRAMES_BAD);
			if (!c->hello_done) {
				hub_reject(hub, c->peer, "bad_hello",
				    M_AGENT_AUTH_BAD_HELLO,
				    "binary frame instead of a hello", c->cert,
				    NULL);
				return hub_close_now(c, HUB_CLOSE_BINARY,
				    "JSON text frames only");
			}
			return hub_drop_session(hub, c, HUB_CLOSE_BINARY,
			    "JSON text frames only", "binary_frame", NULL);
		}
	}
	if (c->len > limit || len > limit - c->len) {
		hub_fmt(det, sizeof(det), "message over %zu bytes", limit);
		metrics_inc(hub->ctx->metrics, M_AGENT_FRAMES_OVERSIZE);
		if (!c->hello_done) {
			hub_reject(hub, c->peer, "bad_hello",
			    M_AGENT_AUTH_BAD_HELLO, det, c->cert, NULL);
			r = hub_close_now(c, HUB_CLOSE_TOO_BIG,
			    "message too big");
		} else {
			log_warn("agent %s sent a %s", c->id.name, det);
			r = hub_drop_session(hub, c, HUB_CLOSE_TOO_BIG,
			    "message too big", "too_big", det);
		}
		hub_buffer_release(hub, c);
		return r;
	}
	r = buffer_grow(hub, c, len, limit);
	if (r != 0) {
		log_warn("agent connection peer=%s: %s; closing it", c->peer,
		    r == SIGNET_ERR_ALLOC ? "out of memory" :
		                            "server message buffers full");
		if (c->hello_done)
			r = hub_drop_session(hub, c, HUB_CLOSE_BUSY,
			    "server busy", "busy", NULL);
		else
			r = hub_close_now(c, HUB_CLOSE_BUSY, "server busy");
		hub_buffer_release(hub, c);
		return r;
	}
	if (len > 0)
		memcpy(c->buf + c->len, in, len);
	c->len += len;
	if (!lws_is_final_fragment(c->wsi))
		return 0;

	metrics_inc(hub->ctx->metrics, M_AGENT_FRAMES_IN);
	if (c->hello_done)
		registry_touch(hub->ctx->registry, c->id.name, c->session,
		    hub_now_ms());
	r = c->hello_done ? handle_frame(hub, c) : handle_hello(hub, c);
	/*
	 * Nothing is kept between messages: an idle agent, which is most of
	 * them, costs no buffer (about 4 KiB each at 50,000 agents).
	 */
	hub_buffer_release(hub, c);
	return r;
}

/* LWS_CALLBACK_TIMER: a scheduled close, or the hello deadline. */
int
hub_conn_timer(struct hub *hub, struct hub_conn *c)
{
	char det[64];

	if (c->silent) {
		/* Not reading: a close frame would never be taken. */
		log_info("agent %s: no pong within %d s; dropping", c->id.name,
		    hub->hangup_secs);
		c->closing = true;
		return -1;
	}
	if (c->closing)
		return hub_close_now(c, c->close_code, c->close_text);
	if (c->hello_done || !c->hello_late)
		return 0;
	hub_fmt(det, sizeof(det), "no hello within %d s",
	    hub->hello_timeout_secs);
	hub_reject(hub, c->peer, "hello_timeout", M_AGENT_AUTH_HELLO_TIMEOUT,
	    det, c->cert, NULL);
	return hub_close_now(c, HUB_CLOSE_POLICY, "hello timeout");
}

/* LWS_CALLBACK_CLOSED: the session ends here unless it ended before. */
void
hub_conn_closed(struct hub *hub, struct hub_conn *c)
{
	const char *reason;

	if (!c->hello_done || c->ended)
		return;
	if (hub->stopping)
		reason = "shutdown";
	else if (c->peer_closed)
		reason = "peer_closed";
	else if (c->silent ||
	    clock_mono_ms() - c->last_valid_ms >=
	        (int64_t)(hub->hangup_secs - 1) * 1000)
		reason = "ping_timeout";
	else
		reason = "connection_lost";
	hub_end_session(hub, c, reason, NULL,
	    c->peer_closed ? c->peer_code : 0);
}

/* LWS_CALLBACK_WSI_DESTROY: always comes, user data still there. */
void
hub_conn_destroy(struct hub *hub, struct hub_conn *c)
{
	hub_end_session(hub, c, hub->stopping ? "shutdown" : "connection_lost",
	    NULL, 0);
	hub_out_flush(hub, c, "the agent connection closed");
	hub_settle_detach(hub, c);
	hub_map_remove(hub, c);
	hub_list_remove(hub, c);
	hub_buffer_release(hub, c);
	X509_free(c->cert);
	c->cert = NULL;
	c->magic = 0;
}
