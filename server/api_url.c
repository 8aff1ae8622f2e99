/* SPDX-License-Identifier: ISC */
/*
 * Strict parsing of the API's raw request targets. libmicrohttpd decodes
 * the path leniently (a bad "%" escape passes through, "%2e%2e" becomes
 * "..", "%2f" a slash), so the API routes on the raw target it saw in the
 * URI log callback instead, and refuses anything unusual outright.
 */
#include "api_int.h"

#include <string.h>

#include "text.h"

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static bool
unreserved(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
	    c == '~';
}

/*
 * Decodes in[0..len) into out at *off (NUL-terminated), advancing *off.
 * plus: '+' means a space (query). Refuses bad escapes, NUL and control
 * bytes; path segments (plus false) must decode to unreserved bytes.
 */
static int
decode(const char *in, size_t len, bool plus, char *out, size_t outsize,
    size_t *off, const char *what, struct err_msg *msg)
{
	char esc[64];
	size_t i;

	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)in[i];

		if (c == '%') {
			int hi = len - i >= 3 ? hexval(in[i + 1]) : -1;
			int lo = len - i >= 3 ? hexval(in[i + 2]) : -1;

			if (hi < 0 || lo < 0)
				return err_set(msg, SIGNET_ERR_FORMAT,
				    "malformed percent-encoding in %s \"%s\"",
				    what,
				    text_escape(in, len, esc, sizeof(esc)));
			c = (unsigned char)(hi << 4 | lo);
			i += 2;
		} else if (c == '+' && plus) {
			c = ' ';
		}
		if (c < 0x20 || c == 0x7f || (!plus && !unreserved(c)))
			return err_set(msg, SIGNET_ERR_FORMAT,
			    "%s \"%s\" holds a character not allowed there",
			    what, text_escape(in, len, esc, sizeof(esc)));
		if (*off >= outsize - 1)
			return err_set(msg, SIGNET_ERR_TOO_LARGE,
			    "request target too long");
		out[(*off)++] = (char)c;
	}
	if (*off >= outsize)
		return err_set(msg, SIGNET_ERR_TOO_LARGE,
		    "request target too long");
	out[(*off)++] = '\0';
	return 0;
}

static int
parse_path(const char *p, size_t len, struct api_url *u, size_t *off,
    struct err_msg *msg)
{
	size_t i = 1;

	if (len == 0 || p[0] != '/')
		return err_set(msg, SIGNET_ERR_FORMAT,
		    "request target must be a path starting with \"/\"");
	if (len == 1)
		return 0; /* "/": no segments */
	while (i <= len) {
		const char *s = p + i;
		const char *slash = memchr(s, '/', len - i);
		size_t n = slash != NULL ? (size_t)(slash - s) : len - i;
		char *seg;
		int r;

		if (n == 0)
			return err_set(msg, SIGNET_ERR_FORMAT,
			    "path has an empty segment (\"//\" or a "
			    "trailing \"/\")");
		if (u->nseg == API_SEGMENTS_MAX)
			return err_set(msg, SIGNET_ERR_TOO_LARGE,
			    "path has more than %d segments", API_SEGMENTS_MAX);
		seg = u->buf + *off;
		r = decode(s, n, false, u->buf, sizeof(u->buf), off,
		    "path segment", msg);
		if (r != 0)
			return r;
		if (strcmp(seg, ".") == 0 || strcmp(seg, "..") == 0)
			return err_set(msg, SIGNET_ERR_FORMAT,
			    "path may not hold \".\" or \"..\" segments");
		u->seg[u->nseg++] = seg;
		i += n + 1;
	}
	return 0;
}

static int
parse_query(const char *q, size_t len, struct api_url *u, size_t *off,
    struct err_msg *msg)
{
	size_t i = 0, j;

	while (i < len) {
		const char *item = q + i;
		const char *amp = memchr(item, '&', len - i);
		size_t n = amp != NULL ? (size_t)(amp - item) : len - i;
		const char *eq = memchr(item, '=', n);
		char esc[64];
		char *key, *val;
		int r;

		if (n == 0 || eq == NULL || eq == item)
			return err_set(msg, SIGNET_ERR_FORMAT,
			    "query item \"%s\" is not key=value",
			    text_escape(item, n, esc, sizeof(esc)));
		if (u->nparam == API_PARAMS_MAX)
			return err_set(msg, SIGNET_ERR_TOO_LARGE,
			    "more than %d query parameters", API_PARAMS_MAX);
		key = u->buf + *off;
		r = decode(item, (size_t)(eq - item), true, u->buf,
		    sizeof(u->buf), off, "query parameter name", msg);
		if (r != 0)
			return r;
		val = u->buf + *off;
		r = decode(eq + 1, n - (size_t)(eq - item) - 1, true, u->buf,
		    sizeof(u->buf), off, "query parameter value", msg);
		if (r != 0)
			return r;
		for (j = 0; j < u->nparam; j++) {
			if (strcmp(u->key[j], key) == 0)
				return err_set(msg, SIGNET_ERR_FORMAT,
				    "query parameter \"%s\" given twice",
				    text_escape_str(key, esc, sizeof(esc)));
		}
		u->key[u->nparam] = key;
		u->val[u->nparam] = val;
		u->nparam++;
		i += n + 1;
		if (amp != NULL && i == len)
			return err_set(msg, SIGNET_ERR_FORMAT,
			    "query ends with \"&\"");
	}
	return 0;
}

int
api_url_parse(const char *raw, size_t len, struct api_url *out,
    struct err_msg *msg)
{
	const char *qmark;
	size_t off = 0, plen;
	int r;

	memset(out, 0, sizeof(*out));
	if (raw == NULL || len > API_URL_MAX)
		return err_set(msg, SIGNET_ERR_TOO_LARGE,
		    "request target longer than %d bytes", API_URL_MAX);
	if (memchr(raw, '#', len) != NULL)
		return err_set(msg, SIGNET_ERR_FORMAT,
		    "request target may not hold a fragment (\"#\")");
	qmark = memchr(raw, '?', len);
	plen = qmark != NULL ? (size_t)(qmark - raw) : len;
	r = parse_path(raw, plen, out, &off, msg);
	if (r == 0 && qmark != NULL)
		r = parse_query(qmark + 1, len - plen - 1, out, &off, msg);
	if (r != 0) {
		memset(out, 0, sizeof(*out));
		return r;
	}
	return 0;
}

const char *
api_url_param(const struct api_url *u, const char *key)
{
	size_t i;

	for (i = 0; i < u->nparam; i++) {
		if (strcmp(u->key[i], key) == 0)
			return u->val[i];
	}
	return NULL;
}

int
api_url_only_params(const struct api_url *u, const char *const allowed[],
    struct err_msg *msg)
{
	char esc[64];
	size_t i, j;

	for (i = 0; i < u->nparam; i++) {
		bool known = false;

		for (j = 0; allowed != NULL && allowed[j] != NULL; j++) {
			if (strcmp(u->key[i], allowed[j]) == 0)
				known = true;
		}
		if (!known)
			return err_set(msg, SIGNET_ERR_FORMAT,
			    "unknown query parameter \"%s\"",
			    text_escape_str(u->key[i], esc, sizeof(esc)));
	}
	return 0;
}
