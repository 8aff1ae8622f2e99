/* SPDX-License-Identifier: ISC */
/*
 * GET /api/roster (docs/http-api.md): the operator roster this server
 * holds and hands to its agents, and which version each host says it
 * holds. What a host says is its own report; the roster itself is only
 * ever trusted by the hosts after they verify it.
 */
#include <cjson/cJSON.h>
#include <stdbool.h>
#include <string.h>

#include "api_int.h"
#include "clock.h"
#include "jsonx.h"
#include "registry.h"
#include "roster_store.h"

static bool
add_time(cJSON *o, const char *key, int64_t ms)
{
	char buf[40];

	registry_format_time(ms, buf, sizeof(buf));
	return cJSON_AddStringToObject(o, key, buf) != NULL;
}

static bool
add_operator(cJSON *arr, const struct roster_operator *op)
{
	cJSON *o = cJSON_CreateObject(), *groups;
	size_t i;

	if (o == NULL || !cJSON_AddItemToArray(arr, o) ||
	    cJSON_AddStringToObject(o, "name", op->name) == NULL ||
	    cJSON_AddStringToObject(o, "key_id", op->key.id) == NULL ||
	    (groups = cJSON_AddArrayToObject(o, "groups")) == NULL ||
	    !add_time(o, "not_after", op->not_after))
		return false;
	for (i = 0; i < op->ngroups; i++)
		if (!cJSON_AddItemToArray(groups,
		        cJSON_CreateString(op->groups[i])))
			return false;
	return true;
}

/* The held roster as JSON into doc's "roster" (null when none). */
static bool
add_roster(cJSON *doc, struct roster_store *store)
{
	struct roster *r = roster_store_acquire(store);
	cJSON *o, *ops, *signers;
	size_t i;
	bool ok;

	if (r == NULL)
		return cJSON_AddNullToObject(doc, "roster") != NULL;
	ok = (o = cJSON_AddObjectToObject(doc, "roster")) != NULL &&
	    jsonx_add_int64(o, "version", r->version) &&
	    cJSON_AddStringToObject(o, "roster_sha256", r->sha256) != NULL &&
	    add_time(o, "issued_at", r->issued_at) &&
	    add_time(o, "expires_at", r->expires_at) &&
	    cJSON_AddBoolToObject(o, "expired",
	        clock_wall_ms() >= r->expires_at) != NULL &&
	    cJSON_AddNumberToObject(o, "threshold",
	        roster_store_threshold(store)) != NULL &&
	    (signers = cJSON_AddArrayToObject(o, "signed_by")) != NULL &&
	    (ops = cJSON_AddArrayToObject(o, "operators")) != NULL;
	for (i = 0; ok && i < r->nsigners; i++)
		ok = cJSON_AddItemToArray(signers,
		    cJSON_CreateString(r->signers[i]));
	for (i = 0; ok && i < r->nops; i++)
		ok = add_operator(ops, &r->ops[i]);
	roster_store_release(store, r);
	return ok;
}

cJSON *
api_roster_json(struct api *api)
{
	cJSON *doc = cJSON_CreateObject(), *hosts;

	if (doc == NULL || !add_roster(doc, api->ctx->roster))
		goto fail;
	hosts = registry_roster_json(api->ctx->registry);
	if (hosts == NULL || !cJSON_AddItemToObject(doc, "hosts", hosts)) {
		cJSON_Delete(hosts);
		goto fail;
	}
	return doc;
fail:
	cJSON_Delete(doc);
	return NULL;
}
