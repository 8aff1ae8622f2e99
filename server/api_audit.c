/* SPDX-License-Identifier: ISC */
/*
 * GET /api/audit: pages through the server's own audit log with bounded
 * memory. The log only grows and each line's seq is one more than the
 * previous line's, so a binary search over byte offsets (reading one line
 * at each probe) finds where seq > after begins without reading the whole
 * file; from there lines are read one at a time and only the returned
 * ones are parsed in full.
 *
 * A rotated log: the current file is opened first (what this request
 * sees of it, even if it is rotated meanwhile); if it starts with an
 * audit.rotated record and the records asked for begin before it, the
 * earlier files it links back to are read first, oldest first. Rotated
 * files moved away (archived) are not served: paging then starts at the
 * oldest file still in place.
 */
#include "api_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "audit.h"
#include "text.h"

/* A bounded line reader over a file descriptor. */
struct lines {
	int fd;
	char *buf;       /* AUDIT_LINE_MAX bytes */
	size_t pos, len; /* unread bytes are buf[pos..len) */
	off_t base;      /* file offset of buf[0] */
	bool eof;
};

static int
lines_seek(struct lines *lr, off_t off, struct err_msg *msg)
{
	if (lseek(lr->fd, off, SEEK_SET) == (off_t)-1)
		return err_set(msg, SIGNET_ERR_IO,
		    "cannot seek in the audit "
		    "log: %s",
		    strerror(errno));
	lr->pos = lr->len = 0;
	lr->base = off;
	lr->eof = false;
	return 0;
}

/*
 * Next newline-terminated line (without the newline) at *line, *n, its
 * file offset at *start. Returns 1, 0 at the end (an unterminated tail
 * counts as the end: it is still being written), or an error.
 */
static int
lines_next(struct lines *lr, const char **line, size_t *n, off_t *start,
    struct err_msg *msg)
{
	for (;;) {
		char *nl = memchr(lr->buf + lr->pos, '\n', lr->len - lr->pos);
		ssize_t got;

		if (nl != NULL) {
			*line = lr->buf + lr->pos;
			*n = (size_t)(nl - *line);
			*start = lr->base + (off_t)lr->pos;
			lr->pos += *n + 1;
			return 1;
		}
		if (lr->eof)
			return 0;
		if (lr->pos > 0) {
			memmove(lr->buf, lr->buf + lr->pos, lr->len - lr->pos);
			lr->len -= lr->pos;
			lr->base += (off_t)lr->pos;
			lr->pos = 0;
		}
		if (lr->len == AUDIT_LINE_MAX)
			return err_set(msg, SIGNET_ERR_TOO_LARGE,
			    "audit log "
			    "line at byte %lld is over %d bytes",
			    (long long)lr->base, AUDIT_LINE_MAX);
		got = read(lr->fd, lr->buf + lr->len, AUDIT_LINE_MAX - lr->len);
		if (got < 0) {
			if (errno == EINTR)
				continue;
			return err_set(msg, SIGNET_ERR_IO,
			    "cannot read the "
			    "audit log: %s",
			    strerror(errno));
		}
		if (got == 0)
			lr->eof = true;
		lr->len += (size_t)got;
	}
}

/* The seq of a line as the writer formats it ({"seq":N,...}), cheaply. */
static bool
line_seq(const char *line, size_t n, uint64_t *seq)
{
	static const char pre[] = "{\"seq\":";
	const size_t k = sizeof(pre) - 1;
	uint64_t v = 0;
	size_t i;

	if (n <= k || memcmp(line, pre, k) != 0)
		return false;
	for (i = k; i < n && line[i] >= '0' && line[i] <= '9'; i++) {
		if (i - k >= 19)
			return false;
		v = v * 10 + (uint64_t)(line[i] - '0');
	}
	if (i == k || i >= n || line[i] != ',' || (line[k] == '0' && i - k > 1))
		return false;
	*seq = v;
	return true;
}

/*
 * Returns an offset at which a line starts whose seq <= after (or 0), such
 * that no earlier line has seq > after, assuming seqs grow with offsets.
 * Stops narrowing (and scans from what it has) at anything unexpected.
 */
static int
find_start(struct lines *lr, off_t size, uint64_t after, off_t *out,
    struct err_msg *msg)
{
	off_t lo = 0, hi = size;
	int r;

	while (hi - lo > 2 * (off_t)AUDIT_LINE_MAX) {
		off_t mid = lo + (hi - lo) / 2, start;
		const char *line;
		size_t n;
		uint64_t seq;

		r = lines_seek(lr, mid - 1, msg);
		if (r == 0)
			r = lines_next(lr, &line, &n, &start, msg);
		if (r == 1)
			r = lines_next(lr, &line, &n, &start, msg);
		if (r < 0)
			return r;
		if (r == 0 || start >= hi) {
			hi = mid;
			continue;
		}
		if (!line_seq(line, n, &seq))
			break;
		if (seq <= after)
			lo = start;
		else
			hi = mid;
	}
	*out = lo;
	return 0;
}

/* Pages through one file from where find_start puts it (first only). */
static int
page_file(struct lines *lr, off_t size, bool first, bool has_after,
    uint64_t after, size_t limit, size_t max_bytes, cJSON *arr, size_t *count,
    size_t *bytes, bool *full, const char *name, struct err_msg *msg)
{
	struct audit_record rec;
	off_t from = 0, start;
	const char *line;
	size_t n;
	int r;

	memset(&rec, 0, sizeof(rec));
	if (first && has_after) {
		r = find_start(lr, size, after, &from, msg);
		if (r != 0)
			return r;
	}
	r = lines_seek(lr, from, msg);
	if (r != 0)
		return r;
	while (*count < limit) {
		uint64_t seq;
		struct err_msg pm;

		r = lines_next(lr, &line, &n, &start, msg);
		if (r < 0)
			goto out;
		if (r == 0)
			break;
		if (has_after && line_seq(line, n, &seq) && seq <= after)
			continue;
		if (*count > 0 && n > max_bytes - *bytes) {
			*full = true; /* no later record may skip this one */
			break;
		}
		r = audit_parse_line(line, n, &rec, &pm);
		if (r != 0) {
			r = err_set(msg, SIGNET_ERR_FORMAT,
			    "audit log %s: line at byte %lld does not parse "
			    "(%s); run signetctl audit verify",
			    name, (long long)start, pm.text);
			goto out;
		}
		if (has_after && rec.seq <= after) {
			audit_record_free(&rec);
			continue;
		}
		if (!cJSON_AddItemToArray(arr, rec.root)) {
			r = err_set(msg, SIGNET_ERR_ALLOC, "out of memory");
			goto out;
		}
		rec.root = NULL;
		audit_record_free(&rec);
		(*count)++;
		*bytes += n < max_bytes - *bytes ? n : max_bytes - *bytes;
	}
	r = 0;
out:
	audit_record_free(&rec);
	return r;
}

/*
 * The rotated files to read before the current one (open at lr): none
 * unless it starts with audit.rotated and records before it are wanted.
 * *files is NULL then.
 */
static int
earlier_files(struct lines *lr, const char *path, bool has_after,
    uint64_t after, char ***files, size_t *nfiles, struct err_msg *msg)
{
	char missing[AUDIT_NAME_MAX + 1], *prev = NULL;
	const char *line, *slash;
	struct audit_record rec;
	struct audit_link link;
	struct err_msg sub;
	size_t n = 0, dlen;
	off_t start;
	int r;

	*files = NULL;
	*nfiles = 0;
	memset(&rec, 0, sizeof(rec));
	r = lines_seek(lr, 0, msg);
	if (r == 0)
		r = lines_next(lr, &line, &n, &start, msg);
	if (r <= 0)
		return r;
	if (audit_parse_line(line, n, &rec, &sub) != 0 ||
	    audit_link_parse(&rec, &link, &sub) != 0 ||
	    (has_after && rec.seq <= after + 1)) {
		r = 0; /* not rotated into, or nothing wanted before it */
		goto out;
	}
	slash = strrchr(path, '/');
	dlen = slash != NULL ? (size_t)(slash - path) + 1 : 0;
	prev = malloc(dlen + strlen(link.previous) + 1);
	if (prev == NULL) {
		r = err_set(msg, SIGNET_ERR_ALLOC, "out of memory");
		goto out;
	}
	memcpy(prev, path, dlen);
	memcpy(prev + dlen, link.previous, strlen(link.previous) + 1);
	r = audit_chain_files(prev, INT64_MIN, has_after ? after + 1 : 0, files,
	    nfiles, missing, msg);
	if (r == SIGNET_ERR_NOT_FOUND)
		r = 0; /* archived away: serve what is here */
out:
	free(prev);
	audit_record_free(&rec);
	return r;
}

int
api_audit_page(const char *path, bool has_after, uint64_t after, size_t limit,
    size_t max_bytes, cJSON **out, struct err_msg *msg)
{
	struct lines lr = { .fd = -1 }, er = { .fd = -1 };
	cJSON *root = NULL, *arr;
	char **files = NULL;
	struct stat st, est;
	size_t count = 0, bytes = 0, nfiles = 0, k;
	bool full = false;
	int r;

	*out = NULL;
	lr.fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (lr.fd < 0) {
		r = err_set(msg,
		    errno == ENOENT ? SIGNET_ERR_NOT_FOUND : SIGNET_ERR_IO,
		    "cannot open the audit log: %s", strerror(errno));
		goto out;
	}
	if (fstat(lr.fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		r = err_set(msg, SIGNET_ERR_IO,
		    "the audit log is not a "
		    "regular file");
		goto out;
	}
	lr.buf = malloc(AUDIT_LINE_MAX);
	er.buf = malloc(AUDIT_LINE_MAX);
	root = cJSON_CreateObject();
	arr = root != NULL ? cJSON_AddArrayToObject(root, "records") : NULL;
	if (lr.buf == NULL || er.buf == NULL || arr == NULL) {
		r = err_set(msg, SIGNET_ERR_ALLOC, "out of memory");
		goto out;
	}
	r = earlier_files(&lr, path, has_after, after, &files, &nfiles, msg);
	if (r != 0)
		goto out;
	for (k = 0; k < nfiles && count < limit && !full; k++) {
		er.fd = open(files[k], O_RDONLY | O_CLOEXEC | O_NOCTTY);
		if (er.fd < 0 || fstat(er.fd, &est) != 0) {
			r = err_set(msg, SIGNET_ERR_IO,
			    "cannot open the "
			    "rotated audit log %s: %s",
			    files[k], strerror(errno));
			goto out;
		}
		r = page_file(&er, est.st_size, k == 0, has_after, after, limit,
		    max_bytes, arr, &count, &bytes, &full, files[k], msg);
		(void)close(er.fd);
		er.fd = -1;
		if (r != 0)
			goto out;
	}
	if (count < limit && !full) {
		r = page_file(&lr, st.st_size, nfiles == 0, has_after, after,
		    limit, max_bytes, arr, &count, &bytes, &full, path, msg);
		if (r != 0)
			goto out;
	}
	*out = root;
	root = NULL;
	r = 0;
out:
	audit_chain_free(files, nfiles);
	cJSON_Delete(root);
	free(lr.buf);
	free(er.buf);
	if (lr.fd >= 0)
		(void)close(lr.fd);
	if (er.fd >= 0)
		(void)close(er.fd);
	return r;
}
