/* Internals of the expression and template language (flow/expr.h), shared by its files:
 *   ../expr.c     the grammar and the design, and the public expression functions
 *   lex.c         error text, numbers and tokens
 *   parse.c       the parser: text to a tree of nodes
 *   path.c        JSONPath selection
 *   eval.c        evaluating a tree: operators, comparisons, values spliced as text
 *   func.c        the functions (exists, length, ...)
 *   template.c    templates and JSON values holding them
 * Small helpers called in inner loops are static inline here, not calls into another file. */
#ifndef SLUICE_FLOW_EXPR_INTERNAL_H
#define SLUICE_FLOW_EXPR_INTERNAL_H

#include <stdarg.h>
#include <stddef.h>

#include <jansson.h>

#include "core/buf.h"
#include "flow/expr.h"

#define EXPR_MAX_LEN 8192        /* bytes in one expression */
#define EXPR_MAX_DEPTH 64        /* nested parentheses, calls, filters and prefix operators */
#define EVAL_MAX_STEPS 5000000UL /* nodes evaluated and visited, plus text built / 16 */
#define TEXT_MAX (16u << 20)     /* bytes in one string built by an evaluation or a template */

/* The code assumes jansson's integers are 64-bit long long (LLONG_MIN, "%lld"). */
_Static_assert(sizeof(json_int_t) == sizeof(long long), "json_int_t must be long long");

/* ---- error text (lex.c) ---- */

/* Writes "column N: message" (no prefix when col is 0) into err (`errlen` bytes, may be
 * NULL/0), a UTF-8 sequence cut by truncation removed. */
void sl__expr_verrf(char *err, size_t errlen, size_t col, const char *fmt, va_list ap);

/* sl__expr_verrf with its arguments. */
void sl__expr_errf(char *err, size_t errlen, size_t col, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static inline void sl__expr_clear_err(char *err, size_t errlen)
{
    if (err && errlen)
        err[0] = '\0';
}

/* ---- characters ---- */

static inline int sl__expr_is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static inline int sl__expr_is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static inline int sl__expr_is_alpha(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static inline int sl__expr_is_word(char c)
{
    return sl__expr_is_alpha(c) || sl__expr_is_digit(c);
}

/* ---- numbers (lex.c): literals and number() read them alike ---- */

/* The length of the unsigned number at s[0..len) (digits, then an optional fraction and
 * exponent as in JSON; leading zeros allowed), 0 if there is none. *real is set when it has a
 * fraction or an exponent. */
size_t sl__expr_scan_number(const char *s, size_t len, int *real);

enum { NUM_INT, NUM_REAL, NUM_RANGE, NUM_NOMEM };

/* The value of the n bytes sl__expr_scan_number measured at s, negated when neg. NUM_INT (*iv)
 * when it is written as an integer and fits in 64 bits, NUM_REAL (*rv) otherwise, NUM_RANGE for
 * a real too large for a double, NUM_NOMEM. */
int sl__expr_number_value(const char *s, size_t n, int real, int neg, json_int_t *iv, double *rv);

/* ---- tokens ---- */

typedef enum tok_kind {
    T_END,
    T_ERR,
    T_INT,
    T_REAL,
    T_STR,
    T_NAME,
    T_ROOT,
    T_CUR,
    T_DOT,
    T_DOTDOT,
    T_LBRACK,
    T_RBRACK,
    T_LPAREN,
    T_RPAREN,
    T_COMMA,
    T_STAR,
    T_QUESTION,
    T_COALESCE,
    T_OR,
    T_AND,
    T_NOT,
    T_EQ,
    T_NE,
    T_LT,
    T_LE,
    T_GT,
    T_GE,
    T_PLUS,
    T_MINUS,
    T_SLASH,
    T_PERCENT,
} tok_kind;

typedef struct tok {
    tok_kind kind;
    size_t start, end; /* offsets in the parser's source */
    json_int_t ival;
    double rval;
} tok_t;

/* ---- the tree ---- */

typedef enum node_kind { N_LIT, N_PATH, N_CHAIN, N_CMP, N_NOT, N_NEG, N_CALL } node_kind;

/* The operator families that chain (N_CHAIN's op). */
enum { L_COALESCE, L_OR, L_AND, L_SUM, L_PRODUCT };

typedef enum seg_kind { S_NAME, S_INDEX, S_WILD, S_FILTER } seg_kind;

typedef enum fn_id {
    F_EXISTS,
    F_LENGTH,
    F_LOWER,
    F_UPPER,
    F_CONTAINS,
    F_JOIN,
    F_STRING,
    F_NUMBER,
    F_DEFAULT,
    F_NOW,
    F_JSON,
} fn_id;

typedef struct func {
    const char *name;
    fn_id id;
    size_t min, max;
    const char *arity; /* for messages */
} func_t;

typedef struct node node_t;

typedef struct seg {
    seg_kind kind;
    int recursive; /* after ".." */
    char *name;
    json_int_t index;
    node_t *filter;
    size_t end; /* where the segment ends in the path's text, for messages */
} seg_t;

struct node {
    node_kind kind;
    size_t col; /* 1-based, in what the user wrote */
    int op;     /* N_CHAIN: the family (L_*); N_CMP: the token */
    json_t *lit;
    node_t **kids;
    tok_kind *ops; /* N_CHAIN: ops[i] joins kids[i - 1] and kids[i] */
    size_t *opcols;
    size_t nkids, cap;
    const func_t *fn;
    seg_t *segs;
    size_t nsegs;
    char *text; /* N_PATH: as written */
    int from_cur;
    int definite;
};

/* ---- the parser (lex.c, parse.c) ---- */

typedef struct parser {
    const char *s;
    size_t len;
    size_t base; /* where s starts in what the user wrote (a template), for columns */
    size_t pos;  /* the first byte after tok */
    tok_t tok;
    int depth;
    int in_filter;
    int failed;
    char *err;
    size_t errlen;
    sl_buf_t str; /* the decoded text of a T_STR token */
} parser_t;

/* Sets p's error to "column N: message" for byte `at` of p->s. Records the first error only:
 * later ones are consequences of it. */
void sl__expr_perr(parser_t *p, size_t at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* "<want>, found `<the token>`" (or "found the end of the expression") at p->tok. */
void sl__expr_perr_unexpected(parser_t *p, const char *want);

/* Reads the token at p->pos into p->tok (a T_STR's text into p->str); T_ERR with the error
 * set when there is no valid token there. */
void sl__expr_lex(parser_t *p);

/* Parses s[0..len), which starts at offset `base` of what the user wrote. Returns a tree the
 * caller frees with sl__expr_free, or NULL with err set when it is not one whole expression. */
node_t *sl__expr_parse(const char *s, size_t len, size_t base, char *err, size_t errlen);

/* Frees a tree (NULL is fine). */
void sl__expr_free(node_t *n);

/* sl__expr_refs over a parsed tree (expr.c). */
void sl__expr_tree_refs(const node_t *n, sl_expr_ref_fn fn, void *ctx);

/* The function called `w` (len bytes), NULL if there is none (func.c). */
const func_t *sl__expr_find_func(const char *w, size_t len);

/* ---- evaluation (eval.c) ---- */

typedef struct ev {
    const json_t *root;
    char *err;
    size_t errlen;
    int missing; /* the last failure is a path that did not resolve */
    unsigned long steps;
} ev_t;

static inline void sl__expr_ev_init(ev_t *ev, const json_t *ctx, char *err, size_t errlen)
{
    *ev = (ev_t){.root = ctx ? ctx : json_null(), .err = err, .errlen = errlen};
}

/* Fails the evaluation with "column N: message" (col 0: no column) that is not a missing
 * value; returns NULL. */
json_t *sl__expr_efail(ev_t *ev, size_t col, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static inline json_t *sl__expr_enomem(ev_t *ev)
{
    return sl__expr_efail(ev, 0, "out of memory");
}

/* Absorbs the last failure (a missing value, where that means "no"). */
static inline void sl__expr_eforget(ev_t *ev)
{
    ev->missing = 0;
    sl__expr_clear_err(ev->err, ev->errlen);
}

/* Counts n steps against the budget: -1 with the error set past it. */
static inline int sl__expr_charge(ev_t *ev, unsigned long n)
{
    ev->steps += n;
    if (ev->steps <= EVAL_MAX_STEPS)
        return 0;
    sl__expr_efail(ev, 0, "the expression does too much work (over %lu steps)", EVAL_MAX_STEPS);
    return -1;
}

/* sl__expr_truthy, inline: && || ! and filters ask it of every operand and match. */
static inline int sl__expr_is_true(const json_t *v)
{
    if (!v)
        return 0;
    switch (json_typeof(v)) {
    case JSON_FALSE:
    case JSON_NULL:
        return 0;
    case JSON_INTEGER:
        return json_integer_value(v) != 0;
    case JSON_REAL:
        return json_real_value(v) != 0.0;
    case JSON_STRING:
        return json_string_length(v) != 0;
    case JSON_ARRAY:
        return json_array_size(v) != 0;
    case JSON_OBJECT:
        return json_object_size(v) != 0;
    default:
        return 1;
    }
}

/* "an object", "a number", ... for messages. */
const char *sl__expr_tname(const json_t *v);

/* Evaluates n with `cur` as @. Returns a new reference (which may share values with the
 * context), or NULL with the error set and ev->missing telling whether it is a missing value. */
json_t *sl__expr_eval_node(ev_t *ev, const node_t *n, json_t *cur);

/* Parses and evaluates s[0..len) (at `base` of what the user wrote), as sl__expr_eval_node. */
json_t *sl__expr_eval_source(ev_t *ev, const char *s, size_t len, size_t base);

/* A copy of v (taken) that shares nothing with the context, so the caller may change it; the
 * error text that absorbed failures left behind is cleared. NULL for a NULL v. */
json_t *sl__expr_own(ev_t *ev, json_t *v);

/* ==: numbers by value (1 == 1.0), everything else as json_equal. */
int sl__expr_values_equal(const json_t *a, const json_t *b);

/* `??` and default(): the first of the n operands that resolves to something other than null
 * (the last one as it is). */
json_t *sl__expr_coalesce(ev_t *ev, node_t *const *kids, size_t n, json_t *cur);

/* Appends v as a template splices it: strings raw, null as nothing, the rest as compact JSON
 * (reals in their shortest form). -1 with the error set on failure. */
int sl__expr_put_text(ev_t *ev, sl_buf_t *b, const json_t *v);

/* A JSON string of b's contents (b is cleaned up), NULL with the error set. */
json_t *sl__expr_take_string(ev_t *ev, sl_buf_t *b);

/* v as a string, as sl__expr_put_text writes it. */
json_t *sl__expr_text_of(ev_t *ev, const json_t *v);

/* An N_PATH node's value: the value a definite path names (a missing value when it does not
 * resolve), or an array of every match (path.c). */
json_t *sl__expr_eval_path(ev_t *ev, const node_t *n, json_t *cur);

/* An N_CALL node's value (func.c). */
json_t *sl__expr_eval_call(ev_t *ev, const node_t *n, json_t *cur);

#endif
