/*
 * config.c: flags and HOODY_TUNNEL_* variables into a struct config.
 *
 * One table (`opts`) describes every flag: its name, value type, where it
 * lands in struct config, its range or choices, its default and the help
 * line (config_defaults() parses the defaults the help shows). Reading
 * happens in three passes so that a flag always wins and a bad environment
 * value that a flag overrides is never reported:
 *   1. scan argv: syntax only (unknown flags, missing values), note which
 *      flags are given, stop at --help / --version;
 *   2. apply HOODY_TUNNEL_* variables whose flag is not on the command line;
 *   3. apply argv in order (the last of a repeated flag wins; a list flag
 *      such as --trusted-proxy appends).
 * Then the checks that involve several fields, and --token-file and
 * --admin-token-file are read.
 *
 * Not here: address resolution, token generation, any socket.
 */
#include "config.h"

#include <arpa/inet.h>
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <string.h>
#include <unistd.h>

#include "util.h"

enum opt_type {
	OPT_STRING,   /* const char * into argv/envp */
	OPT_UINT,     /* uint32_t, decimal */
	OPT_SIZE,     /* uint32_t, util_parse_size units */
	OPT_DURATION, /* uint64_t milliseconds, util_parse_duration_ms (bare = seconds) */
	OPT_BOOL,     /* int 0/1; a flag without "=value" means 1 */
	OPT_ENUM,     /* one of `choices`, stored by set_enum */
	OPT_LIST,     /* --trusted-proxy: appended, commas split */
	OPT_POLICY,   /* struct forward_policy: rules appended (forward_policy_parse) */
	OPT_ACTION,   /* --help / --version: config_load returns `action` */
	OPT_TYPE_MAX
};

/* Extra checks on string values. */
enum opt_check {
	CHK_NONE,
	CHK_ADDR_PORT, /* HOST:PORT, [IPv6]:PORT, :PORT */
	CHK_IP,        /* IPv4 or IPv6 literal */
	CHK_SECRET,    /* printable ASCII, no space; never echoed in errors */
	CHK_READABLE,  /* a file we can read now */
	CHK_URL,       /* http:// or https:// */
	CHK_DOMAIN,    /* DNS name */
	CHK_MAX
};

struct opt {
	const char *name; /* without the leading "--" */
	enum opt_type type;
	enum opt_check check;
	size_t off;                 /* field offset, unused for OPT_ENUM/LIST/ACTION */
	uint64_t min, max;          /* OPT_UINT/SIZE/DURATION range */
	const char *const *choices; /* OPT_ENUM, NULL-terminated */
	void (*set_enum)(struct config *c, unsigned idx);
	int action;           /* OPT_ACTION: CONFIG_EXIT_* */
	const char *section;  /* help: a heading printed before this flag */
	const char *arg;      /* help: metavariable, NULL for none */
	const char *def;      /* default value: config_defaults applies it, --help shows it */
	const char *def_note; /* help only: a default that is not a value (def is NULL) */
	const char *help;
};

/* In the order of enum auth_admin_mode. */
static const char *const admin_auth_choices[] = { "remote", "write", "all", "none", NULL };
static const char *const log_format_choices[] = { "text", "json", NULL };
static const char *const log_level_choices[] = { "error", "warn", "info", "debug", NULL };

static void
set_admin_auth(struct config *c, unsigned idx)
{
	c->admin_auth = idx < AUTH_ADMIN_MODE_MAX ? (enum auth_admin_mode)idx : AUTH_ADMIN_ALL;
}

static void
set_log_format(struct config *c, unsigned idx)
{
	c->log_format = idx == 1 ? LOG_FORMAT_JSON : LOG_FORMAT_TEXT;
}

static void
set_log_level(struct config *c, unsigned idx)
{
	static const enum log_level lv[] = { LOG_LEVEL_ERROR, LOG_LEVEL_WARN, LOG_LEVEL_INFO,
					     LOG_LEVEL_DEBUG };

	c->log_level = lv[idx < UTIL_ARRAY_SIZE(lv) ? idx : 2];
}

#define OFF(f) offsetof(struct config, f)
#define WINDOW_MAX 2147483647ull
#define HOUR_MS 3600000ull
#define DAY_MS (24 * HOUR_MS)
/* DELETE .../sessions/{id} without grace_ms (no flag sets it). */
#define CONFIG_KILL_GRACE_DEFAULT_MS 50

/* clang-format off: one option per entry, its fields wrapped, reads as the --help it makes */
static const struct opt opts[] = {
	{ .name = "listen",
	  .type = OPT_STRING,
	  .check = CHK_ADDR_PORT,
	  .off = OFF(listen),
	  .section = "Control plane",
	  .arg = "ADDR:PORT",
	  .def = "0.0.0.0:50",
	  .help = "control-plane address (WebSocket, admin API, probes)" },
	{ .name = "token",
	  .type = OPT_STRING,
	  .check = CHK_SECRET,
	  .off = OFF(token),
	  .arg = "TOKEN",
	  .def_note = "a credential, else --token-store",
	  .help = "bearer token of tunnel clients and the admin API, 16 bytes or more\n"
		  "      (e.g. from 'openssl rand -hex 16')" },
	{ .name = "token-file",
	  .type = OPT_STRING,
	  .off = OFF(token_file),
	  .arg = "PATH",
	  .help = "read the token from a file (trailing newline stripped; 16 bytes or more)" },
	{ .name = "token-store",
	  .type = OPT_STRING,
	  .off = OFF(token_store),
	  .arg = "PATH",
	  .def_note = "$STATE_DIRECTORY/token",
	  .help = "keep a generated token here (0600) and reuse it after a restart" },
	{ .name = "admin-token",
	  .type = OPT_STRING,
	  .check = CHK_SECRET,
	  .off = OFF(admin_token),
	  .arg = "TOKEN",
	  .def_note = "the tunnel token",
	  .help = "admin API token (16 bytes or more); the tunnel token then opens it no more" },
	{ .name = "admin-token-file",
	  .type = OPT_STRING,
	  .off = OFF(admin_token_file),
	  .arg = "PATH",
	  .help = "read the admin token from a file (newline stripped; 16 bytes or more)" },
	{ .name = "admin-auth",
	  .type = OPT_ENUM,
	  .choices = admin_auth_choices,
	  .set_enum = set_admin_auth,
	  .arg = "remote|write|all|none",
	  .def = "remote",
	  .help = "who needs the admin token (health and probes never do): remote: reads\n"
		  "      from other hosts and every write; write: writes only; all; none" },
	{ .name = "tls-cert",
	  .type = OPT_STRING,
	  .check = CHK_READABLE,
	  .off = OFF(tls_cert),
	  .arg = "PATH",
	  .help = "PEM certificate chain: serve the control plane over TLS" },
	{ .name = "tls-key",
	  .type = OPT_STRING,
	  .check = CHK_READABLE,
	  .off = OFF(tls_key),
	  .arg = "PATH",
	  .help = "PEM private key matching --tls-cert" },
	{ .name = "trusted-proxy",
	  .type = OPT_LIST,
	  .section = "Proxies and public names",
	  .arg = "loopback|private|IP|CIDR",
	  .help = "peers whose X-Forwarded-* is kept (repeatable; commas separate several)" },
	{ .name = "public-url-pattern",
	  .type = OPT_STRING,
	  .check = CHK_URL,
	  .off = OFF(public_url_pattern),
	  .arg = "URL",
	  .help = "public URL of EXPOSE bindings: {port}, {subdomain} put in" },
	{ .name = "domain",
	  .type = OPT_STRING,
	  .check = CHK_DOMAIN,
	  .off = OFF(domain),
	  .arg = "DOMAIN",
	  .help = "route Host NAME.DOMAIN to subdomain bindings" },
	{ .name = "vhost-listen",
	  .type = OPT_STRING,
	  .check = CHK_ADDR_PORT,
	  .off = OFF(vhost_listen),
	  .arg = "ADDR:PORT",
	  .help = "second listener for host-routed traffic (needs --domain)" },
	{ .name = "expose-address",
	  .type = OPT_STRING,
	  .check = CHK_IP,
	  .off = OFF(expose_address),
	  .section = "Bindings",
	  .arg = "IP",
	  .def = "0.0.0.0",
	  .help = "address EXPOSE listeners bind to" },
	{ .name = "allow-privileged-expose",
	  .type = OPT_BOOL,
	  .off = OFF(allow_privileged_expose),
	  .def = "off",
	  .help = "let EXPOSE use ports 80..1023" },
	{ .name = "allow-privileged-pull",
	  .type = OPT_BOOL,
	  .off = OFF(allow_privileged_pull),
	  .def = "off",
	  .help = "let PULL use ports 80..1023" },
	{ .name = "max-sessions",
	  .type = OPT_UINT,
	  .off = OFF(max_sessions),
	  .min = 1,
	  .max = 100000,
	  .section = "Limits",
	  .arg = "N",
	  .def = "8",
	  .help = "concurrent tunnel sessions (the oldest parked one makes room)" },
	{ .name = "max-bindings-per-session",
	  .type = OPT_UINT,
	  .off = OFF(max_bindings_per_session),
	  .min = 1,
	  .max = 65535,
	  .arg = "N",
	  .def = "8",
	  .help = "bindings one session may hold" },
	{ .name = "max-streams-per-session",
	  .type = OPT_UINT,
	  .off = OFF(max_streams_per_session),
	  .min = 1,
	  .max = 1000000,
	  .arg = "N",
	  .def = "1024",
	  .help = "concurrent streams per session" },
	{ .name = "max-connections-per-session",
	  .type = OPT_UINT,
	  .off = OFF(max_connections_per_session),
	  .min = 1,
	  .max = 256,
	  .arg = "N",
	  .def = "8",
	  .help = "WebSockets granted to one v2 session" },
	{ .name = "max-pre-auth-connections",
	  .type = OPT_UINT,
	  .off = OFF(max_pre_auth_connections),
	  .min = 1,
	  .max = 100000,
	  .arg = "N",
	  .def = "32",
	  .help = "connections allowed before HELLO; the newest above it is closed" },
	{ .name = "stream-initial-window",
	  .type = OPT_SIZE,
	  .off = OFF(stream_initial_window),
	  .min = 1,
	  .max = WINDOW_MAX,
	  .arg = "SIZE",
	  .def = "1MiB",
	  .help = "flow-control credit per stream" },
	{ .name = "session-initial-window",
	  .type = OPT_SIZE,
	  .off = OFF(session_initial_window),
	  .min = 1,
	  .max = WINDOW_MAX,
	  .arg = "SIZE",
	  .def = "16MiB",
	  .help = "flow-control credit per session (>= stream window)" },
	{ .name = "fd-reserve",
	  .type = OPT_UINT,
	  .off = OFF(fd_reserve),
	  .min = 16,
	  .max = 1000000,
	  .arg = "N",
	  .def = "64",
	  .help = "fds kept out of the permit budget for the daemon itself" },
	{ .name = "max-head-size",
	  .type = OPT_SIZE,
	  .off = OFF(max_head_size),
	  .min = 1024,
	  .max = 1024 * 1024,
	  .arg = "SIZE",
	  .def = "64KiB",
	  .help = "largest visitor request head" },
	{ .name = "max-headers",
	  .type = OPT_UINT,
	  .off = OFF(max_headers),
	  .min = 1,
	  .max = 10000,
	  .arg = "N",
	  .def = "100",
	  .help = "most header lines in a visitor request head" },
	{ .name = "hello-timeout",
	  .type = OPT_DURATION,
	  .off = OFF(hello_timeout_ms),
	  .min = 1,
	  .max = HOUR_MS,
	  .section = "Timers",
	  .arg = "DURATION",
	  .def = "5s",
	  .help = "from TCP accept to a valid HELLO" },
	{ .name = "ping-interval",
	  .type = OPT_DURATION,
	  .off = OFF(ping_interval_ms),
	  .min = 1,
	  .max = DAY_MS,
	  .arg = "DURATION",
	  .def = "30s",
	  .help = "silence before the server sends PING (< --pong-timeout)" },
	{ .name = "pong-timeout",
	  .type = OPT_DURATION,
	  .off = OFF(pong_timeout_ms),
	  .min = 1,
	  .max = DAY_MS,
	  .arg = "DURATION",
	  .def = "60s",
	  .help = "silence before a session is dropped and parked" },
	{ .name = "takeover-grace",
	  .type = OPT_DURATION,
	  .off = OFF(takeover_grace_ms),
	  .min = 0,
	  .max = DAY_MS,
	  .arg = "DURATION",
	  .def = "60s",
	  .help = "how long an orphaned session keeps its bindings (0: not at all)" },
	{ .name = "idle-timeout",
	  .type = OPT_DURATION,
	  .off = OFF(idle_timeout_ms),
	  .min = 0,
	  .max = 7 * DAY_MS,
	  .arg = "DURATION",
	  .def = "300s",
	  .help = "close sessions with no stream and no binding (0: never)" },
	{ .name = "shutdown-grace",
	  .type = OPT_DURATION,
	  .off = OFF(shutdown_grace_ms),
	  .min = 0,
	  .max = HOUR_MS,
	  .arg = "DURATION",
	  .def = "10s",
	  .help = "drain time on SIGTERM" },
	{ .name = "join-ticket-ttl",
	  .type = OPT_DURATION,
	  .off = OFF(join_ticket_ttl_ms),
	  .min = 1,
	  .max = HOUR_MS,
	  .arg = "DURATION",
	  .def = "30s",
	  .help = "lifetime of a v2 JOIN ticket" },
	{ .name = "visitor-idle-timeout",
	  .type = OPT_DURATION,
	  .off = OFF(visitor_idle_timeout_ms),
	  .min = 0,
	  .max = DAY_MS,
	  .arg = "DURATION",
	  .def = "60s",
	  .help = "close idle keep-alive visitor connections (0: never)" },
	{ .name = "head-timeout",
	  .type = OPT_DURATION,
	  .off = OFF(head_timeout_ms),
	  .min = 1,
	  .max = HOUR_MS,
	  .arg = "DURATION",
	  .def = "10s",
	  .help = "time for a visitor to send a complete request head" },
	{ .name = "response-timeout",
	  .type = OPT_DURATION,
	  .off = OFF(response_timeout_ms),
	  .min = 1,
	  .max = DAY_MS,
	  .arg = "DURATION",
	  .def = "60s",
	  .help = "time for the tunnel to deliver a response head, else 504" },
	{ .name = "send-timeout",
	  .type = OPT_DURATION,
	  .off = OFF(send_timeout_ms),
	  .min = 1,
	  .max = DAY_MS,
	  .arg = "DURATION",
	  .def = "60s",
	  .help = "close a visitor or admin client that takes no byte of its answer this long" },
	{ .name = "forward-allow",
	  .type = OPT_POLICY,
	  .off = OFF(forward_allow),
	  .section = "Forwarding",
	  .arg = "LIST",
	  .def_note = "loopback",
	  .help = "addresses forwarded connections may reach (repeatable; commas separate)\n"
		  "      loopback|private|any|none|IP|CIDR, each with :PORT or :LOW-HIGH" },
	{ .name = "forward-connect-timeout",
	  .type = OPT_DURATION,
	  .off = OFF(forward_connect_timeout_ms),
	  .min = 1,
	  .max = HOUR_MS,
	  .arg = "DURATION",
	  .def = "10s",
	  .help = "time for a forwarded connection to be established" },
	{ .name = "dns-servers",
	  .type = OPT_STRING,
	  .off = OFF(dns_servers),
	  .arg = "IP[:PORT],...",
	  .help = "name servers for forwarded connections (default: /etc/resolv.conf)" },
	{ .name = "log-format",
	  .type = OPT_ENUM,
	  .choices = log_format_choices,
	  .set_enum = set_log_format,
	  .section = "Logging",
	  .arg = "text|json",
	  .def = "text",
	  .help = "log line layout" },
	{ .name = "log-level",
	  .type = OPT_ENUM,
	  .choices = log_level_choices,
	  .set_enum = set_log_level,
	  .arg = "error|warn|info|debug",
	  .def = "info",
	  .help = "most verbose level printed" },
	{ .name = "version",
	  .type = OPT_ACTION,
	  .action = CONFIG_EXIT_VERSION,
	  .section = "Other",
	  .help = "print the version and exit (-V)" },
	{ .name = "help",
	  .type = OPT_ACTION,
	  .action = CONFIG_EXIT_HELP,
	  .help = "print this help and exit (-h)" },
};
/* clang-format on */

#define N_OPTS UTIL_ARRAY_SIZE(opts)

/* The HOODY_TUNNEL_* variables with no flag (config_load reads them too). */
static const char *const env_extra[] = { TLS_CRYPTO_ENV };
/* struct config.from_env and from_argv have one bit per option. */
_Static_assert(N_OPTS <= 64, "struct config.from_env holds one bit per option");
/* Longest variable name (HOODY_TUNNEL_ and the longest flag, upper case). */
#define ENV_NAME_MAX 64

/* Format an error into err (if any); always returns -1. */
__attribute__((format(printf, 3, 4))) static int
fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err != NULL && errlen > 0) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return -1;
}

/* "HOODY_TUNNEL_MAX_SESSIONS" for "max-sessions". */
static void
env_name(const struct opt *o, char *out, size_t cap)
{
	static const char prefix[] = CONFIG_ENV_PREFIX;
	size_t n = 0, i;

	if (cap == 0)
		return;
	for (i = 0; prefix[i] != '\0' && n + 1 < cap; i++)
		out[n++] = prefix[i];
	for (i = 0; o->name[i] != '\0' && n + 1 < cap; i++) {
		char ch = o->name[i];
		out[n++] = ch == '-' ? '_' : (ch >= 'a' && ch <= 'z') ? (char)(ch - 32) : ch;
	}
	out[n] = '\0';
}

/* What an error message calls the option: "--flag" or the variable name. */
static void
opt_who(const struct opt *o, int from_env, char *out, size_t cap)
{
	if (from_env)
		env_name(o, out, cap);
	else
		snprintf(out, cap, "--%s", o->name);
}

/* "--flag (HOODY_TUNNEL_FLAG)": a setting that is missing, so both ways to give it. */
static const char *
both_names(const char *flag, char *out, size_t cap)
{
	char env[ENV_NAME_MAX];
	const struct opt o = { .name = flag };

	env_name(&o, env, sizeof(env));
	snprintf(out, cap, "--%s (%s)", flag, env);
	return out;
}

static const struct opt *
find_flag(const char *name, size_t len)
{
	size_t i;

	for (i = 0; i < N_OPTS; i++)
		if (strlen(opts[i].name) == len && memcmp(opts[i].name, name, len) == 0)
			return &opts[i];
	return NULL;
}

/* The option whose variable is CONFIG_ENV_PREFIX + s[0..len), if any. */
static const struct opt *
find_env(const char *s, size_t len)
{
	char want[ENV_NAME_MAX];
	size_t i;

	for (i = 0; i < N_OPTS; i++) {
		if (opts[i].type == OPT_ACTION)
			continue;
		env_name(&opts[i], want, sizeof(want));
		if (strlen(want) == strlen(CONFIG_ENV_PREFIX) + len &&
		    memcmp(want + strlen(CONFIG_ENV_PREFIX), s, len) == 0)
			return &opts[i];
	}
	return NULL;
}

/* ---- value checks ------------------------------------------------------ */

static int
is_ip(const char *s)
{
	unsigned char a[16];

	return inet_pton(AF_INET, s, a) == 1 || inet_pton(AF_INET6, s, a) == 1;
}

/* HOST:PORT, [IPv6]:PORT or :PORT; port 1..65535; HOST a name or IPv4. */
static int
check_addr_port(const char *s)
{
	const char *colon = strrchr(s, ':');
	char host[64];
	unsigned char a[16];
	uint64_t port;
	size_t hl, i;

	if (colon == NULL || util_parse_uint(colon + 1, 65535, &port) < 0 || port == 0)
		return -1;
	hl = (size_t)(colon - s);
	if (hl > 0 && s[0] == '[') {
		if (hl < 3 || s[hl - 1] != ']' || hl - 2 >= sizeof(host))
			return -1;
		memcpy(host, s + 1, hl - 2);
		host[hl - 2] = '\0';
		return inet_pton(AF_INET6, host, a) == 1 ? 0 : -1;
	}
	for (i = 0; i < hl; i++) {
		char ch = s[i];
		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
		      ch == '.' || ch == '-'))
			return -1;
	}
	return 0;
}

/* A token: 1..CONFIG_TOKEN_MAX printable ASCII bytes, no space. */
static int
check_secret(const char *s, size_t n)
{
	size_t i;

	if (n == 0 || n > CONFIG_TOKEN_MAX)
		return -1;
	for (i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x21 || (unsigned char)s[i] > 0x7e)
			return -1;
	return 0;
}

static int
check_url(const char *s)
{
	size_t n = strlen(s);

	if (n > 7 && util_strcaseeq(s, 7, "http://"))
		return 0;
	if (n > 8 && util_strcaseeq(s, 8, "https://"))
		return 0;
	return -1;
}

/* Letters, digits, hyphens; labels 1..63 not starting or ending with '-'. */
static int
check_domain(const char *s)
{
	size_t n = strlen(s), i, label = 0;

	if (n == 0 || n > 253)
		return -1;
	for (i = 0; i <= n; i++) {
		char ch = s[i];
		if (ch == '.' || ch == '\0') {
			if (label == 0 || label > 63 || s[i - 1] == '-')
				return -1;
			label = 0;
		} else if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
			   (ch == '-' && label > 0)) {
			label++;
		} else {
			return -1;
		}
	}
	return 0;
}

/* loopback, private, an IP, or IP/prefix. */
static int
check_trusted_proxy(const char *s)
{
	const char *slash = strchr(s, '/');
	unsigned char a[16];
	char ip[CONFIG_TRUSTED_PROXY_LEN];
	uint64_t bits;
	size_t n = slash ? (size_t)(slash - s) : strlen(s);

	if (util_strcaseeq(s, strlen(s), "loopback") || util_strcaseeq(s, strlen(s), "private"))
		return 0;
	if (n >= sizeof(ip))
		return -1;
	memcpy(ip, s, n);
	ip[n] = '\0';
	if (inet_pton(AF_INET, ip, a) == 1)
		return slash == NULL || util_parse_uint(slash + 1, 32, &bits) == 0 ? 0 : -1;
	if (inet_pton(AF_INET6, ip, a) == 1)
		return slash == NULL || util_parse_uint(slash + 1, 128, &bits) == 0 ? 0 : -1;
	return -1;
}

/* ---- applying one value -------------------------------------------------- */

/* A token of n < CONFIG_TOKEN_MIN bytes from `who`: the error (its length, never its bytes). */
static int
token_too_short(const char *who, size_t n, char *err, size_t errlen)
{
	return fail(err, errlen,
		    "%s: too short (%zu byte%s); use at least %d bytes, e.g. from 'openssl rand -hex %d'",
		    who, n, n == 1 ? "" : "s", CONFIG_TOKEN_MIN, CONFIG_TOKEN_MIN);
}

static int
apply_string(struct config *c, const struct opt *o, const char *who, const char *v, char *err, size_t errlen)
{
	if (*v == '\0')
		return fail(err, errlen, "%s: empty value", who);
	switch (o->check) {
	case CHK_ADDR_PORT:
		if (check_addr_port(v) < 0)
			return fail(err, errlen,
				    "%s: invalid address '%.200s' (expected HOST:PORT, "
				    "[IPv6]:PORT or :PORT with a port in 1..65535)",
				    who, v);
		break;
	case CHK_IP:
		if (!is_ip(v))
			return fail(err, errlen,
				    "%s: invalid address '%.200s' (expected an IPv4 or "
				    "IPv6 address)",
				    who, v);
		break;
	case CHK_SECRET:
		if (check_secret(v, strlen(v)) < 0)
			return fail(err, errlen,
				    "%s: invalid value (expected %d..%d printable ASCII "
				    "characters without spaces)",
				    who, CONFIG_TOKEN_MIN, CONFIG_TOKEN_MAX);
		if (strlen(v) < CONFIG_TOKEN_MIN)
			return token_too_short(who, strlen(v), err, errlen);
		break;
	case CHK_READABLE:
		if (access(v, R_OK) < 0)
			return fail(err, errlen, "%s: cannot read '%.200s': %s", who, v, strerror(errno));
		break;
	case CHK_URL:
		if (check_url(v) < 0)
			return fail(err, errlen,
				    "%s: invalid value '%.200s' (expected a pattern "
				    "starting with http:// or https://)",
				    who, v);
		break;
	case CHK_DOMAIN:
		if (check_domain(v) < 0)
			return fail(err, errlen, "%s: invalid domain '%.200s'", who, v);
		break;
	default: break;
	}
	*(const char **)(void *)((char *)c + o->off) = v;
	return 0;
}

static int
apply_number(struct config *c, const struct opt *o, const char *who, const char *v, char *err, size_t errlen)
{
	unsigned long long lo = o->min, hi = o->max;
	uint64_t x = 0;
	int rc;

	if (o->type == OPT_UINT)
		rc = util_parse_uint(v, UINT64_MAX, &x);
	else if (o->type == OPT_SIZE)
		rc = util_parse_size(v, &x);
	else
		rc = util_parse_duration_ms(v, 1, &x);
	if (rc == 0 && x >= o->min && x <= o->max) {
		if (o->type == OPT_DURATION)
			*(uint64_t *)(void *)((char *)c + o->off) = x;
		else
			*(uint32_t *)(void *)((char *)c + o->off) = (uint32_t)x;
		return 0;
	}
	if (o->type == OPT_UINT)
		return fail(err, errlen, "%s: invalid value '%.200s' (expected an integer in %llu..%llu)",
			    who, v, lo, hi);
	if (o->type == OPT_SIZE)
		return fail(err, errlen,
			    "%s: invalid size '%.200s' (expected %llu..%llu bytes, units "
			    "B, K, KiB, M, MiB, G, GiB)",
			    who, v, lo, hi);
	return fail(err, errlen,
		    "%s: invalid duration '%.200s' (expected %llu..%llu ms; units ms, "
		    "s, m, h; a bare number is seconds)",
		    who, v, lo, hi);
}

static int
parse_bool(const char *v, int *out)
{
	static const char *const yes[] = { "1", "true", "yes", "on" };
	static const char *const no[] = { "0", "false", "no", "off" };
	size_t i;

	for (i = 0; i < UTIL_ARRAY_SIZE(yes); i++) {
		if (util_strcaseeq(v, strlen(v), yes[i])) {
			*out = 1;
			return 0;
		}
		if (util_strcaseeq(v, strlen(v), no[i])) {
			*out = 0;
			return 0;
		}
	}
	return -1;
}

static int
apply_enum(struct config *c, const struct opt *o, const char *who, const char *v, char *err, size_t errlen)
{
	unsigned i;

	for (i = 0; o->choices[i] != NULL; i++) {
		if (util_strcaseeq(v, strlen(v), o->choices[i])) {
			o->set_enum(c, i);
			return 0;
		}
	}
	return fail(err, errlen, "%s: invalid value '%.200s' (expected %s)", who, v, o->arg);
}

/* Append each comma-separated entry of v to the trusted-proxy list. */
static int
apply_list(struct config *c, const char *who, const char *v, char *err, size_t errlen)
{
	const char *cursor = v, *p;
	size_t n;

	while (util_list_next(&cursor, &p, &n)) {
		char *slot;

		if (n == 0)
			return fail(err, errlen, "%s: empty entry in '%.200s'", who, v);
		if (c->n_trusted_proxy >= CONFIG_MAX_TRUSTED_PROXIES)
			return fail(err, errlen, "%s: more than %d entries", who, CONFIG_MAX_TRUSTED_PROXIES);
		slot = c->trusted_proxy[c->n_trusted_proxy];
		if (n >= CONFIG_TRUSTED_PROXY_LEN)
			return fail(err, errlen, "%s: entry too long in '%.200s'", who, v);
		memcpy(slot, p, n);
		slot[n] = '\0';
		if (check_trusted_proxy(slot) < 0)
			return fail(err, errlen,
				    "%s: invalid value '%s' (expected loopback, private, "
				    "an IP address or a CIDR)",
				    who, slot);
		c->n_trusted_proxy++;
	}
	return 0;
}

/* Append the rules of v to the policy at o->off. */
static int
apply_policy(struct config *c, const struct opt *o, const char *who, const char *v, char *err, size_t errlen)
{
	struct forward_policy *p = (struct forward_policy *)(void *)((char *)c + o->off);
	char why[256];

	if (forward_policy_parse(p, v, why, sizeof(why)) < 0)
		return fail(err, errlen, "%s: %s", who, why);
	return 0;
}

/* Apply value v (NULL: a boolean flag without "=value") of option o. */
static int
apply(struct config *c, const struct opt *o, const char *v, int from_env, char *err, size_t errlen)
{
	char who[ENV_NAME_MAX];
	int b;

	opt_who(o, from_env, who, sizeof(who));
	switch (o->type) {
	case OPT_STRING: return apply_string(c, o, who, v, err, errlen);
	case OPT_UINT:
	case OPT_SIZE:
	case OPT_DURATION: return apply_number(c, o, who, v, err, errlen);
	case OPT_BOOL:
		if (v == NULL)
			b = 1;
		else if (parse_bool(v, &b) < 0)
			return fail(err, errlen,
				    "%s: invalid value '%.200s' (expected 1, 0, true, "
				    "false, yes or no)",
				    who, v);
		*(int *)(void *)((char *)c + o->off) = b;
		return 0;
	case OPT_ENUM: return apply_enum(c, o, who, v, err, errlen);
	case OPT_LIST: return apply_list(c, who, v, err, errlen);
	case OPT_POLICY: return apply_policy(c, o, who, v, err, errlen);
	default: return 0;
	}
}

/* ---- the three passes ----------------------------------------------------- */

/*
 * Decode argv[*i] (and its value, which may be argv[*i + 1]) into *o and
 * *v, advancing *i past them. 0 or -1 with err set.
 */
static int
next_arg(int argc, char **argv, int *i, const struct opt **o, const char **v, char *err, size_t errlen)
{
	const char *s = argv[*i], *eq;
	size_t len;

	if (strcmp(s, "-h") == 0)
		s = "--help";
	else if (strcmp(s, "-V") == 0)
		s = "--version";
	if (strncmp(s, "--", 2) != 0 || s[2] == '\0' || s[2] == '=')
		return fail(err, errlen, "unexpected argument '%.200s' (see --help)", s);
	eq = strchr(s + 2, '=');
	len = eq ? (size_t)(eq - s - 2) : strlen(s + 2);
	*o = find_flag(s + 2, len);
	if (*o == NULL)
		return fail(err, errlen, "unknown flag '--%.*s' (see --help)", (int)UTIL_MIN(len, 200),
			    s + 2);
	(*i)++;
	*v = eq ? eq + 1 : NULL;
	if ((*o)->type == OPT_ACTION && eq != NULL)
		return fail(err, errlen, "--%s takes no value", (*o)->name);
	if ((*o)->type == OPT_ACTION || (*o)->type == OPT_BOOL || eq != NULL)
		return 0;
	if (*i >= argc)
		return fail(err, errlen, "--%s: missing value", (*o)->name);
	*v = argv[(*i)++];
	return 0;
}

/* Pass 1: syntax, which flags are given, --help/--version. */
static int
scan_argv(int argc, char **argv, unsigned char *given, char *err, size_t errlen)
{
	const struct opt *o;
	const char *v;
	int i = 1;

	while (i < argc) {
		if (next_arg(argc, argv, &i, &o, &v, err, errlen) < 0)
			return -1;
		if (o->type == OPT_ACTION)
			return o->action;
		given[o - opts] = 1;
	}
	return 0;
}

/* Pass 2: HOODY_TUNNEL_* variables of the flags not given. Names that
 * match no flag are left to envcheck (main warns about them). */
static int
apply_env(struct config *c, char **envp, const unsigned char *given, char *err, size_t errlen)
{
	size_t plen = strlen(CONFIG_ENV_PREFIX);

	for (; envp != NULL && *envp != NULL; envp++) {
		const char *e = *envp, *eq = strchr(e, '=');
		const struct opt *o;

		if (eq == NULL || strncmp(e, CONFIG_ENV_PREFIX, plen) != 0)
			continue;
		o = find_env(e + plen, (size_t)(eq - e) - plen);
		if (o == NULL || given[o - opts] || eq[1] == '\0')
			continue;
		if (apply(c, o, eq + 1, 1, err, errlen) < 0)
			return -1;
		c->from_env |= (uint64_t)1 << (o - opts);
	}
	return 0;
}

/* Pass 3: the command line, in order. Syntax was checked by pass 1. */
static int
apply_argv(struct config *c, int argc, char **argv, char *err, size_t errlen)
{
	const struct opt *o;
	const char *v;
	int i = 1;

	while (i < argc) {
		if (next_arg(argc, argv, &i, &o, &v, err, errlen) < 0)
			return -1;
		if (apply(c, o, v, 0, err, errlen) < 0)
			return -1;
		c->from_argv |= (uint64_t)1 << (o - opts);
	}
	return 0;
}

/* ---- whole-config checks -------------------------------------------------- */

/* read() all of fd into p[0..cap), plus one probe byte to detect a longer
 * file: the byte count (cap + 1 meaning "longer"), or -errno. */
static ssize_t
read_capped(int fd, char *p, size_t cap)
{
	size_t n = 0;
	char probe;
	ssize_t r;

	for (;;) {
		r = n < cap ? read(fd, p + n, cap - n) : read(fd, &probe, 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r == 0)
			return (ssize_t)n;
		if (n >= cap)
			return (ssize_t)cap + 1;
		n += (size_t)r;
	}
}

/*
 * Read the token file `path` (named `flag` in errors: "--token-file",
 * "credential 'token'") into buf, which holds CONFIG_TOKEN_MAX + 2 bytes,
 * and point *dst at it.
 */
static int
read_token_file(const char *flag, const char *path, char *buf, const char **dst, char *err, size_t errlen)
{
	const char *why = NULL;
	char who[ENV_NAME_MAX + 220];
	ssize_t r;
	size_t n;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return fail(err, errlen, "%s: cannot read '%.200s': %s", flag, path, strerror(errno));
	r = read_capped(fd, buf, CONFIG_TOKEN_MAX + 2); /* token and "\r\n" */
	close(fd);
	if (r < 0)
		return fail(err, errlen, "%s: cannot read '%.200s': %s", flag, path, strerror((int)-r));
	n = (size_t)r;
	if (n > CONFIG_TOKEN_MAX + 2)
		why = "holds a token that is too long";
	while (why == NULL && n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
		n--;
	if (why == NULL && n == 0)
		why = "is empty";
	else if (why == NULL && n > CONFIG_TOKEN_MAX)
		why = "holds a token that is too long";
	else if (why == NULL && check_secret(buf, n) < 0)
		why = "holds characters other than printable ASCII on one line";
	if (why != NULL) {
		util_wipe(buf, CONFIG_TOKEN_MAX + 2);
		return fail(err, errlen, "%s: '%.200s' %s", flag, path, why);
	}
	if (n < CONFIG_TOKEN_MIN) {
		util_wipe(buf, CONFIG_TOKEN_MAX + 2);
		snprintf(who, sizeof(who), "%s '%.200s'", flag, path);
		return token_too_short(who, n, err, errlen);
	}
	buf[n] = '\0';
	*dst = buf;
	return 0;
}

/* The checks between fields; each message names the settings as they were given. */
static int
check_whole(struct config *c, char *err, size_t errlen)
{
	char a[ENV_NAME_MAX], b[2 * ENV_NAME_MAX];

	if (c->token != NULL && c->token_file != NULL)
		return fail(err, errlen, "%s and %s are mutually exclusive",
			    config_name(c, "token", a, sizeof(a)),
			    config_name(c, "token-file", b, sizeof(b)));
	if (c->stream_initial_window > c->session_initial_window)
		return fail(err, errlen, "%s (%lu bytes) must not exceed %s (%lu bytes)",
			    config_name(c, "stream-initial-window", a, sizeof(a)),
			    (unsigned long)c->stream_initial_window,
			    config_name(c, "session-initial-window", b, sizeof(b)),
			    (unsigned long)c->session_initial_window);
	if (c->ping_interval_ms >= c->pong_timeout_ms)
		return fail(err, errlen, "%s (%llu ms) must be shorter than %s (%llu ms)",
			    config_name(c, "ping-interval", a, sizeof(a)),
			    (unsigned long long)c->ping_interval_ms,
			    config_name(c, "pong-timeout", b, sizeof(b)),
			    (unsigned long long)c->pong_timeout_ms);
	if ((c->tls_cert == NULL) != (c->tls_key == NULL))
		return fail(err, errlen, "%s needs %s too (a certificate chain and its key)",
			    config_name(c, c->tls_cert ? "tls-cert" : "tls-key", a, sizeof(a)),
			    both_names(c->tls_cert ? "tls-key" : "tls-cert", b, sizeof(b)));
	if (c->vhost_listen != NULL && c->domain == NULL)
		return fail(err, errlen, "%s needs %s (the names it routes are NAME.DOMAIN)",
			    config_name(c, "vhost-listen", a, sizeof(a)), both_names("domain", b, sizeof(b)));
	if (c->admin_token != NULL && c->admin_token_file != NULL)
		return fail(err, errlen, "%s and %s are mutually exclusive",
			    config_name(c, "admin-token", a, sizeof(a)),
			    config_name(c, "admin-token-file", b, sizeof(b)));
	if (c->token_file != NULL && read_token_file(config_name(c, "token-file", a, sizeof(a)),
						     c->token_file, c->token_buf, &c->token, err, errlen) < 0)
		return -1;
	if (c->admin_token_file != NULL)
		return read_token_file(config_name(c, "admin-token-file", a, sizeof(a)), c->admin_token_file,
				       c->admin_token_buf, &c->admin_token, err, errlen);
	return 0;
}

/* The value of name in envp ("NAME=value"), or NULL. */
static const char *
env_value(char **envp, const char *name)
{
	size_t n = strlen(name);

	for (; envp != NULL && *envp != NULL; envp++)
		if (strncmp(*envp, name, n) == 0 && (*envp)[n] == '=')
			return *envp + n + 1;
	return NULL;
}

/*
 * What systemd hands over: the token from $CREDENTIALS_DIRECTORY/token
 * (LoadCredential=token:...) when no flag or variable gave one, and
 * $STATE_DIRECTORY/token as the default --token-store (the first
 * directory when several are listed).
 */
static int
apply_systemd(struct config *c, char **envp, char *err, size_t errlen)
{
	const char *cred = env_value(envp, "CREDENTIALS_DIRECTORY"),
		   *state = env_value(envp, "STATE_DIRECTORY");

	if (c->token_store == NULL && state != NULL && *state == '/') {
		snprintf(c->store_path, sizeof(c->store_path), "%.*s/token", (int)strcspn(state, ":"), state);
		c->token_store = c->store_path;
	}
	if (c->token != NULL || cred == NULL || *cred != '/')
		return 0;
	snprintf(c->cred_path, sizeof(c->cred_path), "%s/token", cred);
	if (access(c->cred_path, F_OK) < 0)
		return 0;
	c->token_file = c->cred_path;
	c->token_cred = c->cred_path;
	return read_token_file("credential 'token'", c->cred_path, c->token_buf, &c->token, err, errlen);
}

/* HOODY_TUNNEL_CRYPTO, the one variable with no flag: which AES-GCM code TLS runs. */
static int
apply_crypto(struct config *c, char **envp, char *err, size_t errlen)
{
	const char *v = env_value(envp, TLS_CRYPTO_ENV);

	if (tls_crypto_parse(v, &c->crypto) == 0)
		return 0;
	return fail(err, errlen, "%s: invalid value '%s' (expected auto or bearssl)", TLS_CRYPTO_ENV, v);
}

/* ---- public ------------------------------------------------------------- */

/* see config.h */
void
config_defaults(struct config *c)
{
	size_t i;
	int rc;

	memset(c, 0, sizeof(*c));
	/* Every default goes through the same parser as a flag, so the value
	 * and the --help text cannot disagree; test_config checks each one. */
	for (i = 0; i < N_OPTS; i++) {
		if (opts[i].def == NULL)
			continue;
		rc = apply(c, &opts[i], opts[i].def, 0, NULL, 0);
		assert(rc == 0);
		(void)rc;
	}
	c->kill_grace_default_ms = CONFIG_KILL_GRACE_DEFAULT_MS;
}

/* see config.h */
int
config_load(struct config *c, int argc, char **argv, char **envp, char *err, size_t errlen)
{
	unsigned char given[N_OPTS];
	const struct opt *tok = find_flag("token", 5), *tokf = find_flag("token-file", 10);
	const struct opt *atok = find_flag("admin-token", 11), *atokf = find_flag("admin-token-file", 16);
	int rc;

	memset(given, 0, sizeof(given));
	if (err != NULL && errlen > 0)
		err[0] = '\0';
	rc = scan_argv(argc, argv, given, err, errlen);
	if (rc != 0)
		return rc;
	/* --token and --token-file are one setting: either on the command
	 * line overrides both variables. */
	if (given[tok - opts] || given[tokf - opts])
		given[tok - opts] = given[tokf - opts] = 1;
	if (given[atok - opts] || given[atokf - opts])
		given[atok - opts] = given[atokf - opts] = 1;
	if (apply_env(c, envp, given, err, errlen) < 0 || apply_crypto(c, envp, err, errlen) < 0 ||
	    apply_argv(c, argc, argv, err, errlen) < 0 || check_whole(c, err, errlen) < 0)
		return -1;
	return apply_systemd(c, envp, err, errlen);
}

/* see config.h */
const char *
config_name(const struct config *c, const char *flag, char *buf, size_t cap)
{
	const struct opt *o = find_flag(flag, strlen(flag));

	if (cap == 0)
		return buf;
	if (o == NULL)
		snprintf(buf, cap, "--%s", flag);
	else
		opt_who(o, (c->from_env >> (o - opts)) & 1, buf, cap);
	return buf;
}

/* see config.h */
int
config_from_argv(const struct config *c, const char *flag)
{
	const struct opt *o = find_flag(flag, strlen(flag));

	return o != NULL && ((c->from_argv >> (o - opts)) & 1);
}

/* see config.h */
const char *const *
config_env_names(void)
{
	static char names[N_OPTS][ENV_NAME_MAX];
	static const char *list[N_OPTS + UTIL_ARRAY_SIZE(env_extra) + 1];
	size_t i, n = 0;

	if (list[0] != NULL)
		return list;
	for (i = 0; i < N_OPTS; i++) {
		if (opts[i].type == OPT_ACTION)
			continue;
		env_name(&opts[i], names[n], sizeof(names[n]));
		list[n] = names[n];
		n++;
	}
	for (i = 0; i < UTIL_ARRAY_SIZE(env_extra); i++)
		list[n++] = env_extra[i];
	list[n] = NULL;
	return list;
}

/* see config.h */
void
config_usage(FILE *out)
{
	char env[ENV_NAME_MAX];
	size_t i;

	fprintf(out, "Usage: hoody-tunnel [FLAGS]\n\n"
		     "Reverse-tunnel daemon: EXPOSE and PULL bindings over one WebSocket.\n"
		     "Every flag may also be set as HOODY_TUNNEL_<FLAG> (dashes become underscores,\n"
		     "e.g. HOODY_TUNNEL_MAX_SESSIONS=16); a flag on the command line wins. Unknown\n"
		     "HOODY_TUNNEL_* variables are warned about at start-up (with a close known name).\n"
		     "Both --flag VALUE and --flag=VALUE work; booleans take =1/0/true/false/yes/no.\n"
		     "Sizes take B, K, KiB, M, MiB, G, GiB; durations ms, s, m, h (bare number: s).\n");
	for (i = 0; i < N_OPTS; i++) {
		const struct opt *o = &opts[i];

		if (o->section != NULL)
			fprintf(out, "\n%s:\n", o->section);
		fprintf(out, "  --%s%s%s\n      %s\n", o->name, o->arg ? " " : "", o->arg ? o->arg : "",
			o->help);
		if (o->type == OPT_ACTION)
			continue;
		env_name(o, env, sizeof(env));
		fprintf(out, "      ");
		if (o->def != NULL || o->def_note != NULL)
			fprintf(out, "[default: %s] ", o->def != NULL ? o->def : o->def_note);
		fprintf(out, "env %s\n", env);
	}
	fprintf(out,
		"\nEnvironment only:\n"
		"  %s=auto|bearssl\n"
		"      bearssl: TLS runs BearSSL's own AES-GCM code instead of ours (VAES,\n"
		"      VPCLMULQDQ, PCLMULQDQ where the CPU has them) [default: auto]\n",
		TLS_CRYPTO_ENV);
}

/* see config.h */
void
config_version(FILE *out)
{
	fprintf(out, "hoody-tunnel %s\n", HT_VERSION);
}

/* see config.h */
void
config_fini(struct config *c)
{
	int own = c->token == c->token_buf, own_admin = c->admin_token == c->admin_token_buf;

	util_wipe(c->token_buf, sizeof(c->token_buf));
	util_wipe(c->admin_token_buf, sizeof(c->admin_token_buf));
	if (own)
		c->token = NULL;
	if (own_admin)
		c->admin_token = NULL;
}
