/* SPDX-License-Identifier: ISC */
/*
 * dockerd's container event stream: GET /events read line by line in a
 * thread of its own, each line parsed strictly (docker_event_parse) and
 * reported; the stream is dialled again with backoff when it ends, stalls
 * or sends what the API does not document.
 */
#include "docker.h"
#include "docker_int.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>

#include "clock.h"
#include "jsonx.h"
#include "log.h"
#include "text.h"

#define DOCKER_EVENT_DEPTH 8
#define DOCKER_STREAM_STABLE_MS 10000
/* GET /events?filters={"type":["container"]}, url-encoded. */
#define DOCKER_EVENTS_PATH                                                     \
	"/events?filters=%7B%22type%22%3A%5B%22container%22%5D%7D"

static bool
action_char_ok(char c)
{
	return (c >= 'a' && c <= 'z') || c == '_' || c == '-';
}

/* Actor.Attributes.name, when given: 0..INVENTORY_NAME_MAX, no controls. */
static int
event_name(const cJSON *actor, struct docker_event *ev, struct err_msg *msg)
{
	const cJSON *attrs;
	const char *name = NULL;
	size_t n;
	int r;

	attrs = cJSON_GetObjectItemCaseSensitive(actor, "Attributes");
	if (attrs == NULL || cJSON_IsNull(attrs))
		return 0;
	if (!cJSON_IsObject(attrs))
		return err_set(msg, SIGNET_ERR_FORMAT,
		    "event.Actor.Attributes: must be an object");
	r = jsonx_get_string(attrs, "name", true, "event.Actor.Attributes",
	    &name, msg);
	if (r != 0 || name == NULL)
		return r;
	n = strlen(name);
	if (n > INVENTORY_NAME_MAX || text_has_control(name))
		return err_set(msg, SIGNET_ERR_FORMAT,
		    "event.Actor.Attributes.name: over %d bytes or control "
		    "characters",
		    INVENTORY_NAME_MAX);
	memcpy(ev->name, name, n + 1);
	return 0;
}

int
docker_event_parse(const char *line, size_t len, struct docker_event *ev,
    struct err_msg *msg)
{
	cJSON *root = NULL;
	const cJSON *actor = NULL;
	const char *type = NULL, *action = NULL, *id = NULL;
	size_t n, verb;
	int r;

	memset(ev, 0, sizeof(*ev));
	r = jsonx_parse_object("dockerd event", line, len, DOCKER_EVENT_DEPTH,
	    &root, msg);
	if (r != 0)
		goto out;
	r = jsonx_get_string(root, "Type", false, "event", &type, msg);
	if (r != 0)
		goto out;
	if (strcmp(type, "container") != 0)
		goto out; /* r == 0: not ours */
	r = jsonx_get_string(root, "Action", false, "event", &action, msg);
	if (r == 0)
		r = jsonx_get_object(root, "Actor", "event", &actor, msg);
	if (r == 0)
		r = jsonx_get_string(actor, "ID", false, "event.Actor", &id,
		    msg);
	if (r != 0)
		goto out;
	/* "exec_start: sh -c ..." and "health_status: healthy" say more. */
	n = strlen(action);
	for (verb = 0; verb < n && action_char_ok(action[verb]); verb++)
		;
	if (verb == 0 || verb > DOCKER_EVENT_ACTION_MAX ||
	    (verb < n && action[verb] != ':')) {
		r = err_set(msg, SIGNET_ERR_FORMAT,
		    "event.Action: not an action name");
		goto out;
	}
	memcpy(ev->action, action, verb);
	ev->action[verb] = '\0';
	/* Container prune events name no container. */
	if (id[0] != '\0' && !text_is_hex(id, 64)) {
		r = err_set(msg, SIGNET_ERR_FORMAT,
		    "event.Actor.ID: must be 64 lowercase hex digits");
		goto out;
	}
	memcpy(ev->id, id, strlen(id) + 1);
	r = event_name(actor, ev, msg);
	if (r != 0)
		goto out;
	if (cJSON_GetObjectItemCaseSensitive(root, "time") != NULL) {
		r = jsonx_get_int64(root, "time", 0, JSONX_INT_MAX, "event",
		    &ev->time, msg);
		if (r != 0)
			goto out;
	}
	r = 1;
out:
	if (r != 1)
		memset(ev, 0, sizeof(*ev));
	cJSON_Delete(root);
	return r;
}

struct docker_events {
	char socket_path[DOCKER_SOCKET_PATH_MAX + 1];
	struct docker_events_ops ops;
	void *arg;
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;                /* stop, for the backoff sleep */
	bool stop;                        /* under mu */
	atomic_bool stop_now;             /* read by curl's progress callback */
	struct docker_events_stats stats; /* under mu */

	/* The thread's own, for the stream being read. */
	CURL *curl;
	char *line; /* DOCKER_EVENT_LINE_MAX + 1 */
	size_t line_len;
	bool up;            /* this stream answered 200 */
	bool down_reported; /* on_stream(false) said since up */
	bool hostile;       /* dropped for what dockerd sent */
	int64_t started_ms;
	char drop_why[256]; /* set when we abort the stream */
};

static size_t
events_header(char *buf, size_t size, size_t nitems, void *userdata)
{
	struct docker_events *ev = userdata;
	long status = 0;

	if (size != 1)
		return 0;
	/* The blank line ends the headers: the stream is now answered. */
	if (!((nitems == 2 && buf[0] == '\r' && buf[1] == '\n') ||
	        (nitems == 1 && buf[0] == '\n')))
		return nitems;
	if (curl_easy_getinfo(ev->curl, CURLINFO_RESPONSE_CODE, &status) !=
	    CURLE_OK)
		return 0;
	if (status >= 100 && status < 200)
		return nitems; /* interim answer; more follow */
	if (status != 200) {
		(void)snprintf(ev->drop_why, sizeof(ev->drop_why),
		    "dockerd answered HTTP %ld to GET /events", status);
		return 0;
	}
	ev->up = true;
	ev->down_reported = false;
	ev->started_ms = clock_mono_ms();
	if (pthread_mutex_lock(&ev->mu) == 0) {
		ev->stats.connects++;
		(void)pthread_mutex_unlock(&ev->mu);
	}
	if (ev->ops.on_stream != NULL)
		ev->ops.on_stream(ev->arg, true, NULL);
	return nitems;
}

/* Handles one whole line; false drops the stream (drop_why says why). */
static bool
events_line(struct docker_events *ev)
{
	struct docker_event e;
	struct err_msg m;
	size_t len = ev->line_len;
	int r;

	if (len > 0 && ev->line[len - 1] == '\r')
		len--;
	if (len == 0)
		return true;
	err_clear(&m);
	r = docker_event_parse(ev->line, len, &e, &m);
	if (r < 0) {
		(void)snprintf(ev->drop_why, sizeof(ev->drop_why), "%.*s",
		    (int)sizeof(ev->drop_why) - 1, m.text);
		ev->hostile = true;
		return false;
	}
	if (r == 0)
		return true;
	if (pthread_mutex_lock(&ev->mu) == 0) {
		ev->stats.events++;
		(void)pthread_mutex_unlock(&ev->mu);
	}
	if (ev->ops.on_event != NULL)
		ev->ops.on_event(ev->arg, &e);
	return true;
}

static size_t
events_write(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	struct docker_events *ev = userdata;
	size_t off = 0, seg;
	const char *nl;

	if (size != 1 || !ev->up)
		return 0;
	while (off < nmemb) {
		nl = memchr(ptr + off, '\n', nmemb - off);
		seg = nl != NULL ? (size_t)(nl - (ptr + off)) : nmemb - off;
		if (seg > DOCKER_EVENT_LINE_MAX - ev->line_len) {
			(void)snprintf(ev->drop_why, sizeof(ev->drop_why),
			    "an event line is longer than %u bytes",
			    DOCKER_EVENT_LINE_MAX);
			ev->hostile = true;
			return 0;
		}
		memcpy(ev->line + ev->line_len, ptr + off, seg);
		ev->line_len += seg;
		off += seg;
		if (nl == NULL)
			break;
		off++; /* the newline */
		if (!events_line(ev))
			return 0;
		ev->line_len = 0;
	}
	return nmemb;
}

static int
events_progress(void *clientp, curl_off_t dltotal, curl_off_t dlnow,
    curl_off_t ultotal, curl_off_t ulnow)
{
	struct docker_events *ev = clientp;

	(void)dltotal;
	(void)dlnow;
	(void)ultotal;
	(void)ulnow;
	if (atomic_load(&ev->stop_now))
		return 1;
	if (!ev->up &&
	    clock_mono_ms() - ev->started_ms >
	        DOCKER_EVENTS_HEADER_TIMEOUT_MS) {
		(void)snprintf(ev->drop_why, sizeof(ev->drop_why),
		    "dockerd did not answer GET /events within %d ms",
		    DOCKER_EVENTS_HEADER_TIMEOUT_MS);
		return 1;
	}
	return 0;
}

/* Reads one stream until it ends; why (escaped) says how it ended. */
static void
events_read_once(struct docker_events *ev, char *why, size_t whylen)
{
	char errbuf[CURL_ERROR_SIZE];
	char esc[CURL_ERROR_SIZE * 2];
	CURLcode cc;

	ev->up = false;
	ev->hostile = false;
	ev->line_len = 0;
	ev->drop_why[0] = '\0';
	ev->started_ms = clock_mono_ms();
	if (docker_setup_handle(ev->curl, ev->socket_path, DOCKER_EVENTS_PATH,
	        errbuf) != 0 ||
	    curl_easy_setopt(ev->curl, CURLOPT_HTTPGET, 1L) != CURLE_OK ||
	    curl_easy_setopt(ev->curl, CURLOPT_HEADERFUNCTION, events_header) !=
	        CURLE_OK ||
	    curl_easy_setopt(ev->curl, CURLOPT_HEADERDATA, ev) != CURLE_OK ||
	    curl_easy_setopt(ev->curl, CURLOPT_WRITEFUNCTION, events_write) !=
	        CURLE_OK ||
	    curl_easy_setopt(ev->curl, CURLOPT_WRITEDATA, ev) != CURLE_OK ||
	    curl_easy_setopt(ev->curl, CURLOPT_NOPROGRESS, 0L) != CURLE_OK ||
	    curl_easy_setopt(ev->curl, CURLOPT_XFERINFOFUNCTION,
	        events_progress) != CURLE_OK ||
	    curl_easy_setopt(ev->curl, CURLOPT_XFERINFODATA, ev) != CURLE_OK) {
		(void)snprintf(why, whylen, "cannot set up GET /events");
		return;
	}
	cc = curl_easy_perform(ev->curl);
	if (ev->drop_why[0] != '\0') {
		(void)text_escape_str(ev->drop_why, why, whylen);
		return;
	}
	if (cc == CURLE_OK) {
		(void)snprintf(why, whylen, "dockerd closed the event stream");
		return;
	}
	docker_describe_curl(cc, errbuf, ev->socket_path, esc, sizeof(esc));
	(void)snprintf(why, whylen, "GET /events: %s", esc);
}

/* Sleeps ms unless stopped; true when stopping. */
static bool
events_sleep(struct docker_events *ev, int ms)
{
	struct timespec ts;
	bool stop;

	if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
		return true;
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	if (pthread_mutex_lock(&ev->mu) != 0)
		return true;
	while (!ev->stop) {
		if (pthread_cond_timedwait(&ev->cv, &ev->mu, &ts) == ETIMEDOUT)
			break;
	}
	stop = ev->stop;
	(void)pthread_mutex_unlock(&ev->mu);
	return stop;
}

static void *
events_main(void *arg)
{
	struct docker_events *ev = arg;
	char why[sizeof(ev->drop_why) * 4 + CURL_ERROR_SIZE];
	int backoff = DOCKER_EVENTS_BACKOFF_MIN_MS;

	while (!atomic_load(&ev->stop_now)) {
		events_read_once(ev, why, sizeof(why));
		if (atomic_load(&ev->stop_now))
			break;
		if (ev->hostile && pthread_mutex_lock(&ev->mu) == 0) {
			ev->stats.dropped++;
			(void)pthread_mutex_unlock(&ev->mu);
		}
		if (ev->up &&
		    clock_mono_ms() - ev->started_ms >= DOCKER_STREAM_STABLE_MS)
			backoff = DOCKER_EVENTS_BACKOFF_MIN_MS;
		/* Report each fall, not each failed redial. */
		if (!ev->down_reported) {
			if (ev->ops.on_stream != NULL)
				ev->ops.on_stream(ev->arg, false, why);
			ev->down_reported = true;
		} else {
			log_debug("docker event stream still down: %s", why);
		}
		ev->up = false;
		if (events_sleep(ev, backoff))
			break;
		backoff = backoff >= DOCKER_EVENTS_BACKOFF_MAX_MS / 2 ?
		    DOCKER_EVENTS_BACKOFF_MAX_MS :
		    backoff * 2;
	}
	return NULL;
}

int
docker_events_start(const char *socket_path,
    const struct docker_events_ops *ops, void *arg, struct docker_events **out,
    struct err_msg *msg)
{
	struct docker_events *ev = NULL;
	pthread_condattr_t ca;
	bool mu_ok = false, cv_ok = false;
	int r;

	*out = NULL;
	if (ops == NULL)
		return err_set(msg, SIGNET_ERR_INVALID_ARG, "no callbacks");
	r = docker_check_socket_path(socket_path, msg);
	if (r != 0)
		return r;
	ev = calloc(1, sizeof(*ev));
	if (ev == NULL)
		return err_set(msg, SIGNET_ERR_ALLOC, "out of memory");
	memcpy(ev->socket_path, socket_path, strlen(socket_path) + 1);
	ev->ops = *ops;
	ev->arg = arg;
	atomic_init(&ev->stop_now, false);
	ev->line = malloc(DOCKER_EVENT_LINE_MAX + 1);
	ev->curl = curl_easy_init();
	if (ev->line == NULL || ev->curl == NULL) {
		r = err_set(msg, SIGNET_ERR_ALLOC, "out of memory");
		goto fail;
	}
	if (pthread_mutex_init(&ev->mu, NULL) != 0) {
		r = err_set(msg, SIGNET_ERR_INTERNAL, "pthread_mutex_init");
		goto fail;
	}
	mu_ok = true;
	if (pthread_condattr_init(&ca) != 0) {
		r = err_set(msg, SIGNET_ERR_INTERNAL, "pthread_condattr_init");
		goto fail;
	}
	if (pthread_condattr_setclock(&ca, CLOCK_MONOTONIC) != 0 ||
	    pthread_cond_init(&ev->cv, &ca) != 0) {
		(void)pthread_condattr_destroy(&ca);
		r = err_set(msg, SIGNET_ERR_INTERNAL, "pthread_cond_init");
		goto fail;
	}
	(void)pthread_condattr_destroy(&ca);
	cv_ok = true;
	if (pthread_create(&ev->thread, NULL, events_main, ev) != 0) {
		r = err_set(msg, SIGNET_ERR_INTERNAL,
		    "cannot start the docker event thread");
		goto fail;
	}
	*out = ev;
	return 0;
fail:
	if (cv_ok)
		(void)pthread_cond_destroy(&ev->cv);
	if (mu_ok)
		(void)pthread_mutex_destroy(&ev->mu);
	curl_easy_cleanup(ev->curl);
	free(ev->line);
	free(ev);
	return r;
}

void
docker_events_get_stats(struct docker_events *ev,
    struct docker_events_stats *st)
{
	memset(st, 0, sizeof(*st));
	if (ev == NULL || pthread_mutex_lock(&ev->mu) != 0)
		return;
	*st = ev->stats;
	(void)pthread_mutex_unlock(&ev->mu);
}

void
docker_events_stop(struct docker_events *ev)
{
	if (ev == NULL)
		return;
	atomic_store(&ev->stop_now, true);
	if (pthread_mutex_lock(&ev->mu) == 0) {
		ev->stop = true;
		(void)pthread_cond_broadcast(&ev->cv);
		(void)pthread_mutex_unlock(&ev->mu);
	}
	(void)pthread_join(ev->thread, NULL);
	(void)pthread_cond_destroy(&ev->cv);
	(void)pthread_mutex_destroy(&ev->mu);
	curl_easy_cleanup(ev->curl);
	free(ev->line);
	free(ev);
}
