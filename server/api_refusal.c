/* SPDX-License-Identifier: ISC */
/*
 * Audit records of requests the operator API refuses: auth.rejected for a
 * client it will not serve (no certificate, a refused one, a role that may
 * not use the route), action.refused for an action request refused before
 * any action existed (bad body, unknown or ambiguous container, host
 * offline, ...), so that the log says who tried what and why it was
 * refused. Both share one rate limit (API_REFUSAL_BURST a second, the next
 * record counting those skipped), so a flood of bad requests cannot become
 * a flood of disk syncs; every refusal is still logged and counted.
 */
#include <stdio.h>
#include <string.h>

#include "api_int.h"
#include "audit.h"
#include "clock.h"
#include "jsonx.h"
#include "log.h"
#include "ratelimit.h"

/* A token of the shared budget, or the refusal is counted as skipped. */
static bool
take_token(struct api *api, uint64_t *suppressed)
{
	bool ok;

	(void)pthread_mutex_lock(&api->mu);
	ok = ratelimit_take(&api->refusal_rl, API_REFUSAL_BURST,
	    clock_mono_ms());
	if (ok) {
		*suppressed = api->refusal_suppressed;
		api->refusal_suppressed = 0;
	} else {
		api->refusal_suppressed++;
	}
	(void)pthread_mutex_unlock(&api->mu);
	return ok;
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
	uint64_t skipped = 0;
	cJSON *d;
	bool ok;

	if (api->ctx == NULL || api->ctx->audit == NULL)
		return;
	if (!take_token(api, &skipped))
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
	    put(d, "error", error) &&
	    (skipped == 0 ||
	        cJSON_AddNumberToObject(d, "suppressed", (double)skipped) !=
	            NULL);
	(void)audit_event(api->ctx->audit, r->event, SERVER_ACTOR, d, ok);
}
