/* SPDX-License-Identifier: ISC */
/*
 * The agent's seen-set of action ids: replays, expiry, rebuild from the
 * log, also when the ids are in a rotated file before the current one.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

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

static int64_t
wall_ms(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int
received(struct audit_writer *w, unsigned n, int64_t expires)
{
	struct err_msg msg;
	char id[33];
	cJSON *d = cJSON_CreateObject();
	int r;

	hex_id(n, id);
	(void)cJSON_AddStringToObject(d, "action_id", id);
	(void)cJSON_AddNumberToObject(d, "expires_at", (double)expires);
	r = audit_append(w, "action.received", "agent", d, NULL, &msg);
	cJSON_Delete(d);
	return r;
}

/*
 * An agent that rotated its log and restarted still knows the ids in the
 * file before the current one, and refuses to start without that file
 * while it may hold live ids; once it cannot, the file is not needed.
 */
static void
test_rotated(const char *dir)
{
	struct keys_secret key;
	struct audit_writer *w = NULL;
	struct replay *r = NULL;
	struct err_msg msg;
	char path[256], rot[300], id[33];
	const int64_t now = wall_ms();
	size_t loaded = 0;
	unsigned i;

	(void)snprintf(path, sizeof(path), "%s/rot.log", dir);
	CHECK(keys_generate(&key) == 0);
	CHECK(audit_open(path, &key, &w, &msg) == 0);
	for (i = 0; i < 4; i++)
		CHECK(received(w, 200 + i, now + 60000) == 0);
	CHECK(audit_rotate(w, "signal", &msg) == 0);
	CHECK(audit_rotate(w, "signal", &msg) == 0); /* only audit.rotated */
	CHECK(received(w, 300, now + 60000) == 0);
	audit_close(w);
	w = NULL;

	r = replay_new();
	CHECKF(replay_load_audit(r, path, now, &loaded, &msg) == 0, "%s",
	    msg.text);
	CHECK(loaded == 5);
	hex_id(201, id);
	CHECK(replay_seen(r, id));
	hex_id(300, id);
	CHECK(replay_seen(r, id));
	replay_free(r);

	/* The first file archived away too early: refused, named. */
	CHECK(audit_rotated_name(path, 0, 3, rot, sizeof(rot)) == 0);
	CHECK(access(rot, F_OK) == 0);
	{
		char moved[320];
		(void)snprintf(moved, sizeof(moved), "%s.away", rot);
		CHECK(rename(rot, moved) == 0);
		r = replay_new();
		CHECK(replay_load_audit(r, path, now, &loaded, &msg) ==
		    SIGNET_ERR_CHAIN);
		CHECK_CONTAINS(msg.text, strrchr(rot, '/') + 1);
		CHECK_CONTAINS(msg.text, "missing");
		replay_free(r);
		/* Later than any action there could be live: not read. */
		r = replay_new();
		CHECK(replay_load_audit(r, path,
		          now + REPLAY_LOOKBACK_MS + 1000, &loaded, &msg) == 0);
		CHECK(loaded == 0);
		replay_free(r);
		CHECK(rename(moved, rot) == 0);
	}
	keys_secret_wipe(&key);
}

/* action.received for id n with expires_at and, when until != 0, a
 * replay_until (as a number, or as text when as_text). */
static int
received_until(struct audit_writer *w, unsigned n, int64_t expires,
    int64_t until, bool as_text)
{
	struct err_msg msg;
	char id[33];
	cJSON *d = cJSON_CreateObject();
	int r;

	hex_id(n, id);
	(void)cJSON_AddStringToObject(d, "action_id", id);
	(void)cJSON_AddNumberToObject(d, "expires_at", (double)expires);
	if (until != 0 && as_text)
		(void)cJSON_AddStringToObject(d, "replay_until", "later");
	else if (until != 0)
		(void)cJSON_AddNumberToObject(d, "replay_until", (double)until);
	r = audit_append(w, "action.received", "agent", d, NULL, &msg);
	cJSON_Delete(d);
	return r;
}

/*
 * An operator's request may outlive the relay's action (it waited for
 * approvals): its id is kept until the later of expires_at and
 * replay_until, never the earlier.
 */
static void
test_replay_until(const char *dir)
{
	struct keys_secret key;
	struct audit_writer *w = NULL;
	struct replay *r = NULL;
	struct err_msg msg;
	char path[256], id[33];
	const int64_t now = wall_ms();
	const int64_t later = now + 3600000; /* the request's expiry */
	const int64_t at = now + 600000;     /* the relay's long gone */
	size_t loaded = 0;

	(void)snprintf(path, sizeof(path), "%s/until.log", dir);
	CHECK(keys_generate(&key) == 0);
	CHECK(audit_open(path, &key, &w, &msg) == 0);
	CHECK(received_until(w, 400, now + 60000, later, false) == 0);
	/* replay_until before expires_at: expires_at still counts. */
	CHECK(received_until(w, 401, later, now + 1000, false) == 0);
	/* Not a number: ignored, expires_at counts. */
	CHECK(received_until(w, 402, now + 60000, later, true) == 0);
	/* No replay_until, long expired at `at`. */
	CHECK(received_until(w, 403, now + 60000, 0, false) == 0);
	audit_close(w);
	keys_secret_wipe(&key);

	r = replay_new();
	CHECKF(replay_load_audit_longer(r, path, at, 0, &loaded, &msg) == 0,
	    "%s", msg.text);
	CHECK(loaded == 2);
	hex_id(400, id);
	CHECK(replay_seen(r, id));
	hex_id(401, id);
	CHECK(replay_seen(r, id));
	hex_id(402, id);
	CHECK(!replay_seen(r, id));
	hex_id(403, id);
	CHECK(!replay_seen(r, id));
	/* Forgotten only once the request expired beyond the skew. */
	replay_prune(r, later + ENVELOPE_SKEW_MS);
	hex_id(400, id);
	CHECK(replay_seen(r, id));
	replay_prune(r, later + ENVELOPE_SKEW_MS + 2000);
	CHECK(!replay_seen(r, id) && replay_count(r) == 0);
	replay_free(r);
	/* replay_load_audit reads replay_until too. */
	r = replay_new();
	CHECK(
	    replay_load_audit(r, path, at, &loaded, &msg) == 0 && loaded == 2);
	hex_id(400, id);
	CHECK(replay_seen(r, id));
	replay_free(r);
	/* After the request's expiry and skew, nothing is live. */
	r = replay_new();
	CHECK(replay_load_audit_longer(r, path, later + ENVELOPE_SKEW_MS + 1,
	          3600000, &loaded, &msg) == 0 &&
	    loaded == 0);
	replay_free(r);
}

/*
 * extra_ms reaches a rotated file that the action's own lookback would
 * not read: a request waiting an hour for approvals, recorded before a
 * rotation, is still known; and that file, missing, is then an error.
 */
static void
test_longer_rotated(const char *dir)
{
	struct keys_secret key;
	struct audit_writer *w = NULL;
	struct replay *r = NULL;
	struct err_msg msg;
	char path[256], rot[300], moved[320], id[33];
	const int64_t now = wall_ms();
	const int64_t at = now + REPLAY_LOOKBACK_MS + 20000;
	const int64_t extra = 3600000;
	size_t loaded = 0;

	(void)snprintf(path, sizeof(path), "%s/longer.log", dir);
	CHECK(keys_generate(&key) == 0);
	CHECK(audit_open(path, &key, &w, &msg) == 0);
	CHECK(received_until(w, 500, now + 60000, at + 600000, false) == 0);
	CHECK(audit_rotate(w, "signal", &msg) == 0);
	CHECK(received_until(w, 501, now + 60000, 0, false) == 0);
	audit_close(w);
	keys_secret_wipe(&key);

	/* The action's lookback alone does not reach the rotated file. */
	r = replay_new();
	CHECKF(replay_load_audit_longer(r, path, at, 0, &loaded, &msg) == 0,
	    "%s", msg.text);
	hex_id(500, id);
	CHECK(loaded == 0 && !replay_seen(r, id));
	replay_free(r);
	/* extra_ms does. */
	r = replay_new();
	CHECKF(replay_load_audit_longer(r, path, at, extra, &loaded, &msg) == 0,
	    "%s", msg.text);
	CHECK(loaded == 1 && replay_seen(r, id));
	replay_free(r);
	/* A negative extra is none. */
	r = replay_new();
	CHECK(
	    replay_load_audit_longer(r, path, at, -extra, &loaded, &msg) == 0 &&
	    loaded == 0);
	replay_free(r);
	/* Archived away: fine for the action's lookback, not for extra. */
	CHECK(audit_rotated_name(path, 0, 0, rot, sizeof(rot)) == 0);
	CHECKF(access(rot, F_OK) == 0, "%s", rot);
	(void)snprintf(moved, sizeof(moved), "%s.away", rot);
	CHECK(rename(rot, moved) == 0);
	r = replay_new();
	CHECK(replay_load_audit_longer(r, path, at, 0, &loaded, &msg) == 0);
	replay_free(r);
	r = replay_new();
	err_clear(&msg);
	CHECK(replay_load_audit_longer(r, path, at, extra, &loaded, &msg) ==
	    SIGNET_ERR_CHAIN);
	CHECK_CONTAINS(msg.text, "missing");
	replay_free(r);
	CHECK(rename(moved, rot) == 0);
}

/*
 * The request_sha256 kept with each id (issue 16: a redelivery of the
 * same bytes is told from another payload under a seen id): set by
 * replay_add_sha, kept through growth, and rebuilt from the log, from a
 * record's own request_sha256 or its embedded action payload, the first
 * record of an id deciding; a record with neither leaves it unknown.
 */
static void
test_sha(const char *dir)
{
	static const char sha_a[] =
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
	static const char sha_b[] =
	    "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";
	static const char payload[] = "{\"v\":1}";
	struct keys_secret key;
	struct audit_writer *w = NULL;
	struct replay *r = replay_new();
	struct err_msg msg;
	char path[256], id[33], id2[33], id3[33], id4[33], sha_p[65];
	const int64_t now = wall_ms();
	cJSON *d, *env;
	size_t loaded = 0;
	unsigned i;

	CHECK(r != NULL);
	if (r == NULL)
		return;
	hex_id(900, id);
	CHECK(replay_add_sha(r, id, sha_a, now + 60000, now) == 0);
	CHECK(replay_seen_same(r, id, sha_a));
	CHECK(!replay_seen_same(r, id, sha_b));
	CHECK(!replay_seen_same(r, id, NULL));
	CHECK(!replay_seen_same(r, id, "AAAA"));
	/* Seen already: the first hash stays. */
	CHECK(replay_add_sha(r, id, sha_b, now + 60000, now) ==
	    SIGNET_ERR_EXISTS);
	CHECK(
	    replay_seen_same(r, id, sha_a) && !replay_seen_same(r, id, sha_b));
	CHECK(
	    replay_add_sha(r, id, "ABCD", now, now) == SIGNET_ERR_INVALID_ARG);
	/* Unknown hash: seen, but matching nothing. */
	hex_id(901, id2);
	CHECK(replay_add(r, id2, now + 60000, now) == 0);
	CHECK(replay_seen(r, id2) && !replay_seen_same(r, id2, sha_a));
	for (i = 1000; i < 5000; i++) {
		hex_id(i, id3);
		CHECK(replay_add(r, id3, now + 60000, now) == 0);
	}
	CHECK(replay_seen_same(r, id, sha_a));
	replay_free(r);

	/* From the log. */
	(void)snprintf(path, sizeof(path), "%s/sha.log", dir);
	CHECK(keys_generate(&key) == 0);
	CHECK(audit_open(path, &key, &w, &msg) == 0);
	/* 900: its own request_sha256, then a later record with another. */
	d = cJSON_CreateObject();
	(void)cJSON_AddStringToObject(d, "action_id", id);
	(void)cJSON_AddNumberToObject(d, "expires_at", (double)(now + 60000));
	(void)cJSON_AddStringToObject(d, "request_sha256", sha_a);
	CHECK(audit_append(w, "action.rejected", "agent", d, NULL, &msg) == 0);
	cJSON_Delete(d);
	d = cJSON_CreateObject();
	(void)cJSON_AddStringToObject(d, "action_id", id);
	(void)cJSON_AddNumberToObject(d, "expires_at", (double)(now + 60000));
	(void)cJSON_AddStringToObject(d, "request_sha256", sha_b);
	CHECK(audit_append(w, "action.rejected", "agent", d, NULL, &msg) == 0);
	cJSON_Delete(d);
	/* 902: an embedded action envelope (action.received). */
	hex_id(902, id3);
	d = cJSON_CreateObject();
	env = cJSON_AddObjectToObject(d, "action");
	(void)cJSON_AddStringToObject(d, "action_id", id3);
	(void)cJSON_AddNumberToObject(d, "expires_at", (double)(now + 60000));
	(void)cJSON_AddStringToObject(env, "payload", "eyJ2IjoxfQ==");
	(void)cJSON_AddStringToObject(env, "sig", "x");
	CHECK(audit_append(w, "action.received", "agent", d, NULL, &msg) == 0);
	cJSON_Delete(d);
	/* 903: neither (an old record of another kind); 904: bad base64. */
	CHECK(received(w, 903, now + 60000) == 0);
	hex_id(903, id2);
	hex_id(904, id4);
	d = cJSON_CreateObject();
	env = cJSON_AddObjectToObject(d, "action");
	(void)cJSON_AddStringToObject(d, "action_id", id4);
	(void)cJSON_AddNumberToObject(d, "expires_at", (double)(now + 60000));
	(void)cJSON_AddStringToObject(env, "payload", "not base64!");
	CHECK(audit_append(w, "action.received", "agent", d, NULL, &msg) == 0);
	cJSON_Delete(d);
	audit_close(w);
	keys_secret_wipe(&key);

	envelope_sha256_hex(payload, strlen(payload), sha_p);
	r = replay_new();
	CHECKF(replay_load_audit(r, path, now, &loaded, &msg) == 0, "%s",
	    msg.text);
	CHECK(loaded == 4);
	CHECK(
	    replay_seen_same(r, id, sha_a) && !replay_seen_same(r, id, sha_b));
	CHECK(replay_seen_same(r, id3, sha_p));
	CHECK(replay_seen(r, id2) && !replay_seen_same(r, id2, sha_p));
	CHECK(replay_seen(r, id4) && !replay_seen_same(r, id4, sha_p));
	replay_free(r);
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
	test_sha(dir);
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
	test_rotated(dir);
	test_replay_until(dir);
	test_longer_rotated(dir);
	{
		char cmd[128];
		(void)snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
		CHECK(system(cmd) == 0);
	}
	return test_finish("test_replay");
}
