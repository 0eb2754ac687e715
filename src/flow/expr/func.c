/* The functions of the expression language: their table (names and arities, which the parser
 * checks) and what each does. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "flow/expr/internal.h"

#define FN_MAX_ARGS 2

static const func_t funcs[] = {
    {"exists", F_EXISTS, 1, 1, "1 argument"},      {"length", F_LENGTH, 1, 1, "1 argument"},
    {"lower", F_LOWER, 1, 1, "1 argument"},        {"upper", F_UPPER, 1, 1, "1 argument"},
    {"contains", F_CONTAINS, 2, 2, "2 arguments"}, {"join", F_JOIN, 2, 2, "2 arguments"},
    {"string", F_STRING, 1, 1, "1 argument"},      {"number", F_NUMBER, 1, 1, "1 argument"},
    {"default", F_DEFAULT, 2, 2, "2 arguments"},   {"now", F_NOW, 0, 0, "no arguments"},
    {"json", F_JSON, 1, 1, "1 argument"},
};

const func_t *sl__expr_find_func(const char *w, size_t len)
{
    for (size_t i = 0; i < sizeof funcs / sizeof *funcs; i++)
        if (strlen(funcs[i].name) == len && memcmp(funcs[i].name, w, len) == 0)
            return &funcs[i];
    return NULL;
}

static json_t *fn_length(ev_t *ev, const node_t *n, const json_t *a)
{
    json_int_t len;
    if (json_is_string(a)) {
        const char *s = json_string_value(a);
        size_t bytes = json_string_length(a), cps = 0;
        for (size_t i = 0; i < bytes; i++)
            cps += ((unsigned char)s[i] & 0xC0) != 0x80;
        len = (json_int_t)cps;
    } else if (json_is_array(a)) {
        len = (json_int_t)json_array_size(a);
    } else if (json_is_object(a)) {
        len = (json_int_t)json_object_size(a);
    } else {
        return sl__expr_efail(ev, n->col, "length() needs a string, an array or an object, not %s",
                              sl__expr_tname(a));
    }
    json_t *v = json_integer(len);
    return v ? v : sl__expr_enomem(ev);
}

static json_t *fn_case(ev_t *ev, const node_t *n, const json_t *a, int upper)
{
    if (!json_is_string(a))
        return sl__expr_efail(ev, n->col, "%s() needs a string, not %s", n->fn->name,
                              sl__expr_tname(a));
    size_t len = json_string_length(a);
    char *s = malloc(len + 1);
    if (!s)
        return sl__expr_enomem(ev);
    memcpy(s, json_string_value(a), len + 1);
    /* ASCII only: no locale, and the UTF-8 bytes of other letters are left as they are. */
    for (size_t i = 0; i < len; i++) {
        if (upper && s[i] >= 'a' && s[i] <= 'z')
            s[i] = (char)(s[i] - 'a' + 'A');
        else if (!upper && s[i] >= 'A' && s[i] <= 'Z')
            s[i] = (char)(s[i] - 'A' + 'a');
    }
    json_t *v = json_stringn(s, len);
    free(s);
    return v ? v : sl__expr_enomem(ev);
}

static json_t *fn_contains(ev_t *ev, const node_t *n, const json_t *h, const json_t *x)
{
    if (json_is_string(h)) {
        if (!json_is_string(x))
            return sl__expr_efail(ev, n->col,
                                  "contains() on a string needs a string to find, not %s",
                                  sl__expr_tname(x));
        size_t nl = json_string_length(x);
        return json_boolean(nl == 0 || memmem(json_string_value(h), json_string_length(h),
                                              json_string_value(x), nl) != NULL);
    }
    if (json_is_array(h)) {
        for (size_t i = 0; i < json_array_size(h); i++)
            if (sl__expr_values_equal(json_array_get(h, i), x))
                return json_true();
        return json_false();
    }
    if (json_is_object(h)) {
        if (!json_is_string(x))
            return sl__expr_efail(ev, n->col,
                                  "contains() on an object needs a key (a string), not %s",
                                  sl__expr_tname(x));
        return json_boolean(json_object_getn(h, json_string_value(x), json_string_length(x)) !=
                            NULL);
    }
    return sl__expr_efail(ev, n->col, "contains() needs a string, an array or an object, not %s",
                          sl__expr_tname(h));
}

static json_t *fn_join(ev_t *ev, const node_t *n, const json_t *a, const json_t *sep)
{
    if (!json_is_array(a))
        return sl__expr_efail(ev, n->col, "join() needs an array, not %s", sl__expr_tname(a));
    if (!json_is_string(sep))
        return sl__expr_efail(ev, n->col, "join() needs a string separator, not %s",
                              sl__expr_tname(sep));
    sl_buf_t b;
    sl__buf_init(&b, TEXT_MAX);
    for (size_t i = 0; i < json_array_size(a); i++) {
        if ((i && sl__expr_put_text(ev, &b, sep)) ||
            sl__expr_put_text(ev, &b, json_array_get(a, i))) {
            sl__buf_cleanup(&b);
            return NULL;
        }
    }
    return sl__expr_take_string(ev, &b);
}

static json_t *fn_number(ev_t *ev, const node_t *n, const json_t *a)
{
    if (json_is_number(a))
        return json_incref((json_t *)a);
    if (!json_is_string(a))
        return sl__expr_efail(ev, n->col, "number() needs a number or a numeric string, not %s",
                              sl__expr_tname(a));
    const char *s = json_string_value(a);
    size_t i = 0, end = json_string_length(a);
    while (i < end && sl__expr_is_space(s[i]))
        i++;
    while (end > i && sl__expr_is_space(s[end - 1]))
        end--;
    int neg = i < end && s[i] == '-', real;
    i += (size_t)neg;
    size_t len = sl__expr_scan_number(s + i, end - i, &real);
    if (!len || i + len != end)
        return sl__expr_efail(ev, n->col, "number() found a string that is not a number");
    json_int_t iv;
    double rv;
    json_t *v;
    switch (sl__expr_number_value(s + i, len, real, neg, &iv, &rv)) {
    case NUM_INT:
        v = json_integer(iv);
        break;
    case NUM_REAL:
        v = json_real(rv);
        break;
    case NUM_RANGE:
        return sl__expr_efail(ev, n->col, "number() found a number out of range");
    default:
        v = NULL;
    }
    return v ? v : sl__expr_enomem(ev);
}

static json_t *fn_json(ev_t *ev, const json_t *a)
{
    if (json_is_real(a)) /* the same shortest form that splicing uses */
        return sl__expr_text_of(ev, a);
    char *dump = json_dumps(a, JSON_COMPACT | JSON_ENCODE_ANY);
    if (!dump)
        return sl__expr_enomem(ev);
    size_t len = strlen(dump);
    if (sl__expr_charge(ev, len / 16)) {
        free(dump);
        return NULL;
    }
    json_t *v = json_stringn(dump, len);
    free(dump);
    return v ? v : sl__expr_enomem(ev);
}

json_t *sl__expr_eval_call(ev_t *ev, const node_t *n, json_t *cur)
{
    json_t *r;
    switch (n->fn->id) {
    case F_EXISTS:
        r = sl__expr_eval_node(ev, n->kids[0], cur);
        if (!r) {
            sl__expr_eforget(ev); /* exists() never fails: anything that went wrong means no */
            return json_false();
        }
        {
            int yes = n->kids[0]->definite || json_array_size(r) > 0;
            json_decref(r);
            return json_boolean(yes);
        }
    case F_DEFAULT:
        return sl__expr_coalesce(ev, n->kids, 2, cur);
    case F_NOW:
        r = json_integer((json_int_t)time(NULL));
        return r ? r : sl__expr_enomem(ev);
    default:
        break;
    }
    json_t *a[FN_MAX_ARGS] = {NULL, NULL};
    for (size_t i = 0; i < n->nkids; i++) {
        a[i] = sl__expr_eval_node(ev, n->kids[i], cur);
        if (!a[i]) {
            json_decref(a[0]);
            return NULL;
        }
    }
    switch (n->fn->id) {
    case F_LENGTH:
        r = fn_length(ev, n, a[0]);
        break;
    case F_LOWER:
    case F_UPPER:
        r = fn_case(ev, n, a[0], n->fn->id == F_UPPER);
        break;
    case F_CONTAINS:
        r = fn_contains(ev, n, a[0], a[1]);
        break;
    case F_JOIN:
        r = fn_join(ev, n, a[0], a[1]);
        break;
    case F_STRING:
        r = sl__expr_text_of(ev, a[0]);
        break;
    case F_NUMBER:
        r = fn_number(ev, n, a[0]);
        break;
    default:
        r = fn_json(ev, a[0]);
    }
    json_decref(a[0]);
    json_decref(a[1]);
    return r;
}
