/* SPDX-License-Identifier: ISC */
/* Building, parsing, copying and serialising container inventories. */
#include "inventory.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "jsonx.h"
#include "text.h"

static void
container_clear(struct inventory_container *c)
{
	size_t i;

	for (i = 0; i < c->nnames; i++)
		free(c->names[i]);
	free(c->names);
	for (i = 0; i < c->nlabels; i++) {
		free(c->labels[i].key);
		free(c->labels[i].value);
	}
	free(c->labels);
	free(c->image);
	free(c->status);
	memset(c, 0, sizeof(*c));
}

void
inventory_remove(struct inventory *inv, size_t i)
{
	if (inv == NULL || i >= inv->count)
		return;
	container_clear(&inv->items[i]);
	memmove(&inv->items[i], &inv->items[i + 1],
	    (inv->count - i - 1) * sizeof(inv->items[0]));
	inv->count--;
	memset(&inv->items[inv->count], 0, sizeof(inv->items[0]));
}

void
inventory_free(struct inventory *inv)
{
	size_t i;

	if (inv == NULL)
		return;
	for (i = 0; i < inv->count; i++)
		container_clear(&inv->items[i]);
	free(inv->items);
	free(inv);
}

/* A copy of a string of 1..max bytes (0..max when may_be_empty), UTF-8. */
static int
take_text(const cJSON *v, const char *what, size_t idx, size_t max,
    bool may_be_empty, char **out, struct err_msg *msg)
{
	size_t n;

	*out = NULL;
	if (!cJSON_IsString(v) || v->valuestring == NULL)
		return err_set(msg, SIGNET_ERR_FORMAT,
		    "containers[%zu].%s: must be a string", idx, what);
	n = strlen(v->valuestring);
	if ((n == 0 && !may_be_empty) || n > max)
		return err_set(msg, SIGNET_ERR_FORMAT,
		    "containers[%zu].%s: must be %d..%zu bytes", idx, what,
		    may_be_empty ? 0 : 1, max);
	if (!text_utf8_valid(v->valuestring, n) ||
	    text_has_control(v->valuestring))
		return err_set(msg, SIGNET_ERR_FORMAT,
		    "containers[%zu].%s: control characters or bad UTF-8", idx,
		    what);
	*out = strdup(v->valuestring);
	if (*out == NULL)
		return err_set(msg, SIGNET_ERR_ALLOC, "out of memory");
	return 0;
}

static int
take_row(const cJSON *row, size_t idx, bool docker,
    struct inventory_container *c, struct err_msg *msg)
{
	static const char *const frame_members[] = { "id", "names", "image",
		"state", "status", "labels", "created", NULL };
	const cJSON *v, *e;
	char *s = NULL;
	size_t n;
	int r;

	memset(c, 0, sizeof(*c));
	if (!cJSON_IsObject(row))
		return err_set(msg, SIGNET_ERR_FORMAT,
		    "containers[%zu]: must be an object", idx);
	if (!docker) {
		char path[48];
		(void)snprintf(path, sizeof(path), "containers[%zu]", idx);
		r = jsonx_only_members(row, frame_members, path, msg);
		if (r != 0)
			return r;
	}
	v = cJSON_GetObjectItemCaseSensitive(row, docker ? "Id" : "id");
	if (!cJSON_IsString(v) || !text_is_hex(v->valuestring, 64))
		return err_set(msg, SIGNET_ERR_FORMAT,
		    "containers[%zu].id: must be 64 lowercase hex digits", idx);
	memcpy(c->id, v->valuestring, 65);

	v = cJSON_GetObjectItemCaseSensitive(row, docker ? "Names" : "names");
	if (!cJSON_IsArray(v))
		return err_set(msg, SIGNET_ERR_FORMAT,
		    "containers[%zu].names: must be an array", idx);
	n = (size_t)cJSON_GetArraySize(v);
	if (n > INVENTORY_MAX_NAMES)
		return err_set(msg, SIGNET_ERR_TOO_LARGE,
		    "containers[%zu].names: more than %d", idx,
		    INVENTORY_MAX_NAMES);
	c->names = calloc(n == 0 ? 1 : n, sizeof(*c->names));
	if (c->names == NULL)
		return err_set(msg, SIGNET_ERR_ALLOC, "out of memory");
	cJSON_ArrayForEach(e, v)
	{
		r = take_text(e, "names[]", idx, INVENTORY_NAME_MAX, false, &s,
		    msg);
		if (r != 0)
			return r;
		c->names[c->nnames++] = s;
	}

	r = take_text(
	    cJSON_GetObjectItemCaseSensitive(row, docker ? "Image" : "image"),
	    "image", idx, INVENTORY_IMAGE_MAX, false, &c->image, msg);
	if (r != 0)
		return r;
	r = take_text(
	    cJSON_GetObjectItemCaseSensitive(row, docker ? "State" : "state"),
	    "state", idx, INVENTORY_STATE_MAX, false, &s, msg);
	if (r != 0)
		return r;
	memcpy(c->state, s, strlen(s) + 1);
	free(s);
	s = NULL;
	r = take_text(
	    cJSON_GetObjectItemCaseSensitive(row, docker ? "Status" : "status"),
	    "status", idx, INVENTORY_STATUS_MAX, true, &c->status, msg);
	if (r != 0)
		return r;

	v = cJSON_GetObjectItemCaseSensitive(row, docker ? "Labels" : "labels");
	/* dockerd writes null for a container without labels. */
	if (v != NULL && !cJSON_IsNull(v)) {
		if (!cJSON_IsObject(v))
			return err_set(msg, SIGNET_ERR_FORMAT,
			    "containers[%zu].labels: must be an object", idx);
		n = (size_t)cJSON_GetArraySize(v);
		if (n > INVENTORY_MAX_LABELS)
			return err_set(msg, SIGNET_ERR_TOO_LARGE,
			    "containers[%zu].labels: more than %d", idx,
			    INVENTORY_MAX_LABELS);
		c->labels = calloc(n == 0 ? 1 : n, sizeof(*c->labels));
		if (c->labels == NULL)
			return err_set(msg, SIGNET_ERR_ALLOC, "out of memory");
		cJSON_ArrayForEach(e, v)
		{
			struct inventory_label *l = &c->labels[c->nlabels];
			size_t klen = e->string != NULL ? strlen(e->string) : 0;

			if (klen == 0 || klen > INVENTORY_LABEL_KEY_MAX ||
			    text_has_control(e->string) ||
			    !text_utf8_valid(e->string, klen))
				return err_set(msg, SIGNET_ERR_FORMAT,
				    "containers[%zu].labels: bad key", idx);
			r = take_text(e, "labels{}", idx,
			    INVENTORY_LABEL_VALUE_MAX, true, &l->value, msg);
			if (r != 0)
				return r;
			l->key = strdup(e->string);
			if (l->key == NULL) {
				free(l->value);
				return err_set(msg, SIGNET_ERR_ALLOC,
				    "out of memory");
			}
			c->nlabels++;
		}
	} else if (!docker && v == NULL) {
		return err_set(msg, SIGNET_ERR_FORMAT,
		    "containers[%zu].labels: missing", idx);
	}

	v = cJSON_GetObjectItemCaseSensitive(row,
	    docker ? "Created" : "created");
	if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble) ||
	    v->valuedouble != floor(v->valuedouble) || v->valuedouble < 0 ||
	    v->valuedouble > (double)JSONX_INT_MAX)
		return err_set(msg, SIGNET_ERR_FORMAT,
		    "containers[%zu].created: must be a non-negative integer",
		    idx);
	c->created = (int64_t)v->valuedouble;
	return 0;
}

/*
 * The ids seen so far in one inventory, hashed with a random SipHash key:
 * comparing each row with every earlier one was quadratic, 2-5 ms of the
 * hub's only thread per 1,000-container inventory, and a key an agent cannot
 * know keeps a crafted set of ids from piling into one chain.
 */
struct id_set {
	const char **slot;
	size_t mask;
	unsigned char key[crypto_shorthash_KEYBYTES];
};

static int
id_set_init(struct id_set *s, size_t n)
{
	size_t cap = 16;

	while (cap < 2 * n)
		cap *= 2;
	s->slot = calloc(cap, sizeof(*s->slot));
	if (s->slot == NULL)
		return SIGNET_ERR_ALLOC;
	s->mask = cap - 1;
	randombytes_buf(s->key, sizeof(s->key));
	return 0;
}

/* Adds id (kept by the caller); false when it is there already. */
static bool
id_set_add(struct id_set *s, const char *id)
{
	unsigned char h[crypto_shorthash_BYTES];
	uint64_t v = 0;
	size_t i, k;

	(void)crypto_shorthash(h, (const unsigned char *)id, strlen(id),
	    s->key);
	for (k = 0; k < sizeof(h); k++)
		v = v << 8 | h[k];
	for (i = (size_t)v & s->mask; s->slot[i] != NULL;
	     i = (i + 1) & s->mask) {
		if (strcmp(s->slot[i], id) == 0)
			return false;
	}
	s->slot[i] = id;
	return true;
}

static int
from_array(const cJSON *arr, bool docker, struct inventory **out,
    struct err_msg *msg)
{
	struct id_set ids = { NULL, 0, { 0 } };
	struct inventory *inv = NULL;
	const cJSON *row;
	size_t n, i;
	struct err_msg rowmsg;
	int r;

	*out = NULL;
	if (!cJSON_IsArray(arr))
		return err_set(msg, SIGNET_ERR_FORMAT,
		    "containers: must be an array");
	n = (size_t)cJSON_GetArraySize(arr);
	if (n > INVENTORY_MAX_CONTAINERS)
		return err_set(msg, SIGNET_ERR_TOO_LARGE,
		    "containers: %zu rows, more than %d", n,
		    INVENTORY_MAX_CONTAINERS);
	inv = calloc(1, sizeof(*inv));
	if (inv == NULL)
		return err_set(msg, SIGNET_ERR_ALLOC, "out of memory");
	inv->items = calloc(n == 0 ? 1 : n, sizeof(*inv->items));
	if (inv->items == NULL || id_set_init(&ids, n) != 0) {
		r = err_set(msg, SIGNET_ERR_ALLOC, "out of memory");
		goto out;
	}
	i = 0;
	n = 0;
	cJSON_ArrayForEach(row, arr)
	{
		err_clear(&rowmsg);
		r = take_row(row, n, docker, &inv->items[i], &rowmsg);
		inv->count = i + 1; /* so that a half row is freed too */
		if (r == 0 && !id_set_add(&ids, inv->items[i].id))
			r = err_set(&rowmsg, SIGNET_ERR_FORMAT,
			    "containers[%zu]: duplicate id", n);
		n++;
		if (r != 0 && (!docker || r == SIGNET_ERR_ALLOC)) {
			if (msg != NULL)
				*msg = rowmsg;
			goto out;
		}
		if (r != 0) {
			/* Keep the first reason; leave the row out. */
			if (inv->skipped++ == 0 && msg != NULL)
				*msg = rowmsg;
			container_clear(&inv->items[i]);
			inv->count = i;
			continue;
		}
		i++;
	}
	*out = inv;
	inv = NULL;
	r = 0;
out:
	free(ids.slot);
	inventory_free(inv);
	return r;
}

int
inventory_from_docker(const char *json, size_t len, struct inventory **out,
    struct err_msg *msg)
{
	cJSON *root = NULL;
	const char *end = NULL;
	int r;

	*out = NULL;
	if (!text_utf8_valid(json, len))
		return err_set(msg, SIGNET_ERR_FORMAT,
		    "dockerd answer: not valid UTF-8");
	root = cJSON_ParseWithLengthOpts(json, len, &end, false);
	if (root == NULL)
		return err_set(msg, SIGNET_ERR_FORMAT,
		    "dockerd answer: malformed JSON");
	r = from_array(root, true, out, msg);
	cJSON_Delete(root);
	return r;
}

int
inventory_from_frame(const cJSON *containers, struct inventory **out,
    struct err_msg *msg)
{
	return from_array(containers, false, out, msg);
}

cJSON *
inventory_container_json(const struct inventory_container *c,
    const char *host_id)
{
	cJSON *o = cJSON_CreateObject(), *names = NULL, *labels = NULL;
	size_t i;

	if (o == NULL)
		return NULL;
	if (host_id != NULL &&
	    cJSON_AddStringToObject(o, "host_id", host_id) == NULL)
		goto fail;
	if (cJSON_AddStringToObject(o, "id", c->id) == NULL)
		goto fail;
	names = cJSON_AddArrayToObject(o, "names");
	if (names == NULL)
		goto fail;
	for (i = 0; i < c->nnames; i++) {
		cJSON *s = cJSON_CreateString(c->names[i]);
		if (s == NULL || !cJSON_AddItemToArray(names, s)) {
			cJSON_Delete(s);
			goto fail;
		}
	}
	if (cJSON_AddStringToObject(o, "image", c->image) == NULL ||
	    cJSON_AddStringToObject(o, "state", c->state) == NULL ||
	    cJSON_AddStringToObject(o, "status", c->status) == NULL)
		goto fail;
	labels = cJSON_AddObjectToObject(o, "labels");
	if (labels == NULL)
		goto fail;
	for (i = 0; i < c->nlabels; i++) {
		if (cJSON_AddStringToObject(labels, c->labels[i].key,
		        c->labels[i].value) == NULL)
			goto fail;
	}
	if (cJSON_AddNumberToObject(o, "created", (double)c->created) == NULL)
		goto fail;
	return o;
fail:
	cJSON_Delete(o);
	return NULL;
}

cJSON *
inventory_to_json(const struct inventory *inv, const char *host_id)
{
	cJSON *arr = cJSON_CreateArray();
	size_t i;

	if (arr == NULL)
		return NULL;
	for (i = 0; inv != NULL && i < inv->count; i++) {
		cJSON *row = inventory_container_json(&inv->items[i], host_id);
		if (row == NULL || !cJSON_AddItemToArray(arr, row)) {
			cJSON_Delete(row);
			cJSON_Delete(arr);
			return NULL;
		}
	}
	return arr;
}

struct inventory *
inventory_dup(const struct inventory *inv)
{
	struct inventory *copy = NULL;
	cJSON *arr = inventory_to_json(inv, NULL);
	struct err_msg msg;

	/* Through JSON: one well-tested path, and the copy is re-checked. */
	if (arr == NULL)
		return NULL;
	if (inventory_from_frame(arr, &copy, &msg) != 0)
		copy = NULL;
	cJSON_Delete(arr);
	return copy;
}

const struct inventory_container *
inventory_find(const struct inventory *inv, const char *id)
{
	size_t i;

	for (i = 0; inv != NULL && i < inv->count; i++) {
		if (strcmp(inv->items[i].id, id) == 0)
			return &inv->items[i];
	}
	return NULL;
}

const char *
inventory_label(const struct inventory_container *c, const char *key)
{
	size_t i;

	for (i = 0; i < c->nlabels; i++) {
		if (strcmp(c->labels[i].key, key) == 0)
			return c->labels[i].value;
	}
	return NULL;
}

const char *
inventory_primary_name(const struct inventory_container *c)
{
	if (c->nnames == 0)
		return "";
	return c->names[0][0] == '/' ? c->names[0] + 1 : c->names[0];
}
