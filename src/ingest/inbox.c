#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/clock.h"
#include "ingest/inbox.h"

const double sl__inbox_batch_bounds[SL_INBOX_BATCH_BUCKETS - 1] = {1, 2, 4, 16, 64, 256, 1024};
const double sl__inbox_latency_bounds_ms[SL_INBOX_LATENCY_BUCKETS - 1] = {1, 2, 5, 10, 25, 50, 100};

struct sl_inbox {
    sl_store_t *store;
    size_t max_batch;
    sl_inbox_router_fn router; /* read under lock */
    void *router_ctx;
    sl_inbox_committed_fn committed; /* read under lock */
    void *committed_ctx;
    int routing;           /* the committer is calling the router it read */
    pthread_cond_t routed; /* routing went back to 0 */
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t work;
    sl_inbox_item_t *head, *tail;
    int stopping;
    int joined;
    sl_inbox_stats_t stats;
    sl_inbox_health_t health;
};

static void record_stats(sl_inbox_t *in, size_t n, double ms)
{
    sl_inbox_stats_t *s = &in->stats;
    s->batches++;
    s->events += n;
    size_t b = 0;
    while (b < SL_INBOX_BATCH_BUCKETS - 1 && (double)n > sl__inbox_batch_bounds[b])
        b++;
    s->batch_le[b]++;
    size_t l = 0;
    while (l < SL_INBOX_LATENCY_BUCKETS - 1 && ms > sl__inbox_latency_bounds_ms[l])
        l++;
    s->latency_le[l]++;
    s->latency_sum_s += ms / 1e3;
}

/* Under the lock: the outcome of a commit or probe. */
static void note_outcome(sl_inbox_t *in, sl_err rc, const char *err)
{
    sl_inbox_health_t *h = &in->health;
    if (!rc) {
        h->failing = 0;
        h->failures = 0;
        h->error[0] = '\0';
        return;
    }
    if (!h->failing)
        h->since_ms = sl__now_ms();
    h->failing = 1;
    h->failures++;
    snprintf(h->error, sizeof h->error, "%s", *err ? err : "the commit failed");
}

/* While the store fails and no event waits, a write of the committer's own each second, so
 * that the health recovers with no event to commit. Called and returns with the lock held. */
static void probe_when_idle(sl_inbox_t *in)
{
    struct timespec at = sl__deadline_ms(1000);
    if (pthread_cond_timedwait(&in->work, &in->lock, &at) != ETIMEDOUT || in->head || in->stopping)
        return;
    pthread_mutex_unlock(&in->lock);
    char err[256] = "";
    sl_err rc = sl_store_cursor_put(in->store, SL_INBOX_PROBE_KEY, sl__now_ms(), err, sizeof err);
    pthread_mutex_lock(&in->lock);
    note_outcome(in, rc, err);
}

static void *committer(void *arg)
{
    sl_inbox_t *in = arg;
    pthread_setname_np(pthread_self(), "sl-inbox");
    sl_event_in_t *evs = calloc(in->max_batch, sizeof *evs);
    int *fresh = calloc(in->max_batch, sizeof *fresh);
    sl_inbox_item_t **batch = calloc(in->max_batch, sizeof *batch);
    char(*names)[SL_INBOX_NAME_MAX] = calloc(in->max_batch * SL_INBOX_MAX_FLOWS, sizeof *names);
    const char **ptrs = calloc(in->max_batch * SL_INBOX_MAX_FLOWS, sizeof *ptrs);
    pthread_mutex_lock(&in->lock);
    for (;;) {
        while (!in->head && !in->stopping) {
            if (in->health.failing)
                probe_when_idle(in);
            else
                pthread_cond_wait(&in->work, &in->lock);
        }
        if (!in->head)
            break;
        size_t n = 0;
        while (in->head && n < in->max_batch) {
            batch[n] = in->head;
            in->head = in->head->next;
            n++;
        }
        if (!in->head)
            in->tail = NULL;
        sl_inbox_router_fn router = in->router;
        void *router_ctx = in->router_ctx;
        sl_inbox_committed_fn committed = in->committed;
        void *committed_ctx = in->committed_ctx;
        in->routing = router != NULL; /* set_router waits for the router's calls to end */
        pthread_mutex_unlock(&in->lock);

        char err[256] = "";
        sl_err rc = SL_ENOMEM;
        double t0 = sl__mono_ms();
        if (evs && fresh && batch && names && ptrs) {
            for (size_t i = 0; i < n; i++) {
                evs[i] = *batch[i]->ev;
                /* The flows it starts, decided before the store's transaction, kept with it. */
                if (router) {
                    char(*mine)[SL_INBOX_NAME_MAX] = names + i * SL_INBOX_MAX_FLOWS;
                    const char **p = ptrs + i * SL_INBOX_MAX_FLOWS;
                    evs[i].nflows = router(router_ctx, evs[i].type, evs[i].connection, mine,
                                           SL_INBOX_MAX_FLOWS);
                    for (size_t k = 0; k < evs[i].nflows; k++)
                        p[k] = mine[k];
                    evs[i].flows = p;
                }
            }
        }
        if (router) {
            pthread_mutex_lock(&in->lock);
            in->routing = 0;
            pthread_cond_broadcast(&in->routed);
            pthread_mutex_unlock(&in->lock);
        }
        if (evs && fresh && batch && names && ptrs)
            rc = sl_store_events_insert(in->store, evs, n, fresh, err, sizeof err);
        double ms = sl__mono_ms() - t0;

        pthread_mutex_lock(&in->lock);
        note_outcome(in, rc, err);
        if (!rc) {
            record_stats(in, n, ms);
            for (size_t i = 0; i < n; i++) {
                if (fresh[i])
                    in->stats.accepted++;
                else
                    in->stats.duplicates++;
            }
        } else {
            in->stats.store_errors += n;
        }
        pthread_mutex_unlock(&in->lock);
        if (!rc && committed)
            committed(committed_ctx, evs, n, fresh);
        for (size_t i = 0; i < n; i++) {
            sl_inbox_item_t *it = batch[i];
            it->rc = rc;
            it->fresh = rc ? 0 : fresh[i];
            snprintf(it->err, sizeof it->err, "%s", err);
            it->done(it); /* may free or reuse the item: touch it no more */
        }
        pthread_mutex_lock(&in->lock);
    }
    pthread_mutex_unlock(&in->lock);
    free(evs);
    free(fresh);
    free(batch);
    free(names);
    free(ptrs);
    return NULL;
}

sl_err sl__inbox_start(sl_store_t *store, size_t max_batch, sl_inbox_t **out)
{
    *out = NULL;
    sl_inbox_t *in = calloc(1, sizeof *in);
    if (!in)
        return SL_ENOMEM;
    in->store = store;
    in->max_batch = max_batch ? max_batch : 1024;
    pthread_mutex_init(&in->lock, NULL);
    pthread_cond_init(&in->work, NULL);
    pthread_cond_init(&in->routed, NULL);
    if (pthread_create(&in->thread, NULL, committer, in)) {
        pthread_mutex_destroy(&in->lock);
        pthread_cond_destroy(&in->work);
        pthread_cond_destroy(&in->routed);
        free(in);
        return SL_EINTERNAL;
    }
    *out = in;
    return SL_OK;
}

void sl__inbox_set_committed(sl_inbox_t *in, sl_inbox_committed_fn fn, void *ctx)
{
    pthread_mutex_lock(&in->lock);
    in->committed = fn;
    in->committed_ctx = ctx;
    pthread_mutex_unlock(&in->lock);
}

void sl__inbox_set_router(sl_inbox_t *in, sl_inbox_router_fn router, void *ctx)
{
    pthread_mutex_lock(&in->lock);
    while (in->routing) /* the old router's ctx may go away once this returns */
        pthread_cond_wait(&in->routed, &in->lock);
    in->router = router;
    in->router_ctx = ctx;
    pthread_mutex_unlock(&in->lock);
}

sl_err sl__inbox_submit_async(sl_inbox_t *in, sl_inbox_item_t *item)
{
    item->next = NULL;
    pthread_mutex_lock(&in->lock);
    in->stats.received++;
    if (in->stopping) {
        in->stats.store_errors++;
        pthread_mutex_unlock(&in->lock);
        return SL_EINVAL;
    }
    if (in->tail)
        in->tail->next = item;
    else
        in->head = item;
    in->tail = item;
    pthread_cond_signal(&in->work);
    pthread_mutex_unlock(&in->lock);
    return SL_OK;
}

/* The waiting form: a condition variable of the submitter's own, signalled from done. */
typedef struct waiter {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int finished;
} waiter_t;

static void wake_waiter(sl_inbox_item_t *item)
{
    waiter_t *w = item->ctx;
    pthread_mutex_lock(&w->lock);
    w->finished = 1;
    pthread_cond_signal(&w->cond);
    pthread_mutex_unlock(&w->lock);
}

sl_err sl__inbox_submit(sl_inbox_t *in, const sl_event_in_t *ev, int *fresh, char *err,
                        size_t errlen)
{
    waiter_t w = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0};
    sl_inbox_item_t item = {.ev = ev, .done = wake_waiter, .ctx = &w};
    if (sl__inbox_submit_async(in, &item)) {
        snprintf(err, errlen, "shutting down");
        return SL_EINVAL;
    }
    pthread_mutex_lock(&w.lock);
    while (!w.finished)
        pthread_cond_wait(&w.cond, &w.lock);
    pthread_mutex_unlock(&w.lock);
    pthread_mutex_destroy(&w.lock);
    pthread_cond_destroy(&w.cond);
    *fresh = item.fresh;
    if (item.rc)
        snprintf(err, errlen, "%s", item.err);
    return item.rc;
}

void sl__inbox_stats(sl_inbox_t *in, sl_inbox_stats_t *out)
{
    pthread_mutex_lock(&in->lock);
    *out = in->stats;
    pthread_mutex_unlock(&in->lock);
}

void sl__inbox_health(sl_inbox_t *in, sl_inbox_health_t *out)
{
    pthread_mutex_lock(&in->lock);
    *out = in->health;
    pthread_mutex_unlock(&in->lock);
}

void sl__inbox_drain(sl_inbox_t *in)
{
    pthread_mutex_lock(&in->lock);
    int joined = in->joined;
    in->stopping = 1;
    in->joined = 1;
    pthread_cond_signal(&in->work);
    pthread_mutex_unlock(&in->lock);
    if (!joined)
        pthread_join(in->thread, NULL);
}

void sl__inbox_stop(sl_inbox_t *in)
{
    if (!in)
        return;
    sl__inbox_drain(in);
    pthread_mutex_destroy(&in->lock);
    pthread_cond_destroy(&in->work);
    pthread_cond_destroy(&in->routed);
    free(in);
}
