/* A JSON validator that builds nothing: it checks a whole document as strictly as jansson does
 * and picks out chosen top-level members of an object. Ingest uses it so that a 2 KB event costs
 * no allocations on the hot path (building a jansson tree was a third of ingest's CPU). */
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/jscan.h"
#include "core/hex.h"
#include "core/utf8.h"

#define JSCAN_MAX_DEPTH 256

typedef struct scanner {
    const unsigned char *p, *end;
} scanner_t;

static void skip_ws(scanner_t *s)
{
    while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r'))
        s->p++;
}

static int hex4(const unsigned char *p, unsigned *out)
{
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        int d = sl__hex_val((char)p[i]);
        if (d < 0)
            return -1;
        v = v << 4 | (unsigned)d;
    }
    *out = v;
    return 0;
}

/* One UTF-8 sequence starting at p (p[0] >= 0x80): its length, or 0 if invalid (overlong forms,
 * surrogates and code points past U+10FFFF included, as jansson refuses them). */
/* A string at s->p (on its opening quote). Sets the raw contents and whether they hold escapes. */
static int scan_string(scanner_t *s, const char **raw, size_t *rawlen, int *escaped)
{
    const unsigned char *start = ++s->p;
    *escaped = 0;
    while (s->p < s->end) {
        unsigned char c = *s->p;
        if (c == '"') {
            *raw = (const char *)start;
            *rawlen = (size_t)(s->p - start);
            s->p++;
            return 0;
        }
        if (c < 0x20)
            return -1;
        if (c == '\\') {
            *escaped = 1;
            if (s->end - s->p < 2)
                return -1;
            c = s->p[1];
            if (c == 'u') {
                unsigned u, lo;
                if (s->end - s->p < 6 || hex4(s->p + 2, &u))
                    return -1;
                s->p += 6;
                if (u == 0)
                    return -1; /* jansson refuses \u0000 */
                if (u >= 0xDC00 && u <= 0xDFFF)
                    return -1; /* a lone low surrogate */
                if (u >= 0xD800 && u <= 0xDBFF) {
                    if (s->end - s->p < 6 || s->p[0] != '\\' || s->p[1] != 'u' ||
                        hex4(s->p + 2, &lo) || lo < 0xDC00 || lo > 0xDFFF)
                        return -1;
                    s->p += 6;
                }
                continue;
            }
            if (!strchr("\"\\/bfnrt", c) || c == 0)
                return -1;
            s->p += 2;
            continue;
        }
        if (c >= 0x80) {
            size_t n = sl__utf8_seq(s->p, (size_t)(s->end - s->p));
            if (!n)
                return -1;
            s->p += n;
            continue;
        }
        s->p++;
    }
    return -1;
}

/* A number; *is_int and *value are set for integers that fit (jansson refuses those that do
 * not, and reals that overflow). */
static int scan_number(scanner_t *s, int *is_int, long long *value)
{
    const unsigned char *start = s->p;
    if (s->p < s->end && *s->p == '-')
        s->p++;
    if (s->p >= s->end)
        return -1;
    if (*s->p == '0') {
        s->p++;
    } else if (*s->p >= '1' && *s->p <= '9') {
        while (s->p < s->end && *s->p >= '0' && *s->p <= '9')
            s->p++;
    } else {
        return -1;
    }
    int real = 0;
    if (s->p < s->end && *s->p == '.') {
        real = 1;
        s->p++;
        if (s->p >= s->end || *s->p < '0' || *s->p > '9')
            return -1;
        while (s->p < s->end && *s->p >= '0' && *s->p <= '9')
            s->p++;
    }
    if (s->p < s->end && (*s->p == 'e' || *s->p == 'E')) {
        real = 1;
        s->p++;
        if (s->p < s->end && (*s->p == '+' || *s->p == '-'))
            s->p++;
        if (s->p >= s->end || *s->p < '0' || *s->p > '9')
            return -1;
        while (s->p < s->end && *s->p >= '0' && *s->p <= '9')
            s->p++;
    }
    size_t n = (size_t)(s->p - start);
    char buf[512];
    char *copy = n < sizeof buf ? buf : malloc(n + 1);
    if (!copy)
        return -1;
    memcpy(copy, start, n);
    copy[n] = '\0';
    int rc = 0;
    *is_int = !real;
    if (real) {
        double d = strtod(copy, NULL);
        rc = isinf(d) ? -1 : 0;
    } else {
        char *end;
        *value = strtoll(copy, &end, 10);
        /* strtoll clamps on overflow; jansson reports it instead. */
        if ((*value == LLONG_MAX || *value == LLONG_MIN) &&
            strcmp(copy, *value == LLONG_MAX ? "9223372036854775807" : "-9223372036854775808"))
            rc = -1;
    }
    if (copy != buf)
        free(copy);
    return rc;
}

static int scan_value(scanner_t *s, int depth, sl_jscan_field_t *fields, size_t nfields);

/* Decodes an escaped key (already validated) as far as ASCII goes; returns its length, or 0
 * when it decodes to something no wanted (ASCII) field name can be. */
static size_t decode_key(const char *k, size_t n, char *out, size_t outlen)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        char c = k[i];
        if (c == '\\') {
            char e = k[++i];
            if (e == 'u') {
                unsigned u;
                if (hex4((const unsigned char *)k + i + 1, &u) || u == 0 || u > 0x7f)
                    return 0;
                c = (char)u;
                i += 4;
            } else {
                c = e == 'n'   ? '\n'
                    : e == 't' ? '\t'
                    : e == 'r' ? '\r'
                    : e == 'b' ? '\b'
                    : e == 'f' ? '\f'
                               : e;
            }
        } else if ((unsigned char)c >= 0x80) {
            return 0;
        }
        if (o + 1 >= outlen)
            return 0;
        out[o++] = c;
    }
    return o;
}

static int scan_literal(scanner_t *s, const char *word)
{
    size_t n = strlen(word);
    if ((size_t)(s->end - s->p) < n || memcmp(s->p, word, n) != 0)
        return -1;
    s->p += n;
    return 0;
}

static int scan_object(scanner_t *s, int depth, sl_jscan_field_t *fields, size_t nfields)
{
    s->p++; /* { */
    skip_ws(s);
    if (s->p < s->end && *s->p == '}') {
        s->p++;
        return 0;
    }
    for (;;) {
        skip_ws(s);
        if (s->p >= s->end || *s->p != '"')
            return -1;
        const char *key;
        size_t keylen;
        int escaped;
        if (scan_string(s, &key, &keylen, &escaped))
            return -1;
        skip_ws(s);
        if (s->p >= s->end || *s->p != ':')
            return -1;
        s->p++;
        skip_ws(s);
        sl_jscan_field_t *want = NULL;
        char decoded[64];
        size_t dlen = escaped ? decode_key(key, keylen, decoded, sizeof decoded) : 0;
        int shadowed = 0;
        for (size_t i = 0; fields && i < nfields; i++) {
            size_t n = strlen(fields[i].name);
            if (!escaped && n == keylen && memcmp(fields[i].name, key, keylen) == 0)
                want = &fields[i];
            if (escaped && n == dlen && memcmp(fields[i].name, decoded, dlen) == 0) {
                /* "\u0069d" is "id" to jansson: never trust such a member's value. */
                fields[i].kind = SL_JSCAN_OTHER;
                shadowed = 1;
            }
        }
        if (shadowed) {
            if (scan_value(s, depth + 1, NULL, 0))
                return -1;
            goto next_member;
        }
        if (want && s->p < s->end && *s->p == '"') {
            int esc;
            if (scan_string(s, &want->str, &want->len, &esc))
                return -1;
            want->kind = esc ? SL_JSCAN_ESCAPED_STRING : SL_JSCAN_STRING;
        } else if (want && s->p < s->end && (*s->p == '-' || (*s->p >= '0' && *s->p <= '9'))) {
            int is_int;
            long long v = 0;
            if (scan_number(s, &is_int, &v))
                return -1;
            want->kind = is_int ? SL_JSCAN_INTEGER : SL_JSCAN_OTHER;
            want->integer = v;
        } else {
            const unsigned char *start = s->p;
            if (scan_value(s, depth + 1, NULL, 0))
                return -1;
            if (want) {
                want->kind = SL_JSCAN_OTHER; /* the last occurrence wins, as in jansson */
                want->str = (const char *)start;
                want->len = (size_t)(s->p - start);
            }
        }
    next_member:
        skip_ws(s);
        if (s->p >= s->end)
            return -1;
        if (*s->p == ',') {
            s->p++;
            continue;
        }
        if (*s->p == '}') {
            s->p++;
            return 0;
        }
        return -1;
    }
}

static int scan_array(scanner_t *s, int depth)
{
    s->p++; /* [ */
    skip_ws(s);
    if (s->p < s->end && *s->p == ']') {
        s->p++;
        return 0;
    }
    for (;;) {
        skip_ws(s);
        if (scan_value(s, depth + 1, NULL, 0))
            return -1;
        skip_ws(s);
        if (s->p >= s->end)
            return -1;
        if (*s->p == ',') {
            s->p++;
            continue;
        }
        if (*s->p == ']') {
            s->p++;
            return 0;
        }
        return -1;
    }
}

static int scan_value(scanner_t *s, int depth, sl_jscan_field_t *fields, size_t nfields)
{
    if (depth > JSCAN_MAX_DEPTH || s->p >= s->end)
        return -1;
    const char *raw;
    size_t rawlen;
    int escaped, is_int;
    long long v;
    switch (*s->p) {
    case '{':
        return scan_object(s, depth, fields, nfields);
    case '[':
        return scan_array(s, depth);
    case '"':
        return scan_string(s, &raw, &rawlen, &escaped);
    case 't':
        return scan_literal(s, "true");
    case 'f':
        return scan_literal(s, "false");
    case 'n':
        return scan_literal(s, "null");
    default:
        return scan_number(s, &is_int, &v);
    }
}

sl_err sl__jscan_object(const char *buf, size_t len, sl_jscan_field_t *fields, size_t nfields)
{
    for (size_t i = 0; i < nfields; i++) {
        fields[i].kind = SL_JSCAN_ABSENT;
        fields[i].str = NULL;
        fields[i].len = 0;
        fields[i].integer = 0;
    }
    scanner_t s = {(const unsigned char *)buf, (const unsigned char *)buf + len};
    skip_ws(&s);
    if (s.p >= s.end || *s.p != '{')
        return SL_EPARSE;
    if (scan_object(&s, 1, fields, nfields))
        return SL_EPARSE;
    skip_ws(&s);
    return s.p == s.end ? SL_OK : SL_EPARSE;
}
