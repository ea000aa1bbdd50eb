/*
 * inspect_page.h: the inspector's page (HTML, CSS, JavaScript), built
 * into htc so that it works offline and loads nothing from elsewhere.
 *
 * The files are the .html, .js and .css files of src/htc/inspect/; the Makefile
 * turns them into a C array at build time (src/htc/inspect/embed.sh),
 * which defines inspect_page_assets[]. index.html is also served for "/".
 */
#ifndef HTC_INSPECT_PAGE_H
#define HTC_INSPECT_PAGE_H

#include <stddef.h>

struct inspect_page_asset {
	const char *path; /* "/index.html" */
	const char *type; /* Content-Type */
	const unsigned char *data;
	size_t len;
};

/* Defined by the generated file. */
extern const struct inspect_page_asset inspect_page_assets[];
extern const size_t inspect_page_nassets;

/* The asset served at path[0..n) ("/" is "/index.html"), NULL when none. */
const struct inspect_page_asset *inspect_page_find(const char *path, size_t n);

#endif
