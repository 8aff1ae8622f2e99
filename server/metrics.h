/* SPDX-License-Identifier: ISC */
/*
 * Server counters for GET /metrics (Prometheus text format 0.0.4). Each
 * counter is a lock-free atomic, bumped from any thread; the rendering adds
 * gauges from the registry and the identity store: the CRL's nextUpdate,
 * and whether it expires within the warning window. (An expired CRL is not
 * a gauge: it refuses every client certificate, the scraper's too, so the
 * scrape itself fails.)
 */
#ifndef SIGNET_METRICS_H
#define SIGNET_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "registry.h"

enum metric {
	/* agent listener: TLS and identity */
	M_AGENT_TLS_FAIL_NO_CERT, /* handshake without a client cert */
	M_AGENT_TLS_FAIL_CERT,    /* cert refused: chain/date/CRL/EKU */
	M_AGENT_TLS_FAIL_ROLE,    /* valid cert, not an agent */
	/* agent listener: hello and frames */
	M_AGENT_AUTH_HOST_MISMATCH, /* hello host_id != cert CN */
	M_AGENT_AUTH_KEY_MISMATCH,  /* result_key_id not the registered */
	M_AGENT_AUTH_NO_KEY,        /* no HOST.pub registered */
	M_AGENT_AUTH_HELLO_TIMEOUT, /* no hello in time */
	M_AGENT_AUTH_BAD_HELLO,     /* malformed hello */
	M_AGENT_REVOKED_DROPPED,    /* dropped after SIGHUP: revoked */
	M_AGENT_REPLACED,           /* second connection replaced first */
	M_AGENT_FRAMES_IN,
	M_AGENT_FRAMES_OUT,
	M_AGENT_FRAMES_BAD,      /* malformed JSON, wrong types, type */
	M_AGENT_FRAMES_OVERSIZE, /* over 1 MiB */
	M_AGENT_INVENTORIES,     /* inventory frames accepted */
	/* operator API */
	M_API_TLS_FAIL_NO_CERT,
	M_API_TLS_FAIL_CERT,
	M_API_FORBIDDEN, /* valid cert, role may not do this */
	M_API_REQUESTS,
	M_API_ERRORS_4XX,
	M_API_ERRORS_5XX,
	/* the action relay */
	M_ACTIONS_REQUESTED, /* signed, recorded, handed to the hub */
	M_ACTIONS_SENT,      /* action frames written to agents */
	M_ACTIONS_UNDELIVERED,
	M_ACTIONS_TIMEOUT,
	M_ACTIONS_AUDIT_FAILED,     /* refused: action.requested unwritable */
	M_ACTION_RESULTS,           /* results accepted and recorded */
	M_ACTION_RESULTS_DUPLICATE, /* repeats of an accepted result */
	M_ACTION_RESULTS_UNKNOWN,   /* action_id not in the table */
	M_ACTION_RESULTS_BAD,       /* bad signature or mismatch: dropped */
	M_COUNT
};

struct metrics;

struct metrics *metrics_new(void);
void metrics_free(struct metrics *m);
void metrics_inc(struct metrics *m, enum metric which);
uint64_t metrics_get(struct metrics *m, enum metric which);

/*
 * Renders every counter plus the gauges from stats and the CRL's
 * nextUpdate (unix seconds, 0 unknown) as Prometheus text; at now (unix
 * seconds) the CRL counts as expiring within IDENTITY_CRL_WARN_SECS of its
 * nextUpdate (identity_crl_state). Returns a new string (free()) or NULL
 * on allocation failure.
 */
char *metrics_render(struct metrics *m, const struct registry_stats *stats,
    int64_t crl_next_update, int64_t now);

#endif
