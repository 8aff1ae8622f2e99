/* SPDX-License-Identifier: ISC */
/* signetctl keygen NAME: a new Ed25519 key pair in the current directory. */
#include <stdio.h>
#include <string.h>

#include "cmd.h"
#include "keys.h"
#include "text.h"

int
cmd_keygen(int argc, char **argv)
{
	struct keys_secret key;
	struct err_msg msg;
	int r;

	err_clear(&msg);
	if (argc == 1 && (strcmp(argv[0], "--help") == 0 ||
	    strcmp(argv[0], "-h") == 0)) {
		printf("usage: signetctl keygen NAME\n");
		return CMD_OK;
	}
	if (argc != 1 || argv[0][0] == '-') {
		fprintf(stderr, "usage: signetctl keygen NAME\n");
		return CMD_USAGE;
	}
	if (!text_valid_name(argv[0])) {
		char esc[160];
		fprintf(stderr, "signetctl keygen: bad name \"%s\": use "
		    "[a-z0-9][a-z0-9._-]{0,62}\n",
		    text_escape_str(argv[0], esc, sizeof(esc)));
		return CMD_USAGE;
	}
	r = keys_generate(&key);
	if (r != 0) {
		fprintf(stderr, "signetctl keygen: %s\n", err_str(r));
		return CMD_USAGE;
	}
	r = keys_write_pair(".", argv[0], &key, &msg);
	if (r != 0) {
		keys_secret_wipe(&key);
		fprintf(stderr, "signetctl keygen: %s\n", msg.text);
		return CMD_USAGE;
	}
	printf("wrote %s.key (secret, mode 0600) and %s.pub, key id %s\n",
	    argv[0], argv[0], key.pub.id);
	keys_secret_wipe(&key);
	return CMD_OK;
}
