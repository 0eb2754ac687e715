/* The PostgreSQL store's flow runs, their steps, schedules, named leases, flow settings and
 * contacts. Several instances share these tables: claims skip the rows another holds, and every
 * commit that queues a run notifies the others. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "store/postgres.h"

int sl__pg_insert_run(PGconn *c, const char *id, const char *flow, const char *event_id,
                      const char *connection, const char *input, long long created_ms,
                      const char *what, char *err, size_t errlen)
{
    char created[24];
    snprintf(created, sizeof created, "%lld", created_ms);
    const char *v[] = {id,
                       flow,
                       sl__pg_text_or_null(event_id),
                       sl__pg_text_or_null(connection),
                       sl__pg_text_or_null(input),
                       created};
    return sl__pg_cmd(c,
                      "INSERT INTO runs (id, flow, event_id, connection, input, status, attempt,"
                      " created_ms) VALUES ($1, $2, $3, $4, $5, 'queued', 1, $6)",
                      6, v, what, err, errlen);
}

#define RUN_COLUMNS                                                                                \
    "id, flow, event_id, connection, input, status, error, failed_step, attempt, created_ms,"      \
    " started_ms, finished_ms, owner, lease_until"

static void run_from_row(const PGresult *q, int i, sl_run_row_t *r)
{
    memset(r, 0, sizeof *r);
    sl__pg_copy(r->id, sizeof r->id, q, i, 0);
    sl__pg_copy(r->flow, sizeof r->flow, q, i, 1);
    sl__pg_copy(r->event_id, sizeof r->event_id, q, i, 2);
    sl__pg_copy(r->connection, sizeof r->connection, q, i, 3);
    r->input = sl__pg_dup(q, i, 4);
    sl__pg_copy(r->status, sizeof r->status, q, i, 5);
    r->error = sl__pg_dup(q, i, 6);
    r->failed_step = sl__pg_dup(q, i, 7);
    r->attempt = sl__pg_ll(q, i, 8, 0);
    r->created_ms = sl__pg_ll(q, i, 9, -1);
    r->started_ms = sl__pg_ll(q, i, 10, -1);
    r->finished_ms = sl__pg_ll(q, i, 11, -1);
    sl__pg_copy(r->owner, sizeof r->owner, q, i, 12);
    r->lease_until = sl__pg_ll(q, i, 13, -1);
}

/* Passes every row of q to cb (until it returns non-zero). */
static void each_run(const PGresult *q, sl_run_cb cb, void *ctx)
{
    for (int i = 0; i < PQntuples(q); i++) {
        sl_run_row_t r;
        run_from_row(q, i, &r);
        int stop = cb(&r, ctx);
        sl_run_row_cleanup(&r);
        if (stop)
            break;
    }
}

sl_err sl__pg_run_insert(sl_store_t *s, const sl_run_row_t *row, char *err, size_t errlen)
{
    pg_store_t *st = sl__pg_of(s);
    char created[24];
    snprintf(created, sizeof created, "%lld", row->created_ms);
    const char *v[] = {row->id,
                       row->flow,
                       sl__pg_text_or_null(row->event_id),
                       sl__pg_text_or_null(row->connection),
                       sl__pg_text_or_null(row->input),
                       created,
                       st->token};
    /* One statement, so one commit: the run and the notification of it. */
    PGresult *r = sl__pg_query(st,
                               "WITH ins AS (INSERT INTO runs (id, flow, event_id, connection,"
                               " input, status, attempt, created_ms)"
                               " VALUES ($1, $2, $3, $4, $5, 'queued', 1, $6) RETURNING id)"
                               " SELECT pg_notify('" SL_PG_CHANNEL "', $7) FROM ins",
                               7, v, "queueing a run", err, errlen);
    PQclear(r);
    return r ? SL_OK : SL_EIO;
}

/* The claim in one statement: runs whose lease ended first (an instance died with them), then
 * the oldest queued. Rows another transaction has locked (a concurrent claim) are skipped; one
 * it changed meanwhile is checked again, so no run is claimed twice. The rows come back with
 * started_ms as it was before. */
sl_err sl__pg_runs_claim(sl_store_t *s, const char *owner, long long now, long long lease_until,
                         size_t max, sl_run_cb cb, void *ctx, char *err, size_t errlen)
{
    if (!max)
        return SL_OK;
    char t[24], until[24], limit[24];
    snprintf(t, sizeof t, "%lld", now);
    snprintf(until, sizeof until, "%lld", lease_until);
    snprintf(limit, sizeof limit, "%zu", max);
    const char *v[] = {owner, t, until, limit};
    PGresult *r = sl__pg_query(
        sl__pg_of(s),
        "WITH expired AS (SELECT id, started_ms AS old_started, 0 AS ord FROM runs"
        "  WHERE status = 'running' AND coalesce(lease_until, 0) < $2::bigint"
        "  ORDER BY created_ms, seq LIMIT $4::bigint FOR UPDATE SKIP LOCKED),"
        " queued AS (SELECT id, started_ms AS old_started, 1 AS ord FROM runs"
        "  WHERE status = 'queued' ORDER BY created_ms, seq LIMIT $4::bigint"
        "  FOR UPDATE SKIP LOCKED),"
        " picked AS (SELECT * FROM expired UNION ALL SELECT * FROM queued LIMIT $4::bigint),"
        " claimed AS (UPDATE runs r SET status = 'running', owner = $1::text,"
        "  lease_until = $3::bigint, started_ms = coalesce(r.started_ms, $2::bigint)"
        "  FROM picked WHERE r.id = picked.id"
        "  RETURNING r.id, r.flow, r.event_id, r.connection, r.input, r.status, r.error,"
        "  r.failed_step, r.attempt, r.created_ms, picked.old_started, r.finished_ms, r.owner,"
        "  r.lease_until, picked.ord, r.seq)"
        " SELECT " RUN_COLUMNS ", (SELECT payload FROM events e WHERE e.id = c.event_id"
        "  ORDER BY (e.connection = c.connection) DESC, e.received_ms DESC LIMIT 1)"
        " FROM (SELECT id, flow, event_id, connection, input, status,"
        "  error, failed_step, attempt, created_ms, old_started AS started_ms, finished_ms,"
        "  owner, lease_until, ord, seq FROM claimed) c ORDER BY ord, created_ms, seq",
        4, v, "claiming runs", err, errlen);
    if (!r)
        return SL_EIO;
    for (int i = 0; i < PQntuples(r); i++) { /* every one: each is claimed now */
        sl_run_row_t row;
        run_from_row(r, i, &row);
        if (!PQgetisnull(r, i, 14))
            row.event_payload = strdup(PQgetvalue(r, i, 14));
        cb(&row, ctx);
        sl_run_row_cleanup(&row);
    }
    PQclear(r);
    return SL_OK;
}

/* An UPDATE with an owner and a time; *n gets the rows changed. */
static sl_err owner_update(sl_store_t *s, const char *sql, const char *owner, long long t,
                           long long *n, const char *what, char *err, size_t errlen)
{
    char tv[24];
    snprintf(tv, sizeof tv, "%lld", t);
    const char *v[] = {owner, tv};
    *n = 0;
    PGresult *r = sl__pg_query(sl__pg_of(s), sql, 2, v, what, err, errlen);
    if (!r)
        return SL_EIO;
    *n = sl__pg_changed(r);
    PQclear(r);
    return SL_OK;
}

sl_err sl__pg_runs_heartbeat(sl_store_t *s, const char *owner, long long lease_until, long long *n,
                             char *err, size_t errlen)
{
    return owner_update(s,
                        "UPDATE runs SET lease_until = $2::bigint"
                        " WHERE owner = $1 AND status = 'running'",
                        owner, lease_until, n, "extending leases", err, errlen);
}

sl_err sl__pg_run_claim_id(sl_store_t *s, const char *id, const char *owner, long long now,
                           long long lease_until, int *claimed, char *err, size_t errlen)
{
    char t[24], until[24];
    snprintf(t, sizeof t, "%lld", now);
    snprintf(until, sizeof until, "%lld", lease_until);
    const char *v[] = {id, owner, t, until};
    *claimed = 0;
    PGresult *r = sl__pg_query(sl__pg_of(s),
                               "UPDATE runs SET status = 'running', owner = $2,"
                               " lease_until = $4::bigint,"
                               " started_ms = coalesce(started_ms, $3::bigint)"
                               " WHERE id = $1 AND status = 'queued'",
                               4, v, "claiming a run", err, errlen);
    if (!r)
        return SL_EIO;
    *claimed = sl__pg_changed(r) > 0;
    PQclear(r);
    return SL_OK;
}

sl_err sl__pg_runs_queue_stats(sl_store_t *s, long long *depth, long long *oldest_ms, char *err,
                               size_t errlen)
{
    *depth = 0;
    *oldest_ms = -1;
    PGresult *r = sl__pg_query(sl__pg_of(s),
                               "SELECT count(*), min(created_ms) FROM runs WHERE status = 'queued'",
                               0, NULL, "counting queued runs", err, errlen);
    if (!r)
        return SL_EIO;
    if (PQntuples(r)) {
        *depth = atoll(PQgetvalue(r, 0, 0));
        if (!PQgetisnull(r, 0, 1))
            *oldest_ms = atoll(PQgetvalue(r, 0, 1));
    }
    PQclear(r);
    return SL_OK;
}

sl_err sl__pg_runs_expire_others(sl_store_t *s, const char *keep, long long *n, char *err,
                                 size_t errlen)
{
    return owner_update(s,
                        "UPDATE runs SET lease_until = $2::bigint WHERE status = 'running'"
                        " AND (owner IS NULL OR owner <> $1)",
                        keep, 0, n, "ending old leases", err, errlen);
}

sl_err sl__pg_run_get(sl_store_t *s, const char *id, sl_run_row_t *out, char *err, size_t errlen)
{
    const char *v[] = {id};
    memset(out, 0, sizeof *out);
    PGresult *r = sl__pg_query(sl__pg_of(s), "SELECT " RUN_COLUMNS " FROM runs WHERE id = $1", 1, v,
                               "reading a run", err, errlen);
    if (!r)
        return SL_EIO;
    sl_err rc = SL_OK;
    if (PQntuples(r)) {
        run_from_row(r, 0, out);
    } else {
        /* store.c names what is missing */
        rc = SL_ENOTFOUND;
    }
    PQclear(r);
    return rc;
}

sl_err sl__pg_runs_list(sl_store_t *s, const sl_run_filter_t *f, sl_run_cb cb, void *ctx, char *err,
                        size_t errlen)
{
    sl_where_t w;
    sl__where_init(&w, 1);
    sl__where_raw(&w, "SELECT " RUN_COLUMNS " FROM runs WHERE true");
    sl__runs_where(&w, f, "seq");
    char tail[96];
    snprintf(tail, sizeof tail, " ORDER BY created_ms DESC, seq DESC LIMIT %zu",
             f->limit ? f->limit : 50);
    sl__where_raw(&w, tail);
    if (w.overflow) {
        snprintf(err, errlen, "listing runs: too many filters");
        return SL_EINVAL;
    }
    PGresult *r = sl__pg_query(sl__pg_of(s), w.sql, w.n, w.values, "listing runs", err, errlen);
    if (!r)
        return SL_EIO;
    each_run(r, cb, ctx);
    PQclear(r);
    return SL_OK;
}

/* --- runs_update ---------------------------------------------------------------------------- */

#define STEP_COLS 10
#define STEPS_AT_ONCE 1000

/* The records of steps to write: each path once, at its first place, with the last record given
 * for it, as upserting them one after the other would leave them (and one statement may not
 * change a row twice). n gets how many; heap. */
static const json_t **unique_steps(const json_t *steps, size_t *n)
{
    size_t k = json_array_size(steps);
    const json_t **out = calloc(k ? k : 1, sizeof *out);
    *n = 0;
    if (!out)
        return NULL;
    for (size_t i = 0; i < k; i++) {
        const json_t *step = json_array_get(steps, i);
        const char *path = json_string_value(json_object_get(step, "path"));
        size_t j = 0;
        while (path && j < *n &&
               strcmp(path, json_string_value(json_object_get(out[j], "path")) ?: ""))
            j++;
        if (path && j < *n)
            out[j] = step;
        else
            out[(*n)++] = step;
    }
    return out;
}

/* Upserts rows of step records (rec) of run_id with one statement; an upsert keeps the seq,
 * so the order is the one they were first recorded in. */
static int upsert_steps(PGconn *c, const char *run_id, const json_t *const *rec, size_t rows,
                        char *err, size_t errlen)
{
    static const char *const prefix =
        "INSERT INTO run_steps (run_id, path, kind, status, input, output, error, started_ms,"
        " duration_ms, attempts) VALUES ";
    static const char *const suffix =
        " ON CONFLICT (run_id, path) DO UPDATE SET kind = excluded.kind,"
        " status = excluded.status, input = excluded.input, output = excluded.output,"
        " error = excluded.error, started_ms = excluded.started_ms,"
        " duration_ms = excluded.duration_ms, attempts = excluded.attempts";
    int rc = -1;
    const char **v = calloc(rows * STEP_COLS, sizeof *v);
    char **dumps = calloc(rows * 2, sizeof *dumps);
    char(*nums)[3][32] = calloc(rows, sizeof *nums);
    size_t cap = strlen(prefix) + strlen(suffix) + rows * (STEP_COLS * 8 + 4) + 1;
    char *sql = malloc(cap);
    if (!v || !dumps || !nums || !sql) {
        snprintf(err, errlen, "store: out of memory");
        goto out;
    }
    size_t len = (size_t)snprintf(sql, cap, "%s", prefix);
    for (size_t i = 0; i < rows; i++) {
        const json_t *step = rec[i];
        const json_t *input = json_object_get(step, "input");
        const json_t *output = json_object_get(step, "output");
        dumps[i * 2] = input ? json_dumps(input, JSON_ENCODE_ANY | JSON_COMPACT) : NULL;
        dumps[i * 2 + 1] = output ? json_dumps(output, JSON_ENCODE_ANY | JSON_COMPACT) : NULL;
        snprintf(nums[i][0], sizeof nums[i][0], "%lld",
                 (long long)json_integer_value(json_object_get(step, "started_ms")));
        snprintf(nums[i][1], sizeof nums[i][1], "%.17g",
                 json_number_value(json_object_get(step, "duration_ms")));
        snprintf(nums[i][2], sizeof nums[i][2], "%lld",
                 (long long)json_integer_value(json_object_get(step, "attempts")));
        const char **p = v + i * STEP_COLS;
        p[0] = run_id;
        p[1] = json_string_value(json_object_get(step, "path"));
        p[2] = sl__pg_text_or_null(json_string_value(json_object_get(step, "kind")));
        p[3] = sl__pg_text_or_null(json_string_value(json_object_get(step, "status")));
        p[4] = sl__pg_text_or_null(dumps[i * 2]);
        p[5] = sl__pg_text_or_null(dumps[i * 2 + 1]);
        p[6] = sl__pg_text_or_null(json_string_value(json_object_get(step, "error")));
        p[7] = nums[i][0];
        p[8] = nums[i][1];
        p[9] = nums[i][2];
        for (int j = 0; j < STEP_COLS; j++)
            len += (size_t)snprintf(sql + len, cap - len, "%s$%zu%s",
                                    j   ? ","
                                    : i ? ",("
                                        : "(",
                                    i * STEP_COLS + (size_t)j + 1, j == STEP_COLS - 1 ? ")" : "");
    }
    snprintf(sql + len, cap - len, "%s", suffix);
    rc = sl__pg_cmd(c, sql, (int)(rows * STEP_COLS), v, "recording a step", err, errlen);
out:
    for (size_t i = 0; dumps && i < rows * 2; i++)
        free(dumps[i]);
    free(sql);
    free(nums);
    free(dumps);
    free(v);
    return rc;
}

static int put_steps(PGconn *c, const char *run_id, const json_t *steps, char *err, size_t errlen)
{
    size_t n;
    const json_t **rec = unique_steps(steps, &n);
    if (!rec) {
        snprintf(err, errlen, "store: out of memory");
        return -1;
    }
    int rc = 0;
    for (size_t i = 0; i < n && !rc; i += STEPS_AT_ONCE)
        rc = upsert_steps(c, run_id, rec + i, n - i < STEPS_AT_ONCE ? n - i : STEPS_AT_ONCE, err,
                          errlen);
    free(rec);
    return rc;
}

/* Applies one update (the transaction is open); *applied as runs_update says, *queued when it
 * queued the run. */
static int update_one(PGconn *c, const sl_run_update_t *x, long long now, int *applied, int *queued,
                      char *err, size_t errlen)
{
    *applied = 1;
    if (x->owner) {
        const char *v[] = {x->id, x->owner};
        PGresult *r = sl__pg_exec(c,
                                  "SELECT 1 FROM runs WHERE id = $1 AND owner = $2"
                                  " AND status = 'running' FOR UPDATE",
                                  2, v, NULL, NULL, "checking a run's lease", err, errlen);
        if (!r)
            return -1;
        *applied = PQntuples(r) > 0;
        PQclear(r);
        if (!*applied)
            return 0; /* another instance took it over: its record stands */
    }
    if (x->drop_failed_steps) {
        const char *v[] = {x->id};
        if (sl__pg_cmd(c, "DELETE FROM run_steps WHERE run_id = $1 AND status <> 'succeeded'", 1, v,
                       "clearing failed steps", err, errlen))
            return -1;
    }
    if (x->steps && put_steps(c, x->id, x->steps, err, errlen))
        return -1;
    if (!x->status)
        return 0;
    char fin[24], t[24];
    snprintf(fin, sizeof fin, "%lld", x->finished_ms);
    snprintf(t, sizeof t, "%lld", now);
    const char *v[] = {x->status,
                       sl__pg_text_or_null(x->error),
                       sl__pg_text_or_null(x->failed_step),
                       x->finished_ms >= 0 ? fin : NULL,
                       x->count_attempt ? "1" : "0",
                       x->release ? "1" : "0",
                       t,
                       x->id,
                       x->owner};
    PGresult *r = sl__pg_exec(
        c,
        "UPDATE runs SET status = $1::text, error = $2, failed_step = $3,"
        " finished_ms = $4::bigint, attempt = attempt + $5::int,"
        " owner = CASE WHEN $6::int = 1 THEN NULL ELSE owner END,"
        " lease_until = CASE WHEN $6::int = 1 THEN NULL ELSE lease_until END,"
        " started_ms = CASE WHEN $1::text = 'running' THEN coalesce(started_ms, $7::bigint)"
        " ELSE started_ms END WHERE id = $8 AND ($9::text IS NULL OR owner = $9)",
        9, v, NULL, NULL, "updating a run", err, errlen);
    if (!r)
        return -1;
    *applied = sl__pg_changed(r) > 0;
    *queued = *queued || (*applied && !strcmp(x->status, "queued"));
    PQclear(r);
    return 0;
}

sl_err sl__pg_runs_update(sl_store_t *s, const sl_run_update_t *u, size_t n, int *applied,
                          char *err, size_t errlen)
{
    pg_store_t *st = sl__pg_of(s);
    for (size_t i = 0; i < n; i++)
        applied[i] = 0;
    if (!n)
        return SL_OK;
    PGconn *c = sl__pg_get(st, err, errlen);
    if (!c)
        return SL_EIO;
    int queued = 0;
    long long now = sl__now_ms();
    int lazy = 1;
    for (size_t i = 0; i < n; i++)
        lazy = lazy && u[i].lazy;
    if (sl__pg_cmd(c, "BEGIN", 0, NULL, "updating runs", err, errlen))
        goto fail;
    /* A lazy batch does not wait for its WAL flush: the server's WAL writer flushes it within
     * a moment, and a crash of the server's machine before then can only lose it. */
    if (lazy &&
        sl__pg_cmd(c, "SET LOCAL synchronous_commit TO OFF", 0, NULL, "updating runs", err, errlen))
        goto fail;
    for (size_t i = 0; i < n; i++)
        if (update_one(c, &u[i], now, &applied[i], &queued, err, errlen))
            goto fail;
    if ((queued && sl__pg_notify(st, c, err, errlen)) ||
        sl__pg_commit(c, "committing runs", err, errlen))
        goto fail;
    sl__pg_put(st, c);
    return SL_OK;
fail:
    sl__pg_rollback(c);
    sl__pg_put(st, c);
    for (size_t i = 0; i < n; i++)
        applied[i] = 0;
    return SL_EIO;
}

sl_err sl__pg_steps_get(sl_store_t *s, const char *run_id, sl_step_cb cb, void *ctx, char *err,
                        size_t errlen)
{
    const char *v[] = {run_id};
    PGresult *r = sl__pg_query(sl__pg_of(s),
                               "SELECT path, kind, status, input, output, error, started_ms,"
                               " duration_ms, attempts FROM run_steps WHERE run_id = $1"
                               " ORDER BY seq",
                               1, v, "reading steps", err, errlen);
    if (!r)
        return SL_EIO;
    for (int i = 0; i < PQntuples(r); i++) {
        const char *duration = sl__pg_str(r, i, 7);
        sl_step_row_t row = {sl__pg_str(r, i, 0),   sl__pg_str(r, i, 1),
                             sl__pg_str(r, i, 2),   sl__pg_str(r, i, 3),
                             sl__pg_str(r, i, 4),   sl__pg_str(r, i, 5),
                             sl__pg_ll(r, i, 6, 0), duration ? strtod(duration, NULL) : 0,
                             sl__pg_ll(r, i, 8, 0)};
        if (cb(&row, ctx))
            break;
    }
    PQclear(r);
    return SL_OK;
}

/* --- schedules, leases ---------------------------------------------------------------------- */

sl_err sl__pg_schedule_fire(sl_store_t *s, const char *flow, long long minute,
                            const sl_run_row_t *run, int *fired, char *err, size_t errlen)
{
    pg_store_t *st = sl__pg_of(s);
    char m[24];
    snprintf(m, sizeof m, "%lld", minute);
    const char *v[] = {flow, m, run->id};
    *fired = 0;
    PGconn *c = sl__pg_get(st, err, errlen);
    if (!c)
        return SL_EIO;
    if (sl__pg_cmd(c, "BEGIN", 0, NULL, "claiming a schedule", err, errlen))
        goto fail;
    PGresult *r = sl__pg_exec(c,
                              "INSERT INTO schedule_fires (flow, minute, run_id)"
                              " VALUES ($1, $2, $3) ON CONFLICT (flow, minute) DO NOTHING",
                              3, v, NULL, NULL, "claiming a schedule", err, errlen);
    if (!r)
        goto fail;
    *fired = sl__pg_changed(r) > 0;
    PQclear(r);
    if (*fired && (sl__pg_insert_run(c, run->id, run->flow, NULL, run->connection, run->input,
                                     run->created_ms, "queueing a scheduled run", err, errlen) ||
                   sl__pg_notify(st, c, err, errlen)))
        goto fail;
    if (sl__pg_commit(c, "committing a schedule", err, errlen))
        goto fail;
    sl__pg_put(st, c);
    return SL_OK;
fail:
    *fired = 0;
    sl__pg_rollback(c);
    sl__pg_put(st, c);
    return SL_EIO;
}

sl_err sl__pg_lease_take(sl_store_t *s, const char *name, const char *owner, long long now,
                         long long until, int *held, char *err, size_t errlen)
{
    char u[24], t[24];
    snprintf(u, sizeof u, "%lld", until);
    snprintf(t, sizeof t, "%lld", now);
    const char *v[] = {name, owner, u, t};
    *held = 0;
    PGresult *r = sl__pg_query(sl__pg_of(s),
                               "INSERT INTO leases (name, owner, until_ms) VALUES ($1, $2, $3)"
                               " ON CONFLICT (name) DO UPDATE SET owner = excluded.owner,"
                               " until_ms = excluded.until_ms"
                               " WHERE leases.until_ms < $4::bigint"
                               " OR leases.owner = excluded.owner RETURNING owner",
                               4, v, "taking a lease", err, errlen);
    if (!r)
        return SL_EIO;
    *held = PQntuples(r) > 0;
    PQclear(r);
    return SL_OK;
}

/* --- flow settings, contacts ---------------------------------------------------------------- */

sl_err sl__pg_flow_enabled_get(sl_store_t *s, const char *flow, int *enabled, char *err,
                               size_t errlen)
{
    const char *v[] = {flow};
    *enabled = -1;
    PGresult *r = sl__pg_query(sl__pg_of(s), "SELECT enabled FROM flow_settings WHERE name = $1", 1,
                               v, "reading a flow's setting", err, errlen);
    if (!r)
        return SL_EIO;
    if (PQntuples(r))
        *enabled = sl__pg_ll(r, 0, 0, 0) != 0;
    PQclear(r);
    return SL_OK;
}

sl_err sl__pg_flow_enabled_put(sl_store_t *s, const char *flow, int enabled, char *err,
                               size_t errlen)
{
    const char *v[] = {flow, enabled ? "1" : "0"};
    PGresult *r = sl__pg_query(sl__pg_of(s),
                               "INSERT INTO flow_settings (name, enabled) VALUES ($1, $2)"
                               " ON CONFLICT (name) DO UPDATE SET enabled = excluded.enabled",
                               2, v, "saving a flow's setting", err, errlen);
    PQclear(r);
    return r ? SL_OK : SL_EIO;
}

#define CONTACT_COLUMNS "email, first_name, last_name, created_ms, updated_ms"

/* Passes the rows of q, CONTACT_COLUMNS from column first, to cb. */
static void each_contact(const PGresult *q, int first, sl_contact_cb cb, void *ctx)
{
    for (int i = 0; i < PQntuples(q); i++) {
        sl_contact_row_t r = {sl__pg_str(q, i, first), sl__pg_str(q, i, first + 1),
                              sl__pg_str(q, i, first + 2), sl__pg_ll(q, i, first + 3, 0),
                              sl__pg_ll(q, i, first + 4, 0)};
        if (cb(&r, ctx))
            break;
    }
}

/* One statement, so two instances adding the same contact at once cannot both create it. The
 * key folds ASCII letters only (COLLATE "C"), as SQLite's lower() does. */
sl_err sl__pg_contact_upsert(sl_store_t *s, const char *email, const char *first_name,
                             const char *last_name, long long now, int *created, sl_contact_cb cb,
                             void *ctx, char *err, size_t errlen)
{
    char t[24];
    snprintf(t, sizeof t, "%lld", now);
    const char *v[] = {email, sl__pg_text_or_null(first_name), sl__pg_text_or_null(last_name), t};
    *created = 0;
    PGresult *r = sl__pg_query(
        sl__pg_of(s),
        "INSERT INTO contacts (email_key, email, first_name, last_name, created_ms, updated_ms)"
        " VALUES (lower($1::text COLLATE \"C\"), $1, $2, $3, $4, $4)"
        " ON CONFLICT (email_key) DO UPDATE SET email = excluded.email,"
        " first_name = coalesce(excluded.first_name, contacts.first_name),"
        " last_name = coalesce(excluded.last_name, contacts.last_name),"
        " updated_ms = excluded.updated_ms"
        " RETURNING (xmax = 0), " CONTACT_COLUMNS,
        4, v, "saving a contact", err, errlen);
    if (!r)
        return SL_EIO;
    *created = PQntuples(r) && !strcmp(PQgetvalue(r, 0, 0), "t");
    if (cb)
        each_contact(r, 1, cb, ctx);
    PQclear(r);
    return SL_OK;
}

sl_err sl__pg_contacts_list(sl_store_t *s, sl_contact_cb cb, void *ctx, char *err, size_t errlen)
{
    PGresult *r = sl__pg_query(sl__pg_of(s),
                               "SELECT " CONTACT_COLUMNS " FROM contacts"
                               " ORDER BY created_ms, email_key COLLATE \"C\"",
                               0, NULL, "listing contacts", err, errlen);
    if (!r)
        return SL_EIO;
    each_contact(r, 0, cb, ctx);
    PQclear(r);
    return SL_OK;
}
