/* Lookups in the tables cmake/embed.cmake generates: see embedded.h. */
#include <stdlib.h>
#include <string.h>

#include "core/embedded.h"

static int by_name(const void *key, const void *row)
{
    return strcmp(key, ((const sl_embedded_t *)row)->name);
}

const char *sl__embedded_find(const sl_embedded_t *table, size_t n, const char *name)
{
    const sl_embedded_t *e = bsearch(name, table, n, sizeof *table, by_name);
    return e ? e->text : NULL;
}
