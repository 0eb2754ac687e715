/* Flow files' YAML reader: scalars resolve as the core schema does (quoted ones stay strings),
 * mappings and sequences become objects and arrays, every node's path gets its line and column,
 * and what is broken or refused is reported as "LINE:COLUMN: problem". */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "flow/yaml.h"

static json_t *load_ok(const char *text, json_t *pos)
{
    char err[256] = "";
    json_t *v = sl__yaml_load(text, strlen(text), pos, err, sizeof err);
    if (!v)
        fail_msg("`%s` refused: %s", text, err);
    return v;
}

static void check_refused(const char *text, const char *want)
{
    char err[256] = "";
    json_t *pos = json_object();
    json_t *v = sl__yaml_load(text, strlen(text), pos, err, sizeof err);
    if (v)
        fail_msg("`%s` was taken", text);
    assert_string_equal(err, want);
    json_decref(pos);
}

static void check_json(const json_t *v, const char *want)
{
    json_t *w = json_loads(want, JSON_DECODE_ANY, NULL);
    assert_non_null(w);
    if (!json_equal(v, w)) {
        char *got = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
        fail_msg("got %s, want %s", got, want);
    }
    json_decref(w);
}

static void test_scalars(void **state)
{
    (void)state;
    json_t *v = load_ok("a: 1\nb: -2\nc: 1.5\nd: true\ne: False\nf: ~\ng: null\nh:\n"
                        "i: 'true'\nj: \"12\"\nk: hello world\nl: 0\np: +5\nq: -0\nr: 1e3\n"
                        "s: TRUE\nt: NULL\nu: '~'\nw: 2026-01-01\nx: 12abc\n",
                        NULL);
    assert_true(json_is_integer(json_object_get(v, "a")));
    assert_int_equal(json_integer_value(json_object_get(v, "a")), 1);
    assert_int_equal(json_integer_value(json_object_get(v, "b")), -2);
    assert_true(json_is_real(json_object_get(v, "c")));
    assert_true(json_real_value(json_object_get(v, "c")) == 1.5);
    assert_true(json_is_true(json_object_get(v, "d")));
    assert_true(json_is_false(json_object_get(v, "e")));
    assert_true(json_is_null(json_object_get(v, "f")));
    assert_true(json_is_null(json_object_get(v, "g")));
    assert_true(json_is_null(json_object_get(v, "h"))); /* an empty value */
    assert_string_equal(json_string_value(json_object_get(v, "i")), "true");
    assert_string_equal(json_string_value(json_object_get(v, "j")), "12");
    assert_string_equal(json_string_value(json_object_get(v, "k")), "hello world");
    assert_true(json_is_integer(json_object_get(v, "l")));
    assert_int_equal(json_integer_value(json_object_get(v, "p")), 5);
    assert_true(json_is_integer(json_object_get(v, "q")));
    assert_int_equal(json_integer_value(json_object_get(v, "q")), 0);
    assert_true(json_is_real(json_object_get(v, "r")));
    assert_true(json_real_value(json_object_get(v, "r")) == 1000.0);
    assert_true(json_is_true(json_object_get(v, "s")));
    assert_true(json_is_null(json_object_get(v, "t")));
    assert_string_equal(json_string_value(json_object_get(v, "u")), "~");
    assert_string_equal(json_string_value(json_object_get(v, "w")), "2026-01-01");
    assert_string_equal(json_string_value(json_object_get(v, "x")), "12abc");
    json_decref(v);

    v = load_ok("42", NULL); /* a bare scalar is a document too */
    assert_int_equal(json_integer_value(v), 42);
    json_decref(v);
    v = load_ok("text: |\n  line1\n  line2\n", NULL);
    check_json(v, "{\"text\": \"line1\\nline2\\n\"}");
    json_decref(v);
}

static void test_collections(void **state)
{
    (void)state;
    json_t *v = load_ok("name: x\nsteps:\n  - id: a\n    with:\n      email: \"{{ $.x }}\"\n"
                        "  - [3, 4]\n  - {k: v, n: [ ]}\n  -\n",
                        NULL);
    check_json(v, "{\"name\":\"x\",\"steps\":[{\"id\":\"a\",\"with\":{\"email\":\"{{ $.x }}\"}},"
                  "[3,4],{\"k\":\"v\",\"n\":[]},null]}");
    json_decref(v);

    v = load_ok("{\"a\": [1, 2.5, \"x\", null, true], \"b\": {}}", NULL); /* JSON is YAML */
    check_json(v, "{\"a\": [1, 2.5, \"x\", null, true], \"b\": {}}");
    json_decref(v);

    v = load_ok("\"quoted key\": 1\n'single': 2\n", NULL);
    check_json(v, "{\"quoted key\": 1, \"single\": 2}");
    json_decref(v);
}

static void test_anchors_and_aliases(void **state)
{
    (void)state;
    json_t *v = load_ok("base: &b {x: 1, y: [a]}\nuse: *b\nlist:\n  - &n 7\n  - *n\n", NULL);
    check_json(v, "{\"base\":{\"x\":1,\"y\":[\"a\"]},\"use\":{\"x\":1,\"y\":[\"a\"]},"
                  "\"list\":[7,7]}");
    /* an alias is a copy, not the same node */
    assert_ptr_not_equal(json_object_get(v, "base"), json_object_get(v, "use"));
    json_decref(v);

    check_refused("a: *nope\n", "1:4: an alias (*name) with no anchor (&name) before it");
    check_refused("a: &r [1, *r]\n", "1:11: an alias (*name) with no anchor (&name) before it");
}

static void check_pos(const json_t *pos, const char *path, int line, int col)
{
    const json_t *lc = json_object_get(pos, path);
    if (!lc)
        fail_msg("no position for `%s`", path);
    assert_int_equal(json_array_size(lc), 2);
    if (json_integer_value(json_array_get(lc, 0)) != line ||
        json_integer_value(json_array_get(lc, 1)) != col)
        fail_msg("`%s` at %lld:%lld, want %d:%d", path,
                 (long long)json_integer_value(json_array_get(lc, 0)),
                 (long long)json_integer_value(json_array_get(lc, 1)), line, col);
}

static const char flow_text[] = "name: x\n"
                                "steps:\n"
                                "  - id: a\n"
                                "    with:\n"
                                "      email: \"{{ $.x }}\"\n"
                                "  - [3, 4]\n";

static void test_positions(void **state)
{
    (void)state;
    json_t *pos = json_object();
    json_t *v = load_ok(flow_text, pos);
    check_pos(pos, "", 1, 1);
    check_pos(pos, "name", 1, 7);
    check_pos(pos, "steps", 3, 3);
    check_pos(pos, "steps[0]", 3, 5);
    check_pos(pos, "steps[0].id", 3, 9);
    check_pos(pos, "steps[0].with", 5, 7);
    check_pos(pos, "steps[0].with.email", 5, 14);
    check_pos(pos, "steps[1]", 6, 5);
    check_pos(pos, "steps[1][0]", 6, 6);
    check_pos(pos, "steps[1][1]", 6, 9);
    assert_int_equal(json_object_size(pos), 10); /* one entry per node, no more */
    json_decref(v);
    json_decref(pos);

    pos = json_object();
    v = load_ok("---\na: 1\n", pos); /* an explicit document start */
    check_pos(pos, "", 2, 1);
    check_pos(pos, "a", 2, 4);
    json_decref(v);
    json_decref(pos);
}

static void where(const json_t *pos, const char *path, const char *want)
{
    char out[32];
    sl__yaml_where(pos, path, out, sizeof out);
    if (strcmp(out, want) != 0)
        fail_msg("where(`%s`) = %s, want %s", path ? path : "(null)", out, want);
}

static void test_where(void **state)
{
    (void)state;
    json_t *pos = json_object();
    json_t *v = load_ok(flow_text, pos);
    where(pos, "steps[0].with.email", "5:14");
    where(pos, "steps[0].with.email.deeper", "5:14");
    where(pos, "steps[0].with.nope", "5:7");
    where(pos, "steps[0].nope.more[3]", "3:5");
    where(pos, "steps[7]", "3:3");
    where(pos, "steps[1][5]", "6:5");
    where(pos, "nope", "1:1");
    where(pos, "", "1:1");
    where(pos, NULL, "1:1");
    json_decref(v);
    json_decref(pos);

    pos = json_object();
    v = load_ok("\n\n  a: 1\n", pos); /* the root itself not at 1:1 */
    where(pos, "b.c", "3:3");
    json_decref(v);
    json_decref(pos);

    json_t *empty = json_object();
    where(empty, "steps[0].id", "1:1");
    json_decref(empty);
    where(NULL, "a.b", "1:1");

    char tiny[4];
    pos = json_pack("{s:[i,i]}", "a", 123, 456);
    sl__yaml_where(pos, "a", tiny, sizeof tiny); /* cut to the room given */
    assert_string_equal(tiny, "123");
    json_decref(pos);
}

static void test_broken_yaml(void **state)
{
    (void)state;
    check_refused("a: [1, 2\n", "2:1: did not find expected ',' or ']'");
    check_refused("a: b: c\n", "1:5: mapping values are not allowed in this context");
    check_refused("  a: 1\n b: 2\n", "2:2: did not find expected <document start>");
    check_refused("a: \"\\ud800\"\n", "1:7: found invalid Unicode character escape code");
    check_refused("", "1:1: the file is empty");
    check_refused("# only a comment\n\n", "1:1: the file is empty");

    /* malformed UTF-8: refused with a LINE:COLUMN and libyaml's reason */
    char err[256] = "";
    const char bad[] = "a: 1\nb: \"x\xc0\x80\"\n";
    assert_null(sl__yaml_load(bad, strlen(bad), NULL, err, sizeof err));
    char *colon = strchr(err, ':');
    assert_non_null(colon);
    assert_true(strspn(err, "0123456789") == (size_t)(colon - err) && colon > err);
    assert_non_null(strstr(err, ": invalid length of a UTF-8 sequence"));
}

static void test_refused_features(void **state)
{
    (void)state;
    check_refused("a: 1\n---\nb: 2\n",
                  "2:1: one flow per file (a second YAML document starts here)");
    check_refused("a: !!int 3\n", "1:4: YAML tags (!!...) are not used in flow files");
    check_refused("a:\n  - !custom x\n", "2:5: YAML tags (!!...) are not used in flow files");
    check_refused("a: 1\nb: 2\na: 3\n", "3:1: `a` appears twice in the same mapping");
    check_refused("? [a]\n: 1\n", "1:3: a key that is not a plain string");
    check_refused("? {k: v}\n: 1\n", "1:3: a key that is not a plain string");

    char deep[200];
    memset(deep, '[', 100);
    deep[100] = '\0';
    check_refused(deep, "1:66: nested too deeply");
    /* 64 levels below the root are fine */
    char ok[200];
    memset(ok, '[', 65);
    memset(ok + 65, ']', 65);
    ok[130] = '\0';
    json_t *v = load_ok(ok, NULL);
    json_decref(v);
}

/* fuzz_flow: a key past 255 bytes was cut (inside a character if need be) and its value
 * silently dropped; aliases of aliases could make billions of values from a page. */
static void test_limits(void **state)
{
    (void)state;
    char text[8192];
    memset(text, 'k', 255);
    strcpy(text + 255, ": 1\n");
    json_t *v = load_ok(text, NULL);
    assert_int_equal(json_object_size(v), 1);
    json_decref(v);
    text[0] = '\0';
    for (int i = 0; i < 200; i++)
        strcat(text, "\xc3\xa9");
    strcat(text, ": 1\n");
    check_refused(text, "1:1: a key longer than 255 bytes");
    check_refused("\"a\\0b\": 1\n", "1:1: a key with a NUL character");

    strcpy(text, "a0: &a0 [x,x,x,x,x,x,x,x,x,x]\n");
    for (int i = 1; i < 9; i++) {
        char line[128];
        snprintf(line, sizeof line, "a%d: &a%d [", i, i);
        strcat(text, line);
        for (int j = 0; j < 10; j++) {
            snprintf(line, sizeof line, "%s*a%d", j ? "," : "", i - 1);
            strcat(text, line);
        }
        strcat(text, "]\n");
    }
    char err[256] = "";
    assert_null(sl__yaml_load(text, strlen(text), NULL, err, sizeof err));
    assert_non_null(strstr(err, "more than 1000000 values"));
}

static void test_errors_fit_the_buffer(void **state)
{
    (void)state;
    char err[8];
    memset(err, 'x', sizeof err);
    const char text[] = "a: 1\na: 2\n";
    assert_null(sl__yaml_load(text, strlen(text), NULL, err, sizeof err));
    assert_string_equal(err, "2:1: `a");
    /* the length given is what is read: no NUL needed, nothing past it looked at */
    const char cut[] = "a: 1\nb: [";
    json_t *v = load_ok("a: 1\nb: 2", NULL);
    json_decref(v);
    v = sl__yaml_load(cut, 4, NULL, err, sizeof err);
    assert_non_null(v);
    check_json(v, "{\"a\": 1}");
    json_decref(v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scalars),           cmocka_unit_test(test_collections),
        cmocka_unit_test(test_anchors_and_aliases), cmocka_unit_test(test_positions),
        cmocka_unit_test(test_where),             cmocka_unit_test(test_broken_yaml),
        cmocka_unit_test(test_refused_features),  cmocka_unit_test(test_errors_fit_the_buffer),
        cmocka_unit_test(test_limits),
    };
    return cmocka_run_group_tests_name("yaml", tests, NULL, NULL);
}
