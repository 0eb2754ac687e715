/* The SQLite store: WAL journal with synchronous=FULL, so a COMMIT is on disk when it returns.
 * One connection, serialised by a mutex; the inbox batches many events into one commit. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <openssl/rand.h>
#include <sqlite3.h>

#include "store/store.h"

typedef struct sqlite_store {
    sl_store_t base;
    sqlite3 *db;
    pthread_mutex_t lock;
} sqlite_store_t;

static const char *const schema =
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
    " created_ms BIGINT NOT NULL, updated_ms BIGINT NOT NULL);";

static sqlite_store_t *as_sqlite(sl_store_t *s)
{
    return (sqlite_store_t *)s;
}

static sl_err db_error(sqlite_store_t *st, const char *what, char *err, size_t errlen)
{
    if (err && errlen)
        snprintf(err, errlen, "store: %s: %s", what, sqlite3_errmsg(st->db));
    return SL_EIO;
}

static void copy_col(char *dst, size_t n, sqlite3_stmt *q, int col)
{
    const unsigned char *v = sqlite3_column_text(q, col);
    snprintf(dst, n, "%s", v ? (const char *)v : "");
}

static char *dup_col(sqlite3_stmt *q, int col)
{
    const unsigned char *v = sqlite3_column_text(q, col);
    return v ? strdup((const char *)v) : NULL;
}

static void bind_text_or_null(sqlite3_stmt *q, int i, const char *v)
{
    if (v && *v)
        sqlite3_bind_text(q, i, v, -1, SQLITE_TRANSIENT);
    else
        sqlite3_bind_null(q, i);
}

static void sq_close(sl_store_t *s)
{
    sqlite_store_t *st = as_sqlite(s);
    sqlite3_close(st->db);
    pthread_mutex_destroy(&st->lock);
    free(st);
}

static sl_err sq_conn_put(sl_store_t *s, const sl_conn_row_t *r, char *err, size_t errlen)
{
    sqlite_store_t *st = as_sqlite(s);
    static const char *const sql =
        "INSERT INTO connections (name, mode, account_id, key_sealed, secret_sealed,"
        " old_secret_sealed, old_secret_expires, base_url, stripe_version, stripe_account,"
        " endpoint_id, endpoint_url, created) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)"
        " ON CONFLICT (name) DO UPDATE SET mode = excluded.mode,"
        " account_id = excluded.account_id, key_sealed = excluded.key_sealed,"
        " secret_sealed = excluded.secret_sealed, old_secret_sealed = excluded.old_secret_sealed,"
        " old_secret_expires = excluded.old_secret_expires, base_url = excluded.base_url,"
        " stripe_version = excluded.stripe_version, stripe_account = excluded.stripe_account,"
        " endpoint_id = excluded.endpoint_id, endpoint_url = excluded.endpoint_url";
    sqlite3_stmt *q = NULL;
    sl_err rc = SL_OK;
    pthread_mutex_lock(&st->lock);
    if (sqlite3_prepare_v2(st->db, sql, -1, &q, NULL) != SQLITE_OK) {
        rc = db_error(st, "saving a connection", err, errlen);
        goto out;
    }
    sqlite3_bind_text(q, 1, r->name, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(q, 2, r->mode, -1, SQLITE_TRANSIENT);
    bind_text_or_null(q, 3, r->account_id);
    sqlite3_bind_text(q, 4, r->key_sealed ? r->key_sealed : "", -1, SQLITE_TRANSIENT);
    bind_text_or_null(q, 5, r->secret_sealed);
    bind_text_or_null(q, 6, r->old_secret_sealed);
    sqlite3_bind_int64(q, 7, r->old_secret_expires);
    bind_text_or_null(q, 8, r->base_url);
    bind_text_or_null(q, 9, r->stripe_version);
    bind_text_or_null(q, 10, r->stripe_account);
    bind_text_or_null(q, 11, r->endpoint_id);
    bind_text_or_null(q, 12, r->endpoint_url);
    sqlite3_bind_int64(q, 13, r->created);
    if (sqlite3_step(q) != SQLITE_DONE)
        rc = db_error(st, "saving a connection", err, errlen);
out:
    sqlite3_finalize(q);
    pthread_mutex_unlock(&st->lock);
    return rc;
}

#define CONN_COLUMNS                                                                               \
    "name, mode, account_id, key_sealed, secret_sealed, old_secret_sealed, old_secret_expires,"    \
    " base_url, stripe_version, stripe_account, endpoint_id, endpoint_url, created"

static void conn_from_row(sqlite3_stmt *q, sl_conn_row_t *r)
{
    memset(r, 0, sizeof *r);
    copy_col(r->name, sizeof r->name, q, 0);
    copy_col(r->mode, sizeof r->mode, q, 1);
    copy_col(r->account_id, sizeof r->account_id, q, 2);
    r->key_sealed = dup_col(q, 3);
    r->secret_sealed = dup_col(q, 4);
    r->old_secret_sealed = dup_col(q, 5);
    r->old_secret_expires = sqlite3_column_int64(q, 6);
    copy_col(r->base_url, sizeof r->base_url, q, 7);
    copy_col(r->stripe_version, sizeof r->stripe_version, q, 8);
    copy_col(r->stripe_account, sizeof r->stripe_account, q, 9);
    copy_col(r->endpoint_id, sizeof r->endpoint_id, q, 10);
    copy_col(r->endpoint_url, sizeof r->endpoint_url, q, 11);
    r->created = sqlite3_column_int64(q, 12);
}

static sl_err sq_conn_get(sl_store_t *s, const char *name, sl_conn_row_t *out, char *err,
                          size_t errlen)
{
    sqlite_store_t *st = as_sqlite(s);
    sqlite3_stmt *q = NULL;
    sl_err rc = SL_OK;
    memset(out, 0, sizeof *out);
    pthread_mutex_lock(&st->lock);
    if (sqlite3_prepare_v2(st->db, "SELECT " CONN_COLUMNS " FROM connections WHERE name = ?", -1,
                           &q, NULL) != SQLITE_OK) {
        rc = db_error(st, "reading a connection", err, errlen);
        goto out;
    }
    sqlite3_bind_text(q, 1, name, -1, SQLITE_TRANSIENT);
    int step = sqlite3_step(q);
    if (step == SQLITE_ROW) {
        conn_from_row(q, out);
    } else if (step == SQLITE_DONE) {
        snprintf(err, errlen, "no connection named `%s` (see `sluice connect list`)", name);
        rc = SL_ENOTFOUND;
    } else {
        rc = db_error(st, "reading a connection", err, errlen);
    }
out:
    sqlite3_finalize(q);
    pthread_mutex_unlock(&st->lock);
    return rc;
}

static sl_err sq_conn_list(sl_store_t *s, sl_conn_cb cb, void *ctx, char *err, size_t errlen)
{
    sqlite_store_t *st = as_sqlite(s);
    sqlite3_stmt *q = NULL;
    sl_err rc = SL_OK;
    pthread_mutex_lock(&st->lock);
    if (sqlite3_prepare_v2(st->db, "SELECT " CONN_COLUMNS " FROM connections ORDER BY name", -1, &q,
                           NULL) != SQLITE_OK) {
        rc = db_error(st, "listing connections", err, errlen);
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
        rc = db_error(st, "listing connections", err, errlen);
out:
    sqlite3_finalize(q);
    pthread_mutex_unlock(&st->lock);
    return rc;
}

static sl_err sq_conn_delete(sl_store_t *s, const char *name, char *err, size_t errlen)
{
    sqlite_store_t *st = as_sqlite(s);
    sqlite3_stmt *q = NULL;
    sl_err rc = SL_OK;
    pthread_mutex_lock(&st->lock);
    if (sqlite3_prepare_v2(st->db, "DELETE FROM connections WHERE name = ?", -1, &q, NULL) !=
        SQLITE_OK) {
        rc = db_error(st, "removing a connection", err, errlen);
        goto out;
    }
    sqlite3_bind_text(q, 1, name, -1, SQLITE_TRANSIENT);
    if (sqlite3_step(q) != SQLITE_DONE) {
        rc = db_error(st, "removing a connection", err, errlen);
    } else if (sqlite3_changes(st->db) == 0) {
        snprintf(err, errlen, "no connection named `%s`", name);
        rc = SL_ENOTFOUND;
    }
out:
    sqlite3_finalize(q);
    pthread_mutex_unlock(&st->lock);
    return rc;
}

/* --- Flow runs, their steps, flow settings, contacts ------------------------------------------ */

static void new_run_id(char *out, size_t n)
{
    unsigned char raw[10];
    if (RAND_bytes(raw, sizeof raw) != 1)
        for (size_t i = 0; i < sizeof raw; i++)
            raw[i] = (unsigned char)rand();
    char hex[21];
    for (size_t i = 0; i < sizeof raw; i++)
        snprintf(hex + 2 * i, 3, "%02x", raw[i]);
    snprintf(out, n, "run_%s", hex);
}

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Inserts a run (caller holds the lock). */
static int insert_run(sqlite_store_t *st, const char *id, const char *flow, const char *event_id,
                      const char *connection, const char *input)
{
    sqlite3_stmt *q = NULL;
    if (sqlite3_prepare_v2(st->db,
                           "INSERT INTO runs (id, flow, event_id, connection, input, status,"
                           " attempt, created_ms) VALUES (?,?,?,?,?,'queued',1,?)",
                           -1, &q, NULL) != SQLITE_OK)
        return -1;
    sqlite3_bind_text(q, 1, id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(q, 2, flow, -1, SQLITE_TRANSIENT);
    bind_text_or_null(q, 3, event_id);
    bind_text_or_null(q, 4, connection);
    bind_text_or_null(q, 5, input);
    sqlite3_bind_int64(q, 6, now_ms());
    int rc = sqlite3_step(q) == SQLITE_DONE ? 0 : -1;
    sqlite3_finalize(q);
    return rc;
}

#define RUN_COLUMNS                                                                                \
    "id, flow, event_id, connection, input, status, error, failed_step, attempt, created_ms,"      \
    " started_ms, finished_ms"

static json_t *text_or_null(sqlite3_stmt *q, int col)
{
    const unsigned char *v = sqlite3_column_text(q, col);
    return v ? json_string((const char *)v) : json_null();
}

static json_t *int_or_null(sqlite3_stmt *q, int col)
{
    return sqlite3_column_type(q, col) == SQLITE_NULL ? json_null()
                                                      : json_integer(sqlite3_column_int64(q, col));
}

static json_t *run_from_row(sqlite3_stmt *q)
{
    const unsigned char *input = sqlite3_column_text(q, 4);
    json_t *in = input ? json_loads((const char *)input, JSON_DECODE_ANY, NULL) : NULL;
    return json_pack(
        "{s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o}", "id", text_or_null(q, 0), "flow",
        text_or_null(q, 1), "event_id", text_or_null(q, 2), "connection", text_or_null(q, 3),
        "input", in ? in : json_null(), "status", text_or_null(q, 5), "error", text_or_null(q, 6),
        "failed_step", text_or_null(q, 7), "attempt", int_or_null(q, 8), "created_ms",
        int_or_null(q, 9), "started_ms", int_or_null(q, 10), "finished_ms", int_or_null(q, 11));
}

static sl_err sq_run_create(sl_store_t *s, const json_t *run, char *err, size_t errlen)
{
    sqlite_store_t *st = as_sqlite(s);
    char id[64];
    const char *given = json_string_value(json_object_get(run, "id"));
    if (given)
        snprintf(id, sizeof id, "%s", given);
    else
        new_run_id(id, sizeof id);
    const json_t *input = json_object_get(run, "input");
    char *in =
        input && !json_is_null(input) ? json_dumps(input, JSON_ENCODE_ANY | JSON_COMPACT) : NULL;
    pthread_mutex_lock(&st->lock);
    int bad = insert_run(st, id, json_string_value(json_object_get(run, "flow")),
                         json_string_value(json_object_get(run, "event_id")),
                         json_string_value(json_object_get(run, "connection")), in);
    sl_err rc = bad ? db_error(st, "queueing a run", err, errlen) : SL_OK;
    pthread_mutex_unlock(&st->lock);
    free(in);
    if (!rc && !given)
        json_object_set_new((json_t *)run, "id", json_string(id));
    if (!rc && s->on_runs)
        s->on_runs(s->on_runs_ctx);
    return rc;
}

static sl_err sq_runs_claim(sl_store_t *s, size_t max, json_t **out, char *err, size_t errlen)
{
    sqlite_store_t *st = as_sqlite(s);
    sqlite3_stmt *q = NULL, *u = NULL;
    sl_err rc = SL_OK;
    *out = json_array();
    pthread_mutex_lock(&st->lock);
    if (sqlite3_prepare_v2(st->db,
                           "SELECT " RUN_COLUMNS " FROM runs WHERE status = 'queued'"
                           " ORDER BY created_ms, rowid LIMIT ?",
                           -1, &q, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(st->db,
                           "UPDATE runs SET status = 'running', started_ms = ? WHERE id = ?", -1,
                           &u, NULL) != SQLITE_OK) {
        rc = db_error(st, "claiming runs", err, errlen);
        goto out;
    }
    sqlite3_bind_int64(q, 1, (sqlite3_int64)max);
    while (sqlite3_step(q) == SQLITE_ROW)
        json_array_append_new(*out, run_from_row(q));
    long long t = now_ms();
    for (size_t i = 0; i < json_array_size(*out); i++) {
        json_t *run = json_array_get(*out, i);
        sqlite3_bind_int64(u, 1, t);
        sqlite3_bind_text(u, 2, json_string_value(json_object_get(run, "id")), -1,
                          SQLITE_TRANSIENT);
        if (sqlite3_step(u) != SQLITE_DONE) {
            rc = db_error(st, "claiming a run", err, errlen);
            break;
        }
        sqlite3_reset(u);
        json_object_set_new(run, "status", json_string("running"));
        json_object_set_new(run, "started_ms", json_integer(t));
    }
out:
    sqlite3_finalize(q);
    sqlite3_finalize(u);
    pthread_mutex_unlock(&st->lock);
    if (rc) {
        json_decref(*out);
        *out = NULL;
    }
    return rc;
}

static sl_err sq_runs_requeue_running(sl_store_t *s, long long *n, char *err, size_t errlen)
{
    sqlite_store_t *st = as_sqlite(s);
    pthread_mutex_lock(&st->lock);
    sl_err rc = sqlite3_exec(st->db, "UPDATE runs SET status = 'queued' WHERE status = 'running'",
                             NULL, NULL, NULL) == SQLITE_OK
                    ? SL_OK
                    : db_error(st, "requeueing runs", err, errlen);
    *n = rc ? 0 : sqlite3_changes(st->db);
    pthread_mutex_unlock(&st->lock);
    return rc;
}

static sl_err sq_run_get(sl_store_t *s, const char *id, json_t **out, char *err, size_t errlen)
{
    sqlite_store_t *st = as_sqlite(s);
    sqlite3_stmt *q = NULL;
    sl_err rc = SL_OK;
    *out = NULL;
    pthread_mutex_lock(&st->lock);
    if (sqlite3_prepare_v2(st->db, "SELECT " RUN_COLUMNS " FROM runs WHERE id = ?", -1, &q, NULL) !=
        SQLITE_OK) {
        rc = db_error(st, "reading a run", err, errlen);
        goto out;
    }
    sqlite3_bind_text(q, 1, id, -1, SQLITE_TRANSIENT);
    if (sqlite3_step(q) == SQLITE_ROW)
        *out = run_from_row(q);
    else {
        snprintf(err, errlen, "no run `%s` (`sluice runs list` shows them)", id);
        rc = SL_ENOTFOUND;
    }
out:
    sqlite3_finalize(q);
    pthread_mutex_unlock(&st->lock);
    return rc;
}

static sl_err sq_runs_list(sl_store_t *s, const sl_run_filter_t *f, json_t **out, char *err,
                           size_t errlen)
{
    sqlite_store_t *st = as_sqlite(s);
    sqlite3_stmt *q = NULL;
    sl_err rc = SL_OK;
    *out = json_array();
    pthread_mutex_lock(&st->lock);
    if (sqlite3_prepare_v2(st->db,
                           "SELECT " RUN_COLUMNS " FROM runs WHERE (?1 IS NULL OR flow = ?1)"
                           " AND (?2 IS NULL OR status = ?2) AND (?3 IS NULL OR event_id = ?3)"
                           " ORDER BY created_ms DESC, rowid DESC LIMIT ?4",
                           -1, &q, NULL) != SQLITE_OK) {
        rc = db_error(st, "listing runs", err, errlen);
        goto out;
    }
    bind_text_or_null(q, 1, f ? f->flow : NULL);
    bind_text_or_null(q, 2, f ? f->status : NULL);
    bind_text_or_null(q, 3, f ? f->event_id : NULL);
    sqlite3_bind_int64(q, 4, f && f->limit ? (sqlite3_int64)f->limit : 50);
    while (sqlite3_step(q) == SQLITE_ROW)
        json_array_append_new(*out, run_from_row(q));
out:
    sqlite3_finalize(q);
    pthread_mutex_unlock(&st->lock);
    return rc;
}

static sl_err sq_run_set_status(sl_store_t *s, const char *id, const char *status,
                                const char *error, const char *failed_step, char *err,
                                size_t errlen)
{
    sqlite_store_t *st = as_sqlite(s);
    sqlite3_stmt *q = NULL;
    sl_err rc = SL_OK;
    int queued = strcmp(status, "queued") == 0;
    int running = strcmp(status, "running") == 0;
    pthread_mutex_lock(&st->lock);
    if (sqlite3_prepare_v2(st->db,
                           queued    ? "UPDATE runs SET status = ?, error = ?, failed_step = ?,"
                                       " finished_ms = NULL, attempt = attempt + 1 WHERE id = ?"
                           : running ? "UPDATE runs SET status = ?, error = ?, failed_step = ?,"
                                       " started_ms = coalesce(started_ms, ?) WHERE id = ?"
                                     : "UPDATE runs SET status = ?, error = ?, failed_step = ?,"
                                       " finished_ms = ? WHERE id = ?",
                           -1, &q, NULL) != SQLITE_OK) {
        rc = db_error(st, "updating a run", err, errlen);
        goto out;
    }
    sqlite3_bind_text(q, 1, status, -1, SQLITE_TRANSIENT);
    bind_text_or_null(q, 2, error);
    bind_text_or_null(q, 3, failed_step);
    if (queued) {
        sqlite3_bind_text(q, 4, id, -1, SQLITE_TRANSIENT);
    } else {
        sqlite3_bind_int64(q, 4, now_ms());
        sqlite3_bind_text(q, 5, id, -1, SQLITE_TRANSIENT);
    }
    if (sqlite3_step(q) != SQLITE_DONE)
        rc = db_error(st, "updating a run", err, errlen);
    else if (!sqlite3_changes(st->db)) {
        snprintf(err, errlen, "no run `%s`", id);
        rc = SL_ENOTFOUND;
    }
out:
    sqlite3_finalize(q);
    pthread_mutex_unlock(&st->lock);
    if (!rc && queued && s->on_runs)
        s->on_runs(s->on_runs_ctx);
    return rc;
}

static char *dump_or_null(const json_t *v)
{
    return v ? json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT) : NULL;
}

static sl_err sq_steps_put(sl_store_t *s, const char *run_id, const json_t *steps, char *err,
                           size_t errlen)
{
    sqlite_store_t *st = as_sqlite(s);
    sqlite3_stmt *q = NULL;
    sl_err rc = SL_OK;
    pthread_mutex_lock(&st->lock);
    if (sqlite3_exec(st->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK) {
        rc = db_error(st, "recording steps", err, errlen);
        goto out;
    }
    if (sqlite3_prepare_v2(
            st->db,
            "INSERT INTO run_steps (run_id, path, kind, status, input, output, error,"
            " started_ms, duration_ms, attempts) VALUES (?,?,?,?,?,?,?,?,?,?)"
            " ON CONFLICT (run_id, path) DO UPDATE SET kind = excluded.kind,"
            " status = excluded.status, input = excluded.input, output = excluded.output,"
            " error = excluded.error, started_ms = excluded.started_ms,"
            " duration_ms = excluded.duration_ms, attempts = excluded.attempts",
            -1, &q, NULL) != SQLITE_OK) {
        rc = db_error(st, "recording a step", err, errlen);
        goto rollback;
    }
    for (size_t i = 0; i < json_array_size(steps); i++) {
        const json_t *step = json_array_get(steps, i);
        char *input = dump_or_null(json_object_get(step, "input"));
        char *output = dump_or_null(json_object_get(step, "output"));
        sqlite3_bind_text(q, 1, run_id, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(q, 2, json_string_value(json_object_get(step, "path")), -1,
                          SQLITE_TRANSIENT);
        bind_text_or_null(q, 3, json_string_value(json_object_get(step, "kind")));
        bind_text_or_null(q, 4, json_string_value(json_object_get(step, "status")));
        bind_text_or_null(q, 5, input);
        bind_text_or_null(q, 6, output);
        bind_text_or_null(q, 7, json_string_value(json_object_get(step, "error")));
        sqlite3_bind_int64(q, 8, json_integer_value(json_object_get(step, "started_ms")));
        sqlite3_bind_double(q, 9, json_number_value(json_object_get(step, "duration_ms")));
        sqlite3_bind_int64(q, 10, json_integer_value(json_object_get(step, "attempts")));
        int ok = sqlite3_step(q) == SQLITE_DONE;
        sqlite3_reset(q);
        sqlite3_clear_bindings(q);
        free(input);
        free(output);
        if (!ok) {
            rc = db_error(st, "recording a step", err, errlen);
            goto rollback;
        }
    }
    if (sqlite3_exec(st->db, "COMMIT", NULL, NULL, NULL) == SQLITE_OK)
        goto out;
    rc = db_error(st, "committing steps", err, errlen);
rollback:
    sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
out:
    sqlite3_finalize(q);
    pthread_mutex_unlock(&st->lock);
    return rc;
}

static sl_err sq_steps_get(sl_store_t *s, const char *run_id, json_t **out, char *err,
                           size_t errlen)
{
    sqlite_store_t *st = as_sqlite(s);
    sqlite3_stmt *q = NULL;
    sl_err rc = SL_OK;
    *out = json_array();
    pthread_mutex_lock(&st->lock);
    if (sqlite3_prepare_v2(st->db,
                           "SELECT path, kind, status, input, output, error, started_ms,"
                           " duration_ms, attempts FROM run_steps WHERE run_id = ?"
                           " ORDER BY rowid",
                           -1, &q, NULL) != SQLITE_OK) {
        rc = db_error(st, "reading steps", err, errlen);
        goto out;
    }
    sqlite3_bind_text(q, 1, run_id, -1, SQLITE_TRANSIENT);
    while (sqlite3_step(q) == SQLITE_ROW) {
        const unsigned char *in = sqlite3_column_text(q, 3);
        const unsigned char *o = sqlite3_column_text(q, 4);
        json_t *input = in ? json_loads((const char *)in, JSON_DECODE_ANY, NULL) : NULL;
        json_t *output = o ? json_loads((const char *)o, JSON_DECODE_ANY, NULL) : NULL;
        json_array_append_new(
            *out,
            json_pack("{s:o,s:o,s:o,s:o,s:o,s:o,s:I,s:f,s:I}", "path", text_or_null(q, 0), "kind",
                      text_or_null(q, 1), "status", text_or_null(q, 2), "input",
                      input ? input : json_null(), "output", output ? output : json_null(), "error",
                      text_or_null(q, 5), "started_ms", (json_int_t)sqlite3_column_int64(q, 6),
                      "duration_ms", sqlite3_column_double(q, 7), "attempts",
                      (json_int_t)sqlite3_column_int64(q, 8)));
    }
out:
    sqlite3_finalize(q);
    pthread_mutex_unlock(&st->lock);
    return rc;
}

static sl_err sq_steps_drop_failed(sl_store_t *s, const char *run_id, char *err, size_t errlen)
{
    sqlite_store_t *st = as_sqlite(s);
    sqlite3_stmt *q = NULL;
    sl_err rc = SL_OK;
    pthread_mutex_lock(&st->lock);
    if (sqlite3_prepare_v2(st->db,
                           "DELETE FROM run_steps WHERE run_id = ? AND status <> 'succeeded'", -1,
                           &q, NULL) != SQLITE_OK) {
        rc = db_error(st, "clearing failed steps", err, errlen);
        goto out;
    }
    sqlite3_bind_text(q, 1, run_id, -1, SQLITE_TRANSIENT);
    if (sqlite3_step(q) != SQLITE_DONE)
        rc = db_error(st, "clearing failed steps", err, errlen);
out:
    sqlite3_finalize(q);
    pthread_mutex_unlock(&st->lock);
    return rc;
}

static sl_err sq_flow_enabled_get(sl_store_t *s, const char *flow, int *enabled, char *err,
                                  size_t errlen)
{
    sqlite_store_t *st = as_sqlite(s);
    sqlite3_stmt *q = NULL;
    sl_err rc = SL_OK;
    *enabled = -1;
    pthread_mutex_lock(&st->lock);
    if (sqlite3_prepare_v2(st->db, "SELECT enabled FROM flow_settings WHERE name = ?", -1, &q,
                           NULL) != SQLITE_OK) {
        rc = db_error(st, "reading a flow's setting", err, errlen);
        goto out;
    }
    sqlite3_bind_text(q, 1, flow, -1, SQLITE_TRANSIENT);
    if (sqlite3_step(q) == SQLITE_ROW)
        *enabled = sqlite3_column_int(q, 0) != 0;
out:
    sqlite3_finalize(q);
    pthread_mutex_unlock(&st->lock);
    return rc;
}

static sl_err sq_flow_enabled_put(sl_store_t *s, const char *flow, int enabled, char *err,
                                  size_t errlen)
{
    sqlite_store_t *st = as_sqlite(s);
    sqlite3_stmt *q = NULL;
    sl_err rc = SL_OK;
    pthread_mutex_lock(&st->lock);
    if (sqlite3_prepare_v2(st->db,
                           "INSERT INTO flow_settings (name, enabled) VALUES (?, ?)"
                           " ON CONFLICT (name) DO UPDATE SET enabled = excluded.enabled",
                           -1, &q, NULL) != SQLITE_OK) {
        rc = db_error(st, "saving a flow's setting", err, errlen);
        goto out;
    }
    sqlite3_bind_text(q, 1, flow, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int(q, 2, enabled ? 1 : 0);
    if (sqlite3_step(q) != SQLITE_DONE)
        rc = db_error(st, "saving a flow's setting", err, errlen);
out:
    sqlite3_finalize(q);
    pthread_mutex_unlock(&st->lock);
    return rc;
}

static json_t *contact_from_row(sqlite3_stmt *q)
{
    return json_pack("{s:o,s:o,s:o,s:I,s:I}", "email", text_or_null(q, 0), "first_name",
                     text_or_null(q, 1), "last_name", text_or_null(q, 2), "created_ms",
                     (json_int_t)sqlite3_column_int64(q, 3), "updated_ms",
                     (json_int_t)sqlite3_column_int64(q, 4));
}

static sl_err sq_contact_upsert(sl_store_t *s, const char *email, const char *first_name,
                                const char *last_name, int *created, json_t **out, char *err,
                                size_t errlen)
{
    sqlite_store_t *st = as_sqlite(s);
    sqlite3_stmt *q = NULL;
    sl_err rc = SL_OK;
    if (out)
        *out = NULL;
    pthread_mutex_lock(&st->lock);
    long long t = now_ms();
    if (sqlite3_prepare_v2(st->db, "SELECT 1 FROM contacts WHERE email_key = lower(?)", -1, &q,
                           NULL) != SQLITE_OK) {
        rc = db_error(st, "reading a contact", err, errlen);
        goto out;
    }
    sqlite3_bind_text(q, 1, email, -1, SQLITE_TRANSIENT);
    *created = sqlite3_step(q) != SQLITE_ROW;
    sqlite3_finalize(q);
    q = NULL;
    if (sqlite3_prepare_v2(
            st->db,
            *created ? "INSERT INTO contacts (email_key, email, first_name, last_name, created_ms,"
                       " updated_ms) VALUES (lower(?1), ?1, ?2, ?3, ?4, ?4)"
                     : "UPDATE contacts SET email = ?1, first_name = coalesce(?2, first_name),"
                       " last_name = coalesce(?3, last_name), updated_ms = ?4"
                       " WHERE email_key = lower(?1)",
            -1, &q, NULL) != SQLITE_OK) {
        rc = db_error(st, "saving a contact", err, errlen);
        goto out;
    }
    sqlite3_bind_text(q, 1, email, -1, SQLITE_TRANSIENT);
    bind_text_or_null(q, 2, first_name);
    bind_text_or_null(q, 3, last_name);
    sqlite3_bind_int64(q, 4, t);
    if (sqlite3_step(q) != SQLITE_DONE) {
        rc = db_error(st, "saving a contact", err, errlen);
        goto out;
    }
    sqlite3_finalize(q);
    q = NULL;
    if (out && sqlite3_prepare_v2(st->db,
                                  "SELECT email, first_name, last_name, created_ms, updated_ms"
                                  " FROM contacts WHERE email_key = lower(?)",
                                  -1, &q, NULL) == SQLITE_OK) {
        sqlite3_bind_text(q, 1, email, -1, SQLITE_TRANSIENT);
        if (sqlite3_step(q) == SQLITE_ROW)
            *out = contact_from_row(q);
    }
out:
    sqlite3_finalize(q);
    pthread_mutex_unlock(&st->lock);
    return rc;
}

static sl_err sq_contacts_list(sl_store_t *s, json_t **out, char *err, size_t errlen)
{
    sqlite_store_t *st = as_sqlite(s);
    sqlite3_stmt *q = NULL;
    sl_err rc = SL_OK;
    *out = json_array();
    pthread_mutex_lock(&st->lock);
    if (sqlite3_prepare_v2(st->db,
                           "SELECT email, first_name, last_name, created_ms, updated_ms"
                           " FROM contacts ORDER BY created_ms, email_key",
                           -1, &q, NULL) != SQLITE_OK) {
        rc = db_error(st, "listing contacts", err, errlen);
        goto out;
    }
    while (sqlite3_step(q) == SQLITE_ROW)
        json_array_append_new(*out, contact_from_row(q));
out:
    sqlite3_finalize(q);
    pthread_mutex_unlock(&st->lock);
    return rc;
}

static sl_err sq_events_insert(sl_store_t *s, const sl_event_in_t *ev, size_t n, int *fresh,
                               char *err, size_t errlen)
{
    sqlite_store_t *st = as_sqlite(s);
    sqlite3_stmt *q = NULL;
    sl_err rc = SL_OK;
    size_t queued = 0;
    pthread_mutex_lock(&st->lock);
    if (sqlite3_exec(st->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK) {
        rc = db_error(st, "starting a transaction", err, errlen);
        goto out;
    }
    if (sqlite3_prepare_v2(st->db,
                           "INSERT INTO events (id, connection, type, created, received_ms,"
                           " source, payload) VALUES (?,?,?,?,?,?,?) ON CONFLICT (id) DO NOTHING",
                           -1, &q, NULL) != SQLITE_OK) {
        rc = db_error(st, "storing events", err, errlen);
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
        if (sqlite3_step(q) != SQLITE_DONE) {
            rc = db_error(st, "storing an event", err, errlen);
            goto rollback;
        }
        fresh[i] = sqlite3_changes(st->db) > 0;
        sqlite3_reset(q);
        sqlite3_clear_bindings(q);
        if (fresh[i] && s->router) {
            /* The event's runs, in the same transaction: no event without its runs. */
            json_t *flows = json_array();
            s->router(s->router_ctx, &ev[i], flows);
            for (size_t k = 0; k < json_array_size(flows); k++) {
                char id[64];
                new_run_id(id, sizeof id);
                if (insert_run(st, id, json_string_value(json_array_get(flows, k)), ev[i].id,
                               ev[i].connection, NULL)) {
                    json_decref(flows);
                    rc = db_error(st, "queueing a run", err, errlen);
                    goto rollback;
                }
                queued++;
            }
            json_decref(flows);
        }
    }
    if (sqlite3_exec(st->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
        rc = db_error(st, "committing events", err, errlen);
        goto rollback;
    }
    goto out;
rollback:
    sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
    queued = 0;
out:
    sqlite3_finalize(q);
    pthread_mutex_unlock(&st->lock);
    if (queued && s->on_runs)
        s->on_runs(s->on_runs_ctx);
    return rc;
}

static void event_from_row(sqlite3_stmt *q, sl_event_row_t *r)
{
    memset(r, 0, sizeof *r);
    copy_col(r->id, sizeof r->id, q, 0);
    copy_col(r->connection, sizeof r->connection, q, 1);
    copy_col(r->type, sizeof r->type, q, 2);
    r->created = sqlite3_column_int64(q, 3);
    r->received_ms = sqlite3_column_int64(q, 4);
    copy_col(r->source, sizeof r->source, q, 5);
    r->payload = dup_col(q, 6);
}

#define EVENT_COLUMNS "id, connection, type, created, received_ms, source, payload"

static sl_err sq_events_list(sl_store_t *s, const sl_event_filter_t *f, sl_event_cb cb, void *ctx,
                             char *err, size_t errlen)
{
    sqlite_store_t *st = as_sqlite(s);
    sqlite3_stmt *q = NULL;
    sl_err rc = SL_OK;
    char type_like[256] = "";
    if (f->type) {
        size_t n = strlen(f->type);
        if (n && f->type[n - 1] == '*')
            snprintf(type_like, sizeof type_like, "%.*s%%", (int)(n - 1), f->type);
        else
            snprintf(type_like, sizeof type_like, "%s", f->type);
    }
    pthread_mutex_lock(&st->lock);
    if (sqlite3_prepare_v2(st->db,
                           "SELECT " EVENT_COLUMNS " FROM events"
                           " WHERE (?1 IS NULL OR type LIKE ?1) AND (?2 IS NULL OR connection = ?2)"
                           " ORDER BY received_ms DESC, id DESC LIMIT ?3",
                           -1, &q, NULL) != SQLITE_OK) {
        rc = db_error(st, "listing events", err, errlen);
        goto out;
    }
    bind_text_or_null(q, 1, type_like);
    bind_text_or_null(q, 2, f->connection);
    sqlite3_bind_int64(q, 3, f->limit ? (long long)f->limit : 100);
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
        rc = db_error(st, "listing events", err, errlen);
out:
    sqlite3_finalize(q);
    pthread_mutex_unlock(&st->lock);
    return rc;
}

static sl_err sq_event_get(sl_store_t *s, const char *id, sl_event_row_t *out, char *err,
                           size_t errlen)
{
    sqlite_store_t *st = as_sqlite(s);
    sqlite3_stmt *q = NULL;
    sl_err rc = SL_OK;
    memset(out, 0, sizeof *out);
    pthread_mutex_lock(&st->lock);
    if (sqlite3_prepare_v2(st->db, "SELECT " EVENT_COLUMNS " FROM events WHERE id = ?", -1, &q,
                           NULL) != SQLITE_OK) {
        rc = db_error(st, "reading an event", err, errlen);
        goto out;
    }
    sqlite3_bind_text(q, 1, id, -1, SQLITE_TRANSIENT);
    int step = sqlite3_step(q);
    if (step == SQLITE_ROW) {
        event_from_row(q, out);
    } else if (step == SQLITE_DONE) {
        snprintf(err, errlen, "no event `%s` in the inbox", id);
        rc = SL_ENOTFOUND;
    } else {
        rc = db_error(st, "reading an event", err, errlen);
    }
out:
    sqlite3_finalize(q);
    pthread_mutex_unlock(&st->lock);
    return rc;
}

static sl_err sq_events_count(sl_store_t *s, long long *n, char *err, size_t errlen)
{
    sqlite_store_t *st = as_sqlite(s);
    sqlite3_stmt *q = NULL;
    sl_err rc = SL_OK;
    pthread_mutex_lock(&st->lock);
    if (sqlite3_prepare_v2(st->db, "SELECT COUNT(*) FROM events", -1, &q, NULL) != SQLITE_OK ||
        sqlite3_step(q) != SQLITE_ROW)
        rc = db_error(st, "counting events", err, errlen);
    else
        *n = sqlite3_column_int64(q, 0);
    sqlite3_finalize(q);
    pthread_mutex_unlock(&st->lock);
    return rc;
}

static sl_err sq_cursor_get(sl_store_t *s, const char *connection, long long *created, char *err,
                            size_t errlen)
{
    sqlite_store_t *st = as_sqlite(s);
    sqlite3_stmt *q = NULL;
    sl_err rc = SL_OK;
    pthread_mutex_lock(&st->lock);
    if (sqlite3_prepare_v2(st->db, "SELECT created FROM cursors WHERE connection = ?", -1, &q,
                           NULL) != SQLITE_OK) {
        rc = db_error(st, "reading a cursor", err, errlen);
        goto out;
    }
    sqlite3_bind_text(q, 1, connection, -1, SQLITE_TRANSIENT);
    int step = sqlite3_step(q);
    if (step == SQLITE_ROW)
        *created = sqlite3_column_int64(q, 0);
    else if (step == SQLITE_DONE)
        rc = SL_ENOTFOUND;
    else
        rc = db_error(st, "reading a cursor", err, errlen);
out:
    sqlite3_finalize(q);
    pthread_mutex_unlock(&st->lock);
    return rc;
}

static sl_err sq_cursor_put(sl_store_t *s, const char *connection, long long created, char *err,
                            size_t errlen)
{
    sqlite_store_t *st = as_sqlite(s);
    sqlite3_stmt *q = NULL;
    sl_err rc = SL_OK;
    pthread_mutex_lock(&st->lock);
    if (sqlite3_prepare_v2(st->db,
                           "INSERT INTO cursors (connection, created) VALUES (?, ?)"
                           " ON CONFLICT (connection) DO UPDATE SET created = excluded.created",
                           -1, &q, NULL) != SQLITE_OK) {
        rc = db_error(st, "saving a cursor", err, errlen);
        goto out;
    }
    sqlite3_bind_text(q, 1, connection, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(q, 2, created);
    if (sqlite3_step(q) != SQLITE_DONE)
        rc = db_error(st, "saving a cursor", err, errlen);
out:
    sqlite3_finalize(q);
    pthread_mutex_unlock(&st->lock);
    return rc;
}

static const sl_store_ops_t sqlite_ops = {
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
    .run_create = sq_run_create,
    .runs_claim = sq_runs_claim,
    .runs_requeue_running = sq_runs_requeue_running,
    .run_get = sq_run_get,
    .runs_list = sq_runs_list,
    .run_set_status = sq_run_set_status,
    .steps_put = sq_steps_put,
    .steps_get = sq_steps_get,
    .steps_drop_failed = sq_steps_drop_failed,
    .flow_enabled_get = sq_flow_enabled_get,
    .flow_enabled_put = sq_flow_enabled_put,
    .contact_upsert = sq_contact_upsert,
    .contacts_list = sq_contacts_list,
};

sl_err sl__sqlite_open(const char *path, sl_store_t **out, char *err, size_t errlen)
{
    *out = NULL;
    sqlite_store_t *st = calloc(1, sizeof *st);
    if (!st)
        return SL_ENOMEM;
    st->base.ops = &sqlite_ops;
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
    sqlite3_busy_timeout(st->db, 10000);
    char *msg = NULL;
    /* SQLite's default 4 KiB pages hold a 1-3 KiB event without overflow, and keep what each
     * commit appends to the WAL small (16 KiB pages wrote ~10x the events' bytes). The WAL is
     * checkpointed by the committing connection itself: only then does it restart instead of
     * growing while commits never pause. */
    if (sqlite3_exec(st->db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;", NULL, NULL,
                     &msg) != SQLITE_OK ||
        sqlite3_exec(st->db, schema, NULL, NULL, &msg) != SQLITE_OK) {
        snprintf(err, errlen, "store: cannot prepare %s: %s", path, msg ? msg : "?");
        sqlite3_free(msg);
        sq_close(&st->base);
        return SL_EIO;
    }
    *out = &st->base;
    return SL_OK;
}
