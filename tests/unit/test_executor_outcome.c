/* SPDX-License-Identifier: ISC */
/*
 * Unit tests for executor_outcome.c, in the test world of
 * executor_world.h (C_STALL: dockerd gets the call and never answers it;
 * its State is what the test sets): an UNKNOWN action is followed until
 * dockerd answers, then its outcome is recorded (action.outcome, with the
 * states before and after), signed and kept until the server acknowledges
 * it. A state that shows nothing is trusted only after the settle time;
 * a restart puts recorded outcomes back in the outbox and follows again
 * the UNKNOWN actions that have none. Then the audit log verifies.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "audit.h"
#include "envelope.h"
#include "executor.h"
#include "executor_world.h"
#include "outcome.h"
#include "testlib.h"
#include "wire.h"

/* A string member, or "" (so that a missing one fails a compare). */
static const char *
dstr(const cJSON *data, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(data, key);

	return cJSON_IsString(v) ? v->valuestring : "";
}

static void
set_stall(struct world *w, const char *started, bool running)
{
	(void)pthread_mutex_lock(&w->fake.mu);
	memset(&w->fake.stall, 0, sizeof(w->fake.stall));
	w->fake.stall.running = running;
	w->fake.stall.pid = running ? 100 : 0;
	(void)snprintf(w->fake.stall.started_at,
	    sizeof(w->fake.stall.started_at), "%s", started);
	(void)snprintf(w->fake.stall.finished_at,
	    sizeof(w->fake.stall.finished_at), "2024-01-01T00:00:00Z");
	(void)pthread_mutex_unlock(&w->fake.mu);
}

/* An UNKNOWN RESTART of C_STALL (action n); its action_id in id. */
static void
send_stalled(struct world *w, unsigned n, char id[33])
{
	struct envelope_action_payload a;
	struct executor_outcome out;
	char *f;

	base_action(&a, n);
	(void)snprintf(a.container_id, sizeof(a.container_id), "%s", C_STALL);
	memcpy(id, a.action_id, 33);
	f = signed_frame(w, &a);
	CHECK(executor_handle_frame(w->ex, f, strlen(f), &out) == 0);
	CHECKF(out.status == ENVELOPE_STATUS_UNKNOWN, "status %s",
	    envelope_status_name(out.status));
	free(f);
}

/* The last action.outcome record of the log for id, or NULL (free). */
static cJSON *
logged_outcome(struct world *w, const char *id, unsigned *count)
{
	FILE *f = fopen(w->log, "r");
	char line[16384];
	cJSON *last = NULL;

	*count = 0;
	if (f == NULL)
		return NULL;
	while (fgets(line, sizeof(line), f) != NULL) {
		cJSON *rec = cJSON_Parse(line);
		const cJSON *ev = cJSON_GetObjectItemCaseSensitive(rec,
		    "event");
		const cJSON *d = cJSON_GetObjectItemCaseSensitive(rec, "data");

		if (cJSON_IsString(ev) &&
		    strcmp(ev->valuestring, "action.outcome") == 0 &&
		    strcmp(dstr(d, "action_id"), id) == 0) {
			(*count)++;
			cJSON_Delete(last);
			last = rec;
			continue;
		}
		cJSON_Delete(rec);
	}
	(void)fclose(f);
	return last;
}

/* The outcome frame the channel would send next, verified, into *p. */
static bool
take_outcome(struct world *w, uint64_t epoch, struct outcome_payload *p)
{
	struct wire_frame fr;
	struct err_msg m;
	char *frame = NULL;
	size_t len = 0;
	uint64_t seq = 0;
	bool ok = false;

	if (executor_outcome_take(w->ex, epoch, &frame, &len, &seq) != 1)
		return false;
	/* Parsed as the server parses it, verified as the server does. */
	if (wire_parse_agent_frame(frame, len, &fr, &m) == 0 &&
	    fr.type == WIRE_ACTION_OUTCOME &&
	    outcome_verify(&w->result_key.pub, fr.payload_b64, fr.sig_b64, p,
	        NULL, NULL, &m) == 0)
		ok = true;
	wire_frame_free(&fr);
	free(frame);
	return ok;
}

static void
test_ran(struct world *w)
{
	struct outcome_payload p;
	struct executor_stats st;
	unsigned n;
	char id[33];
	cJSON *rec;

	set_stall(w, "2024-05-01T10:00:00.1Z", true);
	send_stalled(w, 1, id);
	executor_get_stats(w->ex, &st);
	CHECK(st.unknown == 1 && st.outcomes_pending == 1);
	/* dockerd still silent: nothing recorded, still followed. */
	w->fake.state_down = true;
	executor_outcome_poll(w->ex);
	rec = logged_outcome(w, id, &n);
	CHECK(rec == NULL && n == 0);
	executor_get_stats(w->ex, &st);
	CHECK(st.outcomes_pending == 1 && st.outcomes == 0);
	CHECK(!take_outcome(w, 1, &p));
	/* It answers: the container was started again. */
	w->fake.state_down = false;
	set_stall(w, "2024-05-01T10:01:00.2Z", true);
	executor_outcome_poll(w->ex);
	rec = logged_outcome(w, id, &n);
	CHECKF(rec != NULL && n == 1, "outcome records: %u", n);
	if (rec != NULL) {
		const cJSON *d = cJSON_GetObjectItemCaseSensitive(rec, "data");
		const cJSON *b = cJSON_GetObjectItemCaseSensitive(d,
		    "state_before");
		const cJSON *a = cJSON_GetObjectItemCaseSensitive(d,
		    "state_after");

		CHECK(strcmp(dstr(d, "observed"), "ran") == 0);
		CHECK(strcmp(dstr(b, "started_at"), "2024-05-01T10:00:00.1Z") ==
		    0);
		CHECK(strcmp(dstr(a, "started_at"), "2024-05-01T10:01:00.2Z") ==
		    0);
		CHECK(cJSON_GetObjectItemCaseSensitive(d, "outcome") != NULL);
	}
	cJSON_Delete(rec);
	executor_get_stats(w->ex, &st);
	CHECK(st.outcomes_pending == 0 && st.outcomes == 1 &&
	    st.outcomes_unacked == 1);
	CHECK(take_outcome(w, 1, &p));
	CHECK(strcmp(p.action_id, id) == 0 && p.observed == OUTCOME_RAN &&
	    p.has_before && p.has_after && strcmp(p.host_id, HOST) == 0);
	/* Once per connection, again on the next, not after the ack. */
	CHECK(!take_outcome(w, 1, &p));
	CHECK(take_outcome(w, 2, &p));
	executor_outcome_acked(w->ex, p.action_id, p.request_sha256);
	CHECK(!take_outcome(w, 3, &p));
	executor_get_stats(w->ex, &st);
	CHECK(st.outcomes_unacked == 0);
}

static void
test_not_run(struct world *w, char id[33])
{
	struct outcome_payload p;
	unsigned n;
	cJSON *rec;

	set_stall(w, "2024-05-01T11:00:00Z", true);
	send_stalled(w, 2, id);
	/* Unchanged: not believed until the settle time passed. */
	executor_outcome_poll(w->ex);
	w->fake.now += 2000;
	executor_outcome_poll(w->ex);
	rec = logged_outcome(w, id, &n);
	CHECK(rec == NULL);
	w->fake.now += 4000; /* settle: stop_timeout 3 s + 2 polls of 1 s */
	executor_outcome_poll(w->ex);
	rec = logged_outcome(w, id, &n);
	CHECK(rec != NULL && n == 1);
	if (rec != NULL) {
		const cJSON *d = cJSON_GetObjectItemCaseSensitive(rec, "data");

		CHECK(strcmp(dstr(d, "observed"), "not_run") == 0);
		CHECK(strstr(dstr(d, "detail"), "StartedAt unchanged") != NULL);
	}
	cJSON_Delete(rec);
	CHECK(take_outcome(w, 4, &p) && p.observed == OUTCOME_NOT_RUN);
}

/*
 * A restart: the outcome not acknowledged goes out again, the one
 * acknowledged goes out again too (the server keeps one), and an UNKNOWN
 * action with no outcome yet is followed again, from the state it
 * recorded before the call.
 */
static void
test_restart(struct world *w, const char *not_run_id)
{
	struct outcome_payload p;
	struct executor_stats st;
	char id[33];
	unsigned n, seen = 0;
	cJSON *rec;

	set_stall(w, "2024-05-01T12:00:00Z", true);
	send_stalled(w, 3, id); /* not polled before the restart */
	executor_free(w->ex);
	w->ex = NULL;
	if (open_executor(w) != 0)
		return;
	executor_get_stats(w->ex, &st);
	CHECKF(st.outcomes_pending == 1, "pending %zu", st.outcomes_pending);
	CHECK(st.outcomes_unacked == 2);
	w->fake.state_down = true;
	executor_outcome_poll(w->ex); /* dockerd silent: still followed */
	executor_get_stats(w->ex, &st);
	CHECK(st.outcomes_pending == 1);
	while (take_outcome(w, 10, &p))
		seen += strcmp(p.action_id, not_run_id) == 0;
	CHECK(seen == 1);
	w->fake.state_down = false;
	set_stall(w, "2024-05-01T12:00:09Z", true);
	executor_outcome_poll(w->ex);
	rec = logged_outcome(w, id, &n);
	CHECK(rec != NULL && n == 1);
	if (rec != NULL) {
		const cJSON *d = cJSON_GetObjectItemCaseSensitive(rec, "data");
		const cJSON *b = cJSON_GetObjectItemCaseSensitive(d,
		    "state_before");

		CHECK(strcmp(dstr(d, "observed"), "ran") == 0);
		CHECK(
		    strcmp(dstr(b, "started_at"), "2024-05-01T12:00:00Z") == 0);
	}
	cJSON_Delete(rec);
	/* A second restart follows nothing: every UNKNOWN has its outcome. */
	executor_free(w->ex);
	w->ex = NULL;
	if (open_executor(w) != 0)
		return;
	executor_get_stats(w->ex, &st);
	CHECK(st.outcomes_pending == 0);
}

/* The comparison's rules, one by one. */
static void
test_compare(void)
{
	struct outcome_state b, a;
	char d[OUTCOME_DETAIL_BYTES + 1];

	memset(&b, 0, sizeof(b));
	b.running = true;
	(void)snprintf(b.started_at, sizeof(b.started_at), "2024-01-01T00Z");
	(void)snprintf(b.finished_at, sizeof(b.finished_at), "0001-01-01Z");
	a = b;
	CHECK(outcome_compare(ENVELOPE_ACTION_STOP, &b, &a, d, sizeof(d)) ==
	    OUTCOME_NOT_RUN);
	CHECK(outcome_compare(ENVELOPE_ACTION_RESTART, NULL, &a, d,
	          sizeof(d)) == OUTCOME_UNDETERMINED);
	a.running = false;
	(void)snprintf(a.finished_at, sizeof(a.finished_at), "2024-01-02Z");
	CHECK(outcome_compare(ENVELOPE_ACTION_STOP, &b, &a, d, sizeof(d)) ==
	    OUTCOME_RAN);
	a = b;
	a.restart_count = 1;
	(void)snprintf(a.started_at, sizeof(a.started_at), "2024-01-03Z");
	CHECK(outcome_compare(ENVELOPE_ACTION_RESTART, &b, &a, d, sizeof(d)) ==
	    OUTCOME_UNDETERMINED);
	CHECK(strstr(d, "RestartCount") != NULL);
	a.restart_count = 0;
	CHECK(outcome_compare(ENVELOPE_ACTION_START, &b, &a, d, sizeof(d)) ==
	    OUTCOME_RAN);
}

int
main(void)
{
	struct world w;
	char not_run_id[33];

	world_begin(&w);
	test_compare();
	if (w.ex != NULL) {
		test_ran(&w);
		test_not_run(&w, not_run_id);
		if (w.ex != NULL)
			test_restart(&w, not_run_id);
		if (w.ex != NULL)
			verify_log(&w, 2, 2);
	}
	teardown(&w);
	return test_finish("test_executor_outcome");
}
