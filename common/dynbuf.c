/* SPDX-License-Identifier: ISC */
/*
 * The bounded growing buffer of dynbuf.h: doubling growth up to the
 * buffer's own maximum, overflow-safe size checks by subtraction, and the
 * contents left as they were when an append cannot be made.
 */
#include "dynbuf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"

#define DYNBUF_FIRST 4096

void
dynbuf_init(struct dynbuf *b, size_t max)
{
	memset(b, 0, sizeof(*b));
	b->max = max;
}

int
dynbuf_reserve(struct dynbuf *b, size_t n)
{
	size_t need, ncap;
	char *nb;

	if (b->len > b->max || n > b->max - b->len)
		return SIGNET_ERR_TOO_LARGE;
	need = b->len + n + 1; /* <= max + 1: no overflow */
	if (need <= b->cap)
		return 0;
	ncap = b->cap < DYNBUF_FIRST ? DYNBUF_FIRST : b->cap;
	while (ncap < need)
		ncap = ncap > b->max / 2 ? b->max + 1 : ncap * 2;
	if (ncap > b->max + 1)
		ncap = b->max + 1; /* a small maximum: never allocate past it */
	nb = realloc(b->buf, ncap);
	if (nb == NULL)
		return SIGNET_ERR_ALLOC;
	b->buf = nb;
	b->cap = ncap;
	return 0;
}

int
dynbuf_add(struct dynbuf *b, const void *p, size_t n)
{
	int r;

	if (n == 0)
		return 0;
	r = dynbuf_reserve(b, n);
	if (r != 0)
		return r;
	memcpy(b->buf + b->len, p, n);
	b->len += n;
	b->buf[b->len] = '\0';
	return 0;
}

int
dynbuf_addf(struct dynbuf *b, const char *fmt, ...)
{
	va_list ap;
	int n, r;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return SIGNET_ERR_INVALID_ARG;
	r = dynbuf_reserve(b, (size_t)n);
	if (r != 0)
		return r;
	va_start(ap, fmt);
	n = vsnprintf(b->buf + b->len, b->cap - b->len, fmt, ap);
	va_end(ap);
	if (n < 0) {
		b->buf[b->len] = '\0';
		return SIGNET_ERR_INVALID_ARG;
	}
	b->len += (size_t)n;
	return 0;
}

const char *
dynbuf_ptr(const struct dynbuf *b)
{
	return b->buf != NULL ? b->buf : "";
}

size_t
dynbuf_len(const struct dynbuf *b)
{
	return b->len;
}

void
dynbuf_reset(struct dynbuf *b)
{
	b->len = 0;
	if (b->buf != NULL)
		b->buf[0] = '\0';
}

char *
dynbuf_take(struct dynbuf *b, size_t *len)
{
	char *p = b->buf;

	*len = b->len;
	if (p == NULL)
		p = calloc(1, 1);
	b->buf = NULL;
	b->len = b->cap = 0;
	return p;
}

void
dynbuf_free(struct dynbuf *b)
{
	if (b == NULL)
		return;
	free(b->buf);
	b->buf = NULL;
	b->len = b->cap = 0;
}
