/* sluice runs: the history of flow runs, the step-by-step view of one, and retries. */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/flows_view.h"
#include "core/log.h"
#include "flow/engine.h"

#define CMD "runs"

void sl__cmd_runs_help(FILE *out)
{
    fprintf(out,
            "Usage: sluice runs list [--flow NAME] [--status STATUS] [--limit N] [--json]\n"
            "       sluice runs show ID [--full] [--json]\n"
            "       sluice runs retry ID [--queue] [--full]\n"
            "       sluice runs retry --failed [--flow NAME] [--since WHEN] [--queue]\n"
            "\n"
            "  list   the newest runs first: id, flow, status, trigger, when, failing step\n"
            "         (STATUS: queued, running, succeeded, failed, filtered)\n"
            "  show   the debug view of a run: its trigger, then every step with its resolved\n"
            "         input, its output, timing and attempts, the failing step's error in red;\n"
            "         --full prints long values whole, --json the raw records\n"
            "  retry  run a failed run again from its failed step: the steps that succeeded\n"
            "         keep their outputs and are not repeated, and Stripe writes reuse their\n"
            "         Idempotency-Keys. When a `sluice serve` runs on this store, it runs the\n"
            "         retry with its settings (SMTP, SLUICE_FLOW_*) and this waits for the\n"
            "         result; else it runs here. --queue: queue it and return.\n"
            "         --failed retries every failed run, or those of --flow NAME, or those\n"
            "         queued since WHEN (2026-11-30, 2026-11-30T09:00:00Z, or 90m, 12h, 7d ago)\n"
            "\n"
            "  --data DIR, --store URI, --flows DIR   as for `sluice serve`\n");
}

/* runs retry --failed: every failed run (of a flow, queued since a time) back to the queue. */
static int retry_failed(sl_cli_env_t *env, const char *flow, long long since, int queue,
                        const char *flows_opt)
{
    char err[1024];
    sl_run_filter_t f = {.flow = flow, .status = "failed", .limit = 100000};
    json_t *runs = NULL, *ids = json_array();
    if (sl_store_runs_list(env->store, &f, &runs, err, sizeof err)) {
        fprintf(stderr, "sluice %s: %s\n", CMD, err);
        json_decref(ids);
        return CLI_EFAIL;
    }
    for (size_t i = 0; i < json_array_size(runs); i++) {
        const json_t *r = json_array_get(runs, i);
        const char *id = json_string_value(json_object_get(r, "id"));
        if (json_integer_value(json_object_get(r, "created_ms")) < since)
            continue;
        if (sl__run_requeue_failed(env->store, id, err, sizeof err) == SL_OK)
            json_array_append_new(ids, json_string(id));
        else
            fprintf(stderr, "sluice %s: %s\n", CMD, err);
    }
    json_decref(runs);
    size_t n = json_array_size(ids);
    printf("%zu failed run%s queued again%s%s.\n", n, n == 1 ? "" : "s", flow ? " of " : "",
           flow ? flow : "");
    int ret = CLI_OK;
    if (n && queue)
        printf("`sluice serve` resumes each at its failed step.\n");
    else if (n)
        ret = sl__cli_finish_runs(CMD, env, flows_opt, ids, 0);
    json_decref(ids);
    return ret;
}

int sl__cmd_runs(int argc, char **argv)
{
    enum {
        O_FLOW = 256,
        O_STATUS,
        O_LIMIT,
        O_JSON,
        O_FULL,
        O_QUEUE,
        O_DATA,
        O_STORE,
        O_FLOWS,
        O_FAILED,
        O_SINCE
    };
    static const struct option options[] = {
        {"flow", required_argument, NULL, O_FLOW},
        {"status", required_argument, NULL, O_STATUS},
        {"limit", required_argument, NULL, O_LIMIT},
        {"json", no_argument, NULL, O_JSON},
        {"full", no_argument, NULL, O_FULL},
        {"queue", no_argument, NULL, O_QUEUE},
        {"data", required_argument, NULL, O_DATA},
        {"store", required_argument, NULL, O_STORE},
        {"flows", required_argument, NULL, O_FLOWS},
        {"failed", no_argument, NULL, O_FAILED},
        {"since", required_argument, NULL, O_SINCE},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *flow = NULL, *status = NULL, *data = NULL, *store = NULL, *flows_opt = NULL;
    long limit = 20;
    int as_json = 0, full = 0, queue = 0, all_failed = 0, c;
    long long since = 0;
    opterr = 0;
    optind = 1;
    char **args = calloc((size_t)argc + 1, sizeof *args);
    int nargs = 0;
    while ((c = getopt_long(argc, argv, "-:h", options, NULL)) != -1) {
        switch (c) {
        case 1:
            args[nargs++] = optarg;
            break;
        case O_FLOW:
            flow = optarg;
            break;
        case O_STATUS:
            status = optarg;
            break;
        case O_LIMIT:
            if (sl__cli_parse_long(optarg, 1, 10000000, &limit)) {
                free(args);
                return sl__cli_usage_error(CMD, "--limit takes 1 to 10000000");
            }
            break;
        case O_JSON:
            as_json = 1;
            break;
        case O_FULL:
            full = 1;
            break;
        case O_QUEUE:
            queue = 1;
            break;
        case O_DATA:
            data = optarg;
            break;
        case O_STORE:
            store = optarg;
            break;
        case O_FLOWS:
            flows_opt = optarg;
            break;
        case O_FAILED:
            all_failed = 1;
            break;
        case O_SINCE:
            if (sl__cli_parse_since(optarg, &since)) {
                free(args);
                return sl__cli_usage_error(CMD,
                                           "--since takes a date (2026-11-30), a time"
                                           " (2026-11-30T09:00:00Z) or an age (90m, 12h, 7d),"
                                           " not `%s`",
                                           optarg);
            }
            break;
        case 'h':
            free(args);
            sl__cmd_runs_help(stdout);
            return CLI_OK;
        default:
            free(args);
            return sl__cli_option_error(CMD, c, argv);
        }
    }
    for (; optind < argc; optind++)
        args[nargs++] = argv[optind];
    const char *sub = nargs ? args[0] : "list";
    static const char *const statuses[] = {"queued", "running",  "succeeded",
                                           "failed", "filtered", NULL};
    int known = !status;
    for (size_t i = 0; statuses[i] && !known; i++)
        known = strcmp(statuses[i], status) == 0;
    if (!known) {
        free(args);
        return sl__cli_usage_error(CMD,
                                   "--status is queued, running, succeeded, failed or "
                                   "filtered, not `%s`",
                                   status);
    }
    if (strcmp(sub, "list") && strcmp(sub, "show") && strcmp(sub, "retry")) {
        free(args);
        return sl__cli_usage_error(CMD, "unknown subcommand `%s` (list, show, retry)", sub);
    }
    int bulk = !strcmp(sub, "retry") && all_failed;
    if (bulk && nargs != 1) {
        free(args);
        return sl__cli_usage_error(CMD, "retry --failed takes no run ID");
    }
    if (!bulk && (all_failed || since)) {
        free(args);
        return sl__cli_usage_error(CMD, "--failed and --since are for `runs retry --failed`");
    }
    if (strcmp(sub, "list") && !bulk && nargs != 2) {
        free(args);
        return sl__cli_usage_error(CMD, "`%s` takes one run ID (`sluice runs list` shows them)",
                                   sub);
    }
    sl_cli_env_t env;
    int ret = sl__cli_env_open(&env, CMD, data, store, !strcmp(sub, "retry"));
    if (ret) {
        free(args);
        return ret;
    }
    char err[1024];
    if (strcmp(sub, "list") == 0) {
        sl_run_filter_t f = {.flow = flow, .status = status, .limit = (size_t)limit};
        json_t *runs = NULL;
        if (sl_store_runs_list(env.store, &f, &runs, err, sizeof err)) {
            fprintf(stderr, "sluice %s: %s\n", CMD, err);
            ret = CLI_EFAIL;
        } else if (as_json) {
            char *text = json_dumps(runs, JSON_INDENT(2));
            printf("%s\n", text);
            free(text);
        } else if (!json_array_size(runs)) {
            printf("No runs%s%s%s%s.\n", flow ? " of " : "", flow ? flow : "",
                   status ? " with status " : "", status ? status : "");
        } else {
            static const char *const head[] = {"RUN",     "FLOW",   "STATUS",
                                               "TRIGGER", "QUEUED", "FAILED AT"};
            json_t *rows = json_array();
            for (size_t i = 0; i < json_array_size(runs); i++) {
                const json_t *r = json_array_get(runs, i);
                char when[64];
                sl__cli_when(json_integer_value(json_object_get(r, "created_ms")), when,
                             sizeof when);
                const char *eid = json_string_value(json_object_get(r, "event_id"));
                json_array_append_new(
                    rows,
                    json_pack("[s,s,s,s,s,s]", json_string_value(json_object_get(r, "id")),
                              json_string_value(json_object_get(r, "flow")),
                              json_string_value(json_object_get(r, "status")),
                              eid ? eid
                              : json_object_get(json_object_get(r, "input"), "scheduled_at")
                                  ? "schedule"
                                  : "manual",
                              when, json_string_value(json_object_get(r, "failed_step")) ?: ""));
            }
            sl__cli_table(head, 6, rows);
            json_decref(rows);
        }
        json_decref(runs);
        goto out;
    }
    if (bulk) {
        ret = retry_failed(&env, flow, since, queue, flows_opt);
        goto out;
    }
    const char *id = args[1];
    if (strcmp(sub, "show") == 0 && as_json) {
        json_t *run = NULL, *steps = NULL;
        sl_err grc = sl_store_run_get(env.store, id, &run, err, sizeof err);
        if (grc) {
            fprintf(stderr, "sluice %s: %s\n", CMD, err);
            ret = sl__cli_exit(grc);
            goto out;
        }
        sl_store_steps_get(env.store, id, &steps, err, sizeof err);
        json_object_set_new(run, "steps", steps ? steps : json_array());
        char *text = json_dumps(run, JSON_INDENT(2));
        printf("%s\n", text);
        free(text);
        json_decref(run);
        goto out;
    }
    if (strcmp(sub, "show") == 0) {
        ret = sl__cli_show_run(env.store, id, full);
        goto out;
    }
    /* retry */
    sl_err rrc = sl__run_requeue_failed(env.store, id, err, sizeof err);
    if (rrc) {
        fprintf(stderr, "sluice %s: %s\n", CMD, err);
        ret = sl__cli_exit(rrc);
        goto out;
    }
    if (queue) {
        printf("Run %s is queued again; `sluice serve` resumes it at its failed step.\n", id);
        goto out;
    }
    json_t *ids = json_pack("[s]", id);
    ret = sl__cli_finish_runs(CMD, &env, flows_opt, ids, full);
    json_decref(ids);
out:
    sl__cli_env_close(&env);
    free(args);
    return ret;
}
