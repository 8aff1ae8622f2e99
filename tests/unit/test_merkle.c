/* SPDX-License-Identifier: ISC */
/*
 * RFC 6962 Merkle trees: leaf, node and root hashes and the inclusion and
 * consistency proofs of the 8-leaf reference tree against published
 * vectors (transparency-dev/merkle testonly/constants.go and
 * proof/verify_test.go, the Certificate Transparency reference data);
 * the stored-hash layout against Go tlog's rules; for every tree of up to
 * 70 leaves the root against a naive recursive RFC 6962 MTH, every
 * inclusion and consistency proof against the RFC's PATH and PROOF
 * definitions, checked, and refused once tampered (each hash flipped, a
 * hash added, dropped or inserted, wrong n, wrong t, wrong roots); the
 * frontier against the tree hash at every size; the file store: append,
 * reopen, a torn tail at every byte, truncate, refusals.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "merkle.h"
#include "testlib.h"

#define NLEAVES 70

/* An in-memory store of stored hashes, the reader the tests use. */
struct mem {
	uint8_t (*h)[MERKLE_HASH_LEN];
	size_t n;
	size_t cap;
	size_t calls;
	bool fail;
};

static int
mem_read(void *arg, const uint64_t *idx, size_t n,
    uint8_t (*out)[MERKLE_HASH_LEN])
{
	struct mem *m = arg;
	size_t i;

	m->calls++;
	if (m->fail)
		return SIGNET_ERR_IO;
	for (i = 0; i < n; i++) {
		if (idx[i] >= m->n)
			return SIGNET_ERR_NOT_FOUND;
		if (i > 0 && idx[i] <= idx[i - 1])
			return SIGNET_ERR_INTERNAL; /* not increasing */
		memcpy(out[i], m->h[idx[i]], MERKLE_HASH_LEN);
	}
	return 0;
}

static void
hexdec(const char *hex, uint8_t *out, size_t len)
{
	size_t got = 0;

	if (sodium_hex2bin(out, len, hex, strlen(hex), NULL, &got, NULL) != 0 ||
	    got != len)
		abort();
}

/* The 8 leaves of the Certificate Transparency reference tree. */
static const char *const ct_leaves[8] = { "", "00", "10", "2021", "3031",
	"40414243", "5051525354555657", "606162636465666768696a6b6c6d6e6f" };

/* Roots of its trees of sizes 0..8 (testonly/constants.go RootHashes). */
static const char *const ct_roots[9] = {
	"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
	"6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
	"fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
	"aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
	"d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
	"4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
	"76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
	"ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
	"5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
};

/* Its leaf hashes (NodeHashes level 0). */
static const char *const ct_leaf_hashes[8] = {
	"6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
	"96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
	"0298d122906dcfc10892cb53a73992fc5b9f493ea4c9badb27b791b4127a7fe7",
	"07506a85fd9dd2f120eb694f86011e5bb4662e5c415a62917033d4a9624487e7",
	"bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
	"4271a26be0d8a84f0bd54c8c302e7cb3a3b5d1fa6780a40bcce2873477dab658",
	"b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
	"46f6ffadd3d06a09ff3c5860d2755c8b9819db7df44251788c7d8e3180de8eb1",
};

/* proof/verify_test.go: inclusion of leaf n in tree t; consistency n→t. */
struct ct_proof {
	uint64_t n, t;
	size_t len;
	const char *h[3];
};

static const struct ct_proof ct_inclusion[] = {
	{ 0, 8, 3,
	    { "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
	        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
	        "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4" } },
	{ 5, 8, 3,
	    { "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
	        "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
	        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7" } },
	{ 2, 3, 1,
	    { "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125" } },
	{ 1, 5, 3,
	    { "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
	        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
	        "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b" } },
	{ 0, 1, 0, { NULL } },
};

static const struct ct_proof ct_consistency[] = {
	{ 1, 1, 0, { NULL } },
	{ 1, 8, 3,
	    { "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
	        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
	        "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4" } },
	{ 6, 8, 3,
	    { "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
	        "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
	        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7" } },
	{ 2, 5, 2,
	    { "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
	        "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b" } },
	{ 6, 7, 3,
	    { "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
	        "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
	        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7" } },
};

static uint8_t leaves[NLEAVES][MERKLE_HASH_LEN];
static uint8_t roots[NLEAVES + 1][MERKLE_HASH_LEN];

/* RFC 6962 2.1: MTH(D[lo:hi]) straight from the definition. */
static void
ref_mth(size_t lo, size_t hi, uint8_t out[MERKLE_HASH_LEN])
{
	uint8_t l[MERKLE_HASH_LEN], r[MERKLE_HASH_LEN];
	size_t k = 1;

	if (hi == lo) {
		crypto_hash_sha256(out, NULL, 0);
		return;
	}
	if (hi - lo == 1) {
		memcpy(out, leaves[lo], MERKLE_HASH_LEN);
		return;
	}
	while (k * 2 < hi - lo)
		k *= 2;
	ref_mth(lo, lo + k, l);
	ref_mth(lo + k, hi, r);
	merkle_node_hash(l, r, out);
}

/* RFC 6962 2.1.1 PATH(m, D[lo:hi]). */
static void
ref_path(size_t m, size_t lo, size_t hi, uint8_t (*p)[MERKLE_HASH_LEN],
    size_t *len)
{
	size_t k = 1;

	if (hi - lo <= 1)
		return;
	while (k * 2 < hi - lo)
		k *= 2;
	if (m < k) {
		ref_path(m, lo, lo + k, p, len);
		ref_mth(lo + k, hi, p[(*len)++]);
	} else {
		ref_path(m - k, lo + k, hi, p, len);
		ref_mth(lo, lo + k, p[(*len)++]);
	}
}

/* RFC 6962 2.1.2 SUBPROOF(m, D[lo:hi], b). */
static void
ref_subproof(size_t m, size_t lo, size_t hi, bool b,
    uint8_t (*p)[MERKLE_HASH_LEN], size_t *len)
{
	size_t n = hi - lo, k = 1;

	if (m == n) {
		if (!b)
			ref_mth(lo, hi, p[(*len)++]);
		return;
	}
	while (k * 2 < n)
		k *= 2;
	if (m <= k) {
		ref_subproof(m, lo, lo + k, b, p, len);
		ref_mth(lo + k, hi, p[(*len)++]);
	} else {
		ref_subproof(m - k, lo + k, hi, false, p, len);
		ref_mth(lo, lo + k, p[(*len)++]);
	}
}

static void
test_hashes(void)
{
	uint8_t data[16], want[MERKLE_HASH_LEN], got[MERKLE_HASH_LEN];
	uint8_t store[32][MERKLE_HASH_LEN], hashes[MERKLE_STORED_MAX][32];
	uint8_t proof[MERKLE_PROOF_MAX][MERKLE_HASH_LEN];
	struct mem m = { .h = store, .cap = 32 };
	struct merkle_reader r = { mem_read, &m };
	size_t i, j, len, count;

	for (i = 0; i < 8; i++) {
		len = strlen(ct_leaves[i]) / 2;
		hexdec(ct_leaves[i], data, len);
		merkle_leaf_hash(data, len, got);
		hexdec(ct_leaf_hashes[i], want, MERKLE_HASH_LEN);
		CHECKF(memcmp(got, want, 32) == 0, "leaf %zu", i);
		CHECK(merkle_stored_hashes(i, got, &r, hashes, &count) == 0);
		CHECK(count >= 1 && m.n + count <= m.cap);
		memcpy(store[m.n], hashes, count * MERKLE_HASH_LEN);
		m.n += count;
		CHECK(m.n == merkle_stored_count(i + 1));
	}
	for (i = 0; i <= 8; i++) {
		hexdec(ct_roots[i], want, MERKLE_HASH_LEN);
		CHECK(merkle_tree_hash(i, &r, got) == 0);
		CHECKF(memcmp(got, want, 32) == 0, "root of %zu", i);
	}
	/* Level 1 and 2 nodes at their stored indexes (NodeHashes). */
	hexdec(
	    "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
	    want, 32);
	CHECK(memcmp(store[merkle_stored_index(1, 3)], want, 32) == 0);
	hexdec(
	    "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
	    want, 32);
	CHECK(memcmp(store[merkle_stored_index(2, 1)], want, 32) == 0);

	for (i = 0; i < sizeof(ct_inclusion) / sizeof(ct_inclusion[0]); i++) {
		const struct ct_proof *v = &ct_inclusion[i];
		uint8_t root[32];

		CHECK(merkle_prove_record(v->t, v->n, &r, proof, &len) == 0);
		CHECKF(len == v->len, "inclusion %zu: len %zu", i, len);
		for (j = 0; j < v->len && j < len; j++) {
			hexdec(v->h[j], want, 32);
			CHECKF(memcmp(proof[j], want, 32) == 0,
			    "inclusion %zu hash %zu", i, j);
		}
		hexdec(ct_roots[v->t], root, 32);
		hexdec(ct_leaf_hashes[v->n], want, 32);
		CHECK(merkle_check_record(proof, len, v->t, root, v->n, want) ==
		    0);
	}
	for (i = 0; i < sizeof(ct_consistency) / sizeof(ct_consistency[0]);
	     i++) {
		const struct ct_proof *v = &ct_consistency[i];
		uint8_t rt[32], rn[32];

		CHECK(merkle_prove_tree(v->t, v->n, &r, proof, &len) == 0);
		CHECKF(len == v->len, "consistency %zu: len %zu", i, len);
		for (j = 0; j < v->len && j < len; j++) {
			hexdec(v->h[j], want, 32);
			CHECKF(memcmp(proof[j], want, 32) == 0,
			    "consistency %zu hash %zu", i, j);
		}
		hexdec(ct_roots[v->t], rt, 32);
		hexdec(ct_roots[v->n], rn, 32);
		CHECK(merkle_check_tree(proof, len, v->t, rt, v->n, rn) == 0);
	}

	/* The empty tree: SHA-256(""), with no reader at all. */
	CHECK(merkle_tree_hash(0, NULL, got) == 0);
	crypto_hash_sha256(want, NULL, 0);
	CHECK(memcmp(got, want, 32) == 0);
	/* The reader's error comes back as it is; nothing half-filled. */
	m.fail = true;
	CHECK(merkle_tree_hash(3, &r, got) == SIGNET_ERR_IO);
	CHECK(sodium_is_zero(got, 32));
	CHECK(merkle_prove_record(8, 1, &r, proof, &len) == SIGNET_ERR_IO &&
	    len == 0);
	CHECK(merkle_prove_tree(8, 3, &r, proof, &len) == SIGNET_ERR_IO &&
	    len == 0);
	CHECK(
	    merkle_stored_hashes(7, got, &r, hashes, &count) == SIGNET_ERR_IO &&
	    count == 0);
	m.fail = false;
	/* Past what is stored: the reader's NOT_FOUND. */
	CHECK(merkle_tree_hash(9, &r, got) == SIGNET_ERR_NOT_FOUND);
	/* Nonsense sizes. */
	CHECK(merkle_prove_record(8, 8, &r, proof, &len) ==
	    SIGNET_ERR_INVALID_ARG);
	CHECK(merkle_prove_record(0, 0, &r, proof, &len) ==
	    SIGNET_ERR_INVALID_ARG);
	CHECK(
	    merkle_prove_tree(8, 0, &r, proof, &len) == SIGNET_ERR_INVALID_ARG);
	CHECK(
	    merkle_prove_tree(3, 4, &r, proof, &len) == SIGNET_ERR_INVALID_ARG);
	CHECK(merkle_tree_hash(MERKLE_SIZE_MAX, &r, got) ==
	    SIGNET_ERR_INVALID_ARG);
	CHECK(merkle_check_record(proof, 0, 0, got, 0, got) ==
	    SIGNET_ERR_INVALID_ARG);
	CHECK(merkle_check_record(NULL, 1, 2, got, 0, got) ==
	    SIGNET_ERR_INVALID_ARG);
	CHECK(merkle_check_tree(proof, 0, 1, got, 0, got) ==
	    SIGNET_ERR_INVALID_ARG);
	CHECK(merkle_check_tree(proof, 0, 1, got, 2, got) ==
	    SIGNET_ERR_INVALID_ARG);
	CHECK(merkle_check_tree(proof, MERKLE_PROOF_MAX + 1, 9, got, 1, got) ==
	    SIGNET_ERR_CHAIN);
	/* n == t: only an empty proof between equal roots. */
	CHECK(merkle_check_tree(proof, 0, 5, got, 5, got) == 0);
	memcpy(want, got, 32);
	want[3] ^= 1;
	CHECK(merkle_check_tree(proof, 0, 5, got, 5, want) == SIGNET_ERR_CHAIN);
	CHECK(merkle_check_tree(proof, 1, 5, got, 5, got) == SIGNET_ERR_CHAIN);
}

static void
test_index(void)
{
	unsigned level, l;
	uint64_t n, x, i, count, expect;

	/* Go tlog's layout: leaves 0,1 then node (1,0), leaf 2, ... */
	CHECK(merkle_stored_index(0, 0) == 0);
	CHECK(merkle_stored_index(0, 1) == 1);
	CHECK(merkle_stored_index(1, 0) == 2);
	CHECK(merkle_stored_index(0, 2) == 3);
	CHECK(merkle_stored_index(0, 3) == 4);
	CHECK(merkle_stored_index(1, 1) == 5);
	CHECK(merkle_stored_index(2, 0) == 6);
	CHECK(merkle_stored_index(0, 4) == 7);
	for (l = 0; l < 10; l++) {
		for (n = 0; n < 100; n++) {
			x = merkle_stored_index(l, n);
			merkle_split_stored_index(x, &level, &i);
			CHECKF(level == l && i == n, "split(%u,%llu)", l,
			    (unsigned long long)n);
		}
	}
	/* Big indexes round-trip too. */
	x = merkle_stored_index(3, ((uint64_t)1 << 55) + 12345);
	merkle_split_stored_index(x, &level, &i);
	CHECK(level == 3 && i == ((uint64_t)1 << 55) + 12345);
	/* Every index below a count is used exactly once, in order. */
	count = 0;
	for (n = 0; n < 200; n++) {
		expect = 1 + (uint64_t)__builtin_ctzll(n + 1);
		CHECK(merkle_stored_index(0, n) == count);
		count += expect;
		CHECK(merkle_stored_count(n + 1) == count);
	}
	CHECK(merkle_stored_count(0) == 0);
}

static void
test_trees(void)
{
	static uint8_t store[2 * NLEAVES][MERKLE_HASH_LEN];
	uint8_t hashes[MERKLE_STORED_MAX][MERKLE_HASH_LEN];
	uint8_t proof[MERKLE_PROOF_MAX + 2][MERKLE_HASH_LEN];
	uint8_t ref[MERKLE_PROOF_MAX][MERKLE_HASH_LEN], bad[32], root[32];
	char data[32];
	struct mem m = { .h = store, .cap = 2 * NLEAVES };
	struct merkle_reader r = { mem_read, &m };
	struct merkle_frontier f, g;
	size_t count, len, rlen, j, calls;
	uint64_t t, n;
	int w;

	merkle_frontier_init(&f);
	merkle_frontier_root(&f, root);
	crypto_hash_sha256(bad, NULL, 0);
	CHECK(memcmp(root, bad, 32) == 0);
	crypto_hash_sha256(roots[0], NULL, 0);
	for (n = 0; n < NLEAVES; n++) {
		w = snprintf(data, sizeof(data), "leaf %llu",
		    (unsigned long long)n);
		merkle_leaf_hash(data, (size_t)w, leaves[n]);
		CHECK(merkle_stored_hashes(n, leaves[n], &r, hashes, &count) ==
		    0);
		CHECK(count == 1 + (size_t)__builtin_ctzll(n + 1));
		memcpy(store[m.n], hashes, count * MERKLE_HASH_LEN);
		m.n += count;
		CHECK(m.n == merkle_stored_count(n + 1));
		ref_mth(0, n + 1, roots[n + 1]);
		calls = m.calls;
		CHECK(merkle_tree_hash(n + 1, &r, root) == 0);
		CHECK(m.calls == calls + 1); /* one read */
		CHECKF(memcmp(root, roots[n + 1], 32) == 0, "root %llu",
		    (unsigned long long)n + 1);
		/* The frontier agrees at every size, and rebuilds. */
		CHECK(merkle_frontier_append(&f, leaves[n]) == 0);
		merkle_frontier_root(&f, root);
		CHECK(memcmp(root, roots[n + 1], 32) == 0);
		CHECK(merkle_frontier_from_reader(n + 1, &r, &g) == 0);
		CHECK(g.size == f.size && g.count == f.count &&
		    memcmp(g.hash, f.hash, f.count * MERKLE_HASH_LEN) == 0);
	}
	CHECK(merkle_frontier_from_reader(NLEAVES + 1, &r, &g) ==
	        SIGNET_ERR_NOT_FOUND &&
	    g.size == 0 && g.count == 0);

	for (t = 1; t <= NLEAVES; t++) {
		for (n = 0; n < t; n++) {
			CHECK(merkle_prove_record(t, n, &r, proof, &len) == 0);
			rlen = 0;
			ref_path(n, 0, t, ref, &rlen);
			CHECKF(len == rlen &&
			        memcmp(proof, ref, len * MERKLE_HASH_LEN) == 0,
			    "PATH(%llu, %llu)", (unsigned long long)n,
			    (unsigned long long)t);
			CHECK(merkle_check_record(proof, len, t, roots[t], n,
			          leaves[n]) == 0);
			/* Tampered: every hash, the leaf, the root. */
			for (j = 0; j < len; j++) {
				proof[j][j % 32] ^= 0x10;
				CHECK(
				    merkle_check_record(proof, len, t, roots[t],
				        n, leaves[n]) == SIGNET_ERR_CHAIN);
				proof[j][j % 32] ^= 0x10;
			}
			CHECK(
			    merkle_check_record(proof, len, t, roots[t], n,
			        leaves[(n + 1) % NLEAVES]) == SIGNET_ERR_CHAIN);
			CHECK(merkle_check_record(proof, len, t, roots[t - 1],
			          n, leaves[n]) == SIGNET_ERR_CHAIN);
			/* Too long, too short, a hash inserted. */
			memcpy(proof[len], roots[t], 32);
			CHECK(merkle_check_record(proof, len + 1, t, roots[t],
			          n, leaves[n]) == SIGNET_ERR_CHAIN);
			if (len > 0) {
				CHECK(merkle_check_record(proof, len - 1, t,
				          roots[t], n,
				          leaves[n]) == SIGNET_ERR_CHAIN);
				memmove(proof[1], proof[0],
				    len * MERKLE_HASH_LEN);
				CHECK(merkle_check_record(proof, len + 1, t,
				          roots[t], n,
				          leaves[n]) == SIGNET_ERR_CHAIN);
				memmove(proof[0], proof[1],
				    len * MERKLE_HASH_LEN);
			}
			/* Wrong n or t. */
			if (n + 1 < t)
				CHECK(
				    merkle_check_record(proof, len, t, roots[t],
				        n + 1, leaves[n]) == SIGNET_ERR_CHAIN);
			if (n > 0)
				CHECK(
				    merkle_check_record(proof, len, t, roots[t],
				        n - 1, leaves[n]) == SIGNET_ERR_CHAIN);
			/*
			 * A proof only binds t through the root: the same
			 * hashes may fit t + 1 under root t (so the root of
			 * a size comes from a signed checkpoint), never
			 * under the root of t + 1.
			 */
			if (t < NLEAVES)
				CHECK(merkle_check_record(proof, len, t + 1,
				          roots[t + 1], n,
				          leaves[n]) == SIGNET_ERR_CHAIN);
			if (n < t - 1)
				CHECK(merkle_check_record(proof, len, t - 1,
				          roots[t - 1], n,
				          leaves[n]) == SIGNET_ERR_CHAIN);
		}
		for (n = 1; n <= t; n++) {
			CHECK(merkle_prove_tree(t, n, &r, proof, &len) == 0);
			rlen = 0;
			ref_subproof(n, 0, t, true, ref, &rlen);
			CHECKF(len == rlen &&
			        memcmp(proof, ref, len * MERKLE_HASH_LEN) == 0,
			    "PROOF(%llu, %llu)", (unsigned long long)n,
			    (unsigned long long)t);
			CHECK(merkle_check_tree(proof, len, t, roots[t], n,
			          roots[n]) == 0);
			for (j = 0; j < len; j++) {
				proof[j][31 - j % 32] ^= 0x01;
				CHECK(merkle_check_tree(proof, len, t, roots[t],
				          n, roots[n]) == SIGNET_ERR_CHAIN);
				proof[j][31 - j % 32] ^= 0x01;
			}
			memcpy(proof[len], roots[n], 32);
			CHECK(merkle_check_tree(proof, len + 1, t, roots[t], n,
			          roots[n]) == SIGNET_ERR_CHAIN);
			if (len > 0) {
				CHECK(merkle_check_tree(proof, len - 1, t,
				          roots[t], n,
				          roots[n]) == SIGNET_ERR_CHAIN);
				memmove(proof[1], proof[0],
				    len * MERKLE_HASH_LEN);
				CHECK(merkle_check_tree(proof, len + 1, t,
				          roots[t], n,
				          roots[n]) == SIGNET_ERR_CHAIN);
				memmove(proof[0], proof[1],
				    len * MERKLE_HASH_LEN);
			}
			/* A split view: another root for either size. */
			if (n < t) {
				CHECK(merkle_check_tree(proof, len, t, roots[t],
				          n, roots[n - 1]) == SIGNET_ERR_CHAIN);
				CHECK(merkle_check_tree(proof, len, t, roots[n],
				          n, roots[t]) == SIGNET_ERR_CHAIN);
				CHECK(merkle_check_tree(proof, len, t,
				          roots[t - 1], n,
				          roots[n]) == SIGNET_ERR_CHAIN);
			}
			/* Wrong sizes. */
			if (n > 1 && n < t)
				CHECK(merkle_check_tree(proof, len, t, roots[t],
				          n - 1, roots[n]) == SIGNET_ERR_CHAIN);
			if (n + 1 < t)
				CHECK(merkle_check_tree(proof, len, t, roots[t],
				          n + 1, roots[n]) == SIGNET_ERR_CHAIN);
			if (t < NLEAVES && n < t)
				CHECK(merkle_check_tree(proof, len, t + 1,
				          roots[t + 1], n,
				          roots[n]) == SIGNET_ERR_CHAIN);
		}
	}
}

static void
test_store(void)
{
	char dir[] = "/tmp/test_merkle.XXXXXX", path[256], link[256];
	struct merkle_store *s = NULL, *s2 = NULL;
	struct merkle_reader r;
	struct err_msg msg;
	uint8_t root[32], proof[MERKLE_PROOF_MAX][MERKLE_HASH_LEN];
	bool repaired;
	uint64_t n, full;
	size_t len;
	off_t cut;
	int fd;

	if (mkdtemp(dir) == NULL) {
		CHECK(0);
		return;
	}
	(void)snprintf(path, sizeof(path), "%s/audit.log.merkle", dir);
	CHECK(merkle_store_open(path, MERKLE_STORE_READONLY, &s, NULL, &msg) ==
	        SIGNET_ERR_NOT_FOUND &&
	    s == NULL);
	CHECK(merkle_store_open(path, 0, &s, &repaired, &msg) == 0);
	CHECK(s != NULL && !repaired && merkle_store_size(s) == 0);
	merkle_store_root(s, root);
	CHECK(memcmp(root, roots[0], 32) == 0);
	/* A second writer is refused. */
	CHECK(merkle_store_open(path, 0, &s2, NULL, &msg) == SIGNET_ERR_IO);
	CHECK_CONTAINS(msg.text, "another writer");
	for (n = 0; n < NLEAVES; n++) {
		CHECK(merkle_store_append(s, leaves[n], &msg) == 0);
		merkle_store_root(s, root);
		CHECK(memcmp(root, roots[n + 1], 32) == 0);
	}
	r = merkle_store_reader(s);
	CHECK(merkle_tree_hash(NLEAVES, &r, root) == 0 &&
	    memcmp(root, roots[NLEAVES], 32) == 0);
	CHECK(merkle_prove_record(NLEAVES, 17, &r, proof, &len) == 0);
	CHECK(merkle_check_record(proof, len, NLEAVES, roots[NLEAVES], 17,
	          leaves[17]) == 0);
	CHECK(merkle_tree_hash(NLEAVES + 1, &r, root) == SIGNET_ERR_NOT_FOUND);
	CHECK(merkle_store_sync(s, &msg) == 0);
	merkle_store_close(s);
	s = NULL;

	/* Reopened: the same size and root; read-only too. */
	CHECK(merkle_store_open(path, 0, &s, &repaired, &msg) == 0);
	CHECK(!repaired && merkle_store_size(s) == NLEAVES);
	merkle_store_root(s, root);
	CHECK(memcmp(root, roots[NLEAVES], 32) == 0);
	CHECK(merkle_store_open(path, MERKLE_STORE_READONLY, &s2, &repaired,
	          &msg) == 0);
	CHECK(!repaired && merkle_store_size(s2) == NLEAVES);
	CHECK(
	    merkle_store_append(s2, leaves[0], &msg) == SIGNET_ERR_INVALID_ARG);
	CHECK(merkle_store_truncate(s2, 3, &msg) == SIGNET_ERR_INVALID_ARG);
	merkle_store_close(s2);
	s2 = NULL;

	/* Truncate back, append again: the same roots. */
	CHECK(merkle_store_truncate(s, NLEAVES + 1, &msg) ==
	    SIGNET_ERR_INVALID_ARG);
	CHECK(merkle_store_truncate(s, 37, &msg) == 0);
	CHECK(merkle_store_size(s) == 37);
	merkle_store_root(s, root);
	CHECK(memcmp(root, roots[37], 32) == 0);
	for (n = 37; n < NLEAVES; n++)
		CHECK(merkle_store_append(s, leaves[n], &msg) == 0);
	merkle_store_root(s, root);
	CHECK(memcmp(root, roots[NLEAVES], 32) == 0);
	merkle_store_close(s);
	s = NULL;

	/*
	 * A torn tail at every length between two whole records: cut back
	 * to the last whole record, reported, and appends carry on.
	 */
	full = merkle_stored_count(NLEAVES) * MERKLE_HASH_LEN;
	for (cut = (off_t)full - 1;
	     cut >= (off_t)(merkle_stored_count(60) * MERKLE_HASH_LEN) - 1;
	     cut--) {
		CHECK(truncate(path, cut) == 0);
		CHECK(merkle_store_open(path, MERKLE_STORE_READONLY, &s2,
		          &repaired, &msg) == 0);
		n = merkle_store_size(s2);
		CHECK(
		    merkle_stored_count(n) * MERKLE_HASH_LEN <= (uint64_t)cut &&
		    merkle_stored_count(n + 1) * MERKLE_HASH_LEN >
		        (uint64_t)cut);
		CHECK(repaired ==
		    (merkle_stored_count(n) * MERKLE_HASH_LEN !=
		        (uint64_t)cut));
		merkle_store_close(s2);
		s2 = NULL;
		CHECK(merkle_store_open(path, 0, &s, &repaired, &msg) == 0);
		CHECK(merkle_store_size(s) == n);
		merkle_store_root(s, root);
		CHECK(memcmp(root, roots[n], 32) == 0);
		while (merkle_store_size(s) < NLEAVES)
			CHECK(merkle_store_append(s,
			          leaves[merkle_store_size(s)], &msg) == 0);
		merkle_store_root(s, root);
		CHECK(memcmp(root, roots[NLEAVES], 32) == 0);
		merkle_store_close(s);
		s = NULL;
		CHECK(truncate(path, cut) == 0);
	}

	/*
	 * A write that fails part-way (the file size limit): the store
	 * refuses appends until it is cut back, then carries on.
	 */
	CHECK(truncate(path, 0) == 0);
	CHECK(merkle_store_open(path, 0, &s, NULL, &msg) == 0);
	{
		struct rlimit old, lim;
		int failed = 0;

		CHECK(getrlimit(RLIMIT_FSIZE, &old) == 0);
		lim = old;
		/* Record 5 writes 2 hashes from byte 256: 8 bytes get out. */
		lim.rlim_cur = merkle_stored_count(5) * MERKLE_HASH_LEN + 8;
		(void)signal(SIGXFSZ, SIG_IGN);
		CHECK(setrlimit(RLIMIT_FSIZE, &lim) == 0);
		for (n = 0; n < 8 && failed == 0; n++)
			failed = merkle_store_append(s, leaves[n], &msg);
		CHECK(failed == SIGNET_ERR_IO && merkle_store_size(s) == 5);
		CHECK(merkle_store_append(s, leaves[5], &msg) ==
		    SIGNET_ERR_UNAVAILABLE);
		CHECK(setrlimit(RLIMIT_FSIZE, &old) == 0);
		CHECK(merkle_store_truncate(s, 5, &msg) == 0);
		for (n = 5; n < NLEAVES; n++)
			CHECK(merkle_store_append(s, leaves[n], &msg) == 0);
		merkle_store_root(s, root);
		CHECK(memcmp(root, roots[NLEAVES], 32) == 0);
		r = merkle_store_reader(s);
		CHECK(merkle_tree_hash(NLEAVES, &r, root) == 0 &&
		    memcmp(root, roots[NLEAVES], 32) == 0);
	}
	merkle_store_close(s);
	s = NULL;

	/* Refusals: group-writable, a symbolic link, another's file. */
	CHECK(chmod(path, 0620) == 0);
	CHECK(merkle_store_open(path, 0, &s, NULL, &msg) ==
	    SIGNET_ERR_PERMISSIONS);
	CHECK_CONTAINS(msg.text, "not writable by group or others");
	CHECK(chmod(path, 0600) == 0);
	(void)snprintf(link, sizeof(link), "%s/link.merkle", dir);
	CHECK(symlink(path, link) == 0);
	CHECK(merkle_store_open(link, 0, &s, NULL, &msg) ==
	    SIGNET_ERR_PERMISSIONS);
	CHECK(merkle_store_open(link, MERKLE_STORE_READONLY, &s, NULL, &msg) ==
	    SIGNET_ERR_PERMISSIONS);
	CHECK(s == NULL);
	CHECK(unlink(link) == 0);
	(void)snprintf(link, sizeof(link), "%s/dir.merkle", dir);
	CHECK(mkdir(link, 0700) == 0);
	CHECK(merkle_store_open(link, MERKLE_STORE_READONLY, &s, NULL, &msg) ==
	    SIGNET_ERR_PERMISSIONS);
	CHECK(rmdir(link) == 0);
	/* Created 0600 whatever the umask. */
	(void)snprintf(link, sizeof(link), "%s/new.merkle", dir);
	CHECK(merkle_store_open(link, 0, &s, NULL, &msg) == 0);
	{
		struct stat st;

		CHECK(stat(link, &st) == 0 && (st.st_mode & 0777) == 0600);
	}
	merkle_store_close(s);
	s = NULL;
	CHECK(unlink(link) == 0);
	fd = open(path, O_RDONLY);
	CHECK(fd >= 0);
	if (fd >= 0)
		(void)close(fd);
	CHECK(unlink(path) == 0);
	CHECK(rmdir(dir) == 0);
	merkle_store_close(NULL);
}

int
main(void)
{
	if (sodium_init() < 0)
		return 1;
	test_hashes();
	test_index();
	test_trees();
	test_store();
	return test_finish("test_merkle");
}
