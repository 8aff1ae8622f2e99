/* SPDX-License-Identifier: ISC */
/*
 * C2SP signed notes, checkpoints and Ed25519 cosignatures (common/note.h),
 * porting the checks of Go's golang.org/x/mod/sumdb/note (note.go, BSD
 * licence, Copyright 2019 The Go Authors): the note is valid UTF-8
 * without control characters but newline, the text ends at the last
 * blank line, each signature line is an em dash, a space, a valid key
 * name, a space and base64 of at least 5 bytes, at most 100 of them;
 * unknown keys are ignored, a known key's bad signature refuses the whole
 * note. Stricter than Go where it costs nothing: base64 must be
 * canonical, lines and names are bounded.
 */
#include "note.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "dynbuf.h"
#include "text.h"

#define EM_DASH_SP "\xe2\x80\x94 " /* U+2014 and a space */
#define EM_DASH_SP_LEN 4
#define COSIG_HEADER "cosignature/v1\n"
/* Decoded bytes of a signature line's base64 we look at. */
#define SIG_RAW_MAX (NOTE_LINE_MAX / 4 * 3)
#define ESC_MAX 96 /* bytes of an escaped name in messages */

/* Decodes one UTF-8 code point of valid UTF-8 at p; *n gets its length. */
static uint32_t
utf8_cp(const unsigned char *p, size_t *n)
{
	if (p[0] < 0x80) {
		*n = 1;
		return p[0];
	}
	if (p[0] < 0xe0) {
		*n = 2;
		return ((uint32_t)(p[0] & 0x1f) << 6) | (p[1] & 0x3f);
	}
	if (p[0] < 0xf0) {
		*n = 3;
		return ((uint32_t)(p[0] & 0x0f) << 12) |
		    ((uint32_t)(p[1] & 0x3f) << 6) | (p[2] & 0x3f);
	}
	*n = 4;
	return ((uint32_t)(p[0] & 0x07) << 18) |
	    ((uint32_t)(p[1] & 0x3f) << 12) | ((uint32_t)(p[2] & 0x3f) << 6) |
	    (p[3] & 0x3f);
}

/* Go's unicode.IsSpace: White_Space of Latin-1, and category Z. */
static bool
cp_is_space(uint32_t c)
{
	switch (c) {
	case '\t':
	case '\n':
	case '\v':
	case '\f':
	case '\r':
	case ' ':
	case 0x85:
	case 0xa0:
	case 0x1680:
	case 0x2028:
	case 0x2029:
	case 0x202f:
	case 0x205f:
	case 0x3000: return true;
	default: return c >= 0x2000 && c <= 0x200a;
	}
}

bool
note_name_valid(const char *name, size_t len)
{
	const unsigned char *p = (const unsigned char *)name;
	size_t i = 0, n;
	uint32_t c;

	if (name == NULL || len == 0 || len > NOTE_NAME_MAX ||
	    !text_utf8_valid(name, len))
		return false;
	while (i < len) {
		c = utf8_cp(p + i, &n);
		if (c < 0x20 || c == 0x7f || c == '+' || cp_is_space(c))
			return false;
		i += n;
	}
	return true;
}

uint32_t
note_key_id(const char *name, uint8_t type,
    const uint8_t pk[static KEYS_PUBLIC_LEN])
{
	crypto_hash_sha256_state st;
	uint8_t sum[crypto_hash_sha256_BYTES];
	static const uint8_t nl = '\n';

	crypto_hash_sha256_init(&st);
	crypto_hash_sha256_update(&st, (const uint8_t *)name, strlen(name));
	crypto_hash_sha256_update(&st, &nl, 1);
	crypto_hash_sha256_update(&st, &type, 1);
	crypto_hash_sha256_update(&st, pk, KEYS_PUBLIC_LEN);
	crypto_hash_sha256_final(&st, sum);
	return (uint32_t)sum[0] << 24 | (uint32_t)sum[1] << 16 |
	    (uint32_t)sum[2] << 8 | sum[3];
}

int
note_verifier_init(struct note_verifier *v, const char *name, uint8_t type,
    const uint8_t pk[static KEYS_PUBLIC_LEN])
{
	memset(v, 0, sizeof(*v));
	if (name == NULL || !note_name_valid(name, strlen(name)) ||
	    (type != NOTE_TYPE_ED25519 && type != NOTE_TYPE_COSIG))
		return SIGNET_ERR_INVALID_ARG;
	memcpy(v->name, name, strlen(name) + 1);
	v->type = type;
	memcpy(v->pk, pk, KEYS_PUBLIC_LEN);
	v->key_id = note_key_id(v->name, type, pk);
	return 0;
}

/*
 * Decodes canonical base64 (what we would encode ourselves) into buf of
 * cap bytes. Returns 0, SIGNET_ERR_FORMAT or SIGNET_ERR_TOO_LARGE.
 */
static int
b64_canonical(const char *b64, size_t len, uint8_t *buf, size_t cap,
    size_t *got)
{
	char again[NOTE_LINE_MAX + 8];
	int r;

	*got = 0;
	r = text_b64_decode_into(b64, len, buf, cap, got);
	if (r != 0)
		return r;
	if (sodium_base64_encoded_len(*got, sodium_base64_VARIANT_ORIGINAL) >
	    sizeof(again))
		return SIGNET_ERR_TOO_LARGE;
	sodium_bin2base64(again, sizeof(again), buf, *got,
	    sodium_base64_VARIANT_ORIGINAL);
	if (strlen(again) != len || memcmp(again, b64, len) != 0) {
		*got = 0;
		return SIGNET_ERR_FORMAT;
	}
	return 0;
}

static int
hex8(const char *s, uint32_t *out)
{
	uint32_t v = 0;
	int i, d;

	for (i = 0; i < NOTE_KEY_ID_HEX; i++) {
		if (s[i] >= '0' && s[i] <= '9')
			d = s[i] - '0';
		else if (s[i] >= 'a' && s[i] <= 'f')
			d = s[i] - 'a' + 10;
		else if (s[i] >= 'A' && s[i] <= 'F')
			d = s[i] - 'A' + 10;
		else
			return SIGNET_ERR_FORMAT;
		v = v << 4 | (uint32_t)d;
	}
	*out = v;
	return 0;
}

int
note_verifier_parse(const char *text, size_t len, struct note_verifier *v,
    struct err_msg *msg)
{
	char esc[ESC_MAX], name[NOTE_NAME_MAX + 1];
	const char *p1, *p2;
	uint8_t key[1 + KEYS_PUBLIC_LEN + 1];
	size_t nlen, klen = 0;
	uint32_t id = 0;
	int r;

	memset(v, 0, sizeof(*v));
	if (len > NOTE_VKEY_MAX)
		return err_set(msg, SIGNET_ERR_TOO_LARGE,
		    "verifier key of %zu bytes (at most %d)", len,
		    NOTE_VKEY_MAX);
	text_escape(text, len, esc, sizeof(esc));
	p1 = memchr(text, '+', len);
	if (p1 == NULL)
		return err_set(msg, SIGNET_ERR_FORMAT,
		    "verifier key \"%s\": not NAME+ID+KEY", esc);
	nlen = (size_t)(p1 - text);
	if (!note_name_valid(text, nlen))
		return err_set(msg, SIGNET_ERR_FORMAT,
		    "verifier key \"%s\": invalid key name", esc);
	memcpy(name, text, nlen);
	name[nlen] = '\0';
	p1++;
	p2 = memchr(p1, '+', len - (size_t)(p1 - text));
	if (p2 == NULL || p2 - p1 != NOTE_KEY_ID_HEX || hex8(p1, &id) != 0)
		return err_set(msg, SIGNET_ERR_FORMAT,
		    "verifier key \"%s\": the key id is not 8 hex digits", esc);
	p2++;
	r = b64_canonical(p2, len - (size_t)(p2 - text), key, sizeof(key),
	    &klen);
	if (r != 0 || klen == 0)
		return err_set(msg,
		    r == SIGNET_ERR_TOO_LARGE ? SIGNET_ERR_KEY_LENGTH :
		                                SIGNET_ERR_FORMAT,
		    "verifier key \"%s\": the key is not canonical base64 "
		    "of a type and a 32-byte key",
		    esc);
	if (key[0] != NOTE_TYPE_ED25519 && key[0] != NOTE_TYPE_COSIG)
		return err_set(msg, SIGNET_ERR_FORMAT,
		    "verifier key \"%s\": unsupported key type 0x%02x (0x01 "
		    "Ed25519 or 0x04 Ed25519 cosignature)",
		    esc, key[0]);
	if (klen != 1 + KEYS_PUBLIC_LEN)
		return err_set(msg, SIGNET_ERR_KEY_LENGTH,
		    "verifier key \"%s\": a %zu-byte key, not 32", esc,
		    klen - 1);
	if (note_key_id(name, key[0], key + 1) != id)
		return err_set(msg, SIGNET_ERR_UNKNOWN_KEY,
		    "verifier key \"%s\": the key id is not the one its name "
		    "and key give",
		    esc);
	r = note_verifier_init(v, name, key[0], key + 1);
	if (r != 0)
		return err_set(msg, r, "verifier key \"%s\": refused", esc);
	return 0;
}

int
note_verifier_format(const struct note_verifier *v, char *buf, size_t size)
{
	uint8_t key[1 + KEYS_PUBLIC_LEN];
	char b64[64];
	int w;

	if (size > 0)
		buf[0] = '\0';
	if (!note_name_valid(v->name, strnlen(v->name, sizeof(v->name))) ||
	    (v->type != NOTE_TYPE_ED25519 && v->type != NOTE_TYPE_COSIG))
		return SIGNET_ERR_INVALID_ARG;
	key[0] = v->type;
	memcpy(key + 1, v->pk, KEYS_PUBLIC_LEN);
	sodium_bin2base64(b64, sizeof(b64), key, sizeof(key),
	    sodium_base64_VARIANT_ORIGINAL);
	w = snprintf(buf, size, "%s+%08" PRIx32 "+%s", v->name, v->key_id, b64);
	if (w < 0 || (size_t)w >= size) {
		if (size > 0)
			buf[0] = '\0';
		return SIGNET_ERR_TOO_LARGE;
	}
	return 0;
}

/*
 * Checks one signature line (without its newline): em dash, space, a
 * valid name, a space, canonical base64 of 5.. bytes. Fills name, *id and
 * raw[0..*rawlen) (the bytes after the key id; raw may be NULL).
 */
static int
parse_sigline(const char *line, size_t len, char name[NOTE_NAME_MAX + 1],
    uint32_t *id, uint8_t *raw, size_t *rawlen, struct err_msg *msg)
{
	uint8_t *buf;
	const char *sp;
	size_t nlen, got = 0;
	int r;

	if (len < EM_DASH_SP_LEN || memcmp(line, EM_DASH_SP, EM_DASH_SP_LEN))
		return err_set(msg, SIGNET_ERR_FORMAT,
		    "a signature line does not start with an em dash and a "
		    "space");
	line += EM_DASH_SP_LEN;
	len -= EM_DASH_SP_LEN;
	sp = memchr(line, ' ', len);
	if (sp == NULL)
		return err_set(msg, SIGNET_ERR_FORMAT,
		    "a signature line has no space after the key name");
	nlen = (size_t)(sp - line);
	if (!note_name_valid(line, nlen))
		return err_set(msg, SIGNET_ERR_FORMAT,
		    "a signature line has an invalid key name");
	memcpy(name, line, nlen);
	name[nlen] = '\0';
	sp++;
	buf = malloc(SIG_RAW_MAX + 4);
	if (buf == NULL)
		return err_set(msg, SIGNET_ERR_ALLOC, "out of memory");
	r = b64_canonical(sp, len - nlen - 1, buf, SIG_RAW_MAX + 4, &got);
	if (r != 0 || got < 5) {
		free(buf);
		return err_set(msg,
		    r == SIGNET_ERR_TOO_LARGE ? SIGNET_ERR_TOO_LARGE :
		                                SIGNET_ERR_FORMAT,
		    "the signature of \"%s\" is not canonical base64 of a key "
		    "id and a signature",
		    name);
	}
	*id = (uint32_t)buf[0] << 24 | (uint32_t)buf[1] << 16 |
	    (uint32_t)buf[2] << 8 | buf[3];
	if (raw != NULL)
		memcpy(raw, buf + 4, got - 4);
	if (rawlen != NULL)
		*rawlen = got - 4;
	free(buf);
	return 0;
}

void
note_free(struct note *n)
{
	if (n == NULL)
		return;
	free(n->buf);
	free(n->sigs);
	free(n);
}

/*
 * Checks the text rules every note obeys: valid UTF-8, no control
 * characters but newline, lines of at most NOTE_LINE_MAX bytes. what
 * names the part in messages.
 */
static int
check_chars(const char *p, size_t len, const char *what, struct err_msg *msg)
{
	size_t i, line = 1, col = 0;

	if (!text_utf8_valid(p, len))
		return err_set(msg, SIGNET_ERR_FORMAT, "%s is not valid UTF-8",
		    what);
	for (i = 0; i < len; i++) {
		if (p[i] == '\n') {
			line++;
			col = 0;
			continue;
		}
		if ((unsigned char)p[i] < 0x20)
			return err_set(msg, SIGNET_ERR_FORMAT,
			    "%s line %zu holds control character 0x%02x", what,
			    line, (unsigned)(unsigned char)p[i]);
		if (++col > NOTE_LINE_MAX)
			return err_set(msg, SIGNET_ERR_TOO_LARGE,
			    "%s line %zu is longer than %d bytes", what, line,
			    NOTE_LINE_MAX);
	}
	return 0;
}

/* The last "\n\n" of p[0..len), or NULL. */
static const char *
last_blank(const char *p, size_t len)
{
	size_t i;

	for (i = len; i >= 2; i--)
		if (p[i - 2] == '\n' && p[i - 1] == '\n')
			return p + i - 2;
	return NULL;
}

int
note_parse(const void *data, size_t len, struct note **out, struct err_msg *msg)
{
	struct note *n = NULL;
	const char *split, *p, *end, *nl;
	char name[NOTE_NAME_MAX + 1];
	uint32_t id = 0;
	size_t i, nlines = 0;
	bool dup;
	int r;

	*out = NULL;
	if (len > NOTE_SIZE_MAX)
		return err_set(msg, SIGNET_ERR_TOO_LARGE,
		    "note of %zu bytes (at most %d)", len, NOTE_SIZE_MAX);
	if (data == NULL || len == 0)
		return err_set(msg, SIGNET_ERR_FORMAT, "empty note");
	if (sodium_init() < 0)
		return err_set(msg, SIGNET_ERR_CRYPTO, "libsodium init failed");
	r = check_chars(data, len, "note", msg);
	if (r != 0)
		return r;
	split = last_blank(data, len);
	if (split == NULL)
		return err_set(msg, SIGNET_ERR_FORMAT,
		    "note has no blank line before its signatures");
	n = calloc(1, sizeof(*n));
	if (n == NULL)
		return err_set(msg, SIGNET_ERR_ALLOC, "out of memory");
	n->buf = malloc(len + 1);
	n->sigs = calloc(NOTE_SIGS_MAX, sizeof(*n->sigs));
	if (n->buf == NULL || n->sigs == NULL) {
		r = err_set(msg, SIGNET_ERR_ALLOC, "out of memory");
		goto out;
	}
	memcpy(n->buf, data, len);
	n->buf[len] = '\0';
	n->len = len;
	split = n->buf + (split - (const char *)data);
	n->text_len = (size_t)(split - n->buf) + 1;
	p = split + 2;
	end = n->buf + len;
	if (p == end || end[-1] != '\n') {
		r = err_set(msg, SIGNET_ERR_FORMAT,
		    "note does not end in signature lines, each ending in a "
		    "newline");
		goto out;
	}
	while (p < end) {
		nl = memchr(p, '\n', (size_t)(end - p));
		if (nl == NULL) { /* cannot be: the note ends in \n */
			r = SIGNET_ERR_INTERNAL;
			goto out;
		}
		if (++nlines > NOTE_SIGS_MAX) {
			r = err_set(msg, SIGNET_ERR_TOO_LARGE,
			    "note has more than %d signatures", NOTE_SIGS_MAX);
			goto out;
		}
		r = parse_sigline(p, (size_t)(nl - p), name, &id, NULL, NULL,
		    msg);
		if (r != 0) {
			char tmp[ERR_MSG_MAX];

			if (msg != NULL) {
				memcpy(tmp, msg->text, sizeof(tmp));
				r = err_set(msg, r, "signature %zu: %s", nlines,
				    tmp);
			}
			goto out;
		}
		/* Identical lines are one signature. */
		dup = false;
		for (i = 0; i < n->nsigs && !dup; i++)
			dup = n->sigs[i].line_len == (size_t)(nl - p) + 1 &&
			    memcmp(n->buf + n->sigs[i].line_off, p,
			        n->sigs[i].line_len) == 0;
		if (!dup) {
			struct note_sig *s = &n->sigs[n->nsigs++];

			memcpy(s->name, name, sizeof(s->name));
			s->key_id = id;
			s->verifier = -1;
			s->line_off = (size_t)(p - n->buf);
			s->line_len = (size_t)(nl - p) + 1;
		}
		p = nl + 1;
	}
	*out = n;
	n = NULL;
	r = 0;
out:
	note_free(n);
	return r;
}

static int check_text(const char *text, size_t len, struct err_msg *msg);

/*
 * Checks the signature line line[0..len) (newline excluded) over
 * text[0..text_len) under v, whose name and key id the line must carry.
 */
static int
verify_line(const char *text, size_t text_len, const char *line, size_t len,
    const struct note_verifier *v, uint64_t *ts, struct err_msg *msg)
{
	uint8_t *raw = NULL, *m = NULL;
	char name[NOTE_NAME_MAX + 1], hdr[64];
	size_t rawlen = 0, hlen;
	uint32_t id = 0;
	uint64_t t = 0;
	int r, i, w;

	*ts = 0;
	raw = malloc(SIG_RAW_MAX + 4);
	if (raw == NULL)
		return err_set(msg, SIGNET_ERR_ALLOC, "out of memory");
	r = parse_sigline(line, len, name, &id, raw, &rawlen, msg);
	if (r != 0)
		goto out;
	if (id != v->key_id || strcmp(name, v->name) != 0) {
		r = err_set(msg, SIGNET_ERR_UNKNOWN_KEY,
		    "the signature line is by %s+%08" PRIx32
		    ", not %s+%08" PRIx32,
		    name, id, v->name, v->key_id);
		goto out;
	}
	r = SIGNET_ERR_BAD_SIGNATURE;
	if (v->type == NOTE_TYPE_ED25519) {
		if (rawlen == crypto_sign_BYTES &&
		    crypto_sign_verify_detached(raw, (const uint8_t *)text,
		        text_len, v->pk) == 0)
			r = 0;
	} else if (v->type == NOTE_TYPE_COSIG &&
	    rawlen == 8 + crypto_sign_BYTES) {
		for (i = 0; i < 8; i++)
			t = t << 8 | raw[i];
		if (t <= (uint64_t)NOTE_TIMESTAMP_MAX) {
			w = snprintf(hdr, sizeof(hdr),
			    COSIG_HEADER "time %" PRIu64 "\n", t);
			hlen = (size_t)w;
			m = malloc(hlen + text_len);
			if (m == NULL) {
				r = err_set(msg, SIGNET_ERR_ALLOC,
				    "out of memory");
				goto out;
			}
			memcpy(m, hdr, hlen);
			memcpy(m + hlen, text, text_len);
			if (crypto_sign_verify_detached(raw + 8, m,
			        hlen + text_len, v->pk) == 0)
				r = 0;
		}
	}
	if (r != 0) {
		r = err_set(msg, SIGNET_ERR_BAD_SIGNATURE,
		    "the %s of %s+%08" PRIx32 " does not verify",
		    v->type == NOTE_TYPE_COSIG ? "cosignature" : "signature",
		    v->name, v->key_id);
		goto out;
	}
	*ts = v->type == NOTE_TYPE_COSIG ? t : 0;
out:
	free(raw);
	free(m);
	return r;
}

int
note_verify_sigline(const char *text, size_t text_len, const char *line,
    size_t line_len, const struct note_verifier *v, uint64_t *timestamp,
    struct err_msg *msg)
{
	uint64_t ts = 0;
	int r;

	*timestamp = 0;
	if (line == NULL || line_len == 0 || line[line_len - 1] != '\n' ||
	    memchr(line, '\n', line_len - 1) != NULL)
		return err_set(msg, SIGNET_ERR_FORMAT,
		    "not one signature line ending in a newline");
	r = check_text(text, text_len, msg);
	if (r == 0)
		r = check_chars(line, line_len, "signature line", msg);
	if (r == 0)
		r = verify_line(text, text_len, line, line_len - 1, v, &ts,
		    msg);
	if (r == 0)
		*timestamp = ts;
	return r;
}

int
note_open(const void *data, size_t len, const struct note_verifier *known,
    size_t nknown, struct note **out, struct err_msg *msg)
{
	struct note *n = NULL;
	struct note_sig *s;
	size_t i, j, k, m;
	bool seen;
	int r;

	*out = NULL;
	if (known == NULL && nknown > 0)
		return err_set(msg, SIGNET_ERR_INVALID_ARG, "no verifiers");
	for (i = 0; i < nknown; i++)
		for (j = i + 1; j < nknown; j++)
			if (known[i].key_id == known[j].key_id &&
			    strcmp(known[i].name, known[j].name) == 0)
				return err_set(msg, SIGNET_ERR_INVALID_ARG,
				    "two known keys are both %s+%08" PRIx32,
				    known[i].name, known[i].key_id);
	r = note_parse(data, len, &n, msg);
	if (r != 0)
		return r;
	for (i = 0, k = 0; i < n->nsigs; i++) {
		s = &n->sigs[i];
		for (j = 0; j < nknown; j++)
			if (known[j].key_id == s->key_id &&
			    strcmp(known[j].name, s->name) == 0)
				break;
		if (j < nknown) {
			/* A second signature by one key is dropped. */
			seen = false;
			for (m = 0; m < k && !seen; m++)
				seen = n->sigs[m].verifier == (int)j;
			if (seen)
				continue;
			r = verify_line(n->buf, n->text_len,
			    n->buf + s->line_off, s->line_len - 1, &known[j],
			    &s->timestamp, msg);
			if (r != 0)
				goto out;
			s->verifier = (int)j;
			n->nverified++;
		}
		if (k != i)
			n->sigs[k] = *s;
		k++;
	}
	n->nsigs = k;
	if (n->nverified == 0) {
		r = err_set(msg, SIGNET_ERR_UNKNOWN_KEY,
		    "no known key signed the note (%zu signature%s by "
		    "unknown keys)",
		    n->nsigs, n->nsigs == 1 ? "" : "s");
		goto out;
	}
	*out = n;
	n = NULL;
	r = 0;
out:
	note_free(n);
	return r;
}

const struct note_sig *
note_signed_by(const struct note *n, int i)
{
	size_t k;

	if (n == NULL || i < 0)
		return NULL;
	for (k = 0; k < n->nsigs; k++)
		if (n->sigs[k].verifier == i)
			return &n->sigs[k];
	return NULL;
}

/* Checks that text is a note text that parses back unchanged. */
static int
check_text(const char *text, size_t len, struct err_msg *msg)
{
	if (text == NULL || len == 0 || text[len - 1] != '\n')
		return err_set(msg, SIGNET_ERR_FORMAT,
		    "a note text must end in a newline");
	/* The text, a blank line and one signature line must fit. */
	if (len > NOTE_SIZE_MAX - 1 - NOTE_SIGLINE_MAX)
		return err_set(msg, SIGNET_ERR_TOO_LARGE,
		    "note text of %zu bytes (at most %d)", len,
		    NOTE_SIZE_MAX - 1 - NOTE_SIGLINE_MAX);
	return check_chars(text, len, "note text", msg);
}

/* Formats "— NAME base64(raw)\n" into line (NOTE_SIGLINE_MAX + 1). */
static int
format_sigline(const char *name, const uint8_t *raw, size_t rawlen,
    char line[static NOTE_SIGLINE_MAX + 1], size_t *line_len)
{
	char b64[128];
	int w;

	if (sodium_base64_encoded_len(rawlen, sodium_base64_VARIANT_ORIGINAL) >
	    sizeof(b64))
		return SIGNET_ERR_INTERNAL;
	sodium_bin2base64(b64, sizeof(b64), raw, rawlen,
	    sodium_base64_VARIANT_ORIGINAL);
	w = snprintf(line, NOTE_SIGLINE_MAX + 1, EM_DASH_SP "%s %s\n", name,
	    b64);
	if (w < 0 || w > NOTE_SIGLINE_MAX)
		return SIGNET_ERR_INTERNAL;
	*line_len = (size_t)w;
	return 0;
}

static void
put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

int
note_sign(const char *text, size_t text_len, const char *name,
    const struct keys_secret *key, char **out, size_t *out_len,
    struct err_msg *msg)
{
	uint8_t raw[4 + crypto_sign_BYTES], pk[KEYS_PUBLIC_LEN];
	char line[NOTE_SIGLINE_MAX + 1];
	struct dynbuf b;
	size_t llen = 0;
	int r;

	*out = NULL;
	*out_len = 0;
	dynbuf_init(&b, NOTE_SIZE_MAX);
	if (name == NULL || !note_name_valid(name, strlen(name)))
		return err_set(msg, SIGNET_ERR_INVALID_ARG,
		    "invalid key name for a note signature");
	r = check_text(text, text_len, msg);
	if (r != 0)
		return r;
	if (sodium_init() < 0 || crypto_sign_ed25519_sk_to_pk(pk, key->sk) != 0)
		return err_set(msg, SIGNET_ERR_CRYPTO, "libsodium failed");
	put_be32(raw, note_key_id(name, NOTE_TYPE_ED25519, pk));
	if (crypto_sign_detached(raw + 4, NULL, (const uint8_t *)text, text_len,
	        key->sk) != 0)
		return err_set(msg, SIGNET_ERR_CRYPTO, "signing failed");
	r = format_sigline(name, raw, sizeof(raw), line, &llen);
	if (r == 0)
		r = dynbuf_add(&b, text, text_len);
	if (r == 0)
		r = dynbuf_add(&b, "\n", 1);
	if (r == 0)
		r = dynbuf_add(&b, line, llen);
	if (r != 0) {
		dynbuf_free(&b);
		return err_set(msg, r, "cannot make the note: %s", err_str(r));
	}
	*out = dynbuf_take(&b, out_len);
	if (*out == NULL)
		return err_set(msg, SIGNET_ERR_ALLOC, "out of memory");
	return 0;
}

int
note_cosign(const char *text, size_t text_len, const char *name,
    const struct keys_secret *key, uint64_t timestamp,
    char line[static NOTE_SIGLINE_MAX + 1], size_t *line_len,
    struct err_msg *msg)
{
	struct note_checkpoint cp;
	uint8_t raw[4 + 8 + crypto_sign_BYTES], pk[KEYS_PUBLIC_LEN];
	uint8_t *m = NULL;
	char hdr[64];
	size_t hlen;
	int r, i, w;

	line[0] = '\0';
	*line_len = 0;
	if (name == NULL || !note_name_valid(name, strlen(name)))
		return err_set(msg, SIGNET_ERR_INVALID_ARG,
		    "invalid key name for a cosignature");
	if (timestamp > (uint64_t)NOTE_TIMESTAMP_MAX)
		return err_set(msg, SIGNET_ERR_INVALID_ARG,
		    "cosignature time %" PRIu64 " past 2^63 - 1", timestamp);
	r = note_checkpoint_parse(text, text_len, &cp, msg);
	if (r != 0)
		return r;
	if (sodium_init() < 0 || crypto_sign_ed25519_sk_to_pk(pk, key->sk) != 0)
		return err_set(msg, SIGNET_ERR_CRYPTO, "libsodium failed");
	put_be32(raw, note_key_id(name, NOTE_TYPE_COSIG, pk));
	for (i = 0; i < 8; i++)
		raw[4 + i] = (uint8_t)(timestamp >> (56 - 8 * i));
	w = snprintf(hdr, sizeof(hdr), COSIG_HEADER "time %" PRIu64 "\n",
	    timestamp);
	hlen = (size_t)w;
	m = malloc(hlen + text_len);
	if (m == NULL)
		return err_set(msg, SIGNET_ERR_ALLOC, "out of memory");
	memcpy(m, hdr, hlen);
	memcpy(m + hlen, text, text_len);
	if (crypto_sign_detached(raw + 12, NULL, m, hlen + text_len, key->sk) !=
	    0) {
		r = err_set(msg, SIGNET_ERR_CRYPTO, "signing failed");
		goto out;
	}
	r = format_sigline(name, raw, sizeof(raw), line, line_len);
out:
	free(m);
	return r;
}

int
note_add_sigline(const struct note *n, const char *line, size_t line_len,
    char **out, size_t *out_len, struct err_msg *msg)
{
	char name[NOTE_NAME_MAX + 1];
	struct dynbuf b;
	uint32_t id = 0;
	size_t i, count = 1;
	int r;

	*out = NULL;
	*out_len = 0;
	if (line == NULL || line_len == 0 || line[line_len - 1] != '\n' ||
	    memchr(line, '\n', line_len - 1) != NULL)
		return err_set(msg, SIGNET_ERR_FORMAT,
		    "not one signature line ending in a newline");
	r = check_chars(line, line_len, "signature line", msg);
	if (r != 0)
		return r;
	r = parse_sigline(line, line_len - 1, name, &id, NULL, NULL, msg);
	if (r != 0)
		return r;
	dynbuf_init(&b, NOTE_SIZE_MAX);
	r = dynbuf_add(&b, n->buf, n->text_len);
	if (r == 0)
		r = dynbuf_add(&b, "\n", 1);
	for (i = 0; r == 0 && i < n->nsigs; i++) {
		if (n->sigs[i].key_id == id &&
		    strcmp(n->sigs[i].name, name) == 0)
			continue;
		if (++count > NOTE_SIGS_MAX)
			r = SIGNET_ERR_TOO_LARGE;
		else
			r = dynbuf_add(&b, n->buf + n->sigs[i].line_off,
			    n->sigs[i].line_len);
	}
	if (r == 0)
		r = dynbuf_add(&b, line, line_len);
	if (r != 0) {
		dynbuf_free(&b);
		if (r == SIGNET_ERR_TOO_LARGE)
			return err_set(msg, r,
			    "the note would pass %d bytes or %d signatures",
			    NOTE_SIZE_MAX, NOTE_SIGS_MAX);
		return err_set(msg, r, "out of memory");
	}
	*out = dynbuf_take(&b, out_len);
	if (*out == NULL)
		return err_set(msg, SIGNET_ERR_ALLOC, "out of memory");
	return 0;
}

int
note_checkpoint_parse(const char *text, size_t len, struct note_checkpoint *out,
    struct err_msg *msg)
{
	const char *p = text, *end = text + len, *nl;
	char num[24], esc[ESC_MAX];
	size_t l, got = 0, i;
	uint64_t size = 0;
	int r;

	memset(out, 0, sizeof(*out));
	if (text == NULL || len == 0 || text[len - 1] != '\n')
		return err_set(msg, SIGNET_ERR_FORMAT,
		    "checkpoint text does not end in a newline");
	if (len > NOTE_CHECKPOINT_MAX)
		return err_set(msg, SIGNET_ERR_TOO_LARGE,
		    "checkpoint text of %zu bytes (at most %d)", len,
		    NOTE_CHECKPOINT_MAX);
	r = check_chars(text, len, "checkpoint", msg);
	if (r != 0)
		goto fail;
	/* Origin. */
	nl = memchr(p, '\n', (size_t)(end - p));
	l = (size_t)(nl - p);
	if (l == 0 || l > NOTE_ORIGIN_MAX) {
		r = err_set(msg,
		    l == 0 ? SIGNET_ERR_FORMAT : SIGNET_ERR_TOO_LARGE,
		    "checkpoint origin of %zu bytes (1 to %d)", l,
		    NOTE_ORIGIN_MAX);
		goto fail;
	}
	for (i = 0; i < l; i++) {
		if (p[i] == 0x7f) {
			r = err_set(msg, SIGNET_ERR_FORMAT,
			    "checkpoint origin holds a control character");
			goto fail;
		}
	}
	memcpy(out->origin, p, l);
	p = nl + 1;
	/* Size: decimal, no leading zeros, below 2^63. */
	nl = p < end ? memchr(p, '\n', (size_t)(end - p)) : NULL;
	if (nl == NULL) {
		r = err_set(msg, SIGNET_ERR_FORMAT, "checkpoint has no size");
		goto fail;
	}
	l = (size_t)(nl - p);
	text_escape(p, l, esc, sizeof(esc));
	if (l == 0 || l > 19 || (l > 1 && p[0] == '0')) {
		r = err_set(msg, SIGNET_ERR_FORMAT,
		    "checkpoint size \"%s\" is not a decimal number without "
		    "leading zeros",
		    esc);
		goto fail;
	}
	for (i = 0; i < l; i++) {
		if (p[i] < '0' || p[i] > '9') {
			r = err_set(msg, SIGNET_ERR_FORMAT,
			    "checkpoint size \"%s\" is not a decimal number",
			    esc);
			goto fail;
		}
		size = size * 10 + (uint64_t)(p[i] - '0');
	}
	memcpy(num, p, l);
	num[l] = '\0';
	if (size > (uint64_t)INT64_MAX) {
		r = err_set(msg, SIGNET_ERR_FORMAT,
		    "checkpoint size %s is 2^63 or more", num);
		goto fail;
	}
	out->size = size;
	p = nl + 1;
	/* Root hash. */
	nl = p < end ? memchr(p, '\n', (size_t)(end - p)) : NULL;
	if (nl == NULL) {
		r = err_set(msg, SIGNET_ERR_FORMAT,
		    "checkpoint has no root hash");
		goto fail;
	}
	l = (size_t)(nl - p);
	text_escape(p, l, esc, sizeof(esc));
	if (l != 44 ||
	    b64_canonical(p, l, out->root, sizeof(out->root), &got) != 0 ||
	    got != sizeof(out->root)) {
		r = err_set(msg, SIGNET_ERR_FORMAT,
		    "checkpoint root \"%s\" is not canonical base64 of 32 "
		    "bytes",
		    esc);
		goto fail;
	}
	p = nl + 1;
	/* Extension lines: non-empty. */
	if ((size_t)(end - p) > NOTE_EXT_MAX) {
		r = err_set(msg, SIGNET_ERR_TOO_LARGE,
		    "checkpoint extension lines of %zu bytes (at most %d)",
		    (size_t)(end - p), NOTE_EXT_MAX);
		goto fail;
	}
	for (i = 0; p + i < end; i++) {
		if (p[i] == '\n' && (i == 0 || p[i - 1] == '\n')) {
			r = err_set(msg, SIGNET_ERR_FORMAT,
			    "checkpoint has an empty extension line");
			goto fail;
		}
	}
	memcpy(out->ext, p, (size_t)(end - p));
	out->ext_len = (size_t)(end - p);
	return 0;
fail:
	memset(out, 0, sizeof(*out));
	return r;
}

int
note_checkpoint_format(const struct note_checkpoint *c, char *buf, size_t size,
    size_t *len, struct err_msg *msg)
{
	struct note_checkpoint back;
	char b64[48];
	size_t olen, elen;
	int w, r;

	*len = 0;
	if (size > 0)
		buf[0] = '\0';
	olen = strnlen(c->origin, sizeof(c->origin));
	elen = c->ext_len;
	if (olen == sizeof(c->origin) || elen > NOTE_EXT_MAX ||
	    strnlen(c->ext, sizeof(c->ext)) != elen)
		return err_set(msg, SIGNET_ERR_FORMAT,
		    "checkpoint origin or extension not terminated");
	sodium_bin2base64(b64, sizeof(b64), c->root, sizeof(c->root),
	    sodium_base64_VARIANT_ORIGINAL);
	w = snprintf(buf, size, "%s\n%" PRIu64 "\n%s\n%s", c->origin, c->size,
	    b64, c->ext);
	if (w < 0 || (size_t)w >= size) {
		if (size > 0)
			buf[0] = '\0';
		return err_set(msg, SIGNET_ERR_TOO_LARGE,
		    "checkpoint text does not fit %zu bytes", size);
	}
	/* What we write must read back as the same checkpoint. */
	r = note_checkpoint_parse(buf, (size_t)w, &back, msg);
	if (r == 0 &&
	    (back.size != c->size || strcmp(back.origin, c->origin) != 0 ||
	        memcmp(back.root, c->root, sizeof(c->root)) != 0))
		r = err_set(msg, SIGNET_ERR_FORMAT,
		    "checkpoint does not read back as written");
	if (r != 0) {
		buf[0] = '\0';
		return r;
	}
	*len = (size_t)w;
	return 0;
}

int
note_checkpoint_open(const void *data, size_t len,
    const struct note_verifier *known, size_t nknown, int log_index,
    struct note **out, struct note_checkpoint *cp, struct err_msg *msg)
{
	struct note *n = NULL;
	const struct note_verifier *lv;
	int r;

	*out = NULL;
	memset(cp, 0, sizeof(*cp));
	if (known == NULL || log_index < 0 || (size_t)log_index >= nknown ||
	    known[log_index].type != NOTE_TYPE_ED25519)
		return err_set(msg, SIGNET_ERR_INVALID_ARG,
		    "no Ed25519 log key to open a checkpoint with");
	lv = &known[log_index];
	r = note_open(data, len, known, nknown, &n, msg);
	if (r != 0)
		return r;
	r = note_checkpoint_parse(n->buf, n->text_len, cp, msg);
	if (r != 0)
		goto out;
	if (strcmp(cp->origin, lv->name) != 0) {
		char esc[ESC_MAX];

		text_escape_str(cp->origin, esc, sizeof(esc));
		r = err_set(msg, SIGNET_ERR_FORMAT,
		    "checkpoint origin \"%s\" is not the log's name %s", esc,
		    lv->name);
		goto out;
	}
	if (note_signed_by(n, log_index) == NULL) {
		r = err_set(msg, SIGNET_ERR_UNKNOWN_KEY,
		    "checkpoint not signed by the log key %s+%08" PRIx32,
		    lv->name, lv->key_id);
		goto out;
	}
	*out = n;
	n = NULL;
	r = 0;
out:
	if (r != 0)
		memset(cp, 0, sizeof(*cp));
	note_free(n);
	return r;
}
