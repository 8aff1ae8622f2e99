/* SPDX-License-Identifier: ISC */
/*
 * Careful file access shared by every module: bounded whole-file reads that
 * refuse links and, for secrets, loose permissions (like sshd's StrictModes);
 * exclusive creation that never overwrites; writes that survive EINTR and
 * short counts; fsync of files and their directories.
 */
#ifndef SIGNET_FILEIO_H
#define SIGNET_FILEIO_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "err.h"

enum fileio_kind {
	FILEIO_PUBLIC, /* any mode */
	FILEIO_SECRET, /* refused if group or others have any access */
	/*
	 * Decides what signet trusts (a policy, a CA, a pinned key): no
	 * symbolic link, owned by root or this program's user, not
	 * writable by group or others.
	 */
	FILEIO_TRUSTED,
};

/*
 * Reads the whole regular file at path into buf (at most max bytes; a NUL
 * is stored after the data, so buf must hold max + 1). Symlinks are
 * followed only for FILEIO_PUBLIC. Returns 0, SIGNET_ERR_NOT_FOUND,
 * SIGNET_ERR_IO, SIGNET_ERR_PERMISSIONS or SIGNET_ERR_TOO_LARGE.
 */
int fileio_read_small(const char *path, char *buf, size_t max, size_t *len,
    enum fileio_kind kind, struct err_msg *msg)
    __attribute__((warn_unused_result));

/*
 * Reads a whole file of at most max bytes into a new NUL-terminated heap
 * buffer (*out, free() it). Same errors as fileio_read_small.
 */
int fileio_read_alloc(const char *path, size_t max, char **out, size_t *len,
    struct err_msg *msg) __attribute__((warn_unused_result));

/*
 * Reads a FILEIO_TRUSTED file as fileio_read_alloc does, the way sshd's
 * StrictModes would: besides the file's own checks, every directory from
 * its own up to / must be owned by root or this program's user and not
 * writable by group or others unless sticky (like /tmp), so that nobody
 * else can swap the file. what names its role in messages ("the policy").
 * Returns as fileio_read_small, and SIGNET_ERR_ALLOC.
 */
int fileio_read_trusted(const char *path, size_t max, const char *what,
    char **out, size_t *len, struct err_msg *msg)
    __attribute__((warn_unused_result));

/*
 * Checks the directories of a file signet writes and others must not
 * touch (an audit log): its own directory owned by root or this program's
 * user and not writable by group or others, sticky or not (else another
 * user could plant a file or link under the name); every directory above
 * as for fileio_read_trusted. what names the file's role in messages.
 * Returns 0, SIGNET_ERR_PERMISSIONS, or SIGNET_ERR_IO when a directory
 * cannot be resolved or examined.
 */
int fileio_check_dir(const char *path, const char *what, struct err_msg *msg)
    __attribute__((warn_unused_result));

/*
 * The rules above, on a stat already made, for a caller that re-checks a
 * trusted file by stat without reading it again (keyset_cache.h); the
 * reads above use them too, so the two cannot drift apart.
 * fileio_trusted_owner: uid is root or this program's effective user.
 * fileio_trusted_file_mode: not writable by group or others.
 * fileio_trusted_dir_mode: not writable by group or others, or (unless
 * strict, as for a file's own directory in fileio_check_dir) sticky.
 * Neither mode check looks at the file type: callers check it.
 */
bool fileio_trusted_owner(uid_t uid);
bool fileio_trusted_file_mode(mode_t mode);
bool fileio_trusted_dir_mode(mode_t mode, bool strict);

/*
 * Creates path exclusively with mode (umask does not loosen or tighten
 * it), writes data, fsyncs. SIGNET_ERR_EXISTS if it exists. On failure the
 * file is removed.
 */
int fileio_write_new(const char *path, const void *data, size_t len,
    mode_t mode, struct err_msg *msg) __attribute__((warn_unused_result));

/*
 * Replaces path atomically with data: writes PATH.tmp (a stale one is
 * removed first; never followed if a link), fsyncs it, renames it over
 * path and fsyncs the directory. Readers see the old file or the new one,
 * never a mix. Returns 0 or SIGNET_ERR_IO; on failure path is unchanged
 * and PATH.tmp removed.
 */
int fileio_replace(const char *path, const void *data, size_t len, mode_t mode,
    struct err_msg *msg) __attribute__((warn_unused_result));

/* Writes all of buf to fd, retrying on EINTR and short writes. 0 or -1. */
int fileio_write_all(int fd, const void *buf, size_t len)
    __attribute__((warn_unused_result));

/* fsyncs the directory dir so that new names in it are durable. */
int fileio_sync_dir(const char *dir, struct err_msg *msg)
    __attribute__((warn_unused_result));

/* fsyncs the directory holding path. */
int fileio_sync_parent(const char *path, struct err_msg *msg)
    __attribute__((warn_unused_result));

#endif
