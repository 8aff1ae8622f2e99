/* SPDX-License-Identifier: ISC */
/* Audit records: line parsing, the writer's chain, and failure handling. */
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
#define SIG88 "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=="

struct line_row {
	const char *name;
	const char *line;
	const char *why;   /* NULL: must parse */
};

static const struct line_row rows[] = {
	{ "well formed", "{\"seq\":0,\"ts\":1,\"prev\":\"" Z64 "\",\"event\":"
	  "\"a.b\",\"actor\":\"x\",\"data\":{},\"sig\":\"" SIG88 "\"}", NULL },
	{ "no sig", "{\"seq\":0,\"ts\":1,\"prev\":\"" Z64 "\"}",
	  "does not end with its \"sig\"" },
	{ "sig not last", "{\"sig\":\"" SIG88 "\",\"seq\":0}",
	  "does not end with its \"sig\"" },
	{ "sig short", "{\"seq\":0,\"sig\":\"AAAA\"}", "not base64 of 64" },
	{ "sig in data only", "{\"seq\":0,\"data\":{\"sig\":\"" SIG88 "\"}}",
	  "does not end with its \"sig\"" },
	{ "unknown member", "{\"seq\":0,\"ts\":1,\"prev\":\"" Z64 "\","
	  "\"event\":\"a\",\"actor\":\"x\",\"data\":{},\"who\":1,\"sig\":\""
	  SIG88 "\"}", "unknown key \"who\"" },
	{ "duplicate seq", "{\"seq\":0,\"seq\":1,\"ts\":1,\"prev\":\"" Z64
	  "\",\"event\":\"a\",\"actor\":\"x\",\"data\":{},\"sig\":\"" SIG88
	  "\"}", "duplicate key \"seq\"" },
	{ "seq float", "{\"seq\":0.5,\"ts\":1,\"prev\":\"" Z64 "\",\"event\":"
	  "\"a\",\"actor\":\"x\",\"data\":{},\"sig\":\"" SIG88 "\"}",
	  "record.seq: must be an integer" },
	{ "seq negative", "{\"seq\":-1,\"ts\":1,\"prev\":\"" Z64 "\",\"event\":"
	  "\"a\",\"actor\":\"x\",\"data\":{},\"sig\":\"" SIG88 "\"}",
	  "outside" },
	{ "prev short", "{\"seq\":0,\"ts\":1,\"prev\":\"00\",\"event\":"
	  "\"a\",\"actor\":\"x\",\"data\":{},\"sig\":\"" SIG88 "\"}",
	  "64 lowercase hex" },
	{ "data array", "{\"seq\":0,\"ts\":1,\"prev\":\"" Z64 "\",\"event\":"
	  "\"a\",\"actor\":\"x\",\"data\":[],\"sig\":\"" SIG88 "\"}",
	  "record.data: must be an object" },
	{ "event empty", "{\"seq\":0,\"ts\":1,\"prev\":\"" Z64 "\",\"event\":"
	  "\"\",\"actor\":\"x\",\"data\":{},\"sig\":\"" SIG88 "\"}",
	  "record.event: must be 1.." },
	{ "actor control", "{\"seq\":0,\"ts\":1,\"prev\":\"" Z64 "\",\"event\":"
	  "\"a\",\"actor\":\"x\\u0007\",\"data\":{},\"sig\":\"" SIG88 "\"}",
	  "record.actor: must be 1.." },
	{ "missing ts", "{\"seq\":0,\"prev\":\"" Z64 "\",\"event\":"
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
		char *big = malloc(AUDIT_LINE_MAX + 10);
		CHECK(big != NULL);
		memset(big, 'x', AUDIT_LINE_MAX + 9);
		big[AUDIT_LINE_MAX + 9] = '\0';
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
		struct rlimit old, lim;
		struct stat st;

		CHECK(signal(SIGXFSZ, SIG_IGN) != SIG_ERR);
		CHECK(getrlimit(RLIMIT_FSIZE, &old) == 0);
		CHECK(stat(path, &st) == 0);
		lim = old;
		lim.rlim_cur = (rlim_t)st.st_size + 40;
		CHECK(setrlimit(RLIMIT_FSIZE, &lim) == 0);
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
	CHECK(audit_append(w, "server.started", "server", NULL, &seq, &msg) ==
	    0);
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

int
main(void)
{
	char dir[] = "/tmp/signet-test-audit.XXXXXX";
	char cmd[128];

	if (sodium_init() < 0 || mkdtemp(dir) == NULL)
		return 1;
	test_parse_rows();
	test_writer(dir);
	test_head_parse();
	(void)snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	CHECK(system(cmd) == 0);
	return test_finish("test_audit");
}
