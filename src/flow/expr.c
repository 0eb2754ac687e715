/* The expression and template language of flow files.
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
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/buf.h"
#include "flow/expr.h"

#define EXPR_MAX_LEN 8192        /* bytes in one expression */
#define EXPR_MAX_DEPTH 64        /* nested parentheses, calls, filters and prefix operators */
#define EVAL_MAX_STEPS 5000000UL /* nodes evaluated and visited, plus text built / 16 */
#define TEXT_MAX (16u << 20)     /* bytes in one string built by an evaluation or a template */
#define RENDER_MAX_DEPTH 256     /* nesting of a value given to sl__template_render_json */
#define FN_MAX_ARGS 2

/* The code below assumes jansson's integers are 64-bit long long (LLONG_MIN, "%lld"). */
_Static_assert(sizeof(json_int_t) == sizeof(long long), "json_int_t must be long long");

/* ---- error text ---- */

/* Cuts a UTF-8 sequence that truncation left incomplete at the end of err: messages quote the
 * expression, and a caller may put them into JSON, which refuses broken UTF-8. */
static void trim_partial_utf8(char *err)
{
    size_t len = strlen(err), i = len;
    while (i > 0 && ((unsigned char)err[i - 1] & 0xC0) == 0x80)
        i--;
    if (i == 0 || (unsigned char)err[i - 1] < 0xC0)
        return;
    unsigned char lead = (unsigned char)err[i - 1];
    size_t want = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : 2;
    if (len - (i - 1) < want)
        err[i - 1] = '\0';
}

/* Writes "column N: message" (no prefix when col is 0) into err. */
static void verrf(char *err, size_t errlen, size_t col, const char *fmt, va_list ap)
{
    if (!err || !errlen)
        return;
    size_t n = 0;
    if (col) {
        int w = snprintf(err, errlen, "column %zu: ", col);
        if (w < 0 || (size_t)w >= errlen) {
            trim_partial_utf8(err);
            return;
        }
        n = (size_t)w;
    }
    int w = vsnprintf(err + n, errlen - n, fmt, ap);
    if (w < 0 || (size_t)w >= errlen - n)
        trim_partial_utf8(err);
}

static void errf(char *err, size_t errlen, size_t col, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void errf(char *err, size_t errlen, size_t col, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    verrf(err, errlen, col, fmt, ap);
    va_end(ap);
}

static void clear_err(char *err, size_t errlen)
{
    if (err && errlen)
        err[0] = '\0';
}

/* ---- characters ---- */

static int is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static int is_alpha(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static int is_word(char c)
{
    return is_alpha(c) || is_digit(c);
}

/* The length of the UTF-8 sequence at p (p[0] >= 0x80), 0 if it is not one jansson would take
 * (overlong forms, surrogates and code points past U+10FFFF are refused). */
static size_t utf8_seq(const unsigned char *p, size_t avail)
{
    unsigned lead = p[0], cp;
    size_t n;
    if (lead >= 0xC2 && lead <= 0xDF) {
        n = 2;
        cp = lead & 0x1F;
    } else if (lead >= 0xE0 && lead <= 0xEF) {
        n = 3;
        cp = lead & 0x0F;
    } else if (lead >= 0xF0 && lead <= 0xF4) {
        n = 4;
        cp = lead & 0x07;
    } else {
        return 0;
    }
    if (avail < n)
        return 0;
    for (size_t i = 1; i < n; i++) {
        if ((p[i] & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (p[i] & 0x3Fu);
    }
    if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) || cp > 0x10FFFF ||
        (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return n;
}

/* The offset of the first byte that is not valid UTF-8, len if there is none. */
static size_t utf8_bad_at(const char *s, size_t len)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0;
    while (i < len) {
        if (u[i] < 0x80) {
            i++;
            continue;
        }
        size_t n = utf8_seq(u + i, len - i);
        if (!n)
            return i;
        i += n;
    }
    return len;
}

static sl_err put_utf8(sl_buf_t *b, unsigned cp)
{
    char o[4];
    size_t n;
    if (cp < 0x80) {
        o[0] = (char)cp;
        n = 1;
    } else if (cp < 0x800) {
        o[0] = (char)(0xC0 | (cp >> 6));
        o[1] = (char)(0x80 | (cp & 0x3F));
        n = 2;
    } else if (cp < 0x10000) {
        o[0] = (char)(0xE0 | (cp >> 12));
        o[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (char)(0x80 | (cp & 0x3F));
        n = 3;
    } else {
        o[0] = (char)(0xF0 | (cp >> 18));
        o[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
        o[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
        o[3] = (char)(0x80 | (cp & 0x3F));
        n = 4;
    }
    return sl__buf_append(b, o, n);
}

static int hex4(const char *s, size_t avail, unsigned *out)
{
    if (avail < 4)
        return -1;
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        char c = s[i];
        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f')
            v |= (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            v |= (unsigned)(c - 'A' + 10);
        else
            return -1;
    }
    *out = v;
    return 0;
}

/* ---- numbers ---- */

/* The length of the unsigned number at s[0..len) (digits, then an optional fraction and
 * exponent as in JSON; leading zeros allowed), 0 if there is none. *real is set when it has a
 * fraction or an exponent. */
static size_t scan_number(const char *s, size_t len, int *real)
{
    size_t i = 0;
    *real = 0;
    while (i < len && is_digit(s[i]))
        i++;
    if (!i)
        return 0;
    if (i + 1 < len && s[i] == '.' && is_digit(s[i + 1])) {
        *real = 1;
        i++;
        while (i < len && is_digit(s[i]))
            i++;
    }
    if (i < len && (s[i] == 'e' || s[i] == 'E')) {
        size_t k = i + 1;
        if (k < len && (s[k] == '+' || s[k] == '-'))
            k++;
        if (k < len && is_digit(s[k])) {
            *real = 1;
            i = k;
            while (i < len && is_digit(s[i]))
                i++;
        }
    }
    return i;
}

enum { NUM_INT, NUM_REAL, NUM_RANGE, NUM_NOMEM };

/* The value of the n bytes scan_number measured at s, negated when neg. NUM_INT (*iv) when it
 * is written as an integer and fits in 64 bits, NUM_REAL (*rv) otherwise, NUM_RANGE for a real
 * too large for a double. */
static int number_value(const char *s, size_t n, int real, int neg, json_int_t *iv, double *rv)
{
    if (!real) {
        unsigned long long u = 0;
        int over = 0;
        for (size_t i = 0; i < n && !over; i++)
            over = __builtin_mul_overflow(u, 10ULL, &u) ||
                   __builtin_add_overflow(u, (unsigned long long)(s[i] - '0'), &u);
        if (!over && u <= (unsigned long long)LLONG_MAX) {
            *iv = neg ? -(json_int_t)u : (json_int_t)u;
            return NUM_INT;
        }
        if (!over && neg && u == (unsigned long long)LLONG_MAX + 1) {
            *iv = LLONG_MIN;
            return NUM_INT;
        }
    }
    /* strtod wants a terminated string and would read more than JSON's grammar (hex, inf), so
     * it gets a copy of exactly what was scanned. */
    char *copy = malloc(n + 2);
    if (!copy)
        return NUM_NOMEM;
    copy[0] = '-';
    memcpy(copy + 1, s, n);
    copy[n + 1] = '\0';
    double d = strtod(neg ? copy : copy + 1, NULL);
    free(copy);
    if (!isfinite(d))
        return NUM_RANGE;
    *rv = d;
    return NUM_REAL;
}

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

static const func_t funcs[] = {
    {"exists", F_EXISTS, 1, 1, "1 argument"},      {"length", F_LENGTH, 1, 1, "1 argument"},
    {"lower", F_LOWER, 1, 1, "1 argument"},        {"upper", F_UPPER, 1, 1, "1 argument"},
    {"contains", F_CONTAINS, 2, 2, "2 arguments"}, {"join", F_JOIN, 2, 2, "2 arguments"},
    {"string", F_STRING, 1, 1, "1 argument"},      {"number", F_NUMBER, 1, 1, "1 argument"},
    {"default", F_DEFAULT, 2, 2, "2 arguments"},   {"now", F_NOW, 0, 0, "no arguments"},
    {"json", F_JSON, 1, 1, "1 argument"},
};

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

static void seg_clear(seg_t *sg);

static void free_node(node_t *n)
{
    if (!n)
        return;
    for (size_t i = 0; i < n->nkids; i++)
        free_node(n->kids[i]);
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
    free_node(sg->filter);
    sg->filter = NULL;
}

/* ---- the parser ---- */

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

/* Records the first error only: later ones are consequences of it. */
static void perr(parser_t *p, size_t at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void perr(parser_t *p, size_t at, const char *fmt, ...)
{
    if (p->failed)
        return;
    p->failed = 1;
    va_list ap;
    va_start(ap, fmt);
    verrf(p->err, p->errlen, p->base + at + 1, fmt, ap);
    va_end(ap);
}

static void perr_unexpected(parser_t *p, const char *want)
{
    const tok_t *t = &p->tok;
    if (t->kind == T_END) {
        perr(p, t->start, "%s, found the end of the expression", want);
        return;
    }
    size_t n = t->end - t->start;
    if (n > 24) {
        n = 24;
        while (n && ((unsigned char)p->s[t->start + n] & 0xC0) == 0x80)
            n--;
    }
    perr(p, t->start, "%s, found `%.*s`", want, (int)n, p->s + t->start);
}

static tok_kind lex_string(parser_t *p, size_t i, size_t *end)
{
    const char *s = p->s;
    char q = s[i];
    size_t j = i + 1;
    sl__buf_reset(&p->str);
    for (;;) {
        if (j >= p->len) {
            perr(p, i, "unterminated string");
            return T_ERR;
        }
        char c = s[j];
        if (c == q)
            break;
        if ((unsigned char)c < 0x20) {
            perr(p, j, "control character in a string (write \\n, \\t...)");
            return T_ERR;
        }
        sl_err rc = SL_OK;
        if (c == '\\') {
            if (j + 1 >= p->len) {
                perr(p, i, "unterminated string");
                return T_ERR;
            }
            char e = s[j + 1], out;
            switch (e) {
            case 'n':
                out = '\n';
                break;
            case 't':
                out = '\t';
                break;
            case 'r':
                out = '\r';
                break;
            case 'b':
                out = '\b';
                break;
            case 'f':
                out = '\f';
                break;
            case '\\':
            case '/':
            case '\'':
            case '"':
                out = e;
                break;
            case 'u': {
                unsigned cp, lo;
                size_t w = 6;
                if (hex4(s + j + 2, p->len - j - 2, &cp)) {
                    perr(p, j, "`\\u` needs four hex digits");
                    return T_ERR;
                }
                if (cp >= 0xD800 && cp <= 0xDBFF) {
                    if (j + 8 > p->len || s[j + 6] != '\\' || s[j + 7] != 'u' ||
                        hex4(s + j + 8, p->len - j - 8, &lo) || lo < 0xDC00 || lo > 0xDFFF) {
                        perr(p, j, "a \\u surrogate must be a high-low pair");
                        return T_ERR;
                    }
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                    w = 12;
                } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
                    perr(p, j, "a \\u surrogate must be a high-low pair");
                    return T_ERR;
                } else if (cp == 0) {
                    perr(p, j, "\\u0000 is not allowed in a string");
                    return T_ERR;
                }
                if (put_utf8(&p->str, cp)) {
                    perr(p, j, "string too long");
                    return T_ERR;
                }
                j += w;
                continue;
            }
            default:
                if ((unsigned char)e > 0x20 && (unsigned char)e < 0x7F)
                    perr(p, j, "unknown escape `\\%c`", e);
                else
                    perr(p, j, "unknown escape");
                return T_ERR;
            }
            rc = sl__buf_putc(&p->str, out);
            j += 2;
        } else if ((unsigned char)c >= 0x80) {
            size_t n = utf8_seq((const unsigned char *)s + j, p->len - j);
            if (!n) {
                perr(p, j, "invalid UTF-8 in a string");
                return T_ERR;
            }
            rc = sl__buf_append(&p->str, s + j, n);
            j += n;
        } else {
            rc = sl__buf_putc(&p->str, c);
            j++;
        }
        if (rc) {
            perr(p, i, "string too long");
            return T_ERR;
        }
    }
    *end = j + 1;
    return T_STR;
}

static tok_kind lex_number(parser_t *p, size_t i, size_t *end)
{
    int real;
    size_t n = scan_number(p->s + i, p->len - i, &real);
    *end = i + n;
    switch (number_value(p->s + i, n, real, 0, &p->tok.ival, &p->tok.rval)) {
    case NUM_INT:
        return T_INT;
    case NUM_REAL:
        if (real)
            return T_REAL;
        perr(p, i, "integer too large for 64 bits (write it as a decimal)");
        return T_ERR;
    case NUM_RANGE:
        perr(p, i, "number out of range");
        return T_ERR;
    default:
        perr(p, i, "out of memory");
        return T_ERR;
    }
}

/* Reads the token at p->pos into p->tok. */
static void lex(parser_t *p)
{
    const char *s = p->s;
    size_t i = p->pos;
    while (i < p->len && is_space(s[i]))
        i++;
    tok_t *t = &p->tok;
    t->start = i;
    if (i >= p->len) {
        t->kind = T_END;
        t->end = p->pos = i;
        return;
    }
    char c = s[i], c2 = i + 1 < p->len ? s[i + 1] : '\0';
    tok_kind k = T_ERR;
    size_t end = i + 1;
    switch (c) {
    case '$':
        k = T_ROOT;
        break;
    case '@':
        k = T_CUR;
        break;
    case '.':
        k = c2 == '.' ? T_DOTDOT : T_DOT;
        break;
    case '[':
        k = T_LBRACK;
        break;
    case ']':
        k = T_RBRACK;
        break;
    case '(':
        k = T_LPAREN;
        break;
    case ')':
        k = T_RPAREN;
        break;
    case ',':
        k = T_COMMA;
        break;
    case '*':
        k = T_STAR;
        break;
    case '+':
        k = T_PLUS;
        break;
    case '-':
        k = T_MINUS;
        break;
    case '/':
        k = T_SLASH;
        break;
    case '%':
        k = T_PERCENT;
        break;
    case '?':
        k = c2 == '?' ? T_COALESCE : T_QUESTION;
        break;
    case '|':
        if (c2 == '|')
            k = T_OR;
        else
            perr(p, i, "`|` on its own (did you mean `||`?)");
        break;
    case '&':
        if (c2 == '&')
            k = T_AND;
        else
            perr(p, i, "`&` on its own (did you mean `&&`?)");
        break;
    case '!':
        k = c2 == '=' ? T_NE : T_NOT;
        break;
    case '=':
        if (c2 == '=')
            k = T_EQ;
        else
            perr(p, i, "`=` on its own (did you mean `==`?)");
        break;
    case '<':
        k = c2 == '=' ? T_LE : T_LT;
        break;
    case '>':
        k = c2 == '=' ? T_GE : T_GT;
        break;
    case '\'':
    case '"':
        k = lex_string(p, i, &end);
        break;
    default:
        if (is_digit(c)) {
            k = lex_number(p, i, &end);
        } else if (is_alpha(c)) {
            while (end < p->len && is_word(s[end]))
                end++;
            k = T_NAME;
        } else if ((unsigned char)c > 0x20 && (unsigned char)c < 0x7F) {
            perr(p, i, "unexpected character `%c`", c);
        } else {
            perr(p, i, "unexpected byte 0x%02X", (unsigned)(unsigned char)c);
        }
    }
    switch (k) {
    case T_DOTDOT:
    case T_COALESCE:
    case T_OR:
    case T_AND:
    case T_NE:
    case T_EQ:
    case T_LE:
    case T_GE:
        end = i + 2;
        break;
    default:
        break;
    }
    t->kind = k;
    t->end = p->pos = end;
}

static node_t *node_new(parser_t *p, node_kind kind, size_t at)
{
    node_t *n = calloc(1, sizeof *n);
    if (!n) {
        perr(p, at, "out of memory");
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
            free_node(kid);
            perr(p, at, "out of memory");
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

static const func_t *find_func(const char *w, size_t len)
{
    for (size_t i = 0; i < sizeof funcs / sizeof *funcs; i++)
        if (strlen(funcs[i].name) == len && memcmp(funcs[i].name, w, len) == 0)
            return &funcs[i];
    return NULL;
}

/* `[` ... `]`, with p->tok on the `[`. On failure sg may hold a name or filter to clear. */
static int parse_bracket(parser_t *p, seg_t *sg)
{
    lex(p);
    switch (p->tok.kind) {
    case T_STAR:
        sg->kind = S_WILD;
        lex(p);
        break;
    case T_INT:
        sg->kind = S_INDEX;
        sg->index = p->tok.ival;
        lex(p);
        break;
    case T_MINUS:
        lex(p);
        if (p->tok.kind != T_INT) {
            perr_unexpected(p, "expected an index after `[-`");
            return -1;
        }
        sg->kind = S_INDEX;
        sg->index = -p->tok.ival;
        lex(p);
        break;
    case T_STR:
        sg->kind = S_NAME;
        sg->name = strndup(p->str.data ? p->str.data : "", p->str.len);
        if (!sg->name) {
            perr(p, p->tok.start, "out of memory");
            return -1;
        }
        lex(p);
        break;
    case T_QUESTION:
        lex(p);
        p->in_filter++;
        sg->filter = parse_expr(p);
        p->in_filter--;
        if (!sg->filter)
            return -1;
        sg->kind = S_FILTER;
        break;
    case T_REAL:
        perr(p, p->tok.start, "an index must be a whole number");
        return -1;
    default:
        perr_unexpected(p, "expected an index, a quoted name, `*` or `?` after `[`");
        return -1;
    }
    if (p->tok.kind != T_RBRACK) {
        perr_unexpected(p, "expected `]`");
        return -1;
    }
    sg->end = p->tok.end;
    lex(p);
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
    while (i < p->len && is_space(p->s[i]))
        i++;
    if (sg->recursive && i < p->len && p->s[i] == '[') {
        p->pos = i;
        lex(p);
        if (parse_bracket(p, sg)) {
            seg_clear(sg);
            return -1;
        }
        return 1;
    }
    if (i < p->len && p->s[i] == '*') {
        sg->kind = S_WILD;
        sg->end = p->pos = i + 1;
        lex(p);
        return 1;
    }
    size_t j = i;
    while (j < p->len && (is_word(p->s[j]) ||
                          (p->s[j] == '-' && j > i && j + 1 < p->len && is_word(p->s[j + 1]))))
        j++;
    if (j == i) {
        perr(p, i, "expected a name or `*` after `%s`", sg->recursive ? ".." : ".");
        return -1;
    }
    sg->kind = S_NAME;
    sg->name = strndup(p->s + i, j - i);
    if (!sg->name) {
        perr(p, i, "out of memory");
        return -1;
    }
    sg->end = p->pos = j;
    lex(p);
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
        perr(p, start, "`@` is only meaningful inside a filter [?(...)]");
        goto fail;
    }
    lex(p);
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
            perr(p, start, "out of memory");
            goto fail;
        }
        n->segs = grown;
        n->segs[n->nsegs++] = sg;
    }
    n->text = strndup(p->s + start, end - start);
    if (!n->text) {
        perr(p, start, "out of memory");
        goto fail;
    }
    return n;
fail:
    free_node(n);
    return NULL;
}

static node_t *parse_call(parser_t *p, size_t at, const func_t *fn)
{
    node_t *n = node_new(p, N_CALL, at);
    if (!n)
        return NULL;
    n->fn = fn;
    lex(p); /* the ( */
    if (p->tok.kind != T_RPAREN) {
        for (;;) {
            node_t *a = parse_expr(p);
            if (!a || add_kid(p, n, a, T_COMMA, at))
                goto fail;
            if (p->tok.kind != T_COMMA)
                break;
            lex(p);
        }
    }
    if (p->tok.kind != T_RPAREN) {
        perr_unexpected(p, "expected `,` or `)`");
        goto fail;
    }
    lex(p);
    if (n->nkids < fn->min || n->nkids > fn->max) {
        perr(p, at, "%s() takes %s, not %zu", fn->name, fn->arity, n->nkids);
        goto fail;
    }
    if (fn->id == F_EXISTS && n->kids[0]->kind != N_PATH) {
        perr(p, at, "exists() takes a path ($... or @...)");
        goto fail;
    }
    return n;
fail:
    free_node(n);
    return NULL;
}

static node_t *parse_literal(parser_t *p, json_t *v)
{
    node_t *n = node_new(p, N_LIT, p->tok.start);
    if (n && !v) {
        perr(p, p->tok.start, "out of memory");
        free_node(n);
        return NULL;
    }
    if (!n) {
        json_decref(v);
        return NULL;
    }
    n->lit = v;
    lex(p);
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
        lex(p);
        node_t *n = parse_expr(p);
        if (!n)
            return NULL;
        if (p->tok.kind != T_RPAREN) {
            perr_unexpected(p, "expected `)`");
            free_node(n);
            return NULL;
        }
        lex(p);
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
        const func_t *fn = find_func(w, len);
        int shown = len > 40 ? 40 : (int)len;
        lex(p);
        if (p->tok.kind != T_LPAREN) {
            if (fn)
                perr(p, t.start, "%s needs `(`", fn->name);
            else
                perr(p, t.start,
                     "unexpected name `%.*s` (paths start with `$`, strings are quoted)", shown, w);
            return NULL;
        }
        if (!fn) {
            perr(p, t.start, "unknown function `%.*s`", shown, w);
            return NULL;
        }
        return parse_call(p, t.start, fn);
    }
    default:
        perr_unexpected(p, "expected a value");
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
        perr(p, at, "nested too deeply (the limit is %d)", EXPR_MAX_DEPTH);
        return NULL;
    }
    lex(p);
    node_t *kid = parse_unary(p);
    p->depth--;
    if (!kid)
        return NULL;
    node_t *n = node_new(p, k == T_MINUS ? N_NEG : N_NOT, at);
    if (!n || add_kid(p, n, kid, k, at)) {
        if (!n)
            free_node(kid);
        free_node(n);
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
        perr(p, at, "nested too deeply (the limit is %d)", EXPR_MAX_DEPTH);
        return NULL;
    }
    lex(p);
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
            free_node(kid);
        free_node(n);
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
    lex(p);
    node_t *r = parse_level(p, L_SUM);
    if (!r) {
        free_node(l);
        return NULL;
    }
    node_t *n = node_new(p, N_CMP, at);
    if (!n) {
        free_node(l);
        free_node(r);
        return NULL;
    }
    n->op = op;
    if (add_kid(p, n, l, op, at)) {
        free_node(r);
        free_node(n);
        return NULL;
    }
    if (add_kid(p, n, r, op, at)) {
        free_node(n);
        return NULL;
    }
    if (is_cmp(p->tok.kind)) {
        perr(p, p->tok.start, "comparisons do not chain: use && or parentheses");
        free_node(n);
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
        free_node(first);
        return NULL;
    }
    n->op = level;
    n->col = first->col;
    if (add_kid(p, n, first, p->tok.kind, p->tok.start)) {
        free_node(n);
        return NULL;
    }
    while (in_level(level, p->tok.kind)) {
        tok_kind op = p->tok.kind;
        size_t at = p->tok.start;
        lex(p);
        node_t *r = parse_operand(p, level);
        if (!r || add_kid(p, n, r, op, at)) {
            free_node(n);
            return NULL;
        }
    }
    return n;
}

static node_t *parse_expr(parser_t *p)
{
    if (++p->depth > EXPR_MAX_DEPTH) {
        perr(p, p->tok.start, "nested too deeply (the limit is %d)", EXPR_MAX_DEPTH);
        return NULL;
    }
    node_t *n = parse_level(p, L_COALESCE);
    p->depth--;
    return n;
}

/* Parses s[0..len), which starts at offset `base` of what the user wrote. NULL with err set
 * when it is not one whole expression. */
static node_t *parse_source(const char *s, size_t len, size_t base, char *err, size_t errlen)
{
    parser_t p = {.s = s, .len = len, .base = base, .err = err, .errlen = errlen};
    node_t *n = NULL;
    sl__buf_init(&p.str, EXPR_MAX_LEN);
    if (len > EXPR_MAX_LEN) {
        perr(&p, 0, "expression longer than %d bytes", EXPR_MAX_LEN);
        goto out;
    }
    lex(&p);
    if (p.tok.kind == T_END) {
        perr(&p, p.tok.start, "empty expression");
        goto out;
    }
    n = parse_expr(&p);
    if (n && p.tok.kind != T_END)
        perr_unexpected(&p, "expected an operator or the end");
    if (p.failed) {
        free_node(n);
        n = NULL;
    }
out:
    sl__buf_cleanup(&p.str);
    return n;
}

/* ---- evaluation ---- */

typedef struct ev {
    const json_t *root;
    char *err;
    size_t errlen;
    int missing; /* the last failure is a path that did not resolve */
    unsigned long steps;
} ev_t;

static json_t *efail(ev_t *ev, size_t col, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static json_t *efail(ev_t *ev, size_t col, const char *fmt, ...)
{
    ev->missing = 0;
    va_list ap;
    va_start(ap, fmt);
    verrf(ev->err, ev->errlen, col, fmt, ap);
    va_end(ap);
    return NULL;
}

static json_t *emissing(ev_t *ev, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static json_t *emissing(ev_t *ev, const char *fmt, ...)
{
    ev->missing = 1;
    va_list ap;
    va_start(ap, fmt);
    verrf(ev->err, ev->errlen, 0, fmt, ap);
    va_end(ap);
    return NULL;
}

static void eforget(ev_t *ev)
{
    ev->missing = 0;
    clear_err(ev->err, ev->errlen);
}

static json_t *enomem(ev_t *ev)
{
    return efail(ev, 0, "out of memory");
}

static int charge(ev_t *ev, unsigned long n)
{
    ev->steps += n;
    if (ev->steps <= EVAL_MAX_STEPS)
        return 0;
    efail(ev, 0, "the expression does too much work (over %lu steps)", EVAL_MAX_STEPS);
    return -1;
}

static const char *tname(const json_t *v)
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

static json_t *eval(ev_t *ev, const node_t *n, json_t *cur);

/* Matches gathered while evaluating a path; borrowed from the context, which outlives them. */
typedef struct vec {
    json_t **v;
    size_t n, cap;
} vec_t;

static int vec_push(ev_t *ev, vec_t *a, json_t *x)
{
    if (charge(ev, 1))
        return -1;
    if (a->n == a->cap) {
        size_t cap = a->cap ? a->cap * 2 : 8;
        json_t **v = realloc(a->v, cap * sizeof *v);
        if (!v) {
            enomem(ev);
            return -1;
        }
        a->v = v;
        a->cap = cap;
    }
    a->v[a->n++] = x;
    return 0;
}

static json_t *array_at(const json_t *a, json_int_t idx)
{
    if (!json_is_array(a))
        return NULL;
    size_t size = json_array_size(a);
    if (idx < 0) {
        unsigned long long back = (unsigned long long)(-(idx + 1)) + 1; /* no overflow */
        if (back > size)
            return NULL;
        return json_array_get(a, size - (size_t)back);
    }
    if ((unsigned long long)idx >= size)
        return NULL;
    return json_array_get(a, (size_t)idx);
}

/* Adds x to out when the filter holds for it; a path the filter names that x lacks is "no". */
static int filter_one(ev_t *ev, const node_t *f, json_t *x, vec_t *out)
{
    json_t *r = eval(ev, f, x);
    if (!r) {
        if (!ev->missing)
            return -1;
        eforget(ev);
        return 0;
    }
    int t = sl__expr_truthy(r);
    json_decref(r);
    return t ? vec_push(ev, out, x) : 0;
}

/* Applies one selector to x (not to its descendants). */
static int select_in(ev_t *ev, const seg_t *sg, json_t *x, vec_t *out)
{
    json_t *m;
    switch (sg->kind) {
    case S_NAME:
        m = json_object_get(x, sg->name);
        return m ? vec_push(ev, out, m) : 0;
    case S_INDEX:
        m = array_at(x, sg->index);
        return m ? vec_push(ev, out, m) : 0;
    default:
        break;
    }
    if (json_is_array(x)) {
        for (size_t i = 0; i < json_array_size(x); i++) {
            m = json_array_get(x, i);
            if (sg->kind == S_WILD ? vec_push(ev, out, m) : filter_one(ev, sg->filter, m, out))
                return -1;
        }
    } else if (json_is_object(x)) {
        for (void *it = json_object_iter(x); it; it = json_object_iter_next(x, it)) {
            m = json_object_iter_value(it);
            if (sg->kind == S_WILD ? vec_push(ev, out, m) : filter_one(ev, sg->filter, m, out))
                return -1;
        }
    }
    return 0;
}

/* Applies a selector after ".." to x and every value inside it, in document order. The walk
 * keeps its own stack: contexts come from outside and may nest deeply. */
static int select_deep(ev_t *ev, const seg_t *sg, json_t *x, vec_t *out)
{
    typedef struct frame {
        json_t *v;
        size_t i;
        void *it;
    } frame_t;
    if (select_in(ev, sg, x, out))
        return -1;
    if (!json_is_array(x) && !json_is_object(x))
        return 0;
    frame_t *st = malloc(8 * sizeof *st);
    size_t n = 0, cap = 8;
    if (!st) {
        enomem(ev);
        return -1;
    }
    st[n++] = (frame_t){x, 0, json_object_iter(x)};
    int rc = 0;
    while (n) {
        frame_t *f = &st[n - 1];
        json_t *child = NULL;
        if (json_is_array(f->v)) {
            if (f->i < json_array_size(f->v))
                child = json_array_get(f->v, f->i++);
        } else if (f->it) {
            child = json_object_iter_value(f->it);
            f->it = json_object_iter_next(f->v, f->it);
        }
        if (!child) {
            n--;
            continue;
        }
        if (charge(ev, 1) || select_in(ev, sg, child, out)) {
            rc = -1;
            break;
        }
        if (!json_is_array(child) && !json_is_object(child))
            continue;
        if (n == cap) {
            frame_t *g = realloc(st, cap * 2 * sizeof *g);
            if (!g) {
                enomem(ev);
                rc = -1;
                break;
            }
            st = g;
            cap *= 2;
        }
        st[n++] = (frame_t){child, 0, json_object_iter(child)};
    }
    free(st);
    return rc;
}

static json_t *eval_definite(ev_t *ev, const node_t *n, json_t *v)
{
    for (size_t i = 0; i < n->nsegs; i++) {
        const seg_t *sg = &n->segs[i];
        int plen = (int)(i ? n->segs[i - 1].end : 1);
        json_t *next;
        if (sg->kind == S_NAME) {
            next = json_object_get(v, sg->name);
            if (!next && json_is_object(v))
                return emissing(ev, "%s: no `%s` in %.*s", n->text, sg->name, plen, n->text);
            if (!next)
                return emissing(ev, "%s: no `%s` in %.*s, which is %s", n->text, sg->name, plen,
                                n->text, tname(v));
        } else {
            next = array_at(v, sg->index);
            if (!next && json_is_array(v))
                return emissing(ev, "%s: no [%lld] in %.*s, which has %zu items", n->text,
                                (long long)sg->index, plen, n->text, json_array_size(v));
            if (!next)
                return emissing(ev, "%s: no [%lld] in %.*s, which is %s", n->text,
                                (long long)sg->index, plen, n->text, tname(v));
        }
        v = next;
    }
    return json_incref(v);
}

static json_t *eval_path(ev_t *ev, const node_t *n, json_t *cur)
{
    json_t *start = n->from_cur ? cur : (json_t *)ev->root;
    if (n->definite)
        return eval_definite(ev, n, start);
    vec_t set = {0}, next = {0};
    json_t *out = NULL;
    if (vec_push(ev, &set, start))
        goto out;
    for (size_t i = 0; i < n->nsegs; i++) {
        const seg_t *sg = &n->segs[i];
        next.n = 0;
        for (size_t k = 0; k < set.n; k++)
            if (sg->recursive ? select_deep(ev, sg, set.v[k], &next)
                              : select_in(ev, sg, set.v[k], &next))
                goto out;
        vec_t t = set;
        set = next;
        next = t;
    }
    out = json_array();
    if (!out) {
        enomem(ev);
        goto out;
    }
    for (size_t k = 0; k < set.n; k++) {
        if (json_array_append(out, set.v[k])) {
            json_decref(out);
            out = enomem(ev);
            break;
        }
    }
out:
    free(set.v);
    free(next.v);
    return out;
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

/* ==: numbers by value (1 == 1.0), everything else as json_equal. */
static int values_equal(const json_t *a, const json_t *b)
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
    json_t *a = eval(ev, n->kids[0], cur), *b = NULL, *r = NULL;
    if (!a)
        return NULL;
    b = eval(ev, n->kids[1], cur);
    if (!b)
        goto out;
    tok_kind op = (tok_kind)n->op;
    int c;
    if (op == T_EQ || op == T_NE) {
        r = json_boolean(values_equal(a, b) == (op == T_EQ));
        goto out;
    }
    if (json_is_number(a) && json_is_number(b)) {
        c = num_cmp(a, b);
    } else if (json_is_string(a) && json_is_string(b)) {
        c = str_cmp(a, b);
    } else {
        efail(ev, n->col, "cannot order %s and %s with `%s`", tname(a), tname(b), op_text(op));
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

/* Appends v as a template splices it: strings raw, null as nothing, the rest as compact JSON.
 * -1 with the error set on failure. */
static int put_text(ev_t *ev, sl_buf_t *b, const json_t *v)
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
            enomem(ev);
            return -1;
        }
        rc = sl__buf_puts(b, dump);
        free(dump);
    }
    if (rc == SL_ETOOBIG) {
        efail(ev, 0, "text longer than %u bytes", TEXT_MAX);
        return -1;
    }
    if (rc) {
        enomem(ev);
        return -1;
    }
    return charge(ev, (b->len - before) / 16);
}

/* A JSON string of b's contents (b is cleaned up). */
static json_t *take_string(ev_t *ev, sl_buf_t *b)
{
    json_t *s = json_stringn(b->data ? b->data : "", b->len);
    if (!s && utf8_bad_at(b->data, b->len) < b->len)
        efail(ev, 0, "the text is not valid UTF-8");
    else if (!s)
        enomem(ev);
    sl__buf_cleanup(b);
    return s;
}

static json_t *text_of(ev_t *ev, const json_t *v)
{
    if (json_is_string(v))
        return json_incref((json_t *)v);
    sl_buf_t b;
    sl__buf_init(&b, TEXT_MAX);
    if (put_text(ev, &b, v)) {
        sl__buf_cleanup(&b);
        return NULL;
    }
    return take_string(ev, &b);
}

static json_t *concat(ev_t *ev, const json_t *a, const json_t *b)
{
    sl_buf_t buf;
    sl__buf_init(&buf, TEXT_MAX);
    if (put_text(ev, &buf, a) || put_text(ev, &buf, b)) {
        sl__buf_cleanup(&buf);
        return NULL;
    }
    return take_string(ev, &buf);
}

static json_t *arith(ev_t *ev, tok_kind op, size_t col, const json_t *a, const json_t *b)
{
    if (op == T_PLUS && (json_is_string(a) || json_is_string(b)))
        return concat(ev, a, b);
    if (!json_is_number(a) || !json_is_number(b))
        return efail(ev, col, "`%s` needs numbers, not %s and %s", op_text(op), tname(a), tname(b));
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
                return efail(ev, col, "division by zero");
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
                return efail(ev, col, "division by zero (in `%%`)");
            r = y == -1 ? 0 : x % y; /* LLONG_MIN % -1 is undefined in C */
        }
        if (over)
            return efail(ev, col, "`%s` overflows 64-bit integers", op_text(op));
        json_t *v = json_integer(r);
        return v ? v : enomem(ev);
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
            return efail(ev, col, "division by zero");
        r = x / y;
        break;
    default:
        if (y == 0)
            return efail(ev, col, "division by zero (in `%%`)");
        r = fmod(x, y);
    }
    if (!isfinite(r))
        return efail(ev, col, "`%s` overflows (the result is not a finite number)", op_text(op));
    json_t *v = json_real(r);
    return v ? v : enomem(ev);
}

/* `??` and default(): the first operand that resolves to something other than null. */
static json_t *coalesce(ev_t *ev, node_t *const *kids, size_t n, json_t *cur)
{
    for (size_t i = 0; i + 1 < n; i++) {
        json_t *v = eval(ev, kids[i], cur);
        if (v && !json_is_null(v))
            return v;
        if (!v && !ev->missing)
            return NULL;
        json_decref(v);
        eforget(ev);
    }
    return eval(ev, kids[n - 1], cur);
}

static json_t *eval_chain(ev_t *ev, const node_t *n, json_t *cur)
{
    if (n->op == L_COALESCE)
        return coalesce(ev, n->kids, n->nkids, cur);
    if (n->op == L_OR || n->op == L_AND) {
        int stop_on = n->op == L_OR; /* the truth value that decides the chain */
        for (size_t i = 0; i < n->nkids; i++) {
            json_t *v = eval(ev, n->kids[i], cur);
            if (!v)
                return NULL;
            int t = sl__expr_truthy(v);
            json_decref(v);
            if (t == stop_on)
                return json_boolean(t);
        }
        return json_boolean(!stop_on);
    }
    json_t *acc = eval(ev, n->kids[0], cur);
    for (size_t i = 1; acc && i < n->nkids; i++) {
        json_t *r = eval(ev, n->kids[i], cur);
        json_t *next = r ? arith(ev, n->ops[i], n->opcols[i], acc, r) : NULL;
        json_decref(r);
        json_decref(acc);
        acc = next;
    }
    return acc;
}

static json_t *eval_neg(ev_t *ev, const node_t *n, json_t *cur)
{
    json_t *v = eval(ev, n->kids[0], cur), *r;
    if (!v)
        return NULL;
    if (json_is_integer(v)) {
        json_int_t x;
        int over = __builtin_sub_overflow((json_int_t)0, json_integer_value(v), &x);
        json_decref(v);
        if (over)
            return efail(ev, n->col, "`-` overflows 64-bit integers");
        r = json_integer(x);
    } else if (json_is_real(v)) {
        r = json_real(-json_real_value(v));
        json_decref(v);
    } else {
        r = efail(ev, n->col, "`-` needs a number, not %s", tname(v));
        json_decref(v);
        return r;
    }
    return r ? r : enomem(ev);
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
        return efail(ev, n->col, "length() needs a string, an array or an object, not %s",
                     tname(a));
    }
    json_t *v = json_integer(len);
    return v ? v : enomem(ev);
}

static json_t *fn_case(ev_t *ev, const node_t *n, const json_t *a, int upper)
{
    if (!json_is_string(a))
        return efail(ev, n->col, "%s() needs a string, not %s", n->fn->name, tname(a));
    size_t len = json_string_length(a);
    char *s = malloc(len + 1);
    if (!s)
        return enomem(ev);
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
    return v ? v : enomem(ev);
}

static json_t *fn_contains(ev_t *ev, const node_t *n, const json_t *h, const json_t *x)
{
    if (json_is_string(h)) {
        if (!json_is_string(x))
            return efail(ev, n->col, "contains() on a string needs a string to find, not %s",
                         tname(x));
        size_t nl = json_string_length(x);
        return json_boolean(nl == 0 || memmem(json_string_value(h), json_string_length(h),
                                              json_string_value(x), nl) != NULL);
    }
    if (json_is_array(h)) {
        for (size_t i = 0; i < json_array_size(h); i++)
            if (values_equal(json_array_get(h, i), x))
                return json_true();
        return json_false();
    }
    if (json_is_object(h)) {
        if (!json_is_string(x))
            return efail(ev, n->col, "contains() on an object needs a key (a string), not %s",
                         tname(x));
        return json_boolean(json_object_getn(h, json_string_value(x), json_string_length(x)) !=
                            NULL);
    }
    return efail(ev, n->col, "contains() needs a string, an array or an object, not %s", tname(h));
}

static json_t *fn_join(ev_t *ev, const node_t *n, const json_t *a, const json_t *sep)
{
    if (!json_is_array(a))
        return efail(ev, n->col, "join() needs an array, not %s", tname(a));
    if (!json_is_string(sep))
        return efail(ev, n->col, "join() needs a string separator, not %s", tname(sep));
    sl_buf_t b;
    sl__buf_init(&b, TEXT_MAX);
    for (size_t i = 0; i < json_array_size(a); i++) {
        if ((i && put_text(ev, &b, sep)) || put_text(ev, &b, json_array_get(a, i))) {
            sl__buf_cleanup(&b);
            return NULL;
        }
    }
    return take_string(ev, &b);
}

static json_t *fn_number(ev_t *ev, const node_t *n, const json_t *a)
{
    if (json_is_number(a))
        return json_incref((json_t *)a);
    if (!json_is_string(a))
        return efail(ev, n->col, "number() needs a number or a numeric string, not %s", tname(a));
    const char *s = json_string_value(a);
    size_t i = 0, end = json_string_length(a);
    while (i < end && is_space(s[i]))
        i++;
    while (end > i && is_space(s[end - 1]))
        end--;
    int neg = i < end && s[i] == '-', real;
    i += (size_t)neg;
    size_t len = scan_number(s + i, end - i, &real);
    if (!len || i + len != end)
        return efail(ev, n->col, "number() found a string that is not a number");
    json_int_t iv;
    double rv;
    json_t *v;
    switch (number_value(s + i, len, real, neg, &iv, &rv)) {
    case NUM_INT:
        v = json_integer(iv);
        break;
    case NUM_REAL:
        v = json_real(rv);
        break;
    case NUM_RANGE:
        return efail(ev, n->col, "number() found a number out of range");
    default:
        v = NULL;
    }
    return v ? v : enomem(ev);
}

static json_t *fn_json(ev_t *ev, const json_t *a)
{
    if (json_is_real(a)) /* the same shortest form that splicing uses */
        return text_of(ev, a);
    char *dump = json_dumps(a, JSON_COMPACT | JSON_ENCODE_ANY);
    if (!dump)
        return enomem(ev);
    size_t len = strlen(dump);
    if (charge(ev, len / 16)) {
        free(dump);
        return NULL;
    }
    json_t *v = json_stringn(dump, len);
    free(dump);
    return v ? v : enomem(ev);
}

static json_t *eval_call(ev_t *ev, const node_t *n, json_t *cur)
{
    json_t *r;
    switch (n->fn->id) {
    case F_EXISTS:
        r = eval(ev, n->kids[0], cur);
        if (!r) {
            eforget(ev); /* exists() never fails: anything that went wrong means no */
            return json_false();
        }
        {
            int yes = n->kids[0]->definite || json_array_size(r) > 0;
            json_decref(r);
            return json_boolean(yes);
        }
    case F_DEFAULT:
        return coalesce(ev, n->kids, 2, cur);
    case F_NOW:
        r = json_integer((json_int_t)time(NULL));
        return r ? r : enomem(ev);
    default:
        break;
    }
    json_t *a[FN_MAX_ARGS] = {NULL, NULL};
    for (size_t i = 0; i < n->nkids; i++) {
        a[i] = eval(ev, n->kids[i], cur);
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
        r = text_of(ev, a[0]);
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

static json_t *eval(ev_t *ev, const node_t *n, json_t *cur)
{
    if (charge(ev, 1))
        return NULL;
    switch (n->kind) {
    case N_LIT:
        return json_incref(n->lit);
    case N_PATH:
        return eval_path(ev, n, cur);
    case N_CHAIN:
        return eval_chain(ev, n, cur);
    case N_CMP:
        return eval_cmp(ev, n, cur);
    case N_NOT: {
        json_t *v = eval(ev, n->kids[0], cur);
        if (!v)
            return NULL;
        int t = sl__expr_truthy(v);
        json_decref(v);
        return json_boolean(!t);
    }
    case N_NEG:
        return eval_neg(ev, n, cur);
    default:
        return eval_call(ev, n, cur);
    }
}

/* Parses and evaluates s[0..len) (at `base` of what the user wrote). The result may share
 * values with the context. */
static json_t *eval_source(ev_t *ev, const char *s, size_t len, size_t base)
{
    node_t *n = parse_source(s, len, base, ev->err, ev->errlen);
    if (!n) {
        ev->missing = 0;
        return NULL;
    }
    json_t *v = eval(ev, n, (json_t *)ev->root);
    free_node(n);
    return v;
}

static void ev_init(ev_t *ev, const json_t *ctx, char *err, size_t errlen)
{
    *ev = (ev_t){.root = ctx ? ctx : json_null(), .err = err, .errlen = errlen};
}

/* A copy that shares nothing with the context, so the caller may change it. */
static json_t *own(ev_t *ev, json_t *v)
{
    if (!v)
        return NULL;
    json_t *c = json_deep_copy(v);
    json_decref(v);
    if (!c)
        return enomem(ev);
    clear_err(ev->err, ev->errlen); /* absorbed failures may have left text behind */
    return c;
}

/* ---- the public functions ---- */

json_t *sl__expr_eval(const char *expr, const json_t *ctx, char *err, size_t errlen)
{
    ev_t ev;
    ev_init(&ev, ctx, err, errlen);
    clear_err(err, errlen);
    if (!expr)
        return efail(&ev, 0, "no expression");
    return own(&ev, eval_source(&ev, expr, strlen(expr), 0));
}

sl_err sl__expr_check(const char *expr, char *err, size_t errlen)
{
    clear_err(err, errlen);
    if (!expr) {
        errf(err, errlen, 0, "no expression");
        return SL_EINVAL;
    }
    node_t *n = parse_source(expr, strlen(expr), 0, err, errlen);
    if (!n)
        return SL_EINVAL;
    free_node(n);
    return SL_OK;
}

int sl__expr_truthy(const json_t *v)
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

/* The next {{ ... }} in t[from..len): 1 with *open on the "{{" and *close on the "}}", 0 when
 * there is none, -1 (err set) when a {{ is never closed. Quoted strings inside are skipped, so
 * '}}' in a literal does not end the part; an unterminated one is left for the parser to name. */
static int next_part(const char *t, size_t len, size_t from, size_t *open, size_t *close, char *err,
                     size_t errlen)
{
    const char *o = memmem(t + from, len - from, "{{", 2);
    if (!o)
        return 0;
    *open = (size_t)(o - t);
    size_t i = *open + 2;
    while (i < len) {
        char c = t[i];
        if (c == '}' && i + 1 < len && t[i + 1] == '}') {
            *close = i;
            return 1;
        }
        if (c != '\'' && c != '"') {
            i++;
            continue;
        }
        size_t j = i + 1;
        while (j < len && t[j] != c)
            j += t[j] == '\\' ? 2 : 1;
        if (j >= len) {
            const char *cl = memmem(t + i, len - i, "}}", 2);
            if (!cl)
                break;
            *close = (size_t)(cl - t);
            return 1;
        }
        i = j + 1;
    }
    errf(err, errlen, *open + 1, "`{{` without a closing `}}`");
    return -1;
}

static int template_utf8(const char *t, size_t len, char *err, size_t errlen)
{
    size_t bad = utf8_bad_at(t, len);
    if (bad == len)
        return 0;
    errf(err, errlen, bad + 1, "the template is not valid UTF-8");
    return -1;
}

json_t *sl__template_render(const char *tmpl, const json_t *ctx, char *err, size_t errlen)
{
    ev_t ev;
    ev_init(&ev, ctx, err, errlen);
    clear_err(err, errlen);
    if (!tmpl)
        return efail(&ev, 0, "no template");
    size_t len = strlen(tmpl), open, close;
    if (template_utf8(tmpl, len, err, errlen))
        return NULL;
    int rc = next_part(tmpl, len, 0, &open, &close, err, errlen);
    if (rc < 0)
        return NULL;
    if (rc == 0) {
        json_t *s = json_stringn(tmpl, len);
        return s ? s : enomem(&ev);
    }
    if (open == 0 && close + 2 == len) /* the whole string: keep the value's type */
        return own(&ev, eval_source(&ev, tmpl + 2, close - 2, 2));
    sl_buf_t b;
    sl__buf_init(&b, TEXT_MAX);
    size_t pos = 0;
    for (; rc > 0; rc = next_part(tmpl, len, pos, &open, &close, err, errlen)) {
        if (sl__buf_append(&b, tmpl + pos, open - pos)) {
            efail(&ev, 0, "text longer than %u bytes", TEXT_MAX);
            goto fail;
        }
        json_t *v = eval_source(&ev, tmpl + open + 2, close - open - 2, open + 2);
        int bad = !v || put_text(&ev, &b, v);
        json_decref(v);
        if (bad)
            goto fail;
        pos = close + 2;
    }
    if (rc < 0)
        goto fail;
    if (sl__buf_append(&b, tmpl + pos, len - pos)) {
        efail(&ev, 0, "text longer than %u bytes", TEXT_MAX);
        goto fail;
    }
    json_t *s = take_string(&ev, &b);
    if (s)
        clear_err(err, errlen);
    return s;
fail:
    sl__buf_cleanup(&b);
    return NULL;
}

sl_err sl__template_check(const char *tmpl, char *err, size_t errlen)
{
    clear_err(err, errlen);
    if (!tmpl) {
        errf(err, errlen, 0, "no template");
        return SL_EINVAL;
    }
    size_t len = strlen(tmpl), pos = 0, open, close;
    if (template_utf8(tmpl, len, err, errlen))
        return SL_EINVAL;
    for (;;) {
        int rc = next_part(tmpl, len, pos, &open, &close, err, errlen);
        if (rc < 0)
            return SL_EINVAL;
        if (rc == 0)
            return SL_OK;
        node_t *n = parse_source(tmpl + open + 2, close - open - 2, open + 2, err, errlen);
        if (!n)
            return SL_EINVAL;
        free_node(n);
        pos = close + 2;
    }
}

/* Puts "where: " in front of the message in err. */
static void prefix_err(char *err, size_t errlen, const char *where)
{
    if (!err || !errlen || !*where)
        return;
    char *msg = strdup(err);
    if (!msg)
        return;
    errf(err, errlen, 0, "%s: %s", where, msg);
    free(msg);
}

typedef struct walk {
    const json_t *ctx;
    int render; /* 0: check only */
    char *err;
    size_t errlen;
    char where[256]; /* "/with/body/0" of the value being visited */
    size_t wlen;
} walk_t;

/* Sets *out (when rendering) to v with its strings rendered; -1 with err set on failure. The
 * depth is bounded: values come from flow files. */
static int walk_json(walk_t *w, const json_t *v, json_t **out, int depth)
{
    if (depth > RENDER_MAX_DEPTH) {
        errf(w->err, w->errlen, 0, "%s: nested deeper than %d", w->where, RENDER_MAX_DEPTH);
        return -1;
    }
    if (json_is_string(v)) {
        const char *s = json_string_value(v);
        if (strlen(s) != json_string_length(v)) {
            errf(w->err, w->errlen, 0, "%s: a template cannot hold a NUL character",
                 *w->where ? w->where : "/");
            return -1;
        }
        if (w->render)
            *out = sl__template_render(s, w->ctx, w->err, w->errlen);
        if (w->render ? !*out : sl__template_check(s, w->err, w->errlen) != SL_OK) {
            prefix_err(w->err, w->errlen, w->where);
            return -1;
        }
        return 0;
    }
    if (!json_is_array(v) && !json_is_object(v)) {
        if (!w->render)
            return 0;
        *out = json_deep_copy(v);
        if (!*out)
            goto nomem;
        return 0;
    }
    json_t *copy = NULL;
    if (w->render) {
        copy = json_is_array(v) ? json_array() : json_object();
        if (!copy)
            goto nomem;
    }
    size_t saved = w->wlen;
    int rc = 0;
    if (json_is_array(v)) {
        for (size_t i = 0; i < json_array_size(v) && !rc; i++) {
            json_t *item = NULL;
            snprintf(w->where + saved, sizeof w->where - saved, "/%zu", i);
            w->wlen = strlen(w->where);
            rc = walk_json(w, json_array_get(v, i), &item, depth + 1);
            if (!rc && w->render && json_array_append_new(copy, item))
                rc = 1;
        }
    } else {
        json_t *obj = (json_t *)v;
        for (void *it = json_object_iter(obj); it && !rc; it = json_object_iter_next(obj, it)) {
            json_t *item = NULL;
            const char *key = json_object_iter_key(it);
            size_t klen = json_object_iter_key_len(it);
            snprintf(w->where + saved, sizeof w->where - saved, "/%.*s", (int)klen, key);
            w->wlen = strlen(w->where);
            rc = walk_json(w, json_object_iter_value(it), &item, depth + 1);
            if (!rc && w->render && json_object_setn_new_nocheck(copy, key, klen, item))
                rc = 1;
        }
    }
    w->where[saved] = '\0';
    w->wlen = saved;
    if (rc) {
        json_decref(copy);
        if (rc > 0)
            goto nomem;
        return -1;
    }
    if (w->render)
        *out = copy;
    return 0;
nomem:
    errf(w->err, w->errlen, 0, "out of memory");
    return -1;
}

json_t *sl__template_render_json(const json_t *v, const json_t *ctx, char *err, size_t errlen)
{
    walk_t w = {.ctx = ctx, .render = 1, .err = err, .errlen = errlen};
    json_t *out = NULL;
    clear_err(err, errlen);
    if (!v) {
        errf(err, errlen, 0, "no value");
        return NULL;
    }
    if (walk_json(&w, v, &out, 0))
        return NULL;
    clear_err(err, errlen);
    return out;
}

sl_err sl__template_check_json(const json_t *v, char *err, size_t errlen)
{
    walk_t w = {.render = 0, .err = err, .errlen = errlen};
    clear_err(err, errlen);
    if (!v) {
        errf(err, errlen, 0, "no value");
        return SL_EINVAL;
    }
    return walk_json(&w, v, NULL, 0) ? SL_EINVAL : SL_OK;
}
