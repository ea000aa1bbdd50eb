/*
 * print.h: what htc shows a person: aligned tables, human sizes and
 * durations, RFC 3339 timestamps read back, raw pass-through for --json.
 *
 * Tables. Cells are added left to right, row after row (the first row is
 * the header); each cell is copied, so callers may pass temporaries. Every
 * byte below 0x20 and DEL in a cell is shown as '?': cells come from the
 * daemon and must never carry terminal escape sequences. Columns are
 * separated by two spaces and padded to the widest cell (counted in UTF-8
 * code points), the last column is never padded, so lines have no trailing
 * blanks; with bold set the header row is wrapped in ESC[1m ... ESC[0m.
 * The output is the same on a terminal and in a pipe apart from the bold,
 * which print_style() grants to terminals only.
 *
 * Errors are sticky (BearSSL style): a failed allocation marks the table,
 * later adds are no-ops and print_table_write() reports it.
 *
 * Not here: wrapping or truncating wide cells, colours other than bold,
 * locale-dependent widths (east-asian wide characters count as one).
 */
#ifndef HTC_PRINT_H
#define HTC_PRINT_H

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#define PRINT_TABLE_COLS_MAX 16

struct print_table {
	size_t ncols;   /* cells per row, 1..PRINT_TABLE_COLS_MAX */
	size_t ncells;  /* cells added so far (rows = ceil(ncells / ncols)) */
	size_t cap;     /* slots in cells[] */
	char **cells;   /* owned copies, row-major */
	unsigned right; /* bit c: column c is right-aligned */
	int err;        /* 0, or -ENOMEM (sticky) */
};

/* Start an empty table of ncols columns (1..PRINT_TABLE_COLS_MAX). */
void print_table_init(struct print_table *t, size_t ncols);

/* Free every cell; the table is then empty and may be re-initialised. */
void print_table_fini(struct print_table *t);

/* Right-align column col (numbers) in every row but the header. */
void print_table_right(struct print_table *t, size_t col);

/* Append a copy of s (NULL shows as "-") as the next cell. */
void print_table_cell(struct print_table *t, const char *s);

/* Append the next cell, formatted printf-style. */
void print_table_cellf(struct print_table *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Rows so far, header included (a row being filled counts). */
size_t print_table_rows(const struct print_table *t);

/*
 * Write the table to f (a last incomplete row is completed with empty
 * cells). bold: wrap the header row in bold escapes. Returns 0, the sticky
 * -ENOMEM, or -EIO when f reported a write error.
 */
int print_table_write(const struct print_table *t, FILE *f, int bold);

/* Show every byte below 0x20 and DEL of s as '?' (text from the network, for a terminal). Returns s. */
char *print_scrub(char *s);

/* ---- values ------------------------------------------------------------- */

/*
 * Bytes as a human size into out[0..cap): "512 B", "1.5 KiB", "23.4 MiB",
 * up to "EiB", one decimal, rounded half up. Returns the length (as
 * snprintf: a result >= cap means out was cut).
 */
int print_size(char *out, size_t cap, uint64_t bytes);

/*
 * A duration in milliseconds into out[0..cap): "850ms", "4.2s" (under a
 * minute, tenths rounded down), "3m07s", "2h05m", "3d04h". Returns the
 * length as snprintf does.
 */
int print_duration(char *out, size_t cap, uint64_t ms);

/*
 * Parse an RFC 3339 timestamp "YYYY-MM-DDTHH:MM:SS[.frac](Z|+HH:MM|-HH:MM)"
 * ('t'/'z' and a space instead of 'T' accepted) into seconds since the
 * epoch (fraction dropped). Returns 0, or -1 on any other text or an
 * impossible date.
 */
int print_parse_rfc3339(const char *s, time_t *out);

/*
 * Write p[0..n) to f as it is, followed by a newline unless it already ends
 * in one (the --json pass-through). Returns 0 or -EIO.
 */
int print_raw(FILE *f, const char *p, size_t n);

/*
 * Print "htc: " and the message, formatted printf-style, and a newline to
 * stderr (every error message of htc goes through here).
 */
void print_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * 1 when output on fd deserves bold headers: fd is a terminal, NO_COLOR is
 * unset or empty and TERM is not "dumb". Else 0.
 */
int print_style(int fd);

#endif
