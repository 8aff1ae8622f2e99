/* SPDX-License-Identifier: ISC */
/*
 * Small text helpers every module needs: escaping untrusted bytes for logs
 * and error messages, range-checked number parsing (no atoi), the name
 * syntax of docs/protocol.md, and hex encoding.
 */
#ifndef SIGNET_TEXT_H
#define SIGNET_TEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Writes a printable, quoted-safe rendering of in[0..inlen) into out
 * (always NUL-terminated when outlen > 0): printable ASCII stays, except
 * '\\' and '"', which are backslashed; all else becomes \xHH. Output that
 * would not fit ends with "...". Returns out.
 */
char *text_escape(const void *in, size_t inlen, char *out, size_t outlen);

/* text_escape of a NUL-terminated string (NULL prints as "(null)"). */
char *text_escape_str(const char *in, char *out, size_t outlen);

/*
 * As text_escape, but '\\' and '"' stay as they are: for a whole log line
 * (the log sink's escaper), which may hold quoted, escaped values already.
 */
char *text_vis(const void *in, size_t inlen, char *out, size_t outlen);

/* text_vis of a NUL-terminated string; NULL gives "". */
char *text_vis_str(const char *in, char *out, size_t outlen);

/*
 * Parses a whole decimal integer in [min, max] from s (no sign for
 * non-negative ranges is required; leading '+' and spaces refused).
 * Returns 0, or SIGNET_ERR_FORMAT (not a number, trailing junk) or
 * SIGNET_ERR_TOO_LARGE (out of range). *out untouched on failure.
 */
int text_to_int64(const char *s, int64_t min, int64_t max, int64_t *out)
    __attribute__((warn_unused_result));

/* True when s matches [a-z0-9][a-z0-9._-]{0,62} (host ids, user names). */
bool text_valid_name(const char *s);

/* True when s is exactly n lowercase hex digits. */
bool text_is_hex(const char *s, size_t n);

/* Lowercase hex of in into out (needs 2*inlen+1 bytes). Returns out. */
char *text_hex(const uint8_t *in, size_t inlen, char *out);

/*
 * The one base64 decoder (standard alphabet, padded, nothing after it):
 * b64[0..b64len) into buf, at most cap bytes; *len gets the count.
 * Returns 0, SIGNET_ERR_FORMAT (empty, not base64, trailing bytes) or
 * SIGNET_ERR_TOO_LARGE (more than cap bytes).
 */
int text_b64_decode_into(const char *b64, size_t b64len, uint8_t *buf,
    size_t cap, size_t *len) __attribute__((warn_unused_result));

/*
 * As text_b64_decode_into, into a new NUL-terminated buffer *out of at
 * most max bytes (free()). Also SIGNET_ERR_ALLOC; *out NULL on failure.
 */
int text_b64_decode(const char *b64, size_t b64len, size_t max, uint8_t **out,
    size_t *len) __attribute__((warn_unused_result));

/*
 * True when buf[0..len) is well-formed UTF-8 (no overlongs, surrogates or
 * code points above U+10FFFF).
 */
bool text_utf8_valid(const void *buf, size_t len);

/* Number of code points in well-formed UTF-8 s (call text_utf8_valid first). */
size_t text_utf8_chars(const char *s);

/* True when s holds a C0 control character or DEL. */
bool text_has_control(const char *s);

#endif
