/* SPDX-License-Identifier: ISC */
/* Atomic counters and histograms and their Prometheus text rendering. */
#include "metrics.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/objects.h>
#include <openssl/x509.h>

#include "cert_expiry.h"
#include "dynbuf.h"
#include "histogram.h"
#include "identity.h"

#ifndef SIGNET_VERSION
#define SIGNET_VERSION "unknown"
#endif

struct metrics {
	_Atomic uint64_t v[M_COUNT];
	struct histogram h[MH_COUNT];
	pthread_mutex_t mu; /* the server certificate's fields */
	char server_subject[128];
	int64_t server_not_after;
};

/*
 * Buckets: an action waits for dockerd (a STOP for its stop timeout, 10 s
 * by default) and is bounded by the API's 120 s wait; a hello follows the
 * TLS handshake by a round trip, bounded by hello_timeout (10 s).
 */
static const double action_bounds[] = { 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 15, 30,
	60, 120 };
static const double handshake_bounds[] = { 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
	0.5, 1, 2.5, 5, 10 };

static const struct {
	const char *name;
	const char *help;
} hist_info[MH_COUNT] = {
	[MH_ACTION_DURATION] = { "signet_action_duration_seconds",
	    "Time from an action's request to its agent's accepted result." },
	[MH_AGENT_HANDSHAKE] = { "signet_agent_handshake_duration_seconds",
	    "Time from an agent's WebSocket opening (TLS done) to its hello "
	    "being accepted." },
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
	[M_API_ERRORS_4XX] = { "signet_api_errors_total", "class=\"4xx\"",
	    "Operator API error answers by class." },
	[M_API_ERRORS_5XX] = { "signet_api_errors_total", "class=\"5xx\"",
	    NULL },
	[M_ACTIONS_REQUESTED] = { "signet_actions_requested_total", "",
	    "Actions signed, recorded and handed to the agent hub." },
	[M_ACTIONS_SENT] = { "signet_action_frames_sent_total", "",
	    "Action frames written to agents." },
	[M_ACTIONS_UNDELIVERED] = { "signet_actions_undelivered_total", "",
	    "Actions that ended UNDELIVERED (no frame reached the agent)." },
	[M_ACTIONS_TIMEOUT] = { "signet_actions_timed_out_total", "",
	    "Actions that reached their deadline without a result (TIMEOUT; "
	    "a late result may still replace it)." },
	[M_ACTIONS_AUDIT_FAILED] = { "signet_actions_refused_total",
	    "reason=\"audit_unavailable\"",
	    "Action requests refused before signing, by reason." },
	[M_ACTION_RESULTS] = { "signet_agent_result_frames_total",
	    "outcome=\"accepted\"",
	    "Result frames from agents, by what the server did with them." },
	[M_ACTION_RESULTS_DUPLICATE] = { "signet_agent_result_frames_total",
	    "outcome=\"duplicate\"", NULL },
	[M_ACTION_RESULTS_UNKNOWN] = { "signet_agent_result_frames_total",
	    "outcome=\"unknown_action\"", NULL },
	[M_ACTION_RESULTS_BAD] = { "signet_agent_result_frames_total",
	    "outcome=\"refused\"", NULL },
	[M_RESULT_SUCCESS] = { "signet_action_results_total",
	    "status=\"SUCCESS\"",
	    "Agent results accepted and recorded, by the agent's status." },
	[M_RESULT_FAILURE] = { "signet_action_results_total",
	    "status=\"FAILURE\"", NULL },
	[M_RESULT_DENIED] = { "signet_action_results_total",
	    "status=\"DENIED\"", NULL },
	[M_RESULT_REJECTED] = { "signet_action_results_total",
	    "status=\"REJECTED\"", NULL },
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
	if (histogram_init(&m->h[MH_ACTION_DURATION], action_bounds,
	        sizeof(action_bounds) / sizeof(action_bounds[0])) != 0 ||
	    histogram_init(&m->h[MH_AGENT_HANDSHAKE], handshake_bounds,
	        sizeof(handshake_bounds) / sizeof(handshake_bounds[0])) != 0 ||
	    pthread_mutex_init(&m->mu, NULL) != 0) {
		free(m);
		return NULL;
	}
	return m;
}

void
metrics_free(struct metrics *m)
{
	if (m == NULL)
		return;
	(void)pthread_mutex_destroy(&m->mu);
	free(m);
}

void
metrics_observe(struct metrics *m, enum metric_hist which, double seconds)
{
	if (m != NULL && which < MH_COUNT)
		histogram_observe(&m->h[which], seconds);
}

void
metrics_action_result(struct metrics *m, enum envelope_status status,
    double seconds)
{
	switch (status) {
	case ENVELOPE_STATUS_SUCCESS: metrics_inc(m, M_RESULT_SUCCESS); break;
	case ENVELOPE_STATUS_FAILURE: metrics_inc(m, M_RESULT_FAILURE); break;
	case ENVELOPE_STATUS_DENIED: metrics_inc(m, M_RESULT_DENIED); break;
	case ENVELOPE_STATUS_REJECTED: metrics_inc(m, M_RESULT_REJECTED); break;
	case ENVELOPE_STATUS_NONE:
	default: return; /* a parsed result always has one */
	}
	metrics_observe(m, MH_ACTION_DURATION, seconds);
}

void
metrics_set_server_cert(struct metrics *m, const char *subject,
    int64_t not_after)
{
	if (m == NULL || pthread_mutex_lock(&m->mu) != 0)
		return;
	(void)snprintf(m->server_subject, sizeof(m->server_subject), "%s",
	    subject != NULL ? subject : "");
	m->server_not_after = not_after;
	(void)pthread_mutex_unlock(&m->mu);
}

void
metrics_trust_from_store(const struct identity_store *store,
    struct metrics_trust *t)
{
	X509 *ca;

	memset(t, 0, sizeof(*t));
	if (store == NULL)
		return;
	t->crl_next_update = identity_store_crl_next_update(store);
	ca = identity_store_ca_x509(store);
	if (ca == NULL)
		return;
	if (identity_x509_not_after(ca, &t->ca_not_after) != 0)
		t->ca_not_after = 0;
	if (X509_NAME_get_text_by_NID(X509_get_subject_name(ca), NID_commonName,
	        t->ca_subject, sizeof(t->ca_subject)) < 0)
		t->ca_subject[0] = '\0';
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

/*
 * The exposition never needs more (10,000 agents' two expiry rows of at
 * most ~260 bytes each fit); a bug that would is cut short.
 */
#define METRICS_TEXT_MAX ((size_t)8 << 20)

/*
 * signet_cert_expiry_timestamp_seconds and signet_cert_expiring: the
 * server certificate, the CA and each connected agent (cert_expiry.h).
 */
static bool
render_cert_expiry(struct dynbuf *b, const char *server, int64_t server_na,
    const struct metrics_trust *t, int64_t now)
{
	struct cert_expiry_row *rows;
	size_t i, n = 2;
	bool ok;

	if (t->agents != NULL)
		n += t->nagents;
	if (n > SIZE_MAX / sizeof(*rows))
		return false;
	rows = calloc(n, sizeof(*rows));
	if (rows == NULL)
		return false;
	rows[0] = (struct cert_expiry_row){ "server", server, server_na };
	rows[1] = (struct cert_expiry_row){ "ca", t->ca_subject,
		t->ca_not_after };
	for (i = 2; i < n; i++)
		rows[i] = (struct cert_expiry_row){ "agent",
			t->agents[i - 2].host_id, t->agents[i - 2].not_after };
	ok = cert_expiry_render(b, rows, n, now, t->warn_days) == 0;
	free(rows);
	return ok;
}

/* The three expiry rows: the server certificate, the CA, the CRL; then
 * the per-certificate gauges. */
static bool
render_expiry(struct metrics *m, struct dynbuf *b,
    const struct metrics_trust *t, int64_t now)
{
	char server[128], subj[3][400];
	int64_t v[3];
	static const char *roles[] = { "server", "ca", "crl" };
	bool ok;
	size_t i;

	if (pthread_mutex_lock(&m->mu) != 0)
		return false;
	memcpy(server, m->server_subject, sizeof(server));
	v[MC_SERVER] = m->server_not_after;
	(void)pthread_mutex_unlock(&m->mu);
	v[MC_CA] = t->ca_not_after;
	v[MC_CRL] = t->crl_next_update;
	(void)cert_expiry_label(server, subj[MC_SERVER], sizeof(subj[0]));
	(void)cert_expiry_label(t->ca_subject, subj[MC_CA], sizeof(subj[0]));
	/* A CRL's subject is its issuer: the CA. */
	(void)cert_expiry_label(t->ca_subject, subj[MC_CRL], sizeof(subj[0]));
	ok = dynbuf_addf(b,
	         "# HELP signet_certificate_expiry_timestamp_seconds When "
	         "the server certificate and the CA expire (notAfter) and "
	         "the CRL must be replaced (nextUpdate), unix time; 0 "
	         "unknown.\n"
	         "# TYPE signet_certificate_expiry_timestamp_seconds "
	         "gauge\n") == 0;
	for (i = 0; ok && i < MC_COUNT; i++)
		ok = dynbuf_addf(b,
		         "signet_certificate_expiry_timestamp_seconds{role="
		         "\"%s\",subject=\"%s\"} %lld\n",
		         roles[i], subj[i], (long long)v[i]) == 0;
	return ok && render_cert_expiry(b, server, v[MC_SERVER], t, now);
}

char *
metrics_render(struct metrics *m, const struct registry_stats *stats,
    const struct metrics_trust *trust, int64_t now)
{
	struct dynbuf b;
	size_t i, len;
	char ver[64];
	bool ok = true;

	dynbuf_init(&b, METRICS_TEXT_MAX);
	ok = dynbuf_addf(&b,
	         "# HELP signet_build_info The running signet-server's "
	         "version; always 1.\n"
	         "# TYPE signet_build_info gauge\n"
	         "signet_build_info{version=\"%s\"} 1\n",
	         cert_expiry_label(SIGNET_VERSION, ver, sizeof(ver))) == 0;
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
	for (i = 0; ok && i < MH_COUNT; i++)
		ok = histogram_render(&m->h[i], &b, hist_info[i].name,
		         hist_info[i].help) == 0;
	if (ok)
		ok = render_expiry(m, &b, trust, now);
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
		        "# HELP signet_crl_next_update_timestamp_seconds "
		        "nextUpdate of the loaded CRL (unix time); renew before "
		        "it.\n"
		        "# TYPE signet_crl_next_update_timestamp_seconds gauge\n"
		        "signet_crl_next_update_timestamp_seconds %lld\n"
		        "# HELP signet_crl_expiring 1 when the loaded CRL's "
		        "nextUpdate is at most 7 days away: renew it (signet-pki "
		        "crl, install, SIGHUP).\n"
		        "# TYPE signet_crl_expiring gauge\n"
		        "signet_crl_expiring %d\n",
		        stats->agents_connected, stats->hosts_known,
		        stats->containers, (long long)trust->crl_next_update,
		        identity_crl_state(trust->crl_next_update, now) !=
		                IDENTITY_CRL_VALID ?
		            1 :
		            0) == 0;
	if (!ok) {
		dynbuf_free(&b);
		return NULL;
	}
	return dynbuf_take(&b, &len);
}
