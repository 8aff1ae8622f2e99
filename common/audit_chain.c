/* SPDX-License-Identifier: ISC */
/*
 * The pieces of a rotated audit log that readers and the writer share:
 * the names rotated files get, the audit.rotated record that links a file
 * to the one before it, and the walk back from the current file through
 * those links to the files that hold the records a reader wants.
 */
#include "audit.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "config.h"
#include "jsonx.h"
#include "text.h"

#define SIZE_MAX_BYTES (1ULL << 40) /* 1 TiB: anything more is a typo */

static bool
valid_base_name(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > AUDIT_NAME_MAX || strcmp(s, ".") == 0 ||
	    strcmp(s, "..") == 0 || strchr(s, '/') != NULL ||
	    text_has_control(s))
		return false;
	return true;
}

static bool
valid_reason(const char *s)
{
	size_t n = strlen(s), i;

	if (n == 0 || n >= sizeof(((struct audit_link *)0)->reason))
		return false;
	for (i = 0; i < n; i++)
		if (s[i] < 'a' || s[i] > 'z')
			return false;
	return true;
}

int
audit_link_parse(const struct audit_record *rec, struct audit_link *link,
    struct err_msg *msg)
{
	static const char *const members[] = { "previous", "previous_head",
		"reason", NULL };
	const char *prev = NULL, *head = NULL, *reason = NULL;
	int r;

	memset(link, 0, sizeof(*link));
	if (strcmp(rec->event, AUDIT_EVENT_ROTATED) != 0)
		return err_set(msg, SIGNET_ERR_INVALID_ARG, "not an %s record",
		    AUDIT_EVENT_ROTATED);
	r = jsonx_only_members(rec->data, members, "data", msg);
	if (r == 0)
		r = jsonx_get_string(rec->data, "previous", false, "data",
		    &prev, msg);
	if (r == 0)
		r = jsonx_get_string(rec->data, "previous_head", false, "data",
		    &head, msg);
	if (r == 0)
		r = jsonx_get_string(rec->data, "reason", false, "data",
		    &reason, msg);
	if (r != 0)
		return r;
	if (!valid_base_name(prev))
		return err_set(msg, SIGNET_ERR_FORMAT,
		    "%s: data.previous is "
		    "not a file name",
		    AUDIT_EVENT_ROTATED);
	if (audit_head_parse(head, &link->head) != 0)
		return err_set(msg, SIGNET_ERR_FORMAT,
		    "%s: data.previous_head "
		    "is not SEQ:HASH",
		    AUDIT_EVENT_ROTATED);
	if (!valid_reason(reason))
		return err_set(msg, SIGNET_ERR_FORMAT,
		    "%s: data.reason is not "
		    "a short lowercase word",
		    AUDIT_EVENT_ROTATED);
	memcpy(link->previous, prev, strlen(prev) + 1);
	memcpy(link->reason, reason, strlen(reason) + 1);
	if (link->head.seq + 1 != rec->seq ||
	    strcmp(link->head.hash, rec->prev) != 0)
		return err_set(msg, SIGNET_ERR_CHAIN,
		    "%s names the head %" PRIu64
		    ":%s, but the record itself continues from %" PRIu64 ":%s",
		    AUDIT_EVENT_ROTATED, link->head.seq, link->head.hash,
		    rec->seq > 0 ? rec->seq - 1 : 0, rec->prev);
	return 0;
}

int
audit_rotated_name(const char *path, uint64_t first, uint64_t last, char *out,
    size_t outlen)
{
	int n;

	n = snprintf(out, outlen, "%s.%0*" PRIu64 "-%0*" PRIu64, path,
	    AUDIT_SEQ_DIGITS, first, AUDIT_SEQ_DIGITS, last);
	if (n < 0 || (size_t)n >= outlen)
		return SIGNET_ERR_TOO_LARGE;
	return 0;
}

/* Exactly AUDIT_SEQ_DIGITS decimal digits at s. */
static bool
seq_digits(const char *s, uint64_t *v)
{
	int i;

	*v = 0;
	for (i = 0; i < AUDIT_SEQ_DIGITS; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		*v = *v * 10 + (uint64_t)(s[i] - '0');
	}
	return true;
}

bool
audit_rotated_name_match(const char *base, const char *name, uint64_t *first,
    uint64_t *last)
{
	size_t b = strlen(base);
	const char *p;

	if (strncmp(name, base, b) != 0 || name[b] != '.')
		return false;
	p = name + b + 1;
	if (strlen(p) != 2 * AUDIT_SEQ_DIGITS + 1 || p[AUDIT_SEQ_DIGITS] != '-')
		return false;
	return seq_digits(p, first) &&
	    seq_digits(p + AUDIT_SEQ_DIGITS + 1, last) && *first <= *last;
}

int
audit_parse_size(const char *s, uint64_t *bytes)
{
	char num[24];
	size_t n;
	uint64_t mult = 1;
	int64_t v = 0;

	*bytes = 0;
	if (s == NULL)
		return SIGNET_ERR_FORMAT;
	n = strlen(s);
	if (n == 0 || n >= sizeof(num))
		return SIGNET_ERR_FORMAT;
	switch (s[n - 1]) {
	case 'K':
	case 'k':
		mult = 1ULL << 10;
		n--;
		break;
	case 'M':
	case 'm':
		mult = 1ULL << 20;
		n--;
		break;
	case 'G':
	case 'g':
		mult = 1ULL << 30;
		n--;
		break;
	default: break;
	}
	memcpy(num, s, n);
	num[n] = '\0';
	if (n == 0 || num[0] < '0' || num[0] > '9' ||
	    text_to_int64(num, 0, (int64_t)SIZE_MAX_BYTES, &v) != 0 ||
	    (uint64_t)v > SIZE_MAX_BYTES / mult)
		return SIGNET_ERR_FORMAT;
	*bytes = (uint64_t)v * mult;
	return 0;
}

int
audit_config_rotate_size(const struct config *cfg, uint64_t *bytes,
    struct err_msg *msg)
{
	const char *v = config_get(cfg, "audit", "rotate_size");
	char esc[64];

	if (v == NULL)
		v = AUDIT_ROTATE_SIZE_DEFAULT;
	if (audit_parse_size(v, bytes) != 0 ||
	    (*bytes > 0 && *bytes < AUDIT_ROTATE_SIZE_MIN))
		return err_set(msg, SIGNET_ERR_CONFIG,
		    "%s:%u: rotate_size: "
		    "\"%s\" is not 0 (never) or a size of at least %d bytes, "
		    "in bytes or with K, M or G (e.g. 256M)",
		    config_name(cfg), config_line(cfg, "audit", "rotate_size"),
		    text_escape_str(v, esc, sizeof(esc)),
		    AUDIT_ROTATE_SIZE_MIN);
	return 0;
}

int
audit_read_first(const char *path, struct audit_record *rec,
    struct err_msg *msg)
{
	struct audit_reader *rd = NULL;
	struct err_msg sub;
	char *line = NULL;
	size_t len = 0;
	bool had_nl = false;
	int r;

	memset(rec, 0, sizeof(*rec));
	r = audit_reader_open(path, &rd, msg);
	if (r != 0)
		return r;
	r = audit_reader_next(rd, &line, &len, &had_nl);
	if (r < 0) {
		r = err_set(msg, r, "%s:1: %s", path,
		    r == SIGNET_ERR_TOO_LARGE ? "line longer than any audit "
		                                "record" :
		                                "read error");
		goto out;
	}
	if (r == 0 || !had_nl) {
		r = err_set(msg, SIGNET_ERR_NOT_FOUND, "%s: no whole record",
		    path);
		goto out;
	}
	r = audit_parse_line(line, len, rec, &sub);
	if (r != 0)
		r = err_set(msg, r, "%s:1: %s", path, sub.text);
out:
	audit_reader_close(rd);
	return r;
}

void
audit_chain_free(char **files, size_t n)
{
	size_t i;

	if (files == NULL)
		return;
	for (i = 0; i < n; i++)
		free(files[i]);
	free(files);
}

/* path's directory part with its slash ("" for a bare name) + name. */
static char *
sibling(const char *path, const char *name)
{
	const char *slash = strrchr(path, '/');
	size_t dlen = slash != NULL ? (size_t)(slash - path) + 1 : 0;
	size_t nlen = strlen(name);
	char *out = malloc(dlen + nlen + 1);

	if (out == NULL)
		return NULL;
	memcpy(out, path, dlen);
	memcpy(out + dlen, name, nlen + 1);
	return out;
}

int
audit_chain_files(const char *path, int64_t since_ts, uint64_t from_seq,
    char ***files, size_t *n, char missing[static AUDIT_NAME_MAX + 1],
    struct err_msg *msg)
{
	char **list = NULL, **grown, *cur;
	size_t cap = 0, count = 0, i;
	uint64_t last_first = UINT64_MAX;
	struct audit_record rec;
	struct audit_link link;
	struct err_msg sub;
	struct stat st;
	int r;

	*files = NULL;
	*n = 0;
	missing[0] = '\0';
	memset(&rec, 0, sizeof(rec));
	if (stat(path, &st) != 0)
		return err_set(msg,
		    errno == ENOENT ? SIGNET_ERR_NOT_FOUND : SIGNET_ERR_IO,
		    "%s: %s", path, strerror(errno));
	cur = strdup(path);
	for (;;) {
		if (cur == NULL) {
			r = err_set(msg, SIGNET_ERR_ALLOC, "out of memory");
			goto out;
		}
		if (count == cap) {
			cap = cap == 0 ? 8 : cap * 2;
			grown = realloc(list, cap * sizeof(*list));
			if (grown == NULL) {
				free(cur);
				r = err_set(msg, SIGNET_ERR_ALLOC,
				    "out of memory");
				goto out;
			}
			list = grown;
		}
		list[count++] = cur;
		cur = NULL;
		if (count > AUDIT_CHAIN_FILES_MAX) {
			r = err_set(msg, SIGNET_ERR_TOO_LARGE,
			    "%s: more than "
			    "%d rotated files to read",
			    path, AUDIT_CHAIN_FILES_MAX);
			goto out;
		}
		audit_record_free(&rec);
		r = audit_read_first(list[count - 1], &rec, msg);
		if (r == SIGNET_ERR_NOT_FOUND)
			break; /* empty: nothing before it is linked */
		if (r != 0)
			goto out;
		if (strcmp(rec.event, AUDIT_EVENT_ROTATED) != 0)
			break; /* the chain starts here */
		r = audit_link_parse(&rec, &link, &sub);
		if (r != 0) {
			r = err_set(msg, r, "%s:1: %s", list[count - 1],
			    sub.text);
			goto out;
		}
		/* Seqs strictly fall going back: no loop of names. */
		if (rec.seq >= last_first) {
			r = err_set(msg, SIGNET_ERR_CHAIN,
			    "%s:1: starts at seq %" PRIu64 ", not before "
			    "the file after it (seq %" PRIu64 "): rotated "
			    "files out of order",
			    list[count - 1], rec.seq, last_first);
			goto out;
		}
		last_first = rec.seq;
		if (rec.ts < since_ts || rec.seq <= from_seq)
			break;
		cur = sibling(path, link.previous);
		if (cur != NULL && stat(cur, &st) != 0) {
			if (errno != ENOENT) {
				r = err_set(msg, SIGNET_ERR_IO, "%s: %s", cur,
				    strerror(errno));
				free(cur);
				goto out;
			}
			memcpy(missing, link.previous,
			    strlen(link.previous) + 1);
			free(cur);
			break;
		}
	}
	/* Oldest first. */
	for (i = 0; i < count / 2; i++) {
		char *t = list[i];
		list[i] = list[count - 1 - i];
		list[count - 1 - i] = t;
	}
	*files = list;
	*n = count;
	list = NULL;
	count = 0;
	r = 0;
out:
	audit_record_free(&rec);
	audit_chain_free(list, count);
	return r;
}
