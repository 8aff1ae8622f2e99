/* SPDX-License-Identifier: ISC */
/*
 * Connected agents and their inventories, shared by hub and API; which
 * host a container id resolves to (registry.h), with the live hosts' full
 * ids indexed in registry_ids.
 */
#include "registry.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cert_expiry.h"
#include "clock.h"
#include "jsonx.h"
#include "registry_ids.h"
#include "text.h"

#define REGISTRY_REFUSED_MAX 512

struct host {
	char host_id[64];
	bool connected;
	uint64_t session;
	int64_t connected_at; /* ms, 0 unknown */
	int64_t last_seen;
	char agent_version[REGISTRY_VERSION_MAX + 1];
	char docker_version[REGISTRY_VERSION_MAX + 1];
	int64_t cert_not_after;        /* seconds */
	struct cert_expiry cert_watch; /* its expiry warnings */
	struct inventory *inv;
	bool inv_live; /* inv came in this session: its ids are indexed */
	struct policy *policy; /* the policy it shares, or NULL */
	bool anchors;          /* this session's hello had its audit head */
	/* The roster it said it holds; roster_known false until it did. */
	bool roster_known;
	int64_t roster_version;
	char roster_sha256[65];
	char roster_refused[REGISTRY_REFUSED_MAX + 1];
	/* Conflicts returned in this session (REGISTRY_REPORTED_MAX). */
	char (*reported)[65];
	size_t nreported;
	/* Cluster mode (registry.h): the database's view of a host no
	 * session of ours holds; replica is its holder, "" when none. */
	bool remote;
	char replica[64];
};

struct registry {
	pthread_mutex_t mu;
	struct host *hosts; /* sorted by host_id */
	size_t count, cap;
	uint64_t next_session;
	struct registry_ids *ids; /* full id -> live host */
	char self[64];            /* this replica's name; "" one server */
};

struct registry *
registry_new(void)
{
	struct registry *reg = calloc(1, sizeof(*reg));

	if (reg == NULL)
		return NULL;
	reg->ids = registry_ids_new();
	if (reg->ids == NULL || pthread_mutex_init(&reg->mu, NULL) != 0) {
		registry_ids_free(reg->ids);
		free(reg);
		return NULL;
	}
	reg->next_session = 1;
	return reg;
}

void
registry_set_replica(struct registry *reg, const char *name)
{
	(void)pthread_mutex_lock(&reg->mu);
	(void)snprintf(reg->self, sizeof(reg->self), "%s",
	    name != NULL ? name : "");
	(void)pthread_mutex_unlock(&reg->mu);
}

void
registry_free(struct registry *reg)
{
	size_t i;

	if (reg == NULL)
		return;
	for (i = 0; i < reg->count; i++) {
		inventory_free(reg->hosts[i].inv);
		policy_free(reg->hosts[i].policy);
		free(reg->hosts[i].reported);
	}
	free(reg->hosts);
	registry_ids_free(reg->ids);
	(void)pthread_mutex_destroy(&reg->mu);
	free(reg);
}

/* Index of host_id, or where it would go (*found false). Lock held. */
static size_t
locate(const struct registry *reg, const char *host_id, bool *found)
{
	size_t lo = 0, hi = reg->count;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(reg->hosts[mid].host_id, host_id);
		if (c == 0) {
			*found = true;
			return mid;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	*found = false;
	return lo;
}

static struct host *
find_host(struct registry *reg, const char *host_id)
{
	bool found;
	size_t i = locate(reg, host_id, &found);

	return found ? &reg->hosts[i] : NULL;
}

/* Whether h is connected here in session (not a mirrored host). */
static bool
local_session(const struct host *h, uint64_t session)
{
	return h != NULL && h->connected && !h->remote && h->session == session;
}

/* Whether h is connected here (not a mirrored host). */
static bool
local_connected(const struct host *h)
{
	return h->connected && !h->remote;
}

/*
 * h's inventory stops being live (disconnect, a new session): its ids
 * leave the index, so that other hosts may claim them. Lock held.
 */
static void
unindex(struct registry *reg, struct host *h)
{
	size_t j;

	for (j = 0; h->inv_live && h->inv != NULL && j < h->inv->count; j++)
		registry_ids_del(reg->ids, h->inv->items[j].id, h->host_id);
	h->inv_live = false;
}

static void
copy_bounded(char *dst, size_t size, const char *src)
{
	size_t n = src != NULL ? strnlen(src, size - 1) : 0;

	if (n > 0)
		memcpy(dst, src, n);
	dst[n] = '\0';
}

/* Grows reg->hosts by one at i for host_id. Lock held. */
static struct host *
insert_host(struct registry *reg, size_t i, const char *host_id)
{
	if (reg->count == reg->cap) {
		size_t ncap = reg->cap == 0 ? 16 : reg->cap * 2;
		struct host *n;

		if (ncap > SIZE_MAX / sizeof(*n))
			return NULL;
		n = realloc(reg->hosts, ncap * sizeof(*n));
		if (n == NULL)
			return NULL;
		reg->hosts = n;
		reg->cap = ncap;
	}
	memmove(&reg->hosts[i + 1], &reg->hosts[i],
	    (reg->count - i) * sizeof(*reg->hosts));
	reg->count++;
	memset(&reg->hosts[i], 0, sizeof(reg->hosts[i]));
	copy_bounded(reg->hosts[i].host_id, sizeof(reg->hosts[i].host_id),
	    host_id);
	return &reg->hosts[i];
}

uint64_t
registry_connect(struct registry *reg, const char *host_id,
    const char *agent_version, const char *docker_version,
    int64_t cert_not_after, int64_t now_ms, uint64_t *replaced)
{
	struct host *h;
	bool found;
	size_t i;
	uint64_t session = 0;

	*replaced = 0;
	if (strlen(host_id) >= sizeof(h->host_id))
		return 0;
	(void)pthread_mutex_lock(&reg->mu);
	i = locate(reg, host_id, &found);
	h = found ? &reg->hosts[i] : insert_host(reg, i, host_id);
	if (h == NULL)
		goto out;
	if (h->connected)
		*replaced = h->session;
	/* The last inventory is stale until this session sends one. */
	unindex(reg, h);
	h->nreported = 0;
	/* Nor is the last session's policy this one's until it says so. */
	policy_free(h->policy);
	h->policy = NULL;
	h->anchors = false;
	/* A mirrored host is ours again; its last rows stay, not live. */
	if (h->remote)
		*replaced = 0;
	h->remote = false;
	h->replica[0] = '\0';
	session = reg->next_session++;
	h->session = session;
	h->connected = true;
	h->connected_at = now_ms;
	h->last_seen = now_ms;
	h->cert_not_after = cert_not_after;
	copy_bounded(h->agent_version, sizeof(h->agent_version), agent_version);
	copy_bounded(h->docker_version, sizeof(h->docker_version),
	    docker_version);
out:
	(void)pthread_mutex_unlock(&reg->mu);
	return session;
}

void
registry_disconnect(struct registry *reg, const char *host_id, uint64_t session,
    int64_t now_ms)
{
	struct host *h;

	(void)pthread_mutex_lock(&reg->mu);
	h = find_host(reg, host_id);
	if (local_session(h, session)) {
		h->connected = false;
		h->last_seen = now_ms;
		unindex(reg, h);
		/* The next session shares its policy again. */
		policy_free(h->policy);
		h->policy = NULL;
	}
	(void)pthread_mutex_unlock(&reg->mu);
}

/* Whether h returned the conflict over id in this session. Lock held. */
static bool
was_reported(const struct host *h, const char *id)
{
	size_t k;

	for (k = 0; k < h->nreported; k++)
		if (strcmp(h->reported[k], id) == 0)
			return true;
	return false;
}

/* Notes a dropped row of h in rep, new conflicts once. Lock held. */
static void
note_conflict(struct host *h, const char *id, const char *holder,
    struct registry_inventory_report *rep)
{
	struct registry_conflict *c;

	rep->dropped++;
	if (was_reported(h, id))
		return;
	if (rep->nfresh == REGISTRY_REPORT_MAX) {
		/* Returned with a later inventory, if it persists. */
		return;
	}
	if (h->reported == NULL)
		h->reported = calloc(REGISTRY_REPORTED_MAX,
		    sizeof(*h->reported));
	if (h->reported == NULL || h->nreported == REGISTRY_REPORTED_MAX) {
		rep->over_cap++;
		return;
	}
	memcpy(h->reported[h->nreported++], id, 65);
	c = &rep->fresh[rep->nfresh++];
	memcpy(c->container_id, id, sizeof(c->container_id));
	copy_bounded(c->held_by, sizeof(c->held_by), holder);
}

/*
 * Indexes inv's rows for h, dropping (in place) those whose ids another
 * live host holds. Room in the index is reserved. Lock held.
 */
static void
index_rows(struct registry *reg, struct host *h, struct inventory *inv,
    struct registry_inventory_report *rep)
{
	size_t j = 0;

	while (j < inv->count) {
		const char *id = inv->items[j].id;
		const char *holder = registry_ids_get(reg->ids, id);

		if (holder != NULL && strcmp(holder, h->host_id) != 0) {
			note_conflict(h, id, holder, rep);
			inventory_remove(inv, j);
			continue;
		}
		if (holder == NULL &&
		    registry_ids_put(reg->ids, id, h->host_id) != 0) {
			/* Cannot be: a full id, room reserved. Not live. */
			rep->dropped++;
			inventory_remove(inv, j);
			continue;
		}
		j++;
	}
	rep->kept = inv->count;
}

int
registry_set_inventory(struct registry *reg, const char *host_id,
    uint64_t session, struct inventory *inv, int64_t now_ms,
    struct registry_inventory_report *rep)
{
	struct registry_inventory_report scratch;
	struct host *h;
	int r = SIGNET_ERR_NOT_FOUND;

	if (rep == NULL)
		rep = &scratch;
	memset(rep, 0, sizeof(*rep));
	if (inv == NULL)
		return SIGNET_ERR_INVALID_ARG;
	(void)pthread_mutex_lock(&reg->mu);
	h = find_host(reg, host_id);
	if (!local_session(h, session))
		goto out;
	r = registry_ids_reserve(reg->ids, inv->count);
	if (r != 0)
		goto out;
	unindex(reg, h);
	index_rows(reg, h, inv, rep);
	inventory_free(h->inv);
	h->inv = inv;
	h->inv_live = true;
	inv = NULL;
	h->last_seen = now_ms;
	r = 0;
out:
	(void)pthread_mutex_unlock(&reg->mu);
	inventory_free(inv);
	return r;
}

void
registry_touch(struct registry *reg, const char *host_id, uint64_t session,
    int64_t now_ms)
{
	struct host *h;

	(void)pthread_mutex_lock(&reg->mu);
	h = find_host(reg, host_id);
	if (local_session(h, session))
		h->last_seen = now_ms;
	(void)pthread_mutex_unlock(&reg->mu);
}

void
registry_set_roster(struct registry *reg, const char *host_id, uint64_t session,
    int64_t version, const char *sha256, const char *refused)
{
	struct host *h;

	(void)pthread_mutex_lock(&reg->mu);
	h = find_host(reg, host_id);
	if (local_session(h, session)) {
		h->roster_known = true;
		h->roster_version = version;
		(void)snprintf(h->roster_sha256, sizeof(h->roster_sha256), "%s",
		    sha256);
		(void)snprintf(h->roster_refused, sizeof(h->roster_refused),
		    "%s", refused);
	}
	(void)pthread_mutex_unlock(&reg->mu);
}

void
registry_set_anchors(struct registry *reg, const char *host_id,
    uint64_t session, bool anchors)
{
	struct host *h;

	(void)pthread_mutex_lock(&reg->mu);
	h = find_host(reg, host_id);
	if (local_session(h, session))
		h->anchors = anchors;
	(void)pthread_mutex_unlock(&reg->mu);
}

bool
registry_anchors(struct registry *reg, const char *host_id)
{
	struct host *h;
	bool anchors;

	(void)pthread_mutex_lock(&reg->mu);
	h = find_host(reg, host_id);
	/* Connected here, or held elsewhere: then its holder's word. */
	anchors = h != NULL && h->connected && h->anchors;
	(void)pthread_mutex_unlock(&reg->mu);
	return anchors;
}

void
registry_set_policy(struct registry *reg, const char *host_id, uint64_t session,
    struct policy *p)
{
	struct host *h;

	(void)pthread_mutex_lock(&reg->mu);
	h = find_host(reg, host_id);
	if (local_session(h, session)) {
		policy_free(h->policy);
		h->policy = p;
		p = NULL;
	}
	(void)pthread_mutex_unlock(&reg->mu);
	policy_free(p);
}

int
registry_judge(struct registry *reg, const char *host_id,
    const char *container_id, const struct policy_request *req,
    struct policy_decision *dec, struct policy_approval_term *terms, size_t max,
    size_t *nterms, int64_t *wait_ms)
{
	const struct inventory_container *c;
	struct policy_label labels[INVENTORY_MAX_LABELS];
	struct policy_request q;
	struct host *h;
	size_t i;
	int r = SIGNET_ERR_NOT_FOUND;

	*nterms = 0;
	*wait_ms = 0;
	(void)pthread_mutex_lock(&reg->mu);
	h = find_host(reg, host_id);
	if (h == NULL || h->policy == NULL || h->inv == NULL)
		goto out;
	c = inventory_find(h->inv, container_id);
	if (c == NULL)
		goto out;
	q = *req;
	for (i = 0; i < c->nlabels && i < INVENTORY_MAX_LABELS; i++) {
		labels[i].key = c->labels[i].key;
		labels[i].value = c->labels[i].value;
	}
	q.container_id = c->id;
	q.name = inventory_primary_name(c);
	q.image = c->image;
	q.labels = labels;
	q.nlabels = i;
	r = policy_evaluate(h->policy, &q, dec);
	if (r == 0 && dec->rule >= 0 &&
	    policy_rule_approvals(h->policy, (size_t)dec->rule, terms, max,
	        nterms, wait_ms) != 0)
		*nterms = 0;
out:
	(void)pthread_mutex_unlock(&reg->mu);
	return r;
}

cJSON *
registry_roster_json(struct registry *reg)
{
	cJSON *arr = cJSON_CreateArray();
	size_t i;
	bool ok = arr != NULL;

	(void)pthread_mutex_lock(&reg->mu);
	for (i = 0; ok && i < reg->count; i++) {
		const struct host *h = &reg->hosts[i];
		cJSON *o = cJSON_CreateObject();

		ok = o != NULL && cJSON_AddItemToArray(arr, o) &&
		    cJSON_AddStringToObject(o, "host_id", h->host_id) != NULL &&
		    cJSON_AddBoolToObject(o, "connected", h->connected) != NULL;
		if (ok && h->roster_known)
			ok = jsonx_add_int64(o, "roster_version",
			         h->roster_version) &&
			    (h->roster_version == 0 ?
			            cJSON_AddNullToObject(o, "roster_sha256") :
			            cJSON_AddStringToObject(o, "roster_sha256",
			                h->roster_sha256)) != NULL;
		else if (ok)
			ok = cJSON_AddNullToObject(o, "roster_version") !=
			        NULL &&
			    cJSON_AddNullToObject(o, "roster_sha256") != NULL;
		if (ok)
			ok = (h->roster_refused[0] != '\0' ?
			             cJSON_AddStringToObject(o, "refused",
			                 h->roster_refused) :
			             cJSON_AddNullToObject(o, "refused")) !=
			    NULL;
	}
	(void)pthread_mutex_unlock(&reg->mu);
	if (!ok) {
		cJSON_Delete(arr);
		return NULL;
	}
	return arr;
}

void
registry_format_time(int64_t ms, char *buf, size_t len)
{
	(void)clock_format(ms, true, buf, len);
}

/* Adds an ISO time, or null when ms is 0. */
static bool
add_time(cJSON *o, const char *key, int64_t ms)
{
	char buf[40];

	if (ms <= 0)
		return cJSON_AddNullToObject(o, key) != NULL;
	registry_format_time(ms, buf, sizeof(buf));
	return cJSON_AddStringToObject(o, key, buf) != NULL;
}

cJSON *
registry_hosts_json(struct registry *reg, int64_t now)
{
	cJSON *root = cJSON_CreateObject(), *arr;
	size_t i;

	if (root == NULL)
		return NULL;
	arr = cJSON_AddArrayToObject(root, "hosts");
	if (arr == NULL)
		goto fail;
	(void)pthread_mutex_lock(&reg->mu);
	for (i = 0; i < reg->count; i++) {
		const struct host *h = &reg->hosts[i];
		cJSON *o = cJSON_CreateObject();

		if (o == NULL || !cJSON_AddItemToArray(arr, o) ||
		    cJSON_AddStringToObject(o, "host_id", h->host_id) == NULL ||
		    cJSON_AddBoolToObject(o, "connected", h->connected) ==
		        NULL ||
		    !add_time(o, "connected_at", h->connected_at) ||
		    !add_time(o, "last_seen", h->last_seen) ||
		    cJSON_AddStringToObject(o, "agent_version",
		        h->agent_version) == NULL ||
		    cJSON_AddStringToObject(o, "docker_version",
		        h->docker_version) == NULL ||
		    cJSON_AddNumberToObject(o, "container_count",
		        h->inv != NULL ? (double)h->inv->count : 0) == NULL ||
		    !add_time(o, "cert_not_after", h->cert_not_after * 1000) ||
		    !(h->cert_not_after > 0 ?
		            jsonx_add_int64(o, "cert_days_left",
		                cert_expiry_days_left(h->cert_not_after, now)) :
		            cJSON_AddNullToObject(o, "cert_days_left") !=
		                NULL) ||
		    cJSON_AddStringToObject(o, "replica",
		        h->remote ? h->replica :
		                    (h->connected ? reg->self : "")) == NULL) {
			(void)pthread_mutex_unlock(&reg->mu);
			goto fail;
		}
	}
	(void)pthread_mutex_unlock(&reg->mu);
	return root;
fail:
	cJSON_Delete(root);
	return NULL;
}

void
registry_check_certs(struct registry *reg, const char *host_id, int64_t now,
    int warn_days, unsigned flags, const char *when)
{
	struct host *h;
	size_t i;

	(void)pthread_mutex_lock(&reg->mu);
	if (host_id != NULL) {
		/* At each hello: one lookup, not a walk over every host. */
		h = find_host(reg, host_id);
		if (h != NULL && local_connected(h))
			(void)cert_expiry_check(&h->cert_watch, "agent",
			    h->host_id, h->cert_not_after, now, warn_days,
			    flags, when);
		(void)pthread_mutex_unlock(&reg->mu);
		return;
	}
	for (i = 0; i < reg->count; i++) {
		h = &reg->hosts[i];
		if (local_connected(h))
			(void)cert_expiry_check(&h->cert_watch, "agent",
			    h->host_id, h->cert_not_after, now, warn_days,
			    flags, when);
	}
	(void)pthread_mutex_unlock(&reg->mu);
}

int
registry_connected_certs(struct registry *reg, struct registry_cert **out,
    size_t *n)
{
	struct registry_cert *rows = NULL;
	size_t i, k = 0, count = 0;
	int r = SIGNET_ERR_ALLOC;

	*out = NULL;
	*n = 0;
	(void)pthread_mutex_lock(&reg->mu);
	for (i = 0; i < reg->count; i++)
		count += local_connected(&reg->hosts[i]) ? 1 : 0;
	if (count > 0) {
		rows = calloc(count, sizeof(*rows));
		if (rows == NULL)
			goto out;
	}
	for (i = 0; i < reg->count && k < count; i++) {
		const struct host *h = &reg->hosts[i];

		if (!local_connected(h))
			continue;
		copy_bounded(rows[k].host_id, sizeof(rows[k].host_id),
		    h->host_id);
		rows[k].not_after = h->cert_not_after;
		k++;
	}
	*out = rows;
	*n = k;
	rows = NULL;
	r = 0;
out:
	(void)pthread_mutex_unlock(&reg->mu);
	free(rows);
	return r;
}

struct row_ref {
	const char *host_id;
	const struct inventory_container *c;
};

static int
cmp_rows(const void *a, const void *b)
{
	const struct row_ref *x = a, *y = b;
	int c = strcmp(x->host_id, y->host_id);

	if (c != 0)
		return c;
	c = strcmp(inventory_primary_name(x->c), inventory_primary_name(y->c));
	return c != 0 ? c : strcmp(x->c->id, y->c->id);
}

cJSON *
registry_containers_json(struct registry *reg, const char *host,
    const char *state)
{
	cJSON *root = cJSON_CreateObject(), *arr;
	struct row_ref *refs = NULL;
	size_t i, j, n = 0, total = 0;

	if (root == NULL)
		return NULL;
	arr = cJSON_AddArrayToObject(root, "containers");
	if (arr == NULL)
		goto fail;
	(void)pthread_mutex_lock(&reg->mu);
	for (i = 0; i < reg->count; i++)
		total += reg->hosts[i].inv != NULL ? reg->hosts[i].inv->count :
		                                     0;
	refs = calloc(total == 0 ? 1 : total, sizeof(*refs));
	if (refs == NULL) {
		(void)pthread_mutex_unlock(&reg->mu);
		goto fail;
	}
	for (i = 0; i < reg->count; i++) {
		const struct host *h = &reg->hosts[i];
		if (h->inv == NULL ||
		    (host != NULL && strcmp(host, h->host_id) != 0))
			continue;
		for (j = 0; j < h->inv->count; j++) {
			const struct inventory_container *c = &h->inv->items[j];
			if (state != NULL && strcmp(state, c->state) != 0)
				continue;
			refs[n].host_id = h->host_id;
			refs[n].c = c;
			n++;
		}
	}
	qsort(refs, n, sizeof(*refs), cmp_rows);
	for (i = 0; i < n; i++) {
		cJSON *row = inventory_container_json(refs[i].c,
		    refs[i].host_id);
		if (row == NULL || !cJSON_AddItemToArray(arr, row)) {
			cJSON_Delete(row);
			(void)pthread_mutex_unlock(&reg->mu);
			goto fail;
		}
	}
	(void)pthread_mutex_unlock(&reg->mu);
	free(refs);
	return root;
fail:
	free(refs);
	cJSON_Delete(root);
	return NULL;
}

static bool
valid_prefix(const char *id, size_t *len)
{
	size_t i;

	for (i = 0; id[i] != '\0'; i++) {
		if (i >= 64 ||
		    !((id[i] >= '0' && id[i] <= '9') ||
		        (id[i] >= 'a' && id[i] <= 'f')))
			return false;
	}
	*len = i;
	return i >= 12;
}

/*
 * Whether h's rows are in the first tier of a lookup: its inventory of
 * this session, or a remote host's while another replica holds it.
 */
static bool
is_live(const struct host *h)
{
	return h->connected && h->inv != NULL && (h->inv_live || h->remote);
}

/*
 * Looks for id (len digits) among the hosts whose liveness is live:
 * REGISTRY_FOUND with *hit and *hit_host, REGISTRY_NOT_FOUND or
 * REGISTRY_AMBIGUOUS (two different full ids). Rows of one full id on
 * several hosts are one container: the most recently seen host's row is
 * taken, so that a full id never comes out ambiguous. Lock held.
 */
static enum registry_lookup
find_in_tier(const struct registry *reg, const char *id, size_t len, bool live,
    const struct inventory_container **hit, const struct host **hit_host)
{
	size_t i, j;

	*hit = NULL;
	*hit_host = NULL;
	for (i = 0; i < reg->count; i++) {
		const struct host *h = &reg->hosts[i];

		if (h->inv == NULL || is_live(h) != live)
			continue;
		for (j = 0; j < h->inv->count; j++) {
			const struct inventory_container *c = &h->inv->items[j];

			if (strncmp(c->id, id, len) != 0)
				continue;
			if (*hit != NULL && strcmp((*hit)->id, c->id) != 0)
				return REGISTRY_AMBIGUOUS;
			if (*hit == NULL ||
			    h->last_seen > (*hit_host)->last_seen) {
				*hit = c;
				*hit_host = h;
			}
		}
	}
	return *hit != NULL ? REGISTRY_FOUND : REGISTRY_NOT_FOUND;
}

enum registry_lookup
registry_find_container(struct registry *reg, const char *id,
    struct registry_container *out)
{
	const struct inventory_container *hit = NULL;
	const struct host *hit_host = NULL;
	enum registry_lookup r;
	size_t len = 0;

	memset(out, 0, sizeof(*out));
	if (id == NULL || !valid_prefix(id, &len))
		return REGISTRY_BAD_ID;
	(void)pthread_mutex_lock(&reg->mu);
	r = find_in_tier(reg, id, len, true, &hit, &hit_host);
	if (r == REGISTRY_NOT_FOUND)
		r = find_in_tier(reg, id, len, false, &hit, &hit_host);
	if (r != REGISTRY_FOUND)
		goto out;
	out->row = inventory_container_json(hit, hit_host->host_id);
	if (out->row == NULL) {
		r = REGISTRY_NOT_FOUND;
		goto out;
	}
	copy_bounded(out->host_id, sizeof(out->host_id), hit_host->host_id);
	out->host_connected = hit_host->connected;
	out->session = hit_host->session;
	if (hit_host->remote)
		copy_bounded(out->replica, sizeof(out->replica),
		    hit_host->replica);
out:
	(void)pthread_mutex_unlock(&reg->mu);
	return r;
}

void
registry_get_stats(struct registry *reg, struct registry_stats *stats)
{
	size_t i;

	memset(stats, 0, sizeof(*stats));
	(void)pthread_mutex_lock(&reg->mu);
	stats->hosts_known = reg->count;
	for (i = 0; i < reg->count; i++) {
		if (local_connected(&reg->hosts[i]))
			stats->agents_connected++;
		if (reg->hosts[i].inv != NULL)
			stats->containers += reg->hosts[i].inv->count;
	}
	(void)pthread_mutex_unlock(&reg->mu);
}

int
registry_mirror(struct registry *reg, const struct registry_remote *rm,
    struct inventory *inv)
{
	struct host *h;
	bool found;
	size_t i;
	int r = SIGNET_ERR_EXISTS;

	if (!text_valid_name(rm->host_id) ||
	    (rm->replica[0] != '\0' && !text_valid_name(rm->replica))) {
		inventory_free(inv);
		return SIGNET_ERR_INVALID_ARG;
	}
	(void)pthread_mutex_lock(&reg->mu);
	i = locate(reg, rm->host_id, &found);
	h = found ? &reg->hosts[i] : insert_host(reg, i, rm->host_id);
	if (h == NULL) {
		r = SIGNET_ERR_ALLOC;
		goto out;
	}
	if (local_connected(h))
		goto out;
	/* Not ours: nothing of a past local session is indexed any more. */
	unindex(reg, h);
	policy_free(h->policy);
	h->policy = NULL;
	h->remote = true;
	h->connected = rm->held && rm->replica[0] != '\0';
	h->anchors = h->connected && rm->anchors;
	copy_bounded(h->replica, sizeof(h->replica),
	    h->connected ? rm->replica : "");
	if (rm->connected_at > 0)
		h->connected_at = rm->connected_at;
	if (rm->last_seen > h->last_seen)
		h->last_seen = rm->last_seen;
	if (rm->agent_version[0] != '\0' || rm->docker_version[0] != '\0') {
		copy_bounded(h->agent_version, sizeof(h->agent_version),
		    rm->agent_version);
		copy_bounded(h->docker_version, sizeof(h->docker_version),
		    rm->docker_version);
	}
	if (rm->cert_not_after > 0)
		h->cert_not_after = rm->cert_not_after;
	if (inv != NULL) {
		inventory_free(h->inv);
		h->inv = inv;
		inv = NULL;
	}
	r = 0;
out:
	(void)pthread_mutex_unlock(&reg->mu);
	inventory_free(inv);
	return r;
}

int
registry_host_texts(struct registry *reg, const char *host_id, uint64_t session,
    char **info, char **inventory)
{
	struct registry_remote rm;
	struct host *h;
	cJSON *arr = NULL;
	int r = SIGNET_ERR_NOT_FOUND;

	*info = NULL;
	*inventory = NULL;
	memset(&rm, 0, sizeof(rm));
	(void)pthread_mutex_lock(&reg->mu);
	h = find_host(reg, host_id);
	if (!local_session(h, session))
		goto out;
	copy_bounded(rm.agent_version, sizeof(rm.agent_version),
	    h->agent_version);
	copy_bounded(rm.docker_version, sizeof(rm.docker_version),
	    h->docker_version);
	rm.cert_not_after = h->cert_not_after;
	rm.connected_at = h->connected_at;
	rm.anchors = h->anchors;
	r = SIGNET_ERR_ALLOC;
	if (h->inv != NULL && h->inv_live) {
		arr = inventory_to_json(h->inv, NULL);
		if (arr == NULL)
			goto out;
	}
	(void)pthread_mutex_unlock(&reg->mu);
	/* Printed outside the lock: the hub's thread waits for none. */
	*info = registry_remote_info_text(&rm);
	if (*info == NULL)
		goto fail;
	if (arr != NULL) {
		*inventory = jsonx_print(arr);
		if (*inventory == NULL)
			goto fail;
	}
	cJSON_Delete(arr);
	return 0;
fail:
	cJSON_Delete(arr);
	free(*info);
	*info = NULL;
	return SIGNET_ERR_ALLOC;
out:
	(void)pthread_mutex_unlock(&reg->mu);
	return r;
}
