/* SPDX-License-Identifier: ISC */
/*
 * Signed notes, checkpoints and cosignatures in the C2SP formats
 * (c2sp.org/signed-note, tlog-checkpoint, tlog-cosignature; Go's
 * golang.org/x/mod/sumdb/note is the reference whose checks this ports;
 * docs/transparency.md). A note is a text ending in a newline, a blank
 * line, then signature lines "— NAME base64(keyid || signature)\n" (an em
 * dash U+2014 and a space first). Key ids are the first 4 bytes of
 * SHA-256(name || 0x0A || type || public key), type 0x01 for Ed25519
 * signatures of the text, 0x04 for tlog-cosignature/v1 Ed25519
 * cosignatures, whose signature bytes are a big-endian u64 timestamp and
 * an Ed25519 signature of "cosignature/v1\ntime T\n" || text. A checkpoint
 * is a note whose text is "ORIGIN\nSIZE\nbase64(ROOT)\n" and optional
 * extension lines. Signing keys are common/keys.h secrets.
 *
 * Every byte of a note is hostile: parsing is strict and bounded, and
 * the functions return 0 or SIGNET_ERR_FORMAT (malformed, msg says
 * where), SIGNET_ERR_TOO_LARGE (over a limit below), SIGNET_ERR_BAD_SIGNATURE
 * (a known key's signature does not verify), SIGNET_ERR_UNKNOWN_KEY (no
 * known key signed), SIGNET_ERR_INVALID_ARG (caller error: a bad name),
 * SIGNET_ERR_ALLOC or SIGNET_ERR_CRYPTO, as each function says.
 */
#ifndef SIGNET_NOTE_H
#define SIGNET_NOTE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "keys.h"

#define NOTE_SIZE_MAX 65536 /* bytes in a whole note */
#define NOTE_SIGS_MAX 100   /* signature lines in a note */
#define NOTE_NAME_MAX 255   /* bytes in a key name */
/*
 * Bytes in one line, newline excluded: room for a signature line with an
 * ML-DSA-44 cosignature (2436 bytes, 3248 in base64) that we ignore.
 */
#define NOTE_LINE_MAX 4096
#define NOTE_TYPE_ED25519 0x01
#define NOTE_TYPE_COSIG 0x04         /* tlog-cosignature/v1, Ed25519 */
#define NOTE_KEY_ID_HEX 8            /* hex digits of a key id */
#define NOTE_VKEY_MAX 320            /* bytes in a verifier key text */
#define NOTE_TIMESTAMP_MAX INT64_MAX /* cosignature times, 2^63 - 1 */
/* Bytes of one of our signature lines: "— " NAME " " base64(4+8+64) "\n". */
#define NOTE_SIGLINE_MAX (4 + NOTE_NAME_MAX + 1 + 104 + 1)

/* A known key: who may sign, with what kind of signature. */
struct note_verifier {
	char name[NOTE_NAME_MAX + 1];
	uint32_t key_id;
	uint8_t type; /* NOTE_TYPE_ED25519 or NOTE_TYPE_COSIG */
	uint8_t pk[KEYS_PUBLIC_LEN];
};

/* One signature line of a note, as parsed. */
struct note_sig {
	char name[NOTE_NAME_MAX + 1];
	uint32_t key_id;
	/*
	 * Index into the known verifiers given to note_open of the key that
	 * made it (and whose check passed), or -1 for an unknown key.
	 */
	int verifier;
	uint64_t timestamp; /* a verified cosignature's time, else 0 */
	size_t line_off;    /* the line in note->buf, newline included */
	size_t line_len;
};

/* An opened note. Free with note_free(). */
struct note {
	char *buf;       /* the whole note, NUL-terminated */
	size_t len;      /* bytes in buf, NUL excluded */
	size_t text_len; /* the text is buf[0..text_len), ending in \n */
	size_t nsigs;    /* duplicates (same line, or same known key) dropped */
	struct note_sig *sigs;
	size_t nverified; /* sigs whose verifier >= 0 */
};

/*
 * Whether name is a valid key name: 1..NOTE_NAME_MAX bytes of UTF-8
 * without Unicode spaces, '+' or control characters.
 */
bool note_name_valid(const char *name, size_t len);

/* The key id of (name, type, pk); name must be valid. */
uint32_t note_key_id(const char *name, uint8_t type,
    const uint8_t pk[static KEYS_PUBLIC_LEN]);

/*
 * Fills v for name, type and pk (computing the key id). Returns 0 or
 * SIGNET_ERR_INVALID_ARG (invalid name, unknown type).
 */
int note_verifier_init(struct note_verifier *v, const char *name, uint8_t type,
    const uint8_t pk[static KEYS_PUBLIC_LEN])
    __attribute__((warn_unused_result));

/*
 * Parses a verifier key text "NAME+HEXID+base64(type || pk)" (no
 * newline; hex of exactly 8 lowercase or uppercase digits; type 0x01 or
 * 0x04 with a 32-byte key), checking that the id is the one the name and
 * key give. Returns 0, SIGNET_ERR_FORMAT, SIGNET_ERR_KEY_LENGTH,
 * SIGNET_ERR_UNKNOWN_KEY (the id does not match) or SIGNET_ERR_TOO_LARGE.
 */
int note_verifier_parse(const char *text, size_t len, struct note_verifier *v,
    struct err_msg *msg) __attribute__((warn_unused_result));

/*
 * Writes v's verifier key text (lowercase hex) into buf (NUL-terminated;
 * NOTE_VKEY_MAX + 1 bytes always suffice). Returns 0,
 * SIGNET_ERR_TOO_LARGE (buf too small) or SIGNET_ERR_INVALID_ARG.
 */
int note_verifier_format(const struct note_verifier *v, char *buf, size_t size)
    __attribute__((warn_unused_result));

/*
 * Parses a note without checking any signature (every sig's verifier is
 * -1). Checks: at most NOTE_SIZE_MAX bytes, valid UTF-8 without control
 * characters other than newline, lines of at most NOTE_LINE_MAX bytes,
 * the text (the part before the last blank line) non-empty and ending in
 * a newline, 1..NOTE_SIGS_MAX signature lines each "— NAME B64\n" with a
 * valid name and canonical base64 of at least 5 bytes. Identical
 * signature lines are kept once. Returns 0 and *out, SIGNET_ERR_FORMAT,
 * SIGNET_ERR_TOO_LARGE or SIGNET_ERR_ALLOC; *out is NULL on failure.
 */
int note_parse(const void *data, size_t len, struct note **out,
    struct err_msg *msg) __attribute__((warn_unused_result));

/*
 * Parses a note (as note_parse) and checks its signatures against the
 * known verifiers known[0..nknown): a signature whose name and key id are
 * those of a known verifier must verify (an Ed25519 signature of the
 * text for type 0x01; a cosignature of 8 + 64 bytes with a timestamp <=
 * NOTE_TIMESTAMP_MAX for type 0x04), else SIGNET_ERR_BAD_SIGNATURE naming
 * the key; others are kept with verifier -1 (the spec says to ignore
 * them). A second signature by one known key is dropped. Two known
 * verifiers with the same name and id make SIGNET_ERR_INVALID_ARG. At
 * least one known key must have signed, else SIGNET_ERR_UNKNOWN_KEY.
 * Returns 0 and *out, or the errors of note_parse and these; *out is NULL
 * on failure.
 */
int note_open(const void *data, size_t len, const struct note_verifier *known,
    size_t nknown, struct note **out, struct err_msg *msg)
    __attribute__((warn_unused_result));

/*
 * Checks one signature line (as note_cosign makes it, or as a witness
 * returns it: "— NAME B64\n") over the note text text[0..text_len) under
 * v: a type 0x01 signature of the text or a type 0x04 cosignature, whose
 * time goes to *timestamp (0 for type 0x01 and on failure). Returns 0,
 * SIGNET_ERR_FORMAT (not one signature line, or the text is not a note
 * text), SIGNET_ERR_UNKNOWN_KEY (the line's name or key id is not v's),
 * SIGNET_ERR_BAD_SIGNATURE (does not verify; a cosignature not 8 + 64
 * bytes or with a time past NOTE_TIMESTAMP_MAX), SIGNET_ERR_TOO_LARGE or
 * SIGNET_ERR_ALLOC.
 */
int note_verify_sigline(const char *text, size_t text_len, const char *line,
    size_t line_len, const struct note_verifier *v, uint64_t *timestamp,
    struct err_msg *msg) __attribute__((warn_unused_result));

/* The signature of n made by known verifier index i, or NULL. */
const struct note_sig *note_signed_by(const struct note *n, int i);

/* Frees n; NULL allowed. */
void note_free(struct note *n);

/*
 * Signs text[0..text_len) (non-empty, ending in a newline, valid UTF-8
 * without control characters but newline, lines of at most NOTE_LINE_MAX
 * bytes: a text note_parse gives back unchanged) under name with key
 * (type 0x01), giving the whole note text "\n" sigline in *out (free()),
 * *out_len bytes, NUL-terminated. Returns 0, SIGNET_ERR_INVALID_ARG (bad
 * name), SIGNET_ERR_FORMAT (text not a valid note text),
 * SIGNET_ERR_TOO_LARGE, SIGNET_ERR_ALLOC or SIGNET_ERR_CRYPTO.
 */
int note_sign(const char *text, size_t text_len, const char *name,
    const struct keys_secret *key, char **out, size_t *out_len,
    struct err_msg *msg) __attribute__((warn_unused_result));

/*
 * Makes the tlog-cosignature/v1 signature line (type 0x04, "— NAME
 * B64\n", NUL-terminated) of the checkpoint text text[0..text_len) at
 * timestamp (seconds since the epoch, <= NOTE_TIMESTAMP_MAX) under name
 * with key, into line[NOTE_SIGLINE_MAX + 1]; *line_len bytes. Returns as
 * note_sign (the text must parse as a checkpoint: SIGNET_ERR_FORMAT).
 */
int note_cosign(const char *text, size_t text_len, const char *name,
    const struct keys_secret *key, uint64_t timestamp,
    char line[static NOTE_SIGLINE_MAX + 1], size_t *line_len,
    struct err_msg *msg) __attribute__((warn_unused_result));

/*
 * Adds a signature line (as note_cosign makes, or taken from another
 * copy of the same note) to n: the result in *out (free()), *out_len
 * bytes, is n's text, a blank line, n's signature lines except one with
 * the same name and key id as the new one, then the new line. Returns 0,
 * SIGNET_ERR_FORMAT (line is not one signature line),
 * SIGNET_ERR_TOO_LARGE (over NOTE_SIZE_MAX or NOTE_SIGS_MAX) or
 * SIGNET_ERR_ALLOC.
 */
int note_add_sigline(const struct note *n, const char *line, size_t line_len,
    char **out, size_t *out_len, struct err_msg *msg)
    __attribute__((warn_unused_result));

#define NOTE_ORIGIN_MAX 255
#define NOTE_EXT_MAX 1024 /* bytes of extension lines, newlines incl. */
/* Bytes of a checkpoint text we format: origin, size, root, extensions. */
#define NOTE_CHECKPOINT_MAX                                                    \
	(NOTE_ORIGIN_MAX + 1 + 20 + 1 + 44 + 1 + NOTE_EXT_MAX)

/* A checkpoint's text, parsed. */
struct note_checkpoint {
	char origin[NOTE_ORIGIN_MAX + 1];
	uint64_t size;
	uint8_t root[32];
	char ext[NOTE_EXT_MAX + 1]; /* extension lines, each ending \n; "" */
	size_t ext_len;
};

/*
 * Writes c's text ("ORIGIN\nSIZE\nbase64(ROOT)\n" then ext) into buf
 * (NUL-terminated), *len bytes. Refuses (SIGNET_ERR_FORMAT) what
 * note_checkpoint_parse would refuse; SIGNET_ERR_TOO_LARGE when size is
 * too small (NOTE_CHECKPOINT_MAX + 1 always suffices).
 */
int note_checkpoint_format(const struct note_checkpoint *c, char *buf,
    size_t size, size_t *len, struct err_msg *msg)
    __attribute__((warn_unused_result));

/*
 * Parses a checkpoint text strictly: an origin line of 1..NOTE_ORIGIN_MAX
 * bytes of UTF-8 without control characters; a decimal size without
 * leading zeros ("0" alone for the empty tree) below 2^63; the root as
 * canonical base64 of exactly 32 bytes; then any number of non-empty
 * extension lines (NOTE_EXT_MAX bytes at most); every line ends in a
 * newline. Returns 0, SIGNET_ERR_FORMAT or SIGNET_ERR_TOO_LARGE; *out is
 * zeroed on failure.
 */
int note_checkpoint_parse(const char *text, size_t len,
    struct note_checkpoint *out, struct err_msg *msg)
    __attribute__((warn_unused_result));

/*
 * Opens a signed checkpoint: note_open, then note_checkpoint_parse of its
 * text, and requires that known verifier log_index (a type 0x01 key whose
 * name is the origin) signed it: else SIGNET_ERR_UNKNOWN_KEY, or
 * SIGNET_ERR_FORMAT when the origin is not that key's name. Cosignatures
 * of the other known verifiers are checked and reported as note_open
 * does (note_signed_by, with their timestamps). Returns 0 with *out and
 * *cp, or the errors of those; *out is NULL on failure.
 */
int note_checkpoint_open(const void *data, size_t len,
    const struct note_verifier *known, size_t nknown, int log_index,
    struct note **out, struct note_checkpoint *cp, struct err_msg *msg)
    __attribute__((warn_unused_result));

#endif
