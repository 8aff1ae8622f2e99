/* SPDX-License-Identifier: ISC */
/* The server's registry: sessions, replacement, inventories, lookups. */
#include <stdlib.h>
#include <string.h>

#include "jsonx.h"
#include "registry.h"
#include "testlib.h"

#define ID1 "abcdef0123456789111111111111111111111111111111111111111111111111"
#define ID2 "abcdef0123456789222222222222222222222222222222222222222222222222"
#define SHA_A "ca978112ca1bbdcafac231b39a23dc4da786eff8147c4e72b9807785afee48bb"
#define SHA_B "3e23e8160039594a33894f6564e1b1348bbd7a0088d42c4acb73eeaed59c009d"
#define ID3 "0000000000001111333333333333333333333333333333333333333333333333"

static struct inventory *
inv_of(const char *json)
{
	struct inventory *inv = NULL;
	struct err_msg msg;
	cJSON *arr = cJSON_Parse(json);

	if (arr == NULL || inventory_from_frame(arr, &inv, &msg) != 0)
		inv = NULL;
	cJSON_Delete(arr);
	return inv;
}

#define ROW(id, name, state)                                                   \
	"{\"id\":\"" id "\",\"names\":[\"/" name "\"],"                        \
	"\"image\":\"busybox\",\"state\":\"" state "\",\"status\":\"\","       \
	"\"labels\":{},\"created\":1}"

/* The host a lookup of id resolves to ("" when none), and its result. */
static enum registry_lookup
owner(struct registry *reg, const char *id, char host[64])
{
	struct registry_container rc;
	enum registry_lookup r = registry_find_container(reg, id, &rc);

	memcpy(host, rc.host_id, 64);
	cJSON_Delete(rc.row);
	return r;
}

/*
 * One host cannot take or block another's full ids (issue 12, item 3):
 * a claim to an id a live host holds is dropped and returned once per
 * session; stale inventories never shadow live ones; a full id is never
 * ambiguous.
 */
static void
test_conflicts(void)
{
	struct registry *reg = registry_new();
	struct registry_inventory_report rep;
	struct registry_stats st;
	uint64_t a, b, b2, c, a2, replaced = 0;
	char host[64];

	CHECK(reg != NULL);
	/* B reports ID3, then leaves: its inventory is stale. */
	b = registry_connect(reg, "web-02", "1", "1", 2000000000, 1000,
	    &replaced);
	CHECK(registry_set_inventory(reg, "web-02", b,
	          inv_of("[" ROW(ID3, "s", "running") "]"), 1100, &rep) == 0 &&
	    rep.kept == 1 && rep.dropped == 0 && rep.nfresh == 0);
	registry_disconnect(reg, "web-02", b, 1200);
	/* A claims ID3 too: taken (B is offline), and A wins the lookup. */
	a = registry_connect(reg, "web-01", "1", "1", 2000000000, 1300,
	    &replaced);
	CHECK(registry_set_inventory(reg, "web-01", a,
	          inv_of("[" ROW(ID1, "a1", "running") "," ROW(ID3, "a3",
	              "running") "]"),
	          1400, &rep) == 0 &&
	    rep.kept == 2 && rep.dropped == 0 && rep.nfresh == 0);
	CHECK(owner(reg, ID3, host) == REGISTRY_FOUND &&
	    strcmp(host, "web-01") == 0);
	CHECK(owner(reg, "000000000000", host) == REGISTRY_FOUND &&
	    strcmp(host, "web-01") == 0);

	/* B comes back claiming A's ID1 and its own ID2: ID1 is dropped and
	 * returned once, ID2 kept. */
	b2 = registry_connect(reg, "web-02", "1", "1", 2000000000, 1500,
	    &replaced);
	CHECK(registry_set_inventory(reg, "web-02", b2,
	          inv_of("[" ROW(ID1, "x", "running") "," ROW(ID2, "b2",
	              "running") "]"),
	          1600, &rep) == 0);
	CHECKF(rep.kept == 1 && rep.dropped == 1 && rep.nfresh == 1 &&
	        strcmp(rep.fresh[0].container_id, ID1) == 0 &&
	        strcmp(rep.fresh[0].held_by, "web-01") == 0,
	    "kept=%zu dropped=%zu nfresh=%zu", rep.kept, rep.dropped,
	    rep.nfresh);
	CHECK(owner(reg, ID1, host) == REGISTRY_FOUND &&
	    strcmp(host, "web-01") == 0);
	CHECK(owner(reg, ID2, host) == REGISTRY_FOUND &&
	    strcmp(host, "web-02") == 0);
	/* The same claim again: dropped, not returned again. */
	CHECK(registry_set_inventory(reg, "web-02", b2,
	          inv_of("[" ROW(ID1, "x", "running") "," ROW(ID2, "b2",
	              "running") "]"),
	          1700, &rep) == 0 &&
	    rep.dropped == 1 && rep.nfresh == 0);
	/* A prefix of two live hosts' different containers is ambiguous. */
	CHECK(owner(reg, "abcdef012345", host) == REGISTRY_AMBIGUOUS);
	/* B leaves: nothing changes for A's id. */
	registry_disconnect(reg, "web-02", b2, 1800);
	CHECK(owner(reg, ID1, host) == REGISTRY_FOUND &&
	    strcmp(host, "web-01") == 0);
	/* ... and B's stale ID2 no longer makes the prefix ambiguous. */
	CHECK(owner(reg, "abcdef012345", host) == REGISTRY_FOUND &&
	    strcmp(host, "web-01") == 0);

	/* A's session is replaced: its rows are stale until it reports, and
	 * another live host may take them meanwhile. */
	a2 = registry_connect(reg, "web-01", "1", "1", 2000000000, 1900,
	    &replaced);
	CHECK(replaced == a);
	c = registry_connect(reg, "web-03", "1", "1", 2000000000, 2000,
	    &replaced);
	CHECK(registry_set_inventory(reg, "web-03", c,
	          inv_of("[" ROW(ID1, "c", "running") "]"), 2100, &rep) == 0 &&
	    rep.kept == 1 && rep.nfresh == 0);
	CHECK(owner(reg, ID1, host) == REGISTRY_FOUND &&
	    strcmp(host, "web-03") == 0);
	/* Now A's report of ID1 is the conflict, named once. */
	CHECK(registry_set_inventory(reg, "web-01", a2,
	          inv_of("[" ROW(ID1, "a1", "running") "]"), 2200, &rep) == 0 &&
	    rep.kept == 0 && rep.nfresh == 1 &&
	    strcmp(rep.fresh[0].held_by, "web-03") == 0);
	/* A stale full id on two offline hosts: the latest, not ambiguous. */
	registry_disconnect(reg, "web-03", c, 2300);
	registry_disconnect(reg, "web-01", a2, 2400);
	CHECK(owner(reg, ID2, host) == REGISTRY_FOUND &&
	    strcmp(host, "web-02") == 0);
	CHECK(owner(reg, ID1, host) == REGISTRY_FOUND &&
	    strcmp(host, "web-03") == 0);
	registry_get_stats(reg, &st);
	CHECK(st.agents_connected == 0 && st.hosts_known == 3);
	registry_free(reg);
}

/* Many ids in and out of the index: every lookup still finds its own. */
static void
test_many_ids(void)
{
	struct registry *reg = registry_new();
	struct registry_inventory_report rep;
	struct inventory *inv;
	char host[64], id[65], *rows;
	uint64_t s, s1, replaced;
	size_t i, n = 300, off = 0;
	bool all = true;

	rows = calloc(n, 200);
	CHECK(reg != NULL && rows != NULL);
	if (reg == NULL || rows == NULL)
		goto out;
	off += (size_t)snprintf(rows + off, n * 200 - off, "[");
	for (i = 0; i < n; i++) {
		(void)snprintf(id, sizeof(id), "%064zx", i * 7919);
		off += (size_t)snprintf(rows + off, n * 200 - off,
		    "%s{\"id\":\"%s\",\"names\":[],\"image\":\"b\","
		    "\"state\":\"running\",\"status\":\"\","
		    "\"labels\":{},\"created\":1}",
		    i > 0 ? "," : "", id);
	}
	(void)snprintf(rows + off, n * 200 - off, "]");
	s1 = registry_connect(reg, "big-01", "1", "1", 2000000000, 1000,
	    &replaced);
	inv = inv_of(rows);
	CHECK(inv != NULL && inv->count == n);
	CHECK(registry_set_inventory(reg, "big-01", s1, inv, 1100, &rep) == 0 &&
	    rep.kept == n);
	/* Reported again, then half of it: the rest leaves the index. */
	CHECK(registry_set_inventory(reg, "big-01", s1, inv_of(rows), 1200,
	          &rep) == 0 &&
	    rep.kept == n && rep.dropped == 0);
	s = registry_connect(reg, "big-02", "1", "1", 2000000000, 1300,
	    &replaced);
	CHECK(registry_set_inventory(reg, "big-02", s, inv_of(rows), 1400,
	          &rep) == 0 &&
	    rep.kept == 0 && rep.dropped == n &&
	    rep.nfresh == REGISTRY_REPORT_MAX);
	for (i = 0; i < n; i++) {
		(void)snprintf(id, sizeof(id), "%064zx", i * 7919);
		if (owner(reg, id, host) != REGISTRY_FOUND ||
		    strcmp(host, "big-01") != 0)
			all = false;
	}
	CHECK(all);
	/* big-01 leaves: every id leaves the index; big-02's claims stand. */
	registry_disconnect(reg, "big-01", s1, 1500);
	CHECK(registry_set_inventory(reg, "big-02", s, inv_of(rows), 1600,
	          &rep) == 0 &&
	    rep.kept == n && rep.dropped == 0 && rep.nfresh == 0);
	all = true;
	for (i = 0; i < n; i++) {
		(void)snprintf(id, sizeof(id), "%064zx", i * 7919);
		if (owner(reg, id, host) != REGISTRY_FOUND ||
		    strcmp(host, "big-02") != 0)
			all = false;
	}
	CHECK(all);
out:
	free(rows);
	registry_free(reg);
}

/* The member of host's row of registry_roster_json, printed ("" none). */
static void
roster_member(struct registry *reg, const char *host, const char *key,
    char *out, size_t outlen)
{
	cJSON *j = registry_roster_json(reg), *row;
	char *text = NULL;

	out[0] = '\0';
	cJSON_ArrayForEach(row, j)
	{
		const cJSON *h = cJSON_GetObjectItemCaseSensitive(row,
		    "host_id");

		if (cJSON_IsString(h) && strcmp(h->valuestring, host) == 0) {
			text = cJSON_PrintUnformatted(
			    cJSON_GetObjectItemCaseSensitive(row, key));
			break;
		}
	}
	if (text != NULL)
		(void)snprintf(out, outlen, "%s", text);
	free(text);
	cJSON_Delete(j);
}

/*
 * Which roster each host holds (issue 13, item 2): null until the host
 * said, then what its current session said; a stale session's word is
 * ignored; the refusal shown until a later status clears it.
 */
static void
test_roster(void)
{
	struct registry *reg = registry_new();
	uint64_t a, a2, b, replaced = 0;
	char v[600], sha[600], ref[600], big[600];
	cJSON *j;
	char *text;

	CHECK(reg != NULL);
	j = registry_roster_json(reg);
	CHECK(j != NULL && cJSON_IsArray(j) && cJSON_GetArraySize(j) == 0);
	cJSON_Delete(j);
	b = registry_connect(reg, "web-02", "1", "1", 2000000000, 1000,
	    &replaced);
	a = registry_connect(reg, "web-01", "1", "1", 2000000000, 1000,
	    &replaced);
	/* Null until reported. */
	j = registry_roster_json(reg);
	text = jsonx_print(j);
	CHECKF(text != NULL &&
	        strcmp(text,
	            "[{\"host_id\":\"web-01\",\"connected\":true,"
	            "\"roster_version\":null,\"roster_sha256\":null,"
	            "\"refused\":null},{\"host_id\":\"web-02\",\"connected\":"
	            "true,\"roster_version\":null,\"roster_sha256\":null,"
	            "\"refused\":null}]") == 0,
	    "%s", text != NULL ? text : "(null)");
	free(text);
	cJSON_Delete(j);
	/* None held: version 0, no hash. */
	registry_set_roster(reg, "web-01", a, 0, "", "");
	roster_member(reg, "web-01", "roster_version", v, sizeof(v));
	roster_member(reg, "web-01", "roster_sha256", sha, sizeof(sha));
	roster_member(reg, "web-01", "refused", ref, sizeof(ref));
	CHECK(strcmp(v, "0") == 0 && strcmp(sha, "null") == 0 &&
	    strcmp(ref, "null") == 0);
	/* Held, exactly (2^53 - 1 is not rounded). */
	registry_set_roster(reg, "web-01", a, 9007199254740991LL, SHA_A, "");
	roster_member(reg, "web-01", "roster_version", v, sizeof(v));
	roster_member(reg, "web-01", "roster_sha256", sha, sizeof(sha));
	CHECKF(strcmp(v, "9007199254740991") == 0, "version %s", v);
	CHECK(strcmp(sha, "\"" SHA_A "\"") == 0);
	roster_member(reg, "web-02", "roster_version", v, sizeof(v));
	CHECK(strcmp(v, "null") == 0);
	/* Refused text: shown as said, until a status without one. */
	registry_set_roster(reg, "web-01", a, 7, SHA_A,
	    "roster version 2 is older than the held version 7: a rollback, "
	    "refused \"x\"");
	roster_member(reg, "web-01", "roster_version", v, sizeof(v));
	roster_member(reg, "web-01", "refused", ref, sizeof(ref));
	CHECK(strcmp(v, "7") == 0);
	CHECKF(strcmp(ref,
	           "\"roster version 2 is older than the held version 7: a "
	           "rollback, refused \\\"x\\\"\"") == 0,
	    "refused %s", ref);
	/* A long refusal is kept whole up to the wire's bound. */
	memset(big, 'r', 512);
	big[512] = '\0';
	registry_set_roster(reg, "web-01", a, 7, SHA_A, big);
	roster_member(reg, "web-01", "refused", ref, sizeof(ref));
	CHECK(strlen(ref) == 514);
	registry_set_roster(reg, "web-01", a, 7, SHA_A, "");
	roster_member(reg, "web-01", "refused", ref, sizeof(ref));
	CHECK(strcmp(ref, "null") == 0);
	/* A stale session, an unknown host, an offline one: ignored. */
	a2 = registry_connect(reg, "web-01", "1", "1", 2000000000, 2000,
	    &replaced);
	CHECK(replaced == a);
	registry_set_roster(reg, "web-01", a, 3, SHA_B, "stale");
	roster_member(reg, "web-01", "roster_version", v, sizeof(v));
	roster_member(reg, "web-01", "roster_sha256", sha, sizeof(sha));
	roster_member(reg, "web-01", "refused", ref, sizeof(ref));
	CHECK(strcmp(v, "7") == 0 && strcmp(sha, "\"" SHA_A "\"") == 0 &&
	    strcmp(ref, "null") == 0);
	registry_set_roster(reg, "web-01", a2, 8, SHA_B, "");
	roster_member(reg, "web-01", "roster_version", v, sizeof(v));
	CHECK(strcmp(v, "8") == 0);
	registry_set_roster(reg, "db-09", 1, 3, SHA_B, "");
	j = registry_roster_json(reg);
	CHECK(cJSON_GetArraySize(j) == 2);
	cJSON_Delete(j);
	registry_disconnect(reg, "web-02", b, 3000);
	registry_set_roster(reg, "web-02", b, 3, SHA_B, "");
	roster_member(reg, "web-02", "roster_version", v, sizeof(v));
	roster_member(reg, "web-02", "connected", ref, sizeof(ref));
	CHECK(strcmp(v, "null") == 0 && strcmp(ref, "false") == 0);
	/* What a host said stays shown after it left, marked offline. */
	registry_disconnect(reg, "web-01", a2, 3000);
	roster_member(reg, "web-01", "roster_version", v, sizeof(v));
	roster_member(reg, "web-01", "connected", ref, sizeof(ref));
	CHECK(strcmp(v, "8") == 0 && strcmp(ref, "false") == 0);
	registry_free(reg);
}

/*
 * Anchoring is per session: set by the session's hello, ignored from a
 * stale session, forgotten by a new one and on disconnect.
 */
static void
test_anchors(void)
{
	struct registry *reg = registry_new();
	uint64_t a, a2, replaced = 0;

	CHECK(reg != NULL);
	CHECK(!registry_anchors(reg, "web-01"));
	a = registry_connect(reg, "web-01", "1", "1", 2000000000, 1000,
	    &replaced);
	CHECK(!registry_anchors(reg, "web-01"));
	registry_set_anchors(reg, "web-01", a, true);
	CHECK(registry_anchors(reg, "web-01"));
	CHECK(!registry_anchors(reg, "web-02"));
	a2 = registry_connect(reg, "web-01", "1", "1", 2000000000, 1100,
	    &replaced);
	CHECK(replaced == a && !registry_anchors(reg, "web-01"));
	registry_set_anchors(reg, "web-01", a, true);
	CHECK(!registry_anchors(reg, "web-01"));
	registry_set_anchors(reg, "web-01", a2, true);
	CHECK(registry_anchors(reg, "web-01"));
	registry_disconnect(reg, "web-01", a2, 1200);
	CHECK(!registry_anchors(reg, "web-01"));
	registry_free(reg);
}

/* The gauges' rows: connected hosts only, their notAfter. */
static void
test_connected_certs(struct registry *reg)
{
	struct registry_cert *rows = NULL;
	uint64_t s, replaced;
	size_t n = 9;

	CHECK(registry_connected_certs(reg, &rows, &n) == 0);
	CHECK(n == 1 && rows != NULL && strcmp(rows[0].host_id, "db-01") == 0 &&
	    rows[0].not_after == 2000000000);
	free(rows);
	s = registry_connect(reg, "aa-01", "1", "1", 1900000000, 4000,
	    &replaced);
	CHECK(s > 0);
	CHECK(registry_connected_certs(reg, &rows, &n) == 0);
	CHECK(n == 2 && strcmp(rows[0].host_id, "aa-01") == 0 &&
	    rows[0].not_after == 1900000000 &&
	    strcmp(rows[1].host_id, "db-01") == 0);
	free(rows);
	/* Removed once it disconnects. */
	registry_disconnect(reg, "aa-01", s, 4100);
	registry_disconnect(reg, "db-01",
	    registry_connect(reg, "db-01", "1", "1", 2000000000, 4200,
	        &replaced),
	    4300);
	CHECK(registry_connected_certs(reg, &rows, &n) == 0);
	CHECK(n == 0 && rows == NULL);
	/* Warnings log, refuse nothing, and never on an offline host. */
	registry_check_certs(reg, NULL, 1900000000 - 86400, 30, 1, "check");
}

int
main(void)
{
	struct registry *reg = registry_new();
	struct registry_container rc;
	struct registry_stats st;
	uint64_t s1, s2, s3, replaced = 9;
	cJSON *j;
	char *text;

	CHECK(reg != NULL);
	s1 = registry_connect(reg, "web-01", "0.1.0", "20.10", 2000000000, 1000,
	    &replaced);
	CHECK(s1 > 0 && replaced == 0);
	CHECK(registry_set_inventory(reg, "web-01", s1,
	          inv_of("[" ROW(ID1, "web-1", "running") "," ROW(ID2, "web-2",
	              "exited") "]"),
	          2000, NULL) == 0);
	s3 = registry_connect(reg, "db-01", "0.1.0", "20.10", 2000000000, 1000,
	    &replaced);
	CHECK(registry_set_inventory(reg, "db-01", s3,
	          inv_of("[" ROW(ID3, "db", "running") "]"), 2000, NULL) == 0);

	/* Prefix lookups: unique, ambiguous, unknown, malformed. */
	CHECK(registry_find_container(reg, "abcdef01234567891", &rc) ==
	        REGISTRY_FOUND &&
	    strcmp(rc.host_id, "web-01") == 0 && rc.host_connected &&
	    rc.session == s1);
	cJSON_Delete(rc.row);
	CHECK(registry_find_container(reg, "abcdef012345", &rc) ==
	    REGISTRY_AMBIGUOUS);
	CHECK(registry_find_container(reg, "ffffffffffff", &rc) ==
	    REGISTRY_NOT_FOUND);
	CHECK(registry_find_container(reg, "abcdef01234", &rc) ==
	    REGISTRY_BAD_ID);
	CHECK(registry_find_container(reg, "ABCDEF012345", &rc) ==
	    REGISTRY_BAD_ID);
	CHECK(registry_find_container(reg, ID1 "0", &rc) == REGISTRY_BAD_ID);
	CHECK(registry_find_container(reg, ID3, &rc) == REGISTRY_FOUND &&
	    strcmp(rc.host_id, "db-01") == 0);
	cJSON_Delete(rc.row);

	/* Filters and ordering (host, then name). */
	j = registry_containers_json(reg, NULL, "running");
	text = jsonx_print(j);
	CHECK(text != NULL && strstr(text, "web-2") == NULL &&
	    strstr(text, "\"/db\"") != NULL &&
	    strstr(text, "\"/db\"") < strstr(text, "web-1"));
	free(text);
	cJSON_Delete(j);
	j = registry_containers_json(reg, "web-01", NULL);
	CHECK(cJSON_GetArraySize(cJSON_GetObjectItem(j, "containers")) == 2);
	cJSON_Delete(j);

	/* A second connection replaces the first; the old one's updates and
	 * close are ignored. */
	s2 = registry_connect(reg, "web-01", "0.1.1", "20.10", 2000000000, 3000,
	    &replaced);
	CHECK(s2 != s1 && replaced == s1);
	CHECK(registry_set_inventory(reg, "web-01", s1, inv_of("[]"), 3100,
	          NULL) == SIGNET_ERR_NOT_FOUND);
	registry_disconnect(reg, "web-01", s1, 3200);
	registry_get_stats(reg, &st);
	CHECK(st.agents_connected == 2 && st.hosts_known == 2 &&
	    st.containers == 3);
	registry_disconnect(reg, "web-01", s2, 3300);
	registry_get_stats(reg, &st);
	CHECK(st.agents_connected == 1);
	CHECK(registry_find_container(reg, ID1, &rc) == REGISTRY_FOUND &&
	    !rc.host_connected);
	cJSON_Delete(rc.row);

	/* 5 days and one second before notAfter: 5 whole days left. */
	j = registry_hosts_json(reg, 2000000000 - 5 * 86400 - 1);
	text = jsonx_print(j);
	CHECK(text != NULL &&
	    strstr(text,
	        "{\"host_id\":\"db-01\","
	        "\"connected\":true,\"connected_at\":\"1970-01-01T00:00:01.000Z\"") !=
	        NULL);
	CHECK(text != NULL &&
	    strstr(text, "\"agent_version\":\"0.1.1\"") != NULL &&
	    strstr(text,
	        "\"cert_not_after\":\"2033-05-18T03:33:20."
	        "000Z\",\"cert_days_left\":5,\"replica\":\"\"}") != NULL);
	free(text);
	cJSON_Delete(j);
	/* One second after it: -1, the host not refused for it. */
	j = registry_hosts_json(reg, 2000000001);
	text = jsonx_print(j);
	CHECK(text != NULL &&
	    strstr(text, "\"cert_days_left\":-1,\"replica\":\"\"}") != NULL);
	free(text);
	cJSON_Delete(j);
	test_connected_certs(reg);
	registry_free(reg);
	test_conflicts();
	test_many_ids();
	test_roster();
	test_anchors();
	return test_finish("test_registry");
}
