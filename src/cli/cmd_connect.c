/* sluice connect: the Stripe accounts sluice works with, their keys and webhook secrets. */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "conn/endpoints.h"
#include "sluice/stripe.h"

#define CMD "connect"

void sl__cmd_connect_help(FILE *out)
{
    fprintf(
        out,
        "Usage: sluice connect add NAME [--key KEY] [--webhook-secret whsec_...]\n"
        "                      [--base-url URL] [--stripe-version V] [--stripe-account acct_...]\n"
        "       sluice connect list [--json]\n"
        "       sluice connect show NAME [--json]\n"
        "       sluice connect remove NAME\n"
        "       sluice connect rotate-secret NAME --webhook-secret whsec_... [--grace SECONDS]\n"
        "       sluice connect unregister NAME\n"
        "\n"
        "A connection is a Stripe account sluice acts for: its secret (sk_) or restricted\n"
        "(rk_) key, checked against the API when added (test or live mode comes from the\n"
        "key), and the signing secret of its webhook endpoint. Keys and secrets are stored\n"
        "encrypted (AES-256-GCM) under a master key from SLUICE_MASTER_KEY (64 hex digits)\n"
        "or DATA/master.key (created, mode 0600, on first use); they are never printed.\n"
        "\n"
        "  add            check the key (default: $STRIPE_API_KEY) and save the connection;\n"
        "                 nothing is saved when the key is invalid, revoked or lacks access;\n"
        "                 --base-url defaults to $SLUICE_BASE_URL, else api.stripe.com\n"
        "  list, show     masked keys, modes, accounts, endpoints\n"
        "  remove         forget the connection (its stored events stay) and delete the\n"
        "                 webhook endpoint sluice registered for it\n"
        "  rotate-secret  a new webhook secret; the old one stays valid for --grace seconds\n"
        "                 (default 86400), as Stripe keeps it when a secret is rolled\n"
        "  unregister     delete the webhook endpoint sluice registered for it\n"
        "\n"
        "Common options: --data DIR, --store sqlite:PATH, -v/--verbose (API requests),\n"
        "--json. Webhooks for a connection go to POST /hooks/NAME on `sluice serve`.\n"
        "\n"
        "Example:\n"
        "  sluice connect add shop --key sk_test_... --webhook-secret whsec_...\n");
}

typedef struct opts {
    const char *data, *store, *key, *secret, *base_url, *version, *account;
    long grace;
    int json, verbose;
} opts_t;

static void masked_key(const sl_conn_row_t *row, const sl_crypt_t *crypt, char *out, size_t n)
{
    char *key = NULL;
    if (sl__crypt_open(crypt, row->key_sealed, row->name, &key) == SL_OK)
        sl_key_mask(key, out, n);
    else
        snprintf(out, n, "(cannot decrypt: another master key?)");
    sl__crypt_free(key);
}

static json_t *conn_json(const sl_conn_row_t *row, const sl_crypt_t *crypt)
{
    char key[96];
    masked_key(row, crypt, key, sizeof key);
    json_t *o = json_pack("{s:s,s:s,s:s,s:s,s:b,s:I}", "name", row->name, "mode", row->mode,
                          "account", row->account_id, "key", key, "webhook_secret",
                          row->secret_sealed != NULL, "created", (json_int_t)row->created);
    if (row->old_secret_sealed && row->old_secret_expires > (long long)time(NULL))
        json_object_set_new(o, "previous_secret_valid_until",
                            json_integer(row->old_secret_expires));
    if (row->base_url[0])
        json_object_set_new(o, "base_url", json_string(row->base_url));
    if (row->stripe_version[0])
        json_object_set_new(o, "stripe_version", json_string(row->stripe_version));
    if (row->stripe_account[0])
        json_object_set_new(o, "stripe_account", json_string(row->stripe_account));
    if (row->endpoint_id[0]) {
        json_object_set_new(o, "endpoint_id", json_string(row->endpoint_id));
        json_object_set_new(o, "endpoint_url", json_string(row->endpoint_url));
        json_t *types = row->endpoint_events ? json_loads(row->endpoint_events, 0, NULL) : NULL;
        if (json_is_array(types))
            json_object_set_new(o, "endpoint_events", types);
        else
            json_decref(types);
    }
    return o;
}

static void print_json(json_t *v)
{
    json_dumpf(v, stdout, JSON_INDENT(2));
    fputc('\n', stdout);
    json_decref(v);
}

typedef struct list_ctx {
    const sl_crypt_t *crypt;
    json_t *arr; /* --json */
    int n;
    json_t *rows; /* the table's */
} list_ctx_t;

static int list_one(const sl_conn_row_t *row, void *ctx)
{
    list_ctx_t *l = ctx;
    l->n++;
    if (l->arr) {
        json_array_append_new(l->arr, conn_json(row, l->crypt));
        return 0;
    }
    char key[96];
    masked_key(row, l->crypt, key, sizeof key);
    json_array_append_new(l->rows, json_pack("[s,s,s,s,s,s]", row->name, row->mode,
                                             row->account_id[0] ? row->account_id : "-", key,
                                             row->secret_sealed ? "set" : "none",
                                             row->endpoint_id[0] ? row->endpoint_id : "-"));
    return 0;
}

static int do_add(sl_cli_env_t *env, const char *name, const opts_t *o)
{
    const char *key = o->key ? o->key : getenv("STRIPE_API_KEY");
    if (!key || !*key)
        return sl__cli_usage_error(CMD, "add needs --key KEY (or STRIPE_API_KEY)");
    const char *base_url = o->base_url ? o->base_url : getenv("SLUICE_BASE_URL");
    sl_conn_spec_t spec = {name, key, o->secret, base_url, o->version, o->account};
    sl_conn_row_t row;
    char err[1024];
    sl_err rc = sl__conn_add(env->store, &env->crypt, &spec, o->verbose ? sl__cli_trace : NULL,
                             &row, err, sizeof err);
    if (rc) {
        fprintf(stderr, "sluice connect: %s; nothing was saved\n", err);
        return rc == SL_ENETWORK || rc == SL_ETIMEOUT ? CLI_ENETWORK
               : rc == SL_EINVAL                      ? CLI_EUSAGE
                                                      : CLI_EFAIL;
    }
    char masked[96];
    sl_key_mask(key, masked, sizeof masked);
    printf("Added connection `%s`: %s mode, account %s, key %s, webhook secret %s.\n", row.name,
           row.mode, row.account_id[0] ? row.account_id : "(not readable by this key)", masked,
           row.secret_sealed ? "set"
                             : "not set (rotate-secret sets it, or serve --public-url "
                               "registers an endpoint)");
    printf("Its webhooks go to POST /hooks/%s on `sluice serve`.\n", row.name);
    sl_conn_row_cleanup(&row);
    return CLI_OK;
}

static int do_rotate(sl_cli_env_t *env, const char *name, const opts_t *o)
{
    if (!o->secret || strncmp(o->secret, "whsec_", 6) != 0)
        return sl__cli_usage_error(CMD, "rotate-secret needs --webhook-secret whsec_...");
    sl_conn_row_t row;
    char err[512];
    if (sl_store_conn_get(env->store, name, &row, err, sizeof err)) {
        fprintf(stderr, "sluice connect: %s\n", err);
        return CLI_EFAIL;
    }
    char *sealed = NULL;
    if (sl__crypt_seal(&env->crypt, o->secret, row.name, &sealed)) {
        sl_conn_row_cleanup(&row);
        fprintf(stderr, "sluice connect: could not encrypt the secret\n");
        return CLI_EFAIL;
    }
    free(row.old_secret_sealed);
    row.old_secret_sealed = row.secret_sealed;
    row.old_secret_expires = row.secret_sealed ? (long long)time(NULL) + o->grace : 0;
    row.secret_sealed = sealed;
    sl_err rc = sl_store_conn_put(env->store, &row, err, sizeof err);
    if (!rc)
        printf("New webhook secret for `%s`%s.\n", name,
               row.old_secret_sealed ? "; the previous one stays valid for the grace period" : "");
    else
        fprintf(stderr, "sluice connect: %s\n", err);
    sl_conn_row_cleanup(&row);
    return rc ? CLI_EFAIL : CLI_OK;
}

int sl__cmd_connect(int argc, char **argv)
{
    enum { O_DATA = 256, O_STORE, O_KEY, O_SECRET, O_BASE, O_VERSION, O_ACCOUNT, O_GRACE, O_JSON };
    static const struct option options[] = {
        {"data", required_argument, NULL, O_DATA},
        {"store", required_argument, NULL, O_STORE},
        {"key", required_argument, NULL, O_KEY},
        {"webhook-secret", required_argument, NULL, O_SECRET},
        {"base-url", required_argument, NULL, O_BASE},
        {"stripe-version", required_argument, NULL, O_VERSION},
        {"stripe-account", required_argument, NULL, O_ACCOUNT},
        {"grace", required_argument, NULL, O_GRACE},
        {"json", no_argument, NULL, O_JSON},
        {"verbose", no_argument, NULL, 'v'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    opts_t o = {.grace = 86400};
    const char *pos[3] = {NULL, NULL, NULL};
    int npos = 0, c;
    opterr = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, "-:vh", options, NULL)) != -1) {
        switch (c) {
        case 1:
            if (npos == 2)
                return sl__cli_usage_error(CMD, "unexpected argument `%s`", optarg);
            pos[npos++] = optarg;
            break;
        case O_DATA:
            o.data = optarg;
            break;
        case O_STORE:
            o.store = optarg;
            break;
        case O_KEY:
            o.key = optarg;
            break;
        case O_SECRET:
            o.secret = optarg;
            break;
        case O_BASE:
            o.base_url = optarg;
            break;
        case O_VERSION:
            o.version = optarg;
            break;
        case O_ACCOUNT:
            o.account = optarg;
            break;
        case O_GRACE:
            if (sl__cli_parse_long(optarg, 0, 30L * 86400, &o.grace))
                return sl__cli_usage_error(CMD, "--grace takes seconds (0 to 2592000)");
            break;
        case O_JSON:
            o.json = 1;
            break;
        case 'v':
            o.verbose = 1;
            break;
        case 'h':
            sl__cmd_connect_help(stdout);
            return CLI_OK;
        default:
            return sl__cli_option_error(CMD, c, argv);
        }
    }
    const char *sub = pos[0], *name = pos[1];
    static const char *const subs[] = {"add",    "list",          "show",
                                       "remove", "rotate-secret", "unregister"};
    int known = 0;
    for (size_t i = 0; sub && i < sizeof subs / sizeof *subs; i++)
        known |= strcmp(sub, subs[i]) == 0;
    if (!known)
        return sl__cli_usage_error(CMD,
                                   sub ? "unknown subcommand `%s`; see `sluice connect --help`"
                                       : "needs a subcommand%s; see `sluice connect --help`",
                                   sub ? sub : "");
    if (strcmp(sub, "list") != 0 && !name)
        return sl__cli_usage_error(CMD, "%s needs a connection NAME", sub);

    sl_cli_env_t env;
    int ret = sl__cli_env_open(&env, CMD, o.data, o.store, 1);
    if (ret)
        return ret;
    char err[1024];
    if (strcmp(sub, "add") == 0) {
        ret = do_add(&env, name, &o);
    } else if (strcmp(sub, "list") == 0) {
        list_ctx_t l = {&env.crypt, o.json ? json_array() : NULL, 0, json_array()};
        if (sl_store_conn_list(env.store, list_one, &l, err, sizeof err)) {
            fprintf(stderr, "sluice connect: %s\n", err);
            ret = CLI_EFAIL;
        }
        if (l.arr) {
            print_json(l.arr);
        } else if (!l.n) {
            printf("(no connections: sluice connect add NAME --key sk_test_...)\n");
        } else {
            static const char *const head[] = {"NAME", "MODE",   "ACCOUNT",
                                               "KEY",  "SECRET", "ENDPOINT"};
            sl__cli_table(head, 6, l.rows);
        }
        json_decref(l.rows);
    } else if (strcmp(sub, "show") == 0) {
        sl_conn_row_t row;
        sl_err grc = sl_store_conn_get(env.store, name, &row, err, sizeof err);
        if (grc) {
            fprintf(stderr, "sluice connect: %s\n", err);
            ret = sl__cli_exit(grc);
        } else {
            print_json(conn_json(&row, &env.crypt));
            sl_conn_row_cleanup(&row);
        }
    } else if (strcmp(sub, "remove") == 0) {
        /* The endpoint sluice registered goes with it: else Stripe keeps sending, and failing. */
        sl_conn_row_t row;
        int had = 0;
        if (sl_store_conn_get(env.store, name, &row, err, sizeof err) == SL_OK) {
            had = row.endpoint_id[0] != '\0';
            sl_conn_row_cleanup(&row);
        }
        if (had) {
            sl_err urc = sl__endpoint_unregister(env.store, &env.crypt, name,
                                                 o.verbose ? sl__cli_trace : NULL, err, sizeof err);
            if (urc) {
                fprintf(stderr,
                        "sluice connect: %s; the connection is kept (try again, or delete the"
                        " endpoint in the Dashboard and `sluice connect unregister %s`)\n",
                        err, name);
                ret = urc == SL_ENETWORK || urc == SL_ETIMEOUT ? CLI_ENETWORK : CLI_EFAIL;
            } else {
                printf("%s\n", err);
            }
        }
        if (ret) {
            /* kept */
        } else if ((ret = sl__cli_exit(sl_store_conn_delete(env.store, name, err, sizeof err)))) {
            fprintf(stderr, "sluice connect: %s\n", err);
        } else {
            printf("Removed connection `%s`.\n", name);
        }
    } else if (strcmp(sub, "rotate-secret") == 0) {
        ret = do_rotate(&env, name, &o);
    } else {
        sl_err rc = sl__endpoint_unregister(env.store, &env.crypt, name,
                                            o.verbose ? sl__cli_trace : NULL, err, sizeof err);
        if (rc) {
            fprintf(stderr, "sluice connect: %s\n", err);
            ret = sl__cli_exit(rc);
        } else {
            printf("%s\n", err);
        }
    }
    sl__cli_env_close(&env);
    return ret;
}
