/* SPDX-License-Identifier: ISC */
/*
 * Keeping a process's secrets out of core dumps: the daemons (and
 * signetctl, which holds an operator's key) call harden_process first
 * thing. It makes the process not dumpable (no core file, no ptrace or
 * /proc/PID/mem by the same unprivileged user), sets RLIMIT_CORE to 0
 * (soft and hard, so nothing in the process can raise it again), and
 * gives OpenSSL a secure heap, where it keeps the private parts of keys
 * (the TLS keys, ephemeral handshake keys): a separate mapping, locked in
 * RAM where the memlock limit allows, excluded from core dumps
 * (MADV_DONTDUMP) and cleared when freed. Ed25519 secrets are kept in
 * sodium_malloc memory by their owners, not here.
 */
#ifndef SIGNET_HARDEN_H
#define SIGNET_HARDEN_H

#include <stdbool.h>
#include <stddef.h>

#include "err.h"

#define HARDEN_HEAP_DAEMON (1u << 20) /* bytes: a handshake storm fits */
#define HARDEN_HEAP_CLI (1u << 16)

/*
 * Hardens the calling process as above, with a secure heap of heap_size
 * bytes (a power of two). Call before any key is loaded, and before any
 * thread starts. *heap_locked (may be NULL) says whether the heap is
 * locked in RAM (false: the memlock limit is too low; it is still kept
 * out of core dumps). Returns 0; SIGNET_ERR_INTERNAL when the kernel
 * refuses prctl or setrlimit; SIGNET_ERR_CRYPTO when OpenSSL cannot make
 * the secure heap. On failure the caller must not go on (fail closed).
 */
int harden_process(size_t heap_size, bool *heap_locked, struct err_msg *msg)
    __attribute__((warn_unused_result));

/*
 * Writes what the kernel and OpenSSL say now, for the start log line:
 * "core dumps off (dumpable=0 core_limit=0/0) secure_heap=N
 * secure_heap_used=M". Never fails; truncates to len.
 */
void harden_describe(char *buf, size_t len);

#endif
