/* SPDX-License-Identifier: ISC */
/*
 * The held roster's no-rollback rule: a newer version is taken, an older
 * one is a rollback, the same version with other payload bytes an
 * equivocation (both refused, the held roster stays), and the same
 * payload bytes in another file (an admin added a signature: k-of-n) are
 * the roster held, not a refusal.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "roster.h"
#include "roster_store.h"
#include "testlib.h"

#define NOW 1705000000000LL

static struct keys_secret k1, k2;

/* A payload of version v naming operator name, signed by key (and by
 * key2 too when not NULL), as a new file (free()). */
static char *
signed_file(int v, const char *name, const struct keys_secret *key,
    const struct keys_secret *key2)
{
	char payload[400], pub[64], *one = NULL, *two = NULL;
	struct err_msg m;
	int n;

	sodium_bin2base64(pub, sizeof(pub), k1.pub.pk, 32,
	    sodium_base64_VARIANT_ORIGINAL);
	n = snprintf(payload, sizeof(payload),
	    "{\"v\":1,\"version\":%d,\"issued_at\":1700000000000,"
	    "\"expires_at\":1710000000000,\"operators\":[{\"name\":\"%s\","
	    "\"key\":\"%s\",\"groups\":[],\"not_after\":9000000000000}]}",
	    v, name, pub);
	if (n < 0 || (size_t)n >= sizeof(payload))
		return NULL;
	if (roster_sign((const uint8_t *)payload, (size_t)n, key, NULL, 0, &one,
	        &m) != 0)
		return NULL;
	if (key2 == NULL)
		return one;
	if (roster_sign((const uint8_t *)payload, (size_t)n, key2,
	        (const uint8_t *)one, strlen(one), &two, &m) != 0)
		two = NULL;
	free(one);
	return two;
}

static int
offer(struct roster_store *s, const char *file, enum roster_offer *what,
    struct err_msg *m)
{
	err_clear(m);
	return roster_store_offer(s, (const uint8_t *)file, strlen(file), NOW,
	    what, m);
}

static void
test_offers(void)
{
	struct keys_pubset set;
	struct roster_store *s = NULL;
	enum roster_offer what;
	struct err_msg m;
	char sha[65], held[65];
	char *v2 = signed_file(2, "alice", &k1, NULL);
	char *v2_both = signed_file(2, "alice", &k1, &k2);
	char *v2_other = signed_file(2, "mallory", &k1, NULL);
	char *v1 = signed_file(1, "alice", &k1, NULL);
	char *v3 = signed_file(3, "alice", &k2, NULL);

	CHECK(v2 != NULL && v2_both != NULL && v2_other != NULL && v1 != NULL &&
	    v3 != NULL);
	if (v2 == NULL || v2_both == NULL || v2_other == NULL || v1 == NULL ||
	    v3 == NULL)
		goto out;
	CHECK(strcmp(v2, v2_both) != 0);
	memset(&set, 0, sizeof(set));
	set.keys[set.count++] = k1.pub;
	set.keys[set.count++] = k2.pub;
	CHECK(roster_store_new(&set, 1, NULL, false, &s, &m) == 0);
	if (s == NULL)
		goto out;

	CHECK(offer(s, v2, &what, &m) == 0 && what == ROSTER_OFFER_TAKEN);
	CHECK(roster_store_version(s, held) == 2);
	CHECK(offer(s, v2, &what, &m) == 0 && what == ROSTER_OFFER_HELD);

	/* More signatures over the same payload: held, the file kept. */
	CHECK(offer(s, v2_both, &what, &m) == 0 && what == ROSTER_OFFER_HELD);
	CHECK(roster_store_version(s, sha) == 2 && strcmp(sha, held) == 0);

	/* Other payload bytes under the same version: an equivocation. */
	CHECK(offer(s, v2_other, &what, &m) == SIGNET_ERR_EXISTS && what == 0);
	CHECK_CONTAINS(m.text, "differs from the held roster of that version");
	CHECK(roster_store_version(s, sha) == 2 && strcmp(sha, held) == 0);

	CHECK(offer(s, v1, &what, &m) == SIGNET_ERR_EXISTS && what == 0);
	CHECK_CONTAINS(m.text, "a rollback");
	CHECK(roster_store_version(s, sha) == 2 && strcmp(sha, held) == 0);

	CHECK(offer(s, v3, &what, &m) == 0 && what == ROSTER_OFFER_TAKEN);
	CHECK(roster_store_version(s, sha) == 3);
	/* The older file with two signatures is still a rollback. */
	CHECK(offer(s, v2_both, &what, &m) == SIGNET_ERR_EXISTS);
	CHECK(roster_store_version(s, sha) == 3);
out:
	roster_store_free(s);
	free(v2);
	free(v2_both);
	free(v2_other);
	free(v1);
	free(v3);
}

int
main(void)
{
	if (sodium_init() < 0)
		return 1;
	CHECK(keys_generate(&k1) == 0);
	CHECK(keys_generate(&k2) == 0);
	test_offers();
	keys_secret_wipe(&k1);
	keys_secret_wipe(&k2);
	return test_finish("test_roster_store");
}
