/* SPDX-License-Identifier: ISC */
/*
 * Results whose action.result record is written but not yet durable. The
 * service thread writes each verified result's record without waiting
 * (audit_write) and notes here what is still to be done for it; after a
 * turn of the event loop one audit_sync makes every record taken durable
 * and only then is each result applied, its waiter woken and its
 * result_ack queued. The sync waits while a connection with an entry
 * has more input ready (a turn reads one TLS record), a few turns at
 * most, so that many results cost one fdatasync instead of one each,
 * and the loop no longer stops for every sync (at 64 results in flight:
 * 0.9 syncs an action on the server, from 1.5). If the sync fails,
 * nothing taken since the last one is applied: each claim is
 * released and each connection closed, as when a record cannot be
 * written, and the agents send their results again. A session's
 * agent.connected is written the same way: nothing is written to it
 * before that sync (hello_unsynced), and a failed sync closes it.
 */
#include "hub_int.h"

#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "audit.h"
#include "cluster_relay.h"
#include "keyset.h"
#include "log.h"

struct hub_settle {
	struct hub_settle *next;
	enum hub_settle_kind kind;
	struct hub_conn *conn; /* NULL once the connection is gone */
	char host_id[IDENTITY_NAME_MAX + 1];
	struct envelope_result_payload res;
	char *payload_b64, *sig_b64; /* for the relay; NULL for a repeat */
	char key_id[KEYS_ID_LEN + 1];
	bool key_retired;
	int64_t requested_at; /* unix ms */
	bool after_deadline;
};

static void
settle_free(struct hub_settle *s)
{
	if (s == NULL)
		return;
	free(s->payload_b64);
	free(s->sig_b64);
	free(s);
}

struct hub_settle *
hub_settle_new(struct hub_conn *c, enum hub_settle_kind kind,
    const struct wire_frame *f, const struct envelope_result_payload *res,
    const struct keyset_key *used, const struct action_info *info)
{
	struct hub_settle *s;

	s = calloc(1, sizeof(*s));
	if (s == NULL)
		return NULL;
	s->kind = kind;
	s->conn = c;
	(void)snprintf(s->host_id, sizeof(s->host_id), "%s", c->id.name);
	if (kind == HUB_SETTLE_HELLO)
		return s;
	s->res = *res;
	if (kind != HUB_SETTLE_REPEAT) {
		s->payload_b64 = strdup(f->payload_b64);
		s->sig_b64 = strdup(f->sig_b64);
		if (s->payload_b64 == NULL || s->sig_b64 == NULL) {
			settle_free(s);
			return NULL;
		}
		memcpy(s->key_id, used->pub.id, sizeof(s->key_id));
		s->key_retired = used->retired;
	}
	if (info != NULL) {
		s->requested_at = info->requested_at;
		s->after_deadline = info->status == ACTION_TIMEOUT;
	}
	return s;
}

void
hub_settle_discard(struct hub_settle *s)
{
	settle_free(s);
}

void
hub_settle_add(struct hub *hub, struct hub_settle *s)
{
	s->next = NULL;
	if (hub->settle_tail != NULL)
		hub->settle_tail->next = s;
	else
		hub->settle_head = s;
	hub->settle_tail = s;
	hub->nsettle++;
	s->conn->nsettle++;
}

void
hub_settle_detach(struct hub *hub, struct hub_conn *c)
{
	struct hub_settle *s;
	struct hub_settle *lists[2] = { hub->settle_head, hub->settle_running };
	size_t i;

	for (i = 0; i < 2; i++) {
		for (s = lists[i]; s != NULL && c->nsettle > 0; s = s->next) {
			if (s->conn == c) {
				s->conn = NULL;
				c->nsettle--;
			}
		}
	}
	c->nsettle = 0;
}

/* The connection still takes frames: not closed, not ended. */
static struct hub_conn *
settle_conn(const struct hub_settle *s)
{
	struct hub_conn *c = s->conn;

	if (c == NULL || c->closing || c->ended)
		return NULL;
	return c;
}

/* Queues s's result_ack; an agent that does not read them is dropped. */
static void
settle_ack(struct hub *hub, struct hub_settle *s)
{
	struct hub_conn *c = settle_conn(s);

	if (c == NULL)
		return; /* the agent sends it again on its next connection */
	if (hub_ack_result(c, s->res.action_id, s->res.request_sha256) != 0) {
		hub_end_session(hub, c, "busy",
		    "the agent does not read its acknowledgements", 0);
		hub_schedule_close(c, HUB_CLOSE_BUSY, "server busy");
	}
}

/* s's record is durable: apply it, wake its waiter, acknowledge it. */
static void
settle_done(struct hub *hub, struct hub_settle *s)
{
	const struct envelope_result_payload *res = &s->res;
	const char *st;

	switch (s->kind) {
	case HUB_SETTLE_UNKNOWN:
		log_warn("agent %s sent a result for unknown action_id=%s "
		         "(forgotten, or sent to an earlier server): recorded "
		         "with action_known=false",
		    s->host_id, res->action_id);
		/* Its origin may be another replica (cluster_relay.h). */
		cluster_relay_result(hub->ctx->relay, res, s->payload_b64,
		    s->sig_b64, false);
		break;
	case HUB_SETTLE_RESULT:
		if (actions_complete(hub->actions, res, hub_now_ms()) != 0)
			log_error("action %s vanished while its result was "
			          "recorded",
			    res->action_id);
		cluster_relay_result(hub->ctx->relay, res, s->payload_b64,
		    s->sig_b64, true);
		metrics_inc(hub->ctx->metrics, M_ACTION_RESULTS);
		metrics_action_result(hub->ctx->metrics, res->status,
		    (double)(clock_wall_ms() - s->requested_at) / 1000.0);
		st = envelope_status_name(res->status);
		log_info("action result: action_id=%s host=%s status=%s "
		         "docker_status=%lld result_key_id=%s%s%s",
		    res->action_id, s->host_id, st != NULL ? st : "?",
		    (long long)res->docker_status, s->key_id,
		    s->key_retired ? " (a retired key)" : "",
		    s->after_deadline ? " (after its deadline)" : "");
		actions_wake(hub->actions, res->action_id);
		break;
	case HUB_SETTLE_HELLO:
		/* Its frames may go now (held back by conn_writeable). */
		if (s->conn != NULL) {
			s->conn->hello_unsynced = false;
			if (s->conn->out_head != NULL)
				lws_callback_on_writable(s->conn->wsi);
		}
		return;
	case HUB_SETTLE_REPEAT:
	default: break;
	}
	settle_ack(hub, s);
}

/*
 * s's record may be lost: nothing of it is applied. The claim goes back
 * and the connection is closed without an acknowledgement, so the agent
 * sends the result again once the server can record it.
 */
static void
settle_failed(struct hub *hub, struct hub_settle *s)
{
	struct hub_conn *c = settle_conn(s);

	if (s->kind == HUB_SETTLE_RESULT)
		actions_unclaim(hub->actions, s->res.action_id);
	if (c == NULL)
		return;
	hub_end_session(hub, c, "internal",
	    s->kind == HUB_SETTLE_HELLO ?
	        "agent.connected could not be recorded" :
	        "action.result could not be recorded",
	    0);
	hub_schedule_close(c, HUB_CLOSE_INTERNAL, "audit unavailable");
}

/*
 * Whether a connection with an entry has input ready: bytes OpenSSL holds
 * (it hands lws one record a turn) or the socket has. Taking those first
 * lets one sync cover them too (at 64 results in flight nearly every
 * turn had one result of its own).
 */
static bool
input_ready(const struct hub_settle *list)
{
	const struct hub_settle *s;
	const struct hub_conn *last = NULL;
	SSL *ssl;
	int fd, n;

	for (s = list; s != NULL; s = s->next) {
		if (s->conn == NULL || s->conn == last || s->conn->closing)
			continue;
		last = s->conn;
		ssl = lws_get_ssl(s->conn->wsi);
		if (ssl != NULL && SSL_pending(ssl) > 0)
			return true;
		fd = lws_get_socket_fd(s->conn->wsi);
		if (fd >= 0 && ioctl(fd, FIONREAD, &n) == 0 && n > 0)
			return true;
	}
	return false;
}

void
hub_settle_run(struct hub *hub)
{
	struct hub_settle *list, *s;
	struct err_msg msg;
	int r;

	list = hub->settle_head;
	if (list == NULL)
		return;
	if (!hub->stopping && hub->settle_held < HUB_SETTLE_HOLD_TURNS &&
	    hub->nsettle < HUB_SETTLE_HOLD_ENTRIES && input_ready(list)) {
		hub->settle_held++;
		return;
	}
	hub->settle_held = 0;
	hub->nsettle = 0;
	hub->settle_head = hub->settle_tail = NULL;
	err_clear(&msg);
	r = audit_sync(hub->ctx->audit, &msg);
	if (r != 0)
		log_error(
		    "agent sessions and action results since the last sync not "
		    "recorded: %s",
		    msg.text);
	/* Whatever closes a connection meanwhile finds the rest here. */
	hub->settle_running = list;
	while ((s = hub->settle_running) != NULL) {
		hub->settle_running = s->next;
		if (s->conn != NULL)
			s->conn->nsettle--;
		if (r == 0)
			settle_done(hub, s);
		else
			settle_failed(hub, s);
		settle_free(s);
	}
}
