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
    long ceiling = p->initial_ms > 0 ? p->initial_ms : 1;
    for (int i = 1; i < retry && ceiling < p->max_ms; i++)
        ceiling *= 2;
    if (ceiling > p->max_ms)
        ceiling = p->max_ms;
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
        char *end;
        double secs = strtod(value, &end);
        while (isspace((unsigned char)*end))
            end++;
        if (*end || secs < 0 || secs > 86400)
            return -1;
        return (long)(secs * 1000);
    }
    time_t when = curl_getdate(value, NULL);
    if (when < 0)
        return -1;
    return when <= now ? 0 : (long)(when - now) * 1000;
}
