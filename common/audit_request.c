/* SPDX-License-Identifier: ISC */
/*
 * The offline verifier's check of operator requests (audit_request.h):
 * the roster files are verified once, then each recorded action that
 * relays an operator's request is judged against the roster in force at
 * the record's time, and the record's claims against what verified.
 */
#include "audit_request.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "fileio.h"
#include "request.h"
#include "roster.h"
#include "text.h"

struct audit_request_rosters {
	size_t n;
	struct roster **r; /* n verified rosters, in the order given */
};

void
audit_request_rosters_free(struct audit_request_rosters *rs)
{
	size_t i;

	if (rs == NULL)
		return;
	for (i = 0; i < rs->n; i++)
		roster_free(rs->r[i]);
	free(rs->r);
	free(rs);
}

/* Adds the verified roster r (taken) unless a file of its version is in. */
static int
add_roster(struct audit_request_rosters *rs, struct roster *r, const char *path,
    struct err_msg *msg)
{
	size_t i;

	for (i = 0; i < rs->n; i++) {
		if (rs->r[i]->version != r->version)
			continue;
		if (strcmp(rs->r[i]->sha256, r->sha256) == 0 ||
		    strcmp(rs->r[i]->payload_sha256, r->payload_sha256) == 0) {
			roster_free(r);
			return 0;
		}
		roster_free(r);
		return err_set(msg, SIGNET_ERR_FORMAT,
		    "%s: roster version %" PRId64
		    " differs from another file of the same version given",
		    path, rs->r[i]->version);
	}
	rs->r[rs->n++] = r;
	return 0;
}

int
audit_request_rosters_load(const char *const *paths, size_t n,
    const struct keys_pubset *pinned, unsigned threshold,
    struct audit_request_rosters **out, struct err_msg *msg)
{
	struct audit_request_rosters *rs = NULL;
	struct roster *r = NULL;
	struct err_msg sub;
	char *text = NULL;
	size_t i, len = 0;
	int rc;

	if (out != NULL)
		*out = NULL;
	if (paths == NULL || out == NULL || pinned == NULL || n == 0 ||
	    n > AUDIT_REQUEST_ROSTERS_MAX || threshold == 0 ||
	    threshold > ROSTER_THRESHOLD_MAX)
		return err_set(msg, SIGNET_ERR_INVALID_ARG,
		    "give 1 to %d roster files and a threshold of 1 to %d",
		    AUDIT_REQUEST_ROSTERS_MAX, ROSTER_THRESHOLD_MAX);
	rs = calloc(1, sizeof(*rs));
	if (rs == NULL || (rs->r = calloc(n, sizeof(*rs->r))) == NULL) {
		rc = err_set(msg, SIGNET_ERR_ALLOC, "out of memory");
		goto out;
	}
	for (i = 0; i < n; i++) {
		rc = fileio_read_alloc(paths[i], ROSTER_FILE_MAX, &text, &len,
		    &sub);
		if (rc != 0) {
			rc = err_set(msg, rc, "roster %s: %s", paths[i],
			    sub.text);
			goto out;
		}
		rc = roster_verify((const uint8_t *)text, len, pinned,
		    threshold, &r, &sub);
		free(text);
		text = NULL;
		if (rc != 0) {
			rc = err_set(msg, rc, "roster %s refused: %s", paths[i],
			    sub.text);
			goto out;
		}
		rc = add_roster(rs, r, paths[i], msg);
		r = NULL;
		if (rc != 0)
			goto out;
	}
	*out = rs;
	rs = NULL;
	rc = 0;
out:
	free(text);
	audit_request_rosters_free(rs);
	return rc;
}

const char *
audit_request_verdict_name(enum audit_request_verdict v)
{
	switch (v) {
	case AUDIT_REQUEST_VERIFIED: return "verified";
	case AUDIT_REQUEST_SERVER_ASSERTED: return "server-asserted";
	case AUDIT_REQUEST_UNVERIFIED: return "unverified";
	case AUDIT_REQUEST_FAILED: return "failed";
	case AUDIT_REQUEST_UNCHECKED: return "not checked";
	}
	return "unknown";
}

/* Sets out's verdict and why; returns 0. */
__attribute__((format(printf, 3, 4))) static int
judge(struct audit_request_finding *out, enum audit_request_verdict v,
    const char *fmt, ...)
{
	va_list ap;

	out->verdict = v;
	va_start(ap, fmt);
	(void)vsnprintf(out->why, sizeof(out->why), fmt, ap);
	va_end(ap);
	return 0;
}

/* What a record claims about its requester. */
struct claims {
	const char *requester; /* NULL: the record does not say */
	const char *key_id;    /* NULL: not said */
	bool has_roster;
	int64_t roster_version;
	const cJSON *approvals; /* NULL: not said */
};

/* Reads the claims of data; FAILED (returns 1) when they are malformed. */
static int
read_claims(const cJSON *data, struct claims *c,
    struct audit_request_finding *out)
{
	const cJSON *v;

	memset(c, 0, sizeof(*c));
	v = cJSON_GetObjectItemCaseSensitive(data, "requester");
	if (v != NULL) {
		if (!cJSON_IsString(v) ||
		    (strcmp(v->valuestring, "verified") != 0 &&
		        strcmp(v->valuestring, "server-asserted") != 0 &&
		        strcmp(v->valuestring, "unverified") != 0)) {
			(void)judge(out, AUDIT_REQUEST_FAILED,
			    "data.requester must be \"verified\", "
			    "\"server-asserted\" or \"unverified\"");
			return 1;
		}
		c->requester = v->valuestring;
	}
	v = cJSON_GetObjectItemCaseSensitive(data, "requester_key_id");
	if (v != NULL) {
		if (!cJSON_IsString(v) ||
		    !text_is_hex(v->valuestring, KEYS_ID_LEN)) {
			(void)judge(out, AUDIT_REQUEST_FAILED,
			    "data.requester_key_id must be %d lowercase hex "
			    "digits",
			    KEYS_ID_LEN);
			return 1;
		}
		c->key_id = v->valuestring;
	}
	v = cJSON_GetObjectItemCaseSensitive(data, "roster_version");
	if (v != NULL) {
		if (!cJSON_IsNumber(v) || v->valuedouble < 1 ||
		    v->valuedouble > (double)ROSTER_VERSION_MAX ||
		    v->valuedouble != (double)(int64_t)v->valuedouble) {
			(void)judge(out, AUDIT_REQUEST_FAILED,
			    "data.roster_version must be an integer of 1 to "
			    "%lld",
			    (long long)ROSTER_VERSION_MAX);
			return 1;
		}
		c->has_roster = true;
		c->roster_version = (int64_t)v->valuedouble;
	}
	v = cJSON_GetObjectItemCaseSensitive(data, "approvals");
	if (v != NULL) {
		if (!cJSON_IsArray(v)) {
			(void)judge(out, AUDIT_REQUEST_FAILED,
			    "data.approvals must be an array");
			return 1;
		}
		c->approvals = v;
	}
	return 0;
}

/*
 * The newest roster at or above version issued by ts (less skew), or
 * NULL.
 */
static const struct roster *
newest_issued(const struct audit_request_rosters *rs, int64_t version,
    int64_t ts, int64_t skew)
{
	const struct roster *best = NULL;
	size_t i;

	for (i = 0; i < rs->n; i++) {
		const struct roster *r = rs->r[i];

		if (r->version < version || r->issued_at - skew > ts)
			continue;
		if (best == NULL || r->version > best->version)
			best = r;
	}
	return best;
}

/*
 * The roster to judge the request by: the record's own version, else the
 * newest at or above the request's version issued by the record's time;
 * only when none was, one issued within ROSTER_SKEW_MS after it (a
 * server may hold a roster its clock sees as just issued), so that a
 * roster signed soon after the record never displaces the one in force.
 */
static const struct roster *
pick_roster(const struct audit_request_rosters *rs, const struct claims *c,
    int64_t req_version, int64_t ts)
{
	const struct roster *r;
	size_t i;

	if (c->has_roster) {
		for (i = 0; i < rs->n; i++) {
			if (rs->r[i]->version == c->roster_version)
				return rs->r[i];
		}
		return NULL;
	}
	r = newest_issued(rs, req_version, ts, 0);
	if (r == NULL)
		r = newest_issued(rs, req_version, ts, ROSTER_SKEW_MS);
	return r;
}

/* The roster_version of the request's payload, read unverified. */
static int
request_roster_version(const struct request_signed *s, int64_t *version,
    struct err_msg *msg)
{
	struct request_payload p;
	uint8_t *raw = NULL;
	size_t len = 0;
	int r;

	*version = 0;
	r = text_b64_decode(s->payload_b64,
	    strnlen(s->payload_b64, REQUEST_PAYLOAD_B64_MAX + 1),
	    REQUEST_PAYLOAD_MAX, &raw, &len);
	if (r != 0)
		return err_set(msg, r,
		    r == SIGNET_ERR_ALLOC ? "out of memory" :
		                            "the request is not base64 of 1 to "
		                            "4096 bytes");
	r = request_decode(raw, len, &p, msg);
	free(raw);
	if (r == 0)
		*version = p.roster_version;
	return r;
}

/*
 * Compares the record's data.approvals with what the verifier counted;
 * a mismatch is judged FAILED in out. Returns 0.
 */
static int
check_claimed_approvals(const struct claims *c,
    const struct envelope_action_payload *act,
    const struct request_approver *ap, struct audit_request_finding *out)
{
	const cJSON *e;
	const cJSON *k, *counted;
	size_t i = 0;
	char esc[64];

	if (c->approvals == NULL)
		return 0;
	cJSON_ArrayForEach(e, c->approvals)
	{
		k = cJSON_IsObject(e) ?
		    cJSON_GetObjectItemCaseSensitive(e, "key_id") :
		    NULL;
		counted = cJSON_IsObject(e) ?
		    cJSON_GetObjectItemCaseSensitive(e, "counted") :
		    NULL;
		if (!cJSON_IsString(k) || !cJSON_IsBool(counted))
			return judge(out, AUDIT_REQUEST_FAILED,
			    "data.approvals[%zu] must hold a key_id and "
			    "counted",
			    i);
		if (i >= act->napprovals)
			return judge(out, AUDIT_REQUEST_FAILED,
			    "data.approvals[%zu] (key %s) is not among the "
			    "%zu approvals the action carries",
			    i,
			    text_escape_str(k->valuestring, esc, sizeof(esc)),
			    act->napprovals);
		if (strcmp(k->valuestring, act->approvals[i].key_id) != 0)
			return judge(out, AUDIT_REQUEST_FAILED,
			    "data.approvals[%zu] names key %s, the action's "
			    "approval %zu is by key %s",
			    i,
			    text_escape_str(k->valuestring, esc, sizeof(esc)),
			    i, act->approvals[i].key_id);
		if (cJSON_IsTrue(counted) && !ap[i].valid)
			return judge(out, AUDIT_REQUEST_FAILED,
			    "the record counts approval %zu, which does not "
			    "count: %s",
			    i, ap[i].why);
		i++;
	}
	return 0;
}

/* Judges a verified request's approvals and the record's claims. */
static int
judge_verified(const struct roster *ros, const struct claims *c,
    const struct audit_record *rec, const struct envelope_action_payload *act,
    const struct request_verified *v, const struct request_signed *s,
    struct audit_request_finding *out)
{
	struct request_approver ap[REQUEST_APPROVALS_MAX];
	struct err_msg m;
	size_t i;
	int n;

	(void)snprintf(out->requester, sizeof(out->requester), "%s",
	    v->signer->name);
	if (c->requester != NULL && strcmp(c->requester, "unverified") == 0)
		return judge(out, AUDIT_REQUEST_UNVERIFIED,
		    "the host recorded it unverified; it verifies under "
		    "roster version %" PRId64
		    " (the host held another roster?)",
		    ros->version);
	if (c->key_id != NULL && strcmp(c->key_id, s->key_id) != 0)
		return judge(out, AUDIT_REQUEST_FAILED,
		    "the record names requester key %s, the request is "
		    "signed by key %s",
		    c->key_id, s->key_id);
	if (strcmp(rec->event, "action.rejected") != 0 &&
	    request_matches_action(&v->p, act, &m) != 0)
		return judge(out, AUDIT_REQUEST_FAILED, "%s", m.text);
	memset(ap, 0, sizeof(ap));
	n = request_check_approvals(ros, v, act->approvals, act->napprovals,
	    rec->ts, ap);
	if (n < 0)
		return judge(out, AUDIT_REQUEST_FAILED, "approvals: %s",
		    err_str(n));
	out->napprovals = act->napprovals;
	for (i = 0; i < act->napprovals; i++) {
		struct audit_request_approval *o = &out->approvals[i];

		memcpy(o->key_id, ap[i].key_id, sizeof(o->key_id));
		if (ap[i].op != NULL)
			(void)snprintf(o->name, sizeof(o->name), "%s",
			    ap[i].op->name);
		o->counted = ap[i].valid;
		if (!ap[i].valid)
			(void)snprintf(o->why, sizeof(o->why), "%s", ap[i].why);
	}
	(void)check_claimed_approvals(c, act, ap, out);
	if (out->verdict != AUDIT_REQUEST_FAILED)
		out->verdict = AUDIT_REQUEST_VERIFIED;
	return 0;
}

int
audit_request_check(const struct audit_request_rosters *rs,
    const struct audit_record *rec, const struct envelope_action_payload *act,
    struct audit_request_finding *out)
{
	struct request_signed s;
	struct request_verified v;
	struct claims c;
	struct err_msg m;
	const struct roster *ros;
	int64_t req_version = 0;
	bool says_unverified;
	int r;

	if (out != NULL)
		memset(out, 0, sizeof(*out));
	if (rec == NULL || act == NULL || out == NULL)
		return SIGNET_ERR_INVALID_ARG;
	memset(&s, 0, sizeof(s));
	memset(&v, 0, sizeof(v));
	err_clear(&m);
	out->seq = rec->seq;
	out->ts = rec->ts;
	memcpy(out->event, rec->event, sizeof(out->event));
	memcpy(out->action_id, act->action_id, sizeof(out->action_id));
	(void)snprintf(out->requester, sizeof(out->requester), "%s",
	    act->requested_by);
	if (read_claims(rec->data, &c, out) != 0)
		return 0;
	says_unverified = c.requester != NULL &&
	    strcmp(c.requester, "unverified") == 0;
	if (!act->has_request) {
		if (c.requester != NULL &&
		    strcmp(c.requester, "server-asserted") != 0)
			return judge(out, AUDIT_REQUEST_FAILED,
			    "the record says the requester is %s, but the "
			    "action carries no operator request",
			    c.requester);
		return judge(out, AUDIT_REQUEST_SERVER_ASSERTED,
		    "no operator signature");
	}
	memcpy(out->key_id, act->request.key_id, sizeof(out->key_id));
	if (c.requester != NULL && strcmp(c.requester, "server-asserted") == 0)
		return judge(out, AUDIT_REQUEST_FAILED,
		    "the record says the requester is server-asserted, but "
		    "the action carries an operator request");
	if (rs == NULL)
		return judge(out, AUDIT_REQUEST_UNCHECKED, "give --roster");
	r = request_from_action(act, &s);
	if (r != 0) {
		r = r == SIGNET_ERR_ALLOC ? r : 0;
		if (r == 0)
			(void)judge(out, AUDIT_REQUEST_FAILED,
			    "cannot read the operator request");
		goto out;
	}
	r = request_roster_version(&s, &req_version, &m);
	if (r == SIGNET_ERR_ALLOC)
		goto out;
	if (r != 0) {
		r = judge(out,
		    says_unverified ? AUDIT_REQUEST_UNVERIFIED :
		                      AUDIT_REQUEST_FAILED,
		    "the operator request cannot be read: %s", m.text);
		goto out;
	}
	ros = pick_roster(rs, &c, req_version, rec->ts);
	if (ros == NULL) {
		if (c.has_roster)
			r = judge(out,
			    says_unverified ? AUDIT_REQUEST_UNVERIFIED :
			                      AUDIT_REQUEST_FAILED,
			    "the record names roster version %" PRId64
			    ", which is not among the --roster files",
			    c.roster_version);
		else
			r = judge(out,
			    says_unverified ? AUDIT_REQUEST_UNVERIFIED :
			                      AUDIT_REQUEST_FAILED,
			    "no roster of version %" PRId64
			    " or newer, issued by the record's time, is "
			    "among the --roster files",
			    req_version);
		goto out;
	}
	out->roster_version = ros->version;
	r = request_verify(ros, &s, rec->ts, &v, &m);
	if (r == SIGNET_ERR_ALLOC)
		goto out;
	if (r != 0) {
		r = judge(out,
		    says_unverified ? AUDIT_REQUEST_UNVERIFIED :
		                      AUDIT_REQUEST_FAILED,
		    "%s%s%s",
		    c.requester != NULL && !says_unverified ?
		        "the record says verified, but " :
		        "",
		    r == SIGNET_ERR_BAD_SIGNATURE ? "bad operator signature: " :
		                                    "",
		    m.text);
		goto out;
	}
	r = judge_verified(ros, &c, rec, act, &v, &s, out);
out:
	request_verified_free(&v);
	request_signed_free(&s);
	return r;
}
