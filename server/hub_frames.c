/* SPDX-License-Identifier: ISC */
/* Strict parsing of the frames an agent sends the hub (SPEC §3). */
#include "hub.h"

#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "envelope.h"
#include "jsonx.h"
#include "text.h"

/* root object, containers array, row object, names/labels, strings */
#define HUB_FRAME_DEPTH 5
#define HUB_HELLO_DEPTH 2
/* base64 of an ENVELOPE_PAYLOAD_MAX payload, with room to spare */
#define HUB_RESULT_B64_MAX (ENVELOPE_PAYLOAD_MAX / 3 * 4 + 8)

/* Versions: semver, Debian and git-describe forms; nothing to escape. */
static bool
valid_version(const char *s)
{
	size_t n = strlen(s), i;

	if (n == 0 || n > HUB_VERSION_MAX)
		return false;
	for (i = 0; i < n; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '.' || c == '_' ||
		    c == '+' || c == '~' || c == ':' || c == '-'))
			return false;
	}
	return true;
}

/* Copies member key of obj, a string accepted by ok, into dst. */
static int
take(const cJSON *obj, const char *key, bool (*ok)(const char *),
    const char *want, char *dst, size_t dstlen, struct err_msg *msg)
{
	const char *s = NULL;
	char esc[80];
	int r;

	r = jsonx_get_string(obj, key, false, "hello", &s, msg);
	if (r != 0)
		return r;
	if (!ok(s) || strlen(s) >= dstlen)
		return err_set(msg, SIGNET_ERR_FORMAT,
		    "hello: %s \"%s\" is not %s", key,
		    text_escape_str(s, esc, sizeof(esc)), want);
	memcpy(dst, s, strlen(s) + 1);
	return 0;
}

static bool
valid_key_id(const char *s)
{
	return text_is_hex(s, KEYS_ID_LEN);
}

int
hub_parse_hello(const char *buf, size_t len, struct hub_hello *out,
    struct err_msg *msg)
{
	static const char *const members[] = { "type", "host_id",
		"agent_version", "docker_version", "result_key_id", NULL };
	cJSON *root = NULL;
	const char *type = NULL;
	char esc[48];
	int r;

	memset(out, 0, sizeof(*out));
	if (buf == NULL)
		return err_set(msg, SIGNET_ERR_INVALID_ARG, "hello: no data");
	r = jsonx_parse_object("hello", buf, len, HUB_HELLO_DEPTH, &root,
	    msg);
	if (r != 0)
		goto out;
	r = jsonx_get_string(root, "type", false, "hello", &type, msg);
	if (r != 0)
		goto out;
	if (strcmp(type, "hello") != 0) {
		r = err_set(msg, SIGNET_ERR_FORMAT,
		    "first frame has type \"%s\"; it must be hello",
		    text_escape_str(type, esc, sizeof(esc)));
		goto out;
	}
	r = jsonx_only_members(root, members, "hello", msg);
	if (r != 0)
		goto out;
	r = take(root, "host_id", text_valid_name, "a valid host id",
	    out->host_id, sizeof(out->host_id), msg);
	if (r == 0)
		r = take(root, "agent_version", valid_version,
		    "a version (1-64 of A-Z a-z 0-9 . _ + ~ : -)",
		    out->agent_version, sizeof(out->agent_version), msg);
	if (r == 0)
		r = take(root, "docker_version", valid_version,
		    "a version (1-64 of A-Z a-z 0-9 . _ + ~ : -)",
		    out->docker_version, sizeof(out->docker_version), msg);
	if (r == 0)
		r = take(root, "result_key_id", valid_key_id,
		    "a key id (16 lowercase hex digits)", out->result_key_id,
		    sizeof(out->result_key_id), msg);
out:
	cJSON_Delete(root);
	if (r != 0)
		memset(out, 0, sizeof(*out));
	return r;
}

/* A required, non-empty string member of an action_result, copied. */
static int
take_b64(const cJSON *root, const char *key, size_t max, char **out,
    struct err_msg *msg)
{
	const char *s = NULL;
	size_t n;
	int r;

	r = jsonx_get_string(root, key, false, "action_result", &s, msg);
	if (r != 0)
		return r;
	n = strlen(s);
	if (n == 0 || n > max)
		return err_set(msg, SIGNET_ERR_FORMAT, "action_result: %s "
		    "must be 1..%zu bytes of base64, is %zu", key, max, n);
	*out = malloc(n + 1);
	if (*out == NULL)
		return err_set(msg, SIGNET_ERR_ALLOC, "out of memory");
	memcpy(*out, s, n + 1);
	return 0;
}

void
hub_frame_free(struct hub_frame *f)
{
	if (f == NULL)
		return;
	inventory_free(f->inv);
	free(f->payload_b64);
	free(f->sig_b64);
	memset(f, 0, sizeof(*f));
}

int
hub_parse_message(const char *buf, size_t len, struct hub_frame *out,
    struct err_msg *msg)
{
	static const char *const inv_members[] = { "type", "containers",
		NULL };
	static const char *const res_members[] = { "type", "payload", "sig",
		NULL };
	cJSON *root = NULL;
	const cJSON *containers;
	const char *type = NULL;
	char esc[48];
	int r;

	memset(out, 0, sizeof(*out));
	if (buf == NULL)
		return err_set(msg, SIGNET_ERR_INVALID_ARG, "frame: no data");
	r = jsonx_parse_object("frame", buf, len, HUB_FRAME_DEPTH, &root,
	    msg);
	if (r != 0)
		goto out;
	r = jsonx_get_string(root, "type", false, "frame", &type, msg);
	if (r != 0)
		goto out;
	if (strcmp(type, "action_result") == 0) {
		r = jsonx_only_members(root, res_members, "action_result",
		    msg);
		if (r == 0)
			r = take_b64(root, "payload", HUB_RESULT_B64_MAX,
			    &out->payload_b64, msg);
		if (r == 0)
			r = take_b64(root, "sig", 128, &out->sig_b64, msg);
		if (r == 0)
			out->type = HUB_FRAME_ACTION_RESULT;
		goto out;
	}
	if (strcmp(type, "inventory") != 0) {
		r = err_set(msg, SIGNET_ERR_FORMAT,
		    "frame type \"%s\" is not accepted here",
		    text_escape_str(type, esc, sizeof(esc)));
		goto out;
	}
	r = jsonx_only_members(root, inv_members, "inventory", msg);
	if (r != 0)
		goto out;
	containers = cJSON_GetObjectItemCaseSensitive(root, "containers");
	if (containers == NULL) {
		r = err_set(msg, SIGNET_ERR_FORMAT,
		    "inventory: containers missing");
		goto out;
	}
	r = inventory_from_frame(containers, &out->inv, msg);
	if (r == 0)
		out->type = HUB_FRAME_INVENTORY;
out:
	cJSON_Delete(root);
	if (r != 0)
		hub_frame_free(out);
	return r;
}

int
hub_parse_frame(const char *buf, size_t len, struct inventory **inv,
    struct err_msg *msg)
{
	struct hub_frame f;
	int r;

	*inv = NULL;
	r = hub_parse_message(buf, len, &f, msg);
	if (r != 0)
		return r;
	if (f.type != HUB_FRAME_INVENTORY) {
		hub_frame_free(&f);
		return err_set(msg, SIGNET_ERR_FORMAT, "frame type "
		    "\"action_result\" is not accepted here");
	}
	*inv = f.inv;
	f.inv = NULL;
	hub_frame_free(&f);
	return 0;
}
