/*
 * api.h: the control-plane handlers: health, tunnels, sessions, bindings,
 * metrics, DELETE session, and the probes. Each fills a response; ctl.c
 * writes it. Bodies are bare JSON objects; errors are {"error":"..."}.
 */
#ifndef HT_API_H
#define HT_API_H

#include <stddef.h>

#include "buf.h"
#include "daemon.h"
#include "http1.h"

struct api_response {
	int status;
	const char *content_type;
	struct buf *body;          /* the caller's buffer, reset by api_handle */
	const char *extra_headers; /* lines ending in CRLF, or NULL */
};

/* Answer the request (method, target, headers) into res. */
void api_handle(struct daemon *d, const struct http1_request *rq, struct api_response *res);

#endif
