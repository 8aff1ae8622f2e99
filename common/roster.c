/* SPDX-License-Identifier: ISC */
/*
 * The signed operator roster (roster.h): verifying a signed roster file
 * against the pinned roster keys and a threshold, the strict parse of its
 * payload (only ever of bytes whose signatures held), the look-ups the
 * request and approval checks need, and the admin's side: encoding a
 * payload and signing it, one admin's signature added to the others'.
 */
#include "roster.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "clock.h"
#include "envelope.h"
#include "jsonx.h"
#include "text.h"

/* {"roster","signatures":[{"key_id","sig"}]}: strings at depth 4. */
#define FILE_MAX_DEPTH 4
/* {"operators":[{"groups":["g"]}]}: the group strings at depth 5. */
#define PAYLOAD_MAX_DEPTH 5
#define B64_PAYLOAD_MAX                                                        \
	(sodium_base64_ENCODED_LEN(ROSTER_PAYLOAD_MAX,                         \
	     sodium_base64_VARIANT_ORIGINAL) -                                 \
	    1)
#define B64_SIG_LEN                                                            \
	(sodium_base64_ENCODED_LEN(KEYS_SIG_LEN,                               \
	     sodium_base64_VARIANT_ORIGINAL) -                                 \
	    1)
#define B64_KEY_LEN                                                            \
	(sodium_base64_ENCODED_LEN(KEYS_PUBLIC_LEN,                            \
	     sodium_base64_VARIANT_ORIGINAL) -                                 \
	    1)

/* A signed file taken apart, nothing verified yet. */
struct roster_sig {
	char key_id[KEYS_ID_LEN + 1];
	uint8_t sig[KEYS_SIG_LEN];
};

struct signed_file {
	uint8_t *payload; /* decoded payload bytes (free()) */
	size_t len;
	size_t nsigs;
	struct roster_sig sigs[ROSTER_SIGS_MAX];
};

static void
signed_file_free(struct signed_file *sf)
{
	free(sf->payload);
	memset(sf, 0, sizeof(*sf));
}

/* One {"key_id","sig"} of the "signatures" array, the index-th. */
static int
take_sig(const cJSON *o, size_t index, struct roster_sig *out,
    struct err_msg *msg)
{
	static const char *const members[] = { "key_id", "sig", NULL };
	const char *id = NULL, *sig = NULL;
	char path[64];
	size_t got = 0;
	int r;

	(void)snprintf(path, sizeof(path), "roster file.signatures[%zu]",
	    index);
	if (!cJSON_IsObject(o))
		return err_set(msg, SIGNET_ERR_FORMAT, "%s: must be an object",
		    path);
	r = jsonx_only_members(o, members, path, msg);
	if (r == 0)
		r = jsonx_get_string(o, "key_id", false, path, &id, msg);
	if (r == 0)
		r = jsonx_get_string(o, "sig", false, path, &sig, msg);
	if (r != 0)
		return r;
	if (!text_is_hex(id, KEYS_ID_LEN))
		return err_set(msg, SIGNET_ERR_FORMAT,
		    "%s.key_id: must be %d lowercase hex digits", path,
		    KEYS_ID_LEN);
	if (strlen(sig) != B64_SIG_LEN ||
	    text_b64_decode_into(sig, strlen(sig), out->sig, sizeof(out->sig),
	        &got) != 0 ||
	    got != KEYS_SIG_LEN)
		return err_set(msg, SIGNET_ERR_FORMAT,
		    "%s.sig: must be base64 of %d bytes", path, KEYS_SIG_LEN);
	memcpy(out->key_id, id, KEYS_ID_LEN + 1);
	return 0;
}

/*
 * Takes a signed file apart strictly: exactly "roster" (base64 of 1..
 * ROSTER_PAYLOAD_MAX bytes) and "signatures" (1..ROSTER_SIGS_MAX, key ids
 * distinct). Verifies nothing.
 */
static int
open_file(const uint8_t *buf, size_t len, struct signed_file *out,
    struct err_msg *msg)
{
	static const char *const members[] = { "roster", "signatures", NULL };
	const cJSON *sigs, *s;
	cJSON *root = NULL;
	const char *b64 = NULL;
	size_t n, k, i, blen;
	int r;

	memset(out, 0, sizeof(*out));
	if (len > ROSTER_FILE_MAX)
		return err_set(msg, SIGNET_ERR_TOO_LARGE,
		    "roster file: %zu bytes, over the %d allowed", len,
		    ROSTER_FILE_MAX);
	r = jsonx_parse_object("roster file", buf, len, FILE_MAX_DEPTH, &root,
	    msg);
	if (r != 0)
		goto out;
	r = jsonx_only_members(root, members, "roster file", msg);
	if (r == 0)
		r = jsonx_get_string(root, "roster", false, "roster file", &b64,
		    msg);
	if (r != 0)
		goto out;
	blen = strlen(b64);
	if (blen > B64_PAYLOAD_MAX) {
		r = err_set(msg, SIGNET_ERR_TOO_LARGE,
		    "roster file.roster: the payload is over %d bytes",
		    ROSTER_PAYLOAD_MAX);
		goto out;
	}
	r = text_b64_decode(b64, blen, ROSTER_PAYLOAD_MAX, &out->payload,
	    &out->len);
	if (r == SIGNET_ERR_ALLOC) {
		r = err_set(msg, r, "roster file: out of memory");
		goto out;
	}
	if (r != 0) {
		r = err_set(msg, SIGNET_ERR_FORMAT,
		    "roster file.roster: not base64 of a payload");
		goto out;
	}
	sigs = cJSON_GetObjectItemCaseSensitive(root, "signatures");
	if (sigs == NULL || !cJSON_IsArray(sigs)) {
		r = err_set(msg, SIGNET_ERR_FORMAT,
		    "roster file.signatures: %s",
		    sigs == NULL ? "missing" : "must be an array");
		goto out;
	}
	n = (size_t)cJSON_GetArraySize(sigs);
	if (n < 1 || n > ROSTER_SIGS_MAX) {
		r = err_set(msg, SIGNET_ERR_FORMAT,
		    "roster file.signatures: holds %zu; 1 to %d are allowed", n,
		    ROSTER_SIGS_MAX);
		goto out;
	}
	k = 0;
	cJSON_ArrayForEach(s, sigs)
	{
		r = take_sig(s, k, &out->sigs[k], msg);
		if (r != 0)
			goto out;
		for (i = 0; i < k; i++) {
			if (strcmp(out->sigs[i].key_id, out->sigs[k].key_id) ==
			    0) {
				r = err_set(msg, SIGNET_ERR_FORMAT,
				    "roster file.signatures[%zu]: key %s "
				    "signed twice",
				    k, out->sigs[k].key_id);
				goto out;
			}
		}
		k++;
	}
	out->nsigs = k;
	r = 0;
out:
	cJSON_Delete(root);
	if (r != 0)
		signed_file_free(out);
	return r;
}

/* ROSTER_CONTEXT || payload into a new buffer (free()). */
static uint8_t *
with_context(const uint8_t *payload, size_t len, size_t *total)
{
	size_t clen = strlen(ROSTER_CONTEXT);
	uint8_t *m;

	if (len > SIZE_MAX - clen)
		return NULL;
	m = malloc(clen + len + 1);
	if (m == NULL)
		return NULL;
	memcpy(m, ROSTER_CONTEXT, clen);
	if (len > 0)
		memcpy(m + clen, payload, len);
	*total = clen + len;
	return m;
}

/* A name (an operator's or a group's) at path, copied into dst. */
static int
take_name(const char *s, const char *path, char dst[IDENTITY_NAME_MAX + 1],
    struct err_msg *msg)
{
	char esc[96];

	if (!text_valid_name(s))
		return err_set(msg, SIGNET_ERR_FORMAT,
		    "%s: \"%s\" is not a valid name "
		    "([a-z0-9][a-z0-9._-]{0,62})",
		    path, text_escape_str(s, esc, sizeof(esc)));
	memcpy(dst, s, strlen(s) + 1);
	return 0;
}

static int
take_groups(const cJSON *op, const char *path, struct roster_operator *o,
    struct err_msg *msg)
{
	const cJSON *g = cJSON_GetObjectItemCaseSensitive(op, "groups"), *e;
	char gpath[96];
	size_t n, i;
	int r;

	if (g == NULL || !cJSON_IsArray(g))
		return err_set(msg, SIGNET_ERR_FORMAT, "%s.groups: %s", path,
		    g == NULL ? "missing" : "must be an array");
	n = (size_t)cJSON_GetArraySize(g);
	if (n > ROSTER_GROUPS_MAX)
		return err_set(msg, SIGNET_ERR_FORMAT,
		    "%s.groups: %zu groups, over the %d allowed", path, n,
		    ROSTER_GROUPS_MAX);
	o->ngroups = 0;
	cJSON_ArrayForEach(e, g)
	{
		(void)snprintf(gpath, sizeof(gpath), "%s.groups[%zu]", path,
		    o->ngroups);
		if (!cJSON_IsString(e) || e->valuestring == NULL)
			return err_set(msg, SIGNET_ERR_FORMAT,
			    "%s: must be a string", gpath);
		r = take_name(e->valuestring, gpath, o->groups[o->ngroups],
		    msg);
		if (r != 0)
			return r;
		for (i = 0; i < o->ngroups; i++)
			if (strcmp(o->groups[i], e->valuestring) == 0)
				return err_set(msg, SIGNET_ERR_FORMAT,
				    "%s: group \"%s\" is listed twice", gpath,
				    e->valuestring);
		o->ngroups++;
	}
	return 0;
}

/* The index-th operator; checked against the ones before it. */
static int
take_operator(const cJSON *op, size_t index, struct roster *ro,
    struct err_msg *msg)
{
	static const char *const members[] = { "name", "key", "groups",
		"not_after", NULL };
	struct roster_operator *o = &ro->ops[index];
	struct err_msg sub;
	const char *s = NULL;
	char path[64], npath[80];
	size_t i;
	int r;

	(void)snprintf(path, sizeof(path), "roster.operators[%zu]", index);
	if (!cJSON_IsObject(op))
		return err_set(msg, SIGNET_ERR_FORMAT, "%s: must be an object",
		    path);
	r = jsonx_only_members(op, members, path, msg);
	if (r == 0)
		r = jsonx_get_string(op, "name", false, path, &s, msg);
	if (r != 0)
		return r;
	(void)snprintf(npath, sizeof(npath), "%s.name", path);
	r = take_name(s, npath, o->name, msg);
	if (r != 0)
		return r;
	r = jsonx_get_string(op, "key", false, path, &s, msg);
	if (r != 0)
		return r;
	if (strlen(s) != B64_KEY_LEN ||
	    keys_parse_public(s, strlen(s), &o->key, &sub) != 0)
		return err_set(msg, SIGNET_ERR_FORMAT,
		    "%s.key: not base64 of a %d-byte Ed25519 public key "
		    "(operator \"%s\")",
		    path, KEYS_PUBLIC_LEN, o->name);
	r = take_groups(op, path, o, msg);
	if (r != 0)
		return r;
	r = jsonx_get_int64(op, "not_after", 0, JSONX_INT_MAX, path,
	    &o->not_after, msg);
	if (r != 0)
		return r;
	for (i = 0; i < index; i++) {
		if (strcmp(ro->ops[i].name, o->name) == 0)
			return err_set(msg, SIGNET_ERR_FORMAT,
			    "%s: operator \"%s\" is listed twice", path,
			    o->name);
		if (strcmp(ro->ops[i].key.id, o->key.id) == 0 ||
		    sodium_memcmp(ro->ops[i].key.pk, o->key.pk,
		        KEYS_PUBLIC_LEN) == 0)
			return err_set(msg, SIGNET_ERR_FORMAT,
			    "%s: key %s of operator \"%s\" is already "
			    "operator \"%s\"'s; one key, one operator",
			    path, o->key.id, o->name, ro->ops[i].name);
	}
	return 0;
}

/* The strict parse of payload bytes into a new roster (*out). */
static int
parse_payload(const uint8_t *buf, size_t len, struct roster **out,
    struct err_msg *msg)
{
	static const char *const members[] = { "v", "version", "issued_at",
		"expires_at", "operators", NULL };
	struct roster *ro = NULL;
	const cJSON *ops, *op;
	cJSON *root = NULL;
	int64_t v = 0;
	size_t n, k;
	int r;

	*out = NULL;
	if (len > ROSTER_PAYLOAD_MAX)
		return err_set(msg, SIGNET_ERR_TOO_LARGE,
		    "roster: payload of %zu bytes, over the %d allowed", len,
		    ROSTER_PAYLOAD_MAX);
	r = jsonx_parse_object("roster", buf, len, PAYLOAD_MAX_DEPTH, &root,
	    msg);
	if (r != 0)
		goto out;
	ro = calloc(1, sizeof(*ro));
	if (ro == NULL) {
		r = err_set(msg, SIGNET_ERR_ALLOC, "roster: out of memory");
		goto out;
	}
	r = jsonx_only_members(root, members, "roster", msg);
	if (r != 0)
		goto out;
	r = jsonx_get_int64(root, "v", 1, 1, "roster", &v, msg);
	if (r != 0) {
		r = err_set(msg, r, "roster.v: unsupported format (need 1)");
		goto out;
	}
	r = jsonx_get_int64(root, "version", 1, ROSTER_VERSION_MAX, "roster",
	    &ro->version, msg);
	if (r == 0)
		r = jsonx_get_int64(root, "issued_at", 0, JSONX_INT_MAX,
		    "roster", &ro->issued_at, msg);
	if (r == 0)
		r = jsonx_get_int64(root, "expires_at", 0, JSONX_INT_MAX,
		    "roster", &ro->expires_at, msg);
	if (r != 0)
		goto out;
	if (ro->expires_at <= ro->issued_at) {
		r = err_set(msg, SIGNET_ERR_FORMAT,
		    "roster: expires_at %lld is not after issued_at %lld",
		    (long long)ro->expires_at, (long long)ro->issued_at);
		goto out;
	}
	if (ro->expires_at - ro->issued_at > ROSTER_LIFETIME_MAX_MS) {
		r = err_set(msg, SIGNET_ERR_FORMAT,
		    "roster: lifetime of %lld days is over the %lld allowed",
		    (long long)((ro->expires_at - ro->issued_at) / 86400000),
		    ROSTER_LIFETIME_MAX_MS / 86400000);
		goto out;
	}
	ops = cJSON_GetObjectItemCaseSensitive(root, "operators");
	if (ops == NULL || !cJSON_IsArray(ops)) {
		r = err_set(msg, SIGNET_ERR_FORMAT, "roster.operators: %s",
		    ops == NULL ? "missing" : "must be an array");
		goto out;
	}
	n = (size_t)cJSON_GetArraySize(ops);
	if (n > ROSTER_OPERATORS_MAX) {
		r = err_set(msg, SIGNET_ERR_FORMAT,
		    "roster.operators: %zu operators, over the %d allowed", n,
		    ROSTER_OPERATORS_MAX);
		goto out;
	}
	if (n > 0) {
		ro->ops = calloc(n, sizeof(*ro->ops));
		if (ro->ops == NULL) {
			r = err_set(msg, SIGNET_ERR_ALLOC,
			    "roster: out of memory");
			goto out;
		}
	}
	k = 0;
	cJSON_ArrayForEach(op, ops)
	{
		r = take_operator(op, k, ro, msg);
		if (r != 0)
			goto out;
		k++;
	}
	ro->nops = k;
	envelope_sha256_hex(buf, len, ro->payload_sha256);
	*out = ro;
	ro = NULL;
	r = 0;
out:
	cJSON_Delete(root);
	roster_free(ro);
	return r;
}

int
roster_parse_payload(const uint8_t *buf, size_t len, struct roster **out,
    struct err_msg *msg)
{
	if (out == NULL)
		return err_set(msg, SIGNET_ERR_INVALID_ARG,
		    "roster: no output");
	*out = NULL;
	if (buf == NULL)
		return err_set(msg, SIGNET_ERR_INVALID_ARG, "roster: no input");
	return parse_payload(buf, len, out, msg);
}

int
roster_verify(const uint8_t *buf, size_t len, const struct keys_pubset *pinned,
    unsigned threshold, struct roster **out, struct err_msg *msg)
{
	struct signed_file sf;
	struct roster *ro = NULL;
	const struct keys_public *pub;
	char signers[ROSTER_SIGS_MAX][KEYS_ID_LEN + 1];
	uint8_t *m = NULL;
	size_t mlen = 0, k, good = 0;
	int r;

	memset(&sf, 0, sizeof(sf));
	if (out != NULL)
		*out = NULL;
	if (buf == NULL || pinned == NULL || out == NULL || threshold < 1 ||
	    threshold > ROSTER_THRESHOLD_MAX)
		return err_set(msg, SIGNET_ERR_INVALID_ARG,
		    "roster: bad arguments (threshold %u: 1 to %d)", threshold,
		    ROSTER_THRESHOLD_MAX);
	r = open_file(buf, len, &sf, msg);
	if (r != 0)
		return r;
	m = with_context(sf.payload, sf.len, &mlen);
	if (m == NULL) {
		r = err_set(msg, SIGNET_ERR_ALLOC, "roster: out of memory");
		goto out;
	}
	/* Key ids are distinct (open_file), so each pinned key counts once. */
	for (k = 0; k < sf.nsigs; k++) {
		pub = keys_pubset_find(pinned, sf.sigs[k].key_id);
		if (pub == NULL)
			continue;
		if (crypto_sign_verify_detached(sf.sigs[k].sig, m, mlen,
		        pub->pk) != 0)
			continue;
		memcpy(signers[good++], pub->id, KEYS_ID_LEN + 1);
	}
	if (good < threshold) {
		r = err_set(msg, SIGNET_ERR_BAD_SIGNATURE,
		    "roster: %zu of the required %u signatures by pinned "
		    "roster keys hold",
		    good, threshold);
		goto out;
	}
	r = parse_payload(sf.payload, sf.len, &ro, msg);
	if (r != 0)
		goto out;
	ro->file = malloc(len > 0 ? len : 1);
	if (ro->file == NULL) {
		r = err_set(msg, SIGNET_ERR_ALLOC, "roster: out of memory");
		goto out;
	}
	memcpy(ro->file, buf, len);
	ro->file_len = len;
	envelope_sha256_hex(buf, len, ro->sha256);
	ro->nsigners = good;
	memcpy(ro->signers, signers, good * sizeof(signers[0]));
	*out = ro;
	ro = NULL;
	r = 0;
out:
	free(m);
	signed_file_free(&sf);
	roster_free(ro);
	return r;
}

int
roster_check_time(const struct roster *r, int64_t now_ms, struct err_msg *msg)
{
	char when[40];

	if (r == NULL)
		return err_set(msg, SIGNET_ERR_INVALID_ARG, "roster: none");
	if (now_ms < r->issued_at - ROSTER_SKEW_MS)
		return err_set(msg, SIGNET_ERR_FORMAT,
		    "roster version %lld issued in the future (at %s; check "
		    "the clocks)",
		    (long long)r->version,
		    clock_format(r->issued_at, false, when, sizeof(when)));
	if (now_ms >= r->expires_at)
		return err_set(msg, SIGNET_ERR_FORMAT,
		    "roster version %lld expired at %s; the admins must sign "
		    "a new one",
		    (long long)r->version,
		    clock_format(r->expires_at, false, when, sizeof(when)));
	return 0;
}

const struct roster_operator *
roster_find_key(const struct roster *r, const char *key_id)
{
	size_t k;

	if (r == NULL || key_id == NULL)
		return NULL;
	for (k = 0; k < r->nops; k++)
		if (strcmp(r->ops[k].key.id, key_id) == 0)
			return &r->ops[k];
	return NULL;
}

const struct roster_operator *
roster_find_name(const struct roster *r, const char *name)
{
	size_t k;

	if (r == NULL || name == NULL)
		return NULL;
	for (k = 0; k < r->nops; k++)
		if (strcmp(r->ops[k].name, name) == 0)
			return &r->ops[k];
	return NULL;
}

bool
roster_in_group(const struct roster_operator *op, const char *group)
{
	size_t k;

	if (op == NULL || group == NULL)
		return false;
	for (k = 0; k < op->ngroups && k < ROSTER_GROUPS_MAX; k++)
		if (strcmp(op->groups[k], group) == 0)
			return true;
	return false;
}

void
roster_free(struct roster *r)
{
	if (r == NULL)
		return;
	free(r->ops);
	free(r->file);
	free(r);
}

/* base64 (standard, padded) of in[0..len) into a new string (free()). */
static char *
b64_of(const uint8_t *in, size_t len)
{
	size_t n = sodium_base64_ENCODED_LEN(len,
	    sodium_base64_VARIANT_ORIGINAL);
	char *s = malloc(n);

	if (s != NULL)
		sodium_bin2base64(s, n, in, len,
		    sodium_base64_VARIANT_ORIGINAL);
	return s;
}

/*
 * An integer member written exactly: cJSON prints numbers through a
 * double with 15 significant digits first and accepts a near miss, which
 * would change a signed version or time above 10^15.
 */
static bool
add_int(cJSON *o, const char *key, int64_t v)
{
	char num[32];

	(void)snprintf(num, sizeof(num), "%lld", (long long)v);
	return cJSON_AddRawToObject(o, key, num) != NULL;
}

/* Appends one operator object to arr. */
static int
encode_operator(cJSON *arr, const struct roster_operator *op)
{
	cJSON *o = NULL, *g;
	char *key = NULL;
	size_t k;
	int r = SIGNET_ERR_ALLOC;

	if (op->ngroups > ROSTER_GROUPS_MAX)
		return SIGNET_ERR_INVALID_ARG;
	key = b64_of(op->key.pk, KEYS_PUBLIC_LEN);
	o = cJSON_CreateObject();
	if (key == NULL || o == NULL ||
	    cJSON_AddStringToObject(o, "name", op->name) == NULL ||
	    cJSON_AddStringToObject(o, "key", key) == NULL)
		goto out;
	g = cJSON_AddArrayToObject(o, "groups");
	if (g == NULL)
		goto out;
	for (k = 0; k < op->ngroups; k++) {
		cJSON *s = cJSON_CreateString(op->groups[k]);
		if (s == NULL || !cJSON_AddItemToArray(g, s)) {
			cJSON_Delete(s);
			goto out;
		}
	}
	if (!add_int(o, "not_after", op->not_after) ||
	    !cJSON_AddItemToArray(arr, o))
		goto out;
	o = NULL;
	r = 0;
out:
	cJSON_Delete(o);
	free(key);
	return r;
}

int
roster_encode_payload(const struct roster *r, char **json)
{
	cJSON *o = NULL, *arr;
	size_t k;
	int rc = SIGNET_ERR_ALLOC;

	if (json == NULL)
		return SIGNET_ERR_INVALID_ARG;
	*json = NULL;
	if (r == NULL || (r->nops > 0 && r->ops == NULL))
		return SIGNET_ERR_INVALID_ARG;
	o = cJSON_CreateObject();
	if (o == NULL || !add_int(o, "v", 1) ||
	    !add_int(o, "version", r->version) ||
	    !add_int(o, "issued_at", r->issued_at) ||
	    !add_int(o, "expires_at", r->expires_at))
		goto out;
	arr = cJSON_AddArrayToObject(o, "operators");
	if (arr == NULL)
		goto out;
	for (k = 0; k < r->nops; k++) {
		rc = encode_operator(arr, &r->ops[k]);
		if (rc != 0)
			goto out;
	}
	rc = SIGNET_ERR_ALLOC;
	*json = jsonx_print(o);
	if (*json == NULL)
		goto out;
	rc = 0;
out:
	cJSON_Delete(o);
	return rc;
}

/* The signed file text of payload and sigs[0..n) (a new string). */
static int
encode_file(const uint8_t *payload, size_t len, const struct roster_sig *sigs,
    size_t n, char **file)
{
	cJSON *o = NULL, *arr, *s;
	char *b64 = NULL, *sb = NULL;
	size_t k;
	int r = SIGNET_ERR_ALLOC;

	b64 = b64_of(payload, len);
	o = cJSON_CreateObject();
	if (b64 == NULL || o == NULL ||
	    cJSON_AddStringToObject(o, "roster", b64) == NULL)
		goto out;
	arr = cJSON_AddArrayToObject(o, "signatures");
	if (arr == NULL)
		goto out;
	for (k = 0; k < n; k++) {
		s = cJSON_CreateObject();
		if (s == NULL || !cJSON_AddItemToArray(arr, s)) {
			cJSON_Delete(s);
			goto out;
		}
		free(sb);
		sb = b64_of(sigs[k].sig, KEYS_SIG_LEN);
		if (sb == NULL ||
		    cJSON_AddStringToObject(s, "key_id", sigs[k].key_id) ==
		        NULL ||
		    cJSON_AddStringToObject(s, "sig", sb) == NULL)
			goto out;
	}
	*file = jsonx_print(o);
	if (*file == NULL)
		goto out;
	if (strlen(*file) > ROSTER_FILE_MAX) {
		free(*file);
		*file = NULL;
		r = SIGNET_ERR_TOO_LARGE;
		goto out;
	}
	r = 0;
out:
	free(sb);
	free(b64);
	cJSON_Delete(o);
	return r;
}

int
roster_sign(const uint8_t *payload, size_t len, const struct keys_secret *key,
    const uint8_t *existing, size_t existing_len, char **file,
    struct err_msg *msg)
{
	struct signed_file sf;
	struct roster_sig mine;
	struct err_msg sub;
	uint8_t *m = NULL;
	size_t mlen = 0, k;
	int r;

	memset(&sf, 0, sizeof(sf));
	memset(&mine, 0, sizeof(mine));
	if (file == NULL || payload == NULL || key == NULL)
		return err_set(msg, SIGNET_ERR_INVALID_ARG,
		    "roster: bad arguments");
	*file = NULL;
	if (len == 0 || len > ROSTER_PAYLOAD_MAX)
		return err_set(msg, SIGNET_ERR_TOO_LARGE,
		    "roster: a payload of %zu bytes; 1 to %d are allowed", len,
		    ROSTER_PAYLOAD_MAX);
	if (existing != NULL) {
		r = open_file(existing, existing_len, &sf, &sub);
		if (r != 0) {
			r = err_set(msg,
			    r == SIGNET_ERR_ALLOC ? r : SIGNET_ERR_FORMAT,
			    "the existing signed roster is malformed: %s",
			    sub.text);
			goto out;
		}
		if (sf.len != len || memcmp(sf.payload, payload, len) != 0) {
			r = err_set(msg, SIGNET_ERR_FORMAT,
			    "the existing signed roster is over other "
			    "bytes (payload sha256 differs)");
			goto out;
		}
	}
	m = with_context(payload, len, &mlen);
	if (m == NULL) {
		r = err_set(msg, SIGNET_ERR_ALLOC, "roster: out of memory");
		goto out;
	}
	memcpy(mine.key_id, key->pub.id, KEYS_ID_LEN + 1);
	if (crypto_sign_detached(mine.sig, NULL, m, mlen, key->sk) != 0) {
		r = err_set(msg, SIGNET_ERR_CRYPTO, "roster: signing failed");
		goto out;
	}
	for (k = 0; k < sf.nsigs; k++)
		if (strcmp(sf.sigs[k].key_id, mine.key_id) == 0)
			break;
	if (k == sf.nsigs) {
		if (sf.nsigs == ROSTER_SIGS_MAX) {
			r = err_set(msg, SIGNET_ERR_TOO_LARGE,
			    "the signed roster holds %d signatures already, "
			    "the most allowed",
			    ROSTER_SIGS_MAX);
			goto out;
		}
		sf.nsigs++;
	}
	sf.sigs[k] = mine;
	r = encode_file(payload, len, sf.sigs, sf.nsigs, file);
	if (r == SIGNET_ERR_TOO_LARGE)
		r = err_set(msg, r, "roster: the signed file is over %d bytes",
		    ROSTER_FILE_MAX);
	else if (r != 0)
		r = err_set(msg, r, "roster: out of memory");
out:
	free(m);
	signed_file_free(&sf);
	sodium_memzero(&mine, sizeof(mine));
	return r;
}
