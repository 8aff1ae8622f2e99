/* SPDX-License-Identifier: ISC */
/*
 * signetctl audit reconcile: verifies the server's audit log and each
 * agent's, joins every action across them by action_id and names each
 * mismatch (common/reconcile.h; docs/audit.md, "Reconciling"). Reports
 * as text (a summary, then one line per action, problems first), JSON
 * (docs/schema/reconcile.schema.json) or a self-contained HTML page.
 * Exit 0 when nothing is wrong, 1 for problems or a log that does not
 * verify, 2 for usage and for keys or files that cannot be read.
 */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <sodium.h>

#include "audit.h"
#include "audit_request.h"
#include "clock.h"
#include "cmd.h"
#include "jsonx.h"
#include "keys.h"
#include "reconcile.h"
#include "witness.h"
#include "note.h"
#include "fileio.h"
#include "reconcile_html.h"
#include "roster.h"
#include "text.h"

#define ME "signetctl audit reconcile"

enum {
	OPT_SERVER = CMD_OPT_FIRST_OWN,
	OPT_AGENT,
	OPT_KEY,
	OPT_ACTION_KEY,
	OPT_AGENT_KEYS,
	OPT_ROSTER,
	OPT_ROSTER_KEYS,
	OPT_ROSTER_THRESHOLD,
	OPT_OUT,
	OPT_JSON,
	OPT_CHECKPOINT,
	OPT_WITNESS_KEY,
};

enum out_format { OUT_TEXT, OUT_JSON, OUT_HTML };

static void
usage_reconcile(FILE *f)
{
	fprintf(f,
	    "usage: signetctl audit reconcile --server FILE... --agent "
	    "FILE|DIR... [--agent ...]\n"
	    "         --key SERVER_AUDIT.pub --agent-keys DIR --action-key "
	    "ACTION.pub\n"
	    "         [--roster ROSTER.json... --roster-keys ROSTER.pub "
	    "[--roster-threshold K]]\n"
	    "         [--checkpoint FILE... [--witness-key VKEY-FILE...]]\n"
	    "         [-o text|json|html] [--out FILE]\n"
	    "  --server FILE...   the server's log files, oldest first, or "
	    "its directory;\n"
	    "                     repeat it for each replica of a cluster\n"
	    "  --key PUB          the server's audit key; repeat it if "
	    "replicas have their own\n"
	    "  --agent FILE...    one host's log files, oldest first, or the "
	    "directory\n"
	    "                     holding them (audit.log.*-* and audit.log); "
	    "repeat\n"
	    "                     it for each host\n"
	    "  --agent-keys DIR   DIR/HOST-ID.pub: each host's result key\n"
	    "  --checkpoint FILE  a signed checkpoint of one of the logs (its "
	    "origin\n"
	    "                     says which): it must hold over that log; "
	    "repeat it\n"
	    "  --witness-key FILE a witness's verifier key: which checkpoints "
	    "it cosigned\n"
	    "  -o, --output text|json|html\n"
	    "                     the report (default text); --json is -o "
	    "json\n"
	    "  --out FILE         write the report to FILE, not stdout\n"
	    "exit: 0 nothing wrong, 1 problems or a log that does not verify, "
	    "2 usage\n");
}

/* One --server or --agent group as it grows. */
struct group {
	enum reconcile_role role;
	char **files; /* owned strings */
	size_t n, cap;
};

static int
group_add(struct group *g, const char *file)
{
	char **grown;

	if (g->n == g->cap) {
		size_t cap = g->cap == 0 ? 8 : g->cap * 2;

		if (cap > AUDIT_CHAIN_FILES_MAX)
			return SIGNET_ERR_TOO_LARGE;
		grown = realloc(g->files, cap * sizeof(*grown));
		if (grown == NULL)
			return SIGNET_ERR_ALLOC;
		g->files = grown;
		g->cap = cap;
	}
	g->files[g->n] = strdup(file);
	if (g->files[g->n] == NULL)
		return SIGNET_ERR_ALLOC;
	g->n++;
	return 0;
}

static int
name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/*
 * The files of one host's log in a directory: audit.log.FIRST-LAST in
 * name (chain) order, then audit.log.
 */
static int
group_add_dir(struct group *g, const char *dir)
{
	struct group tmp = { 0, NULL, 0, 0 };
	char path[PATH_MAX];
	struct dirent *de;
	struct stat st;
	uint64_t first, last;
	DIR *d = opendir(dir);
	size_t i;
	int n, r = 0;

	if (d == NULL)
		return SIGNET_ERR_IO;
	while (r == 0 && (de = readdir(d)) != NULL)
		if (audit_rotated_name_match("audit.log", de->d_name, &first,
		        &last))
			r = group_add(&tmp, de->d_name);
	(void)closedir(d);
	if (r == 0 && tmp.n > 0)
		qsort(tmp.files, tmp.n, sizeof(*tmp.files), name_cmp);
	n = snprintf(path, sizeof(path), "%s/audit.log", dir);
	if (r == 0 && (n < 0 || (size_t)n >= sizeof(path)))
		r = SIGNET_ERR_TOO_LARGE;
	for (i = 0; r == 0 && i < tmp.n; i++) {
		n = snprintf(path, sizeof(path), "%s/%s", dir, tmp.files[i]);
		r = n < 0 || (size_t)n >= sizeof(path) ? SIGNET_ERR_TOO_LARGE :
		                                         group_add(g, path);
	}
	if (r == 0) {
		(void)snprintf(path, sizeof(path), "%s/audit.log", dir);
		if (stat(path, &st) == 0)
			r = group_add(g, path);
		else if (tmp.n == 0)
			r = SIGNET_ERR_NOT_FOUND;
	}
	for (i = 0; i < tmp.n; i++)
		free(tmp.files[i]);
	free(tmp.files);
	return r;
}

/* Writes the JSON document, streaming the actions. */
static int
write_json(FILE *out, struct reconcile *rc, const cJSON *summary)
{
	char *text = jsonx_print(summary);
	cJSON *a = NULL;
	bool first = true;
	int r;

	if (text == NULL)
		return SIGNET_ERR_ALLOC;
	r = fprintf(out, "{\"schema\":\"%s\",\"summary\":%s,\"actions\":[",
	        RECONCILE_SCHEMA, text) < 0 ?
	    SIGNET_ERR_IO :
	    0;
	free(text);
	while (r == 0 && (r = reconcile_next(rc, &a)) == 1) {
		text = jsonx_print(a);
		cJSON_Delete(a);
		if (text == NULL)
			return SIGNET_ERR_ALLOC;
		r = fprintf(out, "%s%s", first ? "" : ",", text) < 0 ?
		    SIGNET_ERR_IO :
		    0;
		free(text);
		first = false;
	}
	if (r == 0 && fprintf(out, "]}\n") < 0)
		r = SIGNET_ERR_IO;
	return r;
}

/*
 * "checkpoint ORIGIN SIZE ROOT: holds, witnessed by NAME (time T)" or
 * "NOT witnessed", or "FAILED: checkpoint FILE: why", per checkpoint.
 */
static void
print_checkpoints(FILE *out, const cJSON *cps)
{
	char esc[ERR_MSG_MAX * 4];
	const cJSON *c, *w;
	size_t n;

	cJSON_ArrayForEach(c, cps)
	{
		const cJSON *why = cJSON_GetObjectItemCaseSensitive(c, "why");

		if (why != NULL) {
			fprintf(out, "FAILED: checkpoint %s: %s\n",
			    text_escape_str(
			        cJSON_GetStringValue(
			            cJSON_GetObjectItemCaseSensitive(c,
			                "file")),
			        esc, sizeof(esc) / 2),
			    text_escape_str(cJSON_GetStringValue(why),
			        esc + sizeof(esc) / 2, sizeof(esc) / 2));
			continue;
		}
		fprintf(out, "checkpoint %s %.0f %s: holds",
		    text_escape_str(
		        cJSON_GetStringValue(
		            cJSON_GetObjectItemCaseSensitive(c, "origin")),
		        esc, sizeof(esc)),
		    cJSON_GetNumberValue(
		        cJSON_GetObjectItemCaseSensitive(c, "size")),
		    cJSON_GetStringValue(
		        cJSON_GetObjectItemCaseSensitive(c, "root")));
		n = 0;
		cJSON_ArrayForEach(w,
		    cJSON_GetObjectItemCaseSensitive(c, "witnessed_by"))
		{
			fprintf(out, "%s %s (time %.0f)",
			    n++ == 0 ? ", witnessed by" : ",",
			    text_escape_str(
			        cJSON_GetStringValue(
			            cJSON_GetObjectItemCaseSensitive(w,
			                "name")),
			        esc, sizeof(esc)),
			    cJSON_GetNumberValue(
			        cJSON_GetObjectItemCaseSensitive(w, "time")));
		}
		fprintf(out, "%s\n", n == 0 ? ", NOT witnessed" : "");
	}
}

/* The summary in lines, then one line per action. */
static int
write_text(FILE *out, struct reconcile *rc, const cJSON *s)
{
	const cJSON *e, *logs;
	cJSON *a = NULL;
	char esc[ERR_MSG_MAX * 4], *line;
	int r = 0;

	logs = cJSON_GetObjectItemCaseSensitive(s, "logs");
	cJSON_ArrayForEach(e, logs)
	{
		const cJSON *files = cJSON_GetObjectItemCaseSensitive(e,
		    "files");
		const cJSON *valid = cJSON_GetObjectItemCaseSensitive(e,
		    "valid");
		const char *err = cJSON_GetStringValue(
		    cJSON_GetObjectItemCaseSensitive(e, "error"));
		const char *host = cJSON_GetStringValue(
		    cJSON_GetObjectItemCaseSensitive(e, "host_id"));
		const char *head = cJSON_GetStringValue(
		    cJSON_GetObjectItemCaseSensitive(e, "head"));
		const char *rp = cJSON_GetStringValue(
		    cJSON_GetObjectItemCaseSensitive(e, "replica"));

		if (host == NULL && rp != NULL)
			host = rp; /* a cluster replica's log */
		fprintf(out,
		    "log %s%s%s: %d file(s), %.0f records, head %s: %s%s\n",
		    cJSON_GetStringValue(
		        cJSON_GetObjectItemCaseSensitive(e, "role")),
		    host != NULL ? " " : "", host != NULL ? host : "",
		    cJSON_GetArraySize(files),
		    cJSON_GetNumberValue(
		        cJSON_GetObjectItemCaseSensitive(e, "records")),
		    head != NULL ? head : "none",
		    cJSON_IsTrue(valid) ? "verified" : "log_invalid: ",
		    err != NULL ? text_escape_str(err, esc, sizeof(esc)) : "");
	}
	fprintf(out, "actions: %.0f, ok: %.0f, with problems: %.0f\n",
	    cJSON_GetNumberValue(
	        cJSON_GetObjectItemCaseSensitive(s, "actions")),
	    cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(s, "ok")),
	    cJSON_GetNumberValue(
	        cJSON_GetObjectItemCaseSensitive(s, "with_problems")));
	cJSON_ArrayForEach(e,
	    cJSON_GetObjectItemCaseSensitive(s, "problems_by_kind"))
	{
		fprintf(out, "problem %s: %.0f\n", e->string,
		    cJSON_GetNumberValue(e));
	}
	cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(s, "problems"))
	{
		const char *d = cJSON_GetStringValue(
		    cJSON_GetObjectItemCaseSensitive(e, "detail"));

		fprintf(out, "PROBLEM %s: %s\n",
		    cJSON_GetStringValue(
		        cJSON_GetObjectItemCaseSensitive(e, "kind")),
		    d != NULL ? text_escape_str(d, esc, sizeof(esc)) : "");
	}
	cJSON_ArrayForEach(e,
	    cJSON_GetObjectItemCaseSensitive(s, "hosts_missing"))
	{
		fprintf(out,
		    "host_log_missing %s: its actions were not checked "
		    "against its log (give --agent)\n",
		    text_escape_str(e->valuestring, esc, sizeof(esc)));
	}
	print_checkpoints(out,
	    cJSON_GetObjectItemCaseSensitive(s, "checkpoints"));
	while ((r = reconcile_next(rc, &a)) == 1) {
		line = reconcile_action_text(a);
		cJSON_Delete(a);
		if (line == NULL)
			return SIGNET_ERR_ALLOC;
		r = fprintf(out, "%s\n", line) < 0 ? SIGNET_ERR_IO : 0;
		free(line);
		if (r != 0)
			return r;
	}
	return r;
}

/* The HTML page: the renderer of cli/reconcile_html.h. */
static int
write_html(FILE *out, struct reconcile *rc, const cJSON *summary)
{
	cJSON *a = NULL;
	int r;

	r = reconcile_html_begin(out, summary);
	while (r == 0 && (r = reconcile_next(rc, &a)) == 1) {
		r = reconcile_html_action(out, a);
		cJSON_Delete(a);
	}
	if (r == 0)
		r = reconcile_html_end(out);
	return r;
}

/* The origin of the checkpoint note in file path, into origin. */
static int
checkpoint_origin(const char *path, char origin[static NOTE_ORIGIN_MAX + 1],
    struct err_msg *msg)
{
	struct note_checkpoint cp;
	struct note *n = NULL;
	char *buf = NULL;
	size_t len = 0;
	int r;

	r = fileio_read_alloc(path, NOTE_SIZE_MAX, &buf, &len, msg);
	if (r == 0)
		r = note_parse(buf, len, &n, msg);
	if (r == 0)
		r = note_checkpoint_parse(n->buf, n->text_len, &cp, msg);
	if (r == 0)
		memcpy(origin, cp.origin, sizeof(cp.origin));
	else
		r = err_set(msg, r, "%s: %s", path, msg->text);
	note_free(n);
	free(buf);
	return r;
}

/*
 * Checks each checkpoint against the log its origin names
 * (signet/server/... the server's, signet/agent/HOST-ID that host's, as
 * the summary lists them) and adds "checkpoints" to summary, and a
 * checkpoint_mismatch problem for each that does not hold. *failed
 * counts those. Returns 0, or an error for input that cannot be used
 * (msg says which).
 */
static int
check_checkpoints(cJSON *summary, const char *const *cps, size_t ncps,
    const struct note_verifier *wit, size_t nwit,
    const struct keys_public *server_keys, size_t nkeys, size_t nservers,
    const char *keys_dir, size_t *failed, struct err_msg *msg)
{
	struct witness_cp_report rep;
	char origin[NOTE_ORIGIN_MAX + 1], root[64], path[PATH_MAX];
	const char **files = NULL;
	const cJSON *lg, *fl;
	cJSON *arr, *o, *wb, *w, *problems, *kinds;
	struct keys_public key;
	size_t i, j, nfiles;
	int r;

	*failed = 0;
	arr = cJSON_AddArrayToObject(summary, "checkpoints");
	problems = cJSON_GetObjectItemCaseSensitive(summary, "problems");
	kinds = cJSON_GetObjectItemCaseSensitive(summary, "problems_by_kind");
	if (arr == NULL || problems == NULL || kinds == NULL)
		return err_set(msg, SIGNET_ERR_ALLOC, "out of memory");
	for (i = 0; i < ncps; i++) {
		const char *host = NULL;
		bool server;

		r = checkpoint_origin(cps[i], origin, msg);
		if (r != 0)
			return r;
		server = strncmp(origin, "signet/server/", 14) == 0;
		if (!server && strncmp(origin, "signet/agent/", 13) == 0)
			host = origin + 13;
		if (!server && (host == NULL || !text_valid_name(host)))
			return err_set(msg, SIGNET_ERR_FORMAT,
			    "%s: origin \"%s\" is not signet/server/NAME or "
			    "signet/agent/HOST-ID",
			    cps[i], origin);
		nfiles = 0;
		cJSON_ArrayForEach(lg,
		    cJSON_GetObjectItemCaseSensitive(summary, "logs"))
		{
			const char *role = cJSON_GetStringValue(
			    cJSON_GetObjectItemCaseSensitive(lg, "role"));
			const char *h = cJSON_GetStringValue(
			    cJSON_GetObjectItemCaseSensitive(lg, "host_id"));
			const char *rp = cJSON_GetStringValue(
			    cJSON_GetObjectItemCaseSensitive(lg, "replica"));
			size_t ol = strlen(origin), rl;

			/*
			 * Several replicas: signet/server/CN/REPLICA names
			 * the log of that replica.
			 */
			if (server && nservers > 1 &&
			    (rp == NULL || (rl = strlen(rp)) + 1 > ol ||
			        origin[ol - rl - 1] != '/' ||
			        strcmp(origin + ol - rl, rp) != 0))
				continue;
			if (role == NULL ||
			    (server ? strcmp(role, "server") != 0 :
			              (strcmp(role, "agent") != 0 ||
			                  h == NULL || strcmp(h, host) != 0)))
				continue;
			free(files);
			files = calloc(
			    (size_t)cJSON_GetArraySize(
			        cJSON_GetObjectItemCaseSensitive(lg, "files")) +
			        1,
			    sizeof(*files));
			if (files == NULL)
				return err_set(msg, SIGNET_ERR_ALLOC,
				    "out of memory");
			cJSON_ArrayForEach(fl,
			    cJSON_GetObjectItemCaseSensitive(lg, "files"))
			{
				if (cJSON_IsString(fl))
					files[nfiles++] = fl->valuestring;
			}
			break;
		}
		if (nfiles == 0) {
			free(files);
			return err_set(msg, SIGNET_ERR_INVALID_ARG,
			    "%s: no log given for its origin %s", cps[i],
			    origin);
		}
		if (server) {
			key = server_keys[0];
			r = 0;
		} else {
			(void)snprintf(path, sizeof(path), "%s/%s.pub",
			    keys_dir, host);
			r = keys_load_public(path, &key, msg);
		}
		memset(&rep, 0, sizeof(rep));
		if (r == 0)
			r = witness_check_checkpoints(&cps[i], 1, &key, wit,
			    nwit, files, nfiles, &rep, msg);
		/* Replicas with keys of their own: the first that holds. */
		for (j = 1; server && r == 0 && rep.failed && j < nkeys; j++) {
			memset(&rep, 0, sizeof(rep));
			r = witness_check_checkpoints(&cps[i], 1,
			    &server_keys[j], wit, nwit, files, nfiles, &rep,
			    msg);
		}
		free(files);
		files = NULL;
		if (r != 0)
			return r;
		o = cJSON_CreateObject();
		if (o == NULL || !cJSON_AddItemToArray(arr, o)) {
			cJSON_Delete(o);
			return err_set(msg, SIGNET_ERR_ALLOC, "out of memory");
		}
		sodium_bin2base64(root, sizeof(root), rep.cp.root,
		    sizeof(rep.cp.root), sodium_base64_VARIANT_ORIGINAL);
		if (cJSON_AddStringToObject(o, "file", cps[i]) == NULL ||
		    cJSON_AddStringToObject(o, "origin", origin) == NULL ||
		    cJSON_AddNumberToObject(o, "size", (double)rep.cp.size) ==
		        NULL ||
		    cJSON_AddStringToObject(o, "root", root) == NULL ||
		    cJSON_AddBoolToObject(o, "holds", rep.holds) == NULL ||
		    (wb = cJSON_AddArrayToObject(o, "witnessed_by")) == NULL)
			return err_set(msg, SIGNET_ERR_ALLOC, "out of memory");
		for (j = 0; j < rep.nwitnessed; j++) {
			w = cJSON_CreateObject();
			if (w == NULL || !cJSON_AddItemToArray(wb, w) ||
			    cJSON_AddStringToObject(w, "name",
			        rep.witnessed[j].name) == NULL ||
			    cJSON_AddNumberToObject(w, "time",
			        (double)rep.witnessed[j].time) == NULL)
				return err_set(msg, SIGNET_ERR_ALLOC,
				    "out of memory");
		}
		if (!rep.failed)
			continue;
		(*failed)++;
		if (cJSON_AddStringToObject(o, "why", rep.why) == NULL)
			return err_set(msg, SIGNET_ERR_ALLOC, "out of memory");
		w = cJSON_CreateObject();
		if (w == NULL || !cJSON_AddItemToArray(problems, w) ||
		    cJSON_AddStringToObject(w, "kind", "checkpoint_mismatch") ==
		        NULL ||
		    cJSON_AddStringToObject(w, "detail", rep.why) == NULL)
			return err_set(msg, SIGNET_ERR_ALLOC, "out of memory");
		w = cJSON_GetObjectItemCaseSensitive(kinds,
		    "checkpoint_mismatch");
		if (w != NULL)
			cJSON_SetNumberValue(w, cJSON_GetNumberValue(w) + 1);
		else if (cJSON_AddNumberToObject(kinds, "checkpoint_mismatch",
		             1) == NULL)
			return err_set(msg, SIGNET_ERR_ALLOC, "out of memory");
	}
	return 0;
}

int
cmd_audit_reconcile(struct cmd_ctx *ctx, int argc, char **argv)
{
	static const struct option longopts[] = { { "server", required_argument,
		                                      NULL, OPT_SERVER },
		{ "agent", required_argument, NULL, OPT_AGENT },
		{ "key", required_argument, NULL, OPT_KEY },
		{ "action-key", required_argument, NULL, OPT_ACTION_KEY },
		{ "agent-keys", required_argument, NULL, OPT_AGENT_KEYS },
		{ "roster", required_argument, NULL, OPT_ROSTER },
		{ "roster-keys", required_argument, NULL, OPT_ROSTER_KEYS },
		{ "roster-threshold", required_argument, NULL,
		    OPT_ROSTER_THRESHOLD },
		{ "output", required_argument, NULL, 'o' },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "out", required_argument, NULL, OPT_OUT },
		{ "checkpoint", required_argument, NULL, OPT_CHECKPOINT },
		{ "witness-key", required_argument, NULL, OPT_WITNESS_KEY },
		{ "help", no_argument, NULL, 'h' }, { NULL, 0, NULL, 0 } };
	const char *key_path = NULL, *action_path = NULL, *keys_dir = NULL;
	const char *key_paths[RECONCILE_SERVER_KEYS_MAX];
	struct keys_public server_keys[RECONCILE_SERVER_KEYS_MAX];
	size_t nkeys = 0;
	const char *roster_keys_path = NULL, *threshold_text = NULL;
	const char *out_path = NULL;
	const char **rosters = NULL, **cps = NULL;
	struct note_verifier wit[WITNESS_KEYS_MAX];
	cJSON *summary = NULL;
	size_t ncps = 0, nwit = 0, cp_failed = 0;
	struct group *groups = NULL, *cur = NULL;
	struct reconcile_log *logs = NULL;
	struct audit_request_rosters *rs = NULL;
	struct reconcile_opts ro;
	struct reconcile *rc = NULL;
	struct keys_public server_key;
	struct keys_pubset action_keys, roster_keys;
	struct err_msg msg;
	enum out_format fmt = OUT_TEXT;
	int64_t threshold = 1;
	size_t ngroups = 0, nrosters = 0, i, k;
	bool in_rosters = false;
	size_t nservers = 0;
	char esc[PATH_MAX];
	FILE *out = stdout;
	struct stat st;
	int opt, r, rc_exit = CMD_USAGE;
	long cpus;

	(void)ctx;
	err_clear(&msg);
	memset(&ro, 0, sizeof(ro));
	groups = calloc((size_t)argc + 1, sizeof(*groups));
	rosters = calloc((size_t)argc + 1, sizeof(*rosters));
	cps = calloc((size_t)argc + 1, sizeof(*cps));
	if (groups == NULL || rosters == NULL || cps == NULL) {
		fprintf(stderr, ME ": out of memory\n");
		goto out;
	}
	/* "-": the files after --server or --agent, in their order. */
	while ((opt = getopt_long(argc, argv, "-:ho:", longopts, NULL)) != -1) {
		switch (opt) {
		case 'h':
			usage_reconcile(stdout);
			rc_exit = CMD_OK;
			goto out;
		case OPT_SERVER:
		case OPT_AGENT:
			/* One --server per replica of a cluster. */
			nservers += opt == OPT_SERVER ? 1 : 0;
			cur = &groups[ngroups++];
			cur->role = opt == OPT_SERVER ? RECONCILE_SERVER :
			                                RECONCILE_AGENT;
			in_rosters = false;
			/* optarg is the first file */
			__attribute__((fallthrough));
		case 1:
			if (opt == 1 && in_rosters) {
				rosters[nrosters++] = optarg;
				break;
			}
			if (cur == NULL) {
				fprintf(stderr,
				    ME ": \"%s\": give files after --server "
				       "or --agent\n",
				    text_escape_str(optarg, esc, sizeof(esc)));
				goto out;
			}
			if (stat(optarg, &st) == 0 && S_ISDIR(st.st_mode))
				r = group_add_dir(cur, optarg);
			else
				r = group_add(cur, optarg);
			if (r != 0) {
				fprintf(stderr, ME ": %s: %s\n",
				    text_escape_str(optarg, esc, sizeof(esc)),
				    r == SIGNET_ERR_NOT_FOUND ?
				        "no audit.log or audit.log.*-* in this "
				        "directory" :
				        r == SIGNET_ERR_IO ? strerror(errno) :
				                             err_str(r));
				goto out;
			}
			break;
		case OPT_ROSTER:
			rosters[nrosters++] = optarg;
			in_rosters = true;
			cur = NULL;
			break;
		case OPT_KEY:
			if (nkeys == RECONCILE_SERVER_KEYS_MAX) {
				fprintf(stderr, ME ": more than %d --key\n",
				    RECONCILE_SERVER_KEYS_MAX);
				goto out;
			}
			key_paths[nkeys++] = optarg;
			key_path = key_paths[0];
			break;
		case OPT_ACTION_KEY: action_path = optarg; break;
		case OPT_AGENT_KEYS: keys_dir = optarg; break;
		case OPT_ROSTER_KEYS: roster_keys_path = optarg; break;
		case OPT_ROSTER_THRESHOLD: threshold_text = optarg; break;
		case OPT_OUT: out_path = optarg; break;
		case OPT_CHECKPOINT:
			cur = NULL;
			in_rosters = false;
			cps[ncps++] = optarg;
			break;
		case OPT_WITNESS_KEY:
			cur = NULL;
			in_rosters = false;
			if (nwit == WITNESS_KEYS_MAX) {
				fprintf(stderr,
				    ME ": more than %d witness keys\n",
				    WITNESS_KEYS_MAX);
				goto out;
			}
			if (witness_vkey_load(optarg, &wit[nwit], &msg) != 0) {
				fprintf(stderr, ME ": %s\n", msg.text);
				goto out;
			}
			nwit++;
			break;
		case OPT_JSON: fmt = OUT_JSON; break;
		case 'o':
			if (strcmp(optarg, "text") == 0 ||
			    strcmp(optarg, "table") == 0)
				fmt = OUT_TEXT;
			else if (strcmp(optarg, "json") == 0)
				fmt = OUT_JSON;
			else if (strcmp(optarg, "html") == 0)
				fmt = OUT_HTML;
			else {
				fprintf(stderr,
				    ME ": -o \"%s\": give text, json or html\n",
				    text_escape_str(optarg, esc, sizeof(esc)));
				goto out;
			}
			break;
		case ':':
			fprintf(stderr, ME ": %s needs a value\n",
			    argv[optind - 1]);
			usage_reconcile(stderr);
			goto out;
		default:
			fprintf(stderr, ME ": unknown option %s\n",
			    argv[optind - 1]);
			usage_reconcile(stderr);
			goto out;
		}
	}
	if (!nservers || key_path == NULL || action_path == NULL ||
	    keys_dir == NULL) {
		fprintf(stderr, ME ": %s\n",
		    !nservers ? "--server FILE... is required" :
		        key_path == NULL ?
		                "--key SERVER_AUDIT.pub is required" :
		        action_path == NULL ?
		                "--action-key ACTION.pub is required" :
		                "--agent-keys DIR is required");
		usage_reconcile(stderr);
		goto out;
	}
	if (threshold_text != NULL &&
	    text_to_int64(threshold_text, 1, ROSTER_THRESHOLD_MAX,
	        &threshold) != 0) {
		fprintf(stderr,
		    ME ": --roster-threshold \"%s\": give 1 to %d\n",
		    text_escape_str(threshold_text, esc, sizeof(esc)),
		    ROSTER_THRESHOLD_MAX);
		goto out;
	}
	if ((nrosters > 0) != (roster_keys_path != NULL) ||
	    (threshold_text != NULL && nrosters == 0)) {
		fprintf(stderr,
		    ME ": --roster FILE... and --roster-keys ROSTER.pub go "
		       "together (--roster-threshold needs both)\n");
		goto out;
	}
	r = keys_load_public(key_path, &server_key, &msg);
	for (i = 0; r == 0 && i < nkeys; i++)
		r = keys_load_public(key_paths[i], &server_keys[i], &msg);
	if (r == 0)
		r = keys_load_pubset(action_path, &action_keys, &msg);
	if (r == 0 && nrosters > 0) {
		r = keys_load_pubset(roster_keys_path, &roster_keys, &msg);
		if (r == 0)
			r = audit_request_rosters_load(rosters, nrosters,
			    &roster_keys, (unsigned)threshold, &rs, &msg);
	}
	if (r != 0) {
		fprintf(stderr, ME ": %s\n", msg.text);
		goto out;
	}
	logs = calloc(ngroups, sizeof(*logs));
	if (logs == NULL) {
		fprintf(stderr, ME ": out of memory\n");
		goto out;
	}
	for (i = 0; i < ngroups; i++) {
		logs[i].role = groups[i].role;
		logs[i].files = (const char *const *)groups[i].files;
		logs[i].nfiles = groups[i].n;
	}
	ro.server_key = &server_key;
	if (nkeys > 1) {
		ro.server_keys = server_keys;
		ro.n_server_keys = nkeys;
	}
	ro.action_keys = &action_keys;
	ro.agent_keys_dir = keys_dir;
	ro.rosters = rs;
	ro.now_ms = clock_wall_ms();
	/* Signatures checked on every CPU (audit verify --jobs). */
	cpus = sysconf(_SC_NPROCESSORS_ONLN);
	ro.jobs = cpus < 1               ? 1u :
	    cpus > AUDIT_VERIFY_JOBS_MAX ? AUDIT_VERIFY_JOBS_MAX :
	                                   (unsigned)cpus;
	r = reconcile_run(&ro, logs, ngroups, &rc, &msg);
	if (r != 0) {
		fprintf(stderr, ME ": %s\n", msg.text);
		/* A log or key that cannot be read, a temporary file. */
		rc_exit = r == SIGNET_ERR_ALLOC ? CMD_FAIL : CMD_USAGE;
		goto out;
	}
	summary = cJSON_Duplicate(reconcile_summary(rc), true);
	if (summary == NULL) {
		fprintf(stderr, ME ": out of memory\n");
		rc_exit = CMD_FAIL;
		goto out;
	}
	if (nwit > 0 && ncps == 0) {
		fprintf(stderr, ME ": --witness-key needs --checkpoint\n");
		goto out;
	}
	if (ncps > 0 &&
	    check_checkpoints(summary, cps, ncps, wit, nwit,
	        nkeys > 1 ? server_keys : &server_key, nkeys > 1 ? nkeys : 1,
	        nservers, keys_dir, &cp_failed, &msg) != 0) {
		fprintf(stderr, ME ": %s\n", msg.text);
		goto out;
	}
	if (out_path != NULL) {
		out = fopen(out_path, "w");
		if (out == NULL) {
			fprintf(stderr, ME ": --out %s: %s\n",
			    text_escape_str(out_path, esc, sizeof(esc)),
			    strerror(errno));
			out = stdout;
			goto out;
		}
	}
	r = fmt == OUT_JSON ? write_json(out, rc, summary) :
	    fmt == OUT_HTML ? write_html(out, rc, summary) :
	                      write_text(out, rc, summary);
	if (r == 0 && fflush(out) != 0)
		r = SIGNET_ERR_IO;
	if (r != 0) {
		fprintf(stderr, ME ": cannot write the report: %s\n",
		    err_str(r));
		rc_exit = CMD_FAIL;
		goto out;
	}
	rc_exit = reconcile_clean(rc) && cp_failed == 0 ? CMD_OK : CMD_FAIL;
out:
	if (out != stdout && fclose(out) != 0 && rc_exit != CMD_USAGE) {
		fprintf(stderr, ME ": --out: %s\n", strerror(errno));
		rc_exit = CMD_FAIL;
	}
	cJSON_Delete(summary);
	reconcile_free(rc);
	audit_request_rosters_free(rs);
	for (i = 0; groups != NULL && i < ngroups; i++) {
		for (k = 0; k < groups[i].n; k++)
			free(groups[i].files[k]);
		free(groups[i].files);
	}
	free(groups);
	free(logs);
	free(rosters);
	free(cps);
	return rc_exit;
}
