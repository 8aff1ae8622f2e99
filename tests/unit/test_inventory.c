/* SPDX-License-Identifier: ISC */
/* Inventory rows: from dockerd's JSON, from frames, and back to JSON. */
#include <stdlib.h>
#include <string.h>

#include "inventory.h"
#include "jsonx.h"
#include "testlib.h"

#define ID1 "1111111111111111111111111111111111111111111111111111111111111111"
#define ID2 "2222222222222222222222222222222222222222222222222222222222222222"
#define ROW(id, extra) "{\"id\":\"" id "\",\"names\":[\"/web-1\"]," \
	"\"image\":\"nginx:1\",\"state\":\"running\",\"status\":\"Up\"," \
	"\"labels\":{\"tier\":\"web\"},\"created\":1700000000" extra "}"

struct row {
	const char *name;
	const char *frame;   /* the containers array */
	const char *why;     /* NULL: accepted */
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
	{ "created string", "[{\"id\":\"" ID1 "\",\"names\":[],\"image\":\"i\","
	  "\"state\":\"running\",\"status\":\"\",\"labels\":{},\"created\":\"1\"}]",
	  "created: must be a non-negative integer" },
	{ "label number", "[{\"id\":\"" ID1 "\",\"names\":[],\"image\":\"i\","
	  "\"state\":\"running\",\"status\":\"\",\"labels\":{\"a\":1},"
	  "\"created\":1}]", "labels{}: must be a string" },
	{ "labels missing", "[{\"id\":\"" ID1 "\",\"names\":[],\"image\":\"i\","
	  "\"state\":\"running\",\"status\":\"\",\"created\":1}]",
	  "labels: missing" },
	{ "state too long", "[{\"id\":\"" ID1 "\",\"names\":[],\"image\":\"i\","
	  "\"state\":\"runningrunningrunning\",\"status\":\"\",\"labels\":{},"
	  "\"created\":1}]", "state: must be 1..15" },
	{ "control char", "[{\"id\":\"" ID1 "\",\"names\":[\"a\\u001b\"]}]",
	  "control characters" },
};

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
		static const char docker[] = "[{\"Id\":\"" ID1 "\",\"Names\":"
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
			const struct inventory_container *c =
			    inventory_find(inv, ID1);
			CHECK(c != NULL && strcmp(inventory_primary_name(c),
			    "web-1") == 0);
			CHECK(c != NULL && strcmp(inventory_label(c, "tier"),
			    "web") == 0);
			CHECK(inventory_find(inv, ID2)->nlabels == 0);
			copy = inventory_dup(inv);
			CHECK(copy != NULL && copy->count == 2 &&
			    strcmp(copy->items[1].status, "Exited (0)") == 0);
			{
				cJSON *j = inventory_to_json(inv, "web-01");
				char *text = jsonx_print(j);
				CHECK(text != NULL && strstr(text,
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
			static const char mixed[] = "[{\"Id\":\"" ID1 "\","
			    "\"Names\":[\"/ok\"],\"Image\":\"i\","
			    "\"Created\":1,\"Labels\":{},\"State\":\"running\","
			    "\"Status\":\"Up\"},{\"Id\":\"" ID2 "\","
			    "\"Names\":[\"/evil\"],\"Image\":\"i\","
			    "\"Created\":1,\"Labels\":{\"x\":\"a\\u001b[2J\"},"
			    "\"State\":\"running\",\"Status\":\"Up\"}]";
			CHECK(inventory_from_docker(mixed, strlen(mixed), &inv,
			    &msg) == 0);
			CHECK(inv != NULL && inv->count == 1 &&
			    inv->skipped == 1 && strcmp(inv->items[0].id, ID1) ==
			    0);
			CHECK_CONTAINS(msg.text, "containers[1].labels");
			inventory_free(inv);
			inv = NULL;
		}
		CHECK(inventory_from_docker("{\"x\":1}", 7, &inv, &msg) != 0);
		CHECK(inventory_from_docker("[", 1, &inv, &msg) != 0);
	}
	return test_finish("test_inventory");
}
