/*
 * cmd_login.c: `htc login`: save the daemon's URL and the token in the
 * config file, so that later commands need neither.
 *
 * The URL is --url or $HTC_URL (else the file's url is kept); the token is
 * --token or --token-file, else one line read from standard input (with
 * the terminal's echo off when it is one). The file keeps everything else
 * it holds: only url, token and token-file lines change (conf_edit()). The
 * result is parsed again before it is written, so a value that would not
 * read back the same is refused rather than saved. The token is never
 * printed.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "conf.h"
#include "conf_file.h"
#include "htc.h"
#include "print.h"

/* One line of standard input into buf[0..cap): the terminal's echo off while it is read. 0 or -1. */
static int
read_line(char *buf, size_t cap)
{
	struct termios old, quiet;
	int tty = isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &old) == 0;
	char *got;

	if (tty) {
		fputs("token: ", stderr);
		quiet = old;
		quiet.c_lflag &= ~(tcflag_t)ECHO;
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
	}
	got = fgets(buf, (int)cap, stdin);
	if (tty) {
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
		fputc('\n', stderr);
	}
	return got != NULL ? 0 : -1;
}

/* The token from standard input: its first line, the line end removed. NULL after printing why. */
static const char *
token_stdin(void)
{
	static char buf[HTC_TOKEN_MAX + 3];
	size_t n;

	if (read_line(buf, sizeof(buf)) < 0) {
		print_err("login: no token: give --token-file F, or the token on standard input");
		return NULL;
	}
	n = strcspn(buf, "\n");
	if (buf[n] != '\n' && n == sizeof(buf) - 1) {
		print_err("login: the token on standard input is longer than %d bytes", HTC_TOKEN_MAX);
		return NULL;
	}
	buf[n] = '\0';
	if (n > 0 && buf[n - 1] == '\r')
		buf[--n] = '\0';
	return buf;
}

/* 1 when t is 1..HTC_TOKEN_MAX visible ASCII characters. */
static int
token_valid(const char *t)
{
	size_t n = strlen(t), i;

	for (i = 0; i < n; i++)
		if ((unsigned char)t[i] < 0x21 || (unsigned char)t[i] > 0x7e)
			return 0;
	return n > 0 && n <= HTC_TOKEN_MAX;
}

/* 1 when "key = value" fits on a line of the file, else 0 after printing why. */
static int
fits(const char *key, const char *value)
{
	if (strlen(key) + 3 + strlen(value) <= CONF_LINE_MAX)
		return 1;
	print_err("login: the %s is too long for a line of the config file (%d bytes at most)%s", key,
		  CONF_LINE_MAX,
		  strcmp(key, "token") == 0 ? ": keep it in a file and set token-file there" : "");
	return 0;
}

/* The file's text, "" when there is none. 0, or an exit status after printing why. */
static int
old_text(const char *path, char **text, size_t *len)
{
	int rc = conf_file_read(path, text, len, NULL);

	if (rc == -ENOENT) {
		*text = strdup("");
		*len = 0;
		rc = *text == NULL ? -ENOMEM : 0;
	}
	if (rc < 0) {
		print_err("config file %s: %s", path, strerror(-rc));
		return HTC_EXIT_FAIL;
	}
	return 0;
}

/* 1 when text[0..len) parses and reads url (unless NULL) and token back. */
static int
reads_back(const char *text, size_t len, const char *url, const char *token)
{
	static struct conf check;

	return conf_parse(&check, text, len) == 0 && check.set[CONF_TOKEN] != NULL &&
	       strcmp(check.set[CONF_TOKEN], token) == 0 &&
	       (url == NULL || (check.set[CONF_URL] != NULL && strcmp(check.set[CONF_URL], url) == 0));
}

/* Write url (NULL: keep the file's) and token into the file at path. An exit status. */
static int
save(const char *path, const char *url, const char *token)
{
	static struct conf old;
	char *text, *out;
	size_t len, out_len;
	int rc;

	if ((rc = old_text(path, &text, &len)) != 0)
		return rc;
	if (conf_parse(&old, text, len) < 0) {
		print_err("%s:%d: %s", path, old.err_line, old.err);
		free(text);
		return HTC_EXIT_USAGE;
	}
	out = conf_edit(&old, text, len, url, token, &out_len);
	free(text);
	if (out == NULL) {
		print_err("out of memory");
		return HTC_EXIT_FAIL;
	}
	if (!reads_back(out, out_len, url, token)) {
		print_err("login: the url or token would not read back from an INI file as given");
		rc = HTC_EXIT_USAGE;
	} else {
		rc = conf_file_write(path, out, out_len) < 0 ? HTC_EXIT_FAIL : HTC_EXIT_OK;
	}
	free(out);
	return rc;
}

/* see htc.h */
int
cmd_login(struct htc_opts *o, int argc, char **argv)
{
	const char *url = o->url_src == HTC_SRC_FLAG || o->url_src == HTC_SRC_ENV ? o->url : NULL;
	const char *token = o->token_src == HTC_SRC_FLAG ? o->token : NULL;
	int rc;

	if (argc > 0) {
		print_err("login: unexpected argument: %s", argv[0]);
		return HTC_EXIT_USAGE;
	}
	if (o->conf_path == NULL) {
		print_err("login: no place for the config file: set HOME or HTC_CONFIG");
		return HTC_EXIT_USAGE;
	}
	if (url == NULL && (o->conf == NULL || o->conf->set[CONF_URL] == NULL)) {
		print_err("login: give --url URL, the daemon to save");
		return HTC_EXIT_USAGE;
	}
	if (token == NULL && (token = token_stdin()) == NULL)
		return HTC_EXIT_USAGE;
	if (!token_valid(token)) {
		print_err("login: the token must be 1..%d visible ASCII characters", HTC_TOKEN_MAX);
		return HTC_EXIT_USAGE;
	}
	if ((url != NULL && !fits("url", url)) || !fits("token", token))
		return HTC_EXIT_USAGE;
	if ((rc = save(o->conf_path, url, token)) == HTC_EXIT_OK)
		printf("saved to %s\n", o->conf_path);
	return rc;
}
