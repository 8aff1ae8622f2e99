/* SPDX-License-Identifier: ISC */
/*
 * libFuzzer harness for reconcile's reading of a log (common/reconcile.h):
 * the input is an agent's log after a fixed first record naming its host.
 * It never verifies (no key signed it), so reconcile joins whatever of it
 * still parses as records — every event, data member and embedded
 * envelope a tampered log may hold — against an empty server log; then
 * the same input also as a second replica's server log (a cluster:
 * action.relayed, results of several replicas, the heads routed to the
 * log that requested).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "reconcile.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char first[] =
    "{\"seq\":0,\"ts\":1,\"prev\":\"00000000000000000000000000000000000"
    "00000000000000000000000000000\",\"event\":\"agent.started\",\"actor\":"
    "\"agent\",\"data\":{\"host_id\":\"web-01\"},\"sig\":\"AAAAAAAAAAAAAAAA"
    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
    "==\"}\n";

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char dir[64], server[128], agent[128], keys[128], replica[128];
	static struct keys_public spub;
	static struct keys_pubset apub;
	static int ready;
	const char *sf[1], *af[1], *rf[1];
	struct reconcile_log logs[3];
	struct reconcile_opts o;
	struct reconcile *rc = NULL;
	struct keys_secret k;
	struct err_msg msg;
	cJSON *a = NULL;
	FILE *f;

	if (!ready) {
		if (sodium_init() < 0)
			abort();
		(void)snprintf(dir, sizeof(dir), "/tmp/fuzz-reconcile.XXXXXX");
		if (mkdtemp(dir) == NULL)
			abort();
		(void)snprintf(server, sizeof(server), "%s/server.log", dir);
		(void)snprintf(agent, sizeof(agent), "%s/agent.log", dir);
		(void)snprintf(replica, sizeof(replica), "%s/replica.log", dir);
		(void)snprintf(keys, sizeof(keys), "%s/agents", dir);
		if (mkdir(keys, 0700) != 0 || keys_generate(&k) != 0 ||
		    keys_write_pair(keys, "web-01", &k, &msg) != 0)
			abort();
		spub = k.pub;
		apub.count = 1;
		apub.keys[0] = k.pub;
		keys_secret_wipe(&k);
		f = fopen(server, "w");
		if (f == NULL || fclose(f) != 0)
			abort();
		ready = 1;
	}
	f = fopen(agent, "w");
	if (f == NULL)
		return 0;
	if (fputs(first, f) < 0 || fwrite(data, 1, size, f) != size) {
		(void)fclose(f);
		return 0;
	}
	if (fclose(f) != 0)
		return 0;
	f = fopen(replica, "w");
	if (f == NULL)
		return 0;
	if (fwrite(data, 1, size, f) != size) {
		(void)fclose(f);
		return 0;
	}
	if (fclose(f) != 0)
		return 0;
	sf[0] = server;
	rf[0] = replica;
	af[0] = agent;
	logs[0] = (struct reconcile_log){ RECONCILE_SERVER, sf, 1 };
	logs[1] = (struct reconcile_log){ RECONCILE_AGENT, af, 1 };
	memset(&o, 0, sizeof(o));
	o.server_key = &spub;
	o.action_keys = &apub;
	o.agent_keys_dir = keys;
	o.tmpdir = dir;
	if (reconcile_run(&o, logs, 2, &rc, &msg) == 0) {
		while (reconcile_next(rc, &a) == 1) {
			free(reconcile_action_text(a));
			cJSON_Delete(a);
		}
	}
	reconcile_free(rc);
	rc = NULL;
	/* Two replicas: the input is also the second one's log. */
	logs[2] = logs[1];
	logs[1] = (struct reconcile_log){ RECONCILE_SERVER, rf, 1 };
	if (reconcile_run(&o, logs, 3, &rc, &msg) == 0) {
		while (reconcile_next(rc, &a) == 1) {
			free(reconcile_action_text(a));
			cJSON_Delete(a);
		}
	}
	reconcile_free(rc);
	return 0;
}
