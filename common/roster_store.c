/* SPDX-License-Identifier: ISC */
/*
 * The held roster: verification and the no-rollback rule around
 * roster_verify, the file that keeps the floor across restarts, and the
 * counted references that let readers on other threads keep using a
 * roster that was just replaced.
 */
#include "roster_store.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "fileio.h"
#include "text.h"

struct held {
	struct roster *r;
	unsigned refs; /* the store's own reference counts as one */
};

struct roster_store {
	pthread_mutex_t mu;
	struct keys_pubset pinned;
	unsigned threshold;
	char *path;
	bool save;
	struct held *cur; /* NULL: none held */
	/* Replaced rosters some reader still holds. */
	struct held **old;
	size_t nold, capold;
};

int
roster_store_new(const struct keys_pubset *pinned, unsigned threshold,
    const char *path, bool save, struct roster_store **out, struct err_msg *msg)
{
	struct roster_store *s;

	*out = NULL;
	if (pinned == NULL || pinned->count == 0 || threshold == 0 ||
	    threshold > pinned->count || threshold > ROSTER_THRESHOLD_MAX)
		return err_set(msg, SIGNET_ERR_INVALID_ARG,
		    "roster threshold %u: must be 1 to the number of pinned "
		    "roster keys (%zu)",
		    threshold, pinned == NULL ? (size_t)0 : pinned->count);
	s = calloc(1, sizeof(*s));
	if (s == NULL)
		return err_set(msg, SIGNET_ERR_ALLOC, "out of memory");
	if (pthread_mutex_init(&s->mu, NULL) != 0) {
		free(s);
		return err_set(msg, SIGNET_ERR_ALLOC, "cannot make a mutex");
	}
	s->pinned = *pinned;
	s->threshold = threshold;
	s->save = save;
	if (path != NULL && (s->path = strdup(path)) == NULL) {
		roster_store_free(s);
		return err_set(msg, SIGNET_ERR_ALLOC, "out of memory");
	}
	*out = s;
	return 0;
}

/* Drops one reference of h (under s->mu); frees it at zero. */
static void
held_put(struct roster_store *s, struct held *h)
{
	size_t i;

	if (h == NULL || --h->refs > 0)
		return;
	for (i = 0; i < s->nold; i++)
		if (s->old[i] == h) {
			s->old[i] = s->old[--s->nold];
			break;
		}
	roster_free(h->r);
	free(h);
}

/*
 * Judges r (verified) against the held roster, under s->mu: 0 to take it,
 * 1 when it is the one held, or the refusal.
 */
static int
compare_held(const struct roster_store *s, const struct roster *r,
    struct err_msg *msg)
{
	const struct roster *cur;

	if (s->cur == NULL)
		return 0;
	cur = s->cur->r;
	if (r->version < cur->version)
		return err_set(msg, SIGNET_ERR_EXISTS,
		    "roster version %" PRId64 " is older than the held "
		    "version %" PRId64 ": a rollback, refused",
		    r->version, cur->version);
	if (r->version == cur->version) {
		/*
		 * The same payload in another file (an admin added their
		 * signature, k-of-n) is the roster held: kept as it is.
		 */
		if (strcmp(r->sha256, cur->sha256) == 0 ||
		    strcmp(r->payload_sha256, cur->payload_sha256) == 0)
			return 1;
		return err_set(msg, SIGNET_ERR_EXISTS,
		    "roster version %" PRId64 " differs from the held "
		    "roster of that version (%.16s, held %.16s): refused",
		    r->version, r->sha256, cur->sha256);
	}
	return 0;
}

/* Makes r (owned) the held roster, under s->mu. */
static int
hold(struct roster_store *s, struct roster *r, struct err_msg *msg)
{
	struct held *h, **grown;

	h = calloc(1, sizeof(*h));
	if (h == NULL)
		return err_set(msg, SIGNET_ERR_ALLOC, "out of memory");
	if (s->cur != NULL && s->cur->refs > 1 && s->nold == s->capold) {
		grown = realloc(s->old, (s->capold + 8) * sizeof(*s->old));
		if (grown == NULL) {
			free(h);
			return err_set(msg, SIGNET_ERR_ALLOC, "out of memory");
		}
		s->old = grown;
		s->capold += 8;
	}
	h->r = r;
	h->refs = 1;
	if (s->cur != NULL) {
		if (s->cur->refs > 1)
			s->old[s->nold++] = s->cur;
		held_put(s, s->cur);
	}
	s->cur = h;
	return 0;
}

static int
offer(struct roster_store *s, const uint8_t *buf, size_t len, int64_t now_ms,
    bool expired_ok, bool save, enum roster_offer *what, struct err_msg *msg)
{
	struct roster *r = NULL;
	bool locked = false;
	int rc;

	*what = 0;
	rc = roster_verify(buf, len, &s->pinned, s->threshold, &r, msg);
	if (rc != 0)
		goto out;
	if (!expired_ok) {
		rc = roster_check_time(r, now_ms, msg);
		if (rc != 0)
			goto out;
	}
	if (pthread_mutex_lock(&s->mu) != 0) {
		rc = err_set(msg, SIGNET_ERR_INTERNAL, "roster lock failed");
		goto out;
	}
	locked = true;
	rc = compare_held(s, r, msg);
	if (rc == 1) {
		*what = ROSTER_OFFER_HELD;
		rc = 0;
		goto out;
	}
	if (rc != 0)
		goto out;
	/* Durable before it is used: a restart must not lower the floor. */
	if (save && s->save && s->path != NULL) {
		rc = fileio_replace(s->path, r->file, r->file_len, 0644, msg);
		if (rc != 0)
			goto out;
	}
	rc = hold(s, r, msg);
	if (rc != 0)
		goto out;
	r = NULL;
	*what = ROSTER_OFFER_TAKEN;
out:
	if (locked)
		(void)pthread_mutex_unlock(&s->mu);
	roster_free(r);
	return rc;
}

int
roster_store_offer(struct roster_store *s, const uint8_t *buf, size_t len,
    int64_t now_ms, enum roster_offer *what, struct err_msg *msg)
{
	return offer(s, buf, len, now_ms, false, true, what, msg);
}

int
roster_store_load(struct roster_store *s, int64_t now_ms,
    enum roster_offer *what, struct err_msg *msg)
{
	char *buf = NULL;
	size_t len = 0;
	int rc;

	*what = 0;
	if (s->path == NULL)
		return err_set(msg, SIGNET_ERR_NOT_FOUND, "no roster file");
	rc = fileio_read_trusted(s->path, ROSTER_FILE_MAX, "the roster", &buf,
	    &len, msg);
	if (rc != 0)
		return rc;
	/*
	 * Read back, not written again; an expired roster is still the
	 * floor (and its operators can sign nothing while it is).
	 */
	rc = offer(s, (const uint8_t *)buf, len, now_ms, true, false, what,
	    msg);
	free(buf);
	return rc;
}

struct roster *
roster_store_acquire(struct roster_store *s)
{
	struct roster *r = NULL;

	if (s == NULL || pthread_mutex_lock(&s->mu) != 0)
		return NULL;
	if (s->cur != NULL) {
		s->cur->refs++;
		r = s->cur->r;
	}
	(void)pthread_mutex_unlock(&s->mu);
	return r;
}

void
roster_store_release(struct roster_store *s, struct roster *r)
{
	size_t i;

	if (s == NULL || r == NULL || pthread_mutex_lock(&s->mu) != 0)
		return;
	if (s->cur != NULL && s->cur->r == r)
		held_put(s, s->cur);
	else
		for (i = 0; i < s->nold; i++)
			if (s->old[i]->r == r) {
				held_put(s, s->old[i]);
				break;
			}
	(void)pthread_mutex_unlock(&s->mu);
}

int64_t
roster_store_version(struct roster_store *s, char sha256[static 65])
{
	int64_t v = 0;

	sha256[0] = '\0';
	if (s == NULL || pthread_mutex_lock(&s->mu) != 0)
		return 0;
	if (s->cur != NULL) {
		v = s->cur->r->version;
		memcpy(sha256, s->cur->r->sha256, 65);
	}
	(void)pthread_mutex_unlock(&s->mu);
	return v;
}

const struct keys_pubset *
roster_store_pinned(const struct roster_store *s)
{
	return &s->pinned;
}

unsigned
roster_store_threshold(const struct roster_store *s)
{
	return s->threshold;
}

void
roster_store_free(struct roster_store *s)
{
	size_t i;

	if (s == NULL)
		return;
	if (s->cur != NULL) {
		roster_free(s->cur->r);
		free(s->cur);
	}
	for (i = 0; i < s->nold; i++) {
		roster_free(s->old[i]->r);
		free(s->old[i]);
	}
	free(s->old);
	free(s->path);
	(void)pthread_mutex_destroy(&s->mu);
	free(s);
}
