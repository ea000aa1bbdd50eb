/*
 * metrics.c: counters, the TTFB histogram and Prometheus text output (see
 * metrics.h).
 *
 * Increments are plain field writes; all the work happens in
 * metrics_render(), which walks fixed tables of names and help texts and
 * prints every family with its # HELP and # TYPE lines. Histogram sums
 * are kept in integer milliseconds and printed as exact decimals, so the
 * output never carries floating-point noise. Process metrics come from
 * /proc/self/statm, /proc/self/fd (or /dev/fd), getrlimit and getrusage;
 * a family the system cannot provide is left out, never printed as 0.
 * This module does not serve HTTP and does not sample the gauges: api.c
 * does both.
 */
#include "metrics.h"

#include "buf.h"
#include "config.h" /* HT_VERSION */
#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#define NAME(s) "hoody_tunnel_" s

/* The commit built, from the Makefile (git rev-parse --short HEAD). */
#ifndef HT_REVISION
#define HT_REVISION "unknown"
#endif

/* Label values of the code families: PROTOCOL.md section 3, then UNKNOWN. */
static const char *const code_names[METRICS_CODE_SLOTS] = {
	"NO_ERROR",          "PROTOCOL_ERROR",   "INTERNAL_ERROR",     "FLOW_CONTROL_ERROR",
	"STREAM_CLOSED",     "FRAME_SIZE_ERROR", "REFUSED_STREAM",     "CANCEL",
	"ENHANCE_YOUR_CALM", "BIND_ERROR",       "IDLE_TIMEOUT",       "AUTH_ERROR",
	"VERSION_MISMATCH",  "BIND_TAKEOVER",    "RESOURCE_EXHAUSTED", "UNKNOWN",
};

static const char *const dir_names[METRICS_DIR_MAX] = { "sent", "received" };

static const char *const bind_err_names[METRICS_BIND_ERR_MAX] = {
	"INVALID_KIND", "RESERVED_PORT",     "PRIVILEGED_PORT", "INVALID_HOST",      "ALREADY_BOUND",
	"PORT_IN_USE",  "BIND_CAP_EXCEEDED", "INTERNAL",        "INVALID_SUBDOMAIN", "NO_DOMAIN",
};

static const char *const kind_names[METRICS_KIND_MAX] = { "tcp", "http" };

static const char *const fwd_err_names[METRICS_FWD_ERR_MAX] = {
	"DISABLED",       "INVALID_TARGET",     "NOT_ALLOWED",         "NAME_NOT_FOUND",
	"RESOLVE_FAILED", "CONNECTION_REFUSED", "NETWORK_UNREACHABLE", "HOST_UNREACHABLE",
	"TIMEOUT",        "CONNECT_FAILED",     "NO_PERMIT",           "INTERNAL",
};

static const char *const reject_names[METRICS_REJECT_MAX] = {
	"auth",          "protocol",     "version", "unknown_session", "session_cap",
	"hello_timeout", "pre_auth_cap", "join",    "internal",
};

static const char *const class_names[METRICS_STATUS_CLASSES] = { "1xx", "2xx", "3xx", "4xx", "5xx" };

/* Histogram bounds: the value compared in ms, and its le label in seconds. */
static const struct {
	uint64_t ms;
	const char *le;
} ttfb_bounds[METRICS_TTFB_BUCKETS] = {
	{ 1, "0.001" }, { 5, "0.005" },  { 10, "0.01" },  { 25, "0.025" }, { 50, "0.05" },
	{ 100, "0.1" }, { 250, "0.25" }, { 500, "0.5" },  { 1000, "1" },   { 2500, "2.5" },
	{ 5000, "5" },  { 10000, "10" }, { 30000, "30" },
};

/* An unlabelled family whose value is an integer field at `off`. */
struct scalar {
	const char *name;
	const char *help;
	size_t off;
};

static const struct scalar gauge_table[] = {
	{ NAME("sessions_active"), "Tunnel sessions with a live primary WebSocket.",
	  offsetof(struct metrics_gauges, sessions_active) },
	{ NAME("bindings_active"), "EXPOSE and PULL bindings held, including those of orphaned sessions.",
	  offsetof(struct metrics_gauges, bindings_active) },
	{ NAME("fd_permits_available"),
	  "File-descriptor permits left in the budget (RLIMIT_NOFILE minus reserve).",
	  offsetof(struct metrics_gauges, fd_permits_available) },
	{ NAME("orphaned_sessions"),
	  "Sessions whose socket dropped, parked with their bindings inside the takeover grace.",
	  offsetof(struct metrics_gauges, orphaned_sessions) },
	{ NAME("streams_active"), "Open streams over all sessions.",
	  offsetof(struct metrics_gauges, streams_active) },
	{ NAME("requests_in_flight"), "EXPOSE requests waiting for or receiving their response.",
	  offsetof(struct metrics_gauges, requests_in_flight) },
	{ NAME("pre_auth_connections"), "Tunnel connections that have not completed the HELLO handshake.",
	  offsetof(struct metrics_gauges, pre_auth_connections) },
};

static const struct scalar counter_table[] = {
	{ NAME("sessions_opened_total"), "New tunnel sessions established (HELLO_OK, not resumed).",
	  offsetof(struct metrics, sessions_opened_total) },
	{ NAME("sessions_resumed_total"), "Tunnel sessions resumed onto a new socket.",
	  offsetof(struct metrics, sessions_resumed_total) },
	{ NAME("sessions_evicted_total"),
	  "Parked sessions ended to make room for a new one at --max-sessions.",
	  offsetof(struct metrics, sessions_evicted_total) },
	{ NAME("bytes_received_total"), "Bytes read from tunnel WebSocket sockets.",
	  offsetof(struct metrics, bytes_received_total) },
	{ NAME("bytes_sent_total"), "Bytes written to tunnel WebSocket sockets.",
	  offsetof(struct metrics, bytes_sent_total) },
	{ NAME("frames_received_total"), "Tunnel frames received from clients.",
	  offsetof(struct metrics, frames_received_total) },
	{ NAME("frames_sent_total"), "Tunnel frames sent to clients.",
	  offsetof(struct metrics, frames_sent_total) },
	{ NAME("fd_refusals_total"),
	  "Connections refused (503 or close) because no file-descriptor permit was left.",
	  offsetof(struct metrics, fd_refusals_total) },
	{ NAME("unknown_host_total"), "Host-routed requests for a name nobody holds (answered 404).",
	  offsetof(struct metrics, unknown_host_total) },
	{ NAME("forward_opened_total"), "Forwarded connections the daemon opened for tunnel clients.",
	  offsetof(struct metrics, forward_opened_total) },
	{ NAME("forward_refused_total"),
	  "Forwarded connections refused because --forward-allow allows no address.",
	  offsetof(struct metrics, forward_refused_total) },
};

/* ---- counting ----------------------------------------------------------- */

static unsigned
code_slot(unsigned code)
{
	return code < METRICS_CODE_COUNT ? code : METRICS_CODE_UNKNOWN;
}

/* see metrics.h */
void
metrics_init(struct metrics *m)
{
	struct timespec ts;

	memset(m, 0, sizeof(*m));
	if (clock_gettime(CLOCK_REALTIME, &ts) == 0)
		m->start_time_ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* see metrics.h */
void
metrics_stream_opened(struct metrics *m, enum metrics_kind kind)
{
	if ((unsigned)kind < METRICS_KIND_MAX)
		m->streams_opened_total[kind]++;
}

/* see metrics.h */
void
metrics_reset(struct metrics *m, unsigned code)
{
	m->resets_total[METRICS_SENT][code_slot(code)]++;
}

/* see metrics.h */
void
metrics_reset_received(struct metrics *m, unsigned code)
{
	m->resets_total[METRICS_RECEIVED][code_slot(code)]++;
}

/* see metrics.h */
void
metrics_goaway(struct metrics *m, unsigned code)
{
	m->goaways_total[code_slot(code)]++;
}

/* see metrics.h */
void
metrics_bind_error(struct metrics *m, const char *code_name)
{
	size_t i;

	for (i = 0; code_name != NULL && i < METRICS_BIND_ERR_MAX; i++) {
		if (strcmp(code_name, bind_err_names[i]) == 0)
			break;
	}
	if (code_name == NULL || i == METRICS_BIND_ERR_MAX)
		i = METRICS_BIND_INTERNAL;
	m->bind_errors_total[i]++;
}

/* see metrics.h */
void
metrics_visitor_response(struct metrics *m, int status)
{
	if (status >= 100 && status <= 599)
		m->visitor_responses_total[status / 100 - 1]++;
}

/* see metrics.h */
void
metrics_routed_response(struct metrics *m, int status)
{
	if (status >= 100 && status <= 599)
		m->routed_responses_total[status / 100 - 1]++;
}

/* see metrics.h */
void
metrics_forward_failed(struct metrics *m, const char *code)
{
	size_t i;

	for (i = 0; code != NULL && i < METRICS_FWD_ERR_MAX; i++)
		if (strcmp(code, fwd_err_names[i]) == 0)
			break;
	if (code == NULL || i == METRICS_FWD_ERR_MAX)
		i = METRICS_FWD_INTERNAL;
	m->forward_failed_total[i]++;
}

/* see metrics.h */
void
metrics_unknown_host(struct metrics *m)
{
	m->unknown_host_total++;
}

/* see metrics.h */
void
metrics_handshake_rejected(struct metrics *m, enum metrics_reject why)
{
	if ((unsigned)why < METRICS_REJECT_MAX)
		m->handshake_rejections_total[why]++;
}

/* see metrics.h */
void
metrics_ttfb_observe(struct metrics *m, uint64_t ms)
{
	size_t i = 0;

	while (i < METRICS_TTFB_BUCKETS && ms > ttfb_bounds[i].ms)
		i++;
	m->ttfb_bucket[i]++;
	m->ttfb_count++;
	m->ttfb_sum_ms += ms;
}

/* ---- process metrics ---------------------------------------------------- */

/* Read up to cap-1 bytes of a small file and NUL-terminate. Length or -1. */
static ssize_t
read_small(const char *path, char *dst, size_t cap)
{
	ssize_t n;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	do
		n = read(fd, dst, cap - 1);
	while (n < 0 && errno == EINTR);
	close(fd);
	if (n < 0)
		return -1;
	dst[n] = '\0';
	return n;
}

/* Virtual size and resident set in bytes from /proc/self/statm. 0 or -1. */
static int
statm(uint64_t *vsize, uint64_t *rss)
{
	char text[128];
	unsigned long long size, resident;
	long page = sysconf(_SC_PAGESIZE);

	if (page <= 0 || read_small("/proc/self/statm", text, sizeof(text)) < 0)
		return -1;
	if (sscanf(text, "%llu %llu", &size, &resident) != 2)
		return -1;
	*vsize = (uint64_t)size * (uint64_t)page;
	*rss = (uint64_t)resident * (uint64_t)page;
	return 0;
}

/* see metrics.h */
long
metrics_rss_bytes(void)
{
	uint64_t vsize, rss;

	if (statm(&vsize, &rss) < 0 || rss > (uint64_t)LONG_MAX)
		return -1;
	return (long)rss;
}

/* Count the numeric entries of a /proc/self/fd-like directory, minus its own fd. */
static int
count_fds(const char *path)
{
	struct dirent *e;
	DIR *d;
	int n = 0, self;

	d = opendir(path);
	if (d == NULL)
		return -1;
	self = dirfd(d);
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] < '0' || e->d_name[0] > '9')
			continue;
		if (atoi(e->d_name) != self)
			n++;
	}
	closedir(d);
	return n;
}

/* see metrics.h */
int
metrics_open_fds(void)
{
	int n = count_fds("/proc/self/fd");

	return n >= 0 ? n : count_fds("/dev/fd");
}

/* ---- rendering ---------------------------------------------------------- */

/* The output and the first error met; once err is set nothing more is written. */
struct render {
	struct buf *out;
	int err;
};

static void put(struct render *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Append printf-formatted text to r->out, growing it as needed. */
static void
put(struct render *r, const char *fmt, ...)
{
	va_list ap;
	size_t room;
	int n;

	if (r->err)
		return;
	for (;;) {
		room = buf_room(r->out);
		va_start(ap, fmt);
		n = room ? vsnprintf((char *)r->out->last, room, fmt, ap) : 0;
		va_end(ap);
		if (n < 0) {
			r->err = -EINVAL;
			return;
		}
		if (room && (size_t)n < room) {
			buf_commit(r->out, (size_t)n);
			return;
		}
		/* vsnprintf needs one byte more than the text for its NUL. */
		r->err = buf_reserve(r->out, (size_t)n + 1 > 128 ? (size_t)n + 1 : 128, buf_headroom(r->out),
				     0);
		if (r->err)
			return;
	}
}

static void
family(struct render *r, const char *name, const char *type, const char *help)
{
	put(r, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* A label value with \\, \" and newline escaped, as the text format wants. */
static void
put_label_value(struct render *r, const char *v)
{
	for (; *v != '\0'; v++) {
		if (*v == '\\' || *v == '"')
			put(r, "\\%c", *v);
		else if (*v == '\n')
			put(r, "\\n");
		else
			put(r, "%c", *v);
	}
}

static void
render_build_info(struct render *r)
{
	const char *name = NAME("build_info");

	family(r, name, "gauge", "Always 1; the labels say which build of hoody-tunnel this is.");
	put(r, "%s{version=\"", name);
	put_label_value(r, HT_VERSION);
	put(r, "\",revision=\"");
	put_label_value(r, HT_REVISION);
	put(r, "\",tls=\"bearssl\"} 1\n");
}

static void
scalars(struct render *r, const struct scalar *t, size_t n, const void *base, const char *type)
{
	const char *p = base;
	size_t i;

	for (i = 0; i < n; i++) {
		family(r, t[i].name, type, t[i].help);
		if (strcmp(type, "gauge") == 0)
			put(r, "%s %" PRId64 "\n", t[i].name,
			    base ? *(const int64_t *)(const void *)(p + t[i].off) : 0);
		else
			put(r, "%s %" PRIu64 "\n", t[i].name,
			    *(const uint64_t *)(const void *)(p + t[i].off));
	}
}

/* A counter family with one label: name{label="values[i]"} v[i] for each i. */
static void
labelled(struct render *r, const char *name, const char *help, const char *label, const char *const *values,
	 const uint64_t *v, size_t n)
{
	size_t i;

	family(r, name, "counter", help);
	for (i = 0; i < n; i++)
		put(r, "%s{%s=\"%s\"} %" PRIu64 "\n", name, label, values[i], v[i]);
}

static void
render_resets(struct render *r, const struct metrics *m)
{
	const char *name = NAME("resets_total");
	size_t d, c;

	family(r, name, "counter",
	       "Stream RESET frames by code and by direction (sent by the daemon, received from clients).");
	for (d = 0; d < METRICS_DIR_MAX; d++) {
		for (c = 0; c < METRICS_CODE_SLOTS; c++)
			put(r, "%s{code=\"%s\",direction=\"%s\"} %" PRIu64 "\n", name, code_names[c],
			    dir_names[d], m->resets_total[d][c]);
	}
}

static void
render_ttfb(struct render *r, const struct metrics *m)
{
	const char *name = NAME("expose_ttfb_seconds");
	uint64_t cum = 0;
	size_t i;

	family(r, name, "histogram",
	       "Time from a visitor's complete request head to the first response byte from the tunnel "
	       "client, "
	       "in seconds.");
	for (i = 0; i < METRICS_TTFB_BUCKETS; i++) {
		cum += m->ttfb_bucket[i];
		put(r, "%s_bucket{le=\"%s\"} %" PRIu64 "\n", name, ttfb_bounds[i].le, cum);
	}
	put(r, "%s_bucket{le=\"+Inf\"} %" PRIu64 "\n", name, m->ttfb_count);
	put(r, "%s_sum %" PRIu64 ".%03u\n", name, m->ttfb_sum_ms / 1000, (unsigned)(m->ttfb_sum_ms % 1000));
	put(r, "%s_count %" PRIu64 "\n", name, m->ttfb_count);
}

static void
render_counters(struct render *r, const struct metrics *m)
{
	scalars(r, counter_table, UTIL_ARRAY_SIZE(counter_table), m, "counter");
	labelled(r, NAME("streams_opened_total"),
		 "Streams opened, by kind (tcp: PULL connection, http: EXPOSE request).", "kind", kind_names,
		 m->streams_opened_total, METRICS_KIND_MAX);
	render_resets(r, m);
	labelled(r, NAME("goaways_total"), "GOAWAY frames sent to tunnel clients, by code.", "code",
		 code_names, m->goaways_total, METRICS_CODE_SLOTS);
	labelled(r, NAME("bind_errors_total"), "BIND requests refused with BIND_ERR, by code.", "code",
		 bind_err_names, m->bind_errors_total, METRICS_BIND_ERR_MAX);
	labelled(r, NAME("visitor_responses_total"),
		 "Responses sent to visitors on EXPOSE ports, by status class.", "class", class_names,
		 m->visitor_responses_total, METRICS_STATUS_CLASSES);
	labelled(r, NAME("forward_failed_total"), "Forwarded connections that failed, by FORWARD_ERR code.",
		 "code", fwd_err_names, m->forward_failed_total, METRICS_FWD_ERR_MAX);
	labelled(r, NAME("routed_responses_total"),
		 "Responses sent to visitors of host-routed names (--domain), by status class.", "class",
		 class_names, m->routed_responses_total, METRICS_STATUS_CLASSES);
	labelled(r, NAME("handshake_rejections_total"),
		 "Tunnel connections turned away before a session was established, by reason.", "reason",
		 reject_names, m->handshake_rejections_total, METRICS_REJECT_MAX);
}

static void
render_process(struct render *r, const struct metrics *m)
{
	struct rlimit rl;
	struct rusage ru;
	uint64_t vsize, rss;
	long usec;
	int fds;

	if (statm(&vsize, &rss) == 0) {
		family(r, "process_resident_memory_bytes", "gauge", "Resident memory size in bytes.");
		put(r, "process_resident_memory_bytes %" PRIu64 "\n", rss);
		family(r, "process_virtual_memory_bytes", "gauge", "Virtual memory size in bytes.");
		put(r, "process_virtual_memory_bytes %" PRIu64 "\n", vsize);
	}
	fds = metrics_open_fds();
	if (fds >= 0) {
		family(r, "process_open_fds", "gauge", "Number of open file descriptors.");
		put(r, "process_open_fds %d\n", fds);
	}
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		family(r, "process_max_fds", "gauge",
		       "Maximum number of open file descriptors (soft RLIMIT_NOFILE).");
		if (rl.rlim_cur == RLIM_INFINITY)
			put(r, "process_max_fds +Inf\n");
		else
			put(r, "process_max_fds %llu\n", (unsigned long long)rl.rlim_cur);
	}
	family(r, "process_start_time_seconds", "gauge",
	       "Start time of the process since unix epoch in seconds.");
	put(r, "process_start_time_seconds %" PRId64 ".%03d\n", m->start_time_ms / 1000,
	    (int)(m->start_time_ms % 1000));
	if (getrusage(RUSAGE_SELF, &ru) == 0) {
		usec = (long)ru.ru_utime.tv_usec + (long)ru.ru_stime.tv_usec;
		family(r, "process_cpu_seconds_total", "counter",
		       "Total user and system CPU time spent in seconds.");
		put(r, "process_cpu_seconds_total %lld.%06ld\n",
		    (long long)ru.ru_utime.tv_sec + (long long)ru.ru_stime.tv_sec + usec / 1000000,
		    usec % 1000000);
	}
}

/* see metrics.h */
int
metrics_render(const struct metrics *m, const struct metrics_gauges *g, struct buf *out)
{
	struct render r = { out, 0 };
	size_t before = buf_len(out);

	scalars(&r, gauge_table, UTIL_ARRAY_SIZE(gauge_table), g, "gauge");
	render_build_info(&r);
	render_counters(&r, m);
	render_ttfb(&r, m);
	render_process(&r, m);
	if (r.err) {
		if (out->start != NULL)
			out->last = out->pos + before;
		return r.err;
	}
	return 0;
}
