/* The store: every table sluice keeps, behind one interface (internal).
 *
 * A backend implements sl_store_ops_t in its own file (sqlite.c; postgres.c next) and embeds
 * sl_store_t as its first member. SQL is kept portable: TEXT and BIGINT columns, INSERT ... ON
 * CONFLICT DO NOTHING, no backend-only functions. Every function may be called from any
 * thread; backends serialise as they must. Errors come back as sl_err with a reason in err. */
#ifndef SLUICE_STORE_H
#define SLUICE_STORE_H

#include <stddef.h>

#include <jansson.h>

#include "sluice/error.h"

typedef struct sl_store sl_store_t;
typedef struct sl_run_new sl_run_new_t;
struct sl_where; /* a query's text and parameters, for the backends (below) */

/* A connection to one Stripe account. Secrets are sealed (core/crypt.h), never plain. */
typedef struct sl_conn_row {
    char name[64];
    char mode[8]; /* "test" or "live" */
    char account_id[64];
    char *key_sealed;        /* heap */
    char *secret_sealed;     /* heap, or NULL: no webhook secret yet */
    char *old_secret_sealed; /* heap, or NULL: the previous secret, during a rotation */
    long long old_secret_expires;
    char base_url[512];
    char stripe_version[32];
    char stripe_account[64];
    char endpoint_id[64]; /* the webhook endpoint sluice registered, if any */
    char endpoint_url[1024];
    long long created;
    char *endpoint_events; /* heap, or NULL: the event types it was registered with (JSON array) */
} sl_conn_row_t;

/* Frees the heap strings of a row and zeroes it. */
void sl_conn_row_cleanup(sl_conn_row_t *row);

/* An event going into the inbox (borrowed strings). */
typedef struct sl_event_in {
    const char *id;
    const char *connection;
    const char *type;
    const char *source; /* "webhook" or "catch-up" */
    const char *payload;
    size_t payload_len;
    long long created;        /* the event's own `created` */
    long long received_ms;    /* when sluice received it */
    const char *const *flows; /* the flows it starts if fresh (borrowed), or NULL */
    size_t nflows;
    /* store.c's: the runs made for flows (backends read these) */
    const sl_run_new_t *runs;
    size_t nruns;
} sl_event_in_t;

/* An event read back; payload is heap. */
typedef struct sl_event_row {
    char id[128];
    char connection[64];
    char type[128];
    char source[16];
    long long created;
    long long received_ms;
    char *payload;
} sl_event_row_t;

void sl_event_row_cleanup(sl_event_row_t *row);

typedef struct sl_event_filter {
    const char *type;       /* exact, or a prefix ending in '*' ("invoice.*"); NULL: all */
    const char *connection; /* NULL: all */
    size_t limit;           /* 0: 100 */
    /* The dashboard's filters; NULL / 0 match all. */
    const char *source;    /* "webhook" or "catch-up" */
    const char *object_id; /* an id quoted anywhere in the payload ("cus_123") */
    long long since_ms;    /* received at or after */
    long long until_ms;    /* received before */
    /* Keyset paging: only events older than (before_ms, before_id) in the list's order
     * (received_ms, then id, newest first); before_ms 0: from the newest. */
    long long before_ms;
    const char *before_id;
} sl_event_filter_t;

typedef int (*sl_event_cb)(const sl_event_row_t *row, void *ctx); /* non-zero stops */

/* A run queued with an event: its id (made by store.c) and its flow. */
typedef struct sl_run_new {
    const char *id;
    const char *flow;
} sl_run_new_t;

/* A run as the backends keep it. Text fields are "" when NULL in the database, except the heap
 * ones (input, error, failed_step), which are NULL. Times are -1 when not set. */
typedef struct sl_run_row {
    char id[64];
    char flow[128];
    char event_id[128];
    char connection[64];
    char status[16]; /* queued, running, succeeded, failed, filtered */
    char owner[96];  /* the instance that holds its lease while running */
    char *input;     /* JSON text, heap */
    char *error;     /* heap */
    char *failed_step;
    long long attempt, created_ms, started_ms, finished_ms, lease_until;
    char *event_payload; /* runs_claim only: the trigger event's payload (heap), or NULL */
} sl_run_row_t;

void sl_run_row_cleanup(sl_run_row_t *row);

/* One step record as the backends keep it (see sl_store_steps_put). */
typedef struct sl_step_row {
    const char *path, *kind, *status, *input, *output, *error; /* input, output: JSON text */
    long long started_ms;
    double duration_ms;
    long long attempts;
} sl_step_row_t;
typedef int (*sl_step_cb)(const sl_step_row_t *row, void *ctx);

/* A change to a run, applied by runs_update with its step records in one transaction. The
 * status rules are store.c's (sl_store_run_set_status, sl_store_runs_finish); a backend applies
 * the fields as given. */
typedef struct sl_run_update {
    const char *id;
    const char *owner;       /* non-NULL: only while this instance holds the run's lease */
    const char *status;      /* NULL: leave the run's row alone (steps only) */
    const char *error;       /* NULL: cleared */
    const char *failed_step; /* NULL: cleared */
    long long finished_ms;   /* -1: cleared */
    int count_attempt;       /* attempt = attempt + 1 */
    int release;             /* owner and lease cleared */
    int drop_failed_steps;   /* delete the run's unsucceeded step records first */
    const json_t *steps;     /* records to upsert, or NULL */
    /* May become durable with the store's next durable commit rather than its own: a crash of
     * the machine (not of sluice) can then lose it, and the run resumes from its last durable
     * step. A batch is lazy when every update in it is. */
    int lazy;
} sl_run_update_t;

typedef int (*sl_run_cb)(const sl_run_row_t *row, void *ctx);

/* A filter of runs_list; NULL / 0 fields match all. */
typedef struct sl_run_filter {
    const char *flow;
    const char *status;
    const char *event_id;
    size_t limit;       /* 0: 50 */
    long long since_ms; /* created at or after (0: any) */
    long long until_ms; /* created before (0: any) */
    /* Keyset paging: only runs after the run before_id (created at before_ms) in the list's
     * order, newest first (created_ms, then the order they were queued in); before_ms 0: from
     * the newest. */
    long long before_ms;
    const char *before_id;
} sl_run_filter_t;
typedef int (*sl_conn_cb)(const sl_conn_row_t *row, void *ctx);

/* A contact as the backends keep it. */
typedef struct sl_contact_row {
    const char *email, *first_name, *last_name;
    long long created_ms, updated_ms;
} sl_contact_row_t;
typedef int (*sl_contact_cb)(const sl_contact_row_t *row, void *ctx);

/* What a backend implements. Callers use the sl_store_* functions below, never these. */
typedef struct sl_store_ops {
    const char *name; /* "sqlite", "postgres" */
    void (*close)(sl_store_t *s);
    sl_err (*conn_put)(sl_store_t *s, const sl_conn_row_t *row, char *err, size_t errlen);
    sl_err (*conn_get)(sl_store_t *s, const char *name, sl_conn_row_t *out, char *err,
                       size_t errlen);
    sl_err (*conn_list)(sl_store_t *s, sl_conn_cb cb, void *ctx, char *err, size_t errlen);
    sl_err (*conn_delete)(sl_store_t *s, const char *name, char *err, size_t errlen);
    /* Stores the events in one durable transaction; fresh[i] = 1 if stored, 0 if a duplicate.
     * A fresh event's runs (ev[i].runs) are inserted queued in the same transaction; *queued
     * counts them. */
    sl_err (*events_insert)(sl_store_t *s, const sl_event_in_t *ev, size_t n, int *fresh,
                            size_t *queued, char *err, size_t errlen);
    /* type_prefix: f->type is a prefix ("invoice."), else exact. */
    sl_err (*events_list)(sl_store_t *s, const sl_event_filter_t *f, int type_prefix,
                          sl_event_cb cb, void *ctx, char *err, size_t errlen);
    sl_err (*event_get)(sl_store_t *s, const char *id, sl_event_row_t *out, char *err,
                        size_t errlen);
    sl_err (*events_count)(sl_store_t *s, long long *n, char *err, size_t errlen);
    sl_err (*cursor_get)(sl_store_t *s, const char *key, long long *value, char *err,
                         size_t errlen); /* SL_ENOTFOUND if none */
    sl_err (*cursor_put)(sl_store_t *s, const char *key, long long value, char *err, size_t errlen);
    /* Inserts a queued run (every field of row set by store.c). */
    sl_err (*run_insert)(sl_store_t *s, const sl_run_row_t *row, char *err, size_t errlen);
    /* Claims up to max runs, oldest first: queued ones, and running ones whose lease ended
     * before now. Each becomes running with owner and lease_until, started_ms kept if set.
     * Rows already taken by a concurrent claim are skipped, never waited for. The rows passed
     * to cb carry started_ms as it was before the claim (-1: a first start, else a resume),
     * and their event's payload. A claim that is lost in a crash only leaves its runs queued,
     * so a backend need not wait for it to reach the disk. */
    sl_err (*runs_claim)(sl_store_t *s, const char *owner, long long now, long long lease_until,
                         size_t max, sl_run_cb cb, void *ctx, char *err, size_t errlen);
    /* Claims one queued run by id for owner (*claimed = 0 when it is not queued: another
     * instance has it, or it is gone). */
    sl_err (*run_claim_id)(sl_store_t *s, const char *id, const char *owner, long long now,
                           long long lease_until, int *claimed, char *err, size_t errlen);
    /* Extends the leases of the runs owner holds; *n says how many. */
    sl_err (*runs_heartbeat)(sl_store_t *s, const char *owner, long long lease_until, long long *n,
                             char *err, size_t errlen);
    /* Ends the leases of running runs held by owners other than keep (SQLite: at start, the
     * one instance on its file). */
    sl_err (*runs_expire_others)(sl_store_t *s, const char *keep, long long *n, char *err,
                                 size_t errlen);
    sl_err (*run_get)(sl_store_t *s, const char *id, sl_run_row_t *out, char *err,
                      size_t errlen); /* SL_ENOTFOUND */
    sl_err (*runs_list)(sl_store_t *s, const sl_run_filter_t *f, sl_run_cb cb, void *ctx, char *err,
                        size_t errlen); /* newest first */
    /* Applies n updates in one transaction. applied[i] = 0 when the run is gone or (with an
     * owner) its lease was lost; such an update changes nothing, and the others still apply. */
    sl_err (*runs_update)(sl_store_t *s, const sl_run_update_t *u, size_t n, int *applied,
                          char *err, size_t errlen);
    sl_err (*steps_get)(sl_store_t *s, const char *run_id, sl_step_cb cb, void *ctx, char *err,
                        size_t errlen); /* in the order they were first recorded */
    /* Claims a schedule's minute: when (flow, minute) was never claimed, records it and inserts
     * run in one transaction (*fired = 1); else *fired = 0 and nothing changes. */
    sl_err (*schedule_fire)(sl_store_t *s, const char *flow, long long minute,
                            const sl_run_row_t *run, int *fired, char *err, size_t errlen);
    /* A named lease among instances: taken (or renewed) by owner until `until` when free,
     * expired or already owner's. *held says whether owner holds it now. */
    sl_err (*lease_take)(sl_store_t *s, const char *name, const char *owner, long long now,
                         long long until, int *held, char *err, size_t errlen);
    sl_err (*flow_enabled_get)(sl_store_t *s, const char *flow, int *enabled, char *err,
                               size_t errlen);
    sl_err (*flow_enabled_put)(sl_store_t *s, const char *flow, int enabled, char *err,
                               size_t errlen);
    /* Contacts, matched by email (case-insensitive): created when missing (*created = 1), else
     * the non-NULL names replace the stored ones. Then the row is passed to cb (may be NULL). */
    sl_err (*contact_upsert)(sl_store_t *s, const char *email, const char *first_name,
                             const char *last_name, long long now, int *created, sl_contact_cb cb,
                             void *ctx, char *err, size_t errlen);
    sl_err (*contacts_list)(sl_store_t *s, sl_contact_cb cb, void *ctx, char *err, size_t errlen);
    /* The schema version the backend is at. */
    int (*schema_version)(sl_store_t *s);
    /* How many runs are queued, and when the oldest was (-1: none). */
    sl_err (*runs_queue_stats)(sl_store_t *s, long long *depth, long long *oldest_ms, char *err,
                               size_t errlen);
    /* Runs a query (store.c's) whose rows are two integers; at most max rows into pairs. */
    sl_err (*int_pairs)(sl_store_t *s, const struct sl_where *q, long long *pairs, size_t max,
                        size_t *got, char *err, size_t errlen);
    /* Checks the database's integrity (SQLite: PRAGMA quick_check); NULL: the server's job. */
    sl_err (*check)(sl_store_t *s, char *err, size_t errlen);
} sl_store_ops_t;

struct sl_store {
    const sl_store_ops_t *ops;
    /* Called after a commit that queued runs: on this instance at once, and (PostgreSQL)
     * when another instance's runs were queued. May be called from any thread. */
    void (*on_runs)(void *ctx);
    void *on_runs_ctx;
    int on_runs_calls; /* calls of on_runs in progress (store.c's) */
};

/* Opens the store a URI names: "sqlite:PATH" (created if missing) or "postgres://..." /
 * "postgresql://..." (libpq's URI; pool of up to `pool` connections, 0: 8). Brings its schema
 * up to date. */
sl_err sl_store_open(const char *uri, sl_store_t **out, char *err, size_t errlen);
sl_err sl_store_open_pool(const char *uri, int pool, sl_store_t **out, char *err, size_t errlen);

/* Closes it; NULL is a no-op. */
void sl_store_close(sl_store_t *s);

/* "sqlite" or "postgres". */
const char *sl_store_kind(const sl_store_t *s);
int sl_store_schema_version(sl_store_t *s);

/* The queue: how many runs wait, and since when the oldest does (-1: none). */
sl_err sl_store_runs_queue_stats(sl_store_t *s, long long *depth, long long *oldest_ms, char *err,
                                 size_t errlen);

/* Events (runs: 0) or runs (1) per bucket of bucket_ms from since_ms, counted among the newest
 * `cap` at most: counts[i] for [since + i * bucket, since + (i + 1) * bucket), i < n; *total is
 * how many were counted (cap: there may be more). */
sl_err sl_store_histogram(sl_store_t *s, int runs, long long since_ms, long long bucket_ms,
                          size_t cap, long long *counts, size_t n, long long *total, char *err,
                          size_t errlen);

/* Checks the store's integrity before it is served (a corrupt SQLite file is refused, with
 * what to do). */
sl_err sl_store_check(sl_store_t *s, char *err, size_t errlen);

/* Sets the callback for queued runs (NULL clears it). When it returns, the previous callback
 * is no longer running and will not be called again, from any thread: its ctx may be freed.
 * Not to be called from the callback itself. */
void sl_store_on_runs(sl_store_t *s, void (*fn)(void *ctx), void *ctx);
/* Calls the callback for queued runs, if one is set: store.c after its commits, a backend's
 * own threads when other instances queued runs. */
void sl__store_runs_queued(sl_store_t *s);

/* --- connections, events, cursors --------------------------------------------------------------
 */
sl_err sl_store_conn_put(sl_store_t *s, const sl_conn_row_t *row, char *err, size_t errlen);
sl_err sl_store_conn_get(sl_store_t *s, const char *name, sl_conn_row_t *out, char *err,
                         size_t errlen);
sl_err sl_store_conn_list(sl_store_t *s, sl_conn_cb cb, void *ctx, char *err, size_t errlen);
sl_err sl_store_conn_delete(sl_store_t *s, const char *name, char *err, size_t errlen);

/* Stores events in one durable transaction (fresh[i] as above). ev[i].flows names the flows a
 * fresh event starts; their runs are queued in the same transaction. */
sl_err sl_store_events_insert(sl_store_t *s, const sl_event_in_t *ev, size_t n, int *fresh,
                              char *err, size_t errlen);
sl_err sl_store_events_list(sl_store_t *s, const sl_event_filter_t *f, sl_event_cb cb, void *ctx,
                            char *err, size_t errlen);
sl_err sl_store_event_get(sl_store_t *s, const char *id, sl_event_row_t *out, char *err,
                          size_t errlen);
sl_err sl_store_events_count(sl_store_t *s, long long *n, char *err, size_t errlen);
sl_err sl_store_cursor_get(sl_store_t *s, const char *key, long long *value, char *err,
                           size_t errlen);
sl_err sl_store_cursor_put(sl_store_t *s, const char *key, long long value, char *err,
                           size_t errlen);

/* --- runs ---------------------------------------------------------------------------------------
 * A run as JSON: id, flow, event_id (or null), connection, input (the manual input or schedule
 * time, or null), status (queued, running, succeeded, failed, filtered), error, failed_step,
 * attempt, created_ms, started_ms, finished_ms, owner, lease_until. */
json_t *sl_store_run_json(const sl_run_row_t *row);

/* A new run id "run_" + 20 hex digits; -1 when there is no randomness. */
int sl_store_run_id(char *out, size_t n);

/* Queues a run {flow, event_id?, connection?, input?}; sets its "id" in run. */
sl_err sl_store_run_create(sl_store_t *s, json_t *run, char *err, size_t errlen);
/* Claims up to max runs for owner until now + lease_ms (see ops->runs_claim); a new array of
 * runs, each with its trigger event as "trigger" (when it has one). */
sl_err sl_store_runs_claim(sl_store_t *s, const char *owner, long long lease_ms, size_t max,
                           json_t **out, char *err, size_t errlen);
/* Claims the queued run id for owner, as runs_claim would (*claimed says whether it did). */
sl_err sl_store_run_claim(sl_store_t *s, const char *id, const char *owner, long long lease_ms,
                          int *claimed, char *err, size_t errlen);
sl_err sl_store_runs_heartbeat(sl_store_t *s, const char *owner, long long lease_ms, long long *n,
                               char *err, size_t errlen);
sl_err sl_store_runs_expire_others(sl_store_t *s, const char *keep, long long *n, char *err,
                                   size_t errlen);
sl_err sl_store_run_get(sl_store_t *s, const char *id, json_t **out, char *err, size_t errlen);
sl_err sl_store_runs_list(sl_store_t *s, const sl_run_filter_t *f, json_t **out, char *err,
                          size_t errlen);
/* Sets status, error and failed_step (NULL: cleared); a terminal status sets finished_ms and
 * ends the lease, "queued" clears finished_ms, ends the lease and counts an attempt. */
sl_err sl_store_run_set_status(sl_store_t *s, const char *id, const char *status, const char *error,
                               const char *failed_step, char *err, size_t errlen);
/* A finished run: its last step records and its terminal status. */
typedef struct sl_run_finish {
    const char *id;
    const char *status;
    const char *error, *failed_step;
    const json_t *steps; /* or NULL */
    int lazy;            /* see sl_run_update_t: only pure steps are among `steps` */
} sl_run_finish_t;
/* Records n finished runs in one commit, each only while owner holds its lease (owner NULL:
 * unconditionally); ok[i] says which were recorded (ok may be NULL). */
sl_err sl_store_runs_finish(sl_store_t *s, const char *owner, const sl_run_finish_t *f, size_t n,
                            int *ok, char *err, size_t errlen);
/* Claimed runs not begun (a stopping instance) back to the queue, no attempt counted. */
sl_err sl_store_runs_release(sl_store_t *s, const char *owner, const sl_run_finish_t *f, size_t n,
                             char *err, size_t errlen);
/* A failed run back to the queue: its failed step records dropped, an attempt counted, in one
 * commit. SL_EINVAL (err says) when the run is not failed, SL_ENOTFOUND when there is none. */
sl_err sl_store_run_requeue_failed(sl_store_t *s, const char *id, char *err, size_t errlen);

/* Step records, in one transaction. A record: path (unique in its run:
 * "each[2].get-customer"), kind, status (succeeded, failed), input, output, error, started_ms,
 * duration_ms, attempts. Replaces an earlier record of the same path. */
sl_err sl_store_steps_put(sl_store_t *s, const char *run_id, const json_t *steps, char *err,
                          size_t errlen);
sl_err sl_store_steps_get(sl_store_t *s, const char *run_id, json_t **out, char *err,
                          size_t errlen);

/* Queues a schedule's run for the minute unless an instance already did (*fired says). */
sl_err sl_store_schedule_fire(sl_store_t *s, const char *flow, long long minute, json_t *run,
                              int *fired, char *err, size_t errlen);
/* Takes or renews a named lease for ms milliseconds (see ops->lease_take). */
sl_err sl_store_lease_take(sl_store_t *s, const char *name, const char *owner, long long ms,
                           int *held, char *err, size_t errlen);

/* --- flow settings, contacts -------------------------------------------------------------------
 */
/* A flow's enabled setting: *enabled = -1 when never set. */
sl_err sl_store_flow_enabled_get(sl_store_t *s, const char *flow, int *enabled, char *err,
                                 size_t errlen);
sl_err sl_store_flow_enabled_put(sl_store_t *s, const char *flow, int enabled, char *err,
                                 size_t errlen);
/* Contact by email (case-insensitive): created when missing, else the given names replace the
 * stored ones. *created says which. out (may be NULL) gets the row
 * {email, first_name, last_name, created_ms, updated_ms}. */
sl_err sl_store_contact_upsert(sl_store_t *s, const char *email, const char *first_name,
                               const char *last_name, int *created, json_t **out, char *err,
                               size_t errlen);
sl_err sl_store_contacts_list(sl_store_t *s, json_t **out, char *err, size_t errlen);

/* --- for the backends: a list's WHERE clause with only the filters given -----------------------
 * An index serves a filter only when the query names it plainly (`event_id = ?`), not as
 * `(? IS NULL OR event_id = ?)`; so each list's SQL is put together from the filters present. */
#define SL_WHERE_MAX 16
typedef struct sl_where {
    char sql[2048];
    size_t len;
    int pg;                         /* placeholders $N::bigint and $N::text; else ?N */
    int n;                          /* parameters so far */
    const char *text[SL_WHERE_MAX]; /* each parameter's text, or NULL for a number in num */
    long long num[SL_WHERE_MAX];
    char num_text[SL_WHERE_MAX][24];  /* the numbers as text, for libpq */
    const char *values[SL_WHERE_MAX]; /* libpq's values: text[i] or num_text[i] */
    int overflow;                     /* too long or too many: the caller refuses the query */
    char family[128];                 /* a text parameter the where clause itself made */
} sl_where_t;

void sl__where_init(sl_where_t *w, int pg);
/* Appends `sql` (no placeholders) as it is. */
void sl__where_raw(sl_where_t *w, const char *sql);
/* Appends " AND " + cond, each `#` in cond standing for the next parameter (so cond holds no other
 * `#`) of args: 's' a text (const char *), 'n' a number (long long), in order. */
void sl__where_and(sl_where_t *w, const char *cond, const char *args, ...);
/* An event's data.object.id (at most outlen-1 bytes, no escapes) into out; 0 when it has one. */
int sl__event_object_id(const char *payload, size_t len, char *out, size_t outlen);

/* A type prefix's family, what comes before its first '.' ("invoice." and "invoice.pa":
 * "invoice"), which an index (schema 4) finds newest first however rare; 0 when the prefix has
 * no '.'. */
int sl__type_family(const char *prefix, char *out, size_t n);

/* How a backend writes what events_list's filters need. */
typedef struct sl_events_sql {
    const char *family;    /* the type's family (see sl__type_family), as indexed */
    const char *prefix;    /* the type starts with a prefix: "... # ... #" (its length, itself) */
    const char *object_id; /* the payload's data.object.id, as indexed */
    const char *id;        /* the id, compared byte by byte */
} sl_events_sql_t;

/* events_list's filters (type_prefix: f->type is a prefix). */
void sl__events_where(sl_where_t *w, const sl_event_filter_t *f, int type_prefix,
                      const sl_events_sql_t *x);

/* Appends sql, each `#` standing for the next parameter of args (as sl__where_and). */
void sl__where_sql(sl_where_t *w, const char *sql, const char *args, ...);

/* runs_list's filters. order_col is the column that orders runs queued in the same millisecond
 * (SQLite's rowid, PostgreSQL's seq): runs are listed newest first by created_ms, then by it,
 * so the order they were queued in holds; a page's `before` run is found by its id. */
void sl__runs_where(sl_where_t *w, const sl_run_filter_t *f, const char *order_col);

/* The backends. */
sl_err sl__sqlite_open(const char *path, sl_store_t **out, char *err, size_t errlen);
sl_err sl__postgres_open(const char *uri, int pool, sl_store_t **out, char *err, size_t errlen);

#endif
