/* The store: every table sluice keeps, behind one interface (internal).
 *
 * A backend implements sl_store_ops_t in its own file (sqlite.c; postgres.c next) and embeds
 * sl_store_t as its first member. SQL is kept portable: TEXT and BIGINT columns, INSERT ... ON
 * CONFLICT DO NOTHING, no backend-only functions. Every function may be called from any
 * thread; backends serialise as they must. Errors come back as sl_err with a reason in err. */
#ifndef SLUICE_STORE_H
#define SLUICE_STORE_H

#include <stddef.h>

#include <jansson.h>

#include "sluice/error.h"

typedef struct sl_store sl_store_t;

/* A connection to one Stripe account. Secrets are sealed (core/crypt.h), never plain. */
typedef struct sl_conn_row {
    char name[64];
    char mode[8]; /* "test" or "live" */
    char account_id[64];
    char *key_sealed;        /* heap */
    char *secret_sealed;     /* heap, or NULL: no webhook secret yet */
    char *old_secret_sealed; /* heap, or NULL: the previous secret, during a rotation */
    long long old_secret_expires;
    char base_url[512];
    char stripe_version[32];
    char stripe_account[64];
    char endpoint_id[64]; /* the webhook endpoint sluice registered, if any */
    char endpoint_url[1024];
    long long created;
} sl_conn_row_t;

/* Frees the heap strings of a row and zeroes it. */
void sl_conn_row_cleanup(sl_conn_row_t *row);

/* An event going into the inbox (borrowed strings). */
typedef struct sl_event_in {
    const char *id;
    const char *connection;
    const char *type;
    const char *source; /* "webhook" or "catch-up" */
    const char *payload;
    size_t payload_len;
    long long created;     /* the event's own `created` */
    long long received_ms; /* when sluice received it */
} sl_event_in_t;

/* An event read back; payload is heap. */
typedef struct sl_event_row {
    char id[128];
    char connection[64];
    char type[128];
    char source[16];
    long long created;
    long long received_ms;
    char *payload;
} sl_event_row_t;

void sl_event_row_cleanup(sl_event_row_t *row);

typedef struct sl_event_filter {
    const char *type;       /* exact, or a prefix ending in '*' ("invoice.*"); NULL: all */
    const char *connection; /* NULL: all */
    size_t limit;           /* 0: 100 */
} sl_event_filter_t;

typedef int (*sl_event_cb)(const sl_event_row_t *row, void *ctx); /* non-zero stops */

/* Which flows a fresh event starts: appends their names to `flows` (a JSON array). Called
 * inside the transaction that stores the event, so an event and its runs commit together. */
typedef void (*sl_run_router_fn)(void *ctx, const sl_event_in_t *ev, json_t *flows);

/* A filter of runs_list; NULL / 0 fields match all. */
typedef struct sl_run_filter {
    const char *flow;
    const char *status;
    const char *event_id;
    size_t limit; /* 0: 50 */
} sl_run_filter_t;
typedef int (*sl_conn_cb)(const sl_conn_row_t *row, void *ctx);

typedef struct sl_store_ops {
    void (*close)(sl_store_t *s);
    sl_err (*conn_put)(sl_store_t *s, const sl_conn_row_t *row, char *err, size_t errlen);
    sl_err (*conn_get)(sl_store_t *s, const char *name, sl_conn_row_t *out, char *err,
                       size_t errlen);
    sl_err (*conn_list)(sl_store_t *s, sl_conn_cb cb, void *ctx, char *err, size_t errlen);
    sl_err (*conn_delete)(sl_store_t *s, const char *name, char *err, size_t errlen);
    /* Stores the events in one durable transaction; fresh[i] = 1 if stored, 0 if a duplicate. */
    sl_err (*events_insert)(sl_store_t *s, const sl_event_in_t *ev, size_t n, int *fresh, char *err,
                            size_t errlen);
    sl_err (*events_list)(sl_store_t *s, const sl_event_filter_t *f, sl_event_cb cb, void *ctx,
                          char *err, size_t errlen);
    sl_err (*event_get)(sl_store_t *s, const char *id, sl_event_row_t *out, char *err,
                        size_t errlen);
    sl_err (*events_count)(sl_store_t *s, long long *n, char *err, size_t errlen);
    sl_err (*cursor_get)(sl_store_t *s, const char *connection, long long *created, char *err,
                         size_t errlen); /* SL_ENOTFOUND if none */
    sl_err (*cursor_put)(sl_store_t *s, const char *connection, long long created, char *err,
                         size_t errlen);

    /* Flow runs. A run is a JSON object: id, flow, event_id (or null), connection, input (the
     * manual input or schedule time, or null), status (queued, running, succeeded, failed,
     * filtered), error, failed_step, attempt, created_ms, started_ms, finished_ms. */
    sl_err (*run_create)(sl_store_t *s, const json_t *run, char *err, size_t errlen);
    /* Marks up to max queued runs running (oldest first) and returns them (a new array). */
    sl_err (*runs_claim)(sl_store_t *s, size_t max, json_t **out, char *err, size_t errlen);
    /* After a crash or restart: runs left running go back to the queue. Returns how many. */
    sl_err (*runs_requeue_running)(sl_store_t *s, long long *n, char *err, size_t errlen);
    sl_err (*run_get)(sl_store_t *s, const char *id, json_t **out, char *err,
                      size_t errlen); /* SL_ENOTFOUND */
    sl_err (*runs_list)(sl_store_t *s, const sl_run_filter_t *f, json_t **out, char *err,
                        size_t errlen); /* newest first */
    /* Sets status, error and failed_step (NULL: cleared); terminal statuses set finished_ms,
     * "queued" clears it and counts an attempt. */
    sl_err (*run_set_status)(sl_store_t *s, const char *id, const char *status, const char *error,
                             const char *failed_step, char *err, size_t errlen);
    /* Step records, in one transaction. A record: path (unique in its run:
     * "each[2].get-customer"), kind, status (succeeded, failed), input, output, error,
     * started_ms, duration_ms, attempts. Replaces an earlier record of the same path. */
    sl_err (*steps_put)(sl_store_t *s, const char *run_id, const json_t *steps, char *err,
                        size_t errlen);
    sl_err (*steps_get)(sl_store_t *s, const char *run_id, json_t **out, char *err,
                        size_t errlen); /* in the order they were first recorded */
    sl_err (*steps_drop_failed)(sl_store_t *s, const char *run_id, char *err, size_t errlen);
    /* A flow's enabled setting: *enabled = -1 when never set. */
    sl_err (*flow_enabled_get)(sl_store_t *s, const char *flow, int *enabled, char *err,
                               size_t errlen);
    sl_err (*flow_enabled_put)(sl_store_t *s, const char *flow, int enabled, char *err,
                               size_t errlen);
    /* Contacts, matched by email (case-insensitive): created when missing, else the given
     * names replace the stored ones. *created says which. out (may be NULL) gets the row. */
    sl_err (*contact_upsert)(sl_store_t *s, const char *email, const char *first_name,
                             const char *last_name, int *created, json_t **out, char *err,
                             size_t errlen);
    sl_err (*contacts_list)(sl_store_t *s, json_t **out, char *err, size_t errlen);
} sl_store_ops_t;

struct sl_store {
    const sl_store_ops_t *ops;
    sl_run_router_fn router; /* NULL: events start no runs */
    void *router_ctx;
    void (*on_runs)(void *ctx); /* after a commit that queued runs */
    void *on_runs_ctx;
};

/* Opens the store a URI names: "sqlite:PATH" (created if missing). */
sl_err sl_store_open(const char *uri, sl_store_t **out, char *err, size_t errlen);

/* Closes it; NULL is a no-op. */
void sl_store_close(sl_store_t *s);

/* The SQLite backend. */
sl_err sl__sqlite_open(const char *path, sl_store_t **out, char *err, size_t errlen);

#endif
