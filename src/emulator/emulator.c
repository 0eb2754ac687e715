/* A local, stateful Stripe: Stripe's wire protocol (form bodies, bearer keys, error bodies,
 * Request-Id), every request checked against the catalog, objects built from Stripe's example
 * objects and kept in memory, list pagination, the search query language, idempotent replays,
 * and events recorded for every change and delivered signed to webhook endpoints, with retries.
 *
 * One lock guards all state; requests are short. Deliveries run on their own thread. */
#include <arpa/inet.h>
#include <ctype.h>
#include <netdb.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>
#include <microhttpd.h>
#include <openssl/rand.h>
#include <sqlite3.h>

#include "core/buf.h"
#include "core/log.h"
#include "emulator/emulator.h"
#include "emulator/fixtures.h"
#include "sluice/catalog.h"
#include "sluice/webhook.h"
#include "stripe/catalog.h"

#define EMU_MAX_BODY (1u << 20)

/* The resources the emulator keeps, by the plural their operations are named with. */
typedef struct resource {
    const char *plural; /* "customers": customers.create, customers.list, ... */
    const char *object; /* the fixture and the "object" field */
    const char *prefix; /* of generated ids */
    int emits;          /* records <object>.created/.updated/.deleted events */
} resource_t;

static const resource_t resources[] = {
    {"customers", "customer", "cus", 1},
    {"products", "product", "prod", 1},
    {"prices", "price", "price", 1},
    {"coupons", "coupon", "co", 1},
    {"webhook_endpoints", "webhook_endpoint", "we", 0},
    {"payment_methods", "payment_method", "pm", 0},
    {"payment_intents", "payment_intent", "pi", 1},
    {"charges", "charge", "ch", 0},
    {"invoiceitems", "invoiceitem", "ii", 1},
    {"invoices", "invoice", "in", 1},
    {"subscriptions", "subscription", "sub", 0}, /* events as customer.subscription.* */
    {"subscription_items", "subscription_item", "si", 0},
    {"checkout.sessions", "checkout.session", "cs_test", 0}, /* checkout.session.completed */
    {"payment_links", "payment_link", "plink", 1},
};

/* Stripe's test payment methods: what each card is and how it declines. */
static const struct test_card {
    const char *token;
    const char *brand;
    const char *last4;
    const char *decline_code; /* NULL: it pays */
} test_cards[] = {
    {"pm_card_visa", "visa", "4242", NULL},
    {"pm_card_mastercard", "mastercard", "4444", NULL},
    {"pm_card_amex", "amex", "8431", NULL},
    {"pm_card_chargeDeclined", "visa", "0002", "generic_decline"},
    {"pm_card_chargeDeclinedInsufficientFunds", "visa", "9995", "insufficient_funds"},
    {"pm_card_chargeDeclinedLostCard", "visa", "9987", "lost_card"},
    {"pm_card_chargeDeclinedExpiredCard", "visa", "0069", "expired_card"},
};

typedef struct delivery {
    char *url;
    char *secret;
    char *payload;
    int attempt;
    double next_at; /* monotonic ms */
    struct delivery *next;
} delivery_t;

struct sl_emulator {
    sl_emulator_config_t cfg;
    struct MHD_Daemon *daemon;
    int port;
    char base_url[96];    /* http://HOST:PORT, for the hosted pages' URLs */
    pthread_mutex_t lock; /* guards everything below */
    json_t *objects;      /* id -> object */
    json_t *lists;        /* object type -> [ids], oldest first */
    json_t *events;       /* [events], oldest first */
    json_t *idem;         /* idempotency key -> {fingerprint, status, body} */
    json_t *secrets;      /* webhook endpoint id -> whsec_ */
    json_t *pm_tokens;    /* payment method id -> the test token it came from (pm_card_visa) */
    unsigned long invoice_numbers; /* finalized invoices so far */
    /* --data FILE: every change is written through to SQLite at the end of its request */
    sqlite3 *db;
    json_t *seq; /* id -> creation order, which lists keep */
    json_int_t next_seq;
    json_t *touched; /* ids created or changed by the request under way -> true */
    json_t *gone;    /* ids removed by it */
    /* deliveries */
    pthread_t thread;
    pthread_cond_t wake;
    delivery_t *queue;
    int stopping;
};

typedef struct request {
    sl_buf_t body;
    char *uri;
} request_t;

/* A reply being built: status and JSON body. */
typedef struct reply {
    unsigned status;
    json_t *body;
    int replayed;
    char *html; /* a page instead of JSON (the emulator's hosted checkout pages) */
} reply_t;

static double mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void random_token(char *out, size_t n)
{
    static const char alphabet[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    unsigned char raw[64];
    if (n > sizeof raw)
        n = sizeof raw;
    if (RAND_bytes(raw, (int)n) != 1)
        for (size_t i = 0; i < n; i++)
            raw[i] = (unsigned char)rand();
    for (size_t i = 0; i < n; i++)
        out[i] = alphabet[raw[i] % (sizeof alphabet - 1)];
    out[n] = '\0';
}

static void new_id(const char *prefix, char *out, size_t n)
{
    char tok[24];
    random_token(tok, 14);
    snprintf(out, n, "%s_%s", prefix, tok);
}

static reply_t stripe_error(unsigned status, const char *type, const char *code, const char *param,
                            const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static reply_t stripe_error(unsigned status, const char *type, const char *code, const char *param,
                            const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    json_t *e = json_pack("{s:s,s:s}", "type", type, "message", msg);
    if (code)
        json_object_set_new(e, "code", json_string(code));
    if (param)
        json_object_set_new(e, "param", json_string(param));
    return (reply_t){status, json_pack("{s:o}", "error", e), 0, NULL};
}

static reply_t no_such(const char *object, const char *id)
{
    return stripe_error(404, "invalid_request_error", "resource_missing", "id", "No such %s: '%s'",
                        object, id);
}

/* --- Persistence (--data FILE) ------------------------------------------------------------------
 */

static void touch(sl_emulator_t *e, const char *id)
{
    if (!e->db)
        return;
    if (!json_object_get(e->seq, id))
        json_object_set_new(e->seq, id, json_integer(e->next_seq++));
    json_object_set_new(e->touched, id, json_true());
}

static void forget(sl_emulator_t *e, const char *id)
{
    if (e->db)
        json_array_append_new(e->gone, json_string(id));
}

/* Marks every kept object a JSON value names (objects change in place: an invoice paid, a
 * payment method attached; the reply and the events of a request name what it changed). */
static void touch_named(sl_emulator_t *e, const json_t *v)
{
    if (json_is_string(v)) {
        if (json_object_get(e->objects, json_string_value(v)))
            touch(e, json_string_value(v));
        return;
    }
    const char *k;
    json_t *x;
    size_t i;
    if (json_is_object(v)) {
        json_object_foreach((json_t *)v, k, x) touch_named(e, x);
    } else if (json_is_array(v)) {
        json_array_foreach(v, i, x) touch_named(e, x);
    }
}

static int db_exec(sqlite3 *db, const char *sql, char *err, size_t errlen)
{
    char *msg = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) == SQLITE_OK)
        return 0;
    snprintf(err, errlen, "%s", msg ? msg : sqlite3_errmsg(db));
    sqlite3_free(msg);
    return -1;
}

/* Runs one statement with text a, text b, integer n (if >= 0) and text, those given. */
static int db_put(sqlite3 *db, const char *sql, const char *a, const char *b, json_int_t n,
                  const char *text)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        return -1;
    int i = 1;
    if (a)
        sqlite3_bind_text(st, i++, a, -1, SQLITE_STATIC);
    if (b)
        sqlite3_bind_text(st, i++, b, -1, SQLITE_STATIC);
    if (n >= 0)
        sqlite3_bind_int64(st, i++, n);
    if (text)
        sqlite3_bind_text(st, i++, text, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : -1;
}

/* The first failure of a persist() pass, for its log line. */
static __thread char db_failure[256];

static int db_check(sqlite3 *db, int bad)
{
    if (bad && !db_failure[0])
        snprintf(db_failure, sizeof db_failure, "%s", sqlite3_errmsg(db));
    return bad;
}

static int kv_put(sqlite3 *db, const char *kind, const char *key, const json_t *value)
{
    char *text = json_dumps(value, JSON_ENCODE_ANY | JSON_COMPACT);
    int rc = db_put(db, "INSERT OR REPLACE INTO kv(kind, key, value) VALUES (?, ?, ?)", kind, key,
                    -1, text);
    free(text);
    return rc;
}

static int put_object(sl_emulator_t *e, const char *id, const json_t *obj)
{
    char *text = json_dumps(obj, JSON_COMPACT);
    const char *type = strchr(id, '/') ? "" : json_string_value(json_object_get(obj, "object"));
    int rc =
        db_put(e->db, "INSERT OR REPLACE INTO objects(id, type, seq, json) VALUES (?, ?, ?, ?)", id,
               type ? type : "", json_integer_value(json_object_get(e->seq, id)), text);
    free(text);
    return rc;
}

/* Writes what the request changed, in one transaction: the objects it touched or named, the
 * events it recorded (from index `events_before`), its idempotency record and new secrets. */
static void persist(sl_emulator_t *e, const json_t *reply, size_t events_before,
                    const char *idem_key)
{
    if (!e->db)
        return;
    touch_named(e, reply);
    for (size_t i = events_before; i < json_array_size(e->events); i++)
        touch_named(e, json_object_get(json_array_get(e->events, i), "data"));
    char err[256];
    db_failure[0] = '\0';
    int bad = db_check(e->db, db_exec(e->db, "BEGIN", err, sizeof err));
    const char *id;
    json_t *v;
    json_object_foreach(e->touched, id, v)
    {
        const json_t *obj = json_object_get(e->objects, id);
        if (!obj)
            continue;
        bad |= db_check(e->db, put_object(e, id, obj));
        char key[160];
        snprintf(key, sizeof key, "%s/line_items", id);
        const json_t *li = json_object_get(e->objects, key);
        if (li && !json_object_get(e->touched, key))
            bad |= db_check(e->db, put_object(e, key, li));
        const json_t *secret = json_object_get(e->secrets, id);
        if (secret)
            bad |= db_check(e->db, kv_put(e->db, "secret", id, secret));
        const json_t *token = json_object_get(e->pm_tokens, id);
        if (token)
            bad |= db_check(e->db, kv_put(e->db, "pm_token", id, token));
    }
    size_t i;
    json_array_foreach(e->gone, i, v)
    {
        bad |=
            db_put(e->db, "DELETE FROM objects WHERE id = ?", json_string_value(v), NULL, -1, NULL);
        bad |= db_check(e->db, db_put(e->db, "DELETE FROM kv WHERE kind = 'secret' AND key = ?",
                                      json_string_value(v), NULL, -1, NULL));
    }
    for (i = events_before; i < json_array_size(e->events); i++) {
        char *text = json_dumps(json_array_get(e->events, i), JSON_COMPACT);
        bad |= db_check(e->db,
                        db_put(e->db, "INSERT INTO events(json) VALUES (?)", NULL, NULL, -1, text));
        free(text);
    }
    if (idem_key && json_object_get(e->idem, idem_key))
        bad |= db_check(e->db, kv_put(e->db, "idem", idem_key, json_object_get(e->idem, idem_key)));
    json_t *jn = json_integer((json_int_t)e->invoice_numbers);
    bad |= db_check(e->db, kv_put(e->db, "meta", "invoice_numbers", jn));
    json_decref(jn);
    if (bad) {
        sl__log("error",
                "emulate: could not save the state; this request's changes are kept in "
                "memory only",
                json_pack("{s:s}", "error", db_failure));
        db_exec(e->db, "ROLLBACK", err, sizeof err);
    } else {
        db_exec(e->db, "COMMIT", err, sizeof err);
    }
    json_object_clear(e->touched);
    json_array_clear(e->gone);
}

/* Opens (creating if need be) the state file and loads it. */
static sl_err persist_open(sl_emulator_t *e, const char *file, char *err, size_t errlen)
{
    if (sqlite3_open_v2(file, &e->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) !=
        SQLITE_OK) {
        snprintf(err, errlen, "--data %s: %s", file, e->db ? sqlite3_errmsg(e->db) : "cannot open");
        return SL_EIO;
    }
    sqlite3_busy_timeout(e->db, 5000);
    char why[256];
    if (db_exec(e->db,
                "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
                "CREATE TABLE IF NOT EXISTS objects(id TEXT PRIMARY KEY, type TEXT NOT NULL,"
                " seq INTEGER NOT NULL, json TEXT NOT NULL);"
                "CREATE TABLE IF NOT EXISTS events(seq INTEGER PRIMARY KEY, json TEXT NOT NULL);"
                "CREATE TABLE IF NOT EXISTS kv(kind TEXT NOT NULL, key TEXT NOT NULL,"
                " value TEXT NOT NULL, PRIMARY KEY(kind, key));",
                why, sizeof why)) {
        snprintf(err, errlen, "--data %s: %s (is it a sluice emulate state file?)", file, why);
        return SL_EIO;
    }
    sqlite3_stmt *st = NULL, *probe = NULL;
    int usable = sqlite3_prepare_v2(e->db, "SELECT kind, key, value FROM kv LIMIT 0", -1, &probe,
                                    NULL) == SQLITE_OK &&
                 sqlite3_prepare_v2(e->db, "SELECT id, type, seq, json FROM objects ORDER BY seq",
                                    -1, &st, NULL) == SQLITE_OK;
    sqlite3_finalize(probe);
    if (!usable) {
        snprintf(err, errlen, "--data %s: %s (is it a sluice emulate state file?)", file,
                 sqlite3_errmsg(e->db));
        sqlite3_finalize(st);
        return SL_EIO;
    }
    while (st && sqlite3_step(st) == SQLITE_ROW) {
        const char *id = (const char *)sqlite3_column_text(st, 0);
        const char *type = (const char *)sqlite3_column_text(st, 1);
        json_int_t seq = sqlite3_column_int64(st, 2);
        json_t *obj = json_loads((const char *)sqlite3_column_text(st, 3), 0, NULL);
        if (!obj || !id || !type)
            continue;
        json_object_set_new(e->objects, id, obj);
        json_object_set_new(e->seq, id, json_integer(seq));
        if (seq >= e->next_seq)
            e->next_seq = seq + 1;
        int listed = 0;
        for (size_t i = 0; i < sizeof resources / sizeof *resources; i++)
            listed |=
                strcmp(resources[i].object, type) == 0 && strcmp(type, "subscription_item") != 0;
        if (listed) {
            json_t *list = json_object_get(e->lists, type);
            if (!list) {
                list = json_array();
                json_object_set_new(e->lists, type, list);
            }
            json_array_append_new(list, json_string(id));
        }
    }
    sqlite3_finalize(st);
    /* A subscription and its items share the item objects. */
    const json_t *subs = json_object_get(e->lists, "subscription");
    for (size_t i = 0; i < json_array_size(subs); i++) {
        json_t *sub = json_object_get(e->objects, json_string_value(json_array_get(subs, i)));
        json_t *data = json_object_get(json_object_get(sub, "items"), "data");
        for (size_t k = 0; k < json_array_size(data); k++) {
            json_t *item = json_object_get(
                e->objects, json_string_value(json_object_get(json_array_get(data, k), "id")));
            if (item)
                json_array_set(data, k, item);
        }
    }
    st = NULL;
    sqlite3_prepare_v2(e->db, "SELECT json FROM events ORDER BY seq", -1, &st, NULL);
    while (st && sqlite3_step(st) == SQLITE_ROW) {
        json_t *ev = json_loads((const char *)sqlite3_column_text(st, 0), 0, NULL);
        if (ev)
            json_array_append_new(e->events, ev);
    }
    sqlite3_finalize(st);
    st = NULL;
    sqlite3_prepare_v2(e->db, "SELECT kind, key, value FROM kv", -1, &st, NULL);
    while (st && sqlite3_step(st) == SQLITE_ROW) {
        const char *kind = (const char *)sqlite3_column_text(st, 0);
        const char *key = (const char *)sqlite3_column_text(st, 1);
        json_t *v = json_loads((const char *)sqlite3_column_text(st, 2), JSON_DECODE_ANY, NULL);
        if (!v || !kind || !key) {
            json_decref(v);
            continue;
        }
        if (strcmp(kind, "secret") == 0)
            json_object_set(e->secrets, key, v);
        else if (strcmp(kind, "pm_token") == 0)
            json_object_set(e->pm_tokens, key, v);
        else if (strcmp(kind, "idem") == 0)
            json_object_set(e->idem, key, v);
        else if (strcmp(kind, "meta") == 0 && strcmp(key, "invoice_numbers") == 0)
            e->invoice_numbers = (unsigned long)json_integer_value(v);
        json_decref(v);
    }
    sqlite3_finalize(st);
    return SL_OK;
}

/* --- Events and their delivery ---------------------------------------------------------------- */

static int endpoint_wants(const json_t *endpoint, const char *type)
{
    const json_t *types = json_object_get(endpoint, "enabled_events");
    if (strcmp(json_string_value(json_object_get(endpoint, "status")) ?: "", "enabled") != 0)
        return 0;
    for (size_t i = 0; i < json_array_size(types); i++) {
        const char *t = json_string_value(json_array_get(types, i));
        if (t && (strcmp(t, "*") == 0 || strcmp(t, type) == 0))
            return 1;
    }
    return 0;
}

/* Records an event (caller holds the lock) and queues it for every endpoint that wants it. */
static void emit(sl_emulator_t *e, const char *type, const json_t *object, json_t *previous,
                 const char *request_id, const char *idem_key)
{
    char id[64];
    new_id("evt", id, sizeof id);
    json_t *data = json_pack("{s:o}", "object", json_deep_copy(object)); /* as it is now */
    if (previous)
        json_object_set_new(data, "previous_attributes", previous);
    json_t *ev =
        json_pack("{s:s,s:s,s:s,s:I,s:o,s:b,s:i,s:{s:s,s:s?},s:s}", "id", id, "object", "event",
                  "api_version", sl_catalog_api_version(), "created", (json_int_t)time(NULL),
                  "data", data, "livemode", 0, "pending_webhooks", 0, "request", "id", request_id,
                  "idempotency_key", idem_key, "type", type);
    int pending = 0;
    const json_t *ids = json_object_get(e->lists, "webhook_endpoint");
    char *payload = NULL;
    for (size_t i = 0; i < json_array_size(ids); i++) {
        const char *we = json_string_value(json_array_get(ids, i));
        const json_t *endpoint = json_object_get(e->objects, we);
        const char *secret = json_string_value(json_object_get(e->secrets, we));
        if (!endpoint || !secret || !endpoint_wants(endpoint, type))
            continue;
        pending++;
        json_object_set_new(ev, "pending_webhooks", json_integer(pending));
    }
    payload = json_dumps(ev, JSON_INDENT(2));
    for (size_t i = 0; payload && i < json_array_size(ids); i++) {
        const char *we = json_string_value(json_array_get(ids, i));
        const json_t *endpoint = json_object_get(e->objects, we);
        const char *secret = json_string_value(json_object_get(e->secrets, we));
        if (!endpoint || !secret || !endpoint_wants(endpoint, type))
            continue;
        delivery_t *d = calloc(1, sizeof *d);
        if (!d)
            continue;
        d->url = strdup(json_string_value(json_object_get(endpoint, "url")) ?: "");
        d->secret = strdup(secret);
        d->payload = strdup(payload);
        d->next_at = mono_ms();
        d->next = e->queue;
        e->queue = d;
        pthread_cond_signal(&e->wake);
    }
    free(payload);
    json_array_append_new(e->events, ev);
}

static void delivery_free(delivery_t *d)
{
    free(d->url);
    free(d->secret);
    free(d->payload);
    free(d);
}

static size_t discard(char *p, size_t size, size_t n, void *ctx)
{
    (void)p;
    (void)ctx;
    return size * n;
}

/* POSTs one event signed as Stripe signs; 1 if the receiver answered 2xx. */
static int deliver(CURL *h, const delivery_t *d)
{
    char sig[160], header[200];
    if (sl_webhook_sign(d->secret, time(NULL), d->payload, strlen(d->payload), sig, sizeof sig))
        return 0;
    snprintf(header, sizeof header, "Stripe-Signature: %s", sig);
    struct curl_slist *hs = curl_slist_append(NULL, header);
    hs = curl_slist_append(hs, "Content-Type: application/json; charset=utf-8");
    hs = curl_slist_append(hs, "User-Agent: Stripe/1.0 (+https://stripe.com/docs/webhooks)");
    curl_easy_reset(h);
    curl_easy_setopt(h, CURLOPT_URL, d->url);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, d->payload);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hs);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 10000L);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, discard);
    long status = 0;
    int ok = curl_easy_perform(h) == CURLE_OK &&
             curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status) == CURLE_OK && status >= 200 &&
             status < 300;
    curl_slist_free_all(hs);
    return ok;
}

static void *deliverer(void *arg)
{
    sl_emulator_t *e = arg;
    CURL *h = curl_easy_init();
    pthread_mutex_lock(&e->lock);
    while (!e->stopping) {
        /* The delivery due first. */
        delivery_t **best = NULL;
        for (delivery_t **p = &e->queue; *p; p = &(*p)->next)
            if (!best || (*p)->next_at < (*best)->next_at)
                best = p;
        double now = mono_ms();
        if (!best || (*best)->next_at > now) {
            struct timespec until;
            clock_gettime(CLOCK_REALTIME, &until);
            double wait = best ? (*best)->next_at - now : 1000;
            until.tv_sec += (time_t)(wait / 1000);
            until.tv_nsec += (long)((long long)wait % 1000) * 1000000L;
            if (until.tv_nsec >= 1000000000L) {
                until.tv_sec++;
                until.tv_nsec -= 1000000000L;
            }
            pthread_cond_timedwait(&e->wake, &e->lock, &until);
            continue;
        }
        delivery_t *d = *best;
        *best = d->next;
        pthread_mutex_unlock(&e->lock);
        int ok = h && deliver(h, d);
        pthread_mutex_lock(&e->lock);
        d->attempt++;
        if (ok || d->attempt >= e->cfg.max_deliveries) {
            if (!ok)
                sl__log("warn", "emulator: gave up delivering an event",
                        json_pack("{s:s,s:i}", "url", d->url, "attempts", d->attempt));
            delivery_free(d);
            continue;
        }
        /* Back off exponentially, as Stripe does (in seconds to hours; here scaled down). */
        d->next_at = mono_ms() + (double)e->cfg.retry_base_ms * (double)(1 << (d->attempt - 1));
        d->next = e->queue;
        e->queue = d;
    }
    pthread_mutex_unlock(&e->lock);
    curl_easy_cleanup(h);
    return NULL;
}

/* --- Objects ------------------------------------------------------------------------------- */

static const resource_t *resource_by_plural(const char *plural, size_t n)
{
    for (size_t i = 0; i < sizeof resources / sizeof *resources; i++)
        if (strlen(resources[i].plural) == n && strncmp(resources[i].plural, plural, n) == 0)
            return &resources[i];
    return NULL;
}

/* Merges typed parameters into an object, as Stripe applies an update: null unsets, metadata
 * merges key by key (an empty value removes the key), other objects merge field by field. */
static void apply(json_t *obj, const json_t *params, json_t *previous, int metadata)
{
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)params, k, v)
    {
        if (strcmp(k, "expand") == 0)
            continue;
        json_t *cur = json_object_get(obj, k);
        if (previous && !json_object_get(previous, k))
            json_object_set_new(previous, k, cur ? json_deep_copy(cur) : json_null());
        if (metadata && (json_is_null(v) || (json_is_string(v) && !json_string_length(v)))) {
            json_object_del(obj, k);
        } else if (json_is_null(v) && strcmp(k, "metadata") == 0) {
            json_object_set_new(obj, k, json_object());
        } else if (json_is_object(v) && json_is_object(cur)) {
            apply(cur, v, NULL, strcmp(k, "metadata") == 0);
        } else if (json_is_object(v) && strcmp(k, "metadata") == 0) {
            json_t *m = json_object();
            apply(m, v, NULL, 1);
            json_object_set_new(obj, k, m);
        } else {
            json_object_set(obj, k, v);
        }
    }
}

static reply_t create(sl_emulator_t *e, const resource_t *r, const json_t *params,
                      const char *request_id, const char *idem_key)
{
    const char *tmpl = sl__fixture_json(r->object);
    json_t *obj = tmpl ? json_loads(tmpl, 0, NULL) : json_object();
    char id[80];
    const char *given = json_string_value(json_object_get(params, "id"));
    if (given && *given) {
        if (json_object_get(e->objects, given)) {
            json_decref(obj);
            return stripe_error(400, "invalid_request_error", "resource_already_exists", "id",
                                "%s already exists.", given);
        }
        snprintf(id, sizeof id, "%s", given);
    } else {
        new_id(r->prefix, id, sizeof id);
    }
    json_object_set_new(obj, "id", json_string(id));
    json_object_set_new(obj, "object", json_string(r->object));
    json_object_set_new(obj, "created", json_integer((json_int_t)time(NULL)));
    json_object_set_new(obj, "livemode", json_false());
    if (json_object_get(obj, "metadata"))
        json_object_set_new(obj, "metadata", json_object());
    /* Fields the example fills that a new object starts without. */
    static const char *const cleared[] = {"email",
                                          "name",
                                          "description",
                                          "phone",
                                          "address",
                                          "shipping",
                                          "nickname",
                                          "lookup_key",
                                          "default_price",
                                          "unit_label",
                                          "statement_descriptor",
                                          "url"};
    for (size_t i = 0; i < sizeof cleared / sizeof *cleared; i++)
        if (json_object_get(obj, cleared[i]))
            json_object_set_new(obj, cleared[i], json_null());
    if (strcmp(r->object, "product") == 0 || strcmp(r->object, "price") == 0)
        json_object_set_new(obj, "active", json_true());
    if (strcmp(r->object, "webhook_endpoint") == 0)
        json_object_set_new(obj, "status", json_string("enabled"));
    if (strcmp(r->object, "price") == 0) {
        /* One-time unless recurring is given; recurring takes Stripe's defaults. */
        json_t *rec = json_object_get(params, "recurring");
        json_object_set_new(obj, "type", json_string(rec ? "recurring" : "one_time"));
        json_object_set_new(obj, "recurring",
                            rec ? json_pack("{s:n,s:s,s:i,s:s}", "aggregate_usage", "interval",
                                            "month", "interval_count", 1, "usage_type", "licensed")
                                : json_null());
    }
    apply(obj, params, NULL, 0);
    if (strcmp(r->object, "price") == 0 && json_is_integer(json_object_get(obj, "unit_amount"))) {
        char dec[32];
        snprintf(dec, sizeof dec, "%lld",
                 (long long)json_integer_value(json_object_get(obj, "unit_amount")));
        json_object_set_new(obj, "unit_amount_decimal", json_string(dec));
    }
    json_object_set(e->objects, id, obj);
    touch(e, id);
    json_t *list = json_object_get(e->lists, r->object);
    if (!list) {
        list = json_array();
        json_object_set_new(e->lists, r->object, list);
    }
    json_array_append_new(list, json_string(id));
    json_t *out = json_deep_copy(obj);
    if (strcmp(r->object, "webhook_endpoint") == 0) {
        char secret[64];
        random_token(secret, 32);
        char whsec[80];
        snprintf(whsec, sizeof whsec, "whsec_%s", secret);
        json_object_set_new(e->secrets, id, json_string(whsec));
        json_object_set_new(out, "secret", json_string(whsec)); /* shown once, as Stripe does */
    }
    if (r->emits) {
        char type[96];
        snprintf(type, sizeof type, "%s.created", r->object);
        emit(e, type, obj, NULL, request_id, idem_key);
    }
    json_decref(obj);
    return (reply_t){200, out, 0, NULL};
}

static reply_t update(sl_emulator_t *e, const resource_t *r, const char *id, const json_t *params,
                      const char *request_id, const char *idem_key)
{
    json_t *obj = json_object_get(e->objects, id);
    if (!obj || strcmp(json_string_value(json_object_get(obj, "object")) ?: "", r->object) != 0)
        return no_such(r->object, id);
    json_t *previous = json_object();
    apply(obj, params, previous, 0);
    touch(e, id);
    if (r->emits) {
        char type[96];
        snprintf(type, sizeof type, "%s.updated", r->object);
        emit(e, type, obj, previous, request_id, idem_key);
    } else {
        json_decref(previous);
    }
    return (reply_t){200, json_deep_copy(obj), 0, NULL};
}

static reply_t delete (sl_emulator_t *e, const resource_t *r, const char *id,
                       const char *request_id)
{
    json_t *obj = json_object_get(e->objects, id);
    if (!obj || strcmp(json_string_value(json_object_get(obj, "object")) ?: "", r->object) != 0)
        return no_such(r->object, id);
    json_incref(obj);
    json_object_del(e->objects, id);
    forget(e, id);
    json_t *list = json_object_get(e->lists, r->object);
    for (size_t i = 0; i < json_array_size(list); i++)
        if (strcmp(json_string_value(json_array_get(list, i)), id) == 0) {
            json_array_remove(list, i);
            break;
        }
    json_object_del(e->secrets, id);
    if (r->emits) {
        char type[96];
        snprintf(type, sizeof type, "%s.deleted", r->object);
        emit(e, type, obj, NULL, request_id, NULL);
    }
    json_decref(obj);
    return (reply_t){200, json_pack("{s:s,s:s,s:b}", "id", id, "object", r->object, "deleted", 1),
                     0, NULL};
}

/* created=N or created[gt|gte|lt|lte]=N */
static int created_matches(const json_t *filter, long long created)
{
    if (!filter)
        return 1;
    if (json_is_integer(filter))
        return created == json_integer_value(filter);
    const json_t *v;
    if ((v = json_object_get(filter, "gt")) && !(created > json_integer_value(v)))
        return 0;
    if ((v = json_object_get(filter, "gte")) && !(created >= json_integer_value(v)))
        return 0;
    if ((v = json_object_get(filter, "lt")) && !(created < json_integer_value(v)))
        return 0;
    if ((v = json_object_get(filter, "lte")) && !(created <= json_integer_value(v)))
        return 0;
    return 1;
}

/* Parameters of a list call that filter by an equal top-level field (email=, product=, ...). */
static int filters_match(const json_t *obj, const json_t *params)
{
    static const char *const paging[] = {"limit",   "starting_after",  "ending_before",
                                         "created", "expand",          "type",
                                         "types",   "delivery_success"};
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)params, k, v)
    {
        int skip = 0;
        for (size_t i = 0; i < sizeof paging / sizeof *paging; i++)
            skip |= strcmp(k, paging[i]) == 0;
        if (skip || json_is_object(v) || json_is_array(v))
            continue;
        const json_t *have = json_object_get(obj, k);
        if (!have || !json_equal(have, v))
            return 0;
    }
    return created_matches(json_object_get(params, "created"),
                           json_integer_value(json_object_get(obj, "created")));
}

/* A page of `items` (newest first already), cut by limit, starting_after and ending_before. */
static reply_t page_of(json_t *items, const json_t *params, const char *url)
{
    long long limit = json_is_integer(json_object_get(params, "limit"))
                          ? json_integer_value(json_object_get(params, "limit"))
                          : 10;
    if (limit < 1 || limit > 100) {
        json_decref(items);
        return stripe_error(400, "invalid_request_error", "parameter_invalid_integer", "limit",
                            "Invalid limit: must be an integer between 1 and 100");
    }
    const char *after = json_string_value(json_object_get(params, "starting_after"));
    const char *before = json_string_value(json_object_get(params, "ending_before"));
    size_t n = json_array_size(items), start = 0, end = n;
    const char *anchor = after ? after : before;
    if (anchor) {
        size_t at = n;
        for (size_t i = 0; i < n; i++)
            if (strcmp(json_string_value(json_object_get(json_array_get(items, i), "id")) ?: "",
                       anchor) == 0)
                at = i;
        if (at == n) {
            json_decref(items);
            return stripe_error(400, "invalid_request_error", "resource_missing",
                                after ? "starting_after" : "ending_before", "No such object: '%s'",
                                anchor);
        }
        if (after)
            start = at + 1;
        else
            end = at;
    }
    json_t *data = json_array();
    int has_more;
    if (before && !after) {
        size_t from = end > (size_t)limit ? end - (size_t)limit : 0;
        for (size_t i = from; i < end; i++)
            json_array_append(data, json_array_get(items, i));
        has_more = from > 0;
    } else {
        for (size_t i = start; i < end && json_array_size(data) < (size_t)limit; i++)
            json_array_append(data, json_array_get(items, i));
        has_more = start + json_array_size(data) < end;
    }
    json_decref(items);
    return (reply_t){200,
                     json_pack("{s:s,s:o,s:b,s:s}", "object", "list", "data", data, "has_more",
                               has_more, "url", url),
                     0, NULL};
}

static reply_t list(sl_emulator_t *e, const resource_t *r, const json_t *params, const char *url)
{
    json_t *items = json_array();
    const json_t *ids = json_object_get(e->lists, r->object);
    for (size_t i = json_array_size(ids); i-- > 0;) {
        const json_t *obj = json_object_get(e->objects, json_string_value(json_array_get(ids, i)));
        if (obj && filters_match(obj, params))
            json_array_append(items, (json_t *)obj);
    }
    return page_of(items, params, url);
}

/* --- Search: field:'v', field~'v', metadata['k']:'v', created>N, -negation, AND / OR ---------- */

typedef struct clause {
    char field[128];
    char meta[128]; /* metadata['key'] */
    char op[3];
    char value[256];
    int is_number;
    int negate;
} clause_t;

static int parse_clause(const char **pp, clause_t *c, char *err, size_t errlen)
{
    const char *p = *pp;
    memset(c, 0, sizeof *c);
    while (*p == ' ')
        p++;
    if (*p == '-') {
        c->negate = 1;
        p++;
    }
    size_t n = 0;
    while ((isalnum((unsigned char)*p) || *p == '_' || *p == '.') && n + 1 < sizeof c->field)
        c->field[n++] = *p++;
    if (!n) {
        snprintf(err, errlen, "expected a field name at `%.20s`", p);
        return -1;
    }
    if (strcmp(c->field, "metadata") == 0) {
        if (strncmp(p, "['", 2) != 0) {
            snprintf(err, errlen, "metadata takes a key: metadata['key']");
            return -1;
        }
        p += 2;
        n = 0;
        while (*p && *p != '\'' && n + 1 < sizeof c->meta)
            c->meta[n++] = *p++;
        if (strncmp(p, "']", 2) != 0) {
            snprintf(err, errlen, "unterminated metadata key");
            return -1;
        }
        p += 2;
    }
    if (p[0] == '>' || p[0] == '<') {
        c->op[0] = *p++;
        if (*p == '=')
            c->op[1] = *p++;
    } else if (*p == ':' || *p == '~') {
        c->op[0] = *p++;
    } else {
        snprintf(err, errlen, "expected :, ~, >, <, >= or <= after `%.64s`", c->field);
        return -1;
    }
    n = 0;
    if (*p == '\'' || *p == '"') {
        char q = *p++;
        while (*p && *p != q && n + 1 < sizeof c->value) {
            if (*p == '\\' && p[1])
                p++;
            c->value[n++] = *p++;
        }
        if (*p != q) {
            snprintf(err, errlen, "unterminated string value for `%.64s`", c->field);
            return -1;
        }
        p++;
    } else {
        while (*p && *p != ' ' && n + 1 < sizeof c->value)
            c->value[n++] = *p++;
        c->is_number = 1;
    }
    *pp = p;
    return 0;
}

static int clause_matches(const clause_t *c, const json_t *obj)
{
    const json_t *v = c->meta[0] ? json_object_get(json_object_get(obj, "metadata"), c->meta)
                                 : json_object_get(obj, c->field);
    int m = 0;
    char text[64];
    const char *s = json_string_value(v);
    if (!s && json_is_integer(v)) {
        snprintf(text, sizeof text, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        s = text;
    } else if (!s && json_is_boolean(v)) {
        s = json_is_true(v) ? "true" : "false";
    }
    if (c->op[0] == ':') {
        m = s ? strcasecmp(s, c->value) == 0 : strcmp(c->value, "null") == 0;
    } else if (c->op[0] == '~') {
        m = s && strcasestr(s, c->value) != NULL;
    } else if (json_is_integer(v)) {
        long long a = json_integer_value(v), b = strtoll(c->value, NULL, 10);
        m = c->op[0] == '>' ? (c->op[1] ? a >= b : a > b) : (c->op[1] ? a <= b : a < b);
    }
    return c->negate ? !m : m;
}

static reply_t search(sl_emulator_t *e, const resource_t *r, const json_t *params, const char *url)
{
    const char *q = json_string_value(json_object_get(params, "query"));
    clause_t clauses[16];
    size_t n = 0;
    int any = 0, all = 0;
    char err[256];
    const char *p = q ? q : "";
    while (*p) {
        if (n == 16)
            return stripe_error(400, "invalid_request_error", "search_query_invalid", "query",
                                "Too many clauses in the search query");
        if (parse_clause(&p, &clauses[n++], err, sizeof err))
            return stripe_error(400, "invalid_request_error", "search_query_invalid", "query",
                                "Invalid search query: %s", err);
        while (*p == ' ')
            p++;
        if (!strncmp(p, "AND ", 4)) {
            all = 1;
            p += 4;
        } else if (!strncmp(p, "OR ", 3)) {
            any = 1;
            p += 3;
        } else if (*p) {
            return stripe_error(400, "invalid_request_error", "search_query_invalid", "query",
                                "Invalid search query: expected AND or OR at `%.20s`", p);
        }
    }
    if (any && all)
        return stripe_error(400, "invalid_request_error", "search_query_invalid", "query",
                            "A search query cannot mix AND and OR");
    json_t *hits = json_array();
    const json_t *ids = json_object_get(e->lists, r->object);
    for (size_t i = json_array_size(ids); i-- > 0;) {
        const json_t *obj = json_object_get(e->objects, json_string_value(json_array_get(ids, i)));
        if (!obj)
            continue;
        int ok = any ? 0 : 1;
        for (size_t c = 0; c < n; c++)
            ok = any ? ok || clause_matches(&clauses[c], obj)
                     : ok && clause_matches(&clauses[c], obj);
        if (ok)
            json_array_append(hits, (json_t *)obj);
    }
    long long limit = json_is_integer(json_object_get(params, "limit"))
                          ? json_integer_value(json_object_get(params, "limit"))
                          : 10;
    const char *page = json_string_value(json_object_get(params, "page"));
    size_t offset = page && !strncmp(page, "page_", 5) ? strtoul(page + 5, NULL, 10) : 0;
    json_t *data = json_array();
    for (size_t i = offset; i < json_array_size(hits) && json_array_size(data) < (size_t)limit; i++)
        json_array_append(data, json_array_get(hits, i));
    size_t next = offset + json_array_size(data);
    int more = next < json_array_size(hits);
    char next_page[32];
    snprintf(next_page, sizeof next_page, "page_%zu", next);
    json_t *out =
        json_pack("{s:s,s:o,s:b,s:s,s:I}", "object", "search_result", "data", data, "has_more",
                  more, "url", url, "total_count", (json_int_t)json_array_size(hits));
    json_object_set_new(out, "next_page", more ? json_string(next_page) : json_null());
    json_decref(hits);
    return (reply_t){200, out, 0, NULL};
}

/* --- Events API ---------------------------------------------------------------------------- */

static int type_matches(const char *pattern, const char *type)
{
    size_t n = strlen(pattern);
    if (n && pattern[n - 1] == '*')
        return strncmp(pattern, type, n - 1) == 0;
    return strcmp(pattern, type) == 0;
}

static reply_t events_list(sl_emulator_t *e, const json_t *params)
{
    const char *type = json_string_value(json_object_get(params, "type"));
    const json_t *types = json_object_get(params, "types");
    json_t *items = json_array();
    for (size_t i = json_array_size(e->events); i-- > 0;) {
        json_t *ev = json_array_get(e->events, i);
        const char *t = json_string_value(json_object_get(ev, "type"));
        if (type && !type_matches(type, t))
            continue;
        if (json_array_size(types)) {
            int ok = 0;
            for (size_t k = 0; k < json_array_size(types); k++)
                ok |= type_matches(json_string_value(json_array_get(types, k)) ?: "", t);
            if (!ok)
                continue;
        }
        if (!created_matches(json_object_get(params, "created"),
                             json_integer_value(json_object_get(ev, "created"))))
            continue;
        json_array_append(items, ev);
    }
    return page_of(items, params, "/v1/events");
}

/* --- Requests ------------------------------------------------------------------------------ */

/* The catalog operation for METHOD PATH; literal segments beat parameters. Fills path params. */
static const sl_op_t *route(const char *method, const char *path, json_t *params)
{
    const sl_op_t *best = NULL;
    int best_score = -1;
    char segs[16][128];
    size_t nseg = 0;
    for (const char *p = path; *p && nseg < 16;) {
        while (*p == '/')
            p++;
        if (!*p)
            break;
        size_t n = strcspn(p, "/");
        snprintf(segs[nseg++], sizeof segs[0], "%.*s", (int)(n < 127 ? n : 127), p);
        p += n;
    }
    for (size_t i = 0; i < sl_op_count(); i++) {
        const sl_op_t *op = sl_op_at(i);
        if (strcmp(sl_op_method(op), method) != 0)
            continue;
        const char *t = sl_op_path(op);
        size_t k = 0;
        int score = 0, ok = 1;
        for (const char *p = t; *p && ok;) {
            while (*p == '/')
                p++;
            if (!*p)
                break;
            size_t n = strcspn(p, "/");
            if (k >= nseg)
                ok = 0;
            else if (*p == '{')
                ;
            else if (strlen(segs[k]) == n && strncmp(segs[k], p, n) == 0)
                score++;
            else
                ok = 0;
            k++;
            p += n;
        }
        if (ok && k == nseg && score > best_score) {
            best = op;
            best_score = score;
        }
    }
    if (best) {
        const char *t = sl_op_path(best);
        size_t k = 0;
        for (const char *p = t; *p;) {
            while (*p == '/')
                p++;
            if (!*p)
                break;
            size_t n = strcspn(p, "/");
            if (*p == '{') {
                char name[128];
                snprintf(name, sizeof name, "%.*s", (int)(n - 2), p + 1);
                json_object_set_new(params, name, json_string(segs[k]));
            }
            k++;
            p += n;
        }
    }
    return best;
}

/* The parameter a validation message names (between its first backquotes). */
static void named_param(const char *msg, char *out, size_t n)
{
    const char *a = strchr(msg, '`'), *b = a ? strchr(a + 1, '`') : NULL;
    snprintf(out, n, "%.*s", a && b ? (int)(b - a - 1) : 0, a ? a + 1 : "");
}

static const struct test_card *test_card_of(const char *pm)
{
    for (size_t i = 0; pm && i < sizeof test_cards / sizeof *test_cards; i++)
        if (strcmp(pm, test_cards[i].token) == 0)
            return &test_cards[i];
    return NULL;
}

/* A payment method id for a payment: a test token (pm_card_visa) becomes a new payment method
 * as Stripe makes one; an existing pm_ is used as it is. NULL with *err set if unknown. */
static const char *payment_method_for(sl_emulator_t *e, const char *pm, reply_t *err)
{
    const struct test_card *card = test_card_of(pm);
    if (card) {
        json_t *params = json_pack("{s:s,s:{s:s,s:s}}", "type", "card", "card", "brand",
                                   card->brand, "last4", card->last4);
        reply_t r = create(e, resource_by_plural("payment_methods", 15), params, "", NULL);
        json_decref(params);
        const char *id = json_string_value(json_object_get(r.body, "id"));
        static __thread char made[80];
        snprintf(made, sizeof made, "%s", id ? id : "");
        json_object_set_new(e->pm_tokens, made, json_string(card->token));
        json_decref(r.body);
        return made;
    }
    const json_t *obj = json_object_get(e->objects, pm);
    if (!obj || strcmp(json_string_value(json_object_get(obj, "object")) ?: "", "payment_method")) {
        *err = stripe_error(400, "invalid_request_error", "resource_missing", "payment_method",
                            "No such PaymentMethod: '%s'", pm);
        return NULL;
    }
    return pm;
}

/* Confirms a payment intent with its payment method: a charge that succeeds, or a decline. */
static reply_t confirm_intent(sl_emulator_t *e, json_t *pi, const char *request_id,
                              const char *idem_key)
{
    const char *pm = json_string_value(json_object_get(pi, "payment_method"));
    if (!pm)
        return stripe_error(400, "invalid_request_error", "payment_intent_unexpected_state",
                            "payment_method",
                            "You cannot confirm this PaymentIntent because it's missing a "
                            "payment method.");
    const json_t *pmo = json_object_get(e->objects, pm);
    const struct test_card *card =
        test_card_of(json_string_value(json_object_get(e->pm_tokens, pm)));
    const char *pi_id = json_string_value(json_object_get(pi, "id"));
    json_int_t amount = json_integer_value(json_object_get(pi, "amount"));
    /* The charge, paid or failed. */
    json_t *cparams = json_pack("{s:I,s:O,s:s,s:s,s:O,s:b,s:s}", "amount", amount, "currency",
                                json_object_get(pi, "currency"), "payment_intent", pi_id,
                                "payment_method", pm, "customer", json_object_get(pi, "customer"),
                                "paid", card && card->decline_code ? 0 : 1, "status",
                                card && card->decline_code ? "failed" : "succeeded");
    reply_t cr = create(e, resource_by_plural("charges", 7), cparams, request_id, idem_key);
    json_decref(cparams);
    json_t *charge = json_object_get(e->objects, json_string_value(json_object_get(cr.body, "id")));
    json_decref(cr.body);
    json_object_set_new(pi, "latest_charge",
                        json_string(json_string_value(json_object_get(charge, "id"))));
    if (card && card->decline_code) {
        json_object_set_new(charge, "failure_code", json_string("card_declined"));
        json_object_set_new(charge, "failure_message", json_string("Your card was declined."));
        json_t *lpe = json_pack("{s:s,s:s,s:s,s:s,s:O}", "type", "card_error", "code",
                                "card_declined", "decline_code", card->decline_code, "message",
                                "Your card was declined.", "payment_method", pmo);
        json_object_set_new(pi, "last_payment_error", lpe);
        json_object_set_new(pi, "status", json_string("requires_payment_method"));
        json_object_set_new(pi, "payment_method", json_null());
        emit(e, "charge.failed", charge, NULL, request_id, idem_key);
        emit(e, "payment_intent.payment_failed", pi, NULL, request_id, idem_key);
        reply_t r =
            stripe_error(402, "card_error", "card_declined", NULL, "Your card was declined.");
        json_t *eo = json_object_get(r.body, "error");
        json_object_set_new(eo, "decline_code", json_string(card->decline_code));
        json_object_set_new(eo, "charge",
                            json_string(json_string_value(json_object_get(charge, "id"))));
        json_object_set(eo, "payment_intent", pi);
        return r;
    }
    int manual =
        strcmp(json_string_value(json_object_get(pi, "capture_method")) ?: "", "manual") == 0;
    json_object_set_new(pi, "last_payment_error", json_null());
    if (manual) {
        json_object_set_new(pi, "status", json_string("requires_capture"));
        json_object_set_new(pi, "amount_capturable", json_integer(amount));
        json_object_set_new(charge, "captured", json_false());
        emit(e, "charge.succeeded", charge, NULL, request_id, idem_key);
        emit(e, "payment_intent.amount_capturable_updated", pi, NULL, request_id, idem_key);
    } else {
        json_object_set_new(pi, "status", json_string("succeeded"));
        json_object_set_new(pi, "amount_received", json_integer(amount));
        json_object_set_new(charge, "captured", json_true());
        emit(e, "charge.succeeded", charge, NULL, request_id, idem_key);
        emit(e, "payment_intent.succeeded", pi, NULL, request_id, idem_key);
    }
    return (reply_t){200, json_deep_copy(pi), 0, NULL};
}

static reply_t payment_intents(sl_emulator_t *e, const char *verb, const char *id, json_t *typed,
                               const char *request_id, const char *idem_key)
{
    reply_t err = {0, NULL, 0, NULL};
    const char *pm = json_string_value(json_object_get(typed, "payment_method"));
    if (pm) {
        const char *real = payment_method_for(e, pm, &err);
        if (!real)
            return err;
        json_object_set_new(typed, "payment_method", json_string(real));
    }
    int confirm = json_is_true(json_object_get(typed, "confirm"));
    json_object_del(typed, "confirm");
    json_t *pi = NULL;
    if (strcmp(verb, "create") == 0) {
        const resource_t *r = resource_by_plural("payment_intents", 15);
        reply_t cr = create(e, r, typed, request_id, idem_key);
        if (cr.status != 200)
            return cr;
        pi = json_object_get(e->objects, json_string_value(json_object_get(cr.body, "id")));
        json_decref(cr.body);
        json_object_set_new(pi, "status",
                            json_string(json_object_get(pi, "payment_method") &&
                                                !json_is_null(json_object_get(pi, "payment_method"))
                                            ? "requires_confirmation"
                                            : "requires_payment_method"));
        json_object_set_new(pi, "amount_received", json_integer(0));
        json_object_set_new(pi, "amount_capturable", json_integer(0));
        json_object_set_new(pi, "latest_charge", json_null());
        json_object_set_new(pi, "last_payment_error", json_null());
        json_object_set_new(pi, "canceled_at", json_null());
        json_object_set_new(pi, "cancellation_reason", json_null());
        char secret[40];
        random_token(secret, 24);
        char cs[160];
        snprintf(cs, sizeof cs, "%s_secret_%s", json_string_value(json_object_get(pi, "id")),
                 secret);
        json_object_set_new(pi, "client_secret", json_string(cs));
        if (!confirm)
            return (reply_t){200, json_deep_copy(pi), 0, NULL};
        return confirm_intent(e, pi, request_id, idem_key);
    }
    pi = id ? json_object_get(e->objects, id) : NULL;
    if (!pi || strcmp(json_string_value(json_object_get(pi, "object")) ?: "", "payment_intent"))
        return no_such("payment_intent", id ? id : "");
    const char *status = json_string_value(json_object_get(pi, "status")) ?: "";
    if (strcmp(verb, "confirm") == 0) {
        if (strcmp(status, "requires_payment_method") && strcmp(status, "requires_confirmation"))
            return stripe_error(
                400, "invalid_request_error", "payment_intent_unexpected_state", NULL,
                "This PaymentIntent's status is %s, so it cannot be confirmed.", status);
        apply(pi, typed, NULL, 0);
        return confirm_intent(e, pi, request_id, idem_key);
    }
    if (strcmp(verb, "cancel") == 0) {
        if (!strcmp(status, "succeeded") || !strcmp(status, "canceled"))
            return stripe_error(400, "invalid_request_error", "payment_intent_unexpected_state",
                                NULL,
                                "You cannot cancel this PaymentIntent because it has a "
                                "status of %s.",
                                status);
        json_object_set_new(pi, "status", json_string("canceled"));
        json_object_set_new(pi, "canceled_at", json_integer((json_int_t)time(NULL)));
        json_object_set(pi, "cancellation_reason",
                        json_object_get(typed, "cancellation_reason") ?: json_null());
        emit(e, "payment_intent.canceled", pi, NULL, request_id, idem_key);
        return (reply_t){200, json_deep_copy(pi), 0, NULL};
    }
    if (strcmp(verb, "capture") == 0) {
        if (strcmp(status, "requires_capture"))
            return stripe_error(400, "invalid_request_error", "payment_intent_unexpected_state",
                                NULL,
                                "This PaymentIntent could not be captured because it has a "
                                "status of %s.",
                                status);
        json_int_t amount = json_is_integer(json_object_get(typed, "amount_to_capture"))
                                ? json_integer_value(json_object_get(typed, "amount_to_capture"))
                                : json_integer_value(json_object_get(pi, "amount_capturable"));
        json_object_set_new(pi, "status", json_string("succeeded"));
        json_object_set_new(pi, "amount_received", json_integer(amount));
        json_object_set_new(pi, "amount_capturable", json_integer(0));
        json_t *charge =
            json_object_get(e->objects, json_string_value(json_object_get(pi, "latest_charge")));
        if (charge) {
            json_object_set_new(charge, "captured", json_true());
            json_object_set_new(charge, "amount_captured", json_integer(amount));
            emit(e, "charge.captured", charge, NULL, request_id, idem_key);
        }
        emit(e, "payment_intent.succeeded", pi, NULL, request_id, idem_key);
        return (reply_t){200, json_deep_copy(pi), 0, NULL};
    }
    return update(e, resource_by_plural("payment_intents", 15), id, typed, request_id, idem_key);
}

/* --- Invoices: draft -> open -> paid | void | uncollectible ------------------------------- */

static const char *status_of(const json_t *obj)
{
    return json_string_value(json_object_get(obj, "status")) ?: "";
}

/* Rebuilds an invoice's lines and totals from the invoice items attached to it. */
static void invoice_total(sl_emulator_t *e, json_t *inv)
{
    const char *id = json_string_value(json_object_get(inv, "id"));
    json_t *lines = json_array();
    json_int_t total = 0;
    const json_t *items = json_object_get(e->lists, "invoiceitem");
    for (size_t i = 0; i < json_array_size(items); i++) {
        const json_t *ii = json_object_get(e->objects, json_string_value(json_array_get(items, i)));
        if (!ii || strcmp(json_string_value(json_object_get(ii, "invoice")) ?: "", id))
            continue;
        json_int_t amount = json_integer_value(json_object_get(ii, "amount"));
        total += amount;
        json_array_append_new(
            lines, json_pack("{s:s,s:s,s:I,s:O,s:O,s:s,s:O}", "id",
                             json_string_value(json_object_get(ii, "id")), "object", "line_item",
                             "amount", amount, "currency", json_object_get(ii, "currency"),
                             "description", json_object_get(ii, "description"), "type",
                             "invoiceitem", "invoice_item", json_object_get(ii, "id")));
    }
    char url[80];
    snprintf(url, sizeof url, "/v1/invoices/%s/lines", id);
    json_object_set_new(inv, "lines",
                        json_pack("{s:s,s:o,s:b,s:I,s:s}", "object", "list", "data", lines,
                                  "has_more", 0, "total_count", (json_int_t)json_array_size(lines),
                                  "url", url));
    const char *keys[] = {"subtotal",   "subtotal_excluding_tax", "total", "total_excluding_tax",
                          "amount_due", "amount_remaining"};
    for (size_t i = 0; i < sizeof keys / sizeof *keys; i++)
        json_object_set_new(inv, keys[i], json_integer(total));
}

static reply_t invoice_state_error(const json_t *inv, const char *what)
{
    return stripe_error(400, "invalid_request_error", "invoice_not_editable", NULL,
                        "You can only %s an invoice in the %s status; this one is %s.", what,
                        strcmp(what, "pay") == 0 || strcmp(what, "void") == 0 ||
                                strcmp(what, "mark uncollectible") == 0 || strcmp(what, "send") == 0
                            ? "open"
                            : "draft",
                        status_of(inv));
}

static reply_t invoices(sl_emulator_t *e, const char *verb, const char *id, json_t *typed,
                        const char *request_id, const char *idem_key)
{
    const resource_t *r = resource_by_plural("invoices", 8);
    if (strcmp(verb, "create") == 0) {
        const char *cus = json_string_value(json_object_get(typed, "customer"));
        const json_t *customer = cus ? json_object_get(e->objects, cus) : NULL;
        if (!customer)
            return stripe_error(400, "invalid_request_error", "resource_missing", "customer",
                                "No such customer: '%s'", cus ? cus : "");
        int include =
            strcmp(json_string_value(json_object_get(typed, "pending_invoice_items_behavior"))
                       ?: "",
                   "include") == 0;
        json_object_del(typed, "pending_invoice_items_behavior");
        reply_t cr = create(e, r, typed, request_id, idem_key);
        if (cr.status != 200)
            return cr;
        json_t *inv =
            json_object_get(e->objects, json_string_value(json_object_get(cr.body, "id")));
        json_decref(cr.body);
        json_object_set_new(inv, "status", json_string("draft"));
        json_object_set_new(inv, "number", json_null());
        json_object_set_new(inv, "paid", json_false());
        json_object_set_new(inv, "amount_paid", json_integer(0));
        json_object_set_new(inv, "attempted", json_false());
        json_object_set_new(inv, "attempt_count", json_integer(0));
        json_object_set_new(inv, "charge", json_null());
        json_object_set_new(inv, "payment_intent", json_null());
        json_object_set(inv, "customer_email", json_object_get(customer, "email"));
        json_object_set(inv, "customer_name", json_object_get(customer, "name"));
        json_object_set_new(inv, "status_transitions",
                            json_pack("{s:n,s:n,s:n,s:n}", "finalized_at",
                                      "marked_uncollectible_at", "paid_at", "voided_at"));
        if (include) {
            const json_t *items = json_object_get(e->lists, "invoiceitem");
            for (size_t i = 0; i < json_array_size(items); i++) {
                json_t *ii =
                    json_object_get(e->objects, json_string_value(json_array_get(items, i)));
                if (ii && json_is_null(json_object_get(ii, "invoice")) &&
                    strcmp(json_string_value(json_object_get(ii, "customer")) ?: "", cus) == 0)
                    json_object_set(ii, "invoice", json_object_get(inv, "id"));
            }
        }
        invoice_total(e, inv);
        return (reply_t){200, json_deep_copy(inv), 0, NULL};
    }
    json_t *inv = id ? json_object_get(e->objects, id) : NULL;
    if (!inv || strcmp(json_string_value(json_object_get(inv, "object")) ?: "", "invoice"))
        return no_such("invoice", id ? id : "");
    const char *st = status_of(inv);
    json_int_t now = (json_int_t)time(NULL);
    if (strcmp(verb, "update") == 0) {
        if (strcmp(st, "draft") &&
            !(json_object_size(typed) == 1 && json_object_get(typed, "metadata")))
            return invoice_state_error(inv, "update");
        return update(e, r, id, typed, request_id, idem_key);
    }
    if (strcmp(verb, "delete") == 0) {
        if (strcmp(st, "draft"))
            return invoice_state_error(inv, "delete");
        return delete (e, r, id, request_id);
    }
    if (strcmp(verb, "finalize") == 0) {
        if (strcmp(st, "draft"))
            return invoice_state_error(inv, "finalize");
        invoice_total(e, inv);
        char number[64];
        snprintf(number, sizeof number, "%s-%04lu",
                 json_string_value(json_object_get(inv, "account_country")) ? "SLUICE" : "INV",
                 ++e->invoice_numbers);
        json_object_set_new(inv, "number", json_string(number));
        json_object_set_new(inv, "status", json_string("open"));
        json_object_set_new(json_object_get(inv, "status_transitions"), "finalized_at",
                            json_integer(now));
        emit(e, "invoice.finalized", inv, NULL, request_id, idem_key);
        return (reply_t){200, json_deep_copy(inv), 0, NULL};
    }
    if (strcmp(verb, "void") == 0 || strcmp(verb, "mark_uncollectible") == 0 ||
        strcmp(verb, "send") == 0) {
        int is_void = strcmp(verb, "void") == 0, is_send = strcmp(verb, "send") == 0;
        if (strcmp(st, "open"))
            return invoice_state_error(inv, is_void   ? "void"
                                            : is_send ? "send"
                                                      : "mark uncollectible");
        if (is_send) {
            emit(e, "invoice.sent", inv, NULL, request_id, idem_key);
            return (reply_t){200, json_deep_copy(inv), 0, NULL};
        }
        json_object_set_new(inv, "status", json_string(is_void ? "void" : "uncollectible"));
        json_object_set_new(json_object_get(inv, "status_transitions"),
                            is_void ? "voided_at" : "marked_uncollectible_at", json_integer(now));
        emit(e, is_void ? "invoice.voided" : "invoice.marked_uncollectible", inv, NULL, request_id,
             idem_key);
        return (reply_t){200, json_deep_copy(inv), 0, NULL};
    }
    if (strcmp(verb, "pay") == 0) {
        if (strcmp(st, "open"))
            return invoice_state_error(inv, "pay");
        json_object_set_new(inv, "attempted", json_true());
        json_object_set_new(
            inv, "attempt_count",
            json_integer(json_integer_value(json_object_get(inv, "attempt_count")) + 1));
        if (!json_is_true(json_object_get(typed, "paid_out_of_band"))) {
            /* Charge the payment method given, or the customer's default one. */
            const char *pm = json_string_value(json_object_get(typed, "payment_method"));
            const json_t *cus =
                json_object_get(e->objects, json_string_value(json_object_get(inv, "customer")));
            if (!pm)
                pm = json_string_value(json_object_get(json_object_get(cus, "invoice_settings"),
                                                       "default_payment_method"));
            if (!pm)
                return stripe_error(400, "invalid_request_error",
                                    "invoice_no_customer_payment_method", "payment_method",
                                    "This customer has no attached payment source or default "
                                    "payment method.");
            json_t *pi_params =
                json_pack("{s:O,s:O,s:O,s:s,s:b}", "amount", json_object_get(inv, "amount_due"),
                          "currency", json_object_get(inv, "currency"), "customer",
                          json_object_get(inv, "customer"), "payment_method", pm, "confirm", 1);
            reply_t paid = payment_intents(e, "create", NULL, pi_params, request_id, idem_key);
            json_decref(pi_params);
            const json_t *pi =
                json_object_get(json_object_get(paid.body, "error"), "payment_intent");
            if (!pi)
                pi = paid.body;
            json_object_set(inv, "payment_intent", json_object_get(pi, "id"));
            json_object_set(inv, "charge", json_object_get(pi, "latest_charge"));
            if (paid.status != 200) {
                emit(e, "invoice.payment_failed", inv, NULL, request_id, idem_key);
                return paid;
            }
            json_decref(paid.body);
        } else {
            json_object_set_new(inv, "paid_out_of_band", json_true());
        }
        json_object_set_new(inv, "status", json_string("paid"));
        json_object_set_new(inv, "paid", json_true());
        json_object_set(inv, "amount_paid", json_object_get(inv, "amount_due"));
        json_object_set_new(inv, "amount_remaining", json_integer(0));
        json_object_set_new(json_object_get(inv, "status_transitions"), "paid_at",
                            json_integer(now));
        emit(e, "invoice.paid", inv, NULL, request_id, idem_key);
        emit(e, "invoice.payment_succeeded", inv, NULL, request_id, idem_key);
        return (reply_t){200, json_deep_copy(inv), 0, NULL};
    }
    return stripe_error(501, "api_error", "not_implemented", NULL,
                        "sluice emulate does not implement invoices.%s yet", verb);
}

static reply_t invoiceitems_write(sl_emulator_t *e, const char *verb, const char *id, json_t *typed,
                                  const char *request_id, const char *idem_key)
{
    const resource_t *r = resource_by_plural("invoiceitems", 12);
    const char *inv_id = json_string_value(json_object_get(typed, "invoice"));
    json_t *inv = inv_id ? json_object_get(e->objects, inv_id) : NULL;
    if (inv_id && !inv)
        return no_such("invoice", inv_id);
    if (inv && strcmp(status_of(inv), "draft"))
        return invoice_state_error(inv, "add items to");
    if (strcmp(verb, "create") == 0) {
        /* amount, or unit_amount x quantity, or a price's unit_amount x quantity */
        json_int_t qty = json_is_integer(json_object_get(typed, "quantity"))
                             ? json_integer_value(json_object_get(typed, "quantity"))
                             : 1;
        const json_t *price =
            json_object_get(e->objects, json_string_value(json_object_get(typed, "price")) ?: "");
        if (!json_object_get(typed, "amount")) {
            json_int_t unit = json_is_integer(json_object_get(typed, "unit_amount"))
                                  ? json_integer_value(json_object_get(typed, "unit_amount"))
                                  : json_integer_value(json_object_get(price, "unit_amount"));
            json_object_set_new(typed, "amount", json_integer(unit * qty));
            if (price && !json_object_get(typed, "currency"))
                json_object_set(typed, "currency", json_object_get(price, "currency"));
        }
        json_object_set_new(typed, "quantity", json_integer(qty));
        if (!inv_id)
            json_object_set_new(typed, "invoice", json_null());
        reply_t out = create(e, r, typed, request_id, idem_key);
        if (inv && out.status == 200)
            invoice_total(e, inv);
        return out;
    }
    const json_t *ii = id ? json_object_get(e->objects, id) : NULL;
    const json_t *on =
        ii ? json_object_get(e->objects, json_string_value(json_object_get(ii, "invoice")) ?: "")
           : NULL;
    if (on && strcmp(status_of(on), "draft"))
        return invoice_state_error(on, strcmp(verb, "delete") == 0 ? "delete items of"
                                                                   : "update items of");
    reply_t out = strcmp(verb, "delete") == 0
                      ? delete (e, r, id ? id : "", request_id)
                      : update(e, r, id ? id : "", typed, request_id, idem_key);
    if (on)
        invoice_total(e, (json_t *)on);
    return out;
}

/* --- Subscriptions: the first invoice is made and paid at once ------------------------------ */

static json_int_t period_seconds(const json_t *price)
{
    const json_t *rec = json_object_get(price, "recurring");
    const char *iv = json_string_value(json_object_get(rec, "interval")) ?: "month";
    json_int_t n = json_is_integer(json_object_get(rec, "interval_count"))
                       ? json_integer_value(json_object_get(rec, "interval_count"))
                       : 1;
    json_int_t unit = !strcmp(iv, "day")    ? 86400
                      : !strcmp(iv, "week") ? 7 * 86400
                      : !strcmp(iv, "year") ? 365 * 86400
                                            : 30 * 86400;
    return n * unit;
}

/* A subscription item, kept as an object of its own (subscription_items.retrieve finds it) and
 * shared with the subscription's items list. */
static json_t *new_sub_item(sl_emulator_t *e, const char *sub_id, const json_t *price,
                            json_int_t qty, json_int_t now)
{
    char si[80];
    new_id("si", si, sizeof si);
    json_t *item = json_pack("{s:s,s:s,s:I,s:o,s:I,s:s,s:o}", "id", si, "object",
                             "subscription_item", "created", now, "price", json_deep_copy(price),
                             "quantity", qty, "subscription", sub_id, "metadata", json_object());
    json_object_set(e->objects, si, item);
    touch(e, si);
    return item;
}

/* Checks items[] of subscriptions.update before anything changes. */
static reply_t check_item_changes(sl_emulator_t *e, const json_t *sub, const json_t *changes)
{
    const json_t *data = json_object_get(json_object_get(sub, "items"), "data");
    for (size_t i = 0; i < json_array_size(changes); i++) {
        const json_t *c = json_array_get(changes, i);
        const char *iid = json_string_value(json_object_get(c, "id"));
        const char *pid = json_string_value(json_object_get(c, "price"));
        char param[48];
        if (iid) {
            int found = 0;
            for (size_t k = 0; k < json_array_size(data); k++)
                found |= !strcmp(
                    json_string_value(json_object_get(json_array_get(data, k), "id")) ?: "", iid);
            if (!found) {
                snprintf(param, sizeof param, "items[%zu][id]", i);
                return stripe_error(400, "invalid_request_error", "resource_missing", param,
                                    "No such subscription item: '%s' on this subscription", iid);
            }
        } else if (!pid) {
            snprintf(param, sizeof param, "items[%zu][price]", i);
            return stripe_error(400, "invalid_request_error", "parameter_missing", param,
                                "A new subscription item needs a price.");
        }
        const json_t *price = pid ? json_object_get(e->objects, pid) : NULL;
        if (pid && (!price || !json_is_object(json_object_get(price, "recurring")))) {
            snprintf(param, sizeof param, "items[%zu][price]", i);
            return stripe_error(
                400, "invalid_request_error", "resource_missing", param,
                price ? "The price specified is not recurring: '%s'" : "No such price: '%s'", pid);
        }
    }
    return (reply_t){0, NULL, 0, NULL};
}

/* Applies checked items[] changes: an id with deleted=true removes that item, an id with a price
 * or quantity changes it, no id adds one. Prorations are not computed. */
static void apply_item_changes(sl_emulator_t *e, json_t *sub, const json_t *changes)
{
    json_t *list = json_object_get(sub, "items");
    json_t *data = json_object_get(list, "data");
    const char *sub_id = json_string_value(json_object_get(sub, "id"));
    json_int_t now = (json_int_t)time(NULL);
    for (size_t i = 0; i < json_array_size(changes); i++) {
        const json_t *c = json_array_get(changes, i);
        const char *iid = json_string_value(json_object_get(c, "id"));
        const json_t *price =
            json_object_get(e->objects, json_string_value(json_object_get(c, "price")) ?: "");
        const json_t *qty = json_object_get(c, "quantity");
        if (!iid) {
            json_array_append_new(
                data, new_sub_item(e, sub_id, price,
                                   json_is_integer(qty) ? json_integer_value(qty) : 1, now));
            continue;
        }
        for (size_t k = 0; k < json_array_size(data); k++) {
            json_t *item = json_array_get(data, k);
            if (strcmp(json_string_value(json_object_get(item, "id")) ?: "", iid))
                continue;
            if (json_is_true(json_object_get(c, "deleted"))) {
                json_object_del(e->objects, iid);
                forget(e, iid);
                json_array_remove(data, k);
                break;
            }
            if (price)
                json_object_set_new(item, "price", json_deep_copy(price));
            if (json_is_integer(qty))
                json_object_set(item, "quantity", (json_t *)qty);
            if (json_is_object(json_object_get(c, "metadata"))) {
                json_t *m = json_pack("{s:O}", "metadata", json_object_get(c, "metadata"));
                apply(item, m, NULL, 0);
                json_decref(m);
            }
            break;
        }
    }
    json_object_set_new(list, "total_count", json_integer((json_int_t)json_array_size(data)));
}

/* An invoice for a subscription's items, finalized and paid with its payment method. Returns
 * the invoice's status ("paid", or "open" when the payment failed). */
static const char *bill_subscription(sl_emulator_t *e, json_t *sub, const char *reason,
                                     const char *request_id, int out_of_band)
{
    const char *cus = json_string_value(json_object_get(sub, "customer"));
    const char *sub_id = json_string_value(json_object_get(sub, "id"));
    json_t *ip = json_pack("{s:s,s:s}", "customer", cus, "subscription", sub_id);
    reply_t ir = invoices(e, "create", NULL, ip, request_id, NULL);
    json_decref(ip);
    char inv_id[80];
    snprintf(inv_id, sizeof inv_id, "%s", json_string_value(json_object_get(ir.body, "id")) ?: "");
    json_decref(ir.body);
    const json_t *data = json_object_get(json_object_get(sub, "items"), "data");
    for (size_t i = 0; !out_of_band && i < json_array_size(data); i++) {
        const json_t *it = json_array_get(data, i);
        json_t *iip = json_pack("{s:s,s:s,s:O,s:O}", "customer", cus, "invoice", inv_id, "price",
                                json_object_get(json_object_get(it, "price"), "id"), "quantity",
                                json_object_get(it, "quantity"));
        json_decref(invoiceitems_write(e, "create", NULL, iip, request_id, NULL).body);
        json_decref(iip);
    }
    json_object_set_new(sub, "latest_invoice", json_string(inv_id));
    json_t *inv = json_object_get(e->objects, inv_id);
    json_object_set_new(inv, "billing_reason", json_string(reason));
    json_decref(invoices(e, "finalize", inv_id, NULL, request_id, NULL).body);
    json_t *pp;
    const char *pm = json_string_value(json_object_get(sub, "default_payment_method"));
    if (out_of_band)
        pp = json_pack("{s:b}", "paid_out_of_band", 1);
    else
        pp = pm ? json_pack("{s:s}", "payment_method", pm) : json_object();
    json_decref(invoices(e, "pay", inv_id, pp, request_id, NULL).body);
    json_decref(pp);
    return status_of(json_object_get(e->objects, inv_id));
}

/* The next period starts now, as when a test clock reaches the period's end: invoice.upcoming,
 * then the renewal invoice is made and paid (past_due if the payment fails), or the
 * subscription ends if it was set to cancel at the period's end. */
static reply_t subscription_renew(sl_emulator_t *e, const char *id, const char *request_id)
{
    json_t *sub = json_object_get(e->objects, id);
    if (!sub || strcmp(json_string_value(json_object_get(sub, "object")) ?: "", "subscription"))
        return no_such("subscription", id);
    const char *st = status_of(sub);
    if (strcmp(st, "active") && strcmp(st, "trialing") && strcmp(st, "past_due"))
        return stripe_error(400, "invalid_request_error", "subscription_unexpected_state", NULL,
                            "Only an active, trialing or past_due subscription renews; this "
                            "one is %s.",
                            st);
    json_int_t now = (json_int_t)time(NULL);
    json_t *previous = json_pack("{s:O,s:O,s:s}", "current_period_start",
                                 json_object_get(sub, "current_period_start"), "current_period_end",
                                 json_object_get(sub, "current_period_end"), "status", st);
    if (json_is_true(json_object_get(sub, "cancel_at_period_end"))) {
        json_decref(previous);
        json_object_set_new(sub, "status", json_string("canceled"));
        json_object_set_new(sub, "canceled_at", json_integer(now));
        json_object_set_new(sub, "ended_at", json_integer(now));
        emit(e, "customer.subscription.deleted", sub, NULL, request_id, NULL);
        return (reply_t){200, json_deep_copy(sub), 0, NULL};
    }
    /* The preview Stripe sends ahead of the renewal: an invoice without an id. */
    const json_t *data = json_object_get(json_object_get(sub, "items"), "data");
    json_int_t total = 0, period = 30 * 86400;
    json_t *lines = json_array();
    for (size_t i = 0; i < json_array_size(data); i++) {
        const json_t *it = json_array_get(data, i);
        const json_t *price = json_object_get(it, "price");
        json_int_t amount = json_integer_value(json_object_get(price, "unit_amount")) *
                            json_integer_value(json_object_get(it, "quantity"));
        total += amount;
        period = period_seconds(price);
        json_array_append_new(
            lines, json_pack("{s:s,s:I,s:O,s:O,s:O,s:s}", "object", "line_item", "amount", amount,
                             "currency", json_object_get(price, "currency"), "price", price,
                             "quantity", json_object_get(it, "quantity"), "type", "subscription"));
    }
    json_t *upcoming = json_loads(sl__fixture_json("invoice"), 0, NULL);
    json_object_del(upcoming, "id");
    json_object_set_new(upcoming, "created", json_integer(now));
    json_object_set(upcoming, "customer", json_object_get(sub, "customer"));
    json_object_set(upcoming, "subscription", json_object_get(sub, "id"));
    json_object_set_new(upcoming, "billing_reason", json_string("upcoming"));
    json_object_set_new(upcoming, "status", json_string("draft"));
    json_object_set_new(upcoming, "livemode", json_false());
    json_object_set_new(upcoming, "next_payment_attempt", json_integer(now));
    json_object_set_new(
        upcoming, "period_start",
        json_integer(json_integer_value(json_object_get(sub, "current_period_end"))));
    json_object_set_new(upcoming, "period_end", json_integer(now + period));
    json_object_set(upcoming, "currency",
                    json_object_get(json_object_get(json_array_get(data, 0), "price"), "currency")
                        ?: json_string("usd"));
    json_object_set_new(upcoming, "lines",
                        json_pack("{s:s,s:o,s:b,s:I}", "object", "list", "data", lines, "has_more",
                                  0, "total_count", (json_int_t)json_array_size(lines)));
    const char *keys[] = {"subtotal", "total", "amount_due", "amount_remaining"};
    for (size_t i = 0; i < sizeof keys / sizeof *keys; i++)
        json_object_set_new(upcoming, keys[i], json_integer(total));
    emit(e, "invoice.upcoming", upcoming, NULL, request_id, NULL);
    json_decref(upcoming);
    const char *paid = bill_subscription(e, sub, "subscription_cycle", request_id, 0);
    json_object_set_new(sub, "current_period_start", json_integer(now));
    json_object_set_new(sub, "current_period_end", json_integer(now + period));
    json_object_set_new(sub, "status",
                        json_string(strcmp(paid, "paid") == 0 ? "active" : "past_due"));
    emit(e, "customer.subscription.updated", sub, previous, request_id, NULL);
    return (reply_t){200, json_deep_copy(sub), 0, NULL};
}

static reply_t subscriptions(sl_emulator_t *e, const char *verb, const char *id, json_t *typed,
                             const char *request_id, const char *idem_key)
{
    const resource_t *r = resource_by_plural("subscriptions", 13);
    json_int_t now = (json_int_t)time(NULL);
    if (strcmp(verb, "create") == 0) {
        const char *cus = json_string_value(json_object_get(typed, "customer"));
        const json_t *customer = cus ? json_object_get(e->objects, cus) : NULL;
        if (!customer)
            return stripe_error(400, "invalid_request_error", "resource_missing", "customer",
                                "No such customer: '%s'", cus ? cus : "");
        json_t *items_in = json_object_get(typed, "items");
        if (!json_array_size(items_in))
            return stripe_error(400, "invalid_request_error", "parameter_missing", "items",
                                "Missing required param: items.");
        for (size_t i = 0; i < json_array_size(items_in); i++) {
            const char *pid =
                json_string_value(json_object_get(json_array_get(items_in, i), "price"));
            const json_t *price = pid ? json_object_get(e->objects, pid) : NULL;
            if (!price || !json_is_object(json_object_get(price, "recurring"))) {
                char param[48];
                snprintf(param, sizeof param, "items[%zu][price]", i);
                return stripe_error(400, "invalid_request_error", "resource_missing", param,
                                    price ? "The price specified is not recurring: '%s'"
                                          : "No such price: '%s'",
                                    pid ? pid : "");
            }
        }
        json_t *items = json_incref(items_in);
        json_object_del(typed, "items");
        json_int_t trial = json_is_integer(json_object_get(typed, "trial_period_days"))
                               ? json_integer_value(json_object_get(typed, "trial_period_days"))
                               : 0;
        json_object_del(typed, "trial_period_days");
        json_object_del(typed, "payment_behavior");
        reply_t cr = create(e, r, typed, request_id, idem_key);
        if (cr.status != 200) {
            json_decref(items);
            return cr;
        }
        char sub_id[80];
        snprintf(sub_id, sizeof sub_id, "%s", json_string_value(json_object_get(cr.body, "id")));
        json_decref(cr.body);
        json_t *sub = json_object_get(e->objects, sub_id);
        /* Items, as objects of their own (subscription_items.retrieve finds them). */
        json_t *data = json_array();
        json_int_t period = 0;
        for (size_t i = 0; i < json_array_size(items); i++) {
            const json_t *in = json_array_get(items, i);
            const json_t *price =
                json_object_get(e->objects, json_string_value(json_object_get(in, "price")));
            json_int_t qty = json_is_integer(json_object_get(in, "quantity"))
                                 ? json_integer_value(json_object_get(in, "quantity"))
                                 : 1;
            json_array_append_new(data, new_sub_item(e, sub_id, price, qty, now));
            period = period_seconds(price);
        }
        json_decref(items);
        char url[160];
        snprintf(url, sizeof url, "/v1/subscription_items?subscription=%s", sub_id);
        json_object_set_new(sub, "items",
                            json_pack("{s:s,s:o,s:b,s:I,s:s}", "object", "list", "data", data,
                                      "has_more", 0, "total_count",
                                      (json_int_t)json_array_size(data), "url", url));
        json_object_set_new(sub, "current_period_start", json_integer(now));
        json_object_set_new(sub, "current_period_end",
                            json_integer(now + (trial ? trial * 86400 : period)));
        json_object_set_new(sub, "start_date", json_integer(now));
        json_object_set_new(sub, "canceled_at", json_null());
        json_object_set_new(sub, "ended_at", json_null());
        json_object_set_new(sub, "cancel_at_period_end", json_false());
        json_object_set_new(sub, "trial_start", trial ? json_integer(now) : json_null());
        json_object_set_new(sub, "trial_end",
                            trial ? json_integer(now + trial * 86400) : json_null());
        /* The first invoice: one item per subscription item (nothing during a trial). */
        const char *paid = bill_subscription(e, sub, "subscription_create", request_id, trial > 0);
        const char *status = trial                       ? "trialing"
                             : strcmp(paid, "paid") == 0 ? "active"
                                                         : "incomplete"; /* invoice stays open */
        json_object_set_new(sub, "status", json_string(status));
        emit(e, "customer.subscription.created", sub, NULL, request_id, idem_key);
        return (reply_t){200, json_deep_copy(sub), 0, NULL};
    }
    json_t *sub = id ? json_object_get(e->objects, id) : NULL;
    if (!sub || strcmp(json_string_value(json_object_get(sub, "object")) ?: "", "subscription"))
        return no_such("subscription", id ? id : "");
    if (strcmp(verb, "cancel") == 0) {
        if (!strcmp(status_of(sub), "canceled"))
            return stripe_error(400, "invalid_request_error", "resource_missing", NULL,
                                "This subscription is already canceled.");
        json_object_set_new(sub, "status", json_string("canceled"));
        json_object_set_new(sub, "canceled_at", json_integer(now));
        json_object_set_new(sub, "ended_at", json_integer(now));
        emit(e, "customer.subscription.deleted", sub, NULL, request_id, idem_key);
        return (reply_t){200, json_deep_copy(sub), 0, NULL};
    }
    if (strcmp(verb, "update") == 0) {
        json_t *changes = json_incref(json_object_get(typed, "items"));
        reply_t bad = check_item_changes(e, sub, changes);
        if (bad.status) {
            json_decref(changes);
            return bad;
        }
        json_object_del(typed, "items");
        json_object_del(typed, "proration_behavior"); /* prorations are not computed */
        json_t *previous = json_object();
        if (json_array_size(changes)) {
            json_object_set_new(previous, "items", json_deep_copy(json_object_get(sub, "items")));
            apply_item_changes(e, sub, changes);
        }
        json_decref(changes);
        apply(sub, typed, previous, 0);
        emit(e, "customer.subscription.updated", sub, previous, request_id, idem_key);
        return (reply_t){200, json_deep_copy(sub), 0, NULL};
    }
    return stripe_error(501, "api_error", "not_implemented", NULL,
                        "sluice emulate does not implement subscriptions.%s yet", verb);
}

/* --- Checkout sessions and payment links -------------------------------------------------------
 * A session's line items live beside it as an object of their own, "<id>/line_items" (a list),
 * which checkout.sessions.line_items.list and expand[]=line_items read. A test-only route
 * completes a session as a customer paying on the hosted page would. */

static int is_recurring(const json_t *price)
{
    return json_is_object(json_object_get(price, "recurring"));
}

/* Builds the list of line items (Stripe's "item" objects) from line_items[] parameters, each
 * with a price or price_data. Fills *total and the currency; an error reply otherwise. */
static json_t *line_items_of(sl_emulator_t *e, const json_t *in, const char *request_id,
                             json_int_t *total, char *currency, size_t cn, int *recurring,
                             reply_t *err)
{
    json_t *data = json_array();
    *total = 0;
    *recurring = 0;
    currency[0] = '\0';
    for (size_t i = 0; i < json_array_size(in); i++) {
        const json_t *li = json_array_get(in, i);
        char param[48];
        const char *pid = json_string_value(json_object_get(li, "price"));
        const json_t *pd = json_object_get(li, "price_data");
        json_t *price = NULL;
        if (pid) {
            const json_t *kept = json_object_get(e->objects, pid);
            price =
                kept && !strcmp(json_string_value(json_object_get(kept, "object")) ?: "", "price")
                    ? json_deep_copy(kept) /* a snapshot, as Stripe keeps */
                    : NULL;
            if (!price) {
                snprintf(param, sizeof param, "line_items[%zu][price]", i);
                *err = stripe_error(400, "invalid_request_error", "resource_missing", param,
                                    "No such price: '%s'", pid);
                json_decref(data);
                return NULL;
            }
        } else if (json_is_object(pd)) {
            /* An inline price: Stripe makes it, inactive, for this purchase. */
            json_t *pp = json_deep_copy(pd);
            json_t *prod_data = json_object_get(pp, "product_data");
            if (json_is_object(prod_data)) {
                reply_t pr =
                    create(e, resource_by_plural("products", 8), prod_data, request_id, NULL);
                json_object_set(pp, "product", json_object_get(pr.body, "id"));
                json_decref(pr.body);
                json_object_del(pp, "product_data");
            }
            reply_t cr = create(e, resource_by_plural("prices", 6), pp, request_id, NULL);
            json_decref(pp);
            price = json_incref(
                json_object_get(e->objects, json_string_value(json_object_get(cr.body, "id"))));
            json_decref(cr.body);
            if (price)
                json_object_set_new(price, "active", json_false());
        }
        if (!price) {
            snprintf(param, sizeof param, "line_items[%zu]", i);
            *err = stripe_error(400, "invalid_request_error", "parameter_missing", param,
                                "Each line item needs a price or price_data.");
            json_decref(data);
            return NULL;
        }
        json_int_t qty = json_is_integer(json_object_get(li, "quantity"))
                             ? json_integer_value(json_object_get(li, "quantity"))
                             : 1;
        json_int_t amount = json_integer_value(json_object_get(price, "unit_amount")) * qty;
        const char *cur = json_string_value(json_object_get(price, "currency")) ?: "usd";
        if (currency[0] && strcmp(currency, cur)) {
            snprintf(param, sizeof param, "line_items[%zu][price]", i);
            *err = stripe_error(400, "invalid_request_error", "parameter_invalid", param,
                                "All line items must share one currency (%s and %s given).",
                                currency, cur);
            json_decref(price);
            json_decref(data);
            return NULL;
        }
        snprintf(currency, cn, "%s", cur);
        *recurring |= is_recurring(price);
        *total += amount;
        const json_t *prod =
            json_object_get(e->objects, json_string_value(json_object_get(price, "product")) ?: "");
        char li_id[80];
        new_id("li", li_id, sizeof li_id);
        json_array_append_new(
            data, json_pack("{s:s,s:s,s:i,s:I,s:i,s:I,s:s,s:O,s:O,s:I}", "id", li_id, "object",
                            "item", "amount_discount", 0, "amount_subtotal", amount, "amount_tax",
                            0, "amount_total", amount, "currency", cur, "description",
                            json_object_get(prod, "name") ?: json_null(), "price", price,
                            "quantity", qty));
        json_decref(price);
    }
    return data;
}

static void keep_line_items(sl_emulator_t *e, const char *owner, const char *url_fmt, json_t *data)
{
    char key[128], url[160];
    snprintf(key, sizeof key, "%s/line_items", owner);
    snprintf(url, sizeof url, url_fmt, owner);
    json_object_set_new(
        e->objects, key,
        json_pack("{s:s,s:o,s:b,s:s}", "object", "list", "data", data, "has_more", 0, "url", url));
    touch(e, key);
}

static reply_t checkout_sessions(sl_emulator_t *e, const char *verb, const char *id, json_t *typed,
                                 const char *request_id, const char *idem_key)
{
    const resource_t *r = resource_by_plural("checkout.sessions", 17);
    if (strcmp(verb, "create") == 0) {
        char mode[32];
        snprintf(mode, sizeof mode, "%s",
                 json_string_value(json_object_get(typed, "mode")) ?: "payment");
        const char *cus = json_string_value(json_object_get(typed, "customer"));
        if (cus && !json_object_get(e->objects, cus))
            return stripe_error(400, "invalid_request_error", "resource_missing", "customer",
                                "No such customer: '%s'", cus);
        json_t *in = json_object_get(typed, "line_items");
        if (strcmp(mode, "setup") && !json_array_size(in))
            return stripe_error(400, "invalid_request_error", "parameter_missing", "line_items",
                                "You must provide line_items in %s mode.", mode);
        json_int_t total = 0;
        int recurring = 0;
        char currency[8];
        reply_t err = {0, NULL, 0, NULL};
        json_t *items =
            line_items_of(e, in, request_id, &total, currency, sizeof currency, &recurring, &err);
        if (!items)
            return err;
        if (strcmp(mode, "payment") == 0 && recurring) {
            json_decref(items);
            return stripe_error(400, "invalid_request_error", "parameter_invalid", "line_items",
                                "You specified `payment` mode but passed a recurring price. "
                                "Either switch to `subscription` mode or use only one-time "
                                "prices.");
        }
        if (strcmp(mode, "subscription") == 0 && !recurring) {
            json_decref(items);
            return stripe_error(400, "invalid_request_error", "parameter_invalid", "line_items",
                                "You must provide at least one recurring price in "
                                "`subscription` mode when using prices.");
        }
        json_object_del(typed, "line_items");
        json_object_set_new(typed, "mode", json_string(mode));
        reply_t cr = create(e, r, typed, request_id, idem_key);
        if (cr.status != 200) {
            json_decref(items);
            return cr;
        }
        json_t *cs = json_object_get(e->objects, json_string_value(json_object_get(cr.body, "id")));
        json_decref(cr.body);
        const char *cs_id = json_string_value(json_object_get(cs, "id"));
        keep_line_items(e, cs_id, "/v1/checkout/sessions/%s/line_items", items);
        json_int_t now = (json_int_t)time(NULL);
        char url[256];
        snprintf(url, sizeof url, "%s/_sluice/checkout/%s", e->base_url, cs_id);
        json_object_set_new(cs, "url", json_string(url));
        json_object_set_new(cs, "status", json_string("open"));
        json_object_set_new(cs, "payment_status",
                            json_string(strcmp(mode, "setup") ? "unpaid" : "no_payment_required"));
        json_object_set_new(cs, "expires_at", json_integer(now + 86400));
        json_object_set_new(cs, "payment_intent", json_null());
        json_object_set_new(cs, "subscription", json_null());
        json_object_set_new(cs, "invoice", json_null());
        json_object_set_new(cs, "customer_details", json_null());
        json_object_set_new(cs, "amount_subtotal",
                            strcmp(mode, "setup") ? json_integer(total) : json_null());
        json_object_set_new(cs, "amount_total",
                            strcmp(mode, "setup") ? json_integer(total) : json_null());
        json_object_set_new(cs, "currency", currency[0] ? json_string(currency) : json_null());
        if (!json_object_get(typed, "customer_email"))
            json_object_set_new(cs, "customer_email", json_null());
        if (!json_object_get(typed, "payment_link"))
            json_object_set_new(cs, "payment_link", json_null());
        return (reply_t){200, json_deep_copy(cs), 0, NULL};
    }
    json_t *cs = id ? json_object_get(e->objects, id) : NULL;
    if (!cs || strcmp(json_string_value(json_object_get(cs, "object")) ?: "", "checkout.session"))
        return no_such("checkout.session", id ? id : "");
    if (strcmp(verb, "expire") == 0) {
        if (strcmp(status_of(cs), "open"))
            return stripe_error(400, "invalid_request_error", "checkout_session_unexpected_state",
                                NULL,
                                "Only Checkout Sessions with a status in [\"open\"] can be "
                                "expired; this one is %s.",
                                status_of(cs));
        json_object_set_new(cs, "status", json_string("expired"));
        emit(e, "checkout.session.expired", cs, NULL, request_id, idem_key);
        return (reply_t){200, json_deep_copy(cs), 0, NULL};
    }
    return stripe_error(501, "api_error", "not_implemented", NULL,
                        "sluice emulate does not implement checkout.sessions.%s yet", verb);
}

/* The customer pays on the hosted page: with a test card (pm_card_visa unless payment_method
 * says otherwise), an email and a name. A decline answers 402 and the session stays open. */
static reply_t checkout_complete(sl_emulator_t *e, const char *id, const json_t *form,
                                 const char *request_id)
{
    json_t *cs = json_object_get(e->objects, id);
    if (!cs || strcmp(json_string_value(json_object_get(cs, "object")) ?: "", "checkout.session"))
        return no_such("checkout.session", id);
    if (strcmp(status_of(cs), "open"))
        return stripe_error(400, "invalid_request_error", "checkout_session_unexpected_state", NULL,
                            "This Checkout Session is %s; only an open one can be paid.",
                            status_of(cs));
    touch(e, id); /* changed below even when the payment fails */
    const char *mode = json_string_value(json_object_get(cs, "mode")) ?: "payment";
    const char *pm_in =
        json_string_value(json_object_get(form, "payment_method")) ?: "pm_card_visa";
    const char *email = json_string_value(json_object_get(form, "email"));
    const char *name = json_string_value(json_object_get(form, "name"));
    const char *cus = json_string_value(json_object_get(cs, "customer"));
    const json_t *customer = cus ? json_object_get(e->objects, cus) : NULL;
    if (!email)
        email = json_string_value(json_object_get(cs, "customer_email"));
    if (!email && customer)
        email = json_string_value(json_object_get(customer, "email"));
    if (!email)
        email = "customer@example.com";
    if (!name && customer)
        name = json_string_value(json_object_get(customer, "name"));
    reply_t err = {0, NULL, 0, NULL};
    const char *pm = payment_method_for(e, pm_in, &err);
    if (!pm)
        return err;
    char pm_id[80];
    snprintf(pm_id, sizeof pm_id, "%s", pm);
    char cus_id[80] = "";
    if (cus) {
        snprintf(cus_id, sizeof cus_id, "%s", cus);
    } else if (strcmp(mode, "payment") ||
               strcmp(json_string_value(json_object_get(cs, "customer_creation")) ?: "",
                      "always") == 0) {
        json_t *cp = json_pack("{s:s,s:s?}", "email", email, "name", name);
        reply_t cr = create(e, resource_by_plural("customers", 9), cp, request_id, NULL);
        json_decref(cp);
        snprintf(cus_id, sizeof cus_id, "%s",
                 json_string_value(json_object_get(cr.body, "id")) ?: "");
        json_decref(cr.body);
    }
    if (cus_id[0]) /* a second attempt after a decline reuses the customer */
        json_object_set_new(cs, "customer", json_string(cus_id));
    json_t *pmo = json_object_get(e->objects, pm_id);
    if (cus_id[0] && pmo)
        json_object_set_new(pmo, "customer", json_string(cus_id));
    char key[128];
    snprintf(key, sizeof key, "%s/line_items", id);
    const json_t *lines = json_object_get(json_object_get(e->objects, key), "data");
    if (strcmp(mode, "payment") == 0) {
        json_t *pp = json_pack("{s:O,s:O,s:s,s:b}", "amount", json_object_get(cs, "amount_total"),
                               "currency", json_object_get(cs, "currency"), "payment_method", pm_id,
                               "confirm", 1);
        if (cus_id[0])
            json_object_set_new(pp, "customer", json_string(cus_id));
        reply_t paid = payment_intents(e, "create", NULL, pp, request_id, NULL);
        json_decref(pp);
        const json_t *pi = json_object_get(json_object_get(paid.body, "error"), "payment_intent");
        json_object_set(cs, "payment_intent", json_object_get(pi ? pi : paid.body, "id"));
        if (paid.status != 200)
            return paid;
        json_decref(paid.body);
    } else if (strcmp(mode, "subscription") == 0) {
        json_t *items = json_array();
        for (size_t i = 0; i < json_array_size(lines); i++) {
            const json_t *li = json_array_get(lines, i);
            json_array_append_new(items,
                                  json_pack("{s:O,s:O}", "price",
                                            json_object_get(json_object_get(li, "price"), "id"),
                                            "quantity", json_object_get(li, "quantity")));
        }
        json_t *sp = json_pack("{s:s,s:o,s:s}", "customer", cus_id, "items", items,
                               "default_payment_method", pm_id);
        reply_t sr = subscriptions(e, "create", NULL, sp, request_id, NULL);
        json_decref(sp);
        if (sr.status != 200)
            return sr;
        json_object_set(cs, "subscription", json_object_get(sr.body, "id"));
        json_object_set(cs, "invoice", json_object_get(sr.body, "latest_invoice"));
        int ok = strcmp(status_of(sr.body), "active") == 0 ||
                 strcmp(status_of(sr.body), "trialing") == 0;
        json_decref(sr.body);
        if (!ok)
            return stripe_error(402, "card_error", "card_declined", NULL,
                                "Your card was declined.");
    }
    json_object_set_new(cs, "customer", cus_id[0] ? json_string(cus_id) : json_null());
    json_object_set_new(cs, "customer_details",
                        json_pack("{s:n,s:s,s:s?,s:n,s:s,s:[]}", "address", "email", email, "name",
                                  name, "phone", "tax_exempt", "none", "tax_ids"));
    json_object_set_new(cs, "status", json_string("complete"));
    json_object_set_new(cs, "payment_status",
                        json_string(strcmp(mode, "setup") ? "paid" : "no_payment_required"));
    emit(e, "checkout.session.completed", cs, NULL, request_id, NULL);
    return (reply_t){200, json_deep_copy(cs), 0, NULL};
}

static reply_t payment_links(sl_emulator_t *e, const char *verb, const char *id, json_t *typed,
                             const char *request_id, const char *idem_key)
{
    const resource_t *r = resource_by_plural("payment_links", 13);
    if (strcmp(verb, "create") == 0) {
        json_int_t total;
        int recurring;
        char currency[8];
        reply_t err = {0, NULL, 0, NULL};
        json_t *items = line_items_of(e, json_object_get(typed, "line_items"), request_id, &total,
                                      currency, sizeof currency, &recurring, &err);
        if (!items)
            return err;
        json_object_del(typed, "line_items");
        reply_t cr = create(e, r, typed, request_id, idem_key);
        if (cr.status != 200) {
            json_decref(items);
            return cr;
        }
        json_t *pl = json_object_get(e->objects, json_string_value(json_object_get(cr.body, "id")));
        json_decref(cr.body);
        const char *pl_id = json_string_value(json_object_get(pl, "id"));
        keep_line_items(e, pl_id, "/v1/payment_links/%s/line_items", items);
        char url[256];
        snprintf(url, sizeof url, "%s/_sluice/pay/%s", e->base_url, pl_id);
        json_object_set_new(pl, "url", json_string(url));
        json_object_set_new(pl, "currency", json_string(currency[0] ? currency : "usd"));
        json_object_set_new(pl, "active", json_true());
        if (!json_object_get(typed, "customer_creation"))
            json_object_set_new(pl, "customer_creation",
                                json_string(recurring ? "always" : "if_required"));
        return (reply_t){200, json_deep_copy(pl), 0, NULL};
    }
    return update(e, r, id ? id : "", typed, request_id, idem_key);
}

/* A customer opens a payment link: a session for it, completed at once. */
static reply_t payment_link_complete(sl_emulator_t *e, const char *id, const json_t *form,
                                     const char *request_id)
{
    json_t *pl = json_object_get(e->objects, id);
    if (!pl || strcmp(json_string_value(json_object_get(pl, "object")) ?: "", "payment_link"))
        return no_such("payment_link", id);
    if (!json_is_true(json_object_get(pl, "active")))
        return stripe_error(400, "invalid_request_error", "payment_link_inactive", NULL,
                            "This payment link is deactivated.");
    char key[128];
    snprintf(key, sizeof key, "%s/line_items", id);
    const json_t *lines = json_object_get(json_object_get(e->objects, key), "data");
    json_t *items = json_array();
    int recurring = 0;
    for (size_t i = 0; i < json_array_size(lines); i++) {
        const json_t *li = json_array_get(lines, i);
        const json_t *price = json_object_get(li, "price");
        recurring |= is_recurring(price);
        json_array_append_new(items, json_pack("{s:O,s:O}", "price", json_object_get(price, "id"),
                                               "quantity", json_object_get(li, "quantity")));
    }
    char success[256];
    snprintf(success, sizeof success, "%s/_sluice/pay/%s/done", e->base_url, id);
    json_t *sp = json_pack("{s:s,s:o,s:s,s:s,s:O}", "mode", recurring ? "subscription" : "payment",
                           "line_items", items, "success_url", success, "payment_link", id,
                           "customer_creation", json_object_get(pl, "customer_creation"));
    if (json_object_size(json_object_get(pl, "metadata")))
        json_object_set(sp, "metadata", json_object_get(pl, "metadata"));
    if (recurring)
        json_object_del(sp, "customer_creation"); /* not allowed in subscription mode */
    reply_t cr = checkout_sessions(e, "create", NULL, sp, request_id, NULL);
    json_decref(sp);
    if (cr.status != 200)
        return cr;
    char cs_id[160];
    snprintf(cs_id, sizeof cs_id, "%s", json_string_value(json_object_get(cr.body, "id")) ?: "");
    json_decref(cr.body);
    return checkout_complete(e, cs_id, form, request_id);
}

static void html_put(sl_buf_t *b, const char *s)
{
    for (; s && *s; s++) {
        switch (*s) {
        case '<':
            sl__buf_puts(b, "&lt;");
            break;
        case '>':
            sl__buf_puts(b, "&gt;");
            break;
        case '&':
            sl__buf_puts(b, "&amp;");
            break;
        case '"':
            sl__buf_puts(b, "&quot;");
            break;
        default:
            sl__buf_putc(b, *s);
        }
    }
}

/* The hosted pages the session and link URLs point at: a form that completes the purchase. */
static reply_t hosted_page(sl_emulator_t *e, const char *kind, const char *id)
{
    const json_t *obj = json_object_get(e->objects, id);
    if (!obj || strcmp(json_string_value(json_object_get(obj, "object")) ?: "", kind))
        return no_such(kind, id);
    char key[128];
    snprintf(key, sizeof key, "%s/line_items", id);
    const json_t *lines = json_object_get(json_object_get(e->objects, key), "data");
    sl_buf_t b;
    sl__buf_init(&b, 1 << 20);
    sl__buf_printf(&b,
                   "<!doctype html><meta charset=utf-8><title>sluice emulate: pay</title>"
                   "<body style=\"font-family:sans-serif;max-width:32em;margin:2em auto\">"
                   "<h1>Test checkout</h1><p>%s <code>%s</code> (sluice emulate; no real money)"
                   "</p><ul>",
                   kind, id); /* ids are ours: [A-Za-z0-9_] */
    for (size_t i = 0; i < json_array_size(lines); i++) {
        const json_t *li = json_array_get(lines, i);
        sl__buf_printf(&b, "<li>%lld &times; ",
                       (long long)json_integer_value(json_object_get(li, "quantity")));
        html_put(&b, json_string_value(json_object_get(li, "description")) ?: "item");
        sl__buf_printf(&b, ": %.2f ",
                       (double)json_integer_value(json_object_get(li, "amount_total")) / 100.0);
        html_put(&b, json_string_value(json_object_get(li, "currency")));
        sl__buf_puts(&b, "</li>");
    }
    sl__buf_printf(&b,
                   "</ul><form method=post action=\"%s/complete\">"
                   "<p><label>Email <input name=email value=\"customer@example.com\"></label>"
                   "<p><label>Card <select name=payment_method>"
                   "<option>pm_card_visa<option>pm_card_mastercard"
                   "<option>pm_card_chargeDeclined</select></label>"
                   "<p><button>Pay</button></form>",
                   id);
    reply_t out = {200, NULL, 0, strdup(b.data ? b.data : "")};
    sl__buf_cleanup(&b);
    return out;
}

/* Test-only routes, under /_sluice/ so they never shadow Stripe's:
 *   GET  /_sluice/checkout/{cs}           the hosted page of a session
 *   POST /_sluice/checkout/{cs}/complete  pay it (payment_method, email, name)
 *   GET  /_sluice/pay/{plink}             the page of a payment link
 *   POST /_sluice/pay/{plink}/complete    buy through it
 *   POST /_sluice/subscriptions/{sub}/renew  the next billing period starts now */
static reply_t test_route(sl_emulator_t *e, const char *method, const char *path,
                          const json_t *form, const char *request_id)
{
    char kind[32] = "", id[128] = "", action[32] = "";
    sscanf(path, "/_sluice/%31[^/]/%127[^/]/%31s", kind, id, action);
    int post = strcmp(method, "POST") == 0;
    if (!strcmp(kind, "checkout") && !post && !action[0])
        return hosted_page(e, "checkout.session", id);
    if (!strcmp(kind, "pay") && !post && !action[0])
        return hosted_page(e, "payment_link", id);
    if (!strcmp(kind, "checkout") && post && !strcmp(action, "complete"))
        return checkout_complete(e, id, form, request_id);
    if (!strcmp(kind, "pay") && post && !strcmp(action, "complete"))
        return payment_link_complete(e, id, form, request_id);
    if (!strcmp(kind, "pay") && !post && !strcmp(action, "done"))
        return (reply_t){200, NULL, 0,
                         strdup("<!doctype html><meta charset=utf-8><title>Thanks</title>"
                                "<p>Payment received (sluice emulate; no real money).")};
    if (!strcmp(kind, "subscriptions") && post && !strcmp(action, "renew"))
        return subscription_renew(e, id, request_id);
    return stripe_error(404, "invalid_request_error", NULL, NULL,
                        "Unrecognized test route (%s: %s). sluice emulate's test routes: GET "
                        "/_sluice/checkout/{id}, POST /_sluice/checkout/{id}/complete, GET "
                        "/_sluice/pay/{id}, POST /_sluice/pay/{id}/complete, POST "
                        "/_sluice/subscriptions/{id}/renew.",
                        method, path);
}

/* --- expand[]: a reference becomes the object it names ------------------------------------- */

/* The fields expand[] may name, at any depth: references to objects the emulator keeps. */
static reply_t check_expand(const json_t *expand)
{
    static const char *const fields[] = {
        "customer",       "invoice",       "payment_intent", "default_payment_method",
        "latest_invoice", "latest_charge", "charge",         "subscription",
        "payment_method", "price",         "product",        "line_items",
        "data",           "default_price", "payment_link",   NULL};
    if (expand && !json_is_array(expand))
        return stripe_error(400, "invalid_request_error", "parameter_invalid", "expand",
                            "expand must be a list of fields (expand[]=customer).");
    for (size_t i = 0; i < json_array_size(expand); i++) {
        const char *x = json_string_value(json_array_get(expand, i));
        char seg[128];
        for (const char *p = x ? x : ""; p;) {
            size_t n = strcspn(p, ".");
            snprintf(seg, sizeof seg, "%.*s", (int)(n < 127 ? n : 127), p);
            int ok = 0;
            for (size_t k = 0; fields[k] && !ok; k++)
                ok = strcmp(fields[k], seg) == 0;
            if (!ok)
                return stripe_error(400, "invalid_request_error", "parameter_invalid", "expand",
                                    "This property cannot be expanded (%s).", x ? x : "");
            p = p[n] == '.' ? p + n + 1 : NULL;
        }
    }
    return (reply_t){0, NULL, 0, NULL};
}

/* Expands one dotted path ("customer", "latest_invoice.payment_intent", "data.customer" in a
 * list) in node. An error reply when a segment names nothing expandable. */
static reply_t expand_path(sl_emulator_t *e, json_t *node, const char *path, const char *whole)
{
    size_t n = strcspn(path, ".");
    char seg[128];
    snprintf(seg, sizeof seg, "%.*s", (int)(n < 127 ? n : 127), path);
    const char *rest = path[n] == '.' ? path + n + 1 : NULL;
    const char *kind = json_string_value(json_object_get(node, "object")) ?: "";
    if (strcmp(seg, "data") == 0 && rest &&
        (strcmp(kind, "list") == 0 || strcmp(kind, "search_result") == 0)) {
        json_t *data = json_object_get(node, "data");
        for (size_t i = 0; i < json_array_size(data); i++) {
            reply_t r = expand_path(e, json_array_get(data, i), rest, whole);
            if (r.status)
                return r;
        }
        return (reply_t){0, NULL, 0, NULL};
    }
    json_t *v = json_object_get(node, seg);
    if (strcmp(seg, "line_items") == 0 && !v) {
        /* A checkout session's or payment link's items, kept beside it. */
        char key[160];
        snprintf(key, sizeof key, "%s/line_items",
                 json_string_value(json_object_get(node, "id")) ?: "");
        const json_t *li = json_object_get(e->objects, key);
        if (li) {
            json_object_set_new(node, seg, json_deep_copy(li));
            v = json_object_get(node, seg);
        }
    } else if (json_is_string(v)) {
        const json_t *obj = json_object_get(e->objects, json_string_value(v));
        if (!obj)
            return stripe_error(400, "invalid_request_error", "parameter_invalid", "expand",
                                "This property cannot be expanded (%s): `%s` is not an object "
                                "sluice emulate keeps.",
                                whole, json_string_value(v));
        json_object_set_new(node, seg, json_deep_copy(obj));
        v = json_object_get(node, seg);
    }
    if (!v || !(json_is_object(v) || json_is_null(v) || json_is_string(v)))
        return stripe_error(400, "invalid_request_error", "parameter_invalid", "expand",
                            "This property cannot be expanded (%s).", whole);
    if (rest && json_is_object(v))
        return expand_path(e, v, rest, whole);
    return (reply_t){0, NULL, 0, NULL};
}

/* customers.create/update with payment_method: a test token becomes a payment method attached
 * to the customer, and invoice_settings[default_payment_method] naming the same token names
 * it. */
static reply_t customers_write(sl_emulator_t *e, const char *verb, const char *id, json_t *typed,
                               const char *request_id, const char *idem_key)
{
    const resource_t *r = resource_by_plural("customers", 9);
    char token[80] = "", pm_id[80] = "";
    const char *pm = json_string_value(json_object_get(typed, "payment_method"));
    if (pm) {
        reply_t err = {0, NULL, 0, NULL};
        snprintf(token, sizeof token, "%s", pm);
        const char *made = payment_method_for(e, token, &err);
        if (!made)
            return err;
        snprintf(pm_id, sizeof pm_id, "%s", made);
        json_object_del(typed, "payment_method");
        json_t *settings = json_object_get(typed, "invoice_settings");
        const char *dflt = json_string_value(json_object_get(settings, "default_payment_method"));
        if (dflt && strcmp(dflt, token) == 0)
            json_object_set_new(settings, "default_payment_method", json_string(pm_id));
    }
    reply_t out = strcmp(verb, "create") == 0
                      ? create(e, r, typed, request_id, idem_key)
                      : update(e, r, id ? id : "", typed, request_id, idem_key);
    json_t *pmo = pm_id[0] ? json_object_get(e->objects, pm_id) : NULL;
    if (out.status == 200 && pmo) {
        json_object_set(pmo, "customer", json_object_get(out.body, "id"));
        touch(e, pm_id);
    }
    return out;
}

static reply_t dispatch(sl_emulator_t *e, const sl_op_t *op, json_t *params, const char *path,
                        const char *request_id, const char *idem_key)
{
    const char *name = sl_op_name(op);
    const char *dot = strrchr(name, '.');
    const char *verb = dot + 1;
    if (strcmp(name, "events.list") == 0) {
        json_t *typed = sl__op_coerce(op, params); /* limit=100 and created[gt]=N as numbers */
        reply_t out = events_list(e, typed);
        json_decref(typed);
        return out;
    }
    if (strcmp(name, "events.retrieve") == 0) {
        const char *id = json_string_value(json_object_get(params, "id"));
        for (size_t i = 0; i < json_array_size(e->events); i++) {
            json_t *ev = json_array_get(e->events, i);
            if (strcmp(json_string_value(json_object_get(ev, "id")), id) == 0)
                return (reply_t){200, json_incref(ev), 0, NULL};
        }
        return no_such("event", id);
    }
    if (strcmp(name, "account.retrieve") == 0) {
        json_t *acct = json_loads(sl__fixture_json("account"), 0, NULL);
        json_object_set_new(acct, "id", json_string("acct_sluiceemulator"));
        return (reply_t){200, acct, 0, NULL};
    }
    size_t nl = strlen(name);
    if (nl > 16 && strcmp(name + nl - 16, ".line_items.list") == 0) {
        /* checkout.sessions.line_items.list, payment_links.line_items.list */
        const char *pp = sl_op_path_param(op, 0);
        char key[160];
        snprintf(key, sizeof key, "%s/line_items",
                 json_string_value(json_object_get(params, pp ? pp : "")) ?: "");
        const json_t *li = json_object_get(e->objects, key);
        if (!li)
            return no_such(strncmp(name, "checkout", 8) ? "payment_link" : "checkout.session",
                           json_string_value(json_object_get(params, pp ? pp : "")) ?: "");
        json_object_del(params, pp);
        json_t *typed = sl__op_coerce(op, params);
        reply_t out = page_of(json_copy(json_object_get(li, "data")), typed, path);
        json_decref(typed);
        return out;
    }
    const resource_t *r = resource_by_plural(name, (size_t)(dot - name));
    if (r) {
        /* The id is the operation's only path parameter. */
        const char *pp = sl_op_path_param(op, 0);
        json_t *id = pp ? json_incref(json_object_get(params, pp)) : NULL;
        if (pp)
            json_object_del(params, pp);
        json_t *typed = sl__op_coerce(op, params);
        reply_t out;
        const char *ids = json_string_value(id);
        int pi_write = strcmp(r->plural, "payment_intents") == 0 && strcmp(verb, "retrieve") &&
                       strcmp(verb, "list") && strcmp(verb, "search");
        int rw = strcmp(verb, "retrieve") && strcmp(verb, "list") && strcmp(verb, "search");
        if (pi_write)
            out = payment_intents(e, verb, ids, typed, request_id, idem_key);
        else if (strcmp(r->plural, "invoices") == 0 && rw)
            out = invoices(e, verb, ids, typed, request_id, idem_key);
        else if (strcmp(r->plural, "subscriptions") == 0 && rw && strcmp(verb, "delete"))
            out = subscriptions(e, verb, ids, typed, request_id, idem_key);
        else if (strcmp(r->plural, "customers") == 0 &&
                 (strcmp(verb, "create") == 0 || strcmp(verb, "update") == 0))
            out = customers_write(e, verb, ids, typed, request_id, idem_key);
        else if (strcmp(r->plural, "checkout.sessions") == 0 && rw)
            out = checkout_sessions(e, verb, ids, typed, request_id, idem_key);
        else if (strcmp(r->plural, "payment_links") == 0 && rw)
            out = payment_links(e, verb, ids, typed, request_id, idem_key);
        else if (strcmp(r->plural, "subscription_items") == 0 && rw)
            out = stripe_error(501, "api_error", "not_implemented", NULL,
                               "sluice emulate changes subscription items through their "
                               "subscription only");
        else if (strcmp(r->plural, "invoiceitems") == 0 && rw)
            out = invoiceitems_write(e, verb, ids, typed, request_id, idem_key);
        else if (strcmp(r->plural, "charges") == 0 && strcmp(verb, "create") == 0)
            out = stripe_error(501, "api_error", "not_implemented", NULL,
                               "sluice emulate makes charges through payment intents only");
        else if (strcmp(r->plural, "payment_methods") == 0 &&
                 (strcmp(verb, "attach") == 0 || strcmp(verb, "detach") == 0)) {
            json_t *pmo = ids ? json_object_get(e->objects, ids) : NULL;
            if (!pmo)
                out = no_such("payment_method", ids ? ids : "");
            else {
                json_object_set(pmo, "customer",
                                strcmp(verb, "attach") == 0 ? json_object_get(typed, "customer")
                                                            : json_null());
                out = (reply_t){200, json_deep_copy(pmo), 0, NULL};
            }
        } else if (strcmp(verb, "create") == 0)
            out = create(e, r, typed, request_id, idem_key);
        else if (strcmp(verb, "retrieve") == 0 && ids) {
            json_t *obj = json_object_get(e->objects, ids);
            out = obj && strcmp(json_string_value(json_object_get(obj, "object")) ?: "",
                                r->object) == 0
                      ? (reply_t){200, json_deep_copy(obj), 0, NULL}
                      : no_such(r->object, ids);
        } else if (strcmp(verb, "update") == 0 && ids)
            out = update(e, r, ids, typed, request_id, idem_key);
        else if (strcmp(verb, "delete") == 0 && ids)
            out = delete (e, r, ids, request_id);
        else if (strcmp(verb, "list") == 0)
            out = list(e, r, typed, path);
        else if (strcmp(verb, "search") == 0)
            out = search(e, r, typed, path);
        else
            out = stripe_error(501, "api_error", "not_implemented", NULL,
                               "sluice emulate does not implement %s yet", name);
        json_decref(typed);
        json_decref(id);
        return out;
    }
    return stripe_error(501, "api_error", "not_implemented", NULL,
                        "sluice emulate does not implement %s yet (it keeps customers, products, "
                        "prices, coupons, payment methods and intents, charges, invoices and "
                        "invoice items, subscriptions, checkout sessions, payment links, webhook "
                        "endpoints, events and the account)",
                        name);
}

static reply_t handle(sl_emulator_t *e, struct MHD_Connection *conn, const char *method,
                      const char *uri, const char *body, size_t len, const char *request_id)
{
    char path[2048];
    const char *qmark = strchr(uri, '?');
    snprintf(path, sizeof path, "%.*s", (int)(qmark ? (size_t)(qmark - uri) : strlen(uri)), uri);
    if (strncmp(path, "/_sluice/", 9) == 0) {
        /* The test-only routes stand for a customer's browser: no API key. */
        json_t *form = NULL;
        char ferr[256];
        const char *f = strcmp(method, "POST") == 0 ? body : qmark ? qmark + 1 : "";
        if (sl_form_decode(f, strcmp(method, "POST") == 0 ? len : strlen(f), &form, ferr,
                           sizeof ferr))
            return stripe_error(400, "invalid_request_error", NULL, NULL, "Invalid request: %s",
                                ferr);
        pthread_mutex_lock(&e->lock);
        size_t events_before = json_array_size(e->events);
        reply_t out = test_route(e, method, path, form, request_id);
        if (strcmp(method, "GET") != 0)
            persist(e, out.body, events_before, NULL);
        json_t *snapshot = json_deep_copy(out.body);
        json_decref(out.body);
        out.body = snapshot;
        pthread_mutex_unlock(&e->lock);
        json_decref(form);
        return out;
    }
    const char *auth = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Authorization");
    if (!auth || strncmp(auth, "Bearer ", 7) != 0 || !auth[7])
        return stripe_error(401, "invalid_request_error", NULL, NULL,
                            "You did not provide an API key. You need to provide your API key in "
                            "the Authorization header, using Bearer auth (e.g. 'Authorization: "
                            "Bearer YOUR_SECRET_KEY').");
    const char *key = auth + 7;
    if (strncmp(key, "sk_test_", 8) != 0 && strncmp(key, "rk_test_", 8) != 0) {
        char masked[64];
        sl_key_mask(key, masked, sizeof masked);
        return stripe_error(401, "invalid_request_error", NULL, NULL,
                            "Invalid API Key provided: %s (the emulator takes test keys)", masked);
    }
    const char *form = strcmp(method, "POST") == 0 ? body : qmark ? qmark + 1 : "";
    size_t form_len = strcmp(method, "POST") == 0 ? len : strlen(form);
    json_t *params = NULL;
    char err[512];
    if (sl_form_decode(form, form_len, &params, err, sizeof err))
        return stripe_error(400, "invalid_request_error", NULL, NULL, "Invalid request: %s", err);
    const sl_op_t *op = route(method, path, params);
    if (!op) {
        json_decref(params);
        return stripe_error(404, "invalid_request_error", NULL, NULL,
                            "Unrecognized request URL (%s: %s).", method, path);
    }
    json_t *body_params = json_deep_copy(params);
    for (size_t i = 0; i < sl_op_path_param_count(op); i++)
        json_object_del(body_params, sl_op_path_param(op, i));
    sl_err rc = sl_op_validate(op, body_params, err, sizeof err);
    json_decref(body_params);
    if (rc) {
        json_decref(params);
        char param[128];
        named_param(err, param, sizeof param);
        const char *msg = strchr(err, ':') ? strchr(err, ':') + 2 : err;
        return stripe_error(400, "invalid_request_error", "parameter_invalid",
                            param[0] ? param : NULL, "%s", msg);
    }
    const char *idem_key =
        strcmp(method, "POST") == 0
            ? MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Idempotency-Key")
            : NULL;
    char *fingerprint = NULL;
    reply_t out;
    pthread_mutex_lock(&e->lock);
    if (idem_key) {
        char *enc = NULL;
        sl_form_encode(params, &enc);
        size_t fl = strlen(path) + strlen(enc ? enc : "") + 2;
        fingerprint = malloc(fl);
        if (fingerprint)
            snprintf(fingerprint, fl, "%s?%s", path, enc ? enc : "");
        free(enc);
        const json_t *seen = json_object_get(e->idem, idem_key);
        if (seen) {
            const char *fp = json_string_value(json_object_get(seen, "fingerprint"));
            if (fingerprint && fp && strcmp(fp, fingerprint) == 0)
                out = (reply_t){(unsigned)json_integer_value(json_object_get(seen, "status")),
                                json_deep_copy(json_object_get(seen, "body")), 1, NULL};
            else
                out = stripe_error(400, "idempotency_error", NULL, NULL,
                                   "Keys for idempotent requests can only be used with the same "
                                   "parameters they were first used with. Try using a key other "
                                   "than '%s' if you meant to execute a different request.",
                                   idem_key);
            pthread_mutex_unlock(&e->lock);
            free(fingerprint);
            json_decref(params);
            return out;
        }
    }
    json_t *expand = json_incref(json_object_get(params, "expand"));
    reply_t bad_expand = check_expand(expand);
    if (bad_expand.status) {
        pthread_mutex_unlock(&e->lock);
        json_decref(expand);
        free(fingerprint);
        json_decref(params);
        return bad_expand;
    }
    size_t events_before = json_array_size(e->events);
    out = dispatch(e, op, params, path, request_id, idem_key);
    /* Replies may hold live objects: the copy is what gets expanded and sent after the lock
     * is released. */
    json_t *snapshot = json_deep_copy(out.body);
    json_decref(out.body);
    out.body = snapshot;
    for (size_t i = 0; out.status == 200 && i < json_array_size(expand); i++) {
        const char *x = json_string_value(json_array_get(expand, i));
        reply_t bad = x ? expand_path(e, out.body, x, x) : (reply_t){0, NULL, 0, NULL};
        if (bad.status) {
            json_decref(out.body);
            out = bad;
        }
    }
    json_decref(expand);
    if (idem_key && fingerprint && out.status < 500)
        json_object_set_new(e->idem, idem_key,
                            json_pack("{s:s,s:i,s:O}", "fingerprint", fingerprint, "status",
                                      (int)out.status, "body", out.body));
    if (strcmp(method, "GET") != 0)
        persist(e, out.body, events_before, idem_key);
    pthread_mutex_unlock(&e->lock);
    free(fingerprint);
    json_decref(params);
    return out;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
    (void)url;
    (void)version;
    sl_emulator_t *e = cls;
    request_t *rq = *con_cls;
    if (!rq)
        return MHD_NO;
    if (!rq->body.max) {
        sl__buf_init(&rq->body, EMU_MAX_BODY);
        return MHD_YES;
    }
    if (*upload_data_size) {
        sl__buf_append(&rq->body, upload_data, *upload_data_size);
        *upload_data_size = 0;
        return MHD_YES;
    }
    char request_id[40], tok[24];
    random_token(tok, 14);
    snprintf(request_id, sizeof request_id, "req_%s", tok);
    reply_t r = handle(e, conn, method, rq->uri ? rq->uri : "/", rq->body.data ? rq->body.data : "",
                       rq->body.len, request_id);
    char *text = r.html ? r.html : json_dumps(r.body, JSON_INDENT(2));
    json_decref(r.body);
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(text ? strlen(text) : 0, text, MHD_RESPMEM_MUST_FREE);
    if (!resp) {
        free(text);
        return MHD_NO;
    }
    MHD_add_response_header(resp, "Content-Type",
                            r.html ? "text/html; charset=utf-8" : "application/json");
    MHD_add_response_header(resp, "Request-Id", request_id);
    MHD_add_response_header(resp, "Stripe-Version", sl_catalog_api_version());
    if (r.replayed)
        MHD_add_response_header(resp, "Idempotent-Replayed", "true");
    enum MHD_Result ret = MHD_queue_response(conn, r.status, resp);
    MHD_destroy_response(resp);
    return ret;
}

/* libmicrohttpd hands the handler a decoded path without its query: keep the raw request URI. */
static void *on_uri(void *cls, const char *uri, struct MHD_Connection *conn)
{
    (void)cls;
    (void)conn;
    request_t *rq = calloc(1, sizeof *rq);
    if (rq)
        rq->uri = strdup(uri);
    return rq;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)conn;
    (void)toe;
    request_t *rq = *con_cls;
    if (rq) {
        sl__buf_cleanup(&rq->body);
        free(rq->uri);
        free(rq);
        *con_cls = NULL;
    }
}

static int fixture_cmp(const void *key, const void *row)
{
    return strcmp(key, ((const sl_fixture_t *)row)->object);
}

const char *sl__fixture_json(const char *object)
{
    const sl_fixture_t *f =
        bsearch(object, sl__fixtures, sl__nfixtures, sizeof *sl__fixtures, fixture_cmp);
    return f ? f->json : NULL;
}

/* The kept state and its file. */
static void state_free(sl_emulator_t *e)
{
    json_decref(e->objects);
    json_decref(e->lists);
    json_decref(e->events);
    json_decref(e->idem);
    json_decref(e->secrets);
    json_decref(e->pm_tokens);
    json_decref(e->seq);
    json_decref(e->touched);
    json_decref(e->gone);
    sqlite3_close(e->db);
}

sl_err sl__emulator_start(const sl_emulator_config_t *cfg, sl_emulator_t **out, char *err,
                          size_t errlen)
{
    *out = NULL;
    char host[256];
    const char *colon = strrchr(cfg->listen, ':');
    if (!colon) {
        snprintf(err, errlen, "--listen `%s` is not HOST:PORT", cfg->listen);
        return SL_EINVAL;
    }
    snprintf(host, sizeof host, "%.*s", (int)(colon - cfg->listen), cfg->listen);
    struct addrinfo hints = {0}, *res = NULL;
    hints.ai_flags = AI_NUMERICSERV;
    hints.ai_socktype = SOCK_STREAM;
    if (getaddrinfo(host, colon + 1, &hints, &res) || !res) {
        snprintf(err, errlen, "--listen `%s`: not an address and port", cfg->listen);
        return SL_EINVAL;
    }
    sl_emulator_t *e = calloc(1, sizeof *e);
    if (!e) {
        freeaddrinfo(res);
        return SL_ENOMEM;
    }
    e->cfg = *cfg;
    if (e->cfg.retry_base_ms <= 0)
        e->cfg.retry_base_ms = 1000;
    if (e->cfg.max_deliveries <= 0)
        e->cfg.max_deliveries = 6;
    e->objects = json_object();
    e->lists = json_object();
    e->events = json_array();
    e->idem = json_object();
    e->secrets = json_object();
    e->pm_tokens = json_object();
    e->seq = json_object();
    e->touched = json_object();
    e->gone = json_array();
    if (cfg->data && persist_open(e, cfg->data, err, errlen)) {
        freeaddrinfo(res);
        state_free(e);
        free(e);
        return SL_EIO;
    }
    pthread_mutex_init(&e->lock, NULL);
    pthread_cond_init(&e->wake, NULL);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    if (pthread_create(&e->thread, NULL, deliverer, e)) {
        freeaddrinfo(res);
        snprintf(err, errlen, "cannot start the delivery thread");
        free(e);
        return SL_EINTERNAL;
    }
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ERROR_LOG;
    if (res->ai_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    e->daemon =
        MHD_start_daemon(flags, 0, NULL, NULL, on_request, e, MHD_OPTION_SOCK_ADDR, res->ai_addr,
                         MHD_OPTION_URI_LOG_CALLBACK, on_uri, e, MHD_OPTION_NOTIFY_COMPLETED,
                         on_completed, e, MHD_OPTION_THREAD_POOL_SIZE, (unsigned)2, MHD_OPTION_END);
    freeaddrinfo(res);
    if (!e->daemon) {
        snprintf(err, errlen, "cannot listen on %s", cfg->listen);
        sl__emulator_stop(e);
        return SL_EIO;
    }
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(e->daemon, MHD_DAEMON_INFO_BIND_PORT);
    e->port = di ? di->port : 0;
    snprintf(e->base_url, sizeof e->base_url, strchr(host, ':') ? "http://[%s]:%d" : "http://%s:%d",
             host, e->port);
    *out = e;
    return SL_OK;
}

int sl__emulator_port(const sl_emulator_t *e)
{
    return e->port;
}

void sl__emulator_stop(sl_emulator_t *e)
{
    if (!e)
        return;
    if (e->daemon)
        MHD_stop_daemon(e->daemon);
    pthread_mutex_lock(&e->lock);
    e->stopping = 1;
    pthread_cond_signal(&e->wake);
    pthread_mutex_unlock(&e->lock);
    pthread_join(e->thread, NULL);
    while (e->queue) {
        delivery_t *d = e->queue;
        e->queue = d->next;
        delivery_free(d);
    }
    state_free(e);
    pthread_mutex_destroy(&e->lock);
    pthread_cond_destroy(&e->wake);
    free(e);
}
