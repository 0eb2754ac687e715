/* Issuing, as Stripe's test helpers drive it: a card is used at a merchant (an authorization:
 * issuing_authorization.request, then .created, approved at once as Stripe approves one when no
 * real-time decision is asked for), captured or reversed (issuing_authorization.updated), and
 * transactions made by a capture or forced (issuing_transaction.created; with receipt lines,
 * issuing_transaction.purchase_details_receipt_updated), refunded. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core/rand.h"
#include "emulator/internal.h"

/* The id of what a field holds: a string, or an expanded object's id. */
static const char *id_of(const json_t *v)
{
    return json_is_object(v) ? json_string_value(json_object_get(v, "id")) : json_string_value(v);
}

/* The card named by typed's `card`, or NULL with *err set. */
static json_t *card_of(sl_emulator_t *e, const json_t *typed, sl_emu_reply_t *err)
{
    const char *cid = json_string_value(json_object_get(typed, "card"));
    json_t *card = cid ? sl__emu_get(e, cid) : NULL;
    if (!sl__emu_is_a(card, "issuing.card"))
        *err = sl__emu_error(400, "invalid_request_error", "resource_missing", "card",
                             "No such issuing card: '%s'", cid ? cid : "");
    return sl__emu_is_a(card, "issuing.card") ? card : NULL;
}

/* Creates a transaction of `type` (capture, refund) of `amount` (negative: money out of the
 * account) on card, for authorization (may be NULL), from typed's merchant_data and
 * purchase_details. Its events are recorded; the kept transaction is returned. */
static json_t *make_transaction(sl_emulator_t *e, const json_t *card, const char *auth,
                                const char *type, json_int_t amount, const char *currency,
                                const json_t *typed, const char *request_id, const char *idem_key)
{
    const sl_emu_resource_t *r = sl__emu_resource("issuing.transactions", 20);
    sl_emu_resource_t quiet = *r; /* .created is recorded once the fields are set */
    quiet.emits = 0;
    char txn[64];
    sl__emu_must_rand(sl__rand_id("txn", txn, sizeof txn));
    json_t *p = json_pack("{s:s,s:s?,s:s?,s:s,s:I,s:s,s:I,s:s,s:s}", "card",
                          id_of(json_object_get(card, "id")), "authorization", auth, "cardholder",
                          id_of(json_object_get(card, "cardholder")), "type", type, "amount",
                          amount, "currency", currency, "merchant_amount", amount,
                          "merchant_currency", currency, "balance_transaction", txn);
    if (!auth)
        json_object_set_new(p, "authorization", json_null());
    if (!json_object_get(p, "cardholder"))
        json_object_set_new(p, "cardholder", json_null());
    json_object_set_new(p, "dispute", json_null());
    if (json_object_get(typed, "merchant_data"))
        json_object_set(p, "merchant_data", json_object_get(typed, "merchant_data"));
    json_object_set(p, "purchase_details",
                    json_object_get(typed, "purchase_details") ?: json_null());
    sl_emu_reply_t out = sl__emu_create(e, &quiet, p, request_id, idem_key);
    json_decref(p);
    json_t *t = sl__emu_get(e, json_string_value(json_object_get(out.body, "id")));
    json_decref(out.body);
    sl__emu_emit(e, "issuing_transaction.created", t, NULL, request_id, idem_key);
    if (json_array_size(json_object_get(json_object_get(t, "purchase_details"), "receipt")))
        sl__emu_emit(e, "issuing_transaction.purchase_details_receipt_updated", t, NULL, request_id,
                     idem_key);
    return t;
}

static sl_emu_reply_t authorize(sl_emulator_t *e, json_t *typed, const char *request_id,
                                const char *idem_key)
{
    sl_emu_reply_t err = {0, NULL, 0, NULL, 0, 0};
    const json_t *card = card_of(e, typed, &err);
    if (!card)
        return err;
    if (strcmp(sl__emu_status_of(card), "active"))
        return sl__emu_error(400, "invalid_request_error", "card_not_active", "card",
                             "The card %s is %s; only an active card can be authorized.",
                             id_of(json_object_get(card, "id")), sl__emu_status_of(card));
    json_int_t amount = json_integer_value(json_object_get(typed, "amount"));
    const char *cur = json_string_value(json_object_get(typed, "currency"))
                          ?: json_string_value(json_object_get(card, "currency")) ?: "usd";
    json_int_t now = (json_int_t)time(NULL);
    const sl_emu_resource_t *r = sl__emu_resource("issuing.authorizations", 22);
    sl_emu_resource_t quiet = *r; /* request, then created, once its fields are set */
    quiet.emits = 0;
    json_t *p = json_pack(
        "{s:I,s:s,s:I,s:s,s:o,s:s?,s:b,s:s}", "amount", amount, "currency", cur, "merchant_amount",
        amount, "merchant_currency", cur, "card", json_deep_copy(card), "cardholder",
        id_of(json_object_get(card, "cardholder")), "approved", 1, "status", "pending");
    const char *keep[] = {"authorization_method", "merchant_data",     "amount_details",
                          "network_data",         "verification_data", "wallet"};
    for (size_t i = 0; i < sizeof keep / sizeof *keep; i++)
        if (json_object_get(typed, keep[i]))
            json_object_set(p, keep[i], json_object_get(typed, keep[i]));
    json_object_set_new(p, "pending_request", json_null());
    json_object_set_new(p, "request_history",
                        json_pack("[{s:I,s:n,s:b,s:I,s:s,s:I,s:s,s:s}]", "amount", amount,
                                  "amount_details", "approved", 1, "created", now, "currency", cur,
                                  "merchant_amount", amount, "merchant_currency", cur, "reason",
                                  "webhook_approved"));
    sl_emu_reply_t out = sl__emu_create(e, &quiet, p, request_id, idem_key);
    json_decref(p);
    if (out.status != 200)
        return out;
    json_t *a = sl__emu_get(e, json_string_value(json_object_get(out.body, "id")));
    json_decref(out.body);
    /* The request Stripe sends for a real-time decision shows it waiting for one. */
    json_t *asked = json_deep_copy(a);
    json_object_set_new(asked, "approved", json_false());
    json_object_set_new(asked, "request_history", json_array());
    json_object_set_new(asked, "pending_request",
                        json_pack("{s:I,s:n,s:s,s:b,s:I,s:s}", "amount", amount, "amount_details",
                                  "currency", cur, "is_amount_controllable",
                                  json_is_true(json_object_get(typed, "is_amount_controllable")),
                                  "merchant_amount", amount, "merchant_currency", cur));
    sl__emu_emit(e, "issuing_authorization.request", asked, NULL, request_id, idem_key);
    json_decref(asked);
    sl__emu_emit(e, "issuing_authorization.created", a, NULL, request_id, idem_key);
    return (sl_emu_reply_t){200, json_deep_copy(a), 0, NULL, 0, 0};
}

sl_emu_reply_t sl__emu_issuing(sl_emulator_t *e, const char *name, const char *id, json_t *typed,
                               const char *request_id, const char *idem_key)
{
    if (strcmp(name, "test_helpers.issuing.authorizations.create") == 0)
        return authorize(e, typed, request_id, idem_key);
    if (strcmp(name, "test_helpers.issuing.transactions.create_force_capture.create") == 0 ||
        strcmp(name, "test_helpers.issuing.transactions.create_unlinked_refund.create") == 0) {
        sl_emu_reply_t err = {0, NULL, 0, NULL, 0, 0};
        const json_t *card = card_of(e, typed, &err);
        if (!card)
            return err;
        int refund = strstr(name, "refund") != NULL;
        json_int_t amount = json_integer_value(json_object_get(typed, "amount"));
        const char *cur = json_string_value(json_object_get(typed, "currency"))
                              ?: json_string_value(json_object_get(card, "currency")) ?: "usd";
        json_t *t = make_transaction(e, card, NULL, refund ? "refund" : "capture",
                                     refund ? amount : -amount, cur, typed, request_id, idem_key);
        return (sl_emu_reply_t){200, json_deep_copy(t), 0, NULL, 0, 0};
    }
    int on_auth = strncmp(name, "test_helpers.issuing.authorizations.", 36) == 0;
    json_t *obj = id ? sl__emu_get(e, id) : NULL;
    if (!sl__emu_is_a(obj, on_auth ? "issuing.authorization" : "issuing.transaction"))
        return sl__emu_no_such(on_auth ? "issuing.authorization" : "issuing.transaction",
                               id ? id : "");
    const char *verb = strrchr(name, '.') + 1;
    if (!on_auth) { /* test_helpers.issuing.transactions.refund */
        if (strcmp(json_string_value(json_object_get(obj, "type")) ?: "", "capture"))
            return sl__emu_error(400, "invalid_request_error", "transaction_not_refundable", NULL,
                                 "Only a capture can be refunded; %s is a refund.", id);
        json_int_t captured = -json_integer_value(json_object_get(obj, "amount"));
        json_int_t amount = json_is_integer(json_object_get(typed, "refund_amount"))
                                ? json_integer_value(json_object_get(typed, "refund_amount"))
                                : captured;
        if (amount <= 0 || amount > captured)
            return sl__emu_error(400, "invalid_request_error", "parameter_invalid", "refund_amount",
                                 "The refund_amount must be more than 0 and at most %lld.",
                                 (long long)captured);
        const json_t *card = sl__emu_get(e, id_of(json_object_get(obj, "card")) ?: "");
        char cur[8];
        snprintf(cur, sizeof cur, "%s", json_string_value(json_object_get(obj, "currency")) ?: "");
        json_t *t = make_transaction(e, card, id_of(json_object_get(obj, "authorization")),
                                     "refund", amount, cur, typed, request_id, idem_key);
        return (sl_emu_reply_t){200, json_deep_copy(t), 0, NULL, 0, 0};
    }
    if (strcmp(verb, "capture") && strcmp(verb, "reverse")) {
        sl_emu_reply_t out = sl__emu_unkept("sluice emulate does not keep %s", name);
        return out;
    }
    if (strcmp(sl__emu_status_of(obj), "pending"))
        return sl__emu_error(400, "invalid_request_error", "authorization_unexpected_state", NULL,
                             "Only a pending authorization can be %s; %s is %s.",
                             strcmp(verb, "capture") == 0 ? "captured" : "reversed", id,
                             sl__emu_status_of(obj));
    json_int_t held = json_integer_value(json_object_get(obj, "amount"));
    json_t *prev = json_pack("{s:s,s:I}", "status", "pending", "amount", held);
    if (strcmp(verb, "reverse") == 0) {
        json_int_t back = json_is_integer(json_object_get(typed, "reverse_amount"))
                              ? json_integer_value(json_object_get(typed, "reverse_amount"))
                              : held;
        if (back <= 0 || back > held) {
            json_decref(prev);
            return sl__emu_error(
                400, "invalid_request_error", "parameter_invalid", "reverse_amount",
                "The reverse_amount must be more than 0 and at most %lld.", (long long)held);
        }
        json_object_set_new(obj, "amount", json_integer(held - back));
        json_object_set_new(obj, "merchant_amount", json_integer(held - back));
        if (held == back)
            json_object_set_new(obj, "status", json_string("reversed"));
    } else { /* capture */
        json_int_t amount = json_is_integer(json_object_get(typed, "capture_amount"))
                                ? json_integer_value(json_object_get(typed, "capture_amount"))
                                : held;
        const json_t *card = sl__emu_get(e, id_of(json_object_get(obj, "card")) ?: "");
        char cur[8];
        snprintf(cur, sizeof cur, "%s", json_string_value(json_object_get(obj, "currency")) ?: "");
        json_t *t =
            make_transaction(e, card, id, "capture", -amount, cur, typed, request_id, idem_key);
        obj = sl__emu_get(e, id);
        json_array_append_new(json_object_get(obj, "transactions"), json_deep_copy(t));
        json_object_set_new(obj, "amount", json_integer(0));
        json_object_set_new(obj, "merchant_amount", json_integer(0));
        json_object_set_new(obj, "status", json_string("closed"));
    }
    sl__emu_touch(e, id);
    sl__emu_emit(e, "issuing_authorization.updated", obj, prev, request_id, idem_key);
    return (sl_emu_reply_t){200, json_deep_copy(obj), 0, NULL, 0, 0};
}
