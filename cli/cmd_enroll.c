/* SPDX-License-Identifier: ISC */
/*
 * signetctl enroll USER --role operator|auditor --out DIR: an operator or
 * auditor makes their own TLS key DIR/USER.key (P-256, mode 0600) and a
 * certificate request DIR/USER.csr (CN=USER, OU=ROLE) through
 * csr_enroll(), never overwriting a file; the admin signs the request
 * with signet-pki sign-req and the key never leaves DIR.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cmd.h"
#include "csr.h"
#include "text.h"

enum {
	OPT_ROLE = CMD_OPT_FIRST_OWN,
	OPT_OUT,
};

static void
usage_enroll(FILE *f)
{
	fprintf(f,
	    "usage: signetctl enroll USER --role operator|auditor --out DIR\n"
	    "  writes DIR/USER.key (a new P-256 TLS key, mode 0600) and "
	    "DIR/USER.csr,\n"
	    "  a certificate request for CN=USER, OU=ROLE for the admin's "
	    "signet-pki\n"
	    "  sign-req; DIR is made 0700 when missing and no file is "
	    "overwritten.\n"
	    "  --role ROLE  operator or auditor\n"
	    "  --out DIR    the directory, only its owner may write it\n");
}

int
cmd_enroll(struct cmd_ctx *ctx, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "role", required_argument, NULL, OPT_ROLE },
		{ "out", required_argument, NULL, OPT_OUT },
		{ NULL, 0, NULL, 0 },
	};
	struct csr_enroll e;
	struct csr_enrolled res;
	struct err_msg msg;
	char esc[160];
	int opt, r, rc = CMD_USAGE;

	memset(&e, 0, sizeof(e));
	err_clear(&msg);
	while ((opt = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
		if (opt == 'h') {
			usage_enroll(stdout);
			rc = CMD_OK;
			goto out;
		} else if (opt == OPT_ROLE) {
			e.ou = optarg;
		} else if (opt == OPT_OUT) {
			e.dir = optarg;
		} else {
			(void)cmd_common_opt(ctx, "enroll", opt, argv);
			usage_enroll(stderr);
			goto out;
		}
	}
	if (argc - optind != 1) {
		fprintf(stderr, "signetctl enroll: give one USER\n");
		usage_enroll(stderr);
		goto out;
	}
	e.cn = argv[optind];
	e.base = e.cn;
	if (!text_valid_name(e.cn)) {
		fprintf(stderr,
		    "signetctl enroll: bad user name \"%s\": use "
		    "[a-z0-9][a-z0-9._-]{0,62}\n",
		    text_escape_str(e.cn, esc, sizeof(esc)));
		goto out;
	}
	if (e.ou == NULL ||
	    (strcmp(e.ou, "operator") != 0 && strcmp(e.ou, "auditor") != 0)) {
		fprintf(stderr,
		    "signetctl enroll: --role \"%s\": give operator or "
		    "auditor\n",
		    e.ou == NULL ? "" :
		                   text_escape_str(e.ou, esc, sizeof(esc)));
		usage_enroll(stderr);
		goto out;
	}
	if (e.dir == NULL) {
		fprintf(stderr, "signetctl enroll: give --out DIR\n");
		usage_enroll(stderr);
		goto out;
	}
	e.result = CSR_RESULT_NONE;
	e.now = time(NULL);
	r = csr_enroll(&e, &res, &msg);
	if (r != 0) {
		fprintf(stderr, "signetctl enroll: %s\n", msg.text);
		rc = CMD_FAIL;
		goto out;
	}
	printf("wrote %s (secret, mode 0600) and %s\n"
	       "\nnext: the admin signs the request on the PKI host:\n"
	       "  signet-pki sign-req %s %s %s\n"
	       "then use the certificate it issues with --cert and %s with "
	       "--key\n(or a context of signetctl.conf).\n",
	    res.key_path, res.req_path, e.ou, e.cn, res.req_path, res.key_path);
	rc = fflush(stdout) == 0 ? CMD_OK : CMD_FAIL;
out:
	return rc;
}
