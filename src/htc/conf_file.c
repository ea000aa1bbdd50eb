/*
 * conf_file.c: the config file on disk (see conf_file.h): its path, reading
 * it whole, telling its errors with path and line, the permission warning,
 * and writing it through a temporary file and rename().
 */
#include "conf_file.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "print.h"
#include "util.h"

/* $name, or NULL when unset or empty. */
static const char *
env(const char *name)
{
	const char *v = getenv(name);

	return v != NULL && *v != '\0' ? v : NULL;
}

/* see conf_file.h */
enum conf_file_origin
conf_file_path(char *out, size_t cap)
{
	const char *v;
	enum conf_file_origin from = CONF_FILE_DEFAULT;
	int n;

	if ((v = env("HTC_CONFIG")) != NULL) {
		n = snprintf(out, cap, "%s", v);
		from = CONF_FILE_ENV;
	} else if ((v = env("XDG_CONFIG_HOME")) != NULL && v[0] == '/') {
		n = snprintf(out, cap, "%s/htc/config", v);
	} else if ((v = env("HOME")) != NULL) {
		n = snprintf(out, cap, "%s%s.config/htc/config", v, v[strlen(v) - 1] == '/' ? "" : "/");
	} else {
		n = -1;
	}
	if (n < 0 || (size_t)n >= cap) {
		if (cap > 0)
			out[0] = '\0';
		return CONF_FILE_NONE;
	}
	return from;
}

/* Read fd to its end into a new buffer. 0 or -errno. */
static int
read_all(int fd, size_t size, char **text, size_t *len)
{
	char *buf = malloc(size + 1);
	size_t n = 0;
	ssize_t r;

	if (buf == NULL)
		return -ENOMEM;
	while (n < size + 1 && (r = read(fd, buf + n, size + 1 - n)) != 0) {
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			free(buf);
			return -errno;
		}
		n += (size_t)r;
	}
	if (n > size) { /* it grew meanwhile */
		free(buf);
		return -EFBIG;
	}
	buf[n] = '\0';
	*text = buf;
	*len = n;
	return 0;
}

/* see conf_file.h */
int
conf_file_read(const char *path, char **text, size_t *len, unsigned *mode)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC), rc;

	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		rc = -errno;
	} else if (S_ISDIR(st.st_mode)) {
		rc = -EISDIR;
	} else if (st.st_size > CONF_FILE_SIZE_MAX) {
		rc = -EFBIG;
	} else {
		rc = read_all(fd, CONF_FILE_SIZE_MAX, text, len);
		if (mode != NULL)
			*mode = (unsigned)st.st_mode & 07777;
	}
	close(fd);
	return rc;
}

/* Make a relative path in c->set[which] relative to the directory of path, in buf. */
static void
resolve(struct conf *c, enum conf_setting which, const char *path, char *buf, size_t cap)
{
	const char *v = c->set[which], *slash = strrchr(path, '/');
	int n;

	if (v == NULL || v[0] == '/' || slash == NULL)
		return;
	n = snprintf(buf, cap, "%.*s/%s", (int)(slash - path), path, v);
	if (n > 0 && (size_t)n < cap)
		c->set[which] = buf;
}

/* see conf_file.h */
enum conf_file_status
conf_file_load(struct conf *c, const char *path, int must_exist)
{
	static char token_file[PATH_MAX], ca_file[PATH_MAX];
	char *text = NULL;
	size_t len = 0;
	unsigned mode = 0;
	int rc = conf_file_read(path, &text, &len, &mode);

	if (rc == -ENOENT && !must_exist)
		return CONF_FILE_MISSING;
	if (rc < 0) {
		print_err("config file %s: %s%s", path, strerror(-rc),
			  rc == -ENOENT ? " (named by HTC_CONFIG)" : "");
		return CONF_FILE_BAD;
	}
	rc = conf_parse(c, text, len);
	free(text);
	if (rc < 0) {
		print_err("%s:%d: %s", path, c->err_line, c->err);
		return CONF_FILE_BAD;
	}
	if (c->set[CONF_TOKEN] != NULL && (mode & 044) != 0)
		print_err("warning: %s holds a token and others may read it (mode %04o): chmod 600 %s", path,
			  mode, path);
	resolve(c, CONF_TOKEN_FILE, path, token_file, sizeof(token_file));
	resolve(c, CONF_CA_FILE, path, ca_file, sizeof(ca_file));
	return CONF_FILE_LOADED;
}

/* Create the directories of path's parent that are missing, mode 0700. 0 or -errno (printed). */
static int
make_dirs(const char *path)
{
	char dir[PATH_MAX];
	char *p;
	int n = snprintf(dir, sizeof(dir), "%s", path);

	if (n < 0 || (size_t)n >= sizeof(dir))
		return -ENAMETOOLONG;
	for (p = strchr(dir + 1, '/'); p != NULL; p = strchr(p + 1, '/')) {
		*p = '\0';
		if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
			int e = errno;

			print_err("creating %s: %s", dir, strerror(e));
			return -e;
		}
		*p = '/';
	}
	return 0;
}

/* see conf_file.h */
int
conf_file_write(const char *path, const char *text, size_t len)
{
	int rc = make_dirs(path);

	if (rc < 0)
		return rc;
	rc = util_replace_file(path, text, len);
	if (rc < 0)
		print_err("writing %s: %s", path, strerror(-rc));
	return rc;
}
