/* SPDX-License-Identifier: ISC */
/*
 * Certificate expiry (cert_expiry.h): the day arithmetic, the log reports
 * and their rate limit, reading a certificate's notAfter and CN, and the
 * Prometheus rendering of the expiry gauges.
 */
#include "cert_expiry.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "clock.h"
#include "identity.h"
#include "log.h"
#include "text.h"

#define DAY_SECS 86400

int64_t
cert_expiry_days_left(int64_t not_after, int64_t now)
{
	int64_t d;

	/* Both are sane unix times: the difference cannot overflow. */
	if (not_after > INT64_MAX / 2 || not_after < INT64_MIN / 2 ||
	    now > INT64_MAX / 2 || now < INT64_MIN / 2)
		return 0;
	d = not_after - now;
	/* C rounds toward zero; round down. */
	if (d < 0 && d % DAY_SECS != 0)
		return d / DAY_SECS - 1;
	return d / DAY_SECS;
}

/* warn_days within its range, else the default. */
static int64_t
window_secs(int warn_days)
{
	if (warn_days < CERT_EXPIRY_WARN_DAYS_MIN ||
	    warn_days > CERT_EXPIRY_WARN_DAYS_MAX)
		warn_days = CERT_EXPIRY_WARN_DAYS_DEFAULT;
	return (int64_t)warn_days * DAY_SECS;
}

enum cert_expiry_state
cert_expiry_state(int64_t not_after, int64_t now, int warn_days)
{
	if (not_after <= 0)
		return CERT_EXPIRY_UNKNOWN;
	if (now >= not_after)
		return CERT_EXPIRY_EXPIRED;
	if (not_after - now < window_secs(warn_days))
		return CERT_EXPIRY_EXPIRING;
	return CERT_EXPIRY_VALID;
}

void
cert_expiry_init(struct cert_expiry *w)
{
	memset(w, 0, sizeof(*w));
}

/* The words for a role in a log line. */
static const char *
role_text(const char *role)
{
	if (strcmp(role, "server") == 0)
		return "server certificate";
	if (strcmp(role, "ca") == 0)
		return "CA certificate";
	if (strcmp(role, "agent") == 0)
		return "agent certificate";
	if (strcmp(role, "agent_self") == 0)
		return "own certificate";
	return "certificate";
}

/* How to renew, by role. */
static const char *
renew_text(const char *role)
{
	if (strcmp(role, "ca") == 0)
		return "a CA is not renewed in place: make the new CA and "
		       "move every certificate to it, see pki/README.md";
	if (strcmp(role, "server") == 0)
		return "signet-pki renew NAME, install the new certificate, "
		       "restart signet-server";
	return "signet-pki renew HOST-ID (or sign-req for a host that made "
	       "its own key), install the new certificate on the host, "
	       "restart signet-agent";
}

int
cert_expiry_check(struct cert_expiry *w, const char *role, const char *name,
    int64_t not_after, int64_t now, int warn_days, unsigned flags,
    const char *when)
{
	enum cert_expiry_state state = cert_expiry_state(not_after, now,
	    warn_days);
	char esc[CERT_EXPIRY_NAME_MAX * 4 + 1], date[40];
	int64_t days = cert_expiry_days_left(not_after, now);
	bool force = (flags & CERT_EXPIRY_FORCE) != 0, report;
	int level = -1;

	if (warn_days < CERT_EXPIRY_WARN_DAYS_MIN ||
	    warn_days > CERT_EXPIRY_WARN_DAYS_MAX)
		warn_days = CERT_EXPIRY_WARN_DAYS_DEFAULT;
	report = force || !w->reported || not_after != w->not_after ||
	    state != w->state || now >= w->next_repeat;
	if (report) {
		(void)text_escape_str(
		    name != NULL && name[0] != '\0' ? name : "(no CN)", esc,
		    sizeof(esc));
		(void)clock_format_date(not_after, date, sizeof(date));
		switch (state) {
		case CERT_EXPIRY_UNKNOWN: break;
		case CERT_EXPIRY_VALID:
			if (!force || (flags & CERT_EXPIRY_SAY_VALID) == 0)
				break;
			log_info("%s: %s %s valid until %s (%lld day%s left)",
			    when, role_text(role), esc, date, (long long)days,
			    days == 1 ? "" : "s");
			level = LOG_LVL_INFO;
			break;
		case CERT_EXPIRY_EXPIRING:
			log_warn("%s: %s %s expires at %s (%lld day%s left, "
			         "within the %d-day warning window): renew it "
			         "before then (%s)",
			    when, role_text(role), esc, date, (long long)days,
			    days == 1 ? "" : "s", warn_days, renew_text(role));
			level = LOG_LVL_WARN;
			break;
		case CERT_EXPIRY_EXPIRED:
			log_error(
			    "%s: %s %s expired at %s (%lld day%s ago): "
			    "TLS peers refuse it until it is renewed (%s)",
			    when, role_text(role), esc, date, (long long)-days,
			    days == -1 ? "" : "s", renew_text(role));
			level = LOG_LVL_ERROR;
			break;
		}
		/* A valid one is looked at again when it changes state. */
		if (level != -1)
			w->next_repeat = now + CERT_EXPIRY_REPEAT_SECS;
	}
	w->reported = true;
	w->not_after = not_after;
	w->state = state;
	return level;
}

int
cert_expiry_read(const char *path, int64_t *not_after,
    char cn[static CERT_EXPIRY_NAME_MAX + 1], struct err_msg *msg)
{
	char esc[256];
	X509 *x = NULL;
	FILE *f = NULL;
	int r;

	*not_after = 0;
	cn[0] = '\0';
	(void)text_escape_str(path != NULL ? path : "(none)", esc, sizeof(esc));
	f = path != NULL ? fopen(path, "r") : NULL;
	if (f == NULL) {
		r = err_set(msg, SIGNET_ERR_IO, "%s: %s", esc,
		    path != NULL ? strerror(errno) : "no path");
		goto out;
	}
	x = PEM_read_X509(f, NULL, NULL, NULL);
	if (x == NULL || identity_x509_not_after(x, not_after) != 0) {
		*not_after = 0;
		r = err_set(msg, SIGNET_ERR_FORMAT,
		    "%s: no readable PEM certificate", esc);
		goto out;
	}
	if (X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName,
	        cn, CERT_EXPIRY_NAME_MAX + 1) < 0)
		cn[0] = '\0';
	r = 0;
out:
	X509_free(x);
	if (f != NULL)
		(void)fclose(f);
	return r;
}

const char *
cert_expiry_label(const char *s, char *out, size_t outlen)
{
	size_t o = 0;

	/* Room for the widest piece (an escape: 2 bytes) and the NUL. */
	for (; s != NULL && *s != '\0' && o + 3 <= outlen; s++) {
		unsigned char ch = (unsigned char)*s;

		if (ch == '\\' || ch == '"') {
			out[o++] = '\\';
			out[o++] = (char)ch;
		} else if (ch == '\n') {
			out[o++] = '\\';
			out[o++] = 'n';
		} else {
			out[o++] = ch < 0x20 || ch == 0x7f ? '?' : (char)ch;
		}
	}
	out[o] = '\0';
	return out;
}

int
cert_expiry_render(struct dynbuf *b, const struct cert_expiry_row *rows,
    size_t n, int64_t now, int warn_days)
{
	char role[64], name[CERT_EXPIRY_NAME_MAX * 2 + 1];
	enum cert_expiry_state st;
	size_t i;
	int r;

	r = dynbuf_addf(b,
	    "# HELP signet_cert_expiry_timestamp_seconds When each "
	    "certificate expires (notAfter, unix time; 0 unknown): role "
	    "server, ca, agent (each connected agent) or agent_self.\n"
	    "# TYPE signet_cert_expiry_timestamp_seconds gauge\n");
	for (i = 0; r == 0 && i < n; i++)
		r = dynbuf_addf(b,
		    "signet_cert_expiry_timestamp_seconds{role=\"%s\","
		    "name=\"%s\"} %lld\n",
		    cert_expiry_label(rows[i].role, role, sizeof(role)),
		    cert_expiry_label(rows[i].name, name, sizeof(name)),
		    (long long)rows[i].not_after);
	if (r == 0)
		r = dynbuf_addf(b,
		    "# HELP signet_cert_expiring 1 when the certificate "
		    "expires within [tls] expiry_warn_days (%d days here) or "
		    "has expired: renew it.\n"
		    "# TYPE signet_cert_expiring gauge\n",
		    (int)(window_secs(warn_days) / DAY_SECS));
	for (i = 0; r == 0 && i < n; i++) {
		st = cert_expiry_state(rows[i].not_after, now, warn_days);
		r = dynbuf_addf(b,
		    "signet_cert_expiring{role=\"%s\",name=\"%s\"} %d\n",
		    cert_expiry_label(rows[i].role, role, sizeof(role)),
		    cert_expiry_label(rows[i].name, name, sizeof(name)),
		    st == CERT_EXPIRY_EXPIRING || st == CERT_EXPIRY_EXPIRED ?
		        1 :
		        0);
	}
	return r;
}
