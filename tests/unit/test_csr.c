/* SPDX-License-Identifier: ISC */
/*
 * The enrollment request and directory: the request verifies with the key
 * it carries, its subject is exactly CN then OU, it asks for nothing else,
 * the key is P-256; bad names, a directory others may write, existing
 * files, a rotation and a renewal, and that a refusal leaves nothing.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <sodium.h>

#include "csr.h"
#include "testlib.h"

static char top[] = "/tmp/signet-test-csr.XXXXXX";

static const char *
path_of(const char *rel)
{
	static char buf[4][512];
	static int n;

	n = (n + 1) % 4;
	(void)snprintf(buf[n], sizeof(buf[n]), "%s/%s", top, rel);
	return buf[n];
}

/* The number of names in dir (no . and ..), or -1. */
static int
count_entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int n = 0;

	if (d == NULL)
		return -1;
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") != 0 &&
		    strcmp(de->d_name, "..") != 0)
			n++;
	}
	closedir(d);
	return n;
}

/* The whole of a small file into buf (NUL-terminated); its length or -1. */
static long
slurp(const char *path, char *buf, size_t cap)
{
	FILE *f = fopen(path, "r");
	size_t n;

	buf[0] = '\0';
	if (f == NULL)
		return -1;
	n = fread(buf, 1, cap - 1, f);
	fclose(f);
	buf[n] = '\0';
	return (long)n;
}

static mode_t
mode_of(const char *path)
{
	struct stat st;

	if (lstat(path, &st) != 0)
		return (mode_t)-1;
	return st.st_mode & 07777;
}

/* The text of the n-th subject entry, if its NID is nid. */
static bool
entry_is(const X509_NAME *name, int n, int nid, const char *want)
{
	const X509_NAME_ENTRY *e = X509_NAME_get_entry(name, n);
	const ASN1_STRING *s;

	if (e == NULL || OBJ_obj2nid(X509_NAME_ENTRY_get_object(e)) != nid)
		return false;
	s = X509_NAME_ENTRY_get_data(e);
	return s != NULL && (size_t)ASN1_STRING_length(s) == strlen(want) &&
	    memcmp(ASN1_STRING_get0_data(s), want, strlen(want)) == 0;
}

/* Checks a request and its key as csr.h promises them. */
static void
check_request(const char *req_pem, size_t req_len, const char *key_pem,
    size_t key_len, const char *cn, const char *ou)
{
	BIO *b = BIO_new_mem_buf(req_pem, (int)req_len);
	BIO *kb = BIO_new_mem_buf(key_pem, (int)key_len);
	X509_REQ *req = NULL;
	EVP_PKEY *key = NULL, *pub;
	STACK_OF(X509_EXTENSION) *exts;
	const X509_NAME *name;
	char group[64] = "";
	size_t glen = 0;

	CHECK(b != NULL && kb != NULL);
	req = b != NULL ? PEM_read_bio_X509_REQ(b, NULL, NULL, NULL) : NULL;
	key = kb != NULL ? PEM_read_bio_PrivateKey(kb, NULL, NULL, NULL) : NULL;
	CHECK(req != NULL);
	CHECK(key != NULL);
	CHECK(strncmp(key_pem, "-----BEGIN PRIVATE KEY-----\n", 28) == 0);
	CHECK(
	    strncmp(req_pem, "-----BEGIN CERTIFICATE REQUEST-----\n", 36) == 0);
	if (req == NULL || key == NULL)
		goto out;
	pub = X509_REQ_get0_pubkey(req);
	CHECK(pub != NULL && X509_REQ_verify(req, pub) == 1);
	CHECK(pub != NULL && EVP_PKEY_eq(pub, key) == 1);
	CHECK(X509_REQ_get_version(req) == X509_REQ_VERSION_1);
	CHECK(X509_REQ_get_signature_nid(req) == NID_ecdsa_with_SHA256);
	name = X509_REQ_get_subject_name(req);
	CHECK(X509_NAME_entry_count(name) == 2);
	CHECK(entry_is(name, 0, NID_commonName, cn));
	CHECK(entry_is(name, 1, NID_organizationalUnitName, ou));
	CHECK(X509_REQ_get_attr_count(req) == 0);
	exts = X509_REQ_get_extensions(req);
	CHECK(exts == NULL || sk_X509_EXTENSION_num(exts) == 0);
	sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	CHECK(EVP_PKEY_is_a(key, "EC"));
	CHECK(EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME,
	          group, sizeof(group), &glen) == 1 &&
	    strcmp(group, "prime256v1") == 0);
	CHECK(EVP_PKEY_get_bits(key) == 256);
out:
	X509_REQ_free(req);
	EVP_PKEY_free(key);
	BIO_free(b);
	BIO_free(kb);
}

/* Checks the files of an enrollment on disk. */
static void
check_files(const char *dir, const char *base, const char *cn, const char *ou)
{
	char kp[512], rp[512], key[CSR_KEY_PEM_MAX], req[CSR_REQ_PEM_MAX];
	long kl, rl;

	(void)snprintf(kp, sizeof(kp), "%s/%s.key", dir, base);
	(void)snprintf(rp, sizeof(rp), "%s/%s.csr", dir, base);
	kl = slurp(kp, key, sizeof(key));
	rl = slurp(rp, req, sizeof(req));
	CHECK(kl > 0 && rl > 0);
	CHECKF(mode_of(kp) == 0600, "%s mode %o", kp, (unsigned)mode_of(kp));
	CHECK(mode_of(rp) == 0644);
	if (kl > 0 && rl > 0)
		check_request(req, (size_t)rl, key, (size_t)kl, cn, ou);
	sodium_memzero(key, sizeof(key));
}

static void
test_make(void)
{
	static const struct {
		const char *cn, *ou;
	} good[] = {
		{ "web-01", "agent" },
		{ "alice", "operator" },
		{ "a", "auditor" },
		{ "host.example.org", "agent" },
	};
	static const char *const bad[] = { "", "Web-01", "-a", ".a", "a/b",
		"../x", "a b", "a\n", "caf\xc3\xa9",
		"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
		"x,OU=agent", NULL };
	struct csr_pem *pem = sodium_malloc(sizeof(*pem));
	struct err_msg msg;
	size_t k;

	CHECK(pem != NULL);
	if (pem == NULL)
		return;
	for (k = 0; k < sizeof(good) / sizeof(good[0]); k++) {
		err_clear(&msg);
		CHECKF(csr_make(good[k].cn, good[k].ou, pem, &msg) == 0,
		    "%s: %s", good[k].cn, msg.text);
		check_request(pem->req, pem->req_len, pem->key, pem->key_len,
		    good[k].cn, good[k].ou);
	}
	for (k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
		err_clear(&msg);
		CHECKF(csr_make(bad[k], "agent", pem, &msg) ==
		        SIGNET_ERR_INVALID_ARG,
		    "name %zu accepted", k);
		CHECK_CONTAINS(msg.text, "bad name");
		CHECK(pem->key_len == 0 && pem->key[0] == '\0');
		CHECK(csr_make("web-01", bad[k], pem, &msg) ==
		    SIGNET_ERR_INVALID_ARG);
		CHECK_CONTAINS(msg.text, "bad role");
	}
	/* Two keys are two keys. */
	{
		char first[CSR_KEY_PEM_MAX];

		CHECK(csr_make("web-01", "agent", pem, &msg) == 0);
		memcpy(first, pem->key, sizeof(first));
		CHECK(csr_make("web-01", "agent", pem, &msg) == 0);
		CHECK(strcmp(first, pem->key) != 0);
		sodium_memzero(first, sizeof(first));
	}
	csr_pem_wipe(pem);
	CHECK(sodium_is_zero((const unsigned char *)pem, sizeof(*pem)));
	sodium_free(pem);
}

static void
test_stamp(void)
{
	char s[CSR_STAMP_LEN + 1];

	CHECK(csr_stamp(1700000000, s) == 0);
	CHECK(strcmp(s, "20231114T221320Z") == 0);
	CHECK(csr_stamp(0, s) == 0);
	CHECK(strcmp(s, "19700101T000000Z") == 0);
}

static void
enroll_init(struct csr_enroll *e, const char *dir, enum csr_result_key rk)
{
	memset(e, 0, sizeof(*e));
	e->dir = dir;
	e->base = "agent";
	e->cn = "web-01";
	e->ou = "agent";
	e->result = rk;
	e->now = 1700000000;
}

static void
test_agent(void)
{
	struct csr_enroll e;
	struct csr_enrolled res;
	struct err_msg msg;
	struct keys_public pub;
	struct keys_secret sk;
	char dir[512], before[CSR_KEY_PEM_MAX], after[CSR_KEY_PEM_MAX];
	char id1[KEYS_ID_LEN + 1];

	/* A fresh DIR is made 0700 with the four files. */
	(void)snprintf(dir, sizeof(dir), "%s", path_of("agent"));
	enroll_init(&e, dir, CSR_RESULT_KEEP);
	err_clear(&msg);
	CHECKF(csr_enroll(&e, &res, &msg) == 0, "%s", msg.text);
	CHECK(mode_of(dir) == 0700);
	CHECK(count_entries(dir) == 4);
	check_files(dir, "agent", "web-01", "agent");
	CHECK(mode_of(path_of("agent/result.key")) == 0600);
	CHECK(res.result_new);
	CHECK(strcmp(res.key_path, path_of("agent/agent.key")) == 0);
	CHECK(strcmp(res.result_pub, path_of("agent/result.pub")) == 0);
	CHECK(keys_load_public(path_of("agent/result.pub"), &pub, &msg) == 0);
	CHECK(strcmp(pub.id, res.result_id) == 0);
	CHECK(keys_load_secret(path_of("agent/result.key"), &sk, &msg) == 0);
	CHECK(strcmp(sk.pub.id, res.result_id) == 0);
	keys_secret_wipe(&sk);
	memcpy(id1, res.result_id, sizeof(id1));

	/* Again: agent.key exists; nothing changes, nothing is left. */
	CHECK(slurp(path_of("agent/agent.key"), before, sizeof(before)) > 0);
	CHECK(csr_enroll(&e, &res, &msg) == SIGNET_ERR_EXISTS);
	CHECK_CONTAINS(msg.text, "agent/agent.key already exists");
	CHECK(res.key_path[0] == '\0');
	CHECK(slurp(path_of("agent/agent.key"), after, sizeof(after)) > 0);
	CHECK(strcmp(before, after) == 0);
	CHECK(count_entries(dir) == 4);
	/* The request alone is there: refused as well. */
	CHECK(rename(path_of("agent/agent.key"), path_of("old.key")) == 0);
	CHECK(csr_enroll(&e, &res, &msg) == SIGNET_ERR_EXISTS);
	CHECK_CONTAINS(msg.text, "agent/agent.csr already exists");
	CHECK(count_entries(dir) == 3);

	/* A renewal: the result key stays; a missing result.pub is made. */
	CHECK(rename(path_of("agent/agent.csr"), path_of("old.csr")) == 0);
	CHECK(unlink(path_of("agent/result.pub")) == 0);
	CHECKF(csr_enroll(&e, &res, &msg) == 0, "%s", msg.text);
	CHECK(!res.result_new);
	CHECK(strcmp(res.result_id, id1) == 0);
	CHECK(keys_load_public(path_of("agent/result.pub"), &pub, &msg) == 0);
	CHECK(strcmp(pub.id, id1) == 0);
	CHECK(count_entries(dir) == 4);
	check_files(dir, "agent", "web-01", "agent");
	CHECK(slurp(path_of("agent/agent.key"), after, sizeof(after)) > 0);
	CHECK(strcmp(before, after) != 0);

	/* A result.pub of another key is refused, naming both ids. */
	CHECK(unlink(path_of("agent/agent.key")) == 0);
	CHECK(unlink(path_of("agent/agent.csr")) == 0);
	CHECK(rename(path_of("agent/result.pub"), path_of("keep.pub")) == 0);
	CHECK(keys_generate(&sk) == 0);
	CHECK(keys_write_pair(top, "other", &sk, &msg) == 0);
	CHECK(link(path_of("other.pub"), path_of("agent/result.pub")) == 0);
	CHECK(csr_enroll(&e, &res, &msg) == SIGNET_ERR_FORMAT);
	CHECK_CONTAINS(msg.text, sk.pub.id);
	CHECK_CONTAINS(msg.text, id1);
	CHECK(count_entries(dir) == 2);
	CHECK(unlink(path_of("agent/result.pub")) == 0);
	CHECK(rename(path_of("keep.pub"), path_of("agent/result.pub")) == 0);

	/* result.pub without result.key: never overwritten. */
	CHECK(rename(path_of("agent/result.key"), path_of("keep.key")) == 0);
	CHECK(csr_enroll(&e, &res, &msg) == SIGNET_ERR_EXISTS);
	CHECK_CONTAINS(msg.text, "result.pub exists without");
	CHECK(count_entries(dir) == 1);
	CHECK(rename(path_of("keep.key"), path_of("agent/result.key")) == 0);

	/* A result.key others may read is refused. */
	CHECK(chmod(path_of("agent/result.key"), 0640) == 0);
	CHECK(csr_enroll(&e, &res, &msg) == SIGNET_ERR_PERMISSIONS);
	CHECK(count_entries(dir) == 2);
	CHECK(chmod(path_of("agent/result.key"), 0600) == 0);

	/* Rotation: the old pair under its dated name, a new pair. */
	e.result = CSR_RESULT_ROTATE;
	CHECKF(csr_enroll(&e, &res, &msg) == 0, "%s", msg.text);
	CHECK(res.result_new);
	CHECK(strcmp(res.stamp, "20231114T221320Z") == 0);
	CHECK(strcmp(res.result_id, id1) != 0);
	CHECK(count_entries(dir) == 6);
	CHECK(keys_load_public(path_of("agent/result.pub.old-20231114T221320Z"),
	          &pub, &msg) == 0 &&
	    strcmp(pub.id, id1) == 0);
	CHECK(keys_load_secret(path_of("agent/result.key.old-20231114T221320Z"),
	          &sk, &msg) == 0 &&
	    strcmp(sk.pub.id, id1) == 0);
	CHECK(keys_load_public(path_of("agent/result.pub"), &pub, &msg) == 0 &&
	    strcmp(pub.id, res.result_id) == 0);
	CHECK(keys_load_secret(path_of("agent/result.key"), &sk, &msg) == 0 &&
	    strcmp(sk.pub.id, res.result_id) == 0);
	CHECK(mode_of(path_of("agent/result.key")) == 0600);
	keys_secret_wipe(&sk);
	check_files(dir, "agent", "web-01", "agent");

	/* The same second again: the dated names are taken; nothing moves. */
	memcpy(id1, res.result_id, sizeof(id1));
	CHECK(unlink(path_of("agent/agent.key")) == 0);
	CHECK(unlink(path_of("agent/agent.csr")) == 0);
	CHECK(csr_enroll(&e, &res, &msg) == SIGNET_ERR_EXISTS);
	CHECK_CONTAINS(msg.text, "result.key.old-20231114T221320Z");
	CHECK(count_entries(dir) == 4);
	CHECK(keys_load_public(path_of("agent/result.pub"), &pub, &msg) == 0 &&
	    strcmp(pub.id, id1) == 0);

	/* Rotation with no result key to rotate. */
	(void)snprintf(dir, sizeof(dir), "%s", path_of("agent2"));
	e.dir = dir;
	CHECK(csr_enroll(&e, &res, &msg) == SIGNET_ERR_NOT_FOUND);
	CHECK_CONTAINS(msg.text, "no result key to rotate");
	/* The DIR it made is gone again. */
	CHECK(access(dir, F_OK) != 0);

	/*
	 * A step that fails after the first link is undone: result.pub a
	 * directory cannot be linked to its dated name, so the dated
	 * result.key goes again and agent.key, agent.csr never appear.
	 */
	(void)snprintf(dir, sizeof(dir), "%s", path_of("agent3"));
	enroll_init(&e, dir, CSR_RESULT_KEEP);
	CHECKF(csr_enroll(&e, &res, &msg) == 0, "%s", msg.text);
	memcpy(id1, res.result_id, sizeof(id1));
	CHECK(unlink(path_of("agent3/agent.key")) == 0);
	CHECK(unlink(path_of("agent3/agent.csr")) == 0);
	CHECK(unlink(path_of("agent3/result.pub")) == 0);
	CHECK(mkdir(path_of("agent3/result.pub"), 0700) == 0);
	e.result = CSR_RESULT_ROTATE;
	CHECK(csr_enroll(&e, &res, &msg) == SIGNET_ERR_IO);
	CHECK_CONTAINS(msg.text, "result.pub.old-20231114T221320Z");
	CHECK(count_entries(dir) == 2);
	CHECK(keys_load_secret(path_of("agent3/result.key"), &sk, &msg) == 0 &&
	    strcmp(sk.pub.id, id1) == 0);
	keys_secret_wipe(&sk);
}

static void
test_refusals(void)
{
	static const char *const bad[] = { "", "Web", "a/b", "../x", NULL };
	struct csr_enroll e;
	struct csr_enrolled res;
	struct err_msg msg;
	char dir[512];
	size_t k;

	(void)snprintf(dir, sizeof(dir), "%s", path_of("refuse"));
	CHECK(mkdir(dir, 0700) == 0);
	for (k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
		enroll_init(&e, dir, CSR_RESULT_KEEP);
		e.cn = bad[k];
		CHECK(csr_enroll(&e, &res, &msg) == SIGNET_ERR_INVALID_ARG);
		CHECK_CONTAINS(msg.text, "bad name");
		enroll_init(&e, dir, CSR_RESULT_NONE);
		e.ou = bad[k];
		CHECK(csr_enroll(&e, &res, &msg) == SIGNET_ERR_INVALID_ARG);
		e.ou = "operator";
		e.base = bad[k];
		CHECK(csr_enroll(&e, &res, &msg) == SIGNET_ERR_INVALID_ARG);
	}
	CHECK(count_entries(dir) == 0);

	/* DIRs that others may write, or that are not directories. */
	enroll_init(&e, dir, CSR_RESULT_KEEP);
	CHECK(chmod(dir, 0770) == 0);
	CHECK(csr_enroll(&e, &res, &msg) == SIGNET_ERR_PERMISSIONS);
	CHECK_CONTAINS(msg.text, "writable by group or others (mode 770)");
	CHECK(chmod(dir, 0702) == 0);
	CHECK(csr_enroll(&e, &res, &msg) == SIGNET_ERR_PERMISSIONS);
	CHECK(chmod(dir, 01777) == 0);
	CHECK(csr_enroll(&e, &res, &msg) == SIGNET_ERR_PERMISSIONS);
	CHECK(count_entries(dir) == 0);
	CHECK(chmod(dir, 0755) == 0);
	CHECK(symlink(dir, path_of("link")) == 0);
	e.dir = path_of("link");
	CHECK(csr_enroll(&e, &res, &msg) == SIGNET_ERR_PERMISSIONS);
	CHECK_CONTAINS(msg.text, "symbolic link");
	e.dir = path_of("old.key");
	CHECK(csr_enroll(&e, &res, &msg) == SIGNET_ERR_PERMISSIONS);
	CHECK_CONTAINS(msg.text, "not a directory");
	e.dir = path_of("no/such");
	CHECK(csr_enroll(&e, &res, &msg) == SIGNET_ERR_IO);
	CHECK_CONTAINS(msg.text, "cannot create the directory");
	e.dir = "";
	CHECK(csr_enroll(&e, &res, &msg) == SIGNET_ERR_INVALID_ARG);
	CHECK(count_entries(dir) == 0);

	/* An operator: USER.key and USER.csr, no result key. */
	enroll_init(&e, dir, CSR_RESULT_NONE);
	e.base = e.cn = "alice";
	e.ou = "operator";
	CHECKF(csr_enroll(&e, &res, &msg) == 0, "%s", msg.text);
	CHECK(count_entries(dir) == 2);
	CHECK(res.result_id[0] == '\0');
	check_files(dir, "alice", "alice", "operator");
	CHECK(csr_enroll(&e, &res, &msg) == SIGNET_ERR_EXISTS);
	CHECK(count_entries(dir) == 2);
}

int
main(void)
{
	CHECK(sodium_init() >= 0);
	if (mkdtemp(top) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	test_make();
	test_stamp();
	test_agent();
	test_refusals();
	{
		char cmd[300];
		(void)snprintf(cmd, sizeof(cmd), "rm -rf %s", top);
		CHECK(system(cmd) == 0);
	}
	return test_finish("test_csr");
}
