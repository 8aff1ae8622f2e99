/* SPDX-License-Identifier: ISC */
/*
 * The agent channel's frames, built and parsed in one place (see wire.h):
 * the server, the agent and the test peers all go through here, so the
 * protocol document has one implementation to be true to.
 */
#include "wire.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <sodium.h>

#include "jsonx.h"
#include "text.h"

/* root object, containers array, row object, names/labels, strings */
#define WIRE_AGENT_DEPTH 5
#define WIRE_FLAT_DEPTH 2
/* Deep enough to read type from any frame a peer sends. */
#define WIRE_SERVER_DEPTH 8

static const struct {
	enum wire_type type;
	const char *name;
} wire_types[] = {
	{ WIRE_HELLO, "hello" },
	{ WIRE_INVENTORY, "inventory" },
	{ WIRE_ACTION_RESULT, "action_result" },
	{ WIRE_ACTION, "action" },
	{ WIRE_RESULT_ACK, "result_ack" },
	{ WIRE_CHALLENGE, "challenge" },
	{ WIRE_ACTION_OUTCOME, "action_outcome" },
	{ WIRE_OUTCOME_ACK, "outcome_ack" },
	{ WIRE_FRAME_REFUSED, "frame_refused" },
	{ WIRE_ROSTER, "roster" },
	{ WIRE_ROSTER_STATUS, "roster_status" },
	{ WIRE_POLICY, "policy" },
	{ WIRE_CHECKPOINT, "checkpoint" },
	{ WIRE_CHECKPOINT_ACK, "checkpoint_ack" },
	{ WIRE_DRAIN, "drain" },
};

const char *
wire_type_name(enum wire_type type)
{
	size_t i;

	for (i = 0; i < sizeof(wire_types) / sizeof(wire_types[0]); i++)
		if (wire_types[i].type == type)
			return wire_types[i].name;
	return NULL;
}

static enum wire_type
type_of(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(wire_types) / sizeof(wire_types[0]); i++)
		if (strcmp(wire_types[i].name, name) == 0)
			return wire_types[i].type;
	return WIRE_NONE;
}

/* ---- building ---- */

/*
 * A new object {"type":T} followed by the string members of keys/vals
 * (n of them); NULL on allocation failure or a NULL value.
 */
static cJSON *
flat_object(enum wire_type type, const char *const keys[],
    const char *const vals[], size_t n)
{
	cJSON *o;
	size_t i;

	o = cJSON_CreateObject();
	if (o == NULL ||
	    cJSON_AddStringToObject(o, "type", wire_type_name(type)) == NULL)
		goto fail;
	for (i = 0; i < n; i++) {
		if (vals[i] == NULL ||
		    cJSON_AddStringToObject(o, keys[i], vals[i]) == NULL)
			goto fail;
	}
	return o;
fail:
	cJSON_Delete(o);
	return NULL;
}

/* Prints o (consumed) into *out, its length into *len. */
static int
finish(cJSON *o, char **out, size_t *len)
{
	int r = SIGNET_ERR_ALLOC;

	if (o != NULL)
		*out = jsonx_print(o);
	if (*out != NULL) {
		*len = strlen(*out);
		r = 0;
	}
	cJSON_Delete(o);
	return r;
}

static int
build_flat(enum wire_type type, const char *const keys[],
    const char *const vals[], size_t n, char **out, size_t *len)
{
	size_t i;

	*out = NULL;
	*len = 0;
	for (i = 0; i < n; i++)
		if (vals[i] == NULL)
			return SIGNET_ERR_INVALID_ARG;
	return finish(flat_object(type, keys, vals, n), out, len);
}

/* "KEY":"SEQ:HASH"; false on allocation failure. */
static bool
add_head(cJSON *o, const char *key, const struct audit_head *h)
{
	char text[AUDIT_HEAD_TEXT_MAX];

	audit_head_format(h, text);
	return cJSON_AddStringToObject(o, key, text) != NULL;
}

/* The hello's payload, compact JSON (a new string), or NULL. */
static char *
hello_payload(const struct wire_hello *h)
{
	char nonce[2 * WIRE_CHALLENGE_LEN + 1];
	cJSON *o = cJSON_CreateObject();
	char *text = NULL;

	(void)text_hex(h->challenge, WIRE_CHALLENGE_LEN, nonce);
	if (o != NULL && cJSON_AddNumberToObject(o, "v", 1) != NULL &&
	    cJSON_AddStringToObject(o, "host_id", h->host_id) != NULL &&
	    cJSON_AddStringToObject(o, "agent_version", h->agent_version) !=
	        NULL &&
	    cJSON_AddStringToObject(o, "docker_version", h->docker_version) !=
	        NULL &&
	    cJSON_AddStringToObject(o, "result_key_id", h->result_key_id) !=
	        NULL &&
	    cJSON_AddStringToObject(o, "challenge", nonce) != NULL &&
	    (!h->has_audit_head || add_head(o, "audit_head", &h->audit_head)))
		text = jsonx_print(o);
	cJSON_Delete(o);
	return text;
}

int
wire_build_hello(const struct wire_hello *h, const struct keys_secret *key,
    char **out, size_t *len)
{
	static const char *const keys[] = { "payload", "sig" };
	const char *vals[2] = { NULL, NULL };
	struct envelope env;
	char *payload = NULL, *b64 = NULL;
	size_t plen, b64len;
	int r;

	*out = NULL;
	*len = 0;
	memset(&env, 0, sizeof(env));
	if (h == NULL)
		return SIGNET_ERR_INVALID_ARG;
	payload = hello_payload(h);
	if (payload == NULL)
		return SIGNET_ERR_ALLOC;
	plen = strlen(payload);
	if (key != NULL) {
		r = envelope_sign(WIRE_HELLO_CONTEXT, payload, plen, key, &env);
		if (r != 0)
			goto out;
		vals[0] = env.payload_b64;
		vals[1] = env.sig_b64;
	} else {
		/* No proof: only a test says hello this way. */
		b64len = sodium_base64_ENCODED_LEN(plen,
		    sodium_base64_VARIANT_ORIGINAL);
		b64 = malloc(b64len);
		r = SIGNET_ERR_ALLOC;
		if (b64 == NULL)
			goto out;
		(void)sodium_bin2base64(b64, b64len, (const uint8_t *)payload,
		    plen, sodium_base64_VARIANT_ORIGINAL);
		vals[0] = b64;
	}
	r = build_flat(WIRE_HELLO, keys, vals, key != NULL ? 2 : 1, out, len);
out:
	envelope_free(&env);
	free(payload);
	free(b64);
	return r;
}

int
wire_build_challenge(const uint8_t nonce[static WIRE_CHALLENGE_LEN], char **out,
    size_t *len)
{
	static const char *const keys[] = { "nonce" };
	char hex[2 * WIRE_CHALLENGE_LEN + 1];
	const char *vals[] = { hex };

	(void)text_hex(nonce, WIRE_CHALLENGE_LEN, hex);
	return build_flat(WIRE_CHALLENGE, keys, vals, 1, out, len);
}

int
wire_build_inventory(const struct inventory *inv, char **out, size_t *len)
{
	cJSON *o, *rows;

	*out = NULL;
	*len = 0;
	if (inv == NULL)
		return SIGNET_ERR_INVALID_ARG;
	o = flat_object(WIRE_INVENTORY, NULL, NULL, 0);
	rows = inventory_to_json(inv, NULL);
	if (o == NULL || rows == NULL ||
	    !cJSON_AddItemToObject(o, "containers", rows)) {
		cJSON_Delete(rows);
		cJSON_Delete(o);
		return SIGNET_ERR_ALLOC;
	}
	return finish(o, out, len);
}

int
wire_build_action(const char *payload_b64, const char *sig_b64,
    const char *key_id, char **out, size_t *len)
{
	static const char *const keys[] = { "payload", "sig", "key_id" };
	const char *vals[] = { payload_b64, sig_b64, key_id };

	return build_flat(WIRE_ACTION, keys, vals, 3, out, len);
}

int
wire_build_result(const char *payload_b64, const char *sig_b64, char **out,
    size_t *len)
{
	static const char *const keys[] = { "payload", "sig" };
	const char *vals[] = { payload_b64, sig_b64 };

	return build_flat(WIRE_ACTION_RESULT, keys, vals, 2, out, len);
}

int
wire_build_outcome(const char *payload_b64, const char *sig_b64, char **out,
    size_t *len)
{
	static const char *const keys[] = { "payload", "sig" };
	const char *vals[] = { payload_b64, sig_b64 };

	return build_flat(WIRE_ACTION_OUTCOME, keys, vals, 2, out, len);
}

int
wire_build_outcome_ack(const struct wire_result_ack *ack, char **out,
    size_t *len)
{
	static const char *const keys[] = { "action_id", "request_sha256" };
	const char *vals[] = { ack->action_id, ack->request_sha256 };

	return build_flat(WIRE_OUTCOME_ACK, keys, vals, 2, out, len);
}

int
wire_build_frame_refused(const struct wire_refusal *ref, char **out,
    size_t *len)
{
	static const char *const with[] = { "frame_sha256", "request_sha256",
		"reason" };
	static const char *const without[] = { "frame_sha256", "reason" };
	const char *vals_with[] = { ref->frame_sha256, ref->request_sha256,
		ref->reason };
	const char *vals_without[] = { ref->frame_sha256, ref->reason };

	if (ref->request_sha256[0] != '\0')
		return build_flat(WIRE_FRAME_REFUSED, with, vals_with, 3, out,
		    len);
	return build_flat(WIRE_FRAME_REFUSED, without, vals_without, 2, out,
	    len);
}

int
wire_build_result_ack(const struct wire_result_ack *ack, char **out,
    size_t *len)
{
	static const char *const keys[] = { "action_id", "request_sha256" };
	const char *vals[] = { ack->action_id, ack->request_sha256 };

	return build_flat(WIRE_RESULT_ACK, keys, vals, 2, out, len);
}

int
wire_build_roster(const char *roster_b64, char **out, size_t *len)
{
	static const char *const keys[] = { "roster" };
	const char *vals[] = { roster_b64 };

	return build_flat(WIRE_ROSTER, keys, vals, 1, out, len);
}

int
wire_build_policy(const char *policy_b64, char **out, size_t *len)
{
	static const char *const keys[] = { "policy" };
	const char *vals[] = { policy_b64 };

	return build_flat(WIRE_POLICY, keys, vals, 1, out, len);
}

int
wire_build_roster_status(const struct wire_roster_status *st, char **out,
    size_t *len)
{
	cJSON *o;

	*out = NULL;
	*len = 0;
	if (st == NULL)
		return SIGNET_ERR_INVALID_ARG;
	o = flat_object(WIRE_ROSTER_STATUS, NULL, NULL, 0);
	if (o == NULL || !jsonx_add_int64(o, "version", st->version) ||
	    cJSON_AddStringToObject(o, "roster_sha256", st->sha256) == NULL ||
	    (st->refused[0] != '\0' &&
	        cJSON_AddStringToObject(o, "refused", st->refused) == NULL)) {
		cJSON_Delete(o);
		return SIGNET_ERR_ALLOC;
	}
	return finish(o, out, len);
}

int
wire_build_checkpoint(const char *note, uint64_t old,
    const uint8_t (*proof)[MERKLE_HASH_LEN], size_t nproof, char **out,
    size_t *len)
{
	char b64[sodium_base64_ENCODED_LEN(MERKLE_HASH_LEN,
	    sodium_base64_VARIANT_ORIGINAL)];
	cJSON *o, *arr;
	size_t i;

	*out = NULL;
	*len = 0;
	if (note == NULL || (proof == NULL && nproof > 0) ||
	    old > (uint64_t)JSONX_INT_MAX)
		return SIGNET_ERR_INVALID_ARG;
	o = flat_object(WIRE_CHECKPOINT, NULL, NULL, 0);
	if (o == NULL || cJSON_AddStringToObject(o, "note", note) == NULL ||
	    !jsonx_add_int64(o, "old", (int64_t)old) ||
	    (arr = cJSON_AddArrayToObject(o, "proof")) == NULL)
		goto fail;
	for (i = 0; i < nproof; i++) {
		sodium_bin2base64(b64, sizeof(b64), proof[i], MERKLE_HASH_LEN,
		    sodium_base64_VARIANT_ORIGINAL);
		if (!cJSON_AddItemToArray(arr, cJSON_CreateString(b64)))
			goto fail;
	}
	return finish(o, out, len);
fail:
	cJSON_Delete(o);
	return SIGNET_ERR_ALLOC;
}

int
wire_build_drain(uint32_t within_ms, char **out, size_t *len)
{
	cJSON *o;

	*out = NULL;
	*len = 0;
	if (within_ms > WIRE_DRAIN_MAX_MS)
		return SIGNET_ERR_INVALID_ARG;
	o = cJSON_CreateObject();
	if (o != NULL &&
	    (cJSON_AddStringToObject(o, "type", wire_type_name(WIRE_DRAIN)) ==
	            NULL ||
	        cJSON_AddNumberToObject(o, "within_ms", (double)within_ms) ==
	            NULL)) {
		cJSON_Delete(o);
		o = NULL;
	}
	return finish(o, out, len);
}

int
wire_build_checkpoint_ack(uint64_t size, char **out, size_t *len)
{
	cJSON *o;

	*out = NULL;
	*len = 0;
	if (size > (uint64_t)JSONX_INT_MAX)
		return SIGNET_ERR_INVALID_ARG;
	o = flat_object(WIRE_CHECKPOINT_ACK, NULL, NULL, 0);
	if (o == NULL || !jsonx_add_int64(o, "size", (int64_t)size)) {
		cJSON_Delete(o);
		return SIGNET_ERR_ALLOC;
	}
	return finish(o, out, len);
}

/* ---- parsing ---- */

/* Versions: semver, Debian and git-describe forms; nothing to escape. */
static bool
valid_version(const char *s)
{
	size_t n = strlen(s), i;

	if (n == 0 || n > WIRE_VERSION_MAX)
		return false;
	for (i = 0; i < n; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		        (c >= '0' && c <= '9') || c == '.' || c == '_' ||
		        c == '+' || c == '~' || c == ':' || c == '-'))
			return false;
	}
	return true;
}

static bool
valid_key_id(const char *s)
{
	return text_is_hex(s, KEYS_ID_LEN);
}

static bool
valid_action_id(const char *s)
{
	return text_is_hex(s, 32);
}

static bool
valid_sha256(const char *s)
{
	return text_is_hex(s, 64);
}

/*
 * Copies member key of obj (frame what), a string accepted by ok, into
 * dst; want says what ok accepts.
 */
static int
take(const cJSON *obj, const char *what, const char *key,
    bool (*ok)(const char *), const char *want, char *dst, size_t dstlen,
    struct err_msg *msg)
{
	const char *s = NULL;
	char esc[80];
	int r;

	r = jsonx_get_string(obj, key, false, what, &s, msg);
	if (r != 0)
		return r;
	if (!ok(s) || strlen(s) >= dstlen)
		return err_set(msg, SIGNET_ERR_FORMAT,
		    "%s: %s \"%s\" is not %s", what, key,
		    text_escape_str(s, esc, sizeof(esc)), want);
	memcpy(dst, s, strlen(s) + 1);
	return 0;
}

/*
 * A string member of 1..max bytes (0..max when empty_ok) and, when
 * no_control, free of control bytes, copied into a new *out.
 */
static int
take_text(const cJSON *obj, const char *what, const char *key, size_t max,
    bool empty_ok, bool no_control, char **out, struct err_msg *msg)
{
	const char *s = NULL;
	size_t n;
	int r;

	r = jsonx_get_string(obj, key, false, what, &s, msg);
	if (r != 0)
		return r;
	n = strlen(s);
	if ((n == 0 && !empty_ok) || n > max)
		return err_set(msg, SIGNET_ERR_FORMAT,
		    "%s: %s must be "
		    "%s..%zu bytes, is %zu",
		    what, key, empty_ok ? "0" : "1", max, n);
	if (no_control && text_has_control(s))
		return err_set(msg, SIGNET_ERR_FORMAT,
		    "%s: %s holds a "
		    "control character",
		    what, key);
	*out = strdup(s);
	if (*out == NULL)
		return err_set(msg, SIGNET_ERR_ALLOC, "out of memory");
	return 0;
}

/*
 * Parses buf[0..len) as one JSON object (*root, cJSON_Delete it) and reads
 * its type member: *name as sent, *type WIRE_NONE when it names no frame.
 */
static int
open_frame(const char *what, const char *buf, size_t len, int depth,
    cJSON **root, enum wire_type *type, const char **name, struct err_msg *msg)
{
	int r;

	*root = NULL;
	*type = WIRE_NONE;
	*name = NULL;
	if (buf == NULL)
		return err_set(msg, SIGNET_ERR_INVALID_ARG, "%s: no data",
		    what);
	r = jsonx_parse_object(what, buf, len, depth, root, msg);
	if (r == 0)
		r = jsonx_get_string(*root, "type", false, what, name, msg);
	if (r == 0)
		*type = type_of(*name);
	return r;
}

static int
refuse_type(const char *name, const char *where, struct err_msg *msg)
{
	char esc[48];

	return err_set(msg, SIGNET_ERR_FORMAT,
	    "frame type \"%s\" is not accepted %s",
	    text_escape_str(name, esc, sizeof(esc)), where);
}

static bool
valid_nonce(const char *s)
{
	return text_is_hex(s, 2 * WIRE_CHALLENGE_LEN);
}

/* A nonce member (64 lowercase hex) of obj, decoded into out. */
static int
take_nonce(const cJSON *obj, const char *what, const char *key,
    uint8_t out[static WIRE_CHALLENGE_LEN], struct err_msg *msg)
{
	char hex[2 * WIRE_CHALLENGE_LEN + 1];
	size_t got = 0;
	int r;

	r = take(obj, what, key, valid_nonce,
	    "a challenge (64 lowercase hex digits)", hex, sizeof(hex), msg);
	if (r == 0 &&
	    (sodium_hex2bin(out, WIRE_CHALLENGE_LEN, hex, strlen(hex), NULL,
	         &got, NULL) != 0 ||
	        got != WIRE_CHALLENGE_LEN))
		r = err_set(msg, SIGNET_ERR_FORMAT, "%s: %s is not hex", what,
		    key);
	return r;
}

/* The signed payload of a hello, parsed strictly into *out. */
static int
hello_payload_members(const uint8_t *raw, size_t len, struct wire_hello *out,
    struct err_msg *msg)
{
	static const char *const members[] = { "v", "host_id", "agent_version",
		"docker_version", "result_key_id", "challenge", "audit_head",
		NULL };
	static const char version_want[] =
	    "a version (1-64 of A-Z a-z 0-9 . _ + ~ : -)";
	static const char what[] = "hello payload";
	cJSON *root = NULL;
	int64_t v = 0;
	int r;

	r = jsonx_parse_object(what, raw, len, WIRE_FLAT_DEPTH, &root, msg);
	if (r == 0)
		r = jsonx_only_members(root, members, what, msg);
	if (r == 0)
		r = jsonx_get_int64(root, "v", 1, 1, what, &v, msg);
	if (r == 0)
		r = take(root, what, "host_id", text_valid_name,
		    "a valid host id", out->host_id, sizeof(out->host_id), msg);
	if (r == 0)
		r = take(root, what, "agent_version", valid_version,
		    version_want, out->agent_version,
		    sizeof(out->agent_version), msg);
	if (r == 0)
		r = take(root, what, "docker_version", valid_version,
		    version_want, out->docker_version,
		    sizeof(out->docker_version), msg);
	if (r == 0)
		r = take(root, what, "result_key_id", valid_key_id,
		    "a key id (16 lowercase hex digits)", out->result_key_id,
		    sizeof(out->result_key_id), msg);
	if (r == 0)
		r = take_nonce(root, what, "challenge", out->challenge, msg);
	if (r == 0 &&
	    cJSON_GetObjectItemCaseSensitive(root, "audit_head") != NULL) {
		const char *s = NULL;

		r = jsonx_get_string(root, "audit_head", false, what, &s, msg);
		if (r == 0 &&
		    (strlen(s) >= AUDIT_HEAD_TEXT_MAX ||
		        audit_head_parse(s, &out->audit_head) != 0))
			r = err_set(msg, SIGNET_ERR_FORMAT,
			    "%s.audit_head: must be \"SEQ:HASH\" (a seq and "
			    "64 lowercase hex digits)",
			    what);
		out->has_audit_head = r == 0;
	}
	cJSON_Delete(root);
	return r;
}

/*
 * The hello frame's members: payload and sig texts (new strings). A hello
 * of the kind before proofs (host_id at the top) is named as such; a
 * missing sig is a missing proof.
 */
static int
hello_frame_members(const cJSON *root, char **payload, char **sig,
    struct err_msg *msg)
{
	static const char *const members[] = { "type", "payload", "sig", NULL };
	int r;

	if (cJSON_GetObjectItemCaseSensitive(root, "host_id") != NULL)
		return err_set(msg, SIGNET_ERR_FORMAT,
		    "hello: host_id at the top and no signed payload: an "
		    "agent older than this server (it must prove its result "
		    "key; upgrade agent and server together)");
	r = jsonx_only_members(root, members, "hello", msg);
	if (r == 0)
		r = take_text(root, "hello", "payload", WIRE_HELLO_MAX, false,
		    false, payload, msg);
	if (r == 0 && cJSON_GetObjectItemCaseSensitive(root, "sig") == NULL)
		r = err_set(msg, SIGNET_ERR_BAD_SIGNATURE,
		    "hello: no sig: the agent does not prove that it holds "
		    "its result key");
	if (r == 0)
		r = take_text(root, "hello", "sig", WIRE_SIG_B64_MAX, false,
		    false, sig, msg);
	return r;
}

int
wire_parse_hello(const char *buf, size_t len, const struct keys_public *pub,
    const uint8_t challenge[static WIRE_CHALLENGE_LEN], struct wire_hello *out,
    struct err_msg *msg)
{
	struct wire_hello h;
	cJSON *root = NULL;
	enum wire_type type;
	const char *name = NULL;
	char *payload = NULL, *sig = NULL, esc[48];
	uint8_t *raw = NULL;
	size_t raw_len = 0;
	int r;

	memset(out, 0, sizeof(*out));
	memset(&h, 0, sizeof(h));
	if (pub == NULL || challenge == NULL)
		return err_set(msg, SIGNET_ERR_INVALID_ARG,
		    "hello: no key or challenge to check it against");
	if (len > WIRE_HELLO_MAX)
		return err_set(msg, SIGNET_ERR_TOO_LARGE,
		    "hello: %zu bytes, "
		    "over %d",
		    len, WIRE_HELLO_MAX);
	r = open_frame("hello", buf, len, WIRE_FLAT_DEPTH, &root, &type, &name,
	    msg);
	if (r == 0 && type != WIRE_HELLO)
		r = err_set(msg, SIGNET_ERR_FORMAT,
		    "first frame has type \"%s\"; it must be hello",
		    text_escape_str(name, esc, sizeof(esc)));
	if (r == 0)
		r = hello_frame_members(root, &payload, &sig, msg);
	if (r != 0)
		goto out;
	/* The proof first: nothing of the payload is read unverified. */
	r = envelope_open(WIRE_HELLO_CONTEXT, payload, sig, pub, &raw, &raw_len,
	    msg);
	if (r == SIGNET_ERR_BAD_SIGNATURE)
		r = err_set(msg, r,
		    "hello: the signature does not verify under the result "
		    "key registered for this host (%s)",
		    pub->id);
	else if (r != 0 && r != SIGNET_ERR_ALLOC)
		r = SIGNET_ERR_FORMAT; /* msg says what envelope_open saw */
	if (r == 0)
		r = hello_payload_members(raw, raw_len, &h, msg);
	if (r == 0 &&
	    sodium_memcmp(h.challenge, challenge, WIRE_CHALLENGE_LEN) != 0)
		r = err_set(msg, SIGNET_ERR_BAD_SIGNATURE,
		    "hello: signed for another challenge than this "
		    "connection's (a replayed hello?)");
	if (r == 0)
		*out = h;
out:
	cJSON_Delete(root);
	free(payload);
	free(sig);
	free(raw);
	return r;
}

/*
 * {"type":"action_result"|"action_outcome","payload","sig"} (what names
 * the type): the envelope, as received.
 */
static int
result_members(const cJSON *root, const char *what, struct wire_frame *out,
    struct err_msg *msg)
{
	static const char *const members[] = { "type", "payload", "sig", NULL };
	int r;

	r = jsonx_only_members(root, members, what, msg);
	if (r == 0)
		r = take_text(root, what, "payload", WIRE_PAYLOAD_B64_MAX,
		    false, false, &out->payload_b64, msg);
	if (r == 0)
		r = take_text(root, what, "sig", WIRE_SIG_B64_MAX, false, false,
		    &out->sig_b64, msg);
	return r;
}

static int
inventory_members(const cJSON *root, struct inventory **inv,
    struct err_msg *msg)
{
	static const char *const members[] = { "type", "containers", NULL };
	const cJSON *containers;
	int r;

	r = jsonx_only_members(root, members, "inventory", msg);
	if (r != 0)
		return r;
	containers = cJSON_GetObjectItemCaseSensitive(root, "containers");
	if (containers == NULL)
		return err_set(msg, SIGNET_ERR_FORMAT,
		    "inventory: containers missing");
	return inventory_from_frame(containers, inv, msg);
}

/*
 * {"type":"frame_refused","frame_sha256"[,"request_sha256"],"reason"}:
 * the hashes 64 lowercase hex, the reason 1..WIRE_REASON_MAX bytes with
 * no control byte.
 */
static int
refusal_members(const cJSON *root, struct wire_refusal *ref,
    struct err_msg *msg)
{
	static const char *const members[] = { "type", "frame_sha256",
		"request_sha256", "reason", NULL };
	char *reason = NULL;
	int r;

	r = jsonx_only_members(root, members, "frame_refused", msg);
	if (r == 0)
		r = take(root, "frame_refused", "frame_sha256", valid_sha256,
		    "a SHA-256 (64 lowercase hex digits)", ref->frame_sha256,
		    sizeof(ref->frame_sha256), msg);
	if (r == 0 &&
	    cJSON_GetObjectItemCaseSensitive(root, "request_sha256") != NULL)
		r = take(root, "frame_refused", "request_sha256", valid_sha256,
		    "a SHA-256 (64 lowercase hex digits)", ref->request_sha256,
		    sizeof(ref->request_sha256), msg);
	if (r == 0)
		r = take_text(root, "frame_refused", "reason", WIRE_REASON_MAX,
		    false, true, &reason, msg);
	if (r == 0)
		memcpy(ref->reason, reason, strlen(reason) + 1);
	free(reason);
	return r;
}

/*
 * {"type":"roster_status","version","roster_sha256"[,"refused"]}: a
 * version of 0 (none held) goes with an empty hash, any other with one.
 */
static int
roster_status_members(const cJSON *root, struct wire_roster_status *st,
    struct err_msg *msg)
{
	static const char *const members[] = { "type", "version",
		"roster_sha256", "refused", NULL };
	const char *sha = NULL;
	char *refused = NULL;
	int r;

	r = jsonx_only_members(root, members, "roster_status", msg);
	if (r == 0)
		r = jsonx_get_int64(root, "version", 0, ROSTER_VERSION_MAX,
		    "roster_status", &st->version, msg);
	if (r == 0)
		r = jsonx_get_string(root, "roster_sha256", false,
		    "roster_status", &sha, msg);
	if (r == 0 && (st->version == 0 ? sha[0] != '\0' : !valid_sha256(sha)))
		r = err_set(msg, SIGNET_ERR_FORMAT,
		    "roster_status: roster_sha256 must be %s",
		    st->version == 0 ? "\"\" with version 0" :
		                       "a SHA-256 (64 lowercase hex digits)");
	if (r == 0)
		memcpy(st->sha256, sha, strlen(sha) + 1);
	if (r == 0 && cJSON_GetObjectItemCaseSensitive(root, "refused") != NULL)
		r = take_text(root, "roster_status", "refused", WIRE_REASON_MAX,
		    false, true, &refused, msg);
	if (r == 0 && refused != NULL)
		memcpy(st->refused, refused, strlen(refused) + 1);
	free(refused);
	return r;
}

/* {"type":"policy","policy"}: the text is decoded by its reader. */
static int
policy_members(const cJSON *root, struct wire_frame *out, struct err_msg *msg)
{
	static const char *const members[] = { "type", "policy", NULL };
	int r;

	r = jsonx_only_members(root, members, "policy", msg);
	if (r == 0)
		r = take_text(root, "policy", "policy", WIRE_POLICY_B64_MAX,
		    false, true, &out->payload_b64, msg);
	return r;
}

/*
 * {"type":"checkpoint","note","old","proof"}: the note only bounded (its
 * reader opens it), the proof's hashes decoded; no proof from size 0.
 */
static int
checkpoint_members(const cJSON *root, struct wire_checkpoint *cp,
    struct err_msg *msg)
{
	static const char *const members[] = { "type", "note", "old", "proof",
		NULL };
	static const char what[] = "checkpoint";
	const cJSON *arr, *h;
	int64_t old = 0;
	size_t got = 0;
	int r, n;

	r = jsonx_only_members(root, members, what, msg);
	if (r == 0)
		r = take_text(root, what, "note", NOTE_SIZE_MAX, false, false,
		    &cp->note, msg);
	if (r == 0)
		cp->note_len = strlen(cp->note);
	if (r == 0)
		r = jsonx_get_int64(root, "old", 0, JSONX_INT_MAX, what, &old,
		    msg);
	if (r != 0)
		return r;
	cp->old = (uint64_t)old;
	arr = cJSON_GetObjectItemCaseSensitive(root, "proof");
	if (!cJSON_IsArray(arr))
		return err_set(msg, SIGNET_ERR_FORMAT,
		    "%s: proof must be an array of hashes", what);
	n = cJSON_GetArraySize(arr);
	if (n > MERKLE_PROOF_MAX)
		return err_set(msg, SIGNET_ERR_FORMAT,
		    "%s: proof holds %d hashes, over %d", what, n,
		    MERKLE_PROOF_MAX);
	if (n > 0 && old == 0)
		return err_set(msg, SIGNET_ERR_FORMAT,
		    "%s: a proof from size 0 (every tree holds the empty one: "
		    "old 0 takes no proof)",
		    what);
	cJSON_ArrayForEach(h, arr)
	{
		if (!cJSON_IsString(h) || h->valuestring == NULL ||
		    text_b64_decode_into(h->valuestring, strlen(h->valuestring),
		        cp->proof[cp->nproof], MERKLE_HASH_LEN, &got) != 0 ||
		    got != MERKLE_HASH_LEN)
			return err_set(msg, SIGNET_ERR_FORMAT,
			    "%s: proof[%zu] is not base64 of a 32-byte hash",
			    what, cp->nproof);
		cp->nproof++;
	}
	return 0;
}

/* {"type":"checkpoint_ack","size"}. */
static int
checkpoint_ack_members(const cJSON *root, uint64_t *size, struct err_msg *msg)
{
	static const char *const members[] = { "type", "size", NULL };
	int64_t v = 0;
	int r;

	r = jsonx_only_members(root, members, "checkpoint_ack", msg);
	if (r == 0)
		r = jsonx_get_int64(root, "size", 0, JSONX_INT_MAX,
		    "checkpoint_ack", &v, msg);
	if (r == 0)
		*size = (uint64_t)v;
	return r;
}

int
wire_parse_agent_frame(const char *buf, size_t len, struct wire_frame *out,
    struct err_msg *msg)
{
	cJSON *root = NULL;
	enum wire_type type = WIRE_NONE;
	const char *name = NULL;
	int r;

	memset(out, 0, sizeof(*out));
	r = open_frame("frame", buf, len, WIRE_AGENT_DEPTH, &root, &type, &name,
	    msg);
	if (r != 0)
		goto out;
	switch (type) {
	case WIRE_INVENTORY: r = inventory_members(root, &out->inv, msg); break;
	case WIRE_ACTION_RESULT:
		r = result_members(root, "action_result", out, msg);
		break;
	case WIRE_ACTION_OUTCOME:
		r = result_members(root, "action_outcome", out, msg);
		break;
	case WIRE_FRAME_REFUSED:
		r = refusal_members(root, &out->refusal, msg);
		break;
	case WIRE_ROSTER_STATUS:
		r = roster_status_members(root, &out->roster, msg);
		break;
	case WIRE_POLICY: r = policy_members(root, out, msg); break;
	case WIRE_CHECKPOINT:
		r = checkpoint_members(root, &out->cp, msg);
		break;
	default: r = refuse_type(name, "here", msg); break;
	}
	if (r == 0)
		out->type = type;
out:
	cJSON_Delete(root);
	if (r != 0)
		wire_frame_free(out);
	return r;
}

/*
 * {"type":"action","payload","sig","key_id"}. payload and sig are bounded
 * by the frame (the channel drops larger ones): the envelope's own check
 * names an oversized payload precisely.
 */
static int
action_members(const cJSON *root, struct wire_frame *out, struct err_msg *msg)
{
	static const char *const members[] = { "type", "payload", "sig",
		"key_id", NULL };
	char *kid = NULL;
	int r;

	r = jsonx_only_members(root, members, "frame", msg);
	if (r == 0)
		r = take_text(root, "frame", "payload", SIZE_MAX, true, false,
		    &out->payload_b64, msg);
	if (r == 0)
		r = take_text(root, "frame", "sig", SIZE_MAX, true, false,
		    &out->sig_b64, msg);
	if (r == 0)
		r = take_text(root, "frame", "key_id", WIRE_KEY_ID_MAX, true,
		    true, &kid, msg);
	if (r == 0)
		memcpy(out->key_id, kid, strlen(kid) + 1);
	free(kid);
	return r;
}

/* {"type":"result_ack"|"outcome_ack","action_id","request_sha256"}. */
static int
ack_members(const cJSON *root, const char *what, struct wire_result_ack *ack,
    struct err_msg *msg)
{
	static const char *const members[] = { "type", "action_id",
		"request_sha256", NULL };
	int r;

	r = jsonx_only_members(root, members, what, msg);
	if (r == 0)
		r = take(root, what, "action_id", valid_action_id,
		    "an action id (32 lowercase hex digits)", ack->action_id,
		    sizeof(ack->action_id), msg);
	if (r == 0)
		r = take(root, what, "request_sha256", valid_sha256,
		    "a SHA-256 (64 lowercase hex digits)", ack->request_sha256,
		    sizeof(ack->request_sha256), msg);
	return r;
}

/* {"type":"roster","roster"}: the text is decoded by its reader. */
static int
roster_members(const cJSON *root, struct wire_frame *out, struct err_msg *msg)
{
	static const char *const members[] = { "type", "roster", NULL };
	int r;

	r = jsonx_only_members(root, members, "roster", msg);
	if (r == 0)
		r = take_text(root, "roster", "roster", WIRE_ROSTER_B64_MAX,
		    false, true, &out->payload_b64, msg);
	return r;
}

/* {"type":"challenge","nonce"}. */
static int
challenge_members(const cJSON *root, struct wire_frame *out,
    struct err_msg *msg)
{
	static const char *const members[] = { "type", "nonce", NULL };
	int r;

	r = jsonx_only_members(root, members, "challenge", msg);
	if (r == 0)
		r = take_nonce(root, "challenge", "nonce", out->challenge, msg);
	return r;
}

/* {"type":"drain","within_ms"}. */
static int
drain_members(const cJSON *root, uint32_t *ms, struct err_msg *msg)
{
	static const char *const members[] = { "type", "within_ms", NULL };
	int64_t v = 0;
	int r;

	r = jsonx_only_members(root, members, "drain", msg);
	if (r == 0)
		r = jsonx_get_int64(root, "within_ms", 0, WIRE_DRAIN_MAX_MS,
		    "drain", &v, msg);
	if (r == 0)
		*ms = (uint32_t)v;
	return r;
}

int
wire_parse_server_frame(const char *buf, size_t len, struct wire_frame *out,
    struct err_msg *msg)
{
	cJSON *root = NULL;
	enum wire_type type = WIRE_NONE;
	const char *name = NULL;
	char esc[48];
	int r;

	memset(out, 0, sizeof(*out));
	r = open_frame("frame", buf, len, WIRE_SERVER_DEPTH, &root, &type,
	    &name, msg);
	if (r != 0)
		goto out;
	switch (type) {
	case WIRE_ACTION: r = action_members(root, out, msg); break;
	case WIRE_RESULT_ACK:
		r = ack_members(root, "result_ack", &out->ack, msg);
		break;
	case WIRE_OUTCOME_ACK:
		r = ack_members(root, "outcome_ack", &out->ack, msg);
		break;
	case WIRE_CHALLENGE: r = challenge_members(root, out, msg); break;
	case WIRE_ROSTER: r = roster_members(root, out, msg); break;
	case WIRE_CHECKPOINT_ACK:
		r = checkpoint_ack_members(root, &out->cp_size, msg);
		break;
	case WIRE_DRAIN: r = drain_members(root, &out->drain_ms, msg); break;
	default:
		r = err_set(msg, SIGNET_ERR_FORMAT, "unknown frame type \"%s\"",
		    text_escape_str(name, esc, sizeof(esc)));
		type = WIRE_NONE;
		break;
	}
out:
	cJSON_Delete(root);
	if (r != 0)
		wire_frame_free(out);
	out->type = type;
	return r;
}

/* A string member of obj of at most max bytes, copied; NULL when not. */
static int
peek_text(const cJSON *obj, const char *key, size_t max, char **out)
{
	const cJSON *v;

	*out = NULL;
	v = cJSON_GetObjectItemCaseSensitive(obj, key);
	if (!cJSON_IsString(v) || v->valuestring == NULL ||
	    strlen(v->valuestring) > max)
		return 0;
	*out = strdup(v->valuestring);
	return *out == NULL ? SIGNET_ERR_ALLOC : 0;
}

int
wire_peek_action(const char *buf, size_t len, char **payload_b64, char **key_id)
{
	cJSON *root = NULL;
	int r = 0;

	*payload_b64 = NULL;
	*key_id = NULL;
	if (buf == NULL ||
	    jsonx_parse_object("frame", buf, len, WIRE_SERVER_DEPTH, &root,
	        NULL) != 0)
		return 0;
	r = peek_text(root, "payload", SIZE_MAX, payload_b64);
	if (r == 0)
		r = peek_text(root, "key_id", WIRE_KEY_ID_MAX, key_id);
	if (r == 0 && *key_id != NULL && text_has_control(*key_id)) {
		free(*key_id);
		*key_id = NULL;
	}
	cJSON_Delete(root);
	if (r != 0) {
		free(*payload_b64);
		free(*key_id);
		*payload_b64 = *key_id = NULL;
	}
	return r;
}

void
wire_frame_free(struct wire_frame *f)
{
	if (f == NULL)
		return;
	inventory_free(f->inv);
	free(f->payload_b64);
	free(f->sig_b64);
	free(f->cp.note);
	memset(f, 0, sizeof(*f));
}
