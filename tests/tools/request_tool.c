/* SPDX-License-Identifier: ISC */
/*
 * request_tool: a test-only forger of what operators and a compromised
 * server send (docs/operators.md). It signs operator requests and
 * approvals with operator keys, builds the server's action payload around
 * a signed request with any member overridden (the tampering primitive;
 * fake_server's "signed FILE" then signs it with the action key), and
 * signs arbitrary roster payload bytes (expired, a key under two names)
 * that the admin's tools refuse to make.
 *
 *   request_tool sign --key OP.key [--action-id ID] --host H
 *       --container FULLID --action A --reason R --requested-by U
 *       [--issued MS|--issued-ago S] [--lifetime S] --roster-version N
 *           prints the signed request {"payload","sig","key_id"}
 *   request_tool approve --key OP.key --request FILE
 *           prints the approval {"key_id","sig"} over FILE's payload bytes
 *   request_tool action --request FILE [--approval FILE]... [--reason R]
 *       [--container C] [--host H] [--action A] [--expires-at MS]
 *       [--issued-at MS]
 *           prints the server's action payload JSON relaying the request
 *           and approvals, its members copied from the request unless
 *           overridden
 *   request_tool roster --key ROSTER.key --payload FILE
 *           prints the signed roster file over FILE's exact bytes (a
 *           trailing newline dropped), with no check of what they say
 *
 * Keys: an operator key file (signetctl keygen, unsealed), else a raw
 * secret key (keys.h). exit: 0 done, 1 refused (the reason on stderr),
 * 2 usage.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "clock.h"
#include "envelope.h"
#include "fileio.h"
#include "jsonx.h"
#include "keys.h"
#include "opkey.h"
#include "request.h"
#include "roster.h"
#include "text.h"

#define RT_FILE_MAX (64 * 1024)

static int
usage(void)
{
	fprintf(stderr,
	    "usage: request_tool sign --key OP.key [--action-id ID] --host H "
	    "--container FULLID --action A --reason R --requested-by U "
	    "[--issued MS|--issued-ago S] [--lifetime S] --roster-version N\n"
	    "       request_tool approve --key OP.key --request FILE\n"
	    "       request_tool action --request FILE [--approval FILE]... "
	    "[--reason R] [--container C] [--host H] [--action A] "
	    "[--expires-at MS] [--issued-at MS]\n"
	    "       request_tool roster --key ROSTER.key --payload FILE\n");
	return 2;
}

static int
fail(const char *what, const char *why)
{
	fprintf(stderr, "request_tool: %s: %s\n", what, why);
	return 1;
}

/* An unsealed operator key file, else a raw secret key. */
static int
load_key(const char *path, struct keys_secret *key)
{
	struct err_msg m;

	err_clear(&m);
	if (opkey_load(path, NULL, 0, key, &m) == 0)
		return 0;
	if (keys_load_secret(path, key, &m) == 0)
		return 0;
	return fail(path, m.text);
}

/* Reads a signed request file {"payload","sig","key_id"} into s. */
static int
load_request(const char *path, struct request_signed *s)
{
	static const char *const members[] = { "payload", "sig", "key_id",
		NULL };
	struct err_msg m;
	cJSON *root = NULL;
	const char *p = NULL, *sig = NULL, *kid = NULL;
	char *buf = NULL;
	size_t len = 0;
	int rc = 1;

	memset(s, 0, sizeof(*s));
	err_clear(&m);
	if (fileio_read_alloc(path, RT_FILE_MAX, &buf, &len, &m) != 0 ||
	    jsonx_parse_object(path, buf, len, 4, &root, &m) != 0 ||
	    jsonx_only_members(root, members, "request", &m) != 0 ||
	    jsonx_get_string(root, "payload", false, "request", &p, &m) != 0 ||
	    jsonx_get_string(root, "sig", false, "request", &sig, &m) != 0 ||
	    jsonx_get_string(root, "key_id", false, "request", &kid, &m) != 0) {
		(void)fail(path, m.text);
		goto out;
	}
	if (strlen(kid) != KEYS_ID_LEN) {
		(void)fail(path, "key_id is not 16 characters");
		goto out;
	}
	s->payload_b64 = strdup(p);
	s->sig_b64 = strdup(sig);
	if (s->payload_b64 == NULL || s->sig_b64 == NULL) {
		(void)fail(path, "out of memory");
		goto out;
	}
	memcpy(s->key_id, kid, KEYS_ID_LEN + 1);
	rc = 0;
out:
	if (rc != 0)
		request_signed_free(s);
	cJSON_Delete(root);
	free(buf);
	return rc;
}

/* The decoded payload bytes of a signed request. */
static int
request_bytes(const struct request_signed *s, uint8_t **raw, size_t *len)
{
	if (text_b64_decode(s->payload_b64, strlen(s->payload_b64),
	        REQUEST_PAYLOAD_MAX, raw, len) != 0)
		return fail("request", "payload is not base64");
	return 0;
}

/* Prints {name1: v1, name2: v2, name3: v3} compactly (v3 may be NULL). */
static int
print_object(const char *n1, const char *v1, const char *n2, const char *v2,
    const char *n3, const char *v3)
{
	cJSON *o = cJSON_CreateObject();
	char *text = NULL;
	int rc = 1;

	if (o == NULL || cJSON_AddStringToObject(o, n1, v1) == NULL ||
	    cJSON_AddStringToObject(o, n2, v2) == NULL ||
	    (n3 != NULL && cJSON_AddStringToObject(o, n3, v3) == NULL))
		goto out;
	text = jsonx_print(o);
	if (text == NULL)
		goto out;
	printf("%s\n", text);
	rc = 0;
out:
	free(text);
	cJSON_Delete(o);
	return rc;
}

static int
cmd_sign(int argc, char **argv)
{
	struct request_payload p;
	struct request_signed s;
	struct keys_secret key;
	const char *keyfile = NULL;
	uint8_t rnd[16];
	int64_t now = clock_wall_ms(), life = 120, v;
	bool have_version = false;
	int i, rc = 2;

	memset(&p, 0, sizeof(p));
	memset(&s, 0, sizeof(s));
	memset(&key, 0, sizeof(key));
	randombytes_buf(rnd, sizeof(rnd));
	(void)text_hex(rnd, sizeof(rnd), p.action_id);
	p.issued_at = now;
	for (i = 2; i + 1 < argc; i += 2) {
		const char *o = argv[i], *val = argv[i + 1];
		char *dst = NULL;
		size_t cap = 0;

		if (strcmp(o, "--key") == 0) {
			keyfile = val;
		} else if (strcmp(o, "--action-id") == 0) {
			dst = p.action_id;
			cap = sizeof(p.action_id);
		} else if (strcmp(o, "--host") == 0) {
			dst = p.host_id;
			cap = sizeof(p.host_id);
		} else if (strcmp(o, "--container") == 0) {
			dst = p.container_id;
			cap = sizeof(p.container_id);
		} else if (strcmp(o, "--action") == 0) {
			p.action = envelope_action_parse(val);
		} else if (strcmp(o, "--reason") == 0) {
			dst = p.reason;
			cap = sizeof(p.reason);
		} else if (strcmp(o, "--requested-by") == 0) {
			dst = p.requested_by;
			cap = sizeof(p.requested_by);
		} else if (strcmp(o, "--issued") == 0) {
			if (text_to_int64(val, 0, ROSTER_VERSION_MAX,
			        &p.issued_at) != 0)
				return usage();
		} else if (strcmp(o, "--issued-ago") == 0) {
			if (text_to_int64(val, 0, 86400 * 30, &v) != 0)
				return usage();
			p.issued_at = now - v * 1000;
		} else if (strcmp(o, "--lifetime") == 0) {
			if (text_to_int64(val, 1, 86400 * 30, &life) != 0)
				return usage();
		} else if (strcmp(o, "--roster-version") == 0) {
			if (text_to_int64(val, 0, ROSTER_VERSION_MAX,
			        &p.roster_version) != 0)
				return usage();
			have_version = true;
		} else {
			return usage();
		}
		if (dst != NULL && snprintf(dst, cap, "%s", val) >= (int)cap)
			return fail(o, "too long");
	}
	if (i != argc || keyfile == NULL || !have_version ||
	    p.action == ENVELOPE_ACTION_NONE)
		return usage();
	p.expires_at = p.issued_at + life * 1000;
	rc = 1;
	if (load_key(keyfile, &key) != 0)
		goto out;
	if (request_sign(&p, &key, &s) != 0) {
		(void)fail("sign", "request_sign refused the request");
		goto out;
	}
	rc = print_object("payload", s.payload_b64, "sig", s.sig_b64, "key_id",
	    s.key_id);
out:
	request_signed_free(&s);
	keys_secret_wipe(&key);
	return rc;
}

static int
cmd_approve(int argc, char **argv)
{
	struct request_signed s;
	struct request_approval a;
	struct keys_secret key;
	const char *keyfile = NULL, *reqfile = NULL;
	uint8_t *raw = NULL;
	size_t len = 0;
	int i, rc = 1;

	memset(&s, 0, sizeof(s));
	memset(&key, 0, sizeof(key));
	for (i = 2; i + 1 < argc; i += 2) {
		if (strcmp(argv[i], "--key") == 0)
			keyfile = argv[i + 1];
		else if (strcmp(argv[i], "--request") == 0)
			reqfile = argv[i + 1];
		else
			return usage();
	}
	if (i != argc || keyfile == NULL || reqfile == NULL)
		return usage();
	if (load_key(keyfile, &key) != 0 || load_request(reqfile, &s) != 0 ||
	    request_bytes(&s, &raw, &len) != 0)
		goto out;
	if (request_approve(raw, len, &key, &a) != 0) {
		(void)fail("approve", "request_approve refused");
		goto out;
	}
	rc = print_object("key_id", a.key_id, "sig", a.sig_b64, NULL, NULL);
out:
	free(raw);
	request_signed_free(&s);
	keys_secret_wipe(&key);
	return rc;
}

/* Reads an approval file {"key_id","sig"} into a. */
static int
load_approval(const char *path, struct request_approval *a)
{
	static const char *const members[] = { "key_id", "sig", NULL };
	struct err_msg m;
	cJSON *root = NULL;
	const char *kid = NULL, *sig = NULL;
	char *buf = NULL;
	size_t len = 0;
	int rc = 1;

	memset(a, 0, sizeof(*a));
	err_clear(&m);
	if (fileio_read_alloc(path, RT_FILE_MAX, &buf, &len, &m) != 0 ||
	    jsonx_parse_object(path, buf, len, 4, &root, &m) != 0 ||
	    jsonx_only_members(root, members, "approval", &m) != 0 ||
	    jsonx_get_string(root, "key_id", false, "approval", &kid, &m) !=
	        0 ||
	    jsonx_get_string(root, "sig", false, "approval", &sig, &m) != 0) {
		(void)fail(path, m.text);
		goto out;
	}
	if (snprintf(a->key_id, sizeof(a->key_id), "%s", kid) >=
	        (int)sizeof(a->key_id) ||
	    snprintf(a->sig_b64, sizeof(a->sig_b64), "%s", sig) >=
	        (int)sizeof(a->sig_b64)) {
		(void)fail(path, "key_id or sig too long");
		goto out;
	}
	rc = 0;
out:
	cJSON_Delete(root);
	free(buf);
	return rc;
}

static int
cmd_action(int argc, char **argv)
{
	struct envelope_action_payload *a = NULL;
	struct request_payload p;
	struct request_signed s;
	struct err_msg m;
	uint8_t *raw = NULL;
	size_t len = 0;
	char *json = NULL;
	int i, rc = 1;

	memset(&s, 0, sizeof(s));
	err_clear(&m);
	a = calloc(1, sizeof(*a));
	if (a == NULL)
		return fail("action", "out of memory");
	/* The request first: the overrides apply over its members. */
	for (i = 2; i + 1 < argc; i += 2)
		if (strcmp(argv[i], "--request") == 0)
			break;
	if (i + 1 >= argc) {
		rc = usage();
		goto out;
	}
	if (load_request(argv[i + 1], &s) != 0 ||
	    request_bytes(&s, &raw, &len) != 0)
		goto out;
	if (request_decode(raw, len, &p, &m) != 0) {
		(void)fail(argv[i + 1], m.text);
		goto out;
	}
	memcpy(a->action_id, p.action_id, sizeof(a->action_id));
	memcpy(a->host_id, p.host_id, sizeof(a->host_id));
	memcpy(a->container_id, p.container_id, sizeof(a->container_id));
	a->action = p.action;
	memcpy(a->reason, p.reason, sizeof(a->reason));
	memcpy(a->requested_by, p.requested_by, sizeof(a->requested_by));
	a->issued_at = p.issued_at;
	a->expires_at = p.expires_at;
	a->has_request = true;
	if (snprintf(a->request.payload_b64, sizeof(a->request.payload_b64),
	        "%s", s.payload_b64) >= (int)sizeof(a->request.payload_b64) ||
	    snprintf(a->request.sig_b64, sizeof(a->request.sig_b64), "%s",
	        s.sig_b64) >= (int)sizeof(a->request.sig_b64)) {
		(void)fail("action", "the request's texts are too long");
		goto out;
	}
	memcpy(a->request.key_id, s.key_id, sizeof(a->request.key_id));
	for (i = 2; i + 1 < argc; i += 2) {
		const char *o = argv[i], *val = argv[i + 1];

		if (strcmp(o, "--request") == 0)
			continue;
		if (strcmp(o, "--approval") == 0) {
			if (a->napprovals == REQUEST_APPROVALS_MAX) {
				(void)fail(o, "too many");
				goto out;
			}
			if (load_approval(val, &a->approvals[a->napprovals]) !=
			    0)
				goto out;
			a->napprovals++;
		} else if (strcmp(o, "--reason") == 0) {
			if (snprintf(a->reason, sizeof(a->reason), "%s", val) >=
			    (int)sizeof(a->reason)) {
				(void)fail(o, "too long");
				goto out;
			}
		} else if (strcmp(o, "--container") == 0) {
			if (snprintf(a->container_id, sizeof(a->container_id),
			        "%s", val) >= (int)sizeof(a->container_id)) {
				(void)fail(o, "too long");
				goto out;
			}
		} else if (strcmp(o, "--host") == 0) {
			if (snprintf(a->host_id, sizeof(a->host_id), "%s",
			        val) >= (int)sizeof(a->host_id)) {
				(void)fail(o, "too long");
				goto out;
			}
		} else if (strcmp(o, "--action") == 0) {
			a->action = envelope_action_parse(val);
			if (a->action == ENVELOPE_ACTION_NONE) {
				(void)fail(o, "no such action");
				goto out;
			}
		} else if (strcmp(o, "--expires-at") == 0) {
			if (text_to_int64(val, 0, ROSTER_VERSION_MAX,
			        &a->expires_at) != 0) {
				rc = usage();
				goto out;
			}
		} else if (strcmp(o, "--issued-at") == 0) {
			if (text_to_int64(val, 0, ROSTER_VERSION_MAX,
			        &a->issued_at) != 0) {
				rc = usage();
				goto out;
			}
		} else {
			rc = usage();
			goto out;
		}
	}
	if (i != argc) {
		rc = usage();
		goto out;
	}
	if (envelope_action_encode(a, &json) != 0) {
		(void)fail("action", "envelope_action_encode refused");
		goto out;
	}
	printf("%s\n", json);
	rc = 0;
out:
	free(json);
	free(raw);
	request_signed_free(&s);
	free(a);
	return rc;
}

static int
cmd_roster(int argc, char **argv)
{
	struct keys_secret key;
	struct err_msg m;
	const char *keyfile = NULL, *payload = NULL;
	char *buf = NULL, *file = NULL;
	size_t len = 0;
	int i, rc = 1;

	memset(&key, 0, sizeof(key));
	err_clear(&m);
	for (i = 2; i + 1 < argc; i += 2) {
		if (strcmp(argv[i], "--key") == 0)
			keyfile = argv[i + 1];
		else if (strcmp(argv[i], "--payload") == 0)
			payload = argv[i + 1];
		else
			return usage();
	}
	if (i != argc || keyfile == NULL || payload == NULL)
		return usage();
	if (load_key(keyfile, &key) != 0)
		goto out;
	if (fileio_read_alloc(payload, ROSTER_PAYLOAD_MAX, &buf, &len, &m) !=
	    0) {
		(void)fail(payload, m.text);
		goto out;
	}
	while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
		len--;
	if (roster_sign((const uint8_t *)buf, len, &key, NULL, 0, &file, &m) !=
	    0) {
		(void)fail("roster", m.text);
		goto out;
	}
	printf("%s\n", file);
	rc = 0;
out:
	free(file);
	free(buf);
	keys_secret_wipe(&key);
	return rc;
}

int
main(int argc, char **argv)
{
	if (sodium_init() < 0)
		return 1;
	if (argc < 2)
		return usage();
	if (strcmp(argv[1], "sign") == 0)
		return cmd_sign(argc, argv);
	if (strcmp(argv[1], "approve") == 0)
		return cmd_approve(argc, argv);
	if (strcmp(argv[1], "action") == 0)
		return cmd_action(argc, argv);
	if (strcmp(argv[1], "roster") == 0)
		return cmd_roster(argc, argv);
	return usage();
}
