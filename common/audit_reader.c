/* SPDX-License-Identifier: ISC */
/* Reading an audit log line by line with bounded memory. */
#include "audit.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct audit_reader {
	int fd;
	char *buf;                     /* AUDIT_LINE_MAX + 1 bytes */
	size_t len, pos;
	bool eof;
};

int
audit_reader_open(const char *path, struct audit_reader **out,
    struct err_msg *msg)
{
	struct audit_reader *rd;
	int saved;

	*out = NULL;
	rd = calloc(1, sizeof(*rd));
	if (rd == NULL)
		return err_set(msg, SIGNET_ERR_ALLOC, "out of memory");
	rd->buf = malloc(AUDIT_LINE_MAX + 1);
	rd->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (rd->buf == NULL) {
		audit_reader_close(rd);
		return err_set(msg, SIGNET_ERR_ALLOC, "out of memory");
	}
	if (rd->fd < 0) {
		saved = errno;
		audit_reader_close(rd);
		return err_set(msg, saved == ENOENT ? SIGNET_ERR_NOT_FOUND :
		    SIGNET_ERR_IO, "%s: cannot open: %s", path,
		    strerror(saved));
	}
	*out = rd;
	return 0;
}

int
audit_reader_next(struct audit_reader *rd, char **line, size_t *len,
    bool *had_newline)
{
	char *nl;
	ssize_t n;

	for (;;) {
		nl = memchr(rd->buf + rd->pos, '\n', rd->len - rd->pos);
		if (nl != NULL) {
			*line = rd->buf + rd->pos;
			*len = (size_t)(nl - *line);
			*had_newline = true;
			*nl = '\0';
			rd->pos += *len + 1;
			return 1;
		}
		if (rd->eof) {
			if (rd->pos == rd->len)
				return 0;
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
	free(rd->buf);
	free(rd);
}
