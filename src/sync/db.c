/* The sync database: opening SQLite or PostgreSQL, the tables' DDL, and one way to run a
 * statement on either (parameters as text, {table} names qualified by the schema). */
#include <ctype.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "core/buf.h"
#include "store/postgres.h"
#include "sync/internal.h"

const sl_sync_table_t *sl_sync_table(const char *name)
{
    for (size_t i = 0; i < sl__sync_ntables; i++)
        if (!strcmp(sl__sync_tables[i].name, name))
            return &sl__sync_tables[i];
    return NULL;
}

const sl_sync_table_t *sl_sync_table_for_object(const char *object)
{
    for (size_t i = 0; i < sl__sync_ntables; i++)
        if (!strcmp(sl__sync_tables[i].object, object) && !*sl__sync_tables[i].parent)
            return &sl__sync_tables[i];
    return NULL;
}

const char *sl_sync_kind(const sl_sync_t *s)
{
    return s->pg ? "postgres" : "sqlite";
}

/* sql with {name} as the qualified table name and (SQLite) $N as ?N. Heap, or NULL. */
static char *rewrite(const sl_sync_t *s, const char *sql)
{
    sl_buf_t b;
    sl__buf_init(&b, 1 << 20);
    for (const char *p = sql; *p; p++) {
        if (*p == '{') {
            const char *end = strchr(p, '}');
            if (!end)
                break;
            if (s->pg)
                sl__buf_printf(&b, "\"%s\".\"%.*s\"", s->schema, (int)(end - p - 1), p + 1);
            else
                sl__buf_printf(&b, "\"%.*s\"", (int)(end - p - 1), p + 1);
            p = end;
        } else if (*p == '$' && !s->pg && isdigit((unsigned char)p[1])) {
            sl__buf_putc(&b, '?');
        } else {
            sl__buf_putc(&b, *p);
        }
    }
    return sl__buf_take(&b);
}

/* Runs q, already rewritten for the backend. */
/* "the sync database FILE: SQLite's message" into err. */
static void sq_error(const sl_sync_t *s, char *err, size_t errlen)
{
    if (snprintf(err, errlen, "the sync database %s: %s", s->where, sqlite3_errmsg(s->db)) < 0)
        *err = 0;
}

/* PostgreSQL: cached statement k, prepared on first use. Its result, or NULL with err. */
static PGresult *pg_cached(sl_sync_t *s, size_t k, int n, const char *const *v, char *err,
                           size_t errlen)
{
    char name[32];
    snprintf(name, sizeof name, "s%zu", k);
    PGresult *r;
    if (!s->stmts[k].prepared) {
        r = PQprepare(s->pc, name, s->stmts[k].sql, n, NULL);
        if (PQresultStatus(r) != PGRES_COMMAND_OK) {
            sl__pg_error(s->pc, r, "the sync database", err, errlen);
            PQclear(r);
            return NULL;
        }
        PQclear(r);
        s->stmts[k].prepared = 1;
    }
    r = PQexecPrepared(s->pc, name, n, v, NULL, NULL, 0);
    ExecStatusType st = PQresultStatus(r);
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
        sl__pg_error(s->pc, r, "the sync database", err, errlen);
        PQclear(r);
        return NULL;
    }
    return r;
}

/* Runs q, already rewritten for the backend; k: the cached statement it is, or -1. */
static sl_err run(sl_sync_t *s, const char *q, long k, int n, const char *const *v,
                  sl_sync_row_cb cb, void *ctx, char *err, size_t errlen)
{
    sl_err rc = SL_OK;
    pthread_mutex_lock(&s->lock);
    if (s->pg) {
        PGresult *r =
            k >= 0 ? pg_cached(s, (size_t)k, n, v, err, errlen)
                   : sl__pg_exec(s->pc, q, n, v, NULL, NULL, "the sync database", err, errlen);
        if (!r) {
            rc = SL_EIO;
        } else {
            int rows = PQntuples(r), cols = PQnfields(r);
            const char *vals[64];
            for (int i = 0; cb && i < rows; i++) {
                for (int c = 0; c < cols && c < 64; c++)
                    vals[c] = PQgetisnull(r, i, c) ? NULL : PQgetvalue(r, i, c);
                if (cb(ctx, cols < 64 ? cols : 64, vals))
                    break;
            }
            PQclear(r);
        }
    } else {
        sqlite3_stmt *st = k >= 0 ? s->stmts[k].stmt : NULL;
        if (!st && sqlite3_prepare_v3(s->db, q, -1, k >= 0 ? SQLITE_PREPARE_PERSISTENT : 0, &st,
                                      NULL) != SQLITE_OK) {
            sq_error(s, err, errlen);
            rc = SL_EIO;
        } else {
            if (k >= 0)
                s->stmts[k].stmt = st;
            for (int i = 0; i < n; i++)
                sqlite3_bind_text(st, i + 1, v[i], -1, SQLITE_STATIC);
            int step;
            const char *vals[64];
            while ((step = sqlite3_step(st)) == SQLITE_ROW) {
                int cols = sqlite3_column_count(st);
                if (cols > 64)
                    cols = 64;
                for (int c = 0; c < cols; c++)
                    vals[c] = (const char *)sqlite3_column_text(st, c);
                if (cb && cb(ctx, cols, vals))
                    break;
            }
            if (step != SQLITE_ROW && step != SQLITE_DONE) {
                sq_error(s, err, errlen);
                rc = SL_EIO;
            }
            if (k >= 0) {
                sqlite3_reset(st);
                sqlite3_clear_bindings(st);
            } else {
                sqlite3_finalize(st);
            }
        }
    }
    pthread_mutex_unlock(&s->lock);
    return rc;
}

sl_err sl_sync_sql(sl_sync_t *s, const char *sql, int n, const char *const *v, sl_sync_row_cb cb,
                   void *ctx, char *err, size_t errlen)
{
    char *q = rewrite(s, sql);
    if (!q)
        return SL_ENOMEM;
    sl_err rc = run(s, q, -1, n, v, cb, ctx, err, errlen);
    free(q);
    return rc;
}

sl_err sl_sync_tx(sl_sync_t *s, sl_err (*fn)(sl_sync_t *s, void *ctx, char *err, size_t errlen),
                  void *ctx, char *err, size_t errlen)
{
    pthread_mutex_lock(&s->lock);
    sl_err rc =
        sl_sync_sql(s, s->pg ? "BEGIN" : "BEGIN IMMEDIATE", 0, NULL, NULL, NULL, err, errlen);
    if (!rc) {
        rc = fn(s, ctx, err, errlen);
        char e2[256];
        if (rc)
            sl_sync_sql(s, "ROLLBACK", 0, NULL, NULL, NULL, e2, sizeof e2);
        else
            rc = sl_sync_sql(s, "COMMIT", 0, NULL, NULL, NULL, err, errlen);
    }
    pthread_mutex_unlock(&s->lock);
    return rc;
}

static const char *col_type(const sl_sync_t *s, int kind)
{
    switch (kind) {
    case SL_SYNC_INT:
        return "BIGINT";
    case SL_SYNC_REAL:
        return "DOUBLE PRECISION";
    case SL_SYNC_BOOL:
        return "BOOLEAN";
    default:
        return "TEXT";
    }
    (void)s;
}

/* The upsert of table t: $1 id, $2 account, $3 data, $4 deleted, $5 version, $6 event_id,
 * $7 synced_at, $8 force (replace a row of the same version), then the typed columns. */
static char *upsert_sql(const sl_sync_t *s, const sl_sync_table_t *t)
{
    sl_buf_t b;
    sl__buf_init(&b, 1 << 20);
    sl__buf_printf(&b, "INSERT INTO {%s} (id, account, data, deleted, version, event_id, synced_at",
                   t->name);
    for (size_t i = 0; i < t->ncols; i++)
        sl__buf_printf(&b, ", \"%s\"", t->cols[i].name);
    sl__buf_printf(&b, ") VALUES ($1, $2, $3, $4, $5, $6, $7");
    for (size_t i = 0; i < t->ncols; i++)
        sl__buf_printf(&b, ", $%zu", i + 9);
    sl__buf_printf(&b, ") ON CONFLICT (account, id) DO UPDATE SET data = excluded.data, deleted = "
                       "excluded.deleted, version = excluded.version, event_id = "
                       "excluded.event_id, synced_at = excluded.synced_at");
    for (size_t i = 0; i < t->ncols; i++)
        sl__buf_printf(&b, ", \"%s\" = excluded.\"%s\"", t->cols[i].name, t->cols[i].name);
    sl__buf_printf(&b,
                   " WHERE {%s}.version < excluded.version OR ({%s}.version = "
                   "excluded.version AND $8 = '1')",
                   t->name, t->name);
    char *raw = sl__buf_take(&b);
    char *q = raw ? rewrite(s, raw) : NULL;
    free(raw);
    return q;
}

/* CREATE ... IF NOT EXISTS tells of every table that exists: nobody needs to read that. */
static void quiet(void *arg, const char *message)
{
    (void)arg;
    (void)message;
}

typedef struct {
    const char **names;
    size_t n, cap;
} names_t;

static int collect_name(void *ctx, int n, const char *const *c)
{
    names_t *nm = ctx;
    if (n > 0 && c[0] && nm->n < nm->cap)
        nm->names[nm->n++] = strdup(c[0]);
    return 0;
}

/* A table made by an older sluice gets the typed columns added since (its rows keep them NULL
 * until they are written again); check_only: only refuses a table of that name that is not a
 * sync table (the inbox's `events`, when the sync store is sluice's own file). */
static sl_err add_columns(sl_sync_t *s, const sl_sync_table_t *t, sl_buf_t *b, int check_only,
                          char *err, size_t errlen)
{
    const char *have[256];
    names_t nm = {have, 0, 256};
    const char *v[] = {s->schema, t->name};
    char sql[160];
    snprintf(sql, sizeof sql, "SELECT name FROM pragma_table_info('%s')", t->name);
    sl_err rc = s->pg ? sl_sync_sql(s,
                                    "SELECT column_name FROM information_schema.columns WHERE "
                                    "table_schema = $1 AND table_name = $2",
                                    2, v, collect_name, &nm, err, errlen)
                      : sl_sync_sql(s, sql, 0, NULL, collect_name, &nm, err, errlen);
    int ours = nm.n == 0; /* just made */
    for (size_t k = 0; k < nm.n; k++)
        ours |= !strcmp(have[k], "synced_at");
    if (!rc && !ours) {
        if (snprintf(err, errlen,
                     "the sync database %s has a table `%s` that is not a sync table: give the "
                     "sync tables a database (or PostgreSQL schema) of their own",
                     s->where, t->name) < 0)
            *err = 0;
        rc = SL_EINVAL;
    }
    for (size_t c = 0; !rc && !check_only && c < t->ncols; c++) {
        int found = 0;
        for (size_t k = 0; k < nm.n && !found; k++)
            found = !strcmp(have[k], t->cols[c].name);
        if (found)
            continue;
        sl__buf_reset(b);
        sl__buf_printf(b, "ALTER TABLE {%s} ADD COLUMN \"%s\" %s", t->name, t->cols[c].name,
                       col_type(s, t->cols[c].kind));
        rc = sl_sync_sql(s, b->data, 0, NULL, NULL, NULL, err, errlen);
    }
    for (size_t k = 0; k < nm.n; k++)
        free((char *)have[k]);
    return rc;
}

static sl_err ddl(sl_sync_t *s, char *err, size_t errlen)
{
    sl_buf_t b;
    sl__buf_init(&b, 1 << 20);
    sl_err rc = SL_OK;
    const char *json = s->pg ? "JSONB" : "TEXT";
    for (size_t i = 0; i < sl__sync_ntables && !rc; i++) /* nothing made in a foreign database */
        rc = add_columns(s, &sl__sync_tables[i], &b, 1, err, errlen);
    for (size_t i = 0; i < sl__sync_ntables && !rc; i++) {
        const sl_sync_table_t *t = &sl__sync_tables[i];
        sl__buf_reset(&b);
        sl__buf_printf(&b,
                       "CREATE TABLE IF NOT EXISTS {%s} (id TEXT NOT NULL, account TEXT NOT NULL, "
                       "data %s NOT NULL, deleted BOOLEAN NOT NULL DEFAULT FALSE, version BIGINT "
                       "NOT NULL, event_id TEXT, synced_at BIGINT NOT NULL",
                       t->name, json);
        for (size_t c = 0; c < t->ncols; c++)
            sl__buf_printf(&b, ", \"%s\" %s", t->cols[c].name, col_type(s, t->cols[c].kind));
        sl__buf_printf(&b, ", PRIMARY KEY (account, id))");
        rc = sl_sync_sql(s, b.data, 0, NULL, NULL, NULL, err, errlen);
        if (!rc)
            rc = add_columns(s, t, &b, 0, err, errlen);
        for (size_t c = 0; c < t->ncols && !rc; c++) {
            if (!t->cols[c].indexed && strcmp(t->cols[c].name, "created"))
                continue;
            sl__buf_reset(&b);
            sl__buf_printf(&b, "CREATE INDEX IF NOT EXISTS \"%s_%s_idx\" ON {%s} (\"%s\")", t->name,
                           t->cols[c].name, t->name, t->cols[c].name);
            rc = sl_sync_sql(s, b.data, 0, NULL, NULL, NULL, err, errlen);
        }
    }
    /* A backfill's ranges: [lo, hi] still to list (hi moves down as pages are listed, after
     * `cursor`); top is where hi began, for the estimate of what is left. Each table's last
     * backfill. Named marks (how far serve --sync applied the inbox). */
    static const char *const meta[] = {
        "CREATE TABLE IF NOT EXISTS {sync_backfill_ranges} (account TEXT NOT NULL, tbl TEXT NOT "
        "NULL, lo BIGINT NOT NULL, hi BIGINT NOT NULL, top BIGINT NOT NULL, cursor TEXT, rows "
        "BIGINT NOT NULL DEFAULT 0, done BOOLEAN NOT NULL DEFAULT FALSE, PRIMARY KEY (account, "
        "tbl, lo))",
        "CREATE TABLE IF NOT EXISTS {sync_backfills} (account TEXT NOT NULL, tbl TEXT NOT NULL, "
        "started_ms BIGINT NOT NULL, finished_ms BIGINT, rows BIGINT NOT NULL DEFAULT 0, PRIMARY "
        "KEY (account, tbl))",
        "CREATE TABLE IF NOT EXISTS {sync_marks} (key TEXT PRIMARY KEY, value BIGINT NOT NULL)"};
    for (size_t i = 0; i < sizeof meta / sizeof *meta && !rc; i++)
        rc = sl_sync_sql(s, meta[i], 0, NULL, NULL, NULL, err, errlen);
    sl__buf_cleanup(&b);
    return rc;
}

sl_err sl_sync_open(const char *where, const char *schema, sl_sync_t **out, char *err,
                    size_t errlen)
{
    *out = NULL;
    sl_sync_t *s = calloc(1, sizeof *s);
    if (!s)
        return SL_ENOMEM;
    pthread_mutexattr_t a;
    pthread_mutexattr_init(&a);
    pthread_mutexattr_settype(&a, PTHREAD_MUTEX_RECURSIVE);
    pthread_mutex_init(&s->lock, &a);
    pthread_mutexattr_destroy(&a);
    schema = schema ? schema : "stripe";
    sl_err rc = SL_OK;
    if (!*schema || strlen(schema) >= sizeof s->schema ||
        strspn(schema, "abcdefghijklmnopqrstuvwxyz0123456789_") != strlen(schema)) {
        snprintf(err, errlen, "the sync schema `%s` must be 1-63 of a-z, 0-9 and _", schema);
        rc = SL_EINVAL;
        goto out;
    }
    snprintf(s->schema, sizeof s->schema, "%s", schema);
    if (!strncmp(where, "postgres://", 11) || !strncmp(where, "postgresql://", 13)) {
        s->pg = 1;
        char *shown = sl__pg_mask_uri(where);
        snprintf(s->where, sizeof s->where, "%s", shown ? shown : "postgres://...");
        free(shown);
        s->pc = PQconnectdb(where);
        if (PQstatus(s->pc) != CONNECTION_OK) {
            snprintf(err, errlen, "cannot connect to the sync database %s: %s", s->where,
                     PQerrorMessage(s->pc));
            rc = SL_EIO;
            goto out;
        }
        PQsetNoticeProcessor(s->pc, quiet, NULL);
        char sql[160];
        snprintf(sql, sizeof sql, "CREATE SCHEMA IF NOT EXISTS \"%s\"", s->schema);
        /* Two processes creating the tables at once would collide in PostgreSQL's catalog. */
        if ((rc = sl_sync_sql(s, "SELECT pg_advisory_lock(7317400001)", 0, NULL, NULL, NULL, err,
                              errlen)))
            goto out;
        rc = sl_sync_sql(s, sql, 0, NULL, NULL, NULL, err, errlen);
        if (!rc)
            rc = ddl(s, err, errlen);
        char e2[256];
        sl_sync_sql(s, "SELECT pg_advisory_unlock(7317400001)", 0, NULL, NULL, NULL, e2, sizeof e2);
    } else {
        const char *path = !strncmp(where, "sqlite:", 7) ? where + 7 : where;
        snprintf(s->where, sizeof s->where, "%s", path);
        if (sqlite3_open_v2(path, &s->db,
                            SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                            NULL) != SQLITE_OK) {
            snprintf(err, errlen, "cannot open the sync database %s: %s", path,
                     s->db ? sqlite3_errmsg(s->db) : "out of memory");
            rc = SL_EIO;
            goto out;
        }
        sqlite3_busy_timeout(s->db, 5000);
        rc = sl_sync_sql(s, "PRAGMA journal_mode=WAL", 0, NULL, NULL, NULL, err, errlen);
        if (!rc)
            rc = sl_sync_sql(s, "PRAGMA synchronous=NORMAL", 0, NULL, NULL, NULL, err, errlen);
        if (!rc)
            rc = ddl(s, err, errlen);
    }
    if (!rc) {
        s->stmts = calloc(2 * sl__sync_ntables, sizeof *s->stmts);
        if (!s->stmts)
            rc = SL_ENOMEM;
        for (size_t i = 0; !rc && i < sl__sync_ntables; i++) {
            const sl_sync_table_t *t = &sl__sync_tables[i];
            char cur[256];
            int status = 0;
            for (size_t c = 0; c < t->ncols; c++)
                status |= !strcmp(t->cols[c].name, "status");
            snprintf(cur, sizeof cur,
                     "SELECT version, deleted%s FROM {%s} WHERE account = $1 AND id = $2",
                     status ? ", status" : "", t->name);
            s->stmts[2 * i].sql = upsert_sql(s, t);
            s->stmts[2 * i + 1].sql = rewrite(s, cur);
            if (!s->stmts[2 * i].sql || !s->stmts[2 * i + 1].sql)
                rc = SL_ENOMEM;
        }
    }
out:
    if (rc) {
        sl_sync_close(s);
        return rc;
    }
    *out = s;
    return SL_OK;
}

void sl_sync_close(sl_sync_t *s)
{
    if (!s)
        return;
    for (size_t i = 0; s->stmts && i < 2 * sl__sync_ntables; i++) {
        free(s->stmts[i].sql);
        if (s->stmts[i].stmt)
            sqlite3_finalize(s->stmts[i].stmt);
    }
    free(s->stmts);
    if (s->pc)
        PQfinish(s->pc);
    if (s->db)
        sqlite3_close(s->db);
    pthread_mutex_destroy(&s->lock);
    free(s);
}

sl_err sl__sync_stmt(sl_sync_t *s, const sl_sync_table_t *t, int which, int n, const char *const *v,
                     sl_sync_row_cb cb, void *ctx, char *err, size_t errlen)
{
    size_t k = 2 * (size_t)(t - sl__sync_tables) + (size_t)which;
    return run(s, s->stmts[k].sql, (long)k, n, v, cb, ctx, err, errlen);
}

sl_err sl_sync_truncate(sl_sync_t *s, char *err, size_t errlen)
{
    char sql[160];
    sl_err rc = SL_OK;
    for (size_t i = 0; i < sl__sync_ntables && !rc; i++) {
        snprintf(sql, sizeof sql, "DELETE FROM {%s}", sl__sync_tables[i].name);
        rc = sl_sync_sql(s, sql, 0, NULL, NULL, NULL, err, errlen);
    }
    if (!rc)
        rc = sl_sync_sql(s, "DELETE FROM {sync_backfill_ranges}", 0, NULL, NULL, NULL, err, errlen);
    if (!rc)
        rc = sl_sync_sql(s, "DELETE FROM {sync_backfills}", 0, NULL, NULL, NULL, err, errlen);
    return rc;
}

static int read_mark(void *ctx, int n, const char *const *c)
{
    long long *v = ctx;
    if (n > 0 && c[0])
        *v = atoll(c[0]);
    return 1;
}

sl_err sl_sync_mark_get(sl_sync_t *s, const char *key, long long *value, char *err, size_t errlen)
{
    long long v = LLONG_MIN;
    const char *p[] = {key};
    sl_err rc = sl_sync_sql(s, "SELECT value FROM {sync_marks} WHERE key = $1", 1, p, read_mark, &v,
                            err, errlen);
    if (!rc && v == LLONG_MIN)
        return SL_ENOTFOUND;
    if (!rc)
        *value = v;
    return rc;
}

sl_err sl_sync_mark_put(sl_sync_t *s, const char *key, long long value, char *err, size_t errlen)
{
    char v[24];
    snprintf(v, sizeof v, "%lld", value);
    const char *p[] = {key, v};
    return sl_sync_sql(s,
                       "INSERT INTO {sync_marks} (key, value) VALUES ($1, $2) ON CONFLICT (key) DO "
                       "UPDATE SET value = excluded.value",
                       2, p, NULL, NULL, err, errlen);
}
