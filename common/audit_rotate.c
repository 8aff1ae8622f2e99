/* SPDX-License-Identifier: ISC */
/*
 * Rotation of the audit log, a part of the writer (audit_writer.c): under
 * the writer's lock the file PATH is renamed to PATH.FIRST-LAST, made
 * read-only, and a new PATH is started whose first record, audit.rotated,
 * continues the chain and names the file before it; a rotation that fails
 * half way is undone. At start, a log that holds no record next to a
 * rotated file is a rotation cut short by a crash: it is finished here.
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
#include <unistd.h>

#include "audit_mirror.h"
#include "audit_writer_int.h"
#include "fileio.h"
#include "jsonx.h"
#include "log.h"

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
		        RENAME_NOREPLACE) != 0 ||
		    fchmod(w->fd, mode) != 0)
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
int
audit_rotate_locked(struct audit_writer *w, const char *reason,
    struct err_msg *msg)
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
	if (audit_rotated_name(w->path, w->first_seq, w->next_seq - 1, rotated,
	        sizeof(rotated)) != 0)
		return err_set(msg, SIGNET_ERR_IO,
		    "%s: path too long to "
		    "rotate",
		    w->path);
	/* Rename only the file we write: not one put in its place. */
	if (fstat(w->fd, &st) != 0 || lstat(w->path, &pst) != 0 ||
	    st.st_ino != pst.st_ino || st.st_dev != pst.st_dev)
		return err_set(msg, SIGNET_ERR_IO,
		    "%s no longer names the "
		    "audit log this writer has open (moved or replaced?); not "
		    "rotating",
		    w->path);
	mode = st.st_mode & 0777;
	if (renameat2(AT_FDCWD, w->path, AT_FDCWD, rotated, RENAME_NOREPLACE) !=
	    0) {
		saved = errno;
		return err_set(msg, SIGNET_ERR_IO,
		    "cannot rename %s to %s: "
		    "%s",
		    w->path, rotated,
		    saved == EEXIST ?
		        "that file "
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
	newfd = open(w->path,
	    O_RDWR | O_APPEND | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
	    0600);
	if (newfd < 0) {
		r = err_set(&why, SIGNET_ERR_IO,
		    "%s: cannot create the new "
		    "audit log: %s",
		    w->path, strerror(errno));
		goto undo;
	}
	if (flock(newfd, LOCK_EX | LOCK_NB) != 0 || fchmod(newfd, mode) != 0) {
		r = err_set(&why, SIGNET_ERR_IO,
		    "%s: cannot lock the new "
		    "audit log: %s",
		    w->path, strerror(errno));
		goto undo;
	}
	qdata = link_data(rotated, w->next_seq - 1, w->prev, reason);
	if (qdata == NULL) {
		r = err_set(&why, SIGNET_ERR_ALLOC, "out of memory");
		goto undo;
	}
	r = audit_build_line(w, QUOTED_ROTATED, "\"audit\"", qdata, &line, &len,
	    &why);
	if (r != 0)
		goto undo;
	do {
		n = write(newfd, line, len);
	} while (n < 0 && errno == EINTR);
	if (n < 0 || (size_t)n != len || fdatasync(newfd) != 0) {
		r = err_set(&why, SIGNET_ERR_IO,
		    "%s: cannot write the %s "
		    "record: %s",
		    w->path, AUDIT_EVENT_ROTATED,
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
	audit_count_record(w, w->next_seq, QUOTED_ROTATED);
	audit_line_hash(line, len - 1, w->prev);
	audit_tree_note(w, w->next_seq, line, len - 1);
	w->next_seq++;
	w->durable = w->next_seq;
	w->size = (off_t)len;
	w->written++;
	w->synced = w->written;
	w->syncs++;
	w->rotations++;
	(void)pthread_cond_broadcast(&w->synced_cv);
	log_info("audit log rotated: reason=%s previous=%s seq=%" PRIu64,
	    reason, rotated, w->next_seq - 1);
	/* Rare: mirrored under the lock (never fails). */
	(void)audit_mirror_send(w->mirror, line, len - 1, w->next_seq - 1,
	    AUDIT_EVENT_ROTATED, "audit");
	r = 0;
	goto out;
undo:
	if (!rotate_undo(w, rotated, renamed, newfd, mode)) {
		w->broken = true;
		(void)pthread_cond_broadcast(&w->synced_cv);
		r = err_set(msg, SIGNET_ERR_UNAVAILABLE,
		    "%s (and the "
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
	r = audit_rotate_locked(w, reason, msg);
	(void)pthread_mutex_unlock(&w->mu);
	return r;
}

/*
 * The newest rotated file PATH.FIRST-LAST in path's directory, into out
 * (empty when there is none).
 */
static int
newest_rotated(const char *path, char *out, size_t outlen, struct err_msg *msg)
{
	const char *slash = strrchr(path, '/');
	const char *base = slash != NULL ? slash + 1 : path;
	char dir[4096], best[AUDIT_NAME_MAX + 1] = "";
	uint64_t best_last = 0, best_first = 0, first, last;
	struct dirent *de;
	DIR *dp;
	int n;

	out[0] = '\0';
	n = slash == NULL ?
	    snprintf(dir, sizeof(dir), ".") :
	    slash == path ?
	    snprintf(dir, sizeof(dir), "/") :
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
int
audit_recover_rotation(struct audit_writer *w, cJSON **link_json,
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
	r = audit_last_record(fd, rotated, st.st_size, &w->key->pub,
	    &w->prev_keys, &head, &whole_end, &torn, &tornlen, msg);
	if (r != 0)
		goto out;
	if (head.empty || torn != NULL) {
		r = err_set(msg, SIGNET_ERR_FORMAT,
		    "%s: a rotated audit log "
		    "file must end with a whole record; refusing to continue "
		    "this chain",
		    rotated);
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
	         "%s (a rotation was cut short)",
	    w->path, rotated);
	r = 0;
out:
	free(text);
	free(torn);
	if (fd >= 0)
		(void)close(fd);
	return r;
}
