/* SPDX-License-Identifier: ISC */
/*
 * signetctl's file of named contexts (see context.h): found under
 * $XDG_CONFIG_HOME or ~/.config unless named, read whole under a size
 * bound, checked like a trust file (not writable by group or others, ours
 * or root's), parsed by libinih with every key, section and value checked.
 */
#include "context.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ini.h>

#include "text.h"

/* libinih splits longer lines without a word: refuse them first. */
#define CONTEXT_LINE_MAX 199

const char *const context_field_names[CONTEXT_NFIELDS] = {
	"server",
	"ca",
	"cert",
	"key",
};

int
context_path(const char *opt, char *out, size_t outlen, bool *chosen,
    struct err_msg *msg)
{
	const char *env = getenv("SIGNET_CONFIG");
	const char *xdg = getenv("XDG_CONFIG_HOME");
	const char *home = getenv("HOME");
	int n;

	*chosen = false;
	if (outlen == 0)
		return err_set(msg, SIGNET_ERR_TOO_LARGE, "no room");
	out[0] = '\0';
	if (opt != NULL || (env != NULL && env[0] != '\0')) {
		*chosen = true;
		n = snprintf(out, outlen, "%s", opt != NULL ? opt : env);
	} else if (xdg != NULL && xdg[0] == '/') {
		n = snprintf(out, outlen, "%s/signet/signetctl.conf", xdg);
	} else if (home != NULL && home[0] == '/') {
		n = snprintf(out, outlen, "%s/.config/signet/signetctl.conf",
		    home);
	} else {
		return err_set(msg, SIGNET_ERR_NOT_FOUND,
		    "neither "
		    "XDG_CONFIG_HOME nor HOME is an absolute path: give "
		    "--config FILE or set SIGNET_CONFIG");
	}
	if (n < 0 || (size_t)n >= outlen) {
		out[0] = '\0';
		return err_set(msg, SIGNET_ERR_TOO_LARGE,
		    "the configuration "
		    "file's path is over %zu bytes",
		    outlen - 1);
	}
	if (out[0] == '\0')
		return err_set(msg, SIGNET_ERR_NOT_FOUND,
		    "the configuration "
		    "file's path is empty");
	return 0;
}

/* What the libinih reader and handler need; the first error wins. */
struct parse {
	struct context_file *cf;
	struct context *cur; /* the section being read */
	bool seen[CONTEXT_MAX][CONTEXT_NFIELDS];
	bool has_current;
	const char *next; /* the text not yet read */
	int line;         /* of the line last read */
	int section_line; /* of the last "[NAME]" read */
	int fail_line;    /* when not 0, the line to blame */
	int err;
	struct err_msg *msg;
};

/* libinih's fgets over the text, counting lines for the messages. */
static char *
parse_reader(char *str, int num, void *stream)
{
	struct parse *p = stream;
	const char *nl;
	size_t n;

	if (*p->next == '\0' || num < 2)
		return NULL;
	nl = strchr(p->next, '\n');
	n = nl != NULL ? (size_t)(nl - p->next) + 1 : strlen(p->next);
	/* Lines were bounded before parsing; this only keeps it safe. */
	if (n > (size_t)num - 1)
		n = (size_t)num - 1;
	memcpy(str, p->next, n);
	str[n] = '\0';
	p->next += n;
	p->line++;
	if (str[strspn(str, " \t")] == '[')
		p->section_line = p->line;
	return str;
}

static int parse_fail(struct parse *p, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int
parse_fail(struct parse *p, const char *fmt, ...)
{
	char text[ERR_MSG_MAX];
	va_list ap;

	if (p->err != 0)
		return 1;
	va_start(ap, fmt);
	(void)vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	p->err = SIGNET_ERR_CONFIG;
	(void)err_set(p->msg, SIGNET_ERR_CONFIG, "%s line %d: %s", p->cf->path,
	    p->fail_line != 0 ? p->fail_line : p->line, text);
	return 1;
}

/* Finds or opens the context of section; NULL after an error. */
static struct context *
parse_section(struct parse *p, const char *section, const char *es)
{
	size_t k;

	if (p->cur != NULL && strcmp(p->cur->name, section) == 0)
		return p->cur;
	/* libinih reports a section with its first key: name its line. */
	p->fail_line = p->section_line;
	if (!text_valid_name(section)) {
		(void)parse_fail(p,
		    "section [%s] is not a context name "
		    "([a-z0-9][a-z0-9._-]{0,62})",
		    es);
		return NULL;
	}
	for (k = 0; k < p->cf->n; k++) {
		if (strcmp(p->cf->ctx[k].name, section) == 0) {
			(void)parse_fail(p, "context [%s] is given twice", es);
			return NULL;
		}
	}
	if (p->cf->n >= CONTEXT_MAX) {
		(void)parse_fail(p, "too many contexts (at most %d), at [%s]",
		    CONTEXT_MAX, es);
		return NULL;
	}
	p->fail_line = 0;
	p->cur = &p->cf->ctx[p->cf->n++];
	/* text_valid_name bounds it to 63 bytes. */
	(void)snprintf(p->cur->name, sizeof(p->cur->name), "%s", section);
	return p->cur;
}

static int
parse_line(void *user, const char *section, const char *name, const char *value)
{
	struct parse *p = user;
	struct context *c;
	char es[160], en[160], ev[300];
	size_t f, idx;
	int n;

	if (p->err != 0)
		return 1;
	(void)text_escape_str(section, es, sizeof(es));
	(void)text_escape_str(name, en, sizeof(en));
	(void)text_escape_str(value, ev, sizeof(ev));
	if (section[0] == '\0') {
		if (strcmp(name, "current") != 0)
			return parse_fail(p,
			    "unknown key \"%s\" before the "
			    "first [context] (only \"current\" may stand "
			    "there)",
			    en);
		if (p->has_current)
			return parse_fail(p, "\"current\" is given twice");
		if (!text_valid_name(value))
			return parse_fail(p,
			    "current = \"%s\" is not a "
			    "context name",
			    ev);
		p->has_current = true;
		(void)snprintf(p->cf->current, sizeof(p->cf->current), "%s",
		    value);
		return 1;
	}
	c = parse_section(p, section, es);
	if (c == NULL)
		return 1;
	for (f = 0; f < CONTEXT_NFIELDS; f++)
		if (strcmp(name, context_field_names[f]) == 0)
			break;
	if (f == CONTEXT_NFIELDS)
		return parse_fail(p,
		    "unknown key \"%s\" in [%s] (known: "
		    "server, ca, cert, key)",
		    en, es);
	idx = (size_t)(c - p->cf->ctx);
	if (p->seen[idx][f])
		return parse_fail(p, "\"%s\" is given twice in [%s]", en, es);
	p->seen[idx][f] = true;
	if (value[0] == '\0')
		return parse_fail(p, "\"%s\" is empty in [%s]", en, es);
	if (f != CONTEXT_SERVER && value[0] != '/')
		return parse_fail(p,
		    "%s = \"%s\" in [%s] is not an absolute "
		    "path",
		    en, ev, es);
	n = snprintf(c->value[f], sizeof(c->value[f]), "%s", value);
	if (n < 0 || (size_t)n >= sizeof(c->value[f]))
		return parse_fail(p, "\"%s\" is too long in [%s]", en, es);
	return 1;
}

/* Reads the whole file (at most CONTEXT_FILE_MAX) after its checks. */
static int
read_checked(const char *path, bool must_exist, char **out, bool *exists,
    struct err_msg *msg)
{
	struct stat st;
	char esc[300], *buf = NULL;
	size_t len = 0;
	ssize_t got;
	int fd, r;

	*out = NULL;
	*exists = false;
	(void)text_escape_str(path, esc, sizeof(esc));
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		if (errno == ENOENT && !must_exist)
			return 0;
		return err_set(msg,
		    errno == ENOENT ? SIGNET_ERR_NOT_FOUND : SIGNET_ERR_IO,
		    "cannot open the configuration file %s: %s", esc,
		    strerror(errno));
	}
	*exists = true;
	if (fstat(fd, &st) != 0) {
		r = err_set(msg, SIGNET_ERR_IO, "cannot stat %s: %s", esc,
		    strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		r = err_set(msg, SIGNET_ERR_PERMISSIONS,
		    "%s is not a regular "
		    "file",
		    esc);
		goto out;
	}
	if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
		r = err_set(msg, SIGNET_ERR_PERMISSIONS,
		    "%s is writable by "
		    "group or others (mode %04o), and it names the CA to "
		    "trust: chmod go-w %s",
		    esc, (unsigned)(st.st_mode & 07777), esc);
		goto out;
	}
	if (st.st_uid != getuid() && st.st_uid != 0) {
		r = err_set(msg, SIGNET_ERR_PERMISSIONS,
		    "%s is owned by "
		    "user %u, not by you or root",
		    esc, (unsigned)st.st_uid);
		goto out;
	}
	if (st.st_size > CONTEXT_FILE_MAX) {
		r = err_set(msg, SIGNET_ERR_TOO_LARGE, "%s is over %d bytes",
		    esc, CONTEXT_FILE_MAX);
		goto out;
	}
	buf = malloc(CONTEXT_FILE_MAX + 1);
	if (buf == NULL) {
		r = err_set(msg, SIGNET_ERR_ALLOC, "out of memory");
		goto out;
	}
	for (;;) {
		got = read(fd, buf + len, CONTEXT_FILE_MAX + 1 - len);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			r = err_set(msg, SIGNET_ERR_IO, "cannot read %s: %s",
			    esc, strerror(errno));
			goto out;
		}
		if (got == 0)
			break;
		len += (size_t)got;
		if (len > CONTEXT_FILE_MAX) {
			r = err_set(msg, SIGNET_ERR_TOO_LARGE,
			    "%s is over %d "
			    "bytes",
			    esc, CONTEXT_FILE_MAX);
			goto out;
		}
	}
	buf[len] = '\0';
	if (strlen(buf) != len) {
		r = err_set(msg, SIGNET_ERR_CONFIG, "%s holds a NUL byte", esc);
		goto out;
	}
	*out = buf;
	buf = NULL;
	r = 0;
out:
	free(buf);
	(void)close(fd);
	return r;
}

int
context_load(struct context_file *cf, const char *path, bool must_exist,
    struct err_msg *msg)
{
	struct parse *p = NULL;
	char *text = NULL, esc[300];
	const char *s, *nl;
	int line, r;

	memset(cf, 0, sizeof(*cf));
	if (strlen(path) >= sizeof(cf->path))
		return err_set(msg, SIGNET_ERR_TOO_LARGE,
		    "configuration file "
		    "path too long");
	(void)snprintf(cf->path, sizeof(cf->path), "%s", path);
	(void)text_escape_str(path, esc, sizeof(esc));
	r = read_checked(path, must_exist, &text, &cf->exists, msg);
	if (r != 0 || !cf->exists)
		goto out;
	for (s = text, line = 1; *s != '\0'; line++) {
		nl = strchr(s, '\n');
		if ((nl != NULL ? (size_t)(nl - s) : strlen(s)) >
		    CONTEXT_LINE_MAX) {
			r = err_set(msg, SIGNET_ERR_CONFIG,
			    "%s line %d: over "
			    "%d characters",
			    esc, line, CONTEXT_LINE_MAX);
			goto out;
		}
		if (nl == NULL)
			break;
		s = nl + 1;
	}
	p = calloc(1, sizeof(*p));
	if (p == NULL) {
		r = err_set(msg, SIGNET_ERR_ALLOC, "out of memory");
		goto out;
	}
	p->cf = cf;
	p->msg = msg;
	p->next = text;
	line = ini_parse_stream(parse_reader, p, parse_line, p);
	if (p->err != 0) {
		r = p->err;
		goto out;
	}
	if (line != 0) {
		r = err_set(msg, SIGNET_ERR_CONFIG,
		    "%s line %d: not "
		    "\"key = value\" or \"[NAME]\"",
		    esc, line);
		goto out;
	}
	if (cf->current[0] != '\0' && context_find(cf, cf->current) == NULL) {
		r = err_set(msg, SIGNET_ERR_CONFIG,
		    "%s: current = %s names "
		    "no context of the file",
		    esc, cf->current);
		goto out;
	}
	r = 0;
out:
	free(p);
	free(text);
	if (r != 0) {
		/* Nothing half-read survives a refusal. */
		cf->n = 0;
		cf->current[0] = '\0';
	}
	return r;
}

const struct context *
context_find(const struct context_file *cf, const char *name)
{
	size_t k;

	for (k = 0; k < cf->n; k++)
		if (strcmp(cf->ctx[k].name, name) == 0)
			return &cf->ctx[k];
	return NULL;
}

int
context_select(const struct context_file *cf, const char *name,
    const struct context **out, struct err_msg *msg)
{
	char esc[160], pesc[300];

	*out = NULL;
	if (name == NULL) {
		if (cf->current[0] != '\0')
			*out = context_find(cf, cf->current);
		return 0;
	}
	*out = context_find(cf, name);
	if (*out == NULL)
		return err_set(msg, SIGNET_ERR_NOT_FOUND,
		    "no context \"%s\" "
		    "in %s%s (signetctl context list shows them)",
		    text_escape_str(name, esc, sizeof(esc)),
		    text_escape_str(cf->path, pesc, sizeof(pesc)),
		    cf->exists ? "" : ", which does not exist");
	return 0;
}
