/* What the sync room's files share (internal to src/sync/). */
#ifndef SLUICE_SYNC_INTERNAL_H
#define SLUICE_SYNC_INTERNAL_H

#include <pthread.h>

#include <libpq-fe.h>
#include <sqlite3.h>

#include "sync/sync.h"

struct sl_sync {
    int pg;
    PGconn *pc;           /* PostgreSQL */
    sqlite3 *db;          /* SQLite */
    pthread_mutex_t lock; /* recursive: a transaction holds it across its statements */
    char schema[64];
    char where[1024]; /* for messages: the file, or the URI without its password */
    char **upsert;    /* each table's upsert, rewritten for the backend */
};

/* Runs a statement already rewritten for the backend (no results). */
sl_err sl__sync_exec_raw(sl_sync_t *s, const char *q, int n, const char *const *v, char *err,
                         size_t errlen);

#endif
