/* sluice trigger: produce test events. */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>

#include "cli/cli.h"
#include "emulator/fixtures.h"
#include "sluice/catalog.h"
#include "sluice/webhook.h"

#define CMD "trigger"

void sl__cmd_trigger_help(FILE *out)
{
    fprintf(
        out,
        "Usage: sluice trigger EVENT_TYPE --to URL --secret whsec_... [--print]\n"
        "\n"
        "Posts a sample EVENT_TYPE event, signed with the webhook secret exactly as Stripe\n"
        "signs, straight to a receiver such as `sluice serve`'s /hooks/NAME. Its\n"
        "data.object is Stripe's example object for that type. Prints the receiver's\n"
        "answer; exits 0 on 2xx, 1 otherwise, 3 when nothing answered.\n"
        "\n"
        "  --to URL         where to POST it\n"
        "  --secret whsec_  the endpoint's signing secret (default: $SLUICE_WEBHOOK_SECRET)\n"
        "  --print          also print the event sent\n"
        "\n"
        "Making the API calls that cause an event (Stripe CLI fixtures) comes next.\n"
        "\n"
        "Example:\n"
        "  sluice trigger invoice.paid --to http://127.0.0.1:8080/hooks/shop --secret whsec_...\n");
}

static size_t collect(char *p, size_t size, size_t n, void *ctx)
{
    sl_buf_t *b = ctx;
    sl__buf_append(b, p, size * n);
    return size * n;
}

int sl__cmd_trigger(int argc, char **argv)
{
    enum { O_TO = 256, O_SECRET, O_PRINT };
    static const struct option options[] = {
        {"to", required_argument, NULL, O_TO},
        {"secret", required_argument, NULL, O_SECRET},
        {"print", no_argument, NULL, O_PRINT},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *to = NULL, *secret = getenv("SLUICE_WEBHOOK_SECRET");
    int print = 0, c;
    opterr = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, ":h", options, NULL)) != -1) {
        switch (c) {
        case O_TO:
            to = optarg;
            break;
        case O_SECRET:
            secret = optarg;
            break;
        case O_PRINT:
            print = 1;
            break;
        case 'h':
            sl__cmd_trigger_help(stdout);
            return CLI_OK;
        default:
            return sl__cli_option_error(CMD, c, argv);
        }
    }
    if (optind + 1 != argc)
        return sl__cli_usage_error(CMD, "needs one EVENT_TYPE (see `sluice events types`)");
    const char *type = argv[optind];
    if (!to || !secret || !*secret)
        return sl__cli_usage_error(CMD, "needs --to URL and --secret whsec_... (making the API "
                                        "calls behind an event, from fixtures, comes next)");
    if (strncmp(secret, "whsec_", 6) != 0)
        return sl__cli_usage_error(CMD, "--secret takes the endpoint's whsec_ signing secret");
    json_t *ev = sl__sample_event(type);
    if (!ev)
        return sl__cli_usage_error(CMD,
                                   "`%s` is not a Stripe event type (see `sluice events "
                                   "types`)",
                                   type);
    char *body = json_dumps(ev, JSON_INDENT(2));
    json_decref(ev);
    char sig[160], header[200];
    sl_webhook_sign(secret, time(NULL), body, strlen(body), sig, sizeof sig);
    snprintf(header, sizeof header, "Stripe-Signature: %s", sig);
    if (print)
        printf("%s\n", body);

    int ret = CLI_OK;
    sl_buf_t answer;
    sl__buf_init(&answer, 1 << 20);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    CURL *h = curl_easy_init();
    struct curl_slist *hs = curl_slist_append(NULL, header);
    hs = curl_slist_append(hs, "Content-Type: application/json; charset=utf-8");
    char errbuf[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(h, CURLOPT_URL, to);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hs);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 30000L);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &answer);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
    CURLcode cc = curl_easy_perform(h);
    long status = 0;
    if (cc == CURLE_OK) {
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
        printf("%s: HTTP %ld %s\n", type, status, answer.data ? answer.data : "");
        ret = status >= 200 && status < 300 ? CLI_OK : CLI_EFAIL;
    } else {
        fprintf(stderr, "sluice trigger: no answer from %s: %s\n", to,
                errbuf[0] ? errbuf : curl_easy_strerror(cc));
        ret = cc == CURLE_URL_MALFORMAT || cc == CURLE_UNSUPPORTED_PROTOCOL ? CLI_EUSAGE
                                                                            : CLI_ENETWORK;
    }
    curl_slist_free_all(hs);
    curl_easy_cleanup(h);
    sl__buf_cleanup(&answer);
    free(body);
    return ret;
}
