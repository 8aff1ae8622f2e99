/* SPDX-License-Identifier: ISC */
/*
 * What the policy tests (tests/unit/test_policy*.c) share: JSON written
 * with ' for " and policy files written the way an admin would. Included
 * by those test files only.
 */
#ifndef SIGNET_TEST_POLICY_FIXTURES_H
#define SIGNET_TEST_POLICY_FIXTURES_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

/* JSON in the tables is written with ' for " to stay readable. */
static inline char *
dq(const char *s)
{
	char *o = strdup(s);
	size_t i;

	if (o == NULL) {
		perror("strdup");
		exit(2);
	}
	for (i = 0; o[i] != '\0'; i++) {
		if (o[i] == '\'')
			o[i] = '"';
	}
	return o;
}

static inline void
write_file(const char *path, const char *content_sq, mode_t mode)
{
	char *c = dq(content_sq);
	FILE *f;

	(void)unlink(path);
	f = fopen(path, "w");
	if (f == NULL) {
		perror(path);
		exit(2);
	}
	fputs(c, f);
	fclose(f);
	if (chmod(path, mode) != 0) {
		perror("chmod");
		exit(2);
	}
	free(c);
}

/* Replaces path atomically, as an admin's editor or tool would. */
static inline void
replace_file(const char *path, const char *content_sq, mode_t mode)
{
	char tmp[512];

	(void)snprintf(tmp, sizeof(tmp), "%s.new", path);
	write_file(tmp, content_sq, mode);
	if (rename(tmp, path) != 0) {
		perror("rename");
		exit(2);
	}
}

/* A good policy: RESTART of web-*, once an hour. */
#define GOOD                                                                   \
	"{'host_id':'h1','rules':[{'match':{'name':'web-*'},"                  \
	"'actions':['RESTART'],'rate_limit':{'max':1,'per_seconds':3600}}]}"

#endif
