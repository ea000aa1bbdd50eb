/*
 * log.c: levelled logging as text or JSON lines (see log.h).
 *
 * A record is built in a LOG_LINE_MAX stack buffer (timestamp, level,
 * message), each piece escaped for the chosen format, and handed
 * to one write(). The builder keeps a few bytes in reserve so that a cut
 * record can always be closed properly ("...", the closing quote and brace,
 * the newline). Escaping is done here, character by character, so a cut
 * never splits an escape sequence or a UTF-8 character.
 *
 * Not here: buffering across records, a background writer, rotation. The
 * logger keeps errno unchanged for its caller.
 */
#include "log.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "util.h"

static struct {
	enum log_level level;
	enum log_format format;
	int fd;
	uint64_t dropped;
	int journal; /* prefix "<N>" (the syslog priority) for journald */
} log_cfg = { LOG_LEVEL_INFO, LOG_FORMAT_TEXT, 2, 0, 0 };

/* syslog priorities of the levels: err, warning, info, debug */
static const char *const journal_prefix[LOG_LEVEL_MAX] = { "<3>", "<4>", "<6>", "<7>" };

static const char *const level_names[LOG_LEVEL_MAX] = { "error", "warn", "info", "debug" };

/* Bytes kept back for closing a cut record: `..."` + `}` + `\n`. */
#define LINE_RESERVE 8

/* One record under construction. */
struct line {
	char b[LOG_LINE_MAX];
	size_t n;
	int cut; /* something did not fit; nothing more is appended */
};

/* Append n raw bytes if they fit before the reserve; else mark the line cut. */
static int
put(struct line *l, const char *p, size_t n)
{
	if (l->cut || n > sizeof(l->b) - LINE_RESERVE - l->n) {
		l->cut = 1;
		return -1;
	}
	memcpy(l->b + l->n, p, n);
	l->n += n;
	return 0;
}

static int
puts_(struct line *l, const char *s)
{
	return put(l, s, strlen(s));
}

/* Append into the reserve (closing a record); the caller knows it fits. */
static void
put_tail(struct line *l, const char *s)
{
	size_t n = strlen(s);

	if (n > sizeof(l->b) - l->n)
		n = sizeof(l->b) - l->n;
	memcpy(l->b + l->n, s, n);
	l->n += n;
}

/*
 * Length of the well-formed UTF-8 sequence at s[0..n) (RFC 3629: no
 * overlong forms, no surrogates, nothing above U+10FFFF), or 0.
 */
static size_t
utf8_seq(const unsigned char *s, size_t n)
{
	unsigned char c = s[0], lo = 0x80, hi = 0xbf;
	size_t len, i;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		len = 2;
	else if (c >= 0xe0 && c <= 0xef)
		len = 3;
	else if (c >= 0xf0 && c <= 0xf4)
		len = 4;
	else
		return 0;
	if (c == 0xe0)
		lo = 0xa0;
	else if (c == 0xed)
		hi = 0x9f;
	else if (c == 0xf0)
		lo = 0x90;
	else if (c == 0xf4)
		hi = 0x8f;
	if (n < len || s[1] < lo || s[1] > hi)
		return 0;
	for (i = 2; i < len; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	return len;
}

/* The two-character JSON escape of c, or NULL when it has none. */
static const char *
json_short_escape(unsigned char c)
{
	switch (c) {
	case '"': return "\\\"";
	case '\\': return "\\\\";
	case '\n': return "\\n";
	case '\r': return "\\r";
	case '\t': return "\\t";
	case '\b': return "\\b";
	case '\f': return "\\f";
	default: return NULL;
	}
}

/*
 * Escape one character of s[0..n) for JSON into out; returns the bytes of
 * s it stands for and sets *olen.
 */
static size_t
json_escape_one(const unsigned char *s, size_t n, char out[8], size_t *olen)
{
	static const char hex[] = "0123456789abcdef";
	const char *e = json_short_escape(s[0]);
	size_t k;

	if (e != NULL) {
		memcpy(out, e, 2);
		*olen = 2;
		return 1;
	}
	if (s[0] < 0x20 || s[0] == 0x7f) {
		memcpy(out, "\\u00", 4);
		out[4] = hex[s[0] >> 4];
		out[5] = hex[s[0] & 15];
		*olen = 6;
		return 1;
	}
	k = utf8_seq(s, n);
	if (k == 0) { /* not UTF-8: stand in U+FFFD so the line stays valid JSON */
		memcpy(out, "\\ufffd", 6);
		*olen = 6;
		return 1;
	}
	memcpy(out, s, k);
	*olen = k;
	return k;
}

/*
 * Escape one character for text output: control bytes and backslash as C
 * escapes, bad UTF-8 bytes as \xNN.
 */
static size_t
text_escape_one(const unsigned char *s, size_t n, char out[8], size_t *olen)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char c = s[0];
	size_t k;

	if (c == '\\') {
		out[0] = '\\';
		out[1] = (char)c;
		*olen = 2;
		return 1;
	}
	if (c == '\n' || c == '\r' || c == '\t') {
		out[0] = '\\';
		out[1] = c == '\n' ? 'n' : c == '\r' ? 'r' : 't';
		*olen = 2;
		return 1;
	}
	k = c < 0x20 || c == 0x7f ? 0 : utf8_seq(s, n);
	if (k == 0) {
		out[0] = '\\';
		out[1] = 'x';
		out[2] = hex[c >> 4];
		out[3] = hex[c & 15];
		*olen = 4;
		return 1;
	}
	memcpy(out, s, k);
	*olen = k;
	return k;
}

/* Append s escaped (as a JSON string body when json, else as text). */
static int
put_escaped(struct line *l, const char *s, int json)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n = strlen(s);
	char e[8];
	size_t elen, used;

	while (n > 0) {
		if (json)
			used = json_escape_one(p, n, e, &elen);
		else
			used = text_escape_one(p, n, e, &elen);
		if (put(l, e, elen) < 0)
			return -1;
		p += used;
		n -= used;
	}
	return 0;
}

/*
 * Append a JSON string; when it is cut, it is still closed (`..."`, or `"..."`
 * when not even the opening quote fitted) from the reserve.
 */
static int
put_json_string(struct line *l, const char *s)
{
	if (put(l, "\"", 1) < 0) {
		put_tail(l, "\"...\"");
		return -1;
	}
	if (put_escaped(l, s, 1) < 0 || put(l, "\"", 1) < 0) {
		put_tail(l, "...\"");
		return -1;
	}
	return 0;
}

/* "YYYY-MM-DDTHH:MM:SS.mmmZ" into out (>= 32 bytes). */
static void
format_time(char out[32])
{
	struct timespec ts;
	struct tm tm;
	long ms;

	if (clock_gettime(CLOCK_REALTIME, &ts) != 0 || gmtime_r(&ts.tv_sec, &tm) == NULL ||
	    strftime(out, 32, "%Y-%m-%dT%H:%M:%S", &tm) != 19) {
		memcpy(out, "1970-01-01T00:00:00.000Z", 25);
		return;
	}
	ms = ts.tv_nsec / 1000000;
	out[19] = '.';
	out[20] = (char)('0' + ms / 100 % 10);
	out[21] = (char)('0' + ms / 10 % 10);
	out[22] = (char)('0' + ms % 10);
	out[23] = 'Z';
	out[24] = '\0';
}

/* Timestamp, level and message. */
static void
line_begin(struct line *l, enum log_level level, const char *msg)
{
	char ts[32];

	l->n = 0;
	l->cut = 0;
	format_time(ts);
	if (log_cfg.journal)
		puts_(l, journal_prefix[level]);
	if (log_cfg.format == LOG_FORMAT_JSON) {
		puts_(l, "{\"ts\":\"");
		puts_(l, ts);
		puts_(l, "\",\"level\":\"");
		puts_(l, level_names[level]);
		puts_(l, "\",\"msg\":");
		put_json_string(l, msg);
	} else {
		char head[48];

		snprintf(head, sizeof(head), "%s %-5s ", ts, level_names[level]);
		puts_(l, head);
		put_escaped(l, msg, 0);
	}
}

/* Close the record and write it with one write() (a short write is completed). */
static void
line_end(struct line *l)
{
	const char *p = l->b;
	size_t n;

	if (log_cfg.format == LOG_FORMAT_JSON) {
		put_tail(l, "}\n");
	} else {
		if (l->cut && (l->n == 0 || l->b[l->n - 1] != '"'))
			put_tail(l, "...");
		put_tail(l, "\n");
	}
	n = l->n;
	while (n > 0) {
		ssize_t w = write(log_cfg.fd, p, n);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			log_cfg.dropped++;
			return;
		}
		p += w;
		n -= (size_t)w;
	}
}

/* see log.h */
void
log_init(enum log_level level, enum log_format format, int fd)
{
	log_cfg.level = (unsigned)level < LOG_LEVEL_MAX ? level : LOG_LEVEL_INFO;
	log_cfg.format = (unsigned)format < LOG_FORMAT_MAX ? format : LOG_FORMAT_TEXT;
	log_cfg.fd = fd < 0 ? 2 : fd;
}

/* see log.h */
int
log_enabled(enum log_level level)
{
	return (unsigned)level <= (unsigned)log_cfg.level;
}

/* One field, `,"key":value`, appended whole or not at all (JSON stays valid when cut). */
static void
put_field(struct line *l, const struct log_field *f)
{
	struct line one;
	char num[24];

	one.n = 0;
	one.cut = 0;
	puts_(&one, ",");
	put_json_string(&one, f->key);
	puts_(&one, ":");
	if (f->str != NULL) {
		put_json_string(&one, f->str);
	} else {
		snprintf(num, sizeof(num), "%lld", (long long)f->num);
		puts_(&one, num);
	}
	if (!one.cut)
		put(l, one.b, one.n);
	else
		l->cut = 1;
}

/* see log.h */
void
log_vmsg_kv(enum log_level level, const struct log_field *f, size_t nf, const char *fmt, va_list ap)
{
	int saved = errno;
	char msg[LOG_LINE_MAX];
	struct line l;
	size_t i;

	if (!log_enabled(level))
		return;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	line_begin(&l, level, msg);
	if (log_cfg.format == LOG_FORMAT_JSON)
		for (i = 0; i < nf && !l.cut; i++)
			put_field(&l, &f[i]);
	line_end(&l);
	errno = saved;
}

/* see log.h */
void
log_msg_kv(enum log_level level, const struct log_field *f, size_t nf, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg_kv(level, f, nf, fmt, ap);
	va_end(ap);
}

/* see log.h */
void
log_vmsg(enum log_level level, const char *fmt, va_list ap)
{
	log_vmsg_kv(level, NULL, 0, fmt, ap);
}

/* see log.h */
void
log_set_journal(int on)
{
	log_cfg.journal = on != 0;
}

/* see log.h */
int
log_journal_match(const char *journal_stream, int fd)
{
	unsigned long long dev, ino;
	struct stat st;
	char tail;

	if (journal_stream == NULL || sscanf(journal_stream, "%llu:%llu%c", &dev, &ino, &tail) != 2 ||
	    fstat(fd, &st) < 0)
		return 0;
	return (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

/* see log.h */
void
log_msg(enum log_level level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(level, fmt, ap);
	va_end(ap);
}

/* see log.h */
int
log_level_parse(const char *s, enum log_level *out)
{
	int i;

	if (s == NULL)
		return -1;
	for (i = 0; i < LOG_LEVEL_MAX; i++) {
		if (util_strcaseeq(s, strlen(s), level_names[i])) {
			*out = (enum log_level)i;
			return 0;
		}
	}
	if (util_strcaseeq(s, strlen(s), "warning")) {
		*out = LOG_LEVEL_WARN;
		return 0;
	}
	return -1;
}

/* see log.h */
int
log_format_parse(const char *s, enum log_format *out)
{
	if (s == NULL)
		return -1;
	if (util_strcaseeq(s, strlen(s), "text")) {
		*out = LOG_FORMAT_TEXT;
		return 0;
	}
	if (util_strcaseeq(s, strlen(s), "json")) {
		*out = LOG_FORMAT_JSON;
		return 0;
	}
	return -1;
}

/* see log.h */
const char *
log_level_name(enum log_level level)
{
	return (unsigned)level < LOG_LEVEL_MAX ? level_names[level] : "?";
}

/* see log.h */
uint64_t
log_dropped(void)
{
	return log_cfg.dropped;
}
