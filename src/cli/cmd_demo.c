/* sluice demo: the whole system offline, on the emulator. */
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "conn/endpoints.h"
#include "core/log.h"
#include "emulator/emulator.h"
#include "http/server.h"
#include "sluice/catalog.h"

#define CMD "demo"

void sl__cmd_demo_help(FILE *out)
{
    fprintf(out,
            "Usage: sluice demo [--data DIR] [--exit]\n"
            "\n"
            "Runs sluice end to end with no network and no Stripe account:\n"
            "  1. starts the emulator (a local, stateful Stripe) and `sluice serve` on loopback,\n"
            "     keeping the inbox in SQLite in a scratch data directory (or --data DIR);\n"
            "  2. adds a connection with a test key, checked against the emulator;\n"
            "  3. registers the connection's webhook endpoint through the API;\n"
            "  4. makes the calls behind some of the seeds' events (customer created and\n"
            "     updated, product and price created) and waits for their webhooks;\n"
            "  5. prints the inbox, then keeps both running until Ctrl-C, with their URLs, so\n"
            "     you can try `sluice call`, `sluice events` and curl against them.\n"
            "\n"
            "  --data DIR   keep the data here (default: a scratch directory, removed at exit)\n"
            "  --exit       stop after printing the inbox instead of waiting for Ctrl-C\n");
}

static int inbox_count(sl_store_t *store, long long *n)
{
    char err[256];
    return store->ops->events_count(store, n, err, sizeof err) ? -1 : 0;
}

static sl_err demo_call(sl_client_t *c, const char *op, json_t *params, char *id, size_t idlen)
{
    sl_response_t resp;
    char err[512];
    sl_err rc = sl_action_call(c, op, params, 1, NULL, &resp, err, sizeof err);
    if (rc)
        fprintf(stderr, "sluice demo: %s: %s\n", op, err[0] ? err : resp.error.message);
    else if (id)
        snprintf(id, idlen, "%s", json_string_value(json_object_get(resp.json, "id")) ?: "");
    sl_response_cleanup(&resp);
    json_decref(params);
    return rc;
}

static int print_event(const sl_event_row_t *r, void *ctx)
{
    (void)ctx;
    printf("  %-34s %-22s %s\n", r->id, r->type, r->source);
    return 0;
}

int sl__cmd_demo(int argc, char **argv)
{
    enum { O_DATA = 256, O_EXIT };
    static const struct option options[] = {
        {"data", required_argument, NULL, O_DATA},
        {"exit", no_argument, NULL, O_EXIT},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *data = NULL;
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
    char err[1024], emu_url[64], hook_url[64];

    sl_emulator_config_t ecfg = {"127.0.0.1:0", 200, 6, NULL};
    if (sl__emulator_start(&ecfg, &emu, err, sizeof err)) {
        fprintf(stderr, "sluice demo: emulator: %s\n", err);
        goto out;
    }
    snprintf(emu_url, sizeof emu_url, "http://127.0.0.1:%d", sl__emulator_port(emu));
    if ((ret = sl__cli_env_open(&env, CMD, data, NULL, 1)) != CLI_OK)
        goto out;
    ret = CLI_EFAIL;
    sl_serve_config_t scfg = {"127.0.0.1:0", 1 << 20, 300, 1024, env.store, &env.crypt};
    if (sl__server_start(&scfg, &server, err, sizeof err)) {
        fprintf(stderr, "sluice demo: serve: %s\n", err);
        goto out;
    }
    snprintf(hook_url, sizeof hook_url, "http://127.0.0.1:%d", sl__server_port(server));
    printf("1. The emulator (a local Stripe) is at %s\n", emu_url);
    printf("   sluice serve is at %s, keeping the inbox in %s/sluice.db\n", hook_url, data);

    sl_conn_spec_t spec = {
        "demo", "sk_test_sluice_demo_0000000000000000000000", NULL, emu_url, NULL, NULL};
    sl_conn_row_t row;
    if (sl__conn_add(env.store, &env.crypt, &spec, NULL, &row, err, sizeof err)) {
        fprintf(stderr, "sluice demo: connect add: %s\n", err);
        goto out;
    }
    printf("2. Connection `demo`: %s mode, account %s, key checked against the emulator\n",
           row.mode, row.account_id);
    sl_conn_row_cleanup(&row);

    static const char *const events[] = {"customer.created", "customer.updated", "product.created",
                                         "price.created"};
    if (sl__endpoint_register(env.store, &env.crypt, "demo", hook_url, events, 4, NULL, err,
                              sizeof err)) {
        fprintf(stderr, "sluice demo: %s\n", err);
        goto out;
    }
    printf("3. Webhook endpoint: %s\n", err);

    if (env.store->ops->conn_get(env.store, "demo", &row, err, sizeof err) ||
        sl__conn_client(&row, &env.crypt, NULL, &client, err, sizeof err)) {
        sl_conn_row_cleanup(&row);
        fprintf(stderr, "sluice demo: %s\n", err);
        goto out;
    }
    sl_conn_row_cleanup(&row);
    long long before = 0;
    inbox_count(env.store, &before);
    char cus[64], prod[64];
    printf("4. Calls that cause the seeds' events:\n");
    if (demo_call(client, "customers.create",
                  json_pack("{s:s,s:s,s:{s:s}}", "email", "jenny@example.com", "name",
                            "Jenny Rosen", "metadata", "plan", "pro"),
                  cus, sizeof cus) ||
        demo_call(client, "update-customer",
                  json_pack("{s:s,s:s}", "id", cus, "description", "first customer"), NULL, 0) ||
        demo_call(client, "create-product", json_pack("{s:s}", "name", "Pro plan"), prod,
                  sizeof prod) ||
        demo_call(client, "create-price",
                  json_pack("{s:s,s:s,s:i,s:{s:s}}", "product", prod, "currency", "usd",
                            "unit_amount", 1500, "recurring", "interval", "month"),
                  NULL, 0))
        goto out;
    printf("   customers.create, update-customer, create-product, create-price\n");

    long long now = before;
    for (int i = 0; i < 100 && now < before + 4; i++) {
        usleep(50000);
        inbox_count(env.store, &now);
    }
    printf("5. The inbox (%lld event%s arrived as signed webhooks):\n", now - before,
           now - before == 1 ? "" : "s");
    sl_event_filter_t f = {NULL, NULL, 20};
    env.store->ops->events_list(env.store, &f, print_event, NULL, err, sizeof err);
    if (now < before + 4) {
        fprintf(stderr, "sluice demo: only %lld of 4 webhooks arrived\n", now - before);
        goto out;
    }
    ret = CLI_OK;
    if (!exit_after) {
        printf("\nBoth keep running until Ctrl-C. Try, in another terminal:\n"
               "  sluice call customers.list --api-key sk_test_x --base-url %s\n"
               "  sluice call customers.create email=you@example.com --api-key sk_test_x "
               "--base-url %s\n"
               "  sluice events list --data %s\n",
               emu_url, emu_url, data);
        fflush(stdout);
        sl__cli_wait_stop(&stop);
    }
out:
    sl_client_free(client);
    sl__server_stop(server);
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
