/* SPDX-License-Identifier: ISC */
/*
 * Test-only: checks a certificate file with the identity module, as the
 * listeners will, and prints "ROLE NAME SERIAL" or the refusal.
 *   identity_tool CA CRL CERT ROLES
 * ROLES is a comma list of server,agent,operator,auditor.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fileio.h"
#include "identity.h"

int
main(int argc, char **argv)
{
	struct identity_store *store = NULL;
	struct identity id;
	struct err_msg msg;
	unsigned mask = 0;
	char *pem = NULL, list[128];
	size_t len = 0;
	int rc = 2;

	if (argc != 5) {
		fprintf(stderr, "usage: identity_tool CA CRL CERT ROLES\n");
		return 2;
	}
	if (snprintf(list, sizeof(list), ",%s,", argv[4]) >= (int)sizeof(list))
		return 2;
	if (strstr(list, ",server,") != NULL)
		mask |= IDENTITY_ACCEPT_SERVER;
	if (strstr(list, ",agent,") != NULL)
		mask |= IDENTITY_ACCEPT_AGENT;
	if (strstr(list, ",operator,") != NULL)
		mask |= IDENTITY_ACCEPT_OPERATOR;
	if (strstr(list, ",auditor,") != NULL)
		mask |= IDENTITY_ACCEPT_AUDITOR;
	if (identity_store_load(argv[1], argv[2], &store, &msg) != 0) {
		printf("store refused: %s\n", msg.text);
		goto out;
	}
	if (fileio_read_alloc(argv[3], IDENTITY_CERT_MAX, &pem, &len, &msg) !=
	    0) {
		printf("read: %s\n", msg.text);
		goto out;
	}
	if (identity_verify_pem(store, pem, len, mask, 0, &id, &msg) != 0) {
		printf("refused: %s\n", msg.text);
		rc = 1;
		goto out;
	}
	printf("%s %s %s\n", identity_role_name(id.role), id.name, id.serial);
	rc = 0;
out:
	free(pem);
	identity_store_free(store);
	return rc;
}
