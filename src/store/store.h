/* The store: every table sluice keeps, behind one interface (internal).
 *
 * A backend implements sl_store_ops_t in its own file (sqlite.c; postgres.c next) and embeds
 * sl_store_t as its first member. SQL is kept portable: TEXT and BIGINT columns, INSERT ... ON
 * CONFLICT DO NOTHING, no backend-only functions. Every function may be called from any
 * thread; backends serialise as they must. Errors come back as sl_err with a reason in err. */
#ifndef SLUICE_STORE_H
#define SLUICE_STORE_H

#include <stddef.h>

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
} sl_store_ops_t;

struct sl_store {
    const sl_store_ops_t *ops;
};

/* Opens the store a URI names: "sqlite:PATH" (created if missing). */
sl_err sl_store_open(const char *uri, sl_store_t **out, char *err, size_t errlen);

/* Closes it; NULL is a no-op. */
void sl_store_close(sl_store_t *s);

/* The SQLite backend. */
sl_err sl__sqlite_open(const char *path, sl_store_t **out, char *err, size_t errlen);

#endif
