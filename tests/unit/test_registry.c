/* SPDX-License-Identifier: ISC */
/* The server's registry: sessions, replacement, inventories, lookups. */
#include <stdlib.h>
#include <string.h>

#include "jsonx.h"
#include "registry.h"
#include "testlib.h"

#define ID1 "abcdef0123456789111111111111111111111111111111111111111111111111"
#define ID2 "abcdef0123456789222222222222222222222222222222222222222222222222"
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
	          2000) == 0);
	s3 = registry_connect(reg, "db-01", "0.1.0", "20.10", 2000000000, 1000,
	    &replaced);
	CHECK(registry_set_inventory(reg, "db-01", s3,
	          inv_of("[" ROW(ID3, "db", "running") "]"), 2000) == 0);

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
	CHECK(registry_set_inventory(reg, "web-01", s1, inv_of("[]"), 3100) ==
	    SIGNET_ERR_NOT_FOUND);
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

	j = registry_hosts_json(reg);
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
	        "000Z\"") != NULL);
	free(text);
	cJSON_Delete(j);
	registry_free(reg);
	return test_finish("test_registry");
}
