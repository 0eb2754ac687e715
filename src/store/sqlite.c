/* The SQLite store: WAL journal with synchronous=FULL, so a COMMIT is on disk when it returns.
 * One connection, serialised by a mutex; the inbox batches many events into one commit. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <sqlite3.h>

#include "core/clock.h"
#include "store/sqlite.h"

/* The schema, one migration per version. Version 1 is the schema of the releases before
 * schema versions (its statements are no-ops on such a database); each later step moves a
 * database one version up, in its own transaction. */
static const char *const migrations[] = {
    /* 1 */
    "CREATE TABLE IF NOT EXISTS connections ("
    " name TEXT PRIMARY KEY, mode TEXT NOT NULL, account_id TEXT, key_sealed TEXT NOT NULL,"
    " secret_sealed TEXT, old_secret_sealed TEXT, old_secret_expires BIGINT,"
    " base_url TEXT, stripe_version TEXT, stripe_account TEXT, endpoint_id TEXT,"
    " endpoint_url TEXT, created BIGINT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS events ("
    " id TEXT PRIMARY KEY, connection TEXT NOT NULL, type TEXT NOT NULL, created BIGINT,"
    " received_ms BIGINT NOT NULL, source TEXT NOT NULL, payload TEXT NOT NULL);"
    "CREATE INDEX IF NOT EXISTS events_received ON events (received_ms);"
    "CREATE TABLE IF NOT EXISTS cursors ("
    " connection TEXT PRIMARY KEY, created BIGINT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS runs ("
    " id TEXT PRIMARY KEY, flow TEXT NOT NULL, event_id TEXT, connection TEXT, input TEXT,"
    " status TEXT NOT NULL, error TEXT, failed_step TEXT, attempt BIGINT NOT NULL,"
    " created_ms BIGINT NOT NULL, started_ms BIGINT, finished_ms BIGINT);"
    "CREATE INDEX IF NOT EXISTS runs_status ON runs (status, created_ms);"
    "CREATE INDEX IF NOT EXISTS runs_flow ON runs (flow, created_ms);"
    "CREATE TABLE IF NOT EXISTS run_steps ("
    " run_id TEXT NOT NULL, path TEXT NOT NULL, kind TEXT, status TEXT NOT NULL, input TEXT,"
    " output TEXT, error TEXT, started_ms BIGINT, duration_ms DOUBLE PRECISION,"
    " attempts BIGINT, PRIMARY KEY (run_id, path));"
    "CREATE TABLE IF NOT EXISTS flow_settings (name TEXT PRIMARY KEY, enabled BIGINT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS contacts ("
    " email_key TEXT PRIMARY KEY, email TEXT NOT NULL, first_name TEXT, last_name TEXT,"
    " created_ms BIGINT NOT NULL, updated_ms BIGINT NOT NULL);",
    /* 2: leases on running runs, schedules claimed once per minute, named leases; runs by
     * event for the API's filter. */
    "ALTER TABLE runs ADD COLUMN owner TEXT;"
    "ALTER TABLE runs ADD COLUMN lease_until BIGINT;"
    "CREATE INDEX runs_event ON runs (event_id);"
    "CREATE TABLE schedule_fires (flow TEXT NOT NULL, minute BIGINT NOT NULL,"
    " run_id TEXT NOT NULL, PRIMARY KEY (flow, minute));"
    "CREATE TABLE leases (name TEXT PRIMARY KEY, owner TEXT NOT NULL,"
    " until_ms BIGINT NOT NULL);",
    /* 3: events deduplicated per connection: Stripe Connect sends one event to a platform and
     * to a connected account, each its own connection. SQLite changes a key by copying. */
    "CREATE TABLE events_v3 ("
    " id TEXT NOT NULL, connection TEXT NOT NULL, type TEXT NOT NULL, created BIGINT,"
    " received_ms BIGINT NOT NULL, source TEXT NOT NULL, payload TEXT NOT NULL,"
    " PRIMARY KEY (connection, id));"
    "INSERT INTO events_v3 SELECT id, connection, type, created, received_ms, source, payload"
    " FROM events;"
    "DROP TABLE events;"
    "ALTER TABLE events_v3 RENAME TO events;"
    "CREATE INDEX events_received ON events (received_ms);"
    "CREATE INDEX events_id ON events (id);",
    /* 4: the dashboard's lists, newest first: events by connection, type and object id, runs
     * by status, flow and event, every run. */
    "CREATE INDEX events_connection ON events (connection, received_ms);"
    "CREATE INDEX events_type ON events (type, received_ms);"
    "CREATE INDEX events_family ON events (substr(type, 1, instr(type, '.') - 1), received_ms);"
    "CREATE INDEX events_object ON events (json_extract(payload, '$.data.object.id'),"
    " received_ms);"
    "DROP INDEX runs_event;"
    "CREATE INDEX runs_event ON runs (event_id, created_ms);"
    "CREATE INDEX runs_created ON runs (created_ms);",
    /* 5: the event types of the endpoint sluice registered, for `connect show` and the
     * dashboard. */
    "ALTER TABLE connections ADD COLUMN endpoint_events TEXT;",
    /* 6: the object id as a column, set by sluice as it stores the event: an index on
     * json_extract() parsed every payload again in each commit (a fifth of ingest's time). */
    "ALTER TABLE events ADD COLUMN object_id TEXT;"
    "UPDATE events SET object_id = json_extract(payload, '$.data.object.id')"
    " WHERE json_valid(payload) AND json_type(payload, '$.data.object.id') = 'text';"
    "DROP INDEX events_object;"
    "CREATE INDEX events_object ON events (object_id, received_ms);",
};
#define SCHEMA_VERSION ((int)(sizeof migrations / sizeof migrations[0]))

/* Brings the database to SCHEMA_VERSION; -1 with msg (sqlite3_free) on failure. */
static int migrate(sqlite_store_t *st, char **msg)
{
    sqlite3_stmt *q = NULL;
    int version = 0;
    if (sqlite3_exec(st->db, "CREATE TABLE IF NOT EXISTS schema_version (version BIGINT NOT NULL)",
                     NULL, NULL, msg) != SQLITE_OK)
        return -1;
    if (sl__sq_prepare(st, "SELECT max(version) FROM schema_version", &q) == SQLITE_OK &&
        sqlite3_step(q) == SQLITE_ROW)
        version = sqlite3_column_int(q, 0);
    sl__sq_release(q);
    if (version > SCHEMA_VERSION) {
        *msg = sqlite3_mprintf("the database is at schema version %d, newer than this sluice"
                               " (%d): use the release that wrote it",
                               version, SCHEMA_VERSION);
        return -1;
    }
    for (int v = version + 1; v <= SCHEMA_VERSION; v++) {
        char set[96];
        snprintf(set, sizeof set,
                 "DELETE FROM schema_version; INSERT INTO schema_version VALUES (%d)", v);
        if (sqlite3_exec(st->db, "BEGIN IMMEDIATE", NULL, NULL, msg) != SQLITE_OK)
            return -1;
        if (sqlite3_exec(st->db, migrations[v - 1], NULL, NULL, msg) != SQLITE_OK ||
            sqlite3_exec(st->db, set, NULL, NULL, msg) != SQLITE_OK ||
            sqlite3_exec(st->db, "COMMIT", NULL, NULL, msg) != SQLITE_OK) {
            sl__sq_exec(st, "ROLLBACK");
            return -1;
        }
    }
    st->version = SCHEMA_VERSION;
    return 0;
}

static int sq_schema_version(sl_store_t *s)
{
    return sl__sq_of(s)->version;
}

int sl__sq_prepare(sqlite_store_t *st, const char *sql, sqlite3_stmt **out)
{
    for (size_t i = 0; i < st->ncache; i++)
        if (st->cache[i].sql == sql) {
            *out = st->cache[i].stmt;
            return SQLITE_OK;
        }
    int rc = sqlite3_prepare_v3(st->db, sql, -1, SQLITE_PREPARE_PERSISTENT, out, NULL);
    if (rc == SQLITE_OK && st->ncache < sizeof st->cache / sizeof st->cache[0]) {
        st->cache[st->ncache].sql = sql;
        st->cache[st->ncache++].stmt = *out;
    } else if (rc == SQLITE_OK) {
        /* Sized for every statement of this file and sqlite_runs.c: a new one needs room. */
        sqlite3_finalize(*out);
        *out = NULL;
        rc = SQLITE_INTERNAL;
    }
    return rc;
}

int sl__sq_exec(sqlite_store_t *st, const char *sql)
{
    sqlite3_stmt *q = NULL;
    int rc = sl__sq_prepare(st, sql, &q);
    if (rc == SQLITE_OK) {
        rc = sqlite3_step(q);
        rc = rc == SQLITE_DONE || rc == SQLITE_ROW ? SQLITE_OK : rc;
        sl__sq_release(q);
    }
    return rc;
}

void sl__sq_release(sqlite3_stmt *q)
{
    if (q) {
        sqlite3_reset(q);
        sqlite3_clear_bindings(q);
    }
}

sl_err sl__sq_db_error(sqlite_store_t *st, const char *what, char *err, size_t errlen)
{
    if (err && errlen)
        snprintf(err, errlen, "store: %s: %s", what, sqlite3_errmsg(st->db));
    return SL_EIO;
}

void sl__sq_copy_col(char *dst, size_t n, sqlite3_stmt *q, int col)
{
    const unsigned char *v = sqlite3_column_text(q, col);
    snprintf(dst, n, "%s", v ? (const char *)v : "");
}

char *sl__sq_dup_col(sqlite3_stmt *q, int col)
{
    const unsigned char *v = sqlite3_column_text(q, col);
    return v ? strdup((const char *)v) : NULL;
}

void sl__sq_bind_text_or_null(sqlite3_stmt *q, int i, const char *v)
{
    if (v && *v)
        sqlite3_bind_text(q, i, v, -1, SQLITE_TRANSIENT);
    else
        sqlite3_bind_null(q, i);
}

static void sq_close(sl_store_t *s)
{
    sqlite_store_t *st = sl__sq_of(s);
    for (size_t i = 0; i < st->ncache; i++)
        sqlite3_finalize(st->cache[i].stmt);
    sqlite3_close(st->db);
    pthread_mutex_destroy(&st->lock);
    free(st);
}

static sl_err sq_conn_put(sl_store_t *s, const sl_conn_row_t *r, char *err, size_t errlen)
{
    sqlite_store_t *st = sl__sq_of(s);
    static const char *const sql =
        "INSERT INTO connections (name, mode, account_id, key_sealed, secret_sealed,"
        " old_secret_sealed, old_secret_expires, base_url, stripe_version, stripe_account,"
        " endpoint_id, endpoint_url, created, endpoint_events)"
        " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)"
        " ON CONFLICT (name) DO UPDATE SET mode = excluded.mode,"
        " account_id = excluded.account_id, key_sealed = excluded.key_sealed,"
        " secret_sealed = excluded.secret_sealed, old_secret_sealed = excluded.old_secret_sealed,"
        " old_secret_expires = excluded.old_secret_expires, base_url = excluded.base_url,"
        " stripe_version = excluded.stripe_version, stripe_account = excluded.stripe_account,"
        " endpoint_id = excluded.endpoint_id, endpoint_url = excluded.endpoint_url,"
        " endpoint_events = excluded.endpoint_events";
    sqlite3_stmt *q = NULL;
    sl_err rc = SL_OK;
    pthread_mutex_lock(&st->lock);
    if (sl__sq_prepare(st, sql, &q) != SQLITE_OK) {
        rc = sl__sq_db_error(st, "saving a connection", err, errlen);
        goto out;
    }
    sqlite3_bind_text(q, 1, r->name, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(q, 2, r->mode, -1, SQLITE_TRANSIENT);
    sl__sq_bind_text_or_null(q, 3, r->account_id);
    sqlite3_bind_text(q, 4, r->key_sealed ? r->key_sealed : "", -1, SQLITE_TRANSIENT);
    sl__sq_bind_text_or_null(q, 5, r->secret_sealed);
    sl__sq_bind_text_or_null(q, 6, r->old_secret_sealed);
    sqlite3_bind_int64(q, 7, r->old_secret_expires);
    sl__sq_bind_text_or_null(q, 8, r->base_url);
    sl__sq_bind_text_or_null(q, 9, r->stripe_version);
    sl__sq_bind_text_or_null(q, 10, r->stripe_account);
    sl__sq_bind_text_or_null(q, 11, r->endpoint_id);
    sl__sq_bind_text_or_null(q, 12, r->endpoint_url);
    sqlite3_bind_int64(q, 13, r->created);
    sl__sq_bind_text_or_null(q, 14, r->endpoint_events);
    if (sqlite3_step(q) != SQLITE_DONE)
        rc = sl__sq_db_error(st, "saving a connection", err, errlen);
out:
    sl__sq_release(q);
    pthread_mutex_unlock(&st->lock);
    return rc;
}

#define CONN_COLUMNS                                                                               \
    "name, mode, account_id, key_sealed, secret_sealed, old_secret_sealed, old_secret_expires,"    \
    " base_url, stripe_version, stripe_account, endpoint_id, endpoint_url, created, "              \
    "endpoint_events"

static void conn_from_row(sqlite3_stmt *q, sl_conn_row_t *r)
{
    memset(r, 0, sizeof *r);
    sl__sq_copy_col(r->name, sizeof r->name, q, 0);
    sl__sq_copy_col(r->mode, sizeof r->mode, q, 1);
    sl__sq_copy_col(r->account_id, sizeof r->account_id, q, 2);
    r->key_sealed = sl__sq_dup_col(q, 3);
    r->secret_sealed = sl__sq_dup_col(q, 4);
    r->old_secret_sealed = sl__sq_dup_col(q, 5);
    r->old_secret_expires = sqlite3_column_int64(q, 6);
    sl__sq_copy_col(r->base_url, sizeof r->base_url, q, 7);
    sl__sq_copy_col(r->stripe_version, sizeof r->stripe_version, q, 8);
    sl__sq_copy_col(r->stripe_account, sizeof r->stripe_account, q, 9);
    sl__sq_copy_col(r->endpoint_id, sizeof r->endpoint_id, q, 10);
    sl__sq_copy_col(r->endpoint_url, sizeof r->endpoint_url, q, 11);
    r->created = sqlite3_column_int64(q, 12);
    r->endpoint_events = sl__sq_dup_col(q, 13);
}

static sl_err sq_conn_get(sl_store_t *s, const char *name, sl_conn_row_t *out, char *err,
                          size_t errlen)
{
    sqlite_store_t *st = sl__sq_of(s);
    sqlite3_stmt *q = NULL;
    sl_err rc = SL_OK;
    memset(out, 0, sizeof *out);
    pthread_mutex_lock(&st->lock);
    if (sl__sq_prepare(st, "SELECT " CONN_COLUMNS " FROM connections WHERE name = ?", &q) !=
        SQLITE_OK) {
        rc = sl__sq_db_error(st, "reading a connection", err, errlen);
        goto out;
    }
    sqlite3_bind_text(q, 1, name, -1, SQLITE_TRANSIENT);
    int step = sqlite3_step(q);
    if (step == SQLITE_ROW) {
        conn_from_row(q, out);
    } else if (step == SQLITE_DONE) {
        /* store.c names what is missing */
        rc = SL_ENOTFOUND;
    } else {
        rc = sl__sq_db_error(st, "reading a connection", err, errlen);
    }
out:
    sl__sq_release(q);
    pthread_mutex_unlock(&st->lock);
    return rc;
}

static sl_err sq_conn_list(sl_store_t *s, sl_conn_cb cb, void *ctx, char *err, size_t errlen)
{
    sqlite_store_t *st = sl__sq_of(s);
    sqlite3_stmt *q = NULL;
    sl_err rc = SL_OK;
    pthread_mutex_lock(&st->lock);
    if (sl__sq_prepare(st, "SELECT " CONN_COLUMNS " FROM connections ORDER BY name", &q) !=
        SQLITE_OK) {
        rc = sl__sq_db_error(st, "listing connections", err, errlen);
        goto out;
    }
    int step;
    while ((step = sqlite3_step(q)) == SQLITE_ROW) {
        sl_conn_row_t r;
        conn_from_row(q, &r);
        int stop = cb(&r, ctx);
        sl_conn_row_cleanup(&r);
        if (stop)
            break;
    }
    if (step != SQLITE_ROW && step != SQLITE_DONE)
        rc = sl__sq_db_error(st, "listing connections", err, errlen);
out:
    sl__sq_release(q);
    pthread_mutex_unlock(&st->lock);
    return rc;
}

static sl_err sq_conn_delete(sl_store_t *s, const char *name, char *err, size_t errlen)
{
    sqlite_store_t *st = sl__sq_of(s);
    sqlite3_stmt *q = NULL;
    sl_err rc = SL_OK;
    pthread_mutex_lock(&st->lock);
    if (sl__sq_prepare(st, "DELETE FROM connections WHERE name = ?", &q) != SQLITE_OK) {
        rc = sl__sq_db_error(st, "removing a connection", err, errlen);
        goto out;
    }
    sqlite3_bind_text(q, 1, name, -1, SQLITE_TRANSIENT);
    if (sqlite3_step(q) != SQLITE_DONE) {
        rc = sl__sq_db_error(st, "removing a connection", err, errlen);
    } else if (sqlite3_changes(st->db) == 0) {
        /* store.c names what is missing */
        rc = SL_ENOTFOUND;
    }
out:
    sl__sq_release(q);
    pthread_mutex_unlock(&st->lock);
    return rc;
}

static sl_err sq_events_insert(sl_store_t *s, const sl_event_in_t *ev, size_t n, int *fresh,
                               size_t *queued, char *err, size_t errlen)
{
    sqlite_store_t *st = sl__sq_of(s);
    sqlite3_stmt *q = NULL;
    sl_err rc = SL_OK;
    *queued = 0;
    pthread_mutex_lock(&st->lock);
    if (sl__sq_exec(st, "BEGIN IMMEDIATE") != SQLITE_OK) {
        rc = sl__sq_db_error(st, "starting a transaction", err, errlen);
        goto out;
    }
    if (sl__sq_prepare(st,
                       "INSERT INTO events (id, connection, type, created, received_ms,"
                       " source, payload, object_id) VALUES (?,?,?,?,?,?,?,?)"
                       " ON CONFLICT (connection, id) DO NOTHING",
                       &q) != SQLITE_OK) {
        rc = sl__sq_db_error(st, "storing events", err, errlen);
        goto rollback;
    }
    for (size_t i = 0; i < n; i++) {
        sqlite3_bind_text(q, 1, ev[i].id, -1, SQLITE_STATIC);
        sqlite3_bind_text(q, 2, ev[i].connection, -1, SQLITE_STATIC);
        sqlite3_bind_text(q, 3, ev[i].type, -1, SQLITE_STATIC);
        sqlite3_bind_int64(q, 4, ev[i].created);
        sqlite3_bind_int64(q, 5, ev[i].received_ms);
        sqlite3_bind_text(q, 6, ev[i].source, -1, SQLITE_STATIC);
        sqlite3_bind_text(q, 7, ev[i].payload, (int)ev[i].payload_len, SQLITE_STATIC);
        char object_id[256];
        if (!sl__event_object_id(ev[i].payload, ev[i].payload_len, object_id, sizeof object_id))
            sqlite3_bind_text(q, 8, object_id, -1, SQLITE_TRANSIENT);
        if (sqlite3_step(q) != SQLITE_DONE) {
            rc = sl__sq_db_error(st, "storing an event", err, errlen);
            goto rollback;
        }
        fresh[i] = sqlite3_changes(st->db) > 0;
        sqlite3_reset(q);
        sqlite3_clear_bindings(q);
        /* The event's runs, in the same transaction: no event without its runs. */
        for (size_t k = 0; fresh[i] && k < ev[i].nruns; k++) {
            if (sl__sq_insert_run(st, ev[i].runs[k].id, ev[i].runs[k].flow, ev[i].id,
                                  ev[i].connection, NULL, sl__now_ms())) {
                rc = sl__sq_db_error(st, "queueing a run", err, errlen);
                goto rollback;
            }
            (*queued)++;
        }
    }
    if (sl__sq_exec(st, "COMMIT") != SQLITE_OK) {
        rc = sl__sq_db_error(st, "committing events", err, errlen);
        goto rollback;
    }
    goto out;
rollback:
    sl__sq_exec(st, "ROLLBACK");
    *queued = 0;
out:
    sl__sq_release(q);
    pthread_mutex_unlock(&st->lock);
    return rc;
}

static void event_from_row(sqlite3_stmt *q, sl_event_row_t *r)
{
    memset(r, 0, sizeof *r);
    sl__sq_copy_col(r->id, sizeof r->id, q, 0);
    sl__sq_copy_col(r->connection, sizeof r->connection, q, 1);
    sl__sq_copy_col(r->type, sizeof r->type, q, 2);
    r->created = sqlite3_column_int64(q, 3);
    r->received_ms = sqlite3_column_int64(q, 4);
    sl__sq_copy_col(r->source, sizeof r->source, q, 5);
    r->payload = sl__sq_dup_col(q, 6);
}

#define EVENT_COLUMNS "id, connection, type, created, received_ms, source, payload"

/* Binds a list's parameters (numbered from 1) and, last, its limit. */
void sl__sq_bind_where(sqlite3_stmt *q, const sl_where_t *w, long long limit)
{
    for (int i = 0; i < w->n; i++) {
        if (w->text[i])
            sqlite3_bind_text(q, i + 1, w->text[i], -1, SQLITE_STATIC);
        else
            sqlite3_bind_int64(q, i + 1, w->num[i]);
    }
    sqlite3_bind_int64(q, w->n + 1, limit);
}

static sl_err sq_int_pairs(sl_store_t *s, const sl_where_t *w, long long *pairs, size_t max,
                           size_t *got, char *err, size_t errlen)
{
    sqlite_store_t *st = sl__sq_of(s);
    sqlite3_stmt *q = NULL;
    sl_err rc = SL_OK;
    *got = 0;
    pthread_mutex_lock(&st->lock);
    if (sqlite3_prepare_v2(st->db, w->sql, -1, &q, NULL) != SQLITE_OK) {
        rc = sl__sq_db_error(st, "counting", err, errlen);
        goto out;
    }
    for (int i = 0; i < w->n; i++)
        sqlite3_bind_int64(q, i + 1, w->num[i]);
    int step;
    while ((step = sqlite3_step(q)) == SQLITE_ROW && *got < max) {
        pairs[2 * *got] = sqlite3_column_int64(q, 0);
        pairs[2 * *got + 1] = sqlite3_column_int64(q, 1);
        (*got)++;
    }
    if (step != SQLITE_ROW && step != SQLITE_DONE)
        rc = sl__sq_db_error(st, "counting", err, errlen);
out:
    sqlite3_finalize(q);
    pthread_mutex_unlock(&st->lock);
    return rc;
}

/* The object id filter: the column sluice sets as it stores the event (schema 6), indexed. */
#define OBJECT_ID "object_id"

static sl_err sq_events_list(sl_store_t *s, const sl_event_filter_t *f, int type_prefix,
                             sl_event_cb cb, void *ctx, char *err, size_t errlen)
{
    sqlite_store_t *st = sl__sq_of(s);
    sqlite3_stmt *q = NULL;
    sl_err rc = SL_OK;
    sl_where_t w;
    sl__where_init(&w, 0);
    sl__where_raw(&w, "SELECT " EVENT_COLUMNS " FROM events WHERE 1 = 1");
    static const sl_events_sql_t dialect = {"substr(type, 1, instr(type, '.') - 1)",
                                            "substr(type, 1, #) = #", OBJECT_ID, "id"};
    sl__events_where(&w, f, type_prefix, &dialect);
    char tail[80];
    snprintf(tail, sizeof tail, " ORDER BY received_ms DESC, id DESC LIMIT ?%d", w.n + 1);
    sl__where_raw(&w, tail);
    pthread_mutex_lock(&st->lock);
    if (w.overflow || sqlite3_prepare_v2(st->db, w.sql, -1, &q, NULL) != SQLITE_OK) {
        rc = sl__sq_db_error(st, "listing events", err, errlen);
        goto out;
    }
    sl__sq_bind_where(q, &w, f->limit ? (long long)f->limit : 100);
    int step;
    while ((step = sqlite3_step(q)) == SQLITE_ROW) {
        sl_event_row_t r;
        event_from_row(q, &r);
        int stop = cb(&r, ctx);
        sl_event_row_cleanup(&r);
        if (stop)
            break;
    }
    if (step != SQLITE_ROW && step != SQLITE_DONE)
        rc = sl__sq_db_error(st, "listing events", err, errlen);
out:
    sqlite3_finalize(q);
    pthread_mutex_unlock(&st->lock);
    return rc;
}

static sl_err sq_event_get(sl_store_t *s, const char *id, sl_event_row_t *out, char *err,
                           size_t errlen)
{
    sqlite_store_t *st = sl__sq_of(s);
    sqlite3_stmt *q = NULL;
    sl_err rc = SL_OK;
    memset(out, 0, sizeof *out);
    pthread_mutex_lock(&st->lock);
    if (sl__sq_prepare(st,
                       "SELECT " EVENT_COLUMNS " FROM events WHERE id = ?"
                       " ORDER BY received_ms DESC LIMIT 1",
                       &q) != SQLITE_OK) {
        rc = sl__sq_db_error(st, "reading an event", err, errlen);
        goto out;
    }
    sqlite3_bind_text(q, 1, id, -1, SQLITE_TRANSIENT);
    int step = sqlite3_step(q);
    if (step == SQLITE_ROW) {
        event_from_row(q, out);
    } else if (step == SQLITE_DONE) {
        /* store.c names what is missing */
        rc = SL_ENOTFOUND;
    } else {
        rc = sl__sq_db_error(st, "reading an event", err, errlen);
    }
out:
    sl__sq_release(q);
    pthread_mutex_unlock(&st->lock);
    return rc;
}

static sl_err sq_events_count(sl_store_t *s, long long *n, char *err, size_t errlen)
{
    sqlite_store_t *st = sl__sq_of(s);
    sqlite3_stmt *q = NULL;
    sl_err rc = SL_OK;
    pthread_mutex_lock(&st->lock);
    if (sl__sq_prepare(st, "SELECT COUNT(*) FROM events", &q) != SQLITE_OK ||
        sqlite3_step(q) != SQLITE_ROW)
        rc = sl__sq_db_error(st, "counting events", err, errlen);
    else
        *n = sqlite3_column_int64(q, 0);
    sl__sq_release(q);
    pthread_mutex_unlock(&st->lock);
    return rc;
}

static sl_err sq_cursor_get(sl_store_t *s, const char *connection, long long *created, char *err,
                            size_t errlen)
{
    sqlite_store_t *st = sl__sq_of(s);
    sqlite3_stmt *q = NULL;
    sl_err rc = SL_OK;
    pthread_mutex_lock(&st->lock);
    if (sl__sq_prepare(st, "SELECT created FROM cursors WHERE connection = ?", &q) != SQLITE_OK) {
        rc = sl__sq_db_error(st, "reading a cursor", err, errlen);
        goto out;
    }
    sqlite3_bind_text(q, 1, connection, -1, SQLITE_TRANSIENT);
    int step = sqlite3_step(q);
    if (step == SQLITE_ROW)
        *created = sqlite3_column_int64(q, 0);
    else if (step == SQLITE_DONE)
        rc = SL_ENOTFOUND;
    else
        rc = sl__sq_db_error(st, "reading a cursor", err, errlen);
out:
    sl__sq_release(q);
    pthread_mutex_unlock(&st->lock);
    return rc;
}

static sl_err sq_cursor_put(sl_store_t *s, const char *connection, long long created, char *err,
                            size_t errlen)
{
    sqlite_store_t *st = sl__sq_of(s);
    sqlite3_stmt *q = NULL;
    sl_err rc = SL_OK;
    pthread_mutex_lock(&st->lock);
    sqlite3_busy_timeout(st->db, SL_SQ_BUSY_CURSOR_MS);
    if (sl__sq_prepare(st,
                       "INSERT INTO cursors (connection, created) VALUES (?, ?)"
                       " ON CONFLICT (connection) DO UPDATE SET created = excluded.created",
                       &q) != SQLITE_OK) {
        rc = sl__sq_db_error(st, "saving a cursor", err, errlen);
        goto out;
    }
    sqlite3_bind_text(q, 1, connection, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(q, 2, created);
    if (sqlite3_step(q) != SQLITE_DONE)
        rc = sl__sq_db_error(st, "saving a cursor", err, errlen);
out:
    sl__sq_release(q);
    sqlite3_busy_timeout(st->db, SL_SQ_BUSY_MS);
    pthread_mutex_unlock(&st->lock);
    return rc;
}

static sl_err sq_check(sl_store_t *s, char *err, size_t errlen)
{
    sqlite_store_t *st = sl__sq_of(s);
    sqlite3_stmt *q = NULL;
    sl_err rc = SL_OK;
    pthread_mutex_lock(&st->lock);
    if (sqlite3_prepare_v2(st->db, "PRAGMA quick_check(5)", -1, &q, NULL) != SQLITE_OK) {
        rc = sl__sq_db_error(st, "checking the database", err, errlen);
        goto out;
    }
    char found[512] = "";
    int step;
    while ((step = sqlite3_step(q)) == SQLITE_ROW) {
        const char *line = (const char *)sqlite3_column_text(q, 0);
        if (line && strcmp(line, "ok") && !found[0])
            snprintf(found, sizeof found, "%s", line);
    }
    if (step != SQLITE_DONE)
        snprintf(found, sizeof found, "%s", sqlite3_errmsg(st->db));
    if (found[0]) {
        snprintf(err, errlen,
                 "store: %s is damaged (%s). Stop sluice, keep a copy of the file, and recover"
                 " what it holds with: sqlite3 %s .recover | sqlite3 NEW.db",
                 st->path, found, st->path);
        rc = SL_EIO;
    }
out:
    sqlite3_finalize(q);
    pthread_mutex_unlock(&st->lock);
    return rc;
}

static const sl_store_ops_t sqlite_ops = {
    .name = "sqlite",
    .close = sq_close,
    .conn_put = sq_conn_put,
    .conn_get = sq_conn_get,
    .conn_list = sq_conn_list,
    .conn_delete = sq_conn_delete,
    .events_insert = sq_events_insert,
    .events_list = sq_events_list,
    .event_get = sq_event_get,
    .events_count = sq_events_count,
    .cursor_get = sq_cursor_get,
    .cursor_put = sq_cursor_put,
    .run_insert = sl__sq_run_insert,
    .runs_claim = sl__sq_runs_claim,
    .run_claim_id = sl__sq_run_claim_id,
    .runs_heartbeat = sl__sq_runs_heartbeat,
    .runs_expire_others = sl__sq_runs_expire_others,
    .run_get = sl__sq_run_get,
    .runs_list = sl__sq_runs_list,
    .runs_update = sl__sq_runs_update,
    .steps_get = sl__sq_steps_get,
    .schedule_fire = sl__sq_schedule_fire,
    .lease_take = sl__sq_lease_take,
    .flow_enabled_get = sl__sq_flow_enabled_get,
    .flow_enabled_put = sl__sq_flow_enabled_put,
    .contact_upsert = sl__sq_contact_upsert,
    .contacts_list = sl__sq_contacts_list,
    .schema_version = sq_schema_version,
    .check = sq_check,
    .runs_queue_stats = sl__sq_runs_queue_stats,
    .int_pairs = sq_int_pairs,
};

sl_err sl__sqlite_open(const char *path, sl_store_t **out, char *err, size_t errlen)
{
    *out = NULL;
    sqlite_store_t *st = calloc(1, sizeof *st);
    if (!st)
        return SL_ENOMEM;
    st->base.ops = &sqlite_ops;
    snprintf(st->path, sizeof st->path, "%s", path);
    pthread_mutex_init(&st->lock, NULL);
    if (sqlite3_open_v2(path, &st->db,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
                        NULL) != SQLITE_OK) {
        snprintf(err, errlen, "store: cannot open %s: %s", path,
                 st->db ? sqlite3_errmsg(st->db) : "out of memory");
        sq_close(&st->base);
        return SL_EIO;
    }
    chmod(path, S_IRUSR | S_IWUSR); /* payloads hold customers' data; keys are sealed anyway */
    sqlite3_busy_timeout(st->db, SL_SQ_BUSY_MS);
    char *msg = NULL;
    /* SQLite's default 4 KiB pages hold a 1-3 KiB event without overflow, and keep what each
     * commit appends to the WAL small (16 KiB pages wrote ~10x the events' bytes). The WAL is
     * checkpointed by the committing connection itself: only then does it restart instead of
     * growing while commits never pause. */
    if (sqlite3_exec(st->db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;", NULL, NULL,
                     &msg) != SQLITE_OK ||
        migrate(st, &msg)) {
        snprintf(err, errlen, "store: cannot prepare %s: %s", path, msg ? msg : "?");
        sqlite3_free(msg);
        sq_close(&st->base);
        return SL_EIO;
    }
    *out = &st->base;
    return SL_OK;
}
