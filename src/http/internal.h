/* What the files of sluice serve's HTTP server share (internal to src/http/). */
#ifndef SLUICE_HTTP_INTERNAL_H
#define SLUICE_HTTP_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>

#include <jansson.h>
#include <microhttpd.h>

#include "conn/secrets.h"
#include "core/buf.h"
#include "http/server.h"
#include "ingest/inbox.h"

/* Why a webhook was refused; the order is the order /metrics prints them in. */
enum {
    SL_REJ_MISSING_HEADER,
    SL_REJ_MALFORMED_HEADER,
    SL_REJ_TIMESTAMP,
    SL_REJ_NO_MATCH,
    SL_REJ_NO_SECRET,
    SL_REJ_NOT_EVENT,
    SL_REJ_UNKNOWN_CONNECTION,
    SL_REJ_METHOD,
    SL_REJ_TOO_LARGE,
    SL_REJ_COUNT
};
extern const char *const sl__rej_names[SL_REJ_COUNT];

/* What a connection is doing, for its deadlines (see the sweep in server.c). */
enum {
    SL_CONN_HEADERS, /* waiting for a request's headers: --header-timeout from `start` */
    SL_CONN_BODY,    /* receiving its body: --request-timeout from `start` */
    SL_CONN_BUSY,    /* the request has arrived; it is being answered: no deadline */
    SL_CONN_CLOSING, /* past its deadline; the sweep has shut its socket */
};

/* One TCP connection (libmicrohttpd's socket context), in the server's list from its start to
 * its close. */
typedef struct sl_conn {
    int fd;
    atomic_int phase;
    atomic_llong start_ms; /* monotonic: when the connection, or its current request, began */
    struct sl_conn *prev, *next;
} sl_conn_t;

struct sl_server {
    sl_serve_config_t cfg;
    struct MHD_Daemon *daemon;
    int port;
    sl_inbox_t *inbox;
    sl_secrets_t *secrets;
    atomic_ullong rejected[SL_REJ_COUNT];
    /* Requests waiting for their commit; none may start once stopping is set. */
    pthread_mutex_t flight_lock;
    size_t in_flight;
    int stopping;
    /* Every open connection, and the thread that closes those past their deadline. */
    pthread_mutex_t conns_lock;
    sl_conn_t *conns;
    pthread_t sweeper;
    pthread_mutex_t sweep_lock;
    pthread_cond_t sweep_wake;
    int sweep_stop;
    atomic_ullong deadline_closed; /* connections closed for being too slow */
    atomic_llong body_bytes;       /* bytes allocated for request bodies now */
    atomic_llong body_freed;       /* bytes of bodies freed since the sweep last trimmed */
    struct sl_admin *admin;        /* the admin listener (admin.c), or NULL */
};

enum { SL_RQ_READING, SL_RQ_COMMITTING, SL_RQ_COMMITTED };

/* One request's state across libmicrohttpd's calls (its con_cls). */
typedef struct sl_request {
    sl_buf_t body;
    int too_big;
    atomic_int state;
    char id[128]; /* ev's strings */
    char type[128];
    sl_event_in_t ev;
    sl_inbox_item_t item;
    struct MHD_Connection *conn;
    sl_server_t *server;
    int is_api;   /* an /api/ request collecting its body */
    int counted;  /* submitted: in_flight counts it until answered or closed */
    int answered; /* the answer is queued (or the connection gone) */
} sl_request_t;

/* --- reply.c: answers --------------------------------------------------------------------- */

/* Queues `body` (copied) with its Content-Type. */
enum MHD_Result sl__reply(struct MHD_Connection *conn, unsigned status, const char *body,
                          const char *type);

/* Queues `body` as compact JSON; steals the reference. */
enum MHD_Result sl__reply_json(struct MHD_Connection *conn, unsigned status, json_t *body);

/* The client's address as text, into buf ("" if unknown). */
const char *sl__remote_addr(struct MHD_Connection *conn, char *buf, size_t n);

/* --- hooks.c: POST /hooks/CONNECTION -----------------------------------------------------------
 */

/* Refuses a webhook: counts and logs the reason, answers {error, message}. */
enum MHD_Result sl__hook_reject(sl_server_t *s, struct MHD_Connection *conn, int why,
                                unsigned status, const char *connection, const char *message);

/* Handles a webhook whose body has arrived: verifies, parses and submits it (suspending the
 * connection until its batch is durable), then, when resumed, answers. */
enum MHD_Result sl__hook_handle(sl_server_t *s, struct MHD_Connection *conn, const char *name,
                                sl_request_t *rq);

/* A submitted request was answered or its connection closed: it no longer counts in flight. */
void sl__hook_flight_done(sl_server_t *s, sl_request_t *rq);

/* GET /healthz: 200 {"ok":true}, or 503 with the reason while the store fails to commit. */
enum MHD_Result sl__health_handle(sl_server_t *s, struct MHD_Connection *conn);

/* --- admin.c: the dashboard and /api/ on --admin-listen ---------------------------------------
 */
typedef struct sl_admin sl_admin_t;

/* Starts the admin listener on cfg.admin_listen (s->admin); an error names the address. */
sl_err sl__admin_start(sl_server_t *s, char *err, size_t errlen);

/* Ends its live streams and stops it; no-op when there is none. */
void sl__admin_stop(sl_server_t *s);

/* --- metrics.c: GET /metrics -------------------------------------------------------------------
 */

enum MHD_Result sl__metrics_handle(sl_server_t *s, struct MHD_Connection *conn);

#endif
