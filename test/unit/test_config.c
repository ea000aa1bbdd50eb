/*
 * test_config.c: flags, HOODY_TUNNEL_* variables, precedence, units,
 * validation messages, --token-file, --help text.
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

#include "config.h"

#define ERRLEN 512
#define MIB (1024u * 1024u)

/* argv and envp strings live here until the next load: config keeps
 * pointers into them, as it does into main's argv. */
static char arena[1 << 16];
static size_t arena_used;
static char err[ERRLEN];

static char *
arena_dup(const char *s)
{
	size_t n = strlen(s) + 1;
	char *p;

	assert_true(arena_used + n <= sizeof(arena));
	p = arena + arena_used;
	memcpy(p, s, n);
	arena_used += n;
	return p;
}

/* config_defaults, then config_load with env (NULL-terminated, or NULL)
 * and args (NULL-terminated, without argv[0]). */
static int
load(struct config *c, const char *const *env, const char *const *args)
{
	static char *argv[256], *envp[256];
	int argc = 0, i;

	arena_used = 0;
	argv[argc++] = arena_dup("hoody-tunnel");
	for (i = 0; args != NULL && args[i] != NULL; i++)
		argv[argc++] = arena_dup(args[i]);
	argv[argc] = NULL;
	for (i = 0; env != NULL && env[i] != NULL; i++)
		envp[i] = arena_dup(env[i]);
	envp[i] = NULL;
	config_defaults(c);
	memset(err, 'Z', sizeof(err));
	return config_load(c, argc, argv, envp, err, sizeof(err));
}

#define ARGS(...) ((const char *const[]){ __VA_ARGS__, NULL })
#define ENV(...) ((const char *const[]){ __VA_ARGS__, NULL })

/* The load must fail and the message contain each of the strings. */
static void
expect_err(const char *const *env, const char *const *args, const char *must1, const char *must2)
{
	struct config c;

	assert_int_equal(load(&c, env, args), -1);
	if (strstr(err, must1) == NULL || (must2 != NULL && strstr(err, must2) == NULL))
		fail_msg("error '%s' lacks '%s' / '%s'", err, must1, must2 ? must2 : "");
	assert_null(strchr(err, '\n'));
	config_fini(&c);
}

/* A file holding `content`; the path goes into path[]. */
static void
temp_file(char *path, size_t cap, const char *content, size_t n)
{
	int fd;

	snprintf(path, cap, "/tmp/test_config.XXXXXX");
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, content, n), (ssize_t)n);
	close(fd);
}

static void
test_defaults(void **state)
{
	struct config c;

	(void)state;
	assert_int_equal(load(&c, NULL, NULL), 0);
	assert_string_equal(c.listen, "0.0.0.0:50");
	assert_null(c.token);
	assert_null(c.token_file);
	assert_null(c.admin_token);
	assert_int_equal(c.admin_auth, AUTH_ADMIN_REMOTE);
	assert_null(c.tls_cert);
	assert_null(c.tls_key);
	assert_string_equal(c.expose_address, "0.0.0.0");
	assert_null(c.public_url_pattern);
	assert_int_equal(c.allow_privileged_expose, 0);
	assert_int_equal(c.allow_privileged_pull, 0);
	assert_int_equal(c.max_sessions, 8);
	assert_int_equal(c.max_bindings_per_session, 8);
	assert_int_equal(c.max_streams_per_session, 1024);
	assert_int_equal(c.max_connections_per_session, 8);
	assert_int_equal(c.max_pre_auth_connections, 32);
	assert_int_equal(c.stream_initial_window, 1 * MIB);
	assert_int_equal(c.session_initial_window, 16 * MIB);
	assert_int_equal(c.fd_reserve, 64);
	assert_int_equal(c.hello_timeout_ms, 5000);
	assert_int_equal(c.pong_timeout_ms, 60000);
	assert_int_equal(c.ping_interval_ms, 30000);
	assert_int_equal(c.takeover_grace_ms, 60000);
	assert_int_equal(c.idle_timeout_ms, 300000);
	assert_int_equal(c.shutdown_grace_ms, 10000);
	assert_int_equal(c.kill_grace_default_ms, 50);
	assert_int_equal(c.join_ticket_ttl_ms, 30000);
	assert_int_equal(c.visitor_idle_timeout_ms, 60000);
	assert_int_equal(c.head_timeout_ms, 10000);
	assert_int_equal(c.response_timeout_ms, 60000);
	assert_int_equal(c.send_timeout_ms, 60000);
	assert_int_equal(c.max_head_size, 65536);
	assert_int_equal(c.max_headers, 100);
	assert_int_equal(c.log_format, LOG_FORMAT_TEXT);
	assert_int_equal(c.log_level, LOG_LEVEL_INFO);
	assert_int_equal(c.n_trusted_proxy, 0);
	assert_null(c.domain);
	assert_null(c.vhost_listen);
	assert_int_equal(c.forward_allow.n, 0); /* no rule: loopback */
	assert_false(forward_policy_off(&c.forward_allow));
	assert_int_equal(c.forward_connect_timeout_ms, 10000);
	assert_string_equal(err, "");
	config_fini(&c);
}

/* Every flag on one command line, mixing "--f v" and "--f=v". */
static void
test_every_flag(void **state)
{
	char cert[64], key[64], text[FORWARD_POLICY_TEXT_MAX];
	struct config c;

	(void)state;
	temp_file(cert, sizeof(cert), "CERT", 4);
	temp_file(key, sizeof(key), "KEY", 3);
	assert_int_equal(
		load(&c, NULL,
		     ARGS("--listen", "127.0.0.1:8050", "--token=tok-1-0123456789abc", "--admin-token",
			  "adm-1-0123456789abc", "--admin-auth=all", "--tls-cert", cert, "--tls-key", key,
			  "--trusted-proxy", "loopback", "--trusted-proxy=10.0.0.0/8", "--public-url-pattern",
			  "https://{port}.example.com", "--domain", "example.com", "--vhost-listen=:8443",
			  "--expose-address", "::", "--allow-privileged-expose",
			  "--allow-privileged-pull=true", "--max-sessions", "3",
			  "--max-bindings-per-session=4", "--max-streams-per-session", "5",
			  "--max-connections-per-session", "6", "--max-pre-auth-connections", "7",
			  "--stream-initial-window", "64KiB", "--session-initial-window=2MiB", "--fd-reserve",
			  "128", "--max-head-size", "8KiB", "--max-headers", "50", "--hello-timeout", "1s",
			  "--ping-interval", "10s", "--pong-timeout", "20s", "--takeover-grace", "0",
			  "--idle-timeout", "0", "--shutdown-grace", "2500ms", "--join-ticket-ttl", "45s",
			  "--visitor-idle-timeout", "2m", "--head-timeout", "3s", "--response-timeout", "1h",
			  "--send-timeout", "90s", "--forward-allow", "loopback,10.0.0.0/8:80-443",
			  "--forward-allow=[::1]:5432", "--forward-connect-timeout", "3s", "--log-format",
			  "json", "--log-level=debug")),
		0);
	assert_string_equal(c.listen, "127.0.0.1:8050");
	assert_string_equal(c.token, "tok-1-0123456789abc");
	assert_string_equal(c.admin_token, "adm-1-0123456789abc");
	assert_int_equal(c.admin_auth, AUTH_ADMIN_ALL);
	assert_string_equal(c.tls_cert, cert);
	assert_string_equal(c.tls_key, key);
	assert_int_equal(c.n_trusted_proxy, 2);
	assert_string_equal(c.trusted_proxy[0], "loopback");
	assert_string_equal(c.trusted_proxy[1], "10.0.0.0/8");
	assert_string_equal(c.public_url_pattern, "https://{port}.example.com");
	assert_string_equal(c.domain, "example.com");
	assert_string_equal(c.vhost_listen, ":8443");
	assert_string_equal(c.expose_address, "::");
	assert_int_equal(c.allow_privileged_expose, 1);
	assert_int_equal(c.allow_privileged_pull, 1);
	assert_int_equal(c.max_sessions, 3);
	assert_int_equal(c.max_bindings_per_session, 4);
	assert_int_equal(c.max_streams_per_session, 5);
	assert_int_equal(c.max_connections_per_session, 6);
	assert_int_equal(c.max_pre_auth_connections, 7);
	assert_int_equal(c.stream_initial_window, 65536);
	assert_int_equal(c.session_initial_window, 2 * MIB);
	assert_int_equal(c.fd_reserve, 128);
	assert_int_equal(c.max_head_size, 8192);
	assert_int_equal(c.max_headers, 50);
	assert_int_equal(c.hello_timeout_ms, 1000);
	assert_int_equal(c.ping_interval_ms, 10000);
	assert_int_equal(c.pong_timeout_ms, 20000);
	assert_int_equal(c.takeover_grace_ms, 0);
	assert_int_equal(c.idle_timeout_ms, 0);
	assert_int_equal(c.shutdown_grace_ms, 2500);
	assert_int_equal(c.join_ticket_ttl_ms, 45000);
	assert_int_equal(c.visitor_idle_timeout_ms, 120000);
	assert_int_equal(c.head_timeout_ms, 3000);
	assert_int_equal(c.response_timeout_ms, 3600000);
	assert_int_equal(c.send_timeout_ms, 90000);
	forward_policy_describe(&c.forward_allow, text, sizeof(text));
	assert_string_equal(text, "loopback, 10.0.0.0/8:80-443, [::1]:5432");
	assert_int_equal(c.forward_connect_timeout_ms, 3000);
	assert_int_equal(c.log_format, LOG_FORMAT_JSON);
	assert_int_equal(c.log_level, LOG_LEVEL_DEBUG);
	config_fini(&c);
	unlink(cert);
	unlink(key);
}

/* Every flag from the environment. */
static void
test_every_env(void **state)
{
	char cert[64], key[64], e_cert[96], e_key[96], text[FORWARD_POLICY_TEXT_MAX];
	struct config c;

	(void)state;
	temp_file(cert, sizeof(cert), "CERT", 4);
	temp_file(key, sizeof(key), "KEY", 3);
	snprintf(e_cert, sizeof(e_cert), "HOODY_TUNNEL_TLS_CERT=%s", cert);
	snprintf(e_key, sizeof(e_key), "HOODY_TUNNEL_TLS_KEY=%s", key);
	assert_int_equal(
		load(&c,
		     ENV("PATH=/bin", "HOODY_TUNNEL_LISTEN=[::1]:9000",
			 "HOODY_TUNNEL_TOKEN=env-tok-0123456789",
			 "HOODY_TUNNEL_ADMIN_TOKEN=env-adm-0123456789", "HOODY_TUNNEL_ADMIN_AUTH=ALL", e_cert,
			 e_key, "HOODY_TUNNEL_TRUSTED_PROXY=private, 192.168.1.7 ,fd00::/8",
			 "HOODY_TUNNEL_PUBLIC_URL_PATTERN=http://h:{port}", "HOODY_TUNNEL_DOMAIN=t.example",
			 "HOODY_TUNNEL_VHOST_LISTEN=0.0.0.0:80", "HOODY_TUNNEL_EXPOSE_ADDRESS=127.0.0.1",
			 "HOODY_TUNNEL_ALLOW_PRIVILEGED_EXPOSE=yes", "HOODY_TUNNEL_ALLOW_PRIVILEGED_PULL=1",
			 "HOODY_TUNNEL_MAX_SESSIONS=11", "HOODY_TUNNEL_MAX_BINDINGS_PER_SESSION=12",
			 "HOODY_TUNNEL_MAX_STREAMS_PER_SESSION=1000000",
			 "HOODY_TUNNEL_MAX_CONNECTIONS_PER_SESSION=14",
			 "HOODY_TUNNEL_MAX_PRE_AUTH_CONNECTIONS=15", "HOODY_TUNNEL_STREAM_INITIAL_WINDOW=1",
			 "HOODY_TUNNEL_SESSION_INITIAL_WINDOW=2147483647", "HOODY_TUNNEL_FD_RESERVE=16",
			 "HOODY_TUNNEL_MAX_HEAD_SIZE=1MiB", "HOODY_TUNNEL_MAX_HEADERS=10000",
			 "HOODY_TUNNEL_HELLO_TIMEOUT=250ms", "HOODY_TUNNEL_PING_INTERVAL=1m",
			 "HOODY_TUNNEL_PONG_TIMEOUT=2m", "HOODY_TUNNEL_TAKEOVER_GRACE=90",
			 "HOODY_TUNNEL_IDLE_TIMEOUT=1h", "HOODY_TUNNEL_SHUTDOWN_GRACE=0",
			 "HOODY_TUNNEL_JOIN_TICKET_TTL=5s", "HOODY_TUNNEL_VISITOR_IDLE_TIMEOUT=7s",
			 "HOODY_TUNNEL_HEAD_TIMEOUT=8s", "HOODY_TUNNEL_RESPONSE_TIMEOUT=9s",
			 "HOODY_TUNNEL_FORWARD_ALLOW=PRIVATE:22, any:443",
			 "HOODY_TUNNEL_FORWARD_CONNECT_TIMEOUT=500ms", "HOODY_TUNNEL_LOG_FORMAT=json",
			 "HOODY_TUNNEL_LOG_LEVEL=warn"),
		     NULL),
		0);
	assert_string_equal(c.listen, "[::1]:9000");
	assert_string_equal(c.token, "env-tok-0123456789");
	assert_string_equal(c.admin_token, "env-adm-0123456789");
	assert_int_equal(c.admin_auth, AUTH_ADMIN_ALL);
	assert_string_equal(c.tls_cert, cert);
	assert_string_equal(c.tls_key, key);
	assert_int_equal(c.n_trusted_proxy, 3);
	assert_string_equal(c.trusted_proxy[0], "private");
	assert_string_equal(c.trusted_proxy[1], "192.168.1.7");
	assert_string_equal(c.trusted_proxy[2], "fd00::/8");
	assert_string_equal(c.public_url_pattern, "http://h:{port}");
	assert_string_equal(c.domain, "t.example");
	assert_string_equal(c.vhost_listen, "0.0.0.0:80");
	assert_string_equal(c.expose_address, "127.0.0.1");
	assert_int_equal(c.allow_privileged_expose, 1);
	assert_int_equal(c.allow_privileged_pull, 1);
	assert_int_equal(c.max_sessions, 11);
	assert_int_equal(c.max_bindings_per_session, 12);
	assert_int_equal(c.max_streams_per_session, 1000000);
	assert_int_equal(c.max_connections_per_session, 14);
	assert_int_equal(c.max_pre_auth_connections, 15);
	assert_int_equal(c.stream_initial_window, 1);
	assert_int_equal(c.session_initial_window, 2147483647u);
	assert_int_equal(c.fd_reserve, 16);
	assert_int_equal(c.max_head_size, MIB);
	assert_int_equal(c.max_headers, 10000);
	assert_int_equal(c.hello_timeout_ms, 250);
	assert_int_equal(c.ping_interval_ms, 60000);
	assert_int_equal(c.pong_timeout_ms, 120000);
	assert_int_equal(c.takeover_grace_ms, 90000);
	assert_int_equal(c.idle_timeout_ms, 3600000);
	assert_int_equal(c.shutdown_grace_ms, 0);
	assert_int_equal(c.join_ticket_ttl_ms, 5000);
	assert_int_equal(c.visitor_idle_timeout_ms, 7000);
	assert_int_equal(c.head_timeout_ms, 8000);
	assert_int_equal(c.response_timeout_ms, 9000);
	forward_policy_describe(&c.forward_allow, text, sizeof(text));
	assert_string_equal(text, "private:22, any:443");
	assert_int_equal(c.forward_connect_timeout_ms, 500);
	assert_int_equal(c.log_format, LOG_FORMAT_JSON);
	assert_int_equal(c.log_level, LOG_LEVEL_WARN);
	config_fini(&c);
	unlink(cert);
	unlink(key);
}

static void
test_flag_wins_over_env(void **state)
{
	struct config c;

	(void)state;
	/* Either order of env and flags: the flag wins. */
	assert_int_equal(load(&c, ENV("HOODY_TUNNEL_MAX_SESSIONS=20", "HOODY_TUNNEL_LOG_LEVEL=debug"),
			      ARGS("--max-sessions", "2")),
			 0);
	assert_int_equal(c.max_sessions, 2);
	assert_int_equal(c.log_level, LOG_LEVEL_DEBUG); /* env still used where no flag */
	/* A bad env value that a flag overrides is never looked at. */
	assert_int_equal(load(&c, ENV("HOODY_TUNNEL_MAX_SESSIONS=lots"), ARGS("--max-sessions=4")), 0);
	assert_int_equal(c.max_sessions, 4);
	/* A boolean flag beats a false env. */
	assert_int_equal(
		load(&c, ENV("HOODY_TUNNEL_ALLOW_PRIVILEGED_PULL=no"), ARGS("--allow-privileged-pull")), 0);
	assert_int_equal(c.allow_privileged_pull, 1);
	assert_int_equal(
		load(&c, ENV("HOODY_TUNNEL_ALLOW_PRIVILEGED_PULL=TRUE"), ARGS("--allow-privileged-pull=off")),
		0);
	assert_int_equal(c.allow_privileged_pull, 0);
	/* The last of a repeated flag wins. */
	assert_int_equal(load(&c, NULL, ARGS("--max-sessions", "2", "--max-sessions=5")), 0);
	assert_int_equal(c.max_sessions, 5);
	/* --trusted-proxy on the command line replaces the env list. */
	assert_int_equal(load(&c, ENV("HOODY_TUNNEL_TRUSTED_PROXY=private,loopback"),
			      ARGS("--trusted-proxy", "1.2.3.4")),
			 0);
	assert_int_equal(c.n_trusted_proxy, 1);
	assert_string_equal(c.trusted_proxy[0], "1.2.3.4");
	/* So does --forward-allow: "none" on the command line does not meet
	 * the env's "any" (which would be an error in one list). */
	assert_int_equal(load(&c, ENV("HOODY_TUNNEL_FORWARD_ALLOW=any"), ARGS("--forward-allow", "none")), 0);
	assert_true(forward_policy_off(&c.forward_allow));
	assert_int_equal(c.forward_allow.n, 0);
	/* An empty env value counts as unset. */
	assert_int_equal(load(&c, ENV("HOODY_TUNNEL_TOKEN=", "HOODY_TUNNEL_LISTEN="), NULL), 0);
	assert_null(c.token);
	assert_string_equal(c.listen, "0.0.0.0:50");
	config_fini(&c);
}

static void
test_token_sources(void **state)
{
	char path[64], e_file[96];
	struct config c;

	(void)state;
	temp_file(path, sizeof(path), "file-token-0123456789\n", 22);
	snprintf(e_file, sizeof(e_file), "HOODY_TUNNEL_TOKEN_FILE=%s", path);

	assert_int_equal(load(&c, NULL, ARGS("--token-file", path)), 0);
	assert_string_equal(c.token, "file-token-0123456789");
	assert_string_equal(c.token_file, path);
	config_fini(&c);
	assert_null(c.token);
	assert_int_equal(c.token_buf[0], 0); /* wiped */

	/* --token-file on the command line overrides HOODY_TUNNEL_TOKEN ... */
	assert_int_equal(load(&c, ENV("HOODY_TUNNEL_TOKEN=env-tok-0123456789"), ARGS("--token-file", path)),
			 0);
	assert_string_equal(c.token, "file-token-0123456789");
	config_fini(&c);
	/* ... and --token overrides HOODY_TUNNEL_TOKEN_FILE. */
	assert_int_equal(load(&c, ENV(e_file), ARGS("--token", "flag-tok-0123456789")), 0);
	assert_string_equal(c.token, "flag-tok-0123456789");
	assert_null(c.token_file);
	config_fini(&c);
	assert_string_equal(c.token, "flag-tok-0123456789"); /* not ours to wipe */
	/* From the environment alone. */
	assert_int_equal(load(&c, ENV(e_file), NULL), 0);
	assert_string_equal(c.token, "file-token-0123456789");
	config_fini(&c);
	/* Both at the same level: refused. */
	expect_err(NULL, ARGS("--token", "a-0123456789abcdef", "--token-file", path), "--token",
		   "--token-file");
	expect_err(ENV("HOODY_TUNNEL_TOKEN=a-0123456789abcdef", e_file), NULL, "HOODY_TUNNEL_TOKEN and ",
		   "HOODY_TUNNEL_TOKEN_FILE are mutually exclusive");
	unlink(path);

	temp_file(path, sizeof(path), "crlf-token-0123456789\r\n", 23);
	assert_int_equal(load(&c, NULL, ARGS("--token-file", path)), 0);
	assert_string_equal(c.token, "crlf-token-0123456789");
	config_fini(&c);
	unlink(path);
}

/* --admin-token-file: read like --token-file, one setting with --admin-token, wiped by config_fini. */
static void
test_admin_token_sources(void **state)
{
	char path[64], e_file[96];
	struct config c;

	(void)state;
	temp_file(path, sizeof(path), "adm-file-0123456789\r\n", 21);
	snprintf(e_file, sizeof(e_file), "HOODY_TUNNEL_ADMIN_TOKEN_FILE=%s", path);
	assert_int_equal(load(&c, NULL, ARGS("--token", "tun-0123456789abcd", "--admin-token-file", path)),
			 0);
	assert_string_equal(c.admin_token, "adm-file-0123456789");
	assert_string_equal(c.admin_token_file, path);
	assert_string_equal(c.token, "tun-0123456789abcd");
	config_fini(&c);
	assert_null(c.admin_token);
	assert_int_equal(c.admin_token_buf[0], 0); /* wiped */
	/* from the environment; a flag of the pair overrides both variables */
	assert_int_equal(load(&c, ENV(e_file), NULL), 0);
	assert_string_equal(c.admin_token, "adm-file-0123456789");
	config_fini(&c);
	assert_int_equal(load(&c, ENV(e_file), ARGS("--admin-token", "adm-flag-0123456789")), 0);
	assert_string_equal(c.admin_token, "adm-flag-0123456789");
	assert_null(c.admin_token_file);
	config_fini(&c);
	assert_int_equal(load(&c, ENV("HOODY_TUNNEL_ADMIN_TOKEN=adm-env-0123456789"),
			      ARGS("--admin-token-file", path)),
			 0);
	assert_string_equal(c.admin_token, "adm-file-0123456789");
	config_fini(&c);
	/* both at the same level: refused */
	expect_err(NULL, ARGS("--admin-token", "a-0123456789abcdef", "--admin-token-file", path),
		   "--admin-token", "mutually exclusive");
	expect_err(ENV("HOODY_TUNNEL_ADMIN_TOKEN=a-0123456789abcdef", e_file), NULL,
		   "HOODY_TUNNEL_ADMIN_TOKEN_FILE", "mutually exclusive");
	unlink(path);
	/* the same checks as --token-file, named after this flag */
	expect_err(NULL, ARGS("--admin-token-file", "/nonexistent/adm"), "--admin-token-file",
		   "/nonexistent/adm");
	temp_file(path, sizeof(path), "sekret words\n", 13);
	expect_err(NULL, ARGS("--admin-token-file", path), "--admin-token-file", "printable");
	assert_null(strstr(err, "sekret"));
	unlink(path);
}

/* --admin-auth takes the four modes of enum auth_admin_mode, any case; remote by default. */
static void
test_admin_auth_modes(void **state)
{
	static const struct {
		const char *v;
		enum auth_admin_mode mode;
	} ok[] = {
		{ "remote", AUTH_ADMIN_REMOTE }, { "write", AUTH_ADMIN_WRITE },   { "all", AUTH_ADMIN_ALL },
		{ "none", AUTH_ADMIN_NONE },     { "Remote", AUTH_ADMIN_REMOTE },
	};
	struct config c;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		assert_int_equal(load(&c, NULL, ARGS("--admin-auth", "all", "--admin-auth", ok[i].v)), 0);
		assert_int_equal(c.admin_auth, ok[i].mode);
		config_fini(&c);
	}
	assert_int_equal(load(&c, ENV("HOODY_TUNNEL_ADMIN_AUTH=none"), NULL), 0);
	assert_int_equal(c.admin_auth, AUTH_ADMIN_NONE);
	config_fini(&c);
	expect_err(NULL, ARGS("--admin-auth", "delete"), "--admin-auth", "remote|write|all|none");
}

static void
test_token_file_errors(void **state)
{
	char path[64], big[CONFIG_TOKEN_MAX + 8];

	(void)state;
	expect_err(NULL, ARGS("--token-file", "/nonexistent/tok"), "--token-file", "/nonexistent/tok");
	expect_err(ENV("HOODY_TUNNEL_TOKEN_FILE=/nonexistent/tok"), NULL,
		   "HOODY_TUNNEL_TOKEN_FILE: cannot read", "/nonexistent/tok");
	temp_file(path, sizeof(path), "", 0);
	expect_err(NULL, ARGS("--token-file", path), path, "empty");
	unlink(path);
	temp_file(path, sizeof(path), "\n\n", 2);
	expect_err(NULL, ARGS("--token-file", path), path, "empty");
	unlink(path);
	temp_file(path, sizeof(path), "two words\n", 10);
	expect_err(NULL, ARGS("--token-file", path), path, "printable");
	unlink(path);
	temp_file(path, sizeof(path), "line1\nline2\n", 12);
	expect_err(NULL, ARGS("--token-file", path), path, "printable");
	unlink(path);
	memset(big, 'k', sizeof(big));
	temp_file(path, sizeof(path), big, CONFIG_TOKEN_MAX + 1);
	expect_err(NULL, ARGS("--token-file", path), path, "too long");
	unlink(path);
	temp_file(path, sizeof(path), big, sizeof(big));
	expect_err(NULL, ARGS("--token-file", path), path, "too long");
	unlink(path);
	/* Exactly the maximum, with a newline, is fine. */
	big[CONFIG_TOKEN_MAX] = '\n';
	temp_file(path, sizeof(path), big, CONFIG_TOKEN_MAX + 1);
	{
		struct config c;
		assert_int_equal(load(&c, NULL, ARGS("--token-file", path)), 0);
		assert_int_equal(strlen(c.token), CONFIG_TOKEN_MAX);
		config_fini(&c);
	}
	unlink(path);
}

static void
test_units(void **state)
{
	static const struct {
		const char *v;
		uint32_t want;
	} sizes[] = {
		{ "1048576", MIB }, { "1048576B", MIB },  { "1024K", MIB },      { "1024k", MIB },
		{ "1024KB", MIB },  { "1024KiB", MIB },   { "1M", MIB },         { "1MB", MIB },
		{ "1MiB", MIB },    { "1G", 1024 * MIB }, { "1GB", 1024 * MIB }, { "1GiB", 1024 * MIB },
	};
	static const struct {
		const char *v;
		uint64_t want;
	} durs[] = {
		{ "5", 5000 }, { "5s", 5000 },   { "5000ms", 5000 },
		{ "1ms", 1 },  { "2m", 120000 }, { "1h", 3600000 },
	};
	char arg[64];
	struct config c;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		snprintf(arg, sizeof(arg), "--session-initial-window=%s", sizes[i].v);
		assert_int_equal(load(&c, NULL, ARGS(arg)), 0);
		assert_int_equal(c.session_initial_window, sizes[i].want);
	}
	for (i = 0; i < sizeof(durs) / sizeof(durs[0]); i++) {
		assert_int_equal(load(&c, NULL, ARGS("--hello-timeout", durs[i].v)), 0);
		assert_int_equal(c.hello_timeout_ms, durs[i].want);
	}
	for (i = 0; i < sizeof(durs) / sizeof(durs[0]); i++) {
		snprintf(arg, sizeof(arg), "HOODY_TUNNEL_HEAD_TIMEOUT=%s", durs[i].v);
		assert_int_equal(load(&c, ENV(arg), NULL), 0);
		assert_int_equal(c.head_timeout_ms, durs[i].want);
	}
}

static void
test_bool_forms(void **state)
{
	static const char *const yes[] = { "1", "true", "TRUE", "yes", "Yes", "on" };
	static const char *const no[] = { "0", "false", "False", "no", "NO", "off" };
	char e[64];
	struct config c;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		snprintf(e, sizeof(e), "HOODY_TUNNEL_ALLOW_PRIVILEGED_EXPOSE=%s", yes[i]);
		assert_int_equal(load(&c, ENV(e), NULL), 0);
		assert_int_equal(c.allow_privileged_expose, 1);
		snprintf(e, sizeof(e), "--allow-privileged-expose=%s", yes[i]);
		assert_int_equal(load(&c, NULL, ARGS(e)), 0);
		assert_int_equal(c.allow_privileged_expose, 1);
	}
	for (i = 0; i < sizeof(no) / sizeof(no[0]); i++) {
		snprintf(e, sizeof(e), "HOODY_TUNNEL_ALLOW_PRIVILEGED_EXPOSE=%s", no[i]);
		assert_int_equal(load(&c, ENV(e), NULL), 0);
		assert_int_equal(c.allow_privileged_expose, 0);
	}
	/* A boolean flag does not swallow the next argument. */
	assert_int_equal(load(&c, NULL, ARGS("--allow-privileged-expose", "--max-sessions", "3")), 0);
	assert_int_equal(c.allow_privileged_expose, 1);
	assert_int_equal(c.max_sessions, 3);
	expect_err(ENV("HOODY_TUNNEL_ALLOW_PRIVILEGED_EXPOSE=maybe"), NULL,
		   "HOODY_TUNNEL_ALLOW_PRIVILEGED_EXPOSE", "'maybe'");
	expect_err(NULL, ARGS("--allow-privileged-pull=2"), "--allow-privileged-pull", "'2'");
}

static void
test_addresses(void **state)
{
	static const char *const good[] = {
		"0.0.0.0:50",   "127.0.0.1:1",           ":65535", "[::]:50", "[::1]:8080",
		"localhost:50", "tunnel.example.com:443"
	};
	static const char *const bad[] = { "50",        "0.0.0.0", "0.0.0.0:",  "0.0.0.0:0", "1.2.3.4:65536",
					   "::1:50",    "[::1]50", "[nope]:50", "[]:50",     "a b:50",
					   "1.2.3.4:5x" };
	struct config c;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		assert_int_equal(load(&c, NULL, ARGS("--listen", good[i])), 0);
		assert_string_equal(c.listen, good[i]);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		expect_err(NULL, ARGS("--listen", bad[i]), "--listen", bad[i]);
		expect_err(NULL, ARGS("--domain", "d.example", "--vhost-listen", bad[i]), "--vhost-listen",
			   bad[i]);
	}
	expect_err(NULL, ARGS("--expose-address", "localhost"), "--expose-address", "'localhost'");
	expect_err(NULL, ARGS("--expose-address", "1.2.3"), "--expose-address", "'1.2.3'");
	assert_int_equal(load(&c, NULL, ARGS("--expose-address", "fe80::1")), 0);
}

static void
test_trusted_proxy(void **state)
{
	char many[1024], e[1100];
	struct config c;
	int i;

	(void)state;
	assert_int_equal(
		load(&c, ENV("HOODY_TUNNEL_TRUSTED_PROXY=10.0.0.1"),
		     ARGS("--trusted-proxy", "LOOPBACK,2001:db8::/32", "--trusted-proxy", "172.16.0.0/12")),
		0);
	assert_int_equal(c.n_trusted_proxy, 3);
	assert_string_equal(c.trusted_proxy[0], "LOOPBACK");
	assert_string_equal(c.trusted_proxy[1], "2001:db8::/32");
	assert_string_equal(c.trusted_proxy[2], "172.16.0.0/12");
	expect_err(NULL, ARGS("--trusted-proxy", "10.0.0.0/33"), "--trusted-proxy", "'10.0.0.0/33'");
	expect_err(NULL, ARGS("--trusted-proxy", "::/129"), "--trusted-proxy", "'::/129'");
	expect_err(NULL, ARGS("--trusted-proxy", "proxy.example"), "--trusted-proxy", "'proxy.example'");
	expect_err(NULL, ARGS("--trusted-proxy", "10.0.0.0/"), "--trusted-proxy", "'10.0.0.0/'");
	expect_err(NULL, ARGS("--trusted-proxy", "1.2.3.4,,5.6.7.8"), "--trusted-proxy", "empty");
	expect_err(ENV("HOODY_TUNNEL_TRUSTED_PROXY=nope"), NULL, "HOODY_TUNNEL_TRUSTED_PROXY", "nope");
	/* 32 entries fit, 33 do not. */
	many[0] = '\0';
	for (i = 0; i < CONFIG_MAX_TRUSTED_PROXIES; i++)
		snprintf(many + strlen(many), sizeof(many) - strlen(many), "%s10.0.0.%d", i ? "," : "", i);
	snprintf(e, sizeof(e), "HOODY_TUNNEL_TRUSTED_PROXY=%s", many);
	assert_int_equal(load(&c, ENV(e), NULL), 0);
	assert_int_equal(c.n_trusted_proxy, CONFIG_MAX_TRUSTED_PROXIES);
	assert_string_equal(c.trusted_proxy[31], "10.0.0.31");
	expect_err(ENV(e), ARGS("--trusted-proxy", many, "--trusted-proxy", "1.1.1.1"), "--trusted-proxy",
		   "more than 32");
}

/* --forward-allow: lists append, every error names the flag (or variable)
 * and the bad item; --forward-connect-timeout takes durations. */
static void
test_forward_allow(void **state)
{
	char text[FORWARD_POLICY_TEXT_MAX];
	struct config c;

	(void)state;
	assert_int_equal(load(&c, NULL,
			      ARGS("--forward-allow", "Loopback:5432", "--forward-allow", "fd00::/8,any:22")),
			 0);
	forward_policy_describe(&c.forward_allow, text, sizeof(text));
	assert_string_equal(text, "loopback:5432, fd00::/8, any:22");
	assert_int_equal(load(&c, ENV("HOODY_TUNNEL_FORWARD_ALLOW=none"), NULL), 0);
	assert_true(forward_policy_off(&c.forward_allow));
	expect_err(NULL, ARGS("--forward-allow", "10.0.0.0/33"),
		   "--forward-allow: '10.0.0.0/33': ", "prefix length must be 0..32");
	expect_err(NULL, ARGS("--forward-allow", "loopback:0"), "--forward-allow: 'loopback:0'", "1..65535");
	expect_err(NULL, ARGS("--forward-allow", "any:443-80"), "--forward-allow: 'any:443-80'",
		   "LOW <= HIGH");
	expect_err(NULL, ARGS("--forward-allow", "loopback,,any"), "--forward-allow", "empty item");
	expect_err(NULL, ARGS("--forward-allow="), "--forward-allow", "empty");
	expect_err(NULL, ARGS("--forward-allow", "none", "--forward-allow", "loopback"), "--forward-allow",
		   "none cannot be combined");
	expect_err(ENV("HOODY_TUNNEL_FORWARD_ALLOW=db.internal"), NULL,
		   "HOODY_TUNNEL_FORWARD_ALLOW: ", "'db.internal'");
	assert_int_equal(load(&c, NULL, ARGS("--forward-connect-timeout", "1h")), 0);
	assert_int_equal(c.forward_connect_timeout_ms, 3600000);
	assert_int_equal(load(&c, ENV("HOODY_TUNNEL_FORWARD_CONNECT_TIMEOUT=1ms"), NULL), 0);
	assert_int_equal(c.forward_connect_timeout_ms, 1);
	expect_err(NULL, ARGS("--forward-connect-timeout", "0"), "--forward-connect-timeout", "'0'");
	expect_err(NULL, ARGS("--forward-connect-timeout", "61m"), "--forward-connect-timeout", "'61m'");
	expect_err(ENV("HOODY_TUNNEL_FORWARD_CONNECT_TIMEOUT=soon"), NULL,
		   "HOODY_TUNNEL_FORWARD_CONNECT_TIMEOUT", "'soon'");
}

/* Every value error names the flag (or variable) and the bad value. */
static void
test_value_errors(void **state)
{
	static const struct {
		const char *flag, *value;
	} cases[] = {
		{ "max-sessions", "abc" },
		{ "max-sessions", "0" },
		{ "max-sessions", "100001" },
		{ "max-sessions", "-1" },
		{ "max-sessions", "8x" },
		{ "max-bindings-per-session", "0" },
		{ "max-bindings-per-session", "65536" },
		{ "max-streams-per-session", "0" },
		{ "max-streams-per-session", "1000001" },
		{ "max-connections-per-session", "0" },
		{ "max-connections-per-session", "257" },
		{ "max-pre-auth-connections", "0" },
		{ "fd-reserve", "15" },
		{ "max-headers", "0" },
		{ "max-headers", "10001" },
		{ "stream-initial-window", "0" },
		{ "stream-initial-window", "2GiB" },
		{ "session-initial-window", "2147483648" },
		{ "session-initial-window", "1TiB" },
		{ "session-initial-window", "1.5MiB" },
		{ "session-initial-window", "MiB" },
		{ "max-head-size", "1023" },
		{ "max-head-size", "2MiB" },
		{ "hello-timeout", "0" },
		{ "hello-timeout", "5x" },
		{ "hello-timeout", "2h" },
		{ "hello-timeout", "s" },
		{ "pong-timeout", "0ms" },
		{ "ping-interval", "25h" },
		{ "takeover-grace", "1d" },
		{ "idle-timeout", "8d" },
		{ "shutdown-grace", "-1" },
		{ "join-ticket-ttl", "0" },
		{ "visitor-idle-timeout", "2days" },
		{ "head-timeout", "0" },
		{ "response-timeout", "99999999999999999999" },
		{ "send-timeout", "0" },
		{ "admin-auth", "some" },
		{ "log-format", "xml" },
		{ "log-level", "trace" },
		{ "public-url-pattern", "ftp://x/{port}" },
		{ "public-url-pattern", "example.com" },
		{ "domain", "-bad.example" },
		{ "domain", "a..b" },
		{ "domain", "under_score.io" },
	};
	char flag[64], eq[128], envv[128], envname[64];
	size_t i, k;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char quoted[64];

		snprintf(flag, sizeof(flag), "--%s", cases[i].flag);
		snprintf(quoted, sizeof(quoted), "'%s'", cases[i].value);
		expect_err(NULL, ARGS(flag, cases[i].value), flag, quoted);
		snprintf(eq, sizeof(eq), "--%s=%s", cases[i].flag, cases[i].value);
		expect_err(NULL, ARGS(eq), flag, quoted);
		snprintf(envname, sizeof(envname), "HOODY_TUNNEL_%s", cases[i].flag);
		for (k = 0; envname[k]; k++)
			envname[k] = envname[k] == '-'
					     ? '_'
					     : (char)(envname[k] >= 'a' && envname[k] <= 'z' ? envname[k] - 32
											     : envname[k]);
		snprintf(envv, sizeof(envv), "%s=%s", envname, cases[i].value);
		expect_err(ENV(envv), NULL, envname, quoted);
	}
	/* Empty values on the command line. */
	expect_err(NULL, ARGS("--listen="), "--listen", "empty");
	expect_err(NULL, ARGS("--max-sessions", ""), "--max-sessions", "''");
	expect_err(NULL, ARGS("--public-url-pattern", ""), "--public-url-pattern", "empty");
}

static void
test_secret_not_echoed(void **state)
{
	struct config c;

	(void)state;
	expect_err(NULL, ARGS("--token", "has space"), "--token", "printable");
	assert_null(strstr(err, "has space"));
	expect_err(NULL, ARGS("--admin-token=zq\tzq"), "--admin-token", "printable");
	assert_null(strstr(err, "zq"));
	expect_err(ENV("HOODY_TUNNEL_TOKEN=sp ace"), NULL, "HOODY_TUNNEL_TOKEN", "printable");
	assert_null(strstr(err, "sp ace"));
	expect_err(NULL, ARGS("--token", ""), "--token", "empty");
	assert_int_equal(load(&c, NULL, ARGS("--token", "!#$%&'()*+,-./:;<=>?@[]^_`{|}~")), 0);
}

/* Tokens under CONFIG_TOKEN_MIN bytes are refused, naming where they came from, never echoed. */
static void
test_short_tokens(void **state)
{
	static const char tail[] =
		": too short (9 bytes); use at least 16 bytes, e.g. from 'openssl rand -hex 16'";
	char path[64], e_file[96], want[256];
	struct config c;

	(void)state;
	expect_err(NULL, ARGS("--token", "dev-token"), "--token: too short (9 bytes)", tail + 1);
	assert_null(strstr(err, "dev-token"));
	expect_err(ENV("HOODY_TUNNEL_TOKEN=dev-token"), NULL, "HOODY_TUNNEL_TOKEN: too short (9 bytes)",
		   NULL);
	expect_err(NULL, ARGS("--admin-token=dev-token"), "--admin-token: too short (9 bytes)", NULL);
	expect_err(ENV("HOODY_TUNNEL_ADMIN_TOKEN=x"), NULL, "HOODY_TUNNEL_ADMIN_TOKEN: too short (1 byte);",
		   NULL);
	/* Exactly the minimum is enough. */
	assert_int_equal(load(&c, NULL, ARGS("--token", "0123456789abcdef")), 0);
	config_fini(&c);
	/* A file: the flag or variable and the path; the newline does not count. */
	temp_file(path, sizeof(path), "dev-token\n", 10);
	snprintf(e_file, sizeof(e_file), "HOODY_TUNNEL_TOKEN_FILE=%s", path);
	snprintf(want, sizeof(want), "--token-file '%s'%s", path, tail);
	expect_err(NULL, ARGS("--token-file", path), want, NULL);
	assert_string_equal(err, want);
	assert_null(strstr(err, "dev-token"));
	snprintf(want, sizeof(want), "HOODY_TUNNEL_TOKEN_FILE '%s': too short", path);
	expect_err(ENV(e_file), NULL, want, NULL);
	unlink(path);
	temp_file(path, sizeof(path), "0123456789abcdef\n", 17);
	assert_int_equal(load(&c, NULL, ARGS("--token-file", path)), 0);
	config_fini(&c);
	unlink(path);
}

static void
test_syntax_errors(void **state)
{
	(void)state;
	expect_err(NULL, ARGS("--bogus"), "unknown flag", "'--bogus'");
	expect_err(NULL, ARGS("--bogus=1"), "unknown flag", "'--bogus'");
	expect_err(NULL, ARGS("--max-session", "3"), "unknown flag", "'--max-session'");
	expect_err(NULL, ARGS("--MAX-SESSIONS", "3"), "unknown flag", "'--MAX-SESSIONS'");
	expect_err(NULL, ARGS("-x"), "unexpected argument", "'-x'");
	expect_err(NULL, ARGS("stray"), "unexpected argument", "'stray'");
	expect_err(NULL, ARGS("--"), "unexpected argument", "'--'");
	expect_err(NULL, ARGS("--=5"), "unexpected argument", "'--=5'");
	expect_err(NULL, ARGS("--max-sessions"), "--max-sessions", "missing value");
	expect_err(NULL, ARGS("--max-sessions", "3", "--listen"), "--listen", "missing value");
	expect_err(NULL, ARGS("--help=1"), "--help", "takes no value");
	expect_err(NULL, ARGS("--version=yes"), "--version", "takes no value");
	/* The syntax pass runs first: an unknown flag late on the line is
	 * reported even when an earlier value is bad. */
	expect_err(NULL, ARGS("--max-sessions", "x", "--nope"), "unknown flag", "'--nope'");
}

static void
test_cross_checks(void **state)
{
	char cert[64];
	struct config c;

	(void)state;
	expect_err(NULL, ARGS("--stream-initial-window", "2MiB", "--session-initial-window", "1MiB"),
		   "--stream-initial-window (2097152 bytes)", "--session-initial-window (1048576");
	expect_err(NULL, ARGS("--stream-initial-window", "32MiB"), "--stream-initial-window",
		   "must not exceed");
	assert_int_equal(load(&c, NULL, ARGS("--stream-initial-window", "16MiB")), 0);
	expect_err(NULL, ARGS("--ping-interval", "60s"), "--ping-interval (60000 ms)",
		   "--pong-timeout (60000 ms)");
	expect_err(ENV("HOODY_TUNNEL_PONG_TIMEOUT=10s"), NULL, "--ping-interval (30000 ms)",
		   "shorter than HOODY_TUNNEL_PONG_TIMEOUT (10000 ms)");
	expect_err(ENV("HOODY_TUNNEL_STREAM_INITIAL_WINDOW=32MiB"), NULL,
		   "HOODY_TUNNEL_STREAM_INITIAL_WINDOW (33554432 bytes) must not exceed",
		   "--session-initial-window");
	assert_int_equal(load(&c, NULL, ARGS("--domain", "example.com")), 0);
	expect_err(NULL, ARGS("--vhost-listen", ":80"), "--vhost-listen needs --domain (HOODY_TUNNEL_DOMAIN)",
		   NULL);
	expect_err(ENV("HOODY_TUNNEL_VHOST_LISTEN=:80"), NULL, "HOODY_TUNNEL_VHOST_LISTEN needs --domain",
		   NULL);
	temp_file(cert, sizeof(cert), "x", 1);
	expect_err(NULL, ARGS("--tls-cert", cert), "--tls-cert needs --tls-key (HOODY_TUNNEL_TLS_KEY) too",
		   NULL);
	expect_err(NULL, ARGS("--tls-key", cert), "--tls-key needs --tls-cert (HOODY_TUNNEL_TLS_CERT) too",
		   NULL);
	{
		char e_cert[96];

		snprintf(e_cert, sizeof(e_cert), "HOODY_TUNNEL_TLS_CERT=%s", cert);
		expect_err(ENV(e_cert), NULL, "HOODY_TUNNEL_TLS_CERT needs --tls-key", NULL);
	}
	expect_err(NULL, ARGS("--tls-cert", "/nonexistent/cert.pem", "--tls-key", cert), "--tls-cert",
		   "/nonexistent/cert.pem");
	expect_err(ENV("HOODY_TUNNEL_TLS_KEY=/nonexistent/k"), NULL, "HOODY_TUNNEL_TLS_KEY",
		   "/nonexistent/k");
	unlink(cert);
}

static void
test_help_version(void **state)
{
	struct config c;

	(void)state;
	assert_int_equal(load(&c, NULL, ARGS("--help")), CONFIG_EXIT_HELP);
	assert_int_equal(load(&c, NULL, ARGS("-h")), CONFIG_EXIT_HELP);
	assert_int_equal(load(&c, NULL, ARGS("--version")), CONFIG_EXIT_VERSION);
	assert_int_equal(load(&c, NULL, ARGS("-V")), CONFIG_EXIT_VERSION);
	/* The first of them wins; what follows is not examined. */
	assert_int_equal(load(&c, NULL, ARGS("--max-sessions", "2", "--version", "--help", "--bad")),
			 CONFIG_EXIT_VERSION);
	/* A bad environment does not stop --help. */
	assert_int_equal(load(&c, ENV("HOODY_TUNNEL_MAX_SESSIONS=x"), ARGS("--help")), CONFIG_EXIT_HELP);
	/* --help as a flag's value is just a value. */
	assert_int_equal(load(&c, NULL, ARGS("--dns-servers", "--help")), 0);
	assert_string_equal(c.dns_servers, "--help");
	/* The environment has no HELP / VERSION: they are ignored (and not among the names read). */
	assert_int_equal(load(&c, ENV("HOODY_TUNNEL_HELP=1", "HOODY_TUNNEL_VERSION=1"), NULL), 0);
}

/* Names that match no flag are ignored by config_load (envcheck warns about them). */
static void
test_unknown_env_ignored(void **state)
{
	struct config c;

	(void)state;
	assert_int_equal(
		load(&c,
		     ENV("HOODY_TUNNEL_MAX_SESSION=3", "HOODY_TUNNEL_MAX_SESSIONS=4", "HOODY_TUNNELX=1",
			 "HOODY_TUNNEL_max_sessions=5", "HOODY_TUNNEL_LISTEN", "OTHER=1"),
		     NULL),
		0);
	assert_int_equal(c.max_sessions, 4);
	assert_string_equal(c.listen, "0.0.0.0:50");
}

/* config_env_names: exactly the variables config_load reads, one per flag with a value, then
 * HOODY_TUNNEL_CRYPTO. */
static void
test_env_names(void **state)
{
	const char *const *names = config_env_names();
	char envv[128];
	size_t n = 0, i;
	struct config c;

	(void)state;
	assert_ptr_equal(config_env_names(), names);
	for (i = 0; names[i] != NULL; i++) {
		assert_int_equal(strncmp(names[i], CONFIG_ENV_PREFIX, strlen(CONFIG_ENV_PREFIX)), 0);
		assert_null(strchr(names[i], '-'));
		n++;
	}
	assert_true(n >= 40);
	assert_string_equal(names[0], "HOODY_TUNNEL_LISTEN");
	assert_string_equal(names[n - 1], "HOODY_TUNNEL_CRYPTO");
	for (i = 0; names[i] != NULL; i++) {
		assert_string_not_equal(names[i], "HOODY_TUNNEL_HELP");
		assert_string_not_equal(names[i], "HOODY_TUNNEL_VERSION");
	}
	/* They are the names config_load reads: "-" is a bad value for a
	 * boolean, a number and an address, and the error names the variable. */
	for (i = 0; names[i] != NULL; i++) {
		if (strcmp(names[i], "HOODY_TUNNEL_ALLOW_PRIVILEGED_EXPOSE") != 0 &&
		    strcmp(names[i], "HOODY_TUNNEL_MAX_SESSIONS") != 0 &&
		    strcmp(names[i], "HOODY_TUNNEL_LISTEN") != 0)
			continue;
		snprintf(envv, sizeof(envv), "%s=-", names[i]);
		expect_err(ENV(envv), NULL, names[i], "'-'");
	}
	/* config_name follows where each value came from. */
	assert_int_equal(load(&c, ENV("HOODY_TUNNEL_LISTEN=:9", "HOODY_TUNNEL_MAX_SESSIONS=3"),
			      ARGS("--max-sessions", "4")),
			 0);
	assert_string_equal(config_name(&c, "listen", envv, sizeof(envv)), "HOODY_TUNNEL_LISTEN");
	assert_string_equal(config_name(&c, "max-sessions", envv, sizeof(envv)), "--max-sessions");
	assert_string_equal(config_name(&c, "fd-reserve", envv, sizeof(envv)), "--fd-reserve");
	assert_string_equal(config_name(&c, "listen", envv, 8), "HOODY_T");
	assert_string_equal(config_name(&c, "max-sessions", envv, 5), "--ma");
	config_defaults(&c);
	assert_string_equal(config_name(&c, "listen", envv, sizeof(envv)), "--listen");
	config_fini(&c);
	/* HOODY_TUNNEL_CRYPTO: auto (also unset or empty) or bearssl, nothing else. */
	assert_int_equal(load(&c, ENV("HOODY_TUNNEL_CRYPTO=bearssl"), ARGS("--token", "0123456789abcdef")),
			 0);
	assert_int_equal(c.crypto, TLS_CRYPTO_BEARSSL);
	config_fini(&c);
	assert_int_equal(load(&c, ENV("HOODY_TUNNEL_CRYPTO="), ARGS("--token", "0123456789abcdef")), 0);
	assert_int_equal(c.crypto, TLS_CRYPTO_AUTO);
	config_fini(&c);
	assert_int_equal(load(&c, ENV("HOODY_TUNNEL_X=1"), ARGS("--token", "0123456789abcdef")), 0);
	assert_int_equal(c.crypto, TLS_CRYPTO_AUTO);
	config_fini(&c);
	expect_err(ENV("HOODY_TUNNEL_CRYPTO=openssl"), NULL, "HOODY_TUNNEL_CRYPTO: invalid value 'openssl'",
		   "auto or bearssl");
}

/* config_from_argv: which values the command line gave (main warns about secrets there). */
static void
test_from_argv(void **state)
{
	struct config c;

	(void)state;
	assert_int_equal(load(&c, NULL, ARGS("--token", "0123456789abcdef", "--max-sessions=3")), 0);
	assert_int_equal(config_from_argv(&c, "token"), 1);
	assert_int_equal(config_from_argv(&c, "max-sessions"), 1);
	assert_int_equal(config_from_argv(&c, "admin-token"), 0);
	assert_int_equal(config_from_argv(&c, "listen"), 0); /* a default */
	assert_int_equal(config_from_argv(&c, "no-such-flag"), 0);
	config_fini(&c);
	assert_int_equal(load(&c, ENV("HOODY_TUNNEL_TOKEN=0123456789abcdef"),
			      ARGS("--admin-token", "fedcba9876543210")),
			 0);
	assert_int_equal(config_from_argv(&c, "token"), 0);
	assert_int_equal(config_from_argv(&c, "admin-token"), 1);
	config_fini(&c);
	config_defaults(&c);
	assert_int_equal(config_from_argv(&c, "token"), 0);
	config_fini(&c);
}

static void
test_usage_lists_every_flag(void **state)
{
	static const char *const flags[] = {
		"listen",
		"token",
		"token-file",
		"admin-token",
		"admin-token-file",
		"admin-auth",
		"expose-address",
		"public-url-pattern",
		"max-sessions",
		"max-bindings-per-session",
		"max-streams-per-session",
		"max-connections-per-session",
		"stream-initial-window",
		"session-initial-window",
		"hello-timeout",
		"pong-timeout",
		"ping-interval",
		"takeover-grace",
		"idle-timeout",
		"shutdown-grace",
		"max-pre-auth-connections",
		"allow-privileged-expose",
		"allow-privileged-pull",
		"fd-reserve",
		"log-format",
		"log-level",
		"tls-cert",
		"tls-key",
		"trusted-proxy",
		"domain",
		"vhost-listen",
		"join-ticket-ttl",
		"visitor-idle-timeout",
		"head-timeout",
		"response-timeout",
		"send-timeout",
		"max-head-size",
		"max-headers",
		"forward-allow",
		"forward-connect-timeout",
	};
	static const char *const defaults[] = {
		"0.0.0.0:50",      "[default: 8]",       "[default: 1024]",   "1MiB",
		"16MiB",           "[default: 5s]",      "[default: 60s]",    "[default: 30s]",
		"[default: 300s]", "[default: 10s]",     "[default: 32]",     "[default: 64]",
		"64KiB",           "[default: 100]",     "[default: remote]", "[default: text]",
		"[default: info]", "[default: loopback]"
	};
	char *text = NULL, needle[96], ver[64];
	size_t len = 0, i, k;
	FILE *f = open_memstream(&text, &len);

	(void)state;
	assert_non_null(f);
	config_usage(f);
	fclose(f);
	for (i = 0; i < sizeof(flags) / sizeof(flags[0]); i++) {
		snprintf(needle, sizeof(needle), "--%s ", flags[i]);
		if (strstr(text, needle) == NULL) {
			snprintf(needle, sizeof(needle), "--%s\n", flags[i]);
			if (strstr(text, needle) == NULL) {
				snprintf(needle, sizeof(needle), "--%s", flags[i]);
				assert_non_null(strstr(text, needle));
			}
		}
		snprintf(needle, sizeof(needle), "env HOODY_TUNNEL_%s\n", flags[i]);
		for (k = strlen("env HOODY_TUNNEL_"); needle[k]; k++)
			needle[k] = needle[k] == '-'
					    ? '_'
					    : (char)(needle[k] >= 'a' && needle[k] <= 'z' ? needle[k] - 32
											  : needle[k]);
		if (strstr(text, needle) == NULL)
			fail_msg("usage lacks %s", needle);
	}
	for (i = 0; i < sizeof(defaults) / sizeof(defaults[0]); i++)
		if (strstr(text, defaults[i]) == NULL)
			fail_msg("usage lacks default %s", defaults[i]);
	assert_non_null(strstr(text, "--help"));
	assert_non_null(strstr(text, "--version"));
	/* Fits an 80-column terminal. */
	for (i = 0, k = 0; text[i]; i++) {
		k = text[i] == '\n' ? 0 : k + 1;
		assert_true(k <= 80);
	}
	free(text);

	f = open_memstream(&text, &len);
	config_version(f);
	fclose(f);
	snprintf(ver, sizeof(ver), "hoody-tunnel %s\n", HT_VERSION);
	assert_string_equal(text, ver);
	free(text);
}

/* One option as config_usage() prints it. */
struct usage_opt {
	char name[64];
	char def[64]; /* "" when none is shown */
	char env[80]; /* "" for --help and --version */
};

/* Parse the --help text into out[]: "  --name ARG", the help line, then
 * "      [default: X] env NAME" (no such line for the actions). */
static size_t
usage_opts(struct usage_opt *out, size_t cap)
{
	char *text = NULL, *line, *save = NULL;
	size_t len = 0, n = 0;
	FILE *f = open_memstream(&text, &len);

	assert_non_null(f);
	config_usage(f);
	fclose(f);
	for (line = strtok_r(text, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save)) {
		char *d, *e;

		if (strncmp(line, "  --", 4) == 0) {
			assert_true(n < cap);
			memset(&out[n], 0, sizeof(out[n]));
			assert_true(strcspn(line + 4, " ") < sizeof(out[n].name));
			memcpy(out[n].name, line + 4, strcspn(line + 4, " "));
			n++;
			continue;
		}
		e = strstr(line, "env ");
		if (n == 0 || strncmp(line, "      ", 6) != 0 || e == NULL || strchr(e + 4, ' ') != NULL)
			continue;
		assert_true(strlen(e + 4) < sizeof(out[n - 1].env));
		strcpy(out[n - 1].env, e + 4);
		d = strstr(line, "[default: ");
		if (d != NULL) {
			d += strlen("[default: ");
			assert_non_null(strstr(d, "] env "));
			assert_true((size_t)(strstr(d, "] env ") - d) < sizeof(out[n - 1].def));
			memcpy(out[n - 1].def, d, (size_t)(strstr(d, "] env ") - d));
		}
	}
	free(text);
	return n;
}

/* Check one string field and clear it, so that memcmp can compare the rest. */
static void
same_string(const char **a, const char **b)
{
	if (*a == NULL || *b == NULL)
		assert_ptr_equal(*a, *b);
	else
		assert_string_equal(*a, *b);
	*a = *b = NULL;
}

/*
 * The option table, once: every flag listed once, every variable named
 * HOODY_TUNNEL_<FLAG>, and every default that --help shows is a value the
 * flag accepts and is exactly what config_defaults() sets: all of them
 * given on the command line, on top of a zeroed struct, give the same
 * struct as config_defaults().
 */
static void
test_option_table(void **state)
{
	/* Defaults that --help describes in words: not a value of the flag. */
	static const char *const described[] = { "token", "token-store", "admin-token", "forward-allow" };
	static struct usage_opt o[64];
	static char *argv[64];
	struct config zero, def;
	char want[80];
	size_t n, i, k;
	int argc = 0;

	(void)state;
	n = usage_opts(o, 64);
	assert_true(n >= 39);
	arena_used = 0;
	argv[argc++] = arena_dup("hoody-tunnel");
	for (i = 0; i < n; i++) {
		int action = strcmp(o[i].name, "help") == 0 || strcmp(o[i].name, "version") == 0;
		int words = 0;

		for (k = 0; k < i; k++)
			if (strcmp(o[k].name, o[i].name) == 0)
				fail_msg("--%s listed twice", o[i].name);
		snprintf(want, sizeof(want), "HOODY_TUNNEL_%s", o[i].name);
		for (k = strlen("HOODY_TUNNEL_"); want[k] != '\0'; k++)
			want[k] = want[k] == '-'
					  ? '_'
					  : (char)(want[k] >= 'a' && want[k] <= 'z' ? want[k] - 32 : want[k]);
		if (action) {
			assert_string_equal(o[i].env, "");
			continue;
		}
		if (strcmp(o[i].env, want) != 0)
			fail_msg("--%s: variable %s, expected %s", o[i].name, o[i].env, want);
		for (k = 0; k < sizeof(described) / sizeof(described[0]); k++)
			words |= strcmp(o[i].name, described[k]) == 0;
		if (words) {
			assert_true(o[i].def[0] != '\0');
			continue;
		}
		if (o[i].def[0] != '\0') {
			char flag[160];

			snprintf(flag, sizeof(flag), "--%s=%s", o[i].name, o[i].def);
			argv[argc++] = arena_dup(flag);
		}
	}
	argv[argc] = NULL;
	assert_int_equal(argc, 30); /* 29 flags show a default value */

	memset(&zero, 0, sizeof(zero));
	if (config_load(&zero, argc, argv, NULL, err, sizeof(err)) != 0)
		fail_msg("the defaults of --help do not load: %s", err);
	config_defaults(&def);
	assert_int_equal(zero.kill_grace_default_ms, 0);
	zero.kill_grace_default_ms = def.kill_grace_default_ms; /* the one setting without a flag */
	assert_int_not_equal(zero.from_argv, 0);
	zero.from_argv = def.from_argv; /* where the values came from: here the command line */
	same_string(&zero.listen, &def.listen);
	same_string(&zero.token, &def.token);
	same_string(&zero.token_file, &def.token_file);
	same_string(&zero.admin_token, &def.admin_token);
	same_string(&zero.tls_cert, &def.tls_cert);
	same_string(&zero.tls_key, &def.tls_key);
	same_string(&zero.expose_address, &def.expose_address);
	same_string(&zero.public_url_pattern, &def.public_url_pattern);
	same_string(&zero.domain, &def.domain);
	same_string(&zero.vhost_listen, &def.vhost_listen);
	assert_memory_equal(&zero, &def, sizeof(def));
}

/* err may be NULL or tiny: no overflow, still -1. */
static void
test_err_buffer(void **state)
{
	struct config c;
	char small[8];
	char *argv[] = { (char[]){ "x" }, (char[]){ "--max-sessions=abcdefghijkl" }, NULL };

	(void)state;
	config_defaults(&c);
	assert_int_equal(config_load(&c, 2, argv, NULL, NULL, 0), -1);
	memset(small, 'Z', sizeof(small));
	assert_int_equal(config_load(&c, 2, argv, NULL, small, sizeof(small)), -1);
	assert_int_equal(small[7], '\0');
	assert_memory_equal(small, "--max-s", 7);
	/* argc 0 / 1: nothing to do. */
	assert_int_equal(config_load(&c, 1, argv, NULL, small, sizeof(small)), 0);
	assert_int_equal(small[0], '\0');
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_every_flag),
		cmocka_unit_test(test_every_env),
		cmocka_unit_test(test_flag_wins_over_env),
		cmocka_unit_test(test_token_sources),
		cmocka_unit_test(test_token_file_errors),
		cmocka_unit_test(test_short_tokens),
		cmocka_unit_test(test_admin_token_sources),
		cmocka_unit_test(test_admin_auth_modes),
		cmocka_unit_test(test_units),
		cmocka_unit_test(test_bool_forms),
		cmocka_unit_test(test_addresses),
		cmocka_unit_test(test_trusted_proxy),
		cmocka_unit_test(test_forward_allow),
		cmocka_unit_test(test_value_errors),
		cmocka_unit_test(test_secret_not_echoed),
		cmocka_unit_test(test_syntax_errors),
		cmocka_unit_test(test_cross_checks),
		cmocka_unit_test(test_help_version),
		cmocka_unit_test(test_unknown_env_ignored),
		cmocka_unit_test(test_env_names),
		cmocka_unit_test(test_from_argv),
		cmocka_unit_test(test_usage_lists_every_flag),
		cmocka_unit_test(test_option_table),
		cmocka_unit_test(test_err_buffer),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
