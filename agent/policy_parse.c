/* SPDX-License-Identifier: ISC */
/*
 * Strict parsing of the host owner's policy file (docs/policy.md) into an
 * immutable rule set: every key known, every type and range checked,
 * every refusal naming its JSON path. The file is the host owner's last
 * word against a compromised server, so anything ambiguous in it is
 * refused rather than guessed at.
 */
#include "policy_int.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "text.h"

/* "label: out of memory" as SIGNET_ERR_ALLOC; returns that. */
static int
nomem(struct pctx *c)
{
	return err_set(c->msg, SIGNET_ERR_ALLOC, "%s: out of memory", c->label);
}

static const char *
type_name(const cJSON *n)
{
	if (cJSON_IsObject(n))
		return "an object";
	if (cJSON_IsArray(n))
		return "an array";
	if (cJSON_IsString(n))
		return "a string";
	if (cJSON_IsNumber(n))
		return "a number";
	if (cJSON_IsBool(n))
		return "a boolean";
	if (cJSON_IsNull(n))
		return "null";
	return "an invalid value";
}

/* Refuses keys of obj not in allowed (NULL-terminated); hint lists them. */
static int
check_keys(struct pctx *c, const cJSON *obj, const char *path,
    const char *const *allowed, const char *hint)
{
	const cJSON *ch;
	char esc[ESC_BUF];
	size_t i;

	for (ch = obj->child; ch != NULL; ch = ch->next) {
		bool ok = false;
		for (i = 0; allowed[i] != NULL; i++) {
			if (strcmp(ch->string, allowed[i]) == 0)
				ok = true;
		}
		if (!ok)
			return policy_fail(c, path, hint, "unknown key \"%s\"",
			    text_escape_str(ch->string, esc, sizeof(esc)));
	}
	return 0;
}

static int
want_type(struct pctx *c, const cJSON *n, const char *path, bool ok,
    const char *want)
{
	if (ok)
		return 0;
	return policy_fail(c, path, NULL, "expected %s, found %s", want,
	    type_name(n));
}

/* obj is an object (want says so in a refusal) holding only allowed keys. */
static int
want_object(struct pctx *c, const cJSON *obj, const char *path,
    const char *want, const char *const *allowed, const char *hint)
{
	int r;

	r = want_type(c, obj, path, cJSON_IsObject(obj), want);
	if (r == 0)
		r = check_keys(c, obj, path, allowed, hint);
	return r;
}

/* A string of 1..max bytes (0..max when allow_empty) duplicated to *out. */
static int
get_string(struct pctx *c, const cJSON *n, const char *path, size_t max,
    bool allow_empty, char **out)
{
	size_t l;
	int r;

	r = want_type(c, n, path, cJSON_IsString(n), "a string");
	if (r != 0)
		return r;
	l = strlen(n->valuestring);
	if (l == 0 && !allow_empty)
		return policy_fail(c, path, NULL, "empty string");
	if (l > max)
		return policy_fail(c, path, NULL,
		    "string of %zu bytes, more than "
		    "the %zu allowed",
		    l, max);
	if (out == NULL)
		return 0;
	*out = strdup(n->valuestring);
	if (*out == NULL)
		return nomem(c);
	return 0;
}

static int
get_int(struct pctx *c, const cJSON *n, const char *path, long min, long max,
    long *out)
{
	double v;
	int r;

	r = want_type(c, n, path, cJSON_IsNumber(n), "an integer");
	if (r != 0)
		return r;
	v = n->valuedouble;
	/* The prescan refused fractions; this catches what strtod rounded. */
	if (!(v >= (double)min && v <= (double)max))
		return policy_fail(c, path, NULL,
		    "value %.0f out of range %ld..%ld", v, min, max);
	if (v != floor(v))
		return policy_fail(c, path, NULL,
		    "value is not a whole number");
	*out = (long)v;
	return 0;
}

static int
get_glob(struct pctx *c, const cJSON *n, const char *path, char **out)
{
	const char *why = NULL;
	char esc[ESC_BUF];
	int r;

	r = want_type(c, n, path, cJSON_IsString(n), "a string (a glob)");
	if (r != 0)
		return r;
	if (n->valuestring[0] == '\0')
		return policy_fail(c, path, "use \"*\" to match anything",
		    "empty string");
	if (!policy_glob_valid(n->valuestring, &why))
		return policy_fail(c, path, NULL, "bad glob \"%s\": %s",
		    text_escape_str(n->valuestring, esc, sizeof(esc)), why);
	return get_string(c, n, path, POLICY_GLOB_MAX, false, out);
}

/*
 * A name glob is matched against the name without dockerd's leading '/'
 * (docs/policy.md), so one that starts with '/' can never match: refused,
 * with the glob to write instead, rather than left to deny in silence.
 */
static int
name_glob_anchored(struct pctx *c, const cJSON *n, const char *path)
{
	char esc[ESC_BUF], hint[ESC_BUF + 16];

	if (!cJSON_IsString(n) || n->valuestring[0] != '/')
		return 0;
	(void)snprintf(hint, sizeof(hint), "write \"%s\"",
	    text_escape_str(n->valuestring + 1, esc, sizeof(esc)));
	return policy_fail(c, path, hint,
	    "name glob \"%s\" can never match: names are matched without "
	    "dockerd's leading '/'",
	    text_escape_str(n->valuestring, esc, sizeof(esc)));
}

/*
 * Finds obj.key and writes its path into sub. When absent, *out is NULL:
 * 0, or SIGNET_ERR_POLICY when the key is required.
 */
static int
member(struct pctx *c, const cJSON *obj, const char *path, const char *key,
    bool required, char *sub, size_t sublen, const cJSON **out)
{
	*out = cJSON_GetObjectItemCaseSensitive(obj, key);
	if (*out == NULL && required)
		return policy_fail(c, path, NULL, "missing required key \"%s\"",
		    key);
	policy_path_key(sub, sublen, path, key, strlen(key));
	return 0;
}

/*
 * Counts the members of the array or object n at path into *count: 1 to
 * max, else "empty what" (with hint) or "N what, more than the max".
 */
static int
count_members(struct pctx *c, const cJSON *n, const char *path,
    const char *what, const char *hint, size_t max, size_t *count)
{
	*count = (size_t)cJSON_GetArraySize(n);
	if (*count == 0)
		return policy_fail(c, path, hint, "empty %s", what);
	if (*count > max)
		return policy_fail(c, path, NULL,
		    "%zu %s, more than the %zu allowed", *count, what, max);
	return 0;
}

static int
parse_match(struct pctx *c, const cJSON *m, const char *path, struct rule *ru)
{
	static const char *const keys[] = { "name", "image", "labels", NULL };
	const cJSON *n, *lab;
	char sub[PATH_BUF], lpath[PATH_BUF];
	size_t count;
	int r;

	r = want_object(c, m, path, "an object", keys,
	    "allowed: name, image, labels");
	if (r != 0)
		return r;
	if (m->child == NULL)
		return policy_fail(c, path,
		    "use \"name\": \"*\" to match every "
		    "container",
		    "empty match");
	r = member(c, m, path, "name", false, sub, sizeof(sub), &n);
	if (r == 0 && n != NULL)
		r = name_glob_anchored(c, n, sub);
	if (r == 0 && n != NULL)
		r = get_glob(c, n, sub, &ru->name);
	if (r != 0)
		return r;
	r = member(c, m, path, "image", false, sub, sizeof(sub), &n);
	if (r == 0 && n != NULL)
		r = get_glob(c, n, sub, &ru->image);
	if (r != 0)
		return r;
	r = member(c, m, path, "labels", false, sub, sizeof(sub), &n);
	if (r != 0 || n == NULL)
		return r;
	r = want_type(c, n, sub, cJSON_IsObject(n), "an object");
	if (r != 0)
		return r;
	r = count_members(c, n, sub, "labels", "leave \"labels\" out instead",
	    POLICY_LABELS_MAX, &count);
	if (r != 0)
		return r;
	ru->labels = calloc(count, sizeof(*ru->labels));
	if (ru->labels == NULL)
		return nomem(c);
	for (lab = n->child; lab != NULL; lab = lab->next) {
		struct rule_label *l = &ru->labels[ru->nlabels];
		size_t kl = strlen(lab->string);

		policy_path_key(lpath, sizeof(lpath), sub, lab->string, kl);
		if (kl == 0)
			return policy_fail(c, sub, NULL, "empty label key");
		if (kl > POLICY_LABEL_KEY_MAX)
			return policy_fail(c, lpath, NULL,
			    "label key longer than "
			    "%d bytes",
			    POLICY_LABEL_KEY_MAX);
		r = get_string(c, lab, lpath, POLICY_LABEL_VALUE_MAX, true,
		    &l->value);
		if (r != 0)
			return r;
		l->key = strdup(lab->string);
		if (l->key == NULL)
			return nomem(c);
		ru->nlabels++;
	}
	return 0;
}

static int
parse_actions(struct pctx *c, const cJSON *a, const char *path, struct rule *ru)
{
	const cJSON *e;
	char sub[PATH_BUF], esc[ESC_BUF];
	enum envelope_action act;
	long i = 0;
	int r;

	r = want_type(c, a, path, cJSON_IsArray(a), "an array");
	if (r != 0)
		return r;
	if (a->child == NULL)
		return policy_fail(c, path, "list START, STOP and/or RESTART",
		    "empty actions");
	for (e = a->child; e != NULL; e = e->next, i++) {
		policy_path_index(sub, sizeof(sub), path, i);
		r = want_type(c, e, sub, cJSON_IsString(e), "a string");
		if (r != 0)
			return r;
		if (policy_action_parse(e->valuestring, &act) != 0)
			return policy_fail(c, sub, "use START, STOP or RESTART",
			    "unknown action \"%s\"",
			    text_escape_str(e->valuestring, esc, sizeof(esc)));
		if (ru->actions & (1u << act))
			return policy_fail(c, sub, NULL,
			    "duplicate action \"%s\"", policy_action_name(act));
		ru->actions |= 1u << act;
	}
	return 0;
}

static int
parse_operators(struct pctx *c, const cJSON *a, const char *path,
    struct rule *ru)
{
	const cJSON *e;
	char sub[PATH_BUF], esc[ESC_BUF];
	size_t count, k;
	long i = 0;
	int r;

	r = want_type(c, a, path, cJSON_IsArray(a), "an array");
	if (r != 0)
		return r;
	r = count_members(c, a, path, "operators",
	    "leave \"operators\" out to allow any operator",
	    POLICY_OPERATORS_MAX, &count);
	if (r != 0)
		return r;
	ru->operators = calloc(count, sizeof(*ru->operators));
	if (ru->operators == NULL)
		return nomem(c);
	ru->has_operators = true;
	for (e = a->child; e != NULL; e = e->next, i++) {
		policy_path_index(sub, sizeof(sub), path, i);
		r = want_type(c, e, sub, cJSON_IsString(e), "a string");
		if (r != 0)
			return r;
		if (!text_valid_name(e->valuestring))
			return policy_fail(c, sub,
			    "names match "
			    "[a-z0-9][a-z0-9._-]{0,62}",
			    "bad operator name \"%s\"",
			    text_escape_str(e->valuestring, esc, sizeof(esc)));
		for (k = 0; k < ru->noperators; k++) {
			if (strcmp(ru->operators[k], e->valuestring) == 0)
				return policy_fail(c, sub, NULL,
				    "duplicate operator \"%s\"",
				    e->valuestring);
		}
		ru->operators[ru->noperators] = strdup(e->valuestring);
		if (ru->operators[ru->noperators] == NULL)
			return nomem(c);
		ru->noperators++;
	}
	return 0;
}

static int
parse_rate(struct pctx *c, const cJSON *o, const char *path, struct rule *ru)
{
	static const char *const keys[] = { "max", "per_seconds", NULL };
	const cJSON *n;
	char sub[PATH_BUF];
	int r;

	r = want_object(c, o, path, "an object", keys,
	    "allowed: max, per_seconds");
	if (r != 0)
		return r;
	r = member(c, o, path, "max", true, sub, sizeof(sub), &n);
	if (r == 0)
		r = get_int(c, n, sub, 1, POLICY_RATE_MAX_MAX, &ru->rate_max);
	if (r != 0)
		return r;
	r = member(c, o, path, "per_seconds", true, sub, sizeof(sub), &n);
	if (r == 0)
		r = get_int(c, n, sub, 1, POLICY_RATE_WINDOW_MAX,
		    &ru->rate_per);
	return r;
}

static int
get_bool(struct pctx *c, const cJSON *n, const char *path, bool *out)
{
	int r;

	r = want_type(c, n, path, cJSON_IsBool(n), "true or false");
	if (r == 0)
		*out = cJSON_IsTrue(n);
	return r;
}

/* One approval term {"group": NAME, "count": 1..16}, no group twice. */
static int
parse_term(struct pctx *c, const cJSON *o, const char *path, struct rule *ru)
{
	static const char *const keys[] = { "group", "count", NULL };
	struct rule_term *t = &ru->terms[ru->nterms];
	const cJSON *n;
	char sub[PATH_BUF], esc[ESC_BUF];
	size_t k;
	long count = 0;
	int r;

	r = want_object(c, o, path, "an object (an approval term)", keys,
	    "allowed: group, count");
	if (r != 0)
		return r;
	r = member(c, o, path, "group", true, sub, sizeof(sub), &n);
	if (r == 0)
		r = get_string(c, n, sub, sizeof(t->group) - 1, false, NULL);
	if (r != 0)
		return r;
	if (!text_valid_name(n->valuestring))
		return policy_fail(c, sub,
		    "groups match [a-z0-9][a-z0-9._-]{0,62}",
		    "bad group name \"%s\"",
		    text_escape_str(n->valuestring, esc, sizeof(esc)));
	for (k = 0; k < ru->nterms; k++) {
		if (strcmp(ru->terms[k].group, n->valuestring) == 0)
			return policy_fail(c, sub,
			    "raise the count of the first term instead",
			    "group \"%s\" given twice", n->valuestring);
	}
	(void)snprintf(t->group, sizeof(t->group), "%s", n->valuestring);
	r = member(c, o, path, "count", true, sub, sizeof(sub), &n);
	if (r == 0)
		r = get_int(c, n, sub, 1, POLICY_TERM_COUNT_MAX, &count);
	if (r != 0)
		return r;
	t->count = (unsigned)count;
	ru->nterms++;
	return 0;
}

static int
parse_approvals(struct pctx *c, const cJSON *a, const char *path,
    struct rule *ru)
{
	const cJSON *e;
	char sub[PATH_BUF];
	size_t count;
	long i = 0;
	int r;

	r = want_type(c, a, path, cJSON_IsArray(a), "an array");
	if (r != 0)
		return r;
	r = count_members(c, a, path, "approvals",
	    "leave \"approvals\" out when none are needed", POLICY_TERMS_MAX,
	    &count);
	if (r != 0)
		return r;
	for (e = a->child; e != NULL; e = e->next, i++) {
		policy_path_index(sub, sizeof(sub), path, i);
		r = parse_term(c, e, sub, ru);
		if (r != 0)
			return r;
	}
	return 0;
}

/*
 * accept_relay_signed, approvals and approval_wait: read together, as
 * they constrain each other.
 */
static int
parse_signing(struct pctx *c, const cJSON *o, const char *path, struct rule *ru)
{
	const cJSON *relay, *appr, *wait;
	char rpath[PATH_BUF], apath[PATH_BUF], wpath[PATH_BUF];
	int r;

	r = member(c, o, path, "accept_relay_signed", false, rpath,
	    sizeof(rpath), &relay);
	if (r == 0 && relay != NULL)
		r = get_bool(c, relay, rpath, &ru->accept_relay);
	if (r != 0)
		return r;
	r = member(c, o, path, "approvals", false, apath, sizeof(apath), &appr);
	if (r == 0 && appr != NULL)
		r = parse_approvals(c, appr, apath, ru);
	if (r != 0)
		return r;
	r = member(c, o, path, "approval_wait", false, wpath, sizeof(wpath),
	    &wait);
	if (r != 0)
		return r;
	if (wait != NULL && appr == NULL)
		return policy_fail(c, wpath,
		    "give \"approvals\" or leave \"approval_wait\" out",
		    "approval_wait without approvals");
	if (wait != NULL)
		r = get_int(c, wait, wpath, POLICY_WAIT_MIN, POLICY_WAIT_MAX,
		    &ru->wait_s);
	else if (appr != NULL)
		ru->wait_s = POLICY_WAIT_DEFAULT;
	if (r != 0)
		return r;
	if (appr != NULL && ru->accept_relay)
		return policy_fail(c, rpath,
		    "approvals are signatures over the operator's request; "
		    "drop \"accept_relay_signed\"",
		    "approvals need an operator-signed request");
	return 0;
}

static int
parse_rule(struct pctx *c, const cJSON *o, const char *path, struct rule *ru)
{
	static const char *const keys[] = { "match", "actions", "operators",
		"min_reason_length", "rate_limit", "accept_relay_signed",
		"approvals", "approval_wait", "comment", NULL };
	const cJSON *n;
	char sub[PATH_BUF];
	int r;

	r = want_object(c, o, path, "an object (a rule)", keys,
	    "allowed: match, actions, operators, "
	    "min_reason_length, rate_limit, accept_relay_signed, approvals, "
	    "approval_wait, comment");
	if (r != 0)
		return r;
	r = member(c, o, path, "match", true, sub, sizeof(sub), &n);
	if (r == 0)
		r = parse_match(c, n, sub, ru);
	if (r != 0)
		return r;
	ru->match_text = cJSON_PrintUnformatted(n);
	if (ru->match_text == NULL)
		return nomem(c);
	r = member(c, o, path, "actions", true, sub, sizeof(sub), &n);
	if (r == 0)
		r = parse_actions(c, n, sub, ru);
	if (r != 0)
		return r;
	r = member(c, o, path, "operators", false, sub, sizeof(sub), &n);
	if (r == 0 && n != NULL)
		r = parse_operators(c, n, sub, ru);
	if (r != 0)
		return r;
	r = member(c, o, path, "min_reason_length", false, sub, sizeof(sub),
	    &n);
	if (r == 0 && n != NULL)
		r = get_int(c, n, sub, 0, POLICY_REASON_MAX, &ru->min_reason);
	if (r == 0)
		r = parse_signing(c, o, path, ru);
	if (r != 0)
		return r;
	r = member(c, o, path, "rate_limit", false, sub, sizeof(sub), &n);
	if (r == 0 && n != NULL)
		r = parse_rate(c, n, sub, ru);
	if (r != 0)
		return r;
	r = member(c, o, path, "comment", false, sub, sizeof(sub), &n);
	if (r == 0 && n != NULL)
		r = get_string(c, n, sub, POLICY_COMMENT_MAX, true, NULL);
	return r;
}

static void
rule_clear(struct rule *ru)
{
	size_t i;

	free(ru->name);
	free(ru->image);
	for (i = 0; i < ru->nlabels; i++) {
		free(ru->labels[i].key);
		free(ru->labels[i].value);
	}
	free(ru->labels);
	for (i = 0; i < ru->noperators; i++)
		free(ru->operators[i]);
	free(ru->operators);
	if (ru->match_text != NULL)
		cJSON_free(ru->match_text);
	policy_rate_table_clear(&ru->rate);
}

void
policy_free(struct policy *p)
{
	size_t i;

	if (p == NULL)
		return;
	for (i = 0; i < p->nrules; i++)
		rule_clear(&p->rules[i]);
	free(p->rules);
	free(p->host_id);
	free(p->source);
	(void)pthread_mutex_destroy(&p->mu);
	free(p);
}

static int
parse_top(struct pctx *c, const cJSON *root, const char *host_id,
    struct policy *p)
{
	static const char *const keys[] = { "host_id", "rules", "comment",
		NULL };
	const cJSON *n, *e;
	char sub[PATH_BUF], esc[ESC_BUF], esc2[ESC_BUF];
	size_t count;
	long i = 0;
	int r;

	r = want_object(c, root, "", "an object", keys,
	    "allowed: host_id, rules, comment");
	if (r != 0)
		return r;
	n = cJSON_GetObjectItemCaseSensitive(root, "host_id");
	if (n == NULL)
		return policy_fail(c, "", NULL,
		    "missing required key \"host_id\"");
	r = get_string(c, n, "host_id", 64, false, &p->host_id);
	if (r != 0)
		return r;
	if (!text_valid_name(p->host_id))
		return policy_fail(c, "host_id",
		    "host ids match "
		    "[a-z0-9][a-z0-9._-]{0,62}",
		    "bad host id \"%s\"",
		    text_escape_str(p->host_id, esc, sizeof(esc)));
	if (host_id != NULL && strcmp(host_id, p->host_id) != 0)
		return policy_fail(c, "host_id",
		    "this file was written for "
		    "another host",
		    "host_id \"%s\" is not this agent's "
		    "host id \"%s\"",
		    text_escape_str(p->host_id, esc, sizeof(esc)),
		    text_escape_str(host_id, esc2, sizeof(esc2)));
	n = cJSON_GetObjectItemCaseSensitive(root, "comment");
	if (n != NULL) {
		r = get_string(c, n, "comment", POLICY_COMMENT_MAX, true, NULL);
		if (r != 0)
			return r;
	}
	n = cJSON_GetObjectItemCaseSensitive(root, "rules");
	if (n == NULL)
		return policy_fail(c, "", NULL,
		    "missing required key \"rules\"");
	r = want_type(c, n, "rules", cJSON_IsArray(n), "an array");
	if (r != 0)
		return r;
	r = count_members(c, n, "rules", "rules",
	    "a policy needs at least one rule "
	    "(with none, everything is denied anyway)",
	    POLICY_RULES_MAX, &count);
	if (r != 0)
		return r;
	p->rules = calloc(count, sizeof(*p->rules));
	if (p->rules == NULL)
		return nomem(c);
	for (e = n->child; e != NULL; e = e->next, i++) {
		policy_path_index(sub, sizeof(sub), "rules", i);
		/* Count first so that policy_free clears a half-built rule. */
		p->nrules++;
		r = parse_rule(c, e, sub, &p->rules[i]);
		if (r != 0)
			return r;
	}
	return 0;
}

int
policy_parse(const char *buf, size_t len, const char *label,
    const char *host_id, struct policy **out, struct err_msg *msg)
{
	struct pctx c = { label != NULL ? label : "policy", msg };
	struct policy *p = NULL;
	cJSON *root = NULL;
	const char *end = NULL;
	size_t line, col, k;
	int r;

	*out = NULL;
	err_clear(msg);
	if (len > POLICY_FILE_MAX) {
		r = err_set(msg, SIGNET_ERR_TOO_LARGE,
		    "%s: %zu bytes, more "
		    "than the %d allowed",
		    c.label, len, POLICY_FILE_MAX);
		goto out;
	}
	r = policy_prescan(&c, buf, len);
	if (r != 0)
		goto out;
	root = cJSON_ParseWithLengthOpts(buf, len, &end, 0);
	if (root == NULL) {
		size_t off = end != NULL && end >= buf && end <= buf + len ?
		    (size_t)(end - buf) :
		    0;
		policy_line_col(buf, off, &line, &col);
		r = err_set(msg, SIGNET_ERR_POLICY,
		    "%s: JSON syntax error "
		    "at line %zu, column %zu",
		    c.label, line, col);
		goto out;
	}
	for (k = (size_t)(end - buf); k < len; k++) {
		if (buf[k] != ' ' && buf[k] != '\t' && buf[k] != '\n' &&
		    buf[k] != '\r') {
			policy_line_col(buf, k, &line, &col);
			r = err_set(msg, SIGNET_ERR_POLICY,
			    "%s: trailing data "
			    "after the JSON document at line %zu, column %zu",
			    c.label, line, col);
			goto out;
		}
	}
	r = policy_walk(&c, root, "");
	if (r != 0)
		goto out;
	p = calloc(1, sizeof(*p));
	if (p == NULL) {
		r = err_set(msg, SIGNET_ERR_ALLOC, "%s: out of memory",
		    c.label);
		goto out;
	}
	if (pthread_mutex_init(&p->mu, NULL) != 0) {
		free(p);
		p = NULL;
		r = err_set(msg, SIGNET_ERR_INTERNAL, "%s: mutex init failed",
		    c.label);
		goto out;
	}
	r = parse_top(&c, root, host_id, p);
	if (r != 0)
		goto out;
	p->source = malloc(len + 1);
	if (p->source == NULL) {
		r = err_set(msg, SIGNET_ERR_ALLOC, "%s: out of memory",
		    c.label);
		goto out;
	}
	memcpy(p->source, buf, len);
	p->source[len] = '\0';
	p->source_len = len;
	*out = p;
	p = NULL;
	r = 0;
out:
	policy_free(p);
	cJSON_Delete(root);
	return r;
}
