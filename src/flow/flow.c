/* Loading and checking flow files: see flow.h. Every problem found is reported, each with the
 * file, line and column of the node it is about, before any flow runs. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "flow/expr.h"
#include "flow/flow.h"
#include "flow/internal.h"
#include "flow/yaml.h"
#include "core/utf8.h"
#include "sluice/catalog.h"
#include "stripe/internal.h"

void sl__path_fmt(char *out, size_t n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(out, n, fmt, ap);
    va_end(ap);
}

struct sl_check {
    sl_flow_t *flow;
    json_t *errors;
    json_t *ids; /* step id -> [its place in the file (0, 1, ...), "LINE:COL", its node path] */
    int bad;
};
typedef struct sl_check checker_t;

static void add_error(json_t *errors, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Appends a problem to `errors` as UTF-8 whatever it quotes: bytes that are not (in the file's
 * name, or half a character where a long message was cut) become '?'. A problem that jansson
 * refused would be lost, and a file refused with no word why. */
static void add_error(json_t *errors, const char *fmt, ...)
{
    char text[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    sl__utf8_mend(text);
    json_array_append_new(errors, json_string(text));
}

static void problem(checker_t *c, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void problem(checker_t *c, const char *path, const char *fmt, ...)
{
    char msg[1024], where[32];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    sl__utf8_clip(msg);
    sl__yaml_where(c->flow->pos, path, where, sizeof where);
    add_error(c->errors, "%s:%s: %s", c->flow->file, where, msg);
    c->bad = 1;
}

int sl__event_pattern_matches(const char *pattern, const char *type)
{
    size_t n = strlen(pattern);
    if (strcmp(pattern, "*") == 0)
        return 1;
    if (n >= 2 && pattern[n - 1] == '*' && pattern[n - 2] == '.')
        return strncmp(pattern, type, n - 1) == 0;
    return strcmp(pattern, type) == 0;
}

int sl__flow_wants(const sl_flow_t *f, const char *type, const char *connection)
{
    if (f->trigger != SL_TRIGGER_EVENTS)
        return 0;
    if (f->connection[0] && connection && strcmp(f->connection, connection) != 0)
        return 0;
    for (size_t i = 0; i < json_array_size(f->events); i++)
        if (sl__event_pattern_matches(json_string_value(json_array_get(f->events, i)), type))
            return 1;
    return 0;
}

/* --- cron ------------------------------------------------------------------------------------- */

/* Digits at *p (at least one, no sign) as a number, capped past any field's range. */
static int cron_num(const char **p, long *out)
{
    const char *s = *p;
    long x = 0;
    for (; **p >= '0' && **p <= '9'; (*p)++)
        if (x < 1000)
            x = x * 10 + (**p - '0');
    *out = x;
    return *p > s;
}

/* One field: a comma list of `*`, N or N-M, each with an optional /STEP (N/STEP runs from N to
 * the top). Nothing else: no signs, no empty items. */
static int cron_field(const char *text, int lo, int hi, unsigned long long *bits, int *any)
{
    const char *p = text;
    *bits = 0;
    *any = strcmp(text, "*") == 0;
    for (;;) {
        long a = lo, b = hi, step = 1;
        int single = 0;
        if (*p == '*') {
            p++;
        } else {
            if (!cron_num(&p, &a))
                return -1;
            b = a;
            single = 1;
            if (*p == '-') {
                p++;
                if (!cron_num(&p, &b))
                    return -1;
                single = 0;
            }
            if (a < lo || b > hi || a > b)
                return -1;
        }
        if (*p == '/') {
            p++;
            if (!cron_num(&p, &step) || step < 1 || step > hi)
                return -1;
            if (single)
                b = hi; /* "5/15": from 5 on */
        }
        for (long v = a; v <= b; v += step)
            *bits |= 1ULL << v;
        if (!*p)
            return 0;
        if (*p != ',')
            return -1;
        p++;
    }
}

sl_err sl__cron_parse(const char *text, sl_cron_t *out, char *err, size_t errlen)
{
    static const struct {
        const char *name, *expr;
    } macros[] = {{"@hourly", "0 * * * *"},  {"@daily", "0 0 * * *"},   {"@midnight", "0 0 * * *"},
                  {"@weekly", "0 0 * * 0"},  {"@monthly", "0 0 1 * *"}, {"@yearly", "0 0 1 1 *"},
                  {"@annually", "0 0 1 1 *"}};
    for (size_t i = 0; i < sizeof macros / sizeof *macros; i++)
        if (strcmp(text, macros[i].name) == 0)
            text = macros[i].expr;
    /* Fields between blanks, each whole: a long one is refused, never split in two. */
    char f[5][128];
    int n = 0, too_long = 0;
    for (const char *p = text;;) {
        while (isspace((unsigned char)*p))
            p++;
        if (!*p)
            break;
        const char *s = p;
        while (*p && !isspace((unsigned char)*p))
            p++;
        if (n < 5 && (size_t)(p - s) < sizeof f[0]) {
            memcpy(f[n], s, (size_t)(p - s));
            f[n][p - s] = '\0';
        } else if (n < 5) {
            too_long = 1;
        }
        n++;
    }
    if (too_long) {
        snprintf(err, errlen, "cron `%.40s...`: a field is longer than 127 characters", text);
        sl__utf8_clip(err);
        return SL_EINVAL;
    }
    if (n != 5) {
        snprintf(err, errlen,
                 "`%s` is not a cron expression: it needs five fields (minute hour "
                 "day-of-month month day-of-week), e.g. \"0 9 * * 1\", or @hourly/@daily/@weekly",
                 text);
        sl__utf8_clip(err);
        return SL_EINVAL;
    }
    static const char *const names[] = {"minute (0-59)", "hour (0-23)", "day of month (1-31)",
                                        "month (1-12)", "day of week (0-7, Sunday is 0 or 7)"};
    static const int lo[] = {0, 0, 1, 1, 0}, hi[] = {59, 23, 31, 12, 7};
    unsigned long long bits[5];
    int any[5];
    for (int i = 0; i < 5; i++)
        if (cron_field(f[i], lo[i], hi[i], &bits[i], &any[i])) {
            snprintf(err, errlen, "cron `%s`: `%s` is not a valid %s field", text, f[i], names[i]);
            sl__utf8_clip(err);
            return SL_EINVAL;
        }
    out->minute = bits[0];
    out->hour = (unsigned)bits[1];
    out->dom = (unsigned)bits[2];
    out->month = (unsigned)bits[3];
    out->dow = (unsigned)((bits[4] | (bits[4] >> 7)) & 0x7f); /* 7 is Sunday too */
    out->dom_any = any[2];
    out->dow_any = any[4];
    return SL_OK;
}

int sl__cron_matches(const sl_cron_t *c, time_t t)
{
    struct tm tm;
    gmtime_r(&t, &tm);
    if (!(c->minute >> tm.tm_min & 1) || !(c->hour >> tm.tm_hour & 1) ||
        !(c->month >> (tm.tm_mon + 1) & 1))
        return 0;
    int dom = c->dom >> tm.tm_mday & 1, dow = c->dow >> tm.tm_wday & 1;
    /* cron: when both day fields are restricted, either may match */
    if (c->dom_any || c->dow_any)
        return dom && dow;
    return dom || dow;
}

void sl__check_problem(sl_check_t *c, const char *path, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    problem(c, path, "%s", msg);
}

const sl_flow_t *sl__check_flow(const sl_check_t *c)
{
    return c->flow;
}

/* --- checking --------------------------------------------------------------------------------- */

static int id_ok(const char *id)
{
    if (!id || !*id || strlen(id) > 64)
        return 0;
    for (const char *p = id; *p; p++)
        if (!isalnum((unsigned char)*p) && *p != '-' && *p != '_')
            return 0;
    return 1;
}

/* An expression field: "$.x > 1" or "{{ $.x > 1 }}". */
static void check_expr(checker_t *c, const char *path, const json_t *v, const char *what)
{
    char err[512];
    if (json_is_boolean(v))
        return;
    if (!json_is_string(v)) {
        problem(c, path, "%s must be an expression such as $.trigger.data.object.paid", what);
        return;
    }
    const char *s = json_string_value(v);
    if (strstr(s, "{{") ? sl__template_check(s, err, sizeof err)
                        : sl__expr_check(s, err, sizeof err))
        problem(c, path, "%s: %s", what, err);
}

static void check_templates(checker_t *c, const char *path, const json_t *v)
{
    char err[512];
    if (v && sl__template_check_json(v, err, sizeof err))
        problem(c, path, "%s", err);
}

void sl__check_templates(sl_check_t *c, const char *path, const json_t *v)
{
    check_templates(c, path, v);
}

static void check_keys(checker_t *c, const char *path, const json_t *obj,
                       const char *const *allowed, const char *what)
{
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)obj, k, v)
    {
        int ok = 0;
        for (size_t i = 0; allowed[i] && !ok; i++)
            ok = strcmp(allowed[i], k) == 0;
        if (!ok) {
            char sub[1024];
            sl__path_fmt(sub, sizeof sub, "%s.%s", path, k);
            problem(c, sub, "unknown key `%s` in %s", k, what);
        }
    }
}

static void check_steps(checker_t *c, const json_t *steps, const char *path, int depth);

static void check_step(checker_t *c, const json_t *step, const char *path, int depth)
{
    if (!json_is_object(step)) {
        problem(c, path,
                "a step is a mapping with an `id` and one of: stripe, loop, if, filter, "
                "set, http, email, contact, emit");
        return;
    }
    const char *id = json_string_value(json_object_get(step, "id"));
    char sub[1024];
    sl__path_fmt(sub, sizeof sub, "%s.id", path);
    if (!id_ok(id))
        problem(c, json_object_get(step, "id") ? sub : path,
                "every step needs an `id` of letters, digits, - and _ (at most 64)");
    else if (json_object_get(c->ids, id))
        problem(c, sub, "step id `%s` is used twice (first at line %s)", id,
                json_string_value(json_array_get(json_object_get(c->ids, id), 1)));
    else {
        char where[32];
        sl__yaml_where(c->flow->pos, sub, where, sizeof where);
        json_object_set_new(
            c->ids, id, json_pack("[I,s,s]", (json_int_t)json_object_size(c->ids), where, path));
    }
    const sl_step_kind_t *sk = sl__step_of(step);
    if (!sk) {
        int n = 0;
        for (size_t i = 0; sl__step_table[i]; i++)
            n += json_object_get(step, sl__step_table[i]->name) != NULL;
        const char *k;
        json_t *v;
        const char *unknown = NULL;
        json_object_foreach((json_t *)step, k, v) if (strcmp(k, "id") && strcmp(k, "retry") &&
                                                      strcmp(k, "description") &&
                                                      strcmp(k, "with") && strcmp(k, "then") &&
                                                      strcmp(k, "else") && strcmp(k, "steps") &&
                                                      !unknown) unknown = k;
        if (n > 1)
            problem(c, path, "a step has exactly one kind; this one has %d", n);
        else if (unknown)
            problem(c, path,
                    "unknown step kind `%s` (kinds: stripe, loop, if, filter, set, http, "
                    "email, contact, emit)",
                    unknown);
        else
            problem(c, path,
                    "the step names no kind (stripe, loop, if, filter, set, http, email, "
                    "contact, emit)");
        return;
    }
    const char *kind = sk->name;
    static const char *const common[] = {"id", "description", "retry", NULL};
    static const char *const none[] = {NULL};
    const char *const *extra = sk->extra ? sk->extra : none;
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)step, k, v)
    {
        int ok = !strcmp(k, kind);
        for (size_t i = 0; common[i] && !ok; i++)
            ok = !strcmp(common[i], k);
        for (size_t i = 0; extra[i] && !ok; i++)
            ok = !strcmp(extra[i], k);
        if (!ok) {
            sl__path_fmt(sub, sizeof sub, "%s.%s", path, k);
            problem(c, sub, "a %s step takes no `%s`", kind, k);
        }
    }
    const json_t *retry = json_object_get(step, "retry");
    if (retry) {
        sl__path_fmt(sub, sizeof sub, "%s.retry", path);
        const json_t *att = json_object_get(retry, "attempts");
        if (!json_is_object(retry) ||
            (att && (!json_is_integer(att) || json_integer_value(att) < 1 ||
                     json_integer_value(att) > 20)))
            problem(c, sub, "retry is {attempts: 1-20, backoff_ms: N}");
    }
    sl__path_fmt(sub, sizeof sub, "%s.%s", path, kind);
    const json_t *body = json_object_get(step, kind);
    switch (sk->flow) {
    case SL_STEP_LOOP: {
        check_expr(c, sub, body, "loop");
        char nested[1024];
        sl__path_fmt(nested, sizeof nested, "%s.steps", path);
        check_steps(c, json_object_get(step, "steps"), nested, depth + 1);
        break;
    }
    case SL_STEP_IF: {
        check_expr(c, sub, body, "if");
        char nested[1024];
        sl__path_fmt(nested, sizeof nested, "%s.then", path);
        check_steps(c, json_object_get(step, "then"), nested, depth + 1);
        if (json_object_get(step, "else")) {
            sl__path_fmt(nested, sizeof nested, "%s.else", path);
            check_steps(c, json_object_get(step, "else"), nested, depth + 1);
        }
        break;
    }
    case SL_STEP_FILTER:
        check_expr(c, sub, body, "filter");
        break;
    case SL_STEP_SET:
        check_templates(c, sub, body);
        break;
    case SL_STEP_ACTION:
        if (!sk->fields) { /* its own checks (stripe) */
            if (sk->check)
                sk->check(c, step, path);
            break;
        }
        if (!json_is_object(body)) {
            problem(c, sub, "a %s step's `%s` is a mapping of its fields", kind, kind);
            return;
        }
        char what[32];
        snprintf(what, sizeof what, "a %s step", kind);
        check_keys(c, sub, body, sk->fields, what);
        for (size_t i = 0; sk->needs && sk->needs[i]; i++)
            if (!json_object_get(body, sk->needs[i]))
                problem(c, sub, "a %s step needs `%s`", kind, sk->needs[i]);
        if (sk->check)
            sk->check(c, step, sub);
        check_templates(c, sub, body);
        break;
    }
}

static void check_steps(checker_t *c, const json_t *steps, const char *path, int depth)
{
    if (depth > 16) {
        problem(c, path, "steps are nested more than 16 deep");
        return;
    }
    if (!json_is_array(steps) || !json_array_size(steps)) {
        problem(c, path, "`%s` must be a non-empty list of steps",
                strrchr(path, '.') ? strrchr(path, '.') + 1 : path);
        return;
    }
    for (size_t i = 0; i < json_array_size(steps); i++) {
        char sub[1024];
        sl__path_fmt(sub, sizeof sub, "%s[%zu]", path, i);
        check_step(c, json_array_get(steps, i), sub, depth);
    }
}

/* --- what steps read of each other -----------------------------------------------------------
 * $.steps.ID is the output of a step that ran before. Reading a step that does not exist, comes
 * later in the file, or is the step itself fails the run when it gets there (or silently takes
 * the `??` default), so each is a problem at load. Checked once every id is known. */

typedef struct refs {
    checker_t *c;
    const char *step;     /* the id of the step whose field is read */
    json_int_t place;     /* its place in the file */
    size_t step_path_len; /* of its node path ("steps[2]") */
    const char *path;     /* the node holding the text ("steps[2].with.email") */
} refs_t;

/* For did-you-mean: keeps `cand` in *best when it is nearer to `name` than what is there (and
 * not `self`). */
static void consider(const char *name, const char *cand, const char *self, const char **best,
                     size_t *best_d)
{
    if (!cand || (self && strcmp(cand, self) == 0))
        return;
    size_t d = sl__edit_distance(name, cand);
    if (d <= *best_d && (!*best || d < *best_d)) {
        *best = cand;
        *best_d = d;
    }
}

/* Of `cands` (an object's keys, or an array's strings), the one nearest to a misspelled `name`
 * other than `self` (may be NULL), within a third of its length; NULL if none is that near. */
static const char *nearest(const json_t *cands, const char *name, const char *self)
{
    const char *best = NULL;
    size_t best_d = strlen(name) / 3 + 1;
    if (best_d > 3)
        best_d = 3;
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)cands, k, v) consider(name, k, self, &best, &best_d);
    for (size_t i = 0; i < json_array_size(cands); i++)
        consider(name, json_string_value(json_array_get(cands, i)), self, &best, &best_d);
    return best;
}

static void step_read(void *ctx, const char *first, const char *second, size_t col)
{
    refs_t *r = ctx;
    (void)col;
    if (strcmp(first, "steps") != 0 || !second)
        return;
    const char *field = r->path + r->step_path_len + 1; /* "with.email" */
    const json_t *def = json_object_get(r->c->ids, second);
    if (!def) {
        const char *near = nearest(r->c->ids, second, r->step);
        problem(r->c, r->path, "step `%s`, %s: there is no step `%s` ($.steps.%s)%s%s%s", r->step,
                field, second, second, near ? "; did you mean `" : "", near ? near : "",
                near ? "`?" : "");
        return;
    }
    json_int_t place = json_integer_value(json_array_get(def, 0));
    if (place == r->place)
        problem(r->c, r->path,
                "step `%s`, %s: $.steps.%s is the step itself, which has no output yet", r->step,
                field, second);
    else if (place > r->place)
        problem(r->c, r->path,
                "step `%s`, %s: step `%s` comes later (line %s), so it has not run yet: a step "
                "reads only the steps before it",
                r->step, field, second, json_string_value(json_array_get(def, 1)));
}

/* The steps read by v: each string in it is a template, or, when `expr` is set, v is an
 * expression field (loop, if, filter: an expression unless it holds {{ }}). */
static void reads_in(refs_t *r, const json_t *v, const char *path, int expr)
{
    if (json_is_string(v)) {
        const char *s = json_string_value(v);
        r->path = path;
        if (expr && !strstr(s, "{{"))
            sl__expr_refs(s, step_read, r);
        else
            sl__template_refs(s, step_read, r);
        return;
    }
    char sub[1024];
    for (size_t i = 0; json_is_array(v) && i < json_array_size(v); i++) {
        sl__path_fmt(sub, sizeof sub, "%s[%zu]", path, i);
        reads_in(r, json_array_get(v, i), sub, 0);
    }
    const char *k;
    json_t *x;
    json_object_foreach((json_t *)v, k, x)
    {
        sl__path_fmt(sub, sizeof sub, "%s.%s", path, k);
        reads_in(r, x, sub, 0);
    }
}

static void check_reads(checker_t *c, const json_t *steps, const char *path, int depth)
{
    if (depth > 16)
        return;
    for (size_t i = 0; i < json_array_size(steps); i++) {
        const json_t *step = json_array_get(steps, i);
        const sl_step_kind_t *sk = sl__step_of(step);
        const char *id = json_string_value(json_object_get(step, "id"));
        const json_t *def = id ? json_object_get(c->ids, id) : NULL;
        char sub[1024], field[1100];
        sl__path_fmt(sub, sizeof sub, "%s[%zu]", path, i);
        /* a step without a kind or with a bad or repeated id is a problem already */
        if (!sk || !def || strcmp(json_string_value(json_array_get(def, 2)), sub) != 0)
            continue;
        refs_t r = {c, id, json_integer_value(json_array_get(def, 0)), strlen(sub), NULL};
        const char *key = sk->flow == SL_STEP_ACTION && sk->input ? sk->input : sk->name;
        sl__path_fmt(field, sizeof field, "%s.%s", sub, key);
        reads_in(&r, json_object_get(step, key), field,
                 sk->flow == SL_STEP_LOOP || sk->flow == SL_STEP_IF || sk->flow == SL_STEP_FILTER);
        static const char *const nested[] = {"steps", "then", "else"};
        for (size_t k = 0; k < 3; k++) {
            sl__path_fmt(field, sizeof field, "%s.%s", sub, nested[k]);
            if (sk->flow == SL_STEP_LOOP || sk->flow == SL_STEP_IF)
                check_reads(c, json_object_get(step, nested[k]), field, depth + 1);
        }
    }
}

static void check_trigger(checker_t *c, const json_t *t)
{
    sl_flow_t *f = c->flow;
    f->events = json_array();
    const json_t *events = NULL;
    if (json_is_string(t) && strcmp(json_string_value(t), "manual") == 0) {
        f->trigger = SL_TRIGGER_MANUAL;
        return;
    }
    if (json_is_string(t) || json_is_array(t))
        events = t;
    else if (json_is_object(t) && json_object_get(t, "schedule")) {
        f->trigger = SL_TRIGGER_SCHEDULE;
        const char *cron = json_string_value(json_object_get(t, "schedule"));
        char err[512];
        if (!cron || sl__cron_parse(cron, &f->cron, err, sizeof err))
            problem(c, "trigger.schedule", "%s",
                    cron ? err : "schedule is a cron expression such as \"0 9 * * 1\"");
        else
            snprintf(f->cron_text, sizeof f->cron_text, "%s", cron);
        return;
    } else if (json_is_object(t) && json_object_get(t, "events"))
        events = json_object_get(t, "events");
    else if (json_is_object(t) && json_object_get(t, "event"))
        events = json_object_get(t, "event");
    if (!events) {
        problem(c, "trigger",
                "trigger is `manual`, an event type (invoice.paid, invoice.*), a list of them, "
                "{events: [...]} or {schedule: \"CRON\"}");
        return;
    }
    f->trigger = SL_TRIGGER_EVENTS;
    json_t *list = json_is_array(events) ? json_incref((json_t *)events) : json_pack("[O]", events);
    for (size_t i = 0; i < json_array_size(list); i++) {
        const char *p = json_string_value(json_array_get(list, i));
        size_t n = p ? strlen(p) : 0;
        int ok = p && (strcmp(p, "*") == 0 || sl_event_type_known(p) ||
                       (n > 2 && p[n - 1] == '*' && p[n - 2] == '.'));
        if (ok && n > 2 && p[n - 1] == '*') {
            /* a wildcard must match at least one real type */
            ok = 0;
            for (size_t k = 0; k < sl_event_type_count() && !ok; k++)
                ok = sl__event_pattern_matches(p, sl_event_type_name(k));
        }
        if (!ok)
            problem(c, "trigger",
                    "`%s` is not a Stripe event type or a pattern such as "
                    "invoice.* (`sluice events types` lists them)",
                    p ? p : "(not a string)");
        else
            json_array_append_new(f->events, json_string(p));
    }
    json_decref(list);
}

void sl__flow_cleanup(sl_flow_t *f)
{
    json_decref(f->events);
    json_decref(f->def);
    json_decref(f->pos);
    memset(f, 0, sizeof *f);
}

/* The flow's connection is one the store has (it can be added later, but until then every
 * stripe step fails and no event reaches the flow). */
static void check_connection(checker_t *c, const json_t *names)
{
    const char *conn = c->flow->connection;
    for (size_t i = 0; i < json_array_size(names); i++)
        if (strcmp(json_string_value(json_array_get(names, i)) ?: "", conn) == 0)
            return;
    if (!json_array_size(names)) {
        problem(c, "connection",
                "connection: there is no connection `%s`: the store has no connections yet (add "
                "it with `sluice connect add %s --key KEY`)",
                conn, conn);
        return;
    }
    const char *near = nearest(names, conn, NULL);
    if (near)
        problem(c, "connection",
                "connection: there is no connection `%s` in the store; did you mean `%s`? "
                "(`sluice connect list` shows them)",
                conn, near);
    else
        problem(c, "connection",
                "connection: there is no connection `%s` in the store (`sluice connect list` "
                "shows them; `sluice connect add %s --key KEY` adds it)",
                conn, conn);
}

sl_err sl__flow_load(const char *file, sl_flow_t *out, json_t *errors)
{
    return sl__flow_load_known(file, NULL, out, errors);
}

sl_err sl__flow_load_known(const char *file, const sl_flow_known_t *known, sl_flow_t *out,
                           json_t *errors)
{
    memset(out, 0, sizeof *out);
    snprintf(out->file, sizeof out->file, "%s", file);
    FILE *fp = fopen(file, "rb");
    if (!fp) {
        add_error(errors, "%s: %s", file, strerror(errno));
        return SL_EIO;
    }
    /* Bounded by the YAML reader's limit: the file, then what its aliases expand to. */
    char *text = malloc(SL_YAML_MAX_BYTES + 1);
    size_t len = text ? fread(text, 1, SL_YAML_MAX_BYTES + 1, fp) : 0;
    fclose(fp);
    if (!text) {
        json_array_append_new(errors, json_sprintf("%s: out of memory", file));
        return SL_ENOMEM;
    }
    if (len > SL_YAML_MAX_BYTES) {
        free(text);
        add_error(errors, "%s: larger than %u MiB (the limit of a flow file)", file,
                  SL_YAML_MAX_BYTES >> 20);
        return SL_EINVAL;
    }
    sl_err rc = sl__flow_load_text_known(file, text, len, known, out, errors);
    free(text);
    return rc;
}

sl_err sl__flow_load_text(const char *file, const char *text, size_t len, sl_flow_t *out,
                          json_t *errors)
{
    return sl__flow_load_text_known(file, text, len, NULL, out, errors);
}

sl_err sl__flow_load_text_known(const char *file, const char *text, size_t len,
                                const sl_flow_known_t *known, sl_flow_t *out, json_t *errors)
{
    memset(out, 0, sizeof *out);
    snprintf(out->file, sizeof out->file, "%s", file);
    if (len > SL_YAML_MAX_BYTES) {
        add_error(errors, "%s: larger than %u MiB (the limit of a flow file)", file,
                  SL_YAML_MAX_BYTES >> 20);
        return SL_EINVAL;
    }
    char err[512];
    out->pos = json_object();
    out->def = sl__yaml_load(text, len, out->pos, err, sizeof err);
    if (!out->def) {
        add_error(errors, "%s:%s", file, err);
        return SL_EINVAL;
    }
    checker_t c = {out, errors, json_object(), 0};
    const json_t *d = out->def;
    if (!json_is_object(d)) {
        problem(&c, "", "a flow is a mapping with name, trigger and steps");
        json_decref(c.ids);
        return SL_EINVAL;
    }
    static const char *const top[] = {"name",    "description", "connection", "trigger", "steps",
                                      "enabled", "smtp",        "max_steps",  NULL};
    check_keys(&c, "", d, top, "a flow");
    const char *name = json_string_value(json_object_get(d, "name"));
    if (!name || !*name || strlen(name) >= sizeof out->name || strchr(name, '/'))
        problem(&c, json_object_get(d, "name") ? "name" : "",
                "a flow needs a `name` (up to 127 characters, no /)");
    else
        snprintf(out->name, sizeof out->name, "%s", name);
    const json_t *conn = json_object_get(d, "connection");
    if (conn && !json_is_string(conn))
        problem(&c, "connection", "`connection` names a connection (see `sluice connect list`)");
    else if (conn && strlen(json_string_value(conn)) >= sizeof out->connection)
        problem(&c, "connection", "a connection's name is at most %zu characters",
                sizeof out->connection - 1);
    else if (conn)
        snprintf(out->connection, sizeof out->connection, "%s", json_string_value(conn));
    if (out->connection[0] && known && known->connections)
        check_connection(&c, known->connections);
    const json_t *en = json_object_get(d, "enabled");
    if (en && !json_is_boolean(en))
        problem(&c, "enabled", "`enabled` is true or false");
    out->enabled_default = !en || json_is_true(en);
    const json_t *ms = json_object_get(d, "max_steps");
    out->max_steps = SL_FLOW_MAX_STEPS_DEFAULT;
    if (ms && (!json_is_integer(ms) || json_integer_value(ms) < 1 ||
               json_integer_value(ms) > SL_FLOW_MAX_STEPS_LIMIT))
        problem(&c, "max_steps",
                "`max_steps` is a whole number from 1 to %d: the steps one run may execute, "
                "every loop iteration's counted (default %d)",
                SL_FLOW_MAX_STEPS_LIMIT, SL_FLOW_MAX_STEPS_DEFAULT);
    else if (ms)
        out->max_steps = (long)json_integer_value(ms);
    if (!json_object_get(d, "trigger"))
        problem(&c, "", "a flow needs a `trigger`");
    else
        check_trigger(&c, json_object_get(d, "trigger"));
    if (out->trigger == SL_TRIGGER_EVENTS && !out->connection[0])
        problem(&c, "trigger", "an event trigger needs the flow's `connection` (whose events)");
    check_steps(&c, json_object_get(d, "steps"), "steps", 0);
    check_reads(&c, json_object_get(d, "steps"), "steps", 0);
    json_decref(c.ids);
    return c.bad ? SL_EINVAL : SL_OK;
}

static int name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

sl_err sl__flows_load_dir(const char *dir, sl_flows_t *out, json_t *errors)
{
    return sl__flows_load_dir_known(dir, NULL, out, errors);
}

sl_err sl__flows_load_dir_known(const char *dir, const sl_flow_known_t *known, sl_flows_t *out,
                                json_t *errors)
{
    memset(out, 0, sizeof *out);
    DIR *d = opendir(dir);
    if (!d)
        return errno == ENOENT ? SL_OK : SL_EIO;
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        size_t l = strlen(de->d_name);
        int want = (l > 5 && !strcmp(de->d_name + l - 5, ".yaml")) ||
                   (l > 4 && !strcmp(de->d_name + l - 4, ".yml")) ||
                   (l > 5 && !strcmp(de->d_name + l - 5, ".json"));
        if (!want || de->d_name[0] == '.')
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            char **nn = realloc(names, cap * sizeof *names);
            if (!nn)
                break;
            names = nn;
        }
        names[n++] = strdup(de->d_name);
    }
    closedir(d);
    if (n)
        qsort(names, n, sizeof *names, name_cmp);
    out->v = calloc(n ? n : 1, sizeof *out->v);
    sl_err rc = SL_OK;
    for (size_t i = 0; i < n; i++) {
        char path[2048];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        sl_flow_t f;
        if (sl__flow_load_known(path, known, &f, errors)) {
            sl__flow_cleanup(&f);
            rc = SL_EINVAL;
            continue;
        }
        const sl_flow_t *dup = sl__flows_find(out, f.name);
        if (dup) {
            add_error(errors, "%s: flow `%s` is also defined in %s", path, f.name, dup->file);
            sl__flow_cleanup(&f);
            rc = SL_EINVAL;
            continue;
        }
        out->v[out->n++] = f;
    }
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    return rc;
}

void sl__flows_free(sl_flows_t *flows)
{
    for (size_t i = 0; i < flows->n; i++)
        sl__flow_cleanup(&flows->v[i]);
    free(flows->v);
    memset(flows, 0, sizeof *flows);
}

const sl_flow_t *sl__flows_find(const sl_flows_t *flows, const char *name)
{
    for (size_t i = 0; i < flows->n; i++)
        if (strcmp(flows->v[i].name, name) == 0)
            return &flows->v[i];
    return NULL;
}
