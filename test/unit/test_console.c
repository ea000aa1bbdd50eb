/*
 * test_console.c: htc's live output. Plain lines (the time first, the
 * binding when given, the failure reason, control bytes scrubbed), JSON
 * lines (one parseable object per event, null status, hostile text
 * escaped, a state said once) and the terminal view on a pseudo-terminal
 * (the block and its scrolling region, the fall back to plain lines when
 * the screen is too small). Output goes to open_memstream.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "htc/console.h"
#include "json.h"

struct cap {
	char *buf;
	size_t len;
	FILE *f;
};

static void
cap_open(struct cap *c)
{
	c->buf = NULL;
	c->len = 0;
	c->f = open_memstream(&c->buf, &c->len);
	assert_non_null(c->f);
}

/* Close the console and the stream; c->buf holds everything written. */
static void
cap_close(struct cap *c)
{
	console_close();
	fclose(c->f);
}

/* 1 when s starts with "HH:MM:SS.mmm ". */
static int
stamped(const char *s)
{
	static const char form[] = "00:00:00.000 ";
	size_t i;

	for (i = 0; i < sizeof(form) - 1; i++) {
		if (form[i] == '0' ? (s[i] < '0' || s[i] > '9') : s[i] != form[i])
			return 0;
	}
	return 1;
}

static void
test_lines_request(void **state)
{
	struct console_request rq = { "3000", "POST", "/hook", 502, 7, 0, "local connect refused" };
	struct console_request one = { NULL, "GET", "/", 200, 1, 1234, NULL };
	struct cap c;
	char *second;

	(void)state;
	cap_open(&c);
	assert_int_equal(console_open(CONSOLE_LINES, c.f, -1, "ws://x", 1, 0), CONSOLE_LINES);
	console_request(&rq);
	console_request(&one);
	cap_close(&c);
	assert_true(stamped(c.buf));
	second = strchr(c.buf, '\n');
	assert_non_null(second);
	*second++ = '\0';
	assert_string_equal(c.buf + 13, "[3000] POST /hook 502 7ms 0 B (local connect refused)");
	assert_true(stamped(second));
	assert_string_equal(second + 13, "GET / 200 1ms 1234 B\n");
	free(c.buf);
}

static void
test_lines_scrubbed(void **state)
{
	struct console_request rq = { NULL, "GET", "/a\033[2J\r\n", 0, 0, 0, "bad\033" };
	struct cap c;

	(void)state;
	cap_open(&c);
	console_open(CONSOLE_LINES, c.f, -1, "ws://x", 0, 0);
	console_request(&rq);
	console_stream_open(5, "127.0.0.1:4000");
	console_stream_close(5, 10, 20, "CANCEL");
	console_info("session", "session %s", "S-1");
	cap_close(&c);
	assert_null(memchr(c.buf, '\033', c.len));
	assert_non_null(strstr(c.buf, " GET /a?[2J?? - 0ms 0 B (bad?)\n"));
	assert_non_null(strstr(c.buf, " opened stream 5 from 127.0.0.1:4000\n"));
	assert_non_null(strstr(c.buf, " closed stream 5 (in 10 B, out 20 B, reset CANCEL)\n"));
	assert_non_null(strstr(c.buf, "\nsession S-1\n")); /* start-up lines carry no time */
	free(c.buf);
}

/* Parse line (NUL-terminated) as one JSON object into doc; the event's name must be event. */
static void
parse_event(struct json_doc *doc, struct json_tok *toks, size_t ntoks, const char *line, const char *event)
{
	char t[64];

	assert_true(json_parse(doc, line, strlen(line), toks, ntoks, NULL) >= 0);
	assert_true(json_obj_get_str(doc, 0, "time", t, sizeof(t)) == 24);
	assert_true(t[10] == 'T' && t[19] == '.' && t[23] == 'Z');
	assert_true(json_string_eq(doc, json_get(doc, 0, "event"), event));
}

static void
test_json_events(void **state)
{
	struct console_request rq = { NULL, "GET", "/\033x\"", 0, 12, 0, "timeout" };
	struct console_row row = { "http", "3000", "https://3000.example.test", "127.0.0.1:3000" };
	struct json_tok toks[64];
	struct json_doc doc;
	struct cap c;
	char *line, *next, s[64];
	int64_t v;
	int n = 0;

	(void)state;
	cap_open(&c);
	assert_int_equal(console_open(CONSOLE_JSON, c.f, -1, "ws://x", 1, 1), CONSOLE_JSON);
	console_session("S-1");
	console_row(0, &row);
	console_link(CONSOLE_ONLINE);
	console_link(CONSOLE_ONLINE); /* no change: no event */
	console_request(&rq);
	cap_close(&c);
	for (line = c.buf; *line != '\0'; line = next, n++) {
		next = strchr(line, '\n');
		assert_non_null(next);
		*next++ = '\0';
		switch (n) {
		case 0:
			parse_event(&doc, toks, 64, line, "session");
			assert_true(json_obj_get_str(&doc, 0, "session", s, sizeof(s)) == 3);
			break;
		case 1:
			parse_event(&doc, toks, 64, line, "bound");
			assert_true(json_obj_get_str(&doc, 0, "from", s, sizeof(s)) > 0);
			assert_string_equal(s, "https://3000.example.test");
			assert_true(json_obj_get_str(&doc, 0, "binding", s, sizeof(s)) == 4);
			break;
		case 2:
			parse_event(&doc, toks, 64, line, "state");
			assert_true(json_string_eq(&doc, json_get(&doc, 0, "state"), "online"));
			break;
		case 3:
			parse_event(&doc, toks, 64, line, "request");
			assert_true(json_is_null(&doc, json_get(&doc, 0, "status")));
			assert_int_equal(json_obj_get_str(&doc, 0, "path", s, sizeof(s)), 4);
			assert_memory_equal(s, "/\033x\"", 4); /* escaped on the wire, intact once parsed */
			assert_true(json_obj_get_int(&doc, 0, "duration_ms", &v) == 0 && v == 12);
			assert_true(json_string_eq(&doc, json_get(&doc, 0, "error"), "timeout"));
			break;
		default: fail_msg("an extra line: %s", line);
		}
	}
	assert_int_equal(n, 4);
	free(c.buf);
}

/* A pseudo-terminal of rows x cols: the slave's fd (the master in *master). */
static int
pty_of(unsigned short rows, unsigned short cols, int *master)
{
	struct winsize ws = { .ws_row = rows, .ws_col = cols };
	int m = posix_openpt(O_RDWR | O_NOCTTY), s;

	assert_true(m >= 0);
	assert_int_equal(grantpt(m), 0);
	assert_int_equal(unlockpt(m), 0);
	s = open(ptsname(m), O_RDWR | O_NOCTTY);
	assert_true(s >= 0);
	assert_int_equal(ioctl(m, TIOCSWINSZ, &ws), 0);
	*master = m;
	return s;
}

static void
test_view_block_and_region(void **state)
{
	struct console_row row = { "http", "3000", "container port 3000", "127.0.0.1:3000" };
	struct console_request rq = { NULL, "GET", "/", 200, 1, 5, NULL };
	struct cap c;
	int m, s = pty_of(24, 80, &m);

	(void)state;
	cap_open(&c);
	assert_int_equal(console_open(CONSOLE_VIEW, c.f, s, "ws://h:50", 1, 0), CONSOLE_VIEW);
	console_row(0, &row);
	console_session("S-9");
	console_link(CONSOLE_ONLINE);
	console_rtt(1500);
	console_request(&rq);
	console_refresh();
	fflush(c.f);
	/* the block is 7 rows (1 binding): the log scrolls in rows 8..24 */
	assert_non_null(strstr(c.buf, "\033[8;24r"));
	assert_non_null(strstr(c.buf, "Session     S-9"));
	assert_non_null(strstr(c.buf, "Status      online"));
	assert_non_null(strstr(c.buf, "RTT         1.50 ms"));
	assert_non_null(strstr(c.buf, "http        container port 3000 -> 127.0.0.1:3000"));
	assert_non_null(strstr(c.buf, "Traffic     1 requests (0 failed)"));
	assert_non_null(strstr(c.buf, " GET / 200 1ms 5 B\n"));
	assert_null(strstr(c.buf, "\033[32m")); /* no colour asked for */
	cap_close(&c);
	assert_non_null(strstr(c.buf, "Status      closed"));
	assert_non_null(strstr(c.buf, "\033[r")); /* the whole screen scrolls again */
	free(c.buf);
	close(s);
	close(m);
}

static void
test_view_too_small(void **state)
{
	struct console_row row = { "tcp", "5432", "container 127.0.0.1:5432", "127.0.0.1:5432" };
	struct winsize ws = { .ws_row = 6, .ws_col = 80 };
	struct cap c;
	int m, s = pty_of(8, 80, &m);

	(void)state;
	cap_open(&c);
	/* 7 block rows and 3 log rows do not fit in 8 */
	assert_int_equal(console_open(CONSOLE_VIEW, c.f, s, "ws://h", 1, 1), CONSOLE_LINES);
	cap_close(&c);
	assert_int_equal(c.len, 0);
	free(c.buf);
	close(s);
	close(m);

	s = pty_of(30, 80, &m);
	cap_open(&c);
	assert_int_equal(console_open(CONSOLE_VIEW, c.f, s, "ws://h", 1, 1), CONSOLE_VIEW);
	console_row(0, &row);
	assert_int_equal(ioctl(m, TIOCSWINSZ, &ws), 0); /* shrunk: plain lines from now on */
	console_refresh();
	assert_int_equal(console_mode(), CONSOLE_LINES);
	cap_close(&c);
	assert_non_null(strstr(c.buf, "\033[r"));
	free(c.buf);
	close(s);
	close(m);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lines_request),  cmocka_unit_test(test_lines_scrubbed),
		cmocka_unit_test(test_json_events),    cmocka_unit_test(test_view_block_and_region),
		cmocka_unit_test(test_view_too_small),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
