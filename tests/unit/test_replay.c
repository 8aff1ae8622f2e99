/* SPDX-License-Identifier: ISC */
/* The agent's seen-set of action ids: replays, expiry, rebuild from log. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "audit.h"
#include "keys.h"
#include "replay.h"
#include "testlib.h"

static void
hex_id(unsigned n, char out[33])
{
	(void)snprintf(out, 33, "%08x%024x", n * 2654435761u, n);
}

int
main(void)
{
	struct replay *r = replay_new();
	char id[33], dir[] = "/tmp/signet-test-replay.XXXXXX", path[256];
	const int64_t now = 1700000000000LL;
	size_t loaded = 0;
	unsigned i;
	struct err_msg msg;

	CHECK(r != NULL && sodium_init() >= 0 && mkdtemp(dir) != NULL);
	hex_id(1, id);
	CHECK(!replay_seen(r, id));
	CHECK(replay_add(r, id, now + 60000, now) == 0);
	CHECK(replay_seen(r, id));
	CHECK(replay_add(r, id, now + 60000, now) == SIGNET_ERR_EXISTS);
	CHECK(replay_add(r, "not-hex", now, now) == SIGNET_ERR_INVALID_ARG);
	CHECK(replay_add(r, "0123456789ABCDEF0123456789abcdef", now, now) ==
	    SIGNET_ERR_INVALID_ARG);

	/* Many ids: growth keeps every one. */
	for (i = 2; i < 20000; i++) {
		hex_id(i, id);
		if (replay_add(r, id, now + 60000, now) != 0)
			break;
	}
	CHECK(i == 20000 && replay_count(r) == 19999);
	hex_id(12345, id);
	CHECK(replay_seen(r, id));
	/* Pruning forgets only ids past expiry plus skew. */
	replay_prune(r, now + 60000 + 30000);
	CHECK(replay_count(r) == 19999);
	replay_prune(r, now + 60000 + 32000);
	CHECK(replay_count(r) == 0 && !replay_seen(r, id));
	replay_free(r);

	/* Rebuilt from an audit log: recorded, unexpired ids come back. */
	{
		struct keys_secret key;
		struct audit_writer *w = NULL;
		cJSON *d;

		(void)snprintf(path, sizeof(path), "%s/agent.log", dir);
		CHECK(keys_generate(&key) == 0);
		CHECK(audit_open(path, &key, &w, &msg) == 0);
		for (i = 0; i < 5; i++) {
			hex_id(100 + i, id);
			d = cJSON_CreateObject();
			cJSON_AddStringToObject(d, "action_id", id);
			/* ids 100 and 101 long expired, the rest live */
			cJSON_AddNumberToObject(d, "expires_at",
			    (double)(i < 2 ? now - 600000 : now + 60000));
			CHECK(audit_append(w, "action.received", "agent", d,
			    NULL, &msg) == 0);
			cJSON_Delete(d);
		}
		CHECK(audit_append(w, "agent.started", "agent", NULL, NULL,
		    &msg) == 0);
		audit_close(w);
		keys_secret_wipe(&key);
		r = replay_new();
		CHECK(replay_load_audit(r, path, now, &loaded, &msg) == 0);
		CHECK(loaded == 3);
		hex_id(104, id);
		CHECK(replay_seen(r, id));
		hex_id(100, id);
		CHECK(!replay_seen(r, id));
		replay_free(r);
		/* A missing log is an empty one; a corrupt one is refused. */
		r = replay_new();
		(void)snprintf(path, sizeof(path), "%s/none.log", dir);
		CHECK(replay_load_audit(r, path, now, &loaded, &msg) == 0 &&
		    loaded == 0);
		(void)snprintf(path, sizeof(path), "%s/bad.log", dir);
		{
			FILE *f = fopen(path, "w");
			CHECK(f != NULL);
			fputs("{\"not\":\"a record\"}\n", f);
			fclose(f);
		}
		CHECK(replay_load_audit(r, path, now, &loaded, &msg) ==
		    SIGNET_ERR_FORMAT);
		CHECK_CONTAINS(msg.text, "bad.log:1:");
		replay_free(r);
	}
	{
		char cmd[128];
		(void)snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
		CHECK(system(cmd) == 0);
	}
	return test_finish("test_replay");
}
