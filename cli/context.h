/* SPDX-License-Identifier: ISC */
/*
 * signetctl's configuration file of named contexts, like a kubeconfig:
 * where the file is, reading it strictly, and picking a context. The file
 * is INI: an optional "current = NAME" before any section, then one
 * section [NAME] per context with the keys server, ca, cert and key
 * (absolute paths for the files). It names the CA signetctl trusts, so a
 * file that group or others may write, or that another user owns, is
 * refused.
 */
#ifndef SIGNETCTL_CONTEXT_H
#define SIGNETCTL_CONTEXT_H

#include <stdbool.h>
#include <stddef.h>

#include "err.h"

#define CONTEXT_MAX 64                /* contexts in one file */
#define CONTEXT_NAME_MAX 64           /* text_valid_name: 63 + NUL */
#define CONTEXT_VALUE_MAX 1024        /* a URL or a path, with NUL */
#define CONTEXT_PATH_MAX 4096         /* the file's own path */
#define CONTEXT_FILE_MAX (256 * 1024) /* the file's size */

enum context_field {
	CONTEXT_SERVER = 0,
	CONTEXT_CA,
	CONTEXT_CERT,
	CONTEXT_KEY,
	CONTEXT_NFIELDS,
};

/* Key names, indexed by enum context_field: "server", "ca", ... */
extern const char *const context_field_names[CONTEXT_NFIELDS];

struct context {
	char name[CONTEXT_NAME_MAX];
	char value[CONTEXT_NFIELDS][CONTEXT_VALUE_MAX]; /* "" when unset */
};

struct context_file {
	char path[CONTEXT_PATH_MAX];
	bool exists;                    /* false: no file, no contexts */
	char current[CONTEXT_NAME_MAX]; /* "" when not set */
	size_t n;
	struct context ctx[CONTEXT_MAX];
};

/*
 * The configuration file's path into out: opt (--config) when not NULL,
 * else $SIGNET_CONFIG when set and not empty, else
 * $XDG_CONFIG_HOME/signet/signetctl.conf when XDG_CONFIG_HOME is set to
 * an absolute path, else $HOME/.config/signet/signetctl.conf. *chosen is
 * true for the first two (the file must then exist). Returns 0,
 * SIGNET_ERR_NOT_FOUND (no HOME to find the default under; out is "") or
 * SIGNET_ERR_TOO_LARGE (path too long), with msg.
 */
int context_path(const char *opt, char *out, size_t outlen, bool *chosen,
    struct err_msg *msg) __attribute__((warn_unused_result));

/*
 * Reads the file at path into *cf (cleared first). A missing file is
 * SIGNET_ERR_NOT_FOUND when must_exist, else an empty *cf with exists
 * false. Returns 0, SIGNET_ERR_NOT_FOUND, SIGNET_ERR_IO (cannot open or
 * read), SIGNET_ERR_PERMISSIONS (writable by group or others, owned by
 * another user but root, or not a regular file), SIGNET_ERR_TOO_LARGE
 * (over CONTEXT_FILE_MAX, CONTEXT_MAX contexts, or a value too long) or
 * SIGNET_ERR_CONFIG (a syntax error, an unknown key, a bad section name,
 * a section or key given twice, a relative path, "current" naming no
 * context), msg naming the file, the line and the fix.
 */
int context_load(struct context_file *cf, const char *path, bool must_exist,
    struct err_msg *msg) __attribute__((warn_unused_result));

/* The context called name, or NULL. */
const struct context *context_find(const struct context_file *cf,
    const char *name);

/*
 * The context in use: name (from --context or SIGNET_CONTEXT) when not
 * NULL, else the file's current one, else none. Returns 0 with *out the
 * context or NULL (none chosen), or SIGNET_ERR_NOT_FOUND when name names
 * no context of the file (msg says so, listing where it looked).
 */
int context_select(const struct context_file *cf, const char *name,
    const struct context **out, struct err_msg *msg)
    __attribute__((warn_unused_result));

#endif
