/* sluice — Stripe webhook signatures, verified exactly as Stripe defines them.
 *
 * A `Stripe-Signature` header holds `t=<unix time>` and one or more `v1=<hex HMAC-SHA256>`
 * (several while a secret is being rolled), over the string "<t>.<raw body>" keyed with the
 * endpoint's `whsec_` secret. Any `v1` may match any of the given secrets; the comparison takes
 * constant time; the timestamp must lie within the tolerance of now, in both directions.
 */
#ifndef SLUICE_WEBHOOK_H
#define SLUICE_WEBHOOK_H

#include <stddef.h>
#include <time.h>

#include "sluice/error.h"

#ifdef __cplusplus
extern "C" {
#endif

#define SL_WEBHOOK_DEFAULT_TOLERANCE 300

/* The longest Stripe-Signature header checked, in bytes; longer ones are malformed. */
#define SL_WEBHOOK_MAX_HEADER 8192

/* Why a signature was refused. */
typedef enum sl_webhook_reason {
    SL_WEBHOOK_OK = 0,
    SL_WEBHOOK_NO_HEADER, /* no Stripe-Signature header */
    SL_WEBHOOK_MALFORMED, /* no t=, a t= that is not a number, or no v1= */
    SL_WEBHOOK_TIMESTAMP, /* t= outside the tolerance */
    SL_WEBHOOK_NO_MATCH,  /* no v1 matches any secret */
    SL_WEBHOOK_NO_SECRET, /* the endpoint has no secret to check with */
} sl_webhook_reason;

/* A short machine-readable name ("no_matching_signature", ...). */
const char *sl_webhook_reason_name(sl_webhook_reason r);

/* Verifies `header` (NULL when absent) over body[0..len) against `nsecrets` secrets (NULL
 * entries are skipped), accepting timestamps within `tolerance` seconds of `now` (0 disables
 * the check). Every v1 in the header is checked; a header longer than SL_WEBHOOK_MAX_HEADER
 * bytes is SL_WEBHOOK_MALFORMED. Returns SL_WEBHOOK_OK or the reason for refusal.
 * Thread-safe; allocates nothing. */
sl_webhook_reason sl_webhook_verify(const char *header, const char *body, size_t len,
                                    const char *const *secrets, size_t nsecrets, long tolerance,
                                    time_t now);

/* Writes a Stripe-Signature header value "t=<t>,v1=<hex>" for body with `secret` into out
 * (at least 80 bytes), as Stripe signs. */
sl_err sl_webhook_sign(const char *secret, time_t t, const char *body, size_t len, char *out,
                       size_t outlen);

#ifdef __cplusplus
}
#endif
#endif
