/* The expression and template language of flow files: here its grammar and design, and the
 * public expression functions; the rest is in expr/ (expr/internal.h says which file holds
 * what).
 *
 * Grammar, lowest precedence first (whitespace may separate any two tokens):
 *   expr    := or ( "??" or )*
 *   or      := and ( "||" and )*
 *   and     := not ( "&&" not )*
 *   not     := "!" not | cmp
 *   cmp     := sum [ ( "==" | "!=" | "<" | "<=" | ">" | ">=" ) sum ]      (they do not chain)
 *   sum     := product ( ( "+" | "-" ) product )*
 *   product := unary ( ( "*" | "/" | "%" ) unary )*
 *   unary   := ( "-" | "!" ) unary | primary
 *   primary := number | string | "true" | "false" | "null" | path | "(" expr ")"
 *            | name "(" [ expr ( "," expr )* ] ")"
 *   path    := ( "$" | "@" ) ( "." name | ".*" | ".." name | "..*" | [".."] bracket )*
 *   bracket := "[" ( ["-"] integer | string | "*" | "?" expr ) "]"
 * A name after a dot is letters, digits, "_" and "-", a "-" only when a letter, digit or "_"
 * follows: `$.loop-1` is the member "loop-1", `$.n - 1` a subtraction.
 *
 * A run of one operator family (a + b - c, a && b && c) is one node holding all its operands, so
 * the tree is only as deep as the nesting of parentheses, calls, filters and prefix operators,
 * which the parser bounds; evaluation and freeing recurse no deeper than that. JSON is walked
 * with explicit stacks, and one evaluation has a step budget, so `$..*..*..*` over a large
 * context stops with an error instead of running for minutes.
 *
 * Missing values: a definite path that does not resolve fails with `missing` set, and that
 * failure flows up through operators and calls until ??, default(), exists() or a filter (where
 * it means "no match") absorbs it; at the top it is the error. Other errors are never absorbed
 * (except by exists(), which never fails). */
#include <string.h>

#include "flow/expr/internal.h"

json_t *sl__expr_eval(const char *expr, const json_t *ctx, char *err, size_t errlen)
{
    ev_t ev;
    sl__expr_ev_init(&ev, ctx, err, errlen);
    sl__expr_clear_err(err, errlen);
    if (!expr)
        return sl__expr_efail(&ev, 0, "no expression");
    return sl__expr_own(&ev, sl__expr_eval_source(&ev, expr, strlen(expr), 0));
}

sl_err sl__expr_check(const char *expr, char *err, size_t errlen)
{
    sl__expr_clear_err(err, errlen);
    if (!expr) {
        sl__expr_errf(err, errlen, 0, "no expression");
        return SL_EINVAL;
    }
    node_t *n = sl__expr_parse(expr, strlen(expr), 0, err, errlen);
    if (!n)
        return SL_EINVAL;
    sl__expr_free(n);
    return SL_OK;
}

int sl__expr_truthy(const json_t *v)
{
    return sl__expr_is_true(v);
}

void sl__expr_tree_refs(const node_t *n, sl_expr_ref_fn fn, void *ctx)
{
    if (!n)
        return;
    if (n->kind == N_PATH && !n->from_cur && n->nsegs && n->segs[0].kind == S_NAME &&
        !n->segs[0].recursive) {
        const seg_t *s2 = n->nsegs > 1 ? &n->segs[1] : NULL;
        fn(ctx, n->segs[0].name, s2 && s2->kind == S_NAME && !s2->recursive ? s2->name : NULL,
           n->col);
    }
    for (size_t i = 0; n->kind == N_PATH && i < n->nsegs; i++)
        sl__expr_tree_refs(n->segs[i].filter, fn, ctx);
    for (size_t i = 0; i < n->nkids; i++)
        sl__expr_tree_refs(n->kids[i], fn, ctx);
}

void sl__expr_refs(const char *expr, sl_expr_ref_fn fn, void *ctx)
{
    if (!expr)
        return;
    node_t *n = sl__expr_parse(expr, strlen(expr), 0, NULL, 0);
    sl__expr_tree_refs(n, fn, ctx);
    sl__expr_free(n);
}
