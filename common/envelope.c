/* SPDX-License-Identifier: ISC */
/* Signing, verifying and strictly parsing action and result envelopes. */
#include "envelope.h"

#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "jsonx.h"
#include "text.h"

/*
 * Nesting in payloads is flat but for an action's approvals (payload,
 * array, approval, string); anything deeper is hostile.
 */
#define PAYLOAD_MAX_DEPTH 4

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

size_t
envelope_payload_max(const char *context)
{
	return context != NULL && strcmp(context, ENVELOPE_CTX_ACTION) == 0 ?
	    ENVELOPE_ACTION_PAYLOAD_MAX :
	    ENVELOPE_PAYLOAD_MAX;
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
	if (len == 0 || len > envelope_payload_max(context))
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
	size_t max = envelope_payload_max(context);
	size_t b64max = sodium_base64_ENCODED_LEN(max,
	    sodium_base64_VARIANT_ORIGINAL);
	uint8_t sig[KEYS_SIG_LEN];
	uint8_t *buf = NULL;
	size_t b64len, got = 0;
	int r;

	*payload = NULL;
	*len = 0;
	if (payload_b64 == NULL || sig_b64 == NULL)
		return err_set(msg, SIGNET_ERR_FORMAT,
		    "envelope: payload or signature missing");
	b64len = strnlen(payload_b64, b64max + 1);
	if (b64len > b64max)
		return err_set(msg, SIGNET_ERR_TOO_LARGE,
		    "envelope: payload over %zu bytes", max);
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
	r = text_b64_decode(payload_b64, b64len, max, &buf, &got);
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
take_string(const cJSON *obj, const char *path, const char *key,
    enum field_kind kind, size_t hexlen, char *dst, size_t dstsize,
    struct err_msg *msg)
{
	const char *s = NULL;
	char esc[96];
	size_t n;
	int r;

	r = jsonx_get_string(obj, key, false, path, &s, msg);
	if (r != 0)
		return r;
	n = strlen(s);
	switch (kind) {
	case FIELD_NAME:
		if (!text_valid_name(s))
			return err_set(msg, SIGNET_ERR_FORMAT,
			    "%s.%s: \"%s\" is not a valid name", path, key,
			    text_escape_str(s, esc, sizeof(esc)));
		break;
	case FIELD_HEX:
		if (!text_is_hex(s, hexlen))
			return err_set(msg, SIGNET_ERR_FORMAT,
			    "%s.%s: must be %zu lowercase hex digits", path,
			    key, hexlen);
		break;
	case FIELD_TEXT: break;
	}
	if (n >= dstsize)
		return err_set(msg, SIGNET_ERR_FORMAT, "%s.%s: too long", path,
		    key);
	memcpy(dst, s, n + 1);
	return 0;
}

/*
 * Copies a required string that is base64 of 1..max bytes (exactly max
 * when exact) into dst[0..dstsize).
 */
static int
take_b64(const cJSON *obj, const char *path, const char *key, size_t max,
    bool exact, char *dst, size_t dstsize, struct err_msg *msg)
{
	uint8_t buf[REQUEST_PAYLOAD_MAX];
	const char *s = NULL;
	size_t n, got = 0;
	int r;

	if (max > sizeof(buf))
		return err_set(msg, SIGNET_ERR_INTERNAL, "%s.%s: bound %zu",
		    path, key, max);
	r = jsonx_get_string(obj, key, false, path, &s, msg);
	if (r != 0)
		return r;
	n = strlen(s);
	if (n >= dstsize || text_b64_decode_into(s, n, buf, max, &got) != 0 ||
	    (exact && got != max)) {
		if (exact)
			return err_set(msg, SIGNET_ERR_FORMAT,
			    "%s.%s: must be base64 of %zu bytes", path, key,
			    max);
		return err_set(msg, SIGNET_ERR_FORMAT,
		    "%s.%s: must be base64 of 1..%zu bytes", path, key, max);
	}
	memcpy(dst, s, n + 1);
	return 0;
}

static int
take_action(const cJSON *obj, const char *path, enum envelope_action *out,
    struct err_msg *msg)
{
	const char *s = NULL;
	char esc[64];
	int r;

	r = jsonx_get_string(obj, "action", false, path, &s, msg);
	if (r != 0)
		return r;
	*out = envelope_action_parse(s);
	if (*out == ENVELOPE_ACTION_NONE)
		return err_set(msg, SIGNET_ERR_FORMAT,
		    "%s.action: unknown action \"%s\" (START, STOP or "
		    "RESTART)",
		    path, text_escape_str(s, esc, sizeof(esc)));
	return 0;
}

static int
take_version(const cJSON *obj, const char *path, struct err_msg *msg)
{
	int64_t v = 0;
	int r;

	r = jsonx_get_int64(obj, "v", 1, 1, path, &v, msg);
	if (r != 0)
		return err_set(msg, r, "%s.v: unsupported version (need 1)",
		    path);
	return 0;
}

/*
 * Parses payload bytes (at most max) as one object of only the listed
 * members. *root is set even on failure (cJSON_Delete it).
 */
static int
parse_payload(const void *json, size_t len, size_t max,
    const char *const members[], cJSON **root, struct err_msg *msg)
{
	int r;

	*root = NULL;
	if (len > max)
		return err_set(msg, SIGNET_ERR_TOO_LARGE,
		    "payload: over %zu bytes", max);
	r = jsonx_parse_object("payload", json, len, PAYLOAD_MAX_DEPTH, root,
	    msg);
	if (r != 0)
		return r;
	return jsonx_only_members(*root, members, "payload", msg);
}

/*
 * The members every payload starts with: the version, the action id,
 * host, container and action. The ids must have the sizes of the payload
 * structs.
 */
static int
head_members(const cJSON *root, const char *path, char action_id[static 33],
    char host_id[static 64], char container_id[static 65],
    enum envelope_action *action, struct err_msg *msg)
{
	int r;

	r = take_version(root, path, msg);
	if (r != 0)
		return r;
	r = take_string(root, path, "action_id", FIELD_HEX, 32, action_id, 33,
	    msg);
	if (r != 0)
		return r;
	r = take_string(root, path, "host_id", FIELD_NAME, 0, host_id, 64, msg);
	if (r != 0)
		return r;
	r = take_string(root, path, "container_id", FIELD_HEX, 64, container_id,
	    65, msg);
	if (r != 0)
		return r;
	return take_action(root, path, action, msg);
}

int
envelope_action_members(const struct cJSON *root, const char *path,
    struct envelope_action_payload *out, struct err_msg *msg)
{
	size_t chars;
	int r;

	r = head_members(root, path, out->action_id, out->host_id,
	    out->container_id, &out->action, msg);
	if (r != 0)
		return r;
	r = take_string(root, path, "reason", FIELD_TEXT, 0, out->reason,
	    sizeof(out->reason), msg);
	if (r != 0)
		return r;
	r = take_string(root, path, "requested_by", FIELD_NAME, 0,
	    out->requested_by, sizeof(out->requested_by), msg);
	if (r != 0)
		return r;
	r = jsonx_get_int64(root, "issued_at", 0, JSONX_INT_MAX, path,
	    &out->issued_at, msg);
	if (r != 0)
		return r;
	r = jsonx_get_int64(root, "expires_at", 0, JSONX_INT_MAX, path,
	    &out->expires_at, msg);
	if (r != 0)
		return r;
	chars = text_utf8_chars(out->reason);
	if (chars == 0 || chars > ENVELOPE_REASON_CHARS)
		return err_set(msg, SIGNET_ERR_FORMAT,
		    "%s.reason: must be 1..%d characters, is %zu", path,
		    ENVELOPE_REASON_CHARS, chars);
	if (text_has_control(out->reason))
		return err_set(msg, SIGNET_ERR_FORMAT,
		    "%s.reason: control characters are not allowed", path);
	return 0;
}

/* An action's "request": {"payload","sig","key_id"}, as texts. */
static int
take_request(const cJSON *root, struct envelope_request *req,
    struct err_msg *msg)
{
	static const char *const members[] = { "payload", "sig", "key_id",
		NULL };
	static const char path[] = "payload.request";
	const cJSON *o = NULL;
	int r;

	r = jsonx_get_object(root, "request", "payload", &o, msg);
	if (r == 0)
		r = jsonx_only_members(o, members, path, msg);
	if (r == 0)
		r = take_b64(o, path, "payload", REQUEST_PAYLOAD_MAX, false,
		    req->payload_b64, sizeof(req->payload_b64), msg);
	if (r == 0)
		r = take_b64(o, path, "sig", KEYS_SIG_LEN, true, req->sig_b64,
		    sizeof(req->sig_b64), msg);
	if (r == 0)
		r = take_string(o, path, "key_id", FIELD_HEX, KEYS_ID_LEN,
		    req->key_id, sizeof(req->key_id), msg);
	return r;
}

/*
 * An action's "approvals": [{"key_id","sig"}, ...], at most
 * REQUEST_APPROVALS_MAX, only with a request. The same key twice is left
 * for counting to refuse, where it can be said which one counted.
 */
static int
take_approvals(const cJSON *root, struct envelope_action_payload *out,
    struct err_msg *msg)
{
	static const char *const members[] = { "key_id", "sig", NULL };
	const cJSON *arr, *o;
	struct request_approval *ap;
	char path[48];
	int r;

	arr = cJSON_GetObjectItemCaseSensitive(root, "approvals");
	if (!out->has_request)
		return err_set(msg, SIGNET_ERR_FORMAT,
		    "payload.approvals: only allowed with a request");
	if (!cJSON_IsArray(arr))
		return err_set(msg, SIGNET_ERR_FORMAT,
		    "payload.approvals: must be an array");
	cJSON_ArrayForEach(o, arr)
	{
		if (out->napprovals == REQUEST_APPROVALS_MAX)
			return err_set(msg, SIGNET_ERR_FORMAT,
			    "payload.approvals: more than %d",
			    REQUEST_APPROVALS_MAX);
		(void)snprintf(path, sizeof(path), "payload.approvals[%zu]",
		    out->napprovals);
		if (!cJSON_IsObject(o))
			return err_set(msg, SIGNET_ERR_FORMAT,
			    "%s: must be an object", path);
		ap = &out->approvals[out->napprovals];
		r = jsonx_only_members(o, members, path, msg);
		if (r == 0)
			r = take_string(o, path, "key_id", FIELD_HEX,
			    KEYS_ID_LEN, ap->key_id, sizeof(ap->key_id), msg);
		if (r == 0)
			r = take_b64(o, path, "sig", KEYS_SIG_LEN, true,
			    ap->sig_b64, sizeof(ap->sig_b64), msg);
		if (r != 0)
			return r;
		out->napprovals++;
	}
	return 0;
}

/*
 * An optional audit head member "SEQ:HASH" (the writer's last record):
 * *has false when absent.
 */
static int
take_head(const cJSON *root, const char *key, bool *has,
    struct audit_head *head, struct err_msg *msg)
{
	const char *s = NULL;
	int r;

	*has = false;
	memset(head, 0, sizeof(*head));
	if (cJSON_GetObjectItemCaseSensitive(root, key) == NULL)
		return 0;
	r = jsonx_get_string(root, key, false, "payload", &s, msg);
	if (r != 0)
		return r;
	if (strlen(s) >= AUDIT_HEAD_TEXT_MAX || audit_head_parse(s, head) != 0)
		return err_set(msg, SIGNET_ERR_FORMAT,
		    "payload.%s: must be \"SEQ:HASH\" (a seq and 64 "
		    "lowercase hex digits)",
		    key);
	*has = true;
	return 0;
}

int
envelope_action_decode(const void *json, size_t len,
    struct envelope_action_payload *out, struct err_msg *msg)
{
	static const char *const members[] = { "v", "action_id", "host_id",
		"container_id", "action", "reason", "requested_by", "issued_at",
		"expires_at", "request", "approvals", "server_head", NULL };
	cJSON *root = NULL;
	int r;

	memset(out, 0, sizeof(*out));
	r = parse_payload(json, len, ENVELOPE_ACTION_PAYLOAD_MAX, members,
	    &root, msg);
	if (r == 0)
		r = envelope_action_members(root, "payload", out, msg);
	if (r == 0 &&
	    cJSON_GetObjectItemCaseSensitive(root, "request") != NULL) {
		r = take_request(root, &out->request, msg);
		out->has_request = r == 0;
	}
	if (r == 0 &&
	    cJSON_GetObjectItemCaseSensitive(root, "approvals") != NULL)
		r = take_approvals(root, out, msg);
	if (r == 0)
		r = take_head(root, "server_head", &out->has_server_head,
		    &out->server_head, msg);
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
		"started_at", "finished_at", "request_sha256", "agent_head",
		NULL };
	cJSON *root = NULL;
	const cJSON *errv;
	const char *s = NULL;
	char esc[64];
	int r;

	memset(out, 0, sizeof(*out));
	r = parse_payload(json, len, ENVELOPE_PAYLOAD_MAX, members, &root, msg);
	if (r == 0)
		r = head_members(root, "payload", out->action_id, out->host_id,
		    out->container_id, &out->action, msg);
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
		r = take_string(root, "payload", "error", FIELD_TEXT, 0,
		    out->error, sizeof(out->error), msg);
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
	r = take_string(root, "payload", "request_sha256", FIELD_HEX, 64,
	    out->request_sha256, sizeof(out->request_sha256), msg);
	if (r != 0)
		goto out;
	r = take_head(root, "agent_head", &out->has_agent_head,
	    &out->agent_head, msg);
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
	return jsonx_add_int64(obj, key, value);
}

bool
envelope_add_json(cJSON *obj, const char *name, const char *payload_b64,
    const char *sig_b64, const char *key_id)
{
	cJSON *o = cJSON_AddObjectToObject(obj, name);

	return o != NULL && add_str(o, "payload", payload_b64) &&
	    add_str(o, "sig", sig_b64) && add_str(o, "key_id", key_id);
}

/* "request":{"payload","sig","key_id"}; false on allocation failure. */
static bool
add_request(cJSON *obj, const struct envelope_request *req)
{
	return envelope_add_json(obj, "request", req->payload_b64, req->sig_b64,
	    req->key_id);
}

/* "approvals":[{"key_id","sig"}, ...]; false on allocation failure. */
static bool
add_approvals(cJSON *obj, const struct request_approval *ap, size_t n)
{
	cJSON *arr = cJSON_AddArrayToObject(obj, "approvals");
	cJSON *o;
	size_t i;

	if (arr == NULL)
		return false;
	for (i = 0; i < n; i++) {
		o = cJSON_CreateObject();
		if (o == NULL)
			return false;
		if (!cJSON_AddItemToArray(arr, o)) {
			cJSON_Delete(o);
			return false;
		}
		if (!add_str(o, "key_id", ap[i].key_id) ||
		    !add_str(o, "sig", ap[i].sig_b64))
			return false;
	}
	return true;
}

/* "KEY":"SEQ:HASH"; false on allocation failure. */
static bool
add_head(cJSON *obj, const char *key, const struct audit_head *h)
{
	char text[AUDIT_HEAD_TEXT_MAX];

	audit_head_format(h, text);
	return add_str(obj, key, text);
}

int
envelope_action_encode(const struct envelope_action_payload *a, char **json)
{
	cJSON *o = NULL;
	int r = SIGNET_ERR_ALLOC;

	*json = NULL;
	if (envelope_action_name(a->action) == NULL ||
	    a->napprovals > REQUEST_APPROVALS_MAX ||
	    (a->napprovals > 0 && !a->has_request))
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
	    !add_num(o, "expires_at", a->expires_at) ||
	    (a->has_request && !add_request(o, &a->request)) ||
	    (a->napprovals > 0 &&
	        !add_approvals(o, a->approvals, a->napprovals)) ||
	    (a->has_server_head &&
	        !add_head(o, "server_head", &a->server_head)))
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
	    !add_str(o, "request_sha256", res->request_sha256) ||
	    (res->has_agent_head &&
	        !add_head(o, "agent_head", &res->agent_head)))
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
