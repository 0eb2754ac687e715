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
    struct sl_api *api;       /* NULL: no /api/ */
    const char *admin_token;  /* the bearer token /api/ requires, and the dashboard's sign-in */
    const char *admin_listen; /* "HOST:PORT" of the dashboard and /api/; NULL: neither */
    int admin_optional;       /* admin_listen taken: warn and go on without it */
    /* Against slow or greedy clients (0: the default in brackets). Connections from one
     * address at once [64]; seconds from a connection's start, or from its previous answer,
     * until the request's headers must have arrived [10], and its body too [30]. */
    unsigned max_conns_per_ip;
    unsigned header_timeout;
    unsigned request_timeout;
} sl_serve_config_t;

#define SL_SERVE_MAX_CONNS_PER_IP 64
#define SL_SERVE_HEADER_TIMEOUT 10
#define SL_SERVE_REQUEST_TIMEOUT 30

typedef struct sl_server sl_server_t;

/* Starts listening and committing. On failure returns an error with a reason in err. */
sl_err sl__server_start(const sl_serve_config_t *cfg, sl_server_t **out, char *err, size_t errlen);

/* The port actually bound. */
int sl__server_port(const sl_server_t *s);

/* The admin listener's port (the dashboard and /api/), 0 when there is none. */
int sl__server_admin_port(const sl_server_t *s);

/* The server's inbox, for the other sources of events (catch-up): they share its group commit
 * and dedupe. It lives until sl__server_stop. */
struct sl_inbox *sl__server_inbox(sl_server_t *s);

/* Stops accepting, lets requests in flight finish and their events commit, then frees the
 * server. NULL is a no-op. */
void sl__server_stop(sl_server_t *s);

#endif
