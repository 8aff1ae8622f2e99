/* SPDX-License-Identifier: ISC */
/*
 * The transparency routes of the API (docs/http-api.md#audit-
 * transparency): the latest signed checkpoint of the server's audit log,
 * and consistency and inclusion proofs over its Merkle tree, computed
 * from the writer's tree (common/audit_tree.h); for ?log=agent/HOST-ID,
 * the latest checkpoint the agent sent and the server checked, and the
 * steps of consistency the server holds between two of them
 * (server/agent_checkpoints.h). Every number in a query
 * is checked before it is used; a proof is only given between sizes the
 * tree holds durably.
 */
#include "api_int.h"

#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "agent_checkpoints.h"
#include "audit_tree.h"
#include "jsonx.h"
#include "text.h"
#include "witnesses.h"

#define CTYPE_NOTE "text/plain; charset=utf-8"
#define B64_HASH_SIZE                                                          \
	sodium_base64_ENCODED_LEN(MERKLE_HASH_LEN,                             \
	    sodium_base64_VARIANT_ORIGINAL)

/*
 * Which log ?log= names: the server's own ("server", the default), or an
 * agent's ("agent/HOST-ID", *host set: the checkpoints it sent, held by
 * server/agent_checkpoints.c). Anything else is answered 400: returns
 * false.
 */
static bool
which_log(const struct api_url *u, struct api_answer *ans, const char **host)
{
	const char *log = api_url_param(u, "log");
	char esc[80];

	*host = NULL;
	if (log == NULL || strcmp(log, "server") == 0)
		return true;
	if (strncmp(log, "agent/", 6) == 0 && text_valid_name(log + 6)) {
		*host = log + 6;
		return true;
	}
	api_answer_error(ans, 400,
	    "log \"%s\" is not \"server\" or \"agent/HOST-ID\"",
	    text_escape_str(log, esc, sizeof(esc)));
	return false;
}

/* Answers an agent_cp_* failure for agent/host. */
static void
answer_agent_error(struct api_answer *ans, int r, const struct err_msg *msg)
{
	if (r == SIGNET_ERR_NOT_FOUND)
		api_answer_error(ans, 404, "%s", msg->text);
	else if (r == SIGNET_ERR_CHAIN)
		api_answer_error(ans, 503, "%s", msg->text);
	else if (r == SIGNET_ERR_TOO_LARGE || r == SIGNET_ERR_INVALID_ARG)
		api_answer_error(ans, 400, "%s", msg->text);
	else
		api_answer_error(ans, 500, "%s", msg->text);
}

/* The server keeps no agents' checkpoints this run: 503, true. */
static bool
no_agent_cp(struct api *api, struct api_answer *ans)
{
	if (api->ctx->agent_cp != NULL)
		return false;
	api_answer_error(ans, 503,
	    "this server keeps no agents' checkpoints this run (see its "
	    "log at start)");
	return true;
}

/* A size-like query parameter: 0..2^53-1. false: answered 400. */
static bool
take_count(const struct api_url *u, const char *name, bool required,
    uint64_t *out, struct api_answer *ans)
{
	const char *s = api_url_param(u, name);
	int64_t v = 0;
	char esc[64];

	*out = 0;
	if (s == NULL) {
		if (required)
			api_answer_error(ans, 400, "%s is required", name);
		return !required;
	}
	if (text_to_int64(s, 0, JSONX_INT_MAX, &v) != 0) {
		api_answer_error(ans, 400,
		    "%s \"%s\" is not a number from 0 to %lld", name,
		    text_escape_str(s, esc, sizeof(esc)), JSONX_INT_MAX);
		return false;
	}
	*out = (uint64_t)v;
	return true;
}

static bool
add_hash(cJSON *to, const char *key, const uint8_t h[static MERKLE_HASH_LEN])
{
	char b64[B64_HASH_SIZE];

	sodium_bin2base64(b64, sizeof(b64), h, MERKLE_HASH_LEN,
	    sodium_base64_VARIANT_ORIGINAL);
	return key != NULL ? cJSON_AddStringToObject(to, key, b64) != NULL :
	                     cJSON_AddItemToArray(to, cJSON_CreateString(b64));
}

static cJSON *
hash_array(const uint8_t (*h)[MERKLE_HASH_LEN], size_t n)
{
	cJSON *arr = cJSON_CreateArray();
	size_t i;

	for (i = 0; arr != NULL && i < n; i++)
		if (!add_hash(arr, NULL, h[i])) {
			cJSON_Delete(arr);
			return NULL;
		}
	return arr;
}

/* Answers an audit_tree_* failure. */
static void
answer_tree_error(struct api_answer *ans, int r, const struct err_msg *msg)
{
	if (r == SIGNET_ERR_INVALID_ARG)
		api_answer_error(ans, 400, "%s", msg->text);
	else if (r == SIGNET_ERR_UNAVAILABLE)
		api_answer_error(ans, 503, "no proofs: %s", msg->text);
	else
		api_answer_error(ans, 500, "%s", msg->text);
}

/*
 * The latest checkpoint with its cosignatures, when witnesses cosigned
 * that very one (the note the witnesses keep has the same text and the
 * server's same deterministic signature).
 */
static void
with_cosignatures(struct api *api, char **note, size_t *len, uint64_t size)
{
	char *cosigned = NULL;
	size_t clen = 0;
	uint64_t csize = 0;

	if (api->ctx->witnesses == NULL ||
	    witnesses_latest(api->ctx->witnesses, &cosigned, &clen, &csize) !=
	        0)
		return;
	if (csize == size && clen > *len &&
	    memcmp(cosigned, *note, *len) == 0) {
		free(*note);
		*note = cosigned;
		*len = clen;
		return;
	}
	free(cosigned);
}

void
api_checkpoint_get(struct api *api, const struct api_url *u,
    struct api_answer *ans)
{
	const char *witnessed = api_url_param(u, "witnessed");
	const char *host = NULL;
	struct err_msg msg;
	char *note = NULL;
	size_t len = 0;
	uint64_t size = 0;
	int r;

	err_clear(&msg);
	if (!which_log(u, ans, &host))
		return;
	if (witnessed != NULL && strcmp(witnessed, "1") != 0) {
		api_answer_error(ans, 400, "witnessed: only 1 is allowed");
		return;
	}
	if (host != NULL) {
		if (witnessed != NULL) {
			api_answer_error(ans, 404,
			    "witnesses cosign the server's log only");
			return;
		}
		if (no_agent_cp(api, ans))
			return;
		r = agent_cp_latest(api->ctx->agent_cp, host, &note, &len,
		    &size, &msg);
		if (r != 0) {
			answer_agent_error(ans, r, &msg);
			return;
		}
		goto answer;
	}
	if (witnessed != NULL) {
		r = api->ctx->witnesses != NULL ?
		    witnesses_latest(api->ctx->witnesses, &note, &len, &size) :
		    SIGNET_ERR_NOT_FOUND;
		if (r == SIGNET_ERR_NOT_FOUND) {
			api_answer_error(ans, 404,
			    "no checkpoint cosigned by a known witness yet");
			return;
		}
	} else {
		r = audit_checkpoint_latest(api->ctx->audit, &note, &len,
		    &size);
		if (r == 0)
			with_cosignatures(api, &note, &len, size);
	}
	if (r == SIGNET_ERR_NOT_FOUND) {
		api_answer_error(ans, 404,
		    "no checkpoint yet (none made, or checkpoints are off: "
		    "[audit] checkpoint_interval, and the server's log)");
		return;
	}
	if (r != 0) {
		api_answer_error(ans, 500, "out of memory");
		return;
	}
answer:
	free(ans->body);
	ans->body = note;
	ans->len = len;
	ans->ctype = CTYPE_NOTE;
	ans->status = 200;
}

/*
 * The steps of agent/host's chain from old to new, as the agent sent
 * them and the server checked them: {"log","old","new","steps"}.
 */
static void
agent_consistency(struct api *api, const char *host, uint64_t old,
    uint64_t size, struct api_answer *ans)
{
	struct err_msg msg;
	cJSON *doc = NULL, *steps = NULL;
	char log[IDENTITY_NAME_MAX + 8];
	int r;

	err_clear(&msg);
	if (no_agent_cp(api, ans))
		return;
	r = agent_cp_steps(api->ctx->agent_cp, host, old, size, &steps, &msg);
	if (r != 0) {
		answer_agent_error(ans, r, &msg);
		return;
	}
	(void)snprintf(log, sizeof(log), "agent/%s", host);
	doc = cJSON_CreateObject();
	if (doc == NULL || cJSON_AddStringToObject(doc, "log", log) == NULL ||
	    !jsonx_add_int64(doc, "old", (int64_t)old) ||
	    !jsonx_add_int64(doc, "new", (int64_t)size) ||
	    !cJSON_AddItemToObject(doc, "steps", steps)) {
		cJSON_Delete(steps);
		cJSON_Delete(doc);
		api_answer_error(ans, 500, "out of memory");
		return;
	}
	api_answer_json(ans, 200, doc);
}

void
api_checkpoint_consistency(struct api *api, const struct api_url *u,
    struct api_answer *ans)
{
	uint8_t proof[MERKLE_PROOF_MAX][MERKLE_HASH_LEN];
	uint8_t root[MERKLE_HASH_LEN];
	struct err_msg msg;
	const char *host = NULL;
	uint64_t old = 0, size = 0;
	size_t n = 0;
	cJSON *doc = NULL, *steps, *step = NULL;
	int r;

	err_clear(&msg);
	if (!which_log(u, ans, &host) ||
	    !take_count(u, "old", true, &old, ans) ||
	    !take_count(u, "new", true, &size, ans))
		return;
	if (old > size) {
		api_answer_error(ans, 400, "old (%llu) is past new (%llu)",
		    (unsigned long long)old, (unsigned long long)size);
		return;
	}
	if (host != NULL) {
		agent_consistency(api, host, old, size, ans);
		return;
	}
	/* Every tree holds the empty tree and itself: no step to prove. */
	if (old > 0 && old < size) {
		r = audit_tree_prove(api->ctx->audit, old, size, proof, &n,
		    root, &msg);
		if (r != 0) {
			answer_tree_error(ans, r, &msg);
			return;
		}
	} else if (size > 0) {
		r = audit_tree_prove(api->ctx->audit, size, size, proof, &n,
		    root, &msg);
		if (r != 0) {
			answer_tree_error(ans, r, &msg);
			return;
		}
	}
	doc = cJSON_CreateObject();
	if (doc == NULL ||
	    cJSON_AddStringToObject(doc, "log", "server") == NULL ||
	    !jsonx_add_int64(doc, "old", (int64_t)old) ||
	    !jsonx_add_int64(doc, "new", (int64_t)size) ||
	    (steps = cJSON_AddArrayToObject(doc, "steps")) == NULL)
		goto oom;
	if (old > 0 && old < size) {
		step = cJSON_CreateObject();
		if (step == NULL || !cJSON_AddItemToArray(steps, step)) {
			cJSON_Delete(step);
			goto oom;
		}
		if (!jsonx_add_int64(step, "old", (int64_t)old) ||
		    !jsonx_add_int64(step, "new", (int64_t)size) ||
		    !add_hash(step, "new_root", root) ||
		    !cJSON_AddItemToObject(step, "hashes",
		        hash_array((const uint8_t(*)[MERKLE_HASH_LEN])proof,
		            n)))
			goto oom;
	}
	api_answer_json(ans, 200, doc);
	return;
oom:
	cJSON_Delete(doc);
	api_answer_error(ans, 500, "out of memory");
}

void
api_checkpoint_inclusion(struct api *api, const struct api_url *u,
    struct api_answer *ans)
{
	uint8_t proof[MERKLE_PROOF_MAX][MERKLE_HASH_LEN];
	uint8_t leaf[MERKLE_HASH_LEN];
	struct err_msg msg;
	const char *host = NULL;
	uint64_t seq = 0, size = 0;
	size_t n = 0;
	cJSON *doc = NULL, *arr;
	char esc[80];
	int r;

	err_clear(&msg);
	if (!which_log(u, ans, &host))
		return;
	if (host != NULL) {
		/* Only the agent holds its log's lines, so its records. */
		api_answer_error(ans, 404,
		    "no inclusion proofs of agent/%s: the server holds no "
		    "agent log, only its checkpoints (ask the host's log)",
		    text_escape_str(host, esc, sizeof(esc)));
		return;
	}
	if (!take_count(u, "seq", true, &seq, ans) ||
	    !take_count(u, "size", true, &size, ans))
		return;
	if (seq >= size) {
		api_answer_error(ans, 400,
		    "seq (%llu) must be below size (%llu)",
		    (unsigned long long)seq, (unsigned long long)size);
		return;
	}
	r = audit_tree_prove_record(api->ctx->audit, seq, size, proof, &n, leaf,
	    &msg);
	if (r != 0) {
		answer_tree_error(ans, r, &msg);
		return;
	}
	doc = cJSON_CreateObject();
	arr = hash_array((const uint8_t(*)[MERKLE_HASH_LEN])proof, n);
	if (doc == NULL || arr == NULL ||
	    cJSON_AddStringToObject(doc, "log", "server") == NULL ||
	    !jsonx_add_int64(doc, "seq", (int64_t)seq) ||
	    !jsonx_add_int64(doc, "size", (int64_t)size) ||
	    !add_hash(doc, "leaf_hash", leaf) ||
	    !cJSON_AddItemToObject(doc, "hashes", arr)) {
		if (!cJSON_IsArray(
		        cJSON_GetObjectItemCaseSensitive(doc, "hashes")))
			cJSON_Delete(arr);
		cJSON_Delete(doc);
		api_answer_error(ans, 500, "out of memory");
		return;
	}
	api_answer_json(ans, 200, doc);
}

void
api_checkpoint_cosign(struct api *api, const char *body, size_t len,
    struct api_answer *ans)
{
	struct witnesses_result res;
	struct err_msg msg;
	cJSON *doc;
	int r;

	err_clear(&msg);
	if (api->ctx->witnesses == NULL) {
		api_answer_error(ans, 503, "witnesses unavailable");
		return;
	}
	r = witnesses_accept(api->ctx->witnesses, api->ctx->audit, body, len,
	    &res, &msg);
	switch (r) {
	case 0: break;
	case SIGNET_ERR_FORMAT:
	case SIGNET_ERR_TOO_LARGE:
		api_answer_error(ans, 400, "%s", msg.text);
		return;
	case SIGNET_ERR_UNKNOWN_KEY:
	case SIGNET_ERR_BAD_SIGNATURE:
		api_answer_error(ans, 403, "%s", msg.text);
		return;
	case SIGNET_ERR_CHAIN:
		api_answer_error(ans, 409, "%s", msg.text);
		return;
	case SIGNET_ERR_UNAVAILABLE:
		api_answer_error(ans, 503, "%s", msg.text);
		return;
	default: api_answer_error(ans, 500, "%s", msg.text); return;
	}
	doc = cJSON_CreateObject();
	if (doc == NULL || !jsonx_add_int64(doc, "size", (int64_t)res.size) ||
	    !jsonx_add_int64(doc, "taken", (int64_t)res.taken) ||
	    !jsonx_add_int64(doc, "already", (int64_t)res.already)) {
		cJSON_Delete(doc);
		api_answer_error(ans, 500, "out of memory");
		return;
	}
	api_answer_json(ans, res.taken > 0 ? 201 : 200, doc);
}
