/* SPDX-License-Identifier: ISC */
/* Loading the operator's signing key, asking for its passphrase. */
#include "opsign.h"

#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>

#include "opkey.h"
#include "text.h"

int
opsign_load(const char *path, int passphrase_fd, struct keys_secret *out,
    struct err_msg *msg)
{
	char prompt[200], esc[160], *pass = NULL;
	size_t len = 0;
	int r;

	keys_secret_wipe(out);
	r = opkey_is_sealed(path, msg);
	if (r < 0)
		goto out;
	if (r == 1) {
		(void)snprintf(prompt, sizeof(prompt), "passphrase for %s: ",
		    text_escape_str(path, esc, sizeof(esc)));
		r = opkey_read_passphrase(passphrase_fd, prompt, false, &pass,
		    &len, msg);
		if (r != 0)
			goto out;
	}
	r = opkey_load(path, pass, len, out, msg);
out:
	opkey_passphrase_free(pass, len);
	if (r != 0)
		keys_secret_wipe(out);
	return r;
}

bool
opsign_parse_fd(const char *text, int *fd)
{
	int64_t v = 0;

	*fd = -1;
	if (text_to_int64(text, 0, INT_MAX, &v) != 0)
		return false;
	if (fcntl((int)v, F_GETFD) < 0)
		return false;
	*fd = (int)v;
	return true;
}
