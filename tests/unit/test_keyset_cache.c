/* SPDX-License-Identifier: ISC */
/*
 * The kept result keys (common/keyset_cache.h): a kept host is not read
 * again, yet every rotation, rewrite in place, chmod, chown, link or
 * removal is seen at the next load, with keyset_load's own answer.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "keyset.h"
#include "keyset_cache.h"
#include "testlib.h"

/* Short, so that the test need not wait long for stamps to settle. */
#define SETTLE_MS 150
#define DAY_MS (24 * 3600 * 1000) /* the longest settle time */

static char root[] = "/tmp/signet-test-keyset-cache.XXXXXX";
static char agents[512];

static const char *
path_of(const char *name)
{
	static char buf[4][600];
	static int i;

	i = (i + 1) % 4;
	(void)snprintf(buf[i], sizeof(buf[i]), "%s/%s", agents, name);
	return buf[i];
}

/* Writes a new key's public half into the file at p as it is (in place). */
static void
write_key(const char *p, int flags, char id[static KEYS_ID_LEN + 1])
{
	struct keys_secret k;
	char b64[sodium_base64_ENCODED_LEN(KEYS_PUBLIC_LEN,
	    sodium_base64_VARIANT_ORIGINAL)];
	size_t len;
	int fd;

	CHECK(keys_generate(&k) == 0);
	sodium_bin2base64(b64, sizeof(b64), k.pub.pk, KEYS_PUBLIC_LEN,
	    sodium_base64_VARIANT_ORIGINAL);
	memcpy(id, k.pub.id, KEYS_ID_LEN + 1);
	keys_secret_wipe(&k);
	len = strlen(b64);
	b64[len] = '\n'; /* the NUL: base64 of 32 bytes is always 44 */
	fd = open(p, O_WRONLY | O_CLOEXEC | flags, 0644);
	CHECKF(fd >= 0, "%s: %s", p, strerror(errno));
	if (fd < 0)
		return;
	CHECK(write(fd, b64, len + 1) == (ssize_t)(len + 1));
	CHECK(close(fd) == 0);
}

/* A new key file NAME (mode 0644). */
static void
put_key(const char *name, char id[static KEYS_ID_LEN + 1])
{
	const char *p = path_of(name);

	(void)unlink(p);
	write_key(p, O_CREAT | O_EXCL, id);
}

/*
 * Rewrites NAME in place with a new key (same size, same inode) and puts
 * its mtime back: only its ctime says that it changed.
 */
static void
rewrite_key(const char *name, char id[static KEYS_ID_LEN + 1])
{
	const char *p = path_of(name);
	struct timespec ts[2];
	struct stat before, after;

	CHECK(stat(p, &before) == 0);
	write_key(p, O_TRUNC, id);
	ts[0] = before.st_atim;
	ts[1] = before.st_mtim;
	CHECK(utimensat(AT_FDCWD, p, ts, AT_SYMLINK_NOFOLLOW) == 0);
	CHECK(stat(p, &after) == 0);
	CHECK(after.st_ino == before.st_ino &&
	    after.st_size == before.st_size &&
	    after.st_mtim.tv_sec == before.st_mtim.tv_sec &&
	    after.st_mtim.tv_nsec == before.st_mtim.tv_nsec);
}

/* Waits until every stamp made so far is old enough to be kept. */
static void
settle(void)
{
	struct timespec ts = { 0, (SETTLE_MS + 100) * 1000000L };

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

static bool
keysets_equal(const struct keyset *a, const struct keyset *b)
{
	size_t i;

	if (strcmp(a->host, b->host) != 0 || a->has_current != b->has_current ||
	    a->count != b->count)
		return false;
	for (i = 0; i < a->count; i++) {
		const struct keyset_key *x = &a->keys[i], *y = &b->keys[i];
		if (memcmp(x->pub.pk, y->pub.pk, KEYS_PUBLIC_LEN) != 0 ||
		    strcmp(x->pub.id, y->pub.id) != 0 ||
		    x->retired != y->retired ||
		    x->retired_at != y->retired_at ||
		    strcmp(x->stamp, y->stamp) != 0)
			return false;
	}
	return true;
}

/*
 * Loads host through c and with keyset_load: the same code, message and
 * keys. Returns the code; *ks the cache's keys.
 */
static int
load_both(struct keyset_cache *c, const char *host, struct keyset *ks, int line)
{
	struct keyset direct;
	struct err_msg m1, m2;
	int r1, r2;

	err_clear(&m1);
	err_clear(&m2);
	r1 = keyset_cache_load(c, host, ks, &m1);
	r2 = keyset_load(agents, host, true, &direct, &m2);
	CHECKF(r1 == r2, "line %d: cache %d, keyset_load %d (%s / %s)", line,
	    r1, r2, m1.text, m2.text);
	CHECKF(r1 != 0 || keysets_equal(ks, &direct), "line %d: other keys",
	    line);
	CHECKF(r1 == 0 || strcmp(m1.text, m2.text) == 0,
	    "line %d: \"%s\" != \"%s\"", line, m1.text, m2.text);
	CHECKF(r1 == 0 || ks->count == 0, "line %d: keys left", line);
	return r1;
}
#define LOAD(c, host, ks) load_both((c), (host), (ks), __LINE__)

/*
 * Makes sure host is kept: its stamps settled, one load to keep it, then
 * one that must not read the files.
 */
static void
kept(struct keyset_cache *c, const char *host, int line)
{
	struct keyset ks;
	uint64_t n;

	settle();
	CHECKF(load_both(c, host, &ks, line) == 0, "line %d", line);
	n = keyset_cache_full_loads(c);
	CHECKF(load_both(c, host, &ks, line) == 0, "line %d", line);
	CHECKF(keyset_cache_full_loads(c) == n,
	    "line %d: a settled host was read again", line);
}
#define KEPT(c, host) kept((c), (host), __LINE__)

/* The point of it: loads of an unchanged host do not read the files. */
static void
test_kept(struct keyset_cache *c)
{
	char cur[KEYS_ID_LEN + 1], old[KEYS_ID_LEN + 1];
	struct keyset_cache *fresh = NULL;
	struct keyset ks;
	struct err_msg msg;
	uint64_t n;
	int i;

	put_key("web-01.pub", cur);
	put_key("retired/web-01.20250101T000000Z.pub", old);
	settle();
	n = keyset_cache_full_loads(c);
	CHECK(LOAD(c, "web-01", &ks) == 0);
	CHECK(keyset_cache_full_loads(c) == n + 1);
	CHECK(keyset_cache_count(c) == 1);
	for (i = 0; i < 100; i++)
		CHECK(LOAD(c, "web-01", &ks) == 0);
	CHECKF(keyset_cache_full_loads(c) == n + 1,
	    "100 loads of a kept host read the files %llu times",
	    (unsigned long long)(keyset_cache_full_loads(c) - n - 1));
	CHECK(ks.has_current && ks.count == 2 &&
	    strcmp(ks.keys[0].pub.id, cur) == 0 &&
	    strcmp(ks.keys[1].pub.id, old) == 0 && ks.keys[1].retired &&
	    strcmp(ks.keys[1].stamp, "20250101T000000Z") == 0);

	/*
	 * Files written less than the settle time before a load are not
	 * kept. A cache whose settle time is a day shows it however slow
	 * this machine is between the write and the loads.
	 */
	put_key("web-02.pub", cur);
	CHECK(keyset_cache_new(agents, 16, DAY_MS, &fresh, &msg) == 0);
	CHECK(LOAD(fresh, "web-02", &ks) == 0);
	CHECK(LOAD(fresh, "web-02", &ks) == 0);
	CHECK(keyset_cache_full_loads(fresh) == 2);
	keyset_cache_free(fresh);
	CHECK(unlink(path_of("web-02.pub")) == 0);
}

static void
test_rotation(struct keyset_cache *c)
{
	char cur[KEYS_ID_LEN + 1], next[KEYS_ID_LEN + 1];
	char older[KEYS_ID_LEN + 1], id[KEYS_ID_LEN + 1];
	struct keyset ks;
	const struct keyset_key *k;

	put_key("db.pub", cur);
	KEPT(c, "db");
	CHECK(LOAD(c, "db", &ks) == 0 && ks.count == 1);

	/* Rotation by rename: the old key retired, a new one in place. */
	put_key("db.pub.tmp", next);
	CHECK(rename(path_of("db.pub"),
	          path_of("retired/db.20260101T000000Z.pub")) == 0);
	CHECK(rename(path_of("db.pub.tmp"), path_of("db.pub")) == 0);
	CHECK(LOAD(c, "db", &ks) == 0);
	CHECK(ks.count == 2 && strcmp(ks.keys[0].pub.id, next) == 0);
	k = keyset_find(&ks, cur);
	CHECK(k != NULL && k->retired);

	/* In place, same size, mtime put back: only ctime changed. */
	KEPT(c, "db");
	rewrite_key("db.pub", next);
	CHECK(LOAD(c, "db", &ks) == 0 && strcmp(ks.keys[0].pub.id, next) == 0);
	/* Again at once, within the same stamp granule, most likely. */
	rewrite_key("db.pub", next);
	CHECK(LOAD(c, "db", &ks) == 0 && strcmp(ks.keys[0].pub.id, next) == 0);
	rewrite_key("db.pub", next);
	CHECK(LOAD(c, "db", &ks) == 0 && strcmp(ks.keys[0].pub.id, next) == 0);

	/* A new retired file of this host, then one of another host. */
	KEPT(c, "db");
	put_key("retired/db.20240101T000000Z.pub", older);
	CHECK(LOAD(c, "db", &ks) == 0 && ks.count == 3 &&
	    keyset_find(&ks, older) != NULL);
	KEPT(c, "db");
	put_key("retired/db-2.20240101T000000Z.pub", id);
	CHECK(LOAD(c, "db", &ks) == 0 && ks.count == 3 &&
	    keyset_find(&ks, id) == NULL);

	/* A retired file rewritten in place. */
	KEPT(c, "db");
	rewrite_key("retired/db.20240101T000000Z.pub", id);
	CHECK(LOAD(c, "db", &ks) == 0 && keyset_find(&ks, id) != NULL &&
	    keyset_find(&ks, older) == NULL);

	/* A retired key removed; then the current one: retired ones only. */
	KEPT(c, "db");
	CHECK(unlink(path_of("retired/db.20240101T000000Z.pub")) == 0);
	CHECK(LOAD(c, "db", &ks) == 0 && ks.count == 2);
	KEPT(c, "db");
	CHECK(unlink(path_of("db.pub")) == 0);
	CHECK(LOAD(c, "db", &ks) == 0 && !ks.has_current && ks.count == 1);
	/* ... and kept so; a new current key is seen. */
	KEPT(c, "db");
	put_key("db.pub", cur);
	CHECK(LOAD(c, "db", &ks) == 0 && ks.has_current &&
	    strcmp(ks.keys[0].pub.id, cur) == 0);
}

/* Each row: chmod path to mode; the next load; then mode back. */
static void
test_modes(struct keyset_cache *c)
{
	static const struct {
		const char *what; /* under agents; "" agents, ".." root */
		mode_t mode, back;
		int want;
	} rows[] = {
		{ "web-01.pub", 0664, 0644, SIGNET_ERR_PERMISSIONS },
		{ "web-01.pub", 0646, 0644, SIGNET_ERR_PERMISSIONS },
		{ "web-01.pub", 0600, 0644, 0 },
		{ "retired", 0775, 0755, SIGNET_ERR_PERMISSIONS },
		{ "retired", 0757, 0755, SIGNET_ERR_PERMISSIONS },
		{ "retired", 01777, 0755, SIGNET_ERR_PERMISSIONS },
		{ "retired/web-01.20250101T000000Z.pub", 0664, 0644,
		    SIGNET_ERR_PERMISSIONS },
		{ "", 0775, 0755, SIGNET_ERR_PERMISSIONS },
		{ "", 0757, 0755, SIGNET_ERR_PERMISSIONS },
		{ "", 01777, 0755, 0 }, /* sticky: allowed above a file */
		{ "..", 0775, 0755, SIGNET_ERR_PERMISSIONS },
		{ "..", 0757, 0755, SIGNET_ERR_PERMISSIONS },
	};
	struct keyset ks;
	const char *p;
	size_t i;
	int r;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		p = rows[i].what[0] == '\0' ? agents : path_of(rows[i].what);
		KEPT(c, "web-01");
		CHECK(chmod(p, rows[i].mode) == 0);
		r = LOAD(c, "web-01", &ks);
		CHECKF(r == rows[i].want, "%s mode %04o: %d", rows[i].what,
		    (unsigned)rows[i].mode, r);
		/* The refusal holds while the mode does. */
		r = LOAD(c, "web-01", &ks);
		CHECKF(r == rows[i].want, "%s mode %04o: %d", rows[i].what,
		    (unsigned)rows[i].mode, r);
		CHECK(chmod(p, rows[i].back) == 0);
		CHECK(LOAD(c, "web-01", &ks) == 0);
	}
}

/* Owners (as root only), links and removal. */
static void
test_swaps(struct keyset_cache *c)
{
	char id[KEYS_ID_LEN + 1], other[KEYS_ID_LEN + 1], cmd[700];
	struct err_msg msg;
	struct keyset ks;
	size_t i;
	static const char *owned[] = { "web-01.pub", "retired", "", ".." };

	if (geteuid() == 0) {
		for (i = 0; i < sizeof(owned) / sizeof(owned[0]); i++) {
			const char *p = owned[i][0] == '\0' ? agents :
			                                      path_of(owned[i]);
			KEPT(c, "web-01");
			CHECK(lchown(p, 4242, (gid_t)-1) == 0);
			CHECKF(LOAD(c, "web-01", &ks) == SIGNET_ERR_PERMISSIONS,
			    "%s owned by 4242", owned[i]);
			CHECK(lchown(p, 0, (gid_t)-1) == 0);
			CHECK(LOAD(c, "web-01", &ks) == 0);
		}
	}

	/* HOST.pub made a symbolic link to a good key file. */
	KEPT(c, "web-01");
	put_key("elsewhere.pub", other);
	CHECK(rename(path_of("web-01.pub"), path_of("web-01.pub.bak")) == 0);
	CHECK(symlink(path_of("elsewhere.pub"), path_of("web-01.pub")) == 0);
	CHECK(LOAD(c, "web-01", &ks) == SIGNET_ERR_PERMISSIONS);
	CHECK(unlink(path_of("web-01.pub")) == 0);
	CHECK(rename(path_of("web-01.pub.bak"), path_of("web-01.pub")) == 0);
	CHECK(LOAD(c, "web-01", &ks) == 0);

	/* retired/ made a link to a copy of itself. */
	KEPT(c, "web-01");
	(void)snprintf(cmd, sizeof(cmd), "cp -a %s %s", path_of("retired"),
	    path_of("retired.copy"));
	CHECK(system(cmd) == 0);
	CHECK(rename(path_of("retired"), path_of("retired.real")) == 0);
	CHECK(symlink(path_of("retired.copy"), path_of("retired")) == 0);
	CHECK(LOAD(c, "web-01", &ks) == SIGNET_ERR_PERMISSIONS);
	CHECK(unlink(path_of("retired")) == 0);
	CHECK(rename(path_of("retired.real"), path_of("retired")) == 0);
	CHECK(LOAD(c, "web-01", &ks) == 0);

	/* Too many retired keys; a bad key file. */
	KEPT(c, "web-01");
	for (i = 0; i < KEYSET_RETIRED_MAX; i++) {
		char name[80];
		(void)snprintf(name, sizeof(name),
		    "retired/web-01.201901%02zuT000000Z.pub", i + 1);
		put_key(name, id);
	}
	CHECK(LOAD(c, "web-01", &ks) == SIGNET_ERR_TOO_LARGE);
	(void)snprintf(cmd, sizeof(cmd), "rm -f %s/retired/web-01.201901*",
	    agents);
	CHECK(system(cmd) == 0);
	CHECK(LOAD(c, "web-01", &ks) == 0);
	KEPT(c, "web-01");
	{
		int fd = open(path_of("web-01.pub"), O_WRONLY | O_TRUNC);
		CHECK(fd >= 0 && write(fd, "not base64!\n", 12) == 12);
		CHECK(fd < 0 || close(fd) == 0);
	}
	CHECK(LOAD(c, "web-01", &ks) != 0);
	CHECK(LOAD(c, "web-01", &ks) != 0);

	/* No key at all: not found; a bad host id. */
	CHECK(unlink(path_of("web-01.pub")) == 0);
	(void)snprintf(cmd, sizeof(cmd), "rm -f %s/retired/web-01.*", agents);
	CHECK(system(cmd) == 0);
	CHECK(LOAD(c, "web-01", &ks) == SIGNET_ERR_NOT_FOUND);
	CHECK(LOAD(c, "../web-01", &ks) == SIGNET_ERR_INVALID_ARG);
	CHECK(LOAD(c, "", &ks) == SIGNET_ERR_INVALID_ARG);
	err_clear(&msg);
	CHECK(keyset_cache_load(c, NULL, &ks, &msg) == SIGNET_ERR_INVALID_ARG);
	CHECK(keyset_cache_load(NULL, "web-01", &ks, &msg) ==
	    SIGNET_ERR_INVALID_ARG);
	put_key("web-01.pub", id);
	put_key("retired/web-01.20250101T000000Z.pub", id);
	CHECK(LOAD(c, "web-01", &ks) == 0);
}

/*
 * The agents directory named through a link: the link pointed at another
 * directory is seen at once.
 */
static void
test_link_dir(void)
{
	char link[600], dir2[600], id1[KEYS_ID_LEN + 1], id2[KEYS_ID_LEN + 1];
	struct keyset_cache *c = NULL;
	struct err_msg msg;
	struct keyset ks;
	uint64_t n;

	(void)snprintf(link, sizeof(link), "%s/agents.link", root);
	(void)snprintf(dir2, sizeof(dir2), "%s/agents2", root);
	CHECK(mkdir(dir2, 0755) == 0);
	CHECK(symlink(agents, link) == 0);
	put_key("lnk.pub", id1);
	{
		char p[700];
		(void)snprintf(p, sizeof(p), "%s/lnk.pub", dir2);
		write_key(p, O_CREAT | O_EXCL, id2);
	}
	CHECK(keyset_cache_new(link, 16, SETTLE_MS, &c, &msg) == 0);
	settle();
	CHECK(keyset_cache_load(c, "lnk", &ks, &msg) == 0);
	n = keyset_cache_full_loads(c);
	CHECK(keyset_cache_load(c, "lnk", &ks, &msg) == 0 &&
	    strcmp(ks.keys[0].pub.id, id1) == 0);
	CHECK(keyset_cache_full_loads(c) == n);
	CHECK(unlink(link) == 0);
	CHECK(symlink(dir2, link) == 0);
	CHECK(keyset_cache_load(c, "lnk", &ks, &msg) == 0 &&
	    strcmp(ks.keys[0].pub.id, id2) == 0);
	/* The directory now behind the link writable by others. */
	CHECK(chmod(dir2, 0757) == 0);
	CHECK(keyset_cache_load(c, "lnk", &ks, &msg) == SIGNET_ERR_PERMISSIONS);
	CHECK(chmod(dir2, 0755) == 0);
	keyset_cache_free(c);
	CHECK(unlink(path_of("lnk.pub")) == 0);
}

/* Bounds: hosts beyond max_hosts are loaded, not kept. */
static void
test_bounds(void)
{
	struct keyset_cache *c = NULL;
	struct err_msg msg;
	struct keyset ks;
	char id[KEYS_ID_LEN + 1];
	uint64_t n;

	CHECK(keyset_cache_new(agents, 0, SETTLE_MS, &c, &msg) ==
	    SIGNET_ERR_INVALID_ARG);
	CHECK(keyset_cache_new(agents, KEYSET_CACHE_HOSTS_MAX + 1, SETTLE_MS,
	          &c, &msg) == SIGNET_ERR_INVALID_ARG);
	CHECK(
	    keyset_cache_new(agents, 1, 0, &c, &msg) == SIGNET_ERR_INVALID_ARG);
	CHECK(keyset_cache_new(NULL, 1, SETTLE_MS, &c, &msg) ==
	    SIGNET_ERR_INVALID_ARG);
	CHECK(c == NULL);
	CHECK(keyset_cache_new(agents, 1, SETTLE_MS, &c, &msg) == 0);
	put_key("b1.pub", id);
	put_key("b2.pub", id);
	settle();
	CHECK(keyset_cache_load(c, "b1", &ks, &msg) == 0);
	CHECK(keyset_cache_load(c, "b2", &ks, &msg) == 0);
	CHECK(keyset_cache_count(c) == 1);
	n = keyset_cache_full_loads(c);
	CHECK(keyset_cache_load(c, "b2", &ks, &msg) == 0 &&
	    strcmp(ks.keys[0].pub.id, id) == 0);
	CHECK(keyset_cache_full_loads(c) == n + 1);
	keyset_cache_free(c);
	keyset_cache_free(NULL);
	CHECK(unlink(path_of("b1.pub")) == 0);
	CHECK(unlink(path_of("b2.pub")) == 0);
}

int
main(void)
{
	struct keyset_cache *c = NULL;
	struct err_msg msg;
	char cmd[600];

	if (sodium_init() < 0 || mkdtemp(root) == NULL)
		return 1;
	/* The trusted checks want directories of this user, not writable. */
	(void)snprintf(agents, sizeof(agents), "%s/agents", root);
	if (chmod(root, 0755) != 0 || mkdir(agents, 0755) != 0 ||
	    mkdir(path_of("retired"), 0755) != 0)
		return 1;
	CHECK(keyset_cache_new(agents, 64, SETTLE_MS, &c, &msg) == 0);
	test_kept(c);
	test_rotation(c);
	test_modes(c);
	test_swaps(c);
	keyset_cache_free(c);
	test_link_dir();
	test_bounds();
	(void)snprintf(cmd, sizeof(cmd), "rm -rf %s", root);
	CHECK(system(cmd) == 0);
	return test_finish("test_keyset_cache");
}
