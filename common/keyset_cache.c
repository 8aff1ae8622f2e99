/* SPDX-License-Identifier: ISC */
/*
 * The agents' trusted result keys kept between uses and checked by stat
 * (keyset_cache.h): the directories above them once per use, each host's
 * files per host, a full keyset_load at any difference.
 */
#include "keyset_cache.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "clock.h"
#include "fileio.h"

/* What is compared of a key file or retired/ (absent: present false). */
struct kc_stat {
	bool present;
	dev_t dev;
	ino_t ino;
	mode_t mode;
	uid_t uid;
	off_t size;
	struct timespec mtim;
	struct timespec ctim;
};

/* A directory from the agents directory's real path up to /. */
struct kc_dir {
	size_t len; /* of its path, a prefix of the real path */
	dev_t dev;
	ino_t ino;
	mode_t mode;
	uid_t uid;
};

struct kc_key {
	struct keyset_key k;
	struct kc_stat st; /* of the file it was read from */
};

/* One host: its keys as keyset_load gave them (keys[0] current if any). */
struct kc_entry {
	struct kc_entry *next;
	char host[KEYSET_HOST_MAX + 1];
	struct kc_stat rdir; /* retired/ */
	bool has_current;
	size_t count;
	struct kc_key keys[]; /* count */
};

struct keyset_cache {
	pthread_mutex_t mu;
	char dir[PATH_MAX];
	char rdir[PATH_MAX]; /* DIR/retired */
	int64_t settle_ms;
	size_t max;
	uint64_t full_loads;
	/*
	 * The directories above every key file, as fileio_read_trusted
	 * walks them: real is realpath(dir), chain[0] that directory,
	 * chain[nchain - 1] "/". Valid only with chain_ok; every entry was
	 * made under it, so a new chain empties the table.
	 */
	bool chain_ok;
	bool dir_is_real; /* dir is its own real path: no stat of it */
	char *real;
	struct kc_dir *chain;
	size_t nchain;
	uid_t euid;
	/* The hosts: a table of nbuckets (a power of two, or 0) chains. */
	unsigned char hkey[crypto_shorthash_KEYBYTES];
	struct kc_entry **buckets;
	size_t nbuckets;
	size_t count;
};

#define KC_BUCKETS_FIRST 64
#define KC_SETTLE_MAX_MS (24 * 3600 * 1000) /* a day: surely a mistake */

/* lstat of path: 0 (present or, ENOENT, absent), -1 on any other error. */
static int
stat_of(const char *path, struct kc_stat *out)
{
	struct stat st;

	memset(out, 0, sizeof(*out));
	if (lstat(path, &st) != 0)
		return errno == ENOENT ? 0 : -1;
	out->present = true;
	out->dev = st.st_dev;
	out->ino = st.st_ino;
	out->mode = st.st_mode;
	out->uid = st.st_uid;
	out->size = st.st_size;
	out->mtim = st.st_mtim;
	out->ctim = st.st_ctim;
	return 0;
}

static bool
stat_eq(const struct kc_stat *a, const struct kc_stat *b)
{
	if (a->present != b->present)
		return false;
	if (!a->present)
		return true;
	return a->dev == b->dev && a->ino == b->ino && a->mode == b->mode &&
	    a->uid == b->uid && a->size == b->size &&
	    a->mtim.tv_sec == b->mtim.tv_sec &&
	    a->mtim.tv_nsec == b->mtim.tv_nsec &&
	    a->ctim.tv_sec == b->ctim.tv_sec &&
	    a->ctim.tv_nsec == b->ctim.tv_nsec;
}

static bool
ts_before(const struct timespec *t, const struct timespec *limit)
{
	return t->tv_sec < limit->tv_sec ||
	    (t->tv_sec == limit->tv_sec && t->tv_nsec < limit->tv_nsec);
}

/*
 * Both stamps older than limit: a change after them, even within the
 * file system's granularity, would give a stamp of its own.
 */
static bool
settled(const struct kc_stat *st, const struct timespec *limit)
{
	return !st->present ||
	    (ts_before(&st->mtim, limit) && ts_before(&st->ctim, limit));
}

/* A trusted key file as fileio_read_trusted takes it (no link). */
static bool
file_trusted(const struct kc_stat *st)
{
	return st->present && S_ISREG(st->mode) &&
	    fileio_trusted_owner(st->uid) && fileio_trusted_file_mode(st->mode);
}

static void
chain_clear(struct keyset_cache *c)
{
	c->chain_ok = false;
	free(c->real);
	c->real = NULL;
	free(c->chain);
	c->chain = NULL;
	c->nchain = 0;
}

/*
 * Records the directories above the key files as fileio_read_trusted's
 * walk sees them: realpath of dir, then each parent up to /. Kept only
 * when every one passes its rules (owner, and not writable by group or
 * others unless sticky) and dir, as named, is that same directory.
 * Returns 0, or -1 (nothing kept: every use then reads the files).
 */
static int
chain_build(struct keyset_cache *c)
{
	char buf[PATH_MAX];
	struct stat st;
	size_t n, i, len;
	int r = -1;

	chain_clear(c);
	c->euid = geteuid();
	c->real = realpath(c->dir, NULL);
	if (c->real == NULL || c->real[0] != '/')
		goto out;
	len = strlen(c->real);
	if (len >= sizeof(buf))
		goto out;
	/* "/a/b": "/a/b", "/a" and "/": at most one more than its slashes. */
	for (n = 1, i = 0; i < len; i++)
		if (c->real[i] == '/')
			n++;
	c->chain = calloc(n, sizeof(*c->chain));
	if (c->chain == NULL)
		goto out;
	for (;;) {
		if (c->nchain >= n)
			goto out;
		memcpy(buf, c->real, len);
		buf[len] = '\0';
		if (lstat(buf, &st) != 0 || !S_ISDIR(st.st_mode) ||
		    !fileio_trusted_owner(st.st_uid) ||
		    !fileio_trusted_dir_mode(st.st_mode, false))
			goto out;
		c->chain[c->nchain].len = len;
		c->chain[c->nchain].dev = st.st_dev;
		c->chain[c->nchain].ino = st.st_ino;
		c->chain[c->nchain].mode = st.st_mode;
		c->chain[c->nchain].uid = st.st_uid;
		c->nchain++;
		if (len == 1)
			break;
		while (len > 1 && c->real[len - 1] != '/')
			len--;
		if (len > 1)
			len--; /* the '/' before the last name */
	}
	c->dir_is_real = strcmp(c->dir, c->real) == 0;
	if (!c->dir_is_real &&
	    (stat(c->dir, &st) != 0 || st.st_dev != c->chain[0].dev ||
	        st.st_ino != c->chain[0].ino))
		goto out;
	c->chain_ok = true;
	r = 0;
out:
	if (r != 0)
		chain_clear(c);
	return r;
}

/*
 * Whether the directories are as chain_build recorded them: lstat of
 * each (so none has become a link, been moved or changed mode or owner)
 * and dir as named still that directory.
 */
static bool
chain_same(struct keyset_cache *c)
{
	char buf[PATH_MAX];
	const struct kc_dir *d;
	struct stat st;
	size_t i;

	if (!c->chain_ok || geteuid() != c->euid)
		return false;
	for (i = 0; i < c->nchain; i++) {
		d = &c->chain[i];
		memcpy(buf, c->real, d->len);
		buf[d->len] = '\0';
		if (lstat(buf, &st) != 0 || st.st_dev != d->dev ||
		    st.st_ino != d->ino || st.st_mode != d->mode ||
		    st.st_uid != d->uid)
			return false;
	}
	if (!c->dir_is_real &&
	    (stat(c->dir, &st) != 0 || st.st_dev != c->chain[0].dev ||
	        st.st_ino != c->chain[0].ino))
		return false;
	return true;
}

static size_t
bucket_of(const struct keyset_cache *c, const char *host, size_t nbuckets)
{
	unsigned char h[crypto_shorthash_BYTES];
	uint64_t v = 0;
	size_t i;

	(void)crypto_shorthash(h, (const unsigned char *)host, strlen(host),
	    c->hkey);
	for (i = 0; i < sizeof(v) && i < sizeof(h); i++)
		v = (v << 8) | h[i];
	return (size_t)(v & (nbuckets - 1));
}

/* The link that points at host's entry (*link NULL: none), or NULL. */
static struct kc_entry **
find(struct keyset_cache *c, const char *host)
{
	struct kc_entry **link;

	if (c->nbuckets == 0)
		return NULL;
	link = &c->buckets[bucket_of(c, host, c->nbuckets)];
	while (*link != NULL && strcmp((*link)->host, host) != 0)
		link = &(*link)->next;
	return link;
}

static void
forget(struct keyset_cache *c, const char *host)
{
	struct kc_entry **link = find(c, host), *e;

	if (link == NULL || *link == NULL)
		return;
	e = *link;
	*link = e->next;
	free(e);
	c->count--;
}

static void
forget_all(struct keyset_cache *c)
{
	struct kc_entry *e, *next;
	size_t i;

	for (i = 0; i < c->nbuckets; i++) {
		for (e = c->buckets[i]; e != NULL; e = next) {
			next = e->next;
			free(e);
		}
		c->buckets[i] = NULL;
	}
	c->count = 0;
}

/* Doubles the table when it is fuller than one entry a bucket. */
static void
grow(struct keyset_cache *c)
{
	struct kc_entry **nb, *e, *next;
	size_t n, i, b;

	if (c->nbuckets != 0 && c->count < c->nbuckets)
		return;
	if (c->nbuckets > SIZE_MAX / 2 / sizeof(*nb))
		return;
	n = c->nbuckets == 0 ? KC_BUCKETS_FIRST : c->nbuckets * 2;
	nb = calloc(n, sizeof(*nb));
	if (nb == NULL)
		return; /* longer chains, still right */
	for (i = 0; i < c->nbuckets; i++) {
		for (e = c->buckets[i]; e != NULL; e = next) {
			next = e->next;
			b = bucket_of(c, e->host, n);
			e->next = nb[b];
			nb[b] = e;
		}
	}
	free(c->buckets);
	c->buckets = nb;
	c->nbuckets = n;
}

/* Adds e (host not in the table); frees it when there is no room. */
static void
insert(struct keyset_cache *c, struct kc_entry *e)
{
	size_t b;

	if (c->count >= c->max) {
		free(e);
		return;
	}
	grow(c);
	if (c->nbuckets == 0) {
		free(e);
		return;
	}
	b = bucket_of(c, e->host, c->nbuckets);
	e->next = c->buckets[b];
	c->buckets[b] = e;
	c->count++;
}

static int
key_path(const struct keyset_cache *c, const char *host, char *buf, size_t len)
{
	int n = snprintf(buf, len, "%s/%s.pub", c->dir, host);

	return n < 0 || (size_t)n >= len ? -1 : 0;
}

static int
retired_path(const struct keyset_cache *c, const char *host, const char *stamp,
    char *buf, size_t len)
{
	int n = snprintf(buf, len, "%s/%s.%s.pub", c->rdir, host, stamp);

	return n < 0 || (size_t)n >= len ? -1 : 0;
}

/* Whether host's files are as when e was made (chain_same checked). */
static bool
entry_same(const struct keyset_cache *c, const struct kc_entry *e)
{
	char path[PATH_MAX];
	struct kc_stat st;
	size_t i;

	if (key_path(c, e->host, path, sizeof(path)) != 0 ||
	    stat_of(path, &st) != 0)
		return false;
	/* No current key: HOST.pub must still be absent. */
	if (e->has_current ? !stat_eq(&st, &e->keys[0].st) : st.present)
		return false;
	if (stat_of(c->rdir, &st) != 0 || !stat_eq(&st, &e->rdir))
		return false;
	for (i = e->has_current ? 1 : 0; i < e->count; i++) {
		if (retired_path(c, e->host, e->keys[i].k.stamp, path,
		        sizeof(path)) != 0 ||
		    stat_of(path, &st) != 0 || !stat_eq(&st, &e->keys[i].st))
			return false;
	}
	return true;
}

/*
 * An entry for ks, which keyset_load gave after the stats cur and rdir
 * (made before it began at t0_ms, and again after it, the same): NULL
 * when it may not be kept (a stamp too new, a file not as the rules
 * want it, a retired file that cannot be examined, no memory).
 */
static struct kc_entry *
entry_make(const struct keyset_cache *c, const struct keyset *ks,
    const struct kc_stat *cur, const struct kc_stat *rdir, int64_t t0_ms)
{
	struct kc_entry *e = NULL, *kept = NULL;
	struct timespec limit;
	char path[PATH_MAX];
	int64_t lim_ms;
	size_t i;

	if (t0_ms <= c->settle_ms || ks->count == 0 ||
	    ks->count > 1 + KEYSET_RETIRED_MAX ||
	    ks->has_current != cur->present)
		goto out;
	lim_ms = t0_ms - c->settle_ms;
	limit.tv_sec = (time_t)(lim_ms / 1000);
	limit.tv_nsec = (long)(lim_ms % 1000) * 1000000L;
	if (!settled(cur, &limit) || !settled(rdir, &limit))
		goto out;
	if (cur->present && !file_trusted(cur))
		goto out;
	/* retired/ is checked strictly: sticky is not enough for it. */
	if (rdir->present &&
	    (!S_ISDIR(rdir->mode) || !fileio_trusted_owner(rdir->uid) ||
	        !fileio_trusted_dir_mode(rdir->mode, true)))
		goto out;
	if (!rdir->present && ks->count != (ks->has_current ? 1u : 0u))
		goto out;
	e = calloc(1, sizeof(*e) + ks->count * sizeof(e->keys[0]));
	if (e == NULL)
		goto out;
	memcpy(e->host, ks->host, sizeof(e->host));
	e->rdir = *rdir;
	e->has_current = ks->has_current;
	e->count = ks->count;
	for (i = 0; i < ks->count; i++) {
		e->keys[i].k = ks->keys[i];
		if (i == 0 && ks->has_current) {
			e->keys[i].st = *cur;
			continue;
		}
		/*
		 * Made after the load: that retired/ did not change across
		 * it means this name was the file read, and a stamp older
		 * than t0 that its contents have not changed since.
		 */
		if (retired_path(c, ks->host, ks->keys[i].stamp, path,
		        sizeof(path)) != 0 ||
		    stat_of(path, &e->keys[i].st) != 0 ||
		    !file_trusted(&e->keys[i].st) ||
		    !settled(&e->keys[i].st, &limit))
			goto out;
	}
	kept = e;
	e = NULL;
out:
	free(e);
	return kept;
}

/* The stats of host's current key file and of retired/. 0 or -1. */
static int
host_stats(const struct keyset_cache *c, const char *host, struct kc_stat *cur,
    struct kc_stat *rdir)
{
	char path[PATH_MAX];

	if (key_path(c, host, path, sizeof(path)) != 0 ||
	    stat_of(path, cur) != 0 || stat_of(c->rdir, rdir) != 0)
		return -1;
	return 0;
}

/*
 * keyset_load, and an entry for its success when everything it looked
 * at was the same before and after and is settled (under c->mu).
 */
static int
load_full(struct keyset_cache *c, const char *host, struct keyset *out,
    struct err_msg *msg)
{
	struct kc_stat cur0, rdir0, cur1, rdir1;
	struct kc_entry *e = NULL;
	bool keep;
	int64_t t0;
	int r;

	t0 = clock_wall_ms();
	keep = t0 > 0 && (c->chain_ok || chain_build(c) == 0) &&
	    host_stats(c, host, &cur0, &rdir0) == 0;
	c->full_loads++;
	r = keyset_load(c->dir, host, true, out, msg);
	forget(c, host);
	if (r != 0)
		return r;
	keep = keep && chain_same(c) &&
	    host_stats(c, host, &cur1, &rdir1) == 0 && stat_eq(&cur0, &cur1) &&
	    stat_eq(&rdir0, &rdir1);
	if (keep)
		e = entry_make(c, out, &cur1, &rdir1, t0);
	if (e != NULL)
		insert(c, e);
	return 0;
}

int
keyset_cache_new(const char *dir, size_t max_hosts, int64_t settle_ms,
    struct keyset_cache **out, struct err_msg *msg)
{
	struct keyset_cache *c = NULL;
	int n, r;

	*out = NULL;
	if (dir == NULL || max_hosts == 0 ||
	    max_hosts > KEYSET_CACHE_HOSTS_MAX || settle_ms < 1 ||
	    settle_ms > KC_SETTLE_MAX_MS) {
		r = err_set(msg, SIGNET_ERR_INVALID_ARG,
		    "keyset cache: bad directory or bounds");
		goto out;
	}
	if (sodium_init() < 0) {
		r = err_set(msg, SIGNET_ERR_CRYPTO,
		    "keyset cache: libsodium unusable");
		goto out;
	}
	c = calloc(1, sizeof(*c));
	if (c == NULL) {
		r = err_set(msg, SIGNET_ERR_ALLOC, "out of memory");
		goto out;
	}
	n = snprintf(c->dir, sizeof(c->dir), "%s", dir);
	if (n >= 0 && (size_t)n < sizeof(c->dir))
		n = snprintf(c->rdir, sizeof(c->rdir), "%s/%s", dir,
		    KEYSET_RETIRED_DIR);
	if (n < 0 || (size_t)n >= sizeof(c->rdir)) {
		r = err_set(msg, SIGNET_ERR_INVALID_ARG, "%s: path too long",
		    dir);
		goto out;
	}
	if (pthread_mutex_init(&c->mu, NULL) != 0) {
		r = err_set(msg, SIGNET_ERR_INTERNAL,
		    "keyset cache: cannot initialise a lock");
		goto out;
	}
	c->settle_ms = settle_ms;
	c->max = max_hosts;
	crypto_shorthash_keygen(c->hkey);
	*out = c;
	c = NULL;
	r = 0;
out:
	free(c);
	return r;
}

void
keyset_cache_free(struct keyset_cache *c)
{
	if (c == NULL)
		return;
	forget_all(c);
	free(c->buckets);
	chain_clear(c);
	(void)pthread_mutex_destroy(&c->mu);
	free(c);
}

int
keyset_cache_load(struct keyset_cache *c, const char *host, struct keyset *out,
    struct err_msg *msg)
{
	struct kc_entry **link = NULL, *e;
	size_t i;
	int r;

	memset(out, 0, sizeof(*out));
	if (c == NULL)
		return err_set(msg, SIGNET_ERR_INVALID_ARG, "no keyset cache");
	/* keyset_load says what is wrong with such a host id. */
	if (host == NULL ||
	    strnlen(host, KEYSET_HOST_MAX + 1) > KEYSET_HOST_MAX)
		return keyset_load(c->dir, host, true, out, msg);
	(void)pthread_mutex_lock(&c->mu);
	if (c->chain_ok && !chain_same(c)) {
		/* Every entry was made under the old directories. */
		chain_clear(c);
		forget_all(c);
	}
	if (c->chain_ok)
		link = find(c, host);
	e = link != NULL ? *link : NULL;
	if (e == NULL || !entry_same(c, e)) {
		r = load_full(c, host, out, msg);
		goto out;
	}
	memcpy(out->host, e->host, sizeof(out->host));
	out->has_current = e->has_current;
	out->count = e->count;
	for (i = 0; i < e->count; i++)
		out->keys[i] = e->keys[i].k;
	r = 0;
out:
	(void)pthread_mutex_unlock(&c->mu);
	return r;
}

uint64_t
keyset_cache_full_loads(struct keyset_cache *c)
{
	uint64_t n;

	if (c == NULL)
		return 0;
	(void)pthread_mutex_lock(&c->mu);
	n = c->full_loads;
	(void)pthread_mutex_unlock(&c->mu);
	return n;
}

size_t
keyset_cache_count(struct keyset_cache *c)
{
	size_t n;

	if (c == NULL)
		return 0;
	(void)pthread_mutex_lock(&c->mu);
	n = c->count;
	(void)pthread_mutex_unlock(&c->mu);
	return n;
}
