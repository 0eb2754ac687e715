/* The next-page decision for lists and searches. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>

#include <cmocka.h>

#include "stripe/internal.h"

static void assert_next(const char *params, const char *page, const char *want)
{
    json_t *p = json_loads(params, 0, NULL), *pg = json_loads(page, 0, NULL), *next = NULL;
    assert_non_null(p);
    assert_non_null(pg);
    assert_int_equal(sl__page_next_params(p, pg, &next), SL_OK);
    if (!want) {
        assert_null(next);
    } else {
        char *s = json_dumps(next, JSON_COMPACT);
        assert_string_equal(s, want);
        free(s);
    }
    json_decref(next);
    json_decref(p);
    json_decref(pg);
}

static void test_list_forward(void **state)
{
    (void)state;
    assert_next(
        "{\"limit\":\"2\"}",
        "{\"object\":\"list\",\"has_more\":true,\"data\":[{\"id\":\"cus_1\"},{\"id\":\"cus_2\"}]}",
        "{\"limit\":\"2\",\"starting_after\":\"cus_2\"}");
    assert_next("{\"limit\":\"2\",\"starting_after\":\"cus_2\"}",
                "{\"object\":\"list\",\"has_more\":true,\"data\":[{\"id\":\"cus_3\"}]}",
                "{\"limit\":\"2\",\"starting_after\":\"cus_3\"}");
    assert_next("{}", "{\"object\":\"list\",\"has_more\":false,\"data\":[{\"id\":\"cus_1\"}]}",
                NULL);
    /* has_more with an empty page would loop forever: stop. */
    assert_next("{}", "{\"object\":\"list\",\"has_more\":true,\"data\":[]}", NULL);
}

static void test_list_backward(void **state)
{
    (void)state;
    assert_next(
        "{\"ending_before\":\"cus_9\"}",
        "{\"object\":\"list\",\"has_more\":true,\"data\":[{\"id\":\"cus_8\"},{\"id\":\"cus_7\"}]}",
        "{\"ending_before\":\"cus_8\"}");
}

static void test_search(void **state)
{
    (void)state;
    assert_next("{\"query\":\"email:'a@b.co'\"}",
                "{\"object\":\"search_result\",\"has_more\":true,\"next_page\":\"pg_2\","
                "\"data\":[{\"id\":\"cus_1\"}]}",
                "{\"query\":\"email:'a@b.co'\",\"page\":\"pg_2\"}");
    assert_next("{\"query\":\"x\"}",
                "{\"object\":\"search_result\",\"has_more\":false,\"next_page\":null,"
                "\"data\":[{\"id\":\"cus_1\"}]}",
                NULL);
}

static void test_not_pageable(void **state)
{
    (void)state;
    json_t *p = json_object(), *next = NULL;
    json_t *pg = json_loads("{\"object\":\"customer\",\"id\":\"cus_1\"}", 0, NULL);
    assert_int_equal(sl__page_next_params(p, pg, &next), SL_EPARSE);
    json_decref(pg);
    pg = json_loads("{\"object\":\"list\",\"has_more\":true,\"data\":[{\"name\":\"x\"}]}", 0, NULL);
    assert_int_equal(sl__page_next_params(p, pg, &next), SL_EPARSE);
    json_decref(pg);
    /* A page whose cursor does not move would be fetched forever. */
    json_object_set_new(p, "starting_after", json_string("cus_1"));
    pg = json_loads("{\"object\":\"list\",\"has_more\":true,\"data\":[{\"id\":\"cus_1\"}]}", 0,
                    NULL);
    assert_int_equal(sl__page_next_params(p, pg, &next), SL_EPARSE);
    json_decref(pg);
    json_object_set_new(p, "page", json_string("pg_1"));
    pg = json_loads("{\"object\":\"search_result\",\"has_more\":true,\"next_page\":\"pg_1\","
                    "\"data\":[{\"id\":\"x\"}]}",
                    0, NULL);
    assert_int_equal(sl__page_next_params(p, pg, &next), SL_EPARSE);
    assert_null(next);
    json_decref(pg);
    json_decref(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_list_forward),
        cmocka_unit_test(test_list_backward),
        cmocka_unit_test(test_search),
        cmocka_unit_test(test_not_pageable),
    };
    return cmocka_run_group_tests_name("pager", tests, NULL, NULL);
}
