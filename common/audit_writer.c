/* SPDX-License-Identifier: ISC */
/*
 * The audit log writer: appends signed, chained records with O_APPEND and
 * makes each durable before returning, sharing one fdatasync among
 * concurrent callers (group commit). It continues the chain of an existing
 * log after a restart and records, never drops, a torn last line.
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
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "fileio.h"
#include "jsonx.h"
#include "text.h"

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
};

static int64_t
now_ms(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_REALTIME, &ts) != 0)
		return 0;
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

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
	    "\"event\":%s,\"actor\":%s,\"data\":%s}", w->next_seq, now_ms(),
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
		int rc, saved;

		if (w->syncing) {
			(void)pthread_cond_wait(&w->synced_cv, &w->mu);
			continue;
		}
		w->syncing = true;
		target = w->written;
		(void)pthread_mutex_unlock(&w->mu);
		rc = fdatasync(w->fd);
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
	(void)pthread_mutex_unlock(&w->mu);
}

/*
 * Reads the tail of the log to find the last whole line and any torn bytes
 * after it. Sets *whole_end to the end of the last whole line.
 */
static int
read_tail(struct audit_writer *w, off_t size, char **tailbuf, size_t *tlen,
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
		n = pread(w->fd, buf + got, len - got, off + (off_t)got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			free(buf);
			return err_set(msg, SIGNET_ERR_IO, "%s: cannot read: %s",
			    w->path, n < 0 ? strerror(errno) : "short read");
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
	    w->path, w->next_seq, now_ms());
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

/* Finds the head from the tail of an existing log; handles a torn tail. */
static int
continue_chain(struct audit_writer *w, off_t size, cJSON **torn_data,
    struct err_msg *msg)
{
	char *buf = NULL, *nl, *start;
	size_t len = 0, whole_len, linelen;
	off_t tail_off = 0, whole_end;
	struct audit_record rec;
	struct err_msg sub;
	int r;

	*torn_data = NULL;
	memset(&rec, 0, sizeof(rec));
	r = read_tail(w, size, &buf, &len, &tail_off, msg);
	if (r != 0)
		return r;
	nl = memrchr(buf, '\n', len);
	if (nl == NULL && tail_off != 0) {
		r = err_set(msg, SIGNET_ERR_FORMAT,
		    "%s: last line is longer than any audit record; is this a "
		    "signet audit log?", w->path);
		goto out;
	}
	whole_len = nl != NULL ? (size_t)(nl - buf) + 1 : 0;
	whole_end = tail_off + (off_t)whole_len;
	if (whole_len > 0) {
		nl = buf + whole_len - 1;
		*nl = '\0';
		start = memrchr(buf, '\n', whole_len - 1);
		if (start == NULL && tail_off != 0) {
			r = err_set(msg, SIGNET_ERR_FORMAT,
			    "%s: last record is too long", w->path);
			goto out;
		}
		start = start != NULL ? start + 1 : buf;
		linelen = (size_t)(nl - start);
		r = audit_parse_line(start, linelen, &rec, &sub);
		if (r != 0) {
			r = err_set(msg, r, "%s: last record does not parse "
			    "(%s); refusing to continue this chain", w->path,
			    sub.text);
			goto out;
		}
		if (audit_check_sig(&rec, start, &w->key->pub) != 0) {
			r = err_set(msg, SIGNET_ERR_BAD_SIGNATURE,
			    "%s: last record (seq %" PRIu64 ") is not signed "
			    "by this writer's key %s; refusing to continue "
			    "this chain", w->path, rec.seq, w->key->pub.id);
			goto out;
		}
		w->next_seq = rec.seq + 1;
		audit_line_hash(start, linelen, w->prev);
		w->empty = false;
	}
	w->size = whole_end;
	if (whole_end < size) {
		r = save_torn(w, buf + whole_len, len - whole_len, whole_end,
		    torn_data, msg);
		if (r != 0)
			goto out;
	}
	r = 0;
out:
	audit_record_free(&rec);
	free(buf);
	return r;
}

int
audit_open(const char *path, const struct keys_secret *key,
    struct audit_writer **out, struct err_msg *msg)
{
	struct audit_writer *w = NULL;
	cJSON *torn_data = NULL;
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
