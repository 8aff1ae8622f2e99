/* SPDX-License-Identifier: ISC */
/*
 * Audit records as export lines (audit_export.h): each record parsed by
 * audit_parse_line becomes one JSON object of the versioned export schema,
 * with the log's writer, an RFC 3339 time, the syslog severity of its
 * event (audit_mirror.h's table) and the hashes that chain it. The writer
 * is read from the records (actor "server", or "agent" and its data's
 * host_id); records before the first that names it are held back.
 */
#include "audit_export.h"

#include <errno.h>
#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "audit_mirror.h"
#include "clock.h"
#include "jsonx.h"
#include "text.h"

enum writer { WRITER_UNKNOWN = 0, WRITER_SERVER, WRITER_AGENT };

struct audit_export {
	FILE *out;
	struct audit_export_filter filter;
	enum writer writer;
	char host_id[64]; /* "" until known */
	bool decided;     /* the log's name is fixed; nothing held */
	char *logj;       /* the "log" member's value, once decided */
	char *held[AUDIT_EXPORT_HOLD]; /* rendered records without "log" */
	size_t nheld;
	uint64_t written;
};

/* Parses n decimal digits at s into *v. */
static bool
digits(const char *s, size_t n, int *v)
{
	size_t i;

	*v = 0;
	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		*v = *v * 10 + (s[i] - '0');
	}
	return true;
}

static int
days_in_month(int y, int m)
{
	static const int days[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30,
		31 };
	bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

	return m == 2 && leap ? 29 : days[m - 1];
}

int
audit_export_parse_time(const char *s, int64_t *ms)
{
	int y, mo, d, h = 0, mi = 0, sec = 0, oh = 0, om = 0, frac = 0;
	size_t n, p, k;
	struct tm tm;
	int64_t t, off = 0;
	time_t tt;

	*ms = 0;
	if (s == NULL)
		return SIGNET_ERR_FORMAT;
	n = strnlen(s, 64);
	if (n >= 64 || n < 10 || !digits(s, 4, &y) || s[4] != '-' ||
	    !digits(s + 5, 2, &mo) || s[7] != '-' || !digits(s + 8, 2, &d))
		return SIGNET_ERR_FORMAT;
	if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo))
		return SIGNET_ERR_FORMAT;
	p = 10;
	if (n > 10) {
		if ((s[10] != 'T' && s[10] != 't') || n < 20 ||
		    !digits(s + 11, 2, &h) || s[13] != ':' ||
		    !digits(s + 14, 2, &mi) || s[16] != ':' ||
		    !digits(s + 17, 2, &sec) || h > 23 || mi > 59 || sec > 59)
			return SIGNET_ERR_FORMAT;
		p = 19;
		if (s[p] == '.') {
			p++;
			for (k = 0; p < n && s[p] >= '0' && s[p] <= '9';
			     k++, p++)
				if (k < 3)
					frac = frac * 10 + (s[p] - '0');
			if (k == 0)
				return SIGNET_ERR_FORMAT;
			for (; k < 3; k++)
				frac *= 10;
		}
		if (p < n && (s[p] == 'Z' || s[p] == 'z')) {
			p++;
		} else if (p < n && (s[p] == '+' || s[p] == '-')) {
			if (n - p != 6 || !digits(s + p + 1, 2, &oh) ||
			    s[p + 3] != ':' || !digits(s + p + 4, 2, &om) ||
			    oh > 23 || om > 59)
				return SIGNET_ERR_FORMAT;
			off = ((int64_t)oh * 60 + om) * 60000;
			if (s[p] == '+')
				off = -off;
			p += 6;
		} else {
			return SIGNET_ERR_FORMAT;
		}
	}
	if (p != n)
		return SIGNET_ERR_FORMAT;
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec;
	tt = timegm(&tm);
	if (tt == (time_t)-1)
		return SIGNET_ERR_FORMAT;
	t = (int64_t)tt * 1000 + frac + off;
	if (t < 0 || t > AUDIT_EXPORT_TIME_MAX)
		return SIGNET_ERR_FORMAT;
	*ms = t;
	return 0;
}

int
audit_export_check_pattern(const char *p)
{
	size_t n, i;

	if (p == NULL)
		return SIGNET_ERR_FORMAT;
	n = strnlen(p, AUDIT_EXPORT_PATTERN_MAX + 1);
	if (n == 0 || n > AUDIT_EXPORT_PATTERN_MAX)
		return SIGNET_ERR_FORMAT;
	for (i = 0; i < n; i++)
		if (!((p[i] >= 'a' && p[i] <= 'z') ||
		        strchr("._*?[]!", p[i]) != NULL))
			return SIGNET_ERR_FORMAT;
	return 0;
}

bool
audit_export_match(const struct audit_export_filter *f,
    const struct audit_record *rec)
{
	size_t i;

	if (f->has_since && rec->ts < f->since_ms)
		return false;
	if (f->has_until && rec->ts >= f->until_ms)
		return false;
	if (f->npatterns == 0)
		return true;
	for (i = 0; i < f->npatterns; i++)
		if (fnmatch(f->patterns[i], rec->event, 0) == 0)
			return true;
	return false;
}

int
audit_export_new(FILE *out, const struct audit_export_filter *filter,
    struct audit_export **x, struct err_msg *msg)
{
	*x = calloc(1, sizeof(**x));
	if (*x == NULL)
		return err_set(msg, SIGNET_ERR_ALLOC, "out of memory");
	(*x)->out = out;
	if (filter != NULL)
		(*x)->filter = *filter;
	return 0;
}

/* Learns the writer from rec; true once nothing more is to be learnt. */
static bool
learn_writer(struct audit_export *x, const struct audit_record *rec)
{
	const cJSON *h;

	if (x->writer == WRITER_UNKNOWN) {
		if (strcmp(rec->actor, "server") == 0)
			x->writer = WRITER_SERVER;
		else if (strcmp(rec->actor, "agent") == 0)
			x->writer = WRITER_AGENT;
		else
			return false;
	}
	if (x->writer == WRITER_SERVER)
		return true;
	if (x->host_id[0] != '\0')
		return true;
	if (strcmp(rec->actor, "agent") != 0)
		return false;
	h = cJSON_GetObjectItemCaseSensitive(rec->data, "host_id");
	if (!cJSON_IsString(h) || !text_valid_name(h->valuestring) ||
	    strlen(h->valuestring) >= sizeof(x->host_id))
		return false;
	memcpy(x->host_id, h->valuestring, strlen(h->valuestring) + 1);
	return true;
}

/* The "log" member's value as JSON text (free()), or NULL. */
static char *
log_json(const struct audit_export *x)
{
	static const char *const names[] = { "unknown", "server", "agent" };
	cJSON *o = cJSON_CreateObject();
	char *s = NULL;

	if (o != NULL &&
	    cJSON_AddStringToObject(o, "writer", names[x->writer]) != NULL &&
	    (x->host_id[0] == '\0' ||
	        cJSON_AddStringToObject(o, "host_id", x->host_id) != NULL))
		s = jsonx_print(o);
	cJSON_Delete(o);
	return s;
}

/* Writes one rendered record (starting "{\"seq\"") with the log's name. */
static int
emit(struct audit_export *x, const char *rest, struct err_msg *msg)
{
	if (fprintf(x->out, "{\"schema\":\"%s\",\"log\":%s,%s\n",
	        AUDIT_EXPORT_SCHEMA, x->logj, rest + 1) < 0)
		return err_set(msg, SIGNET_ERR_IO,
		    "cannot write the export: %s", strerror(errno));
	x->written++;
	return 0;
}

/* Fixes the log's name and writes what was held back. */
static int
decide(struct audit_export *x, struct err_msg *msg)
{
	size_t i;
	int r = 0;

	x->logj = log_json(x);
	if (x->logj == NULL)
		return err_set(msg, SIGNET_ERR_ALLOC, "out of memory");
	x->decided = true;
	for (i = 0; i < x->nheld && r == 0; i++)
		r = emit(x, x->held[i], msg);
	for (i = 0; i < x->nheld; i++)
		free(x->held[i]);
	x->nheld = 0;
	return r;
}

/*
 * The bytes of rec's data in its line, as recorded: the value of the
 * member "data" just before ,"sig": (where every writer puts it), which
 * must parse to the record's own data. SIGNET_ERR_FORMAT when the line
 * does not hold it there (members in another order, or spaces).
 */
static int
data_span(const struct audit_record *rec, const char *line, size_t *off,
    size_t *len, struct err_msg *msg)
{
	static const char key[] = ",\"data\":";
	const size_t klen = sizeof(key) - 1;
	const char *p = NULL;
	cJSON *d = NULL;
	struct err_msg sub;
	size_t i;
	bool same;

	for (i = 0; i + klen <= rec->signed_len; i++) {
		if (memcmp(line + i, key, klen) == 0) {
			p = line + i + klen;
			break;
		}
	}
	if (p == NULL ||
	    jsonx_parse_object("data", p, rec->signed_len - (size_t)(p - line),
	        8, &d, &sub) != 0)
		return err_set(msg, SIGNET_ERR_FORMAT,
		    "record data is not the member before sig (not a line a "
		    "signet writer makes)");
	same = cJSON_Compare(d, rec->data, true);
	cJSON_Delete(d);
	if (!same)
		return err_set(msg, SIGNET_ERR_FORMAT,
		    "record data is not the member before sig (not a line a "
		    "signet writer makes)");
	*off = (size_t)(p - line);
	*len = rec->signed_len - *off;
	return 0;
}

/*
 * rec as the export object without schema and log (free()): its members
 * around data, then the data's bytes as recorded (numbers exactly as
 * written, which a parse and print would round past 2^53 / 10^15).
 */
static int
render(const struct audit_record *rec, const char *line,
    const char hash[static AUDIT_HASH_HEX + 1], bool verified, char **out,
    struct err_msg *msg)
{
	cJSON *head = cJSON_CreateObject(), *tail = cJSON_CreateObject();
	char *h = NULL, *t = NULL, when[40];
	size_t off = 0, dlen = 0, hlen, tlen;
	int r;

	*out = NULL;
	r = data_span(rec, line, &off, &dlen, msg);
	if (r != 0)
		goto out;
	when[0] = '\0';
	if (rec->ts <= AUDIT_EXPORT_TIME_MAX)
		(void)clock_format(rec->ts, true, when, sizeof(when));
	if (head == NULL || tail == NULL ||
	    !jsonx_add_int64(head, "seq", (int64_t)rec->seq) ||
	    !jsonx_add_int64(head, "ts", rec->ts) ||
	    (when[0] != '\0' ?
	            cJSON_AddStringToObject(head, "time", when) == NULL :
	            cJSON_AddNullToObject(head, "time") == NULL) ||
	    cJSON_AddStringToObject(head, "event", rec->event) == NULL ||
	    cJSON_AddStringToObject(head, "actor", rec->actor) == NULL ||
	    cJSON_AddStringToObject(head, "severity",
	        audit_mirror_priority_name(
	            audit_mirror_priority(rec->event, NULL))) == NULL ||
	    cJSON_AddStringToObject(tail, "hash", hash) == NULL ||
	    cJSON_AddStringToObject(tail, "prev", rec->prev) == NULL ||
	    cJSON_AddBoolToObject(tail, "verified", verified) == NULL ||
	    (h = jsonx_print(head)) == NULL ||
	    (t = jsonx_print(tail)) == NULL) {
		r = err_set(msg, SIGNET_ERR_ALLOC, "out of memory");
		goto out;
	}
	/* h is {...} and t is {...}: {h-members,"data":D,t-members} */
	hlen = strlen(h);
	tlen = strlen(t);
	*out = malloc(hlen + 8 + dlen + tlen + 1);
	if (*out == NULL) {
		r = err_set(msg, SIGNET_ERR_ALLOC, "out of memory");
		goto out;
	}
	memcpy(*out, h, hlen - 1);
	memcpy(*out + hlen - 1, ",\"data\":", 8);
	memcpy(*out + hlen + 7, line + off, dlen);
	(*out)[hlen + 7 + dlen] = ',';
	memcpy(*out + hlen + 8 + dlen, t + 1, tlen);
	r = 0;
out:
	free(h);
	free(t);
	cJSON_Delete(head);
	cJSON_Delete(tail);
	return r;
}

int
audit_export_record(struct audit_export *x, const struct audit_record *rec,
    const char *line, const char hash[static AUDIT_HASH_HEX + 1], bool verified,
    struct err_msg *msg)
{
	char *rest = NULL;
	int r;

	if (!x->decided && learn_writer(x, rec)) {
		r = decide(x, msg);
		if (r != 0)
			return r;
	}
	if (!audit_export_match(&x->filter, rec))
		return 0;
	r = render(rec, line, hash, verified, &rest, msg);
	if (r != 0)
		return r;
	if (!x->decided) {
		if (x->nheld < AUDIT_EXPORT_HOLD) {
			x->held[x->nheld++] = rest;
			return 0;
		}
		r = decide(x, msg);
		if (r != 0)
			goto out;
	}
	r = emit(x, rest, msg);
out:
	free(rest);
	return r;
}

int
audit_export_finish(struct audit_export *x, struct err_msg *msg)
{
	int r = 0;

	if (!x->decided)
		r = decide(x, msg);
	if (r == 0 && fflush(x->out) != 0)
		r = err_set(msg, SIGNET_ERR_IO, "cannot write the export: %s",
		    strerror(errno));
	return r;
}

uint64_t
audit_export_count(const struct audit_export *x)
{
	return x != NULL ? x->written : 0;
}

void
audit_export_free(struct audit_export *x)
{
	size_t i;

	if (x == NULL)
		return;
	for (i = 0; i < x->nheld; i++)
		free(x->held[i]);
	free(x->logj);
	free(x);
}
