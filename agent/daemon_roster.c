/* SPDX-License-Identifier: ISC */
/*
 * The agent's side of the operator roster (docs/operators.md): the keys
 * it pins, the roster it keeps on disk, and what it does with a roster the
 * server sends — take it only when it is newer and holds, say so in the
 * audit log either way, and tell the server which version it holds — and
 * the policy it shares with the server, which tells the server when an
 * operator's request needs approvals before it is worth relaying.
 */
#include <cjson/cJSON.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "clock.h"
#include "daemon_int.h"
#include "jsonx.h"
#include "log.h"
#include "text.h"

int
daemon_roster_open(struct daemon *d)
{
	struct keys_pubset pinned;
	enum roster_offer what;
	const char *keys, *file;
	struct err_msg m;
	char sha[65];
	int r;

	err_clear(&m);
	audit_limit_init(&d->roster_refused_lim, "roster.refused",
	    &d->audit_limit);
	keys = config_get(d->cfg, "roster", "keys");
	file = config_get(d->cfg, "roster", "file");
	if (keys == NULL) {
		log_warn("no roster keys pinned ([roster] keys): every "
		         "operator-signed request will be refused");
		return 0;
	}
	if (file == NULL) {
		log_error("%s: [roster] keys is set but [roster] file is not: "
		          "the agent must keep the roster it holds",
		    config_name(d->cfg));
		return 1;
	}
	if (keys_load_pubset_trusted(keys, "the pinned roster keys", &pinned,
	        &m) != 0) {
		log_error("pinned roster keys refused: %s", m.text);
		return 1;
	}
	if (roster_store_new(&pinned,
	        (unsigned)config_get_int(d->cfg, "roster", "threshold", 1),
	        file, true, &d->roster, &m) != 0) {
		log_error("%s: %s", config_name(d->cfg), m.text);
		return 1;
	}
	r = roster_store_load(d->roster, clock_wall_ms(), &what, &m);
	if (r == SIGNET_ERR_NOT_FOUND) {
		log_info("no roster held yet (%s): waiting for the server's",
		    file);
		return 0;
	}
	if (r != 0) {
		/*
		 * A kept roster that no longer verifies (the pinned keys
		 * changed) cannot be trusted, nor its version as a floor.
		 */
		log_error("the kept roster is refused: %s", m.text);
		return 1;
	}
	log_info("roster version %" PRId64 " held (%.16s)",
	    roster_store_version(d->roster, sha), sha);
	return 0;
}

void
daemon_roster_status(struct daemon *d, const char *refused)
{
	struct channel_frame *f = NULL;
	struct wire_roster_status st;
	char *text = NULL;
	size_t len = 0;
	int r;

	memset(&st, 0, sizeof(st));
	st.version = roster_store_version(d->roster, st.sha256);
	if (refused != NULL)
		(void)snprintf(st.refused, sizeof(st.refused), "%s", refused);
	r = wire_build_roster_status(&st, &text, &len);
	if (r == 0)
		r = channel_frame_take(text, len, &f);
	if (r == 0)
		r = channel_send(d->ch, f);
	channel_frame_unref(f);
	if (r != 0)
		log_warn("roster_status not sent: %s", err_str(r));
}

void
daemon_policy_send(struct daemon *d)
{
	struct channel_frame *f = NULL;
	char *src, *b64 = NULL, *text = NULL;
	size_t len = 0, b64len, flen = 0;
	int r = SIGNET_ERR_ALLOC;

	src = policy_store_source(d->policy, &len);
	if (src == NULL)
		goto out;
	b64len = sodium_base64_encoded_len(len, sodium_base64_VARIANT_ORIGINAL);
	if (b64len - 1 > WIRE_POLICY_B64_MAX) {
		log_warn(
		    "the policy (%zu bytes) is too large to share with the "
		    "server: signed requests that need approvals will be "
		    "relayed at once and denied here until approved",
		    len);
		r = 0;
		goto out;
	}
	b64 = malloc(b64len);
	if (b64 == NULL)
		goto out;
	sodium_bin2base64(b64, b64len, (const unsigned char *)src, len,
	    sodium_base64_VARIANT_ORIGINAL);
	r = wire_build_policy(b64, &text, &flen);
	if (r == 0)
		r = channel_frame_take(text, flen, &f);
	if (r == 0)
		r = channel_send(d->ch, f);
	channel_frame_unref(f);
out:
	if (r != 0)
		log_warn("policy not shared with the server: %s", err_str(r));
	free(src);
	free(b64);
}

/* roster.accepted or roster.refused, with what is known of the roster. */
static void
audit_offer(struct daemon *d, const char *event, const uint8_t *buf, size_t len,
    const char *error)
{
	cJSON *o = cJSON_CreateObject();
	char sha[65], held[65];
	int64_t version;

	envelope_sha256_hex(buf, len, sha);
	version = roster_store_version(d->roster, held);
	if (o == NULL ||
	    cJSON_AddStringToObject(o, "host_id", d->host_id) == NULL ||
	    cJSON_AddStringToObject(o, "roster_sha256", sha) == NULL ||
	    !jsonx_add_int64(o, "held_version", version) ||
	    (error != NULL &&
	        cJSON_AddStringToObject(o, "error", error) == NULL)) {
		cJSON_Delete(o);
		o = NULL;
	}
	if (audit_event(d->audit, event, DAEMON_ACTOR, o, o != NULL) != 0)
		log_error("%s not recorded", event);
}

void
daemon_roster_offered(struct daemon *d, const char *roster_b64)
{
	enum roster_offer what = 0;
	uint8_t *buf = NULL;
	size_t len = 0;
	struct err_msg m;
	cJSON *summary = NULL;
	char sha[65], why[ERR_MSG_MAX];
	int r;

	err_clear(&m);
	if (d->roster == NULL) {
		(void)snprintf(why, sizeof(why),
		    "no roster keys are pinned on this host");
		goto refused;
	}
	r = text_b64_decode(roster_b64, strlen(roster_b64), ROSTER_FILE_MAX,
	    &buf, &len);
	if (r != 0) {
		(void)snprintf(why, sizeof(why),
		    "roster: not base64 of at "
		    "most %d bytes",
		    ROSTER_FILE_MAX);
		goto refused;
	}
	r = roster_store_offer(d->roster, buf, len, clock_wall_ms(), &what, &m);
	if (r != 0) {
		(void)snprintf(why, sizeof(why), "%s", m.text);
		goto refused;
	}
	if (what == ROSTER_OFFER_TAKEN) {
		log_info("roster version %" PRId64 " taken from the server",
		    roster_store_version(d->roster, sha));
		audit_offer(d, "roster.accepted", buf, len, NULL);
	}
	daemon_roster_status(d, NULL);
	free(buf);
	return;
refused:
	log_warn("roster from the server refused: %s", why);
	/* A server that sends the same bad roster again and again is bounded. */
	if (audit_limit_take(&d->roster_refused_lim, "refused", clock_wall_ms(),
	        &summary))
		audit_offer(d, "roster.refused",
		    buf != NULL ? buf : (const uint8_t *)roster_b64,
		    buf != NULL ? len : strlen(roster_b64), why);
	(void)audit_limit_write(d->audit, DAEMON_ACTOR, summary);
	daemon_roster_status(d, why);
	free(buf);
}
