/*
 * metrics.h: the daemon's counters, histogram and Prometheus text output.
 *
 * One `struct metrics`, owned by the daemon, holds every counter as a plain
 * uint64_t that the code increments directly (`m->frames_sent_total++`)
 * or through the small helpers below for labelled families. Nothing is
 * allocated, locked or looked up per increment: the daemon has one thread.
 * Gauges are not stored here; the daemon fills a `struct metrics_gauges`
 * just before rendering. metrics_render() writes the Prometheus text
 * exposition format 0.0.4, with every labelled series present even at 0,
 * followed by the standard process_* metrics read at render time from
 * /proc/self (families the system cannot provide are left out), and
 * hoody_tunnel_build_info{version,revision,tls="bearssl"} 1: version is
 * HT_VERSION (config.h), revision the git commit the Makefile passes as
 * HT_REVISION ("unknown" when built outside git).
 *
 * The metric names and label values printed here are a contract with
 * dashboards and alerts (DESIGN.md, "Metrics"): change them only with care.
 */
#ifndef HT_METRICS_H
#define HT_METRICS_H

#include <stdint.h>

struct buf;

/* Content-Type of the /api/v1/tunnel/metrics answer. */
#define METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/*
 * RESET / GOAWAY codes 0..14 (PROTOCOL.md section 3) index the code
 * families directly; slot METRICS_CODE_UNKNOWN (label code="UNKNOWN")
 * counts any other u16 a peer might send.
 */
#define METRICS_CODE_COUNT 15
#define METRICS_CODE_UNKNOWN METRICS_CODE_COUNT
#define METRICS_CODE_SLOTS (METRICS_CODE_COUNT + 1)

/* Direction of a RESET frame, label direction="sent|received". */
enum metrics_dir {
	METRICS_SENT,     /* the daemon reset the stream */
	METRICS_RECEIVED, /* the tunnel client reset the stream */
	METRICS_DIR_MAX
};

/* BIND_ERR codes (PROTOCOL.md section 5), label code="INVALID_KIND" etc. */
enum metrics_bind_err {
	METRICS_BIND_INVALID_KIND,      /* bad (kind, mode) pair, takeover on a pull */
	METRICS_BIND_RESERVED_PORT,     /* port < 80 or the control-plane port */
	METRICS_BIND_PRIVILEGED_PORT,   /* 80..1023 without --allow-privileged-* */
	METRICS_BIND_INVALID_HOST,      /* PULL host other than 127.0.0.1 / ::1 */
	METRICS_BIND_ALREADY_BOUND,     /* port held by another binding */
	METRICS_BIND_PORT_IN_USE,       /* port held by something outside the daemon */
	METRICS_BIND_BIND_CAP_EXCEEDED, /* more than --max-bindings-per-session */
	METRICS_BIND_INTERNAL,          /* random-port exhaustion, any server fault */
	METRICS_BIND_INVALID_SUBDOMAIN, /* a subdomain that is not a DNS label or "@" */
	METRICS_BIND_NO_DOMAIN,         /* a subdomain asked of a daemon without --domain */
	METRICS_BIND_ERR_MAX
};

/* FORWARD_ERR codes (doc/FORWARD.md), label code="NOT_ALLOWED" etc. */
enum metrics_fwd_err {
	METRICS_FWD_DISABLED,
	METRICS_FWD_INVALID_TARGET,
	METRICS_FWD_NOT_ALLOWED,
	METRICS_FWD_NAME_NOT_FOUND,
	METRICS_FWD_RESOLVE_FAILED,
	METRICS_FWD_CONNECTION_REFUSED,
	METRICS_FWD_NETWORK_UNREACHABLE,
	METRICS_FWD_HOST_UNREACHABLE,
	METRICS_FWD_TIMEOUT,
	METRICS_FWD_CONNECT_FAILED,
	METRICS_FWD_NO_PERMIT,
	METRICS_FWD_INTERNAL,
	METRICS_FWD_ERR_MAX
};

/* Stream kinds, label kind="tcp|http". */
enum metrics_kind {
	METRICS_KIND_TCP,  /* a PULL connection */
	METRICS_KIND_HTTP, /* an EXPOSE request (or upgrade) */
	METRICS_KIND_MAX
};

/* Why a tunnel WebSocket was turned away before it became a session. */
enum metrics_reject {
	METRICS_REJECT_AUTH,            /* "auth": bad or missing token, GOAWAY(AUTH_ERROR) */
	METRICS_REJECT_PROTOCOL,        /* "protocol": bad JSON or first frame not HELLO */
	METRICS_REJECT_VERSION,         /* "version": HELLO version != subprotocol */
	METRICS_REJECT_UNKNOWN_SESSION, /* "unknown_session": resume of an unknown id */
	METRICS_REJECT_SESSION_CAP,     /* "session_cap": --max-sessions reached */
	METRICS_REJECT_HELLO_TIMEOUT,   /* "hello_timeout": no HELLO within --hello-timeout */
	METRICS_REJECT_PRE_AUTH_CAP,    /* "pre_auth_cap": over --max-pre-auth-connections */
	METRICS_REJECT_JOIN,            /* "join": v2 JOIN with a bad, expired or used ticket */
	METRICS_REJECT_INTERNAL,        /* "internal": no random numbers for the session id or tickets */
	METRICS_REJECT_MAX
};

/* Visitor response classes 1xx..5xx, label class="1xx" etc. */
#define METRICS_STATUS_CLASSES 5

/*
 * Upper bounds (milliseconds) of the EXPOSE time-to-first-byte histogram:
 * 0.001 0.005 0.01 0.025 0.05 0.1 0.25 0.5 1 2.5 5 10 30 seconds, then +Inf.
 */
#define METRICS_TTFB_BUCKETS 13

struct metrics {
	/* sessions: new ones (HELLO_OK resumed:false) and resumed ones */
	uint64_t sessions_opened_total;
	uint64_t sessions_resumed_total;
	/* parked sessions ended to make room for a live HELLO at --max-sessions */
	uint64_t sessions_evicted_total;
	/* streams opened, by enum metrics_kind */
	uint64_t streams_opened_total[METRICS_KIND_MAX];
	/* bytes read from / written to tunnel sockets (WebSocket bytes on the wire) */
	uint64_t bytes_received_total;
	uint64_t bytes_sent_total;
	/* tunnel frames decoded from / queued to tunnel sockets */
	uint64_t frames_received_total;
	uint64_t frames_sent_total;
	/* RESET frames by enum metrics_dir and code slot */
	uint64_t resets_total[METRICS_DIR_MAX][METRICS_CODE_SLOTS];
	/* GOAWAY frames sent, by code slot */
	uint64_t goaways_total[METRICS_CODE_SLOTS];
	/* BIND_ERR answers by enum metrics_bind_err */
	uint64_t bind_errors_total[METRICS_BIND_ERR_MAX];
	/* responses visitors received on EXPOSE ports, [0] = 1xx .. [4] = 5xx */
	uint64_t visitor_responses_total[METRICS_STATUS_CLASSES];
	/* of those, responses to host-routed requests (--domain), and the unknown-host 404s among them */
	uint64_t routed_responses_total[METRICS_STATUS_CLASSES];
	uint64_t unknown_host_total;
	/* forwarded connections (the forward extension): connected, refused by --forward-allow, and
	 * FORWARD_ERR answers by code */
	uint64_t forward_opened_total;
	uint64_t forward_refused_total;
	uint64_t forward_failed_total[METRICS_FWD_ERR_MAX];
	/* connections refused (503 or close) because no FD permit was left */
	uint64_t fd_refusals_total;
	/* tunnel WebSockets rejected before a session, by enum metrics_reject */
	uint64_t handshake_rejections_total[METRICS_REJECT_MAX];
	/* TTFB histogram: per-bucket (not cumulative) counts, last = above 30 s */
	uint64_t ttfb_bucket[METRICS_TTFB_BUCKETS + 1];
	uint64_t ttfb_count;
	uint64_t ttfb_sum_ms;
	/* wall clock at metrics_init, milliseconds since the Unix epoch */
	int64_t start_time_ms;
};

/* Values sampled by the daemon just before rendering. */
struct metrics_gauges {
	int64_t sessions_active;      /* sessions with a live primary socket */
	int64_t bindings_active;      /* EXPOSE and PULL bindings, parked ones included */
	int64_t fd_permits_available; /* FD budget left */
	int64_t orphaned_sessions;    /* sessions parked inside the takeover grace */
	int64_t streams_active;       /* open streams over all sessions */
	int64_t requests_in_flight;   /* EXPOSE requests waiting for or receiving a response */
	int64_t pre_auth_connections; /* tunnel sockets that have not finished HELLO */
};

/* Zero every counter and record the process start time (wall clock). */
void metrics_init(struct metrics *m);

/* Count a response to a host-routed request (also counted by metrics_visitor_response). */
void metrics_routed_response(struct metrics *m, int status);

/* Count a FORWARD_ERR by its code (unknown codes count as INTERNAL). */
void metrics_forward_failed(struct metrics *m, const char *code);

/* Count a host-routed request for a name nobody holds (answered 404). */
void metrics_unknown_host(struct metrics *m);

/* Count a stream opened of the given kind (kind < METRICS_KIND_MAX). */
void metrics_stream_opened(struct metrics *m, enum metrics_kind kind);

/*
 * Count a RESET frame the daemon sent (metrics_reset) or received
 * (metrics_reset_received) with the given u16 code; codes above 14 are
 * counted as code="UNKNOWN".
 */
void metrics_reset(struct metrics *m, unsigned code);
void metrics_reset_received(struct metrics *m, unsigned code);

/* Count a GOAWAY sent with the given code (above 14: code="UNKNOWN"). */
void metrics_goaway(struct metrics *m, unsigned code);

/*
 * Count a BIND_ERR by its wire code name ("PORT_IN_USE", ...). A name
 * that is not one of the eight codes (or NULL) is counted as INTERNAL.
 */
void metrics_bind_error(struct metrics *m, const char *code_name);

/*
 * Count a response a visitor received, by HTTP status, whether it came
 * from the tunnel client or from the daemon itself (401, 404, 502, 503).
 * Statuses outside 100..599 are not counted.
 */
void metrics_visitor_response(struct metrics *m, int status);

/* Count a handshake rejection (why < METRICS_REJECT_MAX). */
void metrics_handshake_rejected(struct metrics *m, enum metrics_reject why);

/*
 * Observe one EXPOSE time to first response byte, in milliseconds: from
 * the visitor's complete request head to the first byte of the response
 * head from the tunnel client. A value of exactly a bound falls in that
 * bound's bucket (le is "less or equal").
 */
void metrics_ttfb_observe(struct metrics *m, uint64_t ms);

/*
 * Append the Prometheus text (format 0.0.4) of m, the gauges g (NULL:
 * every gauge renders as 0) and the process metrics to out, growing it
 * with buf_reserve (no size limit, the headroom in front of the existing
 * content is kept). out may be a zeroed struct buf; the caller frees it
 * with buf_fini. Returns 0, or -ENOMEM / -ENOSPC (a buf_wrap'ed buffer
 * too small), in which case out holds exactly what it held before.
 */
int metrics_render(const struct metrics *m, const struct metrics_gauges *g, struct buf *out);

/* Resident set size of this process in bytes, or -1 where unknown. */
long metrics_rss_bytes(void);

/* Number of open file descriptors of this process, or -1 where unknown. */
int metrics_open_fds(void);

#endif
