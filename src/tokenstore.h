/*
 * tokenstore.h: the file that keeps a generated token across restarts
 * (--token-store, by default $STATE_DIRECTORY/token under systemd).
 *
 * The file holds the token and a newline, mode 0600, written to a
 * temporary file beside it and renamed into place, so a crash never
 * leaves half a token. Reading accepts what a generated token looks like
 * (base64url, TOKENSTORE_MIN..TOKENSTORE_MAX characters) and nothing else:
 * a file that holds something else is an error, never overwritten. No
 * logging here (the caller says what happened, naming the path, never
 * the token).
 */
#ifndef HT_TOKENSTORE_H
#define HT_TOKENSTORE_H

#include <stddef.h>

#define TOKENSTORE_MIN 16
#define TOKENSTORE_MAX 256

/*
 * Read the token kept at path into out (cap > TOKENSTORE_MAX). Returns 1
 * when one was read, 0 when there is no file, -1 with err filled when the
 * file cannot be read or holds no token. *loose is set to 1 when group or
 * others may read the file (the caller warns), else 0.
 */
int tokenstore_load(const char *path, char *out, size_t cap, int *loose, char *err, size_t errlen);

/* Keep token at path (0600, atomically). 0, or -1 with err filled. */
int tokenstore_save(const char *path, const char *token, char *err, size_t errlen);

#endif
