/* SPDX-License-Identifier: ISC */
/*
 * Container inventory rows (docs/protocol.md, http-api.md): what an agent
 * reports of its dockerd and what the server keeps and serves. Built from
 * dockerd's own GET /containers/json on the agent, parsed strictly from
 * inventory frames on the server; both treat the input as hostile and bound
 * every field.
 */
#ifndef SIGNET_INVENTORY_H
#define SIGNET_INVENTORY_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "err.h"

#define INVENTORY_MAX_CONTAINERS 5000
#define INVENTORY_MAX_NAMES 16
#define INVENTORY_MAX_LABELS 256
#define INVENTORY_NAME_MAX 256 /* bytes, one container name */
#define INVENTORY_IMAGE_MAX 1024
#define INVENTORY_STATUS_MAX 256
#define INVENTORY_LABEL_KEY_MAX 256
#define INVENTORY_LABEL_VALUE_MAX 4096
#define INVENTORY_STATE_MAX 15

struct inventory_label {
	char *key;
	char *value;
};

struct inventory_container {
	char id[65];  /* 64 lowercase hex */
	char **names; /* as dockerd gives them ("/web-1") */
	size_t nnames;
	char *image;
	char state[INVENTORY_STATE_MAX + 1]; /* created, running, ... */
	char *status;                        /* "Up 5 minutes" */
	struct inventory_label *labels;
	size_t nlabels;
	int64_t created; /* unix seconds */
};

struct inventory {
	struct inventory_container *items;
	size_t count;
	size_t skipped; /* dockerd rows left out: they failed a check */
};

/*
 * Builds an inventory from dockerd's GET /containers/json?all=1 answer
 * (a JSON array of objects with Id, Names, Image, State, Status, Labels,
 * Created). Unknown members are ignored (dockerd adds many); the ones used
 * are type- and size-checked, and a row that fails is left out and counted
 * in skipped (msg says why for the first), so that one container with a
 * hostile label cannot hide all the others. SIGNET_ERR_FORMAT / TOO_LARGE
 * when the answer as a whole is unusable.
 */
int inventory_from_docker(const char *json, size_t len, struct inventory **out,
    struct err_msg *msg) __attribute__((warn_unused_result));

/*
 * Parses the "containers" array of an inventory frame strictly: exactly the
 * members id, names, image, state, status, labels, created with their
 * types; an unknown member or a duplicate id is refused.
 */
int inventory_from_frame(const cJSON *containers, struct inventory **out,
    struct err_msg *msg) __attribute__((warn_unused_result));

/*
 * One row as a JSON object (the frame's and the API's shape); host_id is
 * added first when not NULL. NULL on allocation failure.
 */
cJSON *inventory_container_json(const struct inventory_container *c,
    const char *host_id);

/* The whole inventory as a JSON array of rows. NULL on allocation failure. */
cJSON *inventory_to_json(const struct inventory *inv, const char *host_id);

/* A deep copy, or NULL on allocation failure. */
struct inventory *inventory_dup(const struct inventory *inv);

/* The container with this full id, or NULL. */
const struct inventory_container *inventory_find(const struct inventory *inv,
    const char *id);

/* Value of label key, or NULL. */
const char *inventory_label(const struct inventory_container *c,
    const char *key);

/* The first name without dockerd's leading '/', or "" when none. */
const char *inventory_primary_name(const struct inventory_container *c);

/* Removes row i (freeing what it holds); rows after it move up. */
void inventory_remove(struct inventory *inv, size_t i);

void inventory_free(struct inventory *inv);

#endif
