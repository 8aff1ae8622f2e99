/* SPDX-License-Identifier: ISC */
/* Names for the project-wide error codes and the detail-message helper. */
#include "err.h"

#include <stdarg.h>
#include <stdio.h>

const char *
err_str(int code)
{
	switch (code) {
	case SIGNET_OK: return "success";
	case SIGNET_ERR_INTERNAL: return "internal error";
	case SIGNET_ERR_ALLOC: return "out of memory";
	case SIGNET_ERR_INVALID_ARG: return "invalid argument";
	case SIGNET_ERR_IO: return "input/output error";
	case SIGNET_ERR_FORMAT: return "malformed input";
	case SIGNET_ERR_TOO_LARGE: return "input too large";
	case SIGNET_ERR_BAD_SIGNATURE: return "bad signature";
	case SIGNET_ERR_KEY_LENGTH: return "key of the wrong length";
	case SIGNET_ERR_PERMISSIONS: return "unsafe file permissions";
	case SIGNET_ERR_EXISTS: return "already exists";
	case SIGNET_ERR_NOT_FOUND: return "not found";
	case SIGNET_ERR_UNKNOWN_KEY: return "unknown key id";
	case SIGNET_ERR_CERT: return "certificate refused";
	case SIGNET_ERR_CHAIN: return "audit chain broken";
	case SIGNET_ERR_CONFIG: return "configuration refused";
	case SIGNET_ERR_CRYPTO: return "cryptographic library failure";
	case SIGNET_ERR_UNAVAILABLE: return "unavailable";
	case SIGNET_ERR_POLICY: return "policy refused";
	case SIGNET_ERR_STALE: return "stale claim";
	default: return "unknown error";
	}
}

int
err_set(struct err_msg *msg, int code, const char *fmt, ...)
{
	va_list ap;

	if (msg == NULL)
		return code;
	va_start(ap, fmt);
	/* vsnprintf truncates and always terminates; truncation is fine here. */
	(void)vsnprintf(msg->text, sizeof(msg->text), fmt, ap);
	va_end(ap);
	return code;
}

void
err_clear(struct err_msg *msg)
{
	if (msg != NULL)
		msg->text[0] = '\0';
}
