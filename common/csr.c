/* SPDX-License-Identifier: ISC */
/*
 * A P-256 key and its PKCS#10 request (OpenSSL 3's EVP and X509_REQ), and
 * the enrollment directory they are written to: made in a private
 * directory inside DIR, then hard-linked into place so that no name is
 * ever replaced, with every step undone on failure.
 */
#include "csr.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <sodium.h>

#include "fileio.h"
#include "text.h"

#define NAME_RULE "[a-z0-9][a-z0-9._-]{0,62}"

/* Copies the PEM held by bio into out[cap] (NUL-terminated). */
static int
bio_take(BIO *bio, char *out, size_t cap, size_t *len, const char *what,
    struct err_msg *msg)
{
	char *p = NULL;
	long n;

	n = BIO_get_mem_data(bio, &p);
	if (n <= 0 || p == NULL)
		return err_set(msg, SIGNET_ERR_CRYPTO, "cannot encode the %s",
		    what);
	if ((unsigned long)n >= cap)
		return err_set(msg, SIGNET_ERR_TOO_LARGE,
		    "the %s is %ld bytes, over %zu", what, n, cap - 1);
	memcpy(out, p, (size_t)n);
	out[n] = '\0';
	*len = (size_t)n;
	return 0;
}

static int
check_name(const char *what, const char *s, struct err_msg *msg)
{
	char esc[160];

	if (s != NULL && text_valid_name(s))
		return 0;
	return err_set(msg, SIGNET_ERR_INVALID_ARG,
	    "bad %s \"%s\": use " NAME_RULE, what,
	    text_escape_str(s, esc, sizeof(esc)));
}

int
csr_make(const char *cn, const char *ou, struct csr_pem *out,
    struct err_msg *msg)
{
	EVP_PKEY *pkey = NULL;
	X509_REQ *req = NULL;
	X509_NAME *name;
	BIO *kbio = NULL, *rbio = NULL;
	int r;

	sodium_memzero(out, sizeof(*out));
	r = check_name("name", cn, msg);
	if (r == 0)
		r = check_name("role", ou, msg);
	if (r != 0)
		return r;
	r = SIGNET_ERR_CRYPTO;
	pkey = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	if (pkey == NULL) {
		err_set(msg, r, "cannot make a P-256 key");
		goto out;
	}
	req = X509_REQ_new();
	if (req == NULL || X509_REQ_set_version(req, X509_REQ_VERSION_1) != 1 ||
	    X509_REQ_set_pubkey(req, pkey) != 1) {
		err_set(msg, r, "cannot make a certificate request");
		goto out;
	}
	/* CN then OU, as signet-pki writes "/CN=NAME/OU=ROLE". */
	name = X509_REQ_get_subject_name(req);
	if (name == NULL ||
	    X509_NAME_add_entry_by_NID(name, NID_commonName, MBSTRING_ASC,
	        (const unsigned char *)cn, -1, -1, 0) != 1 ||
	    X509_NAME_add_entry_by_NID(name, NID_organizationalUnitName,
	        MBSTRING_ASC, (const unsigned char *)ou, -1, -1, 0) != 1) {
		err_set(msg, r, "cannot set the request's subject");
		goto out;
	}
	if (X509_REQ_sign(req, pkey, EVP_sha256()) <= 0 ||
	    X509_REQ_verify(req, pkey) != 1) {
		err_set(msg, r, "cannot sign the certificate request");
		goto out;
	}
	/* The secure-memory BIO wipes its buffer when freed. */
	kbio = BIO_new(BIO_s_secmem());
	rbio = BIO_new(BIO_s_mem());
	if (kbio == NULL || rbio == NULL ||
	    PEM_write_bio_PrivateKey(kbio, pkey, NULL, NULL, 0, NULL, NULL) !=
	        1 ||
	    PEM_write_bio_X509_REQ(rbio, req) != 1) {
		err_set(msg, r, "cannot encode the key or the request");
		goto out;
	}
	r = bio_take(kbio, out->key, sizeof(out->key), &out->key_len, "key",
	    msg);
	if (r != 0)
		goto out;
	r = bio_take(rbio, out->req, sizeof(out->req), &out->req_len, "request",
	    msg);
	if (r != 0)
		goto out;
	r = 0;
out:
	if (r != 0)
		sodium_memzero(out, sizeof(*out));
	BIO_free(kbio);
	BIO_free(rbio);
	X509_REQ_free(req);
	EVP_PKEY_free(pkey); /* clears the private scalar */
	return r;
}

void
csr_pem_wipe(struct csr_pem *pem)
{
	if (pem != NULL)
		sodium_memzero(pem, sizeof(*pem));
}

int
csr_stamp(time_t t, char out[static CSR_STAMP_LEN + 1])
{
	struct tm tm;

	out[0] = '\0';
	if (gmtime_r(&t, &tm) == NULL ||
	    strftime(out, CSR_STAMP_LEN + 1, "%Y%m%dT%H%M%SZ", &tm) !=
	        CSR_STAMP_LEN) {
		out[0] = '\0';
		return SIGNET_ERR_INVALID_ARG;
	}
	return 0;
}

/* Whether path names anything (a dangling link included). */
static int
exists(const char *path, bool *yes, struct err_msg *msg)
{
	struct stat st;
	int saved;

	*yes = false;
	if (lstat(path, &st) == 0) {
		*yes = true;
		return 0;
	}
	saved = errno;
	if (saved == ENOENT)
		return 0;
	return err_set(msg, SIGNET_ERR_IO, "%s: cannot examine: %s", path,
	    strerror(saved));
}

static int
must_be_absent(const char *path, const char *hint, struct err_msg *msg)
{
	bool yes;
	int r;

	r = exists(path, &yes, msg);
	if (r != 0)
		return r;
	if (yes)
		return err_set(msg, SIGNET_ERR_EXISTS,
		    "%s already exists; refusing to overwrite it%s; nothing "
		    "was written",
		    path, hint);
	return 0;
}

/* Makes dir 0700 if missing (*made), else checks it as csr.h says. */
static int
prepare_dir(const char *dir, bool *made, struct err_msg *msg)
{
	struct stat st;
	int saved;

	*made = false;
	if (lstat(dir, &st) != 0) {
		saved = errno;
		if (saved != ENOENT)
			return err_set(msg, SIGNET_ERR_IO,
			    "%s: cannot examine: %s", dir, strerror(saved));
		if (mkdir(dir, 0700) != 0) {
			saved = errno;
			return err_set(msg, SIGNET_ERR_IO,
			    "%s: cannot create the directory: %s", dir,
			    strerror(saved));
		}
		*made = true;
		if (lstat(dir, &st) != 0) {
			saved = errno;
			return err_set(msg, SIGNET_ERR_IO,
			    "%s: cannot examine: %s", dir, strerror(saved));
		}
	}
	if (S_ISLNK(st.st_mode))
		return err_set(msg, SIGNET_ERR_PERMISSIONS,
		    "%s is a symbolic link; give the directory itself", dir);
	if (!S_ISDIR(st.st_mode))
		return err_set(msg, SIGNET_ERR_PERMISSIONS,
		    "%s is not a directory", dir);
	if (st.st_uid != geteuid() && st.st_uid != 0)
		return err_set(msg, SIGNET_ERR_PERMISSIONS,
		    "%s is owned by uid %lu, neither this user nor root; "
		    "private keys go in a directory of their own",
		    dir, (unsigned long)st.st_uid);
	if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0)
		return err_set(msg, SIGNET_ERR_PERMISSIONS,
		    "%s is writable by group or others (mode %03o); private "
		    "keys go in a directory only its owner may write "
		    "(chmod go-w)",
		    dir, (unsigned)(st.st_mode & 0777));
	return 0;
}

static int
join(char *out, size_t cap, const char *dir, const char *name,
    const char *suffix, struct err_msg *msg)
{
	int n;

	n = snprintf(out, cap, "%s/%s%s", dir, name, suffix);
	if (n < 0 || (size_t)n >= cap)
		return err_set(msg, SIGNET_ERR_TOO_LARGE,
		    "%s/%s%s: path too long", dir, name, suffix);
	return 0;
}

/* One step to take back: unlink(a), or rename(a, b). */
struct undo {
	const char *a;
	const char *b;
};

#define UNDO_MAX 8

/* The paths of one enrollment. */
struct paths {
	char tmp[PATH_MAX];
	char tkey[PATH_MAX], treq[PATH_MAX], trkey[PATH_MAX], trpub[PATH_MAX];
	char rkey[PATH_MAX], rpub[PATH_MAX];
	char rkey_old[PATH_MAX], rpub_old[PATH_MAX];
};

static int
link_new(const char *from, const char *to, struct undo *undo, size_t *nundo,
    struct err_msg *msg)
{
	int saved;

	if (link(from, to) != 0) {
		saved = errno;
		if (saved == EEXIST)
			return err_set(msg, SIGNET_ERR_EXISTS,
			    "%s appeared meanwhile; refusing to overwrite it; "
			    "nothing was written",
			    to);
		return err_set(msg, SIGNET_ERR_IO, "%s: cannot link: %s", to,
		    strerror(saved));
	}
	undo[*nundo].a = to;
	undo[*nundo].b = NULL;
	(*nundo)++;
	return 0;
}

/*
 * Puts new over path (a rotation), after link_new kept the old file under
 * old: undone by putting old back.
 */
static int
rename_over(const char *from, const char *to, const char *old,
    struct undo *undo, size_t *nundo, struct err_msg *msg)
{
	int saved;

	if (rename(from, to) != 0) {
		saved = errno;
		return err_set(msg, SIGNET_ERR_IO, "%s: cannot rename: %s", to,
		    strerror(saved));
	}
	undo[*nundo].a = old != NULL ? old : to;
	undo[*nundo].b = old != NULL ? to : NULL;
	(*nundo)++;
	return 0;
}

static int
new_result_key(struct keys_secret *rk, struct err_msg *msg)
{
	if (keys_generate(rk) != 0)
		return err_set(msg, SIGNET_ERR_CRYPTO,
		    "cannot make the result key");
	return 0;
}

/* The result key files before: what to load, make and move. */
static int
plan_result(const struct csr_enroll *e, struct paths *p, struct keys_secret *rk,
    struct csr_enrolled *res, bool *make_key, bool *make_pub, bool *old_pub,
    struct err_msg *msg)
{
	struct keys_public pub;
	bool has_key, has_pub;
	int r;

	*make_key = *make_pub = *old_pub = false;
	r = exists(p->rkey, &has_key, msg);
	if (r == 0)
		r = exists(p->rpub, &has_pub, msg);
	if (r != 0)
		return r;
	if (e->result == CSR_RESULT_ROTATE) {
		if (!has_key)
			return err_set(msg, SIGNET_ERR_NOT_FOUND,
			    "%s: no result key to rotate; leave out "
			    "--new-result-key to make the first one",
			    p->rkey);
		r = csr_stamp(e->now, res->stamp);
		if (r != 0)
			return err_set(msg, r, "cannot format the time");
		r = join(p->rkey_old, sizeof(p->rkey_old), e->dir,
		    "result.key.old-", res->stamp, msg);
		if (r == 0)
			r = join(p->rpub_old, sizeof(p->rpub_old), e->dir,
			    "result.pub.old-", res->stamp, msg);
		if (r == 0)
			r = must_be_absent(p->rkey_old, "", msg);
		if (r == 0 && has_pub)
			r = must_be_absent(p->rpub_old, "", msg);
		if (r != 0)
			return r;
		*old_pub = has_pub;
		*make_key = *make_pub = true;
		return new_result_key(rk, msg);
	}
	if (!has_key) {
		if (has_pub)
			return err_set(msg, SIGNET_ERR_EXISTS,
			    "%s exists without %s; refusing to overwrite it "
			    "(move it away); nothing was written",
			    p->rpub, p->rkey);
		*make_key = *make_pub = true;
		return new_result_key(rk, msg);
	}
	/* A renewal: the result key stays. */
	r = keys_load_secret(p->rkey, rk, msg);
	if (r != 0)
		return r;
	if (!has_pub) {
		*make_pub = true;
		return 0;
	}
	r = keys_load_public(p->rpub, &pub, msg);
	if (r != 0)
		return r;
	if (sodium_memcmp(pub.pk, rk->pub.pk, KEYS_PUBLIC_LEN) != 0)
		return err_set(msg, SIGNET_ERR_FORMAT,
		    "%s holds key id %s but %s is key id %s; move the one "
		    "that is wrong away",
		    p->rpub, pub.id, p->rkey, rk->pub.id);
	return 0;
}

static void
remove_tmp(struct paths *p)
{
	const char *files[] = { p->tkey, p->treq, p->trkey, p->trpub };
	size_t k;

	if (p->tmp[0] == '\0')
		return;
	for (k = 0; k < sizeof(files) / sizeof(files[0]); k++) {
		if (files[k][0] != '\0')
			(void)unlink(files[k]);
	}
	(void)rmdir(p->tmp);
}

int
csr_enroll(const struct csr_enroll *e, struct csr_enrolled *res,
    struct err_msg *msg)
{
	struct paths *p = NULL;
	struct csr_pem *pem = NULL;
	struct keys_secret *rk = NULL;
	struct undo undo[UNDO_MAX];
	size_t nundo = 0;
	bool made_dir = false, make_key = false, make_pub = false;
	bool old_pub = false;
	int r;

	memset(res, 0, sizeof(*res));
	r = check_name("name", e->cn, msg);
	if (r == 0)
		r = check_name("role", e->ou, msg);
	if (r == 0)
		r = check_name("file name", e->base, msg);
	if (r != 0)
		return r;
	if (e->dir == NULL || e->dir[0] == '\0')
		return err_set(msg, SIGNET_ERR_INVALID_ARG,
		    "no directory given");
	if (sodium_init() < 0)
		return err_set(msg, SIGNET_ERR_CRYPTO,
		    "cannot initialise libsodium");
	p = calloc(1, sizeof(*p));
	pem = sodium_malloc(sizeof(*pem));
	rk = sodium_malloc(sizeof(*rk));
	if (p == NULL || pem == NULL || rk == NULL) {
		r = err_set(msg, SIGNET_ERR_ALLOC, "out of memory");
		goto out;
	}
	sodium_memzero(rk, sizeof(*rk));
	r = join(res->key_path, sizeof(res->key_path), e->dir, e->base, ".key",
	    msg);
	if (r == 0)
		r = join(res->req_path, sizeof(res->req_path), e->dir, e->base,
		    ".csr", msg);
	if (r == 0)
		r = join(p->rkey, sizeof(p->rkey), e->dir, "result", ".key",
		    msg);
	if (r == 0)
		r = join(p->rpub, sizeof(p->rpub), e->dir, "result", ".pub",
		    msg);
	if (r == 0)
		r = join(p->tmp, sizeof(p->tmp), e->dir, ".enroll-", "XXXXXX",
		    msg);
	if (r == 0 && e->result != CSR_RESULT_NONE)
		r = join(res->result_pub, sizeof(res->result_pub), e->dir,
		    "result", ".pub", msg);
	if (r != 0)
		goto out;
	r = prepare_dir(e->dir, &made_dir, msg);
	if (r != 0)
		goto out;
	r = must_be_absent(res->key_path,
	    " (a renewal goes to a fresh --out DIR, or move the old key and "
	    "request away)",
	    msg);
	if (r == 0)
		r = must_be_absent(res->req_path, "", msg);
	if (r == 0 && e->result != CSR_RESULT_NONE)
		r = plan_result(e, p, rk, res, &make_key, &make_pub, &old_pub,
		    msg);
	if (r != 0)
		goto out;
	r = csr_make(e->cn, e->ou, pem, msg);
	if (r != 0)
		goto out;

	/* Everything is made in a private directory first. */
	if (mkdtemp(p->tmp) == NULL) {
		r = err_set(msg, SIGNET_ERR_IO, "%s: cannot create: %s", p->tmp,
		    strerror(errno));
		p->tmp[0] = '\0';
		goto out;
	}
	r = join(p->tkey, sizeof(p->tkey), p->tmp, e->base, ".key", msg);
	if (r == 0)
		r = join(p->treq, sizeof(p->treq), p->tmp, e->base, ".csr",
		    msg);
	if (r == 0 && make_pub)
		r = join(p->trkey, sizeof(p->trkey), p->tmp, "result", ".key",
		    msg);
	if (r == 0 && make_pub)
		r = join(p->trpub, sizeof(p->trpub), p->tmp, "result", ".pub",
		    msg);
	if (r == 0)
		r = fileio_write_new(p->tkey, pem->key, pem->key_len, 0600,
		    msg);
	if (r == 0)
		r = fileio_write_new(p->treq, pem->req, pem->req_len, 0644,
		    msg);
	if (r == 0 && make_pub)
		r = keys_write_pair(p->tmp, "result", rk, msg);
	if (r != 0)
		goto out;

	/* Then linked in, a rotation keeping the old pair first. */
	if (e->result == CSR_RESULT_ROTATE) {
		r = link_new(p->rkey, p->rkey_old, undo, &nundo, msg);
		if (r == 0 && old_pub)
			r = link_new(p->rpub, p->rpub_old, undo, &nundo, msg);
		if (r != 0)
			goto out;
	}
	r = link_new(p->tkey, res->key_path, undo, &nundo, msg);
	if (r == 0)
		r = link_new(p->treq, res->req_path, undo, &nundo, msg);
	if (r != 0)
		goto out;
	if (e->result == CSR_RESULT_ROTATE) {
		r = rename_over(p->trpub, p->rpub, old_pub ? p->rpub_old : NULL,
		    undo, &nundo, msg);
		if (r == 0)
			r = rename_over(p->trkey, p->rkey, p->rkey_old, undo,
			    &nundo, msg);
	} else {
		if (make_key)
			r = link_new(p->trkey, p->rkey, undo, &nundo, msg);
		if (r == 0 && make_pub)
			r = link_new(p->trpub, p->rpub, undo, &nundo, msg);
	}
	if (r != 0)
		goto out;
	r = fileio_sync_dir(e->dir, msg);
	if (r != 0)
		goto out;
	if (e->result != CSR_RESULT_NONE) {
		memcpy(res->result_id, rk->pub.id, sizeof(res->result_id));
		res->result_new = make_key;
	}
	r = 0;
out:
	while (r != 0 && nundo > 0) {
		nundo--;
		if (undo[nundo].b == NULL)
			(void)unlink(undo[nundo].a);
		else
			(void)rename(undo[nundo].a, undo[nundo].b);
	}
	if (p != NULL)
		remove_tmp(p);
	if (r != 0 && made_dir)
		(void)rmdir(e->dir);
	/* Paths in res must not suggest files that are not there. */
	if (r != 0)
		memset(res, 0, sizeof(*res));
	csr_pem_wipe(pem);
	sodium_free(pem);
	keys_secret_wipe(rk);
	sodium_free(rk);
	free(p);
	return r;
}
