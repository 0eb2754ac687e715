/* sluice serve: receive Stripe's webhooks, verify them and store every one durably. */
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/stat.h>
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
        "                    [--request-timeout SECONDS] [--admin-listen HOST:PORT]\n"
        "                    [--sync [--sync-store WHERE] [--sync-schema NAME]]\n"
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
        "  --listen HOST:PORT   default 127.0.0.1:8080 (port 0: any free port); only\n"
        "                       webhooks, /healthz and /metrics are served there\n"
        "  --admin-listen HOST:PORT\n"
        "                       the dashboard and the REST API (default 127.0.0.1:8081;\n"
        "                       `off`: neither). When the default is taken, serve warns\n"
        "                       and runs without them; an address given must be free\n"
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
        "  --sync               apply each stored event to Stripe's objects as tables\n"
        "                       (sluice sync --help): DATA/sync.db, or --sync-store FILE\n"
        "                       or postgres://... (schema --sync-schema, default stripe)\n"
        "\n"
        "Each stored event queues a run of every enabled flow whose trigger wants it, in\n"
        "the same transaction; workers execute the runs step by step, recording each\n"
        "step, and resume unfinished runs after a restart. Scheduled flows fire on their\n"
        "cron (UTC). The dashboard (sign in with the admin token) and the REST API under\n"
        "/api/ (flows, runs, events, replay, contacts) are on --admin-listen; the API\n"
        "takes Authorization: Bearer TOKEN too, where TOKEN is $SLUICE_ADMIN_TOKEN, else\n"
        "DATA/admin.token, made and shown once at the first start.\n"
        "\n"
        "Also GET /healthz (503 with the reason while the store fails to commit) and\n"
        "GET /metrics (Prometheus). Logs go to stderr (--log-format).\n"
        "SIGTERM or SIGINT: stop accepting, finish and commit what is in flight, exit 0.\n"
        "\n"
        "Example:\n"
        "  sluice connect add shop --key sk_test_... --webhook-secret whsec_...\n"
        "  sluice serve --listen 127.0.0.1:8080\n");
}

/* What a reload swaps: the engine and the flows it runs. */
typedef struct reload {
    sl_cli_env_t *env;
    sl_engine_config_t *cfg;
    sl_engine_t *engine;
    sl_flows_t *flows;
    int heap; /* flows was allocated by a reload (the first set is the command's own) */
    sl_api_t *api;
    sl_server_t *server;
    const char *dir;
    char fingerprint[8192]; /* the flow files' names, sizes and times */
} reload_t;

static void dir_fingerprint(const char *dir, char *out, size_t n)
{
    out[0] = '\0';
    DIR *d = opendir(dir);
    if (!d)
        return;
    size_t len = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        char path[4096];
        struct stat st;
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        if (stat(path, &st) == 0 && len < n)
            len += (size_t)snprintf(out + len, n - len, "%s:%lld:%lld.%ld;", de->d_name,
                                    (long long)st.st_size, (long long)st.st_mtim.tv_sec,
                                    st.st_mtim.tv_nsec);
    }
    closedir(d);
}

/* Loads the flow files again; a file that no longer loads keeps its last good version. Then a
 * new engine takes over the new flows, and the old one finishes the runs it holds. */
static void reload(reload_t *rl, const char *why)
{
    dir_fingerprint(rl->dir, rl->fingerprint, sizeof rl->fingerprint);
    sl_flows_t loaded;
    json_t *errors = json_array();
    sl__flows_load_dir(rl->dir, &loaded, errors);
    sl_flows_t *next = calloc(1, sizeof *next);
    next->v = calloc(loaded.n + rl->flows->n + 1, sizeof *next->v);
    for (size_t i = 0; i < loaded.n; i++)
        next->v[next->n++] = loaded.v[i];
    free(loaded.v);
    for (size_t i = 0; i < rl->flows->n; i++) {
        const sl_flow_t *old = &rl->flows->v[i];
        char prefix[1100];
        snprintf(prefix, sizeof prefix, "%s:", old->file);
        int broken = 0;
        for (size_t k = 0; k < json_array_size(errors) && !broken; k++)
            broken = !strncmp(json_string_value(json_array_get(errors, k)), prefix, strlen(prefix));
        if (!broken || sl__flows_find(next, old->name))
            continue;
        next->v[next->n] = *old; /* its last good version stays */
        json_incref(old->def);
        json_incref(old->pos);
        json_incref(old->events);
        next->n++;
    }
    for (size_t k = 0; k < json_array_size(errors); k++)
        sl__log("warn", "a flow file does not load; its last good version (if any) stays",
                json_pack("{s:O}", "problem", json_array_get(errors, k)));
    sl_engine_config_t cfg = *rl->cfg;
    cfg.flows = next;
    cfg.reloaded = 1;
    sl_engine_t *engine = NULL;
    char err[512];
    if (sl__engine_start(&cfg, &engine, err, sizeof err)) {
        sl__log("error", "the flows could not be reloaded; the running ones stay",
                json_pack("{s:s}", "error", err));
        sl__flows_free(next);
        free(next);
        json_decref(errors);
        return;
    }
    /* New events go to the new flows; the API shows them; then the old engine stops, after the
     * runs it is executing (claimed runs it had not begun go back to the queue). */
    sl__inbox_set_router(sl__server_inbox(rl->server), sl__engine_route, engine);
    sl__api_swap(rl->api, engine, next, errors);
    sl__engine_stop(rl->engine);
    sl__flows_free(rl->flows);
    if (rl->heap)
        free(rl->flows);
    rl->engine = engine;
    rl->flows = next;
    rl->heap = 1;
    *rl->cfg = cfg;
    sl__log("notice", "flows reloaded",
            json_pack("{s:s,s:I,s:I}", "why", why, "flows_loaded", (json_int_t)next->n,
                      "files_not_loading", (json_int_t)json_array_size(errors)));
}

int sl__cmd_serve(int argc, char **argv)
{
    enum {
        O_LISTEN = 256,
        O_DATA,
        O_STORE,
        O_LEASE,
        O_LOGFMT,
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
        O_SYNC,
        O_SYNC_STORE,
        O_SYNC_SCHEMA,
        O_ADMIN_LISTEN,
    };
    static const struct option options[] = {
        {"listen", required_argument, NULL, O_LISTEN},
        {"data", required_argument, NULL, O_DATA},
        {"store", required_argument, NULL, O_STORE},
        {"lease", required_argument, NULL, O_LEASE},
        {"log-format", required_argument, NULL, O_LOGFMT},
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
        {"sync", no_argument, NULL, O_SYNC},
        {"sync-store", required_argument, NULL, O_SYNC_STORE},
        {"sync-schema", required_argument, NULL, O_SYNC_SCHEMA},
        {"admin-listen", required_argument, NULL, O_ADMIN_LISTEN},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *listen = "127.0.0.1:8080", *data = NULL, *store = NULL, *public_url = NULL;
    char events_buf[4096] = "*";
    int events_given = 0;
    long catch_up = 0, max_body = 1 << 20, tolerance = 300, workers = 2, lease_s = 30;
    const char *log_format = "auto";
    long per_ip = SL_SERVE_MAX_CONNS_PER_IP, header_timeout = SL_SERVE_HEADER_TIMEOUT,
         request_timeout = SL_SERVE_REQUEST_TIMEOUT;
    const char *flows_opt = NULL, *sync_store = NULL, *sync_schema = NULL;
    const char *admin_listen = "127.0.0.1:8081";
    int admin_given = 0;
    int c, sync = 0;
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
            events_given = 1;
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
        case O_LOGFMT:
            if (strcmp(optarg, "json") && strcmp(optarg, "text") && strcmp(optarg, "auto"))
                return sl__cli_usage_error(CMD, "--log-format is text, json or auto, not `%s`",
                                           optarg);
            log_format = optarg;
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
        case O_SYNC:
            sync = 1;
            break;
        case O_SYNC_STORE:
            sync_store = optarg;
            break;
        case O_SYNC_SCHEMA:
            sync_schema = optarg;
            break;
        case O_ADMIN_LISTEN:
            admin_listen = strcmp(optarg, "off") ? optarg : NULL;
            admin_given = 1;
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

    /* Readable lines on a terminal, JSON lines for a log collector. */
    sl__log_text(!strcmp(log_format, "text") || (!strcmp(log_format, "auto") && isatty(2)));
    sigset_t stop;
    sl__cli_block_stop_signals(&stop); /* before any thread starts */
    sigaddset(&stop, SIGHUP);          /* reloads the flow files */
    pthread_sigmask(SIG_BLOCK, &stop, NULL);

    sl_cli_env_t env;
    /* PostgreSQL: a connection for each worker, and for the inbox's committer, the keeper, the
     * REST API and catch-up. */
    int ret = sl__cli_env_open_pool(&env, CMD, data, store, 1, (int)workers + 4);
    if (ret)
        return ret;
    char err[1024];
    if (sl_store_check(env.store, err, sizeof err)) {
        fprintf(stderr, "sluice serve: %s\n", err);
        sl__cli_env_close(&env);
        return CLI_EFAIL;
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
    sl_engine_config_t ecfg = {
        env.store, &env.crypt, &flows, (int)workers, 1, 0, 1, (long long)lease_s * 1000, 0};
    if (sl__engine_start(&ecfg, &engine, err, sizeof err)) {
        fprintf(stderr, "sluice serve: %s\n", err);
        sl__flows_free(&flows);
        sl__cli_env_close(&env);
        return CLI_EFAIL;
    }
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
            /* Exactly the event types the enabled flows need, unless --events says. */
            const char **want = events;
            size_t nwant = nevents;
            const char *need[1024];
            if (!events_given) {
                nwant = 0;
                for (size_t t = 0; t < sl_event_type_count() && nwant < 1024; t++) {
                    const char *type = sl_event_type_name(t);
                    char flow[1][SL_FLOW_NAME_MAX];
                    if (sl__engine_route(engine, type, names[i], flow, 1))
                        need[nwant++] = type;
                }
                if (nwant)
                    want = need;
                else
                    nwant = nevents; /* no flow wants its events: the inbox takes them all */
            }
            sl_err rc = sl__endpoint_register(env.store, &env.crypt, names[i], public_url, want,
                                              nwant, NULL, msg, sizeof msg);
            sl__log(rc ? "error" : "info", rc ? "webhook endpoint not registered" : msg,
                    json_pack("{s:s,s:s}", "connection", names[i], "detail", msg));
        }
        if (held) /* done: free for the next instance that starts */
            sl_store_lease_take(env.store, "endpoints", owner, -1, &held, err, sizeof err);
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
        fprintf(stderr,
                "sluice serve: the admin token (the dashboard's sign-in, the REST API's bearer) "
                "is %s (kept in %s/admin.token)\n",
                token, env.data);
    sl_cli_sync_t *syncer = NULL;
    if (sync && (ret = sl__cli_sync_start(&env, sync_store, sync_schema, &syncer))) {
        sl__engine_stop(engine);
        sl__flows_free(&flows);
        sl__cli_env_close(&env);
        return ret;
    }
    sl_api_t api;
    sl__api_init(&api, env.store, engine, &flows);
    sl_serve_config_t cfg = {.listen = listen,
                             .max_body = (size_t)max_body,
                             .tolerance = tolerance,
                             .max_batch = 1024,
                             .store = env.store,
                             .crypt = &env.crypt,
                             .api = &api,
                             .admin_token = token,
                             .admin_listen = admin_listen,
                             .admin_optional = !admin_given,
                             .max_conns_per_ip = (unsigned)per_ip,
                             .header_timeout = (unsigned)header_timeout,
                             .request_timeout = (unsigned)request_timeout};
    sl_server_t *server = NULL;
    sl_err src = sl__server_start(&cfg, &server, err, sizeof err);
    if (src) {
        fprintf(stderr, "sluice serve: %s\n", err);
        sl__engine_stop(engine);
        sl__flows_free(&flows);
        sl__cli_sync_stop(syncer);
        sl__cli_env_close(&env);
        return src == SL_EINVAL ? CLI_EUSAGE : CLI_EFAIL;
    }
    char host[256];
    const char *colon = strrchr(listen, ':');
    snprintf(host, sizeof host, "%.*s", (int)(colon - listen), listen);
    char url[300];
    snprintf(url, sizeof url, "http://%s:%d", host, sl__server_port(server));
    char dashboard[300] = "";
    if (sl__server_admin_port(server)) {
        const char *acolon = strrchr(admin_listen, ':');
        snprintf(dashboard, sizeof dashboard, "http://%.*s:%d", (int)(acolon - admin_listen),
                 admin_listen, sl__server_admin_port(server));
    }
    sl__log("notice", "listening",
            json_pack("{s:s,s:s,s:s,s:I,s:s,s:I,s:s?}", "url", url, "hooks",
                      "POST /hooks/CONNECTION", "data", env.data, "max_body", (json_int_t)max_body,
                      "flows", flows_dir, "flows_loaded", (json_int_t)flows.n, "dashboard",
                      dashboard[0] ? dashboard : NULL));
    sl__inbox_set_router(sl__server_inbox(server), sl__engine_route, engine);
    if (syncer)
        sl__inbox_set_committed(sl__server_inbox(server), sl__cli_sync_committed, syncer);
    sl_catchup_t *catchup = NULL;
    if (catch_up &&
        sl__catchup_start(env.store, &env.crypt, sl__server_inbox(server), catch_up, &catchup))
        sl__log("error", "catch-up did not start", NULL);

    /* Until SIGTERM or SIGINT: the flow files are reloaded on SIGHUP and when they change. */
    reload_t rl = {&env, &ecfg, engine, &flows, 0, &api, server, flows_dir, ""};
    dir_fingerprint(flows_dir, rl.fingerprint, sizeof rl.fingerprint);
    int sig;
    for (;;) {
        struct timespec tick = {1, 0};
        sig = sigtimedwait(&stop, NULL, &tick);
        if (sig == SIGHUP) {
            reload(&rl, "SIGHUP");
            continue;
        }
        if (sig == SIGTERM || sig == SIGINT)
            break;
        char now[sizeof rl.fingerprint];
        dir_fingerprint(flows_dir, now, sizeof now);
        if (strcmp(now, rl.fingerprint))
            reload(&rl, "a flow file changed");
    }
    sl__log("info", "stopping: finishing requests in flight", json_pack("{s:i}", "signal", sig));
    sl__catchup_stop(catchup);
    sl__server_stop(server);
    sl__cli_sync_stop(syncer); /* after the inbox: what it committed is applied */
    sl__engine_stop(rl.engine);
    sl__flows_free(rl.flows);
    if (rl.heap)
        free(rl.flows);
    sl__api_cleanup(&api);
    sl__cli_env_close(&env);
    sl__log("notice", "stopped", NULL);
    return CLI_OK;
}
