/* SPDX-License-Identifier: ISC */
/* The agent's loopback-only Prometheus listener (libmicrohttpd). */
#include "agent_metrics.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <microhttpd.h>

#include "audit_health.h"
#include "cert_expiry.h"
#include "dynbuf.h"
#include "text.h"

#ifndef SIGNET_VERSION
#define SIGNET_VERSION "unknown"
#endif

/* One scraper or two; a scrape is small and quick. */
#define AM_CONNECTION_LIMIT 8
#define AM_CONNECTION_TIMEOUT 10 /* seconds */
#define AM_MEMORY_LIMIT (32 * 1024)
#define AM_TEXT_MAX ((size_t)64 * 1024)

/* dockerd answers a list in milliseconds; a STOP waits its stop_timeout. */
static const double dockerd_bounds[] = { 0.001, 0.0025, 0.005, 0.01, 0.025,
	0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60 };

struct agent_metrics {
	struct histogram dockerd;
	struct MHD_Daemon *daemon;
	struct executor *ex;
	struct audit_writer *audit;
	struct channel *ch;
	/* Its own certificate (agent_metrics_set_cert); cert_set false: not
	 * rendered. */
	bool cert_set;
	char cert_name[64];
	int64_t cert_not_after;
	int cert_warn_days;
};

int
agent_metrics_parse_listen(const char *value, bool *on,
    struct sockaddr_storage *ss, struct err_msg *msg)
{
	char host[64], esc[96];
	const char *port, *end;
	size_t hlen;
	int64_t pnum;

	*on = false;
	memset(ss, 0, sizeof(*ss));
	if (value == NULL || value[0] == '\0')
		return 0;
	(void)text_escape_str(value, esc, sizeof(esc));
	if (value[0] == '[') {
		end = strchr(value, ']');
		if (end == NULL || end[1] != ':')
			goto bad;
		hlen = (size_t)(end - value - 1);
		if (hlen == 0 || hlen >= sizeof(host))
			goto bad;
		memcpy(host, value + 1, hlen);
		port = end + 2;
	} else {
		end = strrchr(value, ':');
		if (end == NULL)
			goto bad;
		hlen = (size_t)(end - value);
		if (hlen == 0 || hlen >= sizeof(host))
			goto bad;
		memcpy(host, value, hlen);
		port = end + 1;
	}
	host[hlen] = '\0';
	if (text_to_int64(port, 1, 65535, &pnum) != 0)
		goto bad;
	if (value[0] != '[') {
		struct sockaddr_in *in = (struct sockaddr_in *)(void *)ss;

		if (inet_pton(AF_INET, host, &in->sin_addr) != 1)
			goto bad;
		/* 127.0.0.0/8 */
		if ((ntohl(in->sin_addr.s_addr) >> 24) != 127)
			goto not_loopback;
		in->sin_family = AF_INET;
		in->sin_port = htons((uint16_t)pnum);
	} else {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)(void *)ss;

		if (inet_pton(AF_INET6, host, &in6->sin6_addr) != 1)
			goto bad;
		if (!IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr))
			goto not_loopback;
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons((uint16_t)pnum);
	}
	*on = true;
	return 0;
bad:
	return err_set(msg, SIGNET_ERR_CONFIG,
	    "metrics_listen: \"%s\" is not an IP address and port "
	    "(HOST:PORT, IPv6 as [ADDR]:PORT, port 1..65535; empty: off)",
	    esc);
not_loopback:
	/* No TLS and no client check on this listener: host-local only. */
	memset(ss, 0, sizeof(*ss));
	return err_set(msg, SIGNET_ERR_CONFIG,
	    "metrics_listen: \"%s\" is not a loopback address: the agent's "
	    "metrics have no TLS or authentication and are served on "
	    "127.0.0.0/8 or [::1] only",
	    esc);
}

int
agent_metrics_new(struct agent_metrics **out)
{
	struct agent_metrics *am = calloc(1, sizeof(*am));

	*out = NULL;
	if (am == NULL)
		return SIGNET_ERR_ALLOC;
	if (histogram_init(&am->dockerd, dockerd_bounds,
	        sizeof(dockerd_bounds) / sizeof(dockerd_bounds[0])) != 0) {
		free(am);
		return SIGNET_ERR_INTERNAL;
	}
	*out = am;
	return 0;
}

struct histogram *
agent_metrics_dockerd(struct agent_metrics *am)
{
	return am != NULL ? &am->dockerd : NULL;
}

void
agent_metrics_set_cert(struct agent_metrics *am, const char *name,
    int64_t not_after, int warn_days)
{
	if (am == NULL)
		return;
	(void)snprintf(am->cert_name, sizeof(am->cert_name), "%s",
	    name != NULL ? name : "");
	am->cert_not_after = not_after;
	am->cert_warn_days = warn_days;
	am->cert_set = true;
}

char *
agent_metrics_render(struct agent_metrics *am)
{
	static const enum audit_health_state states[] = { AUDIT_HEALTH_OK,
		AUDIT_HEALTH_NO_SPACE, AUDIT_HEALTH_FAILING,
		AUDIT_HEALTH_BROKEN };
	struct executor_stats st;
	struct audit_stats ast;
	struct audit_health h;
	struct dynbuf b;
	size_t i, len;
	bool ok;

	memset(&st, 0, sizeof(st));
	if (am->ex != NULL)
		executor_get_stats(am->ex, &st);
	audit_health_get(am->audit, AUDIT_HEALTH_MIN_FREE, &h);
	memset(&ast, 0, sizeof(ast));
	if (am->audit != NULL)
		audit_get_stats(am->audit, &ast);
	dynbuf_init(&b, AM_TEXT_MAX);
	ok = dynbuf_addf(&b,
	         "# HELP signet_agent_build_info The running signet-agent's "
	         "version; always 1.\n"
	         "# TYPE signet_agent_build_info gauge\n"
	         "signet_agent_build_info{version=\"%s\"} 1\n"
	         "# HELP signet_agent_actions_queued Verified action frames "
	         "waiting for a worker.\n"
	         "# TYPE signet_agent_actions_queued gauge\n"
	         "signet_agent_actions_queued %zu\n"
	         "# HELP signet_agent_actions_running Actions a worker is "
	         "running now.\n"
	         "# TYPE signet_agent_actions_running gauge\n"
	         "signet_agent_actions_running %zu\n"
	         "# HELP signet_agent_outbox_results Signed results held, by "
	         "whether the server acknowledged them (unacknowledged ones "
	         "are sent again).\n"
	         "# TYPE signet_agent_outbox_results gauge\n"
	         "signet_agent_outbox_results{state=\"unacknowledged\"} %zu\n"
	         "signet_agent_outbox_results{state=\"acknowledged\"} %zu\n",
	         SIGNET_VERSION, st.queued, st.running, st.undelivered,
	         st.outbox >= st.undelivered ? st.outbox - st.undelivered :
	                                       0) == 0;
	if (ok)
		ok = histogram_render(&am->dockerd, &b,
		         "signet_agent_dockerd_request_duration_seconds",
		         "Time dockerd took to answer the agent's Engine API "
		         "requests (snapshots and actions), failures "
		         "included.") == 0;
	if (ok)
		ok = dynbuf_addf(&b,
		         "# HELP signet_agent_audit_state The audit writer's "
		         "state: 1 for the current one (not ok: actions are "
		         "refused).\n"
		         "# TYPE signet_agent_audit_state gauge\n") == 0;
	for (i = 0; ok && i < sizeof(states) / sizeof(states[0]); i++)
		ok = dynbuf_addf(&b,
		         "signet_agent_audit_state{state=\"%s\"} %d\n",
		         audit_health_name(states[i]),
		         h.state == states[i] ? 1 : 0) == 0;
	if (ok)
		ok =
		    dynbuf_addf(&b,
		        "# HELP signet_agent_audit_mirror_failures_total Audit "
		        "records that [audit] mirror could not send to journald "
		        "(each is in the signed log all the same).\n"
		        "# TYPE signet_agent_audit_mirror_failures_total "
		        "counter\n"
		        "signet_agent_audit_mirror_failures_total %llu\n"
		        "# HELP signet_agent_audit_records_total Audit records "
		        "made durable since the agent started.\n"
		        "# TYPE signet_agent_audit_records_total counter\n"
		        "signet_agent_audit_records_total %llu\n"
		        "# HELP signet_agent_audit_syncs_total fdatasync calls "
		        "that made them durable (several records share one).\n"
		        "# TYPE signet_agent_audit_syncs_total counter\n"
		        "signet_agent_audit_syncs_total %llu\n",
		        (unsigned long long)ast.mirror_failures,
		        (unsigned long long)ast.appends,
		        (unsigned long long)ast.syncs) == 0;
	if (ok && am->ch != NULL) {
		struct channel_stats cs;
		bool up = channel_connected(am->ch);

		channel_get_stats(am->ch, &cs);
		ok = dynbuf_addf(&b,
		         "# HELP signet_agent_server_connected The server URLs "
		         "given ([agent] server): 1 for the one the agent is "
		         "connected to now.\n"
		         "# TYPE signet_agent_server_connected gauge\n") == 0;
		for (i = 0; ok && i < cs.nservers; i++)
			ok =
			    dynbuf_addf(&b,
			        "signet_agent_server_connected{url=\"%s\"} %d\n",
			        channel_url(am->ch, i),
			        up && i == cs.server ? 1 : 0) == 0;
		if (ok)
			ok =
			    dynbuf_addf(&b,
			        "# HELP signet_agent_server_drains_total Drain "
			        "frames the agent left a server for.\n"
			        "# TYPE signet_agent_server_drains_total "
			        "counter\n"
			        "signet_agent_server_drains_total %llu\n",
			        (unsigned long long)cs.drains) == 0;
	}
	if (ok && am->cert_set) {
		struct cert_expiry_row row = { "agent_self", am->cert_name,
			am->cert_not_after };

		ok = cert_expiry_render(&b, &row, 1, (int64_t)time(NULL),
		         am->cert_warn_days) == 0;
	}
	if (!ok) {
		dynbuf_free(&b);
		return NULL;
	}
	return dynbuf_take(&b, &len);
}

/* Queues a fixed text answer. */
static enum MHD_Result
answer_text(struct MHD_Connection *conn, unsigned status, const char *text)
{
	struct MHD_Response *resp;
	enum MHD_Result ret;

	resp = MHD_create_response_from_buffer(strlen(text), (void *)text,
	    MHD_RESPMEM_PERSISTENT);
	if (resp == NULL)
		return MHD_NO;
	if (MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
	        "text/plain; charset=utf-8") != MHD_YES ||
	    (status == MHD_HTTP_METHOD_NOT_ALLOWED &&
	        MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, "GET") !=
	            MHD_YES)) {
		MHD_destroy_response(resp);
		return MHD_NO;
	}
	ret = MHD_queue_response(conn, status, resp);
	MHD_destroy_response(resp);
	return ret;
}

static enum MHD_Result
am_access(void *cls, struct MHD_Connection *conn, const char *url,
    const char *method, const char *version, const char *upload_data,
    size_t *upload_data_size, void **con_cls)
{
	struct agent_metrics *am = cls;
	struct MHD_Response *resp;
	enum MHD_Result ret;
	char *text;

	(void)version;
	(void)upload_data;
	/* First call: headers only; answer on the second. */
	if (*con_cls == NULL) {
		*con_cls = am;
		return MHD_YES;
	}
	/* A body is never wanted: discard it, then answer. */
	if (*upload_data_size != 0) {
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (strcmp(url, "/metrics") != 0)
		return answer_text(conn, MHD_HTTP_NOT_FOUND,
		    "not found: only GET /metrics\n");
	if (strcmp(method, "GET") != 0)
		return answer_text(conn, MHD_HTTP_METHOD_NOT_ALLOWED,
		    "method not allowed: only GET /metrics\n");
	text = agent_metrics_render(am);
	if (text == NULL)
		return answer_text(conn, MHD_HTTP_INTERNAL_SERVER_ERROR,
		    "out of memory\n");
	resp = MHD_create_response_from_buffer(strlen(text), text,
	    MHD_RESPMEM_MUST_FREE);
	if (resp == NULL) {
		free(text);
		return MHD_NO;
	}
	if (MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
	        "text/plain; version=0.0.4; charset=utf-8") != MHD_YES ||
	    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL,
	        "no-store") != MHD_YES) {
		MHD_destroy_response(resp);
		return MHD_NO;
	}
	ret = MHD_queue_response(conn, MHD_HTTP_OK, resp);
	MHD_destroy_response(resp);
	return ret;
}

int
agent_metrics_start(struct agent_metrics *am, const struct sockaddr_storage *ss,
    struct executor *ex, struct audit_writer *audit, struct err_msg *msg)
{
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO;
	uint16_t port;

	if (am == NULL || ss == NULL || am->daemon != NULL)
		return err_set(msg, SIGNET_ERR_INVALID_ARG,
		    "agent_metrics_start: bad arguments");
	am->ex = ex;
	am->audit = audit;
	if (ss->ss_family == AF_INET6) {
		flags |= MHD_USE_IPv6;
		port = ntohs(
		    ((const struct sockaddr_in6 *)(const void *)ss)->sin6_port);
	} else {
		port = ntohs(
		    ((const struct sockaddr_in *)(const void *)ss)->sin_port);
	}
	am->daemon = MHD_start_daemon(flags, port, NULL, NULL, am_access, am,
	    MHD_OPTION_SOCK_ADDR, (const struct sockaddr *)ss,
	    MHD_OPTION_CONNECTION_LIMIT, (unsigned int)AM_CONNECTION_LIMIT,
	    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)AM_CONNECTION_TIMEOUT,
	    MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)AM_MEMORY_LIMIT,
	    MHD_OPTION_END);
	if (am->daemon == NULL)
		return err_set(msg, SIGNET_ERR_IO,
		    "metrics: cannot listen on port %u (in use?)",
		    (unsigned)port);
	return 0;
}

void
agent_metrics_set_channel(struct agent_metrics *am, struct channel *ch)
{
	am->ch = ch;
}

unsigned
agent_metrics_port(struct agent_metrics *am)
{
	const union MHD_DaemonInfo *di;

	if (am == NULL || am->daemon == NULL)
		return 0;
	di = MHD_get_daemon_info(am->daemon, MHD_DAEMON_INFO_BIND_PORT);
	return di != NULL ? di->port : 0;
}

void
agent_metrics_stop(struct agent_metrics *am)
{
	if (am == NULL || am->daemon == NULL)
		return;
	MHD_stop_daemon(am->daemon);
	am->daemon = NULL;
}

void
agent_metrics_free(struct agent_metrics *am)
{
	agent_metrics_stop(am);
	free(am);
}
