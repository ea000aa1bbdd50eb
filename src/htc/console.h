/*
 * console.h: what htc shows on stdout while a tunnel runs, in one of
 * three forms (enum console_mode):
 *
 *   CONSOLE_LINES  plain lines: the start-up lines as they are ("session
 *                  ID", "container port 3000 -> 127.0.0.1:3000"), then one
 *                  line per event, each starting with the local time
 *                  "HH:MM:SS.mmm ". The form for pipes, files and tests.
 *   CONSOLE_JSON   one JSON object per line and event, for scripts:
 *                  {"time":"2026-12-07T14:02:03.123Z","event":"request",...}
 *                  (fields per event in doc/htc.1, LOGGING).
 *   CONSOLE_VIEW   a terminal: a status block at the top of the screen
 *                  (session, online/reconnecting, RTT to the daemon, one
 *                  row per binding or listener, totals) kept in place
 *                  while the log lines scroll under it (a scrolling region,
 *                  DECSTBM). Falls back to CONSOLE_LINES when the screen
 *                  has too few rows for the block and a log.
 *
 * Colour (CONSOLE_VIEW only) is for the caller to decide (print_style:
 * a terminal, NO_COLOR unset, TERM not "dumb"). Every string that came
 * from the network is shown with control bytes as '?', so no peer can
 * move the cursor.
 *
 * One console per process: the functions work on a static instance, as
 * stdout is one. console_open() must come first; before it (and after
 * console_close()) every call prints plain lines.
 *
 * Not here: deciding what an event means (cmd_tunnel.c), error messages
 * (print_err() writes them to stderr in every mode).
 */
#ifndef HTC_CONSOLE_H
#define HTC_CONSOLE_H

#include <stdint.h>
#include <stdio.h>

enum console_mode {
	CONSOLE_LINES,
	CONSOLE_JSON,
	CONSOLE_VIEW,
};

/* The tunnel's state in the status block and in "state" events. */
enum console_link {
	CONSOLE_CONNECTING,
	CONSOLE_ONLINE,
	CONSOLE_RECONNECTING,
	CONSOLE_CLOSED,
	CONSOLE_LINK_MAX
};

#define CONSOLE_ROWS_MAX 48 /* binding and listener rows in the status block */
#define CONSOLE_TEXT_MAX 320

/* One finished HTTP exchange of an EXPOSE binding. */
struct console_request {
	const char *binding; /* "3000", "demo": shown when more than one binding is up; NULL: none */
	const char *method;
	const char *target;
	int status;      /* what the visitor got; 0: unknown */
	uint64_t ms;     /* from the request's arrival to the end of the response */
	uint64_t bytes;  /* response bytes sent back */
	const char *why; /* NULL, or why it failed: "local connect refused", "timeout", "reset" */
};

/*
 * Start showing on out. title: the daemon's URL (the view's first line);
 * rows: binding and listener rows the view reserves (<= CONSOLE_ROWS_MAX);
 * color: CONSOLE_VIEW may use colours. For CONSOLE_VIEW, fd must be
 * out's terminal (its size is read from it). Returns the mode in effect
 * (CONSOLE_VIEW may fall back to CONSOLE_LINES).
 */
enum console_mode console_open(enum console_mode mode, FILE *out, int fd, const char *title, unsigned rows,
			       int color);

/* Leave the screen usable: the view's block stays, the cursor below it. */
void console_close(void);

enum console_mode console_mode(void);

/*
 * A line without a time ("session ID", a hint): LINES and the view print
 * it as it is, JSON as {"event":event,"message":text}.
 */
void console_info(const char *event, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* A log line, timestamped: LINES "HH:MM:SS.mmm text", JSON {"event","message"}, the view below the block. */
void console_log(const char *event, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The session's id (the block's "Session" row; JSON "session" event). */
void console_session(const char *id);

/* The tunnel's state: the block's "Status" row, and in JSON a "state" event. */
void console_link(enum console_link st);

/* The last round trip to the daemon, in microseconds. */
void console_rtt(uint64_t us);

/* A row of the block: a binding or a local listener. */
struct console_row {
	const char *kind; /* "http", "tcp", "forward", "socks" */
	const char *name; /* the binding's label ("3000", "demo"), NULL for a listener */
	const char *from; /* where traffic comes in: a URL, "container port 3000", "127.0.0.1:8080" */
	const char *to;   /* where it goes: "127.0.0.1:3000", "db:5432 (in the container)" */
};

/* Set row i (< the rows given to console_open): the view shows it, JSON says "bound". */
void console_row(unsigned i, const struct console_row *row);

/* A finished request: a log line (and the block's totals). */
void console_request(const struct console_request *rq);

/* A stream opened by a visitor of a PULL binding. */
void console_stream_open(uint32_t sid, const char *peer);

/* A stream ended with in/out payload bytes; reset: NULL or the RESET code's name. */
void console_stream_close(uint32_t sid, uint64_t in, uint64_t out, const char *reset);

/* Redraw the view's block if something changed since the last redraw, and follow the terminal's size. */
void console_refresh(void);

#endif
