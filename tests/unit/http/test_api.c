/* What the REST API reads from a request: the path under /api/ and a run's input. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "http/api.h"

static void test_split(void **state)
{
    (void)state;
    char seg[SL_API_SEGS][256];
    assert_int_equal(sl__api_split("flows/nightly/run", seg), 3);
    assert_string_equal(seg[0], "flows");
    assert_string_equal(seg[1], "nightly");
    assert_string_equal(seg[2], "run");
    assert_string_equal(seg[3], "");
    /* fuzz_api_body: a leading slash made an empty first segment. */
    assert_int_equal(sl__api_split("//flows//x///run/", seg), 3);
    assert_string_equal(seg[0], "flows");
    assert_string_equal(seg[2], "run");
    assert_int_equal(sl__api_split("", seg), 0);
    /* ... and a long segment was cut to 255 bytes, inside a character if need be. */
    char path[300] = "flows/";
    memset(path + 6, 'a', 254);
    strcpy(path + 260, "\xc3\xa9/run");
    assert_int_equal(sl__api_split(path, seg), -1);
    path[6 + 255] = '\0';
    path[6 + 254] = 'b';
    assert_int_equal(sl__api_split(path, seg), 2);
    assert_int_equal(strlen(seg[1]), 255);
}

static void test_run_input(void **state)
{
    (void)state;
    char err[256];
    json_t *v = sl__api_run_input("", 0, err, sizeof err);
    assert_true(json_is_object(v) && json_object_size(v) == 0);
    json_decref(v);
    v = sl__api_run_input("[1,\"x\"]", 7, err, sizeof err);
    assert_int_equal(json_array_size(v), 2);
    json_decref(v);
    assert_null(sl__api_run_input("{\"a\":", 5, err, sizeof err));
    assert_non_null(strstr(err, "the body is not JSON"));
    /* fuzz_api_body: jansson's message quoted half of the 'é' after a bad escape, and the 400
     * reply could not carry it. */
    assert_null(sl__api_run_input("\"\\u0\xc3\xa9"
                                  "0\"",
                                  8, err, sizeof err));
    assert_string_equal(err, "the body is not JSON: invalid escape near '\"\\u0?'");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_split),
        cmocka_unit_test(test_run_input),
    };
    return cmocka_run_group_tests_name("api", tests, NULL, NULL);
}
