/* SPDX-License-Identifier: ISC */
/*
 * The executor's answers: every verified action whose action_id can be
 * read is answered once, REJECTED, DENIED, SUCCESS, FAILURE or UNKNOWN,
 * with a result signed by the agent's result key that goes to the outbox,
 * and each answer is audited (action.rejected, policy.denied,
 * action.executed; action.received and action.dispatched before dockerd
 * is asked to act; frame.refused, naming no action, for unverified frames
 * and frames with no readable action_id). The records' members are listed
 * in executor.h.
 */
#include "executor.h"
#include "executor_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "text.h"
#include "wire.h"

/* ---- JSON members of a record ---- */

static void
jstr(cJSON *o, const char *k, const char *v, bool *ok)
{
	if (*ok && cJSON_AddStringToObject(o, k, v) == NULL)
		*ok = false;
}

static void
jnum(cJSON *o, const char *k, int64_t v, bool *ok)
{
	if (*ok && cJSON_AddNumberToObject(o, k, (double)v) == NULL)
		*ok = false;
}

static void
jbool(cJSON *o, const char *k, bool v, bool *ok)
{
	if (*ok && cJSON_AddBoolToObject(o, k, v) == NULL)
		*ok = false;
}

/* Adds item (owned from here on, even on failure). */
static void
jitem(cJSON *o, const char *k, cJSON *item, bool *ok)
{
	if (!*ok || item == NULL || !cJSON_AddItemToObject(o, k, item)) {
		cJSON_Delete(item);
		*ok = false;
	}
}

/* ---- audit ---- */

/*
 * An embedded envelope (audit.h): {"payload","sig"} and, for the server's
 * action, "key_id" (NULL: none). NULL when out of memory.
 */
static cJSON *
embedded_envelope(const char *payload_b64, const char *sig_b64,
    const char *key_id)
{
	cJSON *o = cJSON_CreateObject();
	bool ok = o != NULL;

	jstr(o, "payload", payload_b64, &ok);
	jstr(o, "sig", sig_b64, &ok);
	if (key_id != NULL)
		jstr(o, "key_id", key_id, &ok);
	if (!ok) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}

/* {"payload","sig","key_id"} of the server's action, or NULL. */
static cJSON *
action_envelope(const struct executor_act *act)
{
	return embedded_envelope(act->payload_b64, act->sig_b64, act->key_id);
}

static cJSON *
result_envelope(const struct envelope *env)
{
	return embedded_envelope(env->payload_b64, env->sig_b64, NULL);
}

/* The members every action record starts with (authentic actions). */
static cJSON *
action_data(struct executor *ex, const struct executor_act *act, bool *ok)
{
	cJSON *o = cJSON_CreateObject();

	*ok = o != NULL;
	jstr(o, "host_id", ex->host_id, ok);
	jstr(o, "action_id", act->a.action_id, ok);
	jnum(o, "expires_at", act->a.expires_at, ok);
	/* The seen set keeps a signed request's id until it expires. */
	if (executor_replay_until(act) != act->a.expires_at)
		jnum(o, "replay_until", executor_replay_until(act), ok);
	jstr(o, "container_id", act->a.container_id, ok);
	jstr(o, "action_name", envelope_action_name(act->a.action), ok);
	return o;
}

static void
container_facts(cJSON *o, const struct executor_act *act, bool *ok)
{
	if (act->inv == NULL || act->inv->count != 1)
		return;
	jstr(o, "container_name", inventory_primary_name(&act->inv->items[0]),
	    ok);
	jstr(o, "image", act->inv->items[0].image, ok);
}

static cJSON *
received_data(struct executor *ex, const struct executor_act *act, bool *ok)
{
	cJSON *o = action_data(ex, act, ok);

	jstr(o, "requested_by", act->a.requested_by, ok);
	jstr(o, "reason", act->a.reason, ok);
	container_facts(o, act, ok);
	if (act->rule >= 0)
		jnum(o, "rule", act->rule, ok);
	executor_request_audit(act, o, ok);
	jitem(o, "action", action_envelope(act), ok);
	return o;
}

static cJSON *
dispatched_data(struct executor *ex, const struct executor_act *act,
    int64_t limit_ms, bool *ok)
{
	cJSON *o = action_data(ex, act, ok);

	jnum(o, "limit_ms", limit_ms, ok);
	jitem(o, "state_before",
	    act->has_before ? outcome_state_json(&act->before) :
	                      cJSON_CreateNull(),
	    ok);
	return o;
}

int
executor_record_received(struct executor *ex, const struct executor_act *act)
{
	bool ok;
	cJSON *o = received_data(ex, act, &ok);

	return audit_event(ex->audit, "action.received", EXECUTOR_ACTOR, o, ok);
}

int
executor_record_received_dispatched(struct executor *ex,
    const struct executor_act *act, int64_t limit_ms, size_t *nrecorded)
{
	struct err_msg m;
	cJSON *rec, *disp;
	bool rec_ok, disp_ok;
	int r;

	*nrecorded = 0;
	err_clear(&m);
	rec = received_data(ex, act, &rec_ok);
	disp = dispatched_data(ex, act, limit_ms, &disp_ok);
	if (rec == NULL || disp == NULL || !rec_ok || !disp_ok) {
		log_error("audit action.received not recorded: out of memory");
		r = SIGNET_ERR_ALLOC;
		goto out;
	}
	r = audit_append_pair(ex->audit, EXECUTOR_ACTOR, "action.received", rec,
	    "action.dispatched", disp, nrecorded, &m);
	if (r != 0)
		log_error("audit %s not recorded: %s",
		    *nrecorded == 0 ? "action.received" : "action.dispatched",
		    m.text);
out:
	cJSON_Delete(rec);
	cJSON_Delete(disp);
	return r;
}

/* ---- results ---- */

static bool
result_possible(const struct executor_act *act)
{
	return act->a.action_id[0] != '\0' && act->have_container &&
	    act->have_action && act->have_sha;
}

/*
 * Signs the result of act into *env and builds its frame *frame (free
 * both). Returns 0 or a negative code.
 */
static int
sign_result(struct executor *ex, const struct executor_act *act,
    enum envelope_status status, int64_t docker_status, const char *error,
    int64_t finished_at, struct envelope *env, char **frame, size_t *flen)
{
	struct envelope_result_payload res;
	int r;

	memset(env, 0, sizeof(*env));
	*frame = NULL;
	*flen = 0;
	memset(&res, 0, sizeof(res));
	memcpy(res.action_id, act->a.action_id, sizeof(res.action_id));
	memcpy(res.host_id, ex->host_id, sizeof(res.host_id));
	memcpy(res.container_id, act->a.container_id, sizeof(res.container_id));
	res.action = act->a.action;
	res.status = status;
	if (error != NULL && error[0] != '\0') {
		res.has_error = true;
		(void)snprintf(res.error, sizeof(res.error), "%s", error);
	}
	res.docker_status = docker_status;
	res.started_at = act->started_at;
	res.finished_at = finished_at < act->started_at ? act->started_at :
	                                                  finished_at;
	memcpy(res.request_sha256, act->sha, sizeof(res.request_sha256));
	/* Anchored only for a server that anchors: it parses the member. */
	if (act->a.has_server_head && ex->audit != NULL) {
		audit_get_head(ex->audit, &res.agent_head);
		res.has_agent_head = !res.agent_head.empty;
	}
	r = envelope_result_sign(&res, ex->result_key, env);
	if (r == 0)
		r = wire_build_result(env->payload_b64, env->sig_b64, frame,
		    flen);
	if (r != 0)
		envelope_free(env);
	return r;
}

void
executor_set_outcome(struct executor_act *act, enum envelope_status status,
    int64_t docker_status, const char *error)
{
	act->out->status = status;
	act->out->docker_status = docker_status;
	(void)snprintf(act->out->error, sizeof(act->out->error), "%s",
	    error != NULL ? error : "");
	memcpy(act->out->action_id, act->a.action_id,
	    sizeof(act->out->action_id));
	act->out->authentic = act->authentic;
}

static void
count(struct executor *ex, enum envelope_status status)
{
	executor_lock(ex);
	switch (status) {
	case ENVELOPE_STATUS_SUCCESS: ex->stats.succeeded++; break;
	case ENVELOPE_STATUS_FAILURE: ex->stats.failed++; break;
	case ENVELOPE_STATUS_DENIED: ex->stats.denied++; break;
	case ENVELOPE_STATUS_UNKNOWN: ex->stats.unknown++; break;
	default: ex->stats.rejected++; break;
	}
	executor_unlock(ex);
}

/*
 * The end of an answer: its signed result (frame owned, when signed) to
 * the outbox, only when the record holding it is durable (recorded 0):
 * a result the agent's own log does not hold is never sent, so that the
 * log cannot contradict what the server is told. env freed.
 */
static void
hand_over(struct executor *ex, struct executor_act *act, bool signed_ok,
    int recorded, char *frame, size_t flen, struct envelope *env)
{
	if (signed_ok && recorded != 0)
		log_error("result of action %s not sent: its record could not "
		          "be written (%s); the next start answers it from "
		          "what the log holds",
		    act->a.action_id, err_str(recorded));
	if (signed_ok && recorded == 0)
		executor_outbox_deliver(ex, act, frame, flen);
	else
		free(frame);
	envelope_free(env);
}

/* REJECTED: audited as action.rejected, answered when it can be. */
void
executor_reject(struct executor *ex, struct executor_act *act,
    const char *reason)
{
	struct envelope env = { NULL, NULL, "" };
	char esc[EXECUTOR_LOG_ESC];
	char *frame = NULL;
	size_t flen = 0;
	cJSON *o = NULL;
	bool ok, resent, signed_ok = false;
	int r, recorded;

	executor_set_outcome(act, ENVELOPE_STATUS_REJECTED, 0, reason);
	count(ex, ENVELOPE_STATUS_REJECTED);
	resent = executor_outbox_resend(ex, act);
	if (!resent && result_possible(act)) {
		r = sign_result(ex, act, ENVELOPE_STATUS_REJECTED, 0, reason,
		    executor_now_ms(ex), &env, &frame, &flen);
		if (r == 0)
			signed_ok = true;
		else
			log_error("result for action %s not signed: %s",
			    act->a.action_id, err_str(r));
	}
	o = cJSON_CreateObject();
	ok = o != NULL;
	jstr(o, "host_id", ex->host_id, &ok);
	if (act->a.action_id[0] != '\0')
		jstr(o, "action_id", act->a.action_id, &ok);
	/*
	 * expires_at makes the next start put the id in the seen set: not
	 * for a forged operator request, which must not burn a genuine id.
	 */
	if (act->authentic && !act->request_refused)
		jnum(o, "expires_at", act->a.expires_at, &ok);
	jbool(o, "authentic", act->authentic, &ok);
	if (act->key_id != NULL)
		jstr(o, "key_id", act->key_id, &ok);
	jstr(o, "reason", reason, &ok);
	if (act->have_sha)
		jstr(o, "request_sha256", act->sha, &ok);
	if (act->have_container)
		jstr(o, "container_id", act->a.container_id, &ok);
	if (act->have_action)
		jstr(o, "action_name", envelope_action_name(act->a.action),
		    &ok);
	if (act->authentic) {
		jstr(o, "requested_by", act->a.requested_by, &ok);
		executor_request_audit(act, o, &ok);
		jitem(o, "action", action_envelope(act), &ok);
	}
	if (signed_ok)
		jitem(o, "result", result_envelope(&env), &ok);
	if (resent)
		jbool(o, "resent", true, &ok);
	recorded = audit_event(ex->audit, "action.rejected", EXECUTOR_ACTOR, o,
	    ok);
	log_warn("action rejected: action_id=%s authentic=%s key_id=%s "
	         "result=%s reason=\"%s\"",
	    act->a.action_id[0] != '\0' ? act->a.action_id : "-",
	    act->authentic ? "yes" : "no",
	    act->key_id != NULL && text_is_hex(act->key_id, KEYS_ID_LEN) ?
	        act->key_id :
	        "-",
	    resent        ? "resent" :
	        signed_ok ? "new" :
	                    "none",
	    text_escape_str(reason, esc, sizeof(esc)));
	hand_over(ex, act, signed_ok, recorded, frame, flen, &env);
}

/* DENIED by the policy: audited as policy.denied, answered. */
void
executor_deny(struct executor *ex, struct executor_act *act, const char *why)
{
	struct envelope env = { NULL, NULL, "" };
	char esc[EXECUTOR_LOG_ESC];
	char *frame = NULL;
	size_t flen = 0;
	cJSON *o = NULL;
	bool ok;
	int r, recorded;

	executor_set_outcome(act, ENVELOPE_STATUS_DENIED, 0, why);
	count(ex, ENVELOPE_STATUS_DENIED);
	r = sign_result(ex, act, ENVELOPE_STATUS_DENIED, 0, why,
	    executor_now_ms(ex), &env, &frame, &flen);
	if (r != 0)
		log_error("result for action %s not signed: %s",
		    act->a.action_id, err_str(r));
	o = action_data(ex, act, &ok);
	jstr(o, "requested_by", act->a.requested_by, &ok);
	jstr(o, "reason", act->a.reason, &ok);
	jstr(o, "why", why, &ok);
	executor_request_audit(act, o, &ok);
	if (act->rule >= 0)
		jnum(o, "rule", act->rule, &ok);
	container_facts(o, act, &ok);
	jitem(o, "action", action_envelope(act), &ok);
	if (r == 0)
		jitem(o, "result", result_envelope(&env), &ok);
	recorded = audit_event(ex->audit, "policy.denied", EXECUTOR_ACTOR, o,
	    ok);
	log_warn("action denied: action_id=%s container=%.12s action=%s "
	         "requested_by=%s why=\"%s\"",
	    act->a.action_id, act->a.container_id,
	    envelope_action_name(act->a.action), act->a.requested_by,
	    text_escape_str(why, esc, sizeof(esc)));
	hand_over(ex, act, r == 0, recorded, frame, flen, &env);
}

/* SUCCESS, FAILURE or UNKNOWN: audited as action.executed, answered. */
void
executor_finish(struct executor *ex, struct executor_act *act,
    enum envelope_status status, int64_t docker_status, const char *error,
    bool recovered)
{
	struct envelope env = { NULL, NULL, "" };
	char esc[EXECUTOR_LOG_ESC];
	char *frame = NULL;
	size_t flen = 0;
	int64_t now = executor_now_ms(ex);
	cJSON *o = NULL;
	bool ok;
	int r, recorded;

	executor_set_outcome(act, status, docker_status, error);
	count(ex, status);
	r = sign_result(ex, act, status, docker_status, error, now, &env,
	    &frame, &flen);
	if (r != 0)
		log_error("result for action %s not signed: %s",
		    act->a.action_id, err_str(r));
	o = action_data(ex, act, &ok);
	jstr(o, "status", envelope_status_name(status), &ok);
	jnum(o, "docker_status", docker_status, &ok);
	if (error != NULL && error[0] != '\0')
		jstr(o, "error", error, &ok);
	else if (ok && cJSON_AddNullToObject(o, "error") == NULL)
		ok = false;
	jnum(o, "duration_ms", now - act->started_at, &ok);
	if (r == 0)
		jitem(o, "result", result_envelope(&env), &ok);
	if (recovered)
		jbool(o, "recovered", true, &ok);
	/* What the follow-up compares with, also after a restart. */
	if (status == ENVELOPE_STATUS_UNKNOWN)
		jitem(o, "state_before",
		    act->has_before ? outcome_state_json(&act->before) :
		                      cJSON_CreateNull(),
		    &ok);
	recorded = audit_event(ex->audit, "action.executed", EXECUTOR_ACTOR, o,
	    ok);
	if (status == ENVELOPE_STATUS_SUCCESS)
		log_info("action executed: action_id=%s container=%.12s "
		         "action=%s docker_status=%lld duration_ms=%lld",
		    act->a.action_id, act->a.container_id,
		    envelope_action_name(act->a.action),
		    (long long)docker_status,
		    (long long)(now - act->started_at));
	else
		log_warn("action %s: action_id=%s container=%.12s "
		         "action=%s docker_status=%lld error=\"%s\"",
		    status == ENVELOPE_STATUS_UNKNOWN ?
		        "outcome unknown (dockerd may still act; followed up)" :
		        "failed",
		    act->a.action_id, act->a.container_id,
		    envelope_action_name(act->a.action),
		    (long long)docker_status,
		    text_escape_str(error != NULL ? error : "", esc,
		        sizeof(esc)));
	hand_over(ex, act, r == 0, recorded, frame, flen, &env);
}

/*
 * The reason under which a refused frame is bounded and summed up
 * (audit.suppressed's counts): its kind, from the text the callers give.
 */
static const char *
refused_kind(const char *why)
{
	static const struct {
		const char *prefix, *kind;
	} kinds[] = {
		{ "unverified frame: ", "unverified" },
		{ "malformed action: ", "unreadable" },
		{ "frame over", "too_big" },
		{ "action frame of ", "too_big" },
		{ "frame of ", "too_big" },
		{ "message over", "too_big" },
		{ "binary", "binary" },
		{ "malformed frame: ", "malformed" },
	};
	size_t i;

	for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if (strncmp(why, kinds[i].prefix, strlen(kinds[i].prefix)) == 0)
			return kinds[i].kind;
	return "malformed";
}

/*
 * An unverified frame, or one with no readable action_id: logged,
 * counted, audited (bounded per kind, ex->refused_lim); it names no
 * action.
 */
void
executor_frame_refused(struct executor *ex, const char *why, const char *data,
    size_t len, size_t bytes)
{
	char hex[65], esc[EXECUTOR_LOG_ESC];
	int64_t now = executor_now_ms(ex);
	cJSON *o = NULL, *summary = NULL;
	bool ok, record;

	if (data != NULL)
		envelope_sha256_hex(data, len, hex);
	executor_lock(ex);
	ex->stats.refused_frames++;
	record = audit_limit_take(&ex->refused_lim, refused_kind(why), now,
	    &summary);
	executor_unlock(ex);
	(void)audit_limit_write(ex->audit, EXECUTOR_ACTOR, summary);
	log_warn("frame from the server refused: bytes=%zu sha256=%s "
	         "why=\"%s\"",
	    bytes, data != NULL ? hex : "-",
	    text_escape_str(why, esc, sizeof(esc)));
	if (!record)
		return;
	o = cJSON_CreateObject();
	ok = o != NULL;
	jstr(o, "host_id", ex->host_id, &ok);
	jstr(o, "reason", why, &ok);
	jnum(o, "bytes", (int64_t)bytes, &ok);
	if (data != NULL)
		jstr(o, "frame_sha256", hex, &ok);
	(void)audit_event(ex->audit, "frame.refused", EXECUTOR_ACTOR, o, ok);
}

void
executor_audit_close(struct executor *ex, bool force)
{
	cJSON *summary = NULL;

	executor_lock(ex);
	audit_limit_close(&ex->refused_lim, executor_now_ms(ex), force,
	    &summary);
	executor_unlock(ex);
	(void)audit_limit_write(ex->audit, EXECUTOR_ACTOR, summary);
}
