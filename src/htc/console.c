/*
 * console.c: htc's live output: plain lines, JSON lines, or the terminal
 * view (a status block above a scrolling log). See console.h.
 *
 * The view draws with a handful of VT100 sequences every terminal in use
 * knows: cursor position (CUP), erase in line (EL), save and restore the
 * cursor (DECSC/DECRC) and the scrolling region (DECSTBM). The log is
 * printed at the cursor, which always stays inside the region, so errors
 * htc writes to stderr land in the log as well. The block is redrawn when
 * the state changes and, for the totals, at most every refresh tick.
 */
#include <stdarg.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>

#include "buf.h"
#include "console.h"
#include "json.h"
#include "print.h"
#include "util.h"

#define BLOCK_FIXED 6 /* title, session, status, RTT, totals, rule */
#define LOG_MIN_ROWS 3
#define LINE_MAX 1024

struct row {
	char kind[16];
	char text[CONSOLE_TEXT_MAX];
};

static struct {
	enum console_mode mode;
	FILE *out;
	int fd;
	int color;
	char title[256];
	unsigned nrows;
	struct row rows[CONSOLE_ROWS_MAX];
	char session[64];
	enum console_link link;
	uint64_t rtt_us; /* 0: not measured yet */
	uint64_t requests, failed, streams, bytes_in, bytes_out;
	int dirty;                           /* the block shows old totals */
	unsigned short term_rows, term_cols; /* the view's screen size */
} con = { .mode = CONSOLE_LINES };

static const char *const link_names[CONSOLE_LINK_MAX] = {
	[CONSOLE_CONNECTING] = "connecting",
	[CONSOLE_ONLINE] = "online",
	[CONSOLE_RECONNECTING] = "reconnecting",
	[CONSOLE_CLOSED] = "closed",
};

static FILE *
out(void)
{
	return con.out != NULL ? con.out : stdout;
}

/* ---- time ---------------------------------------------------------------- */

/*
 * "HH:MM:SS.mmm" of the wall clock now, local time. The broken-down time
 * is computed once per second (localtime_r costs more than the rest of a
 * request line); the milliseconds every call.
 */
static const char *
stamp(void)
{
	static char text[16];
	static time_t sec = (time_t)-1;
	struct timespec ts;
	struct tm tm;
	unsigned ms;

	clock_gettime(CLOCK_REALTIME, &ts);
	if (ts.tv_sec != sec) {
		sec = ts.tv_sec;
		localtime_r(&sec, &tm);
		snprintf(text, sizeof(text), "%02d:%02d:%02d.", tm.tm_hour % 100, tm.tm_min % 100,
			 tm.tm_sec % 100);
	}
	ms = (unsigned)(ts.tv_nsec / 1000000) % 1000;
	text[9] = (char)('0' + ms / 100);
	text[10] = (char)('0' + ms / 10 % 10);
	text[11] = (char)('0' + ms % 10);
	text[12] = '\0';
	return text;
}

/* ---- a line built by hand (the request log's hot path: no printf) --------- */

struct lb {
	char b[LINE_MAX];
	size_t n;
};

static void
lb_mem(struct lb *l, const char *p, size_t n)
{
	n = UTIL_MIN(n, sizeof(l->b) - 1 - l->n);
	memcpy(l->b + l->n, p, n);
	l->n += n;
}

static void
lb_str(struct lb *l, const char *s)
{
	lb_mem(l, s, strlen(s));
}

/* s with every byte below 0x20 and DEL shown as '?' (text from the network). */
static void
lb_scrubbed(struct lb *l, const char *s)
{
	size_t start = l->n, i;

	lb_str(l, s);
	for (i = start; i < l->n; i++)
		if ((unsigned char)l->b[i] < 0x20 || l->b[i] == 0x7f)
			l->b[i] = '?';
}

static void
lb_u64(struct lb *l, uint64_t v)
{
	char d[24];
	size_t i = sizeof(d);

	do
		d[--i] = (char)('0' + v % 10);
	while ((v /= 10) != 0);
	lb_mem(l, d + i, sizeof(d) - i);
}

/* "2026-12-07T14:02:03.123Z" */
static void
rfc3339_now(char *buf, size_t cap)
{
	struct timespec ts;
	struct tm tm;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	snprintf(buf, cap, "%04d-%02d-%02dT%02d:%02d:%02d.%03uZ", (tm.tm_year + 1900) % 10000,
		 (tm.tm_mon + 1) % 100, tm.tm_mday % 100, tm.tm_hour % 100, tm.tm_min % 100, tm.tm_sec % 100,
		 (unsigned)(ts.tv_nsec / 1000000) % 1000);
}

/* ---- JSON lines ---------------------------------------------------------- */

struct jline {
	struct json_writer w;
	struct buf b;
	char mem[LINE_MAX * 2];
};

static void
j_begin(struct jline *j, const char *event)
{
	char t[40];

	buf_wrap(&j->b, j->mem, sizeof(j->mem), 0);
	json_w_init(&j->w, &j->b, 0);
	json_w_obj_begin(&j->w);
	rfc3339_now(t, sizeof(t));
	json_w_kv_str(&j->w, "time", t);
	json_w_kv_str(&j->w, "event", event);
}

/* Write the object as one line (dropped when it did not fit). */
static void
j_end(struct jline *j)
{
	json_w_obj_end(&j->w);
	if (json_w_finish(&j->w) != 0)
		return;
	fwrite(j->b.pos, 1, buf_len(&j->b), out());
	fputc('\n', out());
	fflush(out());
}

static void
j_message(const char *event, const char *text)
{
	struct jline j;

	j_begin(&j, event);
	json_w_kv_str(&j.w, "message", text);
	j_end(&j);
}

/* ---- the view ------------------------------------------------------------- */

static unsigned
block_height(void)
{
	return BLOCK_FIXED + con.nrows;
}

/* Row y (1-based) of the block: the text, cut to the width, the rest of the line erased. */
static void __attribute__((format(printf, 2, 3))) v_line(unsigned y, const char *fmt, ...)
{
	char line[LINE_MAX];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n < 0)
		n = 0;
	fprintf(out(), "\033[%u;1H%.*s\033[K", y, (int)UTIL_MIN((size_t)n, (size_t)con.term_cols), line);
}

static const char *
paint(const char *sgr)
{
	return con.color ? sgr : "";
}

static const char *
link_color(void)
{
	switch (con.link) {
	case CONSOLE_ONLINE: return paint("\033[32m");
	case CONSOLE_RECONNECTING: return paint("\033[33m");
	case CONSOLE_CLOSED: return paint("\033[31m");
	default: return "";
	}
}

static void
v_totals(unsigned y)
{
	char in[32], outb[32];

	print_size(in, sizeof(in), con.bytes_in);
	print_size(outb, sizeof(outb), con.bytes_out);
	v_line(y, "%-12s%llu requests (%llu failed), %llu streams, %s in, %s out", "Traffic",
	       (unsigned long long)con.requests, (unsigned long long)con.failed,
	       (unsigned long long)con.streams, in, outb);
}

/* The whole block; the cursor goes back where it was (in the log). */
static void
v_draw(void)
{
	unsigned y = 1, i, w = UTIL_MIN(con.term_cols, 80u);
	char rule[81];

	fputs("\0337", out());
	v_line(y++, "%shtc%s  %s  (Ctrl+C to quit)", paint("\033[1m"), paint("\033[0m"), con.title);
	v_line(y++, "%-12s%s", "Session", con.session[0] ? con.session : "-");
	v_line(y++, "%-12s%s%s%s", "Status", link_color(), link_names[con.link], paint("\033[0m"));
	if (con.rtt_us > 0 && con.link == CONSOLE_ONLINE)
		v_line(y++, "%-12s%llu.%02llu ms", "RTT", (unsigned long long)(con.rtt_us / 1000),
		       (unsigned long long)(con.rtt_us % 1000 / 10));
	else
		v_line(y++, "%-12s-", "RTT");
	for (i = 0; i < con.nrows; i++)
		v_line(y++, "%-12s%s", con.rows[i].kind[0] ? con.rows[i].kind : "-", con.rows[i].text);
	v_totals(y++);
	memset(rule, '-', w);
	rule[w] = '\0';
	v_line(y, "%s", rule);
	fputs("\0338", out());
	fflush(out());
	con.dirty = 0;
}

/* Read the screen size: 0, or -1 when it is too small for the block and a log. */
static int
v_size(void)
{
	struct winsize ws;

	if (ioctl(con.fd, TIOCGWINSZ, &ws) < 0 || ws.ws_col < 20 || ws.ws_row < block_height() + LOG_MIN_ROWS)
		return -1;
	con.term_rows = ws.ws_row;
	con.term_cols = ws.ws_col;
	return 0;
}

/* Clear the screen, draw the block, scroll only the rows under it, put the cursor in the log. */
static void
v_setup(void)
{
	fprintf(out(), "\033[H\033[2J\033[%u;%ur\033[%u;1H", block_height() + 1, (unsigned)con.term_rows,
		block_height() + 1);
	v_draw();
}

/* Back to plain lines: the whole screen scrolls again, the cursor at the bottom. */
static void
v_leave(void)
{
	fprintf(out(), "\033[r\033[%u;1H\n", (unsigned)con.term_rows);
	fflush(out());
	con.mode = CONSOLE_LINES;
}

/* ---- output of a log line in every mode --------------------------------- */

/* LINES and the view: "HH:MM:SS.mmm " + text. */
static void
log_text(const char *text)
{
	fprintf(out(), "%s %s\n", stamp(), text);
	fflush(out());
}

/* ---- API ----------------------------------------------------------------- */

/* see console.h */
enum console_mode
console_open(enum console_mode mode, FILE *f, int fd, const char *title, unsigned rows, int color)
{
	memset(&con, 0, sizeof(con));
	con.out = f;
	con.fd = fd;
	con.mode = mode;
	con.color = color;
	con.nrows = UTIL_MIN(rows, (unsigned)CONSOLE_ROWS_MAX);
	snprintf(con.title, sizeof(con.title), "%s", title ? title : "");
	print_scrub(con.title);
	if (mode == CONSOLE_VIEW) {
		if (v_size() < 0)
			con.mode = CONSOLE_LINES;
		else
			v_setup();
	}
	return con.mode;
}

/* see console.h */
void
console_close(void)
{
	if (con.mode == CONSOLE_VIEW) {
		con.link = CONSOLE_CLOSED;
		v_draw();
		v_leave();
	}
	fflush(out());
	con.mode = CONSOLE_LINES;
	con.out = NULL;
}

/* see console.h */
enum console_mode
console_mode(void)
{
	return con.mode;
}

static void
vformat(char *line, size_t cap, const char *fmt, va_list ap)
{
	if (vsnprintf(line, cap, fmt, ap) < 0)
		line[0] = '\0';
}

/* see console.h */
void
console_info(const char *event, const char *fmt, ...)
{
	char line[LINE_MAX];
	va_list ap;

	va_start(ap, fmt);
	vformat(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (con.mode == CONSOLE_JSON) {
		j_message(event, line);
		return;
	}
	fprintf(out(), "%s\n", line);
	fflush(out());
}

/* see console.h */
void
console_log(const char *event, const char *fmt, ...)
{
	char line[LINE_MAX];
	va_list ap;

	va_start(ap, fmt);
	vformat(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (con.mode == CONSOLE_JSON)
		j_message(event, line);
	else
		log_text(line);
}

/* see console.h */
void
console_session(const char *id)
{
	struct jline j;

	snprintf(con.session, sizeof(con.session), "%s", id);
	print_scrub(con.session);
	if (con.mode == CONSOLE_VIEW) {
		v_draw();
	} else if (con.mode == CONSOLE_JSON) {
		j_begin(&j, "session");
		json_w_kv_str(&j.w, "session", con.session);
		j_end(&j);
	}
}

/* see console.h */
void
console_link(enum console_link st)
{
	struct jline j;

	if (st >= CONSOLE_LINK_MAX || st == con.link)
		return;
	con.link = st;
	if (con.mode == CONSOLE_VIEW) {
		v_draw();
	} else if (con.mode == CONSOLE_JSON) {
		j_begin(&j, "state");
		json_w_kv_str(&j.w, "state", link_names[st]);
		j_end(&j);
	}
}

/* see console.h */
void
console_rtt(uint64_t us)
{
	con.rtt_us = us > 0 ? us : 1;
	con.dirty = 1;
}

/* see console.h */
void
console_row(unsigned i, const struct console_row *row)
{
	struct jline j;

	if (i < con.nrows) {
		snprintf(con.rows[i].kind, sizeof(con.rows[i].kind), "%s", row->kind);
		snprintf(con.rows[i].text, sizeof(con.rows[i].text), "%s -> %s", row->from, row->to);
		print_scrub(con.rows[i].text);
	}
	if (con.mode == CONSOLE_VIEW) {
		v_draw();
	} else if (con.mode == CONSOLE_JSON) {
		j_begin(&j, "bound");
		json_w_kv_str(&j.w, "kind", row->kind);
		if (row->name != NULL)
			json_w_kv_str(&j.w, "binding", row->name);
		json_w_kv_str(&j.w, "from", row->from);
		json_w_kv_str(&j.w, "to", row->to);
		j_end(&j);
	}
}

static const char *
status_color(int status)
{
	if (status >= 500 || status == 0)
		return paint("\033[31m");
	if (status >= 400)
		return paint("\033[33m");
	return paint("\033[32m");
}

static void
request_json(const struct console_request *rq)
{
	struct jline j;

	j_begin(&j, "request");
	if (rq->binding != NULL)
		json_w_kv_str(&j.w, "binding", rq->binding);
	json_w_kv_str(&j.w, "method", rq->method);
	json_w_kv_str(&j.w, "path", rq->target);
	if (rq->status > 0)
		json_w_kv_int(&j.w, "status", rq->status);
	else
		json_w_kv_null(&j.w, "status");
	json_w_kv_uint(&j.w, "duration_ms", rq->ms);
	json_w_kv_uint(&j.w, "bytes", rq->bytes);
	if (rq->why != NULL)
		json_w_kv_str(&j.w, "error", rq->why);
	j_end(&j);
}

/* see console.h */
void
console_request(const struct console_request *rq)
{
	int view = con.mode == CONSOLE_VIEW;
	struct lb l;

	con.requests++;
	con.failed += rq->status == 0 || rq->status >= 500;
	con.bytes_out += rq->bytes;
	con.dirty = 1;
	if (con.mode == CONSOLE_JSON) {
		request_json(rq);
		return;
	}
	/* "12:04:05.123 [3000] GET /path 200 3ms 1234 B (why)" */
	l.n = 0;
	lb_str(&l, stamp());
	lb_str(&l, " ");
	if (rq->binding != NULL) {
		lb_str(&l, "[");
		lb_scrubbed(&l, rq->binding);
		lb_str(&l, "] ");
	}
	lb_scrubbed(&l, rq->method);
	lb_str(&l, " ");
	lb_scrubbed(&l, rq->target);
	lb_str(&l, " ");
	if (view)
		lb_str(&l, status_color(rq->status));
	if (rq->status > 0)
		lb_u64(&l, (uint64_t)rq->status);
	else
		lb_str(&l, "-");
	if (view)
		lb_str(&l, paint("\033[0m"));
	lb_str(&l, " ");
	lb_u64(&l, rq->ms);
	lb_str(&l, "ms ");
	lb_u64(&l, rq->bytes);
	lb_str(&l, " B");
	if (rq->why != NULL) {
		lb_str(&l, " (");
		lb_scrubbed(&l, rq->why);
		lb_str(&l, ")");
	}
	lb_str(&l, "\n");
	fwrite(l.b, 1, l.n, out());
	fflush(out());
}

/* see console.h */
void
console_stream_open(uint32_t sid, const char *peer)
{
	struct jline j;

	con.streams++;
	con.dirty = 1;
	if (con.mode != CONSOLE_JSON) {
		console_log("stream", "opened stream %u from %s", sid, peer);
		return;
	}
	j_begin(&j, "stream_open");
	json_w_kv_uint(&j.w, "stream", sid);
	json_w_kv_str(&j.w, "peer", peer);
	j_end(&j);
}

/* see console.h */
void
console_stream_close(uint32_t sid, uint64_t in, uint64_t outb, const char *reset)
{
	struct jline j;

	con.bytes_in += in;
	con.bytes_out += outb;
	con.dirty = 1;
	if (con.mode != CONSOLE_JSON) {
		if (reset != NULL)
			console_log("stream", "closed stream %u (in %llu B, out %llu B, reset %s)", sid,
				    (unsigned long long)in, (unsigned long long)outb, reset);
		else
			console_log("stream", "closed stream %u (in %llu B, out %llu B)", sid,
				    (unsigned long long)in, (unsigned long long)outb);
		return;
	}
	j_begin(&j, "stream_close");
	json_w_kv_uint(&j.w, "stream", sid);
	json_w_kv_uint(&j.w, "in", in);
	json_w_kv_uint(&j.w, "out", outb);
	if (reset != NULL)
		json_w_kv_str(&j.w, "reset", reset);
	j_end(&j);
}

/* see console.h */
void
console_refresh(void)
{
	unsigned short rows = con.term_rows, cols = con.term_cols;

	if (con.mode != CONSOLE_VIEW)
		return;
	if (v_size() < 0) {
		v_leave();
		return;
	}
	if (rows != con.term_rows || cols != con.term_cols)
		v_setup();
	else if (con.dirty)
		v_draw();
}
