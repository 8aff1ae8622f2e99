/* SPDX-License-Identifier: ISC */
/* INI configuration: the documented samples parse; every mistake is named. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent_config.h"
#include "config.h"
#include "server_config.h"
#include "testlib.h"

static const char server_ok[] =
    "# server.conf\n"
    "[server]\n"
    "agent_listen = 0.0.0.0:8444        ; WSS for agents\n"
    "api_listen   = 127.0.0.1:8443      ; HTTPS for operators and auditors\n"
    "[tls]\n"
    "ca   = /etc/signet/ca.pem\n"
    "crl  = /etc/signet/crl.pem\n"
    "cert = /etc/signet/server.pem\n"
    "key  = /etc/signet/server.key\n"
    "[keys]\n"
    "action     = /etc/signet/keys/action.key\n"
    "audit      = /etc/signet/keys/audit.key\n"
    "agents_dir = /etc/signet/keys/agents   ; HOST-ID.pub for each agent\n"
    "[audit]\n"
    "path = /var/lib/signet/audit.log\n";

static const char agent_ok[] = "[agent]\n"
                               "server        = wss://relay.example.org:8444\n"
                               "docker_socket = /var/run/docker.sock\n"
                               "policy        = /etc/signet/policy.json\n"
                               "[tls]\n"
                               "ca   = /etc/signet/ca.pem\n"
                               "cert = /etc/signet/agent.pem\n"
                               "key  = /etc/signet/agent.key\n"
                               "[keys]\n"
                               "action_pub = /etc/signet/keys/action.pub\n"
                               "result     = /etc/signet/keys/result.key\n"
                               "[audit]\n"
                               "path = /var/lib/signet-agent/audit.log\n";

static const char agent_tail[] = "[tls]\n"
                                 "ca   = /etc/signet/ca.pem\n"
                                 "cert = /etc/signet/agent.pem\n"
                                 "key  = /etc/signet/agent.key\n"
                                 "[keys]\n"
                                 "action_pub = /etc/signet/keys/action.pub\n"
                                 "result     = /etc/signet/keys/result.key\n"
                                 "[audit]\n"
                                 "path = /var/lib/signet-agent/audit.log\n";

struct row {
	const char *name;
	const char *head; /* the [agent] section, then agent_tail */
	const char *why;  /* NULL: accepted */
};

static const struct row rows[] = {
	{ "minimal", "[agent]\nserver = wss://h:1\npolicy = /p\n", NULL },
	{ "ipv6 server", "[agent]\nserver = wss://[::1]:8444/x\npolicy = /p\n",
	    NULL },
	{ "unknown key",
	    "[agent]\nserver = wss://h:1\npolicy = /p\n"
	    "colour = blue\n",
	    "conf:4: unknown key \"colour\" in [agent]" },
	{ "unknown section",
	    "[agent]\nserver = wss://h:1\npolicy = /p\n"
	    "[extra]\nx = 1\n",
	    "conf:5: unknown section [extra]" },
	{ "duplicate",
	    "[agent]\nserver = wss://h:1\nserver = wss://h:2\n"
	    "policy = /p\n",
	    "conf:3: [agent] server is set again (first on "
	    "line 2)" },
	{ "ws not wss", "[agent]\nserver = ws://h:1\npolicy = /p\n",
	    "conf:2: [agent] server = \"ws://h:1\" must be a wss:// URL" },
	{ "no port", "[agent]\nserver = wss://h\npolicy = /p\n",
	    "must be wss://HOST:PORT" },
	/* Several servers (issue 16): each checked, a bad one named. */
	{ "two URLs",
	    "[agent]\nserver = wss://a:1 wss://[::1]:2/x\npolicy = /p\n",
	    NULL },
	{ "URLs with runs of blanks",
	    "[agent]\nserver = wss://a:1    wss://b:2\npolicy = /p\n", NULL },
	{ "URLs separated by a tab",
	    "[agent]\nserver = wss://a:1\twss://b:2\npolicy = /p\n",
	    "control characters" },
	{ "sixteen URLs",
	    "[agent]\nserver = wss://h:1 wss://h:2 wss://h:3 wss://h:4 "
	    "wss://h:5 wss://h:6 wss://h:7 wss://h:8 wss://h:9 wss://h:10 "
	    "wss://h:11 wss://h:12 wss://h:13 wss://h:14 wss://h:15 "
	    "wss://h:16\npolicy = /p\n",
	    NULL },
	{ "seventeen URLs",
	    "[agent]\nserver = wss://h:1 wss://h:2 wss://h:3 wss://h:4 "
	    "wss://h:5 wss://h:6 wss://h:7 wss://h:8 wss://h:9 wss://h:10 "
	    "wss://h:11 wss://h:12 wss://h:13 wss://h:14 wss://h:15 "
	    "wss://h:16 wss://h:17\npolicy = /p\n",
	    "holds more than 16 URLs" },
	{ "a bad second URL",
	    "[agent]\nserver = wss://a:1 ws://b:2\npolicy = /p\n",
	    "URL 2 \"ws://b:2\" must be a wss:// URL" },
	{ "a third URL without a port",
	    "[agent]\nserver = wss://a:1 wss://b:2 wss://c\npolicy = /p\n",
	    "URL 3 \"wss://c\" must be wss://HOST:PORT" },
	{ "a URL with a control byte",
	    "[agent]\nserver = wss://a:1 wss://b:2\x01\npolicy = /p\n",
	    "control characters" },
	{ "reconnect_min_ms 0",
	    "[agent]\nserver = wss://a:1\npolicy = /p\n"
	    "reconnect_min_ms = 0\n",
	    "must be an integer from 1 to 3600000" },
	{ "reconnect_max_ms over an hour",
	    "[agent]\nserver = wss://a:1\n"
	    "policy = /p\nreconnect_max_ms = 3600001\n",
	    "must be an integer from 1 to 3600000" },
	{ "port 0", "[agent]\nserver = wss://h:0\npolicy = /p\n",
	    "must be wss://HOST:PORT" },
	{ "port 70000", "[agent]\nserver = wss://h:70000\npolicy = /p\n",
	    "must be wss://HOST:PORT" },
	{ "relative path", "[agent]\nserver = wss://h:1\npolicy = p.json\n",
	    "conf:3: [agent] policy = \"p.json\" must be an absolute path" },
	{ "missing required", "[agent]\nserver = wss://h:1\n",
	    "conf: missing required key [agent] policy" },
	{ "int out of range",
	    "[agent]\nserver = wss://h:1\npolicy = /p\n"
	    "stop_timeout = 601\n",
	    "must be an integer from 0 to 600" },
	{ "int junk",
	    "[agent]\nserver = wss://h:1\npolicy = /p\n"
	    "stop_timeout = 10s\n",
	    "must be an integer" },
	{ "int ok",
	    "[agent]\nserver = wss://h:1\npolicy = /p\n"
	    "stop_timeout = 3\n",
	    NULL },
	{ "not ini", "[agent]\nserver = wss://h:1\npolicy = /p\njust words\n",
	    "conf:4: not a valid INI line" },
	{ "empty value", "[agent]\nserver =\npolicy = /p\n",
	    "conf:2: [agent] server = \"\" is empty" },
	{ "bad section line", "[agent\nserver = wss://h:1\n",
	    "conf:1: not a valid INI line" },
};

int
main(void)
{
	struct config *cfg = NULL;
	struct err_msg msg;
	char text[4096];
	size_t i;
	char host[64];
	int port = 0;

	CHECK(config_parse("server.conf", server_ok, strlen(server_ok),
	          server_config_schema, server_config_schema_len, &cfg,
	          &msg) == 0);
	if (cfg != NULL) {
		CHECK(strcmp(config_get(cfg, "server", "agent_listen"),
		          "0.0.0.0:8444") == 0);
		CHECK(strcmp(config_get(cfg, "keys", "agents_dir"),
		          "/etc/signet/keys/agents") == 0);
		CHECK(config_line(cfg, "audit", "path") == 15);
		CHECK(strcmp(config_get(cfg, "server", "log_level"), "info") ==
		    0);
		CHECK(config_get(cfg, "server", "nope") == NULL);
	}
	config_free(cfg);
	CHECK(
	    config_parse("agent.conf", agent_ok, strlen(agent_ok),
	        agent_config_schema, agent_config_schema_len, &cfg, &msg) == 0);
	if (cfg != NULL)
		CHECK(config_get_int(cfg, "agent", "stop_timeout", -1) == 10);
	config_free(cfg);

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		int r;

		(void)snprintf(text, sizeof(text), "%s%s", rows[i].head,
		    agent_tail);
		err_clear(&msg);
		cfg = NULL;
		r = config_parse("conf", text, strlen(text),
		    agent_config_schema, agent_config_schema_len, &cfg, &msg);
		if (rows[i].why == NULL) {
			CHECKF(r == 0, "row %s: %s", rows[i].name, msg.text);
		} else {
			CHECKF(r == SIGNET_ERR_CONFIG && cfg == NULL,
			    "row %s accepted", rows[i].name);
			CHECKF(strstr(msg.text, rows[i].why) != NULL,
			    "row %s: \"%s\" lacks \"%s\"", rows[i].name,
			    msg.text, rows[i].why);
		}
		config_free(cfg);
	}

	/* Lines libinih would split are refused outright. */
	{
		char longline[400];
		memset(longline, 'a', sizeof(longline));
		(void)snprintf(longline, sizeof(longline),
		    "[agent]\npolicy = /%0250d\n", 1);
		CHECK(config_parse("conf", longline, strlen(longline),
		          agent_config_schema, agent_config_schema_len, &cfg,
		          &msg) == SIGNET_ERR_CONFIG);
		CHECK_CONTAINS(msg.text, "conf:2: line longer than");
		CHECK(config_parse("conf", "[agent]\0x", 9, agent_config_schema,
		          agent_config_schema_len, &cfg,
		          &msg) == SIGNET_ERR_CONFIG);
		CHECK_CONTAINS(msg.text, "NUL");
	}
	CHECK(config_load("/nonexistent/signet.conf", agent_config_schema,
	          agent_config_schema_len, &cfg, &msg) == SIGNET_ERR_CONFIG);
	CHECK_CONTAINS(msg.text, "no such file");

	/* The samples shipped in packaging/ must load as they are. */
	{
		const char *src = getenv("SIGNET_SOURCE_DIR");
		char path[1024];

		CHECK(src != NULL);
		if (src != NULL) {
			(void)snprintf(path, sizeof(path),
			    "%s/packaging/server.conf", src);
			CHECKF(config_load(path, server_config_schema,
			           server_config_schema_len, &cfg, &msg) == 0,
			    "%s", msg.text);
			config_free(cfg);
			(void)snprintf(path, sizeof(path),
			    "%s/packaging/agent.conf", src);
			CHECKF(config_load(path, agent_config_schema,
			           agent_config_schema_len, &cfg, &msg) == 0,
			    "%s", msg.text);
			config_free(cfg);
		}
	}
	CHECK(
	    config_split_listen("[::1]:8443", host, sizeof(host), &port) == 0 &&
	    strcmp(host, "::1") == 0 && port == 8443);
	CHECK(config_split_listen("::1:8443", host, sizeof(host), &port) != 0);
	CHECK(config_split_listen("h:-1", host, sizeof(host), &port) != 0);
	return test_finish("test_config");
}
