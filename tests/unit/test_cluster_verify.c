/* SPDX-License-Identifier: ISC */
/*
 * Tests for server/cluster_verify: a stored action frame is taken only
 * when it verifies under the action key, a stored result frame only when
 * it verifies under the host's result keys and answers the action sent;
 * every other row of the cluster database is refused with its reason.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "cluster_verify.h"
#include "testlib.h"

#define HOST "web-01"
#define CID "aaaaaaaaaaaa1111111111111111111111111111111111111111111111111111"

static struct keys_secret action_key, other_key, agent_key, old_agent_key;

static void
payload(struct envelope_action_payload *p, unsigned n)
{
	memset(p, 0, sizeof(*p));
	(void)snprintf(p->action_id, sizeof(p->action_id), "%032x", n);
	(void)snprintf(p->host_id, sizeof(p->host_id), HOST);
	(void)snprintf(p->container_id, sizeof(p->container_id), CID);
	p->action = ENVELOPE_ACTION_STOP;
	(void)snprintf(p->reason, sizeof(p->reason), "reason %u", n);
	(void)snprintf(p->requested_by, sizeof(p->requested_by), "alice");
	p->issued_at = 1700000000000;
	p->expires_at = 1700000040000;
}

/* The action frame of action n signed with key; sha its payload's. */
static char *
action_frame(unsigned n, const struct keys_secret *key, char sha[65])
{
	struct envelope_action_payload p;
	struct envelope env = { NULL, NULL, "" };
	char *json = NULL, *frame = NULL;
	size_t len = 0;

	payload(&p, n);
	CHECK(envelope_action_encode(&p, &json) == 0);
	envelope_sha256_hex(json, strlen(json), sha);
	CHECK(envelope_sign(ENVELOPE_CTX_ACTION, json, strlen(json), key,
	          &env) == 0);
	CHECK(wire_build_action(env.payload_b64, env.sig_b64, env.key_id,
	          &frame, &len) == 0);
	envelope_free(&env);
	free(json);
	return frame;
}

/* What the origin holds of action n (sent with request_sha256 sha). */
static void
sent_of(unsigned n, const char *sha, struct action_info *a)
{
	memset(a, 0, sizeof(*a));
	(void)snprintf(a->action_id, sizeof(a->action_id), "%032x", n);
	(void)snprintf(a->host_id, sizeof(a->host_id), HOST);
	(void)snprintf(a->container_id, sizeof(a->container_id), CID);
	a->action = ENVELOPE_ACTION_STOP;
	(void)snprintf(a->request_sha256, sizeof(a->request_sha256), "%s", sha);
	a->requested_at = 1700000000000;
}

/* The result frame of action n (answering sha) signed with key. */
static char *
result_frame(unsigned n, const char *host, const char *sha,
    const struct keys_secret *key)
{
	struct envelope_result_payload r;
	struct envelope env = { NULL, NULL, "" };
	char *frame = NULL;
	size_t len = 0;

	memset(&r, 0, sizeof(r));
	(void)snprintf(r.action_id, sizeof(r.action_id), "%032x", n);
	(void)snprintf(r.host_id, sizeof(r.host_id), "%s", host);
	(void)snprintf(r.container_id, sizeof(r.container_id), CID);
	r.action = ENVELOPE_ACTION_STOP;
	r.status = ENVELOPE_STATUS_SUCCESS;
	r.docker_status = 204;
	r.started_at = 1700000001000;
	r.finished_at = 1700000002000;
	(void)snprintf(r.request_sha256, sizeof(r.request_sha256), "%s", sha);
	CHECK(envelope_result_sign(&r, key, &env) == 0);
	CHECK(
	    wire_build_result(env.payload_b64, env.sig_b64, &frame, &len) == 0);
	envelope_free(&env);
	return frame;
}

static int
action_rc(const struct keys_pubset *pub, const char *frame, const char *want)
{
	struct envelope_action_payload *p = NULL;
	struct wire_frame parts;
	struct err_msg m;
	char sha[65];
	int r;

	err_clear(&m);
	r = cluster_verify_action(pub, frame, &p, sha, &parts, &m);
	if (r == 0) {
		CHECK(p != NULL && strcmp(p->host_id, HOST) == 0);
		wire_frame_free(&parts);
		free(p);
	} else {
		CHECK(p == NULL && parts.payload_b64 == NULL);
		if (want != NULL)
			CHECK_CONTAINS(m.text, want);
	}
	return r;
}

static void
test_action(void)
{
	struct keys_pubset pub = { 1, { { { 0 }, "" } } };
	struct envelope_action_payload *p = NULL;
	struct wire_frame parts;
	struct err_msg m;
	char sha[65], got[65], *frame, *other, *bad, *big;

	pub.keys[0] = action_key.pub;
	frame = action_frame(1, &action_key, sha);
	CHECK(cluster_verify_action(&pub, frame, &p, got, &parts, &m) == 0);
	CHECK(p != NULL &&
	    strcmp(p->action_id, "00000000000000000000000000000001") == 0);
	CHECK(strcmp(got, sha) == 0);
	CHECK(parts.payload_b64 != NULL && parts.sig_b64 != NULL &&
	    strcmp(parts.key_id, action_key.pub.id) == 0);
	wire_frame_free(&parts);
	free(p);

	CHECK(action_rc(&pub, NULL, "empty") == SIGNET_ERR_FORMAT);
	CHECK(action_rc(&pub, "", "empty") == SIGNET_ERR_FORMAT);
	CHECK(action_rc(&pub, "not a frame", "stored action frame") ==
	    SIGNET_ERR_FORMAT);
	CHECK(action_rc(&pub,
	          "{\"type\":\"result_ack\",\"action_id\":"
	          "\"00000000000000000000000000000001\","
	          "\"request_sha256\":\"" CID "\"}",
	          "not an action frame") == SIGNET_ERR_FORMAT);
	/* Signed with another key: its key_id is not the action key's. */
	other = action_frame(1, &other_key, sha);
	CHECK(action_rc(&pub, other, "does not verify") ==
	    SIGNET_ERR_BAD_SIGNATURE);
	/* One byte of the signature changed. */
	bad = strdup(frame);
	CHECK(bad != NULL);
	if (bad != NULL) {
		char *s = strstr(bad, "\"sig\":\"");

		CHECK(s != NULL);
		if (s != NULL)
			s[7] = s[7] == 'A' ? 'B' : 'A';
		CHECK(action_rc(&pub, bad, "does not verify") ==
		    SIGNET_ERR_BAD_SIGNATURE);
	}
	/* Over the bound: refused before it is parsed. */
	big = malloc(CLUSTER_VERIFY_FRAME_MAX + 2);
	CHECK(big != NULL);
	if (big != NULL) {
		memset(big, ' ', CLUSTER_VERIFY_FRAME_MAX + 1);
		big[CLUSTER_VERIFY_FRAME_MAX + 1] = '\0';
		CHECK(action_rc(&pub, big, "over") == SIGNET_ERR_FORMAT);
	}
	free(big);
	free(bad);
	free(other);
	free(frame);
}

static int
result_rc(const struct keyset *ks, const struct action_info *sent,
    const char *frame, const char *want)
{
	struct envelope_result_payload res;
	struct wire_frame parts;
	struct err_msg m;
	char key_id[KEYS_ID_LEN + 1];
	int r;

	err_clear(&m);
	r = cluster_verify_result(ks, sent, frame, &res, &parts, key_id, &m);
	if (r == 0)
		wire_frame_free(&parts);
	else {
		CHECK(parts.payload_b64 == NULL);
		if (want != NULL)
			CHECK_CONTAINS(m.text, want);
	}
	return r;
}

static void
test_result(void)
{
	struct keyset ks, old;
	struct action_info sent, sent2;
	struct envelope_result_payload res;
	struct wire_frame parts;
	struct err_msg m;
	char sha[65], sha2[65], key_id[KEYS_ID_LEN + 1];
	char *a1, *a2, *good, *other, *foreign, *wrong_host, *by_old, *bad;

	memset(&ks, 0, sizeof(ks));
	(void)snprintf(ks.host, sizeof(ks.host), HOST);
	ks.has_current = true;
	ks.count = 2;
	ks.keys[0].pub = agent_key.pub;
	ks.keys[1].pub = old_agent_key.pub;
	ks.keys[1].retired = true;
	ks.keys[1].retired_at = 1700000000 + 3600; /* after the action */
	(void)snprintf(ks.keys[1].stamp, sizeof(ks.keys[1].stamp),
	    "20231114T231320Z");
	a1 = action_frame(1, &action_key, sha);
	a2 = action_frame(2, &action_key, sha2);
	sent_of(1, sha, &sent);
	sent_of(2, sha2, &sent2);

	good = result_frame(1, HOST, sha, &agent_key);
	CHECK(cluster_verify_result(&ks, &sent, good, &res, &parts, key_id,
	          &m) == 0);
	CHECK(
	    res.status == ENVELOPE_STATUS_SUCCESS && res.docker_status == 204);
	CHECK(strcmp(key_id, agent_key.pub.id) == 0);
	wire_frame_free(&parts);

	CHECK(result_rc(&ks, &sent, NULL, "empty") == SIGNET_ERR_FORMAT);
	CHECK(result_rc(&ks, &sent, "{", "stored result frame") ==
	    SIGNET_ERR_FORMAT);
	CHECK(result_rc(&ks, &sent, a1, "stored result frame") ==
	    SIGNET_ERR_FORMAT);
	/* A valid result of another action: it does not answer this one. */
	other = result_frame(2, HOST, sha2, &agent_key);
	CHECK(result_rc(&ks, &sent2, other, NULL) == 0);
	CHECK(result_rc(&ks, &sent, other, "does not answer") ==
	    SIGNET_ERR_CHAIN);
	/* The right id, but other action bytes (request_sha256). */
	bad = result_frame(1, HOST, sha2, &agent_key);
	CHECK(
	    result_rc(&ks, &sent, bad, "does not answer") == SIGNET_ERR_CHAIN);
	free(bad);
	/* Signed by a key that is not the host's. */
	foreign = result_frame(1, HOST, sha, &other_key);
	CHECK(result_rc(&ks, &sent, foreign, "does not verify") ==
	    SIGNET_ERR_BAD_SIGNATURE);
	/* Another host's signed result. */
	wrong_host = result_frame(1, "web-02", sha, &agent_key);
	CHECK(result_rc(&ks, &sent, wrong_host, "does not answer") ==
	    SIGNET_ERR_CHAIN);
	/* A retired key: only for an action sent before it was retired. */
	by_old = result_frame(1, HOST, sha, &old_agent_key);
	CHECK(result_rc(&ks, &sent, by_old, NULL) == 0);
	old = ks;
	old.keys[1].retired_at = 1700000000 - 60;
	CHECK(result_rc(&old, &sent, by_old, "retired") ==
	    SIGNET_ERR_BAD_SIGNATURE);
	/* No key at all. */
	old.count = 0;
	CHECK(result_rc(&old, &sent, good, "does not verify") ==
	    SIGNET_ERR_BAD_SIGNATURE);
	/* One character of the signature changed. */
	bad = strdup(good);
	CHECK(bad != NULL);
	if (bad != NULL) {
		char *s = strstr(bad, "\"sig\":\"");

		CHECK(s != NULL);
		if (s != NULL)
			s[7] = s[7] == 'A' ? 'B' : 'A';
		CHECK(result_rc(&ks, &sent, bad, "does not verify") ==
		    SIGNET_ERR_BAD_SIGNATURE);
	}
	free(bad);
	free(by_old);
	free(wrong_host);
	free(foreign);
	free(other);
	free(good);
	free(a1);
	free(a2);
}

int
main(void)
{
	if (sodium_init() < 0)
		return 1;
	CHECK(keys_generate(&action_key) == 0 &&
	    keys_generate(&other_key) == 0 && keys_generate(&agent_key) == 0 &&
	    keys_generate(&old_agent_key) == 0);
	test_action();
	test_result();
	keys_secret_wipe(&action_key);
	keys_secret_wipe(&other_key);
	keys_secret_wipe(&agent_key);
	keys_secret_wipe(&old_agent_key);
	return test_finish("test_cluster_verify");
}
