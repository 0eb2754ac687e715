/* The parser of the expression language: recursive descent over the tokens of lex.c into the
 * tree of internal.h, one node for each run of one operator family. */
#include <stdlib.h>
#include <string.h>

#include "flow/expr/internal.h"

static void seg_clear(seg_t *sg);

void sl__expr_free(node_t *n)
{
    if (!n)
        return;
    for (size_t i = 0; i < n->nkids; i++)
        sl__expr_free(n->kids[i]);
    free(n->kids);
    free(n->ops);
    free(n->opcols);
    json_decref(n->lit);
    for (size_t i = 0; i < n->nsegs; i++)
        seg_clear(&n->segs[i]);
    free(n->segs);
    free(n->text);
    free(n);
}

static void seg_clear(seg_t *sg)
{
    free(sg->name);
    sg->name = NULL;
    sl__expr_free(sg->filter);
    sg->filter = NULL;
}

static node_t *node_new(parser_t *p, node_kind kind, size_t at)
{
    node_t *n = calloc(1, sizeof *n);
    if (!n) {
        sl__expr_perr(p, at, "out of memory");
        return NULL;
    }
    n->kind = kind;
    n->col = p->base + at + 1;
    return n;
}

/* Appends kid (taken: freed on failure) to n's operands, joined by op written at `at`. */
static int add_kid(parser_t *p, node_t *n, node_t *kid, tok_kind op, size_t at)
{
    if (n->nkids == n->cap) {
        size_t cap = n->cap ? n->cap * 2 : 2;
        node_t **k = realloc(n->kids, cap * sizeof *k);
        if (k)
            n->kids = k;
        tok_kind *o = k ? realloc(n->ops, cap * sizeof *o) : NULL;
        if (o)
            n->ops = o;
        size_t *c = o ? realloc(n->opcols, cap * sizeof *c) : NULL;
        if (!c) {
            sl__expr_free(kid);
            sl__expr_perr(p, at, "out of memory");
            return -1;
        }
        n->opcols = c;
        n->cap = cap;
    }
    n->kids[n->nkids] = kid;
    n->ops[n->nkids] = op;
    n->opcols[n->nkids] = p->base + at + 1;
    n->nkids++;
    return 0;
}

static node_t *parse_expr(parser_t *p);

/* `[` ... `]`, with p->tok on the `[`. On failure sg may hold a name or filter to clear. */
static int parse_bracket(parser_t *p, seg_t *sg)
{
    sl__expr_lex(p);
    switch (p->tok.kind) {
    case T_STAR:
        sg->kind = S_WILD;
        sl__expr_lex(p);
        break;
    case T_INT:
        sg->kind = S_INDEX;
        sg->index = p->tok.ival;
        sl__expr_lex(p);
        break;
    case T_MINUS:
        sl__expr_lex(p);
        if (p->tok.kind != T_INT) {
            sl__expr_perr_unexpected(p, "expected an index after `[-`");
            return -1;
        }
        sg->kind = S_INDEX;
        sg->index = -p->tok.ival;
        sl__expr_lex(p);
        break;
    case T_STR:
        sg->kind = S_NAME;
        sg->name = strndup(p->str.data ? p->str.data : "", p->str.len);
        if (!sg->name) {
            sl__expr_perr(p, p->tok.start, "out of memory");
            return -1;
        }
        sl__expr_lex(p);
        break;
    case T_QUESTION:
        sl__expr_lex(p);
        p->in_filter++;
        sg->filter = parse_expr(p);
        p->in_filter--;
        if (!sg->filter)
            return -1;
        sg->kind = S_FILTER;
        break;
    case T_REAL:
        sl__expr_perr(p, p->tok.start, "an index must be a whole number");
        return -1;
    default:
        sl__expr_perr_unexpected(p, "expected an index, a quoted name, `*` or `?` after `[`");
        return -1;
    }
    if (p->tok.kind != T_RBRACK) {
        sl__expr_perr_unexpected(p, "expected `]`");
        return -1;
    }
    sg->end = p->tok.end;
    sl__expr_lex(p);
    return 0;
}

/* One path segment: 1 when there was one (in *sg), 0 at the path's end, -1 on error. */
static int parse_seg(parser_t *p, seg_t *sg)
{
    tok_kind k = p->tok.kind;
    if (k == T_LBRACK) {
        if (parse_bracket(p, sg)) {
            seg_clear(sg);
            return -1;
        }
        return 1;
    }
    if (k != T_DOT && k != T_DOTDOT)
        return 0;
    /* What follows a dot is not a general token: names may hold '-' and start with digits. */
    sg->recursive = k == T_DOTDOT;
    size_t i = p->pos;
    while (i < p->len && sl__expr_is_space(p->s[i]))
        i++;
    if (sg->recursive && i < p->len && p->s[i] == '[') {
        p->pos = i;
        sl__expr_lex(p);
        if (parse_bracket(p, sg)) {
            seg_clear(sg);
            return -1;
        }
        return 1;
    }
    if (i < p->len && p->s[i] == '*') {
        sg->kind = S_WILD;
        sg->end = p->pos = i + 1;
        sl__expr_lex(p);
        return 1;
    }
    size_t j = i;
    while (j < p->len && (sl__expr_is_word(p->s[j]) || (p->s[j] == '-' && j > i && j + 1 < p->len &&
                                                        sl__expr_is_word(p->s[j + 1]))))
        j++;
    if (j == i) {
        sl__expr_perr(p, i, "expected a name or `*` after `%s`", sg->recursive ? ".." : ".");
        return -1;
    }
    sg->kind = S_NAME;
    sg->name = strndup(p->s + i, j - i);
    if (!sg->name) {
        sl__expr_perr(p, i, "out of memory");
        return -1;
    }
    sg->end = p->pos = j;
    sl__expr_lex(p);
    return 1;
}

static node_t *parse_path(parser_t *p)
{
    size_t start = p->tok.start, end = p->tok.end;
    node_t *n = node_new(p, N_PATH, start);
    if (!n)
        return NULL;
    n->from_cur = p->tok.kind == T_CUR;
    n->definite = 1;
    if (n->from_cur && !p->in_filter) {
        sl__expr_perr(p, start, "`@` is only meaningful inside a filter [?(...)]");
        goto fail;
    }
    sl__expr_lex(p);
    for (;;) {
        seg_t sg = {0};
        int rc = parse_seg(p, &sg);
        if (rc < 0)
            goto fail;
        if (rc == 0)
            break;
        if (sg.recursive || sg.kind == S_WILD || sg.kind == S_FILTER)
            n->definite = 0;
        end = sg.end;
        sg.end -= start;
        seg_t *grown = realloc(n->segs, (n->nsegs + 1) * sizeof *grown);
        if (!grown) {
            seg_clear(&sg);
            sl__expr_perr(p, start, "out of memory");
            goto fail;
        }
        n->segs = grown;
        n->segs[n->nsegs++] = sg;
    }
    n->text = strndup(p->s + start, end - start);
    if (!n->text) {
        sl__expr_perr(p, start, "out of memory");
        goto fail;
    }
    return n;
fail:
    sl__expr_free(n);
    return NULL;
}

static node_t *parse_call(parser_t *p, size_t at, const func_t *fn)
{
    node_t *n = node_new(p, N_CALL, at);
    if (!n)
        return NULL;
    n->fn = fn;
    sl__expr_lex(p); /* the ( */
    if (p->tok.kind != T_RPAREN) {
        for (;;) {
            node_t *a = parse_expr(p);
            if (!a || add_kid(p, n, a, T_COMMA, at))
                goto fail;
            if (p->tok.kind != T_COMMA)
                break;
            sl__expr_lex(p);
        }
    }
    if (p->tok.kind != T_RPAREN) {
        sl__expr_perr_unexpected(p, "expected `,` or `)`");
        goto fail;
    }
    sl__expr_lex(p);
    if (n->nkids < fn->min || n->nkids > fn->max) {
        sl__expr_perr(p, at, "%s() takes %s, not %zu", fn->name, fn->arity, n->nkids);
        goto fail;
    }
    if (fn->id == F_EXISTS && n->kids[0]->kind != N_PATH) {
        sl__expr_perr(p, at, "exists() takes a path ($... or @...)");
        goto fail;
    }
    return n;
fail:
    sl__expr_free(n);
    return NULL;
}

static node_t *parse_literal(parser_t *p, json_t *v)
{
    node_t *n = node_new(p, N_LIT, p->tok.start);
    if (n && !v) {
        sl__expr_perr(p, p->tok.start, "out of memory");
        sl__expr_free(n);
        return NULL;
    }
    if (!n) {
        json_decref(v);
        return NULL;
    }
    n->lit = v;
    sl__expr_lex(p);
    return n;
}

static int word_is(const char *w, size_t len, const char *word)
{
    return strlen(word) == len && memcmp(w, word, len) == 0;
}

static node_t *parse_primary(parser_t *p)
{
    tok_t t = p->tok;
    switch (t.kind) {
    case T_INT:
        return parse_literal(p, json_integer(t.ival));
    case T_REAL:
        return parse_literal(p, json_real(t.rval));
    case T_STR:
        return parse_literal(p, json_stringn(p->str.data ? p->str.data : "", p->str.len));
    case T_ROOT:
    case T_CUR:
        return parse_path(p);
    case T_LPAREN: {
        sl__expr_lex(p);
        node_t *n = parse_expr(p);
        if (!n)
            return NULL;
        if (p->tok.kind != T_RPAREN) {
            sl__expr_perr_unexpected(p, "expected `)`");
            sl__expr_free(n);
            return NULL;
        }
        sl__expr_lex(p);
        return n;
    }
    case T_NAME: {
        const char *w = p->s + t.start;
        size_t len = t.end - t.start;
        if (word_is(w, len, "true"))
            return parse_literal(p, json_true());
        if (word_is(w, len, "false"))
            return parse_literal(p, json_false());
        if (word_is(w, len, "null"))
            return parse_literal(p, json_null());
        const func_t *fn = sl__expr_find_func(w, len);
        int shown = len > 40 ? 40 : (int)len;
        sl__expr_lex(p);
        if (p->tok.kind != T_LPAREN) {
            if (fn)
                sl__expr_perr(p, t.start, "%s needs `(`", fn->name);
            else
                sl__expr_perr(p, t.start,
                              "unexpected name `%.*s` (paths start with `$`, strings are quoted)",
                              shown, w);
            return NULL;
        }
        if (!fn) {
            sl__expr_perr(p, t.start, "unknown function `%.*s`", shown, w);
            return NULL;
        }
        return parse_call(p, t.start, fn);
    }
    default:
        sl__expr_perr_unexpected(p, "expected a value");
        return NULL;
    }
}

static node_t *parse_unary(parser_t *p)
{
    tok_kind k = p->tok.kind;
    if (k != T_MINUS && k != T_NOT)
        return parse_primary(p);
    size_t at = p->tok.start;
    if (++p->depth > EXPR_MAX_DEPTH) {
        sl__expr_perr(p, at, "nested too deeply (the limit is %d)", EXPR_MAX_DEPTH);
        return NULL;
    }
    sl__expr_lex(p);
    node_t *kid = parse_unary(p);
    p->depth--;
    if (!kid)
        return NULL;
    node_t *n = node_new(p, k == T_MINUS ? N_NEG : N_NOT, at);
    if (!n || add_kid(p, n, kid, k, at)) {
        if (!n)
            sl__expr_free(kid);
        sl__expr_free(n);
        return NULL;
    }
    return n;
}

static int in_level(int level, tok_kind k)
{
    switch (level) {
    case L_COALESCE:
        return k == T_COALESCE;
    case L_OR:
        return k == T_OR;
    case L_AND:
        return k == T_AND;
    case L_SUM:
        return k == T_PLUS || k == T_MINUS;
    default:
        return k == T_STAR || k == T_SLASH || k == T_PERCENT;
    }
}

static node_t *parse_cmp(parser_t *p);

/* With p->tok on a `!`. */
static node_t *parse_not(parser_t *p)
{
    size_t at = p->tok.start;
    if (++p->depth > EXPR_MAX_DEPTH) {
        sl__expr_perr(p, at, "nested too deeply (the limit is %d)", EXPR_MAX_DEPTH);
        return NULL;
    }
    sl__expr_lex(p);
    node_t *kid;
    if (p->tok.kind == T_NOT) {
        kid = parse_not(p);
    } else {
        /* `!` binds looser than comparisons: !a == b is !(a == b). */
        kid = parse_cmp(p);
    }
    p->depth--;
    if (!kid)
        return NULL;
    node_t *n = node_new(p, N_NOT, at);
    if (!n || add_kid(p, n, kid, T_NOT, at)) {
        if (!n)
            sl__expr_free(kid);
        sl__expr_free(n);
        return NULL;
    }
    return n;
}

static node_t *parse_level(parser_t *p, int level);

static int is_cmp(tok_kind k)
{
    return k == T_EQ || k == T_NE || k == T_LT || k == T_LE || k == T_GT || k == T_GE;
}

static node_t *parse_cmp(parser_t *p)
{
    node_t *l = parse_level(p, L_SUM);
    if (!l || !is_cmp(p->tok.kind))
        return l;
    tok_kind op = p->tok.kind;
    size_t at = p->tok.start;
    sl__expr_lex(p);
    node_t *r = parse_level(p, L_SUM);
    if (!r) {
        sl__expr_free(l);
        return NULL;
    }
    node_t *n = node_new(p, N_CMP, at);
    if (!n) {
        sl__expr_free(l);
        sl__expr_free(r);
        return NULL;
    }
    n->op = op;
    if (add_kid(p, n, l, op, at)) {
        sl__expr_free(r);
        sl__expr_free(n);
        return NULL;
    }
    if (add_kid(p, n, r, op, at)) {
        sl__expr_free(n);
        return NULL;
    }
    if (is_cmp(p->tok.kind)) {
        sl__expr_perr(p, p->tok.start, "comparisons do not chain: use && or parentheses");
        sl__expr_free(n);
        return NULL;
    }
    return n;
}

/* An operand of a chain at `level`: the next tighter level. */
static node_t *parse_operand(parser_t *p, int level)
{
    switch (level) {
    case L_COALESCE:
        return parse_level(p, L_OR);
    case L_OR:
        return parse_level(p, L_AND);
    case L_AND:
        return p->tok.kind == T_NOT ? parse_not(p) : parse_cmp(p);
    case L_SUM:
        return parse_level(p, L_PRODUCT);
    default:
        return parse_unary(p);
    }
}

/* A chain of the operators of one level. */
static node_t *parse_level(parser_t *p, int level)
{
    node_t *first = parse_operand(p, level);
    if (!first || !in_level(level, p->tok.kind))
        return first;
    node_t *n = node_new(p, N_CHAIN, p->tok.start);
    if (!n) {
        sl__expr_free(first);
        return NULL;
    }
    n->op = level;
    n->col = first->col;
    if (add_kid(p, n, first, p->tok.kind, p->tok.start)) {
        sl__expr_free(n);
        return NULL;
    }
    while (in_level(level, p->tok.kind)) {
        tok_kind op = p->tok.kind;
        size_t at = p->tok.start;
        sl__expr_lex(p);
        node_t *r = parse_operand(p, level);
        if (!r || add_kid(p, n, r, op, at)) {
            sl__expr_free(n);
            return NULL;
        }
    }
    return n;
}

static node_t *parse_expr(parser_t *p)
{
    if (++p->depth > EXPR_MAX_DEPTH) {
        sl__expr_perr(p, p->tok.start, "nested too deeply (the limit is %d)", EXPR_MAX_DEPTH);
        return NULL;
    }
    node_t *n = parse_level(p, L_COALESCE);
    p->depth--;
    return n;
}

node_t *sl__expr_parse(const char *s, size_t len, size_t base, char *err, size_t errlen)
{
    parser_t p = {.s = s, .len = len, .base = base, .err = err, .errlen = errlen};
    node_t *n = NULL;
    sl__buf_init(&p.str, EXPR_MAX_LEN);
    if (len > EXPR_MAX_LEN) {
        sl__expr_perr(&p, 0, "expression longer than %d bytes", EXPR_MAX_LEN);
        goto out;
    }
    sl__expr_lex(&p);
    if (p.tok.kind == T_END) {
        sl__expr_perr(&p, p.tok.start, "empty expression");
        goto out;
    }
    n = parse_expr(&p);
    if (n && p.tok.kind != T_END)
        sl__expr_perr_unexpected(&p, "expected an operator or the end");
    if (p.failed) {
        sl__expr_free(n);
        n = NULL;
    }
out:
    sl__buf_cleanup(&p.str);
    return n;
}
