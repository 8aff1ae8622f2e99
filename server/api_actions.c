/* SPDX-License-Identifier: ISC */
/*
 * The operator API's action routes (docs/protocol.md, docs/http-api.md):
 * POST /api/containers/{id}/actions signs an action, records it, hands it to
 * the hub and (unless ?wait=0) leaves the request to wait, suspended, for
 * the action table to say it ended; GET /api/actions/{id} shows an action.
 *
 * Order of a POST, each step refusing before the next: body (400), the
 * container (400 malformed id, 404 unknown, 409 ambiguous), its host
 * online (503), a free table entry (503), action.requested durable in the
 * audit log (503: nothing is sent), the frame queued for the hub (else
 * UNDELIVERED, 503). requested_by is the client certificate's CN.
 */
#include "api_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "actions.h"
#include "clock.h"
#include "cluster.h"
#include "cluster_relay.h"
#include "envelope.h"
#include "hub.h"
#include "jsonx.h"
#include "log.h"
#include "metrics.h"
#include "registry.h"
#include "roster_store.h"
#include "text.h"
#include "wire.h"

#define BODY_DEPTH 2

/* {"error":TEXT,"action_id":ID} */
static void
answer_error_id(struct api_answer *ans, unsigned status, const char *id,
    const char *text)
{
	cJSON *doc = cJSON_CreateObject();

	if (doc != NULL &&
	    (cJSON_AddStringToObject(doc, "error", text) == NULL ||
	        cJSON_AddStringToObject(doc, "action_id", id) == NULL)) {
		cJSON_Delete(doc);
		doc = NULL;
	}
	api_answer_json(ans, status, doc);
}

/* The body: exactly {"action":A,"reason":R}. */
static int
parse_body(const char *body, size_t len, enum envelope_action *action,
    char *reason, size_t reason_size, struct err_msg *msg)
{
	static const char *const members[] = { "action", "reason", NULL };
	const char *a = NULL, *why = NULL;
	cJSON *root = NULL;
	char esc[48];
	size_t chars;
	int r;

	r = jsonx_parse_object("request body", body, len, BODY_DEPTH, &root,
	    msg);
	if (r == 0)
		r = jsonx_only_members(root, members, "request body", msg);
	if (r == 0)
		r = jsonx_get_string(root, "action", false, "request body", &a,
		    msg);
	if (r == 0)
		r = jsonx_get_string(root, "reason", false, "request body",
		    &why, msg);
	if (r != 0)
		goto out;
	*action = envelope_action_parse(a);
	if (*action == ENVELOPE_ACTION_NONE) {
		r = err_set(msg, SIGNET_ERR_FORMAT,
		    "action \"%s\" is not "
		    "START, STOP or RESTART",
		    text_escape_str(a, esc, sizeof(esc)));
		goto out;
	}
	/* jsonx checked the UTF-8. */
	chars = text_utf8_chars(why);
	if (chars == 0 || chars > ENVELOPE_REASON_CHARS ||
	    strlen(why) >= reason_size) {
		r = err_set(msg, SIGNET_ERR_FORMAT,
		    "reason must be 1 to %d "
		    "characters, is %zu",
		    ENVELOPE_REASON_CHARS, chars);
		goto out;
	}
	if (text_has_control(why)) {
		r = err_set(msg, SIGNET_ERR_FORMAT,
		    "reason may not hold "
		    "control characters");
		goto out;
	}
	memcpy(reason, why, strlen(why) + 1);
	r = 0;
out:
	cJSON_Delete(root);
	return r;
}

/*
 * Cluster mode: while the database does not answer no new action is
 * taken (docs/cluster.md): answers 503 and returns true.
 */
bool
api_cluster_refuses(struct api *api, struct api_answer *ans)
{
	char why[CLUSTER_WHY_MAX];

	if (api->ctx->cluster == NULL ||
	    cluster_up(api->ctx->cluster, why, sizeof(why)))
		return false;
	api_answer_error(ans, 503, "the cluster database is unreachable: %s",
	    why);
	return true;
}

/* Looks the container up; fills *p's host and id, or ans. */
static int
resolve(struct api *api, const char *id, struct envelope_action_payload *p,
    struct api_answer *ans)
{
	struct registry_container found;
	const cJSON *full;
	char esc[96];
	int r = -1;

	memset(&found, 0, sizeof(found));
	switch (registry_find_container(api->ctx->registry, id, &found)) {
	case REGISTRY_FOUND: break;
	case REGISTRY_AMBIGUOUS:
		api_answer_error(ans, 409,
		    "container id prefix \"%s\" matches "
		    "more than one container; give more digits",
		    text_escape_str(id, esc, sizeof(esc)));
		return -1;
	case REGISTRY_BAD_ID:
		api_answer_error(ans, 400,
		    "container id \"%s\" is not 12 to "
		    "64 lowercase hex digits",
		    text_escape_str(id, esc, sizeof(esc)));
		return -1;
	case REGISTRY_NOT_FOUND:
	default:
		api_answer_error(ans, 404, "no container \"%s\" on any host",
		    text_escape_str(id, esc, sizeof(esc)));
		return -1;
	}
	full = cJSON_GetObjectItemCaseSensitive(found.row, "id");
	if (!cJSON_IsString(full) || !text_is_hex(full->valuestring, 64) ||
	    !text_valid_name(found.host_id)) {
		api_answer_error(ans, 500, "inventory row without a full id");
		goto out;
	}
	if (!found.host_connected) {
		api_answer_error(ans, 503,
		    "host %s is offline: its agent is "
		    "not connected",
		    found.host_id);
		goto out;
	}
	if (found.replica[0] != '\0' && api->ctx->relay == NULL) {
		/* Only a cluster relays across replicas (docs/cluster.md). */
		api_answer_error(ans, 503,
		    "host %s is connected to replica %s, not this one: ask "
		    "that replica",
		    found.host_id, found.replica);
		goto out;
	}
	memcpy(p->container_id, full->valuestring, 65);
	(void)snprintf(p->host_id, sizeof(p->host_id), "%s", found.host_id);
	r = 0;
out:
	cJSON_Delete(found.row);
	return r;
}

/*
 * action.requested: action_id, host_id, container_id, action_name (the
 * verb: "action" is the signed envelope, by the audit log's convention),
 * reason, requested_by, expires_at, action {payload, sig, key_id}.
 */
static int
record_requested(struct api *api, const struct envelope_action_payload *p,
    const struct envelope *env, struct err_msg *msg)
{
	char roster_sha[65];
	cJSON *d = cJSON_CreateObject();
	bool ok;
	int r;

	ok = d != NULL &&
	    cJSON_AddStringToObject(d, "action_id", p->action_id) != NULL &&
	    cJSON_AddStringToObject(d, "host_id", p->host_id) != NULL &&
	    cJSON_AddStringToObject(d, "container_id", p->container_id) !=
	        NULL &&
	    cJSON_AddStringToObject(d, "action_name",
	        envelope_action_name(p->action)) != NULL &&
	    cJSON_AddStringToObject(d, "reason", p->reason) != NULL &&
	    cJSON_AddStringToObject(d, "requested_by", p->requested_by) !=
	        NULL &&
	    cJSON_AddStringToObject(d, "requester",
	        p->has_request ? "verified" : "server-asserted") != NULL &&
	    (!p->has_request ||
	        (cJSON_AddStringToObject(d, "requester_key_id",
	             p->request.key_id) != NULL &&
	            jsonx_add_int64(d, "roster_version",
	                roster_store_version(api->ctx->roster, roster_sha)))) &&
	    cJSON_AddNumberToObject(d, "expires_at", (double)p->expires_at) !=
	        NULL &&
	    envelope_add_json(d, "action", env->payload_b64, env->sig_b64,
	        env->key_id);
	if (!ok) {
		cJSON_Delete(d);
		return err_set(msg, SIGNET_ERR_ALLOC, "out of memory");
	}
	r = audit_append(api->ctx->audit, "action.requested", SERVER_ACTOR, d,
	    NULL, msg);
	cJSON_Delete(d);
	return r;
}

/* The signed body, checked (api_request.c); 0, or -1 with ans filled. */
static int
read_signed(struct api *api, const struct api_post *post,
    const struct identity *peer, const cJSON *root,
    struct envelope_action_payload *p, struct api_answer *ans)
{
	struct request_signed s;
	struct err_msg msg;
	unsigned status;
	int r;

	err_clear(&msg);
	r = api_request_parse(root, &s, &msg);
	if (r != 0) {
		api_answer_error(ans, r == SIGNET_ERR_ALLOC ? 500 : 400, "%s",
		    msg.text);
		return -1;
	}
	status = api_request_check(api, &s, peer, post->container, p, &msg);
	request_signed_free(&s);
	if (status != 0) {
		api_answer_error(ans, status, "operator request refused: %s",
		    msg.text);
		return -1;
	}
	return 0;
}

void
api_action_post(struct api *api, const struct api_post *post,
    const struct identity *peer, const char *body, size_t len,
    struct api_answer *ans, struct api_pending *pend)
{
	struct envelope_action_payload *p = NULL;
	struct err_msg msg;
	uint8_t rnd[ACTIONS_ID_LEN / 2];
	char req_host[sizeof(p->host_id)];
	cJSON *signed_body = NULL;
	bool signed_req;
	int r;

	memset(pend, 0, sizeof(*pend));
	err_clear(&msg);
	if (api->actions == NULL || api->hub == NULL) {
		api_answer_error(ans, 503, "this server has no action relay");
		return;
	}
	if (api_cluster_refuses(api, ans))
		return;
	p = calloc(1, sizeof(*p));
	if (p == NULL) {
		api_answer_error(ans, 500, "out of memory");
		return;
	}
	signed_body = api_request_body_signed(body, len);
	signed_req = signed_body != NULL;
	if (signed_req) {
		if (read_signed(api, post, peer, signed_body, p, ans) != 0)
			goto out;
	} else {
		r = parse_body(body, len, &p->action, p->reason,
		    sizeof(p->reason), &msg);
		if (r != 0) {
			api_answer_error(ans, r == SIGNET_ERR_ALLOC ? 500 : 400,
			    "%s", msg.text);
			goto out;
		}
	}
	(void)snprintf(pend->action, sizeof(pend->action), "%s",
	    envelope_action_name(p->action));
	memcpy(pend->reason, p->reason, sizeof(pend->reason));
	memcpy(req_host, p->host_id, sizeof(req_host));
	if (resolve(api, signed_req ? p->container_id : post->container, p,
	        ans) != 0)
		goto out;
	if (signed_req && strcmp(req_host, p->host_id) != 0) {
		api_answer_error(ans, 400,
		    "the request is for host %s, but container %.12s is on "
		    "host %s",
		    req_host, p->container_id, p->host_id);
		goto out;
	}
	if (signed_req) {
		/* Held until the host's policy would have it approved. */
		if (api_approvals_hold(api, p, ans, pend) != 0)
			goto out;
	} else {
		randombytes_buf(rnd, sizeof(rnd));
		(void)text_hex(rnd, sizeof(rnd), p->action_id);
		(void)snprintf(p->requested_by, sizeof(p->requested_by), "%s",
		    peer->name);
	}
	api_action_relay(api, p, post->wait_s, ans, pend);
out:
	cJSON_Delete(signed_body);
	if (p != NULL)
		sodium_memzero(p, sizeof(*p));
	free(p);
}

void
api_action_relay(struct api *api, struct envelope_action_payload *p, int wait_s,
    struct api_answer *ans, struct api_pending *pend)
{
	struct envelope env;
	struct err_msg msg;
	char sha[65], *json = NULL, *frame = NULL;
	size_t frame_len = 0;
	int64_t now, life_ms, deadline;
	bool added = false;
	int r = 0;

	memset(&env, 0, sizeof(env));
	err_clear(&msg);
	/* The last word (approve() refuses before recording). */
	if (api_cluster_refuses(api, ans))
		return;
	now = clock_wall_ms();
	life_ms = (int64_t)(wait_s > 0 ? wait_s : API_ACTION_WAIT_DEFAULT) *
	        1000 +
	    API_ACTION_MARGIN_MS;
	if (life_ms > ENVELOPE_MAX_LIFETIME_MS)
		life_ms = ENVELOPE_MAX_LIFETIME_MS;
	/* The relay's own window; never past the operator's request's. */
	if (!p->has_request || now + life_ms < p->expires_at)
		p->expires_at = now + life_ms;
	p->issued_at = now;
	/* wait=0: no one waits; PENDING until the agent can no longer act. */
	deadline = wait_s > 0 ? now + (int64_t)wait_s * 1000 :
	                        p->expires_at + ENVELOPE_SKEW_MS;
	/*
	 * Anchors the action to this log, for a host whose agent anchors
	 * (an older agent refuses the member): its record of the action
	 * then names a line a rewritten server log would no longer hold.
	 */
	if (api->ctx->audit != NULL &&
	    registry_anchors(api->ctx->registry, p->host_id)) {
		audit_get_head(api->ctx->audit, &p->server_head);
		p->has_server_head = !p->server_head.empty;
	}

	r = envelope_action_encode(p, &json);
	if (r == 0)
		r = envelope_sign(ENVELOPE_CTX_ACTION, json, strlen(json),
		    api->ctx->action_key, &env);
	if (r != 0) {
		api_answer_error(ans, 500, "cannot sign the action: %s",
		    err_str(r));
		goto out;
	}
	envelope_sha256_hex(json, strlen(json), sha);
	r = actions_add(api->actions, p, sha, deadline, now);
	if (r != 0) {
		if (r == SIGNET_ERR_UNAVAILABLE)
			api_answer_error(ans, 503,
			    "too many actions in "
			    "flight; try again later");
		else if (r == SIGNET_ERR_EXISTS)
			api_answer_error(ans, 409,
			    "action %s was requested already: a signed "
			    "request is sent once",
			    p->action_id);
		else
			api_answer_error(ans, 500,
			    "cannot track the action: "
			    "%s",
			    err_str(r));
		goto out;
	}
	added = true;
	/* Nothing runs unrecorded (docs/audit.md). */
	r = record_requested(api, p, &env, &msg);
	if (r != 0) {
		metrics_inc(api->ctx->metrics, M_ACTIONS_AUDIT_FAILED);
		log_error("action %s refused: action.requested not recorded: "
		          "%s",
		    p->action_id, msg.text);
		actions_remove(api->actions, p->action_id);
		added = false;
		answer_error_id(ans, r == SIGNET_ERR_ALLOC ? 500 : 503,
		    p->action_id,
		    "the audit log cannot be written: action "
		    "refused and not sent");
		goto out;
	}
	pend->recorded = true;
	metrics_inc(api->ctx->metrics, M_ACTIONS_REQUESTED);
	log_info("action requested: action_id=%s host=%s container=%s "
	         "action=%s requested_by=%s wait=%d",
	    p->action_id, p->host_id, p->container_id,
	    envelope_action_name(p->action), p->requested_by, wait_s);
	r = wire_build_action(env.payload_b64, env.sig_b64, env.key_id, &frame,
	    &frame_len);
	if (r == 0 && api->ctx->relay != NULL &&
	    !cluster_holds(api->ctx->cluster, p->host_id, NULL)) {
		/* Another replica holds the host: through the database. */
		char why[ERR_MSG_MAX];

		/* Only a wait=0 answer waits (db_timeout_ms at most) to
		 * say whether the database took it. */
		r = cluster_relay_queue(api->ctx->relay, p, frame, wait_s == 0,
		    why, sizeof(why));
		if (r != 0) {
			metrics_inc(api->ctx->metrics, M_ACTIONS_UNDELIVERED);
			if (actions_undeliver(api->actions, api->ctx->audit,
			        p->action_id, why) != 0)
				log_warn("action %s: undelivered not recorded",
				    p->action_id);
			api_action_answer(api, p->action_id, NULL, ans);
			goto out;
		}
		goto sent;
	}
	if (r == 0 && api->ctx->relay != NULL)
		cluster_relay_local(api->ctx->relay, p, frame);
	if (r == 0)
		r = hub_send_action(api->hub, p->host_id, p->action_id, frame,
		    frame_len);
	if (r != 0) {
		metrics_inc(api->ctx->metrics, M_ACTIONS_UNDELIVERED);
		if (actions_undeliver(api->actions, api->ctx->audit,
		        p->action_id,
		        r == SIGNET_ERR_UNAVAILABLE ?
		            "the agent listener is stopping or busy" :
		            "the frame could not be queued") != 0)
			log_warn("action %s: undelivered not recorded",
			    p->action_id);
		api_action_answer(api, p->action_id, NULL, ans);
		goto out;
	}
sent:
	if (wait_s == 0) {
		api_action_answer(api, p->action_id, NULL, ans);
		ans->status = ans->status == 500 ? 500 : 202;
		(void)snprintf(ans->location, sizeof(ans->location),
		    "/api/actions/%s", p->action_id);
		goto out;
	}
	pend->suspend = true;
	memcpy(pend->action_id, p->action_id, sizeof(pend->action_id));
out:
	if (!added && r != 0)
		log_debug("action not requested: %s", msg.text);
	envelope_free(&env);
	free(json);
	free(frame);
}

static unsigned
http_status_of(enum action_status s)
{
	switch (s) {
	case ACTION_SUCCESS: return 200;
	case ACTION_DENIED: return 403;
	case ACTION_FAILURE:
	case ACTION_UNKNOWN:
	case ACTION_REJECTED: return 502;
	case ACTION_TIMEOUT: return 504;
	case ACTION_UNDELIVERED:
	case ACTION_PENDING:
	default: return 503;
	}
}

void
api_action_answer(struct api *api, const char *id, const char *pending_why,
    struct api_answer *ans)
{
	struct action_info *a = calloc(1, sizeof(*a));
	cJSON *doc = NULL;

	if (a == NULL) {
		api_answer_error(ans, 500, "out of memory");
		return;
	}
	if (actions_get(api->actions, id, a) != 0) {
		answer_error_id(ans, 500, id, "the action was forgotten");
		goto out;
	}
	doc = actions_info_json(a);
	if (doc != NULL && a->status == ACTION_PENDING && pending_why != NULL &&
	    cJSON_ReplaceItemInObjectCaseSensitive(doc, "error",
	        cJSON_CreateString(pending_why)) != 1) {
		cJSON_Delete(doc);
		doc = NULL;
	}
	api_answer_json(ans, http_status_of(a->status), doc);
out:
	free(a);
}

/* GET of an action this replica does not hold: the cluster's row. */
static void
from_cluster(struct api *api, const char *id, struct api_answer *ans)
{
	struct err_msg msg;
	cJSON *doc = NULL;
	int r;

	err_clear(&msg);
	r = cluster_relay_get(api->ctx->relay, id, &doc, &msg);
	switch (r) {
	case 0: api_answer_json(ans, 200, doc); return;
	case SIGNET_ERR_NOT_FOUND:
		api_answer_error(ans, 404,
		    "no action %s on any replica (unknown, or finished long "
		    "ago: see the audit logs)",
		    id);
		return;
	case SIGNET_ERR_UNAVAILABLE:
		api_answer_error(ans, 503,
		    "the cluster database is unreachable: %s", msg.text);
		return;
	case SIGNET_ERR_BAD_SIGNATURE:
		api_answer_error(ans, 502,
		    "the cluster database's record of action %s is refused: "
		    "%s",
		    id, msg.text);
		return;
	default: api_answer_error(ans, 500, "%s", msg.text); return;
	}
}

void
api_action_get(struct api *api, const char *id, struct api_answer *ans)
{
	struct action_info *a = NULL;
	char esc[96];

	if (!text_is_hex(id, ACTIONS_ID_LEN)) {
		api_answer_error(ans, 400,
		    "action id \"%s\" is not 32 "
		    "lowercase hex digits",
		    text_escape_str(id, esc, sizeof(esc)));
		return;
	}
	a = calloc(1, sizeof(*a));
	if (a == NULL) {
		api_answer_error(ans, 500, "out of memory");
		return;
	}
	if (api->actions == NULL || actions_get(api->actions, id, a) != 0) {
		if (api->approvals != NULL &&
		    api_approvals_get(api, id, ans) == 0)
			goto out;
		if (api->ctx->relay != NULL) {
			from_cluster(api, id, ans);
			goto out;
		}
		api_answer_error(ans, 404,
		    "no action %s (unknown, or finished "
		    "over an hour ago: see the audit log)",
		    id);
	} else {
		api_answer_json(ans, 200, actions_info_json(a));
	}
out:
	free(a);
}
