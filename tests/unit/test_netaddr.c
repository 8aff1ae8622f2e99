/* SPDX-License-Identifier: ISC */
/* netaddr_format: the one "peer" format of the hub and the API. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

#include "err.h"
#include "netaddr.h"
#include "testlib.h"

static const struct {
	int family;
	const char *addr;
	unsigned port;
	const char *want;
} rows[] = {
	{ AF_INET, "127.0.0.1", 8443, "127.0.0.1:8443" },
	{ AF_INET, "0.0.0.0", 0, "0.0.0.0:0" },
	{ AF_INET, "255.255.255.255", 65535, "255.255.255.255:65535" },
	{ AF_INET6, "::1", 40000, "[::1]:40000" },
	{ AF_INET6, "::ffff:10.0.0.1", 1, "[::ffff:10.0.0.1]:1" },
	{ AF_INET6, "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255", 65535,
	    "[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535" },
};

int
main(void)
{
	struct sockaddr_storage ss;
	char out[NETADDR_PEER_MAX], small[8], tiny[4];
	size_t i;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		memset(&ss, 0, sizeof(ss));
		if (rows[i].family == AF_INET) {
			struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;

			s4->sin_family = AF_INET;
			s4->sin_port = htons((uint16_t)rows[i].port);
			CHECK(inet_pton(AF_INET, rows[i].addr, &s4->sin_addr) ==
			    1);
		} else {
			struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;

			s6->sin6_family = AF_INET6;
			s6->sin6_port = htons((uint16_t)rows[i].port);
			CHECK(inet_pton(AF_INET6, rows[i].addr,
			          &s6->sin6_addr) == 1);
		}
		CHECKF(netaddr_format((struct sockaddr *)&ss, out,
		           sizeof(out)) == 0 &&
		        strcmp(out, rows[i].want) == 0,
		    "%s: got \"%s\"", rows[i].want, out);
		CHECK(strlen(rows[i].want) < NETADDR_PEER_MAX);
	}
	/* The longest peer fits; a short buffer is refused, not cut. */
	CHECK(netaddr_format((struct sockaddr *)&ss, small, sizeof(small)) ==
	        SIGNET_ERR_TOO_LARGE &&
	    strcmp(small, "unknown") == 0);
	CHECK(netaddr_format((struct sockaddr *)&ss, tiny, sizeof(tiny)) ==
	        SIGNET_ERR_TOO_LARGE &&
	    strcmp(tiny, "") == 0);
	memset(&ss, 0, sizeof(ss));
	ss.ss_family = AF_UNIX;
	CHECK(netaddr_format((struct sockaddr *)&ss, out, sizeof(out)) ==
	        SIGNET_ERR_INVALID_ARG &&
	    strcmp(out, "unknown") == 0);
	CHECK(
	    netaddr_format(NULL, out, sizeof(out)) == SIGNET_ERR_INVALID_ARG &&
	    strcmp(out, "unknown") == 0);
	CHECK(netaddr_format(NULL, NULL, 0) == SIGNET_ERR_INVALID_ARG);
	return test_finish("test_netaddr");
}
