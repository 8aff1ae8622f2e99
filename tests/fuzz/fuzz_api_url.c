/* SPDX-License-Identifier: ISC */
/* libFuzzer harness for the operator API's request-target parser. */
#include <stdint.h>
#include <stdlib.h>

#include "api_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const allowed[] = { "host", "state", NULL };
	struct api_url *u = malloc(sizeof(*u));
	struct err_msg msg;

	if (u == NULL)
		return 0;
	if (api_url_parse((const char *)data, size, u, &msg) == 0) {
		(void)api_url_param(u, "host");
		(void)api_url_only_params(u, allowed, &msg);
	}
	free(u);
	return 0;
}
