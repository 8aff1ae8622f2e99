/* SPDX-License-Identifier: ISC */
/*
 * Signed notes, checkpoints and cosignatures against published vectors:
 * Go's golang.org/x/mod/sumdb/note tests (the PeterNeumann and EnochRoot
 * keys, their signed note, every mangled verifier key, the malformed
 * notes), the C2SP signed-note example (example.com/foo), the
 * tlog-checkpoint example body and the type 0x04 verifier key
 * remora.n621.de of transparency-dev/formats; and a cosignature made by
 * an independent implementation (Python's cryptography package, from the
 * spec's text) with the PeterNeumann seed, which note_cosign must
 * reproduce byte for byte. Every malformed input is refused with its
 * code: truncations and changed bytes, names, sizes, roots, extension
 * lines, timestamps, too many signatures, lines too long.
 */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "note.h"
#include "testlib.h"

#define PETER_VKEY                                                             \
	"PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
#define PETER_SEED_B64 "AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
#define ENOCH_VKEY                                                             \
	"EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop"
#define TEXT                                                                   \
	"If you think cryptography is the answer to your problem,\n"           \
	"then you don't know what your problem is.\n"
#define PETER_SIG                                                              \
	"\xe2\x80\x94 PeterNeumann "                                           \
	"x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"
#define ENOCH_SIG                                                              \
	"\xe2\x80\x94 EnochRoot "                                              \
	"rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnWLox33WWd1RvMc+QQ=\n"
#define ENOCH_SIG_ABCD                                                         \
	"\xe2\x80\x94 EnochRoot "                                              \
	"rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5nABCD2tiOHp+vAF1aGrQ5ovTG01oOTGwnWLox33WWd1RvMc+QQ=\n"
/* c2sp.org/signed-note's example. */
#define FOO_VKEY                                                               \
	"example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k"
#define FOO_NOTE                                                               \
	"This is an example message.\n\n\xe2\x80\x94 example.com/foo "         \
	"Uw2QOkn8srV1yJGh2VYRlL1Tnagv1YEq6TfXppzi2ONncAlTgK7Ztg1ERYNZXsYjOBH3mFXmRKuwHjG1Yu72IneyaQM=\n"
/* c2sp.org/tlog-checkpoint's example body. */
#define CP_BODY                                                                \
	"example.com/behind-the-sofa\n20852163\n"                              \
	"CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
/* The tlog-cosignature example's witness line (its key is not given). */
#define SPEC_COSIG                                                             \
	"\xe2\x80\x94 witness.example.com/w1 "                                 \
	"jWbPPwAAAABkGFDLEZMHwSRaJNiIDoe9DYn/zXcrtPHeolMI5OWXEhZCB9dlrDJsX3b2oyin1nPZqhf5nNo0xUe+mbIUBkBIfZ+qnA==\n"
/*
 * Made with Python's cryptography from the PeterNeumann seed: the log's
 * Ed25519 signature of CP_BODY as example.com/behind-the-sofa, and a
 * cosignature/v1 at time 1679315147 as witness.example.com/w1.
 */
#define LOG_VKEY                                                               \
	"example.com/behind-the-sofa+bed5581b+"                                \
	"ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
#define LOG_SIG                                                                \
	"\xe2\x80\x94 example.com/behind-the-sofa "                            \
	"vtVYG5/3L9NHv4CxP0XTzEcSuWnwY/BYfHU7NnQPhQyrEuH+AqeHvF+HXNvu8ujR9RQHE17Tcer4sDE9uIi/Yx6ihwc=\n"
#define WIT_VKEY                                                               \
	"witness.example.com/w1+d46a2b1b+"                                     \
	"BBpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
#define WIT_SIG                                                                \
	"\xe2\x80\x94 witness.example.com/w1 "                                 \
	"1GorGwAAAABkGFDLJeR//pqzhnEKVvEm2wWbh2RJ6oru5+cUUfm5X9NnlaGr8aSH9QE5RVZD4QGlxl2F5UpVIIi94p178KLfqPPsAA==\n"
#define WIT_TIME 1679315147ULL

static struct keys_secret peter;

static void
load_peter(void)
{
	uint8_t raw[33];
	size_t got = 0;

	if (sodium_base642bin(raw, sizeof(raw), PETER_SEED_B64,
	        strlen(PETER_SEED_B64), NULL, &got, NULL,
	        sodium_base64_VARIANT_ORIGINAL) != 0 ||
	    got != 33 || raw[0] != 1)
		abort();
	crypto_sign_seed_keypair(peter.pub.pk, peter.sk, raw + 1);
}

static int
vparse(const char *s, struct note_verifier *v)
{
	struct err_msg msg;

	return note_verifier_parse(s, strlen(s), v, &msg);
}

static void
test_verifiers(void)
{
	struct note_verifier v;
	char buf[NOTE_VKEY_MAX + 1], mangled[128];
	const char *good[] = {
		PETER_VKEY, ENOCH_VKEY, FOO_VKEY, LOG_VKEY, WIT_VKEY,
		/* transparency-dev/formats: type 0x01 and a native 0x04. */
		"TEST+7997405c+AQcC+FTVKf0jlTdHDY3rbevmnKxxPjigCXlVtGe6RIr6",
		"remora.n621.de+da77ade7+BOvN63jn/bLvkieywe8R6UYAtVtNbZpXh34x7onlmtw2"
	};
	size_t i, j, len;
	int r;

	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		CHECKF(vparse(good[i], &v) == 0, "%s", good[i]);
		CHECK(note_verifier_format(&v, buf, sizeof(buf)) == 0);
		CHECKF(strcmp(buf, good[i]) == 0, "%s", buf);
	}
	CHECK(vparse(PETER_VKEY, &v) == 0 && v.key_id == 0xc74f20a3 &&
	    v.type == NOTE_TYPE_ED25519 &&
	    strcmp(v.name, "PeterNeumann") == 0 &&
	    memcmp(v.pk, peter.pub.pk, 32) == 0);
	CHECK(vparse("remora.n621.de+da77ade7+BOvN63jn/bLvkieywe8R6UYAtVtNbZpXh"
	             "34x7onlmtw2",
	          &v) == 0 &&
	    v.type == NOTE_TYPE_COSIG && v.key_id == 0xda77ade7);
	/* Uppercase hex is Go's ParseUint too; we write lowercase. */
	CHECK(vparse("PeterNeumann+C74F20A3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE"
	             "4izWy10TW",
	          &v) == 0);
	/* Go's TestNewVerifier: every proper substring, every byte + 1. */
	len = strlen(PETER_VKEY);
	for (i = 0; i <= len; i++) {
		for (j = i + 1; j <= len; j++) {
			if (i == 0 && j == len)
				continue;
			r = note_verifier_parse(&PETER_VKEY[i], j - i, &v,
			    NULL);
			CHECKF(r != 0, "substring %zu..%zu", i, j);
		}
	}
	for (i = 0; i < len; i++) {
		memcpy(mangled, PETER_VKEY, len + 1);
		mangled[i]++;
		CHECKF(vparse(mangled, &v) != 0, "byte %zu + 1", i);
	}
	/* A wrong-length key and an unknown algorithm, ids adjusted. */
	CHECK(vparse("PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/"
	             "LDE4izWy10TWBADKEY==",
	          &v) == SIGNET_ERR_KEY_LENGTH);
	CHECK(vparse("PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/"
	             "LDE4izWy10TW",
	          &v) == SIGNET_ERR_FORMAT);
	CHECK(vparse("PeterNeumann+c74f20a4+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/"
	             "LDE4izWy10TW",
	          &v) == SIGNET_ERR_UNKNOWN_KEY);
	CHECK(vparse("bananas.sigstore.dev+12344556", &v) == SIGNET_ERR_FORMAT);
	CHECK(vparse("rekor.sigstore.dev+12345678+THIS_IS_NOT_BASE64!", &v) ==
	    SIGNET_ERR_FORMAT);
	CHECK(vparse("rekor.sigstore.dev+12345678+AwEB", &v) ==
	    SIGNET_ERR_FORMAT);
	CHECK(vparse("Peter Neumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/"
	             "LDE4izWy10TW",
	          &v) == SIGNET_ERR_FORMAT);
	CHECK(vparse("", &v) == SIGNET_ERR_FORMAT);
	CHECK(v.name[0] == '\0' && v.key_id == 0);
	memset(mangled, 'a', sizeof(mangled));
	CHECK(note_verifier_parse(mangled, NOTE_VKEY_MAX + 1, &v, NULL) ==
	    SIGNET_ERR_TOO_LARGE);
	/* Init and format. */
	CHECK(note_verifier_init(&v, "PeterNeumann", NOTE_TYPE_ED25519,
	          peter.pub.pk) == 0);
	CHECK(note_verifier_format(&v, buf, sizeof(buf)) == 0 &&
	    strcmp(buf, PETER_VKEY) == 0);
	CHECK(note_verifier_format(&v, buf, 10) == SIGNET_ERR_TOO_LARGE &&
	    buf[0] == '\0');
	CHECK(note_verifier_init(&v, "a+b", NOTE_TYPE_ED25519, peter.pub.pk) ==
	    SIGNET_ERR_INVALID_ARG);
	CHECK(note_verifier_init(&v, "ab", 0x02, peter.pub.pk) ==
	    SIGNET_ERR_INVALID_ARG);
}

static void
test_names(void)
{
	char name[NOTE_NAME_MAX + 2];
	struct {
		const char *s;
		bool ok;
	} rows[] = {
		{ "example.com/log", true }, { "signet/server/relay-1", true },
		{ "\xc3\xa9t\xc3\xa9", true }, /* été */
		{ "", false }, { "a+b", false }, { "a b", false },
		{ "a\tb", false }, { "a\nb", false }, { "a\x01", false },
		{ "a\x7f", false },
		{ "a\xc2\xa0"
		  "b",
		    false }, /* U+00A0 */
		{ "a\xe2\x80\x83"
		  "b",
		    false }, /* U+2003 */
		{ "a\xe3\x80\x80"
		  "b",
		    false },                              /* U+3000 */
		{ "a\xc2\x85", false },                   /* U+0085 */
		{ "\xff", false }, { "\xc0\xaf", false }, /* overlong */
	};
	size_t i;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		CHECKF(note_name_valid(rows[i].s, strlen(rows[i].s)) ==
		        rows[i].ok,
		    "row %zu", i);
	memset(name, 'n', sizeof(name));
	CHECK(note_name_valid(name, NOTE_NAME_MAX));
	CHECK(!note_name_valid(name, NOTE_NAME_MAX + 1));
	CHECK(!note_name_valid(NULL, 0));
}

static int
open_str(const char *s, const struct note_verifier *k, size_t nk,
    struct note **n)
{
	struct err_msg msg;
	int r;

	r = note_open(s, strlen(s), k, nk, n, &msg);
	if (r != 0 && getenv("TEST_VERBOSE") != NULL)
		fprintf(stderr, "  %s\n", msg.text);
	return r;
}

static void
test_notes(void)
{
	struct note_verifier k[3], foo;
	struct note *n = NULL;
	struct err_msg msg;
	char *out = NULL, *buf = NULL, *bad;
	size_t len, i, blen;
	const char *badmsgs[] = {
		TEXT,
		TEXT "\n",
		TEXT
		"\n\xe2\x80\x94 PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=",
		"\x01" TEXT "\n" PETER_SIG,
		"\xff" TEXT "\n" PETER_SIG,
		TEXT
		"\n\xe2\x80\x94 Bad Name x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=",
		TEXT
		"\n\xe2\x80\x94 Bad Name x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n",
		TEXT "\n" PETER_SIG "Unexpected line.\n",
		TEXT "\n" PETER_SIG "\n",
		TEXT
		"\n- PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n",
		TEXT
		"\n\xe2\x80\x94 PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM\n",
		TEXT
		"\n\xe2\x80\x94 PeterNeumann  x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n",
		TEXT "\n\xe2\x80\x94 PeterNeumann AAAA\n",
		TEXT "\n\xe2\x80\x94 PeterNeumann\n",
		TEXT "\r\n" PETER_SIG,
		"",
		"\n",
	};

	CHECK(vparse(PETER_VKEY, &k[0]) == 0);
	CHECK(vparse(ENOCH_VKEY, &k[1]) == 0);
	CHECK(vparse(FOO_VKEY, &foo) == 0);

	/* Go's TestSign: the same bytes. */
	CHECK(note_sign(TEXT, strlen(TEXT), "PeterNeumann", &peter, &out, &len,
	          &msg) == 0);
	CHECK(out != NULL && len == strlen(TEXT "\n" PETER_SIG) &&
	    strcmp(out, TEXT "\n" PETER_SIG) == 0);
	free(out);
	out = NULL;
	CHECK(note_sign("abc", 3, "PeterNeumann", &peter, &out, &len, &msg) ==
	    SIGNET_ERR_FORMAT);
	CHECK(note_sign(TEXT, strlen(TEXT), "bad name", &peter, &out, &len,
	          &msg) == SIGNET_ERR_INVALID_ARG);
	CHECK(note_sign("a\x01\n", 3, "PeterNeumann", &peter, &out, &len,
	          &msg) == SIGNET_ERR_FORMAT);
	CHECK(out == NULL);
	/* A text with blank lines in it, and one that is a newline alone. */
	CHECK(note_sign("a\n\nb\n\n", 6, "PeterNeumann", &peter, &out, &len,
	          &msg) == 0);
	CHECK(note_open(out, len, k, 1, &n, &msg) == 0 && n->text_len == 6 &&
	    memcmp(n->buf, "a\n\nb\n\n", 6) == 0);
	note_free(n);
	n = NULL;
	free(out);
	out = NULL;

	/* Go's TestOpen. */
	CHECK(open_str(TEXT "\n" PETER_SIG ENOCH_SIG, k, 1, &n) == 0);
	CHECK(n != NULL && n->text_len == strlen(TEXT) &&
	    memcmp(n->buf, TEXT, n->text_len) == 0 && n->nsigs == 2 &&
	    n->nverified == 1 && n->sigs[0].verifier == 0 &&
	    n->sigs[0].key_id == 0xc74f20a3 && n->sigs[1].verifier == -1 &&
	    n->sigs[1].key_id == 0xaf0cfe78 &&
	    strcmp(n->sigs[1].name, "EnochRoot") == 0);
	CHECK(note_signed_by(n, 0) == &n->sigs[0] &&
	    note_signed_by(n, 1) == NULL);
	note_free(n);
	n = NULL;
	CHECK(open_str(TEXT "\n" PETER_SIG ENOCH_SIG, k, 2, &n) == 0);
	CHECK(n != NULL && n->nverified == 2 && n->sigs[1].verifier == 1);
	note_free(n);
	n = NULL;
	CHECK(open_str(TEXT "\n" PETER_SIG ENOCH_SIG, k, 0, &n) ==
	    SIGNET_ERR_UNKNOWN_KEY);
	CHECK(n == NULL);
	CHECK(note_parse(TEXT "\n" PETER_SIG ENOCH_SIG,
	          strlen(TEXT "\n" PETER_SIG ENOCH_SIG), &n, &msg) == 0);
	CHECK(n != NULL && n->nsigs == 2 && n->nverified == 0);
	note_free(n);
	n = NULL;
	/* The same known key twice is refused up front. */
	k[2] = k[1];
	CHECK(
	    open_str(TEXT "\n" ENOCH_SIG, k, 3, &n) == SIGNET_ERR_INVALID_ARG);
	/* 100 identical signatures are one; 101 lines are too many. */
	blen = strlen(TEXT) + 1 + 101 * strlen(PETER_SIG);
	buf = malloc(blen + 1);
	CHECK(buf != NULL);
	if (buf != NULL) {
		memcpy(buf, TEXT "\n", strlen(TEXT) + 1);
		for (i = 0; i < 101; i++)
			memcpy(buf + strlen(TEXT) + 1 + i * strlen(PETER_SIG),
			    PETER_SIG, strlen(PETER_SIG));
		buf[blen] = '\0';
		CHECK(note_open(buf, blen - strlen(PETER_SIG), k, 1, &n,
		          &msg) == 0);
		CHECK(n != NULL && n->nsigs == 1);
		note_free(n);
		n = NULL;
		CHECK(note_open(buf, blen, k, 1, &n, &msg) ==
		    SIGNET_ERR_TOO_LARGE);
		CHECK(note_open(buf, blen, k, 0, &n, &msg) ==
		    SIGNET_ERR_TOO_LARGE);
		CHECK_CONTAINS(msg.text, "more than 100 signatures");
		free(buf);
		buf = NULL;
	}
	/* A known key's bad signature refuses the note. */
	CHECK(
	    open_str(TEXT
	        "\n\xe2\x80\x94 PeterNeumann "
	        "x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=ABCD\n",
	        k, 1, &n) == SIGNET_ERR_FORMAT);
	CHECK(
	    open_str(TEXT
	        "\n\xe2\x80\x94 PeterNeumann "
	        "x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8ABCDpAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n",
	        k, 1, &n) == SIGNET_ERR_BAD_SIGNATURE);
	CHECK(open_str(TEXT "\n" ENOCH_SIG_ABCD, k, 2, &n) ==
	    SIGNET_ERR_BAD_SIGNATURE);
	CHECK(n == NULL);
	/* Duplicated verified and unverified signatures. */
	CHECK(open_str(TEXT
	          "\n" PETER_SIG PETER_SIG ENOCH_SIG ENOCH_SIG ENOCH_SIG_ABCD,
	          k, 1, &n) == 0);
	CHECK(n != NULL && n->nsigs == 3 && n->nverified == 1 &&
	    n->sigs[1].verifier == -1 && n->sigs[2].verifier == -1);
	note_free(n);
	n = NULL;
	/* Malformed notes. */
	for (i = 0; i < sizeof(badmsgs) / sizeof(badmsgs[0]); i++) {
		CHECKF(open_str(badmsgs[i], k, 1, &n) == SIGNET_ERR_FORMAT,
		    "bad message %zu", i);
		CHECK(n == NULL);
	}
	/* The C2SP example. */
	CHECK(open_str(FOO_NOTE, &foo, 1, &n) == 0);
	CHECK(n != NULL &&
	    n->text_len == strlen("This is an example message.\n"));
	note_free(n);
	n = NULL;
	/* Every truncation and every changed byte of a signed note fails. */
	len = strlen(TEXT "\n" PETER_SIG);
	bad = malloc(len + 1);
	CHECK(bad != NULL);
	for (i = 0; bad != NULL && i < len; i++) {
		CHECKF(note_open(TEXT "\n" PETER_SIG, i, k, 1, &n, &msg) != 0,
		    "truncated to %zu", i);
		memcpy(bad, TEXT "\n" PETER_SIG, len + 1);
		bad[i] ^= 0x01;
		CHECKF(note_open(bad, len, k, 1, &n, &msg) != 0,
		    "byte %zu changed", i);
		CHECK(n == NULL);
	}
	free(bad);
	/* Lines and notes too long. */
	buf = malloc(NOTE_SIZE_MAX + 2);
	CHECK(buf != NULL);
	if (buf != NULL) {
		memset(buf, 'a', NOTE_SIZE_MAX + 1);
		buf[NOTE_LINE_MAX + 1] = '\n';
		CHECK(note_parse(buf, NOTE_LINE_MAX + 2, &n, &msg) ==
		    SIGNET_ERR_TOO_LARGE);
		CHECK_CONTAINS(msg.text, "longer than");
		CHECK(note_parse(buf, NOTE_SIZE_MAX + 1, &n, &msg) ==
		    SIGNET_ERR_TOO_LARGE);
		CHECK(note_sign(buf, NOTE_LINE_MAX + 2, "PeterNeumann", &peter,
		          &out, &len, &msg) == SIGNET_ERR_TOO_LARGE);
		free(buf);
	}
	CHECK(note_parse(NULL, 0, &n, &msg) == SIGNET_ERR_FORMAT);
	note_free(NULL);
}

static void
test_checkpoints(void)
{
	static const uint8_t root[32] = { 0x0a, 0xc5, 0x18, 0x6a, 0x91, 0x86,
		0x3e, 0x8e, 0x1d, 0x90, 0xc8, 0x08, 0x01, 0x4a, 0xa8, 0x9b,
		0xf5, 0xda, 0x8e, 0x3e, 0xe1, 0xd9, 0xf0, 0x76, 0x30, 0xf0,
		0x37, 0x8f, 0x68, 0xf1, 0xab, 0x62 };
	struct note_checkpoint cp, c2;
	struct err_msg msg;
	char buf[NOTE_CHECKPOINT_MAX + 1], big[NOTE_CHECKPOINT_MAX + 64];
	size_t len, i;
	struct {
		const char *text;
		int code;
	} bad[] = {
		{ "", SIGNET_ERR_FORMAT },
		{ "\n0\n"
		  "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n",
		    SIGNET_ERR_FORMAT }, /* empty origin */
		{ "o\n", SIGNET_ERR_FORMAT },
		{ "o\n5\n", SIGNET_ERR_FORMAT },
		{ "o\n05\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n",
		    SIGNET_ERR_FORMAT },
		{ "o\n00\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n",
		    SIGNET_ERR_FORMAT },
		{ "o\n-1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n",
		    SIGNET_ERR_FORMAT },
		{ "o\n+1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n",
		    SIGNET_ERR_FORMAT },
		{ "o\n1 \nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n",
		    SIGNET_ERR_FORMAT },
		{ "o\n\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n",
		    SIGNET_ERR_FORMAT },
		{ "o\n0x10\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n",
		    SIGNET_ERR_FORMAT },
		{ "o\n9223372036854775808\n"
		  "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n",
		    SIGNET_ERR_FORMAT }, /* 2^63 */
		{ "o\n99999999999999999999\n"
		  "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n",
		    SIGNET_ERR_FORMAT },
		{ "o\n5\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2J=\n",
		    SIGNET_ERR_FORMAT }, /* non-canonical last bits */
		{ "o\n5\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I\n",
		    SIGNET_ERR_FORMAT },
		{ "o\n5\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I==\n",
		    SIGNET_ERR_FORMAT },
		{ "o\n5\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2Ia\n",
		    SIGNET_ERR_FORMAT }, /* 33 bytes */
		{ "o\n5\nCsUYapGGPo4dkMgIAUqom_Xajj7h2fB2MPA3j2jxq2I=\n",
		    SIGNET_ERR_FORMAT }, /* URL alphabet */
		{ "o\n5\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=",
		    SIGNET_ERR_FORMAT }, /* no final newline */
		{ "o\n5\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n\n",
		    SIGNET_ERR_FORMAT }, /* empty extension line */
		{ "o\n5\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\nx\n\n",
		    SIGNET_ERR_FORMAT },
		{ "o\x01\n5\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n",
		    SIGNET_ERR_FORMAT },
		{ "o\x7f\n5\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n",
		    SIGNET_ERR_FORMAT },
		{ "o\r\n5\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n",
		    SIGNET_ERR_FORMAT },
		{ "\xff\n5\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n",
		    SIGNET_ERR_FORMAT },
		{ "o\n5\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\nx\ty\n",
		    SIGNET_ERR_FORMAT },
	};

	CHECK(note_checkpoint_parse(CP_BODY, strlen(CP_BODY), &cp, &msg) == 0);
	CHECK(strcmp(cp.origin, "example.com/behind-the-sofa") == 0 &&
	    cp.size == 20852163 && memcmp(cp.root, root, 32) == 0 &&
	    cp.ext_len == 0);
	CHECK(note_checkpoint_format(&cp, buf, sizeof(buf), &len, &msg) == 0);
	CHECK(len == strlen(CP_BODY) && strcmp(buf, CP_BODY) == 0);
	CHECK(note_checkpoint_format(&cp, buf, 20, &len, &msg) ==
	        SIGNET_ERR_TOO_LARGE &&
	    len == 0 && buf[0] == '\0');
	/* Size 0, the largest size, extension lines. */
	CHECK(
	    note_checkpoint_parse(
	        "o\n0\n"
	        "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n",
	        strlen("o\n0\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"),
	        &cp, &msg) == 0 &&
	    cp.size == 0);
	(void)snprintf(big, sizeof(big),
	    "signet/server/relay\n9223372036854775807\n%s\next one\next 2\n",
	    "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=");
	CHECK(note_checkpoint_parse(big, strlen(big), &cp, &msg) == 0);
	CHECK(cp.size == 9223372036854775807ULL && cp.ext_len == 14 &&
	    strcmp(cp.ext, "ext one\next 2\n") == 0);
	CHECK(note_checkpoint_format(&cp, buf, sizeof(buf), &len, &msg) == 0 &&
	    strcmp(buf, big) == 0);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		CHECKF(note_checkpoint_parse(bad[i].text, strlen(bad[i].text),
		           &cp, &msg) == bad[i].code,
		    "bad checkpoint %zu", i);
		CHECK(cp.origin[0] == '\0' && cp.size == 0);
	}
	/* Origins and extensions over their limits. */
	memset(big, 'o', sizeof(big));
	memcpy(big + NOTE_ORIGIN_MAX + 1,
	    "\n5\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n", 49);
	CHECK(note_checkpoint_parse(big, NOTE_ORIGIN_MAX + 1 + 48, &cp, &msg) ==
	    SIGNET_ERR_TOO_LARGE);
	CHECK(note_checkpoint_parse(big + 1, NOTE_ORIGIN_MAX + 48, &cp, &msg) ==
	    0);
	memcpy(big, "o\n5\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n", 49);
	memset(big + 49, 'e', NOTE_EXT_MAX);
	big[49 + NOTE_EXT_MAX] = '\n';
	CHECK(note_checkpoint_parse(big, 49 + NOTE_EXT_MAX + 1, &cp, &msg) ==
	    SIGNET_ERR_TOO_LARGE);
	CHECK(note_checkpoint_parse(big, 49 + NOTE_EXT_MAX, &cp, &msg) ==
	    SIGNET_ERR_FORMAT); /* no final newline */
	big[49 + NOTE_EXT_MAX - 1] = '\n';
	CHECK(note_checkpoint_parse(big, 49 + NOTE_EXT_MAX, &cp, &msg) == 0);
	CHECK(cp.ext_len == NOTE_EXT_MAX);
	/* Format refuses what parse would. */
	memset(&c2, 0, sizeof(c2));
	CHECK(note_checkpoint_format(&c2, buf, sizeof(buf), &len, &msg) ==
	    SIGNET_ERR_FORMAT);
	memcpy(c2.origin, "a\nb", 4);
	CHECK(note_checkpoint_format(&c2, buf, sizeof(buf), &len, &msg) ==
	    SIGNET_ERR_FORMAT);
	memcpy(c2.origin, "ok", 3);
	c2.size = (uint64_t)INT64_MAX + 1;
	CHECK(note_checkpoint_format(&c2, buf, sizeof(buf), &len, &msg) ==
	    SIGNET_ERR_FORMAT);
	c2.size = 1;
	memcpy(c2.ext, "no newline", 11);
	c2.ext_len = 10;
	CHECK(note_checkpoint_format(&c2, buf, sizeof(buf), &len, &msg) ==
	    SIGNET_ERR_FORMAT);
	c2.ext_len = 3;
	CHECK(note_checkpoint_format(&c2, buf, sizeof(buf), &len, &msg) ==
	    SIGNET_ERR_FORMAT);
	c2.ext[0] = '\0';
	c2.ext_len = 0;
	CHECK(note_checkpoint_format(&c2, buf, sizeof(buf), &len, &msg) == 0);
}

static void
test_cosignatures(void)
{
	struct note_verifier k[3];
	struct note_checkpoint cp;
	struct note *n = NULL, *n2 = NULL;
	struct err_msg msg;
	char line[NOTE_SIGLINE_MAX + 1], *out = NULL, *out2 = NULL;
	char buf[2048];
	size_t len, len2;
	uint8_t raw[76];
	size_t got = 0;
	const char *b64;

	CHECK(vparse(LOG_VKEY, &k[0]) == 0);
	CHECK(vparse(WIT_VKEY, &k[1]) == 0);
	CHECK(k[1].type == NOTE_TYPE_COSIG && k[1].key_id == 0xd46a2b1b);

	/* The independent implementation's line, byte for byte. */
	CHECK(note_cosign(CP_BODY, strlen(CP_BODY), "witness.example.com/w1",
	          &peter, WIT_TIME, line, &len, &msg) == 0);
	CHECKF(len == strlen(WIT_SIG) && strcmp(line, WIT_SIG) == 0, "%s",
	    line);
	/* And the log's signature too. */
	CHECK(note_sign(CP_BODY, strlen(CP_BODY), "example.com/behind-the-sofa",
	          &peter, &out, &len, &msg) == 0);
	CHECK(out != NULL && strcmp(out, CP_BODY "\n" LOG_SIG) == 0);
	free(out);
	out = NULL;

	/* Opened: both verified, the time read back. */
	CHECK(open_str(CP_BODY "\n" LOG_SIG WIT_SIG SPEC_COSIG, k, 2, &n) == 0);
	CHECK(n != NULL && n->nverified == 2 && n->nsigs == 3);
	CHECK(note_signed_by(n, 1) != NULL &&
	    note_signed_by(n, 1)->timestamp == WIT_TIME &&
	    note_signed_by(n, 0)->timestamp == 0);
	note_free(n);
	n = NULL;
	CHECK(note_checkpoint_open(CP_BODY "\n" LOG_SIG WIT_SIG SPEC_COSIG,
	          strlen(CP_BODY "\n" LOG_SIG WIT_SIG SPEC_COSIG), k, 2, 0, &n,
	          &cp, &msg) == 0);
	CHECK(n != NULL && cp.size == 20852163 && note_signed_by(n, 1) != NULL);
	note_free(n);
	n = NULL;
	/* The spec's witness line of an unknown key is ignored. */
	CHECK(note_checkpoint_open(CP_BODY "\n" SPEC_COSIG LOG_SIG,
	          strlen(CP_BODY "\n" SPEC_COSIG LOG_SIG), k, 2, 0, &n, &cp,
	          &msg) == 0);
	CHECK(n != NULL && n->nverified == 1 && note_signed_by(n, 1) == NULL);
	/* Adding the cosignature to it. */
	CHECK(note_add_sigline(n, line, strlen(line), &out, &len, &msg) == 0);
	CHECK(out != NULL &&
	    strcmp(out, CP_BODY "\n" SPEC_COSIG LOG_SIG WIT_SIG) == 0);
	CHECK(note_open(out, len, k, 2, &n2, &msg) == 0 && n2->nverified == 2);
	/* Adding it again replaces it, nothing grows. */
	CHECK(
	    note_add_sigline(n2, line, strlen(line), &out2, &len2, &msg) == 0);
	CHECK(out2 != NULL && len2 == len && strcmp(out, out2) == 0);
	free(out2);
	out2 = NULL;
	CHECK(note_add_sigline(n2, line, strlen(line) - 1, &out2, &len2,
	          &msg) == SIGNET_ERR_FORMAT);
	CHECK(note_add_sigline(n2, LOG_SIG WIT_SIG, strlen(LOG_SIG WIT_SIG),
	          &out2, &len2, &msg) == SIGNET_ERR_FORMAT);
	CHECK(note_add_sigline(n2, "\xe2\x80\x94 a+b AAAAAAAA\n", 17, &out2,
	          &len2, &msg) == SIGNET_ERR_FORMAT);
	CHECK(out2 == NULL);
	note_free(n2);
	n2 = NULL;
	free(out);
	out = NULL;
	note_free(n);
	n = NULL;

	/* Only a witness signed: not a checkpoint of the log. */
	CHECK(note_checkpoint_open(CP_BODY "\n" WIT_SIG,
	          strlen(CP_BODY "\n" WIT_SIG), k, 2, 0, &n, &cp,
	          &msg) == SIGNET_ERR_UNKNOWN_KEY);
	CHECK(n == NULL && cp.size == 0);
	CHECK(note_checkpoint_open(CP_BODY "\n" LOG_SIG,
	          strlen(CP_BODY "\n" LOG_SIG), k, 2, 1, &n, &cp,
	          &msg) == SIGNET_ERR_INVALID_ARG);
	/* Signed by the log key, but another origin. */
	CHECK(
	    note_sign("example.com/other\n1\n"
	              "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n",
	        strlen("example.com/other\n1\n"
	               "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"),
	        "example.com/behind-the-sofa", &peter, &out, &len, &msg) == 0);
	CHECK(note_checkpoint_open(out, len, k, 2, 0, &n, &cp, &msg) ==
	    SIGNET_ERR_FORMAT);
	CHECK_CONTAINS(msg.text, "not the log's name");
	free(out);
	out = NULL;
	/* A signed note that is no checkpoint. */
	CHECK(note_sign("hello\n", 6, "example.com/behind-the-sofa", &peter,
	          &out, &len, &msg) == 0);
	CHECK(note_checkpoint_open(out, len, k, 2, 0, &n, &cp, &msg) ==
	    SIGNET_ERR_FORMAT);
	free(out);
	out = NULL;

	/*
	 * A cosignature whose time was changed, past 2^63 - 1, of the wrong
	 * length, over another body: refused. Made by hand from WIT_SIG.
	 */
	b64 = &WIT_SIG[4 + strlen("witness.example.com/w1 ")];
	CHECK(sodium_base642bin(raw, sizeof(raw), b64, strlen(b64) - 1, NULL,
	          &got, NULL, sodium_base64_VARIANT_ORIGINAL) == 0 &&
	    got == 76);
	raw[11] ^= 1; /* the time */
	(void)snprintf(buf, sizeof(buf),
	    CP_BODY "\n" LOG_SIG "\xe2\x80\x94 witness.example.com/w1 ");
	sodium_bin2base64(buf + strlen(buf), sizeof(buf) - strlen(buf), raw, 76,
	    sodium_base64_VARIANT_ORIGINAL);
	memcpy(buf + strlen(buf), "\n", 2);
	CHECK(open_str(buf, k, 2, &n) == SIGNET_ERR_BAD_SIGNATURE);
	CHECK(open_str(buf, k, 1, &n) == 0); /* an unknown key: ignored */
	note_free(n);
	n = NULL;
	raw[11] ^= 1;
	raw[4] = 0x80; /* 2^63 and more */
	(void)snprintf(buf, sizeof(buf),
	    CP_BODY "\n" LOG_SIG "\xe2\x80\x94 witness.example.com/w1 ");
	sodium_bin2base64(buf + strlen(buf), sizeof(buf) - strlen(buf), raw, 76,
	    sodium_base64_VARIANT_ORIGINAL);
	memcpy(buf + strlen(buf), "\n", 2);
	CHECK(open_str(buf, k, 2, &n) == SIGNET_ERR_BAD_SIGNATURE);
	raw[4] = 0;
	(void)snprintf(buf, sizeof(buf),
	    CP_BODY "\n" LOG_SIG "\xe2\x80\x94 witness.example.com/w1 ");
	sodium_bin2base64(buf + strlen(buf), sizeof(buf) - strlen(buf), raw, 68,
	    sodium_base64_VARIANT_ORIGINAL);
	memcpy(buf + strlen(buf), "\n", 2);
	CHECK(open_str(buf, k, 2, &n) == SIGNET_ERR_BAD_SIGNATURE);
	CHECK(
	    open_str("example.com/behind-the-sofa\n20852164\n"
	             "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n\n" WIT_SIG,
	        k, 2, &n) == SIGNET_ERR_BAD_SIGNATURE);
	/* A cosignature key does not verify a plain signature. */
	CHECK(note_verifier_init(&k[2], "PeterNeumann", NOTE_TYPE_COSIG,
	          peter.pub.pk) == 0);
	CHECK(open_str(TEXT "\n" PETER_SIG, &k[2], 1, &n) ==
	    SIGNET_ERR_UNKNOWN_KEY);

	/* One line on its own, as a witness returns it. */
	{
		uint64_t ts = 7;

		CHECK(note_verify_sigline(CP_BODY, strlen(CP_BODY), WIT_SIG,
		          strlen(WIT_SIG), &k[1], &ts, &msg) == 0 &&
		    ts == WIT_TIME);
		CHECK(note_verify_sigline(CP_BODY, strlen(CP_BODY), LOG_SIG,
		          strlen(LOG_SIG), &k[0], &ts, &msg) == 0 &&
		    ts == 0);
		CHECK(note_verify_sigline(CP_BODY, strlen(CP_BODY), WIT_SIG,
		          strlen(WIT_SIG), &k[0], &ts,
		          &msg) == SIGNET_ERR_UNKNOWN_KEY);
		CHECK(note_verify_sigline(CP_BODY, strlen(CP_BODY), SPEC_COSIG,
		          strlen(SPEC_COSIG), &k[1], &ts,
		          &msg) == SIGNET_ERR_UNKNOWN_KEY);
		CHECK(note_verify_sigline(TEXT, strlen(TEXT), WIT_SIG,
		          strlen(WIT_SIG), &k[1], &ts,
		          &msg) == SIGNET_ERR_BAD_SIGNATURE &&
		    ts == 0);
		CHECK(note_verify_sigline(CP_BODY, strlen(CP_BODY), WIT_SIG,
		          strlen(WIT_SIG) - 1, &k[1], &ts,
		          &msg) == SIGNET_ERR_FORMAT);
		CHECK(note_verify_sigline(CP_BODY, strlen(CP_BODY) - 1, WIT_SIG,
		          strlen(WIT_SIG), &k[1], &ts,
		          &msg) == SIGNET_ERR_FORMAT);
		CHECK(note_verify_sigline(CP_BODY, strlen(CP_BODY),
		          LOG_SIG WIT_SIG, strlen(LOG_SIG WIT_SIG), &k[1], &ts,
		          &msg) == SIGNET_ERR_FORMAT);
	}

	/* note_cosign's refusals. */
	CHECK(note_cosign(TEXT, strlen(TEXT), "w", &peter, 1, line, &len,
	          &msg) == SIGNET_ERR_FORMAT);
	CHECK(line[0] == '\0' && len == 0);
	CHECK(note_cosign(CP_BODY, strlen(CP_BODY), "w", &peter,
	          (uint64_t)INT64_MAX + 1, line, &len,
	          &msg) == SIGNET_ERR_INVALID_ARG);
	CHECK(note_cosign(CP_BODY, strlen(CP_BODY), "w w", &peter, 1, line,
	          &len, &msg) == SIGNET_ERR_INVALID_ARG);
	CHECK(note_cosign(CP_BODY, strlen(CP_BODY), "w", &peter,
	          (uint64_t)INT64_MAX, line, &len, &msg) == 0);
	{
		char name[NOTE_NAME_MAX + 1];

		memset(name, 'n', NOTE_NAME_MAX);
		name[NOTE_NAME_MAX] = '\0';
		CHECK(note_cosign(CP_BODY, strlen(CP_BODY), name, &peter,
		          (uint64_t)INT64_MAX, line, &len, &msg) == 0);
		CHECK(len == NOTE_SIGLINE_MAX);
	}
}

int
main(void)
{
	if (sodium_init() < 0)
		return 1;
	load_peter();
	test_verifiers();
	test_names();
	test_notes();
	test_checkpoints();
	test_cosignatures();
	sodium_memzero(&peter, sizeof(peter));
	return test_finish("test_note");
}
