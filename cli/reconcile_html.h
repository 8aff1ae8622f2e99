/* SPDX-License-Identifier: ISC */
/*
 * The reviewer's report of signetctl audit reconcile: one self-contained
 * HTML5 document (inline CSS, no script, no external asset, a strict
 * Content-Security-Policy) written as a stream, so that the caller holds
 * one action at a time whatever the number of actions. The caller calls
 * reconcile_html_begin once, reconcile_html_action for each action (those
 * with problems first, then the others: the report opens the section
 * "Actions in agreement" at the first action without problems) and
 * reconcile_html_end once. Between begin and end the module keeps which
 * section is open (static state): one report at a time per process, from
 * one thread. Every string from the JSON comes from logs and
 * is treated as hostile: HTML-escaped (text and attribute contexts),
 * control bytes and invalid UTF-8 replaced by U+FFFD, never emitted as a
 * URL, a style or a script. Any member may be absent; it is shown as
 * "unknown" or left out. The JSON shapes (SUMMARY, ACTION) are the
 * engine's (cli/reconcile.h, docs/audit.md).
 */
#ifndef SIGNET_RECONCILE_HTML_H
#define SIGNET_RECONCILE_HTML_H

#include <stdio.h>

#include <cjson/cJSON.h>

#include "err.h"

/*
 * Writes the head (title, style, policy) and the summary: generated time,
 * the logs reconciled, totals, problems by kind with their sentences, the
 * hosts whose logs are missing. summary may be NULL (an empty summary).
 * Returns 0, SIGNET_ERR_INVALID_ARG (out NULL) or SIGNET_ERR_IO (a write
 * failed; errno says why; the document is incomplete).
 */
int reconcile_html_begin(FILE *out, const cJSON *summary)
    __attribute__((warn_unused_result));

/*
 * Writes one action (an ACTION object; NULL or a non-object is shown as
 * an action nobody could read). Actions with a non-empty "problems" array
 * go under "Actions with problems", the others under "Actions in
 * agreement"; the caller gives the first kind first (one with problems
 * given later still shows them, under the second heading). Returns 0,
 * SIGNET_ERR_INVALID_ARG (out NULL, not the FILE of the open report, or
 * no report open: begin failed or was not called) or SIGNET_ERR_IO.
 */
int reconcile_html_action(FILE *out, const cJSON *action)
    __attribute__((warn_unused_result));

/*
 * Closes the open section and the document and flushes out (the caller
 * closes it). Returns 0, SIGNET_ERR_INVALID_ARG (as for
 * reconcile_html_action) or SIGNET_ERR_IO (a write or the flush failed).
 */
int reconcile_html_end(FILE *out) __attribute__((warn_unused_result));

#endif
