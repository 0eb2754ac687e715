/* The account's money, as Stripe's test mode moves it: the balance (what the kept charges paid,
 * less refunds: available at once for pm_card_bypassPending, pending otherwise, with
 * balance.available), a customer's cash balance funded by the test helper
 * (customer_cash_balance_transaction.created, cash_balance.funds_available), and report runs,
 * which succeed at once (reporting.report_run.succeeded). */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core/rand.h"
#include "emulator/fixtures.h"
#include "emulator/internal.h"

/* Adds amount in currency to a balance list ([{amount, currency, source_types: {card}}]). */
static void add_funds(json_t *list, const char *currency, json_int_t amount)
{
    size_t i;
    json_t *f;
    json_array_foreach(list, i, f)
    {
        if (strcmp(json_string_value(json_object_get(f, "currency")) ?: "", currency))
            continue;
        json_int_t now = json_integer_value(json_object_get(f, "amount")) + amount;
        json_object_set_new(f, "amount", json_integer(now));
        json_object_set_new(f, "source_types", json_pack("{s:I}", "card", now));
        return;
    }
    json_array_append_new(list, json_pack("{s:I,s:s,s:{s:I}}", "amount", amount, "currency",
                                          currency, "source_types", "card", amount));
}

/* The balance the kept charges make (new reference). */
static json_t *balance_now(sl_emulator_t *e)
{
    json_t *bal = json_loads(sl__fixture_json("balance"), 0, NULL);
    json_t *available = json_array(), *pending = json_array();
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(e->lists, "charge"), i, v)
    {
        json_t *ch = sl__emu_read(e, json_string_value(v)); /* read: none is changed */
        if (!sl__emu_is_a(ch, "charge") || !json_is_true(json_object_get(ch, "captured")) ||
            strcmp(sl__emu_status_of(ch), "succeeded")) {
            json_decref(ch);
            continue;
        }
        json_int_t net = json_integer_value(json_object_get(ch, "amount")) -
                         json_integer_value(json_object_get(ch, "amount_refunded"));
        const sl_emu_card_t *card =
            sl__emu_card_of(e, json_string_value(json_object_get(ch, "payment_method")));
        int now = card && strcmp(card->name, "bypassPending") == 0;
        add_funds(now ? available : pending,
                  json_string_value(json_object_get(ch, "currency")) ?: "usd", net);
        json_decref(ch);
    }
    if (!json_array_size(available))
        add_funds(available, "usd", 0);
    if (!json_array_size(pending))
        add_funds(pending, "usd", 0);
    json_object_set_new(bal, "available", available);
    json_object_set_new(bal, "pending", pending);
    json_object_set_new(bal, "livemode", json_false());
    json_object_del(bal, "instant_available");
    json_object_del(bal, "issuing");
    return bal;
}

void sl__emu_balance_available(sl_emulator_t *e, const char *request_id, const char *idem_key)
{
    json_t *bal = balance_now(e);
    sl__emu_emit(e, "balance.available", bal, NULL, request_id, idem_key);
    json_decref(bal);
}

/* A customer's cash balance and its transactions are kept beside the customer, as
 * "<cus>/cash_balance" and "<cus>/cash_balance_transactions" (a list, newest first). */
static json_t *cash_balance_of(sl_emulator_t *e, const char *customer, int make)
{
    char key[160];
    snprintf(key, sizeof key, "%s/cash_balance", customer);
    json_t *cb = sl__emu_get(e, key);
    if (cb || !make)
        return cb;
    cb = json_pack("{s:s,s:{},s:s,s:b,s:{s:s,s:b}}", "object", "cash_balance", "available",
                   "customer", customer, "livemode", 0, "settings", "reconciliation_mode",
                   "automatic", "using_merchant_default", 1);
    sl__emu_put(e, key, cb);
    json_decref(cb);
    return sl__emu_get(e, key);
}

sl_emu_reply_t sl__emu_money(sl_emulator_t *e, const char *name, const char *id, json_t *typed,
                             const char *request_id, const char *idem_key)
{
    if (strcmp(name, "balance.retrieve") == 0)
        return (sl_emu_reply_t){200, balance_now(e), 0, NULL, 0, 0};
    const json_t *cus = id ? sl__emu_get(e, id) : NULL;
    if (!sl__emu_is_a(cus, "customer"))
        return sl__emu_no_such("customer", id ? id : "");
    char key[160], url[160];
    snprintf(key, sizeof key, "%s/cash_balance_transactions", id);
    snprintf(url, sizeof url, "/v1/customers/%s/cash_balance_transactions", id);
    if (strcmp(name, "customers.cash_balance.retrieve") == 0) {
        const json_t *cb = cash_balance_of(e, id, 0);
        json_t *out =
            cb ? json_deep_copy(cb)
               : json_pack("{s:s,s:{},s:s,s:b,s:{s:s,s:b}}", "object", "cash_balance", "available",
                           "customer", id, "livemode", 0, "settings", "reconciliation_mode",
                           "automatic", "using_merchant_default", 1);
        return (sl_emu_reply_t){200, out, 0, NULL, 0, 0};
    }
    if (strcmp(name, "customers.cash_balance_transactions.list") == 0) {
        const json_t *txns = sl__emu_get(e, key);
        return sl__emu_page(txns ? json_copy(json_object_get(txns, "data")) : json_array(), typed,
                            url);
    }
    /* test_helpers.customers.fund_cash_balance: a bank transfer arrives for the customer. */
    json_int_t amount = json_integer_value(json_object_get(typed, "amount"));
    const char *currency = json_string_value(json_object_get(typed, "currency")) ?: "";
    if (amount <= 0)
        return sl__emu_error(400, "invalid_request_error", "parameter_invalid", "amount",
                             "The amount to fund must be a positive integer; %lld was given.",
                             (long long)amount);
    json_t *cb = cash_balance_of(e, id, 1);
    json_t *avail = json_object_get(cb, "available");
    json_int_t ending = json_integer_value(json_object_get(avail, currency)) + amount;
    json_object_set_new(avail, currency, json_integer(ending));
    char tid[64];
    sl__emu_must_rand(sl__rand_id("ccsbtxn", tid, sizeof tid));
    const char *ref = json_string_value(json_object_get(typed, "reference"));
    static const char *const rails[][2] = {{"eur", "eu_bank_transfer"},
                                           {"gbp", "gb_bank_transfer"},
                                           {"jpy", "jp_bank_transfer"},
                                           {"mxn", "mx_bank_transfer"}};
    const char *rail = "us_bank_transfer";
    for (size_t i = 0; i < sizeof rails / sizeof *rails; i++)
        if (strcmp(currency, rails[i][0]) == 0)
            rail = rails[i][1];
    json_t *txn = json_pack(
        "{s:s,s:s,s:I,s:s,s:s,s:I,s:{s:{s:s,s:s}},s:b,s:I,s:s}", "id", tid, "object",
        "customer_cash_balance_transaction", "created", (json_int_t)time(NULL), "currency",
        currency, "customer", id, "ending_balance", ending, "funded", "bank_transfer", "reference",
        ref ? ref : tid, "type", rail, "livemode", 0, "net_amount", amount, "type", "funded");
    json_t *list = sl__emu_get(e, key);
    if (!list) {
        list = json_pack("{s:s,s:[],s:b,s:s}", "object", "list", "data", "has_more", 0, "url", url);
        sl__emu_put(e, key, list);
        json_decref(list);
        list = sl__emu_get(e, key);
    }
    json_array_insert(json_object_get(list, "data"), 0, txn);
    json_t *reply = json_deep_copy(txn);
    json_decref(txn); /* the list holds it */
    snprintf(url, sizeof url, "%s/cash_balance", id);
    sl__emu_touch(e, key);
    sl__emu_touch(e, url);
    sl__emu_emit(e, "customer_cash_balance_transaction.created", reply, NULL, request_id, idem_key);
    sl__emu_emit(e, "cash_balance.funds_available", cb, NULL, request_id, idem_key);
    return (sl_emu_reply_t){200, reply, 0, NULL, 0, 0};
}

sl_emu_reply_t sl__emu_report_runs(sl_emulator_t *e, json_t *typed, const char *request_id,
                                   const char *idem_key)
{
    /* The run succeeds at once; its result is a file the emulator does not serve (url null). */
    json_int_t now = (json_int_t)time(NULL);
    json_object_set_new(typed, "status", json_string("succeeded"));
    json_object_set_new(typed, "succeeded_at", json_integer(now));
    json_object_set_new(typed, "error", json_null());
    sl_emu_reply_t out = sl__emu_create(e, sl__emu_resource("reporting.report_runs", 21), typed,
                                        request_id, idem_key);
    if (out.status != 200)
        return out;
    json_t *run = sl__emu_get(e, json_string_value(json_object_get(out.body, "id")));
    json_decref(out.body);
    const char *rid = json_string_value(json_object_get(run, "id"));
    json_t *file = json_object_get(run, "result");
    if (json_is_object(file)) {
        char fid[64], fname[128];
        sl__emu_must_rand(sl__rand_id("file", fid, sizeof fid));
        snprintf(fname, sizeof fname, "%s.csv", rid);
        json_object_set_new(file, "id", json_string(fid));
        json_object_set_new(file, "created", json_integer(now));
        json_object_set_new(file, "expires_at", json_integer(now + 7 * 86400));
        json_object_set_new(file, "filename", json_string(fname));
        json_object_set_new(file, "url", json_null());
        json_object_set_new(file, "livemode", json_false());
    }
    sl__emu_touch(e, rid);
    sl__emu_emit(e, "reporting.report_run.succeeded", run, NULL, request_id, idem_key);
    return (sl_emu_reply_t){200, json_deep_copy(run), 0, NULL, 0, 0};
}
