/* sluice call: one Stripe API call (or every page of a list) from the command line. */
#include <ctype.h>
#include <strings.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "sluice/catalog.h"
#include "sluice/stripe.h"

#define CMD "call"

void sl__cmd_call_help(FILE *out)
{
    fprintf(out,
            "Usage: sluice call METHOD /v1/PATH [PARAM=VALUE ...] [OPTIONS]\n"
            "\n"
            "Calls one Stripe API operation and prints the JSON response on stdout.\n"
            "PARAM uses Stripe's bracket syntax: metadata[plan]=pro, line_items[0][quantity]=2,\n"
            "expand[]=customer. An empty value (description=) unsets a field. GET and DELETE\n"
            "send parameters in the query string, POST in the form-encoded body.\n"
            "\n"
            "Options:\n"
            "  --connection NAME        use a stored connection (sluice connect): its key, base\n"
            "                           URL, version, account and rate limit (25/s test, 100/s\n"
            "                           live); --data/--store say where connections are kept\n"
            "  --api-key KEY            secret or restricted key (default: $STRIPE_API_KEY)\n"
            "  --base-url URL           API address (default: $SLUICE_BASE_URL, else\n"
            "                           https://api.stripe.com)\n"
            "  --stripe-version V       Stripe-Version header (default: 2023-08-16)\n"
            "  --stripe-account ACCT    act on a connected account (Stripe-Account header)\n"
            "  --idempotency-key KEY    for POST (default: a random UUID, kept across retries)\n"
            "  --json-params FILE|-     read parameters from a JSON object (PARAM=VALUE\n"
            "                           arguments are applied on top)\n"
            "  --no-validate            send a named call without checking its parameters\n"
            "  --all                    page through a list or search; prints one item per line\n"
            "  --limit N                with --all: stop after N items; otherwise sends limit=N\n"
            "  --max-retries N          retries on network errors, 409, 429, 5xx (default 2)\n"
            "  --timeout SECONDS        per attempt (default 80)\n"
            "  -v, --verbose            show the request, status, timing and retries on stderr\n"
            "                           (the key is masked)\n"
            "  -h, --help               show this help\n"
            "\n"
            "Exit codes: 0 success, 1 Stripe error (details on stderr), 2 usage error,\n"
            "3 no answer from the server after the retries.\n"
            "\n"
            "Examples:\n"
            "  sluice call POST /v1/customers email=jenny@example.com metadata[plan]=pro\n"
            "  sluice call GET /v1/customers/cus_123 expand[]=default_source\n"
            "  sluice call GET /v1/invoices status=open --all --limit 500\n"
            "  sluice call GET /v1/customers/search \"query=email:'jenny@example.com'\" --all\n");
}

static void on_trace(void *ctx, const char *line)
{
    (void)ctx;
    fprintf(stderr, "%s\n", line);
}

static void print_failure(sl_err rc, const sl_response_t *resp)
{
    const sl_stripe_error_t *e = &resp->error;
    if (rc == SL_ESTRIPE) {
        fprintf(stderr, "sluice: Stripe error (HTTP %ld%s%s): %s\n", e->http_status,
                e->type[0] ? ", " : "", e->type, e->message);
        const struct {
            const char *label, *value;
        } rows[] = {{"code", e->code},
                    {"decline_code", e->decline_code},
                    {"param", e->param},
                    {"doc_url", e->doc_url},
                    {"request_id", e->request_id}};
        for (size_t i = 0; i < sizeof rows / sizeof *rows; i++)
            if (rows[i].value[0])
                fprintf(stderr, "  %-13s %s\n", rows[i].label, rows[i].value);
        return;
    }
    if (rc == SL_ENETWORK || rc == SL_ETIMEOUT) {
        fprintf(stderr, "sluice: %s: %s\n", rc == SL_ETIMEOUT ? "timed out" : "network error",
                e->message);
        return;
    }
    fprintf(stderr, "sluice: %s%s%s\n", sl_strerror(rc), e->message[0] ? ": " : "", e->message);
}

static int exit_code(sl_err rc)
{
    switch (rc) {
    case SL_OK:
        return CLI_OK;
    case SL_ENETWORK:
    case SL_ETIMEOUT:
        return CLI_ENETWORK;
    case SL_EINVAL:
        return CLI_EUSAGE;
    default:
        return CLI_EFAIL;
    }
}

static json_t *read_json_params(const char *file)
{
    json_error_t jerr;
    json_t *v =
        strcmp(file, "-") == 0 ? json_loadf(stdin, 0, &jerr) : json_load_file(file, 0, &jerr);
    if (!v) {
        sl__cli_usage_error(CMD, "--json-params %s: %s (line %d, column %d)", file, jerr.text,
                            jerr.line, jerr.column);
        return NULL;
    }
    if (!json_is_object(v)) {
        sl__cli_usage_error(CMD, "--json-params %s: expected a JSON object of parameters", file);
        json_decref(v);
        return NULL;
    }
    return v;
}

static int is_method(const char *s)
{
    return strcasecmp(s, "GET") == 0 || strcasecmp(s, "POST") == 0 || strcasecmp(s, "DELETE") == 0;
}

int sl__cmd_call(int argc, char **argv)
{
    enum {
        OPT_API_KEY = 256,
        OPT_BASE_URL,
        OPT_VERSION,
        OPT_ACCOUNT,
        OPT_IDEM,
        OPT_JSON,
        OPT_ALL,
        OPT_LIMIT,
        OPT_RETRIES,
        OPT_TIMEOUT,
        OPT_NO_VALIDATE,
        OPT_CONNECTION,
        OPT_DATA,
        OPT_STORE,
    };
    static const struct option opts[] = {
        {"api-key", required_argument, NULL, OPT_API_KEY},
        {"base-url", required_argument, NULL, OPT_BASE_URL},
        {"stripe-version", required_argument, NULL, OPT_VERSION},
        {"stripe-account", required_argument, NULL, OPT_ACCOUNT},
        {"idempotency-key", required_argument, NULL, OPT_IDEM},
        {"json-params", required_argument, NULL, OPT_JSON},
        {"all", no_argument, NULL, OPT_ALL},
        {"limit", required_argument, NULL, OPT_LIMIT},
        {"max-retries", required_argument, NULL, OPT_RETRIES},
        {"timeout", required_argument, NULL, OPT_TIMEOUT},
        {"no-validate", no_argument, NULL, OPT_NO_VALIDATE},
        {"connection", required_argument, NULL, OPT_CONNECTION},
        {"data", required_argument, NULL, OPT_DATA},
        {"store", required_argument, NULL, OPT_STORE},
        {"verbose", no_argument, NULL, 'v'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    sl_client_config_t cfg;
    sl_client_config_init(&cfg);
    /* Explicit options win over a connection, which wins over the environment. */
    const char *opt_key = NULL, *opt_base = NULL, *opt_version = NULL, *opt_account = NULL;
    const char *connection = NULL, *data = NULL, *store = NULL;
    char *conn_key = NULL;
    char base_buf[512] = "", version_buf[32] = "", account_buf[64] = "";
    sl_cli_env_t env;
    memset(&env, 0, sizeof env);
    const char *idem = NULL, *json_file = NULL;
    int all = 0, verbose = 0, validate = 1;
    long limit = 0, n;
    int ret = CLI_OK;
    json_t *params = NULL;
    sl_client_t *client = NULL;
    sl_pager_t *pager = NULL;
    sl_response_t resp;
    memset(&resp, 0, sizeof resp);
    sl_op_call_t call;
    memset(&call, 0, sizeof call);

    opterr = 0;
    optind = 1;
    int c;
    /* "-" returns the other arguments in order (whatever POSIXLY_CORRECT says), so options
     * may follow them; ":" reports a missing value apart from an unknown option. */
    char **args = calloc((size_t)argc + 1, sizeof *args);
    int nargs = 0;
    if (!args)
        return CLI_EFAIL;
    while ((c = getopt_long(argc, argv, "-:vh", opts, NULL)) != -1) {
        switch (c) {
        case 1:
            args[nargs++] = optarg;
            break;
        case OPT_API_KEY:
            opt_key = optarg;
            break;
        case OPT_BASE_URL:
            opt_base = optarg;
            break;
        case OPT_VERSION:
            opt_version = optarg;
            break;
        case OPT_ACCOUNT:
            opt_account = optarg;
            break;
        case OPT_IDEM:
            idem = optarg;
            break;
        case OPT_JSON:
            json_file = optarg;
            break;
        case OPT_ALL:
            all = 1;
            break;
        case OPT_LIMIT:
            if (sl__cli_parse_long(optarg, 1, 1000000000L, &limit)) {
                ret = sl__cli_usage_error(CMD, "--limit takes a positive whole number, not `%s`",
                                          optarg);
                goto out;
            }
            break;
        case OPT_RETRIES:
            if (sl__cli_parse_long(optarg, 0, 20, &n)) {
                ret = sl__cli_usage_error(CMD,
                                          "--max-retries takes a number from 0 to 20, "
                                          "not `%s`",
                                          optarg);
                goto out;
            }
            cfg.max_retries = (int)n;
            break;
        case OPT_TIMEOUT:
            if (sl__cli_parse_long(optarg, 1, 3600, &n)) {
                ret = sl__cli_usage_error(CMD, "--timeout takes seconds from 1 to 3600, not `%s`",
                                          optarg);
                goto out;
            }
            cfg.timeout_ms = n * 1000;
            break;
        case OPT_CONNECTION:
            connection = optarg;
            break;
        case OPT_DATA:
            data = optarg;
            break;
        case OPT_STORE:
            store = optarg;
            break;
        case OPT_NO_VALIDATE:
            validate = 0;
            break;
        case 'v':
            verbose = 1;
            break;
        case 'h':
            sl__cmd_call_help(stdout);
            ret = CLI_OK;
            goto out;
        default:
            ret = sl__cli_option_error(CMD, c, argv);
            goto out;
        }
    }

    for (; optind < argc; optind++)
        args[nargs++] = argv[optind];

    /* The operation: a name, or "METHOD /path" as one argument or two. */
    char method[16] = "";
    const char *path = NULL, *name = NULL;
    const sl_op_t *op = NULL;
    int i = 0;
    if (i >= nargs) {
        ret = sl__cli_usage_error(CMD, "no operation given; for example: sluice call "
                                       "customers.create email=jenny@example.com");
        goto out;
    }
    const char *space = strchr(args[i], ' ');
    size_t mlen = space ? (size_t)(space - args[i]) : strlen(args[i]);
    snprintf(method, sizeof method, "%.*s", (int)(mlen < sizeof method ? mlen : 0), args[i]);
    if (is_method(method)) {
        for (char *p = method; *p; p++)
            *p = (char)toupper((unsigned char)*p);
        if (space) {
            path = space + 1;
            while (*path == ' ')
                path++;
            i++;
        } else {
            if (i + 1 >= nargs) {
                ret = sl__cli_usage_error(CMD, "%s needs a path such as /v1/customers", method);
                goto out;
            }
            path = args[i + 1];
            i += 2;
        }
        if (path[0] != '/') {
            ret = sl__cli_usage_error(
                CMD, "path `%s` must start with / (for example /v1/customers)", path);
            goto out;
        }
    } else {
        name = args[i++];
        op = sl_op_find(name);
        const sl_alias_t *alias = op ? NULL : sl_alias_find(name);
        if (alias)
            op = sl_alias_op(alias);
        const char *near = op ? NULL : sl_op_suggest(name);
        if (!op && near) {
            ret =
                sl__cli_usage_error(CMD, "unknown operation `%s` (did you mean `%s`?)", name, near);
            goto out;
        }
        if (!op) {
            ret = sl__cli_usage_error(CMD,
                                      "unknown operation `%s`; `sluice ops` lists the "
                                      "operations, `sluice ops --seeds` the named actions, "
                                      "or give METHOD /v1/PATH",
                                      name);
            goto out;
        }
    }

    params = json_file ? read_json_params(json_file) : json_object();
    if (!params) {
        ret = json_file ? CLI_EUSAGE : CLI_EFAIL;
        goto out;
    }
    size_t positional = 0;
    for (; i < nargs; i++) {
        const char *eq = strchr(args[i], '=');
        if (op && !eq) {
            const char *pname = sl_op_path_param(op, positional++);
            if (!pname) {
                ret = sl__cli_usage_error(CMD, "`%s`: %s takes %s", args[i], name,
                                          sl_op_path_param_count(op)
                                              ? "no more IDs than its path parameters"
                                              : "no ID; give parameters as PARAM=VALUE");
                goto out;
            }
            json_object_set_new(params, pname, json_string(args[i]));
            continue;
        }
        if (!eq || eq == args[i] || args[i][0] == '-') {
            ret = sl__cli_usage_error(CMD, "argument `%s` is not PARAM=VALUE", args[i]);
            goto out;
        }
        char key[512], err[256];
        if ((size_t)(eq - args[i]) >= sizeof key) {
            ret = sl__cli_usage_error(CMD, "parameter name in `%.40s...` is too long", args[i]);
            goto out;
        }
        snprintf(key, sizeof key, "%.*s", (int)(eq - args[i]), args[i]);
        json_t *v = json_string(eq + 1);
        if (!v) {
            ret = sl__cli_usage_error(CMD, "value of `%s` is not valid UTF-8", key);
            goto out;
        }
        if (sl_form_set(params, key, v, err, sizeof err)) {
            ret = sl__cli_usage_error(CMD, "%s", err);
            goto out;
        }
    }
    if (limit && !all) {
        char num[32];
        snprintf(num, sizeof num, "%ld", limit);
        json_object_set_new(params, "limit", json_string(num));
    }
    if (all && strcmp(op ? sl_op_method(op) : method, "GET") != 0) {
        ret = sl__cli_usage_error(CMD, "--all pages through GET lists and searches, not %s",
                                  op ? sl_op_name(op) : method);
        goto out;
    }
    if (connection) {
        if (opt_key) {
            ret = sl__cli_usage_error(CMD, "give --connection or --api-key, not both");
            goto out;
        }
        ret = sl__cli_env_open(&env, CMD, data, store, 1);
        if (ret)
            goto out;
        sl_conn_row_t row;
        char cerr[512];
        if (sl_store_conn_get(env.store, connection, &row, cerr, sizeof cerr) ||
            sl__conn_config(&row, &env.crypt, &cfg, &conn_key, cerr, sizeof cerr)) {
            sl_conn_row_cleanup(&row);
            ret = sl__cli_usage_error(CMD, "%s", cerr);
            goto out;
        }
        /* cfg points into the row: keep copies that outlive it. */
        snprintf(base_buf, sizeof base_buf, "%s", row.base_url);
        snprintf(version_buf, sizeof version_buf, "%s", row.stripe_version);
        snprintf(account_buf, sizeof account_buf, "%s", row.stripe_account);
        cfg.base_url = base_buf[0] ? base_buf : NULL;
        cfg.stripe_version = version_buf[0] ? version_buf : NULL;
        cfg.stripe_account = account_buf[0] ? account_buf : NULL;
        sl_conn_row_cleanup(&row);
    } else {
        cfg.api_key = getenv("STRIPE_API_KEY");
        cfg.base_url = getenv("SLUICE_BASE_URL");
    }
    if (opt_key)
        cfg.api_key = opt_key;
    if (opt_base)
        cfg.base_url = opt_base;
    if (opt_version)
        cfg.stripe_version = opt_version;
    if (opt_account)
        cfg.stripe_account = opt_account;
    if (!cfg.api_key || !*cfg.api_key) {
        ret = sl__cli_usage_error(CMD, "no API key: pass --connection NAME or --api-key, or set "
                                       "STRIPE_API_KEY");
        goto out;
    }
    if (verbose) {
        cfg.trace = on_trace;
    }

    char err[256];
    sl_err rc = sl_client_new(&cfg, &client, err, sizeof err);
    if (rc) {
        if (rc == SL_EINVAL)
            ret = sl__cli_usage_error(CMD, "%s", err);
        else
            fprintf(stderr, "sluice: %s\n", err[0] ? err : sl_strerror(rc));
        ret = rc == SL_EINVAL ? CLI_EUSAGE : CLI_EFAIL;
        goto out;
    }
    sl_request_t req = {method, path, params, idem, NULL, NULL, 0};
    if (op && !all) {
        rc = sl_action_call(client, name, params, validate, &req, &resp, err, sizeof err);
        if (rc == SL_EINVAL || rc == SL_ENOTFOUND) {
            ret = rc == SL_EINVAL ? sl__cli_usage_error(CMD, "%s", err) : CLI_EFAIL;
            if (rc == SL_ENOTFOUND)
                fprintf(stderr, "sluice: %s\n", err);
            goto out;
        }
    } else if (!all) {
        rc = sl_client_request(client, &req, &resp);
    }
    if (!all) {
        if (rc) {
            print_failure(rc, &resp);
            ret = exit_code(rc);
            goto out;
        }
        json_dumpf(resp.json, stdout, JSON_INDENT(2));
        fputc('\n', stdout);
        goto out;
    }

    if (!json_object_get(params, "limit")) {
        char num[32];
        snprintf(num, sizeof num, "%ld", limit && limit < 100 ? limit : 100L);
        json_object_set_new(params, "limit", json_string(num));
    }
    if (op) {
        rc = sl_op_call_init(&call, op, params, validate, err, sizeof err);
        if (rc) {
            ret = sl__cli_usage_error(CMD, "%s", err);
            goto out;
        }
        call.req.idempotency_key = idem;
        req = call.req;
    }
    rc = sl_pager_new(client, &req, (size_t)limit, &pager);
    size_t count = 0;
    json_t *item;
    while (!rc && !(rc = sl_pager_next(pager, &item)) && item) {
        json_dumpf(item, stdout, JSON_COMPACT);
        fputc('\n', stdout);
        count++;
    }
    if (rc) {
        fflush(stdout);
        print_failure(rc, pager && sl_pager_response(pager) ? sl_pager_response(pager) : &resp);
        ret = exit_code(rc);
        goto out;
    }
    if (verbose)
        fprintf(stderr, "%zu item%s in %zu page%s\n", count, count == 1 ? "" : "s",
                sl_pager_pages(pager), sl_pager_pages(pager) == 1 ? "" : "s");

out:
    sl__crypt_free(conn_key);
    sl__cli_env_close(&env);
    free(args);
    sl_op_call_cleanup(&call);
    sl_pager_free(pager);
    sl_response_cleanup(&resp);
    sl_client_free(client);
    json_decref(params);
    if (fflush(stdout) != 0 && ret == CLI_OK)
        ret = CLI_EFAIL;
    return ret;
}
