/* SPDX-License-Identifier: ISC */
/*
 * Reading an audit log line by line with bounded memory: one file, or the
 * files of a rotated log one after the other in chain order.
 */
#include "audit.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct audit_reader {
	int fd;
	char *buf; /* AUDIT_LINE_MAX + 1 bytes */
	size_t len, pos;
	bool eof;
	char **files; /* NULL for a single file */
	size_t nfiles, cur;
	const char *path; /* the file being read */
	uint64_t lineno;
};

static int
open_fd(const char *path, int *fd, struct err_msg *msg)
{
	int saved;

	*fd = open(path, O_RDONLY | O_CLOEXEC);
	if (*fd >= 0)
		return 0;
	saved = errno;
	return err_set(msg,
	    saved == ENOENT ? SIGNET_ERR_NOT_FOUND : SIGNET_ERR_IO,
	    "%s: cannot open: %s", path, strerror(saved));
}

int
audit_reader_open(const char *path, struct audit_reader **out,
    struct err_msg *msg)
{
	struct audit_reader *rd;
	int r;

	*out = NULL;
	rd = calloc(1, sizeof(*rd));
	if (rd == NULL)
		return err_set(msg, SIGNET_ERR_ALLOC, "out of memory");
	rd->fd = -1;
	rd->path = path;
	rd->buf = malloc(AUDIT_LINE_MAX + 1);
	if (rd->buf == NULL) {
		audit_reader_close(rd);
		return err_set(msg, SIGNET_ERR_ALLOC, "out of memory");
	}
	r = open_fd(path, &rd->fd, msg);
	if (r != 0) {
		audit_reader_close(rd);
		return r;
	}
	*out = rd;
	return 0;
}

int
audit_reader_open_since(const char *path, int64_t since_ms,
    struct audit_reader **out, struct err_msg *msg)
{
	char missing[AUDIT_NAME_MAX + 1];
	char **files = NULL;
	size_t n = 0;
	int r;

	*out = NULL;
	r = audit_chain_files(path, since_ms, 0, &files, &n, missing, msg);
	if (r != 0)
		return r;
	if (missing[0] != '\0') {
		r = err_set(msg, SIGNET_ERR_CHAIN,
		    "%s: the rotated file %s it "
		    "continues may hold records since %" PRId64 " (unix ms) "
		    "but is missing: restore it next to %s (archive rotated "
		    "files only once they are older than that)",
		    files[0], missing, since_ms, path);
		audit_chain_free(files, n);
		return r;
	}
	r = audit_reader_open(files[0], out, msg);
	if (r != 0) {
		audit_chain_free(files, n);
		return r;
	}
	(*out)->files = files;
	(*out)->nfiles = n;
	return 0;
}

const char *
audit_reader_path(const struct audit_reader *rd)
{
	return rd->path;
}

uint64_t
audit_reader_lineno(const struct audit_reader *rd)
{
	return rd->lineno;
}

/*
 * At the end of one file of several: 1 when the next one is open, 0 when
 * there is none, or an error (a torn line left in an earlier file).
 */
static int
next_file(struct audit_reader *rd)
{
	if (rd->files == NULL || rd->cur + 1 >= rd->nfiles)
		return 0;
	if (rd->pos != rd->len)
		return SIGNET_ERR_FORMAT;
	(void)close(rd->fd);
	rd->cur++;
	rd->path = rd->files[rd->cur];
	rd->lineno = 0;
	rd->pos = rd->len = 0;
	rd->eof = false;
	if (open_fd(rd->path, &rd->fd, NULL) != 0)
		return SIGNET_ERR_IO;
	return 1;
}

int
audit_reader_next(struct audit_reader *rd, char **line, size_t *len,
    bool *had_newline)
{
	char *nl;
	ssize_t n;
	int r;

	for (;;) {
		nl = memchr(rd->buf + rd->pos, '\n', rd->len - rd->pos);
		if (nl != NULL) {
			*line = rd->buf + rd->pos;
			*len = (size_t)(nl - *line);
			*had_newline = true;
			*nl = '\0';
			rd->pos += *len + 1;
			rd->lineno++;
			return 1;
		}
		if (rd->eof) {
			r = next_file(rd);
			if (r < 0)
				return r;
			if (r == 1)
				continue;
			if (rd->pos == rd->len)
				return 0;
			rd->lineno++;
			*line = rd->buf + rd->pos;
			*len = rd->len - rd->pos;
			rd->buf[rd->len] = '\0';
			*had_newline = false;
			rd->pos = rd->len;
			return 1;
		}
		/* Compact, then fill the rest of the buffer. */
		if (rd->pos > 0) {
			memmove(rd->buf, rd->buf + rd->pos, rd->len - rd->pos);
			rd->len -= rd->pos;
			rd->pos = 0;
		}
		if (rd->len >= AUDIT_LINE_MAX)
			return SIGNET_ERR_TOO_LARGE;
		n = read(rd->fd, rd->buf + rd->len, AUDIT_LINE_MAX - rd->len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return SIGNET_ERR_IO;
		if (n == 0)
			rd->eof = true;
		rd->len += (size_t)n;
	}
}

void
audit_reader_close(struct audit_reader *rd)
{
	if (rd == NULL)
		return;
	if (rd->fd >= 0)
		(void)close(rd->fd);
	audit_chain_free(rd->files, rd->nfiles);
	free(rd->buf);
	free(rd);
}

int
audit_reader_next_record(struct audit_reader *rd, struct audit_record *rec,
    struct err_msg *msg)
{
	struct err_msg sub;
	char *line = NULL;
	size_t len = 0;
	bool had_nl = false;
	int more;

	more = audit_reader_next(rd, &line, &len, &had_nl);
	if (more < 0)
		return err_set(msg, more, "%s:%llu: unreadable line", rd->path,
		    (unsigned long long)rd->lineno + 1);
	if (more == 0 || !had_nl)
		return 0;
	if (audit_parse_line(line, len, rec, &sub) != 0)
		return err_set(msg, SIGNET_ERR_FORMAT, "%s:%llu: %s", rd->path,
		    (unsigned long long)rd->lineno, sub.text);
	return 1;
}
