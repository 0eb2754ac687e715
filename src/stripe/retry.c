#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#include "stripe/internal.h"

int sl__retry_should(const sl_retry_policy_t *p, long status, const char *should_retry,
                     int retries_done)
{
    if (retries_done >= p->max_retries)
        return 0;
    if (should_retry) {
        if (strcasecmp(should_retry, "true") == 0)
            return 1;
        if (strcasecmp(should_retry, "false") == 0)
            return 0;
    }
    if (status == 0)
        return 1; /* no answer at all: a network error */
    return status == 409 || status == 429 || status >= 500;
}

long sl__retry_delay_ms(const sl_retry_policy_t *p, int retry, long retry_after_ms, uint32_t rnd)
{
    /* Bounded to an hour so the arithmetic below cannot overflow. */
    long max_ms = p->max_ms < 1 ? 1 : p->max_ms > 3600000 ? 3600000 : p->max_ms;
    long ceiling = p->initial_ms < 1 ? 1 : p->initial_ms > max_ms ? max_ms : p->initial_ms;
    for (int i = 1; i < retry && ceiling < max_ms; i++)
        ceiling *= 2;
    if (ceiling > max_ms)
        ceiling = max_ms;
    long delay = (long)(rnd % ((uint32_t)ceiling + 1));
    if (retry_after_ms > delay)
        delay = retry_after_ms;
    return delay;
}

long sl__retry_after_ms(const char *value, time_t now)
{
    if (!value)
        return -1;
    while (isspace((unsigned char)*value))
        value++;
    if (!*value)
        return -1;
    if (isdigit((unsigned char)*value)) {
        /* delta-seconds: digits, optionally with a fraction (some proxies send one) */
        long secs = 0, frac_ms = 0, scale = 100;
        const char *p = value;
        for (; isdigit((unsigned char)*p); p++) {
            secs = secs * 10 + (*p - '0');
            if (secs > 86400)
                return -1;
        }
        if (*p == '.')
            for (p++; isdigit((unsigned char)*p); p++, scale /= 10)
                frac_ms += (*p - '0') * scale;
        while (isspace((unsigned char)*p))
            p++;
        return *p ? -1 : secs * 1000 + frac_ms;
    }
    time_t when = curl_getdate(value, NULL);
    if (when < 0)
        return -1;
    return when <= now ? 0 : (long)(when - now) * 1000;
}
