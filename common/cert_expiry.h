/* SPDX-License-Identifier: ISC */
/*
 * Certificate expiry, watched everywhere (issue 15): the days left before
 * a certificate's notAfter, the log warnings the server (its own
 * certificate, the CA, each connected agent's) and the agent (its own)
 * give when one expires within [tls] expiry_warn_days, and the gauges
 * signet_cert_expiry_timestamp_seconds{role,name} and
 * signet_cert_expiring{role,name} in the Prometheus text format. A
 * warning never refuses anything: it tells the admin to renew in time.
 *
 * One struct cert_expiry is the watch on one certificate: it reports
 * when told to (startup, SIGHUP), when the certificate changed or its
 * state did (valid -> expiring -> expired: crossing into the window), and
 * repeats a warning at most once every CERT_EXPIRY_REPEAT_SECS. Plain
 * state, no lock: its owner serialises the calls.
 */
#ifndef SIGNET_CERT_EXPIRY_H
#define SIGNET_CERT_EXPIRY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dynbuf.h"
#include "err.h"

/* [tls] expiry_warn_days: its default and range. */
#define CERT_EXPIRY_WARN_DAYS_DEFAULT 30
#define CERT_EXPIRY_WARN_DAYS_MIN 1
#define CERT_EXPIRY_WARN_DAYS_MAX 365
/* A warning (or error) about one certificate is repeated once a day. */
#define CERT_EXPIRY_REPEAT_SECS 86400
/* A common name as the gauges and the log carry it (64 bytes in X.509). */
#define CERT_EXPIRY_NAME_MAX 127

enum cert_expiry_state {
	CERT_EXPIRY_UNKNOWN, /* notAfter not known (0) */
	CERT_EXPIRY_VALID,
	CERT_EXPIRY_EXPIRING, /* within the warning window */
	CERT_EXPIRY_EXPIRED,
};

/* cert_expiry_check's flags. */
#define CERT_EXPIRY_FORCE 1u /* report now (startup, SIGHUP) */
/* With FORCE: say so at info level also when the certificate is valid. */
#define CERT_EXPIRY_SAY_VALID 2u

struct cert_expiry {
	bool reported;                /* any look yet */
	int64_t not_after;            /* of the certificate last looked at */
	enum cert_expiry_state state; /* at the last look */
	int64_t next_repeat;          /* unix s: the warning is due again */
};

/*
 * Whole days from now to not_after (unix seconds), rounded down: 0 in
 * the last day, -1 in the first day after expiry. Returns the days.
 */
int64_t cert_expiry_days_left(int64_t not_after, int64_t now);

/*
 * The state of a certificate with not_after at now: EXPIRED from
 * not_after on, EXPIRING when fewer than warn_days * 86400 seconds are
 * left (warn_days outside 1..365 counts as the default), UNKNOWN when
 * not_after <= 0.
 */
enum cert_expiry_state cert_expiry_state(int64_t not_after, int64_t now,
    int warn_days);

/* No report made yet: the first look at an expiring one warns. */
void cert_expiry_init(struct cert_expiry *w);

/*
 * Looks at the certificate (role "server", "ca", "agent", "agent_self";
 * name its CN or host id, escaped for the log here) with not_after at
 * now, and logs when flags has CERT_EXPIRY_FORCE, on the first look, when
 * not_after or the state changed, or when a repeat is due: a warning while
 * expiring (the date, the days left, renew before then), an error once
 * expired, and at info level while valid only with FORCE and
 * CERT_EXPIRY_SAY_VALID. when ("startup", "SIGHUP", "check", "hello")
 * starts the line. Returns the level logged (LOG_LVL_*), or -1 when
 * nothing was.
 */
int cert_expiry_check(struct cert_expiry *w, const char *role, const char *name,
    int64_t not_after, int64_t now, int warn_days, unsigned flags,
    const char *when);

/*
 * Reads the first certificate of the PEM file at path: its notAfter in
 * unix seconds into *not_after and its CN (cut at CERT_EXPIRY_NAME_MAX
 * bytes, "" when it has none) into cn; both zeroed on failure. Returns 0,
 * SIGNET_ERR_IO when the file cannot be opened, or SIGNET_ERR_FORMAT
 * when it holds no readable certificate, with msg saying which.
 */
int cert_expiry_read(const char *path, int64_t *not_after,
    char cn[static CERT_EXPIRY_NAME_MAX + 1], struct err_msg *msg)
    __attribute__((warn_unused_result));

/*
 * s as a label value of the Prometheus text format into out (outlen > 0):
 * backslash, double quote and newline escaped (\\ \" \n), other control
 * bytes replaced by '?', cut (never inside an escape) to fit. NULL is "".
 * Returns out.
 */
const char *cert_expiry_label(const char *s, char *out, size_t outlen);

/* One row of the gauges. */
struct cert_expiry_row {
	const char *role;
	const char *name;
	int64_t not_after; /* unix seconds, 0 unknown */
};

/*
 * Appends the two gauge families for rows[0..n) to b: HELP, TYPE and
 * every row of signet_cert_expiry_timestamp_seconds{role,name} (notAfter,
 * 0 unknown), then of signet_cert_expiring{role,name} (1 when expiring or
 * expired at now under warn_days). Returns 0, or the dynbuf's error
 * (SIGNET_ERR_ALLOC, SIGNET_ERR_TOO_LARGE).
 */
int cert_expiry_render(struct dynbuf *b, const struct cert_expiry_row *rows,
    size_t n, int64_t now, int warn_days) __attribute__((warn_unused_result));

#endif
