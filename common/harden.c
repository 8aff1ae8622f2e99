/* SPDX-License-Identifier: ISC */
/*
 * Process hardening against core dumps (common/harden.h): prctl,
 * setrlimit, and OpenSSL's secure heap.
 */
#include "harden.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>

#include <openssl/crypto.h>

static size_t harden_heap; /* the size given, once made */

int
harden_process(size_t heap_size, bool *heap_locked, struct err_msg *msg)
{
	const struct rlimit none = { 0, 0 };
	struct rlimit now;
	int r;

	if (heap_locked != NULL)
		*heap_locked = false;
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0)
		return err_set(msg, SIGNET_ERR_INTERNAL,
		    "cannot make the process non-dumpable: %s",
		    strerror(errno));
	/*
	 * Already 0/0 (LimitCORE=0 in the unit) needs no call: a seccomp
	 * filter may refuse setrlimit itself.
	 */
	if (getrlimit(RLIMIT_CORE, &now) != 0 || now.rlim_cur != 0 ||
	    now.rlim_max != 0) {
		if (setrlimit(RLIMIT_CORE, &none) != 0)
			return err_set(msg, SIGNET_ERR_INTERNAL,
			    "cannot set RLIMIT_CORE to 0: %s", strerror(errno));
	}
	/*
	 * 1: made and locked; 2: made, but mlock failed (the mapping is
	 * still MADV_DONTDUMP and cleared on free); 0: not made.
	 */
	r = CRYPTO_secure_malloc_init(heap_size, 16);
	if (r == 0)
		return err_set(msg, SIGNET_ERR_CRYPTO,
		    "cannot make OpenSSL's secure heap of %zu bytes",
		    heap_size);
	harden_heap = heap_size;
	if (heap_locked != NULL)
		*heap_locked = r == 1;
	return 0;
}

void
harden_describe(char *buf, size_t len)
{
	struct rlimit rl;
	int dumpable = prctl(PR_GET_DUMPABLE, 0, 0, 0, 0);
	unsigned long long soft = ~0ULL, hard = ~0ULL;

	if (getrlimit(RLIMIT_CORE, &rl) == 0) {
		soft = rl.rlim_cur == RLIM_INFINITY ? ~0ULL : rl.rlim_cur;
		hard = rl.rlim_max == RLIM_INFINITY ? ~0ULL : rl.rlim_max;
	}
	(void)snprintf(buf, len,
	    "core dumps %s (dumpable=%d core_limit=%llu/%llu) "
	    "secure_heap=%zu secure_heap_used=%zu",
	    dumpable == 0 && soft == 0 && hard == 0 ? "off" : "ON", dumpable,
	    soft, hard,
	    CRYPTO_secure_malloc_initialized() ? harden_heap : (size_t)0,
	    CRYPTO_secure_used());
}
