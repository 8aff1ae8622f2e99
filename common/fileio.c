/* SPDX-License-Identifier: ISC */
/* Bounded reads, exclusive writes and fsync helpers. */
#include "fileio.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

bool
fileio_trusted_owner(uid_t uid)
{
	return uid == 0 || uid == geteuid();
}

bool
fileio_trusted_file_mode(mode_t mode)
{
	return (mode & 022) == 0;
}

bool
fileio_trusted_dir_mode(mode_t mode, bool strict)
{
	/* Sticky: others cannot rename or remove our file (unless strict). */
	return (mode & 022) == 0 || ((mode & S_ISVTX) != 0 && !strict);
}

/*
 * Refuses a file whose directories let someone else swap it: every
 * directory up to / owned by root or us, and not writable by group or
 * others unless sticky (then they cannot rename or remove our file).
 * strict_own: the file's own directory may not be writable by group or
 * others even when sticky (they could create names in it).
 */
static int
check_dirs(const char *path, const char *what, bool strict_own,
    struct err_msg *msg)
{
	bool own = true;
	char dir[PATH_MAX], *real = NULL, *slash;
	const char *d;
	struct stat st;
	size_t n;
	int r;

	slash = strrchr(path, '/');
	if (slash == NULL) {
		d = ".";
	} else if (slash == path) {
		d = "/";
	} else {
		n = (size_t)(slash - path);
		if (n >= sizeof(dir))
			return err_set(msg, SIGNET_ERR_IO, "%s: path too long",
			    path);
		memcpy(dir, path, n);
		dir[n] = '\0';
		d = dir;
	}
	real = realpath(d, NULL);
	if (real == NULL)
		return err_set(msg, SIGNET_ERR_IO,
		    "%s: cannot resolve its "
		    "directory: %s",
		    path, strerror(errno));
	for (;;) {
		if (stat(real, &st) != 0) {
			r = err_set(msg, SIGNET_ERR_IO,
			    "%s: cannot stat "
			    "directory %s: %s",
			    path, real, strerror(errno));
			goto out;
		}
		if (!fileio_trusted_owner(st.st_uid)) {
			r = err_set(msg, SIGNET_ERR_PERMISSIONS,
			    "%s: directory "
			    "%s is owned by uid %u, not root or this program's "
			    "user (uid %u), who could replace %s; "
			    "move the file or chown root %s",
			    path, real, (unsigned)st.st_uid,
			    (unsigned)geteuid(), what, real);
			goto out;
		}
		if (!fileio_trusted_dir_mode(st.st_mode, own && strict_own)) {
			r = err_set(msg, SIGNET_ERR_PERMISSIONS,
			    "%s: directory "
			    "%s is writable by group or others (mode %04o), "
			    "who could replace %s; chmod go-w %s",
			    path, real, (unsigned)(st.st_mode & 07777), what,
			    real);
			goto out;
		}
		if (strcmp(real, "/") == 0)
			break;
		own = false;
		slash = strrchr(real, '/');
		if (slash == real)
			slash[1] = '\0';
		else
			*slash = '\0';
	}
	r = 0;
out:
	free(real);
	return r;
}

/*
 * A trusted file's own checks: owned by root or us, not writable by group
 * or others.
 */
static int
check_trusted(const char *path, const struct stat *st, struct err_msg *msg)
{
	if (!fileio_trusted_owner(st->st_uid))
		return err_set(msg, SIGNET_ERR_PERMISSIONS,
		    "%s: owned by uid %u, not root or this program's user "
		    "(uid %u); chown root %s",
		    path, (unsigned)st->st_uid, (unsigned)geteuid(), path);
	if (!fileio_trusted_file_mode(st->st_mode))
		return err_set(msg, SIGNET_ERR_PERMISSIONS,
		    "%s: writable by group or others (mode %04o); chmod go-w "
		    "%s",
		    path, (unsigned)(st->st_mode & 07777), path);
	return 0;
}

static int
open_checked(const char *path, enum fileio_kind kind, size_t max, size_t *size,
    struct err_msg *msg)
{
	struct stat st;
	int flags = O_RDONLY | O_CLOEXEC;
	int fd, saved, r;

	/* O_NONBLOCK: a FIFO put in a trusted file's place must not hang. */
	if (kind == FILEIO_SECRET)
		flags |= O_NOFOLLOW;
	else if (kind == FILEIO_TRUSTED)
		flags |= O_NOFOLLOW | O_NONBLOCK | O_NOCTTY;
	fd = open(path, flags);
	if (fd < 0) {
		saved = errno;
		if (saved == ENOENT)
			return err_set(msg, SIGNET_ERR_NOT_FOUND,
			    "%s: no such file", path);
		if (saved == ELOOP)
			return err_set(msg, SIGNET_ERR_PERMISSIONS,
			    "%s: is a symbolic link; refusing it for a %s",
			    path,
			    kind == FILEIO_SECRET ?
			        "secret" :
			        "trusted file: point signet at the file itself");
		return err_set(msg, SIGNET_ERR_IO, "%s: cannot open: %s", path,
		    strerror(saved));
	}
	if (fstat(fd, &st) != 0) {
		saved = errno;
		(void)close(fd);
		return err_set(msg, SIGNET_ERR_IO, "%s: cannot stat: %s", path,
		    strerror(saved));
	}
	if (!S_ISREG(st.st_mode)) {
		(void)close(fd);
		return err_set(msg, SIGNET_ERR_PERMISSIONS,
		    "%s: not a regular file", path);
	}
	if (kind == FILEIO_SECRET && (st.st_mode & 077) != 0) {
		(void)close(fd);
		return err_set(msg, SIGNET_ERR_PERMISSIONS,
		    "%s: secret file has mode %04o; group and others must have "
		    "no access (chmod 600 %s)",
		    path, (unsigned)(st.st_mode & 07777), path);
	}
	if (kind == FILEIO_TRUSTED) {
		r = check_trusted(path, &st, msg);
		if (r != 0) {
			(void)close(fd);
			return r;
		}
	}
	if (st.st_size < 0 || (unsigned long long)st.st_size > max) {
		(void)close(fd);
		return err_set(msg, SIGNET_ERR_TOO_LARGE,
		    "%s: file is %lld bytes, more than the %zu allowed", path,
		    (long long)st.st_size, max);
	}
	*size = (size_t)st.st_size;
	return fd;
}

/* Reads up to max bytes; more than max (file grew) is an error. */
static int
read_fd(int fd, const char *path, char *buf, size_t max, size_t *len,
    struct err_msg *msg)
{
	size_t off = 0;
	ssize_t n;

	for (;;) {
		/* Ask for one byte beyond max to notice a file that grew. */
		char extra;
		if (off < max)
			n = read(fd, buf + off, max - off);
		else
			n = read(fd, &extra, 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return err_set(msg, SIGNET_ERR_IO, "%s: read: %s", path,
			    strerror(errno));
		if (n == 0)
			break;
		if (off >= max)
			return err_set(msg, SIGNET_ERR_TOO_LARGE,
			    "%s: more than %zu bytes", path, max);
		off += (size_t)n;
	}
	buf[off] = '\0';
	*len = off;
	return 0;
}

int
fileio_read_small(const char *path, char *buf, size_t max, size_t *len,
    enum fileio_kind kind, struct err_msg *msg)
{
	size_t size = 0;
	int fd, r;

	*len = 0;
	fd = open_checked(path, kind, max, &size, msg);
	if (fd < 0)
		return fd;
	r = read_fd(fd, path, buf, max, len, msg);
	(void)close(fd);
	return r;
}

static int
read_alloc(const char *path, size_t max, enum fileio_kind kind,
    const char *what, char **out, size_t *len, struct err_msg *msg)
{
	size_t size = 0;
	char *buf = NULL;
	int fd, r;

	*out = NULL;
	*len = 0;
	fd = open_checked(path, kind, max, &size, msg);
	if (fd < 0)
		return fd;
	if (kind == FILEIO_TRUSTED) {
		r = check_dirs(path, what, false, msg);
		if (r != 0)
			goto out;
	}
	buf = malloc(max + 1);
	if (buf == NULL) {
		r = err_set(msg, SIGNET_ERR_ALLOC, "%s: out of memory", path);
		goto out;
	}
	r = read_fd(fd, path, buf, max, len, msg);
	if (r != 0)
		goto out;
	*out = buf;
	buf = NULL;
out:
	free(buf);
	(void)close(fd);
	return r;
}

int
fileio_read_alloc(const char *path, size_t max, char **out, size_t *len,
    struct err_msg *msg)
{
	return read_alloc(path, max, FILEIO_PUBLIC, NULL, out, len, msg);
}

int
fileio_read_trusted(const char *path, size_t max, const char *what, char **out,
    size_t *len, struct err_msg *msg)
{
	return read_alloc(path, max, FILEIO_TRUSTED, what, out, len, msg);
}

int
fileio_check_dir(const char *path, const char *what, struct err_msg *msg)
{
	return check_dirs(path, what, true, msg);
}

int
fileio_write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;
	ssize_t n;

	while (len > 0) {
		n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int
fileio_write_new(const char *path, const void *data, size_t len, mode_t mode,
    struct err_msg *msg)
{
	int fd, r, saved;

	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
	    mode);
	if (fd < 0) {
		saved = errno;
		if (saved == EEXIST)
			return err_set(msg, SIGNET_ERR_EXISTS,
			    "%s: already exists; refusing to overwrite", path);
		return err_set(msg, SIGNET_ERR_IO, "%s: cannot create: %s",
		    path, strerror(saved));
	}
	if (fchmod(fd, mode) != 0 || fileio_write_all(fd, data, len) != 0 ||
	    fsync(fd) != 0) {
		saved = errno;
		r = err_set(msg, SIGNET_ERR_IO, "%s: cannot write: %s", path,
		    strerror(saved));
		(void)close(fd);
		(void)unlink(path);
		return r;
	}
	if (close(fd) != 0) {
		saved = errno;
		(void)unlink(path);
		return err_set(msg, SIGNET_ERR_IO, "%s: close: %s", path,
		    strerror(saved));
	}
	return 0;
}

int
fileio_replace(const char *path, const void *data, size_t len, mode_t mode,
    struct err_msg *msg)
{
	char tmp[PATH_MAX];
	int r, saved;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp))
		return err_set(msg, SIGNET_ERR_IO, "%s: path too long", path);
	if (unlink(tmp) != 0 && errno != ENOENT) {
		saved = errno;
		return err_set(msg, SIGNET_ERR_IO, "%s: cannot remove: %s", tmp,
		    strerror(saved));
	}
	r = fileio_write_new(tmp, data, len, mode, msg);
	if (r != 0)
		return r == SIGNET_ERR_EXISTS ? SIGNET_ERR_IO : r;
	if (rename(tmp, path) != 0) {
		saved = errno;
		(void)unlink(tmp);
		return err_set(msg, SIGNET_ERR_IO,
		    "%s: cannot rename into "
		    "place: %s",
		    path, strerror(saved));
	}
	return fileio_sync_parent(path, msg);
}

int
fileio_sync_dir(const char *dir, struct err_msg *msg)
{
	int fd, saved;

	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		saved = errno;
		return err_set(msg, SIGNET_ERR_IO,
		    "%s: cannot open directory: %s", dir, strerror(saved));
	}
	if (fsync(fd) != 0 && errno != EINVAL) {
		saved = errno;
		(void)close(fd);
		return err_set(msg, SIGNET_ERR_IO, "%s: fsync: %s", dir,
		    strerror(saved));
	}
	(void)close(fd);
	return 0;
}

int
fileio_sync_parent(const char *path, struct err_msg *msg)
{
	char dir[PATH_MAX];
	const char *slash = strrchr(path, '/');
	size_t n;

	if (slash == NULL)
		return fileio_sync_dir(".", msg);
	n = (size_t)(slash - path);
	if (n == 0)
		return fileio_sync_dir("/", msg);
	if (n >= sizeof(dir))
		return err_set(msg, SIGNET_ERR_TOO_LARGE, "path too long");
	memcpy(dir, path, n);
	dir[n] = '\0';
	return fileio_sync_dir(dir, msg);
}
