/* SPDX-License-Identifier: ISC */
/*
 * The hub's part in the operator roster (docs/operators.md): it hands the
 * roster the server holds to every agent after its hello and after a
 * reload took a newer one, and notes what each host says it holds. The
 * server only carries the roster: each agent verifies it against the
 * roster keys it pins, so nothing here is trusted by a host. Each agent
 * also shares the policy it enforces, which the server reads (strictly,
 * as the agent does) only to know when a request needs approvals.
 */
#include <inttypes.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "hub_int.h"
#include "log.h"
#include "policy.h"
#include "roster_store.h"
#include "server_ctx.h"
#include "text.h"

/* The roster frame for r, a new hub_out; NULL when out of memory. */
static struct hub_out *
roster_out(const struct hub_conn *c, const struct roster *r)
{
	struct hub_out *o = NULL;
	char *b64 = NULL, *text = NULL;
	size_t b64len, len = 0;

	b64len = sodium_base64_encoded_len(r->file_len,
	    sodium_base64_VARIANT_ORIGINAL);
	b64 = malloc(b64len);
	if (b64 == NULL)
		goto out;
	sodium_bin2base64(b64, b64len, r->file, r->file_len,
	    sodium_base64_VARIANT_ORIGINAL);
	if (wire_build_roster(b64, &text, &len) != 0)
		goto out;
	o = calloc(1, sizeof(*o));
	if (o == NULL || (o->buf = malloc(LWS_PRE + len)) == NULL) {
		free(o);
		o = NULL;
		goto out;
	}
	/* Nothing to undeliver: counted with the acknowledgements. */
	o->is_ack = true;
	memcpy(o->host_id, c->id.name, strlen(c->id.name) + 1);
	memcpy(o->buf + LWS_PRE, text, len);
	o->len = len;
out:
	free(b64);
	free(text);
	return o;
}

void
hub_roster_send(struct hub *hub, struct hub_conn *c)
{
	struct roster *r;
	struct hub_out *o;

	if (hub->ctx->roster == NULL)
		return;
	r = roster_store_acquire(hub->ctx->roster);
	if (r == NULL)
		return;
	o = roster_out(c, r);
	if (o == NULL)
		log_error("agent %s: out of memory sending roster version "
		          "%" PRId64 "; it gets it at its next connection",
		    c->id.name, r->version);
	else
		hub_out_append(c, o);
	roster_store_release(hub->ctx->roster, r);
}

void
hub_roster_send_all(struct hub *hub)
{
	struct hub_conn *c;

	for (c = hub->conns; c != NULL; c = c->next)
		if (c->hello_done && !c->closing && !c->ended)
			hub_roster_send(hub, c);
}

void
hub_roster_status(struct hub *hub, struct hub_conn *c,
    const struct wire_roster_status *st)
{
	char held[65];
	int64_t ours;

	registry_set_roster(hub->ctx->registry, c->id.name, c->session,
	    st->version, st->sha256, st->refused);
	ours = roster_store_version(hub->ctx->roster, held);
	if (st->refused[0] != '\0')
		log_warn("agent %s refused the roster (it holds version "
		         "%" PRId64 ", this server version %" PRId64 "): %s",
		    c->id.name, st->version, ours, st->refused);
	else if (st->version != ours || strcmp(st->sha256, held) != 0)
		log_info("agent %s holds roster version %" PRId64
		         "; this server holds %" PRId64,
		    c->id.name, st->version, ours);
	else
		log_debug("agent %s holds roster version %" PRId64, c->id.name,
		    st->version);
}

void
hub_policy(struct hub *hub, struct hub_conn *c, const char *policy_b64)
{
	struct policy *p = NULL;
	struct err_msg m;
	uint8_t *buf = NULL;
	size_t len = 0;
	char label[IDENTITY_NAME_MAX + 32];

	err_clear(&m);
	(void)snprintf(label, sizeof(label), "%s's policy", c->id.name);
	if (text_b64_decode(policy_b64, strlen(policy_b64), POLICY_FILE_MAX,
	        &buf, &len) != 0)
		(void)err_set(&m, SIGNET_ERR_FORMAT,
		    "%s: not base64 of at "
		    "most %d bytes",
		    label, POLICY_FILE_MAX);
	else if (policy_parse((const char *)buf, len, label, c->id.name, &p,
	             &m) != 0)
		p = NULL;
	if (p == NULL)
		log_warn("agent %s shared a policy this server cannot read "
		         "(signed requests to it are relayed at once): %s",
		    c->id.name, m.text);
	else
		log_info("agent %s shares its policy: %zu rules", c->id.name,
		    policy_rule_count(p));
	/* An unreadable one forgets the last: never judge on a stale one. */
	registry_set_policy(hub->ctx->registry, c->id.name, c->session, p);
	free(buf);
}
