/* Payments: Stripe's test cards, payment methods made from their tokens, payment intents
 * (confirm, capture, cancel) and the charges they make, paid or declined. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core/rand.h"
#include "emulator/internal.h"

const char *sl__emu_payment_method_for(sl_emulator_t *e, const char *pm, sl_emu_reply_t *err)
{
    if (sl__emu_card(pm) && strncmp(pm, "pm_card_", 8) == 0) {
        static __thread char made[80];
        sl_emu_reply_t r =
            sl__emu_card_make(e, "payment_method", pm, NULL, NULL, made, sizeof made);
        json_decref(r.body);
        return made;
    }
    const json_t *obj = sl__emu_get(e, pm);
    const char *type = json_string_value(json_object_get(obj, "object")) ?: "";
    /* A card (card_...) pays as a payment method does, as on Stripe. */
    if (!obj || (strcmp(type, "payment_method") && strcmp(type, "card"))) {
        *err = sl__emu_error(400, "invalid_request_error", "resource_missing", "payment_method",
                             "No such PaymentMethod: '%s'", pm);
        return NULL;
    }
    return pm;
}

/* A charge's dispute, as a card that disputes makes one: charge.dispute.created. */
static void dispute(sl_emulator_t *e, const sl_emu_card_t *card, json_t *charge, json_t *pi,
                    const char *request_id)
{
    int inquiry = (card->flags & SL_EMU_CARD_INQUIRY) != 0;
    const char *reason = inquiry                                    ? "general"
                         : strstr(card->name, "ProductNotReceived") ? "product_not_received"
                                                                    : "fraudulent";
    json_t *dp =
        json_pack("{s:O,s:O,s:O,s:O,s:s,s:s,s:b,s:{}}", "amount", json_object_get(charge, "amount"),
                  "currency", json_object_get(charge, "currency"), "charge",
                  json_object_get(charge, "id"), "payment_intent", json_object_get(pi, "id"),
                  "reason", reason, "status", inquiry ? "warning_needs_response" : "needs_response",
                  "is_charge_refundable", inquiry, "metadata");
    sl_emu_reply_t made = sl__emu_create(e, sl__emu_resource("disputes", 8), dp, request_id, NULL);
    json_decref(dp);
    json_t *obj = sl__emu_get(e, json_string_value(json_object_get(made.body, "id")));
    json_decref(made.body);
    json_t *details = json_object_get(obj, "evidence_details");
    if (details)
        json_object_set_new(details, "due_by", json_integer((json_int_t)time(NULL) + 7 * 86400));
    json_object_set_new(charge, "disputed", json_true());
    sl__emu_emit(e, "charge.dispute.created", obj, NULL, request_id, NULL);
    if (!inquiry) /* a dispute takes the disputed amount back at once; an inquiry does not */
        sl__emu_emit(e, "charge.dispute.funds_withdrawn", obj, NULL, request_id, NULL);
}

/* Stripe's test evidence: uncategorized_text "winning_evidence" wins the dispute at once,
 * "losing_evidence" loses it; NULL for other evidence. */
static const char *test_outcome(const json_t *typed)
{
    const char *text = json_string_value(
        json_object_get(json_object_get(typed, "evidence"), "uncategorized_text"));
    if (text && strcmp(text, "winning_evidence") == 0)
        return "won";
    if (text && strcmp(text, "losing_evidence") == 0)
        return "lost";
    return NULL;
}

/* Confirms a payment intent with its payment method: a charge that succeeds, or a decline. */
/* A new charge for the payment intent with payment method pm, paid or failed; the kept charge.
 * One that pays moves money: a balance transaction of its own; one that fails none. */
static json_t *new_charge(sl_emulator_t *e, json_t *pi, const char *pm, int paid,
                          const char *request_id, const char *idem_key)
{
    json_t *cparams = json_pack(
        "{s:O,s:O,s:O,s:s,s:O,s:b,s:s}", "amount", json_object_get(pi, "amount"), "currency",
        json_object_get(pi, "currency"), "payment_intent", json_object_get(pi, "id"),
        "payment_method", pm, "customer", json_object_get(pi, "customer") ?: json_null(), "paid",
        paid, "status", paid ? "succeeded" : "failed");
    sl_emu_reply_t cr =
        sl__emu_create(e, sl__emu_resource("charges", 7), cparams, request_id, idem_key);
    json_decref(cparams);
    json_t *charge = sl__emu_get(e, json_string_value(json_object_get(cr.body, "id")));
    json_decref(cr.body);
    char txn[64];
    sl__emu_must_rand(sl__rand_id("txn", txn, sizeof txn));
    json_object_set_new(charge, "balance_transaction", paid ? json_string(txn) : json_null());
    json_object_set_new(pi, "latest_charge",
                        json_string(json_string_value(json_object_get(charge, "id"))));
    return charge;
}

/* Stripe's SEPA test IBANs whose debit settles soon after it is processing: 1 it succeeds, -1
 * it fails. Others stay processing (the delayed ones take minutes on Stripe; any other IBAN
 * has no known outcome). */
static int iban_outcome(const char *iban)
{
    static const struct {
        const char *iban;
        int outcome;
    } ibans[] = {
        {"AT611904300234573201", 1},
        {"AT861904300235473202", -1},
        {"BE62510007547061", 1},
        {"BE68539007547034", -1},
        {"DE89370400440532013000", 1},
        {"DE62370400440532013001", -1},
        {"EE382200221020145685", 1},
        {"EE762200221020145680", -1},
        {"FI2112345600000785", 1},
        {"FI9112345600000786", -1},
        {"FR1420041010050500013M02606", 1},
        {"FR8420041010050500013M02607", -1},
    };
    for (size_t i = 0; i < sizeof ibans / sizeof *ibans; i++)
        if (strcmp(iban, ibans[i].iban) == 0)
            return ibans[i].outcome;
    return 0;
}

void sl__emu_settle(sl_emulator_t *e, const char *request_id)
{
    json_t *due = e->settling;
    e->settling = json_array();
    size_t i;
    json_t *s;
    json_array_foreach(due, i, s)
    {
        const char *id = json_string_value(json_object_get(s, "id"));
        int ok = json_is_true(json_object_get(s, "ok"));
        json_t *pi = sl__emu_get(e, id);
        if (!pi || strcmp(sl__emu_status_of(pi), "processing"))
            continue;
        char pm[96];
        snprintf(pm, sizeof pm, "%s",
                 json_string_value(json_object_get(pi, "payment_method")) ?: "");
        json_t *charge = new_charge(e, pi, pm, ok, request_id, NULL);
        if (ok) {
            json_object_set_new(charge, "captured", json_true());
            json_object_set(pi, "amount_received", json_object_get(pi, "amount"));
            json_object_set_new(pi, "status", json_string("succeeded"));
            sl__emu_emit(e, "charge.succeeded", charge, NULL, request_id, NULL);
            sl__emu_emit(e, "payment_intent.succeeded", pi, NULL, request_id, NULL);
        } else {
            json_object_set_new(charge, "failure_code",
                                json_string("payment_method_provider_decline"));
            json_object_set_new(charge, "failure_message",
                                json_string("The bank refused the debit."));
            json_object_set_new(
                pi, "last_payment_error",
                json_pack("{s:s,s:s,s:s,s:o}", "type", "invalid_request_error", "code",
                          "payment_intent_payment_attempt_failed", "message",
                          "The payment failed: the bank refused the debit.", "payment_method",
                          sl__emu_get(e, pm) ? json_deep_copy(sl__emu_get(e, pm)) : json_null()));
            json_object_set_new(pi, "status", json_string("requires_payment_method"));
            json_object_set_new(pi, "payment_method", json_null());
            sl__emu_emit(e, "charge.failed", charge, NULL, request_id, NULL);
            sl__emu_emit(e, "payment_intent.payment_failed", pi, NULL, request_id, NULL);
        }
        sl__emu_touch(e, id);
        sl__emu_touch(e, json_string_value(json_object_get(charge, "id")));
        sl__emu_checkout_settled(e, id, ok, request_id);
    }
    json_decref(due);
}

static sl_emu_reply_t confirm_intent(sl_emulator_t *e, json_t *pi, const char *request_id,
                                     const char *idem_key)
{
    const char *pm = json_string_value(json_object_get(pi, "payment_method"));
    if (!pm)
        return sl__emu_error(400, "invalid_request_error", "payment_intent_unexpected_state",
                             "payment_method",
                             "You cannot confirm this PaymentIntent because it's missing a "
                             "payment method.");
    const json_t *pmo = sl__emu_get(e, pm);
    const sl_emu_card_t *card = sl__emu_card_of(e, pm);
    const char *pi_id = json_string_value(json_object_get(pi, "id"));
    json_int_t amount = json_integer_value(json_object_get(pi, "amount"));
    if (card && (card->flags & SL_EMU_CARD_ACTION)) {
        /* 3D Secure: the customer must authenticate, which needs a browser; off the session
         * there is none, so the payment fails as Stripe's does. */
        const json_t *off = json_object_get(pi, "off_session");
        if (json_is_true(off) || (json_is_string(off) && strcmp(json_string_value(off), "false"))) {
            json_t *lpe = json_pack("{s:s,s:s,s:s,s:s,s:O}", "type", "card_error", "code",
                                    "authentication_required", "decline_code",
                                    "authentication_required", "message",
                                    "Your card was declined. This transaction requires "
                                    "authentication.",
                                    "payment_method", pmo);
            json_object_set_new(pi, "last_payment_error", lpe);
            json_object_set_new(pi, "status", json_string("requires_payment_method"));
            sl__emu_emit(e, "payment_intent.payment_failed", pi, NULL, request_id, idem_key);
            sl_emu_reply_t r = sl__emu_error(402, "card_error", "authentication_required", NULL,
                                             "Your card was declined. This transaction requires "
                                             "authentication.");
            json_t *eo = json_object_get(r.body, "error");
            json_object_set_new(eo, "decline_code", json_string("authentication_required"));
            json_object_set(eo, "payment_intent", pi);
            return r;
        }
        return sl__emu_card_requires_action(e, pi, "payment_intent.requires_action", request_id,
                                            idem_key);
    }
    json_object_set_new(pi, "next_action", json_null());
    const char *pm_type = json_string_value(json_object_get(pmo, "type")) ?: "card";
    if (strcmp(pm_type, "sepa_debit") == 0 || strcmp(pm_type, "us_bank_account") == 0 ||
        strcmp(pm_type, "bacs_debit") == 0 || strcmp(pm_type, "au_becs_debit") == 0 ||
        strcmp(pm_type, "acss_debit") == 0) {
        /* A bank debit takes days: the payment is processing until the bank answers. */
        json_object_set_new(pi, "status", json_string("processing"));
        sl__emu_emit(e, "payment_intent.processing", pi, NULL, request_id, idem_key);
        /* what a SEPA payment method's IBAN will do, noted when it was made (sepa_create) */
        const char *note = json_string_value(json_object_get(e->pm_tokens, pm)) ?: "";
        int outcome = strcmp(note, "sepa_debit:succeeds") == 0 ? 1
                      : strcmp(note, "sepa_debit:fails") == 0  ? -1
                                                               : 0;
        if (outcome) /* at the end of the request: after a checkout session completes */
            json_array_append_new(e->settling,
                                  json_pack("{s:s,s:b}", "id", pi_id, "ok", outcome > 0));
        return (sl_emu_reply_t){200, json_deep_copy(pi), 0, NULL, 0, 0};
    }
    json_t *charge = new_charge(e, pi, pm, !(card && card->decline_code), request_id, idem_key);
    if (card && card->decline_code) {
        json_object_set_new(charge, "failure_code", json_string(card->code));
        json_object_set_new(charge, "failure_message", json_string(card->message));
        json_t *lpe = json_pack("{s:s,s:s,s:s,s:s,s:s?,s:O}", "type", "card_error", "code",
                                card->code, "decline_code", card->decline_code, "message",
                                card->message, "param", card->param, "payment_method", pmo);
        json_object_set_new(pi, "last_payment_error", lpe);
        json_object_set_new(pi, "status", json_string("requires_payment_method"));
        json_object_set_new(pi, "payment_method", json_null());
        sl__emu_emit(e, "charge.failed", charge, NULL, request_id, idem_key);
        sl__emu_emit(e, "payment_intent.payment_failed", pi, NULL, request_id, idem_key);
        sl_emu_reply_t r = sl__emu_card_decline(card);
        json_t *eo = json_object_get(r.body, "error");
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
        if (card && strcmp(card->name, "bypassPending") == 0) /* available at once */
            sl__emu_balance_available(e, request_id, idem_key);
    }
    if (card && (card->flags & SL_EMU_CARD_DISPUTE))
        dispute(e, card, charge, pi, request_id);
    return (sl_emu_reply_t){200, json_deep_copy(pi), 0, NULL, 0, 0};
}

sl_emu_reply_t sl__emu_payment_intents(sl_emulator_t *e, const char *verb, const char *id,
                                       json_t *typed, const char *request_id, const char *idem_key)
{
    sl_emu_reply_t err = {0, NULL, 0, NULL, 0, 0};
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
        pi = sl__emu_get(e, json_string_value(json_object_get(cr.body, "id")));
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
            return (sl_emu_reply_t){200, json_deep_copy(pi), 0, NULL, 0, 0};
        return confirm_intent(e, pi, request_id, idem_key);
    }
    pi = id ? sl__emu_get(e, id) : NULL;
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
        return (sl_emu_reply_t){200, json_deep_copy(pi), 0, NULL, 0, 0};
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
        json_t *charge = sl__emu_get(e, json_string_value(json_object_get(pi, "latest_charge")));
        if (charge) {
            json_object_set_new(charge, "captured", json_true());
            json_object_set_new(charge, "amount_captured", json_integer(amount));
            sl__emu_emit(e, "charge.captured", charge, NULL, request_id, idem_key);
        }
        sl__emu_emit(e, "payment_intent.succeeded", pi, NULL, request_id, idem_key);
        return (sl_emu_reply_t){200, json_deep_copy(pi), 0, NULL, 0, 0};
    }
    return sl__emu_update(e, sl__emu_resource("payment_intents", 15), id, typed, request_id,
                          idem_key);
}

/* payment_methods.create with type=sepa_debit and sepa_debit[iban]: as Stripe, the IBAN is not
 * kept, only its country, bank code and last four; what a test IBAN will do is noted beside the
 * payment method (e->pm_tokens), for the debit to settle as Stripe's test IBANs do. */
static sl_emu_reply_t sepa_create(sl_emulator_t *e, const sl_emu_resource_t *r, json_t *typed,
                                  const char *request_id, const char *idem_key)
{
    json_t *sepa = json_object_get(typed, "sepa_debit");
    char iban[64];
    snprintf(iban, sizeof iban, "%s", json_string_value(json_object_get(sepa, "iban")) ?: "");
    size_t n = strlen(iban);
    if (n < 8)
        return sl__emu_error(400, "invalid_request_error", "invalid_bank_account_iban",
                             "sepa_debit[iban]", "The IBAN you provided (%s) is invalid.", iban);
    char fp[20];
    sl__emu_must_rand(sl__rand_token(fp, 16));
    json_object_set_new(typed, "sepa_debit",
                        json_pack("{s:s#,s:n,s:s#,s:s,s:n,s:s}", "bank_code", iban + 4, (int)4,
                                  "branch_code", "country", iban, (int)2, "fingerprint", fp,
                                  "generated_from", "last4", iban + n - 4));
    sl_emu_reply_t out = sl__emu_create(e, r, typed, request_id, idem_key);
    int outcome = iban_outcome(iban);
    const char *pm = json_string_value(json_object_get(out.body, "id"));
    if (out.status == 200 && pm && outcome)
        json_object_set_new(e->pm_tokens, pm,
                            json_string(outcome > 0 ? "sepa_debit:succeeds" : "sepa_debit:fails"));
    return out;
}

sl_emu_reply_t sl__emu_payment_methods(sl_emulator_t *e, const char *verb, const char *id,
                                       json_t *typed, const char *request_id, const char *idem_key)
{
    const sl_emu_resource_t *r = sl__emu_resource("payment_methods", 15);
    if (strcmp(verb, "create") == 0) {
        const char *type = json_string_value(json_object_get(typed, "type"));
        if (type && strcmp(type, "sepa_debit") == 0 &&
            json_is_string(json_object_get(json_object_get(typed, "sepa_debit"), "iban")))
            return sepa_create(e, r, typed, request_id, idem_key);
        json_t *card = json_object_get(typed, "card");
        if (!type || strcmp(type, "card") || !json_is_object(card))
            return sl__emu_create(e, r, typed, request_id, idem_key);
        /* card[token]=tok_visa or card[number] with its expiry: never keep the number. */
        const char *token = json_string_value(json_object_get(card, "token"));
        if (token && !sl__emu_card(token))
            return sl__emu_error(400, "invalid_request_error", "resource_missing", "card[token]",
                                 "No such token: '%s'", token);
        if (!token && !json_object_get(card, "number"))
            return sl__emu_error(400, "invalid_request_error", "parameter_missing", "card[number]",
                                 "Missing required param: card[number].");
        char made[80];
        sl_emu_reply_t out =
            sl__emu_card_make(e, "payment_method", token, card, NULL, made, sizeof made);
        if (out.status != 200)
            return out;
        json_decref(out.body);
        json_object_del(typed, "card");
        json_object_del(typed, "type");
        return sl__emu_update(e, r, made, typed, request_id, idem_key);
    }
    if (strcmp(verb, "update") == 0) {
        json_t *pmo = id ? sl__emu_get(e, id) : NULL;
        if (!pmo ||
            strcmp(json_string_value(json_object_get(pmo, "object")) ?: "", "payment_method"))
            return sl__emu_no_such("payment_method", id ? id : "");
        json_t *prev = json_object();
        sl__emu_apply(pmo, typed, prev, 0);
        sl__emu_touch(e, id);
        sl__emu_emit(e, "payment_method.updated", pmo, prev, request_id, idem_key);
        return (sl_emu_reply_t){200, json_deep_copy(pmo), 0, NULL, 0, 0};
    }
    if (strcmp(verb, "attach") && strcmp(verb, "detach")) {
        sl_emu_reply_t out =
            sl__emu_unkept("sluice emulate does not keep payment_methods.%s", verb);
        return out;
    }
    char made[80];
    if (strcmp(verb, "attach") == 0 && sl__emu_card(id) && strncmp(id, "pm_card_", 8) == 0) {
        /* Attaching a test token attaches a new payment method made from it, as on Stripe. */
        sl_emu_reply_t mr =
            sl__emu_card_make(e, "payment_method", id, NULL, NULL, made, sizeof made);
        if (mr.status != 200)
            return mr;
        json_decref(mr.body);
        id = made;
    }
    json_t *pmo = id ? sl__emu_get(e, id) : NULL;
    if (!pmo || strcmp(json_string_value(json_object_get(pmo, "object")) ?: "", "payment_method"))
        return sl__emu_no_such("payment_method", id ? id : "");
    if (strcmp(verb, "attach") == 0) {
        const char *cus = json_string_value(json_object_get(typed, "customer"));
        const json_t *co = cus ? sl__emu_get(e, cus) : NULL;
        if (!co || strcmp(json_string_value(json_object_get(co, "object")) ?: "", "customer"))
            return sl__emu_no_such("customer", cus ? cus : "");
        sl_emu_reply_t bad = sl__emu_card_attach_check(e, id);
        if (bad.status)
            return bad;
        json_object_set_new(pmo, "customer", json_string(cus));
    } else {
        if (json_is_null(json_object_get(pmo, "customer")) || !json_object_get(pmo, "customer"))
            return sl__emu_error(400, "invalid_request_error", NULL, NULL,
                                 "The payment method you provided is not attached to a customer "
                                 "so detachment is impossible.");
        json_object_set_new(pmo, "customer", json_null());
    }
    sl__emu_touch(e, id);
    sl__emu_emit(
        e, strcmp(verb, "attach") == 0 ? "payment_method.attached" : "payment_method.detached", pmo,
        NULL, request_id, idem_key);
    return (sl_emu_reply_t){200, json_deep_copy(pmo), 0, NULL, 0, 0};
}

/* A card from a token for a customer's sources, unless the card declines when attached. */
static sl_emu_reply_t source_card(sl_emulator_t *e, const char *token, const char *customer,
                                  char *id, size_t n)
{
    const sl_emu_card_t *c = sl__emu_card(token);
    if (c && c->decline_code && !(c->flags & SL_EMU_CARD_ATTACHES))
        return sl__emu_card_decline(c);
    return sl__emu_card_make(e, "card", token, NULL, customer, id, n);
}

sl_emu_reply_t sl__emu_customer_sources(sl_emulator_t *e, const char *verb, const char *customer,
                                        const char *id, json_t *typed, const char *request_id,
                                        const char *idem_key)
{
    json_t *cus = customer ? sl__emu_get(e, customer) : NULL;
    if (!cus || strcmp(json_string_value(json_object_get(cus, "object")) ?: "", "customer"))
        return sl__emu_no_such("customer", customer ? customer : "");
    if (strcmp(verb, "create") == 0) {
        const char *token = json_string_value(json_object_get(typed, "source"));
        char made[80];
        sl_emu_reply_t out = source_card(e, token, customer, made, sizeof made);
        if (out.status != 200)
            return out;
        json_decref(out.body);
        json_t *card = sl__emu_get(e, made);
        json_t *meta = json_pack("{s:O?}", "metadata", json_object_get(typed, "metadata"));
        if (json_is_object(json_object_get(meta, "metadata")))
            sl__emu_apply(card, meta, NULL, 0);
        json_decref(meta);
        if (json_is_null(json_object_get(cus, "default_source")) ||
            !json_object_get(cus, "default_source")) {
            json_t *prev = json_pack("{s:n}", "default_source");
            json_object_set_new(cus, "default_source", json_string(made));
            sl__emu_touch(e, customer);
            sl__emu_emit(e, "customer.updated", cus, prev, request_id, idem_key);
        }
        sl__emu_emit(e, "customer.source.created", card, NULL, request_id, idem_key);
        return (sl_emu_reply_t){200, json_deep_copy(card), 0, NULL, 0, 0};
    }
    if (strcmp(verb, "list") == 0) {
        json_t *items = json_array();
        json_t *list = json_object_get(e->lists, "card");
        for (size_t i = json_array_size(list); i-- > 0;) {
            const char *cid = json_string_value(json_array_get(list, i));
            json_t *c =
                sl__emu_may_match(e, cid, "customer", customer) ? sl__emu_get(e, cid) : NULL;
            if (c && strcmp(json_string_value(json_object_get(c, "customer")) ?: "", customer) == 0)
                json_array_append(items, c);
        }
        char url[160];
        snprintf(url, sizeof url, "/v1/customers/%s/sources", customer);
        return sl__emu_page(items, typed, url);
    }
    json_t *card = id ? sl__emu_get(e, id) : NULL;
    if (!card || strcmp(json_string_value(json_object_get(card, "customer")) ?: "", customer))
        return sl__emu_error(404, "invalid_request_error", "resource_missing", "id",
                             "Customer %s does not have a source with ID %s.", customer,
                             id ? id : "");
    if (strcmp(verb, "retrieve") == 0)
        return (sl_emu_reply_t){200, json_deep_copy(card), 0, NULL, 0, 0};
    if (strcmp(verb, "update") == 0) {
        json_t *prev = json_object();
        sl__emu_apply(card, typed, prev, 0);
        sl__emu_touch(e, id);
        sl__emu_emit(e, "customer.source.updated", card, prev, request_id, idem_key);
        return (sl_emu_reply_t){200, json_deep_copy(card), 0, NULL, 0, 0};
    }
    if (strcmp(verb, "delete") == 0) {
        json_t *gone = json_deep_copy(card);
        json_decref(sl__emu_delete(e, sl__emu_resource("cards", 5), id, request_id).body);
        if (strcmp(json_string_value(json_object_get(cus, "default_source")) ?: "", id) == 0) {
            json_object_set_new(cus, "default_source", json_null());
            sl__emu_touch(e, customer);
        }
        json_object_set_new(gone, "customer", json_null());
        sl__emu_emit(e, "customer.source.deleted", gone, NULL, request_id, idem_key);
        json_object_set_new(gone, "deleted", json_true());
        return (sl_emu_reply_t){200, gone, 0, NULL, 0, 0};
    }
    return sl__emu_error(501, "api_error", "not_implemented", NULL,
                         "sluice emulate does not implement customers.sources.%s yet", verb);
}

sl_emu_reply_t sl__emu_customers_write(sl_emulator_t *e, const char *verb, const char *id,
                                       json_t *typed, const char *request_id, const char *idem_key)
{
    const sl_emu_resource_t *r = sl__emu_resource("customers", 9);
    if (strcmp(verb, "update") == 0) {
        const json_t *cus = sl__emu_get(e, id ? id : "");
        if (!cus || strcmp(json_string_value(json_object_get(cus, "object")) ?: "", "customer"))
            return sl__emu_no_such("customer", id ? id : "");
    }
    char token[80] = "", pm_id[80] = "", card_id[80] = "";
    const char *pm = json_string_value(json_object_get(typed, "payment_method"));
    if (pm) {
        sl_emu_reply_t err = {0, NULL, 0, NULL, 0, 0};
        snprintf(token, sizeof token, "%s", pm);
        const char *made = sl__emu_payment_method_for(e, token, &err);
        if (!made)
            return err;
        snprintf(pm_id, sizeof pm_id, "%s", made);
        sl_emu_reply_t bad = sl__emu_card_attach_check(e, pm_id);
        if (bad.status)
            return bad;
        json_object_del(typed, "payment_method");
        json_t *settings = json_object_get(typed, "invoice_settings");
        const char *dflt = json_string_value(json_object_get(settings, "default_payment_method"));
        if (dflt && strcmp(dflt, token) == 0)
            json_object_set_new(settings, "default_payment_method", json_string(pm_id));
    }
    /* source=tok_visa: a card, the customer's default source (a tok_ is used once). */
    const char *source = json_string_value(json_object_get(typed, "source"));
    if (source) {
        sl_emu_reply_t made = source_card(e, source, NULL, card_id, sizeof card_id);
        if (made.status != 200)
            return made;
        json_decref(made.body);
        json_object_del(typed, "source");
        json_object_set_new(typed, "default_source", json_string(card_id));
    }
    /* coupon / promotion_code: a discount, not fields of their own. */
    json_t *disc;
    sl_emu_reply_t bad = sl__emu_discount_take(e, typed, &disc);
    if (bad.status)
        return bad;
    if (strcmp(verb, "update") == 0)
        json_decref(sl__emu_discount(e, sl__emu_get(e, id), disc, request_id, idem_key, NULL).body);
    sl_emu_reply_t out = strcmp(verb, "create") == 0
                             ? sl__emu_create_shared(e, r, typed, request_id, idem_key)
                             : sl__emu_update(e, r, id ? id : "", typed, request_id, idem_key);
    /* disc holds coupon and promotion_code, null when not asked for. */
    int discounted = json_is_string(json_object_get(disc, "coupon")) ||
                     json_is_string(json_object_get(disc, "promotion_code"));
    if (out.status == 200 && strcmp(verb, "create") == 0 && discounted) {
        json_t *cus = sl__emu_get(e, json_string_value(json_object_get(out.body, "id")));
        json_decref(sl__emu_discount(e, cus, disc, request_id, idem_key, NULL).body);
        json_decref(out.body);
        out.body = json_deep_copy(cus);
    }
    json_decref(disc);
    if (out.status != 200)
        return out;
    json_t *pmo = pm_id[0] ? sl__emu_get(e, pm_id) : NULL;
    if (pmo) {
        json_object_set(pmo, "customer", json_object_get(out.body, "id"));
        sl__emu_touch(e, pm_id);
        sl__emu_emit(e, "payment_method.attached", pmo, NULL, request_id, idem_key);
    }
    json_t *card = card_id[0] ? sl__emu_get(e, card_id) : NULL;
    if (card) {
        json_object_set(card, "customer", json_object_get(out.body, "id"));
        sl__emu_touch(e, card_id);
        sl__emu_emit(e, "customer.source.created", card, NULL, request_id, idem_key);
    }
    return out;
}

sl_emu_reply_t sl__emu_disputes(sl_emulator_t *e, const char *verb, const char *id, json_t *typed,
                                const char *request_id, const char *idem_key)
{
    json_t *dp = id ? sl__emu_get(e, id) : NULL;
    if (!dp || strcmp(json_string_value(json_object_get(dp, "object")) ?: "", "dispute"))
        return sl__emu_no_such("dispute", id ? id : "");
    const char *st = sl__emu_status_of(dp);
    if (strcmp(st, "lost") == 0 || strcmp(st, "won") == 0 || strcmp(st, "warning_closed") == 0)
        return sl__emu_error(400, "invalid_request_error", NULL, NULL,
                             "This dispute is already closed");
    json_t *prev = json_object();
    const char *outcome = strcmp(verb, "update") == 0 ? test_outcome(typed) : NULL;
    if (strcmp(verb, "close") == 0) {
        json_object_set_new(prev, "status", json_string(st));
        json_object_set_new(
            dp, "status", json_string(strncmp(st, "warning_", 8) == 0 ? "warning_closed" : "lost"));
    } else {
        json_t *submit = json_incref(json_object_get(typed, "submit"));
        json_object_del(typed, "submit");
        sl__emu_apply(dp, typed, prev, 0);
        if (json_is_true(submit)) {
            json_object_set_new(prev, "status", json_string(st));
            json_object_set_new(dp, "status",
                                json_string(strncmp(st, "warning_", 8) == 0 ? "warning_under_review"
                                                                            : "under_review"));
        }
        json_decref(submit);
    }
    sl__emu_touch(e, id);
    sl__emu_emit(e, strcmp(verb, "close") == 0 ? "charge.dispute.closed" : "charge.dispute.updated",
                 dp, prev, request_id, idem_key);
    if (outcome) { /* the evidence decides it at once, as in Stripe's test mode */
        int inquiry = strncmp(sl__emu_status_of(dp), "warning_", 8) == 0;
        json_t *before = json_pack("{s:s}", "status", sl__emu_status_of(dp));
        json_object_set_new(dp, "status", json_string(inquiry ? "warning_closed" : outcome));
        sl__emu_emit(e, "charge.dispute.closed", dp, before, request_id, idem_key);
        if (!inquiry && strcmp(outcome, "won") == 0)
            sl__emu_emit(e, "charge.dispute.funds_reinstated", dp, NULL, request_id, idem_key);
    }
    return (sl_emu_reply_t){200, json_deep_copy(dp), 0, NULL, 0, 0};
}
