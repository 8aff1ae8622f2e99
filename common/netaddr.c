/* SPDX-License-Identifier: ISC */
/* Network peers as "ADDR:PORT" or "[ADDR]:PORT" (netaddr.h). */
#include "netaddr.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>

#include "err.h"

int
netaddr_format(const struct sockaddr *sa, char *out, size_t outlen)
{
	char host[INET6_ADDRSTRLEN];
	unsigned port;
	int n, r = SIGNET_ERR_INVALID_ARG;

	if (out == NULL || outlen == 0)
		return SIGNET_ERR_INVALID_ARG;
	if (sa == NULL)
		goto out;
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *s4 =
		    (const struct sockaddr_in *)(const void *)sa;

		if (inet_ntop(AF_INET, &s4->sin_addr, host, sizeof(host)) ==
		    NULL)
			goto out;
		port = ntohs(s4->sin_port);
		n = snprintf(out, outlen, "%s:%u", host, port);
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s6 =
		    (const struct sockaddr_in6 *)(const void *)sa;

		if (inet_ntop(AF_INET6, &s6->sin6_addr, host, sizeof(host)) ==
		    NULL)
			goto out;
		port = ntohs(s6->sin6_port);
		n = snprintf(out, outlen, "[%s]:%u", host, port);
	} else {
		goto out;
	}
	if (n < 0 || (size_t)n >= outlen) {
		r = SIGNET_ERR_TOO_LARGE;
		goto out;
	}
	return 0;
out:
	(void)snprintf(out, outlen, "%s", outlen > 7 ? "unknown" : "");
	return r;
}
