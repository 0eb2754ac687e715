/* sluice emulate: a local, stateful Stripe for offline development and tests. */
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>

#include "cli/cli.h"
#include "core/log.h"
#include "emulator/emulator.h"

#define CMD "emulate"

void sl__cmd_emulate_help(FILE *out)
{
    fprintf(out,
            "Usage: sluice emulate [--listen HOST:PORT] [--retry-ms MS]\n"
            "\n"
            "A local Stripe API that keeps state and sends webhooks, for development and tests\n"
            "without a network. It speaks Stripe's protocol (form bodies, any sk_test_ key as\n"
            "Bearer, Stripe's error bodies, Request-Id) and checks every request against the\n"
            "API description: unknown, missing or mistyped parameters get Stripe's 400 with the\n"
            "parameter named.\n"
            "\n"
            "It keeps customers, products, prices and coupons (create, retrieve, update, delete,\n"
            "list with pagination and filters, search with Stripe's query language), payment\n"
            "methods and payment intents (pm_card_visa pays, pm_card_chargeDeclined declines;\n"
            "confirm, cancel, manual capture) with their charges, invoices and invoice items\n"
            "(draft, finalize, pay, void, mark uncollectible, send; edits only while draft),\n"
            "subscriptions (their first invoice made and paid; a decline leaves them\n"
            "incomplete; trials; cancel),\n"
            "webhook endpoints (create returns the whsec_ secret), events (list, retrieve) and\n"
            "the account.\n"
            "Every change records the event Stripe would send (customer.created, ...)\n"
            "and delivers it, signed, to each enabled endpoint that wants it, retrying with\n"
            "backoff while the receiver fails. Idempotency-Key replays the first answer.\n"
            "Operations it does not keep yet answer 501, never a fake success.\n"
            "\n"
            "  --listen HOST:PORT  default 127.0.0.1:12111\n"
            "  --retry-ms MS       first redelivery wait, doubling each time (default 1000)\n"
            "\n"
            "Example:\n"
            "  sluice emulate &\n"
            "  sluice call customers.create email=jenny@example.com \\\n"
            "      --api-key sk_test_123 --base-url http://127.0.0.1:12111\n");
}

int sl__cmd_emulate(int argc, char **argv)
{
    enum { O_LISTEN = 256, O_RETRY };
    static const struct option options[] = {
        {"listen", required_argument, NULL, O_LISTEN},
        {"retry-ms", required_argument, NULL, O_RETRY},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    sl_emulator_config_t cfg = {"127.0.0.1:12111", 1000, 6};
    long v;
    int c;
    opterr = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, ":h", options, NULL)) != -1) {
        switch (c) {
        case O_LISTEN:
            cfg.listen = optarg;
            break;
        case O_RETRY:
            if (sl__cli_parse_long(optarg, 1, 3600000, &v))
                return sl__cli_usage_error(CMD, "--retry-ms takes milliseconds (1 to 3600000)");
            cfg.retry_base_ms = v;
            break;
        case 'h':
            sl__cmd_emulate_help(stdout);
            return CLI_OK;
        default:
            return sl__cli_option_error(CMD, c, argv);
        }
    }
    if (optind < argc)
        return sl__cli_usage_error(CMD, "unexpected argument `%s`", argv[optind]);
    sigset_t stop;
    sl__cli_block_stop_signals(&stop); /* before any thread starts */
    sl_emulator_t *e = NULL;
    char err[512];
    if (sl__emulator_start(&cfg, &e, err, sizeof err)) {
        fprintf(stderr, "sluice emulate: %s\n", err);
        return CLI_EFAIL;
    }
    char host[256];
    const char *colon = strrchr(cfg.listen, ':');
    snprintf(host, sizeof host, "%.*s", (int)(colon - cfg.listen), cfg.listen);
    char url[300];
    snprintf(url, sizeof url, "http://%s:%d", host, sl__emulator_port(e));
    sl__log("notice", "emulating the Stripe API", json_pack("{s:s}", "url", url));
    sl__cli_wait_stop(&stop);
    sl__emulator_stop(e);
    sl__log("notice", "stopped", NULL);
    return CLI_OK;
}
