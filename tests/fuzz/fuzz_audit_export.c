/* SPDX-License-Identifier: ISC */
/*
 * libFuzzer harness for the export of audit records (what `signetctl
 * audit export` makes of a possibly hostile log line without --key): the
 * first input line is parsed as a record and exported (the data's bytes
 * located in the line and checked against the parsed data), the rest of
 * the input is tried as an --since time and an --event pattern.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit_export.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char hash[AUDIT_HASH_HEX + 1] =
	    "0000000000000000000000000000000000000000000000000000000000000000";
	struct audit_export_filter f;
	struct audit_export *x = NULL;
	struct audit_record rec;
	struct err_msg msg;
	const uint8_t *nl = memchr(data, '\n', size);
	size_t len = nl != NULL ? (size_t)(nl - data) : size;
	char *line = NULL, *rest = NULL, *text = NULL;
	size_t textlen = 0, restlen = size - len - (nl != NULL ? 1 : 0);
	int64_t ms;
	FILE *out;

	line = malloc(len + 1);
	rest = malloc(restlen + 1);
	if (line == NULL || rest == NULL)
		goto out;
	memcpy(line, data, len);
	line[len] = '\0';
	memcpy(rest, data + size - restlen, restlen);
	rest[restlen] = '\0';
	(void)audit_export_parse_time(rest, &ms);
	memset(&f, 0, sizeof(f));
	if (audit_export_check_pattern(rest) == 0) {
		f.npatterns = 1;
		f.patterns[0] = rest;
	}
	out = open_memstream(&text, &textlen);
	if (out == NULL)
		goto out;
	if (audit_export_new(out, &f, &x, &msg) == 0 &&
	    audit_parse_line(line, len, &rec, &msg) == 0) {
		(void)audit_export_record(x, &rec, line, hash, false, &msg);
		audit_record_free(&rec);
		(void)audit_export_finish(x, &msg);
	}
	audit_export_free(x);
	(void)fclose(out);
out:
	free(text);
	free(line);
	free(rest);
	return 0;
}
