/*
 * print.c: tables, sizes, durations and timestamps for htc's output (see
 * print.h). Tables keep owned copies of their cells in one growing array;
 * everything else writes into caller buffers.
 */
#include "print.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define BOLD_ON "\033[1m"
#define BOLD_OFF "\033[0m"

/* see print.h */
void
print_table_init(struct print_table *t, size_t ncols)
{
	memset(t, 0, sizeof(*t));
	if (ncols == 0 || ncols > PRINT_TABLE_COLS_MAX)
		ncols = 1;
	t->ncols = ncols;
}

/* see print.h */
void
print_table_fini(struct print_table *t)
{
	size_t i, ncols = t->ncols;

	for (i = 0; i < t->ncells; i++)
		free(t->cells[i]);
	free(t->cells);
	memset(t, 0, sizeof(*t));
	t->ncols = ncols;
}

/* see print.h */
void
print_table_right(struct print_table *t, size_t col)
{
	if (col < t->ncols)
		t->right |= 1u << col;
}

/* Take ownership of cell s (malloc'd or NULL for "out of memory"). */
static void
table_push(struct print_table *t, char *s)
{
	if (t->err != 0 || s == NULL) {
		t->err = -ENOMEM;
		free(s);
		return;
	}
	if (t->ncells == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 32;
		char **c = realloc(t->cells, cap * sizeof(*c));
		if (c == NULL) {
			t->err = -ENOMEM;
			free(s);
			return;
		}
		t->cells = c;
		t->cap = cap;
	}
	print_scrub(s);
	t->cells[t->ncells++] = s;
}

/* see print.h */
char *
print_scrub(char *s)
{
	unsigned char *p;

	for (p = (unsigned char *)s; *p != '\0'; p++)
		if (*p < 0x20 || *p == 0x7f)
			*p = '?';
	return s;
}

/* see print.h */
void
print_table_cell(struct print_table *t, const char *s)
{
	table_push(t, strdup(s ? s : "-"));
}

/* see print.h */
void
print_table_cellf(struct print_table *t, const char *fmt, ...)
{
	va_list ap;
	char *s = NULL;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		s = NULL;
	va_end(ap);
	table_push(t, s);
}

/* see print.h */
size_t
print_table_rows(const struct print_table *t)
{
	return (t->ncells + t->ncols - 1) / t->ncols;
}

/* Display width of s: UTF-8 code points (continuation bytes do not count). */
static size_t
text_width(const char *s)
{
	size_t w = 0;

	for (; *s != '\0'; s++)
		if (((unsigned char)*s & 0xc0) != 0x80)
			w++;
	return w;
}

static void
put_spaces(FILE *f, size_t n)
{
	while (n-- > 0)
		fputc(' ', f);
}

/* Cell c of row r; "" past the cells added. */
static const char *
cell_at(const struct print_table *t, size_t r, size_t c)
{
	size_t i = r * t->ncols + c;

	return i < t->ncells ? t->cells[i] : "";
}

/* One row r, padded to widths w; nothing is written after its last non-empty cell. */
static void
write_row(const struct print_table *t, FILE *f, size_t r, const size_t *w, int bold)
{
	size_t c, end = t->ncols;

	while (end > 1 && *cell_at(t, r, end - 1) == '\0')
		end--;
	if (bold)
		fputs(BOLD_ON, f);
	for (c = 0; c < end; c++) {
		const char *s = cell_at(t, r, c);
		size_t pad = w[c] - text_width(s);
		int right = r > 0 && (t->right & (1u << c));

		if (c > 0)
			fputs("  ", f);
		if (right)
			put_spaces(f, pad);
		fputs(s, f);
		if (!right && c + 1 < end)
			put_spaces(f, pad);
	}
	if (bold)
		fputs(BOLD_OFF, f);
	fputc('\n', f);
}

/* see print.h */
int
print_table_write(const struct print_table *t, FILE *f, int bold)
{
	size_t w[PRINT_TABLE_COLS_MAX] = { 0 };
	size_t i, rows = print_table_rows(t);

	if (t->err != 0)
		return t->err;
	for (i = 0; i < t->ncells; i++) {
		size_t tw = text_width(t->cells[i]);
		if (tw > w[i % t->ncols])
			w[i % t->ncols] = tw;
	}
	for (i = 0; i < rows; i++)
		write_row(t, f, i, w, bold && i == 0);
	return ferror(f) ? -EIO : 0;
}

/* see print.h */
int
print_size(char *out, size_t cap, uint64_t bytes)
{
	static const char *const units[] = { "KiB", "MiB", "GiB", "TiB", "PiB", "EiB" };
	uint64_t unit = 1024, whole, tenths;
	size_t u = 0;

	if (bytes < 1024)
		return snprintf(out, cap, "%llu B", (unsigned long long)bytes);
	/* Climb while the value, rounded to tenths, would reach 1024.0. */
	for (;;) {
		whole = bytes / unit;
		tenths = ((bytes % unit) * 10 + unit / 2) / unit;
		if (tenths == 10) {
			whole++;
			tenths = 0;
		}
		if (whole < 1024 || u + 1 == sizeof(units) / sizeof(units[0]))
			break;
		unit *= 1024;
		u++;
	}
	return snprintf(out, cap, "%llu.%llu %s", (unsigned long long)whole, (unsigned long long)tenths,
			units[u]);
}

/* see print.h */
int
print_duration(char *out, size_t cap, uint64_t ms)
{
	unsigned long long s = ms / 1000;

	if (ms < 1000)
		return snprintf(out, cap, "%llums", (unsigned long long)ms);
	if (s < 60)
		return snprintf(out, cap, "%llu.%llus", s, (unsigned long long)(ms % 1000 / 100));
	if (s < 3600)
		return snprintf(out, cap, "%llum%02llus", s / 60, s % 60);
	if (s < 86400)
		return snprintf(out, cap, "%lluh%02llum", s / 3600, s % 3600 / 60);
	return snprintf(out, cap, "%llud%02lluh", s / 86400, s % 86400 / 3600);
}

/* n decimal digits at *p into *v; advances *p. 0 or -1. */
static int
digits(const char **p, int n, int *v)
{
	int i;

	*v = 0;
	for (i = 0; i < n; i++) {
		char c = (*p)[i];
		if (c < '0' || c > '9')
			return -1;
		*v = *v * 10 + (c - '0');
	}
	*p += n;
	return 0;
}

/* 1 when *p is c (then skipped), else 0. */
static int
expect(const char **p, char c)
{
	if (**p != c)
		return 0;
	(*p)++;
	return 1;
}

/* The zone designator at p into seconds east of UTC. 0 or -1. */
static int
parse_zone(const char *p, long *off)
{
	int hh, mm, sign;

	if ((*p == 'Z' || *p == 'z') && p[1] == '\0') {
		*off = 0;
		return 0;
	}
	if (*p != '+' && *p != '-')
		return -1;
	sign = *p++ == '-' ? -1 : 1;
	if (digits(&p, 2, &hh) < 0 || !expect(&p, ':') || digits(&p, 2, &mm) < 0 || *p != '\0')
		return -1;
	if (hh > 23 || mm > 59)
		return -1;
	*off = sign * (hh * 3600L + mm * 60L);
	return 0;
}

static int
days_in_month(int y, int m)
{
	static const int d[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

	return m == 2 && leap ? 29 : d[m - 1];
}

/* see print.h */
int
print_parse_rfc3339(const char *s, time_t *out)
{
	struct tm tm;
	int y, mo, d, h, mi, se;
	long off;
	time_t t;

	if (s == NULL || digits(&s, 4, &y) < 0 || !expect(&s, '-') || digits(&s, 2, &mo) < 0 ||
	    !expect(&s, '-') || digits(&s, 2, &d) < 0)
		return -1;
	if (!(expect(&s, 'T') || expect(&s, 't') || expect(&s, ' ')))
		return -1;
	if (digits(&s, 2, &h) < 0 || !expect(&s, ':') || digits(&s, 2, &mi) < 0 || !expect(&s, ':') ||
	    digits(&s, 2, &se) < 0)
		return -1;
	if (mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo) || h > 23 || mi > 59 || se > 60)
		return -1;
	if (expect(&s, '.')) {
		if (*s < '0' || *s > '9')
			return -1;
		while (*s >= '0' && *s <= '9')
			s++;
	}
	if (parse_zone(s, &off) < 0)
		return -1;
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = se;
	t = timegm(&tm);
	*out = t - (time_t)off;
	return 0;
}

/* see print.h */
int
print_raw(FILE *f, const char *p, size_t n)
{
	if (n > 0)
		fwrite(p, 1, n, f);
	if (n == 0 || p[n - 1] != '\n')
		fputc('\n', f);
	return ferror(f) ? -EIO : 0;
}

/* see print.h */
void
print_err(const char *fmt, ...)
{
	char line[1024];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n < 0)
		line[0] = '\0';
	fflush(stdout);
	fprintf(stderr, "htc: %s\n", line);
}

/* see print.h */
int
print_style(int fd)
{
	const char *nc = getenv("NO_COLOR"), *term = getenv("TERM");

	if (!isatty(fd))
		return 0;
	if (nc != NULL && *nc != '\0')
		return 0;
	return term == NULL || strcmp(term, "dumb") != 0;
}
