/* SPDX-License-Identifier: ISC */
/*
 * signetctl approvals, approval show, approve, refuse (docs/operators.md,
 * "Approvals at the server"): the requests waiting for approvals, one of
 * them as the operator signed it, and an approval or a refusal. An
 * approval is a signature over the request's exact bytes: approve shows
 * what those bytes say (decoded here, not the server's summary) and
 * signs them only when they parse and name the action asked about.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <sodium.h>

#include "cmd.h"
#include "http.h"
#include "opsign.h"
#include "request.h"
#include "text.h"

#define TIMEOUT_S 30
#define WAIT_MAX 120
#define HTTP_SLACK 30

enum {
	OPT_SIGNING_KEY = CMD_OPT_FIRST_OWN,
	OPT_PASSPHRASE_FD,
	OPT_REASON,
	OPT_WAIT,
};

static void
usage_approvals(FILE *f)
{
	fprintf(f,
	    "usage: signetctl approvals [-o table|json] [--json] "
	    "[CONNECTION OPTIONS]\n"
	    "  the operator-signed requests waiting for approvals\n"
	    "connection options: signetctl --help\n");
}

static void
usage_show(FILE *f)
{
	fprintf(f,
	    "usage: signetctl approval show ACTION-ID [-o table|json] "
	    "[--json]\n"
	    "       [CONNECTION OPTIONS]\n"
	    "  one request as its operator signed it: the exact bytes, "
	    "decoded\n"
	    "connection options: signetctl --help\n");
}

static void
usage_approve(FILE *f)
{
	fprintf(f,
	    "usage: signetctl approve ACTION-ID --signing-key FILE "
	    "[--passphrase-fd N]\n"
	    "       [--wait SECONDS] [-o table|json] [--json] "
	    "[CONNECTION OPTIONS]\n"
	    "  --signing-key FILE  your operator key ($SIGNET_SIGNING_KEY): "
	    "it signs the\n"
	    "                      request's exact bytes\n"
	    "  --passphrase-fd N   read the key's passphrase from descriptor "
	    "N\n"
	    "  --wait SECONDS      when this approval completes the "
	    "requirement, wait\n"
	    "                      this long for the result (0 to 120, "
	    "default 0)\n"
	    "connection options: signetctl --help\n");
}

static void
usage_refuse(FILE *f)
{
	fprintf(f,
	    "usage: signetctl refuse ACTION-ID --reason TEXT "
	    "[-o table|json] [--json]\n"
	    "       [CONNECTION OPTIONS]\n"
	    "  the request will never be relayed; the reason is recorded\n"
	    "connection options: signetctl --help\n");
}

/* The common option loop; own options go to own(). -1 usage, 1 help. */
static int
options(struct cmd_ctx *ctx, const char *cmd, int argc, char **argv,
    const struct option *longopts, void (*usage)(FILE *),
    int (*own)(int opt, void *arg), void *arg)
{
	int opt;

	while ((opt = getopt_long(argc, argv, CMD_COMMON_SHORTOPTS, longopts,
	            NULL)) != -1) {
		if (opt == 'h') {
			usage(stdout);
			return 1;
		}
		if (own != NULL && opt >= CMD_OPT_FIRST_OWN) {
			if (own(opt, arg) != 0)
				return -1;
			continue;
		}
		if (cmd_common_opt(ctx, cmd, opt, argv) != 1) {
			usage(stderr);
			return -1;
		}
	}
	return 0;
}

/* An action id argument, checked. */
static const char *
action_id_arg(const char *cmd, int argc, char **argv, void (*usage)(FILE *))
{
	const char *id;
	char esc[80];

	if (optind >= argc) {
		fprintf(stderr, "signetctl %s: an action id is required\n",
		    cmd);
		usage(stderr);
		return NULL;
	}
	id = argv[optind++];
	if (cmd_too_many_args(cmd, argc, argv, optind, usage))
		return NULL;
	if (!text_is_hex(id, 32)) {
		fprintf(stderr,
		    "signetctl %s: \"%s\" is not an action id (32 lowercase "
		    "hex digits)\n",
		    cmd, text_escape_str(id, esc, sizeof(esc)));
		return NULL;
	}
	return id;
}

/* GET path into *doc (a JSON object); CMD_OK or the code, said. */
static int
get_doc(struct cmd_ctx *ctx, const char *cmd, const char *path, cJSON **doc,
    bool raw)
{
	struct http_response resp;
	struct err_msg msg;
	int rc;

	memset(&resp, 0, sizeof(resp));
	err_clear(&msg);
	*doc = NULL;
	if (http_request(&ctx->conn, "GET", path, NULL, 0, TIMEOUT_S, &resp,
	        &msg) != 0) {
		fprintf(stderr, "signetctl %s: %s\n", cmd, msg.text);
		return cmd_exit_of_failure(resp.failure);
	}
	rc = cmd_exit_of_status(resp.status);
	if (resp.status < 200 || resp.status > 299)
		http_print_failure(cmd, &resp);
	else if (raw)
		rc = cmd_print_raw(&resp);
	else if (!cJSON_IsObject(*doc = cJSON_ParseWithLength(resp.body,
	                             resp.len))) {
		fprintf(stderr,
		    "signetctl %s: the server's answer is not "
		    "JSON\n",
		    cmd);
		rc = CMD_FAIL;
	}
	http_response_free(&resp);
	return rc;
}

/* "1 of dba, 1 of sre" from needs, into buf. */
static const char *
needs_text(const cJSON *a, char *buf, size_t len)
{
	const cJSON *t;
	char g[80];
	size_t off = 0;

	buf[0] = '\0';
	cJSON_ArrayForEach(t, cJSON_GetObjectItemCaseSensitive(a, "needs"))
	{
		const cJSON *grp = cJSON_GetObjectItemCaseSensitive(t, "group");
		const cJSON *cnt = cJSON_GetObjectItemCaseSensitive(t, "count");
		int n;

		if (!cJSON_IsString(grp) || !cJSON_IsNumber(cnt))
			continue;
		n = snprintf(buf + off, len - off, "%s%d of %s",
		    off > 0 ? ", " : "", cnt->valueint,
		    text_vis_str(grp->valuestring, g, sizeof(g)));
		if (n < 0 || (size_t)n >= len - off)
			break;
		off += (size_t)n;
	}
	return off > 0 ? buf : "-";
}

/* "bob, carol" from approvals, into buf. */
static const char *
approvers_text(const cJSON *a, char *buf, size_t len)
{
	const cJSON *x;
	char g[80];
	size_t off = 0;

	buf[0] = '\0';
	cJSON_ArrayForEach(x, cJSON_GetObjectItemCaseSensitive(a, "approvals"))
	{
		const cJSON *nm = cJSON_GetObjectItemCaseSensitive(x, "name");
		int n;

		if (!cJSON_IsString(nm))
			continue;
		n = snprintf(buf + off, len - off, "%s%s", off > 0 ? ", " : "",
		    text_vis_str(nm->valuestring, g, sizeof(g)));
		if (n < 0 || (size_t)n >= len - off)
			break;
		off += (size_t)n;
	}
	return off > 0 ? buf : "-";
}

int
cmd_approvals(struct cmd_ctx *ctx, int argc, char **argv)
{
	static const struct option longopts[] = { CMD_COMMON_LONGOPTS,
		{ NULL, 0, NULL, 0 } };
	static const char *const headers[] = { "ACTION", "HOST", "ACTION",
		"REQUESTED BY", "NEEDS", "APPROVED BY", "EXPIRES", "REASON" };
	static const char *const keys[] = { "action_id", "host_id", "action",
		"requested_by", NULL, NULL, "expires_at", "reason" };
	struct http_table t;
	const cJSON *list, *row;
	cJSON *doc = NULL;
	size_t r, c;
	int rc = CMD_USAGE, o;

	memset(&t, 0, sizeof(t));
	o = options(ctx, "approvals", argc, argv, longopts, usage_approvals,
	    NULL, NULL);
	if (o != 0) {
		rc = o > 0 ? CMD_OK : CMD_USAGE;
		goto out;
	}
	if (cmd_too_many_args("approvals", argc, argv, optind, usage_approvals))
		goto out;
	rc = cmd_conn_finish(ctx, "approvals");
	if (rc != CMD_OK)
		goto out;
	rc = http_get_list("approvals", &ctx->conn, "/api/approvals",
	    ctx->output == CMD_OUTPUT_JSON, "approvals", &doc, &list);
	if (rc != CMD_OK || ctx->output == CMD_OUTPUT_JSON)
		goto out;
	if (http_table_init(&t, 8, (size_t)cJSON_GetArraySize(list), 80) != 0) {
		fprintf(stderr,
		    "signetctl approvals: too many for a table; "
		    "use -o json\n");
		rc = CMD_FAIL;
		goto out;
	}
	r = 0;
	cJSON_ArrayForEach(row, list)
	{
		for (c = 0; c < 8; c++) {
			if (c == 4)
				(void)needs_text(row, http_table_cell(&t, r, c),
				    t.cell);
			else if (c == 5)
				(void)approvers_text(row,
				    http_table_cell(&t, r, c), t.cell);
			else
				(void)http_json_cell(row, keys[c],
				    http_table_cell(&t, r, c), t.cell);
		}
		r++;
	}
	http_table_print(stdout, &t, headers);
	rc = fflush(stdout) == 0 ? CMD_OK : CMD_FAIL;
out:
	http_table_free(&t);
	cJSON_Delete(doc);
	return rc;
}

/*
 * The request's exact bytes from a (an action or waiting request as the
 * API shows it), decoded and parsed strictly into *p and *raw (rawlen bytes).
 */
static int
request_of(const char *cmd, const cJSON *a, struct request_payload *p,
    uint8_t **raw, size_t *rawlen)
{
	const cJSON *req = cJSON_GetObjectItemCaseSensitive(a, "request");
	const cJSON *pl = cJSON_GetObjectItemCaseSensitive(req, "payload");
	struct err_msg msg;

	err_clear(&msg);
	*raw = NULL;
	if (!cJSON_IsString(pl) ||
	    text_b64_decode(pl->valuestring, strlen(pl->valuestring),
	        REQUEST_PAYLOAD_MAX, raw, rawlen) != 0) {
		fprintf(stderr,
		    "signetctl %s: the server shows no signed "
		    "request for this action\n",
		    cmd);
		return CMD_FAIL;
	}
	if (request_decode(*raw, *rawlen, p, &msg) != 0) {
		fprintf(stderr,
		    "signetctl %s: the request's bytes are not a "
		    "valid request: %s\n",
		    cmd, msg.text);
		free(*raw);
		*raw = NULL;
		return CMD_FAIL;
	}
	return CMD_OK;
}

/* What the signed bytes say, one field a line, terminal-safe. */
static void
print_request(FILE *f, const struct request_payload *p, const cJSON *a)
{
	char esc[ENVELOPE_REASON_BYTES * 4 + 8], t[64], buf[600];

	fprintf(f, "action_id:     %s\n", p->action_id);
	fprintf(f, "host:          %s\n", p->host_id);
	fprintf(f, "container:     %s\n", p->container_id);
	fprintf(f, "action:        %s\n", envelope_action_name(p->action));
	fprintf(f, "requested_by:  %s\n", p->requested_by);
	fprintf(f, "reason:        %s\n",
	    text_vis_str(p->reason, esc, sizeof(esc)));
	(void)snprintf(t, sizeof(t), "%" PRId64, p->expires_at);
	fprintf(f, "expires_at:    %s (unix ms)\n", t);
	fprintf(f, "roster:        version %" PRId64 "\n", p->roster_version);
	fprintf(f, "status:        %s\n",
	    http_json_cell(a, "status", buf, sizeof(buf)));
	fprintf(f, "needs:         %s\n", needs_text(a, buf, sizeof(buf)));
	fprintf(f, "approved_by:   %s\n", approvers_text(a, buf, sizeof(buf)));
}

int
cmd_approval_show(struct cmd_ctx *ctx, int argc, char **argv)
{
	static const struct option longopts[] = { CMD_COMMON_LONGOPTS,
		{ NULL, 0, NULL, 0 } };
	struct request_payload *p = NULL;
	const char *id;
	uint8_t *raw = NULL;
	size_t rawlen = 0;
	char path[128];
	cJSON *doc = NULL;
	int rc = CMD_USAGE, o;

	o = options(ctx, "approval show", argc, argv, longopts, usage_show,
	    NULL, NULL);
	if (o != 0) {
		rc = o > 0 ? CMD_OK : CMD_USAGE;
		goto out;
	}
	id = action_id_arg("approval show", argc, argv, usage_show);
	if (id == NULL)
		goto out;
	rc = cmd_conn_finish(ctx, "approval show");
	if (rc != CMD_OK)
		goto out;
	(void)snprintf(path, sizeof(path), "/api/actions/%s", id);
	rc = get_doc(ctx, "approval show", path, &doc,
	    ctx->output == CMD_OUTPUT_JSON);
	if (rc != CMD_OK || ctx->output == CMD_OUTPUT_JSON)
		goto out;
	p = calloc(1, sizeof(*p));
	if (p == NULL) {
		rc = CMD_FAIL;
		goto out;
	}
	rc = request_of("approval show", doc, p, &raw, &rawlen);
	if (rc != CMD_OK)
		goto out;
	print_request(stdout, p, doc);
	rc = fflush(stdout) == 0 ? CMD_OK : CMD_FAIL;
out:
	free(p);
	free(raw);
	cJSON_Delete(doc);
	return rc;
}

struct approve_opts {
	const char *key_path;
	int passfd;
	const char *reason;
	int64_t wait;
	bool bad;
};

static int
own_opt(int opt, void *arg)
{
	struct approve_opts *a = arg;
	char esc[64];

	switch (opt) {
	case OPT_SIGNING_KEY: a->key_path = optarg; return 0;
	case OPT_REASON: a->reason = optarg; return 0;
	case OPT_PASSPHRASE_FD:
		if (opsign_parse_fd(optarg, &a->passfd))
			return 0;
		fprintf(stderr,
		    "signetctl: --passphrase-fd \"%s\": not an "
		    "open descriptor\n",
		    text_escape_str(optarg, esc, sizeof(esc)));
		return -1;
	case OPT_WAIT:
		if (text_to_int64(optarg, 0, WAIT_MAX, &a->wait) == 0)
			return 0;
		fprintf(stderr,
		    "signetctl: --wait \"%s\": give 0 to %d "
		    "seconds\n",
		    text_escape_str(optarg, esc, sizeof(esc)), WAIT_MAX);
		return -1;
	}
	return -1;
}

/* POST body to path; reports the answer as an action. */
static int
post_report(struct cmd_ctx *ctx, const char *cmd, const char *path,
    const char *body, long timeout_s)
{
	struct http_response resp;
	struct err_msg msg;
	int rc;

	memset(&resp, 0, sizeof(resp));
	err_clear(&msg);
	if (http_request(&ctx->conn, "POST", path, body, strlen(body),
	        timeout_s, &resp, &msg) != 0) {
		fprintf(stderr, "signetctl %s: %s\n", cmd, msg.text);
		return cmd_exit_of_failure(resp.failure);
	}
	rc = cmd_report_action(cmd, &resp, ctx->output);
	http_response_free(&resp);
	return rc;
}

int
cmd_approve(struct cmd_ctx *ctx, int argc, char **argv)
{
	static const struct option longopts[] = { CMD_COMMON_LONGOPTS,
		{ "signing-key", required_argument, NULL, OPT_SIGNING_KEY },
		{ "passphrase-fd", required_argument, NULL, OPT_PASSPHRASE_FD },
		{ "wait", required_argument, NULL, OPT_WAIT },
		{ NULL, 0, NULL, 0 } };
	struct approve_opts ao = { getenv("SIGNET_SIGNING_KEY"), -1, NULL, 0,
		false };
	struct request_payload *p = NULL;
	struct request_approval ap;
	struct keys_secret *key = NULL;
	struct err_msg msg;
	const char *id;
	uint8_t *raw = NULL;
	size_t rawlen = 0;
	char path[160], num[24], *body = NULL;
	cJSON *doc = NULL, *out = NULL, *o;
	int rc = CMD_USAGE, opt;

	err_clear(&msg);
	opt = options(ctx, "approve", argc, argv, longopts, usage_approve,
	    own_opt, &ao);
	if (opt != 0) {
		rc = opt > 0 ? CMD_OK : CMD_USAGE;
		goto out;
	}
	id = action_id_arg("approve", argc, argv, usage_approve);
	if (id == NULL)
		goto out;
	if (ao.key_path == NULL || ao.key_path[0] == '\0') {
		fprintf(stderr,
		    "signetctl approve: --signing-key is required: "
		    "an approval is your signature\n");
		goto out;
	}
	rc = cmd_conn_finish(ctx, "approve");
	if (rc != CMD_OK)
		goto out;
	rc = CMD_FAIL;
	key = sodium_malloc(sizeof(*key));
	p = calloc(1, sizeof(*p));
	if (key == NULL || p == NULL) {
		fprintf(stderr, "signetctl approve: out of memory\n");
		goto out;
	}
	if (opsign_load(ao.key_path, ao.passfd, key, &msg) != 0) {
		fprintf(stderr, "signetctl approve: signing key: %s\n",
		    msg.text);
		rc = CMD_USAGE;
		goto out;
	}
	(void)snprintf(path, sizeof(path), "/api/actions/%s", id);
	rc = get_doc(ctx, "approve", path, &doc, false);
	if (rc != CMD_OK)
		goto out;
	rc = request_of("approve", doc, p, &raw, &rawlen);
	if (rc != CMD_OK)
		goto out;
	rc = CMD_FAIL;
	/* The bytes must be the request asked about, not another one. */
	if (strcmp(p->action_id, id) != 0) {
		fprintf(stderr,
		    "signetctl approve: the server showed a request "
		    "for action %s, not %s: not signed\n",
		    p->action_id, id);
		goto out;
	}
	fprintf(stderr,
	    "signetctl approve: you approve, by signing these "
	    "exact bytes:\n");
	print_request(stderr, p, doc);
	if (request_approve(raw, rawlen, key, &ap) != 0 ||
	    (out = cJSON_CreateObject()) == NULL ||
	    (o = cJSON_AddObjectToObject(out, "approval")) == NULL ||
	    cJSON_AddStringToObject(o, "key_id", ap.key_id) == NULL ||
	    cJSON_AddStringToObject(o, "sig", ap.sig_b64) == NULL ||
	    (body = cJSON_PrintUnformatted(out)) == NULL) {
		fprintf(stderr, "signetctl approve: cannot sign\n");
		goto out;
	}
	(void)snprintf(num, sizeof(num), "%" PRId64, ao.wait);
	(void)snprintf(path, sizeof(path), "/api/actions/%s/approve", id);
	if (http_path_add_query(path, sizeof(path), "wait", num) != 0)
		goto out;
	rc = post_report(ctx, "approve", path, body,
	    (long)ao.wait + HTTP_SLACK);
out:
	if (key != NULL)
		sodium_free(key);
	free(p);
	free(raw);
	free(body);
	cJSON_Delete(doc);
	cJSON_Delete(out);
	return rc;
}

int
cmd_refuse(struct cmd_ctx *ctx, int argc, char **argv)
{
	static const struct option longopts[] = { CMD_COMMON_LONGOPTS,
		{ "reason", required_argument, NULL, OPT_REASON },
		{ NULL, 0, NULL, 0 } };
	struct approve_opts ao = { NULL, -1, NULL, 0, false };
	const char *id;
	char path[160], *body = NULL;
	cJSON *out = NULL;
	int rc = CMD_USAGE, opt;

	opt = options(ctx, "refuse", argc, argv, longopts, usage_refuse,
	    own_opt, &ao);
	if (opt != 0) {
		rc = opt > 0 ? CMD_OK : CMD_USAGE;
		goto out;
	}
	id = action_id_arg("refuse", argc, argv, usage_refuse);
	if (id == NULL)
		goto out;
	if (ao.reason == NULL) {
		fprintf(stderr, "signetctl refuse: --reason is required\n");
		usage_refuse(stderr);
		goto out;
	}
	rc = cmd_conn_finish(ctx, "refuse");
	if (rc != CMD_OK)
		goto out;
	rc = CMD_FAIL;
	if ((out = cJSON_CreateObject()) == NULL ||
	    cJSON_AddStringToObject(out, "reason", ao.reason) == NULL ||
	    (body = cJSON_PrintUnformatted(out)) == NULL)
		goto out;
	(void)snprintf(path, sizeof(path), "/api/actions/%s/refuse", id);
	rc = post_report(ctx, "refuse", path, body, TIMEOUT_S);
out:
	free(body);
	cJSON_Delete(out);
	return rc;
}
