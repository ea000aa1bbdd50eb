/*
 * cmd_admin.c: htc's admin commands: health, list, sessions, bindings,
 * metrics, kill. Each is one HTTP request to the daemon's control plane
 * (httpc.h) under URL_ADMIN_PREFIX; the JSON answer is printed as a table
 * (print.h), or as received with --json. The token is sent as a Bearer
 * credential on every request when one is known (the daemon asks for it on
 * reads from other hosts, and from its own with --admin-auth all) and
 * never printed.
 *
 * A field the daemon did not send shows as "-": an older or newer daemon
 * still gives a readable table. Not here: watching (repeat every N s),
 * sorting, filtering.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "htc.h"
#include "httpc.h"
#include "print.h"
#include "json.h"
#include "util.h"

#define ADMIN_TARGET_MAX 512
#define ADMIN_SESSION_ID_MAX 128 /* longest session id accepted for kill */
#define ADMIN_GRACE_MAX 5000     /* --grace-ms upper bound, as the daemon's */
#define ADMIN_ERROR_TEXT_MAX 200 /* bytes of a non-JSON error body shown */
#define ADMIN_CELL_MAX 256       /* longest string cell taken from the JSON */

/* ---- request and errors ----------------------------------------------------- */

/* The reason text of an error answer: {"error":"..."} or the body's first line. */
static void
error_text(const struct httpc_response *res, char *out, size_t cap)
{
	struct json_tok toks[16];
	struct json_doc doc;
	size_t n;

	out[0] = '\0';
	if (json_parse(&doc, res->body, res->body_len, toks, UTIL_ARRAY_SIZE(toks), NULL) == 0 &&
	    json_obj_get_str(&doc, 0, "error", out, cap) >= 0)
		return;
	out[0] = '\0';
	if (doc.err == JSON_OK || res->body_len == 0)
		return; /* valid JSON without an error member: nothing to add */
	n = strcspn(res->body, "\r\n");
	if (n > ADMIN_ERROR_TEXT_MAX)
		n = ADMIN_ERROR_TEXT_MAX;
	if (n >= cap)
		n = cap - 1;
	memcpy(out, res->body, n);
	out[n] = '\0';
}

/*
 * Send method to admin endpoint name; on a 2xx answer return 0 with res
 * filled (caller releases it). Else print why and return HTC_EXIT_FAIL.
 */
static int
admin_call(const struct htc_opts *o, const char *method, const char *name, struct httpc_response *res)
{
	char target[ADMIN_TARGET_MAX], err[HTTPC_ERR_MAX], text[ADMIN_ERROR_TEXT_MAX + 1];

	if (url_admin_target(&o->u, name, target, sizeof(target)) < 0) {
		print_err("%s %s: request target too long", method, name);
		return HTC_EXIT_FAIL;
	}
	if (httpc_request(&o->u, method, target, o->token, HTTPC_TIMEOUT_MS, res, err, sizeof(err)) < 0) {
		print_err("%s %s: %s", method, target, err);
		return HTC_EXIT_FAIL;
	}
	if (res->status >= 200 && res->status <= 299)
		return 0;
	error_text(res, text, sizeof(text));
	print_scrub(text);
	print_err("%s %s: %d %s%s%s%s", method, target, res->status, res->reason, *text ? ": " : "", text,
		  res->status == 401 && o->token == NULL ? " (no token given: use --token, --token-file or "
							   "HOODY_TUNNEL_TOKEN)"
							 : "");
	httpc_response_fini(res);
	return HTC_EXIT_FAIL;
}

/* Commands without arguments refuse any. */
static int
no_args(const char *cmd, int argc, char **argv)
{
	if (argc == 0)
		return 0;
	print_err("%s: unexpected argument '%s'", cmd, argv[0]);
	return HTC_EXIT_USAGE;
}

/*
 * Parse res's body into doc with a token array grown as needed (*toks,
 * caller frees). 0, or HTC_EXIT_FAIL after printing why.
 */
static int
parse_body(const char *what, const struct httpc_response *res, struct json_doc *doc, struct json_tok **toks)
{
	struct json_limits lim = { .max_depth = 16, .max_size = HTTPC_BODY_MAX };
	size_t n = 256;
	int rc;

	*toks = NULL;
	for (;;) {
		struct json_tok *t = realloc(*toks, n * sizeof(*t));
		if (t == NULL) {
			print_err("%s: out of memory", what);
			return HTC_EXIT_FAIL;
		}
		*toks = t;
		rc = json_parse(doc, res->body, res->body_len, t, n, &lim);
		if (rc != JSON_ERR_TOKENS || n > res->body_len)
			break;
		n *= 4;
	}
	if (rc == 0 && json_type(doc, 0) == JSON_OBJECT)
		return 0;
	print_err("%s: the daemon's answer is not a JSON object (%s at byte %zu)", what,
		  rc ? json_strerror(rc) : "other type", rc ? doc->err_off : 0);
	return HTC_EXIT_FAIL;
}

/* ---- cells from JSON --------------------------------------------------------- */

/* String member key of obj (or a number's text) as the next cell; "-" when missing. */
static void
cell_str(struct print_table *t, const struct json_doc *d, int obj, const char *key)
{
	char s[ADMIN_CELL_MAX];
	int v = json_get(d, obj, key);

	if (json_type(d, v) == JSON_NUMBER) {
		const struct json_tok *k = &d->toks[v];
		print_table_cellf(t, "%.*s", (int)(k->end - k->start), d->text + k->start);
	} else if (json_get_string(d, v, s, sizeof(s)) >= 0) {
		print_table_cell(t, s);
	} else {
		print_table_cell(t, "-");
	}
}

/* Integer member key of obj as the next cell; "-" when missing. */
static void
cell_int(struct print_table *t, const struct json_doc *d, int obj, const char *key)
{
	int64_t v;

	if (json_obj_get_int(d, obj, key, &v) == JSON_GET_OK)
		print_table_cellf(t, "%lld", (long long)v);
	else
		print_table_cell(t, "-");
}

/* A binding's port (member port_key), or its host route's name ("demo.", "@"): 0, or -1 for neither. */
static int
route_text(const struct json_doc *d, int b, const char *port_key, char *out, size_t cap)
{
	char name[72];
	int64_t port;

	if (json_obj_get_int(d, b, port_key, &port) == JSON_GET_OK) {
		snprintf(out, cap, "%lld", (long long)port);
		return 0;
	}
	if (json_obj_get_str(d, b, "subdomain", name, sizeof(name)) > 0) {
		snprintf(out, cap, "%s%s", name, strcmp(name, "@") == 0 ? "" : ".");
		return 0;
	}
	return -1;
}

/* A binding's port, or its host route's name, as a cell; "-" for neither. */
static void
cell_route(struct print_table *t, const struct json_doc *d, int obj, const char *port_key)
{
	char where[80];

	print_table_cell(t, route_text(d, obj, port_key, where, sizeof(where)) == 0 ? where : "-");
}

/* Print t (bold header on a terminal) and free it. */
static int
table_done(const struct htc_opts *o, struct print_table *t)
{
	int rc = print_table_write(t, stdout, o->bold);

	print_table_fini(t);
	if (rc < 0) {
		print_err("writing the table: %s", strerror(-rc));
		return HTC_EXIT_FAIL;
	}
	return HTC_EXIT_OK;
}

/*
 * The ports of the bindings in array member key of obj, comma-separated
 * ("3000,5432"), into a cell; "-" when there are none. port_key names the
 * port field; with kind_key the kind goes in front ("expose:3000").
 */
static void
cell_ports(struct print_table *t, const struct json_doc *d, int obj, const char *key, const char *port_key,
	   const char *kind_key)
{
	char line[ADMIN_CELL_MAX] = "", kind[32];
	int arr = json_get(d, obj, key), b;
	size_t len = 0;

	for (b = json_first(d, arr); b >= 0 && len < sizeof(line); b = json_next(d, arr, b)) {
		const char *sep = len ? "," : "";
		char where[80];
		int n;

		if (route_text(d, b, port_key, where, sizeof(where)) < 0)
			continue;
		if (kind_key != NULL && json_obj_get_str(d, b, kind_key, kind, sizeof(kind)) >= 0)
			n = snprintf(line + len, sizeof(line) - len, "%s%s:%s", sep, kind, where);
		else
			n = snprintf(line + len, sizeof(line) - len, "%s%s", sep, where);
		if (n < 0)
			break;
		len += (size_t)n;
	}
	print_table_cell(t, len ? line : "-");
}

/* ---- health ------------------------------------------------------------------ */

/* The "started" member as a cell, and the uptime since then as the next one. */
static void
cell_started(struct print_table *t, const struct json_doc *d)
{
	char s[64], up[32];
	time_t then, now = time(NULL);

	if (json_obj_get_str(d, 0, "started", s, sizeof(s)) < 0) {
		print_table_cell(t, "-");
		print_table_cell(t, "-");
		return;
	}
	print_table_cell(t, s);
	if (print_parse_rfc3339(s, &then) == 0 && now >= then) {
		/* whole seconds: "started" has no finer resolution */
		if (now - then < 60)
			snprintf(up, sizeof(up), "%llds", (long long)(now - then));
		else
			print_duration(up, sizeof(up), (uint64_t)(now - then) * 1000);
		print_table_cell(t, up);
	} else {
		print_table_cell(t, "-");
	}
}

static int
show_health(const struct htc_opts *o, const struct json_doc *d)
{
	static const char *const head[] = { "STATUS", "VERSION", "STARTED", "UPTIME", "PID", "FDS", "RSS" };
	struct print_table t;
	char rss[32];
	int64_t v;
	size_t i;

	print_table_init(&t, UTIL_ARRAY_SIZE(head));
	for (i = 0; i < UTIL_ARRAY_SIZE(head); i++)
		print_table_cell(&t, head[i]);
	cell_str(&t, d, 0, "status");
	cell_str(&t, d, 0, "version");
	cell_started(&t, d);
	cell_int(&t, d, 0, "pid");
	cell_int(&t, d, 0, "fds");
	if (json_obj_get_int(d, json_get(d, 0, "memory"), "rss", &v) == JSON_GET_OK && v >= 0) {
		print_size(rss, sizeof(rss), (uint64_t)v);
		print_table_cell(&t, rss);
	} else {
		print_table_cell(&t, "-");
	}
	return table_done(o, &t);
}

/* ---- list, sessions, bindings ------------------------------------------------ */

static int
show_list(const struct htc_opts *o, const struct json_doc *d)
{
	static const char *const head[] = { "SESSION", "PEER", "PROTO", "STREAMS", "EXPOSE", "PULL" };
	struct print_table t;
	int arr = json_get(d, 0, "sessions"), s, rc;
	int64_t n[4];
	static const char *const keys[4] = { "orphanedSessions", "totalStreams", "totalBindings",
					     "fdPermitsAvailable" };
	size_t i;

	print_table_init(&t, UTIL_ARRAY_SIZE(head));
	print_table_right(&t, 3);
	for (i = 0; i < UTIL_ARRAY_SIZE(head); i++)
		print_table_cell(&t, head[i]);
	for (s = json_first(d, arr); s >= 0; s = json_next(d, arr, s)) {
		cell_str(&t, d, s, "sessionId");
		cell_str(&t, d, s, "peerAddr");
		cell_str(&t, d, s, "protocol");
		cell_int(&t, d, s, "activeStreams");
		cell_ports(&t, d, s, "exposeBindings", "containerPort", NULL);
		cell_ports(&t, d, s, "pullBindings", "containerPort", NULL);
	}
	if ((rc = table_done(o, &t)) != HTC_EXIT_OK)
		return rc;
	for (i = 0; i < 4; i++)
		if (json_obj_get_int(d, 0, keys[i], &n[i]) != JSON_GET_OK)
			n[i] = -1;
	printf("%d session(s), %lld orphaned, %lld stream(s), %lld binding(s), %lld fd permit(s) available\n",
	       json_type(d, arr) == JSON_ARRAY ? (int)d->toks[arr].count : 0, (long long)n[0],
	       (long long)n[1], (long long)n[2], (long long)n[3]);
	return HTC_EXIT_OK;
}

static int
show_sessions(const struct htc_opts *o, const struct json_doc *d)
{
	static const char *const head[] = { "ID", "PEER", "V2", "CONNS", "STREAMS", "BINDINGS" };
	struct print_table t;
	int arr = json_get(d, 0, "sessions"), s;
	int64_t active, max;
	bool v2;
	size_t i;

	print_table_init(&t, UTIL_ARRAY_SIZE(head));
	print_table_right(&t, 3);
	print_table_right(&t, 4);
	for (i = 0; i < UTIL_ARRAY_SIZE(head); i++)
		print_table_cell(&t, head[i]);
	for (s = json_first(d, arr); s >= 0; s = json_next(d, arr, s)) {
		cell_str(&t, d, s, "sessionId");
		cell_str(&t, d, s, "peerAddr");
		if (json_obj_get_bool(d, s, "isV2", &v2) == JSON_GET_OK)
			print_table_cell(&t, v2 ? "yes" : "no");
		else
			print_table_cell(&t, "-");
		cell_int(&t, d, s, "connectionsGranted");
		if (json_obj_get_int(d, s, "activeStreams", &active) == JSON_GET_OK &&
		    json_obj_get_int(d, s, "maxStreams", &max) == JSON_GET_OK)
			print_table_cellf(&t, "%lld/%lld", (long long)active, (long long)max);
		else
			print_table_cell(&t, "-");
		cell_ports(&t, d, s, "bindings", "containerPort", "kind");
	}
	return table_done(o, &t);
}

static int
show_bindings(const struct htc_opts *o, const struct json_doc *d)
{
	static const char *const head[] = { "SESSION", "BIND", "KIND", "MODE", "PORT" };
	struct print_table t;
	int arr = json_get(d, 0, "bindings"), b;
	size_t i;

	print_table_init(&t, UTIL_ARRAY_SIZE(head));
	print_table_right(&t, 1);
	print_table_right(&t, 4);
	for (i = 0; i < UTIL_ARRAY_SIZE(head); i++)
		print_table_cell(&t, head[i]);
	for (b = json_first(d, arr); b >= 0; b = json_next(d, arr, b)) {
		cell_str(&t, d, b, "sessionId");
		cell_str(&t, d, b, "bindId");
		cell_str(&t, d, b, "kind");
		cell_str(&t, d, b, "mode");
		cell_route(&t, d, b, "port");
	}
	return table_done(o, &t);
}

/* GET endpoint name, then --json pass-through or show() on the parsed object. */
static int
get_and_show(struct htc_opts *o, const char *cmd, const char *name, int argc, char **argv,
	     int (*show)(const struct htc_opts *, const struct json_doc *))
{
	struct httpc_response res;
	struct json_tok *toks = NULL;
	struct json_doc doc;
	int rc;

	if ((rc = no_args(cmd, argc, argv)) != 0)
		return rc;
	if ((rc = admin_call(o, "GET", name, &res)) != 0)
		return rc;
	if (o->json || show == NULL) {
		rc = print_raw(stdout, res.body, res.body_len) < 0 ? HTC_EXIT_FAIL : HTC_EXIT_OK;
	} else {
		rc = parse_body(cmd, &res, &doc, &toks);
		if (rc == 0)
			rc = show(o, &doc);
	}
	free(toks);
	httpc_response_fini(&res);
	return rc;
}

/* see htc.h */
int
cmd_health(struct htc_opts *o, int argc, char **argv)
{
	return get_and_show(o, "health", "health", argc, argv, show_health);
}

/* see htc.h */
int
cmd_list(struct htc_opts *o, int argc, char **argv)
{
	return get_and_show(o, "list", "tunnels", argc, argv, show_list);
}

/* see htc.h */
int
cmd_sessions(struct htc_opts *o, int argc, char **argv)
{
	return get_and_show(o, "sessions", "sessions", argc, argv, show_sessions);
}

/* see htc.h */
int
cmd_bindings(struct htc_opts *o, int argc, char **argv)
{
	return get_and_show(o, "bindings", "bindings", argc, argv, show_bindings);
}

/* see htc.h */
int
cmd_metrics(struct htc_opts *o, int argc, char **argv)
{
	return get_and_show(o, "metrics", "metrics", argc, argv, NULL);
}

/* ---- kill --------------------------------------------------------------------- */

/* Percent-encode id into out as a path segment (RFC 3986 unreserved kept). 0 or -1. */
static int
encode_segment(const char *id, char *out, size_t cap)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t n = 0;

	for (; *id != '\0'; id++) {
		unsigned char c = (unsigned char)*id;
		if (n + 4 > cap)
			return -1;
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
		    c == '.' || c == '_' || c == '~') {
			out[n++] = (char)c;
		} else {
			out[n++] = '%';
			out[n++] = hex[c >> 4];
			out[n++] = hex[c & 15];
		}
	}
	out[n] = '\0';
	return 0;
}

/* kill's arguments: SESSION_ID and --grace-ms N / --grace-ms=N. 0 or HTC_EXIT_USAGE. */
static int
kill_args(int argc, char **argv, const char **id, int64_t *grace)
{
	int i, opts = 1;
	uint64_t g;

	*id = NULL;
	*grace = -1;
	for (i = 0; i < argc; i++) {
		const char *a = argv[i], *v = NULL;
		if (opts && strcmp(a, "--") == 0) {
			opts = 0;
			continue;
		}
		if (opts && strcmp(a, "--grace-ms") == 0) {
			if (++i >= argc)
				return print_err("kill: --grace-ms needs a value"), HTC_EXIT_USAGE;
			v = argv[i];
		} else if (opts && strncmp(a, "--grace-ms=", 11) == 0) {
			v = a + 11;
		} else if (opts && a[0] == '-' && a[1] != '\0') {
			return print_err("kill: unknown option %s", a), HTC_EXIT_USAGE;
		} else if (*id == NULL) {
			*id = a;
			continue;
		} else {
			return print_err("kill: unexpected argument '%s'", a), HTC_EXIT_USAGE;
		}
		if (util_parse_uint(v, ADMIN_GRACE_MAX, &g) < 0)
			return print_err("kill: --grace-ms must be 0..%d", ADMIN_GRACE_MAX), HTC_EXIT_USAGE;
		*grace = (int64_t)g;
	}
	if (*id == NULL || **id == '\0')
		return print_err("kill: missing SESSION_ID"), HTC_EXIT_USAGE;
	return 0;
}

/* see htc.h */
int
cmd_kill(struct htc_opts *o, int argc, char **argv)
{
	char seg[3 * ADMIN_SESSION_ID_MAX + 1], name[sizeof(seg) + 64];
	struct httpc_response res;
	const char *id;
	int64_t grace;
	int rc;

	if ((rc = kill_args(argc, argv, &id, &grace)) != 0)
		return rc;
	if (strlen(id) > ADMIN_SESSION_ID_MAX || encode_segment(id, seg, sizeof(seg)) < 0)
		return print_err("kill: SESSION_ID longer than %d bytes", ADMIN_SESSION_ID_MAX),
		       HTC_EXIT_USAGE;
	if (o->token == NULL)
		return print_err("kill: needs the token (--token, --token-file or HOODY_TUNNEL_TOKEN)"),
		       HTC_EXIT_USAGE;
	if (grace >= 0)
		snprintf(name, sizeof(name), "sessions/%s?grace_ms=%lld", seg, (long long)grace);
	else
		snprintf(name, sizeof(name), "sessions/%s", seg);
	if ((rc = admin_call(o, "DELETE", name, &res)) != 0)
		return rc;
	if (o->json)
		rc = print_raw(stdout, res.body, res.body_len) < 0 ? HTC_EXIT_FAIL : HTC_EXIT_OK;
	else if (!o->quiet)
		printf("session %s closing\n", id);
	httpc_response_fini(&res);
	return rc;
}
