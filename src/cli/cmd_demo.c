/* sluice demo: the whole system offline, on the emulator. */
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>

#include "cli/cli.h"
#include "cli/flows_view.h"
#include "ingest/inbox.h"
#include "core/embedded.h"
#include "flow/engine.h"
#include "conn/endpoints.h"
#include "core/log.h"
#include "emulator/emulator.h"
#include "http/api.h"
#include "http/server.h"
#include "sluice/catalog.h"
#include "trigger/fixture.h"

#define CMD "demo"

void sl__cmd_demo_help(FILE *out)
{
    fprintf(out,
            "Usage: sluice demo [--data DIR] [--store URI] [--exit]\n"
            "\n"
            "Runs sluice end to end with no network and no Stripe account:\n"
            "  1. starts the emulator (a local, stateful Stripe) and `sluice serve` on loopback,\n"
            "     keeping the inbox in SQLite in a scratch data directory (or --data DIR);\n"
            "  2. adds a connection with a test key, checked against the emulator;\n"
            "  3. registers the connection's webhook endpoint through the API;\n"
            "  4. loads three of the seeds' example flows (examples/flows/): customers synced\n"
            "     to contacts, new invoices finalized, new payment intents tagged;\n"
            "  5. runs the trigger fixtures of some of the seeds' events (customer updated,\n"
            "     invoice created, payment intent created, checkout session completed);\n"
            "  6. prints the inbox, as the events arrived as signed webhooks;\n"
            "  7. prints the runs those events started, and one of them step by step;\n"
            "  8. prints the dashboard's address (127.0.0.1:8081, or any free port when that\n"
            "     is taken) and a link that signs you in;\n"
            "  then keeps both servers running until Ctrl-C, with commands to try.\n"
            "\n"
            "  --data DIR   keep the data here (default: a scratch directory, removed at exit)\n"
            "  --store URI  keep the inbox and the runs in this store instead, e.g.\n"
            "               postgres://USER@HOST/DB (default: $SLUICE_STORE, else SQLite in DIR)\n"
            "  --exit       stop after printing the inbox instead of waiting for Ctrl-C\n");
}

static int inbox_count(sl_store_t *store, long long *n)
{
    char err[256];
    return sl_store_events_count(store, n, err, sizeof err) ? -1 : 0;
}

static void on_step(void *ctx, const char *name, const char *method, const char *path, sl_err rc,
                    const sl_response_t *resp)
{
    (void)ctx;
    (void)rc;
    const char *id = resp->json ? json_string_value(json_object_get(resp->json, "id")) : NULL;
    printf("     %-26s %-5s %-44s %ld %s\n", name, method, path, resp->status, id ? id : "");
}

/* Runs the shipped fixture of an event type against the emulator. */
static int demo_trigger(sl_client_t *c, const char *type)
{
    char err[1024];
    json_t *doc = json_loads(sl__fixture_shipped(type), 0, NULL);
    printf("   sluice trigger %s\n", type);
    sl_err rc = sl__fixture_run(c, doc, on_step, NULL, err, sizeof err);
    json_decref(doc);
    if (rc)
        fprintf(stderr, "sluice demo: trigger %s: %s\n", type, err);
    return rc ? -1 : 0;
}

/* How many events of these types the emulator has recorded. */
static long long emitted(sl_client_t *c, const char *const *types, size_t n)
{
    sl_request_t req = {"GET", "/v1/events?limit=100", NULL, NULL, NULL, NULL, 0};
    sl_response_t resp;
    long long count = 0;
    if (sl_client_request(c, &req, &resp) == SL_OK) {
        const json_t *data = json_object_get(resp.json, "data");
        for (size_t i = 0; i < json_array_size(data); i++) {
            const char *t = json_string_value(json_object_get(json_array_get(data, i), "type"));
            for (size_t k = 0; t && k < n; k++)
                count += strcmp(t, types[k]) == 0;
        }
    }
    sl_response_cleanup(&resp);
    return count;
}

static int print_event(const sl_event_row_t *r, void *ctx)
{
    (void)ctx;
    printf("  %-34s %-28s %s\n", r->id, r->type, r->source);
    return 0;
}

int sl__cmd_demo(int argc, char **argv)
{
    enum { O_DATA = 256, O_EXIT, O_STORE };
    static const struct option options[] = {
        {"data", required_argument, NULL, O_DATA},
        {"store", required_argument, NULL, O_STORE},
        {"exit", no_argument, NULL, O_EXIT},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *data = NULL, *store = getenv("SLUICE_STORE");
    int exit_after = 0, c;
    opterr = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, ":h", options, NULL)) != -1) {
        switch (c) {
        case O_DATA:
            data = optarg;
            break;
        case O_EXIT:
            exit_after = 1;
            break;
        case O_STORE:
            store = optarg;
            break;
        case 'h':
            sl__cmd_demo_help(stdout);
            return CLI_OK;
        default:
            return sl__cli_option_error(CMD, c, argv);
        }
    }
    sigset_t stop;
    sl__cli_block_stop_signals(&stop); /* before any thread starts */
    sl__log_quiet(1);

    char scratch[] = "/tmp/sluice-demo-XXXXXX";
    if (!data) {
        if (!mkdtemp(scratch)) {
            fprintf(stderr, "sluice demo: cannot make a scratch directory\n");
            return CLI_EFAIL;
        }
        data = scratch;
    }
    int ret = CLI_EFAIL;
    sl_cli_env_t env;
    memset(&env, 0, sizeof env);
    sl_emulator_t *emu = NULL;
    sl_server_t *server = NULL;
    sl_client_t *client = NULL;
    sl_engine_t *engine = NULL;
    sl_cli_sync_t *syncer = NULL;
    sl_flows_t flows;
    memset(&flows, 0, sizeof flows);
    char err[1024], emu_url[64], hook_url[64], token[128];
    sl_api_t api;
    int api_ready = 0;

    sl_emulator_config_t ecfg = {"127.0.0.1:0", 200, 6, NULL, 0, 0};
    if (sl__emulator_start(&ecfg, &emu, err, sizeof err)) {
        fprintf(stderr, "sluice demo: emulator: %s\n", err);
        goto out;
    }
    snprintf(emu_url, sizeof emu_url, "http://127.0.0.1:%d", sl__emulator_port(emu));
    if (store && !*store)
        store = NULL;
    if ((ret = sl__cli_env_open(&env, CMD, data, store, 1)) != CLI_OK)
        goto out;
    ret = CLI_EFAIL;
    int made = 0;
    if (sl__api_token(env.data, token, sizeof token, &made, err, sizeof err)) {
        fprintf(stderr, "sluice demo: %s\n", err);
        goto out;
    }
    /* The dashboard answers 503 until the engine below is in place. */
    sl__api_init(&api, env.store, NULL, NULL);
    api_ready = 1;
    sl_serve_config_t scfg = {.listen = "127.0.0.1:0",
                              .max_body = 1 << 20,
                              .tolerance = 300,
                              .max_batch = 1024,
                              .store = env.store,
                              .crypt = &env.crypt,
                              .api = &api,
                              .admin_token = token,
                              .admin_listen = "127.0.0.1:8081"};
    if (sl__server_start(&scfg, &server, err, sizeof err)) {
        scfg.admin_listen = "127.0.0.1:0"; /* the usual port is taken: any will do */
        if (sl__server_start(&scfg, &server, err, sizeof err)) {
            fprintf(stderr, "sluice demo: serve: %s\n", err);
            goto out;
        }
    }
    snprintf(hook_url, sizeof hook_url, "http://127.0.0.1:%d", sl__server_port(server));
    printf("1. The emulator (a local Stripe) is at %s\n", emu_url);
    /* Where the commands below look: the data directory, or the store named (never printed:
     * its URI may hold a password). */
    char where[4200];
    if (store)
        snprintf(where, sizeof where, "--data %s --store \"$SLUICE_STORE\"", data);
    else
        snprintf(where, sizeof where, "--data %s", data);
    if (store)
        printf("   sluice serve is at %s, keeping the inbox in the %s store you named\n", hook_url,
               sl_store_kind(env.store));
    else
        printf("   sluice serve is at %s, keeping the inbox in %s/sluice.db\n", hook_url, data);

    sl_conn_spec_t spec = {
        "shop", "sk_test_sluice_demo_0000000000000000000000", NULL, emu_url, NULL, NULL};
    sl_conn_row_t row;
    /* A store kept from an earlier demo has its `shop`, made for an emulator that is gone:
     * replaced. A `shop` for anything else (a real account) is left alone. */
    if (sl_store_conn_get(env.store, "shop", &row, err, sizeof err) == SL_OK) {
        int earlier = !strcmp(row.account_id, "acct_sluiceemulator") &&
                      !strncmp(row.base_url, "http://127.0.0.1:", 17);
        sl_conn_row_cleanup(&row);
        if (earlier)
            sl_store_conn_delete(env.store, "shop", err, sizeof err);
    }
    if (sl__conn_add(env.store, &env.crypt, &spec, NULL, &row, err, sizeof err)) {
        fprintf(stderr, "sluice demo: connect add: %s\n", err);
        goto out;
    }
    printf("2. Connection `shop`: %s mode, account %s, key checked against the emulator\n",
           row.mode, row.account_id);
    sl_conn_row_cleanup(&row);

    static const char *const events[] = {"customer.created", "customer.updated", "invoice.created",
                                         "payment_intent.created", "checkout.session.completed"};
    const size_t nevents = sizeof events / sizeof *events;
    if (sl__endpoint_register(env.store, &env.crypt, "shop", hook_url, events, nevents, NULL, err,
                              sizeof err)) {
        fprintf(stderr, "sluice demo: %s\n", err);
        goto out;
    }
    printf("3. Webhook endpoint: %s\n", err);

    if (sl_store_conn_get(env.store, "shop", &row, err, sizeof err) ||
        sl__conn_client(&row, &env.crypt, NULL, &client, err, sizeof err)) {
        sl_conn_row_cleanup(&row);
        fprintf(stderr, "sluice demo: %s\n", err);
        goto out;
    }
    sl_conn_row_cleanup(&row);
    long long before = 0;
    inbox_count(env.store, &before);
    /* Example flows that need nothing outside the demo (no SMTP server, no CRM). */
    static const char *const demo_flows[] = {"loops-sync-customers-to-contacts",
                                             "konnectify-invoice-created-finalize",
                                             "konnectify-payment-intent-created-update"};
    char flows_dir[4200];
    snprintf(flows_dir, sizeof flows_dir, "%s/flows", env.data);
    mkdir(flows_dir, 0700);
    for (size_t i = 0; i < sizeof demo_flows / sizeof *demo_flows; i++) {
        char path[4400];
        snprintf(path, sizeof path, "%s/%s.yaml", flows_dir, demo_flows[i]);
        FILE *f = fopen(path, "w");
        const char *text =
            sl__embedded_find(sl__example_flows, sl__example_flows_count, demo_flows[i]);
        if (f && text)
            fputs(text, f);
        if (f)
            fclose(f);
    }
    if (sl__cli_flows_load(CMD, flows_dir, &flows) != CLI_OK)
        goto out;
    sl_engine_config_t ecfg2 = {env.store, &env.crypt, &flows, 2, 0, 200, 0, 0, 0};
    if (sl__engine_start(&ecfg2, &engine, err, sizeof err)) {
        fprintf(stderr, "sluice demo: %s\n", err);
        goto out;
    }
    sl__inbox_set_router(sl__server_inbox(server), sl__engine_route, engine);
    /* The events also become rows of Stripe's objects (sluice serve --sync). */
    if (sl__cli_sync_start(&env, NULL, NULL, &syncer) == CLI_OK)
        sl__inbox_set_committed(sl__server_inbox(server), sl__cli_sync_committed, syncer);
    sl__api_swap(&api, engine, &flows, NULL);
    printf("4. Flows from examples/flows/, run by sluice serve on the events they want:\n");
    for (size_t i = 0; i < flows.n; i++)
        printf("   %-42s on %s\n", flows.v[i].name,
               json_string_value(json_array_get(flows.v[i].events, 0)));
    printf("5. The calls behind some of the seeds' events, from sluice's trigger fixtures:\n");
    if (demo_trigger(client, "customer.updated") || demo_trigger(client, "invoice.created") ||
        demo_trigger(client, "payment_intent.created") ||
        demo_trigger(client, "checkout.session.completed"))
        goto out;
    long long want = emitted(client, events, nevents);

    long long now = before;
    for (int i = 0; i < 100 && now < before + want; i++) {
        usleep(50000);
        inbox_count(env.store, &now);
    }
    printf("6. The inbox (%lld event%s arrived as signed webhooks):\n", now - before,
           now - before == 1 ? "" : "s");
    sl_event_filter_t f = {.limit = 20};
    sl_store_events_list(env.store, &f, print_event, NULL, err, sizeof err);
    if (now < before + want) {
        fprintf(stderr, "sluice demo: only %lld of %lld webhooks arrived\n", now - before, want);
        goto out;
    }
    /* The runs those events started, once the workers are done with them. */
    json_t *runs = NULL;
    for (int i = 0; i < 100; i++) {
        json_decref(runs);
        runs = NULL;
        sl_run_filter_t rf = {.limit = 100};
        sl_store_runs_list(env.store, &rf, &runs, err, sizeof err);
        size_t busy = 0;
        for (size_t k = 0; k < json_array_size(runs); k++) {
            const char *st = json_string_value(json_object_get(json_array_get(runs, k), "status"));
            busy += st && (!strcmp(st, "queued") || !strcmp(st, "running"));
        }
        if (!busy && json_array_size(runs))
            break;
        usleep(50000);
    }
    printf("7. The runs of the flows (newest first):\n");
    const char *shown = NULL;
    int failed_runs = 0;
    for (size_t k = 0; k < json_array_size(runs); k++) {
        const json_t *r = json_array_get(runs, k);
        json_t *steps = NULL;
        const char *rid = json_string_value(json_object_get(r, "id"));
        sl_store_steps_get(env.store, rid, &steps, err, sizeof err);
        const char *st = json_string_value(json_object_get(r, "status"));
        failed_runs += !strcmp(st ? st : "", "failed");
        printf("   %s  %-42s %-9s %zu step%s\n", rid, json_string_value(json_object_get(r, "flow")),
               st, json_array_size(steps), json_array_size(steps) == 1 ? "" : "s");
        if (!strcmp(json_string_value(json_object_get(r, "flow")) ?: "",
                    "konnectify-invoice-created-finalize"))
            shown = rid;
        json_decref(steps);
    }
    if (shown) {
        printf("\n   One of them step by step (sluice runs show %s %s):\n\n", shown, where);
        json_t *run = NULL, *steps = NULL;
        sl_store_run_get(env.store, shown, &run, err, sizeof err);
        sl_store_steps_get(env.store, shown, &steps, err, sizeof err);
        json_t *ev = json_pack("{s:s}", "type", "invoice.created");
        sl__cli_run_print(run, steps, ev, 0);
        json_decref(ev);
        json_decref(run);
        json_decref(steps);
    }
    json_decref(runs);
    if (syncer) {
        printf("\n8. The same events as SQL tables (sluice serve --sync; sqlite3 %s/sync.db):\n\n",
               env.data);
        sl__cli_sync_show(syncer, 10000);
    }
    printf("\n9. The dashboard: http://127.0.0.1:%d (the inbox, the runs step by step, the "
           "flows)\n   Sign in with this link: http://127.0.0.1:%d/signin#token=%s\n",
           sl__server_admin_port(server), sl__server_admin_port(server), token);
    if (failed_runs || !shown) {
        fprintf(stderr, "sluice demo: %s\n",
                failed_runs ? "some runs failed" : "the example flows did not run");
        goto out;
    }
    ret = CLI_OK;
    if (!exit_after) {
        printf("\nBoth keep running until Ctrl-C. Try, in another terminal:\n"
               "  sluice call customers.list --api-key sk_test_x --base-url %s\n"
               "  sluice trigger invoice.payment_failed --api-key sk_test_x --base-url %s\n"
               "  sluice call customers.create email=you@example.com --api-key sk_test_x "
               "--base-url %s\n"
               "  sluice events list %s\n"
               "  sluice runs list %s\n"
               "  sluice flows list %s\n",
               emu_url, emu_url, emu_url, where, where, where);
        fflush(stdout);
        sl__cli_wait_stop(&stop);
    }
out:
    sl_client_free(client);
    sl__server_stop(server);
    sl__cli_sync_stop(syncer);
    if (api_ready)
        sl__api_cleanup(&api);
    sl__engine_stop(engine);
    sl__flows_free(&flows);
    sl__emulator_stop(emu);
    sl__cli_env_close(&env);
    if (data == scratch) {
        char cmd[128];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", scratch);
        if (system(cmd) != 0)
            fprintf(stderr, "sluice demo: could not remove %s\n", scratch);
    }
    return ret;
}
