/* SPDX-License-Identifier: ISC */
/*
 * libFuzzer harness for what an agent sends the server: the bytes as a
 * hello and as a later frame (inventory, ...).
 */
#include <stdint.h>
#include <stdlib.h>

#include "hub.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct hub_hello hello;
	struct inventory *inv = NULL;
	struct err_msg msg;

	(void)hub_parse_hello((const char *)data, size, &hello, &msg);
	if (hub_parse_frame((const char *)data, size, &inv, &msg) == 0)
		inventory_free(inv);
	return 0;
}
