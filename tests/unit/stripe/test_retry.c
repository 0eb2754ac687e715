/* Retry decisions, backoff bounds and Retry-After parsing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "stripe/internal.h"

static const sl_retry_policy_t policy = {
    .max_retries = 3, .initial_ms = 500, .max_ms = 5000, .total_ms = 60000};

static void test_should_retry_statuses(void **state)
{
    (void)state;
    assert_true(sl__retry_should(&policy, 0, NULL, 0)); /* network error */
    assert_true(sl__retry_should(&policy, 409, NULL, 0));
    assert_true(sl__retry_should(&policy, 429, NULL, 0));
    assert_true(sl__retry_should(&policy, 500, NULL, 0));
    assert_true(sl__retry_should(&policy, 503, NULL, 2));
    assert_false(sl__retry_should(&policy, 400, NULL, 0));
    assert_false(sl__retry_should(&policy, 401, NULL, 0));
    assert_false(sl__retry_should(&policy, 402, NULL, 0));
    assert_false(sl__retry_should(&policy, 404, NULL, 0));
}

static void test_should_retry_header_overrides(void **state)
{
    (void)state;
    assert_false(sl__retry_should(&policy, 500, "false", 0));
    assert_false(sl__retry_should(&policy, 429, "false", 0));
    assert_true(sl__retry_should(&policy, 400, "true", 0));
    assert_true(sl__retry_should(&policy, 402, "TRUE", 0));
    assert_true(sl__retry_should(&policy, 500, "maybe", 0)); /* unknown value: status decides */
}

static void test_should_retry_bounded(void **state)
{
    (void)state;
    assert_false(sl__retry_should(&policy, 500, NULL, 3));
    assert_false(sl__retry_should(&policy, 0, "true", 3));
    sl_retry_policy_t none = policy;
    none.max_retries = 0;
    assert_false(sl__retry_should(&none, 503, NULL, 0));
}

static void test_delay_full_jitter_bounds(void **state)
{
    (void)state;
    /* Ceilings double from 500 ms and stop at 5000 ms. */
    long ceilings[] = {500, 1000, 2000, 4000, 5000, 5000, 5000};
    for (int retry = 1; retry <= 7; retry++) {
        long c = ceilings[retry - 1];
        assert_int_equal(sl__retry_delay_ms(&policy, retry, -1, 0), 0);
        assert_int_equal(sl__retry_delay_ms(&policy, retry, -1, (uint32_t)c), c);
        for (uint32_t r = 1; r < 100000; r = r * 7 + 13) {
            long d = sl__retry_delay_ms(&policy, retry, -1, r);
            assert_in_range(d, 0, c);
        }
    }
    assert_in_range(sl__retry_delay_ms(&policy, 60, -1, 0xffffffffu), 0, 5000);
    /* Absurd settings are clamped, not divided by zero. */
    sl_retry_policy_t wild = {.max_retries = 1, .initial_ms = 0xFFFFFFFFL, .max_ms = 0xFFFFFFFFL};
    assert_in_range(sl__retry_delay_ms(&wild, 3, -1, 0xffffffffu), 0, 3600000);
    sl_retry_policy_t zero = {.max_retries = 1};
    assert_in_range(sl__retry_delay_ms(&zero, 1, -1, 12345), 0, 1);
}

static void test_delay_honours_retry_after(void **state)
{
    (void)state;
    assert_int_equal(sl__retry_delay_ms(&policy, 1, 3000, 10), 3000);
    assert_int_equal(sl__retry_delay_ms(&policy, 1, 0, 400), 400);
}

static void test_retry_after_parse(void **state)
{
    (void)state;
    time_t now = 1700000000;
    assert_int_equal(sl__retry_after_ms(NULL, now), -1);
    assert_int_equal(sl__retry_after_ms("", now), -1);
    assert_int_equal(sl__retry_after_ms("2", now), 2000);
    assert_int_equal(sl__retry_after_ms(" 0.5 ", now), 500);
    assert_int_equal(sl__retry_after_ms("soon", now), -1);
    assert_int_equal(sl__retry_after_ms("-1", now), -1);
    assert_int_equal(sl__retry_after_ms("0x10", now), -1);
    assert_int_equal(sl__retry_after_ms("1e3", now), -1);
    assert_int_equal(sl__retry_after_ms("99999999999", now), -1);
    /* 1700000000 is Tue, 14 Nov 2023 22:13:20 GMT */
    assert_int_equal(sl__retry_after_ms("Tue, 14 Nov 2023 22:13:25 GMT", now), 5000);
    assert_int_equal(sl__retry_after_ms("Tue, 14 Nov 2023 22:13:00 GMT", now), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_should_retry_statuses),
        cmocka_unit_test(test_should_retry_header_overrides),
        cmocka_unit_test(test_should_retry_bounded),
        cmocka_unit_test(test_delay_full_jitter_bounds),
        cmocka_unit_test(test_delay_honours_retry_after),
        cmocka_unit_test(test_retry_after_parse),
    };
    return cmocka_run_group_tests_name("retry", tests, NULL, NULL);
}
