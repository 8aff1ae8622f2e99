/* SPDX-License-Identifier: ISC */
/*
 * libFuzzer harness for the reviewer's HTML report (cli/reconcile_html.h),
 * whose input is strings from hostile logs. Two ways per input: its bytes
 * (up to the first NUL) as an action's reason, where the shown text must
 * be well-formed UTF-8 with no markup character, quote or control byte;
 * and the input parsed as JSON and rendered as both the summary and an
 * action, which must render without a crash whatever its shape.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "reconcile_html.h"
#include "text.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Renders summary and one action into a new string; aborts on failure. */
static char *
render(const cJSON *summary, const cJSON *action)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	if (f == NULL)
		abort();
	if (reconcile_html_begin(f, summary) != 0 ||
	    reconcile_html_action(f, action) != 0 ||
	    reconcile_html_end(f) != 0 || fclose(f) != 0)
		abort();
	return buf;
}

/* The reason as shown must be inert text. */
static void
check_reason(const char *html)
{
	static const char key[] = "<dt>Reason</dt><dd>";
	const char *p = strstr(html, key), *e;
	size_t i, n;

	if (p == NULL)
		abort();
	p += sizeof(key) - 1;
	/* The only markup inside is the cut note, after the text. */
	e = strstr(p, "<span class=\"cut\">");
	if (e == NULL || e > strstr(p, "</dd>"))
		e = strstr(p, "</dd>");
	if (e == NULL)
		abort();
	n = (size_t)(e - p);
	if (!text_utf8_valid(p, n))
		abort();
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)p[i];

		if (c < 0x20 || c == 0x7f || c == '<' || c == '>' || c == '"' ||
		    c == '\'')
			abort();
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);
	cJSON *a = NULL, *doc = NULL;
	char *html;

	if (s == NULL)
		abort();
	memcpy(s, data, size);
	s[size] = '\0';

	a = cJSON_CreateObject();
	if (a == NULL || cJSON_AddStringToObject(a, "reason", s) == NULL)
		abort();
	html = render(NULL, a);
	check_reason(html);
	free(html);

	doc = cJSON_ParseWithLength((const char *)data, size);
	if (doc != NULL) {
		html = render(doc, doc);
		free(html);
	}
	cJSON_Delete(doc);
	cJSON_Delete(a);
	free(s);
	return 0;
}
