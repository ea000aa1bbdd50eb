/*
 * cmd_tunnel.c: `htc pull`, `htc expose`, `htc http`, `htc up`, `htc
 * forward` and `htc socks`: build the bindings and local listeners from
 * the command line (bindargs.c), run the client, print one line per
 * listener (fwd.c), the session, one line per binding (two for a host
 * route: "subdomain:" and "public:") and a live log of connections.
 *
 * `htc http` prints its two route lines first, as Proxer does: the session
 * line waits until the route is bound.
 *
 * `htc up` adds the [tunnel NAME] sections of the config file it names (all
 * of them when it is given no name and no flag) to the bindings of its
 * flags.
 *
 * With an EXPOSE binding, the request inspector (inspect.h) runs beside the
 * tunnel unless --no-inspect: its exchanges captured (capture.h), its
 * address printed once the first binding is bound, after that binding's
 * lines ("inspect: http://127.0.0.1:4040"), so the lines scripts read
 * first stay where they were. When it
 * cannot listen, one line says so and the tunnel runs without it.
 */
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "frame.h"
#include "bindargs.h"
#include "capture.h"
#include "client.h"
#include "conf.h"
#include "console.h"
#include "fwd.h"
#include "inspect.h"
#include "net.h"
#include "htc.h"
#include "print.h"
#include "url.h"

/* Resolve a local target once, at start-up. 0 or -1 (message printed). */
static int
resolve_local(struct client_binding *b)
{
	struct addrinfo hints, *res = NULL;
	char port[8];
	int rc;

	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	snprintf(port, sizeof(port), "%u", b->local.port);
	rc = getaddrinfo(b->local.host, port, &hints, &res);
	if (rc != 0 || res == NULL) {
		print_err("cannot resolve %s: %s", b->local.host, gai_strerror(rc));
		return -1;
	}
	memcpy(&b->addr, res->ai_addr, res->ai_addrlen);
	b->addr_len = res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
}

/* ---- events --------------------------------------------------------------- */

/* `htc http`: the session id, printed after the route lines; "" once printed. */
static char session_later[64];
static int session_deferred;

/* The local listeners of forward, socks and up (none for the other commands). */
static struct fwd fwds;

/* The request inspector and what it shows (insp.fd < 0: none). */
static struct inspect insp = { .fd = -1 };
static struct capture captured;
static int inspect_said; /* its address was printed (after the first binding's lines) */

/* Redraws the terminal view's totals and follows its size. */
static struct reactor_timer refresh_timer;
#define REFRESH_MS 500

static void
ev_session(struct client *c, const char *id)
{
	(void)c;
	if (console_mode() != CONSOLE_LINES)
		console_session(id);
	else if (session_deferred)
		snprintf(session_later, sizeof(session_later), "%s", id);
	else
		console_info("session", "session %s", id);
}

/* An EXPOSE without a public URL: say once how to get one. */
static void
no_url_hint(const struct client *c)
{
	static int said;

	if (said || c->o->quiet)
		return;
	said = 1;
	console_info("hint",
		     "no public URL: the daemon prints one when started with --public-url-pattern "
		     "(e.g. 'https://{port}.example.com'); visitors reach the container port meanwhile");
}

/* "3000", "demo": how the log names binding b. */
static void
binding_label(const struct client_binding *b, char *out, size_t cap)
{
	if (b->host_route)
		snprintf(out, cap, "%s", b->route[0] ? b->route : b->subdomain);
	else
		snprintf(out, cap, "%u", b->port ? b->port : b->container_port);
}

/* The block's row of b, and in JSON its "bound" event. */
static void
show_row(struct client *c, const struct client_binding *b, const char *local)
{
	char from[320], name[URL_SUBDOMAIN_MAX + 8];
	struct console_row row = { b->kind == CLIENT_PULL ? "tcp" : "http", name, from, local };

	binding_label(b, name, sizeof(name));
	if (b->public_url[0])
		snprintf(from, sizeof(from), "%s", b->public_url);
	else if (b->host_route)
		snprintf(from, sizeof(from), "subdomain %s", name);
	else if (b->kind == CLIENT_PULL)
		snprintf(from, sizeof(from), "container %s:%u", b->bind_v6 ? "[::1]" : "127.0.0.1", b->port);
	else
		snprintf(from, sizeof(from), "container port %u", b->port);
	console_row((unsigned)(b - c->binds), &row);
}

/* The start-up lines of b (plain lines only: the view and JSON show the row). */
static void
say_bound(const struct client_binding *b, const char *local)
{
	if (b->host_route) {
		console_info("bound", "subdomain: %s", b->route[0] ? b->route : b->subdomain);
		console_info("bound", "public: %s", b->public_url[0] ? b->public_url : "-");
	} else if (b->kind == CLIENT_PULL) {
		console_info("bound", "container %s:%u -> %s", b->bind_v6 ? "[::1]" : "127.0.0.1", b->port,
			     local);
	} else if (b->public_url[0]) {
		console_info("bound", "public: %s -> %s", b->public_url, local);
	} else {
		console_info("bound", "container port %u -> %s", b->port, local);
	}
	if (session_later[0]) {
		console_info("session", "session %s", session_later);
		session_later[0] = '\0';
	}
}

static void
ev_bound(struct client *c, struct client_binding *b)
{
	char local[URL_HOST_MAX + 16];

	url_local_format(&b->local, local, sizeof(local));
	show_row(c, b, local);
	if (console_mode() == CONSOLE_LINES)
		say_bound(b, local);
	if (c->cap != NULL && !inspect_said) {
		inspect_said = 1;
		console_info("inspect", "inspect: %s", insp.url);
	}
	if (b->kind == CLIENT_EXPOSE && !b->host_route && !b->public_url[0])
		no_url_hint(c);
}

/* "bind port 3000 refused: PORT_IN_USE: ...", "bind subdomain demo refused: ...": one line. */
static void
ev_bind_error(struct client *c, struct client_binding *b)
{
	char what[URL_SUBDOMAIN_MAX + 16];

	(void)c;
	if (!b->host_route)
		snprintf(what, sizeof(what), "port %u", b->port ? b->port : b->container_port);
	else if (b->route[0] || b->subdomain[0])
		snprintf(what, sizeof(what), "subdomain %s", b->route[0] ? b->route : b->subdomain);
	else
		snprintf(what, sizeof(what), "a random subdomain");
	print_err("bind %s refused: %s: %s%s", what, b->err_code[0] ? b->err_code : "?", b->err_msg,
		  strcmp(b->err_code, "PORT_IN_USE") == 0 ? " (--port 0 lets the daemon pick a free port)"
							  : "");
}

static void
ev_stream_open(struct client *c, struct client_binding *b, uint32_t sid, const char *peer)
{
	(void)b;
	if (!c->o->quiet)
		console_stream_open(sid, peer);
}

static void
ev_stream_close(struct client *c, uint32_t sid, uint64_t in, uint64_t out, unsigned reset)
{
	if (!c->o->quiet)
		console_stream_close(sid, in, out, reset ? frame_code_name(reset) : NULL);
}

/* One line per EXPOSE request: "12:04:05.123 GET /api/items 200 3ms 1234 B". */
static void
ev_request(struct client *c, const struct client_request *rq)
{
	char name[URL_SUBDOMAIN_MAX + 8];
	struct console_request cr = {
		NULL, rq->method, rq->target, rq->status, rq->ms, rq->bytes_out, rq->why
	};

	if (c->o->quiet)
		return;
	if (rq->b != NULL && c->nbinds > 1) {
		binding_label(rq->b, name, sizeof(name));
		cr.binding = name;
	}
	console_request(&cr);
}

static void
ev_goaway(struct client *c, unsigned code, const char *reason)
{
	(void)c;
	print_err("server closing the session: %s%s%s", frame_code_name(code), *reason ? ": " : "", reason);
}

static void
ev_state(struct client *c, const char *line)
{
	(void)c;
	console_log("state", "%s", line);
}

/* The session's state as the status block shows it. */
static void
ev_link(struct client *c, enum client_state st)
{
	static int was_online;

	(void)c;
	switch (st) {
	case CLIENT_HELLO:
	case CLIENT_BINDING: console_link(was_online ? CONSOLE_RECONNECTING : CONSOLE_CONNECTING); break;
	case CLIENT_READY:
		was_online = 1;
		console_link(CONSOLE_ONLINE);
		break;
	case CLIENT_RECONNECTING: console_link(CONSOLE_RECONNECTING); break;
	default: console_link(CONSOLE_CLOSED); break;
	}
}

static void
ev_rtt(struct client *c, uint64_t us)
{
	(void)c;
	console_rtt(us);
}

static void
on_refresh(struct reactor *r, struct reactor_timer *t)
{
	(void)r;
	(void)t;
	console_refresh();
}

/* The listeners' rows: "forward 127.0.0.1:8080 -> db:5432 (in the container)". */
static void
show_listeners(const struct client *c)
{
	char from[NET_ADDR_STRLEN] = "?", to[URL_HOST_MAX + 32];
	unsigned i;

	for (i = 0; i < fwds.n; i++) {
		const struct fwd_listener *l = &fwds.ls[i];
		struct console_row row = { l->spec.socks ? "socks" : "forward", NULL, from, to };

		net_format_addr((const struct sockaddr *)&l->addr, from, sizeof(from));
		if (l->spec.socks) {
			snprintf(to, sizeof(to), "SOCKS5, names resolved in the container");
		} else {
			url_forward_format(&l->spec, to, sizeof(to) - 20);
			strcat(to, " (in the container)");
		}
		console_row(c->nbinds + i, &row);
	}
}

static void
ev_loop_start(struct client *c)
{
	fwd_start(&fwds, c);
	if (c->cap != NULL)
		inspect_start(&insp, c, c->cap);
	show_listeners(c);
	if (console_mode() == CONSOLE_VIEW) {
		reactor_timer_init(&refresh_timer, on_refresh);
		reactor_timer_start(&c->r, &refresh_timer, REFRESH_MS, REFRESH_MS);
	}
}

static void
ev_loop_end(struct client *c)
{
	if (console_mode() == CONSOLE_VIEW)
		reactor_timer_stop(&c->r, &refresh_timer);
	inspect_stop(&insp);
	fwd_stop(&fwds);
}

/* on_rtt is set for the terminal view only (it alone shows the round trip). */
static struct client_events events = {
	.on_state = ev_state,
	.on_link = ev_link,
	.on_session = ev_session,
	.on_bound = ev_bound,
	.on_bind_error = ev_bind_error,
	.on_stream_open = ev_stream_open,
	.on_stream_close = ev_stream_close,
	.on_goaway = ev_goaway,
	.on_request = ev_request,
	.on_loop_start = ev_loop_start,
	.on_loop_end = ev_loop_end,
};

/* How the console shows this run: --log-format, the terminal, --quiet. */
static enum console_mode
pick_mode(const struct htc_opts *o)
{
	const char *term = getenv("TERM");

	if (o->log_json)
		return CONSOLE_JSON;
	if (o->tty && !o->quiet && (term == NULL || strcmp(term, "dumb") != 0))
		return CONSOLE_VIEW;
	return CONSOLE_LINES;
}

/* ---- argument parsing ------------------------------------------------------ */

/* Open the listeners of specs[0..n). 0 or -1 (printed). */
static int
listen_all(const struct url_forward *specs, unsigned n)
{
	return fwd_listen(&fwds, specs, n);
}

/* The start-up line of each listener ("forward: 127.0.0.1:8080 -> ..."), plain lines only. */
static void
say_listeners(void)
{
	char line[URL_HOST_MAX * 2 + 96];
	unsigned i;

	if (console_mode() != CONSOLE_LINES)
		return;
	for (i = 0; i < fwds.n; i++) {
		fwd_describe(&fwds.ls[i], line, sizeof(line));
		console_info("listen", "%s", line);
	}
}

/*
 * Start the inspector when c has an EXPOSE binding and it is wanted: c->cap
 * set and its address printed, or one line saying why not.
 */
static void
inspect_setup(const struct htc_opts *o, struct client *c)
{
	char err[160];
	unsigned i;

	for (i = 0; i < c->nbinds && c->binds[i].kind != CLIENT_EXPOSE; i++)
		;
	if (o->no_inspect || i == c->nbinds)
		return;
	if (inspect_open(&insp, o->inspect_addr, err, sizeof(err)) < 0) {
		print_err("inspect: %s; going on without the inspector", err);
		return;
	}
	if (capture_init(&captured, o->inspect_requests, o->inspect_body) < 0) {
		inspect_close(&insp);
		print_err("inspect: out of memory; going on without the inspector");
		return;
	}
	c->cap = &captured;
}

/* Run the client with c's bindings and the listeners of specs[0..n). */
static int
run(struct htc_opts *o, struct client *c, const struct url_forward *specs, unsigned n)
{
	enum console_mode mode;
	unsigned i;
	int rc;

	if (o->token == NULL) {
		print_err("no token: use --token, --token-file, HOODY_TUNNEL_TOKEN or htc login");
		return HTC_EXIT_USAGE;
	}
	for (i = 0; i < c->nbinds; i++)
		if (resolve_local(&c->binds[i]) < 0)
			return HTC_EXIT_FAIL;
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (listen_all(specs, n) < 0)
		return HTC_EXIT_FAIL;
	mode = console_open(pick_mode(o), stdout, STDOUT_FILENO, o->url, c->nbinds + fwds.n, o->bold);
	say_listeners();
	inspect_setup(o, c);
	c->o = o;
	events.on_rtt = mode == CONSOLE_VIEW ? ev_rtt : NULL;
	c->ev = &events;
	rc = client_run(c);
	inspect_close(&insp);
	c->cap = NULL;
	capture_fini(&captured);
	console_close();
	return rc;
}

/* pull, expose and http: one binding. */
static int
cmd_single(struct htc_opts *o, int argc, char **argv, enum bindargs_cmd cmd)
{
	static struct client c;

	memset(&c, 0, sizeof(c));
	if (bindargs_single(&c.binds[0], cmd, argc, argv) < 0)
		return HTC_EXIT_USAGE;
	c.nbinds = 1;
	session_deferred = c.binds[0].host_route;
	return run(o, &c, NULL, 0);
}

/* see htc.h */
int
cmd_pull(struct htc_opts *o, int argc, char **argv)
{
	return cmd_single(o, argc, argv, BINDARGS_PULL);
}

/* see htc.h */
int
cmd_expose(struct htc_opts *o, int argc, char **argv)
{
	return cmd_single(o, argc, argv, BINDARGS_EXPOSE);
}

/* see htc.h */
int
cmd_http(struct htc_opts *o, int argc, char **argv)
{
	return cmd_single(o, argc, argv, BINDARGS_HTTP);
}

/* A tunnel of the config file into c's bindings or fw's listeners. 0 or -1 (printed). */
static int
up_add(struct client *c, struct bindargs_forwards *fw, const struct conf_tunnel *t)
{
	if (t->kind == CONF_FORWARD || t->kind == CONF_SOCKS) {
		if (fw->n == fw->max) {
			print_err("at most %u forwards and SOCKS listeners", fw->max);
			return -1;
		}
		fw->v[fw->n++] = t->fwd;
		return 0;
	}
	if (c->nbinds == CLIENT_MAX_BINDINGS) {
		print_err("at most %u bindings", CLIENT_MAX_BINDINGS);
		return -1;
	}
	c->binds[c->nbinds++] = t->bind;
	return 0;
}

/* The config file's tunnel called name. NULL after printing why. */
static const struct conf_tunnel *
up_find(const struct htc_opts *o, const char *name)
{
	const struct conf_tunnel *t = o->conf != NULL ? conf_find(o->conf, name) : NULL;
	char names[256];

	if (t != NULL)
		return t;
	if (o->conf == NULL)
		print_err("no tunnel '%s': there is no config file%s%s", name, o->conf_path ? " at " : "",
			  o->conf_path ? o->conf_path : "");
	else
		print_err("no tunnel '%s' in %s (it has: %s)", name, o->conf_path,
			  o->conf->ntunnels ? conf_names(o->conf, names, sizeof(names)) : "none");
	return NULL;
}

/* The tunnels of the config file named in names[0..n), or all of them when all is set. 0 or -1 (printed). */
static int
up_conf(const struct htc_opts *o, struct client *c, struct bindargs_forwards *fw, char **names, int n,
	int all)
{
	const struct conf_tunnel *t;
	unsigned i;
	int k, j;

	for (i = 0; all && o->conf != NULL && i < o->conf->ntunnels; i++)
		if (up_add(c, fw, &o->conf->tunnels[i]) < 0)
			return -1;
	for (k = 0; k < n; k++) {
		for (j = 0; j < k; j++)
			if (strcmp(names[j], names[k]) == 0) {
				print_err("tunnel '%s' named twice", names[k]);
				return -1;
			}
		if ((t = up_find(o, names[k])) == NULL || up_add(c, fw, t) < 0)
			return -1;
	}
	return 0;
}

/* up's words: tunnel names into names[0..*nn), flags with their values into flags[0..*nf). */
static void
up_split(int argc, char **argv, char **names, int *nn, char **flags, int *nf)
{
	int i;

	*nn = *nf = 0;
	for (i = 0; i < argc; i++) {
		if (argv[i][0] != '-') {
			names[(*nn)++] = argv[i];
			continue;
		}
		flags[(*nf)++] = argv[i];
		if (strchr(argv[i], '=') == NULL && i + 1 < argc) /* every flag of up takes a value */
			flags[(*nf)++] = argv[++i];
	}
}

/* The bindings and listeners of `up` into c and fw: flags, then named tunnels. 0 or -1 (printed). */
static int
up_gather(const struct htc_opts *o, struct client *c, struct bindargs_forwards *fw, int argc, char **argv)
{
	char **names = calloc(2 * ((size_t)argc + 1), sizeof(*names)), **flags;
	int nn, nf, rc = -1;

	if (names == NULL) {
		print_err("out of memory");
		return -1;
	}
	flags = names + argc + 1;
	up_split(argc, argv, names, &nn, flags, &nf);
	if ((nf == 0 || bindargs_up(c->binds, CLIENT_MAX_BINDINGS, &c->nbinds, fw, nf, flags) == 0) &&
	    up_conf(o, c, fw, names, nn, nn == 0 && nf == 0) == 0)
		rc = 0;
	free(names);
	if (rc == 0 && c->nbinds == 0 && fw->n == 0) {
		print_err("nothing to do: give --expose, --http, --pull, --forward or --socks, or write "
			  "[tunnel "
			  "NAME] sections in %s",
			  o->conf_path ? o->conf_path : "the config file");
		rc = -1;
	}
	return rc;
}

/* see htc.h */
int
cmd_up(struct htc_opts *o, int argc, char **argv)
{
	static struct client c;
	static struct url_forward specs[FWD_MAX];
	struct bindargs_forwards fw = { specs, FWD_MAX, 0 };

	memset(&c, 0, sizeof(c));
	if (up_gather(o, &c, &fw, argc, argv) < 0)
		return HTC_EXIT_USAGE;
	return run(o, &c, specs, fw.n);
}

/* forward and socks: one listener, no binding. */
static int
cmd_listener(struct htc_opts *o, int argc, char **argv, int socks)
{
	static struct client c;
	static struct url_forward spec;

	memset(&c, 0, sizeof(c));
	if (bindargs_forward(&spec, socks, argc, argv) < 0)
		return HTC_EXIT_USAGE;
	return run(o, &c, &spec, 1);
}

/* see htc.h */
int
cmd_forward(struct htc_opts *o, int argc, char **argv)
{
	return cmd_listener(o, argc, argv, 0);
}

/* see htc.h */
int
cmd_socks(struct htc_opts *o, int argc, char **argv)
{
	return cmd_listener(o, argc, argv, 1);
}
