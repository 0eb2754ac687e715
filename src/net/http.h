/* Outbound HTTP with libcurl (internal): the flow's `http` step and the emulator's webhook
 * deliveries send through here. */
#ifndef SLUICE_NET_HTTP_H
#define SLUICE_NET_HTTP_H

#include <stddef.h>

#include "sluice/error.h"

/* A reusable connection cache (one libcurl easy handle). Not for two threads at once. */
typedef struct sl_http sl_http_t;

/* A new handle, or NULL when out of memory. Free with sl__http_free (NULL is a no-op). */
sl_http_t *sl__http_new(void);
void sl__http_free(sl_http_t *h);

typedef struct sl_http_request {
    const char *method;         /* "GET", "POST", ...; HEAD asks for no body */
    const char *url;            /* http:// or https:// only */
    const char *const *headers; /* NULL-terminated "Name: value" lines, or NULL */
    const char *body;           /* NULL: none */
    size_t body_len;
    long timeout_ms;     /* the whole exchange; 0: 30000 */
    size_t max_response; /* the most of the answer's body kept; 0: the body is discarded */
} sl_http_request_t;

typedef struct sl_http_response {
    long status; /* the HTTP status; 0 when there was no answer */
    char *body;  /* heap, NUL-terminated; NULL when discarded or empty */
    size_t body_len;
} sl_http_response_t;

/* Sends one request (on `h`'s connections, or a one-off handle when h is NULL) and waits for
 * the answer. SL_OK whatever the status; SL_EINVAL for a URL that can never be fetched
 * (malformed, not http/https); SL_ETOOBIG when the answer's body passes max_response;
 * SL_ETIMEOUT; SL_ENETWORK for everything else (refused, reset, TLS, DNS). err says why, naming
 * the method and URL. The caller cleans *out up in every case. */
sl_err sl__http_send(sl_http_t *h, const sl_http_request_t *rq, sl_http_response_t *out, char *err,
                     size_t errlen);

void sl__http_response_cleanup(sl_http_response_t *r);

#endif
