/* SPDX-License-Identifier: ISC */
/*
 * The agent's action pipeline: verify, decide, record, act (executor.h
 * lists the steps). One frame goes through executor_pipeline on one
 * thread; its answer (executor_answer.c) goes to the outbox
 * (executor_outbox.c). Here too the executor's life: open (the rest of
 * its state is rebuilt by executor_recover.c) and free.
 */
#include "executor.h"
#include "executor_int.h"

#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "jsonx.h"
#include "log.h"
#include "policy.h"
#include "replay.h"
#include "text.h"
#include "wire.h"

/*
 * A largest action frame ({"type":"action"}, base64 of a largest action
 * payload, sig, key_id) is taken whole.
 */
_Static_assert(WIRE_ACTION_PAYLOAD_B64_MAX + 256 <= EXECUTOR_FRAME_MAX,
    "an action frame of the largest payload must fit EXECUTOR_FRAME_MAX");

/* ---- small helpers ---- */

int64_t
executor_now_ms(struct executor *ex)
{
	return ex->ops.now_ms(ex->ops_arg);
}

void
executor_lock(struct executor *ex)
{
	if (pthread_mutex_lock(&ex->mu) != 0)
		abort(); /* a broken invariant, not peer input */
}

void
executor_unlock(struct executor *ex)
{
	(void)pthread_mutex_unlock(&ex->mu);
}

/* ---- the pipeline ---- */

/*
 * Reads what a payload whose signature held, but which failed the strict
 * parse, says: action_id, container_id, action. The server signed these
 * bytes (act->raw), so a REJECTED naming them is bound to its own
 * statement (request_sha256); bytes that did not verify never get here
 * (issue 12, item 1).
 */
static void
read_signed_claims(struct executor_act *act)
{
	cJSON *root = NULL;
	const cJSON *v;

	if (act->raw == NULL)
		return;
	envelope_sha256_hex(act->raw, act->raw_len, act->sha);
	act->have_sha = true;
	if (jsonx_parse_object("payload", act->raw, act->raw_len,
	        EXECUTOR_PAYLOAD_DEPTH, &root, NULL) != 0)
		return;
	v = cJSON_GetObjectItemCaseSensitive(root, "action_id");
	if (cJSON_IsString(v) && text_is_hex(v->valuestring, 32))
		memcpy(act->a.action_id, v->valuestring, 33);
	v = cJSON_GetObjectItemCaseSensitive(root, "container_id");
	if (cJSON_IsString(v) && text_is_hex(v->valuestring, 64)) {
		memcpy(act->a.container_id, v->valuestring, 65);
		act->have_container = true;
	}
	v = cJSON_GetObjectItemCaseSensitive(root, "action");
	if (cJSON_IsString(v)) {
		act->a.action = envelope_action_parse(v->valuestring);
		act->have_action = act->a.action != ENVELOPE_ACTION_NONE;
	}
	cJSON_Delete(root);
}

/*
 * A frame whose signature did not hold (or that could not be checked):
 * nothing it claims is a fact, so nothing is signed and no action is
 * named; frame.refused records the hash of the exact bytes and why, and
 * the server is told the same, with the hash of the payload bytes it
 * would have signed (request_sha256) when the frame had a payload in
 * base64, so that it can end the action it sent without waiting.
 */
static void
refuse_unverified(struct executor *ex, struct executor_act *act,
    const char *why, const char *data, size_t len)
{
	char reason[EXECUTOR_REASON_MAX + 32];
	struct wire_refusal ref;
	uint8_t *raw = NULL;
	size_t raw_len = 0, n;

	(void)snprintf(reason, sizeof(reason), "unverified frame: %s", why);
	executor_set_outcome(act, ENVELOPE_STATUS_REJECTED, 0, reason);
	executor_frame_refused(ex, reason, data, len, len);
	if (ex->on_refused == NULL || data == NULL)
		return;
	memset(&ref, 0, sizeof(ref));
	envelope_sha256_hex(data, len, ref.frame_sha256);
	if (act->payload_b64 != NULL &&
	    text_b64_decode(act->payload_b64,
	        strnlen(act->payload_b64, WIRE_ACTION_PAYLOAD_B64_MAX + 1),
	        ENVELOPE_ACTION_PAYLOAD_MAX, &raw, &raw_len) == 0)
		envelope_sha256_hex(raw, raw_len, ref.request_sha256);
	free(raw);
	/* reason is escaped ASCII: cut anywhere, it stays a valid text. */
	n = strnlen(reason, WIRE_REASON_MAX);
	memcpy(ref.reason, reason, n);
	ref.reason[n] = '\0';
	ex->on_refused(ex->refused_arg, &ref);
}

/*
 * Signed bytes that are not a valid action: REJECTED naming what they
 * say when an action_id can be read, else frame.refused.
 */
static void
refuse_signed(struct executor *ex, struct executor_act *act, const char *why,
    const char *data, size_t len)
{
	read_signed_claims(act);
	if (act->a.action_id[0] != '\0') {
		executor_reject(ex, act, why);
		return;
	}
	executor_set_outcome(act, ENVELOPE_STATUS_REJECTED, 0, why);
	executor_frame_refused(ex, why, data, len, len);
}

/*
 * The frame's members into act: from parsed (the caller's parse) or a
 * strict parse of data here. Returns 0, SIGNET_ERR_FORMAT with m, or
 * SIGNET_ERR_ALLOC.
 */
static int
frame_read(struct executor_act *act, const char *data, size_t len,
    const struct wire_frame *parsed, struct err_msg *m)
{
	int r;

	if (parsed == NULL || parsed->type != WIRE_ACTION) {
		r = wire_parse_server_frame(data, len, &act->own, m);
		if (r == 0 && act->own.type != WIRE_ACTION)
			r = err_set(m, SIGNET_ERR_FORMAT,
			    "frame.type: must be \"action\"");
		if (r != 0)
			return r == SIGNET_ERR_ALLOC ? r : SIGNET_ERR_FORMAT;
		parsed = &act->own;
	}
	act->payload_b64 = parsed->payload_b64;
	act->sig_b64 = parsed->sig_b64;
	act->key_id = parsed->key_id;
	return 0;
}

/*
 * Step 1's signature, on the exact payload bytes before any parse, then
 * the strict parse. Returns 0 (act->a and act->raw filled), or calls the
 * refusal and returns the code (SIGNET_ERR_ALLOC for out of memory).
 */
static int
verify_action(struct executor *ex, struct executor_act *act, const char *data,
    size_t len)
{
	const struct keys_public *pub;
	struct err_msg m;
	char why[EXECUTOR_REASON_MAX];
	int r;

	err_clear(&m);
	pub = keys_pubset_find(&ex->action_keys, act->key_id);
	if (pub == NULL) {
		char esc[64];

		(void)snprintf(why, sizeof(why),
		    "unknown key: action signed with key id \"%s\", which is "
		    "not pinned",
		    text_escape_str(act->key_id, esc, sizeof(esc)));
		refuse_unverified(ex, act, why, data, len);
		return SIGNET_ERR_UNKNOWN_KEY;
	}
	r = envelope_open(ENVELOPE_CTX_ACTION, act->payload_b64, act->sig_b64,
	    pub, &act->raw, &act->raw_len, &m);
	if (r != 0) {
		(void)snprintf(why, sizeof(why), "%s: %s",
		    r == SIGNET_ERR_BAD_SIGNATURE ? "bad signature" :
		        r == SIGNET_ERR_ALLOC     ? "out of memory" :
		                                    "malformed action",
		    m.text);
		refuse_unverified(ex, act, why, data, len);
		return r;
	}
	r = envelope_action_decode(act->raw, act->raw_len, &act->a, &m);
	if (r != 0) {
		memset(&act->a, 0, sizeof(act->a));
		(void)snprintf(why, sizeof(why), "%s: %s",
		    r == SIGNET_ERR_ALLOC ? "out of memory" :
		                            "malformed action",
		    m.text);
		refuse_signed(ex, act, why, data, len);
		return r;
	}
	return 0;
}

/*
 * Step 3: the container as dockerd knows it, and the policy. Returns true
 * when the action may run; otherwise the answer has been given.
 */
static bool
check_container(struct executor *ex, struct executor_act *act)
{
	struct policy_request req;
	struct policy_decision dec;
	struct policy_label *labels = NULL;
	const struct inventory_container *c;
	char why[ERR_MSG_MAX + 64];
	struct err_msg m;
	size_t i;
	bool allowed = false;
	int r;

	err_clear(&m);
	/*
	 * The same answer gives the state an UNKNOWN is judged against: taken
	 * before anything is recorded, so that a dockerd that stalls from
	 * here on still leaves it; not known, an UNKNOWN stays undetermined.
	 */
	r = ex->ops.inspect(ex->ops_arg, act->a.container_id, &act->inv,
	    &act->before, &act->has_before, &m);
	if (r == SIGNET_ERR_NOT_FOUND) {
		executor_reject(ex, act, EXECUTOR_ERR_NO_CONTAINER);
		goto out;
	}
	if (r != 0 || act->inv == NULL || act->inv->count != 1) {
		(void)snprintf(why, sizeof(why),
		    "cannot inspect the container: %s",
		    r != 0 ? m.text : "no answer");
		executor_finish(ex, act, ENVELOPE_STATUS_FAILURE, 0, why,
		    false);
		goto out;
	}
	c = &act->inv->items[0];
	if (c->nlabels > 0) {
		labels = calloc(c->nlabels, sizeof(*labels));
		if (labels == NULL) {
			executor_finish(ex, act, ENVELOPE_STATUS_FAILURE, 0,
			    "out of memory", false);
			goto out;
		}
		for (i = 0; i < c->nlabels; i++) {
			labels[i].key = c->labels[i].key;
			labels[i].value = c->labels[i].value;
		}
	}
	memset(&req, 0, sizeof(req));
	req.container_id = c->id;
	req.name = inventory_primary_name(c);
	req.image = c->image;
	req.labels = labels;
	req.nlabels = c->nlabels;
	req.action = act->a.action;
	req.operator_name = act->a.requested_by;
	req.reason = act->a.reason;
	req.now_ms = policy_now_ms();
	executor_request_policy(act, &req);
	memset(&dec, 0, sizeof(dec));
	r = policy_store_decide(ex->policy, &req, &dec);
	act->rule = dec.rule;
	if (r != 0 || !dec.allow) {
		if (r != 0 && dec.text[0] == '\0')
			(void)snprintf(dec.text, sizeof(dec.text),
			    "policy could not decide (%s): denied", err_str(r));
		executor_deny(ex, act, dec.text);
		goto out;
	}
	allowed = true;
out:
	free(labels);
	return allowed;
}

/* Step 4: recorded as received, then dockerd, then the answer. */
static void
run_action(struct executor *ex, struct executor_act *act)
{
	struct err_msg m;
	char esc[EXECUTOR_LOG_ESC];
	char why[EXECUTOR_REASON_MAX];
	long http = 0;
	int64_t left;
	size_t recorded;
	bool maybe_acted = false;
	int r;

	if (!act->has_before)
		log_warn("action %s: the container's state before the call is "
		         "not known",
		    act->a.action_id);
	/*
	 * dockerd must not act after the action expired: the call ends at
	 * expires_at, and one that would start after it is not made.
	 */
	left = act->a.expires_at - executor_now_ms(ex);
	if (left <= 0) {
		(void)snprintf(why, sizeof(why),
		    "not run: the action expired %lld ms before dockerd "
		    "could be asked; dockerd was not called",
		    (long long)-left);
		/* Its receipt is recorded all the same, as for a run. */
		r = executor_record_received(ex, act);
		executor_finish(ex, act, ENVELOPE_STATUS_FAILURE, 0,
		    r != 0 ? EXECUTOR_ERR_AUDIT : why, false);
		return;
	}
	/*
	 * Both durable before dockerd is asked: at the next start, an action
	 * with action.dispatched and no answer may have run (UNKNOWN), one
	 * without it never did (FAILURE "not run"). One sync for the two.
	 */
	r = executor_record_received_dispatched(ex, act, left, &recorded);
	if (r != 0) {
		log_error("action %s not run: its %s cannot be recorded "
		          "(audit unavailable); dockerd was not called",
		    act->a.action_id, recorded == 0 ? "receipt" : "dispatch");
		executor_finish(ex, act, ENVELOPE_STATUS_FAILURE, 0,
		    EXECUTOR_ERR_AUDIT, false);
		return;
	}
	log_info("action received: action_id=%s container=%.12s action=%s "
	         "requested_by=%s reason=\"%s\"",
	    act->a.action_id, act->a.container_id,
	    envelope_action_name(act->a.action), act->a.requested_by,
	    text_escape_str(act->a.reason, esc, sizeof(esc)));
	err_clear(&m);
	act->out->docker_called = true;
	r = ex->ops.act(ex->ops_arg, act->a.container_id, act->a.action,
	    ex->stop_timeout, left > LONG_MAX ? LONG_MAX : (long)left, &http,
	    &maybe_acted, &m);
	if (http < 0 || http > 999)
		http = 0;
	if (r == 0)
		executor_finish(ex, act, ENVELOPE_STATUS_SUCCESS, http, NULL,
		    false);
	else if (maybe_acted) {
		/* No answer to a request dockerd got: it may still act. */
		executor_finish(ex, act, ENVELOPE_STATUS_UNKNOWN, http, m.text,
		    false);
		/* Only after a durable UNKNOWN; else the next start does. */
		if (act->out->has_result)
			executor_followup_add(ex, act->a.action_id,
			    act->a.container_id, act->a.action, act->sha,
			    act->has_before ? &act->before : NULL,
			    executor_now_ms(ex));
	} else
		executor_finish(ex, act, ENVELOPE_STATUS_FAILURE, http,
		    r == SIGNET_ERR_NOT_FOUND ? EXECUTOR_ERR_NO_CONTAINER :
		                                m.text,
		    false);
}

int
executor_pipeline(struct executor *ex, const char *data, size_t len,
    const struct wire_frame *parsed, enum executor_mode mode,
    uint64_t arrived_seq, struct executor_outcome *out)
{
	struct executor_act act;
	struct err_msg m;
	char why[EXECUTOR_REASON_MAX];
	int64_t now;
	int r, rc = 0;

	memset(out, 0, sizeof(*out));
	memset(&act, 0, sizeof(act));
	act.mode = mode;
	act.arrived_seq = arrived_seq;
	act.out = out;
	act.rule = -1;
	out->status = ENVELOPE_STATUS_REJECTED;
	err_clear(&m);
	act.started_at = executor_now_ms(ex);
	if (len > EXECUTOR_FRAME_MAX) {
		(void)snprintf(why, sizeof(why),
		    "frame of %zu bytes is over the %d allowed", len,
		    EXECUTOR_FRAME_MAX);
		executor_set_outcome(&act, ENVELOPE_STATUS_REJECTED, 0, why);
		executor_frame_refused(ex, why, NULL, 0, len);
		goto out;
	}
	r = frame_read(&act, data, len, parsed, &m);
	if (r != 0) {
		(void)snprintf(why, sizeof(why), "malformed frame: %s",
		    r == SIGNET_ERR_ALLOC ? "out of memory" : m.text);
		refuse_unverified(ex, &act, why, data, len);
		if (r == SIGNET_ERR_ALLOC)
			rc = r;
		goto out;
	}
	r = verify_action(ex, &act, data, len);
	if (r != 0) {
		if (r == SIGNET_ERR_ALLOC)
			rc = r;
		goto out;
	}
	act.authentic = true;
	act.have_container = true;
	act.have_action = true;
	envelope_sha256_hex(act.raw, act.raw_len, act.sha);
	act.have_sha = true;
	if (strcmp(act.a.host_id, ex->host_id) != 0) {
		(void)snprintf(why, sizeof(why),
		    "wrong host: the action is "
		    "for \"%s\", this agent is \"%s\"",
		    act.a.host_id, ex->host_id);
		executor_reject(ex, &act, why);
		goto out;
	}
	now = executor_now_ms(ex);
	if (envelope_action_check_time(&act.a, now, &m) != 0) {
		executor_reject(ex, &act, m.text);
		goto out;
	}
	/* Before the seen set: a forged request must not burn the id. */
	if (!executor_check_request(ex, &act, now))
		goto out;
	executor_lock(ex);
	r = replay_add_sha(ex->seen, act.a.action_id, act.sha,
	    executor_replay_until(&act), now);
	if (r == 0 && mode == EXECUTOR_MODE_RUN)
		executor_inflight_put(ex, &act);
	executor_unlock(ex);
	/*
	 * At-least-once delivery (a relay, a replica that took over): the
	 * same payload again is answered with what is held, never run again.
	 */
	if (r == SIGNET_ERR_EXISTS) {
		enum executor_redelivery red = executor_redelivery(ex, &act);

		if (red == EXECUTOR_REDELIVERY_RESENT ||
		    red == EXECUTOR_REDELIVERY_RUNNING)
			goto out;
	}
	if (r != 0) {
		(void)snprintf(why, sizeof(why),
		    r == SIGNET_ERR_EXISTS ?
		        "replay: action_id %s was seen before" :
		        "cannot remember action_id %s (%s): refused",
		    act.a.action_id, err_str(r));
		executor_reject(ex, &act, why);
		goto out;
	}
	/*
	 * Busy or stopping: answered, not run. The id joined the seen set
	 * above, so a copy of this frame sent again can never run after the
	 * server was told REJECTED: it gets this same answer once more.
	 */
	if (mode != EXECUTOR_MODE_RUN) {
		(void)snprintf(why, sizeof(why),
		    mode == EXECUTOR_MODE_BUSY ?
		        "agent busy: %d actions are waiting; not run (request "
		        "it again as a new action)" :
		        "agent stopping; not run (request it again as a new "
		        "action)",
		    EXECUTOR_QUEUE_MAX);
		executor_reject(ex, &act, why);
		goto out;
	}
	if (!check_container(ex, &act))
		goto out;
	run_action(ex, &act);
out:
	executor_inflight_drop(ex, &act);
	executor_request_release(ex, &act);
	inventory_free(act.inv);
	free(act.raw);
	wire_frame_free(&act.own);
	sodium_memzero(&act.a, sizeof(act.a));
	return rc;
}

int
executor_handle_frame(struct executor *ex, const char *data, size_t len,
    struct executor_outcome *out)
{
	uint64_t seq;

	executor_lock(ex);
	seq = ex->next_seq;
	executor_unlock(ex);
	return executor_pipeline(ex, data, len, NULL, EXECUTOR_MODE_RUN, seq,
	    out);
}

/* ---- life ---- */

int
executor_open(const struct executor_config *cfg, struct executor **out,
    struct err_msg *msg)
{
	struct executor *ex = NULL;
	int r;

	*out = NULL;
	if (cfg == NULL || cfg->host_id == NULL || cfg->action_keys == NULL ||
	    cfg->result_key == NULL || cfg->policy == NULL ||
	    cfg->audit == NULL || cfg->audit_path == NULL || cfg->ops == NULL ||
	    cfg->ops->inspect == NULL || cfg->ops->act == NULL ||
	    cfg->ops->now_ms == NULL || cfg->ops->state == NULL ||
	    !text_valid_name(cfg->host_id) || cfg->stop_timeout < 0 ||
	    cfg->outcome_poll_ms < 0)
		return err_set(msg, SIGNET_ERR_INVALID_ARG,
		    "executor: incomplete configuration");
	ex = calloc(1, sizeof(*ex));
	if (ex == NULL)
		return err_set(msg, SIGNET_ERR_ALLOC, "out of memory");
	memcpy(ex->host_id, cfg->host_id, strlen(cfg->host_id) + 1);
	ex->action_keys = *cfg->action_keys;
	ex->result_key = sodium_malloc(sizeof(*ex->result_key));
	if (ex->result_key == NULL) {
		free(ex);
		return err_set(msg, SIGNET_ERR_ALLOC, "out of memory");
	}
	*ex->result_key = *cfg->result_key;
	if (cfg->result_retired != NULL)
		ex->result_retired = *cfg->result_retired;
	ex->policy = cfg->policy;
	ex->roster = cfg->roster;
	ex->audit = cfg->audit;
	ex->stop_timeout = cfg->stop_timeout;
	ex->ops = *cfg->ops;
	ex->ops_arg = cfg->ops_arg;
	ex->on_result = cfg->on_result;
	ex->result_arg = cfg->result_arg;
	ex->on_refused = cfg->on_refused;
	ex->refused_arg = cfg->refused_arg;
	audit_limit_init(&ex->refused_lim, "frame.refused", &cfg->audit_limit);
	ex->outcome_poll_ms = cfg->outcome_poll_ms > 0 ?
	    cfg->outcome_poll_ms :
	    EXECUTOR_OUTCOME_POLL_MS;
	if (pthread_mutex_init(&ex->mu, NULL) != 0) {
		r = err_set(msg, SIGNET_ERR_INTERNAL, "pthread_mutex_init");
		goto fail;
	}
	ex->mu_ok = true;
	if (pthread_cond_init(&ex->cv, NULL) != 0) {
		r = err_set(msg, SIGNET_ERR_INTERNAL, "pthread_cond_init");
		goto fail;
	}
	ex->cv_ok = true;
	ex->seen = replay_new();
	ex->outbox = calloc(EXECUTOR_OUTBOX_MAX, sizeof(*ex->outbox));
	if (ex->seen == NULL || ex->outbox == NULL) {
		r = err_set(msg, SIGNET_ERR_ALLOC, "out of memory");
		goto fail;
	}
	r = executor_outcome_init(ex, msg);
	if (r != 0)
		goto fail;
	r = executor_recover(ex, cfg->audit_path, msg);
	if (r != 0)
		goto fail;
	*out = ex;
	return 0;
fail:
	executor_free(ex);
	return r;
}

void
executor_free(struct executor *ex)
{
	size_t i;

	if (ex == NULL)
		return;
	if (ex->mu_ok && ex->cv_ok)
		executor_stop(ex);
	for (i = 0; i < ex->qlen; i++) {
		free(ex->queue[i].data);
		wire_frame_free(&ex->queue[i].frame);
	}
	if (ex->outbox != NULL) {
		for (i = 0; i < ex->nout; i++)
			free(ex->outbox[i].frame);
		free(ex->outbox);
	}
	replay_free(ex->seen);
	executor_outcome_fini(ex);
	sodium_free(ex->result_key); /* wipes it; NULL allowed */
	if (ex->cv_ok)
		(void)pthread_cond_destroy(&ex->cv);
	if (ex->mu_ok)
		(void)pthread_mutex_destroy(&ex->mu);
	free(ex);
}
