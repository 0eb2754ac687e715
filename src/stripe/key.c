#include <stdio.h>
#include <string.h>

#include "sluice/stripe.h"
#include "stripe/internal.h"

/* Prefixes whose text is not secret; the longest match wins. */
static const char *const key_prefixes[] = {
    "sk_test_", "sk_live_", "rk_test_", "rk_live_", "pk_test_", "pk_live_", "whsec_", "sk_", "rk_",
};

void sl_key_mask(const char *key, char *out, size_t outlen)
{
    if (!outlen)
        return;
    if (!key || !*key) {
        snprintf(out, outlen, "(none)");
        return;
    }
    size_t n = strlen(key), pre = 0;
    for (size_t i = 0; i < sizeof key_prefixes / sizeof *key_prefixes; i++) {
        size_t m = strlen(key_prefixes[i]);
        if (m > pre && strncmp(key, key_prefixes[i], m) == 0)
            pre = m;
    }
    /* Show the last 4 only when at least 12 secret characters stay hidden. */
    if (pre > 0 && n >= pre + 16)
        snprintf(out, outlen, "%.*s\xE2\x80\xA6%s", (int)pre, key, key + n - 4);
    else
        snprintf(out, outlen, "%.*s\xE2\x80\xA6", (int)pre, key);
}

void sl__redact(char *s, const char *secret)
{
    if (!s || !secret)
        return;
    size_t n = strlen(secret);
    if (n < 8)
        return;
    char mask[64];
    sl_key_mask(secret, mask, sizeof mask);
    size_t m = strlen(mask);
    char *p = s;
    while ((p = strstr(p, secret)) != NULL) {
        if (m <= n) {
            memcpy(p, mask, m);
            memmove(p + m, p + n, strlen(p + n) + 1);
            p += m;
        } else {
            memset(p, '*', n);
            p += n;
        }
    }
}
