/*
 * conf_file.h: where htc's config file is, reading it (with the messages
 * a person sees) and writing it safely.
 *
 * The path: $HTC_CONFIG, else $XDG_CONFIG_HOME/htc/config (an absolute
 * XDG_CONFIG_HOME only, as the XDG spec says), else
 * $HOME/.config/htc/config; an empty variable counts as unset. A missing
 * file at the default path is no error (there is simply no file); a
 * missing file named by $HTC_CONFIG is.
 *
 * Messages go through print_err(), prefixed with the path and the line:
 * "htc: /home/u/.config/htc/config:7: unknown key 'exose' in [tunnel web]".
 * The token is never printed.
 *
 * Not here: what the text means (conf.h), which setting wins over which
 * (main.c: flags, then the environment, then the file).
 */
#ifndef HTC_CONF_FILE_H
#define HTC_CONF_FILE_H

#include <stddef.h>

#include "conf.h"

#define CONF_FILE_SIZE_MAX (1 << 20) /* largest config file read */

/* Where the path came from. */
enum conf_file_origin {
	CONF_FILE_NONE = 0, /* no path: no HTC_CONFIG, no XDG_CONFIG_HOME, no HOME */
	CONF_FILE_DEFAULT,  /* the XDG or HOME default: may be missing */
	CONF_FILE_ENV,      /* $HTC_CONFIG: must exist */
};

/* The outcome of conf_file_load(). */
enum conf_file_status {
	CONF_FILE_LOADED = 0, /* read and parsed into the conf */
	CONF_FILE_MISSING,    /* no file at a default path: nothing to read */
	CONF_FILE_BAD,        /* unreadable, too large or refused: told on stderr */
};

/* The config file's path into out[0..cap), and where it came from (out is "" for CONF_FILE_NONE or when cap
 * is too small). */
enum conf_file_origin conf_file_path(char *out, size_t cap);

/*
 * Read the whole file at path into *text (malloc'd, NUL-terminated; the
 * caller frees it) and its length into *len. Returns 0, -ENOENT when there
 * is no file, -EFBIG above CONF_FILE_SIZE_MAX, or another -errno. *mode
 * gets its permission bits when not NULL.
 */
int conf_file_read(const char *path, char **text, size_t *len, unsigned *mode);

/*
 * Read and parse the file at path into c. A missing file is CONF_FILE_BAD
 * when must_exist is set, else CONF_FILE_MISSING. Relative token-file and
 * ca-file paths are made relative to the file's directory (kept in static
 * storage). A file that holds a token and that group or others may read
 * gets one warning on stderr (as ssh gives for keys), and is read anyway.
 */
enum conf_file_status conf_file_load(struct conf *c, const char *path, int must_exist);

/*
 * Write text[0..len) as the file at path, mode 0600, through a temporary
 * file in the same directory renamed over it, so that readers see the old
 * file or the new one. Missing directories on the way are created 0700.
 * Returns 0, or -errno after printing what failed.
 */
int conf_file_write(const char *path, const char *text, size_t len);

#endif
