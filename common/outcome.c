/* SPDX-License-Identifier: ISC */
/*
 * Outcome payloads (outcome.h): the comparison of a container's state
 * before and after a call whose answer never came, and the signed,
 * strictly parsed document that reports it.
 */
#include "outcome.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonx.h"
#include "text.h"

#define OUTCOME_DEPTH 4 /* payload -> before -> member */

static const char *const observed_names[] = { NULL, "ran", "not_run",
	"undetermined" };

const char *
outcome_observed_name(enum outcome_observed o)
{
	int i = (int)o;

	return i > 0 &&
	        i < (int)(sizeof(observed_names) / sizeof(observed_names[0])) ?
	    observed_names[i] :
	    NULL;
}

static enum outcome_observed
observed_parse(const char *s)
{
	size_t i;

	for (i = 1; i < sizeof(observed_names) / sizeof(observed_names[0]);
	     i++) {
		if (strcmp(s, observed_names[i]) == 0)
			return (enum outcome_observed)i;
	}
	return OUTCOME_NONE;
}

bool
outcome_time_valid(const char *s)
{
	size_t i, n = strlen(s);

	if (n == 0 || n > OUTCOME_TIME_MAX)
		return false;
	for (i = 0; i < n; i++) {
		char c = s[i];

		if (!((c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') ||
		        c == ':' || c == '.' || c == '+' || c == '-'))
			return false;
	}
	return true;
}

enum outcome_observed
outcome_compare(enum envelope_action action, const struct outcome_state *before,
    const struct outcome_state *after, char *detail, size_t detail_len)
{
	bool started, finished;

	if (before == NULL) {
		(void)snprintf(detail, detail_len,
		    "the container's state before the call is not known: "
		    "nothing to compare with");
		return OUTCOME_UNDETERMINED;
	}
	if (after->restart_count != before->restart_count) {
		(void)snprintf(detail, detail_len,
		    "the restart policy restarted the container too "
		    "(RestartCount %lld -> %lld): cannot tell which did what",
		    (long long)before->restart_count,
		    (long long)after->restart_count);
		return OUTCOME_UNDETERMINED;
	}
	started = strcmp(before->started_at, after->started_at) != 0;
	finished = strcmp(before->finished_at, after->finished_at) != 0;
	switch (action) {
	case ENVELOPE_ACTION_START:
	case ENVELOPE_ACTION_RESTART:
		(void)snprintf(detail, detail_len,
		    started ? "StartedAt changed: the container was started "
		              "after the call" :
		              "StartedAt unchanged: the container was not "
		              "started after the call");
		return started ? OUTCOME_RAN : OUTCOME_NOT_RUN;
	case ENVELOPE_ACTION_STOP:
		if (finished && !after->running) {
			(void)snprintf(detail, detail_len,
			    "FinishedAt changed and it is not running: the "
			    "container stopped after the call");
			return OUTCOME_RAN;
		}
		if (!before->running && !after->running) {
			(void)snprintf(detail, detail_len,
			    "it was not running before the call and is not "
			    "now: nothing was stopped");
			return OUTCOME_NOT_RUN;
		}
		(void)snprintf(detail, detail_len,
		    after->running && !started ?
		        "still running since the same StartedAt: the "
		        "container was not stopped" :
		        "the container stopped and started again: cannot tell "
		        "what the call did");
		return after->running && !started ? OUTCOME_NOT_RUN :
		                                    OUTCOME_UNDETERMINED;
	default:
		(void)snprintf(detail, detail_len, "unknown action");
		return OUTCOME_UNDETERMINED;
	}
}

cJSON *
outcome_state_json(const struct outcome_state *st)
{
	cJSON *o = cJSON_CreateObject();

	if (o == NULL ||
	    cJSON_AddBoolToObject(o, "running", st->running) == NULL ||
	    cJSON_AddNumberToObject(o, "pid", (double)st->pid) == NULL ||
	    cJSON_AddNumberToObject(o, "restart_count",
	        (double)st->restart_count) == NULL ||
	    cJSON_AddStringToObject(o, "started_at", st->started_at) == NULL ||
	    cJSON_AddStringToObject(o, "finished_at", st->finished_at) ==
	        NULL) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}

/* A time member: a string outcome_time_valid accepts, into out. */
static int
take_time(const cJSON *o, const char *key, const char *path, char *out,
    size_t outlen, struct err_msg *msg)
{
	const char *s = NULL;
	int r;

	r = jsonx_get_string(o, key, false, path, &s, msg);
	if (r != 0)
		return r;
	if (!outcome_time_valid(s) || strlen(s) >= outlen)
		return err_set(msg, SIGNET_ERR_FORMAT,
		    "%s.%s: not a time (1 to %d of 0-9 A-Z : . + -)", path, key,
		    OUTCOME_TIME_MAX);
	memcpy(out, s, strlen(s) + 1);
	return 0;
}

int
outcome_state_from_json(const cJSON *o, const char *path,
    struct outcome_state *out, struct err_msg *msg)
{
	static const char *const members[] = { "running", "pid",
		"restart_count", "started_at", "finished_at", NULL };
	const cJSON *running;
	int r;

	memset(out, 0, sizeof(*out));
	if (!cJSON_IsObject(o))
		return err_set(msg, SIGNET_ERR_FORMAT, "%s: not an object",
		    path);
	r = jsonx_only_members(o, members, path, msg);
	if (r != 0)
		return r;
	running = cJSON_GetObjectItemCaseSensitive(o, "running");
	if (!cJSON_IsBool(running))
		return err_set(msg, SIGNET_ERR_FORMAT,
		    "%s.running: must be true or false", path);
	out->running = cJSON_IsTrue(running);
	r = jsonx_get_int64(o, "pid", 0, OUTCOME_PID_MAX, path, &out->pid, msg);
	if (r == 0)
		r = jsonx_get_int64(o, "restart_count", 0, OUTCOME_COUNT_MAX,
		    path, &out->restart_count, msg);
	if (r == 0)
		r = take_time(o, "started_at", path, out->started_at,
		    sizeof(out->started_at), msg);
	if (r == 0)
		r = take_time(o, "finished_at", path, out->finished_at,
		    sizeof(out->finished_at), msg);
	return r;
}

/* A state or null. */
static bool
add_state(cJSON *o, const char *key, bool has, const struct outcome_state *st)
{
	cJSON *v = has ? outcome_state_json(st) : cJSON_CreateNull();

	if (v == NULL || !cJSON_AddItemToObject(o, key, v)) {
		cJSON_Delete(v);
		return false;
	}
	return true;
}

cJSON *
outcome_record(const struct outcome_payload *p, const char *payload_b64,
    const char *sig_b64)
{
	cJSON *o = cJSON_CreateObject(), *e;
	bool ok = o != NULL;

	ok = ok && cJSON_AddStringToObject(o, "host_id", p->host_id) != NULL &&
	    cJSON_AddStringToObject(o, "action_id", p->action_id) != NULL &&
	    cJSON_AddStringToObject(o, "container_id", p->container_id) !=
	        NULL &&
	    cJSON_AddStringToObject(o, "action_name",
	        envelope_action_name(p->action)) != NULL &&
	    cJSON_AddStringToObject(o, "request_sha256", p->request_sha256) !=
	        NULL &&
	    cJSON_AddStringToObject(o, "observed",
	        outcome_observed_name(p->observed)) != NULL &&
	    cJSON_AddStringToObject(o, "detail", p->detail) != NULL &&
	    cJSON_AddNumberToObject(o, "observed_at", (double)p->observed_at) !=
	        NULL &&
	    add_state(o, "state_before", p->has_before, &p->before) &&
	    add_state(o, "state_after", p->has_after, &p->after);
	e = ok ? cJSON_AddObjectToObject(o, "outcome") : NULL;
	ok = ok && e != NULL &&
	    cJSON_AddStringToObject(e, "payload", payload_b64) != NULL &&
	    cJSON_AddStringToObject(e, "sig", sig_b64) != NULL;
	if (!ok) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}

static bool
payload_valid(const struct outcome_payload *p)
{
	return text_is_hex(p->action_id, 32) && text_valid_name(p->host_id) &&
	    text_is_hex(p->container_id, 64) &&
	    envelope_action_name(p->action) != NULL &&
	    text_is_hex(p->request_sha256, 64) &&
	    outcome_observed_name(p->observed) != NULL &&
	    strlen(p->detail) <= OUTCOME_DETAIL_BYTES &&
	    text_utf8_valid(p->detail, strlen(p->detail)) &&
	    (!p->has_before ||
	        (outcome_time_valid(p->before.started_at) &&
	            outcome_time_valid(p->before.finished_at))) &&
	    (!p->has_after ||
	        (outcome_time_valid(p->after.started_at) &&
	            outcome_time_valid(p->after.finished_at))) &&
	    p->observed_at >= 0 && p->observed_at <= JSONX_INT_MAX;
}

int
outcome_sign(const struct outcome_payload *p, const struct keys_secret *key,
    struct envelope *env)
{
	cJSON *o = NULL;
	char *json = NULL;
	bool ok;
	int r;

	memset(env, 0, sizeof(*env));
	if (!payload_valid(p))
		return SIGNET_ERR_INVALID_ARG;
	o = cJSON_CreateObject();
	ok = o != NULL && cJSON_AddNumberToObject(o, "v", 1) != NULL &&
	    cJSON_AddStringToObject(o, "action_id", p->action_id) != NULL &&
	    cJSON_AddStringToObject(o, "host_id", p->host_id) != NULL &&
	    cJSON_AddStringToObject(o, "container_id", p->container_id) !=
	        NULL &&
	    cJSON_AddStringToObject(o, "action",
	        envelope_action_name(p->action)) != NULL &&
	    cJSON_AddStringToObject(o, "request_sha256", p->request_sha256) !=
	        NULL &&
	    cJSON_AddStringToObject(o, "observed",
	        outcome_observed_name(p->observed)) != NULL &&
	    cJSON_AddStringToObject(o, "detail", p->detail) != NULL &&
	    add_state(o, "before", p->has_before, &p->before) &&
	    add_state(o, "after", p->has_after, &p->after) &&
	    cJSON_AddNumberToObject(o, "observed_at", (double)p->observed_at) !=
	        NULL;
	if (ok)
		json = cJSON_PrintUnformatted(o);
	if (json == NULL) {
		r = SIGNET_ERR_ALLOC;
		goto out;
	}
	r = envelope_sign(OUTCOME_CTX, json, strlen(json), key, env);
out:
	free(json);
	cJSON_Delete(o);
	return r;
}

/* A hex member of exactly n digits into out (n + 1 bytes). */
static int
take_hex(const cJSON *root, const char *key, size_t n, char *out,
    struct err_msg *msg)
{
	const char *s = NULL;
	int r;

	r = jsonx_get_string(root, key, false, "outcome", &s, msg);
	if (r != 0)
		return r;
	if (!text_is_hex(s, n))
		return err_set(msg, SIGNET_ERR_FORMAT,
		    "outcome.%s: must be %zu lowercase hex digits", key, n);
	memcpy(out, s, n + 1);
	return 0;
}

/* before/after: a state or null. */
static int
take_state(const cJSON *root, const char *key, bool *has,
    struct outcome_state *st, struct err_msg *msg)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, key);
	char path[32];

	*has = false;
	if (v == NULL)
		return err_set(msg, SIGNET_ERR_FORMAT,
		    "outcome.%s: missing (object or null)", key);
	if (cJSON_IsNull(v))
		return 0;
	(void)snprintf(path, sizeof(path), "outcome.%s", key);
	*has = true;
	return outcome_state_from_json(v, path, st, msg);
}

static int
decode(const uint8_t *buf, size_t len, struct outcome_payload *out,
    struct err_msg *msg)
{
	static const char *const members[] = { "v", "action_id", "host_id",
		"container_id", "action", "request_sha256", "observed",
		"detail", "before", "after", "observed_at", NULL };
	cJSON *root = NULL;
	const char *s = NULL;
	int64_t v = 0;
	int r;

	memset(out, 0, sizeof(*out));
	r = jsonx_parse_object("outcome", buf, len, OUTCOME_DEPTH, &root, msg);
	if (r == 0)
		r = jsonx_only_members(root, members, "outcome", msg);
	if (r == 0)
		r = jsonx_get_int64(root, "v", 1, 1, "outcome", &v, msg);
	if (r == 0)
		r = take_hex(root, "action_id", 32, out->action_id, msg);
	if (r == 0)
		r = jsonx_get_string(root, "host_id", false, "outcome", &s,
		    msg);
	if (r == 0 &&
	    (!text_valid_name(s) || strlen(s) >= sizeof(out->host_id)))
		r = err_set(msg, SIGNET_ERR_FORMAT,
		    "outcome.host_id: not a valid name");
	if (r == 0)
		memcpy(out->host_id, s, strlen(s) + 1);
	if (r == 0)
		r = take_hex(root, "container_id", 64, out->container_id, msg);
	if (r == 0)
		r = jsonx_get_string(root, "action", false, "outcome", &s, msg);
	if (r == 0 &&
	    (out->action = envelope_action_parse(s)) == ENVELOPE_ACTION_NONE)
		r = err_set(msg, SIGNET_ERR_FORMAT,
		    "outcome.action: not START, STOP or RESTART");
	if (r == 0)
		r = take_hex(root, "request_sha256", 64, out->request_sha256,
		    msg);
	if (r == 0)
		r = jsonx_get_string(root, "observed", false, "outcome", &s,
		    msg);
	if (r == 0 && (out->observed = observed_parse(s)) == OUTCOME_NONE)
		r = err_set(msg, SIGNET_ERR_FORMAT,
		    "outcome.observed: not ran, not_run or undetermined");
	if (r == 0)
		r = jsonx_get_string(root, "detail", false, "outcome", &s, msg);
	if (r == 0 && strlen(s) > OUTCOME_DETAIL_BYTES)
		r = err_set(msg, SIGNET_ERR_FORMAT,
		    "outcome.detail: over %d bytes", OUTCOME_DETAIL_BYTES);
	if (r == 0)
		memcpy(out->detail, s, strlen(s) + 1);
	if (r == 0)
		r = take_state(root, "before", &out->has_before, &out->before,
		    msg);
	if (r == 0)
		r = take_state(root, "after", &out->has_after, &out->after,
		    msg);
	if (r == 0)
		r = jsonx_get_int64(root, "observed_at", 0, JSONX_INT_MAX,
		    "outcome", &out->observed_at, msg);
	cJSON_Delete(root);
	if (r != 0)
		memset(out, 0, sizeof(*out));
	return r;
}

int
outcome_verify(const struct keys_public *pub, const char *payload_b64,
    const char *sig_b64, struct outcome_payload *out, uint8_t **raw,
    size_t *raw_len, struct err_msg *msg)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	int r;

	memset(out, 0, sizeof(*out));
	if (raw != NULL)
		*raw = NULL;
	if (raw_len != NULL)
		*raw_len = 0;
	r = envelope_open(OUTCOME_CTX, payload_b64, sig_b64, pub, &buf, &len,
	    msg);
	if (r != 0)
		return r;
	r = decode(buf, len, out, msg);
	if (r == 0 && raw != NULL) {
		*raw = buf;
		buf = NULL;
		if (raw_len != NULL)
			*raw_len = len;
	}
	free(buf);
	return r;
}
