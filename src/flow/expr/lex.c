/* The lexer of the expression language, and the error text and number reading the other
 * files share. */
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/hex.h"
#include "core/utf8.h"
#include "flow/expr/internal.h"

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

void sl__expr_verrf(char *err, size_t errlen, size_t col, const char *fmt, va_list ap)
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

void sl__expr_errf(char *err, size_t errlen, size_t col, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    sl__expr_verrf(err, errlen, col, fmt, ap);
    va_end(ap);
}

/* ---- numbers ---- */

size_t sl__expr_scan_number(const char *s, size_t len, int *real)
{
    size_t i = 0;
    *real = 0;
    while (i < len && sl__expr_is_digit(s[i]))
        i++;
    if (!i)
        return 0;
    if (i + 1 < len && s[i] == '.' && sl__expr_is_digit(s[i + 1])) {
        *real = 1;
        i++;
        while (i < len && sl__expr_is_digit(s[i]))
            i++;
    }
    if (i < len && (s[i] == 'e' || s[i] == 'E')) {
        size_t k = i + 1;
        if (k < len && (s[k] == '+' || s[k] == '-'))
            k++;
        if (k < len && sl__expr_is_digit(s[k])) {
            *real = 1;
            i = k;
            while (i < len && sl__expr_is_digit(s[i]))
                i++;
        }
    }
    return i;
}

int sl__expr_number_value(const char *s, size_t n, int real, int neg, json_int_t *iv, double *rv)
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

void sl__expr_perr(parser_t *p, size_t at, const char *fmt, ...)
{
    if (p->failed)
        return;
    p->failed = 1;
    va_list ap;
    va_start(ap, fmt);
    sl__expr_verrf(p->err, p->errlen, p->base + at + 1, fmt, ap);
    va_end(ap);
}

void sl__expr_perr_unexpected(parser_t *p, const char *want)
{
    const tok_t *t = &p->tok;
    if (t->kind == T_END) {
        sl__expr_perr(p, t->start, "%s, found the end of the expression", want);
        return;
    }
    size_t n = t->end - t->start;
    if (n > 24) {
        n = 24;
        while (n && ((unsigned char)p->s[t->start + n] & 0xC0) == 0x80)
            n--;
    }
    sl__expr_perr(p, t->start, "%s, found `%.*s`", want, (int)n, p->s + t->start);
}

/* The code unit of the four hex digits at s (`avail` bytes readable): 0, or -1 when there are
 * not four. */
static int hex4(const char *s, size_t avail, unsigned *out)
{
    unsigned char b[2];
    if (avail < 4 || sl__hex_decode(s, b, 2))
        return -1;
    *out = (unsigned)b[0] << 8 | b[1];
    return 0;
}

/* Appends code point cp to b as UTF-8. */
static sl_err put_utf8(sl_buf_t *b, unsigned cp)
{
    char o[4];
    return sl__buf_append(b, o, sl__utf8_put(cp, o));
}

static tok_kind lex_string(parser_t *p, size_t i, size_t *end)
{
    const char *s = p->s;
    char q = s[i];
    size_t j = i + 1;
    sl__buf_reset(&p->str);
    for (;;) {
        if (j >= p->len) {
            sl__expr_perr(p, i, "unterminated string");
            return T_ERR;
        }
        char c = s[j];
        if (c == q)
            break;
        if ((unsigned char)c < 0x20) {
            sl__expr_perr(p, j, "control character in a string (write \\n, \\t...)");
            return T_ERR;
        }
        sl_err rc = SL_OK;
        if (c == '\\') {
            if (j + 1 >= p->len) {
                sl__expr_perr(p, i, "unterminated string");
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
                    sl__expr_perr(p, j, "`\\u` needs four hex digits");
                    return T_ERR;
                }
                if (cp >= 0xD800 && cp <= 0xDBFF) {
                    if (j + 8 > p->len || s[j + 6] != '\\' || s[j + 7] != 'u' ||
                        hex4(s + j + 8, p->len - j - 8, &lo) || lo < 0xDC00 || lo > 0xDFFF) {
                        sl__expr_perr(p, j, "a \\u surrogate must be a high-low pair");
                        return T_ERR;
                    }
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                    w = 12;
                } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
                    sl__expr_perr(p, j, "a \\u surrogate must be a high-low pair");
                    return T_ERR;
                } else if (cp == 0) {
                    sl__expr_perr(p, j, "\\u0000 is not allowed in a string");
                    return T_ERR;
                }
                if (put_utf8(&p->str, cp)) {
                    sl__expr_perr(p, j, "string too long");
                    return T_ERR;
                }
                j += w;
                continue;
            }
            default:
                if ((unsigned char)e > 0x20 && (unsigned char)e < 0x7F)
                    sl__expr_perr(p, j, "unknown escape `\\%c`", e);
                else
                    sl__expr_perr(p, j, "unknown escape");
                return T_ERR;
            }
            rc = sl__buf_putc(&p->str, out);
            j += 2;
        } else if ((unsigned char)c >= 0x80) {
            size_t n = sl__utf8_seq((const unsigned char *)s + j, p->len - j);
            if (!n) {
                sl__expr_perr(p, j, "invalid UTF-8 in a string");
                return T_ERR;
            }
            rc = sl__buf_append(&p->str, s + j, n);
            j += n;
        } else {
            rc = sl__buf_putc(&p->str, c);
            j++;
        }
        if (rc) {
            sl__expr_perr(p, i, "string too long");
            return T_ERR;
        }
    }
    *end = j + 1;
    return T_STR;
}

static tok_kind lex_number(parser_t *p, size_t i, size_t *end)
{
    int real;
    size_t n = sl__expr_scan_number(p->s + i, p->len - i, &real);
    *end = i + n;
    switch (sl__expr_number_value(p->s + i, n, real, 0, &p->tok.ival, &p->tok.rval)) {
    case NUM_INT:
        return T_INT;
    case NUM_REAL:
        if (real)
            return T_REAL;
        sl__expr_perr(p, i, "integer too large for 64 bits (write it as a decimal)");
        return T_ERR;
    case NUM_RANGE:
        sl__expr_perr(p, i, "number out of range");
        return T_ERR;
    default:
        sl__expr_perr(p, i, "out of memory");
        return T_ERR;
    }
}

void sl__expr_lex(parser_t *p)
{
    const char *s = p->s;
    size_t i = p->pos;
    while (i < p->len && sl__expr_is_space(s[i]))
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
            sl__expr_perr(p, i, "`|` on its own (did you mean `||`?)");
        break;
    case '&':
        if (c2 == '&')
            k = T_AND;
        else
            sl__expr_perr(p, i, "`&` on its own (did you mean `&&`?)");
        break;
    case '!':
        k = c2 == '=' ? T_NE : T_NOT;
        break;
    case '=':
        if (c2 == '=')
            k = T_EQ;
        else
            sl__expr_perr(p, i, "`=` on its own (did you mean `==`?)");
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
        if (sl__expr_is_digit(c)) {
            k = lex_number(p, i, &end);
        } else if (sl__expr_is_alpha(c)) {
            while (end < p->len && sl__expr_is_word(s[end]))
                end++;
            k = T_NAME;
        } else if ((unsigned char)c > 0x20 && (unsigned char)c < 0x7F) {
            sl__expr_perr(p, i, "unexpected character `%c`", c);
        } else {
            sl__expr_perr(p, i, "unexpected byte 0x%02X", (unsigned)(unsigned char)c);
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
