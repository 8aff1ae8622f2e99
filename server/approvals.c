/* SPDX-License-Identifier: ISC */
/*
 * The table of requests waiting for approvals: a small array under one
 * mutex (at most APPROVALS_MAX waiting, each a few KiB), copied out to
 * readers so that nothing is used after the lock is let go.
 */
#include "approvals.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "registry.h"

struct approvals {
	pthread_mutex_t mu;
	struct approval_entry **e; /* in arrival order */
	size_t n, cap;
};

const char *
approval_state_name(enum approval_state s)
{
	switch (s) {
	case APPROVAL_AWAITING: return "AWAITING_APPROVAL";
	case APPROVAL_RELAYED: return "RELAYED";
	case APPROVAL_REFUSED: return "REFUSED";
	case APPROVAL_EXPIRED: return "EXPIRED";
	}
	return "?";
}

struct approvals *
approvals_new(void)
{
	struct approvals *t = calloc(1, sizeof(*t));

	if (t == NULL)
		return NULL;
	if (pthread_mutex_init(&t->mu, NULL) != 0) {
		free(t);
		return NULL;
	}
	return t;
}

void
approvals_free(struct approvals *t)
{
	size_t i;

	if (t == NULL)
		return;
	for (i = 0; i < t->n; i++)
		free(t->e[i]);
	free(t->e);
	(void)pthread_mutex_destroy(&t->mu);
	free(t);
}

/* Index of id, or t->n. Lock held. */
static size_t
find(const struct approvals *t, const char *id)
{
	size_t i;

	for (i = 0; i < t->n; i++)
		if (strcmp(t->e[i]->action_id, id) == 0)
			return i;
	return t->n;
}

/* Forgets ended entries older than the keep time. Lock held. */
static void
forget_old(struct approvals *t, int64_t now_ms)
{
	size_t i = 0;

	while (i < t->n) {
		if (t->e[i]->state != APPROVAL_AWAITING &&
		    t->e[i]->finished_at + APPROVALS_KEEP_MS < now_ms) {
			free(t->e[i]);
			memmove(&t->e[i], &t->e[i + 1],
			    (t->n - i - 1) * sizeof(*t->e));
			t->n--;
		} else {
			i++;
		}
	}
}

int
approvals_add(struct approvals *t, const struct approval_entry *e,
    int64_t now_ms)
{
	struct approval_entry *copy, **grown;
	size_t i, waiting = 0;
	int r = 0;

	copy = malloc(sizeof(*copy));
	if (copy == NULL)
		return SIGNET_ERR_ALLOC;
	*copy = *e;
	copy->state = APPROVAL_AWAITING;
	copy->created_at = now_ms;
	copy->finished_at = 0;
	(void)pthread_mutex_lock(&t->mu);
	forget_old(t, now_ms);
	if (find(t, e->action_id) != t->n) {
		r = SIGNET_ERR_EXISTS;
		goto out;
	}
	for (i = 0; i < t->n; i++)
		if (t->e[i]->state == APPROVAL_AWAITING)
			waiting++;
	if (waiting >= APPROVALS_MAX) {
		r = SIGNET_ERR_UNAVAILABLE;
		goto out;
	}
	if (t->n == t->cap) {
		grown = realloc(t->e, (t->cap + 64) * sizeof(*t->e));
		if (grown == NULL) {
			r = SIGNET_ERR_ALLOC;
			goto out;
		}
		t->e = grown;
		t->cap += 64;
	}
	t->e[t->n++] = copy;
	copy = NULL;
out:
	(void)pthread_mutex_unlock(&t->mu);
	free(copy);
	return r;
}

int
approvals_get(struct approvals *t, const char *id, struct approval_entry *out)
{
	size_t i;
	int r = SIGNET_ERR_NOT_FOUND;

	(void)pthread_mutex_lock(&t->mu);
	i = find(t, id);
	if (i < t->n) {
		*out = *t->e[i];
		r = 0;
	}
	(void)pthread_mutex_unlock(&t->mu);
	return r;
}

int
approvals_approve(struct approvals *t, const char *id,
    const struct request_approval *a, const char *approver,
    struct approval_entry *out)
{
	struct approval_entry *e;
	size_t i, k;
	int r = 0;

	(void)pthread_mutex_lock(&t->mu);
	i = find(t, id);
	if (i == t->n) {
		r = SIGNET_ERR_NOT_FOUND;
		goto out;
	}
	e = t->e[i];
	if (e->state != APPROVAL_AWAITING) {
		r = SIGNET_ERR_UNAVAILABLE;
		goto out;
	}
	for (k = 0; k < e->napprovals; k++)
		if (strcmp(e->approvals[k].key_id, a->key_id) == 0) {
			r = SIGNET_ERR_EXISTS;
			goto out;
		}
	if (e->napprovals == REQUEST_APPROVALS_MAX) {
		r = SIGNET_ERR_TOO_LARGE;
		goto out;
	}
	e->approvals[e->napprovals] = *a;
	(void)snprintf(e->approvers[e->napprovals],
	    sizeof(e->approvers[e->napprovals]), "%s", approver);
	e->napprovals++;
	if (out != NULL)
		*out = *e;
out:
	(void)pthread_mutex_unlock(&t->mu);
	return r;
}

int
approvals_end(struct approvals *t, const char *id, enum approval_state state,
    const char *why, int64_t now_ms)
{
	size_t i;
	int r = 0;

	(void)pthread_mutex_lock(&t->mu);
	i = find(t, id);
	if (i == t->n)
		r = SIGNET_ERR_NOT_FOUND;
	else if (t->e[i]->state != APPROVAL_AWAITING ||
	    state == APPROVAL_AWAITING)
		r = SIGNET_ERR_UNAVAILABLE;
	else {
		t->e[i]->state = state;
		t->e[i]->finished_at = now_ms;
		(void)snprintf(t->e[i]->why, sizeof(t->e[i]->why), "%s",
		    why != NULL ? why : "");
	}
	(void)pthread_mutex_unlock(&t->mu);
	return r;
}

size_t
approvals_due(struct approvals *t, int64_t now_ms, char (*ids)[33], size_t max)
{
	size_t i, n = 0;

	(void)pthread_mutex_lock(&t->mu);
	for (i = 0; i < t->n && n < max; i++)
		if (t->e[i]->state == APPROVAL_AWAITING &&
		    t->e[i]->expires_at + ENVELOPE_SKEW_MS < now_ms)
			memcpy(ids[n++], t->e[i]->action_id, 33);
	(void)pthread_mutex_unlock(&t->mu);
	return n;
}

static bool
put_time(cJSON *o, const char *k, int64_t ms)
{
	char buf[40];

	if (ms <= 0)
		return cJSON_AddNullToObject(o, k) != NULL;
	registry_format_time(ms, buf, sizeof(buf));
	return cJSON_AddStringToObject(o, k, buf) != NULL;
}

bool
approvals_put_request(cJSON *o, const struct approval_entry *e)
{
	cJSON *needs = NULL, *x, *req;
	size_t i;
	bool ok;

	ok = cJSON_AddNumberToObject(o, "approval_wait",
	         (double)(e->wait_ms / 1000)) != NULL &&
	    (needs = cJSON_AddArrayToObject(o, "needs")) != NULL &&
	    (req = cJSON_AddObjectToObject(o, "request")) != NULL &&
	    cJSON_AddStringToObject(req, "payload", e->request.payload_b64) !=
	        NULL &&
	    cJSON_AddStringToObject(req, "sig", e->request.sig_b64) != NULL &&
	    cJSON_AddStringToObject(req, "key_id", e->request.key_id) != NULL;
	for (i = 0; ok && i < e->nterms; i++)
		ok = (x = cJSON_CreateObject()) != NULL &&
		    cJSON_AddItemToArray(needs, x) &&
		    cJSON_AddStringToObject(x, "group", e->terms[i].group) !=
		        NULL &&
		    cJSON_AddNumberToObject(x, "count", e->terms[i].count) !=
		        NULL;
	return ok;
}

cJSON *
approvals_entry_json(const struct approval_entry *e)
{
	cJSON *o = cJSON_CreateObject(), *aps = NULL, *x;
	size_t i;
	bool ok;

	ok = o != NULL &&
	    cJSON_AddStringToObject(o, "action_id", e->action_id) != NULL &&
	    cJSON_AddStringToObject(o, "host_id", e->host_id) != NULL &&
	    cJSON_AddStringToObject(o, "container_id", e->container_id) !=
	        NULL &&
	    cJSON_AddStringToObject(o, "action",
	        envelope_action_name(e->action)) != NULL &&
	    cJSON_AddStringToObject(o, "status",
	        approval_state_name(e->state)) != NULL &&
	    (e->why[0] != '\0' ?
	            cJSON_AddStringToObject(o, "error", e->why) != NULL :
	            cJSON_AddNullToObject(o, "error") != NULL) &&
	    cJSON_AddStringToObject(o, "requested_by", e->requested_by) !=
	        NULL &&
	    cJSON_AddBoolToObject(o, "operator_signed", 1) != NULL &&
	    cJSON_AddStringToObject(o, "reason", e->reason) != NULL &&
	    put_time(o, "requested_at", e->issued_at) &&
	    put_time(o, "expires_at", e->expires_at) &&
	    put_time(o, "finished_at", e->finished_at) &&
	    approvals_put_request(o, e) &&
	    (aps = cJSON_AddArrayToObject(o, "approvals")) != NULL;
	for (i = 0; ok && i < e->napprovals; i++)
		ok = (x = cJSON_CreateObject()) != NULL &&
		    cJSON_AddItemToArray(aps, x) &&
		    cJSON_AddStringToObject(x, "name", e->approvers[i]) !=
		        NULL &&
		    cJSON_AddStringToObject(x, "key_id",
		        e->approvals[i].key_id) != NULL;
	if (!ok) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}

cJSON *
approvals_list_json(struct approvals *t)
{
	cJSON *doc = cJSON_CreateObject(), *arr, *x;
	size_t i;
	bool ok;

	ok = doc != NULL &&
	    (arr = cJSON_AddArrayToObject(doc, "approvals")) != NULL;
	(void)pthread_mutex_lock(&t->mu);
	for (i = 0; ok && i < t->n; i++) {
		if (t->e[i]->state != APPROVAL_AWAITING)
			continue;
		x = approvals_entry_json(t->e[i]);
		ok = x != NULL && cJSON_AddItemToArray(arr, x);
		if (x != NULL && !ok)
			cJSON_Delete(x);
	}
	(void)pthread_mutex_unlock(&t->mu);
	if (!ok) {
		cJSON_Delete(doc);
		return NULL;
	}
	return doc;
}
