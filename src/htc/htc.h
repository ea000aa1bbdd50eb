/*
 * htc.h: what htc's subcommands share: the global options, the exit
 * statuses and the handler of every subcommand.
 *
 * main.c parses the global options (before or after the command name),
 * fills one struct htc_opts, finds the command in its table and calls the
 * handler with the remaining arguments. A handler returns the process exit
 * status. Handlers live one file per group: cmd_tunnel.c (pull, expose,
 * http, up, forward, socks), cmd_admin.c (health, list, sessions, bindings, metrics, kill)
 * and cmd_login.c (login).
 */
#ifndef HTC_HTC_H
#define HTC_HTC_H

#include <stdbool.h>
#include <stddef.h>

#include "url.h"

#ifndef HT_VERSION
#define HT_VERSION "0.1.0"
#endif

/* Exit statuses. */
#define HTC_EXIT_OK 0    /* done */
#define HTC_EXIT_FAIL 1  /* the daemon, the network or a local service failed */
#define HTC_EXIT_USAGE 2 /* bad command line */

#define HTC_TOKEN_MAX 4096     /* longest token accepted, in bytes */
#define HTC_CONNECTIONS_MAX 64 /* highest --connections */

struct conf;

/* Where a global setting came from: a flag wins over the environment, the environment over the file. */
enum htc_source {
	HTC_SRC_NONE = 0, /* not given: the default, or none */
	HTC_SRC_FLAG,     /* the command line */
	HTC_SRC_ENV,      /* the environment */
	HTC_SRC_FILE,     /* the config file */
};

/*
 * Global options, filled by main.c before any handler runs; handlers treat
 * them as read-only. Strings point into argv, the environment or main's
 * static storage and live until exit.
 */
struct htc_opts {
	const char *url;           /* --url, else $HTC_URL, else the file's, else URL_DEFAULT (never NULL) */
	struct url u;              /* url, parsed (main refuses a URL that does not parse) */
	const char *token;         /* --token, else the first line of --token-file, else
				      $HOODY_TUNNEL_TOKEN, else the file's token or token-file;
				      NULL when none. Never printed. */
	const char *token_file;    /* --token-file as given, NULL when not */
	const char *ca_file;       /* --ca-file, else the file's, NULL: the system bundle */
	int connections;           /* --connections N (1..HTC_CONNECTIONS_MAX); 0: not given */
	bool insecure;             /* --insecure: skip TLS certificate verification */
	bool json;                 /* --json: print the daemon's JSON as received */
	bool quiet;                /* --quiet: only errors and what was asked for */
	bool log_json;             /* --log-format json: one JSON object per event on stdout */
	bool tty;                  /* stdout is a terminal (the tunnel commands' status view) */
	bool bold;                 /* print_style(stdout): bold and colours allowed (not with NO_COLOR) */
	const char *inspect_addr;  /* --inspect, else $HTC_INSPECT; NULL: the default address */
	bool no_inspect;           /* --no-inspect or HTC_INSPECT=off: no inspector, no capture */
	size_t inspect_requests;   /* --inspect-requests: exchanges kept */
	size_t inspect_body;       /* --inspect-body: bytes kept of each body */
	enum htc_source url_src;   /* where url came from */
	enum htc_source token_src; /* where token came from (HTC_SRC_FLAG: --token or --token-file) */
	const char *conf_path;     /* the config file's path, also when there is no file; NULL: none */
	const struct conf *conf;   /* the config file, NULL when there is none */
};

/*
 * Subcommand handlers. argv[0..argc) are the arguments after the command
 * name (argv[0] is the first argument, not the name; argv[argc] is NULL),
 * with the global options already removed. "--" is passed through when it
 * was given. Each returns an HTC_EXIT_* status. A handler that finds its
 * arguments wrong prints one line with print_err() ("kill: missing
 * SESSION_ID") and returns HTC_EXIT_USAGE; main then prints the command's
 * usage line under it, so handlers need not know their usage text. Help
 * (-h, --help, "htc help CMD") never reaches a handler.
 */
int cmd_pull(struct htc_opts *o, int argc, char **argv);
int cmd_expose(struct htc_opts *o, int argc, char **argv);
int cmd_http(struct htc_opts *o, int argc, char **argv);
int cmd_up(struct htc_opts *o, int argc, char **argv);
int cmd_forward(struct htc_opts *o, int argc, char **argv);
int cmd_socks(struct htc_opts *o, int argc, char **argv);

int cmd_health(struct htc_opts *o, int argc, char **argv);
int cmd_list(struct htc_opts *o, int argc, char **argv);
int cmd_sessions(struct htc_opts *o, int argc, char **argv);
int cmd_bindings(struct htc_opts *o, int argc, char **argv);
int cmd_metrics(struct htc_opts *o, int argc, char **argv);
int cmd_kill(struct htc_opts *o, int argc, char **argv);

int cmd_login(struct htc_opts *o, int argc, char **argv);

#endif
