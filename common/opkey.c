/* SPDX-License-Identifier: ISC */
/*
 * Operator secret key files (opkey.h): sealing an Ed25519 secret under a
 * passphrase with Argon2id and crypto_secretbox, or storing it with a
 * checksum for automation accounts; reading them back with every limit
 * checked before any memory is committed; and asking for the passphrase
 * on the terminal with echo off. Everything secret (the file's text, the
 * decoded blob, the derived key, the passphrase) lives in sodium_malloc'd
 * memory, wiped when freed.
 */
#include "opkey.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include <sodium.h>

#include "fileio.h"
#include "text.h"

#define OPKEY_KDF_NONE 0
#define OPKEY_KDF_ARGON2ID13 1
#define OPKEY_SALT_LEN 16  /* crypto_pwhash_argon2id_SALTBYTES */
#define OPKEY_NONCE_LEN 24 /* crypto_secretbox_NONCEBYTES */
#define OPKEY_SUM_LEN 16   /* BLAKE2b checksum of an unsealed key */
#define OPKEY_BODY_LEN 80  /* sealed: 64 + MAC; unsealed: 64 + checksum */
#define OPKEY_OFF_OPS 1
#define OPKEY_OFF_MEM 9
#define OPKEY_OFF_SALT 17
#define OPKEY_OFF_NONCE (OPKEY_OFF_SALT + OPKEY_SALT_LEN)
#define OPKEY_OFF_BODY (OPKEY_OFF_NONCE + OPKEY_NONCE_LEN)
#define OPKEY_BLOB_LEN (OPKEY_OFF_BODY + OPKEY_BODY_LEN)         /* 137 */
#define OPKEY_B64_LEN (((OPKEY_BLOB_LEN + 2) / 3) * 4)           /* 184 */
#define OPKEY_LINE_LEN (sizeof(OPKEY_MAGIC) + OPKEY_B64_LEN + 1) /* +" \n" */
#define OPKEY_FILE_MAX 512 /* bytes read at most; the line is 208 */

_Static_assert(OPKEY_SALT_LEN == crypto_pwhash_argon2id_SALTBYTES, "salt");
_Static_assert(OPKEY_NONCE_LEN == crypto_secretbox_NONCEBYTES, "nonce");
_Static_assert(OPKEY_BODY_LEN == KEYS_SECRET_LEN + crypto_secretbox_MACBYTES,
    "sealed body");
_Static_assert(OPKEY_BODY_LEN == KEYS_SECRET_LEN + OPKEY_SUM_LEN,
    "unsealed body");
_Static_assert(crypto_secretbox_KEYBYTES == 32, "secretbox key");

/* The decoded blob's header, checked. */
struct opkey_header {
	uint8_t kdf;
	uint64_t opslimit;
	uint64_t memlimit;
};

static void
put_le64(uint8_t *p, uint64_t v)
{
	size_t i;

	for (i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t
get_le64(const uint8_t *p)
{
	uint64_t v = 0;
	size_t i;

	for (i = 0; i < 8; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

/*
 * Checks the header of blob: a known kdf, and for Argon2id limits within
 * libsodium's interactive-to-sensitive range, so that a hostile file can
 * make us neither allocate gigabytes nor spin for minutes; an unsealed
 * key carries no parameters at all.
 */
static int
check_header(const char *path, const uint8_t *blob, struct opkey_header *h,
    struct err_msg *msg)
{
	h->kdf = blob[0];
	h->opslimit = get_le64(blob + OPKEY_OFF_OPS);
	h->memlimit = get_le64(blob + OPKEY_OFF_MEM);
	if (h->kdf == OPKEY_KDF_NONE) {
		if (!sodium_is_zero(blob + OPKEY_OFF_OPS,
		        OPKEY_OFF_BODY - OPKEY_OFF_OPS))
			return err_set(msg, SIGNET_ERR_FORMAT,
			    "%s: an unsealed key with passphrase parameters; "
			    "the file is damaged",
			    path);
		return 0;
	}
	if (h->kdf != OPKEY_KDF_ARGON2ID13)
		return err_set(msg, SIGNET_ERR_FORMAT,
		    "%s: unknown key derivation %u (0 none, 1 argon2id13)",
		    path, (unsigned)h->kdf);
	if (h->opslimit < crypto_pwhash_argon2id_OPSLIMIT_MIN ||
	    h->opslimit > crypto_pwhash_argon2id_OPSLIMIT_SENSITIVE)
		return err_set(msg, SIGNET_ERR_FORMAT,
		    "%s: argon2id opslimit %llu outside %u..%u", path,
		    (unsigned long long)h->opslimit,
		    crypto_pwhash_argon2id_OPSLIMIT_MIN,
		    crypto_pwhash_argon2id_OPSLIMIT_SENSITIVE);
	if (h->memlimit < crypto_pwhash_argon2id_MEMLIMIT_MIN ||
	    h->memlimit > crypto_pwhash_argon2id_MEMLIMIT_SENSITIVE)
		return err_set(msg, SIGNET_ERR_FORMAT,
		    "%s: argon2id memlimit %llu bytes outside %u..%u", path,
		    (unsigned long long)h->memlimit,
		    crypto_pwhash_argon2id_MEMLIMIT_MIN,
		    crypto_pwhash_argon2id_MEMLIMIT_SENSITIVE);
	return 0;
}

/*
 * Reads the key file at path and decodes its blob into
 * blob[0..OPKEY_BLOB_LEN) (sodium_malloc'd by the caller), its header
 * checked into *h.
 */
static int
read_blob(const char *path, uint8_t *blob, struct opkey_header *h,
    struct err_msg *msg)
{
	static const char magic[] = OPKEY_MAGIC " ";
	char *buf = NULL;
	size_t len = 0, got = 0;
	int r;

	buf = sodium_malloc(OPKEY_FILE_MAX + 1);
	if (buf == NULL) {
		r = err_set(msg, SIGNET_ERR_ALLOC, "%s: out of memory", path);
		goto out;
	}
	/* A secret: no symbolic link, a regular file only its owner reads. */
	r = fileio_read_small(path, buf, OPKEY_FILE_MAX, &len, FILEIO_SECRET,
	    msg);
	if (r == SIGNET_ERR_TOO_LARGE)
		r = err_set(msg, SIGNET_ERR_FORMAT,
		    "%s: more than %d bytes, not an operator key file", path,
		    OPKEY_FILE_MAX);
	if (r != 0)
		goto out;
	if (len < sizeof(magic) - 1 ||
	    memcmp(buf, magic, sizeof(magic) - 1) != 0) {
		r = err_set(msg, SIGNET_ERR_FORMAT,
		    "%s: not an operator key file (it does not start with "
		    "\"%s\")",
		    path, magic);
		goto out;
	}
	if (len > 0 && buf[len - 1] == '\n')
		len--;
	if (len != sizeof(magic) - 1 + OPKEY_B64_LEN) {
		r = err_set(msg, SIGNET_ERR_FORMAT,
		    "%s: %zu characters after \"%s\", expected one line of %d "
		    "(truncated or followed by something else)",
		    path, len - (sizeof(magic) - 1), OPKEY_MAGIC,
		    OPKEY_B64_LEN);
		goto out;
	}
	if (text_b64_decode_into(buf + sizeof(magic) - 1, OPKEY_B64_LEN, blob,
	        OPKEY_BLOB_LEN, &got) != 0 ||
	    got != OPKEY_BLOB_LEN) {
		r = err_set(msg, SIGNET_ERR_FORMAT, "%s: not valid base64",
		    path);
		goto out;
	}
	r = check_header(path, blob, h, msg);
out:
	sodium_free(buf);
	if (r != 0)
		sodium_memzero(blob, OPKEY_BLOB_LEN);
	return r;
}

int
opkey_is_sealed(const char *path, struct err_msg *msg)
{
	struct opkey_header h;
	uint8_t *blob;
	int r;

	if (sodium_init() < 0)
		return err_set(msg, SIGNET_ERR_CRYPTO,
		    "cannot initialise libsodium");
	blob = sodium_malloc(OPKEY_BLOB_LEN);
	if (blob == NULL)
		return err_set(msg, SIGNET_ERR_ALLOC, "%s: out of memory",
		    path);
	r = read_blob(path, blob, &h, msg);
	if (r == 0)
		r = h.kdf == OPKEY_KDF_ARGON2ID13 ? 1 : 0;
	sodium_free(blob);
	return r;
}

/* The secretbox key for pass under the blob's salt and limits. */
static int
derive(const char *what, const char *pass, size_t passlen, const uint8_t *blob,
    const struct opkey_header *h, uint8_t *key, struct err_msg *msg)
{
	if (crypto_pwhash(key, crypto_secretbox_KEYBYTES, pass,
	        (unsigned long long)passlen, blob + OPKEY_OFF_SALT,
	        (unsigned long long)h->opslimit, (size_t)h->memlimit,
	        crypto_pwhash_ALG_ARGON2ID13) != 0)
		return err_set(msg, SIGNET_ERR_CRYPTO,
		    "%s: cannot derive the key from the passphrase "
		    "(argon2id needs %llu MiB: out of memory?)",
		    what, (unsigned long long)(h->memlimit >> 20));
	return 0;
}

int
opkey_load(const char *path, const char *pass, size_t passlen,
    struct keys_secret *out, struct err_msg *msg)
{
	struct opkey_header h;
	uint8_t *blob = NULL, *key = NULL, *sk = NULL, *check_sk = NULL;
	uint8_t sum[OPKEY_SUM_LEN], derived_pk[KEYS_PUBLIC_LEN];
	int r;

	keys_secret_wipe(out);
	if (sodium_init() < 0) {
		r = err_set(msg, SIGNET_ERR_CRYPTO,
		    "cannot initialise libsodium");
		goto out;
	}
	blob = sodium_malloc(OPKEY_BLOB_LEN);
	key = sodium_malloc(crypto_secretbox_KEYBYTES);
	sk = sodium_malloc(KEYS_SECRET_LEN);
	check_sk = sodium_malloc(KEYS_SECRET_LEN);
	if (blob == NULL || key == NULL || sk == NULL || check_sk == NULL) {
		r = err_set(msg, SIGNET_ERR_ALLOC, "%s: out of memory", path);
		goto out;
	}
	r = read_blob(path, blob, &h, msg);
	if (r != 0)
		goto out;
	if (h.kdf == OPKEY_KDF_ARGON2ID13) {
		if (pass == NULL || passlen == 0 ||
		    passlen > OPKEY_PASSPHRASE_MAX) {
			r = err_set(msg, SIGNET_ERR_INVALID_ARG,
			    "%s: sealed with a passphrase, and %s", path,
			    pass == NULL || passlen == 0 ?
			        "none was given" :
			        "the one given is too long");
			goto out;
		}
		r = derive(path, pass, passlen, blob, &h, key, msg);
		if (r != 0)
			goto out;
		if (crypto_secretbox_open_easy(sk, blob + OPKEY_OFF_BODY,
		        OPKEY_BODY_LEN, blob + OPKEY_OFF_NONCE, key) != 0) {
			r = err_set(msg, SIGNET_ERR_BAD_SIGNATURE,
			    "%s: wrong passphrase (or the file is damaged)",
			    path);
			goto out;
		}
	} else {
		memcpy(sk, blob + OPKEY_OFF_BODY, KEYS_SECRET_LEN);
		if (crypto_generichash(sum, sizeof(sum), sk, KEYS_SECRET_LEN,
		        NULL, 0) != 0) {
			r = err_set(msg, SIGNET_ERR_CRYPTO,
			    "%s: cannot hash the key", path);
			goto out;
		}
		if (sodium_memcmp(sum, blob + OPKEY_OFF_BODY + KEYS_SECRET_LEN,
		        OPKEY_SUM_LEN) != 0) {
			r = err_set(msg, SIGNET_ERR_BAD_SIGNATURE,
			    "%s: damaged (the checksum of the key does not "
			    "match)",
			    path);
			goto out;
		}
	}
	/* The stored public half must be the one the seed gives. */
	if (crypto_sign_seed_keypair(derived_pk, check_sk, sk) != 0) {
		r = err_set(msg, SIGNET_ERR_CRYPTO, "%s: cannot derive the key",
		    path);
		goto out;
	}
	if (sodium_memcmp(derived_pk, sk + crypto_sign_SEEDBYTES,
	        KEYS_PUBLIC_LEN) != 0) {
		r = err_set(msg, SIGNET_ERR_FORMAT,
		    "%s: damaged (the public half does not match the seed)",
		    path);
		goto out;
	}
	memcpy(out->sk, sk, KEYS_SECRET_LEN);
	memcpy(out->pub.pk, derived_pk, KEYS_PUBLIC_LEN);
	keys_id(out->pub.pk, out->pub.id);
	r = 0;
out:
	sodium_memzero(sum, sizeof(sum));
	sodium_free(check_sk);
	sodium_free(sk);
	sodium_free(key);
	sodium_free(blob);
	if (r != 0)
		keys_secret_wipe(out);
	return r;
}

/* Makes the blob of key: sealed under pass, or with its checksum. */
static int
make_blob(const struct keys_secret *key, const char *pass, size_t passlen,
    uint8_t *blob, struct err_msg *msg)
{
	struct opkey_header h = { OPKEY_KDF_NONE, 0, 0 };
	uint8_t *dk = NULL;
	int r;

	memset(blob, 0, OPKEY_BLOB_LEN);
	if (pass == NULL) {
		memcpy(blob + OPKEY_OFF_BODY, key->sk, KEYS_SECRET_LEN);
		if (crypto_generichash(blob + OPKEY_OFF_BODY + KEYS_SECRET_LEN,
		        OPKEY_SUM_LEN, key->sk, KEYS_SECRET_LEN, NULL,
		        0) != 0) {
			r = err_set(msg, SIGNET_ERR_CRYPTO,
			    "cannot hash the key");
			goto out;
		}
		r = 0;
		goto out;
	}
	dk = sodium_malloc(crypto_secretbox_KEYBYTES);
	if (dk == NULL) {
		r = err_set(msg, SIGNET_ERR_ALLOC, "out of memory");
		goto out;
	}
	h.kdf = OPKEY_KDF_ARGON2ID13;
	h.opslimit = crypto_pwhash_argon2id_OPSLIMIT_INTERACTIVE;
	h.memlimit = crypto_pwhash_argon2id_MEMLIMIT_INTERACTIVE;
	blob[0] = h.kdf;
	put_le64(blob + OPKEY_OFF_OPS, h.opslimit);
	put_le64(blob + OPKEY_OFF_MEM, h.memlimit);
	randombytes_buf(blob + OPKEY_OFF_SALT, OPKEY_SALT_LEN);
	randombytes_buf(blob + OPKEY_OFF_NONCE, OPKEY_NONCE_LEN);
	r = derive("the new key", pass, passlen, blob, &h, dk, msg);
	if (r != 0)
		goto out;
	if (crypto_secretbox_easy(blob + OPKEY_OFF_BODY, key->sk,
	        KEYS_SECRET_LEN, blob + OPKEY_OFF_NONCE, dk) != 0) {
		r = err_set(msg, SIGNET_ERR_CRYPTO, "cannot seal the key");
		goto out;
	}
	r = 0;
out:
	sodium_free(dk);
	if (r != 0)
		sodium_memzero(blob, OPKEY_BLOB_LEN);
	return r;
}

/*
 * Writes data to a new temporary file beside final (".NAME.XXXXXXXX",
 * made exclusively, fsynced), named into tmp[0..PATH_MAX).
 */
static int
write_temp(const char *dir, const char *base, const void *data, size_t len,
    mode_t mode, char *tmp, struct err_msg *msg)
{
	uint8_t rnd[4];
	char hex[sizeof(rnd) * 2 + 1];
	int n;

	randombytes_buf(rnd, sizeof(rnd));
	text_hex(rnd, sizeof(rnd), hex);
	n = snprintf(tmp, PATH_MAX, "%s/.%s.%s", dir, base, hex);
	if (n < 0 || n >= PATH_MAX) {
		tmp[0] = '\0';
		return err_set(msg, SIGNET_ERR_TOO_LARGE, "path too long");
	}
	n = fileio_write_new(tmp, data, len, mode, msg);
	if (n != 0)
		tmp[0] = '\0';
	return n;
}

/* Gives tmp its final name, never replacing a file that is there. */
static int
place(const char *tmp, const char *final, struct err_msg *msg)
{
	int saved;

	if (renameat2(AT_FDCWD, tmp, AT_FDCWD, final, RENAME_NOREPLACE) == 0)
		return 0;
	saved = errno;
	if (saved == EEXIST)
		return err_set(msg, SIGNET_ERR_EXISTS,
		    "%s: already exists; refusing to overwrite", final);
	return err_set(msg, SIGNET_ERR_IO, "cannot rename %s to %s: %s", tmp,
	    final, strerror(saved));
}

int
opkey_write_pair(const char *dir, const char *name,
    const struct keys_secret *key, const char *pass, size_t passlen,
    struct err_msg *msg)
{
	char keypath[PATH_MAX], pubpath[PATH_MAX];
	char tmpkey[PATH_MAX] = "", tmppub[PATH_MAX] = "";
	char keybase[PATH_MAX], pubbase[PATH_MAX];
	char pubtext[sodium_base64_ENCODED_LEN(KEYS_PUBLIC_LEN,
	                 sodium_base64_VARIANT_ORIGINAL) +
	    1];
	uint8_t *blob = NULL;
	char *line = NULL; /* OPKEY_LINE_LEN + 1, sodium_malloc'd */
	bool placed_key = false, placed_pub = false;
	size_t off;
	int n1, n2, n3, n4, r;

	if (dir == NULL || name == NULL || key == NULL ||
	    !text_valid_name(name)) {
		r = err_set(msg, SIGNET_ERR_INVALID_ARG,
		    "bad key name: use [a-z0-9][a-z0-9._-]{0,62}");
		goto out;
	}
	if (pass != NULL && (passlen == 0 || passlen > OPKEY_PASSPHRASE_MAX)) {
		r = err_set(msg, SIGNET_ERR_INVALID_ARG,
		    "a passphrase is 1 to %d bytes, not %zu",
		    OPKEY_PASSPHRASE_MAX, passlen);
		goto out;
	}
	n1 = snprintf(keypath, sizeof(keypath), "%s/%s.key", dir, name);
	n2 = snprintf(pubpath, sizeof(pubpath), "%s/%s.pub", dir, name);
	n3 = snprintf(keybase, sizeof(keybase), "%s.key", name);
	n4 = snprintf(pubbase, sizeof(pubbase), "%s.pub", name);
	/* The temporary names add 10 characters: ".", "." and 8 hex. */
	if (n1 < 0 || n2 < 0 || n3 < 0 || n4 < 0 ||
	    (size_t)n1 >= sizeof(keypath) - 10 ||
	    (size_t)n2 >= sizeof(pubpath) - 10) {
		r = err_set(msg, SIGNET_ERR_TOO_LARGE, "path too long");
		goto out;
	}
	/* Check both first so that a refusal leaves nothing behind. */
	if (access(keypath, F_OK) == 0 || access(pubpath, F_OK) == 0) {
		r = err_set(msg, SIGNET_ERR_EXISTS,
		    "%s or %s already exists; refusing to overwrite", keypath,
		    pubpath);
		goto out;
	}
	if (sodium_init() < 0) {
		r = err_set(msg, SIGNET_ERR_CRYPTO,
		    "cannot initialise libsodium");
		goto out;
	}
	blob = sodium_malloc(OPKEY_BLOB_LEN);
	line = sodium_malloc(OPKEY_LINE_LEN + 1);
	if (blob == NULL || line == NULL) {
		r = err_set(msg, SIGNET_ERR_ALLOC, "out of memory");
		goto out;
	}
	r = make_blob(key, pass, passlen, blob, msg);
	if (r != 0)
		goto out;
	off = sizeof(OPKEY_MAGIC) - 1;
	memcpy(line, OPKEY_MAGIC, off);
	line[off++] = ' ';
	sodium_bin2base64(line + off, OPKEY_B64_LEN + 1, blob, OPKEY_BLOB_LEN,
	    sodium_base64_VARIANT_ORIGINAL);
	off += OPKEY_B64_LEN;
	line[off++] = '\n';
	line[off] = '\0';
	sodium_bin2base64(pubtext, sizeof(pubtext) - 1, key->pub.pk,
	    KEYS_PUBLIC_LEN, sodium_base64_VARIANT_ORIGINAL);
	strncat(pubtext, "\n", 2);

	r = write_temp(dir, keybase, line, off, 0600, tmpkey, msg);
	if (r != 0)
		goto out;
	r = write_temp(dir, pubbase, pubtext, strlen(pubtext), 0644, tmppub,
	    msg);
	if (r != 0)
		goto out;
	r = place(tmpkey, keypath, msg);
	if (r != 0)
		goto out;
	placed_key = true;
	tmpkey[0] = '\0';
	r = place(tmppub, pubpath, msg);
	if (r != 0)
		goto out;
	placed_pub = true;
	tmppub[0] = '\0';
	r = fileio_sync_dir(dir, msg);
out:
	if (r != 0) {
		if (placed_key)
			(void)unlink(keypath);
		if (placed_pub)
			(void)unlink(pubpath);
	}
	if (tmpkey[0] != '\0')
		(void)unlink(tmpkey);
	if (tmppub[0] != '\0')
		(void)unlink(tmppub);
	sodium_free(line);
	sodium_free(blob);
	return r;
}

/* ---------------------------------------------------------- passphrases */

/* The signal that came while the terminal's echo was off, or 0. */
static volatile sig_atomic_t opkey_signo;

static void
on_signal(int signo)
{
	opkey_signo = signo;
}

static const int opkey_signals[] = { SIGINT, SIGHUP, SIGQUIT, SIGTERM };
#define OPKEY_NSIGNALS (sizeof(opkey_signals) / sizeof(opkey_signals[0]))

/*
 * Reads one line from fd into buf (at most OPKEY_PASSPHRASE_MAX bytes, no
 * newline), a byte at a time so that nothing after the line is consumed.
 * waitmask NULL: a plain descriptor. Otherwise the terminal, whose
 * signals are blocked: each wait for input unblocks them atomically
 * (ppoll with waitmask), so that a signal caught by on_signal before or
 * during the wait ends the read (SIGNET_ERR_IO) instead of being missed.
 */
static int
read_line(int fd, const char *what, const sigset_t *waitmask, char *buf,
    size_t *len, struct err_msg *msg)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	size_t off = 0;
	ssize_t n;
	char c;

	*len = 0;
	for (;;) {
		if (waitmask != NULL) {
			if (opkey_signo != 0)
				return err_set(msg, SIGNET_ERR_IO,
				    "interrupted");
			if (ppoll(&pfd, 1, NULL, waitmask) < 0) {
				if (errno == EINTR)
					continue;
				return err_set(msg, SIGNET_ERR_IO,
				    "cannot wait for %s: %s", what,
				    strerror(errno));
			}
		}
		n = read(fd, &c, 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return err_set(msg, SIGNET_ERR_IO,
			    "cannot read the passphrase from %s: %s", what,
			    strerror(errno));
		if (n == 0 || c == '\n')
			break;
		if (c == '\0')
			return err_set(msg, SIGNET_ERR_FORMAT,
			    "the passphrase from %s holds a NUL byte", what);
		if (off == OPKEY_PASSPHRASE_MAX)
			return err_set(msg, SIGNET_ERR_TOO_LARGE,
			    "the passphrase from %s is longer than %d bytes",
			    what, OPKEY_PASSPHRASE_MAX);
		buf[off++] = c;
	}
	buf[off] = '\0';
	*len = off;
	if (off == 0)
		return err_set(msg, SIGNET_ERR_FORMAT,
		    "empty passphrase from %s", what);
	return 0;
}

/*
 * Asks for one passphrase on the terminal tty (its descriptor) with echo
 * off, restoring the terminal, the signal dispositions and the signal
 * mask on every path; a signal that comes meanwhile is raised again once
 * they are restored (as readpassphrase(3) does).
 */
static int
ask(int tty, const char *prompt, char *buf, size_t *len, struct err_msg *msg)
{
	struct sigaction sa, saved_sa[OPKEY_NSIGNALS];
	struct termios saved, quiet;
	sigset_t block, oldmask;
	bool have_sa[OPKEY_NSIGNALS] = { false };
	int r, signo;
	size_t i;

	*len = 0;
	if (tcgetattr(tty, &saved) != 0)
		return err_set(msg, SIGNET_ERR_IO,
		    "no terminal to ask for the passphrase on (%s): use "
		    "--passphrase-fd",
		    strerror(errno));
	opkey_signo = 0;
	(void)sigemptyset(&block);
	for (i = 0; i < OPKEY_NSIGNALS; i++)
		(void)sigaddset(&block, opkey_signals[i]);
	if (sigprocmask(SIG_BLOCK, &block, &oldmask) != 0)
		return err_set(msg, SIGNET_ERR_IO, "cannot block signals: %s",
		    strerror(errno));
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	(void)sigemptyset(&sa.sa_mask);
	sa.sa_flags = 0;
	for (i = 0; i < OPKEY_NSIGNALS; i++)
		have_sa[i] = sigaction(opkey_signals[i], &sa, &saved_sa[i]) ==
		    0;
	quiet = saved;
	quiet.c_lflag &= ~(tcflag_t)ECHO;
	quiet.c_lflag |= ECHONL | ICANON;
	if (tcsetattr(tty, TCSAFLUSH, &quiet) != 0) {
		r = err_set(msg, SIGNET_ERR_IO,
		    "cannot turn the terminal's echo off: %s", strerror(errno));
		goto out;
	}
	if (fileio_write_all(tty, prompt, strlen(prompt)) != 0) {
		r = err_set(msg, SIGNET_ERR_IO,
		    "cannot write to the terminal: %s", strerror(errno));
		goto out;
	}
	r = read_line(tty, "the terminal", &oldmask, buf, len, msg);
out:
	(void)tcsetattr(tty, TCSAFLUSH, &saved);
	signo = opkey_signo;
	for (i = 0; i < OPKEY_NSIGNALS; i++)
		if (have_sa[i])
			(void)sigaction(opkey_signals[i], &saved_sa[i], NULL);
	(void)sigprocmask(SIG_SETMASK, &oldmask, NULL);
	if (signo != 0)
		(void)raise(signo);
	if (r != 0) {
		sodium_memzero(buf, OPKEY_PASSPHRASE_MAX + 1);
		*len = 0;
	}
	return r;
}

/*
 * Asks on /dev/tty for a passphrase into buf, and with confirm a second
 * time, refusing a mismatch.
 */
static int
ask_tty(const char *prompt, bool confirm, char *buf, size_t *len,
    struct err_msg *msg)
{
	char *again = NULL;
	size_t n2 = 0;
	int tty, r;

	tty = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (tty < 0)
		return err_set(msg, SIGNET_ERR_IO,
		    "no terminal to ask for the passphrase on (/dev/tty: %s): "
		    "use --passphrase-fd",
		    strerror(errno));
	r = ask(tty, prompt != NULL ? prompt : "passphrase: ", buf, len, msg);
	if (r != 0 || !confirm)
		goto out;
	again = sodium_malloc(OPKEY_PASSPHRASE_MAX + 1);
	if (again == NULL) {
		r = err_set(msg, SIGNET_ERR_ALLOC, "out of memory");
		goto out;
	}
	r = ask(tty, "the same passphrase again: ", again, &n2, msg);
	if (r != 0)
		goto out;
	if (*len != n2 || sodium_memcmp(buf, again, n2) != 0) {
		r = err_set(msg, SIGNET_ERR_FORMAT,
		    "the two passphrases differ");
		goto out;
	}
	r = 0;
out:
	(void)close(tty);
	sodium_free(again);
	return r;
}

int
opkey_read_passphrase(int fd, const char *prompt, bool confirm, char **pass,
    size_t *len, struct err_msg *msg)
{
	char *buf = NULL, what[32];
	size_t n = 0;
	int r;

	*pass = NULL;
	*len = 0;
	if (sodium_init() < 0) {
		r = err_set(msg, SIGNET_ERR_CRYPTO,
		    "cannot initialise libsodium");
		goto out;
	}
	buf = sodium_malloc(OPKEY_PASSPHRASE_MAX + 1);
	if (buf == NULL) {
		r = err_set(msg, SIGNET_ERR_ALLOC, "out of memory");
		goto out;
	}
	if (fd >= 0) {
		(void)snprintf(what, sizeof(what), "descriptor %d", fd);
		r = read_line(fd, what, NULL, buf, &n, msg);
	} else {
		r = ask_tty(prompt, confirm, buf, &n, msg);
	}
	if (r != 0)
		goto out;
	*pass = buf;
	*len = n;
	buf = NULL;
	r = 0;
out:
	sodium_free(buf);
	return r;
}

void
opkey_passphrase_free(char *pass, size_t len)
{
	if (pass == NULL)
		return;
	sodium_memzero(pass, len);
	sodium_free(pass);
}
