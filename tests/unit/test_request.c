/* SPDX-License-Identifier: ISC */
/*
 * Operator-signed requests and approvals: the payload's encoding and
 * strict parse, the request's signature checked against a roster, the
 * approvals counted by distinct key (never the requester's, never under
 * another context or over other bytes), and what ties a relayed action
 * to the request. Rosters are built by hand here: roster_verify is
 * tested with its own module.
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "envelope.h"
#include "jsonx.h"
#include "request.h"
#include "testlib.h"

#define AID "0123456789abcdef0123456789abcdef"
#define CID "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define NOW 1764000000000LL
#define GOOD_REQUEST                                                           \
	"{\"v\":1,\"action_id\":\"" AID "\",\"host_id\":\"web-01\","           \
	"\"container_id\":\"" CID "\",\"action\":\"STOP\","                    \
	"\"reason\":\"disk full\",\"requested_by\":\"alice\","                 \
	"\"issued_at\":1764000000000,\"expires_at\":1764000060000,"            \
	"\"roster_version\":3}"
/* A request up to "requested_by", for rows that vary the rest. */
#define HEAD                                                                   \
	"{\"v\":1,\"action_id\":\"" AID "\",\"host_id\":\"web-01\","           \
	"\"container_id\":\"" CID "\",\"action\":\"STOP\","                    \
	"\"reason\":\"disk full\",\"requested_by\":\"alice\","

/* The operators of the hand-built roster, in order. */
enum op {
	OP_ALICE,   /* the requester */
	OP_BOB,     /* an approver */
	OP_CAROL,   /* another approver */
	OP_ALICE2,  /* another key under the requester's name */
	OP_DAVE,    /* an approver whose key expired */
	OP_COUNT,   /* keys below are not in the roster */
	OP_MALLORY, /* = OP_COUNT + 1: a key no roster lists */
};

static struct keys_secret keys[OP_MALLORY + 1];
static struct roster_operator ops[OP_COUNT];
static struct roster roster;

static void
setup(void)
{
	static const char *const names[OP_COUNT] = { "alice", "bob", "carol",
		"alice", "dave" };
	size_t i;

	for (i = 0; i <= OP_MALLORY; i++)
		CHECK(keys_generate(&keys[i]) == 0);
	memset(ops, 0, sizeof(ops));
	for (i = 0; i < OP_COUNT; i++) {
		(void)snprintf(ops[i].name, sizeof(ops[i].name), "%s",
		    names[i]);
		ops[i].key = keys[i].pub;
		ops[i].ngroups = 1;
		(void)snprintf(ops[i].groups[0], sizeof(ops[i].groups[0]),
		    "sre");
		ops[i].not_after = NOW + 86400000LL;
	}
	ops[OP_DAVE].not_after = NOW - 1;
	memset(&roster, 0, sizeof(roster));
	roster.version = 3;
	roster.issued_at = NOW - 1000;
	roster.expires_at = NOW + 86400000LL;
	roster.nops = OP_COUNT;
	roster.ops = ops;
}

static void
good_payload(struct request_payload *p)
{
	memset(p, 0, sizeof(*p));
	(void)snprintf(p->action_id, sizeof(p->action_id), AID);
	(void)snprintf(p->host_id, sizeof(p->host_id), "web-01");
	(void)snprintf(p->container_id, sizeof(p->container_id), CID);
	p->action = ENVELOPE_ACTION_STOP;
	(void)snprintf(p->reason, sizeof(p->reason), "disk full");
	(void)snprintf(p->requested_by, sizeof(p->requested_by), "alice");
	p->issued_at = NOW;
	p->expires_at = NOW + 60000;
	p->roster_version = 3;
}

static bool
all_zero(const void *p, size_t n)
{
	const unsigned char *b = p;
	size_t i;

	for (i = 0; i < n; i++) {
		if (b[i] != 0)
			return false;
	}
	return true;
}

static void
test_encode_decode(void)
{
	struct request_payload p, out;
	struct err_msg msg;
	char *json = NULL;

	good_payload(&p);
	CHECK(request_encode(&p, &json) == 0);
	CHECKF(json != NULL && strcmp(json, GOOD_REQUEST) == 0, "encoded %s",
	    json != NULL ? json : "(null)");
	CHECK(request_decode(json, strlen(json), &out, &msg) == 0);
	CHECK(memcmp(&out, &p, sizeof(p)) == 0);
	free(json);
	/* The largest roster version survives the trip exactly. */
	p.roster_version = ROSTER_VERSION_MAX;
	CHECK(request_encode(&p, &json) == 0);
	CHECK(json != NULL &&
	    request_decode(json, strlen(json), &out, &msg) == 0 &&
	    out.roster_version == ROSTER_VERSION_MAX);
	free(json);
	p.action = ENVELOPE_ACTION_NONE;
	CHECK(request_encode(&p, &json) == SIGNET_ERR_INVALID_ARG &&
	    json == NULL);
}

struct decode_row {
	const char *name;
	const char *json;
	int want;        /* 0 or the error code */
	const char *why; /* substring of the message */
};

static const struct decode_row rows[] = {
	{ "valid", GOOD_REQUEST, 0, "" },
	{ "not JSON", "{\"v\":1,", SIGNET_ERR_FORMAT, "malformed JSON" },
	{ "empty", "", SIGNET_ERR_FORMAT, "empty" },
	{ "array", "[1]", SIGNET_ERR_FORMAT, "not a JSON object" },
	{ "trailing bytes", GOOD_REQUEST "x", SIGNET_ERR_FORMAT,
	    "unexpected bytes" },
	{ "duplicate key", "{\"v\":1,\"v\":1}", SIGNET_ERR_FORMAT,
	    "duplicate key \"v\"" },
	{ "unknown key",
	    HEAD "\"issued_at\":1,\"expires_at\":2,"
	         "\"roster_version\":3,\"extra\":1}",
	    SIGNET_ERR_FORMAT, "request: unknown key \"extra\"" },
	{ "an action's request member", "{\"v\":1,\"request\":{}}",
	    SIGNET_ERR_FORMAT, "unknown key \"request\"" },
	{ "nested", "{\"v\":{\"a\":1}}", SIGNET_ERR_FORMAT, "nested deeper" },
	{ "invalid UTF-8", "{\"v\":1,\"reason\":\"\xc3\x28\"}",
	    SIGNET_ERR_FORMAT, "not valid UTF-8" },
	{ "NUL escape", "{\"v\":1,\"reason\":\"a\\u0000\"}", SIGNET_ERR_FORMAT,
	    "holds a NUL" },
	{ "version 2", "{\"v\":2}", SIGNET_ERR_FORMAT,
	    "request.v: unsupported version" },
	{ "action_id upper",
	    "{\"v\":1,\"action_id\":\"0123456789ABCDEF0123456789abcdef\"}",
	    SIGNET_ERR_FORMAT, "request.action_id: must be 32 lowercase hex" },
	{ "host_id bad",
	    "{\"v\":1,\"action_id\":\"" AID "\",\"host_id\":\"A\"}",
	    SIGNET_ERR_FORMAT, "request.host_id: \"A\" is not a valid name" },
	{ "container short",
	    "{\"v\":1,\"action_id\":\"" AID "\",\"host_id\":\"h\","
	    "\"container_id\":\"abc\"}",
	    SIGNET_ERR_FORMAT, "request.container_id: must be 64" },
	{ "unknown action",
	    "{\"v\":1,\"action_id\":\"" AID "\",\"host_id\":\"h\","
	    "\"container_id\":\"" CID "\",\"action\":\"KILL\"}",
	    SIGNET_ERR_FORMAT, "request.action: unknown action \"KILL\"" },
	{ "reason empty",
	    "{\"v\":1,\"action_id\":\"" AID "\",\"host_id\":\"h\","
	    "\"container_id\":\"" CID "\",\"action\":\"STOP\",\"reason\":\"\","
	    "\"requested_by\":\"alice\",\"issued_at\":1,\"expires_at\":2,"
	    "\"roster_version\":1}",
	    SIGNET_ERR_FORMAT, "request.reason: must be 1..512" },
	{ "reason control",
	    "{\"v\":1,\"action_id\":\"" AID "\",\"host_id\":\"h\","
	    "\"container_id\":\"" CID "\",\"action\":\"STOP\",\"reason\":"
	    "\"a\\tb\",\"requested_by\":\"alice\",\"issued_at\":1,"
	    "\"expires_at\":2,\"roster_version\":1}",
	    SIGNET_ERR_FORMAT, "request.reason: control characters" },
	{ "requested_by bad",
	    "{\"v\":1,\"action_id\":\"" AID "\",\"host_id\":\"h\","
	    "\"container_id\":\"" CID "\",\"action\":\"STOP\",\"reason\":"
	    "\"r\",\"requested_by\":\"Alice\"}",
	    SIGNET_ERR_FORMAT, "request.requested_by: \"Alice\" is not" },
	{ "issued_at missing", HEAD "\"expires_at\":2,\"roster_version\":1}",
	    SIGNET_ERR_FORMAT, "request.issued_at: missing" },
	{ "issued_at negative",
	    HEAD "\"issued_at\":-1,\"expires_at\":2,\"roster_version\":1}",
	    SIGNET_ERR_FORMAT, "request.issued_at: -1 is outside" },
	{ "expires_at float",
	    HEAD "\"issued_at\":1,\"expires_at\":2.5,\"roster_version\":1}",
	    SIGNET_ERR_FORMAT, "request.expires_at: must be an integer" },
	{ "roster_version missing", HEAD "\"issued_at\":1,\"expires_at\":2}",
	    SIGNET_ERR_FORMAT, "request.roster_version: missing" },
	{ "roster_version 0",
	    HEAD "\"issued_at\":1,\"expires_at\":2,\"roster_version\":0}",
	    SIGNET_ERR_FORMAT, "request.roster_version: 0 is outside" },
	{ "roster_version 2^53",
	    HEAD "\"issued_at\":1,\"expires_at\":2,"
	         "\"roster_version\":9007199254740992}",
	    SIGNET_ERR_FORMAT, "request.roster_version: must be an integer" },
	{ "roster_version 2^53-1",
	    HEAD "\"issued_at\":1,\"expires_at\":2,"
	         "\"roster_version\":9007199254740991}",
	    0, "" },
	{ "roster_version string",
	    HEAD "\"issued_at\":1,\"expires_at\":2,\"roster_version\":\"3\"}",
	    SIGNET_ERR_FORMAT, "request.roster_version: must be an integer" },
	{ "roster_version fraction",
	    HEAD "\"issued_at\":1,\"expires_at\":2,\"roster_version\":1.5}",
	    SIGNET_ERR_FORMAT, "request.roster_version: must be an integer" },
	{ "expires_at = issued_at",
	    HEAD "\"issued_at\":5,\"expires_at\":5,\"roster_version\":1}",
	    SIGNET_ERR_FORMAT, "request.expires_at: must be after issued_at" },
	{ "expires_at before issued_at",
	    HEAD "\"issued_at\":5,\"expires_at\":4,\"roster_version\":1}",
	    SIGNET_ERR_FORMAT, "request.expires_at: must be after issued_at" },
	{ "lifetime at the maximum (24 h + 300 s)",
	    HEAD "\"issued_at\":0,\"expires_at\":86700000,"
	         "\"roster_version\":1}",
	    0, "" },
	{ "lifetime over the maximum",
	    HEAD "\"issued_at\":0,\"expires_at\":86700001,"
	         "\"roster_version\":1}",
	    SIGNET_ERR_FORMAT, "lifetime 86700001 ms is over" },
};

static void
test_decode_rows(void)
{
	size_t i;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		const struct decode_row *row = &rows[i];
		struct request_payload p;
		struct err_msg msg;
		int r;

		err_clear(&msg);
		memset(&p, 0x5a, sizeof(p));
		r = request_decode(row->json, strlen(row->json), &p, &msg);
		CHECKF(r == row->want, "row \"%s\": got %d (%s)", row->name, r,
		    msg.text);
		if (row->want != 0) {
			CHECKF(strstr(msg.text, row->why) != NULL,
			    "row \"%s\": message \"%s\" lacks \"%s\"",
			    row->name, msg.text, row->why);
			CHECKF(all_zero(&p, sizeof(p)),
			    "row \"%s\": output not zeroed", row->name);
		}
	}
}

/* 512 four-byte characters: the longest reason, 2048 bytes. */
static void
longest_reason(char *reason, size_t size)
{
	size_t i;

	for (i = 0; i < ENVELOPE_REASON_CHARS && 4 * i + 4 < size; i++)
		memcpy(reason + 4 * i, "\xf0\x9f\x98\x80", 4);
	reason[4 * i] = '\0';
}

static void
test_sizes(void)
{
	struct request_payload p, out;
	struct request_signed s = { 0 };
	struct err_msg msg;
	char *json = NULL, *big = NULL;
	size_t n;

	/* The largest request fits REQUEST_PAYLOAD_MAX, and parses. */
	good_payload(&p);
	memset(p.host_id, 'h', sizeof(p.host_id) - 1);
	memset(p.requested_by, 'r', sizeof(p.requested_by) - 1);
	longest_reason(p.reason, sizeof(p.reason));
	p.issued_at = JSONX_INT_MAX - REQUEST_LIFETIME_MAX_MS;
	p.expires_at = JSONX_INT_MAX;
	p.roster_version = ROSTER_VERSION_MAX;
	CHECK(request_encode(&p, &json) == 0);
	CHECKF(json != NULL && strlen(json) <= REQUEST_PAYLOAD_MAX,
	    "largest request: %zu bytes", json != NULL ? strlen(json) : 0);
	CHECK(json != NULL &&
	    request_decode(json, strlen(json), &out, &msg) == 0);
	CHECK(memcmp(&out, &p, sizeof(p)) == 0);
	CHECK(request_sign(&p, &keys[OP_ALICE], &s) == 0);
	request_signed_free(&s);
	free(json);

	/* Over REQUEST_PAYLOAD_MAX: refused before parsing. */
	n = REQUEST_PAYLOAD_MAX + 1;
	big = malloc(n);
	CHECK(big != NULL);
	if (big == NULL)
		return;
	memset(big, ' ', n);
	big[0] = '{';
	big[n - 1] = '}';
	CHECK(request_decode(big, n, &out, &msg) == SIGNET_ERR_TOO_LARGE);
	CHECK_CONTAINS(msg.text, "over 4096 bytes");
	CHECK(request_decode(big, n - 1, &out, &msg) == SIGNET_ERR_FORMAT);
	free(big);
}

/* The exact payload bytes of a signed request. */
static size_t
raw_of(const struct request_signed *s, uint8_t *buf, size_t cap)
{
	size_t len = 0;

	CHECK(
	    sodium_base642bin(buf, cap, s->payload_b64, strlen(s->payload_b64),
	        NULL, &len, NULL, sodium_base64_VARIANT_ORIGINAL) == 0);
	return len;
}

/* Verifies s at now and checks the code and a piece of the message. */
static void
verify_fails(const char *name, const struct request_signed *s, int64_t now,
    int want, const char *why)
{
	struct request_verified v;
	struct err_msg msg;
	int r;

	err_clear(&msg);
	memset(&v, 0x5a, sizeof(v));
	r = request_verify(&roster, s, now, &v, &msg);
	CHECKF(r == want, "%s: got %d (%s)", name, r, msg.text);
	CHECKF(strstr(msg.text, why) != NULL, "%s: \"%s\" lacks \"%s\"", name,
	    msg.text, why);
	CHECKF(v.raw == NULL && v.signer == NULL && all_zero(&v, sizeof(v)),
	    "%s: output not zeroed", name);
}

static void
test_sign_verify(void)
{
	struct request_payload p;
	struct request_signed s = { 0 }, t = { 0 };
	struct request_verified v;
	struct request_approval ap;
	struct envelope env = { 0 };
	struct err_msg msg;
	uint8_t raw[REQUEST_PAYLOAD_MAX];
	char sha[65];
	size_t len;

	good_payload(&p);
	CHECK(request_sign(&p, &keys[OP_ALICE], &s) == 0);
	CHECK(strcmp(s.key_id, keys[OP_ALICE].pub.id) == 0);
	CHECK(request_verify(&roster, &s, NOW, &v, &msg) == 0);
	CHECK(v.signer == &ops[OP_ALICE]);
	CHECK(memcmp(&v.p, &p, sizeof(p)) == 0);
	CHECK(v.raw != NULL && v.raw_len == strlen(GOOD_REQUEST) &&
	    memcmp(v.raw, GOOD_REQUEST, v.raw_len) == 0);
	envelope_sha256_hex(GOOD_REQUEST, strlen(GOOD_REQUEST), sha);
	CHECK(strcmp(v.sha256, sha) == 0);
	request_verified_free(&v);
	CHECK(v.raw == NULL);
	request_verified_free(NULL);

	/* A key no roster lists: refused before any signature work. */
	CHECK(request_sign(&p, &keys[OP_MALLORY], &t) == 0);
	verify_fails("key not in roster", &t, NOW, SIGNET_ERR_UNKNOWN_KEY,
	    "is not in roster version 3");
	/* ... claiming alice's key id: the signature does not hold. */
	memcpy(t.key_id, keys[OP_ALICE].pub.id, sizeof(t.key_id));
	verify_fails("another key's signature", &t, NOW,
	    SIGNET_ERR_BAD_SIGNATURE,
	    "does not verify under operator alice's key");
	request_signed_free(&t);
	request_signed_free(&t);

	/* One flipped character of the payload or the signature. */
	t.payload_b64 = strdup(s.payload_b64);
	t.sig_b64 = strdup(s.sig_b64);
	CHECK(t.payload_b64 != NULL && t.sig_b64 != NULL);
	memcpy(t.key_id, s.key_id, sizeof(t.key_id));
	t.payload_b64[20] = t.payload_b64[20] == 'A' ? 'B' : 'A';
	verify_fails("payload flipped", &t, NOW, SIGNET_ERR_BAD_SIGNATURE,
	    "does not verify");
	t.payload_b64[20] = s.payload_b64[20];
	t.sig_b64[5] = t.sig_b64[5] == 'A' ? 'B' : 'A';
	verify_fails("signature flipped", &t, NOW, SIGNET_ERR_BAD_SIGNATURE,
	    "does not verify");
	free(t.sig_b64);
	t.sig_b64 = strdup("AAAA");
	verify_fails("signature short", &t, NOW, SIGNET_ERR_FORMAT,
	    "signature is not base64 of 64 bytes");
	free(t.payload_b64);
	t.payload_b64 = strdup("!!!");
	free(t.sig_b64);
	t.sig_b64 = strdup(s.sig_b64);
	verify_fails("payload not base64", &t, NOW, SIGNET_ERR_FORMAT,
	    "not valid base64");
	free(t.payload_b64);
	t.payload_b64 = malloc(REQUEST_PAYLOAD_B64_MAX + 5);
	CHECK(t.payload_b64 != NULL);
	memset(t.payload_b64, 'A', REQUEST_PAYLOAD_B64_MAX + 4);
	t.payload_b64[REQUEST_PAYLOAD_B64_MAX + 4] = '\0';
	verify_fails("payload too large", &t, NOW, SIGNET_ERR_TOO_LARGE,
	    "over 4096 bytes");
	request_signed_free(&t);

	/* An approval's signature is not a request's (context). */
	len = raw_of(&s, raw, sizeof(raw));
	CHECK(request_approve(raw, len, &keys[OP_ALICE], &ap) == 0);
	t.payload_b64 = strdup(s.payload_b64);
	t.sig_b64 = strdup(ap.sig_b64);
	memcpy(t.key_id, s.key_id, sizeof(t.key_id));
	verify_fails("approval as request", &t, NOW, SIGNET_ERR_BAD_SIGNATURE,
	    "does not verify");
	request_signed_free(&t);
	/* Nor is an action envelope's, nor one with no context at all. */
	CHECK(envelope_sign(ENVELOPE_CTX_ACTION, raw, len, &keys[OP_ALICE],
	          &env) == 0);
	t.payload_b64 = env.payload_b64;
	t.sig_b64 = env.sig_b64;
	memcpy(t.key_id, s.key_id, sizeof(t.key_id));
	verify_fails("action context", &t, NOW, SIGNET_ERR_BAD_SIGNATURE,
	    "does not verify");
	envelope_free(&env);
	memset(&t, 0, sizeof(t));

	/* bob signs a request that names alice. */
	CHECK(request_sign(&p, &keys[OP_BOB], &t) == 0);
	verify_fails("requested_by not the signer", &t, NOW, SIGNET_ERR_FORMAT,
	    "signed by bob's key but names alice");
	request_signed_free(&t);

	/* The operator's key expired: at now, or before issued_at. */
	ops[OP_ALICE].not_after = NOW;
	verify_fails("operator expired", &s, NOW, SIGNET_ERR_PERMISSIONS,
	    "operator alice's key expired at 2025-11-24T16:00:00Z");
	ops[OP_ALICE].not_after = NOW - 30000;
	verify_fails("operator expired (earlier)", &s, NOW - 60000,
	    SIGNET_ERR_PERMISSIONS, "before the request's issued_at");
	ops[OP_ALICE].not_after = NOW + 1;
	CHECK(request_verify(&roster, &s, NOW, &v, &msg) == 0);
	request_verified_free(&v);
	ops[OP_ALICE].not_after = NOW + 86400000LL;

	/* Signed under a roster newer than this host's. */
	p.roster_version = 4;
	CHECK(request_sign(&p, &keys[OP_ALICE], &t) == 0);
	verify_fails("roster_version above", &t, NOW, SIGNET_ERR_NOT_FOUND,
	    "signed under roster version 4; this host holds 3");
	request_signed_free(&t);
	p.roster_version = 2; /* an older roster: fine */
	CHECK(request_sign(&p, &keys[OP_ALICE], &t) == 0);
	CHECK(request_verify(&roster, &t, NOW, &v, &msg) == 0);
	request_verified_free(&v);
	request_signed_free(&t);

	/* Signed bytes that do not parse. */
	CHECK(envelope_sign(REQUEST_CONTEXT, "{\"v\":1}", 7, &keys[OP_ALICE],
	          &env) == 0);
	t.payload_b64 = env.payload_b64;
	t.sig_b64 = env.sig_b64;
	memcpy(t.key_id, env.key_id, sizeof(t.key_id));
	verify_fails("signed but malformed", &t, NOW, SIGNET_ERR_FORMAT,
	    "request.action_id: missing");
	envelope_free(&env);

	CHECK(
	    request_verify(NULL, &s, NOW, &v, &msg) == SIGNET_ERR_INVALID_ARG);
	request_signed_free(&s);
	request_signed_free(NULL);
}

/* A verified request by alice (free v with request_verified_free). */
static void
alice_request(const char *reason, struct request_verified *v)
{
	struct request_payload p;
	struct request_signed s = { 0 };
	struct err_msg msg;

	good_payload(&p);
	(void)snprintf(p.reason, sizeof(p.reason), "%s", reason);
	CHECK(request_sign(&p, &keys[OP_ALICE], &s) == 0);
	CHECK(request_verify(&roster, &s, NOW, v, &msg) == 0);
	request_signed_free(&s);
}

/* Approval by key k over v's bytes. */
static struct request_approval
approve(const struct request_verified *v, enum op k)
{
	struct request_approval a;

	CHECK(request_approve(v->raw, v->raw_len, &keys[k], &a) == 0);
	return a;
}

static void
test_approvals(void)
{
	struct request_verified v, other;
	struct request_approval a[REQUEST_APPROVALS_MAX + 1];
	struct request_approver out[REQUEST_APPROVALS_MAX + 1];
	struct envelope env = { 0 };
	size_t i;
	int n;

	alice_request("disk full", &v);
	alice_request("another request", &other);

	/* Valid: bob, then carol; distinct keys count. */
	a[0] = approve(&v, OP_BOB);
	a[1] = approve(&v, OP_CAROL);
	n = request_check_approvals(&roster, &v, a, 2, NOW, out);
	CHECK(n == 2 && out[0].valid && out[1].valid);
	CHECK(out[0].op == &ops[OP_BOB] && out[1].op == &ops[OP_CAROL]);
	CHECK(strcmp(out[0].key_id, keys[OP_BOB].pub.id) == 0);

	/* The requester's own key, and another key under her name. */
	a[0] = approve(&v, OP_ALICE);
	a[1] = approve(&v, OP_ALICE2);
	n = request_check_approvals(&roster, &v, a, 2, NOW, out);
	CHECK(n == 0 && !out[0].valid && !out[1].valid);
	CHECK_CONTAINS(out[0].why, "the requester cannot approve");
	CHECK_CONTAINS(out[1].why, "the requester cannot approve");
	CHECK(out[1].op == &ops[OP_ALICE2]);

	/* The same key twice: the second does not count. */
	a[0] = approve(&v, OP_BOB);
	a[1] = a[0];
	a[2] = approve(&v, OP_CAROL);
	n = request_check_approvals(&roster, &v, a, 3, NOW, out);
	CHECK(n == 2 && out[0].valid && !out[1].valid && out[2].valid);
	CHECK_CONTAINS(out[1].why, "approved already");
	/* ... unless the first did not count. */
	a[0] = approve(&other, OP_BOB);
	a[1] = approve(&v, OP_BOB);
	n = request_check_approvals(&roster, &v, a, 2, NOW, out);
	CHECK(n == 1 && !out[0].valid && out[1].valid);

	/* A key not in the roster. */
	a[0] = approve(&v, OP_MALLORY);
	n = request_check_approvals(&roster, &v, a, 1, NOW, out);
	CHECK(n == 0 && !out[0].valid && out[0].op == NULL);
	CHECK_CONTAINS(out[0].why, "is not in roster version 3");
	CHECK(strcmp(out[0].key_id, keys[OP_MALLORY].pub.id) == 0);

	/* An approval of other bytes (another request) does not move. */
	a[0] = approve(&other, OP_BOB);
	n = request_check_approvals(&roster, &v, a, 1, NOW, out);
	CHECK(n == 0 && !out[0].valid);
	CHECK_CONTAINS(out[0].why, "bad signature");

	/* A request signature is not an approval (context separation). */
	CHECK(envelope_sign(REQUEST_CONTEXT, v.raw, v.raw_len, &keys[OP_BOB],
	          &env) == 0);
	memcpy(a[0].key_id, keys[OP_BOB].pub.id, sizeof(a[0].key_id));
	(void)snprintf(a[0].sig_b64, sizeof(a[0].sig_b64), "%s", env.sig_b64);
	n = request_check_approvals(&roster, &v, a, 1, NOW, out);
	CHECK(n == 0 && !out[0].valid);
	CHECK_CONTAINS(out[0].why, "bad signature");
	envelope_free(&env);

	/* A signature that is not base64 of 64 bytes. */
	a[0] = approve(&v, OP_BOB);
	(void)snprintf(a[0].sig_b64, sizeof(a[0].sig_b64), "AAAA");
	n = request_check_approvals(&roster, &v, a, 1, NOW, out);
	CHECK(n == 0 && !out[0].valid);
	CHECK_CONTAINS(out[0].why, "bad signature");

	/* An approver whose key expired; and bob's, judged later. */
	a[0] = approve(&v, OP_DAVE);
	n = request_check_approvals(&roster, &v, a, 1, NOW, out);
	CHECK(n == 0 && !out[0].valid);
	CHECK_CONTAINS(out[0].why, "operator dave's key expired");
	a[0] = approve(&v, OP_BOB);
	n = request_check_approvals(&roster, &v, a, 1, ops[OP_BOB].not_after,
	    out);
	CHECK(n == 0);
	CHECK_CONTAINS(out[0].why, "operator bob's key expired");

	/* Up to REQUEST_APPROVALS_MAX are judged; one more is refused. */
	for (i = 0; i <= REQUEST_APPROVALS_MAX; i++)
		a[i] = approve(&v, OP_CAROL);
	n = request_check_approvals(&roster, &v, a, REQUEST_APPROVALS_MAX, NOW,
	    out);
	CHECK(n == 1);
	memset(out, 0x5a, sizeof(out));
	n = request_check_approvals(&roster, &v, a, REQUEST_APPROVALS_MAX + 1,
	    NOW, out);
	CHECK(n == SIGNET_ERR_INVALID_ARG);
	CHECK(((unsigned char *)out)[0] == 0x5a); /* nothing filled */
	CHECK(request_check_approvals(&roster, &v, a, 0, NOW, out) == 0);

	/* request_approve refuses what is not a request's bytes. */
	CHECK(request_approve(v.raw, 0, &keys[OP_BOB], &a[0]) ==
	    SIGNET_ERR_INVALID_ARG);
	CHECK(request_approve(v.raw, REQUEST_PAYLOAD_MAX + 1, &keys[OP_BOB],
	          &a[0]) == SIGNET_ERR_INVALID_ARG);
	request_verified_free(&v);
	request_verified_free(&other);
}

static void
action_of(const struct request_payload *p, struct envelope_action_payload *a)
{
	memset(a, 0, sizeof(*a));
	memcpy(a->action_id, p->action_id, sizeof(a->action_id));
	memcpy(a->host_id, p->host_id, sizeof(a->host_id));
	memcpy(a->container_id, p->container_id, sizeof(a->container_id));
	a->action = p->action;
	memcpy(a->reason, p->reason, sizeof(a->reason));
	memcpy(a->requested_by, p->requested_by, sizeof(a->requested_by));
	a->issued_at = p->issued_at + 5;
	a->expires_at = p->expires_at;
}

static void
test_action_ties(void)
{
	static const struct {
		const char *member;
		size_t off, size;
	} changes[] = {
		{ "action_id",
		    offsetof(struct envelope_action_payload, action_id), 33 },
		{ "host_id", offsetof(struct envelope_action_payload, host_id),
		    64 },
		{ "container_id",
		    offsetof(struct envelope_action_payload, container_id),
		    65 },
		{ "reason", offsetof(struct envelope_action_payload, reason),
		    ENVELOPE_REASON_BYTES + 1 },
		{ "requested_by",
		    offsetof(struct envelope_action_payload, requested_by),
		    64 },
	};
	struct request_payload p;
	struct envelope_action_payload a;
	struct request_signed s = { 0 }, got = { 0 };
	struct request_verified v;
	struct err_msg msg;
	char *field;
	size_t i;

	good_payload(&p);
	action_of(&p, &a);
	CHECK(request_matches_action(&p, &a, &msg) == 0);
	a.expires_at = p.expires_at - 1; /* a shorter window is fine */
	CHECK(request_matches_action(&p, &a, &msg) == 0);
	a.expires_at = p.expires_at + 1;
	CHECK(request_matches_action(&p, &a, &msg) == SIGNET_ERR_FORMAT);
	CHECK_CONTAINS(msg.text,
	    "the relay changed the request: the "
	    "action's expires_at");
	for (i = 0; i < sizeof(changes) / sizeof(changes[0]); i++) {
		char want[80];

		action_of(&p, &a);
		field = (char *)&a + changes[i].off;
		field[0] = field[0] == 'b' ? 'c' : 'b';
		(void)snprintf(want, sizeof(want),
		    "the relay changed the request: %s differs",
		    changes[i].member);
		err_clear(&msg);
		CHECKF(request_matches_action(&p, &a, &msg) ==
		        SIGNET_ERR_FORMAT,
		    "%s changed", changes[i].member);
		CHECK_CONTAINS(msg.text, want);
	}
	action_of(&p, &a);
	a.action = ENVELOPE_ACTION_START;
	CHECK(request_matches_action(&p, &a, &msg) == SIGNET_ERR_FORMAT);
	CHECK_CONTAINS(msg.text,
	    "the relay changed the request: action "
	    "differs");

	/* The texts an action carries are the request's, verbatim. */
	action_of(&p, &a);
	CHECK(request_from_action(&a, &got) == SIGNET_ERR_NOT_FOUND);
	CHECK(got.payload_b64 == NULL && got.sig_b64 == NULL);
	CHECK(request_sign(&p, &keys[OP_ALICE], &s) == 0);
	a.has_request = true;
	(void)snprintf(a.request.payload_b64, sizeof(a.request.payload_b64),
	    "%s", s.payload_b64);
	(void)snprintf(a.request.sig_b64, sizeof(a.request.sig_b64), "%s",
	    s.sig_b64);
	memcpy(a.request.key_id, s.key_id, sizeof(a.request.key_id));
	CHECK(request_from_action(&a, &got) == 0);
	CHECK(strcmp(got.payload_b64, s.payload_b64) == 0 &&
	    strcmp(got.sig_b64, s.sig_b64) == 0 &&
	    strcmp(got.key_id, s.key_id) == 0);
	CHECK(request_verify(&roster, &got, NOW, &v, &msg) == 0);
	CHECK(request_matches_action(&v.p, &a, &msg) == 0);
	request_verified_free(&v);
	request_signed_free(&got);
	request_signed_free(&s);
}

int
main(void)
{
	size_t i;

	if (sodium_init() < 0)
		return 1;
	setup();
	test_encode_decode();
	test_decode_rows();
	test_sizes();
	test_sign_verify();
	test_approvals();
	test_action_ties();
	for (i = 0; i <= OP_MALLORY; i++)
		keys_secret_wipe(&keys[i]);
	return test_finish("test_request");
}
