/*
 * main.c: the hoody-tunnel daemon's entry point: configuration, FD
 * budget, reactor, control plane, signals, run, drain, exit 0.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auth.h"
#include "clock.h"
#include "bind.h"
#include "ctl.h"
#include "forward.h"
#include "daemon.h"
#include "envcheck.h"
#include "expose.h"
#include "forward_policy.h"
#include "listenfds.h"
#include "log.h"
#include "net.h"
#include "pull.h"
#include "service.h"
#include "session.h"
#include "tls.h"
#include "tokenstore.h"
#include "util.h"

extern char **environ;

/* Talks to the service manager (READY, STATUS, WATCHDOG, STOPPING, RELOADING). */
static struct service svc;

/* The drain timer fires this long after --shutdown-grace: sessions have
 * closed their sockets by then, or are cut off. */
#define DRAIN_SLACK_MS 1000

static void
on_drain_timeout(struct reactor *r, struct reactor_timer *t)
{
	struct daemon *d = container_of(t, struct daemon, drain_timer);

	log_warn("shutdown grace over: closing what is left");
	d->phase = DAEMON_EXITING;
	reactor_stop(r);
}

static void
on_stop_signal(struct reactor *r, struct reactor_signal *sg)
{
	struct daemon *d = sg->signo == SIGTERM ? container_of(sg, struct daemon, sigterm)
						: container_of(sg, struct daemon, sigint);

	if (d->phase != DAEMON_RUNNING) {
		log_info("second stop signal: exiting now");
		d->phase = DAEMON_EXITING;
		reactor_stop(r);
		return;
	}
	log_info("stop signal: draining sessions (grace %llu ms)",
		 (unsigned long long)d->cfg->shutdown_grace_ms);
	reactor_timer_start(r, &d->drain_timer, d->cfg->shutdown_grace_ms + DRAIN_SLACK_MS, 0);
	session_shutdown_all(d, d->cfg->shutdown_grace_ms);
	service_stopping(&svc);
}

/* Load --tls-cert/--tls-key into d->tls_creds. 0, or -1 with a message logged. */
static int
load_tls(struct daemon *d)
{
	const struct config *c = d->cfg;
	struct tls_server_creds fresh;
	char err[256];

	if (c->tls_cert == NULL)
		return 0;
	memset(&fresh, 0, sizeof(fresh));
	if (tls_server_creds_load(&fresh, c->tls_cert, c->tls_key, err, sizeof(err)) < 0) {
		char cert[64], key[64];

		log_error("%s %s / %s %s: %s", config_name(c, "tls-cert", cert, sizeof(cert)), c->tls_cert,
			  config_name(c, "tls-key", key, sizeof(key)), c->tls_key, err);
		return -1;
	}
	/* connections in progress keep a reference to the old material */
	tls_server_creds_fini(&d->tls_creds);
	d->tls_creds = fresh;
	return 0;
}

static void
on_sighup(struct reactor *r, struct reactor_signal *sg)
{
	struct daemon *d = container_of(sg, struct daemon, sighup);

	(void)r;
	if (d->cfg->tls_cert == NULL) {
		log_info("SIGHUP: no --tls-cert to reload");
		return;
	}
	service_reloading(&svc);
	if (load_tls(d) == 0)
		log_info("SIGHUP: TLS certificate reloaded from %s (new connections use it)",
			 d->cfg->tls_cert);
	else
		log_warn("SIGHUP: keeping the previous TLS certificate");
	service_reloaded(&svc);
}

/* Sockets passed by the service manager (socket activation). 0 or -1 (logged). */
static int
setup_activation(struct daemon *d)
{
	static struct listenfds lfds;
	char err[160];
	int n = listenfds_parse(&lfds, getenv("LISTEN_PID"), getenv("LISTEN_FDS"), getenv("LISTEN_FDNAMES"),
				getpid(), err, sizeof(err));

	if (n < 0) {
		log_error("%s", err);
		return -1;
	}
	d->activated = n > 0 ? &lfds : NULL;
	return 0;
}

/* Close what the service manager passed and nobody took, saying so. */
static void
activation_leftovers(struct daemon *d)
{
	char names[160];

	if (d->activated != NULL && listenfds_close_rest(d->activated, names, sizeof(names)) > 0)
		log_warn("socket activation: no use for the socket(s) named %s (known: control, vhost): "
			 "closed",
			 names);
}

static void
on_ignored_signal(struct reactor *r, struct reactor_signal *sg)
{
	(void)r;
	(void)sg;
}

/* The token --token-store keeps from an earlier start, if any. 0 or -1 (logged). */
static int
kept_token(struct config *c)
{
	char err[320];
	int loose, rc;

	if (c->token_store == NULL)
		return 0;
	rc = tokenstore_load(c->token_store, c->token_buf, sizeof(c->token_buf), &loose, err, sizeof(err));
	if (rc < 0) {
		log_error("--token-store %s", err);
		return -1;
	}
	if (rc == 1) {
		c->token = c->token_buf;
		log_info("token: the one kept in %s", c->token_store);
		if (loose)
			log_warn("token: %s can be read by group or others (chmod 600 it)", c->token_store);
	}
	return 0;
}

/*
 * Generate a token. It is printed (once, on stdout, never logged) only
 * when stdout is a terminal; it is kept in --token-store when there is
 * one. With neither, nobody could learn it: refuse to start.
 */
static int
new_token(struct config *c)
{
	int tty = isatty(STDOUT_FILENO);
	char err[320];

	if (c->token_store == NULL && !tty) {
		log_error("no token: give --token-file, HOODY_TUNNEL_TOKEN or a credential 'token', or "
			  "--token-store PATH to keep a generated one (it is printed only on a terminal)");
		return -1;
	}
	if (auth_token_generate(c->token_buf, sizeof(c->token_buf)) < 0)
		return -1;
	c->token = c->token_buf;
	if (c->token_store != NULL) {
		if (tokenstore_save(c->token_store, c->token, err, sizeof(err)) < 0) {
			log_error("--token-store %s", err);
			return -1;
		}
		log_info("token: generated and kept in %s (mode 0600)", c->token_store);
	}
	if (tty) {
		printf("token: %s\n", c->token);
		fflush(stdout);
	}
	return 0;
}

static int
setup_token(struct daemon *d, struct config *c)
{
	if (c->token == NULL && kept_token(c) < 0)
		return -1;
	if (c->token == NULL && new_token(c) < 0)
		return -1;
	if (c->token_cred != NULL)
		log_info("token: from the credential %s", c->token_cred);
	d->token = c->token;
	d->token_len = strlen(c->token);
	d->admin_token = c->admin_token;
	return 0;
}

static int
setup_proxies(struct daemon *d, const struct config *c)
{
	unsigned i;

	for (i = 0; i < c->n_trusted_proxy; i++) {
		if (forwarded_add(&d->fwd, c->trusted_proxy[i]) < 0) {
			char name[64];

			log_error("%s %s: not loopback, private, an IP or a CIDR (or too many)",
				  config_name(c, "trusted-proxy", name, sizeof(name)), c->trusted_proxy[i]);
			return -1;
		}
	}
	return 0;
}

static int
setup(struct daemon *d, struct config *c)
{
	long lim;

	memset(d, 0, sizeof(*d));
	d->cfg = c;
	d->ctl.fd = -1;
	d->vhost.fd = -1;
	d->started_wall_ms = (uint64_t)clock_wall_ms();
	if (setup_token(d, c) < 0 || setup_proxies(d, c) < 0 || load_tls(d) < 0 ||
	    buf_init(&d->scratch, 4096, 0) < 0)
		return -1;
	util_nofile_raise();
	lim = util_nofile();
	if (fdbudget_init(&d->fds, lim, c->fd_reserve, FDBUDGET_REFUSAL_SLOTS) < 0) {
		char name[64];

		log_error("RLIMIT_NOFILE %ld is too small for %s %u", lim,
			  config_name(c, "fd-reserve", name, sizeof(name)), c->fd_reserve);
		return -1;
	}
	metrics_init(&d->metrics);
	if (reactor_init(&d->r) < 0)
		return -1;
	daemon_accept_init(d);
	tunnel_loop_init(&d->tl, &d->r);
	if (pull_init(d, (uint32_t)UTIL_MAX(lim, 64)) < 0 || expose_init(d) < 0 || forward_init(d) < 0)
		return -1;
	if (setup_activation(d) < 0)
		return -1;
	reactor_timer_init(&d->drain_timer, on_drain_timeout);
	reactor_signal_start(&d->r, &d->sigterm, SIGTERM, on_stop_signal);
	reactor_signal_start(&d->r, &d->sigint, SIGINT, on_stop_signal);
	reactor_signal_start(&d->r, &d->sigpipe, SIGPIPE, on_ignored_signal);
	reactor_signal_start(&d->r, &d->sighup, SIGHUP, on_sighup);
	return 0;
}

static void
teardown(struct daemon *d)
{
	service_fini(&svc);
	session_close_all(d);
	forward_fini(d);
	ctl_stop(d);
	expose_vhost_stop(d);
	reactor_fini(&d->r); /* runs the deferred frees */
	slab_fini(&d->pulls);
	expose_fini(d);
	bind_routes_fini(d);
	tls_server_creds_fini(&d->tls_creds);
	buf_fini(&d->scratch);
}

/* One line for --forward-allow: "off", or the rules it allows. */
static void
log_forwarding(const struct config *c)
{
	static char rules[FORWARD_POLICY_TEXT_MAX];

	if (forward_policy_off(&c->forward_allow)) {
		log_info("forwarding: off");
		return;
	}
	forward_policy_describe(&c->forward_allow, rules, sizeof(rules));
	log_info("forwarding: allowed to %s", rules);
}

/* The control plane's address as bound (the manager's socket may differ from --listen). */
static const char *
listen_text(const struct daemon *d)
{
	static char text[NET_ADDR_STRLEN];
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (getsockname(d->ctl.fd, (struct sockaddr *)&ss, &len) < 0 ||
	    net_format_addr((const struct sockaddr *)&ss, text, sizeof(text)) < 0)
		return d->cfg->listen;
	return text;
}

/* Where the unknown-variable warnings go: the log, or stderr before it is set up. */
enum env_warn_to {
	ENV_WARN_LOG = 0, /* log_warn: the configured format */
	ENV_WARN_STDERR,  /* "hoody-tunnel: warning: ...", beside a configuration error */
	ENV_WARN_TO_MAX
};

static void
on_unknown_env(void *arg, const char *msg)
{
	const enum env_warn_to *to = arg;

	if (*to == ENV_WARN_STDERR)
		fprintf(stderr, "hoody-tunnel: warning: %s\n", msg);
	else
		log_warn("%s", msg);
}

/* One warning per HOODY_TUNNEL_* variable that is no flag's, with the name it likely meant. */
static void
warn_unknown_env(enum env_warn_to to)
{
	const struct envcheck_family fam = { CONFIG_ENV_PREFIX, config_env_names(), ENVCHECK_ALL };

	envcheck_scan(environ, &fam, 1, on_unknown_env, &to);
}

/*
 * A secret on the command line is visible to every local user (ps,
 * /proc/PID/cmdline): one warning per such flag, naming the ways that are
 * not.
 */
static void
warn_secrets_on_argv(const struct config *c)
{
	if (config_from_argv(c, "token"))
		log_warn(
			"--token on the command line is visible to every local user (ps, /proc/PID/cmdline): "
			"use --token-file, HOODY_TUNNEL_TOKEN or the systemd credential 'token' "
			"(LoadCredential=token:FILE) instead");
	if (config_from_argv(c, "admin-token"))
		log_warn("--admin-token on the command line is visible to every local user (ps, "
			 "/proc/PID/cmdline): "
			 "use --admin-token-file or HOODY_TUNNEL_ADMIN_TOKEN instead");
}

int
main(int argc, char **argv)
{
	static struct config c;
	static struct daemon d;
	char err[512];
	int rc;

	config_defaults(&c);
	rc = config_load(&c, argc, argv, environ, err, sizeof(err));
	if (rc == CONFIG_EXIT_HELP) {
		config_usage(stdout);
		return 0;
	}
	if (rc == CONFIG_EXIT_VERSION) {
		config_version(stdout);
		return 0;
	}
	if (rc < 0) {
		warn_unknown_env(ENV_WARN_STDERR); /* a misspelt name may be why */
		fprintf(stderr, "hoody-tunnel: %s\n", err);
		fprintf(stderr, "Try 'hoody-tunnel --help'.\n");
		return 2;
	}
	tls_crypto_set_mode(c.crypto);
	log_init(c.log_level, c.log_format, 2);
	log_set_journal(log_journal_match(getenv("JOURNAL_STREAM"), 2)); /* journalctl -p works */
	warn_unknown_env(ENV_WARN_LOG);
	warn_secrets_on_argv(&c);
	if (setup(&d, &c) < 0 || ctl_start(&d) < 0 || expose_vhost_start(&d) < 0) {
		log_error("start-up failed");
		return 1;
	}
	activation_leftovers(&d);
	log_info("hoody-tunnel %s listening on %s%s (control plane port %d, %lu fd permits)", HT_VERSION,
		 listen_text(&d), d.tls_creds.d ? " with TLS" : "", d.ctl_port, fdbudget_available(&d.fds));
	if (c.domain != NULL)
		log_info("routing NAME.%s by Host on port %d%s%s", c.domain, d.ctl_port,
			 c.vhost_listen ? " and on " : "", c.vhost_listen ? c.vhost_listen : "");
	if (d.tls_creds.d != NULL)
		log_info("TLS 1.2: %s", tls_crypto_describe(err, sizeof(err)));
	log_forwarding(&c);
	if (service_start(&svc, &d) < 0)
		return 1;
	rc = reactor_run(&d.r);
	if (rc < 0)
		log_error("event loop failed: %s", strerror(-rc));
	teardown(&d);
	config_fini(&c);
	log_info("stopped");
	return rc < 0 ? 1 : 0;
}
