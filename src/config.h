/*
 * config.h: the daemon's settings, from flags and HOODY_TUNNEL_* variables.
 *
 * Every flag of DESIGN.md ("Flags") is a field of `struct config` with its
 * documented default. Each flag --some-flag may also come from the
 * environment as HOODY_TUNNEL_SOME_FLAG; a flag on the command line wins
 * over the environment. Values are checked when they are read (units via
 * util_parse_size / util_parse_duration_ms, ranges, choices) and again as a
 * whole (stream window <= session window, ping interval < pong timeout,
 * TLS cert and key together, tokens of CONFIG_TOKEN_MIN bytes or more, ...);
 * every error message names the flag or the variable the value came from
 * and the bad value (never the value of a secret).
 *
 * Not here: resolving addresses (the caller does, `listen` and friends stay
 * strings), generating a token when none is given (auth.h does), opening
 * sockets or log files, printing anything except on config_usage() and
 * config_version().
 *
 * Strings. A string field points into argv or envp (or at a static
 * default), so both must outlive the struct, as they do in main(). The only
 * bytes config_load() owns are the tokens read from --token-file and
 * --admin-token-file (in token_buf, admin_token_buf), the split
 * --trusted-proxy entries (inline arrays) and the parsed --forward-allow
 * rules: nothing is malloc'd, and config_fini() wipes the tokens.
 */
#ifndef HT_CONFIG_H
#define HT_CONFIG_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "auth.h"
#include "forward_policy.h"
#include "log.h"
#include "tls.h"

#ifndef HT_VERSION
#define HT_VERSION "0.1.0"
#endif

/* Longest token accepted from any source, in bytes. */
#define CONFIG_TOKEN_MAX 512
/* Shortest token accepted (--token, --token-file, --admin-token and their
 * variables): 16 bytes, as many as 'openssl rand -hex 16' prints 32. */
#define CONFIG_TOKEN_MIN 16
/* --trusted-proxy: entries kept (after splitting on commas), and the
 * longest entry ("ffff:...:255.255.255.255/128" is 49 bytes). */
#define CONFIG_MAX_TRUSTED_PROXIES 32
#define CONFIG_TRUSTED_PROXY_LEN 64
/* Prefix of every environment variable. */
#define CONFIG_ENV_PREFIX "HOODY_TUNNEL_"

/* config_load() results besides 0 and -1. */
#define CONFIG_EXIT_HELP 1    /* --help / -h seen: print config_usage(), exit 0 */
#define CONFIG_EXIT_VERSION 2 /* --version / -V seen: print config_version(), exit 0 */

struct config {
	/* Control plane. */
	const char *listen; /* --listen ADDR:PORT, "0.0.0.0:50"; "[v6]:port" or ":port" too */
	const char *token;  /* --token; NULL: none given (a credential, the store or a new one) */
	const char
		*token_file; /* --token-file PATH (or the credential); when set, token points at token_buf */
	const char *token_cred;  /* $CREDENTIALS_DIRECTORY/token when the token came from there, else NULL */
	const char *token_store; /* --token-store PATH, else $STATE_DIRECTORY/token; NULL: none */
	const char *admin_token; /* --admin-token; NULL: the tunnel token guards the admin API */
	const char *admin_token_file;    /* --admin-token-file PATH; when set, admin_token points at
					    admin_token_buf */
	enum auth_admin_mode admin_auth; /* --admin-auth remote|write|all|none (auth.h), remote */
	const char *tls_cert;            /* --tls-cert PEM path; with tls_key, TLS on the control plane */
	const char *tls_key;             /* --tls-key PEM path */

	/* Bindings. */
	const char *expose_address;     /* --expose-address IP, "0.0.0.0" */
	const char *public_url_pattern; /* --public-url-pattern, NULL; "{port}" substituted */
	int allow_privileged_expose;    /* --allow-privileged-expose, 0; 1: EXPOSE may use 80..1023 */
	int allow_privileged_pull;      /* --allow-privileged-pull, 0; 1: PULL may use 80..1023 */

	/* Limits. */
	uint32_t max_sessions;                /* --max-sessions, 8 */
	uint32_t max_bindings_per_session;    /* --max-bindings-per-session, 8 */
	uint32_t max_streams_per_session;     /* --max-streams-per-session, 1024 */
	uint32_t max_connections_per_session; /* --max-connections-per-session, 8 (v2 sockets) */
	uint32_t max_pre_auth_connections;    /* --max-pre-auth-connections, 32 */
	uint32_t stream_initial_window;       /* --stream-initial-window, 1 MiB; 1..2^31-1 */
	uint32_t session_initial_window;      /* --session-initial-window, 16 MiB; >= stream window */
	uint32_t fd_reserve;                  /* --fd-reserve, 64 fds kept out of the permit budget */

	/* Timers, in milliseconds (a bare number on the command line is seconds). */
	uint64_t hello_timeout_ms;        /* --hello-timeout, 5 s from TCP accept to HELLO */
	uint64_t pong_timeout_ms;         /* --pong-timeout, 60 s with nothing received */
	uint64_t ping_interval_ms;        /* --ping-interval, 30 s of silence before a PING */
	uint64_t takeover_grace_ms;       /* --takeover-grace, 60 s of orphan parking; 0: none */
	uint64_t idle_timeout_ms;         /* --idle-timeout, 300 s without streams or bindings; 0: never */
	uint64_t shutdown_grace_ms;       /* --shutdown-grace, 10 s drain on SIGTERM */
	uint64_t kill_grace_default_ms;   /* no flag: 50 ms, DELETE .../sessions/{id} without grace_ms */
	uint64_t join_ticket_ttl_ms;      /* --join-ticket-ttl, 30 s (v2 JOIN tickets) */
	uint64_t visitor_idle_timeout_ms; /* --visitor-idle-timeout, 60 s idle keep-alive visitor; 0: never */
	uint64_t head_timeout_ms;         /* --head-timeout, 10 s to receive a visitor request head */
	uint64_t response_timeout_ms;     /* --response-timeout, 60 s to a response head, else 504 */
	uint64_t send_timeout_ms; /* --send-timeout, 60 s a visitor or admin client may take no byte */
	uint64_t forward_connect_timeout_ms; /* --forward-connect-timeout, 10 s to connect a forward */
	const char *dns_servers;             /* --dns-servers: NULL for resolv.conf's */

	/* Visitor HTTP heads. */
	uint32_t max_head_size; /* --max-head-size, 64 KiB */
	uint32_t max_headers;   /* --max-headers, 100 */

	/* No flag: HOODY_TUNNEL_CRYPTO=auto|bearssl (tls.h), auto; whose AES-GCM code TLS runs. */
	enum tls_crypto_mode crypto;

	/* Logging (the enums of log.h). */
	enum log_format log_format; /* --log-format text|json, text */
	enum log_level log_level;   /* --log-level error|warn|info|debug, info */

	/* Proxer parity. */
	char trusted_proxy[CONFIG_MAX_TRUSTED_PROXIES][CONFIG_TRUSTED_PROXY_LEN];
	unsigned n_trusted_proxy; /* --trusted-proxy loopback|private|IP|CIDR, repeatable, commas split */
	const char *domain;       /* --domain D, with vhost_listen; NULL */
	const char *vhost_listen; /* --vhost-listen ADDR:PORT, with domain; NULL */

	/* Forwarding: --forward-allow LIST, repeatable, parsed here; no rule
	 * (the default) means loopback. */
	struct forward_policy forward_allow;

	/* Private: the token read from token_file. main may also place a
	 * generated token here (then set token = token_buf). */
	char token_buf[CONFIG_TOKEN_MAX + 2];       /* token, "\r\n" while reading */
	char admin_token_buf[CONFIG_TOKEN_MAX + 2]; /* the token read from admin_token_file */
	char cred_path[512];                        /* token_cred's storage */
	char store_path[512]; /* token_store's storage when it comes from $STATE_DIRECTORY */
	/* Private: bit i set when option i of the table took its value from
	 * the environment (config_name), or from the command line
	 * (config_from_argv). */
	uint64_t from_env, from_argv;
};

/* Fill every field with its default (no token, no TLS, no vhost): the
 * values --help shows, parsed from the same option table. */
void config_defaults(struct config *c);

/*
 * Apply the environment, then the command line, on top of what c holds
 * (normally config_defaults()). argv[0] is the program name and is skipped;
 * argv and envp (NULL-terminated "NAME=value" strings; NULL means none) must
 * outlive c. Accepted forms: --flag value, --flag=value; boolean flags take
 * no separate value (--allow-privileged-pull, or =1/0/true/false/yes/no);
 * -h and -V stand for --help and --version. An empty environment value
 * counts as unset. --token-file is read here.
 *
 * Returns 0 when c is ready, CONFIG_EXIT_HELP or CONFIG_EXIT_VERSION when
 * that flag was met first (nothing after it is examined; the caller prints
 * and exits 0), or -1 with a one-line message in err (never a secret; err
 * may be NULL) and c partly updated: the caller should exit, after
 * config_fini().
 */
int config_load(struct config *c, int argc, char **argv, char **envp, char *err, size_t errlen);

/*
 * What a message calls the setting of flag (its name without "--", e.g.
 * "listen"): "HOODY_TUNNEL_LISTEN" when config_load took its value from
 * the environment, else "--listen". Written into buf (cap bytes, cut to
 * fit), which is returned.
 */
const char *config_name(const struct config *c, const char *flag, char *buf, size_t cap);

/*
 * 1 when flag (its name without "--", e.g. "token") took its value from
 * the command line in config_load, else 0 (also for an unknown flag).
 */
int config_from_argv(const struct config *c, const char *flag);

/*
 * Every HOODY_TUNNEL_* name the daemon reads, NULL-terminated: one per
 * flag that takes a value (--help and --version have none), then those
 * with no flag (HOODY_TUNNEL_CRYPTO). Static storage, built on the first
 * call.
 */
const char *const *config_env_names(void);

/* Print the --help text: every flag, its environment name and default. */
void config_usage(FILE *out);

/* Print "hoody-tunnel <version>" and a newline. */
void config_version(FILE *out);

/* Wipe the token bytes config_load read (both files); c stays usable for defaults. */
void config_fini(struct config *c);

#endif
