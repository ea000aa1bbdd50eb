/*
 * test_inspect_api.c: the inspector API's JSON, field by field against
 * ngrok's shapes (tunnels; requests with id, uri, tunnel_name,
 * remote_addr, start, duration, request and response with headers as
 * objects of arrays under canonical names and raw as base64), limit and
 * tunnel_name filters, the summary of the live list, the replay body and
 * ids; and the inspector's Host and Origin rules.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "htc/capture.h"
#include "htc/inspect.h"
#include "htc/inspect_api.h"
#include "json.h"
#include "util.h"

static const char req_head[] =
	"POST /hook?x=1 HTTP/1.1\r\nHost: demo.example\r\ncontent-type: application/json\r\n"
	"X-Dup: a\r\nx-dup: b\r\nContent-Length: 7\r\n\r\n";
static const char resp_head[] = "HTTP/1.1 201 Created\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\n"
				"Content-Length: 2\r\n\r\n";

static const struct inspect_api_tunnel tunnels[] = {
	{ "3000", "https://3000.example.com", "https", "http://127.0.0.1:3000" },
	{ "demo", "", "http", "http://127.0.0.1:8080" },
};

struct fixture {
	struct capture cap;
	struct inspect_api_ctx ctx;
	struct buf out;
	struct json_tok toks[2048];
	struct json_doc doc;
};

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	uint64_t id;

	assert_int_equal(capture_init(&f->cap, 10, 4), 0);
	id = capture_open(&f->cap, 1, "203.0.113.9:5555", 0);
	capture_req_head(&f->cap, id, req_head, strlen(req_head));
	capture_req_body(&f->cap, id, "{\"a\":1}", 7);
	capture_resp_head(&f->cap, id, resp_head, strlen(resp_head));
	capture_resp_body(&f->cap, id, "ok", 2);
	capture_done(&f->cap, id, 201, NULL);
	id = capture_open(&f->cap, 0, "198.51.100.1:1", 1);
	capture_req_head(&f->cap, id, "GET / HTTP/1.1\r\nHost: x\r\n\r\n", 27);
	capture_done(&f->cap, id, 502, "local connect refused");
	f->ctx = (struct inspect_api_ctx){ &f->cap, tunnels, 2 };
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	capture_fini(&f->cap);
	buf_fini(&f->out);
	free(f);
	return 0;
}

static void
parse(struct fixture *f)
{
	memset(&f->doc, 0, sizeof(f->doc));
	assert_int_equal(json_parse(&f->doc, (const char *)f->out.pos, buf_len(&f->out), f->toks, 2048, NULL),
			 0);
}

static void
str_is(struct fixture *f, int obj, const char *key, const char *want)
{
	char got[2048];

	assert_true(json_obj_get_str(&f->doc, obj, key, got, sizeof(got)) >= 0);
	assert_string_equal(got, want);
}

static void
int_is(struct fixture *f, int obj, const char *key, int64_t want)
{
	int64_t v;

	assert_int_equal(json_obj_get_int(&f->doc, obj, key, &v), 0);
	assert_int_equal(v, want);
}

static void
test_tunnels(void **state)
{
	struct fixture *f = *state;
	int t, cfg;

	assert_int_equal(inspect_api_tunnels(&f->ctx, &f->out), 0);
	parse(f);
	str_is(f, 0, "uri", "/api/tunnels");
	t = json_get(&f->doc, 0, "tunnels");
	assert_int_equal(json_type(&f->doc, t), JSON_ARRAY);
	t = json_first(&f->doc, t);
	str_is(f, t, "name", "3000");
	str_is(f, t, "public_url", "https://3000.example.com");
	str_is(f, t, "proto", "https");
	cfg = json_get(&f->doc, t, "config");
	str_is(f, cfg, "addr", "http://127.0.0.1:3000");
}

static void
test_request_shape(void **state)
{
	struct fixture *f = *state;
	const struct capture_ex *x = capture_get(&f->cap, 1);
	int q, r, h, a;
	char raw[1024];
	uint8_t dec[1024];
	ssize_t n;
	bool tr;

	assert_int_equal(inspect_api_request(&f->ctx, x, &f->out), 0);
	parse(f);
	str_is(f, 0, "id", "1");
	str_is(f, 0, "uri", "/api/requests/http/1");
	str_is(f, 0, "tunnel_name", "demo");
	str_is(f, 0, "remote_addr", "203.0.113.9:5555");
	assert_int_equal(json_type(&f->doc, json_get(&f->doc, 0, "start")), JSON_STRING);
	assert_int_equal(json_type(&f->doc, json_get(&f->doc, 0, "duration")), JSON_NUMBER);
	assert_true(json_is_null(&f->doc, json_get(&f->doc, 0, "replay_of")));
	q = json_get(&f->doc, 0, "request");
	str_is(f, q, "method", "POST");
	str_is(f, q, "proto", "HTTP/1.1");
	str_is(f, q, "uri", "/hook?x=1");
	h = json_get(&f->doc, q, "headers");
	a = json_get(&f->doc, h, "Content-Type");
	assert_int_equal(json_type(&f->doc, a), JSON_ARRAY);
	assert_true(json_string_eq(&f->doc, json_first(&f->doc, a), "application/json"));
	a = json_get(&f->doc, h, "X-Dup");
	assert_int_equal(f->doc.toks[a].count, 2);
	assert_true(json_string_eq(&f->doc, json_next(&f->doc, a, json_first(&f->doc, a)), "b"));
	/* raw: the head and the first 4 bytes of the body (the cap) */
	n = json_obj_get_str(&f->doc, q, "raw", raw, sizeof(raw));
	n = util_base64_decode(dec, sizeof(dec), raw, (size_t)n);
	assert_int_equal(n, strlen(req_head) + 4);
	assert_memory_equal(dec + strlen(req_head), "{\"a\"", 4);
	int_is(f, q, "body_size", 7);
	assert_int_equal(json_obj_get_bool(&f->doc, q, "truncated", &tr), 0);
	assert_true(tr);
	r = json_get(&f->doc, 0, "response");
	str_is(f, r, "status", "201 Created");
	int_is(f, r, "status_code", 201);
	str_is(f, r, "proto", "HTTP/1.1");
	a = json_get(&f->doc, json_get(&f->doc, r, "headers"), "Set-Cookie");
	assert_int_equal(f->doc.toks[a].count, 2);
	assert_int_equal(json_obj_get_bool(&f->doc, r, "truncated", &tr), 0);
	assert_false(tr);
	assert_true(json_is_null(&f->doc, json_get(&f->doc, 0, "error")));
}

static void
test_list_limit_filter(void **state)
{
	struct fixture *f = *state;
	int l, e;

	assert_int_equal(inspect_api_requests(&f->ctx, 0, NULL, &f->out), 0);
	parse(f);
	str_is(f, 0, "uri", "/api/requests/http");
	l = json_get(&f->doc, 0, "requests");
	assert_int_equal(f->doc.toks[l].count, 2);
	e = json_first(&f->doc, l);
	str_is(f, e, "id", "2"); /* newest first */
	str_is(f, e, "replay_of", "1");
	str_is(f, e, "error", "local connect refused");
	assert_true(json_is_null(&f->doc, json_get(&f->doc, e, "response")));
	buf_reset(&f->out, 0);
	assert_int_equal(inspect_api_requests(&f->ctx, 1, NULL, &f->out), 0);
	parse(f);
	assert_int_equal(f->doc.toks[json_get(&f->doc, 0, "requests")].count, 1);
	buf_reset(&f->out, 0);
	assert_int_equal(inspect_api_requests(&f->ctx, 0, "demo", &f->out), 0);
	parse(f);
	l = json_get(&f->doc, 0, "requests");
	assert_int_equal(f->doc.toks[l].count, 1);
	str_is(f, json_first(&f->doc, l), "tunnel_name", "demo");
}

static void
test_summary(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(inspect_api_summary(&f->ctx, capture_get(&f->cap, 1), &f->out), 0);
	parse(f);
	str_is(f, 0, "id", "1");
	str_is(f, 0, "method", "POST");
	str_is(f, 0, "uri", "/hook?x=1");
	int_is(f, 0, "status_code", 201);
	int_is(f, 0, "size", 2);
	str_is(f, 0, "tunnel_name", "demo");
}

static void
test_ids_and_replay_body(void **state)
{
	uint64_t id = 0;
	char name[32];

	(void)state;
	assert_int_equal(inspect_api_parse_replay("{\"id\":\"12\"}", 11, &id), 0);
	assert_int_equal(id, 12);
	assert_int_equal(inspect_api_parse_replay("{\"id\":7}", 8, &id), 0);
	assert_int_equal(id, 7);
	assert_int_equal(inspect_api_parse_replay("{\"id\":\"x\"}", 10, &id), -1);
	assert_int_equal(inspect_api_parse_replay("{\"id\":0}", 8, &id), -1);
	assert_int_equal(inspect_api_parse_replay("[1]", 3, &id), -1);
	assert_int_equal(inspect_api_parse_replay("", 0, &id), -1);
	assert_int_equal(inspect_api_parse_id("00", 2, &id), -1);
	assert_int_equal(inspect_api_parse_id("99999999999999999999", 20, &id), -1);
	inspect_api_canonical("x-FORWARDED-for", 15, name);
	assert_string_equal(name, "X-Forwarded-For");
}

static void
test_host_origin(void **state)
{
	(void)state;
	assert_true(inspect_host_ok("127.0.0.1:4040", 14, 4040));
	assert_true(inspect_host_ok("localhost:4040", 14, 4040));
	assert_true(inspect_host_ok("[::1]:4041", 10, 4041));
	assert_false(inspect_host_ok("127.0.0.1:4041", 14, 4040));
	assert_false(inspect_host_ok("evil.example:4040", 17, 4040)); /* DNS rebinding */
	assert_false(inspect_host_ok("127.0.0.1", 9, 4040));
	assert_false(inspect_host_ok("", 0, 4040));
	assert_false(inspect_host_ok(":4040", 5, 4040));
	assert_true(inspect_origin_ok("http://127.0.0.1:4040", 21, "127.0.0.1:4040", 14));
	assert_false(inspect_origin_ok("http://evil.example", 19, "127.0.0.1:4040", 14));
	assert_false(inspect_origin_ok("null", 4, "127.0.0.1:4040", 14));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_tunnels, setup, teardown),
		cmocka_unit_test_setup_teardown(test_request_shape, setup, teardown),
		cmocka_unit_test_setup_teardown(test_list_limit_filter, setup, teardown),
		cmocka_unit_test_setup_teardown(test_summary, setup, teardown),
		cmocka_unit_test(test_ids_and_replay_body),
		cmocka_unit_test(test_host_origin),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
