/* SPDX-License-Identifier: ISC */
/*
 * signetctl's client side of the operator API (docs/http-api.md): the
 * check of the connection settings (cmd.c resolves them), one HTTPS
 * request with the client certificate over libcurl (peer and host
 * verification always on, https only, answer size bounded, an optional
 * progress line and stop flag), and helpers to print what came back
 * safely: the server is trusted to be the server, not to send
 * terminal-safe text.
 */
#ifndef SIGNETCTL_HTTP_H
#define SIGNETCTL_HTTP_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include <cjson/cJSON.h>

#include "err.h"

#define HTTP_URL_MAX 1024        /* --server value */
#define HTTP_KEY_MAX (64 * 1024) /* client key file */
#define HTTP_ANSWER_MAX (64 * 1024 * 1024)
#define HTTP_CONNECT_TIMEOUT 10 /* seconds */
#define HTTP_TIMEOUT_DEFAULT 60 /* seconds for a whole request */

/*
 * Where and as whom to connect. Strings are borrowed (argv, environ, a
 * loaded context). progress, when not NULL, is a label for a line on
 * standard error that counts the seconds while the request waits, drawn
 * only when standard error is a terminal and cleared at the end. stop,
 * when not NULL, ends the request (HTTP_FAIL_ABORTED) within about a
 * second once it becomes non-zero (a signal handler sets it).
 */
struct http_opts {
	const char *server; /* https://HOST[:PORT], no path */
	const char *cert;
	const char *key;
	const char *ca;
	const char *progress;
	volatile sig_atomic_t *stop;
	/* The media type of a request body; NULL: application/json. */
	const char *content_type;
};

/*
 * Checks a complete set of options: all four given, the server an
 * https:// URL without path, query or credentials. Returns 0 or
 * SIGNET_ERR_INVALID_ARG with msg.
 */
int http_opts_check(const struct http_opts *o, struct err_msg *msg)
    __attribute__((warn_unused_result));

/* Why http_request got no answer. */
enum http_failure {
	HTTP_FAIL_NONE = 0,
	HTTP_FAIL_LOCAL,       /* a local file, memory, libcurl */
	HTTP_FAIL_UNREACHABLE, /* resolve, connect, TLS, cut off */
	HTTP_FAIL_TIMEOUT,     /* no answer in time */
	HTTP_FAIL_ABORTED,     /* *o->stop was set */
};

/* What the server answered. */
struct http_response {
	long status; /* HTTP status */
	char *body;  /* NUL-terminated; free() */
	size_t len;
	enum http_failure failure; /* set when http_request fails */
};

/*
 * Sends method path (which starts with "/" and holds any query, already
 * escaped) with body (NULL for none; sent as application/json, or as
 * o->content_type says) to the
 * server and stores the answer in *resp, whatever its status. The client
 * key is read under the secret-file rules (refused when group or others
 * may read it) and wiped after use. Returns 0 when an HTTP answer came
 * back, else SIGNET_ERR_IO (connection, TLS, timeout: msg says which and
 * what to check), SIGNET_ERR_TOO_LARGE (answer over HTTP_ANSWER_MAX), or a
 * file error for the key; resp->failure then classifies the failure.
 */
int http_request(const struct http_opts *o, const char *method,
    const char *path, const char *body, size_t body_len, long timeout_s,
    struct http_response *resp, struct err_msg *msg)
    __attribute__((warn_unused_result));

/* Frees resp->body and clears resp; NULL allowed. */
void http_response_free(struct http_response *resp);

/*
 * Appends "&name=value" (or "?name=value" when path has no query yet)
 * to path[0..size), percent-encoding value. 0 or SIGNET_ERR_TOO_LARGE.
 */
int http_path_add_query(char *path, size_t size, const char *name,
    const char *value) __attribute__((warn_unused_result));

/*
 * Prints "signetctl CMD: server answered STATUS: MESSAGE" to stderr, with
 * the server's {"error"} message (or the start of its body) escaped.
 */
void http_print_failure(const char *cmd, const struct http_response *resp);

/*
 * A member of obj as a terminal-safe cell in out: strings escaped,
 * integers in decimal, booleans yes/no, "-" when absent or other. Returns
 * out.
 */
const char *http_json_cell(const cJSON *obj, const char *key, char *out,
    size_t outlen);

/*
 * For the list commands: GETs path and, on a 2xx answer, either prints
 * the body as is (json; *doc stays NULL) or parses it into *doc
 * (cJSON_Delete it) with *list its member array. Says why on stderr
 * otherwise ("signetctl CMD: ..."). Returns CMD_OK or the exit code of
 * the failure (cmd_exit_of_status, cmd_exit_of_failure in cmd.h).
 */
int http_get_list(const char *cmd, const struct http_opts *o, const char *path,
    bool json, const char *member, cJSON **doc, const cJSON **list)
    __attribute__((warn_unused_result));

/*
 * A plain text table of nrows x ncols cells of at most cell - 1 bytes
 * each (fill them with text_vis_str or http_json_cell output).
 */
struct http_table {
	size_t ncols, nrows, cell;
	char *block;
};

#define HTTP_TABLE_ROWS_MAX 1000000
#define HTTP_TABLE_COLS_MAX 16

/* 0, SIGNET_ERR_TOO_LARGE (over the maxima) or SIGNET_ERR_ALLOC. */
int http_table_init(struct http_table *t, size_t ncols, size_t nrows,
    size_t cell) __attribute__((warn_unused_result));

/* The cell at row r, column c: a buffer of t->cell bytes. */
char *http_table_cell(struct http_table *t, size_t r, size_t c);

/*
 * Prints headers and the rows, each column as wide as its widest cell,
 * two spaces apart, no trailing blanks.
 */
void http_table_print(FILE *f, const struct http_table *t,
    const char *const headers[]);

void http_table_free(struct http_table *t);

#endif
