/* SPDX-License-Identifier: ISC */
/*
 * audit_tool's checkpoint and proof commands (checkpoint.c): signed
 * checkpoints and consistency proof chains of a log file, as a log's
 * writer and the server's API would make them, for the witness tests.
 */
#ifndef AUDIT_TOOL_CHECKPOINT_H
#define AUDIT_TOOL_CHECKPOINT_H

/* audit_tool checkpoint LOG KEY ORIGIN SIZE|all OUT */
int tool_checkpoint(const char *log, const char *keyfile, const char *origin,
    const char *size, const char *out);

/* audit_tool proof LOG OLD,...,NEW OUT [LOG-NAME] */
int tool_proof(const char *log, const char *sizes, const char *out,
    const char *name);

#endif
