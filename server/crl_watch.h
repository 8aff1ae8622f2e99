/* SPDX-License-Identifier: ISC */
/*
 * Watches the loaded CRL's nextUpdate and tells the admin in the log before
 * it locks everyone out: an expired CRL refuses every agent, operator and
 * auditor (fail closed), the failure easy-rsa users hit most. The server
 * reports at startup, after each SIGHUP reload, whenever the state changes
 * (valid -> expiring -> expired), and repeats the warning every
 * CRL_WATCH_REPEAT_SECS while the CRL is expiring or expired, so that an
 * admin who watches the logs notices.
 *
 * Plain state, no lock: one thread (the server's signal thread) owns it.
 */
#ifndef SIGNET_CRL_WATCH_H
#define SIGNET_CRL_WATCH_H

#include <stdbool.h>
#include <stdint.h>

#include "identity.h"

/* Repeat of the warning (or error) while the CRL is not valid. */
#define CRL_WATCH_REPEAT_SECS 3600
/* Longest sleep between two looks, so a changed clock is noticed. */
#define CRL_WATCH_TICK_MAX 3600

struct crl_watch {
	bool reported;       /* any report yet */
	int64_t last_update; /* of the CRL last reported */
	int64_t next_update;
	enum identity_crl_state state; /* at the last report */
	int64_t next_repeat;           /* unix s: the warning is due again */
	int64_t next_check;            /* unix s: look again then */
};

/* No report made yet; the first check always reports. */
void crl_watch_init(struct crl_watch *w);

/*
 * Looks at the CRL (path for the message, its lastUpdate and nextUpdate)
 * at now, all unix seconds, and logs when force is set (startup, reload),
 * the CRL is another one than last time, its state changed, or a repeat
 * is due: info while valid, a warning while expiring (date, time left,
 * how to renew), an error once expired (every client is refused until it
 * is renewed). when ("startup", "SIGHUP", "check") starts the line.
 * Sets w->next_check. Returns the level logged (LOG_LVL_*), or -1 when
 * nothing was logged.
 */
int crl_watch_check(struct crl_watch *w, const char *path, int64_t last_update,
    int64_t next_update, int64_t now, bool force, const char *when);

/* Seconds from now until w->next_check, within 1..CRL_WATCH_TICK_MAX. */
int64_t crl_watch_wait(const struct crl_watch *w, int64_t now);

#endif
