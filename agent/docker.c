/* SPDX-License-Identifier: ISC */
/*
 * dockerd over its unix socket with libcurl: the client and its requests
 * (version, container list, inspect, start/stop/restart). The event
 * stream, a thread of its own, is in docker_events.c.
 */
#include "docker.h"
#include "docker_int.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>

#include "clock.h"
#include "dynbuf.h"
#include "histogram.h"
#include "jsonx.h"
#include "log.h"
#include "text.h"

#define DOCKER_JSON_DEPTH 32   /* inspect nests ~6 deep; leave room */
#define DOCKER_ERRTEXT_MAX 160 /* dockerd's message quoted in errors */

struct docker_client {
	char socket_path[DOCKER_SOCKET_PATH_MAX + 1];
	CURL *curl;
	const atomic_bool *abort;  /* set: give up the request under way */
	struct histogram *latency; /* NULL: not measured */
};

/* An answer, bounded by its dynbuf's maximum. */
struct dbuf {
	struct dynbuf buf;
	bool over; /* answer over the maximum */
	bool oom;
};

/* curl_easy_perform, timed into the latency histogram if any. */
static CURLcode
docker_perform(struct docker_client *dc)
{
	int64_t t0 = clock_mono_ms();
	CURLcode cc = curl_easy_perform(dc->curl);

	histogram_observe(dc->latency, (double)(clock_mono_ms() - t0) / 1000.0);
	return cc;
}

void
docker_client_set_latency(struct docker_client *dc, struct histogram *h)
{
	if (dc != NULL)
		dc->latency = h;
}

int
docker_global_init(struct err_msg *msg)
{
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return err_set(msg, SIGNET_ERR_INTERNAL,
		    "libcurl cannot be initialised");
	return 0;
}

void
docker_global_cleanup(void)
{
	curl_global_cleanup();
}

int
docker_check_socket_path(const char *socket_path, struct err_msg *msg)
{
	size_t n;

	if (socket_path == NULL || socket_path[0] != '/')
		return err_set(msg, SIGNET_ERR_INVALID_ARG,
		    "docker socket: must be an absolute path");
	n = strlen(socket_path);
	if (n > DOCKER_SOCKET_PATH_MAX)
		return err_set(msg, SIGNET_ERR_INVALID_ARG,
		    "docker socket: path of %zu bytes is longer than a unix "
		    "socket path may be (%d)",
		    n, DOCKER_SOCKET_PATH_MAX);
	return 0;
}

int
docker_client_new(const char *socket_path, struct docker_client **out,
    struct err_msg *msg)
{
	struct docker_client *dc = NULL;
	int r;

	*out = NULL;
	r = docker_check_socket_path(socket_path, msg);
	if (r != 0)
		return r;
	dc = calloc(1, sizeof(*dc));
	if (dc == NULL)
		return err_set(msg, SIGNET_ERR_ALLOC, "out of memory");
	memcpy(dc->socket_path, socket_path, strlen(socket_path) + 1);
	dc->curl = curl_easy_init();
	if (dc->curl == NULL) {
		free(dc);
		return err_set(msg, SIGNET_ERR_ALLOC,
		    "cannot make a curl handle");
	}
	*out = dc;
	return 0;
}

void
docker_client_set_abort(struct docker_client *dc, const atomic_bool *flag)
{
	dc->abort = flag;
}

void
docker_client_free(struct docker_client *dc)
{
	if (dc == NULL)
		return;
	curl_easy_cleanup(dc->curl);
	free(dc);
}

static size_t
dbuf_write(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	struct dbuf *b = userdata;
	int r;

	if (size != 1)
		return 0;
	r = dynbuf_add(&b->buf, ptr, nmemb);
	if (r == SIGNET_ERR_TOO_LARGE)
		b->over = true;
	else if (r != 0)
		b->oom = true;
	return r == 0 ? nmemb : 0; /* else curl fails with WRITE_ERROR */
}

int
docker_setup_handle(CURL *c, const char *socket_path, const char *path,
    char errbuf[static CURL_ERROR_SIZE])
{
	char url[512];
	int n;

	n = snprintf(url, sizeof(url), "%s%s", DOCKER_API_BASE, path);
	if (n < 0 || (size_t)n >= sizeof(url))
		return -1;
	curl_easy_reset(c);
	errbuf[0] = '\0';
	if (curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_UNIX_SOCKET_PATH, socket_path) !=
	        CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_URL, url) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http") != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS,
	        DOCKER_CONNECT_TIMEOUT_MS) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_USERAGENT, "signet-agent") != CURLE_OK)
		return -1;
	return 0;
}

void
docker_describe_curl(CURLcode cc, const char *errbuf, const char *socket_path,
    char *out, size_t outlen)
{
	char esc[200];

	if (cc == CURLE_COULDNT_CONNECT) {
		(void)text_escape_str(socket_path, esc, sizeof(esc));
		(void)snprintf(out, outlen, "cannot connect to %s", esc);
		return;
	}
	(void)text_escape_str(
	    errbuf[0] != '\0' ? errbuf : curl_easy_strerror(cc), out, outlen);
}

/* Maps a failed transfer to the error space. */
static int
transfer_error(CURLcode cc, const char *errbuf, const struct dbuf *b,
    const char *socket_path, const char *path, struct err_msg *msg)
{
	char esc[CURL_ERROR_SIZE * 2];
	size_t max = b->buf.max;

	if (b->oom)
		return err_set(msg, SIGNET_ERR_ALLOC, "out of memory");
	if (b->over || cc == CURLE_FILESIZE_EXCEEDED)
		return err_set(msg, SIGNET_ERR_TOO_LARGE,
		    "dockerd GET %s: answer larger than %zu bytes; refused",
		    path, max);
	docker_describe_curl(cc, errbuf, socket_path, esc, sizeof(esc));
	if (cc == CURLE_OUT_OF_MEMORY)
		return err_set(msg, SIGNET_ERR_ALLOC, "out of memory");
	return err_set(msg, SIGNET_ERR_UNAVAILABLE,
	    "dockerd GET %s: %s (is dockerd running?)", path, esc);
}

/* dockerd's {"message": "..."} of an error answer, escaped, or "". */
static void
error_message(const struct dbuf *b, char *out, size_t outlen)
{
	cJSON *root = NULL;
	const char *m = NULL;

	out[0] = '\0';
	if (dynbuf_len(&b->buf) == 0 || dynbuf_len(&b->buf) > 4096)
		return;
	if (jsonx_parse_object("dockerd error", dynbuf_ptr(&b->buf),
	        dynbuf_len(&b->buf), 4, &root, NULL) != 0)
		return;
	if (jsonx_get_string(root, "message", true, "error", &m, NULL) == 0 &&
	    m != NULL)
		(void)text_escape_str(m, out, outlen);
	cJSON_Delete(root);
}

static int
request_progress(void *clientp, curl_off_t dltotal, curl_off_t dlnow,
    curl_off_t ultotal, curl_off_t ulnow)
{
	const atomic_bool *abort_flag = clientp;

	(void)dltotal;
	(void)dlnow;
	(void)ultotal;
	(void)ulnow;
	return atomic_load(abort_flag) ? 1 : 0;
}

/* Lets a stopping agent abandon the request (dc->abort set); 0 or -1. */
static int
set_abort(struct docker_client *dc)
{
	if (dc->abort == NULL)
		return 0;
	if (curl_easy_setopt(dc->curl, CURLOPT_NOPROGRESS, 0L) != CURLE_OK ||
	    curl_easy_setopt(dc->curl, CURLOPT_XFERINFOFUNCTION,
	        request_progress) != CURLE_OK ||
	    curl_easy_setopt(dc->curl, CURLOPT_XFERINFODATA,
	        (void *)(uintptr_t)dc->abort) != CURLE_OK)
		return -1;
	return 0;
}
/*
 * GET path; on success *body (free it) holds the 200 answer, NUL-terminated.
 * 404 is SIGNET_ERR_NOT_FOUND, any other status SIGNET_ERR_IO.
 */
static int
docker_get(struct docker_client *dc, const char *path, size_t max,
    long timeout_ms, char **body, size_t *body_len, struct err_msg *msg)
{
	char errbuf[CURL_ERROR_SIZE];
	char dmsg[DOCKER_ERRTEXT_MAX];
	struct dbuf b;
	CURLcode cc;
	long status = 0;
	int r;

	*body = NULL;
	*body_len = 0;
	memset(&b, 0, sizeof(b));
	dynbuf_init(&b.buf, max);
	if (docker_setup_handle(dc->curl, dc->socket_path, path, errbuf) != 0 ||
	    curl_easy_setopt(dc->curl, CURLOPT_HTTPGET, 1L) != CURLE_OK ||
	    curl_easy_setopt(dc->curl, CURLOPT_TIMEOUT_MS, timeout_ms) !=
	        CURLE_OK ||
	    curl_easy_setopt(dc->curl, CURLOPT_MAXFILESIZE_LARGE,
	        (curl_off_t)max) != CURLE_OK ||
	    curl_easy_setopt(dc->curl, CURLOPT_WRITEFUNCTION, dbuf_write) !=
	        CURLE_OK ||
	    curl_easy_setopt(dc->curl, CURLOPT_WRITEDATA, &b) != CURLE_OK) {
		r = err_set(msg, SIGNET_ERR_INTERNAL,
		    "dockerd GET %s: cannot set up the request", path);
		goto out;
	}
	if (set_abort(dc) != 0) {
		r = err_set(msg, SIGNET_ERR_INTERNAL,
		    "dockerd GET %s: cannot set up the request", path);
		goto out;
	}
	cc = docker_perform(dc);
	if (cc == CURLE_ABORTED_BY_CALLBACK) {
		r = err_set(msg, SIGNET_ERR_UNAVAILABLE,
		    "dockerd GET %s: given up (stopping)", path);
		goto out;
	}
	if (cc != CURLE_OK) {
		r = transfer_error(cc, errbuf, &b, dc->socket_path, path, msg);
		goto out;
	}
	if (curl_easy_getinfo(dc->curl, CURLINFO_RESPONSE_CODE, &status) !=
	    CURLE_OK) {
		r = err_set(msg, SIGNET_ERR_INTERNAL,
		    "dockerd GET %s: no HTTP status", path);
		goto out;
	}
	if (status != 200) {
		error_message(&b, dmsg, sizeof(dmsg));
		r = err_set(msg,
		    status == 404 ? SIGNET_ERR_NOT_FOUND : SIGNET_ERR_IO,
		    "dockerd GET %s: HTTP %ld%s%s%s", path, status,
		    dmsg[0] != '\0' ? " \"" : "", dmsg,
		    dmsg[0] != '\0' ? "\"" : "");
		goto out;
	}
	if (dynbuf_len(&b.buf) == 0) {
		r = err_set(msg, SIGNET_ERR_FORMAT,
		    "dockerd GET %s: empty answer", path);
		goto out;
	}
	*body = dynbuf_take(&b.buf, body_len);
	r = *body != NULL ? 0 : err_set(msg, SIGNET_ERR_ALLOC, "out of memory");
out:
	dynbuf_free(&b.buf);
	return r;
}

static bool
version_char_ok(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || c == '.' || c == '+' || c == '~' ||
	    c == '_' || c == '-';
}

int
docker_version(struct docker_client *dc,
    char out[static DOCKER_VERSION_MAX + 1], struct err_msg *msg)
{
	cJSON *root = NULL;
	char *body = NULL;
	const char *v = NULL;
	size_t len = 0, i, n;
	int r;

	out[0] = '\0';
	r = docker_get(dc, "/version", DOCKER_SMALL_MAX,
	    DOCKER_SMALL_TIMEOUT_MS, &body, &len, msg);
	if (r != 0)
		goto out;
	r = jsonx_parse_object("dockerd /version", body, len, DOCKER_JSON_DEPTH,
	    &root, msg);
	if (r != 0)
		goto out;
	r = jsonx_get_string(root, "Version", false, "dockerd /version", &v,
	    msg);
	if (r != 0)
		goto out;
	n = strlen(v);
	for (i = 0; i < n && version_char_ok(v[i]); i++)
		;
	if (n == 0 || n > DOCKER_VERSION_MAX || i != n) {
		char esc[96];
		r = err_set(msg, SIGNET_ERR_FORMAT,
		    "dockerd /version: Version \"%s\" is not a version string",
		    text_escape_str(v, esc, sizeof(esc)));
		goto out;
	}
	memcpy(out, v, n + 1);
	r = 0;
out:
	cJSON_Delete(root);
	free(body);
	return r;
}

int
docker_list(struct docker_client *dc, struct inventory **out,
    struct err_msg *msg)
{
	char *body = NULL;
	size_t len = 0;
	int r;

	*out = NULL;
	r = docker_get(dc, "/containers/json?all=1", DOCKER_LIST_MAX,
	    DOCKER_LIST_TIMEOUT_MS, &body, &len, msg);
	if (r != 0)
		goto out;
	r = inventory_from_docker(body, len, out, msg);
	if (r == 0 && (*out)->skipped > 0)
		log_warn("dockerd listed %zu container(s) that fail signet's "
		         "checks; left out of the inventory; first: %s",
		    (*out)->skipped, msg != NULL ? msg->text : "");
out:
	free(body);
	return r;
}

/*
 * Parses dockerd's Created ("2024-05-01T12:34:56.123456789Z", UTC) into
 * unix seconds. Returns 0 or -1.
 */
static int
parse_created(const char *s, int64_t *out)
{
	static const char shape[] = "dddd-dd-ddTdd:dd:dd";
	struct tm tm;
	const char *p;
	time_t t;
	size_t i;

	*out = 0;
	for (i = 0; i < sizeof(shape) - 1; i++) {
		if (s[i] == '\0')
			return -1;
		if (shape[i] == 'd' ? (s[i] < '0' || s[i] > '9') :
		                      s[i] != shape[i])
			return -1;
	}
	p = s + sizeof(shape) - 1;
	if (*p == '.') {
		p++;
		if (*p < '0' || *p > '9')
			return -1;
		while (*p >= '0' && *p <= '9')
			p++;
	}
	if (strcmp(p, "Z") != 0)
		return -1;
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = (s[0] - '0') * 1000 + (s[1] - '0') * 100 +
	    (s[2] - '0') * 10 + (s[3] - '0') - 1900;
	tm.tm_mon = (s[5] - '0') * 10 + (s[6] - '0') - 1;
	tm.tm_mday = (s[8] - '0') * 10 + (s[9] - '0');
	tm.tm_hour = (s[11] - '0') * 10 + (s[12] - '0');
	tm.tm_min = (s[14] - '0') * 10 + (s[15] - '0');
	tm.tm_sec = (s[17] - '0') * 10 + (s[18] - '0');
	if (tm.tm_year < 70 || tm.tm_mon < 0 || tm.tm_mon > 11 ||
	    tm.tm_mday < 1 || tm.tm_mday > 31 || tm.tm_hour > 23 ||
	    tm.tm_min > 59 || tm.tm_sec > 60)
		return -1;
	t = timegm(&tm);
	if (t == (time_t)-1)
		return -1;
	*out = (int64_t)t;
	return 0;
}

/* The members of an inspect answer that say who the container is. */
struct inspect_fields {
	const char *id, *name, *image, *status, *created;
	const cJSON *labels;
};

static int
inspect_fields(const cJSON *root, struct inspect_fields *f, struct err_msg *msg)
{
	const cJSON *config = NULL, *state = NULL;
	int r;

	memset(f, 0, sizeof(*f));
	r = jsonx_get_string(root, "Id", false, "inspect", &f->id, msg);
	if (r == 0)
		r = jsonx_get_string(root, "Name", false, "inspect", &f->name,
		    msg);
	if (r == 0)
		r = jsonx_get_string(root, "Created", false, "inspect",
		    &f->created, msg);
	if (r == 0)
		r = jsonx_get_object(root, "Config", "inspect", &config, msg);
	if (r == 0)
		r = jsonx_get_object(root, "State", "inspect", &state, msg);
	if (r == 0)
		r = jsonx_get_string(config, "Image", false, "inspect.Config",
		    &f->image, msg);
	if (r == 0)
		r = jsonx_get_string(state, "Status", false, "inspect.State",
		    &f->status, msg);
	if (r == 0)
		f->labels = cJSON_GetObjectItemCaseSensitive(config, "Labels");
	return r;
}

/* One row in the shape of GET /containers/json, or NULL (no memory). */
static cJSON *
inspect_row(const struct inspect_fields *f, int64_t created)
{
	cJSON *row = NULL, *names = NULL, *labels = NULL;

	row = cJSON_CreateObject();
	names = cJSON_CreateArray();
	labels = f->labels != NULL ? cJSON_Duplicate(f->labels, true) :
	                             cJSON_CreateNull();
	if (row == NULL || names == NULL || labels == NULL)
		goto fail;
	if (!cJSON_AddItemToArray(names, cJSON_CreateString(f->name)))
		goto fail;
	if (!cJSON_AddItemToObject(row, "Names", names))
		goto fail;
	names = NULL;
	if (!cJSON_AddItemToObject(row, "Labels", labels))
		goto fail;
	labels = NULL;
	if (cJSON_AddStringToObject(row, "Id", f->id) == NULL ||
	    cJSON_AddStringToObject(row, "Image", f->image) == NULL ||
	    cJSON_AddStringToObject(row, "State", f->status) == NULL ||
	    cJSON_AddStringToObject(row, "Status", "") == NULL ||
	    cJSON_AddNumberToObject(row, "Created", (double)created) == NULL)
		goto fail;
	return row;
fail:
	cJSON_Delete(labels);
	cJSON_Delete(names);
	cJSON_Delete(row);
	return NULL;
}

/*
 * GET /containers/{id}/json for the full id: the answer parsed (*root,
 * cJSON_Delete it). Returns 0, SIGNET_ERR_INVALID_ARG (not 64 lowercase
 * hex), or docker_get's and the parser's codes.
 */
static int
inspect_json(struct docker_client *dc, const char *id, cJSON **root,
    struct err_msg *msg)
{
	char *body = NULL;
	char path[128];
	size_t len = 0;
	int r;

	*root = NULL;
	if (id == NULL || !text_is_hex(id, 64))
		return err_set(msg, SIGNET_ERR_INVALID_ARG,
		    "container id must be 64 lowercase hex digits");
	(void)snprintf(path, sizeof(path), "/containers/%s/json", id);
	r = docker_get(dc, path, DOCKER_SMALL_MAX, DOCKER_SMALL_TIMEOUT_MS,
	    &body, &len, msg);
	if (r == 0)
		r = jsonx_parse_object("dockerd inspect", body, len,
		    DOCKER_JSON_DEPTH, root, msg);
	free(body);
	return r;
}

/*
 * The members of an inspect answer's State that tell whether an action
 * happened, and RestartCount, each checked (outcome_state_from_json).
 * *out is zeroed on failure.
 */
static int
state_of(const cJSON *root, struct outcome_state *out, struct err_msg *msg)
{
	/* The State members outcome.c checks, under its names; else null. */
	static const struct {
		const char *from, *to;
		cJSON_bool (*is)(const cJSON *const);
	} members[] = {
		{ "Running", "running", cJSON_IsBool },
		{ "Pid", "pid", cJSON_IsNumber },
		{ "StartedAt", "started_at", cJSON_IsString },
		{ "FinishedAt", "finished_at", cJSON_IsString },
	};
	const cJSON *state = NULL, *v;
	cJSON *o = NULL, *item;
	size_t i;
	int64_t count = 0;
	int r;

	memset(out, 0, sizeof(*out));
	r = jsonx_get_object(root, "State", "inspect", &state, msg);
	if (r == 0)
		r = jsonx_get_int64(root, "RestartCount", 0, OUTCOME_COUNT_MAX,
		    "inspect", &count, msg);
	if (r != 0)
		goto out;
	/* The five members, in the shape outcome.c checks. */
	o = cJSON_CreateObject();
	if (o == NULL) {
		r = err_set(msg, SIGNET_ERR_ALLOC, "out of memory");
		goto out;
	}
	for (i = 0; r == 0 && i < sizeof(members) / sizeof(members[0]); i++) {
		v = cJSON_GetObjectItemCaseSensitive(state, members[i].from);
		item = members[i].is(v) ? cJSON_Duplicate(v, false) :
		                          cJSON_CreateNull();
		if (item == NULL ||
		    !cJSON_AddItemToObject(o, members[i].to, item)) {
			cJSON_Delete(item);
			r = err_set(msg, SIGNET_ERR_ALLOC, "out of memory");
		}
	}
	if (r == 0 &&
	    cJSON_AddNumberToObject(o, "restart_count", (double)count) == NULL)
		r = err_set(msg, SIGNET_ERR_ALLOC, "out of memory");
	if (r == 0)
		r = outcome_state_from_json(o, "inspect.State", out, msg);
out:
	cJSON_Delete(o);
	if (r != 0)
		memset(out, 0, sizeof(*out));
	return r;
}

int
docker_inspect(struct docker_client *dc, const char *id, struct inventory **out,
    struct outcome_state *state, bool *has_state, struct err_msg *msg)
{
	struct inspect_fields f;
	cJSON *root = NULL, *arr = NULL, *row = NULL;
	char *printed = NULL;
	int64_t created = 0;
	int r;

	*out = NULL;
	if (has_state != NULL)
		*has_state = false;
	r = inspect_json(dc, id, &root, msg);
	if (r != 0)
		goto out;
	if (state != NULL && has_state != NULL) {
		struct err_msg sm;

		err_clear(&sm);
		*has_state = state_of(root, state, &sm) == 0;
		if (!*has_state)
			log_warn(
			    "dockerd inspect of %.12s: its State cannot be "
			    "read: %s",
			    id, sm.text);
	}
	r = inspect_fields(root, &f, msg);
	if (r != 0)
		goto out;
	if (strcmp(f.id, id) != 0) {
		r = err_set(msg, SIGNET_ERR_FORMAT,
		    "dockerd inspect of %.12s answered for another container",
		    id);
		goto out;
	}
	if (parse_created(f.created, &created) != 0) {
		r = err_set(msg, SIGNET_ERR_FORMAT,
		    "dockerd inspect: Created is not an RFC 3339 UTC time");
		goto out;
	}
	/* Checked by the very code that checks list rows. */
	arr = cJSON_CreateArray();
	row = inspect_row(&f, created);
	if (arr == NULL || row == NULL) {
		r = err_set(msg, SIGNET_ERR_ALLOC, "out of memory");
		goto out;
	}
	if (!cJSON_AddItemToArray(arr, row)) {
		r = err_set(msg, SIGNET_ERR_ALLOC, "out of memory");
		goto out;
	}
	row = NULL;
	printed = cJSON_PrintUnformatted(arr);
	if (printed == NULL) {
		r = err_set(msg, SIGNET_ERR_ALLOC, "out of memory");
		goto out;
	}
	r = inventory_from_docker(printed, strlen(printed), out, msg);
	if (r == 0 && (*out)->count != 1) {
		/* A row left out already holds its reason in msg. */
		r = (*out)->skipped > 0 ?
		    SIGNET_ERR_FORMAT :
		    err_set(msg, SIGNET_ERR_INTERNAL, "inspect: not one row");
		inventory_free(*out);
		*out = NULL;
	}
out:
	cJSON_Delete(row);
	cJSON_Delete(arr);
	cJSON_Delete(root);
	free(printed);
	return r;
}

int
docker_state(struct docker_client *dc, const char *id,
    struct outcome_state *out, struct err_msg *msg)
{
	cJSON *root = NULL;
	int r;

	memset(out, 0, sizeof(*out));
	r = inspect_json(dc, id, &root, msg);
	if (r == 0)
		r = state_of(root, out, msg);
	cJSON_Delete(root);
	return r;
}

/* ---- actions ---- */

/*
 * Whether dockerd may have got the request of a call that failed: not
 * when the connection was refused or nothing of the request went out;
 * when curl cannot say, it may have (unknown is the safe side).
 */
static bool
request_went_out(CURL *c, CURLcode cc)
{
	long sent = 0;

	if (cc == CURLE_COULDNT_CONNECT)
		return false;
	if (curl_easy_getinfo(c, CURLINFO_REQUEST_SIZE, &sent) != CURLE_OK)
		return true;
	return sent > 0;
}

int
docker_action(struct docker_client *dc, const char *id,
    enum envelope_action action, int stop_timeout, long limit_ms,
    long *http_status, bool *maybe_acted, struct err_msg *msg)
{
	char errbuf[CURL_ERROR_SIZE];
	char dmsg[DOCKER_ERRTEXT_MAX], esc[CURL_ERROR_SIZE * 2];
	char path[160];
	struct dbuf b = { .over = false };
	const char *verb;
	long timeout_ms, status = 0;
	bool by_expiry = false;
	CURLcode cc;
	int n, r;

	*http_status = 0;
	*maybe_acted = false;
	dynbuf_init(&b.buf, DOCKER_SMALL_MAX);
	if (id == NULL || !text_is_hex(id, 64))
		return err_set(msg, SIGNET_ERR_INVALID_ARG,
		    "container id must be 64 lowercase hex digits");
	if (stop_timeout < 0 || stop_timeout > DOCKER_STOP_TIMEOUT_MAX)
		return err_set(msg, SIGNET_ERR_INVALID_ARG,
		    "stop timeout %d s is outside 0..%d", stop_timeout,
		    DOCKER_STOP_TIMEOUT_MAX);
	switch (action) {
	case ENVELOPE_ACTION_START:
		verb = "start";
		n = snprintf(path, sizeof(path), "/containers/%s/start", id);
		timeout_ms = DOCKER_START_TIMEOUT_MS;
		break;
	case ENVELOPE_ACTION_STOP:
	case ENVELOPE_ACTION_RESTART:
		verb = action == ENVELOPE_ACTION_STOP ? "stop" : "restart";
		n = snprintf(path, sizeof(path), "/containers/%s/%s?t=%d", id,
		    verb, stop_timeout);
		timeout_ms = (long)stop_timeout * 1000L + DOCKER_STOP_MARGIN_MS;
		break;
	default:
		return err_set(msg, SIGNET_ERR_INVALID_ARG,
		    "unknown container action");
	}
	if (n < 0 || (size_t)n >= sizeof(path))
		return err_set(msg, SIGNET_ERR_INTERNAL, "path too long");
	if (limit_ms < 0)
		return err_set(msg, SIGNET_ERR_INVALID_ARG,
		    "negative time limit");
	/* The action's own expiry may come first: dockerd acts no later. */
	if (limit_ms > 0 && limit_ms < timeout_ms) {
		timeout_ms = limit_ms;
		by_expiry = true;
	}
	if (docker_setup_handle(dc->curl, dc->socket_path, path, errbuf) != 0 ||
	    curl_easy_setopt(dc->curl, CURLOPT_POST, 1L) != CURLE_OK ||
	    curl_easy_setopt(dc->curl, CURLOPT_POSTFIELDS, "") != CURLE_OK ||
	    curl_easy_setopt(dc->curl, CURLOPT_POSTFIELDSIZE, 0L) != CURLE_OK ||
	    curl_easy_setopt(dc->curl, CURLOPT_TIMEOUT_MS, timeout_ms) !=
	        CURLE_OK ||
	    curl_easy_setopt(dc->curl, CURLOPT_WRITEFUNCTION, dbuf_write) !=
	        CURLE_OK ||
	    curl_easy_setopt(dc->curl, CURLOPT_WRITEDATA, &b) != CURLE_OK) {
		r = err_set(msg, SIGNET_ERR_INTERNAL,
		    "dockerd POST %s: cannot set up the request", verb);
		goto out;
	}
	if (set_abort(dc) != 0) {
		r = err_set(msg, SIGNET_ERR_INTERNAL,
		    "dockerd POST %s: cannot set up the request", verb);
		goto out;
	}
	cc = docker_perform(dc);
	if (curl_easy_getinfo(dc->curl, CURLINFO_RESPONSE_CODE, &status) !=
	    CURLE_OK)
		status = 0;
	if (cc != CURLE_OK)
		*maybe_acted = request_went_out(dc->curl, cc);
	if (cc == CURLE_ABORTED_BY_CALLBACK) {
		r = err_set(msg, SIGNET_ERR_UNAVAILABLE,
		    "dockerd POST %s: given up (stopping); the action may "
		    "still happen",
		    verb);
		goto out;
	}
	if (cc == CURLE_OPERATION_TIMEDOUT && by_expiry && status == 0) {
		r = err_set(msg, SIGNET_ERR_UNAVAILABLE,
		    "dockerd POST %s: no answer by the action's expires_at "
		    "(%ld ms); the action may still happen",
		    verb, timeout_ms);
		goto out;
	}
	if (cc != CURLE_OK && (status == 0 || !b.over)) {
		if (b.oom || cc == CURLE_OUT_OF_MEMORY) {
			r = err_set(msg, SIGNET_ERR_ALLOC, "out of memory");
			goto out;
		}
		docker_describe_curl(cc, errbuf, dc->socket_path, esc,
		    sizeof(esc));
		*http_status = status;
		r = err_set(msg, SIGNET_ERR_UNAVAILABLE,
		    "dockerd POST %s: %s%s", verb, esc,
		    cc == CURLE_OPERATION_TIMEDOUT ?
		        " (no answer in time; the action may still happen)" :
		        " (is dockerd running?)");
		goto out;
	}
	*http_status = status;
	*maybe_acted = false; /* dockerd answered: it says what it did */
	if (status == 204 || status == 304) {
		r = 0;
		goto out;
	}
	error_message(&b, dmsg, sizeof(dmsg));
	r = err_set(msg, status == 404 ? SIGNET_ERR_NOT_FOUND : SIGNET_ERR_IO,
	    "dockerd POST %s: HTTP %ld%s%s%s", verb, status,
	    dmsg[0] != '\0' ? " \"" : "", dmsg, dmsg[0] != '\0' ? "\"" : "");
out:
	dynbuf_free(&b.buf);
	return r;
}
