/* SPDX-License-Identifier: ISC */
/*
 * libFuzzer harness for the operator key file reader (common/opkey.h):
 * the input is written as a 0600 key file and read back without a
 * passphrase, so every header, length and checksum check runs and a
 * sealed file stops before the key derivation (which would cost 0.1 s).
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "fileio.h"
#include "opkey.h"

static char dir[] = "/tmp/signet-fuzz-opkey.XXXXXX";
static char path[sizeof(dir) + 16];

static void
cleanup(void)
{
	(void)unlink(path);
	(void)rmdir(dir);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int ready;
	struct keys_secret out;
	struct err_msg msg;
	int r;

	if (!ready) {
		if (mkdtemp(dir) == NULL)
			abort();
		(void)snprintf(path, sizeof(path), "%s/k.key", dir);
		(void)atexit(cleanup);
		ready = 1;
	}
	(void)unlink(path);
	if (fileio_write_new(path, data, size, 0600, &msg) != 0)
		abort();
	r = opkey_is_sealed(path, &msg);
	if (r == 0) {
		if (opkey_load(path, NULL, 0, &out, &msg) == 0)
			keys_secret_wipe(&out);
	} else if (r == 1 &&
	    opkey_load(path, NULL, 0, &out, &msg) != SIGNET_ERR_INVALID_ARG) {
		abort(); /* sealed and no passphrase: always refused */
	}
	(void)unlink(path);
	return 0;
}
