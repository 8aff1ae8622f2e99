/* SPDX-License-Identifier: ISC */
/* Escaping, number parsing, names, UTF-8 and strict JSON helpers. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "jsonx.h"
#include "text.h"
#include "testlib.h"

/*
 * Objects of many members are checked by sorting their names: every
 * distinct set parses, a duplicate anywhere is found, and 100,000 members
 * (a hostile 1 MiB frame) parse at all (pairwise, that took seconds).
 */
static void
check_many_names(void)
{
	static const size_t counts[] = { 15, 16, 17, 100, 100000 };
	struct err_msg msg;
	cJSON *root = NULL;
	size_t i, k, len, cap;
	char *buf;

	for (k = 0; k < sizeof(counts) / sizeof(counts[0]); k++) {
		size_t n = counts[k];
		int dup;

		cap = 16 + n * 24;
		buf = malloc(cap);
		CHECK(buf != NULL);
		if (buf == NULL)
			return;
		/* dup 0: all distinct; 1: last = first; 2: two in the middle. */
		for (dup = 0; dup < 3; dup++) {
			len = 0;
			buf[len++] = '{';
			for (i = 0; i < n; i++) {
				size_t name = i;

				if (dup == 1 && i == n - 1)
					name = 0;
				if (dup == 2 && i == n / 2 + 1)
					name = n / 2;
				len += (size_t)snprintf(buf + len, cap - len,
				    "%s\"k%zu\":%zu", i > 0 ? "," : "", name,
				    i);
			}
			buf[len++] = '}';
			root = NULL;
			if (dup == 0) {
				CHECKF(jsonx_parse_object("t", buf, len, 8,
				           &root, &msg) == 0,
				    "%zu names: %s", n, msg.text);
				CHECK(root != NULL &&
				    (size_t)cJSON_GetArraySize(root) == n);
			} else {
				CHECKF(jsonx_parse_object("t", buf, len, 8,
				           &root, &msg) == SIGNET_ERR_FORMAT,
				    "%zu names, duplicate %d", n, dup);
				CHECK_CONTAINS(msg.text,
				    dup == 1 ? "duplicate key \"k0\"" :
				               "duplicate key");
			}
			cJSON_Delete(root);
		}
		free(buf);
	}
}

/* The log sink's escaper: controls and non-ASCII only. */
static void
check_vis(void)
{
	static const struct {
		const char *in;
		const char *want;
	} rows[] = {
		{ "reason=\"a\\\"b\"", "reason=\"a\\\"b\"" },
		{ "one\ntwo\rthree", "one\\x0atwo\\x0dthree" },
		{ "\x1b[2J\x7f\xc3\xa9", "\\x1b[2J\\x7f\\xc3\\xa9" },
	};
	char out[64];
	size_t i;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		CHECKF(strcmp(text_vis(rows[i].in, strlen(rows[i].in), out,
		                  sizeof(out)),
		           rows[i].want) == 0,
		    "vis %zu: %s", i, out);
}

/* Hex through libsodium, and the one bounded base64 decoder. */
static void
check_hex_b64(void)
{
	static const uint8_t bytes[] = { 0x00, 0x9f, 0xff };
	static const struct {
		const char *b64;
		size_t cap;
		int want;
		const char *bytes;
	} rows[] = {
		{ "c2lnbmV0", 6, 0, "signet" },
		{ "c2lnbmV0", 5, SIGNET_ERR_TOO_LARGE, NULL },
		{ "c2lnbmV0", 1, SIGNET_ERR_TOO_LARGE, NULL },
		{ "c2lnbmV", 16, SIGNET_ERR_FORMAT, NULL },
		{ "c2lnbmV0 ", 16, SIGNET_ERR_FORMAT, NULL },
		{ "c2ln\nbmV0", 16, SIGNET_ERR_FORMAT, NULL },
		{ "c2ln_mV0", 16, SIGNET_ERR_FORMAT, NULL },
		{ "", 16, SIGNET_ERR_FORMAT, NULL },
		{ "YQ==", 16, 0, "a" },
		{ "YQ", 16, SIGNET_ERR_FORMAT, NULL },
	};
	uint8_t buf[16], *dyn = NULL;
	char hex[7];
	size_t i, len;
	int r;

	CHECK(strcmp(text_hex(bytes, sizeof(bytes), hex), "009fff") == 0);
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		len = 99;
		r = text_b64_decode_into(rows[i].b64, strlen(rows[i].b64), buf,
		    rows[i].cap, &len);
		CHECKF(r == rows[i].want, "b64 row %zu: %d", i, r);
		if (rows[i].bytes != NULL)
			CHECKF(r == 0 && len == strlen(rows[i].bytes) &&
			        memcmp(buf, rows[i].bytes, len) == 0,
			    "b64 row %zu bytes", i);
		else
			CHECKF(len == 0, "b64 row %zu: len %zu", i, len);
		r = text_b64_decode(rows[i].b64, strlen(rows[i].b64),
		    rows[i].cap, &dyn, &len);
		CHECKF(r == rows[i].want, "b64 alloc row %zu: %d", i, r);
		CHECKF(r == 0 ? dyn != NULL && dyn[len] == '\0' : dyn == NULL,
		    "b64 alloc row %zu: buffer", i);
		free(dyn);
		dyn = NULL;
	}
}

/* The one time format. */
static void
check_time(void)
{
	char buf[32];

	CHECK(strcmp(clock_format(0, false, buf, sizeof(buf)),
	          "1970-01-01T00:00:00Z") == 0);
	CHECK(strcmp(clock_format(1796424052107LL, true, buf, sizeof(buf)),
	          "2026-12-04T22:40:52.107Z") == 0);
	CHECK(strcmp(clock_format(1796424052107LL, false, buf, sizeof(buf)),
	          "2026-12-04T22:40:52Z") == 0);
	CHECK(strcmp(clock_format(-1, true, buf, sizeof(buf)),
	          "1969-12-31T23:59:59.999Z") == 0);
	CHECK(clock_format(1796424052107LL, true, buf, 24)[0] == '\0');
}

int
main(void)
{
	char out[64];
	int64_t v = 0;
	cJSON *root = NULL;
	struct err_msg msg;
	size_t i;

	static const struct {
		const char *in;
		const char *want;
	} esc[] = {
		{ "plain", "plain" },
		{ "a\"b\\c", "a\\\"b\\\\c" },
		{ "nl\nx", "nl\\x0ax" },
		{ "\x1b[31m", "\\x1b[31m" },
		{ "\xff", "\\xff" },
	};
	for (i = 0; i < sizeof(esc) / sizeof(esc[0]); i++)
		CHECKF(strcmp(text_escape_str(esc[i].in, out, sizeof(out)),
		           esc[i].want) == 0,
		    "escape %zu: %s", i, out);
	{
		char tiny[8];
		text_escape_str("abcdefghijkl", tiny, sizeof(tiny));
		CHECK(strcmp(tiny, "abcd...") == 0);
	}

	static const struct {
		const char *s;
		int64_t min, max;
		int want;
		int64_t v;
	} nums[] = {
		{ "0", 0, 10, 0, 0 },
		{ "10", 0, 10, 0, 10 },
		{ "11", 0, 10, SIGNET_ERR_TOO_LARGE, 0 },
		{ "-1", 0, 10, SIGNET_ERR_TOO_LARGE, 0 },
		{ "1x", 0, 10, SIGNET_ERR_FORMAT, 0 },
		{ "", 0, 10, SIGNET_ERR_FORMAT, 0 },
		{ " 1", 0, 10, SIGNET_ERR_FORMAT, 0 },
		{ "+1", 0, 10, SIGNET_ERR_FORMAT, 0 },
		{ "99999999999999999999", 0, INT64_MAX, SIGNET_ERR_TOO_LARGE,
		    0 },
	};
	for (i = 0; i < sizeof(nums) / sizeof(nums[0]); i++) {
		int r = text_to_int64(nums[i].s, nums[i].min, nums[i].max, &v);
		CHECKF(r == nums[i].want && (r != 0 || v == nums[i].v),
		    "number \"%s\": %d", nums[i].s, r);
	}

	static const struct {
		const char *s;
		bool ok;
	} names[] = {
		{ "web-01", true },
		{ "a", true },
		{ "db.prod_2", true },
		{ "", false },
		{ "-x", false },
		{ ".x", false },
		{ "Web", false },
		{ "a/b", false },
		{ "../x", false },
		{ "a b", false },
		{ "012345678901234567890123456789012345678901234567890123456789012",
		    true },
		{ "0123456789012345678901234567890123456789012345678901234567890123",
		    false },
	};
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		CHECKF(text_valid_name(names[i].s) == names[i].ok, "name %s",
		    names[i].s);

	static const struct {
		const char *s;
		bool ok;
	} utf8[] = {
		{ "abc", true },
		{ "\xc3\xa9", true },
		{ "\xe2\x82\xac", true },
		{ "\xf0\x9f\x98\x80", true },
		{ "\xc0\xaf", false },
		{ "\xe0\x80\xaf", false },
		{ "\xed\xa0\x80", false },
		{ "\xf4\x90\x80\x80", false },
		{ "\xc3", false },
		{ "\x80", false },
	};
	for (i = 0; i < sizeof(utf8) / sizeof(utf8[0]); i++)
		CHECKF(text_utf8_valid(utf8[i].s, strlen(utf8[i].s)) ==
		        utf8[i].ok,
		    "utf8 row %zu", i);
	CHECK(text_utf8_chars("a\xc3\xa9\xe2\x82\xac") == 3);
	CHECK(text_is_hex("00ff", 4) && !text_is_hex("00FF", 4) &&
	    !text_is_hex("00ff0", 4));

	CHECK(jsonx_parse_object("t", "{\"a\":{\"b\":1,\"b\":2}}", 19, 8, &root,
	          &msg) == SIGNET_ERR_FORMAT);
	CHECK_CONTAINS(msg.text, "duplicate key \"b\"");
	CHECK(jsonx_parse_object("t", "{\"a\":\"\\\\u0000\"}", 15, 8, &root,
	          &msg) == 0);
	cJSON_Delete(root);
	CHECK(jsonx_parse_object("t", "{} ", 3, 8, &root, &msg) == 0);
	cJSON_Delete(root);
	CHECK(jsonx_parse_object("t", "{}{}", 4, 8, &root, &msg) ==
	    SIGNET_ERR_FORMAT);
	check_many_names();
	check_vis();
	check_hex_b64();
	check_time();
	return test_finish("test_text");
}
