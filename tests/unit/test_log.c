/* SPDX-License-Identifier: ISC */
/*
 * The log sink: every event is one line whatever its message holds (a
 * peer's newline or terminal escape shows as \xNN), with the one time
 * format, the level, the program and the function; below the threshold
 * nothing is formatted or written.
 */
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
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

/*
 * JOURNAL_STREAM naming stderr's own dev:ino: "<N>" priorities and no time;
 * naming another file, or malformed: the plain format.
 */
static void
journal_cases(void)
{
	/* What follows stderr's dev ("D:") in JOURNAL_STREAM, per case. */
	static const struct {
		const char *ino_suffix; /* after the right inode */
		bool bad_ino;           /* another inode */
		bool prefix_x;          /* "x" before it all */
		bool same;              /* names stderr itself */
	} cases[] = {
		{ "", false, false, true },
		{ "", true, false, false },
		{ " ", false, false, false },
		{ ":1", false, false, false },
		{ "", false, true, false },
	};
	char out[4096], env[128];
	struct stat st;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		FILE *tmp = tmpfile();
		int saved = dup(STDERR_FILENO);

		CHECK(tmp != NULL && saved >= 0);
		if (tmp == NULL || saved < 0)
			return;
		fflush(stderr);
		CHECK(dup2(fileno(tmp), STDERR_FILENO) >= 0);
		CHECK(fstat(STDERR_FILENO, &st) == 0);
		(void)snprintf(env, sizeof(env), "%s%ju:%ju%s",
		    cases[i].prefix_x ? "x" : "", (uintmax_t)st.st_dev,
		    (uintmax_t)st.st_ino + (cases[i].bad_ino ? 1 : 0),
		    cases[i].ino_suffix);
		CHECK(setenv("JOURNAL_STREAM", env, 1) == 0);
		log_init("signet-test", LOG_LVL_DEBUG);
		log_error("e %d", 1);
		log_warn("w");
		log_info("i");
		log_debug("d");
		(void)capture_end(tmp, saved, out, sizeof(out));
		if (cases[i].same) {
			CHECKF(
			    strcmp(out,
			        "<3>error signet-test: journal_cases: e 1\n"
			        "<4>warn signet-test: journal_cases: w\n"
			        "<6>info signet-test: journal_cases: i\n"
			        "<7>debug signet-test: journal_cases: d\n") ==
			        0,
			    "JOURNAL_STREAM=%s: %s", env, out);
		} else {
			CHECKF(out[0] == '2' && strchr(out, '<') == NULL,
			    "JOURNAL_STREAM=\"%s\" is not stderr: %s", env,
			    out);
		}
	}
	CHECK(unsetenv("JOURNAL_STREAM") == 0);
	log_init("signet-test", LOG_LVL_INFO);
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
	journal_cases();
	return test_finish("test_log");
}
