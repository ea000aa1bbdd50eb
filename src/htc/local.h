/*
 * local.h: the local side of EXPOSE streams in htc: each stream is one
 * HTTP request (or upgrade) to the local service, written with correct
 * framing on a pooled keep-alive connection; the response head goes back
 * as STREAM_RESPONSE_HEAD and the body as DATA with credit.
 */
#ifndef HTC_LOCAL_H
#define HTC_LOCAL_H

#include <stddef.h>
#include <stdint.h>

#include "client.h"
#include "json.h"
#include "stream.h"

/*
 * Serve the EXPOSE stream s (just opened in c->mux, its STREAM_OPEN parsed
 * into doc, which need live only during the call) against binding b's
 * local address. Takes the stream over
 * (sets s->ops and s->owner); peer is the visitor's address as the
 * daemon gave it (for c->cap). Returns 0, or -1 when it could not start
 * (the caller then resets the stream unless it is already closed).
 * Invalid method, target or headers (CR, LF, NUL, non-token bytes) are
 * refused with a RESET and never written to the local service.
 */
int local_http_open(struct client *c, struct client_binding *b, struct stream *s, const struct json_doc *doc,
		    const char *peer);

/* Close every pooled connection and free local state (client exit). */
void local_http_fini(struct client *c);

#endif
