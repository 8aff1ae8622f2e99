/* SPDX-License-Identifier: ISC */
/*
 * signet-agent enroll --host-id H --out DIR [--new-result-key]: parses the
 * command line, writes DIR/agent.key, agent.csr and the result key pair
 * through csr_enroll() and tells the admin's next step. A renewal keeps
 * DIR/result.key; --new-result-key rotates it.
 */
#include "enroll.h"

#include <getopt.h>
#include <stdbool.h>
#include <string.h>
#include <time.h>

#include "csr.h"
#include "text.h"

enum {
	OPT_HOST_ID = 0x100,
	OPT_OUT,
	OPT_NEW_RESULT_KEY,
};

void
enroll_usage(FILE *f)
{
	fprintf(f,
	    "  enroll --host-id H --out DIR\n"
	    "        make this host's TLS key DIR/agent.key (P-256, mode "
	    "0600), its\n"
	    "        certificate request DIR/agent.csr (CN=H, OU=agent) and "
	    "its result\n"
	    "        key DIR/result.key, result.pub (kept if there: a "
	    "renewal); DIR is\n"
	    "        made 0700 and no file is ever overwritten. Exit codes: 0 "
	    "written,\n"
	    "        1 refused or failed (nothing written), 2 usage\n"
	    "  --new-result-key\n"
	    "        rotate the result key: the old pair stays as\n"
	    "        result.key.old-STAMP, result.pub.old-STAMP (UTC)\n");
}

static void
next_step(const struct csr_enroll *e, const struct csr_enrolled *res)
{
	printf("wrote %s (secret, mode 0600) and %s\n", res->key_path,
	    res->req_path);
	if (e->result == CSR_RESULT_ROTATE)
		printf("result key rotated: the old pair is kept as "
		       "%s/result.key.old-%s and result.pub.old-%s\n",
		    e->dir, res->stamp, res->stamp);
	printf("result key %s, key id %s (%s)\n", res->result_pub,
	    res->result_id,
	    res->result_new ? "new" : "kept: a renewal keeps it");
	printf("\nnext: the admin signs the request on the PKI host:\n"
	       "  signet-pki sign-req agent %s %s",
	    e->cn, res->req_path);
	if (res->result_new)
		printf(" --result-pub %s\n", res->result_pub);
	else
		printf("\n  (the result key is unchanged: no --result-pub)\n");
	printf("then install the certificate it issues as [tls] cert, %s as "
	       "[tls] key\nand %s/result.key as [keys] result "
	       "(signet.conf(5)) and restart signet-agent.\n",
	    res->key_path, e->dir);
}

int
enroll_main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "host-id", required_argument, NULL, OPT_HOST_ID },
		{ "out", required_argument, NULL, OPT_OUT },
		{ "new-result-key", no_argument, NULL, OPT_NEW_RESULT_KEY },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct csr_enroll e;
	struct csr_enrolled res;
	struct err_msg msg;
	char esc[160];
	int c, r;

	memset(&e, 0, sizeof(e));
	err_clear(&msg);
	e.base = "agent";
	e.ou = "agent";
	e.result = CSR_RESULT_KEEP;
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (c) {
		case 'h':
			printf("usage: signet-agent enroll --host-id H --out "
			       "DIR [--new-result-key]\n\n");
			enroll_usage(stdout);
			return ENROLL_OK;
		case OPT_HOST_ID: e.cn = optarg; break;
		case OPT_OUT: e.dir = optarg; break;
		case OPT_NEW_RESULT_KEY: e.result = CSR_RESULT_ROTATE; break;
		case ':':
			fprintf(stderr,
			    "signet-agent enroll: %s needs a value; see "
			    "--help\n",
			    text_escape_str(argv[optind - 1], esc,
			        sizeof(esc)));
			return ENROLL_USAGE;
		default:
			fprintf(stderr,
			    "signet-agent enroll: unknown option \"%s\"; see "
			    "--help\n",
			    text_escape_str(argv[optind - 1], esc,
			        sizeof(esc)));
			return ENROLL_USAGE;
		}
	}
	if (optind != argc) {
		fprintf(stderr,
		    "signet-agent enroll: unexpected argument \"%s\"; see "
		    "--help\n",
		    text_escape_str(argv[optind], esc, sizeof(esc)));
		return ENROLL_USAGE;
	}
	if (e.cn == NULL || e.dir == NULL) {
		fprintf(stderr,
		    "signet-agent enroll: give --host-id H and --out DIR\n");
		return ENROLL_USAGE;
	}
	if (!text_valid_name(e.cn)) {
		fprintf(stderr,
		    "signet-agent enroll: bad host id \"%s\": use "
		    "[a-z0-9][a-z0-9._-]{0,62}\n",
		    text_escape_str(e.cn, esc, sizeof(esc)));
		return ENROLL_USAGE;
	}
	e.now = time(NULL);
	r = csr_enroll(&e, &res, &msg);
	if (r != 0) {
		fprintf(stderr, "signet-agent enroll: %s\n", msg.text);
		return ENROLL_FAIL;
	}
	next_step(&e, &res);
	return fflush(stdout) == 0 ? ENROLL_OK : ENROLL_FAIL;
}
