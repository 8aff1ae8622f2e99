/* SPDX-License-Identifier: ISC */
/*
 * The signed operator roster: k-of-n signature checks by pinned keys on
 * the exact payload bytes, the strict payload parse, the time check, the
 * look-ups, and signing with one admin's signature added to the others'.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "envelope.h"
#include "roster.h"
#include "testlib.h"

#define ISSUED 1700000000000LL
#define EXPIRES 1710000000000LL /* ~116 days later */

static struct keys_secret k1, k2, k3, k4; /* k4 is never pinned */
static char pub_a[64], pub_b[64];         /* base64 of k1's, k2's public */

/* Operators "alice" (key %1$s) and "bob" (key %2$s). */
#define OP_A                                                                   \
	"{\"name\":\"alice\",\"key\":\"%1$s\",\"groups\":[\"sre\",\"dba\"],"   \
	"\"not_after\":9000000000000}"
#define OP_B "{\"name\":\"bob\",\"key\":\"%2$s\",\"groups\":[],\"not_after\":0}"
#define HEAD                                                                   \
	"{\"v\":1,\"version\":3,\"issued_at\":1700000000000,"                  \
	"\"expires_at\":1710000000000,"
#define GOOD HEAD "\"operators\":[" OP_A "," OP_B "]}"

struct payload_row {
	const char *name;
	const char *fmt; /* %1$s, %2$s: the two operators' keys */
	int want;
	const char *why;
};

static const struct payload_row payload_rows[] = {
	{ "valid", GOOD, 0, "" },
	{ "no operators", HEAD "\"operators\":[]}", 0, "" },
	{ "trailing newline", GOOD "\n", 0, "" },
	{ "unknown member", HEAD "\"operators\":[],\"extra\":1}",
	    SIGNET_ERR_FORMAT, "unknown key \"extra\"" },
	{ "unknown operator member",
	    HEAD "\"operators\":[{\"name\":\"alice\",\"key\":\"%1$s\","
	         "\"groups\":[],\"not_after\":1,\"email\":\"a@b\"}]}",
	    SIGNET_ERR_FORMAT, "roster.operators[0]: unknown key \"email\"" },
	{ "missing operators",
	    "{\"v\":1,\"version\":3,\"issued_at\":1,\"expires_at\":2}",
	    SIGNET_ERR_FORMAT, "roster.operators: missing" },
	{ "missing version",
	    "{\"v\":1,\"issued_at\":1,\"expires_at\":2,\"operators\":[]}",
	    SIGNET_ERR_FORMAT, "roster.version: missing" },
	{ "missing not_after",
	    HEAD "\"operators\":[{\"name\":\"alice\",\"key\":\"%1$s\","
	         "\"groups\":[]}]}",
	    SIGNET_ERR_FORMAT, "roster.operators[0].not_after: missing" },
	{ "missing groups",
	    HEAD "\"operators\":[{\"name\":\"alice\",\"key\":\"%1$s\","
	         "\"not_after\":1}]}",
	    SIGNET_ERR_FORMAT, "roster.operators[0].groups: missing" },
	{ "bad name",
	    HEAD "\"operators\":[{\"name\":\"Alice\",\"key\":\"%1$s\","
	         "\"groups\":[],\"not_after\":1}]}",
	    SIGNET_ERR_FORMAT, "\"Alice\" is not a valid name" },
	{ "name with a slash",
	    HEAD "\"operators\":[{\"name\":\"a/b\",\"key\":\"%1$s\","
	         "\"groups\":[],\"not_after\":1}]}",
	    SIGNET_ERR_FORMAT, "is not a valid name" },
	{ "name of 64 characters",
	    HEAD "\"operators\":[{\"name\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	         "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\",\"key\":\"%1$s\","
	         "\"groups\":[],\"not_after\":1}]}",
	    SIGNET_ERR_FORMAT, "is not a valid name" },
	{ "bad group name",
	    HEAD "\"operators\":[{\"name\":\"alice\",\"key\":\"%1$s\","
	         "\"groups\":[\"SRE\"],\"not_after\":1}]}",
	    SIGNET_ERR_FORMAT, "roster.operators[0].groups[0]: \"SRE\"" },
	{ "group not a string",
	    HEAD "\"operators\":[{\"name\":\"alice\",\"key\":\"%1$s\","
	         "\"groups\":[1],\"not_after\":1}]}",
	    SIGNET_ERR_FORMAT, "groups[0]: must be a string" },
	{ "group twice",
	    HEAD "\"operators\":[{\"name\":\"alice\",\"key\":\"%1$s\","
	         "\"groups\":[\"sre\",\"sre\"],\"not_after\":1}]}",
	    SIGNET_ERR_FORMAT, "group \"sre\" is listed twice" },
	{ "duplicate name",
	    HEAD "\"operators\":[" OP_A ",{\"name\":\"alice\",\"key\":\"%2$s\","
	         "\"groups\":[],\"not_after\":1}]}",
	    SIGNET_ERR_FORMAT,
	    "roster.operators[1]: operator \"alice\" is listed twice" },
	{ "same key under two names",
	    HEAD "\"operators\":[" OP_A ",{\"name\":\"mallory\",\"key\":"
	         "\"%1$s\",\"groups\":[],\"not_after\":1}]}",
	    SIGNET_ERR_FORMAT,
	    "of operator \"mallory\" is already operator \"alice\"'s" },
	{ "key not base64",
	    HEAD "\"operators\":[{\"name\":\"alice\",\"key\":\"!!!\","
	         "\"groups\":[],\"not_after\":1}]}",
	    SIGNET_ERR_FORMAT, "roster.operators[0].key: not base64" },
	{ "key of 64 bytes",
	    HEAD "\"operators\":[{\"name\":\"alice\",\"key\":\"%1$s%1$s\","
	         "\"groups\":[],\"not_after\":1}]}",
	    SIGNET_ERR_FORMAT, "32-byte Ed25519 public key" },
	{ "not_after negative",
	    HEAD "\"operators\":[{\"name\":\"alice\",\"key\":\"%1$s\","
	         "\"groups\":[],\"not_after\":-1}]}",
	    SIGNET_ERR_FORMAT, "not_after: -1 is outside" },
	{ "not_after fraction",
	    HEAD "\"operators\":[{\"name\":\"alice\",\"key\":\"%1$s\","
	         "\"groups\":[],\"not_after\":1.5}]}",
	    SIGNET_ERR_FORMAT, "not_after: must be an integer" },
	{ "operators an object", HEAD "\"operators\":{}}", SIGNET_ERR_FORMAT,
	    "roster.operators: must be an array" },
	{ "operator a string", HEAD "\"operators\":[\"alice\"]}",
	    SIGNET_ERR_FORMAT, "roster.operators[0]: must be an object" },
	{ "version 0",
	    "{\"v\":1,\"version\":0,\"issued_at\":1,\"expires_at\":2,"
	    "\"operators\":[]}",
	    SIGNET_ERR_FORMAT, "roster.version: 0 is outside" },
	{ "version 2^53",
	    "{\"v\":1,\"version\":9007199254740992,\"issued_at\":1,"
	    "\"expires_at\":2,\"operators\":[]}",
	    SIGNET_ERR_FORMAT, "roster.version" },
	{ "version a string",
	    "{\"v\":1,\"version\":\"3\",\"issued_at\":1,\"expires_at\":2,"
	    "\"operators\":[]}",
	    SIGNET_ERR_FORMAT, "roster.version: must be an integer" },
	{ "expires before issued",
	    "{\"v\":1,\"version\":1,\"issued_at\":5,\"expires_at\":4,"
	    "\"operators\":[]}",
	    SIGNET_ERR_FORMAT, "expires_at 4 is not after issued_at 5" },
	{ "expires when issued",
	    "{\"v\":1,\"version\":1,\"issued_at\":5,\"expires_at\":5,"
	    "\"operators\":[]}",
	    SIGNET_ERR_FORMAT, "is not after issued_at" },
	{ "lifetime 400 days",
	    "{\"v\":1,\"version\":1,\"issued_at\":0,\"expires_at\":34560000000,"
	    "\"operators\":[]}",
	    0, "" },
	{ "lifetime too long",
	    "{\"v\":1,\"version\":1,\"issued_at\":0,\"expires_at\":34560000001,"
	    "\"operators\":[]}",
	    SIGNET_ERR_FORMAT, "lifetime of 400 days is over the 400 allowed" },
	{ "v 2",
	    "{\"v\":2,\"version\":1,\"issued_at\":1,\"expires_at\":2,"
	    "\"operators\":[]}",
	    SIGNET_ERR_FORMAT, "roster.v: unsupported format" },
	{ "no v",
	    "{\"version\":1,\"issued_at\":1,\"expires_at\":2,"
	    "\"operators\":[]}",
	    SIGNET_ERR_FORMAT, "roster.v: unsupported format" },
	{ "trailing bytes", GOOD "x", SIGNET_ERR_FORMAT, "unexpected bytes" },
	{ "two documents", GOOD GOOD, SIGNET_ERR_FORMAT, "unexpected bytes" },
	{ "duplicate JSON key",
	    "{\"v\":1,\"v\":1,\"version\":1,\"issued_at\":1,\"expires_at\":2,"
	    "\"operators\":[]}",
	    SIGNET_ERR_FORMAT, "duplicate key \"v\"" },
	{ "array", "[]", SIGNET_ERR_FORMAT, "not a JSON object" },
	{ "empty", "", SIGNET_ERR_FORMAT, "empty" },
	{ "NUL escape",
	    HEAD "\"operators\":[{\"name\":\"al\\u0000ice\",\"key\":\"%1$s\","
	         "\"groups\":[],\"not_after\":1}]}",
	    SIGNET_ERR_FORMAT, "NUL" },
};

/* fmt with each "%1$s" replaced by a and "%2$s" by b (a new string). */
static char *
subst(const char *fmt, const char *a, const char *b)
{
	size_t n = 1, la = strlen(a), lb = strlen(b), off = 0;
	const char *p;
	char *s;

	for (p = fmt; *p != '\0'; p++)
		n += la + lb + 1;
	s = malloc(n);
	if (s == NULL)
		return NULL;
	for (p = fmt; *p != '\0';) {
		if (strncmp(p, "%1$s", 4) == 0 || strncmp(p, "%2$s", 4) == 0) {
			const char *v = p[1] == '1' ? a : b;
			memcpy(s + off, v, strlen(v));
			off += strlen(v);
			p += 4;
		} else {
			s[off++] = *p++;
		}
	}
	s[off] = '\0';
	return s;
}

/* The row's JSON with the keys filled in (a new string). */
static char *
fill(const char *fmt)
{
	return subst(fmt, pub_a, pub_b);
}

/* A signed file over payload[0..len) by keys[0..n), chained. */
static char *
sign_by(const char *payload, size_t len, const struct keys_secret *const *keys,
    size_t n)
{
	char *file = NULL, *next = NULL;
	struct err_msg msg;
	size_t k;

	for (k = 0; k < n; k++) {
		if (roster_sign((const uint8_t *)payload, len, keys[k],
		        (const uint8_t *)file, file != NULL ? strlen(file) : 0,
		        &next, &msg) != 0) {
			fprintf(stderr, "roster_sign: %s\n", msg.text);
			free(file);
			return NULL;
		}
		free(file);
		file = next;
		next = NULL;
	}
	return file;
}

static void
pinned_of(struct keys_pubset *set, const struct keys_secret *const *keys,
    size_t n)
{
	size_t k;

	memset(set, 0, sizeof(*set));
	for (k = 0; k < n; k++)
		set->keys[set->count++] = keys[k]->pub;
}

static int
verify_text(const char *file, const struct keys_pubset *set, unsigned k,
    struct roster **out, struct err_msg *msg)
{
	return roster_verify((const uint8_t *)file, strlen(file), set, k, out,
	    msg);
}

static void
test_payload_rows(void)
{
	const struct keys_secret *signer[] = { &k1 };
	struct keys_pubset set;
	struct roster *r;
	struct err_msg msg;
	size_t i;
	int rc;

	pinned_of(&set, signer, 1);
	for (i = 0; i < sizeof(payload_rows) / sizeof(payload_rows[0]); i++) {
		const struct payload_row *row = &payload_rows[i];
		char *json = fill(row->fmt), *file = NULL;

		CHECK(json != NULL);
		if (json == NULL)
			continue;
		r = (struct roster *)1;
		err_clear(&msg);
		rc = roster_parse_payload((const uint8_t *)json, strlen(json),
		    &r, &msg);
		CHECKF(rc == row->want, "%s: parse gave %d (%s)", row->name, rc,
		    msg.text);
		CHECKF(strstr(msg.text, row->why) != NULL,
		    "%s: \"%s\" lacks \"%s\"", row->name, msg.text, row->why);
		CHECKF((rc == 0) == (r != NULL), "%s: out on %d", row->name,
		    rc);
		roster_free(r);
		/* Signed by a pinned key, the payload is judged the same. */
		if (strlen(json) > 0)
			file = sign_by(json, strlen(json), signer, 1);
		if (file != NULL) {
			r = (struct roster *)1;
			err_clear(&msg);
			rc = verify_text(file, &set, 1, &r, &msg);
			CHECKF(rc == row->want, "%s: verify gave %d (%s)",
			    row->name, rc, msg.text);
			CHECKF(strstr(msg.text, row->why) != NULL,
			    "%s: verify \"%s\" lacks \"%s\"", row->name,
			    msg.text, row->why);
			CHECKF((rc == 0) == (r != NULL), "%s: out", row->name);
			roster_free(r);
		}
		free(file);
		free(json);
	}
}

/* 33 groups: one over the limit; 32 are fine. */
static void
test_groups_max(void)
{
	char json[4096], groups[1024];
	struct roster *r = NULL;
	struct err_msg msg;
	size_t off = 0;
	int i, rc;

	for (i = 0; i < ROSTER_GROUPS_MAX; i++)
		off += (size_t)snprintf(groups + off, sizeof(groups) - off,
		    "%s\"g%d\"", i > 0 ? "," : "", i);
	(void)snprintf(json, sizeof(json),
	    HEAD "\"operators\":[{\"name\":\"alice\",\"key\":\"%s\","
	         "\"groups\":[%s],\"not_after\":1}]}",
	    pub_a, groups);
	rc = roster_parse_payload((const uint8_t *)json, strlen(json), &r,
	    &msg);
	CHECKF(rc == 0, "32 groups: %s", msg.text);
	CHECK(r != NULL && r->nops == 1 && r->ops[0].ngroups == 32);
	CHECK(r != NULL && roster_in_group(&r->ops[0], "g31"));
	roster_free(r);
	r = NULL;
	(void)snprintf(groups + off, sizeof(groups) - off, ",\"g99\"");
	(void)snprintf(json, sizeof(json),
	    HEAD "\"operators\":[{\"name\":\"alice\",\"key\":\"%s\","
	         "\"groups\":[%s],\"not_after\":1}]}",
	    pub_a, groups);
	rc = roster_parse_payload((const uint8_t *)json, strlen(json), &r,
	    &msg);
	CHECK(rc == SIGNET_ERR_FORMAT && r == NULL);
	CHECK_CONTAINS(msg.text, "33 groups, over the 32 allowed");
}

static void
test_valid_one_of_one(void)
{
	const struct keys_secret *signer[] = { &k1 };
	struct keys_pubset set;
	struct roster *r = NULL;
	const struct roster_operator *op;
	struct err_msg msg;
	char *json = fill(GOOD), *file;
	char hex[65];

	pinned_of(&set, signer, 1);
	file = sign_by(json, strlen(json), signer, 1);
	CHECK(file != NULL);
	if (file == NULL) {
		free(json);
		return;
	}
	CHECK_CONTAINS(file, "{\"roster\":\"");
	CHECK_CONTAINS(file, "\"signatures\":[{\"key_id\":\"");
	CHECKF(verify_text(file, &set, 1, &r, &msg) == 0, "%s", msg.text);
	CHECK(r != NULL);
	if (r == NULL)
		goto out;
	CHECK(r->version == 3 && r->issued_at == ISSUED &&
	    r->expires_at == EXPIRES && r->nops == 2);
	CHECK(r->nsigners == 1 && strcmp(r->signers[0], k1.pub.id) == 0);
	envelope_sha256_hex(file, strlen(file), hex);
	CHECK(strcmp(r->sha256, hex) == 0);
	envelope_sha256_hex(json, strlen(json), hex);
	CHECK(strcmp(r->payload_sha256, hex) == 0);
	CHECK(r->file_len == strlen(file) &&
	    memcmp(r->file, file, r->file_len) == 0);
	op = roster_find_name(r, "alice");
	CHECK(op != NULL && op == roster_find_key(r, k1.pub.id));
	CHECK(op != NULL && memcmp(op->key.pk, k1.pub.pk, 32) == 0);
	CHECK(op != NULL && op->not_after == 9000000000000LL);
	CHECK(op != NULL && op->ngroups == 2 && roster_in_group(op, "sre") &&
	    roster_in_group(op, "dba") && !roster_in_group(op, "sr") &&
	    !roster_in_group(op, "sre2"));
	op = roster_find_name(r, "bob");
	CHECK(op != NULL && op == roster_find_key(r, k2.pub.id));
	CHECK(op != NULL && op->ngroups == 0 && !roster_in_group(op, "sre"));
	CHECK(roster_find_name(r, "carol") == NULL);
	CHECK(roster_find_name(r, "") == NULL);
	CHECK(roster_find_key(r, k3.pub.id) == NULL);
	CHECK(roster_find_key(r, NULL) == NULL);
	CHECK(!roster_in_group(NULL, "sre"));
	/* Bad arguments. */
	roster_free(r);
	r = (struct roster *)1;
	CHECK(verify_text(file, &set, 0, &r, &msg) == SIGNET_ERR_INVALID_ARG);
	CHECK(r == NULL);
	CHECK(verify_text(file, &set, ROSTER_THRESHOLD_MAX + 1, &r, &msg) ==
	    SIGNET_ERR_INVALID_ARG);
	CHECK(roster_verify((const uint8_t *)file, strlen(file), NULL, 1, &r,
	          &msg) == SIGNET_ERR_INVALID_ARG);
out:
	roster_free(r);
	free(file);
	free(json);
}

static void
test_threshold(void)
{
	const struct keys_secret *three[] = { &k1, &k2, &k3 };
	const struct keys_secret *two[] = { &k1, &k2 };
	const struct keys_secret *one[] = { &k2 };
	const struct keys_secret *rogue[] = { &k1, &k4 };
	const struct keys_secret *pin2[] = { &k1, &k2 };
	struct keys_pubset set;
	struct roster *r = NULL;
	struct err_msg msg;
	char *json = fill(GOOD), *file;

	/* 2-of-3: two of the three pinned keys signed. */
	pinned_of(&set, three, 3);
	file = sign_by(json, strlen(json), two, 2);
	CHECK(file != NULL);
	CHECKF(file != NULL && verify_text(file, &set, 2, &r, &msg) == 0, "%s",
	    msg.text);
	CHECK(r != NULL && r->nsigners == 2 &&
	    strcmp(r->signers[0], k1.pub.id) == 0 &&
	    strcmp(r->signers[1], k2.pub.id) == 0);
	roster_free(r);
	r = NULL;
	CHECK(file != NULL &&
	    verify_text(file, &set, 3, &r, &msg) == SIGNET_ERR_BAD_SIGNATURE);
	CHECK_CONTAINS(msg.text,
	    "2 of the required 3 signatures by pinned roster keys hold");
	free(file);
	/* Only one signature: refused at threshold 2, enough at 1. */
	file = sign_by(json, strlen(json), one, 1);
	CHECK(file != NULL &&
	    verify_text(file, &set, 2, &r, &msg) == SIGNET_ERR_BAD_SIGNATURE);
	CHECK(r == NULL);
	CHECK_CONTAINS(msg.text, "1 of the required 2 signatures");
	CHECK(file != NULL && verify_text(file, &set, 1, &r, &msg) == 0);
	roster_free(r);
	r = NULL;
	free(file);
	/* A signature by a key that is not pinned does not count. */
	pinned_of(&set, pin2, 2);
	file = sign_by(json, strlen(json), rogue, 2);
	CHECK(file != NULL &&
	    verify_text(file, &set, 2, &r, &msg) == SIGNET_ERR_BAD_SIGNATURE);
	CHECK_CONTAINS(msg.text, "1 of the required 2 signatures");
	CHECK(file != NULL && verify_text(file, &set, 1, &r, &msg) == 0);
	CHECK(r != NULL && r->nsigners == 1 &&
	    strcmp(r->signers[0], k1.pub.id) == 0);
	roster_free(r);
	free(file);
	free(json);
}

/* The signed file of payload p with signatures written out by hand. */
static char *
hand_file(const char *payload, size_t len, const char *sigs_json)
{
	size_t b = sodium_base64_ENCODED_LEN(len,
	    sodium_base64_VARIANT_ORIGINAL);
	char *b64 = malloc(b), *f;
	size_t n = b + strlen(sigs_json) + 64;

	f = malloc(n);
	if (b64 == NULL || f == NULL) {
		free(b64);
		free(f);
		return NULL;
	}
	sodium_bin2base64(b64, b, (const uint8_t *)payload, len,
	    sodium_base64_VARIANT_ORIGINAL);
	(void)snprintf(f, n, "{\"roster\":\"%s\",\"signatures\":%s}", b64,
	    sigs_json);
	free(b64);
	return f;
}

/* The base64 signature of payload by key (as roster_sign makes it). */
static void
sig_ctx(const char *ctx, const char *payload, size_t len,
    const struct keys_secret *key, char out[128])
{
	size_t cl = strlen(ctx);
	uint8_t *m = malloc(cl + len), sig[64];

	if (m == NULL) {
		out[0] = '\0';
		return;
	}
	memcpy(m, ctx, cl);
	memcpy(m + cl, payload, len);
	crypto_sign_detached(sig, NULL, m, cl + len, key->sk);
	sodium_bin2base64(out, 128, sig, 64, sodium_base64_VARIANT_ORIGINAL);
	free(m);
}

static void
sig_of(const char *payload, size_t len, const struct keys_secret *key,
    char out[128])
{
	sig_ctx(ROSTER_CONTEXT, payload, len, key, out);
}

struct file_row {
	const char *name;
	const char *sigs; /* %1$s k1's id, %2$s its good sig */
	int want;
	const char *why;
};

static const struct file_row file_rows[] = {
	{ "good", "[{\"key_id\":\"%1$s\",\"sig\":\"%2$s\"}]", 0, "" },
	{ "key_id twice",
	    "[{\"key_id\":\"%1$s\",\"sig\":\"%2$s\"},{\"key_id\":\"%1$s\","
	    "\"sig\":\"%2$s\"}]",
	    SIGNET_ERR_FORMAT, "signatures[1]: key" },
	{ "no signatures", "[]", SIGNET_ERR_FORMAT, "holds 0; 1 to 8" },
	{ "signatures an object", "{}", SIGNET_ERR_FORMAT,
	    "signatures: must be an array" },
	{ "unknown member",
	    "[{\"key_id\":\"%1$s\",\"sig\":\"%2$s\",\"by\":\"x\"}]",
	    SIGNET_ERR_FORMAT, "unknown key \"by\"" },
	{ "missing sig", "[{\"key_id\":\"%1$s\"}]", SIGNET_ERR_FORMAT,
	    "signatures[0].sig: missing" },
	{ "key_id upper case",
	    "[{\"key_id\":\"ABCDEF0123456789\",\"sig\":"
	    "\"%2$s\"}]",
	    SIGNET_ERR_FORMAT, "16 lowercase hex" },
	{ "sig short", "[{\"key_id\":\"%1$s\",\"sig\":\"AAAA\"}]",
	    SIGNET_ERR_FORMAT, "base64 of 64 bytes" },
	{ "nine signatures",
	    "[{\"key_id\":\"%1$s\",\"sig\":\"%2$s\"},{},{},{},{},{},{},{},{}]",
	    SIGNET_ERR_FORMAT, "holds 9; 1 to 8" },
};

static void
test_file_rows(void)
{
	const struct keys_secret *signer[] = { &k1 };
	struct keys_pubset set;
	struct roster *r = NULL;
	struct err_msg msg;
	char *json = fill(GOOD), sig[128], *sigs, *f;
	size_t i;
	int rc;

	pinned_of(&set, signer, 1);
	sig_of(json, strlen(json), &k1, sig);
	for (i = 0; i < sizeof(file_rows) / sizeof(file_rows[0]); i++) {
		sigs = subst(file_rows[i].sigs, k1.pub.id, sig);
		f = sigs != NULL ? hand_file(json, strlen(json), sigs) : NULL;
		free(sigs);
		CHECK(f != NULL);
		if (f == NULL)
			continue;
		err_clear(&msg);
		rc = verify_text(f, &set, 1, &r, &msg);
		CHECKF(rc == file_rows[i].want, "%s: %d (%s)",
		    file_rows[i].name, rc, msg.text);
		CHECKF(strstr(msg.text, file_rows[i].why) != NULL,
		    "%s: \"%s\" lacks \"%s\"", file_rows[i].name, msg.text,
		    file_rows[i].why);
		CHECK((rc == 0) == (r != NULL));
		roster_free(r);
		r = NULL;
		free(f);
	}
	/* Other file-level refusals. */
	{
		static const struct {
			const char *text;
			const char *why;
		} bad[] = {
			{ "{\"roster\":\"e30=\",\"signatures\":[],\"x\":1}",
			    "unknown key \"x\"" },
			{ "{\"signatures\":[]}",
			    "roster file.roster: missing" },
			{ "{\"roster\":\"e30=\"}",
			    "roster file.signatures: missing" },
			{ "{\"roster\":\"not base64!\",\"signatures\":[]}",
			    "not base64" },
			{ "{\"roster\":\"\",\"signatures\":[]}", "not base64" },
			{ "{\"roster\":1,\"signatures\":[]}",
			    "must be a string" },
			{ "[]", "not a JSON object" },
		};
		for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			rc = verify_text(bad[i].text, &set, 1, &r, &msg);
			CHECKF(rc == SIGNET_ERR_FORMAT && r == NULL, "%zu: %d",
			    i, rc);
			CHECK_CONTAINS(msg.text, bad[i].why);
		}
	}
	free(json);
}

static void
test_bytes_tampered(void)
{
	const struct keys_secret *signer[] = { &k1 };
	struct keys_pubset set;
	struct roster *r = NULL;
	struct err_msg msg;
	char *json = fill(GOOD), *other, *f, sig[128], sigs[256];
	size_t i;

	pinned_of(&set, signer, 1);
	/* A signature over other bytes (a higher version) moved here. */
	other = strdup(json);
	CHECK(other != NULL);
	if (other == NULL)
		goto out;
	other[strlen("{\"v\":1,\"version\":")] = '4';
	sig_of(other, strlen(other), &k1, sig);
	(void)snprintf(sigs, sizeof(sigs),
	    "[{\"key_id\":\"%s\",\"sig\":\"%s\"}]", k1.pub.id, sig);
	f = hand_file(json, strlen(json), sigs);
	CHECK(f != NULL &&
	    verify_text(f, &set, 1, &r, &msg) == SIGNET_ERR_BAD_SIGNATURE);
	CHECK_CONTAINS(msg.text, "0 of the required 1 signatures");
	free(f);
	/* Every single flipped bit of the payload breaks the signature. */
	sig_of(json, strlen(json), &k1, sig);
	(void)snprintf(sigs, sizeof(sigs),
	    "[{\"key_id\":\"%s\",\"sig\":\"%s\"}]", k1.pub.id, sig);
	for (i = 0; i < strlen(json) * 8; i += 7) {
		int rc;

		memcpy(other, json, strlen(json) + 1);
		other[i / 8] = (char)(other[i / 8] ^ (1 << (i % 8)));
		f = hand_file(other, strlen(json), sigs);
		if (f == NULL)
			continue;
		rc = verify_text(f, &set, 1, &r, &msg);
		CHECKF(rc == SIGNET_ERR_BAD_SIGNATURE, "bit %zu: %d (%s)", i,
		    rc, msg.text);
		CHECK(r == NULL);
		free(f);
	}
	/* The untouched bytes verify; under another context they do not. */
	f = hand_file(json, strlen(json), sigs);
	CHECK(f != NULL && verify_text(f, &set, 1, &r, &msg) == 0);
	roster_free(r);
	r = NULL;
	free(f);
	sig_ctx("signet/request/v1\n", json, strlen(json), &k1, sig);
	(void)snprintf(sigs, sizeof(sigs),
	    "[{\"key_id\":\"%s\",\"sig\":\"%s\"}]", k1.pub.id, sig);
	f = hand_file(json, strlen(json), sigs);
	CHECK(f != NULL &&
	    verify_text(f, &set, 1, &r, &msg) == SIGNET_ERR_BAD_SIGNATURE);
	free(f);
	free(other);
out:
	free(json);
}

static void
test_too_large(void)
{
	const struct keys_secret *signer[] = { &k1 };
	struct keys_pubset set;
	struct roster *r = NULL;
	struct err_msg msg;
	uint8_t *big = malloc(ROSTER_FILE_MAX + 1);
	char *file = NULL;

	pinned_of(&set, signer, 1);
	CHECK(big != NULL);
	if (big == NULL)
		return;
	memset(big, ' ', ROSTER_FILE_MAX + 1);
	big[0] = '{';
	big[ROSTER_FILE_MAX] = '}';
	CHECK(roster_verify(big, ROSTER_FILE_MAX + 1, &set, 1, &r, &msg) ==
	    SIGNET_ERR_TOO_LARGE);
	CHECK(r == NULL);
	CHECK_CONTAINS(msg.text, "over the 262144 allowed");
	CHECK(roster_parse_payload(big, ROSTER_PAYLOAD_MAX + 1, &r, &msg) ==
	    SIGNET_ERR_TOO_LARGE);
	CHECK(roster_sign(big, ROSTER_PAYLOAD_MAX + 1, &k1, NULL, 0, &file,
	          &msg) == SIGNET_ERR_TOO_LARGE);
	CHECK(file == NULL);
	CHECK(roster_sign(big, 0, &k1, NULL, 0, &file, &msg) ==
	    SIGNET_ERR_TOO_LARGE);
	free(big);
}

static void
test_check_time(void)
{
	struct roster r;
	struct err_msg msg;

	memset(&r, 0, sizeof(r));
	r.version = 7;
	r.issued_at = ISSUED;
	r.expires_at = EXPIRES;
	CHECK(roster_check_time(&r, ISSUED, &msg) == 0);
	CHECK(roster_check_time(&r, ISSUED - ROSTER_SKEW_MS, &msg) == 0);
	CHECK(roster_check_time(&r, ISSUED - ROSTER_SKEW_MS - 1, &msg) ==
	    SIGNET_ERR_FORMAT);
	CHECK_CONTAINS(msg.text, "roster version 7 issued in the future");
	CHECK(roster_check_time(&r, EXPIRES - 1, &msg) == 0);
	CHECK(roster_check_time(&r, EXPIRES, &msg) == SIGNET_ERR_FORMAT);
	CHECK_CONTAINS(msg.text,
	    "roster version 7 expired at 2024-03-09T16:00:00Z");
	CHECK(roster_check_time(NULL, EXPIRES, &msg) == SIGNET_ERR_INVALID_ARG);
}

static void
test_sign_k_of_n(void)
{
	const struct keys_secret *pin[] = { &k1, &k2, &k3 };
	struct keys_pubset set;
	struct roster *r = NULL;
	struct err_msg msg;
	char *json = fill(GOOD), *f1 = NULL, *f2 = NULL, *f3 = NULL, *f4 = NULL;
	char *other = NULL;
	const size_t n = strlen(json);
	const uint8_t *p = (const uint8_t *)json;

	pinned_of(&set, pin, 3);
	CHECK(roster_sign(p, n, &k1, NULL, 0, &f1, &msg) == 0);
	CHECK(f1 != NULL && verify_text(f1, &set, 1, &r, &msg) == 0);
	roster_free(r);
	r = NULL;
	/* The second admin adds theirs. */
	CHECK(f1 != NULL &&
	    roster_sign(p, n, &k2, (const uint8_t *)f1, strlen(f1), &f2,
	        &msg) == 0);
	CHECKF(f2 != NULL && verify_text(f2, &set, 2, &r, &msg) == 0, "%s",
	    msg.text);
	CHECK(r != NULL && r->nsigners == 2);
	roster_free(r);
	r = NULL;
	/* The first signs again: its signature is replaced, not added. */
	CHECK(f2 != NULL &&
	    roster_sign(p, n, &k1, (const uint8_t *)f2, strlen(f2), &f3,
	        &msg) == 0);
	CHECK(f3 != NULL && verify_text(f3, &set, 2, &r, &msg) == 0);
	CHECK(r != NULL && r->nsigners == 2 &&
	    strcmp(r->signers[0], k1.pub.id) == 0 &&
	    strcmp(r->signers[1], k2.pub.id) == 0);
	roster_free(r);
	r = NULL;
	CHECK(f3 != NULL &&
	    verify_text(f3, &set, 3, &r, &msg) == SIGNET_ERR_BAD_SIGNATURE);
	/* An existing file over other bytes is refused, nothing written. */
	other = strdup(json);
	if (other != NULL) {
		other[strlen("{\"v\":1,\"version\":")] = '4';
		CHECK(f3 != NULL &&
		    roster_sign((const uint8_t *)other, n, &k3,
		        (const uint8_t *)f3, strlen(f3), &f4,
		        &msg) == SIGNET_ERR_FORMAT);
		CHECK(f4 == NULL);
		CHECK_CONTAINS(msg.text, "over other bytes");
	}
	/* A malformed existing file is refused. */
	CHECK(roster_sign(p, n, &k3, (const uint8_t *)"{}", 2, &f4, &msg) ==
	    SIGNET_ERR_FORMAT);
	CHECK(f4 == NULL);
	CHECK_CONTAINS(msg.text, "existing signed roster is malformed");
	free(other);
	free(f1);
	free(f2);
	free(f3);
	free(json);
}

/* Eight signatures are the most; a ninth key is refused. */
static void
test_sign_full(void)
{
	struct keys_secret more[ROSTER_SIGS_MAX + 1];
	struct err_msg msg;
	char *json = fill(GOOD), *f = NULL, *next = NULL;
	size_t k;
	int rc = 0;

	for (k = 0; k < ROSTER_SIGS_MAX + 1; k++)
		CHECK(keys_generate(&more[k]) == 0);
	for (k = 0; k < ROSTER_SIGS_MAX + 1; k++) {
		rc = roster_sign((const uint8_t *)json, strlen(json), &more[k],
		    (const uint8_t *)f, f != NULL ? strlen(f) : 0, &next, &msg);
		if (rc != 0)
			break;
		free(f);
		f = next;
		next = NULL;
	}
	CHECK(k == ROSTER_SIGS_MAX && rc == SIGNET_ERR_TOO_LARGE);
	CHECK(next == NULL);
	/* ... but one of the eight may still sign again. */
	CHECK(f != NULL &&
	    roster_sign((const uint8_t *)json, strlen(json), &more[3],
	        (const uint8_t *)f, strlen(f), &next, &msg) == 0);
	free(next);
	free(f);
	free(json);
	for (k = 0; k < ROSTER_SIGS_MAX + 1; k++)
		keys_secret_wipe(&more[k]);
}

/* encode_payload gives what parse_payload reads back. */
static void
test_encode_round_trip(void)
{
	struct roster in, *out = NULL;
	struct roster_operator ops[2];
	struct err_msg msg;
	char *json = NULL, *want = fill(GOOD);

	memset(&in, 0, sizeof(in));
	memset(ops, 0, sizeof(ops));
	in.version = 3;
	in.issued_at = ISSUED;
	in.expires_at = EXPIRES;
	in.nops = 2;
	in.ops = ops;
	memcpy(ops[0].name, "alice", 6);
	ops[0].key = k1.pub;
	ops[0].ngroups = 2;
	memcpy(ops[0].groups[0], "sre", 4);
	memcpy(ops[0].groups[1], "dba", 4);
	ops[0].not_after = 9000000000000LL;
	memcpy(ops[1].name, "bob", 4);
	ops[1].key = k2.pub;
	CHECK(roster_encode_payload(&in, &json) == 0);
	CHECKF(json != NULL && want != NULL && strcmp(json, want) == 0,
	    "got %s", json != NULL ? json : "(null)");
	CHECK(json != NULL &&
	    roster_parse_payload((const uint8_t *)json, strlen(json), &out,
	        &msg) == 0);
	CHECK(out != NULL && out->nops == 2 && out->version == 3 &&
	    strcmp(out->ops[1].name, "bob") == 0 && out->nsigners == 0 &&
	    out->file == NULL);
	roster_free(out);
	free(json);
	json = NULL;
	ops[0].ngroups = ROSTER_GROUPS_MAX + 1;
	CHECK(roster_encode_payload(&in, &json) == SIGNET_ERR_INVALID_ARG);
	CHECK(json == NULL);
	CHECK(roster_encode_payload(NULL, &json) == SIGNET_ERR_INVALID_ARG);
	/* Integers above 10^15 are written exactly. */
	ops[0].ngroups = 0;
	in.version = ROSTER_VERSION_MAX;
	ops[1].not_after = 9007199254740991LL;
	CHECK(roster_encode_payload(&in, &json) == 0);
	CHECK(json != NULL &&
	    strstr(json, "\"version\":9007199254740991,") != NULL &&
	    strstr(json, "\"not_after\":9007199254740991}") != NULL);
	CHECK(json != NULL &&
	    roster_parse_payload((const uint8_t *)json, strlen(json), &out,
	        &msg) == 0);
	CHECK(out != NULL && out->version == ROSTER_VERSION_MAX &&
	    out->ops[1].not_after == 9007199254740991LL);
	roster_free(out);
	free(json);
	free(want);
}

int
main(void)
{
	if (sodium_init() < 0)
		return 1;
	CHECK(keys_generate(&k1) == 0);
	CHECK(keys_generate(&k2) == 0);
	CHECK(keys_generate(&k3) == 0);
	CHECK(keys_generate(&k4) == 0);
	sodium_bin2base64(pub_a, sizeof(pub_a), k1.pub.pk, 32,
	    sodium_base64_VARIANT_ORIGINAL);
	sodium_bin2base64(pub_b, sizeof(pub_b), k2.pub.pk, 32,
	    sodium_base64_VARIANT_ORIGINAL);
	test_payload_rows();
	test_groups_max();
	test_valid_one_of_one();
	test_threshold();
	test_file_rows();
	test_bytes_tampered();
	test_too_large();
	test_check_time();
	test_sign_k_of_n();
	test_sign_full();
	test_encode_round_trip();
	roster_free(NULL);
	keys_secret_wipe(&k1);
	keys_secret_wipe(&k2);
	keys_secret_wipe(&k3);
	keys_secret_wipe(&k4);
	return test_finish("test_roster");
}
