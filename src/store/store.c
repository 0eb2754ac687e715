/* The store's interface: what every backend needs, written once. Run ids, the rules of a run's
 * status, the mapping between rows and JSON and the runs an event starts are decided here; a
 * backend only keeps rows (see store.h). */
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/jscan.h"
#include "core/rand.h"
#include "store/store.h"

void sl_conn_row_cleanup(sl_conn_row_t *row)
{
    free(row->key_sealed);
    free(row->secret_sealed);
    free(row->old_secret_sealed);
    free(row->endpoint_events);
    memset(row, 0, sizeof *row);
}

void sl_event_row_cleanup(sl_event_row_t *row)
{
    free(row->payload);
    memset(row, 0, sizeof *row);
}

void sl_run_row_cleanup(sl_run_row_t *row)
{
    free(row->input);
    free(row->error);
    free(row->failed_step);
    free(row->event_payload);
    memset(row, 0, sizeof *row);
}

const char *sl_store_kind(const sl_store_t *s)
{
    return s->ops->name;
}

int sl_store_schema_version(sl_store_t *s)
{
    return s->ops->schema_version(s);
}

/* The callback is switched off first, then the calls in progress are waited out (sequentially
 * consistent: a call either sees it off, or is counted before the wait looks). A call that
 * sees the new callback sees its ctx (release, acquire). */
sl_err sl_store_runs_queue_stats(sl_store_t *s, long long *depth, long long *oldest_ms, char *err,
                                 size_t errlen)
{
    return s->ops->runs_queue_stats(s, depth, oldest_ms, err, errlen);
}

sl_err sl_store_check(sl_store_t *s, char *err, size_t errlen)
{
    return s->ops->check ? s->ops->check(s, err, errlen) : SL_OK;
}

void sl_store_on_runs(sl_store_t *s, void (*fn)(void *ctx), void *ctx)
{
    __atomic_store_n(&s->on_runs, NULL, __ATOMIC_SEQ_CST);
    while (__atomic_load_n(&s->on_runs_calls, __ATOMIC_SEQ_CST))
        sched_yield();
    __atomic_store_n(&s->on_runs_ctx, ctx, __ATOMIC_RELAXED);
    __atomic_store_n(&s->on_runs, fn, __ATOMIC_RELEASE);
}

void sl__store_runs_queued(sl_store_t *s)
{
    __atomic_add_fetch(&s->on_runs_calls, 1, __ATOMIC_SEQ_CST);
    void (*fn)(void *) = __atomic_load_n(&s->on_runs, __ATOMIC_SEQ_CST);
    if (fn)
        fn(__atomic_load_n(&s->on_runs_ctx, __ATOMIC_RELAXED));
    __atomic_sub_fetch(&s->on_runs_calls, 1, __ATOMIC_SEQ_CST);
}

/* --- connections, events, cursors --------------------------------------------------------------
 */

sl_err sl_store_conn_put(sl_store_t *s, const sl_conn_row_t *row, char *err, size_t errlen)
{
    return s->ops->conn_put(s, row, err, errlen);
}

sl_err sl_store_conn_get(sl_store_t *s, const char *name, sl_conn_row_t *out, char *err,
                         size_t errlen)
{
    sl_err rc = s->ops->conn_get(s, name, out, err, errlen);
    if (rc == SL_ENOTFOUND)
        snprintf(err, errlen, "no connection named `%s` (see `sluice connect list`)", name);
    return rc;
}

sl_err sl_store_conn_list(sl_store_t *s, sl_conn_cb cb, void *ctx, char *err, size_t errlen)
{
    return s->ops->conn_list(s, cb, ctx, err, errlen);
}

sl_err sl_store_conn_delete(sl_store_t *s, const char *name, char *err, size_t errlen)
{
    sl_err rc = s->ops->conn_delete(s, name, err, errlen);
    if (rc == SL_ENOTFOUND)
        snprintf(err, errlen, "no connection named `%s`", name);
    return rc;
}

int sl__event_object_id(const char *payload, size_t len, char *out, size_t outlen)
{
    /* Three small scans, not a tree: the inbox stores thousands a second. */
    sl_jscan_field_t data = {.name = "data"}, object = {.name = "object"}, id = {.name = "id"};
    if (sl__jscan_object(payload, len, &data, 1) || data.kind != SL_JSCAN_OTHER || !data.len ||
        data.str[0] != '{' || sl__jscan_object(data.str, data.len, &object, 1) ||
        object.kind != SL_JSCAN_OTHER || !object.len || object.str[0] != '{' ||
        sl__jscan_object(object.str, object.len, &id, 1) || id.kind != SL_JSCAN_STRING ||
        id.len >= outlen)
        return -1;
    memcpy(out, id.str, id.len);
    out[id.len] = '\0';
    return 0;
}

int sl_store_run_id(char *out, size_t n)
{
    char hex[21];
    if (sl__rand_hex(hex, 10))
        return -1; /* no randomness: no id that could collide */
    snprintf(out, n, "run_%s", hex);
    return 0;
}

sl_err sl_store_events_insert(sl_store_t *s, const sl_event_in_t *ev, size_t n, int *fresh,
                              char *err, size_t errlen)
{
    /* The runs each event would start get their ids here, outside any lock; the backend keeps
     * those of fresh events in the transaction that stores them. */
    size_t total = 0;
    for (size_t i = 0; i < n; i++)
        total += ev[i].flows ? ev[i].nflows : 0;
    if (!total) {
        size_t queued = 0;
        return s->ops->events_insert(s, ev, n, fresh, &queued, err, errlen);
    }
    sl_event_in_t *evs = malloc(n * sizeof *evs);
    sl_run_new_t *runs = malloc(total * sizeof *runs);
    char(*ids)[32] = malloc(total * sizeof *ids);
    if (!evs || !runs || !ids) {
        free(evs);
        free(runs);
        free(ids);
        snprintf(err, errlen, "store: out of memory");
        return SL_ENOMEM;
    }
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        evs[i] = ev[i];
        evs[i].runs = runs + k;
        evs[i].nruns = ev[i].flows ? ev[i].nflows : 0;
        for (size_t j = 0; j < evs[i].nruns; j++, k++) {
            if (sl_store_run_id(ids[k], sizeof ids[k])) {
                free(evs);
                free(runs);
                free(ids);
                snprintf(err, errlen, "store: no randomness for a run id");
                return SL_EINTERNAL;
            }
            runs[k].id = ids[k];
            runs[k].flow = ev[i].flows[j];
        }
    }
    size_t queued = 0;
    sl_err rc = s->ops->events_insert(s, evs, n, fresh, &queued, err, errlen);
    free(evs);
    free(runs);
    free(ids);
    if (!rc && queued)
        sl__store_runs_queued(s);
    return rc;
}

sl_err sl_store_events_list(sl_store_t *s, const sl_event_filter_t *f, sl_event_cb cb, void *ctx,
                            char *err, size_t errlen)
{
    /* "invoice.*" is every type starting "invoice.": a plain prefix, no wildcard characters. */
    char prefix[256];
    sl_event_filter_t g = *f;
    int is_prefix = 0;
    size_t n = f->type ? strlen(f->type) : 0;
    if (n && f->type[n - 1] == '*') {
        snprintf(prefix, sizeof prefix, "%.*s", (int)(n - 1), f->type);
        g.type = prefix[0] ? prefix : NULL;
        is_prefix = 1;
    } else if (f->type && !n) {
        g.type = NULL;
    }
    return s->ops->events_list(s, &g, is_prefix, cb, ctx, err, errlen);
}

sl_err sl_store_event_get(sl_store_t *s, const char *id, sl_event_row_t *out, char *err,
                          size_t errlen)
{
    sl_err rc = s->ops->event_get(s, id, out, err, errlen);
    if (rc == SL_ENOTFOUND)
        snprintf(err, errlen, "no event `%s` in the inbox", id);
    return rc;
}

sl_err sl_store_events_count(sl_store_t *s, long long *n, char *err, size_t errlen)
{
    return s->ops->events_count(s, n, err, errlen);
}

sl_err sl_store_cursor_get(sl_store_t *s, const char *key, long long *value, char *err,
                           size_t errlen)
{
    return s->ops->cursor_get(s, key, value, err, errlen);
}

sl_err sl_store_cursor_put(sl_store_t *s, const char *key, long long value, char *err,
                           size_t errlen)
{
    return s->ops->cursor_put(s, key, value, err, errlen);
}

/* --- runs ----------------------------------------------------------------------------------------
 */

static json_t *str_or_null(const char *v)
{
    return v && *v ? json_string(v) : json_null();
}

static json_t *time_or_null(long long v)
{
    return v >= 0 ? json_integer(v) : json_null();
}

json_t *sl_store_run_json(const sl_run_row_t *r)
{
    json_t *in = r->input ? json_loads(r->input, JSON_DECODE_ANY, NULL) : NULL;
    return json_pack("{s:s,s:s,s:o,s:o,s:o,s:s,s:o,s:o,s:I,s:o,s:o,s:o,s:o,s:o}", "id", r->id,
                     "flow", r->flow, "event_id", str_or_null(r->event_id), "connection",
                     str_or_null(r->connection), "input", in ? in : json_null(), "status",
                     r->status, "error", str_or_null(r->error), "failed_step",
                     str_or_null(r->failed_step), "attempt", (json_int_t)r->attempt, "created_ms",
                     time_or_null(r->created_ms), "started_ms", time_or_null(r->started_ms),
                     "finished_ms", time_or_null(r->finished_ms), "owner", str_or_null(r->owner),
                     "lease_until", time_or_null(r->lease_until));
}

/* A queued run's row from {flow, event_id?, connection?, input?}; input is heap. */
static sl_err new_run_row(const json_t *run, sl_run_row_t *row, char *err, size_t errlen)
{
    memset(row, 0, sizeof *row);
    const char *id = json_string_value(json_object_get(run, "id"));
    if (id)
        snprintf(row->id, sizeof row->id, "%s", id);
    else if (sl_store_run_id(row->id, sizeof row->id)) {
        snprintf(err, errlen, "store: no randomness for a run id");
        return SL_EINTERNAL;
    }
    snprintf(row->flow, sizeof row->flow, "%s",
             json_string_value(json_object_get(run, "flow")) ?: "");
    snprintf(row->event_id, sizeof row->event_id, "%s",
             json_string_value(json_object_get(run, "event_id")) ?: "");
    snprintf(row->connection, sizeof row->connection, "%s",
             json_string_value(json_object_get(run, "connection")) ?: "");
    snprintf(row->status, sizeof row->status, "queued");
    const json_t *input = json_object_get(run, "input");
    row->input =
        input && !json_is_null(input) ? json_dumps(input, JSON_ENCODE_ANY | JSON_COMPACT) : NULL;
    row->attempt = 1;
    row->created_ms = sl__now_ms();
    row->started_ms = row->finished_ms = row->lease_until = -1;
    return SL_OK;
}

sl_err sl_store_run_create(sl_store_t *s, json_t *run, char *err, size_t errlen)
{
    sl_run_row_t row;
    sl_err rc = new_run_row(run, &row, err, errlen);
    if (!rc)
        rc = s->ops->run_insert(s, &row, err, errlen);
    if (!rc) {
        json_object_set_new(run, "id", json_string(row.id));
        sl__store_runs_queued(s);
    }
    sl_run_row_cleanup(&row);
    return rc;
}

static int collect_run(const sl_run_row_t *row, void *ctx)
{
    json_array_append_new(ctx, sl_store_run_json(row));
    return 0;
}

/* A claimed run, with its trigger event parsed (one read of the store for the batch). */
static int collect_claimed(const sl_run_row_t *row, void *ctx)
{
    json_t *run = sl_store_run_json(row);
    json_t *event = row->event_payload ? json_loads(row->event_payload, 0, NULL) : NULL;
    if (event)
        json_object_set_new(run, "trigger", event);
    json_array_append_new(ctx, run);
    return 0;
}

sl_err sl_store_runs_claim(sl_store_t *s, const char *owner, long long lease_ms, size_t max,
                           json_t **out, char *err, size_t errlen)
{
    *out = json_array();
    long long now = sl__now_ms();
    sl_err rc =
        s->ops->runs_claim(s, owner, now, now + lease_ms, max, collect_claimed, *out, err, errlen);
    if (rc) {
        json_decref(*out);
        *out = NULL;
    }
    return rc;
}

sl_err sl_store_run_claim(sl_store_t *s, const char *id, const char *owner, long long lease_ms,
                          int *claimed, char *err, size_t errlen)
{
    long long now = sl__now_ms();
    return s->ops->run_claim_id(s, id, owner, now, now + lease_ms, claimed, err, errlen);
}

sl_err sl_store_runs_heartbeat(sl_store_t *s, const char *owner, long long lease_ms, long long *n,
                               char *err, size_t errlen)
{
    return s->ops->runs_heartbeat(s, owner, sl__now_ms() + lease_ms, n, err, errlen);
}

sl_err sl_store_runs_expire_others(sl_store_t *s, const char *keep, long long *n, char *err,
                                   size_t errlen)
{
    return s->ops->runs_expire_others(s, keep, n, err, errlen);
}

sl_err sl_store_run_get(sl_store_t *s, const char *id, json_t **out, char *err, size_t errlen)
{
    sl_run_row_t row;
    *out = NULL;
    sl_err rc = s->ops->run_get(s, id, &row, err, errlen);
    if (!rc)
        *out = sl_store_run_json(&row);
    else if (rc == SL_ENOTFOUND)
        snprintf(err, errlen, "no run `%s` (`sluice runs list` shows them)", id);
    sl_run_row_cleanup(&row);
    return rc;
}

sl_err sl_store_runs_list(sl_store_t *s, const sl_run_filter_t *f, json_t **out, char *err,
                          size_t errlen)
{
    *out = json_array();
    sl_run_filter_t all = {0};
    sl_err rc = s->ops->runs_list(s, f ? f : &all, collect_run, *out, err, errlen);
    if (rc) {
        json_decref(*out);
        *out = NULL;
    }
    return rc;
}

static int terminal(const char *status)
{
    return !strcmp(status, "succeeded") || !strcmp(status, "failed") || !strcmp(status, "filtered");
}

/* The status rules: a terminal status sets finished_ms and ends the lease; "queued" clears
 * finished_ms, ends the lease and counts an attempt. */
static void apply_rules(sl_run_update_t *u, const char *status)
{
    u->status = status;
    int queued = !strcmp(status, "queued");
    u->finished_ms = terminal(status) ? sl__now_ms() : -1;
    u->count_attempt = queued;
    u->release = queued || terminal(status);
}

sl_err sl_store_run_set_status(sl_store_t *s, const char *id, const char *status, const char *error,
                               const char *failed_step, char *err, size_t errlen)
{
    sl_run_update_t u = {0};
    u.id = id;
    u.error = error;
    u.failed_step = failed_step;
    apply_rules(&u, status);
    int applied = 0;
    sl_err rc = s->ops->runs_update(s, &u, 1, &applied, err, errlen);
    if (!rc && !applied) {
        snprintf(err, errlen, "no run `%s`", id);
        rc = SL_ENOTFOUND;
    }
    if (!rc && u.count_attempt)
        sl__store_runs_queued(s);
    return rc;
}

sl_err sl_store_runs_finish(sl_store_t *s, const char *owner, const sl_run_finish_t *f, size_t n,
                            int *ok, char *err, size_t errlen)
{
    if (!n)
        return SL_OK;
    sl_run_update_t one[1];
    sl_run_update_t *u = n == 1 ? one : calloc(n, sizeof *u);
    int *applied = ok ? ok : calloc(n, sizeof *applied);
    if (!u || !applied) {
        if (u != one)
            free(u);
        if (applied != ok)
            free(applied);
        snprintf(err, errlen, "store: out of memory");
        return SL_ENOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        memset(&u[i], 0, sizeof u[i]);
        u[i].id = f[i].id;
        u[i].owner = owner;
        u[i].error = f[i].error;
        u[i].failed_step = f[i].failed_step;
        u[i].steps = f[i].steps;
        u[i].lazy = f[i].lazy;
        apply_rules(&u[i], f[i].status);
    }
    sl_err rc = s->ops->runs_update(s, u, n, applied, err, errlen);
    if (u != one)
        free(u);
    if (applied != ok)
        free(applied);
    return rc;
}

sl_err sl_store_runs_release(sl_store_t *s, const char *owner, const sl_run_finish_t *f, size_t n,
                             char *err, size_t errlen)
{
    sl_err rc = SL_OK;
    for (size_t i = 0; i < n && !rc; i++) {
        sl_run_update_t u = {0};
        u.id = f[i].id;
        u.owner = owner;
        u.status = "queued";
        u.finished_ms = -1;
        u.release = 1;
        int applied = 0;
        rc = s->ops->runs_update(s, &u, 1, &applied, err, errlen);
    }
    if (!rc && n)
        sl__store_runs_queued(s);
    return rc;
}

sl_err sl_store_run_requeue_failed(sl_store_t *s, const char *id, char *err, size_t errlen)
{
    sl_run_row_t row;
    sl_err rc = s->ops->run_get(s, id, &row, err, errlen);
    if (rc) {
        if (rc == SL_ENOTFOUND)
            snprintf(err, errlen, "no run `%s` (`sluice runs list` shows them)", id);
        sl_run_row_cleanup(&row);
        return rc;
    }
    if (strcmp(row.status, "failed")) {
        snprintf(err, errlen, "run %s is %s; only a failed run is retried", id, row.status);
        sl_run_row_cleanup(&row);
        return SL_EINVAL;
    }
    sl_run_row_cleanup(&row);
    sl_run_update_t u = {0};
    u.id = id;
    u.drop_failed_steps = 1;
    apply_rules(&u, "queued");
    int applied = 0;
    rc = s->ops->runs_update(s, &u, 1, &applied, err, errlen);
    if (!rc && !applied) {
        snprintf(err, errlen, "no run `%s`", id);
        rc = SL_ENOTFOUND;
    }
    if (!rc)
        sl__store_runs_queued(s);
    return rc;
}

sl_err sl_store_steps_put(sl_store_t *s, const char *run_id, const json_t *steps, char *err,
                          size_t errlen)
{
    sl_run_update_t u = {0};
    u.id = run_id;
    u.steps = steps;
    u.finished_ms = -1;
    int applied = 0;
    return s->ops->runs_update(s, &u, 1, &applied, err, errlen);
}

static int collect_step(const sl_step_row_t *r, void *ctx)
{
    json_t *input = r->input ? json_loads(r->input, JSON_DECODE_ANY, NULL) : NULL;
    json_t *output = r->output ? json_loads(r->output, JSON_DECODE_ANY, NULL) : NULL;
    json_array_append_new(
        ctx, json_pack("{s:o,s:o,s:o,s:o,s:o,s:o,s:I,s:f,s:I}", "path", str_or_null(r->path),
                       "kind", str_or_null(r->kind), "status", str_or_null(r->status), "input",
                       input ? input : json_null(), "output", output ? output : json_null(),
                       "error", str_or_null(r->error), "started_ms", (json_int_t)r->started_ms,
                       "duration_ms", r->duration_ms, "attempts", (json_int_t)r->attempts));
    return 0;
}

sl_err sl_store_steps_get(sl_store_t *s, const char *run_id, json_t **out, char *err, size_t errlen)
{
    *out = json_array();
    sl_err rc = s->ops->steps_get(s, run_id, collect_step, *out, err, errlen);
    if (rc) {
        json_decref(*out);
        *out = NULL;
    }
    return rc;
}

sl_err sl_store_schedule_fire(sl_store_t *s, const char *flow, long long minute, json_t *run,
                              int *fired, char *err, size_t errlen)
{
    sl_run_row_t row;
    *fired = 0;
    sl_err rc = new_run_row(run, &row, err, errlen);
    if (!rc)
        rc = s->ops->schedule_fire(s, flow, minute, &row, fired, err, errlen);
    if (!rc && *fired) {
        json_object_set_new(run, "id", json_string(row.id));
        sl__store_runs_queued(s);
    }
    sl_run_row_cleanup(&row);
    return rc;
}

sl_err sl_store_lease_take(sl_store_t *s, const char *name, const char *owner, long long ms,
                           int *held, char *err, size_t errlen)
{
    long long now = sl__now_ms();
    return s->ops->lease_take(s, name, owner, now, now + ms, held, err, errlen);
}

/* --- flow settings, contacts ---------------------------------------------------------------------
 */

sl_err sl_store_flow_enabled_get(sl_store_t *s, const char *flow, int *enabled, char *err,
                                 size_t errlen)
{
    return s->ops->flow_enabled_get(s, flow, enabled, err, errlen);
}

sl_err sl_store_flow_enabled_put(sl_store_t *s, const char *flow, int enabled, char *err,
                                 size_t errlen)
{
    return s->ops->flow_enabled_put(s, flow, enabled, err, errlen);
}

static json_t *contact_json(const sl_contact_row_t *r)
{
    return json_pack("{s:o,s:o,s:o,s:I,s:I}", "email", str_or_null(r->email), "first_name",
                     str_or_null(r->first_name), "last_name", str_or_null(r->last_name),
                     "created_ms", (json_int_t)r->created_ms, "updated_ms",
                     (json_int_t)r->updated_ms);
}

static int contact_one(const sl_contact_row_t *r, void *ctx)
{
    json_decref(*(json_t **)ctx);
    *(json_t **)ctx = contact_json(r);
    return 0;
}

static int contact_each(const sl_contact_row_t *r, void *ctx)
{
    json_array_append_new(ctx, contact_json(r));
    return 0;
}

sl_err sl_store_contact_upsert(sl_store_t *s, const char *email, const char *first_name,
                               const char *last_name, int *created, json_t **out, char *err,
                               size_t errlen)
{
    json_t *row = NULL;
    sl_err rc = s->ops->contact_upsert(s, email, first_name, last_name, sl__now_ms(), created,
                                       contact_one, &row, err, errlen);
    if (out && !rc)
        *out = row;
    else
        json_decref(row);
    return rc;
}

sl_err sl_store_contacts_list(sl_store_t *s, json_t **out, char *err, size_t errlen)
{
    *out = json_array();
    sl_err rc = s->ops->contacts_list(s, contact_each, *out, err, errlen);
    if (rc) {
        json_decref(*out);
        *out = NULL;
    }
    return rc;
}

void sl__where_init(sl_where_t *w, int pg)
{
    memset(w, 0, sizeof *w);
    w->pg = pg;
}

void sl__where_raw(sl_where_t *w, const char *sql)
{
    size_t k = strlen(sql);
    if (w->len + k >= sizeof w->sql) {
        w->overflow = 1;
        return;
    }
    memcpy(w->sql + w->len, sql, k + 1);
    w->len += k;
}

static void where_vappend(sl_where_t *w, const char *cond, const char *args, va_list ap)
{
    for (const char *p = cond; *p; p++) {
        char piece[40] = {*p, 0};
        if (*p == '#') {
            if (w->n >= SL_WHERE_MAX || !*args) {
                w->overflow = 1;
                break;
            }
            int i = w->n++;
            if (*args++ == 's') {
                w->text[i] = va_arg(ap, const char *);
                w->values[i] = w->text[i];
            } else {
                w->num[i] = va_arg(ap, long long);
                snprintf(w->num_text[i], sizeof w->num_text[i], "%lld", w->num[i]);
                w->values[i] = w->num_text[i];
            }
            snprintf(piece, sizeof piece, w->pg ? "$%d::%s" : "?%d", i + 1,
                     w->text[i] ? "text" : "bigint");
        }
        sl__where_raw(w, piece);
    }
}

void sl__where_and(sl_where_t *w, const char *cond, const char *args, ...)
{
    va_list ap;
    va_start(ap, args);
    sl__where_raw(w, " AND (");
    where_vappend(w, cond, args, ap);
    sl__where_raw(w, ")");
    va_end(ap);
}

void sl__where_sql(sl_where_t *w, const char *sql, const char *args, ...)
{
    va_list ap;
    va_start(ap, args);
    where_vappend(w, sql, args, ap);
    va_end(ap);
}

sl_err sl_store_histogram(sl_store_t *s, int runs, long long since_ms, long long bucket_ms,
                          size_t cap, long long *counts, size_t n, long long *total, char *err,
                          size_t errlen)
{
    memset(counts, 0, n * sizeof *counts);
    *total = 0;
    if (bucket_ms <= 0) {
        snprintf(err, errlen, "a histogram's buckets must be at least 1 ms");
        return SL_EINVAL;
    }
    /* The newest `cap` rows at most, so the cost is bounded however busy the store is. */
    sl_where_t w;
    sl__where_init(&w, !strcmp(s->ops->name, "postgres"));
    sl__where_sql(
        &w,
        runs ? "SELECT (t - #) / #, count(*) FROM (SELECT created_ms AS t FROM runs"
               " WHERE created_ms >= # ORDER BY created_ms DESC LIMIT #) AS x GROUP BY 1"
             : "SELECT (t - #) / #, count(*) FROM (SELECT received_ms AS t FROM events"
               " WHERE received_ms >= # ORDER BY received_ms DESC LIMIT #) AS x GROUP BY 1",
        "nnnn", since_ms, bucket_ms, since_ms, (long long)cap);
    long long pairs[2 * 1440];
    size_t got = 0;
    sl_err rc = w.overflow ? SL_EINTERNAL
                           : s->ops->int_pairs(s, &w, pairs, sizeof pairs / sizeof *pairs / 2, &got,
                                               err, errlen);
    for (size_t i = 0; !rc && i < got; i++) {
        long long b = pairs[2 * i], c = pairs[2 * i + 1];
        *total += c;
        if (b >= 0 && (size_t)b < n)
            counts[b] += c;
    }
    return rc;
}

void sl__runs_where(sl_where_t *w, const sl_run_filter_t *f, const char *order_col)
{
    if (f->flow)
        sl__where_and(w, "flow = #", "s", f->flow);
    if (f->status)
        sl__where_and(w, "status = #", "s", f->status);
    if (f->event_id)
        sl__where_and(w, "event_id = #", "s", f->event_id);
    if (f->since_ms)
        sl__where_and(w, "created_ms >= #", "n", f->since_ms);
    if (f->until_ms)
        sl__where_and(w, "created_ms < #", "n", f->until_ms);
    if (f->before_ms) {
        char cond[160];
        snprintf(cond, sizeof cond,
                 "created_ms < # OR (created_ms = # AND %s < (SELECT %s FROM runs WHERE id = #))",
                 order_col, order_col);
        sl__where_and(w, cond, "nns", f->before_ms, f->before_ms, f->before_id ? f->before_id : "");
    }
}

int sl__type_family(const char *prefix, char *out, size_t n)
{
    const char *dot = strchr(prefix, '.');
    if (!dot || (size_t)(dot - prefix) >= n)
        return 0;
    snprintf(out, n, "%.*s", (int)(dot - prefix), prefix);
    return 1;
}

void sl__events_where(sl_where_t *w, const sl_event_filter_t *f, int type_prefix,
                      const sl_events_sql_t *x)
{
    char cond[256];
    if (f->type && type_prefix && sl__type_family(f->type, w->family, sizeof w->family)) {
        snprintf(cond, sizeof cond, "%s = #", x->family);
        sl__where_and(w, cond, "s", w->family);
    }
    if (f->type && type_prefix)
        sl__where_and(w, x->prefix, "ns", (long long)strlen(f->type), f->type);
    else if (f->type)
        sl__where_and(w, "type = #", "s", f->type);
    if (f->connection)
        sl__where_and(w, "connection = #", "s", f->connection);
    if (f->source)
        sl__where_and(w, "source = #", "s", f->source);
    if (f->object_id) {
        snprintf(cond, sizeof cond, "%s = #", x->object_id);
        sl__where_and(w, cond, "s", f->object_id);
    }
    if (f->since_ms)
        sl__where_and(w, "received_ms >= #", "n", f->since_ms);
    if (f->until_ms)
        sl__where_and(w, "received_ms < #", "n", f->until_ms);
    if (f->before_ms) {
        snprintf(cond, sizeof cond, "received_ms < # OR (received_ms = # AND %s < #)", x->id);
        sl__where_and(w, cond, "nns", f->before_ms, f->before_ms, f->before_id ? f->before_id : "");
    }
}
