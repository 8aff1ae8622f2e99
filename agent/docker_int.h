/* SPDX-License-Identifier: ISC */
/*
 * What docker.c (the client and its requests) lends docker_events.c (the
 * event stream); included by agent/docker*.c only.
 */
#ifndef SIGNET_AGENT_DOCKER_INT_H
#define SIGNET_AGENT_DOCKER_INT_H

#include <stddef.h>

#include <curl/curl.h>

#include "err.h"

/*
 * Refuses a socket path that is not absolute or longer than
 * DOCKER_SOCKET_PATH_MAX: 0 or SIGNET_ERR_INVALID_ARG with msg.
 */
int docker_check_socket_path(const char *socket_path, struct err_msg *msg)
    __attribute__((warn_unused_result));

/*
 * Resets c and sets the options every request to dockerd shares: the
 * unix socket, DOCKER_API_BASE followed by path, HTTP only, no redirects,
 * the connect timeout, errbuf. Returns 0 or -1 (path too long, or curl
 * refused an option).
 */
int docker_setup_handle(CURL *c, const char *socket_path, const char *path,
    char errbuf[static CURL_ERROR_SIZE]) __attribute__((warn_unused_result));

/*
 * What went wrong with curl, in words that fit a unix socket, escaped,
 * into out (always NUL-terminated).
 */
void docker_describe_curl(CURLcode cc, const char *errbuf,
    const char *socket_path, char *out, size_t outlen);

#endif
