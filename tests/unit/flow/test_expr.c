/* The flow expression and template language: tables of expressions with the value or the error
 * each must give, templates, and many seeded random mutations of valid expressions that must
 * never crash (the same check fuzz/fuzz_expr.c runs longer). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <jansson.h>

#include "flow/expr.h"

static const char ctx_text[] =
    "{\"trigger\": {\"type\": \"invoice.paid\", \"data\": {\"object\": {"
    "  \"id\": \"in_1\", \"customer\": \"cus_1\", \"amount_due\": 1999, \"paid\": true,"
    "  \"total\": 12.5, \"zero\": 0, \"empty_s\": \"\", \"empty_a\": [], \"empty_o\": {},"
    "  \"metadata\": {\"plan\": \"pro\", \"note\": null, \"a b\": \"spaced\"},"
    "  \"lines\": [{\"id\": \"li_1\", \"amount\": 50, \"paid\": true, \"status\": \"open\"},"
    "             {\"id\": \"li_2\", \"amount\": 150, \"paid\": false, \"status\": \"open\"},"
    "             {\"id\": \"li_3\", \"amount\": 250, \"paid\": true, \"status\": \"void\"}]}}},"
    " \"steps\": {\"loop-1\": {\"value\": {\"customer\": \"cus_9\"}},"
    "           \"fetch\": {\"value\": {\"items\": [1, 2, 3], \"names\": [\"a\", \"b\"]}}},"
    " \"item\": {\"name\": \"Zo\\u00eb\", \"tags\": [\"x\", \"y\"]},"
    " \"index\": 0,"
    " \"input\": {\"big\": 9223372036854775807, \"small\": -9223372036854775808}}";

static json_t *ctx;

static int setup(void **state)
{
    (void)state;
    ctx = json_loads(ctx_text, 0, NULL);
    return ctx ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    json_decref(ctx);
    return 0;
}

/* One expression: the value it gives (JSON text; integers and reals are told apart) or a piece
 * of the error it gives. */
typedef struct eval_case {
    const char *expr;
    const char *want;
    const char *err;
} eval_case_t;

#define L "$.trigger.data.object.lines"
#define O "$.trigger.data.object"

static const eval_case_t eval_cases[] = {
    /* definite paths */
    {"$.trigger.type", "\"invoice.paid\"", NULL},
    {O ".amount_due", "1999", NULL},
    {O ".total", "12.5", NULL},
    {L "[0].id", "\"li_1\"", NULL},
    {L "[-1].id", "\"li_3\"", NULL},
    {L "[-3].id", "\"li_1\"", NULL},
    {L "[1]['amount']", "150", NULL},
    {"$.steps.loop-1.value.customer", "\"cus_9\"", NULL},
    {"$['steps']['loop-1'].value.customer", "\"cus_9\"", NULL},
    {"$[\"trigger\"].data.object.metadata['a b']", "\"spaced\"", NULL},
    {O ".metadata.note", "null", NULL},
    {"$ . trigger . type", "\"invoice.paid\"", NULL},
    {"$.steps.fetch.value.items[2]", "3", NULL},
    {"$.index", "0", NULL},
    /* missing parts name the path and the first missing part */
    {O ".customr", NULL, "$.trigger.data.object.customr: no `customr` in $.trigger.data.object"},
    {"$.trigger.data.objet.customer", NULL,
     "$.trigger.data.objet.customer: no `objet` in $.trigger.data"},
    {"$.nope", NULL, "$.nope: no `nope` in $"},
    {L "[3]", NULL, "no [3] in $.trigger.data.object.lines, which has 3 items"},
    {L "[-4]", NULL, "no [-4] in $.trigger.data.object.lines, which has 3 items"},
    {"$.trigger.type.x", NULL, "no `x` in $.trigger.type, which is a string"},
    {"$.trigger[0]", NULL, "no [0] in $.trigger, which is an object"},
    {O ".metadata.note.x", NULL, "which is null"},
    {"$.index-1", NULL, "no `index-1` in $"}, /* a name, not a subtraction */
    {"$.index - 1", "-1", NULL},
    /* wildcards, recursive descent, filters: always an array */
    {L "[*].id", "[\"li_1\",\"li_2\",\"li_3\"]", NULL},
    {L ".*.amount", "[50,150,250]", NULL},
    {O ".metadata.*", "[\"pro\",null,\"spaced\"]", NULL},
    {"$..id", "[\"in_1\",\"li_1\",\"li_2\",\"li_3\"]", NULL},
    {"$..lines[0].id", "[\"li_1\"]", NULL},
    {"$.steps..items[*]", "[1,2,3]", NULL},
    {"$.item..*", "[\"Zo\xc3\xab\",[\"x\",\"y\"],\"x\",\"y\"]", NULL},
    {"$.nope[*]", "[]", NULL},
    {"$.trigger.type[*]", "[]", NULL},
    {L "[?(@.status == 'open')].id", "[\"li_1\",\"li_2\"]", NULL},
    {L "[?(@.amount > 100 && @.paid)].id", "[\"li_3\"]", NULL},
    {L "[?(!@.paid)].id", "[\"li_2\"]", NULL},
    {L "[?@.amount >= 150].id", "[\"li_2\",\"li_3\"]", NULL},
    {L "[?(@.missing == 1)]", "[]", NULL},
    {L "[?(@.amount > 1000)]", "[]", NULL},
    {L "[?(@.amount > $.trigger.data.object.lines[0].amount)].amount", "[150,250]", NULL},
    {O ".metadata[?(@ == 'pro')]", "[\"pro\"]", NULL},
    {"$.steps.fetch.value.items[?(@ % 2 == 1)]", "[1,3]", NULL},
    {"$..lines[?(@.id == 'li_2')].amount", "[150]", NULL},
    {L "[?(@.amount > 'x')]", NULL, "cannot order a number and a string with `>`"},
    {"length(" L "[?(@.paid)])", "2", NULL},
    /* literals */
    {"42", "42", NULL},
    {"4.5", "4.5", NULL},
    {"1e3", "1000.0", NULL},
    {"007", "7", NULL},
    {"'it\\'s'", "\"it's\"", NULL},
    {"\"a\\\"b\"", "\"a\\\"b\"", NULL},
    {"'\\u00e9\\n\\t\\/'", "\"\xc3\xa9\\n\\t/\"", NULL},
    {"'\\ud83c\\udf89'", "\"\xf0\x9f\x8e\x89\"", NULL},
    {"'caf\xc3\xa9'", "\"caf\xc3\xa9\"", NULL},
    {"true", "true", NULL},
    {"false", "false", NULL},
    {"null", "null", NULL},
    /* arithmetic */
    {"-5", "-5", NULL},
    {"- -5", "5", NULL},
    {"-(2.5)", "-2.5", NULL},
    {"1 + 2 * 3", "7", NULL},
    {"(1 + 2) * 3", "9", NULL},
    {"10 - 4 - 3", "3", NULL},
    {"2 * 3 % 4", "2", NULL},
    {"7 / 2", "3.5", NULL},
    {"8 / 2", "4", NULL},
    {O ".amount_due / 100", "19.99", NULL},
    {"7 % 3", "1", NULL},
    {"-7 % 3", "-1", NULL},
    {"7.5 % 2", "1.5", NULL},
    {"1 + 1.5", "2.5", NULL},
    {"0.1 + 0.2", "0.30000000000000004", NULL},
    {"2 * -3", "-6", NULL},
    {"1 / 0", NULL, "column 3: division by zero"},
    {"1 % 0", NULL, "division by zero"},
    {"1.0 / 0", NULL, "division by zero"},
    {"1 % 0.0", NULL, "division by zero"},
    {"$.input.big + 1", NULL, "column 13: `+` overflows 64-bit integers"},
    {"$.input.small - 1", NULL, "`-` overflows"},
    {"$.input.big * 2", NULL, "`*` overflows"},
    {"-$.input.small", NULL, "column 1: `-` overflows"},
    {"$.input.small / -1", NULL, "`/` overflows"},
    {"$.input.small % -1", "0", NULL},
    {"$.input.big - $.input.big", "0", NULL},
    {"1e308 * 10", NULL, "not a finite number"},
    {"1 + true", NULL, "`+` needs numbers, not a number and a boolean"},
    {"'a' - 1", NULL, "`-` needs numbers, not a string and a number"},
    {"null * 2", NULL, "`*` needs numbers"},
    {"-'a'", NULL, "`-` needs a number, not a string"},
    /* + with a string concatenates text */
    {"'a' + 'b'", "\"ab\"", NULL},
    {"'n=' + 5", "\"n=5\"", NULL},
    {"5 + 'x'", "\"5x\"", NULL},
    {"1 + 2 + 'x'", "\"3x\"", NULL},
    {"'x' + 1 + 2", "\"x12\"", NULL},
    {"'v' + null", "\"v\"", NULL},
    {"'x' + true", "\"xtrue\"", NULL},
    {"'t' + $.item.tags", "\"t[\\\"x\\\",\\\"y\\\"]\"", NULL},
    {"'r' + 2.50", "\"r2.5\"", NULL},
    {"'r' + 2.0", "\"r2.0\"", NULL},
    /* comparisons */
    {"1 == 1.0", "true", NULL},
    {"1 != 2", "true", NULL},
    {"'a' < 'b'", "true", NULL},
    {"'b' <= 'a'", "false", NULL},
    {"'ab' > 'a'", "true", NULL},
    {"2 > 1.5", "true", NULL},
    {"2 >= 2", "true", NULL},
    {"1.5 < 2", "true", NULL},
    {"9007199254740993 > 9007199254740992.0", "true", NULL},
    {"'a' == 1", "false", NULL},
    {"null == null", "true", NULL},
    {"$.item.tags == $.item.tags", "true", NULL},
    {L "[0] == " L "[1]", "false", NULL},
    {L "[0] != " L "[1]", "true", NULL},
    {"'a' < 1", NULL, "column 5: cannot order a string and a number with `<`"},
    {"true < false", NULL, "cannot order a boolean and a boolean"},
    {"$.item.tags >= $.item.tags", NULL, "cannot order an array and an array"},
    /* logic */
    {"true && false", "false", NULL},
    {"true || false", "true", NULL},
    {"1 && 'x'", "true", NULL},
    {"0 || ''", "false", NULL},
    {"[] == 1", NULL, "column 1"},
    {"!0", "true", NULL},
    {"!!'x'", "true", NULL},
    {"!1 == 2", "true", NULL},
    {"(!1) == 2", "false", NULL},
    {"1 == !0", "false", NULL},
    {"!" O ".empty_a", "true", NULL},
    {"!" O ".empty_o", "true", NULL},
    {"!" O ".empty_s", "true", NULL},
    {"!" O ".zero", "true", NULL},
    {"false && $.missing", "false", NULL},
    {"true || $.missing.x", "true", NULL},
    {"false && 1 / 0", "false", NULL},
    {"$.missing || true", NULL, "$.missing: no `missing` in $"},
    {"true && $.missing", NULL, "no `missing`"},
    /* precedence */
    {"1 + 2 == 3 && 2 * 2 == 4", "true", NULL},
    {"false || true && false", "false", NULL},
    {"true || false && false", "true", NULL},
    {"null ?? 1 + 1", "2", NULL},
    {"1 == 1 ?? 5", "true", NULL},
    {"-2 * 3 + 1", "-5", NULL},
    {"2 + 3 * 4 - 6 / 2 % 2", "13", NULL},
    {"2 + 3 * 4 - 7 / 2 % 2", "12.5", NULL},
    /* ?? */
    {"$.missing ?? 'none'", "\"none\"", NULL},
    {"$.x.y ?? 'none'", "\"none\"", NULL},
    {O ".metadata.note ?? 'n/a'", "\"n/a\"", NULL},
    {"$.trigger.type ?? 'x'", "\"invoice.paid\"", NULL},
    {"$.a ?? $.b ?? 3", "3", NULL},
    {"$.a ?? $.b", NULL, "$.b: no `b` in $"},
    {"0 ?? 5", "0", NULL},
    {"'' ?? 5", "\"\"", NULL},
    {"(1 / 0) ?? 5", NULL, "division by zero"},
    {"($.missing + 1) ?? 0", "0", NULL},
    {L "[7].id ?? 'no line'", "\"no line\"", NULL},
    /* functions */
    {"exists($.trigger.type)", "true", NULL},
    {"exists($.nope.x)", "false", NULL},
    {"exists(" O ".metadata.note)", "true", NULL},
    {"exists(" L "[?(@.amount > 1000)])", "false", NULL},
    {"exists(" L "[?(@.amount > 100)])", "true", NULL},
    {"exists($..id)", "true", NULL},
    {"exists(" L "[?(@.amount > 'x')])", "false", NULL},
    {"length('h\xc3\xa9llo')", "5", NULL},
    {"length('')", "0", NULL},
    {"length($.item.tags)", "2", NULL},
    {"length(" O ".metadata)", "3", NULL},
    {"length(5)", NULL, "column 1: length() needs a string, an array or an object, not a number"},
    {"lower('AbC')", "\"abc\"", NULL},
    {"upper('abc-\xc3\xa9')", "\"ABC-\xc3\xa9\"", NULL},
    {"lower(1)", NULL, "lower() needs a string, not a number"},
    {"contains('hello', 'ell')", "true", NULL},
    {"contains('hello', 'z')", "false", NULL},
    {"contains('hello', '')", "true", NULL},
    {"contains($.item.tags, 'y')", "true", NULL},
    {"contains($.item.tags, 'z')", "false", NULL},
    {"contains($.steps.fetch.value.items, 2.0)", "true", NULL},
    {"contains(" L ", " L "[2])", "true", NULL},
    {"contains(" O ".metadata, 'plan')", "true", NULL},
    {"contains(" O ".metadata, 'x')", "false", NULL},
    {"contains(5, 1)", NULL, "contains() needs a string, an array or an object, not a number"},
    {"contains('a', 1)", NULL, "needs a string to find"},
    {"contains(" O ".metadata, 1)", NULL, "needs a key"},
    {"join($.item.tags, ', ')", "\"x, y\"", NULL},
    {"join($.steps.fetch.value.items, '-')", "\"1-2-3\"", NULL},
    {"join(" L "[*].id, ',')", "\"li_1,li_2,li_3\"", NULL},
    {"join(" O ".empty_a, ',')", "\"\"", NULL},
    {"join('x', ',')", NULL, "join() needs an array, not a string"},
    {"join($.item.tags, 1)", NULL, "join() needs a string separator"},
    {"string(5)", "\"5\"", NULL},
    {"string(null)", "\"\"", NULL},
    {"string(2.5)", "\"2.5\"", NULL},
    {"string(19.99)", "\"19.99\"", NULL},
    {"string(true)", "\"true\"", NULL},
    {"string('s')", "\"s\"", NULL},
    {"string($.item.tags)", "\"[\\\"x\\\",\\\"y\\\"]\"", NULL},
    {"number('42')", "42", NULL},
    {"number(' 2.5 ')", "2.5", NULL},
    {"number('-7')", "-7", NULL},
    {"number('1e2')", "100.0", NULL},
    {"number('99999999999999999999')", "1e20", NULL},
    {"number('-9223372036854775808')", "-9223372036854775808", NULL},
    {"number(3)", "3", NULL},
    {"number(0.5)", "0.5", NULL},
    {"number('4x')", NULL, "number() found a string that is not a number"},
    {"number('')", NULL, "not a number"},
    {"number('0x10')", NULL, "not a number"},
    {"number('1e999')", NULL, "out of range"},
    {"number(true)", NULL, "number() needs a number or a numeric string, not a boolean"},
    {"default($.missing, 7)", "7", NULL},
    {"default(null, 'd')", "\"d\"", NULL},
    {"default(1, 2)", "1", NULL},
    {"default(1 / 0, 2)", NULL, "division by zero"},
    {"json($.item.tags)", "\"[\\\"x\\\",\\\"y\\\"]\"", NULL},
    {"json('a')", "\"\\\"a\\\"\"", NULL},
    {"json(null)", "\"null\"", NULL},
    {"json(0.1)", "\"0.1\"", NULL},
    {"json(" O ".metadata)",
     "\"{\\\"plan\\\":\\\"pro\\\",\\\"note\\\":null,\\\"a b\\\":\\\"spaced\\\"}\"", NULL},
    {"length(join($.item.tags, '')) + 1", "3", NULL},
};

/* Expressions sl__expr_check refuses, with a piece of the message (column included). */
typedef struct check_case {
    const char *expr;
    const char *err;
} check_case_t;

static const check_case_t check_cases[] = {
    {"", "column 1: empty expression"},
    {"   ", "column 4: empty expression"},
    {"1 +", "column 4: expected a value, found the end of the expression"},
    {"$.a +* 2", "column 6: expected a value, found `*`"},
    {"(1 + 2", "column 7: expected `)`"},
    {"$.a = 1", "column 5: `=` on its own"},
    {"$.a & $.b", "column 5: `&` on its own"},
    {"$.a | $.b", "column 5: `|` on its own"},
    {"'abc", "column 1: unterminated string"},
    {"'ab\\", "column 1: unterminated string"},
    {"'a\nb'", "column 3: control character"},
    {"'\\q'", "column 2: unknown escape `\\q`"},
    {"'\\u12'", "column 2: `\\u` needs four hex digits"},
    {"'\\ud83c'", "column 2: a \\u surrogate"},
    {"'\\udf89'", "column 2: a \\u surrogate"},
    {"'\\u0000'", "column 2: \\u0000 is not allowed"},
    {"'\xc3'", "column 2: invalid UTF-8"},
    {"$.a[", "column 5: expected an index"},
    {"$.a[1", "column 6: expected `]`"},
    {"$.a[1.5]", "column 5: an index must be a whole number"},
    {"$.a[-x]", "column 6: expected an index after `[-`"},
    {"$.a[1,2]", "column 6: expected `]`, found `,`"},
    {"$.", "column 3: expected a name or `*` after `.`"},
    {"$..", "column 4: expected a name or `*` after `..`"},
    {"$.-a", "column 3: expected a name"},
    {"@.x", "column 1: `@` is only meaningful inside a filter"},
    {"abc", "column 1: unexpected name `abc`"},
    {"1 2", "column 3: expected an operator or the end, found `2`"},
    {"$.a b", "column 5: expected an operator or the end, found `b`"},
    {"$.a ~ 1", "column 5: unexpected character `~`"},
    {"$.a \x01", "column 5: unexpected byte 0x01"},
    {"99999999999999999999", "column 1: integer too large"},
    {"1e999", "column 1: number out of range"},
    {"1 < 2 < 3", "column 7: comparisons do not chain"},
    {"1 == 2 != 3", "column 8: comparisons do not chain"},
    {"foo(1)", "column 1: unknown function `foo`"},
    {"1 + bar()", "column 5: unknown function `bar`"},
    {"length()", "column 1: length() takes 1 argument, not 0"},
    {"join($.a)", "column 1: join() takes 2 arguments, not 1"},
    {"now(1)", "column 1: now() takes no arguments, not 1"},
    {"now", "column 1: now needs `(`"},
    {"length(1,)", "column 10: expected a value, found `)`"},
    {"length(1 2)", "column 10: expected `,` or `)`"},
    {"exists('x')", "column 1: exists() takes a path"},
    {"$.a[?(@.b ==)]", "column 13: expected a value, found `)`"},
    {"$.a[?(@.b)", "column 11: expected `]`"},
    {"$.a[?]", "column 6: expected a value, found `]`"},
    {"[] == 1", "column 1: expected a value, found `[`"},
    {"?? 1", "column 1: expected a value"},
    {"1 ??", "column 5: expected a value"},
    {"!", "column 2: expected a value"},
    {")", "column 1: expected a value, found `)`"},
    {"true(1)", "column 5: expected an operator or the end"},
    {"$.a.b.", "column 7: expected a name"},
    {"1.x", "column 2: expected an operator or the end, found `.`"},
    {"'\xe2\x82\xac' 'x'", "column 7: expected an operator or the end"},
};

static void expect_json(const char *where, const json_t *got, const char *want_text)
{
    json_t *want = json_loads(want_text, JSON_DECODE_ANY, NULL);
    if (!want)
        fail_msg("%s: bad expected JSON %s", where, want_text);
    if (!got || !json_equal(got, want)) {
        char *g = got ? json_dumps(got, JSON_ENCODE_ANY | JSON_COMPACT) : NULL;
        print_error("%s: got %s, want %s\n", where, g ? g : "(NULL)", want_text);
        free(g);
        json_decref(want);
        fail();
    }
    json_decref(want);
}

static void test_eval_table(void **state)
{
    (void)state;
    char err[512];
    for (size_t i = 0; i < sizeof eval_cases / sizeof *eval_cases; i++) {
        const eval_case_t *c = &eval_cases[i];
        strcpy(err, "stale");
        json_t *v = sl__expr_eval(c->expr, ctx, err, sizeof err);
        if (c->want) {
            if (!v)
                fail_msg("%s: failed: %s", c->expr, err);
            assert_string_equal(err, "");
            expect_json(c->expr, v, c->want);
            if (sl__expr_check(c->expr, err, sizeof err) != SL_OK)
                fail_msg("%s: check refused it: %s", c->expr, err);
        } else {
            if (v) {
                char *g = json_dumps(v, JSON_ENCODE_ANY);
                fail_msg("%s: gave %s, want an error with \"%s\"", c->expr, g, c->err);
            }
            if (!strstr(err, c->err))
                fail_msg("%s: error \"%s\", want \"%s\"", c->expr, err, c->err);
        }
        json_decref(v);
    }
}

static void test_check_table(void **state)
{
    (void)state;
    char err[512];
    for (size_t i = 0; i < sizeof check_cases / sizeof *check_cases; i++) {
        const check_case_t *c = &check_cases[i];
        if (sl__expr_check(c->expr, err, sizeof err) != SL_EINVAL)
            fail_msg("%s: check accepted it", c->expr);
        if (!strstr(err, c->err))
            fail_msg("%s: error \"%s\", want \"%s\"", c->expr, err, c->err);
        /* Evaluation refuses it the same way. */
        char err2[512];
        json_t *v = sl__expr_eval(c->expr, ctx, err2, sizeof err2);
        assert_null(v);
        assert_string_equal(err, err2);
    }
}

static void test_whole_context_and_copies(void **state)
{
    (void)state;
    char err[256];
    json_t *v = sl__expr_eval("$", ctx, err, sizeof err);
    assert_non_null(v);
    assert_true(json_equal(v, ctx));
    assert_true(v != ctx);
    /* The result shares nothing with the context: changing it leaves ctx alone. */
    json_t *tags = sl__expr_eval("$.item.tags", ctx, err, sizeof err);
    assert_non_null(tags);
    json_array_append_new(tags, json_string("z"));
    assert_int_equal(json_array_size(json_object_get(json_object_get(ctx, "item"), "tags")), 2);
    json_decref(tags);
    json_decref(v);
    /* No error buffer, a NULL context, a NULL expression. */
    assert_null(sl__expr_eval("$.nope", ctx, NULL, 0));
    v = sl__expr_eval("$", NULL, err, sizeof err);
    assert_true(json_is_null(v));
    json_decref(v);
    assert_null(sl__expr_eval("$.a", NULL, err, sizeof err));
    assert_null(sl__expr_eval(NULL, ctx, err, sizeof err));
    assert_int_equal(sl__expr_check(NULL, err, sizeof err), SL_EINVAL);
    /* A short buffer holds the start of the message, never a broken UTF-8 sequence. */
    char small[14];
    assert_null(sl__expr_eval("'\xc3\xa9\xc3\xa9\xc3\xa9' < 1", ctx, small, sizeof small));
    assert_string_equal(small, "column 10: ca");
    assert_null(
        sl__expr_eval("$['x\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9']", ctx, small, sizeof small));
    assert_string_equal(small, "$['x\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9");
    char tiny[5];
    assert_null(sl__expr_eval("$['\xc3\xa9']", ctx, tiny, sizeof tiny));
    assert_string_equal(tiny, "$['");
}

static void test_now(void **state)
{
    (void)state;
    char err[256];
    long long before = (long long)time(NULL);
    json_t *v = sl__expr_eval("now()", ctx, err, sizeof err);
    assert_true(json_is_integer(v));
    assert_true(json_integer_value(v) >= before && json_integer_value(v) <= before + 5);
    json_decref(v);
    v = sl__expr_eval("now() - now() <= 1", ctx, err, sizeof err);
    assert_true(json_is_true(v));
    json_decref(v);
}

static void test_truthy(void **state)
{
    (void)state;
    static const char *const falsy[] = {"false", "null", "0", "0.0", "\"\"", "[]", "{}"};
    static const char *const truthy[] = {"true",  "1",   "-1",           "0.5",      "\"0\"",
                                         "\" \"", "[0]", "{\"a\":null}", "\"false\""};
    for (size_t i = 0; i < sizeof falsy / sizeof *falsy; i++) {
        json_t *v = json_loads(falsy[i], JSON_DECODE_ANY, NULL);
        assert_false(sl__expr_truthy(v));
        json_decref(v);
    }
    for (size_t i = 0; i < sizeof truthy / sizeof *truthy; i++) {
        json_t *v = json_loads(truthy[i], JSON_DECODE_ANY, NULL);
        assert_true(sl__expr_truthy(v));
        json_decref(v);
    }
    assert_false(sl__expr_truthy(NULL));
}

static void test_limits(void **state)
{
    (void)state;
    char err[256], buf[10000];
    /* Nesting: parentheses, prefix operators, calls, filters. */
    static const char *const open[] = {"(", "-", "!", "length(", "$.a[?("};
    static const char *const close[] = {")", "", "", ")", ")]"};
    for (size_t k = 0; k < sizeof open / sizeof *open; k++) {
        for (int depth = 10; depth <= 100; depth += 90) {
            size_t n = 0;
            for (int i = 0; i < depth; i++)
                n += (size_t)sprintf(buf + n, "%s", open[k]);
            n += (size_t)sprintf(buf + n, "%s", k == 4 ? "@" : "1");
            for (int i = 0; i < depth; i++)
                n += (size_t)sprintf(buf + n, "%s", close[k]);
            sl_err rc = sl__expr_check(buf, err, sizeof err);
            if (depth == 10 && rc != SL_OK)
                fail_msg("%s: %s", open[k], err);
            if (depth == 100 && (rc != SL_EINVAL || !strstr(err, "nested too deeply")))
                fail_msg("%s x100: %s", open[k], err);
        }
    }
    /* Length. */
    memset(buf, ' ', 9000);
    buf[0] = '1';
    buf[9000] = '\0';
    assert_int_equal(sl__expr_check(buf, err, sizeof err), SL_EINVAL);
    assert_non_null(strstr(err, "column 1: expression longer than 8192 bytes"));
    /* A long chain of one operator is one node, not a deep tree. */
    size_t n = 0;
    for (int i = 0; i < 2000; i++)
        n += (size_t)sprintf(buf + n, "1+");
    sprintf(buf + n, "1");
    json_t *v = sl__expr_eval(buf, ctx, err, sizeof err);
    assert_int_equal(json_integer_value(v), 2001);
    json_decref(v);
    /* Runaway work over a large context stops with an error. */
    json_t *big = json_object(), *arr = json_array();
    for (int i = 0; i < 3000; i++)
        json_array_append_new(arr, json_integer(i));
    json_object_set_new(big, "a", arr);
    v = sl__expr_eval("$..*[?($..*[?($..*)])]", big, err, sizeof err);
    assert_null(v);
    assert_non_null(strstr(err, "too much work"));
    v = sl__expr_eval("length($..*[?(@ > 2990)])", big, err, sizeof err);
    assert_int_equal(json_integer_value(v), 9);
    json_decref(v);
    json_decref(big);
    /* A context nested far deeper than the C stack would like is walked with a heap stack. */
    json_t *deep = json_pack("{s:i}", "id", 1);
    for (int i = 0; i < 100000; i++)
        deep = json_pack("{s:o}", "x", deep);
    v = sl__expr_eval("length($..id)", deep, err, sizeof err);
    assert_int_equal(json_integer_value(v), 1);
    json_decref(v);
    /* jansson frees (and copies) recursively: unwind by hand to keep its stack small. */
    while (json_is_object(deep) && json_object_get(deep, "x")) {
        json_t *inner = json_incref(json_object_get(deep, "x"));
        json_decref(deep);
        deep = inner;
    }
    json_decref(deep);
}

typedef struct tmpl_case {
    const char *tmpl;
    const char *want; /* JSON */
    const char *err;
} tmpl_case_t;

static const tmpl_case_t tmpl_cases[] = {
    {"Hello {{ $.item.name }}!", "\"Hello Zo\xc3\xab!\"", NULL},
    {"{{ " O ".amount_due }}", "1999", NULL},
    {"{{$.item.tags}}", "[\"x\",\"y\"]", NULL},
    {"{{ \t$.item \n}}", "{\"name\":\"Zo\xc3\xab\",\"tags\":[\"x\",\"y\"]}", NULL},
    {"{{ " O ".metadata.note }}", "null", NULL},
    {"{{ " O ".total }}", "12.5", NULL},
    {"{{ " O ".paid }}", "true", NULL},
    {"  {{ $.item.tags }}", "\"  [\\\"x\\\",\\\"y\\\"]\"", NULL},
    {"{{ $.item.tags }} ", "\"[\\\"x\\\",\\\"y\\\"] \"", NULL},
    {"{{ 1 }}{{ 2 }}", "\"12\"", NULL},
    {"a{{ null }}b{{ true }}c{{ 2.5 }}d{{ 3.0 }}e{{ " O ".metadata }}",
     "\"abtruec2.5d3.0e{\\\"plan\\\":\\\"pro\\\",\\\"note\\\":null,\\\"a b\\\":\\\"spaced\\\"}\"",
     NULL},
    {"Due: {{ " O ".amount_due / 100 }} {{ upper('usd') }}", "\"Due: 19.99 USD\"", NULL},
    {"no braces } here }}", "\"no braces } here }}\"", NULL},
    {"", "\"\"", NULL},
    {"{ {not} }", "\"{ {not} }\"", NULL},
    {"{{ '}}' }}", "\"}}\"", NULL},
    {"[{{ \"a}}b\" }}]", "\"[a}}b]\"", NULL},
    {"[{{ \"a}}b\" }]", NULL, "column 2: `{{` without a closing `}}`"},
    {"{{ '{{' }}", "\"{{\"", NULL},
    {"x {{ $.missing ?? 'n' }}", "\"x n\"", NULL},
    {"{{{ 1 }}}", NULL, "column 3: unexpected character `{`"},
    {"x {{ $.missing }}", NULL, "$.missing: no `missing` in $"},
    {"x {{ 1 +  }}", NULL, "column 11: expected a value"},
    {"x {{ }}", NULL, "column 6: empty expression"},
    {"abc {{ $.a", NULL, "column 5: `{{` without a closing `}}`"},
    {"{{ 1 }} and {{ 'oops }}", NULL, "column 16: unterminated string"},
    {"ok {{ 1 }} {{ 2", NULL, "column 12: `{{` without a closing `}}`"},
    {"bad \xff {{ 1 }}", NULL, "column 5: the template is not valid UTF-8"},
    {"bad \xff", NULL, "column 5: the template is not valid UTF-8"},
};

static void test_templates(void **state)
{
    (void)state;
    char err[512], cerr[512];
    for (size_t i = 0; i < sizeof tmpl_cases / sizeof *tmpl_cases; i++) {
        const tmpl_case_t *c = &tmpl_cases[i];
        strcpy(err, "stale");
        json_t *v = sl__template_render(c->tmpl, ctx, err, sizeof err);
        sl_err rc = sl__template_check(c->tmpl, cerr, sizeof cerr);
        if (c->want) {
            if (!v)
                fail_msg("%s: failed: %s", c->tmpl, err);
            assert_string_equal(err, "");
            expect_json(c->tmpl, v, c->want);
            if (rc != SL_OK)
                fail_msg("%s: check refused it: %s", c->tmpl, cerr);
        } else {
            if (v)
                fail_msg("%s: rendered, want an error with \"%s\"", c->tmpl, c->err);
            if (!strstr(err, c->err))
                fail_msg("%s: error \"%s\", want \"%s\"", c->tmpl, err, c->err);
            /* check finds the syntax problems (not the missing path, which needs a context) */
            int syntax = !strstr(c->err, "no `");
            if (syntax && (rc != SL_EINVAL || strcmp(err, cerr) != 0))
                fail_msg("%s: check said \"%s\", render \"%s\"", c->tmpl, cerr, err);
            if (!syntax && rc != SL_OK)
                fail_msg("%s: check refused it: %s", c->tmpl, cerr);
        }
        json_decref(v);
    }
    assert_null(sl__template_render(NULL, ctx, err, sizeof err));
    assert_int_equal(sl__template_check(NULL, err, sizeof err), SL_EINVAL);
}

static void test_render_json(void **state)
{
    (void)state;
    char err[512];
    json_t *in = json_loads("{\"a\": \"{{ $.index }}\", \"b\": [\"x {{ $.item.name }}\", 5, null,"
                            " {\"c\": \"{{ $.item.tags }}\", \"d\": 1.5}],"
                            " \"{{ $.key }}\": \"plain\", \"e\": true}",
                            0, NULL);
    assert_non_null(in);
    assert_int_equal(sl__template_check_json(in, err, sizeof err), SL_OK);
    json_t *out = sl__template_render_json(in, ctx, err, sizeof err);
    expect_json("render_json", out,
                "{\"a\": 0, \"b\": [\"x Zo\xc3\xab\", 5, null, {\"c\": [\"x\", \"y\"],"
                " \"d\": 1.5}], \"{{ $.key }}\": \"plain\", \"e\": true}");
    /* The input is untouched and the output its own. */
    assert_string_equal(json_string_value(json_object_get(in, "a")), "{{ $.index }}");
    json_decref(out);
    json_decref(in);

    json_t *s = json_string("{{ 1 + 1 }}");
    out = sl__template_render_json(s, ctx, err, sizeof err);
    expect_json("a bare string", out, "2");
    json_decref(out);
    json_decref(s);
    json_t *n = json_integer(7);
    out = sl__template_render_json(n, ctx, err, sizeof err);
    expect_json("a number", out, "7");
    json_decref(out);
    json_decref(n);

    in = json_loads("{\"a\": [1, \"{{ $.nope }}\"]}", 0, NULL);
    assert_null(sl__template_render_json(in, ctx, err, sizeof err));
    assert_string_equal(err, "/a/1: $.nope: no `nope` in $");
    assert_int_equal(sl__template_check_json(in, err, sizeof err), SL_OK);
    json_decref(in);

    in = json_loads("{\"with\": {\"body\": \"{{ 1 + }}\"}}", 0, NULL);
    assert_int_equal(sl__template_check_json(in, err, sizeof err), SL_EINVAL);
    assert_string_equal(err, "/with/body: column 8: expected a value, found the end of the "
                             "expression");
    assert_null(sl__template_render_json(in, ctx, err, sizeof err));
    assert_string_equal(err, "/with/body: column 8: expected a value, found the end of the "
                             "expression");
    json_decref(in);

    /* A string holding a NUL cannot be a template. */
    in = json_pack("{s:s%}", "a", "x\0y", (size_t)3);
    assert_int_equal(sl__template_check_json(in, err, sizeof err), SL_EINVAL);
    assert_non_null(strstr(err, "NUL"));
    json_decref(in);

    /* Nesting is bounded. */
    json_t *deep = json_string("{{ 1 }}");
    for (int i = 0; i < 300; i++) {
        json_t *a = json_array();
        json_array_append_new(a, deep);
        deep = a;
    }
    assert_int_equal(sl__template_check_json(deep, err, sizeof err), SL_EINVAL);
    assert_non_null(strstr(err, "nested deeper than 256"));
    assert_null(sl__template_render_json(deep, ctx, err, sizeof err));
    json_decref(deep);
    assert_null(sl__template_render_json(NULL, ctx, err, sizeof err));
    assert_int_equal(sl__template_check_json(NULL, err, sizeof err), SL_EINVAL);
}

static unsigned long long rng = 0x2545F4914F6CDD1DULL;

static unsigned next_rand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (unsigned)(rng >> 11);
}

/* Whatever the bytes, check and eval agree on syntax, nothing crashes or leaks (ASan/UBSan in
 * the test build), and a failure always says why. */
static void run_one(const char *s)
{
    char err[256], err2[256];
    sl_err rc = sl__expr_check(s, err, sizeof err);
    json_t *v = sl__expr_eval(s, ctx, err2, sizeof err2);
    if (rc != SL_OK && v)
        fail_msg("check refused what eval took: %s (%s)", s, err);
    if (rc != SL_OK && strcmp(err, err2) != 0)
        fail_msg("check and eval disagree on %s: \"%s\" vs \"%s\"", s, err, err2);
    if (!v && !err2[0])
        fail_msg("eval failed without a message: %s", s);
    json_decref(v);
    rc = sl__template_check(s, err, sizeof err);
    v = sl__template_render(s, ctx, err2, sizeof err2);
    if (rc != SL_OK && v)
        fail_msg("template check refused what render took: %s (%s)", s, err);
    if (!v && !err2[0])
        fail_msg("render failed without a message: %s", s);
    json_decref(v);
}

static void test_mutations(void **state)
{
    (void)state;
    static const char *const seeds[] = {
        "$.trigger.data.object.lines[?(@.amount > 100 && @.paid)].id",
        "$.steps.loop-1.value.customer ?? 'none'",
        "length($..id) + 2 * (3 - 1) % 4 >= 1.5e1 || !exists($.x.y)",
        "join($.trigger.data.object.lines[*].id, ', ') + ' \\u00e9\\n'",
        "contains(lower($.trigger.type), \"paid\") && $['item'][\"tags\"][-1] != null",
        "default(number('42'), now()) / -$.index",
        "Hi {{ $.item.name }}, you owe {{ $.trigger.data.object.amount_due / 100 }}{{ json($) }}",
        "{{ upper(string($.trigger.data.object.metadata.*)) }}",
        "$..lines[0].status == 'open' ?? $.input.big + 1",
        "$.trigger.data.object.lines[?(@.status == 'open' && @.id != 'li_1')]",
    };
    static const char alphabet[] = "$@.[]()*?'\"\\|&!=<>+-/%,{} \t0123456789eE_abxyz-\xc3\xa9\xff";
    char buf[512];
    for (int round = 0; round < 100000; round++) {
        const char *seed = seeds[next_rand() % (sizeof seeds / sizeof *seeds)];
        size_t len = strlen(seed);
        memcpy(buf, seed, len);
        int edits = 1 + (int)(next_rand() % 4);
        for (int e = 0; e < edits; e++) {
            size_t at = next_rand() % (len ? len : 1);
            char c = alphabet[next_rand() % (sizeof alphabet - 1)];
            switch (next_rand() % 4) {
            case 0:
                if (len)
                    buf[at] = c;
                break;
            case 1:
                if (len + 1 < sizeof buf) {
                    memmove(buf + at + 1, buf + at, len - at);
                    buf[at] = c;
                    len++;
                }
                break;
            case 2:
                if (len) {
                    memmove(buf + at, buf + at + 1, len - at - 1);
                    len--;
                }
                break;
            default: { /* duplicate a slice, to grow nesting and chains */
                char slice[16];
                size_t from = next_rand() % (len ? len : 1);
                size_t n = next_rand() % sizeof slice;
                if (from + n > len)
                    n = len - from;
                if (len + n < sizeof buf) {
                    memcpy(slice, buf + from, n);
                    memmove(buf + at + n, buf + at, len - at);
                    memcpy(buf + at, slice, n);
                    len += n;
                }
            }
            }
        }
        buf[len] = '\0';
        run_one(buf);
    }
}

/* The paths from the root an expression reads, as the flow checker sees them: the first two
 * names and the column, filters and arguments included, nothing for what does not parse. */
static void collect_ref(void *ctx_, const char *first, const char *second, size_t col)
{
    char *out = ctx_;
    size_t n = strlen(out);
    snprintf(out + n, 512 - n, "%s%s/%s@%zu", n ? " " : "", first, second ? second : "-", col);
}

static void check_refs(const char *text, int template, const char *want)
{
    char got[512] = "";
    if (template)
        sl__template_refs(text, collect_ref, got);
    else
        sl__expr_refs(text, collect_ref, got);
    if (strcmp(got, want) != 0)
        fail_msg("refs of `%s`: got `%s`, want `%s`", text, got, want);
}

static void test_refs(void **state)
{
    (void)state;
    check_refs("$.steps.get-customer.email", 0, "steps/get-customer@1");
    check_refs("$['steps']['a b'].x ?? $.input", 0, "steps/a b@1 input/-@24");
    check_refs("length($.trigger.lines[?(@.id == $.steps.x.id)]) > 0 && !$.steps.y", 0,
               "trigger/lines@8 steps/x@34 steps/y@58");
    check_refs("$.steps[0].x + $..steps.a + $.steps.*.b + $", 0, "steps/-@1 steps/-@29");
    check_refs("'$.steps.a' + @.x", 0, ""); /* a string literal; @ outside a filter */
    check_refs("$.steps.a +", 0, "");       /* does not parse */
    check_refs(NULL, 0, "");
    check_refs("Hi {{ $.steps.a.name }}, {{ $.item ?? $.steps['b'] }}!", 1,
               "steps/a@7 item/-@29 steps/b@39");
    check_refs("no parts", 1, "");
    check_refs("{{ $.steps.a }} {{ $.x +", 1, "steps/a@4");
    check_refs("{{ $.steps.a }} {{ nope( }} {{ $.steps.c }}", 1, "steps/a@4");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_eval_table),
        cmocka_unit_test(test_check_table),
        cmocka_unit_test(test_whole_context_and_copies),
        cmocka_unit_test(test_now),
        cmocka_unit_test(test_truthy),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_templates),
        cmocka_unit_test(test_render_json),
        cmocka_unit_test(test_mutations),
        cmocka_unit_test(test_refs),
    };
    return cmocka_run_group_tests_name("expr", tests, setup, teardown);
}
