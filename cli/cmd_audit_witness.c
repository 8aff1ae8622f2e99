/* SPDX-License-Identifier: ISC */
/*
 * signetctl audit witness: a witness run by a reviewer or a third party
 * (docs/transparency.md, "Witnesses"). Fetches a log's latest signed
 * checkpoint from the server (or reads it from a file), checks it against
 * the state it keeps (cli/witness.h) and the consistency proofs the server
 * gives, and cosigns it in the C2SP tlog-cosignature format: the new
 * state is durable before the cosignature is submitted and printed.
 * signetctl audit witness-key prints the witness's verifier key text.
 * Exit 0 cosigned, 1 refused (split view, rollback, inconsistent
 * extension, bad signature, another origin) or the server refused the
 * cosignature, 2 for usage and local files or input that cannot be read,
 * and the usual codes for a server that cannot be reached (5) or that
 * does not know the witness (3).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "cmd.h"
#include "fileio.h"
#include "keys.h"
#include "note.h"
#include "text.h"
#include "witness.h"

enum {
	OPT_SIGNING_KEY = CMD_OPT_FIRST_OWN,
	OPT_NAME,
	OPT_STATE,
	OPT_LOG_KEY,
	OPT_LOG,
	OPT_ORIGIN,
	OPT_NO_SUBMIT,
	OPT_CHECKPOINT,
	OPT_PROOF,
	OPT_OUT,
};

#define CMD_NAME "audit witness"

static void
usage_witness(FILE *f)
{
	fprintf(f,
	    "usage: signetctl audit witness --signing-key WITNESS.key --name "
	    "NAME --state DIR\n"
	    "           --log-key LOG.pub [--log server|agent/HOST] "
	    "[--origin ORIGIN]\n"
	    "           [--no-submit] [--out FILE]\n"
	    "       signetctl audit witness ... --checkpoint FILE [--proof "
	    "FILE]   (offline)\n"
	    "  fetches the log's latest signed checkpoint, checks it against "
	    "the state\n"
	    "  kept in DIR and the server's consistency proofs, cosigns it "
	    "(C2SP\n"
	    "  tlog-cosignature), keeps the new state, submits the "
	    "cosignature and\n"
	    "  prints the cosigned checkpoint. Refuses a rollback, a split "
	    "view (two\n"
	    "  roots for one size) or an inconsistent extension, keeping the "
	    "evidence\n"
	    "  in DIR/evidence/.\n"
	    "  --signing-key FILE  the witness's Ed25519 key (signetctl keygen "
	    "--raw);\n"
	    "                      --key is the TLS client key, as everywhere\n"
	    "  --name NAME         the witness's key name (e.g. "
	    "witness.example.org/w1)\n"
	    "  --state DIR         the witness's state (made mode 0700; "
	    "locked)\n"
	    "  --log-key FILE      the public key the log signs its "
	    "checkpoints with\n"
	    "  --log LOG           server (default) or agent/HOST\n"
	    "  --origin ORIGIN     the log's origin; default: the one DIR "
	    "recorded for\n"
	    "                      the log key (the first run records it)\n"
	    "  --no-submit         do not send the cosignature to the server\n"
	    "  --checkpoint FILE   witness this checkpoint instead of fetching "
	    "one;\n"
	    "                      nothing is submitted\n"
	    "  --proof FILE        the consistency proof chain for it (JSON, "
	    "as the API\n"
	    "                      serves it)\n"
	    "  --out FILE          write the cosigned checkpoint there, not "
	    "to stdout\n"
	    "exit: 0 cosigned, 1 refused, 2 usage or input that cannot be "
	    "read,\n"
	    "      3 the server does not know this witness, 5 server "
	    "unreachable\n");
}

/* How the proof is fetched, and why it could not be. */
struct proof_src {
	const struct http_opts *conn; /* NULL: offline */
	const char *log;
	const char *file; /* offline: --proof */
	int rc;           /* the exit code of a failed fetch */
};

static int
get_proof(void *arg, uint64_t old, uint64_t new_size, char **json, size_t *len,
    struct err_msg *msg)
{
	struct proof_src *s = arg;
	struct http_response resp;
	char path[512], num[24], esc[160];
	int r;

	*json = NULL;
	*len = 0;
	s->rc = CMD_USAGE;
	if (s->conn == NULL) {
		if (s->file == NULL)
			return err_set(msg, SIGNET_ERR_NOT_FOUND,
			    "the checkpoint extends the tree witnessed from "
			    "%" PRIu64 " to %" PRIu64
			    " records: give --proof FILE, the consistency "
			    "proof chain",
			    old, new_size);
		return fileio_read_alloc(s->file, WITNESS_PROOF_MAX, json, len,
		    msg);
	}
	(void)snprintf(path, sizeof(path), "/api/audit/proof/consistency");
	r = http_path_add_query(path, sizeof(path), "log", s->log);
	(void)snprintf(num, sizeof(num), "%" PRIu64, old);
	if (r == 0)
		r = http_path_add_query(path, sizeof(path), "old", num);
	(void)snprintf(num, sizeof(num), "%" PRIu64, new_size);
	if (r == 0)
		r = http_path_add_query(path, sizeof(path), "new", num);
	if (r != 0)
		return err_set(msg, r, "request path too long");
	r = http_request(s->conn, "GET", path, NULL, 0, 0, &resp, msg);
	if (r != 0) {
		s->rc = cmd_exit_of_failure(resp.failure);
		return r;
	}
	if (resp.status != 200) {
		s->rc = cmd_exit_of_status(resp.status);
		if (s->rc == CMD_FAIL)
			s->rc = CMD_USAGE;
		r = err_set(msg, SIGNET_ERR_IO,
		    "the server answered %ld to the consistency proof from "
		    "%" PRIu64 " to %" PRIu64 ": %s",
		    resp.status, old, new_size,
		    text_escape(resp.body, resp.len < 200 ? resp.len : 200, esc,
		        sizeof(esc)));
		http_response_free(&resp);
		return r;
	}
	*json = resp.body;
	*len = resp.len;
	resp.body = NULL;
	http_response_free(&resp);
	return 0;
}

/* "server" or "agent/HOST" with HOST a valid name. */
static bool
log_name_ok(const char *log)
{
	if (strcmp(log, "server") == 0)
		return true;
	return strncmp(log, "agent/", 6) == 0 && text_valid_name(log + 6);
}

/* GETs the log's checkpoint into *out; returns an exit code. */
static int
fetch_checkpoint(const struct http_opts *conn, const char *log, char **out,
    size_t *len)
{
	struct http_response resp;
	struct err_msg msg;
	char path[256];
	int r;

	*out = NULL;
	*len = 0;
	(void)snprintf(path, sizeof(path), "/api/audit/checkpoint");
	if (http_path_add_query(path, sizeof(path), "log", log) != 0)
		return CMD_USAGE;
	r = http_request(conn, "GET", path, NULL, 0, 0, &resp, &msg);
	if (r != 0) {
		fprintf(stderr, "signetctl " CMD_NAME ": %s\n", msg.text);
		return cmd_exit_of_failure(resp.failure);
	}
	if (resp.status != 200) {
		http_print_failure(CMD_NAME, &resp);
		r = cmd_exit_of_status(resp.status);
		http_response_free(&resp);
		return r;
	}
	*out = resp.body;
	*len = resp.len;
	return CMD_OK;
}

/* POSTs the cosigned note; returns an exit code. */
static int
submit(const struct http_opts *conn, const char *log, const char *note,
    size_t len)
{
	struct http_opts o = *conn;
	struct http_response resp;
	struct err_msg msg;
	char path[256];
	int r;

	(void)snprintf(path, sizeof(path), "/api/audit/cosignatures");
	if (http_path_add_query(path, sizeof(path), "log", log) != 0)
		return CMD_USAGE;
	o.content_type = "text/plain; charset=utf-8";
	r = http_request(&o, "POST", path, note, len, 0, &resp, &msg);
	if (r != 0) {
		fprintf(stderr,
		    "signetctl " CMD_NAME
		    ": the cosignature was not submitted: %s\n",
		    msg.text);
		return cmd_exit_of_failure(resp.failure);
	}
	r = cmd_exit_of_status(resp.status);
	if (r != CMD_OK)
		http_print_failure(CMD_NAME, &resp);
	else
		fprintf(stderr,
		    "signetctl " CMD_NAME ": cosignature submitted\n");
	http_response_free(&resp);
	return r;
}

static void
say_verdict(const struct witness_result *res)
{
	char eo[160];

	(void)text_escape_str(res->origin, eo, sizeof(eo));
	switch (res->verdict) {
	case WITNESS_COSIGNED_FIRST:
		fprintf(stderr,
		    "signetctl " CMD_NAME ": first contact: recorded the "
		    "origin \"%s\" for this log key; cosigned size %" PRIu64
		    "\n",
		    eo, res->new_size);
		break;
	case WITNESS_COSIGNED_SAME:
		fprintf(stderr,
		    "signetctl " CMD_NAME ": \"%s\" size %" PRIu64
		    ": the tree cosigned before; cosigned again\n",
		    eo, res->new_size);
		break;
	default:
		fprintf(stderr,
		    "signetctl " CMD_NAME ": \"%s\": consistent extension "
		    "from size %" PRIu64 " to %" PRIu64 "; cosigned\n",
		    eo, res->old_size, res->new_size);
		break;
	}
}

int
cmd_audit_witness(struct cmd_ctx *ctx, int argc, char **argv)
{
	static const struct option longopts[] = { CMD_COMMON_LONGOPTS,
		{ "signing-key", required_argument, NULL, OPT_SIGNING_KEY },
		{ "name", required_argument, NULL, OPT_NAME },
		{ "state", required_argument, NULL, OPT_STATE },
		{ "log-key", required_argument, NULL, OPT_LOG_KEY },
		{ "log", required_argument, NULL, OPT_LOG },
		{ "origin", required_argument, NULL, OPT_ORIGIN },
		{ "no-submit", no_argument, NULL, OPT_NO_SUBMIT },
		{ "checkpoint", required_argument, NULL, OPT_CHECKPOINT },
		{ "proof", required_argument, NULL, OPT_PROOF },
		{ "out", required_argument, NULL, OPT_OUT },
		{ NULL, 0, NULL, 0 } };
	const char *key_path = NULL, *name = NULL, *state = NULL;
	const char *log_key_path = NULL, *log = "server", *origin = NULL;
	const char *cp_path = NULL, *proof_path = NULL, *out_path = NULL;
	struct keys_secret key;
	struct keys_public log_key;
	struct witness *w = NULL;
	struct witness_params p;
	struct witness_result res;
	struct proof_src src;
	struct err_msg msg;
	char *note = NULL, esc[160];
	size_t len = 0, i;
	bool no_submit = false;
	int opt, r, rc = CMD_USAGE;

	memset(&key, 0, sizeof(key));
	memset(&res, 0, sizeof(res));
	memset(&src, 0, sizeof(src));
	memset(&p, 0, sizeof(p));
	err_clear(&msg);
	while ((opt = getopt_long(argc, argv, CMD_COMMON_SHORTOPTS, longopts,
	            NULL)) != -1) {
		switch (opt) {
		case 'h':
			usage_witness(stdout);
			rc = CMD_OK;
			goto out;
		case OPT_SIGNING_KEY: key_path = optarg; break;
		case OPT_NAME: name = optarg; break;
		case OPT_STATE: state = optarg; break;
		case OPT_LOG_KEY: log_key_path = optarg; break;
		case OPT_LOG: log = optarg; break;
		case OPT_ORIGIN: origin = optarg; break;
		case OPT_NO_SUBMIT: no_submit = true; break;
		case OPT_CHECKPOINT: cp_path = optarg; break;
		case OPT_PROOF: proof_path = optarg; break;
		case OPT_OUT: out_path = optarg; break;
		default:
			if (cmd_common_opt(ctx, CMD_NAME, opt, argv) == 1)
				break;
			usage_witness(stderr);
			goto out;
		}
	}
	if (cmd_too_many_args(CMD_NAME, argc, argv, optind, usage_witness))
		goto out;
	if (key_path == NULL || name == NULL || state == NULL ||
	    log_key_path == NULL) {
		fprintf(stderr,
		    "signetctl " CMD_NAME
		    ": --signing-key, --name, --state and --log-key are "
		    "required\n");
		usage_witness(stderr);
		goto out;
	}
	if (!note_name_valid(name, strlen(name))) {
		fprintf(stderr,
		    "signetctl " CMD_NAME
		    ": --name \"%s\": not a key name (no spaces, no '+')\n",
		    text_escape_str(name, esc, sizeof(esc)));
		goto out;
	}
	if (!log_name_ok(log)) {
		fprintf(stderr,
		    "signetctl " CMD_NAME
		    ": --log \"%s\": give server or agent/HOST\n",
		    text_escape_str(log, esc, sizeof(esc)));
		goto out;
	}
	if (origin != NULL &&
	    (strlen(origin) == 0 || strlen(origin) > NOTE_ORIGIN_MAX ||
	        !note_name_valid(origin, strlen(origin)))) {
		fprintf(stderr,
		    "signetctl " CMD_NAME
		    ": --origin \"%s\": not an origin (a key name of at "
		    "most %d bytes)\n",
		    text_escape_str(origin, esc, sizeof(esc)), NOTE_ORIGIN_MAX);
		goto out;
	}
	if (proof_path != NULL && cp_path == NULL) {
		fprintf(stderr,
		    "signetctl " CMD_NAME
		    ": --proof goes with --checkpoint (offline)\n");
		goto out;
	}
	r = keys_load_secret(key_path, &key, &msg);
	if (r == 0)
		r = keys_load_public(log_key_path, &log_key, &msg);
	if (r != 0) {
		fprintf(stderr, "signetctl " CMD_NAME ": %s\n", msg.text);
		goto out;
	}
	if (cp_path != NULL) {
		r = fileio_read_alloc(cp_path, NOTE_SIZE_MAX, &note, &len,
		    &msg);
		if (r != 0) {
			fprintf(stderr, "signetctl " CMD_NAME ": %s\n",
			    msg.text);
			goto out;
		}
		src.file = proof_path;
	} else {
		rc = cmd_conn_finish(ctx, CMD_NAME);
		if (rc != CMD_OK)
			goto out;
		rc = fetch_checkpoint(&ctx->conn, log, &note, &len);
		if (rc != CMD_OK)
			goto out;
		rc = CMD_USAGE;
		src.conn = &ctx->conn;
	}
	src.log = log;
	r = witness_open(state, &w, &msg);
	if (r != 0) {
		fprintf(stderr, "signetctl " CMD_NAME ": %s\n", msg.text);
		goto out;
	}
	p.name = name;
	p.key = &key;
	p.log_key = &log_key;
	p.origin = origin;
	p.log = log;
	p.now = (uint64_t)(clock_wall_ms() / 1000);
	p.get_proof = get_proof;
	p.get_proof_arg = &src;
	r = witness_run(w, &p, note, len, &res, &msg);
	if (r != 0) {
		fprintf(stderr, "signetctl " CMD_NAME ": %s\n", msg.text);
		rc = src.rc != CMD_OK && src.rc != CMD_USAGE ? src.rc :
		                                               CMD_USAGE;
		goto out;
	}
	if (!witness_verdict_cosigned(res.verdict)) {
		fprintf(stderr, "signetctl " CMD_NAME ": REFUSED: %s\n",
		    msg.text);
		for (i = 0; i < res.nevidence; i++)
			fprintf(stderr,
			    "signetctl " CMD_NAME ": evidence kept: %s\n",
			    text_escape_str(res.evidence[i], esc, sizeof(esc)));
		rc = CMD_FAIL;
		goto out;
	}
	say_verdict(&res);
	/* The state is durable now: a crash from here on loses nothing. */
	rc = CMD_OK;
	if (cp_path == NULL && !no_submit)
		rc = submit(&ctx->conn, log, res.cosigned, res.cosigned_len);
	if (out_path != NULL) {
		r = fileio_replace(out_path, res.cosigned, res.cosigned_len,
		    0644, &msg);
		if (r != 0) {
			fprintf(stderr, "signetctl " CMD_NAME ": %s\n",
			    msg.text);
			rc = CMD_USAGE;
		}
	} else if (fwrite(res.cosigned, 1, res.cosigned_len, stdout) !=
	        res.cosigned_len ||
	    fflush(stdout) != 0) {
		fprintf(stderr,
		    "signetctl " CMD_NAME
		    ": cannot write the cosigned checkpoint\n");
		rc = CMD_FAIL;
	}
out:
	witness_result_free(&res);
	witness_close(w);
	keys_secret_wipe(&key);
	free(note);
	return rc;
}

static void
usage_witness_key(FILE *f)
{
	fprintf(f,
	    "usage: signetctl audit witness-key --signing-key WITNESS.key "
	    "--name NAME\n"
	    "  prints the witness's C2SP verifier key text "
	    "(NAME+ID+base64(0x04 || key),\n"
	    "  a tlog-cosignature/v1 key): give it to the server's "
	    "configuration and to\n"
	    "  signetctl audit verify --witness-key\n");
}

int
cmd_audit_witness_key(struct cmd_ctx *ctx, int argc, char **argv)
{
	static const struct option longopts[] = { { "help", no_argument, NULL,
		                                      'h' },
		{ "signing-key", required_argument, NULL, OPT_SIGNING_KEY },
		{ "name", required_argument, NULL, OPT_NAME },
		{ NULL, 0, NULL, 0 } };
	const char *key_path = NULL, *name = NULL;
	struct keys_secret key;
	struct note_verifier v;
	struct err_msg msg;
	char text[NOTE_VKEY_MAX + 1], esc[160];
	int opt, rc = CMD_USAGE;

	memset(&key, 0, sizeof(key));
	err_clear(&msg);
	while ((opt = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'h':
			usage_witness_key(stdout);
			rc = CMD_OK;
			goto out;
		case OPT_SIGNING_KEY: key_path = optarg; break;
		case OPT_NAME: name = optarg; break;
		default:
			if (cmd_common_opt(ctx, "audit witness-key", opt,
			        argv) == 1)
				break;
			usage_witness_key(stderr);
			goto out;
		}
	}
	if (cmd_too_many_args("audit witness-key", argc, argv, optind,
	        usage_witness_key))
		goto out;
	if (key_path == NULL || name == NULL) {
		fprintf(stderr,
		    "signetctl audit witness-key: --signing-key and --name "
		    "are required\n");
		usage_witness_key(stderr);
		goto out;
	}
	if (!note_name_valid(name, strlen(name))) {
		fprintf(stderr,
		    "signetctl audit witness-key: --name \"%s\": not a key "
		    "name (no spaces, no '+')\n",
		    text_escape_str(name, esc, sizeof(esc)));
		goto out;
	}
	if (keys_load_secret(key_path, &key, &msg) != 0) {
		fprintf(stderr, "signetctl audit witness-key: %s\n", msg.text);
		goto out;
	}
	if (note_verifier_init(&v, name, NOTE_TYPE_COSIG, key.pub.pk) != 0 ||
	    note_verifier_format(&v, text, sizeof(text)) != 0) {
		fprintf(stderr,
		    "signetctl audit witness-key: cannot make the key "
		    "text\n");
		goto out;
	}
	if (printf("%s\n", text) < 0 || fflush(stdout) != 0) {
		rc = CMD_FAIL;
		goto out;
	}
	rc = CMD_OK;
out:
	keys_secret_wipe(&key);
	return rc;
}
