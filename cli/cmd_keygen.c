/* SPDX-License-Identifier: ISC */
/*
 * signetctl keygen NAME: a new Ed25519 key pair in the current directory
 * (NAME.key mode 0600, NAME.pub), never overwriting a file.
 */
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "cmd.h"
#include "keys.h"
#include "text.h"

static void
usage_keygen(FILE *f)
{
	fprintf(f,
	    "usage: signetctl keygen NAME\n"
	    "  writes NAME.key (secret, mode 0600) and NAME.pub in the "
	    "current directory\n");
}

int
cmd_keygen(struct cmd_ctx *ctx, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "help", no_argument, NULL, 'h' }, { NULL, 0, NULL, 0 }
	};
	struct keys_secret *key = NULL; /* sodium_malloc'd, wiped at free */
	struct err_msg msg;
	char esc[160];
	int opt, r, rc = CMD_USAGE;

	err_clear(&msg);
	while ((opt = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
		if (opt == 'h') {
			usage_keygen(stdout);
			rc = CMD_OK;
			goto out;
		}
		(void)cmd_common_opt(ctx, "keygen", opt, argv);
		usage_keygen(stderr);
		goto out;
	}
	if (argc - optind != 1) {
		fprintf(stderr, "signetctl keygen: give one NAME\n");
		usage_keygen(stderr);
		goto out;
	}
	if (!text_valid_name(argv[optind])) {
		fprintf(stderr,
		    "signetctl keygen: bad name \"%s\": use "
		    "[a-z0-9][a-z0-9._-]{0,62}\n",
		    text_escape_str(argv[optind], esc, sizeof(esc)));
		goto out;
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
	r = keys_write_pair(".", argv[optind], key, &msg);
	if (r != 0) {
		fprintf(stderr, "signetctl keygen: %s\n", msg.text);
		goto out;
	}
	printf("wrote %s.key (secret, mode 0600) and %s.pub, key id %s\n",
	    argv[optind], argv[optind], key->pub.id);
	rc = fflush(stdout) == 0 ? CMD_OK : CMD_FAIL;
out:
	sodium_free(key);
	return rc;
}
