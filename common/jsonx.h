/* SPDX-License-Identifier: ISC */
/*
 * Strict JSON for untrusted input on top of cJSON: whole-buffer parses
 * with no trailing bytes, UTF-8 checked, no NUL escapes (cJSON would cut
 * the string there, so a signed document could read differently from what
 * was signed), duplicate keys refused (cJSON keeps them), bounded nesting,
 * and typed getters that refuse wrong types and out-of-range numbers.
 */
#ifndef SIGNET_JSONX_H
#define SIGNET_JSONX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "err.h"

/* Largest integer a double holds exactly; JSON numbers above it are refused. */
#define JSONX_INT_MAX 9007199254740991LL

/*
 * Parses buf[0..len) (need not be NUL-terminated) as one JSON object.
 * Refuses: invalid UTF-8, "\u0000", trailing bytes, duplicate keys at any
 * level, nesting deeper than max_depth, a top level that is not an object.
 * On success *out owns the tree (cJSON_Delete it). SIGNET_ERR_FORMAT with
 * a message on failure; what names the input in messages.
 */
int jsonx_parse_object(const char *what, const void *buf, size_t len,
    int max_depth, cJSON **out, struct err_msg *msg)
    __attribute__((warn_unused_result));

/*
 * Refuses a member of obj whose name is not in allowed (NULL-terminated
 * list). path names obj in the message (e.g. "payload").
 */
int jsonx_only_members(const cJSON *obj, const char *const allowed[],
    const char *path, struct err_msg *msg) __attribute__((warn_unused_result));

/*
 * Gets member key as a string. Missing: SIGNET_ERR_FORMAT unless
 * optional, then *out = NULL. JSON null counts as missing when optional.
 * *out points into obj.
 */
int jsonx_get_string(const cJSON *obj, const char *key, bool optional,
    const char *path, const char **out, struct err_msg *msg)
    __attribute__((warn_unused_result));

/* Gets member key as an integer in [min, max]; fractions refused. */
int jsonx_get_int64(const cJSON *obj, const char *key, int64_t min, int64_t max,
    const char *path, int64_t *out, struct err_msg *msg)
    __attribute__((warn_unused_result));

/* Gets member key as an object (required). *out points into obj. */
int jsonx_get_object(const cJSON *obj, const char *key, const char *path,
    const cJSON **out, struct err_msg *msg) __attribute__((warn_unused_result));

/*
 * Adds member key = value to obj as its exact decimal digits. cJSON's own
 * number printing goes through a double and its "%.15g" rendering, which
 * comparing with a tolerance keeps for values above about 4.5e15 even
 * when it is off by one or two: a signed payload must say exactly the
 * value meant. Returns false on allocation failure.
 */
bool jsonx_add_int64(cJSON *obj, const char *key, int64_t value)
    __attribute__((warn_unused_result));

/*
 * Serialises item compactly into a new NUL-terminated string (free()).
 * Returns NULL on allocation failure.
 */
char *jsonx_print(const cJSON *item);

#endif
