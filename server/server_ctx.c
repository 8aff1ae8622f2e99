/* SPDX-License-Identifier: ISC */
/* The shared server context: identity store swapping, agent keys. */
#include "server_ctx.h"

#include <stdio.h>
#include <string.h>

#include "clock.h"
#include "keyset.h"
#include "keyset_cache.h"
#include "text.h"

int
server_ctx_init(struct server_ctx *ctx)
{
	return pthread_mutex_init(&ctx->identity_mu, NULL) == 0 ?
	    0 :
	    SIGNET_ERR_INTERNAL;
}

struct identity_store *
server_ctx_identity(struct server_ctx *ctx)
{
	struct identity_store *s;

	(void)pthread_mutex_lock(&ctx->identity_mu);
	s = ctx->identity != NULL ? identity_store_ref(ctx->identity) : NULL;
	(void)pthread_mutex_unlock(&ctx->identity_mu);
	return s;
}

int
server_ctx_reload_identity(struct server_ctx *ctx, struct err_msg *msg)
{
	struct identity_store *fresh = NULL, *old;
	int r;

	r = identity_store_load(ctx->ca_path, ctx->crl_path, &fresh, msg);
	if (r != 0)
		return r;
	(void)pthread_mutex_lock(&ctx->identity_mu);
	old = ctx->identity;
	ctx->identity = fresh;
	(void)pthread_mutex_unlock(&ctx->identity_mu);
	identity_store_free(old);
	return 0;
}

int
server_ctx_agent_keys(struct server_ctx *ctx, const char *host_id,
    struct keyset *out, struct err_msg *msg)
{
	/*
	 * Checked on every hello, result and outcome: a rotation takes
	 * effect at once, and a key others may write is refused. The cache
	 * reads the files only when stat() says they changed.
	 */
	if (ctx->agent_keys != NULL)
		return keyset_cache_load(ctx->agent_keys, host_id, out, msg);
	return keyset_load(ctx->agents_dir, host_id, true, out, msg);
}

int
server_ctx_agent_key(struct server_ctx *ctx, const char *host_id,
    struct keys_public *out, struct err_msg *msg)
{
	struct keyset ks;
	int r;

	memset(out, 0, sizeof(*out));
	r = server_ctx_agent_keys(ctx, host_id, &ks, msg);
	if (r != 0)
		return r;
	if (!ks.has_current)
		return err_set(msg, SIGNET_ERR_NOT_FOUND,
		    "%s/%s.pub: no current result key (retired ones only)",
		    ctx->agents_dir, host_id);
	*out = ks.keys[0].pub;
	return 0;
}

int
server_ctx_reload_roster(struct server_ctx *ctx, struct err_msg *msg)
{
	enum roster_offer what;
	int r;

	if (ctx->roster == NULL)
		return 0;
	r = roster_store_load(ctx->roster, clock_wall_ms(), &what, msg);
	if (r != 0)
		return r;
	return what == ROSTER_OFFER_TAKEN ? 1 : 0;
}

void
server_ctx_destroy(struct server_ctx *ctx)
{
	roster_store_free(ctx->roster);
	ctx->roster = NULL;
	identity_store_free(ctx->identity);
	ctx->identity = NULL;
	keyset_cache_free(ctx->agent_keys);
	ctx->agent_keys = NULL;
	(void)pthread_mutex_destroy(&ctx->identity_mu);
}
