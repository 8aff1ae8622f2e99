/* SPDX-License-Identifier: ISC */
/*
 * A network peer as logs and audit records name it (the field "peer"):
 * "ADDR:PORT", an IPv6 address in brackets, "[ADDR]:PORT", as [server]
 * agent_listen is written. One format for the agent hub and the API.
 */
#ifndef SIGNET_NETADDR_H
#define SIGNET_NETADDR_H

#include <stddef.h>
#include <sys/socket.h>

/* Room for any peer: "[" 45 characters of IPv6 "]:" 5 digits, NUL. */
#define NETADDR_PEER_MAX 56

/*
 * Writes the address and port of sa (a whole struct sockaddr_in or
 * sockaddr_in6, as its family says) into out. Returns 0; or
 * SIGNET_ERR_INVALID_ARG (sa or out NULL, another family, an address
 * inet_ntop refuses) or SIGNET_ERR_TOO_LARGE (outlen too small), with
 * out holding "unknown" when outlen allows it.
 */
int netaddr_format(const struct sockaddr *sa, char *out, size_t outlen);

#endif
