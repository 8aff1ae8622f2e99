/* SPDX-License-Identifier: ISC */
/*
 * An open-addressing set of seen action ids with expiry times, rebuilt at
 * start from the agent's audit log — across its rotated files as far back
 * as an action could still be live.
 */
#include "replay.h"

#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "envelope.h"
#include "jsonx.h"
#include "text.h"

struct slot {
	uint8_t id[16];    /* the 32 hex digits, as bytes */
	int64_t forget_at; /* 0: empty slot */
	bool has_sha;
	uint8_t sha[32]; /* request_sha256, as bytes, when has_sha */
};

struct replay {
	struct slot *slots;
	size_t cap; /* power of two */
	size_t used;
};

/* n bytes from 2n lowercase hex digits; false when hex is not that. */
static bool
hex_bytes(const char *hex, uint8_t *out, size_t n)
{
	size_t i;

	if (!text_is_hex(hex, 2 * n))
		return false;
	for (i = 0; i < n; i++) {
		unsigned hi = (unsigned)(hex[2 * i] <= '9' ?
		        hex[2 * i] - '0' :
		        hex[2 * i] - 'a' + 10);
		unsigned lo = (unsigned)(hex[2 * i + 1] <= '9' ?
		        hex[2 * i + 1] - '0' :
		        hex[2 * i + 1] - 'a' + 10);
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return true;
}

static bool
id_bytes(const char *hex, uint8_t out[16])
{
	return hex_bytes(hex, out, 16);
}

/* Ids are random: their first bytes are a good hash already. */
static size_t
hash_of(const uint8_t id[16])
{
	uint64_t h;

	memcpy(&h, id, sizeof(h));
	return (size_t)h;
}

struct replay *
replay_new(void)
{
	struct replay *r = calloc(1, sizeof(*r));

	if (r == NULL)
		return NULL;
	r->cap = 1024;
	r->slots = calloc(r->cap, sizeof(*r->slots));
	if (r->slots == NULL) {
		free(r);
		return NULL;
	}
	return r;
}

void
replay_free(struct replay *r)
{
	if (r == NULL)
		return;
	free(r->slots);
	free(r);
}

static struct slot *
find(struct slot *slots, size_t cap, const uint8_t id[16], bool *found)
{
	size_t i = hash_of(id) & (cap - 1);

	for (;;) {
		struct slot *s = &slots[i];
		if (s->forget_at == 0) {
			*found = false;
			return s;
		}
		if (memcmp(s->id, id, 16) == 0) {
			*found = true;
			return s;
		}
		i = (i + 1) & (cap - 1);
	}
}

bool
replay_seen(struct replay *r, const char *action_id)
{
	uint8_t id[16];
	bool found = false;

	if (!id_bytes(action_id, id))
		return false;
	(void)find(r->slots, r->cap, id, &found);
	return found;
}

/* Rebuilds the table at cap, dropping ids to forget before now_ms. */
static int
rehash(struct replay *r, size_t cap, int64_t now_ms)
{
	struct slot *fresh = calloc(cap, sizeof(*fresh));
	size_t i;

	if (fresh == NULL)
		return SIGNET_ERR_ALLOC;
	r->used = 0;
	for (i = 0; i < r->cap; i++) {
		bool found;
		struct slot *s;

		if (r->slots[i].forget_at == 0 ||
		    r->slots[i].forget_at < now_ms)
			continue;
		s = find(fresh, cap, r->slots[i].id, &found);
		*s = r->slots[i];
		r->used++;
	}
	free(r->slots);
	r->slots = fresh;
	r->cap = cap;
	return 0;
}

bool
replay_seen_same(struct replay *r, const char *action_id,
    const char *request_sha256)
{
	uint8_t id[16], sha[32];
	struct slot *s;
	bool found = false;

	if (!id_bytes(action_id, id) || request_sha256 == NULL ||
	    !hex_bytes(request_sha256, sha, sizeof(sha)))
		return false;
	s = find(r->slots, r->cap, id, &found);
	return found && s->has_sha && memcmp(s->sha, sha, sizeof(sha)) == 0;
}

int
replay_add(struct replay *r, const char *action_id, int64_t expires_at_ms,
    int64_t now_ms)
{
	return replay_add_sha(r, action_id, NULL, expires_at_ms, now_ms);
}

int
replay_add_sha(struct replay *r, const char *action_id,
    const char *request_sha256, int64_t expires_at_ms, int64_t now_ms)
{
	uint8_t id[16], sha[32];
	struct slot *s;
	bool found = false;
	int rc;

	if (!id_bytes(action_id, id))
		return SIGNET_ERR_INVALID_ARG;
	if (request_sha256 != NULL &&
	    !hex_bytes(request_sha256, sha, sizeof(sha)))
		return SIGNET_ERR_INVALID_ARG;
	(void)find(r->slots, r->cap, id, &found);
	if (found)
		return SIGNET_ERR_EXISTS;
	/* Keep the load under one half: prune first, then grow. */
	if ((r->used + 1) * 2 > r->cap) {
		rc = rehash(r, r->cap, now_ms);
		if (rc != 0)
			return rc;
		if ((r->used + 1) * 2 > r->cap) {
			if (r->used >= REPLAY_MAX_IDS)
				return SIGNET_ERR_TOO_LARGE;
			rc = rehash(r, r->cap * 2, now_ms);
			if (rc != 0)
				return rc;
		}
	}
	s = find(r->slots, r->cap, id, &found);
	memset(s, 0, sizeof(*s));
	memcpy(s->id, id, 16);
	if (request_sha256 != NULL) {
		memcpy(s->sha, sha, sizeof(sha));
		s->has_sha = true;
	}
	/* Never 0 (empty); a little past the expiry the skew allows. */
	s->forget_at = expires_at_ms + ENVELOPE_SKEW_MS + 1000;
	if (s->forget_at <= 0)
		s->forget_at = 1;
	r->used++;
	return 0;
}

void
replay_prune(struct replay *r, int64_t now_ms)
{
	/* A same-size rehash drops expired ids; failure keeps them (safe). */
	(void)rehash(r, r->cap, now_ms);
}

size_t
replay_count(struct replay *r)
{
	return r->used;
}

/*
 * The request_sha256 of an action record: its own member when it holds a
 * valid one, else the SHA-256 of its embedded action envelope's payload
 * bytes (action.received, policy.denied, action.executed); NULL when
 * neither is there (then the hash stays unknown: safe, as it matches
 * nothing). buf holds a computed hash.
 */
static const char *
record_sha(const cJSON *data, char buf[static 65])
{
	const cJSON *v, *env, *p;
	uint8_t *raw = NULL;
	size_t raw_len = 0;

	v = cJSON_GetObjectItemCaseSensitive(data, "request_sha256");
	if (cJSON_IsString(v) && text_is_hex(v->valuestring, 64))
		return v->valuestring;
	env = cJSON_GetObjectItemCaseSensitive(data, "action");
	p = cJSON_IsObject(env) ?
	    cJSON_GetObjectItemCaseSensitive(env, "payload") :
	    NULL;
	if (!cJSON_IsString(p) ||
	    text_b64_decode(p->valuestring, strlen(p->valuestring),
	        ENVELOPE_ACTION_PAYLOAD_MAX, &raw, &raw_len) != 0)
		return NULL;
	envelope_sha256_hex(raw, raw_len, buf);
	free(raw);
	return buf;
}

int
replay_load_audit(struct replay *r, const char *path, int64_t now_ms,
    size_t *loaded, struct err_msg *msg)
{
	return replay_load_audit_longer(r, path, now_ms, 0, loaded, msg);
}

int
replay_load_audit_longer(struct replay *r, const char *path, int64_t now_ms,
    int64_t extra_ms, size_t *loaded, struct err_msg *msg)
{
	struct audit_reader *rd = NULL;
	char shabuf[65];
	size_t lineno = 0;
	int rc;

	*loaded = 0;
	if (extra_ms < 0)
		extra_ms = 0;
	rc = audit_reader_open_since(path,
	    now_ms - REPLAY_LOOKBACK_MS - extra_ms, &rd, msg);
	if (rc == SIGNET_ERR_NOT_FOUND)
		return 0;
	if (rc != 0)
		return rc;
	for (;;) {
		struct audit_record rec;
		const char *id = NULL;
		int64_t expires = 0, until = 0;
		struct err_msg sub;

		rc = audit_reader_next_record(rd, &rec, msg);
		if (rc < 0)
			goto out;
		if (rc == 0)
			break;
		lineno = (size_t)audit_reader_lineno(rd);
		if (jsonx_get_string(rec.data, "action_id", true, "data", &id,
		        &sub) != 0 ||
		    id == NULL || !text_is_hex(id, 32) ||
		    jsonx_get_int64(rec.data, "expires_at", 0, JSONX_INT_MAX,
		        "data", &expires, &sub) != 0) {
			audit_record_free(&rec);
			continue;
		}
		if (cJSON_GetObjectItemCaseSensitive(rec.data,
		        "replay_until") != NULL &&
		    jsonx_get_int64(rec.data, "replay_until", 0, JSONX_INT_MAX,
		        "data", &until, &sub) == 0 &&
		    until > expires)
			expires = until;
		if (expires + ENVELOPE_SKEW_MS >= now_ms) {
			const char *sha = record_sha(rec.data, shabuf);

			rc = replay_add_sha(r, id, sha, expires, now_ms);
			if (rc == 0) {
				(*loaded)++;
			} else if (rc != SIGNET_ERR_EXISTS) {
				rc = err_set(msg, rc,
				    "%s:%zu: cannot remember "
				    "action %s",
				    audit_reader_path(rd), lineno, id);
				audit_record_free(&rec);
				goto out;
			}
		}
		audit_record_free(&rec);
	}
	rc = 0;
out:
	audit_reader_close(rd);
	return rc;
}
