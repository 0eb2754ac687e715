/* JSON-lines logging to stderr (internal). Never pass secrets in fields. */
#ifndef SLUICE_CORE_LOG_H
#define SLUICE_CORE_LOG_H

#include <jansson.h>

/* Writes one line {"ts": ISO time, "level": level, "msg": msg, ...fields} to stderr, whole,
 * even from several threads. `fields` (may be NULL) is stolen. */
void sl__log(const char *level, const char *msg, json_t *fields);

/* A new JSON string of s for a log field, whatever bytes s holds: each byte that is not part
 * of well-formed UTF-8 becomes U+FFFD, so that the field is never lost (jansson refuses
 * strings that are not UTF-8). NULL only when out of memory; "s:o" in json_pack takes it. */
json_t *sl__log_str(const char *s);

/* Silences info lines (warnings and errors still go out). */
void sl__log_quiet(int quiet);

/* Lines for a person (time level message key=value) instead of JSON lines. */
void sl__log_text(int text);

/* Whether a line of this level is printed (to skip building fields nobody sees). */
int sl__log_wants(const char *level);

#endif
