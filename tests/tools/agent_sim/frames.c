/* SPDX-License-Identifier: ISC */
/*
 * What a simulated agent sends: its hello (once the server's challenge
 * came, signed over it as --hello-sig says), the inventory, the raw bytes of
 * --raw (in fragments with --fragment), and, with --answer, a signed
 * result for each action frame the server sends it (late, twice or with a
 * wrong request_sha256 when asked), each reported on stdout.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libwebsockets.h>
#include <sodium.h>

#include "clock.h"
#include "envelope.h"
#include "keys.h"
#include "sim.h"
#include "wire.h"

/*
 * N synthetic containers as an inventory frame: the template, whose ids
 * carry agent number 0 in their SIM_ID_AGENT field; sim_inventory_of
 * gives each agent its own ids (one container id on two connected hosts
 * is an inventory conflict, which the server audits).
 */
int
sim_build_inventory(struct sim *s)
{
	struct inventory inv;
	char lkey[] = "signet.sim", lval[] = "1";
	struct inventory_label label = { lkey, lval };
	char *names = NULL, **name_ptrs = NULL;
	char image[] = "busybox:1", status[] = "Up 5 minutes";
	size_t n = (size_t)s->o.containers, i;
	int r = SIGNET_ERR_ALLOC;

	memset(&inv, 0, sizeof(inv));
	inv.items = calloc(n > 0 ? n : 1, sizeof(*inv.items));
	names = calloc(n > 0 ? n : 1, 32);
	name_ptrs = calloc(n > 0 ? n : 1, sizeof(*name_ptrs));
	if (inv.items == NULL || names == NULL || name_ptrs == NULL)
		goto out;
	for (i = 0; i < n; i++) {
		struct inventory_container *c = &inv.items[i];
		char **np = &name_ptrs[i];

		(void)snprintf(c->id, sizeof(c->id), "%040lx%016x%s",
		    (unsigned long)(i + 1), 0u, SIM_ID_MARK);
		*np = names + i * 32;
		(void)snprintf(*np, 32, "/sim-%zu", i);
		c->names = np;
		c->nnames = 1;
		c->image = image;
		(void)snprintf(c->state, sizeof(c->state), "running");
		c->status = status;
		c->labels = &label;
		c->nlabels = 1;
		c->created = 1700000000;
	}
	inv.count = n;
	r = wire_build_inventory(&inv, &s->inventory, &s->inventory_len);
out:
	free(inv.items);
	free(names);
	free(name_ptrs);
	if (r != 0) {
		fprintf(stderr, "agent_sim: out of memory\n");
		return -1;
	}
	return 0;
}

/* Agent a's inventory: the template with its number in every id. */
int
sim_inventory_of(const struct sim *s, const struct sim_agent *a, char **out,
    size_t *len)
{
	static const char field[] = "0000000000000000" SIM_ID_MARK;
	char num[17];
	char *buf, *p, *end;

	*out = NULL;
	*len = 0;
	buf = malloc(s->inventory_len > 0 ? s->inventory_len : 1);
	if (buf == NULL)
		return -1;
	memcpy(buf, s->inventory, s->inventory_len);
	(void)snprintf(num, sizeof(num), "%016lx",
	    (unsigned long)(s->o.first + a->idx));
	p = buf;
	end = buf + s->inventory_len;
	while ((size_t)(end - p) >= sizeof(field) - 1) {
		char *hit = memmem(p, (size_t)(end - p), field,
		    sizeof(field) - 1);

		if (hit == NULL)
			break;
		memcpy(hit, num, 16);
		p = hit + sizeof(field) - 1;
	}
	*out = buf;
	*len = s->inventory_len;
	return 0;
}

/* The hello, signed over the server's challenge as --hello-sig says. */
static char *
hello_of(struct sim *s, struct sim_agent *a)
{
	struct wire_hello h;
	char *out = NULL;
	size_t len;

	memset(&h, 0, sizeof(h));
	(void)snprintf(h.host_id, sizeof(h.host_id), "%.63s", a->name);
	(void)snprintf(h.agent_version, sizeof(h.agent_version), "%s",
	    s->o.agent_version);
	(void)snprintf(h.docker_version, sizeof(h.docker_version), "%s",
	    s->o.docker_version);
	(void)snprintf(h.result_key_id, sizeof(h.result_key_id), "%s",
	    a->key_id);
	memcpy(h.challenge, a->challenge, WIRE_CHALLENGE_LEN);
	if (s->o.audit_head != NULL) {
		if (audit_head_parse(s->o.audit_head, &h.audit_head) != 0) {
			fprintf(stderr,
			    "agent_sim: --audit-head: not SEQ:HASH\n");
			return NULL;
		}
		h.has_audit_head = true;
	}
	if (s->o.hello_sig == SIG_STALE)
		randombytes_buf(h.challenge, sizeof(h.challenge));
	if (wire_build_hello(&h, a->hello_key, &out, &len) != 0)
		return NULL;
	return out;
}

/*
 * A frame from the server: the challenge lets the hello go; a drain makes
 * the agent leave; the rest goes to sim_on_action.
 */
void
sim_on_message(struct sim *s, struct sim_agent *a, const void *in, size_t len)
{
	struct wire_frame wf;
	int r;

	r = wire_parse_server_frame(in, len, &wf, NULL);
	if (r == 0 && wf.type == WIRE_DRAIN) {
		sim_drain(s, a, wf.drain_ms);
		wire_frame_free(&wf);
		return;
	}
	/* As the agent: a server that sends these works (channel.h). */
	if (r == 0 && (wf.type == WIRE_ACTION || wf.type == WIRE_RESULT_ACK))
		a->healthy = true;
	if (r == 0 && wf.type == WIRE_CHECKPOINT_ACK)
		sim_accepted(s, a);
	if (r == 0 && wf.type == WIRE_CHALLENGE) {
		if (a->have_challenge)
			printf("error %d \"a second challenge\"\n", a->idx);
		memcpy(a->challenge, wf.challenge, WIRE_CHALLENGE_LEN);
		a->have_challenge = true;
		if (a->wsi != NULL)
			lws_callback_on_writable(a->wsi);
		wire_frame_free(&wf);
		return;
	}
	wire_frame_free(&wf);
	sim_on_action(s, a, in, len);
}

/* --answer: the statuses, in order. */
int
sim_parse_answers(struct sim *s)
{
	char buf[256], *p, *comma;

	if (s->o.answer == NULL)
		return 0;
	if (strlen(s->o.answer) >= sizeof(buf))
		return -1;
	memcpy(buf, s->o.answer, strlen(s->o.answer) + 1);
	for (p = buf; p != NULL; p = comma != NULL ? comma + 1 : NULL) {
		comma = strchr(p, ',');
		if (comma != NULL)
			*comma = '\0';
		if (s->nanswers == SIM_ANSWERS_MAX)
			return -1;
		s->answers[s->nanswers] = envelope_status_parse(p);
		if (s->answers[s->nanswers] == ENVELOPE_STATUS_NONE) {
			fprintf(stderr,
			    "agent_sim: --answer: \"%s\" is not "
			    "SUCCESS, FAILURE, DENIED or REJECTED\n",
			    p);
			return -1;
		}
		s->nanswers++;
	}
	return 0;
}

/* Loads the result key (and the action key) for --answer. */
int
sim_load_answer_keys(struct sim *s)
{
	struct err_msg msg;
	char path[4200];
	const char *kp = s->o.result_key;

	if (s->o.answer == NULL)
		return 0;
	if (kp == NULL && s->o.pki != NULL && s->o.name != NULL) {
		(void)snprintf(path, sizeof(path), "%s/keys/agents/%s.key",
		    s->o.pki, s->o.name);
		kp = path;
	}
	if (kp == NULL) {
		fprintf(stderr, "agent_sim: --answer needs --result-key\n");
		return -1;
	}
	s->rkey = sodium_malloc(sizeof(*s->rkey));
	if (s->rkey == NULL || keys_load_secret(kp, s->rkey, &msg) != 0) {
		fprintf(stderr, "agent_sim: result key %s: %s\n", kp,
		    s->rkey != NULL ? msg.text : "out of memory");
		return -1;
	}
	if (s->o.action_pub != NULL) {
		s->apub = calloc(1, sizeof(*s->apub));
		if (s->apub == NULL ||
		    keys_load_pubset(s->o.action_pub, s->apub, &msg) != 0) {
			fprintf(stderr, "agent_sim: action key %s: %s\n",
			    s->o.action_pub,
			    s->apub != NULL ? msg.text : "out of memory");
			return -1;
		}
	}
	return 0;
}

/* Default error text of a status. */
static const char *
error_of(enum envelope_status st)
{
	switch (st) {
	case ENVELOPE_STATUS_FAILURE: return "simulated dockerd failure";
	case ENVELOPE_STATUS_DENIED:
		return "simulated policy: no rule allows "
		       "this";
	case ENVELOPE_STATUS_REJECTED: return "simulated rejection";
	default: return NULL;
	}
}

/* Queues a result frame for agent a (copy 1 or 2). */
static void
queue_result(struct sim *s, struct sim_agent *a, const char *frame,
    const char *id, const char *status, int copy)
{
	struct sim_result *r;

	if (a->nresults == SIM_RESULTS_MAX) {
		printf("error %d \"too many results queued\"\n", a->idx);
		return;
	}
	r = &a->results[a->nresults];
	r->frame = strdup(frame);
	if (r->frame == NULL)
		return;
	r->len = strlen(frame);
	r->due_ms = clock_mono_ms() + s->o.answer_delay * 1000;
	(void)snprintf(r->action_id, sizeof(r->action_id), "%s", id);
	r->status = status;
	r->copy = copy;
	a->nresults++;
}

/* An action frame from the server: report it and maybe answer it. */
void
sim_on_action(struct sim *s, struct sim_agent *a, const void *in, size_t len)
{
	struct envelope_action_payload ap;
	struct envelope_result_payload res;
	struct envelope env;
	struct err_msg msg;
	struct wire_frame wf;
	const char *pl = NULL, *sig = NULL, *kid = NULL;
	uint8_t *raw = NULL;
	size_t raw_len = 0, frame_len = 0;
	char *frame = NULL;
	enum envelope_status st;
	bool verified = true;
	int r;

	memset(&env, 0, sizeof(env));
	memset(&res, 0, sizeof(res));
	memset(&ap, 0, sizeof(ap));
	err_clear(&msg);
	if (wire_parse_server_frame(in, len, &wf, &msg) != 0) {
		if (wf.type == WIRE_ACTION)
			printf("error %d \"bad action frame: %s\"\n", a->idx,
			    msg.text);
		goto out;
	}
	if (wf.type == WIRE_RESULT_ACK) {
		printf("acked %d action_id=%s\n", a->idx, wf.ack.action_id);
		goto out;
	}
	if (wf.type == WIRE_CHECKPOINT_ACK) {
		printf("checkpoint_ack %d size=%llu\n", a->idx,
		    (unsigned long long)wf.cp_size);
		goto out;
	}
	pl = wf.payload_b64;
	sig = wf.sig_b64;
	kid = wf.key_id;
	if (s->apub != NULL) {
		r = envelope_action_verify(s->apub, kid, pl, sig, &ap, &raw,
		    &raw_len, &msg);
		verified = r == 0;
	} else {
		raw = malloc(strlen(pl) + 1);
		r = raw == NULL ||
		        sodium_base642bin(raw, strlen(pl) + 1, pl, strlen(pl),
		            NULL, &raw_len, NULL,
		            sodium_base64_VARIANT_ORIGINAL) != 0 ?
		    -1 :
		    envelope_action_decode(raw, raw_len, &ap, &msg);
	}
	if (r != 0 && (raw == NULL || s->apub == NULL)) {
		printf("error %d \"action not decoded: %s\"\n", a->idx,
		    msg.text);
		goto out;
	}
	printf("action %d action_id=%s action=%s container=%s "
	       "requested_by=%s%s\n",
	    a->idx, ap.action_id,
	    envelope_action_name(ap.action) != NULL ?
	        envelope_action_name(ap.action) :
	        "?",
	    ap.container_id, ap.requested_by, verified ? "" : " verified=no");
	if (s->nanswers == 0 || s->rkey == NULL || !verified)
		goto out;
	st = s->answers[a->actions_seen < s->nanswers ? a->actions_seen :
	                                                s->nanswers - 1];
	a->actions_seen++;
	(void)snprintf(res.action_id, sizeof(res.action_id), "%s",
	    ap.action_id);
	(void)snprintf(res.host_id, sizeof(res.host_id), "%s", ap.host_id);
	(void)snprintf(res.container_id, sizeof(res.container_id), "%s",
	    ap.container_id);
	res.action = ap.action;
	res.status = st;
	if (s->o.error_text != NULL && st != ENVELOPE_STATUS_SUCCESS) {
		res.has_error = true;
		(void)snprintf(res.error, sizeof(res.error), "%s",
		    s->o.error_text);
	} else if (error_of(st) != NULL) {
		res.has_error = true;
		(void)snprintf(res.error, sizeof(res.error), "%s",
		    error_of(st));
	}
	res.docker_status = s->o.has_docker_status ? s->o.docker_status :
	    st == ENVELOPE_STATUS_SUCCESS          ? 204 :
	    st == ENVELOPE_STATUS_FAILURE          ? 500 :
	                                             0;
	res.started_at = clock_wall_ms();
	res.finished_at = res.started_at;
	envelope_sha256_hex(raw, raw_len, res.request_sha256);
	if (s->o.bad_sha)
		res.request_sha256[0] = res.request_sha256[0] == '0' ? '1' :
		                                                       '0';
	if (envelope_result_sign(&res, s->rkey, &env) != 0 ||
	    wire_build_result(env.payload_b64, env.sig_b64, &frame,
	        &frame_len) != 0) {
		printf("error %d \"cannot build a result\"\n", a->idx);
		goto out;
	}
	queue_result(s, a, frame, res.action_id, envelope_status_name(st), 1);
	if (s->o.duplicate)
		queue_result(s, a, frame, res.action_id,
		    envelope_status_name(st), 2);
	if (a->wsi != NULL && s->o.answer_delay == 0)
		lws_callback_on_writable(a->wsi);
out:
	free(frame);
	wire_frame_free(&wf);
	envelope_free(&env);
	free(raw);
	sodium_memzero(&ap, sizeof(ap));
}

/* Writes the first result that is due, if any. */
static int
send_result(struct sim *s, struct sim_agent *a, struct lws *wsi)
{
	struct sim_result r;
	int64_t now = clock_mono_ms();
	size_t i;
	int n;

	for (i = 0; i < a->nresults; i++)
		if (a->results[i].due_ms <= now)
			break;
	if (i == a->nresults)
		return 0;
	r = a->results[i];
	memmove(&a->results[i], &a->results[i + 1],
	    (a->nresults - i - 1) * sizeof(r));
	a->nresults--;
	if (r.len > s->scratch_len - LWS_PRE) {
		free(r.frame);
		return -1;
	}
	memcpy(s->scratch + LWS_PRE, r.frame, r.len);
	n = lws_write(wsi, s->scratch + LWS_PRE, r.len, LWS_WRITE_TEXT);
	free(r.frame);
	if (n < 0 || (size_t)n < r.len) {
		printf("error %d \"write failed\"\n", a->idx);
		return -1;
	}
	printf("sent %d result action_id=%s status=%s%s\n", a->idx, r.action_id,
	    r.status, r.copy > 1 ? " copy=2" : "");
	if (a->nresults > 0)
		lws_callback_on_writable(wsi);
	return 0;
}

/* Sends the next piece of what agent a has to say. */
int
sim_send_next(struct sim *s, struct sim_agent *a, struct lws *wsi)
{
	const char *what = NULL, *data = NULL;
	char *hello = NULL, *inv = NULL;
	size_t len = 0, chunk;
	int proto = LWS_WRITE_TEXT, flags, n;
	bool first, last;

	while (a->step < 3) {
		if (a->step == 0 && !s->o.no_hello) {
			if (!a->have_challenge)
				return 0; /* the hello answers the challenge */
			hello = hello_of(s, a);
			if (hello == NULL)
				return -1;
			what = "hello";
			data = hello;
			len = strlen(hello);
			break;
		}
		if (a->step == 1 && s->inventory != NULL) {
			what = "inventory";
			data = s->inventory;
			len = s->inventory_len;
			if (s->o.containers > 0) {
				/* Same length as the template: fragments
				 * cut it at the same places. */
				if (sim_inventory_of(s, a, &inv, &len) != 0)
					return -1;
				data = inv;
			}
			break;
		}
		if (a->step == 2 && s->raw != NULL) {
			what = "raw";
			data = s->raw;
			len = s->raw_len;
			if (s->o.binary)
				proto = LWS_WRITE_BINARY;
			break;
		}
		a->step++;
	}
	if (a->step >= 3)
		return send_result(s, a, wsi);
	chunk = len - a->off;
	if (s->o.fragment > 0 && chunk > (size_t)s->o.fragment)
		chunk = (size_t)s->o.fragment;
	first = a->off == 0;
	last = a->off + chunk == len;
	/* lws masks client frames in place: never hand it shared bytes. */
	memcpy(s->scratch + LWS_PRE, data + a->off, chunk);
	flags = lws_write_ws_flags(proto, first, last);
	n = lws_write(wsi, s->scratch + LWS_PRE, chunk,
	    (enum lws_write_protocol)flags);
	free(hello);
	free(inv);
	if (n < 0 || (size_t)n < chunk) {
		printf("error %d \"write failed\"\n", a->idx);
		return -1;
	}
	a->off += chunk;
	if (last) {
		if (!s->o.quiet)
			printf("sent %d %s bytes=%zu\n", a->idx, what, len);
		if (a->step == 0)
			sim_hello_sent(s, a);
		a->off = 0;
		a->step++;
	}
	lws_callback_on_writable(wsi);
	return 0;
}
