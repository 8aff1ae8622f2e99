/* SPDX-License-Identifier: ISC */
/*
 * Unit tests of common/wire: every frame type built and parsed back, and a
 * table of hostile frames, each refused by the parser for its direction
 * with a message naming what is wrong.
 */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "envelope.h"
#include "testlib.h"
#include "text.h"
#include "wire.h"

#define ID32 "0123456789abcdef0123456789abcdef"
#define SHA64 ID32 ID32
#define KID "0123456789abcdef"
#define H64 "eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee"

static struct keys_secret test_key;
static uint8_t test_challenge[WIRE_CHALLENGE_LEN];

/* A hello frame carrying payload (as given) signed with key. */
static char *
signed_hello(const char *payload, const struct keys_secret *key)
{
	struct envelope env;
	char *t = NULL;
	size_t n;

	memset(&env, 0, sizeof(env));
	if (envelope_sign(WIRE_HELLO_CONTEXT, payload, strlen(payload), key,
	        &env) != 0)
		return NULL;
	n = strlen(env.payload_b64) + strlen(env.sig_b64) + 64;
	t = malloc(n);
	if (t != NULL)
		(void)snprintf(t, n,
		    "{\"type\":\"hello\",\"payload\":\"%s\",\"sig\":\"%s\"}",
		    env.payload_b64, env.sig_b64);
	envelope_free(&env);
	return t;
}

/*
 * The hello's proof (issue 12, item 3): signed with the registered key
 * over this connection's challenge, checked before the payload is read;
 * and the payload's members, strictly, once it verifies.
 */
static void
test_hello_proof(void)
{
	struct keys_secret other;
	struct wire_hello h, got;
	struct wire_frame f;
	struct err_msg m;
	uint8_t challenge2[WIRE_CHALLENGE_LEN];
	char *t = NULL, hex[2 * WIRE_CHALLENGE_LEN + 1], p[512];
	size_t len = 0, i;
	static const struct {
		const char *name, *fmt; /* fmt: %s is the challenge's hex */
		int code;
		const char *why;
	} payloads[] = {
		{ "accepted as built",
		    "{\"v\":1,\"host_id\":\"web-01\",\"agent_version\":\"1\","
		    "\"docker_version\":\"1\",\"result_key_id\":\"" KID "\","
		    "\"challenge\":\"%s\"}",
		    0, "" },
		{ "unknown member",
		    "{\"v\":1,\"host_id\":\"web-01\",\"agent_version\":\"1\","
		    "\"docker_version\":\"1\",\"result_key_id\":\"" KID "\","
		    "\"challenge\":\"%s\",\"admin\":true}",
		    SIGNET_ERR_FORMAT, "admin" },
		{ "bad host id",
		    "{\"v\":1,\"host_id\":\"Web 01\",\"agent_version\":\"1\","
		    "\"docker_version\":\"1\",\"result_key_id\":\"" KID "\","
		    "\"challenge\":\"%s\"}",
		    SIGNET_ERR_FORMAT, "valid host id" },
		{ "version with a space",
		    "{\"v\":1,\"host_id\":\"web-01\",\"agent_version\":\"1 2\","
		    "\"docker_version\":\"1\",\"result_key_id\":\"" KID "\","
		    "\"challenge\":\"%s\"}",
		    SIGNET_ERR_FORMAT, "agent_version" },
		{ "key id in capitals",
		    "{\"v\":1,\"host_id\":\"web-01\",\"agent_version\":\"1\","
		    "\"docker_version\":\"1\",\"result_key_id\":"
		    "\"0123456789ABCDEF\",\"challenge\":\"%s\"}",
		    SIGNET_ERR_FORMAT, "key id" },
		{ "version 2",
		    "{\"v\":2,\"host_id\":\"web-01\",\"agent_version\":\"1\","
		    "\"docker_version\":\"1\",\"result_key_id\":\"" KID "\","
		    "\"challenge\":\"%s\"}",
		    SIGNET_ERR_FORMAT, "v" },
		{ "no challenge",
		    "{\"v\":1,\"host_id\":\"web-01\",\"agent_version\":\"1\","
		    "\"docker_version\":\"1\",\"result_key_id\":\"" KID "\"}",
		    SIGNET_ERR_FORMAT, "challenge" },
		{ "not JSON", "{\"v\":%s", SIGNET_ERR_FORMAT, "malformed" },
		{ "with its audit head",
		    "{\"v\":1,\"host_id\":\"web-01\",\"agent_version\":\"1\","
		    "\"docker_version\":\"1\",\"result_key_id\":\"" KID "\","
		    "\"challenge\":\"%s\",\"audit_head\":\"7:" H64 "\"}",
		    0, "" },
		{ "audit head not SEQ:HASH",
		    "{\"v\":1,\"host_id\":\"web-01\",\"agent_version\":\"1\","
		    "\"docker_version\":\"1\",\"result_key_id\":\"" KID "\","
		    "\"challenge\":\"%s\",\"audit_head\":\"7\"}",
		    SIGNET_ERR_FORMAT, "audit_head: must be \"SEQ:HASH\"" },
		{ "audit head a number",
		    "{\"v\":1,\"host_id\":\"web-01\",\"agent_version\":\"1\","
		    "\"docker_version\":\"1\",\"result_key_id\":\"" KID "\","
		    "\"challenge\":\"%s\",\"audit_head\":7}",
		    SIGNET_ERR_FORMAT, "audit_head" },
	};

	memset(&h, 0, sizeof(h));
	memcpy(h.host_id, "web-01", 7);
	memcpy(h.agent_version, "0.1.0", 6);
	memcpy(h.docker_version, "20.10.24", 9);
	memcpy(h.result_key_id, test_key.pub.id, sizeof(h.result_key_id));
	memcpy(h.challenge, test_challenge, WIRE_CHALLENGE_LEN);
	randombytes_buf(challenge2, sizeof(challenge2));
	CHECK(keys_generate(&other) == 0);

	CHECK(wire_build_hello(&h, &test_key, &t, &len) == 0);
	CHECK(t != NULL && len == strlen(t));
	err_clear(&m);
	CHECKF(wire_parse_hello(t, len, &test_key.pub, test_challenge, &got,
	           &m) == 0,
	    "%s", m.text);
	CHECK(strcmp(got.host_id, "web-01") == 0 &&
	    strcmp(got.agent_version, "0.1.0") == 0 &&
	    strcmp(got.docker_version, "20.10.24") == 0 &&
	    strcmp(got.result_key_id, test_key.pub.id) == 0 &&
	    memcmp(got.challenge, test_challenge, WIRE_CHALLENGE_LEN) == 0 &&
	    !got.has_audit_head);
	free(t);
	/* The agent's audit head, when it anchors. */
	h.has_audit_head = true;
	h.audit_head.seq = 41;
	memset(h.audit_head.hash, 'e', AUDIT_HASH_HEX);
	CHECK(wire_build_hello(&h, &test_key, &t, &len) == 0);
	CHECK(t != NULL &&
	    wire_parse_hello(t, len, &test_key.pub, test_challenge, &got, &m) ==
	        0);
	CHECK(got.has_audit_head && got.audit_head.seq == 41 &&
	    strcmp(got.audit_head.hash, h.audit_head.hash) == 0);
	/* Another key, another challenge (a replay): no proof. */
	CHECK(wire_parse_hello(t, len, &other.pub, test_challenge, &got, &m) ==
	    SIGNET_ERR_BAD_SIGNATURE);
	CHECK_CONTAINS(m.text, "does not verify");
	CHECK(got.host_id[0] == '\0');
	CHECK(wire_parse_hello(t, len, &test_key.pub, challenge2, &got, &m) ==
	    SIGNET_ERR_BAD_SIGNATURE);
	CHECK_CONTAINS(m.text, "another challenge");
	free(t);
	/* Signed with another key, or not at all. */
	CHECK(wire_build_hello(&h, &other, &t, &len) == 0);
	CHECK(wire_parse_hello(t, len, &test_key.pub, test_challenge, &got,
	          &m) == SIGNET_ERR_BAD_SIGNATURE);
	free(t);
	CHECK(wire_build_hello(&h, NULL, &t, &len) == 0);
	CHECK(wire_parse_hello(t, len, &test_key.pub, test_challenge, &got,
	          &m) == SIGNET_ERR_BAD_SIGNATURE);
	CHECK_CONTAINS(m.text, "no sig");
	free(t);

	/* Signed payloads, judged strictly once the signature holds. */
	(void)text_hex(test_challenge, WIRE_CHALLENGE_LEN, hex);
	for (i = 0; i < sizeof(payloads) / sizeof(payloads[0]); i++) {
		const char *at = strstr(payloads[i].fmt, "%s");

		if (at == NULL)
			(void)snprintf(p, sizeof(p), "%s", payloads[i].fmt);
		else
			(void)snprintf(p, sizeof(p), "%.*s%s%s",
			    (int)(at - payloads[i].fmt), payloads[i].fmt, hex,
			    at + 2);
		t = signed_hello(p, &test_key);
		CHECK(t != NULL);
		if (t == NULL)
			continue;
		err_clear(&m);
		CHECKF(wire_parse_hello(t, strlen(t), &test_key.pub,
		           test_challenge, &got, &m) == payloads[i].code,
		    "%s: %s", payloads[i].name, m.text);
		CHECKF(strstr(m.text, payloads[i].why) != NULL,
		    "%s: \"%s\" lacks \"%s\"", payloads[i].name, m.text,
		    payloads[i].why);
		free(t);
	}

	/* The challenge frame. */
	CHECK(wire_build_challenge(test_challenge, &t, &len) == 0);
	CHECK(wire_parse_server_frame(t, len, &f, NULL) == 0 &&
	    f.type == WIRE_CHALLENGE &&
	    memcmp(f.challenge, test_challenge, WIRE_CHALLENGE_LEN) == 0);
	wire_frame_free(&f);
	CHECK(wire_parse_agent_frame(t, len, &f, NULL) == SIGNET_ERR_FORMAT);
	free(t);
	keys_secret_wipe(&other);
}

/* frame_refused (agent): issue 12, item 1. */
static void
test_refusal_frames(void)
{
	static const struct {
		const char *name, *text, *why;
	} bad[] = {
		{ "frame hash not hex",
		    "{\"type\":\"frame_refused\",\"frame_sha256\":\"XYZ\","
		    "\"reason\":\"r\"}",
		    "frame_sha256" },
		{ "payload hash in capitals",
		    "{\"type\":\"frame_refused\",\"frame_sha256\":\"" SHA64
		    "\",\"request_sha256\":\"" ID32
		    "ABCDEF0123456789ABCDEF0123456789"
		    "\",\"reason\":\"r\"}",
		    "request_sha256" },
		{ "empty reason",
		    "{\"type\":\"frame_refused\",\"frame_sha256\":\"" SHA64
		    "\",\"reason\":\"\"}",
		    "reason" },
		{ "control byte in the reason",
		    "{\"type\":\"frame_refused\",\"frame_sha256\":\"" SHA64
		    "\",\"reason\":\"a\\u0007b\"}",
		    "control" },
		{ "an action named",
		    "{\"type\":\"frame_refused\",\"frame_sha256\":\"" SHA64
		    "\",\"reason\":\"r\",\"action_id\":\"" ID32 "\"}",
		    "action_id" },
		{ "no frame hash",
		    "{\"type\":\"frame_refused\",\"reason\":\"r\"}",
		    "frame_sha256" },
	};
	struct wire_refusal ref;
	struct wire_frame f;
	struct err_msg m;
	char *t = NULL, big[WIRE_REASON_MAX + 2];
	size_t len = 0, i;

	memset(&ref, 0, sizeof(ref));
	memcpy(ref.frame_sha256, SHA64, sizeof(ref.frame_sha256));
	(void)snprintf(ref.reason, sizeof(ref.reason),
	    "unverified frame: bad signature");
	CHECK(wire_build_frame_refused(&ref, &t, &len) == 0);
	CHECK(strcmp(t,
	          "{\"type\":\"frame_refused\",\"frame_sha256\":\"" SHA64
	          "\",\"reason\":\"unverified frame: bad signature\"}") == 0);
	CHECK(wire_parse_agent_frame(t, len, &f, NULL) == 0 &&
	    f.type == WIRE_FRAME_REFUSED &&
	    memcmp(&f.refusal, &ref, sizeof(ref)) == 0);
	wire_frame_free(&f);
	CHECK(wire_parse_server_frame(t, len, &f, NULL) == SIGNET_ERR_FORMAT);
	free(t);
	memcpy(ref.request_sha256, SHA64, sizeof(ref.request_sha256));
	CHECK(wire_build_frame_refused(&ref, &t, &len) == 0);
	CHECK(wire_parse_agent_frame(t, len, &f, NULL) == 0 &&
	    strcmp(f.refusal.request_sha256, SHA64) == 0);
	wire_frame_free(&f);
	free(t);
	/* The reason is bounded: WIRE_REASON_MAX bytes, not one more. */
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	memcpy(ref.reason, big, WIRE_REASON_MAX);
	ref.reason[WIRE_REASON_MAX] = '\0';
	CHECK(wire_build_frame_refused(&ref, &t, &len) == 0);
	CHECK(wire_parse_agent_frame(t, len, &f, NULL) == 0);
	wire_frame_free(&f);
	free(t);
	t = NULL;
	{
		char text[WIRE_REASON_MAX + 256];

		(void)snprintf(text, sizeof(text),
		    "{\"type\":\"frame_refused\",\"frame_sha256\":\"" SHA64
		    "\",\"reason\":\"%s\"}",
		    big);
		err_clear(&m);
		CHECKF(wire_parse_agent_frame(text, strlen(text), &f, &m) ==
		        SIGNET_ERR_FORMAT,
		    "a reason of %d bytes is refused", WIRE_REASON_MAX + 1);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err_clear(&m);
		CHECKF(wire_parse_agent_frame(bad[i].text, strlen(bad[i].text),
		           &f, &m) == SIGNET_ERR_FORMAT,
		    "%s: refused", bad[i].name);
		CHECKF(strstr(m.text, bad[i].why) != NULL,
		    "%s: \"%s\" lacks \"%s\"", bad[i].name, m.text, bad[i].why);
	}
}

/* action_outcome (agent) and outcome_ack (server): issue 12, item 10. */
static void
test_outcome_frames(void)
{
	struct wire_result_ack ack;
	struct wire_frame f;
	const char *bad;
	char *t = NULL;
	size_t len = 0;

	CHECK(wire_build_outcome("cGF5bG9hZA==", "c2ln", &t, &len) == 0);
	CHECK(strcmp(t,
	          "{\"type\":\"action_outcome\",\"payload\":\"cGF5bG9hZA==\","
	          "\"sig\":\"c2ln\"}") == 0);
	CHECK(wire_parse_agent_frame(t, len, &f, NULL) == 0);
	CHECK(f.type == WIRE_ACTION_OUTCOME &&
	    strcmp(f.payload_b64, "cGF5bG9hZA==") == 0 &&
	    strcmp(f.sig_b64, "c2ln") == 0);
	wire_frame_free(&f);
	CHECK(wire_parse_server_frame(t, len, &f, NULL) == SIGNET_ERR_FORMAT);
	free(t);
	memcpy(ack.action_id, ID32, sizeof(ack.action_id));
	memcpy(ack.request_sha256, SHA64, sizeof(ack.request_sha256));
	CHECK(wire_build_outcome_ack(&ack, &t, &len) == 0);
	CHECK(wire_parse_server_frame(t, len, &f, NULL) == 0);
	CHECK(f.type == WIRE_OUTCOME_ACK &&
	    memcmp(&f.ack, &ack, sizeof(ack)) == 0);
	wire_frame_free(&f);
	CHECK(wire_parse_agent_frame(t, len, &f, NULL) == SIGNET_ERR_FORMAT);
	free(t);
	/* Strict like their siblings. */
	bad =
	    "{\"type\":\"action_outcome\",\"payload\":\"eA==\",\"sig\":\"c2ln\","
	    "\"extra\":1}";
	CHECK(wire_parse_agent_frame(bad, strlen(bad), &f, NULL) ==
	    SIGNET_ERR_FORMAT);
	bad = "{\"type\":\"outcome_ack\",\"action_id\":\"0123\","
	      "\"request_sha256\":\"" SHA64 "\"}";
	CHECK(wire_parse_server_frame(bad, strlen(bad), &f, NULL) ==
	    SIGNET_ERR_FORMAT);
}

/* roster (server) and roster_status (agent): issue 13, item 2. */
static void
test_roster_frames(void)
{
	static const struct {
		const char *name, *text, *why;
	} bad_status[] = {
		{ "unknown member",
		    "{\"type\":\"roster_status\",\"version\":3,"
		    "\"roster_sha256\":\"" SHA64 "\",\"operators\":[]}",
		    "operators" },
		{ "version 0 with a hash",
		    "{\"type\":\"roster_status\",\"version\":0,"
		    "\"roster_sha256\":\"" SHA64 "\"}",
		    "\"\" with version 0" },
		{ "version 3 without a hash",
		    "{\"type\":\"roster_status\",\"version\":3,"
		    "\"roster_sha256\":\"\"}",
		    "roster_sha256 must be a SHA-256" },
		{ "hash in capitals",
		    "{\"type\":\"roster_status\",\"version\":3,"
		    "\"roster_sha256\":\"" ID32
		    "ABCDEF0123456789ABCDEF0123456789\"}",
		    "roster_sha256" },
		{ "hash too short",
		    "{\"type\":\"roster_status\",\"version\":3,"
		    "\"roster_sha256\":\"" ID32 "\"}",
		    "roster_sha256" },
		{ "hash missing", "{\"type\":\"roster_status\",\"version\":3}",
		    "roster_sha256" },
		{ "hash a number",
		    "{\"type\":\"roster_status\",\"version\":0,"
		    "\"roster_sha256\":0}",
		    "roster_sha256" },
		{ "version missing",
		    "{\"type\":\"roster_status\",\"roster_sha256\":\"\"}",
		    "version" },
		{ "version negative",
		    "{\"type\":\"roster_status\",\"version\":-1,"
		    "\"roster_sha256\":\"\"}",
		    "version" },
		{ "version 2^53",
		    "{\"type\":\"roster_status\",\"version\":9007199254740992,"
		    "\"roster_sha256\":\"" SHA64 "\"}",
		    "version" },
		{ "version a fraction",
		    "{\"type\":\"roster_status\",\"version\":1.5,"
		    "\"roster_sha256\":\"" SHA64 "\"}",
		    "version" },
		{ "version a string",
		    "{\"type\":\"roster_status\",\"version\":\"3\","
		    "\"roster_sha256\":\"" SHA64 "\"}",
		    "version" },
		{ "refused empty",
		    "{\"type\":\"roster_status\",\"version\":0,"
		    "\"roster_sha256\":\"\",\"refused\":\"\"}",
		    "refused" },
		{ "refused with a control character",
		    "{\"type\":\"roster_status\",\"version\":0,"
		    "\"roster_sha256\":\"\",\"refused\":\"a\\nb\"}",
		    "control" },
		{ "refused with an escape",
		    "{\"type\":\"roster_status\",\"version\":0,"
		    "\"roster_sha256\":\"\",\"refused\":\"\\u001b[31m\"}",
		    "control" },
		{ "refused not a string",
		    "{\"type\":\"roster_status\",\"version\":0,"
		    "\"roster_sha256\":\"\",\"refused\":true}",
		    "refused" },
		{ "duplicate version",
		    "{\"type\":\"roster_status\",\"version\":0,\"version\":3,"
		    "\"roster_sha256\":\"\"}",
		    "duplicate" },
	};
	static const struct {
		const char *name, *text, *why;
	} bad_roster[] = {
		{ "unknown member",
		    "{\"type\":\"roster\",\"roster\":\"eA==\",\"version\":3}",
		    "version" },
		{ "no roster", "{\"type\":\"roster\"}", "roster" },
		{ "empty roster", "{\"type\":\"roster\",\"roster\":\"\"}",
		    "roster must be 1.." },
		{ "roster not a string", "{\"type\":\"roster\",\"roster\":{}}",
		    "roster" },
		{ "control character",
		    "{\"type\":\"roster\",\"roster\":\"eA\\u0000==\"}", "" },
	};
	struct wire_roster_status st;
	struct wire_frame f;
	struct err_msg m;
	char *t = NULL, *big = NULL;
	size_t len = 0, i, n;

	/* roster: built, parsed back into payload_b64; the server's only. */
	CHECK(wire_build_roster("eyJyb3N0ZXIiOjF9", &t, &len) == 0);
	CHECK(t != NULL && len == strlen(t) &&
	    strcmp(t,
	        "{\"type\":\"roster\",\"roster\":\"eyJyb3N0ZXIiOjF9\"}") == 0);
	err_clear(&m);
	CHECKF(wire_parse_server_frame(t, len, &f, &m) == 0, "%s", m.text);
	CHECK(f.type == WIRE_ROSTER && f.payload_b64 != NULL &&
	    strcmp(f.payload_b64, "eyJyb3N0ZXIiOjF9") == 0 &&
	    f.sig_b64 == NULL);
	wire_frame_free(&f);
	err_clear(&m);
	CHECK(wire_parse_agent_frame(t, len, &f, &m) == SIGNET_ERR_FORMAT);
	CHECK_CONTAINS(m.text, "\"roster\" is not accepted");
	CHECK(f.type == WIRE_NONE);
	free(t);
	t = NULL;
	CHECK(wire_build_roster(NULL, &t, &len) == SIGNET_ERR_INVALID_ARG &&
	    t == NULL);
	CHECK(wire_type_name(WIRE_ROSTER) != NULL &&
	    strcmp(wire_type_name(WIRE_ROSTER), "roster") == 0);
	CHECK(wire_type_name(WIRE_ROSTER_STATUS) != NULL &&
	    strcmp(wire_type_name(WIRE_ROSTER_STATUS), "roster_status") == 0);

	/* The roster text is bounded: WIRE_ROSTER_B64_MAX, not one more. */
	n = WIRE_ROSTER_B64_MAX + 64;
	big = malloc(n);
	CHECK(big != NULL);
	if (big != NULL) {
		char *text = malloc(WIRE_ROSTER_B64_MAX + 2);

		CHECK(text != NULL);
		if (text != NULL) {
			memset(text, 'A', WIRE_ROSTER_B64_MAX);
			text[WIRE_ROSTER_B64_MAX] = '\0';
			(void)snprintf(big, n,
			    "{\"type\":\"roster\",\"roster\":\"%s\"}", text);
			CHECK(wire_parse_server_frame(big, strlen(big), &f,
			          NULL) == 0 &&
			    f.type == WIRE_ROSTER &&
			    strlen(f.payload_b64) == WIRE_ROSTER_B64_MAX);
			wire_frame_free(&f);
			text[WIRE_ROSTER_B64_MAX] = 'A';
			text[WIRE_ROSTER_B64_MAX + 1] = '\0';
			(void)snprintf(big, n,
			    "{\"type\":\"roster\",\"roster\":\"%s\"}", text);
			err_clear(&m);
			CHECK(wire_parse_server_frame(big, strlen(big), &f,
			          &m) == SIGNET_ERR_FORMAT);
			CHECK_CONTAINS(m.text, "roster must be 1..");
			CHECK(f.type == WIRE_ROSTER && f.payload_b64 == NULL);
			free(text);
		}
		free(big);
	}
	for (i = 0; i < sizeof(bad_roster) / sizeof(bad_roster[0]); i++) {
		err_clear(&m);
		CHECKF(wire_parse_server_frame(bad_roster[i].text,
		           strlen(bad_roster[i].text), &f,
		           &m) == SIGNET_ERR_FORMAT,
		    "roster %s: refused", bad_roster[i].name);
		CHECKF(strstr(m.text, bad_roster[i].why) != NULL,
		    "roster %s: \"%s\" lacks \"%s\"", bad_roster[i].name,
		    m.text, bad_roster[i].why);
		CHECKF(f.payload_b64 == NULL, "roster %s: left a text",
		    bad_roster[i].name);
	}

	/* roster_status: none held, held, held and refused the last one. */
	memset(&st, 0, sizeof(st));
	CHECK(wire_build_roster_status(&st, &t, &len) == 0);
	CHECK(t != NULL &&
	    strcmp(t,
	        "{\"type\":\"roster_status\",\"version\":0,"
	        "\"roster_sha256\":\"\"}") == 0);
	CHECK(wire_parse_agent_frame(t, len, &f, NULL) == 0 &&
	    f.type == WIRE_ROSTER_STATUS &&
	    memcmp(&f.roster, &st, sizeof(st)) == 0);
	wire_frame_free(&f);
	CHECK(wire_parse_server_frame(t, len, &f, NULL) == SIGNET_ERR_FORMAT &&
	    f.type == WIRE_NONE);
	free(t);
	st.version = 9007199254740991LL;
	memcpy(st.sha256, SHA64, sizeof(st.sha256));
	(void)snprintf(st.refused, sizeof(st.refused),
	    "roster version 2 is older than the held version 7: a rollback, "
	    "refused");
	CHECK(wire_build_roster_status(&st, &t, &len) == 0);
	CHECK(t != NULL &&
	    strcmp(t,
	        "{\"type\":\"roster_status\",\"version\":9007199254740991,"
	        "\"roster_sha256\":\"" SHA64 "\",\"refused\":\"roster version "
	        "2 is older than the held version 7: a rollback, "
	        "refused\"}") == 0);
	err_clear(&m);
	CHECKF(wire_parse_agent_frame(t, len, &f, &m) == 0, "%s", m.text);
	CHECK(f.type == WIRE_ROSTER_STATUS &&
	    memcmp(&f.roster, &st, sizeof(st)) == 0);
	wire_frame_free(&f);
	free(t);
	/* The refusal is bounded: WIRE_REASON_MAX bytes, not one more. */
	memset(st.refused, 'r', WIRE_REASON_MAX);
	st.refused[WIRE_REASON_MAX] = '\0';
	CHECK(wire_build_roster_status(&st, &t, &len) == 0);
	CHECK(wire_parse_agent_frame(t, len, &f, NULL) == 0 &&
	    strlen(f.roster.refused) == WIRE_REASON_MAX);
	wire_frame_free(&f);
	free(t);
	{
		char text[WIRE_REASON_MAX + 256], r[WIRE_REASON_MAX + 2];

		memset(r, 'r', WIRE_REASON_MAX + 1);
		r[WIRE_REASON_MAX + 1] = '\0';
		(void)snprintf(text, sizeof(text),
		    "{\"type\":\"roster_status\",\"version\":0,"
		    "\"roster_sha256\":\"\",\"refused\":\"%s\"}",
		    r);
		err_clear(&m);
		CHECK(wire_parse_agent_frame(text, strlen(text), &f, &m) ==
		    SIGNET_ERR_FORMAT);
		CHECK_CONTAINS(m.text, "refused must be 1..512 bytes");
	}
	CHECK(wire_build_roster_status(NULL, &t, &len) ==
	        SIGNET_ERR_INVALID_ARG &&
	    t == NULL);
	for (i = 0; i < sizeof(bad_status) / sizeof(bad_status[0]); i++) {
		err_clear(&m);
		memset(&f, 0x5a, sizeof(f.roster));
		CHECKF(wire_parse_agent_frame(bad_status[i].text,
		           strlen(bad_status[i].text), &f,
		           &m) == SIGNET_ERR_FORMAT,
		    "roster_status %s: refused", bad_status[i].name);
		CHECKF(strstr(m.text, bad_status[i].why) != NULL,
		    "roster_status %s: \"%s\" lacks \"%s\"", bad_status[i].name,
		    m.text, bad_status[i].why);
		CHECKF(f.type == WIRE_NONE && f.roster.version == 0 &&
		        f.roster.sha256[0] == '\0' &&
		        f.roster.refused[0] == '\0',
		    "roster_status %s: left something", bad_status[i].name);
	}
}

/* A hash in base64: 32 bytes of 0x11. */
#define HB64 "ERERERERERERERERERERERERERERERERERERERERERE="

/* drain (server): issue 16; bounded, exact, an agent never sends it. */
static void
test_drain_frames(void)
{
	static const struct {
		const char *name, *text, *why;
	} bad[] = {
		{ "negative", "{\"type\":\"drain\",\"within_ms\":-1}",
		    "within_ms" },
		{ "too large", "{\"type\":\"drain\",\"within_ms\":600001}",
		    "within_ms" },
		{ "huge", "{\"type\":\"drain\",\"within_ms\":1e300}",
		    "within_ms" },
		{ "fraction", "{\"type\":\"drain\",\"within_ms\":0.5}",
		    "within_ms" },
		{ "a string", "{\"type\":\"drain\",\"within_ms\":\"5\"}",
		    "within_ms" },
		{ "null", "{\"type\":\"drain\",\"within_ms\":null}",
		    "within_ms" },
		{ "missing", "{\"type\":\"drain\"}", "within_ms" },
		{ "extra member",
		    "{\"type\":\"drain\",\"within_ms\":5,\"to\":\"wss://x:1\"}",
		    "to" },
		{ "duplicate",
		    "{\"type\":\"drain\",\"within_ms\":5,\"within_ms\":6}",
		    "duplicate" },
	};
	struct wire_frame f;
	struct err_msg m;
	char *t = NULL;
	size_t len = 0, i;

	CHECK(wire_build_drain(0, &t, &len) == 0);
	CHECK(t != NULL &&
	    strcmp(t, "{\"type\":\"drain\",\"within_ms\":0}") == 0);
	free(t);
	CHECK(wire_build_drain(WIRE_DRAIN_MAX_MS, &t, &len) == 0);
	CHECK(wire_parse_server_frame(t, len, &f, NULL) == 0 &&
	    f.type == WIRE_DRAIN && f.drain_ms == WIRE_DRAIN_MAX_MS);
	wire_frame_free(&f);
	CHECK(wire_parse_agent_frame(t, len, &f, NULL) == SIGNET_ERR_FORMAT);
	free(t);
	t = NULL;
	CHECK(wire_build_drain(WIRE_DRAIN_MAX_MS + 1, &t, &len) ==
	        SIGNET_ERR_INVALID_ARG &&
	    t == NULL);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err_clear(&m);
		CHECKF(wire_parse_server_frame(bad[i].text, strlen(bad[i].text),
		           &f, &m) == SIGNET_ERR_FORMAT,
		    "drain %s accepted", bad[i].name);
		CHECKF(strstr(m.text, bad[i].why) != NULL, "drain %s: \"%s\"",
		    bad[i].name, m.text);
		wire_frame_free(&f);
	}
}

/* checkpoint (agent) and checkpoint_ack (server): issue 14, item 3. */
static void
test_checkpoint_frames(void)
{
	static const struct {
		const char *name, *text, *why;
	} bad_cp[] = {
		{ "unknown member",
		    "{\"type\":\"checkpoint\",\"note\":\"n\",\"old\":0,"
		    "\"proof\":[],\"root\":\"x\"}",
		    "root" },
		{ "no note", "{\"type\":\"checkpoint\",\"old\":0,\"proof\":[]}",
		    "note" },
		{ "empty note",
		    "{\"type\":\"checkpoint\",\"note\":\"\",\"old\":0,"
		    "\"proof\":[]}",
		    "note must be 1.." },
		{ "note not a string",
		    "{\"type\":\"checkpoint\",\"note\":[],\"old\":0,"
		    "\"proof\":[]}",
		    "note" },
		{ "note with NUL",
		    "{\"type\":\"checkpoint\",\"note\":\"a\\u0000b\",\"old\":0,"
		    "\"proof\":[]}",
		    "" },
		{ "no old",
		    "{\"type\":\"checkpoint\",\"note\":\"n\",\"proof\":[]}",
		    "old" },
		{ "old negative",
		    "{\"type\":\"checkpoint\",\"note\":\"n\",\"old\":-1,"
		    "\"proof\":[]}",
		    "old" },
		{ "old 2^53",
		    "{\"type\":\"checkpoint\",\"note\":\"n\","
		    "\"old\":9007199254740992,\"proof\":[]}",
		    "old" },
		{ "old a fraction",
		    "{\"type\":\"checkpoint\",\"note\":\"n\",\"old\":1.5,"
		    "\"proof\":[]}",
		    "old" },
		{ "old a string",
		    "{\"type\":\"checkpoint\",\"note\":\"n\",\"old\":\"1\","
		    "\"proof\":[]}",
		    "old" },
		{ "no proof",
		    "{\"type\":\"checkpoint\",\"note\":\"n\",\"old\":1}",
		    "proof must be an array" },
		{ "proof an object",
		    "{\"type\":\"checkpoint\",\"note\":\"n\",\"old\":1,"
		    "\"proof\":{}}",
		    "proof must be an array" },
		{ "proof a string",
		    "{\"type\":\"checkpoint\",\"note\":\"n\",\"old\":1,"
		    "\"proof\":\"" HB64 "\"}",
		    "proof must be an array" },
		{ "proof from 0",
		    "{\"type\":\"checkpoint\",\"note\":\"n\",\"old\":0,"
		    "\"proof\":[\"" HB64 "\"]}",
		    "old 0 takes no proof" },
		{ "hash a number",
		    "{\"type\":\"checkpoint\",\"note\":\"n\",\"old\":1,"
		    "\"proof\":[\"" HB64 "\",7]}",
		    "proof[1] is not base64" },
		{ "hash short",
		    "{\"type\":\"checkpoint\",\"note\":\"n\",\"old\":1,"
		    "\"proof\":[\"ERERERERERERERERERERERERERERERERERERERER\"]}",
		    "proof[0] is not base64" },
		{ "hash long",
		    "{\"type\":\"checkpoint\",\"note\":\"n\",\"old\":1,"
		    "\"proof\":[\"ERERERERERERERERERERERERERERERERERERERERERER\"]}",
		    "proof[0] is not base64" },
		{ "hash not canonical",
		    "{\"type\":\"checkpoint\",\"note\":\"n\",\"old\":1,"
		    "\"proof\":[\"ERERERERERERERERERERERERERERERERERERERERERF=\"]}",
		    "proof[0] is not base64" },
		{ "hash unpadded",
		    "{\"type\":\"checkpoint\",\"note\":\"n\",\"old\":1,"
		    "\"proof\":[\"ERERERERERERERERERERERERERERERERERERERERERE\"]}",
		    "proof[0] is not base64" },
		{ "hash url-safe",
		    "{\"type\":\"checkpoint\",\"note\":\"n\",\"old\":1,"
		    "\"proof\":[\"____________________________________________\"]}",
		    "proof[0] is not base64" },
		{ "hash empty",
		    "{\"type\":\"checkpoint\",\"note\":\"n\",\"old\":1,"
		    "\"proof\":[\"\"]}",
		    "proof[0] is not base64" },
		{ "duplicate note",
		    "{\"type\":\"checkpoint\",\"note\":\"n\",\"note\":\"m\","
		    "\"old\":1,\"proof\":[]}",
		    "duplicate" },
	};
	static const struct {
		const char *name, *text, *why;
	} bad_ack[] = {
		{ "unknown member",
		    "{\"type\":\"checkpoint_ack\",\"size\":1,\"root\":\"x\"}",
		    "root" },
		{ "no size", "{\"type\":\"checkpoint_ack\"}", "size" },
		{ "size negative", "{\"type\":\"checkpoint_ack\",\"size\":-1}",
		    "size" },
		{ "size 2^53",
		    "{\"type\":\"checkpoint_ack\",\"size\":9007199254740992}",
		    "size" },
		{ "size a string",
		    "{\"type\":\"checkpoint_ack\",\"size\":\"1\"}", "size" },
		{ "size a fraction",
		    "{\"type\":\"checkpoint_ack\",\"size\":0.5}", "size" },
	};
	uint8_t proof[MERKLE_PROOF_MAX + 1][MERKLE_HASH_LEN];
	struct wire_frame f;
	struct err_msg m;
	char *t = NULL, *big = NULL;
	size_t len = 0, i, n;

	memset(proof, 0x11, sizeof(proof));
	proof[1][0] = 0x22;
	/* Built, parsed back, refused the other way. */
	CHECK(wire_build_checkpoint("o\n5\nr\n\n\xe2\x80\x94 o x\n", 3,
	          (const uint8_t(*)[MERKLE_HASH_LEN])proof, 2, &t, &len) == 0);
	CHECK(t != NULL && len == strlen(t));
	CHECK(t != NULL &&
	    strncmp(t, "{\"type\":\"checkpoint\",\"note\":\"o\\n5\\nr\\n\\n",
	        40) == 0);
	err_clear(&m);
	CHECKF(wire_parse_agent_frame(t, len, &f, &m) == 0, "%s", m.text);
	CHECK(f.type == WIRE_CHECKPOINT && f.cp.old == 3 && f.cp.nproof == 2 &&
	    f.cp.note != NULL &&
	    strcmp(f.cp.note, "o\n5\nr\n\n\xe2\x80\x94 o x\n") == 0 &&
	    f.cp.note_len == strlen(f.cp.note) &&
	    memcmp(f.cp.proof, proof, 2 * MERKLE_HASH_LEN) == 0);
	wire_frame_free(&f);
	CHECK(f.cp.note == NULL && f.cp.nproof == 0);
	CHECK(wire_parse_server_frame(t, len, &f, NULL) == SIGNET_ERR_FORMAT);
	free(t);
	/* No proof from 0; the most hashes; one more is refused. */
	CHECK(wire_build_checkpoint("n", 0, NULL, 0, &t, &len) == 0);
	CHECK(t != NULL &&
	    strcmp(t,
	        "{\"type\":\"checkpoint\",\"note\":\"n\",\"old\":0,"
	        "\"proof\":[]}") == 0);
	CHECK(wire_parse_agent_frame(t, len, &f, NULL) == 0 && f.cp.old == 0 &&
	    f.cp.nproof == 0);
	wire_frame_free(&f);
	free(t);
	CHECK(wire_build_checkpoint("n", 9, (const uint8_t(*)[32])proof,
	          MERKLE_PROOF_MAX, &t, &len) == 0);
	CHECK(wire_parse_agent_frame(t, len, &f, NULL) == 0 &&
	    f.cp.nproof == MERKLE_PROOF_MAX);
	wire_frame_free(&f);
	free(t);
	CHECK(wire_build_checkpoint("n", 9, (const uint8_t(*)[32])proof,
	          MERKLE_PROOF_MAX + 1, &t, &len) == 0);
	err_clear(&m);
	CHECK(wire_parse_agent_frame(t, len, &f, &m) == SIGNET_ERR_FORMAT &&
	    f.type == WIRE_NONE && f.cp.note == NULL);
	CHECK_CONTAINS(m.text, "proof holds 65 hashes, over 64");
	free(t);
	CHECK(wire_build_checkpoint(NULL, 0, NULL, 0, &t, &len) ==
	        SIGNET_ERR_INVALID_ARG &&
	    t == NULL);
	CHECK(wire_build_checkpoint("n", 1, NULL, 1, &t, &len) ==
	        SIGNET_ERR_INVALID_ARG &&
	    t == NULL);
	CHECK(wire_build_checkpoint("n", (uint64_t)1 << 53, NULL, 0, &t,
	          &len) == SIGNET_ERR_INVALID_ARG &&
	    t == NULL);
	/* A note of NOTE_SIZE_MAX bytes is carried; one more is not. */
	big = malloc(NOTE_SIZE_MAX + 2);
	CHECK(big != NULL);
	for (n = NOTE_SIZE_MAX; big != NULL && n <= NOTE_SIZE_MAX + 1; n++) {
		memset(big, 'a', n);
		big[n] = '\0';
		CHECK(wire_build_checkpoint(big, 0, NULL, 0, &t, &len) == 0);
		err_clear(&m);
		CHECKF(wire_parse_agent_frame(t, len, &f, &m) ==
		        (n == NOTE_SIZE_MAX ? 0 : SIGNET_ERR_FORMAT),
		    "note of %zu bytes: %s", n, m.text);
		CHECK(n == NOTE_SIZE_MAX ? f.cp.note_len == n :
		                           f.cp.note == NULL);
		wire_frame_free(&f);
		free(t);
	}
	free(big);

	CHECK(wire_build_checkpoint_ack(0, &t, &len) == 0);
	CHECK(t != NULL &&
	    strcmp(t, "{\"type\":\"checkpoint_ack\",\"size\":0}") == 0);
	free(t);
	CHECK(wire_build_checkpoint_ack(9007199254740991ULL, &t, &len) == 0);
	CHECK(wire_parse_server_frame(t, len, &f, NULL) == 0 &&
	    f.type == WIRE_CHECKPOINT_ACK && f.cp_size == 9007199254740991ULL);
	wire_frame_free(&f);
	CHECK(wire_parse_agent_frame(t, len, &f, NULL) == SIGNET_ERR_FORMAT);
	free(t);
	CHECK(wire_build_checkpoint_ack((uint64_t)1 << 53, &t, &len) ==
	        SIGNET_ERR_INVALID_ARG &&
	    t == NULL);
	CHECK(strcmp(wire_type_name(WIRE_CHECKPOINT), "checkpoint") == 0 &&
	    strcmp(wire_type_name(WIRE_CHECKPOINT_ACK), "checkpoint_ack") == 0);

	for (i = 0; i < sizeof(bad_cp) / sizeof(bad_cp[0]); i++) {
		err_clear(&m);
		CHECKF(wire_parse_agent_frame(bad_cp[i].text,
		           strlen(bad_cp[i].text), &f, &m) == SIGNET_ERR_FORMAT,
		    "checkpoint %s: refused", bad_cp[i].name);
		CHECKF(strstr(m.text, bad_cp[i].why) != NULL,
		    "checkpoint %s: \"%s\" lacks \"%s\"", bad_cp[i].name,
		    m.text, bad_cp[i].why);
		CHECKF(f.type == WIRE_NONE && f.cp.note == NULL &&
		        f.cp.nproof == 0 && f.cp.old == 0,
		    "checkpoint %s: left something", bad_cp[i].name);
	}
	for (i = 0; i < sizeof(bad_ack) / sizeof(bad_ack[0]); i++) {
		err_clear(&m);
		CHECKF(wire_parse_server_frame(bad_ack[i].text,
		           strlen(bad_ack[i].text), &f,
		           &m) == SIGNET_ERR_FORMAT,
		    "checkpoint_ack %s: refused", bad_ack[i].name);
		CHECKF(strstr(m.text, bad_ack[i].why) != NULL,
		    "checkpoint_ack %s: \"%s\" lacks \"%s\"", bad_ack[i].name,
		    m.text, bad_ack[i].why);
		CHECKF(f.cp_size == 0, "checkpoint_ack %s: left a size",
		    bad_ack[i].name);
		wire_frame_free(&f);
	}
}

static void
test_round_trips(void)
{
	struct wire_hello h;
	struct wire_frame f;
	struct wire_result_ack ack;
	struct inventory inv;
	char *t = NULL;
	size_t len = 0;

	/* A hello is not a frame after the hello, for either side. */
	memset(&h, 0, sizeof(h));
	memcpy(h.host_id, "web-01", 7);
	memcpy(h.agent_version, "1", 2);
	memcpy(h.docker_version, "1", 2);
	memcpy(h.result_key_id, KID, sizeof(KID));
	CHECK(wire_build_hello(&h, NULL, &t, &len) == 0);
	CHECK(len == strlen(t));
	CHECK(wire_parse_agent_frame(t, len, &f, NULL) == SIGNET_ERR_FORMAT);
	CHECK(wire_parse_server_frame(t, len, &f, NULL) == SIGNET_ERR_FORMAT);
	CHECK(f.type == WIRE_NONE);
	free(t);

	CHECK(wire_build_action("cGF5bG9hZA==", "c2ln", KID, &t, &len) == 0);
	CHECK(wire_parse_server_frame(t, len, &f, NULL) == 0);
	CHECK(f.type == WIRE_ACTION &&
	    strcmp(f.payload_b64, "cGF5bG9hZA==") == 0 &&
	    strcmp(f.sig_b64, "c2ln") == 0 && strcmp(f.key_id, KID) == 0);
	wire_frame_free(&f);
	CHECK(f.type == WIRE_NONE && f.payload_b64 == NULL);
	/* An action is the server's frame: an agent may not send one. */
	CHECK(wire_parse_agent_frame(t, len, &f, NULL) == SIGNET_ERR_FORMAT);
	free(t);

	CHECK(wire_build_result("cGF5bG9hZA==", "c2ln", &t, &len) == 0);
	CHECK(wire_parse_agent_frame(t, len, &f, NULL) == 0);
	CHECK(f.type == WIRE_ACTION_RESULT &&
	    strcmp(f.payload_b64, "cGF5bG9hZA==") == 0 &&
	    strcmp(f.sig_b64, "c2ln") == 0);
	wire_frame_free(&f);
	CHECK(wire_parse_server_frame(t, len, &f, NULL) == SIGNET_ERR_FORMAT);
	free(t);

	memcpy(ack.action_id, ID32, sizeof(ack.action_id));
	memcpy(ack.request_sha256, SHA64, sizeof(ack.request_sha256));
	CHECK(wire_build_result_ack(&ack, &t, &len) == 0);
	CHECK(strcmp(t,
	          "{\"type\":\"result_ack\",\"action_id\":\"" ID32
	          "\",\"request_sha256\":\"" SHA64 "\"}") == 0);
	CHECK(wire_parse_server_frame(t, len, &f, NULL) == 0);
	CHECK(f.type == WIRE_RESULT_ACK &&
	    memcmp(&f.ack, &ack, sizeof(ack)) == 0);
	wire_frame_free(&f);
	CHECK(wire_parse_agent_frame(t, len, &f, NULL) == SIGNET_ERR_FORMAT);
	free(t);

	memset(&inv, 0, sizeof(inv));
	CHECK(wire_build_inventory(&inv, &t, &len) == 0);
	CHECK(strcmp(t, "{\"type\":\"inventory\",\"containers\":[]}") == 0);
	CHECK(wire_parse_agent_frame(t, len, &f, NULL) == 0);
	CHECK(f.type == WIRE_INVENTORY && f.inv != NULL && f.inv->count == 0);
	wire_frame_free(&f);
	free(t);

	/* Builders take no NULL member. */
	CHECK(wire_build_action(NULL, "c2ln", KID, &t, &len) ==
	        SIGNET_ERR_INVALID_ARG &&
	    t == NULL);
	CHECK(
	    wire_build_result("x", NULL, &t, &len) == SIGNET_ERR_INVALID_ARG &&
	    t == NULL);
	CHECK(wire_type_name(WIRE_RESULT_ACK) != NULL &&
	    strcmp(wire_type_name(WIRE_RESULT_ACK), "result_ack") == 0);
	CHECK(wire_type_name(WIRE_NONE) == NULL);
}

enum side { HELLO, AGENT, SERVER };

struct row {
	const char *name;
	enum side side;
	const char *text;
	int code;            /* 0: accepted */
	const char *why;     /* substring of the message */
	enum wire_type type; /* SERVER: type even when refused */
};

static const struct row rows[] = {
	{ "hello: not JSON", HELLO, "{\"type\":", SIGNET_ERR_FORMAT,
	    "malformed", WIRE_NONE },
	{ "hello: another type first", HELLO,
	    "{\"type\":\"inventory\",\"containers\":[]}", SIGNET_ERR_FORMAT,
	    "must be hello", WIRE_NONE },
	{ "hello: the old form, no proof", HELLO,
	    "{\"type\":\"hello\",\"host_id\":\"web-01\",\"agent_version\":\"1\","
	    "\"docker_version\":\"1\",\"result_key_id\":\"" KID "\"}",
	    SIGNET_ERR_FORMAT, "older than this server", WIRE_NONE },
	{ "hello: unknown member", HELLO,
	    "{\"type\":\"hello\",\"payload\":\"e30=\",\"sig\":\"eA==\","
	    "\"admin\":true}",
	    SIGNET_ERR_FORMAT, "admin", WIRE_NONE },
	{ "hello: payload not a string", HELLO,
	    "{\"type\":\"hello\",\"payload\":1,\"sig\":\"eA==\"}",
	    SIGNET_ERR_FORMAT, "payload", WIRE_NONE },
	{ "hello: no sig, no proof", HELLO,
	    "{\"type\":\"hello\",\"payload\":\"e30=\"}",
	    SIGNET_ERR_BAD_SIGNATURE, "no sig", WIRE_NONE },
	{ "hello: sig not 64 bytes", HELLO,
	    "{\"type\":\"hello\",\"payload\":\"e30=\",\"sig\":\"eA==\"}",
	    SIGNET_ERR_FORMAT, "signature is not base64", WIRE_NONE },
	{ "server: challenge with a short nonce", SERVER,
	    "{\"type\":\"challenge\",\"nonce\":\"" ID32 "\"}",
	    SIGNET_ERR_FORMAT, "64 lowercase hex", WIRE_CHALLENGE },
	{ "server: challenge with an extra member", SERVER,
	    "{\"type\":\"challenge\",\"nonce\":\"" SHA64 "\",\"x\":1}",
	    SIGNET_ERR_FORMAT, "x", WIRE_CHALLENGE },
	{ "agent: a challenge is the server's", AGENT,
	    "{\"type\":\"challenge\",\"nonce\":\"" SHA64 "\"}",
	    SIGNET_ERR_FORMAT, "not accepted", WIRE_NONE },
	{ "agent: a second hello", AGENT,
	    "{\"type\":\"hello\",\"host_id\":\"web-01\",\"agent_version\":\"1\","
	    "\"docker_version\":\"1\",\"result_key_id\":\"" KID "\"}",
	    SIGNET_ERR_FORMAT, "not accepted", WIRE_NONE },
	{ "agent: unknown type, escaped", AGENT, "{\"type\":\"x\\u0001\"}",
	    SIGNET_ERR_FORMAT, "\\x01", WIRE_NONE },
	{ "agent: type not a string", AGENT, "{\"type\":1}", SIGNET_ERR_FORMAT,
	    "type", WIRE_NONE },
	{ "agent: result with a key_id", AGENT,
	    "{\"type\":\"action_result\",\"payload\":\"a\",\"sig\":\"b\","
	    "\"key_id\":\"" KID "\"}",
	    SIGNET_ERR_FORMAT, "key_id", WIRE_NONE },
	{ "agent: result with an empty sig", AGENT,
	    "{\"type\":\"action_result\",\"payload\":\"a\",\"sig\":\"\"}",
	    SIGNET_ERR_FORMAT, "sig must be 1..", WIRE_NONE },
	{ "agent: result payload not a string", AGENT,
	    "{\"type\":\"action_result\",\"payload\":[],\"sig\":\"b\"}",
	    SIGNET_ERR_FORMAT, "payload", WIRE_NONE },
	{ "agent: inventory without containers", AGENT,
	    "{\"type\":\"inventory\"}", SIGNET_ERR_FORMAT, "containers missing",
	    WIRE_NONE },
	{ "agent: inventory with a stray member", AGENT,
	    "{\"type\":\"inventory\",\"containers\":[],\"more\":1}",
	    SIGNET_ERR_FORMAT, "more", WIRE_NONE },
	{ "agent: duplicate key", AGENT,
	    "{\"type\":\"inventory\",\"type\":\"inventory\",\"containers\":[]}",
	    SIGNET_ERR_FORMAT, "duplicate", WIRE_NONE },
	{ "server: action, all members", SERVER,
	    "{\"type\":\"action\",\"payload\":\"a\",\"sig\":\"b\",\"key_id\":\"" KID
	    "\"}",
	    0, NULL, WIRE_ACTION },
	{ "server: action with a stray member keeps its type", SERVER,
	    "{\"type\":\"action\",\"payload\":\"a\",\"sig\":\"b\",\"key_id\":\"" KID
	    "\",\"priority\":\"high\"}",
	    SIGNET_ERR_FORMAT, "priority", WIRE_ACTION },
	{ "server: action key_id of the wrong type", SERVER,
	    "{\"type\":\"action\",\"payload\":\"a\",\"sig\":\"b\",\"key_id\":12}",
	    SIGNET_ERR_FORMAT, "key_id", WIRE_ACTION },
	{ "server: action key_id with a control byte", SERVER,
	    "{\"type\":\"action\",\"payload\":\"a\",\"sig\":\"b\",\"key_id\":"
	    "\"ab\\ncd\"}",
	    SIGNET_ERR_FORMAT, "control", WIRE_ACTION },
	{ "server: action key_id over 64 bytes", SERVER,
	    "{\"type\":\"action\",\"payload\":\"a\",\"sig\":\"b\",\"key_id\":\"" SHA64
	    "0\"}",
	    SIGNET_ERR_FORMAT, "key_id must be", WIRE_ACTION },
	{ "server: ack with a short id", SERVER,
	    "{\"type\":\"result_ack\",\"action_id\":\"0123\",\"request_sha256\":"
	    "\"" SHA64 "\"}",
	    SIGNET_ERR_FORMAT, "action id", WIRE_RESULT_ACK },
	{ "server: ack with an upper-case hash", SERVER,
	    "{\"type\":\"result_ack\",\"action_id\":\"" ID32 "\","
	    "\"request_sha256\":\"" ID32 "0123456789ABCDEF0123456789abcdef\"}",
	    SIGNET_ERR_FORMAT, "SHA-256", WIRE_RESULT_ACK },
	{ "server: ack without its hash", SERVER,
	    "{\"type\":\"result_ack\",\"action_id\":\"" ID32 "\"}",
	    SIGNET_ERR_FORMAT, "request_sha256", WIRE_RESULT_ACK },
	{ "server: an inventory is the agent's", SERVER,
	    "{\"type\":\"inventory\",\"containers\":[]}", SIGNET_ERR_FORMAT,
	    "unknown frame type", WIRE_NONE },
	{ "server: top level not an object", SERVER, "[1]", SIGNET_ERR_FORMAT,
	    "", WIRE_NONE },
};

static void
test_rows(void)
{
	struct wire_hello h;
	struct wire_frame f;
	struct err_msg m;
	size_t i;
	int r;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		const struct row *row = &rows[i];
		size_t len = strlen(row->text);

		err_clear(&m);
		memset(&f, 0, sizeof(f));
		if (row->side == HELLO)
			r = wire_parse_hello(row->text, len, &test_key.pub,
			    test_challenge, &h, &m);
		else if (row->side == AGENT)
			r = wire_parse_agent_frame(row->text, len, &f, &m);
		else
			r = wire_parse_server_frame(row->text, len, &f, &m);
		CHECKF(r == row->code, "%s: %d, wanted %d (%s)", row->name, r,
		    row->code, m.text);
		if (row->why != NULL)
			CHECKF(strstr(m.text, row->why) != NULL,
			    "%s: \"%s\" lacks \"%s\"", row->name, m.text,
			    row->why);
		if (row->side == SERVER)
			CHECKF(f.type == row->type, "%s: type %d, wanted %d",
			    row->name, (int)f.type, (int)row->type);
		if (r != 0 && row->side != SERVER)
			CHECKF(f.type == WIRE_NONE && f.payload_b64 == NULL &&
			        f.inv == NULL,
			    "%s: left something", row->name);
		wire_frame_free(&f);
	}
}

/* A hello over its bound is refused before it is parsed. */
static void
test_bounds(void)
{
	struct wire_hello h;
	struct err_msg m;
	char *big;

	big = malloc(WIRE_HELLO_MAX + 2);
	CHECK(big != NULL);
	if (big == NULL)
		return;
	memset(big, ' ', WIRE_HELLO_MAX + 1);
	big[WIRE_HELLO_MAX + 1] = '\0';
	CHECK(wire_parse_hello(big, WIRE_HELLO_MAX + 1, &test_key.pub,
	          test_challenge, &h, &m) == SIGNET_ERR_TOO_LARGE);
	free(big);
}

/* What a refused action frame claims, and nothing from what is not one. */
static void
test_peek(void)
{
	static const char frame[] = "{\"type\":\"action\",\"payload\":\"cA==\","
	                            "\"sig\":1,\"key_id\":\"" KID "\",\"x\":2}";
	static const char ctl[] =
	    "{\"payload\":\"cA==\",\"key_id\":\"a\\u0007\"}";
	char *p = NULL, *k = NULL;

	CHECK(wire_peek_action(frame, strlen(frame), &p, &k) == 0);
	CHECK(p != NULL && strcmp(p, "cA==") == 0);
	CHECK(k != NULL && strcmp(k, KID) == 0);
	free(p);
	free(k);
	CHECK(wire_peek_action(ctl, strlen(ctl), &p, &k) == 0);
	CHECK(p != NULL && k == NULL);
	free(p);
	CHECK(wire_peek_action("{\"payload\":", 11, &p, &k) == 0);
	CHECK(p == NULL && k == NULL);
}

int
main(void)
{
	CHECK(sodium_init() >= 0 && keys_generate(&test_key) == 0);
	randombytes_buf(test_challenge, sizeof(test_challenge));
	test_round_trips();
	test_hello_proof();
	test_outcome_frames();
	test_refusal_frames();
	test_roster_frames();
	test_checkpoint_frames();
	test_drain_frames();
	test_rows();
	test_bounds();
	test_peek();
	return test_finish("test_wire");
}
