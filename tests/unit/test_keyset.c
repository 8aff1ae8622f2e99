/* SPDX-License-Identifier: ISC */
/*
 * An agent's current and retired result keys (common/keyset.h): retired
 * names, loading, the bound, permissions, look-up by id, and the rule for
 * a retired key's signature.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "keyset.h"
#include "testlib.h"

static char dir[] = "/tmp/signet-test-keyset.XXXXXX";

static const char *
path_of(const char *name)
{
	static char buf[512];
	(void)snprintf(buf, sizeof(buf), "%s/%s", dir, name);
	return buf;
}

/* Writes a new key's public half to NAME (mode); its id into id. */
static void
put_key(const char *name, mode_t mode, char id[static KEYS_ID_LEN + 1])
{
	struct keys_secret k;
	char b64[sodium_base64_ENCODED_LEN(KEYS_PUBLIC_LEN,
	    sodium_base64_VARIANT_ORIGINAL)];
	const char *p = path_of(name);
	FILE *f;

	CHECK(keys_generate(&k) == 0);
	sodium_bin2base64(b64, sizeof(b64), k.pub.pk, KEYS_PUBLIC_LEN,
	    sodium_base64_VARIANT_ORIGINAL);
	memcpy(id, k.pub.id, KEYS_ID_LEN + 1);
	keys_secret_wipe(&k);
	(void)unlink(p);
	f = fopen(p, "w");
	if (f == NULL) {
		CHECK(!"fopen");
		return;
	}
	fprintf(f, "%s\n", b64);
	CHECK(fclose(f) == 0);
	CHECK(chmod(p, mode) == 0);
}

static void
test_names(void)
{
	static const struct {
		const char *name;
		const char *host; /* NULL: refused */
		int64_t at;
	} rows[] = {
		{ "web-01.20260101T000000Z.pub", "web-01", 1767225600 },
		{ "db.eu.example.20261205T101112Z.pub", "db.eu.example",
		    1796465472 },
		{ "a.20240229T235959Z.pub", "a", 1709251199 },
		{ "a.20230229T000000Z.pub", NULL, 0 }, /* no such day */
		{ "a.20261301T000000Z.pub", NULL, 0 },
		{ "a.20261200T000000Z.pub", NULL, 0 },
		{ "a.20261201T240000Z.pub", NULL, 0 },
		{ "a.20261201T000060Z.pub", NULL, 0 },
		{ "a.20261201 000000Z.pub", NULL, 0 },
		{ "a.20261201T000000.pub", NULL, 0 },
		{ "a.20261201T000000Z.key", NULL, 0 },
		{ "a.20261201T000000Z.pub.bak", NULL, 0 },
		{ ".20261201T000000Z.pub", NULL, 0 },
		{ "20261201T000000Z.pub", NULL, 0 },
		{ "a-20261201T000000Z.pub", NULL, 0 },
		{ "Web.20261201T000000Z.pub", NULL, 0 }, /* not a host id */
		{ "a/b.20261201T000000Z.pub", NULL, 0 },
		{ "19691231T235959Z.a.pub", NULL, 0 },
		{ "a.19691231T235959Z.pub", NULL, 0 },
		{ "web-01.pub", NULL, 0 },
		{ "", NULL, 0 },
	};
	char host[KEYSET_HOST_MAX + 1], longname[200];
	int64_t at;
	size_t i;
	int r;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		r = keyset_parse_retired_name(rows[i].name, host, sizeof(host),
		    &at);
		if (rows[i].host == NULL) {
			CHECKF(r == SIGNET_ERR_FORMAT && at == 0 &&
			        host[0] == '\0',
			    "%s taken", rows[i].name);
			continue;
		}
		CHECKF(r == 0, "%s refused", rows[i].name);
		CHECKF(strcmp(host, rows[i].host) == 0, "%s: host %s",
		    rows[i].name, host);
		CHECKF(at == rows[i].at, "%s: at %lld", rows[i].name,
		    (long long)at);
	}
	/* A host id of 63 bytes is one; of 64 is not. */
	memset(longname, 'h', 63);
	(void)snprintf(longname + 63, sizeof(longname) - 63,
	    ".20261201T000000Z.pub");
	CHECK(
	    keyset_parse_retired_name(longname, host, sizeof(host), &at) == 0);
	memset(longname, 'h', 64);
	(void)snprintf(longname + 64, sizeof(longname) - 64,
	    ".20261201T000000Z.pub");
	CHECK(keyset_parse_retired_name(longname, host, sizeof(host), &at) ==
	    SIGNET_ERR_FORMAT);
	CHECK(keyset_parse_retired_name(NULL, host, sizeof(host), &at) ==
	    SIGNET_ERR_FORMAT);
}

static void
test_load(void)
{
	char cur[KEYS_ID_LEN + 1], old1[KEYS_ID_LEN + 1], old2[KEYS_ID_LEN + 1];
	char other[KEYS_ID_LEN + 1], dotted[KEYS_ID_LEN + 1];
	char id[KEYS_ID_LEN + 1], name[128];
	const struct keyset_key *k;
	struct keyset ks;
	struct err_msg msg;
	int i;

	CHECK(mkdir(path_of("retired"), 0755) == 0);
	put_key("web-01.pub", 0644, cur);
	put_key("retired/web-01.20250101T000000Z.pub", 0644, old1);
	put_key("retired/web-01.20260101T000000Z.pub", 0644, old2);
	/* Another host, one whose id starts with this one's, junk. */
	put_key("retired/web-02.20260101T000000Z.pub", 0644, other);
	put_key("retired/web-01.eu.20260101T000000Z.pub", 0644, dotted);
	put_key("retired/web-01.old.pub", 0644, id);
	put_key("retired/README", 0644, id);

	CHECK(keyset_load(dir, "web-01", true, &ks, &msg) == 0);
	CHECK(ks.has_current && ks.count == 3);
	CHECK(strcmp(ks.keys[0].pub.id, cur) == 0 && !ks.keys[0].retired);
	/* Newest retired first. */
	CHECK(strcmp(ks.keys[1].pub.id, old2) == 0 && ks.keys[1].retired &&
	    ks.keys[1].retired_at == 1767225600 &&
	    strcmp(ks.keys[1].stamp, "20260101T000000Z") == 0);
	CHECK(strcmp(ks.keys[2].pub.id, old1) == 0);
	k = keyset_find(&ks, old1);
	CHECK(k != NULL && k->retired && k->retired_at == 1735689600);
	CHECK(keyset_find(&ks, other) == NULL);
	CHECK(keyset_find(&ks, dotted) == NULL);
	CHECK(keyset_find(&ks, "0000000000000000") == NULL);
	CHECK(keyset_find(NULL, cur) == NULL);

	/* A host id with dots: its own retired key only. */
	CHECK(keyset_load(dir, "web-01.eu", true, &ks, &msg) == 0);
	CHECK(!ks.has_current && ks.count == 1 &&
	    strcmp(ks.keys[0].pub.id, dotted) == 0);
	CHECK(keyset_load(dir, "web-02", false, &ks, &msg) == 0);
	CHECK(ks.count == 1 && strcmp(ks.keys[0].pub.id, other) == 0);

	/* No key at all; a bad host id. */
	CHECK(keyset_load(dir, "web-03", true, &ks, &msg) ==
	    SIGNET_ERR_NOT_FOUND);
	CHECK_CONTAINS(msg.text, "web-03");
	CHECK(keyset_load(dir, "../web-01", true, &ks, &msg) ==
	    SIGNET_ERR_INVALID_ARG);
	CHECK(keyset_load(dir, "", true, &ks, &msg) == SIGNET_ERR_INVALID_ARG);

	/* A retired key file others may write: refused when trusted. */
	CHECK(chmod(path_of("retired/web-01.20250101T000000Z.pub"), 0666) == 0);
	CHECK(keyset_load(dir, "web-01", true, &ks, &msg) ==
	    SIGNET_ERR_PERMISSIONS);
	CHECK_CONTAINS(msg.text, "web-01.20250101T000000Z.pub");
	CHECK(ks.count == 0);
	CHECK(keyset_load(dir, "web-01", false, &ks, &msg) == 0);
	CHECK(chmod(path_of("retired/web-01.20250101T000000Z.pub"), 0644) == 0);

	/* retired/ writable by others (sticky or not): refused. */
	CHECK(chmod(path_of("retired"), 01777) == 0);
	CHECK(keyset_load(dir, "web-01", true, &ks, &msg) ==
	    SIGNET_ERR_PERMISSIONS);
	CHECK_CONTAINS(msg.text, "retired");
	CHECK(chmod(path_of("retired"), 0775) == 0);
	CHECK(keyset_load(dir, "web-01", true, &ks, &msg) ==
	    SIGNET_ERR_PERMISSIONS);
	CHECK(chmod(path_of("retired"), 0755) == 0);
	CHECK(keyset_load(dir, "web-01", true, &ks, &msg) == 0);

	/* A key both current and retired. */
	{
		char from[512];
		(void)snprintf(from, sizeof(from), "%s", path_of("web-01.pub"));
		CHECK(link(from,
		          path_of("retired/web-01.20240101T000000Z.pub")) == 0);
	}
	CHECK(keyset_load(dir, "web-01", true, &ks, &msg) == SIGNET_ERR_FORMAT);
	CHECK_CONTAINS(msg.text, cur);
	CHECK(unlink(path_of("retired/web-01.20240101T000000Z.pub")) == 0);

	/* A bad retired key file names itself. */
	{
		FILE *f = fopen(path_of("retired/web-01.20240101T000000Z.pub"),
		    "w");
		CHECK(f != NULL);
		if (f != NULL) {
			fputs("not base64!\n", f);
			CHECK(fclose(f) == 0);
		}
	}
	CHECK(keyset_load(dir, "web-01", true, &ks, &msg) != 0);
	CHECK_CONTAINS(msg.text, "web-01.20240101T000000Z.pub");
	CHECK(unlink(path_of("retired/web-01.20240101T000000Z.pub")) == 0);

	/* Up to KEYSET_RETIRED_MAX retired keys; one more is an error. */
	for (i = 2; i < KEYSET_RETIRED_MAX; i++) {
		(void)snprintf(name, sizeof(name),
		    "retired/web-01.202001%02dT000000Z.pub", i - 1);
		put_key(name, 0644, id);
	}
	CHECK(keyset_load(dir, "web-01", true, &ks, &msg) == 0);
	CHECK(ks.count == 1 + KEYSET_RETIRED_MAX);
	put_key("retired/web-01.20190101T000000Z.pub", 0644, id);
	CHECK(keyset_load(dir, "web-01", true, &ks, &msg) ==
	    SIGNET_ERR_TOO_LARGE);
	CHECK_CONTAINS(msg.text, "more than 16");
	CHECK(ks.count == 0);

	/* retired/ as a symbolic link, or a file. */
	{
		char cmd[128];
		(void)snprintf(cmd, sizeof(cmd), "rm -rf %s/retired", dir);
		CHECK(system(cmd) == 0);
	}
	CHECK(symlink("/tmp", path_of("retired")) == 0);
	CHECK(keyset_load(dir, "web-01", true, &ks, &msg) ==
	    SIGNET_ERR_PERMISSIONS);
	CHECK(unlink(path_of("retired")) == 0);
	/* No retired/ at all: the current key alone. */
	CHECK(keyset_load(dir, "web-01", true, &ks, &msg) == 0);
	CHECK(ks.count == 1 && ks.has_current);
}

static void
test_allows(void)
{
	struct keyset_key cur, old;

	memset(&cur, 0, sizeof(cur));
	memset(&old, 0, sizeof(old));
	old.retired = true;
	old.retired_at = 1767225600; /* 2026-01-01T00:00:00Z */
	/* The current key: always. */
	CHECK(keyset_allows(&cur, true, 0));
	CHECK(keyset_allows(&cur, true, INT64_MAX));
	CHECK(keyset_allows(&cur, false, 0));
	/* A retired key: an action sent before it was retired. */
	CHECK(keyset_allows(&old, true, 1767225600LL * 1000 - 1));
	CHECK(keyset_allows(&old, true, 0));
	/* ... not one sent at or after. */
	CHECK(!keyset_allows(&old, true, 1767225600LL * 1000));
	CHECK(!keyset_allows(&old, true, 1767225600LL * 1000 + 1));
	CHECK(!keyset_allows(&old, true, INT64_MAX));
	/* An action the server does not know: recorded as such. */
	CHECK(keyset_allows(&old, false, INT64_MAX));
	CHECK(!keyset_allows(NULL, false, 0));
}

int
main(void)
{
	if (sodium_init() < 0 || mkdtemp(dir) == NULL)
		return 1;
	/* The trusted checks want a directory of this user, not writable. */
	if (chmod(dir, 0755) != 0)
		return 1;
	test_names();
	test_load();
	test_allows();
	{
		char cmd[128];
		(void)snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
		CHECK(system(cmd) == 0);
	}
	return test_finish("test_keyset");
}
