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
/* Steps one run may take in all (loops inside loops multiply): a flow sets its own max_steps. */
#define DEFAULT_MAX_STEPS SL_FLOW_MAX_STEPS_DEFAULT
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
    long steps_run; /* steps taken so far, against max_steps */
    long max_steps;
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
    if (sl_store_steps_put(s, x->run_id, x->pure, err, sizeof err)) {
        snprintf(x->error, sizeof x->error, "could not record steps: %s", err);
        return -1;
    }
    json_array_clear(x->pure);
    return 0;
}

/* Takes the secrets out of a record's field (see redact.c). */
static void redact_field(exec_t *x, json_t *rec, const char *k)
{
    json_t *v = json_object_get(rec, k);
    if (!v)
        return;
    json_t *r = sl__record_redact(v, x->e->secrets);
    if (r != v)
        json_object_set(rec, k, r);
    json_decref(r);
}

/* Records a step: at once for side effects and failures, batched for pure steps. What is
 * recorded has its secrets taken out; the step itself had the real values. */
static int record(exec_t *x, json_t *rec, int side_effect)
{
    redact_field(x, rec, "input");
    redact_field(x, rec, "output");
    redact_field(x, rec, "error");
    json_array_append_new(x->pure, rec);
    if (side_effect || json_array_size(x->pure) >= PURE_BATCH ||
        strcmp(json_string_value(json_object_get(rec, "status")) ?: "", "succeeded") != 0)
        return flush_pure(x);
    return 0;
}

/* Step latencies by kind, for /metrics (kind: the step table's own string). */
static void observe_step(sl_engine_t *e, const char *kind, double ms)
{
    size_t k = 0;
    while (sl__step_table[k] && sl__step_table[k]->name != kind)
        k++;
    if (!sl__step_table[k] || k >= SL_ENGINE_KINDS)
        return;
    size_t b = 0;
    while (b < SL_ENGINE_STEP_BUCKETS - 1 && ms > sl__engine_step_bounds_ms[b])
        b++;
    pthread_mutex_lock(&e->stats_lock);
    e->step_le[k][b]++;
    e->step_sum_ms[k] += ms;
    pthread_mutex_unlock(&e->stats_lock);
}

static json_t *make_record(exec_t *x, const char *path, const char *kind, const char *status,
                           json_t *input, json_t *output, const char *error, long long started,
                           double ms, int attempts)
{
    observe_step(x->e, kind, ms);
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
           make_record(x, path, kind, "failed", input, NULL, error, started, sl__mono_ms() - t0,
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
               make_record(x, path, kind, "succeeded", json_incref((json_t *)body), output, NULL,
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
               make_record(x, path, kind, "succeeded", NULL, json_incref(input), NULL, started,
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
                    make_record(x, path, kind, "succeeded", input, output, NULL, started,
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
    if (++x->steps_run > x->max_steps) {
        char err[256];
        snprintf(err, sizeof err,
                 "the run exceeded its step budget of %ld steps (loops inside loops multiply;"
                 " the flow's max_steps raises it)",
                 x->max_steps);
        return fail_step(x, path, kind, NULL, err, sl__now_ms(), sl__mono_ms(), 1);
    }
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
                   make_record(x, path, kind, "succeeded",
                               json_incref(json_object_get(step, "loop")), json_incref(out), NULL,
                               started, sl__mono_ms() - t0, 1),
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
                   make_record(x, path, kind, "succeeded", json_incref(json_object_get(step, "if")),
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

const sl_flow_t *sl__engine_flow_named(sl_engine_t *e, const char *name)
{
    for (size_t i = 0; i < e->cfg.flows->n; i++)
        if (strcmp(e->cfg.flows->v[i].name, name) == 0)
            return &e->cfg.flows->v[i];
    return NULL;
}

void sl__finished_clear(sl_finished_t *f)
{
    free(f->error);
    free(f->failed_step);
    json_decref(f->steps);
    memset(f, 0, sizeof *f);
}

static void finish_failed(sl_finished_t *out, const char *id, const char *error)
{
    snprintf(out->id, sizeof out->id, "%s", id);
    out->status = "failed";
    out->error = strdup(error);
}

sl_err sl__engine_run(sl_engine_t *e, const json_t *run, sl_finished_t *out, char *err,
                      size_t errlen)
{
    sl_store_t *s = e->cfg.store;
    memset(out, 0, sizeof *out);
    const char *run_id = sl__json_str(run, "id");
    const sl_flow_t *flow = sl__engine_flow_named(e, sl__json_str(run, "flow") ?: "");
    if (!flow) {
        snprintf(err, errlen, "flow `%s` is not loaded (was its file removed or renamed?)",
                 sl__json_str(run, "flow") ?: "");
        finish_failed(out, run_id, err);
        return SL_ENOTFOUND;
    }
    /* The trigger: the stored event, or the manual input / schedule time. */
    json_t *trigger = json_incref(json_object_get(run, "trigger")); /* a claim brings it */
    const char *event_id = sl__json_str(run, "event_id");
    if (event_id && !trigger) {
        sl_event_row_t row;
        if (sl_store_event_get(s, event_id, &row, err, errlen) == SL_OK)
            trigger = json_loads(row.payload ? row.payload : "null", JSON_DECODE_ANY, NULL);
        sl_event_row_cleanup(&row);
        if (!trigger) {
            finish_failed(out, run_id, err);
            return SL_ENOTFOUND;
        }
    } else if (!trigger) {
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
    x.max_steps = flow->max_steps > 0 ? flow->max_steps : DEFAULT_MAX_STEPS;
    x.ctx = json_pack("{s:o,s:O,s:{},s:{s:s,s:O},s:{s:s,s:s}}", "trigger", trigger, "input",
                      json_object_get(run, "input") ?: json_null(), "steps", "run", "id", run_id,
                      "attempt", json_object_get(run, "attempt") ?: json_null(), "flow", "name",
                      flow->name, "connection", flow->connection);
    json_object_set(x.ctx, "env", e->env);
    /* A resumed run (its attempt > 1, or reclaimed from a dead instance) replays its records. */
    json_t *steps = NULL;
    if (json_integer_value(json_object_get(run, "attempt")) > 1 ||
        json_is_integer(json_object_get(run, "started_ms")) || !json_object_get(run, "status")) {
        if (sl_store_steps_get(s, run_id, &steps, err, errlen) == SL_OK)
            for (size_t i = 0; i < json_array_size(steps); i++) {
                json_t *r = json_array_get(steps, i);
                if (!strcmp(sl__json_str(r, "status") ?: "", "succeeded"))
                    json_object_set(x.done, sl__json_str(r, "path"), r);
            }
        json_decref(steps);
    }
    int rc = exec_steps(&x, json_object_get(flow->def, "steps"), "", 0);
    snprintf(out->id, sizeof out->id, "%s", run_id);
    out->status = rc < 0 ? "failed" : x.filtered ? "filtered" : "succeeded";
    /* The run's error quotes its failed step's, secrets and all: recorded as the step is. */
    out->error = rc < 0 ? sl__record_redact_str(x.error, e->secrets) ?: strdup(x.error) : NULL;
    out->failed_step = rc < 0 && x.failed[0] ? strdup(x.failed) : NULL;
    out->steps = json_array_size(x.pure) ? json_incref(x.pure) : NULL;
    json_decref(x.ctx);
    json_decref(x.done);
    json_decref(x.pure);
    if (rc < 0)
        snprintf(err, errlen, "%s%s%s", x.failed[0] ? x.failed : "", x.failed[0] ? ": " : "",
                 x.error);
    return rc < 0 ? SL_EINTERNAL : SL_OK;
}

json_t *sl__engine_env(void)
{
    /* $.env: the environment variables meant for flows (SLUICE_FLOW_*), nothing else. */
    json_t *env = json_object();
    for (char **v = environ; v && *v; v++)
        if (strncmp(*v, "SLUICE_FLOW_", 12) == 0 && strchr(*v, '=')) {
            char name[256];
            snprintf(name, sizeof name, "%.*s", (int)(strchr(*v, '=') - *v), *v);
            json_object_set_new(env, name, json_string(strchr(*v, '=') + 1));
        }
    return env;
}

const double sl__engine_step_bounds_ms[SL_ENGINE_STEP_BUCKETS - 1] = {1,   5,   10,   50,
                                                                      100, 500, 1000, 5000};

void sl__engine_log_finished(sl_engine_t *e, const sl_finished_t *f, const char *flow)
{
    const sl_flow_t *fl = sl__engine_flow_named(e, flow);
    int st = !strcmp(f->status, "succeeded") ? 0 : !strcmp(f->status, "failed") ? 1 : 2;
    if (fl && e->runs_by) {
        pthread_mutex_lock(&e->stats_lock);
        e->runs_by[fl - e->cfg.flows->v][st]++;
        pthread_mutex_unlock(&e->stats_lock);
    }
    const char *level = strcmp(f->status, "failed") ? "info" : "warn";
    if (e->cfg.log_runs && sl__log_wants(level))
        sl__log(level, "run finished",
                json_pack("{s:s,s:s,s:s,s:s?}", "run", f->id, "flow", flow, "status", f->status,
                          "error", f->error));
}

sl_err sl__engine_execute(sl_engine_t *e, json_t *run, char *err, size_t errlen)
{
    sl_finished_t f;
    sl_err rc = sl__engine_run(e, run, &f, err, errlen);
    sl_run_finish_t fin = {f.id, f.status, f.error, f.failed_step, f.steps, 0};
    char serr[512];
    if (sl_store_runs_finish(e->cfg.store, NULL, &fin, 1, NULL, serr, sizeof serr)) {
        snprintf(err, errlen, "could not record the run's end: %s", serr);
        rc = SL_EIO;
    }
    sl__engine_log_finished(e, &f, sl__json_str(run, "flow") ?: "");
    json_object_set_new(run, "status", json_string(f.status));
    sl__finished_clear(&f);
    return rc;
}

/* Prometheus's label values escape \\, " and newlines. */
static void label(sl_buf_t *b, const char *v)
{
    for (; *v; v++)
        sl__buf_printf(b, *v == '"' ? "\\\"" : *v == '\\' ? "\\\\" : *v == '\n' ? "\\n" : "%c", *v);
}

void sl__engine_metrics(sl_engine_t *e, sl_buf_t *b)
{
    static const char *const statuses[] = {"succeeded", "failed", "filtered"};
    sl__buf_printf(b, "# HELP sluice_runs_finished_total Runs recorded as finished by this "
                      "instance, by flow and status.\n# TYPE sluice_runs_finished_total counter\n");
    pthread_mutex_lock(&e->stats_lock);
    for (size_t i = 0; e->runs_by && i < e->cfg.flows->n; i++)
        for (int k = 0; k < 3; k++) {
            sl__buf_printf(b, "sluice_runs_finished_total{flow=\"");
            label(b, e->cfg.flows->v[i].name);
            sl__buf_printf(b, "\",status=\"%s\"} %llu\n", statuses[k], e->runs_by[i][k]);
        }
    sl__buf_printf(b, "# HELP sluice_step_seconds Time a step took, by kind.\n"
                      "# TYPE sluice_step_seconds histogram\n");
    for (size_t k = 0; sl__step_table[k] && k < SL_ENGINE_KINDS; k++) {
        unsigned long long cum = 0;
        for (int i = 0; i < SL_ENGINE_STEP_BUCKETS; i++) {
            cum += e->step_le[k][i];
            if (i < SL_ENGINE_STEP_BUCKETS - 1)
                sl__buf_printf(b, "sluice_step_seconds_bucket{kind=\"%s\",le=\"%g\"} %llu\n",
                               sl__step_table[k]->name, sl__engine_step_bounds_ms[i] / 1e3, cum);
            else
                sl__buf_printf(b, "sluice_step_seconds_bucket{kind=\"%s\",le=\"+Inf\"} %llu\n",
                               sl__step_table[k]->name, cum);
        }
        sl__buf_printf(b, "sluice_step_seconds_sum{kind=\"%s\"} %.6f\n", sl__step_table[k]->name,
                       e->step_sum_ms[k] / 1e3);
        sl__buf_printf(b, "sluice_step_seconds_count{kind=\"%s\"} %llu\n", sl__step_table[k]->name,
                       cum);
    }
    pthread_mutex_unlock(&e->stats_lock);
    long long depth = 0, oldest = -1;
    char err[256];
    if (sl_store_runs_queue_stats(e->cfg.store, &depth, &oldest, err, sizeof err) == SL_OK) {
        double age = oldest >= 0 ? (double)(sl__now_ms() - oldest) / 1e3 : 0;
        sl__buf_printf(b,
                       "# HELP sluice_runs_queued Runs waiting for a worker (every instance).\n"
                       "# TYPE sluice_runs_queued gauge\nsluice_runs_queued %lld\n"
                       "# HELP sluice_runs_oldest_queued_seconds How long the oldest queued run"
                       " has waited (0: none waits).\n"
                       "# TYPE sluice_runs_oldest_queued_seconds gauge\n"
                       "sluice_runs_oldest_queued_seconds %.3f\n",
                       depth, age < 0 ? 0 : age);
    }
}
