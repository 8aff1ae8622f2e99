/* SPDX-License-Identifier: ISC */
/*
 * libFuzzer harness for the inventory parsers: the bytes as dockerd's
 * /containers/json answer (what the agent reads) and as an inventory
 * frame's containers array (what the server reads from an agent).
 */
#include <stdint.h>
#include <stdlib.h>

#include "inventory.h"
#include "jsonx.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct inventory *inv = NULL;
	struct err_msg msg;
	cJSON *root = NULL;

	if (inventory_from_docker((const char *)data, size, &inv, &msg) == 0) {
		struct inventory *copy = inventory_dup(inv);
		inventory_free(copy);
		inventory_free(inv);
		inv = NULL;
	}
	if (jsonx_parse_object("frame", data, size, 16, &root, &msg) == 0) {
		if (inventory_from_frame(
		        cJSON_GetObjectItemCaseSensitive(root, "containers"),
		        &inv, &msg) == 0) {
			cJSON *back = inventory_to_json(inv, "h");
			cJSON_Delete(back);
			inventory_free(inv);
		}
		cJSON_Delete(root);
	}
	return 0;
}
