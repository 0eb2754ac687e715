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
            "\n"
            "  list   the newest runs first: id, flow, status, trigger, when, failing step\n"
            "         (STATUS: queued, running, succeeded, failed, filtered)\n"
            "  show   the debug view of a run: its trigger, then every step with its resolved\n"
            "         input, its output, timing and attempts, the failing step's error in red;\n"
            "         --full prints long values whole, --json the raw records\n"
            "  retry  run a failed run again from its failed step: the steps that succeeded\n"
            "         keep their outputs and are not repeated, and Stripe writes reuse their\n"
            "         Idempotency-Keys; runs here and prints the result (--queue: leave it to\n"
            "         `sluice serve`)\n"
            "\n"
            "  --data DIR, --store URI, --flows DIR   as for `sluice serve`\n");
}

int sl__cmd_runs(int argc, char **argv)
{
    enum { O_FLOW = 256, O_STATUS, O_LIMIT, O_JSON, O_FULL, O_QUEUE, O_DATA, O_STORE, O_FLOWS };
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
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *flow = NULL, *status = NULL, *data = NULL, *store = NULL, *flows_opt = NULL;
    long limit = 20;
    int as_json = 0, full = 0, queue = 0, c;
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
    if (strcmp(sub, "list") && nargs != 2) {
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
    sl_flows_t flows;
    memset(&flows, 0, sizeof flows);
    sl_engine_t *eng = NULL;
    if (strcmp(sub, "list") == 0) {
        sl_run_filter_t f = {flow, status, NULL, (size_t)limit};
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
            printf("%-24s %-28s %-10s %-24s %-24s %s\n", "RUN", "FLOW", "STATUS", "TRIGGER",
                   "QUEUED", "FAILED AT");
            for (size_t i = 0; i < json_array_size(runs); i++) {
                const json_t *r = json_array_get(runs, i);
                char when[64];
                sl__cli_when(json_integer_value(json_object_get(r, "created_ms")), when,
                             sizeof when);
                const char *eid = json_string_value(json_object_get(r, "event_id"));
                printf("%-24s %-28s %-10s %-24s %-24s %s\n",
                       json_string_value(json_object_get(r, "id")),
                       json_string_value(json_object_get(r, "flow")),
                       json_string_value(json_object_get(r, "status")),
                       eid                                                            ? eid
                       : json_object_get(json_object_get(r, "input"), "scheduled_at") ? "schedule"
                                                                                      : "manual",
                       when, json_string_value(json_object_get(r, "failed_step")) ?: "");
            }
        }
        json_decref(runs);
        goto out;
    }
    const char *id = args[1];
    if (strcmp(sub, "show") == 0 && as_json) {
        json_t *run = NULL, *steps = NULL;
        if (sl_store_run_get(env.store, id, &run, err, sizeof err)) {
            fprintf(stderr, "sluice %s: %s\n", CMD, err);
            ret = CLI_EUSAGE;
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
        ret = rrc == SL_EIO ? CLI_EFAIL : CLI_EUSAGE;
        goto out;
    }
    char dir[4096];
    sl__cli_flows_dir(flows_opt, &env, dir, sizeof dir);
    if ((ret = sl__cli_flows_load(CMD, dir, &flows)) != CLI_OK)
        goto out;
    if (queue) {
        printf("Run %s is queued again; `sluice serve` resumes it at its failed step.\n", id);
        goto out;
    }
    sl_engine_config_t ecfg = {env.store, &env.crypt, &flows, 0, 0, 0, 0, 0};
    if (sl__engine_start(&ecfg, &eng, err, sizeof err)) {
        fprintf(stderr, "sluice %s: %s\n", CMD, err);
        ret = CLI_EFAIL;
        goto out;
    }
    sl__log_quiet(1);
    int here = 1;
    sl__engine_execute_id(eng, id, &here, err, sizeof err);
    if (!here)
        fprintf(stderr, "sluice %s: sluice serve ran it (it claimed the run first)\n", CMD);
    ret = sl__cli_show_run(env.store, id, full);
out:
    sl__engine_stop(eng);
    sl__flows_free(&flows);
    sl__cli_env_close(&env);
    free(args);
    return ret;
}
