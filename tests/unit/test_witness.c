/* SPDX-License-Identifier: ISC */
/*
 * Tests of the witness (cli/witness.h): its state directory (lock,
 * permissions, damaged files), every decision on a checkpoint (first
 * contact, the same tree, consistent extensions by one or several proof
 * steps, split view, rollback, inconsistent extensions, another origin,
 * another key), the cosignature as a verifier of type 0x04 sees it, the
 * proof parser's refusals, and the roots of a log file's first records.
 * Trees are built in memory from stored hashes (merkle.h).
 */
#include <dirent.h>
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <sodium.h>

#include "fileio.h"
#include "keys.h"
#include "merkle.h"
#include "note.h"
#include "testlib.h"
#include "witness.h"

#define ORIGIN "signet/server/test"
#define NREC 64

/* A log of NREC records "PREFIX i" as stored hashes. */
struct tree {
	uint8_t h[2 * NREC][MERKLE_HASH_LEN];
	size_t n;
};

static int
tree_read(void *arg, const uint64_t *idx, size_t n,
    uint8_t (*out)[MERKLE_HASH_LEN])
{
	struct tree *t = arg;
	size_t i;

	for (i = 0; i < n; i++) {
		if (idx[i] >= t->n)
			return SIGNET_ERR_NOT_FOUND;
		memcpy(out[i], t->h[idx[i]], MERKLE_HASH_LEN);
	}
	return 0;
}

static void
tree_build(struct tree *t, const char *prefix)
{
	struct merkle_reader rd = { tree_read, t };
	uint8_t leaf[MERKLE_HASH_LEN], out[MERKLE_STORED_MAX][MERKLE_HASH_LEN];
	char rec[64];
	size_t i, k, count;

	t->n = 0;
	for (i = 0; i < NREC; i++) {
		(void)snprintf(rec, sizeof(rec), "%s %zu", prefix, i);
		witness_leaf_hash(rec, strlen(rec), leaf);
		if (merkle_stored_hashes(i, leaf, &rd, out, &count) != 0)
			abort();
		for (k = 0; k < count; k++)
			memcpy(t->h[t->n++], out[k], MERKLE_HASH_LEN);
	}
}

static void
tree_root(struct tree *t, uint64_t size, uint8_t root[MERKLE_HASH_LEN])
{
	struct merkle_reader rd = { tree_read, t };

	if (merkle_tree_hash(size, &rd, root) != 0)
		abort();
}

/* A checkpoint note of origin and size of t signed by key under name. */
static char *
make_cp(const char *origin, struct tree *t, uint64_t size,
    const struct keys_secret *key, const char *name)
{
	struct note_checkpoint cp;
	struct err_msg msg;
	char text[NOTE_CHECKPOINT_MAX + 1], *out = NULL;
	size_t len, olen;

	memset(&cp, 0, sizeof(cp));
	(void)snprintf(cp.origin, sizeof(cp.origin), "%s", origin);
	cp.size = size;
	tree_root(t, size, cp.root);
	if (note_checkpoint_format(&cp, text, sizeof(text), &len, &msg) != 0 ||
	    note_sign(text, len, name, key, &out, &olen, &msg) != 0) {
		fprintf(stderr, "make_cp: %s\n", msg.text);
		abort();
	}
	return out;
}

static void
add_b64(cJSON *arr, const uint8_t h[MERKLE_HASH_LEN])
{
	char b64[64];

	(void)sodium_bin2base64(b64, sizeof(b64), h, MERKLE_HASH_LEN,
	    sodium_base64_VARIANT_ORIGINAL);
	cJSON_AddItemToArray(arr, cJSON_CreateString(b64));
}

/*
 * A proof document for log through sizes[0] -> sizes[1] -> ... of t
 * (proofs of t, roots of rt: another tree for a lying proof).
 */
static char *
make_proof(const char *log, struct tree *t, struct tree *rt,
    const uint64_t *sizes, size_t n)
{
	struct merkle_reader rd = { tree_read, t };
	uint8_t proof[MERKLE_PROOF_MAX][MERKLE_HASH_LEN], root[MERKLE_HASH_LEN];
	cJSON *doc = cJSON_CreateObject(), *steps, *s, *hs;
	char *out;
	size_t i, k, len;

	cJSON_AddStringToObject(doc, "log", log);
	cJSON_AddNumberToObject(doc, "old", (double)sizes[0]);
	cJSON_AddNumberToObject(doc, "new", (double)sizes[n - 1]);
	steps = cJSON_AddArrayToObject(doc, "steps");
	for (i = 1; i < n; i++) {
		if (merkle_prove_tree(sizes[i], sizes[i - 1], &rd, proof,
		        &len) != 0)
			abort();
		s = cJSON_CreateObject();
		cJSON_AddItemToArray(steps, s);
		cJSON_AddNumberToObject(s, "old", (double)sizes[i - 1]);
		cJSON_AddNumberToObject(s, "new", (double)sizes[i]);
		tree_root(rt, sizes[i], root);
		{
			char b64[64];

			(void)sodium_bin2base64(b64, sizeof(b64), root,
			    MERKLE_HASH_LEN, sodium_base64_VARIANT_ORIGINAL);
			cJSON_AddStringToObject(s, "new_root", b64);
		}
		hs = cJSON_AddArrayToObject(s, "hashes");
		for (k = 0; k < len; k++)
			add_b64(hs, proof[k]);
	}
	out = cJSON_PrintUnformatted(doc);
	cJSON_Delete(doc);
	return out;
}

/* The proof the callback hands out, and what it was asked. */
struct src {
	const char *json;
	uint64_t old, new_size;
	int calls;
	int fail; /* an error code to return instead */
};

static int
get_proof(void *arg, uint64_t old, uint64_t new_size, char **json, size_t *len,
    struct err_msg *msg)
{
	struct src *s = arg;

	s->calls++;
	s->old = old;
	s->new_size = new_size;
	if (s->fail != 0)
		return err_set(msg, s->fail, "no proof");
	*json = strdup(s->json != NULL ? s->json : "");
	if (*json == NULL)
		return SIGNET_ERR_ALLOC;
	*len = strlen(*json);
	return 0;
}

static struct keys_secret logkey, otherkey, wkey;
static char dir[64];

static size_t
count_evidence(void)
{
	char path[128];
	struct dirent *de;
	size_t n = 0;
	DIR *d;

	(void)snprintf(path, sizeof(path), "%s/evidence", dir);
	d = opendir(path);
	if (d == NULL)
		return 0;
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			n++;
	(void)closedir(d);
	return n;
}

/* Runs the witness once over note with proof source s. */
static int
run(const char *note, struct src *s, const char *origin, uint64_t now,
    struct witness_result *res, struct err_msg *msg)
{
	struct witness_params p;
	struct witness *w = NULL;
	int r;

	memset(&p, 0, sizeof(p));
	p.name = "witness.example/w1";
	p.key = &wkey;
	p.log_key = &logkey.pub;
	p.origin = origin;
	p.log = "server";
	p.now = now;
	p.get_proof = get_proof;
	p.get_proof_arg = s;
	r = witness_open(dir, &w, msg);
	if (r != 0)
		return r;
	r = witness_run(w, &p, note, strlen(note), res, msg);
	witness_close(w);
	return r;
}

/* Reads the state of ORIGIN; size and root out. */
static bool
state_is(struct tree *t, uint64_t size)
{
	struct witness_state st;
	struct witness *w = NULL;
	struct err_msg msg;
	uint8_t root[MERKLE_HASH_LEN];
	bool found = false, ok;

	if (witness_open(dir, &w, &msg) != 0)
		return false;
	ok = witness_state_load(w, ORIGIN, &st, &found, &msg) == 0 && found &&
	    st.size == size;
	tree_root(t, size, root);
	ok = ok && memcmp(st.root, root, MERKLE_HASH_LEN) == 0;
	witness_state_free(&st);
	witness_close(w);
	return ok;
}

static void
test_cosign_flow(void)
{
	struct tree a, b;
	struct witness_result res;
	struct src s;
	struct err_msg msg;
	struct note_verifier known[2];
	struct note *n = NULL;
	char *cp, *proof, path[200];
	const struct note_sig *sig;
	uint64_t chain[4];
	struct stat sb;

	tree_build(&a, "a");
	tree_build(&b, "b");
	memset(&s, 0, sizeof(s));

	/* First contact: recorded, cosigned, the state written 0600. */
	cp = make_cp(ORIGIN, &a, 5, &logkey, ORIGIN);
	CHECKF(run(cp, &s, NULL, 1000, &res, &msg) == 0, "%s", msg.text);
	CHECK(res.verdict == WITNESS_COSIGNED_FIRST);
	CHECK(res.cosigned != NULL && !res.had_state);
	CHECK(state_is(&a, 5));
	(void)snprintf(path, sizeof(path), "%s/signet%%2Fserver%%2Ftest.json",
	    dir);
	CHECK(stat(path, &sb) == 0 && (sb.st_mode & 0777) == 0600);

	/* The cosignature verifies as tlog-cosignature/v1 (type 0x04). */
	CHECK(note_verifier_init(&known[0], ORIGIN, NOTE_TYPE_ED25519,
	          logkey.pub.pk) == 0);
	CHECK(note_verifier_init(&known[1], "witness.example/w1",
	          NOTE_TYPE_COSIG, wkey.pub.pk) == 0);
	CHECKF(note_open(res.cosigned, res.cosigned_len, known, 2, &n, &msg) ==
	        0,
	    "%s", msg.text);
	sig = n != NULL ? note_signed_by(n, 1) : NULL;
	CHECK(sig != NULL && sig->timestamp == 1000);
	CHECK(n != NULL && note_signed_by(n, 0) != NULL);
	note_free(n);
	n = NULL;
	/* Not as a plain Ed25519 signature of the text. */
	CHECK(note_verifier_init(&known[1], "witness.example/w1",
	          NOTE_TYPE_ED25519, wkey.pub.pk) == 0);
	CHECK(note_open(res.cosigned, res.cosigned_len, &known[1], 1, &n,
	          &msg) != 0);
	note_free(n);
	n = NULL;
	witness_result_free(&res);

	/* The same tree again: cosigned again, no proof asked. */
	CHECK(run(cp, &s, NULL, 1001, &res, &msg) == 0);
	CHECK(res.verdict == WITNESS_COSIGNED_SAME && s.calls == 0);
	witness_result_free(&res);
	free(cp);

	/* An extension with a good one-step proof. */
	chain[0] = 5;
	chain[1] = 13;
	proof = make_proof("server", &a, &a, chain, 2);
	s.json = proof;
	cp = make_cp(ORIGIN, &a, 13, &logkey, ORIGIN);
	CHECKF(run(cp, &s, NULL, 1002, &res, &msg) == 0, "%s", msg.text);
	CHECKF(res.verdict == WITNESS_COSIGNED_EXTENSION, "%s", msg.text);
	CHECK(s.calls == 1 && s.old == 5 && s.new_size == 13);
	CHECK(state_is(&a, 13));
	witness_result_free(&res);
	free(cp);
	free(proof);

	/* Several steps, through the sizes the agent checkpointed. */
	chain[0] = 13;
	chain[1] = 16;
	chain[2] = 17;
	chain[3] = 40;
	proof = make_proof("server", &a, &a, chain, 4);
	s.json = proof;
	cp = make_cp(ORIGIN, &a, 40, &logkey, ORIGIN);
	CHECKF(run(cp, &s, NULL, 1003, &res, &msg) == 0, "%s", msg.text);
	CHECKF(res.verdict == WITNESS_COSIGNED_EXTENSION, "%s", msg.text);
	CHECK(state_is(&a, 40));
	witness_result_free(&res);
	free(cp);
	free(proof);

	/* Split view: size 40 of another tree. Evidence, state kept. */
	cp = make_cp(ORIGIN, &b, 40, &logkey, ORIGIN);
	CHECK(run(cp, &s, NULL, 1004, &res, &msg) == 0);
	CHECK(res.verdict == WITNESS_REFUSED_SPLIT_VIEW);
	CHECK_CONTAINS(msg.text, "split view");
	CHECK(res.cosigned == NULL && res.nevidence == 2);
	CHECK(count_evidence() == 2);
	CHECK(state_is(&a, 40));
	witness_result_free(&res);
	free(cp);

	/* Rollback: a smaller tree, even the true one. */
	cp = make_cp(ORIGIN, &a, 39, &logkey, ORIGIN);
	CHECK(run(cp, &s, NULL, 1005, &res, &msg) == 0);
	CHECK(res.verdict == WITNESS_REFUSED_ROLLBACK);
	CHECK_CONTAINS(msg.text, "rollback");
	CHECK(state_is(&a, 40));
	witness_result_free(&res);
	free(cp);

	/* Inconsistent: a proof for another tree (b's hashes, b's roots). */
	chain[0] = 40;
	chain[1] = 50;
	proof = make_proof("server", &b, &b, chain, 2);
	s.json = proof;
	cp = make_cp(ORIGIN, &b, 50, &logkey, ORIGIN);
	CHECK(run(cp, &s, NULL, 1006, &res, &msg) == 0);
	CHECKF(res.verdict == WITNESS_REFUSED_INCONSISTENT, "%s", msg.text);
	CHECK(res.nevidence == 3);
	CHECK(state_is(&a, 40));
	witness_result_free(&res);
	free(proof);

	/* A's proof, but the checkpoint is of b: the roots do not meet. */
	proof = make_proof("server", &a, &a, chain, 2);
	s.json = proof;
	CHECK(run(cp, &s, NULL, 1007, &res, &msg) == 0);
	CHECK(res.verdict == WITNESS_REFUSED_INCONSISTENT);
	witness_result_free(&res);
	free(cp);

	/* A good proof, flipped in one hash. */
	cp = make_cp(ORIGIN, &a, 50, &logkey, ORIGIN);
	{
		char *h = strstr(proof, "\"hashes\":[\"");

		CHECK(h != NULL);
		if (h != NULL)
			h[11] = h[11] == 'A' ? 'B' : 'A';
	}
	CHECK(run(cp, &s, NULL, 1008, &res, &msg) == 0);
	CHECK(res.verdict == WITNESS_REFUSED_INCONSISTENT);
	witness_result_free(&res);
	free(proof);

	/* A proof of another log. */
	proof = make_proof("agent/h1", &a, &a, chain, 2);
	s.json = proof;
	CHECK(run(cp, &s, NULL, 1009, &res, &msg) == 0);
	CHECK(res.verdict == WITNESS_REFUSED_INCONSISTENT);
	CHECK_CONTAINS(msg.text, "agent/h1");
	witness_result_free(&res);
	free(proof);

	/* A proof that does not parse: an error, nothing cosigned. */
	s.json = "{\"log\":\"server\"}";
	CHECK(run(cp, &s, NULL, 1010, &res, &msg) == SIGNET_ERR_FORMAT);
	CHECK(res.cosigned == NULL);
	/* No proof at all (the server is down): its error. */
	s.fail = SIGNET_ERR_IO;
	CHECK(run(cp, &s, NULL, 1010, &res, &msg) == SIGNET_ERR_IO);
	s.fail = 0;
	CHECK(state_is(&a, 40));

	/* And the good one after all that. */
	proof = make_proof("server", &a, &a, chain, 2);
	s.json = proof;
	CHECK(run(cp, &s, NULL, 1011, &res, &msg) == 0);
	CHECK(res.verdict == WITNESS_COSIGNED_EXTENSION);
	CHECK(state_is(&a, 50));
	witness_result_free(&res);
	free(proof);
	free(cp);
}

static void
test_refusals(void)
{
	struct tree a;
	struct witness_result res;
	struct src s;
	struct err_msg msg;
	char *cp;

	tree_build(&a, "a");
	memset(&s, 0, sizeof(s));

	/* Signed by another key under the origin's name. */
	cp = make_cp(ORIGIN, &a, 50, &otherkey, ORIGIN);
	CHECK(run(cp, &s, NULL, 2000, &res, &msg) == 0);
	CHECK(res.verdict == WITNESS_REFUSED_SIGNATURE);
	CHECK_CONTAINS(msg.text, "bad signature");
	free(cp);
	/* Signed by the key under another name than the origin. */
	cp = make_cp(ORIGIN, &a, 50, &logkey, "signet/server/other");
	CHECK(run(cp, &s, NULL, 2000, &res, &msg) == 0);
	CHECK(res.verdict == WITNESS_REFUSED_SIGNATURE);
	free(cp);
	/* The same key, another origin: the state recorded ORIGIN. */
	cp = make_cp("signet/server/other", &a, 50, &logkey,
	    "signet/server/other");
	CHECK(run(cp, &s, NULL, 2000, &res, &msg) == 0);
	CHECK(res.verdict == WITNESS_REFUSED_ORIGIN);
	CHECK_CONTAINS(msg.text, "origin mismatch");
	/* Nor with --origin naming it. */
	CHECK(run(cp, &s, "signet/server/other", 2000, &res, &msg) == 0);
	CHECK(res.verdict == WITNESS_REFUSED_ORIGIN);
	free(cp);
	/* --origin that the checkpoint does not carry. */
	cp = make_cp(ORIGIN, &a, 50, &logkey, ORIGIN);
	CHECK(run(cp, &s, "signet/server/x", 2000, &res, &msg) == 0);
	CHECK(res.verdict == WITNESS_REFUSED_ORIGIN);
	/* --origin that it does: the same tree. */
	CHECK(run(cp, &s, ORIGIN, 2000, &res, &msg) == 0);
	CHECK(res.verdict == WITNESS_COSIGNED_SAME);
	witness_result_free(&res);
	free(cp);
	/* Not a note at all. */
	CHECK(run("hello\n", &s, NULL, 2000, &res, &msg) == SIGNET_ERR_FORMAT);
	CHECK(state_is(&a, 50));
}

static void
write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	if (f == NULL || fputs(text, f) == EOF || fclose(f) != 0)
		abort();
	(void)chmod(path, 0600);
}

static void
test_state_files(void)
{
	struct tree a;
	struct witness_result res;
	struct witness *w = NULL, *w2 = NULL;
	struct witness_state st;
	struct src s;
	struct err_msg msg;
	char path[200], sub[128], *good = NULL, *cp, *text = NULL;
	size_t len, glen = 0, i;
	bool found;
	static const char *const damaged[] = {
		"",
		"{",
		"{}",
		"not json",
		"{\"origin\":\"signet/server/test\"}",
	};

	tree_build(&a, "a");
	memset(&s, 0, sizeof(s));
	(void)snprintf(path, sizeof(path), "%s/signet%%2Fserver%%2Ftest.json",
	    dir);
	CHECK(fileio_read_alloc(path, WITNESS_STATE_MAX, &good, &glen, &msg) ==
	    0);
	cp = make_cp(ORIGIN, &a, 50, &logkey, ORIGIN);

	/* A damaged state is refused, never taken as no state. */
	for (i = 0; i < sizeof(damaged) / sizeof(damaged[0]); i++) {
		write_file(path, damaged[i]);
		CHECK(run(cp, &s, NULL, 3000, &res, &msg) == SIGNET_ERR_FORMAT);
		CHECK_CONTAINS(msg.text, "damaged");
	}
	/* Changed by hand: the size no longer the checkpoint's. */
	if (good != NULL) {
		char *p = strstr(good, "\"size\":50");

		CHECK(p != NULL);
		if (p != NULL) {
			p[8] = '1';
			write_file(path, good);
			CHECK(run(cp, &s, NULL, 3000, &res, &msg) ==
			    SIGNET_ERR_FORMAT);
			CHECK_CONTAINS(msg.text, "another size or root");
			p[8] = '0';
		}
		/* Another member. */
		CHECK(good[glen - 2] == '}');
		good[glen - 2] = '\0';
		CHECK(asprintf(&text, "%s,\"x\":1}\n", good) > 0);
		good[glen - 2] = '}';
		write_file(path, text);
		free(text);
		CHECK(run(cp, &s, NULL, 3000, &res, &msg) == SIGNET_ERR_FORMAT);
		/* Restored: all well again. */
		write_file(path, good);
		CHECK(run(cp, &s, NULL, 3000, &res, &msg) == 0);
		CHECK(res.verdict == WITNESS_COSIGNED_SAME);
		witness_result_free(&res);
	}
	/* A state file renamed under another origin's name. */
	(void)snprintf(sub, sizeof(sub), "%s/signet%%2Fserver%%2Fzz.json", dir);
	CHECK(rename(path, sub) == 0);
	CHECK(run(cp, &s, NULL, 3000, &res, &msg) == SIGNET_ERR_FORMAT);
	CHECK(rename(sub, path) == 0);

	/* Round trip of the format. */
	CHECK(witness_open(dir, &w, &msg) == 0);
	CHECK(witness_state_load(w, ORIGIN, &st, &found, &msg) == 0 && found);
	CHECK(witness_state_format(&st, &text, &len) == 0);
	CHECK(text != NULL && len > 0 && text[len - 1] == '\n');
	witness_state_free(&st);
	CHECK(witness_state_parse("t", text, len, &st, &msg) == 0);
	CHECK(st.size == 50 && st.cosigned_at == 3000);
	witness_state_free(&st);
	free(text);

	/* A second witness on the same directory is refused. */
	CHECK(witness_open(dir, &w2, &msg) == SIGNET_ERR_UNAVAILABLE);
	CHECK(w2 == NULL);
	witness_close(w);
	CHECK(witness_open(dir, &w2, &msg) == 0);
	witness_close(w2);

	/* A state directory group or others may write is refused. */
	CHECK(chmod(dir, 0777) == 0);
	CHECK(witness_open(dir, &w, &msg) == SIGNET_ERR_PERMISSIONS);
	CHECK(chmod(dir, 0720) == 0);
	CHECK(witness_open(dir, &w, &msg) == SIGNET_ERR_PERMISSIONS);
	CHECK(chmod(dir, 0700) == 0);
	/* A new one is made 0700. */
	(void)snprintf(sub, sizeof(sub), "%s/new", dir);
	CHECK(witness_open(sub, &w, &msg) == 0);
	witness_close(w);
	{
		struct stat sb;

		CHECK(stat(sub, &sb) == 0 && (sb.st_mode & 0777) == 0700);
	}
	free(cp);
	free(good);
}

static void
test_proof_parse(void)
{
	static const struct {
		const char *json;
		int want;
	} rows[] = {
		{ "{\"log\":\"server\",\"old\":3,\"new\":3,\"steps\":[]}", 0 },
		{ "{\"log\":\"server\",\"old\":0,\"new\":9,\"steps\":[]}", 0 },
		{ "{\"log\":\"server\",\"old\":3,\"new\":9,\"steps\":[]}",
		    SIGNET_ERR_FORMAT },
		{ "{\"log\":\"server\",\"old\":9,\"new\":3,\"steps\":[]}",
		    SIGNET_ERR_FORMAT },
		{ "{\"log\":\"server\",\"old\":3,\"new\":9}",
		    SIGNET_ERR_FORMAT },
		{ "{\"log\":\"server\",\"old\":3,\"new\":9,\"steps\":[],"
		  "\"x\":1}",
		    SIGNET_ERR_FORMAT },
		{ "{\"log\":\"\",\"old\":3,\"new\":3,\"steps\":[]}",
		    SIGNET_ERR_FORMAT },
		{ "{\"log\":\"server\",\"old\":-1,\"new\":3,\"steps\":[]}",
		    SIGNET_ERR_FORMAT },
		{ "{\"log\":\"server\",\"old\":1.5,\"new\":3,\"steps\":[]}",
		    SIGNET_ERR_FORMAT },
		/* A step that does not start at old. */
		{ "{\"log\":\"server\",\"old\":3,\"new\":9,\"steps\":[{\"old\":"
		  "4,\"new\":9,\"new_root\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
		  "AAAAAAAA=\",\"hashes\":[]}]}",
		    SIGNET_ERR_FORMAT },
		/* A step that does not end at new. */
		{ "{\"log\":\"server\",\"old\":3,\"new\":9,\"steps\":[{\"old\":"
		  "3,\"new\":8,\"new_root\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
		  "AAAAAAAA=\",\"hashes\":[]}]}",
		    SIGNET_ERR_FORMAT },
		/* A root of 31 bytes; a non-canonical one. */
		{ "{\"log\":\"server\",\"old\":3,\"new\":9,\"steps\":[{\"old\":"
		  "3,\"new\":9,\"new_root\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
		  "AAAAAA==\",\"hashes\":[]}]}",
		    SIGNET_ERR_FORMAT },
		{ "{\"log\":\"server\",\"old\":3,\"new\":9,\"steps\":[{\"old\":"
		  "3,\"new\":9,\"new_root\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
		  "AAAAAAAB=\",\"hashes\":[]}]}",
		    SIGNET_ERR_FORMAT },
		{ "{\"log\":\"server\",\"old\":3,\"new\":9,\"steps\":[{\"old\":"
		  "3,\"new\":9,\"new_root\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
		  "AAAAAAAA=\",\"hashes\":[1]}]}",
		    SIGNET_ERR_FORMAT },
		{ "{\"log\":\"server\",\"old\":3,\"new\":9,\"steps\":[{\"old\":"
		  "3,\"new\":9,\"new_root\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
		  "AAAAAAAA=\",\"hashes\":[],\"y\":0}]}",
		    SIGNET_ERR_FORMAT },
		{ "{\"log\":\"server\",\"old\":3,\"new\":9,\"steps\":[{\"old\":"
		  "3,\"new\":9,\"new_root\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
		  "AAAAAAAA=\",\"hashes\":[]}]}",
		    0 },
		{ "{\"log\":\"server\",\"old\":3,\"new\":9,\"steps\":[7]}",
		    SIGNET_ERR_FORMAT },
		{ "{\"log\":\"server\",\"log\":\"server\",\"old\":3,\"new\":3,"
		  "\"steps\":[]}",
		    SIGNET_ERR_FORMAT },
	};
	struct witness_proof p;
	struct err_msg msg;
	uint8_t z[MERKLE_HASH_LEN];
	size_t i;
	int r;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		r = witness_proof_parse(rows[i].json, strlen(rows[i].json), &p,
		    &msg);
		CHECKF(r == rows[i].want, "row %zu: %d: %s", i, r, msg.text);
		witness_proof_free(&p);
	}
	/* Zero steps prove old == new only with equal roots. */
	memset(z, 0, sizeof(z));
	CHECK(witness_proof_parse(rows[0].json, strlen(rows[0].json), &p,
	          &msg) == 0);
	CHECK(witness_proof_check(&p, 3, z, 3, z, &msg) == 0);
	z[0] = 1;
	CHECK(witness_proof_check(&p, 3, (uint8_t[32]){ 0 }, 3, z, &msg) ==
	    SIGNET_ERR_CHAIN);
	CHECK(witness_proof_check(&p, 2, z, 3, z, &msg) == SIGNET_ERR_CHAIN);
	witness_proof_free(&p);
	/* Too many hashes in a step. */
	{
		static const char h[] =
		    "\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\"";
		char big[8192];
		size_t k, o;
		int n;

		n = snprintf(big, sizeof(big),
		    "{\"log\":\"s\",\"old\":3,\"new\":9,\"steps\":[{\"old\":3,"
		    "\"new\":9,\"new_root\":%s,\"hashes\":[",
		    h);
		o = n > 0 ? (size_t)n : 0;
		for (k = 0; k <= MERKLE_PROOF_MAX; k++) {
			n = snprintf(big + o, sizeof(big) - o, "%s%s",
			    k > 0 ? "," : "", h);
			o += n > 0 ? (size_t)n : 0;
		}
		n = snprintf(big + o, sizeof(big) - o, "]}]}");
		CHECK(n == 4 && o + 4 < sizeof(big));
		CHECK(witness_proof_parse(big, strlen(big), &p, &msg) ==
		    SIGNET_ERR_TOO_LARGE);
	}
}

static void
test_log_roots(void)
{
	struct tree a;
	struct err_msg msg;
	char path[128], path2[128], rec[128];
	const char *paths[2] = { path, path2 };
	uint64_t sizes[5] = { 64, 0, 7, 65, 7 }, records;
	uint8_t roots[5][MERKLE_HASH_LEN], want[MERKLE_HASH_LEN];
	bool have[5];
	FILE *f;
	size_t i;

	tree_build(&a, "a");
	(void)snprintf(path, sizeof(path), "%s/log.1", dir);
	(void)snprintf(path2, sizeof(path2), "%s/log", dir);
	f = fopen(path, "w");
	for (i = 0; f != NULL && i < 10; i++)
		fprintf(f, "a %zu\n", i);
	CHECK(f != NULL && fclose(f) == 0);
	f = fopen(path2, "w");
	for (i = 10; f != NULL && i < NREC; i++)
		fprintf(f, "a %zu\n", i);
	if (f != NULL)
		fprintf(f, "a torn"); /* no newline: not a record */
	CHECK(f != NULL && fclose(f) == 0);
	CHECKF(witness_log_roots(paths, 2, sizes, 5, roots, have, &records,
	           &msg) == 0,
	    "%s", msg.text);
	CHECK(records == NREC);
	for (i = 0; i < 5; i++) {
		if (sizes[i] > NREC) {
			CHECK(!have[i]);
			continue;
		}
		CHECK(have[i]);
		tree_root(&a, sizes[i], want);
		CHECK(memcmp(roots[i], want, MERKLE_HASH_LEN) == 0);
	}
	/* A torn line in a file before the last: refused. */
	paths[0] = path2;
	paths[1] = path;
	CHECK(witness_log_roots(paths, 2, sizes, 5, roots, have, &records,
	          &msg) == SIGNET_ERR_FORMAT);
	(void)snprintf(rec, sizeof(rec), "%s/none", dir);
	paths[0] = rec;
	CHECK(witness_log_roots(paths, 1, sizes, 5, roots, have, &records,
	          &msg) == SIGNET_ERR_NOT_FOUND);
}

/* Writes text to dir/name; returns the path in a static buffer slot. */
static const char *
put(const char *name, const char *text, char path[static 128])
{
	(void)snprintf(path, 128, "%s/%s", dir, name);
	write_file(path, text);
	return path;
}

static void
test_check_checkpoints(void)
{
	struct tree a, b;
	struct note_verifier wit[2];
	struct witness_cp_report out[7];
	struct note *n = NULL;
	struct err_msg msg;
	char paths[8][128], logpath[128], line[NOTE_SIGLINE_MAX + 1];
	char *cp50, *cp10, *cpb, *cpbig, *cpother, *cosigned = NULL, *forged;
	const char *cps[7], *logs[1] = { logpath };
	size_t len, i, clen = 0;
	FILE *f;

	tree_build(&a, "a");
	tree_build(&b, "b");
	(void)snprintf(logpath, sizeof(logpath), "%s/cplog", dir);
	f = fopen(logpath, "w");
	for (i = 0; f != NULL && i < 50; i++)
		fprintf(f, "a %zu\n", i);
	CHECK(f != NULL && fclose(f) == 0);
	CHECK(note_verifier_init(&wit[0], "w1", NOTE_TYPE_COSIG, wkey.pub.pk) ==
	    0);
	CHECK(note_verifier_init(&wit[1], "w2", NOTE_TYPE_COSIG,
	          otherkey.pub.pk) == 0);
	cp50 = make_cp(ORIGIN, &a, 50, &logkey, ORIGIN);
	cp10 = make_cp(ORIGIN, &a, 10, &logkey, ORIGIN);
	cpb = make_cp(ORIGIN, &b, 50, &logkey, ORIGIN);
	cpbig = make_cp(ORIGIN, &a, 51, &logkey, ORIGIN);
	cpother = make_cp(ORIGIN, &a, 50, &otherkey, ORIGIN);
	/* cp50 cosigned by w1 at 77. */
	CHECK(note_parse(cp50, strlen(cp50), &n, &msg) == 0);
	CHECK(n != NULL &&
	    note_cosign(n->buf, n->text_len, "w1", &wkey, 77, line, &len,
	        &msg) == 0 &&
	    note_add_sigline(n, line, len, &cosigned, &clen, &msg) == 0);
	note_free(n);
	forged = strdup(cosigned != NULL ? cosigned : "");
	CHECK(forged != NULL && clen > 20);
	if (forged != NULL && clen > 20)
		forged[clen - 10] = forged[clen - 10] == 'A' ? 'B' : 'A';
	cps[0] = put("c0", cosigned != NULL ? cosigned : "", paths[0]);
	cps[1] = put("c1", cp10, paths[1]);
	cps[2] = put("c2", cpb, paths[2]);
	cps[3] = put("c3", cpbig, paths[3]);
	cps[4] = put("c4", cpother, paths[4]);
	cps[5] = put("c5", forged != NULL ? forged : "", paths[5]);
	cps[6] = put("c6", cp50, paths[6]);
	CHECKF(witness_check_checkpoints(cps, 7, &logkey.pub, wit, 2, logs, 1,
	           out, &msg) == 0,
	    "%s", msg.text);
	CHECK(out[0].holds && !out[0].failed && out[0].nwitnessed == 1 &&
	    out[0].witnessed[0].time == 77 &&
	    strcmp(out[0].witnessed[0].name, "w1") == 0);
	CHECK(out[0].cp.size == 50 && strcmp(out[0].cp.origin, ORIGIN) == 0);
	CHECK(out[1].holds && out[1].nwitnessed == 0);
	CHECK(out[2].failed && !out[2].holds);
	CHECK_CONTAINS(out[2].why, "rewritten");
	CHECK(out[3].failed);
	CHECK_CONTAINS(out[3].why, "fewer than the checkpoint's 51");
	CHECK(out[4].failed);
	CHECK_CONTAINS(out[4].why, "not signed by the log's key");
	CHECK(out[5].failed);
	CHECK(out[6].holds && out[6].nwitnessed == 0);
	/* Without witness keys, the cosigned one is just not witnessed. */
	CHECK(witness_check_checkpoints(cps, 1, &logkey.pub, wit, 0, logs, 1,
	          out, &msg) == 0);
	CHECK(out[0].holds && out[0].nwitnessed == 0);
	/* A file that is not a checkpoint: cannot be used. */
	cps[0] = put("c7", "hello\n", paths[7]);
	CHECK(witness_check_checkpoints(cps, 1, &logkey.pub, wit, 2, logs, 1,
	          out, &msg) == SIGNET_ERR_FORMAT);

	/* Witness key files. */
	{
		struct note_verifier v;
		char text[NOTE_VKEY_MAX + 1], two[2 * NOTE_VKEY_MAX + 4];

		CHECK(note_verifier_format(&wit[0], text, sizeof(text)) == 0);
		CHECK(witness_vkey_load(put("v1", text, paths[0]), &v, &msg) ==
		    0);
		CHECK(v.type == NOTE_TYPE_COSIG && v.key_id == wit[0].key_id);
		(void)snprintf(two, sizeof(two), "%s\n", text);
		CHECK(
		    witness_vkey_load(put("v2", two, paths[0]), &v, &msg) == 0);
		(void)snprintf(two, sizeof(two), "%s\n%s\n", text, text);
		CHECK(
		    witness_vkey_load(put("v3", two, paths[0]), &v, &msg) != 0);
		CHECK(
		    witness_vkey_load(put("v4", "", paths[0]), &v, &msg) != 0);
		CHECK(note_verifier_init(&v, "w1", NOTE_TYPE_ED25519,
		          wkey.pub.pk) == 0 &&
		    note_verifier_format(&v, text, sizeof(text)) == 0);
		CHECK(witness_vkey_load(put("v5", text, paths[0]), &v, &msg) ==
		    SIGNET_ERR_FORMAT);
		CHECK_CONTAINS(msg.text, "not a witness key");
	}
	free(cp50);
	free(cp10);
	free(cpb);
	free(cpbig);
	free(cpother);
	free(cosigned);
	free(forged);
}

static void
test_state_name(void)
{
	char buf[256], origin[300];

	CHECK(witness_state_name("signet/agent/h-1.x", buf, sizeof(buf)) == 0);
	CHECK(strcmp(buf, "signet%2Fagent%2Fh-1.x.json") == 0);
	CHECK(witness_state_name(".a b", buf, sizeof(buf)) == 0);
	CHECK(strcmp(buf, "%2Ea%20b.json") == 0);
	CHECK(
	    witness_state_name("", buf, sizeof(buf)) == SIGNET_ERR_INVALID_ARG);
	memset(origin, '/', 255);
	origin[255] = '\0';
	CHECK(witness_state_name(origin, buf, sizeof(buf)) == 0);
	CHECK(strncmp(buf, "origin-", 7) == 0 && strlen(buf) == 7 + 64 + 5);
}

static int
rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

int
main(void)
{
	int rc;

	if (sodium_init() < 0 || keys_generate(&logkey) != 0 ||
	    keys_generate(&otherkey) != 0 || keys_generate(&wkey) != 0)
		return 1;
	(void)snprintf(dir, sizeof(dir), "/tmp/test_witness.XXXXXX");
	if (mkdtemp(dir) == NULL)
		return 1;
	test_state_name();
	test_cosign_flow();
	test_refusals();
	test_state_files();
	test_proof_parse();
	test_log_roots();
	test_check_checkpoints();
	rc = test_finish("test_witness");
	(void)chmod(dir, 0700);
	if (nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS) != 0)
		fprintf(stderr, "test_witness: cannot remove %s\n", dir);
	return rc;
}
