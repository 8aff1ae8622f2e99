/* SPDX-License-Identifier: ISC */
/*
 * The log sink: every event is one line whatever its message holds (a
 * peer's newline or terminal escape shows as \xNN), with the one time
 * format, the level, the program and the function; below the threshold
 * nothing is formatted or written.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "testlib.h"

/* What the calls in between wrote to stderr, into out. */
static size_t
capture_end(FILE *tmp, int saved, char *out, size_t cap)
{
	size_t n;

	fflush(stderr);
	CHECK(dup2(saved, STDERR_FILENO) >= 0);
	close(saved);
	rewind(tmp);
	n = fread(out, 1, cap - 1, tmp);
	out[n] = '\0';
	fclose(tmp);
	return n;
}

int
main(void)
{
	char out[8192];
	size_t n, lines = 0, i;
	FILE *tmp = tmpfile();
	int saved = dup(STDERR_FILENO);

	CHECK(tmp != NULL && saved >= 0);
	if (tmp == NULL || saved < 0)
		return test_finish("test_log");
	fflush(stderr);
	CHECK(dup2(fileno(tmp), STDERR_FILENO) >= 0);
	log_init("signet-test", LOG_LVL_INFO);
	log_info("peer says \"%s\"", "hi\nFAKE 2026-01-01T00:00:00Z error x");
	log_warn("%s", "\x1b[2Jcleared");
	log_debug("not shown %d", 1);
	n = capture_end(tmp, saved, out, sizeof(out));
	for (i = 0; i < n; i++)
		if (out[i] == '\n')
			lines++;
	CHECKF(lines == 2, "%zu lines: %s", lines, out);
	CHECK_CONTAINS(out, "info signet-test: main: peer says \"hi\\x0aFAKE");
	CHECK_CONTAINS(out, "warn signet-test: main: \\x1b[2Jcleared");
	CHECK(strstr(out, "not shown") == NULL);
	CHECK(strchr(out, '\x1b') == NULL);
	/* "2026-12-04T22:40:52.107Z info ...": the one time format. */
	CHECK(n > 25 && out[4] == '-' && out[10] == 'T' && out[19] == '.' &&
	    out[23] == 'Z' && out[24] == ' ');
	return test_finish("test_log");
}
