/* SPDX-License-Identifier: ISC */
/*
 * Certificate expiry (common/cert_expiry.c) on a made-up clock: the whole
 * days left (rounded down, negative once expired), the state against the
 * warning window, what is logged at startup, on the first look, when
 * crossing into the window or expiring, once a day as a repeat and
 * nothing in between; reading a certificate's notAfter and CN (and bad
 * files); the Prometheus label escaping and the gauges (the server's
 * /metrics with them: test_metrics.c). The log lines are read back from
 * stderr.
 */
#include "cert_expiry.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "log.h"
#include "testlib.h"

#define DAY 86400
#define HOUR 3600
#define T0 1900000000LL /* 2030-03-17T17:46:40Z */

static char logpath[] = "/tmp/signet-test-certexpiry.XXXXXX";
static int saved_stderr = -1;
static long log_off;

/* The log text written since the last call. */
static const char *
new_log(void)
{
	static char buf[8192];
	FILE *f;
	size_t n;

	(void)fflush(stderr);
	buf[0] = '\0';
	f = fopen(logpath, "r");
	if (f == NULL)
		return buf;
	if (fseek(f, log_off, SEEK_SET) == 0) {
		n = fread(buf, 1, sizeof(buf) - 1, f);
		buf[n] = '\0';
		log_off += (long)n;
	}
	(void)fclose(f);
	return buf;
}

static void
test_days(void)
{
	/* Whole days, rounded down. */
	CHECK(cert_expiry_days_left(T0 + 5 * DAY, T0) == 5);
	CHECK(cert_expiry_days_left(T0 + 5 * DAY + 1, T0) == 5);
	CHECK(cert_expiry_days_left(T0 + 5 * DAY - 1, T0) == 4);
	CHECK(cert_expiry_days_left(T0 + 1, T0) == 0);
	CHECK(cert_expiry_days_left(T0, T0) == 0);
	/* Negative once expired: the first day after is -1, not 0. */
	CHECK(cert_expiry_days_left(T0 - 1, T0) == -1);
	CHECK(cert_expiry_days_left(T0 - DAY, T0) == -1);
	CHECK(cert_expiry_days_left(T0 - DAY - 1, T0) == -2);
	CHECK(cert_expiry_days_left(T0 - 365 * DAY, T0) == -365);
	/* Absurd times do not overflow. */
	CHECK(cert_expiry_days_left(INT64_MAX, INT64_MIN) == 0);
	CHECK(cert_expiry_days_left(INT64_MIN, T0) == 0);

	CHECK(cert_expiry_state(0, T0, 30) == CERT_EXPIRY_UNKNOWN);
	CHECK(cert_expiry_state(-5, T0, 30) == CERT_EXPIRY_UNKNOWN);
	CHECK(cert_expiry_state(T0 + 30 * DAY, T0, 30) == CERT_EXPIRY_VALID);
	CHECK(cert_expiry_state(T0 + 30 * DAY - 1, T0, 30) ==
	    CERT_EXPIRY_EXPIRING);
	CHECK(cert_expiry_state(T0 + 1, T0, 30) == CERT_EXPIRY_EXPIRING);
	CHECK(cert_expiry_state(T0, T0, 30) == CERT_EXPIRY_EXPIRED);
	CHECK(cert_expiry_state(T0 + 2 * DAY, T0, 1) == CERT_EXPIRY_VALID);
	CHECK(
	    cert_expiry_state(T0 + 364 * DAY, T0, 365) == CERT_EXPIRY_EXPIRING);
	/* Out of range: the default, 30 days. */
	CHECK(cert_expiry_state(T0 + 29 * DAY, T0, 0) == CERT_EXPIRY_EXPIRING);
	CHECK(cert_expiry_state(T0 + 31 * DAY, T0, 0) == CERT_EXPIRY_VALID);
	CHECK(cert_expiry_state(T0 + 31 * DAY, T0, 366) == CERT_EXPIRY_VALID);
	CHECK(cert_expiry_state(T0 + 29 * DAY, T0, -1) == CERT_EXPIRY_EXPIRING);
}

/* One look at now; returns the level and leaves the lines in *text. */
static int
look(struct cert_expiry *w, const char *role, const char *name, int64_t na,
    int64_t now, unsigned flags, const char *when, const char **text)
{
	int level;

	(void)new_log();
	level = cert_expiry_check(w, role, name, na, now, 30, flags, when);
	*text = new_log();
	return level;
}

static void
test_reports(void)
{
	struct cert_expiry w;
	const char *t;
	int64_t na = T0 + 40 * DAY, now = T0;

	cert_expiry_init(&w);
	/* Valid at startup: said at info level when asked to. */
	CHECK(look(&w, "server", "signet-server", na, now,
	          CERT_EXPIRY_FORCE | CERT_EXPIRY_SAY_VALID, "startup",
	          &t) == LOG_LVL_INFO);
	CHECK_CONTAINS(t,
	    " info signet-server: cert_expiry_check: startup: server "
	    "certificate signet-server valid until 2030-04-26T17:46:40Z (40 "
	    "days left)\n");
	/* Valid, forced without SAY_VALID (an agent at SIGHUP): quiet. */
	CHECK(look(&w, "server", "signet-server", na, now, CERT_EXPIRY_FORCE,
	          "SIGHUP", &t) == -1);
	CHECK(t[0] == '\0');
	/* Valid: nothing on a plain look. */
	CHECK(look(&w, "server", "signet-server", na, now + HOUR, 0, "check",
	          &t) == -1);
	CHECK(t[0] == '\0');
	/* Crossing into the window: warned at once. */
	now = na - 30 * DAY + 1;
	CHECK(look(&w, "server", "signet-server", na, now, 0, "check", &t) ==
	    LOG_LVL_WARN);
	CHECK_CONTAINS(t,
	    " warn signet-server: cert_expiry_check: check: server "
	    "certificate signet-server expires at 2030-04-26T17:46:40Z (29 "
	    "days left, within the 30-day warning window): renew it before "
	    "then (signet-pki renew NAME");
	/* Not again within the day... */
	CHECK(look(&w, "server", "signet-server", na, now + HOUR, 0, "check",
	          &t) == -1);
	CHECK(look(&w, "server", "signet-server", na, now + DAY - 1, 0, "check",
	          &t) == -1);
	CHECK(t[0] == '\0');
	/* ...but a day later, and at any SIGHUP. */
	CHECK(look(&w, "server", "signet-server", na, now + DAY, 0, "check",
	          &t) == LOG_LVL_WARN);
	CHECK_CONTAINS(t, "(28 days left, within");
	CHECK(look(&w, "server", "signet-server", na, now + DAY + 1,
	          CERT_EXPIRY_FORCE, "SIGHUP", &t) == LOG_LVL_WARN);
	CHECK_CONTAINS(t, "SIGHUP: server certificate");
	/* The last day: 0 days left, 1 day left says "day". */
	CHECK(look(&w, "server", "signet-server", na, na - DAY - 5,
	          CERT_EXPIRY_FORCE, "SIGHUP", &t) == LOG_LVL_WARN);
	CHECK_CONTAINS(t, "(1 day left,");
	CHECK(look(&w, "server", "signet-server", na, na - 5, CERT_EXPIRY_FORCE,
	          "SIGHUP", &t) == LOG_LVL_WARN);
	CHECK_CONTAINS(t, "(0 days left,");
	/* Expired: an error at once (a change of state), then daily. */
	CHECK(look(&w, "server", "signet-server", na, na, 0, "check", &t) ==
	    LOG_LVL_ERROR);
	CHECK_CONTAINS(t,
	    " error signet-server: cert_expiry_check: check: server "
	    "certificate signet-server expired at 2030-04-26T17:46:40Z (0 days "
	    "ago)");
	CHECK(look(&w, "server", "signet-server", na, na + HOUR, 0, "check",
	          &t) == -1);
	CHECK(look(&w, "server", "signet-server", na, na + DAY, 0, "check",
	          &t) == LOG_LVL_ERROR);
	CHECK_CONTAINS(t, "(1 day ago)");
	/* A renewed certificate is said at once, whatever the repeat. */
	CHECK(look(&w, "server", "signet-server", na + 20 * DAY, na + DAY + 1,
	          0, "check", &t) == LOG_LVL_WARN);
	CHECK_CONTAINS(t, "(18 days left");

	/* An agent's first look within the window warns, without force. */
	cert_expiry_init(&w);
	CHECK(look(&w, "agent", "web-01", T0 + 5 * DAY, T0, 0, "hello", &t) ==
	    LOG_LVL_WARN);
	CHECK_CONTAINS(t,
	    "hello: agent certificate web-01 expires at 2030-03-22T17:46:40Z "
	    "(5 days left, within the 30-day warning window): renew it before "
	    "then (signet-pki renew HOST-ID");
	/* Reconnecting (another hello) the same hour: quiet. */
	CHECK(look(&w, "agent", "web-01", T0 + 5 * DAY, T0 + 60, 0, "hello",
	          &t) == -1);
	/* A first look at a valid one: quiet. */
	cert_expiry_init(&w);
	CHECK(look(&w, "agent", "web-02", T0 + 365 * DAY, T0, 0, "hello", &t) ==
	    -1);
	CHECK(t[0] == '\0');
	/* Unknown notAfter: never said. */
	cert_expiry_init(&w);
	CHECK(look(&w, "agent", "web-03", 0, T0,
	          CERT_EXPIRY_FORCE | CERT_EXPIRY_SAY_VALID, "startup",
	          &t) == -1);
	/* A hostile name is escaped; the CA and own wording. */
	cert_expiry_init(&w);
	CHECK(look(&w, "ca", "Evil\nCA", T0 + DAY, T0, 0, "startup", &t) ==
	    LOG_LVL_WARN);
	CHECK_CONTAINS(t, "CA certificate Evil\\x0aCA expires at");
	CHECK_CONTAINS(t, "(a CA is not renewed in place: make the new CA");
	cert_expiry_init(&w);
	CHECK(look(&w, "agent_self", "", T0 + DAY, T0, 0, "startup", &t) ==
	    LOG_LVL_WARN);
	CHECK_CONTAINS(t, "startup: own certificate (no CN) expires at");
}

static void
test_label(void)
{
	char out[32], tiny[4];

	CHECK(strcmp(cert_expiry_label("web-01", out, sizeof(out)), "web-01") ==
	    0);
	CHECK(strcmp(cert_expiry_label("a\"b\\c\nd", out, sizeof(out)),
	          "a\\\"b\\\\c\\nd") == 0);
	CHECK(strcmp(cert_expiry_label("t\tx\x7fy\r", out, sizeof(out)),
	          "t?x?y?") == 0);
	CHECK(strcmp(cert_expiry_label(NULL, out, sizeof(out)), "") == 0);
	CHECK(strcmp(cert_expiry_label("", out, sizeof(out)), "") == 0);
	/* UTF-8 passes as is. */
	CHECK(strcmp(cert_expiry_label("h\xc3\xa9", out, sizeof(out)),
	          "h\xc3\xa9") == 0);
	/* Cut to fit, never inside an escape. */
	CHECK(
	    strcmp(cert_expiry_label("abcdef", tiny, sizeof(tiny)), "ab") == 0);
	CHECK(
	    strcmp(cert_expiry_label("a\"", tiny, sizeof(tiny)), "a\\\"") == 0);
	CHECK(
	    strcmp(cert_expiry_label("\"x", tiny, sizeof(tiny)), "\\\"") == 0);
	CHECK(strcmp(cert_expiry_label("xyz", tiny, 1), "") == 0);
}

static void
test_render(void)
{
	struct cert_expiry_row rows[] = {
		{ "server", "signet-server", T0 + 100 * DAY },
		{ "ca", "signet \"CA\"", T0 + 3650 * DAY },
		{ "agent", "web-01", T0 + 5 * DAY },
		{ "agent", "old-01", T0 - 1 },
		{ "agent", "new\\01", 0 },
	};
	struct dynbuf b;

	dynbuf_init(&b, 65536);
	CHECK(cert_expiry_render(&b, rows, 5, T0, 30) == 0);
	CHECK_CONTAINS(dynbuf_ptr(&b),
	    "# TYPE signet_cert_expiry_timestamp_seconds gauge\n"
	    "signet_cert_expiry_timestamp_seconds{role=\"server\","
	    "name=\"signet-server\"} 1908640000\n"
	    "signet_cert_expiry_timestamp_seconds{role=\"ca\","
	    "name=\"signet \\\"CA\\\"\"} 2215360000\n"
	    "signet_cert_expiry_timestamp_seconds{role=\"agent\","
	    "name=\"web-01\"} 1900432000\n"
	    "signet_cert_expiry_timestamp_seconds{role=\"agent\","
	    "name=\"old-01\"} 1899999999\n"
	    "signet_cert_expiry_timestamp_seconds{role=\"agent\","
	    "name=\"new\\\\01\"} 0\n"
	    "# HELP signet_cert_expiring 1 when the certificate expires within "
	    "[tls] expiry_warn_days (30 days here) or has expired: renew it.\n"
	    "# TYPE signet_cert_expiring gauge\n"
	    "signet_cert_expiring{role=\"server\",name=\"signet-server\"} 0\n"
	    "signet_cert_expiring{role=\"ca\",name=\"signet \\\"CA\\\"\"} 0\n"
	    "signet_cert_expiring{role=\"agent\",name=\"web-01\"} 1\n"
	    "signet_cert_expiring{role=\"agent\",name=\"old-01\"} 1\n"
	    "signet_cert_expiring{role=\"agent\",name=\"new\\\\01\"} 0\n");
	CHECK(strncmp(dynbuf_ptr(&b),
	          "# HELP signet_cert_expiry_timestamp_seconds ", 44) == 0);
	/* No rows: the families' HELP and TYPE only. */
	dynbuf_reset(&b);
	CHECK(cert_expiry_render(&b, NULL, 0, T0, 400) == 0);
	CHECK(strstr(dynbuf_ptr(&b), "{") == NULL);
	CHECK_CONTAINS(dynbuf_ptr(&b), "(30 days here)");
	/* A full buffer is an error, never a cut exposition. */
	dynbuf_free(&b);
	dynbuf_init(&b, 100);
	CHECK(cert_expiry_render(&b, rows, 5, T0, 30) == SIGNET_ERR_TOO_LARGE);
	dynbuf_free(&b);
}

/* A self-signed P-256 certificate with CN cn and notAfter na into path. */
static int
make_cert(const char *path, const char *cn, int64_t na)
{
	EVP_PKEY *k = EVP_EC_gen("P-256");
	X509 *x = X509_new();
	X509_NAME *n;
	FILE *f = NULL;
	int ok;

	ok = k != NULL && x != NULL && X509_set_version(x, 2) == 1 &&
	    ASN1_INTEGER_set(X509_get_serialNumber(x), 1) == 1 &&
	    X509_gmtime_adj(X509_getm_notBefore(x), 0) != NULL &&
	    ASN1_TIME_set(X509_getm_notAfter(x), (time_t)na) != NULL &&
	    X509_set_pubkey(x, k) == 1;
	n = ok ? X509_get_subject_name(x) : NULL;
	ok = ok && n != NULL &&
	    (cn == NULL ||
	        X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC,
	            (const unsigned char *)cn, -1, -1, 0) == 1) &&
	    X509_set_issuer_name(x, n) == 1 &&
	    X509_sign(x, k, EVP_sha256()) > 0;
	f = ok ? fopen(path, "w") : NULL;
	ok = f != NULL && PEM_write_X509(f, x) == 1;
	if (f != NULL && fclose(f) != 0)
		ok = false;
	X509_free(x);
	EVP_PKEY_free(k);
	return ok ? 0 : -1;
}

static int
write_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	int ok = f != NULL && fputs(text, f) >= 0;

	if (f != NULL && fclose(f) != 0)
		ok = 0;
	return ok ? 0 : -1;
}

static void
test_read(void)
{
	char dir[] = "/tmp/signet-test-certexpiry-d.XXXXXX", path[128],
	     cn[CERT_EXPIRY_NAME_MAX + 1];
	struct err_msg msg;
	int64_t na = 7;

	CHECK(mkdtemp(dir) != NULL);
	(void)snprintf(path, sizeof(path), "%s/c.pem", dir);
	CHECK(make_cert(path, "web-01", T0 + 5 * DAY) == 0);
	CHECK(cert_expiry_read(path, &na, cn, &msg) == 0);
	CHECK(na == T0 + 5 * DAY && strcmp(cn, "web-01") == 0);
	/* No CN: "" and the date all the same. */
	CHECK(make_cert(path, NULL, T0) == 0);
	CHECK(cert_expiry_read(path, &na, cn, &msg) == 0);
	CHECK(na == T0 && cn[0] == '\0');
	/* Bad files: zeroed, and said which. */
	CHECK(write_text(path, "not a certificate\n") == 0);
	CHECK(cert_expiry_read(path, &na, cn, &msg) == SIGNET_ERR_FORMAT);
	CHECK(na == 0 && cn[0] == '\0');
	CHECK_CONTAINS(msg.text, "c.pem: no readable PEM certificate");
	CHECK(write_text(path,
	          "-----BEGIN CERTIFICATE-----\nAAAA\n"
	          "-----END CERTIFICATE-----\n") == 0);
	CHECK(cert_expiry_read(path, &na, cn, &msg) == SIGNET_ERR_FORMAT);
	CHECK(write_text(path, "") == 0);
	CHECK(cert_expiry_read(path, &na, cn, &msg) == SIGNET_ERR_FORMAT);
	CHECK(unlink(path) == 0);
	na = 9;
	CHECK(cert_expiry_read(path, &na, cn, &msg) == SIGNET_ERR_IO);
	CHECK(na == 0);
	CHECK_CONTAINS(msg.text, "No such file");
	CHECK(cert_expiry_read(NULL, &na, cn, &msg) == SIGNET_ERR_IO);
	CHECK(rmdir(dir) == 0);
}

int
main(void)
{
	int fd;

	/* Log lines go to stderr: into a file we read back. */
	fd = mkstemp(logpath);
	if (fd < 0) {
		perror("mkstemp");
		return 1;
	}
	(void)fflush(stderr);
	saved_stderr = dup(STDERR_FILENO);
	if (saved_stderr < 0 || dup2(fd, STDERR_FILENO) < 0) {
		perror("dup2");
		return 1;
	}
	(void)close(fd);
	log_init("signet-server", LOG_LVL_INFO);

	test_days();
	test_reports();
	test_label();
	test_render();
	test_read();

	(void)fflush(stderr);
	if (dup2(saved_stderr, STDERR_FILENO) < 0)
		return 1;
	(void)close(saved_stderr);
	if (test_failed != 0) {
		/* Show what was logged (and the failures, logged with it). */
		log_off = 0;
		(void)fputs(new_log(), stderr);
	}
	(void)unlink(logpath);
	return test_finish("test_cert_expiry");
}
