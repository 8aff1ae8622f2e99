/* SPDX-License-Identifier: ISC */
/*
 * Offline verification of an audit log: every line parses, carries the
 * next seq, links to the previous line's hash, and is signed by the
 * writer's audit key; embedded action and result envelopes verify under
 * the server's action key and each agent's result key. A rotated log is
 * verified as its files in order, each file's audit.rotated opening
 * record checked against the end of the file before it. Each
 * action.result is tied to its action.requested (common/audit_tie.h),
 * and each verified action's operator request is judged against the
 * rosters given (common/audit_request.h).
 *
 * Each line's checks come in two parts: line_check, what needs the line
 * alone (parse, signatures, envelopes: nearly all the time), and
 * line_apply, what needs the lines before it (seq, prev, ties, counts,
 * findings, the expected head), made in the order one pass would make
 * them, so that the first failure and the counts are the same however
 * the first parts ran: on the caller's thread (jobs 0 or 1), or on worker
 * threads over batches of lines (verify_parallel) with the second parts
 * on the caller's thread in log order.
 */
#include "audit.h"
#include "audit_request.h"
#include "audit_tie.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "envelope.h"
#include "jsonx.h"
#include "keyset.h"
#include "outcome.h"
#include "text.h"

void
audit_head_format(const struct audit_head *head,
    char text[static AUDIT_HEAD_TEXT_MAX])
{
	(void)snprintf(text, AUDIT_HEAD_TEXT_MAX, "%" PRIu64 ":%s", head->seq,
	    head->hash);
}

int
audit_head_parse(const char *s, struct audit_head *head)
{
	const char *colon;
	char num[24];
	int64_t seq = 0;
	size_t n;

	memset(head, 0, sizeof(*head));
	colon = s != NULL ? strchr(s, ':') : NULL;
	if (colon == NULL)
		return SIGNET_ERR_FORMAT;
	n = (size_t)(colon - s);
	if (n == 0 || n >= sizeof(num))
		return SIGNET_ERR_FORMAT;
	memcpy(num, s, n);
	num[n] = '\0';
	if (num[0] == '-' || text_to_int64(num, 0, JSONX_INT_MAX, &seq) != 0)
		return SIGNET_ERR_FORMAT;
	if (!text_is_hex(colon + 1, AUDIT_HASH_HEX))
		return SIGNET_ERR_FORMAT;
	head->seq = (uint64_t)seq;
	memcpy(head->hash, colon + 1, AUDIT_HASH_HEX + 1);
	return 0;
}

/* ---- the checks of one line that need nothing but the line ---- */

/*
 * The agent keys read so far, by host: each worker (and the serial path)
 * keeps its own, so that a result does not read its host's key file
 * again. Only keys that loaded are kept; a host whose file is missing or
 * bad is read again (and refused again) each time.
 */
#define KEY_CACHE_MAX 64

struct key_cache {
	size_t n, next;
	size_t last_sig; /* the log key that verified the last line */
	struct {
		char host[64];
		struct keyset ks;
	} e[KEY_CACHE_MAX];
};

/* No key of the log's own (vline's sig_key, started_key). */
#define NO_KEY 0xff

/*
 * Where a line's first failure lies among the checks check_line makes in
 * this order: parse; seq and prev (in order, not here); the audit
 * signature; the embedded action; its operator request; the embedded
 * result; the result's record against it; the embedded outcome; an
 * audit.rotated record's link.
 */
enum vstage {
	VS_NONE = 0,
	VS_PARSE,
	VS_SIG,
	VS_ACTION,
	VS_REQUEST,
	VS_RESULT,
	VS_TIE,
	VS_OUTCOME,
	VS_LINK,
};

/* How an embedded envelope was counted. */
enum vcount { VC_NONE = 0, VC_CHECKED, VC_UNCHECKED };

/*
 * What the checks that need no state found in one line, for the checks
 * in log order (line_apply). Filled up to the first failure (fail).
 */
struct vline {
	enum vstage fail;
	uint64_t seq;
	char prev[AUDIT_HASH_HEX + 1];
	char hash[AUDIT_HASH_HEX + 1];      /* of this line */
	uint8_t actions, results, outcomes; /* enum vcount */
	bool judged;        /* an operator request judged: verdict */
	bool tie_request;   /* an action.requested to remember: item */
	bool tie_result;    /* an action.result to tie: item */
	bool unknown;       /* its "action_known": false */
	bool torn, rotated; /* audit.torn_tail, audit.rotated */
	/*
	 * The index of the log key the line verified under (log_key), and
	 * for an agent.started naming its result key, that key's (else
	 * NO_KEY).
	 */
	uint8_t sig_key, started_key;
	enum audit_request_verdict verdict;
	struct audit_request_finding *finding; /* for on_request; owned */
	struct audit_tie_item item;
};

/*
 * Checks data.action, if present, under the pinned action keys. *raw
 * receives its exact payload bytes (free()) and act the parsed payload,
 * verified or (without action keys) as recorded; *raw stays NULL when the
 * record embeds no action.
 */
static int
check_embedded_action(const cJSON *data, const struct audit_verify_opts *o,
    struct vline *v, struct envelope_action_payload *act, uint8_t **raw,
    size_t *raw_len, struct err_msg *msg)
{
	static const char *const members[] = { "payload", "sig", "key_id",
		NULL };
	const cJSON *env = cJSON_GetObjectItemCaseSensitive(data, "action");
	const char *payload = NULL, *sig = NULL, *key_id = NULL;
	struct err_msg sub;
	int r;

	*raw = NULL;
	*raw_len = 0;
	if (env == NULL)
		return 0;
	if (!cJSON_IsObject(env))
		return err_set(msg, SIGNET_ERR_FORMAT,
		    "data.action must be an object");
	r = jsonx_only_members(env, members, "data.action", msg);
	if (r == 0)
		r = jsonx_get_string(env, "payload", false, "data.action",
		    &payload, msg);
	if (r == 0)
		r = jsonx_get_string(env, "sig", false, "data.action", &sig,
		    msg);
	if (r == 0)
		r = jsonx_get_string(env, "key_id", false, "data.action",
		    &key_id, msg);
	if (r != 0)
		return r;
	if (o->action_keys == NULL) {
		/*
		 * Unchecked, but still the bytes a result must answer; bytes
		 * that do not parse answer nothing (a result for them finds
		 * no action.requested).
		 */
		v->actions = VC_UNCHECKED;
		r = text_b64_decode(payload,
		    strnlen(payload, 2 * ENVELOPE_ACTION_PAYLOAD_MAX),
		    ENVELOPE_ACTION_PAYLOAD_MAX, raw, raw_len);
		if (r == SIGNET_ERR_ALLOC)
			return err_set(msg, r, "out of memory");
		if (r == 0 &&
		    envelope_action_decode(*raw, *raw_len, act, &sub) != 0)
			r = SIGNET_ERR_FORMAT;
		if (r != 0) {
			free(*raw);
			*raw = NULL;
			*raw_len = 0;
		}
		return 0;
	}
	r = envelope_action_verify(o->action_keys, key_id, payload, sig, act,
	    raw, raw_len, &sub);
	if (r != 0)
		return err_set(msg, r, "embedded action: %s", sub.text);
	v->actions = VC_CHECKED;
	return 0;
}

/*
 * Judges the operator request of a verified action (audit_request.h):
 * the verdict, and the finding itself when o->on_request wants it. A
 * failed request is a verdict, not an error: the verification goes on so
 * that every action is reported.
 */
static int
check_request(const struct audit_record *rec,
    const struct envelope_action_payload *act,
    const struct audit_verify_opts *o, struct vline *v, struct err_msg *msg)
{
	struct audit_request_finding *f = malloc(sizeof(*f));
	int r;

	if (f == NULL)
		return err_set(msg, SIGNET_ERR_ALLOC, "out of memory");
	r = audit_request_check(o->rosters, rec, act, f);
	if (r != 0) {
		r = err_set(msg, r, "operator request: %s", err_str(r));
		goto out;
	}
	v->judged = true;
	v->verdict = f->verdict;
	if (o->on_request != NULL) {
		v->finding = f;
		f = NULL;
	}
	r = 0;
out:
	free(f);
	return r;
}

/*
 * Reads the host_id of an unverified result or outcome payload (what) to
 * pick its key.
 */
static int
payload_host(const char *what, const char *payload_b64, char *host,
    size_t hostlen, struct err_msg *msg)
{
	uint8_t *raw = NULL;
	size_t b64len = strnlen(payload_b64, 2 * ENVELOPE_PAYLOAD_MAX), got = 0;
	const char *h = NULL;
	cJSON *root = NULL;
	int r;

	r = text_b64_decode(payload_b64, b64len, ENVELOPE_PAYLOAD_MAX, &raw,
	    &got);
	if (r == SIGNET_ERR_ALLOC)
		return err_set(msg, r, "out of memory");
	if (r != 0) {
		r = err_set(msg, SIGNET_ERR_FORMAT,
		    "embedded %s: payload is not base64", what);
		goto out;
	}
	r = jsonx_parse_object(what, raw, got, 4, &root, msg);
	if (r != 0)
		goto out;
	r = jsonx_get_string(root, "host_id", false, what, &h, msg);
	if (r != 0)
		goto out;
	if (!text_valid_name(h) || strlen(h) >= hostlen) {
		r = err_set(msg, SIGNET_ERR_FORMAT, "embedded %s: bad host_id",
		    what);
		goto out;
	}
	memcpy(host, h, strlen(h) + 1);
	r = 0;
out:
	cJSON_Delete(root);
	free(raw);
	return r;
}

/*
 * host's keys in DIR (keyset.h: HOST.pub and retired/HOST.STAMP.pub),
 * from the cache when they were read before.
 */
static int
host_keys(const struct audit_verify_opts *o, struct key_cache *kc,
    const char *host, struct keyset *ks, struct err_msg *msg)
{
	size_t i;
	int r;

	for (i = 0; i < kc->n; i++) {
		if (strcmp(kc->e[i].host, host) == 0) {
			*ks = kc->e[i].ks;
			return 0;
		}
	}
	r = keyset_load(o->agent_keys_dir, host, false, ks, msg);
	if (r != 0 || strlen(host) >= sizeof(kc->e[0].host))
		return r;
	i = kc->n < KEY_CACHE_MAX ? kc->n++ : kc->next++ % KEY_CACHE_MAX;
	memcpy(kc->e[i].host, host, strlen(host) + 1);
	kc->e[i].ks = *ks;
	return 0;
}

/*
 * env, an agent-signed {"payload","sig"} (data.WHAT): its texts, and,
 * with agent keys, the keys of its payload's host (*keyed false without
 * agent keys: nothing to check it with); host names that host.
 */
static int
agent_envelope(const cJSON *env, const char *what,
    const struct audit_verify_opts *o, struct key_cache *kc,
    const char **payload, const char **sig, struct keyset *ks, char *host,
    size_t hostlen, bool *keyed, struct err_msg *msg)
{
	static const char *const members[] = { "payload", "sig", NULL };
	char where[32];
	struct err_msg sub;
	int r;

	*keyed = false;
	(void)snprintf(where, sizeof(where), "data.%s", what);
	if (!cJSON_IsObject(env))
		return err_set(msg, SIGNET_ERR_FORMAT, "%s must be an object",
		    where);
	r = jsonx_only_members(env, members, where, msg);
	if (r == 0)
		r = jsonx_get_string(env, "payload", false, where, payload,
		    msg);
	if (r == 0)
		r = jsonx_get_string(env, "sig", false, where, sig, msg);
	if (r != 0 || o->agent_keys_dir == NULL)
		return r;
	r = payload_host(what, *payload, host, hostlen, msg);
	if (r != 0)
		return r;
	r = host_keys(o, kc, host, ks, &sub);
	if (r != 0)
		return err_set(msg, r, "embedded %s from host %s: %s", what,
		    host, sub.text);
	*keyed = true;
	return 0;
}

/*
 * The keys to check the envelope of a record (data) from host with: the
 * one of data.result_key_id when the server recorded it (*from, *to
 * bound it in ks), else all of ks, current first. An id that is none of
 * the host's keys is an error naming it.
 */
static int
envelope_keys(const cJSON *data, const struct keyset *ks, const char *host,
    const char *what, size_t *from, size_t *to, struct err_msg *msg)
{
	const cJSON *id = cJSON_GetObjectItemCaseSensitive(data,
	    "result_key_id");
	const struct keyset_key *k;

	*from = 0;
	*to = ks->count;
	if (id == NULL)
		return 0;
	if (!cJSON_IsString(id) || !text_is_hex(id->valuestring, KEYS_ID_LEN))
		return err_set(msg, SIGNET_ERR_FORMAT,
		    "data.result_key_id must be %d lowercase hex digits",
		    KEYS_ID_LEN);
	k = keyset_find(ks, id->valuestring);
	if (k == NULL)
		return err_set(msg, SIGNET_ERR_UNKNOWN_KEY,
		    "embedded %s from host %s: result_key_id %s is none of "
		    "the host's keys in the agent keys directory (current or "
		    "retired/%s.*.pub): the key is missing",
		    what, host, id->valuestring, host);
	*from = (size_t)(k - ks->keys);
	*to = *from + 1;
	return 0;
}

/*
 * Checks data.result, if present, under the host's keys (envelope_keys);
 * *verified says whether res holds a result that verified.
 */
static int
check_embedded_result(const cJSON *data, const struct audit_verify_opts *o,
    struct key_cache *kc, struct vline *v, struct envelope_result_payload *res,
    bool *verified, struct err_msg *msg)
{
	const cJSON *env = cJSON_GetObjectItemCaseSensitive(data, "result");
	const char *payload = NULL, *sig = NULL;
	struct keyset ks;
	char host[64];
	struct err_msg sub;
	bool keyed = false;
	size_t i, from, to;
	int r;

	*verified = false;
	if (env == NULL)
		return 0;
	r = agent_envelope(env, "result", o, kc, &payload, &sig, &ks, host,
	    sizeof(host), &keyed, msg);
	if (r != 0)
		return r;
	if (!keyed) {
		v->results = VC_UNCHECKED;
		return 0;
	}
	r = envelope_keys(data, &ks, host, "result", &from, &to, msg);
	if (r != 0)
		return r;
	r = SIGNET_ERR_BAD_SIGNATURE;
	for (i = from; i < to && r == SIGNET_ERR_BAD_SIGNATURE; i++)
		r = envelope_result_verify(&ks.keys[i].pub, payload, sig, res,
		    NULL, NULL, &sub);
	if (r != 0 && to - from > 1)
		return err_set(msg, r,
		    "embedded result from host %s: %s (tried its %zu keys)",
		    host, sub.text, to - from);
	if (r != 0)
		return err_set(msg, r, "embedded result from host %s: %s", host,
		    sub.text);
	v->results = VC_CHECKED;
	*verified = true;
	return 0;
}

/* data.NAME must be the string want (a signed outcome's member). */
static int
outcome_member(const cJSON *data, const char *name, const char *want,
    struct err_msg *msg)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(data, name);
	char esc[80];

	if (cJSON_IsString(v) && strcmp(v->valuestring, want) == 0)
		return 0;
	return err_set(msg, SIGNET_ERR_CHAIN,
	    "action.outcome: data.%s is \"%s\", the signed outcome says "
	    "\"%s\"",
	    name,
	    cJSON_IsString(v) ?
	        text_escape_str(v->valuestring, esc, sizeof(esc)) :
	        "(missing)",
	    want);
}

/*
 * Checks data.outcome of an action.outcome record, if present, under
 * its payload's host's keys (envelope_keys), and that the record's own
 * action_id, host_id, container_id, action_name, request_sha256 and
 * observed are the signed outcome's.
 */
static int
check_embedded_outcome(const struct audit_record *rec,
    const struct audit_verify_opts *o, struct key_cache *kc, struct vline *v,
    struct err_msg *msg)
{
	const char *payload = NULL, *sig = NULL;
	struct outcome_payload p;
	struct keyset ks;
	char host[64];
	struct err_msg sub;
	bool keyed = false;
	size_t i, from, to;
	int r;

	if (strcmp(rec->event, "action.outcome") != 0)
		return 0;
	r = agent_envelope(
	    cJSON_GetObjectItemCaseSensitive(rec->data, "outcome"), "outcome",
	    o, kc, &payload, &sig, &ks, host, sizeof(host), &keyed, msg);
	if (r != 0)
		return r;
	if (!keyed) {
		v->outcomes = VC_UNCHECKED;
		return 0;
	}
	r = envelope_keys(rec->data, &ks, host, "outcome", &from, &to, msg);
	if (r != 0)
		return r;
	r = SIGNET_ERR_BAD_SIGNATURE;
	for (i = from; i < to && r == SIGNET_ERR_BAD_SIGNATURE; i++)
		r = outcome_verify(&ks.keys[i].pub, payload, sig, &p, NULL,
		    NULL, &sub);
	if (r != 0)
		return err_set(msg, r, "embedded outcome from host %s: %s",
		    host, sub.text);
	r = outcome_member(rec->data, "action_id", p.action_id, msg);
	if (r == 0)
		r = outcome_member(rec->data, "host_id", p.host_id, msg);
	if (r == 0)
		r = outcome_member(rec->data, "container_id", p.container_id,
		    msg);
	if (r == 0)
		r = outcome_member(rec->data, "action_name",
		    envelope_action_name(p.action), msg);
	if (r == 0)
		r = outcome_member(rec->data, "request_sha256",
		    p.request_sha256, msg);
	if (r == 0)
		r = outcome_member(rec->data, "observed",
		    outcome_observed_name(p.observed), msg);
	if (r != 0)
		return r;
	v->outcomes = VC_CHECKED;
	return 0;
}

/* The log key of index i: audit_key, then more_keys; NULL past them. */
static const struct keys_public *
log_key(const struct audit_verify_opts *o, size_t i)
{
	if (i == 0)
		return o->audit_key;
	return i - 1 < o->n_more_keys ? &o->more_keys[i - 1] : NULL;
}

/*
 * The line's own signature, under one of the log keys (v->sig_key, the
 * one that verified the line before tried first); for an agent.started
 * naming its result key, that key among them (v->started_key), else an
 * error naming it.
 */
static int
check_log_sig(const struct audit_record *rec, const char *line,
    const struct audit_verify_opts *o, struct key_cache *kc, struct vline *v,
    struct err_msg *msg)
{
	const cJSON *id = NULL;
	size_t n = 1 + o->n_more_keys, i, k;
	char esc[80];

	if (strcmp(rec->event, "agent.started") == 0)
		id = cJSON_GetObjectItemCaseSensitive(rec->data,
		    "result_key_id");
	if (cJSON_IsString(id)) {
		for (i = 0; i < n; i++)
			if (strcmp(log_key(o, i)->id, id->valuestring) == 0)
				break;
		if (i == n)
			return err_set(msg, SIGNET_ERR_UNKNOWN_KEY,
			    "agent.started names result key %s, which is not "
			    "among the keys given: the agent's key changed "
			    "here (give that key too: --key again, or "
			    "--agent-keys DIR with --agent-host HOST)",
			    text_escape_str(id->valuestring, esc, sizeof(esc)));
		v->started_key = (uint8_t)i;
	}
	for (k = 0; k < n; k++) {
		i = (kc->last_sig + k) % n;
		if (audit_check_sig(rec, line, log_key(o, i)) == 0) {
			v->sig_key = (uint8_t)i;
			kc->last_sig = i;
			return 0;
		}
	}
	if (n == 1)
		return err_set(msg, SIGNET_ERR_BAD_SIGNATURE,
		    "signature does not verify under audit key %s (record "
		    "changed, or signed by another key)",
		    o->audit_key->id);
	return err_set(msg, SIGNET_ERR_BAD_SIGNATURE,
	    "signature does not verify under any of the %zu keys given "
	    "(record changed, or signed by another key)",
	    n);
}

/*
 * Makes every check of one line that needs no state, in check order, up
 * to the first that fails: v->fail names it and msg says why (as the
 * line's error). Returns 0 or that check's code. Any thread; kc is the
 * caller's own.
 */
static int
line_check(const char *line, size_t len, const struct audit_verify_opts *o,
    struct key_cache *kc, struct vline *v, struct err_msg *msg)
{
	struct envelope_action_payload act;
	struct envelope_result_payload res;
	struct audit_record rec;
	struct audit_link link;
	struct err_msg sub;
	enum vstage stage = VS_PARSE;
	uint8_t *raw = NULL;
	size_t raw_len = 0;
	bool res_ok = false;
	int r;

	memset(v, 0, sizeof(*v));
	r = audit_parse_line(line, len, &rec, &sub);
	if (r != 0) {
		r = err_set(msg, r, "%s", sub.text);
		v->fail = VS_PARSE;
		return r;
	}
	v->seq = rec.seq;
	memcpy(v->prev, rec.prev, sizeof(v->prev));
	stage = VS_SIG;
	v->sig_key = v->started_key = NO_KEY;
	r = check_log_sig(&rec, line, o, kc, v, msg);
	if (r != 0)
		goto out;
	stage = VS_ACTION;
	r = check_embedded_action(rec.data, o, v, &act, &raw, &raw_len, msg);
	if (r != 0)
		goto out;
	stage = VS_REQUEST;
	if (raw != NULL && o->action_keys != NULL) {
		r = check_request(&rec, &act, o, v, msg);
		if (r != 0)
			goto out;
	}
	stage = VS_RESULT;
	r = check_embedded_result(rec.data, o, kc, v, &res, &res_ok, msg);
	if (r != 0)
		goto out;
	stage = VS_TIE;
	/* action.relayed: a replica relayed an action another one signed
	 * (docs/cluster.md); its results are tied to it the same way. */
	if ((strcmp(rec.event, "action.requested") == 0 ||
	        strcmp(rec.event, "action.relayed") == 0) &&
	    raw != NULL) {
		audit_tie_item_action(&act, raw, raw_len, &v->item);
		v->tie_request = true;
	} else if (strcmp(rec.event, "action.result") == 0 && res_ok) {
		r = audit_tie_check_record(rec.data, &res, &v->unknown, msg);
		if (r != 0)
			goto out;
		audit_tie_item_result(&res, &v->item);
		v->tie_result = true;
	}
	stage = VS_OUTCOME;
	r = check_embedded_outcome(&rec, o, kc, v, msg);
	if (r != 0)
		goto out;
	v->torn = strcmp(rec.event, AUDIT_EVENT_TORN) == 0;
	stage = VS_LINK;
	if (strcmp(rec.event, AUDIT_EVENT_ROTATED) == 0) {
		r = audit_link_parse(&rec, &link, &sub);
		if (r != 0) {
			r = err_set(msg, r, "%s", sub.text);
			goto out;
		}
		v->rotated = true;
	}
	audit_line_hash(line, len, v->hash);
	stage = VS_NONE;
	r = 0;
out:
	v->fail = stage;
	free(raw);
	audit_record_free(&rec);
	return r;
}

/* Frees what line_check left in v; NULL allowed. */
static void
vline_clear(struct vline *v)
{
	if (v == NULL)
		return;
	free(v->finding);
	v->finding = NULL;
}

static const char *
base_name(const char *path)
{
	const char *slash = strrchr(path, '/');

	return slash != NULL ? slash + 1 : path;
}

/* Where the chain stands between lines and files. */
struct chain_state {
	bool any; /* a record seen */
	uint64_t next_seq;
	char prev[AUDIT_HASH_HEX + 1];
	const char *file; /* the file that holds the head */
	bool expect_seen;
	struct audit_tie *tie; /* the actions seen, for their results */
	/* The log's key (log_key) since seq log_key_since, once known. */
	bool has_log_key;
	uint8_t log_key;
	uint64_t log_key_since;
};

/*
 * Checks the first line of file k: for the first file, where the chain
 * starts (seq 0, or an audit.rotated record naming an earlier file, which
 * is then reported, unchecked); for a later file, that its audit.rotated
 * record continues the file before it. Sets st->next_seq / st->prev to
 * what the line must continue.
 */
static int
check_link(const char *const *paths, size_t n, size_t k, const char *line,
    size_t len, struct chain_state *st, struct audit_verify_report *rep,
    struct err_msg *msg)
{
	size_t j;

	struct audit_record rec;
	struct audit_link link;
	struct err_msg sub;
	int r;

	/* An unparsable line is check_line's to report. */
	if (audit_parse_line(line, len, &rec, &sub) != 0)
		return 0;
	if (k == 0 || !st->any) {
		if (st->any || rec.seq == 0 ||
		    strcmp(rec.event, AUDIT_EVENT_ROTATED) != 0) {
			r = 0;
			goto out;
		}
		r = audit_link_parse(&rec, &link, &sub);
		if (r != 0) {
			r = err_set(msg, r, "%s", sub.text);
			goto out;
		}
		rep->continues = true;
		rep->continues_from = link;
		st->next_seq = rec.seq;
		memcpy(st->prev, rec.prev, sizeof(st->prev));
		r = 0;
		goto out;
	}
	if (strcmp(rec.event, AUDIT_EVENT_ROTATED) != 0) {
		r = err_set(msg, SIGNET_ERR_CHAIN,
		    "starts with %s (seq %" PRIu64
		    "), not with an %s record continuing %s: not a "
		    "later file of this log, or the files are out of order",
		    rec.event, rec.seq, AUDIT_EVENT_ROTATED,
		    base_name(st->file));
		goto out;
	}
	r = audit_link_parse(&rec, &link, &sub);
	if (r != 0) {
		r = err_set(msg, r, "%s", sub.text);
		goto out;
	}
	if (rec.seq > st->next_seq) {
		for (j = k + 1; j < n; j++) {
			if (strcmp(base_name(paths[j]), link.previous) != 0)
				continue;
			r = err_set(msg, SIGNET_ERR_CHAIN,
			    "continues %s, "
			    "which is given after it: the files are out of "
			    "order (give them oldest first, as ls sorts "
			    "their names)",
			    link.previous);
			goto out;
		}
		r = err_set(msg, SIGNET_ERR_CHAIN,
		    "continues %s at seq %" PRIu64
		    ", but the file before it, %s, ends at seq %" PRIu64
		    ": records %" PRIu64 "..%" PRIu64 " are missing "
		    "(a file left out?)",
		    link.previous, link.head.seq, base_name(st->file),
		    st->next_seq - 1, st->next_seq, link.head.seq);
		goto out;
	}
	if (rec.seq < st->next_seq) {
		r = err_set(msg, SIGNET_ERR_CHAIN,
		    "starts at seq %" PRIu64
		    ", at or before the end of the file before it, %s (seq %" PRIu64
		    "): the files are out of order or repeated",
		    rec.seq, base_name(st->file), st->next_seq - 1);
		goto out;
	}
	if (strcmp(link.head.hash, st->prev) != 0) {
		r = err_set(msg, SIGNET_ERR_CHAIN,
		    "continues %s at %" PRIu64 ":%s, but %s ends at %" PRIu64
		    ":%s: one of the two files "
		    "was replaced (by a file of another log?)",
		    link.previous, link.head.seq, link.head.hash,
		    base_name(st->file), st->next_seq - 1, st->prev);
		goto out;
	}
	if (strcmp(link.previous, base_name(st->file)) != 0) {
		r = err_set(msg, SIGNET_ERR_CHAIN,
		    "continues a file named %s, "
		    "but follows %s here (the chain links, but the file was "
		    "renamed: give it its rotated name)",
		    link.previous, base_name(st->file));
		goto out;
	}
	r = 0;
out:
	audit_record_free(&rec);
	return r;
}

/* ---- the checks in log order ---- */

/*
 * The checks of one line that need the lines before it, over what
 * line_check found (v; code and why: its failure, when v->fail): seq and
 * prev, then, stage by stage up to that failure, the counts, the
 * operator request's finding, the ties and the expected head, in the
 * order check_line made them. Returns 0 (st->prev is then this line's
 * hash) or the line's error with msg.
 */
static int
line_apply(const struct vline *v, int code, const struct err_msg *why,
    struct chain_state *st, const struct audit_verify_opts *o,
    struct audit_verify_report *rep, struct err_msg *msg)
{
	int r;

	if (v->fail == VS_PARSE)
		goto failed;
	if (v->seq != st->next_seq)
		return err_set(msg, SIGNET_ERR_CHAIN,
		    "seq is %" PRIu64 " where %" PRIu64
		    " was expected (record missing, "
		    "inserted or reordered)",
		    v->seq, st->next_seq);
	if (strcmp(v->prev, st->prev) != 0)
		return err_set(msg, SIGNET_ERR_CHAIN,
		    "prev does not match the hash of the previous line "
		    "(previous line changed, removed or reordered)");
	if (v->fail == VS_SIG)
		goto failed;
	/* The log's key: its first record's, then agent.started's. */
	if (v->started_key != NO_KEY || !st->has_log_key) {
		st->log_key = v->started_key != NO_KEY ? v->started_key :
		                                         v->sig_key;
		st->has_log_key = true;
		st->log_key_since = v->seq;
	}
	if (v->sig_key != st->log_key)
		return err_set(msg, SIGNET_ERR_CHAIN,
		    "signed by key %s, but the log's key is %s since seq "
		    "%" PRIu64 " (only an agent.started naming its new "
		    "result key changes it)",
		    log_key(o, v->sig_key)->id, log_key(o, st->log_key)->id,
		    st->log_key_since);
	if (v->actions == VC_CHECKED)
		rep->actions_checked++;
	else if (v->actions == VC_UNCHECKED)
		rep->actions_unchecked++;
	if (v->fail == VS_ACTION)
		goto failed;
	if (v->judged) {
		switch (v->verdict) {
		case AUDIT_REQUEST_VERIFIED: rep->requests_verified++; break;
		case AUDIT_REQUEST_SERVER_ASSERTED:
			rep->requests_server_asserted++;
			break;
		case AUDIT_REQUEST_UNVERIFIED:
			rep->requests_unverified++;
			break;
		case AUDIT_REQUEST_UNCHECKED: rep->requests_unchecked++; break;
		case AUDIT_REQUEST_FAILED:
		default: rep->requests_failed++; break;
		}
		if (o->on_request != NULL && v->finding != NULL)
			o->on_request(v->finding, o->on_request_arg);
	}
	if (v->fail == VS_REQUEST)
		goto failed;
	if (v->results == VC_CHECKED)
		rep->results_checked++;
	else if (v->results == VC_UNCHECKED)
		rep->results_unchecked++;
	if (v->fail == VS_RESULT || v->fail == VS_TIE)
		goto failed;
	if (v->tie_request) {
		r = audit_tie_add_request(st->tie, v->seq, &v->item, msg);
		if (r != 0)
			return r;
	} else if (v->tie_result) {
		/* A result may precede files that continue an earlier one. */
		r = audit_tie_add_result(st->tie, v->seq, &v->item, v->unknown,
		    rep->continues, msg);
		if (r < 0)
			return r;
		if (r == AUDIT_TIE_TIED)
			rep->results_tied++;
		else if (r == AUDIT_TIE_UNTIED)
			rep->results_untied++;
	}
	if (v->outcomes == VC_CHECKED)
		rep->outcomes_checked++;
	else if (v->outcomes == VC_UNCHECKED)
		rep->outcomes_unchecked++;
	if (v->fail == VS_OUTCOME)
		goto failed;
	if (v->torn)
		rep->torn_tails++;
	if (v->fail == VS_LINK)
		goto failed;
	if (v->rotated)
		rep->rotations++;
	if (o->has_expect_head && v->seq == o->expect_head.seq) {
		if (strcmp(v->hash, o->expect_head.hash) != 0)
			return err_set(msg, SIGNET_ERR_CHAIN,
			    "record %" PRIu64
			    " is not the expected head %s (log rewritten from "
			    "here?)",
			    v->seq, o->expect_head.hash);
		st->expect_seen = true;
	}
	memcpy(st->prev, v->hash, sizeof(st->prev));
	return 0;
failed:
	return err_set(msg, code, "%s", why->text);
}

/* A verification under way: the files, and where it stands. */
struct vrun {
	const char *const *paths;
	size_t n;
	const struct audit_verify_opts *o;
	struct audit_verify_file_info *info; /* NULL: not wanted */
	struct audit_verify_file_info one;
	struct audit_verify_report *rep;
	struct chain_state st;
	size_t k;                          /* the file being verified */
	struct audit_verify_file_info *fi; /* its entry */
};

static void
run_file_start(struct vrun *run, size_t k)
{
	run->k = k;
	run->rep->bad_file = k;
	run->fi = run->info != NULL ? &run->info[k] : &run->one;
	memset(run->fi, 0, sizeof(*run->fi));
}

/*
 * opts->on_record for a line every check held (parsed again: the workers
 * do not keep records), in chain order on the caller's thread.
 */
static int
record_hook(const struct audit_verify_opts *o, const char *line, size_t len,
    const char hash[static AUDIT_HASH_HEX + 1], struct err_msg *msg)
{
	struct audit_record rec;
	int r;

	r = audit_parse_line(line, len, &rec, msg);
	if (r != 0)
		return r;
	r = o->on_record(&rec, line, hash, o->on_record_arg, msg);
	audit_record_free(&rec);
	return r;
}

/*
 * Line lineno of the current file, whole, as line_check found it (code,
 * why: its failure): the link for a first line, then line_apply. 0 or
 * the error naming file and line.
 */
static int
run_line(struct vrun *run, uint64_t lineno, const char *line, size_t len,
    const struct vline *v, int code, const struct err_msg *why,
    struct err_msg *msg)
{
	const char *path = run->paths[run->k];
	struct chain_state *st = &run->st;
	struct err_msg sub;
	int r = 0;

	if (lineno == 1) {
		r = check_link(run->paths, run->n, run->k, line, len, st,
		    run->rep, &sub);
		if (r == 0 && run->k > 0 && st->any)
			run->fi->linked = true;
	}
	if (r == 0)
		r = line_apply(v, code, why, st, run->o, run->rep, &sub);
	if (r == 0 && run->o->on_record != NULL)
		r = record_hook(run->o, line, len, v->hash, &sub);
	if (r != 0) {
		run->rep->bad_line = lineno;
		return err_set(msg, r, "%s:%" PRIu64 ": %s", path, lineno,
		    sub.text);
	}
	if (run->fi->records == 0)
		run->fi->first_seq = st->next_seq;
	run->fi->last_seq = st->next_seq;
	run->fi->records++;
	run->rep->records++;
	st->any = true;
	st->next_seq++;
	st->file = path;
	return 0;
}

/*
 * Line lineno of the current file could not be read: code
 * SIGNET_ERR_TOO_LARGE or SIGNET_ERR_IO, or torn (no newline).
 */
static int
run_bad_read(struct vrun *run, uint64_t lineno, int code, bool torn,
    struct err_msg *msg)
{
	const char *path = run->paths[run->k];

	run->rep->bad_line = lineno;
	if (torn)
		return err_set(msg, SIGNET_ERR_FORMAT,
		    "%s:%" PRIu64
		    ": incomplete last line (a torn write: restart the "
		    "writer to record it, or the file was cut)",
		    path, lineno);
	return err_set(msg, code, "%s:%" PRIu64 ": %s", path, lineno,
	    code == SIGNET_ERR_TOO_LARGE ? "line longer than any "
	                                   "audit record" :
	                                   "read error");
}

/* The current file ended after lines lines. */
static int
run_file_end(struct vrun *run, uint64_t lines, struct err_msg *msg)
{
	const char *path = run->paths[run->k];
	const struct chain_state *st = &run->st;

	if (lines == 0 && run->k > 0)
		return err_set(msg, SIGNET_ERR_CHAIN,
		    "%s: empty: no %s record "
		    "links it to %s",
		    path, AUDIT_EVENT_ROTATED,
		    st->file != NULL ? base_name(st->file) : "the file before");
	if (run->k + 1 < run->n && !st->any)
		return err_set(msg, SIGNET_ERR_CHAIN,
		    "%s: empty: no "
		    "later file can continue it",
		    path);
	return 0;
}

/* Every file on this thread, each line checked then applied. */
static int
verify_serial(struct vrun *run, struct err_msg *msg)
{
	struct audit_reader *rd = NULL;
	struct key_cache *kc = NULL;
	struct vline v;
	struct err_msg why;
	uint64_t lineno;
	char *line;
	size_t len, k;
	bool had_nl;
	int r, code;

	memset(&v, 0, sizeof(v));
	kc = calloc(1, sizeof(*kc));
	if (kc == NULL)
		return err_set(msg, SIGNET_ERR_ALLOC, "out of memory");
	for (k = 0; k < run->n; k++) {
		run_file_start(run, k);
		r = audit_reader_open(run->paths[k], &rd, msg);
		if (r != 0)
			goto out;
		lineno = 0;
		for (;;) {
			r = audit_reader_next(rd, &line, &len, &had_nl);
			if (r == 0)
				break;
			lineno++;
			if (r < 0 || !had_nl) {
				r = run_bad_read(run, lineno, r, r > 0, msg);
				goto out;
			}
			err_clear(&why);
			code = line_check(line, len, run->o, kc, &v, &why);
			r = run_line(run, lineno, line, len, &v, code, &why,
			    msg);
			vline_clear(&v);
			if (r != 0)
				goto out;
		}
		audit_reader_close(rd);
		rd = NULL;
		r = run_file_end(run, lineno, msg);
		if (r != 0)
			goto out;
	}
	r = 0;
out:
	audit_reader_close(rd);
	free(kc);
	return r;
}

/* ---- the same checks on several threads ---- */

/*
 * A reader thread cuts the files into batches of lines; worker threads
 * make line_check on whole batches, any batch on any worker; this thread
 * applies the batches in order (line_apply). A fixed number of batches
 * is in flight, each of fixed size, so memory does not grow with the
 * log. A worker stops a batch at its first failing line: no later line
 * of the log can matter then.
 */
#define BATCH_LINES 512
#define BATCH_BYTES (512 * 1024) /* a batch closes past this */
#define BATCH_BUF (BATCH_BYTES + AUDIT_LINE_MAX + 1)
#define BATCHES_PER_JOB 2

enum batch_state { B_FREE, B_FILLED, B_CHECKING, B_CHECKED };

/* What ends a batch after its lines. */
enum batch_end {
	BE_NONE,     /* more lines of its file follow */
	BE_FILE_END, /* its file ends: end_lines lines */
	BE_OPEN,     /* its file cannot be opened: end_code, end_msg */
	BE_READ,     /* line end_lines cannot be read: end_code */
	BE_TORN,     /* line end_lines is torn */
};

struct batch {
	enum batch_state state;
	size_t file;
	uint64_t lineno0; /* lines of its file before lines[0] */
	size_t n, used;
	char *buf; /* BATCH_BUF: the lines, each NUL-terminated */
	size_t off[BATCH_LINES], len[BATCH_LINES];
	struct vline *v; /* BATCH_LINES */
	size_t checked;  /* entries of v filled */
	enum batch_end end;
	int end_code;
	uint64_t end_lines;
	struct err_msg end_msg;
	size_t fail_at; /* the line whose check failed, or n */
	int fail_code;
	struct err_msg fail_msg;
};

struct pipe {
	pthread_mutex_t mu;
	pthread_cond_t cv; /* broadcast on every change of state */
	struct batch *b;
	size_t nb;
	uint64_t filled, taken, applied; /* batches so far */
	bool stop;                       /* the applier is done */
	bool read_done;
	const char *const *paths;
	size_t n;
	const struct audit_verify_opts *o;
};

struct worker {
	struct pipe *p;
	struct key_cache kc;
	pthread_t tid;
};

static void
pipe_lock(struct pipe *p)
{
	if (pthread_mutex_lock(&p->mu) != 0)
		abort(); /* a broken invariant, not input */
}

static void
pipe_unlock(struct pipe *p)
{
	if (pthread_mutex_unlock(&p->mu) != 0)
		abort();
}

static void
pipe_wait(struct pipe *p)
{
	if (pthread_cond_wait(&p->cv, &p->mu) != 0)
		abort();
}

/* Sets a batch's state and wakes everyone. */
static void
pipe_set(struct pipe *p, struct batch *b, enum batch_state s, uint64_t *count)
{
	pipe_lock(p);
	b->state = s;
	if (count != NULL)
		(*count)++;
	(void)pthread_cond_broadcast(&p->cv);
	pipe_unlock(p);
}

/* The next batch for the reader to fill, file k from line lineno0 + 1. */
static struct batch *
pipe_get_free(struct pipe *p, size_t k, uint64_t lineno0)
{
	struct batch *b;

	pipe_lock(p);
	while (!p->stop && p->b[p->filled % p->nb].state != B_FREE)
		pipe_wait(p);
	b = p->stop ? NULL : &p->b[p->filled % p->nb];
	pipe_unlock(p);
	if (b == NULL)
		return NULL;
	b->file = k;
	b->lineno0 = lineno0;
	b->n = b->used = b->checked = 0;
	b->end = BE_NONE;
	b->end_code = 0;
	b->end_lines = 0;
	b->fail_at = 0;
	b->fail_code = 0;
	return b;
}

static void *
reader_main(void *arg)
{
	struct pipe *p = arg;
	struct audit_reader *rd = NULL;
	struct batch *b = NULL;
	uint64_t lineno;
	char *line;
	size_t len, k;
	bool had_nl;
	int r;

	for (k = 0; k < p->n; k++) {
		b = pipe_get_free(p, k, 0);
		if (b == NULL)
			goto out;
		r = audit_reader_open(p->paths[k], &rd, &b->end_msg);
		if (r != 0) {
			b->end = BE_OPEN;
			b->end_code = r;
			goto last;
		}
		lineno = 0;
		for (;;) {
			r = audit_reader_next(rd, &line, &len, &had_nl);
			if (r == 0)
				break;
			lineno++;
			if (r < 0 || !had_nl) {
				b->end = r < 0 ? BE_READ : BE_TORN;
				b->end_code = r;
				b->end_lines = lineno;
				goto last;
			}
			if (b->n == BATCH_LINES || b->used >= BATCH_BYTES) {
				pipe_set(p, b, B_FILLED, &p->filled);
				b = pipe_get_free(p, k, lineno - 1);
				if (b == NULL)
					goto out;
			}
			/* len < AUDIT_LINE_MAX: it fits, with its NUL. */
			memcpy(b->buf + b->used, line, len);
			b->buf[b->used + len] = '\0';
			b->off[b->n] = b->used;
			b->len[b->n] = len;
			b->n++;
			b->used += len + 1;
		}
		audit_reader_close(rd);
		rd = NULL;
		b->end = BE_FILE_END;
		b->end_lines = lineno;
		pipe_set(p, b, B_FILLED, &p->filled);
		b = NULL;
	}
	goto out;
last:
	pipe_set(p, b, B_FILLED, &p->filled);
out:
	audit_reader_close(rd);
	pipe_lock(p);
	p->read_done = true;
	(void)pthread_cond_broadcast(&p->cv);
	pipe_unlock(p);
	return NULL;
}

static void *
worker_main(void *arg)
{
	struct worker *w = arg;
	struct pipe *p = w->p;
	struct batch *b;
	size_t i;
	int r;

	for (;;) {
		pipe_lock(p);
		while (!p->stop && p->taken == p->filled && !p->read_done)
			pipe_wait(p);
		if (p->stop || p->taken == p->filled) {
			pipe_unlock(p);
			return NULL;
		}
		b = &p->b[p->taken % p->nb];
		p->taken++;
		b->state = B_CHECKING;
		pipe_unlock(p);
		b->fail_at = b->n;
		for (i = 0; i < b->n; i++) {
			err_clear(&b->fail_msg);
			r = line_check(b->buf + b->off[i], b->len[i], p->o,
			    &w->kc, &b->v[i], &b->fail_msg);
			b->checked = i + 1;
			if (r != 0) {
				b->fail_at = i;
				b->fail_code = r;
				break;
			}
		}
		pipe_set(p, b, B_CHECKED, NULL);
	}
}

/* Applies one checked batch: 1 when the log ends with it, 0, or an error. */
static int
apply_batch(struct vrun *run, struct batch *b, struct err_msg *msg)
{
	static const struct err_msg none;
	uint64_t lineno;
	size_t i;
	int r;

	if (b->file != run->k || run->fi == NULL)
		run_file_start(run, b->file);
	for (i = 0; i < b->n; i++) {
		lineno = b->lineno0 + i + 1;
		if (i > b->fail_at)
			return err_set(msg, SIGNET_ERR_INTERNAL,
			    "%s:%" PRIu64 ": verified past a failure",
			    run->paths[run->k], lineno);
		r = run_line(run, lineno, b->buf + b->off[i], b->len[i],
		    &b->v[i], i == b->fail_at ? b->fail_code : 0,
		    i == b->fail_at ? &b->fail_msg : &none, msg);
		if (r != 0)
			return r;
	}
	switch (b->end) {
	case BE_NONE: return 0;
	case BE_FILE_END:
		r = run_file_end(run, b->end_lines, msg);
		if (r != 0)
			return r;
		return run->k + 1 == run->n ? 1 : 0;
	case BE_OPEN: return err_set(msg, b->end_code, "%s", b->end_msg.text);
	case BE_READ:
	case BE_TORN:
	default:
		return run_bad_read(run, b->end_lines, b->end_code,
		    b->end == BE_TORN, msg);
	}
}

static void
batch_clear(struct batch *b)
{
	size_t i;

	for (i = 0; i < b->checked; i++)
		vline_clear(&b->v[i]);
	b->checked = 0;
}

/*
 * Verifies with jobs worker threads. Returns 0 or the error, as
 * verify_serial would; 1 when the threads or their memory could not be
 * had (nothing verified yet: verify serially).
 */
static int
verify_parallel(struct vrun *run, size_t jobs, struct err_msg *msg)
{
	struct pipe p;
	struct worker *w = NULL;
	pthread_t reader;
	bool reader_up = false, mu_up = false, cv_up = false;
	size_t i, started = 0;
	int r = 1;

	memset(&p, 0, sizeof(p));
	p.paths = run->paths;
	p.n = run->n;
	p.o = run->o;
	p.nb = BATCHES_PER_JOB * jobs + 2;
	p.b = calloc(p.nb, sizeof(*p.b));
	w = calloc(jobs, sizeof(*w));
	if (p.b == NULL || w == NULL)
		goto out;
	for (i = 0; i < p.nb; i++) {
		p.b[i].buf = malloc(BATCH_BUF);
		p.b[i].v = calloc(BATCH_LINES, sizeof(*p.b[i].v));
		if (p.b[i].buf == NULL || p.b[i].v == NULL)
			goto out;
	}
	mu_up = pthread_mutex_init(&p.mu, NULL) == 0;
	cv_up = mu_up && pthread_cond_init(&p.cv, NULL) == 0;
	if (!cv_up)
		goto out;
	for (started = 0; started < jobs; started++) {
		w[started].p = &p;
		if (pthread_create(&w[started].tid, NULL, worker_main,
		        &w[started]) != 0)
			break;
	}
	if (started < jobs ||
	    pthread_create(&reader, NULL, reader_main, &p) != 0)
		goto out; /* stops the workers: nothing read yet */
	reader_up = true;
	for (;;) {
		struct batch *b = &p.b[p.applied % p.nb];

		pipe_lock(&p);
		while (b->state != B_CHECKED)
			pipe_wait(&p);
		pipe_unlock(&p);
		r = apply_batch(run, b, msg);
		batch_clear(b);
		pipe_set(&p, b, B_FREE, &p.applied);
		if (r != 0)
			break;
	}
	if (r == 1)
		r = 0;
out:
	if (cv_up) {
		pipe_lock(&p);
		p.stop = true;
		(void)pthread_cond_broadcast(&p.cv);
		pipe_unlock(&p);
	}
	if (reader_up)
		(void)pthread_join(reader, NULL);
	for (i = 0; i < started; i++)
		(void)pthread_join(w[i].tid, NULL);
	if (cv_up)
		(void)pthread_cond_destroy(&p.cv);
	if (mu_up)
		(void)pthread_mutex_destroy(&p.mu);
	for (i = 0; p.b != NULL && i < p.nb; i++) {
		if (p.b[i].v != NULL)
			batch_clear(&p.b[i]);
		free(p.b[i].buf);
		free(p.b[i].v);
	}
	free(p.b);
	free(w);
	return r;
}

int
audit_verify_files(const char *const *paths, size_t n,
    const struct audit_verify_opts *opts, struct audit_verify_file_info *info,
    struct audit_verify_report *rep, struct err_msg *msg)
{
	struct vrun run;
	size_t jobs;
	int r;

	memset(rep, 0, sizeof(*rep));
	memset(&run, 0, sizeof(run));
	rep->head.empty = true;
	memset(run.st.prev, '0', AUDIT_HASH_HEX);
	if (opts == NULL || opts->audit_key == NULL)
		return err_set(msg, SIGNET_ERR_INVALID_ARG, "no audit key");
	if (opts->n_more_keys >= NO_KEY - 1 ||
	    (opts->n_more_keys > 0 && opts->more_keys == NULL))
		return err_set(msg, SIGNET_ERR_INVALID_ARG,
		    "too many audit keys");
	if (paths == NULL || n == 0)
		return err_set(msg, SIGNET_ERR_INVALID_ARG,
		    "no file to verify");
	run.paths = paths;
	run.n = n;
	run.o = opts;
	run.info = info;
	run.rep = rep;
	run.k = SIZE_MAX;
	if (audit_tie_new(&run.st.tie) != 0)
		return err_set(msg, SIGNET_ERR_ALLOC, "out of memory");
	/* Without agent keys no result is verified, so none is tied. */
	if (opts->agent_keys_dir == NULL)
		audit_tie_ids_only(run.st.tie);
	jobs = opts->jobs > AUDIT_VERIFY_JOBS_MAX ? AUDIT_VERIFY_JOBS_MAX :
	                                            opts->jobs;
	r = jobs > 1 ? verify_parallel(&run, jobs, msg) : 1;
	if (r == 1)
		r = verify_serial(&run, msg);
	if (r != 0)
		goto out;
	rep->bad_file = 0;
	if (run.st.any) {
		rep->head.empty = false;
		rep->head.seq = run.st.next_seq - 1;
		memcpy(rep->head.hash, run.st.prev, sizeof(run.st.prev));
	}
	r = 0;
	if (opts->has_expect_head && !run.st.expect_seen) {
		if (rep->head.empty || rep->head.seq < opts->expect_head.seq)
			r = err_set(msg, SIGNET_ERR_CHAIN,
			    "%s: the log ends before the expected head %" PRIu64
			    ":%s "
			    "(truncated?)",
			    paths[n - 1], opts->expect_head.seq,
			    opts->expect_head.hash);
		else
			r = err_set(msg, SIGNET_ERR_CHAIN,
			    "%s: the expected head %" PRIu64
			    ":%s is before the first record given (seq %" PRIu64
			    "): give the earlier rotated files too",
			    paths[0], opts->expect_head.seq,
			    opts->expect_head.hash,
			    rep->continues_from.head.seq + 1);
	}
out:
	audit_tie_free(run.st.tie);
	return r;
}

int
audit_verify_file(const char *path, const struct audit_verify_opts *opts,
    struct audit_verify_report *rep, struct err_msg *msg)
{
	return audit_verify_files(&path, 1, opts, NULL, rep, msg);
}
