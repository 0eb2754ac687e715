/* The SQLite store's flow runs, their steps, flow settings and contacts. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/rand.h"
#include "store/sqlite.h"

int sl__sq_run_id(char *out, size_t n)
{
    char hex[21];
    if (sl__rand_hex(hex, 10))
        return -1; /* no randomness: no id that could collide */
    snprintf(out, n, "run_%s", hex);
    return 0;
}

/* Inserts a run (caller holds the lock). */
int sl__sq_insert_run(sqlite_store_t *st, const char *id, const char *flow, const char *event_id,
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
    sl__sq_bind_text_or_null(q, 3, event_id);
    sl__sq_bind_text_or_null(q, 4, connection);
    sl__sq_bind_text_or_null(q, 5, input);
    sqlite3_bind_int64(q, 6, sl__now_ms());
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

sl_err sl__sq_run_create(sl_store_t *s, const json_t *run, char *err, size_t errlen)
{
    sqlite_store_t *st = sl__sq_of(s);
    char id[64];
    const char *given = json_string_value(json_object_get(run, "id"));
    if (given)
        snprintf(id, sizeof id, "%s", given);
    else if (sl__sq_run_id(id, sizeof id)) {
        snprintf(err, errlen, "store: no randomness for a run id");
        return SL_EINTERNAL;
    }
    const json_t *input = json_object_get(run, "input");
    char *in =
        input && !json_is_null(input) ? json_dumps(input, JSON_ENCODE_ANY | JSON_COMPACT) : NULL;
    pthread_mutex_lock(&st->lock);
    int bad = sl__sq_insert_run(st, id, json_string_value(json_object_get(run, "flow")),
                                json_string_value(json_object_get(run, "event_id")),
                                json_string_value(json_object_get(run, "connection")), in);
    sl_err rc = bad ? sl__sq_db_error(st, "queueing a run", err, errlen) : SL_OK;
    pthread_mutex_unlock(&st->lock);
    free(in);
    if (!rc && !given)
        json_object_set_new((json_t *)run, "id", json_string(id));
    if (!rc && s->on_runs)
        s->on_runs(s->on_runs_ctx);
    return rc;
}

sl_err sl__sq_runs_claim(sl_store_t *s, size_t max, json_t **out, char *err, size_t errlen)
{
    sqlite_store_t *st = sl__sq_of(s);
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
        rc = sl__sq_db_error(st, "claiming runs", err, errlen);
        goto out;
    }
    sqlite3_bind_int64(q, 1, (sqlite3_int64)max);
    while (sqlite3_step(q) == SQLITE_ROW)
        json_array_append_new(*out, run_from_row(q));
    long long t = sl__now_ms();
    for (size_t i = 0; i < json_array_size(*out); i++) {
        json_t *run = json_array_get(*out, i);
        sqlite3_bind_int64(u, 1, t);
        sqlite3_bind_text(u, 2, json_string_value(json_object_get(run, "id")), -1,
                          SQLITE_TRANSIENT);
        if (sqlite3_step(u) != SQLITE_DONE) {
            rc = sl__sq_db_error(st, "claiming a run", err, errlen);
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

sl_err sl__sq_runs_requeue_running(sl_store_t *s, long long *n, char *err, size_t errlen)
{
    sqlite_store_t *st = sl__sq_of(s);
    pthread_mutex_lock(&st->lock);
    sl_err rc = sqlite3_exec(st->db, "UPDATE runs SET status = 'queued' WHERE status = 'running'",
                             NULL, NULL, NULL) == SQLITE_OK
                    ? SL_OK
                    : sl__sq_db_error(st, "requeueing runs", err, errlen);
    *n = rc ? 0 : sqlite3_changes(st->db);
    pthread_mutex_unlock(&st->lock);
    return rc;
}

sl_err sl__sq_run_get(sl_store_t *s, const char *id, json_t **out, char *err, size_t errlen)
{
    sqlite_store_t *st = sl__sq_of(s);
    sqlite3_stmt *q = NULL;
    sl_err rc = SL_OK;
    *out = NULL;
    pthread_mutex_lock(&st->lock);
    if (sqlite3_prepare_v2(st->db, "SELECT " RUN_COLUMNS " FROM runs WHERE id = ?", -1, &q, NULL) !=
        SQLITE_OK) {
        rc = sl__sq_db_error(st, "reading a run", err, errlen);
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

sl_err sl__sq_runs_list(sl_store_t *s, const sl_run_filter_t *f, json_t **out, char *err,
                        size_t errlen)
{
    sqlite_store_t *st = sl__sq_of(s);
    sqlite3_stmt *q = NULL;
    sl_err rc = SL_OK;
    *out = json_array();
    pthread_mutex_lock(&st->lock);
    if (sqlite3_prepare_v2(st->db,
                           "SELECT " RUN_COLUMNS " FROM runs WHERE (?1 IS NULL OR flow = ?1)"
                           " AND (?2 IS NULL OR status = ?2) AND (?3 IS NULL OR event_id = ?3)"
                           " ORDER BY created_ms DESC, rowid DESC LIMIT ?4",
                           -1, &q, NULL) != SQLITE_OK) {
        rc = sl__sq_db_error(st, "listing runs", err, errlen);
        goto out;
    }
    sl__sq_bind_text_or_null(q, 1, f ? f->flow : NULL);
    sl__sq_bind_text_or_null(q, 2, f ? f->status : NULL);
    sl__sq_bind_text_or_null(q, 3, f ? f->event_id : NULL);
    sqlite3_bind_int64(q, 4, f && f->limit ? (sqlite3_int64)f->limit : 50);
    while (sqlite3_step(q) == SQLITE_ROW)
        json_array_append_new(*out, run_from_row(q));
out:
    sqlite3_finalize(q);
    pthread_mutex_unlock(&st->lock);
    return rc;
}

sl_err sl__sq_run_set_status(sl_store_t *s, const char *id, const char *status, const char *error,
                             const char *failed_step, char *err, size_t errlen)
{
    sqlite_store_t *st = sl__sq_of(s);
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
        rc = sl__sq_db_error(st, "updating a run", err, errlen);
        goto out;
    }
    sqlite3_bind_text(q, 1, status, -1, SQLITE_TRANSIENT);
    sl__sq_bind_text_or_null(q, 2, error);
    sl__sq_bind_text_or_null(q, 3, failed_step);
    if (queued) {
        sqlite3_bind_text(q, 4, id, -1, SQLITE_TRANSIENT);
    } else {
        sqlite3_bind_int64(q, 4, sl__now_ms());
        sqlite3_bind_text(q, 5, id, -1, SQLITE_TRANSIENT);
    }
    if (sqlite3_step(q) != SQLITE_DONE)
        rc = sl__sq_db_error(st, "updating a run", err, errlen);
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

sl_err sl__sq_steps_put(sl_store_t *s, const char *run_id, const json_t *steps, char *err,
                        size_t errlen)
{
    sqlite_store_t *st = sl__sq_of(s);
    sqlite3_stmt *q = NULL;
    sl_err rc = SL_OK;
    pthread_mutex_lock(&st->lock);
    if (sqlite3_exec(st->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK) {
        rc = sl__sq_db_error(st, "recording steps", err, errlen);
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
        rc = sl__sq_db_error(st, "recording a step", err, errlen);
        goto rollback;
    }
    for (size_t i = 0; i < json_array_size(steps); i++) {
        const json_t *step = json_array_get(steps, i);
        char *input = dump_or_null(json_object_get(step, "input"));
        char *output = dump_or_null(json_object_get(step, "output"));
        sqlite3_bind_text(q, 1, run_id, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(q, 2, json_string_value(json_object_get(step, "path")), -1,
                          SQLITE_TRANSIENT);
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
        if (!ok) {
            rc = sl__sq_db_error(st, "recording a step", err, errlen);
            goto rollback;
        }
    }
    if (sqlite3_exec(st->db, "COMMIT", NULL, NULL, NULL) == SQLITE_OK)
        goto out;
    rc = sl__sq_db_error(st, "committing steps", err, errlen);
rollback:
    sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
out:
    sqlite3_finalize(q);
    pthread_mutex_unlock(&st->lock);
    return rc;
}

sl_err sl__sq_steps_get(sl_store_t *s, const char *run_id, json_t **out, char *err, size_t errlen)
{
    sqlite_store_t *st = sl__sq_of(s);
    sqlite3_stmt *q = NULL;
    sl_err rc = SL_OK;
    *out = json_array();
    pthread_mutex_lock(&st->lock);
    if (sqlite3_prepare_v2(st->db,
                           "SELECT path, kind, status, input, output, error, started_ms,"
                           " duration_ms, attempts FROM run_steps WHERE run_id = ?"
                           " ORDER BY rowid",
                           -1, &q, NULL) != SQLITE_OK) {
        rc = sl__sq_db_error(st, "reading steps", err, errlen);
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

sl_err sl__sq_steps_drop_failed(sl_store_t *s, const char *run_id, char *err, size_t errlen)
{
    sqlite_store_t *st = sl__sq_of(s);
    sqlite3_stmt *q = NULL;
    sl_err rc = SL_OK;
    pthread_mutex_lock(&st->lock);
    if (sqlite3_prepare_v2(st->db,
                           "DELETE FROM run_steps WHERE run_id = ? AND status <> 'succeeded'", -1,
                           &q, NULL) != SQLITE_OK) {
        rc = sl__sq_db_error(st, "clearing failed steps", err, errlen);
        goto out;
    }
    sqlite3_bind_text(q, 1, run_id, -1, SQLITE_TRANSIENT);
    if (sqlite3_step(q) != SQLITE_DONE)
        rc = sl__sq_db_error(st, "clearing failed steps", err, errlen);
out:
    sqlite3_finalize(q);
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
    if (sqlite3_prepare_v2(st->db, "SELECT enabled FROM flow_settings WHERE name = ?", -1, &q,
                           NULL) != SQLITE_OK) {
        rc = sl__sq_db_error(st, "reading a flow's setting", err, errlen);
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

sl_err sl__sq_flow_enabled_put(sl_store_t *s, const char *flow, int enabled, char *err,
                               size_t errlen)
{
    sqlite_store_t *st = sl__sq_of(s);
    sqlite3_stmt *q = NULL;
    sl_err rc = SL_OK;
    pthread_mutex_lock(&st->lock);
    if (sqlite3_prepare_v2(st->db,
                           "INSERT INTO flow_settings (name, enabled) VALUES (?, ?)"
                           " ON CONFLICT (name) DO UPDATE SET enabled = excluded.enabled",
                           -1, &q, NULL) != SQLITE_OK) {
        rc = sl__sq_db_error(st, "saving a flow's setting", err, errlen);
        goto out;
    }
    sqlite3_bind_text(q, 1, flow, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int(q, 2, enabled ? 1 : 0);
    if (sqlite3_step(q) != SQLITE_DONE)
        rc = sl__sq_db_error(st, "saving a flow's setting", err, errlen);
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

sl_err sl__sq_contact_upsert(sl_store_t *s, const char *email, const char *first_name,
                             const char *last_name, int *created, json_t **out, char *err,
                             size_t errlen)
{
    sqlite_store_t *st = sl__sq_of(s);
    sqlite3_stmt *q = NULL;
    sl_err rc = SL_OK;
    if (out)
        *out = NULL;
    pthread_mutex_lock(&st->lock);
    long long t = sl__now_ms();
    if (sqlite3_prepare_v2(st->db, "SELECT 1 FROM contacts WHERE email_key = lower(?)", -1, &q,
                           NULL) != SQLITE_OK) {
        rc = sl__sq_db_error(st, "reading a contact", err, errlen);
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
        rc = sl__sq_db_error(st, "saving a contact", err, errlen);
        goto out;
    }
    sqlite3_bind_text(q, 1, email, -1, SQLITE_TRANSIENT);
    sl__sq_bind_text_or_null(q, 2, first_name);
    sl__sq_bind_text_or_null(q, 3, last_name);
    sqlite3_bind_int64(q, 4, t);
    if (sqlite3_step(q) != SQLITE_DONE) {
        rc = sl__sq_db_error(st, "saving a contact", err, errlen);
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

sl_err sl__sq_contacts_list(sl_store_t *s, json_t **out, char *err, size_t errlen)
{
    sqlite_store_t *st = sl__sq_of(s);
    sqlite3_stmt *q = NULL;
    sl_err rc = SL_OK;
    *out = json_array();
    pthread_mutex_lock(&st->lock);
    if (sqlite3_prepare_v2(st->db,
                           "SELECT email, first_name, last_name, created_ms, updated_ms"
                           " FROM contacts ORDER BY created_ms, email_key",
                           -1, &q, NULL) != SQLITE_OK) {
        rc = sl__sq_db_error(st, "listing contacts", err, errlen);
        goto out;
    }
    while (sqlite3_step(q) == SQLITE_ROW)
        json_array_append_new(*out, contact_from_row(q));
out:
    sqlite3_finalize(q);
    pthread_mutex_unlock(&st->lock);
    return rc;
}
