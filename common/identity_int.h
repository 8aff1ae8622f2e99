/* SPDX-License-Identifier: ISC */
/*
 * What identity.c lends identity_agent.c; included by common/identity*.c
 * only.
 */
#ifndef SIGNET_IDENTITY_INT_H
#define SIGNET_IDENTITY_INT_H

#include <stddef.h>

#include <openssl/x509.h>

/*
 * The one entry of type nid in name, as UTF-8 into buf. Returns the number
 * of such entries (0, 1, 2...) with buf filled only when it is 1, or -1 when
 * the single value is not text, holds a NUL or does not fit bufsz.
 */
int identity_name_single_entry(const X509_NAME *name, int nid, char *buf,
    size_t bufsz) __attribute__((warn_unused_result));

/*
 * OpenSSL's pem_password_cb that gives no passphrase: nothing signet
 * reads (certificates, CRLs, TLS keys) has one, and a daemon must never
 * prompt on a terminal. Returns -1.
 */
int identity_no_password(char *buf, int size, int rwflag, void *u);

#endif
