/* SPDX-License-Identifier: ISC */
/*
 * The server's check of an operator-signed request (docs/operators.md,
 * docs/http-api.md): the body of POST .../actions that carries one is
 * read strictly, the operator's signature is verified on the exact bytes
 * against the roster the server holds, and the request must be the
 * sender's own, live, and name the container of the path. The server
 * checks so that it refuses early and clearly; the host checks again and
 * is the only judge.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "api_int.h"
#include "clock.h"
#include "jsonx.h"
#include "registry.h"
#include "roster_store.h"
#include "text.h"

#define SIGNED_BODY_DEPTH 3

cJSON *
api_request_body_signed(const char *body, size_t len)
{
	cJSON *root = NULL;

	if (jsonx_parse_object("request body", body, len, SIGNED_BODY_DEPTH,
	        &root, NULL) != 0)
		return NULL;
	if (cJSON_GetObjectItemCaseSensitive(root, "request") == NULL) {
		cJSON_Delete(root);
		return NULL;
	}
	return root;
}

/* A string member of 1..max bytes, copied into a new *out. */
static int
take(const cJSON *o, const char *key, size_t max, char **out,
    struct err_msg *msg)
{
	const char *s = NULL;
	int r;

	r = jsonx_get_string(o, key, false, "request", &s, msg);
	if (r != 0)
		return r;
	if (s[0] == '\0' || strlen(s) > max)
		return err_set(msg, SIGNET_ERR_FORMAT,
		    "request.%s must be 1 to %zu bytes", key, max);
	*out = strdup(s);
	return *out == NULL ? err_set(msg, SIGNET_ERR_ALLOC, "out of memory") :
	                      0;
}

int
api_request_parse(const cJSON *root, struct request_signed *out,
    struct err_msg *msg)
{
	static const char *const top[] = { "request", NULL };
	static const char *const members[] = { "payload", "sig", "key_id",
		NULL };
	const cJSON *req = NULL;
	const char *kid = NULL;
	int r;

	memset(out, 0, sizeof(*out));
	r = jsonx_only_members(root, top, "request body", msg);
	if (r == 0)
		r = jsonx_get_object(root, "request", "request body", &req,
		    msg);
	if (r == 0)
		r = jsonx_only_members(req, members, "request", msg);
	if (r == 0)
		r = take(req, "payload", REQUEST_PAYLOAD_B64_MAX,
		    &out->payload_b64, msg);
	if (r == 0)
		r = take(req, "sig", REQUEST_SIG_B64_SIZE - 1, &out->sig_b64,
		    msg);
	if (r == 0)
		r = jsonx_get_string(req, "key_id", false, "request", &kid,
		    msg);
	if (r == 0 && !text_is_hex(kid, KEYS_ID_LEN))
		r = err_set(msg, SIGNET_ERR_FORMAT,
		    "request.key_id must be %d lowercase hex digits",
		    KEYS_ID_LEN);
	if (r == 0)
		memcpy(out->key_id, kid, KEYS_ID_LEN + 1);
	if (r != 0)
		request_signed_free(out);
	return r;
}

/* The HTTP status for request_verify's code. */
static unsigned
status_of(int r)
{
	switch (r) {
	case SIGNET_ERR_UNKNOWN_KEY:
	case SIGNET_ERR_BAD_SIGNATURE:
	case SIGNET_ERR_PERMISSIONS: return 403;
	case SIGNET_ERR_NOT_FOUND: return 409;
	case SIGNET_ERR_ALLOC: return 500;
	default: return 400;
	}
}

unsigned
api_request_check(struct api *api, const struct request_signed *s,
    const struct identity *peer, const char *path_container,
    struct envelope_action_payload *p, struct err_msg *msg)
{
	struct request_verified v;
	struct roster *roster;
	int64_t now = clock_wall_ms();
	unsigned status = 0;
	int r;

	memset(&v, 0, sizeof(v));
	roster = roster_store_acquire(api->ctx->roster);
	if (roster == NULL) {
		err_set(msg, SIGNET_ERR_UNAVAILABLE,
		    "this server holds no operator roster ([roster] in its "
		    "configuration): operator-signed requests cannot be "
		    "checked");
		return 503;
	}
	r = request_verify(roster, s, now, &v, msg);
	if (r != 0) {
		status = status_of(r);
		goto out;
	}
	if (roster_check_time(roster, now, msg) != 0) {
		status = 403;
		goto out;
	}
	if (strcmp(v.p.requested_by, peer->name) != 0) {
		err_set(msg, SIGNET_ERR_PERMISSIONS,
		    "the request is %s's (signed with their key), but this "
		    "client is %s: operators send their own requests",
		    v.p.requested_by, peer->name);
		status = 403;
		goto out;
	}
	if (v.p.expires_at <= now) {
		err_set(msg, SIGNET_ERR_FORMAT,
		    "the request expired %" PRId64 " ms ago",
		    now - v.p.expires_at);
		status = 400;
		goto out;
	}
	if (v.p.issued_at > now + ENVELOPE_SKEW_MS) {
		err_set(msg, SIGNET_ERR_FORMAT,
		    "the request is issued %" PRId64 " ms in the future "
		    "(check the clocks)",
		    v.p.issued_at - now);
		status = 400;
		goto out;
	}
	if (strncmp(v.p.container_id, path_container, strlen(path_container)) !=
	    0) {
		err_set(msg, SIGNET_ERR_FORMAT,
		    "the request names container %.12s, not the path's %s",
		    v.p.container_id, path_container);
		status = 400;
		goto out;
	}
	memcpy(p->action_id, v.p.action_id, sizeof(p->action_id));
	memcpy(p->host_id, v.p.host_id, sizeof(p->host_id));
	memcpy(p->container_id, v.p.container_id, sizeof(p->container_id));
	p->action = v.p.action;
	memcpy(p->reason, v.p.reason, sizeof(p->reason));
	memcpy(p->requested_by, v.p.requested_by, sizeof(p->requested_by));
	p->issued_at = v.p.issued_at;
	p->expires_at = v.p.expires_at;
	p->has_request = true;
	(void)snprintf(p->request.payload_b64, sizeof(p->request.payload_b64),
	    "%s", s->payload_b64);
	(void)snprintf(p->request.sig_b64, sizeof(p->request.sig_b64), "%s",
	    s->sig_b64);
	memcpy(p->request.key_id, s->key_id, sizeof(p->request.key_id));
	p->napprovals = 0;
out:
	request_verified_free(&v);
	roster_store_release(api->ctx->roster, roster);
	return status;
}
