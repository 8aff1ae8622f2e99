/* SPDX-License-Identifier: ISC */
/* libFuzzer harness for one line of dockerd's /events stream. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "docker.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct docker_event ev;
	struct err_msg msg;
	char *line = malloc(size + 1);

	if (line == NULL)
		return 0;
	memcpy(line, data, size);
	line[size] = '\0';
	(void)docker_event_parse(line, size, &ev, &msg);
	free(line);
	return 0;
}
