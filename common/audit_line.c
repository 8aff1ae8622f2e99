/* SPDX-License-Identifier: ISC */
/* Parsing, hashing and signature checks of single audit log lines. */
#include "audit.h"

#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "jsonx.h"
#include "text.h"

#define SIG_MARK ",\"sig\":\""
/* Record data holds envelopes and small objects; deeper is hostile. */
#define RECORD_MAX_DEPTH 8

void
audit_line_hash(const char *line, size_t len,
    char hex[static AUDIT_HASH_HEX + 1])
{
	uint8_t digest[crypto_hash_sha256_BYTES];

	crypto_hash_sha256(digest, (const unsigned char *)line, len);
	text_hex(digest, sizeof(digest), hex);
}

void
audit_record_free(struct audit_record *rec)
{
	if (rec == NULL)
		return;
	cJSON_Delete(rec->root);
	memset(rec, 0, sizeof(*rec));
}

static bool
is_b64_char(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	    (c >= '0' && c <= '9') || c == '+' || c == '/' || c == '=';
}

/* Copies a required string member of 1..max bytes without controls. */
static int
copy_member(const cJSON *root, const char *key, char *dst, size_t max,
    struct err_msg *msg)
{
	const char *s = NULL;
	size_t n;
	int r;

	r = jsonx_get_string(root, key, false, "record", &s, msg);
	if (r != 0)
		return r;
	n = strlen(s);
	if (n == 0 || n > max || text_has_control(s))
		return err_set(msg, SIGNET_ERR_FORMAT,
		    "record.%s: must be 1..%zu printable bytes", key, max);
	memcpy(dst, s, n + 1);
	return 0;
}

int
audit_parse_line(const char *line, size_t len, struct audit_record *rec,
    struct err_msg *msg)
{
	static const char *const members[] = { "seq", "ts", "prev", "event",
		"actor", "data", "sig", NULL };
	const size_t marklen = sizeof(SIG_MARK) - 1;
	const char *prev = NULL, *sig = NULL;
	size_t p, siglen, got = 0;
	int64_t seq = 0;
	int r;

	memset(rec, 0, sizeof(*rec));
	if (len >= AUDIT_LINE_MAX)
		return err_set(msg, SIGNET_ERR_TOO_LARGE,
		    "record longer than %d bytes", AUDIT_LINE_MAX);
	/* The line must end with ,"sig":"BASE64"} — sig last, as signed. */
	if (len < marklen + 3 || line[len - 1] != '}' || line[len - 2] != '"')
		return err_set(msg, SIGNET_ERR_FORMAT,
		    "record does not end with its \"sig\" member");
	p = len - 2;
	while (p > 0 && is_b64_char(line[p - 1]))
		p--;
	siglen = len - 2 - p;
	if (p < marklen || memcmp(line + p - marklen, SIG_MARK, marklen) != 0)
		return err_set(msg, SIGNET_ERR_FORMAT,
		    "record does not end with its \"sig\" member");
	if (siglen !=
	        sodium_base64_ENCODED_LEN(KEYS_SIG_LEN,
	            sodium_base64_VARIANT_ORIGINAL) -
	            1 ||
	    text_b64_decode_into(line + p, siglen, rec->sig, sizeof(rec->sig),
	        &got) != 0 ||
	    got != KEYS_SIG_LEN)
		return err_set(msg, SIGNET_ERR_FORMAT,
		    "record sig is not base64 of %d bytes", KEYS_SIG_LEN);
	rec->signed_len = p - marklen;
	r = jsonx_parse_object("record", line, len, RECORD_MAX_DEPTH,
	    &rec->root, msg);
	if (r != 0)
		goto out;
	r = jsonx_only_members(rec->root, members, "record", msg);
	if (r != 0)
		goto out;
	r = jsonx_get_int64(rec->root, "seq", 0, JSONX_INT_MAX, "record", &seq,
	    msg);
	if (r != 0)
		goto out;
	rec->seq = (uint64_t)seq;
	r = jsonx_get_int64(rec->root, "ts", 0, JSONX_INT_MAX, "record",
	    &rec->ts, msg);
	if (r != 0)
		goto out;
	r = jsonx_get_string(rec->root, "prev", false, "record", &prev, msg);
	if (r != 0)
		goto out;
	if (!text_is_hex(prev, AUDIT_HASH_HEX)) {
		r = err_set(msg, SIGNET_ERR_FORMAT,
		    "record.prev: must be %d lowercase hex digits",
		    AUDIT_HASH_HEX);
		goto out;
	}
	memcpy(rec->prev, prev, AUDIT_HASH_HEX + 1);
	r = copy_member(rec->root, "event", rec->event, AUDIT_EVENT_MAX, msg);
	if (r != 0)
		goto out;
	r = copy_member(rec->root, "actor", rec->actor, AUDIT_ACTOR_MAX, msg);
	if (r != 0)
		goto out;
	r = jsonx_get_object(rec->root, "data", "record", &rec->data, msg);
	if (r != 0)
		goto out;
	/* The parsed sig must be the very text we cut out above. */
	r = jsonx_get_string(rec->root, "sig", false, "record", &sig, msg);
	if (r != 0)
		goto out;
	if (strlen(sig) != siglen || memcmp(sig, line + p, siglen) != 0) {
		r = err_set(msg, SIGNET_ERR_FORMAT,
		    "record sig member is not the last member");
		goto out;
	}
	r = 0;
out:
	if (r != 0)
		audit_record_free(rec);
	return r;
}

int
audit_check_sig(const struct audit_record *rec, const char *line,
    const struct keys_public *pub)
{
	const size_t clen = sizeof(AUDIT_CTX) - 1;
	unsigned char *buf;
	int r;

	if (rec->signed_len > AUDIT_LINE_MAX)
		return SIGNET_ERR_TOO_LARGE;
	buf = malloc(clen + rec->signed_len + 1);
	if (buf == NULL)
		return SIGNET_ERR_ALLOC;
	memcpy(buf, AUDIT_CTX, clen);
	memcpy(buf + clen, line, rec->signed_len);
	buf[clen + rec->signed_len] = '}';
	r = crypto_sign_verify_detached(rec->sig, buf,
	        clen + rec->signed_len + 1, pub->pk) == 0 ?
	    0 :
	    SIGNET_ERR_BAD_SIGNATURE;
	free(buf);
	return r;
}
