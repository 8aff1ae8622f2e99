/* SPDX-License-Identifier: ISC */
/* Messages to systemd's notification socket through libsystemd. */
#include "sdnotify.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <systemd/sd-daemon.h>

#include "log.h"

/* STATUS= is one line for systemctl; longer ones are cut. */
#define SDNOTIFY_STATUS_MAX 256

static atomic_bool sdnotify_warned;

/* Sends head, then STATUS=status if any. */
static void
sdnotify_send(const char *head, const char *status)
{
	char msg[SDNOTIFY_STATUS_MAX + 128], line[SDNOTIFY_STATUS_MAX];
	int n, r;

	line[0] = '\0';
	if (status != NULL) {
		(void)snprintf(line, sizeof(line), "%s", status);
		line[strcspn(line, "\n")] = '\0';
	}
	n = snprintf(msg, sizeof(msg), "%s%s%s%s", head,
	    head[0] != '\0' && status != NULL ? "\n" : "",
	    status != NULL ? "STATUS=" : "", line);
	if (n < 0 || (size_t)n >= sizeof(msg))
		return;
	/* unset_environment 0: threads may call this; the env stays as is. */
	r = sd_notify(0, msg);
	if (r < 0 && !atomic_exchange(&sdnotify_warned, true))
		log_warn("cannot tell systemd \"%s\": %s (further failures "
		         "not logged)",
		    head[0] != '\0' ? head : "STATUS", strerror(-r));
}

void
sdnotify_ready(const char *status)
{
	sdnotify_send("READY=1", status);
}

void
sdnotify_reloading(const char *status)
{
	struct timespec ts;
	char head[64];

	if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0) {
		sdnotify_send("RELOADING=1", status);
		return;
	}
	(void)snprintf(head, sizeof(head), "RELOADING=1\nMONOTONIC_USEC=%llu",
	    (unsigned long long)ts.tv_sec * 1000000ULL +
	        (unsigned long long)ts.tv_nsec / 1000ULL);
	sdnotify_send(head, status);
}

void
sdnotify_stopping(const char *status)
{
	sdnotify_send("STOPPING=1", status);
}

void
sdnotify_status(const char *status)
{
	sdnotify_send("", status);
}
