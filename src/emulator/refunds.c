/* Money going back: refunds of a charge or payment intent (charge.refunded, refund.created,
 * charge.refund.updated) and credit notes on an invoice (credit_note.created, .updated,
 * .voided). */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core/rand.h"
#include "emulator/internal.h"

sl_emu_reply_t sl__emu_refunds(sl_emulator_t *e, const char *verb, const char *id, json_t *typed,
                               const char *request_id, const char *idem_key)
{
    const sl_emu_resource_t *r = sl__emu_resource("refunds", 7);
    if (strcmp(verb, "create") == 0) {
        const char *ch = json_string_value(json_object_get(typed, "charge"));
        const char *pi_id = json_string_value(json_object_get(typed, "payment_intent"));
        json_t *pi = pi_id ? sl__emu_get(e, pi_id) : NULL;
        if (pi_id && !sl__emu_is_a(pi, "payment_intent"))
            return sl__emu_error(400, "invalid_request_error", "resource_missing", "payment_intent",
                                 "No such payment_intent: '%s'", pi_id);
        if (!ch && pi)
            ch = json_string_value(json_object_get(pi, "latest_charge"));
        if (!ch && !pi_id)
            return sl__emu_error(400, "invalid_request_error", "parameter_missing", NULL,
                                 "One of the following params should be provided for this "
                                 "request: payment_intent or charge.");
        json_t *charge = ch ? sl__emu_get(e, ch) : NULL;
        if (!sl__emu_is_a(charge, "charge") || !json_is_true(json_object_get(charge, "paid")))
            return pi_id && !ch
                       ? sl__emu_error(400, "invalid_request_error", "charge_not_refundable",
                                       "payment_intent",
                                       "This PaymentIntent does not have a successful charge to "
                                       "refund.")
                       : sl__emu_error(400, "invalid_request_error", "resource_missing", "charge",
                                       "No such charge: '%s'", ch ? ch : "");
        json_int_t amount = json_integer_value(json_object_get(charge, "amount"));
        json_int_t refunded = json_integer_value(json_object_get(charge, "amount_refunded"));
        json_int_t left = amount - refunded;
        if (left <= 0)
            return sl__emu_error(400, "invalid_request_error", "charge_already_refunded", NULL,
                                 "Charge %s has already been refunded.", ch);
        json_int_t want = json_is_integer(json_object_get(typed, "amount"))
                              ? json_integer_value(json_object_get(typed, "amount"))
                              : left;
        if (want <= 0 || want > left)
            return sl__emu_error(400, "invalid_request_error", "amount_too_large", "amount",
                                 "Refund amount (%lld) is greater than unrefunded amount on "
                                 "charge (%lld)",
                                 (long long)want, (long long)left);
        char txn[64];
        sl__emu_must_rand(sl__rand_id("txn", txn, sizeof txn));
        json_object_set_new(typed, "amount", json_integer(want));
        json_object_set_new(typed, "charge", json_string(ch));
        json_object_set(typed, "payment_intent",
                        json_object_get(charge, "payment_intent") ?: json_null());
        json_object_set(typed, "currency", json_object_get(charge, "currency"));
        json_object_set_new(typed, "status", json_string("succeeded"));
        json_object_set_new(typed, "balance_transaction", json_string(txn));
        json_object_del(typed, "refund_application_fee");
        json_object_del(typed, "reverse_transfer");
        json_object_del(typed, "instructions_email");
        json_object_del(typed, "origin");
        sl_emu_reply_t out = sl__emu_create(e, r, typed, request_id, idem_key);
        if (out.status != 200)
            return out;
        json_object_set_new(charge, "amount_refunded", json_integer(refunded + want));
        json_object_set_new(charge, "refunded", json_boolean(refunded + want == amount));
        sl__emu_touch(e, ch);
        sl__emu_emit(e, "charge.refunded", charge, NULL, request_id, idem_key);
        return out;
    }
    json_t *re = id ? sl__emu_get(e, id) : NULL;
    if (!sl__emu_is_a(re, "refund"))
        return sl__emu_no_such("refund", id ? id : "");
    json_t *prev = json_object();
    if (strcmp(verb, "cancel") == 0) {
        /* Card refunds succeed at once, so there is nothing left to cancel, as on Stripe. */
        json_decref(prev);
        if (strcmp(sl__emu_status_of(re), "requires_action"))
            return sl__emu_error(400, "invalid_request_error", "refund_unexpected_state", NULL,
                                 "Only refunds with a status of requires_action can be "
                                 "canceled; this one is %s.",
                                 sl__emu_status_of(re));
        json_object_set_new(re, "status", json_string("canceled"));
        sl__emu_touch(e, id);
        sl__emu_emit(e, "charge.refund.updated", re, NULL, request_id, idem_key);
        return (sl_emu_reply_t){200, json_deep_copy(re), 0, NULL, 0, 0};
    }
    if (strcmp(verb, "update")) {
        json_decref(prev);
        sl_emu_reply_t out = sl__emu_unkept("sluice emulate does not keep refunds.%s", verb);
        return out;
    }
    sl__emu_apply(re, typed, prev, 0);
    sl__emu_touch(e, id);
    json_t *prev2 = json_deep_copy(prev);
    sl__emu_emit(e, "charge.refund.updated", re, prev, request_id, idem_key);
    sl__emu_emit(e, "refund.updated", re, prev2, request_id, idem_key);
    return (sl_emu_reply_t){200, json_deep_copy(re), 0, NULL, 0, 0};
}

sl_emu_reply_t sl__emu_credit_notes(sl_emulator_t *e, const char *verb, const char *id,
                                    json_t *typed, const char *request_id, const char *idem_key)
{
    if (strcmp(verb, "create") == 0) {
        const sl_emu_resource_t *r = sl__emu_resource("credit_notes", 12);
        const char *in = json_string_value(json_object_get(typed, "invoice"));
        json_t *inv = in ? sl__emu_get(e, in) : NULL;
        if (!sl__emu_is_a(inv, "invoice"))
            return sl__emu_error(400, "invalid_request_error", "resource_missing", "invoice",
                                 "No such invoice: '%s'", in ? in : "");
        const char *st = sl__emu_status_of(inv);
        if (strcmp(st, "open") && strcmp(st, "paid"))
            return sl__emu_error(400, "invalid_request_error", "invoice_not_finalized", "invoice",
                                 "You can only create a credit note for an open or paid invoice; "
                                 "%s is %s.",
                                 in, st);
        /* The amount: given, or the lines' (custom lines: unit_amount x quantity; invoice
         * lines: amount). */
        json_int_t total = 0;
        json_t *lines = json_array();
        size_t i;
        json_t *l;
        json_array_foreach(json_object_get(typed, "lines"), i, l)
        {
            json_int_t qty = json_is_integer(json_object_get(l, "quantity"))
                                 ? json_integer_value(json_object_get(l, "quantity"))
                                 : 1;
            json_int_t amt = json_is_integer(json_object_get(l, "amount"))
                                 ? json_integer_value(json_object_get(l, "amount"))
                                 : json_integer_value(json_object_get(l, "unit_amount")) * qty;
            char lid[64];
            sl__emu_must_rand(sl__rand_id("cnli", lid, sizeof lid));
            json_array_append_new(
                lines, json_pack("{s:s,s:s,s:I,s:O,s:I,s:O,s:O,s:b}", "id", lid, "object",
                                 "credit_note_line_item", "amount", amt, "description",
                                 json_object_get(l, "description") ?: json_null(), "quantity", qty,
                                 "type", json_object_get(l, "type") ?: json_null(), "unit_amount",
                                 json_object_get(l, "unit_amount") ?: json_null(), "livemode", 0));
            total += amt;
        }
        if (json_is_integer(json_object_get(typed, "amount")))
            total = json_integer_value(json_object_get(typed, "amount"));
        json_int_t most = json_integer_value(json_object_get(inv, "total"));
        if (total <= 0 || total > most) {
            json_decref(lines);
            return sl__emu_error(400, "invalid_request_error", "credit_note_amount_too_large",
                                 "amount",
                                 "The credit note's amount (%lld) must be more than 0 and at "
                                 "most the invoice's total (%lld).",
                                 (long long)total, (long long)most);
        }
        json_object_del(typed, "lines");
        json_object_del(typed, "credit_amount");
        json_object_del(typed, "out_of_band_amount");
        json_object_del(typed, "refund");
        json_object_del(typed, "refund_amount");
        json_object_del(typed, "shipping_cost");
        json_int_t now = (json_int_t)time(NULL);
        char number[96], url[160];
        snprintf(number, sizeof number, "%s-CN-%02lu",
                 json_string_value(json_object_get(inv, "number")) ?: "INV",
                 (unsigned long)json_array_size(json_object_get(e->lists, "credit_note")) + 1);
        sl_emu_reply_t out = sl__emu_create(e, r, typed, request_id, idem_key);
        if (out.status != 200) {
            json_decref(lines);
            return out;
        }
        json_t *cn = sl__emu_get(e, json_string_value(json_object_get(out.body, "id")));
        json_decref(out.body);
        snprintf(url, sizeof url, "/v1/credit_notes/%s/lines",
                 json_string_value(json_object_get(cn, "id")));
        json_object_set_new(cn, "lines",
                            json_pack("{s:s,s:o,s:b,s:s}", "object", "list", "data", lines,
                                      "has_more", 0, "url", url));
        json_object_set(cn, "customer", json_object_get(inv, "customer"));
        json_object_set(cn, "currency", json_object_get(inv, "currency"));
        json_object_set_new(cn, "number", json_string(number));
        const char *fields[] = {"amount", "subtotal", "subtotal_excluding_tax", "total",
                                "total_excluding_tax"};
        for (size_t k = 0; k < sizeof fields / sizeof *fields; k++)
            json_object_set_new(cn, fields[k], json_integer(total));
        json_object_set_new(cn, "status", json_string("issued"));
        json_object_set_new(cn, "type",
                            json_string(strcmp(st, "paid") ? "pre_payment" : "post_payment"));
        json_object_set_new(cn, "effective_at", json_integer(now));
        json_object_set_new(cn, "voided_at", json_null());
        json_object_set_new(cn, "refund", json_null());
        json_object_set_new(cn, "customer_balance_transaction", json_null());
        json_object_set_new(cn, "pdf", json_null());
        if (strcmp(st, "open") == 0) { /* a credit before payment lowers what is due */
            json_int_t due = json_integer_value(json_object_get(inv, "amount_due")) - total;
            json_object_set_new(inv, "amount_due", json_integer(due));
            json_object_set_new(inv, "amount_remaining", json_integer(due));
            sl__emu_touch(e, in);
        }
        sl__emu_emit(e, "credit_note.created", cn, NULL, request_id, idem_key);
        return (sl_emu_reply_t){200, json_deep_copy(cn), 0, NULL, 0, 0};
    }
    json_t *cn = id ? sl__emu_get(e, id) : NULL;
    if (!sl__emu_is_a(cn, "credit_note"))
        return sl__emu_no_such("credit_note", id ? id : "");
    if (strcmp(verb, "void") == 0) {
        if (strcmp(sl__emu_status_of(cn), "issued"))
            return sl__emu_error(400, "invalid_request_error", "credit_note_unexpected_state", NULL,
                                 "This credit note is already void.");
        json_object_set_new(cn, "status", json_string("void"));
        json_object_set_new(cn, "voided_at", json_integer((json_int_t)time(NULL)));
        sl__emu_touch(e, id);
        sl__emu_emit(e, "credit_note.voided", cn, NULL, request_id, idem_key);
        return (sl_emu_reply_t){200, json_deep_copy(cn), 0, NULL, 0, 0};
    }
    if (strcmp(verb, "update") == 0) {
        json_t *prev = json_object();
        sl__emu_apply(cn, typed, prev, 0);
        sl__emu_touch(e, id);
        sl__emu_emit(e, "credit_note.updated", cn, prev, request_id, idem_key);
        return (sl_emu_reply_t){200, json_deep_copy(cn), 0, NULL, 0, 0};
    }
    sl_emu_reply_t out = sl__emu_unkept("sluice emulate does not keep credit_notes.%s", verb);
    return out;
}

sl_emu_reply_t sl__emu_transfer_reversal(sl_emulator_t *e, const char *transfer_id, json_t *typed,
                                         const char *request_id, const char *idem_key)
{
    json_t *tr = transfer_id ? sl__emu_get(e, transfer_id) : NULL;
    if (!sl__emu_is_a(tr, "transfer"))
        return sl__emu_no_such("transfer", transfer_id ? transfer_id : "");
    json_int_t amount = json_integer_value(json_object_get(tr, "amount"));
    json_int_t reversed = json_integer_value(json_object_get(tr, "amount_reversed"));
    json_int_t want = json_is_integer(json_object_get(typed, "amount"))
                          ? json_integer_value(json_object_get(typed, "amount"))
                          : amount - reversed;
    if (want <= 0 || want > amount - reversed)
        return sl__emu_error(400, "invalid_request_error", "transfer_reversal_too_large", "amount",
                             "You can reverse at most %lld of this transfer; %lld was asked.",
                             (long long)(amount - reversed), (long long)want);
    char id[64];
    sl__emu_must_rand(sl__rand_id("trr", id, sizeof id));
    json_t *rev =
        json_pack("{s:s,s:s,s:I,s:O,s:I,s:n,s:n,s:n,s:O,s:s}", "id", id, "object",
                  "transfer_reversal", "amount", want, "currency", json_object_get(tr, "currency"),
                  "created", (json_int_t)time(NULL), "balance_transaction",
                  "destination_payment_refund", "source_refund", "metadata",
                  json_object_get(typed, "metadata") ?: json_object(), "transfer", transfer_id);
    json_t *prev = json_pack("{s:I,s:O}", "amount_reversed", reversed, "reversed",
                             json_object_get(tr, "reversed") ?: json_false());
    json_object_set_new(tr, "amount_reversed", json_integer(reversed + want));
    json_object_set_new(tr, "reversed", json_boolean(reversed + want == amount));
    json_t *list = json_object_get(tr, "reversals");
    if (!json_is_object(list)) {
        char url[128];
        snprintf(url, sizeof url, "/v1/transfers/%s/reversals", transfer_id);
        list = json_pack("{s:s,s:[],s:b,s:i,s:s}", "object", "list", "data", "has_more", 0,
                         "total_count", 0, "url", url);
        json_object_set_new(tr, "reversals", list);
    }
    json_array_insert(json_object_get(list, "data"), 0, rev);
    json_object_set_new(list, "total_count",
                        json_integer((json_int_t)json_array_size(json_object_get(list, "data"))));
    sl__emu_touch(e, transfer_id);
    sl__emu_emit(e, "transfer.reversed", tr, prev, request_id, idem_key);
    return (sl_emu_reply_t){200, rev, 0, NULL, 0, 0};
}
