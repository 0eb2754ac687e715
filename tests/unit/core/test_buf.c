/* Growable buffers: appends keep a NUL after the contents, the cap refuses an append whole and
 * leaves the buffer as it was, reset keeps the memory, take moves the contents out. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/buf.h"

static void test_init_is_empty(void **state)
{
    (void)state;
    sl_buf_t b;
    sl__buf_init(&b, 0);
    assert_null(b.data);
    assert_int_equal(b.len, 0);
    assert_int_equal(b.cap, 0);
    sl__buf_cleanup(&b); /* nothing to free */
    assert_null(b.data);
}

static void test_appends(void **state)
{
    (void)state;
    sl_buf_t b;
    sl__buf_init(&b, 0);
    assert_int_equal(sl__buf_append(&b, "ab\0cd", 5), SL_OK); /* bytes, NUL included */
    assert_int_equal(b.len, 5);
    assert_memory_equal(b.data, "ab\0cd", 6);
    assert_int_equal(sl__buf_puts(&b, "ef"), SL_OK);
    assert_int_equal(sl__buf_putc(&b, 'g'), SL_OK);
    assert_int_equal(sl__buf_printf(&b, "[%d|%s|%04x]", -42, "x", 0xbeef), SL_OK);
    assert_int_equal(b.len, 8 + 12);
    assert_memory_equal(b.data, "ab\0cdefg[-42|x|beef]", b.len + 1);
    assert_int_equal(b.data[b.len], '\0');
    assert_true(b.cap > b.len);
    sl__buf_cleanup(&b);
    assert_null(b.data);
    assert_int_equal(b.len, 0);

    /* reusable after cleanup; an empty append still leaves a NUL-terminated "" */
    assert_int_equal(sl__buf_append(&b, "", 0), SL_OK);
    assert_non_null(b.data);
    assert_string_equal(b.data, "");
    assert_int_equal(sl__buf_printf(&b, "%s", ""), SL_OK);
    assert_int_equal(b.len, 0);
    sl__buf_cleanup(&b);
}

static void test_growth(void **state)
{
    (void)state;
    sl_buf_t b;
    sl__buf_init(&b, 0);
    char chunk[100];
    memset(chunk, 'z', sizeof chunk);
    for (int i = 0; i < 1000; i++)
        assert_int_equal(sl__buf_append(&b, chunk, sizeof chunk), SL_OK);
    assert_int_equal(b.len, 100000);
    assert_int_equal(b.data[99999], 'z');
    assert_int_equal(b.data[100000], '\0');
    assert_int_equal(sl__buf_printf(&b, "%5000d", 7), SL_OK); /* longer than the spare room */
    assert_int_equal(b.len, 105000);
    assert_int_equal(b.data[104999], '7');
    assert_int_equal(b.data[105000], '\0');
    sl__buf_cleanup(&b);
}

static void test_cap(void **state)
{
    (void)state;
    sl_buf_t b;
    sl__buf_init(&b, 8);
    assert_int_equal(sl__buf_puts(&b, "12345"), SL_OK);
    char *data = b.data;
    size_t cap = b.cap;

    assert_int_equal(sl__buf_puts(&b, "6789"), SL_ETOOBIG);
    assert_int_equal(sl__buf_append(&b, "6789", 4), SL_ETOOBIG);
    assert_int_equal(sl__buf_printf(&b, "%d", 6789), SL_ETOOBIG);
    assert_int_equal(sl__buf_reserve(&b, 4), SL_ETOOBIG);
    assert_int_equal(b.len, 5);
    assert_string_equal(b.data, "12345");
    assert_ptr_equal(b.data, data);
    assert_int_equal(b.cap, cap);

    assert_int_equal(sl__buf_printf(&b, "%d", 67), SL_OK);
    assert_int_equal(sl__buf_putc(&b, '8'), SL_OK); /* exactly at the cap */
    assert_string_equal(b.data, "12345678");
    assert_int_equal(sl__buf_putc(&b, '9'), SL_ETOOBIG);
    assert_int_equal(sl__buf_append(&b, "", 0), SL_OK); /* nothing more is still fine */
    assert_string_equal(b.data, "12345678");
    assert_int_equal(b.len, 8);

    sl__buf_reset(&b); /* the cap bounds the contents, not what was ever appended */
    assert_int_equal(sl__buf_puts(&b, "abcdefgh"), SL_OK);
    assert_string_equal(b.data, "abcdefgh");
    sl__buf_cleanup(&b);
    assert_int_equal(sl__buf_puts(&b, "123456789"), SL_ETOOBIG); /* cleanup keeps the cap */
    assert_null(b.data);
    sl__buf_cleanup(&b);
}

static void test_reset_keeps_memory(void **state)
{
    (void)state;
    sl_buf_t b;
    sl__buf_init(&b, 0);
    sl__buf_reset(&b); /* on a buffer with no memory yet */
    assert_null(b.data);
    assert_int_equal(sl__buf_puts(&b, "some text that is here"), SL_OK);
    char *data = b.data;
    size_t cap = b.cap;
    sl__buf_reset(&b);
    assert_int_equal(b.len, 0);
    assert_ptr_equal(b.data, data);
    assert_int_equal(b.cap, cap);
    assert_string_equal(b.data, "");
    assert_int_equal(sl__buf_puts(&b, "again"), SL_OK);
    assert_ptr_equal(b.data, data);
    assert_string_equal(b.data, "again");
    sl__buf_cleanup(&b);
}

static void test_take(void **state)
{
    (void)state;
    sl_buf_t b;
    sl__buf_init(&b, 0);
    char *s = sl__buf_take(&b);
    assert_non_null(s);
    assert_string_equal(s, "");
    free(s);
    assert_null(b.data);
    assert_int_equal(b.len, 0);

    assert_int_equal(sl__buf_printf(&b, "id=%s", "cus_1"), SL_OK);
    s = sl__buf_take(&b);
    assert_string_equal(s, "id=cus_1");
    assert_null(b.data);
    assert_int_equal(b.len, 0);
    assert_int_equal(b.cap, 0);
    assert_int_equal(sl__buf_puts(&b, "next"), SL_OK); /* usable again, s untouched */
    assert_string_equal(b.data, "next");
    assert_string_equal(s, "id=cus_1");
    free(s);

    sl__buf_reset(&b); /* memory but no contents: still "" */
    s = sl__buf_take(&b);
    assert_string_equal(s, "");
    assert_null(b.data);
    free(s);
    sl__buf_cleanup(&b);
}

static void test_reserve(void **state)
{
    (void)state;
    sl_buf_t b;
    sl__buf_init(&b, 1000);
    assert_int_equal(sl__buf_reserve(&b, 1000), SL_OK);
    assert_true(b.cap >= 1001);
    assert_int_equal(b.len, 0);
    char *data = b.data;
    char big[1000];
    memset(big, 'q', sizeof big);
    assert_int_equal(sl__buf_append(&b, big, 600), SL_OK);
    assert_int_equal(sl__buf_append(&b, big, 400), SL_OK);
    assert_ptr_equal(b.data, data); /* no reallocation after the reserve */
    assert_int_equal(b.len, 1000);
    assert_int_equal(b.data[1000], '\0');
    assert_int_equal(sl__buf_reserve(&b, 0), SL_OK);
    assert_int_equal(sl__buf_reserve(&b, 1), SL_ETOOBIG);
    sl__buf_cleanup(&b);

    sl__buf_init(&b, 0);
    assert_int_equal(sl__buf_reserve(&b, (size_t)-1), SL_ETOOBIG); /* no wrap-around */
    assert_null(b.data);
    sl__buf_cleanup(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_init_is_empty), cmocka_unit_test(test_appends),
        cmocka_unit_test(test_growth),        cmocka_unit_test(test_cap),
        cmocka_unit_test(test_reset_keeps_memory), cmocka_unit_test(test_take),
        cmocka_unit_test(test_reserve),
    };
    return cmocka_run_group_tests_name("buf", tests, NULL, NULL);
}
