/* SPDX-License-Identifier: ISC */
/*
 * The hub's side of cluster mode (hub.h, "Cluster mode"): the claim
 * posted at each hello, and the cluster thread's events, queued under
 * the send lock and applied on the service thread: a granted claim's
 * epoch kept on its connection, a lost claim closing it (claim_lost).
 */
#include "hub_int.h"

#include <stdlib.h>
#include <string.h>

#include "cluster_relay.h"
#include "log.h"
#include "server_ctx.h"
#include "text.h"

void
hub_cluster_notify(void *arg, const struct cluster_event *ev)
{
	struct hub *hub = arg;
	struct hub_cluster_ev *q;
	bool queued = false;

	/* The action relay's channels, and claims (queued frames). */
	cluster_relay_notify(hub->ctx->relay, ev);
	if (ev->type == CLUSTER_EV_NOTIFY || ev->type == CLUSTER_EV_CONNECTED)
		return;
	q = calloc(1, sizeof(*q));
	if (q == NULL) {
		/* A lost claim is said again at the next renew. */
		log_error("out of memory queueing a cluster event for host %s",
		    ev->host_id);
		return;
	}
	q->ev = *ev;
	(void)pthread_mutex_lock(&hub->send_mu);
	if (hub->lws != NULL && hub->ncev < HUB_CLUSTER_EVENTS_MAX) {
		if (hub->cev_tail != NULL)
			hub->cev_tail->next = q;
		else
			hub->cev_head = q;
		hub->cev_tail = q;
		hub->ncev++;
		queued = true;
	}
	(void)pthread_mutex_unlock(&hub->send_mu);
	if (!queued) {
		log_warn("cluster event for host %s dropped: %zu waiting",
		    ev->host_id, (size_t)HUB_CLUSTER_EVENTS_MAX);
		free(q);
		return;
	}
	lws_cancel_service(hub->lws);
}

static void
apply(struct hub *hub, const struct cluster_event *ev)
{
	struct hub_conn *c;
	char det[ERR_MSG_MAX];

	if (ev->type == CLUSTER_EV_NOTIFY) {
		/* The action relay's channels: nothing listens here yet. */
		log_debug("cluster notification on %s: %s", ev->channel,
		    ev->payload);
		return;
	}
	c = hub_map_get(hub, ev->host_id);
	if (c == NULL || c->session != ev->session || !c->hello_done ||
	    c->ended || c->closing)
		return; /* that session is gone already */
	if (ev->type == CLUSTER_EV_CLAIMED) {
		c->epoch = ev->epoch;
		log_debug("agent %s: claim granted, epoch %lld", c->id.name,
		    (long long)ev->epoch);
		return;
	}
	(void)text_vis_str(ev->why, det, sizeof(det));
	log_warn("agent %s: claim lost (%s): closing its connection "
	         "(session %llu)",
	    c->id.name, det, (unsigned long long)c->session);
	hub_end_session(hub, c, "claim_lost", det, 0);
	hub_schedule_close(c, HUB_CLOSE_CLAIM_LOST,
	    "the host is held by another replica");
}

void
hub_cluster_drain(struct hub *hub)
{
	struct hub_cluster_ev *list, *q;

	if (hub->cluster == NULL)
		return;
	(void)pthread_mutex_lock(&hub->send_mu);
	list = hub->cev_head;
	hub->cev_head = hub->cev_tail = NULL;
	hub->ncev = 0;
	(void)pthread_mutex_unlock(&hub->send_mu);
	while ((q = list) != NULL) {
		list = q->next;
		if (!hub->stopping)
			apply(hub, &q->ev);
		free(q);
	}
}

void
hub_cluster_flush(struct hub *hub)
{
	struct hub_cluster_ev *list, *q;

	(void)pthread_mutex_lock(&hub->send_mu);
	list = hub->cev_head;
	hub->cev_head = hub->cev_tail = NULL;
	hub->ncev = 0;
	(void)pthread_mutex_unlock(&hub->send_mu);
	while ((q = list) != NULL) {
		list = q->next;
		free(q);
	}
}

int
hub_cluster_hello(struct hub *hub, struct hub_conn *c)
{
	int r;

	if (hub->cluster == NULL)
		return 0;
	c->epoch = 0;
	r = cluster_claim_post(hub->cluster, c->id.name, c->session);
	if (r == 0)
		return 0;
	log_error("agent %s: its claim cannot be posted (%s); dropping it",
	    c->id.name, err_str(r));
	return hub_drop_session(hub, c, HUB_CLOSE_INTERNAL, "internal error",
	    "internal", "the cluster claim could not be posted");
}
