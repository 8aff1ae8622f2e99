/* SPDX-License-Identifier: ISC */
/* Envelope signing, verification and strict payload parsing. */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "envelope.h"
#include "keys.h"
#include "testlib.h"

#define AID "0123456789abcdef0123456789abcdef"
#define CID "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define GOOD_ACTION                                                            \
	"{\"v\":1,\"action_id\":\"" AID "\",\"host_id\":"                      \
	"\"web-01\",\"container_id\":\"" CID "\",\"action\":\"RESTART\","      \
	"\"reason\":\"deploy 42\",\"requested_by\":\"alice\","                 \
	"\"issued_at\":1700000000000,\"expires_at\":1700000060000}"

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
};

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
		r = envelope_action_decode(row->json, strlen(row->json), &a,
		    &msg);
		CHECKF(r == row->want, "row \"%s\": got %d (%s)", row->name, r,
		    msg.text);
		if (row->want != 0)
			CHECKF(strstr(msg.text, row->why) != NULL,
			    "row \"%s\": message \"%s\" lacks \"%s\"",
			    row->name, msg.text, row->why);
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
	return test_finish("test_envelope");
}
