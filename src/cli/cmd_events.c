/* sluice events: the inbox of received events, and Stripe's webhook event types. */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "cli/flows_view.h"
#include "flow/engine.h"
#include "sluice/catalog.h"

#define CMD "events"

void sl__cmd_events_help(FILE *out)
{
    fprintf(out,
            "Usage: sluice events list [--type TYPE] [--connection NAME] [--limit N] [--json]\n"
            "       sluice events show ID [--json]\n"
            "       sluice events replay ID [--queue] [--flows DIR]\n"
            "       sluice events types [FILTER] [--json]\n"
            "\n"
            "list and show read the inbox (TYPE may end in `*`: invoice.*). replay queues the\n"
            "event again into every enabled flow that wants it now; when a `sluice serve` runs\n"
            "on this store it runs them with its settings and this waits, else they run here\n"
            "(--queue: queue them and return). --data DIR and --store URI as for serve.\n"
            "\n"
            "Lists the webhook event types of Stripe's API (version %s), each with a short\n"
            "description; FILTER keeps those containing it (for example `invoice.`).\n"
            "\n"
            "Examples:\n"
            "  sluice events types\n"
            "  sluice events types invoice. --json\n",
            sl_catalog_api_version());
}

static int events_types(int argc, char **argv)
{
    static const struct option opts[] = {
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int as_json = 0, c;
    opterr = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (c == 'j') {
            as_json = 1;
        } else if (c == 'h') {
            sl__cmd_events_help(stdout);
            return CLI_OK;
        } else {
            return sl__cli_usage_error(CMD, "unknown option `%s`; see `sluice events --help`",
                                       argv[optind - 1]);
        }
    }
    if (optind + 1 < argc)
        return sl__cli_usage_error(CMD, "types takes at most one FILTER");
    const char *filter = optind < argc ? argv[optind] : NULL;
    json_t *arr = as_json ? json_array() : NULL;
    size_t shown = 0;
    for (size_t i = 0; i < sl_event_type_count(); i++) {
        const char *name = sl_event_type_name(i);
        if (filter && !strstr(name, filter))
            continue;
        shown++;
        if (arr)
            json_array_append_new(arr, json_pack("{s:s,s:s}", "type", name, "description",
                                                 sl_event_type_description(i)));
        else
            printf("%-56s %s\n", name, sl_event_type_description(i));
    }
    if (arr) {
        json_dumpf(arr, stdout, JSON_INDENT(2));
        fputc('\n', stdout);
        json_decref(arr);
    }
    if (!shown && filter) {
        fprintf(stderr, "sluice events: no event type contains `%s`\n", filter);
        return CLI_EFAIL;
    }
    return CLI_OK;
}

static void iso_time(long long ms, char *out, size_t n)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    size_t k = strftime(out, n, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out + k, n - k, ".%03lldZ", ms % 1000);
}

static json_t *event_json(const sl_event_row_t *r, int with_payload)
{
    char when[40];
    iso_time(r->received_ms, when, sizeof when);
    json_t *o = json_pack("{s:s,s:s,s:s,s:s,s:s,s:I}", "id", r->id, "type", r->type, "connection",
                          r->connection, "source", r->source, "received_at", when, "created",
                          (json_int_t)r->created);
    if (with_payload) {
        json_t *p = r->payload ? json_loads(r->payload, 0, NULL) : NULL;
        json_object_set_new(o, "payload", p ? p : json_string(r->payload ? r->payload : ""));
    }
    return o;
}

typedef struct list_ctx {
    json_t *arr;
    size_t n;
    int json;
} list_ctx_t;

static int list_one(const sl_event_row_t *r, void *ctx)
{
    list_ctx_t *l = ctx;
    l->n++;
    if (l->json) {
        json_array_append_new(l->arr, event_json(r, 0));
    } else {
        char when[64];
        sl__cli_when(r->received_ms, when, sizeof when);
        json_array_append_new(
            l->arr, json_pack("[s,s,s,s,s]", r->id, r->type, r->connection, r->source, when));
    }
    return 0;
}

static int events_store(int argc, char **argv, int show)
{
    enum { O_TYPE = 256, O_CONN, O_LIMIT, O_JSON, O_DATA, O_STORE };
    static const struct option opts[] = {
        {"type", required_argument, NULL, O_TYPE},
        {"connection", required_argument, NULL, O_CONN},
        {"limit", required_argument, NULL, O_LIMIT},
        {"json", no_argument, NULL, O_JSON},
        {"data", required_argument, NULL, O_DATA},
        {"store", required_argument, NULL, O_STORE},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    sl_event_filter_t f = {.limit = 20};
    const char *data = NULL, *store = NULL;
    long limit;
    int as_json = 0, c;
    opterr = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        switch (c) {
        case O_TYPE:
            f.type = optarg;
            break;
        case O_CONN:
            f.connection = optarg;
            break;
        case O_LIMIT:
            if (sl__cli_parse_long(optarg, 1, 100000, &limit))
                return sl__cli_usage_error(CMD, "--limit takes a number from 1 to 100000");
            f.limit = (size_t)limit;
            break;
        case O_JSON:
            as_json = 1;
            break;
        case O_DATA:
            data = optarg;
            break;
        case O_STORE:
            store = optarg;
            break;
        case 'h':
            sl__cmd_events_help(stdout);
            return CLI_OK;
        default:
            return sl__cli_option_error(CMD, c, argv);
        }
    }
    if (show && optind + 1 != argc)
        return sl__cli_usage_error(CMD, "show takes one event ID");
    if (!show && optind != argc)
        return sl__cli_usage_error(CMD, "list takes no arguments (filters: --type, --connection)");
    sl_cli_env_t env;
    int ret = sl__cli_env_open(&env, CMD, data, store, 0);
    if (ret)
        return ret;
    char err[512];
    if (show) {
        sl_event_row_t r;
        sl_err rc = sl_store_event_get(env.store, argv[optind], &r, err, sizeof err);
        if (rc) {
            fprintf(stderr, "sluice events: %s\n", err);
            ret = sl__cli_exit(rc);
        } else {
            json_t *o = event_json(&r, 1);
            if (!as_json) {
                char when[64];
                sl__cli_when(r.received_ms, when, sizeof when);
                printf("%s  %s\nconnection %s, received %s by %s\n\n", r.id, r.type, r.connection,
                       when, strcmp(r.source, "webhook") == 0 ? "webhook" : "catch-up polling");
                json_dumpf(json_object_get(o, "payload"), stdout, JSON_INDENT(2));
            } else {
                json_dumpf(o, stdout, JSON_INDENT(2));
            }
            fputc('\n', stdout);
            json_decref(o);
            sl_event_row_cleanup(&r);
        }
    } else {
        list_ctx_t l = {json_array(), 0, as_json};
        if (sl_store_events_list(env.store, &f, list_one, &l, err, sizeof err)) {
            fprintf(stderr, "sluice events: %s\n", err);
            ret = CLI_EFAIL;
        }
        if (as_json) {
            json_dumpf(l.arr, stdout, JSON_INDENT(2));
            fputc('\n', stdout);
        } else if (!l.n) {
            printf("(no events yet)\n");
        } else {
            static const char *const head[] = {"ID", "TYPE", "CONNECTION", "SOURCE", "RECEIVED"};
            sl__cli_table(head, 5, l.arr);
        }
        json_decref(l.arr);
    }
    sl__cli_env_close(&env);
    return ret;
}

/* events replay ID: the event into every enabled flow that wants it now. */
static int events_replay(int argc, char **argv)
{
    enum { O_DATA = 256, O_STORE, O_FLOWS, O_QUEUE };
    static const struct option opts[] = {
        {"data", required_argument, NULL, O_DATA},
        {"store", required_argument, NULL, O_STORE},
        {"flows", required_argument, NULL, O_FLOWS},
        {"queue", no_argument, NULL, O_QUEUE},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *data = NULL, *store = NULL, *flows_opt = NULL;
    int queue = 0, c;
    opterr = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        switch (c) {
        case O_DATA:
            data = optarg;
            break;
        case O_STORE:
            store = optarg;
            break;
        case O_FLOWS:
            flows_opt = optarg;
            break;
        case O_QUEUE:
            queue = 1;
            break;
        case 'h':
            sl__cmd_events_help(stdout);
            return CLI_OK;
        default:
            return sl__cli_option_error(CMD, c, argv);
        }
    }
    if (optind + 1 != argc)
        return sl__cli_usage_error(CMD, "replay takes one event ID");
    sl_cli_env_t env;
    int ret = sl__cli_env_open(&env, CMD, data, store, 1);
    if (ret)
        return ret;
    char dir[4096], err[1024];
    sl_flows_t flows;
    memset(&flows, 0, sizeof flows);
    sl_engine_t *eng = NULL;
    json_t *runs = NULL, *ids = json_array();
    sl__cli_flows_dir(flows_opt, &env, dir, sizeof dir);
    if ((ret = sl__cli_flows_load(CMD, dir, &flows)) != CLI_OK)
        goto out;
    sl_engine_config_t ecfg = {env.store, &env.crypt, &flows, 0, 0, 0, 0, 0, 0};
    if (sl__engine_start(&ecfg, &eng, err, sizeof err)) {
        fprintf(stderr, "sluice %s: %s\n", CMD, err);
        ret = CLI_EFAIL;
        goto out;
    }
    sl_err rc = sl__engine_replay(eng, argv[optind], &runs, err, sizeof err);
    sl__engine_stop(eng);
    eng = NULL;
    if (rc) {
        fprintf(stderr, "sluice %s: %s\n", CMD, err);
        ret = sl__cli_exit(rc);
        goto out;
    }
    if (!json_array_size(runs)) {
        printf("No enabled flow wants %s (`sluice flows list` shows their triggers).\n",
               argv[optind]);
        goto out;
    }
    for (size_t i = 0; i < json_array_size(runs); i++) {
        const json_t *r = json_array_get(runs, i);
        printf("Queued run %s of %s\n", json_string_value(json_object_get(r, "run")),
               json_string_value(json_object_get(r, "flow")));
        json_array_append(ids, json_object_get(r, "run"));
    }
    if (!queue)
        ret = sl__cli_finish_runs(CMD, &env, flows_opt, ids, 0);
out:
    sl__engine_stop(eng);
    json_decref(runs);
    json_decref(ids);
    sl__flows_free(&flows);
    sl__cli_env_close(&env);
    return ret;
}

int sl__cmd_events(int argc, char **argv)
{
    if (argc < 2)
        return sl__cli_usage_error(CMD,
                                   "needs a subcommand: list, show, replay or types; see `sluice "
                                   "events --help`");
    if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
        sl__cmd_events_help(stdout);
        return CLI_OK;
    }
    if (strcmp(argv[1], "types") == 0)
        return events_types(argc - 1, argv + 1);
    if (strcmp(argv[1], "list") == 0 || strcmp(argv[1], "show") == 0)
        return events_store(argc - 1, argv + 1, strcmp(argv[1], "show") == 0);
    if (strcmp(argv[1], "replay") == 0)
        return events_replay(argc - 1, argv + 1);
    return sl__cli_usage_error(CMD, "unknown subcommand `%s`; see `sluice events --help`", argv[1]);
}
