/* SPDX-License-Identifier: ISC */
/*
 * Loading the policy from disk the way sshd's StrictModes would: no
 * symbolic link, a regular file owned by root or the agent's user in
 * directories nobody else can write to, at most POLICY_FILE_MAX bytes;
 * then policy_parse.
 */
#include "policy.h"

#include <stdlib.h>

#include "fileio.h"

int
policy_load(const char *path, const char *host_id, struct policy **out,
    struct err_msg *msg)
{
	char *buf = NULL;
	size_t len = 0;
	int r;

	*out = NULL;
	err_clear(msg);
	r = fileio_read_trusted(path, POLICY_FILE_MAX, "the policy", &buf, &len,
	    msg);
	if (r == 0)
		r = policy_parse(buf, len, path, host_id, out, msg);
	free(buf);
	return r;
}
