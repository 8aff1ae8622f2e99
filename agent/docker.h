/* SPDX-License-Identifier: ISC */
/*
 * The local dockerd, spoken to with libcurl over its unix socket (Docker
 * Engine API 1.41): its version, the container list as inventory rows, one
 * container's identity, and the container event stream, read in a thread
 * of its own that reconnects when dockerd goes away.
 *
 * Everything dockerd sends is treated as hostile: every answer has a size
 * limit, every request a time limit, every document is parsed strictly
 * (jsonx: UTF-8, no duplicate keys, bounded nesting), and a stream line
 * over its limit drops the stream.
 *
 * The code: docker.c (the client and its requests), docker_events.c (the
 * event stream).
 */
#ifndef SIGNET_AGENT_DOCKER_H
#define SIGNET_AGENT_DOCKER_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "envelope.h"
#include "err.h"
#include "inventory.h"
#include "outcome.h"

#define DOCKER_API_BASE "http://localhost/v1.41"
#define DOCKER_SOCKET_PATH_MAX 107          /* sun_path less its NUL */
#define DOCKER_LIST_MAX (16u * 1024 * 1024) /* GET /containers/json */
#define DOCKER_SMALL_MAX (1024u * 1024)     /* /version, one inspect */
#define DOCKER_EVENT_LINE_MAX (256u * 1024) /* one event of the stream */
#define DOCKER_VERSION_MAX 63               /* "20.10.24+dfsg1" */
#define DOCKER_CONNECT_TIMEOUT_MS 2000L
#define DOCKER_SMALL_TIMEOUT_MS 5000L         /* /version, inspect */
#define DOCKER_LIST_TIMEOUT_MS 20000L         /* 5,000 rows take < 2 s */
#define DOCKER_EVENTS_HEADER_TIMEOUT_MS 10000 /* stream must answer by then */
#define DOCKER_EVENTS_BACKOFF_MIN_MS 250
#define DOCKER_EVENTS_BACKOFF_MAX_MS 8000
#define DOCKER_EVENT_ACTION_MAX 32
#define DOCKER_START_TIMEOUT_MS 60000L /* POST .../start */
#define DOCKER_STOP_MARGIN_MS 60000L   /* stop/restart: t + this */
#define DOCKER_STOP_TIMEOUT_MAX 600    /* s; [agent] stop_timeout */

/*
 * Initialises libcurl for the whole process. Call once from main() before
 * any thread exists; docker_global_cleanup() after the last one is gone.
 * Returns 0 or SIGNET_ERR_INTERNAL.
 */
int docker_global_init(struct err_msg *msg) __attribute__((warn_unused_result));
void docker_global_cleanup(void);

/*
 * A connection to dockerd for request/answer calls. Not thread-safe: one
 * client per thread (each keeps its own curl handle and reuses the
 * connection).
 */
struct docker_client;

/*
 * Makes a client for the unix socket at socket_path (absolute, at most
 * DOCKER_SOCKET_PATH_MAX bytes; nothing is connected yet). *out is NULL on
 * failure. Returns 0, SIGNET_ERR_INVALID_ARG or SIGNET_ERR_ALLOC.
 */
int docker_client_new(const char *socket_path, struct docker_client **out,
    struct err_msg *msg) __attribute__((warn_unused_result));

/*
 * Lets another thread cut short the request under way (within about a
 * second) by setting *flag, e.g. at shutdown: the call then fails with
 * SIGNET_ERR_UNAVAILABLE. flag must outlive dc; NULL turns this off.
 */
void docker_client_set_abort(struct docker_client *dc, const atomic_bool *flag);

/*
 * Times every request of dc (failures too) into h, which must outlive dc;
 * NULL turns this off. Call before dc is used from another thread.
 */
struct histogram;
void docker_client_set_latency(struct docker_client *dc, struct histogram *h);

/* Frees dc; NULL allowed. */
void docker_client_free(struct docker_client *dc);

/*
 * The errors of the calls below, besides their own:
 *   SIGNET_ERR_UNAVAILABLE  dockerd cannot be reached or did not answer in
 *                           time (msg says which)
 *   SIGNET_ERR_IO           dockerd answered an unexpected HTTP status
 *                           (msg quotes its message, escaped)
 *   SIGNET_ERR_TOO_LARGE    the answer is over its limit
 *   SIGNET_ERR_FORMAT       the answer is not what the API documents
 *   SIGNET_ERR_ALLOC
 */

/*
 * GET /version: dockerd's "Version" (1..DOCKER_VERSION_MAX bytes of
 * [A-Za-z0-9.+~_-]) into out. out is "" on failure.
 */
int docker_version(struct docker_client *dc,
    char out[static DOCKER_VERSION_MAX + 1], struct err_msg *msg)
    __attribute__((warn_unused_result));

/*
 * GET /containers/json?all=1 (at most DOCKER_LIST_MAX bytes) as inventory
 * rows (inventory_from_docker checks them). *out is NULL on failure;
 * inventory_free it.
 */
int docker_list(struct docker_client *dc, struct inventory **out,
    struct err_msg *msg) __attribute__((warn_unused_result));

/*
 * GET /containers/{id}/json for the full id (64 lowercase hex; anything
 * else is SIGNET_ERR_INVALID_ARG, so dockerd's name and prefix lookup is
 * never reached). On success *out is a one-row inventory: items[0] holds
 * dockerd's own identity of the container, checked as a list row is:
 *   id      dockerd's Id, which must equal id
 *   names   { Name } as dockerd gives it ("/web-1")
 *   image   Config.Image (the image as the container was created from,
 *           what /containers/json shows too)
 *   state   State.Status ("running", "exited", ...)
 *   status  "" (dockerd's human status is only in the list)
 *   labels  Config.Labels
 *   created Created, as unix seconds
 * SIGNET_ERR_NOT_FOUND when dockerd has no such container (HTTP 404).
 * *out is NULL on failure; inventory_free it. With state (and has_state)
 * not NULL, the same answer's State as docker_state reads it, and
 * *has_state whether it could be read (the inventory row stands without).
 */
int docker_inspect(struct docker_client *dc, const char *id,
    struct inventory **out, struct outcome_state *state, bool *has_state,
    struct err_msg *msg) __attribute__((warn_unused_result));

/*
 * GET /containers/{id}/json for the full id (as docker_inspect): the
 * members of its State that tell whether an action happened (Running,
 * Pid, StartedAt, FinishedAt) and RestartCount, each checked
 * (outcome_state_from_json's rules). SIGNET_ERR_NOT_FOUND when dockerd
 * has no such container. *out is zeroed on failure.
 */
int docker_state(struct docker_client *dc, const char *id,
    struct outcome_state *out, struct err_msg *msg)
    __attribute__((warn_unused_result));

/*
 * Runs action on the container with the full id (64 lowercase hex, else
 * SIGNET_ERR_INVALID_ARG): POST /containers/{id}/start, /stop?t=N or
 * /restart?t=N with N = stop_timeout (0..DOCKER_STOP_TIMEOUT_MAX seconds
 * dockerd waits after SIGTERM before it kills). The request may take up
 * to DOCKER_START_TIMEOUT_MS, or stop_timeout s + DOCKER_STOP_MARGIN_MS,
 * and no more than limit_ms when that is > 0 (the action's expiry: the
 * message then names expires_at). *http_status is dockerd's answer (0
 * when none came). Success (0) is 204 and also 304 (already started /
 * already stopped: docs/protocol.md). Otherwise SIGNET_ERR_NOT_FOUND
 * (404), SIGNET_ERR_IO (any other status; msg quotes dockerd's message,
 * escaped), SIGNET_ERR_UNAVAILABLE (not reached, no answer in time, or cut
 * short by the abort flag), SIGNET_ERR_INVALID_ARG (also a negative
 * limit_ms), SIGNET_ERR_ALLOC. *maybe_acted is true when the call failed
 * after the request went out with no answer to it: dockerd may still act
 * (its outcome is unknown); false on success, on an answer, and when the
 * request never reached dockerd.
 */
int docker_action(struct docker_client *dc, const char *id,
    enum envelope_action action, int stop_timeout, long limit_ms,
    long *http_status, bool *maybe_acted, struct err_msg *msg)
    __attribute__((warn_unused_result));

/* ---- the event stream ---- */

/* One container event (GET /events, type container), checked. */
struct docker_event {
	char action[DOCKER_EVENT_ACTION_MAX + 1]; /* verb: "start", "die",
						     "exec_start", ... */
	char id[65];                              /* Actor.ID, 64 hex */
	char name[INVENTORY_NAME_MAX + 1];        /* Actor.Attributes.name,
						     or "" */
	int64_t time;                             /* unix seconds, or 0 */
};

/*
 * Called from the stream's thread. on_event for each event; on_stream
 * when the stream comes up (up, why NULL: dockerd answered 200, events
 * from here on are seen) or goes down (why says how). Either may be NULL.
 * They must not block for long and must not call docker_events_stop.
 */
struct docker_events_ops {
	void (*on_event)(void *arg, const struct docker_event *ev);
	void (*on_stream)(void *arg, bool up, const char *why);
};

struct docker_events;

/*
 * Starts a thread that reads GET /events?filters={"type":["container"]}
 * from socket_path and reports through ops (copied) with arg. When the
 * stream ends, fails, stalls before answering (DOCKER_EVENTS_HEADER_
 * TIMEOUT_MS), sends a line over DOCKER_EVENT_LINE_MAX or an event that
 * does not parse, it is dropped and dialled again after a backoff
 * (DOCKER_EVENTS_BACKOFF_MIN_MS doubling to _MAX_MS, reset once a stream
 * has stayed up for 10 s). Call with signals the caller handles blocked:
 * the thread inherits the mask. Returns 0, SIGNET_ERR_INVALID_ARG,
 * SIGNET_ERR_ALLOC or SIGNET_ERR_INTERNAL (thread not started).
 */
int docker_events_start(const char *socket_path,
    const struct docker_events_ops *ops, void *arg, struct docker_events **out,
    struct err_msg *msg) __attribute__((warn_unused_result));

/* Counters of a stream, for logs and tests. */
struct docker_events_stats {
	uint64_t connects; /* streams that came up */
	uint64_t events;   /* events reported */
	uint64_t dropped;  /* streams dropped for bad input */
};

void docker_events_get_stats(struct docker_events *ev,
    struct docker_events_stats *st);

/*
 * Stops the thread (within about a second: curl is polled for it), joins
 * it and frees ev. No callback runs after it returns. NULL allowed.
 */
void docker_events_stop(struct docker_events *ev);

/*
 * Parses one line of the event stream (without its newline) into *ev.
 * Returns 1 for a container event, 0 for a well-formed event of another
 * type (ignored), SIGNET_ERR_FORMAT for anything else. Exposed for tests
 * and the fuzz harness.
 */
int docker_event_parse(const char *line, size_t len, struct docker_event *ev,
    struct err_msg *msg) __attribute__((warn_unused_result));

#endif
