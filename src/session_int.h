/*
 * session_int.h: what session.c, session_hello.c and session_bind.c share,
 * and nobody else.
 *
 * session.c owns tunnel sockets and session lifetimes; session_hello.c
 * answers the handshake frames on top of them, session_bind.c the BIND
 * and UNBIND frames. All run on the reactor thread; none of them frees
 * anything the caller still uses (ends go through deferred frees).
 */
#ifndef HT_SESSION_INT_H
#define HT_SESSION_INT_H

#include <stddef.h>
#include <stdint.h>

#include "metrics.h"
#include "session.h"

/* ---- session.c -------------------------------------------------------- */

void tconn_set_state(struct tconn *tc, enum tconn_state st);
void session_set_state(struct session *s, enum session_state st);

/* Forget the session of a socket (it keeps closing on its own). */
void tconn_detach(struct tconn *tc);

/*
 * GOAWAY(code, reason) on a socket that has no session (rejections),
 * counted, then close (WebSocket 1008 after AUTH_ERROR, 1011 after
 * INTERNAL_ERROR, else 1002). One log line, naming the peer and the reason.
 */
void session_reject(struct tconn *tc, unsigned code, const char *reason, enum metrics_reject why);

/* session_reject, the log line adding detail (a static text, never a secret) after the reason. */
void session_reject_detail(struct tconn *tc, unsigned code, const char *reason, const char *detail,
			   enum metrics_reject why);

/* At --max-sessions: end the session parked longest ago to make room (counted). 1, or 0 when none is parked.
 */
int session_evict_parked(struct daemon *d);

/* The primary socket's tunnel, or NULL while parked. */
struct tunnel *session_primary(const struct session *s);

/*
 * A new ACTIVE session with a fresh random id, linked into the daemon, in
 * *out: 0, -ENOMEM, or the -errno of util_random (no id could be made);
 * on failure nothing was created.
 */
int session_create(struct tconn *tc, struct session **out);

/* GOAWAY(code, reason) and the session ends (not parked); INTERNAL_ERROR closes with WebSocket 1011. */
void session_goaway(struct session *s, unsigned code, const char *reason);

/* Attach tc as the primary socket of s: windows reset, liveness timer running. */
void session_attach_primary(struct session *s, struct tconn *tc);

/* ---- session_hello.c ------------------------------------------------------ */

/* A HELLO on a pre-auth socket: HELLO_OK with a new or resumed session, or a rejection. */
void session_hello_recv(struct tconn *tc, const uint8_t *p, size_t n);

/* A JOIN on a pre-auth v2 socket: JOIN_OK and the socket attached, or JOIN_ERR and close. */
void session_hello_join(struct tconn *tc, const uint8_t *p, size_t n);

/* SHARD_MAP (v2 only) listing the attached socket indices. */
void session_hello_shard_map(struct session *s);

/* REISSUE_JOIN_TICKETS with fresh tickets for every free index. */
void session_hello_reissue(struct session *s);

/* ---- session_bind.c ------------------------------------------------------- */

/* A BIND: the registry decides, BIND_OK or BIND_ERR answers; a takeover tells the old holder. */
void session_bind_recv(struct session *s, const uint8_t *p, size_t n);

/* An UNBIND: UNBIND_OK with the binding released, or UNBIND_ERR. */
void session_bind_unbind(struct session *s, const uint8_t *p, size_t n);

#endif
