/* SPDX-License-Identifier: ISC */
/*
 * The registry's mirror of the hosts other replicas hold (registry.h,
 * "cluster mode"): what /api/hosts, lookups and the counts say of them,
 * that a host connected here always wins, and the strict parse of what
 * another replica stored (every bad input refused, nothing half-filled).
 */
#include <stdlib.h>
#include <string.h>

#include "jsonx.h"
#include "registry.h"
#include "testlib.h"

#define ID1 "abcdef0123456789111111111111111111111111111111111111111111111111"
#define ID9 "9999990123456789999999999999999999999999999999999999999999999999"
#define ROW(id, name)                                                          \
	"{\"id\":\"" id "\",\"names\":[\"/" name "\"],"                        \
	"\"image\":\"busybox\",\"state\":\"running\",\"status\":\"Up\","       \
	"\"labels\":{},\"created\":1}"
#define INFO_HEAD                                                              \
	"{\"agent_version\":\"0.2.0\",\"docker_version\":\"24.0.7\","          \
	"\"cert_not_after\":2000000000,\"connected_at\":1700000000000"
#define INFO INFO_HEAD "}"

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

/* host_id's row of /api/hosts as JSON text ("" when none). */
static char *
host_row(struct registry *reg, const char *host_id)
{
	cJSON *j = registry_hosts_json(reg, 1700000000), *h;
	char *text = NULL;

	cJSON_ArrayForEach(h, cJSON_GetObjectItem(j, "hosts"))
	{
		if (strcmp(cJSON_GetObjectItem(h, "host_id")->valuestring,
		        host_id) == 0)
			text = cJSON_PrintUnformatted(h);
	}
	cJSON_Delete(j);
	return text != NULL ? text : strdup("");
}

static void
remote(struct registry_remote *rm, const char *host, const char *replica,
    bool held)
{
	memset(rm, 0, sizeof(*rm));
	(void)snprintf(rm->host_id, sizeof(rm->host_id), "%s", host);
	(void)snprintf(rm->replica, sizeof(rm->replica), "%s", replica);
	rm->held = held;
	(void)snprintf(rm->agent_version, sizeof(rm->agent_version), "0.2.0");
	rm->last_seen = 5000;
}

static void
test_mirror(void)
{
	struct registry *reg = registry_new();
	struct registry_remote rm;
	struct registry_container rc;
	struct registry_stats st;
	uint64_t s1, s9, replaced = 7;
	char *row;

	registry_set_replica(reg, "r2");
	s1 = registry_connect(reg, "web-01", "0.1.0", "20.10", 2000000000, 1000,
	    &replaced);
	CHECK(registry_set_inventory(reg, "web-01", s1,
	          inv_of("[" ROW(ID1, "a") "]"), 2000, NULL) == 0);
	row = host_row(reg, "web-01");
	CHECK_CONTAINS(row, "\"connected\":true");
	CHECK_CONTAINS(row, "\"replica\":\"r2\"");
	free(row);

	/* A host connected here wins over the database's word. */
	remote(&rm, "web-01", "r1", true);
	CHECK(registry_mirror(reg, &rm, inv_of("[" ROW(ID9, "x") "]")) ==
	    SIGNET_ERR_EXISTS);
	CHECK(registry_find_container(reg, ID9, &rc) == REGISTRY_NOT_FOUND);

	/* Held by r1: connected for lookups, named, not counted as ours. */
	remote(&rm, "web-09", "r1", true);
	CHECK(registry_mirror(reg, &rm, inv_of("[" ROW(ID9, "x") "]")) == 0);
	row = host_row(reg, "web-09");
	CHECK_CONTAINS(row, "\"connected\":true");
	CHECK_CONTAINS(row, "\"replica\":\"r1\"");
	CHECK_CONTAINS(row, "\"container_count\":1");
	CHECK_CONTAINS(row, "\"agent_version\":\"0.2.0\"");
	free(row);
	CHECK(registry_find_container(reg, "999999012345", &rc) ==
	        REGISTRY_FOUND &&
	    strcmp(rc.host_id, "web-09") == 0 && rc.host_connected &&
	    strcmp(rc.replica, "r1") == 0);
	cJSON_Delete(rc.row);
	CHECK(registry_find_container(reg, ID1, &rc) == REGISTRY_FOUND &&
	    rc.replica[0] == '\0');
	cJSON_Delete(rc.row);
	registry_get_stats(reg, &st);
	CHECK(st.agents_connected == 1 && st.hosts_known == 2 &&
	    st.containers == 2);
	CHECK(!registry_anchors(reg, "web-09"));
	/* No local session of a remote host takes updates. */
	CHECK(registry_set_inventory(reg, "web-09", 0,
	          inv_of("[" ROW(ID1, "a") "]"), 3000,
	          NULL) == SIGNET_ERR_NOT_FOUND);

	/* The claim lapsed: offline, its last rows kept (second tier). */
	remote(&rm, "web-09", "r1", false);
	CHECK(registry_mirror(reg, &rm, NULL) == 0);
	row = host_row(reg, "web-09");
	CHECK_CONTAINS(row, "\"connected\":false");
	CHECK_CONTAINS(row, "\"replica\":\"\"");
	CHECK_CONTAINS(row, "\"container_count\":1");
	free(row);
	CHECK(registry_find_container(reg, ID9, &rc) == REGISTRY_FOUND &&
	    !rc.host_connected && rc.replica[0] == '\0');
	cJSON_Delete(rc.row);

	/* The agent comes here: ours again, not a replacement. */
	s9 = registry_connect(reg, "web-09", "0.3.0", "25", 2000000000, 4000,
	    &replaced);
	CHECK(s9 > 0 && replaced == 0);
	row = host_row(reg, "web-09");
	CHECK_CONTAINS(row, "\"replica\":\"r2\"");
	CHECK_CONTAINS(row, "\"agent_version\":\"0.3.0\"");
	free(row);
	registry_get_stats(reg, &st);
	CHECK(st.agents_connected == 2);
	/* It leaves; then r3 holds it. A late close of s9 changes nothing. */
	registry_disconnect(reg, "web-09", s9, 5000);
	remote(&rm, "web-09", "r3", true);
	CHECK(registry_mirror(reg, &rm, NULL) == 0);
	registry_disconnect(reg, "web-09", s9, 6000);
	row = host_row(reg, "web-09");
	CHECK_CONTAINS(row, "\"connected\":true");
	CHECK_CONTAINS(row, "\"replica\":\"r3\"");
	free(row);

	/* Bad names never enter. */
	remote(&rm, "Bad Host", "r1", true);
	CHECK(registry_mirror(reg, &rm, NULL) == SIGNET_ERR_INVALID_ARG);
	remote(&rm, "web-10", "r 1", true);
	CHECK(registry_mirror(reg, &rm, NULL) == SIGNET_ERR_INVALID_ARG);
	registry_free(reg);
}

/* What a holder writes reads back the same. */
static void
test_texts_round_trip(void)
{
	struct registry *reg = registry_new();
	struct registry_remote rm;
	struct inventory *inv = NULL;
	struct err_msg msg;
	char *info = NULL, *rows = NULL;
	uint64_t s, replaced;

	s = registry_connect(reg, "web-01", "0.1.0", "20.10", 2000000000, 1000,
	    &replaced);
	CHECK(registry_host_texts(reg, "web-01", s, &info, &rows) == 0);
	CHECK(info != NULL && rows == NULL); /* no inventory yet */
	free(info);
	CHECK(registry_set_inventory(reg, "web-01", s,
	          inv_of("[" ROW(ID1, "a") "]"), 2000, NULL) == 0);
	CHECK(registry_host_texts(reg, "web-01", s + 1, &info, &rows) ==
	        SIGNET_ERR_NOT_FOUND &&
	    info == NULL && rows == NULL);
	CHECK(registry_host_texts(reg, "web-01", s, &info, &rows) == 0);
	memset(&rm, 0, sizeof(rm));
	CHECK(registry_remote_parse(info, rows, &rm, &inv, &msg) == 0);
	CHECK(strcmp(rm.agent_version, "0.1.0") == 0 &&
	    strcmp(rm.docker_version, "20.10") == 0 &&
	    rm.cert_not_after == 2000000000 && rm.connected_at == 1000);
	CHECK(!rm.anchors); /* its hello carried no audit head */
	CHECK(inv != NULL && inv->count == 1 &&
	    strcmp(inv->items[0].id, ID1) == 0);
	inventory_free(inv);
	free(info);
	free(rows);

	/* Its hello carried audit_head: the stored info says so. */
	registry_set_anchors(reg, "web-01", s, true);
	CHECK(registry_host_texts(reg, "web-01", s, &info, &rows) == 0);
	CHECK_CONTAINS(info, "\"anchors\":true");
	memset(&rm, 0, sizeof(rm));
	CHECK(registry_remote_parse(info, rows, &rm, &inv, &msg) == 0 &&
	    rm.anchors);
	inventory_free(inv);
	free(info);
	free(rows);
	registry_set_anchors(reg, "web-01", s, false);
	CHECK(registry_host_texts(reg, "web-01", s, &info, &rows) == 0);
	CHECK_CONTAINS(info, "\"anchors\":false");
	rm.anchors = true;
	CHECK(registry_remote_parse(info, rows, &rm, &inv, &msg) == 0 &&
	    !rm.anchors);
	inventory_free(inv);
	free(info);
	free(rows);
	registry_free(reg);
}

/* Every bad stored text refused, with the member named. */
static void
test_parse_refusals(void)
{
	static const struct {
		const char *info, *inv, *why;
	} bad[] = {
		{ "not json", NULL, "" },
		{ "[]", NULL, "" },
		{ "{\"agent_version\":\"1\"}", NULL, "docker_version" },
		{ "{\"agent_version\":\"1\",\"docker_version\":\"2\","
		  "\"cert_not_after\":1,\"connected_at\":1,\"x\":1}",
		    NULL, "x" },
		{ "{\"agent_version\":1,\"docker_version\":\"2\","
		  "\"cert_not_after\":1,\"connected_at\":1}",
		    NULL, "agent_version" },
		{ "{\"agent_version\":\"a\\u0001\",\"docker_version\":\"2\","
		  "\"cert_not_after\":1,\"connected_at\":1}",
		    NULL, "agent_version" },
		{ "{\"agent_version\":\"0123456789012345678901234567890123456"
		  "7890123456789012345678901234567\",\"docker_version\":\"2\","
		  "\"cert_not_after\":1,\"connected_at\":1}",
		    NULL, "agent_version" },
		{ "{\"agent_version\":\"1\",\"docker_version\":\"2\","
		  "\"cert_not_after\":-1,\"connected_at\":1}",
		    NULL, "cert_not_after" },
		{ "{\"agent_version\":\"1\",\"docker_version\":\"2\","
		  "\"cert_not_after\":1,\"connected_at\":1.5}",
		    NULL, "connected_at" },
		{ "{\"agent_version\":\"1\",\"agent_version\":\"1\","
		  "\"docker_version\":\"2\",\"cert_not_after\":1,"
		  "\"connected_at\":1}",
		    NULL, "" },
		{ INFO_HEAD ",\"anchors\":1}", NULL, "anchors" },
		{ INFO_HEAD ",\"anchors\":\"true\"}", NULL, "anchors" },
		{ INFO_HEAD ",\"anchors\":null}", NULL, "anchors" },
		{ INFO_HEAD ",\"anchors\":[true]}", NULL, "anchors" },
		{ INFO_HEAD ",\"anchors\":{}}", NULL, "anchors" },
		{ INFO_HEAD ",\"anchors\":true,\"anchors\":true}", NULL, "" },
		{ INFO_HEAD ",\"anchors\":true}", "[1]", "" },
		{ INFO, "{}", "array" },
		{ INFO, "[1]", "" },
		{ INFO, "[" ROW(ID1, "a") "," ROW(ID1, "a") "]", "" },
		{ INFO, "[" ROW(ID1, "a") "]]", "" },
		{ INFO, "[" ROW(ID1, "a") "]}, \"x\": [", "" },
		{ INFO, "", "" },
	};
	struct registry_remote rm;
	struct inventory *inv;
	struct err_msg msg;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(&rm, 0, sizeof(rm));
		inv = (struct inventory *)&rm; /* must come back NULL */
		err_clear(&msg);
		CHECKF(registry_remote_parse(bad[i].info, bad[i].inv, &rm, &inv,
		           &msg) == SIGNET_ERR_FORMAT,
		    "case %zu accepted", i);
		CHECKF(inv == NULL && rm.agent_version[0] == '\0' &&
		        rm.cert_not_after == 0 && !rm.anchors,
		    "case %zu half-filled", i);
		CHECKF(strstr(msg.text, bad[i].why) != NULL,
		    "case %zu: \"%s\" does not name %s", i, msg.text,
		    bad[i].why);
	}
	memset(&rm, 0, sizeof(rm));
	CHECK(registry_remote_parse(INFO, "[]", &rm, &inv, &msg) == 0 &&
	    inv != NULL && inv->count == 0 && rm.connected_at == 1700000000000);
	inventory_free(inv);
	CHECK(registry_remote_parse(NULL, NULL, &rm, &inv, &msg) == 0 &&
	    inv == NULL);
}

/*
 * "anchors" in the stored info: true, false, or absent (a row an earlier
 * build wrote: false, no server_head for an agent that may refuse it).
 */
static void
test_parse_anchors(void)
{
	static const struct {
		const char *info;
		bool anchors;
	} cases[] = {
		{ INFO_HEAD ",\"anchors\":true}", true },
		{ INFO_HEAD ",\"anchors\":false}", false },
		{ INFO, false },
		{ NULL, false },
	};
	struct registry_remote rm;
	struct inventory *inv;
	struct err_msg msg;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		memset(&rm, 0, sizeof(rm));
		rm.anchors = !cases[i].anchors; /* must be overwritten */
		err_clear(&msg);
		CHECKF(registry_remote_parse(cases[i].info, NULL, &rm, &inv,
		           &msg) == 0,
		    "anchors case %zu refused: %s", i, msg.text);
		CHECKF(rm.anchors == cases[i].anchors, "anchors case %zu: %d",
		    i, (int)rm.anchors);
		CHECK(inv == NULL);
	}
}

/*
 * registry_anchors of a mirrored host: its holder's word while it holds
 * the host, false once no claim is live, and a local session's own hello
 * again when the agent comes here.
 */
static void
test_mirror_anchors(void)
{
	struct registry *reg = registry_new();
	struct registry_remote rm;
	uint64_t s, replaced;

	registry_set_replica(reg, "r2");
	remote(&rm, "web-09", "r1", true);
	CHECK(registry_mirror(reg, &rm, NULL) == 0);
	CHECK(!registry_anchors(reg, "web-09"));
	rm.anchors = true;
	CHECK(registry_mirror(reg, &rm, NULL) == 0);
	CHECK(registry_anchors(reg, "web-09"));
	/* The holder's next word says its (new) agent does not anchor. */
	rm.anchors = false;
	CHECK(registry_mirror(reg, &rm, NULL) == 0);
	CHECK(!registry_anchors(reg, "web-09"));
	/* Anchoring, but no live claim: not connected, no head. */
	remote(&rm, "web-09", "r1", false);
	rm.anchors = true;
	CHECK(registry_mirror(reg, &rm, NULL) == 0);
	CHECK(!registry_anchors(reg, "web-09"));
	/* A held row with no holder named is not held. */
	remote(&rm, "web-09", "", true);
	rm.anchors = true;
	CHECK(registry_mirror(reg, &rm, NULL) == 0);
	CHECK(!registry_anchors(reg, "web-09"));
	/* Held and anchoring, then the agent comes here: its own hello. */
	remote(&rm, "web-09", "r1", true);
	rm.anchors = true;
	CHECK(registry_mirror(reg, &rm, NULL) == 0);
	CHECK(registry_anchors(reg, "web-09"));
	s = registry_connect(reg, "web-09", "0.3.0", "25", 2000000000, 4000,
	    &replaced);
	CHECK(s > 0 && !registry_anchors(reg, "web-09"));
	/* The mirror leaves a host connected here alone, flag included. */
	CHECK(registry_mirror(reg, &rm, NULL) == SIGNET_ERR_EXISTS);
	CHECK(!registry_anchors(reg, "web-09"));
	registry_set_anchors(reg, "web-09", s, true);
	CHECK(registry_anchors(reg, "web-09"));
	registry_disconnect(reg, "web-09", s, 5000);
	CHECK(!registry_anchors(reg, "web-09"));
	/* Gone here, held by r3 whose row predates the flag: no head. */
	remote(&rm, "web-09", "r3", true);
	CHECK(registry_mirror(reg, &rm, NULL) == 0);
	CHECK(!registry_anchors(reg, "web-09"));
	CHECK(!registry_anchors(reg, "web-77")); /* unknown */
	registry_free(reg);
}

int
main(void)
{
	test_mirror();
	test_texts_round_trip();
	test_parse_refusals();
	test_parse_anchors();
	test_mirror_anchors();
	return test_finish("registry_mirror");
}
