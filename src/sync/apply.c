/* Writing objects: from events (ordered by the object's version, the API asked on a tie), from
 * listings, with the truncated lists they embed; and the live queue serve feeds. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/log.h"
#include "sync/internal.h"

/* The lists objects embed, truncated by Stripe, kept whole in their own tables. */
static const struct {
    const char *table, *field, *child, *parent_col, *list_path;
} embedded[] = {
    {"invoices", "lines", "invoice_line_items", "invoice", NULL},
    {"subscriptions", "items", "subscription_items", "subscription", "/v1/subscription_items"},
    {"checkout_sessions", "line_items", "checkout_line_items", "checkout_session", NULL},
};

/* States that never give way to an unsettled one of the same second. */
static int rank_of(int deleted, const char *status)
{
    static const char *const settled[] = {
        "paid",     "void",     "uncollectible", "canceled", "succeeded", "failed",
        "complete", "expired",  "won",           "lost",     "refunded",  "incomplete_expired",
        "reversed", "consumed", "released",      "closed"};
    if (deleted)
        return 3;
    for (size_t i = 0; status && i < sizeof settled / sizeof *settled; i++)
        if (!strcmp(status, settled[i]))
            return 2;
    return 1;
}

/* A typed column's value as text (heap), NULL for null or a value of another shape. */
static char *col_value(const json_t *v, int kind)
{
    char b[64];
    if (!v || json_is_null(v))
        return NULL;
    if (json_is_object(v)) /* an expanded reference: its id */
        v = json_object_get(v, "id");
    if (json_is_string(v))
        return kind == SL_SYNC_TEXT ? strdup(json_string_value(v)) : NULL;
    if (json_is_integer(v) && kind != SL_SYNC_BOOL)
        snprintf(b, sizeof b, "%lld", (long long)json_integer_value(v));
    else if (json_is_real(v) && kind == SL_SYNC_REAL)
        snprintf(b, sizeof b, "%.17g", json_real_value(v));
    else if (json_is_boolean(v) && kind == SL_SYNC_BOOL)
        snprintf(b, sizeof b, "%d", json_is_true(v));
    else
        return NULL;
    return strdup(b);
}

/* Writes one object; force: also over a row of the same version. */
static sl_err write_row(sl_sync_t *s, const sl_sync_table_t *t, const char *account,
                        const json_t *obj, int deleted, long long version, const char *event_id,
                        int force, const char *parent, char *err, size_t errlen)
{
    const char *id = json_string_value(json_object_get(obj, "id"));
    if (!id)
        return SL_OK; /* nothing to key it by */
    char *data = json_dumps(obj, JSON_COMPACT);
    if (!data)
        return SL_ENOMEM;
    size_t n = 8 + t->ncols;
    const char **v = calloc(n, sizeof *v);
    char **own = calloc(t->ncols, sizeof *own);
    char ver[24], at[24];
    snprintf(ver, sizeof ver, "%lld", version);
    snprintf(at, sizeof at, "%lld", sl__now_ms());
    sl_err rc = SL_ENOMEM;
    if (v && own) {
        v[0] = id;
        v[1] = account;
        v[2] = data;
        v[3] = deleted ? "1" : "0";
        v[4] = ver;
        v[5] = event_id;
        v[6] = at;
        v[7] = force ? "1" : "0";
        for (size_t i = 0; i < t->ncols; i++) {
            /* An embedded item that does not name its parent (checkout line items) gets it. */
            const json_t *f = json_object_get(obj, t->cols[i].name);
            if ((!f || json_is_null(f)) && parent && !strcmp(t->cols[i].name, t->parent_col))
                own[i] = strdup(parent);
            else
                own[i] = col_value(f, t->cols[i].kind);
            v[8 + i] = own[i];
        }
        rc = sl__sync_stmt(s, t, SL_SYNC_UPSERT, (int)n, v, NULL, NULL, err, errlen);
    }
    for (size_t i = 0; own && i < t->ncols; i++)
        free(own[i]);
    free(own);
    free(v);
    free(data);
    return rc;
}

typedef struct {
    int found;
    long long version;
    int rank;
} cur_t;

static int read_cur(void *ctx, int n, const char *const *c)
{
    cur_t *cur = ctx;
    cur->found = 1;
    cur->version = c[0] ? atoll(c[0]) : 0;
    int deleted = c[1] && (!strcmp(c[1], "1") || !strcmp(c[1], "t") || !strcmp(c[1], "true"));
    cur->rank = rank_of(deleted, n > 2 ? c[2] : NULL);
    return 1;
}

static sl_err current(sl_sync_t *s, const sl_sync_table_t *t, const char *account, const char *id,
                      cur_t *cur, char *err, size_t errlen)
{
    const char *v[] = {account, id};
    memset(cur, 0, sizeof *cur);
    return sl__sync_stmt(s, t, SL_SYNC_CURRENT, 2, v, read_cur, cur, err, errlen);
}

/* GET path (with params) on the connection's API: the answer's JSON (a new reference), or NULL
 * with err. */
static json_t *api_get(sl_client_t *client, const char *path, const json_t *params, char *err,
                       size_t errlen)
{
    sl_request_t req = {.method = "GET", .path = path, .params = params};
    sl_response_t resp;
    sl_err rc = sl_client_request(client, &req, &resp);
    json_t *out = NULL;
    if (!rc)
        out = json_incref(resp.json);
    else if (snprintf(err, errlen, "sync: GET %s: %s", path,
                      *resp.error.message ? resp.error.message : sl_strerror(rc)) < 0)
        *err = 0; /* cut short is fine: the message is for the log */
    sl_response_cleanup(&resp);
    return out;
}

/* The embedded lists of obj (a row of t just written at version) into their tables: paged
 * through with client when Stripe cut them short (or, for checkout sessions, left them out),
 * and the parent's items no longer listed removed when the list is whole. */
static sl_err write_children(sl_sync_t *s, const sl_sync_table_t *t, const char *account,
                             const json_t *obj, long long version, const char *event_id,
                             sl_client_t *client, char *err, size_t errlen)
{
    const char *pid = json_string_value(json_object_get(obj, "id"));
    for (size_t e = 0; pid && e < sizeof embedded / sizeof *embedded; e++) {
        if (strcmp(embedded[e].table, t->name))
            continue;
        const sl_sync_table_t *ct = sl_sync_table(embedded[e].child);
        const json_t *list = json_object_get(obj, embedded[e].field);
        json_t *items = json_array();
        int whole = 0;
        if (json_is_object(list)) {
            json_array_extend(items, json_object_get(list, "data"));
            whole = !json_is_true(json_object_get(list, "has_more"));
        }
        if (!whole && client && !json_object_get(obj, "deleted")) {
            char path[512];
            json_t *params = json_pack("{s:i}", "limit", 100);
            if (embedded[e].list_path) {
                snprintf(path, sizeof path, "%s", embedded[e].list_path);
                json_object_set_new(params, embedded[e].parent_col, json_string(pid));
            } else if (json_is_object(list) && json_string_value(json_object_get(list, "url"))) {
                snprintf(path, sizeof path, "%s", json_string_value(json_object_get(list, "url")));
            } else {
                snprintf(path, sizeof path, "/v1/checkout/sessions/%s/line_items", pid);
            }
            json_array_clear(items);
            sl_request_t req = {.method = "GET", .path = path, .params = params};
            sl_pager_t *pg = NULL;
            sl_err rc = sl_pager_new(client, &req, 0, &pg);
            json_t *it = NULL;
            while (!rc && !(rc = sl_pager_next(pg, &it)) && it)
                json_array_append(items, it);
            whole = !rc;
            if (rc) /* left as it was: the next write of the parent tries again */
                sl__log("warning", "sync: an embedded list could not be paged through",
                        json_pack("{s:s,s:s}", "path", path, "error", sl_strerror(rc)));
            sl_pager_free(pg);
            json_decref(params);
        }
        sl_err rc = SL_OK;
        size_t i;
        json_t *item;
        json_array_foreach(items, i, item)
        {
            if (!rc)
                rc = write_row(s, ct, account, item, 0, version, event_id, 1, pid, err, errlen);
        }
        if (!rc && whole) {
            char sql[256], ver[24];
            snprintf(sql, sizeof sql,
                     "DELETE FROM {%s} WHERE account = $1 AND \"%s\" = $2 AND version < $3",
                     ct->name, embedded[e].parent_col);
            snprintf(ver, sizeof ver, "%lld", version);
            const char *v[] = {account, pid, ver};
            rc = sl_sync_sql(s, sql, 3, v, NULL, NULL, err, errlen);
        }
        json_decref(items);
        if (rc)
            return rc;
    }
    return SL_OK;
}

/* Writes obj (and what it embeds) at version when that is newer than the row; ties as the
 * header says. *outcome says what happened. */
static sl_err put_object(sl_sync_t *s, const sl_sync_table_t *t, const char *account,
                         const char *connection, json_t *obj, int deleted, long long version,
                         const char *event_id, const sl_sync_fetcher_t *fetch, sl_client_t *client,
                         int listed, sl_sync_outcome *outcome, char *err, size_t errlen)
{
    const char *id = json_string_value(json_object_get(obj, "id"));
    *outcome = SL_SYNC_STALE;
    if (!id)
        return SL_OK;
    cur_t cur;
    sl_err rc;
    int force = 0, ask = 0;
    pthread_mutex_lock(&s->lock);
    if ((rc = current(s, t, account, id, &cur, err, errlen)))
        goto out;
    int rank = rank_of(deleted || json_is_true(json_object_get(obj, "deleted")),
                       json_string_value(json_object_get(obj, "status")));
    if (!cur.found || version > cur.version) {
        /* Newer; but a settled row giving way to an unsettled state is in doubt. */
        ask = cur.found && rank < cur.rank && !listed;
    } else if (version < cur.version || listed) {
        goto out; /* stale; a listed copy never replaces a row of its own second */
    } else {
        ask = 1;
        force = rank >= cur.rank;
    }
    if (ask && fetch && *t->retrieve && connection) {
        pthread_mutex_unlock(&s->lock);
        sl_client_t *c = fetch->get(fetch->ctx, connection);
        json_t *truth = NULL;
        char ferr[512] = "";
        if (c) {
            char path[512];
            const char *brace = strchr(t->retrieve, '{');
            snprintf(path, sizeof path, "%.*s%s", (int)(brace - t->retrieve), t->retrieve, id);
            truth = api_get(c, path, NULL, ferr, sizeof ferr);
        }
        pthread_mutex_lock(&s->lock);
        if (truth) {
            /* Kept at the event's second, not this machine's clock (which may run ahead of
             * Stripe's): a later event of the same second asks the API again. */
            long long v = version;
            int del = deleted || json_is_true(json_object_get(truth, "deleted"));
            if (del && json_object_size(truth) <= 3) { /* a stub: keep what was known */
                json_decref(truth);
                truth = json_incref(obj);
            }
            rc = write_row(s, t, account, truth, del, v, event_id, 1, NULL, err, errlen);
            if (!rc)
                rc = write_children(s, t, account, truth, v, event_id, c, err, errlen);
            json_decref(truth);
            if (c)
                fetch->release(fetch->ctx, c);
            *outcome = SL_SYNC_FETCHED;
            goto out;
        }
        if (c) {
            sl__log("warning", "sync: the object could not be read; the events decide",
                    json_pack("{s:s,s:s}", "id", id, "error", ferr));
            fetch->release(fetch->ctx, c);
        }
    } else if (ask && cur.found && version > cur.version) {
        force = 0; /* newer wins when nobody can be asked */
    }
    if (ask && version == cur.version && !force)
        goto out;
    rc = write_row(s, t, account, obj, deleted, version, event_id, force, NULL, err, errlen);
    if (!rc)
        rc = write_children(s, t, account, obj, version, event_id, client, err, errlen);
    if (!rc)
        *outcome = SL_SYNC_APPLIED;
out:
    pthread_mutex_unlock(&s->lock);
    return rc;
}

sl_err sl_sync_apply_event(sl_sync_t *s, const char *connection, const char *account,
                           const char *payload, size_t len, const sl_sync_fetcher_t *fetch,
                           sl_sync_outcome *outcome, char *err, size_t errlen)
{
    *outcome = SL_SYNC_IGNORED;
    json_error_t je;
    json_t *ev = json_loadb(payload, len, 0, &je);
    if (!json_is_object(ev)) {
        json_decref(ev);
        snprintf(err, errlen, "sync: an event is not JSON: %s", je.text);
        return SL_EPARSE;
    }
    const char *type = json_string_value(json_object_get(ev, "type"));
    const char *evid = json_string_value(json_object_get(ev, "id"));
    long long created = json_integer_value(json_object_get(ev, "created"));
    json_t *obj = json_object_get(json_object_get(ev, "data"), "object");
    const char *object = json_string_value(json_object_get(obj, "object"));
    sl_err rc = SL_OK;
    const sl_sync_table_t *evt = sl_sync_table("events");
    sl_sync_outcome o;
    if (evt && evid) /* the event itself: it never changes */
        rc =
            put_object(s, evt, account, NULL, ev, 0, created, evid, NULL, NULL, 0, &o, err, errlen);
    const sl_sync_table_t *t = object ? sl_sync_table_for_object(object) : NULL;
    if (!rc && t && type && strcmp(object, "event")) {
        size_t tl = strlen(type);
        int deleted = tl > 8 && !strcmp(type + tl - 8, ".deleted");
        sl_client_t *client = fetch && connection ? fetch->get(fetch->ctx, connection) : NULL;
        rc = put_object(s, t, account, connection, obj, deleted, created, evid, fetch, client, 0,
                        outcome, err, errlen);
        if (client)
            fetch->release(fetch->ctx, client);
    }
    json_decref(ev);
    return rc;
}

typedef struct {
    const sl_sync_table_t *t;
    const char *account;
    json_t *objects;
    long long version;
    sl_client_t *client;
    size_t written;
} listed_t;

static sl_err put_listed(sl_sync_t *s, void *ctx, char *err, size_t errlen)
{
    listed_t *l = ctx;
    size_t i;
    json_t *o;
    json_array_foreach(l->objects, i, o)
    {
        sl_sync_outcome out;
        sl_err rc = put_object(s, l->t, l->account, NULL, o, 0, l->version, NULL, NULL, l->client,
                               1, &out, err, errlen);
        if (rc)
            return rc;
        l->written += out == SL_SYNC_APPLIED;
    }
    return SL_OK;
}

sl_err sl_sync_put_listed(sl_sync_t *s, const sl_sync_table_t *t, const char *account,
                          json_t *objects, long long version, sl_client_t *client, size_t *written,
                          char *err, size_t errlen)
{
    listed_t l = {t, account, objects, version, client, 0};
    sl_err rc = put_listed(s, &l, err, errlen);
    *written = l.written;
    return rc;
}

/* --- live ----------------------------------------------------------------------------------- */
typedef struct live_item {
    struct live_item *next;
    char connection[64];
    long long received_ms;
    size_t len;
    char payload[]; /* NUL-terminated */
} live_item_t;

struct sl_sync_live {
    sl_sync_t *s;
    sl_sync_fetcher_t fetch;
    int (*lookup)(void *ctx, const char *connection, char *out, size_t outlen);
    void *lookup_ctx;
    pthread_mutex_t lock;
    pthread_cond_t work;
    live_item_t *head, *tail;
    int stopping;
    pthread_t thread;
    unsigned long long counts[4];
};

static void *live_main(void *arg)
{
    sl_sync_live_t *l = arg;
    pthread_setname_np(pthread_self(), "sl-sync");
    long long newest = -1, saved = -1;
    double saved_at = 0;
    pthread_mutex_lock(&l->lock);
    for (;;) {
        while (!l->head && !l->stopping)
            pthread_cond_wait(&l->work, &l->lock);
        live_item_t *it = l->head;
        if (!it)
            break;
        l->head = it->next;
        if (!l->head)
            l->tail = NULL;
        pthread_mutex_unlock(&l->lock);
        char account[128], err[512];
        if (!l->lookup || l->lookup(l->lookup_ctx, it->connection, account, sizeof account))
            snprintf(account, sizeof account, "%s", it->connection);
        sl_sync_outcome o = SL_SYNC_IGNORED;
        sl_err rc = sl_sync_apply_event(l->s, it->connection, account, it->payload, it->len,
                                        &l->fetch, &o, err, sizeof err);
        if (rc)
            sl__log("error", "sync: an event was not applied",
                    json_pack("{s:s,s:s}", "connection", it->connection, "error", err));
        /* The mark moves on once a second, and when the queue runs dry: after a crash,
         * serve --sync applies again what came after it. */
        if (it->received_ms > newest)
            newest = it->received_ms;
        double now = sl__mono_ms();
        pthread_mutex_lock(&l->lock);
        int dry = !l->head;
        pthread_mutex_unlock(&l->lock);
        if (newest > saved && (dry || now - saved_at >= 1000)) {
            if (sl_sync_mark_put(l->s, SL_SYNC_MARK_INBOX, newest, err, sizeof err))
                sl__log("error", "sync: the mark of the events applied was not saved",
                        json_pack("{s:s}", "error", err));
            saved = newest;
            saved_at = now;
        }
        pthread_mutex_lock(&l->lock);
        l->counts[rc ? 3 : o == SL_SYNC_STALE ? 1 : o == SL_SYNC_IGNORED ? 2 : 0]++;
        free(it);
    }
    pthread_mutex_unlock(&l->lock);
    return NULL;
}

sl_err sl_sync_live_start(sl_sync_t *s, const sl_sync_fetcher_t *fetch,
                          int (*lookup_account)(void *ctx, const char *connection, char *out,
                                                size_t outlen),
                          void *lookup_ctx, sl_sync_live_t **out)
{
    sl_sync_live_t *l = calloc(1, sizeof *l);
    if (!l)
        return SL_ENOMEM;
    l->s = s;
    if (fetch)
        l->fetch = *fetch;
    l->lookup = lookup_account;
    l->lookup_ctx = lookup_ctx;
    pthread_mutex_init(&l->lock, NULL);
    pthread_cond_init(&l->work, NULL);
    if (pthread_create(&l->thread, NULL, live_main, l)) {
        pthread_mutex_destroy(&l->lock);
        pthread_cond_destroy(&l->work);
        free(l);
        return SL_EINTERNAL;
    }
    *out = l;
    return SL_OK;
}

void sl_sync_live_submit(sl_sync_live_t *l, const char *connection, const char *payload, size_t len,
                         long long received_ms)
{
    live_item_t *it = malloc(sizeof *it + len + 1);
    if (!it)
        return;
    it->next = NULL;
    it->received_ms = received_ms;
    snprintf(it->connection, sizeof it->connection, "%s", connection ? connection : "");
    it->len = len;
    memcpy(it->payload, payload, len);
    it->payload[len] = 0;
    pthread_mutex_lock(&l->lock);
    if (l->tail)
        l->tail->next = it;
    else
        l->head = it;
    l->tail = it;
    pthread_cond_signal(&l->work);
    pthread_mutex_unlock(&l->lock);
}

void sl_sync_live_counts(sl_sync_live_t *l, unsigned long long c[4])
{
    pthread_mutex_lock(&l->lock);
    memcpy(c, l->counts, sizeof l->counts);
    pthread_mutex_unlock(&l->lock);
}

void sl_sync_live_stop(sl_sync_live_t *l)
{
    if (!l)
        return;
    pthread_mutex_lock(&l->lock);
    l->stopping = 1;
    pthread_cond_signal(&l->work);
    pthread_mutex_unlock(&l->lock);
    pthread_join(l->thread, NULL);
    pthread_mutex_destroy(&l->lock);
    pthread_cond_destroy(&l->work);
    free(l);
}
