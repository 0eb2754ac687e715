/* Form encoding and decoding: the rules Stripe and its npm package follow. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/buf.h"
#include "sluice/stripe.h"
#include "stripe/internal.h"

static void assert_encodes(const char *json, const char *want)
{
    json_error_t jerr;
    json_t *params = json_loads(json, 0, &jerr);
    assert_non_null(params);
    char *got = NULL;
    assert_int_equal(sl_form_encode(params, &got), SL_OK);
    assert_string_equal(got, want);
    free(got);
    json_decref(params);
}

static void test_encode_flat_and_nested(void **state)
{
    (void)state;
    assert_encodes("{}", "");
    assert_encodes("{\"email\":\"jenny@example.com\"}", "email=jenny%40example.com");
    assert_encodes("{\"metadata\":{\"plan\":\"pro\",\"seats\":3}}",
                   "metadata[plan]=pro&metadata[seats]=3");
    assert_encodes("{\"line_items\":[{\"price_data\":{\"currency\":\"usd\",\"unit_amount\":500},"
                   "\"quantity\":2}]}",
                   "line_items[0][price_data][currency]=usd&line_items[0][price_data][unit_amount]"
                   "=500&line_items[0][quantity]=2");
    assert_encodes("{\"expand\":[\"customer\",\"invoice.subscription\"]}",
                   "expand[0]=customer&expand[1]=invoice.subscription");
}

static void test_encode_scalars(void **state)
{
    (void)state;
    assert_encodes("{\"a\":true,\"b\":false,\"c\":null,\"d\":\"\"}", "a=true&b=false&c=&d=");
    assert_encodes("{\"a\":2.0,\"b\":0.1,\"c\":1e-7,\"d\":1e21,\"e\":-0.0,\"f\":123456789.125}",
                   "a=2&b=0.1&c=1e-7&d=1e%2B21&e=0&f=123456789.125");
    assert_encodes("{\"a\":[],\"b\":{},\"c\":[[],[1]]}", "c[1][0]=1");
}

static void test_encode_escapes_every_reserved_byte(void **state)
{
    (void)state;
    assert_encodes("{\"q\":\"a b&c=d+e#f?g/h%i!j*k'l(m)n~o_p-q.r[s]\"}",
                   "q=a%20b%26c%3Dd%2Be%23f%3Fg%2Fh%25i%21j%2Ak%27l%28m%29n~o_p-q.r[s]");
    assert_encodes("{\"name\":\"Zo\\u00eb \\ud83c\\udf89\"}", "name=Zo%C3%AB%20%F0%9F%8E%89");
    assert_encodes("{\"metadata\":{\"a b\":\"x\"}}", "metadata[a%20b]=x");
}

static void test_encode_orders_integer_keys_first(void **state)
{
    (void)state;
    assert_encodes("{\"m\":{\"b\":1,\"10\":2,\"a\":3,\"1\":4,\"01\":5,\"2\":6}}",
                   "m[1]=4&m[2]=6&m[10]=2&m[b]=1&m[a]=3&m[01]=5");
}

static void test_encode_rejects_non_objects(void **state)
{
    (void)state;
    json_t *arr = json_array();
    char *out = (char *)1;
    assert_int_equal(sl_form_encode(arr, &out), SL_EINVAL);
    assert_null(out);
    json_decref(arr);
    assert_int_equal(sl_form_encode(NULL, &out), SL_OK);
    assert_string_equal(out, "");
    free(out);
}

static void test_encode_rejects_keys_with_nul(void **state)
{
    (void)state;
    json_t *o = json_object();
    json_object_setn_new(o, "a\0b", 3, json_string("x"));
    char *out = NULL;
    assert_int_equal(sl_form_encode(o, &out), SL_EINVAL);
    assert_null(out);
    json_decref(o);
}

static void test_js_number(void **state)
{
    (void)state;
    char b[64];
    struct {
        double x;
        const char *s;
    } cases[] = {{0.5, "0.5"},
                 {100, "100"},
                 {1e20, "100000000000000000000"},
                 {1e21, "1e+21"},
                 {1.5e-7, "1.5e-7"},
                 {0.000001, "0.000001"},
                 {-2.25, "-2.25"},
                 {5e-324, "5e-324"},
                 {1.7976931348623157e308, "1.7976931348623157e+308"},
                 {0.1 + 0.2, "0.30000000000000004"}};
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        assert_int_equal(sl__js_number(cases[i].x, b, sizeof b), SL_OK);
        assert_string_equal(b, cases[i].s);
    }
}

static void assert_set(json_t *root, const char *key, const char *value)
{
    char err[256] = "";
    sl_err rc = sl_form_set(root, key, json_string(value), err, sizeof err);
    if (rc)
        fail_msg("sl_form_set(%s): %s", key, err);
}

static void assert_dump(const json_t *v, const char *want)
{
    char *s = json_dumps(v, JSON_COMPACT);
    assert_string_equal(s, want);
    free(s);
}

static void test_set_builds_trees(void **state)
{
    (void)state;
    json_t *root = json_object();
    assert_set(root, "email", "a@b.co");
    assert_set(root, "metadata[plan]", "pro");
    assert_set(root, "line_items[0][price]", "price_1");
    assert_set(root, "line_items[0][quantity]", "2");
    assert_set(root, "line_items[1][price]", "price_2");
    assert_set(root, "expand[]", "customer");
    assert_set(root, "expand[]", "invoice");
    assert_set(root, "description", "");
    assert_dump(root, "{\"email\":\"a@b.co\",\"metadata\":{\"plan\":\"pro\"},\"line_items\":[{"
                      "\"price\":\"price_1\",\"quantity\":\"2\"},{\"price\":\"price_2\"}],"
                      "\"expand\":[\"customer\",\"invoice\"],\"description\":\"\"}");
    char *enc = NULL;
    assert_int_equal(sl_form_encode(root, &enc), SL_OK);
    assert_string_equal(enc, "email=a%40b.co&metadata[plan]=pro&line_items[0][price]=price_1&"
                             "line_items[0][quantity]=2&line_items[1][price]=price_2&"
                             "expand[0]=customer&expand[1]=invoice&description=");
    free(enc);
    json_decref(root);
}

static void test_set_places_elements_by_index(void **state)
{
    (void)state;
    json_t *root = json_object();
    assert_set(root, "metadata[123]", "x");
    assert_set(root, "items[1]", "b");
    assert_set(root, "items[0]", "a");
    assert_set(root, "tags[0]", "t0");
    assert_set(root, "tags[name]", "n");
    assert_set(root, "gap[2]", "c");
    assert_set(root, "gap[0]", "a");
    assert_dump(root, "{\"metadata\":{\"123\":\"x\"},\"items\":[\"a\",\"b\"],"
                      "\"tags\":{\"0\":\"t0\",\"name\":\"n\"},\"gap\":{\"2\":\"c\",\"0\":\"a\"}}");
    /* The gap closes: the entries become the array they stand for. */
    assert_set(root, "gap[1]", "b");
    assert_set(root, "lines[1][price]", "p2");
    assert_set(root, "lines[0][price]", "p1");
    assert_set(root, "lines[1][tax_rates][1]", "t1");
    assert_set(root, "lines[1][tax_rates][0]", "t0");
    json_t *gap = json_object_get(root, "gap"), *lines = json_object_get(root, "lines");
    assert_dump(gap, "[\"a\",\"b\",\"c\"]");
    assert_dump(lines, "[{\"price\":\"p1\"},{\"price\":\"p2\",\"tax_rates\":[\"t0\",\"t1\"]}]");
    /* An index past the end or a name turns the array back into an object. */
    assert_set(root, "gap[7]", "h");
    assert_dump(json_object_get(root, "gap"), "{\"0\":\"a\",\"1\":\"b\",\"2\":\"c\",\"7\":\"h\"}");
    json_decref(root);
}

static void assert_set_fails(const char *key, const char *first, const char *want)
{
    json_t *root = json_object();
    char err[256] = "";
    if (first)
        assert_set(root, first, "v");
    assert_int_equal(sl_form_set(root, key, json_string("v"), err, sizeof err), SL_EINVAL);
    if (!strstr(err, want))
        fail_msg("error for `%s` was \"%s\", wanted it to contain \"%s\"", key, err, want);
    json_decref(root);
}

static void test_set_rejects_bad_keys(void **state)
{
    (void)state;
    assert_set_fails("[a]", NULL, "no name");
    assert_set_fails("a[b", NULL, "without its ']'");
    assert_set_fails("a[b]c", NULL, "text after");
    assert_set_fails("a[b]", "a", "already set as a value");
    assert_set_fails("a", "a[b]", "both as a value and as nested");
    assert_set_fails("a[\xff\xfe]", NULL, "not valid UTF-8");
    json_t *v = NULL;
    char err[128] = "stale";
    assert_int_equal(sl_form_decode("a[0][b%FF%FF]=1", 15, &v, err, sizeof err), SL_EPARSE);
    assert_non_null(strstr(err, "UTF-8"));
}

static void test_decode_round_trip(void **state)
{
    (void)state;
    const char *body = "email=jenny%40example.com&metadata[plan]=pro&name=Jenny+Rosen&"
                       "line_items[0][quantity]=2&expand[0]=customer&empty=&flag";
    json_t *v = NULL;
    char err[128];
    assert_int_equal(sl_form_decode(body, strlen(body), &v, err, sizeof err), SL_OK);
    assert_dump(v, "{\"email\":\"jenny@example.com\",\"metadata\":{\"plan\":\"pro\"},\"name\":"
                   "\"Jenny Rosen\",\"line_items\":[{\"quantity\":\"2\"}],\"expand\":[\"customer\"]"
                   ",\"empty\":\"\",\"flag\":\"\"}");
    json_decref(v);

    assert_int_equal(sl_form_decode("a=%zz", 5, &v, err, sizeof err), SL_EPARSE);
    assert_null(v);
    assert_non_null(strstr(err, "percent-escape"));
    assert_int_equal(sl_form_decode("a=%C3", 5, &v, err, sizeof err), SL_EPARSE);
    assert_non_null(strstr(err, "UTF-8"));
}

static void assert_decodes(const char *body, const char *want)
{
    json_t *v = NULL;
    char err[256] = "";
    sl_err rc = sl_form_decode(body, strlen(body), &v, err, sizeof err);
    if (rc)
        fail_msg("sl_form_decode(%s): %s", body, err);
    assert_dump(v, want);
    json_decref(v);
}

static void test_decode_indexes_place_elements(void **state)
{
    (void)state;
    assert_decodes("a[1]=x&a[0]=y", "{\"a\":[\"y\",\"x\"]}");
    assert_decodes("a[2]=c&a[0]=a&a[1]=b", "{\"a\":[\"a\",\"b\",\"c\"]}");
    assert_decodes("items[1][price]=p2&items[0][price]=p1&items[1][quantity]=2",
                   "{\"items\":[{\"price\":\"p1\"},{\"price\":\"p2\",\"quantity\":\"2\"}]}");
    assert_decodes("a[1][0]=x&a[0]=y", "{\"a\":[\"y\",[\"x\"]]}");
    /* fuzz/regress/fuzz_form: an append, then indexes out of order */
    assert_decodes("items[]&items[2]&items[1]", "{\"items\":[\"\",\"\",\"\"]}");
    /* The last of a repeated key wins. */
    assert_decodes("a[0]=x&a[0]=y", "{\"a\":[\"y\"]}");
}

static void test_decode_sparse_indexes_are_keys(void **state)
{
    (void)state;
    assert_decodes("a[5]=x", "{\"a\":{\"5\":\"x\"}}");
    assert_decodes("a[0]=x&a[2]=y", "{\"a\":{\"0\":\"x\",\"2\":\"y\"}}");
    assert_decodes("a[0]=x&a[b]=y", "{\"a\":{\"0\":\"x\",\"b\":\"y\"}}");
    assert_decodes("a[00]=x&a[0]=y", "{\"a\":{\"00\":\"x\",\"0\":\"y\"}}");
    /* Past 10000 a number is a name: no memory in proportion to it. */
    assert_decodes("a[999999999]=x", "{\"a\":{\"999999999\":\"x\"}}");
    assert_decodes("a[10001]=x&a[0]=y", "{\"a\":{\"10001\":\"x\",\"0\":\"y\"}}");
    /* The top level is always an object. */
    assert_decodes("0=x&1=y", "{\"0\":\"x\",\"1\":\"y\"}");
}

static void test_decode_appends(void **state)
{
    (void)state;
    assert_decodes("a[]=x&a[]=y", "{\"a\":[\"x\",\"y\"]}");
    assert_decodes("a[0]=x&a[]=y", "{\"a\":[\"x\",\"y\"]}");
    assert_decodes("a[1]=x&a[]=y", "{\"a\":{\"1\":\"x\",\"2\":\"y\"}}");
    assert_decodes("a[1]=x&a[]=y&a[0]=z", "{\"a\":[\"z\",\"x\",\"y\"]}");
    assert_decodes("a[x]=1&a[]=2", "{\"a\":{\"x\":\"1\",\"0\":\"2\"}}");
    assert_decodes("a[][b]=1&a[][b]=2", "{\"a\":[{\"b\":\"1\"},{\"b\":\"2\"}]}");

    /* 10001 appends fill a list; one more is refused. */
    sl_buf_t b;
    sl__buf_init(&b, 0);
    for (int i = 0; i <= 10000; i++)
        assert_int_equal(sl__buf_puts(&b, i ? "&a[]=x" : "a[]=x"), SL_OK);
    json_t *v = NULL;
    char err[256] = "";
    assert_int_equal(sl_form_decode(b.data, b.len, &v, err, sizeof err), SL_OK);
    assert_int_equal(json_array_size(json_object_get(v, "a")), 10001);
    json_decref(v);
    assert_int_equal(sl__buf_puts(&b, "&a[]=x"), SL_OK);
    assert_int_equal(sl_form_decode(b.data, b.len, &v, err, sizeof err), SL_EPARSE);
    assert_null(v);
    assert_non_null(strstr(err, "10001"));
    sl__buf_cleanup(&b);
}

/* What fuzz/fuzz_form checks: a decoded tree encodes to keys that decode to the same tree. */
static void test_decode_encode_decode(void **state)
{
    (void)state;
    static const char *const bodies[] = {
        "a[1]=x&a[0]=y",
        "a[5]=x",
        "items[0][price]=p&items[0][quantity]=2&items[2][price]=q&items[1][tax_rates][0]=t",
        "items[]&items[2]&items[1]",
        "m[10]=a&m[2]=b&m[b]=c&m[1]=d",
        "a[1]=x&a[]=y&a[0][c]=z",
        "a[10000]=x&a[0]=y",
    };
    for (size_t i = 0; i < sizeof bodies / sizeof *bodies; i++) {
        json_t *a = NULL, *b = NULL;
        char err[256] = "", *enc = NULL;
        assert_int_equal(sl_form_decode(bodies[i], strlen(bodies[i]), &a, err, sizeof err), SL_OK);
        assert_int_equal(sl_form_encode(a, &enc), SL_OK);
        assert_int_equal(sl_form_decode(enc, strlen(enc), &b, err, sizeof err), SL_OK);
        if (!json_equal(a, b)) {
            char *x = json_dumps(a, JSON_COMPACT), *y = json_dumps(b, JSON_COMPACT);
            fail_msg("%s decodes to %s, encodes to %s, which decodes to %s", bodies[i], x, enc, y);
        }
        free(enc);
        json_decref(a);
        json_decref(b);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_encode_flat_and_nested),
        cmocka_unit_test(test_encode_scalars),
        cmocka_unit_test(test_encode_escapes_every_reserved_byte),
        cmocka_unit_test(test_encode_orders_integer_keys_first),
        cmocka_unit_test(test_encode_rejects_non_objects),
        cmocka_unit_test(test_encode_rejects_keys_with_nul),
        cmocka_unit_test(test_js_number),
        cmocka_unit_test(test_set_builds_trees),
        cmocka_unit_test(test_set_places_elements_by_index),
        cmocka_unit_test(test_set_rejects_bad_keys),
        cmocka_unit_test(test_decode_round_trip),
        cmocka_unit_test(test_decode_indexes_place_elements),
        cmocka_unit_test(test_decode_sparse_indexes_are_keys),
        cmocka_unit_test(test_decode_appends),
        cmocka_unit_test(test_decode_encode_decode),
    };
    return cmocka_run_group_tests_name("form", tests, NULL, NULL);
}
