/*
 * test_conf.c: htc's config file from text to settings and tunnels
 * (conf.c) and back after `htc login` (conf_edit.c): a good file with
 * settings and tunnels of every kind, and each refusal with the line it
 * names: libinih's syntax errors, unknown keys and sections, keys given
 * twice, continued lines, tunnels named twice, sections with no kind or
 * two, empty sections, values bindargs refuses, long lines.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "htc/conf.h"

static struct conf c;

static int
parse(const char *text)
{
	return conf_parse(&c, text, strlen(text));
}

/* Parsing text fails on line `line` with a reason that holds `what`. */
static void
refused(const char *text, int line, const char *what)
{
	int rc = parse(text);

	if (rc != -1 || c.err_line != line || strstr(c.err, what) == NULL)
		fail_msg("text:\n%s\nexpected line %d '%s', got rc %d line %d '%s'", text, line, what, rc,
			 c.err_line, c.err);
}

static const char good[] = "# htc's config\n"
			   "url = wss://box.example.com\n"
			   "token = tok-123 ; a comment\n"
			   "ca-file = /etc/ca.pem\n"
			   "\n"
			   "[tunnel web]\n"
			   "expose = 5000:localhost:3000\n"
			   "takeover = yes\n"
			   "basic-auth = dev:s3cret\n"
			   "\n"
			   "; another comment\n"
			   "[tunnel api]\n"
			   "http = Demo=8080\n"
			   "mode = cluster\n";

static void
test_good(void **state)
{
	const struct conf_tunnel *t;

	(void)state;
	assert_int_equal(parse(good), 0);
	assert_int_equal(c.err_line, 0);
	assert_string_equal(c.set[CONF_URL], "wss://box.example.com");
	assert_int_equal(c.set_line[CONF_URL], 2);
	assert_string_equal(c.set[CONF_TOKEN], "tok-123");
	assert_null(c.set[CONF_TOKEN_FILE]);
	assert_int_equal(c.set_line[CONF_TOKEN_FILE], 0);
	assert_string_equal(c.set[CONF_CA_FILE], "/etc/ca.pem");
	assert_int_equal(c.ntunnels, 2);

	t = conf_find(&c, "web");
	assert_non_null(t);
	assert_int_equal(t->line, 6);
	assert_int_equal(t->kind, CONF_EXPOSE);
	assert_int_equal(t->bind.kind, CLIENT_EXPOSE);
	assert_int_equal(t->bind.container_port, 5000);
	assert_string_equal(t->bind.local.host, "localhost");
	assert_int_equal(t->bind.local.port, 3000);
	assert_int_equal(t->bind.takeover, 1);
	assert_int_equal(t->bind.host_route, 0);
	assert_string_equal(t->bind.basic_user, "dev");
	assert_string_equal(t->bind.basic_pass, "s3cret");

	t = conf_find(&c, "api");
	assert_non_null(t);
	assert_int_equal(t->line, 12);
	assert_int_equal(t->kind, CONF_HTTP);
	assert_int_equal(t->bind.host_route, 1);
	assert_string_equal(t->bind.subdomain, "demo");
	assert_int_equal(t->bind.local.port, 8080);
	assert_int_equal(t->bind.cluster, 1);
	assert_int_equal(t->bind.container_port, 0);
	assert_null(conf_find(&c, "db"));
	assert_ptr_equal(&c.tunnels[0], conf_find(&c, "web")); /* in the order of the file */
}

static void
test_kinds(void **state)
{
	const struct conf_tunnel *t;

	(void)state;
	assert_int_equal(parse("\xEF\xBB\xBF[tunnel db]\r\n"
			       "pull = 5432\r\n"
			       "port = 0\r\n"
			       "bind-host = ::1\r\n"
			       "[tunnel fwd]\n"
			       "forward = 15432:db.internal:5432\n"
			       "[tunnel proxy]\n"
			       "socks = [::1]:1080\n"
			       "[tunnel plain]\n"
			       "expose = 3000\n"
			       "port = 0\n"
			       "takeover = No\n"
			       "[tunnel route]\n"
			       "http = 3001\n"
			       "subdomain = @\n"
			       "[tunnel alias]\n"
			       "expose: 3002\n"
			       "subdomain: x1\n"
			       "cluster: on\n"),
			 0);
	assert_int_equal(c.ntunnels, 6);
	t = conf_find(&c, "db");
	assert_int_equal(t->bind.kind, CLIENT_PULL);
	assert_int_equal(t->bind.container_port, 0);
	assert_int_equal(t->bind.local.port, 5432);
	assert_int_equal(t->bind.bind_v6, 1);
	t = conf_find(&c, "fwd");
	assert_int_equal(t->kind, CONF_FORWARD);
	assert_false(t->fwd.socks);
	assert_int_equal(t->fwd.listen.port, 15432);
	assert_string_equal(t->fwd.host, "db.internal");
	assert_int_equal(t->fwd.port, 5432);
	t = conf_find(&c, "proxy");
	assert_int_equal(t->kind, CONF_SOCKS);
	assert_true(t->fwd.socks);
	assert_string_equal(t->fwd.listen.host, "::1");
	assert_int_equal(t->fwd.listen.port, 1080);
	t = conf_find(&c, "plain");
	assert_int_equal(t->bind.container_port, 0);
	assert_int_equal(t->bind.local.port, 3000);
	assert_int_equal(t->bind.takeover, 0);
	t = conf_find(&c, "route");
	assert_int_equal(t->bind.host_route, 1);
	assert_string_equal(t->bind.subdomain, "@");
	t = conf_find(&c, "alias"); /* expose --subdomain is a host route */
	assert_int_equal(t->bind.host_route, 1);
	assert_string_equal(t->bind.subdomain, "x1");
	assert_int_equal(t->bind.cluster, 1);
}

static void
test_syntax_error(void **state)
{
	(void)state;
	refused("url = ws://a\n[tunnel web]\nexpose = 3000\njust words\nport = 0\n", 4, "syntax error");
	refused("[tunnel web\nexpose = 3000\n", 1, "syntax error");
	refused("# ok\n\n\n[tunnel web]\nexpose = 3000\n[tunnel x ; no]\n", 6, "syntax error");
}

static void
test_unknown_key(void **state)
{
	(void)state;
	refused("url = ws://a\n\n[tunnel web]\nexose = 3000\n", 4, "unknown key 'exose' in [tunnel web]");
	refused("urls = ws://a\n", 1, "unknown key 'urls'");
	refused("expose = 3000\n", 1, "'expose' belongs in a [tunnel NAME] section");
	refused("[tunnel web]\nexpose = 3000\nurl = ws://a\n", 3, "'url' is a setting");
	refused("[web]\nexpose = 3000\n", 1, "unknown section [web]");
	refused("[tunnel bad name]\nexpose = 3000\n", 1, "bad tunnel name 'bad name'");
}

static void
test_duplicates(void **state)
{
	(void)state;
	refused("[tunnel web]\nexpose = 3000\n\n[tunnel api]\npull = 1\n[tunnel web]\nexpose = 4000\n", 6,
		"tunnel 'web' named twice (first on line 1)");
	refused("[tunnel web]\nexpose = 3000\n[tunnel web]\nexpose = 3000\n", 3, "tunnel 'web' named twice");
	refused("url = ws://a\nurl = ws://b\n", 2, "'url' given twice (first on line 1)");
	refused("[tunnel web]\nexpose = 3000\nport = 1\nport = 2\n", 4, "'port' given twice in [tunnel web]");
	refused("token = a\ntoken-file = /t\n", 2, "either token or token-file");
}

static void
test_section_shape(void **state)
{
	(void)state;
	refused("[tunnel web]\nport = 0\n", 1, "[tunnel web] has no kind");
	refused("[tunnel web]\nexpose = 3000\nhttp = 3000\n", 3,
		"has two kinds: 'expose' (line 2) and 'http'");
	refused("[tunnel web]\n[tunnel api]\npull = 1\n", 1, "empty section");
	refused("[tunnel api]\npull = 1\n[tunnel web]\n", 3, "empty section");
	refused("[tunnel web]\nexpose = 3000\n  port = 0\n", 3,
		"indented line continues the value of 'expose'");
	refused("[tunnel web]\nexpose =\n", 2, "'expose' has no value");
}

static void
test_bad_values(void **state)
{
	(void)state;
	refused("[tunnel web]\nexpose = 3000\n\nport = abc\n", 4, "[tunnel web]: --port: not a port: abc");
	refused("[tunnel web]\nport = 1\nexpose = 70000\n", 3, "[tunnel web]: 70000");
	refused("[tunnel web]\nexpose = 3000\ntakeover = maybe\n", 3,
		"takeover: expected yes or no, not 'maybe'");
	refused("[tunnel web]\nhttp = 3000\nmode = both\n", 3,
		"--mode: expected single or cluster, not 'both'");
	refused("[tunnel web]\nhttp = Bad_Name=3000\n", 2, "--subdomain: 'Bad_Name'");
	refused("[tunnel web]\nhttp = a=3000\nsubdomain = b\n", 3, "'subdomain' given twice");
	refused("[tunnel web]\nexpose = 5000:3000\nport = 0\n", 3, "'port' given twice");
	refused("[tunnel web]\nexpose = 3000\nsubdomain = x\nport = 1\n", 4,
		"--port and --subdomain exclude");
	refused("[tunnel web]\npull = 3000\nbasic-auth = a:b\n", 3, "unknown option: --basic-auth");
	refused("[tunnel f]\nforward = 1:h:2\nport = 3\n", 3, "forward takes no options");
	refused("[tunnel f]\nforward = 1:2\n", 2, "[tunnel f]: 1:2");
	refused("url = ftp://x\n", 1, "url: ");
	refused("token = a b\n", 1, "token: must be visible ASCII");
	/* the first error of two is the one on the lower line */
	refused("[tunnel a]\nport = 1\n[tunnel b]\nexose = 1\n", 4, "unknown key 'exose'");
}

static void
test_long_line(void **state)
{
	char text[600];

	(void)state;
	snprintf(text, sizeof(text), "url = ws://a\ntoken = %0*d\n[tunnel web]\nexpose = 3000\n",
		 CONF_LINE_MAX - 8 + 1, 7);
	refused(text, 2, "line longer than");
	snprintf(text, sizeof(text), "url = ws://a\ntoken = %0*d\n[tunnel web]\nexpose = 3000\n",
		 CONF_LINE_MAX - 8, 7);
	assert_int_equal(parse(text), 0);
	assert_int_equal(strlen(c.set[CONF_TOKEN]), CONF_LINE_MAX - 8);
	assert_int_equal(c.tunnels[0].line, 3);
	assert_int_equal(conf_parse(&c, "[tunnel a]\nexpose = 1\nport = 2\0\n",
				    sizeof("[tunnel a]\nexpose = 1\nport = 2\0\n") - 1),
			 -1);
	assert_int_equal(c.err_line, 3);
	assert_string_equal(c.err, "a NUL byte in the line");
}

static void
test_names(void **state)
{
	char out[16];

	(void)state;
	assert_int_equal(parse("[tunnel web]\nexpose = 1\n[tunnel api]\nexpose = 2\n[tunnel db]\npull = 3\n"),
			 0);
	assert_string_equal(conf_names(&c, out, sizeof(out)), "web, api, db");
	assert_string_equal(conf_names(&c, out, 10), "web, a...");
	assert_int_equal(parse(""), 0);
	assert_string_equal(conf_names(&c, out, sizeof(out)), "");
	assert_string_equal(conf_kind_name(CONF_SOCKS), "socks");
}

/* conf_edit() of text with url (NULL: kept) and token equals want, and the result parses. */
static void
edited(const char *text, const char *url, const char *token, const char *want)
{
	size_t n;
	char *out;

	assert_int_equal(parse(text), 0);
	out = conf_edit(&c, text, strlen(text), url, token, &n);
	assert_non_null(out);
	assert_int_equal(n, strlen(out));
	if (strcmp(out, want) != 0)
		fail_msg("edited:\n%s\nwanted:\n%s", out, want);
	assert_int_equal(parse(out), 0);
	assert_string_equal(c.set[CONF_TOKEN], token);
	free(out);
}

static void
test_edit(void **state)
{
	(void)state;
	edited("", "ws://a:1", "t1", "url = ws://a:1\ntoken = t1\n");
	edited("# mine\nca-file = /ca\n[tunnel web]\nexpose = 3000\n", "ws://a", "t2",
	       "url = ws://a\ntoken = t2\n# mine\nca-file = /ca\n[tunnel web]\nexpose = 3000\n");
	edited("# mine\nca-file = /ca\ntoken-file = /t\nurl = ws://old\n\n[tunnel web]\nexpose = 3000",
	       "ws://new", "t3",
	       "# mine\nca-file = /ca\nurl = ws://new\ntoken = t3\n\n[tunnel web]\nexpose = 3000");
	edited("url = ws://kept\r\ntoken = old\r\n[tunnel web]\r\nexpose = 1\r\n", NULL, "t4",
	       "url = ws://kept\r\ntoken = t4\n[tunnel web]\r\nexpose = 1\r\n");
	assert_string_equal(c.set[CONF_URL], "ws://kept");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good),         cmocka_unit_test(test_kinds),
		cmocka_unit_test(test_syntax_error), cmocka_unit_test(test_unknown_key),
		cmocka_unit_test(test_duplicates),   cmocka_unit_test(test_section_shape),
		cmocka_unit_test(test_bad_values),   cmocka_unit_test(test_long_line),
		cmocka_unit_test(test_names),        cmocka_unit_test(test_edit),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
