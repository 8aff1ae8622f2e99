/* SPDX-License-Identifier: ISC */
/* Signing, verifying and strictly parsing action and result envelopes. */
#include "envelope.h"

#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "jsonx.h"
#include "text.h"

/* Nesting in payloads is flat; anything deeper is hostile. */
#define PAYLOAD_MAX_DEPTH 4
#define B64_PAYLOAD_MAX                                                        \
	sodium_base64_ENCODED_LEN(ENVELOPE_PAYLOAD_MAX,                        \
	    sodium_base64_VARIANT_ORIGINAL)

static const char *const action_names[] = { NULL, "START", "STOP", "RESTART" };
static const char *const status_names[] = { NULL, "SUCCESS", "FAILURE",
	"DENIED", "REJECTED", "UNKNOWN" };

#define NAMES_COUNT(t) ((int)(sizeof(t) / sizeof((t)[0])))

/* names[i] for 0 < i < count, else NULL (index 0 is "none"). */
static const char *
name_of(const char *const names[], int count, int i)
{
	return i > 0 && i < count ? names[i] : NULL;
}

/* The index of s in names[1..count), or 0. */
static int
index_of(const char *const names[], int count, const char *s)
{
	int i;

	for (i = 1; s != NULL && i < count; i++) {
		if (strcmp(s, names[i]) == 0)
			return i;
	}
	return 0;
}

const char *
envelope_action_name(enum envelope_action a)
{
	return name_of(action_names, NAMES_COUNT(action_names), (int)a);
}

enum envelope_action
envelope_action_parse(const char *s)
{
	return (enum envelope_action)index_of(action_names,
	    NAMES_COUNT(action_names), s);
}

const char *
envelope_status_name(enum envelope_status s)
{
	return name_of(status_names, NAMES_COUNT(status_names), (int)s);
}

enum envelope_status
envelope_status_parse(const char *s)
{
	return (enum envelope_status)index_of(status_names,
	    NAMES_COUNT(status_names), s);
}

void
envelope_sha256_hex(const void *buf, size_t len, char hex[static 65])
{
	uint8_t digest[crypto_hash_sha256_BYTES];

	crypto_hash_sha256(digest, buf, len);
	text_hex(digest, sizeof(digest), hex);
}

void
envelope_free(struct envelope *env)
{
	if (env == NULL)
		return;
	free(env->payload_b64);
	free(env->sig_b64);
	env->payload_b64 = NULL;
	env->sig_b64 = NULL;
}

/* Ed25519 over context || payload, streamed without a copy of both. */
static int
sign_detached(const char *context, const void *payload, size_t len,
    const uint8_t sk[static KEYS_SECRET_LEN], uint8_t sig[static KEYS_SIG_LEN])
{
	size_t clen = strlen(context);
	uint8_t *msgbuf = NULL;
	int r = SIGNET_ERR_ALLOC;

	if (len > SIZE_MAX - clen)
		return SIGNET_ERR_TOO_LARGE;
	msgbuf = malloc(clen + len);
	if (msgbuf == NULL)
		goto out;
	memcpy(msgbuf, context, clen);
	memcpy(msgbuf + clen, payload, len);
	if (crypto_sign_detached(sig, NULL, msgbuf, clen + len, sk) != 0) {
		r = SIGNET_ERR_CRYPTO;
		goto out;
	}
	r = 0;
out:
	free(msgbuf);
	return r;
}

static int
verify_detached(const char *context, const void *payload, size_t len,
    const uint8_t pk[static KEYS_PUBLIC_LEN],
    const uint8_t sig[static KEYS_SIG_LEN])
{
	size_t clen = strlen(context);
	uint8_t *msgbuf = NULL;
	int r = SIGNET_ERR_ALLOC;

	if (len > SIZE_MAX - clen)
		return SIGNET_ERR_TOO_LARGE;
	msgbuf = malloc(clen + len + 1);
	if (msgbuf == NULL)
		goto out;
	memcpy(msgbuf, context, clen);
	memcpy(msgbuf + clen, payload, len);
	r = crypto_sign_verify_detached(sig, msgbuf, clen + len, pk) == 0 ?
	    0 :
	    SIGNET_ERR_BAD_SIGNATURE;
out:
	free(msgbuf);
	return r;
}

int
envelope_sign(const char *context, const void *payload, size_t len,
    const struct keys_secret *key, struct envelope *env)
{
	uint8_t sig[KEYS_SIG_LEN];
	size_t b64len, siglen;
	int r;

	memset(env, 0, sizeof(*env));
	if (len == 0 || len > ENVELOPE_PAYLOAD_MAX)
		return SIGNET_ERR_TOO_LARGE;
	r = sign_detached(context, payload, len, key->sk, sig);
	if (r != 0)
		return r;
	b64len = sodium_base64_ENCODED_LEN(len, sodium_base64_VARIANT_ORIGINAL);
	siglen = sodium_base64_ENCODED_LEN(KEYS_SIG_LEN,
	    sodium_base64_VARIANT_ORIGINAL);
	env->payload_b64 = malloc(b64len);
	env->sig_b64 = malloc(siglen);
	if (env->payload_b64 == NULL || env->sig_b64 == NULL) {
		envelope_free(env);
		return SIGNET_ERR_ALLOC;
	}
	sodium_bin2base64(env->payload_b64, b64len, payload, len,
	    sodium_base64_VARIANT_ORIGINAL);
	sodium_bin2base64(env->sig_b64, siglen, sig, KEYS_SIG_LEN,
	    sodium_base64_VARIANT_ORIGINAL);
	memcpy(env->key_id, key->pub.id, sizeof(env->key_id));
	return 0;
}

int
envelope_open(const char *context, const char *payload_b64, const char *sig_b64,
    const struct keys_public *pub, uint8_t **payload, size_t *len,
    struct err_msg *msg)
{
	uint8_t sig[KEYS_SIG_LEN];
	uint8_t *buf = NULL;
	size_t b64len, got = 0;
	int r;

	*payload = NULL;
	*len = 0;
	if (payload_b64 == NULL || sig_b64 == NULL)
		return err_set(msg, SIGNET_ERR_FORMAT,
		    "envelope: payload or signature missing");
	b64len = strnlen(payload_b64, B64_PAYLOAD_MAX + 1);
	if (b64len > B64_PAYLOAD_MAX)
		return err_set(msg, SIGNET_ERR_TOO_LARGE,
		    "envelope: payload over %d bytes", ENVELOPE_PAYLOAD_MAX);
	if (b64len == 0)
		return err_set(msg, SIGNET_ERR_FORMAT,
		    "envelope: empty payload");
	if (strlen(sig_b64) !=
	        sodium_base64_ENCODED_LEN(KEYS_SIG_LEN,
	            sodium_base64_VARIANT_ORIGINAL) -
	            1 ||
	    text_b64_decode_into(sig_b64, strlen(sig_b64), sig, sizeof(sig),
	        &got) != 0 ||
	    got != KEYS_SIG_LEN)
		return err_set(msg, SIGNET_ERR_FORMAT,
		    "envelope: signature is not base64 of %d bytes",
		    KEYS_SIG_LEN);
	r = text_b64_decode(payload_b64, b64len, ENVELOPE_PAYLOAD_MAX, &buf,
	    &got);
	if (r == SIGNET_ERR_ALLOC)
		return err_set(msg, r, "envelope: out of memory");
	if (r != 0) {
		r = err_set(msg, SIGNET_ERR_FORMAT,
		    "envelope: payload is not valid base64");
		goto out;
	}
	r = verify_detached(context, buf, got, pub->pk, sig);
	if (r != 0) {
		r = err_set(msg, r,
		    "envelope: signature does not verify under "
		    "key %s",
		    pub->id);
		goto out;
	}
	*payload = buf;
	*len = got;
	buf = NULL;
	r = 0;
out:
	free(buf);
	return r;
}

/* Copies a required string of 1..max bytes, checked by kind. */
enum field_kind { FIELD_NAME, FIELD_HEX, FIELD_TEXT };

static int
take_string(const cJSON *obj, const char *key, enum field_kind kind,
    size_t hexlen, char *dst, size_t dstsize, struct err_msg *msg)
{
	const char *s = NULL;
	char esc[96];
	size_t n;
	int r;

	r = jsonx_get_string(obj, key, false, "payload", &s, msg);
	if (r != 0)
		return r;
	n = strlen(s);
	switch (kind) {
	case FIELD_NAME:
		if (!text_valid_name(s))
			return err_set(msg, SIGNET_ERR_FORMAT,
			    "payload.%s: \"%s\" is not a valid name", key,
			    text_escape_str(s, esc, sizeof(esc)));
		break;
	case FIELD_HEX:
		if (!text_is_hex(s, hexlen))
			return err_set(msg, SIGNET_ERR_FORMAT,
			    "payload.%s: must be %zu lowercase hex digits", key,
			    hexlen);
		break;
	case FIELD_TEXT: break;
	}
	if (n >= dstsize)
		return err_set(msg, SIGNET_ERR_FORMAT, "payload.%s: too long",
		    key);
	memcpy(dst, s, n + 1);
	return 0;
}

static int
take_action(const cJSON *obj, enum envelope_action *out, struct err_msg *msg)
{
	const char *s = NULL;
	char esc[64];
	int r;

	r = jsonx_get_string(obj, "action", false, "payload", &s, msg);
	if (r != 0)
		return r;
	*out = envelope_action_parse(s);
	if (*out == ENVELOPE_ACTION_NONE)
		return err_set(msg, SIGNET_ERR_FORMAT,
		    "payload.action: unknown action \"%s\" (START, STOP or "
		    "RESTART)",
		    text_escape_str(s, esc, sizeof(esc)));
	return 0;
}

static int
take_version(const cJSON *obj, struct err_msg *msg)
{
	int64_t v = 0;
	int r;

	r = jsonx_get_int64(obj, "v", 1, 1, "payload", &v, msg);
	if (r != 0)
		return err_set(msg, r,
		    "payload.v: unsupported version (need 1)");
	return 0;
}

/*
 * Parses a payload and the members every payload has: the version, the
 * action id, host, container and action. *root is set even on failure
 * (cJSON_Delete it); ids must have the sizes of the payload structs.
 */
static int
open_payload(const void *json, size_t len, const char *const members[],
    cJSON **root, char action_id[static 33], char host_id[static 64],
    char container_id[static 65], enum envelope_action *action,
    struct err_msg *msg)
{
	int r;

	*root = NULL;
	if (len > ENVELOPE_PAYLOAD_MAX)
		return err_set(msg, SIGNET_ERR_TOO_LARGE,
		    "payload: over %d bytes", ENVELOPE_PAYLOAD_MAX);
	r = jsonx_parse_object("payload", json, len, PAYLOAD_MAX_DEPTH, root,
	    msg);
	if (r != 0)
		return r;
	r = jsonx_only_members(*root, members, "payload", msg);
	if (r != 0)
		return r;
	r = take_version(*root, msg);
	if (r != 0)
		return r;
	r = take_string(*root, "action_id", FIELD_HEX, 32, action_id, 33, msg);
	if (r != 0)
		return r;
	r = take_string(*root, "host_id", FIELD_NAME, 0, host_id, 64, msg);
	if (r != 0)
		return r;
	r = take_string(*root, "container_id", FIELD_HEX, 64, container_id, 65,
	    msg);
	if (r != 0)
		return r;
	return take_action(*root, action, msg);
}

int
envelope_action_decode(const void *json, size_t len,
    struct envelope_action_payload *out, struct err_msg *msg)
{
	static const char *const members[] = { "v", "action_id", "host_id",
		"container_id", "action", "reason", "requested_by", "issued_at",
		"expires_at", NULL };
	cJSON *root = NULL;
	size_t chars;
	int r;

	memset(out, 0, sizeof(*out));
	r = open_payload(json, len, members, &root, out->action_id,
	    out->host_id, out->container_id, &out->action, msg);
	if (r != 0)
		goto out;
	r = take_string(root, "reason", FIELD_TEXT, 0, out->reason,
	    sizeof(out->reason), msg);
	if (r != 0)
		goto out;
	r = take_string(root, "requested_by", FIELD_NAME, 0, out->requested_by,
	    sizeof(out->requested_by), msg);
	if (r != 0)
		goto out;
	r = jsonx_get_int64(root, "issued_at", 0, JSONX_INT_MAX, "payload",
	    &out->issued_at, msg);
	if (r != 0)
		goto out;
	r = jsonx_get_int64(root, "expires_at", 0, JSONX_INT_MAX, "payload",
	    &out->expires_at, msg);
	if (r != 0)
		goto out;
	chars = text_utf8_chars(out->reason);
	if (chars == 0 || chars > ENVELOPE_REASON_CHARS) {
		r = err_set(msg, SIGNET_ERR_FORMAT,
		    "payload.reason: must be 1..%d characters, is %zu",
		    ENVELOPE_REASON_CHARS, chars);
		goto out;
	}
	if (text_has_control(out->reason)) {
		r = err_set(msg, SIGNET_ERR_FORMAT,
		    "payload.reason: control characters are not allowed");
		goto out;
	}
	r = 0;
out:
	cJSON_Delete(root);
	if (r != 0)
		memset(out, 0, sizeof(*out));
	return r;
}

int
envelope_result_decode(const void *json, size_t len,
    struct envelope_result_payload *out, struct err_msg *msg)
{
	static const char *const members[] = { "v", "action_id", "host_id",
		"container_id", "action", "status", "error", "docker_status",
		"started_at", "finished_at", "request_sha256", NULL };
	cJSON *root = NULL;
	const cJSON *errv;
	const char *s = NULL;
	char esc[64];
	int r;

	memset(out, 0, sizeof(*out));
	r = open_payload(json, len, members, &root, out->action_id,
	    out->host_id, out->container_id, &out->action, msg);
	if (r != 0)
		goto out;
	r = jsonx_get_string(root, "status", false, "payload", &s, msg);
	if (r != 0)
		goto out;
	out->status = envelope_status_parse(s);
	if (out->status == ENVELOPE_STATUS_NONE) {
		r = err_set(msg, SIGNET_ERR_FORMAT,
		    "payload.status: unknown status \"%s\"",
		    text_escape_str(s, esc, sizeof(esc)));
		goto out;
	}
	errv = cJSON_GetObjectItemCaseSensitive(root, "error");
	if (errv == NULL) {
		r = err_set(msg, SIGNET_ERR_FORMAT,
		    "payload.error: missing "
		    "(string or null)");
		goto out;
	}
	if (!cJSON_IsNull(errv)) {
		r = take_string(root, "error", FIELD_TEXT, 0, out->error,
		    sizeof(out->error), msg);
		if (r != 0)
			goto out;
		out->has_error = true;
	}
	r = jsonx_get_int64(root, "docker_status", 0, 999, "payload",
	    &out->docker_status, msg);
	if (r != 0)
		goto out;
	r = jsonx_get_int64(root, "started_at", 0, JSONX_INT_MAX, "payload",
	    &out->started_at, msg);
	if (r != 0)
		goto out;
	r = jsonx_get_int64(root, "finished_at", 0, JSONX_INT_MAX, "payload",
	    &out->finished_at, msg);
	if (r != 0)
		goto out;
	r = take_string(root, "request_sha256", FIELD_HEX, 64,
	    out->request_sha256, sizeof(out->request_sha256), msg);
	if (r != 0)
		goto out;
	r = 0;
out:
	cJSON_Delete(root);
	if (r != 0)
		memset(out, 0, sizeof(*out));
	return r;
}

/* Adds a string member; false on allocation failure. */
static bool
add_str(cJSON *obj, const char *key, const char *value)
{
	return cJSON_AddStringToObject(obj, key, value) != NULL;
}

static bool
add_num(cJSON *obj, const char *key, int64_t value)
{
	return cJSON_AddNumberToObject(obj, key, (double)value) != NULL;
}

int
envelope_action_encode(const struct envelope_action_payload *a, char **json)
{
	cJSON *o = NULL;
	int r = SIGNET_ERR_ALLOC;

	*json = NULL;
	if (envelope_action_name(a->action) == NULL)
		return SIGNET_ERR_INVALID_ARG;
	o = cJSON_CreateObject();
	if (o == NULL || !add_num(o, "v", 1) ||
	    !add_str(o, "action_id", a->action_id) ||
	    !add_str(o, "host_id", a->host_id) ||
	    !add_str(o, "container_id", a->container_id) ||
	    !add_str(o, "action", envelope_action_name(a->action)) ||
	    !add_str(o, "reason", a->reason) ||
	    !add_str(o, "requested_by", a->requested_by) ||
	    !add_num(o, "issued_at", a->issued_at) ||
	    !add_num(o, "expires_at", a->expires_at))
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
envelope_result_encode(const struct envelope_result_payload *res, char **json)
{
	cJSON *o = NULL;
	int r = SIGNET_ERR_ALLOC;

	*json = NULL;
	if (envelope_action_name(res->action) == NULL ||
	    envelope_status_name(res->status) == NULL)
		return SIGNET_ERR_INVALID_ARG;
	o = cJSON_CreateObject();
	if (o == NULL || !add_num(o, "v", 1) ||
	    !add_str(o, "action_id", res->action_id) ||
	    !add_str(o, "host_id", res->host_id) ||
	    !add_str(o, "container_id", res->container_id) ||
	    !add_str(o, "action", envelope_action_name(res->action)) ||
	    !add_str(o, "status", envelope_status_name(res->status)))
		goto out;
	if (res->has_error ? !add_str(o, "error", res->error) :
	                     cJSON_AddNullToObject(o, "error") == NULL)
		goto out;
	if (!add_num(o, "docker_status", res->docker_status) ||
	    !add_num(o, "started_at", res->started_at) ||
	    !add_num(o, "finished_at", res->finished_at) ||
	    !add_str(o, "request_sha256", res->request_sha256))
		goto out;
	*json = jsonx_print(o);
	if (*json == NULL)
		goto out;
	r = 0;
out:
	cJSON_Delete(o);
	return r;
}

/* Signs an encoded payload (taking ownership of json) under context. */
static int
sign_encoded(const char *context, int encoded, char *json,
    const struct keys_secret *key, struct envelope *env)
{
	int r = encoded;

	if (r == 0)
		r = envelope_sign(context, json, strlen(json), key, env);
	free(json);
	return r;
}

int
envelope_action_sign(const struct envelope_action_payload *a,
    const struct keys_secret *key, struct envelope *env)
{
	char *json = NULL;
	int r;

	memset(env, 0, sizeof(*env));
	r = envelope_action_encode(a, &json);
	return sign_encoded(ENVELOPE_CTX_ACTION, r, json, key, env);
}

int
envelope_result_sign(const struct envelope_result_payload *res,
    const struct keys_secret *key, struct envelope *env)
{
	char *json = NULL;
	int r;

	memset(env, 0, sizeof(*env));
	r = envelope_result_encode(res, &json);
	return sign_encoded(ENVELOPE_CTX_RESULT, r, json, key, env);
}

typedef int (
    *decode_fn)(const void *json, size_t len, void *out, struct err_msg *msg);

static int
decode_action(const void *json, size_t len, void *out, struct err_msg *msg)
{
	return envelope_action_decode(json, len, out, msg);
}

static int
decode_result(const void *json, size_t len, void *out, struct err_msg *msg)
{
	return envelope_result_decode(json, len, out, msg);
}

/* Opens an envelope under pub, then decodes its payload into out. */
static int
open_and_decode(const char *context, const char *payload_b64,
    const char *sig_b64, const struct keys_public *pub, decode_fn decode,
    void *out, uint8_t **raw, size_t *raw_len, struct err_msg *msg)
{
	uint8_t *payload = NULL;
	size_t len = 0;
	int r;

	if (raw != NULL)
		*raw = NULL;
	if (raw_len != NULL)
		*raw_len = 0;
	r = envelope_open(context, payload_b64, sig_b64, pub, &payload, &len,
	    msg);
	if (r != 0)
		return r;
	r = decode(payload, len, out, msg);
	if (r != 0)
		goto out;
	if (raw != NULL) {
		*raw = payload;
		payload = NULL;
	}
	if (raw_len != NULL)
		*raw_len = len;
out:
	free(payload);
	return r;
}

int
envelope_action_verify(const struct keys_pubset *pinned, const char *key_id,
    const char *payload_b64, const char *sig_b64,
    struct envelope_action_payload *out, uint8_t **raw, size_t *raw_len,
    struct err_msg *msg)
{
	const struct keys_public *pub;
	char esc[64];

	memset(out, 0, sizeof(*out));
	if (raw != NULL)
		*raw = NULL;
	if (raw_len != NULL)
		*raw_len = 0;
	pub = keys_pubset_find(pinned, key_id);
	if (pub == NULL)
		return err_set(msg, SIGNET_ERR_UNKNOWN_KEY,
		    "action signed with key id \"%s\", which is not pinned",
		    text_escape_str(key_id, esc, sizeof(esc)));
	return open_and_decode(ENVELOPE_CTX_ACTION, payload_b64, sig_b64, pub,
	    decode_action, out, raw, raw_len, msg);
}

int
envelope_result_verify(const struct keys_public *agent_key,
    const char *payload_b64, const char *sig_b64,
    struct envelope_result_payload *out, uint8_t **raw, size_t *raw_len,
    struct err_msg *msg)
{
	memset(out, 0, sizeof(*out));
	return open_and_decode(ENVELOPE_CTX_RESULT, payload_b64, sig_b64,
	    agent_key, decode_result, out, raw, raw_len, msg);
}

int
envelope_action_check_time(const struct envelope_action_payload *a,
    int64_t now_ms, struct err_msg *msg)
{
	if (a->expires_at <= a->issued_at)
		return err_set(msg, SIGNET_ERR_FORMAT,
		    "action expires before it is issued");
	if (a->expires_at - a->issued_at > ENVELOPE_MAX_LIFETIME_MS)
		return err_set(msg, SIGNET_ERR_FORMAT,
		    "action lifetime %lld ms is over the %lld ms allowed",
		    (long long)(a->expires_at - a->issued_at),
		    (long long)ENVELOPE_MAX_LIFETIME_MS);
	if (a->issued_at > now_ms + ENVELOPE_SKEW_MS)
		return err_set(msg, SIGNET_ERR_FORMAT,
		    "action issued %lld ms in the future (skew allowed %lld ms)",
		    (long long)(a->issued_at - now_ms),
		    (long long)ENVELOPE_SKEW_MS);
	if (now_ms > a->expires_at + ENVELOPE_SKEW_MS)
		return err_set(msg, SIGNET_ERR_FORMAT,
		    "action expired %lld ms ago",
		    (long long)(now_ms - a->expires_at));
	return 0;
}
