/* SPDX-License-Identifier: ISC */
/* The policy in force, its reloads and the lock that orders them. */
#include "policy_store.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

struct policy_store {
	pthread_mutex_t mu; /* guards cur, path, generation */
	struct policy *cur;
	char *path;
	char *host_id; /* NULL: not checked */
	uint64_t generation;
	atomic_int reload_wanted;
};

int
policy_store_open(const char *path, const char *host_id,
    struct policy_store **out, struct err_msg *msg)
{
	struct policy_store *s = NULL;
	int r;

	*out = NULL;
	s = calloc(1, sizeof(*s));
	if (s == NULL)
		return err_set(msg, SIGNET_ERR_ALLOC, "%s: out of memory",
		    path);
	if (pthread_mutex_init(&s->mu, NULL) != 0) {
		free(s);
		return err_set(msg, SIGNET_ERR_INTERNAL, "mutex init failed");
	}
	atomic_init(&s->reload_wanted, 0);
	s->path = strdup(path);
	s->host_id = host_id != NULL ? strdup(host_id) : NULL;
	if (s->path == NULL || (host_id != NULL && s->host_id == NULL)) {
		r = err_set(msg, SIGNET_ERR_ALLOC, "%s: out of memory", path);
		goto out;
	}
	r = policy_load(path, host_id, &s->cur, msg);
	if (r != 0)
		goto out;
	s->generation = 1;
	*out = s;
	s = NULL;
	r = 0;
out:
	policy_store_free(s);
	return r;
}

void
policy_store_free(struct policy_store *s)
{
	if (s == NULL)
		return;
	policy_free(s->cur);
	free(s->path);
	free(s->host_id);
	(void)pthread_mutex_destroy(&s->mu);
	free(s);
}

int
policy_store_reload(struct policy_store *s, const char *path,
    struct err_msg *msg)
{
	struct policy *np = NULL, *old = NULL;
	char *npath = NULL, *cur_path = NULL;
	struct err_msg m;
	uint64_t gen;
	int r;

	/* Copy the path under the lock; parse outside it (file I/O). */
	if (pthread_mutex_lock(&s->mu) != 0)
		return err_set(msg, SIGNET_ERR_INTERNAL, "mutex lock failed");
	cur_path = strdup(path != NULL ? path : s->path);
	(void)pthread_mutex_unlock(&s->mu);
	if (cur_path == NULL)
		return err_set(msg, SIGNET_ERR_ALLOC, "out of memory");
	err_clear(&m);
	r = policy_load(cur_path, s->host_id, &np, &m);
	if (r != 0) {
		log_error("policy reload refused, keeping the policy in "
		          "force: %s",
		    m.text);
		if (msg != NULL)
			*msg = m;
		goto out;
	}
	if (path != NULL) {
		npath = strdup(path);
		if (npath == NULL) {
			r = err_set(msg, SIGNET_ERR_ALLOC, "out of memory");
			log_error("policy reload refused, keeping the policy "
			          "in force: out of memory");
			goto out;
		}
	}
	if (pthread_mutex_lock(&s->mu) != 0) {
		r = err_set(msg, SIGNET_ERR_INTERNAL, "mutex lock failed");
		goto out;
	}
	policy_carry_rate_state(np, s->cur);
	old = s->cur;
	s->cur = np;
	np = NULL;
	if (npath != NULL) {
		free(s->path);
		s->path = npath;
		npath = NULL;
	}
	gen = ++s->generation;
	log_info("policy reloaded path=%s rules=%zu generation=%llu", cur_path,
	    policy_rule_count(s->cur), (unsigned long long)gen);
	(void)pthread_mutex_unlock(&s->mu);
	r = 0;
out:
	policy_free(old);
	policy_free(np);
	free(npath);
	free(cur_path);
	return r;
}

void
policy_store_request_reload(struct policy_store *s)
{
	if (s != NULL)
		atomic_store(&s->reload_wanted, 1);
}

int
policy_store_reload_if_requested(struct policy_store *s, struct err_msg *msg)
{
	int r;

	if (atomic_exchange(&s->reload_wanted, 0) == 0)
		return 0;
	r = policy_store_reload(s, NULL, msg);
	return r == 0 ? 1 : r;
}

int
policy_store_decide(struct policy_store *s, const struct policy_request *req,
    struct policy_decision *dec)
{
	int r;

	if (s == NULL)
		return policy_decide(NULL, req, dec);
	if (pthread_mutex_lock(&s->mu) != 0)
		return policy_decide(NULL, req, dec);
	r = policy_decide(s->cur, req, dec);
	(void)pthread_mutex_unlock(&s->mu);
	return r;
}

uint64_t
policy_store_generation(struct policy_store *s)
{
	uint64_t g;

	(void)pthread_mutex_lock(&s->mu);
	g = s->generation;
	(void)pthread_mutex_unlock(&s->mu);
	return g;
}

char *
policy_store_source(struct policy_store *s, size_t *len)
{
	const char *src;
	char *copy;

	(void)pthread_mutex_lock(&s->mu);
	src = policy_source(s->cur, len);
	copy = malloc(*len + 1);
	if (copy != NULL) {
		memcpy(copy, src, *len);
		copy[*len] = '\0';
	}
	(void)pthread_mutex_unlock(&s->mu);
	return copy;
}

int64_t
policy_store_max_wait_ms(struct policy_store *s)
{
	struct policy_approval_term terms[POLICY_TERMS_MAX];
	int64_t wait, most = 0;
	size_t i, n;

	(void)pthread_mutex_lock(&s->mu);
	for (i = 0; i < policy_rule_count(s->cur); i++)
		if (policy_rule_approvals(s->cur, i, terms, POLICY_TERMS_MAX,
		        &n, &wait) == 0 &&
		    wait > most)
			most = wait;
	(void)pthread_mutex_unlock(&s->mu);
	return most;
}

size_t
policy_store_rule_count(struct policy_store *s)
{
	size_t n;

	(void)pthread_mutex_lock(&s->mu);
	n = policy_rule_count(s->cur);
	(void)pthread_mutex_unlock(&s->mu);
	return n;
}
