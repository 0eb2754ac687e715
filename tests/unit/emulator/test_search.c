/* The emulator's search query language over a few customers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "emulator/internal.h"

static sl_emulator_t emu;

static int setup(void **state)
{
    (void)state;
    memset(&emu, 0, sizeof emu);
    sl__emu_state_init(&emu);
    json_t *list = json_loads(
        "[{\"id\":\"cus_1\",\"object\":\"customer\",\"email\":\"jenny@example.com\",\"name\":"
        "\"Jenny Rosen\",\"created\":100,\"metadata\":{\"plan\":\"pro\"}},{\"id\":\"cus_2\","
        "\"object\":\"customer\",\"email\":null,\"name\":\"Zo\\u00eb\",\"created\":200,"
        "\"metadata\":{}}]",
        0, NULL);
    size_t i;
    json_t *c;
    json_array_foreach(list, i, c)
    {
        json_object_set(emu.objects, json_string_value(json_object_get(c, "id")), c);
        sl__emu_list_append(&emu, "customer", json_string_value(json_object_get(c, "id")));
    }
    json_decref(list);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    sl__emu_state_free(&emu);
    return 0;
}

/* Searches; returns the status and writes the hits' ids, or the error message, into out. */
static unsigned search(const char *query, char *out, size_t n)
{
    json_t *params = json_pack("{s:s}", "query", query);
    sl_emu_reply_t r =
        sl__emu_search(&emu, sl__emu_resource("customers", 9), params, "/v1/customers/search");
    assert_non_null(r.body);
    out[0] = '\0';
    if (r.status == 200) {
        size_t i;
        json_t *hit;
        json_array_foreach(json_object_get(r.body, "data"), i, hit)
        {
            size_t used = strlen(out);
            snprintf(out + used, n - used, "%s%s", used ? "," : "",
                     json_string_value(json_object_get(hit, "id")));
        }
    } else {
        snprintf(out, n, "%s",
                 json_string_value(json_object_get(json_object_get(r.body, "error"), "message")));
    }
    json_decref(r.body);
    json_decref(params);
    return r.status;
}

static void test_queries(void **state)
{
    (void)state;
    char out[512];
    assert_int_equal(search("email:'JENNY@example.com'", out, sizeof out), 200);
    assert_string_equal(out, "cus_1");
    assert_int_equal(search("metadata['plan']:'pro' OR created>150", out, sizeof out), 200);
    assert_string_equal(out, "cus_2,cus_1");
    assert_int_equal(search("-email:null AND name~'rosen'", out, sizeof out), 200);
    assert_string_equal(out, "cus_1");
    assert_int_equal(search("email:'x' AND name:'y' OR id:'z'", out, sizeof out), 400);
    assert_non_null(strstr(out, "cannot mix"));
}

/* fuzz_emu_search: an error quoting the query cut a character in two, and the reply had no body
 * (jansson takes no message that is not UTF-8); a long value was cut short and searched for. */
static void test_odd_queries(void **state)
{
    (void)state;
    char out[512], q[600];
    assert_int_equal(search("\"\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
                            "\xc3\xa9\xc3\xa9\xc3\xa9",
                            out, sizeof out),
                     400);
    assert_string_equal(out, "Invalid search query: expected a field name at `\"\xc3\xa9\xc3\xa9"
                             "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9`");
    snprintf(q, sizeof q, "name:'Jenny Rosen%300s'", "");
    assert_int_equal(search(q, out, sizeof out), 400);
    assert_non_null(strstr(out, "longer than 255"));
    snprintf(q, sizeof q, "metadata['%200s']:'x'", "");
    assert_int_equal(search(q, out, sizeof out), 400);
    assert_non_null(strstr(out, "at most 127"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_queries),
        cmocka_unit_test(test_odd_queries),
    };
    return cmocka_run_group_tests_name("search", tests, setup, teardown);
}
