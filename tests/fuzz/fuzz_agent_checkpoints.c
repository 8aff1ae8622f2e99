/* SPDX-License-Identifier: ISC */
/*
 * libFuzzer harness for the line parser of the server's files of agents'
 * checkpoints (server/agent_checkpoints.c, agent_cp_parse_line): what
 * parses keeps its bounds (old below new, at most MERKLE_PROOF_MAX
 * hashes, none from 0, a note of 1..NOTE_SIZE_MAX bytes).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agent_checkpoints.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct agent_cp_step st;
	struct err_msg msg;
	char *note = NULL;

	if (agent_cp_parse_line((const char *)data, size, &st, &note, &msg) ==
	    0) {
		if (st.old >= st.new || st.nhashes > MERKLE_PROOF_MAX ||
		    (st.old == 0 && st.nhashes > 0) || note == NULL ||
		    note[0] == '\0' || strlen(note) > NOTE_SIZE_MAX)
			abort();
		free(note);
	} else if (note != NULL) {
		abort();
	}
	return 0;
}
