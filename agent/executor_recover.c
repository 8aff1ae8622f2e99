/* SPDX-License-Identifier: ISC */
/*
 * The executor's start: what it knew before a restart, rebuilt from its
 * own audit log. The seen set (replay.h) from every action record that
 * holds an action_id and expires_at; the outbox from the results recorded
 * in the last EXECUTOR_OUTBOX_KEEP_MS (verified under this agent's result
 * key); and each action recorded as received with no outcome after it
 * (the agent died while dockerd worked on it) answered FAILURE "outcome
 * unknown", never run a second time. Outcomes: each signed action.outcome
 * of the window goes back into the outcome outbox, and each UNKNOWN
 * action.executed of the window with no action.outcome after it is
 * followed again (executor_outcome.c), from the state_before it recorded.
 */
#include "executor.h"
#include "executor_int.h"

#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "replay.h"
#include "text.h"
#include "wire.h"

struct pending {
	char action_id[33];
	char *payload_b64;
	char *sig_b64;
	char key_id[65];
	int64_t ts;
	bool dispatched; /* action.dispatched recorded: dockerd was asked */
	bool has_before;
	struct outcome_state before; /* ... with this state before */
};

/*
 * data.NAME of a record, an embedded {"payload","sig"}: its two texts, or
 * false when it has none.
 */
static bool
record_envelope(const struct audit_record *rec, const char *name,
    const char **payload, const char **sig)
{
	const cJSON *env = cJSON_GetObjectItemCaseSensitive(rec->data, name);
	const cJSON *p = cJSON_GetObjectItemCaseSensitive(env, "payload");
	const cJSON *s = cJSON_GetObjectItemCaseSensitive(env, "sig");

	if (!cJSON_IsString(p) || !cJSON_IsString(s))
		return false;
	*payload = p->valuestring;
	*sig = s->valuestring;
	return true;
}

/*
 * The key of index i in the order results are checked at start: this
 * agent's result key, then the keys it replaced ([keys] result_retired),
 * whose results from before a rotation go out as they were signed (the
 * server checks them under the host's retired keys). NULL past the end.
 */
static const struct keys_public *
recover_key(const struct executor *ex, size_t i)
{
	if (i == 0)
		return &ex->result_key->pub;
	return i - 1 < ex->result_retired.count ?
	    &ex->result_retired.keys[i - 1] :
	    NULL;
}

/*
 * A result record: its result goes back into the outbox. True, with the
 * result in *res, when the record held one that verified.
 */
static bool
reload_result(struct executor *ex, const struct audit_record *rec,
    struct envelope_result_payload *res)
{
	const char *payload = NULL, *sig = NULL;
	struct err_msg m;
	struct err_msg sub;
	size_t frame_len = 0, i;
	char *frame = NULL;
	int r;

	if (!record_envelope(rec, "result", &payload, &sig))
		return false;
	err_clear(&m);
	r = SIGNET_ERR_BAD_SIGNATURE;
	for (i = 0; r == SIGNET_ERR_BAD_SIGNATURE && recover_key(ex, i) != NULL;
	     i++)
		r = envelope_result_verify(recover_key(ex, i), payload, sig,
		    res, NULL, NULL, i == 0 ? &m : &sub);
	if (r != 0) {
		log_warn("audit record %llu: its result does not verify under "
		         "this agent's result key (%s); not re-sent",
		    (unsigned long long)rec->seq, m.text);
		return false;
	}
	if (wire_build_result(payload, sig, &frame, &frame_len) != 0) {
		log_error("out of memory reloading the result of action %s",
		    res->action_id);
		return true;
	}
	executor_outbox_reload(ex, res->action_id, res->request_sha256, frame,
	    frame_len, rec->ts);
	return true;
}

/* An action.outcome record: its signed outcome goes out again. */
static void
reload_outcome(struct executor *ex, const struct audit_record *rec)
{
	const char *payload = NULL, *sig = NULL;
	struct outcome_payload p;
	struct err_msg m, sub;
	size_t i;
	int r;

	if (!record_envelope(rec, "outcome", &payload, &sig))
		return;
	err_clear(&m);
	r = SIGNET_ERR_BAD_SIGNATURE;
	for (i = 0; r == SIGNET_ERR_BAD_SIGNATURE && recover_key(ex, i) != NULL;
	     i++)
		r = outcome_verify(recover_key(ex, i), payload, sig, &p, NULL,
		    NULL, i == 0 ? &m : &sub);
	if (r != 0) {
		log_warn("audit record %llu: its outcome does not verify under "
		         "this agent's result key (%s); not re-sent",
		    (unsigned long long)rec->seq, m.text);
		return;
	}
	executor_outcome_reload(ex, p.action_id, p.request_sha256, payload,
	    sig);
}

/*
 * An UNKNOWN action.executed, its result verified (res: the facts come
 * from our own signed result, not the record): followed again unless an
 * outcome shows.
 */
static void
note_unknown(struct executor *ex, const struct audit_record *rec,
    const struct envelope_result_payload *res)
{
	struct outcome_state before;
	const cJSON *sb;
	struct err_msg m;
	bool has_before;

	if (res->status != ENVELOPE_STATUS_UNKNOWN)
		return;
	err_clear(&m);
	sb = cJSON_GetObjectItemCaseSensitive(rec->data, "state_before");
	has_before = cJSON_IsObject(sb) &&
	    outcome_state_from_json(sb, "state_before", &before, &m) == 0;
	executor_followup_add(ex, res->action_id, res->container_id,
	    res->action, res->request_sha256, has_before ? &before : NULL,
	    rec->ts);
}

/* An action.outcome: its action is no longer followed. */
static void
note_outcome_known(struct executor *ex, const struct audit_record *rec)
{
	const cJSON *id = cJSON_GetObjectItemCaseSensitive(rec->data,
	    "action_id");
	size_t i;

	if (!cJSON_IsString(id))
		return;
	executor_lock(ex);
	for (i = 0; i < ex->nfollow; i++) {
		if (strcmp(ex->follow[i].action_id, id->valuestring) != 0)
			continue;
		ex->follow[i] = ex->follow[ex->nfollow - 1];
		ex->nfollow--;
		break;
	}
	executor_unlock(ex);
}

static void
pending_free(struct pending *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		free(p[i].payload_b64);
		free(p[i].sig_b64);
	}
	free(p);
}

/* An action.received record: remembered until its outcome shows. */
static void
note_received(const struct audit_record *rec, struct pending *p, size_t *n)
{
	const cJSON *id, *env, *pl, *sg, *kid;

	id = cJSON_GetObjectItemCaseSensitive(rec->data, "action_id");
	env = cJSON_GetObjectItemCaseSensitive(rec->data, "action");
	pl = cJSON_GetObjectItemCaseSensitive(env, "payload");
	sg = cJSON_GetObjectItemCaseSensitive(env, "sig");
	kid = cJSON_GetObjectItemCaseSensitive(env, "key_id");
	if (!cJSON_IsString(id) || !text_is_hex(id->valuestring, 32) ||
	    !cJSON_IsString(pl) || !cJSON_IsString(sg) ||
	    !cJSON_IsString(kid) || strlen(kid->valuestring) > 64)
		return;
	if (*n == EXECUTOR_RECOVER_MAX) {
		log_error("more than %d actions without an outcome in the "
		          "audit log; action %s gets no answer",
		    EXECUTOR_RECOVER_MAX, id->valuestring);
		return;
	}
	memset(&p[*n], 0, sizeof(p[*n]));
	memcpy(p[*n].action_id, id->valuestring, 33);
	memcpy(p[*n].key_id, kid->valuestring, strlen(kid->valuestring) + 1);
	p[*n].payload_b64 = strdup(pl->valuestring);
	p[*n].sig_b64 = strdup(sg->valuestring);
	p[*n].ts = rec->ts;
	if (p[*n].payload_b64 == NULL || p[*n].sig_b64 == NULL) {
		free(p[*n].payload_b64);
		free(p[*n].sig_b64);
		log_error("out of memory: action %s gets no answer",
		    id->valuestring);
		return;
	}
	(*n)++;
}

/* An action.dispatched record: dockerd was asked about that action. */
static void
note_dispatched(const struct audit_record *rec, struct pending *p, size_t n)
{
	const cJSON *id, *sb;
	struct err_msg m;
	size_t i;

	id = cJSON_GetObjectItemCaseSensitive(rec->data, "action_id");
	if (!cJSON_IsString(id))
		return;
	for (i = 0; i < n; i++) {
		if (strcmp(p[i].action_id, id->valuestring) != 0)
			continue;
		p[i].dispatched = true;
		sb = cJSON_GetObjectItemCaseSensitive(rec->data,
		    "state_before");
		p[i].has_before = cJSON_IsObject(sb) &&
		    outcome_state_from_json(sb, "state_before", &p[i].before,
		        &m) == 0;
		return;
	}
}

static void
note_outcome(const struct audit_record *rec, struct pending *p, size_t *n)
{
	const cJSON *id;
	size_t i;

	id = cJSON_GetObjectItemCaseSensitive(rec->data, "action_id");
	if (!cJSON_IsString(id))
		return;
	for (i = 0; i < *n; i++) {
		if (strcmp(p[i].action_id, id->valuestring) != 0)
			continue;
		free(p[i].payload_b64);
		free(p[i].sig_b64);
		p[i] = p[*n - 1];
		(*n)--;
		return;
	}
}

/*
 * Answers an action that was received but never finished, by what the log
 * proves: with action.dispatched dockerd was asked, so UNKNOWN (and its
 * outcome is followed up); without it dockerd never was: FAILURE "not
 * run". Never run again either way.
 */
static void
recover(struct executor *ex, const struct pending *p)
{
	struct executor_outcome out;
	struct executor_act act;
	struct err_msg m;
	int r;

	memset(&act, 0, sizeof(act));
	memset(&out, 0, sizeof(out));
	act.out = &out;
	act.rule = -1;
	act.started_at = executor_now_ms(ex);
	act.payload_b64 = p->payload_b64;
	act.sig_b64 = p->sig_b64;
	act.key_id = p->key_id;
	err_clear(&m);
	r = text_b64_decode(p->payload_b64, strlen(p->payload_b64),
	    ENVELOPE_ACTION_PAYLOAD_MAX, &act.raw, &act.raw_len);
	if (r == 0)
		r = envelope_action_decode(act.raw, act.raw_len, &act.a, &m);
	if (r != 0) {
		log_error("action %s: its recorded payload does not decode "
		          "(%s); no answer",
		    p->action_id, err_str(r));
		goto out;
	}
	envelope_sha256_hex(act.raw, act.raw_len, act.sha);
	act.have_sha = true;
	act.have_container = true;
	act.have_action = true;
	act.authentic = true;
	if (p->dispatched) {
		log_warn("action %s was received at %lld and dockerd was "
		         "asked, but no answer is recorded: answering UNKNOWN "
		         "and finding out what dockerd did (not run again)",
		    p->action_id, (long long)p->ts);
		act.has_before = p->has_before;
		act.before = p->before;
		executor_finish(ex, &act, ENVELOPE_STATUS_UNKNOWN, 0,
		    "outcome unknown: dockerd was asked to act (action."
		    "dispatched recorded) but the agent stopped before its "
		    "answer was recorded; its outcome follows",
		    true);
		if (out.has_result)
			executor_followup_add(ex, act.a.action_id,
			    act.a.container_id, act.a.action, act.sha,
			    p->has_before ? &p->before : NULL, p->ts);
	} else {
		log_warn("action %s was received at %lld but dockerd was "
		         "never asked (no action.dispatched recorded): "
		         "answering FAILURE not run (not run again)",
		    p->action_id, (long long)p->ts);
		executor_finish(ex, &act, ENVELOPE_STATUS_FAILURE, 0,
		    "not run: the agent stopped (or could not record the "
		    "dispatch) before it asked dockerd; dockerd was not called",
		    true);
	}
	executor_lock(ex);
	ex->stats.recovered++;
	executor_unlock(ex);
out:
	free(act.raw);
}

static int
reload_log(struct executor *ex, const char *path, struct err_msg *msg)
{
	struct audit_reader *rd = NULL;
	struct pending *pend = NULL;
	size_t npend = 0, i;
	int64_t since = executor_now_ms(ex) - EXECUTOR_OUTBOX_KEEP_MS;
	int r;

	/* Rotated files too: the window may span a rotation. */
	r = audit_reader_open_since(path, since, &rd, msg);
	if (r == SIGNET_ERR_NOT_FOUND)
		return 0;
	if (r != 0)
		return r;
	pend = calloc(EXECUTOR_RECOVER_MAX, sizeof(*pend));
	if (pend == NULL) {
		r = err_set(msg, SIGNET_ERR_ALLOC, "out of memory");
		goto out;
	}
	for (;;) {
		struct envelope_result_payload res;
		struct audit_record rec;

		r = audit_reader_next_record(rd, &rec, msg);
		if (r < 0)
			goto out;
		if (r == 0)
			break;
		if (strcmp(rec.event, "action.received") == 0) {
			if (rec.ts >= since)
				note_received(&rec, pend, &npend);
		} else if (strcmp(rec.event, "action.dispatched") == 0) {
			note_dispatched(&rec, pend, npend);
		} else if (strcmp(rec.event, "action.executed") == 0 ||
		    strcmp(rec.event, "policy.denied") == 0 ||
		    strcmp(rec.event, "action.rejected") == 0) {
			bool executed = strcmp(rec.event, "action.executed") ==
			    0;

			if (executed)
				note_outcome(&rec, pend, &npend);
			if (rec.ts >= since && reload_result(ex, &rec, &res) &&
			    executed)
				note_unknown(ex, &rec, &res);
		} else if (strcmp(rec.event, "action.outcome") == 0) {
			note_outcome_known(ex, &rec);
			if (rec.ts >= since)
				reload_outcome(ex, &rec);
		}
		audit_record_free(&rec);
	}
	for (i = 0; i < npend; i++)
		recover(ex, &pend[i]);
	r = 0;
out:
	if (pend != NULL)
		pending_free(pend, npend);
	audit_reader_close(rd);
	return r;
}

int
executor_recover(struct executor *ex, const char *path, struct err_msg *msg)
{
	size_t loaded = 0;
	int r;

	r = replay_load_audit_longer(ex->seen, path, executor_now_ms(ex),
	    policy_store_max_wait_ms(ex->policy), &loaded, msg);
	if (r != 0)
		return r;
	ex->stats.ids_loaded = loaded;
	return reload_log(ex, path, msg);
}
