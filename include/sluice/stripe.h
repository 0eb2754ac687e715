/* sluice — a Stripe API client for C.
 *
 * It does what the official Stripe SDKs do: form-encodes parameters, sends every POST with an
 * Idempotency-Key, retries transient failures with exponential backoff and full jitter,
 * parses Stripe's errors whole, and pages through lists and searches. API keys are never
 * written to traces or error messages.
 *
 * Parameters are jansson trees (json_t); numbers, booleans and strings are encoded the way the
 * `stripe` npm package encodes them.
 *
 * Threads: a client may be used from several threads at once once it is created. Each call
 * borrows one of the client's connection handles (each keeping its own connection alive), so
 * calls run in parallel and reuse connections; DNS answers and TLS sessions are shared.
 * sl_client_new() and sl_client_free() must not race with calls on that client.
 */
#ifndef SLUICE_STRIPE_H
#define SLUICE_STRIPE_H

#include <jansson.h>
#include <stddef.h>

#include "sluice/error.h"

#ifdef __cplusplus
extern "C" {
#endif

#define SL_STRIPE_DEFAULT_BASE_URL "https://api.stripe.com"

/* Receives one line of trace output (no newline), already free of secrets. Called from the
 * thread that made the call. */
typedef void (*sl_trace_fn)(void *ctx, const char *line);

typedef struct sl_client_config {
    const char *api_key;        /* required: sk_..., rk_... */
    const char *base_url;       /* NULL: SL_STRIPE_DEFAULT_BASE_URL */
    const char *stripe_version; /* NULL: 2023-08-16, the version the catalog describes */
    const char *stripe_account; /* NULL: the key's own account; acct_... acts on a connected one */
    long connect_timeout_ms;    /* default 30000 */
    long timeout_ms;            /* per attempt; default 80000 */
    int max_retries;            /* retries after the first attempt; default 2; 0 disables */
    long retry_initial_ms;      /* first backoff ceiling; default 500 */
    long retry_max_ms;          /* largest backoff ceiling; default 5000 */
    long retry_total_ms;        /* no retry starts past this much time since the call began;
                                   default 60000 */
    size_t max_response_bytes;  /* default 16 MiB; larger responses fail with SL_ETOOBIG */
    double rate_limit;          /* requests per second across all threads; 0: none. Stripe
                                   allows 25/s in test mode and 100/s in live mode */
    sl_trace_fn trace;          /* NULL: no tracing */
    void *trace_ctx;
} sl_client_config_t;

typedef struct sl_client sl_client_t;

/* One API call. Strings are borrowed for the duration of the call. */
typedef struct sl_request {
    const char *method;          /* "GET", "POST" or "DELETE" */
    const char *path;            /* "/v1/customers"; may carry its own "?query" */
    const json_t *params;        /* NULL or an object; body for POST, query string otherwise */
    const char *idempotency_key; /* POST only, at most 255 bytes; NULL: a random UUID, reused
                                    across retries */
    const char *stripe_account;  /* NULL: the client's */
    const char *stripe_version;  /* NULL: the client's */
    int max_retries;             /* retries after the first attempt for this call: 0 the
                                    client's max_retries, a negative number none */
} sl_request_t;

/* Stripe's error object, plus where it came from. Empty strings for absent fields. */
typedef struct sl_stripe_error {
    long http_status; /* 0 when no HTTP response arrived (network failure) */
    char type[64];    /* api_error, card_error, idempotency_error, invalid_request_error, ... */
    char code[96];
    char decline_code[96];
    char param[256];
    char message[1024];
    char doc_url[256];
    char request_id[128];
} sl_stripe_error_t;

typedef struct sl_response {
    long status; /* HTTP status of the last attempt; 0 if none answered */
    char *body;  /* raw body, NUL-terminated; owned by the response */
    size_t body_len;
    json_t *json;              /* parsed body or NULL; owned by the response */
    char request_id[128];      /* Request-Id header of the last attempt */
    char idempotency_key[256]; /* the key sent (POST), else empty */
    int attempts;              /* 1 + retries made */
    double elapsed_ms;         /* whole call, retries and backoff included */
    sl_stripe_error_t error;   /* filled when the call returns SL_ESTRIPE or SL_ENETWORK */
} sl_response_t;

/* Fills `cfg` with the defaults above and NULL strings. */
void sl_client_config_init(sl_client_config_t *cfg);

/* Creates a client from `cfg` (strings are copied). On failure returns SL_EINVAL (missing key,
 * bad base URL) or SL_ENOMEM, writes a reason to `err` (if not NULL) and sets *out to NULL. */
sl_err sl_client_new(const sl_client_config_t *cfg, sl_client_t **out, char *err, size_t errlen);

/* Frees the client and closes its connections. NULL is a no-op. */
void sl_client_free(sl_client_t *client);

/* Makes one call, retrying as configured. Always initialises `resp`; the caller releases it
 * with sl_response_cleanup() whatever the result.
 * Returns SL_OK for a 2xx with a JSON body; SL_ESTRIPE when Stripe answered with an error
 * (resp->error holds it whole); SL_ENETWORK or SL_ETIMEOUT when no answer came after the
 * retries (resp->error.message says why); SL_ETOOBIG, SL_EPARSE (a 2xx body that is not JSON),
 * SL_EINVAL (bad request fields) or SL_ENOMEM. */
sl_err sl_client_request(sl_client_t *client, const sl_request_t *req, sl_response_t *resp);

/* Releases what a response owns and zeroes it. */
void sl_response_cleanup(sl_response_t *resp);

/* --- Auto-pagination ---------------------------------------------------------------------- */

typedef struct sl_pager sl_pager_t;

/* Prepares to iterate every item of a list (`"object": "list"`, paged with starting_after, or
 * ending_before when the request gives one) or a search (`"object": "search_result"`, paged with
 * `page` = next_page). `req` is copied. At most `max_items` items are returned (0: no bound).
 * No request is made until the first sl_pager_next(). */
sl_err sl_pager_new(sl_client_t *client, const sl_request_t *req, size_t max_items,
                    sl_pager_t **out);

/* Sets *item to the next item (borrowed: valid until the next call or sl_pager_free()), or to
 * NULL when there are no more. Returns what sl_client_request() returns for a failed page; the
 * failed page's response stays readable through sl_pager_response(). */
sl_err sl_pager_next(sl_pager_t *pager, json_t **item);

/* The response of the page fetched last (or NULL before the first). Borrowed. */
const sl_response_t *sl_pager_response(const sl_pager_t *pager);

/* Number of pages fetched so far. */
size_t sl_pager_pages(const sl_pager_t *pager);

void sl_pager_free(sl_pager_t *pager);

/* --- Form encoding ------------------------------------------------------------------------ */

/* Encodes an object of parameters as Stripe expects them (application/x-www-form-urlencoded):
 * `a[b][c]=v` for nested objects, `items[0][price]=p` for arrays, `true`/`false`, numbers as
 * JavaScript prints them, null and "" as an empty value, empty arrays and objects omitted, every
 * byte but A-Z a-z 0-9 - . _ ~ [ ] percent-encoded. Byte-for-byte what the `stripe` npm package
 * sends. Sets *out to a heap string the caller frees. SL_EINVAL if `params` is not an object or
 * holds a non-finite number. */
sl_err sl_form_encode(const json_t *params, char **out);

/* Stores `value` in `root` (an object), taking its reference whatever the result, under a
 * bracketed key such as `metadata[plan]`, `line_items[0][quantity]` or `expand[]`.
 * - A bracketed number from 0 to 10000 written without leading zeros is a list index. Indexes
 *   place elements, in whatever order they are set: a container whose entries are exactly the
 *   indexes 0..n-1 is an array in index order (`a[1]` then `a[0]` make [a[0], a[1]]).
 * - A container with a gap in its indexes, that does not start at 0, or that also has names is
 *   an object keyed by them as strings: `a[5]=x` alone is {"5": "x"} and `metadata[123]=x` is
 *   {"123": "x"}. Nothing is compacted or filled in, and a large index (`a[999999999]`, past
 *   10000 a plain name) costs no memory.
 * - `[]` appends: it stands for one past the highest index of its container so far (0 in an
 *   empty one), and each `[]` starts a new element (`a[][b]=1`, `a[][b]=2` make two). An append
 *   past index 10000 is an error.
 * - Setting the same key again replaces the value.
 * So the tree does not depend on the order of indexed keys, and sl_form_encode() writes it back
 * as keys that decode to the same tree. SL_EINVAL with a reason in `err` for a malformed key, a
 * key that conflicts with one already set (a value and nested keys under one name), or an append
 * to a full list. */
sl_err sl_form_set(json_t *root, const char *key, json_t *value, char *err, size_t errlen);

/* Decodes an application/x-www-form-urlencoded string into a new object with sl_form_set()'s
 * rules; values are strings. What it returns, encoded with sl_form_encode() and decoded again,
 * is the same tree. SL_EPARSE with a reason in `err` on malformed input, SL_ENOMEM. */
sl_err sl_form_decode(const char *s, size_t len, json_t **out, char *err, size_t errlen);

/* --- Keys --------------------------------------------------------------------------------- */

/* Writes a form of `key` safe to show: its prefix up to the last '_' of a known Stripe prefix,
 * an ellipsis and the last 4 characters (`sk_test_…4f2a`). Short or unknown keys show no
 * characters of the secret part. Always NUL-terminates `out` (outlen >= 1). */
void sl_key_mask(const char *key, char *out, size_t outlen);

#ifdef __cplusplus
}
#endif
#endif
