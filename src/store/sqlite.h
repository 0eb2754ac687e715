/* What the SQLite store's files share (internal to src/store/): sqlite.c holds connections,
 * events and cursors and opens the database; sqlite_runs.c holds runs, their steps, flow
 * settings and contacts. */
#ifndef SLUICE_STORE_SQLITE_H
#define SLUICE_STORE_SQLITE_H

/* How long a write waits for another process's lock before failing: a locked store answers 503
 * in about a second rather than stalling requests. Cursors (the serve-alive marker each second,
 * the health probe, schedule and catch-up marks) wait less: each is written again soon, and while
 * one waits it holds the connection that events are committed through. */
#define SL_SQ_BUSY_MS 1000
#define SL_SQ_BUSY_CURSOR_MS 100

#include <pthread.h>

#include <sqlite3.h>

#include "store/store.h"

typedef struct sqlite_store {
    sl_store_t base;
    sqlite3 *db;
    pthread_mutex_t lock; /* one connection, serialised */
    int version;          /* the schema version, after migrations */
    char path[1024];      /* the file, for messages */
    /* Prepared statements, kept for the connection's life, by the address of their SQL (every
     * statement's text is a string constant). */
    struct {
        const char *sql;
        sqlite3_stmt *stmt;
    } cache[96];
    size_t ncache;
} sqlite_store_t;

static inline sqlite_store_t *sl__sq_of(sl_store_t *s)
{
    return (sqlite_store_t *)s;
}

/* The statement for sql (a string constant), prepared once and kept (the caller holds the
 * lock); SQLITE_OK or SQLite's error. Give it back with sl__sq_release. */
int sl__sq_prepare(sqlite_store_t *st, const char *sql, sqlite3_stmt **out);
/* Runs a statement without results (BEGIN, COMMIT, a PRAGMA) through the cache. */
int sl__sq_exec(sqlite_store_t *st, const char *sql);
/* Resets a statement from sl__sq_prepare for its next use; NULL is a no-op. */
void sl__sq_release(sqlite3_stmt *q);

/* "store: WHAT: sqlite's message" into err; returns SL_EIO. */
sl_err sl__sq_db_error(sqlite_store_t *st, const char *what, char *err, size_t errlen);
/* A text column copied into dst (cut to n), "" for NULL. */
void sl__sq_copy_col(char *dst, size_t n, sqlite3_stmt *q, int col);
/* A text column as a heap string, NULL for NULL. */
char *sl__sq_dup_col(sqlite3_stmt *q, int col);
/* Binds v, or NULL for NULL or "". */
void sl__sq_bind_text_or_null(sqlite3_stmt *q, int i, const char *v);
/* Binds a list's parameters (store.h's sl_where_t) and, after them, its limit. */
void sl__sq_bind_where(sqlite3_stmt *q, const sl_where_t *w, long long limit);
/* Inserts a queued run (the caller holds the lock); -1 on failure. */
int sl__sq_insert_run(sqlite_store_t *st, const char *id, const char *flow, const char *event_id,
                      const char *connection, const char *input, long long created_ms);

sl_err sl__sq_run_insert(sl_store_t *s, const sl_run_row_t *row, char *err, size_t errlen);
sl_err sl__sq_runs_claim(sl_store_t *s, const char *owner, long long now, long long lease_until,
                         size_t max, sl_run_cb cb, void *ctx, char *err, size_t errlen);
sl_err sl__sq_run_claim_id(sl_store_t *s, const char *id, const char *owner, long long now,
                           long long lease_until, int *claimed, char *err, size_t errlen);
sl_err sl__sq_runs_queue_stats(sl_store_t *s, long long *depth, long long *oldest_ms, char *err,
                               size_t errlen);
sl_err sl__sq_runs_heartbeat(sl_store_t *s, const char *owner, long long lease_until, long long *n,
                             char *err, size_t errlen);
sl_err sl__sq_runs_expire_others(sl_store_t *s, const char *keep, long long *n, char *err,
                                 size_t errlen);
sl_err sl__sq_run_get(sl_store_t *s, const char *id, sl_run_row_t *out, char *err, size_t errlen);
sl_err sl__sq_runs_list(sl_store_t *s, const sl_run_filter_t *f, sl_run_cb cb, void *ctx, char *err,
                        size_t errlen);
sl_err sl__sq_runs_update(sl_store_t *s, const sl_run_update_t *u, size_t n, int *applied,
                          char *err, size_t errlen);
sl_err sl__sq_steps_get(sl_store_t *s, const char *run_id, sl_step_cb cb, void *ctx, char *err,
                        size_t errlen);
sl_err sl__sq_schedule_fire(sl_store_t *s, const char *flow, long long minute,
                            const sl_run_row_t *run, int *fired, char *err, size_t errlen);
sl_err sl__sq_lease_take(sl_store_t *s, const char *name, const char *owner, long long now,
                         long long until, int *held, char *err, size_t errlen);
sl_err sl__sq_flow_enabled_get(sl_store_t *s, const char *flow, int *enabled, char *err,
                               size_t errlen);
sl_err sl__sq_flow_enabled_put(sl_store_t *s, const char *flow, int enabled, char *err,
                               size_t errlen);
sl_err sl__sq_contact_upsert(sl_store_t *s, const char *email, const char *first_name,
                             const char *last_name, long long now, int *created, sl_contact_cb cb,
                             void *ctx, char *err, size_t errlen);
sl_err sl__sq_contacts_list(sl_store_t *s, sl_contact_cb cb, void *ctx, char *err, size_t errlen);

#endif
