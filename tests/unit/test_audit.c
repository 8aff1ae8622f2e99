/* SPDX-License-Identifier: ISC */
/*
 * Audit records: line parsing, the writer's chain, failure handling, and
 * rotation: links between files, the verifier's view of missing,
 * reordered and replaced files, and crashes in the middle of a rotation.
 */
#include <glob.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "audit.h"
#include "keys.h"
#include "testlib.h"

#define Z64 "0000000000000000000000000000000000000000000000000000000000000000"
#define SIG88                                                                  \
	"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=="

struct line_row {
	const char *name;
	const char *line;
	const char *why; /* NULL: must parse */
};

static const struct line_row rows[] = {
	{ "well formed",
	    "{\"seq\":0,\"ts\":1,\"prev\":\"" Z64 "\",\"event\":"
	    "\"a.b\",\"actor\":\"x\",\"data\":{},\"sig\":\"" SIG88 "\"}",
	    NULL },
	{ "no sig", "{\"seq\":0,\"ts\":1,\"prev\":\"" Z64 "\"}",
	    "does not end with its \"sig\"" },
	{ "sig not last", "{\"sig\":\"" SIG88 "\",\"seq\":0}",
	    "does not end with its \"sig\"" },
	{ "sig short", "{\"seq\":0,\"sig\":\"AAAA\"}", "not base64 of 64" },
	{ "sig in data only", "{\"seq\":0,\"data\":{\"sig\":\"" SIG88 "\"}}",
	    "does not end with its \"sig\"" },
	{ "unknown member",
	    "{\"seq\":0,\"ts\":1,\"prev\":\"" Z64 "\","
	    "\"event\":\"a\",\"actor\":\"x\",\"data\":{},\"who\":1,\"sig\":\"" SIG88
	    "\"}",
	    "unknown key \"who\"" },
	{ "duplicate seq",
	    "{\"seq\":0,\"seq\":1,\"ts\":1,\"prev\":\"" Z64
	    "\",\"event\":\"a\",\"actor\":\"x\",\"data\":{},\"sig\":\"" SIG88
	    "\"}",
	    "duplicate key \"seq\"" },
	{ "seq float",
	    "{\"seq\":0.5,\"ts\":1,\"prev\":\"" Z64 "\",\"event\":"
	    "\"a\",\"actor\":\"x\",\"data\":{},\"sig\":\"" SIG88 "\"}",
	    "record.seq: must be an integer" },
	{ "seq negative",
	    "{\"seq\":-1,\"ts\":1,\"prev\":\"" Z64 "\",\"event\":"
	    "\"a\",\"actor\":\"x\",\"data\":{},\"sig\":\"" SIG88 "\"}",
	    "outside" },
	{ "prev short",
	    "{\"seq\":0,\"ts\":1,\"prev\":\"00\",\"event\":"
	    "\"a\",\"actor\":\"x\",\"data\":{},\"sig\":\"" SIG88 "\"}",
	    "64 lowercase hex" },
	{ "data array",
	    "{\"seq\":0,\"ts\":1,\"prev\":\"" Z64 "\",\"event\":"
	    "\"a\",\"actor\":\"x\",\"data\":[],\"sig\":\"" SIG88 "\"}",
	    "record.data: must be an object" },
	{ "event empty",
	    "{\"seq\":0,\"ts\":1,\"prev\":\"" Z64 "\",\"event\":"
	    "\"\",\"actor\":\"x\",\"data\":{},\"sig\":\"" SIG88 "\"}",
	    "record.event: must be 1.." },
	{ "actor control",
	    "{\"seq\":0,\"ts\":1,\"prev\":\"" Z64 "\",\"event\":"
	    "\"a\",\"actor\":\"x\\u0007\",\"data\":{},\"sig\":\"" SIG88 "\"}",
	    "record.actor: must be 1.." },
	{ "missing ts",
	    "{\"seq\":0,\"prev\":\"" Z64 "\",\"event\":"
	    "\"a\",\"actor\":\"x\",\"data\":{},\"sig\":\"" SIG88 "\"}",
	    "record.ts: missing" },
	{ "not json", "seq=0,\"sig\":\"" SIG88 "\"}", "malformed JSON" },
};

static void
test_parse_rows(void)
{
	size_t i;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct audit_record rec;
		struct err_msg msg;
		int r;

		err_clear(&msg);
		r = audit_parse_line(rows[i].line, strlen(rows[i].line), &rec,
		    &msg);
		if (rows[i].why == NULL) {
			CHECKF(r == 0, "row %s: %s", rows[i].name, msg.text);
		} else {
			CHECKF(r != 0, "row %s parsed", rows[i].name);
			CHECKF(strstr(msg.text, rows[i].why) != NULL,
			    "row %s: \"%s\" lacks \"%s\"", rows[i].name,
			    msg.text, rows[i].why);
		}
		audit_record_free(&rec);
	}
}

static uint64_t
count_verified(const char *path, const struct keys_public *pub)
{
	struct audit_verify_opts o = { .audit_key = pub };
	struct audit_verify_report rep;
	struct err_msg msg;

	if (audit_verify_file(path, &o, &rep, &msg) != 0) {
		fprintf(stderr, "verify: %s\n", msg.text);
		return UINT64_MAX;
	}
	return rep.records;
}

/*
 * A full disk, simulated with RLIMIT_FSIZE: path may grow by room bytes
 * more; *old is the limit to put back.
 */
static void
cap_file_size(const char *path, off_t room, struct rlimit *old)
{
	struct rlimit lim;
	struct stat st;

	CHECK(signal(SIGXFSZ, SIG_IGN) != SIG_ERR);
	CHECK(getrlimit(RLIMIT_FSIZE, old) == 0);
	CHECK(stat(path, &st) == 0);
	lim = *old;
	lim.rlim_cur = (rlim_t)(st.st_size + room);
	CHECK(setrlimit(RLIMIT_FSIZE, &lim) == 0);
}

/* A string of AUDIT_LINE_MAX + 9 bytes: too long for any record. */
static char *
oversized_text(void)
{
	char *big = malloc(AUDIT_LINE_MAX + 10);

	CHECK(big != NULL);
	if (big == NULL)
		exit(1);
	memset(big, 'x', AUDIT_LINE_MAX + 9);
	big[AUDIT_LINE_MAX + 9] = '\0';
	return big;
}

static void
test_writer(const char *dir)
{
	char path[256];
	struct keys_secret key;
	struct audit_writer *w = NULL;
	struct audit_head head, head2;
	struct err_msg msg;
	uint64_t seq = 99;
	cJSON *data;
	int i;

	(void)snprintf(path, sizeof(path), "%s/audit.log", dir);
	CHECK(keys_generate(&key) == 0);
	CHECK(audit_open(path, &key, &w, &msg) == 0);
	audit_get_head(w, &head);
	CHECK(head.empty);
	for (i = 0; i < 3; i++)
		CHECK(audit_append(w, "server.started", "server", NULL, &seq,
		          &msg) == 0);
	CHECK(seq == 2);
	audit_get_head(w, &head);
	CHECK(!head.empty && head.seq == 2);

	/* Bad arguments change nothing. */
	CHECK(audit_append(w, "Bad Event", "server", NULL, NULL, &msg) ==
	    SIGNET_ERR_INVALID_ARG);
	CHECK(audit_append(w, "a.b", "", NULL, NULL, &msg) ==
	    SIGNET_ERR_INVALID_ARG);
	data = cJSON_CreateArray();
	CHECK(audit_append(w, "a.b", "x", data, NULL, &msg) ==
	    SIGNET_ERR_INVALID_ARG);
	cJSON_Delete(data);
	{
		char *big = oversized_text();
		data = cJSON_CreateObject();
		(void)cJSON_AddStringToObject(data, "blob", big);
		CHECK(audit_append(w, "a.b", "x", data, NULL, &msg) ==
		    SIGNET_ERR_TOO_LARGE);
		cJSON_Delete(data);
		free(big);
	}
	audit_get_head(w, &head2);
	CHECK(head2.seq == 2 && strcmp(head.hash, head2.hash) == 0);

	/* A full disk, simulated with RLIMIT_FSIZE: the append fails, the
	 * partial bytes are undone, and the writer works again later. */
	{
		struct rlimit old;

		cap_file_size(path, 40, &old);
		CHECK(audit_append(w, "action.requested", "alice", NULL, NULL,
		          &msg) == SIGNET_ERR_IO);
		CHECK_CONTAINS(msg.text, "cannot append audit record");
		CHECK(setrlimit(RLIMIT_FSIZE, &old) == 0);
		CHECK(count_verified(path, &key.pub) == 3);
		CHECK(audit_append(w, "action.requested", "alice", NULL, &seq,
		          &msg) == 0);
		CHECK(seq == 3);
		CHECK(count_verified(path, &key.pub) == 4);
	}
	audit_close(w);
	w = NULL;

	/* Reopen continues the chain. */
	CHECK(audit_open(path, &key, &w, &msg) == 0);
	audit_get_head(w, &head);
	CHECK(head.seq == 3);
	CHECK(
	    audit_append(w, "server.started", "server", NULL, &seq, &msg) == 0);
	CHECK(seq == 4);
	/* A second writer on the same file is refused while this one lives. */
	{
		struct audit_writer *w2 = NULL;
		CHECK(audit_open(path, &key, &w2, &msg) == SIGNET_ERR_IO);
		CHECK_CONTAINS(msg.text, "another writer");
		audit_close(w2);
	}
	audit_close(w);
	CHECK(count_verified(path, &key.pub) == 5);

	/* A last line that is not a record is refused, not continued. */
	{
		FILE *f = fopen(path, "a");
		CHECK(f != NULL);
		fputs("{\"seq\":5}\n", f);
		fclose(f);
		w = NULL;
		CHECK(audit_open(path, &key, &w, &msg) == SIGNET_ERR_FORMAT);
		CHECK_CONTAINS(msg.text, "refusing to continue");
		CHECK(w == NULL);
	}
	keys_secret_wipe(&key);
}

/* audit_append_pair: two records, one fdatasync; a bad one writes none. */
static void
test_pair(const char *dir)
{
	char path[256];
	struct keys_secret key;
	struct audit_writer *w = NULL;
	struct audit_stats st0, st1;
	struct audit_head h0, h1;
	struct err_msg msg;
	size_t n = 9;
	cJSON *one, *bad;
	char *big;

	(void)snprintf(path, sizeof(path), "%s/pair.log", dir);
	CHECK(keys_generate(&key) == 0);
	CHECK(audit_open(path, &key, &w, &msg) == 0);
	one = cJSON_CreateObject();
	CHECK(one != NULL && cJSON_AddStringToObject(one, "k", "v") != NULL);
	audit_get_stats(w, &st0);
	CHECK(audit_append_pair(w, "agent", "action.received", one,
	          "action.dispatched", NULL, &n, &msg) == 0);
	CHECK(n == 2);
	audit_get_stats(w, &st1);
	CHECK(st1.appends == st0.appends + 2);
	CHECK(st1.syncs == st0.syncs + 1);
	CHECK(count_verified(path, &key.pub) == 2);

	/* A bad second record: neither is written. */
	audit_get_head(w, &h0);
	big = oversized_text();
	bad = cJSON_CreateObject();
	CHECK(bad != NULL && cJSON_AddStringToObject(bad, "blob", big) != NULL);
	CHECK(audit_append_pair(w, "agent", "action.received", one,
	          "action.dispatched", bad, &n, &msg) == SIGNET_ERR_TOO_LARGE);
	CHECK(n == 0);
	CHECK(audit_append_pair(w, "agent", "action.received", one, "Bad", NULL,
	          &n, &msg) == SIGNET_ERR_INVALID_ARG);
	CHECK(n == 0);
	audit_get_head(w, &h1);
	CHECK(h1.seq == h0.seq && strcmp(h0.hash, h1.hash) == 0);
	CHECK(count_verified(path, &key.pub) == 2);

	/* A full disk after the first record: it stays, durable, alone. */
	{
		struct rlimit old;
		cJSON *mid = cJSON_CreateObject();

		CHECK(mid != NULL &&
		    cJSON_AddStringToObject(mid, "blob", big + 8000) != NULL);
		cap_file_size(path, 400, &old);
		audit_get_stats(w, &st0);
		CHECK(audit_append_pair(w, "agent", "action.received", one,
		          "action.dispatched", mid, &n, &msg) == SIGNET_ERR_IO);
		CHECK(n == 1);
		CHECK(setrlimit(RLIMIT_FSIZE, &old) == 0);
		audit_get_stats(w, &st1);
		CHECK(st1.appends == st0.appends + 1);
		CHECK(count_verified(path, &key.pub) == 3);
		cJSON_Delete(mid);
	}
	free(big);
	cJSON_Delete(bad);
	cJSON_Delete(one);
	audit_close(w);
	keys_secret_wipe(&key);
}

/*
 * audit_write and audit_sync: records written in a row are in the log at
 * once and made durable together by one fdatasync; an append in between
 * makes them durable with its own; a bad record writes nothing.
 */
static void
test_write_sync(const char *dir)
{
	char path[256];
	struct keys_secret key;
	struct audit_writer *w = NULL;
	struct audit_stats st0, st1;
	struct audit_head h0, h1;
	struct err_msg msg;
	uint64_t seq = 0, seq2 = 0;
	cJSON *one, *mid;
	char *big;
	int i;

	(void)snprintf(path, sizeof(path), "%s/write.log", dir);
	CHECK(keys_generate(&key) == 0);
	CHECK(audit_open(path, &key, &w, &msg) == 0);
	one = cJSON_CreateObject();
	CHECK(one != NULL && cJSON_AddStringToObject(one, "k", "v") != NULL);

	/* Nothing to sync yet: no fdatasync. */
	audit_get_stats(w, &st0);
	CHECK(audit_sync(w, &msg) == 0);
	audit_get_stats(w, &st1);
	CHECK(st1.syncs == st0.syncs);

	for (i = 0; i < 3; i++)
		CHECK(audit_write(w, "action.result", "server", one, &seq,
		          &msg) == 0);
	CHECK(seq == 2); /* seqs start at 0 */
	audit_get_stats(w, &st1);
	CHECKF(st1.syncs == st0.syncs && st1.appends == st0.appends,
	    "written, not synced: %llu syncs, %llu durable",
	    (unsigned long long)(st1.syncs - st0.syncs),
	    (unsigned long long)(st1.appends - st0.appends));
	CHECK(count_verified(path, &key.pub) == 3);
	CHECK(audit_sync(w, &msg) == 0);
	audit_get_stats(w, &st1);
	CHECKF(st1.syncs == st0.syncs + 1 && st1.appends == st0.appends + 3,
	    "one sync for three: %llu syncs, %llu durable",
	    (unsigned long long)(st1.syncs - st0.syncs),
	    (unsigned long long)(st1.appends - st0.appends));
	CHECK(audit_sync(w, &msg) == 0);
	audit_get_stats(w, &st0);
	CHECK(st0.syncs == st1.syncs);

	/* An append after a write makes both durable with one sync. */
	CHECK(audit_write(w, "action.result", "server", one, NULL, &msg) == 0);
	CHECK(audit_append(w, "agent.connected", "server", one, &seq2, &msg) ==
	    0);
	CHECK(seq2 == 4);
	audit_get_stats(w, &st1);
	CHECK(st1.syncs == st0.syncs + 1 && st1.appends == st0.appends + 2);
	CHECK(audit_sync(w, &msg) == 0);
	audit_get_stats(w, &st0);
	CHECK(st0.syncs == st1.syncs);

	/* Bad records: an error each, nothing written. */
	audit_get_head(w, &h0);
	CHECK(audit_write(w, "Bad", "server", one, &seq, &msg) ==
	    SIGNET_ERR_INVALID_ARG);
	CHECK(seq == 0);
	CHECK(audit_write(w, "action.result", "", one, NULL, &msg) ==
	    SIGNET_ERR_INVALID_ARG);
	CHECK(audit_write(NULL, "action.result", "server", one, NULL, &msg) ==
	    SIGNET_ERR_INVALID_ARG);
	CHECK(audit_sync(NULL, &msg) == SIGNET_ERR_INVALID_ARG);
	big = oversized_text();
	mid = cJSON_CreateObject();
	CHECK(mid != NULL && cJSON_AddStringToObject(mid, "blob", big) != NULL);
	CHECK(audit_write(w, "action.result", "server", mid, NULL, &msg) ==
	    SIGNET_ERR_TOO_LARGE);
	cJSON_Delete(mid);
	audit_get_head(w, &h1);
	CHECK(h1.seq == h0.seq && strcmp(h0.hash, h1.hash) == 0);
	CHECK(count_verified(path, &key.pub) == 5);

	/* A full disk: an error, nothing written, the writer goes on. */
	{
		struct rlimit old;

		mid = cJSON_CreateObject();
		CHECK(mid != NULL &&
		    cJSON_AddStringToObject(mid, "blob", big + 8000) != NULL);
		cap_file_size(path, 400, &old);
		CHECK(audit_write(w, "action.result", "server", mid, NULL,
		          &msg) == SIGNET_ERR_IO);
		CHECK(setrlimit(RLIMIT_FSIZE, &old) == 0);
		CHECK(audit_sync(w, &msg) == 0);
		CHECK(count_verified(path, &key.pub) == 5);
		CHECK(audit_write(w, "action.result", "server", mid, NULL,
		          &msg) == 0);
		CHECK(audit_sync(w, &msg) == 0);
		CHECK(count_verified(path, &key.pub) == 6);
		cJSON_Delete(mid);
	}
	free(big);
	cJSON_Delete(one);
	audit_close(w);
	keys_secret_wipe(&key);
}

static void
test_head_parse(void)
{
	struct audit_head h;

	CHECK(audit_head_parse("12:" Z64, &h) == 0 && h.seq == 12);
	CHECK(audit_head_parse("12" Z64, &h) == SIGNET_ERR_FORMAT);
	CHECK(audit_head_parse("-1:" Z64, &h) == SIGNET_ERR_FORMAT);
	CHECK(audit_head_parse("x:" Z64, &h) == SIGNET_ERR_FORMAT);
	CHECK(audit_head_parse("1:00", &h) == SIGNET_ERR_FORMAT);
	CHECK(audit_head_parse(":" Z64, &h) == SIGNET_ERR_FORMAT);
}

/* ---- rotation ---- */

struct size_row {
	const char *in;
	int rc;
	uint64_t bytes;
};

static const struct size_row size_rows[] = {
	{ "0", 0, 0 },
	{ "4096", 0, 4096 },
	{ "64K", 0, 65536 },
	{ "256M", 0, 256ULL << 20 },
	{ "2g", 0, 2ULL << 30 },
	{ "1024G", 0, 1ULL << 40 },
	{ "1025G", SIGNET_ERR_FORMAT, 0 },
	{ "", SIGNET_ERR_FORMAT, 0 },
	{ "M", SIGNET_ERR_FORMAT, 0 },
	{ "-1", SIGNET_ERR_FORMAT, 0 },
	{ "1.5M", SIGNET_ERR_FORMAT, 0 },
	{ "10KB", SIGNET_ERR_FORMAT, 0 },
	{ " 10", SIGNET_ERR_FORMAT, 0 },
	{ "99999999999999999999", SIGNET_ERR_FORMAT, 0 },
};

static void
test_parse_size(void)
{
	size_t i;

	for (i = 0; i < sizeof(size_rows) / sizeof(size_rows[0]); i++) {
		uint64_t b = 7;
		int r = audit_parse_size(size_rows[i].in, &b);

		CHECKF(r == size_rows[i].rc &&
		        (r != 0 || b == size_rows[i].bytes),
		    "size \"%s\": rc %d bytes %llu", size_rows[i].in, r,
		    (unsigned long long)b);
	}
}

/* The files of the log at path in chain order: PATH.[0-9]* then PATH. */
static size_t
log_files(const char *path, char files[][256], size_t max)
{
	char pat[300];
	glob_t g;
	size_t i, n = 0;

	(void)snprintf(pat, sizeof(pat), "%s.[0-9]*", path);
	if (glob(pat, 0, NULL, &g) == 0) {
		for (i = 0; i < g.gl_pathc && n + 1 < max; i++)
			(void)snprintf(files[n++], 256, "%s", g.gl_pathv[i]);
		globfree(&g);
	}
	(void)snprintf(files[n++], 256, "%s", path);
	return n;
}

/* Verifies files[0..n) as one log; returns the code, message in msg. */
static int
verify_set(char files[][256], size_t n, const struct keys_public *pub,
    const struct audit_head *expect, struct audit_verify_report *rep,
    struct err_msg *msg)
{
	struct audit_verify_opts o = { .audit_key = pub };
	const char *paths[64];
	size_t i;

	for (i = 0; i < n && i < 64; i++)
		paths[i] = files[i];
	if (expect != NULL) {
		o.has_expect_head = true;
		o.expect_head = *expect;
	}
	err_clear(msg);
	return audit_verify_files(paths, n, &o, NULL, rep, msg);
}

static uint64_t
verify_all(const char *path, const struct keys_public *pub)
{
	char files[64][256];
	struct audit_verify_report rep;
	struct err_msg msg;
	size_t n = log_files(path, files, 64);

	if (verify_set(files, n, pub, NULL, &rep, &msg) != 0) {
		fprintf(stderr, "verify_all: %s\n", msg.text);
		return UINT64_MAX;
	}
	return rep.records;
}

static int
append_n(struct audit_writer *w, int n, size_t pad)
{
	char *blob = malloc(pad + 1);
	int i, r = 0;

	if (blob == NULL)
		return -1;
	memset(blob, 'p', pad);
	blob[pad] = '\0';
	for (i = 0; i < n && r == 0; i++) {
		cJSON *d = cJSON_CreateObject();
		struct err_msg msg;

		(void)cJSON_AddNumberToObject(d, "i", i);
		if (pad > 0)
			(void)cJSON_AddStringToObject(d, "pad", blob);
		r = audit_append(w, "test.record", "tester", d, NULL, &msg);
		if (r != 0)
			fprintf(stderr, "append: %s\n", msg.text);
		cJSON_Delete(d);
	}
	free(blob);
	return r;
}

struct rot_thread {
	struct audit_writer *w;
	int n;
	int failed;
};

static void *
rot_thread_main(void *p)
{
	struct rot_thread *a = p;
	struct err_msg msg;
	int i;

	for (i = 0; i < a->n; i++)
		if (audit_append(a->w, "test.thread", "tester", NULL, NULL,
		        &msg) != 0) {
			a->failed = 1;
			break;
		}
	return NULL;
}

static bool
file_exists(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0;
}

/*
 * What a writer killed just after rename() leaves: PATH renamed to its
 * rotated name (still writable), no PATH. The name is put in rot.
 */
static int
crash_rename(const char *path, const struct keys_public *pub, char *rot,
    size_t rotlen)
{
	struct audit_verify_opts o = { .audit_key = pub };
	struct audit_verify_report rep;
	struct audit_record rec;
	struct err_msg msg;
	uint64_t first;

	if (audit_read_first(path, &rec, &msg) != 0)
		return -1;
	first = rec.seq;
	audit_record_free(&rec);
	if (audit_verify_file(path, &o, &rep, &msg) != 0 ||
	    audit_rotated_name(path, first, rep.head.seq, rot, rotlen) != 0 ||
	    rename(path, rot) != 0)
		return -1;
	return 0;
}

static void
test_rotation(const char *dir)
{
	char path[256], rot[300], files[64][256], cmd[700];
	struct keys_secret key, other;
	struct audit_writer *w = NULL;
	struct audit_record rec;
	struct audit_link link;
	struct audit_head head;
	struct audit_stats stats;
	struct audit_verify_report rep;
	struct err_msg msg;
	struct stat st;
	size_t n, i;

	(void)snprintf(path, sizeof(path), "%s/rot/audit.log", dir);
	(void)snprintf(cmd, sizeof(cmd), "mkdir -p %s/rot %s/other", dir, dir);
	CHECK(system(cmd) == 0);
	CHECK(keys_generate(&key) == 0 && keys_generate(&other) == 0);

	/* An empty log has nothing to rotate. */
	CHECK(audit_open(path, &key, &w, &msg) == 0);
	CHECK(audit_rotate(w, "request", &msg) == 0);
	CHECK(audit_rotate(w, "Bad", &msg) == SIGNET_ERR_INVALID_ARG);
	CHECK(log_files(path, files, 64) == 1);

	/* Rotation on request: seq 0..4 go to PATH.0..0-0..4, read-only. */
	CHECK(append_n(w, 5, 0) == 0);
	CHECK(audit_rotate(w, "request", &msg) == 0);
	CHECK(audit_rotated_name(path, 0, 4, rot, sizeof(rot)) == 0);
	CHECK(stat(rot, &st) == 0 && (st.st_mode & 0777) == 0400);
	CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600);
	CHECK(audit_read_first(path, &rec, &msg) == 0);
	CHECK(strcmp(rec.event, AUDIT_EVENT_ROTATED) == 0 && rec.seq == 5);
	CHECK(audit_link_parse(&rec, &link, &msg) == 0);
	CHECK(strcmp(link.previous, strrchr(rot, '/') + 1) == 0);
	CHECK(strcmp(link.reason, "request") == 0 && link.head.seq == 4);
	audit_record_free(&rec);
	{
		struct audit_verify_opts o = { .audit_key = &key.pub };
		CHECK(audit_verify_file(rot, &o, &rep, &msg) == 0);
		CHECK(rep.head.seq == 4 &&
		    strcmp(rep.head.hash, link.head.hash) == 0);
		/* The later file alone verifies and says what it continues. */
		CHECK(audit_verify_file(path, &o, &rep, &msg) == 0);
		CHECK(rep.continues && rep.records == 1 && rep.head.seq == 5);
		CHECK(strcmp(rep.continues_from.previous, link.previous) == 0);
	}

	/* On size: no rotated file passes rotate_size. */
	audit_set_rotate_size(w, 4096);
	CHECK(append_n(w, 30, 600) == 0);
	audit_get_stats(w, &stats);
	CHECK(stats.rotations >= 4);
	n = log_files(path, files, 64);
	for (i = 0; i + 1 < n; i++)
		CHECKF(stat(files[i], &st) == 0 && st.st_size <= 4096,
		    "%s is %lld bytes", files[i], (long long)st.st_size);
	/* A record bigger than rotate_size gets a file, not a loop. */
	CHECK(append_n(w, 3, 6000) == 0);
	audit_get_stats(w, &stats);
	{
		uint64_t before = stats.rotations;
		CHECK(append_n(w, 1, 6000) == 0);
		audit_get_stats(w, &stats);
		CHECK(stats.rotations == before + 1);
	}
	audit_set_rotate_size(w, 0);

	/* Rotations racing appenders from four threads lose nothing. */
	{
		struct rot_thread a[4];
		pthread_t t[4];
		uint64_t before = verify_all(path, &key.pub);

		for (i = 0; i < 4; i++) {
			a[i] = (struct rot_thread){ w, 150, 0 };
			CHECK(pthread_create(&t[i], NULL, rot_thread_main,
			          &a[i]) == 0);
		}
		for (i = 0; i < 8; i++) {
			CHECK(audit_rotate(w, "request", &msg) == 0);
			(void)usleep(2000);
		}
		for (i = 0; i < 4; i++) {
			(void)pthread_join(t[i], NULL);
			CHECK(a[i].failed == 0);
		}
		n = log_files(path, files, 64);
		CHECK(verify_set(files, n, &key.pub, NULL, &rep, &msg) == 0);
		CHECKF(rep.records == before + 600 + 8, "%llu records, %s",
		    (unsigned long long)rep.records, msg.text);
		audit_get_head(w, &head);
		CHECK(rep.head.seq == head.seq &&
		    strcmp(rep.head.hash, head.hash) == 0);
	}

	/* A name already taken: refused, undone, the writer goes on. */
	audit_get_head(w, &head);
	CHECK(audit_read_first(path, &rec, &msg) == 0);
	CHECK(
	    audit_rotated_name(path, rec.seq, head.seq, rot, sizeof(rot)) == 0);
	audit_record_free(&rec);
	{
		FILE *f = fopen(rot, "w");
		CHECK(f != NULL && fclose(f) == 0);
		CHECK(audit_rotate(w, "request", &msg) == SIGNET_ERR_IO);
		CHECK_CONTAINS(msg.text, "already exists");
		CHECK(unlink(rot) == 0);
		CHECK(append_n(w, 1, 0) == 0);
	}
	/* The new file cannot be written (RLIMIT_FSIZE): undone, too. */
	{
		struct rlimit old, lim;

		CHECK(signal(SIGXFSZ, SIG_IGN) != SIG_ERR);
		CHECK(getrlimit(RLIMIT_FSIZE, &old) == 0);
		lim = old;
		lim.rlim_cur = 100;
		n = log_files(path, files, 64);
		CHECK(setrlimit(RLIMIT_FSIZE, &lim) == 0);
		CHECK(audit_rotate(w, "request", &msg) == SIGNET_ERR_IO);
		CHECK(setrlimit(RLIMIT_FSIZE, &old) == 0);
		CHECK_CONTAINS(msg.text, "rotation undone");
		CHECK(log_files(path, files, 64) == n);
		CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600);
		CHECK(append_n(w, 1, 0) == 0);
		CHECK(verify_all(path, &key.pub) != UINT64_MAX);
	}
	audit_get_head(w, &head);
	audit_close(w);
	w = NULL;

	/* Restart: the writer continues from the rotated-into file. */
	CHECK(audit_open(path, &key, &w, &msg) == 0);
	{
		struct audit_head h2;
		audit_get_head(w, &h2);
		CHECK(h2.seq == head.seq && strcmp(h2.hash, head.hash) == 0);
	}
	CHECK(append_n(w, 2, 0) == 0);
	CHECK(audit_rotate(w, "request", &msg) == 0);
	CHECK(append_n(w, 2, 0) == 0);
	audit_get_head(w, &head);
	audit_close(w);
	w = NULL;
	n = log_files(path, files, 64);
	CHECK(n >= 8);
	CHECK(verify_set(files, n, &key.pub, NULL, &rep, &msg) == 0);
	CHECK(rep.head.seq == head.seq && rep.rotations == n - 1);

	/* ---- the verifier's view of a set of files ---- */
	{
		char set[64][256];
		struct audit_head mid;

		/* --expect-head anywhere in the set; and alone, before it. */
		mid.empty = false;
		{
			struct audit_verify_opts o = { .audit_key = &key.pub };
			CHECK(audit_verify_file(files[1], &o, &rep, &msg) == 0);
			mid = rep.head;
		}
		CHECK(verify_set(files, n, &key.pub, &mid, &rep, &msg) == 0);
		CHECK(verify_set(files + 2, n - 2, &key.pub, &mid, &rep,
		          &msg) == SIGNET_ERR_CHAIN);
		CHECK_CONTAINS(msg.text, "before the first record given");
		mid.hash[0] = mid.hash[0] == 'a' ? 'b' : 'a';
		CHECK(verify_set(files, n, &key.pub, &mid, &rep, &msg) ==
		    SIGNET_ERR_CHAIN);
		CHECK_CONTAINS(msg.text, "not the expected head");

		/* A file left out. */
		memcpy(set, files, sizeof(set));
		memmove(set[2], set[3], (n - 3) * sizeof(set[0]));
		CHECK(verify_set(set, n - 1, &key.pub, NULL, &rep, &msg) ==
		    SIGNET_ERR_CHAIN);
		CHECK_CONTAINS(msg.text, ":1: continues ");
		CHECK_CONTAINS(msg.text, "are missing");
		CHECK(strstr(msg.text, set[2]) == msg.text);
		CHECK(rep.bad_file == 2 && rep.bad_line == 1);

		/* Two files swapped. */
		memcpy(set, files, sizeof(set));
		memcpy(set[2], files[3], sizeof(set[0]));
		memcpy(set[3], files[2], sizeof(set[0]));
		CHECK(verify_set(set, n, &key.pub, NULL, &rep, &msg) ==
		    SIGNET_ERR_CHAIN);
		CHECK_CONTAINS(msg.text, "out of order");
		CHECK(strstr(msg.text, files[3]) == msg.text);
		/* The same file twice. */
		memcpy(set, files, sizeof(set));
		memcpy(set[3], files[2], sizeof(set[0]));
		CHECK(verify_set(set, n, &key.pub, NULL, &rep, &msg) ==
		    SIGNET_ERR_CHAIN);
		CHECK_CONTAINS(msg.text, "out of order or repeated");
		/* A first file that is not one. */
		memcpy(set, files, sizeof(set));
		memcpy(set[1], files[0], sizeof(set[0]));
		CHECK(verify_set(set, 2, &key.pub, NULL, &rep, &msg) ==
		    SIGNET_ERR_CHAIN);
		CHECK_CONTAINS(msg.text, "not with an audit.rotated record");
	}

	/* A file replaced by one of another log with the same key that
	 * rotated at the same seqs: same names and seqs, other hashes. */
	{
		char opath[256], ofiles[64][256], set[64][256];
		size_t on;

		(void)snprintf(opath, sizeof(opath), "%s/other/audit.log", dir);
		CHECK(audit_open(opath, &key, &w, &msg) == 0);
		CHECK(append_n(w, 5, 0) == 0);
		CHECK(audit_rotate(w, "request", &msg) == 0);
		CHECK(append_n(w, 1, 0) == 0);
		audit_close(w);
		w = NULL;
		on = log_files(opath, ofiles, 64);
		CHECK(on == 2);
		CHECK(strcmp(strrchr(ofiles[0], '/'), strrchr(files[0], '/')) ==
		    0);
		memcpy(set, files, sizeof(set));
		memcpy(set[0], ofiles[0], sizeof(set[0]));
		CHECK(verify_set(set, n, &key.pub, NULL, &rep, &msg) ==
		    SIGNET_ERR_CHAIN);
		CHECK_CONTAINS(msg.text, "was replaced");
		CHECK(strstr(msg.text, files[1]) == msg.text);
	}

	/* ---- crashes in the middle of a rotation ---- */
	{
		uint64_t total = verify_all(path, &key.pub);
		int k;

		/* 0: killed after the rename (and before the chmod);
		 * 1: after the new file was created, empty;
		 * 2: half way through writing its audit.rotated record;
		 * 3: as 0, restarted with another key first (refused). */
		for (k = 0; k < 4; k++) {
			CHECK(crash_rename(path, &key.pub, rot, sizeof(rot)) ==
			    0);
			if (k == 1 || k == 2) {
				FILE *f = fopen(path, "w");
				CHECK(f != NULL);
				if (k == 2)
					fputs("{\"seq\":12,\"ts\":17000", f);
				CHECK(fclose(f) == 0);
				CHECK(chmod(path, 0600) == 0);
			}
			if (k == 3) {
				CHECK(audit_open(path, &other, &w, &msg) ==
				    SIGNET_ERR_BAD_SIGNATURE);
				CHECK_CONTAINS(msg.text,
				    "refusing to continue");
				CHECK(w == NULL);
			}
			CHECKF(audit_open(path, &key, &w, &msg) == 0,
			    "crash %d: %s", k, msg.text);
			audit_close(w);
			w = NULL;
			CHECK(stat(rot, &st) == 0 && (st.st_mode & 0222) == 0);
			CHECK(audit_read_first(path, &rec, &msg) == 0);
			CHECK(audit_link_parse(&rec, &link, &msg) == 0);
			CHECK(strcmp(link.reason, "recovered") == 0);
			CHECK(
			    strcmp(link.previous, strrchr(rot, '/') + 1) == 0);
			audit_record_free(&rec);
			total += k == 2 ? 2 : 1; /* + audit.torn_tail */
			CHECKF(verify_all(path, &key.pub) == total, "crash %d",
			    k);
		}
		/* The torn bytes were kept aside. */
		{
			char pat[300];
			glob_t g;

			(void)snprintf(pat, sizeof(pat), "%s.torn-*", path);
			CHECK(glob(pat, 0, NULL, &g) == 0 && g.gl_pathc == 1);
			globfree(&g);
		}
		CHECK(file_exists(path));
	}
	keys_secret_wipe(&other);
	keys_secret_wipe(&key);
}
int
main(void)
{
	char dir[] = "/tmp/signet-test-audit.XXXXXX";
	char cmd[128];

	if (sodium_init() < 0 || mkdtemp(dir) == NULL)
		return 1;
	test_parse_rows();
	test_writer(dir);
	test_pair(dir);
	test_write_sync(dir);
	test_head_parse();
	test_parse_size();
	test_rotation(dir);
	(void)snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	CHECK(system(cmd) == 0);
	return test_finish("test_audit");
}
