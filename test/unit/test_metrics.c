/*
 * test_metrics.c: the metrics module as Prometheus sees it: the text that
 * metrics_render() produces, parsed back line by line.
 *
 * The names, label values and bucket bounds below are written out here on
 * purpose, independently of metrics.c: they are the contract dashboards
 * rely on. The format itself is checked by test/tools/promcheck.py (run
 * through system() when /usr/bin/python3 and the script are present), and
 * promcheck.py is in turn checked against broken samples so that it cannot
 * pass everything.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "config.h" /* HT_VERSION */
#include "metrics.h"

#define PYTHON "/usr/bin/python3"
#define PROMCHECK "test/tools/promcheck.py"
#define PROMTOOL "/usr/bin/promtool"

static const char *const codes[] = {
	"NO_ERROR",          "PROTOCOL_ERROR",   "INTERNAL_ERROR",     "FLOW_CONTROL_ERROR",
	"STREAM_CLOSED",     "FRAME_SIZE_ERROR", "REFUSED_STREAM",     "CANCEL",
	"ENHANCE_YOUR_CALM", "BIND_ERROR",       "IDLE_TIMEOUT",       "AUTH_ERROR",
	"VERSION_MISMATCH",  "BIND_TAKEOVER",    "RESOURCE_EXHAUSTED", "UNKNOWN",
};

static const char *const bind_codes[] = {
	"INVALID_KIND",  "RESERVED_PORT", "PRIVILEGED_PORT",   "INVALID_HOST",
	"ALREADY_BOUND", "PORT_IN_USE",   "BIND_CAP_EXCEEDED", "INTERNAL",
};

static const char *const reasons[] = {
	"auth",          "protocol",     "version", "unknown_session", "session_cap",
	"hello_timeout", "pre_auth_cap", "join",    "internal",
};

/* Bucket bounds in ms with their le text, as dashboards see them. */
static const struct {
	uint64_t ms;
	const char *le;
} bounds[] = {
	{ 1, "0.001" }, { 5, "0.005" },  { 10, "0.01" },  { 25, "0.025" }, { 50, "0.05" },
	{ 100, "0.1" }, { 250, "0.25" }, { 500, "0.5" },  { 1000, "1" },   { 2500, "2.5" },
	{ 5000, "5" },  { 10000, "10" }, { 30000, "30" },
};

/* ---- helpers ------------------------------------------------------------- */

/* Render into a fresh buffer and return it as a NUL-terminated string. */
static char *
render(const struct metrics *m, const struct metrics_gauges *g)
{
	struct buf b;
	char *s;

	memset(&b, 0, sizeof(b));
	assert_int_equal(metrics_render(m, g, &b), 0);
	s = malloc(buf_len(&b) + 1);
	assert_non_null(s);
	memcpy(s, b.pos, buf_len(&b));
	s[buf_len(&b)] = '\0';
	buf_fini(&b);
	return s;
}

static int
count(const char *text, const char *needle)
{
	int n = 0;
	size_t len = strlen(needle);

	while ((text = strstr(text, needle)) != NULL) {
		n++;
		text += len;
	}
	return n;
}

/* The line that starts with `series` followed by a space, or NULL. Exactly one must exist. */
static const char *
find_line(const char *text, const char *series)
{
	size_t len = strlen(series);
	const char *p = text, *hit = NULL;
	int n = 0;

	while (p != NULL && *p) {
		if (strncmp(p, series, len) == 0 && p[len] == ' ') {
			hit = p;
			n++;
		}
		p = strchr(p, '\n');
		if (p != NULL)
			p++;
	}
	if (n != 1)
		fail_msg("series '%s' found %d times, expected once", series, n);
	return hit;
}

/* The value of a series, parsed as Prometheus would (strtod). */
static double
value(const char *text, const char *series)
{
	const char *line = find_line(text, series);
	char *end;
	double v;

	v = strtod(line + strlen(series) + 1, &end);
	if (*end != '\n')
		fail_msg("series '%s': value does not end the line", series);
	return v;
}

static double valuef(const char *text, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static double
valuef(const char *text, const char *fmt, ...)
{
	char series[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(series, sizeof(series), fmt, ap);
	va_end(ap);
	return value(text, series);
}

/* Write text to a fresh temporary file; its path goes to path[32]. */
static void
write_temp(char path[32], const char *text)
{
	size_t len = strlen(text);
	int fd;

	snprintf(path, 32, "/tmp/test_metrics_XXXXXX");
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, len), (ssize_t)len);
	close(fd);
}

/*
 * Run promcheck.py on text; its output goes to out[cap] (NUL-terminated).
 * Returns its exit status, or -1 when it cannot run here.
 */
static int
promcheck_out(const char *text, char *out, size_t cap)
{
	char path[32], cmd[256];
	size_t n = 0, got;
	FILE *p;
	int st;

	out[0] = '\0';
	if (access(PYTHON, X_OK) != 0 || access(PROMCHECK, R_OK) != 0)
		return -1;
	write_temp(path, text);
	snprintf(cmd, sizeof(cmd), "%s %s %s 2>&1", PYTHON, PROMCHECK, path);
	p = popen(cmd, "r");
	assert_non_null(p);
	while (n + 1 < cap && (got = fread(out + n, 1, cap - 1 - n, p)) > 0)
		n += got;
	out[n] = '\0';
	st = pclose(p);
	unlink(path);
	assert_true(WIFEXITED(st));
	return WEXITSTATUS(st);
}

static int
promcheck(const char *text)
{
	char out[4096];
	int rc = promcheck_out(text, out, sizeof(out));

	if (rc > 0)
		print_message("%s", out);
	return rc;
}

/* Exit status of `promtool check metrics` (Prometheus' own linter), or -1 when absent. */
static int
promtool(const char *text)
{
	char path[32], cmd[128];
	int st;

	if (access(PROMTOOL, X_OK) != 0)
		return -1;
	write_temp(path, text);
	snprintf(cmd, sizeof(cmd), "%s check metrics < %s", PROMTOOL, path);
	st = system(cmd);
	unlink(path);
	assert_true(WIFEXITED(st));
	return WEXITSTATUS(st);
}

/* ---- the contract ------------------------------------------------------- */

static void
test_contract_names_typed_once(void **state)
{
	static const struct {
		const char *name, *type;
	} contract[] = {
		{ "hoody_tunnel_sessions_active", "gauge" },
		{ "hoody_tunnel_bindings_active", "gauge" },
		{ "hoody_tunnel_fd_permits_available", "gauge" },
		{ "hoody_tunnel_orphaned_sessions", "gauge" },
		{ "hoody_tunnel_streams_active", "gauge" },
		{ "hoody_tunnel_requests_in_flight", "gauge" },
		{ "hoody_tunnel_pre_auth_connections", "gauge" },
		{ "hoody_tunnel_sessions_opened_total", "counter" },
		{ "hoody_tunnel_streams_opened_total", "counter" },
		{ "hoody_tunnel_bytes_received_total", "counter" },
		{ "hoody_tunnel_bytes_sent_total", "counter" },
		{ "hoody_tunnel_frames_received_total", "counter" },
		{ "hoody_tunnel_frames_sent_total", "counter" },
		{ "hoody_tunnel_resets_total", "counter" },
		{ "hoody_tunnel_bind_errors_total", "counter" },
		{ "hoody_tunnel_visitor_responses_total", "counter" },
		{ "hoody_tunnel_goaways_total", "counter" },
		{ "hoody_tunnel_fd_refusals_total", "counter" },
		{ "hoody_tunnel_handshake_rejections_total", "counter" },
		{ "hoody_tunnel_expose_ttfb_seconds", "histogram" },
		{ "hoody_tunnel_build_info", "gauge" },
		{ "process_resident_memory_bytes", "gauge" },
		{ "process_virtual_memory_bytes", "gauge" },
		{ "process_open_fds", "gauge" },
		{ "process_max_fds", "gauge" },
		{ "process_start_time_seconds", "gauge" },
		{ "process_cpu_seconds_total", "counter" },
	};
	struct metrics m;
	char needle[256], *text;
	const char *p;
	size_t i;

	(void)state;
	metrics_init(&m);
	text = render(&m, NULL);
	for (i = 0; i < sizeof(contract) / sizeof(contract[0]); i++) {
		snprintf(needle, sizeof(needle), "# TYPE %s ", contract[i].name);
		if (count(text, needle) != 1)
			fail_msg("'%s' appears %d times", needle, count(text, needle));
		snprintf(needle, sizeof(needle), "# TYPE %s %s\n", contract[i].name, contract[i].type);
		assert_int_equal(count(text, needle), 1);
		snprintf(needle, sizeof(needle), "# HELP %s ", contract[i].name);
		assert_int_equal(count(text, needle), 1);
		p = strstr(text, needle) + strlen(needle);
		assert_true(strcspn(p, "\n") > 10); /* a sentence, not a placeholder */
	}
	/* Every family is ours or a standard process metric. */
	for (p = strstr(text, "# TYPE "); p != NULL; p = strstr(p + 1, "# TYPE "))
		assert_true(strncmp(p + 7, "hoody_tunnel_", 13) == 0 || strncmp(p + 7, "process_", 8) == 0);
	free(text);
}

static void
test_fresh_every_series_present_at_zero(void **state)
{
	struct metrics m;
	char *text;
	size_t i;

	(void)state;
	metrics_init(&m);
	text = render(&m, NULL);
	for (i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
		assert_true(valuef(text, "hoody_tunnel_resets_total{code=\"%s\",direction=\"sent\"}",
				   codes[i]) == 0);
		assert_true(valuef(text, "hoody_tunnel_resets_total{code=\"%s\",direction=\"received\"}",
				   codes[i]) == 0);
		assert_true(valuef(text, "hoody_tunnel_goaways_total{code=\"%s\"}", codes[i]) == 0);
	}
	for (i = 0; i < sizeof(bind_codes) / sizeof(bind_codes[0]); i++)
		assert_true(valuef(text, "hoody_tunnel_bind_errors_total{code=\"%s\"}", bind_codes[i]) == 0);
	for (i = 1; i <= 5; i++)
		assert_true(valuef(text, "hoody_tunnel_visitor_responses_total{class=\"%zuxx\"}", i) == 0);
	for (i = 0; i < sizeof(reasons) / sizeof(reasons[0]); i++)
		assert_true(valuef(text, "hoody_tunnel_handshake_rejections_total{reason=\"%s\"}",
				   reasons[i]) == 0);
	assert_true(value(text, "hoody_tunnel_streams_opened_total{kind=\"tcp\"}") == 0);
	assert_true(value(text, "hoody_tunnel_streams_opened_total{kind=\"http\"}") == 0);
	assert_true(value(text, "hoody_tunnel_sessions_opened_total") == 0);
	assert_true(value(text, "hoody_tunnel_expose_ttfb_seconds_count") == 0);
	assert_non_null(strstr(text, "\nhoody_tunnel_expose_ttfb_seconds_sum 0.000\n"));
	free(text);
}

/* ---- counters ----------------------------------------------------------- */

static void
test_plain_counters(void **state)
{
	struct metrics m;
	char *text;

	(void)state;
	metrics_init(&m);
	m.sessions_opened_total += 3;
	m.sessions_resumed_total++;
	m.bytes_received_total = 1099511627776ull; /* 2^40: past 32 bits */
	m.bytes_sent_total = UINT64_MAX;
	m.frames_received_total = 17;
	m.frames_sent_total = 18;
	m.fd_refusals_total = 2;
	metrics_stream_opened(&m, METRICS_KIND_HTTP);
	metrics_stream_opened(&m, METRICS_KIND_HTTP);
	metrics_stream_opened(&m, METRICS_KIND_TCP);
	metrics_stream_opened(&m, METRICS_KIND_MAX); /* ignored */
	metrics_handshake_rejected(&m, METRICS_REJECT_AUTH);
	metrics_handshake_rejected(&m, METRICS_REJECT_JOIN);
	metrics_handshake_rejected(&m, METRICS_REJECT_JOIN);
	metrics_handshake_rejected(&m, METRICS_REJECT_MAX); /* ignored */
	text = render(&m, NULL);
	assert_true(value(text, "hoody_tunnel_sessions_opened_total") == 3);
	assert_true(value(text, "hoody_tunnel_sessions_resumed_total") == 1);
	assert_true(value(text, "hoody_tunnel_bytes_received_total") == 1099511627776.0);
	assert_non_null(strstr(text, "\nhoody_tunnel_bytes_sent_total 18446744073709551615\n"));
	assert_true(value(text, "hoody_tunnel_frames_received_total") == 17);
	assert_true(value(text, "hoody_tunnel_frames_sent_total") == 18);
	assert_true(value(text, "hoody_tunnel_fd_refusals_total") == 2);
	assert_true(value(text, "hoody_tunnel_streams_opened_total{kind=\"http\"}") == 2);
	assert_true(value(text, "hoody_tunnel_streams_opened_total{kind=\"tcp\"}") == 1);
	assert_true(value(text, "hoody_tunnel_handshake_rejections_total{reason=\"auth\"}") == 1);
	assert_true(value(text, "hoody_tunnel_handshake_rejections_total{reason=\"join\"}") == 2);
	assert_true(value(text, "hoody_tunnel_handshake_rejections_total{reason=\"protocol\"}") == 0);
	free(text);
}

static void
test_reset_and_goaway_codes(void **state)
{
	struct metrics m;
	char *text;
	double sent = 0, received = 0, goaways = 0;
	size_t i;

	(void)state;
	metrics_init(&m);
	metrics_reset(&m, 1);
	metrics_reset(&m, 1);
	metrics_reset(&m, 14);
	metrics_reset(&m, 15);
	metrics_reset_received(&m, 7);
	metrics_reset_received(&m, 65535);
	metrics_reset_received(&m, 0);
	metrics_goaway(&m, 10);
	metrics_goaway(&m, 13);
	metrics_goaway(&m, 13);
	text = render(&m, NULL);
	assert_true(value(text, "hoody_tunnel_resets_total{code=\"PROTOCOL_ERROR\",direction=\"sent\"}") ==
		    2);
	assert_true(value(text,
			  "hoody_tunnel_resets_total{code=\"RESOURCE_EXHAUSTED\",direction=\"sent\"}") == 1);
	assert_true(value(text, "hoody_tunnel_resets_total{code=\"UNKNOWN\",direction=\"sent\"}") == 1);
	assert_true(value(text, "hoody_tunnel_resets_total{code=\"CANCEL\",direction=\"received\"}") == 1);
	assert_true(value(text, "hoody_tunnel_resets_total{code=\"UNKNOWN\",direction=\"received\"}") == 1);
	assert_true(value(text, "hoody_tunnel_resets_total{code=\"NO_ERROR\",direction=\"received\"}") == 1);
	assert_true(value(text, "hoody_tunnel_resets_total{code=\"CANCEL\",direction=\"sent\"}") == 0);
	assert_true(value(text, "hoody_tunnel_goaways_total{code=\"IDLE_TIMEOUT\"}") == 1);
	assert_true(value(text, "hoody_tunnel_goaways_total{code=\"BIND_TAKEOVER\"}") == 2);
	for (i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
		sent += valuef(text, "hoody_tunnel_resets_total{code=\"%s\",direction=\"sent\"}", codes[i]);
		received += valuef(text, "hoody_tunnel_resets_total{code=\"%s\",direction=\"received\"}",
				   codes[i]);
		goaways += valuef(text, "hoody_tunnel_goaways_total{code=\"%s\"}", codes[i]);
	}
	assert_true(sent == 4 && received == 3 && goaways == 3); /* nothing counted twice or lost */
	free(text);
}

static void
test_bind_errors_by_name(void **state)
{
	struct metrics m;
	char *text;
	size_t i, j;

	(void)state;
	metrics_init(&m);
	/* code i is counted i + 1 times; strangers land on INTERNAL */
	for (i = 0; i < sizeof(bind_codes) / sizeof(bind_codes[0]); i++) {
		for (j = 0; j <= i; j++)
			metrics_bind_error(&m, bind_codes[i]);
	}
	metrics_bind_error(&m, "NOT_A_CODE");
	metrics_bind_error(&m, "port_in_use"); /* codes are case-sensitive on the wire */
	metrics_bind_error(&m, "");
	metrics_bind_error(&m, NULL);
	text = render(&m, NULL);
	for (i = 0; i + 1 < sizeof(bind_codes) / sizeof(bind_codes[0]); i++)
		assert_true(valuef(text, "hoody_tunnel_bind_errors_total{code=\"%s\"}", bind_codes[i]) ==
			    (double)(i + 1));
	assert_true(value(text, "hoody_tunnel_bind_errors_total{code=\"INTERNAL\"}") == 8 + 4);
	free(text);
}

static void
test_visitor_response_classes(void **state)
{
	static const int statuses[] = { 100, 101, 199, 200, 204, 299, 301, 304,
					400, 401, 404, 404, 500, 502, 503, 599 };
	static const int ignored[] = { 0, -1, 99, 600, 999, 1000, 42 };
	static const double want[] = { 3, 3, 2, 4, 4 };
	struct metrics m;
	char *text;
	size_t i;

	(void)state;
	metrics_init(&m);
	for (i = 0; i < sizeof(statuses) / sizeof(statuses[0]); i++)
		metrics_visitor_response(&m, statuses[i]);
	for (i = 0; i < sizeof(ignored) / sizeof(ignored[0]); i++)
		metrics_visitor_response(&m, ignored[i]);
	text = render(&m, NULL);
	for (i = 0; i < 5; i++)
		assert_true(valuef(text, "hoody_tunnel_visitor_responses_total{class=\"%zuxx\"}", i + 1) ==
			    want[i]);
	free(text);
}

/* ---- histogram ---------------------------------------------------------- */

static void
test_ttfb_histogram(void **state)
{
	static const uint64_t obs[] = { 0,   1,    2,    5,    6,     99,    100,   101,
					999, 1000, 1001, 2500, 29999, 30000, 30001, 86400000 };
	const size_t n = sizeof(obs) / sizeof(obs[0]);
	struct metrics m;
	char *text, series[128], want_sum[96];
	double prev = 0, v, want;
	uint64_t sum = 0;
	size_t i, j;

	(void)state;
	metrics_init(&m);
	for (i = 0; i < n; i++) {
		metrics_ttfb_observe(&m, obs[i]);
		sum += obs[i];
	}
	text = render(&m, NULL);
	for (i = 0; i < sizeof(bounds) / sizeof(bounds[0]); i++) {
		snprintf(series, sizeof(series), "hoody_tunnel_expose_ttfb_seconds_bucket{le=\"%s\"}",
			 bounds[i].le);
		v = value(text, series);
		for (want = 0, j = 0; j < n; j++)
			want += obs[j] <= bounds[i].ms;
		if (v != want)
			fail_msg("%s = %g, want %g", series, v, want);
		assert_true(v >= prev); /* cumulative */
		prev = v;
		/* buckets are printed in increasing order */
		if (i > 0) {
			char before[128];

			snprintf(before, sizeof(before), "_bucket{le=\"%s\"}", bounds[i - 1].le);
			assert_true(strstr(text, before) < strstr(text, series));
		}
	}
	assert_true(value(text, "hoody_tunnel_expose_ttfb_seconds_bucket{le=\"+Inf\"}") == (double)n);
	assert_true(value(text, "hoody_tunnel_expose_ttfb_seconds_count") == (double)n);
	/* the sum is exact: integer milliseconds printed as seconds */
	snprintf(want_sum, sizeof(want_sum), "\nhoody_tunnel_expose_ttfb_seconds_sum %llu.%03llu\n",
		 (unsigned long long)(sum / 1000), (unsigned long long)(sum % 1000));
	assert_non_null(strstr(text, want_sum));
	assert_true(strstr(text, "le=\"30\"") < strstr(text, "le=\"+Inf\""));
	free(text);
}

/* ---- gauges ------------------------------------------------------------- */

static void
test_gauges(void **state)
{
	struct metrics_gauges g = {
		.sessions_active = 3,
		.bindings_active = 5,
		.fd_permits_available = 1017,
		.orphaned_sessions = 1,
		.streams_active = 42,
		.requests_in_flight = 7,
		.pre_auth_connections = 2,
	};
	struct metrics m;
	char *text;

	(void)state;
	metrics_init(&m);
	text = render(&m, &g);
	assert_true(value(text, "hoody_tunnel_sessions_active") == 3);
	assert_true(value(text, "hoody_tunnel_bindings_active") == 5);
	assert_true(value(text, "hoody_tunnel_fd_permits_available") == 1017);
	assert_true(value(text, "hoody_tunnel_orphaned_sessions") == 1);
	assert_true(value(text, "hoody_tunnel_streams_active") == 42);
	assert_true(value(text, "hoody_tunnel_requests_in_flight") == 7);
	assert_true(value(text, "hoody_tunnel_pre_auth_connections") == 2);
	free(text);
	text = render(&m, NULL);
	assert_true(value(text, "hoody_tunnel_sessions_active") == 0);
	assert_true(value(text, "hoody_tunnel_fd_permits_available") == 0);
	assert_true(value(text, "hoody_tunnel_pre_auth_connections") == 0);
	free(text);
}

/* ---- process metrics ---------------------------------------------------- */

/* Open descriptors below 65536, found by asking the kernel about each one. */
static int
probe_fds(void)
{
	int fd, n = 0;

	for (fd = 0; fd < 65536; fd++)
		n += fcntl(fd, F_GETFD) != -1;
	return n;
}

static void
test_process_metrics(void **state)
{
	struct metrics m;
	struct rlimit rl;
	char *text;
	double rss, start, now;
	int fds, fd;

	(void)state;
	metrics_init(&m);
	if (access("/proc/self/statm", R_OK) != 0)
		skip(); /* not Linux: the families are left out, nothing to compare */
	text = render(&m, NULL);
	rss = value(text, "process_resident_memory_bytes");
	assert_true(rss > 0);
	assert_true(fabs(rss - (double)metrics_rss_bytes()) < 64.0 * 1024 * 1024);
	assert_true(value(text, "process_virtual_memory_bytes") >= rss);
	assert_true(value(text, "process_open_fds") >= 3);
	assert_int_equal(getrlimit(RLIMIT_NOFILE, &rl), 0);
	if (rl.rlim_cur != RLIM_INFINITY)
		assert_true(value(text, "process_max_fds") == (double)rl.rlim_cur);
	start = value(text, "process_start_time_seconds");
	now = (double)time(NULL);
	assert_true(start > now - 60 && start < now + 2);
	assert_true(value(text, "process_cpu_seconds_total") >= 0);
	free(text);

	/* the fd count is what the process really holds, counted another way */
	fds = metrics_open_fds();
	assert_true(fds >= 3);
	assert_int_equal(fds, probe_fds());
	fd = open("/dev/null", O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(metrics_open_fds(), fds + 1);
	close(fd);
	assert_int_equal(metrics_open_fds(), fds);
	assert_true(metrics_rss_bytes() > 0);
}

/* ---- build info ---------------------------------------------------------- */

static void
test_build_info(void **state)
{
	struct metrics m;
	char want[128], *text;
	const char *line, *rev, *end;
	size_t i;

	(void)state;
	metrics_init(&m);
	text = render(&m, NULL);
	assert_int_equal(count(text, "\nhoody_tunnel_build_info{"), 1);
	snprintf(want, sizeof(want), "hoody_tunnel_build_info{version=\"%s\",revision=\"", HT_VERSION);
	line = strstr(text, want);
	assert_non_null(line);
	/* the revision: a short git hash, or "unknown" outside a checkout */
	rev = line + strlen(want);
	end = strchr(rev, '"');
	assert_non_null(end);
	if (!((size_t)(end - rev) == 7 && strncmp(rev, "unknown", 7) == 0)) {
		assert_true(end - rev >= 4 && end - rev <= 40);
		for (i = 0; rev + i < end; i++)
			assert_non_null(strchr("0123456789abcdef", rev[i]));
	}
	assert_int_equal(strncmp(end, "\",tls=\"bearssl\"} 1\n", strlen("\",tls=\"bearssl\"} 1\n")), 0);
	free(text);
}

/* ---- the output buffer -------------------------------------------------- */

static void
test_render_appends_and_keeps_headroom(void **state)
{
	struct metrics m;
	struct buf b;
	size_t len;

	(void)state;
	metrics_init(&m);
	assert_int_equal(buf_init(&b, 16, 8), 0);
	assert_int_equal(buf_append(&b, "HEAD\n", 5), 0);
	assert_int_equal(metrics_render(&m, NULL, &b), 0);
	assert_int_equal(buf_headroom(&b), 8);
	assert_memory_equal(b.pos, "HEAD\n# HELP hoody_tunnel_", 25);
	assert_int_equal(b.last[-1], '\n');
	len = buf_len(&b);
	assert_true(len > 4000);
	/* a second render appends the same families again, after the first */
	assert_int_equal(metrics_render(&m, NULL, &b), 0);
	assert_true(buf_len(&b) > 2 * len - 200 && buf_len(&b) < 2 * len + 200);
	buf_fini(&b);
}

static void
test_render_too_small_wrapped_buffer(void **state)
{
	static uint8_t mem[512];
	static uint8_t big[1 << 16];
	struct metrics m;
	struct buf b;

	(void)state;
	metrics_init(&m);
	buf_wrap(&b, mem, sizeof(mem), 0);
	assert_int_equal(buf_append(&b, "abc", 3), 0);
	assert_int_equal(metrics_render(&m, NULL, &b), -ENOSPC);
	assert_int_equal(buf_len(&b), 3); /* nothing half-written is left */
	assert_memory_equal(b.pos, "abc", 3);
	assert_ptr_equal(b.start, mem);

	buf_wrap(&b, big, sizeof(big), 0);
	assert_int_equal(metrics_render(&m, NULL, &b), 0);
	assert_ptr_equal(b.start, big);
	assert_true(buf_len(&b) > 4000);
	buf_fini(&b); /* not owned: frees nothing */
}

/* ---- the format, checked by promcheck.py -------------------------------- */

static void
test_output_passes_promcheck(void **state)
{
	struct metrics_gauges g = { 1, 2, 3, 4, 5, 6, 7 };
	struct metrics m;
	char *text, *fresh;
	unsigned i;
	int rc;

	(void)state;
	metrics_init(&m);
	for (i = 0; i < 20; i++) {
		metrics_reset(&m, i);
		metrics_reset_received(&m, i * 3);
		metrics_goaway(&m, i);
		metrics_ttfb_observe(&m, (uint64_t)i * i * i * 7);
		metrics_visitor_response(&m, (int)(100 + i * 27));
	}
	metrics_bind_error(&m, "PORT_IN_USE");
	m.bytes_sent_total = UINT64_MAX;
	text = render(&m, &g);
	metrics_init(&m);
	fresh = render(&m, NULL);
	/* Prometheus' own linter, where installed (DESIGN.md: output must pass it) */
	rc = promtool(text);
	assert_true(rc == -1 || rc == 0);
	rc = promtool(fresh);
	assert_true(rc == -1 || rc == 0);
	rc = promcheck(text);
	if (rc >= 0) {
		assert_int_equal(rc, 0);
		assert_int_equal(promcheck(fresh), 0);
	}
	free(text);
	free(fresh);
	if (rc < 0)
		skip();
}

static void
test_promcheck_rejects_broken_text(void **state)
{
	static const char good[] =
		"# HELP a_total Things.\n# TYPE a_total counter\na_total{x=\"a\\\"b\\\\c\\n\"} 1\n"
		"# HELP h Latency.\n# TYPE h histogram\nh_bucket{le=\"0.1\"} 1\n"
		"h_bucket{le=\"+Inf\"} 2\nh_sum 0.3\nh_count 2\n"
		"# A comment.\n\n"
		"# HELP g A gauge.\n# TYPE g gauge\ng NaN\ng{l=\"1\"} -Inf 1700000000000\n";
	/* each broken text, and the words of the problem promcheck must name */
	static const struct {
		const char *text, *problem;
	} bad[] = {
		{ "# HELP a_total Things.\na_total 1\n", "no # TYPE line" },
		{ "# TYPE a_total counter\na_total 1\n", "no # HELP line" },
		{ "# HELP a_total \n# TYPE a_total counter\na_total 1\n", "empty HELP" },
		{ "# HELP a_total x\\y\n# TYPE a_total counter\na_total 1\n", "bad escape in HELP" },
		{ "# HELP a Things.\n# TYPE a counter\na 1\n", "not named *_total" },
		{ "# HELP a_total Things.\n# TYPE a_total counter\na_total -1\n",
		  "counter a_total has value" },
		{ "# HELP a_total T.\n# TYPE a_total counter\n# TYPE a_total counter\na_total 1\n",
		  "second # TYPE" },
		{ "# HELP g G.\n# HELP g G.\n# TYPE g gauge\ng 1\n", "second # HELP" },
		{ "# HELP g G.\n# TYPE g gauge\ng 1\n# HELP g Late.\n", "after its samples" },
		{ "# HELP g G.\n# TYPE g meter\ng 1\n", "unknown type" },
		{ "# HELP g G.\n# TYPE g gauge\ng{a=\"1\",b=\"2\"} 1\ng{b=\"2\",a=\"1\"} 2\n",
		  "duplicate series" },
		{ "# HELP g G.\n# TYPE g gauge\n# HELP k K.\n# TYPE k gauge\ng{a=\"1\"} 1\nk 1\ng{a=\"2\"} "
		  "1\n",
		  "not in one group" },
		{ "# HELP g G.\n# TYPE g gauge\ng{a=\"x\\q\"} 1\n", "bad escape" },
		{ "# HELP g G.\n# TYPE g gauge\ng{a=\"x\"y\"} 1\n", "expected ',' or '}'" },
		{ "# HELP g G.\n# TYPE g gauge\ng{a=\"x} 1\n", "unterminated" },
		{ "# HELP g G.\n# TYPE g gauge\ng{a=x} 1\n", "not quoted" },
		{ "# HELP g G.\n# TYPE g gauge\ng{1a=\"x\"} 1\n", "invalid label name" },
		{ "# HELP g G.\n# TYPE g gauge\ng{__a=\"x\"} 1\n", "reserved" },
		{ "# HELP g G.\n# TYPE g gauge\ng{a=\"x\",a=\"y\"} 1\n", "given twice" },
		{ "# HELP g G.\n# TYPE g gauge\n9g 1\n", "valid metric name" },
		{ "# HELP g G.\n# TYPE g gauge\ng 1_000\n", "not a float" },
		{ "# HELP g G.\n# TYPE g gauge\ng one\n", "not a float" },
		{ "# HELP g G.\n# TYPE g gauge\ng\n", "space before the value" },
		{ "# HELP g G.\n# TYPE g gauge\ng 1 1.5\n", "not an integer" },
		{ "# HELP g G.\n# TYPE g gauge\ng 1 2 3\n", "optional timestamp" },
		{ "# HELP g G.\n# TYPE g gauge\ng 1\r\n", "carriage return" },
		{ "# HELP g G.\n# TYPE g gauge\ng{a=\"\xff\"} 1\n", "not UTF-8" },
		{ "# HELP g G.\n# TYPE g gauge\ng 1", "newline" },
		{ "# HELP h H.\n# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_bucket{le=\"0.5\"} 1\n"
		  "h_bucket{le=\"+Inf\"} 1\nh_sum 1\nh_count 1\n",
		  "does not increase" },
		{ "# HELP h H.\n# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_sum 1\nh_count 1\n",
		  "last bucket is not" },
		{ "# HELP h H.\n# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_bucket{le=\"+Inf\"} 2\nh_sum "
		  "1\nh_count 3\n",
		  "_count 3.0 != +Inf bucket 2.0" },
		{ "# HELP h H.\n# TYPE h histogram\nh_bucket{le=\"+Inf\"} 2\nh_count 2\n", "no _sum" },
		{ "# HELP h H.\n# TYPE h histogram\nh_bucket{le=\"+Inf\"} 2\nh_sum 2\n", "no _count" },
		{ "# HELP h H.\n# TYPE h histogram\nh_sum 2\nh_count 0\n", "no _bucket" },
		{ "# HELP h H.\n# TYPE h histogram\nh_bucket{le=\"1\"} 3\nh_bucket{le=\"+Inf\"} 2\nh_sum "
		  "1\nh_count 2\n",
		  "below the previous" },
		{ "# HELP h H.\n# TYPE h histogram\nh_bucket 1\nh_bucket{le=\"+Inf\"} 1\nh_sum 1\nh_count "
		  "1\n",
		  "without an le label" },
		{ "# HELP h H.\n# TYPE h histogram\nh_bucket{le=\"x\"} 1\nh_bucket{le=\"+Inf\"} 1\nh_sum "
		  "1\nh_count 1\n",
		  "is not a number" },
		{ "# HELP h H.\n# TYPE h histogram\nh 1\nh_bucket{le=\"+Inf\"} 1\nh_sum 1\nh_count 1\n",
		  "lacks a _bucket" },
	};
	char out[4096];
	size_t i;
	int rc;

	(void)state;
	rc = promcheck_out(good, out, sizeof(out));
	if (rc < 0)
		skip();
	if (rc != 0)
		fail_msg("promcheck rejected valid text:\n%s", out);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		rc = promcheck_out(bad[i].text, out, sizeof(out));
		if (rc != 1 || strstr(out, bad[i].problem) == NULL)
			fail_msg("case %zu: status %d, wanted 1 naming \"%s\":\n%s", i, rc, bad[i].problem,
				 out);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_contract_names_typed_once),
		cmocka_unit_test(test_fresh_every_series_present_at_zero),
		cmocka_unit_test(test_plain_counters),
		cmocka_unit_test(test_reset_and_goaway_codes),
		cmocka_unit_test(test_bind_errors_by_name),
		cmocka_unit_test(test_visitor_response_classes),
		cmocka_unit_test(test_ttfb_histogram),
		cmocka_unit_test(test_gauges),
		cmocka_unit_test(test_process_metrics),
		cmocka_unit_test(test_build_info),
		cmocka_unit_test(test_render_appends_and_keeps_headroom),
		cmocka_unit_test(test_render_too_small_wrapped_buffer),
		cmocka_unit_test(test_output_passes_promcheck),
		cmocka_unit_test(test_promcheck_rejects_broken_text),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
