/* The PostgreSQL store: a pool of libpq connections shared by every thread, each operation on
 * one connection checked out for it, its writes in one transaction. Commits are durable as the
 * server's synchronous_commit says (on by default; sluice never turns it off). Several
 * instances may share the database: claims skip rows others hold, and a commit that queues runs
 * notifies the channel sluice_runs, which every instance's listener thread waits on. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/rand.h"
#include "store/postgres.h"

/* The schema, one migration per version, the same versions as SQLite's (sqlite.c). Each runs
 * in its own transaction under an advisory lock, so that instances starting together migrate
 * one after the other. run_steps and runs carry seq, the insertion order SQLite's rowid gives. */
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
    " created_ms BIGINT NOT NULL, started_ms BIGINT, finished_ms BIGINT,"
    " seq BIGINT GENERATED ALWAYS AS IDENTITY);"
    "CREATE INDEX IF NOT EXISTS runs_status ON runs (status, created_ms, seq);"
    "CREATE INDEX IF NOT EXISTS runs_flow ON runs (flow, created_ms);"
    "CREATE TABLE IF NOT EXISTS run_steps ("
    " run_id TEXT NOT NULL, path TEXT NOT NULL, kind TEXT, status TEXT NOT NULL, input TEXT,"
    " output TEXT, error TEXT, started_ms BIGINT, duration_ms DOUBLE PRECISION,"
    " attempts BIGINT, seq BIGINT GENERATED ALWAYS AS IDENTITY, PRIMARY KEY (run_id, path));"
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
     * to a connected account, each its own connection. */
    "ALTER TABLE events DROP CONSTRAINT events_pkey;"
    "ALTER TABLE events ADD PRIMARY KEY (connection, id);"
    "CREATE INDEX events_id ON events (id);",
    /* 4: the dashboard's lists, newest first: events by connection, type and object id, runs
     * by status, flow and event, every run. */
    "CREATE INDEX events_connection ON events (connection, received_ms);"
    "CREATE INDEX events_type ON events (type, received_ms);"
    "CREATE INDEX events_family ON events (split_part(type, '.', 1), received_ms);"
    "CREATE INDEX events_object ON events (json_extract_path_text(payload::json, 'data', 'object', "
    "'id'),"
    " received_ms);"
    "DROP INDEX runs_flow;"
    "CREATE INDEX runs_flow ON runs (flow, created_ms, seq);"
    "DROP INDEX runs_event;"
    "CREATE INDEX runs_event ON runs (event_id, created_ms, seq);"
    "CREATE INDEX runs_created ON runs (created_ms, seq);",
    /* 5: the event types of the endpoint sluice registered, for `connect show` and the
     * dashboard. */
    "ALTER TABLE connections ADD COLUMN endpoint_events TEXT;",
    /* 6: the object id as a column, set by sluice as it stores the event, instead of an index
     * on an expression that parsed every payload again. */
    "ALTER TABLE events ADD COLUMN object_id TEXT;"
    "UPDATE events SET object_id = json_extract_path_text(payload::json, 'data', 'object', 'id');"
    "DROP INDEX events_object;"
    "CREATE INDEX events_object ON events (object_id, received_ms);",
};
#define SCHEMA_VERSION ((int)(sizeof migrations / sizeof migrations[0]))

/* The key of the advisory lock that serialises migrations ("sluice" in ASCII). */
#define MIGRATION_LOCK "115108117105099101"

/* --- the schema ----------------------------------------------------------------------------- */

/* Brings the database to SCHEMA_VERSION, one version a transaction; -1 with err set. */
static int migrate(pg_store_t *st, PGconn *c, char *err, size_t errlen)
{
    for (;;) {
        if (sl__pg_cmd(c, "BEGIN", 0, NULL, "starting a migration", err, errlen) ||
            sl__pg_cmd(c, "SELECT pg_advisory_xact_lock(" MIGRATION_LOCK ")", 0, NULL,
                       "waiting for another instance's migration", err, errlen))
            goto fail;
        /* Created only when missing: a role that may not create tables can still use a
         * database that is up to date. */
        PGresult *r = sl__pg_exec(c, "SELECT to_regclass('schema_version') IS NULL", 0, NULL, NULL,
                                  NULL, "reading the schema version", err, errlen);
        if (!r)
            goto fail;
        int missing = !strcmp(PQgetvalue(r, 0, 0), "t");
        PQclear(r);
        if (missing && sl__pg_cmd(c, "CREATE TABLE schema_version (version BIGINT NOT NULL)", 0,
                                  NULL, "creating schema_version", err, errlen))
            goto fail;
        r = sl__pg_exec(c, "SELECT max(version) FROM schema_version", 0, NULL, NULL, NULL,
                        "reading the schema version", err, errlen);
        if (!r)
            goto fail;
        int version = (int)sl__pg_ll(r, 0, 0, 0);
        PQclear(r);
        if (version > SCHEMA_VERSION) {
            snprintf(err, errlen,
                     "the database is at schema version %d, newer than this sluice (%d): use"
                     " the release that wrote it",
                     version, SCHEMA_VERSION);
            goto fail;
        }
        if (version == SCHEMA_VERSION) {
            st->version = version;
            return sl__pg_commit(c, "committing the schema", err, errlen);
        }
        char set[96];
        snprintf(set, sizeof set,
                 "DELETE FROM schema_version; INSERT INTO schema_version VALUES (%d)", version + 1);
        r = PQexec(c, migrations[version]);
        if (PQresultStatus(r) != PGRES_COMMAND_OK) {
            sl__pg_error(c, r, "migrating the schema", err, errlen);
            PQclear(r);
            goto fail;
        }
        PQclear(r);
        r = PQexec(c, set);
        if (PQresultStatus(r) != PGRES_COMMAND_OK) {
            sl__pg_error(c, r, "recording the schema version", err, errlen);
            PQclear(r);
            goto fail;
        }
        PQclear(r);
        if (sl__pg_commit(c, "committing a migration", err, errlen))
            return -1;
    }
fail:
    sl__pg_rollback(c);
    return -1;
}

static int pg_schema_version(sl_store_t *s)
{
    return sl__pg_of(s)->version;
}

/* --- connections ---------------------------------------------------------------------------- */

static sl_err pg_conn_put(sl_store_t *s, const sl_conn_row_t *r, char *err, size_t errlen)
{
    pg_store_t *st = sl__pg_of(s);
    char expires[24], created[24];
    snprintf(expires, sizeof expires, "%lld", r->old_secret_expires);
    snprintf(created, sizeof created, "%lld", r->created);
    const char *v[] = {r->name,
                       r->mode,
                       sl__pg_text_or_null(r->account_id),
                       r->key_sealed ? r->key_sealed : "",
                       sl__pg_text_or_null(r->secret_sealed),
                       sl__pg_text_or_null(r->old_secret_sealed),
                       expires,
                       sl__pg_text_or_null(r->base_url),
                       sl__pg_text_or_null(r->stripe_version),
                       sl__pg_text_or_null(r->stripe_account),
                       sl__pg_text_or_null(r->endpoint_id),
                       sl__pg_text_or_null(r->endpoint_url),
                       created,
                       r->endpoint_events};
    PGconn *c = sl__pg_get(st, err, errlen);
    if (!c)
        return SL_EIO;
    int bad = sl__pg_cmd(
        c,
        "INSERT INTO connections (name, mode, account_id, key_sealed, secret_sealed,"
        " old_secret_sealed, old_secret_expires, base_url, stripe_version, stripe_account,"
        " endpoint_id, endpoint_url, created, endpoint_events)"
        " VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14)"
        " ON CONFLICT (name) DO UPDATE SET mode = excluded.mode,"
        " account_id = excluded.account_id, key_sealed = excluded.key_sealed,"
        " secret_sealed = excluded.secret_sealed, old_secret_sealed = excluded.old_secret_sealed,"
        " old_secret_expires = excluded.old_secret_expires, base_url = excluded.base_url,"
        " stripe_version = excluded.stripe_version, stripe_account = excluded.stripe_account,"
        " endpoint_id = excluded.endpoint_id, endpoint_url = excluded.endpoint_url,"
        " endpoint_events = excluded.endpoint_events",
        14, v, "saving a connection", err, errlen);
    sl__pg_put(st, c);
    return bad ? SL_EIO : SL_OK;
}

#define CONN_COLUMNS                                                                               \
    "name, mode, account_id, key_sealed, secret_sealed, old_secret_sealed, old_secret_expires,"    \
    " base_url, stripe_version, stripe_account, endpoint_id, endpoint_url, created, "              \
    "endpoint_events"

static void conn_from_row(const PGresult *q, int i, sl_conn_row_t *r)
{
    memset(r, 0, sizeof *r);
    sl__pg_copy(r->name, sizeof r->name, q, i, 0);
    sl__pg_copy(r->mode, sizeof r->mode, q, i, 1);
    sl__pg_copy(r->account_id, sizeof r->account_id, q, i, 2);
    r->key_sealed = sl__pg_dup(q, i, 3);
    r->secret_sealed = sl__pg_dup(q, i, 4);
    r->old_secret_sealed = sl__pg_dup(q, i, 5);
    r->old_secret_expires = sl__pg_ll(q, i, 6, 0);
    sl__pg_copy(r->base_url, sizeof r->base_url, q, i, 7);
    sl__pg_copy(r->stripe_version, sizeof r->stripe_version, q, i, 8);
    sl__pg_copy(r->stripe_account, sizeof r->stripe_account, q, i, 9);
    sl__pg_copy(r->endpoint_id, sizeof r->endpoint_id, q, i, 10);
    sl__pg_copy(r->endpoint_url, sizeof r->endpoint_url, q, i, 11);
    r->created = sl__pg_ll(q, i, 12, 0);
    r->endpoint_events = sl__pg_dup(q, i, 13);
}

static sl_err pg_conn_get(sl_store_t *s, const char *name, sl_conn_row_t *out, char *err,
                          size_t errlen)
{
    const char *v[] = {name};
    memset(out, 0, sizeof *out);
    PGresult *r =
        sl__pg_query(sl__pg_of(s), "SELECT " CONN_COLUMNS " FROM connections WHERE name = $1", 1, v,
                     "reading a connection", err, errlen);
    if (!r)
        return SL_EIO;
    sl_err rc = SL_OK;
    if (PQntuples(r)) {
        conn_from_row(r, 0, out);
    } else {
        /* store.c names what is missing */
        rc = SL_ENOTFOUND;
    }
    PQclear(r);
    return rc;
}

static sl_err pg_conn_list(sl_store_t *s, sl_conn_cb cb, void *ctx, char *err, size_t errlen)
{
    /* COLLATE "C": byte order, as SQLite sorts, whatever the database's locale. */
    PGresult *r = sl__pg_query(
        sl__pg_of(s), "SELECT " CONN_COLUMNS " FROM connections ORDER BY name COLLATE \"C\"", 0,
        NULL, "listing connections", err, errlen);
    if (!r)
        return SL_EIO;
    for (int i = 0; i < PQntuples(r); i++) {
        sl_conn_row_t row;
        conn_from_row(r, i, &row);
        int stop = cb(&row, ctx);
        sl_conn_row_cleanup(&row);
        if (stop)
            break;
    }
    PQclear(r);
    return SL_OK;
}

static sl_err pg_conn_delete(sl_store_t *s, const char *name, char *err, size_t errlen)
{
    const char *v[] = {name};
    PGresult *r = sl__pg_query(sl__pg_of(s), "DELETE FROM connections WHERE name = $1", 1, v,
                               "removing a connection", err, errlen);
    if (!r)
        return SL_EIO;
    sl_err rc = SL_OK;
    if (sl__pg_changed(r) == 0) {
        /* store.c names what is missing */
        rc = SL_ENOTFOUND;
    }
    PQclear(r);
    return rc;
}

/* --- events --------------------------------------------------------------------------------- */

/* Rows a multi-row statement takes at once: well under libpq's 65535 parameters. */
#define EVENTS_AT_ONCE 500
#define RUNS_AT_ONCE 1000

/* prefix, then rows of ($k, ... tail) with cols parameters each, then suffix; heap. */
static char *values_sql(const char *prefix, size_t rows, int cols, const char *tail,
                        const char *suffix)
{
    size_t cap = strlen(prefix) + strlen(suffix) + rows * ((size_t)cols * 8 + strlen(tail) + 4) + 1;
    char *sql = malloc(cap);
    if (!sql)
        return NULL;
    size_t len = (size_t)snprintf(sql, cap, "%s", prefix);
    int k = 1;
    for (size_t i = 0; i < rows; i++)
        for (int j = 0; j < cols; j++, k++)
            len += (size_t)snprintf(sql + len, cap - len, "%s$%d%s",
                                    j   ? ","
                                    : i ? ",("
                                        : "(",
                                    k, j == cols - 1 ? tail : "");
    snprintf(sql + len, cap - len, "%s", suffix);
    return sql;
}

typedef struct id_pos {
    const char *id;
    const char *connection;
    size_t i;
} id_pos_t;

/* An event's key is its connection and its id (Stripe Connect sends one event to a platform
 * and to a connected account). */
static int key_cmp(const id_pos_t *x, const char *id, const char *connection)
{
    int c = strcmp(x->id, id);
    return c ? c : strcmp(x->connection, connection);
}

static int by_key_then_pos(const void *a, const void *b)
{
    const id_pos_t *x = a, *y = b;
    int c = key_cmp(x, y->id, y->connection);
    return c ? c : (x->i > y->i) - (x->i < y->i);
}

/* Stores ev[0..n) with one statement; fresh[i] for each: the first of its id in the batch that
 * the statement inserted. */
static int insert_events(PGconn *c, const sl_event_in_t *ev, size_t n, int *fresh, char *err,
                         size_t errlen)
{
    int rc = -1;
    char(*nums)[2][24] = calloc(n, sizeof *nums);
    char(*oids)[256] = calloc(n, sizeof *oids);
    const char **v = calloc(n * 8, sizeof *v);
    int *lens = calloc(n * 8, sizeof *lens), *fmts = calloc(n * 8, sizeof *fmts);
    id_pos_t *order = calloc(n, sizeof *order);
    char *sql =
        values_sql("INSERT INTO events (id, connection, type, created, received_ms,"
                   " source, payload, object_id) VALUES ",
                   n, 8, ")", " ON CONFLICT (connection, id) DO NOTHING RETURNING id, connection");
    PGresult *r = NULL;
    if (!nums || !oids || !v || !lens || !fmts || !order || !sql) {
        snprintf(err, errlen, "store: out of memory");
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        snprintf(nums[i][0], sizeof nums[i][0], "%lld", ev[i].created);
        snprintf(nums[i][1], sizeof nums[i][1], "%lld", ev[i].received_ms);
        const char **p = v + i * 8;
        p[0] = ev[i].id;
        p[1] = ev[i].connection;
        p[2] = ev[i].type;
        p[3] = nums[i][0];
        p[4] = nums[i][1];
        p[5] = ev[i].source;
        p[6] = ev[i].payload; /* as bytes: a webhook's body need not end in NUL */
        lens[i * 8 + 6] = (int)ev[i].payload_len;
        fmts[i * 8 + 6] = 1;
        p[7] = sl__event_object_id(ev[i].payload, ev[i].payload_len, oids[i], sizeof oids[i])
                   ? NULL
                   : oids[i];
        order[i] = (id_pos_t){ev[i].id, ev[i].connection, i};
        fresh[i] = 0;
    }
    r = sl__pg_exec(c, sql, (int)(n * 8), v, lens, fmts, "storing events", err, errlen);
    if (!r)
        goto out;
    /* Each key returned was inserted by its first row in the batch; a repeat was skipped. */
    qsort(order, n, sizeof *order, by_key_then_pos);
    for (int k = 0; k < PQntuples(r); k++) {
        const char *id = PQgetvalue(r, k, 0), *conn = PQgetvalue(r, k, 1);
        size_t lo = 0, hi = n;
        while (lo < hi) {
            size_t mid = lo + (hi - lo) / 2;
            if (key_cmp(&order[mid], id, conn) < 0)
                lo = mid + 1;
            else
                hi = mid;
        }
        if (lo < n && !key_cmp(&order[lo], id, conn))
            fresh[order[lo].i] = 1;
    }
    rc = 0;
out:
    PQclear(r);
    free(sql);
    free(order);
    free(fmts);
    free(lens);
    free(v);
    free(nums);
    free(oids);
    return rc;
}

/* Inserts rows queued runs, 5 parameters each in v. */
static int insert_runs(PGconn *c, const char **v, size_t rows, char *err, size_t errlen)
{
    char *sql = values_sql("INSERT INTO runs (id, flow, event_id, connection, created_ms, status,"
                           " attempt) VALUES ",
                           rows, 5, ",'queued',1)", "");
    if (!sql) {
        snprintf(err, errlen, "store: out of memory");
        return -1;
    }
    int rc = sl__pg_cmd(c, sql, (int)rows * 5, v, "queueing a run", err, errlen);
    free(sql);
    return rc;
}

/* Queues the runs of the fresh events among ev[0..n), RUNS_AT_ONCE a statement. */
static int insert_event_runs(PGconn *c, const sl_event_in_t *ev, size_t n, const int *fresh,
                             size_t *queued, char *err, size_t errlen)
{
    const char **v = calloc(RUNS_AT_ONCE * 5, sizeof *v);
    char now[24];
    snprintf(now, sizeof now, "%lld", sl__now_ms());
    if (!v) {
        snprintf(err, errlen, "store: out of memory");
        return -1;
    }
    size_t rows = 0;
    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; fresh[i] && k < ev[i].nruns; k++) {
            const char **p = v + rows * 5;
            p[0] = ev[i].runs[k].id;
            p[1] = ev[i].runs[k].flow;
            p[2] = ev[i].id;
            p[3] = sl__pg_text_or_null(ev[i].connection);
            p[4] = now;
            if (++rows < RUNS_AT_ONCE)
                continue;
            if (insert_runs(c, v, rows, err, errlen))
                goto fail;
            *queued += rows;
            rows = 0;
        }
    if (rows && insert_runs(c, v, rows, err, errlen))
        goto fail;
    *queued += rows;
    free(v);
    return 0;
fail:
    free(v);
    return -1;
}

static sl_err pg_events_insert(sl_store_t *s, const sl_event_in_t *ev, size_t n, int *fresh,
                               size_t *queued, char *err, size_t errlen)
{
    pg_store_t *st = sl__pg_of(s);
    *queued = 0;
    if (!n)
        return SL_OK;
    PGconn *c = sl__pg_get(st, err, errlen);
    if (!c)
        return SL_EIO;
    if (sl__pg_cmd(c, "BEGIN", 0, NULL, "starting a transaction", err, errlen))
        goto fail;
    for (size_t i = 0; i < n; i += EVENTS_AT_ONCE) {
        size_t k = n - i < EVENTS_AT_ONCE ? n - i : EVENTS_AT_ONCE;
        if (insert_events(c, ev + i, k, fresh + i, err, errlen))
            goto fail;
    }
    /* The fresh events' runs, in the same transaction: no event without its runs. */
    if (insert_event_runs(c, ev, n, fresh, queued, err, errlen) ||
        (*queued && sl__pg_notify(st, c, err, errlen)) ||
        sl__pg_commit(c, "committing events", err, errlen))
        goto fail;
    sl__pg_put(st, c);
    return SL_OK;
fail:
    sl__pg_rollback(c);
    sl__pg_put(st, c);
    *queued = 0;
    for (size_t i = 0; i < n; i++)
        fresh[i] = 0;
    return SL_EIO;
}

#define EVENT_COLUMNS "id, connection, type, created, received_ms, source, payload"

static void event_from_row(const PGresult *q, int i, sl_event_row_t *r)
{
    memset(r, 0, sizeof *r);
    sl__pg_copy(r->id, sizeof r->id, q, i, 0);
    sl__pg_copy(r->connection, sizeof r->connection, q, i, 1);
    sl__pg_copy(r->type, sizeof r->type, q, i, 2);
    r->created = sl__pg_ll(q, i, 3, 0);
    r->received_ms = sl__pg_ll(q, i, 4, 0);
    sl__pg_copy(r->source, sizeof r->source, q, i, 5);
    r->payload = sl__pg_dup(q, i, 6);
}

static sl_err pg_int_pairs(sl_store_t *s, const sl_where_t *w, long long *pairs, size_t max,
                           size_t *got, char *err, size_t errlen)
{
    *got = 0;
    PGresult *r = sl__pg_query(sl__pg_of(s), w->sql, w->n, w->values, "counting", err, errlen);
    if (!r)
        return SL_EIO;
    for (int i = 0; i < PQntuples(r) && *got < max; i++, (*got)++) {
        pairs[2 * *got] = atoll(PQgetvalue(r, i, 0));
        pairs[2 * *got + 1] = atoll(PQgetvalue(r, i, 1));
    }
    PQclear(r);
    return SL_OK;
}

/* The object id filter: the column sluice sets as it stores the event (schema 6), indexed. */
#define OBJECT_ID "object_id"

static sl_err pg_events_list(sl_store_t *s, const sl_event_filter_t *f, int type_prefix,
                             sl_event_cb cb, void *ctx, char *err, size_t errlen)
{
    sl_where_t w;
    sl__where_init(&w, 1);
    sl__where_raw(&w, "SELECT " EVENT_COLUMNS " FROM events WHERE 1 = 1");
    /* A prefix is compared as text, never as a LIKE pattern: '_' and '%' are themselves. */
    static const sl_events_sql_t dialect = {"split_part(type, '.', 1)", "left(type, #::int) = #",
                                            OBJECT_ID, "id COLLATE \"C\""};
    sl__events_where(&w, f, type_prefix, &dialect);
    char tail[96];
    snprintf(tail, sizeof tail, " ORDER BY received_ms DESC, id COLLATE \"C\" DESC LIMIT %lld",
             f->limit ? (long long)f->limit : 100);
    sl__where_raw(&w, tail);
    if (w.overflow) {
        snprintf(err, errlen, "listing events: too many filters");
        return SL_EINVAL;
    }
    PGresult *r = sl__pg_query(sl__pg_of(s), w.sql, w.n, w.values, "listing events", err, errlen);
    if (!r)
        return SL_EIO;
    for (int i = 0; i < PQntuples(r); i++) {
        sl_event_row_t row;
        event_from_row(r, i, &row);
        int stop = cb(&row, ctx);
        sl_event_row_cleanup(&row);
        if (stop)
            break;
    }
    PQclear(r);
    return SL_OK;
}

static sl_err pg_event_get(sl_store_t *s, const char *id, sl_event_row_t *out, char *err,
                           size_t errlen)
{
    const char *v[] = {id};
    memset(out, 0, sizeof *out);
    PGresult *r = sl__pg_query(sl__pg_of(s),
                               "SELECT " EVENT_COLUMNS " FROM events WHERE id = $1"
                               " ORDER BY received_ms DESC LIMIT 1",
                               1, v, "reading an event", err, errlen);
    if (!r)
        return SL_EIO;
    sl_err rc = SL_OK;
    if (PQntuples(r)) {
        event_from_row(r, 0, out);
    } else {
        /* store.c names what is missing */
        rc = SL_ENOTFOUND;
    }
    PQclear(r);
    return rc;
}

static sl_err pg_events_count(sl_store_t *s, long long *n, char *err, size_t errlen)
{
    PGresult *r = sl__pg_query(sl__pg_of(s), "SELECT count(*) FROM events", 0, NULL,
                               "counting events", err, errlen);
    if (!r)
        return SL_EIO;
    *n = sl__pg_ll(r, 0, 0, 0);
    PQclear(r);
    return SL_OK;
}

/* --- cursors -------------------------------------------------------------------------------- */

static sl_err pg_cursor_get(sl_store_t *s, const char *connection, long long *created, char *err,
                            size_t errlen)
{
    const char *v[] = {connection};
    PGresult *r = sl__pg_query(sl__pg_of(s), "SELECT created FROM cursors WHERE connection = $1", 1,
                               v, "reading a cursor", err, errlen);
    if (!r)
        return SL_EIO;
    sl_err rc = SL_ENOTFOUND;
    if (PQntuples(r)) {
        *created = sl__pg_ll(r, 0, 0, 0);
        rc = SL_OK;
    }
    PQclear(r);
    return rc;
}

static sl_err pg_cursor_put(sl_store_t *s, const char *connection, long long created, char *err,
                            size_t errlen)
{
    char value[24];
    snprintf(value, sizeof value, "%lld", created);
    const char *v[] = {connection, value};
    PGresult *r = sl__pg_query(sl__pg_of(s),
                               "INSERT INTO cursors (connection, created) VALUES ($1, $2)"
                               " ON CONFLICT (connection) DO UPDATE SET created = excluded.created",
                               2, v, "saving a cursor", err, errlen);
    PQclear(r);
    return r ? SL_OK : SL_EIO;
}

/* --- opening and closing -------------------------------------------------------------------- */

static void pg_close(sl_store_t *s)
{
    pg_store_t *st = sl__pg_of(s);
    sl__pg_listen_stop(st);
    for (int i = 0; i < st->nidle; i++)
        PQfinish(st->idle[i]);
    pthread_cond_destroy(&st->freed);
    pthread_mutex_destroy(&st->lock);
    free(st->idle);
    free(st->shown);
    free(st->uri);
    free(st);
}

static const sl_store_ops_t postgres_ops = {
    .name = "postgres",
    .close = pg_close,
    .conn_put = pg_conn_put,
    .conn_get = pg_conn_get,
    .conn_list = pg_conn_list,
    .conn_delete = pg_conn_delete,
    .events_insert = pg_events_insert,
    .events_list = pg_events_list,
    .event_get = pg_event_get,
    .events_count = pg_events_count,
    .cursor_get = pg_cursor_get,
    .cursor_put = pg_cursor_put,
    .run_insert = sl__pg_run_insert,
    .runs_claim = sl__pg_runs_claim,
    .runs_heartbeat = sl__pg_runs_heartbeat,
    .runs_expire_others = sl__pg_runs_expire_others,
    .run_claim_id = sl__pg_run_claim_id,
    .runs_queue_stats = sl__pg_runs_queue_stats,
    .int_pairs = pg_int_pairs,
    .run_get = sl__pg_run_get,
    .runs_list = sl__pg_runs_list,
    .runs_update = sl__pg_runs_update,
    .steps_get = sl__pg_steps_get,
    .schedule_fire = sl__pg_schedule_fire,
    .lease_take = sl__pg_lease_take,
    .flow_enabled_get = sl__pg_flow_enabled_get,
    .flow_enabled_put = sl__pg_flow_enabled_put,
    .contact_upsert = sl__pg_contact_upsert,
    .contacts_list = sl__pg_contacts_list,
    .schema_version = pg_schema_version,
};

sl_err sl__postgres_open(const char *uri, int pool, sl_store_t **out, char *err, size_t errlen)
{
    *out = NULL;
    pg_store_t *st = calloc(1, sizeof *st);
    if (!st) {
        snprintf(err, errlen, "store: out of memory");
        return SL_ENOMEM;
    }
    st->base.ops = &postgres_ops;
    st->wake[0] = st->wake[1] = -1;
    st->size = pool > 0 ? pool : 8;
    pthread_mutex_init(&st->lock, NULL);
    pthread_cond_init(&st->freed, NULL);
    st->uri = strdup(uri);
    st->shown = sl__pg_mask_uri(uri);
    st->idle = calloc((size_t)st->size, sizeof *st->idle);
    if (!st->uri || !st->shown || !st->idle) {
        snprintf(err, errlen, "store: out of memory");
        pg_close(&st->base);
        return SL_ENOMEM;
    }
    if (sl__rand_hex(st->token, 16)) {
        snprintf(err, errlen, "store: no randomness for the store's token");
        pg_close(&st->base);
        return SL_EINTERNAL;
    }
    /* The first connection brings the schema up to date; the others open when needed. */
    char why[512];
    PGconn *c = sl__pg_get(st, err, errlen);
    if (!c) {
        pg_close(&st->base);
        return SL_EIO;
    }
    int bad = migrate(st, c, why, sizeof why);
    sl__pg_put(st, c);
    if (bad) {
        snprintf(err, errlen, "store: cannot prepare %s: %s", st->shown,
                 strncmp(why, "store: ", 7) ? why : why + 7);
        pg_close(&st->base);
        return SL_EIO;
    }
    sl_err rc = sl__pg_listen_start(st, err, errlen);
    if (rc) {
        pg_close(&st->base);
        return rc;
    }
    *out = &st->base;
    return SL_OK;
}
