/* SPDX-License-Identifier: ISC */
/*
 * Copies each durable audit record to journald (sd_journal_send, with the
 * record's event, seq, actor and host as fields) or to syslog (LOG_AUTHPRIV,
 * cut to AUDIT_MIRROR_SYSLOG_MAX bytes), at the priority the one table
 * below gives its event. The signed file stays the record; a mirror is a
 * copy for operators' log pipelines, and its failures are counted, logged
 * at most once a minute, and never fail the append.
 */
#include "audit_mirror.h"

#include <errno.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include <systemd/sd-journal.h>

#include "clock.h"
#include "config.h"
#include "log.h"
#include "text.h"

/*
 * The priority of each event. What an operator should look at first:
 * crit for a signed action an agent could not verify (a wrong key pinned,
 * or a forged frame); err for a record cut by a crash; warning for
 * refusals of peers and requests, lost deliveries and records held back;
 * notice for decisions that went against a request and for changes of
 * what is in force; everything else is routine (info).
 */
static const struct {
	const char *event;
	int prio;
} priorities[] = {
	{ "action.unverified", LOG_CRIT },
	{ "audit.torn_tail", LOG_ERR },
	{ "auth.rejected", LOG_WARNING },
	{ "action.refused", LOG_WARNING },
	{ "action.rejected", LOG_WARNING },
	{ "frame.refused", LOG_WARNING },
	{ "roster.refused", LOG_WARNING },
	{ "policy.reload_refused", LOG_WARNING },
	{ "inventory.conflict", LOG_WARNING },
	{ "action.undelivered", LOG_WARNING },
	{ "action.timeout", LOG_WARNING },
	{ "action.result_undelivered", LOG_WARNING },
	{ "audit.suppressed", LOG_WARNING },
	{ "audit.checkpoint_refused", LOG_WARNING },
	{ "policy.denied", LOG_NOTICE },
	{ "action.approval_refused", LOG_NOTICE },
	{ "action.approval_expired", LOG_NOTICE },
	{ "action.redelivered", LOG_NOTICE },
	{ "agent.replaced", LOG_NOTICE },
	{ "policy.reloaded", LOG_NOTICE },
	{ "roster.accepted", LOG_NOTICE },
	{ "server.reloaded", LOG_NOTICE },
	{ "action.requested", LOG_INFO },
	{ "action.relayed", LOG_INFO },
	{ "action.awaiting_approval", LOG_INFO },
	{ "action.approved", LOG_INFO },
	{ "action.received", LOG_INFO },
	{ "action.dispatched", LOG_INFO },
	{ "action.executed", LOG_INFO },
	{ "action.result", LOG_INFO },
	{ "action.outcome", LOG_INFO },
	{ "agent.connected", LOG_INFO },
	{ "agent.disconnected", LOG_INFO },
	{ "agent.started", LOG_INFO },
	{ "agent.stopped", LOG_INFO },
	{ "server.started", LOG_INFO },
	{ "server.stopped", LOG_INFO },
	{ "audit.rotated", LOG_INFO },
	{ "audit.cosigned", LOG_NOTICE },
};

struct audit_mirror {
	struct audit_mirror_conf conf;
	atomic_uint_fast64_t failures;
	atomic_int_fast64_t next_log_ms; /* no failure logged before this */
};

/* openlog keeps the pointer: the ident lives as long as the process. */
static char syslog_ident[AUDIT_MIRROR_IDENT_MAX];

int
audit_mirror_priority(const char *event, bool *known)
{
	size_t i;

	if (known != NULL)
		*known = false;
	for (i = 0;
	     event != NULL && i < sizeof(priorities) / sizeof(*priorities);
	     i++) {
		if (strcmp(priorities[i].event, event) == 0) {
			if (known != NULL)
				*known = true;
			return priorities[i].prio;
		}
	}
	return LOG_INFO;
}

const char *
audit_mirror_priority_name(int prio)
{
	static const char *const names[] = { "emerg", "alert", "crit", "err",
		"warning", "notice", "info", "debug" };

	if (prio < 0 || prio > LOG_DEBUG)
		return "info";
	return names[prio];
}

int
audit_mirror_parse_mode(const char *s, enum audit_mirror_mode *mode)
{
	*mode = AUDIT_MIRROR_NONE;
	if (s == NULL)
		return SIGNET_ERR_FORMAT;
	if (strcmp(s, "none") == 0)
		return 0;
	if (strcmp(s, "journal") == 0) {
		*mode = AUDIT_MIRROR_JOURNAL;
		return 0;
	}
	if (strcmp(s, "syslog") == 0) {
		*mode = AUDIT_MIRROR_SYSLOG;
		return 0;
	}
	return SIGNET_ERR_FORMAT;
}

int
audit_config_mirror(const struct config *cfg, enum audit_mirror_mode *mode,
    struct err_msg *msg)
{
	const char *v = config_get(cfg, "audit", "mirror");
	char esc[64];

	if (v == NULL)
		v = "none";
	if (audit_mirror_parse_mode(v, mode) != 0)
		return err_set(msg, SIGNET_ERR_CONFIG,
		    "%s:%u: mirror: \"%s\" is not none, journal or syslog",
		    config_name(cfg), config_line(cfg, "audit", "mirror"),
		    text_escape_str(v, esc, sizeof(esc)));
	return 0;
}

/* A field value: 1 to max - 1 printable ASCII bytes, or empty if may. */
static bool
valid_field(const char *s, size_t max, bool may_be_empty)
{
	size_t n = strnlen(s, max), i;

	if (n >= max || (n == 0 && !may_be_empty))
		return false;
	for (i = 0; i < n; i++)
		if (s[i] <= ' ' || s[i] > '~')
			return false;
	return true;
}

int
audit_mirror_new(const struct audit_mirror_conf *conf,
    struct audit_mirror **out, struct err_msg *msg)
{
	struct audit_mirror *m;

	*out = NULL;
	if (conf == NULL ||
	    !valid_field(conf->ident, sizeof(conf->ident), false) ||
	    !valid_field(conf->host_id, sizeof(conf->host_id), true))
		return err_set(msg, SIGNET_ERR_INVALID_ARG,
		    "audit mirror: bad identifier or host id");
	m = calloc(1, sizeof(*m));
	if (m == NULL)
		return err_set(msg, SIGNET_ERR_ALLOC, "out of memory");
	m->conf = *conf;
	atomic_init(&m->failures, 0);
	atomic_init(&m->next_log_ms, 0);
	if (conf->mode == AUDIT_MIRROR_SYSLOG) {
		/*
		 * authpriv: the records name who may act on which host, and
		 * syslog daemons keep authpriv in a file only root reads
		 * (Debian: /var/log/auth.log), unlike daemon or user.
		 */
		memcpy(syslog_ident, conf->ident, sizeof(syslog_ident));
		openlog(syslog_ident, LOG_PID | LOG_NDELAY, LOG_AUTHPRIV);
	}
	*out = m;
	return 0;
}

/* Counts a failure and logs it unless one was logged in the last minute. */
static void
note_failure(struct audit_mirror *m, uint64_t seq, int err)
{
	uint64_t n = atomic_fetch_add(&m->failures, 1) + 1;
	int_fast64_t now = clock_mono_ms(), next = atomic_load(&m->next_log_ms);

	if (now < next ||
	    !atomic_compare_exchange_strong(&m->next_log_ms, &next,
	        now + AUDIT_MIRROR_LOG_EVERY_MS))
		return;
	log_warn("audit mirror to journald failed: seq=%" PRIu64
	         " error=\"%s\" failures=%" PRIu64
	         " (the signed audit log holds every record; logged at most "
	         "once a minute)",
	    seq, strerror(err), n);
}

size_t
audit_mirror_syslog_text(const char *line, size_t len, uint64_t seq, char *out,
    size_t outlen)
{
	char marker[128];
	size_t max = outlen < AUDIT_MIRROR_SYSLOG_MAX ? outlen :
	                                                AUDIT_MIRROR_SYSLOG_MAX;
	size_t cut, mlen;
	int n;

	if (outlen == 0)
		return 0;
	if (len < max) {
		memcpy(out, line, len);
		out[len] = '\0';
		return len;
	}
	n = snprintf(marker, sizeof(marker),
	    " [truncated: %zu of %zu bytes; the whole record is seq %" PRIu64
	    " in the signed log]",
	    (size_t)0, len, seq);
	if (n < 0 || (size_t)n + 21 >= max) {
		out[0] = '\0';
		return 0;
	}
	/* The count in the marker has as many digits as len, at most. */
	cut = max - 1 - (size_t)n - 20;
	while (cut > 0 && ((unsigned char)line[cut] & 0xc0) == 0x80)
		cut--;
	n = snprintf(marker, sizeof(marker),
	    " [truncated: %zu of %zu bytes; the whole record is seq %" PRIu64
	    " in the signed log]",
	    cut, len, seq);
	if (n < 0) {
		out[0] = '\0';
		return 0;
	}
	mlen = (size_t)n;
	memcpy(out, line, cut);
	memcpy(out + cut, marker, mlen + 1);
	return cut + mlen;
}

int
audit_mirror_send(struct audit_mirror *m, const char *line, size_t len,
    uint64_t seq, const char *event, const char *actor)
{
	char text[AUDIT_MIRROR_SYSLOG_MAX];
	int prio, r;

	if (m == NULL || m->conf.mode == AUDIT_MIRROR_NONE)
		return 0;
	prio = audit_mirror_priority(event, NULL);
	if (m->conf.mode == AUDIT_MIRROR_SYSLOG) {
		(void)audit_mirror_syslog_text(line, len, seq, text,
		    sizeof(text));
		syslog(LOG_AUTHPRIV | prio, "%s", text);
		return 0;
	}
	if (len > INT32_MAX)
		return SIGNET_ERR_TOO_LARGE;
	if (m->conf.host_id[0] != '\0')
		r = sd_journal_send("MESSAGE=%.*s", (int)len, line,
		    "PRIORITY=%d", prio, "SYSLOG_FACILITY=%d",
		    LOG_AUTHPRIV >> 3, "SYSLOG_IDENTIFIER=%s", m->conf.ident,
		    "SIGNET_EVENT=%s", event, "SIGNET_SEQ=%" PRIu64, seq,
		    "SIGNET_ACTOR=%s", actor, "SIGNET_HOST_ID=%s",
		    m->conf.host_id, NULL);
	else
		r = sd_journal_send("MESSAGE=%.*s", (int)len, line,
		    "PRIORITY=%d", prio, "SYSLOG_FACILITY=%d",
		    LOG_AUTHPRIV >> 3, "SYSLOG_IDENTIFIER=%s", m->conf.ident,
		    "SIGNET_EVENT=%s", event, "SIGNET_SEQ=%" PRIu64, seq,
		    "SIGNET_ACTOR=%s", actor, NULL);
	if (r < 0) {
		note_failure(m, seq, -r);
		return SIGNET_ERR_IO;
	}
	return 0;
}

uint64_t
audit_mirror_failures(const struct audit_mirror *m)
{
	return m != NULL ? atomic_load(&m->failures) : 0;
}

void
audit_mirror_free(struct audit_mirror *m)
{
	if (m == NULL)
		return;
	if (m->conf.mode == AUDIT_MIRROR_SYSLOG)
		closelog();
	free(m);
}
