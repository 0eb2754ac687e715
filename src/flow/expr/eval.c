/* Evaluation: a tree against a context, with a step budget. Operators, comparisons and
 * values spliced as text live here; paths in path.c, functions in func.c. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/utf8.h"
#include "flow/expr/internal.h"

json_t *sl__expr_efail(ev_t *ev, size_t col, const char *fmt, ...)
{
    ev->missing = 0;
    va_list ap;
    va_start(ap, fmt);
    sl__expr_verrf(ev->err, ev->errlen, col, fmt, ap);
    va_end(ap);
    return NULL;
}

const char *sl__expr_tname(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        return "an object";
    case JSON_ARRAY:
        return "an array";
    case JSON_STRING:
        return "a string";
    case JSON_INTEGER:
    case JSON_REAL:
        return "a number";
    case JSON_TRUE:
    case JSON_FALSE:
        return "a boolean";
    default:
        return "null";
    }
}

/* -1, 0 or 1 as the number a is below, equal to or above b, exactly for any mix of 64-bit
 * integers and doubles (converting the integer would round past 2^53). */
static int num_cmp(const json_t *a, const json_t *b)
{
    if (json_is_integer(a) && json_is_integer(b)) {
        json_int_t x = json_integer_value(a), y = json_integer_value(b);
        return (x > y) - (x < y);
    }
    if (json_is_real(a) && json_is_real(b)) {
        double x = json_real_value(a), y = json_real_value(b);
        return (x > y) - (x < y);
    }
    int flip = json_is_real(a);
    json_int_t x = json_integer_value(flip ? b : a);
    double y = json_real_value(flip ? a : b);
    int c;
    if (y >= 9223372036854775808.0) {
        c = -1;
    } else if (y < -9223372036854775808.0) {
        c = 1;
    } else {
        double fy = floor(y);
        json_int_t iy = (json_int_t)fy;
        c = x < iy ? -1 : x > iy ? 1 : fy < y ? -1 : 0;
    }
    return flip ? -c : c;
}

int sl__expr_values_equal(const json_t *a, const json_t *b)
{
    if (json_is_number(a) && json_is_number(b))
        return num_cmp(a, b) == 0;
    return json_equal(a, b);
}

static int str_cmp(const json_t *a, const json_t *b)
{
    size_t la = json_string_length(a), lb = json_string_length(b);
    int c = memcmp(json_string_value(a), json_string_value(b), la < lb ? la : lb);
    if (c)
        return c < 0 ? -1 : 1;
    return (la > lb) - (la < lb);
}

static const char *op_text(tok_kind k)
{
    switch (k) {
    case T_EQ:
        return "==";
    case T_NE:
        return "!=";
    case T_LT:
        return "<";
    case T_LE:
        return "<=";
    case T_GT:
        return ">";
    case T_GE:
        return ">=";
    case T_PLUS:
        return "+";
    case T_MINUS:
        return "-";
    case T_STAR:
        return "*";
    case T_SLASH:
        return "/";
    default:
        return "%";
    }
}

static json_t *eval_cmp(ev_t *ev, const node_t *n, json_t *cur)
{
    json_t *a = sl__expr_eval_node(ev, n->kids[0], cur), *b = NULL, *r = NULL;
    if (!a)
        return NULL;
    b = sl__expr_eval_node(ev, n->kids[1], cur);
    if (!b)
        goto out;
    tok_kind op = (tok_kind)n->op;
    int c;
    if (op == T_EQ || op == T_NE) {
        r = json_boolean(sl__expr_values_equal(a, b) == (op == T_EQ));
        goto out;
    }
    if (json_is_number(a) && json_is_number(b)) {
        c = num_cmp(a, b);
    } else if (json_is_string(a) && json_is_string(b)) {
        c = str_cmp(a, b);
    } else {
        sl__expr_efail(ev, n->col, "cannot order %s and %s with `%s`", sl__expr_tname(a),
                       sl__expr_tname(b), op_text(op));
        goto out;
    }
    r = json_boolean(op == T_LT ? c < 0 : op == T_LE ? c <= 0 : op == T_GT ? c > 0 : c >= 0);
out:
    json_decref(a);
    json_decref(b);
    return r;
}

/* The shortest text that reads back as the same double, as JSON writes reals ("2.0"). */
static sl_err put_real(sl_buf_t *b, double d)
{
    char tmp[40];
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(tmp, sizeof tmp - 2, "%.*g", prec, d);
        if (strtod(tmp, NULL) == d)
            break;
    }
    if (!strpbrk(tmp, ".e"))
        strcat(tmp, ".0");
    return sl__buf_puts(b, tmp);
}

int sl__expr_put_text(ev_t *ev, sl_buf_t *b, const json_t *v)
{
    sl_err rc;
    char *dump;
    size_t before = b->len;
    switch (json_typeof(v)) {
    case JSON_STRING:
        rc = sl__buf_append(b, json_string_value(v), json_string_length(v));
        break;
    case JSON_NULL:
        rc = SL_OK;
        break;
    case JSON_TRUE:
        rc = sl__buf_puts(b, "true");
        break;
    case JSON_FALSE:
        rc = sl__buf_puts(b, "false");
        break;
    case JSON_INTEGER:
        rc = sl__buf_printf(b, "%lld", (long long)json_integer_value(v));
        break;
    case JSON_REAL:
        rc = put_real(b, json_real_value(v));
        break;
    default:
        dump = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
        if (!dump) {
            sl__expr_enomem(ev);
            return -1;
        }
        rc = sl__buf_puts(b, dump);
        free(dump);
    }
    if (rc == SL_ETOOBIG) {
        sl__expr_efail(ev, 0, "text longer than %u bytes", TEXT_MAX);
        return -1;
    }
    if (rc) {
        sl__expr_enomem(ev);
        return -1;
    }
    return sl__expr_charge(ev, (b->len - before) / 16);
}

json_t *sl__expr_take_string(ev_t *ev, sl_buf_t *b)
{
    json_t *s = json_stringn(b->data ? b->data : "", b->len);
    if (!s && sl__utf8_bad_at(b->data, b->len) < b->len)
        sl__expr_efail(ev, 0, "the text is not valid UTF-8");
    else if (!s)
        sl__expr_enomem(ev);
    sl__buf_cleanup(b);
    return s;
}

json_t *sl__expr_text_of(ev_t *ev, const json_t *v)
{
    if (json_is_string(v))
        return json_incref((json_t *)v);
    sl_buf_t b;
    sl__buf_init(&b, TEXT_MAX);
    if (sl__expr_put_text(ev, &b, v)) {
        sl__buf_cleanup(&b);
        return NULL;
    }
    return sl__expr_take_string(ev, &b);
}

static json_t *concat(ev_t *ev, const json_t *a, const json_t *b)
{
    sl_buf_t buf;
    sl__buf_init(&buf, TEXT_MAX);
    if (sl__expr_put_text(ev, &buf, a) || sl__expr_put_text(ev, &buf, b)) {
        sl__buf_cleanup(&buf);
        return NULL;
    }
    return sl__expr_take_string(ev, &buf);
}

static json_t *arith(ev_t *ev, tok_kind op, size_t col, const json_t *a, const json_t *b)
{
    if (op == T_PLUS && (json_is_string(a) || json_is_string(b)))
        return concat(ev, a, b);
    if (!json_is_number(a) || !json_is_number(b))
        return sl__expr_efail(ev, col, "`%s` needs numbers, not %s and %s", op_text(op),
                              sl__expr_tname(a), sl__expr_tname(b));
    if (json_is_integer(a) && json_is_integer(b)) {
        json_int_t x = json_integer_value(a), y = json_integer_value(b), r = 0;
        int over = 0;
        switch (op) {
        case T_PLUS:
            over = __builtin_add_overflow(x, y, &r);
            break;
        case T_MINUS:
            over = __builtin_sub_overflow(x, y, &r);
            break;
        case T_STAR:
            over = __builtin_mul_overflow(x, y, &r);
            break;
        case T_SLASH:
            if (y == 0)
                return sl__expr_efail(ev, col, "division by zero");
            if (y == -1) {
                over = __builtin_sub_overflow((json_int_t)0, x, &r);
                break;
            }
            /* 1999 / 100 is 19.99, not 19: an integer only when it divides exactly. */
            if (x % y)
                return json_real((double)x / (double)y);
            r = x / y;
            break;
        default:
            if (y == 0)
                return sl__expr_efail(ev, col, "division by zero (in `%%`)");
            r = y == -1 ? 0 : x % y; /* LLONG_MIN % -1 is undefined in C */
        }
        if (over)
            return sl__expr_efail(ev, col, "`%s` overflows 64-bit integers", op_text(op));
        json_t *v = json_integer(r);
        return v ? v : sl__expr_enomem(ev);
    }
    double x = json_number_value(a), y = json_number_value(b), r;
    switch (op) {
    case T_PLUS:
        r = x + y;
        break;
    case T_MINUS:
        r = x - y;
        break;
    case T_STAR:
        r = x * y;
        break;
    case T_SLASH:
        if (y == 0)
            return sl__expr_efail(ev, col, "division by zero");
        r = x / y;
        break;
    default:
        if (y == 0)
            return sl__expr_efail(ev, col, "division by zero (in `%%`)");
        r = fmod(x, y);
    }
    if (!isfinite(r))
        return sl__expr_efail(ev, col, "`%s` overflows (the result is not a finite number)",
                              op_text(op));
    json_t *v = json_real(r);
    return v ? v : sl__expr_enomem(ev);
}

json_t *sl__expr_coalesce(ev_t *ev, node_t *const *kids, size_t n, json_t *cur)
{
    for (size_t i = 0; i + 1 < n; i++) {
        json_t *v = sl__expr_eval_node(ev, kids[i], cur);
        if (v && !json_is_null(v))
            return v;
        if (!v && !ev->missing)
            return NULL;
        json_decref(v);
        sl__expr_eforget(ev);
    }
    return sl__expr_eval_node(ev, kids[n - 1], cur);
}

static json_t *eval_chain(ev_t *ev, const node_t *n, json_t *cur)
{
    if (n->op == L_COALESCE)
        return sl__expr_coalesce(ev, n->kids, n->nkids, cur);
    if (n->op == L_OR || n->op == L_AND) {
        int stop_on = n->op == L_OR; /* the truth value that decides the chain */
        for (size_t i = 0; i < n->nkids; i++) {
            json_t *v = sl__expr_eval_node(ev, n->kids[i], cur);
            if (!v)
                return NULL;
            int t = sl__expr_is_true(v);
            json_decref(v);
            if (t == stop_on)
                return json_boolean(t);
        }
        return json_boolean(!stop_on);
    }
    json_t *acc = sl__expr_eval_node(ev, n->kids[0], cur);
    for (size_t i = 1; acc && i < n->nkids; i++) {
        json_t *r = sl__expr_eval_node(ev, n->kids[i], cur);
        json_t *next = r ? arith(ev, n->ops[i], n->opcols[i], acc, r) : NULL;
        json_decref(r);
        json_decref(acc);
        acc = next;
    }
    return acc;
}

static json_t *eval_neg(ev_t *ev, const node_t *n, json_t *cur)
{
    json_t *v = sl__expr_eval_node(ev, n->kids[0], cur), *r;
    if (!v)
        return NULL;
    if (json_is_integer(v)) {
        json_int_t x;
        int over = __builtin_sub_overflow((json_int_t)0, json_integer_value(v), &x);
        json_decref(v);
        if (over)
            return sl__expr_efail(ev, n->col, "`-` overflows 64-bit integers");
        r = json_integer(x);
    } else if (json_is_real(v)) {
        r = json_real(-json_real_value(v));
        json_decref(v);
    } else {
        r = sl__expr_efail(ev, n->col, "`-` needs a number, not %s", sl__expr_tname(v));
        json_decref(v);
        return r;
    }
    return r ? r : sl__expr_enomem(ev);
}

json_t *sl__expr_eval_node(ev_t *ev, const node_t *n, json_t *cur)
{
    if (sl__expr_charge(ev, 1))
        return NULL;
    switch (n->kind) {
    case N_LIT:
        return json_incref(n->lit);
    case N_PATH:
        return sl__expr_eval_path(ev, n, cur);
    case N_CHAIN:
        return eval_chain(ev, n, cur);
    case N_CMP:
        return eval_cmp(ev, n, cur);
    case N_NOT: {
        json_t *v = sl__expr_eval_node(ev, n->kids[0], cur);
        if (!v)
            return NULL;
        int t = sl__expr_is_true(v);
        json_decref(v);
        return json_boolean(!t);
    }
    case N_NEG:
        return eval_neg(ev, n, cur);
    default:
        return sl__expr_eval_call(ev, n, cur);
    }
}

json_t *sl__expr_eval_source(ev_t *ev, const char *s, size_t len, size_t base)
{
    node_t *n = sl__expr_parse(s, len, base, ev->err, ev->errlen);
    if (!n) {
        ev->missing = 0;
        return NULL;
    }
    json_t *v = sl__expr_eval_node(ev, n, (json_t *)ev->root);
    sl__expr_free(n);
    return v;
}

json_t *sl__expr_own(ev_t *ev, json_t *v)
{
    if (!v)
        return NULL;
    json_t *c = json_deep_copy(v);
    json_decref(v);
    if (!c)
        return sl__expr_enomem(ev);
    sl__expr_clear_err(ev->err, ev->errlen); /* absorbed failures may have left text behind */
    return c;
}
