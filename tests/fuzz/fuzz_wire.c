/* SPDX-License-Identifier: ISC */
/*
 * libFuzzer harness for every frame parser of the agent channel (common/
 * wire): the bytes as an agent's hello, as a later agent frame (inventory,
 * action_result), as a server frame (action, result_ack), and as a refused
 * action frame whose claims are peeked at. What parses is built again and
 * must parse to the same thing.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *buf = (const char *)data;
	struct wire_hello hello, again;
	struct wire_frame f, g;
	struct err_msg msg;
	char *text = NULL, *payload = NULL, *key_id = NULL;
	size_t len = 0;

	if (wire_parse_hello(buf, size, &hello, &msg) == 0 &&
	    wire_build_hello(hello.host_id, hello.agent_version,
	        hello.docker_version, hello.result_key_id, &text, &len) == 0) {
		if (wire_parse_hello(text, len, &again, &msg) != 0 ||
		    memcmp(&hello, &again, sizeof(hello)) != 0)
			abort();
		free(text);
		text = NULL;
	}
	if (wire_parse_agent_frame(buf, size, &f, &msg) == 0)
		wire_frame_free(&f);
	if (wire_parse_server_frame(buf, size, &f, &msg) == 0) {
		int r = f.type == WIRE_ACTION ?
		    wire_build_action(f.payload_b64, f.sig_b64, f.key_id, &text,
		        &len) :
		    wire_build_result_ack(&f.ack, &text, &len);

		if (r == 0) {
			if (wire_parse_server_frame(text, len, &g, &msg) != 0 ||
			    g.type != f.type)
				abort();
			wire_frame_free(&g);
		}
		free(text);
		wire_frame_free(&f);
	} else {
		wire_frame_free(&f);
	}
	if (wire_peek_action(buf, size, &payload, &key_id) == 0) {
		free(payload);
		free(key_id);
	}
	return 0;
}
