/* sluice flows: list, check, enable, disable and run flows by hand. */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/flows_view.h"
#include "core/log.h"
#include "flow/engine.h"

#define CMD "flows"

void sl__cmd_flows_help(FILE *out)
{
    fprintf(out,
            "Usage: sluice flows list [--flows DIR] [--data DIR] [--json]\n"
            "       sluice flows validate [DIR | FILE...] [--data DIR] [--store URI] [--json]\n"
            "       sluice flows enable NAME | disable NAME\n"
            "       sluice flows run NAME [--input JSON] [--queue] [--full]\n"
            "\n"
            "Flows are automations kept as YAML or JSON files in a directory (--flows DIR,\n"
            "else $SLUICE_FLOWS, else DATA/flows); `sluice serve` runs them. Each names a\n"
            "trigger (Stripe event types such as invoice.paid or invoice.*, `manual`, or\n"
            "{schedule: \"0 9 * * 1\"}), the connection it works for, and its steps. See the\n"
            "README's Flows section and examples/flows/.\n"
            "\n"
            "  list       each flow: trigger, connection, enabled, file\n"
            "  validate   check every file without running anything; each problem is printed\n"
            "             as FILE:LINE:COLUMN: message, and the exit code is 2 if there is one.\n"
            "             Beyond each file: steps read only steps before them, Stripe parameters\n"
            "             written out pass the catalog's checks, and, when there is a store\n"
            "             (--data, --store), the connection is one of its connections\n"
            "  enable     let events and schedules start the flow (the store keeps the setting;\n"
            "  disable    a running `sluice serve` notices within a second)\n"
            "  run        run the flow now with --input as its trigger ($.trigger, $.input),\n"
            "             in this process, and print the run step by step; --queue leaves it\n"
            "             to `sluice serve`'s workers instead\n"
            "\n"
            "Exit codes: 0 ok (for run: the run succeeded or a filter stopped it), 1 the run\n"
            "failed, 2 a bad command line or flow file.\n");
}

static int list_flows(const sl_flows_t *flows, sl_engine_t *eng, int as_json)
{
    json_t *all = json_array(), *rows = json_array();
    for (size_t i = 0; i < flows->n; i++) {
        const sl_flow_t *f = &flows->v[i];
        char trigger[512] = "";
        if (f->trigger == SL_TRIGGER_MANUAL)
            snprintf(trigger, sizeof trigger, "manual");
        else if (f->trigger == SL_TRIGGER_SCHEDULE)
            snprintf(trigger, sizeof trigger, "schedule %s", f->cron_text);
        else
            for (size_t k = 0; k < json_array_size(f->events); k++)
                snprintf(trigger + strlen(trigger), sizeof trigger - strlen(trigger), "%s%s",
                         k ? "," : "", json_string_value(json_array_get(f->events, k)));
        int on = sl__engine_flow_enabled(eng, f);
        if (as_json)
            json_array_append_new(
                all, json_pack("{s:s,s:s,s:s,s:b,s:s,s:I}", "name", f->name, "trigger", trigger,
                               "connection", f->connection, "enabled", on, "file", f->file, "steps",
                               (json_int_t)json_array_size(json_object_get(f->def, "steps"))));
        else
            json_array_append_new(rows, json_pack("[s,s,s,s,s]", f->name,
                                                  on ? "enabled" : "disabled", trigger,
                                                  f->connection[0] ? f->connection : "-", f->file));
    }
    if (!as_json && flows->n) {
        static const char *const head[] = {"FLOW", "STATE", "TRIGGER", "CONNECTION", "FILE"};
        sl__cli_table(head, 5, rows);
    }
    json_decref(rows);
    if (as_json) {
        char *text = json_dumps(all, JSON_INDENT(2));
        printf("%s\n", text);
        free(text);
    } else if (!flows->n) {
        printf("No flows yet. Put YAML or JSON flow files in the flows directory (see "
               "examples/flows/).\n");
    }
    json_decref(all);
    return CLI_OK;
}

static int add_name(const sl_conn_row_t *row, void *ctx)
{
    return json_array_append_new(ctx, json_string(row->name)) ? 1 : 0;
}

/* The store's connection names, for `validate` to check each flow's `connection` against: from
 * --store or $SLUICE_STORE, else DATA/sluice.db when it exists (validate makes no store). NULL
 * when there is no store, or it cannot be read (said on stderr): then they are not checked. */
static json_t *store_connections(const char *data, const char *store_opt, const char **why)
{
    *why = " (connections not checked: no store yet)";
    char dir[4096], uri[4200], err[512];
    if (!store_opt || !*store_opt)
        store_opt = getenv("SLUICE_STORE");
    if (store_opt && *store_opt) {
        snprintf(uri, sizeof uri, "%s", store_opt);
    } else {
        if (sl__data_dir(data, dir, sizeof dir, err, sizeof err))
            return NULL;
        snprintf(uri, sizeof uri, "%s/sluice.db", dir);
        if (access(uri, F_OK) != 0)
            return NULL;
        snprintf(uri, sizeof uri, "sqlite:%s/sluice.db", dir);
    }
    sl_store_t *store = NULL;
    json_t *names = json_array();
    if (sl_store_open(uri, &store, err, sizeof err) ||
        sl_store_conn_list(store, add_name, names, err, sizeof err)) {
        fprintf(stderr, "sluice %s: connections not checked: %s\n", CMD, err);
        *why = " (connections not checked)";
        json_decref(names);
        names = NULL;
    }
    sl_store_close(store);
    return names;
}

static int validate(int argc, char **argv, int first, const char *dir, const char *data,
                    const char *store, int as_json)
{
    json_t *errors = json_array();
    size_t nflows = 0;
    const char *why = "";
    sl_flow_known_t known = {store_connections(data, store, &why)};
    if (first >= argc) {
        sl_flows_t flows;
        sl__flows_load_dir_known(dir, &known, &flows, errors);
        nflows = flows.n;
        sl__flows_free(&flows);
    }
    for (int i = first; i < argc; i++) {
        sl_flows_t flows;
        if (sl__flows_load_dir_known(argv[i], &known, &flows, errors) == SL_EIO) {
            sl_flow_t f;
            if (sl__flow_load_known(argv[i], &known, &f, errors) == SL_OK)
                nflows++;
            sl__flow_cleanup(&f);
        } else {
            nflows += flows.n;
        }
        sl__flows_free(&flows);
    }
    if (known.connections)
        why = "";
    json_decref((json_t *)known.connections);
    size_t nerr = json_array_size(errors);
    if (as_json) { /* {"flows": N, "problems": ["FILE:LINE:COL: problem", ...]} on stdout */
        json_t *o = json_pack("{s:I,s:O,s:b}", "flows", (json_int_t)nflows, "problems", errors,
                              "connections_checked", !*why);
        json_dumpf(o, stdout, JSON_INDENT(2));
        fputc('\n', stdout);
        json_decref(o);
        json_decref(errors);
        return nerr ? CLI_EUSAGE : CLI_OK;
    }
    for (size_t i = 0; i < json_array_size(errors); i++)
        fprintf(stderr, "%s\n", json_string_value(json_array_get(errors, i)));
    json_decref(errors);
    if (nerr) {
        fprintf(stderr, "%zu problem%s\n", nerr, nerr == 1 ? "" : "s");
        return CLI_EUSAGE;
    }
    printf("%zu flow%s OK%s\n", nflows, nflows == 1 ? "" : "s", why);
    return CLI_OK;
}

int sl__cmd_flows(int argc, char **argv)
{
    enum { O_FLOWS = 256, O_DATA, O_STORE, O_JSON, O_INPUT, O_QUEUE, O_FULL };
    static const struct option options[] = {
        {"flows", required_argument, NULL, O_FLOWS},
        {"data", required_argument, NULL, O_DATA},
        {"store", required_argument, NULL, O_STORE},
        {"json", no_argument, NULL, O_JSON},
        {"input", required_argument, NULL, O_INPUT},
        {"queue", no_argument, NULL, O_QUEUE},
        {"full", no_argument, NULL, O_FULL},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *flows_opt = NULL, *data = NULL, *store = NULL, *input_text = NULL;
    int as_json = 0, queue = 0, full = 0, c;
    opterr = 0;
    optind = 1;
    char **args = calloc((size_t)argc + 1, sizeof *args);
    int nargs = 0;
    while ((c = getopt_long(argc, argv, "-:h", options, NULL)) != -1) {
        switch (c) {
        case 1:
            args[nargs++] = optarg;
            break;
        case O_FLOWS:
            flows_opt = optarg;
            break;
        case O_DATA:
            data = optarg;
            break;
        case O_STORE:
            store = optarg;
            break;
        case O_JSON:
            as_json = 1;
            break;
        case O_INPUT:
            input_text = optarg;
            break;
        case O_QUEUE:
            queue = 1;
            break;
        case O_FULL:
            full = 1;
            break;
        case 'h':
            free(args);
            sl__cmd_flows_help(stdout);
            return CLI_OK;
        default:
            free(args);
            return sl__cli_option_error(CMD, c, argv);
        }
    }
    for (; optind < argc; optind++)
        args[nargs++] = argv[optind];
    const char *sub = nargs ? args[0] : "list";
    int ret = CLI_OK;
    sl_cli_env_t env;
    memset(&env, 0, sizeof env);
    sl_flows_t flows;
    memset(&flows, 0, sizeof flows);
    sl_engine_t *eng = NULL;
    char dir[4096], err[1024];
    json_t *input = NULL;
    if (strcmp(sub, "validate") == 0) {
        if (nargs < 2) {
            char d[3800];
            sl__data_dir(data, d, sizeof d, err, sizeof err);
            snprintf(dir, sizeof dir, "%s", flows_opt ? flows_opt : getenv("SLUICE_FLOWS") ?: "");
            if (!dir[0])
                snprintf(dir, sizeof dir, "%s/flows", d);
        }
        ret = validate(nargs, args, 1, dir, data, store, as_json);
        goto out;
    }
    if (strcmp(sub, "list") && strcmp(sub, "enable") && strcmp(sub, "disable") &&
        strcmp(sub, "run")) {
        ret = sl__cli_usage_error(CMD,
                                  "unknown subcommand `%s` (list, validate, enable, "
                                  "disable, run)",
                                  sub);
        goto out;
    }
    if (strcmp(sub, "list") && nargs != 2) {
        ret = sl__cli_usage_error(CMD, "`%s` takes one flow NAME", sub);
        goto out;
    }
    if (input_text) {
        json_error_t jerr;
        input = json_loads(input_text, JSON_DECODE_ANY, &jerr);
        if (!input) {
            ret = sl__cli_usage_error(CMD, "--input is not JSON: %s (column %d)", jerr.text,
                                      jerr.column);
            goto out;
        }
    }
    if ((ret = sl__cli_env_open(&env, CMD, data, store, 1)) != CLI_OK)
        goto out;
    sl__cli_flows_dir(flows_opt, &env, dir, sizeof dir);
    if ((ret = sl__cli_flows_load(CMD, dir, &flows)) != CLI_OK)
        goto out;
    sl_engine_config_t ecfg = {env.store, &env.crypt, &flows, 0, 0, 0, 0, 0, 0};
    if (sl__engine_start(&ecfg, &eng, err, sizeof err)) {
        fprintf(stderr, "sluice %s: %s\n", CMD, err);
        ret = CLI_EFAIL;
        goto out;
    }
    if (strcmp(sub, "list") == 0) {
        ret = list_flows(&flows, eng, as_json);
        goto out;
    }
    const sl_flow_t *f = sl__flows_find(&flows, args[1]);
    if (!f) {
        fprintf(stderr, "sluice %s: no flow `%s` in %s (`sluice flows list` shows them)\n", CMD,
                args[1], dir);
        ret = CLI_ENOTFOUND;
        goto out;
    }
    if (strcmp(sub, "enable") == 0 || strcmp(sub, "disable") == 0) {
        int on = strcmp(sub, "enable") == 0;
        if (sl_store_flow_enabled_put(env.store, f->name, on, err, sizeof err)) {
            fprintf(stderr, "sluice %s: %s\n", CMD, err);
            ret = CLI_EFAIL;
            goto out;
        }
        printf("Flow %s is %s.\n", f->name, on ? "enabled" : "disabled");
        goto out;
    }
    /* run */
    char run_id[64];
    if (!input)
        input = json_object(); /* freed at out */
    if (sl__engine_queue(eng, f->name, NULL, input, run_id, sizeof run_id, err, sizeof err)) {
        fprintf(stderr, "sluice %s: %s\n", CMD, err);
        ret = CLI_EFAIL;
        goto out;
    }
    if (queue) {
        printf("Queued run %s of %s; `sluice serve` runs it. See it with: sluice runs show %s\n",
               run_id, f->name, run_id);
        goto out;
    }
    sl__log_quiet(1);
    int here = 1;
    sl__engine_execute_id(eng, run_id, &here, err, sizeof err);
    if (!here)
        fprintf(stderr, "sluice %s: sluice serve ran it (it claimed the run first)\n", CMD);
    ret = sl__cli_show_run(env.store, run_id, full);
    json_t *ran = NULL;
    if (!ret && sl_store_run_get(env.store, run_id, &ran, err, sizeof err) == SL_OK &&
        !strcmp(json_string_value(json_object_get(ran, "status")) ?: "", "failed"))
        ret = CLI_EFAIL; /* the run it was asked to do failed */
    json_decref(ran);
out:
    json_decref(input);
    sl__engine_stop(eng);
    sl__flows_free(&flows);
    if (env.store)
        sl__cli_env_close(&env);
    free(args);
    return ret;
}
