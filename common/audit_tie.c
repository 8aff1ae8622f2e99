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

#include "text.h"

#define TIE_INITIAL 256 /* slots; doubled at 3/4 full */
#define TIE_ID_LEN 16   /* an action_id: 32 hex digits, as bytes */

/* What a result must match, kept until it comes. */
struct tie_pending {
	char host_id[64];
	char container_id[65];
	enum envelope_action action;
	char sha256[65]; /* of the exact signed action bytes */
};

/*
 * One action_id, in 32 bytes: req is 0, or its action.requested's seq + 1
 * (seqs are below 2^53) with TIE_PENDING set while the result is awaited,
 * when u.p holds what it must match; else u.res is 0, or its
 * action.result's seq + 1. A slot is free when req and u.res are 0.
 */
#define TIE_PENDING (UINT64_C(1) << 63)

struct tie_entry {
	uint8_t id[TIE_ID_LEN];
	uint64_t req;
	union {
		uint64_t res;
		struct tie_pending *p;
	} u;
};

static bool
slot_used(const struct tie_entry *e)
{
	return e->req != 0 || e->u.res != 0;
}

static bool
requested(const struct tie_entry *e, uint64_t *seq)
{
	*seq = (e->req & ~TIE_PENDING) - 1;
	return e->req != 0;
}

static bool
answered(const struct tie_entry *e, uint64_t *seq)
{
	if ((e->req & TIE_PENDING) != 0 || e->u.res == 0)
		return false;
	*seq = e->u.res - 1;
	return true;
}

struct audit_tie {
	struct tie_entry *slots;
	size_t cap, used;
	bool ids_only; /* requests keep no tie_pending */
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
	size_t i;

	if (t == NULL)
		return;
	for (i = 0; i < t->cap; i++)
		if ((t->slots[i].req & TIE_PENDING) != 0)
			free(t->slots[i].u.p);
	free(t->slots);
	free(t);
}

void
audit_tie_ids_only(struct audit_tie *t)
{
	t->ids_only = true;
}

static size_t
slot_of(const struct audit_tie *t, const struct tie_entry *slots, size_t cap,
    const uint8_t id[static TIE_ID_LEN])
{
	uint8_t h[crypto_shorthash_BYTES];
	uint64_t v;
	size_t i;

	(void)crypto_shorthash(h, id, TIE_ID_LEN, t->key);
	memcpy(&v, h, sizeof(v));
	for (i = (size_t)v & (cap - 1);
	     slot_used(&slots[i]) && memcmp(slots[i].id, id, TIE_ID_LEN) != 0;
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
		if (slot_used(&t->slots[i]))
			ns[slot_of(t, ns, ncap, t->slots[i].id)] = t->slots[i];
	free(t->slots);
	t->slots = ns;
	t->cap = ncap;
	return 0;
}

/*
 * The entry of action_id, found or a free slot for it (which the caller
 * fills, else it stays free): 0 with *out, or
 * SIGNET_ERR_FORMAT (not 32 lowercase hex digits) / SIGNET_ERR_ALLOC with
 * msg.
 */
static int
entry(struct audit_tie *t, const char *action_id, struct tie_entry **out,
    struct err_msg *msg)
{
	uint8_t id[TIE_ID_LEN];
	struct tie_entry *e;

	*out = NULL;
	if (!text_is_hex(action_id, 2 * TIE_ID_LEN) ||
	    sodium_hex2bin(id, sizeof(id), action_id, 2 * TIE_ID_LEN, NULL,
	        NULL, NULL) != 0)
		return err_set(msg, SIGNET_ERR_FORMAT,
		    "action_id is not %d lowercase hex digits", 2 * TIE_ID_LEN);
	if ((t->used + 1) * 4 > t->cap * 3 && grow(t) != 0)
		return err_set(msg, SIGNET_ERR_ALLOC,
		    "out of memory (actions of the log)");
	e = &t->slots[slot_of(t, t->slots, t->cap, id)];
	if (!slot_used(e)) {
		memset(e, 0, sizeof(*e));
		memcpy(e->id, id, sizeof(id));
		t->used++; /* counted even if left free: it only grows sooner */
	}
	*out = e;
	return 0;
}

void
audit_tie_item_action(const struct envelope_action_payload *act,
    const uint8_t *raw, size_t len, struct audit_tie_item *it)
{
	memset(it, 0, sizeof(*it));
	(void)snprintf(it->action_id, sizeof(it->action_id), "%s",
	    act->action_id);
	(void)snprintf(it->host_id, sizeof(it->host_id), "%s", act->host_id);
	(void)snprintf(it->container_id, sizeof(it->container_id), "%s",
	    act->container_id);
	it->action = act->action;
	envelope_sha256_hex(raw, len, it->sha256);
}

void
audit_tie_item_result(const struct envelope_result_payload *res,
    struct audit_tie_item *it)
{
	memset(it, 0, sizeof(*it));
	(void)snprintf(it->action_id, sizeof(it->action_id), "%s",
	    res->action_id);
	(void)snprintf(it->host_id, sizeof(it->host_id), "%s", res->host_id);
	(void)snprintf(it->container_id, sizeof(it->container_id), "%s",
	    res->container_id);
	it->action = res->action;
	(void)snprintf(it->sha256, sizeof(it->sha256), "%s",
	    res->request_sha256);
}

int
audit_tie_add_request(struct audit_tie *t, uint64_t seq,
    const struct audit_tie_item *it, struct err_msg *msg)
{
	struct tie_entry *e = NULL;
	struct tie_pending *p;
	uint64_t at = 0;
	int r;

	r = entry(t, it->action_id, &e, msg);
	if (r != 0)
		return r;
	if (requested(e, &at))
		return err_set(msg, SIGNET_ERR_CHAIN,
		    "action.requested: a second action.requested for "
		    "action_id %s (the first at seq %" PRIu64 ")",
		    it->action_id, at);
	if (answered(e, &at))
		return err_set(msg, SIGNET_ERR_CHAIN,
		    "action.requested: action_id %s was answered before it "
		    "was requested (action.result at seq %" PRIu64 ")",
		    it->action_id, at);
	if (seq >= TIE_PENDING - 1)
		return err_set(msg, SIGNET_ERR_FORMAT, "seq out of range");
	if (t->ids_only) {
		e->req = seq + 1;
		return 0;
	}
	p = malloc(sizeof(*p));
	if (p == NULL)
		return err_set(msg, SIGNET_ERR_ALLOC,
		    "out of memory (actions of the log)");
	memcpy(p->host_id, it->host_id, sizeof(p->host_id));
	memcpy(p->container_id, it->container_id, sizeof(p->container_id));
	p->action = it->action;
	memcpy(p->sha256, it->sha256, sizeof(p->sha256));
	e->req = (seq + 1) | TIE_PENDING;
	e->u.p = p;
	return 0;
}

int
audit_tie_request(struct audit_tie *t, uint64_t seq,
    const struct envelope_action_payload *act, const uint8_t *raw, size_t len,
    struct err_msg *msg)
{
	struct audit_tie_item it;

	audit_tie_item_action(act, raw, len, &it);
	return audit_tie_add_request(t, seq, &it, msg);
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

/* The signed result (it) against the action requested at seq (p). */
static int
check_tie(uint64_t req_seq, const struct tie_pending *p,
    const struct audit_tie_item *it, struct err_msg *msg)
{
	const char *ra = envelope_action_name(it->action),
	           *ea = envelope_action_name(p->action);

	if (strcmp(it->sha256, p->sha256) != 0)
		return err_set(msg, SIGNET_ERR_CHAIN,
		    "action.result: the signed request_sha256 is %s, but the "
		    "action.requested of action_id %s (seq %" PRIu64
		    ") has %s: the agent answered other action bytes",
		    it->sha256, it->action_id, req_seq, p->sha256);
	if (strcmp(it->host_id, p->host_id) != 0)
		return err_set(msg, SIGNET_ERR_CHAIN,
		    "action.result: the signed host_id is \"%s\", but the "
		    "action.requested of action_id %s (seq %" PRIu64
		    ") has \"%s\"",
		    it->host_id, it->action_id, req_seq, p->host_id);
	if (strcmp(it->container_id, p->container_id) != 0)
		return err_set(msg, SIGNET_ERR_CHAIN,
		    "action.result: the signed container_id is \"%s\", but "
		    "the action.requested of action_id %s (seq %" PRIu64
		    ") has \"%s\"",
		    it->container_id, it->action_id, req_seq, p->container_id);
	if (it->action != p->action)
		return err_set(msg, SIGNET_ERR_CHAIN,
		    "action.result: the signed action is \"%s\", but the "
		    "action.requested of action_id %s (seq %" PRIu64
		    ") has \"%s\"",
		    ra != NULL ? ra : "?", it->action_id, req_seq,
		    ea != NULL ? ea : "?");
	return 0;
}

int
audit_tie_check_record(const cJSON *data,
    const struct envelope_result_payload *res, bool *unknown,
    struct err_msg *msg)
{
	const cJSON *known = cJSON_GetObjectItemCaseSensitive(data,
	    "action_known");
	int r;

	*unknown = false;
	r = check_record(data, res, msg);
	if (r != 0)
		return r;
	if (known != NULL && !cJSON_IsBool(known))
		return err_set(msg, SIGNET_ERR_CHAIN,
		    "action.result: data.action_known must be true or false");
	*unknown = cJSON_IsFalse(known);
	return 0;
}

int
audit_tie_add_result(struct audit_tie *t, uint64_t seq,
    const struct audit_tie_item *it, bool unknown, bool may_precede,
    struct err_msg *msg)
{
	struct tie_entry *e = NULL;
	struct tie_pending *p;
	uint64_t at = 0, req_seq = 0;
	int r;

	r = entry(t, it->action_id, &e, msg);
	if (r != 0)
		return r;
	if (answered(e, &at))
		return err_set(msg, SIGNET_ERR_CHAIN,
		    "action.result: a second action.result for action_id %s "
		    "(the first at seq %" PRIu64 ")",
		    it->action_id, at);
	if (seq >= TIE_PENDING - 1)
		return err_set(msg, SIGNET_ERR_FORMAT, "seq out of range");
	if (requested(e, &req_seq) && (e->req & TIE_PENDING) == 0)
		return err_set(msg, SIGNET_ERR_INVALID_ARG,
		    "action.result: the table keeps no action to tie it to");
	if (requested(e, &req_seq)) {
		/* Answered: only its seqs are kept from now on. */
		p = e->u.p;
		r = check_tie(req_seq, p, it, msg);
		free(p);
		e->req &= ~TIE_PENDING;
		e->u.res = seq + 1;
		return r != 0 ? r : AUDIT_TIE_TIED;
	}
	e->u.res = seq + 1;
	if (unknown || may_precede)
		return AUDIT_TIE_UNTIED;
	return err_set(msg, SIGNET_ERR_CHAIN,
	    "action.result: no action.requested for action_id %s in the "
	    "files given, which start the log at seq 0: the result is not "
	    "tied to any action (a result the server did not know is "
	    "recorded with \"action_known\": false)",
	    it->action_id);
}

int
audit_tie_result(struct audit_tie *t, uint64_t seq, const cJSON *data,
    const struct envelope_result_payload *res, bool may_precede,
    struct err_msg *msg)
{
	struct audit_tie_item it;
	bool unknown = false;
	int r;

	r = audit_tie_check_record(data, res, &unknown, msg);
	if (r != 0)
		return r;
	audit_tie_item_result(res, &it);
	return audit_tie_add_result(t, seq, &it, unknown, may_precede, msg);
}
