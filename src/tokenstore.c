/*
 * tokenstore.c: a generated token kept in a file. See tokenstore.h.
 */
#include "tokenstore.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util.h"

static int
fail(char *err, size_t errlen, const char *path, const char *why)
{
	snprintf(err, errlen, "%.200s: %s", path, why);
	return -1;
}

/* 1 when s[0..n) looks like a generated token (base64url, no padding). */
static int
token_chars(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		char c = s[i];

		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '_'))
			return 0;
	}
	return 1;
}

/* see tokenstore.h */
int
tokenstore_load(const char *path, char *out, size_t cap, int *loose, char *err, size_t errlen)
{
	char buf[TOKENSTORE_MAX + 2];
	struct stat st;
	ssize_t r;
	size_t n = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);

	*loose = 0;
	if (fd < 0 && errno == ENOENT)
		return 0;
	if (fd < 0)
		return fail(err, errlen, path, strerror(errno));
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return fail(err, errlen, path, "not a regular file");
	}
	*loose = (st.st_mode & 077) != 0;
	while (n < sizeof(buf) && (r = read(fd, buf + n, sizeof(buf) - n)) != 0) {
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			close(fd);
			return fail(err, errlen, path, strerror(errno));
		}
		n += (size_t)r;
	}
	close(fd);
	if (n > 0 && buf[n - 1] == '\n')
		n--;
	if (n < TOKENSTORE_MIN || n > TOKENSTORE_MAX || n >= cap || !token_chars(buf, n)) {
		util_wipe(buf, sizeof(buf));
		return fail(err, errlen, path,
			    "does not hold a generated token (remove it to generate a new one)");
	}
	memcpy(out, buf, n);
	out[n] = '\0';
	util_wipe(buf, sizeof(buf));
	return 1;
}

/* see tokenstore.h */
int
tokenstore_save(const char *path, const char *token, char *err, size_t errlen)
{
	char line[TOKENSTORE_MAX + 2];
	size_t n = strlen(token);
	int rc;

	if (n > TOKENSTORE_MAX)
		return fail(err, errlen, path, "token too long");
	memcpy(line, token, n);
	line[n++] = '\n';
	rc = util_replace_file(path, line, n);
	util_wipe(line, sizeof(line));
	return rc < 0 ? fail(err, errlen, path, strerror(-rc)) : 0;
}
