/* SPDX-License-Identifier: ISC */
/*
 * libFuzzer harness for the audit line parser (what `signetctl audit
 * verify` and a restarting writer read from a possibly tampered file),
 * and the link an audit.rotated record makes to the file before it.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "audit.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct keys_public pub;
	static int ready;
	struct audit_record rec;
	struct err_msg msg;
	char *line;

	if (!ready) {
		if (sodium_init() < 0)
			abort();
		memset(pub.pk, 3, sizeof(pub.pk));
		keys_id(pub.pk, pub.id);
		ready = 1;
	}
	line = malloc(size + 1);
	if (line == NULL)
		return 0;
	memcpy(line, data, size);
	line[size] = '\0';
	if (audit_parse_line(line, size, &rec, &msg) == 0) {
		struct audit_link link;

		(void)audit_check_sig(&rec, line, &pub);
		/* An audit.rotated record's link to the file before it. */
		(void)audit_link_parse(&rec, &link, &msg);
		audit_record_free(&rec);
	}
	free(line);
	return 0;
}
