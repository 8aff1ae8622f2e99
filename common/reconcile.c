/* SPDX-License-Identifier: ISC */
/*
 * signetctl audit reconcile's engine (reconcile.h): verifies each log,
 * streams its action records into partitioned fact files, (with several
 * replicas' server logs) routes each action's server_head to the log
 * that requested it, checks the heads one log claims of another, then
 * joins and classifies each
 * partition alone, spilling finished actions to a problems file and an
 * ok file. Every byte read from a log is hostile even after it verified
 * (the holder of a key signs what it likes): strings are bounded when
 * copied and every JSON member is type-checked.
 */
#include "reconcile.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "audit_request.h"
#include "envelope.h"
#include "jsonx.h"
#include "keyset.h"
#include "text.h"

#define CLAIM_CHUNK 65536             /* claims checked per pass over a log */
#define BUCKETS 4096                  /* hash buckets of one partition's join */
#define HOSTS_MAX 4096                /* distinct missing hosts listed */
#define APV_MAX REQUEST_APPROVALS_MAX /* approvals kept per action, side */
#define HOSTS_SEEN 4                  /* agent hosts kept per action */
#define REPLICAS_SEEN 8               /* server logs kept per action and step */

/* One log as the run knows it. */
struct rlog {
	enum reconcile_role role;
	const char *const *files;
	size_t nfiles;
	char host[64];    /* agents */
	char replica[64]; /* servers: server.started's "replica" */
	bool valid;
	uint64_t records; /* records that verified (the prefix joined) */
	struct audit_head head;
	bool continues; /* its first file continues one not given */
	char error[ERR_MSG_MAX];
	int64_t last_ts; /* the latest ts of its records */
	FILE *claims;    /* heads other logs claim of this one */
	uint64_t nclaims;
};

struct reconcile {
	cJSON *summary;
	FILE *problems, *ok;
	int phase; /* 0 problems, 1 ok, 2 done */
	bool clean;
	char *line;
	size_t cap;
};

/* The run's state. */
struct run {
	const struct reconcile_opts *o;
	struct rlog *logs;
	size_t nlogs;
	size_t server;   /* index of the (first) server log */
	size_t nservers; /* server logs: more than one, a cluster's */
	FILE *part[RECONCILE_PARTITIONS];
	struct reconcile *res;
	cJSON *by_kind;
	cJSON *missing;      /* hosts_missing */
	cJSON *log_problems; /* problems of no action: agent.connected */
	uint64_t actions, ok, with_problems;
};

/* ---- small helpers ---- */

static FILE *
spill_new(const char *tmpdir)
{
	const char *dir = tmpdir;
	char path[PATH_MAX];
	FILE *f;
	int fd, n;

	if (dir == NULL)
		dir = getenv("TMPDIR");
	if (dir == NULL || dir[0] == '\0')
		dir = "/tmp";
	n = snprintf(path, sizeof(path), "%s/signet-reconcile-XXXXXX", dir);
	if (n < 0 || (size_t)n >= sizeof(path))
		return NULL;
	fd = mkstemp(path); /* mode 0600 */
	if (fd < 0)
		return NULL;
	(void)unlink(path);
	f = fdopen(fd, "w+");
	if (f == NULL)
		(void)close(fd);
	return f;
}

static const char *
jstr(const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

static bool
jint(const cJSON *o, const char *k, int64_t *out)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);

	if (!cJSON_IsNumber(v) || v->valuedouble < -(double)JSONX_INT_MAX ||
	    v->valuedouble > (double)JSONX_INT_MAX)
		return false;
	*out = (int64_t)v->valuedouble;
	return true;
}

/* Copies s (NULL: "") into out, cut to fit. */
static void
cpy(char *out, size_t outlen, const char *s)
{
	size_t n = s != NULL ? strnlen(s, outlen - 1) : 0;

	if (n > 0)
		memcpy(out, s, n);
	out[n] = '\0';
}

static bool
add_str(cJSON *o, const char *k, const char *v)
{
	return v == NULL || cJSON_AddStringToObject(o, k, v) != NULL;
}

static bool
add_int(cJSON *o, const char *k, int64_t v)
{
	return jsonx_add_int64(o, k, v);
}

/* A count or time of the summary, which stays in memory as a number. */
static bool
add_num(cJSON *o, const char *k, int64_t v)
{
	return cJSON_AddNumberToObject(o, k, (double)v) != NULL;
}

/* Writes o as one line to f and frees it. */
static int
put_line(FILE *f, cJSON *o)
{
	char *text = o != NULL ? jsonx_print(o) : NULL;
	int r = SIGNET_ERR_ALLOC;

	if (text != NULL)
		r = fputs(text, f) < 0 || fputc('\n', f) == EOF ?
		    SIGNET_ERR_IO :
		    0;
	free(text);
	cJSON_Delete(o);
	return r;
}

/* The partition of an action id: its two leading hex digits. */
static unsigned
partition_of(const char *id)
{
	int hi, lo;

	if (id == NULL || strlen(id) < 2)
		return 0;
	hi = id[0] >= 'a' ? id[0] - 'a' + 10 : id[0] - '0';
	lo = id[1] >= 'a' ? id[1] - 'a' + 10 : id[1] - '0';
	if (hi < 0 || hi > 15 || lo < 0 || lo > 15)
		return 0;
	return (unsigned)(hi * 16 + lo) % RECONCILE_PARTITIONS;
}

static void
count_kind(struct run *run, const char *kind)
{
	cJSON *v = cJSON_GetObjectItemCaseSensitive(run->by_kind, kind);

	if (v != NULL)
		cJSON_SetNumberValue(v, v->valuedouble + 1);
	else
		(void)cJSON_AddNumberToObject(run->by_kind, kind, 1);
}

/*
 * The exact payload of the envelope data.MEMBER: its SHA-256 and, when
 * it parses as a JSON object, *root (cJSON_Delete). Returns true when
 * the envelope is there and its payload decodes.
 */
static bool
env_payload(const cJSON *data, const char *member, char sha[static 65],
    cJSON **root)
{
	const cJSON *env = cJSON_GetObjectItemCaseSensitive(data, member);
	const char *b64 = jstr(env, "payload");
	uint8_t *raw = NULL;
	size_t len = 0;
	struct err_msg sub;

	sha[0] = '\0';
	*root = NULL;
	if (b64 == NULL ||
	    text_b64_decode(b64, strnlen(b64, 2 * ENVELOPE_ACTION_PAYLOAD_MAX),
	        ENVELOPE_ACTION_PAYLOAD_MAX, &raw, &len) != 0)
		return false;
	envelope_sha256_hex(raw, len, sha);
	if (jsonx_parse_object("payload", raw, len, 6, root, &sub) != 0)
		*root = NULL;
	free(raw);
	return true;
}

/* ---- pass 1: facts ---- */

/* A new fact of type f about action id, from log l's record rec. */
static cJSON *
fact_new(const char *f, const char *id, size_t l,
    const struct audit_record *rec)
{
	cJSON *o = cJSON_CreateObject();

	if (o == NULL || !add_str(o, "a", id) || !add_str(o, "f", f) ||
	    !add_int(o, "l", (int64_t)l) ||
	    !add_int(o, "s", (int64_t)rec->seq) || !add_int(o, "t", rec->ts)) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}

/* Copies member k of from (string or number) into to, if present. */
static bool
copy_member(cJSON *to, const char *name, const cJSON *from, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(from, k);
	cJSON *d;

	if (v == NULL ||
	    !(cJSON_IsString(v) || cJSON_IsNumber(v) || cJSON_IsBool(v)))
		return true;
	d = cJSON_Duplicate(v, false);
	return d != NULL && cJSON_AddItemToObject(to, name, d);
}

/* The approvals' key ids of an action payload, as an array "apv". */
static bool
add_payload_approvals(cJSON *fact, const cJSON *payload)
{
	const cJSON *arr = cJSON_GetObjectItemCaseSensitive(payload,
	    "approvals");
	const cJSON *e;
	cJSON *out;

	if (!cJSON_IsArray(arr))
		return true;
	out = cJSON_AddArrayToObject(fact, "apv");
	if (out == NULL)
		return false;
	cJSON_ArrayForEach(e, arr)
	{
		const char *k = jstr(e, "key_id");
		cJSON *s = cJSON_CreateString(k != NULL ? k : "?");

		if (s == NULL || !cJSON_AddItemToArray(out, s))
			return false;
	}
	return true;
}

/* Names of data.approvals (the agent's), by index: "apn". */
static bool
add_record_approval_names(cJSON *fact, const cJSON *data)
{
	const cJSON *arr = cJSON_GetObjectItemCaseSensitive(data, "approvals");
	const cJSON *e;
	cJSON *out;

	if (!cJSON_IsArray(arr))
		return true;
	out = cJSON_AddArrayToObject(fact, "apn");
	if (out == NULL)
		return false;
	cJSON_ArrayForEach(e, arr)
	{
		const char *n = jstr(e, "name");
		cJSON *s = cJSON_CreateString(n != NULL ? n :
		        jstr(e, "key_id") != NULL       ? jstr(e, "key_id") :
		                                          "?");

		if (s == NULL || !cJSON_AddItemToArray(out, s))
			return false;
	}
	return true;
}

/*
 * Records that log from (record seq) claims the head "SEQ:HASH" of log
 * target, for action id.
 */
static int
claim(struct run *run, size_t target, const char *head, const char *id,
    size_t from, uint64_t seq)
{
	struct rlog *t = &run->logs[target];
	struct audit_head h;

	if (head == NULL || id == NULL ||
	    (!text_is_hex(id, 32) && strcmp(id, "-") != 0) ||
	    audit_head_parse(head, &h) != 0)
		return 0;
	if (t->claims == NULL) {
		t->claims = spill_new(run->o->tmpdir);
		if (t->claims == NULL)
			return SIGNET_ERR_IO;
	}
	if (fprintf(t->claims, "%" PRIu64 " %s %s %zu %" PRIu64 "\n", h.seq,
	        h.hash, id, from, seq) < 0)
		return SIGNET_ERR_IO;
	t->nclaims++;
	return 0;
}

/* The index of the agent log of host, or SIZE_MAX. */
static size_t
agent_log_of(const struct run *run, const char *host)
{
	size_t i;

	for (i = 0; host != NULL && i < run->nlogs; i++)
		if (run->logs[i].role == RECONCILE_AGENT &&
		    strcmp(run->logs[i].host, host) == 0)
			return i;
	return SIZE_MAX;
}

/* The fact of one server record, or NULL (not an action's); *r an error. */
static cJSON *
server_fact(struct run *run, size_t l, const struct audit_record *rec, int *r)
{
	const cJSON *d = rec->data;
	const char *id = jstr(d, "action_id"), *ev = rec->event;
	cJSON *o = NULL, *p = NULL;
	char sha[65];
	bool ok = true;

	*r = 0;
	if (strcmp(ev, "server.started") == 0 &&
	    run->logs[l].replica[0] == '\0' && jstr(d, "replica") != NULL &&
	    text_valid_name(jstr(d, "replica"))) {
		cpy(run->logs[l].replica, sizeof(run->logs[l].replica),
		    jstr(d, "replica"));
		return NULL;
	}
	if (strcmp(ev, "agent.connected") == 0 &&
	    jstr(d, "agent_head") != NULL &&
	    agent_log_of(run, jstr(d, "host_id")) != SIZE_MAX) {
		*r = claim(run, agent_log_of(run, jstr(d, "host_id")),
		    jstr(d, "agent_head"), "-", l, rec->seq);
		return NULL;
	}
	if (id == NULL)
		return NULL;
	if (strcmp(ev, "action.requested") == 0) {
		o = fact_new("req", id, l, rec);
		ok = o != NULL && add_str(o, "prev", rec->prev) &&
		    copy_member(o, "rq", d, "requester") &&
		    copy_member(o, "why", d, "reason") &&
		    copy_member(o, "host", d, "host_id") &&
		    copy_member(o, "cid", d, "container_id") &&
		    copy_member(o, "act", d, "action_name") &&
		    copy_member(o, "by", d, "requested_by") &&
		    copy_member(o, "exp", d, "expires_at");
		if (ok && env_payload(d, "action", sha, &p)) {
			/* What the server signed wins over what it wrote. */
			ok = add_str(o, "ash", sha) &&
			    (p == NULL ||
			        (add_payload_approvals(o, p) &&
			            (cJSON_DeleteItemFromObject(o, "host"),
			                copy_member(o, "host", p, "host_id")) &&
			            (cJSON_DeleteItemFromObject(o, "exp"),
			                copy_member(o, "exp", p,
			                    "expires_at"))));
		}
	} else if (strcmp(ev, "action.relayed") == 0) {
		/* Another replica's action, as this one relayed it. */
		o = fact_new("rel", id, l, rec);
		ok = o != NULL && copy_member(o, "rsha", d, "request_sha256") &&
		    copy_member(o, "org", d, "origin") &&
		    copy_member(o, "host", d, "host_id") &&
		    copy_member(o, "cid", d, "container_id") &&
		    copy_member(o, "act", d, "action_name");
		if (ok && env_payload(d, "action", sha, &p))
			ok = add_str(o, "ash", sha);
	} else if (strcmp(ev, "action.approved") == 0) {
		o = fact_new("apr", id, l, rec);
		ok = o != NULL && copy_member(o, "name", d, "approver") &&
		    copy_member(o, "kid", d, "approver_key_id");
	} else if (strcmp(ev, "action.awaiting_approval") == 0) {
		/* Who asked what, for a request never relayed. */
		o = fact_new("await", id, l, rec);
		ok = o != NULL && copy_member(o, "rq", d, "requester") &&
		    copy_member(o, "why", d, "reason") &&
		    copy_member(o, "host", d, "host_id") &&
		    copy_member(o, "cid", d, "container_id") &&
		    copy_member(o, "act", d, "action_name") &&
		    copy_member(o, "by", d, "requested_by");
	} else if (strcmp(ev, "action.approval_refused") == 0 ||
	    strcmp(ev, "action.approval_expired") == 0) {
		o = fact_new("end", id, l, rec);
		ok = o != NULL && add_str(o, "e", "refused") &&
		    add_str(o, "ev", ev);
	} else if (strcmp(ev, "action.timeout") == 0 ||
	    strcmp(ev, "action.undelivered") == 0 ||
	    strcmp(ev, "action.unverified") == 0) {
		o = fact_new("end", id, l, rec);
		ok = o != NULL && add_str(o, "e", ev + strlen("action.")) &&
		    copy_member(o, "why", d, "reason");
	} else if (strcmp(ev, "action.outcome") == 0) {
		o = fact_new("end", id, l, rec);
		ok = o != NULL && add_str(o, "e", "outcome") &&
		    copy_member(o, "why", d, "observed");
	} else if (strcmp(ev, "action.result") == 0) {
		const cJSON *known = cJSON_GetObjectItemCaseSensitive(d,
		    "action_known");

		o = fact_new("res", id, l, rec);
		ok = o != NULL && copy_member(o, "st", d, "status") &&
		    copy_member(o, "dst", d, "docker_status") &&
		    (!cJSON_IsFalse(known) ||
		        cJSON_AddFalseToObject(o, "known") != NULL);
		if (ok && env_payload(d, "result", sha, &p)) {
			ok = add_str(o, "rsh", sha) &&
			    (p == NULL ||
			        (copy_member(o, "rhost", p, "host_id") &&
			            copy_member(o, "sat", p, "started_at") &&
			            copy_member(o, "fat", p, "finished_at")));
			if (ok && p != NULL && jstr(p, "agent_head") != NULL &&
			    agent_log_of(run, jstr(p, "host_id")) != SIZE_MAX)
				*r = claim(run,
				    agent_log_of(run, jstr(p, "host_id")),
				    jstr(p, "agent_head"), id, l, rec->seq);
		}
	} else {
		return NULL;
	}
	cJSON_Delete(p);
	if (o == NULL || !ok) {
		cJSON_Delete(o);
		*r = SIGNET_ERR_ALLOC;
		return NULL;
	}
	return o;
}

/* The fact of one agent record, or NULL; *r an error. */
static cJSON *
agent_fact(struct run *run, size_t l, const struct audit_record *rec, int *r)
{
	const cJSON *d = rec->data;
	const char *id = jstr(d, "action_id"), *ev = rec->event;
	cJSON *o = NULL, *p = NULL, *q = NULL;
	char sha[65];
	bool ok = true;

	*r = 0;
	if (id == NULL)
		return NULL;
	if (strcmp(ev, "action.received") == 0 ||
	    strcmp(ev, "policy.denied") == 0 ||
	    strcmp(ev, "action.rejected") == 0) {
		o = fact_new("dec", id, l, rec);
		ok = o != NULL &&
		    add_str(o, "d",
		        ev[7] == 'r' && ev[8] == 'e' && ev[9] == 'c' ?
		            "allowed" :
		            ev[0] == 'p' ? "denied" :
		                           "rejected") &&
		    copy_member(o, "why", d, ev[0] == 'p' ? "why" : "reason") &&
		    copy_member(o, "cname", d, "container_name") &&
		    copy_member(o, "cid", d, "container_id") &&
		    copy_member(o, "act", d, "action_name") &&
		    copy_member(o, "by", d, "requested_by") &&
		    add_record_approval_names(o, d);
		if (ok && env_payload(d, "action", sha, &p)) {
			ok = add_str(o, "ash", sha) &&
			    (p == NULL ||
			        (add_payload_approvals(o, p) &&
			            copy_member(o, "host", p, "host_id") &&
			            copy_member(o, "exp", p, "expires_at")));
			/*
			 * The head names the log of the replica that signed
			 * the action: with several, which one is known only
			 * once the action is joined (route_heads).
			 */
			if (ok && p != NULL && jstr(p, "server_head") != NULL)
				*r = run->nservers > 1 ?
				    (add_str(o, "sh", jstr(p, "server_head")) ?
				            0 :
				            SIGNET_ERR_ALLOC) :
				    claim(run, run->server,
				        jstr(p, "server_head"), id, l,
				        rec->seq);
		}
		if (ok && env_payload(d, "result", sha, &q))
			ok = add_str(o, "rsh", sha);
	} else if (strcmp(ev, "action.result_undelivered") == 0) {
		o = fact_new("rud", id, l, rec);
	} else if (strcmp(ev, "action.dispatched") == 0) {
		o = fact_new("dsp", id, l, rec);
		ok = o != NULL && copy_member(o, "exp", d, "expires_at");
	} else if (strcmp(ev, "action.executed") == 0) {
		o = fact_new("exe", id, l, rec);
		ok = o != NULL && copy_member(o, "st", d, "status") &&
		    copy_member(o, "dst", d, "docker_status") &&
		    copy_member(o, "rec", d, "recovered") &&
		    copy_member(o, "exp", d, "expires_at") &&
		    copy_member(o, "cid", d, "container_id") &&
		    copy_member(o, "act", d, "action_name");
		if (ok && env_payload(d, "result", sha, &q))
			ok = add_str(o, "rsh", sha) &&
			    (q == NULL ||
			        (copy_member(o, "sat", q, "started_at") &&
			            copy_member(o, "fat", q, "finished_at")));
	} else {
		return NULL;
	}
	cJSON_Delete(p);
	cJSON_Delete(q);
	if (o == NULL || !ok) {
		cJSON_Delete(o);
		*r = SIGNET_ERR_ALLOC;
		return NULL;
	}
	return o;
}

/*
 * Streams the records of log l, oldest first, calling fn with each line
 * (and its parsed record when parse): the records that verified, and,
 * of a log that failed, every later line that still parses as a record
 * (its problems are then named too, beside log_invalid).
 */
typedef int (*line_fn)(struct run *run, size_t l, const char *line, size_t len,
    const struct audit_record *rec, void *arg);

static int
stream_log(struct run *run, size_t l, bool parse, line_fn fn, void *arg,
    struct err_msg *msg)
{
	struct rlog *lg = &run->logs[l];
	struct audit_reader *rd = NULL;
	uint64_t done = 0;
	size_t k;
	int r = 0;

	for (k = 0; k < lg->nfiles && (done < lg->records || !lg->valid); k++) {
		r = audit_reader_open(lg->files[k], &rd, msg);
		if (r != 0)
			goto out;
		while (done < lg->records || !lg->valid) {
			struct audit_record rec;
			struct err_msg sub;
			char *line;
			size_t len;
			bool nl;

			r = audit_reader_next(rd, &line, &len, &nl);
			if (r == 0)
				break;
			if (r < 0) {
				r = err_set(msg, r, "%s: read error",
				    lg->files[k]);
				goto out;
			}
			done++;
			if (!nl || strncmp(line, "{\"seq\":", 7) != 0) {
				/* Past the bad line of a log that failed. */
				r = lg->valid && done <= lg->records ?
				    err_set(msg, SIGNET_ERR_FORMAT,
				        "%s: changed since verified",
				        lg->files[k]) :
				    0;
			} else if (!parse) {
				r = fn(run, l, line, len, NULL, arg);
			} else if (audit_parse_line(line, len, &rec, &sub) !=
			    0) {
				r = done <= lg->records ?
				    err_set(msg, SIGNET_ERR_FORMAT,
				        "%s: %s (changed since verified?)",
				        lg->files[k], sub.text) :
				    0;
			} else {
				r = fn(run, l, line, len, &rec, arg);
				audit_record_free(&rec);
			}
			if (r != 0) {
				if (msg->text[0] == '\0')
					(void)err_set(msg, r, "%s: %s",
					    lg->files[k], err_str(r));
				goto out;
			}
		}
		audit_reader_close(rd);
		rd = NULL;
	}
	r = 0;
out:
	audit_reader_close(rd);
	return r;
}

static int
fact_line(struct run *run, size_t l, const char *line, size_t len,
    const struct audit_record *rec, void *arg)
{
	cJSON *f;
	int r = 0;

	(void)line;
	(void)len;
	(void)arg;
	if (rec->ts > run->logs[l].last_ts)
		run->logs[l].last_ts = rec->ts;
	f = run->logs[l].role == RECONCILE_SERVER ?
	    server_fact(run, l, rec, &r) :
	    agent_fact(run, l, rec, &r);
	if (f == NULL)
		return r;
	if (r != 0) {
		cJSON_Delete(f);
		return r;
	}
	return put_line(run->part[partition_of(jstr(f, "a"))], f);
}

/* ---- pass 2: the heads one log claims of another ---- */

struct claim {
	uint64_t seq;
	char hash[AUDIT_HASH_HEX + 1];
	char id[33];
	size_t from;
	uint64_t from_seq;
};

struct claim_pass {
	struct claim *c;
	size_t n, i;
	uint64_t last_seq;
	bool any;
};

static int
claim_cmp(const void *a, const void *b)
{
	const struct claim *x = a, *y = b;

	return x->seq < y->seq ? -1 : x->seq > y->seq ? 1 : 0;
}

/* A foreign_head_mismatch fact for claim c of target log t. */
static int
mismatch(struct run *run, size_t t, const struct claim *c, const char *found)
{
	const struct rlog *from = &run->logs[c->from], *lg = &run->logs[t];
	char detail[512], whose[96];
	cJSON *o = cJSON_CreateObject();

	(void)snprintf(whose, sizeof(whose), "the log of replica %s's",
	    lg->replica[0] != '\0' ? lg->replica : lg->files[0]);
	(void)snprintf(detail, sizeof(detail),
	    "%s log%s%s (seq %" PRIu64 ") names %s head %" PRIu64
	    ":%.12s..., but %s",
	    from->role == RECONCILE_SERVER ? "the server" : "the agent",
	    from->role == RECONCILE_SERVER ? "" : " of ",
	    from->role == RECONCILE_SERVER ? "" : from->host, c->from_seq,
	    lg->role != RECONCILE_SERVER ? "its own" :
	        run->nservers < 2        ? "the server log's" :
	                                   whose,
	    c->seq, c->hash, found);
	if (lg->role == RECONCILE_AGENT && from->role == RECONCILE_SERVER)
		(void)snprintf(detail, sizeof(detail),
		    "the server log (seq %" PRIu64
		    ") holds a result naming the agent log head %" PRIu64
		    ":%.12s... of %s, but %s",
		    c->from_seq, c->seq, c->hash, lg->host, found);
	if (strcmp(c->id, "-") == 0) {
		cJSON_Delete(o);
		o = cJSON_CreateObject();
		(void)snprintf(detail, sizeof(detail),
		    "the server log's agent.connected (seq %" PRIu64
		    ") names the agent log head %" PRIu64 ":%.12s... of %s, "
		    "but %s",
		    c->from_seq, c->seq, c->hash, lg->host, found);
		count_kind(run, RECONCILE_KIND_FOREIGN_HEAD_MISMATCH);
		if (cJSON_GetArraySize(run->log_problems) >= HOSTS_MAX) {
			cJSON_Delete(o);
			return 0;
		}
		if (o == NULL ||
		    !add_str(o, "kind", RECONCILE_KIND_FOREIGN_HEAD_MISMATCH) ||
		    !add_str(o, "detail", detail) ||
		    !cJSON_AddItemToArray(run->log_problems, o)) {
			cJSON_Delete(o);
			return SIGNET_ERR_ALLOC;
		}
		return 0;
	}
	if (o == NULL || !add_str(o, "a", c->id) || !add_str(o, "f", "fhm") ||
	    !add_int(o, "l", (int64_t)c->from) ||
	    !add_int(o, "s", (int64_t)c->from_seq) || !add_int(o, "t", 0) ||
	    !add_str(o, "why", detail)) {
		cJSON_Delete(o);
		return SIGNET_ERR_ALLOC;
	}
	return put_line(run->part[partition_of(c->id)], o);
}

/* The seq of a verified line: the digits after {"seq":. */
static uint64_t
line_seq(const char *line)
{
	uint64_t v = 0;
	const char *p = line + strlen("{\"seq\":");

	while (*p >= '0' && *p <= '9')
		v = v * 10 + (uint64_t)(*p++ - '0');
	return v;
}

static int
claim_line(struct run *run, size_t l, const char *line, size_t len,
    const struct audit_record *rec, void *arg)
{
	struct claim_pass *cp = arg;
	uint64_t seq = line_seq(line);
	char hash[AUDIT_HASH_HEX + 1], found[160];
	bool hashed = false;
	int r;

	(void)rec;
	/*
	 * Claims of seqs before the first line given cannot be checked (the
	 * files continue earlier ones); a seq skipped after it (a line cut
	 * from a log that then fails to verify) holds no line.
	 */
	for (; cp->i < cp->n && cp->c[cp->i].seq < seq; cp->i++) {
		if (!cp->any)
			continue;
		r = mismatch(run, l, &cp->c[cp->i],
		    "that log holds no line with that seq (cut?)");
		if (r != 0)
			return r;
	}
	cp->any = true;
	cp->last_seq = seq;
	for (; cp->i < cp->n && cp->c[cp->i].seq == seq; cp->i++) {
		if (!hashed)
			audit_line_hash(line, len, hash);
		hashed = true;
		if (strcmp(hash, cp->c[cp->i].hash) == 0)
			continue;
		(void)snprintf(found, sizeof(found),
		    "that log holds %" PRIu64 ":%.12s... there (rewritten?)",
		    seq, hash);
		r = mismatch(run, l, &cp->c[cp->i], found);
		if (r != 0)
			return r;
	}
	return 0;
}

/* Reads up to CLAIM_CHUNK claims of f into cp. */
static int
claims_read(FILE *f, struct claim_pass *cp)
{
	char line[256];

	cp->n = 0;
	cp->i = 0;
	while (cp->n < CLAIM_CHUNK && fgets(line, sizeof(line), f) != NULL) {
		struct claim *c = &cp->c[cp->n];

		if (sscanf(line, "%" SCNu64 " %64s %32s %zu %" SCNu64, &c->seq,
		        c->hash, c->id, &c->from, &c->from_seq) != 5)
			return SIGNET_ERR_FORMAT;
		cp->n++;
	}
	return ferror(f) ? SIGNET_ERR_IO : 0;
}

static int
check_claims(struct run *run, size_t t, struct err_msg *msg)
{
	struct rlog *lg = &run->logs[t];
	struct claim_pass cp;
	char found[160];
	int r;

	memset(&cp, 0, sizeof(cp));
	if (lg->claims == NULL)
		return 0;
	cp.c = calloc(CLAIM_CHUNK, sizeof(*cp.c));
	if (cp.c == NULL)
		return err_set(msg, SIGNET_ERR_ALLOC, "out of memory");
	rewind(lg->claims);
	for (;;) {
		r = claims_read(lg->claims, &cp);
		if (r != 0) {
			r = err_set(msg, r, "temporary claims file: %s",
			    err_str(r));
			goto out;
		}
		if (cp.n == 0)
			break;
		qsort(cp.c, cp.n, sizeof(*cp.c), claim_cmp);
		cp.any = false;
		r = stream_log(run, t, false, claim_line, &cp, msg);
		if (r != 0)
			goto out;
		for (; cp.i < cp.n; cp.i++) {
			if (cp.any && cp.c[cp.i].seq <= cp.last_seq)
				continue; /* before the files given */
			(void)snprintf(found, sizeof(found),
			    "that log ends%s before it (at seq %" PRIu64 ")",
			    lg->valid ? "" : " (where it verifies)",
			    cp.any ? cp.last_seq : 0);
			r = mismatch(run, t, &cp.c[cp.i], found);
			if (r != 0) {
				r = err_set(msg, r, "%s", err_str(r));
				goto out;
			}
		}
	}
	r = 0;
out:
	free(cp.c);
	return r;
}

/* ---- pass 1b: which replica's log an action's server_head names ---- */

struct route {
	char id[33];
	size_t log;
	uint64_t seq;
	char head[AUDIT_HASH_HEX + 32]; /* the claimed head ("" a request) */
};

static int
route_cmp(const void *a, const void *b)
{
	const struct route *x = a, *y = b;
	int c = strcmp(x->id, y->id);

	if (c != 0)
		return c;
	/* An action's requests first, in log order, then its claims. */
	if ((x->head[0] == '\0') != (y->head[0] == '\0'))
		return x->head[0] == '\0' ? -1 : 1;
	return x->log < y->log ? -1 : x->log > y->log ? 1 : 0;
}

/*
 * With several server logs: each server_head an agent recorded (a "dec"
 * fact's "sh") is claimed of the log that requested the action (the
 * first, in --server order, when several did: requested_twice names
 * that). One partition at a time, so memory stays that of the join.
 */
static int
route_heads(struct run *run, FILE *f, char **line, size_t *cap)
{
	struct route *rt = NULL, *grown;
	size_t n = 0, rcap = 0, i, req = SIZE_MAX;
	struct err_msg sub;
	ssize_t len;
	int r = 0;

	rewind(f);
	while (r == 0 && (len = getline(line, cap, f)) > 0) {
		cJSON *fact = NULL;
		const char *t, *id, *sh;
		int64_t l = 0, s = 0;

		r = jsonx_parse_object("fact", *line, (size_t)len - 1, 4, &fact,
		    &sub);
		if (r != 0)
			break;
		t = jstr(fact, "f");
		id = jstr(fact, "a");
		sh = jstr(fact, "sh");
		if (t == NULL || id == NULL || !jint(fact, "l", &l) ||
		    !jint(fact, "s", &s) || l < 0 || (size_t)l >= run->nlogs) {
			r = SIGNET_ERR_FORMAT;
		} else if (text_is_hex(id, 32) &&
		    (strcmp(t, "req") == 0 ||
		        (strcmp(t, "dec") == 0 && sh != NULL &&
		            strlen(sh) < sizeof(rt->head)))) {
			if (n == rcap) {
				rcap = rcap == 0 ? 256 : rcap * 2;
				grown = realloc(rt, rcap * sizeof(*rt));
				if (grown == NULL) {
					r = SIGNET_ERR_ALLOC;
					cJSON_Delete(fact);
					break;
				}
				rt = grown;
			}
			cpy(rt[n].id, sizeof(rt[n].id), id);
			rt[n].log = (size_t)l;
			rt[n].seq = (uint64_t)s;
			cpy(rt[n].head, sizeof(rt[n].head),
			    strcmp(t, "req") == 0 ? "" : sh);
			n++;
		}
		cJSON_Delete(fact);
	}
	if (r == 0 && ferror(f))
		r = SIGNET_ERR_IO;
	if (r == 0 && n > 0)
		qsort(rt, n, sizeof(*rt), route_cmp);
	for (i = 0; r == 0 && i < n; i++) {
		if (i == 0 || strcmp(rt[i].id, rt[i - 1].id) != 0)
			req = SIZE_MAX;
		if (rt[i].head[0] == '\0') {
			if (req == SIZE_MAX)
				req = rt[i].log;
			continue;
		}
		/* No request anywhere: not_requested says so. */
		if (req != SIZE_MAX)
			r = claim(run, req, rt[i].head, rt[i].id, rt[i].log,
			    rt[i].seq);
	}
	/* The claims' mismatches are appended to this file later. */
	if (r == 0 && fseek(f, 0, SEEK_END) != 0)
		r = SIGNET_ERR_IO;
	free(rt);
	return r;
}

/* ---- pass 3: the join ---- */

struct side_apv {
	size_t n;
	char kid[APV_MAX][KEYS_ID_LEN + 1];
	char name[APV_MAX][64];
};

struct acc {
	struct acc *next;
	char id[65];
	/* server */
	unsigned nreq;
	size_t req_log;
	bool req_twice;   /* another log's request, or other bytes */
	size_t twice_log; /* ... its log and seq */
	uint64_t twice_seq;
	char twice_ash[65];
	size_t nrel; /* action.relayed (kept: REPLICAS_SEEN) */
	size_t rel_log[REPLICAS_SEEN];
	uint64_t rel_seq[REPLICAS_SEEN];
	char rel_ash[REPLICAS_SEEN][65], rel_rsha[REPLICAS_SEEN][65];
	char rel_org[64], rel_host[64], rel_cid[65], rel_act[16];
	size_t nres_logs; /* the logs with an action.result */
	size_t res_logs[REPLICAS_SEEN];
	bool res_differs; /* another log's result is not the first's */
	size_t rdf_log;
	uint64_t rdf_seq;
	char rdf_st[16], rdf_rsh[65];
	uint64_t req_seq;
	int64_t req_ts, exp;
	char host[64], cid[65], act[16], by[64], rq[24];
	char *why;
	char ash[65], prev[AUDIT_HASH_HEX + 1];
	bool has_exp;
	struct side_apv sapv; /* action.approved */
	bool awaiting;
	int end_rank;
	char end[16];
	char end_why[128];
	uint64_t end_seq;
	unsigned nres;
	uint64_t res_seq;
	char st[16], rsh[65], rhost[64];
	int64_t dst;
	bool has_dst, res_unknown;
	/* agent */
	unsigned ndec;
	size_t dec_log;
	uint64_t dec_seq;
	char dec[16], dec_host[64], rash[65], cname[64];
	char *dec_why;
	int64_t rexp;
	bool has_rexp;
	struct side_apv aapv; /* in the signed action received */
	struct side_apv aapn; /* their names, as the agent recorded */
	char arsh[65];
	unsigned ndsp;
	int64_t dsp_first, dsp_last;
	unsigned nexe;
	size_t exe_log;
	uint64_t exe_seq;
	int64_t exe_ts, edst, sat, fat;
	char est[16], ersh[65];
	bool has_edst, erec, has_sat, has_fat;
	bool result_dropped; /* the agent's action.result_undelivered */
	size_t nhosts;
	size_t hosts[HOSTS_SEEN]; /* agent logs with a record of it */
	char acid[65], aact[16], aby[64];
	cJSON *problems;
};

static struct acc *
acc_get(struct acc **tab, const char *id)
{
	unsigned long h = 5381;
	const char *p;
	struct acc *a;

	for (p = id; *p != '\0'; p++)
		h = h * 33 + (unsigned char)*p;
	for (a = tab[h % BUCKETS]; a != NULL; a = a->next)
		if (strcmp(a->id, id) == 0)
			return a;
	a = calloc(1, sizeof(*a));
	if (a == NULL)
		return NULL;
	cpy(a->id, sizeof(a->id), id);
	a->problems = cJSON_CreateArray();
	if (a->problems == NULL) {
		free(a);
		return NULL;
	}
	a->next = tab[h % BUCKETS];
	tab[h % BUCKETS] = a;
	return a;
}

static void
acc_free(struct acc *a)
{
	free(a->why);
	free(a->dec_why);
	cJSON_Delete(a->problems);
	free(a);
}

static int problem(struct run *run, struct acc *a, const char *kind,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static int
problem(struct run *run, struct acc *a, const char *kind, const char *fmt, ...)
{
	char detail[768];
	va_list ap;
	cJSON *o = cJSON_CreateObject();

	va_start(ap, fmt);
	(void)vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	if (o == NULL || !add_str(o, "kind", kind) ||
	    !add_str(o, "detail", detail) ||
	    !cJSON_AddItemToArray(a->problems, o)) {
		cJSON_Delete(o);
		return SIGNET_ERR_ALLOC;
	}
	count_kind(run, kind);
	return 0;
}

static void
apv_of(struct side_apv *s, const cJSON *arr)
{
	const cJSON *e;

	s->n = 0;
	cJSON_ArrayForEach(e, arr)
	{
		if (s->n >= APV_MAX)
			break;
		cpy(s->kid[s->n], sizeof(s->kid[0]),
		    cJSON_IsString(e) ? e->valuestring : "?");
		cpy(s->name[s->n], sizeof(s->name[0]),
		    cJSON_IsString(e) ? e->valuestring : "?");
		s->n++;
	}
}

static int
end_rank(const char *e)
{
	static const char *const order[] = { "awaiting", "refused", "timeout",
		"undelivered", "unverified", "outcome", "result", NULL };
	int i;

	for (i = 0; order[i] != NULL; i++)
		if (strcmp(order[i], e) == 0)
			return i + 1;
	return 0;
}

static void
set_end(struct acc *a, const char *e, uint64_t seq, const char *why)
{
	if (end_rank(e) < a->end_rank)
		return;
	a->end_rank = end_rank(e);
	cpy(a->end, sizeof(a->end), e);
	cpy(a->end_why, sizeof(a->end_why), why);
	a->end_seq = seq;
}

static void
note_host(struct acc *a, size_t l)
{
	size_t i;

	for (i = 0; i < a->nhosts; i++)
		if (a->hosts[i] == l)
			return;
	if (a->nhosts < HOSTS_SEEN)
		a->hosts[a->nhosts++] = l;
}

/* Adds log l to the list logs[0..*n) once, as room allows. */
static void
note_log(size_t *logs, size_t *n, size_t l)
{
	size_t i;

	for (i = 0; i < *n; i++)
		if (logs[i] == l)
			return;
	if (*n < REPLICAS_SEEN)
		logs[(*n)++] = l;
}

/* Folds one fact into its action. */
static int
apply_fact(struct run *run, struct acc **tab, const cJSON *f)
{
	const char *id = jstr(f, "a"), *t = jstr(f, "f");
	int64_t l = 0, s = 0, ts = 0, v = 0;
	struct acc *a;

	if (id == NULL || t == NULL || !jint(f, "l", &l) || !jint(f, "s", &s) ||
	    !jint(f, "t", &ts) || l < 0 || (size_t)l >= run->nlogs)
		return SIGNET_ERR_FORMAT;
	a = acc_get(tab, id);
	if (a == NULL)
		return SIGNET_ERR_ALLOC;
	if (strcmp(t, "req") == 0) {
		a->nreq++;
		if (a->nreq > 1 && (size_t)l != a->req_log) {
			/* Another replica's log requests it too. */
			if (!a->req_twice) {
				a->req_twice = true;
				a->twice_log = (size_t)l;
				a->twice_seq = (uint64_t)s;
				cpy(a->twice_ash, sizeof(a->twice_ash),
				    jstr(f, "ash"));
			}
			return 0;
		}
		if (a->nreq > 1 && run->nservers > 1 && !a->req_twice &&
		    strcmp(a->ash,
		        jstr(f, "ash") != NULL ? jstr(f, "ash") : "") != 0) {
			a->req_twice = true;
			a->twice_log = (size_t)l;
			a->twice_seq = (uint64_t)s;
			cpy(a->twice_ash, sizeof(a->twice_ash), jstr(f, "ash"));
		}
		a->req_log = (size_t)l;
		a->req_seq = (uint64_t)s;
		a->req_ts = ts;
		cpy(a->host, sizeof(a->host), jstr(f, "host"));
		cpy(a->cid, sizeof(a->cid), jstr(f, "cid"));
		cpy(a->act, sizeof(a->act), jstr(f, "act"));
		cpy(a->by, sizeof(a->by), jstr(f, "by"));
		cpy(a->rq, sizeof(a->rq), jstr(f, "rq"));
		cpy(a->ash, sizeof(a->ash), jstr(f, "ash"));
		cpy(a->prev, sizeof(a->prev), jstr(f, "prev"));
		a->has_exp = jint(f, "exp", &a->exp);
		free(a->why);
		a->why = jstr(f, "why") != NULL ? strdup(jstr(f, "why")) : NULL;
		if (jstr(f, "why") != NULL && a->why == NULL)
			return SIGNET_ERR_ALLOC;
	} else if (strcmp(t, "rel") == 0) {
		if (a->nrel < REPLICAS_SEEN) {
			a->rel_log[a->nrel] = (size_t)l;
			a->rel_seq[a->nrel] = (uint64_t)s;
			cpy(a->rel_ash[a->nrel], sizeof(a->rel_ash[0]),
			    jstr(f, "ash"));
			cpy(a->rel_rsha[a->nrel], sizeof(a->rel_rsha[0]),
			    jstr(f, "rsha"));
		}
		if (a->nrel == 0) {
			cpy(a->rel_org, sizeof(a->rel_org), jstr(f, "org"));
			cpy(a->rel_host, sizeof(a->rel_host), jstr(f, "host"));
			cpy(a->rel_cid, sizeof(a->rel_cid), jstr(f, "cid"));
			cpy(a->rel_act, sizeof(a->rel_act), jstr(f, "act"));
		}
		a->nrel++;
	} else if (strcmp(t, "apr") == 0) {
		if (a->sapv.n < APV_MAX) {
			cpy(a->sapv.kid[a->sapv.n], sizeof(a->sapv.kid[0]),
			    jstr(f, "kid"));
			cpy(a->sapv.name[a->sapv.n], sizeof(a->sapv.name[0]),
			    jstr(f, "name"));
			a->sapv.n++;
		}
	} else if (strcmp(t, "await") == 0) {
		a->awaiting = true;
		set_end(a, "awaiting", (uint64_t)s, NULL);
		if (a->nreq == 0) {
			cpy(a->host, sizeof(a->host), jstr(f, "host"));
			cpy(a->cid, sizeof(a->cid), jstr(f, "cid"));
			cpy(a->act, sizeof(a->act), jstr(f, "act"));
			cpy(a->by, sizeof(a->by), jstr(f, "by"));
			cpy(a->rq, sizeof(a->rq), jstr(f, "rq"));
			free(a->why);
			a->why = jstr(f, "why") != NULL ?
			    strdup(jstr(f, "why")) :
			    NULL;
			if (jstr(f, "why") != NULL && a->why == NULL)
				return SIGNET_ERR_ALLOC;
		}
	} else if (strcmp(t, "end") == 0) {
		set_end(a, jstr(f, "e") != NULL ? jstr(f, "e") : "none",
		    (uint64_t)s, jstr(f, "why"));
	} else if (strcmp(t, "res") == 0) {
		a->nres++;
		if (a->nres_logs > 0 && a->res_logs[0] != (size_t)l) {
			/* Another replica's record of the result: alike? */
			const char *st = jstr(f, "st"), *rsh = jstr(f, "rsh");

			note_log(a->res_logs, &a->nres_logs, (size_t)l);
			if (!a->res_differs &&
			    (strcmp(st != NULL ? st : "", a->st) != 0 ||
			        strcmp(rsh != NULL ? rsh : "", a->rsh) != 0)) {
				a->res_differs = true;
				a->rdf_log = (size_t)l;
				a->rdf_seq = (uint64_t)s;
				cpy(a->rdf_st, sizeof(a->rdf_st), st);
				cpy(a->rdf_rsh, sizeof(a->rdf_rsh), rsh);
			}
			set_end(a, "result", (uint64_t)s, NULL);
			return 0;
		}
		note_log(a->res_logs, &a->nres_logs, (size_t)l);
		a->res_seq = (uint64_t)s;
		set_end(a, "result", (uint64_t)s, NULL);
		cpy(a->st, sizeof(a->st), jstr(f, "st"));
		cpy(a->rsh, sizeof(a->rsh), jstr(f, "rsh"));
		cpy(a->rhost, sizeof(a->rhost), jstr(f, "rhost"));
		a->has_dst = jint(f, "dst", &a->dst);
		a->res_unknown = cJSON_IsFalse(
		    cJSON_GetObjectItemCaseSensitive(f, "known"));
	} else if (strcmp(t, "dec") == 0) {
		note_host(a, (size_t)l);
		a->ndec++;
		if (a->ndec == 1) {
			a->dec_log = (size_t)l;
			a->dec_seq = (uint64_t)s;
			cpy(a->dec, sizeof(a->dec), jstr(f, "d"));
			cpy(a->dec_host, sizeof(a->dec_host), jstr(f, "host"));
			cpy(a->rash, sizeof(a->rash), jstr(f, "ash"));
			cpy(a->cname, sizeof(a->cname), jstr(f, "cname"));
			cpy(a->acid, sizeof(a->acid), jstr(f, "cid"));
			cpy(a->aact, sizeof(a->aact), jstr(f, "act"));
			cpy(a->aby, sizeof(a->aby), jstr(f, "by"));
			a->has_rexp = jint(f, "exp", &a->rexp);
			apv_of(&a->aapv,
			    cJSON_GetObjectItemCaseSensitive(f, "apv"));
			apv_of(&a->aapn,
			    cJSON_GetObjectItemCaseSensitive(f, "apn"));
			a->dec_why = jstr(f, "why") != NULL ?
			    strdup(jstr(f, "why")) :
			    NULL;
			if (jstr(f, "why") != NULL && a->dec_why == NULL)
				return SIGNET_ERR_ALLOC;
		}
		if (jstr(f, "rsh") != NULL)
			cpy(a->arsh, sizeof(a->arsh), jstr(f, "rsh"));
	} else if (strcmp(t, "dsp") == 0) {
		note_host(a, (size_t)l);
		if (a->ndsp == 0 || ts < a->dsp_first)
			a->dsp_first = ts;
		if (a->ndsp == 0 || ts > a->dsp_last)
			a->dsp_last = ts;
		a->ndsp++;
		if (!a->has_rexp && jint(f, "exp", &v)) {
			a->rexp = v;
			a->has_rexp = true;
		}
	} else if (strcmp(t, "exe") == 0) {
		note_host(a, (size_t)l);
		a->nexe++;
		a->exe_log = (size_t)l;
		a->exe_seq = (uint64_t)s;
		a->exe_ts = ts;
		cpy(a->est, sizeof(a->est), jstr(f, "st"));
		cpy(a->ersh, sizeof(a->ersh), jstr(f, "rsh"));
		a->has_edst = jint(f, "dst", &a->edst);
		a->has_sat = jint(f, "sat", &a->sat);
		a->has_fat = jint(f, "fat", &a->fat);
		a->erec = cJSON_IsTrue(
		    cJSON_GetObjectItemCaseSensitive(f, "rec"));
		if (a->acid[0] == '\0') {
			cpy(a->acid, sizeof(a->acid), jstr(f, "cid"));
			cpy(a->aact, sizeof(a->aact), jstr(f, "act"));
		}
		if (!a->has_rexp && jint(f, "exp", &v)) {
			a->rexp = v;
			a->has_rexp = true;
		}
	} else if (strcmp(t, "rud") == 0) {
		a->result_dropped = true;
	} else if (strcmp(t, "fhm") == 0) {
		return problem(run, a, RECONCILE_KIND_FOREIGN_HEAD_MISMATCH,
		    "%s", jstr(f, "why") != NULL ? jstr(f, "why") : "");
	} else {
		return SIGNET_ERR_FORMAT;
	}
	return 0;
}

/* Whether the two approval sets hold the same key ids. */
static bool
apv_same(const struct side_apv *x, const struct side_apv *y)
{
	size_t i, j;

	for (i = 0; i < x->n; i++) {
		for (j = 0; j < y->n; j++)
			if (strcmp(x->kid[i], y->kid[j]) == 0)
				break;
		if (j == y->n)
			return false;
	}
	for (j = 0; j < y->n; j++) {
		for (i = 0; i < x->n; i++)
			if (strcmp(x->kid[i], y->kid[j]) == 0)
				break;
		if (i == x->n)
			return false;
	}
	return true;
}

static void
apv_text(const struct side_apv *s, char *out, size_t outlen)
{
	size_t i, off = 0;
	int n;

	out[0] = '\0';
	for (i = 0; i < s->n && off < outlen; i++) {
		n = snprintf(out + off, outlen - off, "%s%s", i > 0 ? "," : "",
		    s->kid[i]);
		if (n < 0)
			break;
		off += (size_t)n;
	}
	if (s->n == 0)
		(void)snprintf(out, outlen, "none");
}

/* Adds a host to hosts_missing once. */
static int
host_missing(struct run *run, const char *host)
{
	const cJSON *e;
	cJSON *s;

	cJSON_ArrayForEach(e, run->missing)
	{
		if (strcmp(e->valuestring, host) == 0)
			return 0;
	}
	if (cJSON_GetArraySize(run->missing) >= HOSTS_MAX)
		return 0;
	s = cJSON_CreateString(host);
	if (s == NULL || !cJSON_AddItemToArray(run->missing, s)) {
		cJSON_Delete(s);
		return SIGNET_ERR_ALLOC;
	}
	count_kind(run, RECONCILE_KIND_HOST_LOG_MISSING);
	return 0;
}

/* A server log's name in the report: its replica, else its first file. */
static const char *
log_label(const struct run *run, size_t l)
{
	const struct rlog *lg = &run->logs[l];

	return lg->replica[0] != '\0' ? lg->replica : lg->files[0];
}

/*
 * The checks across the replicas' logs: a second request, the relays,
 * the results of several logs (a single server log of no cluster has
 * none of these).
 */
static int
classify_replicas(struct run *run, struct acc *a)
{
	size_t i;
	int r = 0;

	if (a->req_twice)
		r = problem(run, a, RECONCILE_KIND_REQUESTED_TWICE,
		    "requested in %s's log (seq %" PRIu64 ", sha256 %.16s...) "
		    "and again in %s's (seq %" PRIu64 ", sha256 %.16s...)%s",
		    log_label(run, a->req_log), a->req_seq, a->ash,
		    log_label(run, a->twice_log), a->twice_seq, a->twice_ash,
		    strcmp(a->ash, a->twice_ash) != 0 ? ": other bytes" : "");
	if (r == 0 && a->nrel > 0 && a->nreq == 0)
		r = problem(run, a, RECONCILE_KIND_NOT_REQUESTED,
		    "relayed by %s (its log, seq %" PRIu64 ", from origin %s) "
		    "but no action.requested in any server log given%s",
		    log_label(run, a->rel_log[0]), a->rel_seq[0],
		    a->rel_org[0] != '\0' ? a->rel_org : "?",
		    " (is the origin's log missing?)");
	for (i = 0; r == 0 && i < a->nrel && i < REPLICAS_SEEN; i++) {
		if (a->nreq > 0 && a->ash[0] != '\0' &&
		    strcmp(a->rel_ash[i], a->ash) != 0)
			r = problem(run, a, RECONCILE_KIND_ACTION_DIFFERS,
			    "the signed action %s relayed (its log, seq %" PRIu64
			    ", sha256 %.16s...) is not the one %s requested "
			    "(seq %" PRIu64 ", sha256 %.16s...)",
			    log_label(run, a->rel_log[i]), a->rel_seq[i],
			    a->rel_ash[i], log_label(run, a->req_log),
			    a->req_seq, a->ash);
		else if (strcmp(a->rel_rsha[i], a->rel_ash[i]) != 0)
			r = problem(run, a, RECONCILE_KIND_ACTION_DIFFERS,
			    "%s's action.relayed (seq %" PRIu64
			    ") says request_sha256 %.16s..., its signed action "
			    "is %.16s...",
			    log_label(run, a->rel_log[i]), a->rel_seq[i],
			    a->rel_rsha[i], a->rel_ash[i]);
		else if (a->rel_log[i] == a->req_log && a->nreq > 0)
			r = problem(run, a, RECONCILE_KIND_REQUESTED_TWICE,
			    "%s's log both requests (seq %" PRIu64
			    ") and relays (seq %" PRIu64 ") it",
			    log_label(run, a->req_log), a->req_seq,
			    a->rel_seq[i]);
	}
	if (r == 0 && a->res_differs)
		r = problem(run, a, RECONCILE_KIND_RESULT_DIFFERS,
		    "%s recorded the result %s (seq %" PRIu64
		    ", sha256 %.16s...), %s recorded %s (seq %" PRIu64
		    ", sha256 %.16s...)",
		    log_label(run, a->res_logs[0]), a->st, a->res_seq, a->rsh,
		    log_label(run, a->rdf_log), a->rdf_st, a->rdf_seq,
		    a->rdf_rsh);
	return r;
}

/* The checks of one joined action. */
static int
classify(struct run *run, struct acc *a)
{
	bool agent_any = a->ndec + a->ndsp + a->nexe > 0;
	const char *agent_sha = a->nexe > 0 && a->ersh[0] != '\0' ? a->ersh :
	                                                            a->arsh;
	size_t hl = agent_log_of(run, a->host), i;
	const char *host = a->nreq > 0 ? a->host : a->dec_host;
	int64_t exp = a->has_rexp ? a->rexp : a->exp;
	bool has_exp = a->has_rexp || a->has_exp, right = false;
	char x[APV_MAX * 18 + 8], y[APV_MAX * 18 + 8];
	int r = 0;

	/* A single log of no cluster holds no relay: nothing to say. */
	r = classify_replicas(run, a);
	if (r == 0 && a->nreq == 0 && agent_any)
		r = problem(run, a, RECONCILE_KIND_NOT_REQUESTED,
		    "%s on %s (its log, seq %" PRIu64
		    ") but no action.requested in %s",
		    a->nexe > 0 ? "executed" : "received",
		    run->logs[a->nexe > 0 ? a->exe_log : a->dec_log].host,
		    a->nexe > 0 ? a->exe_seq : a->dec_seq,
		    run->nservers > 1 ? "any server log given" :
		                        "the server log");
	if (r == 0 && a->nreq == 0 && a->nrel == 0 && a->nres > 0 &&
	    !a->res_unknown && !run->logs[a->res_logs[0]].continues)
		r = problem(run, a, RECONCILE_KIND_RESULT_UNKNOWN_ACTION,
		    "the server recorded a result (seq %" PRIu64
		    ") for an action its log never requested",
		    a->res_seq);
	/*
	 * A cluster: a result a replica did not know ("action_known":
	 * false) is another replica's action; none given requests it.
	 */
	else if (r == 0 && run->nservers > 1 && a->nreq == 0 && a->nrel == 0 &&
	    a->nres > 0 && a->res_unknown && !agent_any &&
	    !run->logs[a->res_logs[0]].continues)
		r = problem(run, a, RECONCILE_KIND_RESULT_UNKNOWN_ACTION,
		    "%s recorded a result it did not know (seq %" PRIu64
		    ", \"action_known\": false), and no replica's log given "
		    "requests the action (is its origin's log missing?)",
		    log_label(run, a->res_logs[0]), a->res_seq);
	if (r == 0 && a->nreq > 0 && hl == SIZE_MAX && a->host[0] != '\0')
		r = host_missing(run, a->host);
	for (i = 0; i < a->nhosts; i++)
		right = right || a->hosts[i] == hl;
	if (r == 0 && a->nreq > 0 && agent_any && !right && hl != SIZE_MAX)
		r = problem(run, a, RECONCILE_KIND_NOT_RECEIVED,
		    "requested seq %" PRIu64 ", no record in %s's log (only "
		    "in another host's)",
		    a->req_seq, a->host);
	if (r == 0 && a->nreq > 0 && !agent_any && hl != SIZE_MAX) {
		if (strcmp(a->end, "result") == 0)
			r = problem(run, a, RECONCILE_KIND_AGENT_LOG_SHORT,
			    "the server holds a result %s signed (seq %" PRIu64
			    "), but %s's log has no record of the action "
			    "(it ends at seq %" PRIu64 ")",
			    a->host, a->res_seq, a->host,
			    run->logs[hl].head.seq);
		else if (strcmp(a->end, "timeout") != 0 &&
		    strcmp(a->end, "undelivered") != 0 &&
		    strcmp(a->end, "unverified") != 0)
			r = problem(run, a, RECONCILE_KIND_NOT_RECEIVED,
			    "requested seq %" PRIu64
			    ", no agent record, no timeout, undelivered or "
			    "unverified%s",
			    a->req_seq,
			    a->req_ts > run->logs[hl].last_ts ?
			        " (requested after the host's log ends: was it "
			        "copied before the server's?)" :
			        "");
	}
	if (r == 0 && a->nreq > 0 && agent_any) {
		if (a->ndec > 0 && a->rash[0] != '\0' && a->ash[0] != '\0' &&
		    strcmp(a->rash, a->ash) != 0)
			r = problem(run, a, RECONCILE_KIND_ACTION_DIFFERS,
			    "the signed action %s recorded (seq %" PRIu64
			    ", sha256 %.16s...) is not the one the server "
			    "recorded (seq %" PRIu64 ", sha256 %.16s...)",
			    run->logs[a->dec_log].host, a->dec_seq, a->rash,
			    a->req_seq, a->ash);
		if (r == 0 && (a->sapv.n > 0 || a->awaiting) && a->ndec > 0 &&
		    a->rash[0] != '\0' && !apv_same(&a->sapv, &a->aapv)) {
			apv_text(&a->sapv, x, sizeof(x));
			apv_text(&a->aapv, y, sizeof(y));
			r = problem(run, a, RECONCILE_KIND_APPROVALS_DIFFER,
			    "the server recorded approvals by keys %s, the "
			    "signed action %s received carries %s",
			    x, run->logs[a->dec_log].host, y);
		}
		if (r == 0 && a->nres > 0 && agent_sha[0] == '\0')
			r = problem(run, a, RECONCILE_KIND_AGENT_LOG_SHORT,
			    "the server holds a result %s signed (seq %" PRIu64
			    "), but %s's log has no action.executed for it",
			    a->rhost[0] != '\0' ? a->rhost : a->host,
			    a->res_seq, a->host);
		else if (r == 0 && a->nres > 0 &&
		    (strcmp(a->rsh, agent_sha) != 0 ||
		        (a->nexe > 0 && a->est[0] != '\0' &&
		            strcmp(a->st, a->est) != 0)))
			r = problem(run, a, RECONCILE_KIND_RESULT_DIFFERS,
			    "the server's action.result (seq %" PRIu64
			    ": %s, sha256 %.16s...) is not the result %s "
			    "signed (%s, sha256 %.16s...)",
			    a->res_seq, a->st, a->rsh,
			    a->nexe > 0 ? run->logs[a->exe_log].host : a->host,
			    a->nexe > 0 ? a->est : a->dec, agent_sha);
		if (r == 0 && a->nexe > 0 && agent_sha[0] != '\0' &&
		    a->end_rank < end_rank("unverified") && hl != SIZE_MAX &&
		    !a->result_dropped)
			r = problem(run, a, RECONCILE_KIND_RESULT_NOT_RECORDED,
			    "%s signed a %s result (its log, seq %" PRIu64
			    ") the server log never recorded (server: %s)",
			    run->logs[a->exe_log].host, a->est, a->exe_seq,
			    a->end[0] != '\0' ? a->end : "no end");
	}
	for (i = 0; r == 0 && i < a->nhosts; i++) {
		if (host[0] == '\0' ||
		    strcmp(run->logs[a->hosts[i]].host, host) == 0)
			continue;
		r = problem(run, a, RECONCILE_KIND_WRONG_HOST,
		    "the action is for host %s, but %s's log records it", host,
		    run->logs[a->hosts[i]].host);
	}
	if (r == 0 && has_exp && a->ndsp > 0 &&
	    a->dsp_last > exp + ENVELOPE_SKEW_MS)
		r = problem(run, a, RECONCILE_KIND_RUN_AFTER_EXPIRY,
		    "dispatched at %" PRId64 ", %" PRId64
		    " ms after the signed action expired (%" PRId64
		    ", allowing the 30 s clock skew)",
		    a->dsp_last, a->dsp_last - exp, exp);
	else if (r == 0 && has_exp && a->ndsp == 0 && a->nexe > 0 && !a->erec &&
	    a->has_edst && a->edst != 0 && a->exe_ts > exp + ENVELOPE_SKEW_MS)
		r = problem(run, a, RECONCILE_KIND_RUN_AFTER_EXPIRY,
		    "executed (docker status %" PRId64 ") at %" PRId64
		    ", %" PRId64 " ms after the signed action expired (%" PRId64
		    ", allowing the 30 s clock skew)",
		    a->edst, a->exe_ts, a->exe_ts - exp, exp);
	if (r == 0 && (a->ndsp > 1 || a->nexe > 1))
		r = problem(run, a, RECONCILE_KIND_DUPLICATE_EXECUTION,
		    "%u action.dispatched and %u action.executed records "
		    "(in %zu host log(s))",
		    a->ndsp, a->nexe, a->nhosts);
	return r;
}

static bool
add_names(cJSON *o, const char *k, const struct side_apv *s)
{
	cJSON *arr = cJSON_AddArrayToObject(o, k);
	size_t i;

	for (i = 0; arr != NULL && i < s->n; i++) {
		cJSON *n = cJSON_CreateString(
		    s->name[i][0] != '\0' ? s->name[i] : s->kid[i]);

		if (n == NULL || !cJSON_AddItemToArray(arr, n)) {
			cJSON_Delete(n);
			return false;
		}
	}
	return arr != NULL;
}

static bool
add_labels(const struct run *run, cJSON *o, const char *k, const size_t *logs,
    size_t n)
{
	cJSON *arr = cJSON_AddArrayToObject(o, k);
	size_t i, j;

	for (i = 0; arr != NULL && i < n; i++) {
		cJSON *s;

		for (j = 0; j < i; j++)
			if (logs[j] == logs[i])
				break;
		if (j < i)
			continue;
		s = cJSON_CreateString(log_label(run, logs[i]));
		if (s == NULL || !cJSON_AddItemToArray(arr, s)) {
			cJSON_Delete(s);
			return false;
		}
	}
	return arr != NULL;
}

/*
 * "replicas": which replica's log requested the action, relayed it and
 * recorded its results (several server logs given).
 */
static bool
add_replicas(const struct run *run, cJSON *o, const struct acc *a)
{
	cJSON *rp = cJSON_AddObjectToObject(o, "replicas");
	size_t req[2];
	size_t nreq = 0;

	if (a->nreq > 0)
		req[nreq++] = a->req_log;
	if (a->req_twice)
		req[nreq++] = a->twice_log;
	return rp != NULL && add_labels(run, rp, "requested", req, nreq) &&
	    add_labels(run, rp, "relayed", a->rel_log,
	        a->nrel < REPLICAS_SEEN ? a->nrel : REPLICAS_SEEN) &&
	    add_labels(run, rp, "results", a->res_logs, a->nres_logs);
}

/* The ACTION object of a joined action. */
static cJSON *
action_json(const struct run *run, struct acc *a)
{
	cJSON *o = cJSON_CreateObject(), *s, *g;
	bool ok;

	ok = o != NULL && add_str(o, "action_id", a->id) &&
	    add_str(o, "host_id",
	        a->host[0] != '\0'         ? a->host :
	            a->dec_host[0] != '\0' ? a->dec_host :
	            a->rel_host[0] != '\0' ? a->rel_host :
	            a->nhosts > 0          ? run->logs[a->hosts[0]].host :
	                                     NULL) &&
	    add_str(o, "container_id",
	        a->cid[0] != '\0'         ? a->cid :
	            a->acid[0] != '\0'    ? a->acid :
	            a->rel_cid[0] != '\0' ? a->rel_cid :
	                                    NULL) &&
	    (a->cname[0] == '\0' || add_str(o, "container_name", a->cname)) &&
	    add_str(o, "action",
	        a->act[0] != '\0'         ? a->act :
	            a->aact[0] != '\0'    ? a->aact :
	            a->rel_act[0] != '\0' ? a->rel_act :
	                                    NULL) &&
	    add_str(o, "requested_by",
	        a->by[0] != '\0'      ? a->by :
	            a->aby[0] != '\0' ? a->aby :
	                                NULL) &&
	    (a->rq[0] == '\0' || add_str(o, "requester", a->rq)) &&
	    add_str(o, "reason", a->why) &&
	    cJSON_AddItemToObject(o, "problems", a->problems);
	if (ok)
		a->problems = NULL;
	ok = ok && (s = cJSON_AddObjectToObject(o, "server")) != NULL &&
	    (a->nreq == 0 ||
	        (add_int(s, "requested_seq", (int64_t)a->req_seq) &&
	            add_int(s, "requested_at", a->req_ts) &&
	            (!a->has_exp || add_int(s, "expires_at", a->exp)) &&
	            (a->ash[0] == '\0' ||
	                add_str(s, "action_sha256", a->ash)))) &&
	    add_names(s, "approvals", &a->sapv) &&
	    add_str(s, "end", a->end[0] != '\0' ? a->end : "none") &&
	    (a->nres == 0 ||
	        (add_str(s, "status", a->st[0] != '\0' ? a->st : NULL) &&
	            (!a->has_dst || add_int(s, "docker_status", a->dst)) &&
	            add_int(s, "result_seq", (int64_t)a->res_seq))) &&
	    (a->end_why[0] == '\0' || add_str(s, "end_detail", a->end_why));
	ok = ok && (g = cJSON_AddObjectToObject(o, "agent")) != NULL &&
	    (a->ndec == 0 || add_int(g, "received_seq", (int64_t)a->dec_seq)) &&
	    add_str(g, "decision", a->ndec > 0 ? a->dec : "none") &&
	    (a->dec_why == NULL || add_str(g, "decision_detail", a->dec_why)) &&
	    (a->ndsp == 0 || add_int(g, "dispatched_at", a->dsp_first)) &&
	    (a->nexe == 0 ||
	        (add_int(g, "executed_seq", (int64_t)a->exe_seq) &&
	            (a->est[0] == '\0' || add_str(g, "status", a->est)) &&
	            (!a->has_edst || add_int(g, "docker_status", a->edst)) &&
	            (!a->has_sat || add_int(g, "started_at", a->sat)) &&
	            (!a->has_fat || add_int(g, "finished_at", a->fat)))) &&
	    (a->ndec == 0 || add_names(g, "approvals", &a->aapn)) &&
	    (run->nservers < 2 || add_replicas(run, o, a));
	if (!ok) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}

static int
join_partition(struct run *run, FILE *f, struct acc **tab, char **line,
    size_t *cap)
{
	struct acc *a, *next;
	struct err_msg sub;
	ssize_t len;
	size_t b;
	int r = 0;

	rewind(f);
	while (r == 0 && (len = getline(line, cap, f)) > 0) {
		cJSON *fact = NULL;

		r = jsonx_parse_object("fact", *line, (size_t)len - 1, 4, &fact,
		    &sub);
		if (r == 0)
			r = apply_fact(run, tab, fact);
		cJSON_Delete(fact);
	}
	if (r == 0 && ferror(f))
		r = SIGNET_ERR_IO;
	for (b = 0; b < BUCKETS; b++) {
		for (a = tab[b]; a != NULL; a = next) {
			cJSON *o;

			next = a->next;
			if (r == 0)
				r = classify(run, a);
			if (r == 0) {
				bool bad = cJSON_GetArraySize(a->problems) > 0;

				run->actions++;
				if (bad)
					run->with_problems++;
				else
					run->ok++;
				o = action_json(run, a);
				r = o == NULL ?
				    SIGNET_ERR_ALLOC :
				    put_line(bad ? run->res->problems :
				                   run->res->ok,
				        o);
			}
			acc_free(a);
		}
		tab[b] = NULL;
	}
	return r;
}

/* ---- setting up ---- */

/* The host_id an agent log's first records carry. */
static int
find_host(struct rlog *lg, struct err_msg *msg)
{
	struct audit_reader *rd = NULL;
	struct audit_record rec;
	int i, r;

	r = audit_reader_open(lg->files[0], &rd, msg);
	if (r != 0)
		return r;
	for (i = 0; i < 64; i++) {
		const char *h;

		r = audit_reader_next_record(rd, &rec, msg);
		if (r <= 0)
			break;
		h = jstr(rec.data, "host_id");
		if (h != NULL && text_valid_name(h)) {
			cpy(lg->host, sizeof(lg->host), h);
			audit_record_free(&rec);
			break;
		}
		audit_record_free(&rec);
	}
	audit_reader_close(rd);
	if (lg->host[0] == '\0')
		return err_set(msg, SIGNET_ERR_NOT_FOUND,
		    "%s: no record in its first lines names the host "
		    "(host_id): not an agent's log?",
		    lg->files[0]);
	return 0;
}

static int
verify_log(struct run *run, struct rlog *lg, struct err_msg *msg)
{
	struct audit_verify_opts vo;
	struct audit_verify_report rep;
	struct keys_public keys[1 + KEYSET_RETIRED_MAX];
	struct keyset ks;
	struct err_msg sub;
	size_t i;
	int r;

	memset(&vo, 0, sizeof(vo));
	vo.audit_key = run->o->server_key;
	if (lg->role == RECONCILE_AGENT) {
		r = find_host(lg, msg);
		if (r != 0)
			return r;
		/*
		 * The agent's log is signed with its result keys: the
		 * current one and, across a rotation, the retired ones
		 * (the log changes key at its agent.started).
		 */
		r = keyset_load(run->o->agent_keys_dir, lg->host, false, &ks,
		    &sub);
		if (r != 0)
			return err_set(msg, SIGNET_ERR_NOT_FOUND,
			    "the result key of host %s: %s", lg->host,
			    sub.text);
		for (i = 0; i < ks.count; i++)
			keys[i] = ks.keys[i].pub;
		vo.audit_key = &keys[0];
		vo.more_keys = ks.count > 1 ? &keys[1] : NULL;
		vo.n_more_keys = ks.count - 1;
	}
	vo.action_keys = run->o->action_keys;
	vo.agent_keys_dir = run->o->agent_keys_dir;
	vo.rosters = run->o->rosters;
	vo.jobs = run->o->jobs;
	if (lg->role == RECONCILE_SERVER && run->o->n_server_keys > 0) {
		struct audit_verify_report best;
		struct err_msg best_msg;
		int best_r = 0;

		/*
		 * Each replica may have its own audit key: the log is
		 * verified under the first that holds; failing all, the
		 * report is that of the key that verified the most lines.
		 */
		memset(&best, 0, sizeof(best));
		err_clear(&best_msg);
		for (i = 0; i < run->o->n_server_keys; i++) {
			vo.audit_key = &run->o->server_keys[i];
			r = audit_verify_files((const char *const *)lg->files,
			    lg->nfiles, &vo, NULL, &rep, &sub);
			if (r == 0)
				break;
			if (i == 0 || rep.records > best.records) {
				best = rep;
				best_msg = sub;
				best_r = r;
			}
		}
		if (r != 0) {
			rep = best;
			sub = best_msg;
			r = best_r;
		}
	} else {
		r = audit_verify_files((const char *const *)lg->files,
		    lg->nfiles, &vo, NULL, &rep, &sub);
	}
	lg->records = rep.records;
	lg->head = rep.head;
	lg->continues = rep.continues;
	if (r == 0 && rep.requests_failed > 0) {
		r = SIGNET_ERR_CHAIN;
		(void)snprintf(sub.text, sizeof(sub.text),
		    "%" PRIu64 " operator request check(s) failed "
		    "(signetctl audit verify --roster names them)",
		    rep.requests_failed);
	}
	lg->valid = r == 0;
	if (r != 0) {
		cpy(lg->error, sizeof(lg->error), sub.text);
		if (rep.bad_line == 0 && r != SIGNET_ERR_CHAIN &&
		    r != SIGNET_ERR_BAD_SIGNATURE && r != SIGNET_ERR_FORMAT)
			return err_set(msg, r, "%s", sub.text);
		count_kind(run, RECONCILE_KIND_LOG_INVALID);
	}
	return 0;
}

static cJSON *
log_json(const struct rlog *lg)
{
	cJSON *o = cJSON_CreateObject(), *files;
	char head[AUDIT_HASH_HEX + 32];
	size_t k;
	bool ok;

	(void)snprintf(head, sizeof(head), "%" PRIu64 ":%s", lg->head.seq,
	    lg->head.hash);
	ok = o != NULL &&
	    add_str(o, "role",
	        lg->role == RECONCILE_SERVER ? "server" : "agent") &&
	    (lg->role == RECONCILE_SERVER || add_str(o, "host_id", lg->host)) &&
	    (lg->replica[0] == '\0' || add_str(o, "replica", lg->replica)) &&
	    (files = cJSON_AddArrayToObject(o, "files")) != NULL;
	for (k = 0; ok && k < lg->nfiles; k++) {
		cJSON *s = cJSON_CreateString(lg->files[k]);

		ok = s != NULL && cJSON_AddItemToArray(files, s);
		if (!ok)
			cJSON_Delete(s);
	}
	ok = ok && add_num(o, "records", (int64_t)lg->records) &&
	    (lg->head.empty || add_str(o, "head", head)) &&
	    cJSON_AddBoolToObject(o, "valid", lg->valid) != NULL &&
	    (lg->valid || add_str(o, "error", lg->error));
	if (!ok) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}

static int
summarise(struct run *run)
{
	cJSON *s = cJSON_CreateObject(), *logs;
	size_t i;
	bool ok;

	ok = s != NULL && add_num(s, "generated_at", run->o->now_ms) &&
	    (logs = cJSON_AddArrayToObject(s, "logs")) != NULL;
	for (i = 0; ok && i < run->nlogs; i++) {
		cJSON *l = log_json(&run->logs[i]);

		ok = l != NULL && cJSON_AddItemToArray(logs, l);
		if (!ok)
			cJSON_Delete(l);
	}
	ok = ok && add_num(s, "actions", (int64_t)run->actions) &&
	    add_num(s, "ok", (int64_t)run->ok) &&
	    add_num(s, "with_problems", (int64_t)run->with_problems) &&
	    cJSON_AddItemToObject(s, "problems_by_kind", run->by_kind);
	if (ok)
		run->by_kind = NULL;
	ok = ok && cJSON_AddItemToObject(s, "hosts_missing", run->missing);
	if (ok)
		run->missing = NULL;
	ok = ok && cJSON_AddItemToObject(s, "problems", run->log_problems);
	if (ok)
		run->log_problems = NULL;
	if (!ok) {
		cJSON_Delete(s);
		return SIGNET_ERR_ALLOC;
	}
	run->res->summary = s;
	run->res->clean = run->with_problems == 0 &&
	    cJSON_GetArraySize(
	        cJSON_GetObjectItemCaseSensitive(s, "problems")) == 0 &&
	    cJSON_GetArraySize(
	        cJSON_GetObjectItemCaseSensitive(s, "hosts_missing")) == 0;
	for (i = 0; i < run->nlogs; i++)
		run->res->clean = run->res->clean && run->logs[i].valid;
	return 0;
}

int
reconcile_run(const struct reconcile_opts *opts,
    const struct reconcile_log *logs, size_t n, struct reconcile **out,
    struct err_msg *msg)
{
	struct run run;
	struct acc **tab = NULL;
	char *line = NULL;
	size_t cap = 0, i, nserver = 0;
	int r;

	*out = NULL;
	memset(&run, 0, sizeof(run));
	run.o = opts;
	for (i = 0; i < n; i++)
		if (logs[i].role == RECONCILE_SERVER)
			nserver++;
	for (i = 0; i < n; i++)
		if (logs[i].role == RECONCILE_SERVER) {
			run.server = i;
			break;
		}
	run.nservers = nserver;
	if (nserver == 0 || n > RECONCILE_LOGS_MAX ||
	    (opts->server_key == NULL && opts->n_server_keys == 0) ||
	    opts->n_server_keys > RECONCILE_SERVER_KEYS_MAX ||
	    (opts->n_server_keys > 0 && opts->server_keys == NULL) ||
	    opts->action_keys == NULL || opts->agent_keys_dir == NULL)
		return err_set(msg, SIGNET_ERR_INVALID_ARG,
		    "reconcile: give a server log (one per replica), at most "
		    "%d logs, the server's key(s) (at most %d), the action "
		    "keys and the agent keys",
		    RECONCILE_LOGS_MAX, RECONCILE_SERVER_KEYS_MAX);
	run.logs = calloc(n, sizeof(*run.logs));
	run.res = calloc(1, sizeof(*run.res));
	tab = calloc(BUCKETS, sizeof(*tab));
	run.by_kind = cJSON_CreateObject();
	run.missing = cJSON_CreateArray();
	run.log_problems = cJSON_CreateArray();
	if (run.logs == NULL || run.res == NULL || tab == NULL ||
	    run.by_kind == NULL || run.missing == NULL ||
	    run.log_problems == NULL) {
		r = err_set(msg, SIGNET_ERR_ALLOC, "out of memory");
		goto out;
	}
	run.nlogs = n;
	for (i = 0; i < n; i++) {
		run.logs[i].role = logs[i].role;
		run.logs[i].files = logs[i].files;
		run.logs[i].nfiles = logs[i].nfiles;
		if (logs[i].nfiles == 0) {
			r = err_set(msg, SIGNET_ERR_INVALID_ARG,
			    "a log without files");
			goto out;
		}
	}
	run.res->problems = spill_new(opts->tmpdir);
	run.res->ok = spill_new(opts->tmpdir);
	for (i = 0; i < RECONCILE_PARTITIONS; i++)
		run.part[i] = spill_new(opts->tmpdir);
	for (i = 0; i < RECONCILE_PARTITIONS; i++)
		if (run.part[i] == NULL)
			break;
	if (run.res->problems == NULL || run.res->ok == NULL ||
	    i < RECONCILE_PARTITIONS) {
		r = err_set(msg, SIGNET_ERR_IO,
		    "cannot make a temporary file under %s: %s",
		    opts->tmpdir != NULL         ? opts->tmpdir :
		        getenv("TMPDIR") != NULL ? getenv("TMPDIR") :
		                                   "/tmp",
		    strerror(errno));
		goto out;
	}
	/* Pass 0: each log in full. */
	for (i = 0; i < n; i++) {
		r = verify_log(&run, &run.logs[i], msg);
		if (r != 0)
			goto out;
	}
	for (i = 0; i < n; i++) {
		r = agent_log_of(&run, run.logs[i].host) != i &&
		        run.logs[i].role == RECONCILE_AGENT ?
		    err_set(msg, SIGNET_ERR_INVALID_ARG,
		        "two logs of host %s given (give each host's files as "
		        "one --agent)",
		        run.logs[i].host) :
		    0;
		if (r != 0)
			goto out;
	}
	/* Pass 1: the facts. */
	for (i = 0; i < n; i++) {
		r = stream_log(&run, i, true, fact_line, NULL, msg);
		if (r != 0)
			goto out;
	}
	/* Pass 1b: the heads agents name of the replica that asked. */
	for (i = 0; run.nservers > 1 && i < RECONCILE_PARTITIONS; i++) {
		if (fflush(run.part[i]) != 0) {
			r = err_set(msg, SIGNET_ERR_IO, "temporary file: %s",
			    strerror(errno));
			goto out;
		}
		r = route_heads(&run, run.part[i], &line, &cap);
		if (r != 0) {
			r = err_set(msg, r, "routing partition %zu: %s", i,
			    err_str(r));
			goto out;
		}
	}
	/* Pass 2: the claimed heads. */
	for (i = 0; i < n; i++) {
		r = check_claims(&run, i, msg);
		if (r != 0)
			goto out;
	}
	/* Pass 3: the join, one partition at a time. */
	for (i = 0; i < RECONCILE_PARTITIONS; i++) {
		if (fflush(run.part[i]) != 0) {
			r = err_set(msg, SIGNET_ERR_IO, "temporary file: %s",
			    strerror(errno));
			goto out;
		}
		r = join_partition(&run, run.part[i], tab, &line, &cap);
		if (r != 0) {
			r = err_set(msg, r, "joining partition %zu: %s", i,
			    err_str(r));
			goto out;
		}
		(void)fclose(run.part[i]);
		run.part[i] = NULL;
	}
	r = summarise(&run);
	if (r != 0) {
		r = err_set(msg, r, "out of memory");
		goto out;
	}
	if (fflush(run.res->problems) != 0 || fflush(run.res->ok) != 0) {
		r = err_set(msg, SIGNET_ERR_IO, "temporary file: %s",
		    strerror(errno));
		goto out;
	}
	rewind(run.res->problems);
	rewind(run.res->ok);
	*out = run.res;
	run.res = NULL;
	r = 0;
out:
	for (i = 0; i < RECONCILE_PARTITIONS; i++)
		if (run.part[i] != NULL)
			(void)fclose(run.part[i]);
	for (i = 0; run.logs != NULL && i < n; i++)
		if (run.logs[i].claims != NULL)
			(void)fclose(run.logs[i].claims);
	free(line);
	free(tab);
	free(run.logs);
	cJSON_Delete(run.by_kind);
	cJSON_Delete(run.missing);
	cJSON_Delete(run.log_problems);
	reconcile_free(run.res);
	return r;
}

const cJSON *
reconcile_summary(const struct reconcile *r)
{
	return r->summary;
}

bool
reconcile_clean(const struct reconcile *r)
{
	return r->clean;
}

int
reconcile_rewind(struct reconcile *r)
{
	r->phase = 0;
	if (fseek(r->problems, 0, SEEK_SET) != 0 ||
	    fseek(r->ok, 0, SEEK_SET) != 0)
		return SIGNET_ERR_IO;
	return 0;
}

int
reconcile_next(struct reconcile *r, cJSON **action)
{
	struct err_msg sub;
	ssize_t len;
	int rc;

	*action = NULL;
	while (r->phase < 2) {
		FILE *f = r->phase == 0 ? r->problems : r->ok;

		len = getline(&r->line, &r->cap, f);
		if (len <= 0) {
			if (ferror(f))
				return SIGNET_ERR_IO;
			r->phase++;
			continue;
		}
		rc = jsonx_parse_object("action", r->line, (size_t)len - 1, 8,
		    action, &sub);
		return rc != 0 ? rc : 1;
	}
	return 0;
}

char *
reconcile_action_text(const cJSON *a)
{
	const cJSON *probs = cJSON_GetObjectItemCaseSensitive(a, "problems");
	const cJSON *srv = cJSON_GetObjectItemCaseSensitive(a, "server");
	const cJSON *agt = cJSON_GetObjectItemCaseSensitive(a, "agent");
	const cJSON *p;
	const char *cname = jstr(a, "container_name");
	const char *cid = jstr(a, "container_id");
	char *buf = NULL, esc[1600], esc2[256], esc3[256];
	size_t size = 0;
	FILE *m = open_memstream(&buf, &size);
	bool first = true;

	if (m == NULL)
		return NULL;
	fprintf(m, "%s %s %s %s ",
	    cJSON_GetArraySize(probs) > 0 ? "PROBLEM" : "ok",
	    jstr(a, "action_id") != NULL ?
	        text_escape_str(jstr(a, "action_id"), esc3, sizeof(esc3)) :
	        "?",
	    jstr(a, "host_id") != NULL ?
	        text_escape_str(jstr(a, "host_id"), esc2, sizeof(esc2)) :
	        "?",
	    jstr(a, "action") != NULL ?
	        text_escape_str(jstr(a, "action"), esc, sizeof(esc)) :
	        "?");
	if (cname != NULL)
		fprintf(m, "%s", text_escape_str(cname, esc, sizeof(esc)));
	else if (cid != NULL)
		fprintf(m, "%.12s", text_escape_str(cid, esc, sizeof(esc)));
	else
		fprintf(m, "?");
	fprintf(m, " by %s",
	    jstr(a, "requested_by") != NULL ?
	        text_escape_str(jstr(a, "requested_by"), esc, sizeof(esc)) :
	        "?");
	if (jstr(a, "requester") != NULL)
		fprintf(m, " (%s)",
		    text_escape_str(jstr(a, "requester"), esc, sizeof(esc)));
	if (cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(a, "replicas"))) {
		static const char *const steps[] = { "requested", "relayed",
			"results" };
		const cJSON *rp = cJSON_GetObjectItemCaseSensitive(a,
		    "replicas");
		size_t k;

		/* Which replica did what, before the verdict. */
		fprintf(m, " [");
		for (k = 0; k < 3; k++) {
			const cJSON *e;
			bool one = false;

			fprintf(m, "%s%s ", k > 0 ? "; " : "", steps[k]);
			cJSON_ArrayForEach(e,
			    cJSON_GetObjectItemCaseSensitive(rp, steps[k]))
			{
				fprintf(m, "%s%s", one ? "," : "",
				    cJSON_IsString(e) ?
				        text_escape_str(e->valuestring, esc,
				            sizeof(esc)) :
				        "?");
				one = true;
			}
			if (!one)
				fprintf(m, "-");
		}
		fprintf(m, "]");
	}
	cJSON_ArrayForEach(p, probs)
	{
		fprintf(m, "%s %s (%s)", first ? ":" : ";",
		    jstr(p, "kind") != NULL ? jstr(p, "kind") : "?",
		    jstr(p, "detail") != NULL ?
		        text_escape_str(jstr(p, "detail"), esc, sizeof(esc)) :
		        "");
		first = false;
	}
	if (first) {
		fprintf(m, ": server %s",
		    jstr(srv, "end") != NULL ? jstr(srv, "end") : "?");
		if (jstr(srv, "status") != NULL)
			fprintf(m, " %s",
			    text_escape_str(jstr(srv, "status"), esc,
			        sizeof(esc)));
		fprintf(m, ", host %s",
		    jstr(agt, "decision") != NULL ? jstr(agt, "decision") :
		                                    "?");
		if (jstr(agt, "status") != NULL)
			fprintf(m, " %s",
			    text_escape_str(jstr(agt, "status"), esc,
			        sizeof(esc)));
	}
	if (fclose(m) != 0) {
		free(buf);
		return NULL;
	}
	return buf;
}

void
reconcile_free(struct reconcile *r)
{
	if (r == NULL)
		return;
	cJSON_Delete(r->summary);
	if (r->problems != NULL)
		(void)fclose(r->problems);
	if (r->ok != NULL)
		(void)fclose(r->ok);
	free(r->line);
	free(r);
}
