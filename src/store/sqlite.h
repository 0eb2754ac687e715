/* What the SQLite store's files share (internal to src/store/): sqlite.c holds connections,
 * events and cursors and opens the database; sqlite_runs.c holds runs, their steps, flow
 * settings and contacts. */
#ifndef SLUICE_STORE_SQLITE_H
#define SLUICE_STORE_SQLITE_H

#include <pthread.h>

#include <sqlite3.h>

#include "store/store.h"

typedef struct sqlite_store {
    sl_store_t base;
    sqlite3 *db;
    pthread_mutex_t lock; /* one connection, serialised */
} sqlite_store_t;

static inline sqlite_store_t *sl__sq_of(sl_store_t *s)
{
    return (sqlite_store_t *)s;
}

/* "store: WHAT: sqlite's message" into err; returns SL_EIO. */
sl_err sl__sq_db_error(sqlite_store_t *st, const char *what, char *err, size_t errlen);
/* A text column copied into dst (cut to n), "" for NULL. */
void sl__sq_copy_col(char *dst, size_t n, sqlite3_stmt *q, int col);
/* A text column as a heap string, NULL for NULL. */
char *sl__sq_dup_col(sqlite3_stmt *q, int col);
/* Binds v, or NULL for NULL or "". */
void sl__sq_bind_text_or_null(sqlite3_stmt *q, int i, const char *v);
/* A new run id "run_" + 20 hex digits; -1 when there is no randomness. */
int sl__sq_run_id(char *out, size_t n);
/* Inserts a queued run (the caller holds the lock); SQLite's result code. */
int sl__sq_insert_run(sqlite_store_t *st, const char *id, const char *flow, const char *event_id,
                      const char *connection, const char *input);

sl_err sl__sq_run_create(sl_store_t *s, const json_t *run, char *err, size_t errlen);
sl_err sl__sq_runs_claim(sl_store_t *s, size_t max, json_t **out, char *err, size_t errlen);
sl_err sl__sq_runs_requeue_running(sl_store_t *s, long long *n, char *err, size_t errlen);
sl_err sl__sq_run_get(sl_store_t *s, const char *id, json_t **out, char *err, size_t errlen);
sl_err sl__sq_runs_list(sl_store_t *s, const sl_run_filter_t *f, json_t **out, char *err,
                        size_t errlen);
sl_err sl__sq_run_set_status(sl_store_t *s, const char *id, const char *status, const char *error,
                             const char *failed_step, char *err, size_t errlen);
sl_err sl__sq_steps_put(sl_store_t *s, const char *run_id, const json_t *steps, char *err,
                        size_t errlen);
sl_err sl__sq_steps_get(sl_store_t *s, const char *run_id, json_t **out, char *err, size_t errlen);
sl_err sl__sq_steps_drop_failed(sl_store_t *s, const char *run_id, char *err, size_t errlen);
sl_err sl__sq_flow_enabled_get(sl_store_t *s, const char *flow, int *enabled, char *err,
                               size_t errlen);
sl_err sl__sq_flow_enabled_put(sl_store_t *s, const char *flow, int enabled, char *err,
                               size_t errlen);
sl_err sl__sq_contact_upsert(sl_store_t *s, const char *email, const char *first_name,
                             const char *last_name, int *created, json_t **out, char *err,
                             size_t errlen);
sl_err sl__sq_contacts_list(sl_store_t *s, json_t **out, char *err, size_t errlen);

#endif
