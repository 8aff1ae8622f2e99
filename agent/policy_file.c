/* SPDX-License-Identifier: ISC */
/*
 * Loading the policy from disk the way sshd's StrictModes would: no
 * symbolic link, a regular file owned by root or the agent's user in
 * directories nobody else can write to, at most POLICY_FILE_MAX bytes;
 * then policy_parse.
 */
#include "policy.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/*
 * Refuses a policy whose directories let someone else swap it: every
 * directory up to / owned by root or us, and not writable by group or
 * others unless sticky (then they cannot rename or remove our file).
 */
static int
check_dirs(const char *path, struct err_msg *msg)
{
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
			return err_set(
			    msg, SIGNET_ERR_IO, "%s: path too long", path);
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
		if (st.st_uid != 0 && st.st_uid != geteuid()) {
			r = err_set(msg, SIGNET_ERR_PERMISSIONS,
			    "%s: directory "
			    "%s is owned by uid %u, not root or this agent's "
			    "user (uid %u), who could replace the policy; "
			    "move the file or chown root %s",
			    path, real, (unsigned)st.st_uid,
			    (unsigned)geteuid(), real);
			goto out;
		}
		if ((st.st_mode & 022) != 0 && (st.st_mode & S_ISVTX) == 0) {
			r = err_set(msg, SIGNET_ERR_PERMISSIONS,
			    "%s: directory "
			    "%s is writable by group or others (mode %04o), "
			    "who could replace the policy; chmod go-w %s",
			    path, real, (unsigned)(st.st_mode & 07777), real);
			goto out;
		}
		if (strcmp(real, "/") == 0)
			break;
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

int
policy_load(const char *path, const char *host_id, struct policy **out,
    struct err_msg *msg)
{
	struct stat st;
	char *buf = NULL;
	size_t off = 0;
	ssize_t n;
	int fd = -1, r, saved;

	*out = NULL;
	err_clear(msg);
	/* O_NONBLOCK: a FIFO put in the policy's place must not hang us. */
	fd = open(
	    path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	if (fd < 0) {
		saved = errno;
		if (saved == ENOENT)
			r = err_set(msg, SIGNET_ERR_NOT_FOUND,
			    "%s: no such file", path);
		else if (saved == ELOOP)
			r = err_set(msg, SIGNET_ERR_PERMISSIONS,
			    "%s: is a "
			    "symbolic link; point the agent at the file "
			    "itself",
			    path);
		else
			r = err_set(msg, SIGNET_ERR_IO, "%s: cannot open: %s",
			    path, strerror(saved));
		goto out;
	}
	if (fstat(fd, &st) != 0) {
		r = err_set(msg, SIGNET_ERR_IO, "%s: cannot stat: %s", path,
		    strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		r = err_set(msg, SIGNET_ERR_PERMISSIONS,
		    "%s: not a regular "
		    "file",
		    path);
		goto out;
	}
	if (st.st_uid != 0 && st.st_uid != geteuid()) {
		r = err_set(msg, SIGNET_ERR_PERMISSIONS,
		    "%s: owned by uid %u, "
		    "not root or this agent's user (uid %u); chown root %s",
		    path, (unsigned)st.st_uid, (unsigned)geteuid(), path);
		goto out;
	}
	if ((st.st_mode & 022) != 0) {
		r = err_set(msg, SIGNET_ERR_PERMISSIONS,
		    "%s: writable by "
		    "group or others (mode %04o); chmod go-w %s",
		    path, (unsigned)(st.st_mode & 07777), path);
		goto out;
	}
	if (st.st_size > POLICY_FILE_MAX) {
		r = err_set(msg, SIGNET_ERR_TOO_LARGE,
		    "%s: file is %lld "
		    "bytes, more than the %d allowed",
		    path, (long long)st.st_size, POLICY_FILE_MAX);
		goto out;
	}
	r = check_dirs(path, msg);
	if (r != 0)
		goto out;
	buf = malloc(POLICY_FILE_MAX + 1);
	if (buf == NULL) {
		r = err_set(msg, SIGNET_ERR_ALLOC, "%s: out of memory", path);
		goto out;
	}
	/* Read one byte past the limit to notice a file that grew. */
	for (;;) {
		n = read(fd, buf + off, POLICY_FILE_MAX + 1 - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = err_set(msg, SIGNET_ERR_IO, "%s: read: %s", path,
			    strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		off += (size_t)n;
		if (off > POLICY_FILE_MAX) {
			r = err_set(msg, SIGNET_ERR_TOO_LARGE,
			    "%s: more than "
			    "%d bytes",
			    path, POLICY_FILE_MAX);
			goto out;
		}
	}
	r = policy_parse(buf, off, path, host_id, out, msg);
out:
	free(buf);
	if (fd >= 0)
		(void)close(fd);
	return r;
}
