/* SPDX-License-Identifier: ISC */
/*
 * Host policy engine: strict parsing of the policy file into an immutable
 * rule set, and default-deny decisions with a per-container rate limit.
 * The file is the host owner's last word against a compromised server, so
 * anything ambiguous in it is refused rather than guessed at.
 */
#include "policy.h"

#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "clock.h"
#include "text.h"

#define PATH_BUF 256 /* a JSON path in a message */
#define ESC_BUF 160  /* an escaped value in a message */
/* Above any count of held conditions (name, image, labels). */
#define SCORE_MATCHED (POLICY_LABELS_MAX + 10)

struct rate_bucket {
	char id[POLICY_CONTAINER_ID_MAX + 1];
	int64_t *ts; /* times of allowed actions, not necessarily sorted */
	size_t n, cap;
};

struct rate_table {
	struct rate_bucket *b;
	size_t n, cap;
};

struct rule_label {
	char *key;
	char *value;
};

struct rule {
	char *name;  /* glob, NULL when not given */
	char *image; /* glob, NULL when not given */
	struct rule_label *labels;
	size_t nlabels;
	unsigned actions; /* bit (1 << a) for each allowed action a */
	char **operators;
	size_t noperators;
	bool has_operators;
	long min_reason;
	long rate_max;    /* 0: no rate limit */
	long rate_per;    /* seconds */
	char *match_text; /* compact `match`, pairs windows across reloads */
	struct rate_table rate;
};

struct policy {
	char *host_id;
	struct rule *rules;
	size_t nrules;
	pthread_mutex_t mu; /* guards every rule's rate table */
};

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

long
policy_utf8_chars(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0;
	long n = 0;

	while (i < len) {
		unsigned char c = p[i];
		size_t need, k;
		uint32_t cp, min;

		if (c < 0x80) {
			i++;
			n++;
			continue;
		} else if ((c & 0xe0) == 0xc0) {
			need = 1;
			cp = c & 0x1f;
			min = 0x80;
		} else if ((c & 0xf0) == 0xe0) {
			need = 2;
			cp = c & 0x0f;
			min = 0x800;
		} else if ((c & 0xf8) == 0xf0) {
			need = 3;
			cp = c & 0x07;
			min = 0x10000;
		} else {
			return -1;
		}
		if (need > len - i - 1)
			return -1;
		for (k = 1; k <= need; k++) {
			if ((p[i + k] & 0xc0) != 0x80)
				return -1;
			cp = (cp << 6) | (p[i + k] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return -1;
		i += need + 1;
		n++;
		if (n == LONG_MAX)
			return -1;
	}
	return n;
}

/* Checks "[:name:]" at g (g[0] == '[', g[1] == ':'); *adv = its length. */
static bool
glob_class(const char *g, size_t *adv)
{
	static const char *const classes[] = {"alnum", "alpha", "blank",
	    "cntrl", "digit", "graph", "lower", "print", "punct", "space",
	    "upper", "xdigit"};
	const char *end = strstr(g + 2, ":]");
	size_t i, n;

	if (end == NULL)
		return false;
	n = (size_t)(end - (g + 2));
	for (i = 0; i < sizeof(classes) / sizeof(classes[0]); i++) {
		if (strlen(classes[i]) == n &&
		    strncmp(g + 2, classes[i], n) == 0) {
			*adv = n + 4;
			return true;
		}
	}
	return false;
}

/* Reads one bracket member char at g[*j] (maybe escaped) into *c. */
static bool
glob_bracket_char(const char *g, size_t *j, unsigned char *c)
{
	if (g[*j] == '\\') {
		if (g[*j + 1] == '\0')
			return false;
		*c = (unsigned char)g[*j + 1];
		*j += 2;
		return true;
	}
	*c = (unsigned char)g[*j];
	*j += 1;
	return true;
}

bool
policy_glob_valid(const char *g, const char **why)
{
	const char *dummy;
	size_t i, len;

	if (why == NULL)
		why = &dummy;
	*why = NULL;
	if (g == NULL || g[0] == '\0') {
		*why = "empty glob";
		return false;
	}
	len = strlen(g);
	if (len > POLICY_GLOB_MAX) {
		*why = "longer than 256 bytes";
		return false;
	}
	for (i = 0; i < len; i++) {
		if ((unsigned char)g[i] < 0x20 || (unsigned char)g[i] > 0x7e) {
			*why = "only printable ASCII is allowed in a glob";
			return false;
		}
	}
	for (i = 0; i < len; i++) {
		size_t j;
		bool first;

		if (g[i] == '\\') {
			if (g[i + 1] == '\0') {
				*why = "trailing backslash";
				return false;
			}
			i++;
			continue;
		}
		if (g[i] != '[')
			continue;
		j = i + 1;
		if (g[j] == '!' || g[j] == '^')
			j++;
		first = true;
		for (;;) {
			unsigned char lo, hi;

			if (g[j] == '\0') {
				*why = "unbalanced '[' (write \\[ for a "
				       "literal bracket)";
				return false;
			}
			if (g[j] == ']' && !first)
				break;
			first = false;
			if (g[j] == '[' && g[j + 1] == ':') {
				size_t adv = 0;
				if (!glob_class(g + j, &adv)) {
					*why = "unknown or unterminated "
					       "[:class:]";
					return false;
				}
				j += adv;
				continue;
			}
			if (g[j] == '[' &&
			    (g[j + 1] == '=' || g[j + 1] == '.')) {
				*why = "[= =] and [. .] are not supported";
				return false;
			}
			if (!glob_bracket_char(g, &j, &lo)) {
				*why = "trailing backslash";
				return false;
			}
			if (g[j] != '-' || g[j + 1] == ']' || g[j + 1] == '\0')
				continue;
			j++;
			if (g[j] == '[' &&
			    (g[j + 1] == ':' || g[j + 1] == '=' ||
			        g[j + 1] == '.')) {
				*why = "a range cannot end in a class";
				return false;
			}
			if (!glob_bracket_char(g, &j, &hi)) {
				*why = "trailing backslash";
				return false;
			}
			if (hi < lo) {
				*why = "reversed range";
				return false;
			}
		}
		i = j;
	}
	return true;
}

/* ---- parsing ---- */

struct pctx {
	const char *label;
	struct err_msg *msg;
};

static int pfail(struct pctx *c, const char *path, const char *hint,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* "label: what at path[; hint]" as SIGNET_ERR_POLICY. */
static int
pfail(struct pctx *c, const char *path, const char *hint, const char *fmt, ...)
{
	char what[ERR_MSG_MAX];
	va_list ap;

	va_start(ap, fmt);
	(void)vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	return err_set(c->msg, SIGNET_ERR_POLICY, "%s: %s at %s%s%s", c->label,
	    what, path[0] != '\0' ? path : "top level",
	    hint != NULL ? "; " : "", hint != NULL ? hint : "");
}

static void bounded(char *out, size_t outlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* snprintf that marks a truncated result with "..." at its end. */
static void
bounded(char *out, size_t outlen, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (outlen == 0)
		return;
	va_start(ap, fmt);
	n = vsnprintf(out, outlen, fmt, ap);
	va_end(ap);
	if (n < 0)
		out[0] = '\0';
	else if ((size_t)n >= outlen && outlen >= 4)
		memcpy(out + outlen - 4, "...", 4);
}

static bool
key_is_plain(const char *k, size_t n)
{
	size_t i;

	if (n == 0 || n > 64)
		return false;
	for (i = 0; i < n; i++) {
		char ch = k[i];
		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		        (ch >= '0' && ch <= '9') || ch == '_' || ch == '-'))
			return false;
	}
	return true;
}

/* out = parent.key, or parent["escaped key"] for unusual keys. */
static void
path_key(char *out, size_t outlen, const char *parent, const char *k, size_t n)
{
	char esc[ESC_BUF];

	if (key_is_plain(k, n)) {
		bounded(out, outlen, "%s%s%.*s", parent,
		    parent[0] != '\0' ? "." : "", (int)n, k);
		return;
	}
	bounded(out, outlen, "%s[\"%s\"]", parent,
	    text_escape(k, n, esc, sizeof(esc)));
}

static void
path_index(char *out, size_t outlen, const char *parent, long i)
{
	bounded(out, outlen, "%s[%ld]", parent, i);
}

/* Line and column (1-based) of offset off in buf. */
static void
line_col(const char *buf, size_t off, size_t *line, size_t *col)
{
	size_t i;

	*line = 1;
	*col = 1;
	for (i = 0; i < off; i++) {
		if (buf[i] == '\n') {
			(*line)++;
			*col = 1;
		} else {
			(*col)++;
		}
	}
}

struct scan_frame {
	bool is_array;
	bool expect_key;
	long index;
	const char *key;
	size_t keylen;
};

static void
scan_path(const struct scan_frame *f, size_t depth, char *out, size_t outlen)
{
	char tmp[PATH_BUF];
	size_t d;

	out[0] = '\0';
	for (d = 0; d < depth; d++) {
		bounded(tmp, sizeof(tmp), "%s", out);
		if (f[d].is_array)
			path_index(out, outlen, tmp, f[d].index);
		else if (f[d].key != NULL)
			path_key(out, outlen, tmp, f[d].key, f[d].keylen);
	}
}

/*
 * A lexical pass before cJSON sees the bytes, for what cJSON accepts but a
 * policy must not hold: nesting deeper than POLICY_DEPTH_MAX, NUL bytes,
 * raw control characters and \u0000 in strings (cJSON would cut the string
 * there), and numbers with a fraction or exponent (every number in a
 * policy is an integer; "1.5" and "5e0" are both refused). cJSON checks the
 * grammar afterwards.
 */
static int
prescan(struct pctx *c, const char *buf, size_t len)
{
	struct scan_frame f[POLICY_DEPTH_MAX];
	char path[PATH_BUF];
	size_t depth = 0, i, line, col, str_start = 0;
	bool in_str = false, str_is_key = false;

	for (i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)buf[i];

		if (ch == '\0') {
			line_col(buf, i, &line, &col);
			return err_set(c->msg, SIGNET_ERR_POLICY,
			    "%s: NUL byte at line %zu, column %zu", c->label,
			    line, col);
		}
		if (in_str) {
			if (ch < 0x20) {
				scan_path(f, depth, path, sizeof(path));
				line_col(buf, i, &line, &col);
				return pfail(c, path, NULL,
				    "control character "
				    "0x%02x in a string (line %zu, column %zu)",
				    ch, line, col);
			}
			if (ch == '\\' && i + 1 < len) {
				if (buf[i + 1] == 'u' && len - i >= 6 &&
				    memcmp(buf + i + 2, "0000", 4) == 0) {
					scan_path(f, depth, path, sizeof(path));
					return pfail(c, path, NULL,
					    "\\u0000 in a string");
				}
				i++;
				continue;
			}
			if (ch == '"') {
				in_str = false;
				if (str_is_key) {
					f[depth - 1].key = buf + str_start;
					f[depth - 1].keylen = i - str_start;
				}
			}
			continue;
		}
		switch (ch) {
		case '"':
			in_str = true;
			str_start = i + 1;
			str_is_key = depth > 0 && !f[depth - 1].is_array &&
			             f[depth - 1].expect_key;
			break;
		case '{':
		case '[':
			if (depth == POLICY_DEPTH_MAX) {
				scan_path(f, depth, path, sizeof(path));
				return pfail(c, path, NULL,
				    "nesting deeper "
				    "than %d levels",
				    POLICY_DEPTH_MAX);
			}
			f[depth].is_array = ch == '[';
			f[depth].expect_key = ch == '{';
			f[depth].index = 0;
			f[depth].key = NULL;
			f[depth].keylen = 0;
			depth++;
			break;
		case '}':
		case ']':
			if (depth > 0)
				depth--;
			break;
		case ':':
			if (depth > 0 && !f[depth - 1].is_array)
				f[depth - 1].expect_key = false;
			break;
		case ',':
			if (depth > 0 && f[depth - 1].is_array)
				f[depth - 1].index++;
			else if (depth > 0) {
				f[depth - 1].expect_key = true;
				f[depth - 1].key = NULL;
			}
			break;
		default:
			if (ch == '-' || (ch >= '0' && ch <= '9')) {
				size_t j = i;
				bool frac = false;
				char esc[ESC_BUF];

				while (j < len &&
				       (buf[j] == '-' || buf[j] == '+' ||
				           buf[j] == '.' || buf[j] == 'e' ||
				           buf[j] == 'E' ||
				           (buf[j] >= '0' && buf[j] <= '9'))) {
					if (buf[j] == '.' || buf[j] == 'e' ||
					    buf[j] == 'E')
						frac = true;
					j++;
				}
				if (frac) {
					scan_path(f, depth, path, sizeof(path));
					return pfail(c, path, NULL,
					    "number %s "
					    "is not a plain integer",
					    text_escape(buf + i, j - i, esc,
					        sizeof(esc)));
				}
				i = j - 1;
			}
			break;
		}
	}
	return 0;
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

/*
 * Generic pass over the whole tree: every key and string valid UTF-8, no
 * key twice in one object (cJSON keeps both and returns the first, so a
 * second "operators" could hide from a reviewer).
 */
static int
walk_generic(struct pctx *c, const cJSON *node, const char *path)
{
	const cJSON *ch, *prev;
	char sub[PATH_BUF], esc[ESC_BUF];
	long idx = 0;
	int r;

	if (cJSON_IsString(node) &&
	    policy_utf8_chars(node->valuestring, strlen(node->valuestring)) < 0)
		return pfail(c, path, NULL, "string is not valid UTF-8");
	if (!cJSON_IsObject(node) && !cJSON_IsArray(node))
		return 0;
	/* Bounds the quadratic duplicate check; no policy object is larger. */
	if (cJSON_IsObject(node) &&
	    cJSON_GetArraySize(node) > POLICY_OBJECT_KEYS_MAX)
		return pfail(c, path, NULL,
		    "object with %d keys, more than "
		    "the %d allowed",
		    cJSON_GetArraySize(node), POLICY_OBJECT_KEYS_MAX);
	for (ch = node->child; ch != NULL; ch = ch->next, idx++) {
		if (cJSON_IsObject(node)) {
			size_t kl = strlen(ch->string);
			if (policy_utf8_chars(ch->string, kl) < 0)
				return pfail(c, path, NULL,
				    "key \"%s\" is not "
				    "valid UTF-8",
				    text_escape(
				        ch->string, kl, esc, sizeof(esc)));
			for (prev = node->child; prev != ch;
			     prev = prev->next) {
				if (strcmp(prev->string, ch->string) == 0)
					return pfail(c, path, NULL,
					    "duplicate key \"%s\"",
					    text_escape(ch->string, kl, esc,
					        sizeof(esc)));
			}
			path_key(sub, sizeof(sub), path, ch->string, kl);
		} else {
			path_index(sub, sizeof(sub), path, idx);
		}
		r = walk_generic(c, ch, sub);
		if (r != 0)
			return r;
	}
	return 0;
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
			return pfail(c, path, hint, "unknown key \"%s\"",
			    text_escape_str(ch->string, esc, sizeof(esc)));
	}
	return 0;
}

static int
want_type(
    struct pctx *c, const cJSON *n, const char *path, bool ok, const char *want)
{
	if (ok)
		return 0;
	return pfail(
	    c, path, NULL, "expected %s, found %s", want, type_name(n));
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
		return pfail(c, path, NULL, "empty string");
	if (l > max)
		return pfail(c, path, NULL,
		    "string of %zu bytes, more than "
		    "the %zu allowed",
		    l, max);
	if (out == NULL)
		return 0;
	*out = strdup(n->valuestring);
	if (*out == NULL)
		return err_set(
		    c->msg, SIGNET_ERR_ALLOC, "%s: out of memory", c->label);
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
		return pfail(c, path, NULL, "value %.0f out of range %ld..%ld",
		    v, min, max);
	if (v != floor(v))
		return pfail(c, path, NULL, "value is not a whole number");
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
		return pfail(
		    c, path, "use \"*\" to match anything", "empty string");
	if (!policy_glob_valid(n->valuestring, &why))
		return pfail(c, path, NULL, "bad glob \"%s\": %s",
		    text_escape_str(n->valuestring, esc, sizeof(esc)), why);
	return get_string(c, n, path, POLICY_GLOB_MAX, false, out);
}

static int
parse_match(struct pctx *c, const cJSON *m, const char *path, struct rule *ru)
{
	static const char *const keys[] = {"name", "image", "labels", NULL};
	const cJSON *n, *lab;
	char sub[PATH_BUF], lpath[PATH_BUF];
	size_t count;
	int r;

	r = want_type(c, m, path, cJSON_IsObject(m), "an object");
	if (r != 0)
		return r;
	r = check_keys(c, m, path, keys, "allowed: name, image, labels");
	if (r != 0)
		return r;
	if (m->child == NULL)
		return pfail(c, path,
		    "use \"name\": \"*\" to match every "
		    "container",
		    "empty match");
	n = cJSON_GetObjectItemCaseSensitive(m, "name");
	if (n != NULL) {
		path_key(sub, sizeof(sub), path, "name", 4);
		r = get_glob(c, n, sub, &ru->name);
		if (r != 0)
			return r;
	}
	n = cJSON_GetObjectItemCaseSensitive(m, "image");
	if (n != NULL) {
		path_key(sub, sizeof(sub), path, "image", 5);
		r = get_glob(c, n, sub, &ru->image);
		if (r != 0)
			return r;
	}
	n = cJSON_GetObjectItemCaseSensitive(m, "labels");
	if (n == NULL)
		return 0;
	path_key(sub, sizeof(sub), path, "labels", 6);
	r = want_type(c, n, sub, cJSON_IsObject(n), "an object");
	if (r != 0)
		return r;
	count = (size_t)cJSON_GetArraySize(n);
	if (count == 0)
		return pfail(
		    c, sub, "leave \"labels\" out instead", "empty labels");
	if (count > POLICY_LABELS_MAX)
		return pfail(c, sub, NULL,
		    "%zu labels, more than the %d "
		    "allowed",
		    count, POLICY_LABELS_MAX);
	ru->labels = calloc(count, sizeof(*ru->labels));
	if (ru->labels == NULL)
		return err_set(
		    c->msg, SIGNET_ERR_ALLOC, "%s: out of memory", c->label);
	for (lab = n->child; lab != NULL; lab = lab->next) {
		struct rule_label *l = &ru->labels[ru->nlabels];
		size_t kl = strlen(lab->string);

		path_key(lpath, sizeof(lpath), sub, lab->string, kl);
		if (kl == 0)
			return pfail(c, sub, NULL, "empty label key");
		if (kl > POLICY_LABEL_KEY_MAX)
			return pfail(c, lpath, NULL,
			    "label key longer than "
			    "%d bytes",
			    POLICY_LABEL_KEY_MAX);
		r = get_string(
		    c, lab, lpath, POLICY_LABEL_VALUE_MAX, true, &l->value);
		if (r != 0)
			return r;
		l->key = strdup(lab->string);
		if (l->key == NULL)
			return err_set(c->msg, SIGNET_ERR_ALLOC,
			    "%s: out of memory", c->label);
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
		return pfail(c, path, "list START, STOP and/or RESTART",
		    "empty actions");
	for (e = a->child; e != NULL; e = e->next, i++) {
		path_index(sub, sizeof(sub), path, i);
		r = want_type(c, e, sub, cJSON_IsString(e), "a string");
		if (r != 0)
			return r;
		if (policy_action_parse(e->valuestring, &act) != 0)
			return pfail(c, sub, "use START, STOP or RESTART",
			    "unknown action \"%s\"",
			    text_escape_str(e->valuestring, esc, sizeof(esc)));
		if (ru->actions & (1u << act))
			return pfail(c, sub, NULL, "duplicate action \"%s\"",
			    policy_action_name(act));
		ru->actions |= 1u << act;
	}
	return 0;
}

static int
parse_operators(
    struct pctx *c, const cJSON *a, const char *path, struct rule *ru)
{
	const cJSON *e;
	char sub[PATH_BUF], esc[ESC_BUF];
	size_t count, k;
	long i = 0;
	int r;

	r = want_type(c, a, path, cJSON_IsArray(a), "an array");
	if (r != 0)
		return r;
	count = (size_t)cJSON_GetArraySize(a);
	if (count == 0)
		return pfail(c, path,
		    "leave \"operators\" out to allow any "
		    "operator",
		    "empty operators");
	if (count > POLICY_OPERATORS_MAX)
		return pfail(c, path, NULL,
		    "%zu operators, more than the %d "
		    "allowed",
		    count, POLICY_OPERATORS_MAX);
	ru->operators = calloc(count, sizeof(*ru->operators));
	if (ru->operators == NULL)
		return err_set(
		    c->msg, SIGNET_ERR_ALLOC, "%s: out of memory", c->label);
	ru->has_operators = true;
	for (e = a->child; e != NULL; e = e->next, i++) {
		path_index(sub, sizeof(sub), path, i);
		r = want_type(c, e, sub, cJSON_IsString(e), "a string");
		if (r != 0)
			return r;
		if (!text_valid_name(e->valuestring))
			return pfail(c, sub,
			    "names match "
			    "[a-z0-9][a-z0-9._-]{0,62}",
			    "bad operator name \"%s\"",
			    text_escape_str(e->valuestring, esc, sizeof(esc)));
		for (k = 0; k < ru->noperators; k++) {
			if (strcmp(ru->operators[k], e->valuestring) == 0)
				return pfail(c, sub, NULL,
				    "duplicate operator \"%s\"",
				    e->valuestring);
		}
		ru->operators[ru->noperators] = strdup(e->valuestring);
		if (ru->operators[ru->noperators] == NULL)
			return err_set(c->msg, SIGNET_ERR_ALLOC,
			    "%s: out of memory", c->label);
		ru->noperators++;
	}
	return 0;
}

static int
parse_rate(struct pctx *c, const cJSON *o, const char *path, struct rule *ru)
{
	static const char *const keys[] = {"max", "per_seconds", NULL};
	const cJSON *n;
	char sub[PATH_BUF];
	int r;

	r = want_type(c, o, path, cJSON_IsObject(o), "an object");
	if (r != 0)
		return r;
	r = check_keys(c, o, path, keys, "allowed: max, per_seconds");
	if (r != 0)
		return r;
	n = cJSON_GetObjectItemCaseSensitive(o, "max");
	if (n == NULL)
		return pfail(c, path, NULL, "missing required key \"max\"");
	path_key(sub, sizeof(sub), path, "max", 3);
	r = get_int(c, n, sub, 1, POLICY_RATE_MAX_MAX, &ru->rate_max);
	if (r != 0)
		return r;
	n = cJSON_GetObjectItemCaseSensitive(o, "per_seconds");
	if (n == NULL)
		return pfail(
		    c, path, NULL, "missing required key \"per_seconds\"");
	path_key(sub, sizeof(sub), path, "per_seconds", 11);
	return get_int(c, n, sub, 1, POLICY_RATE_WINDOW_MAX, &ru->rate_per);
}

static int
parse_rule(struct pctx *c, const cJSON *o, const char *path, struct rule *ru)
{
	static const char *const keys[] = {"match", "actions", "operators",
	    "min_reason_length", "rate_limit", "comment", NULL};
	const cJSON *n;
	char sub[PATH_BUF];
	int r;

	r = want_type(c, o, path, cJSON_IsObject(o), "an object (a rule)");
	if (r != 0)
		return r;
	r = check_keys(c, o, path, keys,
	    "allowed: match, actions, operators, "
	    "min_reason_length, rate_limit, comment");
	if (r != 0)
		return r;
	n = cJSON_GetObjectItemCaseSensitive(o, "match");
	if (n == NULL)
		return pfail(c, path, NULL, "missing required key \"match\"");
	path_key(sub, sizeof(sub), path, "match", 5);
	r = parse_match(c, n, sub, ru);
	if (r != 0)
		return r;
	ru->match_text = cJSON_PrintUnformatted(n);
	if (ru->match_text == NULL)
		return err_set(
		    c->msg, SIGNET_ERR_ALLOC, "%s: out of memory", c->label);
	n = cJSON_GetObjectItemCaseSensitive(o, "actions");
	if (n == NULL)
		return pfail(c, path, NULL, "missing required key \"actions\"");
	path_key(sub, sizeof(sub), path, "actions", 7);
	r = parse_actions(c, n, sub, ru);
	if (r != 0)
		return r;
	n = cJSON_GetObjectItemCaseSensitive(o, "operators");
	if (n != NULL) {
		path_key(sub, sizeof(sub), path, "operators", 9);
		r = parse_operators(c, n, sub, ru);
		if (r != 0)
			return r;
	}
	n = cJSON_GetObjectItemCaseSensitive(o, "min_reason_length");
	if (n != NULL) {
		path_key(sub, sizeof(sub), path, "min_reason_length", 17);
		r = get_int(c, n, sub, 0, POLICY_REASON_MAX, &ru->min_reason);
		if (r != 0)
			return r;
	}
	n = cJSON_GetObjectItemCaseSensitive(o, "rate_limit");
	if (n != NULL) {
		path_key(sub, sizeof(sub), path, "rate_limit", 10);
		r = parse_rate(c, n, sub, ru);
		if (r != 0)
			return r;
	}
	n = cJSON_GetObjectItemCaseSensitive(o, "comment");
	if (n != NULL) {
		path_key(sub, sizeof(sub), path, "comment", 7);
		r = get_string(c, n, sub, POLICY_COMMENT_MAX, true, NULL);
		if (r != 0)
			return r;
	}
	return 0;
}

static void
rate_table_clear(struct rate_table *t)
{
	size_t i;

	for (i = 0; i < t->n; i++)
		free(t->b[i].ts);
	free(t->b);
	t->b = NULL;
	t->n = t->cap = 0;
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
	rate_table_clear(&ru->rate);
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
	(void)pthread_mutex_destroy(&p->mu);
	free(p);
}

static int
parse_top(
    struct pctx *c, const cJSON *root, const char *host_id, struct policy *p)
{
	static const char *const keys[] = {"host_id", "rules", "comment", NULL};
	const cJSON *n, *e;
	char sub[PATH_BUF], esc[ESC_BUF], esc2[ESC_BUF];
	size_t count;
	long i = 0;
	int r;

	r = want_type(c, root, "", cJSON_IsObject(root), "an object");
	if (r != 0)
		return r;
	r = check_keys(c, root, "", keys, "allowed: host_id, rules, comment");
	if (r != 0)
		return r;
	n = cJSON_GetObjectItemCaseSensitive(root, "host_id");
	if (n == NULL)
		return pfail(c, "", NULL, "missing required key \"host_id\"");
	r = get_string(c, n, "host_id", 64, false, &p->host_id);
	if (r != 0)
		return r;
	if (!text_valid_name(p->host_id))
		return pfail(c, "host_id",
		    "host ids match "
		    "[a-z0-9][a-z0-9._-]{0,62}",
		    "bad host id \"%s\"",
		    text_escape_str(p->host_id, esc, sizeof(esc)));
	if (host_id != NULL && strcmp(host_id, p->host_id) != 0)
		return pfail(c, "host_id",
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
		return pfail(c, "", NULL, "missing required key \"rules\"");
	r = want_type(c, n, "rules", cJSON_IsArray(n), "an array");
	if (r != 0)
		return r;
	count = (size_t)cJSON_GetArraySize(n);
	if (count == 0)
		return pfail(c, "rules",
		    "a policy needs at least one rule "
		    "(with none, everything is denied anyway)",
		    "empty rules");
	if (count > POLICY_RULES_MAX)
		return pfail(c, "rules", NULL,
		    "%zu rules, more than the %d "
		    "allowed",
		    count, POLICY_RULES_MAX);
	p->rules = calloc(count, sizeof(*p->rules));
	if (p->rules == NULL)
		return err_set(
		    c->msg, SIGNET_ERR_ALLOC, "%s: out of memory", c->label);
	for (e = n->child; e != NULL; e = e->next, i++) {
		path_index(sub, sizeof(sub), "rules", i);
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
	struct pctx c = {label != NULL ? label : "policy", msg};
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
	r = prescan(&c, buf, len);
	if (r != 0)
		goto out;
	root = cJSON_ParseWithLengthOpts(buf, len, &end, 0);
	if (root == NULL) {
		size_t off = end != NULL && end >= buf && end <= buf + len
		                 ? (size_t)(end - buf)
		                 : 0;
		line_col(buf, off, &line, &col);
		r = err_set(msg, SIGNET_ERR_POLICY,
		    "%s: JSON syntax error "
		    "at line %zu, column %zu",
		    c.label, line, col);
		goto out;
	}
	for (k = (size_t)(end - buf); k < len; k++) {
		if (buf[k] != ' ' && buf[k] != '\t' && buf[k] != '\n' &&
		    buf[k] != '\r') {
			line_col(buf, k, &line, &col);
			r = err_set(msg, SIGNET_ERR_POLICY,
			    "%s: trailing data "
			    "after the JSON document at line %zu, column %zu",
			    c.label, line, col);
			goto out;
		}
	}
	r = walk_generic(&c, root, "");
	if (r != 0)
		goto out;
	p = calloc(1, sizeof(*p));
	if (p == NULL) {
		r = err_set(
		    msg, SIGNET_ERR_ALLOC, "%s: out of memory", c.label);
		goto out;
	}
	if (pthread_mutex_init(&p->mu, NULL) != 0) {
		free(p);
		p = NULL;
		r = err_set(
		    msg, SIGNET_ERR_INTERNAL, "%s: mutex init failed", c.label);
		goto out;
	}
	r = parse_top(&c, root, host_id, p);
	if (r != 0)
		goto out;
	*out = p;
	p = NULL;
	r = 0;
out:
	policy_free(p);
	cJSON_Delete(root);
	return r;
}

/* ---- loading from disk ---- */

/*
 * Refuses a policy whose directories let someone else swap it: every
 * directory up to / owned by root or us, and not writable by group or
 * others unless sticky (then they cannot rename or remove our file).
 */
static int
check_dirs(const char *path, struct err_msg *msg)
{
	char dir[PATH_MAX], *real = NULL, *slash;
	const char *d;
	struct stat st;
	size_t n;
	int r;

	slash = strrchr(path, '/');
	if (slash == NULL) {
		d = ".";
	} else if (slash == path) {
		d = "/";
	} else {
		n = (size_t)(slash - path);
		if (n >= sizeof(dir))
			return err_set(
			    msg, SIGNET_ERR_IO, "%s: path too long", path);
		memcpy(dir, path, n);
		dir[n] = '\0';
		d = dir;
	}
	real = realpath(d, NULL);
	if (real == NULL)
		return err_set(msg, SIGNET_ERR_IO,
		    "%s: cannot resolve its "
		    "directory: %s",
		    path, strerror(errno));
	for (;;) {
		if (stat(real, &st) != 0) {
			r = err_set(msg, SIGNET_ERR_IO,
			    "%s: cannot stat "
			    "directory %s: %s",
			    path, real, strerror(errno));
			goto out;
		}
		if (st.st_uid != 0 && st.st_uid != geteuid()) {
			r = err_set(msg, SIGNET_ERR_PERMISSIONS,
			    "%s: directory "
			    "%s is owned by uid %u, not root or this agent's "
			    "user (uid %u), who could replace the policy; "
			    "move the file or chown root %s",
			    path, real, (unsigned)st.st_uid,
			    (unsigned)geteuid(), real);
			goto out;
		}
		if ((st.st_mode & 022) != 0 && (st.st_mode & S_ISVTX) == 0) {
			r = err_set(msg, SIGNET_ERR_PERMISSIONS,
			    "%s: directory "
			    "%s is writable by group or others (mode %04o), "
			    "who could replace the policy; chmod go-w %s",
			    path, real, (unsigned)(st.st_mode & 07777), real);
			goto out;
		}
		if (strcmp(real, "/") == 0)
			break;
		slash = strrchr(real, '/');
		if (slash == real)
			slash[1] = '\0';
		else
			*slash = '\0';
	}
	r = 0;
out:
	free(real);
	return r;
}

int
policy_load(const char *path, const char *host_id, struct policy **out,
    struct err_msg *msg)
{
	struct stat st;
	char *buf = NULL;
	size_t off = 0;
	ssize_t n;
	int fd = -1, r, saved;

	*out = NULL;
	err_clear(msg);
	/* O_NONBLOCK: a FIFO put in the policy's place must not hang us. */
	fd = open(
	    path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	if (fd < 0) {
		saved = errno;
		if (saved == ENOENT)
			r = err_set(msg, SIGNET_ERR_NOT_FOUND,
			    "%s: no such file", path);
		else if (saved == ELOOP)
			r = err_set(msg, SIGNET_ERR_PERMISSIONS,
			    "%s: is a "
			    "symbolic link; point the agent at the file "
			    "itself",
			    path);
		else
			r = err_set(msg, SIGNET_ERR_IO, "%s: cannot open: %s",
			    path, strerror(saved));
		goto out;
	}
	if (fstat(fd, &st) != 0) {
		r = err_set(msg, SIGNET_ERR_IO, "%s: cannot stat: %s", path,
		    strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		r = err_set(msg, SIGNET_ERR_PERMISSIONS,
		    "%s: not a regular "
		    "file",
		    path);
		goto out;
	}
	if (st.st_uid != 0 && st.st_uid != geteuid()) {
		r = err_set(msg, SIGNET_ERR_PERMISSIONS,
		    "%s: owned by uid %u, "
		    "not root or this agent's user (uid %u); chown root %s",
		    path, (unsigned)st.st_uid, (unsigned)geteuid(), path);
		goto out;
	}
	if ((st.st_mode & 022) != 0) {
		r = err_set(msg, SIGNET_ERR_PERMISSIONS,
		    "%s: writable by "
		    "group or others (mode %04o); chmod go-w %s",
		    path, (unsigned)(st.st_mode & 07777), path);
		goto out;
	}
	if (st.st_size > POLICY_FILE_MAX) {
		r = err_set(msg, SIGNET_ERR_TOO_LARGE,
		    "%s: file is %lld "
		    "bytes, more than the %d allowed",
		    path, (long long)st.st_size, POLICY_FILE_MAX);
		goto out;
	}
	r = check_dirs(path, msg);
	if (r != 0)
		goto out;
	buf = malloc(POLICY_FILE_MAX + 1);
	if (buf == NULL) {
		r = err_set(msg, SIGNET_ERR_ALLOC, "%s: out of memory", path);
		goto out;
	}
	/* Read one byte past the limit to notice a file that grew. */
	for (;;) {
		n = read(fd, buf + off, POLICY_FILE_MAX + 1 - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = err_set(msg, SIGNET_ERR_IO, "%s: read: %s", path,
			    strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		off += (size_t)n;
		if (off > POLICY_FILE_MAX) {
			r = err_set(msg, SIGNET_ERR_TOO_LARGE,
			    "%s: more than "
			    "%d bytes",
			    path, POLICY_FILE_MAX);
			goto out;
		}
	}
	r = policy_parse(buf, off, path, host_id, out, msg);
out:
	free(buf);
	if (fd >= 0)
		(void)close(fd);
	return r;
}

/* ---- accessors and description ---- */

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
	if (ru->has_operators) {
		appendf(buf, len, &off, "; operators ");
		for (k = 0; k < ru->noperators; k++)
			appendf(buf, len, &off, "%s%s", k > 0 ? "," : "",
			    ru->operators[k]);
	} else {
		appendf(buf, len, &off, "; any operator");
	}
	if (ru->min_reason > 0)
		appendf(
		    buf, len, &off, "; reason >= %ld chars", ru->min_reason);
	if (ru->rate_max > 0)
		appendf(buf, len, &off, "; at most %ld per %ld s per container",
		    ru->rate_max, ru->rate_per);
	return buf;
}

/* ---- decisions ---- */

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
	if (ru->name != NULL) {
		if (glob_matches(ru->name, q->name)) {
			held++;
		} else {
			failed = POLICY_STAGE_NAME;
			(void)snprintf(why, whylen,
			    "name \"%s\" does not "
			    "match \"%s\"",
			    text_escape_str(q->name, e1, sizeof(e1)),
			    text_escape_str(ru->name, e2, sizeof(e2)));
		}
	}
	if (ru->image != NULL) {
		if (glob_matches(ru->image, q->image)) {
			held++;
		} else if (failed == POLICY_STAGE_ALLOWED) {
			failed = POLICY_STAGE_IMAGE;
			(void)snprintf(why, whylen,
			    "image \"%s\" does not "
			    "match \"%s\"",
			    text_escape_str(q->image, e1, sizeof(e1)),
			    text_escape_str(ru->image, e2, sizeof(e2)));
		}
	}
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
	if (ru->rate_max > 0) {
		struct rate_bucket *b = rate_find(&ru->rate, q->id);
		size_t count = 0;

		if (b != NULL)
			count = rate_prune(
			    b, rate_cutoff(req->now_ms, ru->rate_per));
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
		    req->action == ENVELOPE_ACTION_NONE ? " (NONE: no action)"
		                                        : "");
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
	(void)snprintf(
	    why, whylen, "%s", st == POLICY_STAGE_ALLOWED ? "allows" : tmp);
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
			rate_table_clear(&t->rate);
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
