/* libFuzzer: cron expressions. sl__cron_parse takes exactly what a strict reader of the grammar
 * in flow.h takes, and to the same minutes, hours and days; what it refuses it says why. The
 * reader here is written apart from the parser, for the comparison only.
 *
 * The grammar: optional blanks, five fields separated by blanks (spaces, tabs), optional
 * blanks (and line ends); or one of the @ macros alone. A field is a comma list of items; an item
 * is `*`, N or N-M, optionally followed by /S (S >= 1); N alone with a step runs to the field's
 * top. Numbers are decimal digits, within the field's range, N <= M, S <= the field's top. A field
 * is at most 127 characters. */
#include <stdlib.h>
#include <string.h>

#include "flow/flow.h"

static const int lo[5] = {0, 0, 1, 1, 0}, hi[5] = {59, 23, 31, 12, 7};

static int num(const char **p, const char *end, long *out)
{
    const char *s = *p;
    long x = 0;
    while (*p < end && **p >= '0' && **p <= '9') {
        if (x < 1000)
            x = x * 10 + (**p - '0');
        (*p)++;
    }
    *out = x;
    return *p > s;
}

/* One field s[0..n): its bits, or -1. */
static int field(const char *s, size_t n, int f, unsigned long long *bits)
{
    const char *p = s, *end = s + n;
    *bits = 0;
    for (;;) {
        long a, b, step = 1;
        int single = 0;
        if (p < end && *p == '*') {
            p++;
            a = lo[f];
            b = hi[f];
        } else {
            if (!num(&p, end, &a))
                return -1;
            b = a;
            single = 1;
            if (p < end && *p == '-') {
                p++;
                if (!num(&p, end, &b))
                    return -1;
                single = 0;
            }
            if (a < lo[f] || b > hi[f] || a > b)
                return -1;
        }
        if (p < end && *p == '/') {
            p++;
            if (!num(&p, end, &step) || step < 1 || step > hi[f])
                return -1;
            if (single)
                b = hi[f];
        }
        for (long v = a; v <= b; v += step)
            *bits |= 1ULL << v;
        if (p == end)
            return 0;
        if (*p != ',')
            return -1;
        p++;
    }
}

static int blank(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

/* The reference reading: 0 and the five bit sets, or -1. */
static int reference(const char *text, unsigned long long bits[5])
{
    static const char *const macros[][2] = {{"@hourly", "0 * * * *"},   {"@daily", "0 0 * * *"},
                                            {"@midnight", "0 0 * * *"}, {"@weekly", "0 0 * * 0"},
                                            {"@monthly", "0 0 1 * *"},  {"@yearly", "0 0 1 1 *"},
                                            {"@annually", "0 0 1 1 *"}};
    for (size_t i = 0; i < sizeof macros / sizeof *macros; i++)
        if (strcmp(text, macros[i][0]) == 0)
            text = macros[i][1];
    const char *p = text;
    for (int f = 0; f < 5; f++) {
        while (blank(*p))
            p++;
        const char *s = p;
        while (*p && !blank(*p))
            p++;
        if (p == s || p - s > 127 || field(s, (size_t)(p - s), f, &bits[f]))
            return -1;
    }
    while (blank(*p))
        p++;
    return *p ? -1 : 0;
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t len)
{
    if (len > 4096)
        return 0;
    char *text = malloc(len + 1);
    if (!text)
        return 0;
    memcpy(text, data, len);
    text[len] = '\0';
    sl_cron_t c;
    char err[512] = "";
    unsigned long long bits[5];
    int ok = sl__cron_parse(text, &c, err, sizeof err) == SL_OK;
    int want = reference(text, bits) == 0;
    if (ok != want)
        abort(); /* the parser and the grammar disagree */
    if (!ok && !err[0])
        abort(); /* refused without a reason */
    if (ok) {
        unsigned dow = (unsigned)((bits[4] | bits[4] >> 7) & 0x7f);
        if (c.minute != bits[0] || c.hour != bits[1] || c.dom != bits[2] || c.month != bits[3] ||
            c.dow != dow)
            abort(); /* read to other times than the grammar says */
        for (long t = 1700000000; t < 1700000000 + 40 * 86400; t += 86400 + 3661)
            sl__cron_matches(&c, (time_t)t);
    }
    free(text);
    return 0;
}
