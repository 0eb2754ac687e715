/* sluice serve's HTTP server: webhook ingest, /healthz and /metrics (internal). */
#ifndef SLUICE_HTTP_SERVER_H
#define SLUICE_HTTP_SERVER_H

#include <stddef.h>

#include "core/crypt.h"
#include "store/store.h"

typedef struct sl_serve_config {
    const char *listen; /* "HOST:PORT"; port 0 picks a free one */
    size_t max_body;    /* bytes; larger bodies get 413 */
    long tolerance;     /* seconds a signature's timestamp may differ from now */
    size_t max_batch;   /* events per group commit at most */
    sl_store_t *store;  /* borrowed */
    const sl_crypt_t *crypt;
    struct sl_api *api;      /* NULL: no /api/ */
    const char *admin_token; /* the bearer token /api/ requires */
} sl_serve_config_t;

typedef struct sl_server sl_server_t;

/* Starts listening and committing. On failure returns an error with a reason in err. */
sl_err sl__server_start(const sl_serve_config_t *cfg, sl_server_t **out, char *err, size_t errlen);

/* The port actually bound. */
int sl__server_port(const sl_server_t *s);

/* The server's inbox, for the other sources of events (catch-up): they share its group commit
 * and dedupe. It lives until sl__server_stop. */
struct sl_inbox *sl__server_inbox(sl_server_t *s);

/* Stops accepting, lets requests in flight finish and their events commit, then frees the
 * server. NULL is a no-op. */
void sl__server_stop(sl_server_t *s);

#endif
