/* SPDX-License-Identifier: ISC */
/*
 * One error space for all of signet: every function that can fail returns
 * 0 on success or one of these negative codes, and err_str() names it.
 * Functions that can say more (which line, which field) also fill a
 * caller-supplied struct err_msg with a human sentence.
 */
#ifndef SIGNET_ERR_H
#define SIGNET_ERR_H

#include <stddef.h>

#define SIGNET_OK 0
#define SIGNET_ERR_INTERNAL -1      /* broken invariant, should not happen */
#define SIGNET_ERR_ALLOC -2         /* out of memory */
#define SIGNET_ERR_INVALID_ARG -3   /* caller passed something unusable */
#define SIGNET_ERR_IO -4            /* read/write/open failed; see errno */
#define SIGNET_ERR_FORMAT -5        /* malformed input (JSON, base64, ...) */
#define SIGNET_ERR_TOO_LARGE -6     /* input over its size limit */
#define SIGNET_ERR_BAD_SIGNATURE -7 /* signature does not verify */
#define SIGNET_ERR_KEY_LENGTH -8    /* key of the wrong length */
#define SIGNET_ERR_PERMISSIONS -9   /* secret file readable by others, etc */
#define SIGNET_ERR_EXISTS -10       /* refuse to overwrite */
#define SIGNET_ERR_NOT_FOUND -11    /* no such file, key, record */
#define SIGNET_ERR_UNKNOWN_KEY -12  /* key id not among the pinned keys */
#define SIGNET_ERR_CERT -13         /* certificate refused */
#define SIGNET_ERR_CHAIN -14        /* audit chain broken */
#define SIGNET_ERR_CONFIG -15       /* configuration refused */
#define SIGNET_ERR_CRYPTO -16       /* crypto library failure */
#define SIGNET_ERR_UNAVAILABLE -17  /* writer broken, refuses work */
#define SIGNET_ERR_POLICY -18       /* policy file refused */
#define SIGNET_ERR_STALE -19        /* a fenced write lost to a newer claim */

#define ERR_MSG_MAX 512

/* Detail for a failure: one sentence naming the input and the problem. */
struct err_msg {
	char text[ERR_MSG_MAX];
};

/* Returns a static string naming code; never NULL. */
const char *err_str(int code);

/*
 * Sets msg->text from a printf format (truncating safely); msg may be NULL,
 * in which case nothing happens. Returns code so that callers can write
 * `return err_set(msg, SIGNET_ERR_FORMAT, "...")`.
 */
int err_set(struct err_msg *msg, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Clears msg (NULL allowed). */
void err_clear(struct err_msg *msg);

#endif
