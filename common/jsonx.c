/* SPDX-License-Identifier: ISC */
/* Strict parsing and typed access for JSON from untrusted sources. */
#include "jsonx.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "text.h"

/* Finds "\u0000" (any hex case) outside of an escaped backslash. */
static bool
has_nul_escape(const char *p, size_t len)
{
	size_t i;

	for (i = 0; i + 1 < len; i++) {
		if (p[i] != '\\')
			continue;
		if (p[i + 1] == 'u' && len - i >= 6 && p[i + 2] == '0' &&
		    p[i + 3] == '0' && p[i + 4] == '0' && p[i + 5] == '0')
			return true;
		i++; /* skip the escaped character, e.g. "\\" */
	}
	return false;
}

/* Below this many members a pairwise look for duplicates is quicker. */
#define JSONX_SORT_MIN 16

static int
cmp_names(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int
duplicate(const char *name, const char *what, struct err_msg *msg)
{
	char esc[96];

	return err_set(msg, SIGNET_ERR_FORMAT, "%s: duplicate key \"%s\"", what,
	    text_escape_str(name, esc, sizeof(esc)));
}

/*
 * Refuses an object with an unnamed member or two members of one name.
 * Large objects are sorted by name first: a pairwise look is quadratic, and
 * a peer's 1 MiB frame of distinct labels would hold a thread for seconds.
 */
static int
check_names(const cJSON *obj, const char *what, struct err_msg *msg)
{
	const cJSON *a, *b;
	const char **names = NULL;
	size_t n = 0, i;
	int r = 0;

	for (a = obj->child; a != NULL; a = a->next, n++) {
		if (a->string == NULL)
			return err_set(msg, SIGNET_ERR_FORMAT,
			    "%s: member without a name", what);
	}
	if (n < JSONX_SORT_MIN) {
		for (a = obj->child; a != NULL; a = a->next)
			for (b = a->next; b != NULL; b = b->next)
				if (strcmp(a->string, b->string) == 0)
					return duplicate(a->string, what, msg);
		return 0;
	}
	names = malloc(n * sizeof(*names));
	if (names == NULL)
		return err_set(msg, SIGNET_ERR_ALLOC, "%s: out of memory",
		    what);
	for (i = 0, a = obj->child; a != NULL; a = a->next)
		names[i++] = a->string;
	qsort(names, n, sizeof(*names), cmp_names);
	for (i = 1; i < n && r == 0; i++)
		if (strcmp(names[i - 1], names[i]) == 0)
			r = duplicate(names[i], what, msg);
	free(names);
	return r;
}

static int
check_tree(const cJSON *item, int depth, int max_depth, const char *what,
    struct err_msg *msg)
{
	const cJSON *a;
	int r;

	if (depth > max_depth)
		return err_set(msg, SIGNET_ERR_FORMAT,
		    "%s: JSON nested deeper than %d levels", what, max_depth);
	if (!cJSON_IsObject(item) && !cJSON_IsArray(item))
		return 0;
	if (cJSON_IsObject(item)) {
		r = check_names(item, what, msg);
		if (r != 0)
			return r;
	}
	for (a = item->child; a != NULL; a = a->next) {
		r = check_tree(a, depth + 1, max_depth, what, msg);
		if (r != 0)
			return r;
	}
	return 0;
}

int
jsonx_parse_object(const char *what, const void *buf, size_t len, int max_depth,
    cJSON **out, struct err_msg *msg)
{
	const char *end = NULL;
	cJSON *root = NULL;
	int r;

	*out = NULL;
	if (len == 0)
		return err_set(msg, SIGNET_ERR_FORMAT, "%s: empty", what);
	if (!text_utf8_valid(buf, len))
		return err_set(msg, SIGNET_ERR_FORMAT, "%s: not valid UTF-8",
		    what);
	if (memchr(buf, '\0', len) != NULL || has_nul_escape(buf, len))
		return err_set(msg, SIGNET_ERR_FORMAT, "%s: holds a NUL", what);
	root = cJSON_ParseWithLengthOpts(buf, len, &end, false);
	if (root == NULL) {
		size_t off = 0;
		/*
		 * cJSON sets end to where parsing failed. Not
		 * cJSON_GetErrorPtr(): that one is process-wide, and another
		 * thread's parse (the verifier parses on every CPU) overwrites
		 * it between the failure and this read.
		 */
		if (end != NULL && end >= (const char *)buf &&
		    end <= (const char *)buf + len)
			off = (size_t)(end - (const char *)buf);
		return err_set(msg, SIGNET_ERR_FORMAT,
		    "%s: malformed JSON near byte %zu", what, off);
	}
	/* Only whitespace may follow the document. */
	while (end < (const char *)buf + len &&
	    (*end == ' ' || *end == '\n' || *end == '\r' || *end == '\t'))
		end++;
	if (end != (const char *)buf + len) {
		r = err_set(msg, SIGNET_ERR_FORMAT,
		    "%s: unexpected bytes after the JSON document", what);
		goto out;
	}
	if (!cJSON_IsObject(root)) {
		r = err_set(msg, SIGNET_ERR_FORMAT, "%s: not a JSON object",
		    what);
		goto out;
	}
	r = check_tree(root, 1, max_depth, what, msg);
	if (r != 0)
		goto out;
	*out = root;
	root = NULL;
out:
	cJSON_Delete(root);
	return r;
}

int
jsonx_only_members(const cJSON *obj, const char *const allowed[],
    const char *path, struct err_msg *msg)
{
	const cJSON *m;
	size_t i;

	for (m = obj->child; m != NULL; m = m->next) {
		bool known = false;
		for (i = 0; allowed[i] != NULL; i++) {
			if (strcmp(m->string, allowed[i]) == 0) {
				known = true;
				break;
			}
		}
		if (!known) {
			char esc[96];
			return err_set(msg, SIGNET_ERR_FORMAT,
			    "%s: unknown key \"%s\"", path,
			    text_escape_str(m->string, esc, sizeof(esc)));
		}
	}
	return 0;
}

int
jsonx_get_string(const cJSON *obj, const char *key, bool optional,
    const char *path, const char **out, struct err_msg *msg)
{
	const cJSON *m = cJSON_GetObjectItemCaseSensitive(obj, key);

	*out = NULL;
	if (m == NULL || (optional && cJSON_IsNull(m))) {
		if (optional)
			return 0;
		return err_set(msg, SIGNET_ERR_FORMAT, "%s.%s: missing", path,
		    key);
	}
	if (!cJSON_IsString(m) || m->valuestring == NULL)
		return err_set(msg, SIGNET_ERR_FORMAT,
		    "%s.%s: must be a string", path, key);
	*out = m->valuestring;
	return 0;
}

int
jsonx_get_int64(const cJSON *obj, const char *key, int64_t min, int64_t max,
    const char *path, int64_t *out, struct err_msg *msg)
{
	const cJSON *m = cJSON_GetObjectItemCaseSensitive(obj, key);
	double d;

	*out = 0;
	if (m == NULL)
		return err_set(msg, SIGNET_ERR_FORMAT, "%s.%s: missing", path,
		    key);
	if (!cJSON_IsNumber(m))
		return err_set(msg, SIGNET_ERR_FORMAT,
		    "%s.%s: must be an integer", path, key);
	d = m->valuedouble;
	if (!isfinite(d) || d != floor(d) || d < -(double)JSONX_INT_MAX ||
	    d > (double)JSONX_INT_MAX)
		return err_set(msg, SIGNET_ERR_FORMAT,
		    "%s.%s: must be an integer", path, key);
	if ((int64_t)d < min || (int64_t)d > max)
		return err_set(msg, SIGNET_ERR_FORMAT,
		    "%s.%s: %lld is outside %lld..%lld", path, key,
		    (long long)d, (long long)min, (long long)max);
	*out = (int64_t)d;
	return 0;
}

int
jsonx_get_object(const cJSON *obj, const char *key, const char *path,
    const cJSON **out, struct err_msg *msg)
{
	const cJSON *m = cJSON_GetObjectItemCaseSensitive(obj, key);

	*out = NULL;
	if (m == NULL)
		return err_set(msg, SIGNET_ERR_FORMAT, "%s.%s: missing", path,
		    key);
	if (!cJSON_IsObject(m))
		return err_set(msg, SIGNET_ERR_FORMAT,
		    "%s.%s: must be an object", path, key);
	*out = m;
	return 0;
}

bool
jsonx_add_int64(cJSON *obj, const char *key, int64_t value)
{
	char digits[24];

	(void)snprintf(digits, sizeof(digits), "%lld", (long long)value);
	return cJSON_AddRawToObject(obj, key, digits) != NULL;
}

char *
jsonx_print(const cJSON *item)
{
	return cJSON_PrintUnformatted(item);
}
