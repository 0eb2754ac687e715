/* What `sluice flows` and `sluice runs` share: finding the flows directory, loading the flows
 * with their problems printed, and the debug view of a run. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/flows_view.h"
#include "core/clock.h"
#include "core/log.h"
#include "flow/engine.h"

void sl__cli_flows_dir(const char *opt, const sl_cli_env_t *env, char *out, size_t n)
{
    if (opt && *opt)
        snprintf(out, n, "%s", opt);
    else if (getenv("SLUICE_FLOWS") && *getenv("SLUICE_FLOWS"))
        snprintf(out, n, "%s", getenv("SLUICE_FLOWS"));
    else
        snprintf(out, n, "%.*s/flows", (int)(n > 7 ? n - 7 : 0), env->data);
}

int sl__cli_flows_load(const char *cmd, const char *dir, sl_flows_t *flows)
{
    json_t *errors = json_array();
    sl_err rc = sl__flows_load_dir(dir, flows, errors);
    for (size_t i = 0; i < json_array_size(errors); i++)
        fprintf(stderr, "%s\n", json_string_value(json_array_get(errors, i)));
    if (rc == SL_EIO && !json_array_size(errors))
        fprintf(stderr, "sluice %s: cannot read the flows directory %s\n", cmd, dir);
    json_decref(errors);
    return rc == SL_OK ? CLI_OK : rc == SL_EINVAL ? CLI_EUSAGE : CLI_EFAIL;
}

static int color(void)
{
    static int c = -1;
    if (c < 0)
        c = isatty(STDOUT_FILENO) && !getenv("NO_COLOR");
    return c;
}

static const char *paint(const char *code)
{
    return color() ? code : "";
}

void sl__cli_when(long long ms, char *out, size_t n)
{
    if (ms <= 0) {
        snprintf(out, n, "-");
        return;
    }
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, n, "%Y-%m-%d %H:%M:%S UTC", &tm);
}

/* Prints a JSON value on one line, cut at `max` characters unless full. */
static void value_line(const char *label, const json_t *v, int full)
{
    char *text = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
    size_t len = text ? strlen(text) : 0, max = 600;
    if (full || len <= max)
        printf("      %-7s %s\n", label, text ? text : "null");
    else
        printf("      %-7s %.*s... (%zu characters; --full shows all)\n", label, (int)max, text,
               len);
    free(text);
}

void sl__cli_run_print(const json_t *run, const json_t *steps, const json_t *event, int full)
{
    const char *status = json_string_value(json_object_get(run, "status")) ?: "?";
    const char *mark = !strcmp(status, "succeeded")  ? "\xe2\x9c\x93"
                       : !strcmp(status, "failed")   ? "\xe2\x9c\x97"
                       : !strcmp(status, "filtered") ? "-"
                                                     : "\xe2\x80\xa6";
    const char *col = !strcmp(status, "failed")      ? "\x1b[31m"
                      : !strcmp(status, "succeeded") ? "\x1b[32m"
                                                     : "\x1b[33m";
    printf("Run %s of flow %s: %s%s %s%s (attempt %lld)\n",
           json_string_value(json_object_get(run, "id")),
           json_string_value(json_object_get(run, "flow")), paint(col), mark, status,
           paint("\x1b[0m"), (long long)json_integer_value(json_object_get(run, "attempt")));
    const char *eid = json_string_value(json_object_get(run, "event_id"));
    if (eid) {
        printf("  trigger  event %s", eid);
        if (event)
            printf(" %s", json_string_value(json_object_get(event, "type")) ?: "");
        if (json_string_value(json_object_get(run, "connection")))
            printf(" on connection %s", json_string_value(json_object_get(run, "connection")));
        printf("\n");
    } else {
        char *in = json_dumps(json_object_get(run, "input"), JSON_ENCODE_ANY | JSON_COMPACT);
        const json_t *input = json_object_get(run, "input");
        printf("  trigger  %s %s\n",
               json_object_get(input, "scheduled_at") ? "schedule" : "manual, input",
               in ? in : "null");
        free(in);
    }
    char a[64], b[64];
    sl__cli_when(json_integer_value(json_object_get(run, "created_ms")), a, sizeof a);
    sl__cli_when(json_integer_value(json_object_get(run, "started_ms")), b, sizeof b);
    long long fin = json_integer_value(json_object_get(run, "finished_ms"));
    long long st = json_integer_value(json_object_get(run, "started_ms"));
    long long q = json_integer_value(json_object_get(run, "created_ms"));
    printf("  queued   %s, started %s", a, b);
    if (st && q) /* the wait for a worker, apart from the run's own time */
        printf(" (waited %lld ms)", st - q);
    if (fin && st)
        printf(", took %lld ms", fin - st);
    printf("\n\n");
    size_t nsteps = json_array_size(steps);
    for (size_t i = 0; i < nsteps; i++) {
        const json_t *s = json_array_get(steps, i);
        const char *ss = json_string_value(json_object_get(s, "status")) ?: "";
        int bad = strcmp(ss, "succeeded") != 0;
        const char *path = json_string_value(json_object_get(s, "path")) ?: "";
        int depth = 0;
        for (const char *p = path; *p; p++)
            depth += *p == '.';
        long long att = json_integer_value(json_object_get(s, "attempts"));
        printf("  %s%s%s %*s%-*s %-8s %7.1f ms", paint(bad ? "\x1b[31m" : "\x1b[32m"),
               bad ? "\xe2\x9c\x97" : "\xe2\x9c\x93", paint("\x1b[0m"), depth * 2, "",
               40 - depth * 2 > 10 ? 40 - depth * 2 : 10, path,
               json_string_value(json_object_get(s, "kind")) ?: "",
               json_real_value(json_object_get(s, "duration_ms")));
        if (att > 1)
            printf("  %lld attempts", att);
        printf("\n");
        const json_t *in = json_object_get(s, "input");
        if (in && !json_is_null(in))
            value_line("input", in, full);
        const json_t *out = json_object_get(s, "output");
        if (out && !json_is_null(out))
            value_line("output", out, full);
        const char *e = json_string_value(json_object_get(s, "error"));
        if (e)
            printf("      %serror   %s%s\n", paint("\x1b[31;1m"), e, paint("\x1b[0m"));
    }
    if (!nsteps)
        printf("  (no steps recorded yet)\n");
    const char *error = json_string_value(json_object_get(run, "error"));
    if (error) {
        const char *fs = json_string_value(json_object_get(run, "failed_step"));
        printf("\n%sFailed%s%s: %s%s\n", paint("\x1b[31;1m"), fs ? " at " : "", fs ? fs : "", error,
               paint("\x1b[0m"));
        printf("Fix the cause, then retry from that step: sluice runs retry %s\n",
               json_string_value(json_object_get(run, "id")));
    } else if (!strcmp(status, "filtered")) {
        printf("\nA filter step was false, so the run stopped there, as designed.\n");
    }
}

int sl__cli_show_run(sl_store_t *store, const char *id, int full)
{
    json_t *run = NULL, *steps = NULL;
    char err[512];
    sl_err grc = sl_store_run_get(store, id, &run, err, sizeof err);
    if (grc) {
        fprintf(stderr, "sluice: %s\n", err);
        return sl__cli_exit(grc);
    }
    sl_store_steps_get(store, id, &steps, err, sizeof err);
    json_t *event = NULL;
    const char *eid = json_string_value(json_object_get(run, "event_id"));
    sl_event_row_t row;
    if (eid && sl_store_event_get(store, eid, &row, err, sizeof err) == SL_OK) {
        event = json_pack("{s:s}", "type", row.type);
        sl_event_row_cleanup(&row);
    }
    sl__cli_run_print(run, steps, event, full);
    json_decref(run);
    json_decref(steps);
    json_decref(event);
    return CLI_OK; /* showing a failed run is no failure of the command */
}

/* Waits while a serving instance is alive for the run to end; its status, or "" when it did
 * not end (no instance serves any more, or wait_s passed). */
static const char *wait_end(sl_store_t *store, const char *id, int wait_s, char *status, size_t n)
{
    char err[512];
    status[0] = '\0';
    for (int i = 0; i < wait_s * 10; i++) {
        json_t *run = NULL;
        if (sl_store_run_get(store, id, &run, err, sizeof err))
            return status;
        const char *st = json_string_value(json_object_get(run, "status")) ?: "";
        int over = strcmp(st, "queued") && strcmp(st, "running");
        if (over)
            snprintf(status, n, "%s", st);
        json_decref(run);
        if (over || (i % 10 == 9 && !sl__engine_serving(store)))
            return status;
        usleep(100 * 1000);
    }
    return status;
}

int sl__cli_finish_runs(const char *cmd, sl_cli_env_t *env, const char *flows_opt,
                        const json_t *ids, int full)
{
    size_t n = json_array_size(ids);
    if (!n)
        return CLI_OK;
    int failed = 0;
    json_t *left = json_array();
    if (sl__engine_serving(env->store)) {
        /* Its settings (SMTP, SLUICE_FLOW_*), not this shell's, are the ones flows run with. */
        printf("sluice serve is running on this store: it runs %s with its settings.\n",
               n == 1 ? "the run" : "the runs");
        fflush(stdout);
        for (size_t i = 0; i < n; i++) {
            char status[32];
            const char *id = json_string_value(json_array_get(ids, i));
            if (!*wait_end(env->store, id, 600, status, sizeof status)) {
                json_array_append(left, json_array_get(ids, i)); /* serve went away */
                continue;
            }
            failed |= !strcmp(status, "failed");
            if (n > 1)
                printf("%-24s %s\n", id, status);
        }
    } else {
        json_array_extend(left, (json_t *)ids);
    }
    if (json_array_size(left)) {
        char dir[4096], err[1024];
        sl_flows_t flows;
        sl__cli_flows_dir(flows_opt, env, dir, sizeof dir);
        int ret = sl__cli_flows_load(cmd, dir, &flows);
        if (ret != CLI_OK) {
            json_decref(left);
            return ret;
        }
        sl_engine_config_t ecfg = {env->store, &env->crypt, &flows, 0, 0, 0, 0, 0, 0};
        sl_engine_t *eng = NULL;
        if (sl__engine_start(&ecfg, &eng, err, sizeof err)) {
            fprintf(stderr, "sluice %s: %s\n", cmd, err);
            sl__flows_free(&flows);
            json_decref(left);
            return CLI_EFAIL;
        }
        sl__log_quiet(1);
        for (size_t i = 0; i < json_array_size(left); i++) {
            const char *id = json_string_value(json_array_get(left, i));
            int here = 1;
            char status[32] = "";
            sl__engine_execute_id(eng, id, &here, err, sizeof err);
            json_t *run = NULL;
            if (sl_store_run_get(env->store, id, &run, err, sizeof err) == SL_OK)
                snprintf(status, sizeof status, "%s",
                         json_string_value(json_object_get(run, "status")) ?: "");
            json_decref(run);
            failed |= !strcmp(status, "failed");
            if (n > 1)
                printf("%-24s %s\n", id, status);
        }
        sl__engine_stop(eng);
        sl__flows_free(&flows);
    }
    json_decref(left);
    if (n == 1) {
        int ret = sl__cli_show_run(env->store, json_string_value(json_array_get(ids, 0)), full);
        if (ret)
            return ret;
    }
    return failed ? CLI_EFAIL : CLI_OK;
}
