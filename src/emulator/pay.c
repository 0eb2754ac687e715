/* Payments: Stripe's test cards, payment methods made from their tokens, payment intents
 * (confirm, capture, cancel) and the charges they make, paid or declined. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core/rand.h"
#include "emulator/internal.h"

/* Stripe's test payment methods: what each card is and how it declines. */
static const struct test_card {
    const char *token;
    const char *brand;
    const char *last4;
    const char *decline_code; /* NULL: it pays */
} test_cards[] = {
    {"pm_card_visa", "visa", "4242", NULL},
    {"pm_card_mastercard", "mastercard", "4444", NULL},
    {"pm_card_amex", "amex", "8431", NULL},
    {"pm_card_chargeDeclined", "visa", "0002", "generic_decline"},
    {"pm_card_chargeDeclinedInsufficientFunds", "visa", "9995", "insufficient_funds"},
    {"pm_card_chargeDeclinedLostCard", "visa", "9987", "lost_card"},
    {"pm_card_chargeDeclinedExpiredCard", "visa", "0069", "expired_card"},
};

static const struct test_card *test_card_of(const char *pm)
{
    for (size_t i = 0; pm && i < sizeof test_cards / sizeof *test_cards; i++)
        if (strcmp(pm, test_cards[i].token) == 0)
            return &test_cards[i];
    return NULL;
}

const char *sl__emu_payment_method_for(sl_emulator_t *e, const char *pm, sl_emu_reply_t *err)
{
    const struct test_card *card = test_card_of(pm);
    if (card) {
        json_t *params = json_pack("{s:s,s:{s:s,s:s}}", "type", "card", "card", "brand",
                                   card->brand, "last4", card->last4);
        sl_emu_reply_t r =
            sl__emu_create(e, sl__emu_resource("payment_methods", 15), params, "", NULL);
        json_decref(params);
        const char *id = json_string_value(json_object_get(r.body, "id"));
        static __thread char made[80];
        snprintf(made, sizeof made, "%s", id ? id : "");
        json_object_set_new(e->pm_tokens, made, json_string(card->token));
        json_decref(r.body);
        return made;
    }
    const json_t *obj = json_object_get(e->objects, pm);
    if (!obj || strcmp(json_string_value(json_object_get(obj, "object")) ?: "", "payment_method")) {
        *err = sl__emu_error(400, "invalid_request_error", "resource_missing", "payment_method",
                             "No such PaymentMethod: '%s'", pm);
        return NULL;
    }
    return pm;
}

/* Confirms a payment intent with its payment method: a charge that succeeds, or a decline. */
static sl_emu_reply_t confirm_intent(sl_emulator_t *e, json_t *pi, const char *request_id,
                                     const char *idem_key)
{
    const char *pm = json_string_value(json_object_get(pi, "payment_method"));
    if (!pm)
        return sl__emu_error(400, "invalid_request_error", "payment_intent_unexpected_state",
                             "payment_method",
                             "You cannot confirm this PaymentIntent because it's missing a "
                             "payment method.");
    const json_t *pmo = json_object_get(e->objects, pm);
    const struct test_card *card =
        test_card_of(json_string_value(json_object_get(e->pm_tokens, pm)));
    const char *pi_id = json_string_value(json_object_get(pi, "id"));
    json_int_t amount = json_integer_value(json_object_get(pi, "amount"));
    /* The charge, paid or failed. */
    json_t *cparams = json_pack("{s:I,s:O,s:s,s:s,s:O,s:b,s:s}", "amount", amount, "currency",
                                json_object_get(pi, "currency"), "payment_intent", pi_id,
                                "payment_method", pm, "customer", json_object_get(pi, "customer"),
                                "paid", card && card->decline_code ? 0 : 1, "status",
                                card && card->decline_code ? "failed" : "succeeded");
    sl_emu_reply_t cr =
        sl__emu_create(e, sl__emu_resource("charges", 7), cparams, request_id, idem_key);
    json_decref(cparams);
    json_t *charge = json_object_get(e->objects, json_string_value(json_object_get(cr.body, "id")));
    json_decref(cr.body);
    json_object_set_new(pi, "latest_charge",
                        json_string(json_string_value(json_object_get(charge, "id"))));
    if (card && card->decline_code) {
        json_object_set_new(charge, "failure_code", json_string("card_declined"));
        json_object_set_new(charge, "failure_message", json_string("Your card was declined."));
        json_t *lpe = json_pack("{s:s,s:s,s:s,s:s,s:O}", "type", "card_error", "code",
                                "card_declined", "decline_code", card->decline_code, "message",
                                "Your card was declined.", "payment_method", pmo);
        json_object_set_new(pi, "last_payment_error", lpe);
        json_object_set_new(pi, "status", json_string("requires_payment_method"));
        json_object_set_new(pi, "payment_method", json_null());
        sl__emu_emit(e, "charge.failed", charge, NULL, request_id, idem_key);
        sl__emu_emit(e, "payment_intent.payment_failed", pi, NULL, request_id, idem_key);
        sl_emu_reply_t r =
            sl__emu_error(402, "card_error", "card_declined", NULL, "Your card was declined.");
        json_t *eo = json_object_get(r.body, "error");
        json_object_set_new(eo, "decline_code", json_string(card->decline_code));
        json_object_set_new(eo, "charge",
                            json_string(json_string_value(json_object_get(charge, "id"))));
        json_object_set(eo, "payment_intent", pi);
        return r;
    }
    int manual =
        strcmp(json_string_value(json_object_get(pi, "capture_method")) ?: "", "manual") == 0;
    json_object_set_new(pi, "last_payment_error", json_null());
    if (manual) {
        json_object_set_new(pi, "status", json_string("requires_capture"));
        json_object_set_new(pi, "amount_capturable", json_integer(amount));
        json_object_set_new(charge, "captured", json_false());
        sl__emu_emit(e, "charge.succeeded", charge, NULL, request_id, idem_key);
        sl__emu_emit(e, "payment_intent.amount_capturable_updated", pi, NULL, request_id, idem_key);
    } else {
        json_object_set_new(pi, "status", json_string("succeeded"));
        json_object_set_new(pi, "amount_received", json_integer(amount));
        json_object_set_new(charge, "captured", json_true());
        sl__emu_emit(e, "charge.succeeded", charge, NULL, request_id, idem_key);
        sl__emu_emit(e, "payment_intent.succeeded", pi, NULL, request_id, idem_key);
    }
    return (sl_emu_reply_t){200, json_deep_copy(pi), 0, NULL};
}

sl_emu_reply_t sl__emu_payment_intents(sl_emulator_t *e, const char *verb, const char *id,
                                       json_t *typed, const char *request_id, const char *idem_key)
{
    sl_emu_reply_t err = {0, NULL, 0, NULL};
    const char *pm = json_string_value(json_object_get(typed, "payment_method"));
    if (pm) {
        const char *real = sl__emu_payment_method_for(e, pm, &err);
        if (!real)
            return err;
        json_object_set_new(typed, "payment_method", json_string(real));
    }
    int confirm = json_is_true(json_object_get(typed, "confirm"));
    json_object_del(typed, "confirm");
    json_t *pi = NULL;
    if (strcmp(verb, "create") == 0) {
        const sl_emu_resource_t *r = sl__emu_resource("payment_intents", 15);
        sl_emu_reply_t cr = sl__emu_create(e, r, typed, request_id, idem_key);
        if (cr.status != 200)
            return cr;
        pi = json_object_get(e->objects, json_string_value(json_object_get(cr.body, "id")));
        json_decref(cr.body);
        json_object_set_new(pi, "status",
                            json_string(json_object_get(pi, "payment_method") &&
                                                !json_is_null(json_object_get(pi, "payment_method"))
                                            ? "requires_confirmation"
                                            : "requires_payment_method"));
        json_object_set_new(pi, "amount_received", json_integer(0));
        json_object_set_new(pi, "amount_capturable", json_integer(0));
        json_object_set_new(pi, "latest_charge", json_null());
        json_object_set_new(pi, "last_payment_error", json_null());
        json_object_set_new(pi, "canceled_at", json_null());
        json_object_set_new(pi, "cancellation_reason", json_null());
        char secret[40];
        sl__emu_must_rand(sl__rand_token(secret, 24));
        char cs[160];
        snprintf(cs, sizeof cs, "%s_secret_%s", json_string_value(json_object_get(pi, "id")),
                 secret);
        json_object_set_new(pi, "client_secret", json_string(cs));
        if (!confirm)
            return (sl_emu_reply_t){200, json_deep_copy(pi), 0, NULL};
        return confirm_intent(e, pi, request_id, idem_key);
    }
    pi = id ? json_object_get(e->objects, id) : NULL;
    if (!pi || strcmp(json_string_value(json_object_get(pi, "object")) ?: "", "payment_intent"))
        return sl__emu_no_such("payment_intent", id ? id : "");
    const char *status = json_string_value(json_object_get(pi, "status")) ?: "";
    if (strcmp(verb, "confirm") == 0) {
        if (strcmp(status, "requires_payment_method") && strcmp(status, "requires_confirmation"))
            return sl__emu_error(
                400, "invalid_request_error", "payment_intent_unexpected_state", NULL,
                "This PaymentIntent's status is %s, so it cannot be confirmed.", status);
        sl__emu_apply(pi, typed, NULL, 0);
        return confirm_intent(e, pi, request_id, idem_key);
    }
    if (strcmp(verb, "cancel") == 0) {
        if (!strcmp(status, "succeeded") || !strcmp(status, "canceled"))
            return sl__emu_error(400, "invalid_request_error", "payment_intent_unexpected_state",
                                 NULL,
                                 "You cannot cancel this PaymentIntent because it has a "
                                 "status of %s.",
                                 status);
        json_object_set_new(pi, "status", json_string("canceled"));
        json_object_set_new(pi, "canceled_at", json_integer((json_int_t)time(NULL)));
        json_object_set(pi, "cancellation_reason",
                        json_object_get(typed, "cancellation_reason") ?: json_null());
        sl__emu_emit(e, "payment_intent.canceled", pi, NULL, request_id, idem_key);
        return (sl_emu_reply_t){200, json_deep_copy(pi), 0, NULL};
    }
    if (strcmp(verb, "capture") == 0) {
        if (strcmp(status, "requires_capture"))
            return sl__emu_error(400, "invalid_request_error", "payment_intent_unexpected_state",
                                 NULL,
                                 "This PaymentIntent could not be captured because it has a "
                                 "status of %s.",
                                 status);
        json_int_t amount = json_is_integer(json_object_get(typed, "amount_to_capture"))
                                ? json_integer_value(json_object_get(typed, "amount_to_capture"))
                                : json_integer_value(json_object_get(pi, "amount_capturable"));
        json_object_set_new(pi, "status", json_string("succeeded"));
        json_object_set_new(pi, "amount_received", json_integer(amount));
        json_object_set_new(pi, "amount_capturable", json_integer(0));
        json_t *charge =
            json_object_get(e->objects, json_string_value(json_object_get(pi, "latest_charge")));
        if (charge) {
            json_object_set_new(charge, "captured", json_true());
            json_object_set_new(charge, "amount_captured", json_integer(amount));
            sl__emu_emit(e, "charge.captured", charge, NULL, request_id, idem_key);
        }
        sl__emu_emit(e, "payment_intent.succeeded", pi, NULL, request_id, idem_key);
        return (sl_emu_reply_t){200, json_deep_copy(pi), 0, NULL};
    }
    return sl__emu_update(e, sl__emu_resource("payment_intents", 15), id, typed, request_id,
                          idem_key);
}

sl_emu_reply_t sl__emu_payment_methods_attach(sl_emulator_t *e, const char *verb, const char *id,
                                              const json_t *typed)
{
    json_t *pmo = id ? json_object_get(e->objects, id) : NULL;
    if (!pmo)
        return sl__emu_no_such("payment_method", id ? id : "");
    json_object_set(pmo, "customer",
                    strcmp(verb, "attach") == 0 ? json_object_get(typed, "customer") : json_null());
    return (sl_emu_reply_t){200, json_deep_copy(pmo), 0, NULL};
}

sl_emu_reply_t sl__emu_customers_write(sl_emulator_t *e, const char *verb, const char *id,
                                       json_t *typed, const char *request_id, const char *idem_key)
{
    const sl_emu_resource_t *r = sl__emu_resource("customers", 9);
    char token[80] = "", pm_id[80] = "";
    const char *pm = json_string_value(json_object_get(typed, "payment_method"));
    if (pm) {
        sl_emu_reply_t err = {0, NULL, 0, NULL};
        snprintf(token, sizeof token, "%s", pm);
        const char *made = sl__emu_payment_method_for(e, token, &err);
        if (!made)
            return err;
        snprintf(pm_id, sizeof pm_id, "%s", made);
        json_object_del(typed, "payment_method");
        json_t *settings = json_object_get(typed, "invoice_settings");
        const char *dflt = json_string_value(json_object_get(settings, "default_payment_method"));
        if (dflt && strcmp(dflt, token) == 0)
            json_object_set_new(settings, "default_payment_method", json_string(pm_id));
    }
    sl_emu_reply_t out = strcmp(verb, "create") == 0
                             ? sl__emu_create(e, r, typed, request_id, idem_key)
                             : sl__emu_update(e, r, id ? id : "", typed, request_id, idem_key);
    json_t *pmo = pm_id[0] ? json_object_get(e->objects, pm_id) : NULL;
    if (out.status == 200 && pmo) {
        json_object_set(pmo, "customer", json_object_get(out.body, "id"));
        sl__emu_touch(e, pm_id);
    }
    return out;
}
