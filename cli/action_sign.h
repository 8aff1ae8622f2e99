/* SPDX-License-Identifier: ISC */
/*
 * The operator-signed body of signetctl action (docs/operators.md): the
 * container's full id and host and the roster the server holds are read
 * from the API, the request is built, checked as a host would parse it,
 * and signed with the operator's key, which never leaves this process.
 */
#ifndef SIGNETCTL_ACTION_SIGN_H
#define SIGNETCTL_ACTION_SIGN_H

#include <stdint.h>

#include "cmd.h"
#include "keys.h"

struct action_sign_args {
	const char *container; /* the id as given (full or a prefix) */
	const char *action;    /* "START", "STOP", "RESTART" */
	const char *reason;
	int64_t lifetime_s; /* expires_at - issued_at, seconds */
	const struct keys_secret *key;
};

/*
 * Builds and signs the request, into *body ({"request":{payload, sig,
 * key_id}}, a new string) and full_id (the container's 64 hex digits, for
 * the path). Returns CMD_OK, or CMD_FAIL / CMD_USAGE / the HTTP status's
 * code, having said why on stderr.
 */
int action_sign_body(struct cmd_ctx *ctx, const struct action_sign_args *a,
    char **body, char full_id[static 65]);

#endif
