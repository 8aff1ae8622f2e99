/* SPDX-License-Identifier: ISC */
/* The operator API's strict request-target parser, row by row. */
#include <stdlib.h>
#include <string.h>

#include "api_int.h"
#include "testlib.h"

struct row {
	const char *target;
	int want;         /* 0, SIGNET_ERR_FORMAT or SIGNET_ERR_TOO_LARGE */
	size_t nseg;      /* when accepted */
	const char *seg1; /* second segment when accepted, or NULL */
	const char *host; /* value of ?host= when accepted, or NULL */
};

static const struct row rows[] = {
	{ "/api/hosts", 0, 2, "hosts", NULL },
	{ "/api/containers?host=web-01&state=running", 0, 2, "containers",
	    "web-01" },
	{ "/api/containers/0123456789ab", 0, 3, "containers", NULL },
	{ "/api/containers?host=web%2d01", 0, 2, "containers", "web-01" },
	{ "/api/%68osts", 0, 2, "hosts", NULL },
	{ "/api/../etc/passwd", SIGNET_ERR_FORMAT, 0, NULL, NULL },
	{ "/api/./hosts", SIGNET_ERR_FORMAT, 0, NULL, NULL },
	{ "/api/%2e%2e/x", SIGNET_ERR_FORMAT, 0, NULL, NULL },
	{ "/api//hosts", SIGNET_ERR_FORMAT, 0, NULL, NULL },
	{ "/api/a%2fb", SIGNET_ERR_FORMAT, 0, NULL, NULL },
	{ "/api/hosts%", SIGNET_ERR_FORMAT, 0, NULL, NULL },
	{ "/api/hosts%zz", SIGNET_ERR_FORMAT, 0, NULL, NULL },
	{ "api/hosts", SIGNET_ERR_FORMAT, 0, NULL, NULL },
	{ "/api/hosts#frag", SIGNET_ERR_FORMAT, 0, NULL, NULL },
	{ "/api/containers?host=a&host=b", SIGNET_ERR_FORMAT, 0, NULL, NULL },
	{ "/api/containers?host", SIGNET_ERR_FORMAT, 0, NULL, NULL },
	{ "/api/containers?host=%00", SIGNET_ERR_FORMAT, 0, NULL, NULL },
	{ "/api/containers?host=a%0ab", SIGNET_ERR_FORMAT, 0, NULL, NULL },
};

int
main(void)
{
	struct api_url *u = malloc(sizeof(*u));
	struct err_msg msg;
	size_t i;

	CHECK(u != NULL);
	for (i = 0; u != NULL && i < sizeof(rows) / sizeof(rows[0]); i++) {
		const struct row *w = &rows[i];
		int r;

		err_clear(&msg);
		r = api_url_parse(w->target, strlen(w->target), u, &msg);
		CHECKF(r == w->want, "\"%s\": got %d (%s)", w->target, r,
		    msg.text);
		if (r != 0 || w->want != 0)
			continue;
		CHECKF(u->nseg == w->nseg, "\"%s\": %zu segments", w->target,
		    u->nseg);
		if (w->seg1 != NULL && u->nseg > 1)
			CHECKF(strcmp(u->seg[1], w->seg1) == 0,
			    "\"%s\": seg %s", w->target, u->seg[1]);
		if (w->host != NULL) {
			const char *h = api_url_param(u, "host");
			CHECKF(h != NULL && strcmp(h, w->host) == 0,
			    "\"%s\": host %s", w->target, h ? h : "(none)");
		}
	}
	/* Over-long targets and unknown parameters. */
	if (u != NULL) {
		static const char *const allowed[] = { "host", "state", NULL };
		char *big = malloc(API_URL_MAX + 64);

		CHECK(big != NULL);
		if (big != NULL) {
			memset(big, 'a', API_URL_MAX + 63);
			big[0] = '/';
			big[API_URL_MAX + 63] = '\0';
			CHECK(api_url_parse(big, strlen(big), u, &msg) ==
			    SIGNET_ERR_TOO_LARGE);
			free(big);
		}
		CHECK(api_url_parse("/api/containers?host=h&color=red", 32, u,
		          &msg) == 0);
		CHECK(
		    api_url_only_params(u, allowed, &msg) == SIGNET_ERR_FORMAT);
		CHECK_CONTAINS(msg.text, "color");
	}
	free(u);
	return test_finish("test_api_url");
}
