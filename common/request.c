/* SPDX-License-Identifier: ISC */
/*
 * Operator-signed requests and approvals (request.h): the request
 * payload's compact encoding and strict parse (its members shared with
 * the action payload are read by envelope.c), its signature under
 * REQUEST_CONTEXT, approvals under APPROVAL_CONTEXT over the very same
 * bytes, the checks a host makes against its roster, and what ties the
 * server's signed action to the request it relays.
 */
#include "request.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "clock.h"
#include "jsonx.h"
#include "text.h"

/* A request payload is one flat object. */
#define REQUEST_DEPTH 2
/* Bytes of APPROVAL_CONTEXT || a largest payload. */
#define APPROVAL_MSG_MAX (sizeof(APPROVAL_CONTEXT) - 1 + REQUEST_PAYLOAD_MAX)

/* The operator of r holding key_id (16 lowercase hex), or NULL. */
/* The escaped text of a key_id array of KEYS_ID_LEN + 1 bytes. */
static const char *
key_text(const char *key_id, char *esc, size_t esclen)
{
	return text_escape(key_id, strnlen(key_id, KEYS_ID_LEN + 1), esc,
	    esclen);
}

static bool
add_str(cJSON *obj, const char *key, const char *value)
{
	return cJSON_AddStringToObject(obj, key, value) != NULL;
}

static bool
add_num(cJSON *obj, const char *key, int64_t value)
{
	return jsonx_add_int64(obj, key, value);
}

int
request_encode(const struct request_payload *p, char **json)
{
	cJSON *o = NULL;
	int r = SIGNET_ERR_ALLOC;

	*json = NULL;
	if (envelope_action_name(p->action) == NULL)
		return SIGNET_ERR_INVALID_ARG;
	o = cJSON_CreateObject();
	if (o == NULL || !add_num(o, "v", 1) ||
	    !add_str(o, "action_id", p->action_id) ||
	    !add_str(o, "host_id", p->host_id) ||
	    !add_str(o, "container_id", p->container_id) ||
	    !add_str(o, "action", envelope_action_name(p->action)) ||
	    !add_str(o, "reason", p->reason) ||
	    !add_str(o, "requested_by", p->requested_by) ||
	    !add_num(o, "issued_at", p->issued_at) ||
	    !add_num(o, "expires_at", p->expires_at) ||
	    !add_num(o, "roster_version", p->roster_version))
		goto out;
	*json = jsonx_print(o);
	if (*json == NULL)
		goto out;
	r = 0;
out:
	cJSON_Delete(o);
	return r;
}

int
request_decode(const void *json, size_t len, struct request_payload *out,
    struct err_msg *msg)
{
	static const char *const members[] = { "v", "action_id", "host_id",
		"container_id", "action", "reason", "requested_by", "issued_at",
		"expires_at", "roster_version", NULL };
	struct envelope_action_payload a;
	cJSON *root = NULL;
	int r;

	memset(out, 0, sizeof(*out));
	memset(&a, 0, sizeof(a));
	if (len > REQUEST_PAYLOAD_MAX)
		return err_set(msg, SIGNET_ERR_TOO_LARGE,
		    "request: over %d bytes", REQUEST_PAYLOAD_MAX);
	r = jsonx_parse_object("request", json, len, REQUEST_DEPTH, &root, msg);
	if (r == 0)
		r = jsonx_only_members(root, members, "request", msg);
	if (r == 0)
		r = envelope_action_members(root, "request", &a, msg);
	if (r == 0)
		r = jsonx_get_int64(root, "roster_version", 1,
		    ROSTER_VERSION_MAX, "request", &out->roster_version, msg);
	if (r != 0)
		goto out;
	if (a.expires_at <= a.issued_at) {
		r = err_set(msg, SIGNET_ERR_FORMAT,
		    "request.expires_at: must be after issued_at");
		goto out;
	}
	if (a.expires_at - a.issued_at > REQUEST_LIFETIME_MAX_MS) {
		r = err_set(msg, SIGNET_ERR_FORMAT,
		    "request.expires_at: lifetime %lld ms is over the %lld ms "
		    "allowed",
		    (long long)(a.expires_at - a.issued_at),
		    (long long)REQUEST_LIFETIME_MAX_MS);
		goto out;
	}
	/* The arrays have the same sizes in both structs. */
	memcpy(out->action_id, a.action_id, sizeof(out->action_id));
	memcpy(out->host_id, a.host_id, sizeof(out->host_id));
	memcpy(out->container_id, a.container_id, sizeof(out->container_id));
	out->action = a.action;
	memcpy(out->reason, a.reason, sizeof(out->reason));
	memcpy(out->requested_by, a.requested_by, sizeof(out->requested_by));
	out->issued_at = a.issued_at;
	out->expires_at = a.expires_at;
	r = 0;
out:
	cJSON_Delete(root);
	if (r != 0)
		memset(out, 0, sizeof(*out));
	return r;
}

int
request_sign(const struct request_payload *p, const struct keys_secret *key,
    struct request_signed *out)
{
	struct envelope env = { 0 };
	char *json = NULL;
	size_t len;
	int r;

	memset(out, 0, sizeof(*out));
	r = request_encode(p, &json);
	if (r != 0)
		goto out;
	len = strlen(json);
	if (len > REQUEST_PAYLOAD_MAX) {
		r = SIGNET_ERR_TOO_LARGE;
		goto out;
	}
	r = envelope_sign(REQUEST_CONTEXT, json, len, key, &env);
	if (r != 0)
		goto out;
	out->payload_b64 = env.payload_b64;
	out->sig_b64 = env.sig_b64;
	memcpy(out->key_id, env.key_id, sizeof(out->key_id));
	r = 0;
out:
	free(json);
	return r;
}

int
request_approve(const uint8_t *payload, size_t len,
    const struct keys_secret *key, struct request_approval *out)
{
	uint8_t m[APPROVAL_MSG_MAX];
	uint8_t sig[KEYS_SIG_LEN];
	size_t clen = sizeof(APPROVAL_CONTEXT) - 1;

	memset(out, 0, sizeof(*out));
	if (payload == NULL || key == NULL || len == 0 ||
	    len > REQUEST_PAYLOAD_MAX)
		return SIGNET_ERR_INVALID_ARG;
	memcpy(m, APPROVAL_CONTEXT, clen);
	memcpy(m + clen, payload, len);
	if (crypto_sign_detached(sig, NULL, m, clen + len, key->sk) != 0)
		return SIGNET_ERR_INVALID_ARG;
	sodium_bin2base64(out->sig_b64, sizeof(out->sig_b64), sig, KEYS_SIG_LEN,
	    sodium_base64_VARIANT_ORIGINAL);
	memcpy(out->key_id, key->pub.id, sizeof(out->key_id));
	return 0;
}

/*
 * Judges a verified signature's signer: its name is the one the payload
 * states, and its key had not expired (at now_ms nor when the request
 * says it was issued).
 */
static int
check_signer(const struct roster_operator *op, const struct request_payload *p,
    int64_t now_ms, struct err_msg *msg)
{
	char t1[40], t2[40], esc[96];

	if (strcmp(p->requested_by, op->name) != 0)
		return err_set(msg, SIGNET_ERR_FORMAT,
		    "request: signed by %s's key but names %s", op->name,
		    text_escape_str(p->requested_by, esc, sizeof(esc)));
	if (op->not_after <= now_ms)
		return err_set(msg, SIGNET_ERR_PERMISSIONS,
		    "request: operator %s's key expired at %s", op->name,
		    clock_format(op->not_after, false, t1, sizeof(t1)));
	if (op->not_after <= p->issued_at)
		return err_set(msg, SIGNET_ERR_PERMISSIONS,
		    "request: operator %s's key expired at %s, before the "
		    "request's issued_at %s",
		    op->name,
		    clock_format(op->not_after, false, t1, sizeof(t1)),
		    clock_format(p->issued_at, false, t2, sizeof(t2)));
	return 0;
}

int
request_verify(const struct roster *r, const struct request_signed *s,
    int64_t now_ms, struct request_verified *out, struct err_msg *msg)
{
	const struct roster_operator *op;
	struct err_msg sub;
	uint8_t *raw = NULL;
	size_t raw_len = 0;
	char esc[80];
	int rc;

	memset(out, 0, sizeof(*out));
	err_clear(&sub);
	if (r == NULL || s == NULL)
		return err_set(msg, SIGNET_ERR_INVALID_ARG,
		    "request: no roster or no request");
	op = roster_find_key(r, s->key_id);
	if (op == NULL)
		return err_set(msg, SIGNET_ERR_UNKNOWN_KEY,
		    "request: key %s is not in roster version %lld",
		    key_text(s->key_id, esc, sizeof(esc)),
		    (long long)r->version);
	if (s->payload_b64 != NULL &&
	    strnlen(s->payload_b64, REQUEST_PAYLOAD_B64_MAX + 1) >
	        REQUEST_PAYLOAD_B64_MAX)
		return err_set(msg, SIGNET_ERR_TOO_LARGE,
		    "request: payload over %d bytes", REQUEST_PAYLOAD_MAX);
	rc = envelope_open(REQUEST_CONTEXT, s->payload_b64, s->sig_b64,
	    &op->key, &raw, &raw_len, &sub);
	if (rc == SIGNET_ERR_BAD_SIGNATURE)
		rc = err_set(msg, rc,
		    "request: signature does not verify under operator %s's "
		    "key %s",
		    op->name, op->key.id);
	else if (rc != 0)
		rc = err_set(msg, rc, "request: %s", sub.text);
	if (rc != 0)
		goto out;
	rc = request_decode(raw, raw_len, &out->p, msg);
	if (rc == 0)
		rc = check_signer(op, &out->p, now_ms, msg);
	if (rc == 0 && out->p.roster_version > r->version)
		rc = err_set(msg, SIGNET_ERR_NOT_FOUND,
		    "request: signed under roster version %lld; this host "
		    "holds %lld",
		    (long long)out->p.roster_version, (long long)r->version);
	if (rc != 0)
		goto out;
	envelope_sha256_hex(raw, raw_len, out->sha256);
	out->raw = raw;
	out->raw_len = raw_len;
	out->signer = op;
	raw = NULL;
	rc = 0;
out:
	free(raw);
	if (rc != 0)
		memset(out, 0, sizeof(*out));
	return rc;
}

/*
 * Whether approval a, by operator op, holds over m[0..mlen)
 * (APPROVAL_CONTEXT || the request bytes).
 */
static bool
approval_holds(const struct request_approval *a,
    const struct roster_operator *op, const uint8_t *m, size_t mlen)
{
	uint8_t sig[KEYS_SIG_LEN];
	size_t got = 0;

	if (text_b64_decode_into(a->sig_b64,
	        strnlen(a->sig_b64, sizeof(a->sig_b64)), sig, sizeof(sig),
	        &got) != 0 ||
	    got != KEYS_SIG_LEN)
		return false;
	return crypto_sign_verify_detached(sig, m, mlen, op->key.pk) == 0;
}

/*
 * Judges approval a against the request v (m: APPROVAL_CONTEXT || its
 * bytes) and the approvals before it (out[0..i)), filling out[i].
 */
static void
check_one(const struct roster *r, const struct request_verified *v,
    const struct request_approval *a, const uint8_t *m, size_t mlen,
    int64_t now_ms, struct request_approver *out, size_t i)
{
	struct request_approver *ap = &out[i];
	const struct roster_operator *op;
	char t[40], esc[48];
	size_t j, n;

	memset(ap, 0, sizeof(*ap));
	n = strnlen(a->key_id, KEYS_ID_LEN);
	memcpy(ap->key_id, a->key_id, n);
	ap->key_id[n] = '\0';
	op = roster_find_key(r, a->key_id);
	ap->op = op;
	if (op == NULL) {
		(void)snprintf(ap->why, sizeof(ap->why),
		    "key %s is not in roster version %lld",
		    key_text(a->key_id, esc, sizeof(esc)),
		    (long long)r->version);
		return;
	}
	if (op->not_after <= now_ms) {
		(void)snprintf(ap->why, sizeof(ap->why),
		    "operator %s's key expired at %s", op->name,
		    clock_format(op->not_after, false, t, sizeof(t)));
		return;
	}
	if (!approval_holds(a, op, m, mlen)) {
		(void)snprintf(ap->why, sizeof(ap->why),
		    "bad signature: key %s (operator %s) did not approve these "
		    "request bytes",
		    op->key.id, op->name);
		return;
	}
	if (memcmp(op->key.pk, v->signer->key.pk, KEYS_PUBLIC_LEN) == 0 ||
	    strcmp(op->name, v->signer->name) == 0) {
		(void)snprintf(ap->why, sizeof(ap->why),
		    "the requester cannot approve (operator %s, key %s)",
		    op->name, op->key.id);
		return;
	}
	for (j = 0; j < i; j++) {
		if (out[j].valid &&
		    memcmp(out[j].op->key.pk, op->key.pk, KEYS_PUBLIC_LEN) ==
		        0) {
			(void)snprintf(ap->why, sizeof(ap->why),
			    "key %s approved already (operator %s)", op->key.id,
			    op->name);
			return;
		}
	}
	ap->valid = true;
}

int
request_check_approvals(const struct roster *r,
    const struct request_verified *v, const struct request_approval *a,
    size_t n, int64_t now_ms, struct request_approver *out)
{
	uint8_t m[APPROVAL_MSG_MAX];
	size_t clen = sizeof(APPROVAL_CONTEXT) - 1, i;
	int count = 0;

	if (n > REQUEST_APPROVALS_MAX || r == NULL || v == NULL ||
	    v->raw == NULL || v->signer == NULL || v->raw_len == 0 ||
	    v->raw_len > REQUEST_PAYLOAD_MAX ||
	    (n > 0 && (a == NULL || out == NULL)))
		return SIGNET_ERR_INVALID_ARG;
	memcpy(m, APPROVAL_CONTEXT, clen);
	memcpy(m + clen, v->raw, v->raw_len);
	for (i = 0; i < n; i++) {
		check_one(r, v, &a[i], m, clen + v->raw_len, now_ms, out, i);
		if (out[i].valid)
			count++;
	}
	return count;
}

int
request_from_action(const struct envelope_action_payload *a,
    struct request_signed *out)
{
	memset(out, 0, sizeof(*out));
	if (!a->has_request)
		return SIGNET_ERR_NOT_FOUND;
	out->payload_b64 = strdup(a->request.payload_b64);
	out->sig_b64 = strdup(a->request.sig_b64);
	if (out->payload_b64 == NULL || out->sig_b64 == NULL) {
		request_signed_free(out);
		return SIGNET_ERR_ALLOC;
	}
	memcpy(out->key_id, a->request.key_id, sizeof(out->key_id));
	return 0;
}

int
request_matches_action(const struct request_payload *r,
    const struct envelope_action_payload *a, struct err_msg *msg)
{
	const char *member = NULL;

	if (strcmp(r->action_id, a->action_id) != 0)
		member = "action_id";
	else if (strcmp(r->host_id, a->host_id) != 0)
		member = "host_id";
	else if (strcmp(r->container_id, a->container_id) != 0)
		member = "container_id";
	else if (r->action != a->action)
		member = "action";
	else if (strcmp(r->reason, a->reason) != 0)
		member = "reason";
	else if (strcmp(r->requested_by, a->requested_by) != 0)
		member = "requested_by";
	if (member != NULL)
		return err_set(msg, SIGNET_ERR_FORMAT,
		    "the relay changed the request: %s differs", member);
	if (a->expires_at > r->expires_at)
		return err_set(msg, SIGNET_ERR_FORMAT,
		    "the relay changed the request: the action's expires_at "
		    "%lld is after the request's %lld",
		    (long long)a->expires_at, (long long)r->expires_at);
	return 0;
}

void
request_signed_free(struct request_signed *s)
{
	if (s == NULL)
		return;
	free(s->payload_b64);
	free(s->sig_b64);
	s->payload_b64 = NULL;
	s->sig_b64 = NULL;
}

void
request_verified_free(struct request_verified *v)
{
	if (v == NULL)
		return;
	free(v->raw);
	v->raw = NULL;
	v->raw_len = 0;
}
