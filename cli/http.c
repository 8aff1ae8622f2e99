/* SPDX-License-Identifier: ISC */
/*
 * signetctl's HTTPS client (libcurl, client certificate), its progress
 * line, and output made safe for a terminal.
 */
#include "http.h"

#include <inttypes.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>
#include <sodium.h>

#include "clock.h"
#include "dynbuf.h"
#include "cmd.h"
#include "fileio.h"
#include "text.h"

/* https://HOST[:PORT][/], HOST a name, IPv4 or [IPv6]; no user info. */
static bool
server_url_ok(const char *s)
{
	static const char scheme[] = "https://";
	const char *p;
	size_t n = strlen(s);

	if (n > HTTP_URL_MAX || strncmp(s, scheme, sizeof(scheme) - 1) != 0)
		return false;
	p = s + sizeof(scheme) - 1;
	if (*p == '\0' || *p == '/' || *p == ':')
		return false;
	for (; *p != '\0'; p++) {
		char c = *p;

		if (c == '/' && p[1] == '\0')
			break; /* one trailing slash */
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		        (c >= '0' && c <= '9') || c == '.' || c == '-' ||
		        c == ':' || c == '[' || c == ']' || c == '_'))
			return false;
	}
	return true;
}

int
http_opts_check(const struct http_opts *o, struct err_msg *msg)
{
	char esc[128];

	if (o->server == NULL || o->cert == NULL || o->key == NULL ||
	    o->ca == NULL)
		return err_set(msg, SIGNET_ERR_INVALID_ARG,
		    "incomplete "
		    "connection options");
	if (!server_url_ok(o->server))
		return err_set(msg, SIGNET_ERR_INVALID_ARG,
		    "server \"%s\" is "
		    "not https://HOST[:PORT] (no path, no credentials)",
		    text_escape_str(o->server, esc, sizeof(esc)));
	return 0;
}

void
http_response_free(struct http_response *resp)
{
	if (resp == NULL)
		return;
	free(resp->body);
	memset(resp, 0, sizeof(*resp));
}

/* The answer body, growing up to HTTP_ANSWER_MAX. */
struct sink {
	struct dynbuf buf;
	bool over;
};

static size_t
sink_write(char *data, size_t size, size_t nmemb, void *user)
{
	struct sink *s = user;
	int r;

	(void)size; /* always 1 (libcurl docs) */
	r = dynbuf_add(&s->buf, data, nmemb);
	if (r == SIGNET_ERR_TOO_LARGE)
		s->over = true;
	return r == 0 ? nmemb : 0;
}

static int
curl_failure(CURLcode rc, const char *errbuf, const struct http_opts *o,
    long timeout_s, enum http_failure *why, struct err_msg *msg)
{
	char url[160], detail[CURL_ERROR_SIZE + 64];

	switch (rc) {
	case CURLE_OPERATION_TIMEDOUT: *why = HTTP_FAIL_TIMEOUT; break;
	case CURLE_ABORTED_BY_CALLBACK: *why = HTTP_FAIL_ABORTED; break;
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_OUT_OF_MEMORY: *why = HTTP_FAIL_LOCAL; break;
	default: *why = HTTP_FAIL_UNREACHABLE; break;
	}

	(void)text_escape_str(o->server, url, sizeof(url));
	(void)text_escape_str(errbuf[0] != '\0' ? errbuf :
	                                          curl_easy_strerror(rc),
	    detail, sizeof(detail));
	switch (rc) {
	case CURLE_COULDNT_RESOLVE_HOST:
		return err_set(msg, SIGNET_ERR_IO,
		    "cannot resolve the host "
		    "of %s: %s",
		    url, detail);
	case CURLE_COULDNT_CONNECT:
		return err_set(msg, SIGNET_ERR_IO,
		    "cannot connect to %s (is "
		    "signet-server listening there?): %s",
		    url, detail);
	case CURLE_OPERATION_TIMEDOUT:
		return err_set(msg, SIGNET_ERR_IO,
		    "no answer from %s within "
		    "%ld s: %s",
		    url, timeout_s, detail);
	case CURLE_ABORTED_BY_CALLBACK:
		return err_set(msg, SIGNET_ERR_IO, "interrupted");
	case CURLE_PEER_FAILED_VERIFICATION:
		return err_set(msg, SIGNET_ERR_IO,
		    "the server's certificate "
		    "at %s is not trusted (not issued by the CA in --ca, "
		    "expired, or its names do not include the URL's host): "
		    "%s",
		    url, detail);
	case CURLE_SSL_CACERT_BADFILE:
		return err_set(msg, SIGNET_ERR_IO,
		    "cannot use the CA file: "
		    "%s",
		    detail);
	case CURLE_SSL_CERTPROBLEM:
		return err_set(msg, SIGNET_ERR_IO,
		    "cannot use the client "
		    "certificate and key (--cert, --key): %s",
		    detail);
	case CURLE_SSL_CONNECT_ERROR:
		return err_set(msg, SIGNET_ERR_IO,
		    "TLS handshake with %s "
		    "failed: %s",
		    url, detail);
	case CURLE_GOT_NOTHING:
	case CURLE_RECV_ERROR:
	case CURLE_SEND_ERROR:
		return err_set(msg, SIGNET_ERR_IO,
		    "%s closed the connection "
		    "without an answer: %s",
		    url, detail);
	default:
		return err_set(msg, SIGNET_ERR_IO, "request to %s failed: %s",
		    url, detail);
	}
}

/* The progress line and the stop flag, polled by libcurl. */
struct progress {
	const struct http_opts *o;
	bool draw;  /* a label, and stderr is a terminal */
	bool drawn; /* something to clear */
	int64_t start_ms, shown_s;
};

static int
progress_tick(void *user, curl_off_t dltotal, curl_off_t dlnow,
    curl_off_t ultotal, curl_off_t ulnow)
{
	struct progress *p = user;
	int64_t s;
	char label[120];

	(void)dltotal;
	(void)dlnow;
	(void)ultotal;
	(void)ulnow;
	if (p->o->stop != NULL && *p->o->stop != 0)
		return 1; /* CURLE_ABORTED_BY_CALLBACK */
	if (!p->draw)
		return 0;
	s = (clock_mono_ms() - p->start_ms) / 1000;
	if (p->drawn && s == p->shown_s)
		return 0;
	p->shown_s = s;
	p->drawn = true;
	/* \r and erase to the end of line: the line is redrawn in place. */
	fprintf(stderr, "\r\033[K%s %" PRId64 " s",
	    text_vis_str(p->o->progress, label, sizeof(label)), s);
	fflush(stderr);
	return 0;
}

int
http_request(const struct http_opts *o, const char *method, const char *path,
    const char *body, size_t body_len, long timeout_s,
    struct http_response *resp, struct err_msg *msg)
{
	static bool curl_ready;
	char url[HTTP_URL_MAX + 4096], errbuf[CURL_ERROR_SIZE], ctype[128];
	struct curl_slist *hdrs = NULL, *h2;
	struct curl_blob blob;
	struct sink sink;
	struct progress prog;
	CURL *h = NULL;
	CURLcode rc = CURLE_OK;
	char *key = NULL;
	size_t key_len = 0, slen;
	int n, r;

	memset(resp, 0, sizeof(*resp));
	memset(&sink, 0, sizeof(sink));
	dynbuf_init(&sink.buf, HTTP_ANSWER_MAX);
	memset(&prog, 0, sizeof(prog));
	resp->failure = HTTP_FAIL_LOCAL;
	prog.o = o;
	prog.draw = o->progress != NULL && isatty(STDERR_FILENO) == 1;
	prog.start_ms = clock_mono_ms();
	errbuf[0] = '\0';
	slen = strlen(o->server);
	if (slen > 0 && o->server[slen - 1] == '/')
		slen--;
	n = snprintf(url, sizeof(url), "%.*s%s", (int)slen, o->server, path);
	if (path[0] != '/' || n < 0 || (size_t)n >= sizeof(url)) {
		r = err_set(msg, SIGNET_ERR_TOO_LARGE, "request URL too long");
		goto out;
	}
	key = sodium_malloc(HTTP_KEY_MAX + 1);
	if (key == NULL) {
		r = err_set(msg, SIGNET_ERR_ALLOC, "out of memory");
		goto out;
	}
	r = fileio_read_small(o->key, key, HTTP_KEY_MAX, &key_len,
	    FILEIO_SECRET, msg);
	if (r != 0)
		goto out;
	if (!curl_ready) {
		if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
			r = err_set(msg, SIGNET_ERR_INTERNAL,
			    "cannot "
			    "initialise libcurl");
			goto out;
		}
		curl_ready = true;
	}
	h = curl_easy_init();
	hdrs = curl_slist_append(NULL, "Accept: application/json");
	h2 = hdrs != NULL ? curl_slist_append(hdrs, "Expect:") : NULL;
	n = snprintf(ctype, sizeof(ctype), "Content-Type: %s",
	    o->content_type != NULL ? o->content_type : "application/json");
	if (n < 0 || (size_t)n >= sizeof(ctype) ||
	    strpbrk(ctype, "\r\n") != NULL) {
		r = err_set(msg, SIGNET_ERR_INVALID_ARG, "bad content type");
		goto out;
	}
	if (h2 != NULL && body != NULL)
		h2 = curl_slist_append(h2, ctype);
	if (h == NULL || h2 == NULL) {
		r = err_set(msg, SIGNET_ERR_ALLOC, "out of memory");
		goto out;
	}
	blob.data = key;
	blob.len = key_len;
	blob.flags = CURL_BLOB_NOCOPY;
#define SETOPT(opt, val)                                                       \
	do {                                                                   \
		if (rc == CURLE_OK)                                            \
			rc = curl_easy_setopt(h, opt, val);                    \
	} while (0)
	SETOPT(CURLOPT_ERRORBUFFER, errbuf);
	SETOPT(CURLOPT_URL, url);
	SETOPT(CURLOPT_PROTOCOLS_STR, "https");
	SETOPT(CURLOPT_REDIR_PROTOCOLS_STR, "https");
	SETOPT(CURLOPT_FOLLOWLOCATION, 0L);
	SETOPT(CURLOPT_SSL_VERIFYPEER, 1L);
	SETOPT(CURLOPT_SSL_VERIFYHOST, 2L);
	SETOPT(CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
	SETOPT(CURLOPT_CAINFO, o->ca);
	SETOPT(CURLOPT_CAPATH, (char *)NULL); /* only the signet CA */
	SETOPT(CURLOPT_SSLCERT, o->cert);
	SETOPT(CURLOPT_SSLCERTTYPE, "PEM");
	SETOPT(CURLOPT_SSLKEY_BLOB, &blob);
	SETOPT(CURLOPT_SSLKEYTYPE, "PEM");
	SETOPT(CURLOPT_NOSIGNAL, 1L);
	SETOPT(CURLOPT_CONNECTTIMEOUT, (long)HTTP_CONNECT_TIMEOUT);
	SETOPT(CURLOPT_TIMEOUT,
	    timeout_s > 0 ? timeout_s : (long)HTTP_TIMEOUT_DEFAULT);
	SETOPT(CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)HTTP_ANSWER_MAX);
	SETOPT(CURLOPT_WRITEFUNCTION, sink_write);
	SETOPT(CURLOPT_WRITEDATA, &sink);
	SETOPT(CURLOPT_USERAGENT, "signetctl");
	SETOPT(CURLOPT_HTTPHEADER, hdrs);
	if (prog.draw || o->stop != NULL) {
		SETOPT(CURLOPT_XFERINFOFUNCTION, progress_tick);
		SETOPT(CURLOPT_XFERINFODATA, &prog);
		SETOPT(CURLOPT_NOPROGRESS, 0L);
	}
	if (strcmp(method, "GET") == 0) {
		SETOPT(CURLOPT_HTTPGET, 1L);
	} else if (strcmp(method, "POST") == 0) {
		SETOPT(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
		SETOPT(CURLOPT_POSTFIELDS, body != NULL ? body : "");
	} else {
		SETOPT(CURLOPT_CUSTOMREQUEST, method);
	}
#undef SETOPT
	if (rc != CURLE_OK) {
		r = err_set(msg, SIGNET_ERR_INTERNAL,
		    "libcurl refused an "
		    "option: %s",
		    curl_easy_strerror(rc));
		goto out;
	}
	rc = curl_easy_perform(h);
	if (prog.drawn) {
		fputs("\r\033[K", stderr);
		fflush(stderr);
	}
	if (sink.over || rc == CURLE_FILESIZE_EXCEEDED) {
		r = err_set(msg, SIGNET_ERR_TOO_LARGE,
		    "the server's answer is "
		    "over %d bytes",
		    HTTP_ANSWER_MAX);
		goto out;
	}
	if (rc != CURLE_OK) {
		r = curl_failure(rc, errbuf, o,
		    timeout_s > 0 ? timeout_s : HTTP_TIMEOUT_DEFAULT,
		    &resp->failure, msg);
		goto out;
	}
	if (curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &resp->status) !=
	    CURLE_OK) {
		r = err_set(msg, SIGNET_ERR_INTERNAL, "no HTTP status");
		goto out;
	}
	resp->body = dynbuf_take(&sink.buf, &resp->len);
	if (resp->body == NULL) {
		r = err_set(msg, SIGNET_ERR_ALLOC, "out of memory");
		goto out;
	}
	resp->failure = HTTP_FAIL_NONE;
	r = 0;
out:
	curl_easy_cleanup(h);
	curl_slist_free_all(hdrs);
	sodium_free(key); /* wipes */
	dynbuf_free(&sink.buf);
	return r;
}

int
http_path_add_query(char *path, size_t size, const char *name,
    const char *value)
{
	static const char hexd[] = "0123456789ABCDEF";
	size_t o = strlen(path), i;
	int n;

	n = snprintf(path + o, size - o,
	    "%c%s=", strchr(path, '?') != NULL ? '&' : '?', name);
	if (n < 0 || (size_t)n >= size - o)
		return SIGNET_ERR_TOO_LARGE;
	o += (size_t)n;
	for (i = 0; value[i] != '\0'; i++) {
		unsigned char c = (unsigned char)value[i];
		bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '-' || c == '.' ||
		    c == '_' || c == '~';

		if (size - o < (plain ? 2u : 4u))
			return SIGNET_ERR_TOO_LARGE;
		if (plain) {
			path[o++] = (char)c;
		} else {
			path[o++] = '%';
			path[o++] = hexd[c >> 4];
			path[o++] = hexd[c & 0xf];
		}
	}
	path[o] = '\0';
	return 0;
}

const char *
http_json_cell(const cJSON *obj, const char *key, char *out, size_t outlen)
{
	const cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, key);

	if (cJSON_IsString(it))
		return text_vis_str(it->valuestring, out, outlen);
	if (cJSON_IsNumber(it) && it->valuedouble >= -9e15 &&
	    it->valuedouble <= 9e15)
		(void)snprintf(out, outlen, "%.0f", it->valuedouble);
	else if (cJSON_IsBool(it))
		(void)snprintf(out, outlen, "%s",
		    cJSON_IsTrue(it) ? "yes" : "no");
	else
		(void)snprintf(out, outlen, "-");
	return out;
}

int
http_get_list(const char *cmd, const struct http_opts *o, const char *path,
    bool json, const char *member, cJSON **doc, const cJSON **list)
{
	struct http_response resp;
	struct err_msg msg;
	int rc = CMD_FAIL;

	*doc = NULL;
	*list = NULL;
	err_clear(&msg);
	if (http_request(o, "GET", path, NULL, 0, 0, &resp, &msg) != 0) {
		fprintf(stderr, "signetctl %s: %s\n", cmd, msg.text);
		rc = cmd_exit_of_failure(resp.failure);
		goto out;
	}
	if (resp.status < 200 || resp.status > 299) {
		http_print_failure(cmd, &resp);
		rc = cmd_exit_of_status(resp.status);
		goto out;
	}
	if (json) {
		if (fwrite(resp.body, 1, resp.len, stdout) != resp.len ||
		    (resp.len > 0 && resp.body[resp.len - 1] != '\n' &&
		        putchar('\n') == EOF) ||
		    fflush(stdout) != 0) {
			fprintf(stderr,
			    "signetctl %s: cannot write the "
			    "answer\n",
			    cmd);
			goto out;
		}
		rc = 0;
		goto out;
	}
	*doc = cJSON_ParseWithLength(resp.body, resp.len);
	*list = cJSON_GetObjectItemCaseSensitive(*doc, member);
	if (!cJSON_IsArray(*list)) {
		fprintf(stderr,
		    "signetctl %s: the server's answer is not a "
		    "{\"%s\":[...]} document\n",
		    cmd, member);
		cJSON_Delete(*doc);
		*doc = NULL;
		*list = NULL;
		goto out;
	}
	rc = 0;
out:
	http_response_free(&resp);
	return rc;
}

void
http_print_failure(const char *cmd, const struct http_response *resp)
{
	cJSON *doc = cJSON_ParseWithLength(resp->body, resp->len);
	const cJSON *e = cJSON_GetObjectItemCaseSensitive(doc, "error");
	char text[600], head[201];

	if (cJSON_IsString(e)) {
		(void)text_vis_str(e->valuestring, text, sizeof(text));
	} else {
		size_t n = resp->len < sizeof(head) - 1 ? resp->len :
		                                          sizeof(head) - 1;

		memcpy(head, resp->body != NULL ? resp->body : "", n);
		head[n] = '\0';
		(void)text_vis_str(head, text, sizeof(text));
	}
	fprintf(stderr, "signetctl %s: server answered %ld: %s\n", cmd,
	    resp->status, text);
	cJSON_Delete(doc);
}

int
http_table_init(struct http_table *t, size_t ncols, size_t nrows, size_t cell)
{
	memset(t, 0, sizeof(*t));
	if (ncols == 0 || ncols > HTTP_TABLE_COLS_MAX || cell == 0 ||
	    cell > 4096 || nrows > HTTP_TABLE_ROWS_MAX)
		return SIGNET_ERR_TOO_LARGE;
	/* Bounded above: no overflow (16 * 1e6 * 4096 < 2^64). */
	t->block = calloc(nrows * ncols + 1, cell);
	if (t->block == NULL)
		return SIGNET_ERR_ALLOC;
	t->ncols = ncols;
	t->nrows = nrows;
	t->cell = cell;
	return 0;
}

char *
http_table_cell(struct http_table *t, size_t r, size_t c)
{
	return t->block + (r * t->ncols + c) * t->cell;
}

void
http_table_print(FILE *f, const struct http_table *t,
    const char *const headers[])
{
	size_t widths[HTTP_TABLE_COLS_MAX] = { 0 }, r, c;

	for (c = 0; c < t->ncols; c++)
		widths[c] = strlen(headers[c]);
	for (r = 0; r < t->nrows; r++) {
		for (c = 0; c < t->ncols; c++) {
			size_t n = strlen(
			    t->block + (r * t->ncols + c) * t->cell);
			if (n > widths[c])
				widths[c] = n;
		}
	}
	for (r = 0; r <= t->nrows; r++) {
		for (c = 0; c < t->ncols; c++) {
			const char *s = r == 0 ?
			    headers[c] :
			    t->block + ((r - 1) * t->ncols + c) * t->cell;

			if (c + 1 == t->ncols)
				fprintf(f, "%s\n", s);
			else
				fprintf(f, "%-*s  ", (int)widths[c], s);
		}
	}
}

void
http_table_free(struct http_table *t)
{
	if (t == NULL)
		return;
	free(t->block);
	memset(t, 0, sizeof(*t));
}
