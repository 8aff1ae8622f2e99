/* SPDX-License-Identifier: ISC */
/*
 * The text of a host as the cluster database stores it (registry.h,
 * "cluster mode"): the info object a holder writes for its host (versions,
 * times, and whether its agent anchors, so that an action another
 * replica signs for it carries server_head), and the
 * strict parse of what another replica wrote, which this one reads as
 * hostile bytes (bounded, every member checked, the rows through the
 * inventory frame's own strict parser). Nothing read here can make an
 * agent act: it only fills what /api/hosts and /api/containers show.
 */
#include "registry.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonx.h"

/* The largest stored text taken (an inventory of 5000 rows fits). */
#define MIRROR_TEXT_MAX (4u * 1024 * 1024)
#define MIRROR_DEPTH 8
/* Unix seconds and milliseconds up to the year 9999. */
#define MIRROR_SECS_MAX 253402300799LL
#define MIRROR_MS_MAX (MIRROR_SECS_MAX * 1000)

char *
registry_remote_info_text(const struct registry_remote *rm)
{
	cJSON *o = cJSON_CreateObject();
	char *text = NULL;

	if (o != NULL &&
	    cJSON_AddStringToObject(o, "agent_version", rm->agent_version) !=
	        NULL &&
	    cJSON_AddStringToObject(o, "docker_version", rm->docker_version) !=
	        NULL &&
	    jsonx_add_int64(o, "cert_not_after", rm->cert_not_after) &&
	    jsonx_add_int64(o, "connected_at", rm->connected_at) &&
	    cJSON_AddBoolToObject(o, "anchors", rm->anchors) != NULL)
		text = jsonx_print(o);
	cJSON_Delete(o);
	return text;
}

/* A version string: printable ASCII, at most REGISTRY_VERSION_MAX bytes. */
static int
get_version(const cJSON *o, const char *key, char *out, struct err_msg *msg)
{
	const char *v = NULL;
	size_t i, n;
	int r;

	r = jsonx_get_string(o, key, false, "info", &v, msg);
	if (r != 0)
		return r;
	n = strlen(v);
	if (n > REGISTRY_VERSION_MAX)
		return err_set(msg, SIGNET_ERR_FORMAT, "info.%s: over %d bytes",
		    key, REGISTRY_VERSION_MAX);
	for (i = 0; i < n; i++)
		if (v[i] < 0x20 || v[i] > 0x7e)
			return err_set(msg, SIGNET_ERR_FORMAT,
			    "info.%s: not printable ASCII", key);
	memcpy(out, v, n + 1);
	return 0;
}

/*
 * "anchors": optional (a row an earlier build wrote has none: false, so
 * no server_head is sent to an agent that might refuse it), else a
 * boolean; anything else, null included, is refused.
 */
static int
get_anchors(const cJSON *o, bool *out, struct err_msg *msg)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, "anchors");

	*out = false;
	if (v == NULL)
		return 0;
	if (!cJSON_IsBool(v))
		return err_set(msg, SIGNET_ERR_FORMAT,
		    "info.anchors: not true or false");
	*out = cJSON_IsTrue(v);
	return 0;
}

static int
parse_info(const char *text, struct registry_remote *rm, struct err_msg *msg)
{
	static const char *const members[] = { "agent_version",
		"docker_version", "cert_not_after", "connected_at", "anchors",
		NULL };
	cJSON *o = NULL;
	int r;

	r = jsonx_parse_object("the stored host info", text, strlen(text),
	    MIRROR_DEPTH, &o, msg);
	if (r != 0)
		goto out;
	r = jsonx_only_members(o, members, "info", msg);
	if (r == 0)
		r = get_version(o, "agent_version", rm->agent_version, msg);
	if (r == 0)
		r = get_version(o, "docker_version", rm->docker_version, msg);
	if (r == 0)
		r = jsonx_get_int64(o, "cert_not_after", 0, MIRROR_SECS_MAX,
		    "info", &rm->cert_not_after, msg);
	if (r == 0)
		r = jsonx_get_int64(o, "connected_at", 0, MIRROR_MS_MAX, "info",
		    &rm->connected_at, msg);
	if (r == 0)
		r = get_anchors(o, &rm->anchors, msg);
out:
	cJSON_Delete(o);
	return r;
}

/*
 * The rows: a JSON array, parsed as the member of an object so that the
 * strict whole-buffer parser (jsonx) takes it, then row by row as an
 * inventory frame's.
 */
static int
parse_rows(const char *text, struct inventory **inv, struct err_msg *msg)
{
	static const char head[] = "{\"containers\":", tail[] = "}";
	size_t n = strlen(text);
	char *wrapped = NULL;
	cJSON *o = NULL;
	const cJSON *arr;
	int r;

	if (n > MIRROR_TEXT_MAX)
		return err_set(msg, SIGNET_ERR_FORMAT,
		    "the stored inventory is over %u bytes", MIRROR_TEXT_MAX);
	wrapped = malloc(sizeof(head) - 1 + n + sizeof(tail));
	if (wrapped == NULL)
		return err_set(msg, SIGNET_ERR_ALLOC, "out of memory");
	memcpy(wrapped, head, sizeof(head) - 1);
	memcpy(wrapped + sizeof(head) - 1, text, n);
	memcpy(wrapped + sizeof(head) - 1 + n, tail, sizeof(tail));
	r = jsonx_parse_object("the stored inventory", wrapped, strlen(wrapped),
	    MIRROR_DEPTH, &o, msg);
	if (r != 0)
		goto out;
	arr = cJSON_GetObjectItemCaseSensitive(o, "containers");
	if (!cJSON_IsArray(arr)) {
		r = err_set(msg, SIGNET_ERR_FORMAT,
		    "the stored inventory is not a JSON array");
		goto out;
	}
	r = inventory_from_frame(arr, inv, msg);
out:
	cJSON_Delete(o);
	free(wrapped);
	return r;
}

int
registry_remote_parse(const char *info, const char *inventory,
    struct registry_remote *rm, struct inventory **inv, struct err_msg *msg)
{
	struct registry_remote tmp;
	struct inventory *rows = NULL;
	int r;

	*inv = NULL;
	memset(&tmp, 0, sizeof(tmp));
	if (info != NULL) {
		r = parse_info(info, &tmp, msg);
		if (r != 0)
			return r;
	}
	if (inventory != NULL) {
		r = parse_rows(inventory, &rows, msg);
		if (r != 0)
			return r;
	}
	memcpy(rm->agent_version, tmp.agent_version, sizeof(tmp.agent_version));
	memcpy(rm->docker_version, tmp.docker_version,
	    sizeof(tmp.docker_version));
	rm->cert_not_after = tmp.cert_not_after;
	rm->connected_at = tmp.connected_at;
	rm->anchors = tmp.anchors;
	*inv = rows;
	return 0;
}
