/* SPDX-License-Identifier: ISC */
/*
 * Tests of loading the host policy from disk (agent/policy_file.c): the
 * file's mode and owner, its directory's, symbolic links, directories,
 * FIFOs, missing and too large files.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "policy.h"
#include "policy_fixtures.h"
#include "testlib.h"

static char tmpdir[] = "/tmp/signet-policy-test.XXXXXX";

static void
test_permissions(void)
{
	char path[256], link[256], sub[256], fifo[256];
	struct policy *p = NULL;
	struct err_msg msg;
	int r;

	(void)snprintf(path, sizeof(path), "%s/policy.json", tmpdir);
	write_file(path, GOOD, 0644);
	r = policy_load(path, "h1", &p, &msg);
	CHECKF(r == 0, "%s", msg.text);
	policy_free(p);
	p = NULL;
	write_file(path, GOOD, 0600);
	r = policy_load(path, NULL, &p, &msg);
	CHECKF(r == 0, "%s", msg.text);
	policy_free(p);
	p = NULL;

	chmod(path, 0664);
	r = policy_load(path, "h1", &p, &msg);
	CHECK(r == SIGNET_ERR_PERMISSIONS && p == NULL);
	CHECK_CONTAINS(msg.text,
	    "policy.json: writable by group or others "
	    "(mode 0664); chmod go-w");
	chmod(path, 0646);
	r = policy_load(path, "h1", &p, &msg);
	CHECK(r == SIGNET_ERR_PERMISSIONS);
	CHECK_CONTAINS(msg.text, "(mode 0646)");
	chmod(path, 0644);

	/* Another owner (needs root to arrange). */
	if (geteuid() == 0) {
		CHECK(chown(path, 12345, 12345) == 0);
		r = policy_load(path, "h1", &p, &msg);
		CHECK(r == SIGNET_ERR_PERMISSIONS);
		CHECK_CONTAINS(msg.text,
		    "owned by uid 12345, not root or this "
		    "program's user (uid 0); chown root");
		CHECK(chown(path, 0, 0) == 0);
	} else {
		printf("skipped: owner check (not root)\n");
	}

	/* Symbolic links, directories, FIFOs, missing files. */
	(void)snprintf(link, sizeof(link), "%s/link.json", tmpdir);
	CHECK(symlink(path, link) == 0);
	r = policy_load(link, "h1", &p, &msg);
	CHECK(r == SIGNET_ERR_PERMISSIONS);
	CHECK_CONTAINS(msg.text, "link.json: is a symbolic link");
	(void)snprintf(sub, sizeof(sub), "%s/dir.json", tmpdir);
	CHECK(mkdir(sub, 0755) == 0);
	r = policy_load(sub, "h1", &p, &msg);
	CHECK(r == SIGNET_ERR_PERMISSIONS);
	CHECK_CONTAINS(msg.text, "dir.json: not a regular file");
	(void)snprintf(fifo, sizeof(fifo), "%s/fifo.json", tmpdir);
	CHECK(mkfifo(fifo, 0600) == 0);
	r = policy_load(fifo, "h1", &p, &msg);
	CHECK(r == SIGNET_ERR_PERMISSIONS);
	CHECK_CONTAINS(msg.text, "not a regular file");
	r = policy_load("/nonexistent/signet/policy.json", "h1", &p, &msg);
	CHECK(r == SIGNET_ERR_NOT_FOUND);
	CHECK_CONTAINS(msg.text, "no such file");

	/* A directory others may write to lets them swap the file... */
	CHECK(chmod(tmpdir, 0777) == 0);
	r = policy_load(path, "h1", &p, &msg);
	CHECK(r == SIGNET_ERR_PERMISSIONS);
	CHECK_CONTAINS(msg.text,
	    "is writable by group or others (mode 0777), "
	    "who could replace the policy; chmod go-w");
	/* ...unless it is sticky, like /tmp. */
	CHECK(chmod(tmpdir, 01777) == 0);
	r = policy_load(path, "h1", &p, &msg);
	CHECKF(r == 0, "%s", msg.text);
	policy_free(p);
	p = NULL;
	CHECK(chmod(tmpdir, 0700) == 0);

	/* Too large on disk. */
	{
		char bigpath[256];
		FILE *f;
		long k;

		(void)snprintf(bigpath, sizeof(bigpath), "%s/big.json", tmpdir);
		f = fopen(bigpath, "w");
		if (f != NULL) {
			for (k = 0; k <= POLICY_FILE_MAX; k++)
				fputc(' ', f);
			fclose(f);
			chmod(bigpath, 0644);
			r = policy_load(bigpath, "h1", &p, &msg);
			CHECK(r == SIGNET_ERR_TOO_LARGE);
			CHECK_CONTAINS(msg.text,
			    "file is 1048577 bytes, more "
			    "than the 1048576 allowed");
			unlink(bigpath);
		}
	}
	unlink(link);
	rmdir(sub);
	unlink(fifo);
	unlink(path);
}

int
main(void)
{
	if (mkdtemp(tmpdir) == NULL) {
		perror("mkdtemp");
		return 2;
	}
	test_permissions();
	(void)rmdir(tmpdir);
	return test_finish("test_policy_file");
}
