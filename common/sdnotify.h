/* SPDX-License-Identifier: ISC */
/*
 * Readiness and state for systemd (sd_notify(3), Type=notify units): a
 * daemon says READY=1 once it listens and its audit log is open,
 * RELOADING=1 and READY=1 around a SIGHUP reload, STOPPING=1 when it
 * begins to stop, each with a STATUS= line for `systemctl status`. Without
 * NOTIFY_SOCKET in the environment (not started by systemd) every call
 * does nothing. Callable from any thread: systemd takes a message from any
 * thread of the main process (NotifyAccess=main).
 */
#ifndef SIGNET_SDNOTIFY_H
#define SIGNET_SDNOTIFY_H

/*
 * Each sends one message; status (may be NULL) becomes STATUS=, cut at a
 * newline. A message that cannot be sent is logged once (log_warn) and
 * otherwise ignored: the daemon works on, and systemd's start or reload
 * timeout is what reports it. Returns nothing for that reason.
 */
void sdnotify_ready(const char *status);

/*
 * RELOADING=1 with MONOTONIC_USEC= (CLOCK_MONOTONIC now): systemd 253 and
 * later match the READY=1 that ends the reload against it; 252 ignores the
 * extra field.
 */
void sdnotify_reloading(const char *status);
void sdnotify_stopping(const char *status);

/* STATUS= alone. */
void sdnotify_status(const char *status);

#endif
