/* SPDX-License-Identifier: ISC */
/*
 * The audit log writer: appends signed, chained records with O_APPEND and
 * makes each durable before returning, sharing one fdatasync among
 * concurrent callers (group commit), or (audit_write) writes several and
 * makes them durable together at audit_sync. It continues the chain of an
 * existing log after a restart and records, never drops, a torn last line
 * (audit_resume.c). It rotates its own file (on size or on request) so
 * that the new file's first record continues the chain and names the file
 * before it; a rotation cut short by a crash is finished by the next
 * audit_open (audit_rotate.c).
 */
#include "audit.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "audit_mirror.h"
#include "audit_writer_int.h"
#include "clock.h"
#include "fileio.h"
#include "jsonx.h"
#include "log.h"
#include "text.h"

#define ROTATE_RETRY_MS 60000 /* after a size rotation that failed */
/* What a record adds besides event, actor and data (seq, ts, prev, sig). */
#define RECORD_OVERHEAD 256

static bool
valid_event(const char *s)
{
	size_t n = strlen(s), i;

	if (n == 0 || n > AUDIT_EVENT_MAX)
		return false;
	for (i = 0; i < n; i++) {
		if (!((s[i] >= 'a' && s[i] <= 'z') || s[i] == '.' ||
		        s[i] == '_'))
			return false;
	}
	return true;
}

/* JSON string literal of s (quoted, escaped); NULL on allocation failure. */
static char *
json_quote(const char *s)
{
	cJSON *item = cJSON_CreateString(s);
	char *out;

	if (item == NULL)
		return NULL;
	out = cJSON_PrintUnformatted(item);
	cJSON_Delete(item);
	return out;
}

/*
 * Builds the signed line for the next record into *line (with newline).
 * Called with w->mu held, since it uses seq and prev.
 */
int
audit_build_line(struct audit_writer *w, const char *qevent, const char *qactor,
    const char *qdata, char **line, size_t *linelen, struct err_msg *msg)
{
	const size_t clen = sizeof(AUDIT_CTX) - 1;
	const size_t b64len = sodium_base64_ENCODED_LEN(KEYS_SIG_LEN,
	    sodium_base64_VARIANT_ORIGINAL);
	uint8_t sig[KEYS_SIG_LEN];
	char *buf = NULL;
	size_t cap, plen;
	int n, r;

	*line = NULL;
	*linelen = 0;
	cap = clen + strlen(qevent) + strlen(qactor) + strlen(qdata) + 256 +
	    b64len;
	if (cap > AUDIT_LINE_MAX + clen + 256 + b64len)
		return err_set(msg, SIGNET_ERR_TOO_LARGE,
		    "audit record over %d bytes", AUDIT_LINE_MAX);
	buf = malloc(cap);
	if (buf == NULL)
		return err_set(msg, SIGNET_ERR_ALLOC, "out of memory");
	/* The signed message is CONTEXT || prefix || "}"; build it in place. */
	memcpy(buf, AUDIT_CTX, clen);
	n = snprintf(buf + clen, cap - clen,
	    "{\"seq\":%" PRIu64 ",\"ts\":%" PRId64 ",\"prev\":\"%s\","
	    "\"event\":%s,\"actor\":%s,\"data\":%s}",
	    w->next_seq, clock_wall_ms(), w->prev, qevent, qactor, qdata);
	if (n < 0 || (size_t)n >= cap - clen) {
		r = err_set(msg, SIGNET_ERR_INTERNAL, "audit line overflow");
		goto out;
	}
	plen = (size_t)n - 1; /* without the closing brace */
	if (crypto_sign_detached(sig, NULL, (unsigned char *)buf,
	        clen + (size_t)n, w->key->sk) != 0) {
		r = err_set(msg, SIGNET_ERR_CRYPTO, "audit signing failed");
		goto out;
	}
	/* Drop the context, then append ,"sig":"..."}\n after the prefix. */
	memmove(buf, buf + clen, plen);
	n = snprintf(buf + plen, cap - plen, ",\"sig\":\"");
	if (n < 0 || (size_t)n >= cap - plen) {
		r = err_set(msg, SIGNET_ERR_INTERNAL, "audit line overflow");
		goto out;
	}
	plen += (size_t)n;
	if (b64len + 3 > cap - plen) {
		r = err_set(msg, SIGNET_ERR_INTERNAL, "audit line overflow");
		goto out;
	}
	sodium_bin2base64(buf + plen, b64len, sig, sizeof(sig),
	    sodium_base64_VARIANT_ORIGINAL);
	plen += b64len - 1;
	memcpy(buf + plen, "\"}\n", 3);
	plen += 3;
	if (plen > AUDIT_LINE_MAX) {
		r = err_set(msg, SIGNET_ERR_TOO_LARGE,
		    "audit record of %zu bytes is over %d", plen,
		    AUDIT_LINE_MAX);
		goto out;
	}
	*line = buf;
	*linelen = plen;
	buf = NULL;
	r = 0;
out:
	free(buf);
	return r;
}

/*
 * Waits until the record with this ticket is durable, doing the
 * fdatasync itself when nobody else is. Called and returns with w->mu held.
 */
static int
wait_durable(struct audit_writer *w, uint64_t ticket, struct err_msg *msg)
{
	while (w->synced < ticket && !w->broken) {
		uint64_t target;
		int rc, saved, fd;

		if (w->syncing) {
			(void)pthread_cond_wait(&w->synced_cv, &w->mu);
			continue;
		}
		w->syncing = true;
		target = w->written;
		/* A rotation waits for !syncing before it swaps w->fd. */
		fd = w->fd;
		(void)pthread_mutex_unlock(&w->mu);
		rc = fdatasync(fd);
		saved = errno;
		(void)pthread_mutex_lock(&w->mu);
		w->syncing = false;
		if (rc != 0) {
			/* After a failed sync the page cache state is unknown
			 * (fsyncgate): never trust this descriptor again. */
			w->broken = true;
			w->fail_errno = saved;
			(void)err_set(msg, SIGNET_ERR_UNAVAILABLE,
			    "%s: fdatasync failed: %s; audit log unavailable",
			    w->path, strerror(saved));
		} else {
			w->syncs++;
			if (target > w->synced)
				w->synced = target;
		}
		(void)pthread_cond_broadcast(&w->synced_cv);
	}
	if (w->synced < ticket)
		return err_set(msg, SIGNET_ERR_UNAVAILABLE,
		    "%s: audit log unavailable (earlier failure)", w->path);
	return 0;
}

/* Notes a record written to the current file (w->mu held). */
void
audit_count_record(struct audit_writer *w, uint64_t seq, const char *qevent)
{
	if (w->file_records == 0) {
		w->first_seq = seq;
		w->file_rotated_start = strcmp(qevent, QUOTED_ROTATED) == 0;
	}
	w->file_records++;
}

/*
 * Whether the next record, of about est bytes, should go to a new file:
 * the file would pass rotate_size and holds more than its opening
 * audit.rotated record (so a record bigger than rotate_size does not
 * make a file per record and a rotation per rotation).
 */
static bool
want_size_rotation(struct audit_writer *w, size_t est)
{
	if (w->rotate_size == 0 || w->empty ||
	    w->file_records <= (w->file_rotated_start ? 1u : 0u))
		return false;
	if ((uint64_t)w->size + est <= w->rotate_size)
		return false;
	return clock_wall_ms() >= w->rotate_retry_ms;
}

/*
 * Writes one record with w->mu held, without waiting for it to be
 * durable: *ticket is what wait_durable needs. On success *out_line
 * (malloc'd, with its newline) and *out_len are the line, for the mirror.
 */
static int
write_locked(struct audit_writer *w, const char *qevent, const char *qactor,
    const char *qdata, uint64_t *seq_out, uint64_t *ticket, char **out_line,
    size_t *out_len, struct err_msg *msg)
{
	char *line = NULL;
	size_t len = 0;
	uint64_t seq;
	ssize_t n;
	int r, saved;

	if (w->broken)
		return err_set(msg, SIGNET_ERR_UNAVAILABLE,
		    "%s: audit log unavailable (earlier failure)", w->path);
	if (want_size_rotation(w,
	        strlen(qevent) + strlen(qactor) + strlen(qdata) +
	            RECORD_OVERHEAD)) {
		struct err_msg sub;

		r = audit_rotate_locked(w, "size", &sub);
		if (r == SIGNET_ERR_UNAVAILABLE)
			return err_set(msg, r, "%s", sub.text);
		if (r != 0) {
			/* Undone: this file goes on; try again later. */
			log_warn("audit log not rotated, still writing to %s: "
			         "%s",
			    w->path, sub.text);
			w->rotate_retry_ms = clock_wall_ms() + ROTATE_RETRY_MS;
		}
	}
	r = audit_build_line(w, qevent, qactor, qdata, &line, &len, msg);
	if (r != 0)
		return r;
	do {
		n = write(w->fd, line, len);
	} while (n < 0 && errno == EINTR);
	if (n < 0 || (size_t)n != len) {
		saved = n < 0 ? errno : ENOSPC;
		w->fail_errno = saved; /* for audit_health_get */
		/* Undo a partial record so the chain stays whole. */
		if (n > 0 && ftruncate(w->fd, w->size) != 0)
			w->broken = true;
		r = err_set(msg,
		    w->broken ? SIGNET_ERR_UNAVAILABLE : SIGNET_ERR_IO,
		    "%s: cannot append audit record: %s", w->path,
		    strerror(saved));
		free(line);
		return r;
	}
	seq = w->next_seq;
	audit_line_hash(line, len - 1, w->prev);
	audit_tree_note(w, seq, line, len - 1);
	w->size += (off_t)len;
	w->next_seq++;
	w->empty = false;
	audit_count_record(w, seq, qevent);
	*ticket = ++w->written;
	*seq_out = seq;
	*out_line = line;
	*out_len = len;
	return 0;
}

/* Waits with w->mu held until the record seq (ticket) is durable. */
static int
durable_locked(struct audit_writer *w, uint64_t seq, uint64_t ticket,
    struct err_msg *msg)
{
	int r;

	r = wait_durable(w, ticket, msg);
	if (r != 0)
		return r;
	/* Written in seq order: one durable means all before it are. */
	if (seq + 1 > w->durable)
		w->durable = seq + 1;
	w->fail_errno = 0;
	return 0;
}

/* One record, checked and quoted for audit_build_line. */
struct quoted {
	const char *event, *actor; /* as given, for the mirror */
	char *qevent, *qactor, *qdata;
	char *line; /* once written */
	size_t len;
	uint64_t seq;
};

static void
quoted_free(struct quoted *q)
{
	free(q->qevent);
	free(q->qactor);
	free(q->qdata);
	free(q->line);
	memset(q, 0, sizeof(*q));
}

static int
quote_record(const char *event, const char *actor, const cJSON *data,
    struct quoted *q, struct err_msg *msg)
{
	char esc[96];

	memset(q, 0, sizeof(*q));
	if (event == NULL || actor == NULL)
		return err_set(msg, SIGNET_ERR_INVALID_ARG, "audit: no writer");
	if (!valid_event(event))
		return err_set(msg, SIGNET_ERR_INVALID_ARG,
		    "audit: bad event name \"%s\"",
		    text_escape_str(event, esc, sizeof(esc)));
	if (actor[0] == '\0' || strlen(actor) > AUDIT_ACTOR_MAX ||
	    text_has_control(actor) || !text_utf8_valid(actor, strlen(actor)))
		return err_set(msg, SIGNET_ERR_INVALID_ARG,
		    "audit: bad actor \"%s\"",
		    text_escape_str(actor, esc, sizeof(esc)));
	if (data != NULL && !cJSON_IsObject(data))
		return err_set(msg, SIGNET_ERR_INVALID_ARG,
		    "audit: data must be an object");
	q->event = event;
	q->actor = actor;
	q->qevent = json_quote(event);
	q->qactor = json_quote(actor);
	q->qdata = data != NULL ? jsonx_print(data) : strdup("{}");
	if (q->qevent == NULL || q->qactor == NULL || q->qdata == NULL) {
		quoted_free(q);
		return err_set(msg, SIGNET_ERR_ALLOC, "out of memory");
	}
	if (strlen(q->qdata) >= AUDIT_LINE_MAX) {
		quoted_free(q);
		return err_set(msg, SIGNET_ERR_TOO_LARGE,
		    "audit: record data over %d bytes", AUDIT_LINE_MAX);
	}
	return 0;
}

/*
 * Writes q[0..n) in order under one hold of the lock and waits once, for
 * the last one written: records written together share one fdatasync.
 * When a record cannot be written, those before it are still made
 * durable, as separate appends would have left them; *nwritten says how
 * many are in the log.
 */
static int
append_quoted(struct audit_writer *w, struct quoted *q, size_t n,
    size_t *nwritten, struct err_msg *msg)
{
	struct err_msg sub;
	uint64_t ticket = 0;
	size_t i, done = 0;
	int r = 0, dr = 0;

	*nwritten = 0;
	(void)pthread_mutex_lock(&w->mu);
	for (i = 0; i < n && r == 0; i++) {
		r = write_locked(w, q[i].qevent, q[i].qactor, q[i].qdata,
		    &q[i].seq, &ticket, &q[i].line, &q[i].len, msg);
		if (r == 0)
			done++;
	}
	if (done > 0)
		dr = durable_locked(w, q[done - 1].seq, ticket,
		    r == 0 ? msg : &sub);
	(void)pthread_mutex_unlock(&w->mu);
	if (dr != 0)
		return r != 0 ? r : dr;
	*nwritten = done;
	/* Durable: the copies may go out (outside the lock; never fail). */
	for (i = 0; i < done; i++)
		(void)audit_mirror_send(w->mirror, q[i].line, q[i].len - 1,
		    q[i].seq, q[i].event, q[i].actor);
	return r;
}

/* A record audit_write wrote whose mirror copy waits for audit_sync. */
struct audit_unsent {
	struct audit_unsent *next;
	char *line; /* with its newline */
	size_t len;
	uint64_t seq;
	char event[AUDIT_EVENT_MAX + 1];
	char actor[AUDIT_ACTOR_MAX + 1];
};

static void
unsent_free_list(struct audit_unsent *u)
{
	struct audit_unsent *next;

	for (; u != NULL; u = next) {
		next = u->next;
		free(u->line);
		free(u);
	}
}

int
audit_write(struct audit_writer *w, const char *event, const char *actor,
    const cJSON *data, uint64_t *seq_out, struct err_msg *msg)
{
	struct audit_unsent *u = NULL;
	struct quoted q;
	uint64_t ticket = 0;
	int r;

	if (seq_out != NULL)
		*seq_out = 0;
	if (w == NULL)
		return err_set(msg, SIGNET_ERR_INVALID_ARG, "audit: no writer");
	r = quote_record(event, actor, data, &q, msg);
	if (r != 0)
		return r;
	/* Allocated first: once written, a record cannot be taken back. */
	if (w->mirror != NULL) {
		u = calloc(1, sizeof(*u));
		if (u == NULL) {
			quoted_free(&q);
			return err_set(msg, SIGNET_ERR_ALLOC, "out of memory");
		}
	}
	(void)pthread_mutex_lock(&w->mu);
	r = write_locked(w, q.qevent, q.qactor, q.qdata, &q.seq, &ticket,
	    &q.line, &q.len, msg);
	if (r == 0 && u != NULL) {
		/* quote_record bounded both names. */
		(void)snprintf(u->event, sizeof(u->event), "%s", event);
		(void)snprintf(u->actor, sizeof(u->actor), "%s", actor);
		u->line = q.line;
		u->len = q.len;
		u->seq = q.seq;
		q.line = NULL;
		if (w->unsent_tail != NULL)
			w->unsent_tail->next = u;
		else
			w->unsent_head = u;
		w->unsent_tail = u;
		u = NULL;
	}
	(void)pthread_mutex_unlock(&w->mu);
	if (r == 0 && seq_out != NULL)
		*seq_out = q.seq;
	free(u);
	quoted_free(&q);
	return r;
}

int
audit_sync(struct audit_writer *w, struct err_msg *msg)
{
	struct audit_unsent *u, *list;
	int r;

	if (w == NULL)
		return err_set(msg, SIGNET_ERR_INVALID_ARG, "audit: no writer");
	(void)pthread_mutex_lock(&w->mu);
	/* Every record written so far; none yet: nothing to wait for. */
	r = w->written == 0 ?
	    0 :
	    durable_locked(w, w->next_seq - 1, w->written, msg);
	/* Durable or never to be: either way these copies are done with. */
	list = w->unsent_head;
	w->unsent_head = w->unsent_tail = NULL;
	(void)pthread_mutex_unlock(&w->mu);
	for (u = list; r == 0 && u != NULL; u = u->next)
		(void)audit_mirror_send(w->mirror, u->line, u->len - 1, u->seq,
		    u->event, u->actor);
	unsent_free_list(list);
	return r;
}

int
audit_append(struct audit_writer *w, const char *event, const char *actor,
    const cJSON *data, uint64_t *seq_out, struct err_msg *msg)
{
	struct quoted q;
	size_t written;
	int r;

	if (seq_out != NULL)
		*seq_out = 0;
	if (w == NULL)
		return err_set(msg, SIGNET_ERR_INVALID_ARG, "audit: no writer");
	r = quote_record(event, actor, data, &q, msg);
	if (r != 0)
		return r;
	r = append_quoted(w, &q, 1, &written, msg);
	if (r == 0 && seq_out != NULL)
		*seq_out = q.seq;
	quoted_free(&q);
	return r;
}

int
audit_append_pair(struct audit_writer *w, const char *actor, const char *event1,
    const cJSON *data1, const char *event2, const cJSON *data2,
    size_t *nwritten, struct err_msg *msg)
{
	struct quoted q[2];
	int r;

	*nwritten = 0;
	memset(q, 0, sizeof(q));
	if (w == NULL)
		return err_set(msg, SIGNET_ERR_INVALID_ARG, "audit: no writer");
	r = quote_record(event1, actor, data1, &q[0], msg);
	if (r == 0)
		r = quote_record(event2, actor, data2, &q[1], msg);
	if (r == 0)
		r = append_quoted(w, q, 2, nwritten, msg);
	quoted_free(&q[0]);
	quoted_free(&q[1]);
	return r;
}

/* audit_event and audit_event_write: durable (wait) or written. */
static int
event_record(struct audit_writer *w, const char *event, const char *actor,
    cJSON *data, bool built, bool wait)
{
	struct err_msg m;
	int r;

	err_clear(&m);
	if (data == NULL || !built) {
		cJSON_Delete(data);
		log_error("audit %s not recorded: out of memory", event);
		return SIGNET_ERR_ALLOC;
	}
	r = wait ? audit_append(w, event, actor, data, NULL, &m) :
	           audit_write(w, event, actor, data, NULL, &m);
	cJSON_Delete(data);
	if (r != 0)
		log_error("audit %s not recorded: %s", event, m.text);
	return r;
}

int
audit_event(struct audit_writer *w, const char *event, const char *actor,
    cJSON *data, bool built)
{
	return event_record(w, event, actor, data, built, true);
}

int
audit_event_write(struct audit_writer *w, const char *event, const char *actor,
    cJSON *data, bool built)
{
	return event_record(w, event, actor, data, built, false);
}

void
audit_get_head(struct audit_writer *w, struct audit_head *head)
{
	(void)pthread_mutex_lock(&w->mu);
	head->empty = w->empty;
	head->seq = w->empty ? 0 : w->next_seq - 1;
	memcpy(head->hash, w->prev, sizeof(head->hash));
	(void)pthread_mutex_unlock(&w->mu);
}

void
audit_get_stats(struct audit_writer *w, struct audit_stats *stats)
{
	(void)pthread_mutex_lock(&w->mu);
	stats->appends = w->synced;
	stats->syncs = w->syncs;
	stats->rotations = w->rotations;
	(void)pthread_mutex_unlock(&w->mu);
	stats->mirror_failures = audit_mirror_failures(w->mirror);
}

void
audit_set_rotate_size(struct audit_writer *w, uint64_t bytes)
{
	(void)pthread_mutex_lock(&w->mu);
	w->rotate_size = bytes;
	w->rotate_retry_ms = 0;
	(void)pthread_mutex_unlock(&w->mu);
}

int
audit_open(const char *path, const struct keys_secret *key,
    struct audit_writer **out, struct err_msg *msg)
{
	return audit_open_mirrored(path, key, NULL, out, msg);
}

int
audit_open_mirrored(const char *path, const struct keys_secret *key,
    const struct audit_mirror_conf *mirror, struct audit_writer **out,
    struct err_msg *msg)
{
	return audit_open_keys(path, key, NULL, mirror, out, msg);
}

int
audit_open_keys(const char *path, const struct keys_secret *key,
    const struct keys_pubset *prev, const struct audit_mirror_conf *mirror,
    struct audit_writer **out, struct err_msg *msg)
{
	struct audit_writer *w = NULL;
	cJSON *torn_data = NULL, *link_json = NULL;
	struct stat st;
	int r, saved;

	*out = NULL;
	if (sodium_init() < 0)
		return err_set(msg, SIGNET_ERR_CRYPTO, "libsodium init failed");
	w = calloc(1, sizeof(*w));
	if (w == NULL)
		return err_set(msg, SIGNET_ERR_ALLOC, "out of memory");
	w->fd = -1;
	(void)pthread_mutex_init(&w->mu, NULL);
	(void)pthread_cond_init(&w->synced_cv, NULL);
	memset(w->prev, '0', AUDIT_HASH_HEX);
	w->empty = true;
	w->path = strdup(path);
	w->key = sodium_malloc(sizeof(*w->key));
	if (w->path == NULL || w->key == NULL) {
		r = err_set(msg, SIGNET_ERR_ALLOC, "out of memory");
		goto out;
	}
	memcpy(w->key, key, sizeof(*w->key));
	if (prev != NULL)
		w->prev_keys = *prev;
	if (mirror != NULL && mirror->mode != AUDIT_MIRROR_NONE) {
		r = audit_mirror_new(mirror, &w->mirror, msg);
		if (r != 0)
			goto out;
	}
	/*
	 * Nobody else may plant the file: its directory is ours alone, a
	 * new log is created exclusively, an existing one must be ours.
	 */
	r = fileio_check_dir(path, "the audit log", msg);
	if (r != 0)
		goto out;
	w->fd = open(path,
	    O_RDWR | O_APPEND | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
	    0600);
	if (w->fd < 0 && errno == EEXIST)
		w->fd = open(path, O_RDWR | O_APPEND | O_CLOEXEC | O_NOFOLLOW);
	if (w->fd < 0) {
		saved = errno;
		r = err_set(msg, SIGNET_ERR_IO, "%s: cannot open audit log: %s",
		    path, strerror(saved));
		goto out;
	}
	if (flock(w->fd, LOCK_EX | LOCK_NB) != 0) {
		saved = errno;
		r = err_set(msg, SIGNET_ERR_IO, "%s: %s", path,
		    saved == EWOULDBLOCK ? "another writer has this audit log "
		                           "open" :
		                           strerror(saved));
		goto out;
	}
	if (fstat(w->fd, &st) != 0) {
		r = err_set(msg, SIGNET_ERR_IO, "%s: stat: %s", path,
		    strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode) || (st.st_mode & 022) != 0) {
		r = err_set(msg, SIGNET_ERR_PERMISSIONS,
		    "%s: audit log must be a regular file not writable by "
		    "group or others (mode %04o)",
		    path, (unsigned)(st.st_mode & 07777));
		goto out;
	}
	if (st.st_uid != geteuid()) {
		r = err_set(msg, SIGNET_ERR_PERMISSIONS,
		    "%s: audit log owned by uid %u, not this program's user "
		    "(uid %u): another user may have created it; refusing to "
		    "write into it (remove it, or chown it if it is the real "
		    "log)",
		    path, (unsigned)st.st_uid, (unsigned)geteuid());
		goto out;
	}
	if (st.st_size > 0) {
		r = audit_continue_chain(w, st.st_size, &torn_data, msg);
		if (r != 0)
			goto out;
	} else {
		r = fileio_sync_parent(path, msg);
		if (r != 0)
			goto out;
	}
	if (w->empty) {
		r = audit_recover_rotation(w, &link_json, msg);
		if (r != 0)
			goto out;
	} else {
		r = audit_scan_first(w, msg);
		if (r != 0)
			goto out;
	}
	if (link_json != NULL) {
		r = audit_append(w, AUDIT_EVENT_ROTATED, "audit", link_json,
		    NULL, msg);
		if (r != 0)
			goto out;
	}
	if (torn_data != NULL) {
		r = audit_append(w, AUDIT_EVENT_TORN, "audit", torn_data, NULL,
		    msg);
		if (r != 0)
			goto out;
	}
	w->durable = w->next_seq;
	*out = w;
	w = NULL;
	r = 0;
out:
	cJSON_Delete(torn_data);
	cJSON_Delete(link_json);
	audit_close(w);
	return r;
}

void
audit_close(struct audit_writer *w)
{
	if (w == NULL)
		return;
	audit_tree_close(w);
	if (w->fd >= 0)
		(void)close(w->fd);
	if (w->key != NULL)
		sodium_free(w->key); /* sodium_free wipes before freeing */
	free(w->path);
	audit_mirror_free(w->mirror);
	unsent_free_list(w->unsent_head);
	(void)pthread_mutex_destroy(&w->mu);
	(void)pthread_cond_destroy(&w->synced_cv);
	free(w);
}
