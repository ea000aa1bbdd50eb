/*
 * bindargs.c: the bindings of the tunnel commands from their arguments and
 * the environment (see bindargs.h). One pass over argv collects what was
 * written; the environment fills what was not; then every value is checked.
 */
#include "bindargs.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "print.h"
#include "url.h"

/* What the command line of pull, expose or http said. */
struct single {
	const char *spec;      /* [HOST:]PORT */
	const char *port;      /* --port */
	const char *subdomain; /* --subdomain */
	const char *mode;      /* --mode */
	const char *auth;      /* --basic-auth */
	/* where each came from: the flag, or its variable */
	const char *subdomain_from, *mode_from, *auth_from;
	char *err; /* where the reason of a refusal goes; NULL: printed */
};

/* Refuse: the reason into err[0..BINDARGS_ERR_MAX), or printed when err is NULL. Returns -1. */
__attribute__((format(printf, 2, 3))) static int
fail(char *err, const char *fmt, ...)
{
	char line[BINDARGS_ERR_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err != NULL ? err : line, BINDARGS_ERR_MAX, fmt, ap);
	va_end(ap);
	if (err == NULL)
		print_err("%s", line);
	return -1;
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

/* $name, or NULL when unset or empty. */
static const char *
env(const char *name)
{
	const char *v = getenv(name);

	return v != NULL && *v != '\0' ? v : NULL;
}

/* see bindargs.h */
int
bindargs_mode(const char *s, int *cluster)
{
	if (s != NULL && strcmp(s, "single") == 0)
		*cluster = 0;
	else if (s != NULL && strcmp(s, "cluster") == 0)
		*cluster = 1;
	else
		return -1;
	return 0;
}

/* USER:PASSWORD, or :PASSWORD for any user, from `from` into b. 0 or -1 (told to err). */
static int
basic_auth(struct client_binding *b, const char *v, const char *from, char *err)
{
	const char *colon = strchr(v, ':');

	if (colon == NULL || colon[1] == '\0' || (size_t)(colon - v) >= sizeof(b->basic_user))
		return fail(err, "%s: expected USER:PASSWORD (or :PASSWORD for any user)", from);
	memcpy(b->basic_user, v, (size_t)(colon - v));
	b->basic_user[colon - v] = '\0';
	b->basic_pass = colon + 1;
	return 0;
}

/* A subdomain from `from` into b, a host route. 0 or -1 (told to err). */
static int
subdomain(struct client_binding *b, const char *v, const char *from, char *err)
{
	const char *why;

	if (url_parse_subdomain(b->subdomain, v, &why) < 0)
		return fail(err, "%s: '%s': %s", from, v, why);
	b->host_route = 1;
	return 0;
}

/* A flag of cmd at argv[*i] into b or s: 1 taken, 0 not one of cmd's flags, -1 value missing. */
static int
take_flag(struct client_binding *b, struct single *s, enum bindargs_cmd cmd, int argc, char **argv, int *i)
{
	int missing = 0, tcp = cmd == BINDARGS_PULL;
	const char *v;

	if (cmd != BINDARGS_HTTP && (v = opt_value(argc, argv, i, "--port", &missing)) != NULL)
		s->port = v;
	else if (tcp && !missing && (v = opt_value(argc, argv, i, "--bind-host", &missing)) != NULL)
		b->bind_v6 = strcmp(v, "::1") == 0 ? 1 : strcmp(v, "127.0.0.1") == 0 ? 0 : -1;
	else if (!tcp && !missing && (v = opt_value(argc, argv, i, "--subdomain", &missing)) != NULL)
		s->subdomain = v;
	else if (!tcp && !missing && (v = opt_value(argc, argv, i, "--basic-auth", &missing)) != NULL)
		s->auth = v;
	else if (cmd == BINDARGS_HTTP && !missing &&
		 (v = opt_value(argc, argv, i, "--mode", &missing)) != NULL)
		s->mode = v;
	else if (!tcp && !missing && strcmp(argv[*i], "--takeover") == 0)
		b->takeover = 1;
	else if (cmd == BINDARGS_EXPOSE && !missing && strcmp(argv[*i], "--cluster") == 0)
		b->cluster = 1;
	else
		return missing ? -1 : 0;
	return 1;
}

/* One pass over argv into b and s. 0 or -1 (told to s->err). */
static int
scan(struct client_binding *b, struct single *s, enum bindargs_cmd cmd, int argc, char **argv)
{
	int i, rc;

	for (i = 0; i < argc; i++) {
		if ((rc = take_flag(b, s, cmd, argc, argv, &i)) > 0)
			continue;
		if (rc < 0)
			return fail(s->err, "%s needs a value", argv[i]);
		if (argv[i][0] == '-' && argv[i][1] != '\0')
			return fail(s->err, "unknown option: %s", argv[i]);
		if (s->spec != NULL)
			return fail(s->err, "unexpected argument: %s", argv[i]);
		s->spec = argv[i];
	}
	if (b->bind_v6 < 0)
		return fail(s->err, "--bind-host: must be 127.0.0.1 or ::1");
	return 0;
}

/* *v, else $var into *v (then *from is var). */
static void
or_env(const char **v, const char **from, const char *var)
{
	if (*v == NULL && (*v = env(var)) != NULL)
		*from = var;
}

/* The environment fills what the command line left out (when use_env is set). */
static void
from_env(struct single *s, enum bindargs_cmd cmd, int use_env)
{
	s->subdomain_from = "--subdomain";
	s->mode_from = "--mode";
	s->auth_from = "--basic-auth";
	if (!use_env)
		return;
	if (cmd != BINDARGS_PULL)
		or_env(&s->auth, &s->auth_from, "HTC_BASIC_AUTH");
	if (cmd == BINDARGS_HTTP) {
		or_env(&s->subdomain, &s->subdomain_from, "HTC_SUBDOMAIN");
		or_env(&s->mode, &s->mode_from, "HTC_MODE");
	}
}

/* The local [HOST:]PORT and the container port. 0 or -1 (told to s->err). */
static int
apply_ports(struct client_binding *b, const struct single *s)
{
	const char *why;

	if (s->spec == NULL)
		return fail(s->err, "missing [HOST:]PORT of the local service");
	if (url_parse_local(&b->local, s->spec, &why) < 0)
		return fail(s->err, "%s: %s", s->spec, why);
	b->container_port = b->local.port;
	if (s->port != NULL && url_parse_port(s->port, 1, &b->container_port) < 0)
		return fail(s->err, "--port: not a port: %s", s->port);
	return 0;
}

/* Check the values of s into b. 0 or -1 (told to s->err). */
static int
apply(struct client_binding *b, const struct single *s, enum bindargs_cmd cmd)
{
	if (apply_ports(b, s) < 0)
		return -1;
	b->host_route = cmd == BINDARGS_HTTP;
	if (s->subdomain != NULL && subdomain(b, s->subdomain, s->subdomain_from, s->err) < 0)
		return -1;
	if (b->host_route && s->port != NULL)
		return fail(s->err,
			    "--port and --subdomain exclude each other: a host route has no container port");
	if (s->mode != NULL && bindargs_mode(s->mode, &b->cluster) < 0)
		return fail(s->err, "%s: expected single or cluster, not '%s'", s->mode_from, s->mode);
	if (b->host_route)
		b->container_port = 0;
	return s->auth != NULL ? basic_auth(b, s->auth, s->auth_from, s->err) : 0;
}

/* bindargs_single(), with the environment when use_env is set, the reason of a refusal into err (or printed).
 */
static int
single(struct client_binding *b, enum bindargs_cmd cmd, int argc, char **argv, int use_env, char *err)
{
	struct single s;

	memset(b, 0, sizeof(*b));
	memset(&s, 0, sizeof(s));
	s.err = err;
	b->kind = cmd == BINDARGS_PULL ? CLIENT_PULL : CLIENT_EXPOSE;
	if (scan(b, &s, cmd, argc, argv) < 0)
		return -1;
	from_env(&s, cmd, use_env);
	return apply(b, &s, cmd);
}

/* see bindargs.h */
int
bindargs_single(struct client_binding *b, enum bindargs_cmd cmd, int argc, char **argv)
{
	return single(b, cmd, argc, argv, 1, NULL);
}

/* see bindargs.h */
int
bindargs_tunnel(struct client_binding *b, enum bindargs_cmd cmd, int argc, char **argv,
		char err[BINDARGS_ERR_MAX])
{
	return single(b, cmd, argc, argv, 0, err);
}

/* One --expose, --pull or --http value into b. 0 or -1 (printed). */
static int
up_binding(struct client_binding *b, const char *opt, const char *v)
{
	const char *err;
	struct url_route r;
	struct url_map m;

	memset(b, 0, sizeof(*b));
	if (strcmp(opt, "--http") == 0) {
		if (url_parse_route(&r, v, &err) < 0) {
			print_err("--http %s: %s", v, err);
			return -1;
		}
		b->kind = CLIENT_EXPOSE;
		b->host_route = 1;
		memcpy(b->subdomain, r.subdomain, sizeof(b->subdomain));
		b->local = r.local;
		return 0;
	}
	if (url_parse_map(&m, v, &err) < 0) {
		print_err("%s %s: %s", opt, v, err);
		return -1;
	}
	b->kind = strcmp(opt, "--expose") == 0 ? CLIENT_EXPOSE : CLIENT_PULL;
	b->container_port = m.container_port;
	b->local = m.local;
	return 0;
}

/* One --forward or --socks value (socks: a listening address only) into f. 0 or -1 (told to err). */
static int
forward_spec(struct url_forward *f, int socks, const char *opt, const char *v, char *err)
{
	const char *why;

	if (socks) {
		memset(f, 0, sizeof(*f));
		f->socks = true;
		if (url_parse_listen(&f->listen, v, &why) == 0)
			return 0;
	} else if (url_parse_forward(f, v, &why) == 0) {
		return 0;
	}
	return fail(err, "%s%s%s: %s", opt, *opt ? " " : "", v, why);
}

/* bindargs_forward(), the reason of a refusal into err (or printed). */
static int
forward_args(struct url_forward *f, int socks, int argc, char **argv, char *err)
{
	const char *form = socks ? "[LHOST:]LPORT" : "[LHOST:]LPORT:RHOST:RPORT";

	if (argc == 0)
		return fail(err, "missing %s", form);
	if (argv[0][0] == '-' && argv[0][1] != '\0')
		return fail(err, "unknown option: %s", argv[0]);
	if (argc > 1)
		return fail(err, "unexpected argument: %s", argv[1]);
	return forward_spec(f, socks, "", argv[0], err);
}

/* see bindargs.h */
int
bindargs_forward(struct url_forward *f, int socks, int argc, char **argv)
{
	return forward_args(f, socks, argc, argv, NULL);
}

/* see bindargs.h */
int
bindargs_listener(struct url_forward *f, int socks, int argc, char **argv, char err[BINDARGS_ERR_MAX])
{
	return forward_args(f, socks, argc, argv, err);
}

/* The options of `htc up`, in the order of opts[] below. */
enum up_opt { UP_EXPOSE, UP_PULL, UP_HTTP, UP_FORWARD, UP_SOCKS, UP_OPT_MAX };

/* One option of `up` with its value v into binds or fw. 0 or -1 (printed). */
static int
up_one(struct client_binding *binds, unsigned max, unsigned *n, struct bindargs_forwards *fw, enum up_opt k,
       const char *opt, const char *v)
{
	if (k == UP_FORWARD || k == UP_SOCKS) {
		if (fw->n == fw->max) {
			print_err("at most %u forwards and SOCKS listeners", fw->max);
			return -1;
		}
		if (forward_spec(&fw->v[fw->n], k == UP_SOCKS, opt, v, NULL) < 0)
			return -1;
		fw->n++;
		return 0;
	}
	if (*n == max) {
		print_err("at most %u bindings", max);
		return -1;
	}
	if (up_binding(&binds[*n], opt, v) < 0)
		return -1;
	(*n)++;
	return 0;
}

/* see bindargs.h */
int
bindargs_up(struct client_binding *binds, unsigned max, unsigned *n, struct bindargs_forwards *fw, int argc,
	    char **argv)
{
	static const char *const opts[UP_OPT_MAX] = { "--expose", "--pull", "--http", "--forward",
						      "--socks" };
	static const char *const forms[UP_OPT_MAX] = { "[CONTAINER:]LOCAL", "[CONTAINER:]LOCAL",
						       "[NAME=]LOCAL", "[LHOST:]LPORT:RHOST:RPORT",
						       "[LHOST:]LPORT" };
	int i;

	for (*n = 0, fw->n = 0, i = 0; i < argc; i++) {
		const char *v = NULL;
		int missing = 0;
		size_t k;

		for (k = 0; k < UP_OPT_MAX && v == NULL && !missing; k++)
			v = opt_value(argc, argv, &i, opts[k], &missing);
		if (v == NULL) {
			if (missing)
				print_err("%s needs %s", argv[i], forms[k - 1]);
			else
				print_err("unexpected argument: %s", argv[i]);
			return -1;
		}
		if (up_one(binds, max, n, fw, (enum up_opt)(k - 1), opts[k - 1], v) < 0)
			return -1;
	}
	if (*n == 0 && fw->n == 0) {
		print_err("nothing to do: give --expose, --http, --pull, --forward or --socks");
		return -1;
	}
	return 0;
}
