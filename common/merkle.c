/* SPDX-License-Identifier: ISC */
/*
 * RFC 6962 Merkle trees (common/merkle.h): a C port of the design of Go's
 * golang.org/x/mod/sumdb/tlog (tlog.go, BSD licence, Copyright 2019 The
 * Go Authors): the same stored-hash ordering, the same recursive
 * splitting of [lo, hi) at the largest power of two for roots, proofs and
 * their checks, so proofs are those of RFC 6962 and Certificate
 * Transparency. Index lists live in fixed arrays (the recursion is at
 * most 62 deep), and a proof that does not verify is SIGNET_ERR_CHAIN.
 * The file-backed store of a log's stored hashes is at the end.
 */
#include "merkle.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "fileio.h"

/* A list of stored indexes to read, or of hashes read, with a cursor. */
struct idxlist {
	uint64_t idx[MERKLE_READ_MAX];
	size_t n;
	bool overflow; /* a broken invariant: more than MERKLE_READ_MAX */
};

struct hashlist {
	const uint8_t (*h)[MERKLE_HASH_LEN];
	size_t n;
	size_t pos;
};

/* SHA-256 of the empty string: the root of the empty tree. */
static const uint8_t merkle_empty[MERKLE_HASH_LEN] = { 0xe3, 0xb0, 0xc4, 0x42,
	0x98, 0xfc, 0x1c, 0x14, 0x9a, 0xfb, 0xf4, 0xc8, 0x99, 0x6f, 0xb9, 0x24,
	0x27, 0xae, 0x41, 0xe4, 0x64, 0x9b, 0x93, 0x4c, 0xa4, 0x95, 0x99, 0x1b,
	0x78, 0x52, 0xb8, 0x55 };

void
merkle_leaf_hash(const void *data, size_t len,
    uint8_t out[static MERKLE_HASH_LEN])
{
	crypto_hash_sha256_state st;
	static const uint8_t zero = 0x00;

	crypto_hash_sha256_init(&st);
	crypto_hash_sha256_update(&st, &zero, 1);
	if (len > 0)
		crypto_hash_sha256_update(&st, data, len);
	crypto_hash_sha256_final(&st, out);
}

void
merkle_node_hash(const uint8_t left[static MERKLE_HASH_LEN],
    const uint8_t right[static MERKLE_HASH_LEN],
    uint8_t out[static MERKLE_HASH_LEN])
{
	uint8_t buf[1 + 2 * MERKLE_HASH_LEN];

	buf[0] = 0x01;
	memcpy(buf + 1, left, MERKLE_HASH_LEN);
	memcpy(buf + 1 + MERKLE_HASH_LEN, right, MERKLE_HASH_LEN);
	crypto_hash_sha256(out, buf, sizeof(buf));
}

/*
 * k, the largest power of two smaller than n (n >= 2), and l = log2 k;
 * 1 and 0 for n <= 1, as Go's maxpow2.
 */
static uint64_t
maxpow2(uint64_t n, unsigned *l)
{
	unsigned lg;

	if (n <= 2) {
		if (l != NULL)
			*l = 0;
		return 1;
	}
	lg = 63u - (unsigned)__builtin_clzll(n - 1);
	if (l != NULL)
		*l = lg;
	return (uint64_t)1 << lg;
}

uint64_t
merkle_stored_index(unsigned level, uint64_t n)
{
	/*
	 * Level L's n-th hash is written right after level L+1's
	 * (2n+1)-th: walk down to level 0, whose n-th hash is at
	 * n + n/2 + n/4 + ... = 2n - popcount(n), then add the levels back.
	 */
	n = ((n + 1) << level) - 1;
	return 2 * n - (uint64_t)__builtin_popcountll(n) + level;
}

void
merkle_split_stored_index(uint64_t index, unsigned *level, uint64_t *n)
{
	uint64_t rec, at, next;

	/* The record whose hashes hold index is in [index/2, ...). */
	rec = index / 2;
	at = merkle_stored_index(0, rec);
	while (at > index) { /* cannot happen: stored_index(0, n) <= 2n */
		rec--;
		at = merkle_stored_index(0, rec);
	}
	for (;;) {
		/* Record rec adds 1 + trailing_zeros(rec + 1) hashes. */
		next = at + 1 + (uint64_t)__builtin_ctzll(rec + 1);
		if (next > index)
			break;
		rec++;
		at = next;
	}
	*level = (unsigned)(index - at);
	*n = rec >> *level;
}

uint64_t
merkle_stored_count(uint64_t n)
{
	uint64_t count, i;

	if (n == 0)
		return 0;
	count = merkle_stored_index(0, n - 1) + 1;
	for (i = n - 1; (i & 1) != 0; i >>= 1)
		count++;
	return count;
}

static int
read_hashes(const struct merkle_reader *r, const struct idxlist *l,
    uint8_t (*out)[MERKLE_HASH_LEN])
{
	if (l->overflow)
		return SIGNET_ERR_INTERNAL;
	if (l->n == 0)
		return 0;
	if (r == NULL || r->read == NULL)
		return SIGNET_ERR_INVALID_ARG;
	return r->read(r->arg, l->idx, l->n, out);
}

static void
idx_add(struct idxlist *l, uint64_t idx)
{
	if (l->n >= MERKLE_READ_MAX) {
		l->overflow = true;
		return;
	}
	l->idx[l->n++] = idx;
}

int
merkle_stored_hashes(uint64_t n, const uint8_t leaf[static MERKLE_HASH_LEN],
    const struct merkle_reader *r, uint8_t (*out)[MERKLE_HASH_LEN],
    size_t *count)
{
	struct idxlist l = { .n = 0 };
	uint8_t old[MERKLE_STORED_MAX][MERKLE_HASH_LEN];
	uint8_t h[MERKLE_HASH_LEN];
	unsigned m, i;
	int ret;

	*count = 0;
	if (n >= MERKLE_SIZE_MAX - 1)
		return SIGNET_ERR_INVALID_ARG;
	/*
	 * Each trailing 1 bit of n completes a subtree and consumes the
	 * hash of the adjacent one on its left, read in increasing order.
	 */
	m = (unsigned)__builtin_ctzll(n + 1);
	for (i = 0; i < m; i++)
		idx_add(&l,
		    merkle_stored_index(m - 1 - i, (n >> (m - 1 - i)) - 1));
	ret = read_hashes(r, &l, old);
	if (ret != 0)
		return ret;
	memcpy(h, leaf, MERKLE_HASH_LEN);
	memcpy(out[0], h, MERKLE_HASH_LEN);
	for (i = 0; i < m; i++) {
		merkle_node_hash(old[m - 1 - i], h, h);
		memcpy(out[i + 1], h, MERKLE_HASH_LEN);
	}
	*count = (size_t)m + 1;
	return 0;
}

/* The stored indexes of the complete subtrees making up [lo, hi). */
static void
subtree_index(uint64_t lo, uint64_t hi, struct idxlist *l)
{
	uint64_t k;
	unsigned level;

	while (lo < hi) {
		k = maxpow2(hi - lo + 1, &level);
		idx_add(l, merkle_stored_index(level, lo >> level));
		lo += k;
	}
}

/* The hash of [lo, hi) from the hashes subtree_index asked for. */
static int
subtree_hash(uint64_t lo, uint64_t hi, struct hashlist *hl,
    uint8_t out[static MERKLE_HASH_LEN])
{
	size_t ntree = 0, i;
	uint8_t h[MERKLE_HASH_LEN];

	while (lo < hi) {
		lo += maxpow2(hi - lo + 1, NULL);
		ntree++;
	}
	if (ntree == 0 || ntree > hl->n - hl->pos)
		return SIGNET_ERR_INTERNAL;
	memcpy(h, hl->h[hl->pos + ntree - 1], MERKLE_HASH_LEN);
	for (i = ntree - 1; i > 0; i--)
		merkle_node_hash(hl->h[hl->pos + i - 1], h, h);
	hl->pos += ntree;
	memcpy(out, h, MERKLE_HASH_LEN);
	return 0;
}

int
merkle_tree_hash(uint64_t n, const struct merkle_reader *r,
    uint8_t root[static MERKLE_HASH_LEN])
{
	struct idxlist l = { .n = 0 };
	uint8_t hashes[MERKLE_READ_MAX][MERKLE_HASH_LEN];
	struct hashlist hl = { .h = hashes };
	int ret;

	memset(root, 0, MERKLE_HASH_LEN);
	if (n >= MERKLE_SIZE_MAX)
		return SIGNET_ERR_INVALID_ARG;
	if (n == 0) {
		memcpy(root, merkle_empty, MERKLE_HASH_LEN);
		return 0;
	}
	subtree_index(0, n, &l);
	ret = read_hashes(r, &l, hashes);
	if (ret != 0)
		return ret;
	hl.n = l.n;
	ret = subtree_hash(0, n, &hl, root);
	if (ret == 0 && hl.pos != hl.n)
		ret = SIGNET_ERR_INTERNAL;
	if (ret != 0)
		memset(root, 0, MERKLE_HASH_LEN);
	return ret;
}

/* The indexes leaf_proof needs for leaf n of [lo, hi). */
static void
leaf_proof_index(uint64_t lo, uint64_t hi, uint64_t n, struct idxlist *l)
{
	uint64_t k;

	if (lo + 1 == hi)
		return;
	k = maxpow2(hi - lo, NULL);
	if (n < lo + k) {
		leaf_proof_index(lo, lo + k, n, l);
		subtree_index(lo + k, hi, l);
	} else {
		subtree_index(lo, lo + k, l);
		leaf_proof_index(lo + k, hi, n, l);
	}
}

/* Appends to proof the path from leaf n of [lo, hi) up to its root. */
static int
leaf_proof(uint64_t lo, uint64_t hi, uint64_t n, struct hashlist *hl,
    uint8_t (*proof)[MERKLE_HASH_LEN], size_t *len)
{
	uint8_t th[MERKLE_HASH_LEN];
	uint64_t k;
	int ret;

	if (lo + 1 == hi)
		return 0; /* the verifier knows the leaf hash */
	k = maxpow2(hi - lo, NULL);
	if (n < lo + k) {
		ret = leaf_proof(lo, lo + k, n, hl, proof, len);
		if (ret == 0)
			ret = subtree_hash(lo + k, hi, hl, th);
	} else {
		ret = subtree_hash(lo, lo + k, hl, th);
		if (ret == 0)
			ret = leaf_proof(lo + k, hi, n, hl, proof, len);
	}
	if (ret != 0)
		return ret;
	if (*len >= MERKLE_PROOF_MAX)
		return SIGNET_ERR_INTERNAL;
	memcpy(proof[(*len)++], th, MERKLE_HASH_LEN);
	return 0;
}

int
merkle_prove_record(uint64_t t, uint64_t n, const struct merkle_reader *r,
    uint8_t (*proof)[MERKLE_HASH_LEN], size_t *len)
{
	struct idxlist l = { .n = 0 };
	uint8_t hashes[MERKLE_READ_MAX][MERKLE_HASH_LEN];
	struct hashlist hl = { .h = hashes };
	int ret;

	*len = 0;
	if (t >= MERKLE_SIZE_MAX || n >= t)
		return SIGNET_ERR_INVALID_ARG;
	leaf_proof_index(0, t, n, &l);
	ret = read_hashes(r, &l, hashes);
	if (ret != 0)
		return ret;
	hl.n = l.n;
	ret = leaf_proof(0, t, n, &hl, proof, len);
	if (ret == 0 && hl.pos != hl.n)
		ret = SIGNET_ERR_INTERNAL;
	if (ret != 0)
		*len = 0;
	return ret;
}

/*
 * Runs proof[0..len) for leaf n of [lo, hi): the implied hash of [lo, hi)
 * into out, or SIGNET_ERR_CHAIN when the proof has the wrong length.
 */
static int
run_record_proof(const uint8_t (*proof)[MERKLE_HASH_LEN], size_t len,
    uint64_t lo, uint64_t hi, uint64_t n,
    const uint8_t leaf[static MERKLE_HASH_LEN],
    uint8_t out[static MERKLE_HASH_LEN])
{
	uint8_t th[MERKLE_HASH_LEN];
	uint64_t k;
	int ret;

	if (lo + 1 == hi) {
		if (len != 0) /* no unnecessary hashes */
			return SIGNET_ERR_CHAIN;
		memcpy(out, leaf, MERKLE_HASH_LEN);
		return 0;
	}
	if (len == 0)
		return SIGNET_ERR_CHAIN;
	k = maxpow2(hi - lo, NULL);
	if (n < lo + k) {
		ret = run_record_proof(proof, len - 1, lo, lo + k, n, leaf, th);
		if (ret == 0)
			merkle_node_hash(th, proof[len - 1], out);
	} else {
		ret = run_record_proof(proof, len - 1, lo + k, hi, n, leaf, th);
		if (ret == 0)
			merkle_node_hash(proof[len - 1], th, out);
	}
	return ret;
}

int
merkle_check_record(const uint8_t (*proof)[MERKLE_HASH_LEN], size_t len,
    uint64_t t, const uint8_t root_t[static MERKLE_HASH_LEN], uint64_t n,
    const uint8_t leaf[static MERKLE_HASH_LEN])
{
	uint8_t th[MERKLE_HASH_LEN];
	int ret;

	if (t >= MERKLE_SIZE_MAX || n >= t || (proof == NULL && len > 0))
		return SIGNET_ERR_INVALID_ARG;
	/* Longer than any tree below MERKLE_SIZE_MAX could need. */
	if (len > MERKLE_PROOF_MAX)
		return SIGNET_ERR_CHAIN;
	ret = run_record_proof(proof, len, 0, t, n, leaf, th);
	if (ret != 0)
		return ret;
	if (sodium_memcmp(th, root_t, MERKLE_HASH_LEN) != 0)
		return SIGNET_ERR_CHAIN;
	return 0;
}

/* The indexes tree_proof needs for [lo, hi) against the old size n. */
static void
tree_proof_index(uint64_t lo, uint64_t hi, uint64_t n, struct idxlist *l)
{
	uint64_t k;

	if (n == hi) {
		if (lo != 0)
			subtree_index(lo, hi, l);
		return;
	}
	k = maxpow2(hi - lo, NULL);
	if (n <= lo + k) {
		tree_proof_index(lo, lo + k, n, l);
		subtree_index(lo + k, hi, l);
	} else {
		subtree_index(lo, lo + k, l);
		tree_proof_index(lo + k, hi, n, l);
	}
}

static int
proof_add(uint8_t (*proof)[MERKLE_HASH_LEN], size_t *len,
    const uint8_t h[static MERKLE_HASH_LEN])
{
	if (*len >= MERKLE_PROOF_MAX)
		return SIGNET_ERR_INTERNAL;
	memcpy(proof[(*len)++], h, MERKLE_HASH_LEN);
	return 0;
}

/* Appends to proof the sub-proof of [lo, hi) for the old size n. */
static int
tree_proof(uint64_t lo, uint64_t hi, uint64_t n, struct hashlist *hl,
    uint8_t (*proof)[MERKLE_HASH_LEN], size_t *len)
{
	uint8_t th[MERKLE_HASH_LEN];
	uint64_t k;
	int ret;

	if (n == hi) {
		if (lo == 0)
			return 0; /* the old tree itself: the verifier has it */
		ret = subtree_hash(lo, hi, hl, th);
		return ret != 0 ? ret : proof_add(proof, len, th);
	}
	k = maxpow2(hi - lo, NULL);
	if (n <= lo + k) {
		ret = tree_proof(lo, lo + k, n, hl, proof, len);
		if (ret == 0)
			ret = subtree_hash(lo + k, hi, hl, th);
	} else {
		ret = subtree_hash(lo, lo + k, hl, th);
		if (ret == 0)
			ret = tree_proof(lo + k, hi, n, hl, proof, len);
	}
	return ret != 0 ? ret : proof_add(proof, len, th);
}

int
merkle_prove_tree(uint64_t t, uint64_t n, const struct merkle_reader *r,
    uint8_t (*proof)[MERKLE_HASH_LEN], size_t *len)
{
	struct idxlist l = { .n = 0 };
	uint8_t hashes[MERKLE_READ_MAX][MERKLE_HASH_LEN];
	struct hashlist hl = { .h = hashes };
	int ret;

	*len = 0;
	if (t >= MERKLE_SIZE_MAX || n == 0 || n > t)
		return SIGNET_ERR_INVALID_ARG;
	tree_proof_index(0, t, n, &l);
	ret = read_hashes(r, &l, hashes);
	if (ret != 0)
		return ret;
	hl.n = l.n;
	ret = tree_proof(0, t, n, &hl, proof, len);
	if (ret == 0 && hl.pos != hl.n)
		ret = SIGNET_ERR_INTERNAL;
	if (ret != 0)
		*len = 0;
	return ret;
}

/*
 * Runs the sub-proof proof[0..len) of [lo, hi) against the old tree of n
 * records with root old: the implied hashes of [lo, hi) in the old tree
 * (oh) and in the new (th), or SIGNET_ERR_CHAIN for a wrong length.
 */
static int
run_tree_proof(const uint8_t (*proof)[MERKLE_HASH_LEN], size_t len, uint64_t lo,
    uint64_t hi, uint64_t n, const uint8_t old[static MERKLE_HASH_LEN],
    uint8_t oh[static MERKLE_HASH_LEN], uint8_t th[static MERKLE_HASH_LEN])
{
	uint8_t o[MERKLE_HASH_LEN], h[MERKLE_HASH_LEN];
	uint64_t k;
	int ret;

	if (n == hi) {
		if (lo == 0) {
			if (len != 0)
				return SIGNET_ERR_CHAIN;
			memcpy(oh, old, MERKLE_HASH_LEN);
			memcpy(th, old, MERKLE_HASH_LEN);
			return 0;
		}
		if (len != 1)
			return SIGNET_ERR_CHAIN;
		memcpy(oh, proof[0], MERKLE_HASH_LEN);
		memcpy(th, proof[0], MERKLE_HASH_LEN);
		return 0;
	}
	if (len == 0)
		return SIGNET_ERR_CHAIN;
	k = maxpow2(hi - lo, NULL);
	if (n <= lo + k) {
		ret = run_tree_proof(proof, len - 1, lo, lo + k, n, old, o, h);
		if (ret != 0)
			return ret;
		memcpy(oh, o, MERKLE_HASH_LEN);
		merkle_node_hash(h, proof[len - 1], th);
	} else {
		ret = run_tree_proof(proof, len - 1, lo + k, hi, n, old, o, h);
		if (ret != 0)
			return ret;
		merkle_node_hash(proof[len - 1], o, oh);
		merkle_node_hash(proof[len - 1], h, th);
	}
	return 0;
}

int
merkle_check_tree(const uint8_t (*proof)[MERKLE_HASH_LEN], size_t len,
    uint64_t t, const uint8_t root_t[static MERKLE_HASH_LEN], uint64_t n,
    const uint8_t root_n[static MERKLE_HASH_LEN])
{
	uint8_t oh[MERKLE_HASH_LEN], th[MERKLE_HASH_LEN];
	int ret;

	if (t >= MERKLE_SIZE_MAX || n == 0 || n > t ||
	    (proof == NULL && len > 0))
		return SIGNET_ERR_INVALID_ARG;
	if (len > MERKLE_PROOF_MAX)
		return SIGNET_ERR_CHAIN;
	ret = run_tree_proof(proof, len, 0, t, n, root_n, oh, th);
	if (ret != 0)
		return ret;
	if (sodium_memcmp(oh, root_n, MERKLE_HASH_LEN) != 0 ||
	    sodium_memcmp(th, root_t, MERKLE_HASH_LEN) != 0)
		return SIGNET_ERR_CHAIN;
	return 0;
}

void
merkle_frontier_init(struct merkle_frontier *f)
{
	memset(f, 0, sizeof(*f));
}

/*
 * Appends leaf to f, writing into out (NULL allowed) the stored hashes of
 * the new record, *nout of them: the leaf, then each subtree it closes.
 */
static int
frontier_push(struct merkle_frontier *f,
    const uint8_t leaf[static MERKLE_HASH_LEN], uint8_t (*out)[MERKLE_HASH_LEN],
    size_t *nout)
{
	uint8_t h[MERKLE_HASH_LEN];
	uint64_t s;
	size_t c, k = 0;

	if (nout != NULL)
		*nout = 0;
	if (f->size >= MERKLE_SIZE_MAX - 1)
		return SIGNET_ERR_TOO_LARGE;
	if (f->count > MERKLE_FRONTIER_MAX ||
	    f->count != (size_t)__builtin_popcountll(f->size))
		return SIGNET_ERR_INTERNAL;
	memcpy(h, leaf, MERKLE_HASH_LEN);
	if (out != NULL)
		memcpy(out[k], h, MERKLE_HASH_LEN);
	k++;
	c = f->count;
	for (s = f->size; (s & 1) != 0; s >>= 1) {
		c--;
		merkle_node_hash(f->hash[c], h, h);
		if (out != NULL)
			memcpy(out[k], h, MERKLE_HASH_LEN);
		k++;
	}
	memcpy(f->hash[c], h, MERKLE_HASH_LEN);
	f->count = c + 1;
	f->size++;
	if (nout != NULL)
		*nout = k;
	return 0;
}

int
merkle_frontier_append(struct merkle_frontier *f,
    const uint8_t leaf[static MERKLE_HASH_LEN])
{
	return frontier_push(f, leaf, NULL, NULL);
}

void
merkle_frontier_root(const struct merkle_frontier *f,
    uint8_t out[static MERKLE_HASH_LEN])
{
	uint8_t h[MERKLE_HASH_LEN];
	size_t i;

	if (f->count == 0 || f->count > MERKLE_FRONTIER_MAX) {
		memcpy(out, merkle_empty, MERKLE_HASH_LEN);
		return;
	}
	memcpy(h, f->hash[f->count - 1], MERKLE_HASH_LEN);
	for (i = f->count - 1; i > 0; i--)
		merkle_node_hash(f->hash[i - 1], h, h);
	memcpy(out, h, MERKLE_HASH_LEN);
}

int
merkle_frontier_from_reader(uint64_t n, const struct merkle_reader *r,
    struct merkle_frontier *f)
{
	struct idxlist l = { .n = 0 };
	int ret;

	merkle_frontier_init(f);
	if (n >= MERKLE_SIZE_MAX)
		return SIGNET_ERR_INVALID_ARG;
	/* The complete subtrees of [0, n) are the frontier, in order. */
	subtree_index(0, n, &l);
	if (l.n > MERKLE_FRONTIER_MAX)
		return SIGNET_ERR_INTERNAL;
	ret = read_hashes(r, &l, f->hash);
	if (ret != 0) {
		merkle_frontier_init(f);
		return ret;
	}
	f->count = l.n;
	f->size = n;
	return 0;
}

struct merkle_store {
	int fd;
	bool readonly;
	bool broken; /* an append failed part-way: truncate first */
	char *path;
	struct merkle_frontier f;
};

/* Writes all of buf at off; SIGNET_ERR_IO with errno set on failure. */
static int
store_pwrite(int fd, const void *buf, size_t len, off_t off)
{
	const uint8_t *p = buf;
	ssize_t w;

	while (len > 0) {
		w = pwrite(fd, p, len, off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			if (w == 0)
				errno = EIO;
			return SIGNET_ERR_IO;
		}
		p += w;
		len -= (size_t)w;
		off += w;
	}
	return 0;
}

static int
store_read(void *arg, const uint64_t *indexes, size_t n,
    uint8_t (*out)[MERKLE_HASH_LEN])
{
	struct merkle_store *s = arg;
	uint64_t have = merkle_stored_count(s->f.size);
	size_t i, got;
	ssize_t rd;

	for (i = 0; i < n; i++) {
		if (indexes[i] >= have)
			return SIGNET_ERR_NOT_FOUND;
		got = 0;
		while (got < MERKLE_HASH_LEN) {
			rd = pread(s->fd, out[i] + got, MERKLE_HASH_LEN - got,
			    (off_t)(indexes[i] * MERKLE_HASH_LEN + got));
			if (rd < 0 && errno == EINTR)
				continue;
			if (rd <= 0)
				return SIGNET_ERR_IO;
			got += (size_t)rd;
		}
	}
	return 0;
}

struct merkle_reader
merkle_store_reader(struct merkle_store *s)
{
	struct merkle_reader r = { .read = store_read, .arg = s };

	return r;
}

/* The number of whole records in a file of nh hashes. */
static uint64_t
store_records(uint64_t nh)
{
	uint64_t lo = 0, hi = nh, mid;

	if (hi > MERKLE_SIZE_MAX - 1)
		hi = MERKLE_SIZE_MAX - 1;
	while (lo < hi) {
		mid = lo + (hi - lo + 1) / 2;
		if (merkle_stored_count(mid) <= nh)
			lo = mid;
		else
			hi = mid - 1;
	}
	return lo;
}

int
merkle_store_open(const char *path, unsigned flags, struct merkle_store **out,
    bool *repaired, struct err_msg *msg)
{
	struct merkle_store *s = NULL;
	struct merkle_reader rd;
	struct merkle_frontier f;
	struct stat st;
	uint64_t nh, n, want;
	int r, saved;

	*out = NULL;
	if (repaired != NULL)
		*repaired = false;
	if (sodium_init() < 0)
		return err_set(msg, SIGNET_ERR_CRYPTO, "libsodium init failed");
	s = calloc(1, sizeof(*s));
	if (s == NULL)
		return err_set(msg, SIGNET_ERR_ALLOC, "out of memory");
	s->fd = -1;
	s->readonly = (flags & MERKLE_STORE_READONLY) != 0;
	merkle_frontier_init(&s->f);
	s->path = strdup(path);
	if (s->path == NULL) {
		r = err_set(msg, SIGNET_ERR_ALLOC, "out of memory");
		goto out;
	}
	if (s->readonly) {
		s->fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	} else {
		r = fileio_check_dir(path, "the Merkle hash store", msg);
		if (r != 0)
			goto out;
		s->fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW,
		    0600);
	}
	if (s->fd < 0) {
		saved = errno;
		r = err_set(msg,
		    saved == ENOENT    ? SIGNET_ERR_NOT_FOUND :
		        saved == ELOOP ? SIGNET_ERR_PERMISSIONS :
		                         SIGNET_ERR_IO,
		    "%s: cannot open the Merkle hash store: %s", path,
		    saved == ELOOP ? "a symbolic link" : strerror(saved));
		goto out;
	}
	if (!s->readonly && flock(s->fd, LOCK_EX | LOCK_NB) != 0) {
		saved = errno;
		r = err_set(msg, SIGNET_ERR_IO, "%s: %s", path,
		    saved == EWOULDBLOCK ? "another writer has this Merkle "
		                           "hash store open" :
		                           strerror(saved));
		goto out;
	}
	if (fstat(s->fd, &st) != 0) {
		r = err_set(msg, SIGNET_ERR_IO, "%s: stat: %s", path,
		    strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode) || (st.st_mode & 022) != 0) {
		r = err_set(msg, SIGNET_ERR_PERMISSIONS,
		    "%s: the Merkle hash store must be a regular file not "
		    "writable by group or others (mode %04o)",
		    path, (unsigned)(st.st_mode & 07777));
		goto out;
	}
	if (!s->readonly && st.st_uid != geteuid()) {
		r = err_set(msg, SIGNET_ERR_PERMISSIONS,
		    "%s: Merkle hash store owned by uid %u, not this "
		    "program's user (uid %u); remove it, it is rebuilt from "
		    "the log",
		    path, (unsigned)st.st_uid, (unsigned)geteuid());
		goto out;
	}
	if (st.st_size < 0) {
		r = err_set(msg, SIGNET_ERR_IO, "%s: negative size", path);
		goto out;
	}
	nh = (uint64_t)st.st_size / MERKLE_HASH_LEN;
	n = store_records(nh);
	want = merkle_stored_count(n);
	if (want * MERKLE_HASH_LEN != (uint64_t)st.st_size) {
		/* A torn tail: keep the whole records. */
		if (!s->readonly &&
		    ftruncate(s->fd, (off_t)(want * MERKLE_HASH_LEN)) != 0) {
			r = err_set(msg, SIGNET_ERR_IO,
			    "%s: cannot cut the torn tail of the Merkle hash "
			    "store back to %llu records: %s",
			    path, (unsigned long long)n, strerror(errno));
			goto out;
		}
		if (repaired != NULL)
			*repaired = true;
	}
	s->f.size = n; /* what store_read may read */
	rd = merkle_store_reader(s);
	r = merkle_frontier_from_reader(n, &rd, &f);
	if (r == 0)
		s->f = f;
	if (r != 0) {
		r = err_set(msg, r, "%s: cannot read the Merkle hash store: %s",
		    path, err_str(r));
		goto out;
	}
	*out = s;
	s = NULL;
	r = 0;
out:
	merkle_store_close(s);
	return r;
}

int
merkle_store_append(struct merkle_store *s,
    const uint8_t leaf[static MERKLE_HASH_LEN], struct err_msg *msg)
{
	uint8_t hashes[MERKLE_STORED_MAX][MERKLE_HASH_LEN];
	struct merkle_frontier next;
	uint64_t off;
	size_t n;
	int r;

	if (s->readonly)
		return err_set(msg, SIGNET_ERR_INVALID_ARG,
		    "%s: the Merkle hash store is open read-only", s->path);
	if (s->broken)
		return err_set(msg, SIGNET_ERR_UNAVAILABLE,
		    "%s: an earlier write to the Merkle hash store failed; "
		    "cut it back first",
		    s->path);
	/* Offsets stay below 2^63 bytes (no file gets near). */
	if (merkle_stored_count(s->f.size + 1) > INT64_MAX / MERKLE_HASH_LEN)
		return err_set(msg, SIGNET_ERR_TOO_LARGE,
		    "%s: the Merkle hash store is full", s->path);
	next = s->f;
	r = frontier_push(&next, leaf, hashes, &n);
	if (r != 0)
		return err_set(msg, r, "%s: the Merkle hash store is full",
		    s->path);
	off = merkle_stored_count(s->f.size) * MERKLE_HASH_LEN;
	r = store_pwrite(s->fd, hashes, n * MERKLE_HASH_LEN, (off_t)off);
	if (r != 0) {
		s->broken = true;
		return err_set(msg, r,
		    "%s: cannot write to the Merkle hash "
		    "store: %s",
		    s->path, strerror(errno));
	}
	s->f = next;
	return 0;
}

uint64_t
merkle_store_size(const struct merkle_store *s)
{
	return s->f.size;
}

void
merkle_store_root(const struct merkle_store *s,
    uint8_t out[static MERKLE_HASH_LEN])
{
	merkle_frontier_root(&s->f, out);
}

int
merkle_store_truncate(struct merkle_store *s, uint64_t n, struct err_msg *msg)
{
	struct merkle_reader rd;
	struct merkle_frontier f;
	uint64_t len;
	int r;

	if (s->readonly || n > s->f.size)
		return err_set(msg, SIGNET_ERR_INVALID_ARG,
		    "%s: cannot cut the Merkle hash store of %llu records "
		    "back to %llu%s",
		    s->path, (unsigned long long)s->f.size,
		    (unsigned long long)n, s->readonly ? " (read-only)" : "");
	len = merkle_stored_count(n) * MERKLE_HASH_LEN;
	if (ftruncate(s->fd, (off_t)len) != 0) {
		s->broken = true;
		return err_set(msg, SIGNET_ERR_IO,
		    "%s: cannot cut the Merkle hash store back to %llu "
		    "records: %s",
		    s->path, (unsigned long long)n, strerror(errno));
	}
	rd = merkle_store_reader(s);
	r = merkle_frontier_from_reader(n, &rd, &f);
	if (r != 0) {
		s->broken = true;
		return err_set(msg, r,
		    "%s: cannot read the Merkle hash "
		    "store: %s",
		    s->path, err_str(r));
	}
	s->f = f;
	s->broken = false;
	return 0;
}

int
merkle_store_sync(struct merkle_store *s, struct err_msg *msg)
{
	if (s->readonly)
		return 0;
	if (fsync(s->fd) != 0)
		return err_set(msg, SIGNET_ERR_IO, "%s: fsync: %s", s->path,
		    strerror(errno));
	return 0;
}

void
merkle_store_close(struct merkle_store *s)
{
	if (s == NULL)
		return;
	if (s->fd >= 0)
		(void)close(s->fd);
	free(s->path);
	free(s);
}
