/* SPDX-License-Identifier: ISC */
/*
 * The bounded growing buffer: appends up to the maximum and not one byte
 * past it (the contents stay as they were), formatted appends, the NUL
 * after the bytes, reset, take and free.
 */
#include <stdlib.h>
#include <string.h>

#include "dynbuf.h"
#include "err.h"
#include "testlib.h"

int
main(void)
{
	struct dynbuf b;
	char big[1000], *p;
	size_t len, i;

	dynbuf_init(&b, 10);
	CHECK(strcmp(dynbuf_ptr(&b), "") == 0 && dynbuf_len(&b) == 0);
	CHECK(dynbuf_add(&b, "hello", 5) == 0);
	CHECK(dynbuf_add(&b, "", 0) == 0);
	CHECK(dynbuf_addf(&b, "-%d", 42) == 0);
	CHECK(strcmp(dynbuf_ptr(&b), "hello-42") == 0 && dynbuf_len(&b) == 8);
	/* 3 more would make 11: refused, nothing changed. */
	CHECK(dynbuf_add(&b, "abc", 3) == SIGNET_ERR_TOO_LARGE);
	CHECK(dynbuf_addf(&b, "%s", "abc") == SIGNET_ERR_TOO_LARGE);
	CHECK(strcmp(dynbuf_ptr(&b), "hello-42") == 0 && dynbuf_len(&b) == 8);
	CHECK(dynbuf_add(&b, "ab", 2) == 0 && dynbuf_len(&b) == 10);
	CHECK(dynbuf_add(&b, "x", 1) == SIGNET_ERR_TOO_LARGE);
	CHECK(dynbuf_reserve(&b, 1) == SIGNET_ERR_TOO_LARGE);
	CHECK(dynbuf_reserve(&b, (size_t)-1) == SIGNET_ERR_TOO_LARGE);
	CHECK(b.cap <= b.max + 1);
	dynbuf_reset(&b);
	CHECK(dynbuf_len(&b) == 0 && strcmp(dynbuf_ptr(&b), "") == 0);
	CHECK(dynbuf_add(&b, "x", 1) == 0);
	p = dynbuf_take(&b, &len);
	CHECK(p != NULL && len == 1 && strcmp(p, "x") == 0);
	free(p);
	CHECK(b.buf == NULL && dynbuf_len(&b) == 0);
	p = dynbuf_take(&b, &len);
	CHECK(p != NULL && len == 0 && p[0] == '\0');
	free(p);

	/* Growth by doubling, bytes intact, capacity within the maximum. */
	dynbuf_init(&b, 100000);
	memset(big, 'a', sizeof(big));
	for (i = 0; i < 100; i++)
		CHECK(dynbuf_add(&b, big, sizeof(big)) == 0);
	CHECK(dynbuf_len(&b) == 100000 && b.cap == 100001);
	CHECK(dynbuf_ptr(&b)[99999] == 'a' && dynbuf_ptr(&b)[100000] == '\0');
	CHECK(dynbuf_add(&b, "a", 1) == SIGNET_ERR_TOO_LARGE);
	dynbuf_free(&b);
	dynbuf_free(NULL);
	CHECK(b.buf == NULL);
	return test_finish("test_dynbuf");
}
