/*
 * test_log.c: levels, parse helpers, and the bytes written in both
 * formats. Output is captured through a SOCK_SEQPACKET socketpair: each
 * write() arrives as one packet, so every read also checks that a record
 * was written with exactly one write(). JSON lines are checked with a small
 * strict parser written here (independent of the escaper under test).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

static int cap_fd[2] = { -1, -1 };

static int
setup(void **state)
{
	(void)state;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, cap_fd) != 0)
		return -1;
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	log_init(LOG_LEVEL_INFO, LOG_FORMAT_TEXT, -1);
	close(cap_fd[0]);
	close(cap_fd[1]);
	return 0;
}

/* One record (one write) into out, NUL-terminated; its length, or 0 when none is waiting. */
static size_t
capture(char *out, size_t cap)
{
	ssize_t r = recv(cap_fd[1], out, cap - 1, MSG_DONTWAIT);

	if (r < 0) {
		assert_true(errno == EAGAIN || errno == EWOULDBLOCK);
		r = 0;
	}
	out[r] = '\0';
	return (size_t)r;
}

static void
assert_nothing_logged(void)
{
	char b[64];

	assert_int_equal(capture(b, sizeof(b)), 0);
}

/* ---- a strict JSON reader for the flat objects the logger writes -------- */

#define MAXF 32

struct jfield {
	char key[128];
	char val[LOG_LINE_MAX * 2];
	int is_null;
};

static struct jfield jf[MAXF];

static void
put_utf8(char **o, unsigned long cp)
{
	unsigned char *p = (unsigned char *)*o;

	if (cp < 0x80) {
		*p++ = (unsigned char)cp;
	} else if (cp < 0x800) {
		*p++ = (unsigned char)(0xc0 | cp >> 6);
		*p++ = (unsigned char)(0x80 | (cp & 63));
	} else if (cp < 0x10000) {
		*p++ = (unsigned char)(0xe0 | cp >> 12);
		*p++ = (unsigned char)(0x80 | (cp >> 6 & 63));
		*p++ = (unsigned char)(0x80 | (cp & 63));
	} else {
		*p++ = (unsigned char)(0xf0 | cp >> 18);
		*p++ = (unsigned char)(0x80 | (cp >> 12 & 63));
		*p++ = (unsigned char)(0x80 | (cp >> 6 & 63));
		*p++ = (unsigned char)(0x80 | (cp & 63));
	}
	*o = (char *)p;
}

/* Decode one raw UTF-8 character by arithmetic; -1 when ill-formed. */
static int
raw_utf8(const unsigned char *s, unsigned long *cp)
{
	int len, i;
	unsigned long v;

	if (s[0] < 0x80) {
		*cp = s[0];
		return 1;
	}
	len = (s[0] & 0xe0) == 0xc0 ? 2 : (s[0] & 0xf0) == 0xe0 ? 3 : (s[0] & 0xf8) == 0xf0 ? 4 : 0;
	if (len == 0)
		return -1;
	v = s[0] & (0x7f >> len);
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return -1;
		v = v << 6 | (s[i] & 63);
	}
	if ((len == 2 && v < 0x80) || (len == 3 && v < 0x800) || (len == 4 && v < 0x10000) || v > 0x10ffff ||
	    (v >= 0xd800 && v <= 0xdfff))
		return -1;
	*cp = v;
	return len;
}

static int
hex4(const char *s, unsigned long *v)
{
	int i;

	*v = 0;
	for (i = 0; i < 4; i++) {
		char c = s[i];
		int d = c >= '0' && c <= '9'   ? c - '0'
			: c >= 'a' && c <= 'f' ? c - 'a' + 10
			: c >= 'A' && c <= 'F' ? c - 'A' + 10
					       : -1;
		if (d < 0)
			return -1;
		*v = *v << 4 | (unsigned long)d;
	}
	return 0;
}

/* Parse a JSON string at s (at its opening quote) into out; returns the end, or NULL. */
static const char *
jstring(const char *s, char *out)
{
	unsigned long cp, lo;
	int k;

	if (*s++ != '"')
		return NULL;
	for (;;) {
		unsigned char c = (unsigned char)*s;
		if (c == '"')
			break;
		if (c < 0x20) /* raw control characters (and the NUL end) are invalid */
			return NULL;
		if (c != '\\') {
			k = raw_utf8((const unsigned char *)s, &cp);
			if (k < 0)
				return NULL;
			memcpy(out, s, (size_t)k);
			out += k;
			s += k;
			continue;
		}
		s++;
		switch (*s++) {
		case '"': *out++ = '"'; break;
		case '\\': *out++ = '\\'; break;
		case '/': *out++ = '/'; break;
		case 'b': *out++ = '\b'; break;
		case 'f': *out++ = '\f'; break;
		case 'n': *out++ = '\n'; break;
		case 'r': *out++ = '\r'; break;
		case 't': *out++ = '\t'; break;
		case 'u':
			if (hex4(s, &cp) < 0)
				return NULL;
			s += 4;
			if (cp >= 0xdc00 && cp <= 0xdfff)
				return NULL;
			if (cp >= 0xd800 && cp <= 0xdbff) {
				if (s[0] != '\\' || s[1] != 'u' || hex4(s + 2, &lo) < 0 || lo < 0xdc00 ||
				    lo > 0xdfff)
					return NULL;
				s += 6;
				cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
			}
			put_utf8(&out, cp);
			break;
		default: return NULL;
		}
	}
	*out = '\0';
	return s + 1;
}

/* Parse one line `{"k":"v"|null|integer,...}\n` (exactly); the field count, or -1. */
static int
jparse(const char *s)
{
	int n = 0;

	if (*s++ != '{')
		return -1;
	while (*s != '}') {
		if (n > 0 && *s++ != ',')
			return -1;
		if (n == MAXF)
			return -1;
		s = jstring(s, jf[n].key);
		if (s == NULL || *s++ != ':')
			return -1;
		jf[n].is_null = 0;
		if (strncmp(s, "null", 4) == 0) {
			jf[n].is_null = 1;
			jf[n].val[0] = '\0';
			s += 4;
		} else if (*s == '-' || (*s >= '0' && *s <= '9')) { /* an integer, kept as its text */
			size_t k = strspn(s + 1, "0123456789") + 1;

			memcpy(jf[n].val, s, k);
			jf[n].val[k] = '\0';
			s += k;
		} else if ((s = jstring(s, jf[n].val)) == NULL) {
			return -1;
		}
		n++;
	}
	return strcmp(s, "}\n") == 0 ? n : -1;
}

/* Check "YYYY-MM-DDTHH:MM:SS.mmmZ" and that it is within a minute of now. */
static void
assert_timestamp(const char *ts)
{
	struct tm tm;
	int ms = -1, used = 0;
	time_t t;

	assert_int_equal(strlen(ts), 24);
	memset(&tm, 0, sizeof(tm));
	assert_int_equal(sscanf(ts, "%4d-%2d-%2dT%2d:%2d:%2d.%3dZ%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
				&tm.tm_hour, &tm.tm_min, &tm.tm_sec, &ms, &used),
			 7);
	assert_int_equal(used, 24);
	assert_true(ms >= 0 && ms <= 999);
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	t = timegm(&tm);
	assert_true(llabs((long long)(t - time(NULL))) <= 60);
}

/* Capture one JSON record and parse it; the field count. */
static int
capture_json(void)
{
	static char line[LOG_LINE_MAX * 2];
	size_t n = capture(line, sizeof(line));
	int nf;

	assert_true(n > 0);
	assert_true(n <= LOG_LINE_MAX);
	assert_ptr_equal(strchr(line, '\n'), line + n - 1); /* one line, newline-terminated */
	nf = jparse(line);
	if (nf < 0)
		fail_msg("invalid JSON line: %s", line);
	assert_true(nf >= 3);
	assert_string_equal(jf[0].key, "ts");
	assert_string_equal(jf[1].key, "level");
	assert_string_equal(jf[2].key, "msg");
	assert_timestamp(jf[0].val);
	return nf;
}

/* ---- tests ------------------------------------------------------------- */

static void
test_parse_helpers(void **state)
{
	enum log_level lv = LOG_LEVEL_MAX;
	enum log_format f = LOG_FORMAT_MAX;

	(void)state;
	assert_int_equal(log_level_parse("debug", &lv), 0);
	assert_int_equal(lv, LOG_LEVEL_DEBUG);
	assert_int_equal(log_level_parse("ERROR", &lv), 0);
	assert_int_equal(lv, LOG_LEVEL_ERROR);
	assert_int_equal(log_level_parse("Info", &lv), 0);
	assert_int_equal(lv, LOG_LEVEL_INFO);
	assert_int_equal(log_level_parse("warn", &lv), 0);
	assert_int_equal(lv, LOG_LEVEL_WARN);
	lv = LOG_LEVEL_DEBUG;
	assert_int_equal(log_level_parse("warning", &lv), 0);
	assert_int_equal(lv, LOG_LEVEL_WARN);
	assert_int_equal(log_level_parse("", &lv), -1);
	assert_int_equal(log_level_parse("verbose", &lv), -1);
	assert_int_equal(log_level_parse("debugx", &lv), -1);
	assert_int_equal(log_level_parse("deb", &lv), -1);
	assert_int_equal(log_level_parse(NULL, &lv), -1);
	assert_int_equal(lv, LOG_LEVEL_WARN); /* untouched on error */

	assert_int_equal(log_format_parse("json", &f), 0);
	assert_int_equal(f, LOG_FORMAT_JSON);
	assert_int_equal(log_format_parse("TEXT", &f), 0);
	assert_int_equal(f, LOG_FORMAT_TEXT);
	assert_int_equal(log_format_parse("jsonl", &f), -1);
	assert_int_equal(log_format_parse("", &f), -1);
	assert_int_equal(f, LOG_FORMAT_TEXT);

	assert_string_equal(log_level_name(LOG_LEVEL_ERROR), "error");
	assert_string_equal(log_level_name(LOG_LEVEL_DEBUG), "debug");
	assert_string_equal(log_level_name(LOG_LEVEL_MAX), "?");
}

static void
test_json_basic(void **state)
{
	int nf;

	(void)state;
	log_init(LOG_LEVEL_DEBUG, LOG_FORMAT_JSON, cap_fd[0]);
	log_info("hello %d %s", 42, "world");
	nf = capture_json();
	assert_int_equal(nf, 3);
	assert_string_equal(jf[1].val, "info");
	assert_string_equal(jf[2].val, "hello 42 world");

	log_error("e");
	capture_json();
	assert_string_equal(jf[1].val, "error");
	log_warn("w");
	capture_json();
	assert_string_equal(jf[1].val, "warn");
	log_debug("d");
	capture_json();
	assert_string_equal(jf[1].val, "debug");
	log_msg(LOG_LEVEL_INFO, "%s", "");
	capture_json();
	assert_string_equal(jf[2].val, "");
	assert_nothing_logged();
}

static void
test_fields(void **state)
{
	static char longer[LOG_LINE_MAX];
	char b[LOG_LINE_MAX * 2];
	int nf;

	(void)state;
	log_init(LOG_LEVEL_DEBUG, LOG_FORMAT_JSON, cap_fd[0]);
	log_info_kv(LOG_KV(LOG_S("session", "S-1\n\""), LOG_N("port", 8080), LOG_N("code", -3)), "bound %d",
		    8080);
	nf = capture_json();
	assert_int_equal(nf, 6);
	assert_string_equal(jf[2].val, "bound 8080");
	assert_string_equal(jf[3].key, "session");
	assert_string_equal(jf[3].val, "S-1\n\"");
	assert_string_equal(jf[4].key, "port");
	assert_string_equal(jf[4].val, "8080");
	assert_string_equal(jf[5].val, "-3");
	/* a field that does not fit is left out whole: still one valid object */
	memset(longer, 'x', sizeof(longer) - 1);
	log_warn_kv(LOG_KV(LOG_N("stream", 7), LOG_S("peer", longer)), "%.*s", LOG_LINE_MAX / 2, longer);
	nf = capture_json();
	assert_true(nf == 3 || nf == 4);
	/* text records do not show the fields: the message says it */
	log_init(LOG_LEVEL_DEBUG, LOG_FORMAT_TEXT, cap_fd[0]);
	log_info_kv(LOG_KV(LOG_S("session", "S-2")), "session %s: x", "S-2");
	capture(b, sizeof(b));
	assert_string_equal(b + 25, "info  session S-2: x\n");
}

static void
test_journal(void **state)
{
	char b[256], js[64];
	struct stat st;
	int p[2];

	(void)state;
	log_init(LOG_LEVEL_DEBUG, LOG_FORMAT_TEXT, cap_fd[0]);
	log_set_journal(1);
	log_warn("w");
	capture(b, sizeof(b));
	assert_memory_equal(b, "<4>20", 5);
	log_debug("d");
	capture(b, sizeof(b));
	assert_memory_equal(b, "<7>", 3);
	log_init(LOG_LEVEL_DEBUG, LOG_FORMAT_JSON, cap_fd[0]);
	log_error("e");
	capture(b, sizeof(b));
	assert_memory_equal(b, "<3>{\"ts\":", 9);
	log_set_journal(0);
	log_info("i");
	capture(b, sizeof(b));
	assert_memory_equal(b, "{\"ts\":", 6);

	assert_int_equal(pipe(p), 0);
	assert_int_equal(fstat(p[1], &st), 0);
	snprintf(js, sizeof(js), "%llu:%llu", (unsigned long long)st.st_dev, (unsigned long long)st.st_ino);
	assert_int_equal(log_journal_match(js, p[1]), 1);
	assert_int_equal(log_journal_match(js, cap_fd[0]), 0);
	snprintf(js, sizeof(js), "%llu:%llu", (unsigned long long)st.st_dev,
		 (unsigned long long)st.st_ino + 1);
	assert_int_equal(log_journal_match(js, p[1]), 0);
	assert_int_equal(log_journal_match("12", p[1]), 0);
	assert_int_equal(log_journal_match("1:2x", p[1]), 0);
	assert_int_equal(log_journal_match(NULL, p[1]), 0);
	close(p[0]);
	close(p[1]);
}

static void
test_json_escaping(void **state)
{
	static const char msg[] = "q\"b\\s/n\nr\rt\tbs\bff\fc1\001c1f\037del\177 "
				  "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80";
	/* ill-formed: stray continuation, overlong, surrogate, > U+10FFFF, cut sequence, overlongs */
	static const char bad[] = "a\x80"
				  "b\xc0\xaf"
				  "c\xed\xa0\x80"
				  "d\xf4\x90\x80\x80"
				  "e\xe2\x82"
				  "f\xf0\x8f\xbf\xbf"
				  "g\xe0\x80\xaf";
	static const char bad_out[] = "a\xef\xbf\xbd"
				      "b\xef\xbf\xbd\xef\xbf\xbd"
				      "c\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"
				      "d\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"
				      "e\xef\xbf\xbd\xef\xbf\xbd"
				      "f\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"
				      "g\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd";
	char raw[LOG_LINE_MAX];

	(void)state;
	log_init(LOG_LEVEL_INFO, LOG_FORMAT_JSON, cap_fd[0]);
	log_info("%s", msg);
	capture_json();
	assert_string_equal(jf[2].val, msg); /* round trip through escaping */

	log_info("%s", bad);
	capture_json();
	assert_string_equal(jf[2].val, bad_out);

	/* the escapes themselves: short forms where JSON has them */
	log_info("%s", "\"\\\n\001");
	assert_true(capture(raw, sizeof(raw)) > 0);
	assert_non_null(strstr(raw, "\"msg\":\"\\\"\\\\\\n\\u0001\"}"));
	log_info("%s", "\177");
	assert_true(capture(raw, sizeof(raw)) > 0);
	assert_non_null(strstr(raw, "\"msg\":\"\\u007f\"}"));
}

static void
test_text_format(void **state)
{
	char line[LOG_LINE_MAX];
	size_t n;

	(void)state;
	log_init(LOG_LEVEL_DEBUG, LOG_FORMAT_TEXT, cap_fd[0]);
	log_info("listening on %s", "127.0.0.1:8080");
	n = capture(line, sizeof(line));
	assert_true(n > 25);
	line[24] = '\0';
	assert_timestamp(line);
	assert_string_equal(line + 25, "info  listening on 127.0.0.1:8080\n");

	log_error("bind failed: %s", "say \"hi\"");
	capture(line, sizeof(line));
	assert_string_equal(line + 25, "error bind failed: say \"hi\"\n"); /* quotes as they are */

	/* a peer-supplied newline cannot start a forged record */
	log_warn("path=%s", "/a\n2024-01-01T00:00:00.000Z error forged\r\t\001\\\xff");
	n = capture(line, sizeof(line));
	assert_ptr_equal(strchr(line, '\n'), line + n - 1);
	assert_string_equal(line + 25, "warn  path=/a\\n2024-01-01T00:00:00.000Z error forged\\r\\t\\x01"
				       "\\\\\\xff\n");

	log_debug("utf8 \xc3\xa9 ok");
	capture(line, sizeof(line));
	assert_string_equal(line + 25, "debug utf8 \xc3\xa9 ok\n");
}

static int evaluated;

static const char *
side_effect(void)
{
	evaluated++;
	return "x";
}

static void
test_level_filter(void **state)
{
	(void)state;
	log_init(LOG_LEVEL_WARN, LOG_FORMAT_JSON, cap_fd[0]);
	assert_true(log_enabled(LOG_LEVEL_ERROR));
	assert_true(log_enabled(LOG_LEVEL_WARN));
	assert_false(log_enabled(LOG_LEVEL_INFO));
	assert_false(log_enabled(LOG_LEVEL_DEBUG));

	evaluated = 0;
	log_info("%s", side_effect());
	log_debug("%s", side_effect());
	assert_int_equal(evaluated, 0); /* arguments of disabled levels are not evaluated */
	log_msg(LOG_LEVEL_INFO, "direct call, still filtered");
	log_msg(LOG_LEVEL_DEBUG, "direct call, still filtered");
	assert_nothing_logged();

	log_warn("%s", side_effect());
	assert_int_equal(evaluated, 1);
	capture_json();
	assert_string_equal(jf[1].val, "warn");
	log_error("boom");
	capture_json();
	assert_string_equal(jf[1].val, "error");
	assert_nothing_logged();

	log_init(LOG_LEVEL_ERROR, LOG_FORMAT_TEXT, cap_fd[0]);
	log_warn("no");
	assert_nothing_logged();
	log_init(LOG_LEVEL_DEBUG, LOG_FORMAT_TEXT, cap_fd[0]);
	log_debug("yes");
	char line[256];
	assert_true(capture(line, sizeof(line)) > 0);
	assert_non_null(strstr(line, " debug yes\n"));

	/* out-of-range values fall back to the defaults */
	log_init((enum log_level)99, (enum log_format)99, cap_fd[0]);
	assert_true(log_enabled(LOG_LEVEL_INFO));
	assert_false(log_enabled(LOG_LEVEL_DEBUG));
	assert_false(log_enabled((enum log_level) - 1));
	log_info("t");
	assert_true(capture(line, sizeof(line)) > 0);
	assert_int_not_equal(line[0], '{');
}

/* Fill pattern p repeated to n bytes. */
static char *
make_fill(const char *p, size_t n)
{
	size_t pl = strlen(p), i;
	char *s = malloc(n + 1);

	assert_non_null(s);
	for (i = 0; i < n; i++)
		s[i] = p[i % pl];
	s[n] = '\0';
	return s;
}

static void
test_truncation(void **state)
{
	/* plain, 2-byte escapes, 6-byte escapes, multi-byte UTF-8, bad bytes */
	static const char *const pats[] = { "a",    "\"",
					    "\001", "\xe2\x82\xac",
					    "\xff", "ab\"\xf0\x9f\x98\x80\n" };
	char line[LOG_LINE_MAX * 2];
	size_t i, len;
	int nf;

	(void)state;
	for (i = 0; i < sizeof(pats) / sizeof(pats[0]); i++) {
		for (len = 600; len < 5000; len += 97) {
			char *s = make_fill(pats[i], len);
			char *v = make_fill(pats[(i + 1) % 6], len / 2);

			log_init(LOG_LEVEL_INFO, LOG_FORMAT_JSON, cap_fd[0]);
			log_info("%s", s);
			nf = capture_json();
			assert_int_equal(nf, 3);
			if (strlen(jf[2].val) < len)
				assert_non_null(strstr(jf[2].val, "..."));
			log_info("%s %s", v, s);
			capture_json();

			log_init(LOG_LEVEL_INFO, LOG_FORMAT_TEXT, cap_fd[0]);
			log_info("%s", s);
			size_t n = capture(line, sizeof(line));
			assert_true(n <= LOG_LINE_MAX);
			assert_ptr_equal(strchr(line, '\n'), line + n - 1);
			log_info("m %s %s %s", v, v, v);
			n = capture(line, sizeof(line));
			assert_true(n <= LOG_LINE_MAX);
			assert_ptr_equal(strchr(line, '\n'), line + n - 1);
			free(s);
			free(v);
		}
	}

	/* every cut position through escapes and UTF-8 at the end of a line, in both formats */
	for (len = LOG_LINE_MAX - 160; len < LOG_LINE_MAX; len++) {
		char *s = make_fill("m", len - 60);

		log_init(LOG_LEVEL_INFO, LOG_FORMAT_JSON, cap_fd[0]);
		log_info("%s value", s);
		capture_json();
		log_info("%s \"\"\"\"\"\"\001\001\001\001 \xe2\x82\xac\xe2\x82\xac\xe2\x82\xac", s);
		capture_json();
		log_info("%s a\"b\\c\n\xff\xfe d e f g h", s);
		capture_json();
		log_init(LOG_LEVEL_INFO, LOG_FORMAT_TEXT, cap_fd[0]);
		log_info("%s va lue \\\\\001\001\xff\xe2\x82\xac k2=v2", s);
		size_t n = capture(line, sizeof(line));
		assert_true(n <= LOG_LINE_MAX);
		assert_ptr_equal(strchr(line, '\n'), line + n - 1);
		free(s);
	}

	/* a long message fills the line; a 10000-byte one is cut with "..." */
	char *big = make_fill("x", 10000);
	log_init(LOG_LEVEL_INFO, LOG_FORMAT_JSON, cap_fd[0]);
	log_info("%s", big);
	capture_json();
	len = strlen(jf[2].val);
	assert_true(len > LOG_LINE_MAX - 100);
	assert_string_equal(jf[2].val + len - 3, "...");
	log_init(LOG_LEVEL_INFO, LOG_FORMAT_TEXT, cap_fd[0]);
	log_info("%s", big);
	len = capture(line, sizeof(line));
	assert_true(len > LOG_LINE_MAX - 16 && len <= LOG_LINE_MAX);
	assert_memory_equal(line + len - 4, "...\n", 4);
	free(big);
}

static void
test_errno_kept(void **state)
{
	char line[256];

	(void)state;
	log_init(LOG_LEVEL_INFO, LOG_FORMAT_TEXT, cap_fd[0]);
	errno = ECONNRESET;
	log_info("read failed: %m");
	assert_int_equal(errno, ECONNRESET);
	capture(line, sizeof(line));
	assert_non_null(strstr(line, strerror(ECONNRESET)));
	errno = EPIPE;
	log_msg(LOG_LEVEL_INFO, "x %s", "a");
	assert_int_equal(errno, EPIPE);
	capture(line, sizeof(line));
}

static void
test_full_fd_drops(void **state)
{
	int p[2], i;
	uint64_t before = log_dropped();
	char junk[4096];

	(void)state;
	assert_int_equal(pipe2(p, O_NONBLOCK | O_CLOEXEC), 0);
	memset(junk, 'j', sizeof(junk));
	while (write(p[1], junk, sizeof(junk)) > 0)
		;
	log_init(LOG_LEVEL_INFO, LOG_FORMAT_TEXT, p[1]);
	for (i = 0; i < 3; i++)
		log_info("lost %d", i); /* EAGAIN: dropped, never blocks */
	assert_int_equal(log_dropped(), before + 3);
	close(p[0]);
	close(p[1]);

	log_init(LOG_LEVEL_INFO, LOG_FORMAT_TEXT, 1000000); /* EBADF */
	log_info("lost");
	assert_int_equal(log_dropped(), before + 4);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_helpers),
		cmocka_unit_test_setup_teardown(test_json_basic, setup, teardown),
		cmocka_unit_test_setup_teardown(test_json_escaping, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fields, setup, teardown),
		cmocka_unit_test_setup_teardown(test_journal, setup, teardown),
		cmocka_unit_test_setup_teardown(test_text_format, setup, teardown),
		cmocka_unit_test_setup_teardown(test_level_filter, setup, teardown),
		cmocka_unit_test_setup_teardown(test_truncation, setup, teardown),
		cmocka_unit_test_setup_teardown(test_errno_kept, setup, teardown),
		cmocka_unit_test_setup_teardown(test_full_fd_drops, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
