/* The engine's threads: workers that claim runs under a lease and execute them, and a keeper
 * that heartbeats the leases, fires schedules and rereads flow settings.
 *
 * Several instances may share one store (PostgreSQL). A worker claims a batch of runs for this
 * instance's owner id with a lease; the keeper extends the leases of what it holds, and a run
 * whose lease ran out (its instance died) is claimed again by any instance and resumes at its
 * first unfinished step. Runs that end without a side effect still unrecorded are written
 * together, with their last step records, in one commit per batch. Idle workers sleep on a
 * condition variable, woken by the store when runs are queued here or (PostgreSQL) on another
 * instance. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/log.h"
#include "core/rand.h"
#include "flow/internal.h"

#define MAX_CLAIM 64
#define FINISH_FLUSH_MS 50

sl_err sl__run_requeue_failed(sl_store_t *s, const char *id, char *err, size_t errlen)
{
    return sl_store_run_requeue_failed(s, id, err, errlen);
}

sl_err sl__engine_queue(sl_engine_t *e, const char *flow, const char *event_id, const json_t *input,
                        char *run_id, size_t idlen, char *err, size_t errlen)
{
    const sl_flow_t *f = sl__engine_flow_named(e, flow);
    if (!f) {
        snprintf(err, errlen, "no flow `%s` (`sluice flows list` shows them)", flow);
        return SL_ENOTFOUND;
    }
    json_t *run = json_pack("{s:s,s:s?,s:s?,s:O?}", "flow", flow, "event_id", event_id,
                            "connection", f->connection[0] ? f->connection : NULL, "input", input);
    sl_err rc = sl_store_run_create(e->cfg.store, run, err, errlen);
    if (!rc && run_id)
        snprintf(run_id, idlen, "%s", sl__json_str(run, "id"));
    json_decref(run);
    return rc;
}

sl_err sl__engine_execute_id(sl_engine_t *e, const char *id, int *here, char *err, size_t errlen)
{
    sl_store_t *s = e->cfg.store;
    int claimed = 0;
    *here = 0;
    if (sl_store_run_claim(s, id, e->owner, e->cfg.lease_ms, &claimed, err, errlen))
        return SL_EIO;
    if (claimed) {
        /* Ours under a lease the keeper extends, as a worker's would be. */
        *here = 1;
        json_t *run = NULL;
        sl_err rc = sl_store_run_get(s, id, &run, err, errlen);
        if (!rc)
            rc = sl__engine_execute(e, run, err, errlen);
        json_decref(run);
        return rc;
    }
    /* `sluice serve` took it first: wait for its end. */
    for (;;) {
        json_t *run = NULL;
        if (sl_store_run_get(s, id, &run, err, errlen))
            return SL_ENOTFOUND;
        const char *st = sl__json_str(run, "status") ?: "";
        int over = strcmp(st, "queued") && strcmp(st, "running");
        json_decref(run);
        if (over)
            return SL_OK;
        sl__sleep_ms(100);
    }
}

sl_err sl__engine_replay(sl_engine_t *e, const char *event_id, json_t **runs, char *err,
                         size_t errlen)
{
    sl_event_row_t row;
    *runs = NULL;
    sl_err rc = sl_store_event_get(e->cfg.store, event_id, &row, err, errlen);
    if (rc) {
        sl_event_row_cleanup(&row);
        return rc;
    }
    /* Into every enabled flow that wants it now, as if it had just arrived. */
    json_t *names = json_array();
    *runs = json_array();
    sl__engine_flows_for(e, row.type, row.connection, names);
    for (size_t i = 0; i < json_array_size(names) && !rc; i++) {
        const char *flow = json_string_value(json_array_get(names, i));
        char run_id[64];
        rc = sl__engine_queue(e, flow, row.id, NULL, run_id, sizeof run_id, err, errlen);
        if (!rc)
            json_array_append_new(*runs, json_pack("{s:s,s:s}", "run", run_id, "flow", flow));
    }
    json_decref(names);
    sl_event_row_cleanup(&row);
    return rc;
}

#define ALIVE_KEY "serve:alive_ms"

int sl__engine_serving(sl_store_t *s)
{
    long long seen = 0;
    char err[256];
    return sl_store_cursor_get(s, ALIVE_KEY, &seen, err, sizeof err) == SL_OK &&
           sl__now_ms() - seen < 5000;
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
        if (sl_store_flow_enabled_get(e->cfg.store, e->cfg.flows->v[i].name, &on, err, sizeof err))
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

size_t sl__engine_route(void *ctx, const char *type, const char *connection,
                        char (*names)[SL_FLOW_NAME_MAX], size_t max)
{
    sl_engine_t *e = ctx;
    size_t n = 0;
    for (size_t i = 0; i < e->cfg.flows->n && n < max; i++) {
        const sl_flow_t *f = &e->cfg.flows->v[i];
        if (__atomic_load_n(&e->enabled[i], __ATOMIC_RELAXED) &&
            sl__flow_wants(f, type, connection))
            snprintf(names[n++], SL_FLOW_NAME_MAX, "%s", f->name); /* copied: flows may reload */
    }
    return n;
}

const char *sl__engine_owner(const sl_engine_t *e)
{
    return e->owner;
}

static void on_runs(void *ctx)
{
    sl_engine_t *e = ctx;
    pthread_mutex_lock(&e->lock);
    e->pending++;
    /* One idle worker is enough: it claims what is queued, up to a batch, and a worker that
     * finds its batch full claims again at once. */
    pthread_cond_signal(&e->wake);
    pthread_mutex_unlock(&e->lock);
}

static int stopping(sl_engine_t *e)
{
    pthread_mutex_lock(&e->lock);
    int stop = e->stopping;
    pthread_mutex_unlock(&e->lock);
    return stop;
}

/* Writes the finished runs gathered so far in one commit, then logs them. */
static void flush_finished(sl_engine_t *e, sl_finished_t *done, const char **flows, size_t *n)
{
    if (!*n)
        return;
    sl_run_finish_t fin[MAX_CLAIM];
    int ok[MAX_CLAIM];
    for (size_t i = 0; i < *n; i++)
        /* Lazy: the steps still unwritten are pure (side effects and failures were written as
         * they happened), so losing this in a crash of the machine only repeats them. */
        fin[i] = (sl_run_finish_t){done[i].id,          done[i].status, done[i].error,
                                   done[i].failed_step, done[i].steps,  1};
    char err[512];
    sl_err rc = sl_store_runs_finish(e->cfg.store, e->owner, fin, *n, ok, err, sizeof err);
    for (size_t i = 0; i < *n; i++) {
        if (rc)
            sl__log("error", "could not record finished runs; they run again after their lease",
                    json_pack("{s:s,s:s}", "run", done[i].id, "error", err));
        else if (!ok[i])
            sl__log("warn", "a run's lease was lost before it finished; another instance has it",
                    json_pack("{s:s}", "run", done[i].id));
        else
            sl__engine_log_finished(e, &done[i], flows[i]);
        sl__finished_clear(&done[i]);
    }
    *n = 0;
}

static void *worker(void *arg)
{
    sl_engine_t *e = arg;
    pthread_setname_np(pthread_self(), "sl-worker");
    sl_finished_t done[MAX_CLAIM];
    const char *flows[MAX_CLAIM];
    size_t ndone = 0, want = 1;
    while (!stopping(e)) {
        json_t *runs = NULL;
        char err[512];
        if (sl_store_runs_claim(e->cfg.store, e->owner, e->cfg.lease_ms, want, &runs, err,
                                sizeof err)) {
            sl__log("error", "could not claim runs", json_pack("{s:s}", "error", err));
            runs = NULL;
        }
        size_t got = json_array_size(runs);
        /* The batch grows while the queue keeps it full, and shrinks when it does not. */
        want = got == want ? (want * 2 > MAX_CLAIM ? MAX_CLAIM : want * 2) : got + 1;
        double since = sl__mono_ms();
        size_t i = 0;
        for (; i < got && !stopping(e); i++) {
            json_t *run = json_array_get(runs, i);
            char xerr[1024];
            if (json_is_integer(json_object_get(run, "started_ms")))
                sl__log("notice", "resuming a run at its first unfinished step",
                        json_pack("{s:s,s:O}", "run", sl__json_str(run, "id"), "attempt",
                                  json_object_get(run, "attempt")));
            sl__engine_run(e, run, &done[ndone], xerr, sizeof xerr);
            const sl_flow_t *fl = sl__engine_flow_named(e, sl__json_str(run, "flow") ?: "");
            flows[ndone] = fl ? fl->name : "";
            ndone++;
            if (sl__mono_ms() - since > FINISH_FLUSH_MS) {
                flush_finished(e, done, flows, &ndone);
                since = sl__mono_ms();
            }
        }
        flush_finished(e, done, flows, &ndone);
        /* Stopping with claimed runs not begun: back to the queue for any instance, now. */
        for (; i < got; i++) {
            sl_run_finish_t back = {
                sl__json_str(json_array_get(runs, i), "id"), "queued", NULL, NULL, NULL, 0};
            sl_store_runs_release(e->cfg.store, e->owner, &back, 1, err, sizeof err);
        }
        json_decref(runs);
        if (got)
            continue;
        pthread_mutex_lock(&e->lock);
        if (!e->stopping && !e->pending) {
            /* Woken when runs are queued; the timeout finds runs whose lease ran out on an
             * instance that died. */
            struct timespec until = sl__deadline_ms(e->cfg.lease_ms / 4 + 100);
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
        sl_err rc = sl_store_cursor_get(e->cfg.store, key, &last, err, sizeof err);
        if (rc == SL_ENOTFOUND)
            last = minute - 60; /* a new schedule starts with the current minute */
        else if (rc)
            continue;
        if (last >= minute)
            continue;
        /* Missed minutes (every instance was down) fire once, for the latest of them. */
        time_t fire = 0;
        for (time_t t = minute; t > last && t > minute - 7 * 86400; t -= 60)
            if (sl__cron_matches(&f->cron, t)) {
                fire = t;
                break;
            }
        if (fire) {
            /* The minute is claimed with the run, once across every instance. */
            json_t *run = json_pack("{s:s,s:s?,s:{s:I,s:s}}", "flow", f->name, "connection",
                                    f->connection[0] ? f->connection : NULL, "input",
                                    "scheduled_at", (json_int_t)fire, "schedule", f->cron_text);
            int fired = 0;
            if (sl_store_schedule_fire(e->cfg.store, f->name, fire, run, &fired, err, sizeof err) ==
                    SL_OK &&
                fired)
                queued++;
            json_decref(run);
        }
        sl_store_cursor_put(e->cfg.store, key, minute, err, sizeof err);
    }
    return queued;
}

/* The time schedules see. SLUICE_TEST_CLOCK_SPEED=N (tests only) runs it N times faster from
 * a fixed origin, so that instances agree on it and a test sees many minutes in a few seconds. */
static time_t schedule_now(void)
{
    static long speed = -1;
    if (speed < 0) {
        const char *v = getenv("SLUICE_TEST_CLOCK_SPEED");
        speed = v && atol(v) > 1 ? atol(v) : 1;
    }
    if (speed == 1)
        return time(NULL);
    const long long origin = 1767225600000LL; /* 2026-01-01 */
    return (time_t)((origin + (sl__now_ms() - origin) * speed) / 1000);
}

static void *keeper(void *arg)
{
    sl_engine_t *e = arg;
    pthread_setname_np(pthread_self(), "sl-keeper");
    double beat = sl__mono_ms();
    for (;;) {
        pthread_mutex_lock(&e->lock);
        if (!e->stopping) {
            struct timespec until = sl__deadline_ms(1000);
            pthread_cond_timedwait(&e->keeper_wake, &e->lock, &until);
        }
        int stop = e->stopping;
        pthread_mutex_unlock(&e->lock);
        if (stop)
            break;
        if (sl__mono_ms() - beat >= (double)e->cfg.lease_ms / 3) {
            long long n = 0;
            char err[256];
            if (sl_store_runs_heartbeat(e->cfg.store, e->owner, e->cfg.lease_ms, &n, err,
                                        sizeof err))
                sl__log("error", "could not extend the leases of running runs",
                        json_pack("{s:s}", "error", err));
            beat = sl__mono_ms();
        }
        sl__engine_refresh(e); /* `sluice flows disable` in another process */
        if (e->nthreads) {     /* a serving instance: the CLI leaves retries and replays to it */
            char err[256];
            sl_store_cursor_put(e->cfg.store, ALIVE_KEY, sl__now_ms(), err, sizeof err);
        }
        if (e->cfg.scheduler)
            sl__engine_schedule_tick(e, schedule_now());
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
    if (e->cfg.lease_ms <= 0)
        e->cfg.lease_ms = 30000;
    char host[64] = "host", tag[9] = "";
    gethostname(host, sizeof host - 1);
    sl__rand_hex(tag, 4);
    snprintf(e->owner, sizeof e->owner, "%.40s:%ld:%s", host, (long)getpid(), tag);
    e->enabled = calloc(cfg->flows->n ? cfg->flows->n : 1, sizeof *e->enabled);
    e->env = sl__engine_env();
    e->secrets = e->env ? sl__record_secrets(e->env) : NULL;
    e->clients = sl__clients_new(cfg->store, cfg->crypt);
    if (!e->enabled || !e->clients || !e->env || !e->secrets) {
        sl__clients_free(e->clients);
        json_decref(e->env);
        json_decref(e->secrets);
        free(e->enabled);
        free(e);
        snprintf(err, errlen, "out of memory");
        return SL_ENOMEM;
    }
    pthread_mutex_init(&e->lock, NULL);
    pthread_mutex_init(&e->stats_lock, NULL);
    e->runs_by = calloc(cfg->flows->n ? cfg->flows->n : 1, sizeof *e->runs_by);
    pthread_cond_init(&e->wake, NULL);
    pthread_cond_init(&e->keeper_wake, NULL);
    sl__engine_refresh(e);
    if (cfg->workers > 0) {
        /* SQLite has one instance on its file: what was running there was cut off by a stop
         * and resumes now. On PostgreSQL other instances may be running those runs; their
         * leases tell, and expired ones are claimed like queued ones. */
        long long n = 0;
        if (!cfg->reloaded && !strcmp(sl_store_kind(cfg->store), "sqlite") &&
            sl_store_runs_expire_others(cfg->store, e->owner, &n, err, errlen)) {
            sl__engine_stop(e);
            return SL_EIO;
        }
        if (n)
            sl__log("notice", "resuming runs cut off by a stop",
                    json_pack("{s:I}", "runs", (json_int_t)n));
        sl_store_on_runs(cfg->store, on_runs, e);
        e->threads = calloc((size_t)cfg->workers, sizeof *e->threads);
        for (int i = 0; e->threads && i < cfg->workers; i++)
            if (pthread_create(&e->threads[i], NULL, worker, e) == 0)
                e->nthreads++;
    }
    if (pthread_create(&e->sched, NULL, keeper, e) == 0)
        e->have_sched = 1;
    *out = e;
    return SL_OK;
}

void sl__engine_stop(sl_engine_t *e)
{
    if (!e)
        return;
    if (e->cfg.store->on_runs_ctx == e)
        sl_store_on_runs(e->cfg.store, NULL, NULL);
    pthread_mutex_lock(&e->lock);
    e->stopping = 1;
    pthread_cond_broadcast(&e->wake);
    pthread_cond_broadcast(&e->keeper_wake);
    pthread_mutex_unlock(&e->lock);
    for (int i = 0; i < e->nthreads; i++)
        pthread_join(e->threads[i], NULL);
    if (e->have_sched)
        pthread_join(e->sched, NULL);
    if (e->nthreads) { /* no longer serving: the CLI runs retries itself */
        char err[256];
        sl_store_cursor_put(e->cfg.store, ALIVE_KEY, 0, err, sizeof err);
    }
    sl__clients_free(e->clients);
    json_decref(e->env);
    json_decref(e->secrets);
    free(e->runs_by);
    pthread_mutex_destroy(&e->stats_lock);
    free(e->threads);
    free(e->enabled);
    pthread_mutex_destroy(&e->lock);
    pthread_cond_destroy(&e->wake);
    pthread_cond_destroy(&e->keeper_wake);
    free(e);
}
