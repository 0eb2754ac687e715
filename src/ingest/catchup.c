#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/log.h"
#include "core/rand.h"
#include "ingest/catchup.h"
#include "ingest/event.h"

/* How far the cursor trails the newest event seen. */
#define CURSOR_LAG_S 300

/* Stripe keeps events for 30 days. */
#define EVENT_WINDOW_S (30L * 86400)

struct sl_catchup {
    sl_store_t *store;
    const sl_crypt_t *crypt;
    sl_inbox_t *inbox;
    long interval;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    int stopping;
    char owner[64]; /* this instance, on the "catch-up" lease */
};

typedef struct pass_ctx {
    sl_store_t *store;
    const sl_crypt_t *crypt;
    sl_inbox_t *inbox;
} pass_ctx_t;

static void catch_up_one(const pass_ctx_t *p, const sl_conn_row_t *row)
{
    char err[512];
    long long now = (long long)time(NULL), cursor = 0;
    sl_err rc = sl_store_cursor_get(p->store, row->name, &cursor, err, sizeof err);
    if (rc == SL_ENOTFOUND) {
        sl_store_cursor_put(p->store, row->name, now, err, sizeof err);
        sl__log("info", "catch-up starts from now", json_pack("{s:s}", "connection", row->name));
        return;
    }
    if (rc)
        return;
    if (now - cursor > EVENT_WINDOW_S) {
        sl__log("warn",
                "events older than Stripe's 30-day window cannot be recovered; catching up from "
                "30 days ago",
                json_pack("{s:s,s:I}", "connection", row->name, "cursor", (json_int_t)cursor));
        cursor = now - EVENT_WINDOW_S;
    }
    sl_client_t *client = NULL;
    if (sl__conn_client(row, p->crypt, NULL, &client, err, sizeof err)) {
        sl__log("error", "catch-up cannot use the connection",
                json_pack("{s:s,s:s}", "connection", row->name, "error", err));
        return;
    }
    json_t *params = json_pack("{s:i,s:{s:I}}", "limit", 100, "created", "gte", (json_int_t)cursor);
    sl_request_t req = {.method = "GET", .path = "/v1/events", .params = params};
    sl_pager_t *pager = NULL;
    long long newest = cursor;
    size_t seen = 0, stored = 0;
    json_t *ev;
    int ingest_failed = 0;
    rc = sl_pager_new(client, &req, 0, &pager);
    while (!rc && !(rc = sl_pager_next(pager, &ev)) && ev) {
        char *payload = json_dumps(ev, JSON_COMPACT);
        int fresh = 0;
        if (!payload || sl__event_ingest(p->inbox, row->name, "catch-up", payload, strlen(payload),
                                         &fresh, err, sizeof err) != SL_OK) {
            /* Stop here and keep the cursor: the next pass lists these events again. */
            sl__log("warn", "catch-up could not store an event; retrying next pass",
                    json_pack("{s:s,s:s?,s:s}", "connection", row->name, "event",
                              json_string_value(json_object_get(ev, "id")), "error",
                              payload ? err : "out of memory"));
            free(payload);
            ingest_failed = 1;
            break;
        }
        seen++;
        stored += (size_t)fresh;
        long long created = json_integer_value(json_object_get(ev, "created"));
        if (created > newest)
            newest = created;
        free(payload);
    }
    if (ingest_failed) {
        /* the cursor stays where it was */
    } else if (rc) {
        const sl_response_t *r = sl_pager_response(pager);
        sl__log("warn", "catch-up could not list events",
                json_pack("{s:s,s:s}", "connection", row->name, "error",
                          r ? r->error.message : sl_strerror(rc)));
    } else {
        /* Trail the newest event by a few minutes: events that show up in the list late are
         * still asked for, and the inbox's dedupe absorbs the repeats. */
        long long next = newest - CURSOR_LAG_S > cursor ? newest - CURSOR_LAG_S : cursor;
        sl_store_cursor_put(p->store, row->name, next, err, sizeof err);
        if (stored)
            sl__log("info", "catch-up recovered missed events",
                    json_pack("{s:s,s:I,s:I}", "connection", row->name, "recovered",
                              (json_int_t)stored, "listed", (json_int_t)seen));
    }
    sl_pager_free(pager);
    json_decref(params);
    sl_client_free(client);
}

/* Rows are collected first: the store's lock is held while listing. */
typedef struct rows {
    sl_conn_row_t *v;
    size_t n;
} rows_t;

static int collect(const sl_conn_row_t *row, void *ctx)
{
    rows_t *r = ctx;
    sl_conn_row_t *grown = realloc(r->v, (r->n + 1) * sizeof *grown);
    if (!grown)
        return 1;
    r->v = grown;
    r->v[r->n] = *row;
    r->v[r->n].key_sealed = row->key_sealed ? strdup(row->key_sealed) : NULL;
    r->v[r->n].secret_sealed = NULL;
    r->v[r->n].old_secret_sealed = NULL;
    r->v[r->n].endpoint_events = NULL;
    r->n++;
    return 0;
}

void sl__catchup_pass(sl_store_t *store, const sl_crypt_t *crypt, sl_inbox_t *inbox)
{
    rows_t rows = {NULL, 0};
    char err[256];
    sl_store_conn_list(store, collect, &rows, err, sizeof err);
    pass_ctx_t p = {store, crypt, inbox};
    for (size_t i = 0; i < rows.n; i++) {
        catch_up_one(&p, &rows.v[i]);
        sl_conn_row_cleanup(&rows.v[i]);
    }
    free(rows.v);
}

static void *catchup_thread(void *arg)
{
    sl_catchup_t *c = arg;
    pthread_mutex_lock(&c->lock);
    while (!c->stopping) {
        pthread_mutex_unlock(&c->lock);
        /* Several instances on one store: one of them polls at a time. It keeps the lease by
         * renewing it each pass; if it dies, another takes over after two intervals. */
        int held = 0;
        char err[256];
        if (sl_store_lease_take(c->store, "catch-up", c->owner, c->interval * 2000 + 5000, &held,
                                err, sizeof err))
            sl__log("error", "catch-up could not take its lease", json_pack("{s:s}", "error", err));
        else if (held)
            sl__catchup_pass(c->store, c->crypt, c->inbox);
        pthread_mutex_lock(&c->lock);
        struct timespec until = sl__deadline_ms(c->interval * 1000);
        while (!c->stopping && pthread_cond_timedwait(&c->wake, &c->lock, &until) != ETIMEDOUT)
            ;
    }
    pthread_mutex_unlock(&c->lock);
    return NULL;
}

sl_err sl__catchup_start(sl_store_t *store, const sl_crypt_t *crypt, sl_inbox_t *inbox,
                         long interval, sl_catchup_t **out)
{
    sl_catchup_t *c = calloc(1, sizeof *c);
    if (!c)
        return SL_ENOMEM;
    *c = (sl_catchup_t){.store = store, .crypt = crypt, .inbox = inbox, .interval = interval};
    char tag[9] = "";
    sl__rand_hex(tag, 4);
    snprintf(c->owner, sizeof c->owner, "catch-up:%ld:%s", (long)getpid(), tag);
    pthread_mutex_init(&c->lock, NULL);
    pthread_cond_init(&c->wake, NULL);
    if (pthread_create(&c->thread, NULL, catchup_thread, c)) {
        free(c);
        return SL_EINTERNAL;
    }
    *out = c;
    return SL_OK;
}

void sl__catchup_stop(sl_catchup_t *c)
{
    if (!c)
        return;
    pthread_mutex_lock(&c->lock);
    c->stopping = 1;
    pthread_cond_signal(&c->wake);
    pthread_mutex_unlock(&c->lock);
    pthread_join(c->thread, NULL);
    pthread_mutex_destroy(&c->lock);
    pthread_cond_destroy(&c->wake);
    free(c);
}
