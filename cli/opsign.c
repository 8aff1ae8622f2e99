/* SPDX-License-Identifier: ISC */
/* Loading the operator's signing key, asking for its passphrase. */
#include "opsign.h"

#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "fileio.h"
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

/* Bytes read to tell the two formats apart: an operator key file is 208. */
#define OPSIGN_PEEK_MAX 512

int
opsign_load_any(const char *path, int passphrase_fd, struct keys_secret *out,
    bool *sealed, struct err_msg *msg)
{
	static const char magic[] = OPKEY_MAGIC " ";
	char *buf = NULL;
	size_t len = 0;
	bool is_opkey;
	int r;

	*sealed = false;
	keys_secret_wipe(out);
	buf = sodium_malloc(OPSIGN_PEEK_MAX + 1);
	if (buf == NULL) {
		r = err_set(msg, SIGNET_ERR_ALLOC, "%s: out of memory", path);
		goto out;
	}
	/* Mode, owner and symbolic links are checked here and again below. */
	r = fileio_read_small(path, buf, OPSIGN_PEEK_MAX, &len, FILEIO_SECRET,
	    msg);
	if (r != 0 && r != SIGNET_ERR_TOO_LARGE)
		goto out;
	is_opkey = r == 0 && len >= sizeof(magic) - 1 &&
	    memcmp(buf, magic, sizeof(magic) - 1) == 0;
	if (!is_opkey) {
		r = keys_load_secret(path, out, msg);
		goto out;
	}
	r = opkey_is_sealed(path, msg);
	if (r < 0)
		goto out;
	*sealed = r == 1;
	r = opsign_load(path, passphrase_fd, out, msg);
out:
	sodium_free(buf); /* wipes; NULL allowed */
	if (r != 0) {
		*sealed = false;
		keys_secret_wipe(out);
	}
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
