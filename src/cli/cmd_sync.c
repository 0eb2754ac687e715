/* sluice sync: Stripe's objects as tables in the team's own database (src/sync/). */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/flows_view.h"
#include "core/clock.h"
#include "core/log.h"
#include "conn/clients.h"
#include "sync/sync.h"

#define CMD "sync"

/* serve --sync applies at most this many of the events stored while it did not run. */
#define SL_CLI_SYNC_CATCH_UP 100000

static sl_err apply_inbox(sl_store_t *store, sl_sync_t *sync, long long since_ms, size_t limit,
                          int truncate, unsigned long long counts[4], size_t *n, char *err,
                          size_t errlen);

/* What `sync backfill` lists when --objects does not say. */
static const char *const default_objects[] = {"customers",
                                              "products",
                                              "prices",
                                              "plans",
                                              "coupons",
                                              "promotion_codes",
                                              "subscriptions",
                                              "subscription_schedules",
                                              "invoices",
                                              "invoice_items",
                                              "credit_notes",
                                              "charges",
                                              "payment_intents",
                                              "setup_intents",
                                              "refunds",
                                              "disputes",
                                              "payouts",
                                              "balance_transactions",
                                              "checkout_sessions",
                                              "payment_links",
                                              "tax_rates"};

void sl__cmd_sync_help(FILE *out)
{
    fprintf(out,
            "Usage: sluice sync backfill [--objects LIST] [--since DATE] [--connection NAME]\n"
            "                            [--parallel N] [--json]\n"
            "       sluice sync rebuild\n"
            "       sluice sync status [--json]\n"
            "       sluice sync verify [--objects LIST] [--sample N] [--connection NAME] [--json]\n"
            "       sluice sync tables [--json]\n"
            "\n"
            "Keeps Stripe's objects as tables (customers, invoices, ...: `sluice sync tables`)\n"
            "in a database of your own: SQLite, DATA/sync.db unless --sync-store names a file,\n"
            "or PostgreSQL (--sync-store postgres://..., in the schema --sync-schema, `stripe`\n"
            "by default). `sluice serve --sync` applies each event as it is stored.\n"
            "\n"
            "backfill  lists every object through the API, newest first, the created range split\n"
            "          among N parallel workers (default 4) within the connection's rate limit;\n"
            "          shows rows, rows/s, the share of the range done and an ETA per table.\n"
            "          Killed, it continues from its saved ranges when run again. LIST is\n"
            "          table names separated by commas (default: the billing tables).\n"
            "rebuild   empties the tables and applies every event of the inbox again, without\n"
            "          calling the API.\n"
            "status    rows, deleted rows, the last event applied and the backfill per table.\n"
            "verify    reads N random rows of each table (default 20) from the API and names\n"
            "          the fields that differ; exits 1 when any do.\n"
            "\n"
            "Every command takes --data DIR, --store URI (the inbox), --sync-store WHERE and\n"
            "--sync-schema NAME (or SLUICE_SYNC_STORE, SLUICE_SYNC_SCHEMA).\n"
            "\n"
            "Examples:\n"
            "  sluice sync backfill --objects customers,invoices --since 2025-01-01\n"
            "  sluice serve --sync --sync-store postgres://me@127.0.0.1/billing\n"
            "  sqlite3 ~/.local/share/sluice/sync.db \\\n"
            "    \"SELECT email FROM customers WHERE id IN (SELECT customer FROM invoices\n"
            "     WHERE status = 'open')\"\n");
}

int sl__cli_sync_open(const char *cmd, const char *data, const char *where, const char *schema,
                      sl_sync_t **out)
{
    char path[4200], err[1024];
    if (!where || !*where)
        where = getenv("SLUICE_SYNC_STORE");
    if (!schema || !*schema)
        schema = getenv("SLUICE_SYNC_SCHEMA");
    if (!where || !*where) {
        snprintf(path, sizeof path, "%s/sync.db", data);
        where = path;
    }
    sl_err rc = sl_sync_open(where, schema && *schema ? schema : NULL, out, err, sizeof err);
    if (rc) {
        fprintf(stderr, "sluice %s: %s\n", cmd, err);
        return rc == SL_EINVAL ? CLI_EUSAGE : CLI_EFAIL;
    }
    return CLI_OK;
}

int sl__cli_sync_account(void *store, const char *connection, char *out, size_t outlen)
{
    sl_conn_row_t row;
    char err[256];
    if (sl_store_conn_get(store, connection, &row, err, sizeof err))
        return -1;
    snprintf(out, outlen, "%s", *row.account_id ? row.account_id : connection);
    sl_conn_row_cleanup(&row);
    return 0;
}

/* --- serve --sync ---------------------------------------------------------------------------- */
struct sl_cli_sync {
    sl_sync_t *sync;
    sl_clients_t *clients;
    sl_sync_live_t *live;
    unsigned long long submitted; /* __atomic */
};

static sl_client_t *fetch_get(void *ctx, const char *connection)
{
    char err[256];
    return sl__clients_get(ctx, connection, err, sizeof err);
}

static void fetch_release(void *ctx, sl_client_t *client)
{
    sl__clients_release(ctx, client);
}

int sl__cli_sync_start(sl_cli_env_t *env, const char *where, const char *schema,
                       sl_cli_sync_t **out)
{
    sl_cli_sync_t *cs = calloc(1, sizeof *cs);
    if (!cs)
        return CLI_EFAIL;
    int ret = sl__cli_sync_open("serve", env->data, where, schema, &cs->sync);
    if (ret) {
        free(cs);
        return ret;
    }
    /* What the inbox took while no serve --sync ran (all of it the first time), as rebuild
     * applies it, before any new event comes in. */
    char err[1024];
    long long since = -1;
    unsigned long long counts[4];
    size_t n = 0;
    sl_err rc = sl_sync_mark_get(cs->sync, SL_SYNC_MARK_INBOX, &since, err, sizeof err);
    if (rc == SL_ENOTFOUND)
        rc = SL_OK;
    if (!rc)
        rc = apply_inbox(env->store, cs->sync, since, SL_CLI_SYNC_CATCH_UP, 0, counts, &n, err,
                         sizeof err);
    if (rc) {
        fprintf(stderr, "sluice serve: %s\n", err);
        sl_sync_close(cs->sync);
        free(cs);
        return CLI_EFAIL;
    }
    if (n)
        sl__log("info", "sync: the inbox's events since the last serve --sync were applied",
                json_pack("{s:I,s:I}", "events", (json_int_t)n, "applied", (json_int_t)counts[0]));
    if (n >= SL_CLI_SYNC_CATCH_UP)
        sl__log("warning", "sync: only the newest events were applied; run sluice sync rebuild",
                json_pack("{s:I}", "events", (json_int_t)n));
    cs->clients = sl__clients_new(env->store, &env->crypt);
    sl_sync_fetcher_t f = {fetch_get, fetch_release, cs->clients};
    if (!cs->clients ||
        sl_sync_live_start(cs->sync, &f, sl__cli_sync_account, env->store, &cs->live)) {
        sl__clients_free(cs->clients);
        sl_sync_close(cs->sync);
        free(cs);
        fprintf(stderr, "sluice serve: the sync could not start\n");
        return CLI_EFAIL;
    }
    *out = cs;
    return CLI_OK;
}

void sl__cli_sync_committed(void *ctx, const sl_event_in_t *ev, size_t n, const int *fresh)
{
    sl_cli_sync_t *cs = ctx;
    for (size_t i = 0; i < n; i++)
        if (fresh[i]) {
            sl_sync_live_submit(cs->live, ev[i].connection, ev[i].payload, ev[i].payload_len,
                                ev[i].received_ms);
            __atomic_add_fetch(&cs->submitted, 1, __ATOMIC_RELAXED);
        }
}

static int add_row(void *ctx, int n, const char *const *c)
{
    json_t *row = json_array();
    for (int i = 0; i < n; i++)
        json_array_append_new(row, json_string(c[i] ? c[i] : "-"));
    json_array_append_new(ctx, row);
    return 0;
}

void sl__cli_sync_show(sl_cli_sync_t *cs, long wait_ms)
{
    unsigned long long c[4] = {0};
    for (long waited = 0; waited < wait_ms; waited += 50) {
        sl_sync_live_counts(cs->live, c);
        if (c[0] + c[1] + c[2] + c[3] >= __atomic_load_n(&cs->submitted, __ATOMIC_RELAXED))
            break;
        sl__sleep_ms(50);
    }
    static const char *const cus_h[] = {"CUSTOMER", "EMAIL", "NAME", "EVENT"};
    static const char *const inv_h[] = {"INVOICE", "CUSTOMER", "STATUS", "AMOUNT_DUE", "LINES"};
    char err[512];
    json_t *rows = json_array();
    sl_sync_sql(cs->sync,
                "SELECT id, email, name, event_id FROM {customers} ORDER BY synced_at DESC LIMIT 3",
                0, NULL, add_row, rows, err, sizeof err);
    sl__cli_table(cus_h, 4, rows);
    json_array_clear(rows);
    printf("\n");
    sl_sync_sql(cs->sync,
                "SELECT i.id, i.customer, i.status, i.amount_due, (SELECT COUNT(*) FROM "
                "{invoice_line_items} l WHERE l.invoice = i.id AND l.account = i.account) FROM "
                "{invoices} i ORDER BY i.synced_at DESC LIMIT 3",
                0, NULL, add_row, rows, err, sizeof err);
    sl__cli_table(inv_h, 5, rows);
    json_decref(rows);
}

void sl__cli_sync_stop(sl_cli_sync_t *cs)
{
    if (!cs)
        return;
    sl_sync_live_stop(cs->live);
    sl__clients_free(cs->clients);
    sl_sync_close(cs->sync);
    free(cs);
}

/* --- the subcommands ------------------------------------------------------------------------- */
typedef struct {
    const char *data, *store, *where, *schema, *connection, *objects, *since;
    long parallel, sample;
    int json;
} opts_t;

static int parse(int argc, char **argv, opts_t *o)
{
    enum {
        O_DATA = 256,
        O_STORE,
        O_WHERE,
        O_SCHEMA,
        O_CONN,
        O_OBJECTS,
        O_SINCE,
        O_PAR,
        O_JSON,
        O_SAMPLE
    };
    static const struct option opts[] = {
        {"data", required_argument, NULL, O_DATA},
        {"store", required_argument, NULL, O_STORE},
        {"sync-store", required_argument, NULL, O_WHERE},
        {"sync-schema", required_argument, NULL, O_SCHEMA},
        {"connection", required_argument, NULL, O_CONN},
        {"objects", required_argument, NULL, O_OBJECTS},
        {"since", required_argument, NULL, O_SINCE},
        {"parallel", required_argument, NULL, O_PAR},
        {"sample", required_argument, NULL, O_SAMPLE},
        {"json", no_argument, NULL, O_JSON},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    memset(o, 0, sizeof *o);
    o->parallel = 4;
    o->sample = 20;
    int c;
    opterr = 0;
    optind = 1;
    /* The options that take a string, in the order of their codes from O_DATA. */
    const char **strs[] = {&o->data,       &o->store,   &o->where, &o->schema,
                           &o->connection, &o->objects, &o->since};
    while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        if (c >= O_DATA && c <= O_SINCE) {
            *strs[c - O_DATA] = optarg;
            continue;
        }
        switch (c) {
        case O_JSON:
            o->json = 1;
            break;
        case O_PAR:
            if (sl__cli_parse_long(optarg, 1, 64, &o->parallel))
                return sl__cli_usage_error(CMD, "--parallel takes 1 to 64");
            break;
        case O_SAMPLE:
            if (sl__cli_parse_long(optarg, 1, 100000, &o->sample))
                return sl__cli_usage_error(CMD, "--sample takes 1 to 100000 rows a table");
            break;
        case 'h':
            sl__cmd_sync_help(stdout);
            return -1;
        default:
            return sl__cli_option_error(CMD, c, argv);
        }
    }
    if (optind < argc)
        return sl__cli_usage_error(CMD, "unexpected argument `%s`", argv[optind]);
    return CLI_OK;
}

/* rebuild */
typedef struct {
    sl_event_row_t *rows;
    size_t n, cap;
    long long since_ms; /* only events received at or after it */
} events_t;

static int collect(const sl_event_row_t *r, void *ctx)
{
    events_t *e = ctx;
    if (r->received_ms < e->since_ms)
        return 0;
    if (e->n == e->cap) {
        size_t cap = e->cap ? e->cap * 2 : 1024;
        sl_event_row_t *nr = realloc(e->rows, cap * sizeof *nr);
        if (!nr)
            return 1;
        e->rows = nr;
        e->cap = cap;
    }
    e->rows[e->n] = *r;
    e->rows[e->n].payload = r->payload ? strdup(r->payload) : NULL;
    e->n++;
    return 0;
}

/* Oldest first: by the event's own second, then by when it arrived. */
static int by_created(const void *a, const void *b)
{
    const sl_event_row_t *x = a, *y = b;
    if (x->created != y->created)
        return x->created < y->created ? -1 : 1;
    if (x->received_ms != y->received_ms)
        return x->received_ms < y->received_ms ? -1 : 1;
    return strcmp(x->id, y->id);
}

typedef struct {
    events_t *ev;
    size_t from, to;
    sl_store_t *store;
    char (*accounts)[128];
    unsigned long long counts[4];
} chunk_t;

static sl_err apply_chunk(sl_sync_t *s, void *ctx, char *err, size_t errlen)
{
    chunk_t *c = ctx;
    for (size_t i = c->from; i < c->to; i++) {
        sl_event_row_t *r = &c->ev->rows[i];
        if (!r->payload)
            continue;
        sl_sync_outcome o;
        sl_err rc = sl_sync_apply_event(s, r->connection, c->accounts[i], r->payload,
                                        strlen(r->payload), NULL, &o, err, errlen);
        if (rc == SL_EPARSE) {
            c->counts[3]++;
            continue;
        }
        if (rc)
            return rc;
        c->counts[o == SL_SYNC_STALE ? 1 : o == SL_SYNC_IGNORED ? 2 : 0]++;
    }
    return SL_OK;
}

/* Applies the inbox's events received at or after since_ms (of the newest `limit`), oldest
 * first, without calling the API (after emptying the tables when `truncate`), and sets the mark
 * of the newest one applied. counts: applied, stale, without a table, unreadable. */
static sl_err apply_inbox(sl_store_t *store, sl_sync_t *sync, long long since_ms, size_t limit,
                          int truncate, unsigned long long counts[4], size_t *n, char *err,
                          size_t errlen)
{
    events_t ev = {.since_ms = since_ms};
    sl_event_filter_t f = {.limit = limit};
    sl_err rc = sl_store_events_list(store, &f, collect, &ev, err, errlen);
    char(*accounts)[128] = calloc(ev.n ? ev.n : 1, sizeof *accounts);
    if (!rc && !accounts)
        rc = SL_ENOMEM;
    long long newest = since_ms;
    if (!rc) {
        if (ev.n)
            qsort(ev.rows, ev.n, sizeof *ev.rows, by_created);
        for (size_t i = 0; i < ev.n; i++) {
            if (ev.rows[i].received_ms > newest)
                newest = ev.rows[i].received_ms;
            if (i && !strcmp(ev.rows[i].connection, ev.rows[i - 1].connection)) {
                memcpy(accounts[i], accounts[i - 1], sizeof accounts[i]);
                continue;
            }
            if (sl__cli_sync_account(store, ev.rows[i].connection, accounts[i], sizeof accounts[i]))
                snprintf(accounts[i], sizeof accounts[i], "%s", ev.rows[i].connection);
        }
        if (truncate)
            rc = sl_sync_truncate(sync, err, errlen);
    }
    chunk_t c = {&ev, 0, 0, store, accounts, {0}};
    for (size_t at = 0; !rc && at < ev.n; at += 500) {
        c.from = at;
        c.to = at + 500 < ev.n ? at + 500 : ev.n;
        rc = sl_sync_tx(sync, apply_chunk, &c, err, errlen);
    }
    if (!rc && newest >= 0)
        rc = sl_sync_mark_put(sync, SL_SYNC_MARK_INBOX, newest, err, errlen);
    memcpy(counts, c.counts, sizeof c.counts);
    *n = ev.n;
    for (size_t i = 0; i < ev.n; i++)
        free(ev.rows[i].payload);
    free(ev.rows);
    free(accounts);
    return rc;
}

static int sync_rebuild(int argc, char **argv)
{
    opts_t o;
    int ret = parse(argc, argv, &o);
    if (ret)
        return ret < 0 ? CLI_OK : ret;
    sl_cli_env_t env;
    if ((ret = sl__cli_env_open(&env, CMD, o.data, o.store, 0)))
        return ret;
    sl_sync_t *sync = NULL;
    if ((ret = sl__cli_sync_open(CMD, env.data, o.where, o.schema, &sync))) {
        sl__cli_env_close(&env);
        return ret;
    }
    char err[1024];
    unsigned long long counts[4];
    size_t n = 0;
    double t0 = sl__mono_ms();
    sl_err rc = apply_inbox(env.store, sync, -1, (size_t)1 << 40, 1, counts, &n, err, sizeof err);
    double s = (sl__mono_ms() - t0) / 1000;
    if (rc) {
        fprintf(stderr, "sluice sync: %s\n", err);
        ret = CLI_EFAIL;
    } else {
        printf("rebuilt from %zu events in %.2f s (%.0f events/s): %llu applied, %llu stale, "
               "%llu without a table, %llu unreadable\n",
               n, s, s > 0 ? (double)n / s : 0, counts[0], counts[1], counts[2], counts[3]);
    }
    sl_sync_close(sync);
    sl__cli_env_close(&env);
    return ret;
}

/* backfill */
typedef struct {
    int json, tty;
    size_t drawn;
} show_t;

static void fmt_eta(double s, char *out, size_t n)
{
    if (s < 0)
        snprintf(out, n, "?");
    else if (s < 60)
        snprintf(out, n, "%.0fs", s);
    else if (s < 3600)
        snprintf(out, n, "%.0fm%02.0fs", s / 60 - 0.5 > 0 ? (double)((long)s / 60) : 0,
                 (double)((long)s % 60));
    else
        snprintf(out, n, "%.1fh", s / 3600);
}

static void show(void *ctx, const sl_sync_progress_t *p, size_t n, int final)
{
    show_t *sh = ctx;
    if (sh->json) {
        json_t *arr = json_array();
        for (size_t i = 0; i < n; i++) {
            json_t *o = json_pack("{s:s,s:I,s:I,s:f,s:f,s:f,s:b,s:b}", "table", p[i].table, "rows",
                                  (json_int_t)p[i].rows, "pages", (json_int_t)p[i].pages,
                                  "rows_per_s", p[i].rate, "range_done", p[i].range_done, "percent",
                                  p[i].percent, "done", p[i].done, "failed", p[i].failed);
            json_object_set_new(o, "eta_s", p[i].eta_s >= 0 ? json_real(p[i].eta_s) : json_null());
            if (p[i].error)
                json_object_set_new(o, "error", json_string(p[i].error));
            json_array_append_new(arr, o);
        }
        json_t *line = json_pack("{s:b,s:o}", "final", final, "tables", arr);
        json_dumpf(line, stdout, JSON_COMPACT);
        fputc('\n', stdout);
        fflush(stdout);
        json_decref(line);
        return;
    }
    FILE *out = stderr;
    if (sh->tty && sh->drawn)
        fprintf(out, "\033[%zuA", sh->drawn);
    for (size_t i = 0; i < n; i++) {
        char eta[32], bar[21];
        fmt_eta(p[i].eta_s, eta, sizeof eta);
        int fill = (int)(p[i].percent / 5);
        for (int k = 0; k < 20; k++)
            bar[k] = k < fill ? '#' : '.';
        bar[20] = 0;
        const char *state = p[i].failed ? "failed" : p[i].done ? "done" : "";
        if (sh->tty)
            fprintf(out,
                    "\r\033[K%-24s [%s] %5.1f%% %9lld rows %7.0f/s  range %3.0f%%  ETA %-6s %s\n",
                    p[i].table, bar, p[i].percent, p[i].rows, p[i].rate, p[i].range_done * 100, eta,
                    state);
        else if (!final || p[i].done || p[i].failed)
            fprintf(out, "backfill: %s %.1f%% %lld rows %.0f/s range %.0f%% eta %s%s%s\n",
                    p[i].table, p[i].percent, p[i].rows, p[i].rate, p[i].range_done * 100, eta,
                    *state ? " " : "", state);
        if (final && p[i].failed)
            fprintf(out, "  %s: %s\n", p[i].table, p[i].error);
    }
    sh->drawn = n;
    if (final && sh->tty)
        sh->drawn = 0;
    fflush(out);
}

/* The connection --connection names (or the only one), a client of it, its account, and the
 * sync database; a CLI exit code with the problem printed. */
static int open_conn(const opts_t *o, sl_cli_env_t *env, sl_client_t **client, char *account,
                     size_t accountlen, sl_sync_t **sync)
{
    char err[1024];
    char names[2][64];
    size_t nn = 0;
    sl_cli_names_t acc = {names, &nn, 2};
    const char *conn = o->connection;
    if (!conn) {
        sl_store_conn_list(env->store, sl__cli_collect_name, &acc, err, sizeof err);
        if (nn != 1) {
            fprintf(stderr, "sluice sync: %s; name one with --connection NAME\n",
                    nn ? "there are several connections"
                       : "there is no connection (sluice connect add NAME --key sk_...)");
            return CLI_EUSAGE;
        }
        conn = names[0];
    }
    sl_conn_row_t row;
    if (sl_store_conn_get(env->store, conn, &row, err, sizeof err)) {
        fprintf(stderr, "sluice sync: no connection is named `%s`\n", conn);
        return CLI_ENOTFOUND;
    }
    snprintf(account, accountlen, "%s", *row.account_id ? row.account_id : conn);
    sl_err rc = sl__conn_client(&row, &env->crypt, NULL, client, err, sizeof err);
    sl_conn_row_cleanup(&row);
    if (rc) {
        fprintf(stderr, "sluice sync: %s\n", err);
        return CLI_EFAIL;
    }
    int ret = sl__cli_sync_open(CMD, env->data, o->where, o->schema, sync);
    if (ret) {
        sl_client_free(*client);
        *client = NULL;
    }
    return ret;
}

static int sync_backfill(int argc, char **argv)
{
    opts_t o;
    int ret = parse(argc, argv, &o);
    if (ret)
        return ret < 0 ? CLI_OK : ret;
    const sl_sync_table_t *tables[256];
    size_t nt = 0;
    char list[4096];
    snprintf(list, sizeof list, "%s", o.objects ? o.objects : "");
    if (o.objects) {
        for (char *tok = strtok(list, ","); tok; tok = strtok(NULL, ",")) {
            const sl_sync_table_t *t = sl_sync_table(tok);
            if (!t)
                return sl__cli_usage_error(CMD,
                                           "--objects: no table is named `%s` (see `sluice sync "
                                           "tables`)",
                                           tok);
            if (!t->listable)
                return sl__cli_usage_error(CMD,
                                           "--objects: `%s` cannot be listed on its own; it is "
                                           "filled from %s",
                                           tok, *t->parent ? t->parent : "its parent objects");
            if (nt < 256)
                tables[nt++] = t;
        }
    } else {
        for (size_t i = 0; i < sizeof default_objects / sizeof *default_objects; i++)
            tables[nt++] = sl_sync_table(default_objects[i]);
    }
    if (!nt)
        return sl__cli_usage_error(CMD, "--objects names no table");
    long long since_ms = 0;
    if (o.since && sl__cli_parse_since(o.since, &since_ms))
        return sl__cli_usage_error(CMD, "--since takes a date (2025-01-31), a UTC time "
                                        "(2025-01-31T09:00:00Z) or an age (7d, 12h)");
    sl_cli_env_t env;
    if ((ret = sl__cli_env_open(&env, CMD, o.data, o.store, 1)))
        return ret;
    char err[1024], account[128];
    sl_client_t *client = NULL;
    sl_sync_t *sync = NULL;
    if ((ret = open_conn(&o, &env, &client, account, sizeof account, &sync))) {
        sl__cli_env_close(&env);
        return ret;
    }
    show_t sh = {o.json, !o.json && isatty(2), 0};
    sl_sync_backfill_t b = {client,
                            account,
                            tables,
                            nt,
                            since_ms / 1000,
                            (int)o.parallel,
                            show,
                            &sh,
                            sh.tty || o.json ? 500 : 2000};
    double t0 = sl__mono_ms();
    sl_err rc = sl_sync_backfill(sync, &b, err, sizeof err);
    if (rc) {
        fprintf(stderr, "sluice sync: %s\n", err);
        ret = CLI_EFAIL;
    } else if (!o.json) {
        fprintf(stderr, "backfill of %zu table%s into %s finished in %.1f s\n", nt,
                nt == 1 ? "" : "s", sl_sync_kind(sync), (sl__mono_ms() - t0) / 1000);
    }
    sl_sync_close(sync);
    sl_client_free(client);
    sl__cli_env_close(&env);
    return ret;
}

/* verify */
/* Equal, or one side an expanded object whose id is the other side. */
static int same_value(const json_t *a, const json_t *b)
{
    if (json_equal(a, b))
        return 1;
    const json_t *ida = json_is_object(a) ? json_object_get(a, "id") : a;
    const json_t *idb = json_is_object(b) ? json_object_get(b, "id") : b;
    return json_is_string(ida) && json_is_string(idb) && (json_is_object(a) != json_is_object(b)) &&
           json_equal(ida, idb);
}

typedef struct {
    json_t *rows; /* [id, data] */
} sample_t;

static int sample_row(void *ctx, int n, const char *const *c)
{
    sample_t *sm = ctx;
    if (n >= 2 && c[0] && c[1])
        json_array_append_new(sm->rows, json_pack("[s,s]", c[0], c[1]));
    return 0;
}

static int sync_verify(int argc, char **argv)
{
    opts_t o;
    int ret = parse(argc, argv, &o);
    if (ret)
        return ret < 0 ? CLI_OK : ret;
    const sl_sync_table_t *tables[256];
    size_t nt = 0;
    char list[4096];
    snprintf(list, sizeof list, "%s", o.objects ? o.objects : "");
    for (char *tok = o.objects ? strtok(list, ",") : NULL; tok; tok = strtok(NULL, ",")) {
        const sl_sync_table_t *t = sl_sync_table(tok);
        if (!t || !*t->retrieve)
            return sl__cli_usage_error(CMD, "--objects: `%s` is %s", tok,
                                       t ? "not a table whose objects can be read one by one"
                                         : "no table (see `sluice sync tables`)");
        if (nt < 256)
            tables[nt++] = t;
    }
    if (!o.objects)
        for (size_t i = 0; i < sizeof default_objects / sizeof *default_objects; i++)
            tables[nt++] = sl_sync_table(default_objects[i]);
    sl_cli_env_t env;
    if ((ret = sl__cli_env_open(&env, CMD, o.data, o.store, 1)))
        return ret;
    char err[1024], account[128], n[24];
    sl_client_t *client = NULL;
    sl_sync_t *sync = NULL;
    if ((ret = open_conn(&o, &env, &client, account, sizeof account, &sync))) {
        sl__cli_env_close(&env);
        return ret;
    }
    snprintf(n, sizeof n, "%ld", o.sample);
    json_t *diffs = json_array();
    size_t checked = 0;
    sl_err rc = SL_OK;
    for (size_t t = 0; t < nt && !rc; t++) {
        char sql[256];
        snprintf(sql, sizeof sql,
                 "SELECT id, data FROM {%s} WHERE account = $1 AND NOT deleted ORDER BY random() "
                 "LIMIT $2",
                 tables[t]->name);
        sample_t sm = {json_array()};
        const char *v[] = {account, n};
        rc = sl_sync_sql(sync, sql, 2, v, sample_row, &sm, err, sizeof err);
        size_t i;
        json_t *r;
        json_array_foreach(sm.rows, i, r)
        {
            const char *id = json_string_value(json_array_get(r, 0));
            json_t *row = json_loads(json_string_value(json_array_get(r, 1)), 0, NULL);
            char path[512];
            const char *brace = strchr(tables[t]->retrieve, '{');
            snprintf(path, sizeof path, "%.*s%s", (int)(brace - tables[t]->retrieve),
                     tables[t]->retrieve, id);
            sl_request_t req = {.method = "GET", .path = path};
            sl_response_t resp;
            sl_err grc = sl_client_request(client, &req, &resp);
            json_t *fields = json_array();
            if (grc) {
                json_array_append_new(fields,
                                      json_string(resp.status == 404 ? "(gone from the API)"
                                                                     : "(could not be read)"));
            } else {
                const char *k;
                json_t *val;
                json_object_foreach(resp.json, k, val)
                {
                    if (!same_value(val, json_object_get(row, k)))
                        json_array_append_new(fields, json_string(k));
                }
                json_object_foreach(row, k, val)
                {
                    if (!json_object_get(resp.json, k))
                        json_array_append_new(fields, json_string(k));
                }
            }
            sl_response_cleanup(&resp);
            json_decref(row);
            checked++;
            if (json_array_size(fields))
                json_array_append_new(diffs, json_pack("{s:s,s:s,s:o}", "table", tables[t]->name,
                                                       "id", id, "fields", fields));
            else
                json_decref(fields);
        }
        json_decref(sm.rows);
    }
    if (rc) {
        fprintf(stderr, "sluice sync: %s\n", err);
        ret = CLI_EFAIL;
    } else {
        if (o.json) {
            json_t *doc =
                json_pack("{s:I,s:O}", "checked", (json_int_t)checked, "differences", diffs);
            json_dumpf(doc, stdout, JSON_INDENT(2));
            fputc('\n', stdout);
            json_decref(doc);
        } else {
            size_t i;
            json_t *d;
            json_array_foreach(diffs, i, d)
            {
                printf(
                    "%s %s differs from the API:", json_string_value(json_object_get(d, "table")),
                    json_string_value(json_object_get(d, "id")));
                size_t k;
                json_t *f;
                json_array_foreach(json_object_get(d, "fields"), k, f)
                    printf(" %s", json_string_value(f));
                printf("\n");
            }
            printf("checked %zu row%s against the API: %zu differ%s\n", checked,
                   checked == 1 ? "" : "s", json_array_size(diffs),
                   json_array_size(diffs) == 1 ? "s" : "");
        }
        ret = json_array_size(diffs) ? CLI_EFAIL : CLI_OK;
    }
    json_decref(diffs);
    sl_sync_close(sync);
    sl_client_free(client);
    sl__cli_env_close(&env);
    return ret;
}

/* status */
typedef struct {
    json_t *row;
} one_t;

static int status_row(void *ctx, int n, const char *const *c)
{
    one_t *o = ctx;
    o->row = json_array();
    for (int i = 0; i < n; i++)
        json_array_append_new(o->row, c[i] ? json_string(c[i]) : json_null());
    return 1;
}

static int sync_status(int argc, char **argv)
{
    opts_t o;
    int ret = parse(argc, argv, &o);
    if (ret)
        return ret < 0 ? CLI_OK : ret;
    char data[4096], err[1024];
    if (sl__data_dir(o.data, data, sizeof data, err, sizeof err)) {
        fprintf(stderr, "sluice sync: %s\n", err);
        return CLI_EFAIL;
    }
    sl_sync_t *sync = NULL;
    if ((ret = sl__cli_sync_open(CMD, data, o.where, o.schema, &sync)))
        return ret;
    json_t *out = json_array(), *rows = json_array();
    sl_err rc = SL_OK;
    for (size_t i = 0; i < sl__sync_ntables && !rc; i++) {
        const sl_sync_table_t *t = &sl__sync_tables[i];
        char sql[512];
        snprintf(sql, sizeof sql,
                 "SELECT COUNT(*), SUM(CASE WHEN deleted THEN 1 ELSE 0 END), MAX(synced_at), "
                 "(SELECT event_id FROM {%s} WHERE event_id IS NOT NULL ORDER BY synced_at DESC "
                 "LIMIT 1) FROM {%s}",
                 t->name, t->name);
        one_t a = {NULL}, b = {NULL};
        rc = sl_sync_sql(sync, sql, 0, NULL, status_row, &a, err, sizeof err);
        const char *v[] = {t->name};
        if (!rc)
            rc = sl_sync_sql(sync,
                             "SELECT account, started_ms, finished_ms, rows, (SELECT COUNT(*) "
                             "FROM {sync_backfill_ranges} r WHERE r.tbl = $1 AND NOT r.done) "
                             "FROM {sync_backfills} WHERE tbl = $1 ORDER BY started_ms DESC",
                             1, v, status_row, &b, err, sizeof err);
        long long n = a.row ? atoll(json_string_value(json_array_get(a.row, 0)) ?: "0") : 0;
        if (!rc && (n > 0 || b.row)) {
            const char *del = json_string_value(json_array_get(a.row, 1));
            const char *last = json_string_value(json_array_get(a.row, 3));
            char backfill[160] = "never";
            if (b.row) {
                const char *fin = json_string_value(json_array_get(b.row, 2));
                long long r = atoll(json_string_value(json_array_get(b.row, 3)) ?: "0");
                char when[64];
                if (fin) {
                    sl__cli_when(atoll(fin), when, sizeof when);
                    snprintf(backfill, sizeof backfill, "finished %s", when);
                } else {
                    snprintf(backfill, sizeof backfill, "unfinished (%s ranges left; run it again)",
                             json_string_value(json_array_get(b.row, 4)) ?: "?");
                }
                (void)r;
            }
            char synced[64] = "";
            const char *ms = json_string_value(json_array_get(a.row, 2));
            if (ms)
                sl__cli_when(atoll(ms), synced, sizeof synced);
            json_array_append_new(out,
                                  json_pack("{s:s,s:I,s:I,s:s?,s:s?,s:s}", "table", t->name, "rows",
                                            (json_int_t)n, "deleted",
                                            (json_int_t)(del ? atoll(del) : 0), "last_event", last,
                                            "synced_at", ms ? synced : NULL, "backfill", backfill));
            char cn[24], cd[24];
            snprintf(cn, sizeof cn, "%lld", n);
            snprintf(cd, sizeof cd, "%lld", del ? atoll(del) : 0);
            json_array_append_new(rows, json_pack("[s,s,s,s,s,s]", t->name, cn, cd,
                                                  last ? last : "-", ms ? synced : "-", backfill));
        }
        json_decref(a.row);
        json_decref(b.row);
    }
    if (rc) {
        fprintf(stderr, "sluice sync: %s\n", err);
        ret = CLI_EFAIL;
    } else if (o.json) {
        json_t *doc = json_pack("{s:s,s:O}", "store", sl_sync_kind(sync), "tables", out);
        json_dumpf(doc, stdout, JSON_INDENT(2));
        fputc('\n', stdout);
        json_decref(doc);
    } else if (!json_array_size(rows)) {
        printf("the sync tables (%s) are empty: run `sluice sync backfill`, or `sluice serve "
               "--sync`\n",
               sl_sync_kind(sync));
    } else {
        static const char *const headers[] = {"TABLE",      "ROWS",   "DELETED",
                                              "LAST EVENT", "SYNCED", "BACKFILL"};
        sl__cli_table(headers, 6, rows);
    }
    json_decref(out);
    json_decref(rows);
    sl_sync_close(sync);
    return ret;
}

static int sync_tables(int argc, char **argv)
{
    opts_t o;
    int ret = parse(argc, argv, &o);
    if (ret)
        return ret < 0 ? CLI_OK : ret;
    json_t *arr = json_array();
    for (size_t i = 0; i < sl__sync_ntables; i++) {
        const sl_sync_table_t *t = &sl__sync_tables[i];
        json_t *cols = json_array();
        for (size_t c = 0; c < t->ncols; c++)
            json_array_append_new(cols, json_string(t->cols[c].name));
        if (o.json)
            json_array_append_new(arr, json_pack("{s:s,s:s,s:s,s:b,s:o}", "table", t->name,
                                                 "object", t->object, "list", t->list, "backfill",
                                                 t->listable, "columns", cols));
        else {
            printf("%-32s %-30s %s\n", t->name, t->object,
                   t->listable  ? t->list
                   : *t->parent ? t->parent
                                : "(events only)");
            json_decref(cols);
        }
    }
    if (o.json) {
        json_dumpf(arr, stdout, JSON_INDENT(2));
        fputc('\n', stdout);
    }
    json_decref(arr);
    return CLI_OK;
}

int sl__cmd_sync(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        sl__cmd_sync_help(argc < 2 ? stderr : stdout);
        return argc < 2 ? CLI_EUSAGE : CLI_OK;
    }
    if (!strcmp(argv[1], "backfill"))
        return sync_backfill(argc - 1, argv + 1);
    if (!strcmp(argv[1], "rebuild"))
        return sync_rebuild(argc - 1, argv + 1);
    if (!strcmp(argv[1], "status"))
        return sync_status(argc - 1, argv + 1);
    if (!strcmp(argv[1], "tables"))
        return sync_tables(argc - 1, argv + 1);
    if (!strcmp(argv[1], "verify"))
        return sync_verify(argc - 1, argv + 1);
    return sl__cli_usage_error(CMD, "unknown subcommand `%s`; see `sluice sync --help`", argv[1]);
}
