/* SPDX-License-Identifier: ISC */
/*
 * Offline verification of an audit log: every line parses, carries the
 * next seq, links to the previous line's hash, and is signed by the
 * writer's audit key; embedded action and result envelopes verify under
 * the server's action key and each agent's result key. A rotated log is
 * verified as its files in order, each file's audit.rotated opening
 * record checked against the end of the file before it. Each
 * action.result is tied to its action.requested (common/audit_tie.h),
 * and each verified action's operator request is judged against the
 * rosters given (common/audit_request.h).
 */
#include "audit.h"
#include "audit_request.h"
#include "audit_tie.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "envelope.h"
#include "jsonx.h"
#include "outcome.h"
#include "text.h"

void
audit_head_format(const struct audit_head *head,
    char text[static AUDIT_HEAD_TEXT_MAX])
{
	(void)snprintf(text, AUDIT_HEAD_TEXT_MAX, "%" PRIu64 ":%s", head->seq,
	    head->hash);
}

int
audit_head_parse(const char *s, struct audit_head *head)
{
	const char *colon;
	char num[24];
	int64_t seq = 0;
	size_t n;

	memset(head, 0, sizeof(*head));
	colon = s != NULL ? strchr(s, ':') : NULL;
	if (colon == NULL)
		return SIGNET_ERR_FORMAT;
	n = (size_t)(colon - s);
	if (n == 0 || n >= sizeof(num))
		return SIGNET_ERR_FORMAT;
	memcpy(num, s, n);
	num[n] = '\0';
	if (num[0] == '-' || text_to_int64(num, 0, JSONX_INT_MAX, &seq) != 0)
		return SIGNET_ERR_FORMAT;
	if (!text_is_hex(colon + 1, AUDIT_HASH_HEX))
		return SIGNET_ERR_FORMAT;
	head->seq = (uint64_t)seq;
	memcpy(head->hash, colon + 1, AUDIT_HASH_HEX + 1);
	return 0;
}

/*
 * Checks data.action, if present, under the pinned action keys. *raw
 * receives its exact payload bytes (free()) and act the parsed payload,
 * verified or (without action keys) as recorded; *raw stays NULL when the
 * record embeds no action.
 */
static int
check_embedded_action(const cJSON *data, const struct audit_verify_opts *o,
    struct audit_verify_report *rep, struct envelope_action_payload *act,
    uint8_t **raw, size_t *raw_len, struct err_msg *msg)
{
	static const char *const members[] = { "payload", "sig", "key_id",
		NULL };
	const cJSON *env = cJSON_GetObjectItemCaseSensitive(data, "action");
	const char *payload = NULL, *sig = NULL, *key_id = NULL;
	struct err_msg sub;
	int r;

	*raw = NULL;
	*raw_len = 0;
	if (env == NULL)
		return 0;
	if (!cJSON_IsObject(env))
		return err_set(msg, SIGNET_ERR_FORMAT,
		    "data.action must be an object");
	r = jsonx_only_members(env, members, "data.action", msg);
	if (r == 0)
		r = jsonx_get_string(env, "payload", false, "data.action",
		    &payload, msg);
	if (r == 0)
		r = jsonx_get_string(env, "sig", false, "data.action", &sig,
		    msg);
	if (r == 0)
		r = jsonx_get_string(env, "key_id", false, "data.action",
		    &key_id, msg);
	if (r != 0)
		return r;
	if (o->action_keys == NULL) {
		/*
		 * Unchecked, but still the bytes a result must answer; bytes
		 * that do not parse answer nothing (a result for them finds
		 * no action.requested).
		 */
		rep->actions_unchecked++;
		r = text_b64_decode(payload,
		    strnlen(payload, 2 * ENVELOPE_ACTION_PAYLOAD_MAX),
		    ENVELOPE_ACTION_PAYLOAD_MAX, raw, raw_len);
		if (r == SIGNET_ERR_ALLOC)
			return err_set(msg, r, "out of memory");
		if (r == 0 &&
		    envelope_action_decode(*raw, *raw_len, act, &sub) != 0)
			r = SIGNET_ERR_FORMAT;
		if (r != 0) {
			free(*raw);
			*raw = NULL;
			*raw_len = 0;
		}
		return 0;
	}
	r = envelope_action_verify(o->action_keys, key_id, payload, sig, act,
	    raw, raw_len, &sub);
	if (r != 0)
		return err_set(msg, r, "embedded action: %s", sub.text);
	rep->actions_checked++;
	return 0;
}

/*
 * Judges the operator request of a verified action (audit_request.h),
 * counts the verdict and hands the finding to o->on_request. A failed
 * request is counted, not returned: the verification goes on so that
 * every action is reported.
 */
static int
check_request(const struct audit_record *rec,
    const struct envelope_action_payload *act,
    const struct audit_verify_opts *o, struct audit_verify_report *rep,
    struct err_msg *msg)
{
	struct audit_request_finding *f = malloc(sizeof(*f));
	int r;

	if (f == NULL)
		return err_set(msg, SIGNET_ERR_ALLOC, "out of memory");
	r = audit_request_check(o->rosters, rec, act, f);
	if (r != 0) {
		r = err_set(msg, r, "operator request: %s", err_str(r));
		goto out;
	}
	switch (f->verdict) {
	case AUDIT_REQUEST_VERIFIED: rep->requests_verified++; break;
	case AUDIT_REQUEST_SERVER_ASSERTED:
		rep->requests_server_asserted++;
		break;
	case AUDIT_REQUEST_UNVERIFIED: rep->requests_unverified++; break;
	case AUDIT_REQUEST_UNCHECKED: rep->requests_unchecked++; break;
	case AUDIT_REQUEST_FAILED:
	default: rep->requests_failed++; break;
	}
	if (o->on_request != NULL)
		o->on_request(f, o->on_request_arg);
	r = 0;
out:
	free(f);
	return r;
}

/*
 * Reads the host_id of an unverified result or outcome payload (what) to
 * pick its key.
 */
static int
payload_host(const char *what, const char *payload_b64, char *host,
    size_t hostlen, struct err_msg *msg)
{
	uint8_t *raw = NULL;
	size_t b64len = strnlen(payload_b64, 2 * ENVELOPE_PAYLOAD_MAX), got = 0;
	const char *h = NULL;
	cJSON *root = NULL;
	int r;

	r = text_b64_decode(payload_b64, b64len, ENVELOPE_PAYLOAD_MAX, &raw,
	    &got);
	if (r == SIGNET_ERR_ALLOC)
		return err_set(msg, r, "out of memory");
	if (r != 0) {
		r = err_set(msg, SIGNET_ERR_FORMAT,
		    "embedded %s: payload is not base64", what);
		goto out;
	}
	r = jsonx_parse_object(what, raw, got, 4, &root, msg);
	if (r != 0)
		goto out;
	r = jsonx_get_string(root, "host_id", false, what, &h, msg);
	if (r != 0)
		goto out;
	if (!text_valid_name(h) || strlen(h) >= hostlen) {
		r = err_set(msg, SIGNET_ERR_FORMAT, "embedded %s: bad host_id",
		    what);
		goto out;
	}
	memcpy(host, h, strlen(h) + 1);
	r = 0;
out:
	cJSON_Delete(root);
	free(raw);
	return r;
}

/*
 * env, an agent-signed {"payload","sig"} (data.WHAT): its texts, and,
 * with agent keys, the public key of its payload's host (*keyed false
 * without agent keys: nothing to check it with); host names that host.
 */
static int
agent_envelope(const cJSON *env, const char *what,
    const struct audit_verify_opts *o, const char **payload, const char **sig,
    struct keys_public *pub, char *host, size_t hostlen, bool *keyed,
    struct err_msg *msg)
{
	static const char *const members[] = { "payload", "sig", NULL };
	char path[PATH_MAX], where[32];
	struct err_msg sub;
	int n, r;

	*keyed = false;
	(void)snprintf(where, sizeof(where), "data.%s", what);
	if (!cJSON_IsObject(env))
		return err_set(msg, SIGNET_ERR_FORMAT, "%s must be an object",
		    where);
	r = jsonx_only_members(env, members, where, msg);
	if (r == 0)
		r = jsonx_get_string(env, "payload", false, where, payload,
		    msg);
	if (r == 0)
		r = jsonx_get_string(env, "sig", false, where, sig, msg);
	if (r != 0 || o->agent_keys_dir == NULL)
		return r;
	r = payload_host(what, *payload, host, hostlen, msg);
	if (r != 0)
		return r;
	n = snprintf(path, sizeof(path), "%s/%s.pub", o->agent_keys_dir, host);
	if (n < 0 || (size_t)n >= sizeof(path))
		return err_set(msg, SIGNET_ERR_TOO_LARGE, "path too long");
	r = keys_load_public(path, pub, &sub);
	if (r != 0)
		return err_set(msg, r, "embedded %s from host %s: %s", what,
		    host, sub.text);
	*keyed = true;
	return 0;
}

/*
 * Checks data.result, if present, under DIR/HOST-ID.pub; *verified says
 * whether res holds a result that verified.
 */
static int
check_embedded_result(const cJSON *data, const struct audit_verify_opts *o,
    struct audit_verify_report *rep, struct envelope_result_payload *res,
    bool *verified, struct err_msg *msg)
{
	const cJSON *env = cJSON_GetObjectItemCaseSensitive(data, "result");
	const char *payload = NULL, *sig = NULL;
	struct keys_public pub;
	char host[64];
	struct err_msg sub;
	bool keyed = false;
	int r;

	*verified = false;
	if (env == NULL)
		return 0;
	r = agent_envelope(env, "result", o, &payload, &sig, &pub, host,
	    sizeof(host), &keyed, msg);
	if (r != 0)
		return r;
	if (!keyed) {
		rep->results_unchecked++;
		return 0;
	}
	r = envelope_result_verify(&pub, payload, sig, res, NULL, NULL, &sub);
	if (r != 0)
		return err_set(msg, r, "embedded result from host %s: %s", host,
		    sub.text);
	rep->results_checked++;
	*verified = true;
	return 0;
}

/* data.NAME must be the string want (a signed outcome's member). */
static int
outcome_member(const cJSON *data, const char *name, const char *want,
    struct err_msg *msg)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(data, name);
	char esc[80];

	if (cJSON_IsString(v) && strcmp(v->valuestring, want) == 0)
		return 0;
	return err_set(msg, SIGNET_ERR_CHAIN,
	    "action.outcome: data.%s is \"%s\", the signed outcome says "
	    "\"%s\"",
	    name,
	    cJSON_IsString(v) ?
	        text_escape_str(v->valuestring, esc, sizeof(esc)) :
	        "(missing)",
	    want);
}

/*
 * Checks data.outcome of an action.outcome record, if present, under
 * DIR/HOST-ID.pub of its payload's host, and that the record's own
 * action_id, host_id, container_id, action_name, request_sha256 and
 * observed are the signed outcome's.
 */
static int
check_embedded_outcome(const struct audit_record *rec,
    const struct audit_verify_opts *o, struct audit_verify_report *rep,
    struct err_msg *msg)
{
	const char *payload = NULL, *sig = NULL;
	struct outcome_payload p;
	struct keys_public pub;
	char host[64];
	struct err_msg sub;
	bool keyed = false;
	int r;

	if (strcmp(rec->event, "action.outcome") != 0)
		return 0;
	r = agent_envelope(
	    cJSON_GetObjectItemCaseSensitive(rec->data, "outcome"), "outcome",
	    o, &payload, &sig, &pub, host, sizeof(host), &keyed, msg);
	if (r != 0)
		return r;
	if (!keyed) {
		rep->outcomes_unchecked++;
		return 0;
	}
	r = outcome_verify(&pub, payload, sig, &p, NULL, NULL, &sub);
	if (r != 0)
		return err_set(msg, r, "embedded outcome from host %s: %s",
		    host, sub.text);
	r = outcome_member(rec->data, "action_id", p.action_id, msg);
	if (r == 0)
		r = outcome_member(rec->data, "host_id", p.host_id, msg);
	if (r == 0)
		r = outcome_member(rec->data, "container_id", p.container_id,
		    msg);
	if (r == 0)
		r = outcome_member(rec->data, "action_name",
		    envelope_action_name(p.action), msg);
	if (r == 0)
		r = outcome_member(rec->data, "request_sha256",
		    p.request_sha256, msg);
	if (r == 0)
		r = outcome_member(rec->data, "observed",
		    outcome_observed_name(p.observed), msg);
	if (r != 0)
		return r;
	rep->outcomes_checked++;
	return 0;
}

/*
 * Ties an action.requested or a verified action.result into tie. A result
 * may precede the files when they continue an earlier, unchecked file.
 */
static int
check_tie(const struct audit_record *rec,
    const struct envelope_action_payload *act, const uint8_t *raw,
    size_t raw_len, const struct envelope_result_payload *res,
    bool res_verified, struct audit_tie *tie, struct audit_verify_report *rep,
    struct err_msg *msg)
{
	int r;

	if (strcmp(rec->event, "action.requested") == 0 && raw != NULL)
		return audit_tie_request(tie, rec->seq, act, raw, raw_len, msg);
	if (strcmp(rec->event, "action.result") != 0 || !res_verified)
		return 0;
	r = audit_tie_result(tie, rec->seq, rec->data, res, rep->continues,
	    msg);
	if (r == AUDIT_TIE_TIED)
		rep->results_tied++;
	else if (r == AUDIT_TIE_UNTIED)
		rep->results_untied++;
	return r > 0 ? 0 : r;
}

/* Checks one line; prev_hash is updated to this line's hash on success. */
static int
check_line(const char *line, size_t len, uint64_t expect_seq,
    char prev_hash[static AUDIT_HASH_HEX + 1],
    const struct audit_verify_opts *o, struct audit_verify_report *rep,
    struct audit_tie *tie, bool *expect_seen, struct err_msg *msg)
{
	struct envelope_action_payload act;
	struct envelope_result_payload res;
	struct audit_record rec;
	struct err_msg sub;
	char hash[AUDIT_HASH_HEX + 1];
	uint8_t *raw = NULL;
	size_t raw_len = 0;
	bool res_ok = false;
	int r;

	r = audit_parse_line(line, len, &rec, &sub);
	if (r != 0)
		return err_set(msg, r, "%s", sub.text);
	if (rec.seq != expect_seq) {
		r = err_set(msg, SIGNET_ERR_CHAIN,
		    "seq is %" PRIu64 " where %" PRIu64
		    " was expected (record missing, "
		    "inserted or reordered)",
		    rec.seq, expect_seq);
		goto out;
	}
	if (strcmp(rec.prev, prev_hash) != 0) {
		r = err_set(msg, SIGNET_ERR_CHAIN,
		    "prev does not match the hash of the previous line "
		    "(previous line changed, removed or reordered)");
		goto out;
	}
	if (audit_check_sig(&rec, line, o->audit_key) != 0) {
		r = err_set(msg, SIGNET_ERR_BAD_SIGNATURE,
		    "signature does not verify under audit key %s (record "
		    "changed, or signed by another key)",
		    o->audit_key->id);
		goto out;
	}
	r = check_embedded_action(rec.data, o, rep, &act, &raw, &raw_len, msg);
	if (r != 0)
		goto out;
	if (raw != NULL && o->action_keys != NULL) {
		r = check_request(&rec, &act, o, rep, msg);
		if (r != 0)
			goto out;
	}
	r = check_embedded_result(rec.data, o, rep, &res, &res_ok, msg);
	if (r != 0)
		goto out;
	r = check_tie(&rec, &act, raw, raw_len, &res, res_ok, tie, rep, msg);
	if (r != 0)
		goto out;
	r = check_embedded_outcome(&rec, o, rep, msg);
	if (r != 0)
		goto out;
	if (strcmp(rec.event, AUDIT_EVENT_TORN) == 0)
		rep->torn_tails++;
	if (strcmp(rec.event, AUDIT_EVENT_ROTATED) == 0) {
		struct audit_link link;

		r = audit_link_parse(&rec, &link, &sub);
		if (r != 0) {
			r = err_set(msg, r, "%s", sub.text);
			goto out;
		}
		rep->rotations++;
	}
	audit_line_hash(line, len, hash);
	if (o->has_expect_head && rec.seq == o->expect_head.seq) {
		if (strcmp(hash, o->expect_head.hash) != 0) {
			r = err_set(msg, SIGNET_ERR_CHAIN,
			    "record %" PRIu64
			    " is not the expected head %s (log rewritten from "
			    "here?)",
			    rec.seq, o->expect_head.hash);
			goto out;
		}
		*expect_seen = true;
	}
	if (o->on_record != NULL) {
		r = o->on_record(&rec, line, hash, o->on_record_arg, msg);
		if (r != 0)
			goto out;
	}
	memcpy(prev_hash, hash, sizeof(hash));
	r = 0;
out:
	free(raw);
	audit_record_free(&rec);
	return r;
}

static const char *
base_name(const char *path)
{
	const char *slash = strrchr(path, '/');

	return slash != NULL ? slash + 1 : path;
}

/* Where the chain stands between lines and files. */
struct chain_state {
	bool any; /* a record seen */
	uint64_t next_seq;
	char prev[AUDIT_HASH_HEX + 1];
	const char *file; /* the file that holds the head */
	bool expect_seen;
	struct audit_tie *tie; /* the actions seen, for their results */
};

/*
 * Checks the first line of file k: for the first file, where the chain
 * starts (seq 0, or an audit.rotated record naming an earlier file, which
 * is then reported, unchecked); for a later file, that its audit.rotated
 * record continues the file before it. Sets st->next_seq / st->prev to
 * what the line must continue.
 */
static int
check_link(const char *const *paths, size_t n, size_t k, const char *line,
    size_t len, struct chain_state *st, struct audit_verify_report *rep,
    struct err_msg *msg)
{
	size_t j;

	struct audit_record rec;
	struct audit_link link;
	struct err_msg sub;
	int r;

	/* An unparsable line is check_line's to report. */
	if (audit_parse_line(line, len, &rec, &sub) != 0)
		return 0;
	if (k == 0 || !st->any) {
		if (st->any || rec.seq == 0 ||
		    strcmp(rec.event, AUDIT_EVENT_ROTATED) != 0) {
			r = 0;
			goto out;
		}
		r = audit_link_parse(&rec, &link, &sub);
		if (r != 0) {
			r = err_set(msg, r, "%s", sub.text);
			goto out;
		}
		rep->continues = true;
		rep->continues_from = link;
		st->next_seq = rec.seq;
		memcpy(st->prev, rec.prev, sizeof(st->prev));
		r = 0;
		goto out;
	}
	if (strcmp(rec.event, AUDIT_EVENT_ROTATED) != 0) {
		r = err_set(msg, SIGNET_ERR_CHAIN,
		    "starts with %s (seq %" PRIu64
		    "), not with an %s record continuing %s: not a "
		    "later file of this log, or the files are out of order",
		    rec.event, rec.seq, AUDIT_EVENT_ROTATED,
		    base_name(st->file));
		goto out;
	}
	r = audit_link_parse(&rec, &link, &sub);
	if (r != 0) {
		r = err_set(msg, r, "%s", sub.text);
		goto out;
	}
	if (rec.seq > st->next_seq) {
		for (j = k + 1; j < n; j++) {
			if (strcmp(base_name(paths[j]), link.previous) != 0)
				continue;
			r = err_set(msg, SIGNET_ERR_CHAIN,
			    "continues %s, "
			    "which is given after it: the files are out of "
			    "order (give them oldest first, as ls sorts "
			    "their names)",
			    link.previous);
			goto out;
		}
		r = err_set(msg, SIGNET_ERR_CHAIN,
		    "continues %s at seq %" PRIu64
		    ", but the file before it, %s, ends at seq %" PRIu64
		    ": records %" PRIu64 "..%" PRIu64 " are missing "
		    "(a file left out?)",
		    link.previous, link.head.seq, base_name(st->file),
		    st->next_seq - 1, st->next_seq, link.head.seq);
		goto out;
	}
	if (rec.seq < st->next_seq) {
		r = err_set(msg, SIGNET_ERR_CHAIN,
		    "starts at seq %" PRIu64
		    ", at or before the end of the file before it, %s (seq %" PRIu64
		    "): the files are out of order or repeated",
		    rec.seq, base_name(st->file), st->next_seq - 1);
		goto out;
	}
	if (strcmp(link.head.hash, st->prev) != 0) {
		r = err_set(msg, SIGNET_ERR_CHAIN,
		    "continues %s at %" PRIu64 ":%s, but %s ends at %" PRIu64
		    ":%s: one of the two files "
		    "was replaced (by a file of another log?)",
		    link.previous, link.head.seq, link.head.hash,
		    base_name(st->file), st->next_seq - 1, st->prev);
		goto out;
	}
	if (strcmp(link.previous, base_name(st->file)) != 0) {
		r = err_set(msg, SIGNET_ERR_CHAIN,
		    "continues a file named %s, "
		    "but follows %s here (the chain links, but the file was "
		    "renamed: give it its rotated name)",
		    link.previous, base_name(st->file));
		goto out;
	}
	r = 0;
out:
	audit_record_free(&rec);
	return r;
}

/* Verifies file k of a rotated log, carrying st on. */
static int
verify_one(const char *const *paths, size_t n, size_t k,
    const struct audit_verify_opts *opts, struct chain_state *st,
    struct audit_verify_file_info *fi, struct audit_verify_report *rep,
    struct err_msg *msg)
{
	const char *path = paths[k];
	struct audit_reader *rd = NULL;
	struct err_msg sub;
	uint64_t lineno = 0;
	char *line;
	size_t len;
	bool had_nl;
	int r;

	memset(fi, 0, sizeof(*fi));
	r = audit_reader_open(path, &rd, msg);
	if (r != 0)
		return r;
	for (;;) {
		r = audit_reader_next(rd, &line, &len, &had_nl);
		if (r == 0)
			break;
		lineno++;
		if (r < 0) {
			rep->bad_line = lineno;
			r = err_set(msg, r, "%s:%" PRIu64 ": %s", path, lineno,
			    r == SIGNET_ERR_TOO_LARGE ? "line longer than any "
			                                "audit record" :
			                                "read error");
			goto out;
		}
		if (!had_nl) {
			rep->bad_line = lineno;
			r = err_set(msg, SIGNET_ERR_FORMAT,
			    "%s:%" PRIu64
			    ": incomplete last line (a torn write: restart the "
			    "writer to record it, or the file was cut)",
			    path, lineno);
			goto out;
		}
		r = 0;
		if (lineno == 1) {
			r = check_link(paths, n, k, line, len, st, rep, &sub);
			if (r == 0 && k > 0 && st->any)
				fi->linked = true;
		}
		if (r == 0)
			r = check_line(line, len, st->next_seq, st->prev, opts,
			    rep, st->tie, &st->expect_seen, &sub);
		if (r != 0) {
			rep->bad_line = lineno;
			r = err_set(msg, r, "%s:%" PRIu64 ": %s", path, lineno,
			    sub.text);
			goto out;
		}
		if (fi->records == 0)
			fi->first_seq = st->next_seq;
		fi->last_seq = st->next_seq;
		fi->records++;
		rep->records++;
		st->any = true;
		st->next_seq++;
		st->file = path;
	}
	if (lineno == 0 && k > 0) {
		r = err_set(msg, SIGNET_ERR_CHAIN,
		    "%s: empty: no %s record "
		    "links it to %s",
		    path, AUDIT_EVENT_ROTATED,
		    st->file != NULL ? base_name(st->file) : "the file before");
		goto out;
	}
	r = 0;
out:
	audit_reader_close(rd);
	return r;
}

int
audit_verify_files(const char *const *paths, size_t n,
    const struct audit_verify_opts *opts, struct audit_verify_file_info *info,
    struct audit_verify_report *rep, struct err_msg *msg)
{
	struct audit_verify_file_info one;
	struct chain_state st;
	size_t k;
	int r;

	memset(rep, 0, sizeof(*rep));
	memset(&st, 0, sizeof(st));
	rep->head.empty = true;
	memset(st.prev, '0', AUDIT_HASH_HEX);
	if (opts == NULL || opts->audit_key == NULL)
		return err_set(msg, SIGNET_ERR_INVALID_ARG, "no audit key");
	if (paths == NULL || n == 0)
		return err_set(msg, SIGNET_ERR_INVALID_ARG,
		    "no file to verify");
	if (audit_tie_new(&st.tie) != 0)
		return err_set(msg, SIGNET_ERR_ALLOC, "out of memory");
	for (k = 0; k < n; k++) {
		rep->bad_file = k;
		r = verify_one(paths, n, k, opts, &st,
		    info != NULL ? &info[k] : &one, rep, msg);
		if (r != 0)
			goto out;
		if (k + 1 < n && !st.any) {
			r = err_set(msg, SIGNET_ERR_CHAIN,
			    "%s: empty: no "
			    "later file can continue it",
			    paths[k]);
			goto out;
		}
	}
	rep->bad_file = 0;
	if (st.any) {
		rep->head.empty = false;
		rep->head.seq = st.next_seq - 1;
		memcpy(rep->head.hash, st.prev, sizeof(st.prev));
	}
	r = 0;
	if (opts->has_expect_head && !st.expect_seen) {
		if (rep->head.empty || rep->head.seq < opts->expect_head.seq)
			r = err_set(msg, SIGNET_ERR_CHAIN,
			    "%s: the log ends before the expected head %" PRIu64
			    ":%s "
			    "(truncated?)",
			    paths[n - 1], opts->expect_head.seq,
			    opts->expect_head.hash);
		else
			r = err_set(msg, SIGNET_ERR_CHAIN,
			    "%s: the expected head %" PRIu64
			    ":%s is before the first record given (seq %" PRIu64
			    "): give the earlier rotated files too",
			    paths[0], opts->expect_head.seq,
			    opts->expect_head.hash,
			    rep->continues_from.head.seq + 1);
	}
out:
	audit_tie_free(st.tie);
	return r;
}

int
audit_verify_file(const char *path, const struct audit_verify_opts *opts,
    struct audit_verify_report *rep, struct err_msg *msg)
{
	return audit_verify_files(&path, 1, opts, NULL, rep, msg);
}
