/*
 * inspect_page.c: finding the inspector's embedded files (see
 * inspect_page.h; the bytes are in the generated file).
 */
#include "inspect_page.h"

#include <string.h>

/* see inspect_page.h */
const struct inspect_page_asset *
inspect_page_find(const char *path, size_t n)
{
	size_t i;

	if (n == 1 && path[0] == '/') {
		path = "/index.html";
		n = strlen(path);
	}
	for (i = 0; i < inspect_page_nassets; i++)
		if (strlen(inspect_page_assets[i].path) == n &&
		    memcmp(inspect_page_assets[i].path, path, n) == 0)
			return &inspect_page_assets[i];
	return NULL;
}
