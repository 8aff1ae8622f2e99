/* SPDX-License-Identifier: ISC */
/*
 * Glob validation for the policy's name and image matchers: a glob is
 * accepted only when fnmatch(3) will take it as the host owner meant it
 * (known classes, ordered ranges, balanced brackets, no trailing '\'),
 * so that a typo is refused at load time instead of silently matching
 * nothing, or more than intended.
 */
#include "policy.h"

#include <string.h>

/* Checks "[:name:]" at g (g[0] == '[', g[1] == ':'); *adv = its length. */
static bool
glob_class(const char *g, size_t *adv)
{
	static const char *const classes[] = { "alnum", "alpha", "blank",
		"cntrl", "digit", "graph", "lower", "print", "punct", "space",
		"upper", "xdigit" };
	const char *end = strstr(g + 2, ":]");
	size_t i, n;

	if (end == NULL)
		return false;
	n = (size_t)(end - (g + 2));
	for (i = 0; i < sizeof(classes) / sizeof(classes[0]); i++) {
		if (strlen(classes[i]) == n &&
		    strncmp(g + 2, classes[i], n) == 0) {
			*adv = n + 4;
			return true;
		}
	}
	return false;
}

/* Reads one bracket member char at g[*j] (maybe escaped) into *c. */
static bool
glob_bracket_char(const char *g, size_t *j, unsigned char *c)
{
	if (g[*j] == '\\') {
		if (g[*j + 1] == '\0')
			return false;
		*c = (unsigned char)g[*j + 1];
		*j += 2;
		return true;
	}
	*c = (unsigned char)g[*j];
	*j += 1;
	return true;
}

bool
policy_glob_valid(const char *g, const char **why)
{
	const char *dummy;
	size_t i, len;

	if (why == NULL)
		why = &dummy;
	*why = NULL;
	if (g == NULL || g[0] == '\0') {
		*why = "empty glob";
		return false;
	}
	len = strlen(g);
	if (len > POLICY_GLOB_MAX) {
		*why = "longer than 256 bytes";
		return false;
	}
	for (i = 0; i < len; i++) {
		if ((unsigned char)g[i] < 0x20 || (unsigned char)g[i] > 0x7e) {
			*why = "only printable ASCII is allowed in a glob";
			return false;
		}
	}
	for (i = 0; i < len; i++) {
		size_t j;
		bool first;

		if (g[i] == '\\') {
			if (g[i + 1] == '\0') {
				*why = "trailing backslash";
				return false;
			}
			i++;
			continue;
		}
		if (g[i] != '[')
			continue;
		j = i + 1;
		if (g[j] == '!' || g[j] == '^')
			j++;
		first = true;
		for (;;) {
			unsigned char lo, hi;

			if (g[j] == '\0') {
				*why = "unbalanced '[' (write \\[ for a "
				       "literal bracket)";
				return false;
			}
			if (g[j] == ']' && !first)
				break;
			first = false;
			if (g[j] == '[' && g[j + 1] == ':') {
				size_t adv = 0;
				if (!glob_class(g + j, &adv)) {
					*why = "unknown or unterminated "
					       "[:class:]";
					return false;
				}
				j += adv;
				continue;
			}
			if (g[j] == '[' &&
			    (g[j + 1] == '=' || g[j + 1] == '.')) {
				*why = "[= =] and [. .] are not supported";
				return false;
			}
			if (!glob_bracket_char(g, &j, &lo)) {
				*why = "trailing backslash";
				return false;
			}
			if (g[j] != '-' || g[j + 1] == ']' || g[j + 1] == '\0')
				continue;
			j++;
			if (g[j] == '[' &&
			    (g[j + 1] == ':' || g[j + 1] == '=' ||
			        g[j + 1] == '.')) {
				*why = "a range cannot end in a class";
				return false;
			}
			if (!glob_bracket_char(g, &j, &hi)) {
				*why = "trailing backslash";
				return false;
			}
			if (hi < lo) {
				*why = "reversed range";
				return false;
			}
		}
		i = j;
	}
	return true;
}
