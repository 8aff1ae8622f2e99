/* SPDX-License-Identifier: ISC */
/*
 * The hub's drain on stop ([cluster] drain_ms, docs/cluster.md): before
 * the agent listener closes, every agent in session is sent a drain frame
 * (docs/protocol.md) and leaves, each at a moment of its own within
 * drain_ms, for another replica; the hub waits until they have gone or
 * drain_ms has passed, and then stops as before (hub_run, begin_shutdown).
 * Spreading the departures keeps the replicas that remain from being hit
 * by every agent in the same second. Actions still flow while it drains.
 */
#include "hub.h"
#include "hub_int.h"

#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "log.h"
#include "wire.h"

/* Queues a drain frame giving the agent within_ms; false on failure. */
static bool
queue_drain_frame(struct hub_conn *c, int within_ms)
{
	struct hub_out *o = NULL;
	char *text = NULL;
	size_t len = 0;

	if (wire_build_drain((uint32_t)within_ms, &text, &len) != 0)
		return false;
	o = calloc(1, sizeof(*o));
	if (o != NULL && (o->buf = malloc(LWS_PRE + len)) == NULL) {
		free(o);
		o = NULL;
	}
	if (o == NULL) {
		free(text);
		return false;
	}
	/* Not an action: nothing to undeliver if the connection goes. */
	o->is_ack = true;
	memcpy(o->host_id, c->id.name, strlen(c->id.name) + 1);
	memcpy(o->buf + LWS_PRE, text, len);
	o->len = len;
	free(text);
	hub_out_append(c, o);
	return true;
}

static bool
in_session(const struct hub_conn *c)
{
	return c->hello_done && !c->ended && !c->closing;
}

bool
hub_drain_done(struct hub *hub)
{
	int64_t now = clock_mono_ms(), left;
	struct hub_conn *c;
	size_t live = 0, asked = 0;

	if (hub->drain_ms <= 0 || hub->stopping)
		return true;
	if (!hub->draining) {
		hub->draining = true;
		hub->drain_until_ms = now + hub->drain_ms;
	}
	left = hub->drain_until_ms - now;
	for (c = hub->conns; c != NULL; c = c->next) {
		if (!in_session(c))
			continue;
		live++;
		if (c->drain_sent || left <= 0)
			continue;
		c->drain_sent = true;
		if (queue_drain_frame(c, (int)left))
			asked++;
		else
			log_error(
			    "agent %s: out of memory sending it the drain; "
			    "it is closed at the end of the drain",
			    c->id.name);
	}
	if (asked > 0)
		log_info("draining: asked %zu agent(s) to leave within %lld ms "
		         "([cluster] drain_ms=%d)",
		    asked, (long long)left, hub->drain_ms);
	if (live == 0) {
		log_info("drained: no agent left in session after %lld ms",
		    (long long)(hub->drain_ms - left));
		return true;
	}
	if (left <= 0) {
		log_warn("drain over ([cluster] drain_ms=%d): closing the %zu "
		         "agent(s) still here",
		    hub->drain_ms, live);
		return true;
	}
	return false;
}
