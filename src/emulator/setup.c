/* Setup intents: a card saved for later, confirmed with Stripe's test cards (succeeded, a
 * decline with setup_intent.setup_failed, or 3D Secure with requires_action), and cancel. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core/rand.h"
#include "emulator/internal.h"

/* Confirms: the card is checked as Stripe checks it when saving one. */
static sl_emu_reply_t confirm(sl_emulator_t *e, json_t *si, const char *request_id,
                              const char *idem_key)
{
    const char *pm = json_string_value(json_object_get(si, "payment_method"));
    if (!pm)
        return sl__emu_error(400, "invalid_request_error", "setup_intent_unexpected_state",
                             "payment_method",
                             "You cannot confirm this SetupIntent because it's missing a payment "
                             "method.");
    const sl_emu_card_t *card = sl__emu_card_of(e, pm);
    json_t *pmo = sl__emu_get(e, pm);
    if (card && card->decline_code && !(card->flags & SL_EMU_CARD_ATTACHES)) {
        json_t *lse = json_pack("{s:s,s:s,s:s,s:s,s:s?,s:O}", "type", "card_error", "code",
                                card->code, "decline_code", card->decline_code, "message",
                                card->message, "param", card->param, "payment_method", pmo);
        json_object_set_new(si, "last_setup_error", lse);
        json_object_set_new(si, "status", json_string("requires_payment_method"));
        json_object_set_new(si, "payment_method", json_null());
        sl__emu_emit(e, "setup_intent.setup_failed", si, NULL, request_id, idem_key);
        sl_emu_reply_t r = sl__emu_card_decline(card);
        json_object_set(json_object_get(r.body, "error"), "setup_intent", si);
        return r;
    }
    json_object_set_new(si, "last_setup_error", json_null());
    if (card && (card->flags & SL_EMU_CARD_ACTION))
        return sl__emu_card_requires_action(e, si, "setup_intent.requires_action", request_id,
                                            idem_key);
    json_object_set_new(si, "status", json_string("succeeded"));
    json_object_set_new(si, "next_action", json_null());
    const json_t *cus = json_object_get(si, "customer");
    if (json_is_string(cus) && pmo &&
        !json_equal(json_object_get(pmo, "customer"), (json_t *)cus)) {
        /* Saving the card for a customer attaches it, as on Stripe. */
        json_object_set(pmo, "customer", (json_t *)cus);
        sl__emu_touch(e, pm);
        sl__emu_emit(e, "payment_method.attached", pmo, NULL, request_id, idem_key);
    }
    sl__emu_emit(e, "setup_intent.succeeded", si, NULL, request_id, idem_key);
    return (sl_emu_reply_t){200, json_deep_copy(si), 0, NULL, 0, 0};
}

sl_emu_reply_t sl__emu_setup_intents(sl_emulator_t *e, const char *verb, const char *id,
                                     json_t *typed, const char *request_id, const char *idem_key)
{
    const sl_emu_resource_t *r = sl__emu_resource("setup_intents", 13);
    const char *pm = json_string_value(json_object_get(typed, "payment_method"));
    if (pm) {
        sl_emu_reply_t err = {0, NULL, 0, NULL, 0, 0};
        const char *real = sl__emu_payment_method_for(e, pm, &err);
        if (!real)
            return err;
        json_object_set_new(typed, "payment_method", json_string(real));
    }
    const char *cus = json_string_value(json_object_get(typed, "customer"));
    const json_t *co = cus ? sl__emu_get(e, cus) : NULL;
    if (cus && (!co || strcmp(json_string_value(json_object_get(co, "object")) ?: "", "customer")))
        return sl__emu_error(400, "invalid_request_error", "resource_missing", "customer",
                             "No such customer: '%s'", cus);
    int do_confirm = json_is_true(json_object_get(typed, "confirm"));
    json_object_del(typed, "confirm");
    json_object_del(typed, "return_url");
    json_object_del(typed, "mandate_data");
    json_object_del(typed, "automatic_payment_methods");
    if (strcmp(verb, "create") == 0) {
        sl_emu_reply_t cr = sl__emu_create(e, r, typed, request_id, idem_key);
        if (cr.status != 200)
            return cr;
        json_t *si = sl__emu_get(e, json_string_value(json_object_get(cr.body, "id")));
        json_decref(cr.body);
        char secret[40], cs[160];
        sl__emu_must_rand(sl__rand_token(secret, 24));
        snprintf(cs, sizeof cs, "%s_secret_%s", json_string_value(json_object_get(si, "id")),
                 secret);
        json_object_set_new(si, "client_secret", json_string(cs));
        json_object_set_new(si, "status",
                            json_string(json_is_string(json_object_get(si, "payment_method"))
                                            ? "requires_confirmation"
                                            : "requires_payment_method"));
        if (!json_object_get(typed, "usage"))
            json_object_set_new(si, "usage", json_string("off_session"));
        return do_confirm ? confirm(e, si, request_id, idem_key)
                          : (sl_emu_reply_t){200, json_deep_copy(si), 0, NULL, 0, 0};
    }
    json_t *si = id ? sl__emu_get(e, id) : NULL;
    if (!si || strcmp(json_string_value(json_object_get(si, "object")) ?: "", "setup_intent"))
        return sl__emu_no_such("setup_intent", id ? id : "");
    const char *st = sl__emu_status_of(si);
    int settled = !strcmp(st, "succeeded") || !strcmp(st, "canceled");
    if (strcmp(verb, "confirm") == 0) {
        if (settled || !strcmp(st, "requires_action"))
            return sl__emu_error(400, "invalid_request_error", "setup_intent_unexpected_state",
                                 NULL,
                                 "You cannot confirm this SetupIntent because it has a status of "
                                 "%s.",
                                 st);
        sl__emu_apply(si, typed, NULL, 0);
        sl__emu_touch(e, id);
        return confirm(e, si, request_id, idem_key);
    }
    if (strcmp(verb, "cancel") == 0) {
        if (settled)
            return sl__emu_error(400, "invalid_request_error", "setup_intent_unexpected_state",
                                 NULL,
                                 "You cannot cancel this SetupIntent because it has a status of "
                                 "%s.",
                                 st);
        json_object_set_new(si, "status", json_string("canceled"));
        json_object_set(si, "cancellation_reason",
                        json_object_get(typed, "cancellation_reason") ?: json_null());
        sl__emu_touch(e, id);
        sl__emu_emit(e, "setup_intent.canceled", si, NULL, request_id, idem_key);
        return (sl_emu_reply_t){200, json_deep_copy(si), 0, NULL, 0, 0};
    }
    if (strcmp(verb, "update") == 0) {
        if (settled)
            return sl__emu_error(400, "invalid_request_error", "setup_intent_unexpected_state",
                                 NULL,
                                 "You cannot update this SetupIntent because it has a status of "
                                 "%s.",
                                 st);
        sl__emu_apply(si, typed, NULL, 0); /* Stripe records no event for this */
        sl__emu_touch(e, id);
        if (json_is_string(json_object_get(si, "payment_method")) &&
            strcmp(st, "requires_payment_method") == 0)
            json_object_set_new(si, "status", json_string("requires_confirmation"));
        return (sl_emu_reply_t){200, json_deep_copy(si), 0, NULL, 0, 0};
    }
    sl_emu_reply_t out = sl__emu_unkept("sluice emulate does not keep setup_intents.%s", verb);
    return out;
}
