/* SPDX-License-Identifier: ISC */
/*
 * signetctl action --signing-key: the request an operator signs. What the
 * request names comes from the server's answers (the container's full id
 * and host, the roster version and the operator's name in it) but is
 * checked here before it is signed, and the host checks the signature
 * and every member again: a server that answered falsely gets a request
 * that no host will run.
 */
#include "action_sign.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <sodium.h>

#include "clock.h"
#include "http.h"
#include "request.h"
#include "text.h"

#define LOOKUP_TIMEOUT_S 30

/* GET path as a JSON object into *doc; CMD_OK or a code, said. */
static int
get_json(struct cmd_ctx *ctx, const char *path, cJSON **doc)
{
	struct http_response resp;
	struct err_msg msg;
	int rc;

	memset(&resp, 0, sizeof(resp));
	err_clear(&msg);
	*doc = NULL;
	if (http_request(&ctx->conn, "GET", path, NULL, 0, LOOKUP_TIMEOUT_S,
	        &resp, &msg) != 0) {
		fprintf(stderr, "signetctl action: %s\n", msg.text);
		return cmd_exit_of_failure(resp.failure);
	}
	if (resp.status != 200) {
		http_print_failure("action", &resp);
		rc = cmd_exit_of_status(resp.status);
		http_response_free(&resp);
		return rc == CMD_OK ? CMD_FAIL : rc;
	}
	*doc = cJSON_ParseWithLength(resp.body, resp.len);
	http_response_free(&resp);
	if (!cJSON_IsObject(*doc)) {
		cJSON_Delete(*doc);
		*doc = NULL;
		fprintf(stderr,
		    "signetctl action: %s: the server's answer is "
		    "not a JSON object\n",
		    path);
		return CMD_FAIL;
	}
	return CMD_OK;
}

/* A string member that passes ok, copied; false when not. */
static bool
member(const cJSON *o, const char *key, bool (*ok)(const char *), char *dst,
    size_t dstlen)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	if (!cJSON_IsString(v) || !ok(v->valuestring) ||
	    strlen(v->valuestring) >= dstlen)
		return false;
	memcpy(dst, v->valuestring, strlen(v->valuestring) + 1);
	return true;
}

static bool
is_full_id(const char *s)
{
	return text_is_hex(s, 64);
}

/* The container's full id and host, from GET /api/containers/ID. */
static int
find_container(struct cmd_ctx *ctx, const char *id, struct request_payload *p)
{
	char path[256];
	cJSON *doc = NULL;
	int rc;

	(void)snprintf(path, sizeof(path), "/api/containers/%s", id);
	rc = get_json(ctx, path, &doc);
	if (rc != CMD_OK)
		return rc;
	if (!member(doc, "id", is_full_id, p->container_id,
	        sizeof(p->container_id)) ||
	    !member(doc, "host_id", text_valid_name, p->host_id,
	        sizeof(p->host_id)) ||
	    strncmp(p->container_id, id, strlen(id)) != 0) {
		fprintf(stderr,
		    "signetctl action: the server's answer for "
		    "container %s names no such container\n",
		    id);
		rc = CMD_FAIL;
	}
	cJSON_Delete(doc);
	return rc;
}

/* The roster version the server holds and this key's operator in it. */
static int
find_roster(struct cmd_ctx *ctx, const struct keys_secret *key,
    struct request_payload *p)
{
	const cJSON *roster, *ops, *op, *version;
	cJSON *doc = NULL;
	int rc;

	rc = get_json(ctx, "/api/roster", &doc);
	if (rc != CMD_OK)
		return rc;
	rc = CMD_FAIL;
	roster = cJSON_GetObjectItemCaseSensitive(doc, "roster");
	version = cJSON_GetObjectItemCaseSensitive(roster, "version");
	ops = cJSON_GetObjectItemCaseSensitive(roster, "operators");
	if (!cJSON_IsObject(roster) || !cJSON_IsNumber(version) ||
	    version->valuedouble < 1 || version->valuedouble > 9e15 ||
	    !cJSON_IsArray(ops)) {
		fprintf(stderr,
		    "signetctl action: the server holds no "
		    "operator roster: signed requests cannot be "
		    "sent to it\n");
		goto out;
	}
	p->roster_version = (int64_t)version->valuedouble;
	cJSON_ArrayForEach(op, ops)
	{
		const cJSON *kid = cJSON_GetObjectItemCaseSensitive(op,
		    "key_id");

		if (cJSON_IsString(kid) &&
		    strcmp(kid->valuestring, key->pub.id) == 0) {
			if (!member(op, "name", text_valid_name,
			        p->requested_by, sizeof(p->requested_by)))
				break;
			rc = CMD_OK;
			goto out;
		}
	}
	fprintf(stderr,
	    "signetctl action: signing key %s is not in the server's roster "
	    "version %" PRId64 ": ask an admin to enroll it (signet-pki "
	    "roster add)\n",
	    key->pub.id, p->roster_version);
out:
	cJSON_Delete(doc);
	return rc;
}

int
action_sign_body(struct cmd_ctx *ctx, const struct action_sign_args *a,
    char **body, char full_id[static 65])
{
	struct request_payload *p = NULL, *check = NULL;
	struct request_signed s;
	struct err_msg msg;
	uint8_t rnd[16];
	cJSON *doc = NULL, *req;
	char *json = NULL;
	int rc = CMD_FAIL;

	memset(&s, 0, sizeof(s));
	err_clear(&msg);
	*body = NULL;
	p = calloc(1, sizeof(*p));
	check = calloc(1, sizeof(*check));
	if (p == NULL || check == NULL) {
		fprintf(stderr, "signetctl action: out of memory\n");
		goto out;
	}
	rc = find_container(ctx, a->container, p);
	if (rc == CMD_OK)
		rc = find_roster(ctx, a->key, p);
	if (rc != CMD_OK)
		goto out;
	rc = CMD_FAIL;
	randombytes_buf(rnd, sizeof(rnd));
	(void)text_hex(rnd, sizeof(rnd), p->action_id);
	p->action = envelope_action_parse(a->action);
	(void)snprintf(p->reason, sizeof(p->reason), "%s", a->reason);
	p->issued_at = clock_wall_ms();
	p->expires_at = p->issued_at + a->lifetime_s * 1000;
	/* What a host will parse, refused here first with the same words. */
	if (request_encode(p, &json) != 0 ||
	    request_decode(json, strlen(json), check, &msg) != 0) {
		fprintf(stderr,
		    "signetctl action: the request is not valid: "
		    "%s\n",
		    msg.text[0] != '\0' ? msg.text : "out of memory");
		rc = CMD_USAGE;
		goto out;
	}
	if (request_sign(p, a->key, &s) != 0 ||
	    (doc = cJSON_CreateObject()) == NULL ||
	    (req = cJSON_AddObjectToObject(doc, "request")) == NULL ||
	    cJSON_AddStringToObject(req, "payload", s.payload_b64) == NULL ||
	    cJSON_AddStringToObject(req, "sig", s.sig_b64) == NULL ||
	    cJSON_AddStringToObject(req, "key_id", s.key_id) == NULL ||
	    (*body = cJSON_PrintUnformatted(doc)) == NULL) {
		fprintf(stderr, "signetctl action: cannot sign the request\n");
		goto out;
	}
	memcpy(full_id, p->container_id, 65);
	fprintf(stderr,
	    "signetctl action: signed request %s by %s (key %s, "
	    "roster version %" PRId64 ")\n",
	    p->action_id, p->requested_by, a->key->pub.id, p->roster_version);
	rc = CMD_OK;
out:
	request_signed_free(&s);
	cJSON_Delete(doc);
	free(json);
	free(p);
	free(check);
	return rc;
}
