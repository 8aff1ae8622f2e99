/* SPDX-License-Identifier: ISC */
/* Escaping, bounded number parsing, name syntax and hex for signet. */
#include "text.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "err.h"

/*
 * The one escaper: printable ASCII stays, other bytes become \xNN; when
 * quoted, '\\' and '"' are escaped too, so the text can sit between
 * quotes. Ends in "..." when out is too small.
 */
static char *
escape(const void *in, size_t inlen, bool quoted, char *out, size_t outlen)
{
	static const char hexd[] = "0123456789abcdef";
	const unsigned char *p = in;
	size_t o = 0, i;

	if (outlen == 0)
		return out;
	for (i = 0; i < inlen; i++) {
		char tmp[4];
		size_t n;
		unsigned char c = p[i];

		if (quoted && (c == '\\' || c == '"')) {
			tmp[0] = '\\';
			tmp[1] = (char)c;
			n = 2;
		} else if (c >= 0x20 && c < 0x7f) {
			tmp[0] = (char)c;
			n = 1;
		} else {
			tmp[0] = '\\';
			tmp[1] = 'x';
			tmp[2] = hexd[c >> 4];
			tmp[3] = hexd[c & 0xf];
			n = 4;
		}
		/* Keep room for "..." and the NUL. */
		if (outlen < 4 || n > outlen - 4 - o) {
			size_t k;
			for (k = 0; k < 3 && o < outlen - 1; k++)
				out[o++] = '.';
			break;
		}
		memcpy(out + o, tmp, n);
		o += n;
	}
	out[o] = '\0';
	return out;
}

char *
text_escape(const void *in, size_t inlen, char *out, size_t outlen)
{
	return escape(in, inlen, true, out, outlen);
}

char *
text_vis(const void *in, size_t inlen, char *out, size_t outlen)
{
	return escape(in, inlen, false, out, outlen);
}

char *
text_vis_str(const char *in, char *out, size_t outlen)
{
	if (in == NULL)
		in = "";
	return escape(in, strlen(in), false, out, outlen);
}

char *
text_escape_str(const char *in, char *out, size_t outlen)
{
	if (in == NULL)
		in = "(null)";
	return text_escape(in, strlen(in), out, outlen);
}

int
text_to_int64(const char *s, int64_t min, int64_t max, int64_t *out)
{
	char *end = NULL;
	long long v;

	if (s == NULL || *s == '\0')
		return SIGNET_ERR_FORMAT;
	if (!(*s == '-' || (*s >= '0' && *s <= '9')))
		return SIGNET_ERR_FORMAT;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (end == s || *end != '\0')
		return SIGNET_ERR_FORMAT;
	if (errno == ERANGE || v < min || v > max)
		return SIGNET_ERR_TOO_LARGE;
	*out = (int64_t)v;
	return 0;
}

bool
text_valid_name(const char *s)
{
	size_t i;

	if (s == NULL || s[0] == '\0')
		return false;
	if (!((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= '0' && s[0] <= '9')))
		return false;
	for (i = 1; s[i] != '\0'; i++) {
		char c = s[i];
		if (i > 62)
			return false;
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		        c == '.' || c == '_' || c == '-'))
			return false;
	}
	return true;
}

bool
text_is_hex(const char *s, size_t n)
{
	size_t i;

	if (s == NULL)
		return false;
	for (i = 0; i < n; i++) {
		if (!((s[i] >= '0' && s[i] <= '9') ||
		        (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	}
	return s[n] == '\0';
}

char *
text_hex(const uint8_t *in, size_t inlen, char *out)
{
	return sodium_bin2hex(out, 2 * inlen + 1, in, inlen);
}

int
text_b64_decode_into(const char *b64, size_t b64len, uint8_t *buf, size_t cap,
    size_t *len)
{
	const char *end = NULL;
	size_t got = 0;

	*len = 0;
	if (b64 == NULL || b64len == 0)
		return SIGNET_ERR_FORMAT;
	/* Every 4 characters hold at most 3 bytes. */
	if (b64len / 4 > cap / 3 + 1)
		return SIGNET_ERR_TOO_LARGE;
	if (sodium_base642bin(buf, cap, b64, b64len, NULL, &got, &end,
	        sodium_base64_VARIANT_ORIGINAL) != 0)
		return b64len / 4 * 3 > cap ? SIGNET_ERR_TOO_LARGE :
		                              SIGNET_ERR_FORMAT;
	if (end != b64 + b64len)
		return SIGNET_ERR_FORMAT;
	*len = got;
	return 0;
}

int
text_b64_decode(const char *b64, size_t b64len, size_t max, uint8_t **out,
    size_t *len)
{
	uint8_t *buf;
	int r;

	*out = NULL;
	*len = 0;
	if (b64 == NULL || b64len == 0)
		return SIGNET_ERR_FORMAT;
	if (b64len / 4 > max / 3 + 1)
		return SIGNET_ERR_TOO_LARGE;
	buf = malloc(max + 1);
	if (buf == NULL)
		return SIGNET_ERR_ALLOC;
	r = text_b64_decode_into(b64, b64len, buf, max, len);
	if (r != 0) {
		free(buf);
		*len = 0;
		return r;
	}
	buf[*len] = '\0';
	*out = buf;
	return 0;
}

bool
text_utf8_valid(const void *buf, size_t len)
{
	const unsigned char *p = buf;
	size_t i = 0;

	while (i < len) {
		unsigned char c = p[i];
		uint32_t cp;
		size_t need, k;

		if (c < 0x80) {
			i++;
			continue;
		} else if (c >= 0xc2 && c <= 0xdf) {
			need = 1;
			cp = c & 0x1f;
		} else if (c >= 0xe0 && c <= 0xef) {
			need = 2;
			cp = c & 0x0f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			need = 3;
			cp = c & 0x07;
		} else {
			return false;
		}
		if (need > len - i - 1)
			return false;
		for (k = 1; k <= need; k++) {
			if ((p[i + k] & 0xc0) != 0x80)
				return false;
			cp = (cp << 6) | (p[i + k] & 0x3f);
		}
		if ((need == 2 && cp < 0x800) || (need == 3 && cp < 0x10000) ||
		    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		i += need + 1;
	}
	return true;
}

size_t
text_utf8_chars(const char *s)
{
	size_t n = 0;

	for (; *s != '\0'; s++) {
		if (((unsigned char)*s & 0xc0) != 0x80)
			n++;
	}
	return n;
}

bool
text_has_control(const char *s)
{
	for (; *s != '\0'; s++) {
		if ((unsigned char)*s < 0x20 || (unsigned char)*s == 0x7f)
			return true;
	}
	return false;
}
