/* Flow files: YAML (and JSON, which is YAML's flow style) read into jansson values, with the
 * line and column of every node kept for error messages (internal). */
#ifndef SLUICE_FLOW_YAML_H
#define SLUICE_FLOW_YAML_H

#include <stddef.h>

#include <jansson.h>

/* The bounds of one document: its size in bytes, the values it may produce (each alias counts
 * as many values as its copy holds, so a few aliases cannot expand into gigabytes), how deeply
 * they nest (through aliases too), and the length of a key. */
#define SL_YAML_MAX_BYTES (1u << 20)
#define SL_YAML_MAX_NODES 100000
#define SL_YAML_MAX_DEPTH 64
#define SL_YAML_MAX_KEY 255

/* Parses one document. pos (an object, may be NULL) receives, for every node, its path
 * ("steps[0].with.email"; "" for the root) -> [line, column], 1-based. NULL with err set to
 * "LINE:COLUMN: problem" when the text is not YAML, is past one of the bounds above, or uses
 * what flows have no use for (tags, keys that are not strings, a second document). */
json_t *sl__yaml_load(const char *text, size_t len, json_t *pos, char *err, size_t errlen);

/* "LINE:COL" of path, or of its nearest ancestor that has one ("1:1" at worst). */
void sl__yaml_where(const json_t *pos, const char *path, char *out, size_t n);

#endif
