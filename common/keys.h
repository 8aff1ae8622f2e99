/* SPDX-License-Identifier: ISC */
/*
 * Ed25519 key files (docs/protocol.md): a file holds base64 (standard alphabet)
 * of the raw key on one line. Secret files hold libsodium's 64-byte secret key
 * (seed || public key), are mode 0600 and are refused when group or others have
 * any access. A key id is the first 16 hex digits of SHA-256(public). Public
 * files of pinned keys may hold several keys, one per line, for rotation.
 * Secrets are wiped from memory after use.
 */
#ifndef SIGNET_KEYS_H
#define SIGNET_KEYS_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

#define KEYS_PUBLIC_LEN 32
#define KEYS_SECRET_LEN 64
#define KEYS_SIG_LEN 64
#define KEYS_ID_LEN 16     /* hex digits */
#define KEYS_PUBSET_MAX 8  /* pinned keys in one file */
#define KEYS_FILE_MAX 4096 /* bytes; key files are tiny */

struct keys_public {
	uint8_t pk[KEYS_PUBLIC_LEN];
	char id[KEYS_ID_LEN + 1];
};

struct keys_secret {
	uint8_t sk[KEYS_SECRET_LEN];
	struct keys_public pub;
};

struct keys_pubset {
	size_t count;
	struct keys_public keys[KEYS_PUBSET_MAX];
};

/* Computes the key id of pk into id (17 bytes, NUL-terminated). */
void keys_id(const uint8_t pk[static KEYS_PUBLIC_LEN],
    char id[static KEYS_ID_LEN + 1]);

/* Makes a new random key pair. Returns 0 or SIGNET_ERR_CRYPTO. */
int keys_generate(struct keys_secret *out) __attribute__((warn_unused_result));

/*
 * Parses one public key from base64 text (no newline). Returns 0,
 * SIGNET_ERR_FORMAT (bad base64) or SIGNET_ERR_KEY_LENGTH.
 */
int keys_parse_public(const char *b64, size_t len, struct keys_public *out,
    struct err_msg *msg) __attribute__((warn_unused_result));

/*
 * Loads a secret key file. Refuses (SIGNET_ERR_PERMISSIONS) a file that is
 * not a regular file or that group/others may access; SIGNET_ERR_FORMAT,
 * SIGNET_ERR_KEY_LENGTH for bad contents, SIGNET_ERR_IO / NOT_FOUND when it
 * cannot be read. On failure *out is wiped. Call keys_secret_wipe() after.
 */
int keys_load_secret(const char *path, struct keys_secret *out,
    struct err_msg *msg) __attribute__((warn_unused_result));

/* Loads a file holding exactly one public key. */
int keys_load_public(const char *path, struct keys_public *out,
    struct err_msg *msg) __attribute__((warn_unused_result));

/*
 * Loads a pinned-key file: 1..KEYS_PUBSET_MAX public keys, one per line,
 * blank lines and lines starting with '#' ignored; duplicates refused.
 */
int keys_load_pubset(const char *path, struct keys_pubset *out,
    struct err_msg *msg) __attribute__((warn_unused_result));

/*
 * As keys_load_pubset and keys_load_public, for a file the daemon trusts
 * (the pinned action keys, an agent's registered result key): read as
 * fileio_read_trusted does (no symbolic link; the file and every
 * directory above it owned by root or this program's user and not
 * writable by group or others, sticky directories aside), else
 * SIGNET_ERR_PERMISSIONS naming the file or directory. what names the
 * file's role in messages. Also SIGNET_ERR_ALLOC.
 */
int keys_load_pubset_trusted(const char *path, const char *what,
    struct keys_pubset *out, struct err_msg *msg)
    __attribute__((warn_unused_result));
int keys_load_public_trusted(const char *path, const char *what,
    struct keys_public *out, struct err_msg *msg)
    __attribute__((warn_unused_result));

/* Returns the key with this id, or NULL. */
const struct keys_public *keys_pubset_find(const struct keys_pubset *set,
    const char *key_id);

/*
 * Writes NAME.key (mode 0600) and NAME.pub (0644) into dir, refusing
 * (SIGNET_ERR_EXISTS) to overwrite either; on failure nothing is left.
 * Both files are fsynced, as is the directory.
 */
int keys_write_pair(const char *dir, const char *name,
    const struct keys_secret *key, struct err_msg *msg)
    __attribute__((warn_unused_result));

/* Wipes a secret key from memory; NULL allowed. */
void keys_secret_wipe(struct keys_secret *key);

#endif
