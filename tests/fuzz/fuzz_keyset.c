/* SPDX-License-Identifier: ISC */
/*
 * libFuzzer harness for the names of retired result keys
 * (keyset_parse_retired_name): HOST-ID.YYYYMMDDTHHMMSSZ.pub, the host id
 * all before the last stamp. A name taken must give a valid host id that
 * the name starts with.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "keyset.h"
#include "text.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char host[KEYSET_HOST_MAX + 1];
	int64_t at = 0;
	char *name;

	if (size > 4096)
		return 0;
	name = malloc(size + 1);
	if (name == NULL)
		return 0;
	memcpy(name, data, size);
	name[size] = '\0';
	if (keyset_parse_retired_name(name, host, sizeof(host), &at) == 0 &&
	    (!text_valid_name(host) || strncmp(name, host, strlen(host)) != 0 ||
	        at < 0))
		abort();
	free(name);
	return 0;
}
