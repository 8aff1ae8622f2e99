/* SPDX-License-Identifier: ISC */
/*
 * Server counters for GET /metrics (Prometheus text format 0.0.4), named
 * after the Prometheus naming guide (docs/http-api.md lists them): base
 * units in the name (_seconds), counters end _total, a time is a gauge
 * ending _timestamp_seconds, and the rows of one family add up to
 * something (every result frame; every accepted result). Each counter and
 * histogram is lock-free, bumped from any thread; the rendering adds
 * signet_build_info, gauges from the registry, and the expiry of the
 * server's certificate, the CA and the CRL (nextUpdate), and whether the
 * CRL expires within the warning window; and, by cert_expiry_render,
 * signet_cert_expiry_timestamp_seconds and signet_cert_expiring for the
 * server's certificate, the CA and every connected agent's certificate
 * (signet_certificate_expiry_timestamp_seconds{role,subject}, which has
 * the CRL's row too, stays for the dashboards that read it). (An expired CRL is not a gauge:
 * it refuses every client certificate, the scraper's too, so the scrape
 * itself fails.)
 */
#ifndef SIGNET_METRICS_H
#define SIGNET_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "envelope.h"
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
	/* accepted results by the agent's status (metrics_action_result) */
	M_RESULT_SUCCESS,
	M_RESULT_FAILURE,
	M_RESULT_DENIED,
	M_RESULT_REJECTED,
	M_COUNT
};

/* Durations (seconds). */
enum metric_hist {
	/* request signed -> the agent's result accepted */
	MH_ACTION_DURATION,
	/* agent WebSocket open (TLS done) -> its hello accepted */
	MH_AGENT_HANDSHAKE,
	MH_COUNT
};

/* Whose expiry signet_certificate_expiry_timestamp_seconds shows. */
enum metric_cert { MC_SERVER, MC_CA, MC_CRL, MC_COUNT };

/*
 * What the trust store says at render time (route_metrics fills it), and
 * the connected agents' certificates (borrowed, may be NULL) with the
 * warning window ([tls] expiry_warn_days; 0 the default) for the
 * signet_cert_expiry_timestamp_seconds and signet_cert_expiring gauges.
 */
struct metrics_trust {
	int64_t crl_next_update; /* unix seconds, 0 unknown */
	int64_t ca_not_after;    /* unix seconds, 0 unknown */
	char ca_subject[128];    /* the CA's CN, "" unknown */
	int warn_days;
	const struct registry_cert *agents;
	size_t nagents;
};

struct metrics;

struct metrics *metrics_new(void);
void metrics_free(struct metrics *m);
void metrics_inc(struct metrics *m, enum metric which);
uint64_t metrics_get(struct metrics *m, enum metric which);

/* One duration in seconds into histogram which (any thread). */
void metrics_observe(struct metrics *m, enum metric_hist which, double seconds);

/*
 * An accepted agent result: counts it under its status and observes
 * seconds (request to result) in MH_ACTION_DURATION.
 */
void metrics_action_result(struct metrics *m, enum envelope_status status,
    double seconds);

/*
 * The server certificate's CN and notAfter (unix seconds), set once at
 * start (the listeners load it once). subject is copied, cut at 127 bytes.
 */
void metrics_set_server_cert(struct metrics *m, const char *subject,
    int64_t not_after);

/*
 * Fills t from store (NULL: all unknown): the CRL's nextUpdate, the CA's
 * CN and notAfter.
 */
struct identity_store;
void metrics_trust_from_store(const struct identity_store *store,
    struct metrics_trust *t);

/*
 * Renders signet_build_info, every counter and histogram, the gauges from
 * stats, and the expiry gauges from trust, the server certificate and
 * trust's agents (expiring within trust->warn_days at now) as
 * Prometheus text; at now (unix seconds) the CRL counts as expiring within
 * IDENTITY_CRL_WARN_SECS of its nextUpdate (identity_crl_state). Returns a
 * new string (free()) or NULL on allocation failure.
 */
char *metrics_render(struct metrics *m, const struct registry_stats *stats,
    const struct metrics_trust *trust, int64_t now);

#endif
