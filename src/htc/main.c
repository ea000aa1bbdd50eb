/*
 * main.c: htc's entry point. Reads the global options (from anywhere on
 * the command line) and the environment into one struct htc_opts, finds
 * the subcommand in a table of entries that carry their own usage text
 * (tmux style), and hands it the rest of the arguments.
 *
 * The command line is walked once. A word that is a global option is taken
 * (with its value: "--url X" or "--url=X"), the first other word is the
 * command, everything else goes to the command in order. The values of the
 * command's own options (listed in its entry) are passed on untouched, so
 * "--subdomain --json" gives the subdomain "--json". After "--" nothing is
 * taken as a global option any more.
 *
 * The config file (conf_file.h) fills what neither the command line nor
 * the environment gave: url, the token, ca-file; its tunnels go to `up`.
 *
 * Not here: the commands themselves (cmd_tunnel.c, cmd_admin.c,
 * cmd_login.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "capture.h"
#include "conf.h"
#include "conf_file.h"
#include "envcheck.h"
#include "htc.h"
#include "tlsio.h"
#include "print.h"
#include "tls.h"
#include "util.h"

extern char **environ;

struct cmd_entry {
	const char *name;
	const char *usage;             /* arguments, after "htc NAME " */
	const char *summary;           /* one line for the command list */
	const char *details;           /* option lines for "htc help NAME", or NULL */
	const char *const *value_opts; /* its options that take a separate value */
	int (*exec)(struct htc_opts *o, int argc, char **argv);
};

static const char *const expose_values[] = { "--port", "--subdomain", "--basic-auth", NULL };
static const char *const http_values[] = { "--subdomain", "--mode", "--basic-auth", NULL };
static const char *const pull_values[] = { "--port", "--bind-host", NULL };
static const char *const up_values[] = { "--expose", "--http", "--pull", "--forward", "--socks", NULL };
static const char *const kill_values[] = { "--grace-ms", NULL };

static const struct cmd_entry cmd_table[] = {
	{ "http", "[HOST:]PORT [--subdomain NAME|@] [--mode single|cluster] [--basic-auth U:P] [--takeover]",
	  "publish a local HTTP/WebSocket service on NAME.DOMAIN (host-routed)",
	  "  --subdomain NAME  route Host NAME.DOMAIN here (\"@\": DOMAIN itself;\n"
	  "                    default: a random px-... name, kept while htc runs)\n"
	  "  --mode M          single (default) or cluster: several clients share NAME\n"
	  "  --basic-auth U:P  visitors must send these Basic credentials (:P: any user)\n"
	  "  --takeover        take NAME over from the session that holds it\n"
	  "environment: HTC_SUBDOMAIN, HTC_MODE, HTC_BASIC_AUTH (flags win)\n",
	  http_values, cmd_http },
	{ "expose", "[HOST:]PORT [--port N|0] [--takeover] [--basic-auth U:P] [--cluster]",
	  "publish a local HTTP/WebSocket service on a container port",
	  "  --port N          container port (default: the local port; 0: the daemon picks one)\n"
	  "  --takeover        take the port over from the session that holds it\n"
	  "  --basic-auth U:P  visitors must send these Basic credentials (env HTC_BASIC_AUTH)\n"
	  "  --cluster         share the port with other sessions (round-robin)\n"
	  "  --subdomain S     same as htc http --subdomain S (no --port then)\n",
	  expose_values, cmd_expose },
	{ "pull", "[HOST:]PORT [--port N|0] [--bind-host 127.0.0.1|::1]",
	  "make a local TCP service reachable on the container's loopback",
	  "  --port N          container port (default: the local port; 0: the daemon picks one)\n"
	  "  --bind-host A     container loopback address to listen on (127.0.0.1 or ::1)\n",
	  pull_values, cmd_pull },
	{ "forward", "[LHOST:]LPORT:RHOST:RPORT",
	  "reach RHOST:RPORT inside the container from a local port (like ssh -L)",
	  "  LHOST             local address to listen on (default 127.0.0.1; IPv6 in brackets)\n"
	  "  LPORT             local port (0: the system picks one)\n"
	  "  RHOST:RPORT       target as seen from the container: a name (resolved there)\n"
	  "                    or an address (IPv6 in brackets)\n"
	  "the daemon must allow it: hoody-tunnel --forward-allow\n",
	  NULL, cmd_forward },
	{ "socks", "[LHOST:]LPORT", "a local SOCKS5/4a proxy whose connections start inside the container",
	  "  LHOST             local address to listen on (default 127.0.0.1; IPv6 in brackets)\n"
	  "  LPORT             local port (0: the system picks one)\n"
	  "CONNECT only, no authentication; names are resolved in the container\n"
	  "(curl --socks5-hostname). The daemon must allow it: hoody-tunnel --forward-allow\n",
	  NULL, cmd_socks },
	{ "up",
	  "[NAME ...] [--expose [C:]L ...] [--http [NAME=]L ...] [--pull [C:]L ...] [--forward F ...] "
	  "[--socks [H:]P ...]",
	  "several bindings and local listeners over one session",
	  "  NAME              a [tunnel NAME] of the config file; with no NAME and no\n"
	  "                    flag: every tunnel of the file\n"
	  "  --expose [C:]L    container port C (default: L's port) to local [HOST:]PORT L, HTTP\n"
	  "  --http [NAME=]L   host route NAME.DOMAIN (default: a random name) to local L, HTTP\n"
	  "  --pull [C:]L      container loopback port C to local [HOST:]PORT L, TCP\n"
	  "  --forward F       [LHOST:]LPORT:RHOST:RPORT, as htc forward\n"
	  "  --socks [H:]P     a SOCKS proxy on local [LHOST:]LPORT, as htc socks\n"
	  "names and flags add up: htc up web --pull 5432\n",
	  up_values, cmd_up },
	{ "health", "", "show the daemon's health", NULL, NULL, cmd_health },
	{ "list", "", "list sessions with their bindings and totals", NULL, NULL, cmd_list },
	{ "sessions", "", "list sessions with limits and connection counts", NULL, NULL, cmd_sessions },
	{ "bindings", "", "list every binding", NULL, NULL, cmd_bindings },
	{ "metrics", "", "print the Prometheus metrics", NULL, NULL, cmd_metrics },
	{ "kill", "SESSION_ID [--grace-ms N]", "close a session (needs the token)",
	  "  --grace-ms N      let open streams finish for up to N ms (0..5000)\n", kill_values, cmd_kill },
	{ "login", "[--url URL] [--token-file F]", "save the daemon URL and the token in the config file",
	  "  --url URL         the daemon (else HTC_URL, else the file's url is kept)\n"
	  "  --token-file F    the token from F's first line (or --token T); without\n"
	  "                    either, one line is read from standard input\n"
	  "writes url and token into the config file (mode 0600), keeping its tunnels\n",
	  NULL, cmd_login },
	{ "help", "[COMMAND]", "show this help, or a command's", NULL, NULL, NULL },
};

static const char global_help[] =
	"global options (before or after the command):\n"
	"  --url URL         daemon URL (env HTC_URL; default " URL_DEFAULT ")\n"
	"  --token T         tunnel token (env HOODY_TUNNEL_TOKEN)\n"
	"  --token-file F    read the token from the first line of F\n"
	"  --ca-file F       CA bundle for wss:// (default: the system bundle)\n"
	"  --insecure        do not verify the TLS certificate\n"
	"  --connections N   WebSocket connections per session (v2, 1..64)\n"
	"  --json            print the daemon's JSON as received\n"
	"  --quiet           print only errors and what was asked for\n"
	"  --log-format F    text (default: a status view on a terminal, timestamped\n"
	"                    lines otherwise) or json (one object per event)\n"
	"  --inspect ADDR    the request inspector's address (env HTC_INSPECT; default\n"
	"                    127.0.0.1:4040, or the next free port up to 4049)\n"
	"  --no-inspect      no inspector, nothing captured (HTC_INSPECT=off)\n"
	"  --inspect-requests N  exchanges the inspector keeps (default 200)\n"
	"  --inspect-body SIZE   bytes kept of each body (default 64KiB)\n"
	"  -h, --help        show help\n"
	"  --version         show the version\n";

static const char config_help[] = "config file: $HTC_CONFIG, else ~/.config/htc/config: url, token, ca-file\n"
				  "and [tunnel NAME] sections for htc up; flags, then the environment, win\n"
				  "over it. htc login writes url and token there.\n";

static const struct cmd_entry *
cmd_find(const char *name)
{
	size_t i;

	for (i = 0; i < UTIL_ARRAY_SIZE(cmd_table); i++)
		if (strcmp(cmd_table[i].name, name) == 0)
			return &cmd_table[i];
	return NULL;
}

static void
usage_line(FILE *f, const struct cmd_entry *e)
{
	fprintf(f, "usage: htc %s%s%s\n", e->name, *e->usage ? " " : "", e->usage);
}

static void
help_all(FILE *f)
{
	size_t i;

	fputs("usage: htc [global options] COMMAND [arguments]\n\ncommands:\n", f);
	for (i = 0; i < UTIL_ARRAY_SIZE(cmd_table); i++)
		fprintf(f, "  %-9s %s\n", cmd_table[i].name, cmd_table[i].summary);
	fprintf(f, "\n%s\nhtc help COMMAND shows a command's options; man htc has the rest.\n", global_help);
	fprintf(f, "\n%s", config_help);
}

static void
help_cmd(FILE *f, const struct cmd_entry *e)
{
	usage_line(f, e);
	fprintf(f, "%s\n", e->summary);
	if (e->details != NULL)
		fprintf(f, "\n%s", e->details);
}

/* ---- global options ------------------------------------------------------ */

enum gopt {
	GOPT_URL = 0,
	GOPT_TOKEN,
	GOPT_TOKEN_FILE,
	GOPT_CA_FILE,
	GOPT_CONNECTIONS,
	GOPT_INSECURE,
	GOPT_JSON,
	GOPT_QUIET,
	GOPT_LOG_FORMAT,
	GOPT_INSPECT,
	GOPT_NO_INSPECT,
	GOPT_INSPECT_REQUESTS,
	GOPT_INSPECT_BODY,
	GOPT_HELP,
	GOPT_VERSION,
	GOPT_MAX
};

static const struct {
	const char *name;
	int has_value;
} gopts[GOPT_MAX] = {
	[GOPT_URL] = { "--url", 1 },
	[GOPT_TOKEN] = { "--token", 1 },
	[GOPT_TOKEN_FILE] = { "--token-file", 1 },
	[GOPT_CA_FILE] = { "--ca-file", 1 },
	[GOPT_CONNECTIONS] = { "--connections", 1 },
	[GOPT_INSECURE] = { "--insecure", 0 },
	[GOPT_JSON] = { "--json", 0 },
	[GOPT_QUIET] = { "--quiet", 0 },
	[GOPT_LOG_FORMAT] = { "--log-format", 1 },
	[GOPT_INSPECT] = { "--inspect", 1 },
	[GOPT_NO_INSPECT] = { "--no-inspect", 0 },
	[GOPT_INSPECT_REQUESTS] = { "--inspect-requests", 1 },
	[GOPT_INSPECT_BODY] = { "--inspect-body", 1 },
	[GOPT_HELP] = { "--help", 0 },
	[GOPT_VERSION] = { "--version", 0 },
};

/* Everything read from the command line before it is checked. */
struct cmdline {
	const char *val[GOPT_MAX]; /* value of each global option given ("" for flags) */
	const struct cmd_entry *cmd;
	const char *cmd_name; /* as typed, also when unknown */
	int argc;             /* arguments for the command */
	char **argv;          /* argc + 1 entries, NULL-terminated */
};

/* Index of the global option a names ("--url", "--url=x", "-h"), or GOPT_MAX; *eq at '='. */
static enum gopt
gopt_match(const char *a, const char **eq)
{
	size_t i, n;

	*eq = NULL;
	if (strcmp(a, "-h") == 0)
		return GOPT_HELP;
	for (i = 0; i < GOPT_MAX; i++) {
		n = strlen(gopts[i].name);
		if (strncmp(a, gopts[i].name, n) != 0)
			continue;
		if (a[n] == '\0')
			return (enum gopt)i;
		if (a[n] == '=' && gopts[i].has_value) {
			*eq = a + n + 1;
			return (enum gopt)i;
		}
	}
	return GOPT_MAX;
}

static int
is_value_opt(const struct cmd_entry *e, const char *a)
{
	const char *const *v;

	if (e == NULL || e->value_opts == NULL)
		return 0;
	for (v = e->value_opts; *v != NULL; v++)
		if (strcmp(*v, a) == 0)
			return 1;
	return 0;
}

/* Take global option g at argv[*i] (value inline or next). 0, or usage status. */
static int
take_gopt(struct cmdline *c, enum gopt g, const char *eq, int argc, char **argv, int *i)
{
	if (!gopts[g].has_value) {
		c->val[g] = "";
		return 0;
	}
	if (eq == NULL) {
		if (*i + 1 >= argc) {
			print_err("%s needs a value", gopts[g].name);
			return HTC_EXIT_USAGE;
		}
		eq = argv[++*i];
	}
	c->val[g] = eq;
	return 0;
}

/* Split argv into global options, the command and its arguments. 0 or a usage status. */
static int
cmdline_split(struct cmdline *c, int argc, char **argv)
{
	int i, globals = 1;

	for (i = 1; i < argc; i++) {
		const char *a = argv[i], *eq;
		enum gopt g = globals ? gopt_match(a, &eq) : GOPT_MAX;

		if (g != GOPT_MAX) {
			if (take_gopt(c, g, eq, argc, argv, &i) != 0)
				return HTC_EXIT_USAGE;
			continue;
		}
		if (globals && strcmp(a, "--") == 0) {
			globals = 0;
			if (c->cmd_name == NULL)
				continue;
		}
		if (c->cmd_name == NULL) {
			if (a[0] == '-' && globals) {
				print_err("unknown option %s (see htc --help)", a);
				return HTC_EXIT_USAGE;
			}
			c->cmd_name = a;
			c->cmd = cmd_find(a);
			continue;
		}
		c->argv[c->argc++] = argv[i];
		if (globals && is_value_opt(c->cmd, a) && i + 1 < argc)
			c->argv[c->argc++] = argv[++i];
	}
	c->argv[c->argc] = NULL;
	return 0;
}

/* ---- token, URL, numbers -------------------------------------------------- */

static char token_buf[HTC_TOKEN_MAX + 2];

/* 1 when t may go into an Authorization header: visible ASCII only. */
static int
token_valid(const char *t)
{
	for (; *t != '\0'; t++)
		if ((unsigned char)*t < 0x21 || (unsigned char)*t > 0x7e)
			return 0;
	return 1;
}

/* The first line of file path, trailing blanks removed, into token_buf. 0 or -1 (printed, after `from`). */
static int
token_read_file(const char *path, const char *from)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	size_t n = 0;
	ssize_t r;

	if (fd < 0) {
		print_err("%s %s: %s", from, path, strerror(errno));
		return -1;
	}
	while (n < sizeof(token_buf) - 1 && (r = read(fd, token_buf + n, sizeof(token_buf) - 1 - n)) != 0) {
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			print_err("%s %s: %s", from, path, strerror(errno));
			close(fd);
			return -1;
		}
		n += (size_t)r;
	}
	close(fd);
	token_buf[n] = '\0';
	token_buf[strcspn(token_buf, "\n")] = '\0';
	n = strlen(token_buf);
	while (n > 0 && (token_buf[n - 1] == '\r' || token_buf[n - 1] == ' ' || token_buf[n - 1] == '\t'))
		token_buf[--n] = '\0';
	if (n == 0 || n > HTC_TOKEN_MAX) {
		print_err("%s %s: %s", from, path, n == 0 ? "no token in the first line" : "token too long");
		return -1;
	}
	return 0;
}

/*
 * The token of the config file: its token, else the first line of its
 * token-file; not for login, which replaces it. 0 or an exit status.
 */
static int
opts_token_conf(struct htc_opts *o, const struct cmdline *c)
{
	static char from[PATH_MAX + 16];

	if (o->conf == NULL || c->cmd->exec == cmd_login)
		return 0;
	snprintf(from, sizeof(from), "%s: token-file", o->conf_path);
	if (o->conf->set[CONF_TOKEN] != NULL)
		o->token = o->conf->set[CONF_TOKEN];
	else if (o->conf->set[CONF_TOKEN_FILE] == NULL)
		return 0;
	else if (token_read_file(o->conf->set[CONF_TOKEN_FILE], from) < 0)
		return HTC_EXIT_FAIL;
	else
		o->token = token_buf;
	o->token_src = HTC_SRC_FILE;
	return 0;
}

/* Pick the token: --token, --token-file, $HOODY_TUNNEL_TOKEN, the config file. 0 or an exit status. */
static int
opts_token(struct htc_opts *o, const struct cmdline *c)
{
	const char *env = getenv("HOODY_TUNNEL_TOKEN"), *from = "HOODY_TUNNEL_TOKEN";
	int rc;

	if (c->val[GOPT_TOKEN] != NULL && c->val[GOPT_TOKEN_FILE] != NULL) {
		print_err("give either --token or --token-file, not both");
		return HTC_EXIT_USAGE;
	}
	o->token_file = c->val[GOPT_TOKEN_FILE];
	if (c->val[GOPT_TOKEN] != NULL) {
		o->token = c->val[GOPT_TOKEN];
		o->token_src = HTC_SRC_FLAG;
		from = "--token";
	} else if (o->token_file != NULL) {
		if (token_read_file(o->token_file, "--token-file") < 0)
			return HTC_EXIT_FAIL;
		o->token = token_buf;
		o->token_src = HTC_SRC_FLAG;
		from = "--token-file";
	} else if (env != NULL && *env != '\0') {
		o->token = env;
		o->token_src = HTC_SRC_ENV;
	} else if ((rc = opts_token_conf(o, c)) != 0) {
		return rc;
	} else {
		from = o->conf_path;
	}
	if (o->token == NULL)
		return 0;
	if (*o->token == '\0' || strlen(o->token) > HTC_TOKEN_MAX || !token_valid(o->token)) {
		print_err("%s: the token must be 1..%d visible ASCII characters", from, HTC_TOKEN_MAX);
		return HTC_EXIT_USAGE;
	}
	return 0;
}

/*
 * The config file into o->conf (left NULL when there is none). A file named
 * by $HTC_CONFIG must exist, but for login, which creates it. 0 or an exit
 * status.
 */
static int
opts_conf(struct htc_opts *o, const struct cmdline *c)
{
	static char path[PATH_MAX];
	static struct conf conf;
	enum conf_file_origin from = conf_file_path(path, sizeof(path));

	if (from == CONF_FILE_NONE)
		return 0;
	o->conf_path = path;
	switch (conf_file_load(&conf, path, from == CONF_FILE_ENV && c->cmd->exec != cmd_login)) {
	case CONF_FILE_LOADED: o->conf = &conf; return 0;
	case CONF_FILE_MISSING: return 0;
	case CONF_FILE_BAD: break;
	}
	return HTC_EXIT_USAGE;
}

/* The daemon's URL: --url, $HTC_URL, the config file, the default. 0 or an exit status. */
static int
opts_url(struct htc_opts *o, const struct cmdline *c)
{
	const char *env_url = getenv("HTC_URL"), *file_url = o->conf ? o->conf->set[CONF_URL] : NULL;
	const char *from = "--url";

	o->url = URL_DEFAULT;
	if (c->val[GOPT_URL] != NULL) {
		o->url = c->val[GOPT_URL];
		o->url_src = HTC_SRC_FLAG;
	} else if (env_url != NULL && *env_url != '\0') {
		o->url = env_url;
		o->url_src = HTC_SRC_ENV;
		from = "HTC_URL";
	} else if (file_url != NULL) {
		o->url = file_url;
		o->url_src = HTC_SRC_FILE;
		from = o->conf_path;
	}
	if (url_parse(&o->u, o->url) < 0) {
		print_err("%s: %s: '%s'", from, o->u.err, o->url);
		return HTC_EXIT_USAGE;
	}
	return 0;
}

/* The inspector's settings: --inspect, --no-inspect, $HTC_INSPECT, the sizes. 0 or an exit status. */
static int
opts_inspect(struct htc_opts *o, const struct cmdline *c)
{
	const char *env = getenv("HTC_INSPECT");
	uint64_t n;

	o->inspect_requests = CAPTURE_REQUESTS_DEFAULT;
	o->inspect_body = CAPTURE_BODY_DEFAULT;
	if (c->val[GOPT_INSPECT] != NULL && c->val[GOPT_NO_INSPECT] != NULL) {
		print_err("give either --inspect or --no-inspect, not both");
		return HTC_EXIT_USAGE;
	}
	o->inspect_addr = c->val[GOPT_INSPECT];
	o->no_inspect = c->val[GOPT_NO_INSPECT] != NULL;
	if (o->inspect_addr == NULL && !o->no_inspect && env != NULL && *env != '\0') {
		if (strcmp(env, "off") == 0 || strcmp(env, "false") == 0 || strcmp(env, "0") == 0 ||
		    strcmp(env, "no") == 0)
			o->no_inspect = true;
		else
			o->inspect_addr = env;
	}
	if (c->val[GOPT_INSPECT_REQUESTS] != NULL) {
		if (util_parse_uint(c->val[GOPT_INSPECT_REQUESTS], CAPTURE_REQUESTS_MAX, &n) < 0 || n == 0) {
			print_err("--inspect-requests must be 1..%d", CAPTURE_REQUESTS_MAX);
			return HTC_EXIT_USAGE;
		}
		o->inspect_requests = (size_t)n;
	}
	if (c->val[GOPT_INSPECT_BODY] != NULL) {
		if (util_parse_size(c->val[GOPT_INSPECT_BODY], &n) < 0 || n > CAPTURE_BODY_MAX) {
			print_err("--inspect-body must be a size up to 16MiB (0: headers only)");
			return HTC_EXIT_USAGE;
		}
		o->inspect_body = (size_t)n;
	}
	return 0;
}

/* Fill o from the command line, the environment and the config file. 0 or an exit status. */
static int
opts_fill(struct htc_opts *o, const struct cmdline *c)
{
	uint64_t n;
	int rc;

	memset(o, 0, sizeof(*o));
	if ((rc = opts_conf(o, c)) != 0 || (rc = opts_url(o, c)) != 0)
		return rc;
	if ((rc = opts_token(o, c)) != 0)
		return rc;
	o->ca_file = c->val[GOPT_CA_FILE];
	if (o->ca_file == NULL && o->conf != NULL)
		o->ca_file = o->conf->set[CONF_CA_FILE];
	if (c->val[GOPT_CONNECTIONS] != NULL) {
		if (util_parse_uint(c->val[GOPT_CONNECTIONS], HTC_CONNECTIONS_MAX, &n) < 0 || n == 0) {
			print_err("--connections must be 1..%d", HTC_CONNECTIONS_MAX);
			return HTC_EXIT_USAGE;
		}
		o->connections = (int)n;
	}
	o->insecure = c->val[GOPT_INSECURE] != NULL;
	o->json = c->val[GOPT_JSON] != NULL;
	o->quiet = c->val[GOPT_QUIET] != NULL;
	o->tty = isatty(STDOUT_FILENO) != 0;
	o->bold = print_style(STDOUT_FILENO) != 0;
	if (c->val[GOPT_LOG_FORMAT] != NULL) {
		if (strcmp(c->val[GOPT_LOG_FORMAT], "json") != 0 &&
		    strcmp(c->val[GOPT_LOG_FORMAT], "text") != 0) {
			print_err("--log-format must be text or json, not '%s'", c->val[GOPT_LOG_FORMAT]);
			return HTC_EXIT_USAGE;
		}
		o->log_json = strcmp(c->val[GOPT_LOG_FORMAT], "json") == 0;
	}
	if ((rc = opts_inspect(o, c)) != 0)
		return rc;
	tlsio_configure(o->ca_file, o->insecure);
	return 0;
}

/* ---- dispatch ------------------------------------------------------------- */

/* "htc help [COMMAND]". */
static int
run_help(const struct cmdline *c)
{
	const struct cmd_entry *e;

	if (c->argc == 0) {
		help_all(stdout);
		return HTC_EXIT_OK;
	}
	if ((e = cmd_find(c->argv[0])) == NULL) {
		print_err("unknown command '%s' (see htc --help)", c->argv[0]);
		return HTC_EXIT_USAGE;
	}
	help_cmd(stdout, e);
	return HTC_EXIT_OK;
}

static int
run(struct cmdline *c)
{
	struct htc_opts o;
	int rc;

	if (c->val[GOPT_VERSION] != NULL) {
		printf("htc %s\n", HT_VERSION);
		return HTC_EXIT_OK;
	}
	if (c->cmd_name != NULL && c->cmd == NULL) {
		print_err("unknown command '%s' (see htc --help)", c->cmd_name);
		return HTC_EXIT_USAGE;
	}
	if (c->val[GOPT_HELP] != NULL) {
		if (c->cmd == NULL || c->cmd->exec == NULL)
			return run_help(c);
		help_cmd(stdout, c->cmd);
		return HTC_EXIT_OK;
	}
	if (c->cmd == NULL) {
		help_all(stderr);
		return HTC_EXIT_USAGE;
	}
	if (c->cmd->exec == NULL)
		return run_help(c);
	if ((rc = opts_fill(&o, c)) != 0)
		return rc;
	rc = c->cmd->exec(&o, c->argc, c->argv);
	if (rc == HTC_EXIT_USAGE)
		usage_line(stderr, c->cmd);
	return rc;
}

/* ---- environment --------------------------------------------------------- */

/* Every HTC_* variable htc reads (here, in bindargs.c, and HTC_CONFIG, the
 * config file); of HOODY_TUNNEL_* only the token and the TLS crypto switch:
 * the rest is the daemon's, so there only a near miss of these is warned
 * about. */
static const char *const env_htc[] = { "HTC_URL",    "HTC_SUBDOMAIN", "HTC_MODE", "HTC_BASIC_AUTH",
				       "HTC_CONFIG", "HTC_INSPECT",   NULL };
static const char *const env_shared[] = { "HOODY_TUNNEL_TOKEN", TLS_CRYPTO_ENV, NULL };

static void
on_unknown_env(void *arg, const char *msg)
{
	(void)arg;
	print_err("warning: %s", msg);
}

/* One warning per unknown HTC_* variable and per misspelt HOODY_TUNNEL_TOKEN or _CRYPTO. */
static void
warn_unknown_env(void)
{
	static const struct envcheck_family fams[] = {
		{ "HTC_", env_htc, ENVCHECK_ALL },
		{ "HOODY_TUNNEL_", env_shared, ENVCHECK_TYPOS },
	};

	envcheck_scan(environ, fams, UTIL_ARRAY_SIZE(fams), on_unknown_env, NULL);
}

/* HOODY_TUNNEL_CRYPTO: whose AES-GCM code wss:// and https:// run. 0, or -1 (printed). */
static int
crypto_from_env(void)
{
	const char *v = getenv(TLS_CRYPTO_ENV);
	enum tls_crypto_mode mode;

	if (tls_crypto_parse(v, &mode) < 0) {
		print_err("%s: invalid value '%s' (expected auto or bearssl)", TLS_CRYPTO_ENV, v);
		return -1;
	}
	tls_crypto_set_mode(mode);
	return 0;
}

int
main(int argc, char **argv)
{
	struct cmdline c;
	int rc;

	warn_unknown_env();
	(void)util_nofile_raise(); /* one descriptor per visitor's local connection */
	if (crypto_from_env() < 0)
		return HTC_EXIT_USAGE;
	memset(&c, 0, sizeof(c));
	c.argv = calloc((size_t)argc + 1, sizeof(*c.argv));
	if (c.argv == NULL) {
		print_err("out of memory");
		return HTC_EXIT_FAIL;
	}
	rc = cmdline_split(&c, argc, argv);
	if (rc == 0)
		rc = run(&c);
	free(c.argv);
	if (fflush(stdout) != 0 && rc == HTC_EXIT_OK) {
		print_err("writing the output: %s", strerror(errno));
		rc = HTC_EXIT_FAIL;
	}
	return rc;
}
