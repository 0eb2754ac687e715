/* The non-allocating JSON scanner agrees with jansson: a table of tricky documents, then many
 * seeded random mutations of realistic events (the same check fuzz/fuzz_jscan.c runs longer). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "core/jscan.h"

/* 1 if jansson takes it as an object. Depth past the scanner's 256 is the one place the scanner
 * is stricter by design. */
static int jansson_ok(const char *buf, size_t len)
{
    json_t *v = json_loadb(buf, len, 0, NULL);
    int ok = json_is_object(v);
    json_decref(v);
    return ok;
}

static int scanner_ok(const char *buf, size_t len)
{
    sl_jscan_field_t f[2] = {{.name = "id"}, {.name = "created"}};
    return sl__jscan_object(buf, len, f, 2) == SL_OK;
}

static void check_agree(const char *buf, size_t len)
{
    int j = jansson_ok(buf, len), s = scanner_ok(buf, len);
    /* jansson's reader skips some NUL bytes; the scanner refuses them all (stricter is safe:
     * whatever it accepts, jansson reads back). */
    if (memchr(buf, 0, len) && !s)
        j = 0;
    if (j != s) {
        FILE *f = fopen("/tmp/jscan_fail.bin", "wb");
        if (f) {
            fwrite(buf, 1, len, f);
            fclose(f);
        }
    }
    if (j != s)
        fail_msg("jansson says %s, the scanner %s: %.*s", j ? "valid" : "invalid",
                 s ? "valid" : "invalid", (int)len, buf);
}

static void test_table(void **state)
{
    (void)state;
    static const char *const docs[] = {
        "{}",
        " { } ",
        "{\"a\":1}",
        "{\"a\":[1,2,{\"b\":null}],\"c\":true,\"d\":false}",
        "[]",
        "1",
        "\"x\"",
        "null",
        "",
        "{",
        "}",
        "{\"a\"}",
        "{\"a\":}",
        "{\"a\":1,}",
        "{,}",
        "{\"a\":1}x",
        "{\"a\":1} {}",
        "{'a':1}",
        "{\"a\":01}",
        "{\"a\":-0}",
        "{\"a\":1.}",
        "{\"a\":.5}",
        "{\"a\":1e5}",
        "{\"a\":1E+5}",
        "{\"a\":1e}",
        "{\"a\":-}",
        "{\"a\":+1}",
        "{\"a\":9223372036854775807}",
        "{\"a\":9223372036854775808}",
        "{\"a\":-9223372036854775808}",
        "{\"a\":-9223372036854775809}",
        "{\"a\":1e400}",
        "{\"a\":1e-400}",
        "{\"a\":\"\\u0000\"}",
        "{\"a\":\"\\u0041\\n\\t\\\\\\/\"}",
        "{\"a\":\"\\x\"}",
        "{\"a\":\"\\ud83c\\udf89\"}",
        "{\"a\":\"\\ud83c\"}",
        "{\"a\":\"\\udf89\"}",
        "{\"a\":\"\\ud83cx\"}",
        "{\"a\":\"caf\xc3\xa9\"}",
        "{\"a\":\"\xc3\"}",
        "{\"a\":\"\xc0\xaf\"}",
        "{\"a\":\"\xed\xa0\x80\"}",
        "{\"a\":\"\xf4\x90\x80\x80\"}",
        "{\"a\":\"\xf0\x9f\x8e\x89\"}",
        "{\"a\":\"tab\there\"}",
        "{\"a\":tru}",
        "{\"a\":nul}",
        "{\"a\":true}",
        "\xef\xbb\xbf{}",
        "{\"a\":1}\n",
        "{\"id\":\"evt_1\",\"id\":\"evt_2\"}",
    };
    for (size_t i = 0; i < sizeof docs / sizeof *docs; i++)
        check_agree(docs[i], strlen(docs[i]));
    const char nul_outside[] = "{\"a\":1}\0";
    check_agree(nul_outside, sizeof nul_outside - 1);
    const char nul_inside[] = "{\"a\":\"x\0y\"}";
    check_agree(nul_inside, sizeof nul_inside - 1);
}

static void test_fields(void **state)
{
    (void)state;
    const char *doc = "{\"object\":\"event\",\"id\":\"evt_1\",\"data\":{\"id\":\"cus_1\","
                      "\"created\":5},\"created\":1700000000,\"type\":\"invoice.paid\","
                      "\"id\":\"evt_2\",\"note\":\"a\\\"b\"}";
    sl_jscan_field_t f[5] = {{.name = "id"},
                             {.name = "object"},
                             {.name = "type"},
                             {.name = "created"},
                             {.name = "note"}};
    assert_int_equal(sl__jscan_object(doc, strlen(doc), f, 5), SL_OK);
    assert_int_equal(f[0].kind, SL_JSCAN_STRING);
    assert_int_equal(f[0].len, 5);
    assert_memory_equal(f[0].str, "evt_2", 5); /* the last occurrence, as in jansson */
    assert_memory_equal(f[1].str, "event", 5);
    assert_memory_equal(f[2].str, "invoice.paid", 12);
    assert_int_equal(f[3].kind, SL_JSCAN_INTEGER);
    assert_int_equal(f[3].integer, 1700000000); /* not data.created */
    assert_int_equal(f[4].kind, SL_JSCAN_ESCAPED_STRING);
    /* An escaped key that jansson reads as "id" shadows the plain one before it. */
    const char *shadow = "{\"id\":\"evt_a\",\"\\u0069d\":\"evt_b\"}";
    assert_int_equal(sl__jscan_object(shadow, strlen(shadow), f, 1), SL_OK);
    assert_int_equal(f[0].kind, SL_JSCAN_OTHER);
    const char *after = "{\"\\u0069d\":\"evt_b\",\"id\":\"evt_a\"}";
    assert_int_equal(sl__jscan_object(after, strlen(after), f, 1), SL_OK);
    assert_int_equal(f[0].kind, SL_JSCAN_STRING);
    assert_memory_equal(f[0].str, "evt_a", 5);
    sl_jscan_field_t g = {.name = "missing"};
    assert_int_equal(sl__jscan_object("{\"x\":[1]}", 9, &g, 1), SL_OK);
    assert_int_equal(g.kind, SL_JSCAN_ABSENT);
}

static void test_deep_nesting(void **state)
{
    (void)state;
    char deep[2000];
    size_t n = 0;
    deep[n++] = '{';
    deep[n++] = '"';
    deep[n++] = 'a';
    deep[n++] = '"';
    deep[n++] = ':';
    for (int i = 0; i < 600; i++)
        deep[n++] = '[';
    for (int i = 0; i < 600; i++)
        deep[n++] = ']';
    deep[n++] = '}';
    /* Deeper than the scanner's 256: refused (jansson allows 2048). */
    assert_int_equal(sl__jscan_object(deep, n, NULL, 0), SL_EPARSE);
}

static unsigned long long rng = 0x9E3779B97F4A7C15ULL;

static unsigned next_rand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (unsigned)(rng >> 11);
}

static void test_mutations(void **state)
{
    (void)state;
    static const char *const seeds[] = {
        "{\"id\":\"evt_1NG8Du2eZvKYlo2CUI79vXWy\",\"object\":\"event\",\"api_version\":"
        "\"2023-08-16\",\"created\":1686089970,\"data\":{\"object\":{\"id\":\"cus_9s6XKzkNRiz8i3\","
        "\"object\":\"customer\",\"balance\":-500,\"email\":\"jenny.rosen@example.com\","
        "\"metadata\":{\"plan\":\"pro\",\"caf\xc3\xa9\":\"\\u00e9\\n\"},\"tax_ids\":[1.5e3,-0.25,"
        "true,false,null]}},\"livemode\":false,\"pending_webhooks\":1,\"request\":{\"id\":null},"
        "\"type\":\"customer.created\"}",
        "{\"a\":[{\"b\":[[],{}]},\"\\ud83c\\udf89\",12345678901234567890]}",
    };
    static const char alphabet[] = "{}[]\":,\\u0123456789.eE+-tfnrl \t\n\x80\xc3\xa9\xff\x00x";
    char buf[1024];
    for (int round = 0; round < 200000; round++) {
        const char *seed = seeds[next_rand() % 2];
        size_t len = strlen(seed);
        memcpy(buf, seed, len);
        int edits = 1 + (int)(next_rand() % 4);
        for (int e = 0; e < edits; e++) {
            size_t at = next_rand() % (len ? len : 1);
            char c = alphabet[next_rand() % (sizeof alphabet - 1)];
            switch (next_rand() % 3) {
            case 0: /* replace */
                buf[at] = c;
                break;
            case 1: /* insert */
                if (len + 1 < sizeof buf) {
                    memmove(buf + at + 1, buf + at, len - at);
                    buf[at] = c;
                    len++;
                }
                break;
            default: /* delete */
                if (len) {
                    memmove(buf + at, buf + at + 1, len - at - 1);
                    len--;
                }
            }
        }
        check_agree(buf, len);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table),
        cmocka_unit_test(test_fields),
        cmocka_unit_test(test_deep_nesting),
        cmocka_unit_test(test_mutations),
    };
    return cmocka_run_group_tests_name("jscan", tests, NULL, NULL);
}
