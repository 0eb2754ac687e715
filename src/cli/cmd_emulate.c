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
            "Usage: sluice emulate [--listen HOST:PORT] [--data FILE] [--retry-ms MS] [--strict]\n"
            "                      [--max-events N]\n"
            "\n"
            "A local Stripe API that keeps state and sends webhooks, for development and tests\n"
            "without a network. It speaks Stripe's protocol (form bodies, any sk_test_ key as\n"
            "Bearer or as Basic auth's user name (curl -u sk_test_...:), Stripe's error bodies,\n"
            "Request-Id, Idempotency-Key echoed) and checks every request against the\n"
            "API description: unknown, missing or mistyped parameters get Stripe's 400 with the\n"
            "parameter named.\n"
            "\n"
            "It keeps, with Stripe's rules:\n"
            "  customers, products, prices, coupons: create, retrieve, update, delete, list\n"
            "    with pagination and filters, search with Stripe's query language;\n"
            "  payment methods and payment intents (confirm, cancel, manual capture) with\n"
            "    their charges, and Stripe's test cards by token (pm_card_visa, tok_visa) or\n"
            "    number: pm_card_chargeDeclined declines, pm_card_threeDSecure2Required needs\n"
            "    action, pm_card_createDispute is disputed; customer sources (tok_visa);\n"
            "  invoices and invoice items (draft, finalize, pay, void, mark uncollectible,\n"
            "    send; edits only while draft);\n"
            "  subscriptions (first invoice made and paid, a decline leaves them incomplete;\n"
            "    trials; item changes; cancel);\n"
            "  checkout sessions and payment links, with hosted test pages;\n"
            "  refunds, disputes, setup intents, credit notes, coupons applied as discounts,\n"
            "    promotion codes, tax rates, plans, subscription schedules, test clocks\n"
            "    (advancing renews subscriptions, moves schedules to their end), payouts,\n"
            "    top-ups, transfers, billing portal configurations and sessions, issuing\n"
            "    cardholders, cards, authorizations and transactions (Stripe's test\n"
            "    helpers), quotes, identity verification sessions, connected accounts,\n"
            "    report runs, the balance (pm_card_bypassPending is available at once),\n"
            "    customers' cash balances (fund_cash_balance);\n"
            "  SEPA debits with Stripe's test IBANs settle (succeed or fail) after\n"
            "    processing;\n"
            "  webhook endpoints (create returns the whsec_ secret), events, the account.\n"
            "expand[] works on references (customer, latest_invoice.payment_intent,\n"
            "data.customer in lists, line_items). Every change records the event Stripe would\n"
            "send and delivers it, signed, to each enabled endpoint that wants it, retrying\n"
            "with backoff while the receiver fails. Idempotency-Key replays the first answer.\n"
            "Operations it does not keep are answered as Stripe's stateless mock does: the\n"
            "request checked, Stripe's example object with the request's parameters applied\n"
            "and a fresh id, nothing kept, marked with the header Sluice-Stateless: true.\n"
            "Replies are compact JSON, indented for curl, as Stripe's own mock answers.\n"
            "\n"
            "Test routes (no API key; they stand for a customer or the passing of time):\n"
            "  GET  /_sluice/checkout/{cs}             a session's payment page\n"
            "  POST /_sluice/checkout/{cs}/complete    pay it: payment_method=pm_card_visa,\n"
            "                                          email=..., name=...\n"
            "  GET  /_sluice/pay/{plink}               a payment link's page\n"
            "  POST /_sluice/pay/{plink}/complete      buy through the link\n"
            "  POST /_sluice/subscriptions/{sub}/renew start the next period: invoice.upcoming,\n"
            "                                          then the renewal invoice, billed\n"
            "  POST /_sluice/payouts/{po}/paid         a payout arrives (or /failed)\n"
            "  POST /_sluice/topups/{tu}/succeeded     a top-up's funds come (or /failed)\n"
            "  GET  /_sluice/requests                  the API requests so far, by operation\n"
            "\n"
            "  --listen HOST:PORT  default 127.0.0.1:12111\n"
            "  --data FILE         keep the state in this SQLite file across restarts\n"
            "                      (default: in memory, gone at exit)\n"
            "  --retry-ms MS       first redelivery wait, doubling each time (default 1000)\n"
            "  --strict            operations it does not keep answer 501 (with\n"
            "                      Stripe-Should-Retry: false), not statelessly\n"
            "  --max-events N      events kept for events.list and retrieve, the oldest\n"
            "                      dropped (default 1000000; --data keeps them all)\n"
            "\n"
            "Example:\n"
            "  sluice emulate --data stripe-emulator.db &\n"
            "  sluice call customers.create email=jenny@example.com \\\n"
            "      --api-key sk_test_123 --base-url http://127.0.0.1:12111\n");
}

int sl__cmd_emulate(int argc, char **argv)
{
    enum { O_LISTEN = 256, O_RETRY, O_DATA, O_STRICT, O_MAX_EVENTS };
    static const struct option options[] = {
        {"listen", required_argument, NULL, O_LISTEN},
        {"data", required_argument, NULL, O_DATA},
        {"retry-ms", required_argument, NULL, O_RETRY},
        {"strict", no_argument, NULL, O_STRICT},
        {"max-events", required_argument, NULL, O_MAX_EVENTS},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    sl_emulator_config_t cfg = {"127.0.0.1:12111", 1000, 6, NULL, 0, 0};
    long v;
    int c;
    opterr = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, ":h", options, NULL)) != -1) {
        switch (c) {
        case O_LISTEN:
            cfg.listen = optarg;
            break;
        case O_DATA:
            cfg.data = optarg;
            break;
        case O_STRICT:
            cfg.strict = 1;
            break;
        case O_MAX_EVENTS:
            if (sl__cli_parse_long(optarg, 1, 1000000000, &v))
                return sl__cli_usage_error(CMD, "--max-events takes a count (1 to 1000000000)");
            cfg.max_events = v;
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
    sl__log("notice", "emulating the Stripe API",
            json_pack("{s:s,s:s}", "url", url, "state", cfg.data ? cfg.data : "in memory"));
    sl__cli_wait_stop(&stop);
    sl__emulator_stop(e);
    sl__log("notice", "stopped", NULL);
    return CLI_OK;
}
