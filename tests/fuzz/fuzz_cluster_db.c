/* SPDX-License-Identifier: ISC */
/*
 * libFuzzer harness for what the cluster database answers: one host row,
 * one action row (built as a libpq result, as a hostile database would
 * send it) or one notification, through the checks server/cluster_db.c
 * makes before it uses any of it. Input: a first byte choosing the kind
 * (host, action, notification), then the fields separated by 0x1f; a
 * field that is exactly 0x1e is SQL NULL; missing fields are NULL.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "cluster_db.h"

#define FIELDS_MAX 12

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static PGresult *
make_row(int ncols, const uint8_t *data, size_t size)
{
	PGresAttDesc attrs[FIELDS_MAX];
	PGresult *res = PQmakeEmptyPGresult(NULL, PGRES_TUPLES_OK);
	size_t start = 0, i;
	int col = 0;

	if (res == NULL)
		return NULL;
	memset(attrs, 0, sizeof(attrs));
	for (col = 0; col < ncols; col++) {
		attrs[col].name = (char *)"c";
		attrs[col].typid = 25; /* text */
		attrs[col].typlen = -1;
		attrs[col].atttypmod = -1;
	}
	if (!PQsetResultAttrs(res, ncols, attrs))
		goto fail;
	col = 0;
	for (i = 0; i <= size && col < ncols; i++) {
		if (i < size && data[i] != 0x1f)
			continue;
		if (i - start == 1 && data[start] == 0x1e) {
			if (!PQsetvalue(res, 0, col, NULL, -1))
				goto fail;
		} else if (!PQsetvalue(res, 0, col, (char *)(data + start),
		               (int)(i - start))) {
			goto fail;
		}
		col++;
		start = i + 1;
	}
	for (; col < ncols; col++)
		if (!PQsetvalue(res, 0, col, NULL, -1))
			goto fail;
	return res;
fail:
	PQclear(res);
	return NULL;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cluster_db_host h;
	struct cluster_db_action a;
	struct err_msg msg;
	PGresult *res = NULL;
	char *copy = NULL, *sep;

	if (size < 1 || size > 65536)
		return 0;
	switch (data[0] % 3) {
	case 0:
		res = make_row(7, data + 1, size - 1);
		if (res != NULL && cluster_db_host_row(res, 0, &h, &msg) == 0)
			cluster_db_host_free(&h);
		break;
	case 1:
		res = make_row(12, data + 1, size - 1);
		if (res != NULL && cluster_db_action_row(res, 0, &a, &msg) == 0)
			cluster_db_action_free(&a);
		break;
	default:
		copy = malloc(size);
		if (copy == NULL)
			return 0;
		memcpy(copy, data + 1, size - 1);
		copy[size - 1] = '\0';
		sep = strchr(copy, 0x1f);
		if (sep != NULL) {
			*sep = '\0';
			(void)cluster_db_notification_valid(copy, sep + 1);
		}
		free(copy);
	}
	PQclear(res);
	return 0;
}
