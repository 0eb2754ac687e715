/* Internals of the Stripe client shared between its files and its unit tests. */
#ifndef SLUICE_STRIPE_INTERNAL_H
#define SLUICE_STRIPE_INTERNAL_H

#include <stdint.h>
#include <time.h>

#include "sluice/stripe.h"

/* Formats a finite double as JavaScript's String(x) does ("1", "0.1", "1e-7", "1e+21").
 * outlen must be at least 32. SL_EINVAL for NaN or infinities. */
sl_err sl__js_number(double x, char *out, size_t outlen);

/* Appends s[0..n) to b with every byte but A-Z a-z 0-9 - . _ ~ (and, if keep_brackets, [ ])
 * percent-encoded in uppercase hex: the npm package's form encoding (which keeps brackets), and
 * a safe path segment (which does not). */
struct sl_buf;
sl_err sl__percent_escape(struct sl_buf *b, const char *s, size_t n, int keep_brackets);

/* --- Retries -------------------------------------------------------------------------------- */

typedef struct sl_retry_policy {
    int max_retries;
    long initial_ms;
    long max_ms;
    long total_ms;
} sl_retry_policy_t;

/* Whether a failed attempt is worth another. `status` is the HTTP status (0 when the network
 * failed), `should_retry` the Stripe-Should-Retry header or NULL, `retries_done` how many
 * retries were already made. Stripe-Should-Retry decides when present; otherwise network
 * errors, 409, 429 and 5xx are retried. */
int sl__retry_should(const sl_retry_policy_t *p, long status, const char *should_retry,
                     int retries_done);

/* The wait before retry number `retry` (1-based): a uniformly random share (`rnd`) of
 * min(max_ms, initial_ms * 2^(retry-1)) — "full jitter" — but never less than `retry_after_ms`
 * when that is >= 0. */
long sl__retry_delay_ms(const sl_retry_policy_t *p, int retry, long retry_after_ms, uint32_t rnd);

/* Parses a Retry-After value (delta seconds or an HTTP date) into milliseconds from `now`;
 * -1 when absent or unreadable. */
long sl__retry_after_ms(const char *value, time_t now);

/* --- Errors --------------------------------------------------------------------------------- */

/* Fills `e` from an error response: status, the body's `error` object (type, code,
 * decline_code, param, message, doc_url) and the request id. A body that is not Stripe's error
 * shape still yields a message naming the status. */
void sl__stripe_error_parse(sl_stripe_error_t *e, long status, const json_t *body, const char *raw,
                            const char *request_id);

/* Replaces every occurrence of `secret` in the NUL-terminated `s` (in place) by its masked
 * form when that is not longer; otherwise by asterisks. No-op for a NULL or short secret. */
void sl__redact(char *s, const char *secret);

/* --- Pagination ----------------------------------------------------------------------------- */

/* Given the parameters of the page just fetched and its response, builds the parameters of the
 * next page into *next (a new object) or sets *next to NULL when this was the last page.
 * Lists move with starting_after (or ending_before when the first request used it); searches
 * with page = next_page. SL_EPARSE when the page is neither a list nor a search result. */
sl_err sl__page_next_params(const json_t *params, const json_t *page, json_t **next);

/* --- Names --------------------------------------------------------------------------------- */

/* The Levenshtein distance between a and b; 99 when either is longer than 63 bytes. */
size_t sl__edit_distance(const char *a, const char *b);

#endif
