/* Stripe error parsing, key masking and redaction. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "core/utf8.h"
#include "stripe/internal.h"

static void test_parse_card_error(void **state)
{
    (void)state;
    const char *raw = "{\"error\":{\"type\":\"card_error\",\"code\":\"card_declined\","
                      "\"decline_code\":\"insufficient_funds\",\"param\":\"payment_method\","
                      "\"message\":\"Your card has insufficient funds.\","
                      "\"doc_url\":\"https://stripe.com/docs/error-codes/card-declined\"}}";
    json_t *body = json_loads(raw, 0, NULL);
    sl_stripe_error_t e;
    sl__stripe_error_parse(&e, 402, body, raw, "req_abc");
    assert_int_equal(e.http_status, 402);
    assert_string_equal(e.type, "card_error");
    assert_string_equal(e.code, "card_declined");
    assert_string_equal(e.decline_code, "insufficient_funds");
    assert_string_equal(e.param, "payment_method");
    assert_string_equal(e.message, "Your card has insufficient funds.");
    assert_string_equal(e.doc_url, "https://stripe.com/docs/error-codes/card-declined");
    assert_string_equal(e.request_id, "req_abc");
    json_decref(body);
}

static void test_parse_partial_and_foreign_bodies(void **state)
{
    (void)state;
    sl_stripe_error_t e;
    json_t *body = json_loads("{\"error\":{\"type\":\"api_error\",\"message\":\"boom\"}}", 0, NULL);
    sl__stripe_error_parse(&e, 500, body, NULL, NULL);
    assert_string_equal(e.type, "api_error");
    assert_string_equal(e.code, "");
    assert_string_equal(e.request_id, "");
    json_decref(body);

    sl__stripe_error_parse(&e, 502, NULL, "<html>Bad Gateway</html>\nmore", "req_1");
    assert_int_equal(e.http_status, 502);
    assert_string_equal(
        e.message, "HTTP 502 with a body that is not a Stripe error: <html>Bad Gateway</html>");
    sl__stripe_error_parse(&e, 503, NULL, "", NULL);
    assert_string_equal(e.message, "HTTP 503 with an empty body");
}

/* Fields go into JSON: cut or foreign text stays whole UTF-8 characters (fuzz_stripe_error). */
static void test_parse_keeps_utf8(void **state)
{
    (void)state;
    sl_stripe_error_t e;
    char big[4096] = "{\"error\":{\"type\":\"api_error\",\"message\":\"";
    for (int i = 0; i < 600; i++)
        strcat(big, "\xc3\xa9"); /* é: 1200 bytes, past the 1023 a message holds */
    strcat(big, "\"}}");
    json_t *body = json_loads(big, 0, NULL);
    assert_non_null(body);
    sl__stripe_error_parse(&e, 500, body, big, NULL);
    assert_int_equal(strlen(e.message), 1022);
    assert_true(sl__utf8_valid(e.message));
    json_decref(body);

    char raw[512] = "x";
    for (int i = 0; i < 150; i++)
        strcat(raw, "\xc3\xa9");
    sl__stripe_error_parse(&e, 502, NULL, raw, NULL);
    assert_true(sl__utf8_valid(e.message));
    assert_non_null(strstr(e.message, "error: x\xc3\xa9"));

    sl__stripe_error_parse(&e, 502, NULL, "\xff\xfe bad\x1b[2J \xc3\xa9\xc3", NULL);
    assert_string_equal(e.message,
                        "HTTP 502 with a body that is not a Stripe error: ?? bad?[2J \xc3\xa9?");
}

static void test_key_mask(void **state)
{
    (void)state;
    char out[64];
    sl_key_mask("sk_test_51HabcdefghijklmnopqrstuVWXYZ4f2a", out, sizeof out);
    assert_string_equal(out, "sk_test_\xE2\x80\xA6"
                             "4f2a");
    sl_key_mask("rk_live_51Habcdefghijklmnopqrstu9z9z", out, sizeof out);
    assert_string_equal(out, "rk_live_\xE2\x80\xA6"
                             "9z9z");
    sl_key_mask("sk_test_short", out, sizeof out);
    assert_string_equal(out, "sk_test_\xE2\x80\xA6");
    /* No known prefix: nothing of the secret is shown. */
    sl_key_mask("whatever-secret-value-1234567", out, sizeof out);
    assert_string_equal(out, "\xE2\x80\xA6");
    sl_key_mask(NULL, out, sizeof out);
    assert_string_equal(out, "(none)");
    char tiny[4];
    sl_key_mask("sk_test_51Habcdefghijklmnopqrstu", tiny, sizeof tiny);
    assert_int_equal(strlen(tiny), 3);
}

static void test_redact(void **state)
{
    (void)state;
    const char *key = "sk_test_51HabcdefghijklmnopqrstuVWXYZ4f2a";
    char msg[256];
    snprintf(msg, sizeof msg, "Invalid API Key provided: %s (twice: %s)", key, key);
    sl__redact(msg, key);
    assert_null(strstr(msg, key));
    assert_string_equal(msg, "Invalid API Key provided: sk_test_\xE2\x80\xA6"
                             "4f2a (twice: "
                             "sk_test_\xE2\x80\xA6"
                             "4f2a)");
}

static void test_redact_terminates_when_the_secret_looks_masked(void **state)
{
    (void)state;
    char msg[64] = "x sk_test_\xE2\x80\xA6 y";
    sl__redact(msg, "sk_test_\xE2\x80\xA6");
    assert_non_null(strstr(msg, " y"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_card_error),
        cmocka_unit_test(test_parse_partial_and_foreign_bodies),
        cmocka_unit_test(test_parse_keeps_utf8),
        cmocka_unit_test(test_key_mask),
        cmocka_unit_test(test_redact),
        cmocka_unit_test(test_redact_terminates_when_the_secret_looks_masked),
    };
    return cmocka_run_group_tests_name("errors", tests, NULL, NULL);
}
