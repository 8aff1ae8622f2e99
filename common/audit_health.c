/* SPDX-License-Identifier: ISC */
/* The audit writer's health: its failure state and its disk's free space. */
#include "audit_health.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/statvfs.h>

#include "audit_writer_int.h"

const char *
audit_health_name(enum audit_health_state state)
{
	switch (state) {
	case AUDIT_HEALTH_OK: return "ok";
	case AUDIT_HEALTH_NO_SPACE: return "no_space";
	case AUDIT_HEALTH_FAILING: return "failing";
	case AUDIT_HEALTH_BROKEN: return "broken";
	}
	return "broken";
}

void
audit_health_get(struct audit_writer *w, uint64_t min_free,
    struct audit_health *h)
{
	struct statvfs sv;
	int rc, saved, fail;
	bool broken;

	memset(h, 0, sizeof(*h));
	h->state = AUDIT_HEALTH_BROKEN;
	if (w == NULL) {
		(void)snprintf(h->error, sizeof(h->error), "no audit log");
		return;
	}
	if (pthread_mutex_lock(&w->mu) != 0) {
		(void)snprintf(h->error, sizeof(h->error),
		    "audit log %s: cannot take its lock", w->path);
		return;
	}
	broken = w->broken;
	fail = w->fail_errno;
	/* Under the lock: a rotation swaps w->fd. */
	rc = fstatvfs(w->fd, &sv);
	saved = errno;
	(void)pthread_mutex_unlock(&w->mu);

	if (rc == 0 && sv.f_frsize != 0 &&
	    (uint64_t)sv.f_bavail <= UINT64_MAX / (uint64_t)sv.f_frsize)
		h->free_bytes = (uint64_t)sv.f_bavail * (uint64_t)sv.f_frsize;
	if (broken) {
		(void)snprintf(h->error, sizeof(h->error),
		    "audit log %s cannot be written until a restart (a sync "
		    "failed: %s)",
		    w->path, fail != 0 ? strerror(fail) : "earlier failure");
		return;
	}
	if (fail != 0) {
		h->state = AUDIT_HEALTH_FAILING;
		(void)snprintf(h->error, sizeof(h->error),
		    "audit log %s: the last record could not be written: %s",
		    w->path, strerror(fail));
		return;
	}
	if (rc != 0) {
		h->state = AUDIT_HEALTH_NO_SPACE;
		(void)snprintf(h->error, sizeof(h->error),
		    "audit log %s: cannot tell the free space: %s", w->path,
		    strerror(saved));
		return;
	}
	if (h->free_bytes < min_free) {
		h->state = AUDIT_HEALTH_NO_SPACE;
		(void)snprintf(h->error, sizeof(h->error),
		    "audit log %s: its filesystem has %llu bytes free (under "
		    "%llu): free space or the next record fails",
		    w->path, (unsigned long long)h->free_bytes,
		    (unsigned long long)min_free);
		return;
	}
	h->state = AUDIT_HEALTH_OK;
}
