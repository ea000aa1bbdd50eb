/*
 * conf.c: the config file's text into settings and tunnels (see conf.h).
 *
 * libinih reads the text through our reader, one line per call, and calls
 * our handler for every key; it does not tell the handler the line, nor
 * where sections start (Debian builds it without INI_HANDLER_LINENO and
 * INI_CALL_HANDLER_ON_NEW_SECTION). So the reader counts lines, and notes
 * which lines libinih will take for a section and which for the
 * continuation of a value (an indented line after a key), by the same
 * rules libinih applies; that is all it looks at. The handler files each
 * key under its setting or tunnel. Once the whole text is read, each
 * tunnel's keys become words for bindargs.
 *
 * The first error is the one on the lowest line, so that the file reads
 * top to bottom: libinih keeps going after an error, and so do we.
 */
#include "conf.h"

#include <ctype.h>
#include <ini.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

/* What a key is. */
enum key_role {
	ROLE_SETTING, /* before the first section */
	ROLE_KIND,    /* a tunnel's kind, with its spec */
	ROLE_OPTION,  /* a tunnel option with a value: --NAME VALUE */
	ROLE_FLAG,    /* a tunnel option that is yes or no: --NAME, or nothing */
};

static const struct {
	const char *name;
	enum key_role role;
	int which; /* enum conf_setting or enum conf_kind */
} keys[] = {
	{ "url", ROLE_SETTING, CONF_URL },
	{ "token", ROLE_SETTING, CONF_TOKEN },
	{ "token-file", ROLE_SETTING, CONF_TOKEN_FILE },
	{ "ca-file", ROLE_SETTING, CONF_CA_FILE },
	{ "expose", ROLE_KIND, CONF_EXPOSE },
	{ "http", ROLE_KIND, CONF_HTTP },
	{ "pull", ROLE_KIND, CONF_PULL },
	{ "forward", ROLE_KIND, CONF_FORWARD },
	{ "socks", ROLE_KIND, CONF_SOCKS },
	{ "port", ROLE_OPTION, 0 },
	{ "bind-host", ROLE_OPTION, 0 },
	{ "subdomain", ROLE_OPTION, 0 },
	{ "basic-auth", ROLE_OPTION, 0 },
	{ "mode", ROLE_OPTION, 0 },
	{ "takeover", ROLE_FLAG, 0 },
	{ "cluster", ROLE_FLAG, 0 },
};

#define KEY_COUNT ((int)(sizeof(keys) / sizeof(keys[0])))

/* Where libinih is in the text, and what the handler needs to know about the current line. */
struct parse {
	struct conf *c;
	const char *p, *end;     /* the text not yet handed to libinih */
	int line;                /* lines handed out so far: the current line's number */
	int indented;            /* the current line starts with a blank and is not blank */
	int hdr_line;            /* the last section line, 0: none yet */
	unsigned hdr_seq;        /* section lines so far */
	unsigned keys_since_hdr; /* keys since the last section line (or the top) */
	unsigned open_seq;       /* hdr_seq of the section keys go to */
	char open_name[64];      /* its name as libinih gave it */
	struct conf_tunnel *cur; /* the tunnel keys go to; NULL: a section already refused */
};

/* Keep the first error: the one on the lowest line (on one line, the first told). */
__attribute__((format(printf, 3, 4))) static void
note(struct conf *c, int line, const char *fmt, ...)
{
	va_list ap;

	if (c->err_line != 0 && c->err_line <= line)
		return;
	c->err_line = line;
	va_start(ap, fmt);
	vsnprintf(c->err, sizeof(c->err), fmt, ap);
	va_end(ap);
}

static int
key_find(const char *name)
{
	int i;

	for (i = 0; i < KEY_COUNT; i++)
		if (strcmp(keys[i].name, name) == 0)
			return i;
	return -1;
}

/* see conf.h */
const char *
conf_kind_name(enum conf_kind k)
{
	static const char *const names[CONF_KIND_MAX] = { "expose", "http", "pull", "forward", "socks" };

	return (unsigned)k < CONF_KIND_MAX ? names[k] : "?";
}

/* ---- the reader ----------------------------------------------------------- */

/* The end of the section and the start of the line after it: an empty section is an error. */
static void
section_end(struct parse *ps)
{
	if (ps->hdr_seq > 0 && ps->keys_since_hdr == 0)
		note(ps->c, ps->hdr_line,
		     "empty section: a [tunnel NAME] needs one of expose, http, pull, forward or socks");
}

/* 1 when the line t, which starts with '[', is a section for libinih: a ']' before any " ;" comment. */
static int
section_closed(const char *t)
{
	int was_space = 0;

	for (t++; *t != '\0'; t++) {
		if (*t == ']')
			return 1;
		if (was_space && *t == ';')
			return 0;
		was_space = isspace((unsigned char)*t);
	}
	return 0;
}

/* Note what libinih will make of the line s (NUL-terminated, its end included). */
static void
line_seen(struct parse *ps, const char *s)
{
	const char *t;

	if (ps->line == 1 && strncmp(s, "\xEF\xBB\xBF", 3) == 0)
		s += 3; /* a UTF-8 BOM, skipped by libinih too */
	for (t = s; *t != '\0' && isspace((unsigned char)*t); t++)
		;
	ps->indented = t > s && *t != '\0';
	if (ps->indented && ps->keys_since_hdr > 0)
		return; /* the continuation of a value, whatever it holds */
	if (*t == '[' && section_closed(t)) {
		section_end(ps);
		ps->hdr_line = ps->line;
		ps->hdr_seq++;
		ps->keys_since_hdr = 0;
	}
}

/*
 * libinih's fgets: the next line of the text, its end included, into
 * buf[0..num). A line too long, or holding a NUL, is noted and handed over
 * as an empty line, so that libinih counts lines as we do.
 */
static char *
reader(char *buf, int num, void *stream)
{
	struct parse *ps = stream;
	size_t left = (size_t)(ps->end - ps->p), n, body, max = CONF_LINE_MAX;
	const char *nl;

	if (left == 0 || num < 8)
		return NULL;
	if ((size_t)num - 3 < max)
		max = (size_t)num - 3; /* libinih wants room for "\r\n" and the NUL */
	nl = memchr(ps->p, '\n', left);
	n = nl != NULL ? (size_t)(nl - ps->p) + 1 : left;
	body = n - (nl != NULL) - (nl != NULL && nl > ps->p && nl[-1] == '\r');
	ps->line++;
	if (body > max)
		note(ps->c, ps->line, "line longer than %zu bytes", max);
	else if (memchr(ps->p, '\0', n) != NULL)
		note(ps->c, ps->line, "a NUL byte in the line");
	if (body > max || memchr(ps->p, '\0', n) != NULL) {
		buf[0] = '\n';
		buf[1] = '\0';
	} else {
		memcpy(buf, ps->p, n);
		buf[n] = '\0';
	}
	ps->p += n;
	line_seen(ps, buf);
	return buf;
}

/* ---- the handler ------------------------------------------------------------ */

/* A value into k (the reader keeps lines within CONF_LINE_MAX, so it fits). */
static void
key_set(struct conf_key *k, int line, int id, const char *value)
{
	k->line = line;
	k->id = id;
	snprintf(k->value, sizeof(k->value), "%s", value);
}

/* 1 when t is a token htc can send: visible ASCII only. */
static int
token_ok(const char *t)
{
	for (; *t != '\0'; t++)
		if ((unsigned char)*t < 0x21 || (unsigned char)*t > 0x7e)
			return 0;
	return 1;
}

/* Check a setting's value. 0, or -1 with the error noted. */
static int
setting_check(struct parse *ps, enum conf_setting which, const char *value)
{
	const struct conf *c = ps->c;
	struct url u;

	if (which == CONF_URL && url_parse(&u, value) < 0)
		note(ps->c, ps->line, "url: %s: '%s'", u.err, value);
	else if (which == CONF_TOKEN && !token_ok(value))
		note(ps->c, ps->line, "token: must be visible ASCII characters, no blanks");
	else if ((which == CONF_TOKEN && c->set_line[CONF_TOKEN_FILE] != 0) ||
		 (which == CONF_TOKEN_FILE && c->set_line[CONF_TOKEN] != 0))
		note(ps->c, ps->line, "give either token or token-file, not both");
	else
		return 0;
	return -1;
}

/* A key before the first section. 1, or 0 with the error noted. */
static int
setting(struct parse *ps, const char *name, const char *value)
{
	struct conf *c = ps->c;
	int k = key_find(name);
	enum conf_setting which;

	if (k < 0) {
		note(c, ps->line,
		     "unknown key '%s' (before the first section: url, token, token-file, ca-file)", name);
		return 0;
	}
	if (keys[k].role != ROLE_SETTING) {
		note(c, ps->line, "'%s' belongs in a [tunnel NAME] section", name);
		return 0;
	}
	which = (enum conf_setting)keys[k].which;
	if (c->set_line[which] != 0) {
		note(c, ps->line, "'%s' given twice (first on line %d)", name, c->set_line[which]);
		return 0;
	}
	if (*value == '\0') {
		note(c, ps->line, "'%s' has no value", name);
		return 0;
	}
	if (setting_check(ps, which, value) < 0)
		return 0;
	key_set(&c->settings[which], ps->line, k, value);
	c->set[which] = c->settings[which].value;
	c->set_line[which] = ps->line;
	return 1;
}

/* 1 when s is a tunnel name: 1..CONF_NAME_MAX-1 of [A-Za-z0-9._-], starting with a letter or digit. */
static int
name_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n >= CONF_NAME_MAX || !isalnum((unsigned char)s[0]))
		return 0;
	return strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") == n;
}

/* The tunnel of section "tunnel NAME", new. NULL with the error noted. */
static struct conf_tunnel *
tunnel_open(struct parse *ps, const char *section)
{
	struct conf *c = ps->c;
	const struct conf_tunnel *other;
	struct conf_tunnel *t;
	const char *name = section + strspn(section, " \t");

	if (strncmp(name, "tunnel", 6) != 0 || (name[6] != ' ' && name[6] != '\t')) {
		note(c, ps->hdr_line, "unknown section [%s]: sections are [tunnel NAME]", section);
		return NULL;
	}
	name += 6 + strspn(name + 6, " \t");
	if (!name_ok(name)) {
		note(c, ps->hdr_line,
		     "bad tunnel name '%s': 1..%d letters, digits, '-', '_' or '.', starting with a letter "
		     "or digit",
		     name, CONF_NAME_MAX - 1);
		return NULL;
	}
	if ((other = conf_find(c, name)) != NULL) {
		note(c, ps->hdr_line, "tunnel '%s' named twice (first on line %d)", name, other->line);
		return NULL;
	}
	if (c->ntunnels == CONF_TUNNELS_MAX) {
		note(c, ps->hdr_line, "more than %d tunnels", CONF_TUNNELS_MAX);
		return NULL;
	}
	t = &c->tunnels[c->ntunnels++];
	memset(t, 0, sizeof(*t));
	snprintf(t->name, sizeof(t->name), "%s", name);
	t->line = ps->hdr_line;
	t->kind_key = -1;
	return t;
}

/* The key of t with id k, or NULL. */
static const struct conf_key *
tunnel_key(const struct conf_tunnel *t, int k)
{
	unsigned i;

	for (i = 0; i < t->nkeys; i++)
		if (t->keys[i].id == k)
			return &t->keys[i];
	return NULL;
}

/* A key of a [tunnel NAME] section. 1, or 0 with the error noted. */
static int
tunnel_add(struct parse *ps, struct conf_tunnel *t, const char *name, const char *value)
{
	int k = key_find(name);
	const struct conf_key *seen;

	if (k < 0)
		note(ps->c, ps->line, "unknown key '%s' in [tunnel %s]", name, t->name);
	else if (keys[k].role == ROLE_SETTING)
		note(ps->c, ps->line, "'%s' is a setting: put it before the first section", name);
	else if ((seen = tunnel_key(t, k)) != NULL)
		note(ps->c, ps->line, "'%s' given twice in [tunnel %s] (first on line %d)", name, t->name,
		     seen->line);
	else if (keys[k].role == ROLE_KIND && t->kind_key >= 0)
		note(ps->c, ps->line, "[tunnel %s] has two kinds: '%s' (line %d) and '%s'", t->name,
		     keys[t->keys[t->kind_key].id].name, t->keys[t->kind_key].line, name);
	else if (*value == '\0')
		note(ps->c, ps->line, "'%s' has no value in [tunnel %s]", name, t->name);
	else if (t->nkeys == CONF_KEYS_MAX)
		note(ps->c, ps->line, "too many keys in [tunnel %s]", t->name);
	else {
		if (keys[k].role == ROLE_KIND) {
			t->kind_key = (int)t->nkeys;
			t->kind = (enum conf_kind)keys[k].which;
		}
		key_set(&t->keys[t->nkeys++], ps->line, k, value);
		return 1;
	}
	return 0;
}

/* libinih's handler: one key. 1, or 0 with the error noted. */
static int
handler(void *user, const char *section, const char *name, const char *value)
{
	struct parse *ps = user;

	if (ps->indented && ps->keys_since_hdr > 0) {
		note(ps->c, ps->line,
		     "an indented line continues the value of '%s' above it: start keys at the beginning of "
		     "the line",
		     name);
		return 0;
	}
	ps->keys_since_hdr++;
	if (ps->hdr_seq == 0 && *section == '\0')
		return setting(ps, name, value);
	if (ps->hdr_line == 0)
		ps->hdr_line = ps->line; /* a section line the reader did not see as one */
	if (ps->open_seq != ps->hdr_seq || strcmp(ps->open_name, section) != 0) {
		ps->open_seq = ps->hdr_seq;
		snprintf(ps->open_name, sizeof(ps->open_name), "%s", section);
		if ((ps->cur = tunnel_open(ps, section)) == NULL)
			return 0;
	}
	if (ps->cur == NULL)
		return 1; /* the section's error is noted already */
	return tunnel_add(ps, ps->cur, name, value);
}

/* ---- tunnels into bindings ------------------------------------------------------ */

/* The words of the single command for a tunnel, with the line each comes from. */
struct words {
	char *v[2 + 2 * CONF_KEYS_MAX + 1];
	int line[2 + 2 * CONF_KEYS_MAX];
	int n;
	char head[CONF_VALUE_MAX];         /* C of C:L, NAME of NAME=L */
	char flags[CONF_KEYS_MAX + 1][16]; /* "--port", "--takeover"... */
	const char *implied;               /* the option the kind's value gave: "port", "subdomain" */
};

static void
word(struct words *w, char *s, int line)
{
	w->v[w->n] = s;
	w->line[w->n++] = line;
	w->v[w->n] = NULL;
}

/* Read t's words so far with bindargs. 0, or -1 with the error noted on the last word's line. */
static int
tunnel_try(struct conf *c, struct conf_tunnel *t, struct words *w)
{
	static const enum bindargs_cmd cmds[] = {
		[CONF_EXPOSE] = BINDARGS_EXPOSE, [CONF_HTTP] = BINDARGS_HTTP, [CONF_PULL] = BINDARGS_PULL
	};
	char err[BINDARGS_ERR_MAX];
	int rc;

	if (t->kind == CONF_FORWARD || t->kind == CONF_SOCKS)
		rc = bindargs_listener(&t->fwd, t->kind == CONF_SOCKS, w->n, w->v, err);
	else
		rc = bindargs_tunnel(&t->bind, cmds[t->kind], w->n, w->v, err);
	if (rc < 0)
		note(c, w->line[w->n - 1], "[tunnel %s]: %s", t->name, err);
	return rc;
}

/* The kind's value as words: "5000:3000" is "3000 --port 5000", "demo=3000" "3000 --subdomain demo". */
static int
kind_words(struct conf *c, struct conf_tunnel *t, struct words *w)
{
	struct conf_key *k = &t->keys[t->kind_key];
	char *sep = NULL;
	const char *why;
	struct url_map m;

	if (t->kind == CONF_EXPOSE || t->kind == CONF_PULL) {
		if (url_parse_map(&m, k->value, &why) < 0) {
			note(c, k->line, "[tunnel %s]: %s: %s", t->name, k->value, why);
			return -1;
		}
		if (m.container_given)
			sep = strchr(k->value, ':');
		w->implied = "port";
	} else if (t->kind == CONF_HTTP) {
		sep = strchr(k->value, '=');
		w->implied = "subdomain";
	}
	if (sep == NULL) {
		w->implied = NULL;
		word(w, k->value, k->line);
		return 0;
	}
	snprintf(w->head, sizeof(w->head), "%.*s", (int)(sep - k->value), k->value);
	snprintf(w->flags[CONF_KEYS_MAX], sizeof(w->flags[0]), "--%s", w->implied);
	word(w, sep + 1, k->line);
	word(w, w->flags[CONF_KEYS_MAX], k->line);
	word(w, w->head, k->line);
	return 0;
}

/* A yes/no value: 1, 0, or -1 when it is neither. */
static int
yes_no(const char *v)
{
	static const char *const yes[] = { "yes", "true", "on", "1" }, *const no[] = { "no", "false", "off",
										       "0" };
	size_t i;

	for (i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		if (strcasecmp(v, yes[i]) == 0)
			return 1;
		if (strcasecmp(v, no[i]) == 0)
			return 0;
	}
	return -1;
}

/* An option key of t as words. 0, or -1 with the error noted. */
static int
option_words(struct conf *c, struct conf_tunnel *t, unsigned i, struct words *w)
{
	struct conf_key *k = &t->keys[i];
	const char *name = keys[k->id].name;
	int yes;

	if (t->kind == CONF_FORWARD || t->kind == CONF_SOCKS) {
		note(c, k->line, "[tunnel %s]: %s takes no options, not '%s'", t->name,
		     conf_kind_name(t->kind), name);
		return -1;
	}
	if (w->implied != NULL && strcmp(name, w->implied) == 0) {
		note(c, k->line, "[tunnel %s]: '%s' given twice: in '%s = %s' and here", t->name, name,
		     conf_kind_name(t->kind), t->keys[t->kind_key].value);
		return -1;
	}
	snprintf(w->flags[i], sizeof(w->flags[i]), "--%s", name);
	if (keys[k->id].role == ROLE_OPTION) {
		word(w, w->flags[i], k->line);
		word(w, k->value, k->line);
	} else if ((yes = yes_no(k->value)) < 0) {
		note(c, k->line, "[tunnel %s]: %s: expected yes or no, not '%s'", t->name, name, k->value);
		return -1;
	} else if (yes) {
		word(w, w->flags[i], k->line);
	}
	return 0;
}

/*
 * Turn t into a binding or listener. The words are read again after each
 * key is added, so that a refusal is told on the line of the key that
 * brought it (the last word's). 0, or -1 with the error noted.
 */
static int
tunnel_build(struct conf *c, struct conf_tunnel *t)
{
	struct words w;
	unsigned i;

	memset(&w, 0, sizeof(w));
	if (t->kind_key < 0) {
		note(c, t->line, "[tunnel %s] has no kind: give one of expose, http, pull, forward or socks",
		     t->name);
		return -1;
	}
	if (kind_words(c, t, &w) < 0 || tunnel_try(c, t, &w) < 0)
		return -1;
	for (i = 0; i < t->nkeys; i++)
		if ((int)i != t->kind_key && (option_words(c, t, i, &w) < 0 || tunnel_try(c, t, &w) < 0))
			return -1;
	return 0;
}

/* ---- the interface ----------------------------------------------------------------- */

/* see conf.h */
int
conf_parse(struct conf *c, const char *text, size_t len)
{
	struct parse ps;
	unsigned i;
	int r;

	memset(c, 0, sizeof(*c));
	memset(&ps, 0, sizeof(ps));
	ps.c = c;
	ps.p = text;
	ps.end = text + len;
	r = ini_parse_stream(reader, &ps, handler, &ps);
	section_end(&ps);
	if (r > 0 && c->err_line != r)
		note(c, r, "syntax error: expected KEY = VALUE, [tunnel NAME] or a comment");
	else if (r < 0)
		note(c, ps.line > 0 ? ps.line : 1, "libinih failed (%d)", r);
	for (i = 0; c->err_line == 0 && i < c->ntunnels; i++)
		(void)tunnel_build(c, &c->tunnels[i]);
	return c->err_line != 0 ? -1 : 0;
}

/* see conf.h */
const struct conf_tunnel *
conf_find(const struct conf *c, const char *name)
{
	unsigned i;

	for (i = 0; i < c->ntunnels; i++)
		if (strcmp(c->tunnels[i].name, name) == 0)
			return &c->tunnels[i];
	return NULL;
}

/* see conf.h */
char *
conf_names(const struct conf *c, char *out, size_t cap)
{
	size_t used = 0;
	unsigned i;
	int n;

	if (cap == 0)
		return out;
	out[0] = '\0';
	for (i = 0; i < c->ntunnels; i++) {
		n = snprintf(out + used, cap - used, "%s%s", i ? ", " : "", c->tunnels[i].name);
		if (n < 0 || (size_t)n >= cap - used) {
			if (cap > 4)
				snprintf(out + (used < cap - 4 ? used : cap - 4), 4, "...");
			break;
		}
		used += (size_t)n;
	}
	return out;
}
