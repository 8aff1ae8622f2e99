/* SPDX-License-Identifier: ISC */
/*
 * libFuzzer harness for signed notes, checkpoints and cosignatures
 * (common/note.h): the input is a note, opened against a log key and a
 * witness's cosignature key (the seeds in tests/fuzz/corpus/note carry
 * their real signatures, so the verifying paths run), as a checkpoint of
 * that log, with a cosignature line added, and parsed as a bare
 * checkpoint text, as a verifier key and as one cosignature line. Strict parsing means one
 * spelling per checkpoint: format(parse(x)) must give x back.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "note.h"

#define LOG_VKEY                                                               \
	"example.com/behind-the-sofa+bed5581b+"                                \
	"ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
#define WIT_VKEY                                                               \
	"witness.example.com/w1+d46a2b1b+"                                     \
	"BBpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
#define EXTRA_LINE                                                             \
	"\xe2\x80\x94 witness.example.com/w2 "                                 \
	"jWbPPwAAAABkGFDLEZMHwSRaJNiIDoe9DYn/zXcrtPHeolMI5OWXEhZCB9dlrDJsX3b2oyin1nPZqhf5nNo0xUe+mbIUBkBIfZ+qnA==\n"

#define BODY                                                                   \
	"example.com/behind-the-sofa\n20852163\n"                              \
	"CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_note(const struct note *n, size_t nknown)
{
	size_t i, verified = 0;

	if (n->text_len == 0 || n->text_len > n->len ||
	    n->buf[n->text_len - 1] != '\n' || n->nsigs == 0 ||
	    n->nsigs > NOTE_SIGS_MAX)
		abort();
	for (i = 0; i < n->nsigs; i++) {
		if (n->sigs[i].verifier >= (int)nknown ||
		    n->sigs[i].line_off < n->text_len + 1 ||
		    n->sigs[i].line_len > n->len - n->sigs[i].line_off)
			abort();
		if (n->sigs[i].verifier >= 0)
			verified++;
	}
	if (verified != n->nverified)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct note_verifier known[2];
	static int ready;
	struct note_checkpoint cp, back;
	struct note_verifier v;
	struct note *n = NULL, *n2 = NULL;
	char buf[NOTE_CHECKPOINT_MAX + 1], *out = NULL;
	size_t len = 0;
	uint64_t ts = 0;

	if (!ready) {
		if (note_verifier_parse(LOG_VKEY, strlen(LOG_VKEY), &known[0],
		        NULL) != 0 ||
		    note_verifier_parse(WIT_VKEY, strlen(WIT_VKEY), &known[1],
		        NULL) != 0)
			abort();
		ready = 1;
	}
	if (note_parse(data, size, &n, NULL) == 0) {
		check_note(n, 0);
		if (note_add_sigline(n, EXTRA_LINE, strlen(EXTRA_LINE), &out,
		        &len, NULL) == 0) {
			if (note_parse(out, len, &n2, NULL) != 0)
				abort(); /* what we write we read */
			note_free(n2);
			n2 = NULL;
			free(out);
			out = NULL;
		}
		note_free(n);
		n = NULL;
	}
	if (note_open(data, size, known, 2, &n, NULL) == 0) {
		check_note(n, 2);
		note_free(n);
		n = NULL;
	}
	if (note_checkpoint_open(data, size, known, 2, 0, &n, &cp, NULL) == 0) {
		check_note(n, 2);
		if (note_signed_by(n, 0) == NULL)
			abort();
		note_free(n);
		n = NULL;
	}
	if (note_checkpoint_parse((const char *)data, size, &cp, NULL) == 0) {
		if (note_checkpoint_format(&cp, buf, sizeof(buf), &len, NULL) !=
		        0 ||
		    len != size || memcmp(buf, data, size) != 0)
			abort();
		if (note_checkpoint_parse(buf, len, &back, NULL) != 0 ||
		    back.size != cp.size)
			abort();
	}
	(void)note_verifier_parse((const char *)data, size, &v, NULL);
	if (note_verify_sigline(BODY, strlen(BODY), (const char *)data, size,
	        &known[1], &ts, NULL) != 0 &&
	    ts != 0)
		abort();
	return 0;
}
