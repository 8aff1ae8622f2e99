/* SPDX-License-Identifier: ISC */
/*
 * Test-only server for the operator API: a real server_ctx (registry,
 * audit writer on its own log, metrics, CA + CRL store) and the real API
 * with real TLS, but the registry filled from a file or generated rows
 * instead of by agents.
 *
 *   api_harness --ca CA --crl CRL --cert CERT --key KEY
 *       --audit-key KEY --audit-log LOG [--listen HOST:PORT]
 *       [--inventory FILE] [--generate HOST:N] [--audit-records N]
 *
 * --inventory FILE: {"hosts":[{"host_id","connected","agent_version",
 *   "docker_version","cert_not_after","containers":[inventory rows]}]}
 * --generate HOST:N: a connected host with N generated containers
 *   (names gen-0000.., ids SHA-256 of "HOST/i", every third exited).
 * --audit-records N: append N "test.record" records after server.started.
 *
 * Prints "ready PORT" once serving; SIGHUP reloads CA + CRL ("reloaded"
 * or "reload failed: why"); SIGTERM/SIGINT stop it cleanly.
 */
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "api.h"
#include "audit.h"
#include "fileio.h"
#include "inventory.h"
#include "jsonx.h"
#include "keys.h"
#include "log.h"
#include "metrics.h"
#include "registry.h"
#include "server_ctx.h"
#include "text.h"

#define GENERATE_MAX 8

static int64_t
now_ms(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
usage(void)
{
	fprintf(stderr,
	    "usage: api_harness --ca CA --crl CRL --cert CERT "
	    "--key KEY --audit-key KEY --audit-log LOG [--listen HOST:PORT] "
	    "[--inventory FILE] [--generate HOST:N]... "
	    "[--audit-records N]\n");
}

/* Adds host with inv (taken) to the registry, connected or not. */
static int
add_host(struct registry *reg, const char *host, bool connected,
    const char *agent_version, const char *docker_version,
    int64_t cert_not_after, struct inventory *inv, struct err_msg *msg)
{
	uint64_t session, replaced;
	int64_t now = now_ms();

	if (!text_valid_name(host)) {
		inventory_free(inv);
		return err_set(msg, SIGNET_ERR_FORMAT, "bad host id");
	}
	session = registry_connect(reg, host, agent_version, docker_version,
	    cert_not_after, now, &replaced);
	if (session == 0) {
		inventory_free(inv);
		return err_set(msg, SIGNET_ERR_ALLOC, "registry_connect");
	}
	if (registry_set_inventory(reg, host, session, inv, now, NULL) != 0)
		return err_set(msg, SIGNET_ERR_INTERNAL, "set_inventory");
	if (!connected)
		registry_disconnect(reg, host, session, now);
	return 0;
}

static int
load_inventory_file(struct registry *reg, const char *path, struct err_msg *msg)
{
	char *buf = NULL;
	size_t len;
	cJSON *root = NULL;
	const cJSON *hosts, *h;
	int r;

	r = fileio_read_alloc(path, 64 * 1024 * 1024, &buf, &len, msg);
	if (r != 0)
		goto out;
	r = jsonx_parse_object(path, buf, len, 16, &root, msg);
	if (r != 0)
		goto out;
	hosts = cJSON_GetObjectItemCaseSensitive(root, "hosts");
	if (!cJSON_IsArray(hosts)) {
		r = err_set(msg, SIGNET_ERR_FORMAT, "no hosts array");
		goto out;
	}
	cJSON_ArrayForEach(h, hosts)
	{
		const char *id = NULL, *av = NULL, *dv = NULL;
		const cJSON *conn, *rows;
		struct inventory *inv = NULL;
		int64_t not_after = 0;

		if (jsonx_get_string(h, "host_id", false, "host", &id, msg) !=
		        0 ||
		    jsonx_get_string(h, "agent_version", true, "host", &av,
		        msg) != 0 ||
		    jsonx_get_string(h, "docker_version", true, "host", &dv,
		        msg) != 0) {
			r = SIGNET_ERR_FORMAT;
			goto out;
		}
		if (cJSON_GetObjectItemCaseSensitive(h, "cert_not_after") !=
		        NULL &&
		    jsonx_get_int64(h, "cert_not_after", 0, JSONX_INT_MAX,
		        "host", &not_after, msg) != 0) {
			r = SIGNET_ERR_FORMAT;
			goto out;
		}
		conn = cJSON_GetObjectItemCaseSensitive(h, "connected");
		rows = cJSON_GetObjectItemCaseSensitive(h, "containers");
		r = inventory_from_frame(rows, &inv, msg);
		if (r != 0)
			goto out;
		r = add_host(reg, id, !cJSON_IsFalse(conn), av ? av : "test",
		    dv ? dv : "20.10.24", not_after, inv, msg);
		if (r != 0)
			goto out;
	}
	r = 0;
out:
	cJSON_Delete(root);
	free(buf);
	return r;
}

/* One generated row: id = SHA-256("HOST/i") in hex. */
static cJSON *
generated_row(const char *host, long i)
{
	unsigned char digest[32];
	char in[128], id[65], name[32], n[24];
	cJSON *row = cJSON_CreateObject();
	cJSON *names = cJSON_AddArrayToObject(row, "names");
	cJSON *labels = cJSON_AddObjectToObject(row, "labels");
	cJSON *name_s;

	(void)snprintf(in, sizeof(in), "%s/%ld", host, i);
	crypto_hash_sha256(digest, (const unsigned char *)in, strlen(in));
	(void)text_hex(digest, sizeof(digest), id);
	(void)snprintf(name, sizeof(name), "/gen-%04ld", i);
	(void)snprintf(n, sizeof(n), "%ld", i);
	name_s = cJSON_CreateString(name);
	if (row == NULL || names == NULL || labels == NULL || name_s == NULL ||
	    !cJSON_AddItemToArray(names, name_s)) {
		cJSON_Delete(name_s);
		cJSON_Delete(row);
		return NULL;
	}
	if (cJSON_AddStringToObject(row, "id", id) == NULL ||
	    cJSON_AddStringToObject(row, "image", "signet-test/busybox:1") ==
	        NULL ||
	    cJSON_AddStringToObject(row, "state",
	        i % 3 == 2 ? "exited" : "running") == NULL ||
	    cJSON_AddStringToObject(row, "status",
	        i % 3 == 2 ? "Exited (0) 1 hour ago" : "Up 2 hours") == NULL ||
	    cJSON_AddStringToObject(labels, "n", n) == NULL ||
	    cJSON_AddNumberToObject(row, "created", 1700000000 + i) == NULL) {
		cJSON_Delete(row);
		return NULL;
	}
	return row;
}

static int
generate(struct registry *reg, const char *spec, struct err_msg *msg)
{
	const char *colon = strrchr(spec, ':');
	char host[64];
	int64_t count;
	cJSON *rows = NULL;
	struct inventory *inv = NULL;
	long i;
	int r;

	if (colon == NULL || (size_t)(colon - spec) >= sizeof(host) ||
	    text_to_int64(colon + 1, 0, INVENTORY_MAX_CONTAINERS, &count) != 0)
		return err_set(msg, SIGNET_ERR_FORMAT, "--generate HOST:N");
	memcpy(host, spec, (size_t)(colon - spec));
	host[colon - spec] = '\0';
	rows = cJSON_CreateArray();
	for (i = 0; rows != NULL && i < count; i++) {
		cJSON *row = generated_row(host, i);
		if (row == NULL || !cJSON_AddItemToArray(rows, row)) {
			cJSON_Delete(row);
			cJSON_Delete(rows);
			return err_set(msg, SIGNET_ERR_ALLOC, "out of memory");
		}
	}
	if (rows == NULL)
		return err_set(msg, SIGNET_ERR_ALLOC, "out of memory");
	r = inventory_from_frame(rows, &inv, msg);
	cJSON_Delete(rows);
	if (r != 0)
		return r;
	return add_host(reg, host, true, "gen", "20.10.24",
	    (int64_t)time(NULL) + 86400, inv, msg);
}

static int
fill_audit(struct audit_writer *w, int64_t n, struct err_msg *msg)
{
	int64_t i;
	int r;

	r = audit_append(w, "server.started", SERVER_ACTOR, NULL, NULL, msg);
	for (i = 0; r == 0 && i < n; i++) {
		cJSON *data = cJSON_CreateObject();

		if (data == NULL ||
		    cJSON_AddNumberToObject(data, "i", (double)i) == NULL) {
			cJSON_Delete(data);
			return err_set(msg, SIGNET_ERR_ALLOC, "out of memory");
		}
		r = audit_append(w, "test.record", "harness", data, NULL, msg);
		cJSON_Delete(data);
	}
	return r;
}

static int
copy_path(char *dst, size_t size, const char *src)
{
	int n = snprintf(dst, size, "%s", src);

	return n < 0 || (size_t)n >= size ? -1 : 0;
}

int
main(int argc, char **argv)
{
	const char *ca = NULL, *crl = NULL, *cert = NULL, *key = NULL;
	const char *audit_key = NULL, *audit_log = NULL, *inventory = NULL;
	const char *listen = "127.0.0.1:0", *gens[GENERATE_MAX];
	struct server_ctx ctx;
	struct keys_secret akey;
	struct api *api = NULL;
	struct err_msg msg;
	sigset_t set;
	int64_t records = 0;
	size_t ngen = 0, g;
	bool ctx_ready = false;
	int i, sig, rc = 2;

	memset(&ctx, 0, sizeof(ctx));
	memset(&akey, 0, sizeof(akey));
	err_clear(&msg);
	log_init("api_harness", LOG_LVL_INFO);
	if (sodium_init() < 0)
		return 2;
	for (i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (v == NULL) {
			usage();
			return 2;
		}
		i++;
		if (strcmp(a, "--ca") == 0)
			ca = v;
		else if (strcmp(a, "--crl") == 0)
			crl = v;
		else if (strcmp(a, "--cert") == 0)
			cert = v;
		else if (strcmp(a, "--key") == 0)
			key = v;
		else if (strcmp(a, "--audit-key") == 0)
			audit_key = v;
		else if (strcmp(a, "--audit-log") == 0)
			audit_log = v;
		else if (strcmp(a, "--listen") == 0)
			listen = v;
		else if (strcmp(a, "--inventory") == 0)
			inventory = v;
		else if (strcmp(a, "--generate") == 0 && ngen < GENERATE_MAX)
			gens[ngen++] = v;
		else if (strcmp(a, "--audit-records") == 0) {
			if (text_to_int64(v, 0, 1000000, &records) != 0) {
				usage();
				return 2;
			}
		} else {
			usage();
			return 2;
		}
	}
	if (ca == NULL || crl == NULL || cert == NULL || key == NULL ||
	    audit_key == NULL || audit_log == NULL) {
		usage();
		return 2;
	}
	/* Signals are taken with sigwait; MHD's threads inherit the mask. */
	(void)sigemptyset(&set);
	(void)sigaddset(&set, SIGTERM);
	(void)sigaddset(&set, SIGINT);
	(void)sigaddset(&set, SIGHUP);
	if (pthread_sigmask(SIG_BLOCK, &set, NULL) != 0)
		return 2;

	if (server_ctx_init(&ctx) != 0) {
		fprintf(stderr, "api_harness: server_ctx_init failed\n");
		return 2;
	}
	ctx_ready = true;
	if (copy_path(ctx.ca_path, sizeof(ctx.ca_path), ca) != 0 ||
	    copy_path(ctx.crl_path, sizeof(ctx.crl_path), crl) != 0 ||
	    copy_path(ctx.audit_path, sizeof(ctx.audit_path), audit_log) != 0) {
		fprintf(stderr, "api_harness: path too long\n");
		goto out;
	}
	ctx.registry = registry_new();
	ctx.metrics = metrics_new();
	if (ctx.registry == NULL || ctx.metrics == NULL) {
		fprintf(stderr, "api_harness: out of memory\n");
		goto out;
	}
	if (identity_store_load(ca, crl, &ctx.identity, &msg) != 0 ||
	    keys_load_secret(audit_key, &akey, &msg) != 0 ||
	    audit_open(audit_log, &akey, &ctx.audit, &msg) != 0 ||
	    fill_audit(ctx.audit, records, &msg) != 0 ||
	    (inventory != NULL &&
	        load_inventory_file(ctx.registry, inventory, &msg) != 0)) {
		fprintf(stderr, "api_harness: %s\n", msg.text);
		goto out;
	}
	for (g = 0; g < ngen; g++) {
		if (generate(ctx.registry, gens[g], &msg) != 0) {
			fprintf(stderr, "api_harness: %s\n", msg.text);
			goto out;
		}
	}
	if (api_start(&ctx, listen, cert, key, ca, &api, &msg) != 0) {
		fprintf(stderr, "api_harness: %s\n", msg.text);
		goto out;
	}
	printf("ready %u\n", api_port(api));
	(void)fflush(stdout);
	for (;;) {
		if (sigwait(&set, &sig) != 0)
			break;
		if (sig != SIGHUP)
			break;
		if (server_ctx_reload_identity(&ctx, &msg) != 0)
			printf("reload failed: %s\n", msg.text);
		else
			printf("reloaded\n");
		(void)fflush(stdout);
	}
	rc = 0;
out:
	api_stop(api);
	audit_close(ctx.audit);
	registry_free(ctx.registry);
	metrics_free(ctx.metrics);
	if (ctx_ready)
		server_ctx_destroy(&ctx);
	keys_secret_wipe(&akey);
	return rc;
}
