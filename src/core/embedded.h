/* Text files built into the binary by cmake/embed.cmake (internal): tables sorted by name. */
#ifndef SLUICE_CORE_EMBEDDED_H
#define SLUICE_CORE_EMBEDDED_H

#include <stddef.h>

typedef struct sl_embedded {
    const char *name; /* the file's name without its extension */
    const char *text;
} sl_embedded_t;

extern const sl_embedded_t sl__shipped_fixtures[]; /* fixtures/ *.json, by event type */
extern const size_t sl__shipped_fixtures_count;
extern const sl_embedded_t sl__example_flows[]; /* examples/flows/ *.yaml, by file name */
extern const size_t sl__example_flows_count;
extern const sl_embedded_t sl__web_files[]; /* web/ *: the dashboard, by file name */
extern const size_t sl__web_files_count;

/* The text named `name` in a table, or NULL. */
const char *sl__embedded_find(const sl_embedded_t *table, size_t n, const char *name);

#endif
