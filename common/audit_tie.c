/* SPDX-License-Identifier: ISC */
/*
 * Ties of action.result records to their action.requested records, for
 * the offline verifier (common/audit_tie.h): an open-addressing table of
 * action_ids, hashed with a keyed SipHash so that action_ids chosen by
 * whoever wrote the log cannot pile up in one chain.
 */
#include "audit_tie.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#define TIE_INITIAL 256 /* slots; doubled at half full */

struct tie_entry {
	bool used;
	bool requested; /* an action.requested seen, at req_seq */
	bool answered;  /* an action.result seen, at res_seq */
	uint64_t req_seq, res_seq;
	char action_id[33];
	char host_id[64];
	char container_id[65];
	enum envelope_action action;
	char sha256[65]; /* of the exact signed action bytes */
};

struct audit_tie {
	struct tie_entry *slots;
	size_t cap, used;
	uint8_t key[crypto_shorthash_KEYBYTES];
};

int
audit_tie_new(struct audit_tie **out)
{
	struct audit_tie *t = calloc(1, sizeof(*t));

	*out = NULL;
	if (t == NULL)
		return SIGNET_ERR_ALLOC;
	t->slots = calloc(TIE_INITIAL, sizeof(*t->slots));
	if (t->slots == NULL) {
		free(t);
		return SIGNET_ERR_ALLOC;
	}
	t->cap = TIE_INITIAL;
	randombytes_buf(t->key, sizeof(t->key));
	*out = t;
	return 0;
}

void
audit_tie_free(struct audit_tie *t)
{
	if (t == NULL)
		return;
	free(t->slots);
	free(t);
}

static size_t
slot_of(const struct audit_tie *t, const struct tie_entry *slots, size_t cap,
    const char *action_id)
{
	uint8_t h[crypto_shorthash_BYTES];
	uint64_t v;
	size_t i;

	(void)crypto_shorthash(h, (const uint8_t *)action_id, strlen(action_id),
	    t->key);
	memcpy(&v, h, sizeof(v));
	for (i = (size_t)v & (cap - 1);
	     slots[i].used && strcmp(slots[i].action_id, action_id) != 0;
	     i = (i + 1) & (cap - 1))
		;
	return i;
}

static int
grow(struct audit_tie *t)
{
	struct tie_entry *ns;
	size_t ncap = t->cap * 2, i;

	if (ncap < t->cap || ncap > SIZE_MAX / sizeof(*ns))
		return SIGNET_ERR_ALLOC;
	ns = calloc(ncap, sizeof(*ns));
	if (ns == NULL)
		return SIGNET_ERR_ALLOC;
	for (i = 0; i < t->cap; i++)
		if (t->slots[i].used)
			ns[slot_of(t, ns, ncap, t->slots[i].action_id)] =
			    t->slots[i];
	free(t->slots);
	t->slots = ns;
	t->cap = ncap;
	return 0;
}

/* The entry of action_id, made (empty) if new; NULL when out of memory. */
static struct tie_entry *
entry(struct audit_tie *t, const char *action_id)
{
	struct tie_entry *e;

	if ((t->used + 1) * 2 > t->cap && grow(t) != 0)
		return NULL;
	e = &t->slots[slot_of(t, t->slots, t->cap, action_id)];
	if (!e->used) {
		memset(e, 0, sizeof(*e));
		e->used = true;
		(void)snprintf(e->action_id, sizeof(e->action_id), "%s",
		    action_id);
		t->used++;
	}
	return e;
}

int
audit_tie_request(struct audit_tie *t, uint64_t seq,
    const struct envelope_action_payload *act, const uint8_t *raw, size_t len,
    struct err_msg *msg)
{
	struct tie_entry *e = entry(t, act->action_id);

	if (e == NULL)
		return err_set(msg, SIGNET_ERR_ALLOC,
		    "out of memory (actions of the log)");
	if (e->requested)
		return err_set(msg, SIGNET_ERR_CHAIN,
		    "action.requested: a second action.requested for "
		    "action_id %s (the first at seq %" PRIu64 ")",
		    act->action_id, e->req_seq);
	if (e->answered)
		return err_set(msg, SIGNET_ERR_CHAIN,
		    "action.requested: action_id %s was answered before it "
		    "was requested (action.result at seq %" PRIu64 ")",
		    act->action_id, e->res_seq);
	e->requested = true;
	e->req_seq = seq;
	(void)snprintf(e->host_id, sizeof(e->host_id), "%s", act->host_id);
	(void)snprintf(e->container_id, sizeof(e->container_id), "%s",
	    act->container_id);
	e->action = act->action;
	envelope_sha256_hex(raw, len, e->sha256);
	return 0;
}

/* A string member of the record must equal the signed one, if present. */
static int
same_str(const cJSON *data, const char *name, bool required,
    const char *signed_value, struct err_msg *msg)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(data, name);

	if (v == NULL && !required)
		return 0;
	if (!cJSON_IsString(v))
		return err_set(msg, SIGNET_ERR_CHAIN,
		    "action.result: data.%s is missing or not a string "
		    "(the signed result's is \"%s\")",
		    name, signed_value);
	if (strcmp(v->valuestring, signed_value) != 0)
		return err_set(msg, SIGNET_ERR_CHAIN,
		    "action.result: data.%s is \"%.80s\", the signed "
		    "result's is \"%s\"",
		    name, v->valuestring, signed_value);
	return 0;
}

/* The record's own members against the signed result. */
static int
check_record(const cJSON *data, const struct envelope_result_payload *res,
    struct err_msg *msg)
{
	const char *st = envelope_status_name(res->status);
	const cJSON *ds = cJSON_GetObjectItemCaseSensitive(data,
	    "docker_status");
	int r;

	r = same_str(data, "action_id", true, res->action_id, msg);
	if (r == 0)
		r = same_str(data, "host_id", true, res->host_id, msg);
	if (r == 0)
		r = same_str(data, "status", true, st != NULL ? st : "?", msg);
	if (r == 0)
		r = same_str(data, "container_id", false, res->container_id,
		    msg);
	if (r != 0)
		return r;
	if (ds != NULL &&
	    (!cJSON_IsNumber(ds) ||
	        ds->valuedouble != (double)res->docker_status))
		return err_set(msg, SIGNET_ERR_CHAIN,
		    "action.result: data.docker_status is not the signed "
		    "result's %" PRId64,
		    res->docker_status);
	return 0;
}

/* The signed result against the action it names. */
static int
check_tie(const struct tie_entry *e, const struct envelope_result_payload *res,
    struct err_msg *msg)
{
	const char *ra = envelope_action_name(res->action),
	           *ea = envelope_action_name(e->action);

	if (strcmp(res->request_sha256, e->sha256) != 0)
		return err_set(msg, SIGNET_ERR_CHAIN,
		    "action.result: the signed request_sha256 is %s, but the "
		    "action.requested of action_id %s (seq %" PRIu64
		    ") has %s: the agent answered other action bytes",
		    res->request_sha256, e->action_id, e->req_seq, e->sha256);
	if (strcmp(res->host_id, e->host_id) != 0)
		return err_set(msg, SIGNET_ERR_CHAIN,
		    "action.result: the signed host_id is \"%s\", but the "
		    "action.requested of action_id %s (seq %" PRIu64
		    ") has \"%s\"",
		    res->host_id, e->action_id, e->req_seq, e->host_id);
	if (strcmp(res->container_id, e->container_id) != 0)
		return err_set(msg, SIGNET_ERR_CHAIN,
		    "action.result: the signed container_id is \"%s\", but "
		    "the action.requested of action_id %s (seq %" PRIu64
		    ") has \"%s\"",
		    res->container_id, e->action_id, e->req_seq,
		    e->container_id);
	if (res->action != e->action)
		return err_set(msg, SIGNET_ERR_CHAIN,
		    "action.result: the signed action is \"%s\", but the "
		    "action.requested of action_id %s (seq %" PRIu64
		    ") has \"%s\"",
		    ra != NULL ? ra : "?", e->action_id, e->req_seq,
		    ea != NULL ? ea : "?");
	return 0;
}

int
audit_tie_result(struct audit_tie *t, uint64_t seq, const cJSON *data,
    const struct envelope_result_payload *res, bool may_precede,
    struct err_msg *msg)
{
	const cJSON *known = cJSON_GetObjectItemCaseSensitive(data,
	    "action_known");
	struct tie_entry *e;
	int r;

	r = check_record(data, res, msg);
	if (r != 0)
		return r;
	if (known != NULL && !cJSON_IsBool(known))
		return err_set(msg, SIGNET_ERR_CHAIN,
		    "action.result: data.action_known must be true or false");
	e = entry(t, res->action_id);
	if (e == NULL)
		return err_set(msg, SIGNET_ERR_ALLOC,
		    "out of memory (actions of the log)");
	if (e->answered)
		return err_set(msg, SIGNET_ERR_CHAIN,
		    "action.result: a second action.result for action_id %s "
		    "(the first at seq %" PRIu64 ")",
		    res->action_id, e->res_seq);
	e->answered = true;
	e->res_seq = seq;
	if (e->requested) {
		r = check_tie(e, res, msg);
		return r != 0 ? r : AUDIT_TIE_TIED;
	}
	if (cJSON_IsFalse(known) || may_precede)
		return AUDIT_TIE_UNTIED;
	return err_set(msg, SIGNET_ERR_CHAIN,
	    "action.result: no action.requested for action_id %s in the "
	    "files given, which start the log at seq 0: the result is not "
	    "tied to any action (a result the server did not know is "
	    "recorded with \"action_known\": false)",
	    res->action_id);
}
