/*
 * conf.h: htc's config file, from its text to settings and tunnels, and
 * back to text after `htc login`.
 *
 * The file is INI, read with libinih (no parser of our own):
 *
 *   # settings: before the first section
 *   url = wss://box.example.com
 *   token = ...                  (or token-file = PATH; ca-file = PATH)
 *
 *   [tunnel web]                 # one binding or listener per section
 *   expose = 3000                # its kind and what --expose takes
 *   port = 0                     # that kind's options, as on the command line
 *
 * Settings are url, token, token-file (not with token) and ca-file, and
 * come before the first section: a file has no [htc] or default section.
 * Every section is [tunnel NAME] (NAME: 1..CONF_NAME_MAX-1 of letters,
 * digits, '-', '_' and '.', starting with a letter or digit, unique in
 * the file) and holds exactly one kind key with that kind's options:
 *
 *   expose = [C:]L         port, takeover, basic-auth, cluster, subdomain
 *   http = [NAME=]L        subdomain (not with NAME=), mode, basic-auth, takeover
 *   pull = [C:]L           port (not with C:), bind-host
 *   forward = [LHOST:]LPORT:RHOST:RPORT
 *   socks = [LHOST:]LPORT
 *
 * takeover and cluster take yes/no (true/false, on/off, 1/0). A section
 * becomes the words of the single command (`expose = 5000:3000` with
 * `takeover = yes` is `htc expose 3000 --port 5000 --takeover`) and is read
 * by bindargs_tunnel() or bindargs_listener(), so a value means what it
 * means on the command line and is refused for the same reason; the
 * HTC_* variables of the single commands do not apply to it.
 *
 * libinih's rules hold: '#' or ';' starts a comment line, " ;" an end-of-
 * line comment, "key: value" is "key = value", an indented line continues
 * the value above it (refused here: indent nothing), a line is at most
 * CONF_LINE_MAX bytes.
 *
 * Errors. conf_parse() reads the whole text and reports the first error,
 * the one on the lowest line: libinih's syntax errors, a line too long, an
 * unknown key or section, a key given twice, a continued line, a tunnel
 * named twice, an empty section, a section with two kinds, a bad url or
 * token. Only a text without any of these has its tunnels read, in order,
 * up to the first that has no kind or a value bindargs refuses (with its
 * reason).
 *
 * Pure: no I/O, nothing printed, no allocation but conf_edit()'s result
 * (see conf_file.h for reading and writing the file, and the messages).
 */
#ifndef HTC_CONF_H
#define HTC_CONF_H

#include <stddef.h>

#include "bindargs.h"
#include "client.h"
#include "url.h"

#define CONF_NAME_MAX 33    /* a tunnel name, NUL included */
#define CONF_LINE_MAX 196   /* longest line in bytes, its end not counted */
#define CONF_TUNNELS_MAX 48 /* sections in one file */
#define CONF_KEYS_MAX 8     /* keys in one section: its kind and its options */
#define CONF_ERR_MAX 448    /* a reason, NUL included */
#define CONF_VALUE_MAX (CONF_LINE_MAX + 1)

/* The settings, in the order of their keys. */
enum conf_setting {
	CONF_URL = 0,    /* url: the daemon, as --url */
	CONF_TOKEN,      /* token: as --token */
	CONF_TOKEN_FILE, /* token-file: as --token-file */
	CONF_CA_FILE,    /* ca-file: as --ca-file */
	CONF_SETTING_MAX
};

/* What a tunnel is: its kind key. */
enum conf_kind {
	CONF_EXPOSE = 0, /* expose = [C:]L: a binding, as htc expose */
	CONF_HTTP,       /* http = [NAME=]L: a host route, as htc http */
	CONF_PULL,       /* pull = [C:]L: a binding, as htc pull */
	CONF_FORWARD,    /* forward = [LHOST:]LPORT:RHOST:RPORT: a listener, as htc forward */
	CONF_SOCKS,      /* socks = [LHOST:]LPORT: a listener, as htc socks */
	CONF_KIND_MAX
};

/* One key of a section as written, kept for the strings a binding points to. */
struct conf_key {
	int line;                   /* where it is */
	int id;                     /* private: which key (conf.c's table) */
	char value[CONF_VALUE_MAX]; /* as libinih gave it: blanks around it removed */
};

/* One [tunnel NAME] section. */
struct conf_tunnel {
	char name[CONF_NAME_MAX];
	int line;                   /* of its [tunnel NAME] line */
	enum conf_kind kind;        /* valid once conf_parse() returned 0 */
	struct client_binding bind; /* expose, http, pull: ready for the client */
	struct url_forward fwd;     /* forward, socks: ready for fwd_listen() */
	/* private */
	struct conf_key keys[CONF_KEYS_MAX];
	unsigned nkeys;
	int kind_key; /* index in keys of the kind key, -1: none yet */
};

/*
 * A parsed file. Caller-owned (large: keep it static), filled by
 * conf_parse(), then read-only; strings live as long as the struct.
 */
struct conf {
	const char *set[CONF_SETTING_MAX]; /* each setting, NULL when the file has none */
	int set_line[CONF_SETTING_MAX];    /* its line, 0 when none */
	struct conf_tunnel tunnels[CONF_TUNNELS_MAX];
	unsigned ntunnels;      /* in the order of the file */
	int err_line;           /* the first error's line (1-based), 0: none */
	char err[CONF_ERR_MAX]; /* its reason ("unknown key 'exose' in [tunnel web]"), "" when none */
	/* private */
	struct conf_key settings[CONF_SETTING_MAX];
};

/*
 * Parse text[0..len) (need not be NUL-terminated) into c (all of c is
 * overwritten). Returns 0, or -1 with c->err_line and c->err telling the
 * first error; c's settings and tunnels are then not to be used.
 */
int conf_parse(struct conf *c, const char *text, size_t len);

/* The tunnel called name, or NULL. */
const struct conf_tunnel *conf_find(const struct conf *c, const char *name);

/*
 * The names of c's tunnels as "web, api, db" into out[0..cap), cut short
 * with "..." when cap is too small; "" when there is none. Returns out.
 */
char *conf_names(const struct conf *c, char *out, size_t cap);

/* "expose", "http", "pull", "forward", "socks"; "?" for anything else. */
const char *conf_kind_name(enum conf_kind k);

/*
 * The text of the file after `htc login`: text[0..len), which conf_parse()
 * accepted into c, with the lines of token and token-file (and of url, when
 * url is not NULL) removed, and "url = URL" (when url is not NULL) and
 * "token = TOKEN" written where the first removed line was, else at the
 * top. Every other byte is kept. Returns the new text, NUL-terminated, from
 * malloc (the caller frees it), its length in *out_len; NULL when out of
 * memory. The caller checks beforehand that url and token fit on a line
 * (CONF_LINE_MAX) and parses the result again to be sure they read back.
 */
char *conf_edit(const struct conf *c, const char *text, size_t len, const char *url, const char *token,
		size_t *out_len);

#endif
