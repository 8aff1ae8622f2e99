/* SPDX-License-Identifier: ISC */
/*
 * Test-only driver of the agent's docker module against a real dockerd:
 *   docker_probe [--socket PATH] version
 *   docker_probe [--socket PATH] list           rows as a JSON array
 *   docker_probe [--socket PATH] frame          size of the inventory frame
 *   docker_probe [--socket PATH] inspect ID     one row as JSON
 *   docker_probe [--socket PATH] events SECONDS one line per event, until
 *                                               SECONDS pass or SIGTERM
 * The socket defaults to $DOCKER_HOST (unix://PATH). Timings and counts go
 * to stderr as key=value; exit 0, or 1 with the module's message.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "daemon.h"
#include "docker.h"
#include "inventory.h"
#include "jsonx.h"
#include "log.h"
#include "text.h"
#include "wire.h"

static volatile sig_atomic_t probe_stop;

static void
on_signal(int sig)
{
	(void)sig;
	probe_stop = 1;
}

static int
usage(void)
{
	fprintf(stderr,
	    "usage: docker_probe [--socket PATH] version | list | frame | "
	    "inspect ID | events SECONDS\n");
	return 2;
}

static int
print_json(cJSON *item)
{
	char *s;

	if (item == NULL)
		return 1;
	s = jsonx_print(item);
	cJSON_Delete(item);
	if (s == NULL)
		return 1;
	printf("%s\n", s);
	free(s);
	return 0;
}

static void
probe_event(void *arg, const struct docker_event *ev)
{
	char name[INVENTORY_NAME_MAX * 4 + 1];

	(void)arg;
	printf("%lld event action=%s id=%s name=%s\n",
	    (long long)clock_wall_ms(), ev->action,
	    ev->id[0] != '\0' ? ev->id : "-",
	    text_escape_str(ev->name, name, sizeof(name)));
	fflush(stdout);
}

static void
probe_stream(void *arg, bool up, const char *why)
{
	(void)arg;
	if (up)
		printf("%lld stream up\n", (long long)clock_wall_ms());
	else
		printf("%lld stream down why=%s\n", (long long)clock_wall_ms(),
		    why);
	fflush(stdout);
}

static int
run_events(const char *sock, const char *secs_s)
{
	static const struct docker_events_ops ops = { probe_event,
		probe_stream };
	struct docker_events *ev = NULL;
	struct docker_events_stats st;
	struct err_msg m;
	struct timespec ts = { 0, 100 * 1000000L };
	struct sigaction sa;
	int64_t secs, deadline;

	if (text_to_int64(secs_s, 1, 3600, &secs) != 0)
		return usage();
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	if (sigemptyset(&sa.sa_mask) != 0 ||
	    sigaction(SIGTERM, &sa, NULL) != 0 ||
	    sigaction(SIGINT, &sa, NULL) != 0)
		return 1;
	err_clear(&m);
	if (docker_events_start(sock, &ops, NULL, &ev, &m) != 0) {
		fprintf(stderr, "docker_probe: %s\n", m.text);
		return 1;
	}
	deadline = clock_mono_ms() + secs * 1000;
	while (probe_stop == 0 && clock_mono_ms() < deadline)
		(void)nanosleep(&ts, NULL);
	docker_events_get_stats(ev, &st);
	docker_events_stop(ev);
	fprintf(stderr, "events=%llu connects=%llu dropped=%llu\n",
	    (unsigned long long)st.events, (unsigned long long)st.connects,
	    (unsigned long long)st.dropped);
	return 0;
}

static int
run(const char *sock, int argc, char **argv)
{
	struct docker_client *dc = NULL;
	struct inventory *inv = NULL;
	struct err_msg m;
	char version[DOCKER_VERSION_MAX + 1];
	char *frame = NULL;
	size_t frame_len = 0;
	int64_t t0, t1;
	int r = 1;

	err_clear(&m);
	if (strcmp(argv[0], "events") == 0)
		return argc == 2 ? run_events(sock, argv[1]) : usage();
	if (docker_client_new(sock, &dc, &m) != 0)
		goto out;
	t0 = clock_mono_ms();
	if (strcmp(argv[0], "version") == 0 && argc == 1) {
		if (docker_version(dc, version, &m) != 0)
			goto out;
		printf("%s\n", version);
	} else if (strcmp(argv[0], "list") == 0 && argc == 1) {
		if (docker_list(dc, &inv, &m) != 0)
			goto out;
		t1 = clock_mono_ms();
		if (print_json(inventory_to_json(inv, NULL)) != 0)
			goto out;
		fprintf(stderr, "rows=%zu list_ms=%lld\n", inv->count,
		    (long long)(t1 - t0));
	} else if (strcmp(argv[0], "frame") == 0 && argc == 1) {
		if (docker_list(dc, &inv, &m) != 0)
			goto out;
		t1 = clock_mono_ms();
		if (wire_build_inventory(inv, &frame, &frame_len) != 0) {
			err_set(&m, SIGNET_ERR_ALLOC, "out of memory");
			goto out;
		}
		printf("rows=%zu list_ms=%lld frame_ms=%lld frame_bytes=%zu\n",
		    inv->count, (long long)(t1 - t0),
		    (long long)(clock_mono_ms() - t1), frame_len);
	} else if (strcmp(argv[0], "inspect") == 0 && argc == 2) {
		if (docker_inspect(dc, argv[1], &inv, NULL, NULL, &m) != 0)
			goto out;
		if (print_json(
		        inventory_container_json(&inv->items[0], NULL)) != 0)
			goto out;
	} else {
		r = usage();
		goto out;
	}
	r = 0;
out:
	if (r == 1)
		fprintf(stderr, "docker_probe: %s\n",
		    m.text[0] != '\0' ? m.text : "failed");
	free(frame);
	inventory_free(inv);
	docker_client_free(dc);
	return r;
}

int
main(int argc, char **argv)
{
	const char *sock = NULL, *host;
	struct err_msg m;
	int i = 1, r;

	log_init("docker_probe", LOG_LVL_INFO);
	if (argc > 2 && strcmp(argv[1], "--socket") == 0) {
		sock = argv[2];
		i = 3;
	} else {
		host = getenv("DOCKER_HOST");
		if (host != NULL && strncmp(host, "unix://", 7) == 0)
			sock = host + 7;
	}
	if (sock == NULL || i >= argc)
		return usage();
	err_clear(&m);
	if (docker_global_init(&m) != 0) {
		fprintf(stderr, "docker_probe: %s\n", m.text);
		return 1;
	}
	r = run(sock, argc - i, argv + i);
	docker_global_cleanup();
	return r;
}
