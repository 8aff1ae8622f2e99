/* SPDX-License-Identifier: ISC */
/*
 * Unit tests of common/outcome: a signed outcome verifies and reads back
 * whole; a bad signature, another key, a result's context and every
 * malformed payload are refused, each saying what is wrong; a state is
 * read strictly. (The comparison is tested with the executor, in
 * test_executor_outcome.c.)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "envelope.h"
#include "outcome.h"
#include "testlib.h"

#define ID32 "0123456789abcdef0123456789abcdef"
#define SHA64 ID32 ID32

static void
sample(struct outcome_payload *p)
{
	memset(p, 0, sizeof(*p));
	memcpy(p->action_id, ID32, 33);
	(void)snprintf(p->host_id, sizeof(p->host_id), "web-01");
	memcpy(p->container_id, SHA64, 65);
	memcpy(p->request_sha256, SHA64, 65);
	p->action = ENVELOPE_ACTION_RESTART;
	p->observed = OUTCOME_RAN;
	(void)snprintf(p->detail, sizeof(p->detail), "StartedAt changed");
	p->has_before = true;
	p->before.running = true;
	p->before.pid = 10;
	(void)snprintf(p->before.started_at, sizeof(p->before.started_at),
	    "2026-12-05T01:36:40.123456789Z");
	(void)snprintf(p->before.finished_at, sizeof(p->before.finished_at),
	    "0001-01-01T00:00:00Z");
	p->observed_at = 1764000000000;
}

/* Signs json (any bytes) under ctx with key into env. */
static void
sign_raw(const char *ctx, const char *json, const struct keys_secret *key,
    struct envelope *env)
{
	CHECK(envelope_sign(ctx, json, strlen(json), key, env) == 0);
}

static void
test_round_trip(const struct keys_secret *key, const struct keys_secret *other)
{
	struct outcome_payload p, q;
	struct envelope env;
	struct err_msg m;

	sample(&p);
	CHECK(outcome_sign(&p, key, &env) == 0);
	CHECKF(outcome_verify(&key->pub, env.payload_b64, env.sig_b64, &q, NULL,
	           NULL, &m) == 0,
	    "%s", m.text);
	CHECK(strcmp(q.action_id, ID32) == 0 && q.observed == OUTCOME_RAN &&
	    q.has_before && !q.has_after && q.before.pid == 10 &&
	    strcmp(q.before.started_at, p.before.started_at) == 0 &&
	    q.observed_at == p.observed_at && q.action == p.action);
	/* Another key: refused. */
	CHECK(outcome_verify(&other->pub, env.payload_b64, env.sig_b64, &q,
	          NULL, NULL, &m) == SIGNET_ERR_BAD_SIGNATURE);
	envelope_free(&env);
	/* Not signable: a state time that dockerd would not give. */
	(void)snprintf(p.before.started_at, sizeof(p.before.started_at),
	    "now\n");
	CHECK(outcome_sign(&p, key, &env) == SIGNET_ERR_INVALID_ARG);
}

/* The same document signed as a result does not pass as an outcome. */
static void
test_context(const struct keys_secret *key)
{
	struct outcome_payload p, q;
	struct envelope env, as_result;
	struct err_msg m;
	uint8_t *raw = NULL;
	size_t len = 0;

	sample(&p);
	CHECK(outcome_sign(&p, key, &env) == 0);
	CHECK(envelope_open(OUTCOME_CTX, env.payload_b64, env.sig_b64,
	          &key->pub, &raw, &len, &m) == 0);
	if (raw != NULL) {
		char *json = strndup((const char *)raw, len);

		CHECK(json != NULL);
		if (json != NULL) {
			sign_raw(ENVELOPE_CTX_RESULT, json, key, &as_result);
			CHECK(outcome_verify(&key->pub, as_result.payload_b64,
			          as_result.sig_b64, &q, NULL, NULL,
			          &m) == SIGNET_ERR_BAD_SIGNATURE);
			envelope_free(&as_result);
		}
		free(json);
	}
	free(raw);
	envelope_free(&env);
}

static const struct {
	const char *name, *json, *says;
} bad[] = {
	{ "extra member",
	    "{\"v\":1,\"action_id\":\"" ID32 "\",\"host_id\":\"web-01\","
	    "\"container_id\":\"" SHA64 "\",\"action\":\"RESTART\","
	    "\"request_sha256\":\"" SHA64 "\",\"observed\":\"ran\","
	    "\"detail\":\"\",\"before\":null,\"after\":null,"
	    "\"observed_at\":1,\"x\":1}",
	    "x" },
	{ "unknown observed",
	    "{\"v\":1,\"action_id\":\"" ID32 "\",\"host_id\":\"web-01\","
	    "\"container_id\":\"" SHA64 "\",\"action\":\"RESTART\","
	    "\"request_sha256\":\"" SHA64 "\",\"observed\":\"maybe\","
	    "\"detail\":\"\",\"before\":null,\"after\":null,"
	    "\"observed_at\":1}",
	    "observed" },
	{ "missing after",
	    "{\"v\":1,\"action_id\":\"" ID32 "\",\"host_id\":\"web-01\","
	    "\"container_id\":\"" SHA64 "\",\"action\":\"RESTART\","
	    "\"request_sha256\":\"" SHA64 "\",\"observed\":\"ran\","
	    "\"detail\":\"\",\"before\":null,\"observed_at\":1}",
	    "after" },
	{ "state with a bad time",
	    "{\"v\":1,\"action_id\":\"" ID32 "\",\"host_id\":\"web-01\","
	    "\"container_id\":\"" SHA64 "\",\"action\":\"RESTART\","
	    "\"request_sha256\":\"" SHA64 "\",\"observed\":\"ran\","
	    "\"detail\":\"\",\"before\":{\"running\":true,\"pid\":1,"
	    "\"restart_count\":0,\"started_at\":\"a b\","
	    "\"finished_at\":\"0Z\"},\"after\":null,\"observed_at\":1}",
	    "started_at" },
	{ "state with a negative pid",
	    "{\"v\":1,\"action_id\":\"" ID32 "\",\"host_id\":\"web-01\","
	    "\"container_id\":\"" SHA64 "\",\"action\":\"RESTART\","
	    "\"request_sha256\":\"" SHA64 "\",\"observed\":\"ran\","
	    "\"detail\":\"\",\"before\":null,\"after\":{\"running\":true,"
	    "\"pid\":-1,\"restart_count\":0,\"started_at\":\"1Z\","
	    "\"finished_at\":\"0Z\"},\"observed_at\":1}",
	    "pid" },
	{ "short action id",
	    "{\"v\":1,\"action_id\":\"0123\",\"host_id\":\"web-01\","
	    "\"container_id\":\"" SHA64 "\",\"action\":\"RESTART\","
	    "\"request_sha256\":\"" SHA64 "\",\"observed\":\"ran\","
	    "\"detail\":\"\",\"before\":null,\"after\":null,"
	    "\"observed_at\":1}",
	    "action_id" },
};

static void
test_malformed(const struct keys_secret *key)
{
	struct outcome_payload q;
	struct envelope env;
	struct err_msg m;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		sign_raw(OUTCOME_CTX, bad[i].json, key, &env);
		err_clear(&m);
		CHECKF(outcome_verify(&key->pub, env.payload_b64, env.sig_b64,
		           &q, NULL, NULL, &m) == SIGNET_ERR_FORMAT &&
		        strstr(m.text, bad[i].says) != NULL,
		    "%s: %s", bad[i].name, m.text);
		envelope_free(&env);
	}
}

int
main(void)
{
	struct keys_secret key, other;

	CHECK(sodium_init() >= 0);
	CHECK(keys_generate(&key) == 0 && keys_generate(&other) == 0);
	test_round_trip(&key, &other);
	test_context(&key);
	test_malformed(&key);
	keys_secret_wipe(&key);
	keys_secret_wipe(&other);
	return test_finish("test_outcome");
}
