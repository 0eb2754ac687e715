/* The emulator's state: the objects it keeps, made from Stripe's example objects, their ids,
 * the events every change records, and the replies kept for idempotent replays. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/log.h"
#include "core/rand.h"
#include "core/utf8.h"
#include "emulator/fixtures.h"
#include "emulator/internal.h"
#include "sluice/catalog.h"

/* The resources kept, and the prefixes of their ids. */
static const sl_emu_resource_t resources[] = {
    {"customers", "customer", "cus", 1, NULL},
    {"products", "product", "prod", 1, NULL},
    {"prices", "price", "price", 1, NULL},
    {"coupons", "coupon", "co", 1, NULL},
    {"webhook_endpoints", "webhook_endpoint", "we", 0, NULL},
    {"payment_methods", "payment_method", "pm", 0, NULL},
    {"payment_intents", "payment_intent", "pi", 1, NULL},
    {"charges", "charge", "ch", 0, NULL},
    {"invoiceitems", "invoiceitem", "ii", 1, NULL},
    {"invoices", "invoice", "in", 1, NULL},
    {"subscriptions", "subscription", "sub", 0, NULL}, /* events as customer.subscription.* */
    {"subscription_items", "subscription_item", "si", 0, NULL},
    {"checkout.sessions", "checkout.session", "cs_test", 0, NULL}, /* checkout.session.completed */
    {"payment_links", "payment_link", "plink", 1, NULL},
    {"cards", "card", "card", 0, NULL},     /* customer.source.* */
    {"disputes", "dispute", "dp", 0, NULL}, /* charge.dispute.* */
    {"refunds", "refund", "re", 1, NULL},
    {"credit_notes", "credit_note", "cn", 0, NULL}, /* credit_note.created after its lines */
    {"setup_intents", "setup_intent", "seti", 1, NULL},
    {"tax_rates", "tax_rate", "txr", 1, NULL},
    {"promotion_codes", "promotion_code", "promo", 1, NULL},
    {"plans", "plan", "plan", 1, NULL},
    {"subscription_schedules", "subscription_schedule", "sub_sched", 0, NULL},
    {"test_helpers.test_clocks", "test_helpers.test_clock", "clock", 1, NULL},
    {"payouts", "payout", "po", 1, NULL},
    {"topups", "topup", "tu", 1, NULL},
    {"transfers", "transfer", "tr", 1, NULL},
    {"billing_portal.configurations", "billing_portal.configuration", "bpc", 1, NULL},
    {"billing_portal.sessions", "billing_portal.session", "bps", 1, NULL},
    {"issuing.cardholders", "issuing.cardholder", "ich", 1, "issuing_cardholder"},
    {"issuing.cards", "issuing.card", "ic", 1, "issuing_card"},
    {"quotes", "quote", "qt", 1, NULL},
    {"identity.verification_sessions", "identity.verification_session", "vs", 1, NULL},
    {"accounts", "account", "acct", 1, NULL}, /* account.updated; no account.created */
    {"reporting.report_runs", "reporting.report_run", "frr", 0, NULL}, /* .succeeded */
    {"issuing.authorizations", "issuing.authorization", "iauth", 1, "issuing_authorization"},
    {"issuing.transactions", "issuing.transaction", "ipi", 1, "issuing_transaction"},
};

/* Operations that move an object of a kept resource from one status to another, with the event
 * Stripe records. */
static const struct transition {
    const char *op;
    const char *from; /* the statuses it may leave, '|' between them */
    const char *to;   /* NULL: the status stays */
    const char *event;
} transitions[] = {
    {"quotes.finalize", "draft", "open", "quote.finalized"},
    {"quotes.accept", "open", "accepted", "quote.accepted"},
    {"quotes.cancel", "draft|open", "canceled", "quote.canceled"},
    {"identity.verification_sessions.cancel", "requires_input", "canceled",
     "identity.verification_session.canceled"},
    {"identity.verification_sessions.redact", "requires_input|verified|canceled", NULL,
     "identity.verification_session.redacted"},
    {"payouts.cancel", "pending", "canceled", "payout.canceled"},
    {"topups.cancel", "pending", "canceled", "topup.canceled"},
    /* What Stripe does outside the API as the money moves, asked of the test routes
     * POST /_sluice/payouts/{id}/paid and so on (no API operation has these names). */
    {"payouts.paid", "pending|in_transit", "paid", "payout.paid"},
    {"payouts.failed", "pending|in_transit", "failed", "payout.failed"},
    {"topups.succeeded", "pending", "succeeded", "topup.succeeded"},
    {"topups.failed", "pending", "failed", "topup.failed"},
};

sl_emu_reply_t sl__emu_transition(sl_emulator_t *e, const char *op, const char *id,
                                  const char *request_id, const char *idem_key)
{
    const struct transition *t = NULL;
    for (size_t i = 0; i < sizeof transitions / sizeof *transitions; i++)
        if (strcmp(transitions[i].op, op) == 0)
            t = &transitions[i];
    if (!t)
        return (sl_emu_reply_t){0, NULL, 0, NULL, 0, 0};
    json_t *obj = id ? sl__emu_get(e, id) : NULL;
    const char *dot = strrchr(op, '.');
    const sl_emu_resource_t *r = sl__emu_resource(op, (size_t)(dot - op));
    if (!obj || strcmp(json_string_value(json_object_get(obj, "object")) ?: "", r->object))
        return sl__emu_no_such(r->object, id ? id : "");
    const char *st = sl__emu_status_of(obj);
    size_t sl = strlen(st);
    int ok = 0;
    for (const char *p = t->from; *p && !ok;) {
        size_t n = strcspn(p, "|");
        ok = sl && n == sl && strncmp(p, st, n) == 0;
        p += n + (p[n] == '|');
    }
    if (!ok)
        return sl__emu_error(400, "invalid_request_error", "resource_unexpected_state", NULL,
                             "This %s's status is %s, so %s cannot be done (it needs %s).",
                             r->object, *st ? st : "unset", dot + 1, t->from);
    json_t *prev = json_pack("{s:s}", "status", st);
    if (t->to)
        json_object_set_new(obj, "status", json_string(t->to));
    if (strcmp(t->event, "identity.verification_session.redacted") == 0)
        json_object_set_new(obj, "redaction", json_pack("{s:s}", "status", "redacted"));
    sl__emu_touch(e, id);
    sl__emu_emit(e, t->event, obj, prev, request_id, idem_key);
    return (sl_emu_reply_t){200, json_deep_copy(obj), 0, NULL, 0, 0};
}

sl_emu_reply_t sl__emu_error(unsigned status, const char *type, const char *code, const char *param,
                             const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    sl__utf8_clip(msg); /* a message cut short, or quoting a request cut short, stays UTF-8 */
    json_t *e = json_pack("{s:s,s:s}", "type", type, "message", msg);
    if (code)
        json_object_set_new(e, "code", json_string(code));
    if (param)
        json_object_set_new(e, "param", json_string(param));
    return (sl_emu_reply_t){status, json_pack("{s:o}", "error", e), 0, NULL, 0, 0};
}

sl_emu_reply_t sl__emu_unkept(const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    sl_emu_reply_t out = sl__emu_error(501, "api_error", "not_implemented", NULL, "%s", msg);
    out.unkept = 1;
    return out;
}

sl_emu_reply_t sl__emu_no_such(const char *object, const char *id)
{
    return sl__emu_error(404, "invalid_request_error", "resource_missing", "id", "No such %s: '%s'",
                         object, id);
}

void sl__emu_must_rand(sl_err rc)
{
    if (!rc)
        return;
    sl__log("error", "the system has no randomness to make ids with; stopping", NULL);
    abort();
}

const sl_emu_resource_t *sl__emu_resource(const char *plural, size_t n)
{
    for (size_t i = 0; i < sizeof resources / sizeof *resources; i++)
        if (strlen(resources[i].plural) == n && strncmp(resources[i].plural, plural, n) == 0)
            return &resources[i];
    return NULL;
}

void sl__emu_apply(json_t *obj, const json_t *params, json_t *previous, int metadata)
{
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)params, k, v)
    {
        if (strcmp(k, "expand") == 0)
            continue;
        json_t *cur = json_object_get(obj, k);
        if (previous && !json_object_get(previous, k))
            json_object_set_new(previous, k, cur ? json_deep_copy(cur) : json_null());
        if (metadata && (json_is_null(v) || (json_is_string(v) && !json_string_length(v)))) {
            json_object_del(obj, k);
        } else if (json_is_null(v) && strcmp(k, "metadata") == 0) {
            json_object_set_new(obj, k, json_object());
        } else if (json_is_string(v) && !json_string_length(v)) {
            json_object_set_new(obj, k, json_null()); /* as Stripe: an empty value unsets */
        } else if (json_is_object(v) && json_is_object(cur)) {
            sl__emu_apply(cur, v, NULL, strcmp(k, "metadata") == 0);
        } else if (json_is_object(v) && strcmp(k, "metadata") == 0) {
            json_t *m = json_object();
            sl__emu_apply(m, v, NULL, 1);
            json_object_set_new(obj, k, m);
        } else {
            json_object_set(obj, k, v);
        }
    }
}

/* unit_amount_decimal beside unit_amount, as Stripe gives both. */
static void amount_decimal(json_t *o, const char *field, const char *decimal)
{
    const json_t *v = json_object_get(o, field);
    char dec[32];
    snprintf(dec, sizeof dec, "%lld", (long long)json_integer_value(v));
    if (!json_object_get(o, decimal) || json_is_null(json_object_get(o, decimal)))
        json_object_set_new(o, decimal, json_is_integer(v) ? json_string(dec) : json_null());
}

/* Tiers as Stripe shows them: a tier up to "inf" has up_to null; decimals beside amounts. */
static void tier_amounts(json_t *tiers)
{
    size_t i;
    json_t *tier;
    json_array_foreach(tiers, i, tier)
    {
        if (json_is_string(json_object_get(tier, "up_to")))
            json_object_set_new(tier, "up_to", json_null()); /* inf */
        if (!json_object_get(tier, "flat_amount"))
            json_object_set_new(tier, "flat_amount", json_null());
        if (!json_object_get(tier, "unit_amount"))
            json_object_set_new(tier, "unit_amount", json_null());
        amount_decimal(tier, "unit_amount", "unit_amount_decimal");
        amount_decimal(tier, "flat_amount", "flat_amount_decimal");
    }
}

/* A price's amounts as Stripe shows them: decimals beside amounts, in each currency option and
 * tier too. */
static void price_amounts(json_t *price)
{
    amount_decimal(price, "unit_amount", "unit_amount_decimal");
    const char *cur;
    json_t *opt;
    json_object_foreach(json_object_get(price, "currency_options"), cur, opt)
    {
        amount_decimal(opt, "unit_amount", "unit_amount_decimal");
        if (!json_object_get(opt, "tax_behavior"))
            json_object_set_new(opt, "tax_behavior", json_string("unspecified"));
        if (!json_object_get(opt, "custom_unit_amount"))
            json_object_set_new(opt, "custom_unit_amount", json_null());
    }
    tier_amounts(json_object_get(price, "tiers"));
}

/* A plan's amounts: its own amount (none when tiered, not the example's), its tiers as a
 * price's. */
static void plan_amounts(json_t *plan, const json_t *params)
{
    if (!json_object_get(params, "amount"))
        json_object_set_new(plan, "amount", json_null());
    json_object_del(plan, "amount_decimal");
    amount_decimal(plan, "amount", "amount_decimal");
    if (json_is_string(json_object_get(params, "amount_decimal")))
        json_object_set(plan, "amount_decimal", json_object_get(params, "amount_decimal"));
    tier_amounts(json_object_get(plan, "tiers"));
}

/* The example objects' timestamps are all 1234567890: a new object's own times are now (when it
 * was made, its first period), the rest null until something sets them, as on Stripe. */
static void clear_example_times(json_t *obj, json_int_t now)
{
    static const char *const now_fields[] = {"created",
                                             "updated",
                                             "date",
                                             "period_start",
                                             "period_end",
                                             "billing_cycle_anchor",
                                             "current_period_start",
                                             "current_period_end",
                                             "start_date",
                                             "frozen_time"};
    const char *k;
    json_t *v;
    json_object_foreach(obj, k, v)
    {
        if (!json_is_integer(v) || json_integer_value(v) != 1234567890)
            continue;
        int is_now = 0;
        for (size_t i = 0; i < sizeof now_fields / sizeof *now_fields; i++)
            is_now |= strcmp(k, now_fields[i]) == 0;
        json_object_set_new(obj, k, is_now ? json_integer(now) : json_null());
    }
}

/* create() keeps the text it wrote of the object it made (e->made_text) for sl__emu_freeze,
 * until anything reaches that object again (sl__emu_get, put, del), which may change it. */
static void made_forget(sl_emulator_t *e)
{
    json_decref(e->made_text);
    e->made_text = NULL;
    e->made_id[0] = '\0';
}

static void made_reached(sl_emulator_t *e, const char *id)
{
    if (e->made_text && id && strcmp(id, e->made_id) == 0)
        made_forget(e);
}

static void emit(sl_emulator_t *e, const char *type, const json_t *object, json_t *previous,
                 const char *request_id, const char *idem_key, json_t **object_text);

static sl_emu_reply_t create(sl_emulator_t *e, const sl_emu_resource_t *r, const json_t *params,
                             const char *request_id, const char *idem_key, int shared);

sl_emu_reply_t sl__emu_create(sl_emulator_t *e, const sl_emu_resource_t *r, const json_t *params,
                              const char *request_id, const char *idem_key)
{
    return create(e, r, params, request_id, idem_key, 0);
}

sl_emu_reply_t sl__emu_create_shared(sl_emulator_t *e, const sl_emu_resource_t *r,
                                     const json_t *params, const char *request_id,
                                     const char *idem_key)
{
    return create(e, r, params, request_id, idem_key, 1);
}

static sl_emu_reply_t create(sl_emulator_t *e, const sl_emu_resource_t *r, const json_t *params,
                             const char *request_id, const char *idem_key, int shared)
{
    /* Stripe's example object, parsed once and copied (a copy costs less than a parse). */
    json_t *tmpl = json_object_get(e->templates, r->object);
    if (!tmpl) {
        const char *text = sl__fixture_json(r->object);
        tmpl = text ? json_loads(text, 0, NULL) : NULL;
        json_object_set_new(e->templates, r->object, tmpl ? tmpl : json_object());
        tmpl = json_object_get(e->templates, r->object);
    }
    json_t *obj = json_deep_copy(tmpl);
    char id[80];
    const char *given = json_string_value(json_object_get(params, "id"));
    if (given && *given) {
        if (sl__emu_get(e, given)) {
            json_decref(obj);
            return sl__emu_error(400, "invalid_request_error", "resource_already_exists", "id",
                                 "%s already exists.", given);
        }
        snprintf(id, sizeof id, "%s", given);
    } else {
        sl__emu_must_rand(sl__rand_id(r->prefix, id, sizeof id));
    }
    json_object_set_new(obj, "id", json_string(id));
    json_object_set_new(obj, "object", json_string(r->object));
    clear_example_times(obj, (json_int_t)time(NULL));
    json_object_set_new(obj, "livemode", json_false());
    if (json_object_get(obj, "metadata"))
        json_object_set_new(obj, "metadata", json_object());
    /* Fields the example fills that a new object starts without. */
    static const char *const cleared[] = {"email",
                                          "name",
                                          "description",
                                          "phone",
                                          "address",
                                          "shipping",
                                          "nickname",
                                          "lookup_key",
                                          "default_price",
                                          "unit_label",
                                          "statement_descriptor",
                                          "url"};
    for (size_t i = 0; i < sizeof cleared / sizeof *cleared; i++)
        if (json_object_get(obj, cleared[i]))
            json_object_set_new(obj, cleared[i], json_null());
    if (strcmp(r->object, "product") == 0 || strcmp(r->object, "price") == 0)
        json_object_set_new(obj, "active", json_true());
    /* The status a new object starts in, where the example shows a later one. */
    static const char *const first_status[][2] = {
        {"webhook_endpoint", "enabled"},
        {"identity.verification_session", "requires_input"},
        {"payout", "pending"},
        {"quote", "draft"},
        {"topup", "pending"}};
    for (size_t i = 0; i < sizeof first_status / sizeof *first_status; i++)
        if (strcmp(r->object, first_status[i][0]) == 0)
            json_object_set_new(obj, "status", json_string(first_status[i][1]));
    if (strcmp(r->object, "price") == 0) {
        /* One-time unless recurring is given; recurring takes Stripe's defaults. */
        json_t *rec = json_object_get(params, "recurring");
        json_object_set_new(obj, "type", json_string(rec ? "recurring" : "one_time"));
        json_object_set_new(obj, "recurring",
                            rec ? json_pack("{s:n,s:s,s:i,s:s}", "aggregate_usage", "interval",
                                            "month", "interval_count", 1, "usage_type", "licensed")
                                : json_null());
    }
    sl__emu_apply(obj, params, NULL, 0);
    if (strcmp(r->object, "price") == 0)
        price_amounts(obj);
    else if (strcmp(r->object, "plan") == 0)
        plan_amounts(obj, params);
    sl__emu_put(e, id, obj);
    sl__emu_touch(e, id);
    sl__emu_list_append(e, r->object, id);
    int secret_shown = strcmp(r->object, "webhook_endpoint") == 0;
    json_t *out = shared && !secret_shown ? json_incref(obj) : json_deep_copy(obj);
    if (secret_shown) {
        char secret[64];
        sl__emu_must_rand(sl__rand_token(secret, 32));
        char whsec[80];
        snprintf(whsec, sizeof whsec, "whsec_%s", secret);
        json_object_set_new(e->secrets, id, json_string(whsec));
        json_object_set_new(out, "secret", json_string(whsec)); /* shown once, as Stripe does */
    }
    if (r->emits) {
        char type[96];
        snprintf(type, sizeof type, "%s.created", r->event ? r->event : r->object);
        if (sl_event_type_known(type)) { /* Stripe has no quote.updated */
            json_t *text = NULL;
            emit(e, type, obj, NULL, request_id, idem_key, shared ? &text : NULL);
            if (text) { /* the object's text, written once for the event, the store and reply */
                made_forget(e);
                snprintf(e->made_id, sizeof e->made_id, "%s", id);
                e->made_text = text;
            }
        }
    }
    json_decref(obj);
    return (sl_emu_reply_t){200, out, 0, NULL, 0, 0};
}

sl_emu_reply_t sl__emu_update(sl_emulator_t *e, const sl_emu_resource_t *r, const char *id,
                              const json_t *params, const char *request_id, const char *idem_key)
{
    json_t *obj = sl__emu_get(e, id);
    if (!obj || strcmp(json_string_value(json_object_get(obj, "object")) ?: "", r->object) != 0)
        return sl__emu_no_such(r->object, id);
    json_t *previous = json_object();
    sl__emu_apply(obj, params, previous, 0);
    sl__emu_touch(e, id);
    char type[96];
    snprintf(type, sizeof type, "%s.updated", r->event ? r->event : r->object);
    if (r->emits && sl_event_type_known(type)) /* Stripe has no quote.updated */
        sl__emu_emit(e, type, obj, previous, request_id, idem_key);
    else
        json_decref(previous);
    return (sl_emu_reply_t){200, json_deep_copy(obj), 0, NULL, 0, 0};
}

sl_emu_reply_t sl__emu_delete(sl_emulator_t *e, const sl_emu_resource_t *r, const char *id,
                              const char *request_id)
{
    json_t *obj = sl__emu_get(e, id);
    if (!obj || strcmp(json_string_value(json_object_get(obj, "object")) ?: "", r->object) != 0)
        return sl__emu_no_such(r->object, id);
    json_incref(obj);
    sl__emu_del(e, id);
    sl__emu_forget(e, id);
    json_t *list = json_object_get(e->lists, r->object);
    for (size_t i = 0; i < json_array_size(list); i++)
        if (strcmp(json_string_value(json_array_get(list, i)), id) == 0) {
            json_array_remove(list, i);
            break;
        }
    json_object_del(e->secrets, id);
    if (r->emits) {
        char type[96];
        snprintf(type, sizeof type, "%s.deleted", r->event ? r->event : r->object);
        if (sl_event_type_known(type)) /* Stripe has no quote.updated */
            sl__emu_emit(e, type, obj, NULL, request_id, NULL);
    }
    json_decref(obj);
    return (sl_emu_reply_t){
        200, json_pack("{s:s,s:s,s:b}", "id", id, "object", r->object, "deleted", 1), 0, NULL, 0,
        0};
}

/* A growing buffer for json_dump_callback: the object's text written once, after its type. */
typedef struct text_buf {
    char *data;
    size_t len, cap;
} text_buf_t;

static int text_put(const char *chunk, size_t n, void *arg)
{
    text_buf_t *b = arg;
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 1024;
        while (cap < b->len + n)
            cap *= 2;
        char *d = realloc(b->data, cap);
        if (!d)
            return -1;
        b->data = d;
        b->cap = cap;
    }
    memcpy(b->data + b->len, chunk, n);
    b->len += n;
    return 0;
}

/* A string as JSON into b ("null" for NULL or a string that is not UTF-8). */
static int put_string(text_buf_t *b, const char *s)
{
    json_t *v = s ? json_string(s) : NULL;
    int rc = v ? json_dump_callback(v, text_put, b, JSON_ENCODE_ANY) : text_put("null", 4, b);
    json_decref(v);
    return rc;
}

/* sl__emu_emit; *object_text (when given) is set to the object's kept text ("<type>\n<JSON>")
 * when the event was written as text from it, NULL otherwise. */
static void emit(sl_emulator_t *e, const char *type, const json_t *object, json_t *previous,
                 const char *request_id, const char *idem_key, json_t **object_text);

void sl__emu_emit(sl_emulator_t *e, const char *type, const json_t *object, json_t *previous,
                  const char *request_id, const char *idem_key)
{
    emit(e, type, object, previous, request_id, idem_key, NULL);
}

static void emit(sl_emulator_t *e, const char *type, const json_t *object, json_t *previous,
                 const char *request_id, const char *idem_key, json_t **object_text)
{
    if (object_text)
        *object_text = NULL;
    char id[64];
    sl__emu_must_rand(sl__rand_id("evt", id, sizeof id));
    json_int_t now = (json_int_t)time(NULL);
    if (json_array_size(json_object_get(e->lists, "webhook_endpoint"))) {
        /* The object as it is now: shared, not copied, as the event is made text (and the
         * payload of its deliveries) before this returns and nothing changes it meanwhile. */
        json_t *data = json_pack("{s:O}", "object", (json_t *)object);
        if (previous)
            json_object_set_new(data, "previous_attributes", previous);
        json_t *ev = json_pack("{s:s,s:s,s:s,s:I,s:o,s:b,s:i,s:{s:s,s:s?},s:s}", "id", id, "object",
                               "event", "api_version", sl_catalog_api_version(), "created", now,
                               "data", data, "livemode", 0, "pending_webhooks", 0, "request", "id",
                               request_id, "idempotency_key", idem_key, "type", type);
        sl__emu_deliver_event(e, ev, type);
        json_array_append_new(e->events, sl__emu_event_stub(ev));
        json_decref(ev);
        return;
    }
    /* No endpoint to deliver to: the event is only kept, as text, written straight from the
     * object (the same text a tree of it would give, without the tree). */
    text_buf_t b = {0};
    char head[256];
    int n = snprintf(head, sizeof head,
                     "{\"id\":\"%s\",\"object\":\"event\",\"api_version\":\"%s\",\"created\":%lld,"
                     "\"data\":{\"object\":",
                     id, sl_catalog_api_version(), (long long)now);
    static const char tail[] = "},\"livemode\":false,\"pending_webhooks\":0,\"request\":{\"id\":";
    int bad = n < 0 || (size_t)n >= sizeof head || text_put(head, (size_t)n, &b) ||
              json_dump_callback(object, text_put, &b, JSON_COMPACT);
    if (!bad && object_text) { /* the object's text as it is kept: "<type>\n<JSON>" */
        const char *otype = json_string_value(json_object_get(object, "object")) ?: "";
        size_t tl = strlen(otype), ol = b.len - (size_t)n;
        char *kept = malloc(tl + 1 + ol);
        if (kept) {
            memcpy(kept, otype, tl);
            kept[tl] = '\n';
            memcpy(kept + tl + 1, b.data + n, ol);
            *object_text = json_stringn_nocheck(kept, tl + 1 + ol);
            free(kept);
        }
    }
    if (!bad && previous)
        bad = text_put(",\"previous_attributes\":", 23, &b) ||
              json_dump_callback(previous, text_put, &b, JSON_COMPACT);
    bad = bad || text_put(tail, sizeof tail - 1, &b) || put_string(&b, request_id) ||
          text_put(",\"idempotency_key\":", 19, &b) || put_string(&b, idem_key) ||
          text_put("},\"type\":", 9, &b) || put_string(&b, type) || text_put("}", 1, &b);
    json_decref(previous);
    if (!bad)
        json_array_append_new(e->events, json_pack("{s:s,s:s,s:I,s:s%}", "id", id, "type", type,
                                                   "created", now, "text", b.data, b.len));
    free(b.data);
}

/* Kept objects are compact JSON text between requests (a tree costs several times its text):
 * e->objects maps an id to "<object type>\n<JSON>", or to its tree while a request uses it;
 * e->thawed names the ids made trees since the last sl__emu_freeze. A subscription's items are
 * the same trees as the subscription_item objects while thawed, as the code that changes one
 * expects. */

/* The JSON of a kept text, after its type. */
static const char *text_json(const json_t *v, size_t *len)
{
    const char *s = json_string_value(v);
    const char *nl = memchr(s, '\n', json_string_length(v));
    const char *j = nl ? nl + 1 : s;
    *len = json_string_length(v) - (size_t)(j - s);
    return j;
}

static json_t *text_parse(const json_t *v)
{
    size_t n;
    const char *j = text_json(v, &n);
    return json_loadb(j, n, 0, NULL);
}
static void link_items(sl_emulator_t *e, json_t *sub)
{
    json_t *data = json_object_get(json_object_get(sub, "items"), "data");
    for (size_t k = 0; k < json_array_size(data); k++) {
        const char *iid = json_string_value(json_object_get(json_array_get(data, k), "id"));
        json_t *item = iid ? sl__emu_get(e, iid) : NULL;
        if (item)
            json_array_set(data, k, item);
    }
}

json_t *sl__emu_get(sl_emulator_t *e, const char *id)
{
    made_reached(e, id);
    json_t *v = id ? json_object_get(e->objects, id) : NULL;
    if (!json_is_string(v))
        return v;
    json_t *tree = text_parse(v);
    if (!tree) /* cannot be: the text was dumped from a tree */
        return NULL;
    json_object_set_new(e->objects, id, tree);
    json_array_append_new(e->thawed, json_string(id));
    const char *type = json_string_value(json_object_get(tree, "object")) ?: "";
    if (strcmp(type, "subscription") == 0)
        link_items(e, tree);
    else if (strcmp(type, "subscription_item") == 0)
        sl__emu_get(e, json_string_value(json_object_get(tree, "subscription")));
    return tree;
}

json_t *sl__emu_read(sl_emulator_t *e, const char *id)
{
    json_t *v = id ? json_object_get(e->objects, id) : NULL;
    if (!json_is_string(v))
        return json_deep_copy(v);
    return text_parse(v);
}

json_t *sl__emu_text(sl_emulator_t *e, const char *id, const char *type)
{
    const json_t *v = id ? json_object_get(e->objects, id) : NULL;
    size_t tl = strlen(type), n;
    if (!json_is_string(v) || json_string_length(v) <= tl ||
        memcmp(json_string_value(v), type, tl) || json_string_value(v)[tl] != '\n')
        return NULL;
    const char *j = text_json(v, &n);
    return json_stringn_nocheck(j, n);
}

int sl__emu_may_match(sl_emulator_t *e, const char *id, const char *key, const char *value)
{
    const json_t *v = id ? json_object_get(e->objects, id) : NULL;
    if (!v)
        return 0;
    if (!json_is_string(v)) {
        const json_t *f = json_object_get(v, key);
        if (json_is_object(f)) /* expanded: by its id */
            f = json_object_get(f, "id");
        return strcmp(json_string_value(f) ?: "", value) == 0;
    }
    /* "key":"value" as json_dumpb writes it, unless one has a character it escapes. */
    char needle[256];
    int n = snprintf(needle, sizeof needle, "\"%s\":\"%s\"", key, value);
    if (n < 0 || (size_t)n >= sizeof needle)
        return 1; /* cannot tell: the caller reads the object */
    for (const char *const *part = (const char *const[]){key, value, NULL}; *part; part++)
        for (const unsigned char *p = (const unsigned char *)*part; *p; p++)
            if (*p < 0x20 || *p == '\\' || *p == '"')
                return 1;
    return memmem(json_string_value(v), json_string_length(v), needle, (size_t)n) != NULL;
}

void sl__emu_put(sl_emulator_t *e, const char *id, json_t *obj)
{
    made_reached(e, id);
    json_object_set(e->objects, id, obj);
    json_array_append_new(e->thawed, json_string(id));
}

void sl__emu_del(sl_emulator_t *e, const char *id)
{
    made_reached(e, id);
    json_object_del(e->objects, id);
}

void sl__emu_freeze_reply(sl_emulator_t *e, json_t **body)
{
    text_buf_t b = {0};
    for (size_t i = 0; i < json_array_size(e->thawed); i++) {
        const char *id = json_string_value(json_array_get(e->thawed, i));
        json_t *v = json_object_get(e->objects, id);
        if (!json_is_object(v))
            continue;
        const char *type = json_string_value(json_object_get(v, "object")) ?: "";
        size_t tl = strlen(type);
        b.len = 0;
        if (e->made_text && strcmp(id, e->made_id) == 0) { /* written already, unchanged since */
            if (text_put(json_string_value(e->made_text), json_string_length(e->made_text), &b))
                continue;
        } else if (text_put(type, tl, &b) || text_put("\n", 1, &b) ||
                   json_dump_callback(v, text_put, &b, JSON_COMPACT))
            continue;             /* no memory: it stays a tree, which is as correct */
        if (body && *body == v) { /* the reply is this object: it is sent as the text */
            json_decref(*body);
            *body = json_stringn_nocheck(b.data + tl + 1, b.len - tl - 1);
        }
        json_object_set_new(e->objects, id, json_stringn_nocheck(b.data, b.len));
    }
    free(b.data);
    made_forget(e);
    json_array_clear(e->thawed);
}

void sl__emu_freeze(sl_emulator_t *e)
{
    sl__emu_freeze_reply(e, NULL);
}

void sl__emu_unlock(sl_emulator_t *e)
{
    sl__emu_freeze(e);
    pthread_mutex_unlock(&e->lock);
}

void sl__emu_unlock_reply(sl_emulator_t *e, sl_emu_reply_t *out)
{
    sl__emu_freeze_reply(e, out->status == 200 ? &out->body : NULL);
    pthread_mutex_unlock(&e->lock);
}

void sl__emu_trim_events(sl_emulator_t *e)
{
    size_t n = json_array_size(e->events), keep = (size_t)e->cfg.max_events;
    if (!keep || n <= keep + keep / 16) /* dropped in batches: a new array now and then */
        return;
    json_t *kept = json_array();
    for (size_t i = n - keep; i < n; i++)
        json_array_append(kept, json_array_get(e->events, i));
    json_decref(e->events);
    e->events = kept;
}

json_t *sl__emu_event_stub(const json_t *ev)
{
    char *text = json_dumps(ev, JSON_COMPACT);
    json_t *stub = json_pack("{s:O,s:O,s:O,s:s}", "id", json_object_get(ev, "id"), "type",
                             json_object_get(ev, "type"), "created", json_object_get(ev, "created"),
                             "text", text ? text : "{}");
    free(text);
    return stub;
}

json_t *sl__emu_event_full(const json_t *stub)
{
    json_t *ev = json_loads(json_string_value(json_object_get(stub, "text")) ?: "{}", 0, NULL);
    return ev ? ev : json_object();
}

int sl__emu_listed(const char *type)
{
    for (size_t i = 0; i < sizeof resources / sizeof *resources; i++)
        if (strcmp(resources[i].object, type) == 0)
            return strcmp(type, "subscription_item") != 0;
    return 0;
}

void sl__emu_list_append(sl_emulator_t *e, const char *type, const char *id)
{
    json_t *list = json_object_get(e->lists, type);
    if (!list) {
        list = json_array();
        json_object_set_new(e->lists, type, list);
    }
    json_array_append_new(list, json_string(id));
}

json_t *sl__emu_price(sl_emulator_t *e, const char *id)
{
    json_t *obj = id ? sl__emu_get(e, id) : NULL;
    if (!sl__emu_is_a(obj, "plan"))
        return obj;
    /* A plan is a price with its id (Stripe made Plans prices): the price it is, kept beside it
     * as "<plan>/price" and made again from it each time, so that it follows the plan. */
    char key[160];
    snprintf(key, sizeof key, "%s/price", id);
    const json_t *amount = json_object_get(obj, "amount");
    json_t *price = json_pack(
        "{s:s,s:s,s:O,s:O,s:O,s:O,s:b,s:n,s:o,s:O,s:O,s:{s:O,s:O,s:O,s:O,s:n},s:s,s:O,s:n,s:s,s:O,"
        "s:O}",
        "id", id, "object", "price", "active", json_object_get(obj, "active"), "billing_scheme",
        json_object_get(obj, "billing_scheme"), "created", json_object_get(obj, "created"),
        "currency", json_object_get(obj, "currency"), "livemode", 0, "lookup_key", "metadata",
        json_deep_copy(json_object_get(obj, "metadata")), "nickname",
        json_object_get(obj, "nickname"), "product", json_object_get(obj, "product"), "recurring",
        "aggregate_usage", json_object_get(obj, "aggregate_usage"), "interval",
        json_object_get(obj, "interval"), "interval_count", json_object_get(obj, "interval_count"),
        "usage_type", json_object_get(obj, "usage_type"), "trial_period_days", "tax_behavior",
        "unspecified", "tiers_mode", json_object_get(obj, "tiers_mode"), "transform_quantity",
        "type", "recurring", "unit_amount", amount ? amount : json_null(), "unit_amount_decimal",
        json_object_get(obj, "amount_decimal") ?: json_null());
    if (!price)
        return NULL;
    sl__emu_put(e, key, price);
    sl__emu_touch(e, key);
    json_decref(price);
    return sl__emu_get(e, key);
}

int sl__emu_is_a(const json_t *obj, const char *type)
{
    return obj && strcmp(json_string_value(json_object_get(obj, "object")) ?: "", type) == 0;
}

const char *sl__emu_status_of(const json_t *obj)
{
    return json_string_value(json_object_get(obj, "status")) ?: "";
}

static int fixture_cmp(const void *key, const void *row)
{
    return strcmp(key, ((const sl_fixture_t *)row)->object);
}

const char *sl__fixture_json(const char *object)
{
    const sl_fixture_t *f =
        bsearch(object, sl__fixtures, sl__nfixtures, sizeof *sl__fixtures, fixture_cmp);
    return f ? f->json : NULL;
}

void sl__emu_state_init(sl_emulator_t *e)
{
    e->objects = json_object();
    e->thawed = json_array();
    e->templates = json_object();
    e->lists = json_object();
    e->events = json_array();
    e->hits = calloc(sl_op_count() ? sl_op_count() : 1, sizeof *e->hits);
    e->idem = json_object();
    e->secrets = json_object();
    e->pm_tokens = json_object();
    e->settling = json_array();
    e->seq = json_object();
    e->touched = json_object();
    e->gone = json_array();
}

void sl__emu_state_free(sl_emulator_t *e)
{
    json_decref(e->objects);
    json_decref(e->thawed);
    json_decref(e->templates);
    json_decref(e->made_text);
    json_decref(e->lists);
    json_decref(e->events);
    free(e->hits);
    json_decref(e->idem);
    json_decref(e->secrets);
    json_decref(e->pm_tokens);
    json_decref(e->settling);
    json_decref(e->seq);
    json_decref(e->touched);
    json_decref(e->gone);
    sqlite3_close(e->db);
}

int sl__emu_idem_seen(sl_emulator_t *e, const char *key, const char *fingerprint,
                      sl_emu_reply_t *out)
{
    const json_t *seen = json_object_get(e->idem, key);
    if (!seen)
        return 0;
    const char *fp = json_string_value(json_object_get(seen, "fingerprint"));
    if (fingerprint && fp && strcmp(fp, fingerprint) == 0) {
        /* The reply as text ("text"), or as a tree in a state file from before ("body"). */
        const char *text = json_string_value(json_object_get(seen, "text"));
        json_t *body =
            text ? json_loads(text, 0, NULL) : json_deep_copy(json_object_get(seen, "body"));
        *out = (sl_emu_reply_t){(unsigned)json_integer_value(json_object_get(seen, "status")),
                                body ? body : json_object(),
                                1,
                                NULL,
                                0,
                                0};
        return 1;
    }
    *out = sl__emu_error(400, "idempotency_error", NULL, NULL,
                         "Keys for idempotent requests can only be used with the same "
                         "parameters they were first used with. Try using a key other "
                         "than '%s' if you meant to execute a different request.",
                         key);
    return 1;
}

void sl__emu_idem_keep(sl_emulator_t *e, const char *key, const char *fingerprint,
                       const sl_emu_reply_t *r)
{
    if (!key || !fingerprint || r->status >= 500)
        return;
    char *text = json_dumps(r->body, JSON_COMPACT); /* a tree costs several times its text */
    json_object_set_new(e->idem, key,
                        json_pack("{s:s,s:i,s:s}", "fingerprint", fingerprint, "status",
                                  (int)r->status, "text", text ? text : "{}"));
    free(text);
}

void sl__emu_snapshot(sl_emu_reply_t *r)
{
    json_t *copy = json_deep_copy(r->body);
    json_decref(r->body);
    r->body = copy;
}

/* What persist.c writes at the end of a request: the objects it changed and those it removed. */
void sl__emu_touch(sl_emulator_t *e, const char *id)
{
    if (!e->db)
        return;
    if (!json_object_get(e->seq, id))
        json_object_set_new(e->seq, id, json_integer(e->next_seq++));
    json_object_set_new(e->touched, id, json_true());
}

void sl__emu_forget(sl_emulator_t *e, const char *id)
{
    if (e->db)
        json_array_append_new(e->gone, json_string(id));
}
