/* SPDX-License-Identifier: ISC */
/*
 * An agent's current and retired result keys (keyset.h): the names of
 * retired/ parsed strictly, every key file read as the caller trusts it,
 * the retired keys bounded, and the rule for a retired key's signature.
 */
#include "keyset.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "fileio.h"
#include "log.h"
#include "text.h"

#define SUFFIX ".pub"
#define SUFFIX_LEN 4

/* Two decimal digits at s; -1 when they are not. */
static int
two(const char *s)
{
	if (s[0] < '0' || s[0] > '9' || s[1] < '0' || s[1] > '9')
		return -1;
	return (s[0] - '0') * 10 + (s[1] - '0');
}

/* YYYYMMDDTHHMMSSZ (exactly KEYSET_STAMP_LEN bytes) to unix seconds. */
static int
parse_stamp(const char *s, int64_t *out)
{
	int v[7], i;
	struct tm tm, back;
	time_t t;

	*out = 0;
	if (s[8] != 'T' || s[15] != 'Z')
		return SIGNET_ERR_FORMAT;
	v[0] = two(s);
	v[1] = two(s + 2);
	v[2] = two(s + 4);
	v[3] = two(s + 6);
	v[4] = two(s + 9);
	v[5] = two(s + 11);
	v[6] = two(s + 13);
	for (i = 0; i < 7; i++)
		if (v[i] < 0)
			return SIGNET_ERR_FORMAT;
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = v[0] * 100 + v[1] - 1900;
	tm.tm_mon = v[2] - 1;
	tm.tm_mday = v[3];
	tm.tm_hour = v[4];
	tm.tm_min = v[5];
	tm.tm_sec = v[6];
	if (tm.tm_year < 70 || tm.tm_mon < 0 || tm.tm_mon > 11 ||
	    tm.tm_mday < 1 || tm.tm_hour > 23 || tm.tm_min > 59 ||
	    tm.tm_sec > 59)
		return SIGNET_ERR_FORMAT;
	back = tm;
	t = timegm(&back);
	/* timegm normalises 31 February: a real time comes back unchanged. */
	if (t == (time_t)-1 || back.tm_mday != tm.tm_mday ||
	    back.tm_mon != tm.tm_mon || back.tm_year != tm.tm_year)
		return SIGNET_ERR_FORMAT;
	*out = (int64_t)t;
	return 0;
}

int
keyset_parse_retired_name(const char *name, char *host, size_t hostlen,
    int64_t *retired_at)
{
	size_t len, hlen;
	const char *stamp;

	*retired_at = 0;
	if (hostlen > 0)
		host[0] = '\0';
	if (name == NULL)
		return SIGNET_ERR_FORMAT;
	len = strlen(name);
	/* "H" "." STAMP ".pub" */
	if (len < 1 + 1 + KEYSET_STAMP_LEN + SUFFIX_LEN ||
	    strcmp(name + len - SUFFIX_LEN, SUFFIX) != 0)
		return SIGNET_ERR_FORMAT;
	stamp = name + len - SUFFIX_LEN - KEYSET_STAMP_LEN;
	if (stamp[-1] != '.')
		return SIGNET_ERR_FORMAT;
	hlen = (size_t)(stamp - 1 - name);
	if (hlen == 0 || hlen > KEYSET_HOST_MAX || hlen >= hostlen)
		return SIGNET_ERR_FORMAT;
	if (parse_stamp(stamp, retired_at) != 0)
		return SIGNET_ERR_FORMAT;
	memcpy(host, name, hlen);
	host[hlen] = '\0';
	if (!text_valid_name(host)) {
		host[0] = '\0';
		*retired_at = 0;
		return SIGNET_ERR_FORMAT;
	}
	return 0;
}

static int
load_one(const char *path, bool trusted, const char *what,
    struct keys_public *out, struct err_msg *msg)
{
	return trusted ? keys_load_public_trusted(path, what, out, msg) :
	                 keys_load_public(path, out, msg);
}

/* Newest first; equal stamps by key id, so the order is stable. */
static int
cmp_retired(const void *a, const void *b)
{
	const struct keyset_key *x = a, *y = b;

	if (x->retired_at != y->retired_at)
		return x->retired_at > y->retired_at ? -1 : 1;
	return strcmp(x->pub.id, y->pub.id);
}

/* Adds DIR/retired/NAME (already parsed as host's) to out. */
static int
add_retired(const char *rdir, const char *name, int64_t at, bool trusted,
    struct keyset *out, struct err_msg *msg)
{
	struct keyset_key *k;
	char path[PATH_MAX];
	int n, r;

	if (out->count - (out->has_current ? 1 : 0) >= KEYSET_RETIRED_MAX)
		return err_set(msg, SIGNET_ERR_TOO_LARGE,
		    "%s: more than %d retired result keys of host %s; "
		    "remove the oldest (their results no longer verify "
		    "without them)",
		    rdir, KEYSET_RETIRED_MAX, out->host);
	n = snprintf(path, sizeof(path), "%s/%s", rdir, name);
	if (n < 0 || (size_t)n >= sizeof(path))
		return err_set(msg, SIGNET_ERR_TOO_LARGE,
		    "%s/%s: path too long", rdir, name);
	k = &out->keys[out->count];
	memset(k, 0, sizeof(*k));
	r = load_one(path, trusted, "an agent's retired result key", &k->pub,
	    msg);
	if (r != 0)
		return r;
	k->retired = true;
	k->retired_at = at;
	memcpy(k->stamp, name + strlen(name) - SUFFIX_LEN - KEYSET_STAMP_LEN,
	    KEYSET_STAMP_LEN);
	k->stamp[KEYSET_STAMP_LEN] = '\0';
	out->count++;
	return 0;
}

/* Every retired key of out->host in DIR/retired (none when it is absent). */
static int
load_retired(const char *dir, bool trusted, struct keyset *out,
    struct err_msg *msg)
{
	char rdir[PATH_MAX], probe[PATH_MAX], host[KEYSET_HOST_MAX + 1];
	char esc[2 * NAME_MAX + 8];
	size_t hlen = strlen(out->host);
	struct dirent *e;
	struct stat st;
	DIR *d = NULL;
	int64_t at;
	int n, r;

	n = snprintf(rdir, sizeof(rdir), "%s/%s", dir, KEYSET_RETIRED_DIR);
	if (n < 0 || (size_t)n >= sizeof(rdir))
		return err_set(msg, SIGNET_ERR_TOO_LARGE, "%s: path too long",
		    dir);
	if (lstat(rdir, &st) != 0) {
		if (errno == ENOENT)
			return 0;
		return err_set(msg, SIGNET_ERR_IO, "%s: %s", rdir,
		    strerror(errno));
	}
	if (!S_ISDIR(st.st_mode))
		return err_set(msg, SIGNET_ERR_PERMISSIONS,
		    "%s: not a directory (a symbolic link?); the retired "
		    "result keys must be in a directory of their own",
		    rdir);
	if (trusted) {
		/* Its own mode, owner and every directory above it. */
		n = snprintf(probe, sizeof(probe), "%s/x", rdir);
		if (n < 0 || (size_t)n >= sizeof(probe))
			return err_set(msg, SIGNET_ERR_TOO_LARGE,
			    "%s: path too long", rdir);
		r = fileio_check_dir(probe, "the retired result keys", msg);
		if (r != 0)
			return r;
	}
	d = opendir(rdir);
	if (d == NULL)
		return err_set(msg, SIGNET_ERR_IO, "%s: cannot list it: %s",
		    rdir, strerror(errno));
	r = 0;
	for (;;) {
		errno = 0;
		e = readdir(d);
		if (e == NULL) {
			if (errno != 0)
				r = err_set(msg, SIGNET_ERR_IO,
				    "%s: cannot list it: %s", rdir,
				    strerror(errno));
			break;
		}
		if (e->d_name[0] == '.')
			continue;
		if (keyset_parse_retired_name(e->d_name, host, sizeof(host),
		        &at) != 0) {
			/* Say so for this host's look-alikes only. */
			if (strncmp(e->d_name, out->host, hlen) == 0 &&
			    e->d_name[hlen] == '.')
				log_warn(
				    "%s/%s: ignored: not a retired result "
				    "key name (HOST-ID.YYYYMMDDTHHMMSSZ.pub)",
				    rdir,
				    text_escape_str(e->d_name, esc,
				        sizeof(esc)));
			continue;
		}
		if (strcmp(host, out->host) != 0)
			continue;
		r = add_retired(rdir, e->d_name, at, trusted, out, msg);
		if (r != 0)
			break;
	}
	(void)closedir(d);
	return r;
}

int
keyset_load(const char *dir, const char *host, bool trusted, struct keyset *out,
    struct err_msg *msg)
{
	char path[PATH_MAX];
	struct err_msg cur;
	size_t i, j, first;
	int n, r;

	memset(out, 0, sizeof(*out));
	err_clear(&cur);
	if (dir == NULL || !text_valid_name(host) ||
	    strlen(host) > KEYSET_HOST_MAX)
		return err_set(msg, SIGNET_ERR_INVALID_ARG, "bad host id");
	memcpy(out->host, host, strlen(host) + 1);
	n = snprintf(path, sizeof(path), "%s/%s.pub", dir, host);
	if (n < 0 || (size_t)n >= sizeof(path))
		return err_set(msg, SIGNET_ERR_TOO_LARGE, "path too long");
	r = load_one(path, trusted, "an agent's result key", &out->keys[0].pub,
	    &cur);
	if (r == 0) {
		out->has_current = true;
		out->count = 1;
	} else if (r != SIGNET_ERR_NOT_FOUND) {
		r = err_set(msg, r, "%s", cur.text);
		goto out;
	}
	r = load_retired(dir, trusted, out, msg);
	if (r != 0)
		goto out;
	if (out->count == 0) {
		r = err_set(msg, SIGNET_ERR_NOT_FOUND,
		    "%s (and no retired key %s/%s/%s.*.pub)", cur.text, dir,
		    KEYSET_RETIRED_DIR, host);
		goto out;
	}
	first = out->has_current ? 1 : 0;
	qsort(&out->keys[first], out->count - first, sizeof(out->keys[0]),
	    cmp_retired);
	for (i = 0; i < out->count; i++) {
		for (j = i + 1; j < out->count; j++) {
			if (strcmp(out->keys[i].pub.id, out->keys[j].pub.id) !=
			    0)
				continue;
			r = err_set(msg, SIGNET_ERR_FORMAT,
			    "result key %s of host %s is in two files "
			    "(%s and retired %s): a key is either current "
			    "or retired once",
			    out->keys[i].pub.id, host,
			    out->keys[i].retired ? out->keys[i].stamp :
			                           "current",
			    out->keys[j].stamp);
			goto out;
		}
	}
	r = 0;
out:
	if (r != 0) {
		memset(out, 0, sizeof(*out));
	}
	return r;
}

const struct keyset_key *
keyset_find(const struct keyset *ks, const char *key_id)
{
	size_t i;

	if (ks == NULL || key_id == NULL)
		return NULL;
	for (i = 0; i < ks->count; i++)
		if (strcmp(ks->keys[i].pub.id, key_id) == 0)
			return &ks->keys[i];
	return NULL;
}

bool
keyset_allows(const struct keyset_key *k, bool known, int64_t sent_ms)
{
	if (k == NULL)
		return false;
	if (!k->retired || !known)
		return true;
	/* retired_at is whole seconds: sent before it, to the millisecond. */
	return sent_ms < k->retired_at * 1000;
}
