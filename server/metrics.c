/* SPDX-License-Identifier: ISC */
/* Atomic counters and their Prometheus text rendering. */
#include "metrics.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dynbuf.h"
#include "identity.h"

struct metrics {
	_Atomic uint64_t v[M_COUNT];
};

/* name, label set (may be ""), help; one family may span several rows. */
static const struct {
	const char *name;
	const char *labels;
	const char *help;
} metric_info[M_COUNT] = {
	[M_AGENT_TLS_FAIL_NO_CERT] = { "signet_agent_handshake_failures_total",
	    "reason=\"no_cert\"",
	    "Agent connections refused during TLS or "
	    "identity checks, by reason." },
	[M_AGENT_TLS_FAIL_CERT] = { "signet_agent_handshake_failures_total",
	    "reason=\"cert_refused\"", NULL },
	[M_AGENT_TLS_FAIL_ROLE] = { "signet_agent_handshake_failures_total",
	    "reason=\"wrong_role\"", NULL },
	[M_AGENT_AUTH_HOST_MISMATCH] = { "signet_agent_auth_failures_total",
	    "reason=\"host_mismatch\"",
	    "Agents refused after TLS (hello), "
	    "by reason." },
	[M_AGENT_AUTH_KEY_MISMATCH] = { "signet_agent_auth_failures_total",
	    "reason=\"key_mismatch\"", NULL },
	[M_AGENT_AUTH_NO_KEY] = { "signet_agent_auth_failures_total",
	    "reason=\"no_registered_key\"", NULL },
	[M_AGENT_AUTH_HELLO_TIMEOUT] = { "signet_agent_auth_failures_total",
	    "reason=\"hello_timeout\"", NULL },
	[M_AGENT_AUTH_BAD_HELLO] = { "signet_agent_auth_failures_total",
	    "reason=\"bad_hello\"", NULL },
	[M_AGENT_REVOKED_DROPPED] = { "signet_agent_revoked_dropped_total", "",
	    "Connected agents dropped because their certificate was revoked." },
	[M_AGENT_REPLACED] = { "signet_agent_replaced_total", "",
	    "Agent connections replaced by a newer one of the same host." },
	[M_AGENT_FRAMES_IN] = { "signet_agent_frames_total", "direction=\"in\"",
	    "WebSocket messages from and to agents." },
	[M_AGENT_FRAMES_OUT] = { "signet_agent_frames_total",
	    "direction=\"out\"", NULL },
	[M_AGENT_FRAMES_BAD] = { "signet_agent_frames_rejected_total",
	    "reason=\"malformed\"", "Agent messages refused, by reason." },
	[M_AGENT_FRAMES_OVERSIZE] = { "signet_agent_frames_rejected_total",
	    "reason=\"oversize\"", NULL },
	[M_AGENT_INVENTORIES] = { "signet_agent_inventories_total", "",
	    "Inventory snapshots accepted." },
	[M_API_TLS_FAIL_NO_CERT] = { "signet_api_auth_failures_total",
	    "reason=\"no_cert\"",
	    "Operator API requests refused before "
	    "routing, by reason." },
	[M_API_TLS_FAIL_CERT] = { "signet_api_auth_failures_total",
	    "reason=\"cert_refused\"", NULL },
	[M_API_FORBIDDEN] = { "signet_api_auth_failures_total",
	    "reason=\"forbidden\"", NULL },
	[M_API_REQUESTS] = { "signet_api_requests_total", "",
	    "Operator API requests answered." },
	[M_API_ERRORS_4XX] = { "signet_api_responses_total", "class=\"4xx\"",
	    "Operator API error answers by class." },
	[M_API_ERRORS_5XX] = { "signet_api_responses_total", "class=\"5xx\"",
	    NULL },
	[M_ACTIONS_REQUESTED] = { "signet_actions_total", "event=\"requested\"",
	    "Actions relayed to agents, by event." },
	[M_ACTIONS_SENT] = { "signet_actions_total", "event=\"sent\"", NULL },
	[M_ACTIONS_UNDELIVERED] = { "signet_actions_total",
	    "event=\"undelivered\"", NULL },
	[M_ACTIONS_TIMEOUT] = { "signet_actions_total", "event=\"timeout\"",
	    NULL },
	[M_ACTIONS_AUDIT_FAILED] = { "signet_actions_total",
	    "event=\"refused_audit_unavailable\"", NULL },
	[M_ACTION_RESULTS] = { "signet_action_results_total",
	    "outcome=\"accepted\"",
	    "Action results from agents, by "
	    "outcome." },
	[M_ACTION_RESULTS_DUPLICATE] = { "signet_action_results_total",
	    "outcome=\"duplicate\"", NULL },
	[M_ACTION_RESULTS_UNKNOWN] = { "signet_action_results_total",
	    "outcome=\"unknown_action\"", NULL },
	[M_ACTION_RESULTS_BAD] = { "signet_action_results_total",
	    "outcome=\"refused\"", NULL },
};

struct metrics *
metrics_new(void)
{
	struct metrics *m = calloc(1, sizeof(*m));
	size_t i;

	if (m == NULL)
		return NULL;
	for (i = 0; i < M_COUNT; i++)
		atomic_init(&m->v[i], 0);
	return m;
}

void
metrics_free(struct metrics *m)
{
	free(m);
}

void
metrics_inc(struct metrics *m, enum metric which)
{
	if (m != NULL && which < M_COUNT)
		atomic_fetch_add_explicit(&m->v[which], 1,
		    memory_order_relaxed);
}

uint64_t
metrics_get(struct metrics *m, enum metric which)
{
	if (m == NULL || which >= M_COUNT)
		return 0;
	return atomic_load_explicit(&m->v[which], memory_order_relaxed);
}

/* The exposition never needs more; a bug that would is cut short. */
#define METRICS_TEXT_MAX ((size_t)1 << 20)

char *
metrics_render(struct metrics *m, const struct registry_stats *stats,
    int64_t crl_next_update, int64_t now)
{
	struct dynbuf b;
	size_t i, len;
	bool ok = true;

	dynbuf_init(&b, METRICS_TEXT_MAX);
	for (i = 0; ok && i < M_COUNT; i++) {
		const char *name = metric_info[i].name;
		/* HELP and TYPE once per family: at its first row. */
		if (metric_info[i].help != NULL)
			ok = dynbuf_addf(&b,
			         "# HELP %s %s\n# TYPE %s "
			         "counter\n",
			         name, metric_info[i].help, name) == 0;
		if (ok)
			ok = dynbuf_addf(&b, "%s%s%s%s %llu\n", name,
			         metric_info[i].labels[0] ? "{" : "",
			         metric_info[i].labels,
			         metric_info[i].labels[0] ? "}" : "",
			         (unsigned long long)metrics_get(m,
			             (enum metric)i)) == 0;
	}
	if (ok)
		ok =
		    dynbuf_addf(&b,
		        "# HELP signet_agents_connected Agents "
		        "connected "
		        "now.\n# TYPE signet_agents_connected gauge\n"
		        "signet_agents_connected %zu\n"
		        "# HELP signet_hosts_known Hosts seen since the server "
		        "started.\n# TYPE signet_hosts_known gauge\n"
		        "signet_hosts_known %zu\n"
		        "# HELP signet_inventory_containers Containers in all "
		        "inventories.\n# TYPE signet_inventory_containers gauge\n"
		        "signet_inventory_containers %zu\n"
		        "# HELP signet_crl_next_update_seconds nextUpdate of the "
		        "loaded CRL (unix time); renew before it.\n"
		        "# TYPE signet_crl_next_update_seconds gauge\n"
		        "signet_crl_next_update_seconds %lld\n"
		        "# HELP signet_crl_expiring 1 when the loaded CRL's "
		        "nextUpdate is at most 7 days away: renew it (signet-pki "
		        "crl, install, SIGHUP).\n"
		        "# TYPE signet_crl_expiring gauge\n"
		        "signet_crl_expiring %d\n",
		        stats->agents_connected, stats->hosts_known,
		        stats->containers, (long long)crl_next_update,
		        identity_crl_state(crl_next_update, now) !=
		                IDENTITY_CRL_VALID ?
		            1 :
		            0) == 0;
	if (!ok) {
		dynbuf_free(&b);
		return NULL;
	}
	return dynbuf_take(&b, &len);
}
