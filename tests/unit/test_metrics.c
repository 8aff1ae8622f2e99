/* SPDX-License-Identifier: ISC */
/*
 * The server's /metrics (server/metrics.c) and its certificate expiry
 * gauges: the server's certificate, the CA and each connected agent
 * (signet_cert_expiry_timestamp_seconds, signet_cert_expiring), an agent's
 * rows gone once it is, and the older signet_certificate_expiry family
 * kept. (The CRL's gauges: test_crl_watch.c.)
 */
#include "metrics.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testlib.h"

#define DAY 86400
#define T0 1900000000LL /* 2030-03-17T17:46:40Z */

/* The server's /metrics: its certificate, the CA and connected agents. */
static void
test_cert_gauges(void)
{
	struct registry_cert agents[2] = { { "web-01", T0 + 5 * DAY },
		{ "web-02", T0 + 365 * DAY } };
	struct metrics *m = metrics_new();
	struct registry_stats st;
	struct metrics_trust t;
	char *text;

	CHECK(m != NULL);
	memset(&st, 0, sizeof(st));
	memset(&t, 0, sizeof(t));
	metrics_set_server_cert(m, "signet-server", T0 + 10 * DAY);
	t.ca_not_after = T0 + 3650 * DAY;
	(void)snprintf(t.ca_subject, sizeof(t.ca_subject), "signet CA");
	t.warn_days = 7;
	t.agents = agents;
	t.nagents = 2;
	text = metrics_render(m, &st, &t, T0);
	CHECK(text != NULL);
	if (text != NULL) {
		CHECK_CONTAINS(text,
		    "signet_cert_expiry_timestamp_seconds{role=\"server\","
		    "name=\"signet-server\"} 1900864000\n"
		    "signet_cert_expiry_timestamp_seconds{role=\"ca\","
		    "name=\"signet CA\"} 2215360000\n"
		    "signet_cert_expiry_timestamp_seconds{role=\"agent\","
		    "name=\"web-01\"} 1900432000\n"
		    "signet_cert_expiry_timestamp_seconds{role=\"agent\","
		    "name=\"web-02\"} 1931536000\n");
		CHECK_CONTAINS(text, "(7 days here)");
		CHECK_CONTAINS(text,
		    "signet_cert_expiring{role=\"server\",name=\"signet-"
		    "server\"} 0\n"
		    "signet_cert_expiring{role=\"ca\",name=\"signet CA\"} 0\n"
		    "signet_cert_expiring{role=\"agent\",name=\"web-01\"} 1\n"
		    "signet_cert_expiring{role=\"agent\",name=\"web-02\"} 0\n");
		/* The older family stays. */
		CHECK_CONTAINS(text,
		    "signet_certificate_expiry_timestamp_seconds{role="
		    "\"server\",subject=\"signet-server\"} 1900864000\n");
	}
	free(text);
	/* An agent gone: its rows go with it. */
	t.nagents = 1;
	text = metrics_render(m, &st, &t, T0);
	CHECK(text != NULL && strstr(text, "web-02") == NULL &&
	    strstr(text, "web-01") != NULL);
	free(text);
	metrics_free(m);
}

int
main(void)
{
	test_cert_gauges();
	return test_finish("test_metrics");
}
