/*
 * log.h: levelled logging to one file descriptor, as text or JSON lines.
 *
 * One process-wide logger (the daemon and htc each have one loop). Every
 * record is one line written with one write() call, so lines from several
 * processes sharing a pipe do not interleave (up to PIPE_BUF bytes) and a
 * crash never leaves half a line. Records longer than LOG_LINE_MAX are cut
 * (the text ends in "..."), and JSON stays valid when cut.
 *
 *   text:  2024-05-01T12:00:00.123Z info  listening on 127.0.0.1:8080
 *   json:  {"ts":"2024-05-01T12:00:00.123Z","level":"info","msg":"listening on 127.0.0.1:8080"}
 *
 * The timestamp is UTC wall-clock time (RFC 3339, milliseconds). Control
 * characters in messages are escaped in both formats, so a
 * peer-supplied string can never start a forged log line; JSON output is
 * valid UTF-8 (bad bytes become U+FFFD).
 *
 * THE SECRET RULE. Tokens, passwords, Authorization and Cookie header
 * values, join tickets, TLS private keys and anything derived from them are
 * never passed to the log functions. Where a record needs to mention one,
 * it says whether it is set and nothing else (no length, no prefix).
 * Reviewers grep for log_ calls near such names.
 *
 * Not here: rotation, syslog, colours, rate limiting. Not thread-safe to
 * reconfigure while another thread logs.
 */
#ifndef HT_LOG_H
#define HT_LOG_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

/* Severity, most severe first; a logger at level L prints levels <= L. */
enum log_level {
	LOG_LEVEL_ERROR = 0, /* something failed that an operator must see */
	LOG_LEVEL_WARN,      /* degraded or refused work (pool full, limits hit) */
	LOG_LEVEL_INFO,      /* lifecycle: listening, session open/close, drain */
	LOG_LEVEL_DEBUG,     /* per-stream and per-frame detail */
	LOG_LEVEL_MAX
};

enum log_format {
	LOG_FORMAT_TEXT = 0, /* timestamp, level, message, key=value pairs */
	LOG_FORMAT_JSON,     /* one JSON object per line */
	LOG_FORMAT_MAX
};

/* Longest line written, newline included; longer records are cut. */
#define LOG_LINE_MAX 4096

/*
 * Configure the logger: records above level are dropped, format picks the
 * layout, fd receives the lines (a negative fd means 2, stderr). The fd is
 * not owned: log_init never closes it. Before any call the logger is at
 * LOG_LEVEL_INFO, text, fd 2.
 */
void log_init(enum log_level level, enum log_format format, int fd);

/* 1 when records at this level are printed now, else 0. */
int log_enabled(enum log_level level);

/*
 * Print one record, the message formatted printf-style. Drops it when the
 * level is off. A write error or a full non-blocking fd drops the line
 * (counted by log_dropped()); logging never blocks on EAGAIN and never
 * fails the caller.
 */
void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* log_msg with a va_list. */
void log_vmsg(enum log_level level, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));

/*
 * A field of a record: in JSON it follows "msg" as "key":"str" or
 * "key":num (str NULL); text records leave fields out, their message
 * already says the same. Build them with LOG_S and LOG_N inside LOG_KV.
 */
struct log_field {
	const char *key;
	const char *str;
	int64_t num;
};
#define LOG_S(k, v)                                                                                          \
	{                                                                                                    \
		(k), (v), 0                                                                                  \
	}
#define LOG_N(k, v)                                                                                          \
	{                                                                                                    \
		(k), NULL, (int64_t)(v)                                                                      \
	}
/* The fields as the two arguments log_msg_kv takes: LOG_KV(LOG_S("session", id), LOG_N("port", p)). */
#define LOG_KV(...)                                                                                          \
	(const struct log_field[]){ __VA_ARGS__ },                                                           \
		sizeof((const struct log_field[]){ __VA_ARGS__ }) / sizeof(struct log_field)

/* log_msg with fields f[0..nf). A field that does not fit whole is left out (the record shows it is cut). */
void log_msg_kv(enum log_level level, const struct log_field *f, size_t nf, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
void log_vmsg_kv(enum log_level level, const struct log_field *f, size_t nf, const char *fmt, va_list ap)
	__attribute__((format(printf, 4, 0)));

/*
 * Lines for journald: every record starts with "<N>", its syslog priority
 * (error 3, warn 4, info 6, debug 7), which journald reads and strips, so
 * `journalctl -p warning` works. log_journal_match says whether fd is the
 * stream $JOURNAL_STREAM ("DEVICE:INODE") names, i.e. journald reads it.
 */
void log_set_journal(int on);
int log_journal_match(const char *journal_stream, int fd);

/*
 * The macros skip the call, and do not even evaluate the arguments, when
 * the level is off: debug lines cost a test in a hot path.
 */
#define log_at(lv, ...)                                                                                      \
	do {                                                                                                 \
		if (log_enabled(lv))                                                                         \
			log_msg((lv), __VA_ARGS__);                                                          \
	} while (0)
/* The same with fields: log_info_kv(LOG_KV(LOG_S("session", id)), "session %s: ...", id). */
#define log_at_kv(lv, kv, ...)                                                                               \
	do {                                                                                                 \
		if (log_enabled(lv))                                                                         \
			log_msg_kv((lv), kv, __VA_ARGS__);                                                   \
	} while (0)
#define log_error_kv(kv, ...) log_at_kv(LOG_LEVEL_ERROR, kv, __VA_ARGS__)
#define log_warn_kv(kv, ...) log_at_kv(LOG_LEVEL_WARN, kv, __VA_ARGS__)
#define log_info_kv(kv, ...) log_at_kv(LOG_LEVEL_INFO, kv, __VA_ARGS__)
#define log_debug_kv(kv, ...) log_at_kv(LOG_LEVEL_DEBUG, kv, __VA_ARGS__)

#define log_error(...) log_at(LOG_LEVEL_ERROR, __VA_ARGS__)
#define log_warn(...) log_at(LOG_LEVEL_WARN, __VA_ARGS__)
#define log_info(...) log_at(LOG_LEVEL_INFO, __VA_ARGS__)
#define log_debug(...) log_at(LOG_LEVEL_DEBUG, __VA_ARGS__)

/*
 * "error", "warn" (or "warning"), "info", "debug", any case, into *out.
 * 0, or -1 for anything else (*out untouched).
 */
int log_level_parse(const char *s, enum log_level *out);

/* "text" or "json", any case, into *out. 0, or -1 (*out untouched). */
int log_format_parse(const char *s, enum log_format *out);

/* "error", "warn", "info", "debug"; "?" for a value out of range. */
const char *log_level_name(enum log_level level);

/* Lines dropped since start because write() failed or would block. */
uint64_t log_dropped(void);

#endif
