/* SPDX-License-Identifier: ISC */
/*
 * The operator's signing key for the signetctl commands that sign
 * (action, approve; and roster sign, whose key may also be a raw key
 * file): an operator key file (common/opkey.h) loaded with a
 * passphrase asked for only when the file is sealed, read from a
 * descriptor (--passphrase-fd N) or on the terminal, and wiped once used.
 */
#ifndef SIGNETCTL_OPSIGN_H
#define SIGNETCTL_OPSIGN_H

#include <stdbool.h>

#include "err.h"
#include "keys.h"

/*
 * Loads the operator key at path into *out (call keys_secret_wipe after
 * use). When the file is sealed the passphrase is read from
 * passphrase_fd (>= 0: one line) or, with -1, asked for on the terminal
 * as "passphrase for PATH: ", and wiped after the key is opened. Returns
 * 0 or opkey_is_sealed's, opkey_read_passphrase's or opkey_load's codes
 * (SIGNET_ERR_BAD_SIGNATURE for a wrong passphrase,
 * SIGNET_ERR_PERMISSIONS for a loose mode, SIGNET_ERR_IO with no terminal
 * and no descriptor: the message says to use --passphrase-fd), msg
 * saying why. On failure *out is wiped.
 */
int opsign_load(const char *path, int passphrase_fd, struct keys_secret *out,
    struct err_msg *msg) __attribute__((warn_unused_result));

/*
 * Loads a secret key that is either an operator key file (opkey.h: it
 * starts with OPKEY_MAGIC; sealed or not, as opsign_load, the passphrase
 * from passphrase_fd or the terminal only when sealed) or a raw key file
 * (keys.h, as `signetctl keygen --raw` writes it; passphrase_fd is not
 * read), into *out (call keys_secret_wipe after use). *sealed is set to
 * whether a passphrase opened it. Returns 0 or opsign_load's and
 * keys_load_secret's codes (SIGNET_ERR_BAD_SIGNATURE for a wrong
 * passphrase, SIGNET_ERR_PERMISSIONS, SIGNET_ERR_NOT_FOUND,
 * SIGNET_ERR_FORMAT...), msg saying why; SIGNET_ERR_ALLOC. On failure
 * *out is wiped.
 */
int opsign_load_any(const char *path, int passphrase_fd,
    struct keys_secret *out, bool *sealed, struct err_msg *msg)
    __attribute__((warn_unused_result));

/*
 * Parses the value of --passphrase-fd: a decimal descriptor number,
 * 0..INT_MAX, that is open. false otherwise.
 */
bool opsign_parse_fd(const char *text, int *fd)
    __attribute__((warn_unused_result));

#endif
