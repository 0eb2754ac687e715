/* Stripe-Signature verification. (Vectors from the official npm package are checked end to end
 * in tests/e2e/serve.sh; these cover every branch.) */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "sluice/webhook.h"

#define SECRET "whsec_test_secret"
static const char body[] = "{\"id\":\"evt_1\",\"object\":\"event\"}";

static sl_webhook_reason verify(const char *header, const char *b, const char *s1, const char *s2,
                                time_t now)
{
    const char *secrets[2] = {s1, s2};
    return sl_webhook_verify(header, b, strlen(b), secrets, 2, 300, now);
}

static void test_valid_and_tampered(void **state)
{
    (void)state;
    char h[128];
    assert_int_equal(sl_webhook_sign(SECRET, 1700000000, body, strlen(body), h, sizeof h), SL_OK);
    assert_true(strncmp(h, "t=1700000000,v1=", 16) == 0);
    assert_int_equal(verify(h, body, SECRET, NULL, 1700000000), SL_WEBHOOK_OK);
    assert_int_equal(verify(h, "{\"id\":\"evt_2\",\"object\":\"event\"}", SECRET, NULL, 1700000000),
                     SL_WEBHOOK_NO_MATCH);
    assert_int_equal(verify(h, body, "whsec_other", NULL, 1700000000), SL_WEBHOOK_NO_MATCH);
}

static void test_tolerance(void **state)
{
    (void)state;
    char h[128];
    sl_webhook_sign(SECRET, 1700000000, body, strlen(body), h, sizeof h);
    assert_int_equal(verify(h, body, SECRET, NULL, 1700000300), SL_WEBHOOK_OK);
    assert_int_equal(verify(h, body, SECRET, NULL, 1700000301), SL_WEBHOOK_TIMESTAMP);
    assert_int_equal(verify(h, body, SECRET, NULL, 1699999699), SL_WEBHOOK_TIMESTAMP);
    const char *secrets[1] = {SECRET};
    assert_int_equal(sl_webhook_verify(h, body, strlen(body), secrets, 1, 0, 1), SL_WEBHOOK_OK);
}

static void test_any_v1_any_secret(void **state)
{
    (void)state;
    char good[128], other[128], h[400];
    sl_webhook_sign(SECRET, 1700000000, body, strlen(body), good, sizeof good);
    sl_webhook_sign("whsec_old", 1700000000, body, strlen(body), other, sizeof other);
    /* Two v1 values, only the second matching. */
    snprintf(h, sizeof h, "t=1700000000,v1=%s,v1=%s", other + 16, good + 16);
    assert_int_equal(verify(h, body, SECRET, NULL, 1700000000), SL_WEBHOOK_OK);
    /* A rotation: the request signed with the previous secret still passes. */
    assert_int_equal(verify(other, body, SECRET, "whsec_old", 1700000000), SL_WEBHOOK_OK);
    /* v0 and unknown schemes are ignored; spaces tolerated. */
    snprintf(h, sizeof h, "t=1700000000, v0=abc, v1=%s, x=1", good + 16);
    assert_int_equal(verify(h, body, SECRET, NULL, 1700000000), SL_WEBHOOK_OK);
}

/* Every v1 is checked, however many there are (once, only the first 8 were). */
static void test_every_v1_checked(void **state)
{
    (void)state;
    char good[128], other[128], h[2048];
    sl_webhook_sign(SECRET, 1700000000, body, strlen(body), good, sizeof good);
    sl_webhook_sign("whsec_old", 1700000000, body, strlen(body), other, sizeof other);
    int k = snprintf(h, sizeof h, "t=1700000000");
    for (int i = 0; i < 19; i++)
        k += snprintf(h + k, sizeof h - (size_t)k, ",v1=%s", other + 16);
    k += snprintf(h + k, sizeof h - (size_t)k, ",v1=%s", good + 16);
    assert_true((size_t)k < sizeof h);
    assert_int_equal(verify(h, body, SECRET, NULL, 1700000000), SL_WEBHOOK_OK);
    /* The same 20 without the good one: none matches. */
    h[k - 68] = '\0';
    assert_int_equal(verify(h, body, SECRET, NULL, 1700000000), SL_WEBHOOK_NO_MATCH);
}

/* A header up to SL_WEBHOOK_MAX_HEADER bytes is checked whole; a longer one is refused as
 * malformed without being searched, even with a good v1 at its end. */
static void test_huge_header(void **state)
{
    (void)state;
    char good[128], other[128];
    sl_webhook_sign(SECRET, 1700000000, body, strlen(body), good, sizeof good);
    sl_webhook_sign("whsec_old", 1700000000, body, strlen(body), other, sizeof other);
    static char h[1 << 20];
    size_t cap = sizeof h;
    /* As many wrong v1 as fit before a good one within the limit. */
    size_t k = (size_t)snprintf(h, cap, "t=1700000000");
    while (k + 2 * 68 <= SL_WEBHOOK_MAX_HEADER)
        k += (size_t)snprintf(h + k, cap - k, ",v1=%s", other + 16);
    k += (size_t)snprintf(h + k, cap - k, ",v1=%s", good + 16);
    assert_true(k <= SL_WEBHOOK_MAX_HEADER);
    assert_true(k > SL_WEBHOOK_MAX_HEADER - 2 * 68);
    assert_int_equal(verify(h, body, SECRET, NULL, 1700000000), SL_WEBHOOK_OK);
    /* A megabyte of them. */
    k = (size_t)snprintf(h, cap, "t=1700000000");
    while (k + 2 * 68 < cap)
        k += (size_t)snprintf(h + k, cap - k, ",v1=%s", other + 16);
    k += (size_t)snprintf(h + k, cap - k, ",v1=%s", good + 16);
    assert_int_equal(verify(h, body, SECRET, NULL, 1700000000), SL_WEBHOOK_MALFORMED);
    /* Just over the limit: spaces after a good header. */
    k = (size_t)snprintf(h, cap, "%s", good);
    memset(h + k, ' ', SL_WEBHOOK_MAX_HEADER + 1 - k);
    h[SL_WEBHOOK_MAX_HEADER + 1] = '\0';
    assert_int_equal(verify(h, body, SECRET, NULL, 1700000000), SL_WEBHOOK_MALFORMED);
    h[SL_WEBHOOK_MAX_HEADER] = '\0';
    assert_int_equal(verify(h, body, SECRET, NULL, 1700000000), SL_WEBHOOK_OK);
}

static void test_malformed(void **state)
{
    (void)state;
    assert_int_equal(verify(NULL, body, SECRET, NULL, 1), SL_WEBHOOK_NO_HEADER);
    assert_int_equal(verify("", body, SECRET, NULL, 1), SL_WEBHOOK_MALFORMED);
    assert_int_equal(verify("garbage", body, SECRET, NULL, 1), SL_WEBHOOK_MALFORMED);
    assert_int_equal(verify("t=1700000000", body, SECRET, NULL, 1700000000), SL_WEBHOOK_MALFORMED);
    assert_int_equal(verify("t=abc,v1=00", body, SECRET, NULL, 1), SL_WEBHOOK_MALFORMED);
    /* A v1 of the right length that is not hex (found by fuzz/fuzz_signature.c). */
    char nothex[80] = "t=1,v1=";
    memset(nothex + 7, 'z', 64);
    nothex[71] = '\0';
    assert_int_equal(verify(nothex, body, SECRET, NULL, 1), SL_WEBHOOK_MALFORMED);
    char h[128], bad[160];
    sl_webhook_sign(SECRET, 1700000000, body, strlen(body), h, sizeof h);
    snprintf(bad, sizeof bad, "v1=%s", h + 16); /* no t= */
    assert_int_equal(verify(bad, body, SECRET, NULL, 1700000000), SL_WEBHOOK_MALFORMED);
    assert_int_equal(verify(h, body, NULL, NULL, 1700000000), SL_WEBHOOK_NO_SECRET);
    assert_string_equal(sl_webhook_reason_name(SL_WEBHOOK_NO_MATCH), "no_matching_signature");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_and_tampered), cmocka_unit_test(test_tolerance),
        cmocka_unit_test(test_any_v1_any_secret),  cmocka_unit_test(test_every_v1_checked),
        cmocka_unit_test(test_huge_header),        cmocka_unit_test(test_malformed),
    };
    return cmocka_run_group_tests_name("webhook", tests, NULL, NULL);
}
