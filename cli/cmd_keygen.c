/* SPDX-License-Identifier: ISC */
/*
 * signetctl keygen NAME: a new Ed25519 key pair in the current directory
 * (NAME.key mode 0600, NAME.pub mode 0644), never overwriting a file. By
 * default an operator signing key sealed with a passphrase (opkey.h),
 * asked twice on the terminal or read from --passphrase-fd;
 * --no-passphrase an unsealed operator key for automation accounts;
 * --raw a daemon's key (action, audit, result) in the raw format of
 * keys.h that the daemons read.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "cmd.h"
#include "keys.h"
#include "opkey.h"
#include "opsign.h"
#include "text.h"

enum {
	OPT_RAW = CMD_OPT_FIRST_OWN,
	OPT_NO_PASSPHRASE,
	OPT_PASSPHRASE_FD,
};

static void
usage_keygen(FILE *f)
{
	fprintf(f,
	    "usage: signetctl keygen NAME [--passphrase-fd N | "
	    "--no-passphrase]\n"
	    "       signetctl keygen --raw NAME\n"
	    "  writes NAME.key (secret, mode 0600) and NAME.pub (mode 0644) "
	    "in the current\n"
	    "  directory, never overwriting a file. By default NAME.key is "
	    "an operator\n"
	    "  signing key sealed with a passphrase, asked twice on the "
	    "terminal.\n"
	    "  --passphrase-fd N  read the passphrase (one line) from file "
	    "descriptor N\n"
	    "  --no-passphrase    an unsealed operator key, for automation "
	    "accounts\n"
	    "  --raw              a daemon's key (action, audit, result) in "
	    "the raw format\n"
	    "                     the daemons read; unsealed\n");
}

int
cmd_keygen(struct cmd_ctx *ctx, int argc, char **argv)
{
	static const struct option longopts[] = { { "help", no_argument, NULL,
		                                      'h' },
		{ "raw", no_argument, NULL, OPT_RAW },
		{ "no-passphrase", no_argument, NULL, OPT_NO_PASSPHRASE },
		{ "passphrase-fd", required_argument, NULL, OPT_PASSPHRASE_FD },
		{ NULL, 0, NULL, 0 } };
	struct keys_secret *key = NULL; /* sodium_malloc'd, wiped at free */
	struct err_msg msg;
	const char *name;
	char esc[160], keypath[80], pubpath[80], *pass = NULL;
	size_t passlen = 0;
	bool raw = false, no_pass = false, has_fd = false;
	int opt, r, fd = -1, rc = CMD_USAGE;

	err_clear(&msg);
	while ((opt = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
		if (opt == 'h') {
			usage_keygen(stdout);
			rc = CMD_OK;
			goto out;
		} else if (opt == OPT_RAW) {
			raw = true;
		} else if (opt == OPT_NO_PASSPHRASE) {
			no_pass = true;
		} else if (opt == OPT_PASSPHRASE_FD) {
			if (!opsign_parse_fd(optarg, &fd)) {
				fprintf(stderr,
				    "signetctl keygen: --passphrase-fd \"%s\": "
				    "give the number of an open file "
				    "descriptor\n",
				    text_escape_str(optarg, esc, sizeof(esc)));
				goto out;
			}
			has_fd = true;
		} else {
			(void)cmd_common_opt(ctx, "keygen", opt, argv);
			usage_keygen(stderr);
			goto out;
		}
	}
	if (argc - optind != 1) {
		fprintf(stderr, "signetctl keygen: give one NAME\n");
		usage_keygen(stderr);
		goto out;
	}
	name = argv[optind];
	if (!text_valid_name(name)) {
		fprintf(stderr,
		    "signetctl keygen: bad name \"%s\": use "
		    "[a-z0-9][a-z0-9._-]{0,62}\n",
		    text_escape_str(name, esc, sizeof(esc)));
		goto out;
	}
	if ((raw ? 1 : 0) + (no_pass ? 1 : 0) + (has_fd ? 1 : 0) > 1) {
		fprintf(stderr,
		    "signetctl keygen: give one of --raw, --no-passphrase "
		    "and --passphrase-fd\n");
		usage_keygen(stderr);
		goto out;
	}
	/* Before asking for a passphrase that could not be used. */
	(void)snprintf(keypath, sizeof(keypath), "%s.key", name);
	(void)snprintf(pubpath, sizeof(pubpath), "%s.pub", name);
	if (access(keypath, F_OK) == 0 || access(pubpath, F_OK) == 0) {
		fprintf(stderr,
		    "signetctl keygen: %s or %s already exists; refusing to "
		    "overwrite\n",
		    keypath, pubpath);
		goto out;
	}
	if (!raw && !no_pass) {
		char prompt[120];

		(void)snprintf(prompt, sizeof(prompt),
		    "passphrase for the new key %s: ", keypath);
		r = opkey_read_passphrase(fd, prompt, !has_fd, &pass, &passlen,
		    &msg);
		if (r != 0) {
			fprintf(stderr, "signetctl keygen: %s%s\n", msg.text,
			    r == SIGNET_ERR_IO && !has_fd &&
			            strstr(msg.text, "--passphrase-fd") !=
			                NULL ?
			        " N, or --no-passphrase for an unsealed key "
			        "(automation accounts); nothing was written" :
			        "; nothing was written");
			goto out;
		}
	}
	key = sodium_malloc(sizeof(*key));
	if (key == NULL) {
		fprintf(stderr, "signetctl keygen: out of memory\n");
		rc = CMD_FAIL;
		goto out;
	}
	r = keys_generate(key);
	if (r != 0) {
		fprintf(stderr, "signetctl keygen: %s\n", err_str(r));
		goto out;
	}
	if (raw)
		r = keys_write_pair(".", name, key, &msg);
	else
		r = opkey_write_pair(".", name, key, pass, passlen, &msg);
	if (r != 0) {
		fprintf(stderr, "signetctl keygen: %s\n", msg.text);
		goto out;
	}
	if (raw)
		printf("wrote %s (secret, mode 0600) and %s, key id %s\n",
		    keypath, pubpath, key->pub.id);
	else
		printf("wrote %s (operator key, %s, mode 0600) and %s, "
		       "key id %s\n",
		    keypath,
		    pass != NULL ? "sealed with a passphrase" : "no passphrase",
		    pubpath, key->pub.id);
	rc = fflush(stdout) == 0 ? CMD_OK : CMD_FAIL;
out:
	opkey_passphrase_free(pass, passlen);
	sodium_free(key);
	return rc;
}
