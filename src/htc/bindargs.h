/*
 * bindargs.h: the bindings of `htc pull`, `htc expose`, `htc http` and
 * `htc up`, and the listeners of `htc forward`, `htc socks` and `up
 * --forward/--socks`, read from their arguments and the environment.
 *
 * No I/O but the one error line: a function that finds an argument wrong
 * prints it with print_err() ("--mode: expected single or cluster, not
 * 'x'") and returns -1; the caller then exits with HTC_EXIT_USAGE.
 * bindargs_tunnel() and bindargs_listener(), which read the tunnels of the
 * config file (conf.h) as words of the single commands, write that reason
 * into the caller's buffer instead. Strings kept in a binding (basic_pass)
 * point into argv, the environment or the caller's words, which must live
 * as long as the binding; names are copied.
 *
 * The environment (an empty variable counts as unset, a flag wins over
 * its variable):
 *   HTC_BASIC_AUTH  USER:PASSWORD for `expose` and `http`
 *   HTC_SUBDOMAIN   NAME or @ for `http`
 *   HTC_MODE        single or cluster for `http`
 * `up` and bindargs_tunnel() read none of them.
 *
 * `forward` and `socks` take one address and read no variable.
 *
 * Not here: resolving local host names (cmd_tunnel.c, at start-up), what
 * the daemon accepts (it may still refuse a valid name).
 */
#ifndef HTC_BINDARGS_H
#define HTC_BINDARGS_H

#include "client.h"
#include "url.h"

#define BINDARGS_ERR_MAX 320 /* room for the reason of any refusal, NUL included */

enum bindargs_cmd {
	BINDARGS_PULL,   /* [HOST:]PORT [--port N|0] [--bind-host 127.0.0.1|::1] */
	BINDARGS_EXPOSE, /* [HOST:]PORT [--port N|0] [--takeover] [--subdomain S] [--basic-auth U:P]
			    [--cluster] */
	BINDARGS_HTTP, /* [HOST:]PORT [--subdomain S] [--mode single|cluster] [--basic-auth U:P] [--takeover]
			*/
};

/*
 * Fill the one binding *b (zeroed first) of command cmd from argv[0..argc).
 * `http` and `expose --subdomain` make a host route (no container port;
 * without a name, `http` asks for a random one); `expose --subdomain` with
 * `--port` is refused. Returns 0, or -1 after printing why.
 */
int bindargs_single(struct client_binding *b, enum bindargs_cmd cmd, int argc, char **argv);

/*
 * As bindargs_single(), but without the environment, and a refusal is not
 * printed: its reason, as bindargs_single() would print it without "htc: ",
 * goes into err. Returns 0, or -1 with err set.
 */
int bindargs_tunnel(struct client_binding *b, enum bindargs_cmd cmd, int argc, char **argv,
		    char err[BINDARGS_ERR_MAX]);

/* The local listeners of `htc up` (--forward, --socks): room for max, n filled. */
struct bindargs_forwards {
	struct url_forward *v;
	unsigned max;
	unsigned n;
};

/*
 * Fill binds[0..*n) from the arguments of `htc up`: each of --expose
 * [C:]L, --pull [C:]L and --http [NAME=]L adds one binding, in order, at
 * most max of them; each --forward [LHOST:]LPORT:RHOST:RPORT and --socks
 * [LHOST:]LPORT adds one listener to fw (socks set for --socks), at most
 * fw->max. No binding and no listener at all is an error. Returns 0, or
 * -1 after printing why.
 */
int bindargs_up(struct client_binding *binds, unsigned max, unsigned *n, struct bindargs_forwards *fw,
		int argc, char **argv);

/*
 * `htc forward [LHOST:]LPORT:RHOST:RPORT` (socks 0) or `htc socks
 * [LHOST:]LPORT` (socks 1): the one argument into *f (socks set for
 * socks). No options. Returns 0, or -1 after printing why.
 */
int bindargs_forward(struct url_forward *f, int socks, int argc, char **argv);

/* As bindargs_forward(), the reason of a refusal into err instead of printed. 0, or -1 with err set. */
int bindargs_listener(struct url_forward *f, int socks, int argc, char **argv, char err[BINDARGS_ERR_MAX]);

/* "single" -> 0, "cluster" -> 1 into *cluster. Returns 0, or -1 for any other text. */
int bindargs_mode(const char *s, int *cluster);

#endif
