/* SPDX-License-Identifier: ISC */
/*
 * RFC 6962 / RFC 9162 Merkle trees over a log's records (docs/transparency.md),
 * following the design of Go's golang.org/x/mod/sumdb/tlog (BSD licence):
 * leaf hash SHA-256(0x00 || record), node hash SHA-256(0x01 || left ||
 * right), the tree of n records split at the largest power of two below n.
 * Every hash of every complete subtree is kept in one dense sequence, the
 * "stored hashes" (Crosby and Wallach's ordering): record n adds its leaf
 * hash and the hash of every subtree it completes, so a log of n records
 * holds merkle_stored_count(n) < 2n hashes and any root or proof needs at
 * most about 2 log2(n) of them. A struct merkle_reader fetches stored
 * hashes by index (from memory, a file, ...); struct merkle_frontier keeps
 * only the O(log n) hashes a writer needs to compute roots; struct
 * merkle_store keeps a log's stored hashes in a file next to it.
 *
 * Errors: a proof that does not verify (wrong hash, wrong length) is
 * SIGNET_ERR_CHAIN; sizes or indexes that make no sense (n >= t, a size
 * over MERKLE_SIZE_MAX) are SIGNET_ERR_INVALID_ARG; a reader's own error
 * code is passed on unchanged.
 */
#ifndef SIGNET_MERKLE_H
#define SIGNET_MERKLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"

#define MERKLE_HASH_LEN 32
/*
 * Trees hold fewer than 2^62 records, so that every stored index and every
 * level fits in 64 bits with room to spare (audit seqs are below 2^53).
 */
#define MERKLE_SIZE_MAX ((uint64_t)1 << 62)
/* Hashes in an inclusion or consistency proof, and in a frontier. */
#define MERKLE_PROOF_MAX 64
#define MERKLE_FRONTIER_MAX 64
/* Hashes merkle_stored_hashes() returns at most: the leaf and 63 nodes. */
#define MERKLE_STORED_MAX 64
/* Stored hashes one call of a reader asks for at most. */
#define MERKLE_READ_MAX 128

typedef uint8_t merkle_hash[MERKLE_HASH_LEN];

/*
 * Reads stored hashes: fills out[i] with the hash at stored index
 * indexes[i] for i < n and returns 0, or returns a negative SIGNET_ERR_*
 * code (SIGNET_ERR_NOT_FOUND for an index not stored yet, SIGNET_ERR_IO,
 * ...), which the merkle_* functions pass on. The functions here always
 * ask for indexes in increasing order, at most MERKLE_READ_MAX at once,
 * and never with n == 0.
 */
struct merkle_reader {
	int (*read)(void *arg, const uint64_t *indexes, size_t n,
	    uint8_t (*out)[MERKLE_HASH_LEN]);
	void *arg;
};

/* out = SHA-256(0x00 || data[0..len)); data may be NULL when len is 0. */
void merkle_leaf_hash(const void *data, size_t len,
    uint8_t out[static MERKLE_HASH_LEN]);

/* out = SHA-256(0x01 || left || right); out may alias left or right. */
void merkle_node_hash(const uint8_t left[static MERKLE_HASH_LEN],
    const uint8_t right[static MERKLE_HASH_LEN],
    uint8_t out[static MERKLE_HASH_LEN]);

/*
 * The stored index of the hash at (level, n): level 0 holds leaf hashes,
 * level L's n-th hash covers records [n * 2^L, (n + 1) * 2^L). Needs
 * level < 63 and (n + 1) << level <= MERKLE_SIZE_MAX (else the result is
 * meaningless; callers check with merkle_stored_count).
 */
uint64_t merkle_stored_index(unsigned level, uint64_t n);

/* The inverse of merkle_stored_index(). */
void merkle_split_stored_index(uint64_t index, unsigned *level, uint64_t *n);

/* The number of stored hashes of a tree of n records (0 for n = 0). */
uint64_t merkle_stored_count(uint64_t n);

/*
 * The hashes to store, at stored indexes merkle_stored_count(n) onwards,
 * when record n (counting from 0) with leaf hash leaf is appended: the
 * leaf hash, then the hash of each subtree the record completes, bottom
 * up. Reads up to 62 earlier hashes through r (r may be NULL when n is
 * even: none are needed). Writes *count (1 .. MERKLE_STORED_MAX) hashes
 * into out. Returns 0, SIGNET_ERR_INVALID_ARG (n >= MERKLE_SIZE_MAX or r
 * NULL when needed) or the reader's error; *count is 0 on failure.
 */
int merkle_stored_hashes(uint64_t n, const uint8_t leaf[static MERKLE_HASH_LEN],
    const struct merkle_reader *r, uint8_t (*out)[MERKLE_HASH_LEN],
    size_t *count) __attribute__((warn_unused_result));

/*
 * The root hash of the tree of the first n records (SHA-256 of the empty
 * string when n is 0, as RFC 6962 says), reading at most 63 stored
 * hashes through r in one call. Returns 0, SIGNET_ERR_INVALID_ARG or the
 * reader's error; root is zeroed on failure.
 */
int merkle_tree_hash(uint64_t n, const struct merkle_reader *r,
    uint8_t root[static MERKLE_HASH_LEN]) __attribute__((warn_unused_result));

/*
 * Inclusion ("audit path", RFC 6962 2.1.1): the proof that the tree of
 * size t holds record n (n < t), into proof[MERKLE_PROOF_MAX], *len
 * hashes (0 when t is 1). Returns 0, SIGNET_ERR_INVALID_ARG (n >= t, t >
 * MERKLE_SIZE_MAX) or the reader's error; *len is 0 on failure.
 */
int merkle_prove_record(uint64_t t, uint64_t n, const struct merkle_reader *r,
    uint8_t (*proof)[MERKLE_HASH_LEN], size_t *len)
    __attribute__((warn_unused_result));

/*
 * Checks that proof[0..len) proves that the tree of size t with root
 * root_t holds record n with leaf hash leaf. Returns 0, SIGNET_ERR_CHAIN
 * (the proof does not verify: a wrong hash, too few or too many hashes)
 * or SIGNET_ERR_INVALID_ARG (n >= t, t > MERKLE_SIZE_MAX, proof NULL with
 * len > 0).
 */
int merkle_check_record(const uint8_t (*proof)[MERKLE_HASH_LEN], size_t len,
    uint64_t t, const uint8_t root_t[static MERKLE_HASH_LEN], uint64_t n,
    const uint8_t leaf[static MERKLE_HASH_LEN])
    __attribute__((warn_unused_result));

/*
 * Consistency (RFC 6962 2.1.2): the proof that the tree of size t holds
 * the tree of size n (1 <= n <= t) as a prefix, into
 * proof[MERKLE_PROOF_MAX], *len hashes (0 when n == t). Returns 0,
 * SIGNET_ERR_INVALID_ARG (n == 0, n > t, t > MERKLE_SIZE_MAX) or the
 * reader's error; *len is 0 on failure. (Every tree holds the empty tree:
 * callers need no proof for n == 0.)
 */
int merkle_prove_tree(uint64_t t, uint64_t n, const struct merkle_reader *r,
    uint8_t (*proof)[MERKLE_HASH_LEN], size_t *len)
    __attribute__((warn_unused_result));

/*
 * Checks that proof[0..len) proves that the tree of size t with root
 * root_t holds the tree of size n with root root_n as a prefix. Returns
 * 0, SIGNET_ERR_CHAIN (does not verify; for n == t: len is not 0 or the
 * roots differ) or SIGNET_ERR_INVALID_ARG (n == 0, n > t, t >
 * MERKLE_SIZE_MAX, proof NULL with len > 0).
 */
int merkle_check_tree(const uint8_t (*proof)[MERKLE_HASH_LEN], size_t len,
    uint64_t t, const uint8_t root_t[static MERKLE_HASH_LEN], uint64_t n,
    const uint8_t root_n[static MERKLE_HASH_LEN])
    __attribute__((warn_unused_result));

/*
 * The right edge of a tree: for each 1 bit of size, from the highest, the
 * root of that complete subtree (hash[0] covers the first records). A
 * writer appends leaf hashes and gets roots without keeping the rest.
 * Plain data: copy it freely.
 */
struct merkle_frontier {
	uint64_t size;
	size_t count; /* number of 1 bits in size */
	uint8_t hash[MERKLE_FRONTIER_MAX][MERKLE_HASH_LEN];
};

/* Makes f the frontier of the empty tree. */
void merkle_frontier_init(struct merkle_frontier *f);

/*
 * Appends one record with leaf hash leaf. Returns 0 or
 * SIGNET_ERR_TOO_LARGE (the tree holds MERKLE_SIZE_MAX - 1 records
 * already); f is unchanged on failure.
 */
int merkle_frontier_append(struct merkle_frontier *f,
    const uint8_t leaf[static MERKLE_HASH_LEN])
    __attribute__((warn_unused_result));

/* The root of f's tree (SHA-256 of "" when empty). */
void merkle_frontier_root(const struct merkle_frontier *f,
    uint8_t out[static MERKLE_HASH_LEN]);

/*
 * Rebuilds the frontier of the tree of the first n records from its
 * stored hashes (one read of at most 62 hashes). Returns 0,
 * SIGNET_ERR_INVALID_ARG or the reader's error; f is the empty frontier
 * on failure.
 */
int merkle_frontier_from_reader(uint64_t n, const struct merkle_reader *r,
    struct merkle_frontier *f) __attribute__((warn_unused_result));

/*
 * A log's stored hashes in a file (LOG.merkle by convention): the hashes
 * in stored-index order, 32 raw bytes each, nothing else. The file is
 * derived from the log, so appends are not synced: a crash may leave it
 * behind the log or torn, and the owner re-appends the missing records'
 * leaf hashes (or cuts it back with merkle_store_truncate and rebuilds).
 * Not thread-safe: callers serialise every call on one store, readers
 * included. One writer per file (an exclusive flock).
 */
struct merkle_store;

#define MERKLE_STORE_READONLY 0x1u /* no create, no lock, no repair */

/*
 * Opens (creating it, mode 0600, unless MERKLE_STORE_READONLY) the store
 * at path: not through a symbolic link, a regular file owned by this
 * program's user and not writable by group or others. A file whose
 * length is not a whole number of hashes, or that ends part-way through
 * a record's hashes, is torn: it is cut back to its last whole record
 * (read-only: the extra bytes are ignored) and *repaired (NULL allowed)
 * says so. The frontier is rebuilt from the file. Returns 0 and *out
 * (free with merkle_store_close), or SIGNET_ERR_PERMISSIONS, SIGNET_ERR_IO
 * (also when another writer holds the lock), SIGNET_ERR_NOT_FOUND
 * (read-only and no file), SIGNET_ERR_TOO_LARGE, SIGNET_ERR_ALLOC, with
 * msg naming the file.
 */
int merkle_store_open(const char *path, unsigned flags,
    struct merkle_store **out, bool *repaired, struct err_msg *msg)
    __attribute__((warn_unused_result));

/*
 * Appends record merkle_store_size(s) with leaf hash leaf: writes its
 * stored hashes (from the frontier, without reading the file). Returns 0,
 * SIGNET_ERR_INVALID_ARG (read-only store), SIGNET_ERR_TOO_LARGE or
 * SIGNET_ERR_IO; after an I/O error the store refuses appends
 * (SIGNET_ERR_UNAVAILABLE) until merkle_store_truncate succeeds, which
 * cuts off anything half-written.
 */
int merkle_store_append(struct merkle_store *s,
    const uint8_t leaf[static MERKLE_HASH_LEN], struct err_msg *msg)
    __attribute__((warn_unused_result));

/* The number of records in the store. */
uint64_t merkle_store_size(const struct merkle_store *s);

/* The root of the store's tree (from its frontier, no I/O). */
void merkle_store_root(const struct merkle_store *s,
    uint8_t out[static MERKLE_HASH_LEN]);

/*
 * Cuts the store back to its first n records (n <= size; n == size
 * just clears a failed append's state). Returns 0, SIGNET_ERR_INVALID_ARG
 * (n > size, read-only) or SIGNET_ERR_IO (the store is then unusable
 * until a truncate succeeds).
 */
int merkle_store_truncate(struct merkle_store *s, uint64_t n,
    struct err_msg *msg) __attribute__((warn_unused_result));

/* Flushes the file to disk (fsync). Returns 0 or SIGNET_ERR_IO. */
int merkle_store_sync(struct merkle_store *s, struct err_msg *msg)
    __attribute__((warn_unused_result));

/*
 * A reader over the store's hashes, valid while s is open: indexes at or
 * past merkle_stored_count(size) are SIGNET_ERR_NOT_FOUND, a failed or
 * short read SIGNET_ERR_IO.
 */
struct merkle_reader merkle_store_reader(struct merkle_store *s);

/* Closes the store; NULL allowed. */
void merkle_store_close(struct merkle_store *s);

#endif
