/* SPDX-License-Identifier: ISC */
/*
 * Operator secret key files (docs/operators.md): the Ed25519 key an
 * operator signs requests and approvals with, which never leaves their
 * machine. The file is one line, "signet-operator-key-v1 " and base64 of
 * a blob: kdf (1 byte: 0 none, 1 argon2id13), opslimit and memlimit
 * (8 bytes each, little-endian), salt (16), nonce (24), then 80 bytes:
 * with a passphrase the 64-byte libsodium secret key sealed by
 * crypto_secretbox under the key crypto_pwhash derives (as minisign
 * does), without one the secret key and a 16-byte BLAKE2b checksum of it.
 * Mode 0600, refused when group or others have any access or when it is
 * a symbolic link. Secrets and passphrases live in sodium_malloc'd memory
 * and are wiped after use.
 */
#ifndef SIGNET_OPKEY_H
#define SIGNET_OPKEY_H

#include <stdbool.h>
#include <stddef.h>

#include "err.h"
#include "keys.h"

#define OPKEY_MAGIC "signet-operator-key-v1"
#define OPKEY_PASSPHRASE_MAX 1024 /* bytes */

/*
 * Writes NAME.key (the operator secret file, 0600) and NAME.pub (the
 * public key in keys.h's format, 0644) into dir, refusing
 * (SIGNET_ERR_EXISTS) to overwrite either; on failure nothing is left.
 * pass NULL writes an unencrypted file (kdf 0); otherwise pass[0..passlen)
 * (1..OPKEY_PASSPHRASE_MAX bytes) seals it. Returns 0, SIGNET_ERR_EXISTS,
 * SIGNET_ERR_IO, SIGNET_ERR_INVALID_ARG, SIGNET_ERR_CRYPTO (crypto_pwhash
 * out of memory), SIGNET_ERR_ALLOC.
 */
int opkey_write_pair(const char *dir, const char *name,
    const struct keys_secret *key, const char *pass, size_t passlen,
    struct err_msg *msg) __attribute__((warn_unused_result));

/*
 * Whether the operator key file at path is sealed with a passphrase:
 * 1 yes, 0 no, or a negative code as opkey_load's (the file is checked and
 * read the same way).
 */
int opkey_is_sealed(const char *path, struct err_msg *msg)
    __attribute__((warn_unused_result));

/*
 * Loads the operator key at path into *out, with pass[0..passlen) when
 * the file is sealed (pass is ignored otherwise). Refuses a symbolic
 * link, a file that is not regular or that group or others may access
 * (SIGNET_ERR_PERMISSIONS, as fileio_read_small's FILEIO_SECRET: "PATH:
 * secret file has mode 0644; ... (chmod 600 PATH)"); SIGNET_ERR_FORMAT for a file that is not this format or
 * whose kdf limits are out of libsodium's range; SIGNET_ERR_BAD_SIGNATURE
 * "wrong passphrase" when the seal does not open (or the checksum of an
 * unsealed file fails: "damaged"); SIGNET_ERR_INVALID_ARG for a sealed
 * file and no passphrase; SIGNET_ERR_NOT_FOUND, SIGNET_ERR_IO,
 * SIGNET_ERR_ALLOC, SIGNET_ERR_CRYPTO. On failure *out is wiped. Call
 * keys_secret_wipe() after use.
 */
int opkey_load(const char *path, const char *pass, size_t passlen,
    struct keys_secret *out, struct err_msg *msg)
    __attribute__((warn_unused_result));

/*
 * Reads a passphrase into a new sodium_malloc'd buffer *pass (NUL-
 * terminated, *len bytes; free with opkey_passphrase_free). fd >= 0 reads
 * from that descriptor up to the first newline or end of file (at most
 * OPKEY_PASSPHRASE_MAX bytes; the newline is not part of it). fd < 0
 * prompts on /dev/tty with echo off, and with confirm asks twice and
 * refuses a mismatch. An empty passphrase is refused. The terminal's
 * settings and signal dispositions are restored on every path; SIGINT,
 * SIGHUP, SIGQUIT or SIGTERM while it waits is raised again once they
 * are. Returns 0, SIGNET_ERR_IO (no terminal: "use --passphrase-fd"; a
 * read error; interrupted), SIGNET_ERR_TOO_LARGE, SIGNET_ERR_FORMAT
 * (empty, a NUL byte, or the two differ), SIGNET_ERR_ALLOC,
 * SIGNET_ERR_CRYPTO (libsodium cannot start).
 */
int opkey_read_passphrase(int fd, const char *prompt, bool confirm, char **pass,
    size_t *len, struct err_msg *msg) __attribute__((warn_unused_result));

/* Wipes and frees a passphrase from opkey_read_passphrase; NULL allowed. */
void opkey_passphrase_free(char *pass, size_t len);

#endif
