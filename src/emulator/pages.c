/* The hosted pages a checkout session's or payment link's url points at, and the test-only
 * routes that stand for a customer's browser. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "emulator/internal.h"

static void html_put(sl_buf_t *b, const char *s)
{
    for (; s && *s; s++) {
        switch (*s) {
        case '<':
            sl__buf_puts(b, "&lt;");
            break;
        case '>':
            sl__buf_puts(b, "&gt;");
            break;
        case '&':
            sl__buf_puts(b, "&amp;");
            break;
        case '"':
            sl__buf_puts(b, "&quot;");
            break;
        default:
            sl__buf_putc(b, *s);
        }
    }
}

/* The hosted pages the session and link URLs point at: a form that completes the purchase. */
static sl_emu_reply_t hosted_page(sl_emulator_t *e, const char *kind, const char *id)
{
    const json_t *obj = sl__emu_get(e, id);
    if (!obj || strcmp(json_string_value(json_object_get(obj, "object")) ?: "", kind))
        return sl__emu_no_such(kind, id);
    const json_t *lines = json_object_get(sl__emu_line_items(e, id), "data");
    sl_buf_t b;
    sl__buf_init(&b, 1 << 20);
    sl__buf_printf(&b,
                   "<!doctype html><meta charset=utf-8><title>sluice emulate: pay</title>"
                   "<body style=\"font-family:sans-serif;max-width:32em;margin:2em auto\">"
                   "<h1>Test checkout</h1><p>%s <code>%s</code> (sluice emulate; no real money)"
                   "</p><ul>",
                   kind, id); /* ids are ours: [A-Za-z0-9_] */
    for (size_t i = 0; i < json_array_size(lines); i++) {
        const json_t *li = json_array_get(lines, i);
        sl__buf_printf(&b, "<li>%lld &times; ",
                       (long long)json_integer_value(json_object_get(li, "quantity")));
        html_put(&b, json_string_value(json_object_get(li, "description")) ?: "item");
        sl__buf_printf(&b, ": %.2f ",
                       (double)json_integer_value(json_object_get(li, "amount_total")) / 100.0);
        html_put(&b, json_string_value(json_object_get(li, "currency")));
        sl__buf_puts(&b, "</li>");
    }
    sl__buf_printf(&b,
                   "</ul><form method=post action=\"%s/complete\">"
                   "<p><label>Email <input name=email value=\"customer@example.com\"></label>"
                   "<p><label>Card <select name=payment_method>"
                   "<option>pm_card_visa<option>pm_card_mastercard"
                   "<option>pm_card_chargeDeclined</select></label>"
                   "<p><button>Pay</button></form>",
                   id);
    sl_emu_reply_t out = {200, NULL, 0, strdup(b.data ? b.data : ""), 0, 0};
    sl__buf_cleanup(&b);
    return out;
}

/* Test-only routes, under /_sluice/ so they never shadow Stripe's:
 *   GET  /_sluice/checkout/{cs}           the hosted page of a session
 *   POST /_sluice/checkout/{cs}/complete  pay it (payment_method, email, name)
 *   GET  /_sluice/pay/{plink}             the page of a payment link
 *   POST /_sluice/pay/{plink}/complete    buy through it
 *   POST /_sluice/subscriptions/{sub}/renew  the next billing period starts now
 *   POST /_sluice/payouts/{po}/paid|failed    a payout arrives, or fails
 *   POST /_sluice/topups/{tu}/succeeded|failed  a top-up's funds come, or do not
 *   GET  /_sluice/requests                how many API requests came, by operation */
sl_emu_reply_t sl__emu_test_route(sl_emulator_t *e, const char *method, const char *path,
                                  const json_t *form, const char *request_id)
{
    char kind[32] = "", id[128] = "", action[32] = "";
    sscanf(path, "/_sluice/%31[^/]/%127[^/]/%31s", kind, id, action);
    int post = strcmp(method, "POST") == 0;
    if (!strcmp(kind, "checkout") && !post && !action[0])
        return hosted_page(e, "checkout.session", id);
    if (!strcmp(kind, "pay") && !post && !action[0])
        return hosted_page(e, "payment_link", id);
    if (!strcmp(kind, "checkout") && post && !strcmp(action, "complete"))
        return sl__emu_checkout_complete(e, id, form, request_id);
    if (!strcmp(kind, "pay") && post && !strcmp(action, "complete"))
        return sl__emu_payment_link_complete(e, id, form, request_id);
    if (!strcmp(kind, "pay") && !post && !strcmp(action, "done"))
        return (sl_emu_reply_t){200,
                                NULL,
                                0,
                                strdup("<!doctype html><meta charset=utf-8><title>Thanks</title>"
                                       "<p>Payment received (sluice emulate; no real money)."),
                                0,
                                0};
    if (!strcmp(kind, "requests") && !post && !id[0]) {
        json_t *seen = json_object();
        for (size_t i = 0; e->hits && i < sl_op_count(); i++) {
            unsigned long n = __atomic_load_n(&e->hits[i], __ATOMIC_RELAXED);
            char what[600];
            snprintf(what, sizeof what, "%s %s", sl_op_method(sl_op_at(i)),
                     sl_op_path(sl_op_at(i)));
            if (n)
                json_object_set_new(seen, what, json_integer((json_int_t)n));
        }
        return (sl_emu_reply_t){200, json_pack("{s:o}", "requests", seen), 0, NULL, 0, 0};
    }
    if (!strcmp(kind, "subscriptions") && post && !strcmp(action, "renew"))
        return sl__emu_subscription_renew(e, id, request_id);
    if (post &&
        ((!strcmp(kind, "payouts") && (!strcmp(action, "paid") || !strcmp(action, "failed"))) ||
         (!strcmp(kind, "topups") &&
          (!strcmp(action, "succeeded") || !strcmp(action, "failed"))))) {
        char op[64];
        snprintf(op, sizeof op, "%s.%s", kind, action);
        return sl__emu_transition(e, op, id, request_id, NULL);
    }
    return sl__emu_error(404, "invalid_request_error", NULL, NULL,
                         "Unrecognized test route (%s: %s). sluice emulate's test routes: GET "
                         "/_sluice/checkout/{id}, POST /_sluice/checkout/{id}/complete, GET "
                         "/_sluice/pay/{id}, POST /_sluice/pay/{id}/complete, POST "
                         "/_sluice/subscriptions/{id}/renew, POST /_sluice/payouts/{id}/paid "
                         "(or /failed), POST /_sluice/topups/{id}/succeeded (or /failed).",
                         method, path);
}
