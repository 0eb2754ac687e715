#include "core/utf8.h"

#include <string.h>

size_t sl__utf8_seq(const unsigned char *p, size_t avail)
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

size_t sl__utf8_bad_at(const char *s, size_t len)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0;
    while (i < len) {
        if (u[i] < 0x80) {
            i++;
            continue;
        }
        size_t n = sl__utf8_seq(u + i, len - i);
        if (!n)
            return i;
        i += n;
    }
    return len;
}

int sl__utf8_valid(const char *s)
{
    size_t len = strlen(s);
    return sl__utf8_bad_at(s, len) == len;
}

size_t sl__utf8_clip(char *s)
{
    size_t len = strlen(s), bad = sl__utf8_bad_at(s, len);
    s[bad] = '\0';
    return bad;
}

void sl__utf8_mend(char *s)
{
    size_t len = strlen(s);
    for (size_t i = sl__utf8_bad_at(s, len); i < len;) {
        s[i++] = '?';
        i += sl__utf8_bad_at(s + i, len - i);
    }
}

size_t sl__utf8_put(unsigned cp, char out[4])
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}
