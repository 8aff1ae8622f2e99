/* SPDX-License-Identifier: ISC */
/*
 * libFuzzer harness for the envelope parser: the bytes are tried as an
 * action payload, a result payload, and as base64 text opened under a
 * fixed key, as an agent or the server would receive them.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "envelope.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct keys_public pub;
	static int ready;
	struct envelope_action_payload a;
	struct envelope_result_payload r;
	struct err_msg msg;
	uint8_t *out = NULL;
	size_t outlen = 0;
	char *text, *sep;

	if (!ready) {
		if (sodium_init() < 0)
			abort();
		memset(pub.pk, 7, sizeof(pub.pk));
		keys_id(pub.pk, pub.id);
		ready = 1;
	}
	(void)envelope_action_decode(data, size, &a, &msg);
	(void)envelope_result_decode(data, size, &r, &msg);
	/* "payload_b64 NUL sig_b64" as the two strings of a frame. */
	text = malloc(size + 2);
	if (text == NULL)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	text[size + 1] = '\0';
	sep = memchr(text, '\n', size);
	if (sep != NULL)
		*sep = '\0';
	if (envelope_open(ENVELOPE_CTX_ACTION, text,
	        sep != NULL ? sep + 1 : text + size, &pub, &out, &outlen,
	        &msg) == 0)
		free(out);
	free(text);
	return 0;
}
