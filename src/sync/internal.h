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
    /* Each table's two hot statements, rewritten for the backend and prepared on first use:
     * [2i] its upsert, [2i + 1] the version of one row. */
    struct sl_sync_stmt {
        char *sql;
        sqlite3_stmt *stmt; /* SQLite */
        int prepared;       /* PostgreSQL: as "s<index>" */
    } * stmts;
};

enum { SL_SYNC_UPSERT = 0, SL_SYNC_CURRENT = 1 };

/* Runs statement `which` (SL_SYNC_UPSERT, SL_SYNC_CURRENT) of table t, as sl_sync_sql does. */
sl_err sl__sync_stmt(sl_sync_t *s, const sl_sync_table_t *t, int which, int n, const char *const *v,
                     sl_sync_row_cb cb, void *ctx, char *err, size_t errlen);

#endif
