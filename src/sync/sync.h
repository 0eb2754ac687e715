/* Sync: Stripe's objects as tables in the team's own database (SQLite or PostgreSQL), kept
 * current by the events sluice stores and filled by listing the API (internal).
 *
 * Every table (tables.h, generated from the spec) has the columns id, account, data (the whole
 * object as JSON; jsonb on PostgreSQL), deleted, version (the second of Stripe's time the row
 * reflects: an event's `created`, or when a listed copy was read, less SL_SYNC_CLOCK_MARGIN_S),
 * event_id (the last event applied),
 * synced_at (milliseconds) and a typed column for each top-level scalar field of the object.
 *
 * A row is only replaced by a newer version. On a tie (two writes of the same second) the API
 * is asked when a fetcher is given, so the row is the truth; without one (a rebuild) a settled
 * state (paid, canceled, deleted, ...) is never replaced by an unsettled one of the same second,
 * and otherwise the later write wins. All functions may be called from any thread; writes are
 * serialised on one database connection. */
#ifndef SLUICE_SYNC_H
#define SLUICE_SYNC_H

#include <stddef.h>

#include <jansson.h>

#include "sluice/error.h"
#include "sluice/stripe.h"
#include "sync/tables.h"

typedef struct sl_sync sl_sync_t;

/* Opens (and creates the tables of) the sync database `where` names: "postgres://..." or
 * "postgresql://..." (its tables in `schema`, NULL: "stripe"), else a SQLite file path
 * ("sqlite:PATH" also accepted). err never shows a password. */
sl_err sl_sync_open(const char *where, const char *schema, sl_sync_t **out, char *err,
                    size_t errlen);
/* Closes it; NULL is a no-op. */
void sl_sync_close(sl_sync_t *s);
/* "sqlite" or "postgres". */
const char *sl_sync_kind(const sl_sync_t *s);

/* The table with that name, or the top-level table of objects of that `object`; NULL if none. */
const sl_sync_table_t *sl_sync_table(const char *name);
const sl_sync_table_t *sl_sync_table_for_object(const char *object);

/* How an object is fetched when a write is in doubt: GET path on the API of `connection`; the
 * object into *out (caller's reference). NULL fetcher: never fetch. */
typedef struct sl_sync_fetcher {
    sl_client_t *(*get)(void *ctx, const char *connection); /* a held client, or NULL */
    void (*release)(void *ctx, sl_client_t *client);
    void *ctx;
} sl_sync_fetcher_t;

/* What applying one event did. */
typedef enum {
    SL_SYNC_APPLIED = 0, /* the row now reflects the event */
    SL_SYNC_FETCHED,     /* it was a tie or in doubt: the row was read from the API */
    SL_SYNC_STALE,       /* the row already reflects a newer version: nothing changed */
    SL_SYNC_IGNORED,     /* no table holds this event's object (acknowledged, not kept) */
} sl_sync_outcome;

/* Applies one stored event (its JSON payload) of `connection` (whose rows carry `account`):
 * its object is written to its table (deleted when the type ends in ".deleted"), with the
 * truncated lists it embeds (invoice lines, subscription items, checkout line items) paged
 * through when a fetcher is given; the event itself goes into the events table. */
sl_err sl_sync_apply_event(sl_sync_t *s, const char *connection, const char *account,
                           const char *payload, size_t len, const sl_sync_fetcher_t *fetch,
                           sl_sync_outcome *outcome, char *err, size_t errlen);

/* Writes objects read from the API at `version` (a second no later than the read began) into
 * table t in one transaction, never over a row of the same or a newer version. With a client,
 * the truncated lists they embed are paged through. *written counts the rows written. */
sl_err sl_sync_put_listed(sl_sync_t *s, const sl_sync_table_t *t, const char *account,
                          json_t *objects, long long version, sl_client_t *client, size_t *written,
                          char *err, size_t errlen);

/* Empties every table (and the backfill state) before a rebuild. */
sl_err sl_sync_truncate(sl_sync_t *s, char *err, size_t errlen);

/* Runs sql (one statement, parameters $1..$n as text, NULL for NULL) and passes each result
 * row's columns as text (NULL for NULL) to cb, if given; cb returns non-zero to stop. Table names
 * in sql are written as {name}: they become the schema-qualified name. */
typedef int (*sl_sync_row_cb)(void *ctx, int ncols, const char *const *cols);
sl_err sl_sync_sql(sl_sync_t *s, const char *sql, int n, const char *const *v, sl_sync_row_cb cb,
                   void *ctx, char *err, size_t errlen);
/* Runs fn inside one transaction on the sync database (committed when fn returns SL_OK). */
sl_err sl_sync_tx(sl_sync_t *s, sl_err (*fn)(sl_sync_t *s, void *ctx, char *err, size_t errlen),
                  void *ctx, char *err, size_t errlen);

/* Named marks kept in the sync database: SL_ENOTFOUND when never set. */
#define SL_SYNC_MARK_INBOX "inbox_received_ms" /* the newest stored event applied (received) */
sl_err sl_sync_mark_get(sl_sync_t *s, const char *key, long long *value, char *err, size_t errlen);
sl_err sl_sync_mark_put(sl_sync_t *s, const char *key, long long value, char *err, size_t errlen);

/* --- live: events applied as they are committed ------------------------------------------- */
typedef struct sl_sync_live sl_sync_live_t;
/* Starts a thread that applies submitted events in order; accounts are the connections'
 * account ids (looked up with lookup_account, else the connection's name). */
sl_err sl_sync_live_start(sl_sync_t *s, const sl_sync_fetcher_t *fetch,
                          int (*lookup_account)(void *ctx, const char *connection, char *out,
                                                size_t outlen),
                          void *lookup_ctx, sl_sync_live_t **out);
/* Queues a copy of an event for the thread; never blocks on the database. received_ms: when
 * the inbox received it (the thread moves SL_SYNC_MARK_INBOX on as it applies events). */
void sl_sync_live_submit(sl_sync_live_t *l, const char *connection, const char *payload, size_t len,
                         long long received_ms);
/* Applies what is queued, stops the thread and frees it. NULL is a no-op. */
void sl_sync_live_stop(sl_sync_live_t *l);
/* Counts: events applied (written or fetched), stale, ignored, failed. */
void sl_sync_live_counts(sl_sync_live_t *l, unsigned long long c[4]);

/* --- backfill ----------------------------------------------------------------------------- */
/* How far this machine's clock may run ahead of Stripe's before a listed copy could pass for
 * newer than an event it predates. */
#define SL_SYNC_CLOCK_MARGIN_S 300

typedef struct sl_sync_progress {
    const char *table;
    long long rows;    /* written so far in this backfill (resumed runs included) */
    long long pages;   /* list requests this process made */
    double rate;       /* rows per second in this process */
    double range_done; /* share of the created range listed, 0..1 */
    double percent;    /* rows / estimated total, 0..100 */
    double eta_s;      /* -1: unknown */
    int done, failed;
    const char *error; /* when failed */
} sl_sync_progress_t;

typedef struct sl_sync_backfill {
    sl_client_t *client; /* the connection's (its rate limit bounds the listing) */
    const char *account;
    const sl_sync_table_t *const *tables;
    size_t ntables;
    long long since; /* created >= since (seconds); 0: everything */
    int parallel;    /* pages fetched at once; 0: 4 */
    /* Called about every interval_ms and once at the end with every table's progress. */
    void (*progress)(void *ctx, const sl_sync_progress_t *p, size_t n, int final);
    void *progress_ctx;
    long interval_ms;
} sl_sync_backfill_t;

/* Lists every object of the tables through their list endpoints, newest first, the created
 * range split among `parallel` workers as they free up; each page is written with its range's
 * state in one transaction, so a run that was killed continues from its saved ranges and
 * cursors. SL_OK when every table finished; else err names the first failure. */
sl_err sl_sync_backfill(sl_sync_t *s, const sl_sync_backfill_t *b, char *err, size_t errlen);

#endif
