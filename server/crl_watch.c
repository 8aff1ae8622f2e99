/* SPDX-License-Identifier: ISC */
/* Log reports on the loaded CRL's expiry: when, how often, what they say. */
#include "crl_watch.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "log.h"
#include "text.h"

/* How to renew, said in every warning and error. */
#define CRL_RENEW_HOW                                                          \
	"signet-pki crl, install the new crl.pem here, "                       \
	"then SIGHUP the server (systemctl reload signet-server)"

void
crl_watch_init(struct crl_watch *w)
{
	memset(w, 0, sizeof(*w));
}

/* "6 days 23 hours", "5 hours 3 minutes", "42 seconds" for secs > 0. */
static const char *
left_text(int64_t secs, char *buf, size_t bufsz)
{
	long long d = secs / 86400, h = secs % 86400 / 3600;
	long long m = secs % 3600 / 60;

	if (d > 0)
		(void)snprintf(buf, bufsz, "%lld day%s %lld hour%s", d,
		    d == 1 ? "" : "s", h, h == 1 ? "" : "s");
	else if (h > 0)
		(void)snprintf(buf, bufsz, "%lld hour%s %lld minute%s", h,
		    h == 1 ? "" : "s", m, m == 1 ? "" : "s");
	else if (m > 0)
		(void)snprintf(buf, bufsz, "%lld minute%s", m,
		    m == 1 ? "" : "s");
	else
		(void)snprintf(buf, bufsz, "%lld second%s", (long long)secs,
		    secs == 1 ? "" : "s");
	return buf;
}

int
crl_watch_check(struct crl_watch *w, const char *path, int64_t last_update,
    int64_t next_update, int64_t now, bool force, const char *when)
{
	enum identity_crl_state state = identity_crl_state(next_update, now);
	char esc[256], date[40], left[64];
	bool report;
	int level = -1;

	report = force || !w->reported || last_update != w->last_update ||
	    next_update != w->next_update || state != w->state ||
	    (state != IDENTITY_CRL_VALID && now >= w->next_repeat);
	if (report) {
		(void)text_escape_str(path != NULL ? path : "?", esc,
		    sizeof(esc));
		(void)clock_format_date(next_update, date, sizeof(date));
		switch (state) {
		case IDENTITY_CRL_VALID:
			log_info("%s: CRL %s valid until %s (in %s)", when, esc,
			    date,
			    left_text(next_update - now, left, sizeof(left)));
			level = LOG_LVL_INFO;
			break;
		case IDENTITY_CRL_EXPIRING:
			log_warn("%s: CRL %s expires at %s (in %s): renew it "
			         "before then (" CRL_RENEW_HOW
			         "), or every agent, "
			         "operator and auditor will be refused",
			    when, esc, date,
			    left_text(next_update - now, left, sizeof(left)));
			level = LOG_LVL_WARN;
			break;
		case IDENTITY_CRL_EXPIRED:
			log_error("%s: CRL %s expired at %s: every agent, "
			          "operator and auditor is refused until it is "
			          "renewed (" CRL_RENEW_HOW ")",
			    when, esc, date);
			level = LOG_LVL_ERROR;
			break;
		}
		w->next_repeat = now + CRL_WATCH_REPEAT_SECS;
	}
	w->reported = true;
	w->last_update = last_update;
	w->next_update = next_update;
	w->state = state;
	switch (state) {
	case IDENTITY_CRL_VALID:
		/* The moment it starts to expire (next_update > 0 here). */
		w->next_check = next_update - IDENTITY_CRL_WARN_SECS;
		break;
	case IDENTITY_CRL_EXPIRING:
		w->next_check = w->next_repeat < next_update ? w->next_repeat :
		                                               next_update;
		break;
	case IDENTITY_CRL_EXPIRED: w->next_check = w->next_repeat; break;
	}
	return level;
}

int64_t
crl_watch_wait(const struct crl_watch *w, int64_t now)
{
	if (w->next_check <= now)
		return 1;
	if (w->next_check - now > CRL_WATCH_TICK_MAX)
		return CRL_WATCH_TICK_MAX;
	return w->next_check - now;
}
