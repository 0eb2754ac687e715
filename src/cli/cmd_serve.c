/* sluice serve: receive Stripe's webhooks, verify them and store every one durably. */
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/flows_view.h"
#include "flow/engine.h"
#include "http/api.h"
#include "ingest/catchup.h"
#include "ingest/inbox.h"
#include "conn/endpoints.h"
#include "core/log.h"
#include "http/server.h"
#include "sluice/catalog.h"

#define CMD "serve"

void sl__cmd_serve_help(FILE *out)
{
    fprintf(
        out,
        "Usage: sluice serve [--listen HOST:PORT] [--data DIR] [--store URI]\n"
        "                    [--public-url URL [--events TYPES]] [--catch-up SECONDS]\n"
        "                    [--max-body BYTES] [--tolerance SECONDS] [--quiet]\n"
        "                    [--flows DIR] [--workers N] [--lease SECONDS]\n"
        "                    [--max-conns-per-ip N] [--header-timeout SECONDS]\n"
        "                    [--request-timeout SECONDS]\n"
        "\n"
        "Receives Stripe webhooks at POST /hooks/CONNECTION, checks their Stripe-Signature\n"
        "(any v1 may match the connection's secret, or the previous one during a rotation;\n"
        "timestamps within the tolerance), and stores each event in the inbox before\n"
        "answering 200; a duplicate event id is answered 200 and not stored again.\n"
        "Concurrent requests are committed together, each answered once its batch is on\n"
        "disk. Refusals: 400 (bad or missing signature, stale timestamp, not an event),\n"
        "404 (unknown connection), 405, 413 (body too large), 503 (the store is failing:\n"
        "Stripe retries). Nothing refused is stored.\n"
        "\n"
        "  --listen HOST:PORT   default 127.0.0.1:8080 (port 0: any free port)\n"
        "  --data DIR           default $SLUICE_DATA or ~/.local/share/sluice\n"
        "  --store URI          sqlite:PATH (default: sqlite:DATA/sluice.db, or $SLUICE_STORE)\n"
        "                       or postgres://USER@HOST/DB: several instances share it\n"
        "  --public-url URL     register (or reuse, or update) one webhook endpoint per\n"
        "                       connection at URL/hooks/NAME through Stripe's API\n"
        "  --events TYPES       comma-separated event types for those endpoints (default *)\n"
        "  --catch-up SECONDS   every SECONDS, list /v1/events since the last seen and store\n"
        "                       what webhooks missed (Stripe keeps events 30 days)\n"
        "  --max-body BYTES     default 1048576\n"
        "  --tolerance SECONDS  default 300\n"
        "  --max-conns-per-ip N connections open at once from one client address; more\n"
        "                       are closed as they come (default 64)\n"
        "  --header-timeout SECONDS\n"
        "                       a request's headers must arrive within this long of the\n"
        "                       connection opening or of its previous answer, or the\n"
        "                       connection is closed (default 10)\n"
        "  --request-timeout SECONDS\n"
        "                       and its body within this long (default 30)\n"
        "  --quiet              log only warnings and errors\n"
        "  --flows DIR          the flow files to run (default $SLUICE_FLOWS or DATA/flows)\n"
        "  --workers N          runs executed at once (default 2)\n"
        "  --lease SECONDS      a claimed run stays this instance's while it heartbeats;\n"
        "                       after that long without one, any instance resumes it\n"
        "                       (default 30)\n"
        "\n"
        "Each stored event queues a run of every enabled flow whose trigger wants it, in\n"
        "the same transaction; workers execute the runs step by step, recording each\n"
        "step, and resume unfinished runs after a restart. Scheduled flows fire on their\n"
        "cron (UTC). The REST API under /api/ (flows, runs, events, replay, contacts)\n"
        "needs Authorization: Bearer TOKEN, where TOKEN is $SLUICE_ADMIN_TOKEN, else\n"
        "DATA/admin.token, made and shown once at the first start.\n"
        "\n"
        "Also GET /healthz (503 with the reason while the store fails to commit) and\n"
        "GET /metrics (Prometheus). Logs are JSON lines on stderr.\n"
        "SIGTERM or SIGINT: stop accepting, finish and commit what is in flight, exit 0.\n"
        "\n"
        "Example:\n"
        "  sluice connect add shop --key sk_test_... --webhook-secret whsec_...\n"
        "  sluice serve --listen 127.0.0.1:8080\n");
}

int sl__cmd_serve(int argc, char **argv)
{
    enum {
        O_LISTEN = 256,
        O_DATA,
        O_STORE,
        O_LEASE,
        O_PUBLIC,
        O_EVENTS,
        O_CATCHUP,
        O_BODY,
        O_TOL,
        O_QUIET,
        O_FLOWS,
        O_WORKERS,
        O_PER_IP,
        O_HEADER_TIMEOUT,
        O_REQUEST_TIMEOUT,
    };
    static const struct option options[] = {
        {"listen", required_argument, NULL, O_LISTEN},
        {"data", required_argument, NULL, O_DATA},
        {"store", required_argument, NULL, O_STORE},
        {"lease", required_argument, NULL, O_LEASE},
        {"public-url", required_argument, NULL, O_PUBLIC},
        {"events", required_argument, NULL, O_EVENTS},
        {"catch-up", required_argument, NULL, O_CATCHUP},
        {"max-body", required_argument, NULL, O_BODY},
        {"tolerance", required_argument, NULL, O_TOL},
        {"quiet", no_argument, NULL, O_QUIET},
        {"flows", required_argument, NULL, O_FLOWS},
        {"workers", required_argument, NULL, O_WORKERS},
        {"max-conns-per-ip", required_argument, NULL, O_PER_IP},
        {"header-timeout", required_argument, NULL, O_HEADER_TIMEOUT},
        {"request-timeout", required_argument, NULL, O_REQUEST_TIMEOUT},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *listen = "127.0.0.1:8080", *data = NULL, *store = NULL, *public_url = NULL;
    char events_buf[4096] = "*";
    long catch_up = 0, max_body = 1 << 20, tolerance = 300, workers = 2, lease_s = 30;
    long per_ip = SL_SERVE_MAX_CONNS_PER_IP, header_timeout = SL_SERVE_HEADER_TIMEOUT,
         request_timeout = SL_SERVE_REQUEST_TIMEOUT;
    const char *flows_opt = NULL;
    int c;
    opterr = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, ":h", options, NULL)) != -1) {
        switch (c) {
        case O_LISTEN:
            listen = optarg;
            break;
        case O_DATA:
            data = optarg;
            break;
        case O_STORE:
            store = optarg;
            break;
        case O_PUBLIC:
            public_url = optarg;
            break;
        case O_EVENTS:
            snprintf(events_buf, sizeof events_buf, "%s", optarg);
            break;
        case O_CATCHUP:
            if (sl__cli_parse_long(optarg, 1, 86400, &catch_up))
                return sl__cli_usage_error(CMD, "--catch-up takes seconds from 1 to 86400");
            break;
        case O_BODY:
            if (sl__cli_parse_long(optarg, 1024, 64L << 20, &max_body))
                return sl__cli_usage_error(CMD, "--max-body takes bytes from 1024 to 67108864");
            break;
        case O_TOL:
            if (sl__cli_parse_long(optarg, 0, 86400, &tolerance))
                return sl__cli_usage_error(CMD, "--tolerance takes seconds from 0 to 86400");
            break;
        case O_QUIET:
            sl__log_quiet(1);
            break;
        case O_FLOWS:
            flows_opt = optarg;
            break;
        case O_WORKERS:
            if (sl__cli_parse_long(optarg, 1, 64, &workers))
                return sl__cli_usage_error(CMD, "--workers takes 1 to 64");
            break;
        case O_LEASE:
            if (sl__cli_parse_long(optarg, 2, 3600, &lease_s))
                return sl__cli_usage_error(CMD, "--lease takes seconds from 2 to 3600");
            break;
        case O_PER_IP:
            if (sl__cli_parse_long(optarg, 1, 4096, &per_ip))
                return sl__cli_usage_error(CMD, "--max-conns-per-ip takes 1 to 4096");
            break;
        case O_HEADER_TIMEOUT:
            if (sl__cli_parse_long(optarg, 1, 3600, &header_timeout))
                return sl__cli_usage_error(CMD, "--header-timeout takes seconds from 1 to 3600");
            break;
        case O_REQUEST_TIMEOUT:
            if (sl__cli_parse_long(optarg, 1, 3600, &request_timeout))
                return sl__cli_usage_error(CMD, "--request-timeout takes seconds from 1 to 3600");
            break;
        case 'h':
            sl__cmd_serve_help(stdout);
            return CLI_OK;
        default:
            return sl__cli_option_error(CMD, c, argv);
        }
    }
    if (optind < argc)
        return sl__cli_usage_error(CMD, "unexpected argument `%s`", argv[optind]);
    if (request_timeout < header_timeout)
        return sl__cli_usage_error(CMD, "--request-timeout must be at least --header-timeout");
    const char *events[256];
    size_t nevents = 0;
    for (char *tok = strtok(events_buf, ","); tok && nevents < 256; tok = strtok(NULL, ","))
        events[nevents++] = tok;
    if (!nevents)
        return sl__cli_usage_error(CMD, "--events needs at least one event type");
    for (size_t i = 0; i < nevents; i++)
        if (!sl_event_type_known(events[i]))
            return sl__cli_usage_error(CMD,
                                       "--events: `%s` is not a Stripe event type (see "
                                       "`sluice events types`)",
                                       events[i]);

    sigset_t stop;
    sl__cli_block_stop_signals(&stop); /* before any thread starts */

    sl_cli_env_t env;
    /* PostgreSQL: a connection for each worker, and for the inbox's committer, the keeper, the
     * REST API and catch-up. */
    int ret = sl__cli_env_open_pool(&env, CMD, data, store, 1, (int)workers + 4);
    if (ret)
        return ret;
    char err[1024];
    if (public_url) {
        char names[64][64];
        size_t n = 0;
        sl_cli_names_t acc = {names, &n, 64};
        /* Names first: registering calls the API, which must not happen under the store lock. */
        sl_store_conn_list(env.store, sl__cli_collect_name, &acc, err, sizeof err);
        /* Several instances starting at once: one registers, the others find its endpoints. */
        char owner[64];
        snprintf(owner, sizeof owner, "serve:%ld", (long)getpid());
        int held = 0;
        if (sl_store_lease_take(env.store, "endpoints", owner, 60000, &held, err, sizeof err) ||
            !held) {
            sl__log("info", "another instance is registering the webhook endpoints", NULL);
            n = 0;
        }
        for (size_t i = 0; i < n; i++) {
            char msg[1024];
            sl_err rc = sl__endpoint_register(env.store, &env.crypt, names[i], public_url, events,
                                              nevents, NULL, msg, sizeof msg);
            sl__log(rc ? "error" : "info", rc ? "webhook endpoint not registered" : msg,
                    json_pack("{s:s,s:s}", "connection", names[i], "detail", msg));
        }
        if (held) /* done: free for the next instance that starts */
            sl_store_lease_take(env.store, "endpoints", owner, -1, &held, err, sizeof err);
    }
    /* Flows: loaded and checked before anything is accepted. */
    char flows_dir[4096];
    sl__cli_flows_dir(flows_opt, &env, flows_dir, sizeof flows_dir);
    sl_flows_t flows;
    if ((ret = sl__cli_flows_load(CMD, flows_dir, &flows)) != CLI_OK) {
        fprintf(stderr, "sluice serve: fix the flow files above (sluice flows validate %s)\n",
                flows_dir);
        sl__flows_free(&flows);
        sl__cli_env_close(&env);
        return ret;
    }
    sl_engine_t *engine = NULL;
    sl_engine_config_t ecfg = {env.store, &env.crypt, &flows, (int)workers,
                               1,         0,          1,      (long long)lease_s * 1000};
    if (sl__engine_start(&ecfg, &engine, err, sizeof err)) {
        fprintf(stderr, "sluice serve: %s\n", err);
        sl__flows_free(&flows);
        sl__cli_env_close(&env);
        return CLI_EFAIL;
    }
    char token[128];
    int made = 0;
    if (sl__api_token(env.data, token, sizeof token, &made, err, sizeof err)) {
        fprintf(stderr, "sluice serve: %s\n", err);
        sl__engine_stop(engine);
        sl__flows_free(&flows);
        sl__cli_env_close(&env);
        return CLI_EFAIL;
    }
    if (made) /* shown once, to the person starting it; it is in DATA/admin.token (0600) */
        fprintf(stderr, "sluice serve: the REST API's admin token is %s (kept in %s/admin.token)\n",
                token, env.data);
    sl_api_t api = {env.store, engine, &flows};
    sl_serve_config_t cfg = {.listen = listen,
                             .max_body = (size_t)max_body,
                             .tolerance = tolerance,
                             .max_batch = 1024,
                             .store = env.store,
                             .crypt = &env.crypt,
                             .api = &api,
                             .admin_token = token,
                             .max_conns_per_ip = (unsigned)per_ip,
                             .header_timeout = (unsigned)header_timeout,
                             .request_timeout = (unsigned)request_timeout};
    sl_server_t *server = NULL;
    sl_err src = sl__server_start(&cfg, &server, err, sizeof err);
    if (src) {
        fprintf(stderr, "sluice serve: %s\n", err);
        sl__engine_stop(engine);
        sl__flows_free(&flows);
        sl__cli_env_close(&env);
        return src == SL_EINVAL ? CLI_EUSAGE : CLI_EFAIL;
    }
    char host[256];
    const char *colon = strrchr(listen, ':');
    snprintf(host, sizeof host, "%.*s", (int)(colon - listen), listen);
    char url[300];
    snprintf(url, sizeof url, "http://%s:%d", host, sl__server_port(server));
    sl__log("notice", "listening",
            json_pack("{s:s,s:s,s:s,s:I,s:s,s:I}", "url", url, "hooks", "POST /hooks/CONNECTION",
                      "data", env.data, "max_body", (json_int_t)max_body, "flows", flows_dir,
                      "flows_loaded", (json_int_t)flows.n));
    sl__inbox_set_router(sl__server_inbox(server), sl__engine_route, engine);
    sl_catchup_t *catchup = NULL;
    if (catch_up &&
        sl__catchup_start(env.store, &env.crypt, sl__server_inbox(server), catch_up, &catchup))
        sl__log("error", "catch-up did not start", NULL);

    int sig = sl__cli_wait_stop(&stop);
    sl__log("info", "stopping: finishing requests in flight", json_pack("{s:i}", "signal", sig));
    sl__catchup_stop(catchup);
    sl__server_stop(server);
    sl__engine_stop(engine);
    sl__flows_free(&flows);
    sl__cli_env_close(&env);
    sl__log("notice", "stopped", NULL);
    return CLI_OK;
}
