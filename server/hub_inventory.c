/* SPDX-License-Identifier: ISC */
/*
 * An agent's inventory frame on the hub (hub_int.h): the registry takes
 * it, less the rows whose full ids another live host holds, and each
 * conflict it returns is audited as inventory.conflict, once per claiming
 * host, id and session (registry.h bounds how many), so that one agent
 * can neither take nor block another host's containers unrecorded.
 */
#include "hub_int.h"

#include <string.h>

#include "audit.h"
#include "log.h"

/* One inventory.conflict record; 0 or the audit writer's failure. */
static int
audit_conflict(struct hub *hub, struct hub_conn *c,
    const struct registry_conflict *k)
{
	cJSON *d = cJSON_CreateObject();
	bool ok;

	ok = d != NULL && hub_put_str(d, "host_id", c->id.name) &&
	    hub_put_str(d, "container_id", k->container_id) &&
	    hub_put_str(d, "held_by", k->held_by) &&
	    hub_put_num(d, "session", (double)c->session) &&
	    hub_put_str(d, "peer", c->peer);
	return audit_event(hub->ctx->audit, "inventory.conflict", SERVER_ACTOR,
	    d, ok);
}

int
hub_inventory(struct hub *hub, struct hub_conn *c, struct inventory *inv)
{
	struct registry_inventory_report rep;
	size_t i, rows = inv != NULL ? inv->count : 0;
	int r;

	r = registry_set_inventory(hub->ctx->registry, c->id.name, c->session,
	    inv, hub_now_ms(), &rep);
	if (r == SIGNET_ERR_NOT_FOUND) {
		log_warn("agent %s: inventory of a stale session %llu ignored",
		    c->id.name, (unsigned long long)c->session);
		return 0;
	}
	if (r != 0) {
		log_error("agent %s: inventory of %zu rows not taken: %s; the "
		          "last one stays",
		    c->id.name, rows, err_str(r));
		return 0;
	}
	metrics_inc(hub->ctx->metrics, M_AGENT_INVENTORIES);
	/* Cluster mode: stored for the other replicas (cluster.h). */
	if (hub->cluster != NULL &&
	    cluster_put_host_post(hub->cluster, c->id.name, c->session) != 0)
		log_error("agent %s: its inventory cannot be posted to the "
		          "cluster",
		    c->id.name);
	for (i = 0; i < rep.nfresh; i++) {
		log_warn("inventory conflict: host=%s claims container %s, "
		         "held by connected host %s: the row is dropped",
		    c->id.name, rep.fresh[i].container_id,
		    rep.fresh[i].held_by);
		if (audit_conflict(hub, c, &rep.fresh[i]) != 0)
			return hub_drop_session(hub, c, HUB_CLOSE_INTERNAL,
			    "audit unavailable", "internal",
			    "inventory.conflict could not be recorded");
	}
	if (rep.over_cap > 0)
		log_warn("agent %s: %zu more inventory conflicts this session, "
		         "over %d: dropped, not audited",
		    c->id.name, rep.over_cap, REGISTRY_REPORTED_MAX);
	log_debug("inventory: host=%s containers=%zu bytes=%zu dropped=%zu",
	    c->id.name, rep.kept, c->len, rep.dropped);
	return 0;
}
