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
#include "trigger/fixture.h"

#define CMD "trigger"

void sl__cmd_trigger_help(FILE *out)
{
    fprintf(
        out,
        "Usage: sluice trigger EVENT_TYPE [--connection NAME | --api-key K --base-url URL]\n"
        "       sluice trigger [EVENT_TYPE] --fixture FILE [--connection NAME | ...]\n"
        "       sluice trigger EVENT_TYPE --to URL --secret whsec_... [--print]\n"
        "       sluice trigger --list [--json] | --show EVENT_TYPE\n"
        "\n"
        "The first form makes the API calls that cause EVENT_TYPE, as `stripe trigger`\n"
        "does, from the fixture sluice ships for it (--list shows which; --show prints\n"
        "one). Stripe then sends the event to your endpoints. --fixture runs any file in\n"
        "the Stripe CLI fixture format instead: {\"fixtures\": [{\"name\", \"path\",\n"
        "\"method\", \"params\"}, ...]}, where ${name:field.path} is a field of an\n"
        "earlier response and ${.env:VAR} an environment variable (both take |default).\n"
        "The invoice.upcoming and checkout.session.completed fixtures use test routes of\n"
        "`sluice emulate`; run them against the emulator.\n"
        "\n"
        "The --to form posts a sample EVENT_TYPE event, signed with the webhook secret\n"
        "exactly as Stripe signs, straight to a receiver such as `sluice serve`'s\n"
        "/hooks/NAME; its data.object is Stripe's example object for that type.\n"
        "\n"
        "  --connection NAME  run the calls with a stored connection (see sluice connect)\n"
        "  --api-key KEY      or with this key (default: $STRIPE_API_KEY)\n"
        "  --base-url URL     and this API (default: https://api.stripe.com), e.g. the\n"
        "                     emulator's http://127.0.0.1:12111\n"
        "  --data DIR         the data directory of --connection\n"
        "  --fixture FILE     run this fixture file\n"
        "  --to URL           post a signed sample event here instead\n"
        "  --secret whsec_    the endpoint's signing secret (default: $SLUICE_WEBHOOK_SECRET)\n"
        "  --print            also print the sample event sent\n"
        "  --list             list the event types with a shipped fixture\n"
        "  --show EVENT_TYPE  print the shipped fixture of EVENT_TYPE\n"
        "\n"
        "Exits 0 when every call succeeded (or the receiver answered 2xx), 1 on a Stripe\n"
        "error, 2 on a bad command line or fixture, 3 when nothing answered.\n"
        "\n"
        "Examples:\n"
        "  sluice trigger invoice.paid --api-key sk_test_x --base-url http://127.0.0.1:12111\n"
        "  sluice trigger customer.created --connection shop\n"
        "  sluice trigger invoice.paid --to http://127.0.0.1:8080/hooks/shop --secret whsec_...\n");
}

static size_t collect(char *p, size_t size, size_t n, void *ctx)
{
    sl_buf_t *b = ctx;
    sl__buf_append(b, p, size * n);
    return size * n;
}

/* Posts a signed sample event to a receiver. */
static int post_sample(const char *type, const char *to, const char *secret, int print)
{
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

static void on_step(void *ctx, const char *name, const char *method, const char *path, sl_err rc,
                    const sl_response_t *resp)
{
    (void)ctx;
    const char *id = resp->json ? json_string_value(json_object_get(resp->json, "id")) : NULL;
    if (rc == SL_OK)
        printf("  %-28s %-6s %-44s %ld %s\n", name, method, path, resp->status, id ? id : "");
    else
        printf("  %-28s %-6s %-44s %ld %s%s%s\n", name, method, path, resp->status,
               resp->error.type[0] ? resp->error.type : sl_strerror(rc),
               resp->error.code[0] ? ": " : "", resp->error.code);
    fflush(stdout);
}

static int list_fixtures(int as_json)
{
    json_t *all = json_array();
    for (size_t i = 0; i < sl__fixture_shipped_count(); i++)
        if (as_json)
            json_array_append_new(all, json_string(sl__fixture_shipped_name(i)));
        else
            printf("%s\n", sl__fixture_shipped_name(i));
    if (as_json) {
        json_dumpf(all, stdout, JSON_INDENT(2));
        fputc('\n', stdout);
    }
    json_decref(all);
    return CLI_OK;
}

int sl__cmd_trigger(int argc, char **argv)
{
    enum {
        O_TO = 256,
        O_SECRET,
        O_PRINT,
        O_CONNECTION,
        O_API_KEY,
        O_BASE_URL,
        O_DATA,
        O_FIXTURE,
        O_LIST,
        O_JSON,
        O_SHOW,
    };
    static const struct option options[] = {
        {"to", required_argument, NULL, O_TO},
        {"secret", required_argument, NULL, O_SECRET},
        {"print", no_argument, NULL, O_PRINT},
        {"connection", required_argument, NULL, O_CONNECTION},
        {"api-key", required_argument, NULL, O_API_KEY},
        {"base-url", required_argument, NULL, O_BASE_URL},
        {"data", required_argument, NULL, O_DATA},
        {"fixture", required_argument, NULL, O_FIXTURE},
        {"list", no_argument, NULL, O_LIST},
        {"json", no_argument, NULL, O_JSON},
        {"show", required_argument, NULL, O_SHOW},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *to = NULL, *secret = getenv("SLUICE_WEBHOOK_SECRET");
    const char *connection = NULL, *api_key = getenv("STRIPE_API_KEY"), *base_url = NULL;
    const char *data = NULL, *fixture = NULL, *show = NULL;
    int print = 0, list = 0, as_json = 0, c;
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
        case O_CONNECTION:
            connection = optarg;
            break;
        case O_API_KEY:
            api_key = optarg;
            break;
        case O_BASE_URL:
            base_url = optarg;
            break;
        case O_DATA:
            data = optarg;
            break;
        case O_FIXTURE:
            fixture = optarg;
            break;
        case O_LIST:
            list = 1;
            break;
        case O_JSON:
            as_json = 1;
            break;
        case O_SHOW:
            show = optarg;
            break;
        case 'h':
            sl__cmd_trigger_help(stdout);
            return CLI_OK;
        default:
            return sl__cli_option_error(CMD, c, argv);
        }
    }
    if (list)
        return list_fixtures(as_json);
    if (show) {
        const char *text = sl__fixture_shipped(show);
        if (!text)
            return sl__cli_usage_error(CMD,
                                       "no shipped fixture for `%s` (`sluice trigger --list` "
                                       "lists them)",
                                       show);
        fputs(text, stdout);
        return CLI_OK;
    }
    if (optind + 1 < argc || (optind == argc && !fixture))
        return sl__cli_usage_error(CMD, "needs one EVENT_TYPE (see `sluice trigger --list`)");
    const char *type = optind < argc ? argv[optind] : NULL;
    if (type && !sl_event_type_known(type))
        return sl__cli_usage_error(
            CMD, "`%s` is not a Stripe event type (see `sluice events types`)", type);
    if (to) {
        if (!type)
            return sl__cli_usage_error(CMD, "--to needs the EVENT_TYPE to post");
        if (!secret || !*secret)
            return sl__cli_usage_error(CMD, "--to needs --secret whsec_... (or "
                                            "$SLUICE_WEBHOOK_SECRET)");
        if (strncmp(secret, "whsec_", 6) != 0)
            return sl__cli_usage_error(CMD, "--secret takes the endpoint's whsec_ signing secret");
        return post_sample(type, to, secret, print);
    }

    /* The fixture: a file, or the one shipped for the type. */
    json_error_t jerr;
    json_t *doc = NULL;
    if (fixture) {
        doc = json_load_file(fixture, 0, &jerr);
        if (!doc && jerr.line < 1)
            return sl__cli_usage_error(CMD, "cannot read the fixture file %s: %s", fixture,
                                       jerr.text);
        if (!doc)
            return sl__cli_usage_error(CMD, "%s:%d:%d: %s", fixture, jerr.line, jerr.column,
                                       jerr.text);
    } else {
        const char *text = sl__fixture_shipped(type);
        if (!text)
            return sl__cli_usage_error(
                CMD,
                "sluice ships no fixture for %s%s; give one with --fixture FILE, or post a "
                "signed sample with --to URL --secret SECRET (`sluice trigger --list` lists "
                "the shipped ones)",
                type,
                strcmp(type, "price.deleted") == 0
                    ? " (no API call deletes a price: Stripe deletes them from the Dashboard)"
                    : "");
        doc = json_loads(text, 0, &jerr);
    }
    char err[1024];
    if (sl__fixture_check(doc, err, sizeof err)) {
        json_decref(doc);
        return sl__cli_usage_error(CMD, "%s: %s", fixture ? fixture : type, err);
    }

    /* The client: a connection, or a key and base URL. */
    int ret = CLI_OK;
    sl_cli_env_t env;
    memset(&env, 0, sizeof env);
    sl_client_t *client = NULL;
    if (connection) {
        if (getenv("STRIPE_API_KEY") != api_key) {
            json_decref(doc);
            return sl__cli_usage_error(CMD, "give --connection or --api-key, not both");
        }
        if ((ret = sl__cli_env_open(&env, CMD, data, NULL, 1)) != CLI_OK) {
            json_decref(doc);
            return ret;
        }
        sl_conn_row_t row;
        if (sl_store_conn_get(env.store, connection, &row, err, sizeof err) ||
            sl__conn_client(&row, &env.crypt, NULL, &client, err, sizeof err)) {
            sl_conn_row_cleanup(&row);
            sl__cli_env_close(&env);
            json_decref(doc);
            return sl__cli_usage_error(CMD, "%s", err);
        }
        sl_conn_row_cleanup(&row);
    } else {
        if (!api_key || !*api_key) {
            json_decref(doc);
            return sl__cli_usage_error(CMD, "needs --connection NAME, or --api-key (or "
                                            "$STRIPE_API_KEY) with --base-url; or --to URL to "
                                            "post a signed sample");
        }
        sl_client_config_t cfg;
        sl_client_config_init(&cfg);
        cfg.api_key = api_key;
        cfg.base_url = base_url ? base_url : getenv("SLUICE_BASE_URL");
        if (sl_client_new(&cfg, &client, err, sizeof err)) {
            json_decref(doc);
            return sl__cli_usage_error(CMD, "%s", err);
        }
    }
    printf("Running the %s fixture%s%s:\n", fixture ? fixture : type,
           fixture && type ? " for " : "", fixture && type ? type : "");
    sl_err rc = sl__fixture_run(client, doc, on_step, NULL, err, sizeof err);
    if (rc == SL_OK) {
        if (type && !fixture)
            printf("Done: %s follows from these calls, and is on its way to your endpoints.\n",
                   type);
        else
            printf("Done: every request succeeded.\n");
    } else {
        fprintf(stderr, "sluice trigger: %s\n", err);
        ret = rc == SL_EINVAL                          ? CLI_EUSAGE
              : rc == SL_ENETWORK || rc == SL_ETIMEOUT ? CLI_ENETWORK
                                                       : CLI_EFAIL;
    }
    sl_client_free(client);
    sl__cli_env_close(&env);
    json_decref(doc);
    return ret;
}
