/*
 * conf_edit.c: the config file's text after `htc login` (see conf.h).
 *
 * The lines to drop are those conf_parse() found for the settings being
 * replaced (a parsed file has each setting once, on one line); every
 * other byte is copied as it is, comments and sections included.
 */
#include "conf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* 1 when line number n holds a setting that the new text replaces. */
static int
replaced(const struct conf *c, int n, int url)
{
	return n == c->set_line[CONF_TOKEN] || n == c->set_line[CONF_TOKEN_FILE] ||
	       (url && n == c->set_line[CONF_URL]);
}

/* The first line replaced, or 0 when there is none (the new lines go to the top). */
static int
first_replaced(const struct conf *c, int url)
{
	int i, first = 0;

	for (i = 0; i < CONF_SETTING_MAX; i++) {
		int n = c->set_line[i];

		if (n != 0 && replaced(c, n, url) && (first == 0 || n < first))
			first = n;
	}
	return first;
}

/* Append "url = ...\ntoken = ...\n" at out + *used. */
static void
put_settings(char *out, size_t *used, const char *url, const char *token)
{
	if (url != NULL) {
		memcpy(out + *used, "url = ", 6);
		memcpy(out + *used + 6, url, strlen(url));
		*used += 6 + strlen(url);
		out[(*used)++] = '\n';
	}
	memcpy(out + *used, "token = ", 8);
	memcpy(out + *used + 8, token, strlen(token));
	*used += 8 + strlen(token);
	out[(*used)++] = '\n';
}

/* see conf.h */
char *
conf_edit(const struct conf *c, const char *text, size_t len, const char *url, const char *token,
	  size_t *out_len)
{
	size_t cap = len + (url != NULL ? strlen(url) : 0) + strlen(token) + 32, used = 0, n;
	int line = 0, at = first_replaced(c, url != NULL);
	const char *p = text, *end = text + len, *nl;
	char *out = malloc(cap);

	if (out == NULL)
		return NULL;
	if (at == 0)
		put_settings(out, &used, url, token);
	while (p < end) {
		nl = memchr(p, '\n', (size_t)(end - p));
		n = nl != NULL ? (size_t)(nl - p) + 1 : (size_t)(end - p);
		line++;
		if (line == at)
			put_settings(out, &used, url, token);
		if (!replaced(c, line, url != NULL)) {
			memcpy(out + used, p, n);
			used += n;
		}
		p += n;
	}
	out[used] = '\0';
	*out_len = used;
	return out;
}
