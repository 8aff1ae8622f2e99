/* SPDX-License-Identifier: ISC */
/*
 * The operator API's libmicrohttpd daemon (GnuTLS, its own threads): the
 * listen address, the server's certificate and key, a slot per connection
 * with a deadline that a watchdog thread enforces (and which also expires
 * actions past their deadline), libmicrohttpd's messages into our log,
 * and api_start/api_stop. Each request is handled in api.c.
 */
#include "api_int.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <sodium.h>

#include "actions.h"
#include "clock.h"
#include "fileio.h"
#include "log.h"
#include "metrics.h"
#include "text.h"

struct api_slot *
api_conn_slot(struct MHD_Connection *conn)
{
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn,
	    MHD_CONNECTION_INFO_SOCKET_CONTEXT);

	return ci != NULL ? ci->socket_context : NULL;
}

void
api_slot_deadline(struct api *api, struct MHD_Connection *conn, int64_t ms)
{
	struct api_slot *slot = api_conn_slot(conn);

	if (slot == NULL)
		return;
	(void)pthread_mutex_lock(&api->mu);
	slot->deadline_ms = clock_mono_ms() + ms;
	(void)pthread_mutex_unlock(&api->mu);
}

/*
 * Tracks each connection so the watchdog can cut one whose headers (or
 * answer) do not complete in time; slots are freed before MHD closes the
 * socket, so the watchdog never touches a reused descriptor.
 */
static void
api_conn_notify(void *cls, struct MHD_Connection *conn, void **socket_ctx,
    enum MHD_ConnectionNotificationCode toe)
{
	struct api *api = cls;
	struct api_slot *slot = *socket_ctx;
	const union MHD_ConnectionInfo *ci;
	size_t i;

	(void)pthread_mutex_lock(&api->mu);
	if (toe == MHD_CONNECTION_NOTIFY_CLOSED) {
		if (slot != NULL) {
			slot->used = false;
			identity_store_free(slot->auth_store);
			slot->auth_store = NULL;
		}
		*socket_ctx = NULL;
		goto out;
	}
	ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
	for (i = 0;
	     ci != NULL && i < sizeof(api->slots) / sizeof(api->slots[0]);
	     i++) {
		if (api->slots[i].used)
			continue;
		api->slots[i].used = true;
		api->slots[i].cut = false;
		api->slots[i].fd = ci->connect_fd;
		api->slots[i].deadline_ms = clock_mono_ms() +
		    API_HEADER_DEADLINE_MS;
		identity_store_free(api->slots[i].auth_store);
		api->slots[i].auth_store = NULL;
		*socket_ctx = &api->slots[i];
		break;
	}
out:
	(void)pthread_mutex_unlock(&api->mu);
}

static void *
api_watchdog(void *arg)
{
	struct api *api = arg;
	struct timespec ts;
	size_t i;

	(void)pthread_mutex_lock(&api->mu);
	while (!api->stopping) {
		int64_t now = clock_mono_ms();

		for (i = 0; i < sizeof(api->slots) / sizeof(api->slots[0]);
		     i++) {
			struct api_slot *s = &api->slots[i];

			if (!s->used || s->cut || s->deadline_ms == 0 ||
			    now < s->deadline_ms)
				continue;
			/* MHD sees the shut socket and closes it itself. */
			(void)shutdown(s->fd, SHUT_RDWR);
			s->cut = true;
			log_info("api: cut a connection that did not complete "
			         "its request in time fd=%d",
			    s->fd);
		}
		if (api->actions != NULL) {
			size_t n;

			/* Recording takes an fdatasync: not under mu. */
			(void)pthread_mutex_unlock(&api->mu);
			n = actions_expire_and_record(api->actions,
			    api->ctx->audit, clock_wall_ms());
			api_approvals_expire(api);
			while (n-- > 0)
				metrics_inc(api->ctx->metrics,
				    M_ACTIONS_TIMEOUT);
			(void)pthread_mutex_lock(&api->mu);
			if (api->stopping)
				break;
		}
		/* Refusal summaries whose window closed; not under mu. */
		(void)pthread_mutex_unlock(&api->mu);
		api_refusal_close(api, false);
		(void)pthread_mutex_lock(&api->mu);
		if (api->stopping)
			break;
		if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
			break;
		ts.tv_nsec += 250 * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		(void)pthread_cond_timedwait(&api->cv, &api->mu, &ts);
	}
	(void)pthread_mutex_unlock(&api->mu);
	return NULL;
}

/* libmicrohttpd's own messages, to our log (escaped, one line each). */
__attribute__((format(printf, 2, 0))) static void
api_mhd_log(void *cls, const char *fmt, va_list ap)
{
	struct api *api = cls;
	char raw[512], esc[600];
	size_t n;

	(void)vsnprintf(raw, sizeof(raw), fmt, ap);
	n = strlen(raw);
	while (n > 0 && (raw[n - 1] == '\n' || raw[n - 1] == '\r'))
		raw[--n] = '\0';
	(void)text_escape(raw, n, esc, sizeof(esc));
	log_info("api: libmicrohttpd: %s", esc);
	(void)pthread_mutex_lock(&api->mu);
	if (api->starting) {
		/* Every message of a failed start goes into its error. */
		size_t used = strlen(api->start_error);
		size_t room = sizeof(api->start_error) - 1 - used;
		size_t elen = strlen(esc);

		if (used > 0 && room >= 2) {
			memcpy(api->start_error + used, "; ", 2);
			used += 2;
			room -= 2;
		}
		elen = elen < room ? elen : room;
		memcpy(api->start_error + used, esc, elen);
		api->start_error[used + elen] = '\0';
	}
	(void)pthread_mutex_unlock(&api->mu);
}

/* "HOST:PORT" or "[V6]:PORT" into a socket address. */
static int
parse_listen(const char *listen, struct sockaddr_storage *ss,
    struct err_msg *msg)
{
	struct addrinfo hints, *res = NULL;
	char host[256], esc[128];
	const char *port, *colon;
	size_t hlen;
	int64_t pnum;
	int e;

	(void)text_escape_str(listen, esc, sizeof(esc));
	if (listen[0] == '[') {
		const char *close = strchr(listen, ']');
		if (close == NULL || close[1] != ':')
			goto bad;
		hlen = (size_t)(close - listen - 1);
		memcpy(host, listen + 1, hlen < sizeof(host) ? hlen : 0);
		port = close + 2;
	} else {
		colon = strrchr(listen, ':');
		if (colon == NULL ||
		    memchr(listen, ':', (size_t)(colon - listen)) != NULL)
			goto bad;
		hlen = (size_t)(colon - listen);
		memcpy(host, listen, hlen < sizeof(host) ? hlen : 0);
		port = colon + 1;
	}
	if (hlen == 0 || hlen >= sizeof(host) ||
	    text_to_int64(port, 0, 65535, &pnum) != 0)
		goto bad;
	host[hlen] = '\0';
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	e = getaddrinfo(host, port, &hints, &res);
	if (e != 0 || res == NULL || res->ai_addrlen > sizeof(*ss)) {
		if (res != NULL)
			freeaddrinfo(res);
		return err_set(msg, SIGNET_ERR_INVALID_ARG,
		    "api listen "
		    "address \"%s\": %s",
		    esc, e != 0 ? gai_strerror(e) : "no address");
	}
	memset(ss, 0, sizeof(*ss));
	memcpy(ss, res->ai_addr, res->ai_addrlen);
	freeaddrinfo(res);
	return 0;
bad:
	return err_set(msg, SIGNET_ERR_INVALID_ARG,
	    "api listen address "
	    "\"%s\" is not HOST:PORT or [IPV6]:PORT",
	    esc);
}

static uint16_t
listen_port(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET)
		return ntohs(
		    ((const struct sockaddr_in *)(const void *)ss)->sin_port);
	if (ss->ss_family == AF_INET6)
		return ntohs(
		    ((const struct sockaddr_in6 *)(const void *)ss)->sin6_port);
	return 0;
}

int
api_start(struct server_ctx *ctx, const char *listen, const char *cert_path,
    const char *key_path, const char *ca_path, struct api **out,
    struct err_msg *msg)
{
	return api_start_relay(ctx, listen, cert_path, key_path, ca_path, NULL,
	    out, msg);
}

int
api_start_relay(struct server_ctx *ctx, const char *listen,
    const char *cert_path, const char *key_path, const char *ca_path,
    const struct api_relay *relay, struct api **out, struct err_msg *msg)
{
	struct api *api = NULL;
	struct sockaddr_storage ss;
	pthread_condattr_t ca_attr;
	char *cert = NULL, *ca = NULL, *key = NULL;
	size_t cert_len, ca_len, key_len;
	unsigned flags;
	int r;

	if (out != NULL)
		*out = NULL;
	if (ctx == NULL || listen == NULL || cert_path == NULL ||
	    key_path == NULL || ca_path == NULL || out == NULL)
		return err_set(msg, SIGNET_ERR_INVALID_ARG,
		    "api_start: NULL "
		    "argument");
	if (relay != NULL && (relay->actions == NULL || relay->hub == NULL))
		return err_set(msg, SIGNET_ERR_INVALID_ARG,
		    "api_start: "
		    "incomplete action relay");
	if (sodium_init() < 0)
		return err_set(msg, SIGNET_ERR_CRYPTO,
		    "cannot initialise "
		    "libsodium");
	r = parse_listen(listen, &ss, msg);
	if (r != 0)
		goto out;
	r = fileio_read_alloc(cert_path, API_PEM_MAX, &cert, &cert_len, msg);
	if (r != 0)
		goto out;
	r = fileio_read_trusted(ca_path, API_PEM_MAX, "the CA", &ca, &ca_len,
	    msg);
	if (r != 0)
		goto out;
	key = sodium_malloc(API_PEM_MAX + 1);
	api = calloc(1, sizeof(*api));
	if (key == NULL || api == NULL) {
		r = err_set(msg, SIGNET_ERR_ALLOC, "out of memory");
		goto out;
	}
	r = fileio_read_small(key_path, key, API_PEM_MAX, &key_len,
	    FILEIO_SECRET, msg);
	if (r != 0)
		goto out;
	api->ctx = ctx;
	if (relay != NULL) {
		api->actions = relay->actions;
		api->hub = relay->hub;
		api->approvals = relay->approvals;
		if (api->approvals == NULL) {
			r = err_set(msg, SIGNET_ERR_INVALID_ARG,
			    "the relay has no approvals table");
			goto out;
		}
	}
	if (pthread_mutex_init(&api->mu, NULL) != 0) {
		r = err_set(msg, SIGNET_ERR_INTERNAL, "cannot make a mutex");
		goto out;
	}
	api->mu_ready = true;
	api_refusal_init(api);
	if (pthread_condattr_init(&ca_attr) != 0) {
		r = err_set(msg, SIGNET_ERR_INTERNAL, "cannot make a condvar");
		goto out;
	}
	r = pthread_condattr_setclock(&ca_attr, CLOCK_MONOTONIC) == 0 &&
	        pthread_cond_init(&api->cv, &ca_attr) == 0 ?
	    0 :
	    SIGNET_ERR_INTERNAL;
	(void)pthread_condattr_destroy(&ca_attr);
	if (r != 0) {
		r = err_set(msg, r, "cannot make a condvar");
		goto out;
	}
	api->cv_ready = true;
	if (pthread_create(&api->watchdog, NULL, api_watchdog, api) != 0) {
		r = err_set(msg, SIGNET_ERR_INTERNAL,
		    "cannot start the API "
		    "watchdog thread");
		goto out;
	}
	api->watchdog_running = true;

	(void)pthread_mutex_lock(&api->mu);
	api->starting = true;
	(void)pthread_mutex_unlock(&api->mu);
	flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO | MHD_USE_TLS |
	    MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG;
	if (ss.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	api->daemon = MHD_start_daemon(flags, listen_port(&ss), NULL, NULL,
	    api_access, api, MHD_OPTION_EXTERNAL_LOGGER, api_mhd_log, api,
	    MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
	    MHD_OPTION_HTTPS_MEM_CERT, cert, MHD_OPTION_HTTPS_MEM_KEY, key,
	    MHD_OPTION_HTTPS_MEM_TRUST, ca, MHD_OPTION_HTTPS_PRIORITIES,
	    API_TLS_PRIORITIES_DEFAULT, MHD_OPTION_CONNECTION_LIMIT,
	    (unsigned int)API_CONNECTION_LIMIT,
	    MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned int)API_PER_IP_LIMIT,
	    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)API_CONNECTION_TIMEOUT,
	    MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)API_CONNECTION_MEMORY,
	    MHD_OPTION_STRICT_FOR_CLIENT, (int)1, MHD_OPTION_URI_LOG_CALLBACK,
	    api_uri_log, api, MHD_OPTION_NOTIFY_COMPLETED, api_completed, api,
	    MHD_OPTION_NOTIFY_CONNECTION, api_conn_notify, api,
	    MHD_OPTION_THREAD_POOL_SIZE, (unsigned int)API_THREADS,
	    MHD_OPTION_END);
	/* The key is loaded into GnuTLS at start and not read again. */
	sodium_free(key);
	key = NULL;
	(void)pthread_mutex_lock(&api->mu);
	api->starting = false;
	(void)pthread_mutex_unlock(&api->mu);
	if (api->daemon == NULL) {
		const char *why = api->start_error[0] != '\0' ?
		    api->start_error :
		    "address in use, or a bad certificate "
		    "or key?";

		r = err_set(msg, SIGNET_ERR_IO,
		    "cannot start the operator API "
		    "on %s: %s",
		    listen, why);
		goto out;
	}
	log_info("api: listening on %s port=%u", listen, api_port(api));
	*out = api;
	api = NULL;
	r = 0;
out:
	api_stop(api);
	sodium_free(key);
	free(cert);
	free(ca);
	return r;
}

unsigned
api_port(struct api *api)
{
	const union MHD_DaemonInfo *di;

	if (api == NULL || api->daemon == NULL)
		return 0;
	di = MHD_get_daemon_info(api->daemon, MHD_DAEMON_INFO_BIND_PORT);
	return di != NULL ? di->port : 0;
}

/*
 * Resumes every waiting request (they answer 503) and gives them
 * API_STOP_GRACE_MS to finish: MHD must not stop with a connection
 * suspended. The watchdog is gone by now; the hub's thread too (main
 * stops the hub first), so no other thread wakes requests.
 */
static void
resume_all(struct api *api)
{
	struct MHD_Connection *conns[API_WAITS_MAX];
	struct timespec ts;
	size_t i, n = 0;

	actions_clear_waiters(api->actions);
	(void)pthread_mutex_lock(&api->mu);
	api->relay_stopping = true;
	for (i = 0; i < API_WAITS_MAX; i++) {
		if (api->waits[i].used) {
			conns[n++] = api->waits[i].conn;
			api->waits[i].used = false;
		}
	}
	(void)pthread_mutex_unlock(&api->mu);
	if (n > 0)
		log_info("api: stopping: answering %zu waiting request(s)", n);
	for (i = 0; i < n; i++)
		MHD_resume_connection(conns[i]);
	if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
		return;
	ts.tv_sec += API_STOP_GRACE_MS / 1000;
	(void)pthread_mutex_lock(&api->mu);
	while (api->outstanding > 0) {
		if (pthread_cond_timedwait(&api->cv, &api->mu, &ts) != 0)
			break;
	}
	(void)pthread_mutex_unlock(&api->mu);
}

void
api_stop(struct api *api)
{
	size_t i;

	if (api == NULL)
		return;
	if (api->watchdog_running) {
		(void)pthread_mutex_lock(&api->mu);
		api->stopping = true;
		(void)pthread_cond_signal(&api->cv);
		(void)pthread_mutex_unlock(&api->mu);
		(void)pthread_join(api->watchdog, NULL);
	}
	if (api->daemon != NULL && api->mu_ready && api->cv_ready)
		resume_all(api);
	if (api->daemon != NULL)
		MHD_stop_daemon(api->daemon);
	/* Nothing held back is lost: the open windows' counts, now. */
	if (api->mu_ready)
		api_refusal_close(api, true);
	/* MHD reports every close; this is for one it did not. */
	for (i = 0; i < sizeof(api->slots) / sizeof(api->slots[0]); i++) {
		identity_store_free(api->slots[i].auth_store);
		api->slots[i].auth_store = NULL;
	}
	if (api->cv_ready)
		(void)pthread_cond_destroy(&api->cv);
	if (api->mu_ready)
		(void)pthread_mutex_destroy(&api->mu);
	free(api);
}
