/* SPDX-License-Identifier: ISC */
/*
 * The agent's own metrics (docs/metrics in docs/http-api.md): a plain-HTTP
 * listener, off unless [agent] metrics_listen names a loopback address
 * (127.0.0.0/8 or ::1, as an IP literal and port). It has no TLS and no
 * authentication, so it must not be reachable from elsewhere; a scraper
 * on the host (or a local proxy) reads it. GET /metrics answers Prometheus
 * text: signet_agent_build_info, the executor's queued and running
 * actions, its outbox results by state, the dockerd request latency
 * histogram, the audit writer's state and its own certificate's expiry. Anything else: 404, or 405 for
 * another method.
 */
#ifndef SIGNET_AGENT_METRICS_H
#define SIGNET_AGENT_METRICS_H

#include <sys/socket.h>

#include "audit.h"
#include "channel.h"
#include "err.h"
#include "executor.h"
#include "histogram.h"

struct agent_metrics;

/*
 * Checks a metrics_listen value: "" or NULL is off (*on false); else an
 * IPv4 literal "A.B.C.D:PORT" or "[IPv6]:PORT", port 1..65535, that is a
 * loopback address (*on true, *ss filled). Returns 0, or SIGNET_ERR_CONFIG
 * with msg saying what is wrong.
 */
int agent_metrics_parse_listen(const char *value, bool *on,
    struct sockaddr_storage *ss, struct err_msg *msg)
    __attribute__((warn_unused_result));

/*
 * A new set of metrics (no listener yet): the dockerd latency histogram
 * exists from here on, for docker_client_set_latency. Returns 0, or
 * SIGNET_ERR_ALLOC.
 */
int agent_metrics_new(struct agent_metrics **out)
    __attribute__((warn_unused_result));

/* The histogram dockerd requests go into; valid until agent_metrics_free. */
struct histogram *agent_metrics_dockerd(struct agent_metrics *am);

/*
 * Starts listening on ss (from agent_metrics_parse_listen); ex and audit
 * (borrowed, may be NULL: shown as 0 / broken) are read at each scrape
 * and must outlive agent_metrics_stop. Returns 0, or SIGNET_ERR_IO with
 * msg (address in use...).
 */
int agent_metrics_start(struct agent_metrics *am,
    const struct sockaddr_storage *ss, struct executor *ex,
    struct audit_writer *audit, struct err_msg *msg)
    __attribute__((warn_unused_result));

/*
 * The agent's own certificate for signet_cert_expiry_timestamp_seconds and
 * signet_cert_expiring{role="agent_self",name} (cert_expiry.h): its host
 * id (copied, cut at 63 bytes), notAfter (unix seconds, 0 unknown) and
 * the warning window in days. Call before agent_metrics_start (the
 * listener reads them without a lock); not rendered until called.
 */
void agent_metrics_set_cert(struct agent_metrics *am, const char *name,
    int64_t not_after, int warn_days);

/*
 * The channel (borrowed, may stay NULL: not rendered) whose server URLs
 * are shown as signet_agent_server_connected{url}: 1 for the one the
 * agent is connected to now, 0 for the others. Before
 * agent_metrics_start.
 */
void agent_metrics_set_channel(struct agent_metrics *am, struct channel *ch);

/* The port listened on (0 when not listening). */
unsigned agent_metrics_port(struct agent_metrics *am);

/*
 * The exposition text (free()), as GET /metrics answers it; NULL on
 * allocation failure.
 */
char *agent_metrics_render(struct agent_metrics *am);

/* Stops the listener (waits for a scrape under way); NULL or idle fine. */
void agent_metrics_stop(struct agent_metrics *am);

/* Stops and frees; NULL allowed. */
void agent_metrics_free(struct agent_metrics *am);

#endif
