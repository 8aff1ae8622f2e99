/* SPDX-License-Identifier: ISC */
/*
 * Witness cosignatures of the server's checkpoints (witnesses.h): the
 * known witness keys, the check that a cosigned checkpoint is this log's
 * own, the durable record of each new cosignature (audit.cosigned in the
 * log, a line in PATH.cosignatures) and the newest cosigned checkpoint
 * the API serves. PATH.cosignatures holds one JSON object per line:
 * {"size","witness","key_id","timestamp","line","checkpoint"}, where line
 * is the cosignature line and checkpoint the server's signed note it
 * cosigns; read back at start, a torn last line ignored.
 */
#include "witnesses.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "audit_tree.h"
#include "fileio.h"
#include "jsonx.h"
#include "log.h"
#include "note.h"
#include "server_ctx.h"
#include "text.h"

#define WITNESS_KEYS_FILE_MAX (64 * 1024)
#define LINE_MAX_BYTES (NOTE_SIZE_MAX + 4096)

struct witness_line {
	int witness; /* index into known */
	char *line;  /* the signature line, with its newline */
};

struct witnesses {
	pthread_mutex_t mu;
	/* known[0]: the log itself; then the witnesses. */
	struct note_verifier known[WITNESSES_MAX + 1];
	size_t nknown;
	char *path; /* PATH.cosignatures */
	/* The newest cosigned checkpoint: its note and its witnesses' lines. */
	uint64_t size;
	char *base; /* the server's signed checkpoint, NULL: none */
	struct witness_line lines[WITNESSES_MAX];
	size_t nlines;
};

size_t
witnesses_count(const struct witnesses *ws)
{
	return ws->nknown - 1;
}

static int
load_keys(struct witnesses *ws, const char *path, struct err_msg *msg)
{
	char *buf = NULL, *line, *save = NULL;
	unsigned lineno = 0;
	size_t len = 0;
	int r;

	r = fileio_read_trusted(path, WITNESS_KEYS_FILE_MAX, "the witness keys",
	    &buf, &len, msg);
	if (r != 0)
		return r;
	for (line = strtok_r(buf, "\n", &save); line != NULL;
	     line = strtok_r(NULL, "\n", &save)) {
		struct note_verifier *v;
		struct err_msg sub;
		size_t i;

		lineno++;
		while (*line == ' ' || *line == '\t')
			line++;
		if (*line == '\0' || *line == '#')
			continue;
		if (ws->nknown == WITNESSES_MAX + 1) {
			r = err_set(msg, SIGNET_ERR_CONFIG,
			    "%s:%u: more than %d witness keys", path, lineno,
			    WITNESSES_MAX);
			goto out;
		}
		v = &ws->known[ws->nknown];
		r = note_verifier_parse(line, strlen(line), v, &sub);
		if (r == 0 && v->type != NOTE_TYPE_COSIG)
			r = err_set(&sub, SIGNET_ERR_FORMAT,
			    "not a cosignature key (type 0x04)");
		for (i = 1; r == 0 && i < ws->nknown; i++)
			if (strcmp(ws->known[i].name, v->name) == 0)
				r = err_set(&sub, SIGNET_ERR_FORMAT,
				    "witness \"%s\" twice", v->name);
		if (r != 0) {
			r = err_set(msg, SIGNET_ERR_CONFIG, "%s:%u: %s", path,
			    lineno, sub.text);
			goto out;
		}
		ws->nknown++;
	}
	r = 0;
out:
	free(buf);
	return r;
}

static int
find_witness(const struct witnesses *ws, const char *name)
{
	size_t i;

	for (i = 1; i < ws->nknown; i++)
		if (strcmp(ws->known[i].name, name) == 0)
			return (int)i;
	return -1;
}

/* Whether the newest cosigned checkpoint has witness i's line. */
static bool
has_line(const struct witnesses *ws, int witness)
{
	size_t i;

	for (i = 0; i < ws->nlines; i++)
		if (ws->lines[i].witness == witness)
			return true;
	return false;
}

static void
drop_latest(struct witnesses *ws)
{
	size_t i;

	free(ws->base);
	ws->base = NULL;
	for (i = 0; i < ws->nlines; i++)
		free(ws->lines[i].line);
	ws->nlines = 0;
	ws->size = 0;
}

/*
 * Makes (size, base, line of witness) the newest cosigned checkpoint, or
 * adds the line to it. Takes nothing over. 0 or SIGNET_ERR_ALLOC.
 */
static int
note_latest(struct witnesses *ws, uint64_t size, const char *base, int witness,
    const char *line, size_t line_len)
{
	char *copy;

	if (ws->base != NULL && size < ws->size)
		return 0;
	if (ws->base == NULL || size > ws->size) {
		drop_latest(ws);
		ws->base = strdup(base);
		if (ws->base == NULL)
			return SIGNET_ERR_ALLOC;
		ws->size = size;
	}
	if (has_line(ws, witness) || ws->nlines == WITNESSES_MAX)
		return 0;
	copy = malloc(line_len + 1);
	if (copy == NULL)
		return SIGNET_ERR_ALLOC;
	memcpy(copy, line, line_len);
	copy[line_len] = '\0';
	ws->lines[ws->nlines].witness = witness;
	ws->lines[ws->nlines].line = copy;
	ws->nlines++;
	return 0;
}

/* Reads PATH.cosignatures back: the newest cosigned checkpoint. */
static int
load_file(struct witnesses *ws, struct err_msg *msg)
{
	static const char *const members[] = { "size", "witness", "key_id",
		"timestamp", "line", "checkpoint", NULL };
	FILE *f;
	char *buf = NULL;
	unsigned lineno = 0;
	int r = 0;

	f = fopen(ws->path, "re");
	if (f == NULL)
		return errno == ENOENT ? 0 :
		                         err_set(msg, SIGNET_ERR_IO, "%s: %s",
		                             ws->path, strerror(errno));
	buf = malloc(LINE_MAX_BYTES + 2);
	if (buf == NULL) {
		r = err_set(msg, SIGNET_ERR_ALLOC, "out of memory");
		goto out;
	}
	while (fgets(buf, LINE_MAX_BYTES + 2, f) != NULL) {
		size_t len = strlen(buf);
		const char *name = NULL, *line = NULL, *base = NULL;
		int64_t size = 0;
		cJSON *o = NULL;
		int witness;

		lineno++;
		if (len == 0 || buf[len - 1] != '\n') {
			if (feof(f)) {
				log_warn("%s:%u: a torn last line (a crash "
				         "while writing): ignored",
				    ws->path, lineno);
				break;
			}
			r = err_set(msg, SIGNET_ERR_FORMAT,
			    "%s:%u: line too long", ws->path, lineno);
			goto out;
		}
		r = jsonx_parse_object("cosignature", buf, len - 1, 4, &o, msg);
		if (r == 0)
			r = jsonx_only_members(o, members, "cosignature", msg);
		if (r == 0)
			r = jsonx_get_int64(o, "size", 1, JSONX_INT_MAX,
			    "cosignature", &size, msg);
		if (r == 0)
			r = jsonx_get_string(o, "witness", false, "cosignature",
			    &name, msg);
		if (r == 0)
			r = jsonx_get_string(o, "line", false, "cosignature",
			    &line, msg);
		if (r == 0)
			r = jsonx_get_string(o, "checkpoint", false,
			    "cosignature", &base, msg);
		if (r != 0) {
			cJSON_Delete(o);
			r = err_set(msg, SIGNET_ERR_FORMAT, "%s:%u: %s",
			    ws->path, lineno, msg->text);
			goto out;
		}
		/* A witness no longer known: its line is not served. */
		witness = find_witness(ws, name);
		if (witness > 0 &&
		    note_latest(ws, (uint64_t)size, base, witness, line,
		        strlen(line)) != 0)
			r = err_set(msg, SIGNET_ERR_ALLOC, "out of memory");
		cJSON_Delete(o);
		if (r != 0)
			goto out;
	}
	if (ferror(f))
		r = err_set(msg, SIGNET_ERR_IO, "%s: read error", ws->path);
out:
	free(buf);
	(void)fclose(f);
	return r;
}

int
witnesses_open(const char *keys_path, const char *audit_path,
    const char *origin, const struct keys_public *audit_pub,
    struct witnesses **out, struct err_msg *msg)
{
	struct witnesses *ws;
	size_t n;
	int r;

	*out = NULL;
	ws = calloc(1, sizeof(*ws));
	if (ws == NULL)
		return err_set(msg, SIGNET_ERR_ALLOC, "out of memory");
	(void)pthread_mutex_init(&ws->mu, NULL);
	n = strlen(audit_path) + sizeof(WITNESSES_SUFFIX);
	ws->path = malloc(n);
	if (ws->path == NULL) {
		r = err_set(msg, SIGNET_ERR_ALLOC, "out of memory");
		goto out;
	}
	(void)snprintf(ws->path, n, "%s%s", audit_path, WITNESSES_SUFFIX);
	r = note_verifier_init(&ws->known[0], origin, NOTE_TYPE_ED25519,
	    audit_pub->pk);
	if (r != 0) {
		r = err_set(msg, SIGNET_ERR_CONFIG,
		    "the checkpoint origin \"%s\" is not a note key name",
		    origin);
		goto out;
	}
	ws->nknown = 1;
	if (keys_path != NULL) {
		r = load_keys(ws, keys_path, msg);
		if (r != 0)
			goto out;
	}
	r = load_file(ws, msg);
	if (r != 0)
		goto out;
	*out = ws;
	ws = NULL;
out:
	witnesses_free(ws);
	return r;
}

/* Appends one JSON line to PATH.cosignatures and syncs it. */
static int
append_line(struct witnesses *ws, const cJSON *o, struct err_msg *msg)
{
	char *text = jsonx_print(o);
	size_t len;
	int fd = -1, r;

	if (text == NULL)
		return err_set(msg, SIGNET_ERR_ALLOC, "out of memory");
	len = strlen(text);
	text[len] = '\0';
	fd = open(ws->path,
	    O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		r = err_set(msg, SIGNET_ERR_IO, "%s: %s", ws->path,
		    strerror(errno));
		goto out;
	}
	if (fileio_write_all(fd, text, len) != 0 ||
	    fileio_write_all(fd, "\n", 1) != 0 || fdatasync(fd) != 0) {
		r = err_set(msg, SIGNET_ERR_IO, "%s: cannot append: %s",
		    ws->path, strerror(errno));
		goto out;
	}
	r = 0;
out:
	if (fd >= 0)
		(void)close(fd);
	free(text);
	return r;
}

/*
 * Keeps one new cosignature (ws->mu held): recorded in the audit log
 * first, then in PATH.cosignatures, then served.
 */
static int
keep(struct witnesses *ws, struct audit_writer *w, const struct note *n,
    const struct note_checkpoint *cp, const char *base, int witness,
    const struct note_sig *sig, struct err_msg *msg)
{
	const struct note_verifier *v = &ws->known[witness];
	const char *line = n->buf + sig->line_off;
	size_t line_len = sig->line_len;
	char key_id[NOTE_KEY_ID_HEX + 1], root[64], *text = NULL;
	cJSON *d = NULL, *f = NULL;
	bool ok;
	int r;

	(void)snprintf(key_id, sizeof(key_id), "%08" PRIx32, v->key_id);
	sodium_bin2base64(root, sizeof(root), cp->root, sizeof(cp->root),
	    sodium_base64_VARIANT_ORIGINAL);
	text = malloc(line_len + 1);
	if (text == NULL)
		return err_set(msg, SIGNET_ERR_ALLOC, "out of memory");
	memcpy(text, line, line_len);
	/* The line without its newline, as recorded. */
	text[line_len > 0 && line[line_len - 1] == '\n' ? line_len - 1 :
	                                                  line_len] = '\0';
	d = cJSON_CreateObject();
	ok = d != NULL && cJSON_AddStringToObject(d, "witness", v->name) &&
	    cJSON_AddStringToObject(d, "witness_key_id", key_id) &&
	    cJSON_AddStringToObject(d, "origin", cp->origin) &&
	    jsonx_add_int64(d, "size", (int64_t)cp->size) &&
	    cJSON_AddStringToObject(d, "root", root) &&
	    jsonx_add_int64(d, "timestamp", (int64_t)sig->timestamp) &&
	    cJSON_AddStringToObject(d, "line", text);
	r = audit_event(w, "audit.cosigned", SERVER_ACTOR, d, ok);
	if (r != 0) {
		r = err_set(msg, SIGNET_ERR_IO,
		    "the cosignature could not be recorded in the audit log");
		goto out;
	}
	f = cJSON_CreateObject();
	ok = f != NULL && jsonx_add_int64(f, "size", (int64_t)cp->size) &&
	    cJSON_AddStringToObject(f, "witness", v->name) &&
	    cJSON_AddStringToObject(f, "key_id", key_id) &&
	    jsonx_add_int64(f, "timestamp", (int64_t)sig->timestamp) &&
	    cJSON_AddStringToObject(f, "line", text) &&
	    cJSON_AddStringToObject(f, "checkpoint", base);
	if (!ok) {
		r = err_set(msg, SIGNET_ERR_ALLOC, "out of memory");
		goto out;
	}
	r = append_line(ws, f, msg);
	if (r != 0)
		goto out;
	(void)snprintf(text + strlen(text), 2, "\n");
	r = note_latest(ws, cp->size, base, witness, text, strlen(text));
	if (r != 0)
		r = err_set(msg, r, "out of memory");
out:
	cJSON_Delete(f);
	free(text);
	return r;
}

int
witnesses_accept(struct witnesses *ws, struct audit_writer *w, const char *note,
    size_t len, struct witnesses_result *res, struct err_msg *msg)
{
	uint8_t proof[MERKLE_PROOF_MAX][MERKLE_HASH_LEN];
	uint8_t root[MERKLE_HASH_LEN];
	struct note_checkpoint cp;
	const struct note_sig *own, *sig;
	struct note *n = NULL;
	char *base = NULL;
	size_t plen = 0, i, blen;
	bool cosigned = false;
	int r;

	memset(res, 0, sizeof(*res));
	(void)pthread_mutex_lock(&ws->mu);
	if (ws->nknown == 1) {
		r = err_set(msg, SIGNET_ERR_UNKNOWN_KEY,
		    "this server knows no witness ([audit] witness_keys)");
		goto out;
	}
	/* Whose checkpoint it says it is, before any signature is judged. */
	r = note_parse(note, len, &n, msg);
	if (r == 0)
		r = note_checkpoint_parse(n->buf, n->text_len, &cp, msg);
	note_free(n);
	n = NULL;
	if (r != 0)
		goto out;
	if (strcmp(cp.origin, ws->known[0].name) != 0) {
		r = err_set(msg, SIGNET_ERR_CHAIN,
		    "not a checkpoint of this log: its origin is not %s",
		    ws->known[0].name);
		goto out;
	}
	r = note_checkpoint_open(note, len, ws->known, ws->nknown, 0, &n, &cp,
	    msg);
	if (r != 0)
		goto out;
	res->size = cp.size;
	/* Ours: the root our tree has at that size (and no later). */
	r = audit_tree_prove(w, cp.size, cp.size, proof, &plen, root, msg);
	if (r == SIGNET_ERR_INVALID_ARG)
		r = err_set(msg, SIGNET_ERR_CHAIN,
		    "not a checkpoint of this log: %s", msg->text);
	if (r != 0)
		goto out;
	if (sodium_memcmp(root, cp.root, sizeof(root)) != 0) {
		r = err_set(msg, SIGNET_ERR_CHAIN,
		    "not a checkpoint of this log: its root at size %" PRIu64
		    " is not this tree's (a split view?)",
		    cp.size);
		goto out;
	}
	own = note_signed_by(n, 0);
	blen = n->text_len + 1 + own->line_len;
	base = malloc(blen + 1);
	if (base == NULL) {
		r = err_set(msg, SIGNET_ERR_ALLOC, "out of memory");
		goto out;
	}
	memcpy(base, n->buf, n->text_len);
	base[n->text_len] = '\n';
	memcpy(base + n->text_len + 1, n->buf + own->line_off, own->line_len);
	base[blen] = '\0';
	for (i = 1; i < ws->nknown; i++) {
		sig = note_signed_by(n, (int)i);
		if (sig == NULL)
			continue;
		cosigned = true;
		if (ws->base != NULL && cp.size == ws->size &&
		    has_line(ws, (int)i)) {
			res->already++;
			continue;
		}
		r = keep(ws, w, n, &cp, base, (int)i, sig, msg);
		if (r != 0)
			goto out;
		res->taken++;
	}
	if (!cosigned) {
		r = err_set(msg, SIGNET_ERR_UNKNOWN_KEY,
		    "no cosignature from a known witness");
		goto out;
	}
	/* Nothing new, and a line this server cannot judge: say so. */
	for (i = 0; res->taken == 0 && i < n->nsigs; i++)
		if (n->sigs[i].verifier < 0) {
			r = err_set(msg, SIGNET_ERR_UNKNOWN_KEY,
			    "a cosignature from a witness this server does "
			    "not know (%s); nothing new kept",
			    n->sigs[i].name);
			break;
		}
out:
	(void)pthread_mutex_unlock(&ws->mu);
	note_free(n);
	free(base);
	return r;
}

int
witnesses_latest(struct witnesses *ws, char **note, size_t *len, uint64_t *size)
{
	size_t total, i, at;
	int r = SIGNET_ERR_NOT_FOUND;

	*note = NULL;
	*len = 0;
	*size = 0;
	(void)pthread_mutex_lock(&ws->mu);
	if (ws->base == NULL)
		goto out;
	total = strlen(ws->base);
	for (i = 0; i < ws->nlines; i++)
		total += strlen(ws->lines[i].line);
	*note = malloc(total + 1);
	if (*note == NULL) {
		r = SIGNET_ERR_ALLOC;
		goto out;
	}
	at = strlen(ws->base);
	memcpy(*note, ws->base, at);
	for (i = 0; i < ws->nlines; i++) {
		size_t l = strlen(ws->lines[i].line);

		memcpy(*note + at, ws->lines[i].line, l);
		at += l;
	}
	(*note)[at] = '\0';
	*len = at;
	*size = ws->size;
	r = 0;
out:
	(void)pthread_mutex_unlock(&ws->mu);
	return r;
}

void
witnesses_free(struct witnesses *ws)
{
	if (ws == NULL)
		return;
	drop_latest(ws);
	free(ws->path);
	(void)pthread_mutex_destroy(&ws->mu);
	free(ws);
}
