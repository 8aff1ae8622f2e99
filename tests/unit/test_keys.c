/* SPDX-License-Identifier: ISC */
/* Ed25519 key files: formats, lengths, permissions, pinned sets. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "envelope.h"
#include "keys.h"
#include "testlib.h"

static char dir[] = "/tmp/signet-test-keys.XXXXXX";

static const char *
path_of(const char *name)
{
	static char buf[256];
	(void)snprintf(buf, sizeof(buf), "%s/%s", dir, name);
	return buf;
}

static void
put(const char *name, const char *text, mode_t mode)
{
	const char *p = path_of(name);
	FILE *f;

	(void)unlink(p);
	f = fopen(p, "w");
	if (f == NULL) {
		CHECK(!"fopen");
		return;
	}
	fputs(text, f);
	fclose(f);
	CHECK(chmod(p, mode) == 0);
}

/*
 * Action key rotation (docs/protocol.md): an agent whose pinned file holds the
 * old and the new action key accepts an action signed by either, and refuses a
 * third key, under its own id or claiming a pinned one.
 */
static void
test_rotation(const struct keys_pubset *set, const struct keys_secret *a,
    const struct keys_secret *b)
{
	static const char json[] =
	    "{\"v\":1,\"action_id\":"
	    "\"0123456789abcdef0123456789abcdef\",\"host_id\":\"web-01\","
	    "\"container_id\":\""
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\",\"action\":\"RESTART\","
	    "\"reason\":\"rotation\",\"requested_by\":\"alice\","
	    "\"issued_at\":1700000000000,\"expires_at\":1700000060000}";
	const struct keys_secret *signers[2] = { a, b };
	struct envelope_action_payload act, out;
	struct envelope env;
	struct keys_secret third;
	struct err_msg msg;
	size_t i;

	CHECK(set->count == 2);
	CHECKF(envelope_action_decode(json, strlen(json), &act, &msg) == 0,
	    "%s", msg.text);
	for (i = 0; i < 2; i++) {
		memset(&env, 0, sizeof(env));
		CHECK(envelope_action_sign(&act, signers[i], &env) == 0);
		CHECK(strcmp(env.key_id, signers[i]->pub.id) == 0);
		CHECKF(envelope_action_verify(set, env.key_id, env.payload_b64,
		           env.sig_b64, &out, NULL, NULL, &msg) == 0,
		    "pinned key %zu: %s", i, msg.text);
		CHECK(strcmp(out.reason, "rotation") == 0);
		envelope_free(&env);
	}
	CHECK(keys_generate(&third) == 0);
	memset(&env, 0, sizeof(env));
	CHECK(envelope_action_sign(&act, &third, &env) == 0);
	CHECK(
	    envelope_action_verify(set, env.key_id, env.payload_b64,
	        env.sig_b64, &out, NULL, NULL, &msg) == SIGNET_ERR_UNKNOWN_KEY);
	for (i = 0; i < 2; i++) {
		CHECK(envelope_action_verify(set, signers[i]->pub.id,
		          env.payload_b64, env.sig_b64, &out, NULL, NULL,
		          &msg) == SIGNET_ERR_BAD_SIGNATURE);
	}
	envelope_free(&env);
	keys_secret_wipe(&third);
}

struct load_row {
	const char *name;
	const char *content;
	mode_t mode;
	int want;
	const char *why;
};

int
main(void)
{
	struct keys_secret k, loaded;
	struct keys_public pub;
	struct keys_pubset set;
	struct err_msg msg;
	char b64[200], line[400];
	size_t i;

	if (sodium_init() < 0 || mkdtemp(dir) == NULL)
		return 1;
	CHECK(keys_generate(&k) == 0);
	CHECK(strlen(k.pub.id) == KEYS_ID_LEN);

	/* Write, reload, compare; refuse to overwrite. */
	CHECK(keys_write_pair(dir, "action", &k, &msg) == 0);
	{
		struct stat st;
		CHECK(stat(path_of("action.key"), &st) == 0 &&
		    (st.st_mode & 0777) == 0600);
	}
	CHECK(keys_load_secret(path_of("action.key"), &loaded, &msg) == 0);
	CHECK(sodium_memcmp(loaded.sk, k.sk, KEYS_SECRET_LEN) == 0);
	CHECK(strcmp(loaded.pub.id, k.pub.id) == 0);
	CHECK(keys_load_public(path_of("action.pub"), &pub, &msg) == 0);
	CHECK(memcmp(pub.pk, k.pub.pk, KEYS_PUBLIC_LEN) == 0);
	CHECK(keys_write_pair(dir, "action", &k, &msg) == SIGNET_ERR_EXISTS);
	CHECK_CONTAINS(msg.text, "refusing to overwrite");

	/* Secret file refusals, each with its message. */
	sodium_bin2base64(b64, sizeof(b64), k.sk, KEYS_SECRET_LEN,
	    sodium_base64_VARIANT_ORIGINAL);
	(void)snprintf(line, sizeof(line), "%s\n", b64);
	{
		char corrupt[200], shortkey[200], twolines[500];
		uint8_t sk2[KEYS_SECRET_LEN];

		memcpy(sk2, k.sk, sizeof(sk2));
		sk2[40] ^= 1; /* public half no longer matches the seed */
		sodium_bin2base64(corrupt, sizeof(corrupt), sk2, sizeof(sk2),
		    sodium_base64_VARIANT_ORIGINAL);
		sodium_bin2base64(shortkey, sizeof(shortkey), k.sk, 32,
		    sodium_base64_VARIANT_ORIGINAL);
		(void)snprintf(twolines, sizeof(twolines), "%s\n%s\n", b64,
		    b64);
		const struct load_row rows[] = {
			{ "good", line, 0600, 0, "" },
			{ "good 0400", line, 0400, 0, "" },
			{ "group readable", line, 0640, SIGNET_ERR_PERMISSIONS,
			    "mode 0640" },
			{ "world readable", line, 0604, SIGNET_ERR_PERMISSIONS,
			    "chmod 600" },
			{ "group writable", line, 0620, SIGNET_ERR_PERMISSIONS,
			    "group and others" },
			{ "bad base64", "@@@@\n", 0600, SIGNET_ERR_FORMAT,
			    "not valid base64" },
			{ "32 bytes", shortkey, 0600, SIGNET_ERR_KEY_LENGTH,
			    "key is 32 bytes, expected 64" },
			{ "empty", "", 0600, SIGNET_ERR_KEY_LENGTH,
			    "0 characters" },
			{ "two lines", twolines, 0600, SIGNET_ERR_FORMAT,
			    "exactly one line" },
			{ "corrupt", corrupt, 0600, SIGNET_ERR_FORMAT,
			    "does not match seed" },
		};
		for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
			int r;
			put("s.key", rows[i].content, rows[i].mode);
			err_clear(&msg);
			r = keys_load_secret(path_of("s.key"), &loaded, &msg);
			CHECKF(r == rows[i].want, "row %s: %d (%s)",
			    rows[i].name, r, msg.text);
			if (rows[i].want != 0) {
				CHECKF(strstr(msg.text, rows[i].why) != NULL,
				    "row %s: \"%s\"", rows[i].name, msg.text);
				CHECK(
				    sodium_is_zero(loaded.sk, KEYS_SECRET_LEN));
			}
		}
	}
	/* A symlink to a secret is refused. */
	{
		char target[256];
		(void)snprintf(target, sizeof(target), "%s",
		    path_of("action.key"));
		CHECK(symlink(target, path_of("link.key")) == 0);
	}
	CHECK(keys_load_secret(path_of("link.key"), &loaded, &msg) ==
	    SIGNET_ERR_PERMISSIONS);
	CHECK(keys_load_secret(path_of("nope.key"), &loaded, &msg) ==
	    SIGNET_ERR_NOT_FOUND);

	/* Public keys and pinned sets. */
	{
		struct keys_secret k2;
		char p1[100], p2[100], text[400];

		CHECK(keys_generate(&k2) == 0);
		sodium_bin2base64(p1, sizeof(p1), k.pub.pk, 32,
		    sodium_base64_VARIANT_ORIGINAL);
		sodium_bin2base64(p2, sizeof(p2), k2.pub.pk, 32,
		    sodium_base64_VARIANT_ORIGINAL);
		(void)snprintf(text, sizeof(text), "# rotation\n%s\n\n%s\n", p1,
		    p2);
		put("set.pub", text, 0644);
		CHECK(keys_load_pubset(path_of("set.pub"), &set, &msg) == 0);
		CHECK(set.count == 2);
		CHECK(keys_pubset_find(&set, k2.pub.id) != NULL);
		CHECK(keys_pubset_find(&set, "0000000000000000") == NULL);
		test_rotation(&set, &k, &k2);
		CHECK(keys_load_public(path_of("set.pub"), &pub, &msg) ==
		    SIGNET_ERR_FORMAT);
		CHECK_CONTAINS(msg.text, "2 keys where one is expected");
		(void)snprintf(text, sizeof(text), "%s\n%s\n", p1, p1);
		put("dup.pub", text, 0644);
		CHECK(keys_load_pubset(path_of("dup.pub"), &set, &msg) ==
		    SIGNET_ERR_FORMAT);
		CHECK_CONTAINS(msg.text, "listed twice");
		put("sec.pub", line, 0644);
		CHECK(keys_load_public(path_of("sec.pub"), &pub, &msg) ==
		    SIGNET_ERR_KEY_LENGTH);
		CHECK_CONTAINS(msg.text, "sec.pub:1:");
		put("empty.pub", "# nothing\n", 0644);
		CHECK(keys_load_pubset(path_of("empty.pub"), &set, &msg) ==
		    SIGNET_ERR_FORMAT);
		CHECK_CONTAINS(msg.text, "holds no key");
		keys_secret_wipe(&k2);
		CHECK(sodium_is_zero((unsigned char *)&k2, sizeof(k2)));
	}
	keys_secret_wipe(&k);
	keys_secret_wipe(&loaded);
	{
		char cmd[300];
		(void)snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
		CHECK(system(cmd) == 0);
	}
	return test_finish("test_keys");
}
