/* SPDX-License-Identifier: ISC */
/*
 * The audit log writer: appends signed, chained records with O_APPEND and
 * makes each durable before returning, sharing one fdatasync among
 * concurrent callers (group commit). It continues the chain of an existing
 * log after a restart and records, never drops, a torn last line. It
 * rotates its own file (on size or on request) so that the new file's
 * first record continues the chain and names the file before it; a
 * rotation cut short by a crash is finished by the next audit_open.
 */
#include "audit.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "clock.h"
#include "fileio.h"
#include "jsonx.h"
#include "log.h"
#include "text.h"

#define QUOTED_ROTATED "\"" AUDIT_EVENT_ROTATED "\""
#define ROTATE_RETRY_MS 60000   /* after a size rotation that failed */
/* What a record adds besides event, actor and data (seq, ts, prev, sig). */
#define RECORD_OVERHEAD 256

struct audit_writer {
	pthread_mutex_t mu;
	pthread_cond_t synced_cv;
	int fd;
	char *path;
	struct keys_secret *key;       /* sodium_malloc'd, wiped on close */
	bool empty;                    /* no record written yet */
	uint64_t next_seq;
	char prev[AUDIT_HASH_HEX + 1];
	off_t size;                    /* bytes of whole records */
	uint64_t written;              /* records written (tickets) */
	uint64_t synced;               /* records known durable */
	uint64_t syncs;                /* successful fdatasync calls */
	bool syncing;
	bool broken;
	/* The current file: first seq, records, whether it starts with
	 * audit.rotated; and when to rotate it. */
	uint64_t first_seq;
	uint64_t file_records;
	bool file_rotated_start;
	uint64_t rotate_size;          /* 0: never */
	int64_t rotate_retry_ms;       /* no size rotation before this */
	uint64_t rotations;
};

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
static int
build_line(struct audit_writer *w, const char *qevent, const char *qactor,
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
	    "\"event\":%s,\"actor\":%s,\"data\":%s}", w->next_seq, clock_wall_ms(),
	    w->prev, qevent, qactor, qdata);
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

static int rotate_locked(struct audit_writer *w, const char *reason,
    struct err_msg *msg);

/* Notes a record written to the current file (w->mu held). */
static void
count_record(struct audit_writer *w, uint64_t seq, const char *qevent)
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

/* Appends with w->mu held; see audit_append. */
static int
append_locked(struct audit_writer *w, const char *qevent, const char *qactor,
    const char *qdata, uint64_t *seq_out, struct err_msg *msg)
{
	char *line = NULL;
	size_t len = 0;
	uint64_t seq, ticket;
	ssize_t n;
	int r, saved;

	if (w->broken)
		return err_set(msg, SIGNET_ERR_UNAVAILABLE,
		    "%s: audit log unavailable (earlier failure)", w->path);
	if (want_size_rotation(w, strlen(qevent) + strlen(qactor) +
	    strlen(qdata) + RECORD_OVERHEAD)) {
		struct err_msg sub;

		r = rotate_locked(w, "size", &sub);
		if (r == SIGNET_ERR_UNAVAILABLE)
			return err_set(msg, r, "%s", sub.text);
		if (r != 0) {
			/* Undone: this file goes on; try again later. */
			log_warn("audit log not rotated, still writing to %s: "
			    "%s", w->path, sub.text);
			w->rotate_retry_ms = clock_wall_ms() + ROTATE_RETRY_MS;
		}
	}
	r = build_line(w, qevent, qactor, qdata, &line, &len, msg);
	if (r != 0)
		return r;
	do {
		n = write(w->fd, line, len);
	} while (n < 0 && errno == EINTR);
	if (n < 0 || (size_t)n != len) {
		saved = n < 0 ? errno : ENOSPC;
		/* Undo a partial record so the chain stays whole. */
		if (n > 0 && ftruncate(w->fd, w->size) != 0)
			w->broken = true;
		r = err_set(msg, w->broken ? SIGNET_ERR_UNAVAILABLE :
		    SIGNET_ERR_IO, "%s: cannot append audit record: %s",
		    w->path, strerror(saved));
		goto out;
	}
	seq = w->next_seq;
	audit_line_hash(line, len - 1, w->prev);
	w->size += (off_t)len;
	w->next_seq++;
	w->empty = false;
	count_record(w, seq, qevent);
	ticket = ++w->written;
	r = wait_durable(w, ticket, msg);
	if (r != 0)
		goto out;
	if (seq_out != NULL)
		*seq_out = seq;
out:
	free(line);
	return r;
}

/* The audit.rotated record's data, as JSON text (malloc'd). */
static char *
link_data(const char *previous_path, uint64_t head_seq, const char *head_hash,
    const char *reason)
{
	const char *base = strrchr(previous_path, '/');
	char head[AUDIT_HASH_HEX + 32];
	cJSON *d = cJSON_CreateObject();
	char *out = NULL;

	base = base != NULL ? base + 1 : previous_path;
	(void)snprintf(head, sizeof(head), "%" PRIu64 ":%s", head_seq,
	    head_hash);
	if (d != NULL && cJSON_AddStringToObject(d, "previous", base) != NULL &&
	    cJSON_AddStringToObject(d, "previous_head", head) != NULL &&
	    cJSON_AddStringToObject(d, "reason", reason) != NULL)
		out = jsonx_print(d);
	cJSON_Delete(d);
	return out;
}

/*
 * Puts the old file back at w->path after a rotation failed half way:
 * removes the new file if one was made, renames the old one back, gives
 * it its mode again. Returns false if that cannot be done.
 */
static bool
rotate_undo(struct audit_writer *w, const char *rotated, bool renamed,
    int newfd, mode_t mode)
{
	bool ok = true;

	if (newfd >= 0) {
		if (unlink(w->path) != 0)
			ok = false;
		(void)close(newfd);
	}
	if (renamed && ok) {
		if (renameat2(AT_FDCWD, rotated, AT_FDCWD, w->path,
		    RENAME_NOREPLACE) != 0 || fchmod(w->fd, mode) != 0)
			ok = false;
	}
	if (ok && (renamed || newfd >= 0) &&
	    fileio_sync_parent(w->path, NULL) != 0)
		ok = false;
	return ok;
}

/*
 * Rotates with w->mu held; see audit_rotate. Other appenders wait on the
 * mutex, so records go either to the old file before the rename or to the
 * new one after its audit.rotated record, never between.
 */
static int
rotate_locked(struct audit_writer *w, const char *reason, struct err_msg *msg)
{
	char rotated[4096], *qdata = NULL, *line = NULL;
	struct err_msg why;
	struct stat st, pst;
	size_t len = 0;
	bool renamed = false;
	mode_t mode = 0600;
	int newfd = -1, r, saved;
	ssize_t n;

	err_clear(&why);
	while (w->syncing)
		(void)pthread_cond_wait(&w->synced_cv, &w->mu);
	if (w->broken)
		return err_set(msg, SIGNET_ERR_UNAVAILABLE,
		    "%s: audit log unavailable (earlier failure)", w->path);
	if (w->empty || w->file_records == 0)
		return 0;
	/* Everything written to the old file is durable before it goes. */
	if (w->synced < w->written) {
		if (fdatasync(w->fd) != 0) {
			saved = errno;
			w->broken = true;
			(void)pthread_cond_broadcast(&w->synced_cv);
			return err_set(msg, SIGNET_ERR_UNAVAILABLE,
			    "%s: fdatasync failed: %s; audit log unavailable",
			    w->path, strerror(saved));
		}
		w->syncs++;
		w->synced = w->written;
		(void)pthread_cond_broadcast(&w->synced_cv);
	}
	if (audit_rotated_name(w->path, w->first_seq, w->next_seq - 1,
	    rotated, sizeof(rotated)) != 0)
		return err_set(msg, SIGNET_ERR_IO, "%s: path too long to "
		    "rotate", w->path);
	/* Rename only the file we write: not one put in its place. */
	if (fstat(w->fd, &st) != 0 || lstat(w->path, &pst) != 0 ||
	    st.st_ino != pst.st_ino || st.st_dev != pst.st_dev)
		return err_set(msg, SIGNET_ERR_IO, "%s no longer names the "
		    "audit log this writer has open (moved or replaced?); not "
		    "rotating", w->path);
	mode = st.st_mode & 0777;
	if (renameat2(AT_FDCWD, w->path, AT_FDCWD, rotated,
	    RENAME_NOREPLACE) != 0) {
		saved = errno;
		return err_set(msg, SIGNET_ERR_IO, "cannot rename %s to %s: "
		    "%s", w->path, rotated, saved == EEXIST ? "that file "
		    "already exists (left from another chain? move it away)" :
		    strerror(saved));
	}
	renamed = true;
	/* Rotated files are never written again: read-only. */
	if (fchmod(w->fd, mode & ~(mode_t)0222) != 0) {
		r = err_set(&why, SIGNET_ERR_IO, "%s: chmod: %s", rotated,
		    strerror(errno));
		goto undo;
	}
	r = fileio_sync_parent(w->path, &why);
	if (r != 0)
		goto undo;
	newfd = open(w->path, O_RDWR | O_APPEND | O_CREAT | O_EXCL |
	    O_CLOEXEC | O_NOFOLLOW, 0600);
	if (newfd < 0) {
		r = err_set(&why, SIGNET_ERR_IO, "%s: cannot create the new "
		    "audit log: %s", w->path, strerror(errno));
		goto undo;
	}
	if (flock(newfd, LOCK_EX | LOCK_NB) != 0 || fchmod(newfd, mode) != 0) {
		r = err_set(&why, SIGNET_ERR_IO, "%s: cannot lock the new "
		    "audit log: %s", w->path, strerror(errno));
		goto undo;
	}
	qdata = link_data(rotated, w->next_seq - 1, w->prev, reason);
	if (qdata == NULL) {
		r = err_set(&why, SIGNET_ERR_ALLOC, "out of memory");
		goto undo;
	}
	r = build_line(w, QUOTED_ROTATED, "\"audit\"", qdata, &line, &len,
	    &why);
	if (r != 0)
		goto undo;
	do {
		n = write(newfd, line, len);
	} while (n < 0 && errno == EINTR);
	if (n < 0 || (size_t)n != len || fdatasync(newfd) != 0) {
		r = err_set(&why, SIGNET_ERR_IO, "%s: cannot write the %s "
		    "record: %s", w->path, AUDIT_EVENT_ROTATED,
		    n >= 0 && (size_t)n != len ? "short write" :
		    strerror(errno));
		goto undo;
	}
	r = fileio_sync_parent(w->path, &why);
	if (r != 0)
		goto undo;
	/* Committed: the new file carries the chain on. */
	(void)close(w->fd);
	w->fd = newfd;
	newfd = -1;
	w->file_records = 0;
	count_record(w, w->next_seq, QUOTED_ROTATED);
	audit_line_hash(line, len - 1, w->prev);
	w->next_seq++;
	w->size = (off_t)len;
	w->written++;
	w->synced = w->written;
	w->syncs++;
	w->rotations++;
	(void)pthread_cond_broadcast(&w->synced_cv);
	log_info("audit log rotated: reason=%s previous=%s seq=%" PRIu64,
	    reason, rotated, w->next_seq - 1);
	r = 0;
	goto out;
undo:
	if (!rotate_undo(w, rotated, renamed, newfd, mode)) {
		w->broken = true;
		(void)pthread_cond_broadcast(&w->synced_cv);
		r = err_set(msg, SIGNET_ERR_UNAVAILABLE, "%s (and the "
		    "rotation could not be undone); audit log unavailable",
		    why.text);
	} else {
		r = err_set(msg, SIGNET_ERR_IO, "%s (rotation undone)",
		    why.text);
	}
	newfd = -1;
out:
	if (newfd >= 0)
		(void)close(newfd);
	free(qdata);
	free(line);
	return r;
}

int
audit_append(struct audit_writer *w, const char *event, const char *actor,
    const cJSON *data, uint64_t *seq_out, struct err_msg *msg)
{
	char *qevent = NULL, *qactor = NULL, *qdata = NULL;
	char esc[96];
	int r;

	if (seq_out != NULL)
		*seq_out = 0;
	if (w == NULL || event == NULL || actor == NULL)
		return err_set(msg, SIGNET_ERR_INVALID_ARG, "audit: no writer");
	if (!valid_event(event))
		return err_set(msg, SIGNET_ERR_INVALID_ARG,
		    "audit: bad event name \"%s\"",
		    text_escape_str(event, esc, sizeof(esc)));
	if (actor[0] == '\0' || strlen(actor) > AUDIT_ACTOR_MAX ||
	    text_has_control(actor) ||
	    !text_utf8_valid(actor, strlen(actor)))
		return err_set(msg, SIGNET_ERR_INVALID_ARG,
		    "audit: bad actor \"%s\"",
		    text_escape_str(actor, esc, sizeof(esc)));
	if (data != NULL && !cJSON_IsObject(data))
		return err_set(msg, SIGNET_ERR_INVALID_ARG,
		    "audit: data must be an object");
	qevent = json_quote(event);
	qactor = json_quote(actor);
	qdata = data != NULL ? jsonx_print(data) : strdup("{}");
	if (qevent == NULL || qactor == NULL || qdata == NULL) {
		r = err_set(msg, SIGNET_ERR_ALLOC, "out of memory");
		goto out;
	}
	if (strlen(qdata) >= AUDIT_LINE_MAX) {
		r = err_set(msg, SIGNET_ERR_TOO_LARGE,
		    "audit: record data over %d bytes", AUDIT_LINE_MAX);
		goto out;
	}
	(void)pthread_mutex_lock(&w->mu);
	r = append_locked(w, qevent, qactor, qdata, seq_out, msg);
	(void)pthread_mutex_unlock(&w->mu);
out:
	free(qevent);
	free(qactor);
	free(qdata);
	return r;
}

int
audit_event(struct audit_writer *w, const char *event, const char *actor,
    cJSON *data, bool built)
{
	struct err_msg m;
	int r;

	err_clear(&m);
	if (data == NULL || !built) {
		cJSON_Delete(data);
		log_error("audit %s not recorded: out of memory", event);
		return SIGNET_ERR_ALLOC;
	}
	r = audit_append(w, event, actor, data, NULL, &m);
	cJSON_Delete(data);
	if (r != 0)
		log_error("audit %s not recorded: %s", event, m.text);
	return r;
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
audit_rotate(struct audit_writer *w, const char *reason, struct err_msg *msg)
{
	size_t n, i;
	int r;

	if (w == NULL || reason == NULL)
		return err_set(msg, SIGNET_ERR_INVALID_ARG, "audit: no writer");
	n = strlen(reason);
	for (i = 0; i < n; i++)
		if (reason[i] < 'a' || reason[i] > 'z')
			break;
	if (n == 0 || i < n || n >= sizeof(((struct audit_link *)0)->reason))
		return err_set(msg, SIGNET_ERR_INVALID_ARG,
		    "audit: bad rotation reason");
	(void)pthread_mutex_lock(&w->mu);
	r = rotate_locked(w, reason, msg);
	(void)pthread_mutex_unlock(&w->mu);
	return r;
}

/*
 * Reads the tail of the log to find the last whole line and any torn bytes
 * after it. Sets *whole_end to the end of the last whole line.
 */
static int
read_tail(int fd, const char *path, off_t size, char **tailbuf, size_t *tlen,
    off_t *tail_off, struct err_msg *msg)
{
	size_t want = 2 * (size_t)AUDIT_LINE_MAX + 2;
	off_t off = size > (off_t)want ? size - (off_t)want : 0;
	size_t len = (size_t)(size - off), got = 0;
	char *buf;
	ssize_t n;

	*tailbuf = NULL;
	buf = malloc(len + 1);
	if (buf == NULL)
		return err_set(msg, SIGNET_ERR_ALLOC, "out of memory");
	while (got < len) {
		n = pread(fd, buf + got, len - got, off + (off_t)got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			free(buf);
			return err_set(msg, SIGNET_ERR_IO, "%s: cannot read: %s",
			    path, n < 0 ? strerror(errno) : "short read");
		}
		got += (size_t)n;
	}
	buf[len] = '\0';
	*tailbuf = buf;
	*tlen = len;
	*tail_off = off;
	return 0;
}

/* Keeps the torn bytes in a side file and cuts them from the log. */
static int
save_torn(struct audit_writer *w, const char *torn, size_t tornlen,
    off_t whole_end, cJSON **record_data, struct err_msg *msg)
{
	char side[4096], hash[AUDIT_HASH_HEX + 1];
	const char *base;
	cJSON *d = NULL;
	int n, r;

	*record_data = NULL;
	n = snprintf(side, sizeof(side), "%s.torn-%" PRIu64 "-%" PRId64,
	    w->path, w->next_seq, clock_wall_ms());
	if (n < 0 || (size_t)n >= sizeof(side))
		return err_set(msg, SIGNET_ERR_TOO_LARGE, "%s: path too long",
		    w->path);
	r = fileio_write_new(side, torn, tornlen, 0600, msg);
	if (r != 0)
		return r;
	r = fileio_sync_parent(side, msg);
	if (r != 0)
		return r;
	if (ftruncate(w->fd, whole_end) != 0 || fsync(w->fd) != 0)
		return err_set(msg, SIGNET_ERR_IO,
		    "%s: cannot cut the torn tail: %s", w->path,
		    strerror(errno));
	audit_line_hash(torn, tornlen, hash);
	base = strrchr(side, '/');
	base = base != NULL ? base + 1 : side;
	d = cJSON_CreateObject();
	if (d == NULL ||
	    cJSON_AddNumberToObject(d, "offset", (double)whole_end) == NULL ||
	    cJSON_AddNumberToObject(d, "length", (double)tornlen) == NULL ||
	    cJSON_AddStringToObject(d, "sha256", hash) == NULL ||
	    cJSON_AddStringToObject(d, "saved_as", base) == NULL) {
		cJSON_Delete(d);
		return err_set(msg, SIGNET_ERR_ALLOC, "out of memory");
	}
	*record_data = d;
	return 0;
}

/*
 * Finds the last whole record of the file open at fd (size bytes) and
 * checks that pub signed it: *head (empty when there is no whole line),
 * *whole_end the end of that line, *torn (malloc'd) and *tornlen any
 * bytes after it (NULL, 0 when none).
 */
static int
last_record(int fd, const char *path, off_t size,
    const struct keys_public *pub, struct audit_head *head, off_t *whole_end,
    char **torn, size_t *tornlen, struct err_msg *msg)
{
	char *buf = NULL, *nl, *start;
	size_t len = 0, whole_len, linelen;
	off_t tail_off = 0;
	struct audit_record rec;
	struct err_msg sub;
	int r;

	memset(head, 0, sizeof(*head));
	head->empty = true;
	*whole_end = 0;
	*torn = NULL;
	*tornlen = 0;
	memset(&rec, 0, sizeof(rec));
	if (size == 0)
		return 0;
	r = read_tail(fd, path, size, &buf, &len, &tail_off, msg);
	if (r != 0)
		return r;
	nl = memrchr(buf, '\n', len);
	if (nl == NULL && tail_off != 0) {
		r = err_set(msg, SIGNET_ERR_FORMAT,
		    "%s: last line is longer than any audit record; is this a "
		    "signet audit log?", path);
		goto out;
	}
	whole_len = nl != NULL ? (size_t)(nl - buf) + 1 : 0;
	*whole_end = tail_off + (off_t)whole_len;
	if (whole_len < len) {
		*torn = malloc(len - whole_len);
		if (*torn == NULL) {
			r = err_set(msg, SIGNET_ERR_ALLOC, "out of memory");
			goto out;
		}
		memcpy(*torn, buf + whole_len, len - whole_len);
		*tornlen = len - whole_len;
	}
	if (whole_len > 0) {
		nl = buf + whole_len - 1;
		*nl = '\0';
		start = memrchr(buf, '\n', whole_len - 1);
		if (start == NULL && tail_off != 0) {
			r = err_set(msg, SIGNET_ERR_FORMAT,
			    "%s: last record is too long", path);
			goto out;
		}
		start = start != NULL ? start + 1 : buf;
		linelen = (size_t)(nl - start);
		r = audit_parse_line(start, linelen, &rec, &sub);
		if (r != 0) {
			r = err_set(msg, r, "%s: last record does not parse "
			    "(%s); refusing to continue this chain", path,
			    sub.text);
			goto out;
		}
		if (audit_check_sig(&rec, start, pub) != 0) {
			r = err_set(msg, SIGNET_ERR_BAD_SIGNATURE,
			    "%s: last record (seq %" PRIu64 ") is not signed "
			    "by this writer's key %s; refusing to continue "
			    "this chain", path, rec.seq, pub->id);
			goto out;
		}
		head->empty = false;
		head->seq = rec.seq;
		audit_line_hash(start, linelen, head->hash);
	}
	r = 0;
out:
	if (r != 0) {
		free(*torn);
		*torn = NULL;
		*tornlen = 0;
	}
	audit_record_free(&rec);
	free(buf);
	return r;
}

/* Finds the head from the tail of an existing log; handles a torn tail. */
static int
continue_chain(struct audit_writer *w, off_t size, cJSON **torn_data,
    struct err_msg *msg)
{
	struct audit_head head;
	char *torn = NULL;
	size_t tornlen = 0;
	off_t whole_end = 0;
	int r;

	*torn_data = NULL;
	r = last_record(w->fd, w->path, size, &w->key->pub, &head, &whole_end,
	    &torn, &tornlen, msg);
	if (r != 0)
		return r;
	if (!head.empty) {
		w->next_seq = head.seq + 1;
		memcpy(w->prev, head.hash, sizeof(w->prev));
		w->empty = false;
	}
	w->size = whole_end;
	if (torn != NULL)
		r = save_torn(w, torn, tornlen, whole_end, torn_data, msg);
	free(torn);
	return r;
}

/*
 * What the current file holds, for naming it when it is rotated: the seq
 * of its first record, whether that is audit.rotated, and how many.
 */
static int
scan_first(struct audit_writer *w, struct err_msg *msg)
{
	struct audit_record rec;
	struct err_msg sub;
	int r;

	w->file_records = 0;
	if (w->size == 0)
		return 0;
	r = audit_read_first(w->path, &rec, &sub);
	if (r != 0)
		return err_set(msg, r == SIGNET_ERR_NOT_FOUND ?
		    SIGNET_ERR_FORMAT : r, "%s; refusing to continue this "
		    "chain (run signetctl audit verify)", sub.text);
	if (rec.seq > w->next_seq - 1) {
		audit_record_free(&rec);
		return err_set(msg, SIGNET_ERR_FORMAT, "%s: first record (seq "
		    "%" PRIu64 ") is after the last; refusing to continue "
		    "this chain", w->path, rec.seq);
	}
	w->first_seq = rec.seq;
	w->file_rotated_start = strcmp(rec.event, AUDIT_EVENT_ROTATED) == 0;
	w->file_records = w->next_seq - rec.seq;
	audit_record_free(&rec);
	return 0;
}

/*
 * The newest rotated file PATH.FIRST-LAST in path's directory, into out
 * (empty when there is none).
 */
static int
newest_rotated(const char *path, char *out, size_t outlen,
    struct err_msg *msg)
{
	const char *slash = strrchr(path, '/');
	const char *base = slash != NULL ? slash + 1 : path;
	char dir[4096], best[AUDIT_NAME_MAX + 1] = "";
	uint64_t best_last = 0, best_first = 0, first, last;
	struct dirent *de;
	DIR *dp;
	int n;

	out[0] = '\0';
	n = slash == NULL ? snprintf(dir, sizeof(dir), ".") :
	    slash == path ? snprintf(dir, sizeof(dir), "/") :
	    snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
	if (n < 0 || (size_t)n >= sizeof(dir))
		return err_set(msg, SIGNET_ERR_TOO_LARGE, "%s: path too long",
		    path);
	dp = opendir(dir);
	if (dp == NULL)
		return err_set(msg, SIGNET_ERR_IO, "%s: cannot list: %s", dir,
		    strerror(errno));
	while ((de = readdir(dp)) != NULL) {
		if (!audit_rotated_name_match(base, de->d_name, &first, &last))
			continue;
		if (best[0] == '\0' || last > best_last ||
		    (last == best_last && first > best_first)) {
			best_last = last;
			best_first = first;
			(void)snprintf(best, sizeof(best), "%s", de->d_name);
		}
	}
	(void)closedir(dp);
	if (best[0] == '\0')
		return 0;
	n = snprintf(out, outlen, "%.*s%s", (int)(base - path), path, best);
	if (n < 0 || (size_t)n >= outlen)
		return err_set(msg, SIGNET_ERR_TOO_LARGE, "%s: path too long",
		    path);
	return 0;
}

/*
 * The current file holds no record: if a rotated file exists, a rotation
 * was cut short (the file renamed, the new one not yet written). Continue
 * the chain from it; *link_json is the audit.rotated record's data to
 * write first (NULL when there is nothing to continue).
 */
static int
recover_rotation(struct audit_writer *w, cJSON **link_json,
    struct err_msg *msg)
{
	char rotated[4096], *torn = NULL, *text = NULL;
	struct audit_head head;
	size_t tornlen = 0;
	off_t whole_end = 0;
	struct stat st;
	int fd = -1, r;

	*link_json = NULL;
	r = newest_rotated(w->path, rotated, sizeof(rotated), msg);
	if (r != 0 || rotated[0] == '\0')
		return r;
	fd = open(rotated, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0 || fstat(fd, &st) != 0) {
		r = err_set(msg, SIGNET_ERR_IO, "%s: cannot open: %s", rotated,
		    strerror(errno));
		goto out;
	}
	r = last_record(fd, rotated, st.st_size, &w->key->pub, &head,
	    &whole_end, &torn, &tornlen, msg);
	if (r != 0)
		goto out;
	if (head.empty || torn != NULL) {
		r = err_set(msg, SIGNET_ERR_FORMAT, "%s: a rotated audit log "
		    "file must end with a whole record; refusing to continue "
		    "this chain", rotated);
		goto out;
	}
	/* A crash may have come before the chmod. */
	if ((st.st_mode & 0222) != 0 &&
	    fchmod(fd, st.st_mode & 0777 & ~(mode_t)0222) != 0)
		log_warn("%s: cannot make it read-only: %s", rotated,
		    strerror(errno));
	w->next_seq = head.seq + 1;
	memcpy(w->prev, head.hash, sizeof(w->prev));
	w->empty = false;
	text = link_data(rotated, head.seq, head.hash, "recovered");
	*link_json = text != NULL ? cJSON_Parse(text) : NULL;
	if (*link_json == NULL) {
		r = err_set(msg, SIGNET_ERR_ALLOC, "out of memory");
		goto out;
	}
	log_warn("%s: no record in the audit log; continuing the chain from "
	    "%s (a rotation was cut short)", w->path, rotated);
	r = 0;
out:
	free(text);
	free(torn);
	if (fd >= 0)
		(void)close(fd);
	return r;
}

int
audit_open(const char *path, const struct keys_secret *key,
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
	w->fd = open(path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW,
	    0600);
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
		    "open" : strerror(saved));
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
		    "group or others (mode %04o)", path,
		    (unsigned)(st.st_mode & 07777));
		goto out;
	}
	if (st.st_size > 0) {
		r = continue_chain(w, st.st_size, &torn_data, msg);
		if (r != 0)
			goto out;
	} else {
		r = fileio_sync_parent(path, msg);
		if (r != 0)
			goto out;
	}
	if (w->empty) {
		r = recover_rotation(w, &link_json, msg);
		if (r != 0)
			goto out;
	} else {
		r = scan_first(w, msg);
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
	if (w->fd >= 0)
		(void)close(w->fd);
	if (w->key != NULL)
		sodium_free(w->key); /* sodium_free wipes before freeing */
	free(w->path);
	(void)pthread_mutex_destroy(&w->mu);
	(void)pthread_cond_destroy(&w->synced_cv);
	free(w);
}
