/* Flows: automations kept as files (YAML or JSON), loaded and checked before anything runs
 * (internal). A flow is a name, a connection, a trigger (Stripe event types with wildcards,
 * `manual`, or a cron `schedule`) and steps. */
#ifndef SLUICE_FLOW_H
#define SLUICE_FLOW_H

#include <stddef.h>
#include <time.h>

#include <jansson.h>

#include "sluice/error.h"

enum { SL_TRIGGER_EVENTS = 1, SL_TRIGGER_MANUAL, SL_TRIGGER_SCHEDULE };

/* A cron expression: minute hour day-of-month month day-of-week, as bit sets. */
typedef struct sl_cron {
    unsigned long long minute; /* bits 0-59 */
    unsigned hour;             /* bits 0-23 */
    unsigned dom;              /* bits 1-31 */
    unsigned month;            /* bits 1-12 */
    unsigned dow;              /* bits 0-6, Sunday = 0 */
    int dom_any, dow_any;      /* '*': cron's rule for combining the two day fields */
} sl_cron_t;

typedef struct sl_flow {
    char name[128];
    char file[1024];
    char connection[64]; /* "" when the flow calls no Stripe operation */
    int trigger;         /* SL_TRIGGER_* */
    json_t *events;      /* SL_TRIGGER_EVENTS: the patterns ("invoice.*") */
    char cron_text[128];
    sl_cron_t cron;
    int enabled_default; /* `enabled:` in the file; the store's setting wins */
    json_t *def;         /* the whole file, parsed */
    json_t *pos;         /* node path -> [line, column] */
} sl_flow_t;

typedef struct sl_flows {
    sl_flow_t *v;
    size_t n;
} sl_flows_t;

/* Loads and checks one file. Problems are appended to `errors` as "FILE:LINE:COL: message"
 * strings; returns SL_EINVAL if there were any. */
sl_err sl__flow_load(const char *file, sl_flow_t *out, json_t *errors);
/* The same for a file already read: `text` (len bytes, at most 4 MiB, no NUL needed) is what
 * `file` holds; `file` only names it in messages. */
sl_err sl__flow_load_text(const char *file, const char *text, size_t len, sl_flow_t *out,
                          json_t *errors);
void sl__flow_cleanup(sl_flow_t *f);

/* Loads every *.yaml, *.yml and *.json file of a directory (sorted by name), checking each and
 * that no two flows share a name. A missing directory holds no flows. */
sl_err sl__flows_load_dir(const char *dir, sl_flows_t *out, json_t *errors);
void sl__flows_free(sl_flows_t *flows);
const sl_flow_t *sl__flows_find(const sl_flows_t *flows, const char *name);

/* Whether an event of this type, on this connection, triggers the flow. */
int sl__flow_wants(const sl_flow_t *f, const char *type, const char *connection);

/* Event-type patterns: exact, "*", or a prefix ending in ".*" ("invoice.*"). */
int sl__event_pattern_matches(const char *pattern, const char *type);

/* Cron: five fields between blanks (ranges a-b, lists a,b, steps "*" "/n", a-b/n and a/n; no
 * month or day names, signs or empty list items; a field at most 127 characters) or @hourly,
 * @daily, @midnight, @weekly, @monthly, @yearly, @annually. */
sl_err sl__cron_parse(const char *text, sl_cron_t *out, char *err, size_t errlen);
/* Whether the minute that contains t (UTC) is one the expression names. */
int sl__cron_matches(const sl_cron_t *c, time_t t);

/* Formats a step or node path; one too long is cut (paths only label records and messages). */
void sl__path_fmt(char *out, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* The kind of a step object ("stripe", "loop", ...), or NULL. */
const char *sl__step_kind(const json_t *step);

#endif
