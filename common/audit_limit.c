/* SPDX-License-Identifier: ISC */
/*
 * Bounded audit volume (see audit_limit.h): per reason, the first records
 * of a window in full, the rest counted into one audit.suppressed
 * summary when the window closes or the daemon stops.
 */
#include "audit_limit.h"

#include <stdio.h>
#include <string.h>

#include "log.h"

int
audit_limit_config(const struct config *cfg, struct audit_limit_bounds *out,
    struct err_msg *msg)
{
	int64_t burst, window;

	out->burst = AUDIT_LIMIT_BURST_DEFAULT;
	out->window_ms = (int64_t)AUDIT_LIMIT_WINDOW_DEFAULT * 1000;
	burst = config_get_int(cfg, "audit", "limit_burst",
	    AUDIT_LIMIT_BURST_DEFAULT);
	window = config_get_int(cfg, "audit", "limit_window",
	    AUDIT_LIMIT_WINDOW_DEFAULT);
	/* The schemas range-check these at load; checked again, as a
	 * schema without the keys would give the defaults above. */
	if (burst < 1 || burst > AUDIT_LIMIT_BURST_MAX)
		return err_set(msg, SIGNET_ERR_CONFIG,
		    "%s:%u: limit_burst: %lld is not 1 to %d", config_name(cfg),
		    config_line(cfg, "audit", "limit_burst"), (long long)burst,
		    AUDIT_LIMIT_BURST_MAX);
	if (window < 1 || window > AUDIT_LIMIT_WINDOW_MAX)
		return err_set(msg, SIGNET_ERR_CONFIG,
		    "%s:%u: limit_window: %lld is not 1 to %d seconds",
		    config_name(cfg), config_line(cfg, "audit", "limit_window"),
		    (long long)window, AUDIT_LIMIT_WINDOW_MAX);
	out->burst = (uint64_t)burst;
	out->window_ms = window * 1000;
	return 0;
}

void
audit_limit_init(struct audit_limit *al, const char *event,
    const struct audit_limit_bounds *b)
{
	memset(al, 0, sizeof(*al));
	(void)snprintf(al->event, sizeof(al->event), "%s", event);
	/* Zero: not configured (a caller's zeroed config), the defaults. */
	al->burst = b->burst > 0 ? b->burst : AUDIT_LIMIT_BURST_DEFAULT;
	al->window_ms = b->window_ms > 0 ?
	    b->window_ms :
	    (int64_t)AUDIT_LIMIT_WINDOW_DEFAULT * 1000;
}

void
audit_limit_set_listener(struct audit_limit *al, const char *listener)
{
	(void)snprintf(al->listener, sizeof(al->listener), "%s",
	    listener != NULL ? listener : "");
}

/* A reason fit to be a JSON member name in the summary, as written. */
static bool
reason_ok(const char *reason)
{
	size_t i;

	if (reason == NULL || reason[0] == '\0')
		return false;
	for (i = 0; reason[i] != '\0'; i++) {
		char c = reason[i];

		if (i + 1 >= AUDIT_LIMIT_REASON_MAX)
			return false;
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		        c == '_' || c == '.' || c == '-'))
			return false;
	}
	return true;
}

/*
 * The slot of reason; past the table's end (or a reason unfit to be
 * named) the last slot, renamed AUDIT_LIMIT_OTHER: counts are never lost.
 */
static struct audit_limit_slot *
slot_for(struct audit_limit *al, const char *reason)
{
	size_t i;

	if (!reason_ok(reason))
		reason = AUDIT_LIMIT_OTHER;
	for (i = 0; i < al->n; i++)
		if (strcmp(al->slots[i].reason, reason) == 0)
			return &al->slots[i];
	if (al->n == AUDIT_LIMIT_REASONS) {
		struct audit_limit_slot *last = &al->slots[al->n - 1];

		(void)snprintf(last->reason, sizeof(last->reason), "%s",
		    AUDIT_LIMIT_OTHER);
		return last;
	}
	(void)snprintf(al->slots[al->n].reason, AUDIT_LIMIT_REASON_MAX, "%s",
	    reason);
	return &al->slots[al->n++];
}

/* The summary of the open window ending at end_ms, or NULL (none held). */
static cJSON *
summary_of(const struct audit_limit *al, int64_t end_ms)
{
	cJSON *o = NULL, *counts = NULL;
	bool any = false, ok;
	size_t i;

	for (i = 0; i < al->n; i++)
		any = any || al->slots[i].suppressed > 0;
	if (!any)
		return NULL;
	o = cJSON_CreateObject();
	counts = cJSON_CreateObject();
	ok = o != NULL && counts != NULL &&
	    cJSON_AddStringToObject(o, "event", al->event) != NULL &&
	    (al->listener[0] == '\0' ||
	        cJSON_AddStringToObject(o, "listener", al->listener) != NULL) &&
	    cJSON_AddNumberToObject(o, "window_start", (double)al->start_ms) !=
	        NULL &&
	    cJSON_AddNumberToObject(o, "window_end", (double)end_ms) != NULL &&
	    cJSON_AddNumberToObject(o, "limit", (double)al->burst) != NULL;
	for (i = 0; ok && i < al->n; i++)
		if (al->slots[i].suppressed > 0 &&
		    cJSON_AddNumberToObject(counts, al->slots[i].reason,
		        (double)al->slots[i].suppressed) == NULL)
			ok = false;
	if (ok && cJSON_AddItemToObject(o, "counts", counts))
		return o;
	cJSON_Delete(counts);
	cJSON_Delete(o);
	log_error("audit %s: out of memory: the summary of %s records held "
	          "back is lost",
	    AUDIT_LIMIT_EVENT, al->event);
	return NULL;
}

void
audit_limit_close(struct audit_limit *al, int64_t now_ms, bool force,
    cJSON **summary)
{
	int64_t end;

	*summary = NULL;
	if (al->start_ms == 0)
		return;
	/* Ended, by subtraction (no overflow): now - start >= window. */
	if (now_ms >= al->start_ms && now_ms - al->start_ms < al->window_ms &&
	    !force)
		return;
	end = al->start_ms + al->window_ms;
	if (force || now_ms < al->start_ms || now_ms < end)
		end = now_ms < al->start_ms ? al->start_ms : now_ms;
	*summary = summary_of(al, end);
	al->start_ms = 0;
	al->n = 0;
	memset(al->slots, 0, sizeof(al->slots));
}

bool
audit_limit_take(struct audit_limit *al, const char *reason, int64_t now_ms,
    cJSON **summary)
{
	struct audit_limit_slot *s;

	audit_limit_close(al, now_ms, false, summary);
	if (al->start_ms == 0)
		al->start_ms = now_ms > 0 ? now_ms : 1;
	s = slot_for(al, reason);
	if (s->written < al->burst) {
		s->written++;
		return true;
	}
	s->suppressed++;
	return false;
}

int
audit_limit_write(struct audit_writer *w, const char *actor, cJSON *summary)
{
	if (summary == NULL)
		return 0;
	return audit_event(w, AUDIT_LIMIT_EVENT, actor, summary, true);
}
