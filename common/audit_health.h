/* SPDX-License-Identifier: ISC */
/*
 * Whether an audit writer can write now, for a health check (the server's
 * GET /healthz, the agent's metrics): a daemon that cannot record refuses
 * every action, so "up" alone would tell a monitor nothing. The answer
 * comes from the writer's own state (the last append failed, or a failed
 * sync broke it for good) and from the free space of the filesystem
 * holding the log, so that a full disk shows before an action fails.
 */
#ifndef SIGNET_AUDIT_HEALTH_H
#define SIGNET_AUDIT_HEALTH_H

#include <stdint.h>

#include "audit.h"
#include "err.h"

/* Below this many bytes free for the log's filesystem: no_space. */
#define AUDIT_HEALTH_MIN_FREE ((uint64_t)1 << 20)

enum audit_health_state {
	AUDIT_HEALTH_OK = 0,
	AUDIT_HEALTH_NO_SPACE, /* under min_free bytes left, or unknown */
	AUDIT_HEALTH_FAILING,  /* the last append failed; the next may work */
	AUDIT_HEALTH_BROKEN,   /* a sync failed: unwritable until restart */
};

struct audit_health {
	enum audit_health_state state;
	uint64_t free_bytes;     /* for an unprivileged writer; 0 if unknown */
	char error[ERR_MSG_MAX]; /* why, for an operator; "" when ok */
};

/*
 * Fills h for w (thread-safe): BROKEN, else FAILING (with the last
 * append's errno), else NO_SPACE when the log's filesystem has fewer than
 * min_free bytes available (or fstatvfs fails: fail closed), else OK.
 * w NULL is BROKEN ("no audit log").
 */
void audit_health_get(struct audit_writer *w, uint64_t min_free,
    struct audit_health *h);

/* "ok", "no_space", "failing", "broken". */
const char *audit_health_name(enum audit_health_state state);

#endif
