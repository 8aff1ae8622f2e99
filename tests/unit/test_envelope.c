/* SPDX-License-Identifier: ISC */
/* Envelope signing, verification and strict payload parsing. */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "envelope.h"
#include "keys.h"
#include "testlib.h"
#include "wire.h"

#define AID "0123456789abcdef0123456789abcdef"
#define CID "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
/* An action payload without its closing brace, for rows that add to it. */
#define ACTION_BODY                                                            \
	"{\"v\":1,\"action_id\":\"" AID "\",\"host_id\":"                      \
	"\"web-01\",\"container_id\":\"" CID "\",\"action\":\"RESTART\","      \
	"\"reason\":\"deploy 42\",\"requested_by\":\"alice\","                 \
	"\"issued_at\":1700000000000,\"expires_at\":1700000060000"
#define GOOD_ACTION ACTION_BODY "}"
/* Base64 of 64 zero bytes: a signature's form. */
#define SIG64                                                                  \
	"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" \
	"AAAAAAAAAAAAAAAAAA=="
#define KID "0123456789abcdef"
/* A relayed request's texts: base64 of {"v":1}, a signature, a key id. */
#define REQ                                                                    \
	"{\"payload\":\"eyJ2IjoxfQ==\",\"sig\":\"" SIG64                       \
	"\",\"key_id\":\"" KID "\"}"
#define APV "{\"key_id\":\"" KID "\",\"sig\":\"" SIG64 "\"}"

struct decode_row {
	const char *name;
	const char *json;
	int want;        /* 0 or the error code */
	const char *why; /* substring of the message */
};

static const struct decode_row action_rows[] = {
	{ "valid", GOOD_ACTION, 0, "" },
	{ "not JSON", "{\"v\":1,", SIGNET_ERR_FORMAT, "malformed JSON" },
	{ "array", "[1,2]", SIGNET_ERR_FORMAT, "not a JSON object" },
	{ "empty", "", SIGNET_ERR_FORMAT, "empty" },
	{ "trailing bytes", GOOD_ACTION "x", SIGNET_ERR_FORMAT,
	    "unexpected bytes" },
	{ "unknown key", "{\"v\":1,\"extra\":1}", SIGNET_ERR_FORMAT,
	    "unknown key \"extra\"" },
	{ "duplicate key", "{\"v\":1,\"v\":1}", SIGNET_ERR_FORMAT,
	    "duplicate key \"v\"" },
	{ "version 2", "{\"v\":2,\"action_id\":\"" AID "\"}", SIGNET_ERR_FORMAT,
	    "unsupported version" },
	{ "version string", "{\"v\":\"1\"}", SIGNET_ERR_FORMAT,
	    "unsupported version" },
	{ "missing action_id", "{\"v\":1}", SIGNET_ERR_FORMAT,
	    "payload.action_id: missing" },
	{ "action_id short", "{\"v\":1,\"action_id\":\"abc\"}",
	    SIGNET_ERR_FORMAT, "32 lowercase hex" },
	{ "action_id upper",
	    "{\"v\":1,\"action_id\":"
	    "\"0123456789ABCDEF0123456789abcdef\"}",
	    SIGNET_ERR_FORMAT, "32 lowercase hex" },
	{ "action_id number", "{\"v\":1,\"action_id\":5}", SIGNET_ERR_FORMAT,
	    "must be a string" },
	{ "host_id bad",
	    "{\"v\":1,\"action_id\":\"" AID "\",\"host_id\":"
	    "\"../etc\"}",
	    SIGNET_ERR_FORMAT, "not a valid name" },
	{ "container short",
	    "{\"v\":1,\"action_id\":\"" AID "\",\"host_id\":"
	    "\"h\",\"container_id\":\"abc\"}",
	    SIGNET_ERR_FORMAT, "64 lowercase hex" },
	{ "unknown action",
	    "{\"v\":1,\"action_id\":\"" AID "\",\"host_id\":"
	    "\"h\",\"container_id\":\"" CID "\",\"action\":\"KILL\"}",
	    SIGNET_ERR_FORMAT, "unknown action \"KILL\"" },
	{ "action lowercase",
	    "{\"v\":1,\"action_id\":\"" AID "\",\"host_id\":"
	    "\"h\",\"container_id\":\"" CID "\",\"action\":\"start\"}",
	    SIGNET_ERR_FORMAT, "unknown action" },
	{ "empty reason",
	    "{\"v\":1,\"action_id\":\"" AID "\",\"host_id\":"
	    "\"h\",\"container_id\":\"" CID "\",\"action\":\"STOP\",\"reason\":"
	    "\"\",\"requested_by\":\"bob\",\"issued_at\":1,\"expires_at\":2}",
	    SIGNET_ERR_FORMAT, "1..512 characters, is 0" },
	{ "reason control char",
	    "{\"v\":1,\"action_id\":\"" AID "\","
	    "\"host_id\":\"h\",\"container_id\":\"" CID
	    "\",\"action\":\"STOP\","
	    "\"reason\":\"a\\nb\",\"requested_by\":\"bob\",\"issued_at\":1,"
	    "\"expires_at\":2}",
	    SIGNET_ERR_FORMAT, "control characters" },
	{ "reason NUL escape",
	    "{\"v\":1,\"action_id\":\"" AID "\","
	    "\"host_id\":\"h\",\"container_id\":\"" CID
	    "\",\"action\":\"STOP\","
	    "\"reason\":\"a\\u0000b\",\"requested_by\":\"bob\",\"issued_at\":1,"
	    "\"expires_at\":2}",
	    SIGNET_ERR_FORMAT, "holds a NUL" },
	{ "requested_by bad",
	    "{\"v\":1,\"action_id\":\"" AID "\","
	    "\"host_id\":\"h\",\"container_id\":\"" CID
	    "\",\"action\":\"STOP\","
	    "\"reason\":\"r\",\"requested_by\":\"Bob Smith\",\"issued_at\":1,"
	    "\"expires_at\":2}",
	    SIGNET_ERR_FORMAT, "not a valid name" },
	{ "issued_at float",
	    "{\"v\":1,\"action_id\":\"" AID "\","
	    "\"host_id\":\"h\",\"container_id\":\"" CID
	    "\",\"action\":\"STOP\","
	    "\"reason\":\"r\",\"requested_by\":\"bob\",\"issued_at\":1.5,"
	    "\"expires_at\":2}",
	    SIGNET_ERR_FORMAT, "issued_at: must be an integer" },
	{ "issued_at negative",
	    "{\"v\":1,\"action_id\":\"" AID "\","
	    "\"host_id\":\"h\",\"container_id\":\"" CID
	    "\",\"action\":\"STOP\","
	    "\"reason\":\"r\",\"requested_by\":\"bob\",\"issued_at\":-1,"
	    "\"expires_at\":2}",
	    SIGNET_ERR_FORMAT, "outside" },
	{ "expires_at string",
	    "{\"v\":1,\"action_id\":\"" AID "\","
	    "\"host_id\":\"h\",\"container_id\":\"" CID
	    "\",\"action\":\"STOP\","
	    "\"reason\":\"r\",\"requested_by\":\"bob\",\"issued_at\":1,"
	    "\"expires_at\":\"2\"}",
	    SIGNET_ERR_FORMAT, "must be an integer" },
	{ "huge number",
	    "{\"v\":1,\"action_id\":\"" AID "\","
	    "\"host_id\":\"h\",\"container_id\":\"" CID
	    "\",\"action\":\"STOP\","
	    "\"reason\":\"r\",\"requested_by\":\"bob\",\"issued_at\":1e300,"
	    "\"expires_at\":2}",
	    SIGNET_ERR_FORMAT, "must be an integer" },
	{ "invalid UTF-8", "{\"v\":1,\"reason\":\"\xc3\x28\"}",
	    SIGNET_ERR_FORMAT, "not valid UTF-8" },
	{ "deep nesting", "{\"v\":[[[[[[[[1]]]]]]]]}", SIGNET_ERR_FORMAT,
	    "nested deeper" },
	/* The server's audit head (cross-anchored heads). */
	{ "with server_head", ACTION_BODY ",\"server_head\":\"41:" CID "\"}", 0,
	    "" },
	{ "server_head a number", ACTION_BODY ",\"server_head\":41}",
	    SIGNET_ERR_FORMAT, "payload.server_head: must be a string" },
	{ "server_head without seq",
	    ACTION_BODY ",\"server_head\":\"" CID "\"}", SIGNET_ERR_FORMAT,
	    "payload.server_head: must be \"SEQ:HASH\"" },
	{ "server_head negative seq",
	    ACTION_BODY ",\"server_head\":\"-1:" CID "\"}", SIGNET_ERR_FORMAT,
	    "payload.server_head: must be" },
	{ "server_head short hash", ACTION_BODY ",\"server_head\":\"41:abc\"}",
	    SIGNET_ERR_FORMAT, "payload.server_head: must be" },
	{ "server_head upper-case hash",
	    ACTION_BODY
	    ",\"server_head\":\"41:"
	    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\"}",
	    SIGNET_ERR_FORMAT, "payload.server_head: must be" },
	{ "server_head seq past 2^53",
	    ACTION_BODY ",\"server_head\":\"9007199254740993:" CID "\"}",
	    SIGNET_ERR_FORMAT, "payload.server_head: must be" },
	{ "agent_head in an action",
	    ACTION_BODY ",\"agent_head\":\"1:" CID "\"}", SIGNET_ERR_FORMAT,
	    "unknown key \"agent_head\"" },
	/* The operator's request and its approvals, relayed. */
	{ "with a request", ACTION_BODY ",\"request\":" REQ "}", 0, "" },
	{ "with a request and approvals",
	    ACTION_BODY ",\"request\":" REQ ",\"approvals\":[" APV "]}", 0,
	    "" },
	{ "approvals empty",
	    ACTION_BODY ",\"request\":" REQ ",\"approvals\":[]}", 0, "" },
	{ "the same approval twice (counting refuses it)",
	    ACTION_BODY ",\"request\":" REQ ",\"approvals\":[" APV "," APV "]}",
	    0, "" },
	{ "approvals without a request",
	    ACTION_BODY ",\"approvals\":[" APV "]}", SIGNET_ERR_FORMAT,
	    "payload.approvals: only allowed with a request" },
	{ "empty approvals without a request", ACTION_BODY ",\"approvals\":[]}",
	    SIGNET_ERR_FORMAT,
	    "payload.approvals: only allowed with a request" },
	{ "request null", ACTION_BODY ",\"request\":null}", SIGNET_ERR_FORMAT,
	    "payload.request: must be an object" },
	{ "request a string", ACTION_BODY ",\"request\":\"x\"}",
	    SIGNET_ERR_FORMAT, "payload.request: must be an object" },
	{ "request empty", ACTION_BODY ",\"request\":{}}", SIGNET_ERR_FORMAT,
	    "payload.request.payload: missing" },
	{ "request key_id missing",
	    ACTION_BODY ",\"request\":{\"payload\":\"eyJ2IjoxfQ==\",\"sig\":"
	                "\"" SIG64 "\"}}",
	    SIGNET_ERR_FORMAT, "payload.request.key_id: missing" },
	{ "request unknown member",
	    ACTION_BODY
	    ",\"request\":{\"payload\":\"eyJ2IjoxfQ==\",\"extra\":1}}",
	    SIGNET_ERR_FORMAT, "payload.request: unknown key \"extra\"" },
	{ "request payload a number",
	    ACTION_BODY ",\"request\":{\"payload\":5,\"sig\":\"" SIG64
	                "\",\"key_id\":\"" KID "\"}}",
	    SIGNET_ERR_FORMAT, "payload.request.payload: must be a string" },
	{ "request payload empty",
	    ACTION_BODY ",\"request\":{\"payload\":\"\",\"sig\":\"" SIG64
	                "\",\"key_id\":\"" KID "\"}}",
	    SIGNET_ERR_FORMAT,
	    "payload.request.payload: must be base64 of 1..4096 bytes" },
	{ "request payload not base64",
	    ACTION_BODY ",\"request\":{\"payload\":\"e!J2\",\"sig\":\"" SIG64
	                "\",\"key_id\":\"" KID "\"}}",
	    SIGNET_ERR_FORMAT,
	    "payload.request.payload: must be base64 of 1..4096 bytes" },
	{ "request sig short",
	    ACTION_BODY ",\"request\":{\"payload\":\"eyJ2IjoxfQ==\",\"sig\":"
	                "\"AAAA\",\"key_id\":\"" KID "\"}}",
	    SIGNET_ERR_FORMAT,
	    "payload.request.sig: must be base64 of 64 bytes" },
	{ "request sig null",
	    ACTION_BODY ",\"request\":{\"payload\":\"eyJ2IjoxfQ==\",\"sig\":"
	                "null,\"key_id\":\"" KID "\"}}",
	    SIGNET_ERR_FORMAT, "payload.request.sig: must be a string" },
	{ "request key_id upper",
	    ACTION_BODY
	    ",\"request\":{\"payload\":\"eyJ2IjoxfQ==\",\"sig\":\"" SIG64
	    "\",\"key_id\":\"0123456789ABCDEF\"}}",
	    SIGNET_ERR_FORMAT,
	    "payload.request.key_id: must be 16 lowercase hex digits" },
	{ "request key_id a number",
	    ACTION_BODY
	    ",\"request\":{\"payload\":\"eyJ2IjoxfQ==\",\"sig\":\"" SIG64
	    "\",\"key_id\":7}}",
	    SIGNET_ERR_FORMAT, "payload.request.key_id: must be a string" },
	{ "approvals an object",
	    ACTION_BODY ",\"request\":" REQ ",\"approvals\":{}}",
	    SIGNET_ERR_FORMAT, "payload.approvals: must be an array" },
	{ "approval a number",
	    ACTION_BODY ",\"request\":" REQ ",\"approvals\":[" APV ",1]}",
	    SIGNET_ERR_FORMAT, "payload.approvals[1]: must be an object" },
	{ "approval unknown member",
	    ACTION_BODY ",\"request\":" REQ
	                ",\"approvals\":[{\"name\":\"bob\"}]}",
	    SIGNET_ERR_FORMAT, "payload.approvals[0]: unknown key \"name\"" },
	{ "approval sig missing",
	    ACTION_BODY ",\"request\":" REQ ",\"approvals\":[" APV
	                ",{\"key_id\":\"" KID "\"}]}",
	    SIGNET_ERR_FORMAT, "payload.approvals[1].sig: missing" },
	{ "approval key_id short",
	    ACTION_BODY ",\"request\":" REQ
	                ",\"approvals\":[{\"key_id\":\"0123\","
	                "\"sig\":\"" SIG64 "\"}]}",
	    SIGNET_ERR_FORMAT,
	    "payload.approvals[0].key_id: must be 16 lowercase hex digits" },
	{ "approval sig not base64",
	    ACTION_BODY ",\"request\":" REQ ",\"approvals\":[{\"key_id\":\"" KID
	                "\",\"sig\":\"%%%%\"}]}",
	    SIGNET_ERR_FORMAT,
	    "payload.approvals[0].sig: must be base64 of 64 bytes" },
	{ "approval nested deeper",
	    ACTION_BODY ",\"request\":" REQ ",\"approvals\":[{\"key_id\":"
	                "{\"x\":1}}]}",
	    SIGNET_ERR_FORMAT, "nested deeper" },
};

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
test_action_decode_rows(void)
{
	size_t i;

	for (i = 0; i < sizeof(action_rows) / sizeof(action_rows[0]); i++) {
		const struct decode_row *row = &action_rows[i];
		struct envelope_action_payload a;
		struct err_msg msg;
		int r;

		err_clear(&msg);
		memset(&a, 0x5a, sizeof(a));
		r = envelope_action_decode(row->json, strlen(row->json), &a,
		    &msg);
		CHECKF(r == row->want, "row \"%s\": got %d (%s)", row->name, r,
		    msg.text);
		if (row->want != 0) {
			CHECKF(strstr(msg.text, row->why) != NULL,
			    "row \"%s\": message \"%s\" lacks \"%s\"",
			    row->name, msg.text, row->why);
			CHECKF(all_zero(&a, sizeof(a)),
			    "row \"%s\": output not zeroed", row->name);
		}
	}
}

static void
test_reason_lengths(void)
{
	/* 512 three-byte characters pass; 513 do not. */
	char json[4096], reason[2048];
	struct envelope_action_payload a;
	struct err_msg msg;
	size_t i, n;

	for (n = 512; n <= 513; n++) {
		reason[0] = '\0';
		for (i = 0; i < n; i++)
			memcpy(reason + 3 * i, "\xe2\x82\xac", 4); /* euro */
		(void)snprintf(json, sizeof(json),
		    "{\"v\":1,\"action_id\":\"" AID
		    "\",\"host_id\":\"h\",\"container_id\":\"" CID "\","
		    "\"action\":\"STOP\",\"reason\":\"%s\",\"requested_by\":"
		    "\"bob\",\"issued_at\":1,\"expires_at\":2}",
		    reason);
		CHECKF((envelope_action_decode(json, strlen(json), &a, &msg) ==
		           0) == (n == 512),
		    "reason of %zu chars", n);
	}
}

static void
test_sign_verify(void)
{
	struct keys_secret k1, k2;
	struct keys_pubset pinned = { 0 };
	struct envelope env = { 0 }, env2 = { 0 };
	struct envelope_action_payload a, out;
	struct envelope_result_payload res, rout;
	struct err_msg msg;
	uint8_t *raw = NULL;
	size_t rawlen = 0;
	char *tampered;

	CHECK(keys_generate(&k1) == 0);
	CHECK(keys_generate(&k2) == 0);
	pinned.count = 1;
	pinned.keys[0] = k1.pub;

	CHECK(envelope_action_decode(GOOD_ACTION, strlen(GOOD_ACTION), &a,
	          &msg) == 0);
	CHECK(envelope_action_sign(&a, &k1, &env) == 0);
	CHECK(strcmp(env.key_id, k1.pub.id) == 0);
	CHECK(envelope_action_verify(&pinned, env.key_id, env.payload_b64,
	          env.sig_b64, &out, &raw, &rawlen, &msg) == 0);
	CHECK(strcmp(out.reason, "deploy 42") == 0 &&
	    out.action == ENVELOPE_ACTION_RESTART &&
	    out.expires_at == 1700000060000LL);
	CHECK(raw != NULL && rawlen == strlen(GOOD_ACTION) &&
	    memcmp(raw, GOOD_ACTION, rawlen) == 0);
	free(raw);

	/* Unknown key id: REJECTED before any signature work. */
	CHECK(
	    envelope_action_verify(&pinned, k2.pub.id, env.payload_b64,
	        env.sig_b64, &out, NULL, NULL, &msg) == SIGNET_ERR_UNKNOWN_KEY);
	CHECK_CONTAINS(msg.text, "not pinned");

	/* A payload signed by another key, claiming the pinned id. */
	CHECK(envelope_action_sign(&a, &k2, &env2) == 0);
	CHECK(envelope_action_verify(&pinned, k1.pub.id, env2.payload_b64,
	          env2.sig_b64, &out, NULL, NULL,
	          &msg) == SIGNET_ERR_BAD_SIGNATURE);
	CHECK_CONTAINS(msg.text, "does not verify");
	envelope_free(&env2);

	/* The same bytes signed as a result must not pass as an action. */
	CHECK(envelope_sign(ENVELOPE_CTX_RESULT, GOOD_ACTION,
	          strlen(GOOD_ACTION), &k1, &env2) == 0);
	CHECK(envelope_action_verify(&pinned, k1.pub.id, env2.payload_b64,
	          env2.sig_b64, &out, NULL, NULL,
	          &msg) == SIGNET_ERR_BAD_SIGNATURE);
	envelope_free(&env2);

	/* One changed character of the payload. */
	tampered = strdup(env.payload_b64);
	CHECK(tampered != NULL);
	tampered[10] = tampered[10] == 'A' ? 'B' : 'A';
	CHECK(envelope_action_verify(&pinned, k1.pub.id, tampered, env.sig_b64,
	          &out, NULL, NULL, &msg) == SIGNET_ERR_BAD_SIGNATURE);
	free(tampered);

	/* Malformed base64, wrong signature length, oversized payload. */
	CHECK(envelope_action_verify(&pinned, k1.pub.id, "!!!notbase64",
	          env.sig_b64, &out, NULL, NULL, &msg) == SIGNET_ERR_FORMAT);
	CHECK_CONTAINS(msg.text, "not valid base64");
	CHECK(envelope_action_verify(&pinned, k1.pub.id, env.payload_b64,
	          "AAAA", &out, NULL, NULL, &msg) == SIGNET_ERR_FORMAT);
	CHECK_CONTAINS(msg.text, "signature is not base64 of 64 bytes");
	{
		size_t big = 2 * ENVELOPE_ACTION_PAYLOAD_MAX;
		char *huge = malloc(big + 1);
		CHECK(huge != NULL);
		memset(huge, 'A', big);
		huge[big] = '\0';
		CHECK(envelope_action_verify(&pinned, k1.pub.id, huge,
		          env.sig_b64, &out, NULL, NULL,
		          &msg) == SIGNET_ERR_TOO_LARGE);
		free(huge);
	}
	CHECK(envelope_sign(ENVELOPE_CTX_ACTION, "x",
	          ENVELOPE_ACTION_PAYLOAD_MAX + 1, &k1,
	          &env2) == SIGNET_ERR_TOO_LARGE);
	CHECK(envelope_sign(ENVELOPE_CTX_RESULT, "x", ENVELOPE_PAYLOAD_MAX + 1,
	          &k1, &env2) == SIGNET_ERR_TOO_LARGE);

	/* Result round trip, including a null and a non-null error. */
	memset(&res, 0, sizeof(res));
	memcpy(res.action_id, a.action_id, sizeof(res.action_id));
	memcpy(res.host_id, a.host_id, sizeof(res.host_id));
	memcpy(res.container_id, a.container_id, sizeof(res.container_id));
	res.action = a.action;
	res.status = ENVELOPE_STATUS_FAILURE;
	res.has_error = true;
	(void)snprintf(res.error, sizeof(res.error), "dockerd said \"no\"");
	res.docker_status = 500;
	res.started_at = 1;
	res.finished_at = 2;
	envelope_sha256_hex(GOOD_ACTION, strlen(GOOD_ACTION),
	    res.request_sha256);
	CHECK(envelope_result_sign(&res, &k2, &env2) == 0);
	CHECK(envelope_result_verify(&k2.pub, env2.payload_b64, env2.sig_b64,
	          &rout, NULL, NULL, &msg) == 0);
	CHECK(rout.status == ENVELOPE_STATUS_FAILURE && rout.has_error &&
	    strcmp(rout.error, "dockerd said \"no\"") == 0 &&
	    rout.docker_status == 500);
	CHECK(envelope_result_verify(&k1.pub, env2.payload_b64, env2.sig_b64,
	          &rout, NULL, NULL, &msg) == SIGNET_ERR_BAD_SIGNATURE);
	/* An action envelope is not a result, even under the right key. */
	CHECK(envelope_result_verify(&k1.pub, env.payload_b64, env.sig_b64,
	          &rout, NULL, NULL, &msg) == SIGNET_ERR_BAD_SIGNATURE);
	envelope_free(&env2);
	envelope_free(&env);
	keys_secret_wipe(&k1);
	keys_secret_wipe(&k2);
}

static void
test_result_decode(void)
{
	static const char *bad[][2] = {
		{ "{\"v\":1,\"action_id\":\"" AID "\",\"host_id\":\"h\","
		  "\"container_id\":\"" CID "\",\"action\":\"STOP\","
		  "\"status\":\"MAYBE\"}",
		    "unknown status" },
		{ "{\"v\":1,\"action_id\":\"" AID "\",\"host_id\":\"h\","
		  "\"container_id\":\"" CID "\",\"action\":\"STOP\","
		  "\"status\":\"SUCCESS\"}",
		    "payload.error: missing" },
		{ "{\"v\":1,\"action_id\":\"" AID "\",\"host_id\":\"h\","
		  "\"container_id\":\"" CID "\",\"action\":\"STOP\","
		  "\"status\":\"SUCCESS\",\"error\":5}",
		    "must be a string" },
		{ "{\"v\":1,\"action_id\":\"" AID "\",\"host_id\":\"h\","
		  "\"container_id\":\"" CID "\",\"action\":\"STOP\","
		  "\"status\":\"SUCCESS\",\"error\":null,\"docker_status\":1000}",
		    "outside 0..999" },
	};
	struct envelope_result_payload r;
	struct err_msg msg;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		CHECKF(envelope_result_decode(bad[i][0], strlen(bad[i][0]), &r,
		           &msg) == SIGNET_ERR_FORMAT,
		    "result row %zu", i);
		CHECK_CONTAINS(msg.text, bad[i][1]);
	}
}

static void
test_times(void)
{
	struct envelope_action_payload a;
	struct err_msg msg;
	const int64_t now = 1700000000000LL;

	memset(&a, 0, sizeof(a));
	a.issued_at = now;
	a.expires_at = now + 60000;
	CHECK(envelope_action_check_time(&a, now, &msg) == 0);
	CHECK(envelope_action_check_time(&a, now + 60000 + 30000, &msg) == 0);
	CHECK(envelope_action_check_time(&a, now + 60000 + 30001, &msg) != 0);
	CHECK_CONTAINS(msg.text, "expired");
	CHECK(envelope_action_check_time(&a, now - 30000, &msg) == 0);
	CHECK(envelope_action_check_time(&a, now - 30001, &msg) != 0);
	CHECK_CONTAINS(msg.text, "in the future");
	a.expires_at = now + 300001;
	CHECK(envelope_action_check_time(&a, now, &msg) != 0);
	CHECK_CONTAINS(msg.text, "lifetime");
	a.expires_at = now;
	CHECK(envelope_action_check_time(&a, now, &msg) != 0);
	CHECK_CONTAINS(msg.text, "expires before");
}

/* Base64 of n bytes of fill into dst (at least its encoded length). */
static void
b64_fill(char *dst, size_t dstlen, size_t n, int fill)
{
	uint8_t buf[REQUEST_PAYLOAD_MAX + 1];

	if (n > sizeof(buf))
		abort();
	memset(buf, fill, n);
	sodium_bin2base64(dst, dstlen, buf, n, sodium_base64_VARIANT_ORIGINAL);
}

/* A GOOD_ACTION that relays a request and nappr approvals. */
static void
relayed(struct envelope_action_payload *a, size_t nappr)
{
	size_t i;

	CHECK(envelope_action_decode(GOOD_ACTION, strlen(GOOD_ACTION), a,
	          NULL) == 0);
	a->has_request = true;
	b64_fill(a->request.payload_b64, sizeof(a->request.payload_b64), 100,
	    'q');
	b64_fill(a->request.sig_b64, sizeof(a->request.sig_b64), KEYS_SIG_LEN,
	    's');
	(void)snprintf(a->request.key_id, sizeof(a->request.key_id), KID);
	for (i = 0; i < nappr; i++) {
		b64_fill(a->approvals[i].sig_b64,
		    sizeof(a->approvals[i].sig_b64), KEYS_SIG_LEN, (int)i);
		(void)snprintf(a->approvals[i].key_id,
		    sizeof(a->approvals[i].key_id), "%016zx", i + 1);
	}
	a->napprovals = nappr;
}

static void
test_action_request_members(void)
{
	struct envelope_action_payload a, b;
	struct err_msg msg;
	char *json = NULL, want[8192];
	size_t i;

	/* The old form is unchanged: no request, no new members. */
	CHECK(envelope_action_decode(GOOD_ACTION, strlen(GOOD_ACTION), &a,
	          &msg) == 0);
	CHECK(!a.has_request && a.napprovals == 0);
	CHECK(envelope_action_encode(&a, &json) == 0);
	CHECK(json != NULL && strcmp(json, GOOD_ACTION) == 0);
	free(json);

	/* Round trip, members in the documented order. */
	relayed(&a, 2);
	CHECK(envelope_action_encode(&a, &json) == 0);
	(void)snprintf(want, sizeof(want),
	    ACTION_BODY ",\"request\":{\"payload\":\"%s\",\"sig\":\"%s\","
	                "\"key_id\":\"" KID "\"},\"approvals\":[{\"key_id\":"
	                "\"0000000000000001\",\"sig\":\"%s\"},{\"key_id\":"
	                "\"0000000000000002\",\"sig\":\"%s\"}]}",
	    a.request.payload_b64, a.request.sig_b64, a.approvals[0].sig_b64,
	    a.approvals[1].sig_b64);
	CHECKF(json != NULL && strcmp(json, want) == 0, "encoded %s",
	    json != NULL ? json : "(null)");
	CHECK(json != NULL &&
	    envelope_action_decode(json, strlen(json), &b, &msg) == 0);
	CHECK(memcmp(&a, &b, sizeof(a)) == 0);
	free(json);

	/* A request without approvals: no "approvals" member. */
	relayed(&a, 0);
	CHECK(envelope_action_encode(&a, &json) == 0);
	CHECK(json != NULL && strstr(json, "\"request\":{") != NULL &&
	    strstr(json, "approvals") == NULL);
	CHECK(json != NULL &&
	    envelope_action_decode(json, strlen(json), &b, &msg) == 0);
	CHECK(memcmp(&a, &b, sizeof(a)) == 0);
	free(json);

	/* The encoder refuses approvals without a request, or too many. */
	relayed(&a, 1);
	a.has_request = false;
	CHECK(envelope_action_encode(&a, &json) == SIGNET_ERR_INVALID_ARG &&
	    json == NULL);
	relayed(&a, 1);
	a.napprovals = REQUEST_APPROVALS_MAX + 1;
	CHECK(envelope_action_encode(&a, &json) == SIGNET_ERR_INVALID_ARG &&
	    json == NULL);

	/* REQUEST_APPROVALS_MAX approvals pass; one more does not. */
	relayed(&a, REQUEST_APPROVALS_MAX);
	CHECK(envelope_action_encode(&a, &json) == 0);
	CHECK(json != NULL &&
	    envelope_action_decode(json, strlen(json), &b, &msg) == 0 &&
	    b.napprovals == REQUEST_APPROVALS_MAX);
	free(json);
	json = NULL;
	{
		char *more = NULL, *end;
		size_t n;

		relayed(&a, REQUEST_APPROVALS_MAX);
		CHECK(envelope_action_encode(&a, &json) == 0);
		n = json != NULL ? strlen(json) : 0;
		more = malloc(n + sizeof(APV) + 2);
		CHECK(more != NULL && n > 2);
		if (more != NULL && n > 2) {
			/* ...]} becomes ...,APV]} */
			memcpy(more, json, n - 2);
			end = more + n - 2;
			memcpy(end, "," APV "]}", sizeof("," APV "]}"));
			CHECK(envelope_action_decode(more, strlen(more), &b,
			          &msg) == SIGNET_ERR_FORMAT);
			CHECK_CONTAINS(msg.text,
			    "payload.approvals: more than 16");
		}
		free(more);
		free(json);
	}

	/* The request's payload: base64 of at most REQUEST_PAYLOAD_MAX. */
	for (i = REQUEST_PAYLOAD_MAX; i <= REQUEST_PAYLOAD_MAX + 1; i++) {
		char *text, *doc;
		size_t cap = sodium_base64_ENCODED_LEN(i,
		    sodium_base64_VARIANT_ORIGINAL);

		text = malloc(cap);
		doc = malloc(cap + 512);
		CHECK(text != NULL && doc != NULL);
		if (text != NULL && doc != NULL) {
			b64_fill(text, cap, i, 'x');
			(void)snprintf(doc, cap + 512,
			    ACTION_BODY ",\"request\":{\"payload\":\"%s\","
			                "\"sig\":\"" SIG64
			                "\",\"key_id\":\"" KID "\"}}",
			    text);
			CHECKF((envelope_action_decode(doc, strlen(doc), &b,
			            &msg) == 0) == (i == REQUEST_PAYLOAD_MAX),
			    "request payload of %zu bytes: %s", i, msg.text);
			if (i > REQUEST_PAYLOAD_MAX)
				CHECK_CONTAINS(msg.text,
				    "payload.request.payload: must be base64 "
				    "of 1..4096 bytes");
		}
		free(text);
		free(doc);
	}
}

/*
 * The largest action (longest reason, names and numbers, a request of
 * REQUEST_PAYLOAD_MAX bytes, REQUEST_APPROVALS_MAX approvals) fits its
 * bound, signs, verifies, and travels in a frame the agent takes whole.
 */
static void
test_action_max_size(void)
{
	struct envelope_action_payload a, b;
	struct envelope env = { 0 };
	struct keys_pubset pinned = { 0 };
	struct keys_secret k;
	struct wire_frame f;
	struct err_msg msg;
	char *json = NULL, *frame = NULL;
	size_t i, len = 0;

	CHECK(keys_generate(&k) == 0);
	pinned.count = 1;
	pinned.keys[0] = k.pub;
	relayed(&a, REQUEST_APPROVALS_MAX);
	memset(a.host_id, 'h', sizeof(a.host_id) - 1);
	memset(a.requested_by, 'r', sizeof(a.requested_by) - 1);
	for (i = 0; i < ENVELOPE_REASON_CHARS; i++)
		memcpy(a.reason + 4 * i, "\xf0\x9f\x98\x80", 4);
	a.reason[4 * i] = '\0';
	a.issued_at = 9007199254740000LL;
	a.expires_at = 9007199254740991LL;
	b64_fill(a.request.payload_b64, sizeof(a.request.payload_b64),
	    REQUEST_PAYLOAD_MAX, 'p');
	CHECK(strlen(a.request.payload_b64) == REQUEST_PAYLOAD_B64_MAX);
	CHECK(envelope_action_encode(&a, &json) == 0);
	CHECKF(json != NULL && strlen(json) > ENVELOPE_PAYLOAD_MAX &&
	        strlen(json) <= ENVELOPE_ACTION_PAYLOAD_MAX,
	    "largest action: %zu bytes", json != NULL ? strlen(json) : 0);
	CHECK(json != NULL &&
	    envelope_action_decode(json, strlen(json), &b, &msg) == 0);
	CHECK(memcmp(&a, &b, sizeof(a)) == 0);
	free(json);

	CHECK(envelope_action_sign(&a, &k, &env) == 0);
	CHECK(env.payload_b64 != NULL &&
	    strlen(env.payload_b64) <= WIRE_ACTION_PAYLOAD_B64_MAX);
	CHECK(envelope_action_verify(&pinned, env.key_id, env.payload_b64,
	          env.sig_b64, &b, NULL, NULL, &msg) == 0);
	CHECK(memcmp(&a, &b, sizeof(a)) == 0);
	CHECK(wire_build_action(env.payload_b64, env.sig_b64, env.key_id,
	          &frame, &len) == 0);
	CHECKF(len <= 64 * 1024, "largest action frame: %zu bytes", len);
	CHECK(frame != NULL &&
	    wire_parse_server_frame(frame, len, &f, &msg) == 0 &&
	    f.type == WIRE_ACTION &&
	    strcmp(f.payload_b64, env.payload_b64) == 0);
	wire_frame_free(&f);
	free(frame);
	envelope_free(&env);
	keys_secret_wipe(&k);
}

/* Cross-anchored heads: encoded last, decoded back, checked for form. */
static void
test_heads(void)
{
	static const char result_body[] =
	    "{\"v\":1,\"action_id\":\"" AID "\",\"host_id\":\"h\","
	    "\"container_id\":\"" CID "\",\"action\":\"STOP\","
	    "\"status\":\"SUCCESS\",\"error\":null,\"docker_status\":204,"
	    "\"started_at\":1,\"finished_at\":2,\"request_sha256\":\"" CID "\"";
	struct envelope_action_payload a, b;
	struct envelope_result_payload res, res2;
	struct err_msg msg;
	char *json = NULL, text[512];

	CHECK(envelope_action_decode(GOOD_ACTION, strlen(GOOD_ACTION), &a,
	          &msg) == 0);
	CHECK(!a.has_server_head);
	a.has_server_head = true;
	a.server_head.seq = 9007199254740991ULL;
	memcpy(a.server_head.hash, CID, 65);
	CHECK(envelope_action_encode(&a, &json) == 0);
	CHECKF(json != NULL &&
	        strcmp(json,
	            ACTION_BODY ",\"server_head\":\"9007199254740991:" CID
	                        "\"}") == 0,
	    "encoded %s", json != NULL ? json : "(null)");
	CHECK(json != NULL &&
	    envelope_action_decode(json, strlen(json), &b, &msg) == 0);
	CHECK(b.has_server_head && b.server_head.seq == 9007199254740991ULL &&
	    strcmp(b.server_head.hash, CID) == 0);
	free(json);

	(void)snprintf(text, sizeof(text), "%s}", result_body);
	CHECK(envelope_result_decode(text, strlen(text), &res, &msg) == 0);
	CHECK(!res.has_agent_head);
	res.has_agent_head = true;
	res.agent_head.seq = 0;
	memcpy(res.agent_head.hash, CID, 65);
	CHECK(envelope_result_encode(&res, &json) == 0);
	(void)snprintf(text, sizeof(text), "%s,\"agent_head\":\"0:" CID "\"}",
	    result_body);
	CHECKF(json != NULL && strcmp(json, text) == 0, "encoded %s",
	    json != NULL ? json : "(null)");
	CHECK(json != NULL &&
	    envelope_result_decode(json, strlen(json), &res2, &msg) == 0);
	CHECK(res2.has_agent_head && res2.agent_head.seq == 0 &&
	    strcmp(res2.agent_head.hash, CID) == 0);
	free(json);

	(void)snprintf(text, sizeof(text), "%s,\"agent_head\":\"x:" CID "\"}",
	    result_body);
	CHECK(envelope_result_decode(text, strlen(text), &res2, &msg) ==
	    SIGNET_ERR_FORMAT);
	CHECK_CONTAINS(msg.text, "payload.agent_head: must be \"SEQ:HASH\"");
	CHECK(!res2.has_agent_head);
	(void)snprintf(text, sizeof(text), "%s,\"server_head\":\"1:" CID "\"}",
	    result_body);
	CHECK(envelope_result_decode(text, strlen(text), &res2, &msg) ==
	    SIGNET_ERR_FORMAT);
	CHECK_CONTAINS(msg.text, "unknown key \"server_head\"");
}

int
main(void)
{
	if (sodium_init() < 0)
		return 1;
	test_action_decode_rows();
	test_reason_lengths();
	test_sign_verify();
	test_result_decode();
	test_times();
	test_action_request_members();
	test_action_max_size();
	test_heads();
	return test_finish("test_envelope");
}
