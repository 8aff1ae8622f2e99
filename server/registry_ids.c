/* SPDX-License-Identifier: ISC */
/*
 * Full container id -> connected host (registry_ids.h): open addressing
 * with linear probing and backward-shift deletion, so that there are no
 * tombstones to sweep; at most half full.
 */
#include "registry_ids.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#define IDS_FIRST_CAP 64

struct slot {
	bool used;
	char id[REGISTRY_IDS_ID_LEN + 1];
	char host[REGISTRY_IDS_HOST_MAX + 1];
};

struct registry_ids {
	struct slot *slots;
	size_t cap, count; /* cap: a power of two */
	unsigned char key[crypto_shorthash_KEYBYTES];
};

struct registry_ids *
registry_ids_new(void)
{
	struct registry_ids *m;

	if (sodium_init() < 0)
		return NULL;
	m = calloc(1, sizeof(*m));
	if (m == NULL)
		return NULL;
	randombytes_buf(m->key, sizeof(m->key));
	return m;
}

void
registry_ids_free(struct registry_ids *m)
{
	if (m == NULL)
		return;
	free(m->slots);
	free(m);
}

static size_t
home_of(const unsigned char key[static crypto_shorthash_KEYBYTES],
    const char *id, size_t cap)
{
	unsigned char h[crypto_shorthash_BYTES];
	uint64_t v = 0;
	size_t i;

	(void)crypto_shorthash(h, (const unsigned char *)id,
	    REGISTRY_IDS_ID_LEN, key);
	for (i = 0; i < sizeof(h); i++)
		v = (v << 8) | h[i];
	return (size_t)(v & (cap - 1));
}

/* The slot of id, or of the free slot where it would go. cap > 0. */
static size_t
probe(const struct registry_ids *m, const char *id)
{
	size_t i = home_of(m->key, id, m->cap);

	while (m->slots[i].used && strcmp(m->slots[i].id, id) != 0)
		i = (i + 1) & (m->cap - 1);
	return i;
}

static int
grow(struct registry_ids *m, size_t ncap)
{
	struct slot *old = m->slots, *ns;
	size_t ocap = m->cap, i;

	ns = calloc(ncap, sizeof(*ns));
	if (ns == NULL)
		return SIGNET_ERR_ALLOC;
	m->slots = ns;
	m->cap = ncap;
	for (i = 0; i < ocap; i++)
		if (old[i].used)
			m->slots[probe(m, old[i].id)] = old[i];
	free(old);
	return 0;
}

int
registry_ids_reserve(struct registry_ids *m, size_t n)
{
	size_t need, ncap = m->cap == 0 ? IDS_FIRST_CAP : m->cap;

	if (n > SIZE_MAX / 4 - m->count)
		return SIGNET_ERR_ALLOC;
	need = (m->count + n) * 2; /* at most half full */
	while (ncap < need) {
		if (ncap > SIZE_MAX / 2 / sizeof(struct slot))
			return SIGNET_ERR_ALLOC;
		ncap *= 2;
	}
	if (ncap == m->cap)
		return 0;
	return grow(m, ncap);
}

const char *
registry_ids_get(const struct registry_ids *m, const char *id)
{
	size_t i;

	if (m->cap == 0 || id == NULL ||
	    strnlen(id, REGISTRY_IDS_ID_LEN + 1) != REGISTRY_IDS_ID_LEN)
		return NULL;
	i = probe(m, id);
	return m->slots[i].used ? m->slots[i].host : NULL;
}

int
registry_ids_put(struct registry_ids *m, const char *id, const char *host)
{
	size_t i;

	if (id == NULL || host == NULL ||
	    strnlen(id, REGISTRY_IDS_ID_LEN + 1) != REGISTRY_IDS_ID_LEN ||
	    strnlen(host, REGISTRY_IDS_HOST_MAX + 1) > REGISTRY_IDS_HOST_MAX)
		return SIGNET_ERR_INVALID_ARG;
	if ((m->count + 1) * 2 > m->cap)
		return SIGNET_ERR_ALLOC;
	i = probe(m, id);
	if (m->slots[i].used)
		return SIGNET_ERR_EXISTS;
	m->slots[i].used = true;
	memcpy(m->slots[i].id, id, REGISTRY_IDS_ID_LEN + 1);
	memcpy(m->slots[i].host, host, strlen(host) + 1);
	m->count++;
	return 0;
}

void
registry_ids_del(struct registry_ids *m, const char *id, const char *host)
{
	size_t i, j, home, mask;

	if (registry_ids_get(m, id) == NULL)
		return;
	mask = m->cap - 1;
	i = probe(m, id);
	if (strcmp(m->slots[i].host, host) != 0)
		return;
	/*
	 * Backward shift: move later entries of the run into the hole when
	 * their home slot does not lie cyclically in (hole, their slot].
	 */
	j = i;
	for (;;) {
		j = (j + 1) & mask;
		if (!m->slots[j].used)
			break;
		home = home_of(m->key, m->slots[j].id, m->cap);
		if (((j - home) & mask) >= ((j - i) & mask)) {
			m->slots[i] = m->slots[j];
			i = j;
		}
	}
	memset(&m->slots[i], 0, sizeof(m->slots[i]));
	m->count--;
}

size_t
registry_ids_count(const struct registry_ids *m)
{
	return m->count;
}
