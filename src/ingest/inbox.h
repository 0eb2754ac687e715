/* The inbox: concurrent events batched into group commits (internal).
 *
 * Request threads submit an event and wait; one committer thread stores everything waiting in a
 * single durable transaction, then wakes each submitter with its own outcome. While one batch
 * commits, the next gathers, so the commit rate follows the load with no timer. */
#ifndef SLUICE_INGEST_INBOX_H
#define SLUICE_INGEST_INBOX_H

#include <stddef.h>

#include "store/store.h"

typedef struct sl_inbox sl_inbox_t;

/* Statistics for /metrics: what was offered and how it ended, batch sizes and commit latency
 * (as histogram buckets). Counted before each item's done call. */
#define SL_INBOX_BATCH_BUCKETS 8   /* <=1, 2, 4, 16, 64, 256, 1024, +Inf */
#define SL_INBOX_LATENCY_BUCKETS 8 /* <=1, 2, 5, 10, 25, 50, 100 ms, +Inf */
typedef struct sl_inbox_stats {
    unsigned long long received;     /* events offered (submitted) */
    unsigned long long accepted;     /* stored for the first time */
    unsigned long long duplicates;   /* already in the inbox */
    unsigned long long store_errors; /* the store failed to keep them, or the inbox was stopping */
    unsigned long long batches;
    unsigned long long events;
    unsigned long long batch_le[SL_INBOX_BATCH_BUCKETS];
    unsigned long long latency_le[SL_INBOX_LATENCY_BUCKETS];
    double latency_sum_s;
} sl_inbox_stats_t;

extern const double sl__inbox_batch_bounds[SL_INBOX_BATCH_BUCKETS - 1];
extern const double sl__inbox_latency_bounds_ms[SL_INBOX_LATENCY_BUCKETS - 1];

/* Starts the committer over `store` (borrowed; it must outlive the inbox). */
sl_err sl__inbox_start(sl_store_t *store, size_t max_batch, sl_inbox_t **out);

/* Which flows an event starts: up to max names copied into names, returning how many. Called on the
 * committer thread before the transaction that stores the event and queues those runs. */
#define SL_INBOX_MAX_FLOWS 64
#define SL_INBOX_NAME_MAX 128 /* a flow's name, with its NUL */
typedef size_t (*sl_inbox_router_fn)(void *ctx, const char *type, const char *connection,
                                     char (*names)[SL_INBOX_NAME_MAX], size_t max);

/* Sets (or with NULL clears) the router; until set, events start no runs. */
void sl__inbox_set_router(sl_inbox_t *in, sl_inbox_router_fn router, void *ctx);

/* Called on the committer thread after each batch is durable, with the batch's events (borrowed
 * for the call) and which of them were fresh; it must not block. Set (or with NULL cleared)
 * before events arrive and kept until the inbox stops (sluice serve --sync). */
typedef void (*sl_inbox_committed_fn)(void *ctx, const sl_event_in_t *ev, size_t n,
                                      const int *fresh);
void sl__inbox_set_committed(sl_inbox_t *in, sl_inbox_committed_fn fn, void *ctx);

/* An event waiting for its commit. The submitter owns it until `done` is called. */
typedef struct sl_inbox_item sl_inbox_item_t;
struct sl_inbox_item {
    const sl_event_in_t *ev; /* borrowed until done is called */
    /* Called once, on the committer thread, outside the inbox's lock, when the item's batch is
     * durable (rc SL_OK, fresh 1 or 0) or failed (rc and err). */
    void (*done)(sl_inbox_item_t *item);
    void *ctx;
    sl_err rc;
    int fresh;
    char err[256];
    sl_inbox_item_t *next; /* the inbox's */
};

/* Queues an item for the next group commit and returns at once. SL_EINVAL once the inbox is
 * stopping (done is then never called). */
sl_err sl__inbox_submit_async(sl_inbox_t *in, sl_inbox_item_t *item);

/* Stores `ev` (borrowed until this returns) and waits until its batch is durable. Sets *fresh
 * to 1 if stored, 0 if its id was already there. SL_EIO (err says why) when the store failed:
 * nothing of that batch was kept. SL_EINVAL once the inbox is stopping. */
sl_err sl__inbox_submit(sl_inbox_t *in, const sl_event_in_t *ev, int *fresh, char *err,
                        size_t errlen);

void sl__inbox_stats(sl_inbox_t *in, sl_inbox_stats_t *out);

/* The store's health as the committer last saw it. After a failed commit the committer, when
 * idle, tries a write of its own every second (the cursor SL_INBOX_PROBE_KEY), so the health
 * recovers without waiting for an event. */
#define SL_INBOX_PROBE_KEY "sluice:inbox-probe" /* no connection can be named so */
typedef struct sl_inbox_health {
    int failing;                 /* the latest commit or probe failed */
    long long since_ms;          /* when the failures in a row began (wall clock) */
    unsigned long long failures; /* failed commits and probes in a row */
    char error[256];             /* the latest failure's reason */
} sl_inbox_health_t;

void sl__inbox_health(sl_inbox_t *in, sl_inbox_health_t *out);

/* Commits what is waiting and stops the committer (every waiting item gets its done call);
 * later submissions are refused. Stats stay readable. Idempotent. */
void sl__inbox_drain(sl_inbox_t *in);

/* Commits what is waiting, stops the committer and frees the inbox. Submitters still waiting
 * get their outcome first. NULL is a no-op. */
void sl__inbox_stop(sl_inbox_t *in);

#endif
