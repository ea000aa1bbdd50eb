/*
 * envcheck.h: environment variables of a program's families that the
 * program does not know, each with the known name it most likely meant.
 *
 * A family is every variable whose name starts with a prefix
 * ("HOODY_TUNNEL_", "HTC_") and the names of it the program reads. At
 * start-up a program hands its environment and its families to
 * envcheck_scan(), which reports each unknown name once, as one line of
 * text: "unknown environment variable HOODY_TUNNEL_MAX_SESION (did you
 * mean HOODY_TUNNEL_MAX_SESSIONS?)". The caller decides where the line
 * goes (the daemon's log, htc's stderr). A family shared with another
 * program (htc reads HOODY_TUNNEL_TOKEN; the rest of HOODY_TUNNEL_* is the
 * daemon's) is checked in ENVCHECK_TYPOS mode: only names that look like
 * a misspelling of a known one are reported, the others belong to the
 * other program.
 *
 * Close means (ASCII case ignored, '-' taken as '_'):
 *   - at most ENVCHECK_MAX_EDITS edits between the two whole names, an
 *     edit being an inserted, deleted or replaced character or two
 *     neighbours swapped (HOODY_TUNNEL_MAX_SESION, HTC_ULR); or
 *   - the same '_'-separated words but one, misspelt by at most
 *     ENVCHECK_MAX_WORD_EDITS edits and at most half its length
 *     (HOODY_TUNNEL_MAX_SESHUNS).
 * Of several close names the one fewest edits away wins, then the first
 * listed.
 *
 * Pure logic: no I/O, no allocation, no global state. Values are never
 * looked at (they may be secrets); names are, and bytes of a reported
 * name that are not printable ASCII are shown as '?'.
 */
#ifndef HT_ENVCHECK_H
#define HT_ENVCHECK_H

#include <stddef.h>

/* How the unknown names of a family are reported. */
enum envcheck_mode {
	ENVCHECK_ALL = 0, /* every unknown name, with a suggestion when one is close */
	ENVCHECK_TYPOS,   /* only unknown names close to a known one (a family shared with another program) */
	ENVCHECK_MODE_MAX
};

/* Edits allowed between a name and the known name it suggests. */
#define ENVCHECK_MAX_EDITS 2
/* Edits allowed inside the one misspelt word of an otherwise equal name. */
#define ENVCHECK_MAX_WORD_EDITS 3
/* Names longer than this are never compared (reported without a suggestion). */
#define ENVCHECK_NAME_MAX 128
/* Longest report line, terminating NUL included; a longer name is cut. */
#define ENVCHECK_MSG_MAX 400

struct envcheck_family {
	const char *prefix;       /* e.g. "HOODY_TUNNEL_": the names that start with it (case matters) */
	const char *const *known; /* the family's names the program reads, NULL-terminated */
	enum envcheck_mode mode;
};

/* Called once per unknown name with the report line (valid during the call). */
typedef void envcheck_report_cb(void *arg, const char *msg);

/*
 * The name of known (NULL-terminated) closest to name[0..len) by the rules
 * above, or NULL when none is close. A name equal to a known one, case
 * and '-' aside, suggests it (HOODY_TUNNEL_max_sessions).
 */
const char *envcheck_suggest(const char *name, size_t len, const char *const *known);

/*
 * For every variable of envp ("NAME=value" strings, NULL-terminated; NULL
 * means none) whose name starts with the prefix of one of the n families
 * (the first matching family decides) and is not among its known names,
 * call report(arg, line) once per distinct name, in envp order, unless the
 * family is in ENVCHECK_TYPOS mode and no known name is close. An entry
 * without '=' is skipped. Returns the number of reports.
 */
unsigned envcheck_scan(char *const *envp, const struct envcheck_family *fams, size_t n,
		       envcheck_report_cb *report, void *arg);

#endif
