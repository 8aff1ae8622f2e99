/* SPDX-License-Identifier: ISC */
/*
 * The server's view of its agents: which hosts are connected, with which
 * versions and certificate expiry, and each host's latest container
 * inventory. Written by the agent hub (the libwebsockets thread), read by
 * the operator API (libmicrohttpd's thread); every function is thread-safe.
 * Hosts stay known, with their last inventory, after they disconnect, until
 * the server restarts.
 *
 * A full container id belongs to at most one live host: a connected host
 * whose inventory came in its current session. An inventory row naming
 * an id another live host holds is dropped from that inventory (the rest
 * is kept) and returned as a conflict, once per host, id and session. A
 * host's inventory stops being live when it disconnects or its session
 * is replaced, and until its next inventory: lookups prefer live hosts,
 * so a stale report never shadows or blocks a live one.
 *
 * A connection is identified by the session number registry_connect()
 * returns; a second connection of the same host replaces the first, and
 * updates or a disconnect carrying a stale session are ignored, so a
 * replaced connection's late close cannot mark the new one offline.
 *
 * Cluster mode (docs/cluster.md). The registry also mirrors the hosts
 * other replicas hold, as the cluster database says (registry_mirror,
 * called by server/cluster.c): such a host is "remote". It counts as
 * connected for lookups and /api/hosts (with "replica" naming its
 * holder) while its holder's claim is live, and shows offline with its
 * last inventory when no claim is. A remote host's rows are never
 * indexed as live ids (the conflict rules above are the local
 * sessions'), are found in the live tier of lookups while it is held,
 * and are never counted as this server's connected agents. A host
 * connected here always wins over the mirror: registry_mirror leaves it
 * alone until its local session ends.
 */
#ifndef SIGNET_REGISTRY_H
#define SIGNET_REGISTRY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "err.h"
#include "inventory.h"
#include "policy.h"

#define REGISTRY_VERSION_MAX 64

struct registry;

struct registry_stats {
	size_t hosts_known;
	size_t agents_connected;
	size_t containers; /* rows over all hosts */
};

/* Returns a new empty registry, or NULL on allocation failure. */
struct registry *registry_new(void);

/*
 * Names this replica (cluster mode): /api/hosts says it as the "replica"
 * of the hosts connected here. name is copied (cut at 63 bytes); "" or
 * never called: "" (one server).
 */
void registry_set_replica(struct registry *reg, const char *name);

/* Frees everything; NULL allowed. */
void registry_free(struct registry *reg);

/*
 * Records that host_id connected (hello accepted). Returns the new
 * session number (> 0), or 0 on allocation failure. *replaced is set to
 * the session it replaced, 0 if none.
 */
uint64_t registry_connect(struct registry *reg, const char *host_id,
    const char *agent_version, const char *docker_version,
    int64_t cert_not_after, int64_t now_ms, uint64_t *replaced);

/* Marks host_id offline if session is still its current one. */
void registry_disconnect(struct registry *reg, const char *host_id,
    uint64_t session, int64_t now_ms);

#define REGISTRY_REPORT_MAX 16   /* new conflicts returned per inventory */
#define REGISTRY_REPORTED_MAX 64 /* conflicts returned per host session */

/* A row dropped from an inventory: id is held by the live host held_by. */
struct registry_conflict {
	char container_id[65];
	char held_by[64];
};

/* What registry_set_inventory did with an inventory's rows. */
struct registry_inventory_report {
	size_t kept;    /* rows kept */
	size_t dropped; /* rows dropped: their ids are held by another host */
	/* Conflicts not returned before in this session: record them. */
	size_t nfresh;
	struct registry_conflict fresh[REGISTRY_REPORT_MAX];
	/* New conflicts over REGISTRY_REPORTED_MAX: dropped, not returned. */
	size_t over_cap;
};

/*
 * Replaces host_id's inventory (takes ownership of inv, also on failure)
 * and makes it live, less the rows whose ids another live host holds
 * (see above); *rep, when not NULL, says what was dropped. Returns 0,
 * SIGNET_ERR_NOT_FOUND when session is not current (nothing changed) or
 * SIGNET_ERR_ALLOC (nothing changed).
 */
int registry_set_inventory(struct registry *reg, const char *host_id,
    uint64_t session, struct inventory *inv, int64_t now_ms,
    struct registry_inventory_report *rep) __attribute__((warn_unused_result));

/* Notes life (a pong, any frame) from session at now_ms. */
void registry_touch(struct registry *reg, const char *host_id, uint64_t session,
    int64_t now_ms);

/*
 * Notes which roster session's host holds (version 0 and sha256 "" for
 * none) and why it refused the last one sent (refused "" when it did
 * not), as its roster_status said. Ignored for a stale session.
 */
void registry_set_roster(struct registry *reg, const char *host_id,
    uint64_t session, int64_t version, const char *sha256, const char *refused);

/*
 * Notes that session's host anchors (its hello carried its audit head):
 * its actions may carry the server's head. Ignored for a stale session;
 * a new session starts not anchoring.
 */
void registry_set_anchors(struct registry *reg, const char *host_id,
    uint64_t session, bool anchors);

/*
 * Whether host_id's agent anchors (false: not connected): its current
 * local session's hello carried audit_head, or, for a remote host held
 * by another replica, its holder's stored info said "anchors": true.
 */
bool registry_anchors(struct registry *reg, const char *host_id);

/*
 * Takes p (owned from now on; NULL forgets) as the policy session's host
 * said it enforces. Freed at once for a stale session.
 */
void registry_set_policy(struct registry *reg, const char *host_id,
    uint64_t session, struct policy *p);

/*
 * What host_id's own policy would say about a signed request (docs/
 * operators.md, "Approvals at the server"): the container's facts from
 * the host's inventory, the request's action, operator, reason and
 * lifetime, and the approvers so far; judged without counting (rate
 * limits are the host's). The server is never the judge: this only tells
 * it whether a request waits for approvals. Fills *dec and, when the
 * deciding rule takes approvals, its terms (at most max; *nterms) and
 * wait. Returns 0, or SIGNET_ERR_NOT_FOUND when the host shared no policy
 * or the container is not in its inventory (then relay at once).
 */
int registry_judge(struct registry *reg, const char *host_id,
    const char *container_id, const struct policy_request *req,
    struct policy_decision *dec, struct policy_approval_term *terms, size_t max,
    size_t *nterms, int64_t *wait_ms) __attribute__((warn_unused_result));

/*
 * [{host_id, connected, roster_version (null until the host said),
 * roster_sha256, refused (null or why)}] sorted by host_id; NULL on
 * allocation failure.
 */
cJSON *registry_roster_json(struct registry *reg);

/*
 * {"hosts":[{host_id, connected, connected_at, last_seen, agent_version,
 * docker_version, container_count, cert_not_after, cert_days_left,
 * replica}]}
 * sorted by host_id; times are ISO 8601 UTC strings (null when unknown);
 * cert_days_left is the whole days from now (unix seconds) to the
 * certificate's notAfter, rounded down, negative once expired
 * (cert_expiry_days_left; null when unknown); replica is the replica
 * holding the host (registry_set_replica's name for a host connected
 * here, the holder for a remote host, "" when none holds it). NULL on
 * allocation failure.
 */
cJSON *registry_hosts_json(struct registry *reg, int64_t now);

/*
 * Looks at the certificate of host_id (NULL: of every connected host) at
 * now with cert_expiry_check (role "agent", name the host id, the host's
 * own watch, which outlives its connections so that a reconnecting host
 * is not warned about more than once a day): logs when it expires within
 * warn_days. A warning refuses nothing.
 */
void registry_check_certs(struct registry *reg, const char *host_id,
    int64_t now, int warn_days, unsigned flags, const char *when);

/* A connected host's certificate expiry, for the gauges. */
struct registry_cert {
	char host_id[64];
	int64_t not_after; /* unix seconds, 0 unknown */
};

/*
 * The connected hosts' certificates, sorted by host id: *out (free();
 * NULL when there are none) of *n rows. Returns 0, or SIGNET_ERR_ALLOC
 * (*out NULL, *n 0).
 */
int registry_connected_certs(struct registry *reg, struct registry_cert **out,
    size_t *n) __attribute__((warn_unused_result));

/*
 * {"containers":[rows with host_id]} sorted by host then name; host and
 * state filter when not NULL. NULL on allocation failure.
 */
cJSON *registry_containers_json(struct registry *reg, const char *host,
    const char *state);

enum registry_lookup {
	REGISTRY_FOUND,
	REGISTRY_NOT_FOUND,
	REGISTRY_AMBIGUOUS,
	REGISTRY_BAD_ID, /* not 12..64 lowercase hex */
};

/* What a lookup found: a copy, safe to use after the registry changed. */
struct registry_container {
	char host_id[64];
	bool host_connected; /* here, or held by another replica */
	char replica[64];    /* the other replica holding it, or "" */
	uint64_t session;    /* the host's current session */
	cJSON *row;          /* the row with host_id; caller frees */
};

/*
 * Finds a container by full id or prefix of at least 12 hex digits: among
 * the live hosts' rows first, and only when none matches among the other
 * hosts' last inventories. Within one tier, matches of one full id are
 * one container (the most recently seen host's row is taken): a full id
 * is never REGISTRY_AMBIGUOUS; a prefix is when it matches two different
 * full ids in the tier it is resolved in. On REGISTRY_FOUND fills *out
 * (cJSON_Delete out->row).
 */
enum registry_lookup registry_find_container(struct registry *reg,
    const char *id, struct registry_container *out);

void registry_get_stats(struct registry *reg, struct registry_stats *stats);

/* --- cluster mode: the mirror (registry_mirror.c) ---------------------- */

/* A host as the cluster database stores it (hostile until parsed). */
struct registry_remote {
	char host_id[64];
	char replica[64]; /* the holder; "" when no live claim */
	bool held;        /* a live claim by replica */
	char agent_version[REGISTRY_VERSION_MAX + 1];
	char docker_version[REGISTRY_VERSION_MAX + 1];
	int64_t cert_not_after; /* unix s, 0 unknown */
	int64_t connected_at;   /* unix ms, 0 unknown */
	int64_t last_seen;      /* unix ms: when the holder last wrote */
	bool anchors; /* the holder said its session's hello had audit_head */
};

/*
 * The stored state of host_id's current local session: *info, a JSON
 * object {"agent_version","docker_version","cert_not_after",
 * "connected_at","anchors"} ("anchors": true when its hello carried
 * audit_head, registry_set_anchors), and *inventory, the JSON array of its rows
 * (inventory_to_json; "null"-free: NULL when it sent none yet). Both
 * free(). Returns 0, SIGNET_ERR_NOT_FOUND (session not current here: *info
 * and *inventory NULL) or SIGNET_ERR_ALLOC.
 */
int registry_host_texts(struct registry *reg, const char *host_id,
    uint64_t session, char **info, char **inventory)
    __attribute__((warn_unused_result));

/* rm's versions and times as the info text above; NULL when out of
 * memory. */
char *registry_remote_info_text(const struct registry_remote *rm);

/*
 * Parses a stored host (hostile bytes): info (NULL: none) strictly as
 * registry_host_texts writes it into rm's versions, times and anchors
 * ("anchors" optional, a boolean: absent, as an earlier build wrote it,
 * is false), and
 * inventory (NULL: none; *inv NULL) as an inventory frame's rows
 * (inventory_from_frame) into *inv (inventory_free). Nothing is filled on
 * error. Returns 0, SIGNET_ERR_FORMAT (msg names the member) or
 * SIGNET_ERR_ALLOC.
 */
int registry_remote_parse(const char *info, const char *inventory,
    struct registry_remote *rm, struct inventory **inv, struct err_msg *msg)
    __attribute__((warn_unused_result));

/*
 * Takes rm as host rm->host_id's state (inv owned from now on, also on
 * failure; NULL keeps the inventory shown): unless the host is connected
 * here, it becomes remote, connected while rm->held, and anchoring while
 * held and rm->anchors. Returns 0,
 * SIGNET_ERR_EXISTS (connected here: nothing changed),
 * SIGNET_ERR_INVALID_ARG (host_id not a name) or SIGNET_ERR_ALLOC.
 */
int registry_mirror(struct registry *reg, const struct registry_remote *rm,
    struct inventory *inv) __attribute__((warn_unused_result));

/* Formats unix ms as "2026-11-23T23:15:00.123Z" into buf (>= 32 bytes). */
void registry_format_time(int64_t ms, char *buf, size_t len);

#endif
