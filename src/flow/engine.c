/* The flow engine: see engine.h.
 *
 * A run walks its flow's steps with a context {trigger, input, steps, run, flow}. Every leaf
 * step's input (its fields with templates rendered), output, error, timing and attempts are
 * recorded under its path ("each[2].get-customer"). A step with a side effect (stripe, http,
 * email, contact, emit) is recorded as soon as it finishes; pure steps (set, filter, if, loop)
 * are recorded in batches, since repeating them after a crash changes nothing. Resuming a run
 * replays recorded outputs instead of executing their steps again, so it continues at the first
 * unfinished step; Stripe writes also carry an Idempotency-Key derived from the run and the
 * path, so a step cut off mid-call is answered with its first result. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

#include <openssl/sha.h>

#include "core/clock.h"
#include "core/hex.h"
#include "core/log.h"
#include "flow/expr.h"
#include "flow/internal.h"

#define MAX_LOOP_ITEMS 100000
#define PURE_BATCH 512

/* One run being executed. */
typedef struct exec {
    sl_engine_t *e;
    const sl_flow_t *flow;
    const char *run_id;
    json_t *ctx;      /* {trigger, input, steps, run, flow} */
    json_t *done;     /* path -> recorded step (from earlier attempts) */
    json_t *pure;     /* records not yet written */
    char failed[512]; /* the failing step's path */
    char error[2048]; /* why */
    int filtered;
} exec_t;

void sl__engine_idem_key(const char *run_id, const char *path, char *out, size_t n)
{
    unsigned char md[SHA256_DIGEST_LENGTH];
    char in[1600];
    int len = snprintf(in, sizeof in, "%s\n%s", run_id, path);
    SHA256((const unsigned char *)in, len > 0 && (size_t)len < sizeof in ? (size_t)len : 0, md);
    char hex[2 * 20 + 1];
    sl__hex_encode(md, 20, hex);
    snprintf(out, n, "sluice-%s", hex);
}

/* --- records ---------------------------------------------------------------------------------- */

static int flush_pure(exec_t *x)
{
    if (!json_array_size(x->pure))
        return 0;
    char err[512];
    sl_store_t *s = x->e->cfg.store;
    if (s->ops->steps_put(s, x->run_id, x->pure, err, sizeof err)) {
        snprintf(x->error, sizeof x->error, "could not record steps: %s", err);
        return -1;
    }
    json_array_clear(x->pure);
    return 0;
}

/* Records a step: at once for side effects and failures, batched for pure steps. */
static int record(exec_t *x, json_t *rec, int side_effect)
{
    json_array_append_new(x->pure, rec);
    if (side_effect || json_array_size(x->pure) >= PURE_BATCH ||
        strcmp(json_string_value(json_object_get(rec, "status")) ?: "", "succeeded") != 0)
        return flush_pure(x);
    return 0;
}

static json_t *make_record(const char *path, const char *kind, const char *status, json_t *input,
                           json_t *output, const char *error, long long started, double ms,
                           int attempts)
{
    return json_pack("{s:s,s:s,s:s,s:o,s:o,s:s?,s:I,s:f,s:i}", "path", path, "kind", kind, "status",
                     status, "input", input ? input : json_null(), "output",
                     output ? output : json_null(), "error", error, "started_ms",
                     (json_int_t)started, "duration_ms", ms, "attempts", attempts);
}

/* --- steps ------------------------------------------------------------------------------------ */

static int exec_steps(exec_t *x, const json_t *steps, const char *prefix, int depth);

static void set_output(exec_t *x, const char *id, json_t *output)
{
    json_object_set(json_object_get(x->ctx, "steps"), id, output ? output : json_null());
}

/* Evaluates an expression field ("$.x" or "{{ $.x }}"). */
static json_t *eval_field(exec_t *x, const json_t *v, char *err, size_t errlen)
{
    if (json_is_boolean(v))
        return json_incref((json_t *)v);
    const char *s = json_string_value(v);
    return strstr(s, "{{") ? sl__template_render(s, x->ctx, err, errlen)
                           : sl__expr_eval(s, x->ctx, err, errlen);
}

static int fail_step(exec_t *x, const char *path, const char *kind, json_t *input,
                     const char *error, long long started, double t0, int attempts)
{
    snprintf(x->failed, sizeof x->failed, "%s", path);
    snprintf(x->error, sizeof x->error, "%s", error);
    record(x,
           make_record(path, kind, "failed", input, NULL, error, started, sl__mono_ms() - t0,
                       attempts),
           1);
    return -1;
}

static int exec_leaf(exec_t *x, const json_t *step, const sl_step_kind_t *sk, const char *id,
                     const char *path)
{
    const char *kind = sk->name;
    const json_t *prev = json_object_get(x->done, path);
    if (prev) {
        /* Done in an earlier attempt: its output stands. */
        set_output(x, id, json_object_get(prev, "output"));
        if (sk->flow == SL_STEP_FILTER &&
            !json_is_true(json_object_get(json_object_get(prev, "output"), "passed"))) {
            x->filtered = 1;
            return 1;
        }
        return 0;
    }
    long long started = sl__now_ms();
    double t0 = sl__mono_ms();
    char err[2048] = "";
    const json_t *body = json_object_get(step, kind);
    json_t *input = NULL, *output = NULL;
    if (sk->flow == SL_STEP_FILTER) {
        json_t *v = eval_field(x, body, err, sizeof err);
        if (!v)
            return fail_step(x, path, kind, json_incref((json_t *)body), err, started, t0, 1);
        int pass = sl__expr_truthy(v);
        json_decref(v);
        output = json_pack("{s:b}", "passed", pass);
        set_output(x, id, output);
        record(x,
               make_record(path, kind, "succeeded", json_incref((json_t *)body), output, NULL,
                           started, sl__mono_ms() - t0, 1),
               0);
        if (!pass) {
            x->filtered = 1;
            return 1;
        }
        return 0;
    }
    const json_t *with = sk->input ? json_object_get(step, sk->input) : body;
    input = with ? sl__template_render_json(with, x->ctx, err, sizeof err) : json_object();
    if (!input)
        return fail_step(x, path, kind, json_incref((json_t *)with), err, started, t0, 1);
    if (sk->flow == SL_STEP_SET) {
        set_output(x, id, input);
        record(x,
               make_record(path, kind, "succeeded", NULL, json_incref(input), NULL, started,
                           sl__mono_ms() - t0, 1),
               0);
        json_decref(input);
        return 0;
    }
    const json_t *retry = json_object_get(step, "retry");
    int attempts = json_is_integer(json_object_get(retry, "attempts"))
                       ? (int)json_integer_value(json_object_get(retry, "attempts"))
                       : 3;
    long backoff = json_is_integer(json_object_get(retry, "backoff_ms"))
                       ? (long)json_integer_value(json_object_get(retry, "backoff_ms"))
                       : x->e->cfg.retry_base_ms;
    sl_step_call_t call = {x->e, x->flow, step, x->run_id, path, attempts < 1 ? 1 : attempts, 0};
    sl_step_result_t result = SL_STEP_FAIL;
    int attempt = 0;
    for (;;) {
        attempt++;
        err[0] = '\0';
        json_decref(output);
        output = NULL;
        result = sk->act(&call, input, &output, err, sizeof err);
        if (result != SL_STEP_RETRY || attempt >= call.attempts)
            break;
        long wait = backoff << (attempt - 1);
        sl__sleep_ms(wait > 30000 ? 30000 : wait);
    }
    if (call.requests) /* the action retried on its own (the Stripe client): its count */
        attempt = call.requests;
    if (result != SL_STEP_OK) {
        json_decref(output);
        return fail_step(x, path, kind, input, err, started, t0, attempt);
    }
    set_output(x, id, output);
    int rc = record(x,
                    make_record(path, kind, "succeeded", input, output, NULL, started,
                                sl__mono_ms() - t0, attempt),
                    1);
    return rc ? -1 : 0;
}

static int exec_step(exec_t *x, const json_t *step, const char *prefix, int depth)
{
    const char *id = sl__json_str(step, "id");
    const sl_step_kind_t *sk = sl__step_of(step);
    const char *kind = sk->name;
    char path[1024];
    sl__path_fmt(path, sizeof path, "%s%s", prefix, id);
    if (sk->flow == SL_STEP_LOOP) {
        long long started = sl__now_ms();
        double t0 = sl__mono_ms();
        char err[1024];
        json_t *items = eval_field(x, json_object_get(step, "loop"), err, sizeof err);
        if (!items)
            return fail_step(x, path, kind, json_incref(json_object_get(step, "loop")), err,
                             started, t0, 1);
        if (json_is_null(items)) {
            json_decref(items);
            items = json_array();
        }
        if (!json_is_array(items) || json_array_size(items) > MAX_LOOP_ITEMS) {
            snprintf(err, sizeof err, "loop `%s` gives %s, not a list (of at most %d items)",
                     json_string_value(json_object_get(step, "loop")) ?: "",
                     json_is_array(items) ? "too many items" : "a single value", MAX_LOOP_ITEMS);
            json_decref(items);
            return fail_step(x, path, kind, json_incref(json_object_get(step, "loop")), err,
                             started, t0, 1);
        }
        size_t n = json_array_size(items);
        for (size_t i = 0; i < n; i++) {
            json_t *item = json_array_get(items, i);
            json_t *cur = json_pack("{s:O,s:I}", "value", item, "index", (json_int_t)i);
            set_output(x, id, cur);
            json_decref(cur);
            json_object_set(x->ctx, "item", item);
            json_object_set_new(x->ctx, "index", json_integer((json_int_t)i));
            char sub[1100];
            sl__path_fmt(sub, sizeof sub, "%s[%zu].", path, i);
            int rc = exec_steps(x, json_object_get(step, "steps"), sub, depth + 1);
            if (rc) {
                json_decref(items);
                return rc;
            }
        }
        json_decref(items);
        json_object_del(x->ctx, "item");
        json_object_del(x->ctx, "index");
        json_t *out = json_pack("{s:I}", "count", (json_int_t)n);
        set_output(x, id, out);
        if (!json_object_get(x->done, path))
            record(x,
                   make_record(path, kind, "succeeded", json_incref(json_object_get(step, "loop")),
                               json_incref(out), NULL, started, sl__mono_ms() - t0, 1),
                   0);
        json_decref(out);
        return 0;
    }
    if (sk->flow == SL_STEP_IF) {
        long long started = sl__now_ms();
        double t0 = sl__mono_ms();
        char err[1024];
        json_t *v = eval_field(x, json_object_get(step, "if"), err, sizeof err);
        if (!v)
            return fail_step(x, path, kind, json_incref(json_object_get(step, "if")), err, started,
                             t0, 1);
        int yes = sl__expr_truthy(v);
        json_decref(v);
        json_t *out = json_pack("{s:b,s:s}", "condition", yes, "branch", yes ? "then" : "else");
        set_output(x, id, out);
        if (!json_object_get(x->done, path))
            record(x,
                   make_record(path, kind, "succeeded", json_incref(json_object_get(step, "if")),
                               json_incref(out), NULL, started, sl__mono_ms() - t0, 1),
                   0);
        json_decref(out);
        const json_t *branch = json_object_get(step, yes ? "then" : "else");
        if (!branch)
            return 0;
        char sub[1100];
        sl__path_fmt(sub, sizeof sub, "%s.%s.", path, yes ? "then" : "else");
        return exec_steps(x, branch, sub, depth + 1);
    }
    return exec_leaf(x, step, sk, id, path);
}

static int exec_steps(exec_t *x, const json_t *steps, const char *prefix, int depth)
{
    for (size_t i = 0; i < json_array_size(steps); i++) {
        int rc = exec_step(x, json_array_get(steps, i), prefix, depth);
        if (rc)
            return rc;
    }
    return 0;
}

/* --- runs ------------------------------------------------------------------------------------- */

static const sl_flow_t *flow_named(sl_engine_t *e, const char *name, size_t *index)
{
    for (size_t i = 0; i < e->cfg.flows->n; i++)
        if (strcmp(e->cfg.flows->v[i].name, name) == 0) {
            if (index)
                *index = i;
            return &e->cfg.flows->v[i];
        }
    return NULL;
}

sl_err sl__engine_execute(sl_engine_t *e, json_t *run, char *err, size_t errlen)
{
    sl_store_t *s = e->cfg.store;
    const char *run_id = sl__json_str(run, "id");
    const sl_flow_t *flow = flow_named(e, sl__json_str(run, "flow") ?: "", NULL);
    if (!flow) {
        snprintf(err, errlen, "flow `%s` is not loaded (was its file removed or renamed?)",
                 sl__json_str(run, "flow") ?: "");
        s->ops->run_set_status(s, run_id, "failed", err, NULL, NULL, 0);
        return SL_ENOTFOUND;
    }
    /* The trigger: the stored event, or the manual input / schedule time. */
    json_t *trigger = NULL;
    const char *event_id = sl__json_str(run, "event_id");
    if (event_id) {
        sl_event_row_t row;
        if (s->ops->event_get(s, event_id, &row, err, errlen) == SL_OK)
            trigger = json_loads(row.payload ? row.payload : "null", JSON_DECODE_ANY, NULL);
        sl_event_row_cleanup(&row);
        if (!trigger) {
            s->ops->run_set_status(s, run_id, "failed", err, NULL, NULL, 0);
            return SL_ENOTFOUND;
        }
    } else {
        trigger = json_incref(json_object_get(run, "input"));
        if (!trigger)
            trigger = json_object();
    }
    exec_t x = {0};
    x.e = e;
    x.flow = flow;
    x.run_id = run_id;
    x.pure = json_array();
    x.done = json_object();
    x.ctx = json_pack("{s:o,s:O,s:{},s:{s:s,s:O},s:{s:s,s:s}}", "trigger", trigger, "input",
                      json_object_get(run, "input") ?: json_null(), "steps", "run", "id", run_id,
                      "attempt", json_object_get(run, "attempt") ?: json_null(), "flow", "name",
                      flow->name, "connection", flow->connection);
    /* $.env: the environment variables meant for flows (SLUICE_FLOW_*), nothing else. */
    json_t *env = json_object();
    for (char **v = environ; v && *v; v++)
        if (strncmp(*v, "SLUICE_FLOW_", 12) == 0 && strchr(*v, '=')) {
            char name[256];
            snprintf(name, sizeof name, "%.*s", (int)(strchr(*v, '=') - *v), *v);
            json_object_set_new(env, name, json_string(strchr(*v, '=') + 1));
        }
    json_object_set_new(x.ctx, "env", env);
    json_t *steps = NULL;
    if (s->ops->steps_get(s, run_id, &steps, err, errlen) == SL_OK)
        for (size_t i = 0; i < json_array_size(steps); i++) {
            json_t *r = json_array_get(steps, i);
            if (!strcmp(sl__json_str(r, "status") ?: "", "succeeded"))
                json_object_set(x.done, sl__json_str(r, "path"), r);
        }
    json_decref(steps);
    int rc = exec_steps(&x, json_object_get(flow->def, "steps"), "", 0);
    if (flush_pure(&x))
        rc = -1;
    const char *status = rc < 0 ? "failed" : x.filtered ? "filtered" : "succeeded";
    s->ops->run_set_status(s, run_id, status, rc < 0 ? x.error : NULL,
                           rc < 0 && x.failed[0] ? x.failed : NULL, err, errlen);
    if (e->cfg.log_runs)
        sl__log(rc < 0 ? "warn" : "info", "run finished",
                json_pack("{s:s,s:s,s:s,s:s?}", "run", run_id, "flow", flow->name, "status", status,
                          "error", rc < 0 ? x.error : NULL));
    json_object_set_new(run, "status", json_string(status));
    json_decref(x.ctx);
    json_decref(x.done);
    json_decref(x.pure);
    if (rc < 0)
        snprintf(err, errlen, "%s%s%s", x.failed[0] ? x.failed : "", x.failed[0] ? ": " : "",
                 x.error);
    return rc < 0 ? SL_EINTERNAL : SL_OK;
}

sl_err sl__run_requeue_failed(sl_store_t *s, const char *id, char *err, size_t errlen)
{
    json_t *run = NULL;
    if (s->ops->run_get(s, id, &run, err, errlen))
        return SL_ENOTFOUND;
    const char *st = sl__json_str(run, "status") ?: "";
    sl_err rc = SL_OK;
    if (strcmp(st, "failed")) {
        snprintf(err, errlen, "run %s is %s; only a failed run is retried", id, st);
        rc = SL_EINVAL;
    } else if (s->ops->steps_drop_failed(s, id, err, errlen) ||
               s->ops->run_set_status(s, id, "queued", NULL, NULL, err, errlen)) {
        rc = SL_EIO;
    }
    json_decref(run);
    return rc;
}

sl_err sl__engine_queue(sl_engine_t *e, const char *flow, const char *event_id, const json_t *input,
                        char *run_id, size_t idlen, char *err, size_t errlen)
{
    const sl_flow_t *f = flow_named(e, flow, NULL);
    if (!f) {
        snprintf(err, errlen, "no flow `%s` (`sluice flows list` shows them)", flow);
        return SL_ENOTFOUND;
    }
    json_t *run = json_pack("{s:s,s:s?,s:s?,s:O?}", "flow", flow, "event_id", event_id,
                            "connection", f->connection[0] ? f->connection : NULL, "input", input);
    sl_err rc = e->cfg.store->ops->run_create(e->cfg.store, run, err, errlen);
    if (!rc && run_id)
        snprintf(run_id, idlen, "%s", sl__json_str(run, "id"));
    json_decref(run);
    return rc;
}

int sl__engine_flow_enabled(sl_engine_t *e, const sl_flow_t *f)
{
    size_t i = (size_t)(f - e->cfg.flows->v);
    return i < e->cfg.flows->n ? __atomic_load_n(&e->enabled[i], __ATOMIC_RELAXED) : 0;
}

void sl__engine_refresh(sl_engine_t *e)
{
    for (size_t i = 0; i < e->cfg.flows->n; i++) {
        int on = -1;
        char err[256];
        if (e->cfg.store->ops->flow_enabled_get(e->cfg.store, e->cfg.flows->v[i].name, &on, err,
                                                sizeof err))
            continue;
        __atomic_store_n(&e->enabled[i], on < 0 ? e->cfg.flows->v[i].enabled_default : on,
                         __ATOMIC_RELAXED);
    }
}

void sl__engine_flows_for(sl_engine_t *e, const char *type, const char *connection, json_t *flows)
{
    for (size_t i = 0; i < e->cfg.flows->n; i++) {
        const sl_flow_t *f = &e->cfg.flows->v[i];
        if (__atomic_load_n(&e->enabled[i], __ATOMIC_RELAXED) &&
            sl__flow_wants(f, type, connection))
            json_array_append_new(flows, json_string(f->name));
    }
}

/* Called inside the store's transaction: no store calls here. */
static void route(void *ctx, const sl_event_in_t *ev, json_t *flows)
{
    sl__engine_flows_for(ctx, ev->type, ev->connection, flows);
}

static void on_runs(void *ctx)
{
    sl_engine_t *e = ctx;
    pthread_mutex_lock(&e->lock);
    e->pending++;
    pthread_cond_broadcast(&e->wake);
    pthread_mutex_unlock(&e->lock);
}

static void *worker(void *arg)
{
    sl_engine_t *e = arg;
    for (;;) {
        pthread_mutex_lock(&e->lock);
        int stop = e->stopping;
        pthread_mutex_unlock(&e->lock);
        if (stop)
            break;
        json_t *runs = NULL;
        char err[512];
        if (e->cfg.store->ops->runs_claim(e->cfg.store, 1, &runs, err, sizeof err) == SL_OK &&
            json_array_size(runs)) {
            char xerr[1024];
            sl__engine_execute(e, json_array_get(runs, 0), xerr, sizeof xerr);
            json_decref(runs);
            continue;
        }
        json_decref(runs);
        pthread_mutex_lock(&e->lock);
        if (!e->stopping && !e->pending) {
            struct timespec until = sl__deadline_ms(500);
            pthread_cond_timedwait(&e->wake, &e->lock, &until);
        }
        if (e->pending)
            e->pending--;
        pthread_mutex_unlock(&e->lock);
    }
    return NULL;
}

int sl__engine_schedule_tick(sl_engine_t *e, time_t now)
{
    int queued = 0;
    time_t minute = now - now % 60;
    for (size_t i = 0; i < e->cfg.flows->n; i++) {
        const sl_flow_t *f = &e->cfg.flows->v[i];
        if (f->trigger != SL_TRIGGER_SCHEDULE || !sl__engine_flow_enabled(e, f))
            continue;
        char key[200], err[256];
        snprintf(key, sizeof key, "schedule:%s", f->name);
        long long last = 0;
        sl_err rc = e->cfg.store->ops->cursor_get(e->cfg.store, key, &last, err, sizeof err);
        if (rc == SL_ENOTFOUND)
            last = minute - 60; /* a new schedule starts with the current minute */
        else if (rc)
            continue;
        if (last >= minute)
            continue;
        /* Missed minutes (sluice was down) fire once, for the latest of them. */
        time_t fire = 0;
        for (time_t t = minute; t > last && t > minute - 7 * 86400; t -= 60)
            if (sl__cron_matches(&f->cron, t)) {
                fire = t;
                break;
            }
        if (fire) {
            json_t *input =
                json_pack("{s:I,s:s}", "scheduled_at", (json_int_t)fire, "schedule", f->cron_text);
            if (sl__engine_queue(e, f->name, NULL, input, NULL, 0, err, sizeof err) == SL_OK)
                queued++;
            json_decref(input);
        }
        e->cfg.store->ops->cursor_put(e->cfg.store, key, minute, err, sizeof err);
    }
    return queued;
}

static void *scheduler(void *arg)
{
    sl_engine_t *e = arg;
    for (int tick = 0;; tick++) {
        pthread_mutex_lock(&e->lock);
        if (!e->stopping) {
            struct timespec until = sl__deadline_ms(1000);
            pthread_cond_timedwait(&e->wake, &e->lock, &until);
        }
        int stop = e->stopping;
        pthread_mutex_unlock(&e->lock);
        if (stop)
            break;
        sl__engine_refresh(e); /* `sluice flows disable` in another process */
        sl__engine_schedule_tick(e, time(NULL));
    }
    return NULL;
}

sl_err sl__engine_start(const sl_engine_config_t *cfg, sl_engine_t **out, char *err, size_t errlen)
{
    *out = NULL;
    sl_engine_t *e = calloc(1, sizeof *e);
    if (!e)
        return SL_ENOMEM;
    e->cfg = *cfg;
    if (e->cfg.retry_base_ms <= 0)
        e->cfg.retry_base_ms = 500;
    e->enabled = calloc(cfg->flows->n ? cfg->flows->n : 1, sizeof *e->enabled);
    e->clients = sl__clients_new(cfg->store, cfg->crypt);
    if (!e->enabled || !e->clients) {
        sl__clients_free(e->clients);
        free(e->enabled);
        free(e);
        snprintf(err, errlen, "out of memory");
        return SL_ENOMEM;
    }
    pthread_mutex_init(&e->lock, NULL);
    pthread_cond_init(&e->wake, NULL);
    sl__engine_refresh(e);
    if (cfg->workers > 0) {
        long long n = 0;
        if (cfg->store->ops->runs_requeue_running(cfg->store, &n, err, errlen)) {
            sl__engine_stop(e);
            return SL_EIO;
        }
        if (n)
            sl__log("notice", "resuming runs cut off by a stop",
                    json_pack("{s:I}", "runs", (json_int_t)n));
        cfg->store->router = route;
        cfg->store->router_ctx = e;
        cfg->store->on_runs = on_runs;
        cfg->store->on_runs_ctx = e;
        e->threads = calloc((size_t)cfg->workers, sizeof *e->threads);
        for (int i = 0; i < cfg->workers; i++)
            if (pthread_create(&e->threads[i], NULL, worker, e) == 0)
                e->nthreads++;
    }
    if (cfg->scheduler && pthread_create(&e->sched, NULL, scheduler, e) == 0)
        e->have_sched = 1;
    *out = e;
    return SL_OK;
}

void sl__engine_stop(sl_engine_t *e)
{
    if (!e)
        return;
    if (e->cfg.store->router_ctx == e) {
        e->cfg.store->router = NULL;
        e->cfg.store->on_runs = NULL;
    }
    pthread_mutex_lock(&e->lock);
    e->stopping = 1;
    pthread_cond_broadcast(&e->wake);
    pthread_mutex_unlock(&e->lock);
    for (int i = 0; i < e->nthreads; i++)
        pthread_join(e->threads[i], NULL);
    if (e->have_sched)
        pthread_join(e->sched, NULL);
    sl__clients_free(e->clients);
    free(e->threads);
    free(e->enabled);
    pthread_mutex_destroy(&e->lock);
    pthread_cond_destroy(&e->wake);
    free(e);
}
