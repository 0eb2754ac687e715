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

/* A flow's `max_steps`: the steps one run may execute, each loop iteration's steps counted, so
 * nested loops have an overall bound. The default when the file gives none, and the most a file
 * may ask for. */
#define SL_FLOW_MAX_STEPS_DEFAULT 100000
#define SL_FLOW_MAX_STEPS_LIMIT 1000000

/* A cron expression: minute hour day-of-month month day-of-week, as bit sets. */
typedef struct sl_cron {
    unsigned long long minute; /* bits 0-59 */
    unsigned hour;             /* bits 0-23 */
    unsigned dom;              /* bits 1-31 */
    unsigned month;            /* bits 1-12 */
    unsigned dow;              /* bits 0-6, Sunday = 0 */
    int dom_any, dow_any;      /* '*': cron's rule for combining the two day fields */
} sl_cron_t;

#define SL_FLOW_NAME_MAX 128

typedef struct sl_flow {
    char name[SL_FLOW_NAME_MAX];
    char file[1024];
    char connection[64]; /* "" when the flow calls no Stripe operation */
    int trigger;         /* SL_TRIGGER_* */
    json_t *events;      /* SL_TRIGGER_EVENTS: the patterns ("invoice.*") */
    char cron_text[128];
    sl_cron_t cron;
    int enabled_default; /* `enabled:` in the file; the store's setting wins */
    json_t *def;         /* the whole file, parsed */
    json_t *pos;         /* node path -> [line, column] */
    long max_steps;      /* steps one run may take in all: `max_steps:` in the file (1 to
                          * SL_FLOW_MAX_STEPS_LIMIT), else SL_FLOW_MAX_STEPS_DEFAULT; 0 (a flow
                          * not loaded from a file): the engine's default */
} sl_flow_t;

typedef struct sl_flows {
    sl_flow_t *v;
    size_t n;
} sl_flows_t;

/* What the checks may compare a flow with beyond its own file (borrowed; NULL members are not
 * checked). */
typedef struct sl_flow_known {
    const json_t *connections; /* the store's connection names, an array of strings */
} sl_flow_known_t;

/* Loads and checks one file. Problems are appended to `errors` as "FILE:LINE:COL: message"
 * strings; returns SL_EINVAL if there were any. With `known` (may be NULL), the flow is also
 * checked against it: its `connection` must be one of known->connections. */
sl_err sl__flow_load_known(const char *file, const sl_flow_known_t *known, sl_flow_t *out,
                           json_t *errors);
/* sl__flow_load_known() without `known`. */
sl_err sl__flow_load(const char *file, sl_flow_t *out, json_t *errors);
/* The same for a file already read: `text` (len bytes, at most SL_YAML_MAX_BYTES, no NUL
 * needed) is what `file` holds; `file` only names it in messages. */
sl_err sl__flow_load_text_known(const char *file, const char *text, size_t len,
                                const sl_flow_known_t *known, sl_flow_t *out, json_t *errors);
/* sl__flow_load_text_known() without `known`. */
sl_err sl__flow_load_text(const char *file, const char *text, size_t len, sl_flow_t *out,
                          json_t *errors);
void sl__flow_cleanup(sl_flow_t *f);

/* Loads every *.yaml, *.yml and *.json file of a directory (sorted by name), checking each (with
 * `known`, which may be NULL) and that no two flows share a name. A missing directory holds no
 * flows. */
sl_err sl__flows_load_dir_known(const char *dir, const sl_flow_known_t *known, sl_flows_t *out,
                                json_t *errors);
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
