/* SPDX-License-Identifier: ISC */
/*
 * The witness's state, its decision and its cosignature (witness.h): a
 * locked state directory of one JSON file per origin, written with
 * fileio_replace; checkpoints opened with note.h; consistency proof
 * chains checked with merkle.h; conflicting checkpoints kept as evidence
 * under DIR/evidence/.
 */
#include "witness.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <sodium.h>

#include "audit.h"
#include "fileio.h"
#include "jsonx.h"
#include "text.h"

#define B64_HASH_LEN 44 /* base64 of 32 bytes, padded */
#define LOCK_NAME "lock"
#define EVIDENCE_DIR "evidence"
#define STATE_SUFFIX ".json"

struct witness {
	char dir[WITNESS_PATH_MAX];
	int lock_fd;
};

/* Base64 of a hash into out[B64_HASH_LEN + 1]. */
static void
hash_b64(const uint8_t h[static MERKLE_HASH_LEN], char *out)
{
	(void)sodium_bin2base64(out, B64_HASH_LEN + 1, h, MERKLE_HASH_LEN,
	    sodium_base64_VARIANT_ORIGINAL);
}

/* Decodes canonical base64 of exactly 32 bytes. 0 or SIGNET_ERR_FORMAT. */
static int
hash_from_b64(const char *s, uint8_t out[static MERKLE_HASH_LEN])
{
	char again[B64_HASH_LEN + 1];
	size_t n = 0, len = strlen(s);

	if (len != B64_HASH_LEN ||
	    text_b64_decode_into(s, len, out, MERKLE_HASH_LEN, &n) != 0 ||
	    n != MERKLE_HASH_LEN)
		return SIGNET_ERR_FORMAT;
	hash_b64(out, again);
	return strcmp(again, s) == 0 ? 0 : SIGNET_ERR_FORMAT;
}

/* dir "/" name into out[size]. 0 or SIGNET_ERR_TOO_LARGE. */
static int
join(char *out, size_t size, const char *dir, const char *name)
{
	int n = snprintf(out, size, "%s/%s", dir, name);

	return n < 0 || (size_t)n >= size ? SIGNET_ERR_TOO_LARGE : 0;
}

int
witness_open(const char *dir, struct witness **out, struct err_msg *msg)
{
	struct witness *w = NULL;
	char lockpath[WITNESS_PATH_MAX], esc[160];
	struct stat sb;
	int r;

	*out = NULL;
	(void)text_escape_str(dir, esc, sizeof(esc));
	if (strlen(dir) == 0 || strlen(dir) > WITNESS_PATH_MAX - 512)
		return err_set(msg, SIGNET_ERR_TOO_LARGE,
		    "the state directory \"%s\" is not a usable path", esc);
	w = calloc(1, sizeof(*w));
	if (w == NULL)
		return err_set(msg, SIGNET_ERR_ALLOC, "out of memory");
	w->lock_fd = -1;
	(void)snprintf(w->dir, sizeof(w->dir), "%s", dir);
	if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
		r = err_set(msg, SIGNET_ERR_IO,
		    "cannot create the state directory \"%s\": %s", esc,
		    strerror(errno));
		goto out;
	}
	if (lstat(dir, &sb) != 0) {
		r = err_set(msg, SIGNET_ERR_IO,
		    "the state directory \"%s\": %s", esc, strerror(errno));
		goto out;
	}
	if (!S_ISDIR(sb.st_mode) ||
	    (sb.st_uid != geteuid() && sb.st_uid != 0) ||
	    (sb.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
		r = err_set(msg, SIGNET_ERR_PERMISSIONS,
		    "the state directory \"%s\" must be a directory (not a "
		    "link) owned by you that group and others cannot write "
		    "(chmod 700 it)",
		    esc);
		goto out;
	}
	r = join(lockpath, sizeof(lockpath), dir, LOCK_NAME);
	if (r == 0)
		r = fileio_check_dir(lockpath, "the witness state", msg);
	if (r != 0)
		goto out;
	w->lock_fd = open(lockpath,
	    O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY, 0600);
	if (w->lock_fd < 0) {
		r = err_set(msg, SIGNET_ERR_IO, "cannot open \"%s/%s\": %s",
		    esc, LOCK_NAME, strerror(errno));
		goto out;
	}
	if (flock(w->lock_fd, LOCK_EX | LOCK_NB) != 0) {
		r = err_set(msg,
		    errno == EWOULDBLOCK ? SIGNET_ERR_UNAVAILABLE :
		                           SIGNET_ERR_IO,
		    "the state directory \"%s\" is locked by another "
		    "witness (%s); try again once it has finished",
		    esc, strerror(errno));
		goto out;
	}
	*out = w;
	w = NULL;
	r = 0;
out:
	witness_close(w);
	return r;
}

void
witness_close(struct witness *w)
{
	if (w == NULL)
		return;
	if (w->lock_fd >= 0)
		(void)close(w->lock_fd);
	free(w);
}

void
witness_state_free(struct witness_state *st)
{
	if (st == NULL)
		return;
	free(st->checkpoint);
	memset(st, 0, sizeof(*st));
}

int
witness_state_name(const char *origin, char *buf, size_t size)
{
	static const char hex[] = "0123456789ABCDEF";
	uint8_t h[crypto_hash_sha256_BYTES];
	char hh[2 * crypto_hash_sha256_BYTES + 1];
	size_t i, o = 0, len = strlen(origin);

	if (len == 0 || size < 256)
		return SIGNET_ERR_INVALID_ARG;
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)origin[i];
		bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '-' || c == '_' ||
		    (c == '.' && i > 0);

		if (o + 3 + sizeof(STATE_SUFFIX) > 200)
			break;
		if (plain) {
			buf[o++] = (char)c;
		} else {
			buf[o++] = '%';
			buf[o++] = hex[c >> 4];
			buf[o++] = hex[c & 0xf];
		}
	}
	if (i < len) {
		crypto_hash_sha256(h, (const unsigned char *)origin, len);
		(void)snprintf(buf, size, "origin-%s" STATE_SUFFIX,
		    text_hex(h, sizeof(h), hh));
		return 0;
	}
	memcpy(buf + o, STATE_SUFFIX, sizeof(STATE_SUFFIX));
	return 0;
}

int
witness_state_parse(const char *what, const char *data, size_t len,
    struct witness_state *st, struct err_msg *msg)
{
	static const char *const members[] = { "origin", "log_key", "size",
		"root", "checkpoint", "cosigned_at", NULL };
	cJSON *doc = NULL;
	struct note *n = NULL;
	struct note_checkpoint cp;
	struct note_verifier v;
	struct err_msg why;
	const char *origin, *key, *root, *note;
	int64_t size, at;
	int r;

	memset(st, 0, sizeof(*st));
	err_clear(&why);
	if (len > WITNESS_STATE_MAX) {
		r = err_set(msg, SIGNET_ERR_TOO_LARGE,
		    "%s: over %d bytes: not a witness state", what,
		    WITNESS_STATE_MAX);
		goto out;
	}
	r = jsonx_parse_object(what, data, len, 2, &doc, msg);
	if (r == 0)
		r = jsonx_only_members(doc, members, what, msg);
	if (r == 0)
		r = jsonx_get_string(doc, "origin", false, what, &origin, msg);
	if (r == 0)
		r = jsonx_get_string(doc, "log_key", false, what, &key, msg);
	if (r == 0)
		r = jsonx_get_int64(doc, "size", 0, JSONX_INT_MAX, what, &size,
		    msg);
	if (r == 0)
		r = jsonx_get_string(doc, "root", false, what, &root, msg);
	if (r == 0)
		r = jsonx_get_string(doc, "checkpoint", false, what, &note,
		    msg);
	if (r == 0)
		r = jsonx_get_int64(doc, "cosigned_at", 0, JSONX_INT_MAX, what,
		    &at, msg);
	if (r != 0) {
		r = SIGNET_ERR_FORMAT;
		goto out;
	}
	if (strlen(origin) == 0 || strlen(origin) > NOTE_ORIGIN_MAX) {
		r = err_set(msg, SIGNET_ERR_FORMAT,
		    "%s: \"origin\" is not an origin", what);
		goto out;
	}
	memcpy(st->origin, origin, strlen(origin) + 1);
	if (keys_parse_public(key, strlen(key), &st->log_key, &why) != 0) {
		r = err_set(msg, SIGNET_ERR_FORMAT, "%s: \"log_key\": %s", what,
		    why.text);
		goto out;
	}
	if (hash_from_b64(root, st->root) != 0) {
		r = err_set(msg, SIGNET_ERR_FORMAT,
		    "%s: \"root\" is not base64 of 32 bytes", what);
		goto out;
	}
	st->size = (uint64_t)size;
	st->cosigned_at = at;
	if (note_verifier_init(&v, st->origin, NOTE_TYPE_ED25519,
	        st->log_key.pk) != 0) {
		r = err_set(msg, SIGNET_ERR_FORMAT,
		    "%s: \"origin\" is not a key name", what);
		goto out;
	}
	r = note_checkpoint_open(note, strlen(note), &v, 1, 0, &n, &cp, &why);
	if (r != 0) {
		r = err_set(msg, SIGNET_ERR_FORMAT,
		    "%s: \"checkpoint\" is not a checkpoint of %s signed by "
		    "the log key: %s",
		    what, "the origin", why.text);
		goto out;
	}
	if (cp.size != st->size ||
	    memcmp(cp.root, st->root, MERKLE_HASH_LEN) != 0) {
		r = err_set(msg, SIGNET_ERR_FORMAT,
		    "%s: \"checkpoint\" says another size or root than "
		    "\"size\" and \"root\"",
		    what);
		goto out;
	}
	st->checkpoint_len = strlen(note);
	st->checkpoint = malloc(st->checkpoint_len + 1);
	if (st->checkpoint == NULL) {
		r = err_set(msg, SIGNET_ERR_ALLOC, "out of memory");
		goto out;
	}
	memcpy(st->checkpoint, note, st->checkpoint_len + 1);
	r = 0;
out:
	if (r != 0)
		witness_state_free(st);
	note_free(n);
	cJSON_Delete(doc);
	return r;
}

int
witness_state_format(const struct witness_state *st, char **out, size_t *len)
{
	char root[B64_HASH_LEN + 1], key[B64_HASH_LEN + 1], *text = NULL;
	cJSON *doc = cJSON_CreateObject();
	size_t n;
	int r = SIGNET_ERR_ALLOC;

	*out = NULL;
	*len = 0;
	hash_b64(st->root, root);
	hash_b64(st->log_key.pk, key);
	if (doc == NULL ||
	    cJSON_AddStringToObject(doc, "origin", st->origin) == NULL ||
	    cJSON_AddStringToObject(doc, "log_key", key) == NULL ||
	    !jsonx_add_int64(doc, "size", (int64_t)st->size) ||
	    cJSON_AddStringToObject(doc, "root", root) == NULL ||
	    cJSON_AddStringToObject(doc, "checkpoint",
	        st->checkpoint != NULL ? st->checkpoint : "") == NULL ||
	    !jsonx_add_int64(doc, "cosigned_at", st->cosigned_at))
		goto out;
	text = jsonx_print(doc);
	if (text == NULL)
		goto out;
	n = strlen(text);
	*out = malloc(n + 2);
	if (*out == NULL)
		goto out;
	memcpy(*out, text, n);
	(*out)[n] = '\n';
	(*out)[n + 1] = '\0';
	*len = n + 1;
	r = 0;
out:
	free(text);
	cJSON_Delete(doc);
	return r;
}

/* Reads and parses the state file at path; *found false when missing. */
static int
load_path(const char *path, struct witness_state *st, bool *found,
    struct err_msg *msg)
{
	struct stat sb;
	char *buf = NULL, esc[200];
	size_t len = 0;
	int r;

	*found = false;
	(void)text_escape_str(path, esc, sizeof(esc));
	if (lstat(path, &sb) != 0) {
		if (errno == ENOENT)
			return 0;
		return err_set(msg, SIGNET_ERR_IO, "%s: %s", esc,
		    strerror(errno));
	}
	if (!S_ISREG(sb.st_mode))
		return err_set(msg, SIGNET_ERR_PERMISSIONS,
		    "%s: not a regular file (a link?): refusing the state",
		    esc);
	buf = malloc(WITNESS_STATE_MAX + 1);
	if (buf == NULL)
		return err_set(msg, SIGNET_ERR_ALLOC, "out of memory");
	r = fileio_read_small(path, buf, WITNESS_STATE_MAX, &len, FILEIO_SECRET,
	    msg);
	if (r == 0)
		r = witness_state_parse(esc, buf, len, st, msg);
	if (r == SIGNET_ERR_FORMAT && msg != NULL) {
		char why[ERR_MSG_MAX];

		memcpy(why, msg->text, sizeof(why));
		(void)err_set(msg, r,
		    "%.400s (a damaged state: restore it from a backup, or "
		    "move it away to start over, knowingly)",
		    why);
	}
	if (r == 0)
		*found = true;
	free(buf);
	return r;
}

int
witness_state_load(struct witness *w, const char *origin,
    struct witness_state *st, bool *found, struct err_msg *msg)
{
	char name[256], path[WITNESS_PATH_MAX];
	int r;

	memset(st, 0, sizeof(*st));
	*found = false;
	r = witness_state_name(origin, name, sizeof(name));
	if (r != 0)
		return err_set(msg, r, "an empty origin");
	if (join(path, sizeof(path), w->dir, name) != 0)
		return err_set(msg, SIGNET_ERR_TOO_LARGE, "path too long");
	r = load_path(path, st, found, msg);
	if (r == 0 && *found && strcmp(st->origin, origin) != 0) {
		witness_state_free(st);
		*found = false;
		return err_set(msg, SIGNET_ERR_FORMAT,
		    "%s holds the state of another origin (a damaged "
		    "state)",
		    name);
	}
	return r;
}

int
witness_state_store(struct witness *w, const struct witness_state *st,
    struct err_msg *msg)
{
	char name[256], path[WITNESS_PATH_MAX], *text = NULL;
	size_t len = 0;
	int r;

	r = witness_state_name(st->origin, name, sizeof(name));
	if (r != 0)
		return err_set(msg, r, "an empty origin");
	if (join(path, sizeof(path), w->dir, name) != 0)
		return err_set(msg, SIGNET_ERR_TOO_LARGE, "path too long");
	r = witness_state_format(st, &text, &len);
	if (r != 0)
		return err_set(msg, r, "out of memory");
	r = fileio_replace(path, text, len, 0600, msg);
	free(text);
	return r;
}

int
witness_find_origin(struct witness *w, const struct keys_public *pk,
    char origin[static NOTE_ORIGIN_MAX + 1], bool *found, struct err_msg *msg)
{
	struct witness_state st;
	struct dirent *de;
	DIR *d = NULL;
	char path[WITNESS_PATH_MAX], name[256];
	size_t nfiles = 0, nlen;
	bool got = false;
	int r = 0;

	origin[0] = '\0';
	*found = false;
	memset(&st, 0, sizeof(st));
	d = opendir(w->dir);
	if (d == NULL)
		return err_set(msg, SIGNET_ERR_IO,
		    "cannot read the state "
		    "directory: %s",
		    strerror(errno));
	for (;;) {
		errno = 0;
		de = readdir(d);
		if (de == NULL) {
			r = errno != 0 ? err_set(msg, SIGNET_ERR_IO,
			                     "cannot read the state directory: "
			                     "%s",
			                     strerror(errno)) :
			                 0;
			break;
		}
		nlen = strlen(de->d_name);
		if (de->d_name[0] == '.' || nlen <= sizeof(STATE_SUFFIX) - 1 ||
		    strcmp(de->d_name + nlen - (sizeof(STATE_SUFFIX) - 1),
		        STATE_SUFFIX) != 0)
			continue;
		if (++nfiles > WITNESS_FILES_MAX) {
			r = err_set(msg, SIGNET_ERR_TOO_LARGE,
			    "the state directory holds over %d state files",
			    WITNESS_FILES_MAX);
			break;
		}
		r = join(path, sizeof(path), w->dir, de->d_name);
		if (r == 0)
			r = load_path(path, &st, &got, msg);
		else
			(void)err_set(msg, r, "path too long");
		if (r != 0)
			break;
		if (!got)
			continue; /* gone meanwhile: cannot be, we hold the lock */
		if (witness_state_name(st.origin, name, sizeof(name)) != 0 ||
		    strcmp(name, de->d_name) != 0) {
			r = err_set(msg, SIGNET_ERR_FORMAT,
			    "%s holds the state of another origin (a "
			    "damaged state, or a file renamed)",
			    de->d_name);
			break;
		}
		if (sodium_memcmp(st.log_key.pk, pk->pk, KEYS_PUBLIC_LEN) ==
		    0) {
			if (*found) {
				r = err_set(msg, SIGNET_ERR_EXISTS,
				    "two state files name the log key %s "
				    "(origins %s and %s): give --origin",
				    pk->id, origin, st.origin);
				break;
			}
			*found = true;
			memcpy(origin, st.origin, strlen(st.origin) + 1);
		}
		witness_state_free(&st);
	}
	witness_state_free(&st);
	(void)closedir(d);
	if (r != 0) {
		origin[0] = '\0';
		*found = false;
	}
	return r;
}

/* ---- proofs ---- */

void
witness_proof_free(struct witness_proof *p)
{
	if (p == NULL)
		return;
	free(p->steps);
	memset(p, 0, sizeof(*p));
}

/* Reads a size member in [0, MERKLE_SIZE_MAX). */
static int
get_size(const cJSON *o, const char *key, const char *path, uint64_t *out,
    struct err_msg *msg)
{
	int64_t v;
	int r = jsonx_get_int64(o, key, 0, JSONX_INT_MAX, path, &v, msg);

	if (r != 0)
		return SIGNET_ERR_FORMAT;
	*out = (uint64_t)v;
	return 0;
}

static int
parse_step(const cJSON *o, size_t i, struct witness_proof_step *s,
    struct err_msg *msg)
{
	static const char *const members[] = { "old", "new", "new_root",
		"hashes", NULL };
	const cJSON *hashes, *h;
	const char *root;
	char path[48];
	size_t k = 0;
	int r;

	(void)snprintf(path, sizeof(path), "steps[%zu]", i);
	if (!cJSON_IsObject(o))
		return err_set(msg, SIGNET_ERR_FORMAT, "%s is not an object",
		    path);
	r = jsonx_only_members(o, members, path, msg);
	if (r == 0)
		r = get_size(o, "old", path, &s->old_size, msg);
	if (r == 0)
		r = get_size(o, "new", path, &s->new_size, msg);
	if (r == 0)
		r = jsonx_get_string(o, "new_root", false, path, &root, msg);
	if (r != 0)
		return SIGNET_ERR_FORMAT;
	if (hash_from_b64(root, s->new_root) != 0)
		return err_set(msg, SIGNET_ERR_FORMAT,
		    "%s.new_root is not base64 of 32 bytes", path);
	hashes = cJSON_GetObjectItemCaseSensitive(o, "hashes");
	if (!cJSON_IsArray(hashes))
		return err_set(msg, SIGNET_ERR_FORMAT,
		    "%s.hashes is not an array", path);
	cJSON_ArrayForEach(h, hashes)
	{
		if (k >= MERKLE_PROOF_MAX)
			return err_set(msg, SIGNET_ERR_TOO_LARGE,
			    "%s.hashes holds over %d hashes", path,
			    MERKLE_PROOF_MAX);
		if (!cJSON_IsString(h) ||
		    hash_from_b64(h->valuestring, s->hashes[k]) != 0)
			return err_set(msg, SIGNET_ERR_FORMAT,
			    "%s.hashes[%zu] is not base64 of 32 bytes", path,
			    k);
		k++;
	}
	s->nhashes = k;
	return 0;
}

int
witness_proof_parse(const char *data, size_t len, struct witness_proof *p,
    struct err_msg *msg)
{
	static const char *const members[] = { "log", "old", "new", "steps",
		NULL };
	cJSON *doc = NULL;
	const cJSON *steps, *s;
	const char *log;
	uint64_t at;
	size_t i, n;
	int r;

	memset(p, 0, sizeof(*p));
	if (len > WITNESS_PROOF_MAX) {
		r = err_set(msg, SIGNET_ERR_TOO_LARGE,
		    "the proof is over %d bytes", WITNESS_PROOF_MAX);
		goto out;
	}
	r = jsonx_parse_object("the proof", data, len, 8, &doc, msg);
	if (r == 0)
		r = jsonx_only_members(doc, members, "the proof", msg);
	if (r == 0)
		r = jsonx_get_string(doc, "log", false, "the proof", &log, msg);
	if (r == 0)
		r = get_size(doc, "old", "the proof", &p->old_size, msg);
	if (r == 0)
		r = get_size(doc, "new", "the proof", &p->new_size, msg);
	if (r != 0) {
		r = SIGNET_ERR_FORMAT;
		goto out;
	}
	if (strlen(log) == 0 || strlen(log) > WITNESS_LOG_MAX) {
		r = err_set(msg, SIGNET_ERR_FORMAT,
		    "the proof's \"log\" is not a log name");
		goto out;
	}
	memcpy(p->log, log, strlen(log) + 1);
	steps = cJSON_GetObjectItemCaseSensitive(doc, "steps");
	if (!cJSON_IsArray(steps)) {
		r = err_set(msg, SIGNET_ERR_FORMAT,
		    "the proof's \"steps\" is not an array");
		goto out;
	}
	n = (size_t)cJSON_GetArraySize(steps);
	if (n > WITNESS_PROOF_STEPS_MAX) {
		r = err_set(msg, SIGNET_ERR_TOO_LARGE,
		    "the proof has over %d steps", WITNESS_PROOF_STEPS_MAX);
		goto out;
	}
	if (p->old_size > p->new_size) {
		r = err_set(msg, SIGNET_ERR_FORMAT,
		    "the proof goes from %" PRIu64 " down to %" PRIu64,
		    p->old_size, p->new_size);
		goto out;
	}
	if (n == 0 && p->old_size != p->new_size && p->old_size != 0) {
		r = err_set(msg, SIGNET_ERR_FORMAT,
		    "the proof from %" PRIu64 " to %" PRIu64 " has no step",
		    p->old_size, p->new_size);
		goto out;
	}
	if (n > 0) {
		p->steps = calloc(n, sizeof(*p->steps));
		if (p->steps == NULL) {
			r = err_set(msg, SIGNET_ERR_ALLOC, "out of memory");
			goto out;
		}
	}
	i = 0;
	at = p->old_size;
	cJSON_ArrayForEach(s, steps)
	{
		struct witness_proof_step *st = &p->steps[i];

		r = parse_step(s, i, st, msg);
		if (r != 0)
			goto out;
		if (st->old_size != at || st->old_size == 0 ||
		    st->new_size <= st->old_size) {
			r = err_set(msg, SIGNET_ERR_FORMAT,
			    "steps[%zu] goes from %" PRIu64 " to %" PRIu64
			    ": each step must go up from %" PRIu64,
			    i, st->old_size, st->new_size, at);
			goto out;
		}
		at = st->new_size;
		i++;
	}
	p->nsteps = i;
	if (n > 0 && at != p->new_size) {
		r = err_set(msg, SIGNET_ERR_FORMAT,
		    "the proof's last step ends at %" PRIu64 ", not %" PRIu64,
		    at, p->new_size);
		goto out;
	}
	r = 0;
out:
	if (r != 0)
		witness_proof_free(p);
	cJSON_Delete(doc);
	return r;
}

int
witness_proof_check(const struct witness_proof *p, uint64_t old_size,
    const uint8_t old_root[static MERKLE_HASH_LEN], uint64_t new_size,
    const uint8_t new_root[static MERKLE_HASH_LEN], struct err_msg *msg)
{
	const uint8_t *prev = old_root;
	size_t i;

	if (p->old_size != old_size || p->new_size != new_size)
		return err_set(msg, SIGNET_ERR_CHAIN,
		    "the proof is from %" PRIu64 " to %" PRIu64
		    ", not from %" PRIu64 " to %" PRIu64,
		    p->old_size, p->new_size, old_size, new_size);
	if (p->nsteps == 0) {
		if (old_size == 0)
			return 0;
		if (old_size == new_size &&
		    memcmp(old_root, new_root, MERKLE_HASH_LEN) == 0)
			return 0;
		return err_set(msg, SIGNET_ERR_CHAIN,
		    "the proof has no step and the roots differ");
	}
	for (i = 0; i < p->nsteps; i++) {
		const struct witness_proof_step *s = &p->steps[i];

		if (merkle_check_tree(
		        (const uint8_t(*)[MERKLE_HASH_LEN])s->hashes,
		        s->nhashes, s->new_size, s->new_root, s->old_size,
		        prev) != 0)
			return err_set(msg, SIGNET_ERR_CHAIN,
			    "step %zu of %zu (from %" PRIu64 " to %" PRIu64
			    ") does not verify: the tree of %" PRIu64
			    " records is not a prefix of the one offered",
			    i + 1, p->nsteps, s->old_size, s->new_size,
			    s->old_size);
		prev = s->new_root;
	}
	if (memcmp(prev, new_root, MERKLE_HASH_LEN) != 0)
		return err_set(msg, SIGNET_ERR_CHAIN,
		    "the proof ends at another root than the checkpoint's");
	return 0;
}

/* ---- the decision ---- */

bool
witness_verdict_cosigned(enum witness_verdict v)
{
	return v == WITNESS_COSIGNED_FIRST || v == WITNESS_COSIGNED_SAME ||
	    v == WITNESS_COSIGNED_EXTENSION;
}

const char *
witness_verdict_name(enum witness_verdict v)
{
	switch (v) {
	case WITNESS_COSIGNED_FIRST: return "first contact";
	case WITNESS_COSIGNED_SAME: return "same tree";
	case WITNESS_COSIGNED_EXTENSION: return "consistent extension";
	case WITNESS_REFUSED_SIGNATURE: return "bad signature";
	case WITNESS_REFUSED_ORIGIN: return "origin mismatch";
	case WITNESS_REFUSED_ROLLBACK: return "rollback";
	case WITNESS_REFUSED_SPLIT_VIEW: return "split view";
	case WITNESS_REFUSED_INCONSISTENT: return "inconsistent extension";
	default: return "unknown";
	}
}

void
witness_result_free(struct witness_result *r)
{
	if (r == NULL)
		return;
	free(r->cosigned);
	memset(r, 0, sizeof(*r));
}

/*
 * Writes the evidence of a refusal into DIR/evidence/: the note cosigned
 * last, the note offered and the proof (each when given), under one
 * prefix that names the kind and sizes. Failures are added to msg; the
 * refusal stands either way.
 */
static void
keep_evidence(struct witness *w, const char *kind, uint64_t now,
    const struct witness_state *st, const char *note, size_t len,
    const char *proof, size_t proof_len, struct witness_result *res,
    struct err_msg *msg)
{
	static const char *const suffix[WITNESS_EVIDENCE_MAX] = {
		"cosigned.txt", "offered.txt", "proof.json"
	};
	const char *data[WITNESS_EVIDENCE_MAX] = { st->checkpoint, note,
		proof };
	size_t lens[WITNESS_EVIDENCE_MAX] = { st->checkpoint_len, len,
		proof_len };
	char dir[WITNESS_PATH_MAX], name[256], path[WITNESS_PATH_MAX];
	struct err_msg why;
	size_t i, attempt;
	int r = 0;

	err_clear(&why);
	if (join(dir, sizeof(dir), w->dir, EVIDENCE_DIR) != 0)
		return;
	if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
		(void)err_set(&why, SIGNET_ERR_IO, "%s", strerror(errno));
		goto fail;
	}
	for (attempt = 0; attempt < 100; attempt++) {
		res->nevidence = 0;
		for (i = 0; i < WITNESS_EVIDENCE_MAX; i++) {
			int n;

			if (data[i] == NULL)
				continue;
			n = snprintf(name, sizeof(name),
			    "%s-%" PRIu64 "-%" PRIu64 "-%" PRIu64 "%s%.0zu-%s",
			    kind, st->size, res->new_size, now,
			    attempt > 0 ? "." : "", attempt, suffix[i]);
			if (n < 0 || (size_t)n >= sizeof(name) ||
			    join(path, sizeof(path), dir, name) != 0)
				return;
			r = fileio_write_new(path, data[i], lens[i], 0600,
			    &why);
			if (r != 0)
				break;
			memcpy(res->evidence[res->nevidence++], path,
			    strlen(path) + 1);
		}
		if (r != SIGNET_ERR_EXISTS)
			break;
	}
	if (r == 0)
		return;
fail:
	if (msg != NULL) {
		char said[ERR_MSG_MAX];

		memcpy(said, msg->text, sizeof(said));
		(void)err_set(msg, SIGNET_ERR_IO,
		    "%.300s; the evidence could not be kept: %.150s", said,
		    why.text);
	}
}

int
witness_run(struct witness *w, const struct witness_params *p, const char *note,
    size_t len, struct witness_result *res, struct err_msg *msg)
{
	struct note *raw = NULL, *n = NULL;
	struct note_checkpoint cp;
	struct note_verifier v;
	struct witness_state st, nst;
	struct witness_proof proof;
	struct err_msg why;
	char origin[NOTE_ORIGIN_MAX + 1], line[NOTE_SIGLINE_MAX + 1];
	char eo[160], ep[160], eg[160];
	char ra[B64_HASH_LEN + 1], rb[B64_HASH_LEN + 1];
	char *pjson = NULL;
	const char *kind = NULL;
	size_t line_len = 0, plen = 0;
	bool known = false, found = false;
	int r;

	memset(res, 0, sizeof(*res));
	memset(&st, 0, sizeof(st));
	memset(&nst, 0, sizeof(nst));
	memset(&proof, 0, sizeof(proof));
	memset(&cp, 0, sizeof(cp));
	err_clear(&why);
	if (p->now > (uint64_t)JSONX_INT_MAX) {
		r = err_set(msg, SIGNET_ERR_INVALID_ARG, "a time past 2^53 s");
		goto out;
	}
	r = note_parse(note, len, &raw, msg);
	if (r == 0)
		r = note_checkpoint_parse(raw->buf, raw->text_len, &cp, msg);
	if (r != 0)
		goto out;
	memcpy(res->origin, cp.origin, sizeof(res->origin));
	res->new_size = cp.size;
	memcpy(res->new_root, cp.root, MERKLE_HASH_LEN);
	(void)text_escape_str(cp.origin, eo, sizeof(eo));
	r = witness_find_origin(w, p->log_key, origin, &known, msg);
	if (r != 0)
		goto out;
	if (p->origin != NULL) {
		if (known && strcmp(origin, p->origin) != 0) {
			res->verdict = WITNESS_REFUSED_ORIGIN;
			(void)err_set(msg, 0,
			    "origin mismatch: the log key %s was witnessed "
			    "under the origin \"%s\", not --origin \"%s\"",
			    p->log_key->id,
			    text_escape_str(origin, ep, sizeof(ep)),
			    text_escape_str(p->origin, eg, sizeof(eg)));
			goto out;
		}
		if (strlen(p->origin) > NOTE_ORIGIN_MAX) {
			r = err_set(msg, SIGNET_ERR_INVALID_ARG,
			    "--origin is over %d bytes", NOTE_ORIGIN_MAX);
			goto out;
		}
		memcpy(origin, p->origin, strlen(p->origin) + 1);
	} else if (!known) {
		memcpy(origin, cp.origin, sizeof(origin));
	}
	if (strcmp(cp.origin, origin) != 0) {
		res->verdict = WITNESS_REFUSED_ORIGIN;
		(void)err_set(msg, 0,
		    "origin mismatch: the checkpoint's origin is \"%s\", "
		    "expected \"%s\"",
		    eo, text_escape_str(origin, ep, sizeof(ep)));
		goto out;
	}
	r = witness_state_load(w, origin, &st, &found, msg);
	if (r != 0)
		goto out;
	if (found &&
	    sodium_memcmp(st.log_key.pk, p->log_key->pk, KEYS_PUBLIC_LEN) !=
	        0) {
		res->verdict = WITNESS_REFUSED_ORIGIN;
		(void)err_set(msg, 0,
		    "origin mismatch: the state of \"%s\" was kept with the "
		    "log key %s, not %s",
		    eo, st.log_key.id, p->log_key->id);
		goto out;
	}
	if (note_verifier_init(&v, origin, NOTE_TYPE_ED25519, p->log_key->pk) !=
	    0) {
		r = err_set(msg, SIGNET_ERR_FORMAT,
		    "the origin \"%s\" is not a valid key name", eo);
		goto out;
	}
	r = note_checkpoint_open(note, len, &v, 1, 0, &n, &cp, &why);
	if (r == SIGNET_ERR_BAD_SIGNATURE || r == SIGNET_ERR_UNKNOWN_KEY) {
		res->verdict = WITNESS_REFUSED_SIGNATURE;
		(void)err_set(msg, 0,
		    "bad signature: the checkpoint of \"%s\" is not signed "
		    "by the log key %s: %s",
		    eo, p->log_key->id, why.text);
		r = 0;
		goto out;
	}
	if (r != 0) {
		(void)err_set(msg, r, "%s", why.text);
		goto out;
	}
	res->had_state = found;
	if (found) {
		res->old_size = st.size;
		memcpy(res->old_root, st.root, MERKLE_HASH_LEN);
	}
	hash_b64(st.root, ra);
	hash_b64(cp.root, rb);
	if (!found) {
		res->verdict = WITNESS_COSIGNED_FIRST;
	} else if (st.size > cp.size) {
		res->verdict = WITNESS_REFUSED_ROLLBACK;
		kind = "rollback";
		(void)err_set(msg, 0,
		    "rollback: \"%s\" offers size %" PRIu64
		    " after size %" PRIu64 " was cosigned",
		    eo, cp.size, st.size);
	} else if (st.size == cp.size) {
		if (memcmp(st.root, cp.root, MERKLE_HASH_LEN) == 0) {
			res->verdict = WITNESS_COSIGNED_SAME;
		} else {
			res->verdict = WITNESS_REFUSED_SPLIT_VIEW;
			kind = "split-view";
			(void)err_set(msg, 0,
			    "split view: \"%s\" size %" PRIu64
			    " has root %s (cosigned) and root %s (offered)",
			    eo, cp.size, ra, rb);
		}
	} else if (st.size == 0) {
		res->verdict = WITNESS_COSIGNED_EXTENSION;
	} else {
		r = p->get_proof(p->get_proof_arg, st.size, cp.size, &pjson,
		    &plen, msg);
		if (r == 0)
			r = witness_proof_parse(pjson, plen, &proof, msg);
		if (r != 0)
			goto out;
		if (p->log != NULL && strcmp(proof.log, p->log) != 0) {
			r = err_set(&why, SIGNET_ERR_CHAIN,
			    "the proof is for the log \"%s\"",
			    text_escape_str(proof.log, ep, sizeof(ep)));
		} else {
			r = witness_proof_check(&proof, st.size, st.root,
			    cp.size, cp.root, &why);
		}
		if (r == 0) {
			res->verdict = WITNESS_COSIGNED_EXTENSION;
		} else {
			res->verdict = WITNESS_REFUSED_INCONSISTENT;
			kind = "inconsistent";
			(void)err_set(msg, 0,
			    "inconsistent extension: \"%s\" from size %" PRIu64
			    " (root %s, cosigned) to %" PRIu64 " (root %s): %s",
			    eo, st.size, ra, cp.size, rb, why.text);
			r = 0;
		}
	}
	if (kind != NULL) {
		keep_evidence(w, kind, p->now, &st, note, len, pjson, plen, res,
		    msg);
		goto out;
	}
	r = note_cosign(n->buf, n->text_len, p->name, p->key, p->now, line,
	    &line_len, msg);
	if (r == 0)
		r = note_add_sigline(n, line, line_len, &res->cosigned,
		    &res->cosigned_len, msg);
	if (r != 0)
		goto out;
	memcpy(nst.origin, origin, sizeof(nst.origin));
	nst.log_key = *p->log_key;
	nst.size = cp.size;
	memcpy(nst.root, cp.root, MERKLE_HASH_LEN);
	nst.checkpoint = res->cosigned;
	nst.checkpoint_len = res->cosigned_len;
	nst.cosigned_at = (int64_t)p->now;
	r = witness_state_store(w, &nst, msg);
	if (r != 0)
		goto out;
	r = 0;
out:
	if (r != 0) {
		free(res->cosigned);
		res->cosigned = NULL;
		res->cosigned_len = 0;
	} else if (!witness_verdict_cosigned(res->verdict)) {
		free(res->cosigned);
		res->cosigned = NULL;
		res->cosigned_len = 0;
	}
	sodium_memzero(line, sizeof(line));
	witness_proof_free(&proof);
	witness_state_free(&st);
	free(pjson);
	note_free(n);
	note_free(raw);
	return r;
}

/* ---- roots of a log, for audit verify ---- */

void
witness_leaf_hash(const char *line, size_t len,
    uint8_t out[static MERKLE_HASH_LEN])
{
	merkle_leaf_hash(line, len, out);
}

struct size_at {
	uint64_t size;
	size_t index;
};

static int
size_cmp(const void *a, const void *b)
{
	const struct size_at *x = a, *y = b;

	return x->size < y->size ? -1 : x->size > y->size;
}

int
witness_log_roots(const char *const *paths, size_t npaths,
    const uint64_t *sizes, size_t nsizes, uint8_t (*roots)[MERKLE_HASH_LEN],
    bool *have, uint64_t *records, struct err_msg *msg)
{
	struct merkle_frontier *f = NULL;
	struct audit_reader *rd = NULL;
	struct size_at *order = NULL;
	uint8_t leaf[MERKLE_HASH_LEN];
	char *line, esc[200];
	size_t i, k = 0, len;
	bool nl;
	int r;

	*records = 0;
	for (i = 0; i < nsizes; i++)
		have[i] = false;
	f = malloc(sizeof(*f));
	order = calloc(nsizes > 0 ? nsizes : 1, sizeof(*order));
	if (f == NULL || order == NULL) {
		r = err_set(msg, SIGNET_ERR_ALLOC, "out of memory");
		goto out;
	}
	merkle_frontier_init(f);
	for (i = 0; i < nsizes; i++) {
		order[i].size = sizes[i];
		order[i].index = i;
	}
	qsort(order, nsizes, sizeof(*order), size_cmp);
	for (i = 0; i < npaths; i++) {
		r = audit_reader_open(paths[i], &rd, msg);
		if (r != 0)
			goto out;
		for (;;) {
			for (; k < nsizes && order[k].size == f->size; k++) {
				merkle_frontier_root(f, roots[order[k].index]);
				have[order[k].index] = true;
			}
			r = audit_reader_next(rd, &line, &len, &nl);
			if (r < 0) {
				(void)err_set(msg, r,
				    "%s: line %" PRIu64 ": cannot be read: %s",
				    text_escape_str(paths[i], esc, sizeof(esc)),
				    audit_reader_lineno(rd) + 1, err_str(r));
				goto out;
			}
			if (r == 0)
				break;
			if (!nl) {
				if (i + 1 < npaths) {
					r = err_set(msg, SIGNET_ERR_FORMAT,
					    "%s: a torn line before the last "
					    "file",
					    text_escape_str(paths[i], esc,
					        sizeof(esc)));
					goto out;
				}
				break; /* a torn tail is not a record */
			}
			witness_leaf_hash(line, len, leaf);
			r = merkle_frontier_append(f, leaf);
			if (r != 0) {
				(void)err_set(msg, r, "the log is too large");
				goto out;
			}
		}
		audit_reader_close(rd);
		rd = NULL;
	}
	*records = f->size;
	r = 0;
out:
	audit_reader_close(rd);
	free(order);
	free(f);
	return r;
}

/* ---- checkpoints against a log, for audit verify ---- */

int
witness_vkey_load(const char *path, struct note_verifier *v,
    struct err_msg *msg)
{
	char buf[NOTE_VKEY_MAX + 2], esc[200];
	struct err_msg why;
	size_t len = 0;
	int r;

	memset(v, 0, sizeof(*v));
	(void)text_escape_str(path, esc, sizeof(esc));
	r = fileio_read_small(path, buf, sizeof(buf) - 1, &len, FILEIO_PUBLIC,
	    msg);
	if (r == SIGNET_ERR_TOO_LARGE)
		return err_set(msg, r,
		    "%s: over %d bytes: not a verifier key text", esc,
		    NOTE_VKEY_MAX + 1);
	if (r != 0)
		return r;
	if (len > 0 && buf[len - 1] == '\n')
		len--;
	r = note_verifier_parse(buf, len, v, &why);
	if (r != 0)
		return err_set(msg, r, "%s: %.300s", esc, why.text);
	if (v->type != NOTE_TYPE_COSIG) {
		memset(v, 0, sizeof(*v));
		return err_set(msg, SIGNET_ERR_FORMAT,
		    "%s: not a witness key (type 0x04, tlog-cosignature/v1): "
		    "signetctl audit witness-key prints one",
		    esc);
	}
	return 0;
}

int
witness_check_checkpoints(const char *const *cps, size_t ncps,
    const struct keys_public *log_key, const struct note_verifier *wit,
    size_t nwit, const char *const *logs, size_t nlogs,
    struct witness_cp_report *out, struct err_msg *msg)
{
	struct note_verifier *known = NULL;
	struct note *raw = NULL, *n = NULL;
	uint8_t(*roots)[MERKLE_HASH_LEN] = NULL;
	uint64_t *sizes = NULL, records = 0;
	bool *have = NULL;
	char *data = NULL, esc[200], eo[160];
	char ra[B64_HASH_LEN + 1], rb[B64_HASH_LEN + 1];
	struct err_msg why;
	size_t i, k, len = 0;
	int r;

	memset(out, 0, ncps * sizeof(*out));
	if (nwit > WITNESS_KEYS_MAX)
		return err_set(msg, SIGNET_ERR_INVALID_ARG,
		    "over %d witness keys", WITNESS_KEYS_MAX);
	known = calloc(nwit + 1, sizeof(*known));
	sizes = calloc(ncps + 1, sizeof(*sizes));
	roots = calloc(ncps + 1, sizeof(*roots));
	have = calloc(ncps + 1, sizeof(*have));
	if (known == NULL || sizes == NULL || roots == NULL || have == NULL) {
		r = err_set(msg, SIGNET_ERR_ALLOC, "out of memory");
		goto out;
	}
	for (k = 0; k < nwit; k++)
		known[k + 1] = wit[k];
	for (i = 0; i < ncps; i++) {
		struct witness_cp_report *c = &out[i];

		c->file = cps[i];
		(void)text_escape_str(cps[i], esc, sizeof(esc));
		free(data);
		data = NULL;
		note_free(raw);
		raw = NULL;
		note_free(n);
		n = NULL;
		r = fileio_read_alloc(cps[i], NOTE_SIZE_MAX, &data, &len, msg);
		if (r == SIGNET_ERR_TOO_LARGE)
			(void)err_set(msg, r, "%s: over %d bytes: not a note",
			    esc, NOTE_SIZE_MAX);
		if (r != 0)
			goto out;
		r = note_parse(data, len, &raw, &why);
		if (r == 0)
			r = note_checkpoint_parse(raw->buf, raw->text_len,
			    &c->cp, &why);
		if (r == 0 &&
		    note_verifier_init(&known[0], c->cp.origin,
		        NOTE_TYPE_ED25519, log_key->pk) != 0)
			r = err_set(&why, SIGNET_ERR_FORMAT,
			    "the origin is not a key name");
		if (r != 0) {
			r = err_set(msg, SIGNET_ERR_FORMAT,
			    "%s: not a checkpoint: %.300s", esc, why.text);
			goto out;
		}
		(void)text_escape_str(c->cp.origin, eo, sizeof(eo));
		r = note_checkpoint_open(data, len, known, nwit + 1, 0, &n,
		    &c->cp, &why);
		if (r == SIGNET_ERR_INVALID_ARG) {
			(void)err_set(msg, r,
			    "two witness keys have the same name and id");
			goto out;
		}
		if (r == SIGNET_ERR_UNKNOWN_KEY) {
			c->failed = true;
			(void)snprintf(c->why, sizeof(c->why),
			    "not signed by the log's key %s under its origin "
			    "\"%s\"",
			    log_key->id, eo);
			continue;
		}
		if (r != 0) {
			c->failed = true;
			(void)snprintf(c->why, sizeof(c->why), "%s", why.text);
			continue;
		}
		for (k = 0; k < nwit; k++) {
			const struct note_sig *sig = note_signed_by(n,
			    (int)k + 1);

			if (sig == NULL)
				continue;
			memcpy(c->witnessed[c->nwitnessed].name, wit[k].name,
			    sizeof(wit[k].name));
			c->witnessed[c->nwitnessed].key_id = wit[k].key_id;
			c->witnessed[c->nwitnessed].time = sig->timestamp;
			c->nwitnessed++;
		}
		sizes[i] = c->cp.size;
	}
	r = witness_log_roots(logs, nlogs, sizes, ncps, roots, have, &records,
	    msg);
	if (r != 0)
		goto out;
	for (i = 0; i < ncps; i++) {
		struct witness_cp_report *c = &out[i];

		if (c->failed)
			continue;
		hash_b64(c->cp.root, ra);
		if (!have[i]) {
			c->failed = true;
			(void)snprintf(c->why, sizeof(c->why),
			    "the log holds %" PRIu64
			    " records, fewer than the checkpoint's %" PRIu64
			    ": records were cut after it was signed",
			    records, c->cp.size);
			continue;
		}
		if (memcmp(roots[i], c->cp.root, MERKLE_HASH_LEN) != 0) {
			hash_b64(roots[i], rb);
			c->failed = true;
			(void)snprintf(c->why, sizeof(c->why),
			    "the log's first %" PRIu64
			    " records have the root %s, not %s: the log was "
			    "rewritten after the checkpoint was signed",
			    c->cp.size, rb, ra);
			continue;
		}
		c->holds = true;
	}
	r = 0;
out:
	note_free(raw);
	note_free(n);
	free(data);
	free(have);
	free(roots);
	free(sizes);
	free(known);
	return r;
}
