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
 */
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frame.h"
#include "bindargs.h"
#include "client.h"
#include "conf.h"
#include "fwd.h"
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

static void
ev_session(struct client *c, const char *id)
{
	(void)c;
	if (session_deferred)
		snprintf(session_later, sizeof(session_later), "%s", id);
	else
		printf("session %s\n", id);
}

/* An EXPOSE without a public URL: say once how to get one. */
static void
no_url_hint(const struct client *c)
{
	static int said;

	if (said || c->o->quiet)
		return;
	said = 1;
	printf("no public URL: the daemon prints one when started with --public-url-pattern "
	       "(e.g. 'https://{port}.example.com'); visitors reach the container port meanwhile\n");
}

static void
ev_bound(struct client *c, struct client_binding *b)
{
	char local[URL_HOST_MAX + 16];

	(void)c;
	url_local_format(&b->local, local, sizeof(local));
	if (b->host_route) {
		printf("subdomain: %s\n", b->route[0] ? b->route : b->subdomain);
		printf("public: %s\n", b->public_url[0] ? b->public_url : "-");
	} else if (b->kind == CLIENT_PULL) {
		printf("container %s:%u -> %s\n", b->bind_v6 ? "[::1]" : "127.0.0.1", b->port, local);
	} else if (b->public_url[0]) {
		printf("%s -> %s\n", b->public_url, local);
	} else {
		printf("container port %u -> %s\n", b->port, local);
		no_url_hint(c);
	}
	if (session_later[0]) {
		printf("session %s\n", session_later);
		session_later[0] = '\0';
	}
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
		printf("opened stream %u from %s\n", sid, peer);
}

static void
ev_stream_close(struct client *c, uint32_t sid, uint64_t in, uint64_t out, unsigned reset)
{
	if (c->o->quiet)
		return;
	if (reset)
		printf("closed stream %u (in %llu B, out %llu B, reset %s)\n", sid, (unsigned long long)in,
		       (unsigned long long)out, frame_code_name(reset));
	else
		printf("closed stream %u (in %llu B, out %llu B)\n", sid, (unsigned long long)in,
		       (unsigned long long)out);
}

/* One line per EXPOSE request: "GET /api/items 200 3ms 1234 B" ("-" when no status was sent). */
static void
ev_request(struct client *c, const char *method, const char *target, int status, uint64_t ms,
	   uint64_t bytes_out)
{
	char st[16] = "-";

	if (c->o->quiet)
		return;
	if (status > 0)
		snprintf(st, sizeof(st), "%d", status);
	printf("%s %s %s %llums %llu B\n", method, target, st, (unsigned long long)ms,
	       (unsigned long long)bytes_out);
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
	printf("%s\n", line);
}

/* The local listeners of forward, socks and up (none for the other commands). */
static struct fwd fwds;

static void
ev_loop_start(struct client *c)
{
	fwd_start(&fwds, c);
}

static void
ev_loop_end(struct client *c)
{
	(void)c;
	fwd_stop(&fwds);
}

static const struct client_events events = {
	.on_state = ev_state,
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

/* ---- argument parsing ------------------------------------------------------ */

/* Open the listeners of specs[0..n) and print a line for each. 0 or -1 (printed). */
static int
listen_all(const struct url_forward *specs, unsigned n)
{
	char line[URL_HOST_MAX * 2 + 96];
	unsigned i;

	if (fwd_listen(&fwds, specs, n) < 0)
		return -1;
	for (i = 0; i < fwds.n; i++) {
		fwd_describe(&fwds.ls[i], line, sizeof(line));
		printf("%s\n", line);
	}
	return 0;
}

/* Run the client with c's bindings and the listeners of specs[0..n). */
static int
run(struct htc_opts *o, struct client *c, const struct url_forward *specs, unsigned n)
{
	unsigned i;

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
	c->o = o;
	c->ev = &events;
	return client_run(c);
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
