/*
 * test_print.c: htc's tables (alignment, right-aligned numbers, bold
 * header, escape scrubbing, incomplete rows, sticky errors), human sizes,
 * durations, RFC 3339 parsing and the raw pass-through. Output is captured
 * with open_memstream and compared byte for byte.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "htc/print.h"

/* Render t into a malloc'd string; *rc gets print_table_write's result. */
static char *
render(const struct print_table *t, int bold, int *rc)
{
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);

	assert_non_null(f);
	*rc = print_table_write(t, f, bold);
	fclose(f);
	return out;
}

static void
test_table_aligned(void **state)
{
	struct print_table t;
	char *out;
	int rc;

	(void)state;
	print_table_init(&t, 3);
	print_table_cell(&t, "ID");
	print_table_cell(&t, "PEER");
	print_table_cell(&t, "STREAMS");
	print_table_cell(&t, "a1");
	print_table_cell(&t, "127.0.0.1:40000");
	print_table_cellf(&t, "%d", 5);
	print_table_cell(&t, "session-long-id");
	print_table_cell(&t, NULL);
	print_table_cellf(&t, "%d/%d", 120, 1024);
	assert_int_equal(print_table_rows(&t), 3);
	out = render(&t, 0, &rc);
	assert_int_equal(rc, 0);
	assert_string_equal(out, "ID               PEER             STREAMS\n"
				 "a1               127.0.0.1:40000  5\n"
				 "session-long-id  -                120/1024\n");
	free(out);
	print_table_fini(&t);
}

static void
test_table_right_and_bold(void **state)
{
	struct print_table t;
	char *out;
	int rc;

	(void)state;
	print_table_init(&t, 3);
	print_table_right(&t, 1);
	print_table_right(&t, 9); /* out of range: ignored */
	print_table_cell(&t, "NAME");
	print_table_cell(&t, "N");
	print_table_cell(&t, "X");
	print_table_cell(&t, "a");
	print_table_cell(&t, "7");
	print_table_cell(&t, "x");
	print_table_cell(&t, "bb");
	print_table_cell(&t, "1234");
	print_table_cell(&t, "y");
	out = render(&t, 1, &rc);
	assert_int_equal(rc, 0);
	/* The header is never right-aligned; numbers are. */
	assert_string_equal(out, "\033[1mNAME  N     X\033[0m\n"
				 "a        7  x\n"
				 "bb    1234  y\n");
	free(out);
	print_table_fini(&t);
}

static void
test_table_utf8_and_scrub(void **state)
{
	struct print_table t;
	char *out;
	int rc;

	(void)state;
	print_table_init(&t, 2);
	print_table_cell(&t, "h\xc3\xa9"); /* "hé": 3 bytes, 2 wide */
	print_table_cell(&t, "v");
	print_table_cell(&t, "\033[31mred\n"); /* escape and newline become '?' */
	print_table_cell(&t, "w");
	out = render(&t, 0, &rc);
	assert_int_equal(rc, 0);
	assert_string_equal(out, "h\xc3\xa9         v\n"
				 "?[31mred?  w\n");
	free(out);
	print_table_fini(&t);
}

static void
test_table_incomplete_row(void **state)
{
	struct print_table t;
	char *out;
	int rc;

	(void)state;
	print_table_init(&t, 3);
	print_table_cell(&t, "A");
	print_table_cell(&t, "B");
	print_table_cell(&t, "C");
	print_table_cell(&t, "1");
	assert_int_equal(print_table_rows(&t), 2);
	out = render(&t, 0, &rc);
	assert_int_equal(rc, 0);
	assert_string_equal(out, "A  B  C\n1\n");
	free(out);
	print_table_fini(&t);

	/* An empty table prints nothing; a bad column count becomes 1. */
	print_table_init(&t, 0);
	assert_int_equal(t.ncols, 1);
	out = render(&t, 1, &rc);
	assert_int_equal(rc, 0);
	assert_string_equal(out, "");
	free(out);
	print_table_fini(&t);
}

static void
test_table_many_rows(void **state)
{
	struct print_table t;
	char *out, *line;
	int rc, i, n = 0;

	(void)state;
	print_table_init(&t, 2);
	for (i = 0; i < 1000; i++) {
		print_table_cellf(&t, "%d", i);
		print_table_cell(&t, "x");
	}
	out = render(&t, 0, &rc);
	assert_int_equal(rc, 0);
	for (line = out; (line = strchr(line, '\n')) != NULL; line++)
		n++;
	assert_int_equal(n, 1000);
	assert_memory_equal(out, "0    x\n", 7);
	assert_non_null(strstr(out, "\n999  x\n"));
	free(out);
	print_table_fini(&t);
}

static void
test_table_sticky_error(void **state)
{
	struct print_table t;
	char *out;
	int rc;

	(void)state;
	print_table_init(&t, 1);
	print_table_cell(&t, "a");
	t.err = -ENOMEM; /* as a failed allocation leaves it */
	print_table_cell(&t, "b");
	assert_int_equal(t.ncells, 1);
	out = render(&t, 0, &rc);
	assert_int_equal(rc, -ENOMEM);
	assert_string_equal(out, "");
	free(out);
	print_table_fini(&t);
	assert_int_equal(t.err, 0);
	assert_int_equal(t.ncols, 1);
}

static void
test_table_write_error(void **state)
{
	struct print_table t;
	FILE *f = fopen("/dev/full", "w");

	(void)state;
	if (f == NULL)
		skip();
	setvbuf(f, NULL, _IONBF, 0);
	print_table_init(&t, 1);
	print_table_cell(&t, "a");
	assert_int_equal(print_table_write(&t, f, 0), -EIO);
	assert_int_equal(print_raw(f, "x", 1), -EIO);
	fclose(f);
	print_table_fini(&t);
}

static void
test_size(void **state)
{
	static const struct {
		uint64_t in;
		const char *out;
	} v[] = {
		{ 0, "0 B" },
		{ 1023, "1023 B" },
		{ 1024, "1.0 KiB" },
		{ 1536, "1.5 KiB" },
		{ 1996, "1.9 KiB" }, /* 1.949.. */
		{ 1997, "2.0 KiB" }, /* 1.950.. rounds half up */
		{ 1048524, "1023.9 KiB" },
		{ 1048525, "1.0 MiB" }, /* would be 1024.0 KiB */
		{ 24536678, "23.4 MiB" },
		{ 1073741824, "1.0 GiB" },
		{ 5497558138880ull, "5.0 TiB" },
		{ UINT64_MAX, "16.0 EiB" },
	};
	char buf[32];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		int n = print_size(buf, sizeof(buf), v[i].in);
		assert_string_equal(buf, v[i].out);
		assert_int_equal(n, strlen(v[i].out));
	}
	assert_int_equal(print_size(buf, 4, 1536), 7); /* cut, as snprintf */
	assert_string_equal(buf, "1.5");
}

static void
test_duration(void **state)
{
	static const struct {
		uint64_t ms;
		const char *out;
	} v[] = {
		{ 0, "0ms" },          { 850, "850ms" },       { 999, "999ms" },     { 1000, "1.0s" },
		{ 4290, "4.2s" },      { 59999, "59.9s" },     { 60000, "1m00s" },   { 187000, "3m07s" },
		{ 3599999, "59m59s" }, { 3600000, "1h00m" },   { 7500000, "2h05m" }, { 86399999, "23h59m" },
		{ 86400000, "1d00h" }, { 273600000, "3d04h" },
	};
	char buf[32];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		print_duration(buf, sizeof(buf), v[i].ms);
		assert_string_equal(buf, v[i].out);
	}
}

static void
test_rfc3339(void **state)
{
	static const struct {
		const char *in;
		time_t t;
	} ok[] = {
		{ "1970-01-01T00:00:00Z", 0 },
		{ "2024-05-01T12:00:00Z", 1714564800 },
		{ "2024-05-01T12:00:00.123Z", 1714564800 },
		{ "2024-05-01t12:00:00z", 1714564800 },
		{ "2024-05-01 12:00:00Z", 1714564800 },
		{ "2024-05-01T14:30:00+02:30", 1714564800 },
		{ "2024-05-01T09:00:00-03:00", 1714564800 },
		{ "2024-02-29T00:00:00Z", 1709164800 },
		{ "2000-02-29T00:00:00Z", 951782400 },
	};
	static const char *const bad[] = {
		"",
		"2024-05-01",
		"2024-05-01T12:00:00",
		"2024-05-01T12:00Z",
		"2024-5-01T12:00:00Z",
		"2024-05-01X12:00:00Z",
		"2024-13-01T00:00:00Z",
		"2024-00-01T00:00:00Z",
		"2023-02-29T00:00:00Z",
		"1900-02-29T00:00:00Z",
		"2024-04-31T00:00:00Z",
		"2024-05-01T24:00:00Z",
		"2024-05-01T12:60:00Z",
		"2024-05-01T12:00:61Z",
		"2024-05-01T12:00:00.Z",
		"2024-05-01T12:00:00+0200",
		"2024-05-01T12:00:00+24:00",
		"2024-05-01T12:00:00Zjunk",
		"2024-05-01T12:00:00 Z",
		"abcd-05-01T12:00:00Z",
	};
	time_t t;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		t = 1;
		if (print_parse_rfc3339(ok[i].in, &t) != 0)
			fail_msg("refused '%s'", ok[i].in);
		assert_int_equal(t, ok[i].t);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (print_parse_rfc3339(bad[i], &t) != -1)
			fail_msg("accepted '%s'", bad[i]);
	assert_int_equal(print_parse_rfc3339(NULL, &t), -1);
}

static void
test_raw(void **state)
{
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);

	(void)state;
	assert_int_equal(print_raw(f, "{\"a\":1}", 7), 0);
	assert_int_equal(print_raw(f, "x\n", 2), 0);
	assert_int_equal(print_raw(f, "", 0), 0);
	fclose(f);
	assert_int_equal(len, 11);
	assert_memory_equal(out, "{\"a\":1}\nx\n\n", 11);
	free(out);
}

static void
test_style(void **state)
{
	int p[2];

	(void)state;
	assert_int_equal(pipe(p), 0);
	assert_int_equal(print_style(p[1]), 0); /* a pipe is not a terminal */
	close(p[0]);
	close(p[1]);
	assert_int_equal(print_style(-1), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table_aligned),
		cmocka_unit_test(test_table_right_and_bold),
		cmocka_unit_test(test_table_utf8_and_scrub),
		cmocka_unit_test(test_table_incomplete_row),
		cmocka_unit_test(test_table_many_rows),
		cmocka_unit_test(test_table_sticky_error),
		cmocka_unit_test(test_table_write_error),
		cmocka_unit_test(test_size),
		cmocka_unit_test(test_duration),
		cmocka_unit_test(test_rfc3339),
		cmocka_unit_test(test_raw),
		cmocka_unit_test(test_style),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
