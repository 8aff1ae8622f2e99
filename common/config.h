/* SPDX-License-Identifier: ISC */
/*
 * INI configuration (docs/commands.md) read with libinih against a schema:
 * every key must be known, appear once, and hold a value of its type; required
 * keys must be present. Errors read "FILE:LINE: what is wrong".
 */
#ifndef SIGNET_CONFIG_H
#define SIGNET_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"

#define CONFIG_FILE_MAX 65536
#define CONFIG_LINE_MAX 199 /* libinih's line buffer is 200 bytes */
#define CONFIG_WSS_URLS_MAX 16

enum config_type {
	CONFIG_STRING,  /* printable text */
	CONFIG_PATH,    /* absolute path */
	CONFIG_LISTEN,  /* HOST:PORT, IPv6 as [ADDR]:PORT */
	CONFIG_WSS_URL, /* wss://HOST:PORT[/path] */
	/* one or more CONFIG_WSS_URLs separated by spaces, at most
	 * CONFIG_WSS_URLS_MAX (the line's length bounds them too) */
	CONFIG_WSS_URLS,
	CONFIG_INT,  /* decimal integer in [min, max] */
	CONFIG_BOOL, /* true/false/yes/no/on/off/1/0 */
};

struct config_key {
	const char *section;
	const char *name;
	enum config_type type;
	bool required;
	const char *default_value; /* used when absent and not required */
	int64_t min, max;          /* CONFIG_INT only */
};

struct config;

/*
 * Parses path against schema[0..nkeys). The file must be a regular file
 * of at most CONFIG_FILE_MAX bytes. On success *out holds the values
 * (config_free it). SIGNET_ERR_CONFIG with "FILE:LINE: why" otherwise.
 */
int config_load(const char *path, const struct config_key *schema, size_t nkeys,
    struct config **out, struct err_msg *msg)
    __attribute__((warn_unused_result));

/*
 * Same for text already in memory; name is used in messages. Used by the
 * loader and the fuzz harness.
 */
int config_parse(const char *name, const char *text, size_t len,
    const struct config_key *schema, size_t nkeys, struct config **out,
    struct err_msg *msg) __attribute__((warn_unused_result));

/*
 * The value of [section] name: the file's, or the default; NULL when the
 * key is optional, absent and has no default. The key must be in the
 * schema (else NULL). The string lives as long as cfg.
 */
const char *config_get(const struct config *cfg, const char *section,
    const char *name);

/* Integer value (already range-checked at load); def when absent. */
int64_t config_get_int(const struct config *cfg, const char *section,
    const char *name, int64_t def);

/* Boolean value; def when absent. */
bool config_get_bool(const struct config *cfg, const char *section,
    const char *name, bool def);

/* The line a key was set on, 0 if it came from the default. */
unsigned config_line(const struct config *cfg, const char *section,
    const char *name);

/* The file name given to config_load/config_parse. */
const char *config_name(const struct config *cfg);

void config_free(struct config *cfg);

/*
 * Splits a CONFIG_LISTEN value into host (without brackets) and port.
 * Returns 0 or SIGNET_ERR_FORMAT.
 */
int config_split_listen(const char *value, char *host, size_t hostlen,
    int *port) __attribute__((warn_unused_result));

#endif
