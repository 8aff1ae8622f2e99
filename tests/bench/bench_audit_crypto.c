/* SPDX-License-Identifier: ISC */
/*
 * Benchmark (not a test): Ed25519 sign and verify rates on an action-sized
 * envelope, and audit appends per second with a durable sync per record,
 * alone and with concurrent writers sharing syncs. Prints medians of
 * several rounds; the log goes in DIR (default: the current directory),
 * so run it on the disk the audit log will live on.
 *   bench_audit_crypto [DIR]
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "bench_stats.h"
#include "audit.h"
#include "audit_tree.h"
#include "envelope.h"
#include "keys.h"

#define ROUNDS 5

static void
bench_crypto(const struct keys_secret *key)
{
	struct envelope_action_payload a;
	struct keys_pubset set = { .count = 1 };
	struct envelope env;
	struct err_msg msg;
	double sign_rates[ROUNDS], verify_rates[ROUNDS];
	int round, i, n = 20000;

	memset(&a, 0, sizeof(a));
	memset(a.action_id, 'a', 32);
	(void)snprintf(a.host_id, sizeof(a.host_id), "web-01");
	memset(a.container_id, 'b', 64);
	a.action = ENVELOPE_ACTION_RESTART;
	(void)snprintf(a.reason, sizeof(a.reason), "benchmark reason text");
	(void)snprintf(a.requested_by, sizeof(a.requested_by), "alice");
	a.issued_at = 1700000000000LL;
	a.expires_at = a.issued_at + 60000;
	set.keys[0] = key->pub;
	for (round = 0; round < ROUNDS; round++) {
		double t0 = bench_now_s();
		for (i = 0; i < n; i++) {
			if (envelope_action_sign(&a, key, &env) != 0)
				abort();
			if (i + 1 < n)
				envelope_free(&env);
		}
		sign_rates[round] = n / (bench_now_s() - t0);
		t0 = bench_now_s();
		for (i = 0; i < n; i++) {
			struct envelope_action_payload out;
			if (envelope_action_verify(&set, env.key_id,
			        env.payload_b64, env.sig_b64, &out, NULL, NULL,
			        &msg) != 0)
				abort();
		}
		verify_rates[round] = n / (bench_now_s() - t0);
		envelope_free(&env);
	}
	printf("ed25519 action envelope sign (encode+sign+base64): "
	       "%.0f /s (median of %d)\n",
	    bench_median(sign_rates, ROUNDS), ROUNDS);
	printf("ed25519 action envelope verify (decode+verify+parse): "
	       "%.0f /s (median of %d)\n",
	    bench_median(verify_rates, ROUNDS), ROUNDS);
}

struct worker {
	struct audit_writer *w;
	int n;
};

static void *
worker_main(void *p)
{
	struct worker *wk = p;
	struct err_msg msg;
	cJSON *data = cJSON_CreateObject();
	int i;

	(void)cJSON_AddStringToObject(data, "reason", "benchmark record");
	for (i = 0; i < wk->n; i++) {
		if (audit_append(wk->w, "bench.append", "bench", data, NULL,
		        &msg) != 0) {
			fprintf(stderr, "append: %s\n", msg.text);
			abort();
		}
	}
	cJSON_Delete(data);
	return NULL;
}

static double
cpu_s(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/*
 * Durable appends by threads writers; with tree, the log keeps its
 * Merkle tree too (audit_tree_open), as the daemons do.
 */
static void
bench_audit(const char *dir, const struct keys_secret *key, int threads,
    int per_thread, bool tree)
{
	double rates[ROUNDS], per_sync[ROUNDS], cpu_us[ROUNDS], c0;
	char path[4096];
	int round, i;

	for (round = 0; round < ROUNDS; round++) {
		struct audit_writer *w = NULL;
		struct audit_stats st;
		struct err_msg msg;
		pthread_t tids[256];
		struct worker wk[256];
		double t0;

		(void)snprintf(path, sizeof(path), "%s/bench-audit-%d.log", dir,
		    (int)getpid());
		(void)unlink(path);
		if (audit_open(path, key, &w, &msg) != 0 ||
		    (tree && audit_tree_open(w, &msg) != 0)) {
			fprintf(stderr, "open: %s\n", msg.text);
			exit(1);
		}
		t0 = bench_now_s();
		c0 = cpu_s();
		for (i = 0; i < threads; i++) {
			wk[i] = (struct worker){ w, per_thread };
			if (pthread_create(&tids[i], NULL, worker_main,
			        &wk[i]) != 0)
				abort();
		}
		for (i = 0; i < threads; i++)
			(void)pthread_join(tids[i], NULL);
		rates[round] = (double)threads * per_thread /
		    (bench_now_s() - t0);
		cpu_us[round] = (cpu_s() - c0) * 1e6 /
		    ((double)threads * per_thread);
		audit_get_stats(w, &st);
		per_sync[round] = st.syncs > 0 ?
		    (double)st.appends / (double)st.syncs :
		    0;
		audit_close(w);
		(void)unlink(path);
		(void)snprintf(path + strlen(path), sizeof(path) - strlen(path),
		    AUDIT_TREE_SUFFIX);
		(void)unlink(path);
	}
	printf("audit durable appends, %2d writer%s%s: %.0f /s, %.1f records "
	       "per fdatasync, %.1f us CPU each (median of %d)\n",
	    threads, threads == 1 ? " " : "s",
	    tree ? ", Merkle tree" : "              ",
	    bench_median(rates, ROUNDS), bench_median(per_sync, ROUNDS),
	    bench_median(cpu_us, ROUNDS), ROUNDS);
}

int
main(int argc, char **argv)
{
	const char *dir = argc > 1 ? argv[1] : ".";
	struct keys_secret key;

	if (sodium_init() < 0 || keys_generate(&key) != 0)
		return 1;
	printf("signet benchmark: %ld CPUs online, audit log in %s\n",
	    sysconf(_SC_NPROCESSORS_ONLN), dir);
	bench_crypto(&key);
	bench_audit(dir, &key, 1, 500, false);
	bench_audit(dir, &key, 1, 500, true);
	bench_audit(dir, &key, 4, 250, false);
	bench_audit(dir, &key, 4, 250, true);
	bench_audit(dir, &key, 16, 125, false);
	bench_audit(dir, &key, 16, 125, true);
	bench_audit(dir, &key, 64, 40, false);
	bench_audit(dir, &key, 64, 40, true);
	keys_secret_wipe(&key);
	return 0;
}
