/* The SQLite store's flow runs, their steps, flow settings and contacts. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "store/sqlite.h"

/* Inserts a run (caller holds the lock). */
int sl__sq_insert_run(sqlite_store_t *st, const char *id, const char *flow, const char *event_id,
                      const char *connection, const char *input, long long created_ms)
{
    sqlite3_stmt *q = NULL;
    if (sl__sq_prepare(st,
                       "INSERT INTO runs (id, flow, event_id, connection, input, status,"
                       " attempt, created_ms) VALUES (?,?,?,?,?,'queued',1,?)",
                       &q) != SQLITE_OK)
        return -1;
    sqlite3_bind_text(q, 1, id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(q, 2, flow, -1, SQLITE_TRANSIENT);
    sl__sq_bind_text_or_null(q, 3, event_id);
    sl__sq_bind_text_or_null(q, 4, connection);
    sl__sq_bind_text_or_null(q, 5, input);
    sqlite3_bind_int64(q, 6, created_ms);
    int rc = sqlite3_step(q) == SQLITE_DONE ? 0 : -1;
    sl__sq_release(q);
    return rc;
}

#define RUN_COLUMNS                                                                                \
    "id, flow, event_id, connection, input, status, error, failed_step, attempt, created_ms,"      \
    " started_ms, finished_ms, owner, lease_until"

static long long int_or_minus(sqlite3_stmt *q, int col)
{
    return sqlite3_column_type(q, col) == SQLITE_NULL ? -1 : sqlite3_column_int64(q, col);
}

static void run_from_row(sqlite3_stmt *q, sl_run_row_t *r)
{
    memset(r, 0, sizeof *r);
    sl__sq_copy_col(r->id, sizeof r->id, q, 0);
    sl__sq_copy_col(r->flow, sizeof r->flow, q, 1);
    sl__sq_copy_col(r->event_id, sizeof r->event_id, q, 2);
    sl__sq_copy_col(r->connection, sizeof r->connection, q, 3);
    r->input = sl__sq_dup_col(q, 4);
    sl__sq_copy_col(r->status, sizeof r->status, q, 5);
    r->error = sl__sq_dup_col(q, 6);
    r->failed_step = sl__sq_dup_col(q, 7);
    r->attempt = sqlite3_column_int64(q, 8);
    r->created_ms = int_or_minus(q, 9);
    r->started_ms = int_or_minus(q, 10);
    r->finished_ms = int_or_minus(q, 11);
    sl__sq_copy_col(r->owner, sizeof r->owner, q, 12);
    r->lease_until = int_or_minus(q, 13);
}

/* Passes every row of q to cb (until it returns non-zero). */
static int each_run(sqlite3_stmt *q, sl_run_cb cb, void *ctx)
{
    int step;
    while ((step = sqlite3_step(q)) == SQLITE_ROW) {
        sl_run_row_t r;
        run_from_row(q, &r);
        int stop = cb(&r, ctx);
        sl_run_row_cleanup(&r);
        if (stop)
            return 0;
    }
    return step == SQLITE_DONE ? 0 : -1;
}

sl_err sl__sq_run_insert(sl_store_t *s, const sl_run_row_t *row, char *err, size_t errlen)
{
    sqlite_store_t *st = sl__sq_of(s);
    pthread_mutex_lock(&st->lock);
    int bad = sl__sq_insert_run(st, row->id, row->flow, row->event_id, row->connection, row->input,
                                row->created_ms);
    sl_err rc = bad ? sl__sq_db_error(st, "queueing a run", err, errlen) : SL_OK;
    pthread_mutex_unlock(&st->lock);
    return rc;
}

/* The claim in one transaction: runs whose lease ended first (an instance died with them), then
 * the oldest queued. Each is read, then marked with its new owner; the lock keeps the two
 * together. */
sl_err sl__sq_runs_claim(sl_store_t *s, const char *owner, long long now, long long lease_until,
                         size_t max, sl_run_cb cb, void *ctx, char *err, size_t errlen)
{
    sqlite_store_t *st = sl__sq_of(s);
    sqlite3_stmt *q = NULL, *u = NULL;
    sl_err rc = SL_OK;
    size_t got = 0;
    sl_run_row_t *rows = calloc(max ? max : 1, sizeof *rows);
    if (!rows)
        return SL_ENOMEM;
    pthread_mutex_lock(&st->lock);
    /* Not synced on its own: lost in a crash, the claim leaves its runs queued. The next
     * durable commit syncs the log, and it with it. */
    sl__sq_exec(st, "PRAGMA synchronous=OFF");
    if (sl__sq_exec(st, "BEGIN IMMEDIATE") != SQLITE_OK) {
        rc = sl__sq_db_error(st, "claiming runs", err, errlen);
        goto out;
    }
#define PAYLOAD                                                                                    \
    "coalesce((SELECT payload FROM events WHERE events.id = runs.event_id"                         \
    " AND events.connection = runs.connection), (SELECT payload FROM events"                       \
    " WHERE events.id = runs.event_id ORDER BY received_ms DESC LIMIT 1))"
    static const char *const pick[] = {
        "SELECT " RUN_COLUMNS ", " PAYLOAD " FROM runs WHERE status = 'running'"
        " AND coalesce(lease_until, 0) < ?1 ORDER BY created_ms LIMIT ?2",
        "SELECT " RUN_COLUMNS ", " PAYLOAD " FROM runs WHERE status = 'queued'"
        " ORDER BY created_ms, rowid LIMIT ?2",
    };
    for (int p = 0; p < 2 && got < max; p++) {
        if (sl__sq_prepare(st, pick[p], &q) != SQLITE_OK) {
            rc = sl__sq_db_error(st, "claiming runs", err, errlen);
            goto rollback;
        }
        if (p == 0)
            sqlite3_bind_int64(q, 1, now);
        sqlite3_bind_int64(q, 2, (sqlite3_int64)(max - got));
        while (got < max && sqlite3_step(q) == SQLITE_ROW) {
            run_from_row(q, &rows[got]);
            rows[got++].event_payload = sl__sq_dup_col(q, 14);
        }
        sl__sq_release(q);
        q = NULL;
    }
    if (got && sl__sq_prepare(st,
                              "UPDATE runs SET status = 'running', owner = ?1,"
                              " lease_until = ?2, started_ms = coalesce(started_ms, ?3)"
                              " WHERE id = ?4",
                              &u) != SQLITE_OK) {
        rc = sl__sq_db_error(st, "claiming runs", err, errlen);
        goto rollback;
    }
    for (size_t i = 0; i < got; i++) {
        sqlite3_bind_text(u, 1, owner, -1, SQLITE_STATIC);
        sqlite3_bind_int64(u, 2, lease_until);
        sqlite3_bind_int64(u, 3, now);
        sqlite3_bind_text(u, 4, rows[i].id, -1, SQLITE_STATIC);
        if (sqlite3_step(u) != SQLITE_DONE) {
            rc = sl__sq_db_error(st, "claiming a run", err, errlen);
            goto rollback;
        }
        sqlite3_reset(u);
        snprintf(rows[i].status, sizeof rows[i].status, "running");
        snprintf(rows[i].owner, sizeof rows[i].owner, "%s", owner);
        rows[i].lease_until = lease_until; /* started_ms stays as it was: -1 for a first start */
    }
    if (!got || sl__sq_exec(st, "COMMIT") == SQLITE_OK)
        goto out;
    rc = sl__sq_db_error(st, "committing a claim", err, errlen);
rollback:
    got = 0;
out:
    if (sqlite3_get_autocommit(st->db) == 0)
        sl__sq_exec(st, "ROLLBACK");
    sl__sq_release(q);
    sl__sq_release(u);
    sl__sq_exec(st, "PRAGMA synchronous=FULL");
    pthread_mutex_unlock(&st->lock);
    for (size_t i = 0; i < max; i++) {
        if (i < got)
            cb(&rows[i], ctx);
        sl_run_row_cleanup(&rows[i]);
    }
    free(rows);
    return rc;
}

/* An UPDATE with an owner and a time, under the lock; *n gets the rows changed. */
static sl_err owner_update(sl_store_t *s, const char *sql, const char *owner, long long t,
                           long long *n, const char *what, char *err, size_t errlen)
{
    sqlite_store_t *st = sl__sq_of(s);
    sqlite3_stmt *q = NULL;
    sl_err rc = SL_OK;
    *n = 0;
    pthread_mutex_lock(&st->lock);
    if (sl__sq_prepare(st, sql, &q) != SQLITE_OK) {
        rc = sl__sq_db_error(st, what, err, errlen);
        goto out;
    }
    sqlite3_bind_text(q, 1, owner, -1, SQLITE_STATIC);
    sqlite3_bind_int64(q, 2, t);
    if (sqlite3_step(q) != SQLITE_DONE)
        rc = sl__sq_db_error(st, what, err, errlen);
    else
        *n = sqlite3_changes(st->db);
out:
    sl__sq_release(q);
    pthread_mutex_unlock(&st->lock);
    return rc;
}

sl_err sl__sq_run_claim_id(sl_store_t *s, const char *id, const char *owner, long long now,
                           long long lease_until, int *claimed, char *err, size_t errlen)
{
    sqlite_store_t *st = sl__sq_of(s);
    sqlite3_stmt *q = NULL;
    sl_err rc = SL_OK;
    *claimed = 0;
    pthread_mutex_lock(&st->lock);
    if (sl__sq_prepare(st,
                       "UPDATE runs SET status = 'running', owner = ?2, lease_until = ?4,"
                       " started_ms = coalesce(started_ms, ?3) WHERE id = ?1 AND status = 'queued'",
                       &q) != SQLITE_OK) {
        rc = sl__sq_db_error(st, "claiming a run", err, errlen);
        goto out;
    }
    sqlite3_bind_text(q, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 2, owner, -1, SQLITE_STATIC);
    sqlite3_bind_int64(q, 3, now);
    sqlite3_bind_int64(q, 4, lease_until);
    if (sqlite3_step(q) != SQLITE_DONE)
        rc = sl__sq_db_error(st, "claiming a run", err, errlen);
    else
        *claimed = sqlite3_changes(st->db) > 0;
out:
    sl__sq_release(q);
    pthread_mutex_unlock(&st->lock);
    return rc;
}

sl_err sl__sq_runs_queue_stats(sl_store_t *s, long long *depth, long long *oldest_ms, char *err,
                               size_t errlen)
{
    sqlite_store_t *st = sl__sq_of(s);
    sqlite3_stmt *q = NULL;
    sl_err rc = SL_OK;
    *depth = 0;
    *oldest_ms = -1;
    pthread_mutex_lock(&st->lock);
    if (sl__sq_prepare(st, "SELECT count(*), min(created_ms) FROM runs WHERE status = 'queued'",
                       &q) != SQLITE_OK ||
        sqlite3_step(q) != SQLITE_ROW) {
        rc = sl__sq_db_error(st, "counting queued runs", err, errlen);
    } else {
        *depth = sqlite3_column_int64(q, 0);
        if (sqlite3_column_type(q, 1) != SQLITE_NULL)
            *oldest_ms = sqlite3_column_int64(q, 1);
    }
    sl__sq_release(q);
    pthread_mutex_unlock(&st->lock);
    return rc;
}

sl_err sl__sq_runs_heartbeat(sl_store_t *s, const char *owner, long long lease_until, long long *n,
                             char *err, size_t errlen)
{
    return owner_update(s,
                        "UPDATE runs SET lease_until = ?2 WHERE owner = ?1 AND status = 'running'",
                        owner, lease_until, n, "extending leases", err, errlen);
}

sl_err sl__sq_runs_expire_others(sl_store_t *s, const char *keep, long long *n, char *err,
                                 size_t errlen)
{
    return owner_update(s,
                        "UPDATE runs SET lease_until = ?2 WHERE status = 'running'"
                        " AND (owner IS NULL OR owner <> ?1)",
                        keep, 0, n, "ending old leases", err, errlen);
}

sl_err sl__sq_run_get(sl_store_t *s, const char *id, sl_run_row_t *out, char *err, size_t errlen)
{
    sqlite_store_t *st = sl__sq_of(s);
    sqlite3_stmt *q = NULL;
    sl_err rc = SL_OK;
    memset(out, 0, sizeof *out);
    pthread_mutex_lock(&st->lock);
    if (sl__sq_prepare(st, "SELECT " RUN_COLUMNS " FROM runs WHERE id = ?", &q) != SQLITE_OK) {
        rc = sl__sq_db_error(st, "reading a run", err, errlen);
        goto out;
    }
    sqlite3_bind_text(q, 1, id, -1, SQLITE_TRANSIENT);
    int step = sqlite3_step(q);
    if (step == SQLITE_ROW)
        run_from_row(q, out);
    else if (step == SQLITE_DONE) {
        /* store.c names what is missing */
        rc = SL_ENOTFOUND;
    } else
        rc = sl__sq_db_error(st, "reading a run", err, errlen);
out:
    sl__sq_release(q);
    pthread_mutex_unlock(&st->lock);
    return rc;
}

sl_err sl__sq_runs_list(sl_store_t *s, const sl_run_filter_t *f, sl_run_cb cb, void *ctx, char *err,
                        size_t errlen)
{
    sqlite_store_t *st = sl__sq_of(s);
    sqlite3_stmt *q = NULL;
    sl_err rc = SL_OK;
    sl_where_t w;
    sl__where_init(&w, 0);
    sl__where_raw(&w, "SELECT " RUN_COLUMNS " FROM runs WHERE 1 = 1");
    sl__runs_where(&w, f, "rowid");
    char tail[80];
    snprintf(tail, sizeof tail, " ORDER BY created_ms DESC, rowid DESC LIMIT ?%d", w.n + 1);
    sl__where_raw(&w, tail);
    pthread_mutex_lock(&st->lock);
    if (w.overflow || sqlite3_prepare_v2(st->db, w.sql, -1, &q, NULL) != SQLITE_OK) {
        rc = sl__sq_db_error(st, "listing runs", err, errlen);
        goto out;
    }
    sl__sq_bind_where(q, &w, f->limit ? (long long)f->limit : 50);
    if (each_run(q, cb, ctx))
        rc = sl__sq_db_error(st, "listing runs", err, errlen);
out:
    sqlite3_finalize(q);
    pthread_mutex_unlock(&st->lock);
    return rc;
}

static char *dump_or_null(const json_t *v)
{
    return v ? json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT) : NULL;
}

/* Upserts a run's step records with a prepared statement. */
static int put_steps(sqlite3_stmt *q, const char *run_id, const json_t *steps)
{
    for (size_t i = 0; i < json_array_size(steps); i++) {
        const json_t *step = json_array_get(steps, i);
        char *input = dump_or_null(json_object_get(step, "input"));
        char *output = dump_or_null(json_object_get(step, "output"));
        sqlite3_bind_text(q, 1, run_id, -1, SQLITE_STATIC);
        sqlite3_bind_text(q, 2, json_string_value(json_object_get(step, "path")), -1,
                          SQLITE_STATIC);
        sl__sq_bind_text_or_null(q, 3, json_string_value(json_object_get(step, "kind")));
        sl__sq_bind_text_or_null(q, 4, json_string_value(json_object_get(step, "status")));
        sl__sq_bind_text_or_null(q, 5, input);
        sl__sq_bind_text_or_null(q, 6, output);
        sl__sq_bind_text_or_null(q, 7, json_string_value(json_object_get(step, "error")));
        sqlite3_bind_int64(q, 8, json_integer_value(json_object_get(step, "started_ms")));
        sqlite3_bind_double(q, 9, json_number_value(json_object_get(step, "duration_ms")));
        sqlite3_bind_int64(q, 10, json_integer_value(json_object_get(step, "attempts")));
        int ok = sqlite3_step(q) == SQLITE_DONE;
        sqlite3_reset(q);
        sqlite3_clear_bindings(q);
        free(input);
        free(output);
        if (!ok)
            return -1;
    }
    return 0;
}

enum { U_OWNED, U_DROP, U_STEPS, U_RUN, U_RUN_OWNED, U_N };

/* Applies an update's fields to its run's row (U_RUN, or U_RUN_OWNED with its owner); -1 on
 * failure. */
static int update_run(sqlite3_stmt *r, const sl_run_update_t *x, long long now)
{
    sqlite3_bind_text(r, 1, x->status, -1, SQLITE_STATIC);
    sl__sq_bind_text_or_null(r, 2, x->error);
    sl__sq_bind_text_or_null(r, 3, x->failed_step);
    if (x->finished_ms >= 0)
        sqlite3_bind_int64(r, 4, x->finished_ms);
    else
        sqlite3_bind_null(r, 4);
    sqlite3_bind_int(r, 5, x->count_attempt ? 1 : 0);
    sqlite3_bind_int(r, 6, x->release ? 1 : 0);
    sqlite3_bind_int64(r, 7, now);
    sqlite3_bind_text(r, 8, x->id, -1, SQLITE_STATIC);
    if (x->owner)
        sqlite3_bind_text(r, 9, x->owner, -1, SQLITE_STATIC);
    int ok = sqlite3_step(r) == SQLITE_DONE;
    sqlite3_reset(r);
    sqlite3_clear_bindings(r);
    return ok ? 0 : -1;
}

sl_err sl__sq_runs_update(sl_store_t *s, const sl_run_update_t *u, size_t n, int *applied,
                          char *err, size_t errlen)
{
    static const char *const sql[U_N] = {
        [U_OWNED] = "SELECT 1 FROM runs WHERE id = ?1 AND owner = ?2 AND status = 'running'",
        [U_DROP] = "DELETE FROM run_steps WHERE run_id = ?1 AND status <> 'succeeded'",
        [U_STEPS] = "INSERT INTO run_steps (run_id, path, kind, status, input, output, error,"
                    " started_ms, duration_ms, attempts) VALUES (?,?,?,?,?,?,?,?,?,?)"
                    " ON CONFLICT (run_id, path) DO UPDATE SET kind = excluded.kind,"
                    " status = excluded.status, input = excluded.input,"
                    " output = excluded.output, error = excluded.error,"
                    " started_ms = excluded.started_ms, duration_ms = excluded.duration_ms,"
                    " attempts = excluded.attempts",
        [U_RUN] = "UPDATE runs SET status = ?1, error = ?2, failed_step = ?3, finished_ms = ?4,"
                  " attempt = attempt + ?5, owner = CASE WHEN ?6 THEN NULL ELSE owner END,"
                  " lease_until = CASE WHEN ?6 THEN NULL ELSE lease_until END,"
                  " started_ms = CASE WHEN ?1 = 'running' THEN coalesce(started_ms, ?7)"
                  " ELSE started_ms END WHERE id = ?8",
        [U_RUN_OWNED] = "UPDATE runs SET status = ?1, error = ?2, failed_step = ?3,"
                        " finished_ms = ?4, attempt = attempt + ?5,"
                        " owner = CASE WHEN ?6 THEN NULL ELSE owner END,"
                        " lease_until = CASE WHEN ?6 THEN NULL ELSE lease_until END,"
                        " started_ms = CASE WHEN ?1 = 'running' THEN coalesce(started_ms, ?7)"
                        " ELSE started_ms END WHERE id = ?8 AND owner = ?9"
                        " AND status = 'running'",
    };
    sqlite_store_t *st = sl__sq_of(s);
    sqlite3_stmt *q[U_N] = {0};
    sl_err rc = SL_OK;
    int lazy = n > 0;
    for (size_t i = 0; i < n; i++)
        lazy = lazy && u[i].lazy;
    pthread_mutex_lock(&st->lock);
    /* A lazy batch is not synced on its own: the next durable commit syncs the log, and it with
     * it (as claims are). */
    if (lazy)
        sl__sq_exec(st, "PRAGMA synchronous=OFF");
    if (sl__sq_exec(st, "BEGIN IMMEDIATE") != SQLITE_OK) {
        rc = sl__sq_db_error(st, "updating runs", err, errlen);
        goto out;
    }
    for (int i = 0; i < U_N; i++)
        if (sl__sq_prepare(st, sql[i], &q[i]) != SQLITE_OK) {
            rc = sl__sq_db_error(st, "updating runs", err, errlen);
            goto rollback;
        }
    long long now = sl__now_ms();
    for (size_t i = 0; i < n; i++) {
        const sl_run_update_t *x = &u[i];
        applied[i] = 1;
        if (x->owner && x->status) {
            /* The guarded update first: when the lease was lost it changes nothing, and the
             * records are not written either. */
            if (update_run(q[U_RUN_OWNED], x, now)) {
                rc = sl__sq_db_error(st, "updating a run", err, errlen);
                goto rollback;
            }
            applied[i] = sqlite3_changes(st->db) > 0;
            if (!applied[i])
                continue; /* another instance took it over: its record stands */
        } else if (x->owner) {
            sqlite3_bind_text(q[U_OWNED], 1, x->id, -1, SQLITE_STATIC);
            sqlite3_bind_text(q[U_OWNED], 2, x->owner, -1, SQLITE_STATIC);
            applied[i] = sqlite3_step(q[U_OWNED]) == SQLITE_ROW;
            sqlite3_reset(q[U_OWNED]);
            if (!applied[i])
                continue; /* another instance took it over: its record stands */
        }
        if (x->drop_failed_steps) {
            sqlite3_bind_text(q[U_DROP], 1, x->id, -1, SQLITE_STATIC);
            int ok = sqlite3_step(q[U_DROP]) == SQLITE_DONE;
            sqlite3_reset(q[U_DROP]);
            if (!ok) {
                rc = sl__sq_db_error(st, "clearing failed steps", err, errlen);
                goto rollback;
            }
        }
        if (x->steps && put_steps(q[U_STEPS], x->id, x->steps)) {
            rc = sl__sq_db_error(st, "recording a step", err, errlen);
            goto rollback;
        }
        if (!x->status || x->owner)
            continue; /* no change to the run's row, or made above */
        if (update_run(q[U_RUN], x, now)) {
            rc = sl__sq_db_error(st, "updating a run", err, errlen);
            goto rollback;
        }
        applied[i] = sqlite3_changes(st->db) > 0;
    }
    if (sl__sq_exec(st, "COMMIT") == SQLITE_OK)
        goto out;
    rc = sl__sq_db_error(st, "committing runs", err, errlen);
rollback:
    sl__sq_exec(st, "ROLLBACK");
out:
    for (int i = 0; i < U_N; i++)
        sl__sq_release(q[i]);
    if (lazy)
        sl__sq_exec(st, "PRAGMA synchronous=FULL");
    pthread_mutex_unlock(&st->lock);
    return rc;
}

sl_err sl__sq_steps_get(sl_store_t *s, const char *run_id, sl_step_cb cb, void *ctx, char *err,
                        size_t errlen)
{
    sqlite_store_t *st = sl__sq_of(s);
    sqlite3_stmt *q = NULL;
    sl_err rc = SL_OK;
    pthread_mutex_lock(&st->lock);
    if (sl__sq_prepare(st,
                       "SELECT path, kind, status, input, output, error, started_ms,"
                       " duration_ms, attempts FROM run_steps WHERE run_id = ?"
                       " ORDER BY rowid",
                       &q) != SQLITE_OK) {
        rc = sl__sq_db_error(st, "reading steps", err, errlen);
        goto out;
    }
    sqlite3_bind_text(q, 1, run_id, -1, SQLITE_TRANSIENT);
    int step;
    while ((step = sqlite3_step(q)) == SQLITE_ROW) {
        sl_step_row_t r = {(const char *)sqlite3_column_text(q, 0),
                           (const char *)sqlite3_column_text(q, 1),
                           (const char *)sqlite3_column_text(q, 2),
                           (const char *)sqlite3_column_text(q, 3),
                           (const char *)sqlite3_column_text(q, 4),
                           (const char *)sqlite3_column_text(q, 5),
                           sqlite3_column_int64(q, 6),
                           sqlite3_column_double(q, 7),
                           sqlite3_column_int64(q, 8)};
        if (cb(&r, ctx))
            break;
    }
    if (step != SQLITE_ROW && step != SQLITE_DONE)
        rc = sl__sq_db_error(st, "reading steps", err, errlen);
out:
    sl__sq_release(q);
    pthread_mutex_unlock(&st->lock);
    return rc;
}

sl_err sl__sq_schedule_fire(sl_store_t *s, const char *flow, long long minute,
                            const sl_run_row_t *run, int *fired, char *err, size_t errlen)
{
    sqlite_store_t *st = sl__sq_of(s);
    sqlite3_stmt *q = NULL;
    sl_err rc = SL_OK;
    *fired = 0;
    pthread_mutex_lock(&st->lock);
    if (sl__sq_exec(st, "BEGIN IMMEDIATE") != SQLITE_OK ||
        sl__sq_prepare(st,
                       "INSERT INTO schedule_fires (flow, minute, run_id) VALUES (?,?,?)"
                       " ON CONFLICT (flow, minute) DO NOTHING",
                       &q) != SQLITE_OK) {
        rc = sl__sq_db_error(st, "claiming a schedule", err, errlen);
        goto rollback;
    }
    sqlite3_bind_text(q, 1, flow, -1, SQLITE_STATIC);
    sqlite3_bind_int64(q, 2, minute);
    sqlite3_bind_text(q, 3, run->id, -1, SQLITE_STATIC);
    if (sqlite3_step(q) != SQLITE_DONE) {
        rc = sl__sq_db_error(st, "claiming a schedule", err, errlen);
        goto rollback;
    }
    *fired = sqlite3_changes(st->db) > 0;
    if (*fired && sl__sq_insert_run(st, run->id, run->flow, NULL, run->connection, run->input,
                                    run->created_ms)) {
        rc = sl__sq_db_error(st, "queueing a scheduled run", err, errlen);
        goto rollback;
    }
    if (sl__sq_exec(st, "COMMIT") == SQLITE_OK)
        goto out;
    rc = sl__sq_db_error(st, "committing a schedule", err, errlen);
rollback:
    *fired = 0;
    if (sqlite3_get_autocommit(st->db) == 0)
        sl__sq_exec(st, "ROLLBACK");
out:
    sl__sq_release(q);
    pthread_mutex_unlock(&st->lock);
    return rc;
}

sl_err sl__sq_lease_take(sl_store_t *s, const char *name, const char *owner, long long now,
                         long long until, int *held, char *err, size_t errlen)
{
    sqlite_store_t *st = sl__sq_of(s);
    sqlite3_stmt *q = NULL;
    sl_err rc = SL_OK;
    *held = 0;
    pthread_mutex_lock(&st->lock);
    if (sl__sq_prepare(st,
                       "INSERT INTO leases (name, owner, until_ms) VALUES (?1, ?2, ?3)"
                       " ON CONFLICT (name) DO UPDATE SET owner = excluded.owner,"
                       " until_ms = excluded.until_ms"
                       " WHERE leases.until_ms < ?4 OR leases.owner = excluded.owner",
                       &q) != SQLITE_OK) {
        rc = sl__sq_db_error(st, "taking a lease", err, errlen);
        goto out;
    }
    sqlite3_bind_text(q, 1, name, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 2, owner, -1, SQLITE_STATIC);
    sqlite3_bind_int64(q, 3, until);
    sqlite3_bind_int64(q, 4, now);
    if (sqlite3_step(q) != SQLITE_DONE)
        rc = sl__sq_db_error(st, "taking a lease", err, errlen);
    else
        *held = sqlite3_changes(st->db) > 0;
out:
    sl__sq_release(q);
    pthread_mutex_unlock(&st->lock);
    return rc;
}

sl_err sl__sq_flow_enabled_get(sl_store_t *s, const char *flow, int *enabled, char *err,
                               size_t errlen)
{
    sqlite_store_t *st = sl__sq_of(s);
    sqlite3_stmt *q = NULL;
    sl_err rc = SL_OK;
    *enabled = -1;
    pthread_mutex_lock(&st->lock);
    if (sl__sq_prepare(st, "SELECT enabled FROM flow_settings WHERE name = ?", &q) != SQLITE_OK) {
        rc = sl__sq_db_error(st, "reading a flow's setting", err, errlen);
        goto out;
    }
    sqlite3_bind_text(q, 1, flow, -1, SQLITE_TRANSIENT);
    if (sqlite3_step(q) == SQLITE_ROW)
        *enabled = sqlite3_column_int(q, 0) != 0;
out:
    sl__sq_release(q);
    pthread_mutex_unlock(&st->lock);
    return rc;
}

sl_err sl__sq_flow_enabled_put(sl_store_t *s, const char *flow, int enabled, char *err,
                               size_t errlen)
{
    sqlite_store_t *st = sl__sq_of(s);
    sqlite3_stmt *q = NULL;
    sl_err rc = SL_OK;
    pthread_mutex_lock(&st->lock);
    if (sl__sq_prepare(st,
                       "INSERT INTO flow_settings (name, enabled) VALUES (?, ?)"
                       " ON CONFLICT (name) DO UPDATE SET enabled = excluded.enabled",
                       &q) != SQLITE_OK) {
        rc = sl__sq_db_error(st, "saving a flow's setting", err, errlen);
        goto out;
    }
    sqlite3_bind_text(q, 1, flow, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int(q, 2, enabled ? 1 : 0);
    if (sqlite3_step(q) != SQLITE_DONE)
        rc = sl__sq_db_error(st, "saving a flow's setting", err, errlen);
out:
    sl__sq_release(q);
    pthread_mutex_unlock(&st->lock);
    return rc;
}

static void each_contact(sqlite3_stmt *q, sl_contact_cb cb, void *ctx)
{
    while (sqlite3_step(q) == SQLITE_ROW) {
        sl_contact_row_t r = {(const char *)sqlite3_column_text(q, 0),
                              (const char *)sqlite3_column_text(q, 1),
                              (const char *)sqlite3_column_text(q, 2), sqlite3_column_int64(q, 3),
                              sqlite3_column_int64(q, 4)};
        if (cb(&r, ctx))
            break;
    }
}

sl_err sl__sq_contact_upsert(sl_store_t *s, const char *email, const char *first_name,
                             const char *last_name, long long now, int *created, sl_contact_cb cb,
                             void *ctx, char *err, size_t errlen)
{
    sqlite_store_t *st = sl__sq_of(s);
    sqlite3_stmt *q = NULL;
    sl_err rc = SL_OK;
    pthread_mutex_lock(&st->lock);
    if (sl__sq_prepare(st, "SELECT 1 FROM contacts WHERE email_key = lower(?)", &q) != SQLITE_OK) {
        rc = sl__sq_db_error(st, "reading a contact", err, errlen);
        goto out;
    }
    sqlite3_bind_text(q, 1, email, -1, SQLITE_TRANSIENT);
    *created = sqlite3_step(q) != SQLITE_ROW;
    sl__sq_release(q);
    q = NULL;
    if (sl__sq_prepare(
            st,
            *created ? "INSERT INTO contacts (email_key, email, first_name, last_name, created_ms,"
                       " updated_ms) VALUES (lower(?1), ?1, ?2, ?3, ?4, ?4)"
                     : "UPDATE contacts SET email = ?1, first_name = coalesce(?2, first_name),"
                       " last_name = coalesce(?3, last_name), updated_ms = ?4"
                       " WHERE email_key = lower(?1)",
            &q) != SQLITE_OK) {
        rc = sl__sq_db_error(st, "saving a contact", err, errlen);
        goto out;
    }
    sqlite3_bind_text(q, 1, email, -1, SQLITE_TRANSIENT);
    sl__sq_bind_text_or_null(q, 2, first_name);
    sl__sq_bind_text_or_null(q, 3, last_name);
    sqlite3_bind_int64(q, 4, now);
    if (sqlite3_step(q) != SQLITE_DONE) {
        rc = sl__sq_db_error(st, "saving a contact", err, errlen);
        goto out;
    }
    sl__sq_release(q);
    q = NULL;
    if (cb && sl__sq_prepare(st,
                             "SELECT email, first_name, last_name, created_ms, updated_ms"
                             " FROM contacts WHERE email_key = lower(?)",
                             &q) == SQLITE_OK) {
        sqlite3_bind_text(q, 1, email, -1, SQLITE_TRANSIENT);
        each_contact(q, cb, ctx);
    }
out:
    sl__sq_release(q);
    pthread_mutex_unlock(&st->lock);
    return rc;
}

sl_err sl__sq_contacts_list(sl_store_t *s, sl_contact_cb cb, void *ctx, char *err, size_t errlen)
{
    sqlite_store_t *st = sl__sq_of(s);
    sqlite3_stmt *q = NULL;
    sl_err rc = SL_OK;
    pthread_mutex_lock(&st->lock);
    if (sl__sq_prepare(st,
                       "SELECT email, first_name, last_name, created_ms, updated_ms"
                       " FROM contacts ORDER BY created_ms, email_key",
                       &q) != SQLITE_OK) {
        rc = sl__sq_db_error(st, "listing contacts", err, errlen);
        goto out;
    }
    each_contact(q, cb, ctx);
out:
    sl__sq_release(q);
    pthread_mutex_unlock(&st->lock);
    return rc;
}
