/* SPDX-License-Identifier: ISC */
/* Inventory rows: from dockerd's JSON, from frames, and back to JSON. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "inventory.h"
#include "jsonx.h"
#include "testlib.h"

#define ID1 "1111111111111111111111111111111111111111111111111111111111111111"
#define ID2 "2222222222222222222222222222222222222222222222222222222222222222"
#define ROW(id, extra)                                                         \
	"{\"id\":\"" id "\",\"names\":[\"/web-1\"],"                           \
	"\"image\":\"nginx:1\",\"state\":\"running\",\"status\":\"Up\","       \
	"\"labels\":{\"tier\":\"web\"},\"created\":1700000000" extra "}"

struct row {
	const char *name;
	const char *frame; /* the containers array */
	const char *why;   /* NULL: accepted */
};

static const struct row rows[] = {
	{ "two rows", "[" ROW(ID1, "") "," ROW(ID2, "") "]", NULL },
	{ "empty", "[]", NULL },
	{ "not array", "{}", "must be an array" },
	{ "row not object", "[1]", "containers[0]: must be an object" },
	{ "unknown member", "[" ROW(ID1, ",\"x\":1") "]", "unknown key \"x\"" },
	{ "duplicate id", "[" ROW(ID1, "") "," ROW(ID1, "") "]",
	    "containers[1]: duplicate id" },
	{ "short id", "[{\"id\":\"abc\"}]", "64 lowercase hex" },
	{ "names not array", "[{\"id\":\"" ID1 "\",\"names\":\"x\"}]",
	    "names: must be an array" },
	{ "name number", "[{\"id\":\"" ID1 "\",\"names\":[5]}]",
	    "names[]: must be a string" },
	{ "image missing", "[{\"id\":\"" ID1 "\",\"names\":[]}]",
	    "image: must be a string" },
	{ "created string",
	    "[{\"id\":\"" ID1 "\",\"names\":[],\"image\":\"i\","
	    "\"state\":\"running\",\"status\":\"\",\"labels\":{},\"created\":\"1\"}]",
	    "created: must be a non-negative integer" },
	{ "label number",
	    "[{\"id\":\"" ID1 "\",\"names\":[],\"image\":\"i\","
	    "\"state\":\"running\",\"status\":\"\",\"labels\":{\"a\":1},"
	    "\"created\":1}]",
	    "labels{}: must be a string" },
	{ "labels missing",
	    "[{\"id\":\"" ID1 "\",\"names\":[],\"image\":\"i\","
	    "\"state\":\"running\",\"status\":\"\",\"created\":1}]",
	    "labels: missing" },
	{ "state too long",
	    "[{\"id\":\"" ID1 "\",\"names\":[],\"image\":\"i\","
	    "\"state\":\"runningrunningrunning\",\"status\":\"\",\"labels\":{},"
	    "\"created\":1}]",
	    "state: must be 1..15" },
	{ "control char", "[{\"id\":\"" ID1 "\",\"names\":[\"a\\u001b\"]}]",
	    "control characters" },
};

/* n rows in a frame's form or dockerd's; with dup, the last has row 0's id. */
static char *
many_rows(size_t n, bool docker, bool dup, size_t *len)
{
	size_t i, cap = 2 + n * 200;
	char *buf = malloc(cap);

	if (buf == NULL)
		return NULL;
	*len = 0;
	buf[(*len)++] = '[';
	for (i = 0; i < n; i++) {
		size_t id = dup && i == n - 1 ? 1000 : i + 1000;

		*len += (size_t)snprintf(buf + *len, cap - *len,
		    docker ?
		        "%s{\"Id\":\"%064zx\",\"Names\":[\"/c\"],\"Image\":\"i\","
		        "\"Created\":1,\"Labels\":{},\"State\":\"running\","
		        "\"Status\":\"Up\"}" :
		        "%s{\"id\":\"%064zx\",\"names\":[],\"image\":\"i\","
		        "\"state\":\"running\",\"status\":\"\",\"labels\":{},"
		        "\"created\":1}",
		    i > 0 ? "," : "", id);
	}
	buf[(*len)++] = ']';
	buf[*len] = '\0';
	return buf;
}

/*
 * A full inventory (5,000 rows): distinct ids are all taken; an id seen
 * twice is refused in a frame, naming the later row, and left out of
 * dockerd's answer, the first row kept.
 */
static void
check_many_rows(void)
{
	const size_t n = INVENTORY_MAX_CONTAINERS;
	struct inventory *inv = NULL;
	struct err_msg msg;
	size_t len = 0;
	char *buf;
	cJSON *arr;
	int dup;

	for (dup = 0; dup < 2; dup++) {
		buf = many_rows(n, false, dup, &len);
		arr = buf != NULL ? cJSON_Parse(buf) : NULL;
		CHECK(arr != NULL);
		err_clear(&msg);
		if (dup == 0) {
			CHECKF(inventory_from_frame(arr, &inv, &msg) == 0, "%s",
			    msg.text);
			CHECK(inv != NULL && inv->count == n);
		} else {
			CHECK(inventory_from_frame(arr, &inv, &msg) != 0 &&
			    inv == NULL);
			CHECK_CONTAINS(msg.text,
			    "containers[4999]: duplicate id");
		}
		inventory_free(inv);
		inv = NULL;
		cJSON_Delete(arr);
		free(buf);
	}
	buf = many_rows(n, true, true, &len);
	CHECK(buf != NULL && inventory_from_docker(buf, len, &inv, &msg) == 0);
	CHECK(inv != NULL && inv->count == n - 1 && inv->skipped == 1);
	CHECK(inv != NULL &&
	    strcmp(inv->items[0].id,
	        "00000000000000000000000000000000000000000000000000000000000003e8") ==
	        0);
	CHECK_CONTAINS(msg.text, "containers[4999]: duplicate id");
	inventory_free(inv);
	free(buf);
}

int
main(void)
{
	struct inventory *inv = NULL, *copy = NULL;
	struct err_msg msg;
	size_t i;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		cJSON *arr = cJSON_Parse(rows[i].frame);
		int r;

		CHECKF(arr != NULL, "row %s does not parse", rows[i].name);
		err_clear(&msg);
		r = inventory_from_frame(arr, &inv, &msg);
		if (rows[i].why == NULL) {
			CHECKF(r == 0, "row %s: %s", rows[i].name, msg.text);
		} else {
			CHECKF(r != 0 && inv == NULL, "row %s accepted",
			    rows[i].name);
			CHECKF(strstr(msg.text, rows[i].why) != NULL,
			    "row %s: \"%s\" lacks \"%s\"", rows[i].name,
			    msg.text, rows[i].why);
		}
		inventory_free(inv);
		inv = NULL;
		cJSON_Delete(arr);
	}

	/* dockerd's shape: extra members ignored, null labels allowed. */
	{
		static const char docker[] =
		    "[{\"Id\":\"" ID1 "\",\"Names\":"
		    "[\"/web-1\"],\"Image\":\"nginx:1\",\"ImageID\":\"sha256:x\","
		    "\"Command\":\"sleep\",\"Created\":1700000000,\"Ports\":[],"
		    "\"Labels\":{\"tier\":\"web\"},\"State\":\"running\","
		    "\"Status\":\"Up 2 seconds\",\"HostConfig\":{}},"
		    "{\"Id\":\"" ID2 "\",\"Names\":[\"/db\"],\"Image\":\"pg\","
		    "\"Created\":1,\"Labels\":null,\"State\":\"exited\","
		    "\"Status\":\"Exited (0)\"}]";
		CHECK(inventory_from_docker(docker, strlen(docker), &inv,
		          &msg) == 0);
		CHECK(inv != NULL && inv->count == 2);
		if (inv != NULL && inv->count == 2) {
			const struct inventory_container *c = inventory_find(
			    inv, ID1);
			CHECK(c != NULL &&
			    strcmp(inventory_primary_name(c), "web-1") == 0);
			CHECK(c != NULL &&
			    strcmp(inventory_label(c, "tier"), "web") == 0);
			CHECK(inventory_find(inv, ID2)->nlabels == 0);
			copy = inventory_dup(inv);
			CHECK(copy != NULL && copy->count == 2 &&
			    strcmp(copy->items[1].status, "Exited (0)") == 0);
			{
				cJSON *j = inventory_to_json(inv, "web-01");
				char *text = jsonx_print(j);
				CHECK(text != NULL &&
				    strstr(text,
				        "\"host_id\":\"web-01\",\"id\":\"" ID1) !=
				        NULL);
				free(text);
				cJSON_Delete(j);
			}
		}
		inventory_free(copy);
		inventory_free(inv);
		inv = NULL;
		/* One hostile row is left out; the others still show. */
		{
			static const char mixed[] =
			    "[{\"Id\":\"" ID1 "\","
			    "\"Names\":[\"/ok\"],\"Image\":\"i\","
			    "\"Created\":1,\"Labels\":{},\"State\":\"running\","
			    "\"Status\":\"Up\"},{\"Id\":\"" ID2 "\","
			    "\"Names\":[\"/evil\"],\"Image\":\"i\","
			    "\"Created\":1,\"Labels\":{\"x\":\"a\\u001b[2J\"},"
			    "\"State\":\"running\",\"Status\":\"Up\"}]";
			CHECK(inventory_from_docker(mixed, strlen(mixed), &inv,
			          &msg) == 0);
			CHECK(inv != NULL && inv->count == 1 &&
			    inv->skipped == 1 &&
			    strcmp(inv->items[0].id, ID1) == 0);
			CHECK_CONTAINS(msg.text, "containers[1].labels");
			inventory_free(inv);
			inv = NULL;
		}
		CHECK(inventory_from_docker("{\"x\":1}", 7, &inv, &msg) != 0);
		CHECK(inventory_from_docker("[", 1, &inv, &msg) != 0);
	}
	check_many_rows();
	return test_finish("test_inventory");
}
