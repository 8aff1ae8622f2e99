/* SPDX-License-Identifier: ISC */
/*
 * Audit records of requests the operator API refuses: auth.rejected for a
 * client it will not serve (no certificate, a refused one, a role that may
 * not use the route), action.refused for an action request refused before
 * any action existed (bad body, unknown or ambiguous container, host
 * offline, ...), so that the log says who tried what and why it was
 * refused. Both are bounded (audit_limit.h: per reason, the first
 * [audit] limit_burst records of a window in full, the rest counted into
 * one audit.suppressed record with "listener":"api"), so a flood of bad
 * requests cannot become a flood of disk syncs nor fill the disk; every
 * refusal is still logged and counted.
 */
#include <stdio.h>
#include <string.h>

#include "api_int.h"
#include "audit.h"
#include "clock.h"
#include "jsonx.h"
#include "log.h"

void
api_refusal_init(struct api *api)
{
	audit_limit_init(&api->refusal_lim[0], "auth.rejected",
	    &api->ctx->audit_limit);
	audit_limit_init(&api->refusal_lim[1], "action.refused",
	    &api->ctx->audit_limit);
	audit_limit_set_listener(&api->refusal_lim[0], "api");
	audit_limit_set_listener(&api->refusal_lim[1], "api");
}

void
api_refusal_close(struct api *api, bool force)
{
	cJSON *summary[2] = { NULL, NULL };
	size_t i;

	if (api->ctx == NULL || api->ctx->audit == NULL)
		return;
	(void)pthread_mutex_lock(&api->mu);
	for (i = 0; i < 2; i++)
		audit_limit_close(&api->refusal_lim[i], clock_wall_ms(), force,
		    &summary[i]);
	(void)pthread_mutex_unlock(&api->mu);
	/* Recording takes an fdatasync: not under mu. */
	for (i = 0; i < 2; i++)
		(void)audit_limit_write(api->ctx->audit, SERVER_ACTOR,
		    summary[i]);
}

/*
 * Whether r is recorded in full (else counted); a summary that became
 * due is written, outside mu.
 */
static bool
take(struct api *api, const struct api_refusal *r, unsigned status)
{
	struct audit_limit *al = &api->refusal_lim[0];
	char key[AUDIT_LIMIT_REASON_MAX];
	cJSON *summary = NULL;
	bool full;

	if (strcmp(r->event, "action.refused") == 0)
		al = &api->refusal_lim[1];
	if (r->reason != NULL)
		(void)snprintf(key, sizeof(key), "%s", r->reason);
	else
		(void)snprintf(key, sizeof(key), "status_%u", status);
	(void)pthread_mutex_lock(&api->mu);
	full = audit_limit_take(al, key, clock_wall_ms(), &summary);
	(void)pthread_mutex_unlock(&api->mu);
	(void)audit_limit_write(api->ctx->audit, SERVER_ACTOR, summary);
	return full;
}

/* The "error" text of an answer body this API made, or "". */
static void
answer_error(const struct api_answer *ans, char *out, size_t size)
{
	cJSON *doc = NULL;
	const char *e;

	out[0] = '\0';
	if (ans->body == NULL || ans->len == 0)
		return;
	doc = cJSON_ParseWithLength(ans->body, ans->len);
	e = cJSON_GetStringValue(
	    cJSON_GetObjectItemCaseSensitive(doc, "error"));
	if (e != NULL)
		(void)snprintf(out, size, "%s", e);
	cJSON_Delete(doc);
}

static bool
put(cJSON *d, const char *k, const char *v)
{
	return v == NULL || cJSON_AddStringToObject(d, k, v) != NULL;
}

void
api_refusal_audit(struct api *api, const struct api_refusal *r,
    const struct api_answer *ans)
{
	char error[ERR_MSG_MAX + 128];
	cJSON *d;
	bool ok;

	if (api->ctx == NULL || api->ctx->audit == NULL)
		return;
	if (!take(api, r, ans->status))
		return;
	answer_error(ans, error, sizeof(error));
	d = cJSON_CreateObject();
	ok = d != NULL && put(d, "listener", "api") &&
	    put(d, "reason", r->reason) && put(d, r->name_key, r->name) &&
	    put(d, "role", r->role) && put(d, "peer", r->addr) &&
	    put(d, "method", r->method) && put(d, "target", r->target) &&
	    put(d, "container", r->container) &&
	    put(d, "action_name", r->action) &&
	    put(d, "action_reason", r->action_reason) &&
	    cJSON_AddNumberToObject(d, "status", (double)ans->status) != NULL &&
	    put(d, "error", error);
	(void)audit_event(api->ctx->audit, r->event, SERVER_ACTOR, d, ok);
}
