/*
 * replay.h: send a captured request to the local service again (the
 * inspector's Replay, POST /api/requests/http).
 *
 * The request goes on a new connection to the binding's local address:
 * the captured method, target and header fields in their order, the
 * captured body with "Content-Length" (the original framing fields and
 * Connection dropped, "Connection: close" added). The new exchange is
 * captured like any other, with replay_of set, so the inspector shows it
 * as soon as the response is complete (or failed, or timed out after
 * REPLAY_TIMEOUT_MS). Nothing goes through the tunnel.
 *
 * A replay owns its connection and buffers and frees them itself when it
 * ends; replay_set_fini() ends every one still running (client exit).
 */
#ifndef HTC_REPLAY_H
#define HTC_REPLAY_H

#include <stdint.h>
#include <sys/socket.h>

#include "capture.h"
#include "reactor.h"

#define REPLAY_TIMEOUT_MS 30000
#define REPLAY_MAX 16 /* replays running at once */

struct replay;

/* The replays of one client. */
struct replay_set {
	/* private */
	struct reactor *r;
	struct capture *cap;
	struct replay *head;
	unsigned n;
};

void replay_set_init(struct replay_set *set, struct reactor *r, struct capture *cap);

/* End every running replay (their exchanges say "cancelled"). */
void replay_set_fini(struct replay_set *set);

/*
 * Replay exchange id to the local service at addr. Returns the new
 * exchange's id (> 0), or -ENOENT (no such exchange, or its request head
 * was not captured whole), -EFBIG (its body was cut at the capture cap:
 * it cannot be sent again as it was), -EBUSY (REPLAY_MAX running),
 * -ENOMEM, or the -errno of a connect that failed at once.
 */
int64_t replay_start(struct replay_set *set, uint64_t id, const struct sockaddr_storage *addr, socklen_t len);

#endif
