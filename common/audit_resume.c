/* SPDX-License-Identifier: ISC */
/*
 * Where the audit writer (audit_writer.c) picks up an existing log at
 * start: the last whole record, checked against the writer's key, gives
 * the next seq and prev; bytes after it (a torn line from a crash) are
 * kept in a side file and cut from the log, never dropped; the first
 * record says what the current file holds, for naming it at rotation.
 */
#include "audit.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "audit_writer_int.h"
#include "clock.h"
#include "fileio.h"
#include "log.h"

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
			return err_set(msg, SIGNET_ERR_IO,
			    "%s: cannot read: %s", path,
			    n < 0 ? strerror(errno) : "short read");
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
int
audit_last_record(int fd, const char *path, off_t size,
    const struct keys_public *pub, const struct keys_pubset *prev,
    struct audit_head *head, off_t *whole_end, char **torn, size_t *tornlen,
    struct err_msg *msg)
{
	char *buf = NULL, *nl, *start;
	size_t len = 0, whole_len, linelen;
	off_t tail_off = 0;
	struct audit_record rec;
	struct err_msg sub;
	size_t i;
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
		    "signet audit log?",
		    path);
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
			r = err_set(msg, r,
			    "%s: last record does not parse "
			    "(%s); refusing to continue this chain",
			    path, sub.text);
			goto out;
		}
		/* A rotated key: the chain goes on under the new one. */
		for (i = 0; prev != NULL && i < prev->count &&
		     audit_check_sig(&rec, start, pub) != 0;
		     i++) {
			if (audit_check_sig(&rec, start, &prev->keys[i]) != 0)
				continue;
			log_info("%s: last record (seq %" PRIu64 ") is signed "
			         "by the previous key %s; continuing the chain "
			         "with key %s",
			    path, rec.seq, prev->keys[i].id, pub->id);
			pub = &prev->keys[i];
		}
		if (audit_check_sig(&rec, start, pub) != 0) {
			r = err_set(msg, SIGNET_ERR_BAD_SIGNATURE,
			    "%s: last record (seq %" PRIu64 ") is not signed "
			    "by this writer's key %s; refusing to continue "
			    "this chain",
			    path, rec.seq, pub->id);
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
int
audit_continue_chain(struct audit_writer *w, off_t size, cJSON **torn_data,
    struct err_msg *msg)
{
	struct audit_head head;
	char *torn = NULL;
	size_t tornlen = 0;
	off_t whole_end = 0;
	int r;

	*torn_data = NULL;
	r = audit_last_record(w->fd, w->path, size, &w->key->pub, &w->prev_keys,
	    &head, &whole_end, &torn, &tornlen, msg);
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
int
audit_scan_first(struct audit_writer *w, struct err_msg *msg)
{
	struct audit_record rec;
	struct err_msg sub;
	int r;

	w->file_records = 0;
	if (w->size == 0)
		return 0;
	r = audit_read_first(w->path, &rec, &sub);
	if (r != 0)
		return err_set(msg,
		    r == SIGNET_ERR_NOT_FOUND ? SIGNET_ERR_FORMAT : r,
		    "%s; refusing to continue this "
		    "chain (run signetctl audit verify)",
		    sub.text);
	if (rec.seq > w->next_seq - 1) {
		audit_record_free(&rec);
		return err_set(msg, SIGNET_ERR_FORMAT,
		    "%s: first record (seq "
		    "%" PRIu64 ") is after the last; refusing to continue "
		    "this chain",
		    w->path, rec.seq);
	}
	w->first_seq = rec.seq;
	w->file_rotated_start = strcmp(rec.event, AUDIT_EVENT_ROTATED) == 0;
	w->file_records = w->next_seq - rec.seq;
	audit_record_free(&rec);
	return 0;
}
