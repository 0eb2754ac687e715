/* Backfill: every object of some tables listed through the API, the created range split among
 * workers as they free up, each page written with its range's state in one transaction. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/clock.h"
#include "sync/internal.h"

typedef struct {
    size_t t;              /* index into b->tables */
    long long lo, hi, top; /* still to list: created in [lo, hi], after cursor */
    char cursor[128];
    long long rows;
    int busy, done;
} range_t;

typedef struct {
    long long rows, rows_at_start, pages;
    int failed, finished;
    char error[1400];
} tstat_t;

typedef struct {
    sl_sync_t *s;
    const sl_sync_backfill_t *b;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    range_t *r;
    size_t n, cap;
    int idle, busy;
    tstat_t *st;
} bf_t;

static sl_err add_range(bf_t *bf, range_t r)
{
    if (bf->n == bf->cap) {
        size_t cap = bf->cap ? bf->cap * 2 : 16;
        range_t *nr = realloc(bf->r, cap * sizeof *nr);
        if (!nr)
            return SL_ENOMEM;
        bf->r = nr;
        bf->cap = cap;
    }
    bf->r[bf->n++] = r;
    return SL_OK;
}

typedef struct {
    bf_t *bf;
    size_t t;
    sl_err rc;
} load_t;

static int load_row(void *ctx, int n, const char *const *c)
{
    load_t *l = ctx;
    (void)n;
    range_t r = {.t = l->t,
                 .lo = atoll(c[0]),
                 .hi = atoll(c[1]),
                 .top = atoll(c[2]),
                 .rows = atoll(c[4]),
                 .done = c[5] && (c[5][0] == '1' || c[5][0] == 't')};
    snprintf(r.cursor, sizeof r.cursor, "%s", c[3] ? c[3] : "");
    l->bf->st[l->t].rows += r.rows;
    l->rc = add_range(l->bf, r);
    return l->rc != SL_OK;
}

/* The table's saved ranges, or a new backfill of it over [since, now]. */
static sl_err start_table(bf_t *bf, size_t t, char *err, size_t errlen)
{
    const sl_sync_table_t *tb = bf->b->tables[t];
    const char *v[] = {bf->b->account, tb->name};
    load_t l = {bf, t, SL_OK};
    size_t before = bf->n;
    sl_err rc = sl_sync_sql(bf->s,
                            "SELECT lo, hi, top, cursor, rows, done FROM {sync_backfill_ranges} "
                            "WHERE account = $1 AND tbl = $2 ORDER BY lo",
                            2, v, load_row, &l, err, errlen);
    if (rc || l.rc)
        return rc ? rc : l.rc;
    if (bf->n > before)
        return SL_OK;
    char lo[24], hi[24], now[24];
    long long h = tb->created_filter ? (long long)time(NULL) + 1 : 0;
    snprintf(lo, sizeof lo, "%lld", tb->created_filter ? bf->b->since : 0);
    snprintf(hi, sizeof hi, "%lld", h);
    snprintf(now, sizeof now, "%lld", sl__now_ms());
    const char *iv[] = {bf->b->account, tb->name, lo, hi, now};
    rc = sl_sync_sql(bf->s,
                     "INSERT INTO {sync_backfill_ranges} (account, tbl, lo, hi, top) VALUES ($1, "
                     "$2, $3, $4, $4)",
                     4, iv, NULL, NULL, err, errlen);
    const char *sv[] = {bf->b->account, tb->name, now};
    if (!rc)
        rc = sl_sync_sql(bf->s,
                         "INSERT INTO {sync_backfills} (account, tbl, started_ms) VALUES ($1, $2, "
                         "$3) ON CONFLICT (account, tbl) DO UPDATE SET started_ms = "
                         "excluded.started_ms, finished_ms = NULL, rows = 0",
                         3, sv, NULL, NULL, err, errlen);
    if (!rc)
        rc = add_range(bf, (range_t){.t = t, .lo = atoll(lo), .hi = h, .top = h});
    return rc;
}

typedef struct {
    bf_t *bf;
    range_t *r; /* a copy: the worker's */
    long long old_lo;
    json_t *data;
    long long version;
    int has_more;
    long long split; /* > 0: [old lo, split - 1] becomes a range of its own */
    size_t written;
} page_t;

static sl_err write_page(sl_sync_t *s, void *ctx, char *err, size_t errlen)
{
    page_t *p = ctx;
    const sl_sync_table_t *t = p->bf->b->tables[p->r->t];
    sl_err rc = sl_sync_put_listed(s, t, p->bf->b->account, p->data, p->version, p->bf->b->client,
                                   &p->written, err, errlen);
    if (rc)
        return rc;
    char lo[24], hi[24], rows[24], old[24], top[24];
    snprintf(lo, sizeof lo, "%lld", p->r->lo);
    snprintf(hi, sizeof hi, "%lld", p->r->hi);
    snprintf(rows, sizeof rows, "%lld", p->r->rows);
    snprintf(old, sizeof old, "%lld", p->old_lo);
    const char *v[] = {p->bf->b->account,     t->name, old, lo, hi, p->r->cursor, rows,
                       p->r->done ? "1" : "0"};
    rc = sl_sync_sql(s,
                     "UPDATE {sync_backfill_ranges} SET lo = $4, hi = $5, cursor = $6, rows = $7, "
                     "done = ($8 = '1') WHERE account = $1 AND tbl = $2 AND lo = $3",
                     8, v, NULL, NULL, err, errlen);
    if (!rc && p->split) {
        snprintf(top, sizeof top, "%lld", p->split - 1);
        const char *iv[] = {p->bf->b->account, t->name, old, top};
        rc = sl_sync_sql(s,
                         "INSERT INTO {sync_backfill_ranges} (account, tbl, lo, hi, top) VALUES "
                         "($1, $2, $3, $4, $4)",
                         4, iv, NULL, NULL, err, errlen);
    }
    return rc;
}

/* One page of range i (the caller marked it busy). */
static void list_page(bf_t *bf, size_t i)
{
    pthread_mutex_lock(&bf->lock);
    range_t r = bf->r[i];
    pthread_mutex_unlock(&bf->lock);
    const sl_sync_table_t *t = bf->b->tables[r.t];
    json_t *params = json_pack("{s:i}", "limit", 100);
    if (t->created_filter)
        json_object_set_new(
            params, "created",
            json_pack("{s:I,s:I}", "gte", (json_int_t)r.lo, "lte", (json_int_t)r.hi));
    if (*r.cursor)
        json_object_set_new(params, "starting_after", json_string(r.cursor));
    /* A listed copy counts as read SL_SYNC_CLOCK_MARGIN_S earlier than this machine's clock
     * says, so a clock running that much ahead of Stripe's never lets it hide a newer event. */
    long long version = (long long)time(NULL) - SL_SYNC_CLOCK_MARGIN_S;
    sl_request_t req = {.method = "GET", .path = t->list, .params = params};
    sl_response_t resp;
    sl_err rc = sl_client_request(bf->b->client, &req, &resp);
    char err[1400] = "";
    json_t *data = json_object_get(resp.json, "data");
    if (!rc && !json_is_array(data))
        rc = SL_EPARSE;
    if (rc)
        snprintf(err, sizeof err, "GET %s: %s", t->list,
                 *resp.error.message ? resp.error.message : sl_strerror(rc));
    page_t p = {bf, &r, r.lo, data, version, json_is_true(json_object_get(resp.json, "has_more")),
                0,  0};
    if (!rc) {
        size_t n = json_array_size(data);
        json_t *last = n ? json_array_get(data, n - 1) : NULL;
        r.rows += (long long)n;
        if (!p.has_more || !last) {
            r.done = 1;
            r.cursor[0] = 0;
        } else {
            snprintf(r.cursor, sizeof r.cursor, "%s",
                     json_string_value(json_object_get(last, "id")) ?: "");
            if (t->created_filter) {
                long long c = json_integer_value(json_object_get(last, "created"));
                if (c >= r.lo && c <= r.hi)
                    r.hi = c;
            }
            /* Workers wait: give one the older half of what is left. */
            pthread_mutex_lock(&bf->lock);
            if (t->created_filter && bf->idle > 0 && r.hi - r.lo >= 2) {
                p.split = r.lo + (r.hi - r.lo) / 2;
                r.lo = p.split;
            }
            pthread_mutex_unlock(&bf->lock);
        }
        rc = sl_sync_tx(bf->s, write_page, &p, err, sizeof err);
    }
    sl_response_cleanup(&resp);
    json_decref(params);
    pthread_mutex_lock(&bf->lock);
    tstat_t *st = &bf->st[r.t];
    st->pages++;
    if (rc) {
        if (!st->failed)
            snprintf(st->error, sizeof st->error, "%s", err);
        st->failed = 1;
    } else {
        st->rows += r.rows - bf->r[i].rows;
        range_t split = {.t = r.t, .lo = p.old_lo, .hi = p.split - 1, .top = p.split - 1};
        bf->r[i] = r;
        if (p.split)
            add_range(bf, split);
    }
    bf->r[i].busy = 0;
    pthread_cond_broadcast(&bf->cond);
    pthread_mutex_unlock(&bf->lock);
}

static void *worker(void *arg)
{
    bf_t *bf = arg;
    pthread_mutex_lock(&bf->lock);
    for (;;) {
        size_t pick = bf->n;
        for (size_t i = 0; i < bf->n; i++)
            if (!bf->r[i].busy && !bf->r[i].done && !bf->st[bf->r[i].t].failed) {
                pick = i;
                break;
            }
        if (pick == bf->n) {
            if (!bf->busy)
                break;
            bf->idle++;
            pthread_cond_wait(&bf->cond, &bf->lock);
            bf->idle--;
            continue;
        }
        bf->r[pick].busy = 1;
        bf->busy++;
        pthread_mutex_unlock(&bf->lock);
        list_page(bf, pick);
        pthread_mutex_lock(&bf->lock);
        bf->busy--;
        pthread_cond_broadcast(&bf->cond);
    }
    pthread_cond_broadcast(&bf->cond);
    pthread_mutex_unlock(&bf->lock);
    return NULL;
}

/* Each table's progress (the caller holds the lock). */
static void progress(bf_t *bf, sl_sync_progress_t *p, double elapsed_s)
{
    for (size_t t = 0; t < bf->b->ntables; t++) {
        double covered = 0, left = 0;
        int done = 1;
        for (size_t i = 0; i < bf->n; i++) {
            const range_t *r = &bf->r[i];
            if (r->t != t)
                continue;
            if (r->done) {
                covered += (double)(r->top - r->lo + 1);
            } else {
                done = 0;
                covered += (double)(r->top - r->hi);
                left += (double)(r->hi - r->lo + 1);
            }
        }
        tstat_t *st = &bf->st[t];
        sl_sync_progress_t *q = &p[t];
        q->table = bf->b->tables[t]->name;
        q->rows = st->rows;
        q->pages = st->pages;
        q->rate = elapsed_s > 0 ? (double)(st->rows - st->rows_at_start) / elapsed_s : 0;
        q->done = done && !st->failed;
        q->failed = st->failed;
        q->error = st->failed ? st->error : NULL;
        q->range_done = q->done ? 1 : covered + left > 0 ? covered / (covered + left) : 0;
        /* No list says how many there are: what is left is estimated from the density of
         * the part of the range already listed. */
        double est = q->done                       ? (double)st->rows
                     : covered > 0 && st->rows > 0 ? (double)st->rows * (covered + left) / covered
                                                   : 0;
        q->percent = q->done ? 100 : est > 0 ? 100.0 * (double)st->rows / est : 0;
        if (q->percent > 99.9 && !q->done)
            q->percent = 99.9;
        q->eta_s = q->done ? 0 : q->rate > 0 && est > 0 ? (est - (double)st->rows) / q->rate : -1;
    }
}

/* A finished table: its ranges dropped, the backfill recorded as finished. */
typedef struct {
    bf_t *bf;
    size_t t;
} fin_t;

static sl_err finish_table(sl_sync_t *s, void *ctx, char *err, size_t errlen)
{
    fin_t *f = ctx;
    char rows[24], now[24];
    snprintf(rows, sizeof rows, "%lld", f->bf->st[f->t].rows);
    snprintf(now, sizeof now, "%lld", sl__now_ms());
    const char *v[] = {f->bf->b->account, f->bf->b->tables[f->t]->name, rows, now};
    sl_err rc = sl_sync_sql(s, "DELETE FROM {sync_backfill_ranges} WHERE account = $1 AND tbl = $2",
                            2, v, NULL, NULL, err, errlen);
    if (!rc)
        rc = sl_sync_sql(s,
                         "UPDATE {sync_backfills} SET finished_ms = $4, rows = $3 WHERE account = "
                         "$1 AND tbl = $2",
                         4, v, NULL, NULL, err, errlen);
    return rc;
}

sl_err sl_sync_backfill(sl_sync_t *s, const sl_sync_backfill_t *b, char *err, size_t errlen)
{
    bf_t bf = {.s = s, .b = b};
    pthread_mutex_init(&bf.lock, NULL);
    pthread_cond_init(&bf.cond, NULL);
    sl_err rc = SL_ENOMEM;
    int nw = b->parallel > 0 ? b->parallel : 4;
    pthread_t *th = calloc((size_t)nw, sizeof *th);
    sl_sync_progress_t *p = calloc(b->ntables ? b->ntables : 1, sizeof *p);
    bf.st = calloc(b->ntables ? b->ntables : 1, sizeof *bf.st);
    if (!th || !p || !bf.st)
        goto out;
    rc = SL_OK;
    for (size_t t = 0; t < b->ntables && !rc; t++) {
        rc = start_table(&bf, t, err, errlen);
        bf.st[t].rows_at_start = bf.st[t].rows;
    }
    if (rc)
        goto out;
    int started = 0;
    for (; started < nw; started++)
        if (pthread_create(&th[started], NULL, worker, &bf))
            break;
    double t0 = sl__mono_ms(), last = t0;
    long interval = b->interval_ms > 0 ? b->interval_ms : 1000;
    for (;;) {
        pthread_mutex_lock(&bf.lock);
        int running = 0;
        for (size_t i = 0; i < bf.n; i++)
            running |= bf.r[i].busy || (!bf.r[i].done && !bf.st[bf.r[i].t].failed);
        double now = sl__mono_ms();
        if (b->progress && running && now - last >= (double)interval) {
            progress(&bf, p, (now - t0) / 1000);
            last = now;
            pthread_mutex_unlock(&bf.lock);
            b->progress(b->progress_ctx, p, b->ntables, 0);
            continue;
        }
        pthread_mutex_unlock(&bf.lock);
        if (!running)
            break;
        sl__sleep_ms(50);
    }
    for (int i = 0; i < started; i++)
        pthread_join(th[i], NULL);
    progress(&bf, p, (sl__mono_ms() - t0) / 1000);
    for (size_t t = 0; t < b->ntables && !rc; t++) {
        if (p[t].failed) {
            if (!rc)
                snprintf(err, errlen, "sync backfill: %s: %s", p[t].table, p[t].error);
            rc = SL_EIO;
            continue;
        }
        fin_t f = {&bf, t};
        rc = sl_sync_tx(s, finish_table, &f, err, errlen);
    }
    if (b->progress)
        b->progress(b->progress_ctx, p, b->ntables, 1);
out:
    free(th);
    free(p);
    free(bf.st);
    free(bf.r);
    pthread_mutex_destroy(&bf.lock);
    pthread_cond_destroy(&bf.cond);
    return rc;
}
