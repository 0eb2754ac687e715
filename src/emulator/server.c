/* The emulator's HTTP server: requests read with libmicrohttpd, checked as Stripe checks them
 * (bearer test key, the catalog's operation and parameters, Idempotency-Key, expand[]) and
 * dispatched to the resource that answers them, with Stripe's headers on every reply. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <microhttpd.h>

#include "core/buf.h"
#include "core/net.h"
#include "core/rand.h"
#include "core/utf8.h"
#include "emulator/fixtures.h"
#include "emulator/internal.h"
#include "sluice/catalog.h"
#include "stripe/catalog.h"

#define EMU_MAX_BODY (1u << 20)
#define EMU_MAX_SEGS 16

typedef struct request {
    sl_buf_t body;
    char *uri;
} request_t;

/* The number of segments of each operation's path, to pass over those of another length. */
static unsigned char op_segs[1024];
static pthread_once_t op_segs_once = PTHREAD_ONCE_INIT;

static void count_op_segs(void)
{
    for (size_t i = 0; i < sl_op_count() && i < sizeof op_segs; i++) {
        unsigned n = 0;
        for (const char *p = sl_op_path(sl_op_at(i)); *p; p++)
            n += *p != '/' && (p == sl_op_path(sl_op_at(i)) || p[-1] == '/');
        op_segs[i] = (unsigned char)(n < 255 ? n : 255);
    }
}

const sl_op_t *sl__emu_route(const char *method, const char *path, json_t *params)
{
    pthread_once(&op_segs_once, count_op_segs);
    const sl_op_t *best = NULL;
    int best_score = -1;
    char segs[EMU_MAX_SEGS][256];
    size_t nseg = 0;
    /* No operation has that many segments, that long a one, or bytes that are not UTF-8 in one
     * (a path parameter becomes a JSON string): such a path routes nowhere, rather than being
     * cut to something that routes with an id missing or changed. */
    for (const char *p = path; *p;) {
        while (*p == '/')
            p++;
        if (!*p)
            break;
        size_t n = strcspn(p, "/");
        if (nseg == EMU_MAX_SEGS || n >= sizeof segs[0])
            return NULL;
        memcpy(segs[nseg], p, n);
        segs[nseg][n] = '\0';
        if (!sl__utf8_valid(segs[nseg++]))
            return NULL;
        p += n;
    }
    for (size_t i = 0; i < sl_op_count(); i++) {
        if (i < sizeof op_segs && op_segs[i] != nseg)
            continue;
        const sl_op_t *op = sl_op_at(i);
        if (strcmp(sl_op_method(op), method) != 0)
            continue;
        const char *t = sl_op_path(op);
        size_t k = 0;
        int score = 0, ok = 1;
        for (const char *p = t; *p && ok;) {
            while (*p == '/')
                p++;
            if (!*p)
                break;
            size_t n = strcspn(p, "/");
            if (k >= nseg)
                ok = 0;
            else if (*p == '{')
                ;
            else if (strlen(segs[k]) == n && strncmp(segs[k], p, n) == 0)
                score++;
            else
                ok = 0;
            k++;
            p += n;
        }
        if (ok && k == nseg && score > best_score) {
            best = op;
            best_score = score;
        }
    }
    if (best) {
        const char *t = sl_op_path(best);
        size_t k = 0;
        for (const char *p = t; *p;) {
            while (*p == '/')
                p++;
            if (!*p)
                break;
            size_t n = strcspn(p, "/");
            if (*p == '{') {
                char name[128];
                snprintf(name, sizeof name, "%.*s", (int)(n - 2), p + 1);
                json_object_set_new(params, name, json_string(segs[k]));
            }
            k++;
            p += n;
        }
    }
    return best;
}

/* A kept object's text in a reply (sl__emu_text) made a tree; the reference is taken. */
static json_t *as_tree(json_t *text)
{
    json_t *tree = json_loadb(json_string_value(text), json_string_length(text), 0, NULL);
    json_decref(text);
    return tree ? tree : json_object();
}

/* The legacy `plan` of a subscription's item, which Stripe still takes though API 2023-08-16 no
 * longer lists it: a plan is a price of the same id (sl__emu_price), so it is asked as one. */
static void plan_as_price(json_t *item)
{
    json_t *plan = json_object_get(item, "plan");
    if (json_is_string(plan) && !json_object_get(item, "price")) {
        json_object_set(item, "price", plan);
        json_object_del(item, "plan");
    }
}

static void legacy_plans(const sl_op_t *op, json_t *params)
{
    if (strncmp(sl_op_name(op), "subscription", 12))
        return; /* subscriptions, subscription_items, subscription_schedules */
    if (strncmp(sl_op_name(op), "subscription_items.", 19) == 0)
        plan_as_price(params);
    size_t i, k;
    json_t *v, *ph;
    json_array_foreach(json_object_get(params, "items"), i, v) plan_as_price(v);
    json_array_foreach(json_object_get(params, "phases"), k, ph)
    {
        json_array_foreach(json_object_get(ph, "items"), i, v) plan_as_price(v);
    }
}

/* The parameter a validation message names (between its first backquotes). */
static void named_param(const char *msg, char *out, size_t n)
{
    const char *a = strchr(msg, '`'), *b = a ? strchr(a + 1, '`') : NULL;
    snprintf(out, n, "%.*s", a && b ? (int)(b - a - 1) : 0, a ? a + 1 : "");
}

/* Operations a handler of their own answers, by name (or a prefix ending in '.'): the handler
 * gets the operation's name, the path's first parameter as the id, and the typed parameters. */
static const struct named_op {
    const char *name;
    sl_emu_reply_t (*fn)(sl_emulator_t *e, const char *name, const char *id, json_t *typed,
                         const char *request_id, const char *idem_key);
} named_ops[] = {
    {"balance.retrieve", sl__emu_money},
    {"customers.cash_balance.retrieve", sl__emu_money},
    {"customers.cash_balance_transactions.list", sl__emu_money},
    {"test_helpers.customers.fund_cash_balance", sl__emu_money},
    {"test_helpers.issuing.authorizations.", sl__emu_issuing},
    {"test_helpers.issuing.transactions.", sl__emu_issuing},
};

static const struct named_op *named_op(const char *name)
{
    for (size_t i = 0; i < sizeof named_ops / sizeof *named_ops; i++) {
        size_t n = strlen(named_ops[i].name);
        if (named_ops[i].name[n - 1] == '.' ? strncmp(name, named_ops[i].name, n) == 0
                                            : strcmp(name, named_ops[i].name) == 0)
            return &named_ops[i];
    }
    return NULL;
}

static sl_emu_reply_t dispatch(sl_emulator_t *e, const sl_op_t *op, json_t *params,
                               const char *path, const char *request_id, const char *idem_key)
{
    const char *name = sl_op_name(op);
    const char *dot = strrchr(name, '.');
    const char *verb = dot + 1;
    const struct named_op *h = named_op(name);
    if (h) {
        const char *pp = sl_op_path_param(op, 0);
        json_t *id = json_incref(json_object_get(params, pp ? pp : ""));
        for (size_t i = 0; i < sl_op_path_param_count(op); i++)
            json_object_del(params, sl_op_path_param(op, i));
        json_t *typed = sl__op_coerce(op, params);
        sl_emu_reply_t out = h->fn(e, name, json_string_value(id), typed, request_id, idem_key);
        json_decref(typed);
        json_decref(id);
        return out;
    }
    if (strcmp(name, "events.list") == 0) {
        json_t *typed = sl__op_coerce(op, params); /* limit=100 and created[gt]=N as numbers */
        sl_emu_reply_t out = sl__emu_events_list(e, typed);
        json_decref(typed);
        return out;
    }
    if (strcmp(name, "events.retrieve") == 0) {
        const char *id = json_string_value(json_object_get(params, "id"));
        for (size_t i = 0; i < json_array_size(e->events); i++) {
            json_t *ev = json_array_get(e->events, i);
            if (strcmp(json_string_value(json_object_get(ev, "id")), id) == 0)
                return (sl_emu_reply_t){200, sl__emu_event_full(ev), 0, NULL, 0, 0};
        }
        return sl__emu_no_such("event", id);
    }
    if (strcmp(name, "account.retrieve") == 0) {
        json_t *acct = json_loads(sl__fixture_json("account"), 0, NULL);
        json_object_set_new(acct, "id", json_string("acct_sluiceemulator"));
        return (sl_emu_reply_t){200, acct, 0, NULL, 0, 0};
    }
    size_t nl = strlen(name);
    if (strncmp(name, "quotes.", 7) == 0 && nl > 5 && strcmp(name + nl - 5, ".list") == 0 &&
        strcmp(name, "quotes.list")) {
        /* A quote's lines (all of them upfront: the emulator bills no quote's later phases). */
        const char *pp = sl_op_path_param(op, 0);
        const char *qid = json_string_value(json_object_get(params, pp ? pp : "")) ?: "";
        const json_t *q = sl__emu_get(e, qid);
        if (!q || strcmp(json_string_value(json_object_get(q, "object")) ?: "", "quote"))
            return sl__emu_no_such("quote", qid);
        const json_t *li = sl__emu_line_items(e, qid);
        json_object_del(params, pp);
        json_t *typed = sl__op_coerce(op, params);
        sl_emu_reply_t out =
            sl__emu_page(li ? json_copy(json_object_get(li, "data")) : json_array(), typed, path);
        json_decref(typed);
        return out;
    }
    if (strcmp(name, "quotes.pdf.retrieve") == 0) {
        /* A kept quote's PDF: one blank page (the emulator lays out no documents). */
        const char *qid = json_string_value(json_object_get(params, "quote")) ?: "";
        const json_t *q = sl__emu_get(e, qid);
        if (!q || strcmp(json_string_value(json_object_get(q, "object")) ?: "", "quote"))
            return sl__emu_no_such("quote", qid);
        static const char pdf[] =
            "%PDF-1.4\n1 0 obj <</Type /Catalog /Pages 2 0 R>> endobj\n"
            "2 0 obj <</Type /Pages /Kids [3 0 R] /Count 1>> endobj\n"
            "3 0 obj <</Type /Page /Parent 2 0 R /MediaBox [0 0 612 792]>> endobj\n"
            "trailer <</Root 1 0 R>>\n%%EOF\n";
        sl_emu_reply_t out = {200, NULL, 0, strdup(pdf), 0, 0};
        return out;
    }
    if (strncmp(name, "credit_notes.preview", 20) == 0) {
        /* A preview keeps nothing: answered statelessly, for an invoice that is kept. */
        const char *in = json_string_value(json_object_get(params, "invoice")) ?: "";
        const json_t *inv = sl__emu_get(e, in);
        if (!inv || strcmp(json_string_value(json_object_get(inv, "object")) ?: "", "invoice"))
            return sl__emu_error(400, "invalid_request_error", "resource_missing", "invoice",
                                 "No such invoice: '%s'", in);
        sl_emu_reply_t out = sl__emu_unkept("sluice emulate does not keep %s", name);
        return out;
    }
    if (strcmp(name, "checkout.sessions.line_items.list") == 0 ||
        strcmp(name, "payment_links.line_items.list") == 0) {
        /* checkout.sessions.line_items.list, payment_links.line_items.list */
        const char *pp = sl_op_path_param(op, 0);
        const json_t *li =
            sl__emu_line_items(e, json_string_value(json_object_get(params, pp ? pp : "")) ?: "");
        if (!li)
            return sl__emu_no_such(strncmp(name, "checkout", 8) ? "payment_link"
                                                                : "checkout.session",
                                   json_string_value(json_object_get(params, pp ? pp : "")) ?: "");
        json_object_del(params, pp);
        json_t *typed = sl__op_coerce(op, params);
        sl_emu_reply_t out = sl__emu_page(json_copy(json_object_get(li, "data")), typed, path);
        json_decref(typed);
        return out;
    }
    if (strcmp(name, "transfers.reversals.create") == 0) {
        const char *tp = sl_op_path_param(op, 0);
        json_t *tid = json_incref(json_object_get(params, tp ? tp : ""));
        json_object_del(params, tp ? tp : "");
        json_t *typed = sl__op_coerce(op, params);
        sl_emu_reply_t out =
            sl__emu_transfer_reversal(e, json_string_value(tid), typed, request_id, idem_key);
        json_decref(typed);
        json_decref(tid);
        return out;
    }
    if (strncmp(name, "customers.sources.", 18) == 0 && !strchr(name + 18, '.')) {
        const char *cp = sl_op_path_param(op, 0), *ip = sl_op_path_param(op, 1);
        json_t *cus = json_incref(json_object_get(params, cp ? cp : ""));
        json_t *sid = json_incref(json_object_get(params, ip ? ip : ""));
        json_object_del(params, cp ? cp : "");
        json_object_del(params, ip ? ip : "");
        json_t *typed = sl__op_coerce(op, params);
        sl_emu_reply_t out = sl__emu_customer_sources(
            e, verb, json_string_value(cus), json_string_value(sid), typed, request_id, idem_key);
        json_decref(typed);
        json_decref(cus);
        json_decref(sid);
        return out;
    }
    const sl_emu_resource_t *r = sl__emu_resource(name, (size_t)(dot - name));
    if (r) {
        /* The id is the operation's only path parameter. */
        const char *pp = sl_op_path_param(op, 0);
        json_t *id = pp ? json_incref(json_object_get(params, pp)) : NULL;
        if (pp)
            json_object_del(params, pp);
        json_t *typed = sl__op_coerce(op, params);
        sl_emu_reply_t out;
        const char *ids = json_string_value(id);
        int pi_write = strcmp(r->plural, "payment_intents") == 0 && strcmp(verb, "retrieve") &&
                       strcmp(verb, "list") && strcmp(verb, "search");
        int rw = strcmp(verb, "retrieve") && strcmp(verb, "list") && strcmp(verb, "search");
        if (pi_write)
            out = sl__emu_payment_intents(e, verb, ids, typed, request_id, idem_key);
        else if (strcmp(r->plural, "quotes") == 0 &&
                 (strcmp(verb, "create") == 0 || strcmp(verb, "update") == 0))
            out = sl__emu_quotes_write(e, verb, ids, typed, request_id, idem_key);
        else if (strcmp(r->plural, "invoices") == 0 && rw)
            out = sl__emu_invoices(e, verb, ids, typed, request_id, idem_key);
        else if (strcmp(r->plural, "subscriptions") == 0 && rw && strcmp(verb, "delete"))
            out = sl__emu_subscriptions(e, verb, ids, typed, request_id, idem_key);
        else if (strcmp(r->plural, "customers") == 0 &&
                 (strcmp(verb, "create") == 0 || strcmp(verb, "update") == 0))
            out = sl__emu_customers_write(e, verb, ids, typed, request_id, idem_key);
        else if (strcmp(r->plural, "checkout.sessions") == 0 && rw)
            out = sl__emu_checkout_sessions(e, verb, ids, typed, request_id, idem_key);
        else if (strcmp(r->plural, "payment_links") == 0 && rw)
            out = sl__emu_payment_links(e, verb, ids, typed, request_id, idem_key);
        else if (strcmp(r->plural, "subscription_items") == 0 && rw) {
            out = sl__emu_unkept("sluice emulate changes subscription items through their "
                                 "subscription only");
        } else if (strcmp(r->plural, "invoiceitems") == 0 && rw)
            out = sl__emu_invoiceitems_write(e, verb, ids, typed, request_id, idem_key);
        else if (strcmp(r->plural, "charges") == 0 && strcmp(verb, "create") == 0) {
            out = sl__emu_unkept("sluice emulate makes charges through payment intents only");
        } else if (strcmp(r->plural, "payment_methods") == 0 && rw && strcmp(verb, "delete"))
            out = sl__emu_payment_methods(e, verb, ids, typed, request_id, idem_key);
        else if (strcmp(r->plural, "refunds") == 0 && rw)
            out = sl__emu_refunds(e, verb, ids, typed, request_id, idem_key);
        else if (strcmp(r->plural, "credit_notes") == 0 && rw)
            out = sl__emu_credit_notes(e, verb, ids, typed, request_id, idem_key);
        else if (strcmp(r->plural, "setup_intents") == 0 && rw)
            out = sl__emu_setup_intents(e, verb, ids, typed, request_id, idem_key);
        else if (strcmp(r->plural, "promotion_codes") == 0 && rw)
            out = sl__emu_promotion_codes(e, verb, ids, typed, request_id, idem_key);
        else if (strcmp(r->plural, "test_helpers.test_clocks") == 0 && rw)
            out = sl__emu_test_clocks(e, verb, ids, typed, request_id, idem_key);
        else if (strcmp(r->plural, "subscription_schedules") == 0 && rw)
            out = sl__emu_subscription_schedules(e, verb, ids, typed, request_id, idem_key);
        else if (strcmp(r->plural, "disputes") == 0 && rw)
            out = sl__emu_disputes(e, verb, ids, typed, request_id, idem_key);
        else if (strcmp(r->plural, "accounts") == 0 &&
                 (strcmp(verb, "create") == 0 || strcmp(verb, "update") == 0 ||
                  strcmp(verb, "delete") == 0))
            out = sl__emu_accounts(e, verb, ids, typed, request_id, idem_key);
        else if (strcmp(r->plural, "reporting.report_runs") == 0 && strcmp(verb, "create") == 0)
            out = sl__emu_report_runs(e, typed, request_id, idem_key);
        else if ((out = sl__emu_transition(e, name, ids, request_id, idem_key)).status)
            ;
        else if (strcmp(verb, "create") == 0)
            out = sl__emu_create_shared(e, r, typed, request_id, idem_key);
        else if (strcmp(verb, "retrieve") == 0 && ids) {
            json_t *raw = sl__emu_text(e, ids, r->object);
            json_t *obj = raw ? NULL : sl__emu_read(e, ids);
            if (raw)
                out = (sl_emu_reply_t){200, raw, 0, NULL, 0, 0};
            else if (obj && strcmp(json_string_value(json_object_get(obj, "object")) ?: "",
                                   r->object) == 0)
                out = (sl_emu_reply_t){200, obj, 0, NULL, 0, 0};
            else {
                json_decref(obj);
                out = sl__emu_no_such(r->object, ids);
            }
        } else if (strcmp(verb, "update") == 0 && ids)
            out = sl__emu_update(e, r, ids, typed, request_id, idem_key);
        else if (strcmp(verb, "delete") == 0 && ids)
            out = sl__emu_delete(e, r, ids, request_id);
        else if (strcmp(verb, "list") == 0)
            out = sl__emu_list(e, r, typed, path);
        else if (strcmp(verb, "search") == 0)
            out = sl__emu_search(e, r, typed, path);
        else {
            out = sl__emu_unkept("sluice emulate does not implement %s yet", name);
        }
        json_decref(typed);
        json_decref(id);
        return out;
    }
    sl_emu_reply_t out = sl__emu_error(
        501, "api_error", "not_implemented", NULL,
        "sluice emulate does not keep %s (see `sluice emulate --help` for what it keeps); "
        "without --strict it answers such operations statelessly",
        name);
    out.unkept = 1;
    return out;
}

/* Characters in UTF-8 text, as Stripe counts them. */
static size_t chars_of(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += ((unsigned char)*s & 0xC0) != 0x80;
    return n;
}

/* Stripe's limits on metadata, wherever it is given (metadata, subscription_data[metadata]):
 * 50 keys, keys of 40 characters, values of 500. Status 0 when within them. */
static sl_emu_reply_t check_metadata(const json_t *params, const char *at, int depth)
{
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)params, k, v)
    {
        char here[512];
        snprintf(here, sizeof here, *at ? "%s[%s]" : "%s%s", at, k);
        if (!json_is_object(v) || depth > 8)
            continue;
        if (strcmp(k, "metadata") != 0) {
            sl_emu_reply_t inner = check_metadata(v, here, depth + 1);
            if (inner.status)
                return inner;
            continue;
        }
        if (json_object_size(v) > 50)
            return sl__emu_error(400, "invalid_request_error", "parameter_invalid", here,
                                 "Invalid %s: metadata can have up to 50 keys, but you passed %zu.",
                                 here, json_object_size(v));
        const char *mk;
        json_t *mv;
        json_object_foreach(v, mk, mv)
        {
            char param[640];
            snprintf(param, sizeof param, "%s[%.*s]", here, 100, mk);
            if (chars_of(mk) > 40)
                return sl__emu_error(400, "invalid_request_error", "parameter_invalid", param,
                                     "Invalid %s: metadata keys can be at most 40 characters "
                                     "long; this one has %zu.",
                                     here, chars_of(mk));
            if (json_is_string(mv) && chars_of(json_string_value(mv)) > 500)
                return sl__emu_error(400, "invalid_request_error", "parameter_invalid", param,
                                     "Invalid %s: metadata values can be at most 500 characters "
                                     "long; this one has %zu.",
                                     param, chars_of(json_string_value(mv)));
        }
    }
    return (sl_emu_reply_t){0, NULL, 0, NULL, 0, 0};
}

/* How Checkout's hosted page completes a session (the Stripe CLI's checkout fixtures call it):
 * GET /v1/payment_pages/{cs} shows the page's session, POST /v1/payment_pages/{cs}/confirm pays
 * it with payment_method, whose amount must be expected_amount when given. */
static sl_emu_reply_t payment_page(sl_emulator_t *e, const char *method, const char *rest,
                                   const json_t *form, const char *request_id)
{
    char id[128];
    size_t n = strcspn(rest, "/");
    const char *tail = rest + n;
    if (n == 0 || n >= sizeof id || (strcmp(tail, "") && strcmp(tail, "/confirm")) ||
        strcmp(method, *tail ? "POST" : "GET"))
        return sl__emu_error(404, "invalid_request_error", NULL, NULL,
                             "Unrecognized request URL (%s: /v1/payment_pages/%s).", method, rest);
    memcpy(id, rest, n);
    id[n] = '\0';
    pthread_mutex_lock(&e->lock);
    const json_t *cs = sl__emu_get(e, id);
    sl_emu_reply_t out;
    if (!cs || strcmp(json_string_value(json_object_get(cs, "object")) ?: "", "checkout.session")) {
        out = sl__emu_no_such("payment_page", id);
    } else if (!*tail) {
        out = (sl_emu_reply_t){200, json_deep_copy(cs), 0, NULL, 0, 0};
    } else {
        const char *expected = json_string_value(json_object_get(form, "expected_amount"));
        char total[32];
        snprintf(total, sizeof total, "%lld",
                 (long long)json_integer_value(json_object_get(cs, "amount_total")));
        if (expected && strcmp(expected, total))
            out = sl__emu_error(
                400, "invalid_request_error", "checkout_amount_mismatch", "expected_amount",
                "The expected amount %s is not the session's amount %s.", expected, total);
        else {
            size_t events_before = json_array_size(e->events);
            out = sl__emu_checkout_complete(e, id, form, request_id);
            sl__emu_snapshot(&out);
            sl__emu_settle(e, request_id);
            sl__emu_persist(e, out.body, events_before, NULL);
            sl__emu_trim_events(e);
        }
    }
    sl__emu_unlock(e);
    return out;
}

/* POST /v1/issuing/cards/{card}/test/authorizations, the test route the Stripe CLI's
 * issuing_authorization.request fixtures call (it is in no API description): Stripe's test
 * helper test_helpers.issuing.authorizations.create, with held_amount and held_currency as its
 * amount and currency. Fills params so; 0 when the path is another. */
static int cli_authorization(const char *method, const char *path, json_t *params)
{
    const char *pre = "/v1/issuing/cards/", *post = "/test/authorizations";
    size_t np = strlen(pre), nq = strlen(post), n = strlen(path);
    if (strcmp(method, "POST") || n <= np + nq || strncmp(path, pre, np) ||
        strcmp(path + n - nq, post) || memchr(path + np, '/', n - np - nq))
        return 0;
    json_object_set_new(params, "card", json_stringn(path + np, n - np - nq));
    const char *moved[][2] = {{"held_amount", "amount"}, {"held_currency", "currency"}};
    for (size_t i = 0; i < sizeof moved / sizeof *moved; i++) {
        json_t *v = json_object_get(params, moved[i][0]);
        if (v && !json_object_get(params, moved[i][1]))
            json_object_set(params, moved[i][1], v);
        json_object_del(params, moved[i][0]);
    }
    return 1;
}

/* The API key of a request, as Stripe takes it: "Authorization: Bearer KEY", or Basic auth with
 * the key as the user name and no password (curl -u sk_test_...:). 0 when there is none. */
static int api_key(struct MHD_Connection *conn, char *out, size_t n)
{
    out[0] = '\0';
    const char *auth = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Authorization");
    if (auth && strncmp(auth, "Bearer ", 7) == 0 && auth[7] && strlen(auth + 7) < n) {
        snprintf(out, n, "%s", auth + 7);
        return 1;
    }
    char *user = MHD_basic_auth_get_username_password(conn, NULL);
    if (user && *user && strlen(user) < n)
        snprintf(out, n, "%s", user);
    MHD_free(user);
    return out[0] != '\0';
}

static sl_emu_reply_t handle(sl_emulator_t *e, struct MHD_Connection *conn, const char *method,
                             const char *uri, const char *body, size_t len, const char *request_id)
{
    char path[2048];
    const char *qmark = strchr(uri, '?');
    snprintf(path, sizeof path, "%.*s", (int)(qmark ? (size_t)(qmark - uri) : strlen(uri)), uri);
    if (strncmp(path, "/_sluice/", 9) == 0) {
        /* The test-only routes stand for a customer's browser: no API key. */
        json_t *form = NULL;
        char ferr[256];
        const char *f = strcmp(method, "POST") == 0 ? body : qmark ? qmark + 1 : "";
        if (sl_form_decode(f, strcmp(method, "POST") == 0 ? len : strlen(f), &form, ferr,
                           sizeof ferr))
            return sl__emu_error(400, "invalid_request_error", NULL, NULL, "Invalid request: %s",
                                 ferr);
        pthread_mutex_lock(&e->lock);
        size_t events_before = json_array_size(e->events);
        sl_emu_reply_t out = sl__emu_test_route(e, method, path, form, request_id);
        sl__emu_snapshot(&out);
        sl__emu_settle(e, request_id);
        if (strcmp(method, "GET") != 0)
            sl__emu_persist(e, out.body, events_before, NULL);
        sl__emu_trim_events(e);
        sl__emu_unlock(e);
        json_decref(form);
        return out;
    }
    char key[256];
    if (!api_key(conn, key, sizeof key))
        return sl__emu_error(
            401, "invalid_request_error", NULL, NULL,
            "You did not provide an API key. You need to provide your API key in "
            "the Authorization header, using Bearer auth (e.g. 'Authorization: "
            "Bearer YOUR_SECRET_KEY'). See https://stripe.com/docs/api#authentication "
            "for details, or we can help at https://support.stripe.com/.");
    if (strncmp(key, "sk_test_", 8) != 0 && strncmp(key, "rk_test_", 8) != 0) {
        char masked[64];
        sl_key_mask(key, masked, sizeof masked);
        return sl__emu_error(401, "invalid_request_error", NULL, NULL,
                             "Invalid API Key provided: %s (the emulator takes test keys)", masked);
    }
    const char *form = strcmp(method, "POST") == 0 ? body : qmark ? qmark + 1 : "";
    size_t form_len = strcmp(method, "POST") == 0 ? len : strlen(form);
    json_t *params = NULL;
    char err[512];
    if (sl_form_decode(form, form_len, &params, err, sizeof err))
        return sl__emu_error(400, "invalid_request_error", NULL, NULL, "Invalid request: %s", err);
    if (strncmp(path, "/v1/payment_pages/", 18) == 0) {
        sl_emu_reply_t out = payment_page(e, method, path + 18, params, request_id);
        json_decref(params);
        return out;
    }
    const sl_op_t *op = cli_authorization(method, path, params)
                            ? sl_op_find("test_helpers.issuing.authorizations.create")
                            : sl__emu_route(method, path, params);
    if (!op) {
        json_decref(params);
        return sl__emu_error(404, "invalid_request_error", NULL, NULL,
                             "Unrecognized request URL (%s: %s).", method, path);
    }
    /* Counted by operation, for tests that check what a client asked and how often: a counter
     * per operation of the catalog, raised without the lock. */
    for (size_t i = 0; e->hits && i < sl_op_count(); i++)
        if (sl_op_at(i) == op) {
            __atomic_fetch_add(&e->hits[i], 1, __ATOMIC_RELAXED);
            break;
        }
    legacy_plans(op, params);
    json_t *body_params = json_deep_copy(params);
    for (size_t i = 0; i < sl_op_path_param_count(op); i++)
        json_object_del(body_params, sl_op_path_param(op, i));
    sl_err rc = sl_op_validate(op, body_params, err, sizeof err);
    json_decref(body_params);
    if (rc) {
        json_decref(params);
        char param[128];
        named_param(err, param, sizeof param);
        const char *msg = strchr(err, ':') ? strchr(err, ':') + 2 : err;
        return sl__emu_error(400, "invalid_request_error", "parameter_invalid",
                             param[0] ? param : NULL, "%s", msg);
    }
    sl_emu_reply_t bad_meta = check_metadata(params, "", 0);
    if (bad_meta.status) {
        json_decref(params);
        return bad_meta;
    }
    const char *idem_key =
        strcmp(method, "POST") == 0
            ? MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Idempotency-Key")
            : NULL;
    char *fingerprint = NULL;
    sl_emu_reply_t out;
    pthread_mutex_lock(&e->lock);
    if (idem_key) {
        char *enc = NULL;
        sl_form_encode(params, &enc);
        size_t fl = strlen(path) + strlen(enc ? enc : "") + 2;
        fingerprint = malloc(fl);
        if (fingerprint)
            snprintf(fingerprint, fl, "%s?%s", path, enc ? enc : "");
        free(enc);
        if (sl__emu_idem_seen(e, idem_key, fingerprint, &out)) {
            sl__emu_unlock(e);
            free(fingerprint);
            json_decref(params);
            return out;
        }
    }
    json_t *expand = json_incref(json_object_get(params, "expand"));
    sl_emu_reply_t bad_expand = sl__emu_check_expand(expand);
    if (bad_expand.status) {
        sl__emu_unlock(e);
        json_decref(expand);
        free(fingerprint);
        json_decref(params);
        return bad_expand;
    }
    size_t events_before = json_array_size(e->events);
    out = dispatch(e, op, params, path, request_id, idem_key);
    if (out.unkept && !e->cfg.strict) {
        /* Answered as the stateless mock answers, from the request as it came (dispatch has
         * taken the path's ids out of params). */
        json_t *again = NULL;
        if (sl_form_decode(form, form_len, &again, err, sizeof err) == SL_OK &&
            sl__emu_route(method, path, again)) {
            json_decref(out.body);
            out = sl__emu_stateless(op, again, path);
        }
        json_decref(again);
    }
    if (json_is_string(out.body) && json_array_size(expand)) /* expanded as a tree */
        out.body = as_tree(out.body);
    if (json_array_size(expand))
        sl__emu_snapshot(&out);
    for (size_t i = 0; out.status == 200 && out.body && i < json_array_size(expand); i++) {
        const char *x = json_string_value(json_array_get(expand, i));
        sl_emu_reply_t bad =
            x ? sl__emu_expand(e, out.body, x, x) : (sl_emu_reply_t){0, NULL, 0, NULL, 0, 0};
        if (bad.status) {
            json_decref(out.body);
            out = bad;
        }
    }
    json_decref(expand);
    sl__emu_settle(e, request_id);
    sl__emu_idem_keep(e, idem_key, fingerprint, &out);
    if (strcmp(method, "GET") != 0)
        sl__emu_persist(e, out.body, events_before, idem_key);
    sl__emu_trim_events(e);
    sl__emu_unlock_reply(e, &out);
    free(fingerprint);
    json_decref(params);
    return out;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
    (void)url;
    (void)version;
    sl_emulator_t *e = cls;
    request_t *rq = *con_cls;
    if (!rq)
        return MHD_NO;
    if (!rq->body.max) {
        sl__buf_init(&rq->body, EMU_MAX_BODY);
        return MHD_YES;
    }
    if (*upload_data_size) {
        sl__buf_append(&rq->body, upload_data, *upload_data_size);
        *upload_data_size = 0;
        return MHD_YES;
    }
    char request_id[40] = "";
    sl_emu_reply_t r;
    if (sl__rand_id("req", request_id, sizeof request_id)) /* nothing has changed yet */
        r = sl__emu_error(500, "api_error", NULL, NULL,
                          "The emulator has no randomness to make ids with; try again later.");
    else {
        sl_buf_t parts;
        sl__buf_init(&parts, EMU_MAX_BODY);
        const char *ctype = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Type");
        int multipart = strcmp(method, "POST") == 0 &&
                        sl__emu_multipart_form(ctype, rq->body.data ? rq->body.data : "",
                                               rq->body.len, &parts) == 0;
        const sl_buf_t *in = multipart ? &parts : &rq->body;
        r = handle(e, conn, method, rq->uri ? rq->uri : "/", in->data ? in->data : "", in->len,
                   request_id);
        sl__buf_cleanup(&parts);
    }
    /* As Stripe's own mock answers: indented for curl (a person reading), compact for code (a
     * sixth more creates per second). A kept object's text is sent as it is kept. */
    const char *ua = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "User-Agent");
    int pretty = ua && strncmp(ua, "curl/", 5) == 0;
    char *text = NULL;
    if (r.html)
        text = r.html;
    else if (json_is_string(r.body) && !pretty)
        text = strndup(json_string_value(r.body), json_string_length(r.body));
    else {
        if (json_is_string(r.body)) /* made a tree outside the lock */
            r.body = as_tree(r.body);
        text = json_dumps(r.body, pretty ? JSON_INDENT(2) : JSON_COMPACT);
    }
    json_decref(r.body);
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(text ? strlen(text) : 0, text, MHD_RESPMEM_MUST_FREE);
    if (!resp) {
        free(text);
        return MHD_NO;
    }
    MHD_add_response_header(resp, "Content-Type",
                            !r.html                            ? "application/json"
                            : strncmp(r.html, "%PDF-", 5) == 0 ? "application/pdf"
                                                               : "text/html; charset=utf-8");
    if (request_id[0])
        MHD_add_response_header(resp, "Request-Id", request_id);
    MHD_add_response_header(resp, "Stripe-Version", sl_catalog_api_version());
    /* The SDKs' own test suites first ask their peer for this header and stop when it is missing
     * or older than they need: the stateless mock's release that answers the catalog's API
     * version (2023-08-16) is 0.171.0. */
    MHD_add_response_header(resp, "Stripe-Mock-Version", "0.171.0");
    if (r.replayed)
        MHD_add_response_header(resp, "Idempotent-Replayed", "true");
    /* As Stripe: a write's reply names its Idempotency-Key; what is not implemented is not worth
     * retrying. */
    const char *idem = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Idempotency-Key");
    if (idem && strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
        MHD_add_response_header(resp, "Idempotency-Key", idem);
    if (r.status == 501)
        MHD_add_response_header(resp, "Stripe-Should-Retry", "false");
    if (r.stateless)
        MHD_add_response_header(resp, "Sluice-Stateless", "true");
    enum MHD_Result ret = MHD_queue_response(conn, r.status, resp);
    MHD_destroy_response(resp);
    return ret;
}

/* libmicrohttpd hands the handler a decoded path without its query: keep the raw request URI. */
static void *on_uri(void *cls, const char *uri, struct MHD_Connection *conn)
{
    (void)cls;
    (void)conn;
    request_t *rq = calloc(1, sizeof *rq);
    if (rq)
        rq->uri = strdup(uri);
    return rq;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)conn;
    (void)toe;
    request_t *rq = *con_cls;
    if (rq) {
        sl__buf_cleanup(&rq->body);
        free(rq->uri);
        free(rq);
        *con_cls = NULL;
    }
}

sl_err sl__emulator_start(const sl_emulator_config_t *cfg, sl_emulator_t **out, char *err,
                          size_t errlen)
{
    *out = NULL;
    struct sockaddr_storage ss;
    socklen_t sslen;
    sl_err rc = sl__listen_parse(cfg->listen, &ss, &sslen, err, errlen);
    if (rc)
        return rc;
    /* The host as given, for the hosted pages' URLs: a name stays a name. */
    const char *host = cfg->listen;
    size_t hl = (size_t)(strrchr(cfg->listen, ':') - cfg->listen);
    if (hl > 2 && host[0] == '[' && host[hl - 1] == ']') {
        host++;
        hl -= 2;
    }
    sl_emulator_t *e = calloc(1, sizeof *e);
    if (!e)
        return SL_ENOMEM;
    e->cfg = *cfg;
    if (e->cfg.retry_base_ms <= 0)
        e->cfg.retry_base_ms = 1000;
    if (e->cfg.max_events <= 0)
        e->cfg.max_events = 1000000;
    if (e->cfg.max_deliveries <= 0)
        e->cfg.max_deliveries = 6;
    sl__emu_state_init(e);
    if (cfg->data && sl__emu_persist_open(e, cfg->data, err, errlen)) {
        sl__emu_state_free(e);
        free(e);
        return SL_EIO;
    }
    pthread_mutex_init(&e->lock, NULL);
    pthread_cond_init(&e->wake, NULL);
    if ((rc = sl__emu_deliver_start(e, err, errlen))) {
        sl__emu_state_free(e);
        pthread_mutex_destroy(&e->lock);
        pthread_cond_destroy(&e->wake);
        free(e);
        return rc;
    }
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ERROR_LOG;
    if (ss.ss_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    e->daemon = MHD_start_daemon(flags, 0, NULL, NULL, on_request, e, MHD_OPTION_SOCK_ADDR,
                                 (struct sockaddr *)&ss, MHD_OPTION_URI_LOG_CALLBACK, on_uri, e,
                                 MHD_OPTION_NOTIFY_COMPLETED, on_completed, e,
                                 MHD_OPTION_THREAD_POOL_SIZE, (unsigned)2, MHD_OPTION_END);
    if (!e->daemon) {
        snprintf(err, errlen, "cannot listen on %s", cfg->listen);
        sl__emulator_stop(e);
        return SL_EIO;
    }
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(e->daemon, MHD_DAEMON_INFO_BIND_PORT);
    e->port = di ? di->port : 0;
    snprintf(e->base_url, sizeof e->base_url,
             memchr(host, ':', hl) ? "http://[%.*s]:%d" : "http://%.*s:%d", (int)hl, host, e->port);
    *out = e;
    return SL_OK;
}

int sl__emulator_port(const sl_emulator_t *e)
{
    return e->port;
}

void sl__emulator_stop(sl_emulator_t *e)
{
    if (!e)
        return;
    if (e->daemon)
        MHD_stop_daemon(e->daemon);
    sl__emu_deliver_stop(e);
    sl__emu_state_free(e);
    pthread_mutex_destroy(&e->lock);
    pthread_cond_destroy(&e->wake);
    free(e);
}
