/* SPDX-License-Identifier: ISC */
/*
 * The test world the executor tests share (test_executor.c,
 * test_executor_queue.c): real keys, a real policy file and a real audit
 * log in a mkdtemp directory; dockerd and the clock stand in through the
 * executor's ops (fake_ops, which record every act). setup() builds a
 * world with an open executor, teardown() removes it; base_action and
 * signed_frame make the frames the tests send; verify_log checks the audit
 * log they left. Static functions and data: include it from those tests
 * only, and set now0 before setup().
 */
#ifndef SIGNET_EXECUTOR_WORLD_H
#define SIGNET_EXECUTOR_WORLD_H

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "audit.h"
#include "envelope.h"
#include "executor.h"
#include "jsonx.h"
#include "keys.h"
#include "policy_store.h"
#include "testlib.h"

/* The fake clock starts at the real one: the audit writer stamps records
 * with the real time, and reloading keeps results by their records' age. */
static int64_t now0;
#define NOW now0
#define HOST "web-01"
#define HEX32(c) c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c
#define C_WEB HEX32("a") HEX32("a")
#define C_DB HEX32("b") HEX32("b")
#define C_GONE HEX32("c") HEX32("c")
#define C_BROKEN HEX32("d") HEX32("d")
#define C_STALL HEX32("f") HEX32("f") /* dockerd gets the call, no answer */
#define C_DOWN HEX32("1") HEX32("1")  /* dockerd not reached */
#define C_WEB2 HEX32("e") HEX32("e")

static const char policy_json[] =
    "{ \"host_id\": \"web-01\", \"rules\": [ { \"match\": { \"name\": "
    "\"web-*\", \"labels\": { \"tier\": \"frontend\" } }, \"actions\": "
    "[\"START\", \"STOP\", \"RESTART\"], \"operators\": [\"alice\"], "
    "\"min_reason_length\": 5, \"accept_relay_signed\": true } ] }\n";

/* One ops.act call, for the workers' ordering test. */
struct act_span {
	char id[65];
	enum envelope_action action;
	int64_t start_us, end_us;
};

#define SPANS_MAX 16

/* The stand-ins for dockerd and the clock (acts come from any worker). */
struct fake {
	int64_t now;
	unsigned acts; /* ops.act calls (atomic) */
	char last_id[65];
	enum envelope_action last_action;
	int last_timeout;
	long last_limit_ms;         /* the limit of the last act */
	bool state_down;            /* C_STALL's state unanswered */
	struct outcome_state stall; /* C_STALL's state (under mu) */
	unsigned delay_us;          /* each act takes this long */
	pthread_mutex_t mu;         /* guards spans */
	struct act_span spans[SPANS_MAX];
	size_t nspans;
};

static int64_t
mono_us(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int fake_state(void *arg, const char *id, struct outcome_state *out,
    struct err_msg *msg);

/* dockerd's inspect: the row, and the state fake_state would give. */
static int
fake_inspect(void *arg, const char *id, struct inventory **out,
    struct outcome_state *state, bool *has_state, struct err_msg *msg)
{
	char json[512];
	const char *name, *tier;
	struct err_msg sm;

	*out = NULL;
	*has_state = false;
	if (strcmp(id, C_WEB) == 0 || strcmp(id, C_BROKEN) == 0 ||
	    strcmp(id, C_WEB2) == 0 || strcmp(id, C_STALL) == 0 ||
	    strcmp(id, C_DOWN) == 0) {
		name = strcmp(id, C_WEB) == 0 ? "/web-1" :
		    strcmp(id, C_WEB2) == 0   ? "/web-2" :
		                                "/web-broken";
		tier = "frontend";
	} else if (strcmp(id, C_DB) == 0) {
		name = "/db-1";
		tier = "backend";
	} else {
		return err_set(msg, SIGNET_ERR_NOT_FOUND,
		    "dockerd GET /containers/%.12s/json: HTTP 404", id);
	}
	(void)snprintf(json, sizeof(json),
	    "[{\"Id\":\"%s\",\"Names\":[\"%s\"],"
	    "\"Image\":\"signet-test/busybox:1\",\"State\":\"running\","
	    "\"Status\":\"\",\"Labels\":{\"tier\":\"%s\"},"
	    "\"Created\":1700000000}]",
	    id, name, tier);
	err_clear(&sm);
	*has_state = fake_state(arg, id, state, &sm) == 0;
	return inventory_from_docker(json, strlen(json), out, msg);
}

static int
fake_act(void *arg, const char *id, enum envelope_action action,
    int stop_timeout, long limit_ms, long *http_status, bool *maybe_acted,
    struct err_msg *msg)
{
	struct fake *f = arg;
	int64_t start = mono_us();

	*maybe_acted = false;
	f->last_limit_ms = limit_ms;
	__atomic_add_fetch(&f->acts, 1, __ATOMIC_SEQ_CST);
	if (f->delay_us > 0)
		(void)usleep(f->delay_us);
	(void)pthread_mutex_lock(&f->mu);
	memcpy(f->last_id, id, 65);
	f->last_action = action;
	f->last_timeout = stop_timeout;
	if (f->nspans < SPANS_MAX) {
		struct act_span *sp = &f->spans[f->nspans++];

		memcpy(sp->id, id, 65);
		sp->action = action;
		sp->start_us = start;
		sp->end_us = mono_us();
	}
	(void)pthread_mutex_unlock(&f->mu);
	if (strcmp(id, C_STALL) == 0) {
		*maybe_acted = true;
		return err_set(msg, SIGNET_ERR_UNAVAILABLE,
		    "dockerd POST restart: no answer by the action's "
		    "expires_at (%ld ms); the action may still happen",
		    limit_ms);
	}
	if (strcmp(id, C_DOWN) == 0)
		return err_set(msg, SIGNET_ERR_UNAVAILABLE,
		    "dockerd POST restart: cannot connect to /run/docker.sock "
		    "(is dockerd running?)");
	if (strcmp(id, C_BROKEN) == 0) {
		*http_status = 500;
		return err_set(msg, SIGNET_ERR_IO,
		    "dockerd POST restart: HTTP 500 \"boom\"");
	}
	*http_status = action == ENVELOPE_ACTION_START ? 304 : 204;
	return 0;
}

static int64_t
fake_now(void *arg)
{
	return ((struct fake *)arg)->now;
}

/*
 * dockerd's State: C_STALL's is stall (tests change it between polls),
 * unanswered while state_down; every other container runs since 2024.
 */
static int
fake_state(void *arg, const char *id, struct outcome_state *out,
    struct err_msg *msg)
{
	struct fake *f = arg;

	memset(out, 0, sizeof(*out));
	if (strcmp(id, C_STALL) == 0) {
		if (__atomic_load_n(&f->state_down, __ATOMIC_SEQ_CST))
			return err_set(msg, SIGNET_ERR_UNAVAILABLE,
			    "dockerd GET /containers/%.12s/json: Operation "
			    "timed out",
			    id);
		(void)pthread_mutex_lock(&f->mu);
		*out = f->stall;
		(void)pthread_mutex_unlock(&f->mu);
		return 0;
	}
	out->running = true;
	out->pid = 4242;
	(void)snprintf(out->started_at, sizeof(out->started_at),
	    "2024-05-01T12:00:00.5Z");
	(void)snprintf(out->finished_at, sizeof(out->finished_at),
	    "0001-01-01T00:00:00Z");
	return 0;
}

static const struct executor_ops fake_ops = { fake_inspect, fake_act, fake_now,
	fake_state };

/* ---- fixtures ---- */

struct world {
	char dir[64];
	char log[128];
	char policy[128];
	char agents[128];
	struct keys_secret action_key, other_key, result_key;
	struct keys_pubset pinned;
	struct policy_store *store;
	struct audit_writer *audit;
	struct executor *ex;
	struct fake fake;
};

/*
 * Opens w->ex over the world (stop timeout in seconds; on_result may be
 * NULL). Returns executor_open's code.
 */
static int
open_executor_with(struct world *w, int stop_timeout, void (*on_result)(void *))
{
	struct executor_config c;
	struct err_msg m;
	int r;

	memset(&c, 0, sizeof(c));
	c.host_id = HOST;
	c.action_keys = &w->pinned;
	c.result_key = &w->result_key;
	c.policy = w->store;
	c.audit = w->audit;
	c.audit_path = w->log;
	c.stop_timeout = stop_timeout;
	c.ops = &fake_ops;
	c.ops_arg = &w->fake;
	c.on_result = on_result;
	r = executor_open(&c, &w->ex, &m);
	CHECKF(r == 0, "executor_open: %s", m.text);
	return r;
}

static int
open_executor(struct world *w)
{
	return open_executor_with(w, 3, NULL);
}

static void
setup(struct world *w)
{
	struct err_msg m;
	char path[192];
	FILE *f;

	memset(w, 0, sizeof(*w));
	(void)snprintf(w->dir, sizeof(w->dir), "/tmp/signet-test-exec.XXXXXX");
	CHECK(mkdtemp(w->dir) != NULL);
	(void)snprintf(w->log, sizeof(w->log), "%s/agent-audit.log", w->dir);
	(void)snprintf(w->policy, sizeof(w->policy), "%s/policy.json", w->dir);
	(void)snprintf(w->agents, sizeof(w->agents), "%s/agents", w->dir);
	CHECK(mkdir(w->agents, 0700) == 0);
	f = fopen(w->policy, "w");
	CHECK(f != NULL);
	if (f != NULL) {
		CHECK(fputs(policy_json, f) >= 0);
		CHECK(fclose(f) == 0);
	}
	CHECK(chmod(w->policy, 0644) == 0);
	CHECK(keys_generate(&w->action_key) == 0);
	CHECK(keys_generate(&w->other_key) == 0);
	CHECK(keys_generate(&w->result_key) == 0);
	CHECK(keys_write_pair(w->agents, HOST, &w->result_key, &m) == 0);
	(void)snprintf(path, sizeof(path), "%s/" HOST ".key", w->agents);
	CHECK(unlink(path) == 0);
	w->pinned.count = 1;
	w->pinned.keys[0] = w->action_key.pub;
	CHECKF(policy_store_open(w->policy, HOST, &w->store, &m) == 0,
	    "policy: %s", m.text);
	CHECKF(audit_open(w->log, &w->result_key, &w->audit, &m) == 0,
	    "audit: %s", m.text);
	w->fake.now = NOW;
	CHECK(pthread_mutex_init(&w->fake.mu, NULL) == 0);
	(void)open_executor(w);
}

/* libsodium, the tests' clock (now0) and a world with an open executor. */
static void
world_begin(struct world *w)
{
	struct timespec ts;

	CHECK(sodium_init() >= 0);
	CHECK(clock_gettime(CLOCK_REALTIME, &ts) == 0);
	now0 = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
	setup(w);
}

static void
teardown(struct world *w)
{
	char cmd[128];

	executor_free(w->ex);
	(void)pthread_mutex_destroy(&w->fake.mu);
	audit_close(w->audit);
	policy_store_free(w->store);
	keys_secret_wipe(&w->action_key);
	keys_secret_wipe(&w->other_key);
	keys_secret_wipe(&w->result_key);
	(void)snprintf(cmd, sizeof(cmd), "rm -rf %s", w->dir);
	CHECK(system(cmd) == 0);
}

/* ---- frames ---- */

static void
base_action(struct envelope_action_payload *a, unsigned n)
{
	memset(a, 0, sizeof(*a));
	(void)snprintf(a->action_id, sizeof(a->action_id), "%032x", n);
	memcpy(a->host_id, HOST, sizeof(HOST));
	memcpy(a->container_id, C_WEB, 65);
	a->action = ENVELOPE_ACTION_RESTART;
	memcpy(a->reason, "deploy fix 123", 15);
	memcpy(a->requested_by, "alice", 6);
	a->issued_at = NOW - 1000;
	a->expires_at = NOW + 60000;
}

static char *
frame_text(const char *payload_b64, const char *sig_b64, const char *key_id)
{
	cJSON *o = cJSON_CreateObject();
	char *s;

	cJSON_AddStringToObject(o, "type", "action");
	cJSON_AddStringToObject(o, "payload", payload_b64);
	cJSON_AddStringToObject(o, "sig", sig_b64);
	cJSON_AddStringToObject(o, "key_id", key_id);
	s = jsonx_print(o);
	cJSON_Delete(o);
	return s;
}

static char *
signed_frame(struct world *w, const struct envelope_action_payload *a)
{
	struct envelope env = { NULL, NULL, "" };
	char *f;

	CHECK(envelope_action_sign(a, &w->action_key, &env) == 0);
	f = frame_text(env.payload_b64, env.sig_b64, env.key_id);
	envelope_free(&env);
	return f;
}

/*
 * The world's audit log verifies (audit_verify_file), with more than
 * actions_over actions and results_over results checked.
 */
static void
verify_log(struct world *w, uint64_t actions_over, uint64_t results_over)
{
	struct audit_verify_opts o;
	struct audit_verify_report rep;
	struct err_msg m;
	char path[192];
	int r;

	memset(&o, 0, sizeof(o));
	o.audit_key = &w->result_key.pub;
	o.action_keys = &w->pinned;
	o.agent_keys_dir = w->agents;
	(void)snprintf(path, sizeof(path), "%s", w->log);
	r = audit_verify_file(path, &o, &rep, &m);
	CHECKF(r == 0, "audit verify: %s", m.text);
	CHECK(rep.actions_checked > actions_over &&
	    rep.results_checked > results_over);
}

#endif
