/* SPDX-License-Identifier: ISC */
/* Schema-checked INI configuration on top of libinih. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <ini.h>

#include "fileio.h"
#include "text.h"

struct config_value {
	char *value;
	unsigned line;
};

struct config {
	char *name;
	const struct config_key *schema;
	size_t nkeys;
	struct config_value *values; /* one per schema entry */
};

struct parse_state {
	struct config *cfg;
	const char *text;
	size_t len;
	size_t pos;    /* reader position */
	unsigned line; /* line being read */
	struct err_msg *msg;
	bool failed;
	unsigned fail_line; /* line of the handler's first error */
};

static const char *const config_bool_true[] = { "true", "yes", "on", "1",
	NULL };
static const char *const config_bool_false[] = { "false", "no", "off", "0",
	NULL };

static bool
in_list(const char *s, const char *const list[])
{
	size_t i;

	for (i = 0; list[i] != NULL; i++) {
		if (strcmp(s, list[i]) == 0)
			return true;
	}
	return false;
}

int
config_split_listen(const char *value, char *host, size_t hostlen, int *port)
{
	const char *colon, *hstart, *hend;
	int64_t p = 0;
	size_t n;

	if (value[0] == '[') {
		hend = strchr(value, ']');
		if (hend == NULL || hend[1] != ':')
			return SIGNET_ERR_FORMAT;
		hstart = value + 1;
		colon = hend + 1;
	} else {
		colon = strrchr(value, ':');
		if (colon == NULL ||
		    memchr(value, ':', (size_t)(colon - value)))
			return SIGNET_ERR_FORMAT;
		hstart = value;
		hend = colon;
	}
	n = (size_t)(hend - hstart);
	if (n == 0 || n >= hostlen)
		return SIGNET_ERR_FORMAT;
	if (text_to_int64(colon + 1, 1, 65535, &p) != 0 || colon[1] == '-')
		return SIGNET_ERR_FORMAT;
	memcpy(host, hstart, n);
	host[n] = '\0';
	*port = (int)p;
	return 0;
}

static bool
valid_host(const char *h)
{
	size_t i;

	for (i = 0; h[i] != '\0'; i++) {
		char c = h[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		        (c >= '0' && c <= '9') || c == '.' || c == '-' ||
		        c == ':'))
			return false;
	}
	return i > 0;
}

/* Checks value against its key's type; fills msg with why not. */
static int
check_value(const struct config_key *k, const char *v, char *why, size_t whylen)
{
	char host[256];
	int port = 0;
	int64_t n = 0;
	int r;

	why[0] = '\0';
	if (v[0] == '\0') {
		(void)snprintf(why, whylen, "is empty");
		return SIGNET_ERR_CONFIG;
	}
	if (text_has_control(v)) {
		(void)snprintf(why, whylen, "holds control characters");
		return SIGNET_ERR_CONFIG;
	}
	switch (k->type) {
	case CONFIG_STRING: return 0;
	case CONFIG_PATH:
		if (v[0] != '/') {
			(void)snprintf(why, whylen, "must be an absolute path");
			return SIGNET_ERR_CONFIG;
		}
		return 0;
	case CONFIG_LISTEN:
		if (config_split_listen(v, host, sizeof(host), &port) != 0 ||
		    !valid_host(host)) {
			(void)snprintf(why, whylen,
			    "must be HOST:PORT (IPv6 as [ADDR]:PORT), port "
			    "1..65535");
			return SIGNET_ERR_CONFIG;
		}
		return 0;
	case CONFIG_WSS_URL: {
		const char *rest = v + 6, *slash;
		char hp[300];
		size_t hn;

		if (strncmp(v, "wss://", 6) != 0) {
			(void)snprintf(why, whylen,
			    "must be a wss:// URL (TLS is not optional)");
			return SIGNET_ERR_CONFIG;
		}
		slash = strchr(rest, '/');
		hn = slash != NULL ? (size_t)(slash - rest) : strlen(rest);
		if (hn == 0 || hn >= sizeof(hp)) {
			(void)snprintf(why, whylen, "has no host:port");
			return SIGNET_ERR_CONFIG;
		}
		memcpy(hp, rest, hn);
		hp[hn] = '\0';
		if (config_split_listen(hp, host, sizeof(host), &port) != 0 ||
		    !valid_host(host)) {
			(void)snprintf(why, whylen,
			    "must be wss://HOST:PORT[/PATH]");
			return SIGNET_ERR_CONFIG;
		}
		return 0;
	}
	case CONFIG_WSS_URLS: {
		struct config_key one = *k;
		char url[CONFIG_LINE_MAX + 1], sub[80], esc[64];
		const char *p = v, *end;
		size_t len, count = 0;

		one.type = CONFIG_WSS_URL;
		for (;;) {
			while (*p == ' ' || *p == '\t')
				p++;
			if (*p == '\0')
				break;
			for (end = p;
			     *end != '\0' && *end != ' ' && *end != '\t'; end++)
				;
			len = (size_t)(end - p);
			if (++count > CONFIG_WSS_URLS_MAX) {
				(void)snprintf(why, whylen,
				    "holds more than %d URLs",
				    CONFIG_WSS_URLS_MAX);
				return SIGNET_ERR_CONFIG;
			}
			if (len >= sizeof(url))
				len = sizeof(url) - 1;
			memcpy(url, p, len);
			url[len] = '\0';
			if (check_value(&one, url, sub, sizeof(sub)) != 0) {
				/* One URL: the value names it already. */
				if (p == v && *end == '\0')
					(void)snprintf(why, whylen, "%s", sub);
				else
					(void)snprintf(why, whylen,
					    "URL %zu \"%s\" %s", count,
					    text_escape_str(url, esc,
					        sizeof(esc)),
					    sub);
				return SIGNET_ERR_CONFIG;
			}
			p = end;
		}
		return 0;
	}
	case CONFIG_INT:
		r = text_to_int64(v, k->min, k->max, &n);
		if (r != 0) {
			(void)snprintf(why, whylen,
			    "must be an integer from %lld to %lld",
			    (long long)k->min, (long long)k->max);
			return SIGNET_ERR_CONFIG;
		}
		return 0;
	case CONFIG_BOOL:
		if (!in_list(v, config_bool_true) &&
		    !in_list(v, config_bool_false)) {
			(void)snprintf(why, whylen,
			    "must be true or false (yes/no, on/off, 1/0)");
			return SIGNET_ERR_CONFIG;
		}
		return 0;
	}
	(void)snprintf(why, whylen, "has an unknown type");
	return SIGNET_ERR_INTERNAL;
}

static ssize_t
find_key(const struct config *cfg, const char *section, const char *name)
{
	size_t i;

	for (i = 0; i < cfg->nkeys; i++) {
		if (strcmp(cfg->schema[i].section, section) == 0 &&
		    strcmp(cfg->schema[i].name, name) == 0)
			return (ssize_t)i;
	}
	return -1;
}

static bool
section_known(const struct config *cfg, const char *section)
{
	size_t i;

	for (i = 0; i < cfg->nkeys; i++) {
		if (strcmp(cfg->schema[i].section, section) == 0)
			return true;
	}
	return false;
}

/* libinih's reader: hands out our buffer line by line, counting lines. */
static char *
reader(char *str, int num, void *stream)
{
	struct parse_state *st = stream;
	size_t n = 0;

	if (st->pos >= st->len || num <= 1)
		return NULL;
	while (st->pos < st->len && n < (size_t)num - 1) {
		char c = st->text[st->pos++];
		str[n++] = c;
		if (c == '\n')
			break;
	}
	str[n] = '\0';
	st->line++;
	return str;
}

static int
handler(void *user, const char *section, const char *name, const char *value)
{
	struct parse_state *st = user;
	struct config *cfg = st->cfg;
	char esc1[96], esc2[96], why[160];
	ssize_t idx;

	if (st->failed)
		return 0;
	st->fail_line = st->line;
	if (!section_known(cfg, section)) {
		(void)err_set(st->msg, SIGNET_ERR_CONFIG,
		    "%s:%u: unknown section [%s]", cfg->name, st->line,
		    text_escape_str(section, esc1, sizeof(esc1)));
		st->failed = true;
		return 0;
	}
	idx = find_key(cfg, section, name);
	if (idx < 0) {
		(void)err_set(st->msg, SIGNET_ERR_CONFIG,
		    "%s:%u: unknown key \"%s\" in [%s]", cfg->name, st->line,
		    text_escape_str(name, esc1, sizeof(esc1)),
		    text_escape_str(section, esc2, sizeof(esc2)));
		st->failed = true;
		return 0;
	}
	if (cfg->values[idx].value != NULL) {
		(void)err_set(st->msg, SIGNET_ERR_CONFIG,
		    "%s:%u: [%s] %s is set again (first on line %u)", cfg->name,
		    st->line, section, name, cfg->values[idx].line);
		st->failed = true;
		return 0;
	}
	if (check_value(&cfg->schema[idx], value, why, sizeof(why)) != 0) {
		(void)err_set(st->msg, SIGNET_ERR_CONFIG,
		    "%s:%u: [%s] %s = \"%s\" %s", cfg->name, st->line, section,
		    name, text_escape_str(value, esc1, sizeof(esc1)), why);
		st->failed = true;
		return 0;
	}
	cfg->values[idx].value = strdup(value);
	if (cfg->values[idx].value == NULL) {
		(void)err_set(st->msg, SIGNET_ERR_ALLOC, "out of memory");
		st->failed = true;
		return 0;
	}
	cfg->values[idx].line = st->line;
	return 1;
}

void
config_free(struct config *cfg)
{
	size_t i;

	if (cfg == NULL)
		return;
	for (i = 0; cfg->values != NULL && i < cfg->nkeys; i++)
		free(cfg->values[i].value);
	free(cfg->values);
	free(cfg->name);
	free(cfg);
}

/* Refuses lines libinih would silently split, and NUL bytes. */
static int
check_lines(const char *name, const char *text, size_t len, struct err_msg *msg)
{
	size_t start = 0, i;
	unsigned line = 1;

	if (memchr(text, '\0', len) != NULL)
		return err_set(msg, SIGNET_ERR_CONFIG, "%s: holds a NUL byte",
		    name);
	for (i = 0; i <= len; i++) {
		if (i == len || text[i] == '\n') {
			if (i - start > CONFIG_LINE_MAX)
				return err_set(msg, SIGNET_ERR_CONFIG,
				    "%s:%u: line longer than %d characters",
				    name, line, CONFIG_LINE_MAX);
			start = i + 1;
			line++;
		}
	}
	return 0;
}

int
config_parse(const char *name, const char *text, size_t len,
    const struct config_key *schema, size_t nkeys, struct config **out,
    struct err_msg *msg)
{
	struct config *cfg = NULL;
	struct parse_state st;
	size_t i;
	int r, rc;

	*out = NULL;
	r = check_lines(name, text, len, msg);
	if (r != 0)
		return r;
	cfg = calloc(1, sizeof(*cfg));
	if (cfg == NULL)
		return err_set(msg, SIGNET_ERR_ALLOC, "out of memory");
	cfg->schema = schema;
	cfg->nkeys = nkeys;
	cfg->name = strdup(name);
	cfg->values = calloc(nkeys == 0 ? 1 : nkeys, sizeof(*cfg->values));
	if (cfg->name == NULL || cfg->values == NULL) {
		r = err_set(msg, SIGNET_ERR_ALLOC, "out of memory");
		goto out;
	}
	memset(&st, 0, sizeof(st));
	st.cfg = cfg;
	st.text = text;
	st.len = len;
	st.msg = msg;
	rc = ini_parse_stream(reader, &st, handler, &st);
	/* libinih goes on after a malformed line; report whichever came
	 * first, the syntax error it counted or the one our handler saw. */
	if (st.failed && (rc <= 0 || (unsigned)rc >= st.fail_line)) {
		r = SIGNET_ERR_CONFIG;
		goto out;
	}
	if (rc != 0) {
		r = err_set(msg, SIGNET_ERR_CONFIG,
		    "%s:%d: not a valid INI line (want [section] or key = "
		    "value)",
		    name, rc);
		goto out;
	}
	for (i = 0; i < nkeys; i++) {
		if (schema[i].required && cfg->values[i].value == NULL) {
			r = err_set(msg, SIGNET_ERR_CONFIG,
			    "%s: missing required key [%s] %s", name,
			    schema[i].section, schema[i].name);
			goto out;
		}
	}
	*out = cfg;
	cfg = NULL;
	r = 0;
out:
	config_free(cfg);
	return r;
}

int
config_load(const char *path, const struct config_key *schema, size_t nkeys,
    struct config **out, struct err_msg *msg)
{
	char *text = NULL;
	size_t len = 0;
	int r;

	*out = NULL;
	r = fileio_read_alloc(path, CONFIG_FILE_MAX, &text, &len, msg);
	if (r != 0)
		return r == SIGNET_ERR_NOT_FOUND || r == SIGNET_ERR_TOO_LARGE ?
		    SIGNET_ERR_CONFIG :
		    r;
	r = config_parse(path, text, len, schema, nkeys, out, msg);
	free(text);
	return r;
}

const char *
config_get(const struct config *cfg, const char *section, const char *name)
{
	ssize_t idx = find_key(cfg, section, name);

	if (idx < 0)
		return NULL;
	if (cfg->values[idx].value != NULL)
		return cfg->values[idx].value;
	return cfg->schema[idx].default_value;
}

int64_t
config_get_int(const struct config *cfg, const char *section, const char *name,
    int64_t def)
{
	const char *v = config_get(cfg, section, name);
	int64_t n = 0;

	if (v == NULL || text_to_int64(v, INT64_MIN, INT64_MAX, &n) != 0)
		return def;
	return n;
}

bool
config_get_bool(const struct config *cfg, const char *section, const char *name,
    bool def)
{
	const char *v = config_get(cfg, section, name);

	if (v == NULL)
		return def;
	if (in_list(v, config_bool_true))
		return true;
	if (in_list(v, config_bool_false))
		return false;
	return def;
}

unsigned
config_line(const struct config *cfg, const char *section, const char *name)
{
	ssize_t idx = find_key(cfg, section, name);

	return idx < 0 ? 0 : cfg->values[idx].line;
}

const char *
config_name(const struct config *cfg)
{
	return cfg->name;
}
