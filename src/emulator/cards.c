/* Stripe's test cards: the payment method tokens (pm_card_visa), the card tokens (tok_visa) and
 * the card numbers (4242424242424242) of Stripe's testing docs, what each card is, and how it
 * behaves: pays, declines when attached or only when charged, asks for 3D Secure, or pays and is
 * then disputed. */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core/rand.h"
#include "emulator/internal.h"

/* A card that pays. */
#define PAYS(name, number, brand, funding)                                                         \
    {                                                                                              \
        name, number, brand, funding, NULL, NULL, NULL, NULL, 0                                    \
    }

/* The cards by the name that follows pm_card_ and tok_. */
static const sl_emu_card_t cards[] = {
    PAYS("visa", "4242424242424242", "visa", "credit"),
    PAYS("visa_debit", "4000056655665556", "visa", "debit"),
    PAYS("mastercard", "5555555555554444", "mastercard", "credit"),
    PAYS("mastercard_debit", "5200828282828210", "mastercard", "debit"),
    PAYS("mastercard_prepaid", "5105105105105100", "mastercard", "prepaid"),
    PAYS("amex", "371449635398431", "amex", "credit"),
    PAYS("discover", "6011111111111117", "discover", "credit"),
    PAYS("diners", "3056930009020004", "diners", "credit"),
    PAYS("jcb", "3566002020360505", "jcb", "credit"),
    PAYS("unionpay", "6200000000000005", "unionpay", "credit"),
    PAYS("us", "4242424242424242", "visa", "credit"),
    PAYS("bypassPending", "4000000000000077", "visa", "credit"),
    PAYS("threeDSecureOptional", "4000000000003055", "visa", "credit"),
    {"chargeCustomerFail", "4000000000000341", "visa", "credit", "generic_decline", "card_declined",
     "Your card was declined.", NULL, SL_EMU_CARD_ATTACHES},
    {"chargeDeclined", "4000000000000002", "visa", "credit", "generic_decline", "card_declined",
     "Your card was declined.", NULL, 0},
    {"chargeDeclinedInsufficientFunds", "4000000000009995", "visa", "credit", "insufficient_funds",
     "card_declined", "Your card has insufficient funds.", NULL, 0},
    {"chargeDeclinedLostCard", "4000000000009987", "visa", "credit", "lost_card", "card_declined",
     "Your card was declined.", NULL, 0},
    {"chargeDeclinedStolenCard", "4000000000009979", "visa", "credit", "stolen_card",
     "card_declined", "Your card was declined.", NULL, 0},
    {"chargeDeclinedExpiredCard", "4000000000000069", "visa", "credit", "expired_card",
     "expired_card", "Your card has expired.", "exp_month", 0},
    {"chargeDeclinedIncorrectCvc", "4000000000000127", "visa", "credit", "incorrect_cvc",
     "incorrect_cvc", "Your card's security code is incorrect.", "cvc", 0},
    {"chargeDeclinedProcessingError", "4000000000000119", "visa", "credit", "processing_error",
     "processing_error", "An error occurred while processing your card. Try again in a little bit.",
     NULL, 0},
    {"chargeDeclinedVelocityLimitExceeded", "4000000000006975", "visa", "credit",
     "card_velocity_exceeded", "card_declined", "Your card was declined.", NULL, 0},
    {"authenticationRequired", "4000002760003184", "visa", "credit", NULL, NULL, NULL, NULL,
     SL_EMU_CARD_ACTION},
    {"authenticationRequiredOnSetup", "4000002500003155", "visa", "credit", NULL, NULL, NULL, NULL,
     SL_EMU_CARD_ACTION},
    {"threeDSecure2Required", "4000000000003220", "visa", "credit", NULL, NULL, NULL, NULL,
     SL_EMU_CARD_ACTION},
    {"threeDSecureRequired", "4000000000003063", "visa", "credit", NULL, NULL, NULL, NULL,
     SL_EMU_CARD_ACTION},
    {"createDispute", "4000000000000259", "visa", "credit", NULL, NULL, NULL, NULL,
     SL_EMU_CARD_DISPUTE},
    {"createDisputeProductNotReceived", "4000000000002685", "visa", "credit", NULL, NULL, NULL,
     NULL, SL_EMU_CARD_DISPUTE},
    {"createDisputeInquiry", "4000000000001976", "visa", "credit", NULL, NULL, NULL, NULL,
     SL_EMU_CARD_DISPUTE | SL_EMU_CARD_INQUIRY},
};

static const sl_emu_card_t *by_name(const char *name)
{
    for (size_t i = 0; i < sizeof cards / sizeof *cards; i++)
        if (strcmp(name, cards[i].name) == 0)
            return &cards[i];
    /* pm_card_visa_chargeDeclined names the same card as pm_card_chargeDeclined. */
    if (strncmp(name, "visa_", 5) == 0 && strcmp(name, "visa_debit") != 0)
        return by_name(name + 5);
    return NULL;
}

const sl_emu_card_t *sl__emu_card(const char *token)
{
    if (!token)
        return NULL;
    if (strncmp(token, "pm_card_", 8) == 0)
        return by_name(token + 8);
    if (strncmp(token, "tok_", 4) == 0)
        return by_name(token + 4);
    for (size_t i = 0; i < sizeof cards / sizeof *cards; i++)
        if (strcmp(token, cards[i].number) == 0)
            return &cards[i];
    return NULL;
}

const sl_emu_card_t *sl__emu_card_of(sl_emulator_t *e, const char *id)
{
    return id ? sl__emu_card(json_string_value(json_object_get(e->pm_tokens, id))) : NULL;
}

/* Luhn's check, which every card number passes. */
static int luhn_ok(const char *digits)
{
    size_t n = strlen(digits);
    int sum = 0;
    for (size_t i = 0; i < n; i++) {
        int d = digits[n - 1 - i] - '0';
        if (i % 2) {
            d *= 2;
            if (d > 9)
                d -= 9;
        }
        sum += d;
    }
    return n >= 12 && n <= 19 && sum % 10 == 0;
}

static const char *brand_of_number(const char *digits)
{
    if (digits[0] == '4')
        return "visa";
    if (digits[0] == '5' || (digits[0] == '2' && digits[1] >= '2' && digits[1] <= '7'))
        return "mastercard";
    if (digits[0] == '3' && (digits[1] == '4' || digits[1] == '7'))
        return "amex";
    if (digits[0] == '6')
        return "discover";
    return "unknown";
}

sl_emu_reply_t sl__emu_card_make(sl_emulator_t *e, const char *object, const char *token,
                                 const json_t *details, const char *customer, char *id, size_t n)
{
    id[0] = '\0';
    const sl_emu_card_t *c = sl__emu_card(token);
    char number[24] = "";
    const char *num = json_string_value(json_object_get(details, "number"));
    if (!c && num) {
        size_t k = 0;
        for (const char *p = num; *p && k + 1 < sizeof number; p++)
            if (isdigit((unsigned char)*p))
                number[k++] = *p;
            else if (*p != ' ' && *p != '-')
                k = sizeof number; /* not a number */
        number[k < sizeof number ? k : 0] = '\0';
        if (!number[0] || !luhn_ok(number))
            return sl__emu_error(402, "card_error", "incorrect_number", "card[number]",
                                 "Your card number is incorrect.");
        c = sl__emu_card(number);
    }
    if (!c && !number[0]) {
        if (token && strncmp(token, "tok_", 4) == 0)
            return sl__emu_error(400, "invalid_request_error", "resource_missing", "source",
                                 "No such token: '%s'", token);
        return sl__emu_error(400, "invalid_request_error", "resource_missing", "payment_method",
                             "No such PaymentMethod: '%s'", token ? token : "");
    }
    const char *brand = c ? c->brand : brand_of_number(number);
    const char *digits = c ? c->number : number;
    const char *last4 = digits + strlen(digits) - 4;
    const char *funding = c ? c->funding : "credit";
    struct tm tm;
    time_t now = time(NULL);
    gmtime_r(&now, &tm);
    json_int_t exp_month = json_is_integer(json_object_get(details, "exp_month"))
                               ? json_integer_value(json_object_get(details, "exp_month"))
                               : tm.tm_mon + 1;
    json_int_t exp_year = json_is_integer(json_object_get(details, "exp_year"))
                              ? json_integer_value(json_object_get(details, "exp_year"))
                              : tm.tm_year + 1900 + 1;
    /* The same card number always has the same fingerprint, as on Stripe. */
    char fingerprint[17];
    unsigned long h = 5381;
    for (const char *p = digits; *p; p++)
        h = h * 33 + (unsigned char)*p;
    for (size_t i = 0; i < 16; i++, h = h * 33 + 7)
        fingerprint[i] = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789"[h % 57];
    fingerprint[16] = '\0';
    json_t *params;
    const sl_emu_resource_t *r;
    if (strcmp(object, "card") == 0) {
        static const char *const display[][2] = {
            {"visa", "Visa"},         {"mastercard", "MasterCard"}, {"amex", "American Express"},
            {"discover", "Discover"}, {"diners", "Diners Club"},    {"jcb", "JCB"},
            {"unionpay", "UnionPay"}};
        const char *shown = "Unknown";
        for (size_t i = 0; i < sizeof display / sizeof *display; i++)
            if (strcmp(brand, display[i][0]) == 0)
                shown = display[i][1];
        params =
            json_pack("{s:s,s:s,s:I,s:I,s:s,s:s,s:s?,s:n,s:s}", "brand", shown, "last4", last4,
                      "exp_month", exp_month, "exp_year", exp_year, "funding", funding,
                      "fingerprint", fingerprint, "customer", customer, "name", "country", "US");
        r = sl__emu_resource("cards", 5);
    } else {
        params = json_pack("{s:s,s:{s:s,s:s,s:I,s:I,s:s,s:s,s:s,s:{s:[s],s:n}},s:s?,s:{}}", "type",
                           "card", "card", "brand", brand, "last4", last4, "exp_month", exp_month,
                           "exp_year", exp_year, "funding", funding, "fingerprint", fingerprint,
                           "country", "US", "networks", "available", brand, "preferred", "customer",
                           customer, "billing_details");
        json_t *bd = json_object_get(params, "billing_details");
        json_object_set_new(bd, "address",
                            json_pack("{s:n,s:n,s:n,s:n,s:n,s:n}", "city", "country", "line1",
                                      "line2", "postal_code", "state"));
        json_object_set_new(bd, "email", json_null());
        json_object_set_new(bd, "name", json_null());
        json_object_set_new(bd, "phone", json_null());
        r = sl__emu_resource("payment_methods", 15);
    }
    sl_emu_reply_t made = sl__emu_create(e, r, params, "", NULL);
    json_decref(params);
    if (made.status != 200)
        return made;
    snprintf(id, n, "%s", json_string_value(json_object_get(made.body, "id")) ?: "");
    if (c) {
        char kept[96];
        snprintf(kept, sizeof kept, "pm_card_%s", c->name);
        json_object_set_new(e->pm_tokens, id, json_string(kept));
        sl__emu_touch(e, id);
    }
    return made;
}

sl_emu_reply_t sl__emu_card_requires_action(sl_emulator_t *e, json_t *intent, const char *event,
                                            const char *request_id, const char *idem_key)
{
    char src[64];
    sl__emu_must_rand(sl__rand_id("src", src, sizeof src));
    json_object_set_new(intent, "status", json_string("requires_action"));
    json_object_set_new(intent, "next_action",
                        json_pack("{s:s,s:{s:s,s:s}}", "type", "use_stripe_sdk", "use_stripe_sdk",
                                  "type", "three_d_secure_redirect", "source", src));
    sl__emu_emit(e, event, intent, NULL, request_id, idem_key);
    return (sl_emu_reply_t){200, json_deep_copy(intent), 0, NULL, 0, 0};
}

sl_emu_reply_t sl__emu_card_decline(const sl_emu_card_t *c)
{
    sl_emu_reply_t r = sl__emu_error(402, "card_error", c->code, c->param, "%s", c->message);
    json_object_set_new(json_object_get(r.body, "error"), "decline_code",
                        json_string(c->decline_code));
    return r;
}

sl_emu_reply_t sl__emu_card_attach_check(sl_emulator_t *e, const char *id)
{
    const sl_emu_card_t *c = sl__emu_card_of(e, id);
    if (c && c->decline_code && !(c->flags & SL_EMU_CARD_ATTACHES))
        return sl__emu_card_decline(c);
    return (sl_emu_reply_t){0, NULL, 0, NULL, 0, 0};
}
