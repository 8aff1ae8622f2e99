/* SPDX-License-Identifier: ISC */
/*
 * Benchmark (not a test): actions through signet against a real dockerd,
 * side by side with the same call made straight to dockerd's Engine API.
 *   bench_actions --api https://HOST:PORT --ca F --cert F --key F
 *                 --docker-socket PATH --container ID [--restart-container ID]
 *                 [--count N] [--spread ID,ID,...] [--api URL ...]
 *                 [--profile seq|N]   (signet only: sequential, or N in flight)
 *                 [--signing-key OP.key --signer NAME --host H
 *                  --roster-version N]  (each request operator-signed)
 * START of a running container is a real round trip that dockerd answers
 * with 304 (SUCCESS for signet): sequential latency percentiles for both
 * paths, then the throughput of both at 1, 16 and 64 requests in flight,
 * then one RESTART through each path. With --spread, request slot i of the
 * concurrent runs acts on the (i mod N)-th of those containers: signet
 * runs one container's actions one at a time, in order, so many requests
 * in flight on a single container measure that queue, not the relay.
 * Every request through signet is durable in both audit logs before it
 * is answered. With --signing-key every request through signet is a new
 * operator-signed request (docs/operators.md), signed here just before it
 * is sent (its cost is counted, as an operator's client pays it); the
 * containers must then be given by full id. --api given more than once
 * (a cluster's replicas, bench_cluster.sh): request slot i of the
 * concurrent runs goes to the (i mod N)-th; sequential runs use the first.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/resource.h>

#include <curl/curl.h>
#include <sodium.h>

#include "bench_stats.h"
#include "clock.h"
#include "opkey.h"
#include "request.h"
#include "text.h"

struct opts {
	const char *api, *ca, *cert, *key, *sock, *container, *restart;
	const char *apis[8]; /* every --api; api is apis[0] */
	int napi;
	long count;
	long conc[8];
	int nconc;
	long only_conc; /* profiling: this concurrency, signet only */
	bool only_seq;  /* profiling: sequential, signet only */
	const char *spread[64];
	int nspread;
	char *spread_buf;
	/* Operator-signed requests (--signing-key): NULL key for none. */
	struct keys_secret *opkey;
	const char *signer, *host;
	int64_t roster_version;
};

/*
 * A new operator-signed body for action on container (a new action_id);
 * NULL when it cannot be made.
 */
static char *
signed_body(const struct opts *o, const char *action, const char *container)
{
	struct request_payload p;
	struct request_signed s;
	uint8_t rnd[16];
	char *body = NULL;
	int n;

	memset(&p, 0, sizeof(p));
	memset(&s, 0, sizeof(s));
	randombytes_buf(rnd, sizeof(rnd));
	(void)text_hex(rnd, sizeof(rnd), p.action_id);
	(void)snprintf(p.host_id, sizeof(p.host_id), "%s", o->host);
	(void)snprintf(p.container_id, sizeof(p.container_id), "%s", container);
	p.action = envelope_action_parse(action);
	(void)snprintf(p.reason, sizeof(p.reason), "benchmark round trip");
	(void)snprintf(p.requested_by, sizeof(p.requested_by), "%s", o->signer);
	p.issued_at = clock_wall_ms();
	p.expires_at = p.issued_at + 120000;
	p.roster_version = o->roster_version;
	if (request_sign(&p, o->opkey, &s) != 0)
		return NULL;
	n = asprintf(&body,
	    "{\"request\":{\"payload\":\"%s\",\"sig\":\"%s\","
	    "\"key_id\":\"%s\"}}",
	    s.payload_b64, s.sig_b64, s.key_id);
	request_signed_free(&s);
	return n < 0 ? NULL : body;
}

/* Gives h a new signed body for the next request (signet, signing). */
static int
resign(const struct opts *o, CURL *h, const char *action, const char *container)
{
	char *body;

	if (o->opkey == NULL)
		return 0;
	body = signed_body(o, action, container);
	if (body == NULL)
		return -1;
	curl_easy_setopt(h, CURLOPT_COPYPOSTFIELDS, body);
	free(body);
	return 0;
}

static double
now_ms(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* CPU time of this process (user + system), ms. */
static double
cpu_ms(void)
{
	struct rusage ru;

	if (getrusage(RUSAGE_SELF, &ru) != 0)
		return 0;
	return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e3 +
	    (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e3;
}

static size_t
discard(char *p, size_t size, size_t n, void *arg)
{
	(void)p;
	(void)arg;
	return size * n;
}

/* A handle for one request: signet's POST, or dockerd's over its socket. */
static CURL *
make_handle(const struct opts *o, bool direct, const char *action,
    const char *container, char *url, size_t urlsz, struct curl_slist *hdrs,
    const char *api)
{
	CURL *h = curl_easy_init();
	static const char *bodies[] = {
		"{\"action\":\"START\",\"reason\":\"benchmark round trip\"}",
		"{\"action\":\"RESTART\",\"reason\":\"benchmark round trip\"}",
	};

	if (h == NULL)
		return NULL;
	if (direct) {
		(void)snprintf(url, urlsz,
		    "http://localhost/v1.41/containers/%s/%s", container,
		    strcmp(action, "START") == 0 ? "start" : "restart?t=1");
		curl_easy_setopt(h, CURLOPT_UNIX_SOCKET_PATH, o->sock);
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, "");
	} else {
		(void)snprintf(url, urlsz,
		    "%s/api/containers/%s/actions?wait=60", api, container);
		curl_easy_setopt(h, CURLOPT_CAINFO, o->ca);
		curl_easy_setopt(h, CURLOPT_SSLCERT, o->cert);
		curl_easy_setopt(h, CURLOPT_SSLKEY, o->key);
		curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
		curl_easy_setopt(h, CURLOPT_POSTFIELDS,
		    strcmp(action, "START") == 0 ? bodies[0] : bodies[1]);
	}
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, discard);
	curl_easy_setopt(h, CURLOPT_TIMEOUT, 120L);
	return h;
}

static double
pct(double *v, long n, double p)
{
	long i = (long)(p / 100.0 * (double)(n - 1) + 0.5);
	return v[i < n ? i : n - 1];
}

/* Sequential latencies; reuses one connection like a real client. */
static int
sequential(const struct opts *o, bool direct, struct curl_slist *hdrs, long n,
    double *lat)
{
	char url[512];
	CURL *h = make_handle(o, direct, "START", o->container, url,
	    sizeof(url), hdrs, o->api);
	long i, code = 0;

	if (h == NULL)
		return -1;
	for (i = 0; i < n; i++) {
		double t0 = now_ms();
		if (!direct && resign(o, h, "START", o->container) != 0)
			goto fail;
		if (curl_easy_perform(h) != CURLE_OK)
			goto fail;
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
		if ((direct && code != 304 && code != 204) ||
		    (!direct && code != 200))
			goto fail;
		lat[i] = now_ms() - t0;
	}
	curl_easy_cleanup(h);
	qsort(lat, (size_t)n, sizeof(*lat), bench_cmp_double);
	return 0;
fail:
	fprintf(stderr, "bench_actions: request failed (HTTP %ld)\n", code);
	curl_easy_cleanup(h);
	return -1;
}

/* Throughput of signet at conc requests in flight, n in all. */
static double
concurrent(const struct opts *o, bool direct, struct curl_slist *hdrs, long n,
    long conc)
{
	CURLM *m = curl_multi_init();
	CURL **hs = calloc((size_t)conc, sizeof(*hs));
	char(*urls)[512] = calloc((size_t)conc, sizeof(*urls));
	long started = 0, done = 0, failed = 0, i;
	double t0;
	int running = 0;

	if (m == NULL || hs == NULL || urls == NULL)
		return -1;
	curl_multi_setopt(m, CURLMOPT_MAX_TOTAL_CONNECTIONS, conc);
	t0 = now_ms();
	for (i = 0; i < conc && started < n; i++, started++) {
		hs[i] = make_handle(o, direct, "START",
		    o->nspread > 0 ? o->spread[i % o->nspread] : o->container,
		    urls[i], sizeof(urls[i]), hdrs, o->apis[i % o->napi]);
		if (!direct &&
		    resign(o, hs[i], "START",
		        o->nspread > 0 ? o->spread[i % o->nspread] :
		                         o->container) != 0)
			return -1;
		curl_multi_add_handle(m, hs[i]);
	}
	while (done < n) {
		CURLMsg *msg;
		int left;

		curl_multi_perform(m, &running);
		while ((msg = curl_multi_info_read(m, &left)) != NULL) {
			long code = 0;
			if (msg->msg != CURLMSG_DONE)
				continue;
			curl_easy_getinfo(msg->easy_handle,
			    CURLINFO_RESPONSE_CODE, &code);
			if (msg->data.result != CURLE_OK ||
			    (direct ? code != 304 && code != 204 : code != 200))
				failed++;
			done++;
			curl_multi_remove_handle(m, msg->easy_handle);
			if (started < n) {
				/* Reuse the handle (and its connection). */
				for (i = 0; i < conc; i++)
					if (hs[i] == msg->easy_handle)
						break;
				if (!direct &&
				    resign(o, msg->easy_handle, "START",
				        o->nspread > 0 ?
				            o->spread[i % o->nspread] :
				            o->container) != 0)
					failed++;
				curl_multi_add_handle(m, msg->easy_handle);
				started++;
			}
		}
		if (done < n)
			curl_multi_poll(m, NULL, 0, 100, NULL);
	}
	t0 = now_ms() - t0;
	for (i = 0; i < conc; i++) {
		if (hs[i] != NULL)
			curl_easy_cleanup(hs[i]);
	}
	curl_multi_cleanup(m);
	free(hs);
	free(urls);
	if (failed > 0)
		fprintf(stderr,
		    "bench_actions: %ld of %ld failed at "
		    "concurrency %ld\n",
		    failed, n, conc);
	return (double)n / (t0 / 1000.0);
}

static double
one_restart(const struct opts *o, bool direct, struct curl_slist *hdrs)
{
	char url[512];
	CURL *h = make_handle(o, direct, "RESTART", o->restart, url,
	    sizeof(url), hdrs, o->api);
	double t0 = now_ms(), t;
	long code = 0;

	if (h == NULL || curl_easy_perform(h) != CURLE_OK)
		t = -1;
	else
		t = now_ms() - t0;
	if (h != NULL)
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
	if ((direct && code != 204) || (!direct && code != 200))
		t = -1;
	curl_easy_cleanup(h);
	return t;
}

int
main(int argc, char **argv)
{
	struct opts o = { .count = 1000, .conc = { 1, 16, 64 }, .nconc = 3 };
	struct curl_slist *hdrs = NULL;
	const char *signing_key = NULL;
	double *a = NULL, *b = NULL;
	int i;

	for (i = 1; i + 1 < argc; i += 2) {
		int64_t v = 0;
		if (strcmp(argv[i], "--api") == 0 && o.napi < 8) {
			o.apis[o.napi++] = argv[i + 1];
			o.api = o.apis[0];
		} else if (strcmp(argv[i], "--ca") == 0)
			o.ca = argv[i + 1];
		else if (strcmp(argv[i], "--cert") == 0)
			o.cert = argv[i + 1];
		else if (strcmp(argv[i], "--key") == 0)
			o.key = argv[i + 1];
		else if (strcmp(argv[i], "--docker-socket") == 0)
			o.sock = argv[i + 1];
		else if (strcmp(argv[i], "--container") == 0)
			o.container = argv[i + 1];
		else if (strcmp(argv[i], "--restart-container") == 0)
			o.restart = argv[i + 1];
		else if (strcmp(argv[i], "--spread") == 0) {
			char *save = NULL, *t;

			free(o.spread_buf);
			o.spread_buf = strdup(argv[i + 1]);
			o.nspread = 0;
			for (t = o.spread_buf != NULL ?
			         strtok_r(o.spread_buf, ",", &save) :
			         NULL;
			     t != NULL && o.nspread < 64;
			     t = strtok_r(NULL, ",", &save))
				o.spread[o.nspread++] = t;
		} else if (strcmp(argv[i], "--profile") == 0 &&
		    strcmp(argv[i + 1], "seq") == 0)
			o.only_seq = true;
		else if (strcmp(argv[i], "--profile") == 0 &&
		    text_to_int64(argv[i + 1], 1, 1024, &v) == 0)
			o.only_conc = (long)v;
		else if (strcmp(argv[i], "--signing-key") == 0)
			signing_key = argv[i + 1];
		else if (strcmp(argv[i], "--signer") == 0)
			o.signer = argv[i + 1];
		else if (strcmp(argv[i], "--host") == 0)
			o.host = argv[i + 1];
		else if (strcmp(argv[i], "--roster-version") == 0 &&
		    text_to_int64(argv[i + 1], 1, 1000000, &v) == 0)
			o.roster_version = v;
		else if (strcmp(argv[i], "--count") == 0 &&
		    text_to_int64(argv[i + 1], 10, 1000000, &v) == 0)
			o.count = (long)v;
		else {
			fprintf(stderr, "bench_actions: bad option %s\n",
			    argv[i]);
			return 2;
		}
	}
	if (o.api == NULL || o.ca == NULL || o.cert == NULL || o.key == NULL ||
	    o.sock == NULL || o.container == NULL) {
		fprintf(stderr, "usage: see the comment in bench_actions.c\n");
		return 2;
	}
	if (signing_key != NULL) {
		struct err_msg m;

		err_clear(&m);
		if (sodium_init() < 0)
			return 1;
		o.opkey = sodium_malloc(sizeof(*o.opkey));
		if (o.opkey == NULL ||
		    opkey_load(signing_key, NULL, 0, o.opkey, &m) != 0 ||
		    o.signer == NULL || o.host == NULL ||
		    o.roster_version == 0) {
			fprintf(stderr,
			    "bench_actions: --signing-key (an "
			    "unsealed operator key: %s) needs "
			    "--signer, --host, --roster-version\n",
			    m.text);
			return 2;
		}
	}
	curl_global_init(CURL_GLOBAL_DEFAULT);
	hdrs = curl_slist_append(NULL, "Content-Type: application/json");
	a = calloc((size_t)o.count, sizeof(*a));
	b = calloc((size_t)o.count, sizeof(*b));
	if (a == NULL || b == NULL || hdrs == NULL)
		return 1;
	if (o.only_conc > 0) {
		double c0 = cpu_ms(), rate;

		rate = concurrent(&o, false, hdrs, o.count, o.only_conc);
		printf("%ld in flight: through signet %.0f actions/s; this "
		       "client's CPU %.3f ms/action\n",
		    o.only_conc, rate, (cpu_ms() - c0) / (double)o.count);
		return 0;
	}
	if (o.only_seq) {
		if (sequential(&o, false, hdrs, o.count, b) != 0)
			return 1;
		printf(
		    "through signet: p50 %.3f ms  p90 %.3f ms  p99 %.3f ms\n",
		    pct(b, o.count, 50), pct(b, o.count, 90),
		    pct(b, o.count, 99));
		return 0;
	}
	if (sequential(&o, true, hdrs, o.count, a) != 0 ||
	    sequential(&o, false, hdrs, o.count, b) != 0)
		return 1;
	printf("sequential START of a running container (dockerd 304), %ld "
	       "each:\n",
	    o.count);
	printf("  straight to dockerd: p50 %.3f ms  p90 %.3f ms  p99 %.3f ms\n",
	    pct(a, o.count, 50), pct(a, o.count, 90), pct(a, o.count, 99));
	printf("  through signet:      p50 %.3f ms  p90 %.3f ms  p99 %.3f ms  "
	       "(p50 ratio %.1fx)\n",
	    pct(b, o.count, 50), pct(b, o.count, 90), pct(b, o.count, 99),
	    pct(b, o.count, 50) / pct(a, o.count, 50));
	printf("throughput, %ld START each, over %d container(s):\n", o.count,
	    o.nspread > 0 ? o.nspread : 1);
	for (i = 0; i < o.nconc; i++) {
		double d = concurrent(&o, true, hdrs, o.count, o.conc[i]);
		double s = concurrent(&o, false, hdrs, o.count, o.conc[i]);
		printf("  %2ld in flight: straight to dockerd %.0f/s, through "
		       "signet %.0f actions/s (%.0f%%)\n",
		    o.conc[i], d, s, 100.0 * s / d);
	}
	if (o.restart != NULL) {
		double d = one_restart(&o, true, hdrs);
		double s = one_restart(&o, false, hdrs);
		printf("RESTART (stop timeout 1 s): straight %.1f ms, through "
		       "signet %.1f ms (ratio %.2f)\n",
		    d, s, s / d);
	}
	free(a);
	free(b);
	free(o.spread_buf);
	curl_slist_free_all(hdrs);
	curl_global_cleanup();
	return 0;
}
