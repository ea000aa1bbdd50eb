/*
 * cmd_tunnel.c: `htc pull`, `htc expose` and `htc up`: build the bindings
 * from the command line, run the client, print the session, one line per
 * binding and a live log of connections.
 */
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frame.h"
#include "client.h"
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

static void
ev_session(struct client *c, const char *id)
{
	(void)c;
	printf("session %s\n", id);
}

static void
ev_bound(struct client *c, struct client_binding *b)
{
	char local[URL_HOST_MAX + 16];

	(void)c;
	url_local_format(&b->local, local, sizeof(local));
	if (b->kind == CLIENT_PULL)
		printf("container %s:%u -> %s\n", b->bind_v6 ? "[::1]" : "127.0.0.1", b->port, local);
	else if (b->public_url[0])
		printf("%s -> %s\n", b->public_url, local);
	else
		printf("container port %u -> %s\n", b->port, local);
}

static void
ev_bind_error(struct client *c, struct client_binding *b)
{
	(void)c;
	print_err("bind refused: %s: %s", b->err_code, b->err_msg);
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

static const struct client_events events = {
	.on_state = ev_state,
	.on_session = ev_session,
	.on_bound = ev_bound,
	.on_bind_error = ev_bind_error,
	.on_stream_open = ev_stream_open,
	.on_stream_close = ev_stream_close,
	.on_goaway = ev_goaway,
	.on_request = ev_request,
};

/* ---- argument parsing ------------------------------------------------------ */

static int
run(struct htc_opts *o, struct client *c)
{
	unsigned i;

	if (o->token == NULL) {
		print_err("no token: use --token, --token-file or HOODY_TUNNEL_TOKEN");
		return HTC_EXIT_USAGE;
	}
	for (i = 0; i < c->nbinds; i++)
		if (resolve_local(&c->binds[i]) < 0)
			return HTC_EXIT_FAIL;
	setvbuf(stdout, NULL, _IOLBF, 0);
	c->o = o;
	c->ev = &events;
	return client_run(c);
}

/* The value of an option given as "--name V" or "--name=V"; NULL if argv[*i] is not it. */
static const char *
opt_value(int argc, char **argv, int *i, const char *name, int *missing)
{
	size_t n = strlen(name);

	if (strncmp(argv[*i], name, n) != 0)
		return NULL;
	if (argv[*i][n] == '=')
		return argv[*i] + n + 1;
	if (argv[*i][n] != '\0')
		return NULL;
	if (*i + 1 >= argc) {
		*missing = 1;
		return NULL;
	}
	return argv[++*i];
}

/* --basic-auth USER:PASSWORD, or :PASSWORD for any user. */
static int
basic_auth(struct client_binding *b, const char *v)
{
	static char user[128];
	const char *colon = strchr(v, ':');

	if (colon == NULL || colon[1] == '\0' || (size_t)(colon - v) >= sizeof(user)) {
		print_err("--basic-auth: expected USER:PASSWORD (or :PASSWORD for any user)");
		return -1;
	}
	memcpy(user, v, (size_t)(colon - v));
	user[colon - v] = '\0';
	b->basic_user = user[0] ? user : NULL;
	b->basic_pass = colon + 1;
	return 0;
}

/* pull and expose share one shape: a local spec and a few options. */
static int
cmd_single(struct htc_opts *o, int argc, char **argv, enum client_bind_kind kind)
{
	static struct client c;
	struct client_binding *b = &c.binds[0];
	const char *spec = NULL, *v, *err;
	int i, port_given = 0;

	memset(&c, 0, sizeof(c));
	b->kind = kind;
	for (i = 0; i < argc; i++) {
		int missing = 0;

		if ((v = opt_value(argc, argv, &i, "--port", &missing)) != NULL) {
			if (url_parse_port(v, 1, &b->container_port) < 0) {
				print_err("--port: not a port: %s", v);
				return HTC_EXIT_USAGE;
			}
			port_given = 1;
		} else if (kind == CLIENT_PULL &&
			   (v = opt_value(argc, argv, &i, "--bind-host", &missing)) != NULL) {
			if (strcmp(v, "::1") != 0 && strcmp(v, "127.0.0.1") != 0) {
				print_err("--bind-host: must be 127.0.0.1 or ::1");
				return HTC_EXIT_USAGE;
			}
			b->bind_v6 = strcmp(v, "::1") == 0;
		} else if (kind == CLIENT_EXPOSE && strcmp(argv[i], "--takeover") == 0) {
			b->takeover = 1;
		} else if (kind == CLIENT_EXPOSE && strcmp(argv[i], "--cluster") == 0) {
			b->cluster = 1;
		} else if (kind == CLIENT_EXPOSE &&
			   (v = opt_value(argc, argv, &i, "--subdomain", &missing)) != NULL) {
			b->subdomain = v;
		} else if (kind == CLIENT_EXPOSE &&
			   (v = opt_value(argc, argv, &i, "--basic-auth", &missing)) != NULL) {
			if (basic_auth(b, v) < 0)
				return HTC_EXIT_USAGE;
		} else if (missing) {
			print_err("%s needs a value", argv[i]);
			return HTC_EXIT_USAGE;
		} else if (argv[i][0] == '-' && argv[i][1] != '\0') {
			print_err("unknown option: %s", argv[i]);
			return HTC_EXIT_USAGE;
		} else if (spec == NULL) {
			spec = argv[i];
		} else {
			print_err("unexpected argument: %s", argv[i]);
			return HTC_EXIT_USAGE;
		}
	}
	if (spec == NULL) {
		print_err("missing [HOST:]PORT of the local service");
		return HTC_EXIT_USAGE;
	}
	if (url_parse_local(&b->local, spec, &err) < 0) {
		print_err("%s: %s", spec, err);
		return HTC_EXIT_USAGE;
	}
	if (!port_given)
		b->container_port = b->local.port;
	if (kind == CLIENT_EXPOSE && b->basic_pass == NULL && getenv("HTC_BASIC_AUTH") != NULL &&
	    basic_auth(b, getenv("HTC_BASIC_AUTH")) < 0)
		return HTC_EXIT_USAGE;
	c.nbinds = 1;
	return run(o, &c);
}

/* see htc.h */
int
cmd_pull(struct htc_opts *o, int argc, char **argv)
{
	return cmd_single(o, argc, argv, CLIENT_PULL);
}

/* see htc.h */
int
cmd_expose(struct htc_opts *o, int argc, char **argv)
{
	return cmd_single(o, argc, argv, CLIENT_EXPOSE);
}

/* see htc.h */
int
cmd_up(struct htc_opts *o, int argc, char **argv)
{
	static struct client c;
	int i;

	memset(&c, 0, sizeof(c));
	for (i = 0; i < argc; i++) {
		int missing = 0, expose = 0;
		const char *v = opt_value(argc, argv, &i, "--pull", &missing), *err;
		struct url_map m;
		struct client_binding *b;

		if (v == NULL && !missing && (v = opt_value(argc, argv, &i, "--expose", &missing)) != NULL)
			expose = 1;
		if (v == NULL) {
			print_err(missing ? "%s needs [CONTAINER:]LOCAL" : "unexpected argument: %s",
				  argv[i]);
			return HTC_EXIT_USAGE;
		}
		if (c.nbinds == CLIENT_MAX_BINDINGS) {
			print_err("at most %d bindings", CLIENT_MAX_BINDINGS);
			return HTC_EXIT_USAGE;
		}
		if (url_parse_map(&m, v, &err) < 0) {
			print_err("%s: %s", v, err);
			return HTC_EXIT_USAGE;
		}
		b = &c.binds[c.nbinds++];
		b->kind = expose ? CLIENT_EXPOSE : CLIENT_PULL;
		b->container_port = m.container_port;
		b->local = m.local;
	}
	if (c.nbinds == 0) {
		print_err("nothing to do: give --expose or --pull");
		return HTC_EXIT_USAGE;
	}
	return run(o, &c);
}
