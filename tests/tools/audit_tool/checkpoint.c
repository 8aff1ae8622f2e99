/* SPDX-License-Identifier: ISC */
/*
 * Test-only checkpoints and consistency proofs of an audit log file, made
 * as the log's writer and the API would (docs/transparency.md): one leaf
 * per whole line, the leaf hash over the line's bytes without its
 * newline; the checkpoint a C2SP signed note under the origin; the proof
 * chain the JSON of GET /api/audit/proof/consistency.
 */
#include "checkpoint.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <sodium.h>

#include "audit.h"
#include "fileio.h"
#include "keys.h"
#include "merkle.h"
#include "note.h"
#include "text.h"

#define TOOL_RECORDS_MAX 1000000

/* A log's stored hashes in memory. */
struct mem {
	uint8_t (*h)[MERKLE_HASH_LEN];
	uint64_t n, records;
};

static int
mem_read(void *arg, const uint64_t *idx, size_t n,
    uint8_t (*out)[MERKLE_HASH_LEN])
{
	struct mem *m = arg;
	size_t i;

	for (i = 0; i < n; i++) {
		if (idx[i] >= m->n)
			return SIGNET_ERR_NOT_FOUND;
		memcpy(out[i], m->h[idx[i]], MERKLE_HASH_LEN);
	}
	return 0;
}

static int
load(const char *log, struct mem *m)
{
	struct merkle_reader rd = { mem_read, m };
	struct audit_reader *ar = NULL;
	struct err_msg msg;
	uint8_t leaf[MERKLE_HASH_LEN];
	uint8_t out[MERKLE_STORED_MAX][MERKLE_HASH_LEN];
	char *line;
	size_t len, count, k;
	bool nl;
	int r;

	memset(m, 0, sizeof(*m));
	m->h = calloc(2 * TOOL_RECORDS_MAX, MERKLE_HASH_LEN);
	if (m->h == NULL || audit_reader_open(log, &ar, &msg) != 0) {
		fprintf(stderr, "audit_tool: %s: cannot read\n", log);
		return 2;
	}
	while ((r = audit_reader_next(ar, &line, &len, &nl)) == 1 && nl) {
		if (m->records >= TOOL_RECORDS_MAX)
			break;
		merkle_leaf_hash(line, len, leaf);
		if (merkle_stored_hashes(m->records, leaf, &rd, out, &count) !=
		    0)
			break;
		for (k = 0; k < count; k++)
			memcpy(m->h[m->n++], out[k], MERKLE_HASH_LEN);
		m->records++;
	}
	audit_reader_close(ar);
	return r < 0 ? 2 : 0;
}

int
tool_checkpoint(const char *log, const char *keyfile, const char *origin,
    const char *size, const char *out)
{
	struct merkle_reader rd;
	struct note_checkpoint cp;
	struct keys_secret key;
	struct err_msg msg;
	struct mem m;
	char text[NOTE_CHECKPOINT_MAX + 1], *note = NULL;
	size_t len, nlen;
	int64_t n;
	int rc = 2;

	memset(&cp, 0, sizeof(cp));
	if (load(log, &m) != 0)
		goto out;
	rd = (struct merkle_reader){ mem_read, &m };
	if (strcmp(size, "all") == 0)
		n = (int64_t)m.records;
	else if (text_to_int64(size, 0, (int64_t)m.records, &n) != 0)
		goto out;
	(void)snprintf(cp.origin, sizeof(cp.origin), "%s", origin);
	cp.size = (uint64_t)n;
	if (keys_load_secret(keyfile, &key, &msg) != 0 ||
	    merkle_tree_hash(cp.size, &rd, cp.root) != 0 ||
	    note_checkpoint_format(&cp, text, sizeof(text), &len, &msg) != 0 ||
	    note_sign(text, len, origin, &key, &note, &nlen, &msg) != 0 ||
	    fileio_replace(out, note, nlen, 0644, &msg) != 0) {
		fprintf(stderr, "audit_tool: checkpoint: %s\n", msg.text);
		goto out;
	}
	rc = 0;
out:
	keys_secret_wipe(&key);
	free(note);
	free(m.h);
	return rc;
}

static void
add_b64(cJSON *o, const char *name, cJSON *arr, const uint8_t *h)
{
	char b64[64];

	(void)sodium_bin2base64(b64, sizeof(b64), h, MERKLE_HASH_LEN,
	    sodium_base64_VARIANT_ORIGINAL);
	if (o != NULL)
		(void)cJSON_AddStringToObject(o, name, b64);
	else
		(void)cJSON_AddItemToArray(arr, cJSON_CreateString(b64));
}

int
tool_proof(const char *log, const char *sizes, const char *out,
    const char *name)
{
	struct merkle_reader rd;
	uint8_t proof[MERKLE_PROOF_MAX][MERKLE_HASH_LEN], root[MERKLE_HASH_LEN];
	uint64_t at[64];
	cJSON *doc = NULL, *steps, *s, *hs;
	struct err_msg msg;
	struct mem m;
	char *text = NULL, *copy = NULL, *p, *comma;
	size_t n = 0, i, k, len;
	int64_t v;
	int rc = 2;

	if (load(log, &m) != 0)
		goto out;
	rd = (struct merkle_reader){ mem_read, &m };
	copy = strdup(sizes);
	for (p = copy; p != NULL && n < 64; p = comma) {
		comma = strchr(p, ',');
		if (comma != NULL)
			*comma++ = '\0';
		if (text_to_int64(p, 0, (int64_t)m.records, &v) != 0)
			goto out;
		at[n++] = (uint64_t)v;
	}
	if (n == 0)
		goto out;
	doc = cJSON_CreateObject();
	(void)cJSON_AddStringToObject(doc, "log", name);
	(void)cJSON_AddNumberToObject(doc, "old", (double)at[0]);
	(void)cJSON_AddNumberToObject(doc, "new", (double)at[n - 1]);
	/* From the empty tree, or to the same size: no step to prove. */
	if (n == 2 && (at[0] == 0 || at[0] == at[1]))
		n = 1;
	steps = cJSON_AddArrayToObject(doc, "steps");
	for (i = 1; i < n; i++) {
		if (at[i - 1] == 0 || at[i - 1] >= at[i] ||
		    merkle_prove_tree(at[i], at[i - 1], &rd, proof, &len) !=
		        0 ||
		    merkle_tree_hash(at[i], &rd, root) != 0)
			goto out;
		s = cJSON_CreateObject();
		(void)cJSON_AddItemToArray(steps, s);
		(void)cJSON_AddNumberToObject(s, "old", (double)at[i - 1]);
		(void)cJSON_AddNumberToObject(s, "new", (double)at[i]);
		add_b64(s, "new_root", NULL, root);
		hs = cJSON_AddArrayToObject(s, "hashes");
		for (k = 0; k < len; k++)
			add_b64(NULL, NULL, hs, proof[k]);
	}
	text = cJSON_PrintUnformatted(doc);
	if (text == NULL ||
	    fileio_replace(out, text, strlen(text), 0644, &msg) != 0)
		goto out;
	rc = 0;
out:
	if (rc != 0)
		fprintf(stderr, "audit_tool: proof: cannot make it\n");
	cJSON_Delete(doc);
	free(text);
	free(copy);
	free(m.h);
	return rc;
}
