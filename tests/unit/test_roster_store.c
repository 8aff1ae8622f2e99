/* SPDX-License-Identifier: ISC */
/*
 * The roster a daemon holds: a newer verified roster is saved and then
 * taken, the same one is held already, a rollback, an equivocation, an
 * expired roster and a roster by another key are refused and change
 * nothing (neither the held roster nor its file), a roster that cannot be
 * saved is not taken, the file is read back at start (an expired one
 * still as the floor), and a roster a reader holds outlives its
 * replacement, on other threads too.
 */
#include <dirent.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <sodium.h>

#include "roster_store.h"
#include "testlib.h"

#define NOW 1750000000000LL
#define DAY (24LL * 3600 * 1000)

static struct keys_secret rk, rk_other; /* roster keys: pinned, not */
static struct keys_secret op_a, op_b;   /* operators */
static struct keys_pubset pinned;
static char dir[] = "/tmp/signet-test-roster-store.XXXXXX";

/*
 * A roster file of this version, valid from issued to expires, listing
 * alice (and bob when with_bob), signed by key (a new string).
 */
static char *
roster_file(int64_t version, int64_t issued, int64_t expires, bool with_bob,
    const struct keys_secret *key)
{
	struct roster r;
	struct roster_operator ops[2];
	struct err_msg msg;
	char *json = NULL, *file = NULL;

	memset(&r, 0, sizeof(r));
	memset(ops, 0, sizeof(ops));
	r.version = version;
	r.issued_at = issued;
	r.expires_at = expires;
	r.ops = ops;
	r.nops = with_bob ? 2 : 1;
	memcpy(ops[0].name, "alice", 6);
	ops[0].key = op_a.pub;
	ops[0].ngroups = 1;
	memcpy(ops[0].groups[0], "sre", 4);
	ops[0].not_after = NOW + 365 * DAY;
	memcpy(ops[1].name, "bob", 4);
	ops[1].key = op_b.pub;
	ops[1].not_after = NOW + 365 * DAY;
	if (roster_encode_payload(&r, &json) != 0)
		return NULL;
	if (roster_sign((const uint8_t *)json, strlen(json), key, NULL, 0,
	        &file, &msg) != 0)
		file = NULL;
	free(json);
	return file;
}

/* A live roster of version v by the pinned key. */
static char *
live(int64_t version, bool with_bob)
{
	return roster_file(version, NOW - DAY, NOW + 30 * DAY, with_bob, &rk);
}

static int
offer_text(struct roster_store *s, const char *file, enum roster_offer *what,
    struct err_msg *msg)
{
	err_clear(msg);
	return roster_store_offer(s, (const uint8_t *)file,
	    file != NULL ? strlen(file) : 0, NOW, what, msg);
}

/* The whole of path as a new string, NULL when it cannot be read. */
static char *
slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf = NULL;
	long n;

	if (f == NULL)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 &&
	    fseek(f, 0, SEEK_SET) == 0 &&
	    (buf = malloc((size_t)n + 1)) != NULL) {
		if (fread(buf, 1, (size_t)n, f) != (size_t)n) {
			free(buf);
			buf = NULL;
		} else {
			buf[n] = '\0';
		}
	}
	(void)fclose(f);
	return buf;
}

static void
write_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	CHECK(f != NULL);
	if (f == NULL)
		return;
	CHECK(fputs(text, f) >= 0);
	CHECK(fclose(f) == 0);
	CHECK(chmod(path, 0644) == 0);
}

/* The entries of dir but . and .. */
static size_t
dir_entries(const char *d)
{
	DIR *dp = opendir(d);
	struct dirent *e;
	size_t n = 0;

	if (dp == NULL)
		return 0;
	while ((e = readdir(dp)) != NULL)
		n += strcmp(e->d_name, ".") != 0 &&
		    strcmp(e->d_name, "..") != 0;
	(void)closedir(dp);
	return n;
}

static void
sha256_hex(const char *text, char out[65])
{
	uint8_t h[crypto_hash_sha256_BYTES];

	crypto_hash_sha256(h, (const uint8_t *)text, strlen(text));
	sodium_bin2hex(out, 65, h, sizeof(h));
}

static void
test_new(void)
{
	struct roster_store *s = (struct roster_store *)&s;
	struct keys_pubset none;
	struct err_msg msg;
	char sha[65];

	err_clear(&msg);
	CHECK(roster_store_new(&pinned, 0, NULL, false, &s, &msg) ==
	        SIGNET_ERR_INVALID_ARG &&
	    s == NULL);
	CHECK_CONTAINS(msg.text, "roster threshold 0");
	s = (struct roster_store *)&s;
	CHECK(roster_store_new(&pinned, 2, NULL, false, &s, &msg) ==
	        SIGNET_ERR_INVALID_ARG &&
	    s == NULL);
	CHECK_CONTAINS(msg.text, "(1)");
	memset(&none, 0, sizeof(none));
	CHECK(roster_store_new(&none, 1, NULL, false, &s, &msg) ==
	    SIGNET_ERR_INVALID_ARG);
	CHECK(roster_store_new(NULL, 1, NULL, false, &s, &msg) ==
	    SIGNET_ERR_INVALID_ARG);
	/* Empty: no roster, version 0, nothing to acquire. */
	CHECK(roster_store_new(&pinned, 1, NULL, false, &s, &msg) == 0);
	CHECK(s != NULL && roster_store_threshold(s) == 1 &&
	    roster_store_pinned(s)->count == 1 &&
	    strcmp(roster_store_pinned(s)->keys[0].id, rk.pub.id) == 0);
	memcpy(sha, "junk", 5);
	CHECK(roster_store_version(s, sha) == 0 && sha[0] == '\0');
	CHECK(roster_store_acquire(s) == NULL);
	roster_store_release(s, NULL);
	{
		enum roster_offer what = ROSTER_OFFER_HELD;

		CHECK(roster_store_load(s, NOW, &what, &msg) ==
		        SIGNET_ERR_NOT_FOUND &&
		    what == 0);
	}
	roster_store_free(s);
	roster_store_free(NULL);
}

/* Offers: taken and saved, held, and every refusal changes nothing. */
static void
test_offer(void)
{
	struct roster_store *s = NULL;
	enum roster_offer what;
	struct err_msg msg;
	struct stat st;
	char path[128], sha[65], want[65];
	char *v3 = live(3, false), *v3b = live(3, true), *v2 = live(2, true);
	char *expired = roster_file(4, NOW - 60 * DAY, NOW - DAY, true, &rk);
	char *other = roster_file(4, NOW - DAY, NOW + DAY, true, &rk_other);
	char *future = roster_file(4, NOW + DAY, NOW + 2 * DAY, true, &rk);
	char *saved = NULL;

	CHECK(v3 != NULL && v3b != NULL && v2 != NULL && expired != NULL &&
	    other != NULL && future != NULL);
	(void)snprintf(path, sizeof(path), "%s/offer/roster.json", dir);
	{
		char sub[128];

		(void)snprintf(sub, sizeof(sub), "%s/offer", dir);
		CHECK(mkdir(sub, 0700) == 0);
	}
	CHECK(roster_store_new(&pinned, 1, path, true, &s, &msg) == 0);
	if (s == NULL)
		goto out;

	CHECKF(offer_text(s, v3, &what, &msg) == 0, "%s", msg.text);
	CHECK(what == ROSTER_OFFER_TAKEN);
	CHECK(roster_store_version(s, sha) == 3);
	sha256_hex(v3, want);
	CHECKF(strcmp(sha, want) == 0, "held sha %s, file %s", sha, want);
	/* Saved: the very bytes, 0644, and no temporary file left. */
	saved = slurp(path);
	CHECK(saved != NULL && strcmp(saved, v3) == 0);
	free(saved);
	CHECK(stat(path, &st) == 0 && (st.st_mode & 07777) == 0644);
	{
		char sub[128];

		(void)snprintf(sub, sizeof(sub), "%s/offer", dir);
		CHECK(dir_entries(sub) == 1);
	}

	/* The same bytes again: held, nothing to do. */
	CHECK(offer_text(s, v3, &what, &msg) == 0 && what == ROSTER_OFFER_HELD);

	/* Every refusal: code, words, and nothing changed. */
	{
		static const struct {
			const char *name;
			int which; /* index into texts */
			int code;
			const char *why;
		} rows[] = {
			{ "rollback", 0, SIGNET_ERR_EXISTS,
			    "roster version 2 is older than the held version "
			    "3: a rollback" },
			{ "same version, other bytes", 1, SIGNET_ERR_EXISTS,
			    "roster version 3 differs from the held roster" },
			{ "expired", 2, SIGNET_ERR_FORMAT, "expired" },
			{ "issued in the future", 3, SIGNET_ERR_FORMAT,
			    "future" },
			{ "signed by another key", 4, SIGNET_ERR_BAD_SIGNATURE,
			    "" },
			{ "not a roster", 5, SIGNET_ERR_FORMAT, "" },
			{ "empty", 6, SIGNET_ERR_FORMAT, "" },
		};
		const char *texts[] = { v2, v3b, expired, future, other,
			"{\"roster\":1}", "" };
		size_t i;

		for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
			int r;

			what = ROSTER_OFFER_TAKEN;
			r = offer_text(s, texts[rows[i].which], &what, &msg);
			CHECKF(r == rows[i].code, "%s: %d (%s)", rows[i].name,
			    r, msg.text);
			CHECKF(strstr(msg.text, rows[i].why) != NULL,
			    "%s: \"%s\" lacks \"%s\"", rows[i].name, msg.text,
			    rows[i].why);
			CHECKF(what == 0, "%s: what %d", rows[i].name,
			    (int)what);
			CHECKF(roster_store_version(s, sha) == 3 &&
			        strcmp(sha, want) == 0,
			    "%s: the held roster changed", rows[i].name);
			saved = slurp(path);
			CHECKF(saved != NULL && strcmp(saved, v3) == 0,
			    "%s: the file changed", rows[i].name);
			free(saved);
		}
	}
	/* The rollback's floor is the held version, not the first one. */
	free(v2);
	v2 = live(5, true);
	CHECK(
	    offer_text(s, v2, &what, &msg) == 0 && what == ROSTER_OFFER_TAKEN);
	CHECK(offer_text(s, v3, &what, &msg) == SIGNET_ERR_EXISTS);
	CHECK_CONTAINS(msg.text, "older than the held version 5");
	saved = slurp(path);
	CHECK(saved != NULL && strcmp(saved, v2) == 0);
	free(saved);
out:
	roster_store_free(s);
	free(v3);
	free(v3b);
	free(v2);
	free(expired);
	free(other);
	free(future);
}

/* A roster that cannot be saved is not taken; without save, none is. */
static void
test_save(void)
{
	struct roster_store *s = NULL;
	enum roster_offer what;
	struct err_msg msg;
	struct stat st;
	char path[160], sha[65];
	char *v3 = live(3, false);

	(void)snprintf(path, sizeof(path), "%s/no-such-dir/roster.json", dir);
	CHECK(roster_store_new(&pinned, 1, path, true, &s, &msg) == 0);
	if (s != NULL) {
		what = ROSTER_OFFER_HELD;
		CHECKF(offer_text(s, v3, &what, &msg) == SIGNET_ERR_IO, "%s",
		    msg.text);
		CHECK(what == 0);
		CHECK(roster_store_version(s, sha) == 0 && sha[0] == '\0');
		CHECK(roster_store_acquire(s) == NULL);
	}
	roster_store_free(s);
	s = NULL;
	/* A path that is a directory cannot be replaced either. */
	CHECK(roster_store_new(&pinned, 1, dir, true, &s, &msg) == 0);
	if (s != NULL) {
		CHECK(offer_text(s, v3, &what, &msg) == SIGNET_ERR_IO);
		CHECK(roster_store_version(s, sha) == 0);
	}
	roster_store_free(s);
	s = NULL;
	/* save false: taken, and the file is never written. */
	(void)snprintf(path, sizeof(path), "%s/unsaved.json", dir);
	CHECK(roster_store_new(&pinned, 1, path, false, &s, &msg) == 0);
	if (s != NULL) {
		CHECK(offer_text(s, v3, &what, &msg) == 0 &&
		    what == ROSTER_OFFER_TAKEN);
		CHECK(roster_store_version(s, sha) == 3);
		CHECK(stat(path, &st) != 0);
	}
	roster_store_free(s);
	free(v3);
}

/* At start: the file read back, an expired one still the floor. */
static void
test_load(void)
{
	struct roster_store *s = NULL;
	enum roster_offer what;
	struct err_msg msg;
	struct stat st0, st1;
	char path[128], sha[65];
	char *expired = roster_file(7, NOW - 60 * DAY, NOW - DAY, true, &rk);
	char *v6 = live(6, true), *v8 = live(8, true);
	char *other = roster_file(9, NOW - DAY, NOW + DAY, true, &rk_other);
	struct roster *r;

	(void)snprintf(path, sizeof(path), "%s/load.json", dir);
	CHECK(roster_store_new(&pinned, 1, path, true, &s, &msg) == 0);
	if (s == NULL)
		goto out;
	what = ROSTER_OFFER_HELD;
	CHECK(roster_store_load(s, NOW, &what, &msg) == SIGNET_ERR_NOT_FOUND &&
	    what == 0);
	CHECK(roster_store_version(s, sha) == 0);

	write_text(path, expired);
	CHECK(stat(path, &st0) == 0);
	CHECKF(roster_store_load(s, NOW, &what, &msg) == 0, "%s", msg.text);
	CHECK(what == ROSTER_OFFER_TAKEN);
	CHECK(roster_store_version(s, sha) == 7);
	/* Held as the floor, but its operators sign nothing: expired. */
	r = roster_store_acquire(s);
	CHECK(r != NULL && roster_check_time(r, NOW, &msg) != 0);
	roster_store_release(s, r);
	/* Read back, not written again. */
	CHECK(stat(path, &st1) == 0 && st1.st_ino == st0.st_ino);
	/* Loading the same file again: held. */
	CHECK(roster_store_load(s, NOW, &what, &msg) == 0 &&
	    what == ROSTER_OFFER_HELD);
	/* The floor holds against an older live roster... */
	CHECK(offer_text(s, v6, &what, &msg) == SIGNET_ERR_EXISTS);
	CHECK_CONTAINS(msg.text, "rollback");
	/* ...and a newer one replaces it, on disk too. */
	CHECK(
	    offer_text(s, v8, &what, &msg) == 0 && what == ROSTER_OFFER_TAKEN);
	{
		char *saved = slurp(path);

		CHECK(saved != NULL && strcmp(saved, v8) == 0);
		free(saved);
	}
	roster_store_free(s);
	s = NULL;

	/* A new store (a restart) reads the floor back. */
	CHECK(roster_store_new(&pinned, 1, path, true, &s, &msg) == 0);
	if (s == NULL)
		goto out;
	CHECK(roster_store_load(s, NOW, &what, &msg) == 0 &&
	    what == ROSTER_OFFER_TAKEN);
	CHECK(roster_store_version(s, sha) == 8);
	CHECK(offer_text(s, v6, &what, &msg) == SIGNET_ERR_EXISTS);
	roster_store_free(s);
	s = NULL;

	/* A file that does not verify is an error; nothing is held. */
	write_text(path, other);
	CHECK(roster_store_new(&pinned, 1, path, true, &s, &msg) == 0);
	if (s == NULL)
		goto out;
	err_clear(&msg);
	CHECKF(roster_store_load(s, NOW, &what, &msg) ==
	        SIGNET_ERR_BAD_SIGNATURE,
	    "%s", msg.text);
	CHECK(what == 0 && roster_store_version(s, sha) == 0);
	roster_store_free(s);
	s = NULL;
	write_text(path, "not json");
	CHECK(roster_store_new(&pinned, 1, path, true, &s, &msg) == 0);
	if (s == NULL)
		goto out;
	CHECK(roster_store_load(s, NOW, &what, &msg) == SIGNET_ERR_FORMAT);
	CHECK(roster_store_version(s, sha) == 0);
	roster_store_free(s);
	s = NULL;
	/* A file others may write is not trusted. */
	write_text(path, v8);
	CHECK(chmod(path, 0666) == 0);
	CHECK(roster_store_new(&pinned, 1, path, true, &s, &msg) == 0);
	if (s == NULL)
		goto out;
	CHECK(roster_store_load(s, NOW, &what, &msg) == SIGNET_ERR_PERMISSIONS);
	CHECK(roster_store_version(s, sha) == 0);
	roster_store_free(s);
	s = NULL;
	/* No path: no file. */
	CHECK(roster_store_new(&pinned, 1, NULL, true, &s, &msg) == 0);
	if (s != NULL)
		CHECK(roster_store_load(s, NOW, &what, &msg) ==
		    SIGNET_ERR_NOT_FOUND);
out:
	roster_store_free(s);
	free(expired);
	free(v6);
	free(v8);
	free(other);
}

/*
 * References: a roster a reader holds stays valid (ASan would see a use
 * after free) through any number of replacements, until released, in
 * any order.
 */
static void
test_references(void)
{
	struct roster_store *s = NULL;
	enum roster_offer what;
	struct err_msg msg;
	struct roster *a = NULL, *a2 = NULL, *b = NULL, *c = NULL;
	char sha[65];
	int64_t v;
	char *files[6];

	for (v = 0; v < 6; v++)
		files[v] = live(v + 1, v % 2 == 1);
	CHECK(roster_store_new(&pinned, 1, NULL, false, &s, &msg) == 0);
	if (s == NULL)
		goto out;
	CHECK(offer_text(s, files[0], &what, &msg) == 0);
	a = roster_store_acquire(s);
	a2 = roster_store_acquire(s);
	CHECK(a != NULL && a == a2 && a->version == 1);
	CHECK(offer_text(s, files[1], &what, &msg) == 0 &&
	    what == ROSTER_OFFER_TAKEN);
	b = roster_store_acquire(s);
	CHECK(b != NULL && b != a && b->version == 2 && b->nops == 2);
	CHECK(offer_text(s, files[2], &what, &msg) == 0);
	c = roster_store_acquire(s);
	/* Replaced twice, still readable. */
	CHECK(a->version == 1 && a->nops == 1 &&
	    strcmp(a->ops[0].name, "alice") == 0 &&
	    roster_find_key(a, op_a.pub.id) != NULL);
	CHECK(b->version == 2 && strcmp(b->ops[1].name, "bob") == 0);
	roster_store_release(s, a);
	/* One reference of a is still out. */
	CHECK(offer_text(s, files[3], &what, &msg) == 0);
	CHECK(a2->version == 1 && roster_find_name(a2, "alice") != NULL);
	roster_store_release(s, b);
	roster_store_release(s, a2);
	CHECK(c != NULL && c->version == 3 && c->nops == 1);
	CHECK(offer_text(s, files[4], &what, &msg) == 0);
	CHECK(c->version == 3);
	/* The held one, acquired and released while nothing replaces it. */
	b = roster_store_acquire(s);
	CHECK(b != NULL && b->version == 5);
	roster_store_release(s, b);
	roster_store_release(s, c);
	/* A pointer the store never gave out is ignored. */
	roster_store_release(s, (struct roster *)&msg);
	CHECK(offer_text(s, files[5], &what, &msg) == 0);
	CHECK(roster_store_version(s, sha) == 6);
	b = roster_store_acquire(s);
	CHECK(b != NULL && b->version == 6);
	roster_store_release(s, b);
out:
	roster_store_free(s);
	for (v = 0; v < 6; v++)
		free(files[v]);
}

/* k of n: one pinned signature is not enough when two are required. */
static void
test_threshold(void)
{
	struct roster_store *s = NULL;
	struct keys_pubset two;
	enum roster_offer what;
	struct err_msg msg;
	char *one = live(1, false);

	memset(&two, 0, sizeof(two));
	two.count = 2;
	two.keys[0] = rk.pub;
	two.keys[1] = rk_other.pub;
	CHECK(roster_store_new(&two, 2, NULL, false, &s, &msg) == 0);
	if (s != NULL) {
		CHECK(offer_text(s, one, &what, &msg) ==
		    SIGNET_ERR_BAD_SIGNATURE);
		CHECK(roster_store_acquire(s) == NULL);
	}
	roster_store_free(s);
	free(one);
}

struct reader {
	struct roster_store *s;
	unsigned bad;
};

/* Acquires, reads all of it and releases, over and over. */
static void *
reader_main(void *arg)
{
	struct reader *rd = arg;
	int64_t last = 0;
	unsigned i;

	for (i = 0; i < 3000; i++) {
		struct roster *r = roster_store_acquire(rd->s);

		if (r == NULL)
			continue;
		/* Versions only grow; the roster is whole while held. */
		if (r->version < last || r->nops < 1 ||
		    strcmp(r->ops[0].name, "alice") != 0 || r->file == NULL ||
		    r->file_len == 0)
			rd->bad++;
		last = r->version;
		roster_store_release(rd->s, r);
	}
	return NULL;
}

/* Readers on other threads while rosters are replaced (run under ASan). */
static void
test_threads(void)
{
	struct roster_store *s = NULL;
	struct reader rd[2];
	pthread_t t[2];
	enum roster_offer what;
	struct err_msg msg;
	bool started[2] = { false, false };
	int64_t v;
	size_t i;

	CHECK(roster_store_new(&pinned, 1, NULL, false, &s, &msg) == 0);
	if (s == NULL)
		return;
	for (i = 0; i < 2; i++) {
		rd[i].s = s;
		rd[i].bad = 0;
		started[i] = pthread_create(&t[i], NULL, reader_main, &rd[i]) ==
		    0;
		CHECK(started[i]);
	}
	for (v = 1; v <= 40; v++) {
		char *f = live(v, v % 2 == 0);

		CHECK(f != NULL && offer_text(s, f, &what, &msg) == 0 &&
		    what == ROSTER_OFFER_TAKEN);
		free(f);
	}
	for (i = 0; i < 2; i++)
		if (started[i]) {
			CHECK(pthread_join(t[i], NULL) == 0);
			CHECK(rd[i].bad == 0);
		}
	CHECK(roster_store_version(s, (char[65]){ 0 }) == 40);
	roster_store_free(s);
}

/*
 * A roster re-signed by one more admin (k-of-n) is the roster held, not
 * an equivocation; other payload bytes under the same version are.
 */
#define MS_NOW 1705000000000LL

static struct keys_secret ms_k1, ms_k2;

/* A payload of version v naming operator name, signed by key (and by
 * key2 too when not NULL), as a new file (free()). */
static char *
ms_signed_file(int v, const char *name, const struct keys_secret *key,
    const struct keys_secret *key2)
{
	char payload[400], pub[64], *one = NULL, *two = NULL;
	struct err_msg m;
	int n;

	sodium_bin2base64(pub, sizeof(pub), ms_k1.pub.pk, 32,
	    sodium_base64_VARIANT_ORIGINAL);
	n = snprintf(payload, sizeof(payload),
	    "{\"v\":1,\"version\":%d,\"issued_at\":1700000000000,"
	    "\"expires_at\":1710000000000,\"operators\":[{\"name\":\"%s\","
	    "\"key\":\"%s\",\"groups\":[],\"not_after\":9000000000000}]}",
	    v, name, pub);
	if (n < 0 || (size_t)n >= sizeof(payload))
		return NULL;
	if (roster_sign((const uint8_t *)payload, (size_t)n, key, NULL, 0, &one,
	        &m) != 0)
		return NULL;
	if (key2 == NULL)
		return one;
	if (roster_sign((const uint8_t *)payload, (size_t)n, key2,
	        (const uint8_t *)one, strlen(one), &two, &m) != 0)
		two = NULL;
	free(one);
	return two;
}

static int
ms_offer(struct roster_store *s, const char *file, enum roster_offer *what,
    struct err_msg *m)
{
	err_clear(m);
	return roster_store_offer(s, (const uint8_t *)file, strlen(file),
	    MS_NOW, what, m);
}

static void
test_more_signatures(void)
{
	struct keys_pubset set;
	struct roster_store *s = NULL;
	enum roster_offer what;
	struct err_msg m;
	char sha[65], held[65];
	char *v2 = ms_signed_file(2, "alice", &ms_k1, NULL);
	char *v2_both = ms_signed_file(2, "alice", &ms_k1, &ms_k2);
	char *v2_other = ms_signed_file(2, "mallory", &ms_k1, NULL);
	char *v1 = ms_signed_file(1, "alice", &ms_k1, NULL);
	char *v3 = ms_signed_file(3, "alice", &ms_k2, NULL);

	CHECK(v2 != NULL && v2_both != NULL && v2_other != NULL && v1 != NULL &&
	    v3 != NULL);
	if (v2 == NULL || v2_both == NULL || v2_other == NULL || v1 == NULL ||
	    v3 == NULL)
		goto out;
	CHECK(strcmp(v2, v2_both) != 0);
	memset(&set, 0, sizeof(set));
	set.keys[set.count++] = ms_k1.pub;
	set.keys[set.count++] = ms_k2.pub;
	CHECK(roster_store_new(&set, 1, NULL, false, &s, &m) == 0);
	if (s == NULL)
		goto out;

	CHECK(ms_offer(s, v2, &what, &m) == 0 && what == ROSTER_OFFER_TAKEN);
	CHECK(roster_store_version(s, held) == 2);
	CHECK(ms_offer(s, v2, &what, &m) == 0 && what == ROSTER_OFFER_HELD);

	/* More signatures over the same payload: held, the file kept. */
	CHECK(
	    ms_offer(s, v2_both, &what, &m) == 0 && what == ROSTER_OFFER_HELD);
	CHECK(roster_store_version(s, sha) == 2 && strcmp(sha, held) == 0);

	/* Other payload bytes under the same version: an equivocation. */
	CHECK(
	    ms_offer(s, v2_other, &what, &m) == SIGNET_ERR_EXISTS && what == 0);
	CHECK_CONTAINS(m.text, "differs from the held roster of that version");
	CHECK(roster_store_version(s, sha) == 2 && strcmp(sha, held) == 0);

	CHECK(ms_offer(s, v1, &what, &m) == SIGNET_ERR_EXISTS && what == 0);
	CHECK_CONTAINS(m.text, "a rollback");
	CHECK(roster_store_version(s, sha) == 2 && strcmp(sha, held) == 0);

	CHECK(ms_offer(s, v3, &what, &m) == 0 && what == ROSTER_OFFER_TAKEN);
	CHECK(roster_store_version(s, sha) == 3);
	/* The older file with two signatures is still a rollback. */
	CHECK(ms_offer(s, v2_both, &what, &m) == SIGNET_ERR_EXISTS);
	CHECK(roster_store_version(s, sha) == 3);
out:
	roster_store_free(s);
	free(v2);
	free(v2_both);
	free(v2_other);
	free(v1);
	free(v3);
}

int
main(void)
{
	char cmd[128];

	if (sodium_init() < 0 || mkdtemp(dir) == NULL)
		return 1;
	CHECK(keys_generate(&rk) == 0);
	CHECK(keys_generate(&rk_other) == 0);
	CHECK(keys_generate(&op_a) == 0);
	CHECK(keys_generate(&op_b) == 0);
	memset(&pinned, 0, sizeof(pinned));
	pinned.count = 1;
	pinned.keys[0] = rk.pub;
	test_new();
	test_offer();
	test_save();
	test_load();
	test_references();
	test_threshold();
	test_threads();
	CHECK(keys_generate(&ms_k1) == 0);
	CHECK(keys_generate(&ms_k2) == 0);
	test_more_signatures();
	keys_secret_wipe(&ms_k1);
	keys_secret_wipe(&ms_k2);
	keys_secret_wipe(&rk);
	keys_secret_wipe(&rk_other);
	keys_secret_wipe(&op_a);
	keys_secret_wipe(&op_b);
	(void)snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	CHECK(system(cmd) == 0);
	return test_finish("test_roster_store");
}
