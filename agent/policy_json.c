/* SPDX-License-Identifier: ISC */
/*
 * The strict JSON layer under the policy parser: a lexical pass over the
 * raw bytes for what cJSON accepts but a policy must not hold, a generic
 * walk over the tree (UTF-8, duplicate and excess keys), and the JSON
 * paths and positions that every refusal quotes. Also the UTF-8 counter
 * that reasons are measured with.
 */
#include "policy_int.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "text.h"

long
policy_utf8_chars(const char *s, size_t len)
{
	size_t i;
	long n = 0;

	/* The project's one UTF-8 validator; only the count is added here. */
	if (!text_utf8_valid(s, len))
		return -1;
	for (i = 0; i < len; i++) {
		/* Every byte but a continuation byte starts a character. */
		if (((unsigned char)s[i] & 0xc0) == 0x80)
			continue;
		n++;
		if (n == LONG_MAX)
			return -1;
	}
	return n;
}

/* "label: what at path[; hint]" as SIGNET_ERR_POLICY. */
int
policy_fail(struct pctx *c, const char *path, const char *hint, const char *fmt,
    ...)
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
void
policy_path_key(char *out, size_t outlen, const char *parent, const char *k,
    size_t n)
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

void
policy_path_index(char *out, size_t outlen, const char *parent, long i)
{
	bounded(out, outlen, "%s[%ld]", parent, i);
}

/* Line and column (1-based) of offset off in buf. */
void
policy_line_col(const char *buf, size_t off, size_t *line, size_t *col)
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
			policy_path_index(out, outlen, tmp, f[d].index);
		else if (f[d].key != NULL)
			policy_path_key(out, outlen, tmp, f[d].key,
			    f[d].keylen);
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
int
policy_prescan(struct pctx *c, const char *buf, size_t len)
{
	struct scan_frame f[POLICY_DEPTH_MAX];
	char path[PATH_BUF];
	size_t depth = 0, i, line, col, str_start = 0;
	bool in_str = false, str_is_key = false;

	for (i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)buf[i];

		if (ch == '\0') {
			policy_line_col(buf, i, &line, &col);
			return err_set(c->msg, SIGNET_ERR_POLICY,
			    "%s: NUL byte at line %zu, column %zu", c->label,
			    line, col);
		}
		if (in_str) {
			if (ch < 0x20) {
				scan_path(f, depth, path, sizeof(path));
				policy_line_col(buf, i, &line, &col);
				return policy_fail(c, path, NULL,
				    "control character "
				    "0x%02x in a string (line %zu, column %zu)",
				    ch, line, col);
			}
			if (ch == '\\' && i + 1 < len) {
				if (buf[i + 1] == 'u' && len - i >= 6 &&
				    memcmp(buf + i + 2, "0000", 4) == 0) {
					scan_path(f, depth, path, sizeof(path));
					return policy_fail(c, path, NULL,
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
				return policy_fail(c, path, NULL,
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
					return policy_fail(c, path, NULL,
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

/*
 * Generic pass over the whole tree: every key and string valid UTF-8, no
 * key twice in one object (cJSON keeps both and returns the first, so a
 * second "operators" could hide from a reviewer).
 */
int
policy_walk(struct pctx *c, const cJSON *node, const char *path)
{
	const cJSON *ch, *prev;
	char sub[PATH_BUF], esc[ESC_BUF];
	long idx = 0;
	int r;

	if (cJSON_IsString(node) &&
	    policy_utf8_chars(node->valuestring, strlen(node->valuestring)) < 0)
		return policy_fail(c, path, NULL, "string is not valid UTF-8");
	if (!cJSON_IsObject(node) && !cJSON_IsArray(node))
		return 0;
	/* Bounds the quadratic duplicate check; no policy object is larger. */
	if (cJSON_IsObject(node) &&
	    cJSON_GetArraySize(node) > POLICY_OBJECT_KEYS_MAX)
		return policy_fail(c, path, NULL,
		    "object with %d keys, more than "
		    "the %d allowed",
		    cJSON_GetArraySize(node), POLICY_OBJECT_KEYS_MAX);
	for (ch = node->child; ch != NULL; ch = ch->next, idx++) {
		if (cJSON_IsObject(node)) {
			size_t kl = strlen(ch->string);
			if (policy_utf8_chars(ch->string, kl) < 0)
				return policy_fail(c, path, NULL,
				    "key \"%s\" is not "
				    "valid UTF-8",
				    text_escape(ch->string, kl, esc,
				        sizeof(esc)));
			for (prev = node->child; prev != ch;
			     prev = prev->next) {
				if (strcmp(prev->string, ch->string) == 0)
					return policy_fail(c, path, NULL,
					    "duplicate key \"%s\"",
					    text_escape(ch->string, kl, esc,
					        sizeof(esc)));
			}
			policy_path_key(sub, sizeof(sub), path, ch->string, kl);
		} else {
			policy_path_index(sub, sizeof(sub), path, idx);
		}
		r = policy_walk(c, ch, sub);
		if (r != 0)
			return r;
	}
	return 0;
}
