/* SPDX-License-Identifier: ISC */
/*
 * The writer's Merkle tree and checkpoints (common/audit_tree.c): the
 * tree's root is the RFC 6962 root of the log's lines across rotations,
 * checkpoints are signed notes a reader can open, cover only durable
 * records and are not remade when nothing is new; proofs verify; the
 * store is rebuilt when missing, torn or another log's; a tree that
 * cannot be rebuilt (a rotated file archived) stops checkpoints, not the
 * log.
 */
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "audit.h"
#include "audit_tree.h"
#include "keys.h"
#include "merkle.h"
#include "note.h"
#include "testlib.h"

#define ORIGIN "signet/server/test"

/* The RFC 6962 root of every line of the log's files, in chain order. */
static uint64_t
root_of_files(const char *path, uint8_t root[static MERKLE_HASH_LEN])
{
	struct merkle_frontier f;
	char pattern[300], **files = NULL;
	size_t nfiles = 0, i;
	glob_t g;

	merkle_frontier_init(&f);
	(void)snprintf(pattern, sizeof(pattern), "%s.[0-9]*", path);
	memset(&g, 0, sizeof(g));
	if (glob(pattern, 0, NULL, &g) == 0) {
		files = g.gl_pathv;
		nfiles = g.gl_pathc;
	}
	for (i = 0; i <= nfiles; i++) {
		const char *p = i < nfiles ? files[i] : path;
		struct audit_reader *rd = NULL;
		struct err_msg m;
		uint8_t leaf[MERKLE_HASH_LEN];
		char *line = NULL;
		size_t len = 0;
		bool nl = false;

		if (audit_reader_open(p, &rd, &m) != 0)
			continue;
		while (audit_reader_next(rd, &line, &len, &nl) == 1 && nl) {
			merkle_leaf_hash(line, len, leaf);
			CHECK(merkle_frontier_append(&f, leaf) == 0);
		}
		audit_reader_close(rd);
	}
	globfree(&g);
	merkle_frontier_root(&f, root);
	return f.size;
}

/* Opens the latest checkpoint under the writer's key: its size. */
static uint64_t
open_latest(struct audit_writer *w, const struct keys_secret *key,
    uint8_t root[static MERKLE_HASH_LEN])
{
	struct note_verifier v;
	struct note_checkpoint cp;
	struct note *n = NULL;
	struct err_msg m;
	char *text = NULL;
	size_t len = 0;
	uint64_t size = 0;

	memset(root, 0, MERKLE_HASH_LEN);
	if (audit_checkpoint_latest(w, &text, &len, &size) != 0)
		return UINT64_MAX;
	CHECK(note_verifier_init(&v, ORIGIN, NOTE_TYPE_ED25519, key->pub.pk) ==
	    0);
	CHECKF(note_checkpoint_open(text, len, &v, 1, 0, &n, &cp, &m) == 0,
	    "checkpoint: %s", m.text);
	CHECK(cp.size == size && strcmp(cp.origin, ORIGIN) == 0);
	memcpy(root, cp.root, MERKLE_HASH_LEN);
	note_free(n);
	free(text);
	return size;
}

static void
append_n(struct audit_writer *w, int n)
{
	struct err_msg m;
	int i;

	for (i = 0; i < n; i++)
		CHECK(audit_append(w, "server.started", "server", NULL, NULL,
		          &m) == 0);
}

static void
test_checkpoints(const char *dir)
{
	uint8_t root[MERKLE_HASH_LEN], want[MERKLE_HASH_LEN];
	uint8_t proof[MERKLE_PROOF_MAX][MERKLE_HASH_LEN];
	uint8_t root2[MERKLE_HASH_LEN], leaf[MERKLE_HASH_LEN];
	uint8_t old_root[MERKLE_HASH_LEN];
	struct keys_secret key;
	struct audit_writer *w = NULL;
	struct err_msg m;
	char path[256], file[300];
	size_t plen = 0;
	uint64_t n;
	FILE *f;

	(void)snprintf(path, sizeof(path), "%s/cp/audit.log", dir);
	(void)snprintf(file, sizeof(file), "%s/cp", dir);
	CHECK(mkdir(file, 0700) == 0);
	CHECK(keys_generate(&key) == 0);
	CHECK(audit_open(path, &key, &w, &m) == 0);
	/* No tree yet: no checkpoints, no proofs. */
	CHECK(audit_checkpoint_start(w, ORIGIN, 3600, NULL, NULL, &m) ==
	    SIGNET_ERR_UNAVAILABLE);
	append_n(w, 5);
	CHECKF(audit_tree_open(w, &m) == 0, "%s", m.text);
	CHECK(audit_tree_open(w, &m) == SIGNET_ERR_INVALID_ARG);
	CHECK(audit_checkpoint_start(w, "bad origin", 3600, NULL, NULL, &m) ==
	    SIGNET_ERR_INVALID_ARG);
	CHECK(audit_checkpoint_start(w, ORIGIN, 0, NULL, NULL, &m) ==
	    SIGNET_ERR_INVALID_ARG);
	CHECKF(audit_checkpoint_start(w, ORIGIN, 3600, NULL, NULL, &m) == 0,
	    "%s", m.text);
	CHECK(audit_checkpoint_start(w, ORIGIN, 3600, NULL, NULL, &m) ==
	    SIGNET_ERR_INVALID_ARG);
	/* The first one at once, over the records written before. */
	n = open_latest(w, &key, root);
	CHECK(n == 5);
	CHECK(root_of_files(path, want) == 5 && memcmp(root, want, 32) == 0);
	/* Nothing new, nothing made. */
	CHECK(audit_checkpoint_now(w, &m) == 1);
	append_n(w, 8);
	CHECK(audit_checkpoint_now(w, &m) == 0);
	memcpy(old_root, root, sizeof(root));
	CHECK(open_latest(w, &key, root) == 13);
	CHECK(root_of_files(path, want) == 13 && memcmp(root, want, 32) == 0);
	/* PATH.checkpoint holds the latest note. */
	{
		char buf[4096], *text = NULL;
		size_t len = 0, got;

		(void)snprintf(file, sizeof(file), "%s.checkpoint", path);
		f = fopen(file, "r");
		CHECK(f != NULL);
		got = f != NULL ? fread(buf, 1, sizeof(buf), f) : 0;
		if (f != NULL)
			(void)fclose(f);
		CHECK(audit_checkpoint_latest(w, &text, &len, &n) == 0);
		CHECK(got == len && memcmp(buf, text, len) == 0);
		free(text);
	}
	/* Consistency from 5 to 13, inclusion of record 7. */
	CHECKF(audit_tree_prove(w, 5, 13, proof, &plen, root2, &m) == 0, "%s",
	    m.text);
	CHECK(memcmp(root2, root, 32) == 0);
	CHECK(merkle_check_tree((const uint8_t(*)[32])proof, plen, 13, root, 5,
	          old_root) == 0);
	proof[0][0] ^= 1;
	CHECK(merkle_check_tree((const uint8_t(*)[32])proof, plen, 13, root, 5,
	          old_root) == SIGNET_ERR_CHAIN);
	CHECK(audit_tree_prove_record(w, 7, 13, proof, &plen, leaf, &m) == 0);
	CHECK(merkle_check_record((const uint8_t(*)[32])proof, plen, 13, root,
	          7, leaf) == 0);
	/* Sizes the tree does not hold durably, or that make no sense. */
	CHECK(audit_tree_prove(w, 5, 14, proof, &plen, root2, &m) ==
	    SIGNET_ERR_INVALID_ARG);
	CHECK_CONTAINS(m.text, "holds 13 durable records");
	CHECK(audit_tree_prove(w, 9, 5, proof, &plen, root2, &m) ==
	    SIGNET_ERR_INVALID_ARG);
	CHECK(audit_tree_prove(w, 0, 5, proof, &plen, root2, &m) ==
	    SIGNET_ERR_INVALID_ARG);
	CHECK(audit_tree_prove_record(w, 13, 13, proof, &plen, leaf, &m) ==
	    SIGNET_ERR_INVALID_ARG);

	/* Across a rotation, one tree; a close makes a last checkpoint. */
	CHECK(audit_rotate(w, "request", &m) == 0);
	append_n(w, 3);
	audit_close(w);
	w = NULL;
	CHECK(root_of_files(path, want) == 17);

	/* Reopened: the store is taken as it is, the root the same. */
	CHECK(audit_open(path, &key, &w, &m) == 0);
	CHECK(audit_tree_open(w, &m) == 0);
	CHECK(audit_checkpoint_start(w, ORIGIN, 3600, NULL, NULL, &m) == 0);
	CHECK(open_latest(w, &key, root) == 17 && memcmp(root, want, 32) == 0);
	audit_close(w);
	w = NULL;

	/* The store lost, torn, or another log's: rebuilt from the log. */
	(void)snprintf(file, sizeof(file), "%s.merkle", path);
	CHECK(unlink(file) == 0);
	CHECK(audit_open(path, &key, &w, &m) == 0);
	CHECKF(audit_tree_open(w, &m) == 0, "%s", m.text);
	CHECK(audit_checkpoint_start(w, ORIGIN, 3600, NULL, NULL, &m) == 0);
	CHECK(open_latest(w, &key, root) == 17 && memcmp(root, want, 32) == 0);
	audit_close(w);
	w = NULL;
	CHECK(truncate(file, 32 * 20 + 7) == 0);
	CHECK(audit_open(path, &key, &w, &m) == 0);
	CHECKF(audit_tree_open(w, &m) == 0, "%s", m.text);
	CHECK(audit_checkpoint_start(w, ORIGIN, 3600, NULL, NULL, &m) == 0);
	CHECK(open_latest(w, &key, root) == 17 && memcmp(root, want, 32) == 0);
	audit_close(w);
	w = NULL;
	/* Another log's store (junk, torn, longer): its last leaf is not
	 * this log's line, so it is rebuilt from the start. */
	{
		uint8_t junk[32 * 36];

		memset(junk, 0x5a, sizeof(junk));
		f = fopen(file, "w");
		CHECK(f != NULL &&
		    fwrite(junk, 1, sizeof(junk), f) == sizeof(junk));
		if (f != NULL)
			(void)fclose(f);
	}
	CHECK(audit_open(path, &key, &w, &m) == 0);
	CHECKF(audit_tree_open(w, &m) == 0, "%s", m.text);
	CHECK(audit_checkpoint_start(w, ORIGIN, 3600, NULL, NULL, &m) == 0);
	CHECK(open_latest(w, &key, root) == 17 && memcmp(root, want, 32) == 0);
	audit_close(w);
	w = NULL;

	/* A rotated file archived and the store gone: no tree, the log
	 * goes on, checkpoints say why they cannot be made. */
	CHECK(unlink(file) == 0);
	{
		char pattern[300];
		glob_t g;

		(void)snprintf(pattern, sizeof(pattern), "%s.[0-9]*", path);
		memset(&g, 0, sizeof(g));
		CHECK(glob(pattern, 0, NULL, &g) == 0 && g.gl_pathc == 1);
		if (g.gl_pathc == 1) {
			(void)snprintf(file, sizeof(file), "%s.away",
			    g.gl_pathv[0]);
			CHECK(rename(g.gl_pathv[0], file) == 0);
		}
		globfree(&g);
	}
	CHECK(audit_open(path, &key, &w, &m) == 0);
	CHECK(audit_tree_open(w, &m) == SIGNET_ERR_CHAIN);
	CHECK_CONTAINS(m.text, "missing");
	CHECK(audit_checkpoint_start(w, ORIGIN, 3600, NULL, NULL, &m) ==
	    SIGNET_ERR_UNAVAILABLE);
	CHECK(audit_tree_prove(w, 1, 2, proof, &plen, root2, &m) ==
	    SIGNET_ERR_UNAVAILABLE);
	append_n(w, 1);
	audit_close(w);
	keys_secret_wipe(&key);
}

int
main(void)
{
	char dir[] = "/tmp/signet-test-audit-tree.XXXXXX";
	char cmd[128];

	if (sodium_init() < 0 || mkdtemp(dir) == NULL)
		return 1;
	test_checkpoints(dir);
	(void)snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	CHECK(system(cmd) == 0);
	return test_finish("test_audit_tree");
}
