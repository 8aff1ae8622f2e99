/* SPDX-License-Identifier: ISC */
/*
 * The agent's audit checkpoints on their way to the server
 * (docs/transparency.md, "Agents' checkpoints"; docs/protocol.md): the
 * audit writer's checkpoint thread hands each new checkpoint over here
 * (a copy under cp_mu and a wake-up, never a network call), and the
 * service thread, which owns the channel, sends it once the server said
 * on this connection which size it holds (its checkpoint_ack), with the
 * consistency proof from that size. One checkpoint is in flight at a
 * time: the next goes after its ack, so that each proof starts where the
 * server stands. A checkpoint the server refuses gets no ack: the agent
 * says so once and sends no more on that connection (the server's audit
 * log holds audit.checkpoint_refused; a new connection starts again).
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "audit_tree.h"
#include "daemon_int.h"
#include "log.h"
#include "wire.h"

void
daemon_checkpoint_published(void *arg, const char *note, size_t len,
    uint64_t size)
{
	struct daemon *d = arg;
	char *copy = malloc(len + 1);

	if (copy == NULL) {
		log_warn("checkpoint of size %" PRIu64 " not handed to the "
		         "channel: out of memory (the next one goes)",
		    size);
		return;
	}
	memcpy(copy, note, len);
	copy[len] = '\0';
	(void)pthread_mutex_lock(&d->cp_mu);
	if (d->cp_closed) {
		(void)pthread_mutex_unlock(&d->cp_mu);
		free(copy);
		return;
	}
	free(d->cp_note);
	d->cp_note = copy;
	d->cp_note_len = len;
	d->cp_size = size;
	channel_wake(d->ch);
	(void)pthread_mutex_unlock(&d->cp_mu);
}

void
daemon_checkpoint_reset(struct daemon *d)
{
	d->cp_acked = false;
	d->cp_acked_size = 0;
	d->cp_inflight = 0;
	d->cp_sent_any = false;
	d->cp_stall_said = false;
	d->cp_unprovable = 0;
}

void
daemon_checkpoint_acked(struct daemon *d, uint64_t size)
{
	if (d->cp_inflight != 0 && size != d->cp_inflight)
		log_warn("the server acknowledged checkpoint size %" PRIu64
		         ", not the %" PRIu64 " sent",
		    size, d->cp_inflight);
	d->cp_acked = true;
	d->cp_acked_size = size;
	d->cp_inflight = 0;
	daemon_checkpoint_flush(d);
}

void
daemon_checkpoint_flush(struct daemon *d)
{
	uint8_t proof[MERKLE_PROOF_MAX][MERKLE_HASH_LEN];
	uint8_t root[MERKLE_HASH_LEN];
	struct channel_frame *f = NULL;
	struct err_msg m;
	char *note = NULL, *text = NULL;
	size_t nproof = 0, len = 0;
	uint64_t size = 0, old;
	int r;

	if (!d->cp_acked || !channel_connected(d->ch))
		return;
	(void)pthread_mutex_lock(&d->cp_mu);
	size = d->cp_note != NULL ? d->cp_size : 0;
	(void)pthread_mutex_unlock(&d->cp_mu);
	if (size == 0)
		return;
	if (d->cp_inflight != 0) {
		if (size > d->cp_inflight && !d->cp_stall_said) {
			log_warn("the server has not acknowledged checkpoint "
			         "size %" PRIu64
			         " (refused? its audit log says "
			         "audit.checkpoint_refused): no more "
			         "checkpoints on this connection",
			    d->cp_inflight);
			d->cp_stall_said = true;
		}
		return;
	}
	/* After the first ack the latest goes once; then only new ones. */
	if ((d->cp_sent_any && size <= d->cp_acked_size) ||
	    size == d->cp_unprovable)
		return;
	(void)pthread_mutex_lock(&d->cp_mu);
	if (d->cp_note != NULL) {
		size = d->cp_size;
		note = strdup(d->cp_note);
	}
	(void)pthread_mutex_unlock(&d->cp_mu);
	if (note == NULL)
		return;
	old = d->cp_acked_size;
	err_clear(&m);
	if (old > 0 && old < size) {
		r = audit_tree_prove(d->audit, old, size, proof, &nproof, root,
		    &m);
		if (r != 0) {
			/* Not sent without its proof: tried again later. */
			log_warn("checkpoint of size %" PRIu64 " not sent: no "
			         "proof from %" PRIu64 ": %s",
			    size, old, m.text);
			d->cp_unprovable = size; /* the next one may go */
			goto out;
		}
	}
	/*
	 * old > size (the server holds more than this log: restored from a
	 * backup?) goes without a proof: the server refuses it as a
	 * rollback and records it, which is the point.
	 */
	r = wire_build_checkpoint(note, old,
	    (const uint8_t(*)[MERKLE_HASH_LEN])proof, nproof, &text, &len);
	if (r == 0)
		r = channel_frame_take(text, len, &f);
	if (r == 0)
		r = channel_send(d->ch, f);
	channel_frame_unref(f);
	if (r != 0) {
		log_debug("checkpoint of size %" PRIu64 " not queued now: %s",
		    size, err_str(r));
		goto out;
	}
	log_debug("checkpoint sent: size=%" PRIu64 " old=%" PRIu64 " proof=%zu",
	    size, old, nproof);
	d->cp_inflight = size;
	d->cp_sent_any = true;
out:
	free(note);
}

void
daemon_checkpoint_close(struct daemon *d)
{
	if (!d->cp_mu_ok)
		return;
	(void)pthread_mutex_lock(&d->cp_mu);
	d->cp_closed = true;
	free(d->cp_note);
	d->cp_note = NULL;
	(void)pthread_mutex_unlock(&d->cp_mu);
}
