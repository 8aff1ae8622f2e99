/* SPDX-License-Identifier: ISC */
/*
 * The agents' checkpoints the server holds (agent_checkpoints.h): a table
 * of hosts, each with its latest checkpoint and the length of its file
 * that is committed; offers checked against the held checkpoint and
 * appended as one fsynced line; files read back and verified line by
 * line at open; steps read back from a file for consistency answers.
 */
#include "agent_checkpoints.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "fileio.h"
#include "identity.h"
#include "jsonx.h"
#include "keyset.h"
#include "log.h"
#include "text.h"

#define CP_BUCKETS 1024 /* power of two */
#define CP_LINE_DEPTH 3
#define CP_SIZES_SHOWN 16 /* sizes a NOT_FOUND message names */
#define B64_HASH_SIZE                                                          \
	sodium_base64_ENCODED_LEN(MERKLE_HASH_LEN,                             \
	    sodium_base64_VARIANT_ORIGINAL)

struct cp_host {
	struct cp_host *next;
	char id[IDENTITY_NAME_MAX + 1];
	uint64_t size; /* 0: none held */
	uint8_t root[MERKLE_HASH_LEN];
	char *note; /* the latest, NUL-terminated; NULL: none */
	size_t note_len;
	off_t committed; /* bytes of whole, verified lines */
	uint64_t steps;
	char *damaged; /* why the file is refused; NULL: sound */
};

struct agent_cp {
	pthread_mutex_t mu;
	char *dir;
	agent_cp_key_fn key;
	void *key_arg;
	struct cp_host *buckets[CP_BUCKETS];
};

static const char *const reason_names[] = {
	[AGENT_CP_SPLIT_VIEW] = "split_view",
	[AGENT_CP_ROLLBACK] = "rollback",
	[AGENT_CP_INCONSISTENT] = "inconsistent",
	[AGENT_CP_BAD_SIGNATURE] = "bad_signature",
	[AGENT_CP_WRONG_ORIGIN] = "wrong_origin",
	[AGENT_CP_MALFORMED] = "malformed",
};

const char *
agent_cp_reason_name(enum agent_cp_reason reason)
{
	if ((int)reason < AGENT_CP_SPLIT_VIEW || reason > AGENT_CP_MALFORMED)
		return NULL;
	return reason_names[reason];
}

/* ---- the table ---- */

static size_t
bucket_of(const char *id)
{
	uint32_t h = 2166136261u; /* FNV-1a */

	for (; *id != '\0'; id++)
		h = (h ^ (uint8_t)*id) * 16777619u;
	return h & (CP_BUCKETS - 1);
}

/* The host's entry (mu held), created when create; NULL when none. */
static struct cp_host *
host_get(struct agent_cp *cp, const char *id, bool create)
{
	size_t b = bucket_of(id);
	struct cp_host *h;

	for (h = cp->buckets[b]; h != NULL; h = h->next)
		if (strcmp(h->id, id) == 0)
			return h;
	if (!create)
		return NULL;
	h = calloc(1, sizeof(*h));
	if (h == NULL)
		return NULL;
	(void)snprintf(h->id, sizeof(h->id), "%s", id);
	h->next = cp->buckets[b];
	cp->buckets[b] = h;
	return h;
}

static int
check_host(const char *host_id, struct err_msg *msg)
{
	char esc[80];

	if (host_id == NULL || !text_valid_name(host_id))
		return err_set(msg, SIGNET_ERR_INVALID_ARG,
		    "\"%s\" is not a host id",
		    host_id != NULL ?
		        text_escape_str(host_id, esc, sizeof(esc)) :
		        "(null)");
	return 0;
}

/* DIR/HOST-ID.jsonl, a new string; NULL when out of memory. */
static char *
host_path(const struct agent_cp *cp, const char *id)
{
	size_t n = strlen(cp->dir) + 1 + strlen(id) + sizeof(AGENT_CP_SUFFIX);
	char *p = malloc(n);

	if (p != NULL)
		(void)snprintf(p, n, "%s/%s%s", cp->dir, id, AGENT_CP_SUFFIX);
	return p;
}

/* ---- one checkpoint ---- */

static void refuse(struct agent_cp_refusal *ref, enum agent_cp_reason reason,
    const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void
refuse(struct agent_cp_refusal *ref, enum agent_cp_reason reason,
    const char *fmt, ...)
{
	va_list ap;

	ref->reason = reason;
	va_start(ap, fmt);
	(void)vsnprintf(ref->detail, sizeof(ref->detail), fmt, ap);
	va_end(ap);
}

/*
 * Opens host_id's checkpoint note: a checkpoint text (malformed), of the
 * origin signet/agent/HOST-ID (wrong_origin), signed under that name by
 * pub (bad_signature). Returns 0 with *c, 1 with ref's reason and detail
 * (ref->size set when the text could be read), or SIGNET_ERR_ALLOC.
 */
static int
open_checkpoint(const char *host_id, const struct keys_public *pub,
    const char *note, size_t note_len, struct note_checkpoint *c,
    struct agent_cp_refusal *ref)
{
	char origin[NOTE_NAME_MAX + 1], esc[NOTE_ORIGIN_MAX + 1];
	struct note_verifier v;
	struct note *n = NULL;
	struct err_msg m;
	int r;

	memset(c, 0, sizeof(*c));
	err_clear(&m);
	(void)snprintf(origin, sizeof(origin), "%s%s", AGENT_CP_ORIGIN_PREFIX,
	    host_id);
	r = note_parse(note, note_len, &n, &m);
	if (r == SIGNET_ERR_ALLOC)
		return r;
	if (r == 0)
		r = note_checkpoint_parse(n->buf, n->text_len, c, &m);
	note_free(n);
	n = NULL;
	if (r != 0) {
		refuse(ref, AGENT_CP_MALFORMED, "not a checkpoint note: %s",
		    m.text);
		return 1;
	}
	ref->size = c->size;
	if (c->size == 0 || c->size > (uint64_t)JSONX_INT_MAX) {
		refuse(ref, AGENT_CP_MALFORMED,
		    "a checkpoint of %" PRIu64 " records: audit logs hold 1 "
		    "to 2^53-1",
		    c->size);
		ref->size = 0;
		return 1;
	}
	if (strcmp(c->origin, origin) != 0) {
		refuse(ref, AGENT_CP_WRONG_ORIGIN,
		    "origin \"%s\", not \"%s\" (the session's host)",
		    text_escape_str(c->origin, esc, sizeof(esc)), origin);
		return 1;
	}
	r = note_verifier_init(&v, origin, NOTE_TYPE_ED25519, pub->pk);
	if (r == 0)
		r = note_checkpoint_open(note, note_len, &v, 1, 0, &n, c, &m);
	note_free(n);
	if (r == SIGNET_ERR_ALLOC)
		return r;
	if (r != 0) {
		refuse(ref, AGENT_CP_BAD_SIGNATURE,
		    "not signed by %s's registered result key %s: %s", host_id,
		    pub->id, m.text);
		return 1;
	}
	return 0;
}

/*
 * open_checkpoint under each of ks's keys in turn (the current first): a
 * line kept before a rotation was signed with the key it retired.
 * Returns as open_checkpoint, the refusal of the current key (or of the
 * first key) when none verifies.
 */
static int
open_checkpoint_keys(const char *host_id, const struct keyset *ks,
    const char *note, size_t note_len, struct note_checkpoint *c,
    struct agent_cp_refusal *ref)
{
	struct agent_cp_refusal first;
	size_t i;
	int r = 1;

	memset(&first, 0, sizeof(first));
	for (i = 0; i < ks->count; i++) {
		memset(ref, 0, sizeof(*ref));
		r = open_checkpoint(host_id, &ks->keys[i].pub, note, note_len,
		    c, ref);
		if (r != 1 || ref->reason != AGENT_CP_BAD_SIGNATURE)
			return r;
		if (i == 0)
			first = *ref;
	}
	*ref = first;
	return r;
}

/*
 * Judges checkpoint c (opened) with proof[0..nproof) from old against
 * what h holds. Returns 0 (taken: a new step), 2 (held already), or 1
 * with ref.
 */
static int
judge(const struct cp_host *h, const struct note_checkpoint *c, uint64_t old,
    const uint8_t (*proof)[MERKLE_HASH_LEN], size_t nproof,
    struct agent_cp_refusal *ref)
{
	ref->held_size = h->size;
	if (h->size == 0) {
		if (old != 0 || nproof != 0) {
			refuse(ref, AGENT_CP_INCONSISTENT,
			    "a proof from size %" PRIu64 ", but the server "
			    "holds no checkpoint of this host",
			    old);
			return 1;
		}
		return 0;
	}
	if (c->size == h->size) {
		if (sodium_memcmp(c->root, h->root, MERKLE_HASH_LEN) != 0) {
			refuse(ref, AGENT_CP_SPLIT_VIEW,
			    "size %" PRIu64 " with another root than the "
			    "checkpoint of that size the server holds",
			    c->size);
			return 1;
		}
		return 2;
	}
	if (c->size < h->size) {
		refuse(ref, AGENT_CP_ROLLBACK,
		    "size %" PRIu64 " is below the %" PRIu64 " the server "
		    "holds",
		    c->size, h->size);
		return 1;
	}
	if (old != h->size) {
		refuse(ref, AGENT_CP_INCONSISTENT,
		    "a proof from size %" PRIu64 ", but the server holds "
		    "%" PRIu64,
		    old, h->size);
		return 1;
	}
	if (merkle_check_tree(proof, nproof, c->size, c->root, h->size,
	        h->root) != 0) {
		refuse(ref, AGENT_CP_INCONSISTENT,
		    "the proof from %" PRIu64 " to %" PRIu64 " does not "
		    "verify against the held root",
		    h->size, c->size);
		return 1;
	}
	return 0;
}

/* ---- lines ---- */

static bool
add_hash(cJSON *to, const char *key, const uint8_t h[static MERKLE_HASH_LEN])
{
	char b64[B64_HASH_SIZE];

	sodium_bin2base64(b64, sizeof(b64), h, MERKLE_HASH_LEN,
	    sodium_base64_VARIANT_ORIGINAL);
	return key != NULL ? cJSON_AddStringToObject(to, key, b64) != NULL :
	                     cJSON_AddItemToArray(to, cJSON_CreateString(b64));
}

/* The step as {"old","new","new_root","hashes"} (+ note); NULL: no memory. */
static cJSON *
step_json(const struct agent_cp_step *st, const char *note)
{
	cJSON *o = cJSON_CreateObject(), *arr;
	size_t i;

	if (o == NULL || !jsonx_add_int64(o, "old", (int64_t)st->old) ||
	    !jsonx_add_int64(o, "new", (int64_t)st->new) ||
	    !add_hash(o, "new_root", st->new_root) ||
	    (arr = cJSON_AddArrayToObject(o, "hashes")) == NULL)
		goto fail;
	for (i = 0; i < st->nhashes; i++)
		if (!add_hash(arr, NULL, st->hashes[i]))
			goto fail;
	if (note != NULL && cJSON_AddStringToObject(o, "note", note) == NULL)
		goto fail;
	return o;
fail:
	cJSON_Delete(o);
	return NULL;
}

/* A JSON string holding base64 of a hash (what names it), into out. */
static int
take_hash(const cJSON *v, const char *what, uint8_t out[static MERKLE_HASH_LEN],
    struct err_msg *msg)
{
	size_t got = 0;

	if (!cJSON_IsString(v) || v->valuestring == NULL ||
	    text_b64_decode_into(v->valuestring, strlen(v->valuestring), out,
	        MERKLE_HASH_LEN, &got) != 0 ||
	    got != MERKLE_HASH_LEN)
		return err_set(msg, SIGNET_ERR_FORMAT,
		    "%s is not base64 of a 32-byte hash", what);
	return 0;
}

int
agent_cp_parse_line(const char *line, size_t len, struct agent_cp_step *st,
    char **note, struct err_msg *msg)
{
	static const char *const members[] = { "old", "new", "new_root",
		"hashes", "note", NULL };
	static const char what[] = "checkpoint step";
	const cJSON *arr, *h;
	const char *s = NULL;
	cJSON *root = NULL;
	int64_t old = 0, new = 0;
	char name[32];
	int r, n;

	memset(st, 0, sizeof(*st));
	*note = NULL;
	if (len > AGENT_CP_LINE_MAX)
		return err_set(msg, SIGNET_ERR_TOO_LARGE,
		    "%s: %zu bytes, over %d", what, len, AGENT_CP_LINE_MAX);
	r = jsonx_parse_object(what, line, len, CP_LINE_DEPTH, &root, msg);
	if (r == 0)
		r = jsonx_only_members(root, members, what, msg);
	if (r == 0)
		r = jsonx_get_int64(root, "old", 0, JSONX_INT_MAX, what, &old,
		    msg);
	if (r == 0)
		r = jsonx_get_int64(root, "new", 1, JSONX_INT_MAX, what, &new,
		    msg);
	if (r == 0 && old >= new)
		r = err_set(msg, SIGNET_ERR_FORMAT,
		    "%s: old %" PRId64 " is not below new %" PRId64, what, old,
		    new);
	if (r == 0)
		r = take_hash(
		    cJSON_GetObjectItemCaseSensitive(root, "new_root"),
		    "new_root", st->new_root, msg);
	if (r != 0)
		goto out;
	st->old = (uint64_t)old;
	st->new = (uint64_t) new;
	arr = cJSON_GetObjectItemCaseSensitive(root, "hashes");
	n = cJSON_GetArraySize(arr);
	if (!cJSON_IsArray(arr) || n > MERKLE_PROOF_MAX ||
	    (old == 0 && n > 0)) {
		r = err_set(msg, SIGNET_ERR_FORMAT,
		    "%s: hashes must be an array of at most %d hashes (none "
		    "from old 0)",
		    what, MERKLE_PROOF_MAX);
		goto out;
	}
	cJSON_ArrayForEach(h, arr)
	{
		(void)snprintf(name, sizeof(name), "hashes[%zu]", st->nhashes);
		r = take_hash(h, name, st->hashes[st->nhashes], msg);
		if (r != 0)
			goto out;
		st->nhashes++;
	}
	r = jsonx_get_string(root, "note", false, what, &s, msg);
	if (r == 0 && (s[0] == '\0' || strlen(s) > NOTE_SIZE_MAX))
		r = err_set(msg, SIGNET_ERR_FORMAT,
		    "%s: note must be 1..%d bytes", what, NOTE_SIZE_MAX);
	if (r != 0)
		goto out;
	*note = strdup(s);
	if (*note == NULL)
		r = err_set(msg, SIGNET_ERR_ALLOC, "out of memory");
out:
	cJSON_Delete(root);
	if (r != 0)
		memset(st, 0, sizeof(*st));
	return r;
}

/* ---- files ---- */

/*
 * Opens a host's file (flags: O_RDONLY or O_RDWR, O_CREAT allowed): not
 * a link, a regular file of ours not writable by group or others.
 */
static int
open_file(const char *path, int flags, int *fd, struct err_msg *msg)
{
	struct stat sb;

	*fd = open(path, flags | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (*fd < 0)
		return err_set(msg,
		    errno == ENOENT    ? SIGNET_ERR_NOT_FOUND :
		        errno == ELOOP ? SIGNET_ERR_PERMISSIONS :
		                         SIGNET_ERR_IO,
		    "%s: %s", path,
		    errno == ELOOP ? "a symbolic link" : strerror(errno));
	if (fstat(*fd, &sb) != 0 || !S_ISREG(sb.st_mode) ||
	    sb.st_uid != geteuid() || (sb.st_mode & 022) != 0) {
		(void)close(*fd);
		*fd = -1;
		return err_set(msg, SIGNET_ERR_PERMISSIONS,
		    "%s: not a regular file of this user, or writable by "
		    "group or others",
		    path);
	}
	return 0;
}

/*
 * Reads the next line of f into buf[AGENT_CP_LINE_MAX + 1] (newline
 * dropped, NUL-terminated): 1 with *len and *nl (whether it ended in a
 * newline), 0 at the end, SIGNET_ERR_TOO_LARGE for a longer line,
 * SIGNET_ERR_IO.
 */
static int
read_line(FILE *f, char *buf, size_t *len, bool *nl)
{
	int c;

	*len = 0;
	*nl = false;
	while ((c = getc_unlocked(f)) != EOF) {
		if (c == '\n') {
			*nl = true;
			break;
		}
		if (*len >= AGENT_CP_LINE_MAX)
			return SIGNET_ERR_TOO_LARGE;
		buf[(*len)++] = (char)c;
	}
	buf[*len] = '\0';
	if (ferror(f))
		return SIGNET_ERR_IO;
	return *len > 0 || *nl ? 1 : 0;
}

/*
 * Reads host h's file back (mu not needed: open only), verifying every
 * line as an offer would have been: the same origin and key, sizes that
 * follow on, each proof against the root before it. A torn last line is
 * cut off. Returns 0, or the failure with msg naming file and line.
 */
static int
load_host(struct agent_cp *cp, struct cp_host *h, struct err_msg *msg)
{
	struct agent_cp_step st;
	struct agent_cp_refusal ref;
	struct note_checkpoint c;
	struct keyset ks;
	struct err_msg m;
	char *path = NULL, *buf = NULL, *note = NULL;
	FILE *f = NULL;
	uint64_t lineno = 0;
	off_t off = 0;
	size_t len = 0;
	bool nl = false;
	int fd = -1, r;

	err_clear(&m);
	path = host_path(cp, h->id);
	buf = malloc(AGENT_CP_LINE_MAX + 1);
	if (path == NULL || buf == NULL) {
		r = err_set(msg, SIGNET_ERR_ALLOC, "out of memory");
		goto out;
	}
	r = cp->key(cp->key_arg, h->id, &ks, &m);
	if (r != 0) {
		r = err_set(msg, r, "%s: cannot verify it: %s", path, m.text);
		goto out;
	}
	r = open_file(path, O_RDWR, &fd, msg);
	if (r != 0)
		goto out;
	f = fdopen(fd, "r");
	if (f == NULL) {
		r = err_set(msg, SIGNET_ERR_IO, "%s: %s", path,
		    strerror(errno));
		goto out;
	}
	for (;;) {
		r = read_line(f, buf, &len, &nl);
		if (r == 0)
			break;
		lineno++;
		if (r < 0) {
			r = err_set(msg, r, "%s:%" PRIu64 ": %s", path, lineno,
			    r == SIGNET_ERR_TOO_LARGE ? "line too long" :
			                                "cannot read it");
			goto out;
		}
		if (!nl) {
			/* Torn by a crash during its append: never acked. */
			log_warn("%s:%" PRIu64 ": a torn last line (%zu "
			         "bytes, a crash during its append): cut off",
			    path, lineno, len);
			if (ftruncate(fd, off) != 0 || fsync(fd) != 0) {
				r = err_set(msg, SIGNET_ERR_IO,
				    "%s: cannot cut its torn last line: %s",
				    path, strerror(errno));
				goto out;
			}
			break;
		}
		free(note);
		r = agent_cp_parse_line(buf, len, &st, &note, &m);
		if (r == 0 && st.old != h->size)
			r = err_set(&m, SIGNET_ERR_CHAIN,
			    "the step starts at size %" PRIu64 ", the line "
			    "before ended at %" PRIu64,
			    st.old, h->size);
		if (r == 0) {
			r = open_checkpoint_keys(h->id, &ks, note, strlen(note),
			    &c, &ref);
			if (r == 1)
				r = err_set(&m, SIGNET_ERR_CHAIN, "%s: %s",
				    agent_cp_reason_name(ref.reason),
				    ref.detail);
		}
		if (r == 0 &&
		    (c.size != st.new ||
		        sodium_memcmp(c.root, st.new_root, MERKLE_HASH_LEN) !=
		            0))
			r = err_set(&m, SIGNET_ERR_CHAIN,
			    "the note is of size %" PRIu64 " and another root "
			    "than the step's (%" PRIu64 ")",
			    c.size, st.new);
		if (r == 0 && h->size > 0 &&
		    merkle_check_tree(
		        (const uint8_t(*)[MERKLE_HASH_LEN])st.hashes,
		        st.nhashes, st.new, st.new_root, h->size, h->root) != 0)
			r = err_set(&m, SIGNET_ERR_CHAIN,
			    "the proof from %" PRIu64 " to %" PRIu64 " does "
			    "not verify",
			    h->size, st.new);
		if (r != 0) {
			r = err_set(msg,
			    r == SIGNET_ERR_ALLOC ? r : SIGNET_ERR_CHAIN,
			    "%s:%" PRIu64 ": %s", path, lineno, m.text);
			goto out;
		}
		h->size = st.new;
		memcpy(h->root, st.new_root, MERKLE_HASH_LEN);
		free(h->note);
		h->note = note;
		h->note_len = strlen(note);
		note = NULL;
		h->steps++;
		off += (off_t)len + 1;
	}
	h->committed = off;
	r = 0;
out:
	if (f != NULL)
		(void)fclose(f);
	else if (fd >= 0)
		(void)close(fd);
	free(note);
	free(buf);
	free(path);
	return r;
}

/*
 * Appends the step as one line to h's file (mu held) and fsyncs it (and
 * the directory when the file is new). On failure the file is cut back
 * to what was committed.
 */
static int
append_step(struct agent_cp *cp, struct cp_host *h,
    const struct agent_cp_step *st, const char *note, struct err_msg *msg)
{
	struct stat sb;
	cJSON *o = NULL;
	char *path = NULL, *line = NULL;
	size_t len;
	int fd = -1, r;

	path = host_path(cp, h->id);
	o = step_json(st, note);
	line = o != NULL ? jsonx_print(o) : NULL;
	if (path == NULL || line == NULL) {
		r = err_set(msg, SIGNET_ERR_ALLOC, "out of memory");
		goto out;
	}
	len = strlen(line);
	line[len++] = '\n'; /* over the NUL: written by length */
	r = open_file(path, O_WRONLY | O_CREAT, &fd, msg);
	if (r != 0)
		goto out;
	if (fstat(fd, &sb) != 0 || sb.st_size != h->committed) {
		r = err_set(msg, SIGNET_ERR_IO,
		    "%s: %lld bytes, but %lld are committed: changed under "
		    "the server",
		    path, (long long)sb.st_size, (long long)h->committed);
		goto out;
	}
	if (lseek(fd, h->committed, SEEK_SET) < 0 ||
	    fileio_write_all(fd, line, len) != 0 || fsync(fd) != 0) {
		r = err_set(msg, SIGNET_ERR_IO, "%s: cannot append: %s", path,
		    strerror(errno));
		if (ftruncate(fd, h->committed) != 0)
			log_error("%s: cannot cut back a failed append: %s",
			    path, strerror(errno));
		goto out;
	}
	if (h->committed == 0) {
		r = fileio_sync_dir(cp->dir, msg);
		if (r != 0)
			goto out;
	}
	h->committed += (off_t)len;
	r = 0;
out:
	if (fd >= 0)
		(void)close(fd);
	cJSON_Delete(o);
	free(line);
	free(path);
	return r;
}

/* ---- the public calls ---- */

static void
host_free(struct cp_host *h)
{
	if (h == NULL)
		return;
	free(h->note);
	free(h->damaged);
	free(h);
}

void
agent_cp_free(struct agent_cp *cp)
{
	struct cp_host *h, *next;
	size_t i;

	if (cp == NULL)
		return;
	for (i = 0; i < CP_BUCKETS; i++)
		for (h = cp->buckets[i]; h != NULL; h = next) {
			next = h->next;
			host_free(h);
		}
	(void)pthread_mutex_destroy(&cp->mu);
	free(cp->dir);
	free(cp);
}

/* The directory: created when missing, ours, not open to others. */
static int
check_dir(const char *dir, struct err_msg *msg)
{
	struct stat sb;

	if (mkdir(dir, 0700) != 0 && errno != EEXIST)
		return err_set(msg, SIGNET_ERR_IO, "%s: cannot create it: %s",
		    dir, strerror(errno));
	if (lstat(dir, &sb) != 0)
		return err_set(msg, SIGNET_ERR_IO, "%s: %s", dir,
		    strerror(errno));
	if (!S_ISDIR(sb.st_mode) || sb.st_uid != geteuid() ||
	    (sb.st_mode & 022) != 0)
		return err_set(msg, SIGNET_ERR_PERMISSIONS,
		    "%s: not a directory of this user, or writable by group "
		    "or others",
		    dir);
	return 0;
}

int
agent_cp_open(const char *dir, agent_cp_key_fn key, void *key_arg,
    struct agent_cp **out, size_t *damaged, struct err_msg *msg)
{
	struct agent_cp *cp = NULL;
	struct dirent *e;
	struct cp_host *h;
	struct err_msg m;
	char id[IDENTITY_NAME_MAX + 1];
	size_t n, bad = 0, hosts = 0, suffix = strlen(AGENT_CP_SUFFIX);
	DIR *d = NULL;
	int r;

	*out = NULL;
	if (damaged != NULL)
		*damaged = 0;
	if (dir == NULL || key == NULL)
		return err_set(msg, SIGNET_ERR_INVALID_ARG,
		    "agent checkpoints: no directory or key function");
	r = check_dir(dir, msg);
	if (r != 0)
		return r;
	cp = calloc(1, sizeof(*cp));
	if (cp == NULL || (cp->dir = strdup(dir)) == NULL) {
		free(cp);
		return err_set(msg, SIGNET_ERR_ALLOC, "out of memory");
	}
	if (pthread_mutex_init(&cp->mu, NULL) != 0) {
		free(cp->dir);
		free(cp);
		return err_set(msg, SIGNET_ERR_INTERNAL, "cannot make a lock");
	}
	cp->key = key;
	cp->key_arg = key_arg;
	d = opendir(dir);
	if (d == NULL) {
		r = err_set(msg, SIGNET_ERR_IO, "%s: %s", dir, strerror(errno));
		goto out;
	}
	while ((e = readdir(d)) != NULL) {
		n = strlen(e->d_name);
		if (n <= suffix || n - suffix > IDENTITY_NAME_MAX ||
		    strcmp(e->d_name + n - suffix, AGENT_CP_SUFFIX) != 0)
			continue;
		memcpy(id, e->d_name, n - suffix);
		id[n - suffix] = '\0';
		if (!text_valid_name(id))
			continue;
		h = host_get(cp, id, true);
		if (h == NULL) {
			r = err_set(msg, SIGNET_ERR_ALLOC, "out of memory");
			goto out;
		}
		hosts++;
		err_clear(&m);
		r = load_host(cp, h, &m);
		if (r == SIGNET_ERR_ALLOC) {
			r = err_set(msg, r, "out of memory");
			goto out;
		}
		if (r != 0) {
			/* Loud, and for this host only: nothing taken. */
			log_error("agent %s's checkpoints refused: %s; none "
			          "are taken for it until the file is moved "
			          "aside (or its key fixed)",
			    id, m.text);
			h->size = 0;
			free(h->note);
			h->note = NULL;
			h->damaged = strdup(m.text);
			if (h->damaged == NULL) {
				r = err_set(msg, SIGNET_ERR_ALLOC,
				    "out of memory");
				goto out;
			}
			bad++;
		}
	}
	log_info("agents' checkpoints: %zu host(s) read back from %s, %zu "
	         "refused",
	    hosts, dir, bad);
	if (damaged != NULL)
		*damaged = bad;
	*out = cp;
	cp = NULL;
	r = 0;
out:
	if (d != NULL)
		(void)closedir(d);
	agent_cp_free(cp);
	return r;
}

/* The host, sound (mu held). NULL with *r set when damaged. */
static struct cp_host *
sound_host(struct agent_cp *cp, const char *id, bool create, int *r,
    struct err_msg *msg)
{
	struct cp_host *h = host_get(cp, id, create);

	*r = 0;
	if (h == NULL && create)
		*r = err_set(msg, SIGNET_ERR_ALLOC, "out of memory");
	if (h != NULL && h->damaged != NULL) {
		*r = err_set(msg, SIGNET_ERR_CHAIN,
		    "agent %s's checkpoint file is refused: %s", id,
		    h->damaged);
		h = NULL;
	}
	return h;
}

int
agent_cp_offer(struct agent_cp *cp, const char *host_id, const char *note,
    size_t note_len, uint64_t old, const uint8_t (*proof)[MERKLE_HASH_LEN],
    size_t nproof, uint64_t *acked, struct agent_cp_refusal *ref,
    struct err_msg *msg)
{
	struct agent_cp_step st;
	struct note_checkpoint c;
	struct keyset ks;
	struct cp_host *h;
	char *copy = NULL;
	int r;

	*acked = 0;
	memset(ref, 0, sizeof(ref[0]));
	r = check_host(host_id, msg);
	if (r != 0)
		return r;
	if (note == NULL || (proof == NULL && nproof > 0) ||
	    nproof > MERKLE_PROOF_MAX)
		return err_set(msg, SIGNET_ERR_INVALID_ARG,
		    "agent checkpoint: no note, or a bad proof");
	r = cp->key(cp->key_arg, host_id, &ks, msg);
	if (r != 0)
		return r;
	if (!ks.has_current)
		return err_set(msg, SIGNET_ERR_NOT_FOUND,
		    "agent checkpoint: host %s has no current result key",
		    host_id);
	(void)pthread_mutex_lock(&cp->mu);
	h = sound_host(cp, host_id, true, &r, msg);
	if (h == NULL)
		goto out;
	ref->held_size = h->size;
	r = open_checkpoint(host_id, &ks.keys[0].pub, note, note_len, &c, ref);
	if (r == 0)
		r = judge(h, &c, old, proof, nproof, ref);
	if (r == 2) {
		*acked = h->size;
		r = 0;
		goto out;
	}
	if (r != 0)
		goto out;
	memset(&st, 0, sizeof(st));
	st.old = h->size;
	st.new = c.size;
	memcpy(st.new_root, c.root, MERKLE_HASH_LEN);
	if (h->size > 0) {
		st.nhashes = nproof;
		memcpy(st.hashes, proof, nproof * MERKLE_HASH_LEN);
	}
	copy = malloc(note_len + 1);
	if (copy == NULL) {
		r = err_set(msg, SIGNET_ERR_ALLOC, "out of memory");
		goto out;
	}
	memcpy(copy, note, note_len);
	copy[note_len] = '\0';
	r = append_step(cp, h, &st, copy, msg);
	if (r != 0)
		goto out;
	h->size = c.size;
	memcpy(h->root, c.root, MERKLE_HASH_LEN);
	free(h->note);
	h->note = copy;
	h->note_len = note_len;
	copy = NULL;
	h->steps++;
	*acked = h->size;
	r = 0;
out:
	(void)pthread_mutex_unlock(&cp->mu);
	free(copy);
	return r;
}

int
agent_cp_held(struct agent_cp *cp, const char *host_id, uint64_t *size,
    struct err_msg *msg)
{
	struct cp_host *h;
	int r;

	*size = 0;
	r = check_host(host_id, msg);
	if (r != 0)
		return r;
	(void)pthread_mutex_lock(&cp->mu);
	h = sound_host(cp, host_id, false, &r, msg);
	if (h != NULL)
		*size = h->size;
	(void)pthread_mutex_unlock(&cp->mu);
	return r;
}

int
agent_cp_latest(struct agent_cp *cp, const char *host_id, char **note,
    size_t *len, uint64_t *size, struct err_msg *msg)
{
	struct cp_host *h;
	int r;

	*note = NULL;
	*len = 0;
	*size = 0;
	r = check_host(host_id, msg);
	if (r != 0)
		return r;
	(void)pthread_mutex_lock(&cp->mu);
	h = sound_host(cp, host_id, false, &r, msg);
	if (r == 0 && (h == NULL || h->note == NULL))
		r = err_set(msg, SIGNET_ERR_NOT_FOUND,
		    "the server holds no checkpoint of agent/%s", host_id);
	if (r == 0) {
		*note = malloc(h->note_len + 1);
		if (*note == NULL) {
			r = err_set(msg, SIGNET_ERR_ALLOC, "out of memory");
		} else {
			memcpy(*note, h->note, h->note_len + 1);
			*len = h->note_len;
			*size = h->size;
		}
	}
	(void)pthread_mutex_unlock(&cp->mu);
	return r;
}

/* Appends " N" to the list of sizes named in a NOT_FOUND message. */
static void
note_size(uint64_t ring[static CP_SIZES_SHOWN], uint64_t *count, uint64_t v)
{
	ring[*count % CP_SIZES_SHOWN] = v;
	(*count)++;
}

static int
not_held(const char *host_id, uint64_t old, uint64_t new,
    const uint64_t ring[static CP_SIZES_SHOWN], uint64_t count,
    struct err_msg *msg)
{
	char list[CP_SIZES_SHOWN * 22 + 8];
	size_t off = 0;
	uint64_t i, first = count > CP_SIZES_SHOWN ? count - CP_SIZES_SHOWN : 0;
	int n;

	list[0] = '\0';
	for (i = first; i < count; i++) {
		n = snprintf(list + off, sizeof(list) - off, "%s%" PRIu64,
		    i == first ? "" : ", ", ring[i % CP_SIZES_SHOWN]);
		if (n < 0 || (size_t)n >= sizeof(list) - off)
			break;
		off += (size_t)n;
	}
	return err_set(msg, SIGNET_ERR_NOT_FOUND,
	    "no steps of agent/%s from %" PRIu64 " to %" PRIu64 ": old must be "
	    "0 or a size the server accepted, new an accepted size; it "
	    "holds %" PRIu64 " size(s)%s%s",
	    host_id, old, new, count,
	    count > CP_SIZES_SHOWN ? ", the last: " :
	        count > 0          ? ": " :
	                             "",
	    list);
}

int
agent_cp_steps(struct agent_cp *cp, const char *host_id, uint64_t old,
    uint64_t new, cJSON **steps, struct err_msg *msg)
{
	struct agent_cp_step st;
	struct cp_host *h;
	struct err_msg m;
	uint64_t ring[CP_SIZES_SHOWN], count = 0, lineno = 0;
	char *path = NULL, *buf = NULL, *note = NULL;
	cJSON *arr = NULL, *o;
	bool has_old = old == 0, has_new = false, nl;
	off_t committed = 0, off = 0;
	size_t len = 0, taken = 0;
	FILE *f = NULL;
	int fd = -1, r;

	*steps = NULL;
	r = check_host(host_id, msg);
	if (r != 0)
		return r;
	(void)pthread_mutex_lock(&cp->mu);
	h = sound_host(cp, host_id, false, &r, msg);
	if (h != NULL)
		committed = h->committed;
	(void)pthread_mutex_unlock(&cp->mu);
	if (r != 0)
		return r;
	if (old > new || (committed == 0 && new > 0))
		return not_held(host_id, old, new, ring, 0, msg);
	if (committed == 0) {
		*steps = cJSON_CreateArray();
		return *steps != NULL ?
		    0 :
		    err_set(msg, SIGNET_ERR_ALLOC, "out of memory");
	}
	path = host_path(cp, host_id);
	buf = malloc(AGENT_CP_LINE_MAX + 1);
	arr = cJSON_CreateArray();
	if (path == NULL || buf == NULL || arr == NULL) {
		r = err_set(msg, SIGNET_ERR_ALLOC, "out of memory");
		goto out;
	}
	r = open_file(path, O_RDONLY, &fd, msg);
	if (r == 0 && (f = fdopen(fd, "r")) == NULL)
		r = err_set(msg, SIGNET_ERR_IO, "%s: %s", path,
		    strerror(errno));
	if (r != 0)
		goto out;
	/* Only what was committed when this began: appends come after. */
	while (off < committed) {
		r = read_line(f, buf, &len, &nl);
		lineno++;
		if (r == 0 || (r == 1 && !nl))
			r = SIGNET_ERR_IO; /* shorter than committed */
		if (r == 1)
			r = agent_cp_parse_line(buf, len, &st, &note, &m);
		free(note);
		note = NULL;
		if (r != 0) {
			r = err_set(msg,
			    r == SIGNET_ERR_ALLOC ? r : SIGNET_ERR_IO,
			    "%s:%" PRIu64 ": cannot read it back", path,
			    lineno);
			goto out;
		}
		off += (off_t)len + 1;
		note_size(ring, &count, st.new);
		has_old = has_old || st.new == old;
		has_new = has_new || st.new == new;
		if (st.old < old || st.new > new)
			continue;
		if (++taken > AGENT_CP_STEPS_MAX) {
			r = err_set(msg, SIGNET_ERR_TOO_LARGE,
			    "more than %d steps from %" PRIu64 " to %" PRIu64
			    ": ask for a shorter range",
			    AGENT_CP_STEPS_MAX, old, new);
			goto out;
		}
		o = step_json(&st, NULL);
		if (o == NULL || !cJSON_AddItemToArray(arr, o)) {
			cJSON_Delete(o);
			r = err_set(msg, SIGNET_ERR_ALLOC, "out of memory");
			goto out;
		}
	}
	if (!has_old || !(has_new || new == old)) {
		r = not_held(host_id, old, new, ring, count, msg);
		goto out;
	}
	*steps = arr;
	arr = NULL;
	r = 0;
out:
	if (f != NULL)
		(void)fclose(f);
	else if (fd >= 0)
		(void)close(fd);
	cJSON_Delete(arr);
	free(buf);
	free(path);
	return r;
}
