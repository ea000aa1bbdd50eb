/*
 * inspect_api.h: the JSON of htc's inspector API, shaped like ngrok's
 * agent API so that scripts written for it work unchanged (inspect.h
 * serves it).
 *
 *   GET /api/tunnels          {"tunnels":[{"name","public_url","proto",
 *                             "config":{"addr","inspect"}}],"uri":"/api/tunnels"}
 *   GET /api/requests/http    {"requests":[EXCHANGE...],"uri":"/api/requests/http"},
 *                             newest first
 *   GET /api/requests/http/ID EXCHANGE
 *
 * EXCHANGE is {"id","uri","tunnel_name","remote_addr","start","duration",
 * "request":{"method","proto","headers","uri","raw"},"response":{"status",
 * "status_code","proto","headers","raw"}} as ngrok writes it: ids are
 * strings, start is RFC 3339 (with milliseconds), duration in nanoseconds,
 * headers an object of arrays under canonical names ("Content-Type"),
 * raw the base64 of the head and the captured body. Added to ngrok's:
 * "replay_of" (the id replayed, or null), "error" (why it failed, or
 * null), and per side "body_size" (bytes in all) and "truncated" (the
 * captured body is shorter, or the head was cut). response is null when
 * no response head came.
 *
 * The live list gets a short form (inspect_api_summary) per exchange.
 *
 * Pure: JSON into a struct buf, nothing else.
 */
#ifndef HTC_INSPECT_API_H
#define HTC_INSPECT_API_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "capture.h"

/* One tunnel (an EXPOSE binding) as the API names it. */
struct inspect_api_tunnel {
	const char *name;       /* "3000" (container port) or the host route's name */
	const char *public_url; /* "" when the daemon gave none */
	const char *proto;      /* "https" or "http" (from public_url), "http" when none */
	const char *addr;       /* the local service: "http://127.0.0.1:3000" */
};

/* The tunnels t[0..n) of a capture; binding i of an exchange is t[i] (when i < n). */
struct inspect_api_ctx {
	const struct capture *cap;
	const struct inspect_api_tunnel *t;
	size_t nt;
};

/* Largest JSON answer built (a list of many big exchanges stops growing there: 503). */
#define INSPECT_API_OUT_MAX (256u << 20)

/* GET /api/tunnels into out. 0, or -ENOMEM. */
int inspect_api_tunnels(const struct inspect_api_ctx *ctx, struct buf *out);

/*
 * GET /api/requests/http into out: the newest limit finished exchanges
 * (0: all), of the tunnel named tunnel_name only when not NULL. 0 or
 * -ENOMEM.
 */
int inspect_api_requests(const struct inspect_api_ctx *ctx, size_t limit, const char *tunnel_name,
			 struct buf *out);

/* GET /api/requests/http/ID: exchange x into out. 0 or -ENOMEM. */
int inspect_api_request(const struct inspect_api_ctx *ctx, const struct capture_ex *x, struct buf *out);

/*
 * The live list's line of x: {"id","tunnel_name","start","duration",
 * "method","uri","status_code","size","replay_of","error"} (size: the
 * response body's bytes). 0 or -ENOMEM.
 */
int inspect_api_summary(const struct inspect_api_ctx *ctx, const struct capture_ex *x, struct buf *out);

/* An id as the API writes it ("12"), digits only, into *id. 0, or -1 when it is not one. */
int inspect_api_parse_id(const char *s, size_t n, uint64_t *id);

/* The body of POST /api/requests/http: {"id":"12"} (a number is taken too). 0 with *id, or -1. */
int inspect_api_parse_replay(const char *body, size_t n, uint64_t *id);

/* Write name[0..n) into out (n + 1 bytes) in canonical form: "content-TYPE" -> "Content-Type". */
void inspect_api_canonical(const char *name, size_t n, char *out);

#endif
