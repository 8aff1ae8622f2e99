/* SPDX-License-Identifier: ISC */
/*
 * Operator key files (common/opkey.h): sealed and unsealed round trips,
 * every refusal of a damaged or hostile file with its code, permissions
 * and links, exclusive writing that leaves nothing behind, and the
 * passphrase from a descriptor and from a terminal (a pseudo-terminal:
 * echo off, restored, also when a signal comes).
 */
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <sodium.h>

#include "opkey.h"
#include "testlib.h"

#define BLOB_LEN 137
#define B64_LEN 184

static char dir[] = "/tmp/signet-test-opkey.XXXXXX";

static const char *
path_of(const char *name)
{
	static char buf[4][256];
	static int k;

	k = (k + 1) % 4;
	(void)snprintf(buf[k], sizeof(buf[k]), "%s/%s", dir, name);
	return buf[k];
}

static void
put(const char *name, const void *data, size_t len, mode_t mode)
{
	const char *p = path_of(name);
	FILE *f;

	(void)unlink(p);
	f = fopen(p, "w");
	if (f == NULL) {
		CHECK(!"fopen");
		return;
	}
	CHECK(fwrite(data, 1, len, f) == len);
	CHECK(fclose(f) == 0);
	CHECK(chmod(p, mode) == 0);
}

/* The whole text of file name into buf (at most cap - 1 bytes). */
static size_t
slurp(const char *name, char *buf, size_t cap)
{
	FILE *f = fopen(path_of(name), "r");
	size_t n = 0;

	if (f == NULL) {
		CHECK(!"fopen");
		buf[0] = '\0';
		return 0;
	}
	n = fread(buf, 1, cap - 1, f);
	buf[n] = '\0';
	(void)fclose(f);
	return n;
}

/* Number of entries of the test directory (without . and ..). */
static int
entries(void)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	if (d == NULL)
		return -1;
	while ((e = readdir(d)) != NULL)
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
			n++;
	(void)closedir(d);
	return n;
}

static mode_t
mode_of(const char *name)
{
	struct stat st;

	if (stat(path_of(name), &st) != 0)
		return 0;
	return st.st_mode & 07777;
}

/* The blob of a key file's text. */
static void
blob_of(const char *text, uint8_t blob[BLOB_LEN])
{
	size_t got = 0;

	CHECK(sodium_base642bin(blob, BLOB_LEN, text + strlen(OPKEY_MAGIC) + 1,
	          B64_LEN, NULL, &got, NULL,
	          sodium_base64_VARIANT_ORIGINAL) == 0 &&
	    got == BLOB_LEN);
}

/* A key file's text for blob, with a final newline. */
static void
text_of(const uint8_t blob[BLOB_LEN], char *out, size_t cap)
{
	char b64[B64_LEN + 1];

	sodium_bin2base64(b64, sizeof(b64), blob, BLOB_LEN,
	    sodium_base64_VARIANT_ORIGINAL);
	(void)snprintf(out, cap, "%s %s\n", OPKEY_MAGIC, b64);
}

static void
put_le64(uint8_t *p, uint64_t v)
{
	int i;

	for (i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void
test_round_trip(const struct keys_secret *k)
{
	struct keys_secret out;
	struct keys_public pub;
	struct err_msg msg;
	char text[512];

	/* Sealed. */
	CHECKF(opkey_write_pair(dir, "alice", k, "hunter2", 7, &msg) == 0, "%s",
	    msg.text);
	CHECK(mode_of("alice.key") == 0600);
	CHECK(mode_of("alice.pub") == 0644);
	CHECK(entries() == 2);
	CHECK(slurp("alice.key", text, sizeof(text)) ==
	    strlen(OPKEY_MAGIC) + 1 + B64_LEN + 1);
	CHECK(strncmp(text, OPKEY_MAGIC " ", strlen(OPKEY_MAGIC) + 1) == 0);
	CHECK(opkey_is_sealed(path_of("alice.key"), &msg) == 1);
	CHECKF(opkey_load(path_of("alice.key"), "hunter2", 7, &out, &msg) == 0,
	    "%s", msg.text);
	CHECK(sodium_memcmp(out.sk, k->sk, KEYS_SECRET_LEN) == 0);
	CHECK(memcmp(out.pub.pk, k->pub.pk, KEYS_PUBLIC_LEN) == 0);
	CHECK(strcmp(out.pub.id, k->pub.id) == 0);
	CHECK(keys_load_public(path_of("alice.pub"), &pub, &msg) == 0);
	CHECK(memcmp(pub.pk, k->pub.pk, KEYS_PUBLIC_LEN) == 0);
	/* The same key sealed twice: a new salt and nonce each time. */
	{
		char text2[512];

		CHECK(opkey_write_pair(dir, "alice2", k, "hunter2", 7, &msg) ==
		    0);
		(void)slurp("alice2.key", text2, sizeof(text2));
		CHECK(strcmp(text, text2) != 0);
		CHECK(unlink(path_of("alice2.key")) == 0);
		CHECK(unlink(path_of("alice2.pub")) == 0);
	}

	/* Wrong passphrase: BAD_SIGNATURE, *out wiped. */
	memset(&out, 0xAA, sizeof(out));
	err_clear(&msg);
	CHECK(opkey_load(path_of("alice.key"), "hunter3", 7, &out, &msg) ==
	    SIGNET_ERR_BAD_SIGNATURE);
	CHECK_CONTAINS(msg.text, "wrong passphrase");
	CHECK(sodium_is_zero((const uint8_t *)&out, sizeof(out)));
	memset(&out, 0xAA, sizeof(out));
	CHECK(opkey_load(path_of("alice.key"), "hunter2", 6, &out, &msg) ==
	    SIGNET_ERR_BAD_SIGNATURE);
	CHECK(sodium_is_zero((const uint8_t *)&out, sizeof(out)));
	/* Sealed and no passphrase, or one too long. */
	memset(&out, 0xAA, sizeof(out));
	CHECK(opkey_load(path_of("alice.key"), NULL, 0, &out, &msg) ==
	    SIGNET_ERR_INVALID_ARG);
	CHECK_CONTAINS(msg.text, "sealed with a passphrase");
	CHECK(sodium_is_zero((const uint8_t *)&out, sizeof(out)));
	CHECK(opkey_load(path_of("alice.key"), "x", OPKEY_PASSPHRASE_MAX + 1,
	          &out, &msg) == SIGNET_ERR_INVALID_ARG);

	/* Unsealed, and 0400 is fine too; a passphrase given is ignored. */
	CHECK(opkey_write_pair(dir, "robot", k, NULL, 0, &msg) == 0);
	CHECK(mode_of("robot.key") == 0600);
	CHECK(mode_of("robot.pub") == 0644);
	CHECK(opkey_is_sealed(path_of("robot.key"), &msg) == 0);
	CHECK(chmod(path_of("robot.key"), 0400) == 0);
	CHECKF(opkey_load(path_of("robot.key"), NULL, 0, &out, &msg) == 0, "%s",
	    msg.text);
	CHECK(sodium_memcmp(out.sk, k->sk, KEYS_SECRET_LEN) == 0);
	CHECK(strcmp(out.pub.id, k->pub.id) == 0);
	CHECK(opkey_load(path_of("robot.key"), "ignored", 7, &out, &msg) == 0);
	CHECK(chmod(path_of("robot.key"), 0600) == 0);
	/* Without its final newline. */
	{
		char t[512];
		size_t n = slurp("robot.key", t, sizeof(t));

		put("nonl.key", t, n - 1, 0600);
		CHECK(
		    opkey_load(path_of("nonl.key"), NULL, 0, &out, &msg) == 0);
		CHECK(unlink(path_of("nonl.key")) == 0);
	}
	keys_secret_wipe(&out);
}

static void
test_permissions(void)
{
	static const mode_t loose[] = { 0640, 0604, 0644, 0660, 0606, 0601 };
	struct keys_secret out;
	struct err_msg msg;
	char text[512], want[64];
	size_t n, i;

	n = slurp("alice.key", text, sizeof(text));
	for (i = 0; i < sizeof(loose) / sizeof(loose[0]); i++) {
		put("loose.key", text, n, loose[i]);
		memset(&out, 0xAA, sizeof(out));
		err_clear(&msg);
		CHECKF(opkey_load(path_of("loose.key"), "hunter2", 7, &out,
		           &msg) == SIGNET_ERR_PERMISSIONS,
		    "mode %04o", (unsigned)loose[i]);
		(void)snprintf(want, sizeof(want), "mode %04o",
		    (unsigned)loose[i]);
		CHECK_CONTAINS(msg.text, want);
		CHECK_CONTAINS(msg.text,
		    "group and others must have no access (chmod 600");
		CHECK_CONTAINS(msg.text, "(chmod 600 ");
		CHECK(sodium_is_zero((const uint8_t *)&out, sizeof(out)));
		CHECK(opkey_is_sealed(path_of("loose.key"), &msg) ==
		    SIGNET_ERR_PERMISSIONS);
	}
	CHECK(unlink(path_of("loose.key")) == 0);

	CHECK(symlink(path_of("alice.key"), path_of("link.key")) == 0);
	err_clear(&msg);
	CHECK(opkey_load(path_of("link.key"), "hunter2", 7, &out, &msg) ==
	    SIGNET_ERR_PERMISSIONS);
	CHECK_CONTAINS(msg.text, "symbolic link");
	CHECK(opkey_is_sealed(path_of("link.key"), &msg) ==
	    SIGNET_ERR_PERMISSIONS);
	CHECK(unlink(path_of("link.key")) == 0);

	CHECK(mkdir(path_of("adir.key"), 0700) == 0);
	CHECK(opkey_load(path_of("adir.key"), NULL, 0, &out, &msg) ==
	    SIGNET_ERR_PERMISSIONS);
	CHECK_CONTAINS(msg.text, "not a regular file");
	CHECK(rmdir(path_of("adir.key")) == 0);

	CHECK(opkey_load(path_of("nope.key"), NULL, 0, &out, &msg) ==
	    SIGNET_ERR_NOT_FOUND);
	CHECK(
	    opkey_is_sealed(path_of("nope.key"), &msg) == SIGNET_ERR_NOT_FOUND);
}

struct bad_row {
	const char *name;
	char text[1024];
	size_t len; /* 0: strlen(text); 1: the empty file */
	int want;
	const char *why;
	bool header; /* opkey_is_sealed refuses it the same way */
};

static void
test_bad_files(void)
{
	static struct bad_row rows[32];
	struct keys_secret out;
	struct err_msg msg;
	uint8_t good[BLOB_LEN], plain[BLOB_LEN], b[BLOB_LEN];
	char sealed[512], unsealed[512];
	size_t n = 0, i;
	int r;

	(void)slurp("alice.key", sealed, sizeof(sealed));
	(void)slurp("robot.key", unsealed, sizeof(unsealed));
	blob_of(sealed, good);
	blob_of(unsealed, plain);
	CHECK(good[0] == 1 && plain[0] == 0);

#define ROW(nm, w, y, hd)                                                      \
	do {                                                                   \
		rows[n].name = (nm);                                           \
		rows[n].want = (w);                                            \
		rows[n].why = (y);                                             \
		rows[n].header = (hd);                                         \
		n++;                                                           \
	} while (0)

	memcpy(rows[n].text, sealed, 100);
	rows[n].len = 100;
	ROW("truncated", SIGNET_ERR_FORMAT, "truncated", true);
	rows[n].len = 1; /* "" as written */
	ROW("empty", SIGNET_ERR_FORMAT, "not an operator key file", true);
	(void)snprintf(rows[n].text, sizeof(rows[n].text), "%s", sealed);
	rows[n].text[strlen(OPKEY_MAGIC) - 1] = '2';
	ROW("bad magic", SIGNET_ERR_FORMAT, "does not start with", true);
	(void)snprintf(rows[n].text, sizeof(rows[n].text), "%s", sealed);
	memcpy(rows[n].text, "signet-operator-key-v1", 22);
	rows[n].text[22] = '\t';
	ROW("no space after the magic", SIGNET_ERR_FORMAT,
	    "does not start with", true);
	(void)snprintf(rows[n].text, sizeof(rows[n].text), "%s", sealed);
	rows[n].text[strlen(OPKEY_MAGIC) + 10] = '@';
	ROW("bad base64", SIGNET_ERR_FORMAT, "not valid base64", true);
	(void)snprintf(rows[n].text, sizeof(rows[n].text), "%s", sealed);
	rows[n].text[strlen(OPKEY_MAGIC) + B64_LEN] = 'A';
	ROW("padding replaced", SIGNET_ERR_FORMAT, "not valid base64", true);
	(void)snprintf(rows[n].text, sizeof(rows[n].text), "%sx", sealed);
	ROW("trailing garbage", SIGNET_ERR_FORMAT, "followed by", true);
	(void)snprintf(rows[n].text, sizeof(rows[n].text), "%s%s", sealed,
	    sealed);
	ROW("two lines", SIGNET_ERR_FORMAT, "followed by", true);
	(void)snprintf(rows[n].text, sizeof(rows[n].text), "%s\n", sealed);
	ROW("blank line after", SIGNET_ERR_FORMAT, "followed by", true);
	memset(rows[n].text, 'A', 600);
	rows[n].len = 600;
	ROW("too big", SIGNET_ERR_FORMAT, "more than 512 bytes", true);

	memcpy(b, good, BLOB_LEN);
	b[0] = 2;
	text_of(b, rows[n].text, sizeof(rows[n].text));
	ROW("kdf 2", SIGNET_ERR_FORMAT, "unknown key derivation 2", true);
	memcpy(b, good, BLOB_LEN);
	put_le64(b + 1, crypto_pwhash_argon2id_OPSLIMIT_SENSITIVE + 1);
	text_of(b, rows[n].text, sizeof(rows[n].text));
	ROW("opslimit over SENSITIVE", SIGNET_ERR_FORMAT, "opslimit 5", true);
	memcpy(b, good, BLOB_LEN);
	put_le64(b + 1, 0);
	text_of(b, rows[n].text, sizeof(rows[n].text));
	ROW("opslimit 0", SIGNET_ERR_FORMAT, "opslimit 0", true);
	memcpy(b, good, BLOB_LEN);
	put_le64(b + 9, 4ULL << 30);
	text_of(b, rows[n].text, sizeof(rows[n].text));
	ROW("memlimit 4 GiB", SIGNET_ERR_FORMAT, "memlimit 4294967296", true);
	memcpy(b, good, BLOB_LEN);
	put_le64(b + 9, UINT64_MAX);
	text_of(b, rows[n].text, sizeof(rows[n].text));
	ROW("memlimit 2^64-1", SIGNET_ERR_FORMAT, "memlimit", true);
	memcpy(b, good, BLOB_LEN);
	put_le64(b + 9, crypto_pwhash_argon2id_MEMLIMIT_MIN - 1);
	text_of(b, rows[n].text, sizeof(rows[n].text));
	ROW("memlimit under MIN", SIGNET_ERR_FORMAT, "memlimit", true);

	memcpy(b, good, BLOB_LEN);
	b[BLOB_LEN - 30] ^= 0x01;
	text_of(b, rows[n].text, sizeof(rows[n].text));
	ROW("flipped sealed byte", SIGNET_ERR_BAD_SIGNATURE, "wrong passphrase",
	    false);
	memcpy(b, good, BLOB_LEN);
	b[BLOB_LEN - 1] ^= 0x80;
	text_of(b, rows[n].text, sizeof(rows[n].text));
	ROW("flipped MAC byte", SIGNET_ERR_BAD_SIGNATURE, "wrong passphrase",
	    false);
	memcpy(b, good, BLOB_LEN);
	b[17] ^= 0x01;
	text_of(b, rows[n].text, sizeof(rows[n].text));
	ROW("flipped salt byte", SIGNET_ERR_BAD_SIGNATURE, "wrong passphrase",
	    false);
	memcpy(b, good, BLOB_LEN);
	b[33] ^= 0x01;
	text_of(b, rows[n].text, sizeof(rows[n].text));
	ROW("flipped nonce byte", SIGNET_ERR_BAD_SIGNATURE, "wrong passphrase",
	    false);
	memcpy(b, good, BLOB_LEN);
	put_le64(b + 1, crypto_pwhash_argon2id_OPSLIMIT_INTERACTIVE + 1);
	text_of(b, rows[n].text, sizeof(rows[n].text));
	ROW("other limits (in range)", SIGNET_ERR_BAD_SIGNATURE,
	    "wrong passphrase", false);

	memcpy(b, plain, BLOB_LEN);
	b[BLOB_LEN - 1] ^= 0x01;
	text_of(b, rows[n].text, sizeof(rows[n].text));
	ROW("unsealed: flipped checksum byte", SIGNET_ERR_BAD_SIGNATURE,
	    "damaged", false);
	memcpy(b, plain, BLOB_LEN);
	b[57] ^= 0x01;
	text_of(b, rows[n].text, sizeof(rows[n].text));
	ROW("unsealed: flipped key byte", SIGNET_ERR_BAD_SIGNATURE, "damaged",
	    false);
	memcpy(b, plain, BLOB_LEN);
	b[20] = 1;
	text_of(b, rows[n].text, sizeof(rows[n].text));
	ROW("unsealed with a salt", SIGNET_ERR_FORMAT, "passphrase parameters",
	    true);
	memcpy(b, plain, BLOB_LEN);
	put_le64(b + 9, crypto_pwhash_argon2id_MEMLIMIT_INTERACTIVE);
	text_of(b, rows[n].text, sizeof(rows[n].text));
	ROW("unsealed with a memlimit", SIGNET_ERR_FORMAT,
	    "passphrase parameters", true);
	/* A public half that is not the seed's, under a valid checksum. */
	memcpy(b, plain, BLOB_LEN);
	b[57 + 32] ^= 0x01;
	CHECK(crypto_generichash(b + 57 + 64, 16, b + 57, 64, NULL, 0) == 0);
	text_of(b, rows[n].text, sizeof(rows[n].text));
	ROW("unsealed: public half not the seed's", SIGNET_ERR_FORMAT,
	    "public half does not match", false);
#undef ROW

	for (i = 0; i < n; i++) {
		size_t len = rows[i].len == 1 ? 0 :
		    rows[i].len != 0          ? rows[i].len :
		                                strlen(rows[i].text);

		put("bad.key", rows[i].text, len, 0600);
		memset(&out, 0xAA, sizeof(out));
		err_clear(&msg);
		r = opkey_load(path_of("bad.key"), "hunter2", 7, &out, &msg);
		CHECKF(r == rows[i].want, "row %s: %d (%s)", rows[i].name, r,
		    msg.text);
		CHECKF(strstr(msg.text, rows[i].why) != NULL, "row %s: \"%s\"",
		    rows[i].name, msg.text);
		CHECKF(sodium_is_zero((const uint8_t *)&out, sizeof(out)),
		    "row %s: out not wiped", rows[i].name);
		r = opkey_is_sealed(path_of("bad.key"), &msg);
		if (rows[i].header)
			CHECKF(r == rows[i].want, "row %s: is_sealed %d",
			    rows[i].name, r);
		else
			CHECKF(r == 0 || r == 1, "row %s: is_sealed %d",
			    rows[i].name, r);
	}
	CHECK(unlink(path_of("bad.key")) == 0);
}

static void
test_write_refusals(const struct keys_secret *k)
{
	struct err_msg msg;
	char before[512], after[512];
	int n0;

	(void)slurp("alice.key", before, sizeof(before));
	n0 = entries();
	/* Either file there: refused, nothing touched, nothing added. */
	CHECK(opkey_write_pair(dir, "alice", k, NULL, 0, &msg) ==
	    SIGNET_ERR_EXISTS);
	CHECK_CONTAINS(msg.text, "refusing to overwrite");
	(void)slurp("alice.key", after, sizeof(after));
	CHECK(strcmp(before, after) == 0);
	put("carol.pub", "x\n", 2, 0644);
	CHECK(opkey_write_pair(dir, "carol", k, "pw", 2, &msg) ==
	    SIGNET_ERR_EXISTS);
	CHECK(access(path_of("carol.key"), F_OK) != 0);
	put("dave.key", "x\n", 2, 0600);
	CHECK(opkey_write_pair(dir, "dave", k, NULL, 0, &msg) ==
	    SIGNET_ERR_EXISTS);
	CHECK(access(path_of("dave.pub"), F_OK) != 0);
	CHECK(entries() == n0 + 2);
	CHECK(unlink(path_of("carol.pub")) == 0);
	CHECK(unlink(path_of("dave.key")) == 0);

	/*
	 * A name that appears between the check and the rename (a dangling
	 * link passes access()): refused when placing the file, and the key
	 * already placed and every temporary file are removed.
	 */
	CHECK(symlink("nowhere", path_of("race.pub")) == 0);
	CHECK(opkey_write_pair(dir, "race", k, NULL, 0, &msg) ==
	    SIGNET_ERR_EXISTS);
	CHECK(access(path_of("race.key"), F_OK) != 0);
	CHECK(entries() == n0 + 1);
	CHECK(unlink(path_of("race.pub")) == 0);
	CHECK(symlink("nowhere", path_of("race.key")) == 0);
	CHECK(opkey_write_pair(dir, "race", k, "pw", 2, &msg) ==
	    SIGNET_ERR_EXISTS);
	CHECK(access(path_of("race.pub"), F_OK) != 0);
	CHECK(entries() == n0 + 1);
	CHECK(unlink(path_of("race.key")) == 0);

	/* Bad arguments and a missing directory: nothing written. */
	CHECK(opkey_write_pair(dir, "e", k, "pw", 0, &msg) ==
	    SIGNET_ERR_INVALID_ARG);
	CHECK(opkey_write_pair(dir, "e", k, "pw", OPKEY_PASSPHRASE_MAX + 1,
	          &msg) == SIGNET_ERR_INVALID_ARG);
	CHECK(opkey_write_pair(dir, "../e", k, NULL, 0, &msg) ==
	    SIGNET_ERR_INVALID_ARG);
	CHECK(opkey_write_pair(dir, "", k, NULL, 0, &msg) ==
	    SIGNET_ERR_INVALID_ARG);
	CHECK(opkey_write_pair(path_of("nodir"), "e", k, NULL, 0, &msg) ==
	    SIGNET_ERR_IO);
	CHECK(entries() == n0);
}

/* Runs opkey_read_passphrase on a pipe that was given input[0..len). */
static int
from_pipe(const char *input, size_t len, char **pass, size_t *plen, char *rest,
    size_t restcap, struct err_msg *msg)
{
	int p[2], r;
	ssize_t n;

	*pass = NULL;
	if (pipe(p) != 0)
		return -100;
	if (len > 0 && write(p[1], input, len) != (ssize_t)len) {
		(void)close(p[0]);
		(void)close(p[1]);
		return -101;
	}
	(void)close(p[1]);
	r = opkey_read_passphrase(p[0], "unused: ", true, pass, plen, msg);
	n = read(p[0], rest, restcap - 1);
	rest[n > 0 ? n : 0] = '\0';
	(void)close(p[0]);
	return r;
}

static void
test_passphrase_fd(void)
{
	char long_in[OPKEY_PASSPHRASE_MAX + 3], rest[64], *pass = NULL;
	struct err_msg msg;
	size_t len = 0;
	int p[2];

	CHECK(from_pipe("secret word\nnext", 16, &pass, &len, rest,
	          sizeof(rest), &msg) == 0);
	CHECK(pass != NULL && len == 11 && strcmp(pass, "secret word") == 0);
	CHECK(strcmp(rest, "next") == 0); /* nothing read past the line */
	opkey_passphrase_free(pass, len);
	CHECK(from_pipe("no newline", 10, &pass, &len, rest, sizeof(rest),
	          &msg) == 0);
	CHECK(pass != NULL && len == 10 && strcmp(pass, "no newline") == 0);
	opkey_passphrase_free(pass, len);

	CHECK(from_pipe("\nx", 2, &pass, &len, rest, sizeof(rest), &msg) ==
	    SIGNET_ERR_FORMAT);
	CHECK(pass == NULL && len == 0);
	CHECK_CONTAINS(msg.text, "empty passphrase");
	CHECK(from_pipe("", 0, &pass, &len, rest, sizeof(rest), &msg) ==
	    SIGNET_ERR_FORMAT);
	CHECK(from_pipe("a\0b\n", 4, &pass, &len, rest, sizeof(rest), &msg) ==
	    SIGNET_ERR_FORMAT);
	CHECK_CONTAINS(msg.text, "NUL");

	memset(long_in, 'p', sizeof(long_in));
	long_in[OPKEY_PASSPHRASE_MAX] = '\n';
	CHECK(from_pipe(long_in, OPKEY_PASSPHRASE_MAX + 1, &pass, &len, rest,
	          sizeof(rest), &msg) == 0);
	CHECK(len == OPKEY_PASSPHRASE_MAX);
	opkey_passphrase_free(pass, len);
	CHECK(from_pipe(long_in, OPKEY_PASSPHRASE_MAX, &pass, &len, rest,
	          sizeof(rest), &msg) == 0);
	opkey_passphrase_free(pass, len);
	long_in[OPKEY_PASSPHRASE_MAX] = 'p';
	CHECK(from_pipe(long_in, OPKEY_PASSPHRASE_MAX + 1, &pass, &len, rest,
	          sizeof(rest), &msg) == SIGNET_ERR_TOO_LARGE);
	CHECK(pass == NULL && len == 0);
	CHECK(from_pipe(long_in, sizeof(long_in), &pass, &len, rest,
	          sizeof(rest), &msg) == SIGNET_ERR_TOO_LARGE);

	/* A descriptor that is not open. */
	CHECK(pipe(p) == 0);
	(void)close(p[0]);
	(void)close(p[1]);
	CHECK(opkey_read_passphrase(p[0], NULL, false, &pass, &len, &msg) ==
	    SIGNET_ERR_IO);
	CHECK(pass == NULL);
	opkey_passphrase_free(NULL, 0);
}

/*
 * In a child without a controlling terminal: fd -1 fails with
 * SIGNET_ERR_IO saying to use --passphrase-fd.
 */
static void
test_no_terminal(void)
{
	int p[2], status = 0;
	char buf[ERR_MSG_MAX + 16] = "";
	ssize_t n;
	pid_t pid;

	CHECK(pipe(p) == 0);
	pid = fork();
	if (pid == 0) {
		struct err_msg msg;
		char *pass = NULL;
		size_t len = 0;
		int r;

		(void)close(p[0]);
		(void)setsid();
		err_clear(&msg);
		r = opkey_read_passphrase(-1, "pw: ", true, &pass, &len, &msg);
		(void)dprintf(p[1], "%d %s", r, msg.text);
		_exit(0);
	}
	(void)close(p[1]);
	n = read(p[0], buf, sizeof(buf) - 1);
	buf[n > 0 ? n : 0] = '\0';
	(void)close(p[0]);
	CHECK(waitpid(pid, &status, 0) == pid);
	CHECKF(strncmp(buf, "-4 ", 3) == 0, "%s", buf);
	CHECK_CONTAINS(buf, "use --passphrase-fd");
}

/*
 * Reads from the pseudo-terminal master m into seen (appending) until
 * want appears; false at end of input.
 */
static bool
wait_for_text(int m, char *seen, size_t cap, const char *want)
{
	size_t off = strlen(seen);
	ssize_t n;

	while (strstr(seen, want) == NULL) {
		if (off + 1 >= cap)
			return false;
		n = read(m, seen + off, cap - 1 - off);
		if (n <= 0)
			return false;
		off += (size_t)n;
		seen[off] = '\0';
	}
	return true;
}

/*
 * The child half of the terminal tests: with the slave of a new
 * pseudo-terminal as its controlling terminal, asks for a passphrase and
 * reports the code, the passphrase and whether echo is back on.
 */
static void
tty_child(const char *slave, bool confirm, int report)
{
	struct termios t;
	struct err_msg msg;
	char *pass = NULL;
	size_t len = 0;
	int fd, r;

	(void)setsid();
	fd = open(slave, O_RDWR); /* becomes the controlling terminal */
	if (fd < 0)
		_exit(3);
	err_clear(&msg);
	r = opkey_read_passphrase(-1, "pw for x: ", confirm, &pass, &len, &msg);
	if (tcgetattr(fd, &t) != 0)
		_exit(4);
	(void)dprintf(report, "%d echo=%d [%s] %s", r, (t.c_lflag & ECHO) != 0,
	    pass != NULL ? pass : "", msg.text);
	opkey_passphrase_free(pass, len);
	_exit(0);
}

/*
 * One terminal session: the answers are typed once each prompt shows
 * (input typed earlier would be flushed with the echo change); with
 * interrupt the child gets SIGINT at the first prompt instead.
 */
static void
tty_session(bool confirm, const char *a1, const char *a2, bool interrupt,
    char *report, size_t rcap, char *seen, size_t scap, int *status)
{
	struct termios t;
	int m, p[2];
	char *slave;
	ssize_t n;
	pid_t pid;

	report[0] = seen[0] = '\0';
	*status = -1;
	m = posix_openpt(O_RDWR | O_NOCTTY);
	if (m < 0 || grantpt(m) != 0 || unlockpt(m) != 0 ||
	    (slave = ptsname(m)) == NULL || pipe(p) != 0) {
		CHECK(!"pseudo-terminal");
		return;
	}
	CHECK(tcgetattr(m, &t) == 0 && (t.c_lflag & ECHO) != 0);
	pid = fork();
	if (pid == 0) {
		(void)close(m);
		(void)close(p[0]);
		tty_child(slave, confirm, p[1]);
	}
	(void)close(p[1]);
	CHECK(wait_for_text(m, seen, scap, "pw for x: "));
	if (interrupt) {
		CHECK(kill(pid, SIGINT) == 0);
	} else {
		CHECK(write(m, a1, strlen(a1)) == (ssize_t)strlen(a1));
		if (confirm) {
			CHECK(wait_for_text(m, seen, scap, "again: "));
			CHECK(write(m, a2, strlen(a2)) == (ssize_t)strlen(a2));
		}
	}
	n = read(p[0], report, rcap - 1);
	report[n > 0 ? n : 0] = '\0';
	(void)close(p[0]);
	CHECK(waitpid(pid, status, 0) == pid);
	/* Echo is back on the terminal, whatever happened. */
	CHECK(tcgetattr(m, &t) == 0 && (t.c_lflag & ECHO) != 0);
	(void)wait_for_text(m, seen, scap, "\x01never"); /* drain */
	(void)close(m);
}

static void
test_terminal(void)
{
	char report[ERR_MSG_MAX + 64], seen[4096];
	int status;

	tty_session(true, "tty secret\n", "tty secret\n", false, report,
	    sizeof(report), seen, sizeof(seen), &status);
	CHECKF(strncmp(report, "0 echo=1 [tty secret]", 21) == 0, "%s", report);
	CHECKF(strstr(seen, "tty secret") == NULL, "echoed: %s", seen);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);

	tty_session(true, "one\n", "two\n", false, report, sizeof(report), seen,
	    sizeof(seen), &status);
	CHECKF(strncmp(report, "-5 echo=1 []", 12) == 0, "%s", report);
	CHECK_CONTAINS(report, "the two passphrases differ");

	tty_session(false, "\n", NULL, false, report, sizeof(report), seen,
	    sizeof(seen), &status);
	CHECKF(strncmp(report, "-5 echo=1 []", 12) == 0, "%s", report);
	CHECK_CONTAINS(report, "empty passphrase");

	/* SIGINT at the prompt: the terminal restored, then the signal. */
	tty_session(false, NULL, NULL, true, report, sizeof(report), seen,
	    sizeof(seen), &status);
	CHECK(report[0] == '\0');
	CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGINT);
}

int
main(void)
{
	struct keys_secret k;

	if (sodium_init() < 0 || mkdtemp(dir) == NULL)
		return 1;
	CHECK(keys_generate(&k) == 0);
	test_round_trip(&k);
	test_permissions();
	test_bad_files();
	test_write_refusals(&k);
	test_passphrase_fd();
	test_no_terminal();
	test_terminal();
	keys_secret_wipe(&k);
	{
		char cmd[300];
		(void)snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
		if (system(cmd) != 0)
			fprintf(stderr, "cannot remove %s\n", dir);
	}
	return test_finish("test_opkey");
}
