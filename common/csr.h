/* SPDX-License-Identifier: ISC */
/*
 * Keys made where they are used (docs/commands.md, "Enrolling by
 * request"): a new P-256 TLS key and a PKCS#10 certificate request for it
 * (subject CN=NAME then OU=ROLE, signed with SHA-256, no attributes and so
 * no requested extensions), written with the agent's Ed25519 result key
 * when asked into a directory only its owner may write, all files or none
 * and never over an existing file. signet-pki sign-req checks the request
 * the same way and signs it; the private keys never leave the directory.
 */
#ifndef SIGNET_CSR_H
#define SIGNET_CSR_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "err.h"
#include "keys.h"

#define CSR_KEY_PEM_MAX 1024 /* a P-256 PKCS#8 PEM is about 240 bytes */
#define CSR_REQ_PEM_MAX 2048 /* its request, about 450 bytes */
#define CSR_STAMP_LEN 16     /* YYYYMMDDTHHMMSSZ */

/* A new key and its request, both PEM, NUL-terminated. */
struct csr_pem {
	char key[CSR_KEY_PEM_MAX]; /* secret: PKCS#8 "PRIVATE KEY" */
	size_t key_len;
	char req[CSR_REQ_PEM_MAX]; /* "CERTIFICATE REQUEST" */
	size_t req_len;
};

/*
 * Makes a new P-256 key and a request for CN=cn, OU=ou signed by it into
 * *out (which the caller should keep off swap, e.g. sodium_malloc, and
 * wipe with csr_pem_wipe). cn and ou must be valid names
 * (text_valid_name). Returns 0, SIGNET_ERR_INVALID_ARG (a bad name,
 * quoted escaped in msg), SIGNET_ERR_CRYPTO or SIGNET_ERR_TOO_LARGE; on
 * failure *out is wiped.
 */
int csr_make(const char *cn, const char *ou, struct csr_pem *out,
    struct err_msg *msg) __attribute__((warn_unused_result));

/* Wipes *pem; NULL allowed. */
void csr_pem_wipe(struct csr_pem *pem);

/* What csr_enroll does about the result key DIR/result.key, result.pub. */
enum csr_result_key {
	CSR_RESULT_NONE = 0, /* no result key (operators and auditors) */
	/*
	 * Keep an existing DIR/result.key (writing result.pub from it when
	 * missing; refused if result.pub holds another key), else make a new
	 * pair.
	 */
	CSR_RESULT_KEEP,
	/*
	 * Rotation: DIR/result.key must exist; it and result.pub (if any)
	 * stay as result.key.old-STAMP, result.pub.old-STAMP and a new pair
	 * takes their names.
	 */
	CSR_RESULT_ROTATE,
};

struct csr_enroll {
	const char *dir;  /* made 0700 when missing (its parent must exist) */
	const char *base; /* BASE.key and BASE.csr: "agent", or the user */
	const char *cn;   /* the name to enroll */
	const char *ou;   /* its role: agent, operator, auditor */
	enum csr_result_key result;
	time_t now; /* the STAMP of a rotation, UTC */
};

struct csr_enrolled {
	char key_path[4096]; /* DIR/BASE.key */
	char req_path[4096]; /* DIR/BASE.csr */
	/* With a result key: its id, whether it is new, the pub's path. */
	char result_id[KEYS_ID_LEN + 1];
	bool result_new;
	char result_pub[4096];
	char stamp[CSR_STAMP_LEN + 1]; /* set by a rotation, else "" */
};

/*
 * Enrolls: checks the names (text_valid_name: cn, ou and base), makes DIR
 * (mode 0700) if missing or refuses one that is not a directory, is a
 * symbolic link, is owned by another user than this one or root, or that
 * group or others may write; refuses if DIR/BASE.key or DIR/BASE.csr
 * exist, and the result key files as enum csr_result_key says; then makes
 * the keys and the request in a private directory inside DIR, links them
 * in (never replacing a name) and removes it. Either every file is in
 * place, fsynced, or none is and DIR is as before (a rotation's
 * result.key.old-STAMP included). *res is filled on success.
 * Returns 0, SIGNET_ERR_INVALID_ARG (bad name), SIGNET_ERR_PERMISSIONS
 * (DIR, or result.key readable by others), SIGNET_ERR_EXISTS (a file
 * already there, named in msg), SIGNET_ERR_NOT_FOUND (a rotation without
 * result.key), SIGNET_ERR_FORMAT / SIGNET_ERR_KEY_LENGTH (a bad
 * result.key or result.pub, or a result.pub of another key),
 * SIGNET_ERR_IO, SIGNET_ERR_ALLOC, SIGNET_ERR_CRYPTO, SIGNET_ERR_TOO_LARGE
 * (a path too long).
 */
int csr_enroll(const struct csr_enroll *e, struct csr_enrolled *res,
    struct err_msg *msg) __attribute__((warn_unused_result));

/* Formats t as UTC YYYYMMDDTHHMMSSZ into out. 0 or SIGNET_ERR_INVALID_ARG. */
int csr_stamp(time_t t, char out[static CSR_STAMP_LEN + 1])
    __attribute__((warn_unused_result));

#endif
