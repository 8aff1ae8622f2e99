/* SPDX-License-Identifier: ISC */
/*
 * The agents' checkpoints the server holds (server/agent_checkpoints.c):
 * a first checkpoint is taken, an extension with a good proof is taken,
 * the same checkpoint again changes nothing; a split view, a rollback, a
 * bad or missing proof, a wrong origin, a bad signature and a malformed
 * note are refused by name with nothing changed; what was taken is read
 * back and verified at the next open, and a damaged file is refused for
 * its host only (a torn last line is cut). Trees are built in memory
 * (merkle_stored_hashes over a memory reader) and notes signed here.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "agent_checkpoints.h"
#include "jsonx.h"
#include "keys.h"
#include "keyset.h"
#include "merkle.h"
#include "note.h"
#include "testlib.h"
#include "text.h"

#define HOST "web-01"
#define ORIGIN "signet/agent/" HOST
#define LEAVES 40

static struct keys_secret host_key, other_key, new_key;
/* After a rotation: new_key current, host_key retired. */
static bool rotated;
static char dir[] = "/tmp/test_agent_cp.XXXXXX";

/* A tree of LEAVES records "VARIANT-i": its stored hashes. */
struct tree {
	uint8_t stored[2 * LEAVES][MERKLE_HASH_LEN];
	uint64_t nstored;
};

static int
mem_read(void *arg, const uint64_t *idx, size_t n,
    uint8_t (*out)[MERKLE_HASH_LEN])
{
	const struct tree *t = arg;
	size_t i;

	for (i = 0; i < n; i++) {
		if (idx[i] >= t->nstored)
			return SIGNET_ERR_NOT_FOUND;
		memcpy(out[i], t->stored[idx[i]], MERKLE_HASH_LEN);
	}
	return 0;
}

static void
tree_build(struct tree *t, char variant)
{
	struct merkle_reader rd = { mem_read, t };
	uint8_t leaf[MERKLE_HASH_LEN], out[MERKLE_STORED_MAX][MERKLE_HASH_LEN];
	char rec[32];
	size_t count = 0, j;
	uint64_t i;

	memset(t, 0, sizeof(*t));
	for (i = 0; i < LEAVES; i++) {
		(void)snprintf(rec, sizeof(rec), "%c-%llu", variant,
		    (unsigned long long)i);
		merkle_leaf_hash(rec, strlen(rec), leaf);
		CHECK(merkle_stored_hashes(i, leaf, &rd, out, &count) == 0);
		for (j = 0; j < count; j++)
			memcpy(t->stored[t->nstored++], out[j],
			    MERKLE_HASH_LEN);
	}
}

static void
tree_root(struct tree *t, uint64_t n, uint8_t root[static MERKLE_HASH_LEN])
{
	struct merkle_reader rd = { mem_read, t };

	CHECK(merkle_tree_hash(n, &rd, root) == 0);
}

static size_t
tree_prove(struct tree *t, uint64_t old, uint64_t size,
    uint8_t (*proof)[MERKLE_HASH_LEN])
{
	struct merkle_reader rd = { mem_read, t };
	size_t n = 0;

	CHECK(merkle_prove_tree(size, old, &rd, proof, &n) == 0);
	return n;
}

/* The checkpoint of t's first n records under origin, signed by key. */
static char *
make_note(struct tree *t, uint64_t n, const char *origin,
    const struct keys_secret *key)
{
	struct note_checkpoint c;
	struct err_msg m;
	char text[NOTE_CHECKPOINT_MAX + 1], *note = NULL;
	size_t len = 0, nlen = 0;

	memset(&c, 0, sizeof(c));
	(void)snprintf(c.origin, sizeof(c.origin), "%s", origin);
	c.size = n;
	if (n > 0)
		tree_root(t, n, c.root);
	CHECK(note_checkpoint_format(&c, text, sizeof(text), &len, &m) == 0);
	CHECK(note_sign(text, len, origin, key, &note, &nlen, &m) == 0);
	return note;
}

static int
key_of(void *arg, const char *host_id, struct keyset *out, struct err_msg *msg)
{
	(void)arg;
	memset(out, 0, sizeof(*out));
	if (strcmp(host_id, HOST) == 0 || strcmp(host_id, "web-02") == 0) {
		out->has_current = true;
		out->count = 1;
		out->keys[0].pub = rotated ? new_key.pub : host_key.pub;
		if (rotated) {
			out->count = 2;
			out->keys[1].pub = host_key.pub;
			out->keys[1].retired = true;
			out->keys[1].retired_at = 1767225600;
			(void)snprintf(out->keys[1].stamp,
			    sizeof(out->keys[1].stamp), "20260101T000000Z");
		}
		return 0;
	}
	return err_set(msg, SIGNET_ERR_NOT_FOUND, "no key for %s", host_id);
}

static char *
file_of(const char *host)
{
	static char path[256];

	(void)snprintf(path, sizeof(path), "%s/%s.jsonl", dir, host);
	return path;
}

static long
file_size(const char *path)
{
	struct stat sb;

	return stat(path, &sb) == 0 ? (long)sb.st_size : -1;
}

static char *
slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	long n;

	*len = 0;
	if (f == NULL)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 &&
	    fseek(f, 0, SEEK_SET) == 0 &&
	    (buf = malloc((size_t)n + 1)) != NULL) {
		*len = fread(buf, 1, (size_t)n, f);
		buf[*len] = '\0';
	}
	(void)fclose(f);
	return buf;
}

static void
spill(const char *path, const char *data, size_t len)
{
	FILE *f = fopen(path, "wb");

	CHECK(f != NULL);
	if (f == NULL)
		return;
	CHECK(fwrite(data, 1, len, f) == len);
	CHECK(fclose(f) == 0);
	CHECK(chmod(path, 0600) == 0);
}

/* One offer: its return, *acked and the refusal's reason. */
static int
offer(struct agent_cp *cp, const char *host, const char *note, uint64_t old,
    uint8_t (*proof)[MERKLE_HASH_LEN], size_t n, uint64_t *acked,
    struct agent_cp_refusal *ref)
{
	struct err_msg m;
	int r;

	err_clear(&m);
	r = agent_cp_offer(cp, host, note, strlen(note), old,
	    (const uint8_t(*)[MERKLE_HASH_LEN])proof, n, acked, ref, &m);
	if (r < 0)
		fprintf(stderr, "  offer: %d %s\n", r, m.text);
	if (r == 1)
		fprintf(stderr, "  refused %s: %s\n",
		    agent_cp_reason_name(ref->reason), ref->detail);
	return r;
}

static struct tree good, evil;

/* Offers, their verdicts, and what is held after each. */
static void
test_offers(struct agent_cp *cp)
{
	uint8_t proof[MERKLE_PROOF_MAX][MERKLE_HASH_LEN];
	struct agent_cp_refusal ref;
	struct err_msg m;
	char *n5 = make_note(&good, 5, ORIGIN, &host_key);
	char *n5e = make_note(&evil, 5, ORIGIN, &host_key);
	char *n9 = make_note(&good, 9, ORIGIN, &host_key);
	char *n7 = make_note(&good, 7, ORIGIN, &host_key);
	char *n12 = make_note(&good, 12, ORIGIN, &host_key);
	char *n12e = make_note(&evil, 12, ORIGIN, &host_key);
	char *n12o = make_note(&good, 12, "signet/agent/web-02", &host_key);
	char *n12k = make_note(&good, 12, ORIGIN, &other_key);
	char *n0 = make_note(&good, 0, ORIGIN, &host_key);
	char *note = NULL;
	uint64_t acked = 99, held = 99, size = 0;
	size_t n, len = 0;
	long before;

	/* Nothing held: nothing to ask for yet. */
	CHECK(agent_cp_held(cp, HOST, &held, &m) == 0 && held == 0);
	CHECK(agent_cp_latest(cp, HOST, &note, &len, &size, &m) ==
	    SIGNET_ERR_NOT_FOUND);
	/* Nothing held, but a proof from somewhere: refused. */
	n = tree_prove(&good, 3, 5, proof);
	CHECK(offer(cp, HOST, n5, 3, proof, n, &acked, &ref) == 1 &&
	    ref.reason == AGENT_CP_INCONSISTENT && ref.size == 5 &&
	    ref.held_size == 0 && acked == 0);
	CHECK(file_size(file_of(HOST)) == -1);
	/* The first: taken, kept, acknowledged. */
	CHECK(offer(cp, HOST, n5, 0, NULL, 0, &acked, &ref) == 0 && acked == 5);
	CHECK(agent_cp_held(cp, HOST, &held, &m) == 0 && held == 5);
	CHECK(agent_cp_latest(cp, HOST, &note, &len, &size, &m) == 0 &&
	    size == 5 && len == strlen(n5) && strcmp(note, n5) == 0);
	free(note);
	before = file_size(file_of(HOST));
	CHECK(before > 0);
	/* The same again: held already, acknowledged, nothing written. */
	CHECK(offer(cp, HOST, n5, 5, NULL, 0, &acked, &ref) == 0 && acked == 5);
	CHECK(file_size(file_of(HOST)) == before);
	/* The same size, another root: a split view. */
	CHECK(offer(cp, HOST, n5e, 5, NULL, 0, &acked, &ref) == 1 &&
	    ref.reason == AGENT_CP_SPLIT_VIEW && ref.size == 5 &&
	    ref.held_size == 5 && acked == 0);
	CHECK_CONTAINS(ref.detail, "another root");
	/* An extension with a good proof from the held size. */
	n = tree_prove(&good, 5, 9, proof);
	CHECK(n > 0);
	CHECK(
	    offer(cp, HOST, n9, 5, proof, n, &acked, &ref) == 0 && acked == 9);
	CHECK(file_size(file_of(HOST)) > before);
	before = file_size(file_of(HOST));
	/* Smaller than held: a rollback. */
	CHECK(offer(cp, HOST, n7, 9, NULL, 0, &acked, &ref) == 1 &&
	    ref.reason == AGENT_CP_ROLLBACK && ref.size == 7 &&
	    ref.held_size == 9);
	/* Larger: a proof from another size, none, or a bad one. */
	n = tree_prove(&good, 5, 12, proof);
	CHECK(offer(cp, HOST, n12, 5, proof, n, &acked, &ref) == 1 &&
	    ref.reason == AGENT_CP_INCONSISTENT && ref.held_size == 9);
	CHECK_CONTAINS(ref.detail, "from size 5, but the server holds 9");
	CHECK(offer(cp, HOST, n12, 9, NULL, 0, &acked, &ref) == 1 &&
	    ref.reason == AGENT_CP_INCONSISTENT);
	n = tree_prove(&good, 9, 12, proof);
	proof[0][3] ^= 1;
	CHECK(offer(cp, HOST, n12, 9, proof, n, &acked, &ref) == 1 &&
	    ref.reason == AGENT_CP_INCONSISTENT);
	CHECK_CONTAINS(ref.detail, "does not verify");
	/* A good proof of another tree's checkpoint: inconsistent. */
	n = tree_prove(&evil, 9, 12, proof);
	CHECK(offer(cp, HOST, n12e, 9, proof, n, &acked, &ref) == 1 &&
	    ref.reason == AGENT_CP_INCONSISTENT);
	/* Another origin, even signed with this host's key. */
	n = tree_prove(&good, 9, 12, proof);
	CHECK(offer(cp, HOST, n12o, 9, proof, n, &acked, &ref) == 1 &&
	    ref.reason == AGENT_CP_WRONG_ORIGIN && ref.size == 12);
	CHECK_CONTAINS(ref.detail, "signet/agent/web-02");
	/* web-02's session naming web-01's log: wrong origin too. */
	CHECK(offer(cp, "web-02", n5, 0, NULL, 0, &acked, &ref) == 1 &&
	    ref.reason == AGENT_CP_WRONG_ORIGIN);
	/* Another key. */
	CHECK(offer(cp, HOST, n12k, 9, proof, n, &acked, &ref) == 1 &&
	    ref.reason == AGENT_CP_BAD_SIGNATURE && ref.size == 12);
	/* Not a checkpoint; the empty tree; a mangled signature. */
	CHECK(offer(cp, HOST, "garbage", 9, proof, n, &acked, &ref) == 1 &&
	    ref.reason == AGENT_CP_MALFORMED && ref.size == 0 &&
	    ref.held_size == 9);
	CHECK(offer(cp, HOST, n0, 9, NULL, 0, &acked, &ref) == 1 &&
	    ref.reason == AGENT_CP_MALFORMED);
	{
		char *bad = strdup(n12);
		size_t blen = strlen(bad);

		/* A signature byte changed: base64 still canonical. */
		bad[blen - 10] = bad[blen - 10] == 'A' ? 'B' : 'A';
		CHECK(offer(cp, HOST, bad, 9, proof, n, &acked, &ref) == 1 &&
		    ref.reason == AGENT_CP_BAD_SIGNATURE);
		free(bad);
	}
	/* Nothing of all that changed what is held. */
	CHECK(file_size(file_of(HOST)) == before);
	CHECK(agent_cp_held(cp, HOST, &held, &m) == 0 && held == 9);
	/* A host without a registered key: not judged at all. */
	CHECK(offer(cp, "db-01", n5, 0, NULL, 0, &acked, &ref) ==
	    SIGNET_ERR_NOT_FOUND);
	CHECK(agent_cp_offer(cp, "bad host", n5, strlen(n5), 0, NULL, 0, &acked,
	          &ref, &m) == SIGNET_ERR_INVALID_ARG);
	/* And the next good step. */
	CHECK(offer(cp, HOST, n12, 9, proof, n, &acked, &ref) == 0 &&
	    acked == 12);
	free(n5);
	free(n5e);
	free(n9);
	free(n7);
	free(n12);
	free(n12e);
	free(n12o);
	free(n12k);
	free(n0);
}

/* A number member as jsonx_add_int64 writes it (raw digits). */
static uint64_t
num(const cJSON *v)
{
	if (cJSON_IsRaw(v) && v->valuestring != NULL)
		return strtoull(v->valuestring, NULL, 10);
	return v != NULL ? (uint64_t)v->valuedouble : 0;
}

/* The chain read back: steps from old to new verify end to end. */
static void
check_steps(struct agent_cp *cp, uint64_t old, uint64_t new, size_t want)
{
	uint8_t root[MERKLE_HASH_LEN], prev[MERKLE_HASH_LEN];
	uint8_t hashes[MERKLE_PROOF_MAX][MERKLE_HASH_LEN], r[MERKLE_HASH_LEN];
	const cJSON *st, *h;
	cJSON *steps = NULL;
	struct err_msg m;
	uint64_t at = old;
	size_t n, got;

	err_clear(&m);
	CHECKF(agent_cp_steps(cp, HOST, old, new, &steps, &m) == 0, "%s",
	    m.text);
	CHECK(cJSON_GetArraySize(steps) == (int)want);
	if (old > 0)
		tree_root(&good, old, prev);
	cJSON_ArrayForEach(st, steps)
	{
		const cJSON *o = cJSON_GetObjectItem(st, "old");
		const cJSON *nw = cJSON_GetObjectItem(st, "new");
		const cJSON *nr = cJSON_GetObjectItem(st, "new_root");

		CHECK(o != NULL && nw != NULL && nr != NULL &&
		    cJSON_GetObjectItem(st, "note") == NULL);
		if (o == NULL || nw == NULL || nr == NULL)
			break;
		CHECK(num(o) == at);
		n = 0;
		cJSON_ArrayForEach(h, cJSON_GetObjectItem(st, "hashes"))
		{
			CHECK(text_b64_decode_into(h->valuestring,
			          strlen(h->valuestring), hashes[n], 32,
			          &got) == 0);
			n++;
		}
		CHECK(text_b64_decode_into(nr->valuestring,
		          strlen(nr->valuestring), r, 32, &got) == 0);
		if (at > 0)
			CHECK(merkle_check_tree(
			          (const uint8_t(*)[MERKLE_HASH_LEN])hashes, n,
			          num(nw), r, at, prev) == 0);
		at = num(nw);
		memcpy(prev, r, sizeof(prev));
	}
	CHECK(at == new);
	tree_root(&good, new, root);
	CHECK(new == old || memcmp(root, prev, sizeof(root)) == 0);
	cJSON_Delete(steps);
}

static void
test_steps(struct agent_cp *cp)
{
	cJSON *steps = NULL;
	struct err_msg m;

	check_steps(cp, 0, 12, 3);
	check_steps(cp, 0, 5, 1);
	check_steps(cp, 5, 12, 2);
	check_steps(cp, 9, 12, 1);
	check_steps(cp, 9, 9, 0);
	check_steps(cp, 0, 0, 0);
	err_clear(&m);
	CHECK(agent_cp_steps(cp, HOST, 3, 12, &steps, &m) ==
	        SIGNET_ERR_NOT_FOUND &&
	    steps == NULL);
	CHECK_CONTAINS(m.text, "holds 3 size(s): 5, 9, 12");
	CHECK(agent_cp_steps(cp, HOST, 5, 10, &steps, &m) ==
	    SIGNET_ERR_NOT_FOUND);
	CHECK(agent_cp_steps(cp, HOST, 12, 9, &steps, &m) ==
	    SIGNET_ERR_NOT_FOUND);
	CHECK(agent_cp_steps(cp, "web-02", 0, 5, &steps, &m) ==
	    SIGNET_ERR_NOT_FOUND);
	CHECK_CONTAINS(m.text, "holds 0 size(s)");
}

/* Reopens dir: returns the number of damaged hosts. */
static size_t
reopen(struct agent_cp **cp)
{
	struct err_msg m;
	size_t damaged = 99;

	agent_cp_free(*cp);
	*cp = NULL;
	err_clear(&m);
	CHECKF(agent_cp_open(dir, key_of, NULL, cp, &damaged, &m) == 0, "%s",
	    m.text);
	return damaged;
}

static void
test_reload(struct agent_cp **cp)
{
	static const struct {
		const char *name;
		const char *from, *to; /* first occurrence replaced */
		const char *why;
	} damage[] = {
		{ "a step that does not follow on", "\"old\":5", "\"old\":4",
		    "starts at size 4" },
		{ "a root changed", "\"new_root\":\"", "\"new_root\":\"A",
		    "new_root" },
		{ "not JSON", "{\"old\":0", "{old:0", "" },
		{ "an unknown member", "{\"old\":0", "{\"x\":1,\"old\":0",
		    "x" },
		{ "a note of another host", "signet/agent/web-01\\n",
		    "signet/agent/web-09\\n", "wrong_origin" },
	};
	uint8_t proof[MERKLE_PROOF_MAX][MERKLE_HASH_LEN];
	struct agent_cp_refusal ref;
	struct err_msg m;
	char *orig = NULL, *bad = NULL, *at, *n20, *note = NULL;
	size_t len = 0, blen, i, n;
	uint64_t held = 0, size = 0, acked = 0;
	long full;

	/* Read back: the same held, the same latest, the same steps. */
	CHECK(reopen(cp) == 0);
	CHECK(agent_cp_held(*cp, HOST, &held, &m) == 0 && held == 12);
	CHECK(agent_cp_latest(*cp, HOST, &note, &len, &size, &m) == 0 &&
	    size == 12);
	free(note);
	test_steps(*cp);
	/* And it carries on from there. */
	n20 = make_note(&good, 20, ORIGIN, &host_key);
	n = tree_prove(&good, 12, 20, proof);
	CHECK(offer(*cp, HOST, n20, 12, proof, n, &acked, &ref) == 0 &&
	    acked == 20);
	free(n20);
	full = file_size(file_of(HOST));
	CHECK(reopen(cp) == 0);
	check_steps(*cp, 0, 20, 4);

	/* A torn last line: cut, the rest stands. */
	orig = slurp(file_of(HOST), &len);
	CHECK(orig != NULL && (long)len == full);
	if (orig == NULL)
		return;
	bad = malloc(len + 32);
	memcpy(bad, orig, len);
	memcpy(bad + len, "{\"old\":20,\"new\":2", 17);
	spill(file_of(HOST), bad, len + 17);
	CHECK(reopen(cp) == 0);
	CHECK(file_size(file_of(HOST)) == full);
	CHECK(agent_cp_held(*cp, HOST, &held, &m) == 0 && held == 20);
	free(bad);

	/* Damage of every kind: refused loudly, for this host only. */
	for (i = 0; i < sizeof(damage) / sizeof(damage[0]); i++) {
		at = strstr(orig, damage[i].from);
		CHECKF(at != NULL, "%s: no \"%s\"", damage[i].name,
		    damage[i].from);
		if (at == NULL)
			continue;
		blen = len - strlen(damage[i].from) + strlen(damage[i].to);
		bad = malloc(blen + 1);
		memcpy(bad, orig, (size_t)(at - orig));
		memcpy(bad + (at - orig), damage[i].to, strlen(damage[i].to));
		memcpy(bad + (at - orig) + strlen(damage[i].to),
		    at + strlen(damage[i].from),
		    len - (size_t)(at - orig) - strlen(damage[i].from));
		spill(file_of(HOST), bad, blen);
		free(bad);
		CHECKF(reopen(cp) == 1, "%s: not refused", damage[i].name);
		err_clear(&m);
		CHECK(agent_cp_held(*cp, HOST, &held, &m) == SIGNET_ERR_CHAIN);
		CHECK_CONTAINS(m.text, ".jsonl:");
		CHECKF(strstr(m.text, damage[i].why) != NULL,
		    "%s: \"%s\" lacks \"%s\"", damage[i].name, m.text,
		    damage[i].why);
		CHECK(agent_cp_latest(*cp, HOST, &note, &len, &size, &m) ==
		    SIGNET_ERR_CHAIN);
		n20 = make_note(&good, 20, ORIGIN, &host_key);
		CHECK(offer(*cp, HOST, n20, 0, NULL, 0, &acked, &ref) ==
		    SIGNET_ERR_CHAIN);
		free(n20);
		/* Never silently restarted: the file is as it was. */
		CHECK(file_size(file_of(HOST)) == (long)blen);
		/* Other hosts are not affected. */
		CHECK(agent_cp_held(*cp, "web-02", &held, &m) == 0);
		len = strlen(orig);
	}
	/* A file signed with another key than the one registered now. */
	spill(file_of(HOST), orig, strlen(orig));
	spill(file_of("db-01"), orig, strlen(orig));
	CHECK(reopen(cp) == 1);
	CHECK(agent_cp_held(*cp, "db-01", &held, &m) == SIGNET_ERR_CHAIN);
	CHECK(unlink(file_of("db-01")) == 0);
	/* A symbolic link in its place. */
	spill(file_of(HOST), orig, strlen(orig));
	CHECK(rename(file_of(HOST), "/tmp/test_agent_cp.target") == 0 ||
	    errno == EXDEV);
	CHECK(symlink("/tmp/test_agent_cp.target", file_of(HOST)) == 0);
	CHECK(reopen(cp) == 1);
	CHECK(agent_cp_held(*cp, HOST, &held, &m) == SIGNET_ERR_CHAIN);
	CHECK(unlink(file_of(HOST)) == 0);
	(void)unlink("/tmp/test_agent_cp.target");
	/* Put back: sound again. */
	spill(file_of(HOST), orig, strlen(orig));
	CHECK(reopen(cp) == 0);
	CHECK(agent_cp_held(*cp, HOST, &held, &m) == 0 && held == 20);
	free(orig);
}

static void
test_parse_line(void)
{
	static const struct {
		const char *name, *line, *why;
	} bad[] = {
		{ "empty", "", "" },
		{ "not an object", "[]", "" },
		{ "no note",
		    "{\"old\":0,\"new\":1,\"new_root\":"
		    "\"ERERERERERERERERERERERERERERERERERERERERERE=\","
		    "\"hashes\":[]}",
		    "note" },
		{ "old not below new",
		    "{\"old\":3,\"new\":3,\"new_root\":"
		    "\"ERERERERERERERERERERERERERERERERERERERERERE=\","
		    "\"hashes\":[],\"note\":\"n\"}",
		    "not below" },
		{ "new 0",
		    "{\"old\":0,\"new\":0,\"new_root\":"
		    "\"ERERERERERERERERERERERERERERERERERERERERERE=\","
		    "\"hashes\":[],\"note\":\"n\"}",
		    "new" },
		{ "new 2^53",
		    "{\"old\":0,\"new\":9007199254740992,\"new_root\":"
		    "\"ERERERERERERERERERERERERERERERERERERERERERE=\","
		    "\"hashes\":[],\"note\":\"n\"}",
		    "new" },
		{ "short root",
		    "{\"old\":0,\"new\":1,\"new_root\":\"ERER\","
		    "\"hashes\":[],\"note\":\"n\"}",
		    "new_root" },
		{ "hashes from 0",
		    "{\"old\":0,\"new\":2,\"new_root\":"
		    "\"ERERERERERERERERERERERERERERERERERERERERERE=\","
		    "\"hashes\":[\"ERERERERERERERERERERERERERERERERERERERERERE=\"],"
		    "\"note\":\"n\"}",
		    "none from old 0" },
		{ "a bad hash",
		    "{\"old\":1,\"new\":2,\"new_root\":"
		    "\"ERERERERERERERERERERERERERERERERERERERERERE=\","
		    "\"hashes\":[1],\"note\":\"n\"}",
		    "hashes[0]" },
		{ "hashes not an array",
		    "{\"old\":1,\"new\":2,\"new_root\":"
		    "\"ERERERERERERERERERERERERERERERERERERERERERE=\","
		    "\"hashes\":\"x\",\"note\":\"n\"}",
		    "hashes must be" },
		{ "empty note",
		    "{\"old\":0,\"new\":1,\"new_root\":"
		    "\"ERERERERERERERERERERERERERERERERERERERERERE=\","
		    "\"hashes\":[],\"note\":\"\"}",
		    "note must be" },
		{ "trailing bytes",
		    "{\"old\":0,\"new\":1,\"new_root\":"
		    "\"ERERERERERERERERERERERERERERERERERERERERERE=\","
		    "\"hashes\":[],\"note\":\"n\"}x",
		    "" },
	};
	struct agent_cp_step st;
	struct err_msg m;
	char *note = NULL;
	size_t i;
	const char *ok = "{\"old\":0,\"new\":1,\"new_root\":"
	                 "\"ERERERERERERERERERERERERERERERERERERERERERE=\","
	                 "\"hashes\":[],\"note\":\"n\"}";

	CHECK(agent_cp_parse_line(ok, strlen(ok), &st, &note, &m) == 0 &&
	    st.new == 1 && note != NULL &&strcmp(note, "n") == 0);
	free(note);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err_clear(&m);
		note = (char *)"x";
		CHECKF(agent_cp_parse_line(bad[i].line, strlen(bad[i].line),
		           &st, &note, &m) < 0,
		    "%s: accepted", bad[i].name);
		CHECKF(note == NULL && st.new == 0, "%s: left something",
		    bad[i].name);
		CHECKF(strstr(m.text, bad[i].why) != NULL,
		    "%s: \"%s\" lacks \"%s\"", bad[i].name, m.text, bad[i].why);
	}
	CHECK(agent_cp_parse_line(ok, AGENT_CP_LINE_MAX + 1, &st, &note, &m) ==
	    SIGNET_ERR_TOO_LARGE);
	CHECK(strcmp(agent_cp_reason_name(AGENT_CP_SPLIT_VIEW), "split_view") ==
	        0 &&
	    strcmp(agent_cp_reason_name(AGENT_CP_MALFORMED), "malformed") ==
	        0 &&
	    agent_cp_reason_name(0) == NULL &&
	    agent_cp_reason_name((enum agent_cp_reason)99) == NULL);
}

static void
test_dir(void)
{
	struct agent_cp *cp = NULL;
	struct err_msg m;
	char sub[300];

	(void)snprintf(sub, sizeof(sub), "%s/open", dir);
	CHECK(mkdir(sub, 0770) == 0 && chmod(sub, 0770) == 0);
	CHECK(agent_cp_open(sub, key_of, NULL, &cp, NULL, &m) ==
	        SIGNET_ERR_PERMISSIONS &&
	    cp == NULL);
	CHECK_CONTAINS(m.text, "writable by group or others");
	CHECK(rmdir(sub) == 0);
	/* Made when missing, 0700. */
	CHECK(agent_cp_open(sub, key_of, NULL, &cp, NULL, &m) == 0);
	CHECK(access(sub, F_OK) == 0);
	agent_cp_free(cp);
	CHECK(rmdir(sub) == 0);
}

/*
 * After a rotation of the host's result key the checkpoints kept before
 * it (signed with the retired key) still verify at open; a new offer
 * must be signed with the current key. Without the retired key, the old
 * lines do not verify.
 */
static void
test_rotation(struct agent_cp **cp)
{
	uint8_t proof[MERKLE_PROOF_MAX][MERKLE_HASH_LEN];
	struct agent_cp_refusal ref;
	struct err_msg m;
	uint64_t held = 0, acked = 0;
	char *n30;
	size_t n;

	rotated = true;
	CHECK(reopen(cp) == 0);
	CHECK(agent_cp_held(*cp, HOST, &held, &m) == 0 && held == 20);
	n30 = make_note(&good, 30, ORIGIN, &host_key);
	n = tree_prove(&good, 20, 30, proof);
	CHECK(offer(*cp, HOST, n30, 20, proof, n, &acked, &ref) == 1 &&
	    ref.reason == AGENT_CP_BAD_SIGNATURE);
	CHECK_CONTAINS(ref.detail, new_key.pub.id);
	free(n30);
	n30 = make_note(&good, 30, ORIGIN, &new_key);
	CHECK(offer(*cp, HOST, n30, 20, proof, n, &acked, &ref) == 0 &&
	    acked == 30);
	free(n30);
	/* Lines under both keys read back. */
	CHECK(reopen(cp) == 0);
	CHECK(agent_cp_held(*cp, HOST, &held, &m) == 0 && held == 30);
	/* Before the rotation was known: the new key's line is refused. */
	rotated = false;
	CHECK(reopen(cp) == 1);
	CHECK(agent_cp_held(*cp, HOST, &held, &m) == SIGNET_ERR_CHAIN);
	CHECK_CONTAINS(m.text, "bad_signature");
}

int
main(void)
{
	struct agent_cp *cp = NULL;
	struct err_msg m;
	size_t damaged = 9;

	CHECK(sodium_init() >= 0 && keys_generate(&host_key) == 0 &&
	    keys_generate(&other_key) == 0 && keys_generate(&new_key) == 0);
	CHECK(mkdtemp(dir) != NULL);
	tree_build(&good, 'g');
	tree_build(&evil, 'e');
	test_parse_line();
	test_dir();
	CHECK(agent_cp_open(dir, key_of, NULL, &cp, &damaged, &m) == 0 &&
	    damaged == 0);
	if (cp != NULL) {
		test_offers(cp);
		test_steps(cp);
		test_reload(&cp);
		test_rotation(&cp);
	}
	agent_cp_free(cp);
	(void)unlink(file_of(HOST));
	(void)unlink(file_of("web-02"));
	(void)rmdir(dir);
	return test_finish("test_agent_checkpoints");
}
