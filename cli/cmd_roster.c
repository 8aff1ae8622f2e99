/* SPDX-License-Identifier: ISC */
/*
 * signetctl roster show|edit|sign: the admin's offline tools for the
 * signed operator roster (common/roster.h), working on files only. A
 * draft is the unsigned payload JSON exactly as it will be signed; edit
 * rewrites it atomically (adding or removing an operator, bumping the
 * version once after each publication, restamping the dates); sign signs
 * the draft's exact bytes into the signed file, adding this key's
 * signature to the ones already over the same bytes (k-of-n), or
 * replacing the file when the draft changed. signet-pki's roster commands
 * drive these.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <sodium.h>

#include "clock.h"
#include "cmd.h"
#include "envelope.h"
#include "fileio.h"
#include "jsonx.h"
#include "keys.h"
#include "opsign.h"
#include "roster.h"
#include "text.h"

#define DAY_MS (24LL * 3600 * 1000)
#define ROSTER_DAYS_DEFAULT 180
#define ROSTER_DAYS_MAX (ROSTER_LIFETIME_MAX_MS / DAY_MS)
/*
 * An operator key with no --not-after-days: no end but the roster's
 * (9999-12-31T23:59:59.999Z, shown as "never").
 */
#define NOT_AFTER_NEVER 253402300799999LL
#define NOT_AFTER_DAYS_MAX 36500

enum {
	OPT_KEY = CMD_OPT_FIRST_OWN,
	OPT_KEYS,
	OPT_THRESHOLD,
	OPT_GROUPS,
	OPT_NOT_AFTER_DAYS,
	OPT_SIGNED,
	OPT_OUT,
	OPT_DAYS,
	OPT_PASSPHRASE_FD,
};

static void
usage_show(FILE *f)
{
	fprintf(f,
	    "usage: signetctl roster show FILE [--keys ROSTER.pub "
	    "[--threshold K]] [-o table|json]\n"
	    "  FILE: a signed roster or a draft; prints its version, dates, "
	    "operators\n"
	    "  --keys FILE      the pinned roster public keys (1 to 8, one a "
	    "line): check\n"
	    "                   that the signatures hold (exit 1 if not)\n"
	    "  --threshold K    signatures by distinct pinned keys required "
	    "(1..8, default 1)\n"
	    "  -o, --output table|json  lines (default) or one JSON object; "
	    "--json is -o json\n");
}

static void
usage_edit(FILE *f)
{
	fprintf(f,
	    "usage: signetctl roster edit DRAFT add NAME --key OP.pub "
	    "[--groups G1,G2] [--not-after-days N] [--signed FILE] "
	    "[--days N]\n"
	    "       signetctl roster edit DRAFT remove NAME [--signed FILE] "
	    "[--days N]\n"
	    "  rewrites the draft (made when missing) in one rename\n"
	    "  --key FILE            the operator's Ed25519 public key\n"
	    "  --groups G1,G2        the operator's groups (at most 32)\n"
	    "  --not-after-days N    the key signs nothing after N days "
	    "(default: no end)\n"
	    "  --signed FILE         the published signed roster: the first "
	    "edit after a\n"
	    "                        publication bumps the version above its "
	    "version\n"
	    "  --days N              the roster expires N days from now "
	    "(default 180,\n"
	    "                        at most 400)\n");
}

static void
usage_sign(FILE *f)
{
	fprintf(f,
	    "usage: signetctl roster sign DRAFT --key ROSTER.key --out FILE "
	    "[--keys ROSTER.pub] [--days N] [--passphrase-fd N]\n"
	    "  signs the draft's exact bytes into FILE: adds this key's "
	    "signature when\n"
	    "  FILE is over the same bytes (k-of-n), else replaces FILE\n"
	    "  --key FILE     a roster secret key (mode 0600): raw (keygen "
	    "--raw) or sealed\n"
	    "                 with a passphrase (keygen --passphrase-fd), "
	    "asked for on the\n"
	    "                 terminal\n"
	    "  --passphrase-fd N  read a sealed key's passphrase (one line) "
	    "from file\n"
	    "                 descriptor N instead\n"
	    "  --out FILE     the signed roster to write or add to\n"
	    "  --keys FILE    the pinned roster keys: refuse a key not among "
	    "them\n"
	    "  --days N       first restamp the draft: expires N days from now "
	    "(1..400)\n");
}

/* The whole file at path, at most max bytes (a new buffer, free()). */
static int
read_file(const char *cmd, const char *path, size_t max, char **out,
    size_t *len)
{
	struct err_msg msg;
	int r;

	err_clear(&msg);
	r = fileio_read_alloc(path, max, out, len, &msg);
	if (r != 0 && r != SIGNET_ERR_NOT_FOUND)
		fprintf(stderr, "signetctl %s: %s\n", cmd, msg.text);
	return r;
}

/*
 * Writes data to path in one rename (a temporary file beside it,
 * fsynced, then the directory), mode 0644.
 */
static int
write_atomic(const char *cmd, const char *path, const void *data, size_t len)
{
	struct err_msg msg;

	err_clear(&msg);
	if (fileio_replace(path, data, len, 0644, &msg) != 0) {
		fprintf(stderr, "signetctl %s: %s\n", cmd, msg.text);
		return -1;
	}
	return 0;
}

/* What a signed file says, nothing verified: for show and sign. */
struct unverified {
	uint8_t *payload; /* decoded payload (free()) */
	size_t len;
	size_t nsigs;
	char ids[ROSTER_SIGS_MAX][KEYS_ID_LEN + 1];
};

/*
 * Whether text[0..len) is a signed roster file (has "roster") rather
 * than a draft: 1 signed (u filled), 0 draft, or a negative code with
 * msg.
 */
static int
open_unverified(const char *text, size_t len, struct unverified *u,
    struct err_msg *msg)
{
	const cJSON *sigs, *s, *id;
	cJSON *root = NULL;
	const char *b64 = NULL;
	int r;

	memset(u, 0, sizeof(*u));
	r = jsonx_parse_object("roster file", text, len, 5, &root, msg);
	if (r != 0)
		return r;
	if (cJSON_GetObjectItemCaseSensitive(root, "roster") == NULL) {
		r = 0;
		goto out;
	}
	r = jsonx_get_string(root, "roster", false, "roster file", &b64, msg);
	if (r != 0)
		goto out;
	r = text_b64_decode(b64, strlen(b64), ROSTER_PAYLOAD_MAX, &u->payload,
	    &u->len);
	if (r != 0) {
		r = err_set(msg, r == SIGNET_ERR_ALLOC ? r : SIGNET_ERR_FORMAT,
		    "roster file.roster: not base64 of a payload");
		goto out;
	}
	sigs = cJSON_GetObjectItemCaseSensitive(root, "signatures");
	cJSON_ArrayForEach(s, sigs)
	{
		id = cJSON_GetObjectItemCaseSensitive(s, "key_id");
		if (u->nsigs < ROSTER_SIGS_MAX && cJSON_IsString(id) &&
		    text_is_hex(id->valuestring, KEYS_ID_LEN))
			memcpy(u->ids[u->nsigs++], id->valuestring,
			    KEYS_ID_LEN + 1);
	}
	r = 1;
out:
	cJSON_Delete(root);
	return r;
}

/* Parses a number of days in [1, max] from an option's value. */
static int
parse_days(const char *cmd, const char *opt, const char *s, int64_t max,
    int64_t *out)
{
	char esc[64];

	if (text_to_int64(s, 1, max, out) != 0) {
		fprintf(stderr,
		    "signetctl %s: %s \"%s\": give a whole number of days, "
		    "1 to %" PRId64 "\n",
		    cmd, opt, text_escape_str(s, esc, sizeof(esc)), max);
		return -1;
	}
	return 0;
}

/* "2026-12-04T22:34:17Z", or "never" for the no-end value. */
static const char *
when(int64_t ms, char *buf, size_t len)
{
	const char *s;

	if (ms >= NOT_AFTER_NEVER)
		return "never";
	s = clock_format(ms, false, buf, len);
	return s[0] != '\0' ? s : "(out of range)";
}

/* ---------------------------------------------------------------- show */

/* An integer member, exactly (cJSON's own printing rounds above 10^15). */
static bool
add_int(cJSON *o, const char *key, int64_t v)
{
	char num[32];

	(void)snprintf(num, sizeof(num), "%" PRId64, v);
	return cJSON_AddRawToObject(o, key, num) != NULL;
}

static int
show_json(const char *path, const struct roster *r, bool is_signed,
    const char *file_sha, const struct unverified *u, int verified,
    const struct roster *v, const char *error, int64_t now)
{
	cJSON *doc = cJSON_CreateObject(), *arr, *o, *g;
	char *text = NULL, *key = NULL;
	size_t k, j, n;
	int rc = CMD_FAIL;

	if (doc == NULL || cJSON_AddStringToObject(doc, "file", path) == NULL ||
	    cJSON_AddStringToObject(doc, "kind",
	        is_signed ? "signed" : "draft") == NULL ||
	    !add_int(doc, "version", r->version) ||
	    !add_int(doc, "issued_at", r->issued_at) ||
	    !add_int(doc, "expires_at", r->expires_at) ||
	    cJSON_AddBoolToObject(doc, "expired", now >= r->expires_at) ==
	        NULL ||
	    cJSON_AddStringToObject(doc, "payload_sha256", r->payload_sha256) ==
	        NULL)
		goto out;
	if (is_signed) {
		if (cJSON_AddStringToObject(doc, "sha256", file_sha) == NULL)
			goto out;
		arr = cJSON_AddArrayToObject(doc, "signatures");
		for (k = 0; arr != NULL && k < u->nsigs; k++) {
			o = cJSON_CreateString(u->ids[k]);
			if (o == NULL || !cJSON_AddItemToArray(arr, o)) {
				cJSON_Delete(o);
				goto out;
			}
		}
		if (arr == NULL)
			goto out;
	}
	if (verified < 0) {
		if (cJSON_AddNullToObject(doc, "verified") == NULL)
			goto out;
	} else if (cJSON_AddBoolToObject(doc, "verified", verified == 1) ==
	    NULL) {
		goto out;
	}
	if (verified == 1) {
		arr = cJSON_AddArrayToObject(doc, "signers");
		for (k = 0; arr != NULL && k < v->nsigners; k++) {
			o = cJSON_CreateString(v->signers[k]);
			if (o == NULL || !cJSON_AddItemToArray(arr, o)) {
				cJSON_Delete(o);
				goto out;
			}
		}
		if (arr == NULL)
			goto out;
	}
	if (error != NULL &&
	    cJSON_AddStringToObject(doc, "error", error) == NULL)
		goto out;
	arr = cJSON_AddArrayToObject(doc, "operators");
	if (arr == NULL)
		goto out;
	for (k = 0; k < r->nops; k++) {
		const struct roster_operator *op = &r->ops[k];

		n = sodium_base64_ENCODED_LEN(KEYS_PUBLIC_LEN,
		    sodium_base64_VARIANT_ORIGINAL);
		free(key);
		key = malloc(n);
		o = cJSON_CreateObject();
		if (key == NULL || o == NULL || !cJSON_AddItemToArray(arr, o)) {
			cJSON_Delete(o);
			goto out;
		}
		sodium_bin2base64(key, n, op->key.pk, KEYS_PUBLIC_LEN,
		    sodium_base64_VARIANT_ORIGINAL);
		if (cJSON_AddStringToObject(o, "name", op->name) == NULL ||
		    cJSON_AddStringToObject(o, "key_id", op->key.id) == NULL ||
		    cJSON_AddStringToObject(o, "key", key) == NULL)
			goto out;
		g = cJSON_AddArrayToObject(o, "groups");
		for (j = 0; g != NULL && j < op->ngroups; j++) {
			cJSON *s = cJSON_CreateString(op->groups[j]);
			if (s == NULL || !cJSON_AddItemToArray(g, s)) {
				cJSON_Delete(s);
				goto out;
			}
		}
		if (g == NULL || !add_int(o, "not_after", op->not_after))
			goto out;
	}
	text = cJSON_PrintUnformatted(doc);
	if (text == NULL || printf("%s\n", text) < 0 || fflush(stdout) != 0)
		goto out;
	rc = verified == 0 ? CMD_FAIL : CMD_OK;
out:
	if (rc == CMD_FAIL && verified != 0)
		fprintf(stderr,
		    "signetctl roster show: cannot write the "
		    "report\n");
	free(key);
	free(text);
	cJSON_Delete(doc);
	return rc;
}

static int
show_table(const char *path, const struct roster *r, bool is_signed,
    const char *file_sha, const struct unverified *u, int verified,
    const struct roster *v, const char *error, unsigned threshold, int64_t now)
{
	char t1[40];
	size_t k, j;

	printf("roster: %s (%s)\n", path, is_signed ? "signed" : "draft");
	printf("version: %" PRId64 "\n", r->version);
	printf("issued: %s\n", when(r->issued_at, t1, sizeof(t1)));
	printf("expires: %s%s\n", when(r->expires_at, t1, sizeof(t1)),
	    now >= r->expires_at ? " (EXPIRED)" : "");
	printf("payload sha256: %s\n", r->payload_sha256);
	if (is_signed) {
		printf("file sha256: %s\n", file_sha);
		printf("signatures: %zu:", u->nsigs);
		for (k = 0; k < u->nsigs; k++)
			printf(" %s", u->ids[k]);
		printf("\n");
	}
	if (verified == 1) {
		printf("verified: %zu of the required %u signatures by pinned "
		       "keys hold:",
		    v->nsigners, threshold);
		for (k = 0; k < v->nsigners; k++)
			printf(" %s", v->signers[k]);
		printf("\n");
	} else if (verified == 0) {
		printf("NOT VERIFIED: %s\n", error);
	} else if (is_signed) {
		printf("verified: no (give --keys ROSTER.pub)\n");
	}
	printf("operators: %zu\n", r->nops);
	if (r->nops > 0)
		printf("%-24s %-16s %-20s %s\n", "NAME", "KEY ID", "NOT AFTER",
		    "GROUPS");
	for (k = 0; k < r->nops; k++) {
		const struct roster_operator *op = &r->ops[k];

		printf("%-24s %-16s %-20s ", op->name, op->key.id,
		    when(op->not_after, t1, sizeof(t1)));
		for (j = 0; j < op->ngroups; j++)
			printf("%s%s", j > 0 ? "," : "", op->groups[j]);
		printf("%s\n", op->ngroups == 0 ? "-" : "");
	}
	if (fflush(stdout) != 0) {
		fprintf(stderr, "signetctl roster show: cannot write\n");
		return CMD_FAIL;
	}
	return verified == 0 ? CMD_FAIL : CMD_OK;
}

int
cmd_roster_show(struct cmd_ctx *ctx, int argc, char **argv)
{
	static const struct option longopts[] = { { "keys", required_argument,
		                                      NULL, OPT_KEYS },
		{ "threshold", required_argument, NULL, OPT_THRESHOLD },
		{ "output", required_argument, NULL, 'o' },
		{ "json", no_argument, NULL, CMD_OPT_JSON },
		{ "help", no_argument, NULL, 'h' }, { NULL, 0, NULL, 0 } };
	const char *keys_path = NULL, *thr = NULL, *path;
	struct keys_pubset pinned;
	struct unverified u;
	struct roster *r = NULL, *v = NULL;
	struct err_msg msg, vmsg;
	char *text = NULL, file_sha[65] = "", esc[64];
	size_t len = 0;
	int64_t threshold = 1;
	int opt, kind, verified = -1, rc = CMD_USAGE;

	memset(&u, 0, sizeof(u));
	err_clear(&msg);
	err_clear(&vmsg);
	while ((opt = getopt_long(argc, argv, ":ho:", longopts, NULL)) != -1) {
		switch (opt) {
		case 'h':
			usage_show(stdout);
			rc = CMD_OK;
			goto out;
		case OPT_KEYS: keys_path = optarg; break;
		case OPT_THRESHOLD: thr = optarg; break;
		default:
			if (cmd_common_opt(ctx, "roster show", opt, argv) == 1)
				break;
			usage_show(stderr);
			goto out;
		}
	}
	if (argc - optind != 1) {
		fprintf(stderr, "signetctl roster show: give one FILE\n");
		usage_show(stderr);
		goto out;
	}
	path = argv[optind];
	if (thr != NULL &&
	    (keys_path == NULL ||
	        text_to_int64(thr, 1, ROSTER_THRESHOLD_MAX, &threshold) != 0)) {
		fprintf(stderr,
		    "signetctl roster show: --threshold \"%s\": give 1 to %d, "
		    "with --keys\n",
		    text_escape_str(thr, esc, sizeof(esc)),
		    ROSTER_THRESHOLD_MAX);
		goto out;
	}
	if (keys_path != NULL &&
	    keys_load_pubset(keys_path, &pinned, &msg) != 0) {
		fprintf(stderr, "signetctl roster show: %s\n", msg.text);
		goto out;
	}
	if (read_file("roster show", path, ROSTER_FILE_MAX, &text, &len) ==
	    SIGNET_ERR_NOT_FOUND)
		fprintf(stderr, "signetctl roster show: %s: no such file\n",
		    path);
	if (text == NULL)
		goto out;
	kind = open_unverified(text, len, &u, &msg);
	if (kind < 0) {
		fprintf(stderr, "signetctl roster show: %s: %s\n", path,
		    msg.text);
		rc = CMD_FAIL;
		goto out;
	}
	if (kind == 1) {
		envelope_sha256_hex(text, len, file_sha);
		if (roster_parse_payload(u.payload, u.len, &r, &msg) != 0) {
			fprintf(stderr, "signetctl roster show: %s: %s\n", path,
			    msg.text);
			rc = CMD_FAIL;
			goto out;
		}
		if (keys_path != NULL)
			verified = roster_verify((const uint8_t *)text, len,
			               &pinned, (unsigned)threshold, &v,
			               &vmsg) == 0 ?
			    1 :
			    0;
	} else {
		if (keys_path != NULL) {
			fprintf(stderr,
			    "signetctl roster show: %s is a draft, not a "
			    "signed roster: it has no signatures to check\n",
			    path);
			rc = CMD_FAIL;
			goto out;
		}
		if (roster_parse_payload((const uint8_t *)text, len, &r,
		        &msg) != 0) {
			fprintf(stderr, "signetctl roster show: %s: %s\n", path,
			    msg.text);
			rc = CMD_FAIL;
			goto out;
		}
	}
	if (ctx->output == CMD_OUTPUT_JSON)
		rc = show_json(path, r, kind == 1, file_sha, &u, verified, v,
		    verified == 0 ? vmsg.text : NULL, clock_wall_ms());
	else
		rc = show_table(path, r, kind == 1, file_sha, &u, verified, v,
		    vmsg.text, (unsigned)threshold, clock_wall_ms());
out:
	free(u.payload);
	free(text);
	roster_free(r);
	roster_free(v);
	return rc;
}

/* ---------------------------------------------------------------- edit */

/*
 * The draft at path (*r, made empty when the file does not exist: *fresh)
 * and its exact bytes (*bytes, NULL when fresh). CMD_OK or an exit code.
 */
static int
load_draft(const char *cmd, const char *path, struct roster **r, char **bytes,
    size_t *len, bool *fresh)
{
	struct err_msg msg;
	int rr;

	*r = NULL;
	*bytes = NULL;
	*len = 0;
	*fresh = false;
	rr = read_file(cmd, path, ROSTER_PAYLOAD_MAX, bytes, len);
	if (rr == SIGNET_ERR_NOT_FOUND) {
		*fresh = true;
		*r = calloc(1, sizeof(**r));
		if (*r == NULL) {
			fprintf(stderr, "signetctl %s: out of memory\n", cmd);
			return CMD_FAIL;
		}
		return CMD_OK;
	}
	if (rr != 0)
		return CMD_USAGE;
	err_clear(&msg);
	if (roster_parse_payload((const uint8_t *)*bytes, *len, r, &msg) != 0) {
		fprintf(stderr, "signetctl %s: the draft %s: %s\n", cmd, path,
		    msg.text);
		return CMD_FAIL;
	}
	return CMD_OK;
}

/*
 * The published roster at path, when it exists: its payload bytes and
 * version (not verified: the admin's own file). *version 0 when there is
 * none. CMD_OK or an exit code.
 */
static int
load_published(const char *cmd, const char *path, struct unverified *u,
    int64_t *version)
{
	struct roster *p = NULL;
	struct err_msg msg;
	char *text = NULL;
	size_t len = 0;
	int rr, rc = CMD_FAIL;

	memset(u, 0, sizeof(*u));
	*version = 0;
	if (path == NULL)
		return CMD_OK;
	rr = read_file(cmd, path, ROSTER_FILE_MAX, &text, &len);
	if (rr == SIGNET_ERR_NOT_FOUND)
		return CMD_OK;
	if (rr != 0)
		return CMD_USAGE;
	err_clear(&msg);
	rr = open_unverified(text, len, u, &msg);
	if (rr == 0)
		rr = err_set(&msg, SIGNET_ERR_FORMAT,
		    "a draft, not a signed roster");
	if (rr < 0 || roster_parse_payload(u->payload, u->len, &p, &msg) != 0) {
		fprintf(stderr,
		    "signetctl %s: the signed roster %s: %s; refusing to "
		    "touch it\n",
		    cmd, path, msg.text);
		goto out;
	}
	*version = p->version;
	rc = CMD_OK;
out:
	roster_free(p);
	free(text);
	return rc;
}

/*
 * The version and dates of a draft that changes: one above the
 * published version when the draft is what was published (or not above
 * it), else as it is; issued now, expiring days from now.
 */
static int
restamp(const char *cmd, struct roster *r, const char *bytes, size_t len,
    bool fresh, const struct unverified *pub, int64_t pub_version, int64_t days)
{
	int64_t now = clock_wall_ms(), v = fresh ? 0 : r->version;

	if (fresh ||
	    (pub_version > 0 &&
	        ((pub->len == len && bytes != NULL &&
	             memcmp(pub->payload, bytes, len) == 0) ||
	            v <= pub_version))) {
		v = (v > pub_version ? v : pub_version) + 1;
		if (v > ROSTER_VERSION_MAX) {
			fprintf(stderr,
			    "signetctl %s: the version cannot grow "
			    "further\n",
			    cmd);
			return -1;
		}
	}
	r->version = v;
	r->issued_at = now;
	r->expires_at = now + days * DAY_MS;
	return 0;
}

/* Encodes r, checks it as a reader would, writes it to path. */
static int
write_draft(const char *cmd, const char *path, const struct roster *r,
    char **json)
{
	struct roster *check = NULL;
	struct err_msg msg;
	int rc;

	*json = NULL;
	if (roster_encode_payload(r, json) != 0) {
		fprintf(stderr, "signetctl %s: out of memory\n", cmd);
		return CMD_FAIL;
	}
	err_clear(&msg);
	rc = roster_parse_payload((const uint8_t *)*json, strlen(*json), &check,
	    &msg);
	roster_free(check);
	if (rc != 0) {
		fprintf(stderr,
		    "signetctl %s: the new draft would be "
		    "refused: %s\n",
		    cmd, msg.text);
		return CMD_FAIL;
	}
	return write_atomic(cmd, path, *json, strlen(*json)) == 0 ? CMD_OK :
	                                                            CMD_FAIL;
}

/* Splits "a,b" into op's groups. CMD_OK or CMD_USAGE. */
static int
parse_groups(const char *s, struct roster_operator *op)
{
	const char *p = s, *comma;
	char esc[96], g[IDENTITY_NAME_MAX + 2];
	size_t n, k;

	op->ngroups = 0;
	while (*p != '\0') {
		comma = strchr(p, ',');
		n = comma != NULL ? (size_t)(comma - p) : strlen(p);
		if (n > IDENTITY_NAME_MAX)
			n = IDENTITY_NAME_MAX + 1;
		memcpy(g, p, n);
		g[n] = '\0';
		if (!text_valid_name(g)) {
			fprintf(stderr,
			    "signetctl roster edit: --groups: \"%s\" is not "
			    "a valid group name ([a-z0-9][a-z0-9._-]{0,62})\n",
			    text_escape_str(g, esc, sizeof(esc)));
			return CMD_USAGE;
		}
		for (k = 0; k < op->ngroups; k++)
			if (strcmp(op->groups[k], g) == 0) {
				fprintf(stderr,
				    "signetctl roster edit: --groups: \"%s\" "
				    "is given twice\n",
				    g);
				return CMD_USAGE;
			}
		if (op->ngroups == ROSTER_GROUPS_MAX) {
			fprintf(stderr,
			    "signetctl roster edit: --groups: at most %d "
			    "groups\n",
			    ROSTER_GROUPS_MAX);
			return CMD_USAGE;
		}
		memcpy(op->groups[op->ngroups++], g, strlen(g) + 1);
		if (comma == NULL)
			break;
		p = comma + 1;
		if (*p == '\0') {
			fprintf(stderr,
			    "signetctl roster edit: --groups: an "
			    "empty group name\n");
			return CMD_USAGE;
		}
	}
	return CMD_OK;
}

int
cmd_roster_edit(struct cmd_ctx *ctx, int argc, char **argv)
{
	static const struct option longopts[] = { { "key", required_argument,
		                                      NULL, OPT_KEY },
		{ "groups", required_argument, NULL, OPT_GROUPS },
		{ "not-after-days", required_argument, NULL,
		    OPT_NOT_AFTER_DAYS },
		{ "signed", required_argument, NULL, OPT_SIGNED },
		{ "days", required_argument, NULL, OPT_DAYS },
		{ "help", no_argument, NULL, 'h' }, { NULL, 0, NULL, 0 } };
	const char *C = "roster edit";
	const char *key_path = NULL, *groups = NULL, *nad = NULL;
	const char *signed_path = NULL, *days_s = NULL, *draft, *verb, *name;
	struct roster_operator newop, *ops = NULL;
	const struct roster_operator *other;
	struct roster *r = NULL;
	struct unverified pub;
	struct err_msg msg;
	char *bytes = NULL, *json = NULL, esc[96], t1[40];
	size_t len = 0, k, at = 0;
	int64_t days = ROSTER_DAYS_DEFAULT, nadays = 0, pub_version = 0;
	bool fresh = false, add;
	int opt, rc = CMD_USAGE;

	memset(&pub, 0, sizeof(pub));
	memset(&newop, 0, sizeof(newop));
	err_clear(&msg);
	while ((opt = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'h':
			usage_edit(stdout);
			rc = CMD_OK;
			goto out;
		case OPT_KEY: key_path = optarg; break;
		case OPT_GROUPS: groups = optarg; break;
		case OPT_NOT_AFTER_DAYS: nad = optarg; break;
		case OPT_SIGNED: signed_path = optarg; break;
		case OPT_DAYS: days_s = optarg; break;
		default:
			(void)cmd_common_opt(ctx, C, opt, argv);
			usage_edit(stderr);
			goto out;
		}
	}
	if (argc - optind != 3 ||
	    (strcmp(argv[optind + 1], "add") != 0 &&
	        strcmp(argv[optind + 1], "remove") != 0)) {
		fprintf(stderr, "signetctl %s: give DRAFT add|remove NAME\n",
		    C);
		usage_edit(stderr);
		goto out;
	}
	draft = argv[optind];
	verb = argv[optind + 1];
	name = argv[optind + 2];
	add = strcmp(verb, "add") == 0;
	if (!text_valid_name(name)) {
		fprintf(stderr,
		    "signetctl %s: bad name \"%s\": use "
		    "[a-z0-9][a-z0-9._-]{0,62}\n",
		    C, text_escape_str(name, esc, sizeof(esc)));
		goto out;
	}
	if (add && key_path == NULL) {
		fprintf(stderr, "signetctl %s: add needs --key OP.pub\n", C);
		goto out;
	}
	if (!add && (key_path != NULL || groups != NULL || nad != NULL)) {
		fprintf(stderr,
		    "signetctl %s: remove takes no --key, --groups or "
		    "--not-after-days\n",
		    C);
		goto out;
	}
	if (days_s != NULL &&
	    parse_days(C, "--days", days_s, ROSTER_DAYS_MAX, &days) != 0)
		goto out;
	if (nad != NULL &&
	    parse_days(C, "--not-after-days", nad, NOT_AFTER_DAYS_MAX,
	        &nadays) != 0)
		goto out;
	if (add) {
		memcpy(newop.name, name, strlen(name) + 1);
		if (keys_load_public(key_path, &newop.key, &msg) != 0) {
			fprintf(stderr,
			    "signetctl %s: --key %s: %s (give the operator's "
			    ".pub file)\n",
			    C, key_path, msg.text);
			goto out;
		}
		if (groups != NULL && parse_groups(groups, &newop) != CMD_OK)
			goto out;
		newop.not_after = nad != NULL ?
		    clock_wall_ms() + nadays * DAY_MS :
		    NOT_AFTER_NEVER;
	}
	rc = load_draft(C, draft, &r, &bytes, &len, &fresh);
	if (rc != CMD_OK)
		goto out;
	rc = load_published(C, signed_path, &pub, &pub_version);
	if (rc != CMD_OK)
		goto out;
	rc = CMD_FAIL;
	if (fresh && pub_version > 0) {
		/* No draft: start from what is published, not from nothing. */
		roster_free(r);
		r = NULL;
		bytes = malloc(pub.len + 1);
		if (bytes == NULL ||
		    roster_parse_payload(pub.payload, pub.len, &r, &msg) != 0) {
			fprintf(stderr, "signetctl %s: %s\n", C,
			    bytes == NULL ? "out of memory" : msg.text);
			goto out;
		}
		memcpy(bytes, pub.payload, pub.len);
		len = pub.len;
		fresh = false;
	}
	if (add) {
		if (roster_find_name(r, name) != NULL) {
			fprintf(stderr,
			    "signetctl %s: operator %s is in the roster "
			    "already (remove them first to change their "
			    "entry)\n",
			    C, name);
			goto out;
		}
		other = roster_find_key(r, newop.key.id);
		if (other != NULL) {
			fprintf(stderr,
			    "signetctl %s: key %s is operator %s's already; "
			    "one key, one operator\n",
			    C, newop.key.id, other->name);
			goto out;
		}
		if (r->nops >= ROSTER_OPERATORS_MAX) {
			fprintf(stderr,
			    "signetctl %s: the roster holds %d operators, "
			    "the most allowed\n",
			    C, ROSTER_OPERATORS_MAX);
			goto out;
		}
		ops = calloc(r->nops + 1, sizeof(*ops));
		if (ops == NULL) {
			fprintf(stderr, "signetctl %s: out of memory\n", C);
			goto out;
		}
		if (r->nops > 0)
			memcpy(ops, r->ops, r->nops * sizeof(*ops));
		ops[r->nops] = newop;
		free(r->ops);
		r->ops = ops;
		ops = NULL;
		r->nops++;
	} else {
		other = roster_find_name(r, name);
		if (other == NULL) {
			fprintf(stderr,
			    "signetctl %s: no operator %s in the draft %s\n", C,
			    name, draft);
			goto out;
		}
		at = (size_t)(other - r->ops);
		for (k = at; k + 1 < r->nops; k++)
			r->ops[k] = r->ops[k + 1];
		r->nops--;
	}
	if (restamp(C, r, bytes, len, fresh, &pub, pub_version, days) != 0)
		goto out;
	rc = write_draft(C, draft, r, &json);
	if (rc != CMD_OK)
		goto out;
	if (add)
		printf("added %s (key id %s, groups %s, not after %s)", name,
		    newop.key.id, groups != NULL ? groups : "none",
		    when(newop.not_after, t1, sizeof(t1)));
	else
		printf("removed %s", name);
	printf(" in %s: version %" PRId64 ", %zu operators, expires %s; "
	       "sign it to publish\n",
	    draft, r->version, r->nops, when(r->expires_at, t1, sizeof(t1)));
	rc = fflush(stdout) == 0 ? CMD_OK : CMD_FAIL;
out:
	free(ops);
	free(json);
	free(bytes);
	free(pub.payload);
	roster_free(r);
	return rc;
}

/* ---------------------------------------------------------------- sign */

int
cmd_roster_sign(struct cmd_ctx *ctx, int argc, char **argv)
{
	static const struct option longopts[] = { { "key", required_argument,
		                                      NULL, OPT_KEY },
		{ "out", required_argument, NULL, OPT_OUT },
		{ "keys", required_argument, NULL, OPT_KEYS },
		{ "days", required_argument, NULL, OPT_DAYS },
		{ "passphrase-fd", required_argument, NULL, OPT_PASSPHRASE_FD },
		{ "help", no_argument, NULL, 'h' }, { NULL, 0, NULL, 0 } };
	const char *C = "roster sign";
	const char *key_path = NULL, *out_path = NULL, *keys_path = NULL;
	const char *days_s = NULL, *draft;
	struct keys_secret *key = NULL; /* sodium_malloc'd */
	struct keys_pubset pinned;
	struct unverified pub;
	struct roster *r = NULL;
	struct err_msg msg;
	char *bytes = NULL, *json = NULL, *file = NULL, *existing = NULL;
	char t1[40], esc[64];
	size_t len = 0, elen = 0;
	int64_t days = 0, pub_version = 0;
	bool fresh = false, same, sealed = false;
	int opt, rr, passfd = -1, rc = CMD_USAGE;

	memset(&pub, 0, sizeof(pub));
	err_clear(&msg);
	while ((opt = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'h':
			usage_sign(stdout);
			rc = CMD_OK;
			goto out;
		case OPT_KEY: key_path = optarg; break;
		case OPT_OUT: out_path = optarg; break;
		case OPT_KEYS: keys_path = optarg; break;
		case OPT_DAYS: days_s = optarg; break;
		case OPT_PASSPHRASE_FD:
			if (!opsign_parse_fd(optarg, &passfd)) {
				fprintf(stderr,
				    "signetctl %s: --passphrase-fd \"%s\": not "
				    "an open descriptor\n",
				    C,
				    text_escape_str(optarg, esc, sizeof(esc)));
				goto out;
			}
			break;
		default:
			(void)cmd_common_opt(ctx, C, opt, argv);
			usage_sign(stderr);
			goto out;
		}
	}
	if (argc - optind != 1 || key_path == NULL || out_path == NULL) {
		fprintf(stderr, "signetctl %s: give DRAFT, --key and --out\n",
		    C);
		usage_sign(stderr);
		goto out;
	}
	draft = argv[optind];
	if (days_s != NULL &&
	    parse_days(C, "--days", days_s, ROSTER_DAYS_MAX, &days) != 0)
		goto out;
	key = sodium_malloc(sizeof(*key));
	if (key == NULL) {
		fprintf(stderr, "signetctl %s: out of memory\n", C);
		rc = CMD_FAIL;
		goto out;
	}
	/* Before anything is read or written: a wrong passphrase changes
	 * nothing. */
	rr = opsign_load_any(key_path, passfd, key, &sealed, &msg);
	if (rr != 0) {
		fprintf(stderr,
		    "signetctl %s: --key: %s; nothing was written\n", C,
		    msg.text);
		rc = rr == SIGNET_ERR_BAD_SIGNATURE ? CMD_FAIL : CMD_USAGE;
		goto out;
	}
	if (keys_path != NULL) {
		if (keys_load_pubset(keys_path, &pinned, &msg) != 0) {
			fprintf(stderr, "signetctl %s: --keys: %s\n", C,
			    msg.text);
			goto out;
		}
		if (keys_pubset_find(&pinned, key->pub.id) == NULL) {
			fprintf(stderr,
			    "signetctl %s: %s (key id %s) is not a roster "
			    "key: its public half is not in %s\n",
			    C, key_path, key->pub.id, keys_path);
			rc = CMD_FAIL;
			goto out;
		}
	}
	rc = load_draft(C, draft, &r, &bytes, &len, &fresh);
	if (rc == CMD_OK && fresh) {
		fprintf(stderr,
		    "signetctl %s: no draft %s (make one with roster "
		    "edit)\n",
		    C, draft);
		rc = CMD_USAGE;
	}
	if (rc != CMD_OK)
		goto out;
	rc = load_published(C, out_path, &pub, &pub_version);
	if (rc != CMD_OK)
		goto out;
	rc = CMD_FAIL;
	if (days_s != NULL) {
		if (restamp(C, r, bytes, len, false, &pub, pub_version, days) !=
		        0 ||
		    write_draft(C, draft, r, &json) != CMD_OK)
			goto out;
		free(bytes);
		bytes = json;
		json = NULL;
		len = strlen(bytes);
	}
	if (r->expires_at <= clock_wall_ms()) {
		fprintf(stderr,
		    "signetctl %s: the draft expired at %s; restamp it with "
		    "--days N\n",
		    C, when(r->expires_at, t1, sizeof(t1)));
		goto out;
	}
	same = pub_version > 0 && pub.len == len &&
	    memcmp(pub.payload, bytes, len) == 0;
	if (pub_version > 0 && !same && r->version <= pub_version) {
		fprintf(stderr,
		    "signetctl %s: the draft's version %" PRId64
		    " is not above the published version %" PRId64
		    " of %s: agents would refuse it; edit the draft or give "
		    "--days N to bump it\n",
		    C, r->version, pub_version, out_path);
		goto out;
	}
	if (same) {
		rr = read_file(C, out_path, ROSTER_FILE_MAX, &existing, &elen);
		if (rr != 0)
			goto out;
	}
	rr = roster_sign((const uint8_t *)bytes, len, key,
	    (const uint8_t *)existing, elen, &file, &msg);
	if (rr != 0) {
		fprintf(stderr, "signetctl %s: %s\n", C, msg.text);
		goto out;
	}
	if (write_atomic(C, out_path, file, strlen(file)) != 0)
		goto out;
	err_clear(&msg);
	free(pub.payload);
	rr = open_unverified(file, strlen(file), &pub, &msg);
	printf("signed roster version %" PRId64 " (%zu operators, expires %s) "
	       "with %skey %s: %s %s, %zu signature%s\n",
	    r->version, r->nops, when(r->expires_at, t1, sizeof(t1)),
	    sealed ? "sealed " : "", key->pub.id, same ? "added to" : "wrote",
	    out_path, rr == 1 ? pub.nsigs : 1,
	    rr == 1 && pub.nsigs == 1 ? "" : "s");
	rc = fflush(stdout) == 0 ? CMD_OK : CMD_FAIL;
out:
	if (key != NULL)
		keys_secret_wipe(key);
	sodium_free(key);
	free(pub.payload);
	free(existing);
	free(file);
	free(json);
	free(bytes);
	roster_free(r);
	return rc;
}
