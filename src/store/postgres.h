/* What the PostgreSQL store's files share (internal to src/store/): postgres.c opens the store
 * and holds the schema, connections, events and cursors; postgres_runs.c holds runs, their
 * steps, schedules, leases, flow settings and contacts; postgres_pool.c holds the pool of
 * connections, the thread that listens for other instances' runs, and the helpers below. */
#ifndef SLUICE_STORE_POSTGRES_H
#define SLUICE_STORE_POSTGRES_H

#include <pthread.h>

#include <libpq-fe.h>

#include "store/store.h"

/* The channel a commit that queued runs notifies; every instance listens on it. */
#define SL_PG_CHANNEL "sluice_runs"

typedef struct pg_store {
    sl_store_t base;
    char *uri;              /* libpq's URI, with any password: never printed */
    char *shown;            /* the URI with its password masked, for messages */
    char token[33];         /* this store's notifications carry it; its listener skips them */
    int version;            /* the schema version, after migrations */
    pthread_mutex_t lock;   /* guards the pool */
    pthread_cond_t freed;   /* a connection came back, or a slot opened */
    PGconn **idle;          /* connections not checked out */
    int nidle, nopen, size; /* idle ones; opened (idle, checked out or connecting); the cap */
    PGconn *listen;         /* the listener thread's own connection */
    pthread_t listener;
    int have_listener;
    int wake[2]; /* a pipe: close() writes to it to stop the listener at once */
    int stop;    /* read and written with __atomic */
} pg_store_t;

static inline pg_store_t *sl__pg_of(sl_store_t *s)
{
    return (pg_store_t *)s;
}

/* Checks a connection out of the pool, opening one when the pool is not full yet and resetting
 * a broken one; waits while all are checked out. NULL with err set when the server cannot be
 * reached. Every connection checked out goes back with sl__pg_put. */
PGconn *sl__pg_get(pg_store_t *st, char *err, size_t errlen);
/* Returns c to the pool, rolling back a transaction left open. */
void sl__pg_put(pg_store_t *st, PGconn *c);
/* One statement on a connection checked out for it: its result (PQclear), or NULL with err. */
PGresult *sl__pg_query(pg_store_t *st, const char *sql, int n, const char *const *v,
                       const char *what, char *err, size_t errlen);
/* The URI with its password, in the authority or as ?password=, shown as ***. Heap. */
char *sl__pg_mask_uri(const char *uri);
/* Connects the listener and starts its thread, which calls on_runs for every notification of
 * another store until sl__pg_listen_stop. */
sl_err sl__pg_listen_start(pg_store_t *st, char *err, size_t errlen);
/* Stops the listener's thread (a no-op when none) and closes its connection. */
void sl__pg_listen_stop(pg_store_t *st);

/* "store: WHAT: libpq's message" into err (r's message when it has one, else c's); returns
 * SL_EIO. */
sl_err sl__pg_error(PGconn *c, const PGresult *r, const char *what, char *err, size_t errlen);
/* Runs sql with n text parameters (NULL: SQL NULL). lens/fmts, or NULL, as PQexecParams takes
 * them (a binary-format text parameter need not end in NUL). Returns the result when the
 * statement succeeded; else clears it, writes "store: WHAT: ..." into err and returns NULL. */
PGresult *sl__pg_exec(PGconn *c, const char *sql, int n, const char *const *v, const int *lens,
                      const int *fmts, const char *what, char *err, size_t errlen);
/* A statement whose result is not needed: 0, or -1 with err set. */
int sl__pg_cmd(PGconn *c, const char *sql, int n, const char *const *v, const char *what, char *err,
               size_t errlen);
/* Rows changed by r's command. */
long long sl__pg_changed(const PGresult *r);
/* Ends the open transaction: 0 when committed, else -1 with err set (rolled back). */
int sl__pg_commit(PGconn *c, const char *what, char *err, size_t errlen);
/* Rolls the open transaction back (any error ignored: the pool checks the connection). */
void sl__pg_rollback(PGconn *c);
/* Notifies other instances, when the transaction commits, that runs were queued. */
int sl__pg_notify(pg_store_t *st, PGconn *c, char *err, size_t errlen);

/* A value as text or NULL for NULL, copied into dst (cut to n; "" for NULL), duplicated (heap,
 * NULL for NULL), or as a number (null for NULL). */
const char *sl__pg_str(const PGresult *r, int row, int col);
void sl__pg_copy(char *dst, size_t n, const PGresult *r, int row, int col);
char *sl__pg_dup(const PGresult *r, int row, int col);
long long sl__pg_ll(const PGresult *r, int row, int col, long long null);
/* v when it is non-empty, else NULL: the text columns SQLite's store binds as NULL. */
const char *sl__pg_text_or_null(const char *v);

/* Inserts a queued run within the caller's transaction; 0, or -1 with err set. */
int sl__pg_insert_run(PGconn *c, const char *id, const char *flow, const char *event_id,
                      const char *connection, const char *input, long long created_ms,
                      const char *what, char *err, size_t errlen);

sl_err sl__pg_run_insert(sl_store_t *s, const sl_run_row_t *row, char *err, size_t errlen);
sl_err sl__pg_runs_claim(sl_store_t *s, const char *owner, long long now, long long lease_until,
                         size_t max, sl_run_cb cb, void *ctx, char *err, size_t errlen);
sl_err sl__pg_runs_heartbeat(sl_store_t *s, const char *owner, long long lease_until, long long *n,
                             char *err, size_t errlen);
sl_err sl__pg_run_claim_id(sl_store_t *s, const char *id, const char *owner, long long now,
                           long long lease_until, int *claimed, char *err, size_t errlen);
sl_err sl__pg_runs_queue_stats(sl_store_t *s, long long *depth, long long *oldest_ms, char *err,
                               size_t errlen);
sl_err sl__pg_runs_expire_others(sl_store_t *s, const char *keep, long long *n, char *err,
                                 size_t errlen);
sl_err sl__pg_run_get(sl_store_t *s, const char *id, sl_run_row_t *out, char *err, size_t errlen);
sl_err sl__pg_runs_list(sl_store_t *s, const sl_run_filter_t *f, sl_run_cb cb, void *ctx, char *err,
                        size_t errlen);
sl_err sl__pg_runs_update(sl_store_t *s, const sl_run_update_t *u, size_t n, int *applied,
                          char *err, size_t errlen);
sl_err sl__pg_steps_get(sl_store_t *s, const char *run_id, sl_step_cb cb, void *ctx, char *err,
                        size_t errlen);
sl_err sl__pg_schedule_fire(sl_store_t *s, const char *flow, long long minute,
                            const sl_run_row_t *run, int *fired, char *err, size_t errlen);
sl_err sl__pg_lease_take(sl_store_t *s, const char *name, const char *owner, long long now,
                         long long until, int *held, char *err, size_t errlen);
sl_err sl__pg_flow_enabled_get(sl_store_t *s, const char *flow, int *enabled, char *err,
                               size_t errlen);
sl_err sl__pg_flow_enabled_put(sl_store_t *s, const char *flow, int enabled, char *err,
                               size_t errlen);
sl_err sl__pg_contact_upsert(sl_store_t *s, const char *email, const char *first_name,
                             const char *last_name, long long now, int *created, sl_contact_cb cb,
                             void *ctx, char *err, size_t errlen);
sl_err sl__pg_contacts_list(sl_store_t *s, sl_contact_cb cb, void *ctx, char *err, size_t errlen);

#endif
