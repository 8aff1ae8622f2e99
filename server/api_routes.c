/* SPDX-License-Identifier: ISC */
/*
 * The operator API's routes: request target checks, the role table of
 * docs/http-api.md, query validation, and the GET handlers. Everything here
 * runs after the client certificate was verified (api.c).
 */
#include "api_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "audit_health.h"
#include "cluster.h"
#include "cluster_relay.h"
#include "dynbuf.h"
#include "jsonx.h"
#include "metrics.h"
#include "registry.h"
#include "text.h"

#define CTYPE_JSON "application/json"
#define CTYPE_PROM "text/plain; version=0.0.4; charset=utf-8"

typedef void (*api_handler)(struct api *api, const struct api_url *u,
    struct api_answer *ans);

struct api_route_def {
	const char *seg0, *seg1;   /* NULL: segment absent */
	size_t nseg;               /* 3: seg[2] is a parameter */
	bool any_client;           /* agents too, not only people */
	const char *const *params; /* allowed query parameters */
	api_handler fn;            /* NULL: the POST route */
	const char *seg3;          /* 4 segments: seg[3] must be this */
	const char *seg2;          /* NULL: seg[2] is a parameter */
};

/* dockerd's container states (State in GET /containers/json). */
static const char *const docker_states[] = { "created", "restarting", "running",
	"removing", "paused", "exited", "dead", NULL };

static const char *const containers_params[] = { "host", "state", NULL };
static const char *const audit_params[] = { "after", "limit", NULL };
static const char *const action_params[] = { "wait", NULL };
static const char *const no_params[] = { NULL };
static const char *const checkpoint_params[] = { "log", "witnessed", NULL };
static const char *const consistency_params[] = { "log", "old", "new", NULL };
static const char *const inclusion_params[] = { "log", "seq", "size", NULL };
static const char *const cosign_params[] = { "log", NULL };

void
api_answer_error(struct api_answer *ans, unsigned status, const char *fmt, ...)
{
	char text[ERR_MSG_MAX + 128];
	cJSON *doc;
	va_list ap;

	va_start(ap, fmt);
	(void)vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	doc = cJSON_CreateObject();
	if (doc != NULL &&
	    cJSON_AddStringToObject(doc, "error", text) == NULL) {
		cJSON_Delete(doc);
		doc = NULL;
	}
	api_answer_json(ans, status, doc);
}

void
api_answer_json(struct api_answer *ans, unsigned status, cJSON *doc)
{
	free(ans->body);
	ans->body = doc != NULL ? jsonx_print(doc) : NULL;
	cJSON_Delete(doc);
	ans->ctype = CTYPE_JSON;
	/* api.c answers a fixed 500 when body is NULL. */
	ans->status = ans->body != NULL ? status : 500;
	ans->len = ans->body != NULL ? strlen(ans->body) : 0;
}

/*
 * Up and able to record: a server whose audit log cannot be written
 * refuses every action, so a monitor is told (503) rather than "ok".
 */
static void
route_healthz(struct api *api, const struct api_url *u, struct api_answer *ans)
{
	cJSON *doc = cJSON_CreateObject();
	struct audit_health h;
	bool ok;

	(void)u;
	audit_health_get(api->ctx->audit, AUDIT_HEALTH_MIN_FREE, &h);
	if (h.state == AUDIT_HEALTH_OK)
		ok = doc != NULL &&
		    cJSON_AddStringToObject(doc, "status", "ok") != NULL;
	else
		ok = doc != NULL &&
		    cJSON_AddStringToObject(doc, "status", "unhealthy") !=
		        NULL &&
		    cJSON_AddStringToObject(doc, "audit",
		        audit_health_name(h.state)) != NULL &&
		    cJSON_AddStringToObject(doc, "error", h.error) != NULL;
	if (!ok) {
		cJSON_Delete(doc);
		doc = NULL;
	}
	api_answer_json(ans, h.state == AUDIT_HEALTH_OK ? 200 : 503, doc);
}

static void
route_metrics(struct api *api, const struct api_url *u, struct api_answer *ans)
{
	struct registry_stats stats;
	struct registry_cert *agents = NULL;
	struct identity_store *store;
	struct metrics_trust trust;
	size_t nagents = 0;
	struct audit_stats ast;
	struct dynbuf b;
	char *text, *cl = NULL;
	size_t len;

	(void)u;
	registry_get_stats(api->ctx->registry, &stats);
	store = server_ctx_identity(api->ctx);
	metrics_trust_from_store(store, &trust);
	identity_store_free(store);
	if (registry_connected_certs(api->ctx->registry, &agents, &nagents) !=
	    0) {
		api_answer_error(ans, 500, "out of memory");
		return;
	}
	trust.warn_days = api->ctx->expiry_warn_days;
	trust.agents = agents;
	trust.nagents = nagents;
	text = metrics_render(api->ctx->metrics, &stats, &trust,
	    (int64_t)time(NULL));
	free(agents);
	/* The audit writer's own counter, after the registry's families. */
	memset(&ast, 0, sizeof(ast));
	if (api->ctx->audit != NULL)
		audit_get_stats(api->ctx->audit, &ast);
	/* Cluster mode: its gauges and counters (cluster.h). */
	if (api->ctx->cluster != NULL) {
		cl = cluster_relay_metrics_append(api->ctx->relay,
		    cluster_metrics_text(api->ctx->cluster));
		if (cl == NULL) {
			free(text);
			text = NULL;
		}
	}
	/* What metrics_render made, the cluster's, and three families of
	 * at most 1024 bytes. */
	dynbuf_init(&b,
	    text != NULL ? strlen(text) + (cl != NULL ? strlen(cl) : 0) + 1024 :
	                   1);
	if (text == NULL || dynbuf_add(&b, text, strlen(text)) != 0 ||
	    (cl != NULL && dynbuf_add(&b, cl, strlen(cl)) != 0) ||
	    dynbuf_addf(&b,
	        "# HELP signet_audit_mirror_failures_total Audit records "
	        "that [audit] mirror could not send to journald (each is "
	        "in the signed log all the same).\n"
	        "# TYPE signet_audit_mirror_failures_total counter\n"
	        "signet_audit_mirror_failures_total %llu\n"
	        "# HELP signet_audit_records_total Audit records made "
	        "durable since the server started.\n"
	        "# TYPE signet_audit_records_total counter\n"
	        "signet_audit_records_total %llu\n"
	        "# HELP signet_audit_syncs_total fdatasync calls that made "
	        "them durable (several records share one).\n"
	        "# TYPE signet_audit_syncs_total counter\n"
	        "signet_audit_syncs_total %llu\n",
	        (unsigned long long)ast.mirror_failures,
	        (unsigned long long)ast.appends,
	        (unsigned long long)ast.syncs) != 0) {
		free(text);
		text = NULL;
	} else {
		free(text);
		text = dynbuf_take(&b, &len);
	}
	dynbuf_free(&b);
	free(cl);
	if (text == NULL) {
		api_answer_error(ans, 500, "out of memory");
		return;
	}
	free(ans->body);
	ans->body = text;
	ans->len = strlen(text);
	ans->ctype = CTYPE_PROM;
	ans->status = 200;
}

static void
route_hosts(struct api *api, const struct api_url *u, struct api_answer *ans)
{
	cJSON *doc = registry_hosts_json(api->ctx->registry,
	    (int64_t)time(NULL));

	(void)u;
	if (doc == NULL)
		api_answer_error(ans, 500, "out of memory");
	else
		api_answer_json(ans, 200, doc);
}

static void
route_roster(struct api *api, const struct api_url *u, struct api_answer *ans)
{
	cJSON *doc = api_roster_json(api);

	(void)u;
	if (doc == NULL)
		api_answer_error(ans, 500, "out of memory");
	else
		api_answer_json(ans, 200, doc);
}

static bool
known_state(const char *s)
{
	size_t i;

	for (i = 0; docker_states[i] != NULL; i++) {
		if (strcmp(s, docker_states[i]) == 0)
			return true;
	}
	return false;
}

static void
route_containers(struct api *api, const struct api_url *u,
    struct api_answer *ans)
{
	const char *host = api_url_param(u, "host");
	const char *state = api_url_param(u, "state");
	char esc[96];
	cJSON *doc;

	if (host != NULL && !text_valid_name(host)) {
		api_answer_error(ans, 400,
		    "host \"%s\" is not a valid host id "
		    "([a-z0-9][a-z0-9._-]{0,62})",
		    text_escape_str(host, esc, sizeof(esc)));
		return;
	}
	if (state != NULL && !known_state(state)) {
		api_answer_error(ans, 400,
		    "state \"%s\" is not one of "
		    "created, restarting, running, removing, paused, exited, "
		    "dead",
		    text_escape_str(state, esc, sizeof(esc)));
		return;
	}
	doc = registry_containers_json(api->ctx->registry, host, state);
	if (doc == NULL)
		api_answer_error(ans, 500, "out of memory");
	else
		api_answer_json(ans, 200, doc);
}

static void
route_container(struct api *api, const struct api_url *u,
    struct api_answer *ans)
{
	struct registry_container found;
	char esc[96];

	switch (
	    registry_find_container(api->ctx->registry, u->seg[2], &found)) {
	case REGISTRY_FOUND: api_answer_json(ans, 200, found.row); return;
	case REGISTRY_AMBIGUOUS:
		api_answer_error(ans, 409,
		    "container id prefix \"%s\" matches "
		    "more than one container; give more digits",
		    text_escape_str(u->seg[2], esc, sizeof(esc)));
		return;
	case REGISTRY_BAD_ID:
		api_answer_error(ans, 400,
		    "container id \"%s\" is not 12 to "
		    "64 lowercase hex digits",
		    text_escape_str(u->seg[2], esc, sizeof(esc)));
		return;
	case REGISTRY_NOT_FOUND:
	default:
		api_answer_error(ans, 404, "no container \"%s\" on any host",
		    text_escape_str(u->seg[2], esc, sizeof(esc)));
		return;
	}
}

static void
route_audit(struct api *api, const struct api_url *u, struct api_answer *ans)
{
	const char *after_s = api_url_param(u, "after");
	const char *limit_s = api_url_param(u, "limit");
	int64_t after = 0, limit = API_AUDIT_LIMIT_DEFAULT;
	struct err_msg msg;
	cJSON *doc = NULL;
	char esc[64];
	int r;

	err_clear(&msg);
	if (after_s != NULL &&
	    text_to_int64(after_s, 0, JSONX_INT_MAX, &after) != 0) {
		api_answer_error(ans, 400,
		    "after \"%s\" is not a record "
		    "sequence number (0 to %lld)",
		    text_escape_str(after_s, esc, sizeof(esc)), JSONX_INT_MAX);
		return;
	}
	if (limit_s != NULL &&
	    text_to_int64(limit_s, 1, API_AUDIT_LIMIT_MAX, &limit) != 0) {
		api_answer_error(ans, 400,
		    "limit \"%s\" is not a number from "
		    "1 to %d",
		    text_escape_str(limit_s, esc, sizeof(esc)),
		    API_AUDIT_LIMIT_MAX);
		return;
	}
	r = api_audit_page(api->ctx->audit_path, after_s != NULL,
	    (uint64_t)after, (size_t)limit, API_AUDIT_BYTES_MAX, &doc, &msg);
	if (r == SIGNET_ERR_IO || r == SIGNET_ERR_NOT_FOUND) {
		api_answer_error(ans, 503, "audit log unavailable: %s",
		    msg.text);
		return;
	}
	if (r != 0) {
		api_answer_error(ans, 500, "%s", msg.text);
		return;
	}
	api_answer_json(ans, 200, doc);
}

static void
route_approvals(struct api *api, const struct api_url *u,
    struct api_answer *ans)
{
	(void)u;
	api_approvals_list(api, ans);
}

static void
route_action(struct api *api, const struct api_url *u, struct api_answer *ans)
{
	api_action_get(api, u->seg[2], ans);
}

static const struct api_route_def routes[] = {
	{ "healthz", NULL, 1, true, NULL, route_healthz, NULL, NULL },
	{ "metrics", NULL, 1, true, NULL, route_metrics, NULL, NULL },
	{ "api", "hosts", 2, false, NULL, route_hosts, NULL, NULL },
	{ "api", "roster", 2, false, NULL, route_roster, NULL, NULL },
	{ "api", "containers", 2, false, containers_params, route_containers,
	    NULL, NULL },
	{ "api", "containers", 3, false, NULL, route_container, NULL, NULL },
	{ "api", "containers", 4, false, action_params, NULL, "actions", NULL },
	{ "api", "audit", 2, false, audit_params, route_audit, NULL, NULL },
	{ "api", "audit", 3, false, checkpoint_params, api_checkpoint_get, NULL,
	    "checkpoint" },
	{ "api", "audit", 4, false, consistency_params,
	    api_checkpoint_consistency, "consistency", "proof" },
	{ "api", "audit", 4, false, inclusion_params, api_checkpoint_inclusion,
	    "inclusion", "proof" },
	{ "api", "audit", 3, false, cosign_params, NULL, NULL, "cosignatures" },
	{ "api", "actions", 3, false, NULL, route_action, NULL, NULL },
	{ "api", "actions", 4, false, action_params, NULL, "approve", NULL },
	{ "api", "actions", 4, false, NULL, NULL, "refuse", NULL },
	{ "api", "approvals", 2, false, NULL, route_approvals, NULL, NULL },
};

static const struct api_route_def *
find_route(const struct api_url *u)
{
	size_t i;

	for (i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
		const struct api_route_def *rt = &routes[i];

		if (u->nseg != rt->nseg || strcmp(u->seg[0], rt->seg0) != 0)
			continue;
		if (rt->seg1 != NULL && strcmp(u->seg[1], rt->seg1) != 0)
			continue;
		if (rt->seg3 != NULL && strcmp(u->seg[3], rt->seg3) != 0)
			continue;
		if (rt->seg2 != NULL && strcmp(u->seg[2], rt->seg2) != 0)
			continue;
		return rt;
	}
	return NULL;
}

static bool
person(enum identity_role role)
{
	return role == IDENTITY_ROLE_OPERATOR || role == IDENTITY_ROLE_AUDITOR;
}

/* A Content-Length over API_BODY_MAX (or not a number): answered 413. */
static bool
body_too_big(const struct api_request_info *rq, struct api_answer *ans)
{
	int64_t clen = 0;

	if (rq->content_length == NULL ||
	    (text_to_int64(rq->content_length, 0, JSONX_INT_MAX, &clen) == 0 &&
	        clen <= API_BODY_MAX))
		return false;
	api_answer_error(ans, 413, "request body over %d bytes", API_BODY_MAX);
	return true;
}

/*
 * POST /api/containers/{id}/actions before its body: operators only, a
 * JSON body of at most API_BODY_MAX bytes, a sane ?wait=. Sets post->
 * want_body when the body should be read.
 */
static void
route_action_post(struct api *api, const struct api_request_info *rq,
    const struct api_url *u, struct api_answer *ans, struct api_post *post)
{
	const char *wait_s = api_url_param(u, "wait");
	int64_t wait = API_ACTION_WAIT_DEFAULT;
	struct err_msg msg;
	char esc[64];

	err_clear(&msg);
	if (rq->peer->role != IDENTITY_ROLE_OPERATOR) {
		metrics_inc(api->ctx->metrics, M_API_FORBIDDEN);
		api_answer_error(ans, 403, "role %s may not %s; operators only",
		    identity_role_name(rq->peer->role),
		    post->kind == API_POST_ACTION      ? "request actions" :
		        post->kind == API_POST_APPROVE ? "approve" :
		                                         "refuse");
		return;
	}
	if (post->kind != API_POST_ACTION && !text_is_hex(u->seg[2], 32)) {
		api_answer_error(ans, 400,
		    "action id \"%s\" is not 32 lowercase hex digits",
		    text_escape_str(u->seg[2], esc, sizeof(esc)));
		return;
	}
	if (api_url_only_params(u,
	        post->kind == API_POST_REFUSE ? no_params : action_params,
	        &msg) != 0) {
		api_answer_error(ans, 400, "%s", msg.text);
		return;
	}
	if (wait_s != NULL &&
	    text_to_int64(wait_s, 0, API_ACTION_WAIT_MAX, &wait) != 0) {
		api_answer_error(ans, 400,
		    "wait \"%s\" is not a number of "
		    "seconds from 0 to %d",
		    text_escape_str(wait_s, esc, sizeof(esc)),
		    API_ACTION_WAIT_MAX);
		return;
	}
	if (body_too_big(rq, ans))
		return;
	if (strlen(u->seg[2]) >= sizeof(post->container)) {
		api_answer_error(ans, 400,
		    "container id \"%s\" is not 12 to "
		    "64 lowercase hex digits",
		    text_escape_str(u->seg[2], esc, sizeof(esc)));
		return;
	}
	memcpy(post->container, u->seg[2], strlen(u->seg[2]) + 1);
	post->wait_s = (int)wait;
	post->want_body = true;
}

/*
 * POST /api/audit/cosignatures before its body: operators and auditors
 * (a witness is a reviewer), the server's own log, a body of at most
 * API_BODY_MAX bytes.
 */
static void
route_cosign_post(const struct api_request_info *rq, const struct api_url *u,
    struct api_answer *ans, struct api_post *post)
{
	const char *log = api_url_param(u, "log");
	struct err_msg msg;
	char esc[80];

	err_clear(&msg);
	if (api_url_only_params(u, cosign_params, &msg) != 0) {
		api_answer_error(ans, 400, "%s", msg.text);
		return;
	}
	if (log != NULL && strcmp(log, "server") != 0) {
		api_answer_error(ans, 404,
		    "cosignatures are kept for the server's log only, not "
		    "\"%s\"",
		    text_escape_str(log, esc, sizeof(esc)));
		return;
	}
	if (body_too_big(rq, ans))
		return;
	post->want_body = true;
}

void
api_route(struct api *api, const struct api_request_info *rq,
    struct api_answer *ans, struct api_post *post)
{
	const struct api_route_def *rt;
	struct api_url *u = NULL;
	struct err_msg msg;
	int r;

	err_clear(&msg);
	memset(post, 0, sizeof(*post));
	if (rq->raw_uri == NULL) {
		api_answer_error(ans, 414,
		    "request target longer than %d "
		    "bytes",
		    API_URL_MAX);
		return;
	}
	u = malloc(sizeof(*u));
	if (u == NULL) {
		api_answer_error(ans, 500, "out of memory");
		return;
	}
	r = api_url_parse(rq->raw_uri, rq->raw_len, u, &msg);
	if (r != 0) {
		api_answer_error(ans, r == SIGNET_ERR_TOO_LARGE ? 414 : 400,
		    "%s", msg.text);
		goto out;
	}
	rt = find_route(u);
	if (rt != NULL && rt->fn == NULL && strcmp(rq->method, "POST") == 0) {
		if (rt->seg2 != NULL)
			post->kind = API_POST_COSIGN;
		else if (strcmp(rt->seg3, "approve") == 0)
			post->kind = API_POST_APPROVE;
		else if (strcmp(rt->seg3, "refuse") == 0)
			post->kind = API_POST_REFUSE;
		else
			post->kind = API_POST_ACTION;
		post->is_action = post->kind == API_POST_ACTION;
		(void)text_escape_str(u->seg[2], post->target,
		    sizeof(post->target));
	}
	if ((rt == NULL || !rt->any_client) && !person(rq->peer->role)) {
		metrics_inc(api->ctx->metrics, M_API_FORBIDDEN);
		api_answer_error(ans, 403,
		    "role %s may only use /healthz and "
		    "/metrics",
		    identity_role_name(rq->peer->role));
		goto out;
	}
	if (rt == NULL) {
		api_answer_error(ans, 404, "no such resource");
		goto out;
	}
	if (rt->fn == NULL) {
		if (strcmp(rq->method, "POST") != 0) {
			api_answer_error(ans, 405,
			    "method not allowed here; "
			    "use POST");
			ans->allow = "POST";
			goto out;
		}
		if (post->kind == API_POST_COSIGN)
			route_cosign_post(rq, u, ans, post);
		else
			route_action_post(api, rq, u, ans, post);
		goto out;
	}
	if (strcmp(rq->method, "GET") != 0) {
		api_answer_error(ans, 405, "method not allowed here; use GET");
		ans->allow = "GET";
		goto out;
	}
	if (rq->has_body) {
		api_answer_error(ans, 400,
		    "a GET request may not carry a "
		    "body");
		goto out;
	}
	r = api_url_only_params(u, rt->params, &msg);
	if (r != 0) {
		api_answer_error(ans, 400, "%s", msg.text);
		goto out;
	}
	rt->fn(api, u, ans);
out:
	free(u);
}
