/* SPDX-License-Identifier: ISC */
/*
 * Each simulated agent's connections, as the real agent keeps its own
 * (agent/channel.c): the server URLs (--url, several for a cluster's
 * replicas; agent i starts at URL i mod their number, so that a fleet is
 * spread over them), the dial, and on a loss (the connection closed or
 * never opened) a redial to the next URL after a full-jitter backoff:
 * a delay anywhere in [0, ceiling), the first redial after a loss
 * included, the ceiling --reconnect-min-ms for the first round of URLs
 * and doubling with each further round of failures up to
 * --reconnect-max-ms; it starts afresh after a connection that worked
 * (an action or result_ack came, it was up SIM_BACKOFF_RESET_MS, or the
 * agent left it for a drain). A drain frame makes the agent leave within
 * a random delay in [0, within_ms) and redial the next URL. Redials wait
 * for a slot under --inflight like first dials. The counts of what the
 * agents do now make the status line (SIGUSR1, --status-file).
 */
#include <stdio.h>
#include <string.h>

#include <libwebsockets.h>
#include <sodium.h>

#include "clock.h"
#include "sim.h"
#include "text.h"

/* wss://HOST:PORT[/PATH] */
static int
parse_target(struct sim_target *t, const char *u)
{
	const char *h, *colon, *slash;
	int64_t port;
	char portbuf[8];
	size_t n;

	memset(t, 0, sizeof(*t));
	t->url = u;
	if (strncmp(u, "wss://", 6) != 0)
		return -1;
	h = u + 6;
	slash = strchr(h, '/');
	colon = strrchr(h, ':');
	if (colon == NULL || (slash != NULL && colon > slash))
		return -1;
	n = (size_t)(colon - h);
	if (n == 0 || n >= sizeof(t->host))
		return -1;
	memcpy(t->host, h, n);
	t->host[n] = '\0';
	n = slash != NULL ? (size_t)(slash - colon - 1) : strlen(colon + 1);
	if (n == 0 || n >= sizeof(portbuf))
		return -1;
	memcpy(portbuf, colon + 1, n);
	portbuf[n] = '\0';
	if (text_to_int64(portbuf, 1, 65535, &port) != 0)
		return -1;
	t->port = (int)port;
	if (slash != NULL && strlen(slash) >= sizeof(t->path))
		return -1;
	(void)snprintf(t->path, sizeof(t->path), "%s",
	    slash != NULL ? slash : "/");
	return 0;
}

int
sim_parse_targets(struct sim *s)
{
	char esc[128];
	size_t i;

	for (i = 0; i < s->o.nurls; i++) {
		if (parse_target(&s->targets[i], s->o.urls[i]) != 0) {
			fprintf(stderr,
			    "agent_sim: --url \"%s\": expected "
			    "wss://HOST:PORT[/PATH]\n",
			    text_escape_str(s->o.urls[i], esc, sizeof(esc)));
			return -1;
		}
	}
	s->ntargets = s->o.nurls;
	return 0;
}

static size_t *
count_of(struct sim *s, enum sim_state st)
{
	switch (st) {
	case ST_CONNECTING: return &s->n_connecting;
	case ST_OPEN: return &s->n_open;
	case ST_WAIT: return &s->n_waiting;
	default: return NULL;
	}
}

void
sim_set_state(struct sim *s, struct sim_agent *a, enum sim_state st)
{
	size_t *c;

	if (a->state == st)
		return;
	c = count_of(s, a->state);
	if (c != NULL && *c > 0)
		(*c)--;
	if (a->state == ST_OPEN) {
		if (a->hello_sent && s->n_hello > 0)
			s->n_hello--;
		if (a->accepted && s->n_accepted > 0)
			s->n_accepted--;
	}
	a->state = st;
	c = count_of(s, st);
	if (c != NULL)
		(*c)++;
}

/* Fires the due timer at ms (monotonic), unless it fires sooner. */
static void on_due(lws_sorted_usec_list_t *);

static void
arm_due(struct sim *s, int64_t ms)
{
	int64_t now = clock_mono_ms(), wait;

	if (s->due_at != 0 && s->due_at <= ms)
		return;
	wait = ms - now;
	if (wait < SIM_DUE_MIN_MS)
		wait = SIM_DUE_MIN_MS;
	s->due_at = now + wait;
	lws_sul_schedule(s->lws, 0, &s->due, on_due,
	    (lws_usec_t)wait * LWS_US_PER_MS);
}

static void
ready_push(struct sim *s, struct sim_agent *a)
{
	if (a->queued || s->ready_len == s->nagents)
		return;
	s->ready[(s->ready_head + s->ready_len) % s->nagents] =
	    (uint32_t)a->idx;
	s->ready_len++;
	a->queued = true;
}

struct sim_agent *
sim_ready_pop(struct sim *s)
{
	struct sim_agent *a;

	while (s->ready_len > 0) {
		a = &s->agents[s->ready[s->ready_head]];
		s->ready_head = (s->ready_head + 1) % s->nagents;
		s->ready_len--;
		a->queued = false;
		if (a->state == ST_WAIT)
			return a;
	}
	return NULL;
}

/* Redials that are due go to the ready ring; drains that are due leave. */
static void
on_due(lws_sorted_usec_list_t *sul)
{
	struct sim *s = lws_container_of(sul, struct sim, due);
	int64_t now = clock_mono_ms(), next = 0;
	size_t i;

	s->due_at = 0;
	for (i = 0; i < s->nagents; i++) {
		struct sim_agent *a = &s->agents[i];
		int64_t t = 0;

		if (a->state == ST_WAIT && !a->queued) {
			if (a->due_ms <= now)
				ready_push(s, a);
			else
				t = a->due_ms;
		} else if (a->state == ST_OPEN && a->leave_ms != 0 &&
		    !a->leaving) {
			if (a->leave_ms <= now) {
				a->leaving = true;
				if (a->wsi != NULL)
					lws_callback_on_writable(a->wsi);
			} else {
				t = a->leave_ms;
			}
		}
		if (t != 0 && (next == 0 || t < next))
			next = t;
	}
	if (next != 0)
		arm_due(s, next);
}

void
sim_dial(struct sim *s, struct sim_agent *a)
{
	const struct sim_target *t = &s->targets[a->cur];
	struct lws_client_connect_info ci;

	memset(&ci, 0, sizeof(ci));
	ci.context = s->lws;
	ci.address = s->o.address != NULL ? s->o.address : t->host;
	ci.port = t->port;
	ci.ssl_connection = LCCSCF_USE_SSL;
	ci.path = t->path;
	ci.host = t->host;
	ci.origin = t->host;
	ci.protocol = "signet.v1";
	ci.alpn = "http/1.1";
	ci.opaque_user_data = a;
	ci.pwsi = &a->wsi;
	a->wsi = NULL;
	sim_set_state(s, a, ST_CONNECTING);
	a->started = true;
	a->attempts++;
	if (lws_client_connect_via_info(&ci) == NULL &&
	    a->state == ST_CONNECTING) {
		a->failed = true;
		s->errors++;
		printf("error %d \"cannot start the connection\"\n", a->idx);
		sim_lost(s, a, false);
	}
}

/* The backoff's ceiling: min for the first round of URLs, then doubled
 * for each further round of failures, up to max. a->fails >= 1. */
static uint32_t
ceiling_ms(const struct sim *s, const struct sim_agent *a)
{
	unsigned rounds = (a->fails - 1) / (unsigned)s->ntargets, i;
	uint64_t cap = (uint64_t)s->o.reconnect_min_ms;

	for (i = 0; i < rounds && cap < (uint64_t)s->o.reconnect_max_ms; i++)
		cap *= 2;
	if (cap > (uint64_t)s->o.reconnect_max_ms)
		cap = (uint64_t)s->o.reconnect_max_ms;
	return (uint32_t)cap;
}

void
sim_lost(struct sim *s, struct sim_agent *a, bool was_open)
{
	int64_t now = clock_mono_ms();
	uint32_t ceiling, delay;
	size_t from = a->cur;
	bool left = a->leaving;
	bool again = s->o.reconnect && !s->closing && !a->want_close;

	sim_set_state(s, a, again ? ST_WAIT : ST_DONE);
	a->wsi = NULL;
	a->hello_sent = false;
	a->accepted = false;
	a->leaving = false;
	a->leave_ms = 0;
	a->step = 0;
	a->off = 0;
	a->have_challenge = false;
	a->peer_closed = false;
	a->close_code = 0;
	a->close_reason[0] = '\0';
	a->alert[0] = '\0';
	if (!again) {
		s->done++;
		return;
	}
	if (was_open) {
		a->lost_ms = now;
		a->attempts = 0;
		if (a->healthy || left ||
		    now - a->opened_ms >= SIM_BACKOFF_RESET_MS)
			a->fails = 0;
	}
	a->healthy = false;
	a->fails++;
	ceiling = ceiling_ms(s, a);
	delay = ceiling > 0 ? randombytes_uniform(ceiling) : 0;
	a->cur = (a->cur + 1) % s->ntargets;
	a->due_ms = now + delay;
	if (!s->o.quiet)
		printf("redial %d from=%s next=%s in_ms=%u ceiling_ms=%u "
		       "fails=%u\n",
		    a->idx, s->targets[from].url, s->targets[a->cur].url, delay,
		    ceiling, a->fails);
	arm_due(s, a->due_ms);
}

void
sim_opened(struct sim *s, struct sim_agent *a)
{
	int64_t now = clock_mono_ms();

	sim_set_state(s, a, ST_OPEN);
	a->opened_ms = now;
	if (!a->opened)
		s->connected++;
	a->opened = true;
	if (a->lost_ms == 0)
		return;
	s->reconnects++;
	printf("reconnected %d url=%s after_ms=%lld attempts=%u\n", a->idx,
	    s->targets[a->cur].url, (long long)(now - a->lost_ms), a->attempts);
	a->lost_ms = 0;
}

void
sim_drain(struct sim *s, struct sim_agent *a, uint32_t within_ms)
{
	uint32_t delay;

	s->drains++;
	if (a->state != ST_OPEN || a->leave_ms != 0 || a->leaving)
		return; /* one departure per connection, as the agent */
	delay = within_ms > 0 ? randombytes_uniform(within_ms) : 0;
	a->leave_ms = clock_mono_ms() + delay;
	if (!s->o.quiet)
		printf("drain %d within_ms=%u leave_in_ms=%u\n", a->idx,
		    within_ms, delay);
	arm_due(s, a->leave_ms);
}

void
sim_hello_sent(struct sim *s, struct sim_agent *a)
{
	if (a->state != ST_OPEN || a->hello_sent)
		return;
	a->hello_sent = true;
	s->n_hello++;
}

void
sim_accepted(struct sim *s, struct sim_agent *a)
{
	if (a->state != ST_OPEN || a->accepted)
		return;
	a->accepted = true;
	s->n_accepted++;
}

void
sim_status(const struct sim *s, char *buf, size_t len)
{
	(void)snprintf(buf, len,
	    "status ms=%lld agents=%zu open=%zu hello=%zu accepted=%zu "
	    "connecting=%zu waiting=%zu done=%zu reconnects=%zu drains=%zu",
	    (long long)(clock_mono_ms() - s->start_ms), s->nagents, s->n_open,
	    s->n_hello, s->n_accepted, s->n_connecting, s->n_waiting, s->done,
	    s->reconnects, s->drains);
}

int
sim_status_write(struct sim *s)
{
	char tmp[4200], line[512];
	FILE *f;
	int r = -1;

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", s->o.status_file) >=
	    sizeof(tmp))
		return -1;
	sim_status(s, line, sizeof(line));
	f = fopen(tmp, "w");
	if (f == NULL)
		return -1;
	if (fprintf(f, "%s\n", line) < 0) {
		(void)fclose(f);
		goto out;
	}
	if (fclose(f) != 0)
		goto out;
	if (rename(tmp, s->o.status_file) != 0)
		goto out;
	r = 0;
out:
	if (r != 0)
		(void)remove(tmp);
	return r;
}
