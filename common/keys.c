/* SPDX-License-Identifier: ISC */
/* Loading, checking and writing Ed25519 key files. */
#include "keys.h"

#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "fileio.h"
#include "text.h"

void
keys_id(const uint8_t pk[static KEYS_PUBLIC_LEN],
    char id[static KEYS_ID_LEN + 1])
{
	uint8_t digest[crypto_hash_sha256_BYTES];

	crypto_hash_sha256(digest, pk, KEYS_PUBLIC_LEN);
	text_hex(digest, KEYS_ID_LEN / 2, id);
}

int
keys_generate(struct keys_secret *out)
{
	memset(out, 0, sizeof(*out));
	if (sodium_init() < 0)
		return SIGNET_ERR_CRYPTO;
	if (crypto_sign_keypair(out->pub.pk, out->sk) != 0)
		return SIGNET_ERR_CRYPTO;
	keys_id(out->pub.pk, out->pub.id);
	return 0;
}

/* Decodes exactly want bytes of base64 from text[0..len). */
static int
decode_exact(const char *text, size_t len, uint8_t *bin, size_t want,
    const char *what, struct err_msg *msg)
{
	size_t got = 0;
	/* 64-byte keys need 88 chars; anything much longer is not a key. */
	uint8_t tmp[KEYS_SECRET_LEN + 8];
	int r = SIGNET_ERR_FORMAT;

	if (len == 0 || len > 128) {
		r = err_set(msg, SIGNET_ERR_KEY_LENGTH,
		    "%s: %zu characters of base64 cannot hold a %zu-byte key",
		    what, len, want);
		goto out;
	}
	if (text_b64_decode_into(text, len, tmp, sizeof(tmp), &got) != 0) {
		r = err_set(msg, SIGNET_ERR_FORMAT, "%s: not valid base64",
		    what);
		goto out;
	}
	if (got != want) {
		r = err_set(msg, SIGNET_ERR_KEY_LENGTH,
		    "%s: key is %zu bytes, expected %zu", what, got, want);
		goto out;
	}
	memcpy(bin, tmp, want);
	r = 0;
out:
	sodium_memzero(tmp, sizeof(tmp));
	return r;
}

int
keys_parse_public(const char *b64, size_t len, struct keys_public *out,
    struct err_msg *msg)
{
	int r;

	memset(out, 0, sizeof(*out));
	r = decode_exact(b64, len, out->pk, KEYS_PUBLIC_LEN, "public key", msg);
	if (r != 0)
		return r;
	keys_id(out->pk, out->id);
	return 0;
}

/* Length of the text without trailing "\n" or "\r\n". */
static size_t
trim_newline(const char *s, size_t len)
{
	if (len > 0 && s[len - 1] == '\n')
		len--;
	if (len > 0 && s[len - 1] == '\r')
		len--;
	return len;
}

int
keys_load_secret(const char *path, struct keys_secret *out, struct err_msg *msg)
{
	char buf[KEYS_FILE_MAX];
	size_t len = 0, tlen;
	uint8_t derived_pk[KEYS_PUBLIC_LEN];
	uint8_t check_sk[KEYS_SECRET_LEN];
	int r;

	memset(out, 0, sizeof(*out));
	r = fileio_read_small(path, buf, sizeof(buf) - 1, &len, FILEIO_SECRET,
	    msg);
	if (r != 0)
		goto out;
	tlen = trim_newline(buf, len);
	if (memchr(buf, '\n', tlen) != NULL) {
		r = err_set(msg, SIGNET_ERR_FORMAT,
		    "%s: a secret key file holds exactly one line", path);
		goto out;
	}
	r = decode_exact(buf, tlen, out->sk, KEYS_SECRET_LEN, path, msg);
	if (r != 0)
		goto out;
	/* The stored public half must be the one the seed gives. */
	if (sodium_init() < 0 ||
	    crypto_sign_seed_keypair(derived_pk, check_sk, out->sk) != 0) {
		r = err_set(msg, SIGNET_ERR_CRYPTO, "%s: cannot derive key",
		    path);
		goto out;
	}
	if (sodium_memcmp(derived_pk, out->sk + 32, KEYS_PUBLIC_LEN) != 0) {
		r = err_set(msg, SIGNET_ERR_FORMAT,
		    "%s: corrupt secret key (public half does not match seed)",
		    path);
		goto out;
	}
	memcpy(out->pub.pk, derived_pk, KEYS_PUBLIC_LEN);
	keys_id(out->pub.pk, out->pub.id);
	r = 0;
out:
	sodium_memzero(buf, sizeof(buf));
	sodium_memzero(check_sk, sizeof(check_sk));
	if (r != 0)
		keys_secret_wipe(out);
	return r;
}

/* Parses the text of a pinned-key file read from path. */
static int
parse_pubset(const char *path, const char *buf, size_t len,
    struct keys_pubset *out, struct err_msg *msg)
{
	size_t off = 0, lineno = 0, i;
	int r;

	while (off < len) {
		const char *line = buf + off;
		const char *nl = memchr(line, '\n', len - off);
		size_t llen = nl != NULL ? (size_t)(nl - line) : len - off;
		struct keys_public key;
		struct err_msg sub;

		off += llen + (nl != NULL ? 1 : 0);
		lineno++;
		if (llen > 0 && line[llen - 1] == '\r')
			llen--;
		if (llen == 0 || line[0] == '#')
			continue;
		if (out->count == KEYS_PUBSET_MAX)
			return err_set(msg, SIGNET_ERR_TOO_LARGE,
			    "%s:%zu: more than %d keys", path, lineno,
			    KEYS_PUBSET_MAX);
		r = keys_parse_public(line, llen, &key, &sub);
		if (r != 0)
			return err_set(msg, r, "%s:%zu: %s", path, lineno,
			    sub.text);
		for (i = 0; i < out->count; i++) {
			if (strcmp(out->keys[i].id, key.id) == 0)
				return err_set(msg, SIGNET_ERR_FORMAT,
				    "%s:%zu: key %s listed twice", path, lineno,
				    key.id);
		}
		out->keys[out->count++] = key;
	}
	if (out->count == 0)
		return err_set(msg, SIGNET_ERR_FORMAT, "%s: holds no key",
		    path);
	return 0;
}

int
keys_load_pubset(const char *path, struct keys_pubset *out, struct err_msg *msg)
{
	char buf[KEYS_FILE_MAX];
	size_t len = 0;
	int r;

	memset(out, 0, sizeof(*out));
	r = fileio_read_small(path, buf, sizeof(buf) - 1, &len, FILEIO_PUBLIC,
	    msg);
	if (r != 0)
		return r;
	return parse_pubset(path, buf, len, out, msg);
}

int
keys_load_pubset_trusted(const char *path, const char *what,
    struct keys_pubset *out, struct err_msg *msg)
{
	char *buf = NULL;
	size_t len = 0;
	int r;

	memset(out, 0, sizeof(*out));
	r = fileio_read_trusted(path, KEYS_FILE_MAX - 1, what, &buf, &len, msg);
	if (r == 0)
		r = parse_pubset(path, buf, len, out, msg);
	free(buf);
	return r;
}

/* The one key of set, read from path. */
static int
only_key(const char *path, const struct keys_pubset *set,
    struct keys_public *out, struct err_msg *msg)
{
	if (set->count != 1)
		return err_set(msg, SIGNET_ERR_FORMAT,
		    "%s: holds %zu keys where one is expected", path,
		    set->count);
	*out = set->keys[0];
	return 0;
}

int
keys_load_public_trusted(const char *path, const char *what,
    struct keys_public *out, struct err_msg *msg)
{
	struct keys_pubset set;
	int r;

	memset(out, 0, sizeof(*out));
	r = keys_load_pubset_trusted(path, what, &set, msg);
	return r != 0 ? r : only_key(path, &set, out, msg);
}

int
keys_load_public(const char *path, struct keys_public *out, struct err_msg *msg)
{
	struct keys_pubset set;
	int r;

	memset(out, 0, sizeof(*out));
	r = keys_load_pubset(path, &set, msg);
	if (r != 0)
		return r;
	if (set.count != 1)
		return err_set(msg, SIGNET_ERR_FORMAT,
		    "%s: holds %zu keys where one is expected", path,
		    set.count);
	*out = set.keys[0];
	return 0;
}

const struct keys_public *
keys_pubset_find(const struct keys_pubset *set, const char *key_id)
{
	size_t i;

	if (set == NULL || key_id == NULL)
		return NULL;
	for (i = 0; i < set->count; i++) {
		if (strcmp(set->keys[i].id, key_id) == 0)
			return &set->keys[i];
	}
	return NULL;
}

int
keys_write_pair(const char *dir, const char *name,
    const struct keys_secret *key, struct err_msg *msg)
{
	char keypath[PATH_MAX], pubpath[PATH_MAX];
	char b64[sodium_base64_ENCODED_LEN(KEYS_SECRET_LEN,
	             sodium_base64_VARIANT_ORIGINAL) +
	    1];
	int n1, n2, r;
	bool wrote_key = false;

	n1 = snprintf(keypath, sizeof(keypath), "%s/%s.key", dir, name);
	n2 = snprintf(pubpath, sizeof(pubpath), "%s/%s.pub", dir, name);
	if (n1 < 0 || n2 < 0 || (size_t)n1 >= sizeof(keypath) ||
	    (size_t)n2 >= sizeof(pubpath))
		return err_set(msg, SIGNET_ERR_TOO_LARGE, "path too long");
	/* Check both first so that a refusal leaves nothing behind. */
	if (access(keypath, F_OK) == 0 || access(pubpath, F_OK) == 0)
		return err_set(msg, SIGNET_ERR_EXISTS,
		    "%s or %s already exists; refusing to overwrite", keypath,
		    pubpath);
	sodium_bin2base64(b64, sizeof(b64) - 1, key->sk, KEYS_SECRET_LEN,
	    sodium_base64_VARIANT_ORIGINAL);
	strncat(b64, "\n", 2);
	r = fileio_write_new(keypath, b64, strlen(b64), 0600, msg);
	if (r != 0)
		goto out;
	wrote_key = true;
	sodium_bin2base64(b64, sizeof(b64) - 1, key->pub.pk, KEYS_PUBLIC_LEN,
	    sodium_base64_VARIANT_ORIGINAL);
	strncat(b64, "\n", 2);
	r = fileio_write_new(pubpath, b64, strlen(b64), 0644, msg);
	if (r != 0)
		goto out;
	r = fileio_sync_dir(dir, msg);
out:
	if (r != 0 && wrote_key)
		(void)unlink(keypath);
	sodium_memzero(b64, sizeof(b64));
	return r;
}

void
keys_secret_wipe(struct keys_secret *key)
{
	if (key != NULL)
		sodium_memzero(key, sizeof(*key));
}
