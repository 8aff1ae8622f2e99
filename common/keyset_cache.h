/* SPDX-License-Identifier: ISC */
/*
 * The server's agent result keys (keyset.h, trusted) without reading and
 * parsing every file and listing retired/ at every hello, result and
 * outcome: what keyset_load gave is kept per host and used again only
 * while stat() shows that nothing keyset_load looked at has changed.
 * Anything else (a miss, any difference, any stat error) is a full
 * keyset_load, whose errors come back as they are and whose successes
 * alone are kept; a failure removes the host's entry.
 *
 * What a kept entry is checked against, at every use:
 * - every directory from the agents directory's real path up to /
 *   (lstat: device, inode, type, mode, owner), and stat() of the
 *   directory as named, which must still be the same inode: the
 *   owner/mode rules of fileio_read_trusted hold of them when they are
 *   kept (fileio_trusted_owner, fileio_trusted_dir_mode), and any change
 *   of mode or owner, or a directory moved or replaced by a link, is a
 *   difference;
 * - DIR/HOST.pub, DIR/retired and every DIR/retired/HOST.STAMP.pub used
 *   (lstat: device, inode, type, mode, owner, size, mtime and ctime to
 *   the nanosecond), or their absence: a rewrite in place changes mtime
 *   and ctime, a chmod or chown ctime, a rename the inode, and a name
 *   added to, removed from or renamed in retired/ that directory's mtime;
 * - the effective uid (the owner rules compare with it).
 *
 * What that relies on:
 * - the kernel sets ctime to the current time at any change of a file
 *   (data, mode, owner, links) and nobody can set it back (only root
 *   stepping the clock back could make a stamp repeat);
 * - a file system's stamps are coarse (a clock tick, or a second on some
 *   file systems), so two changes can share a stamp: an entry is kept
 *   only when every one of those stamps is at least settle_ms older than
 *   the moment its keyset_load began ("racy git"), so any later change
 *   has a newer stamp; until then every use reads the files again. The
 *   file system's clock must be this host's within settle_ms (a network
 *   file system whose server lags further could repeat a stamp);
 * - inode numbers: a file renamed over HOST.pub is another inode, and the
 *   stats made before and after keyset_load must agree, so a swap during
 *   the load is not kept.
 * Not repeated on a kept entry: the warning keyset_load logs for names
 * in retired/ that look like the host's but are not retired key names
 * (logged again when retired/ changes).
 *
 * One lock guards the cache: any thread may call keyset_cache_load. A
 * miss reads the files under the lock.
 */
#ifndef SIGNET_KEYSET_CACHE_H
#define SIGNET_KEYSET_CACHE_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "keyset.h"

/* Hosts kept at most; more are loaded with keyset_load every time. */
#define KEYSET_CACHE_HOSTS_MAX 131072
/* How old every stamp must be for an entry to be used (see above). */
#define KEYSET_CACHE_SETTLE_MS 2000

struct keyset_cache;

/*
 * A new empty cache of the trusted keys in dir (copied; at most
 * PATH_MAX - 1 bytes) for up to max_hosts hosts (1 to
 * KEYSET_CACHE_HOSTS_MAX), an entry used only when its stamps are
 * settle_ms old (at least 1; KEYSET_CACHE_SETTLE_MS outside tests).
 * settle_ms at most a day. Returns 0 with *out (keyset_cache_free it),
 * SIGNET_ERR_INVALID_ARG (a bound out of range, dir NULL or too long),
 * SIGNET_ERR_ALLOC, SIGNET_ERR_CRYPTO (libsodium, for the table's hash
 * key, unusable) or SIGNET_ERR_INTERNAL (no lock).
 */
int keyset_cache_new(const char *dir, size_t max_hosts, int64_t settle_ms,
    struct keyset_cache **out, struct err_msg *msg)
    __attribute__((warn_unused_result));

/* Frees the cache and its entries; NULL allowed. */
void keyset_cache_free(struct keyset_cache *c);

/*
 * What keyset_load(dir, host, true, out, msg) would give now: 0 with
 * *out, or exactly its error codes and messages (SIGNET_ERR_INVALID_ARG,
 * SIGNET_ERR_NOT_FOUND, SIGNET_ERR_TOO_LARGE, SIGNET_ERR_FORMAT,
 * SIGNET_ERR_PERMISSIONS, SIGNET_ERR_IO, a key file's error; *out
 * cleared). SIGNET_ERR_INVALID_ARG also when c is NULL.
 */
int keyset_cache_load(struct keyset_cache *c, const char *host,
    struct keyset *out, struct err_msg *msg)
    __attribute__((warn_unused_result));

/*
 * For tests and benchmarks: how many times keyset_cache_load read the
 * files (called keyset_load), and how many hosts are kept; 0 for NULL.
 */
uint64_t keyset_cache_full_loads(struct keyset_cache *c);
size_t keyset_cache_count(struct keyset_cache *c);

#endif
