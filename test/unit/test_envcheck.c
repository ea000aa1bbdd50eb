/*
 * test_envcheck.c: which names are unknown, which known name each one
 * suggests, the report lines, families, modes and duplicates.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "envcheck.h"

static const char *const daemon_names[] = {
	"HOODY_TUNNEL_LISTEN",
	"HOODY_TUNNEL_TOKEN",
	"HOODY_TUNNEL_TOKEN_FILE",
	"HOODY_TUNNEL_ADMIN_TOKEN",
	"HOODY_TUNNEL_DOMAIN",
	"HOODY_TUNNEL_MAX_SESSIONS",
	"HOODY_TUNNEL_MAX_STREAMS_PER_SESSION",
	"HOODY_TUNNEL_MAX_BINDINGS_PER_SESSION",
	"HOODY_TUNNEL_STREAM_INITIAL_WINDOW",
	"HOODY_TUNNEL_SESSION_INITIAL_WINDOW",
	"HOODY_TUNNEL_LOG_LEVEL",
	"HOODY_TUNNEL_LOG_FORMAT",
	NULL,
};
static const char *const htc_names[] = { "HTC_URL",        "HTC_SUBDOMAIN", "HTC_MODE",
					 "HTC_BASIC_AUTH", "HTC_CONFIG",    NULL };
static const char *const htc_shared[] = { "HOODY_TUNNEL_TOKEN", NULL };

/* What envcheck_suggest says for name (a C string). */
static const char *
suggest(const char *name, const char *const *known)
{
	return envcheck_suggest(name, strlen(name), known);
}

static void
test_suggest_close_names(void **state)
{
	(void)state;
	/* One or two edits: inserted, deleted, replaced, swapped. */
	assert_string_equal(suggest("HOODY_TUNNEL_MAX_SESION", daemon_names), "HOODY_TUNNEL_MAX_SESSIONS");
	assert_string_equal(suggest("HOODY_TUNNEL_MAX_SESSION", daemon_names), "HOODY_TUNNEL_MAX_SESSIONS");
	assert_string_equal(suggest("HOODY_TUNNEL_LISTNE", daemon_names), "HOODY_TUNNEL_LISTEN");
	assert_string_equal(suggest("HOODY_TUNNEL_LISTEN_", daemon_names), "HOODY_TUNNEL_LISTEN");
	assert_string_equal(suggest("HOODY_TUNNEL_TOKN", daemon_names), "HOODY_TUNNEL_TOKEN");
	assert_string_equal(suggest("HOODY_TUNNEL_TOKEN_FIEL", daemon_names), "HOODY_TUNNEL_TOKEN_FILE");
	assert_string_equal(suggest("HTC_ULR", htc_names), "HTC_URL");
	assert_string_equal(suggest("HTC_MDOE", htc_names), "HTC_MODE");
	/* Case and dashes do not count. */
	assert_string_equal(suggest("HOODY_TUNNEL_max_sessions", daemon_names), "HOODY_TUNNEL_MAX_SESSIONS");
	assert_string_equal(suggest("HOODY_TUNNEL_LOG-LEVEL", daemon_names), "HOODY_TUNNEL_LOG_LEVEL");
	/* One word misspelt beyond two edits, the rest equal. */
	assert_string_equal(suggest("HOODY_TUNNEL_MAX_SESHUNS", daemon_names), "HOODY_TUNNEL_MAX_SESSIONS");
	assert_string_equal(suggest("HOODY_TUNNEL_STREAM_INITAIL_WINDW", daemon_names),
			    "HOODY_TUNNEL_STREAM_INITIAL_WINDOW");
	assert_string_equal(suggest("HTC_BASIC_OATH", htc_names), "HTC_BASIC_AUTH");
}

static void
test_suggest_nothing_far(void **state)
{
	(void)state;
	assert_null(suggest("HOODY_TUNNEL_FOO", daemon_names));
	assert_null(suggest("HOODY_TUNNEL_PORT", daemon_names));
	assert_null(suggest("HTC_VERBOSE", htc_names));
	/* Two words misspelt and more than two edits: not the same name. */
	assert_null(suggest("HOODY_TUNNEL_MIN_SESHUNS", daemon_names));
	/* A word more or less is another name. */
	assert_null(suggest("HOODY_TUNNEL_MAX_STREAMS", daemon_names));
	/* A misspelt word needs half of it right. */
	assert_null(suggest("HTC_XYZ", htc_names));
	/* The daemon's own names are never taken for a typo of htc's token. */
	assert_null(suggest("HOODY_TUNNEL_TOKEN_FILE", htc_shared));
	assert_null(suggest("HOODY_TUNNEL_ADMIN_TOKEN", htc_shared));
	assert_null(suggest("HOODY_TUNNEL_LISTEN", htc_shared));
	assert_null(suggest("HOODY_TUNNEL_DOMAIN", htc_shared));
	/* Too long to compare. */
	{
		char longname[ENVCHECK_NAME_MAX + 8];

		memset(longname, 'A', sizeof(longname) - 1);
		longname[sizeof(longname) - 1] = '\0';
		assert_null(suggest(longname, daemon_names));
	}
	assert_null(envcheck_suggest("HTC_URL", 7, NULL));
}

static void
test_suggest_prefers_fewest_edits(void **state)
{
	static const char *const k[] = { "HTC_MODEL", "HTC_MODE", NULL };
	static const char *const tie[] = { "HTC_AB", "HTC_AC", NULL };

	(void)state;
	assert_string_equal(suggest("HTC_MOD", k), "HTC_MODE");
	assert_string_equal(suggest("HTC_MODELS", k), "HTC_MODEL");
	assert_string_equal(suggest("HTC_AD", tie), "HTC_AB"); /* a tie: the first listed */
}

/* A writable envp holding copies of list (NULL-terminated), as main() gets one. */
static char **
mkenv(const char *const *list)
{
	static char arena[4096], *envp[16];
	size_t used = 0, i, n;

	for (i = 0; list[i] != NULL; i++) {
		n = strlen(list[i]) + 1;
		assert_true(i + 1 < 16 && used + n <= sizeof(arena));
		envp[i] = memcpy(arena + used, list[i], n);
		used += n;
	}
	envp[i] = NULL;
	return envp;
}

/* What a scan reported: each line, in order. */
struct seen {
	char lines[8][ENVCHECK_MSG_MAX];
	unsigned n;
};

static void
collect(void *arg, const char *msg)
{
	struct seen *s = arg;

	assert_true(s->n < 8);
	assert_true(strlen(msg) < ENVCHECK_MSG_MAX);
	snprintf(s->lines[s->n++], ENVCHECK_MSG_MAX, "%s", msg);
}

static void
test_scan_daemon_family(void **state)
{
	static const char *const list[] = {
		"PATH=/bin",
		"HOODY_TUNNEL_MAX_SESION=3",
		"HOODY_TUNNEL_MAX_SESSIONS=4",
		"HOODY_TUNNEL_FOO=1",
		"HOODY_TUNNEL_MAX_SESION=5", /* the same name again: reported once */
		"HOODY_TUNNEL_LISTEN",       /* no '=': skipped */
		"HOODY_TUNNELX=1",           /* not the prefix */
		"HOODY_TUNNEL_TOKN=secret-value-never-shown",
		"HTC_URLL=ws://x", /* not a family of this program */
		NULL
	};
	char **env = mkenv(list);
	const struct envcheck_family fam = { "HOODY_TUNNEL_", daemon_names, ENVCHECK_ALL };
	struct seen s;

	(void)state;
	memset(&s, 0, sizeof(s));
	assert_int_equal(envcheck_scan(env, &fam, 1, collect, &s), 3);
	assert_int_equal(s.n, 3);
	assert_string_equal(s.lines[0], "unknown environment variable HOODY_TUNNEL_MAX_SESION (did you mean "
					"HOODY_TUNNEL_MAX_SESSIONS?)");
	assert_string_equal(s.lines[1], "unknown environment variable HOODY_TUNNEL_FOO");
	assert_string_equal(
		s.lines[2],
		"unknown environment variable HOODY_TUNNEL_TOKN (did you mean HOODY_TUNNEL_TOKEN?)");
	assert_null(strstr(s.lines[2], "secret"));
}

static void
test_scan_htc_families(void **state)
{
	static const char *const list[] = {
		"HTC_URL=ws://127.0.0.1:50",
		"HTC_URLL=ws://x",
		"HTC_VERBOSE=1",
		"HTC_CONFIG=/tmp/c",
		"HOODY_TUNNEL_TOKEN=abc",
		"HOODY_TUNNEL_MAX_SESSIONS=4", /* the daemon's: not htc's business */
		"HOODY_TUNNEL_TOKEN_FILE=/t",
		"HOODY_TUNNEL_TOKNE=abc", /* a typo of the one htc reads */
		NULL
	};
	char **env = mkenv(list);
	const struct envcheck_family fams[] = {
		{ "HTC_", htc_names, ENVCHECK_ALL },
		{ "HOODY_TUNNEL_", htc_shared, ENVCHECK_TYPOS },
	};
	struct seen s;

	(void)state;
	memset(&s, 0, sizeof(s));
	assert_int_equal(envcheck_scan(env, fams, 2, collect, &s), 3);
	assert_string_equal(s.lines[0], "unknown environment variable HTC_URLL (did you mean HTC_URL?)");
	assert_string_equal(s.lines[1], "unknown environment variable HTC_VERBOSE");
	assert_string_equal(
		s.lines[2],
		"unknown environment variable HOODY_TUNNEL_TOKNE (did you mean HOODY_TUNNEL_TOKEN?)");
}

static void
test_scan_odd_names(void **state)
{
	char longname[600];
	const char *list[] = { "HTC_\x1b[31mX=1", longname, NULL };
	char **env;
	const struct envcheck_family fam = { "HTC_", htc_names, ENVCHECK_ALL };
	struct seen s;

	(void)state;
	memset(longname, 'B', sizeof(longname));
	memcpy(longname, "HTC_", 4);
	memcpy(longname + sizeof(longname) - 3, "=1", 3);
	env = mkenv(list);
	memset(&s, 0, sizeof(s));
	assert_int_equal(envcheck_scan(env, &fam, 1, collect, &s), 2);
	/* no control character reaches the line */
	assert_string_equal(s.lines[0], "unknown environment variable HTC_?[31mX");
	/* a long name is cut and marked */
	assert_int_equal(strlen(s.lines[1]), strlen("unknown environment variable ") + ENVCHECK_NAME_MAX + 3);
	assert_memory_equal(s.lines[1] + strlen(s.lines[1]) - 4, "B...", 4);
	/* nothing to scan */
	assert_int_equal(envcheck_scan(NULL, &fam, 1, collect, &s), 0);
	assert_int_equal(envcheck_scan(env, &fam, 0, collect, &s), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_suggest_close_names),
		cmocka_unit_test(test_suggest_nothing_far),
		cmocka_unit_test(test_suggest_prefers_fewest_edits),
		cmocka_unit_test(test_scan_daemon_family),
		cmocka_unit_test(test_scan_htc_families),
		cmocka_unit_test(test_scan_odd_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
