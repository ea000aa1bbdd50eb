/*
 * test_bindargs.c: the bindings of htc's tunnel commands from their
 * arguments and the environment: `http` (host route, random name, @,
 * lower-casing, --mode, --basic-auth, --takeover), `expose --subdomain` as
 * its alias, `expose` and `pull` as before, HTC_SUBDOMAIN, HTC_MODE and
 * HTC_BASIC_AUTH against their flags (the flag wins, an empty variable is
 * unset), `up --http [NAME=]L` next to --expose and --pull, `up --forward
 * and --socks`, `forward` and `socks`, and the one line printed for each
 * refusal.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "htc/bindargs.h"

#define ARGS_MAX 16

/* What one call printed on stderr. */
static char err_text[1024];

/* Read what fd holds from the start into err_text, then close it. */
static void
slurp(int fd)
{
	ssize_t n = pread(fd, err_text, sizeof(err_text) - 1, 0);

	err_text[n > 0 ? n : 0] = '\0';
	close(fd);
}

/* Split words (space-separated; "" for no argument) into argv. */
static int
split(char *words, char **argv)
{
	int argc = 0;
	char *save = NULL, *w;

	for (w = strtok_r(words, " ", &save); w != NULL && argc < ARGS_MAX - 1;
	     w = strtok_r(NULL, " ", &save))
		argv[argc++] = w;
	argv[argc] = NULL;
	return argc;
}

/* One call: bindargs_up when n is set, else bindargs_single. */
struct call {
	enum bindargs_cmd cmd;
	struct client_binding *b;
	unsigned *n;
	struct url_forward *f; /* bindargs_forward when set (socks: cmd == BINDARGS_PULL) */
};

/* The listeners of the last `up` call. */
static struct url_forward fwd_v[3];
static struct bindargs_forwards fw = { fwd_v, 3, 0 };

/* Make call c on the words of line, with stderr captured into err_text. */
static int
call(const struct call *c, const char *line)
{
	static char words[512];
	char *argv[ARGS_MAX];
	int argc, save, fd, rc;
	FILE *t = tmpfile();

	assert_non_null(t);
	snprintf(words, sizeof(words), "%s", line);
	argc = split(words, argv);
	fd = dup(fileno(t));
	fclose(t);
	fflush(stderr);
	save = dup(2);
	dup2(fd, 2);
	if (c->f != NULL)
		rc = bindargs_forward(c->f, c->cmd == BINDARGS_PULL, argc, argv);
	else if (c->n != NULL)
		rc = bindargs_up(c->b, 4, c->n, &fw, argc, argv);
	else
		rc = bindargs_single(c->b, c->cmd, argc, argv);
	fflush(stderr);
	dup2(save, 2);
	close(save);
	slurp(fd);
	return rc;
}

static int
single(struct client_binding *b, enum bindargs_cmd cmd, const char *line)
{
	struct call c = { cmd, b, NULL, NULL };

	return call(&c, line);
}

static int
up(struct client_binding *binds, unsigned *n, const char *line)
{
	struct call c = { BINDARGS_EXPOSE, binds, n, NULL };

	return call(&c, line);
}

/* `htc forward` (socks 0) or `htc socks` (socks 1). */
static int
forward(struct url_forward *f, int socks, const char *line)
{
	struct call c = { socks ? BINDARGS_PULL : BINDARGS_EXPOSE, NULL, NULL, f };

	return call(&c, line);
}

static int
clear_env(void **state)
{
	(void)state;
	unsetenv("HTC_SUBDOMAIN");
	unsetenv("HTC_MODE");
	unsetenv("HTC_BASIC_AUTH");
	return 0;
}

static void
test_http(void **state)
{
	struct client_binding b;

	(void)state;
	assert_int_equal(single(&b, BINDARGS_HTTP, "3000"), 0);
	assert_int_equal(b.kind, CLIENT_EXPOSE);
	assert_true(b.host_route);
	assert_string_equal(b.subdomain, ""); /* the daemon picks one */
	assert_int_equal(b.container_port, 0);
	assert_int_equal(b.cluster, 0);
	assert_int_equal(b.takeover, 0);
	assert_null(b.basic_pass);
	assert_int_equal(b.local.port, 3000);
	assert_string_equal(b.local.host, "127.0.0.1");
	assert_string_equal(err_text, "");

	assert_int_equal(
		single(&b, BINDARGS_HTTP, "localhost:8080 --subdomain Demo --mode cluster --takeover"), 0);
	assert_string_equal(b.subdomain, "demo");
	assert_string_equal(b.local.host, "localhost");
	assert_int_equal(b.local.port, 8080);
	assert_int_equal(b.cluster, 1);
	assert_int_equal(b.takeover, 1);

	assert_int_equal(single(&b, BINDARGS_HTTP, "--subdomain=@ --mode=single 3000 --basic-auth u:p:q"), 0);
	assert_string_equal(b.subdomain, "@");
	assert_int_equal(b.cluster, 0);
	assert_string_equal(b.basic_user, "u");
	assert_string_equal(b.basic_pass, "p:q");

	assert_int_equal(single(&b, BINDARGS_HTTP, "3000 --basic-auth :secret"), 0);
	assert_string_equal(b.basic_user, "");
	assert_string_equal(b.basic_pass, "secret");
}

static void
test_http_refused(void **state)
{
	struct client_binding b;

	(void)state;
	assert_int_equal(single(&b, BINDARGS_HTTP, "3000 --subdomain Bad_Name"), -1);
	assert_string_equal(
		err_text,
		"htc: --subdomain: 'Bad_Name': subdomain may hold only a-z, 0-9 and '-' (or be @)\n");
	assert_int_equal(single(&b, BINDARGS_HTTP, "3000 --subdomain -x"), -1);
	assert_string_equal(err_text, "htc: --subdomain: '-x': subdomain must not start or end with '-'\n");
	assert_int_equal(single(&b, BINDARGS_HTTP, "3000 --mode Cluster"), -1);
	assert_string_equal(err_text, "htc: --mode: expected single or cluster, not 'Cluster'\n");
	assert_int_equal(single(&b, BINDARGS_HTTP, "3000 --mode"), -1);
	assert_string_equal(err_text, "htc: --mode needs a value\n");
	assert_int_equal(single(&b, BINDARGS_HTTP, "3000 --port 80"), -1);
	assert_string_equal(err_text, "htc: unknown option: --port\n");
	assert_int_equal(single(&b, BINDARGS_HTTP, "3000 --cluster"), -1);
	assert_string_equal(err_text, "htc: unknown option: --cluster\n");
	assert_int_equal(single(&b, BINDARGS_HTTP, "--subdomain demo"), -1);
	assert_string_equal(err_text, "htc: missing [HOST:]PORT of the local service\n");
	assert_int_equal(single(&b, BINDARGS_HTTP, "3000 4000"), -1);
	assert_string_equal(err_text, "htc: unexpected argument: 4000\n");
	assert_int_equal(single(&b, BINDARGS_HTTP, "3000 --basic-auth nocolon"), -1);
	assert_string_equal(err_text,
			    "htc: --basic-auth: expected USER:PASSWORD (or :PASSWORD for any user)\n");
	assert_int_equal(single(&b, BINDARGS_HTTP, "70000"), -1);
	assert_string_equal(err_text, "htc: 70000: port must be 1..65535\n");
}

static void
test_http_env(void **state)
{
	struct client_binding b;

	(void)state;
	setenv("HTC_SUBDOMAIN", "FromEnv", 1);
	setenv("HTC_MODE", "cluster", 1);
	setenv("HTC_BASIC_AUTH", "eu:ep", 1);
	assert_int_equal(single(&b, BINDARGS_HTTP, "3000"), 0);
	assert_string_equal(b.subdomain, "fromenv");
	assert_int_equal(b.cluster, 1);
	assert_string_equal(b.basic_user, "eu");
	assert_string_equal(b.basic_pass, "ep");

	/* flags win over the environment */
	assert_int_equal(single(&b, BINDARGS_HTTP, "3000 --subdomain flag --mode single --basic-auth fu:fp"),
			 0);
	assert_string_equal(b.subdomain, "flag");
	assert_int_equal(b.cluster, 0);
	assert_string_equal(b.basic_user, "fu");
	assert_string_equal(b.basic_pass, "fp");

	/* a bad variable is named in the message, and a good flag hides it */
	setenv("HTC_MODE", "both", 1);
	assert_int_equal(single(&b, BINDARGS_HTTP, "3000"), -1);
	assert_string_equal(err_text, "htc: HTC_MODE: expected single or cluster, not 'both'\n");
	assert_int_equal(single(&b, BINDARGS_HTTP, "3000 --mode cluster"), 0);
	setenv("HTC_SUBDOMAIN", "a.b", 1);
	assert_int_equal(single(&b, BINDARGS_HTTP, "3000 --mode cluster"), -1);
	assert_string_equal(
		err_text, "htc: HTC_SUBDOMAIN: 'a.b': subdomain may hold only a-z, 0-9 and '-' (or be @)\n");
	setenv("HTC_BASIC_AUTH", "x", 1);
	assert_int_equal(single(&b, BINDARGS_HTTP, "3000 --mode cluster --subdomain ok"), -1);
	assert_string_equal(err_text,
			    "htc: HTC_BASIC_AUTH: expected USER:PASSWORD (or :PASSWORD for any user)\n");

	/* empty variables count as unset */
	setenv("HTC_SUBDOMAIN", "", 1);
	setenv("HTC_MODE", "", 1);
	setenv("HTC_BASIC_AUTH", "", 1);
	assert_int_equal(single(&b, BINDARGS_HTTP, "3000"), 0);
	assert_string_equal(b.subdomain, "");
	assert_int_equal(b.cluster, 0);
	assert_null(b.basic_pass);
	clear_env(NULL);
}

static void
test_expose(void **state)
{
	struct client_binding b;

	(void)state;
	assert_int_equal(single(&b, BINDARGS_EXPOSE, "3000"), 0);
	assert_int_equal(b.kind, CLIENT_EXPOSE);
	assert_false(b.host_route);
	assert_int_equal(b.container_port, 3000);

	assert_int_equal(single(&b, BINDARGS_EXPOSE, "8080 --port 0 --cluster --takeover"), 0);
	assert_int_equal(b.container_port, 0);
	assert_int_equal(b.cluster, 1);
	assert_int_equal(b.takeover, 1);

	/* --subdomain: the alias of htc http */
	assert_int_equal(single(&b, BINDARGS_EXPOSE, "3000 --subdomain DEMO --cluster"), 0);
	assert_true(b.host_route);
	assert_string_equal(b.subdomain, "demo");
	assert_int_equal(b.container_port, 0);
	assert_int_equal(b.cluster, 1);
	assert_int_equal(single(&b, BINDARGS_EXPOSE, "3000 --subdomain demo --port 5000"), -1);
	assert_string_equal(
		err_text,
		"htc: --port and --subdomain exclude each other: a host route has no container port\n");
	assert_int_equal(single(&b, BINDARGS_EXPOSE, "3000 --mode cluster"), -1);
	assert_string_equal(err_text, "htc: unknown option: --mode\n");

	/* expose reads HTC_BASIC_AUTH only */
	setenv("HTC_SUBDOMAIN", "demo", 1);
	setenv("HTC_MODE", "cluster", 1);
	setenv("HTC_BASIC_AUTH", "eu:ep", 1);
	assert_int_equal(single(&b, BINDARGS_EXPOSE, "3000"), 0);
	assert_false(b.host_route);
	assert_int_equal(b.cluster, 0);
	assert_string_equal(b.basic_pass, "ep");
	clear_env(NULL);
}

static void
test_pull(void **state)
{
	struct client_binding b;

	(void)state;
	setenv("HTC_BASIC_AUTH", "eu:ep", 1);
	assert_int_equal(single(&b, BINDARGS_PULL, "5432 --bind-host ::1 --port 15432"), 0);
	assert_int_equal(b.kind, CLIENT_PULL);
	assert_int_equal(b.bind_v6, 1);
	assert_int_equal(b.container_port, 15432);
	assert_null(b.basic_pass);
	clear_env(NULL);
	assert_int_equal(single(&b, BINDARGS_PULL, "5432 --bind-host 10.0.0.1"), -1);
	assert_string_equal(err_text, "htc: --bind-host: must be 127.0.0.1 or ::1\n");
	assert_int_equal(single(&b, BINDARGS_PULL, "5432 --subdomain x"), -1);
	assert_string_equal(err_text, "htc: unknown option: --subdomain\n");
	assert_int_equal(single(&b, BINDARGS_PULL, "5432 --port x"), -1);
	assert_string_equal(err_text, "htc: --port: not a port: x\n");
}

static void
test_up(void **state)
{
	struct client_binding bs[4];
	unsigned n = 99;

	(void)state;
	setenv("HTC_SUBDOMAIN", "env", 1);
	assert_int_equal(up(bs, &n, "--expose 3000 --http demo=5000 --pull=5432 --http=localhost:6000"), 0);
	assert_int_equal(n, 4);
	assert_int_equal(bs[0].kind, CLIENT_EXPOSE);
	assert_false(bs[0].host_route);
	assert_int_equal(bs[0].container_port, 3000);
	assert_int_equal(bs[1].kind, CLIENT_EXPOSE);
	assert_true(bs[1].host_route);
	assert_string_equal(bs[1].subdomain, "demo");
	assert_int_equal(bs[1].container_port, 0);
	assert_int_equal(bs[1].local.port, 5000);
	assert_int_equal(bs[2].kind, CLIENT_PULL);
	assert_int_equal(bs[2].container_port, 5432);
	assert_true(bs[3].host_route);
	assert_string_equal(bs[3].subdomain, ""); /* random: up reads no HTC_SUBDOMAIN */
	assert_string_equal(bs[3].local.host, "localhost");
	clear_env(NULL);

	assert_int_equal(up(bs, &n, "--http @=3000"), 0);
	assert_int_equal(n, 1);
	assert_string_equal(bs[0].subdomain, "@");
}

static void
test_up_refused(void **state)
{
	struct client_binding bs[4];
	unsigned n;

	(void)state;
	assert_int_equal(up(bs, &n, ""), -1);
	assert_string_equal(err_text,
			    "htc: nothing to do: give --expose, --http, --pull, --forward or --socks\n");
	assert_int_equal(up(bs, &n, "--http"), -1);
	assert_string_equal(err_text, "htc: --http needs [NAME=]LOCAL\n");
	assert_int_equal(up(bs, &n, "--expose 3000 --pull"), -1);
	assert_string_equal(err_text, "htc: --pull needs [CONTAINER:]LOCAL\n");
	assert_int_equal(up(bs, &n, "--http Bad_Name=3000"), -1);
	assert_string_equal(
		err_text, "htc: --http Bad_Name=3000: subdomain may hold only a-z, 0-9 and '-' (or be @)\n");
	assert_int_equal(up(bs, &n, "--http =3000"), -1);
	assert_string_equal(err_text, "htc: --http =3000: empty subdomain\n");
	assert_int_equal(up(bs, &n, "--expose 70000:1"), -1);
	assert_string_equal(err_text, "htc: --expose 70000:1: container port must be 0..65535\n");
	assert_int_equal(up(bs, &n, "3000"), -1);
	assert_string_equal(err_text, "htc: unexpected argument: 3000\n");
	assert_int_equal(up(bs, &n, "--http 1 --http 2 --http 3 --http 4 --http 5"), -1);
	assert_string_equal(err_text, "htc: at most 4 bindings\n");
}

static void
test_up_forward(void **state)
{
	struct client_binding bs[4];
	unsigned n = 99;

	(void)state;
	assert_int_equal(up(bs, &n, "--forward 15432:db:5432 --pull 5432 --socks 1080 --socks=[::1]:0"), 0);
	assert_int_equal(n, 1);
	assert_int_equal(bs[0].kind, CLIENT_PULL);
	assert_int_equal(fw.n, 3);
	assert_false(fwd_v[0].socks);
	assert_int_equal(fwd_v[0].listen.port, 15432);
	assert_string_equal(fwd_v[0].host, "db");
	assert_int_equal(fwd_v[0].port, 5432);
	assert_true(fwd_v[1].socks);
	assert_string_equal(fwd_v[1].listen.host, "127.0.0.1");
	assert_int_equal(fwd_v[1].listen.port, 1080);
	assert_true(fwd_v[2].socks);
	assert_true(fwd_v[2].listen.host_v6);
	assert_int_equal(fwd_v[2].listen.port, 0);

	assert_int_equal(up(bs, &n, "--socks 1080"), 0); /* a listener alone is enough */
	assert_int_equal(n, 0);
	assert_int_equal(fw.n, 1);

	assert_int_equal(up(bs, &n, "--forward"), -1);
	assert_string_equal(err_text, "htc: --forward needs [LHOST:]LPORT:RHOST:RPORT\n");
	assert_int_equal(up(bs, &n, "--socks"), -1);
	assert_string_equal(err_text, "htc: --socks needs [LHOST:]LPORT\n");
	assert_int_equal(up(bs, &n, "--forward 15432:db"), -1);
	assert_string_equal(err_text, "htc: --forward 15432:db: expected [LHOST:]LPORT:RHOST:RPORT\n");
	assert_int_equal(up(bs, &n, "--socks h*st:1080"), -1);
	assert_string_equal(err_text, "htc: --socks h*st:1080: invalid host\n");
	assert_int_equal(up(bs, &n, "--socks 1 --socks 2 --socks 3 --socks 4"), -1);
	assert_string_equal(err_text, "htc: at most 3 forwards and SOCKS listeners\n");
}

static void
test_forward_cmd(void **state)
{
	struct url_forward f;

	(void)state;
	assert_int_equal(forward(&f, 0, "15432:127.0.0.1:5432"), 0);
	assert_false(f.socks);
	assert_int_equal(f.listen.port, 15432);
	assert_string_equal(f.host, "127.0.0.1");
	assert_int_equal(forward(&f, 1, "0.0.0.0:1080"), 0);
	assert_true(f.socks);
	assert_string_equal(f.listen.host, "0.0.0.0");
	assert_int_equal(f.listen.port, 1080);

	assert_int_equal(forward(&f, 0, ""), -1);
	assert_string_equal(err_text, "htc: missing [LHOST:]LPORT:RHOST:RPORT\n");
	assert_int_equal(forward(&f, 1, ""), -1);
	assert_string_equal(err_text, "htc: missing [LHOST:]LPORT\n");
	assert_int_equal(forward(&f, 0, "1:a:2 3"), -1);
	assert_string_equal(err_text, "htc: unexpected argument: 3\n");
	assert_int_equal(forward(&f, 1, "--port 3"), -1);
	assert_string_equal(err_text, "htc: unknown option: --port\n");
	assert_int_equal(forward(&f, 0, "15432:db:0"), -1);
	assert_string_equal(err_text, "htc: 15432:db:0: remote port must be 1..65535\n");
	assert_int_equal(forward(&f, 1, "70000"), -1);
	assert_string_equal(err_text, "htc: 70000: port must be 0..65535\n");
}

static void
test_mode(void **state)
{
	int cluster = 7;

	(void)state;
	assert_int_equal(bindargs_mode("single", &cluster), 0);
	assert_int_equal(cluster, 0);
	assert_int_equal(bindargs_mode("cluster", &cluster), 0);
	assert_int_equal(cluster, 1);
	assert_int_equal(bindargs_mode("", &cluster), -1);
	assert_int_equal(bindargs_mode("clusters", &cluster), -1);
	assert_int_equal(bindargs_mode(NULL, &cluster), -1);
	assert_int_equal(cluster, 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_http, clear_env),
		cmocka_unit_test_setup(test_http_refused, clear_env),
		cmocka_unit_test_setup(test_http_env, clear_env),
		cmocka_unit_test_setup(test_expose, clear_env),
		cmocka_unit_test_setup(test_pull, clear_env),
		cmocka_unit_test_setup(test_up, clear_env),
		cmocka_unit_test_setup(test_up_refused, clear_env),
		cmocka_unit_test_setup(test_up_forward, clear_env),
		cmocka_unit_test_setup(test_forward_cmd, clear_env),
		cmocka_unit_test(test_mode),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
