/*
 * socks.h: the server side of SOCKS5 (RFC 1928) and SOCKS4/4a, sans-I/O
 * (private to htc; the codec of `htc socks`).
 *
 * One struct socks_parser per client connection takes the bytes the client
 * sends until it names a target: the SOCKS5 greeting, then the SOCKS5
 * request; or a single SOCKS4/4a request (the first byte tells which).
 * Only CONNECT is served, and only the "no authentication required"
 * method. The target is reported as the client gave it: an IPv4 or IPv6
 * address in text form, or a domain name, which is never resolved here
 * (names are resolved on the far side of the tunnel).
 *
 * The parser never allocates, never reads past what it is given, and
 * keeps what it needs of a split field in itself, so the input may arrive
 * cut anywhere. It stops at each message boundary: the bytes after the
 * greeting are the request, and the bytes after the request (a client
 * that sends its first payload without waiting for the reply) are left
 * to the caller, who forwards them once the stream is connected.
 *
 * The encoders write the replies: socks_reply() for the answer to a
 * request (SOCKS5 or SOCKS4), and the events carry the bytes to write for
 * a greeting or a refused request.
 *
 * Not here: authentication methods (GSSAPI, user/password), BIND, UDP
 * ASSOCIATE, sockets, timers.
 */
#ifndef HTC_SOCKS_H
#define HTC_SOCKS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct sockaddr;

#define SOCKS_VERSION_4 4
#define SOCKS_VERSION_5 5

/* Methods of a SOCKS5 greeting (RFC 1928 section 3). */
#define SOCKS_METHOD_NO_AUTH 0x00
#define SOCKS_METHOD_NONE_ACCEPTABLE 0xFF

/* SOCKS5 commands (RFC 1928 section 4); SOCKS4's CD uses 1 and 2 alike. */
enum socks_cmd { SOCKS_CMD_CONNECT = 0x01, SOCKS_CMD_BIND = 0x02, SOCKS_CMD_UDP_ASSOCIATE = 0x03 };

/* Address types of a target. */
enum socks_atyp { SOCKS_ATYP_IPV4 = 0x01, SOCKS_ATYP_DOMAIN = 0x03, SOCKS_ATYP_IPV6 = 0x04 };

/*
 * SOCKS5 reply codes (RFC 1928 section 6). A SOCKS4 reply has only two:
 * SUCCEEDED is sent as 0x5A (granted), every other code as 0x5B
 * (rejected or failed).
 */
enum socks_reply {
	SOCKS_REPLY_SUCCEEDED = 0x00,
	SOCKS_REPLY_GENERAL_FAILURE = 0x01,
	SOCKS_REPLY_NOT_ALLOWED = 0x02, /* connection not allowed by ruleset */
	SOCKS_REPLY_NETWORK_UNREACHABLE = 0x03,
	SOCKS_REPLY_HOST_UNREACHABLE = 0x04,
	SOCKS_REPLY_CONNECTION_REFUSED = 0x05,
	SOCKS_REPLY_TTL_EXPIRED = 0x06, /* sent for timeouts */
	SOCKS_REPLY_COMMAND_NOT_SUPPORTED = 0x07,
	SOCKS_REPLY_ADDRESS_TYPE_NOT_SUPPORTED = 0x08
};

#define SOCKS4_REPLY_GRANTED 0x5A
#define SOCKS4_REPLY_REJECTED 0x5B

/* The longest reply: SOCKS5 with an IPv6 BND.ADDR (4 + 16 + 2 bytes). */
#define SOCKS_REPLY_MAX 22
/* The SOCKS4 reply: VN 0, CD, DSTPORT, DSTIP. */
#define SOCKS4_REPLY_LEN 8
/* The longest domain name, user id (SOCKS4) and method list. */
#define SOCKS_NAME_MAX 255

/* Where the client wants to go. */
struct socks_target {
	enum socks_atyp atyp;
	/*
	 * IPV4: dotted quad ("192.0.2.1"); IPV6: RFC 5952 text
	 * ("2001:db8::1"); DOMAIN: the name as given, 1..255 bytes, no NUL
	 * inside. Always NUL-terminated.
	 */
	char host[SOCKS_NAME_MAX + 1];
	uint16_t port;
};

/*
 * Parser states, in the order a connection goes through them. The SOCKS5
 * path is VERSION, NMETHODS, METHODS, REQUEST, (DOMAIN_LEN), ADDR, PORT,
 * DONE; the SOCKS4 path is VERSION, V4_HEAD, V4_USERID, (V4_DOMAIN), DONE.
 */
enum socks_state {
	SOCKS_ST_VERSION = 0, /* the first byte: 5 (greeting) or 4 (a SOCKS4 request) */
	SOCKS_ST_NMETHODS,    /* SOCKS5 greeting: NMETHODS */
	SOCKS_ST_METHODS,     /* SOCKS5 greeting: NMETHODS method bytes */
	SOCKS_ST_REQUEST,     /* SOCKS5 request: VER CMD RSV ATYP */
	SOCKS_ST_DOMAIN_LEN,  /* SOCKS5 request: the length of a domain name */
	SOCKS_ST_ADDR,        /* SOCKS5 request: 4, 16 or length bytes of DST.ADDR */
	SOCKS_ST_PORT,        /* SOCKS5 request: DST.PORT */
	SOCKS_ST_V4_HEAD,     /* SOCKS4 request: CD DSTPORT DSTIP */
	SOCKS_ST_V4_USERID,   /* SOCKS4 request: USERID up to its NUL */
	SOCKS_ST_V4_DOMAIN,   /* SOCKS4a request: the domain up to its NUL */
	SOCKS_ST_DONE,        /* the target is known; nothing more is consumed */
	SOCKS_ST_FAILED,      /* refused or malformed: close the connection */
	SOCKS_ST_MAX
};

/* What one socks_parse() call found. */
enum socks_event_type {
	SOCKS_EV_NONE = 0, /* every byte was consumed: more input is needed */
	SOCKS_EV_GREETING, /* a SOCKS5 greeting: write reply; method says whether to go on */
	SOCKS_EV_REQUEST,  /* the request: target is set; connect, then socks_reply() */
	SOCKS_EV_ERROR,    /* write reply (if reply_len > 0), then close */
	SOCKS_EV_MAX
};

struct socks_event {
	enum socks_event_type type;
	int version; /* 4 or 5 once the first byte was a known version, else 0 */
	/* GREETING: SOCKS_METHOD_NO_AUTH, or SOCKS_METHOD_NONE_ACCEPTABLE (close after the reply) */
	uint8_t method;
	/* ERROR: why, as the reply code sent (SOCKS_REPLY_GENERAL_FAILURE when nothing is sent) */
	enum socks_reply code;
	/* GREETING, ERROR: the bytes to write now; reply_len 0 means write nothing */
	uint8_t reply[SOCKS_REPLY_MAX];
	size_t reply_len;
	const struct socks_target *target; /* REQUEST: inside the parser, valid as long as it */
};

/* One client connection's progress. Caller-allocated; all fields private. */
struct socks_parser {
	enum socks_state state;
	uint8_t version;
	uint8_t have;          /* bytes of the current field gathered in acc */
	uint8_t need;          /* bytes the current field has */
	uint8_t no_auth;       /* METHODS: 0x00 was offered */
	uint16_t len;          /* V4_USERID, V4_DOMAIN: bytes before the NUL so far */
	uint8_t acc[256];      /* the current field */
	enum socks_reply code; /* FAILED: why */
	struct socks_target target;
};

/* Start a connection: the next byte is the first the client sends. */
void socks_parser_init(struct socks_parser *p);

/*
 * Take the client's next bytes in[0..n). Consumes bytes until an event
 * (message boundary) or the end of the input, fills *ev and returns the
 * bytes consumed (0..n), or HT_ERROR with ev->type SOCKS_EV_ERROR.
 *
 *   NONE      all n bytes were consumed; call again with the next read.
 *   GREETING  write ev->reply (05 00, or 05 FF when 0x00 was not offered
 *             or NMETHODS was 0). After 05 FF close the connection (the
 *             parser is FAILED: later calls return HT_ERROR, code
 *             GENERAL_FAILURE, nothing to write); after 05 00 call again
 *             with the bytes that follow, which are the request.
 *   REQUEST   ev->target is the target; the bytes after the returned
 *             count are not the parser's (payload sent early): keep them
 *             for the stream. In DONE every later call consumes nothing
 *             and reports the same REQUEST.
 *   ERROR     write ev->reply_len bytes of ev->reply, then close. Sticky:
 *             every later call returns HT_ERROR again, with the same code
 *             and nothing to write.
 *
 * Errors, their codes and the reply (SOCKS5: VER 5, REP, RSV 0, 0.0.0.0:0;
 * SOCKS4: 8 bytes with CD 0x5B):
 *   - a first byte other than 4 or 5, or a SOCKS5 request whose VER is not
 *     5: not SOCKS, or not a version served: reply_len 0, just close;
 *   - CMD (or SOCKS4 CD) other than CONNECT: COMMAND_NOT_SUPPORTED;
 *   - ATYP other than 1, 3, 4: ADDRESS_TYPE_NOT_SUPPORTED;
 *   - RSV not 0, a domain of length 0 or with a NUL inside, a SOCKS4
 *     USERID or SOCKS4a domain longer than 255 bytes or an empty SOCKS4a
 *     domain: GENERAL_FAILURE (a malformed request; the address type
 *     itself is supported, so not 0x08).
 * A request error is reported as soon as the field that shows it is
 * complete (CMD and ATYP with the first four bytes), without waiting for
 * the rest of the request.
 */
ssize_t socks_parse(struct socks_parser *p, const uint8_t *in, size_t n, struct socks_event *ev);

/*
 * The reply to a request into out, for version 5 or 4; returns its length
 * (SOCKS5: 10 or 22, SOCKS4: 8), or 0 for another version.
 *   SOCKS5: VER 5, REP code, RSV 0, then bound as ATYP 1 + 4 bytes or
 *           ATYP 4 + 16 bytes, and BND.PORT; bound NULL (or of another
 *           family) is 0.0.0.0 port 0.
 *   SOCKS4: VN 0, CD 0x5A when code is SUCCEEDED else 0x5B, DSTPORT and
 *           DSTIP from an AF_INET bound, else zeros.
 */
size_t socks_reply(uint8_t out[SOCKS_REPLY_MAX], int version, enum socks_reply code,
		   const struct sockaddr *bound);

/*
 * The SOCKS5 reply code for a failure reason the daemon gives when a
 * stream to a target cannot be opened:
 *   NOT_ALLOWED          -> NOT_ALLOWED (0x02)
 *   DISABLED             -> NOT_ALLOWED (0x02)
 *   NETWORK_UNREACHABLE  -> NETWORK_UNREACHABLE (0x03)
 *   HOST_UNREACHABLE     -> HOST_UNREACHABLE (0x04)
 *   NAME_NOT_FOUND       -> HOST_UNREACHABLE (0x04)
 *   CONNECTION_REFUSED   -> CONNECTION_REFUSED (0x05)
 *   TIMEOUT              -> TTL_EXPIRED (0x06)
 *   NO_PERMIT, anything else, NULL -> GENERAL_FAILURE (0x01)
 */
enum socks_reply socks_reply_for(const char *daemon_code);

#endif
