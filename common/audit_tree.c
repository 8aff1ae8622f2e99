/* SPDX-License-Identifier: ISC */
/*
 * The writer's Merkle tree and its checkpoints (audit_tree.h): every
 * record the writer appends goes into PATH.merkle as a leaf, under the
 * writer's lock and in seq order; at open the store is brought up to the
 * log from the log's own lines; a thread of its own signs a checkpoint of
 * the records already durable at a fixed interval while records arrive.
 * The store is derived data: when it cannot be kept the tree stops (said
 * once in the daemon's log) and the audit log goes on.
 */
#include "audit_tree.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "audit_writer_int.h"
#include "fileio.h"
#include "log.h"
#include "note.h"

struct audit_tree {
	struct merkle_store *store; /* under the writer's mu */
	bool broken;                /* under the writer's mu */
	char *checkpoint_path;
	/* The publisher: one checkpoint at a time. */
	pthread_mutex_t publish_mu;
	/* The latest checkpoint and the thread's state, under state_mu. */
	pthread_mutex_t state_mu;
	pthread_cond_t state_cv; /* on CLOCK_MONOTONIC */
	bool started, running, stop;
	pthread_t thread;
	char origin[AUDIT_ORIGIN_MAX + 1];
	int interval_s;
	audit_checkpoint_fn fn;
	void *fn_arg;
	char *note; /* the latest checkpoint, NULL before the first */
	size_t note_len;
	uint64_t note_size;
	char last_error[ERR_MSG_MAX]; /* logged once per kind */
};

/* Stops keeping the tree (w->mu held): said once, checkpoints stop. */
static void
tree_break(struct audit_writer *w, const char *why)
{
	if (w->tree->broken)
		return;
	w->tree->broken = true;
	log_error("audit tree of %s stopped: %s; no more checkpoints until "
	          "the next start rebuilds it from the log",
	    w->path, why);
}

void
audit_tree_note(struct audit_writer *w, uint64_t seq, const char *line,
    size_t len)
{
	uint8_t leaf[MERKLE_HASH_LEN];
	struct err_msg m;
	char why[ERR_MSG_MAX + 64];

	if (w->tree == NULL || w->tree->broken)
		return;
	if (merkle_store_size(w->tree->store) != seq) {
		(void)snprintf(why, sizeof(why),
		    "the store holds %" PRIu64 " records but the next record "
		    "is seq %" PRIu64,
		    merkle_store_size(w->tree->store), seq);
		tree_break(w, why);
		return;
	}
	merkle_leaf_hash(line, len, leaf);
	if (merkle_store_append(w->tree->store, leaf, &m) != 0)
		tree_break(w, m.text);
}

/* The stored leaf hash of record n (w->mu held). */
static int
stored_leaf(struct merkle_store *s, uint64_t n,
    uint8_t out[static MERKLE_HASH_LEN])
{
	struct merkle_reader rd = merkle_store_reader(s);
	uint64_t index = merkle_stored_index(0, n);

	return rd.read(rd.arg, &index, 1, (uint8_t(*)[MERKLE_HASH_LEN])out);
}

/*
 * Reads one file of the log, appending the leaves of its records from
 * the store's size on; checks the leaf of record check_seq (when
 * has_check) against the store. *diverged when that check fails.
 */
static int
catch_up_file(struct merkle_store *s, const char *path, bool has_check,
    uint64_t check_seq, bool *diverged, struct err_msg *msg)
{
	struct audit_reader *rd = NULL;
	struct audit_record rec;
	uint8_t leaf[MERKLE_HASH_LEN], want[MERKLE_HASH_LEN];
	uint64_t seq = 0;
	bool first = true, nl = false;
	char *line = NULL;
	size_t len = 0;
	int r;

	r = audit_reader_open(path, &rd, msg);
	if (r != 0)
		return r;
	while ((r = audit_reader_next(rd, &line, &len, &nl)) == 1 && nl) {
		if (first) {
			/* The first record says where the file starts; the
			 * rest follow on, as the writer wrote them. */
			r = audit_parse_line(line, len, &rec, msg);
			if (r != 0)
				goto out;
			seq = rec.seq;
			audit_record_free(&rec);
			first = false;
		} else {
			seq++;
		}
		if (has_check && seq == check_seq) {
			merkle_leaf_hash(line, len, leaf);
			r = stored_leaf(s, seq, want);
			if (r != 0) {
				r = err_set(msg, r, "%s: cannot read its leaf",
				    path);
				goto out;
			}
			if (memcmp(leaf, want, sizeof(leaf)) != 0) {
				*diverged = true;
				r = 0;
				goto out;
			}
		}
		if (seq < merkle_store_size(s))
			continue;
		if (seq != merkle_store_size(s)) {
			r = err_set(msg, SIGNET_ERR_CHAIN,
			    "%s: line %" PRIu64 " is seq %" PRIu64
			    " but the tree needs seq %" PRIu64 " next",
			    path, audit_reader_lineno(rd), seq,
			    merkle_store_size(s));
			goto out;
		}
		merkle_leaf_hash(line, len, leaf);
		r = merkle_store_append(s, leaf, msg);
		if (r != 0)
			goto out;
	}
	if (r < 0)
		r = err_set(msg, r, "%s: line %" PRIu64 ": cannot read it",
		    path, audit_reader_lineno(rd) + 1);
out:
	audit_reader_close(rd);
	return r < 0 ? r : 0;
}

/*
 * Brings the store up to the log's next_seq records (w->mu held): from
 * the store's last record on, after checking that one is the log's; from
 * the start when it is not.
 */
static int
catch_up(struct audit_writer *w, struct merkle_store *s, struct err_msg *msg)
{
	char **files = NULL, missing[AUDIT_NAME_MAX + 1] = "";
	size_t nfiles = 0, i;
	uint64_t from, have;
	bool diverged = false;
	int r = 0, attempt;

	if (merkle_store_size(s) > w->next_seq) {
		r = merkle_store_truncate(s, w->next_seq, msg);
		if (r != 0)
			return r;
	}
	/* Its last leaf checked even when it is as long as the log. */
	for (attempt = 0; attempt < 2; attempt++) {
		have = merkle_store_size(s);
		if (have == 0 && w->next_seq == 0)
			break;
		from = have > 0 ? have - 1 : 0;
		r = audit_chain_files(w->path, INT64_MIN, from, &files, &nfiles,
		    missing, msg);
		if (r != 0)
			return r;
		if (missing[0] != '\0') {
			r = err_set(msg, SIGNET_ERR_CHAIN,
			    "%s is missing (archived?): the tree cannot be "
			    "brought up to the log without it",
			    missing);
			goto out;
		}
		for (i = 0; i < nfiles && r == 0 && !diverged; i++)
			r = catch_up_file(s, files[i], have > 0, have - 1,
			    &diverged, msg);
		audit_chain_free(files, nfiles);
		files = NULL;
		nfiles = 0;
		if (r != 0)
			goto out;
		if (diverged) {
			/* Not this log's tree (restored, replaced): anew. */
			log_warn("%s%s does not match the audit log at record "
			         "%" PRIu64 ": rebuilding it from the log",
			    w->path, AUDIT_TREE_SUFFIX, have - 1);
			r = merkle_store_truncate(s, 0, msg);
			if (r != 0)
				goto out;
			diverged = false;
			continue;
		}
		break;
	}
	if (merkle_store_size(s) != w->next_seq)
		r = err_set(msg, SIGNET_ERR_CHAIN,
		    "%s: the log's files hold %" PRIu64 " records, the writer "
		    "is at %" PRIu64,
		    w->path, merkle_store_size(s), w->next_seq);
out:
	audit_chain_free(files, nfiles);
	return r;
}

static char *
path_with(const char *path, const char *suffix)
{
	size_t n = strlen(path) + strlen(suffix) + 1;
	char *p = malloc(n);

	if (p != NULL)
		(void)snprintf(p, n, "%s%s", path, suffix);
	return p;
}

int
audit_tree_open(struct audit_writer *w, struct err_msg *msg)
{
	struct audit_tree *t = NULL;
	struct merkle_store *s = NULL;
	pthread_condattr_t ca;
	char *store_path = NULL;
	bool repaired = false, locked = false;
	int r;

	if (w == NULL || w->tree != NULL)
		return err_set(msg, SIGNET_ERR_INVALID_ARG,
		    "audit tree: no writer, or open already");
	t = calloc(1, sizeof(*t));
	store_path = path_with(w->path, AUDIT_TREE_SUFFIX);
	if (t != NULL)
		t->checkpoint_path = path_with(w->path,
		    AUDIT_CHECKPOINT_SUFFIX);
	if (t == NULL || store_path == NULL || t->checkpoint_path == NULL) {
		r = err_set(msg, SIGNET_ERR_ALLOC, "out of memory");
		goto out;
	}
	r = merkle_store_open(store_path, 0, &s, &repaired, msg);
	if (r != 0)
		goto out;
	if (repaired)
		log_warn("%s was torn (a crash): cut back to its last whole "
		         "record",
		    store_path);
	(void)pthread_mutex_lock(&w->mu);
	locked = true;
	r = catch_up(w, s, msg);
	if (r != 0)
		goto out;
	(void)pthread_mutex_init(&t->publish_mu, NULL);
	(void)pthread_mutex_init(&t->state_mu, NULL);
	(void)pthread_condattr_init(&ca);
	(void)pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	(void)pthread_cond_init(&t->state_cv, &ca);
	(void)pthread_condattr_destroy(&ca);
	t->store = s;
	s = NULL;
	w->tree = t;
	t = NULL;
	r = 0;
out:
	if (locked)
		(void)pthread_mutex_unlock(&w->mu);
	merkle_store_close(s);
	if (t != NULL)
		free(t->checkpoint_path);
	free(t);
	free(store_path);
	return r;
}

/* The root of the first n records (w->mu held). */
static int
tree_root(struct audit_writer *w, uint64_t n,
    uint8_t root[static MERKLE_HASH_LEN])
{
	struct merkle_reader rd;

	if (n == merkle_store_size(w->tree->store)) {
		merkle_store_root(w->tree->store, root);
		return 0;
	}
	rd = merkle_store_reader(w->tree->store);
	return merkle_tree_hash(n, &rd, root);
}

/* Publishes under publish_mu; fn may be NULL (at close). */
static int
publish(struct audit_writer *w, audit_checkpoint_fn fn, void *fn_arg,
    struct err_msg *msg)
{
	struct audit_tree *t = w->tree;
	struct note_checkpoint cp;
	char text[NOTE_CHECKPOINT_MAX + 1], *note = NULL;
	size_t text_len = 0, note_len = 0;
	uint64_t n, last;
	bool have;
	int r;

	memset(&cp, 0, sizeof(cp));
	(void)pthread_mutex_lock(&t->state_mu);
	have = t->note != NULL;
	last = t->note_size;
	(void)snprintf(cp.origin, sizeof(cp.origin), "%s", t->origin);
	(void)pthread_mutex_unlock(&t->state_mu);

	(void)pthread_mutex_lock(&w->mu);
	if (t->broken) {
		(void)pthread_mutex_unlock(&w->mu);
		return err_set(msg, SIGNET_ERR_UNAVAILABLE,
		    "%s: the audit tree stopped (see the daemon's log)",
		    w->path);
	}
	n = w->durable;
	if (n == 0 || (have && n == last)) {
		(void)pthread_mutex_unlock(&w->mu);
		return 1;
	}
	r = tree_root(w, n, cp.root);
	(void)pthread_mutex_unlock(&w->mu);
	if (r != 0)
		return err_set(msg, r,
		    "%s%s: cannot compute the root of %" PRIu64 " records",
		    w->path, AUDIT_TREE_SUFFIX, n);
	cp.size = n;
	r = note_checkpoint_format(&cp, text, sizeof(text), &text_len, msg);
	if (r == 0)
		r = note_sign(text, text_len, cp.origin, w->key, &note,
		    &note_len, msg);
	if (r == 0)
		r = fileio_replace(t->checkpoint_path, note, note_len, 0600,
		    msg);
	if (r != 0)
		goto out;
	(void)pthread_mutex_lock(&t->state_mu);
	free(t->note);
	t->note = note;
	t->note_len = note_len;
	t->note_size = n;
	(void)pthread_mutex_unlock(&t->state_mu);
	if (fn != NULL)
		fn(fn_arg, note, note_len, n);
	note = NULL;
	r = 0;
out:
	free(note);
	return r;
}

int
audit_checkpoint_now(struct audit_writer *w, struct err_msg *msg)
{
	audit_checkpoint_fn fn;
	void *arg;
	bool started;
	int r;

	if (w == NULL || w->tree == NULL)
		return err_set(msg, SIGNET_ERR_UNAVAILABLE,
		    "audit log keeps no tree");
	(void)pthread_mutex_lock(&w->tree->state_mu);
	started = w->tree->started;
	fn = w->tree->fn;
	arg = w->tree->fn_arg;
	(void)pthread_mutex_unlock(&w->tree->state_mu);
	if (!started)
		return err_set(msg, SIGNET_ERR_UNAVAILABLE,
		    "checkpoints not started");
	(void)pthread_mutex_lock(&w->tree->publish_mu);
	r = publish(w, fn, arg, msg);
	(void)pthread_mutex_unlock(&w->tree->publish_mu);
	return r;
}

static void *
checkpoint_main(void *arg)
{
	struct audit_writer *w = arg;
	struct audit_tree *t = w->tree;
	struct timespec ts;
	struct err_msg m;
	int r;

	(void)pthread_mutex_lock(&t->state_mu);
	while (!t->stop) {
		(void)clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_sec += t->interval_s;
		while (!t->stop &&
		    pthread_cond_timedwait(&t->state_cv, &t->state_mu, &ts) !=
		        ETIMEDOUT)
			;
		if (t->stop)
			break;
		(void)pthread_mutex_unlock(&t->state_mu);
		r = audit_checkpoint_now(w, &m);
		(void)pthread_mutex_lock(&t->state_mu);
		if (r < 0 && strcmp(m.text, t->last_error) != 0) {
			log_warn("audit checkpoint not made: %s", m.text);
			(void)snprintf(t->last_error, sizeof(t->last_error),
			    "%s", m.text);
		} else if (r >= 0) {
			t->last_error[0] = '\0';
		}
	}
	(void)pthread_mutex_unlock(&t->state_mu);
	return NULL;
}

int
audit_checkpoint_start(struct audit_writer *w, const char *origin,
    int interval_s, audit_checkpoint_fn fn, void *arg, struct err_msg *msg)
{
	struct audit_tree *t;
	int r;

	if (w == NULL || w->tree == NULL)
		return err_set(msg, SIGNET_ERR_UNAVAILABLE,
		    "audit log keeps no tree");
	t = w->tree;
	if (origin == NULL || strlen(origin) > AUDIT_ORIGIN_MAX ||
	    !note_name_valid(origin, strlen(origin)))
		return err_set(msg, SIGNET_ERR_INVALID_ARG,
		    "checkpoint origin: must be 1..%d bytes without spaces "
		    "or '+'",
		    AUDIT_ORIGIN_MAX);
	if (interval_s < 1 || interval_s > AUDIT_CHECKPOINT_INTERVAL_MAX)
		return err_set(msg, SIGNET_ERR_INVALID_ARG,
		    "checkpoint interval: must be 1..%d s",
		    AUDIT_CHECKPOINT_INTERVAL_MAX);
	(void)pthread_mutex_lock(&t->state_mu);
	if (t->started) {
		(void)pthread_mutex_unlock(&t->state_mu);
		return err_set(msg, SIGNET_ERR_INVALID_ARG,
		    "checkpoints started already");
	}
	(void)snprintf(t->origin, sizeof(t->origin), "%s", origin);
	t->interval_s = interval_s;
	t->fn = fn;
	t->fn_arg = arg;
	t->started = true;
	(void)pthread_mutex_unlock(&t->state_mu);
	r = audit_checkpoint_now(w, msg);
	if (r < 0)
		goto fail;
	if (pthread_create(&t->thread, NULL, checkpoint_main, w) != 0) {
		r = err_set(msg, SIGNET_ERR_INTERNAL,
		    "cannot start the checkpoint thread");
		goto fail;
	}
	(void)pthread_mutex_lock(&t->state_mu);
	t->running = true;
	(void)pthread_mutex_unlock(&t->state_mu);
	return 0;
fail:
	(void)pthread_mutex_lock(&t->state_mu);
	t->started = false;
	(void)pthread_mutex_unlock(&t->state_mu);
	return r;
}

int
audit_checkpoint_latest(struct audit_writer *w, char **note, size_t *len,
    uint64_t *size)
{
	struct audit_tree *t = w != NULL ? w->tree : NULL;
	int r = SIGNET_ERR_NOT_FOUND;

	*note = NULL;
	*len = 0;
	*size = 0;
	if (t == NULL)
		return r;
	(void)pthread_mutex_lock(&t->state_mu);
	if (t->note != NULL) {
		*note = malloc(t->note_len + 1);
		if (*note == NULL) {
			r = SIGNET_ERR_ALLOC;
		} else {
			memcpy(*note, t->note, t->note_len + 1);
			*len = t->note_len;
			*size = t->note_size;
			r = 0;
		}
	}
	(void)pthread_mutex_unlock(&t->state_mu);
	return r;
}

/* Checks w keeps a tree and sizes are in range (w->mu held). */
static int
prove_check(struct audit_writer *w, uint64_t low, uint64_t size, bool low_below,
    struct err_msg *msg)
{
	if (w->tree == NULL || w->tree->broken)
		return err_set(msg, SIGNET_ERR_UNAVAILABLE,
		    "the audit log keeps no tree now");
	if (size > w->durable || (low_below ? low >= size : low > size) ||
	    size == 0)
		return err_set(msg, SIGNET_ERR_INVALID_ARG,
		    "sizes out of range: the tree holds %" PRIu64
		    " durable records",
		    w->durable);
	return 0;
}

int
audit_tree_prove(struct audit_writer *w, uint64_t old, uint64_t size,
    uint8_t (*proof)[MERKLE_HASH_LEN], size_t *len,
    uint8_t root[static MERKLE_HASH_LEN], struct err_msg *msg)
{
	struct merkle_reader rd;
	int r;

	*len = 0;
	(void)pthread_mutex_lock(&w->mu);
	r = prove_check(w, old, size, false, msg);
	if (r == 0 && old == 0)
		r = err_set(msg, SIGNET_ERR_INVALID_ARG,
		    "old must be at least 1: every tree holds the empty one");
	if (r == 0) {
		rd = merkle_store_reader(w->tree->store);
		r = merkle_prove_tree(size, old, &rd, proof, len);
		if (r == 0)
			r = tree_root(w, size, root);
		if (r != 0)
			r = err_set(msg, r, "%s%s: cannot read the tree",
			    w->path, AUDIT_TREE_SUFFIX);
	}
	(void)pthread_mutex_unlock(&w->mu);
	return r;
}

int
audit_tree_prove_record(struct audit_writer *w, uint64_t seq, uint64_t size,
    uint8_t (*proof)[MERKLE_HASH_LEN], size_t *len,
    uint8_t leaf[static MERKLE_HASH_LEN], struct err_msg *msg)
{
	struct merkle_reader rd;
	int r;

	*len = 0;
	(void)pthread_mutex_lock(&w->mu);
	r = prove_check(w, seq, size, true, msg);
	if (r == 0) {
		rd = merkle_store_reader(w->tree->store);
		r = merkle_prove_record(size, seq, &rd, proof, len);
		if (r == 0)
			r = stored_leaf(w->tree->store, seq, leaf);
		if (r != 0)
			r = err_set(msg, r, "%s%s: cannot read the tree",
			    w->path, AUDIT_TREE_SUFFIX);
	}
	(void)pthread_mutex_unlock(&w->mu);
	return r;
}

void
audit_tree_close(struct audit_writer *w)
{
	struct audit_tree *t = w->tree;
	struct err_msg m;
	bool running, started;

	if (t == NULL)
		return;
	(void)pthread_mutex_lock(&t->state_mu);
	running = t->running;
	started = t->started;
	t->stop = true;
	(void)pthread_cond_broadcast(&t->state_cv);
	(void)pthread_mutex_unlock(&t->state_mu);
	if (running)
		(void)pthread_join(t->thread, NULL);
	/* The records of the last moments get their checkpoint too. */
	if (started) {
		(void)pthread_mutex_lock(&t->publish_mu);
		if (publish(w, NULL, NULL, &m) < 0)
			log_warn("last audit checkpoint not made: %s", m.text);
		(void)pthread_mutex_unlock(&t->publish_mu);
	}
	merkle_store_close(t->store);
	free(t->note);
	free(t->checkpoint_path);
	(void)pthread_mutex_destroy(&t->publish_mu);
	(void)pthread_mutex_destroy(&t->state_mu);
	(void)pthread_cond_destroy(&t->state_cv);
	free(t);
	w->tree = NULL;
}
