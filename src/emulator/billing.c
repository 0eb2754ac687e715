/* Billing: invoices (draft -> open -> paid | void | uncollectible) and their items, and
 * subscriptions, whose invoices are made and paid when they start and when they renew. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core/rand.h"
#include "emulator/fixtures.h"
#include "emulator/internal.h"

/* Rebuilds an invoice's lines and totals from the invoice items attached to it. */
sl_emu_reply_t sl__emu_discount(sl_emulator_t *e, json_t *owner, const json_t *typed,
                                const char *request_id, const char *idem_key, json_t *previous)
{
    const json_t *c = json_object_get(typed, "coupon");
    const json_t *pc = json_object_get(typed, "promotion_code");
    if (!c && !pc)
        return (sl_emu_reply_t){0, NULL, 0, NULL, 0, 0};
    const char *kind = json_string_value(json_object_get(owner, "object")) ?: "";
    int on_customer = strcmp(kind, "customer") == 0;
    const json_t *promo = NULL;
    if (json_string_value(pc) && *json_string_value(pc)) {
        promo = sl__emu_get(e, json_string_value(pc));
        if (!promo ||
            strcmp(json_string_value(json_object_get(promo, "object")) ?: "", "promotion_code"))
            return sl__emu_error(400, "invalid_request_error", "resource_missing", "promotion_code",
                                 "No such promotion code: '%s'", json_string_value(pc));
        c = json_object_get(json_object_get(promo, "coupon"), "id");
    }
    json_t *old = json_object_get(owner, "discount");
    int had = json_is_object(old);
    if (previous)
        json_object_set(previous, "discount", old ? old : json_null());
    const char *cid = json_string_value(c);
    if (!cid || !*cid) { /* coupon="" removes it */
        if (had) {
            json_t *gone = json_incref(old);
            json_object_set_new(owner, "discount", json_null());
            if (on_customer)
                sl__emu_emit(e, "customer.discount.deleted", gone, NULL, request_id, idem_key);
            json_decref(gone);
        }
        return (sl_emu_reply_t){0, NULL, 0, NULL, 0, 0};
    }
    const json_t *coupon = sl__emu_get(e, cid);
    if (!coupon || strcmp(json_string_value(json_object_get(coupon, "object")) ?: "", "coupon"))
        return sl__emu_error(400, "invalid_request_error", "resource_missing", "coupon",
                             "No such coupon: '%s'", cid);
    char id[64];
    sl__emu_must_rand(sl__rand_id("di", id, sizeof id));
    json_int_t now = (json_int_t)time(NULL);
    const char *duration = json_string_value(json_object_get(coupon, "duration")) ?: "once";
    const json_t *months = json_object_get(coupon, "duration_in_months");
    json_t *end = strcmp(duration, "repeating") == 0 && json_is_integer(months)
                      ? json_integer(now + json_integer_value(months) * 30 * 86400)
                      : json_null();
    json_t *d =
        json_pack("{s:s,s:s,s:n,s:O,s:O,s:o,s:n,s:n,s:O,s:I,s:O}", "id", id, "object", "discount",
                  "checkout_session", "coupon", coupon, "customer",
                  on_customer ? json_object_get(owner, "id") : json_object_get(owner, "customer"),
                  "end", end, "invoice", "invoice_item", "promotion_code",
                  promo ? json_object_get(promo, "id") : json_null(), "start", now, "subscription",
                  on_customer ? json_null() : json_object_get(owner, "id"));
    json_object_set_new(owner, "discount", d);
    json_t *cp = sl__emu_get(e, cid);
    json_object_set_new(
        cp, "times_redeemed",
        json_integer(json_integer_value(json_object_get(cp, "times_redeemed")) + 1));
    sl__emu_touch(e, cid);
    if (on_customer)
        sl__emu_emit(e, had ? "customer.discount.updated" : "customer.discount.created", d, NULL,
                     request_id, idem_key);
    return (sl_emu_reply_t){0, NULL, 0, NULL, 0, 0};
}

sl_emu_reply_t sl__emu_discount_take(sl_emulator_t *e, json_t *typed, json_t **disc)
{
    *disc = json_pack("{s:O?,s:O?}", "coupon", json_object_get(typed, "coupon"), "promotion_code",
                      json_object_get(typed, "promotion_code"));
    json_object_del(typed, "coupon");
    json_object_del(typed, "promotion_code");
    static const char *const kinds[][2] = {{"coupon", "coupon"},
                                           {"promotion_code", "promotion code"}};
    for (size_t i = 0; i < 2; i++) {
        const char *v = json_string_value(json_object_get(*disc, kinds[i][0]));
        const json_t *o = v && *v ? sl__emu_get(e, v) : NULL;
        if (v && *v &&
            (!o || strcmp(json_string_value(json_object_get(o, "object")) ?: "", kinds[i][0]))) {
            sl_emu_reply_t bad = sl__emu_error(400, "invalid_request_error", "resource_missing",
                                               kinds[i][0], "No such %s: '%s'", kinds[i][1], v);
            json_decref(*disc);
            *disc = NULL;
            return bad;
        }
    }
    return (sl_emu_reply_t){0, NULL, 0, NULL, 0, 0};
}

sl_emu_reply_t sl__emu_promotion_codes(sl_emulator_t *e, const char *verb, const char *id,
                                       json_t *typed, const char *request_id, const char *idem_key)
{
    const sl_emu_resource_t *r = sl__emu_resource("promotion_codes", 15);
    if (strcmp(verb, "create"))
        return sl__emu_update(e, r, id ? id : "", typed, request_id, idem_key);
    const char *cid = json_string_value(json_object_get(typed, "coupon"));
    const json_t *coupon = cid ? sl__emu_get(e, cid) : NULL;
    if (!coupon || strcmp(json_string_value(json_object_get(coupon, "object")) ?: "", "coupon"))
        return sl__emu_error(400, "invalid_request_error", "resource_missing", "coupon",
                             "No such coupon: '%s'", cid ? cid : "");
    const char *code = json_string_value(json_object_get(typed, "code"));
    char made[16];
    if (!code) { /* Stripe makes a code customers can type */
        sl__emu_must_rand(sl__rand_token(made, 8));
        for (char *p = made; *p; p++)
            if (*p >= 'a' && *p <= 'z')
                *p = (char)(*p - 'a' + 'A');
        code = made;
    }
    const json_t *codes = json_object_get(e->lists, "promotion_code");
    for (size_t i = 0; i < json_array_size(codes); i++) {
        const char *pid = json_string_value(json_array_get(codes, i));
        if (!sl__emu_may_match(e, pid, "code", code))
            continue;
        const json_t *v = sl__emu_get(e, pid);
        if (json_is_true(json_object_get(v, "active")) &&
            strcmp(json_string_value(json_object_get(v, "code")) ?: "", code) == 0)
            return sl__emu_error(400, "invalid_request_error", "resource_already_exists", "code",
                                 "An active promotion code with `code: %s` already exists.", code);
    }
    json_object_set_new(typed, "code", json_string(code));
    json_object_set(typed, "coupon", (json_t *)coupon);
    if (!json_object_get(typed, "active"))
        json_object_set_new(typed, "active", json_true());
    json_object_set_new(typed, "times_redeemed", json_integer(0));
    if (!json_object_get(typed, "expires_at"))
        json_object_set_new(typed, "expires_at", json_null());
    return sl__emu_create(e, r, typed, request_id, idem_key);
}

/* What discount `d` takes off `total`: its coupon's percent, or its amount when in `currency`. */
static json_int_t discount_off(const json_t *d, json_int_t total, const json_t *currency)
{
    const json_t *coupon = json_object_get(d, "coupon");
    json_int_t off = 0;
    if (json_is_number(json_object_get(coupon, "percent_off")))
        off =
            (json_int_t)(total * json_number_value(json_object_get(coupon, "percent_off")) / 100.0 +
                         0.5);
    else if (json_is_integer(json_object_get(coupon, "amount_off")) &&
             json_equal(json_object_get(coupon, "currency"), (json_t *)currency))
        off = json_integer_value(json_object_get(coupon, "amount_off"));
    return off > total ? total : off;
}

/* The discount an invoice gets: its subscription's, else its customer's (NULL if none). */
static const json_t *discount_of(sl_emulator_t *e, const json_t *inv)
{
    const json_t *sub =
        sl__emu_get(e, json_string_value(json_object_get(inv, "subscription")) ?: "");
    const json_t *d = json_object_get(sub, "discount");
    if (json_is_object(d))
        return d;
    const json_t *cus = sl__emu_get(e, json_string_value(json_object_get(inv, "customer")) ?: "");
    d = json_object_get(cus, "discount");
    return json_is_object(d) ? d : NULL;
}

static void invoice_total(sl_emulator_t *e, json_t *inv)
{
    const char *id = json_string_value(json_object_get(inv, "id"));
    json_t *lines = json_array();
    json_int_t total = 0;
    const json_t *items = json_object_get(e->lists, "invoiceitem");
    for (size_t i = 0; i < json_array_size(items); i++) {
        const char *iid = json_string_value(json_array_get(items, i));
        if (!sl__emu_may_match(e, iid, "invoice", id))
            continue;
        const json_t *ii = sl__emu_get(e, iid);
        if (!ii || strcmp(json_string_value(json_object_get(ii, "invoice")) ?: "", id))
            continue;
        json_int_t amount = json_integer_value(json_object_get(ii, "amount"));
        total += amount;
        json_array_append_new(
            lines, json_pack("{s:s,s:s,s:I,s:O,s:O,s:s,s:O}", "id",
                             json_string_value(json_object_get(ii, "id")), "object", "line_item",
                             "amount", amount, "currency", json_object_get(ii, "currency"),
                             "description", json_object_get(ii, "description"), "type",
                             "invoiceitem", "invoice_item", json_object_get(ii, "id")));
    }
    char url[80];
    snprintf(url, sizeof url, "/v1/invoices/%s/lines", id);
    json_object_set_new(inv, "lines",
                        json_pack("{s:s,s:o,s:b,s:I,s:s}", "object", "list", "data", lines,
                                  "has_more", 0, "total_count", (json_int_t)json_array_size(lines),
                                  "url", url));
    /* A coupon takes its percent, or its amount in the invoice's currency, off the subtotal. */
    const json_t *d = discount_of(e, inv);
    json_int_t off = discount_off(d, total, json_object_get(inv, "currency"));
    json_object_set(inv, "discount", d ? (json_t *)d : json_null());
    json_object_set_new(
        inv, "total_discount_amounts",
        d ? json_pack("[{s:I,s:O}]", "amount", off, "discount", json_object_get(d, "id"))
          : json_array());
    const char *keys[] = {"subtotal", "subtotal_excluding_tax"};
    for (size_t i = 0; i < sizeof keys / sizeof *keys; i++)
        json_object_set_new(inv, keys[i], json_integer(total));
    const char *due[] = {"total", "total_excluding_tax", "amount_due", "amount_remaining"};
    for (size_t i = 0; i < sizeof due / sizeof *due; i++)
        json_object_set_new(inv, due[i], json_integer(total - off));
}

static sl_emu_reply_t invoice_state_error(const json_t *inv, const char *what)
{
    return sl__emu_error(400, "invalid_request_error", "invoice_not_editable", NULL,
                         "You can only %s an invoice in the %s status; this one is %s.", what,
                         strcmp(what, "pay") == 0 || strcmp(what, "void") == 0 ||
                                 strcmp(what, "mark uncollectible") == 0 ||
                                 strcmp(what, "send") == 0
                             ? "open"
                             : "draft",
                         sl__emu_status_of(inv));
}

/* The customer an invoice or subscription is for, or NULL with *err Stripe's 400. */
static const json_t *customer_of(sl_emulator_t *e, const json_t *typed, sl_emu_reply_t *err)
{
    const char *cus = json_string_value(json_object_get(typed, "customer"));
    const json_t *customer = cus ? sl__emu_get(e, cus) : NULL;
    if (!customer)
        *err = sl__emu_error(400, "invalid_request_error", "resource_missing", "customer",
                             "No such customer: '%s'", cus ? cus : "");
    return customer;
}

static json_int_t period_seconds(const json_t *price);

/* invoices.upcoming: what the customer's next invoice would be, kept nowhere (Stripe gives it no
 * id): their pending invoice items, and a period of each active subscription's items (the one
 * named, or all of the customer's), less the discount. */
static sl_emu_reply_t upcoming(sl_emulator_t *e, const json_t *typed)
{
    const char *cus = json_string_value(json_object_get(typed, "customer"));
    const char *sub_id = json_string_value(json_object_get(typed, "subscription"));
    const json_t *sub = sub_id ? sl__emu_get(e, sub_id) : NULL;
    if (sub_id && !sub)
        return sl__emu_no_such("subscription", sub_id);
    if (!cus && sub)
        cus = json_string_value(json_object_get(sub, "customer"));
    const json_t *customer = cus ? sl__emu_get(e, cus) : NULL;
    if (!customer)
        return cus ? sl__emu_no_such("customer", cus)
                   : sl__emu_error(400, "invalid_request_error", "parameter_missing", "customer",
                                   "Missing required param: customer.");
    json_int_t now = (json_int_t)time(NULL), total = 0, end = now;
    json_t *lines = json_array();
    const char *currency = NULL;
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(e->lists, "invoiceitem"), i, v)
    {
        if (!sl__emu_may_match(e, json_string_value(v), "customer", cus))
            continue;
        const json_t *ii = sl__emu_get(e, json_string_value(v));
        if (!ii || !json_is_null(json_object_get(ii, "invoice")) ||
            strcmp(json_string_value(json_object_get(ii, "customer")) ?: "", cus))
            continue;
        total += json_integer_value(json_object_get(ii, "amount"));
        currency = json_string_value(json_object_get(ii, "currency"));
        json_array_append_new(lines,
                              json_pack("{s:s,s:O,s:O,s:O,s:s,s:O}", "object", "line_item",
                                        "amount", json_object_get(ii, "amount"), "currency",
                                        json_object_get(ii, "currency"), "description",
                                        json_object_get(ii, "description"), "type", "invoiceitem",
                                        "invoice_item", json_object_get(ii, "id")));
    }
    json_array_foreach(json_object_get(e->lists, "subscription"), i, v)
    {
        if (!sl__emu_may_match(e, json_string_value(v), "customer", cus))
            continue;
        const json_t *s = sl__emu_get(e, json_string_value(v));
        const char *st = sl__emu_status_of(s);
        if (!s || (sub && s != sub) ||
            strcmp(json_string_value(json_object_get(s, "customer")) ?: "", cus) ||
            (strcmp(st, "active") && strcmp(st, "trialing") && strcmp(st, "past_due")))
            continue;
        json_int_t from = json_integer_value(json_object_get(s, "current_period_end"));
        size_t k;
        json_t *it;
        json_array_foreach(json_object_get(json_object_get(s, "items"), "data"), k, it)
        {
            const json_t *price = json_object_get(it, "price");
            json_int_t amount = json_integer_value(json_object_get(price, "unit_amount")) *
                                json_integer_value(json_object_get(it, "quantity"));
            json_int_t to = from + period_seconds(price);
            end = to > end ? to : end;
            total += amount;
            currency = json_string_value(json_object_get(price, "currency"));
            json_array_append_new(
                lines, json_pack("{s:s,s:I,s:O,s:O,s:O,s:s,s:O,s:{s:I,s:I}}", "object", "line_item",
                                 "amount", amount, "currency", json_object_get(price, "currency"),
                                 "price", price, "quantity", json_object_get(it, "quantity"),
                                 "type", "subscription", "subscription", json_object_get(s, "id"),
                                 "period", "start", from, "end", to));
        }
    }
    json_t *inv = json_loads(sl__fixture_json("invoice"), 0, NULL);
    json_object_del(inv, "id"); /* Stripe's upcoming invoice has none */
    json_object_set_new(inv, "customer", json_string(cus));
    json_object_set(inv, "customer_email", json_object_get(customer, "email"));
    json_object_set(inv, "customer_name", json_object_get(customer, "name"));
    json_object_set_new(inv, "subscription", sub ? json_string(sub_id) : json_null());
    json_object_set_new(inv, "status", json_string("draft"));
    json_object_set_new(inv, "number", json_null());
    json_object_set_new(inv, "created", json_integer(now));
    json_object_set_new(inv, "period_start", json_integer(now));
    json_object_set_new(inv, "period_end", json_integer(end));
    json_object_set_new(inv, "next_payment_attempt", json_integer(end));
    json_object_set_new(inv, "currency", json_string(currency ? currency : "usd"));
    json_object_set_new(inv, "lines",
                        json_pack("{s:s,s:o,s:b,s:I,s:s}", "object", "list", "data", lines,
                                  "has_more", 0, "total_count", (json_int_t)json_array_size(lines),
                                  "url", "/v1/invoices/upcoming/lines"));
    const json_t *d = json_is_object(json_object_get(sub, "discount"))
                          ? json_object_get(sub, "discount")
                          : json_object_get(customer, "discount");
    json_int_t off = discount_off(d, total, json_object_get(inv, "currency"));
    json_object_set(inv, "discount", json_is_object(d) ? (json_t *)d : json_null());
    const char *keys[] = {"subtotal", "subtotal_excluding_tax"};
    for (size_t k = 0; k < 2; k++)
        json_object_set_new(inv, keys[k], json_integer(total));
    const char *due[] = {"total", "total_excluding_tax", "amount_due", "amount_remaining"};
    for (size_t k = 0; k < 4; k++)
        json_object_set_new(inv, due[k], json_integer(total - off));
    json_object_set_new(inv, "amount_paid", json_integer(0));
    json_object_set_new(inv, "paid", json_false());
    return (sl_emu_reply_t){200, inv, 0, NULL, 0, 0};
}

sl_emu_reply_t sl__emu_invoices(sl_emulator_t *e, const char *verb, const char *id, json_t *typed,
                                const char *request_id, const char *idem_key)
{
    const sl_emu_resource_t *r = sl__emu_resource("invoices", 8);
    if (strcmp(verb, "create") == 0) {
        sl_emu_reply_t err = {0, NULL, 0, NULL, 0, 0};
        const json_t *customer = customer_of(e, typed, &err);
        if (!customer)
            return err;
        const char *cus = json_string_value(json_object_get(typed, "customer"));
        int include =
            strcmp(json_string_value(json_object_get(typed, "pending_invoice_items_behavior"))
                       ?: "",
                   "include") == 0;
        json_object_del(typed, "pending_invoice_items_behavior");
        sl_emu_reply_t cr = sl__emu_create(e, r, typed, request_id, idem_key);
        if (cr.status != 200)
            return cr;
        json_t *inv = sl__emu_get(e, json_string_value(json_object_get(cr.body, "id")));
        json_decref(cr.body);
        json_object_set_new(inv, "status", json_string("draft"));
        json_object_set_new(inv, "number", json_null());
        json_object_set_new(inv, "paid", json_false());
        json_object_set_new(inv, "amount_paid", json_integer(0));
        json_object_set_new(inv, "attempted", json_false());
        json_object_set_new(inv, "attempt_count", json_integer(0));
        json_object_set_new(inv, "charge", json_null());
        json_object_set_new(inv, "payment_intent", json_null());
        json_object_set(inv, "customer_email", json_object_get(customer, "email"));
        json_object_set(inv, "customer_name", json_object_get(customer, "name"));
        json_object_set_new(inv, "status_transitions",
                            json_pack("{s:n,s:n,s:n,s:n}", "finalized_at",
                                      "marked_uncollectible_at", "paid_at", "voided_at"));
        /* Sent invoices are due days_until_due after they are made; charged ones have no date. */
        const json_t *days = json_object_get(inv, "days_until_due");
        json_object_set_new(
            inv, "due_date",
            json_is_integer(days) &&
                    strcmp(json_string_value(json_object_get(inv, "collection_method")) ?: "",
                           "send_invoice") == 0
                ? json_integer(json_integer_value(json_object_get(inv, "created")) +
                               json_integer_value(days) * 86400)
                : json_null());
        if (include) {
            const json_t *items = json_object_get(e->lists, "invoiceitem");
            for (size_t i = 0; i < json_array_size(items); i++) {
                const char *iid = json_string_value(json_array_get(items, i));
                if (!sl__emu_may_match(e, iid, "customer", cus))
                    continue;
                json_t *ii = sl__emu_get(e, iid);
                if (ii && json_is_null(json_object_get(ii, "invoice")) &&
                    strcmp(json_string_value(json_object_get(ii, "customer")) ?: "", cus) == 0)
                    json_object_set(ii, "invoice", json_object_get(inv, "id"));
            }
        }
        invoice_total(e, inv);
        return (sl_emu_reply_t){200, json_deep_copy(inv), 0, NULL, 0, 0};
    }
    if (strcmp(verb, "upcoming") == 0)
        return upcoming(e, typed);
    json_t *inv = id ? sl__emu_get(e, id) : NULL;
    if (!inv || strcmp(json_string_value(json_object_get(inv, "object")) ?: "", "invoice"))
        return sl__emu_no_such("invoice", id ? id : "");
    const char *st = sl__emu_status_of(inv);
    json_int_t now = (json_int_t)time(NULL);
    if ((strcmp(verb, "pay") == 0 || strcmp(verb, "send") == 0) && strcmp(st, "draft") == 0) {
        /* As Stripe: a draft is finalized before it is sent or paid. */
        json_decref(sl__emu_invoices(e, "finalize", id, NULL, request_id, idem_key).body);
        st = sl__emu_status_of(inv);
    }
    if (strcmp(verb, "update") == 0) {
        if (strcmp(st, "draft") &&
            !(json_object_size(typed) == 1 && json_object_get(typed, "metadata")))
            return invoice_state_error(inv, "update");
        return sl__emu_update(e, r, id, typed, request_id, idem_key);
    }
    if (strcmp(verb, "delete") == 0) {
        if (strcmp(st, "draft"))
            return invoice_state_error(inv, "delete");
        return sl__emu_delete(e, r, id, request_id);
    }
    if (strcmp(verb, "finalize") == 0) {
        if (strcmp(st, "draft"))
            return invoice_state_error(inv, "finalize");
        invoice_total(e, inv);
        /* The customer's credit (a negative balance) pays what it can of the invoice. */
        json_t *cus = sl__emu_get(e, json_string_value(json_object_get(inv, "customer")) ?: "");
        json_int_t balance = json_integer_value(json_object_get(cus, "balance"));
        json_int_t due = json_integer_value(json_object_get(inv, "amount_due"));
        json_int_t used = balance < 0 ? (-balance < due ? -balance : due) : 0;
        json_object_set_new(inv, "starting_balance", json_integer(balance));
        json_object_set_new(inv, "ending_balance", json_integer(balance + used));
        if (used) {
            json_t *prev = json_pack("{s:I}", "balance", balance);
            json_object_set_new(inv, "amount_due", json_integer(due - used));
            json_object_set_new(inv, "amount_remaining", json_integer(due - used));
            json_object_set_new(cus, "balance", json_integer(balance + used));
            sl__emu_touch(e, json_string_value(json_object_get(cus, "id")));
            sl__emu_emit(e, "customer.updated", cus, prev, request_id, idem_key);
        }
        char number[64];
        snprintf(number, sizeof number, "%s-%04lu",
                 json_string_value(json_object_get(inv, "account_country")) ? "SLUICE" : "INV",
                 ++e->invoice_numbers);
        json_object_set_new(inv, "number", json_string(number));
        json_object_set_new(inv, "status", json_string("open"));
        json_object_set_new(json_object_get(inv, "status_transitions"), "finalized_at",
                            json_integer(now));
        if (json_is_null(json_object_get(inv, "effective_at")))
            json_object_set_new(inv, "effective_at", json_integer(now));
        sl__emu_emit(e, "invoice.finalized", inv, NULL, request_id, idem_key);
        return (sl_emu_reply_t){200, json_deep_copy(inv), 0, NULL, 0, 0};
    }
    if (strcmp(verb, "void") == 0 || strcmp(verb, "mark_uncollectible") == 0 ||
        strcmp(verb, "send") == 0) {
        int is_void = strcmp(verb, "void") == 0, is_send = strcmp(verb, "send") == 0;
        if (strcmp(st, "open"))
            return invoice_state_error(inv, is_void   ? "void"
                                            : is_send ? "send"
                                                      : "mark uncollectible");
        if (is_send) {
            sl__emu_emit(e, "invoice.sent", inv, NULL, request_id, idem_key);
            return (sl_emu_reply_t){200, json_deep_copy(inv), 0, NULL, 0, 0};
        }
        json_object_set_new(inv, "status", json_string(is_void ? "void" : "uncollectible"));
        json_object_set_new(json_object_get(inv, "status_transitions"),
                            is_void ? "voided_at" : "marked_uncollectible_at", json_integer(now));
        sl__emu_emit(e, is_void ? "invoice.voided" : "invoice.marked_uncollectible", inv, NULL,
                     request_id, idem_key);
        return (sl_emu_reply_t){200, json_deep_copy(inv), 0, NULL, 0, 0};
    }
    if (strcmp(verb, "pay") == 0) {
        if (strcmp(st, "open"))
            return invoice_state_error(inv, "pay");
        json_object_set_new(inv, "attempted", json_true());
        json_object_set_new(
            inv, "attempt_count",
            json_integer(json_integer_value(json_object_get(inv, "attempt_count")) + 1));
        if (json_integer_value(json_object_get(inv, "amount_due")) <= 0) {
            ; /* nothing left to charge (credit or a coupon paid it all) */
        } else if (!json_is_true(json_object_get(typed, "paid_out_of_band"))) {
            /* Charge the payment method given, or the customer's default one. */
            const char *pm = json_string_value(json_object_get(typed, "payment_method"));
            const json_t *cus = sl__emu_get(e, json_string_value(json_object_get(inv, "customer")));
            if (!pm)
                pm = json_string_value(json_object_get(json_object_get(cus, "invoice_settings"),
                                                       "default_payment_method"));
            if (!pm) /* then the default source (a card from tok_visa) */
                pm = json_string_value(json_object_get(cus, "default_source"));
            if (!pm)
                return sl__emu_error(400, "invalid_request_error",
                                     "invoice_no_customer_payment_method", "payment_method",
                                     "This customer has no attached payment source or default "
                                     "payment method.");
            json_t *pi_params =
                json_pack("{s:O,s:O,s:O,s:s,s:b}", "amount", json_object_get(inv, "amount_due"),
                          "currency", json_object_get(inv, "currency"), "customer",
                          json_object_get(inv, "customer"), "payment_method", pm, "confirm", 1);
            sl_emu_reply_t paid =
                sl__emu_payment_intents(e, "create", NULL, pi_params, request_id, idem_key);
            json_decref(pi_params);
            const json_t *pi =
                json_object_get(json_object_get(paid.body, "error"), "payment_intent");
            if (!pi)
                pi = paid.body;
            json_object_set(inv, "payment_intent", json_object_get(pi, "id"));
            json_object_set(inv, "charge", json_object_get(pi, "latest_charge"));
            if (paid.status != 200) {
                sl__emu_emit(e, "invoice.payment_failed", inv, NULL, request_id, idem_key);
                return paid;
            }
            if (strcmp(sl__emu_status_of(paid.body), "requires_action") == 0) {
                /* 3D Secure: the invoice stays open until the customer authenticates. */
                json_decref(paid.body);
                sl__emu_emit(e, "invoice.payment_action_required", inv, NULL, request_id, idem_key);
                return (sl_emu_reply_t){200, json_deep_copy(inv), 0, NULL, 0, 0};
            }
            json_decref(paid.body);
        } else {
            json_object_set_new(inv, "paid_out_of_band", json_true());
        }
        json_object_set_new(inv, "status", json_string("paid"));
        json_object_set_new(inv, "paid", json_true());
        json_object_set(inv, "amount_paid", json_object_get(inv, "amount_due"));
        json_object_set_new(inv, "amount_remaining", json_integer(0));
        json_object_set_new(json_object_get(inv, "status_transitions"), "paid_at",
                            json_integer(now));
        sl__emu_emit(e, "invoice.paid", inv, NULL, request_id, idem_key);
        sl__emu_emit(e, "invoice.payment_succeeded", inv, NULL, request_id, idem_key);
        return (sl_emu_reply_t){200, json_deep_copy(inv), 0, NULL, 0, 0};
    }
    return sl__emu_error(501, "api_error", "not_implemented", NULL,
                         "sluice emulate does not implement invoices.%s yet", verb);
}

/* The price Stripe makes for an invoice item given by amount: one-time, of that unit amount. */
static json_t *adhoc_price(sl_emulator_t *e, const json_t *typed, json_int_t qty)
{
    (void)e;
    char id[64], prod[64];
    sl__emu_must_rand(sl__rand_id("price", id, sizeof id));
    sl__emu_must_rand(sl__rand_id("prod", prod, sizeof prod));
    json_int_t amount = json_integer_value(json_object_get(typed, "amount"));
    json_int_t unit = qty ? amount / qty : amount;
    char dec[32];
    snprintf(dec, sizeof dec, "%lld", (long long)unit);
    return json_pack("{s:s,s:s,s:b,s:s,s:I,s:O,s:s,s:b,s:{},s:n,s:n,s:s,s:n,s:s,s:I,s:s}", "id", id,
                     "object", "price", "active", 0, "billing_scheme", "per_unit", "created",
                     (json_int_t)time(NULL), "currency", json_object_get(typed, "currency"),
                     "product", prod, "livemode", 0, "metadata", "nickname", "recurring",
                     "tax_behavior", "unspecified", "tiers_mode", "type", "one_time", "unit_amount",
                     unit, "unit_amount_decimal", dec);
}

sl_emu_reply_t sl__emu_invoiceitems_write(sl_emulator_t *e, const char *verb, const char *id,
                                          json_t *typed, const char *request_id,
                                          const char *idem_key)
{
    const sl_emu_resource_t *r = sl__emu_resource("invoiceitems", 12);
    const char *inv_id = json_string_value(json_object_get(typed, "invoice"));
    json_t *inv = inv_id ? sl__emu_get(e, inv_id) : NULL;
    if (inv_id && !inv)
        return sl__emu_no_such("invoice", inv_id);
    if (inv && strcmp(sl__emu_status_of(inv), "draft"))
        return invoice_state_error(inv, "add items to");
    if (strcmp(verb, "create") == 0) {
        /* amount, or unit_amount x quantity, or a price's unit_amount x quantity */
        json_int_t qty = json_is_integer(json_object_get(typed, "quantity"))
                             ? json_integer_value(json_object_get(typed, "quantity"))
                             : 1;
        const json_t *price =
            sl__emu_price(e, json_string_value(json_object_get(typed, "price")) ?: "");
        if (!json_object_get(typed, "amount")) {
            json_int_t unit = json_is_integer(json_object_get(typed, "unit_amount"))
                                  ? json_integer_value(json_object_get(typed, "unit_amount"))
                                  : json_integer_value(json_object_get(price, "unit_amount"));
            json_object_set_new(typed, "amount", json_integer(unit * qty));
            if (price && !json_object_get(typed, "currency"))
                json_object_set(typed, "currency", json_object_get(price, "currency"));
        }
        json_object_set_new(typed, "quantity", json_integer(qty));
        if (!inv_id)
            json_object_set_new(typed, "invoice", json_null());
        /* The item's price: the one named, or one made for it from its amount, as Stripe makes
         * one (never the example's). */
        json_t *own = price ? json_deep_copy(price) : adhoc_price(e, typed, qty);
        json_object_set_new(typed, "price", own);
        json_object_set(typed, "unit_amount", json_object_get(own, "unit_amount"));
        json_object_set(typed, "unit_amount_decimal", json_object_get(own, "unit_amount_decimal"));
        json_int_t now = (json_int_t)time(NULL);
        if (!json_object_get(typed, "period"))
            json_object_set_new(typed, "period", json_pack("{s:I,s:I}", "end", now, "start", now));
        sl_emu_reply_t out = sl__emu_create(e, r, typed, request_id, idem_key);
        if (inv && out.status == 200)
            invoice_total(e, inv);
        return out;
    }
    const json_t *ii = id ? sl__emu_get(e, id) : NULL;
    const json_t *on =
        ii ? sl__emu_get(e, json_string_value(json_object_get(ii, "invoice")) ?: "") : NULL;
    if (on && strcmp(sl__emu_status_of(on), "draft"))
        return invoice_state_error(on, strcmp(verb, "delete") == 0 ? "delete items of"
                                                                   : "update items of");
    sl_emu_reply_t out = strcmp(verb, "delete") == 0
                             ? sl__emu_delete(e, r, id ? id : "", request_id)
                             : sl__emu_update(e, r, id ? id : "", typed, request_id, idem_key);
    if (on)
        invoice_total(e, (json_t *)on);
    return out;
}

/* --- Subscriptions: the first invoice is made and paid at once ------------------------------ */

static json_int_t period_seconds(const json_t *price)
{
    const json_t *rec = json_object_get(price, "recurring");
    const char *iv = json_string_value(json_object_get(rec, "interval")) ?: "month";
    json_int_t n = json_is_integer(json_object_get(rec, "interval_count"))
                       ? json_integer_value(json_object_get(rec, "interval_count"))
                       : 1;
    json_int_t unit = !strcmp(iv, "day")    ? 86400
                      : !strcmp(iv, "week") ? 7 * 86400
                      : !strcmp(iv, "year") ? 365 * 86400
                                            : 30 * 86400;
    return n * unit;
}

/* A subscription item, kept as an object of its own (subscription_items.retrieve finds it) and
 * shared with the subscription's items list. */
static json_t *new_sub_item(sl_emulator_t *e, const char *sub_id, const json_t *price,
                            json_int_t qty, json_int_t now)
{
    char si[80];
    sl__emu_must_rand(sl__rand_id("si", si, sizeof si));
    json_t *item = json_pack("{s:s,s:s,s:I,s:o,s:I,s:s,s:o}", "id", si, "object",
                             "subscription_item", "created", now, "price", json_deep_copy(price),
                             "quantity", qty, "subscription", sub_id, "metadata", json_object());
    sl__emu_put(e, si, item);
    sl__emu_touch(e, si);
    return item;
}

/* Checks items[] of subscriptions.update before anything changes. */
static sl_emu_reply_t check_item_changes(sl_emulator_t *e, const json_t *sub, const json_t *changes)
{
    const json_t *data = json_object_get(json_object_get(sub, "items"), "data");
    for (size_t i = 0; i < json_array_size(changes); i++) {
        const json_t *c = json_array_get(changes, i);
        const char *iid = json_string_value(json_object_get(c, "id"));
        const char *pid = json_string_value(json_object_get(c, "price"));
        char param[48];
        if (iid) {
            int found = 0;
            for (size_t k = 0; k < json_array_size(data); k++)
                found |= !strcmp(
                    json_string_value(json_object_get(json_array_get(data, k), "id")) ?: "", iid);
            if (!found) {
                snprintf(param, sizeof param, "items[%zu][id]", i);
                return sl__emu_error(400, "invalid_request_error", "resource_missing", param,
                                     "No such subscription item: '%s' on this subscription", iid);
            }
        } else if (!pid) {
            snprintf(param, sizeof param, "items[%zu][price]", i);
            return sl__emu_error(400, "invalid_request_error", "parameter_missing", param,
                                 "A new subscription item needs a price.");
        }
        const json_t *price = pid ? sl__emu_price(e, pid) : NULL;
        if (pid && (!price || !json_is_object(json_object_get(price, "recurring")))) {
            snprintf(param, sizeof param, "items[%zu][price]", i);
            return sl__emu_error(
                400, "invalid_request_error", "resource_missing", param,
                price ? "The price specified is not recurring: '%s'" : "No such price: '%s'", pid);
        }
    }
    return (sl_emu_reply_t){0, NULL, 0, NULL, 0, 0};
}

/* Applies checked items[] changes: an id with deleted=true removes that item, an id with a price
 * or quantity changes it, no id adds one. Prorations are not computed. */
static void apply_item_changes(sl_emulator_t *e, json_t *sub, const json_t *changes)
{
    json_t *list = json_object_get(sub, "items");
    json_t *data = json_object_get(list, "data");
    const char *sub_id = json_string_value(json_object_get(sub, "id"));
    json_int_t now = (json_int_t)time(NULL);
    for (size_t i = 0; i < json_array_size(changes); i++) {
        const json_t *c = json_array_get(changes, i);
        const char *iid = json_string_value(json_object_get(c, "id"));
        const json_t *price =
            sl__emu_price(e, json_string_value(json_object_get(c, "price")) ?: "");
        const json_t *qty = json_object_get(c, "quantity");
        if (!iid) {
            json_array_append_new(
                data, new_sub_item(e, sub_id, price,
                                   json_is_integer(qty) ? json_integer_value(qty) : 1, now));
            continue;
        }
        for (size_t k = 0; k < json_array_size(data); k++) {
            json_t *item = json_array_get(data, k);
            if (strcmp(json_string_value(json_object_get(item, "id")) ?: "", iid))
                continue;
            if (json_is_true(json_object_get(c, "deleted"))) {
                sl__emu_del(e, iid);
                sl__emu_forget(e, iid);
                json_array_remove(data, k);
                break;
            }
            if (price)
                json_object_set_new(item, "price", json_deep_copy(price));
            if (json_is_integer(qty))
                json_object_set(item, "quantity", (json_t *)qty);
            if (json_is_object(json_object_get(c, "metadata"))) {
                json_t *m = json_pack("{s:O}", "metadata", json_object_get(c, "metadata"));
                sl__emu_apply(item, m, NULL, 0);
                json_decref(m);
            }
            break;
        }
    }
    json_object_set_new(list, "total_count", json_integer((json_int_t)json_array_size(data)));
}

/* An invoice for a subscription's items, finalized and paid with its payment method. Returns
 * the invoice's status ("paid", or "open" when the payment failed). */
static const char *bill_subscription(sl_emulator_t *e, json_t *sub, const char *reason,
                                     const char *request_id, int out_of_band)
{
    const char *cus = json_string_value(json_object_get(sub, "customer"));
    const char *sub_id = json_string_value(json_object_get(sub, "id"));
    json_t *ip = json_pack("{s:s,s:s}", "customer", cus, "subscription", sub_id);
    sl_emu_reply_t ir = sl__emu_invoices(e, "create", NULL, ip, request_id, NULL);
    json_decref(ip);
    char inv_id[80];
    snprintf(inv_id, sizeof inv_id, "%s", json_string_value(json_object_get(ir.body, "id")) ?: "");
    json_decref(ir.body);
    const json_t *data = json_object_get(json_object_get(sub, "items"), "data");
    for (size_t i = 0; !out_of_band && i < json_array_size(data); i++) {
        const json_t *it = json_array_get(data, i);
        json_t *iip = json_pack("{s:s,s:s,s:O,s:O}", "customer", cus, "invoice", inv_id, "price",
                                json_object_get(json_object_get(it, "price"), "id"), "quantity",
                                json_object_get(it, "quantity"));
        json_decref(sl__emu_invoiceitems_write(e, "create", NULL, iip, request_id, NULL).body);
        json_decref(iip);
    }
    json_object_set_new(sub, "latest_invoice", json_string(inv_id));
    json_t *inv = sl__emu_get(e, inv_id);
    json_object_set_new(inv, "billing_reason", json_string(reason));
    json_decref(sl__emu_invoices(e, "finalize", inv_id, NULL, request_id, NULL).body);
    json_t *pp;
    const char *pm = json_string_value(json_object_get(sub, "default_payment_method"));
    if (out_of_band)
        pp = json_pack("{s:b}", "paid_out_of_band", 1);
    else
        pp = pm ? json_pack("{s:s}", "payment_method", pm) : json_object();
    json_decref(sl__emu_invoices(e, "pay", inv_id, pp, request_id, NULL).body);
    json_decref(pp);
    return sl__emu_status_of(sl__emu_get(e, inv_id));
}

sl_emu_reply_t sl__emu_subscription_renew(sl_emulator_t *e, const char *id, const char *request_id)
{
    json_t *sub = sl__emu_get(e, id);
    if (!sub || strcmp(json_string_value(json_object_get(sub, "object")) ?: "", "subscription"))
        return sl__emu_no_such("subscription", id);
    const char *st = sl__emu_status_of(sub);
    if (strcmp(st, "active") && strcmp(st, "trialing") && strcmp(st, "past_due"))
        return sl__emu_error(400, "invalid_request_error", "subscription_unexpected_state", NULL,
                             "Only an active, trialing or past_due subscription renews; this "
                             "one is %s.",
                             st);
    json_int_t now = (json_int_t)time(NULL);
    json_t *previous = json_pack("{s:O,s:O,s:s}", "current_period_start",
                                 json_object_get(sub, "current_period_start"), "current_period_end",
                                 json_object_get(sub, "current_period_end"), "status", st);
    if (json_is_true(json_object_get(sub, "cancel_at_period_end"))) {
        json_decref(previous);
        json_object_set_new(sub, "status", json_string("canceled"));
        json_object_set_new(sub, "canceled_at", json_integer(now));
        json_object_set_new(sub, "ended_at", json_integer(now));
        sl__emu_emit(e, "customer.subscription.deleted", sub, NULL, request_id, NULL);
        return (sl_emu_reply_t){200, json_deep_copy(sub), 0, NULL, 0, 0};
    }
    /* The preview Stripe sends ahead of the renewal: an invoice without an id. */
    const json_t *data = json_object_get(json_object_get(sub, "items"), "data");
    json_int_t total = 0, period = 30 * 86400;
    json_t *lines = json_array();
    for (size_t i = 0; i < json_array_size(data); i++) {
        const json_t *it = json_array_get(data, i);
        const json_t *price = json_object_get(it, "price");
        json_int_t amount = json_integer_value(json_object_get(price, "unit_amount")) *
                            json_integer_value(json_object_get(it, "quantity"));
        total += amount;
        period = period_seconds(price);
        json_array_append_new(
            lines, json_pack("{s:s,s:I,s:O,s:O,s:O,s:s}", "object", "line_item", "amount", amount,
                             "currency", json_object_get(price, "currency"), "price", price,
                             "quantity", json_object_get(it, "quantity"), "type", "subscription"));
    }
    json_t *upcoming = json_loads(sl__fixture_json("invoice"), 0, NULL);
    json_object_del(upcoming, "id");
    json_object_set_new(upcoming, "created", json_integer(now));
    json_object_set(upcoming, "customer", json_object_get(sub, "customer"));
    json_object_set(upcoming, "subscription", json_object_get(sub, "id"));
    json_object_set_new(upcoming, "billing_reason", json_string("upcoming"));
    json_object_set_new(upcoming, "status", json_string("draft"));
    json_object_set_new(upcoming, "livemode", json_false());
    json_object_set_new(upcoming, "next_payment_attempt", json_integer(now));
    json_object_set_new(
        upcoming, "period_start",
        json_integer(json_integer_value(json_object_get(sub, "current_period_end"))));
    json_object_set_new(upcoming, "period_end", json_integer(now + period));
    json_object_set(upcoming, "currency",
                    json_object_get(json_object_get(json_array_get(data, 0), "price"), "currency")
                        ?: json_string("usd"));
    json_object_set_new(upcoming, "lines",
                        json_pack("{s:s,s:o,s:b,s:I}", "object", "list", "data", lines, "has_more",
                                  0, "total_count", (json_int_t)json_array_size(lines)));
    const char *keys[] = {"subtotal", "total", "amount_due", "amount_remaining"};
    for (size_t i = 0; i < sizeof keys / sizeof *keys; i++)
        json_object_set_new(upcoming, keys[i], json_integer(total));
    sl__emu_emit(e, "invoice.upcoming", upcoming, NULL, request_id, NULL);
    json_decref(upcoming);
    const char *paid = bill_subscription(e, sub, "subscription_cycle", request_id, 0);
    json_object_set_new(sub, "current_period_start", json_integer(now));
    json_object_set_new(sub, "current_period_end", json_integer(now + period));
    json_object_set_new(sub, "status",
                        json_string(strcmp(paid, "paid") == 0 ? "active" : "past_due"));
    sl__emu_emit(e, "customer.subscription.updated", sub, previous, request_id, NULL);
    return (sl_emu_reply_t){200, json_deep_copy(sub), 0, NULL, 0, 0};
}

sl_emu_reply_t sl__emu_subscriptions(sl_emulator_t *e, const char *verb, const char *id,
                                     json_t *typed, const char *request_id, const char *idem_key)
{
    const sl_emu_resource_t *r = sl__emu_resource("subscriptions", 13);
    json_int_t now = (json_int_t)time(NULL);
    if (strcmp(verb, "create") == 0) {
        sl_emu_reply_t err = {0, NULL, 0, NULL, 0, 0};
        if (!customer_of(e, typed, &err))
            return err;
        json_t *items_in = json_object_get(typed, "items");
        if (!json_array_size(items_in))
            return sl__emu_error(400, "invalid_request_error", "parameter_missing", "items",
                                 "Missing required param: items.");
        for (size_t i = 0; i < json_array_size(items_in); i++) {
            const char *pid =
                json_string_value(json_object_get(json_array_get(items_in, i), "price"));
            const json_t *price = pid ? sl__emu_price(e, pid) : NULL;
            if (!price || !json_is_object(json_object_get(price, "recurring"))) {
                char param[48];
                snprintf(param, sizeof param, "items[%zu][price]", i);
                return sl__emu_error(400, "invalid_request_error", "resource_missing", param,
                                     price ? "The price specified is not recurring: '%s'"
                                           : "No such price: '%s'",
                                     pid ? pid : "");
            }
        }
        json_t *items = json_incref(items_in);
        json_object_del(typed, "items");
        json_int_t trial =
            json_is_integer(json_object_get(typed, "trial_period_days"))
                ? json_integer_value(json_object_get(typed, "trial_period_days")) * 86400
                : 0;
        json_object_del(typed, "trial_period_days");
        /* trial_end: a time in the future (seconds of trial from now), or "now": none. */
        const json_t *trial_end = json_object_get(typed, "trial_end");
        if (json_is_integer(trial_end) && json_integer_value(trial_end) > now)
            trial = json_integer_value(trial_end) - now;
        json_object_del(typed, "trial_end");
        json_object_del(typed, "payment_behavior");
        json_t *disc;
        sl_emu_reply_t bad = sl__emu_discount_take(e, typed, &disc);
        if (bad.status) {
            json_decref(items);
            return bad;
        }
        sl_emu_reply_t cr = sl__emu_create(e, r, typed, request_id, idem_key);
        if (cr.status != 200) {
            json_decref(disc);
            json_decref(items);
            return cr;
        }
        char sub_id[80];
        snprintf(sub_id, sizeof sub_id, "%s", json_string_value(json_object_get(cr.body, "id")));
        json_decref(cr.body);
        json_t *sub = sl__emu_get(e, sub_id);
        json_object_set_new(sub, "discount", json_null());
        json_decref(sl__emu_discount(e, sub, disc, request_id, idem_key, NULL).body);
        json_decref(disc);
        /* Items, as objects of their own (subscription_items.retrieve finds them). */
        json_t *data = json_array();
        json_int_t period = 0;
        for (size_t i = 0; i < json_array_size(items); i++) {
            const json_t *in = json_array_get(items, i);
            const json_t *price = sl__emu_price(e, json_string_value(json_object_get(in, "price")));
            json_int_t qty = json_is_integer(json_object_get(in, "quantity"))
                                 ? json_integer_value(json_object_get(in, "quantity"))
                                 : 1;
            json_array_append_new(data, new_sub_item(e, sub_id, price, qty, now));
            period = period_seconds(price);
        }
        json_decref(items);
        char url[160];
        snprintf(url, sizeof url, "/v1/subscription_items?subscription=%s", sub_id);
        json_object_set_new(sub, "items",
                            json_pack("{s:s,s:o,s:b,s:I,s:s}", "object", "list", "data", data,
                                      "has_more", 0, "total_count",
                                      (json_int_t)json_array_size(data), "url", url));
        json_object_set_new(sub, "current_period_start", json_integer(now));
        json_object_set_new(sub, "current_period_end",
                            json_integer(now + (trial ? trial : period)));
        json_object_set_new(sub, "start_date", json_integer(now));
        json_object_set_new(sub, "canceled_at", json_null());
        json_object_set_new(sub, "ended_at", json_null());
        json_object_set_new(sub, "cancel_at_period_end", json_false());
        json_object_set_new(sub, "trial_start", trial ? json_integer(now) : json_null());
        json_object_set_new(sub, "trial_end", trial ? json_integer(now + trial) : json_null());
        /* The first invoice: one item per subscription item (nothing during a trial). */
        const char *paid = bill_subscription(e, sub, "subscription_create", request_id, trial > 0);
        const char *status = trial                       ? "trialing"
                             : strcmp(paid, "paid") == 0 ? "active"
                                                         : "incomplete"; /* invoice stays open */
        json_object_set_new(sub, "status", json_string(status));
        sl__emu_emit(e, "customer.subscription.created", sub, NULL, request_id, idem_key);
        if (trial && trial <= 3 * 86400) /* Stripe tells three days before a trial ends */
            sl__emu_emit(e, "customer.subscription.trial_will_end", sub, NULL, request_id,
                         idem_key);
        return (sl_emu_reply_t){200, json_deep_copy(sub), 0, NULL, 0, 0};
    }
    json_t *sub = id ? sl__emu_get(e, id) : NULL;
    if (!sub || strcmp(json_string_value(json_object_get(sub, "object")) ?: "", "subscription"))
        return sl__emu_no_such("subscription", id ? id : "");
    if (strcmp(verb, "cancel") == 0) {
        if (!strcmp(sl__emu_status_of(sub), "canceled"))
            return sl__emu_error(400, "invalid_request_error", "resource_missing", NULL,
                                 "This subscription is already canceled.");
        json_object_set_new(sub, "status", json_string("canceled"));
        json_object_set_new(sub, "canceled_at", json_integer(now));
        json_object_set_new(sub, "ended_at", json_integer(now));
        sl__emu_emit(e, "customer.subscription.deleted", sub, NULL, request_id, idem_key);
        return (sl_emu_reply_t){200, json_deep_copy(sub), 0, NULL, 0, 0};
    }
    if (strcmp(verb, "update") == 0) {
        json_t *changes = json_incref(json_object_get(typed, "items"));
        sl_emu_reply_t bad = check_item_changes(e, sub, changes);
        if (bad.status) {
            json_decref(changes);
            return bad;
        }
        json_object_del(typed, "items");
        json_object_del(typed, "proration_behavior"); /* prorations are not computed */
        json_t *previous = json_object();
        if (json_array_size(changes)) {
            json_object_set_new(previous, "items", json_deep_copy(json_object_get(sub, "items")));
            apply_item_changes(e, sub, changes);
        }
        json_decref(changes);
        json_t *disc;
        sl_emu_reply_t bad_coupon = sl__emu_discount_take(e, typed, &disc);
        if (bad_coupon.status) {
            json_decref(previous);
            return bad_coupon;
        }
        json_decref(sl__emu_discount(e, sub, disc, request_id, idem_key, previous).body);
        json_decref(disc);
        /* trial_end=now ends the trial at once and bills the first period; a time moves it. */
        json_t *trial_end = json_incref(json_object_get(typed, "trial_end"));
        json_object_del(typed, "trial_end");
        sl__emu_apply(sub, typed, previous, 0);
        if (trial_end) {
            json_object_set(previous, "trial_end", json_object_get(sub, "trial_end"));
            json_object_set(previous, "status", json_object_get(sub, "status"));
            json_object_set(previous, "current_period_end",
                            json_object_get(sub, "current_period_end"));
        }
        if (json_is_string(trial_end) && strcmp(sl__emu_status_of(sub), "trialing") == 0) {
            json_object_set_new(sub, "trial_end", json_integer(now));
            json_object_set_new(sub, "current_period_start", json_integer(now));
            json_int_t period = 30 * 86400;
            json_t *items = json_object_get(json_object_get(sub, "items"), "data");
            if (json_array_size(items))
                period = period_seconds(json_object_get(json_array_get(items, 0), "price"));
            json_object_set_new(sub, "current_period_end", json_integer(now + period));
            const json_t *cus =
                sl__emu_get(e, json_string_value(json_object_get(sub, "customer")) ?: "");
            int has_pm = json_is_string(json_object_get(sub, "default_payment_method")) ||
                         json_is_string(json_object_get(json_object_get(cus, "invoice_settings"),
                                                        "default_payment_method")) ||
                         json_is_string(json_object_get(cus, "default_source"));
            const char *missing = json_string_value(json_object_get(
                json_object_get(json_object_get(sub, "trial_settings"), "end_behavior"),
                "missing_payment_method"));
            if (!has_pm && missing && strcmp(missing, "pause") == 0) {
                /* Stripe pauses a trial that ends without a way to pay, when asked to. */
                json_object_set_new(sub, "status", json_string("paused"));
                json_object_set_new(sub, "pause_collection", json_null());
                sl__emu_emit(e, "customer.subscription.paused", sub, NULL, request_id, idem_key);
            } else {
                const char *paid = bill_subscription(e, sub, "subscription_cycle", request_id, 0);
                json_object_set_new(sub, "status",
                                    json_string(strcmp(paid, "paid") == 0 ? "active" : "past_due"));
            }
        } else if (json_is_integer(trial_end)) {
            json_object_set(sub, "trial_end", trial_end);
            if (strcmp(sl__emu_status_of(sub), "trialing") == 0)
                json_object_set(sub, "current_period_end", trial_end);
        }
        json_decref(trial_end);
        sl__emu_emit(e, "customer.subscription.updated", sub, previous, request_id, idem_key);
        return (sl_emu_reply_t){200, json_deep_copy(sub), 0, NULL, 0, 0};
    }
    return sl__emu_error(501, "api_error", "not_implemented", NULL,
                         "sluice emulate does not implement subscriptions.%s yet", verb);
}
