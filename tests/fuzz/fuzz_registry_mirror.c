/* SPDX-License-Identifier: ISC */
/*
 * libFuzzer harness for the cluster mirror's parser (registry_mirror.c):
 * what another replica stored for a host, read as hostile bytes. The
 * input is split at its first NUL into the info text and the inventory
 * text (none: the inventory is absent); what parses is taken into a
 * registry, as the cluster thread does, held by r1: registry_anchors then
 * says what the info's "anchors" said.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "registry.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct registry_remote rm;
	struct inventory *inv = NULL;
	struct registry *reg;
	struct err_msg msg;
	char *text;
	const char *rows = NULL;
	size_t cut;

	text = malloc(size + 1);
	if (text == NULL)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	cut = strlen(text);
	if (cut < size)
		rows = text + cut + 1;
	memset(&rm, 0, sizeof(rm));
	if (registry_remote_parse(text, rows, &rm, &inv, &msg) == 0) {
		reg = registry_new();
		memcpy(rm.host_id, "web-01", sizeof("web-01"));
		memcpy(rm.replica, "r1", sizeof("r1"));
		rm.held = true;
		if (reg != NULL) {
			if (registry_mirror(reg, &rm, inv) == 0) {
				/* Held: the stored word, as the API asks. */
				if (registry_anchors(reg, "web-01") !=
				    rm.anchors)
					abort();
				cJSON_Delete(registry_hosts_json(reg, 0));
				cJSON_Delete(
				    registry_containers_json(reg, NULL, NULL));
			}
			inv = NULL;
		}
		inventory_free(inv);
		registry_free(reg);
	}
	free(text);
	return 0;
}
