/* sluice mcp: Stripe's operations, the seeds' named actions and sluice's own inbox and runs as
 * tools for AI agents, over MCP on stdin/stdout. */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/flows_view.h"
#include "http/api.h"
#include "mcp/mcp.h"
#include "sluice/catalog.h"

#define CMD "mcp"
#define MAX_CONNS 16
#define MAX_PATTERNS 64

void sl__cmd_mcp_help(FILE *out)
{
    fprintf(out,
            "Usage: sluice mcp [--connection NAME ... | --api-key KEY [--base-url URL]]\n"
            "                  [--tools PATTERN,...] [--read-only] [--all-operations]\n"
            "                  [--allow-live-writes] [--data DIR] [--store URI] [--flows DIR]\n"
            "\n"
            "An MCP server on stdin/stdout (newline-delimited JSON-RPC 2.0) for AI agents: stdout\n"
            "carries only protocol messages, logs go to stderr, and it exits at the end of its\n"
            "input. It speaks the initialize handshake (2024-11-05 to 2025-11-25) and the\n"
            "stateless 2026-07-28 revision (server/discover).\n"
            "\n"
            "Tools: the seeds' named actions (find-customer, create-a-payment-link, ...) with\n"
            "input schemas made from the catalog; search_operations, describe_operation and\n"
            "call_operation, which reach all %zu operations, validated before anything is sent;\n"
            "and, when a data directory or store is given, sluice's own: list_events, get_event,\n"
            "replay_event, list_runs, get_run, retry_run, list_flows, run_flow. Results are the\n"
            "Stripe object as structured content and as text; a Stripe error comes back as a\n"
            "tool error with its type, code, decline_code, param, message and request id.\n"
            "\n"
            "Options:\n"
            "  --connection NAME     a stored connection (sluice connect); repeat it to offer\n"
            "                        several: each tool then takes a `connection` argument, the\n"
            "                        first being the default\n"
            "  --api-key KEY         secret or restricted key (default: $STRIPE_API_KEY)\n"
            "  --base-url URL        API address (default: $SLUICE_BASE_URL, else Stripe's)\n"
            "  --tools PATTERN,...   keep the tools whose name or operation matches one of the\n"
            "                        glob patterns (customers.*,find-*); the generic tools then\n"
            "                        reach only matching operations\n"
            "  --read-only           list no tool that writes and refuse every write\n"
            "  --all-operations      also one tool per operation (tools/list is paged)\n"
            "  --allow-live-writes   let writes go to a live-mode key (refused by default, so an\n"
            "                        agent cannot move real money by accident)\n"
            "  --data DIR            data directory: connections, and sluice's own tools\n"
            "  --store URI           store (sqlite:PATH or postgres://...) for them\n"
            "  --flows DIR           flow files for run_flow and replay_event (default:\n"
            "                        $SLUICE_FLOWS, else DATA/flows)\n"
            "  --max-message BYTES   longest request line accepted (default 4194304)\n"
            "  -h, --help            show this help\n"
            "\n"
            "Client configuration (Claude Desktop, Cursor, VS Code, ...):\n"
            "  {\"mcpServers\": {\"stripe\": {\"command\": \"sluice\", \"args\": [\"mcp\"],\n"
            "    \"env\": {\"STRIPE_API_KEY\": \"sk_test_...\"}}}}\n",
            sl_op_count());
}

/* sluice's own tools go through the REST API `sluice serve` answers under /api/. */
static const char *query_arg(void *conn, const char *name)
{
    return json_string_value(json_object_get(conn, name));
}

/* Sees a queued run ({"run": ID, ...}) to its end as `sluice flows run` does (here, or by the
 * `sluice serve` that claimed it), and puts its final status and error in `entry`. */
static void finish_run(sl_api_t *api, json_t *entry)
{
    const char *id = json_string_value(json_object_get(entry, "run"));
    char err[1024];
    int here = 1;
    json_t *run = NULL;
    if (!id)
        return;
    sl__engine_execute_id(api->engine, id, &here, err, sizeof err);
    if (sl_store_run_get(api->store, id, &run, err, sizeof err) == SL_OK) {
        json_object_set(entry, "status", json_object_get(run, "status"));
        if (json_is_string(json_object_get(run, "error")))
            json_object_set(entry, "error", json_object_get(run, "error"));
    }
    json_decref(run);
}

static unsigned api_call(void *ctx, const char *method, const char *path, const json_t *query,
                         const json_t *body, json_t **out)
{
    sl_api_t *api = ctx;
    char url[700];
    snprintf(url, sizeof url, "/api/%s", path);
    char *text = body ? json_dumps(body, JSON_ENCODE_ANY | JSON_COMPACT) : NULL;
    unsigned status = sl__api_handle(api, method, url, text, text ? strlen(text) : 0, query_arg,
                                     (void *)query, out);
    free(text);
    /* A run queued by run_flow, retry_run or replay_event: an agent wants its outcome. */
    if (status == 202 && *out) {
        finish_run(api, *out);
        size_t i;
        json_t *r;
        json_array_foreach(json_object_get(*out, "runs"), i, r) finish_run(api, r);
    }
    return status;
}

/* Adds --tools' comma-separated patterns to the list. */
static int add_patterns(char *arg, const char **patterns, size_t *n)
{
    for (char *save = NULL, *p = strtok_r(arg, ",", &save); p; p = strtok_r(NULL, ",", &save)) {
        while (*p == ' ')
            p++;
        if (!*p)
            continue;
        if (*n == MAX_PATTERNS)
            return sl__cli_usage_error(CMD, "--tools takes at most %d patterns", MAX_PATTERNS);
        patterns[(*n)++] = p;
    }
    return CLI_OK;
}

int sl__cmd_mcp(int argc, char **argv)
{
    enum {
        O_CONN = 256,
        O_KEY,
        O_BASE,
        O_TOOLS,
        O_READ_ONLY,
        O_ALL,
        O_LIVE,
        O_DATA,
        O_STORE,
        O_FLOWS,
        O_MAX,
    };
    static const struct option opts[] = {
        {"connection", required_argument, NULL, O_CONN},
        {"api-key", required_argument, NULL, O_KEY},
        {"base-url", required_argument, NULL, O_BASE},
        {"tools", required_argument, NULL, O_TOOLS},
        {"read-only", no_argument, NULL, O_READ_ONLY},
        {"all-operations", no_argument, NULL, O_ALL},
        {"allow-live-writes", no_argument, NULL, O_LIVE},
        {"data", required_argument, NULL, O_DATA},
        {"store", required_argument, NULL, O_STORE},
        {"flows", required_argument, NULL, O_FLOWS},
        {"max-message", required_argument, NULL, O_MAX},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *conn_names[MAX_CONNS];
    size_t nconn_names = 0, npatterns = 0;
    const char *patterns[MAX_PATTERNS];
    const char *key = NULL, *base = NULL, *data = NULL, *store = NULL, *flows_opt = NULL;
    long max_message = 4L << 20;
    sl_mcp_config_t mcfg;
    memset(&mcfg, 0, sizeof mcfg);
    int ret = CLI_OK, c;
    opterr = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        switch (c) {
        case O_CONN:
            if (nconn_names == MAX_CONNS)
                return sl__cli_usage_error(CMD, "at most %d connections", MAX_CONNS);
            for (size_t i = 0; i < nconn_names; i++)
                if (!strcmp(conn_names[i], optarg))
                    return sl__cli_usage_error(CMD, "connection `%s` is given twice", optarg);
            conn_names[nconn_names++] = optarg;
            break;
        case O_KEY:
            key = optarg;
            break;
        case O_BASE:
            base = optarg;
            break;
        case O_TOOLS:
            if ((ret = add_patterns(optarg, patterns, &npatterns)) != CLI_OK)
                return ret;
            break;
        case O_READ_ONLY:
            mcfg.read_only = 1;
            break;
        case O_ALL:
            mcfg.all_operations = 1;
            break;
        case O_LIVE:
            mcfg.allow_live_writes = 1;
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
        case O_MAX:
            if (sl__cli_parse_long(optarg, 1024, 1L << 30, &max_message))
                return sl__cli_usage_error(
                    CMD, "--max-message takes bytes from 1024 to 1073741824, not `%s`", optarg);
            break;
        case 'h':
            sl__cmd_mcp_help(stdout);
            return CLI_OK;
        default:
            return sl__cli_option_error(CMD, c, argv);
        }
    }
    if (optind < argc)
        return sl__cli_usage_error(CMD, "takes no arguments, got `%s`", argv[optind]);
    if (nconn_names && key)
        return sl__cli_usage_error(CMD, "give --connection or --api-key, not both");

    sl_cli_env_t env;
    memset(&env, 0, sizeof env);
    sl_mcp_conn_t conns[MAX_CONNS];
    memset(conns, 0, sizeof conns);
    size_t nconns = 0;
    sl_flows_t flows;
    memset(&flows, 0, sizeof flows);
    sl_engine_t *engine = NULL;
    sl_api_t api;
    int have_api = 0;
    sl_mcp_t *server = NULL;
    char err[1024];
    /* sluice's own tools: when a data directory or a store is named. */
    int local = data || store || (getenv("SLUICE_DATA") && *getenv("SLUICE_DATA")) ||
                (getenv("SLUICE_STORE") && *getenv("SLUICE_STORE"));
    if (nconn_names || local) {
        ret = sl__cli_env_open(&env, CMD, data, store, 1);
        if (ret)
            goto out;
    }
    for (size_t i = 0; i < nconn_names; i++) {
        sl_conn_row_t row;
        sl_client_config_t cfg;
        sl_client_config_init(&cfg);
        char *conn_key = NULL;
        if (sl_store_conn_get(env.store, conn_names[i], &row, err, sizeof err) ||
            sl__conn_config(&row, &env.crypt, &cfg, &conn_key, err, sizeof err)) {
            sl_conn_row_cleanup(&row);
            ret = sl__cli_usage_error(CMD, "%s", err);
            goto out;
        }
        const char *mode = sl__conn_key_mode(conn_key);
        conns[nconns].live = mode && !strcmp(mode, "live");
        conns[nconns].name = conn_names[i];
        sl_err rc = sl_client_new(&cfg, &conns[nconns].client, err, sizeof err);
        sl__crypt_free(conn_key);
        sl_conn_row_cleanup(&row);
        if (rc) {
            ret = sl__cli_usage_error(CMD, "connection %s: %s", conn_names[i], err);
            goto out;
        }
        nconns++;
    }
    if (!nconns) {
        sl_client_config_t cfg;
        sl_client_config_init(&cfg);
        cfg.api_key = key ? key : getenv("STRIPE_API_KEY");
        cfg.base_url = base ? base : getenv("SLUICE_BASE_URL");
        if (!cfg.api_key || !*cfg.api_key) {
            ret = sl__cli_usage_error(CMD, "no API key: pass --connection NAME or --api-key, or "
                                           "set STRIPE_API_KEY");
            goto out;
        }
        const char *mode = sl__conn_key_mode(cfg.api_key);
        if (!mode) {
            ret = sl__cli_usage_error(CMD, "the API key is neither a secret nor a restricted "
                                           "key (a publishable key cannot call the API)");
            goto out;
        }
        conns[0].name = "default";
        conns[0].live = !strcmp(mode, "live");
        if (sl_client_new(&cfg, &conns[0].client, err, sizeof err)) {
            ret = sl__cli_usage_error(CMD, "%s", err);
            goto out;
        }
        nconns = 1;
    } else if (base) {
        ret = sl__cli_usage_error(CMD, "--base-url goes with --api-key; a connection has its own");
        goto out;
    }
    if (local) {
        char dir[4096];
        sl__cli_flows_dir(flows_opt, &env, dir, sizeof dir);
        if ((ret = sl__cli_flows_load(CMD, dir, &flows)) != CLI_OK)
            goto out;
        /* No workers: a run an agent starts is run to its end by the call itself. */
        sl_engine_config_t ecfg = {env.store, &env.crypt, &flows, 0, 0, 0, 0, 0, 0};
        if (sl__engine_start(&ecfg, &engine, err, sizeof err)) {
            fprintf(stderr, "sluice %s: %s\n", CMD, err);
            ret = CLI_EFAIL;
            goto out;
        }
        sl__api_init(&api, env.store, engine, &flows);
        have_api = 1;
        mcfg.api = api_call;
        mcfg.api_ctx = &api;
    }
    mcfg.conns = conns;
    mcfg.nconns = nconns;
    mcfg.patterns = npatterns ? patterns : NULL;
    mcfg.npatterns = npatterns;
    server = sl__mcp_new(&mcfg);
    if (!server) {
        fprintf(stderr, "sluice %s: out of memory\n", CMD);
        ret = CLI_EFAIL;
        goto out;
    }
    if (!sl__mcp_tool_count(server)) {
        ret = sl__cli_usage_error(CMD, "no tool is left: --tools and --read-only leave nothing");
        goto out;
    }
    fprintf(stderr, "sluice mcp: %zu tools, connection%s", sl__mcp_tool_count(server),
            nconns == 1 ? "" : "s");
    for (size_t i = 0; i < nconns; i++)
        fprintf(stderr, "%s %s%s", i ? "," : "", conns[i].name, conns[i].live ? " (live)" : "");
    fprintf(stderr, "%s; reading stdin\n", mcfg.read_only ? "; read-only" : "");
    signal(SIGPIPE, SIG_IGN);
    if (sl__mcp_serve(server, STDIN_FILENO, stdout, (size_t)max_message)) {
        fprintf(stderr, "sluice %s: stdin or stdout failed\n", CMD);
        ret = CLI_EFAIL;
    }

out:
    sl__mcp_free(server);
    if (have_api)
        sl__api_cleanup(&api);
    sl__engine_stop(engine);
    sl__flows_free(&flows);
    for (size_t i = 0; i < nconns; i++)
        sl_client_free(conns[i].client);
    sl__cli_env_close(&env);
    return ret;
}
