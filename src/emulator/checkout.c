/* Checkout sessions and payment links. A session's line items live beside it as an object of
 * their own, "<id>/line_items" (a list), which checkout.sessions.line_items.list and
 * expand[]=line_items read. A test-only route completes a session as a customer paying on the
 * hosted page would. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core/rand.h"
#include "emulator/internal.h"

static int is_recurring(const json_t *price)
{
    return json_is_object(json_object_get(price, "recurring"));
}

/* Builds the list of line items (Stripe's "item" objects) from line_items[] parameters, each
 * with a price or price_data. Fills *total and the currency; an error reply otherwise. */
static json_t *line_items_of(sl_emulator_t *e, const json_t *in, const char *request_id,
                             json_int_t *total, char *currency, size_t cn, int *recurring,
                             sl_emu_reply_t *err)
{
    json_t *data = json_array();
    *total = 0;
    *recurring = 0;
    currency[0] = '\0';
    for (size_t i = 0; i < json_array_size(in); i++) {
        const json_t *li = json_array_get(in, i);
        char param[48];
        const char *pid = json_string_value(json_object_get(li, "price"));
        const json_t *pd = json_object_get(li, "price_data");
        json_t *price = NULL;
        if (pid) {
            const json_t *kept = sl__emu_get(e, pid);
            price =
                kept && !strcmp(json_string_value(json_object_get(kept, "object")) ?: "", "price")
                    ? json_deep_copy(kept) /* a snapshot, as Stripe keeps */
                    : NULL;
            if (!price) {
                snprintf(param, sizeof param, "line_items[%zu][price]", i);
                *err = sl__emu_error(400, "invalid_request_error", "resource_missing", param,
                                     "No such price: '%s'", pid);
                json_decref(data);
                return NULL;
            }
        } else if (json_is_object(pd)) {
            /* An inline price: Stripe makes it, inactive, for this purchase. */
            json_t *pp = json_deep_copy(pd);
            json_t *prod_data = json_object_get(pp, "product_data");
            if (json_is_object(prod_data)) {
                sl_emu_reply_t pr =
                    sl__emu_create(e, sl__emu_resource("products", 8), prod_data, request_id, NULL);
                json_object_set(pp, "product", json_object_get(pr.body, "id"));
                json_decref(pr.body);
                json_object_del(pp, "product_data");
            }
            sl_emu_reply_t cr =
                sl__emu_create(e, sl__emu_resource("prices", 6), pp, request_id, NULL);
            json_decref(pp);
            price = json_incref(sl__emu_get(e, json_string_value(json_object_get(cr.body, "id"))));
            json_decref(cr.body);
            if (price)
                json_object_set_new(price, "active", json_false());
        }
        if (!price) {
            snprintf(param, sizeof param, "line_items[%zu]", i);
            *err = sl__emu_error(400, "invalid_request_error", "parameter_missing", param,
                                 "Each line item needs a price or price_data.");
            json_decref(data);
            return NULL;
        }
        json_int_t qty = json_is_integer(json_object_get(li, "quantity"))
                             ? json_integer_value(json_object_get(li, "quantity"))
                             : 1;
        json_int_t amount = json_integer_value(json_object_get(price, "unit_amount")) * qty;
        const char *cur = json_string_value(json_object_get(price, "currency")) ?: "usd";
        if (currency[0] && strcmp(currency, cur)) {
            snprintf(param, sizeof param, "line_items[%zu][price]", i);
            *err = sl__emu_error(400, "invalid_request_error", "parameter_invalid", param,
                                 "All line items must share one currency (%s and %s given).",
                                 currency, cur);
            json_decref(price);
            json_decref(data);
            return NULL;
        }
        snprintf(currency, cn, "%s", cur);
        *recurring |= is_recurring(price);
        *total += amount;
        const json_t *prod =
            sl__emu_get(e, json_string_value(json_object_get(price, "product")) ?: "");
        char li_id[80];
        sl__emu_must_rand(sl__rand_id("li", li_id, sizeof li_id));
        json_array_append_new(
            data, json_pack("{s:s,s:s,s:i,s:I,s:i,s:I,s:s,s:O,s:O,s:I}", "id", li_id, "object",
                            "item", "amount_discount", 0, "amount_subtotal", amount, "amount_tax",
                            0, "amount_total", amount, "currency", cur, "description",
                            json_object_get(prod, "name") ?: json_null(), "price", price,
                            "quantity", qty));
        json_decref(price);
    }
    return data;
}

json_t *sl__emu_line_items(sl_emulator_t *e, const char *owner)
{
    char key[160];
    snprintf(key, sizeof key, "%s/line_items", owner);
    return sl__emu_get(e, key);
}

/* Creates a session or link from typed parameters (line_items dropped), with `items` (whose
 * reference it takes) kept beside it, listed at lines_url (%s: the id), and its url the hosted
 * page /_sluice/PAGE/ID (none when page is NULL). The live object, or NULL with *err the create's
 * error reply. */
static json_t *create_with_items(sl_emulator_t *e, const sl_emu_resource_t *r, json_t *typed,
                                 json_t *items, const char *lines_url, const char *page,
                                 const char *request_id, const char *idem_key, sl_emu_reply_t *err)
{
    json_object_del(typed, "line_items");
    sl_emu_reply_t cr = sl__emu_create(e, r, typed, request_id, idem_key);
    if (cr.status != 200) {
        json_decref(items);
        *err = cr;
        return NULL;
    }
    json_t *obj = sl__emu_get(e, json_string_value(json_object_get(cr.body, "id")));
    json_decref(cr.body);
    const char *id = json_string_value(json_object_get(obj, "id"));
    char key[128], url[160], page_url[256];
    snprintf(key, sizeof key, "%s/line_items", id);
    snprintf(url, sizeof url, lines_url, id);
    json_t *lines =
        json_pack("{s:s,s:o,s:b,s:s}", "object", "list", "data", items, "has_more", 0, "url", url);
    sl__emu_put(e, key, lines);
    json_decref(lines);
    sl__emu_touch(e, key);
    if (page) { /* a quote has no hosted page */
        snprintf(page_url, sizeof page_url, "%s/_sluice/%s/%s", e->base_url, page, id);
        json_object_set_new(obj, "url", json_string(page_url));
    }
    return obj;
}

sl_emu_reply_t sl__emu_checkout_sessions(sl_emulator_t *e, const char *verb, const char *id,
                                         json_t *typed, const char *request_id,
                                         const char *idem_key)
{
    const sl_emu_resource_t *r = sl__emu_resource("checkout.sessions", 17);
    if (strcmp(verb, "create") == 0) {
        char mode[32];
        snprintf(mode, sizeof mode, "%s",
                 json_string_value(json_object_get(typed, "mode")) ?: "payment");
        const char *cus = json_string_value(json_object_get(typed, "customer"));
        if (cus && !sl__emu_get(e, cus))
            return sl__emu_error(400, "invalid_request_error", "resource_missing", "customer",
                                 "No such customer: '%s'", cus);
        json_t *in = json_object_get(typed, "line_items");
        if (strcmp(mode, "setup") && !json_array_size(in))
            return sl__emu_error(400, "invalid_request_error", "parameter_missing", "line_items",
                                 "You must provide line_items in %s mode.", mode);
        json_int_t total = 0;
        int recurring = 0;
        char currency[8];
        sl_emu_reply_t err = {0, NULL, 0, NULL, 0, 0};
        json_t *items =
            line_items_of(e, in, request_id, &total, currency, sizeof currency, &recurring, &err);
        if (!items)
            return err;
        if (strcmp(mode, "payment") == 0 && recurring) {
            json_decref(items);
            return sl__emu_error(400, "invalid_request_error", "parameter_invalid", "line_items",
                                 "You specified `payment` mode but passed a recurring price. "
                                 "Either switch to `subscription` mode or use only one-time "
                                 "prices.");
        }
        if (strcmp(mode, "subscription") == 0 && !recurring) {
            json_decref(items);
            return sl__emu_error(400, "invalid_request_error", "parameter_invalid", "line_items",
                                 "You must provide at least one recurring price in "
                                 "`subscription` mode when using prices.");
        }
        json_object_set_new(typed, "mode", json_string(mode));
        json_t *cs = create_with_items(e, r, typed, items, "/v1/checkout/sessions/%s/line_items",
                                       "checkout", request_id, idem_key, &err);
        if (!cs)
            return err;
        json_int_t now = (json_int_t)time(NULL);
        json_object_set_new(cs, "status", json_string("open"));
        json_object_set_new(cs, "payment_status",
                            json_string(strcmp(mode, "setup") ? "unpaid" : "no_payment_required"));
        json_object_set_new(cs, "expires_at", json_integer(now + 86400));
        json_object_set_new(cs, "payment_intent", json_null());
        json_object_set_new(cs, "subscription", json_null());
        json_object_set_new(cs, "invoice", json_null());
        json_object_set_new(cs, "customer_details", json_null());
        json_object_set_new(cs, "amount_subtotal",
                            strcmp(mode, "setup") ? json_integer(total) : json_null());
        json_object_set_new(cs, "amount_total",
                            strcmp(mode, "setup") ? json_integer(total) : json_null());
        json_object_set_new(cs, "currency", currency[0] ? json_string(currency) : json_null());
        if (!json_object_get(typed, "customer_email"))
            json_object_set_new(cs, "customer_email", json_null());
        if (!json_object_get(typed, "payment_link"))
            json_object_set_new(cs, "payment_link", json_null());
        return (sl_emu_reply_t){200, json_deep_copy(cs), 0, NULL, 0, 0};
    }
    json_t *cs = id ? sl__emu_get(e, id) : NULL;
    if (!cs || strcmp(json_string_value(json_object_get(cs, "object")) ?: "", "checkout.session"))
        return sl__emu_no_such("checkout.session", id ? id : "");
    if (strcmp(verb, "expire") == 0) {
        if (strcmp(sl__emu_status_of(cs), "open"))
            return sl__emu_error(400, "invalid_request_error", "checkout_session_unexpected_state",
                                 NULL,
                                 "Only Checkout Sessions with a status in [\"open\"] can be "
                                 "expired; this one is %s.",
                                 sl__emu_status_of(cs));
        json_object_set_new(cs, "status", json_string("expired"));
        sl__emu_emit(e, "checkout.session.expired", cs, NULL, request_id, idem_key);
        return (sl_emu_reply_t){200, json_deep_copy(cs), 0, NULL, 0, 0};
    }
    return sl__emu_error(501, "api_error", "not_implemented", NULL,
                         "sluice emulate does not implement checkout.sessions.%s yet", verb);
}

sl_emu_reply_t sl__emu_checkout_complete(sl_emulator_t *e, const char *id, const json_t *form,
                                         const char *request_id)
{
    json_t *cs = sl__emu_get(e, id);
    if (!cs || strcmp(json_string_value(json_object_get(cs, "object")) ?: "", "checkout.session"))
        return sl__emu_no_such("checkout.session", id);
    if (strcmp(sl__emu_status_of(cs), "open"))
        return sl__emu_error(400, "invalid_request_error", "checkout_session_unexpected_state",
                             NULL, "This Checkout Session is %s; only an open one can be paid.",
                             sl__emu_status_of(cs));
    sl__emu_touch(e, id); /* changed below even when the payment fails */
    int unpaid = 0;
    const char *mode = json_string_value(json_object_get(cs, "mode")) ?: "payment";
    const char *pm_in =
        json_string_value(json_object_get(form, "payment_method")) ?: "pm_card_visa";
    const char *email = json_string_value(json_object_get(form, "email"));
    const char *name = json_string_value(json_object_get(form, "name"));
    const char *cus = json_string_value(json_object_get(cs, "customer"));
    const json_t *customer = cus ? sl__emu_get(e, cus) : NULL;
    if (!email)
        email = json_string_value(json_object_get(cs, "customer_email"));
    if (!email && customer)
        email = json_string_value(json_object_get(customer, "email"));
    if (!email)
        email = "customer@example.com";
    if (!name && customer)
        name = json_string_value(json_object_get(customer, "name"));
    sl_emu_reply_t err = {0, NULL, 0, NULL, 0, 0};
    const char *pm = sl__emu_payment_method_for(e, pm_in, &err);
    if (!pm)
        return err;
    char pm_id[80];
    snprintf(pm_id, sizeof pm_id, "%s", pm);
    char cus_id[80] = "";
    if (cus) {
        snprintf(cus_id, sizeof cus_id, "%s", cus);
    } else if (strcmp(mode, "payment") ||
               strcmp(json_string_value(json_object_get(cs, "customer_creation")) ?: "",
                      "always") == 0) {
        json_t *cp = json_pack("{s:s,s:s?}", "email", email, "name", name);
        sl_emu_reply_t cr =
            sl__emu_create(e, sl__emu_resource("customers", 9), cp, request_id, NULL);
        json_decref(cp);
        snprintf(cus_id, sizeof cus_id, "%s",
                 json_string_value(json_object_get(cr.body, "id")) ?: "");
        json_decref(cr.body);
    }
    if (cus_id[0]) /* a second attempt after a decline reuses the customer */
        json_object_set_new(cs, "customer", json_string(cus_id));
    json_t *pmo = sl__emu_get(e, pm_id);
    if (cus_id[0] && pmo)
        json_object_set_new(pmo, "customer", json_string(cus_id));
    const json_t *lines = json_object_get(sl__emu_line_items(e, id), "data");
    if (strcmp(mode, "payment") == 0) {
        json_t *pp = json_pack("{s:O,s:O,s:s,s:b}", "amount", json_object_get(cs, "amount_total"),
                               "currency", json_object_get(cs, "currency"), "payment_method", pm_id,
                               "confirm", 1);
        if (cus_id[0])
            json_object_set_new(pp, "customer", json_string(cus_id));
        sl_emu_reply_t paid = sl__emu_payment_intents(e, "create", NULL, pp, request_id, NULL);
        json_decref(pp);
        const json_t *pi = json_object_get(json_object_get(paid.body, "error"), "payment_intent");
        json_object_set(cs, "payment_intent", json_object_get(pi ? pi : paid.body, "id"));
        if (paid.status != 200)
            return paid;
        /* A bank debit is not paid yet: it settles later (sl__emu_checkout_settled). */
        unpaid = strcmp(sl__emu_status_of(paid.body), "processing") == 0;
        json_decref(paid.body);
    } else if (strcmp(mode, "subscription") == 0) {
        json_t *items = json_array();
        for (size_t i = 0; i < json_array_size(lines); i++) {
            const json_t *li = json_array_get(lines, i);
            json_array_append_new(items,
                                  json_pack("{s:O,s:O}", "price",
                                            json_object_get(json_object_get(li, "price"), "id"),
                                            "quantity", json_object_get(li, "quantity")));
        }
        json_t *sp = json_pack("{s:s,s:o,s:s}", "customer", cus_id, "items", items,
                               "default_payment_method", pm_id);
        sl_emu_reply_t sr = sl__emu_subscriptions(e, "create", NULL, sp, request_id, NULL);
        json_decref(sp);
        if (sr.status != 200)
            return sr;
        json_object_set(cs, "subscription", json_object_get(sr.body, "id"));
        json_object_set(cs, "invoice", json_object_get(sr.body, "latest_invoice"));
        int ok = strcmp(sl__emu_status_of(sr.body), "active") == 0 ||
                 strcmp(sl__emu_status_of(sr.body), "trialing") == 0;
        json_decref(sr.body);
        if (!ok)
            return sl__emu_error(402, "card_error", "card_declined", NULL,
                                 "Your card was declined.");
    }
    json_object_set_new(cs, "customer", cus_id[0] ? json_string(cus_id) : json_null());
    json_object_set_new(cs, "customer_details",
                        json_pack("{s:n,s:s,s:s?,s:n,s:s,s:[]}", "address", "email", email, "name",
                                  name, "phone", "tax_exempt", "none", "tax_ids"));
    json_object_set_new(cs, "status", json_string("complete"));
    json_object_set_new(cs, "payment_status",
                        json_string(unpaid                  ? "unpaid"
                                    : strcmp(mode, "setup") ? "paid"
                                                            : "no_payment_required"));
    sl__emu_emit(e, "checkout.session.completed", cs, NULL, request_id, NULL);
    return (sl_emu_reply_t){200, json_deep_copy(cs), 0, NULL, 0, 0};
}

void sl__emu_checkout_settled(sl_emulator_t *e, const char *pi, int ok, const char *request_id)
{
    json_t *ids = json_object_get(e->lists, "checkout.session");
    for (size_t i = json_array_size(ids); i-- > 0;) {
        const char *id = json_string_value(json_array_get(ids, i));
        json_t *cs = sl__emu_may_match(e, id, "payment_intent", pi) ? sl__emu_get(e, id) : NULL;
        if (!cs || strcmp(json_string_value(json_object_get(cs, "payment_intent")) ?: "", pi) ||
            strcmp(sl__emu_status_of(cs), "complete"))
            continue;
        if (ok)
            json_object_set_new(cs, "payment_status", json_string("paid"));
        sl__emu_touch(e, id);
        sl__emu_emit(e,
                     ok ? "checkout.session.async_payment_succeeded"
                        : "checkout.session.async_payment_failed",
                     cs, NULL, request_id, NULL);
        return;
    }
}

sl_emu_reply_t sl__emu_payment_links(sl_emulator_t *e, const char *verb, const char *id,
                                     json_t *typed, const char *request_id, const char *idem_key)
{
    const sl_emu_resource_t *r = sl__emu_resource("payment_links", 13);
    if (strcmp(verb, "create") == 0) {
        json_int_t total;
        int recurring;
        char currency[8];
        sl_emu_reply_t err = {0, NULL, 0, NULL, 0, 0};
        json_t *items = line_items_of(e, json_object_get(typed, "line_items"), request_id, &total,
                                      currency, sizeof currency, &recurring, &err);
        if (!items)
            return err;
        json_t *pl = create_with_items(e, r, typed, items, "/v1/payment_links/%s/line_items", "pay",
                                       request_id, idem_key, &err);
        if (!pl)
            return err;
        json_object_set_new(pl, "currency", json_string(currency[0] ? currency : "usd"));
        json_object_set_new(pl, "active", json_true());
        if (!json_object_get(typed, "customer_creation"))
            json_object_set_new(pl, "customer_creation",
                                json_string(recurring ? "always" : "if_required"));
        return (sl_emu_reply_t){200, json_deep_copy(pl), 0, NULL, 0, 0};
    }
    return sl__emu_update(e, r, id ? id : "", typed, request_id, idem_key);
}

sl_emu_reply_t sl__emu_payment_link_complete(sl_emulator_t *e, const char *id, const json_t *form,
                                             const char *request_id)
{
    json_t *pl = sl__emu_get(e, id);
    if (!pl || strcmp(json_string_value(json_object_get(pl, "object")) ?: "", "payment_link"))
        return sl__emu_no_such("payment_link", id);
    if (!json_is_true(json_object_get(pl, "active")))
        return sl__emu_error(400, "invalid_request_error", "payment_link_inactive", NULL,
                             "This payment link is deactivated.");
    const json_t *lines = json_object_get(sl__emu_line_items(e, id), "data");
    json_t *items = json_array();
    int recurring = 0;
    for (size_t i = 0; i < json_array_size(lines); i++) {
        const json_t *li = json_array_get(lines, i);
        const json_t *price = json_object_get(li, "price");
        recurring |= is_recurring(price);
        json_array_append_new(items, json_pack("{s:O,s:O}", "price", json_object_get(price, "id"),
                                               "quantity", json_object_get(li, "quantity")));
    }
    char success[256];
    snprintf(success, sizeof success, "%s/_sluice/pay/%s/done", e->base_url, id);
    json_t *sp = json_pack("{s:s,s:o,s:s,s:s,s:O}", "mode", recurring ? "subscription" : "payment",
                           "line_items", items, "success_url", success, "payment_link", id,
                           "customer_creation", json_object_get(pl, "customer_creation"));
    if (json_object_size(json_object_get(pl, "metadata")))
        json_object_set(sp, "metadata", json_object_get(pl, "metadata"));
    if (recurring)
        json_object_del(sp, "customer_creation"); /* not allowed in subscription mode */
    sl_emu_reply_t cr = sl__emu_checkout_sessions(e, "create", NULL, sp, request_id, NULL);
    json_decref(sp);
    if (cr.status != 200)
        return cr;
    char cs_id[160];
    snprintf(cs_id, sizeof cs_id, "%s", json_string_value(json_object_get(cr.body, "id")) ?: "");
    json_decref(cr.body);
    return sl__emu_checkout_complete(e, cs_id, form, request_id);
}

sl_emu_reply_t sl__emu_quotes_write(sl_emulator_t *e, const char *verb, const char *id,
                                    json_t *typed, const char *request_id, const char *idem_key)
{
    const sl_emu_resource_t *r = sl__emu_resource("quotes", 6);
    json_t *in = json_object_get(typed, "line_items");
    json_t *items = NULL;
    json_int_t total = 0;
    char currency[8] = "";
    if (in) {
        int recurring = 0;
        sl_emu_reply_t err = {0, NULL, 0, NULL, 0, 0};
        items =
            line_items_of(e, in, request_id, &total, currency, sizeof currency, &recurring, &err);
        if (!items)
            return err;
    }
    json_t *q;
    if (strcmp(verb, "create") == 0) {
        sl_emu_reply_t err = {0, NULL, 0, NULL, 0, 0};
        q = create_with_items(e, r, typed, items ? items : json_array(), "/v1/quotes/%s/line_items",
                              NULL, request_id, idem_key, &err);
        if (!q)
            return err;
    } else {
        q = id ? sl__emu_get(e, id) : NULL;
        if (!q || strcmp(json_string_value(json_object_get(q, "object")) ?: "", "quote")) {
            json_decref(items);
            return sl__emu_no_such("quote", id ? id : "");
        }
        json_object_del(typed, "line_items");
        sl_emu_reply_t up = sl__emu_update(e, r, id, typed, request_id, idem_key);
        json_decref(up.body);
        if (items) {
            char key[128];
            snprintf(key, sizeof key, "%s/line_items", id);
            json_t *lines = sl__emu_get(e, key);
            json_object_set_new(lines, "data", items);
            sl__emu_touch(e, key);
        }
    }
    if (items) {
        json_object_set_new(q, "amount_subtotal", json_integer(total));
        json_object_set_new(q, "amount_total", json_integer(total));
        if (currency[0])
            json_object_set_new(q, "currency", json_string(currency));
    }
    return (sl_emu_reply_t){200, json_deep_copy(q), 0, NULL, 0, 0};
}
