/*
 * envcheck.c: unknown variables of a program's families and the name they
 * most likely meant (see envcheck.h).
 *
 * Names are compared folded (ASCII upper case, '-' as '_') with the
 * optimal-string-alignment distance: Levenshtein plus the swap of two
 * neighbours, three rows of at most ENVCHECK_NAME_MAX + 1 cells on the
 * stack. Names are a few dozen bytes and a family a few dozen names, so
 * the work is small and done once at start-up.
 *
 * Not here: reading the environment (the caller passes envp), printing.
 */
#include "envcheck.h"

#include <stdio.h>
#include <string.h>

static char
fold(char ch)
{
	if (ch >= 'a' && ch <= 'z')
		return (char)(ch - 'a' + 'A');
	return ch == '-' ? '_' : ch;
}

static size_t
min3(size_t a, size_t b, size_t c)
{
	size_t m = a < b ? a : b;

	return m < c ? m : c;
}

/* Edits between a[0..an) and b[0..bn), folded; both at most ENVCHECK_NAME_MAX. */
static size_t
edits(const char *a, size_t an, const char *b, size_t bn)
{
	size_t row[3][ENVCHECK_NAME_MAX + 1];
	size_t *pp = row[0], *prev = row[1], *cur = row[2], *t;
	size_t i, j;

	for (j = 0; j <= bn; j++)
		prev[j] = j;
	for (i = 1; i <= an; i++) {
		cur[0] = i;
		for (j = 1; j <= bn; j++) {
			size_t sub = fold(a[i - 1]) == fold(b[j - 1]) ? 0 : 1;

			cur[j] = min3(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + sub);
			if (i > 1 && j > 1 && fold(a[i - 1]) == fold(b[j - 2]) &&
			    fold(a[i - 2]) == fold(b[j - 1]) && pp[j - 2] + 1 < cur[j])
				cur[j] = pp[j - 2] + 1;
		}
		t = pp;
		pp = prev;
		prev = cur;
		cur = t;
	}
	return prev[bn];
}

/* Length of the word at s[0..n): up to the first '_' (folded) or the end. */
static size_t
word_len(const char *s, size_t n)
{
	size_t i = 0;

	while (i < n && fold(s[i]) != '_')
		i++;
	return i;
}

static size_t
word_count(const char *s, size_t n)
{
	size_t i, words = 1;

	for (i = 0; i < n; i++)
		words += fold(s[i]) == '_';
	return words;
}

/* 1 when a and b have the same words but one, misspelt within the word limits. */
static int
one_word_misspelt(const char *a, size_t an, const char *b, size_t bn)
{
	size_t i = 0, j = 0, differ = 0, e = 0, longer = 0;

	if (word_count(a, an) != word_count(b, bn))
		return 0;
	for (;;) {
		size_t wa = word_len(a + i, an - i), wb = word_len(b + j, bn - j);
		size_t k = edits(a + i, wa, b + j, wb);

		if (k != 0) {
			differ++;
			e = k;
			longer = wa > wb ? wa : wb;
		}
		i += wa + 1;
		j += wb + 1;
		if (i > an || j > bn)
			break;
	}
	return differ == 1 && e <= ENVCHECK_MAX_WORD_EDITS && 2 * e <= longer;
}

/* see envcheck.h */
const char *
envcheck_suggest(const char *name, size_t len, const char *const *known)
{
	const char *best = NULL;
	size_t best_edits = (size_t)-1, k;

	if (len > ENVCHECK_NAME_MAX || known == NULL)
		return NULL;
	for (; *known != NULL; known++) {
		size_t kn = strlen(*known);

		if (kn > ENVCHECK_NAME_MAX)
			continue;
		k = edits(name, len, *known, kn);
		if (k >= best_edits)
			continue;
		if (k <= ENVCHECK_MAX_EDITS || one_word_misspelt(name, len, *known, kn)) {
			best = *known;
			best_edits = k;
		}
	}
	return best;
}

static int
is_known(const char *name, size_t len, const char *const *known)
{
	for (; known != NULL && *known != NULL; known++)
		if (strlen(*known) == len && memcmp(*known, name, len) == 0)
			return 1;
	return 0;
}

/* 1 when an entry of envp before `upto` has the name name[0..len). */
static int
seen_before(char *const *envp, char *const *upto, const char *name, size_t len)
{
	for (; envp < upto; envp++)
		if (strncmp(*envp, name, len) == 0 && (*envp)[len] == '=')
			return 1;
	return 0;
}

/* The family of a name, or NULL. */
static const struct envcheck_family *
family_of(const char *name, size_t len, const struct envcheck_family *fams, size_t n)
{
	size_t i, pl;

	for (i = 0; i < n; i++) {
		pl = strlen(fams[i].prefix);
		if (len >= pl && memcmp(name, fams[i].prefix, pl) == 0)
			return &fams[i];
	}
	return NULL;
}

/* The report line for name[0..len) into out. */
static void
describe(char out[ENVCHECK_MSG_MAX], const char *name, size_t len, const char *suggestion)
{
	char shown[ENVCHECK_NAME_MAX + 4];
	size_t i, n = len > ENVCHECK_NAME_MAX ? ENVCHECK_NAME_MAX : len;

	for (i = 0; i < n; i++)
		shown[i] = name[i] > 0x20 && name[i] < 0x7f ? name[i] : '?';
	memcpy(shown + n, n < len ? "..." : "", n < len ? 4 : 1);
	if (suggestion != NULL)
		snprintf(out, ENVCHECK_MSG_MAX, "unknown environment variable %s (did you mean %.*s?)", shown,
			 ENVCHECK_NAME_MAX, suggestion);
	else
		snprintf(out, ENVCHECK_MSG_MAX, "unknown environment variable %s", shown);
}

/* see envcheck.h */
unsigned
envcheck_scan(char *const *envp, const struct envcheck_family *fams, size_t n, envcheck_report_cb *report,
	      void *arg)
{
	char msg[ENVCHECK_MSG_MAX];
	unsigned reports = 0;
	char *const *e;

	for (e = envp; e != NULL && *e != NULL; e++) {
		const char *eq = strchr(*e, '=');
		const struct envcheck_family *f;
		const char *suggestion;
		size_t len;

		if (eq == NULL)
			continue;
		len = (size_t)(eq - *e);
		f = family_of(*e, len, fams, n);
		if (f == NULL || is_known(*e, len, f->known) || seen_before(envp, e, *e, len))
			continue;
		suggestion = envcheck_suggest(*e, len, f->known);
		if (suggestion == NULL && f->mode == ENVCHECK_TYPOS)
			continue;
		describe(msg, *e, len, suggestion);
		report(arg, msg);
		reports++;
	}
	return reports;
}
