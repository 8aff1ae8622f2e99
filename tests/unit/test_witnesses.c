/* SPDX-License-Identifier: ISC */
/*
 * Witness cosignatures at the server (server/witnesses.c): a known
 * witness's cosignature of one of the log's own checkpoints is kept,
 * recorded in the audit log and served, once; everything else is refused
 * with its reason and changes nothing: an unknown witness, a bad
 * cosignature, a checkpoint of another origin or with another root (a
 * split view), a server that knows no witness, a bad keys file.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "audit.h"
#include "audit_tree.h"
#include "keys.h"
#include "note.h"
#include "testlib.h"
#include "witnesses.h"

#define ORIGIN "signet/server/test"

static struct keys_secret audit_key, w1_key, w2_key;
static char dir[] = "/tmp/signet-test-witnesses.XXXXXX";

static void
write_file(const char *path, const char *text, mode_t mode)
{
	FILE *f = fopen(path, "w");

	CHECK(f != NULL && fputs(text, f) >= 0);
	if (f != NULL)
		(void)fclose(f);
	CHECK(chmod(path, mode) == 0);
}

/* The verifier key text of a witness key. */
static void
vkey(const char *name, const struct keys_secret *k, char *out, size_t size)
{
	struct note_verifier v;

	CHECK(note_verifier_init(&v, name, NOTE_TYPE_COSIG, k->pub.pk) == 0);
	CHECK(note_verifier_format(&v, out, size) == 0);
}

/* note with a cosignature line by name/key added (free()). */
static char *
cosigned(const char *note, const char *name, const struct keys_secret *k,
    bool flip)
{
	char line[NOTE_SIGLINE_MAX + 1], *out = NULL;
	struct note *n = NULL;
	struct err_msg m;
	size_t line_len = 0, out_len = 0;

	CHECK(note_parse(note, strlen(note), &n, &m) == 0);
	if (n == NULL)
		return NULL;
	CHECKF(note_cosign(n->buf, n->text_len, name, k, 1796000000, line,
	           &line_len, &m) == 0,
	    "%s", m.text);
	if (flip)
		line[line_len - 3] = line[line_len - 3] == 'A' ? 'B' : 'A';
	CHECK(note_add_sigline(n, line, line_len, &out, &out_len, &m) == 0);
	note_free(n);
	return out;
}

static size_t
count_cosigned_records(const char *log)
{
	char line[8192];
	size_t k = 0;
	FILE *f = fopen(log, "r");

	if (f == NULL)
		return 0;
	while (fgets(line, sizeof(line), f) != NULL)
		k += strstr(line, "\"event\":\"audit.cosigned\"") != NULL;
	(void)fclose(f);
	return k;
}

static void
test_cosign(void)
{
	char log[256], keys[256], text[2048], vk1[NOTE_VKEY_MAX + 1];
	char vk2[NOTE_VKEY_MAX + 1], *note = NULL, *c = NULL, *got = NULL;
	char cp_text[NOTE_CHECKPOINT_MAX + 1], *fake = NULL;
	struct audit_writer *w = NULL;
	struct witnesses *ws = NULL;
	struct witnesses_result res;
	struct note_checkpoint cp;
	struct err_msg m;
	size_t len = 0, i, fake_len = 0, cp_len = 0;
	uint64_t size = 0, got_size = 0;

	(void)snprintf(log, sizeof(log), "%s/audit.log", dir);
	(void)snprintf(keys, sizeof(keys), "%s/witnesses", dir);
	CHECK(audit_open(log, &audit_key, &w, &m) == 0);
	for (i = 0; i < 9; i++)
		CHECK(audit_append(w, "server.started", "server", NULL, NULL,
		          &m) == 0);
	CHECK(audit_tree_open(w, &m) == 0);
	CHECK(audit_checkpoint_start(w, ORIGIN, 3600, NULL, NULL, &m) == 0);
	CHECK(audit_checkpoint_latest(w, &note, &len, &size) == 0);
	vkey("w1", &w1_key, vk1, sizeof(vk1));
	vkey("w2", &w2_key, vk2, sizeof(vk2));

	/* No witness known: every cosignature refused. */
	CHECK(witnesses_open(NULL, log, ORIGIN, &audit_key.pub, &ws, &m) == 0);
	CHECK(witnesses_count(ws) == 0);
	c = cosigned(note, "w1", &w1_key, false);
	CHECK(witnesses_accept(ws, w, c, strlen(c), &res, &m) ==
	    SIGNET_ERR_UNKNOWN_KEY);
	CHECK_CONTAINS(m.text, "knows no witness");
	witnesses_free(ws);

	/* Bad keys files. */
	write_file(keys, "not a key\n", 0600);
	CHECK(witnesses_open(keys, log, ORIGIN, &audit_key.pub, &ws, &m) ==
	    SIGNET_ERR_CONFIG);
	CHECK_CONTAINS(m.text, ":1:");
	(void)snprintf(text, sizeof(text), "# ours\n%s\n", vk1);
	write_file(keys, text, 0666);
	CHECK(witnesses_open(keys, log, ORIGIN, &audit_key.pub, &ws, &m) ==
	    SIGNET_ERR_PERMISSIONS);

	write_file(keys, text, 0600);
	CHECKF(witnesses_open(keys, log, ORIGIN, &audit_key.pub, &ws, &m) == 0,
	    "%s", m.text);
	CHECK(witnesses_count(ws) == 1);
	CHECK(witnesses_latest(ws, &got, &len, &got_size) ==
	    SIGNET_ERR_NOT_FOUND);

	/* An unknown witness, a bad cosignature: refused, nothing kept. */
	free(c);
	c = cosigned(note, "w2", &w2_key, false);
	CHECK(witnesses_accept(ws, w, c, strlen(c), &res, &m) ==
	    SIGNET_ERR_UNKNOWN_KEY);
	free(c);
	c = cosigned(note, "w1", &w1_key, true);
	CHECK(witnesses_accept(ws, w, c, strlen(c), &res, &m) ==
	    SIGNET_ERR_BAD_SIGNATURE);
	CHECK(count_cosigned_records(log) == 0);

	/* Another root at this size, signed by the log's key: a split view. */
	memset(&cp, 0, sizeof(cp));
	(void)snprintf(cp.origin, sizeof(cp.origin), "%s", ORIGIN);
	cp.size = size;
	memset(cp.root, 7, sizeof(cp.root));
	CHECK(note_checkpoint_format(&cp, cp_text, sizeof(cp_text), &cp_len,
	          &m) == 0);
	CHECK(note_sign(cp_text, cp_len, ORIGIN, &audit_key, &fake, &fake_len,
	          &m) == 0);
	free(c);
	c = cosigned(fake, "w1", &w1_key, false);
	CHECK(witnesses_accept(ws, w, c, strlen(c), &res, &m) ==
	    SIGNET_ERR_CHAIN);
	CHECK_CONTAINS(m.text, "split view");
	free(fake);
	/* A size the tree does not hold yet. */
	cp.size = size + 5;
	CHECK(note_checkpoint_format(&cp, cp_text, sizeof(cp_text), &cp_len,
	          &m) == 0);
	CHECK(note_sign(cp_text, cp_len, ORIGIN, &audit_key, &fake, &fake_len,
	          &m) == 0);
	free(c);
	c = cosigned(fake, "w1", &w1_key, false);
	CHECK(witnesses_accept(ws, w, c, strlen(c), &res, &m) ==
	    SIGNET_ERR_CHAIN);
	free(fake);
	/* Another origin (signed by the same key): not this log's. */
	(void)snprintf(cp.origin, sizeof(cp.origin), "signet/server/other");
	cp.size = size;
	CHECK(note_checkpoint_format(&cp, cp_text, sizeof(cp_text), &cp_len,
	          &m) == 0);
	CHECK(note_sign(cp_text, cp_len, "signet/server/other", &audit_key,
	          &fake, &fake_len, &m) == 0);
	free(c);
	c = cosigned(fake, "w1", &w1_key, false);
	CHECK(witnesses_accept(ws, w, c, strlen(c), &res, &m) ==
	    SIGNET_ERR_CHAIN);
	free(fake);
	CHECK(
	    witnesses_accept(ws, w, "junk", 4, &res, &m) == SIGNET_ERR_FORMAT);
	CHECK(count_cosigned_records(log) == 0);

	/* The real thing: kept once, recorded, served. */
	free(c);
	c = cosigned(note, "w1", &w1_key, false);
	CHECKF(witnesses_accept(ws, w, c, strlen(c), &res, &m) == 0, "%s",
	    m.text);
	CHECK(res.taken == 1 && res.already == 0 && res.size == size);
	CHECK(count_cosigned_records(log) == 1);
	CHECK(witnesses_accept(ws, w, c, strlen(c), &res, &m) == 0);
	CHECK(res.taken == 0 && res.already == 1);
	CHECK(count_cosigned_records(log) == 1);
	/* Nothing new but an unknown witness's line: not taken silently. */
	{
		char *c2 = cosigned(c, "w2", &w2_key, false);

		CHECK(c2 != NULL &&
		    witnesses_accept(ws, w, c2, strlen(c2), &res, &m) ==
		        SIGNET_ERR_UNKNOWN_KEY);
		CHECK_CONTAINS(m.text, "does not know (w2)");
		free(c2);
	}
	CHECK(witnesses_latest(ws, &got, &len, &got_size) == 0);
	CHECK(got_size == size);
	CHECK(got != NULL && strncmp(got, note, strlen(note)) == 0 &&
	    strstr(got, "\xe2\x80\x94 w1 ") != NULL);
	free(got);
	got = NULL;
	witnesses_free(ws);
	ws = NULL;

	/* Read back after a restart. */
	CHECK(witnesses_open(keys, log, ORIGIN, &audit_key.pub, &ws, &m) == 0);
	CHECK(witnesses_latest(ws, &got, &len, &got_size) == 0);
	CHECK(got != NULL && strstr(got, "\xe2\x80\x94 w1 ") != NULL);
	free(got);
	witnesses_free(ws);
	free(c);
	free(note);
	audit_close(w);
}

int
main(void)
{
	char cmd[128];

	if (sodium_init() < 0 || mkdtemp(dir) == NULL)
		return 1;
	CHECK(keys_generate(&audit_key) == 0 && keys_generate(&w1_key) == 0 &&
	    keys_generate(&w2_key) == 0);
	test_cosign();
	(void)snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	CHECK(system(cmd) == 0);
	return test_finish("test_witnesses");
}
