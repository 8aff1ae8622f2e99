/* SPDX-License-Identifier: ISC */
/*
 * Unit tests of common/wire: every frame type built and parsed back, and a
 * table of hostile frames, each refused by the parser for its direction
 * with a message naming what is wrong.
 */
#include <stdlib.h>
#include <string.h>

#include "testlib.h"
#include "wire.h"

#define ID32 "0123456789abcdef0123456789abcdef"
#define SHA64 ID32 ID32
#define KID "0123456789abcdef"

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

static void
test_round_trips(void)
{
	struct wire_hello h;
	struct wire_frame f;
	struct wire_result_ack ack;
	struct inventory inv;
	char *t = NULL;
	size_t len = 0;

	CHECK(wire_build_hello("web-01", "0.1.0", "20.10.24", KID, &t, &len) ==
	    0);
	CHECK(len == strlen(t));
	CHECK(wire_parse_hello(t, len, &h, NULL) == 0);
	CHECK(strcmp(h.host_id, "web-01") == 0 &&
	    strcmp(h.agent_version, "0.1.0") == 0 &&
	    strcmp(h.docker_version, "20.10.24") == 0 &&
	    strcmp(h.result_key_id, KID) == 0);
	/* A hello is not a frame after the hello, for either side. */
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
	{ "hello: unknown member", HELLO,
	    "{\"type\":\"hello\",\"host_id\":\"web-01\",\"agent_version\":\"1\","
	    "\"docker_version\":\"1\",\"result_key_id\":\"" KID "\","
	    "\"admin\":true}",
	    SIGNET_ERR_FORMAT, "admin", WIRE_NONE },
	{ "hello: bad host id", HELLO,
	    "{\"type\":\"hello\",\"host_id\":\"Web 01\",\"agent_version\":\"1\","
	    "\"docker_version\":\"1\",\"result_key_id\":\"" KID "\"}",
	    SIGNET_ERR_FORMAT, "valid host id", WIRE_NONE },
	{ "hello: version with a space", HELLO,
	    "{\"type\":\"hello\",\"host_id\":\"web-01\",\"agent_version\":\"1 2\","
	    "\"docker_version\":\"1\",\"result_key_id\":\"" KID "\"}",
	    SIGNET_ERR_FORMAT, "agent_version", WIRE_NONE },
	{ "hello: key id in capitals", HELLO,
	    "{\"type\":\"hello\",\"host_id\":\"web-01\",\"agent_version\":\"1\","
	    "\"docker_version\":\"1\",\"result_key_id\":\"0123456789ABCDEF\"}",
	    SIGNET_ERR_FORMAT, "key id", WIRE_NONE },
	{ "hello: missing member", HELLO,
	    "{\"type\":\"hello\",\"host_id\":\"web-01\",\"agent_version\":\"1\","
	    "\"docker_version\":\"1\"}",
	    SIGNET_ERR_FORMAT, "result_key_id", WIRE_NONE },
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
			r = wire_parse_hello(row->text, len, &h, &m);
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
	CHECK(wire_parse_hello(big, WIRE_HELLO_MAX + 1, &h, &m) ==
	    SIGNET_ERR_TOO_LARGE);
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
	test_round_trips();
	test_outcome_frames();
	test_rows();
	test_bounds();
	test_peek();
	return test_finish("test_wire");
}
