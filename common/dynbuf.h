/* SPDX-License-Identifier: ISC */
/*
 * A growing byte buffer with a hard maximum chosen when it is made (curl's
 * dynbuf is the model): every buffer that fills from a peer, dockerd or a
 * renderer grows through here, so none can grow without bound. The bytes
 * are always followed by a NUL, so text can be used as a C string.
 */
#ifndef SIGNET_DYNBUF_H
#define SIGNET_DYNBUF_H

#include <stdbool.h>
#include <stddef.h>

struct dynbuf {
	char *buf;  /* NULL until the first byte */
	size_t len; /* bytes held, NUL not counted */
	size_t cap; /* bytes allocated */
	size_t max; /* len never exceeds it */
};

/* Sets b up empty, holding at most max bytes (max > 0). Allocates nothing. */
void dynbuf_init(struct dynbuf *b, size_t max);

/*
 * Appends p[0..n). Returns 0, SIGNET_ERR_TOO_LARGE (len would pass max)
 * or SIGNET_ERR_ALLOC; on failure b holds what it held before.
 */
int dynbuf_add(struct dynbuf *b, const void *p, size_t n)
    __attribute__((warn_unused_result));

/* Appends printf-formatted text; returns as dynbuf_add. */
int dynbuf_addf(struct dynbuf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3), warn_unused_result));

/*
 * Makes sure n more bytes fit without another allocation (a caller that
 * fills the space itself, then dynbuf_commit). Returns as dynbuf_add.
 */
int dynbuf_reserve(struct dynbuf *b, size_t n)
    __attribute__((warn_unused_result));

/* The bytes held ("" when none), NUL-terminated. Valid until b changes. */
const char *dynbuf_ptr(const struct dynbuf *b);
size_t dynbuf_len(const struct dynbuf *b);

/* Empties b, keeping its memory. */
void dynbuf_reset(struct dynbuf *b);

/*
 * Hands the bytes over: a NUL-terminated buffer (free()) of *len bytes, or
 * a new empty string when b holds none; NULL only when that allocation
 * fails. b is empty afterwards.
 */
char *dynbuf_take(struct dynbuf *b, size_t *len);

/* Frees what b holds (NULL allowed) and empties it. */
void dynbuf_free(struct dynbuf *b);

#endif
