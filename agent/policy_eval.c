/* SPDX-License-Identifier: ISC */
/*
 * Decisions of the host policy engine: default deny, rules tried in
 * order, the nearest rule named when none allows, and a per-container
 * rate limit whose windows are the only state that changes (under the
 * policy's mutex). Also the action names and the one-line description
 * of a rule that --explain and the checker print.
 */
#include "policy_int.h"

#include <fnmatch.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "text.h"

/* Above any count of held conditions (name, image, labels). */
#define SCORE_MATCHED (POLICY_LABELS_MAX + 10)

/*
 * The actions a policy can allow, a closed range of enum envelope_action:
 * ENVELOPE_ACTION_NONE (0) is never one, nor is a value the envelope
 * module may learn later until the policy is taught about it.
 */
#define ACTION_FIRST ENVELOPE_ACTION_START
#define ACTION_LAST ENVELOPE_ACTION_RESTART

_Static_assert(ACTION_LAST < sizeof(unsigned) * CHAR_BIT,
    "struct rule.actions holds one bit per action");

/* True for START, STOP and RESTART: checked before any (1u << a). */
static bool
action_valid(enum envelope_action a)
{
	return (int)a >= (int)ACTION_FIRST && (int)a <= (int)ACTION_LAST;
}

const char *
policy_action_name(enum envelope_action a)
{
	const char *s;

	if (!action_valid(a))
		return "?";
	s = envelope_action_name(a);
	return s != NULL ? s : "?";
}

int
policy_action_parse(const char *s, enum envelope_action *out)
{
	enum envelope_action a;

	a = envelope_action_parse(s);
	if (!action_valid(a))
		return SIGNET_ERR_FORMAT;
	*out = a;
	return 0;
}

int64_t
policy_now_ms(void)
{
	return clock_mono_ms();
}

const char *
policy_source(const struct policy *p, size_t *len)
{
	*len = p->source_len;
	return p->source;
}

const char *
policy_host_id(const struct policy *p)
{
	return p->host_id;
}

size_t
policy_rule_count(const struct policy *p)
{
	return p->nrules;
}

/* Appends to buf at *off, bounded; marks truncation with "...". */
static void appendf(char *buf, size_t len, size_t *off, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void
appendf(char *buf, size_t len, size_t *off, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (*off >= len)
		return;
	va_start(ap, fmt);
	n = vsnprintf(buf + *off, len - *off, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n >= len - *off) {
		*off = len;
		if (len >= 4)
			memcpy(buf + len - 4, "...", 4);
		return;
	}
	*off += (size_t)n;
}

char *
policy_rule_describe(const struct policy *p, size_t i, char *buf, size_t len)
{
	const struct rule *ru;
	char esc[ESC_BUF], esc2[ESC_BUF];
	size_t off = 0, k;
	const char *sep = "";
	int a;

	if (len == 0)
		return buf;
	buf[0] = '\0';
	if (i >= p->nrules)
		return buf;
	ru = &p->rules[i];
	appendf(buf, len, &off, "match");
	if (ru->name != NULL)
		appendf(buf, len, &off, " name=\"%s\"",
		    text_escape_str(ru->name, esc, sizeof(esc)));
	if (ru->image != NULL)
		appendf(buf, len, &off, " image=\"%s\"",
		    text_escape_str(ru->image, esc, sizeof(esc)));
	for (k = 0; k < ru->nlabels; k++)
		appendf(buf, len, &off, " label:\"%s\"=\"%s\"",
		    text_escape_str(ru->labels[k].key, esc, sizeof(esc)),
		    text_escape_str(ru->labels[k].value, esc2, sizeof(esc2)));
	appendf(buf, len, &off, "; actions ");
	for (a = ACTION_FIRST; a <= ACTION_LAST; a++) {
		if (ru->actions & (1u << a)) {
			appendf(buf, len, &off, "%s%s", sep,
			    policy_action_name((enum envelope_action)a));
			sep = ",";
		}
	}
	appendf(buf, len, &off, "; %s",
	    ru->accept_relay ? "relay-signed accepted" :
	                       "operator signature required");
	if (ru->has_operators) {
		appendf(buf, len, &off, "; operators ");
		for (k = 0; k < ru->noperators; k++)
			appendf(buf, len, &off, "%s%s", k > 0 ? "," : "",
			    ru->operators[k]);
	} else {
		appendf(buf, len, &off, "; any operator");
	}
	if (ru->min_reason > 0)
		appendf(buf, len, &off, "; reason >= %ld chars",
		    ru->min_reason);
	if (ru->nterms > 0) {
		appendf(buf, len, &off, "; approvals ");
		for (k = 0; k < ru->nterms; k++)
			appendf(buf, len, &off, "%s%u of \"%s\"",
			    k > 0 ? " and " : "", ru->terms[k].count,
			    ru->terms[k].group);
		appendf(buf, len, &off, ", wait up to %ld s", ru->wait_s);
	}
	if (ru->rate_max > 0)
		appendf(buf, len, &off, "; at most %ld per %ld s per container",
		    ru->rate_max, ru->rate_per);
	return buf;
}

int
policy_rule_approvals(const struct policy *p, size_t i,
    struct policy_approval_term *terms, size_t max, size_t *n, int64_t *wait_ms)
{
	const struct rule *ru;
	size_t k;

	if (n != NULL)
		*n = 0;
	if (wait_ms != NULL)
		*wait_ms = 0;
	if (p == NULL || n == NULL || wait_ms == NULL || i >= p->nrules ||
	    (terms == NULL && max > 0))
		return SIGNET_ERR_INVALID_ARG;
	ru = &p->rules[i];
	for (k = 0; k < ru->nterms && k < max; k++) {
		memset(&terms[k], 0, sizeof(terms[k]));
		(void)snprintf(terms[k].group, sizeof(terms[k].group), "%s",
		    ru->terms[k].group);
		terms[k].count = ru->terms[k].count;
	}
	*n = ru->nterms;
	*wait_ms = (int64_t)ru->wait_s * 1000;
	if (ru->nterms > max)
		return SIGNET_ERR_TOO_LARGE;
	return 0;
}

bool
policy_rule_accepts_relay(const struct policy *p, size_t i)
{
	if (p == NULL || i >= p->nrules)
		return false;
	return p->rules[i].accept_relay;
}

struct req_norm {
	const char *id;
	const char *name;
	const char *image;
	const char *op;
	const char *reason;
};

static const char *
nz(const char *s)
{
	return s != NULL ? s : "";
}

static void
normalise(const struct policy_request *req, struct req_norm *q)
{
	q->id = nz(req->container_id);
	q->name = nz(req->name);
	if (q->name[0] == '/')
		q->name++;
	q->image = nz(req->image);
	q->op = nz(req->operator_name);
	q->reason = nz(req->reason);
}

static bool
glob_matches(const char *glob, const char *s)
{
	/* Flags 0: '*' spans '/' (image paths), '\' escapes, C locale. */
	return fnmatch(glob, s, 0) == 0;
}

/*
 * Judges one glob matcher of a rule (glob NULL: not given). A hold counts
 * in *held; the rule's first failure (*failed still ALLOWED) sets *failed
 * to st and says why.
 */
static void
judge_glob(const char *glob, const char *have, const char *what,
    enum policy_stage st, int *held, enum policy_stage *failed, char *why,
    size_t whylen)
{
	char e1[ESC_BUF], e2[ESC_BUF];

	if (glob == NULL)
		return;
	if (glob_matches(glob, have)) {
		(*held)++;
		return;
	}
	if (*failed != POLICY_STAGE_ALLOWED)
		return;
	*failed = st;
	(void)snprintf(why, whylen, "%s \"%s\" does not match \"%s\"", what,
	    text_escape_str(have, e1, sizeof(e1)),
	    text_escape_str(glob, e2, sizeof(e2)));
}

static bool
is_space(char ch)
{
	return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r' ||
	    ch == '\v' || ch == '\f';
}

/* Characters of the reason without surrounding white space; -1 bad UTF-8. */
static long
reason_chars(const char *s)
{
	size_t b = 0, e = strlen(s);

	while (b < e && is_space(s[b]))
		b++;
	while (e > b && is_space(s[e - 1]))
		e--;
	return policy_utf8_chars(s + b, e - b);
}

void
policy_rate_table_clear(struct rate_table *t)
{
	size_t i;

	for (i = 0; i < t->n; i++)
		free(t->b[i].ts);
	free(t->b);
	t->b = NULL;
	t->n = t->cap = 0;
}

static struct rate_bucket *
rate_find(struct rate_table *t, const char *id)
{
	size_t i;

	for (i = 0; i < t->n; i++) {
		if (strcmp(t->b[i].id, id) == 0)
			return &t->b[i];
	}
	return NULL;
}

/* Cut-off of the window (now - per, now]: entries <= cutoff are out. */
static int64_t
rate_cutoff(int64_t now, long per_s)
{
	int64_t per = (int64_t)per_s * 1000;

	if (now < INT64_MIN + per)
		return INT64_MIN;
	return now - per;
}

/*
 * Drops entries that left the window. Entries later than now (a clock
 * that stepped back) stay and count: failing closed beats a free burst.
 */
static size_t
rate_prune(struct rate_bucket *b, int64_t cutoff)
{
	size_t i, k = 0;

	for (i = 0; i < b->n; i++) {
		if (b->ts[i] > cutoff)
			b->ts[k++] = b->ts[i];
	}
	b->n = k;
	return k;
}

/* Removes buckets left empty, to make room. */
static void
rate_sweep(struct rate_table *t, int64_t cutoff)
{
	size_t i, k = 0;

	for (i = 0; i < t->n; i++) {
		if (rate_prune(&t->b[i], cutoff) == 0) {
			free(t->b[i].ts);
			continue;
		}
		t->b[k++] = t->b[i];
	}
	t->n = k;
}

/* Counts an allowed action at now. 0, SIGNET_ERR_ALLOC, _TOO_LARGE. */
static int
rate_record(struct rule *ru, const char *id, int64_t now)
{
	struct rate_table *t = &ru->rate;
	struct rate_bucket *b;
	int64_t cutoff = rate_cutoff(now, ru->rate_per);

	b = rate_find(t, id);
	if (b == NULL) {
		if (t->n == t->cap) {
			rate_sweep(t, cutoff);
		}
		if (t->n == t->cap) {
			size_t ncap = t->cap == 0 ? 8 : t->cap * 2;
			struct rate_bucket *nb;

			if (t->cap >= POLICY_RATE_KEYS_MAX)
				return SIGNET_ERR_TOO_LARGE;
			if (ncap > POLICY_RATE_KEYS_MAX)
				ncap = POLICY_RATE_KEYS_MAX;
			nb = reallocarray(t->b, ncap, sizeof(*nb));
			if (nb == NULL)
				return SIGNET_ERR_ALLOC;
			t->b = nb;
			t->cap = ncap;
		}
		b = &t->b[t->n];
		memset(b, 0, sizeof(*b));
		(void)snprintf(b->id, sizeof(b->id), "%s", id);
		t->n++;
	}
	if (b->n == b->cap) {
		/* Bounded: deny happens at rate_max entries. */
		size_t ncap = b->cap == 0 ? 4 : b->cap * 2;
		int64_t *nts;

		if (ncap > (size_t)ru->rate_max)
			ncap = (size_t)ru->rate_max;
		if (ncap <= b->n)
			return SIGNET_ERR_INTERNAL;
		nts = reallocarray(b->ts, ncap, sizeof(*nts));
		if (nts == NULL)
			return SIGNET_ERR_ALLOC;
		b->ts = nts;
		b->cap = ncap;
	}
	b->ts[b->n++] = now;
	return 0;
}

/*
 * The approvals of a request assigned to a rule's terms: each approver
 * fills at most one slot of one term whose group they are in, so one
 * person in two groups cannot satisfy "1 of dba AND 1 of sre" alone. A
 * maximum bipartite assignment by augmenting paths (Kuhn's algorithm
 * with a capacity per term); sizes are tiny (8 terms of at most 16).
 */
struct assign {
	const struct rule *ru;
	const struct policy_approver *ap;
	size_t slot[POLICY_TERMS_MAX][POLICY_TERM_COUNT_MAX]; /* into ap */
	size_t filled[POLICY_TERMS_MAX];
	bool seen[POLICY_TERMS_MAX];
};

static bool
in_group(const struct policy_approver *a, const char *group)
{
	size_t g;

	for (g = 0; g < a->ngroups; g++) {
		if (a->groups[g] != NULL && strcmp(a->groups[g], group) == 0)
			return true;
	}
	return false;
}

/* Finds approver a a slot, moving others along; depth <= nterms. */
static bool
assign_augment(struct assign *m, size_t a)
{
	size_t t, s;

	for (t = 0; t < m->ru->nterms; t++) {
		if (m->seen[t] || !in_group(&m->ap[a], m->ru->terms[t].group))
			continue;
		m->seen[t] = true;
		if (m->filled[t] < m->ru->terms[t].count) {
			m->slot[t][m->filled[t]++] = a;
			return true;
		}
		for (s = 0; s < m->filled[t]; s++) {
			if (assign_augment(m, m->slot[t][s])) {
				m->slot[t][s] = a;
				return true;
			}
		}
	}
	return false;
}

/*
 * Whether approver i counts at all: a key id, not one seen before, not
 * the requester, and a person (name) counted once even under two keys.
 * The caller filters these already; the policy does not rely on it.
 */
static bool
approver_eligible(const struct policy_approver *ap, size_t i, const char *op)
{
	const char *key = nz(ap[i].key_id), *name = nz(ap[i].name);
	size_t j;

	if (key[0] == '\0' || name[0] == '\0' || strcmp(name, op) == 0)
		return false;
	for (j = 0; j < i; j++) {
		if (strcmp(nz(ap[j].key_id), key) == 0 ||
		    strcmp(nz(ap[j].name), name) == 0)
			return false;
	}
	return true;
}

/* True when every term of ru holds; why says what was counted if not. */
static bool
approvals_hold(const struct rule *ru, const struct policy_request *req,
    const char *op, char *why, size_t whylen)
{
	struct assign m;
	char esc[ESC_BUF];
	size_t i, t, s, n, need = 0, got = 0, off = 0;

	memset(&m, 0, sizeof(m));
	m.ru = ru;
	m.ap = req->approvers;
	for (t = 0; t < ru->nterms; t++)
		need += ru->terms[t].count;
	n = req->approvers != NULL ? req->napprovers : 0;
	if (n > POLICY_APPROVERS_MAX)
		n = POLICY_APPROVERS_MAX;
	for (i = 0; i < n && got < need; i++) {
		if (!approver_eligible(req->approvers, i, op))
			continue;
		memset(m.seen, 0, sizeof(m.seen));
		if (assign_augment(&m, i))
			got++;
	}
	if (got == need)
		return true;
	why[0] = '\0';
	appendf(why, whylen, &off, "approvals: ");
	for (t = 0; t < ru->nterms; t++) {
		appendf(why, whylen, &off, "%s%u of \"%s\" needed, %zu counted",
		    t > 0 ? "; " : "", ru->terms[t].count, ru->terms[t].group,
		    m.filled[t]);
		for (s = 0; s < m.filled[t]; s++)
			appendf(why, whylen, &off, "%s%s", s == 0 ? " (" : ", ",
			    text_escape_str(nz(m.ap[m.slot[t][s]].name), esc,
			        sizeof(esc)));
		if (m.filled[t] > 0)
			appendf(why, whylen, &off, ")");
	}
	return false;
}

/*
 * Judges rule ru; p->mu held. *score orders rules by nearness for a deny:
 * a rule that matched the container beats any that did not, and among
 * those the later its failing check the nearer; among rules that did not
 * match, the more of its conditions held (name, image, each label) the
 * nearer. why names the first check that failed.
 */
static enum policy_stage
rule_eval(struct rule *ru, const struct policy_request *req,
    const struct req_norm *q, char *why, size_t whylen, int *score)
{
	enum policy_stage failed = POLICY_STAGE_ALLOWED;
	char e1[ESC_BUF], e2[ESC_BUF], e3[ESC_BUF];
	size_t k, j;
	long chars;
	int held = 0;

	why[0] = '\0';
	/* Every matcher is judged, so that nearness can count them. */
	judge_glob(ru->name, q->name, "name", POLICY_STAGE_NAME, &held, &failed,
	    why, whylen);
	judge_glob(ru->image, q->image, "image", POLICY_STAGE_IMAGE, &held,
	    &failed, why, whylen);
	for (k = 0; k < ru->nlabels; k++) {
		const struct rule_label *want = &ru->labels[k];
		const char *have = NULL;

		for (j = 0; j < req->nlabels && have == NULL; j++) {
			if (req->labels[j].key != NULL &&
			    strcmp(req->labels[j].key, want->key) == 0)
				have = nz(req->labels[j].value);
		}
		if (have != NULL && strcmp(have, want->value) == 0) {
			held++;
			continue;
		}
		if (failed == POLICY_STAGE_ALLOWED) {
			failed = POLICY_STAGE_LABELS;
			text_escape_str(want->key, e1, sizeof(e1));
			text_escape_str(want->value, e2, sizeof(e2));
			if (have == NULL)
				(void)snprintf(why, whylen,
				    "label \"%s\" is "
				    "missing, rule wants \"%s\"",
				    e1, e2);
			else
				(void)snprintf(why, whylen,
				    "label \"%s\" is "
				    "\"%s\", rule wants \"%s\"",
				    e1, text_escape_str(have, e3, sizeof(e3)),
				    e2);
		}
	}
	*score = held;
	if (failed != POLICY_STAGE_ALLOWED)
		return failed;
	/* Matched the container: nearer than any rule that did not. */
	*score = SCORE_MATCHED + POLICY_STAGE_ACTION;
	if (!action_valid(req->action) ||
	    (ru->actions & (1u << req->action)) == 0) {
		(void)snprintf(why, whylen, "action %s not listed",
		    policy_action_name(req->action));
		return POLICY_STAGE_ACTION;
	}
	if (!ru->accept_relay && !req->operator_signed) {
		(void)snprintf(why, whylen,
		    "rule requires an operator-signed request; this action is "
		    "signed by the relay only");
		*score = SCORE_MATCHED + POLICY_STAGE_SIGNED;
		return POLICY_STAGE_SIGNED;
	}
	if (ru->has_operators) {
		bool found = false;
		for (k = 0; k < ru->noperators && !found; k++)
			found = strcmp(ru->operators[k], q->op) == 0;
		if (!found) {
			(void)snprintf(why, whylen,
			    "operator not listed: "
			    "\"%s\"",
			    text_escape_str(q->op, e1, sizeof(e1)));
			*score = SCORE_MATCHED + POLICY_STAGE_OPERATOR;
			return POLICY_STAGE_OPERATOR;
		}
	}
	if (ru->min_reason > 0) {
		chars = reason_chars(q->reason);
		if (chars < 0) {
			(void)snprintf(why, whylen,
			    "reason is not valid "
			    "UTF-8");
			*score = SCORE_MATCHED + POLICY_STAGE_REASON;
			return POLICY_STAGE_REASON;
		}
		if (chars < ru->min_reason) {
			(void)snprintf(why, whylen,
			    "reason shorter than %ld "
			    "characters: %ld given",
			    ru->min_reason, chars);
			*score = SCORE_MATCHED + POLICY_STAGE_REASON;
			return POLICY_STAGE_REASON;
		}
	}
	/* A relay-only action has no request of its own to bound. */
	if (req->operator_signed) {
		int64_t limit = POLICY_SKEW_MS + (int64_t)ru->wait_s * 1000;
		int64_t life = req->request_lifetime_ms;

		if (life < 0 || life > limit) {
			if (life < 0)
				(void)snprintf(why, whylen,
				    "request expires before it was issued "
				    "(lifetime %lld ms)",
				    (long long)life);
			else
				(void)snprintf(why, whylen,
				    "request lives %lld s; rule allows at "
				    "most %lld s",
				    (long long)(life / 1000 +
				        (life % 1000 != 0)),
				    (long long)(limit / 1000));
			*score = SCORE_MATCHED + POLICY_STAGE_LIFETIME;
			return POLICY_STAGE_LIFETIME;
		}
	}
	if (ru->nterms > 0 && !approvals_hold(ru, req, q->op, why, whylen)) {
		*score = SCORE_MATCHED + POLICY_STAGE_APPROVALS;
		return POLICY_STAGE_APPROVALS;
	}
	if (ru->rate_max > 0) {
		struct rate_bucket *b = rate_find(&ru->rate, q->id);
		size_t count = 0;

		if (b != NULL)
			count = rate_prune(b,
			    rate_cutoff(req->now_ms, ru->rate_per));
		if (count >= (size_t)ru->rate_max) {
			(void)snprintf(why, whylen,
			    "rate limit: %ld in %ld s "
			    "reached for this container",
			    ru->rate_max, ru->rate_per);
			*score = SCORE_MATCHED + POLICY_STAGE_RATE;
			return POLICY_STAGE_RATE;
		}
	}
	*score = SCORE_MATCHED + POLICY_STAGE_ALLOWED;
	return POLICY_STAGE_ALLOWED;
}

static void deny(struct policy_decision *dec, int rule, enum policy_stage st,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void
deny(struct policy_decision *dec, int rule, enum policy_stage st,
    const char *fmt, ...)
{
	va_list ap;

	dec->allow = false;
	dec->rule = rule;
	dec->stage = st;
	va_start(ap, fmt);
	(void)vsnprintf(dec->text, sizeof(dec->text), fmt, ap);
	va_end(ap);
}

static int
decide(struct policy *p, const struct policy_request *req,
    struct policy_decision *dec, bool record)
{
	char why[ERR_MSG_MAX], best_why[ERR_MSG_MAX];
	enum policy_stage st, best = POLICY_STAGE_NAME;
	struct req_norm q;
	int best_rule = 0, best_score = -1, score = 0, r;
	size_t i;

	if (dec == NULL)
		return SIGNET_ERR_INVALID_ARG;
	deny(dec, -1, POLICY_STAGE_NAME, "denied: no decision");
	if (p == NULL || req == NULL || p->nrules == 0)
		return SIGNET_ERR_INVALID_ARG;
	/* Refused outright: no rule may ever allow a non-action. */
	if (!action_valid(req->action)) {
		deny(dec, -1, POLICY_STAGE_ACTION,
		    "denied: action value %d is not START, STOP or RESTART%s",
		    (int)req->action,
		    req->action == ENVELOPE_ACTION_NONE ? " (NONE: no action)" :
		                                          "");
		return 0;
	}
	normalise(req, &q);
	if (record &&
	    (q.id[0] == '\0' || strlen(q.id) > POLICY_CONTAINER_ID_MAX)) {
		deny(dec, -1, POLICY_STAGE_NAME, "denied: bad container id");
		return SIGNET_ERR_INVALID_ARG;
	}
	best_why[0] = '\0';
	if (pthread_mutex_lock(&p->mu) != 0)
		return SIGNET_ERR_INTERNAL;
	for (i = 0; i < p->nrules; i++) {
		st = rule_eval(&p->rules[i], req, &q, why, sizeof(why), &score);
		if (st == POLICY_STAGE_ALLOWED && record &&
		    p->rules[i].rate_max > 0) {
			r = rate_record(&p->rules[i], q.id, req->now_ms);
			if (r != 0 && r != SIGNET_ERR_TOO_LARGE) {
				(void)pthread_mutex_unlock(&p->mu);
				deny(dec, (int)i, POLICY_STAGE_RATE,
				    "denied: cannot count the action for the "
				    "rate limit of rule %zu: %s",
				    i, err_str(r));
				return r;
			}
			if (r != 0) {
				st = POLICY_STAGE_RATE;
				score = SCORE_MATCHED + POLICY_STAGE_RATE;
				(void)snprintf(why, sizeof(why),
				    "rate limit: "
				    "too many containers tracked (%d)",
				    POLICY_RATE_KEYS_MAX);
			}
		}
		if (st == POLICY_STAGE_ALLOWED) {
			(void)pthread_mutex_unlock(&p->mu);
			dec->allow = true;
			dec->rule = (int)i;
			dec->stage = POLICY_STAGE_ALLOWED;
			(void)snprintf(dec->text, sizeof(dec->text),
			    "allowed by rule %zu", i);
			return 0;
		}
		if (score > best_score) {
			best_score = score;
			best = st;
			best_rule = (int)i;
			memcpy(best_why, why, sizeof(best_why));
		}
	}
	(void)pthread_mutex_unlock(&p->mu);
	if (best == POLICY_STAGE_ACTION)
		deny(dec, best_rule, best,
		    "no rule lists this action for "
		    "this container: %s (nearest rule %d)",
		    policy_action_name(req->action), best_rule);
	else
		deny(dec, best_rule, best, "%s (nearest rule %d)", best_why,
		    best_rule);
	return 0;
}

int
policy_decide(struct policy *p, const struct policy_request *req,
    struct policy_decision *dec)
{
	return decide(p, req, dec, true);
}

int
policy_evaluate(struct policy *p, const struct policy_request *req,
    struct policy_decision *dec)
{
	return decide(p, req, dec, false);
}

enum policy_stage
policy_rule_check(struct policy *p, size_t i, const struct policy_request *req,
    char *why, size_t whylen)
{
	char tmp[ERR_MSG_MAX];
	enum policy_stage st;
	struct req_norm q;
	int score = 0;

	if (whylen > 0)
		why[0] = '\0';
	if (p == NULL || req == NULL || i >= p->nrules || whylen == 0)
		return POLICY_STAGE_NAME;
	normalise(req, &q);
	if (pthread_mutex_lock(&p->mu) != 0)
		return POLICY_STAGE_NAME;
	st = rule_eval(&p->rules[i], req, &q, tmp, sizeof(tmp), &score);
	(void)pthread_mutex_unlock(&p->mu);
	(void)snprintf(why, whylen, "%s",
	    st == POLICY_STAGE_ALLOWED ? "allows" : tmp);
	return st;
}

void
policy_carry_rate_state(struct policy *to, struct policy *from)
{
	bool *taken = NULL;
	size_t i, j;

	if (to == NULL || from == NULL || to == from)
		return;
	taken = calloc(from->nrules, sizeof(*taken));
	if (taken == NULL)
		return; /* windows start empty; not worth failing a reload */
	(void)pthread_mutex_lock(&from->mu);
	(void)pthread_mutex_lock(&to->mu);
	for (i = 0; i < to->nrules; i++) {
		struct rule *t = &to->rules[i];

		for (j = 0; j < from->nrules; j++) {
			struct rule *f = &from->rules[j];
			if (taken[j] || f->rate.n == 0 ||
			    strcmp(f->match_text, t->match_text) != 0)
				continue;
			taken[j] = true;
			policy_rate_table_clear(&t->rate);
			t->rate = f->rate;
			memset(&f->rate, 0, sizeof(f->rate));
			/* A lower new max must not overflow the bucket. */
			for (size_t k = 0; k < t->rate.n; k++) {
				struct rate_bucket *b = &t->rate.b[k];
				if (t->rate_max > 0 &&
				    b->n > (size_t)t->rate_max) {
					memmove(b->ts,
					    b->ts +
					        (b->n - (size_t)t->rate_max),
					    (size_t)t->rate_max *
					        sizeof(*b->ts));
					b->n = (size_t)t->rate_max;
				}
			}
			break;
		}
	}
	(void)pthread_mutex_unlock(&to->mu);
	(void)pthread_mutex_unlock(&from->mu);
	free(taken);
}
