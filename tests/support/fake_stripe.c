/*
 * fake_stripe: scriptable fake Stripe HTTP server (libmicrohttpd, one thread per connection).
 *
 * Per request, MHD calls us in this order:
 *   fake_stripe_uri_cb       - once, with the raw URI: allocates the per-request context
 *   fake_stripe_handler      - first with headers only, then once per body chunk, then a final
 *                              call with *upload_data_size == 0: we record and reply there
 *   fake_stripe_completed_cb - frees the context (also after a drop)
 */
#include "fake_stripe.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define FAKE_STRIPE_DEFAULT_BODY                                                                   \
    "{\"error\":{\"type\":\"invalid_request_error\",\"message\":\"fake_stripe: no scripted "       \
    "reply\"}}"
#define FAKE_STRIPE_413_BODY                                                                       \
    "{\"error\":{\"type\":\"invalid_request_error\",\"message\":\"fake_stripe: request body "      \
    "too large\"}}"

typedef struct fake_stripe_reply {
    int status;
    char *headers; /* NULL or "Name: value\n..." */
    char *body;
    size_t body_len;
    int delay_ms;
    int drop;
    int repeat;
    struct fake_stripe_reply *next;
} fake_stripe_reply_t;

/* Per-request state, from the URI callback to the completion callback. */
typedef struct fake_stripe_ctx {
    char *uri; /* raw request target, path and query */
    char *body;
    size_t body_len;
    size_t body_cap;
    int started;   /* first handler call (headers only) seen */
    int too_large; /* body exceeded FAKE_STRIPE_BODY_CAP; rest is discarded */
    struct fake_stripe_ctx *prev, *next;
} fake_stripe_ctx_t;

struct fake_stripe {
    struct MHD_Daemon *daemon;
    int port;
    char url[32];

    pthread_mutex_t lock; /* guards everything below */
    fake_stripe_reply_t *head, *tail;
    fake_stripe_reply_t dflt;
    fake_request_t **requests;
    size_t request_count, request_cap;
    int connection_count;
    void (*recorder)(const fake_request_t *, void *);
    void *recorder_ctx;
    fake_stripe_responder_fn responder;
    void *responder_ctx;
    /*
     * Live contexts, so stop can free any that MHD never reported complete (e.g. a request MHD
     * rejected itself before calling the handler).
     */
    fake_stripe_ctx_t *live;
};

/* Test support: running out of memory is not worth handling gracefully. */
static void *fake_stripe_xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p) {
        fprintf(stderr, "fake_stripe: out of memory\n");
        abort();
    }
    return p;
}

static char *fake_stripe_xstrndup(const char *s, size_t n)
{
    char *p = fake_stripe_xmalloc(n + 1);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

static char *fake_stripe_xstrdup(const char *s)
{
    return fake_stripe_xstrndup(s, strlen(s));
}

static void fake_stripe_reply_fill(fake_stripe_reply_t *r, int status, const char *headers,
                                   const char *body, int delay_ms, int drop, int repeat)
{
    r->status = status;
    r->headers = headers ? fake_stripe_xstrdup(headers) : NULL;
    r->body_len = body ? strlen(body) : 0;
    r->body = fake_stripe_xstrndup(body ? body : "", r->body_len);
    r->delay_ms = delay_ms > 0 ? delay_ms : 0;
    r->drop = drop;
    r->repeat = repeat;
    r->next = NULL;
}

static void fake_stripe_reply_clear(fake_stripe_reply_t *r)
{
    free(r->headers);
    free(r->body);
    r->headers = NULL;
    r->body = NULL;
}

static void fake_stripe_request_free(fake_request_t *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->header_count; i++) {
        free(r->headers[i].name);
        free(r->headers[i].value);
    }
    free(r->headers);
    free(r->method);
    free(r->path);
    free(r->query);
    free(r->body);
    free(r);
}

static void fake_stripe_ctx_free(fake_stripe_ctx_t *c)
{
    free(c->uri);
    free(c->body);
    free(c);
}

static void fake_stripe_sleep_ms(int ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* ---- MHD callbacks ---------------------------------------------------------------------- */

static void fake_stripe_connection_cb(void *cls, struct MHD_Connection *conn, void **socket_ctx,
                                      enum MHD_ConnectionNotificationCode code)
{
    fake_stripe_t *f = cls;
    (void)conn;
    (void)socket_ctx;
    if (code != MHD_CONNECTION_NOTIFY_STARTED)
        return;
    pthread_mutex_lock(&f->lock);
    f->connection_count++;
    pthread_mutex_unlock(&f->lock);
}

/* MHD strips the query from the url it hands the handler; this is where the raw one is. */
static void *fake_stripe_uri_cb(void *cls, const char *uri, struct MHD_Connection *conn)
{
    fake_stripe_t *f = cls;
    fake_stripe_ctx_t *c = fake_stripe_xmalloc(sizeof(*c));
    (void)conn;
    memset(c, 0, sizeof(*c));
    c->uri = fake_stripe_xstrdup(uri ? uri : "");

    pthread_mutex_lock(&f->lock);
    c->next = f->live;
    if (f->live)
        f->live->prev = c;
    f->live = c;
    pthread_mutex_unlock(&f->lock);
    return c;
}

static void fake_stripe_completed_cb(void *cls, struct MHD_Connection *conn, void **req_cls,
                                     enum MHD_RequestTerminationCode toe)
{
    fake_stripe_t *f = cls;
    fake_stripe_ctx_t *c = *req_cls;
    (void)conn;
    (void)toe;
    if (!c)
        return;
    *req_cls = NULL;

    pthread_mutex_lock(&f->lock);
    if (c->prev)
        c->prev->next = c->next;
    else
        f->live = c->next;
    if (c->next)
        c->next->prev = c->prev;
    pthread_mutex_unlock(&f->lock);
    fake_stripe_ctx_free(c);
}

static enum MHD_Result fake_stripe_header_cb(void *cls, enum MHD_ValueKind kind, const char *key,
                                             const char *value)
{
    fake_request_t *r = cls;
    (void)kind;
    /* Grow one at a time: requests carry a handful of headers. */
    fake_header_t *h = realloc(r->headers, (r->header_count + 1) * sizeof(*h));
    if (!h) {
        fprintf(stderr, "fake_stripe: out of memory\n");
        abort();
    }
    r->headers = h;
    h[r->header_count].name = fake_stripe_xstrdup(key ? key : "");
    h[r->header_count].value = fake_stripe_xstrdup(value ? value : "");
    r->header_count++;
    return MHD_YES;
}

static fake_request_t *fake_stripe_request_new(struct MHD_Connection *conn, const char *method,
                                               const char *url, fake_stripe_ctx_t *c)
{
    fake_request_t *r = fake_stripe_xmalloc(sizeof(*r));
    memset(r, 0, sizeof(*r));
    r->method = fake_stripe_xstrdup(method);

    const char *uri = c->uri ? c->uri : url;
    const char *q = strchr(uri, '?');
    r->path = q ? fake_stripe_xstrndup(uri, (size_t)(q - uri)) : fake_stripe_xstrdup(uri);
    r->query = fake_stripe_xstrdup(q ? q + 1 : "");

    /* Over the cap the partial body would only mislead, so record none. */
    if (c->too_large || !c->body) {
        r->body = fake_stripe_xstrdup("");
        r->body_len = 0;
    } else {
        r->body = c->body; /* already NUL-terminated; ownership moves to the record */
        r->body_len = c->body_len;
        c->body = NULL;
    }
    MHD_get_connection_values(conn, MHD_HEADER_KIND, fake_stripe_header_cb, r);
    return r;
}

/* Caller holds f->lock. */
static void fake_stripe_record(fake_stripe_t *f, fake_request_t *r)
{
    if (f->request_count == f->request_cap) {
        size_t cap = f->request_cap ? f->request_cap * 2 : 16;
        fake_request_t **v = realloc(f->requests, cap * sizeof(*v));
        if (!v) {
            fprintf(stderr, "fake_stripe: out of memory\n");
            abort();
        }
        f->requests = v;
        f->request_cap = cap;
    }
    f->requests[f->request_count++] = r;
    if (f->recorder)
        f->recorder(r, f->recorder_ctx);
}

/* Parses "Name: value\n..." onto resp; returns whether Content-Type was among them. */
static int fake_stripe_add_headers(struct MHD_Response *resp, const char *headers)
{
    int has_type = 0;
    const char *line = headers;
    while (line && *line) {
        const char *end = strchr(line, '\n');
        size_t len = end ? (size_t)(end - line) : strlen(line);
        char *copy = fake_stripe_xstrndup(line, len);
        char *colon = strchr(copy, ':');
        if (colon) {
            char *name = copy, *value = colon + 1, *e;
            *colon = '\0';
            while (*name == ' ' || *name == '\t')
                name++;
            for (e = colon; e > name && (e[-1] == ' ' || e[-1] == '\t');)
                *--e = '\0';
            while (*value == ' ' || *value == '\t')
                value++;
            for (e = value + strlen(value);
                 e > value && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r');)
                *--e = '\0';
            if (*name) {
                if (strcasecmp(name, "Content-Type") == 0)
                    has_type = 1;
                /* MHD refuses a few headers it manages itself (e.g. Content-Length). */
                if (MHD_add_response_header(resp, name, value) != MHD_YES)
                    fprintf(stderr, "fake_stripe: header refused by MHD: %s\n", name);
            }
        } else if (len > 0 && strspn(copy, " \t\r") != len) {
            fprintf(stderr, "fake_stripe: ignoring header line without ':': %s\n", copy);
        }
        free(copy);
        line = end ? end + 1 : NULL;
    }
    return has_type;
}

static struct MHD_Response *fake_stripe_response_new(const char *headers, const char *body,
                                                     size_t body_len)
{
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(body_len, (void *)body, MHD_RESPMEM_MUST_COPY);
    if (!resp)
        return NULL;
    if (!fake_stripe_add_headers(resp, headers))
        MHD_add_response_header(resp, "Content-Type", "application/json");
    return resp;
}

static void fake_stripe_body_append(fake_stripe_ctx_t *c, const char *data, size_t size)
{
    if (c->too_large || size > FAKE_STRIPE_BODY_CAP - c->body_len) {
        c->too_large = 1;
        return;
    }
    if (c->body_len + size + 1 > c->body_cap) {
        size_t cap = c->body_cap ? c->body_cap : 1024;
        while (cap < c->body_len + size + 1)
            cap *= 2;
        char *b = realloc(c->body, cap);
        if (!b) {
            fprintf(stderr, "fake_stripe: out of memory\n");
            abort();
        }
        c->body = b;
        c->body_cap = cap;
    }
    memcpy(c->body + c->body_len, data, size);
    c->body_len += size;
    c->body[c->body_len] = '\0';
}

static enum MHD_Result fake_stripe_handler(void *cls, struct MHD_Connection *conn, const char *url,
                                           const char *method, const char *version,
                                           const char *upload_data, size_t *upload_data_size,
                                           void **req_cls)
{
    fake_stripe_t *f = cls;
    fake_stripe_ctx_t *c = *req_cls;
    (void)version;

    if (!c)
        return MHD_NO; /* the URI callback always sets one; be safe anyway */
    if (!c->started) {
        /* Headers only; replying now would skip the body. */
        c->started = 1;
        return MHD_YES;
    }
    if (*upload_data_size > 0) {
        fake_stripe_body_append(c, upload_data, *upload_data_size);
        *upload_data_size = 0; /* consumed (or discarded past the cap) */
        return MHD_YES;
    }

    /* Request complete: record it and pick the reply atomically, so record i got reply i. */
    fake_request_t *r = fake_stripe_request_new(conn, method, url, c);
    struct MHD_Response *resp = NULL;
    int status, delay_ms = 0, drop = 0;

    pthread_mutex_lock(&f->lock);
    fake_stripe_record(f, r);
    if (c->too_large) {
        /* Not a scripted answer, so the queue is left alone. */
        status = MHD_HTTP_CONTENT_TOO_LARGE;
        resp = fake_stripe_response_new(NULL, FAKE_STRIPE_413_BODY, strlen(FAKE_STRIPE_413_BODY));
    } else if (!f->head && f->responder) {
        char *body = NULL;
        status = f->responder(r, &body, f->responder_ctx);
        resp = fake_stripe_response_new(NULL, body ? body : "", body ? strlen(body) : 0);
        free(body);
    } else {
        fake_stripe_reply_t *rep = f->head ? f->head : &f->dflt;
        status = rep->status;
        delay_ms = rep->delay_ms;
        drop = rep->drop;
        if (!drop)
            resp = fake_stripe_response_new(rep->headers, rep->body, rep->body_len);
        if (rep == f->head && !rep->repeat) {
            f->head = rep->next;
            if (!f->head)
                f->tail = NULL;
            fake_stripe_reply_clear(rep);
            free(rep);
        }
    }
    pthread_mutex_unlock(&f->lock);

    if (delay_ms > 0)
        fake_stripe_sleep_ms(delay_ms);
    /* MHD_NO makes MHD close the socket without sending anything. */
    if (drop || !resp)
        return MHD_NO;
    enum MHD_Result ret = MHD_queue_response(conn, (unsigned int)status, resp);
    MHD_destroy_response(resp);
    return ret;
}

/* ---- public API ------------------------------------------------------------------------- */

fake_stripe_t *fake_stripe_start(void)
{
    return fake_stripe_start_port(0);
}

fake_stripe_t *fake_stripe_start_port(int port)
{
    if (port < 0 || port > 65535)
        return NULL;

    fake_stripe_t *f = calloc(1, sizeof(*f));
    if (!f)
        return NULL;
    if (pthread_mutex_init(&f->lock, NULL) != 0) {
        free(f);
        return NULL;
    }
    fake_stripe_reply_fill(&f->dflt, MHD_HTTP_NOT_FOUND, NULL, FAKE_STRIPE_DEFAULT_BODY, 0, 0, 1);

    struct sockaddr_in addr;
    memset(&addr, 0, sizeof(addr));
    addr.sin_family = AF_INET;
    addr.sin_port = htons((uint16_t)port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);

    /* Thread per connection: a delayed reply only holds up its own connection. */
    unsigned int flags =
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION | MHD_USE_AUTO;
    if (getenv("FAKE_STRIPE_DEBUG"))
        flags |= MHD_USE_ERROR_LOG;

    /* One option and its arguments per line. */
    /* clang-format off */
    f->daemon = MHD_start_daemon(flags, 0, NULL, NULL, fake_stripe_handler, f,
                                 MHD_OPTION_SOCK_ADDR, (const struct sockaddr *)&addr,
                                 MHD_OPTION_URI_LOG_CALLBACK, fake_stripe_uri_cb, f,
                                 MHD_OPTION_NOTIFY_COMPLETED, fake_stripe_completed_cb, f,
                                 MHD_OPTION_NOTIFY_CONNECTION, fake_stripe_connection_cb, f,
                                 MHD_OPTION_END);
    /* clang-format on */
    if (!f->daemon)
        goto fail;

    const union MHD_DaemonInfo *info = MHD_get_daemon_info(f->daemon, MHD_DAEMON_INFO_BIND_PORT);
    if (!info || info->port == 0)
        goto fail;
    f->port = info->port;
    snprintf(f->url, sizeof(f->url), "http://127.0.0.1:%d", f->port);
    return f;

fail:
    if (f->daemon)
        MHD_stop_daemon(f->daemon);
    fake_stripe_reply_clear(&f->dflt);
    pthread_mutex_destroy(&f->lock);
    free(f);
    return NULL;
}

int fake_stripe_port(const fake_stripe_t *f)
{
    return f ? f->port : 0;
}

const char *fake_stripe_url(const fake_stripe_t *f)
{
    return f ? f->url : NULL;
}

void fake_stripe_push_ex(fake_stripe_t *f, int status, const char *headers, const char *body,
                         int delay_ms, int drop, int repeat)
{
    if (!f)
        return;
    fake_stripe_reply_t *r = fake_stripe_xmalloc(sizeof(*r));
    fake_stripe_reply_fill(r, status, headers, body, delay_ms, drop, repeat);

    pthread_mutex_lock(&f->lock);
    if (f->tail)
        f->tail->next = r;
    else
        f->head = r;
    f->tail = r;
    pthread_mutex_unlock(&f->lock);
}

void fake_stripe_push(fake_stripe_t *f, int status, const char *headers, const char *body)
{
    fake_stripe_push_ex(f, status, headers, body, 0, 0, 0);
}

void fake_stripe_push_delay(fake_stripe_t *f, int status, const char *headers, const char *body,
                            int delay_ms)
{
    fake_stripe_push_ex(f, status, headers, body, delay_ms, 0, 0);
}

void fake_stripe_push_drop(fake_stripe_t *f)
{
    fake_stripe_push_ex(f, 0, NULL, NULL, 0, 1, 0);
}

void fake_stripe_set_default(fake_stripe_t *f, int status, const char *headers, const char *body)
{
    if (!f)
        return;
    fake_stripe_reply_t r;
    fake_stripe_reply_fill(&r, status, headers, body, 0, 0, 1);

    pthread_mutex_lock(&f->lock);
    fake_stripe_reply_t old = f->dflt;
    f->dflt = r;
    pthread_mutex_unlock(&f->lock);
    fake_stripe_reply_clear(&old);
}

void fake_stripe_set_responder(fake_stripe_t *f, fake_stripe_responder_fn fn, void *ctx)
{
    pthread_mutex_lock(&f->lock);
    f->responder = fn;
    f->responder_ctx = ctx;
    pthread_mutex_unlock(&f->lock);
}

void fake_stripe_set_recorder(fake_stripe_t *f, void (*fn)(const fake_request_t *, void *ctx),
                              void *ctx)
{
    if (!f)
        return;
    pthread_mutex_lock(&f->lock);
    f->recorder = fn;
    f->recorder_ctx = ctx;
    pthread_mutex_unlock(&f->lock);
}

size_t fake_stripe_request_count(fake_stripe_t *f)
{
    if (!f)
        return 0;
    pthread_mutex_lock(&f->lock);
    size_t n = f->request_count;
    pthread_mutex_unlock(&f->lock);
    return n;
}

const fake_request_t *fake_stripe_request(fake_stripe_t *f, size_t i)
{
    if (!f)
        return NULL;
    pthread_mutex_lock(&f->lock);
    /* Records are never moved or freed before stop, so the pointer outlives the lock. */
    const fake_request_t *r = i < f->request_count ? f->requests[i] : NULL;
    pthread_mutex_unlock(&f->lock);
    return r;
}

const char *fake_request_header(const fake_request_t *r, const char *name)
{
    if (!r || !name)
        return NULL;
    for (size_t i = 0; i < r->header_count; i++)
        if (strcasecmp(r->headers[i].name, name) == 0)
            return r->headers[i].value;
    return NULL;
}

int fake_stripe_connection_count(fake_stripe_t *f)
{
    if (!f)
        return 0;
    pthread_mutex_lock(&f->lock);
    int n = f->connection_count;
    pthread_mutex_unlock(&f->lock);
    return n;
}

void fake_stripe_stop(fake_stripe_t *f)
{
    if (!f)
        return;
    /* Joins every connection thread, so no callback runs after this. */
    MHD_stop_daemon(f->daemon);

    while (f->head) {
        fake_stripe_reply_t *next = f->head->next;
        fake_stripe_reply_clear(f->head);
        free(f->head);
        f->head = next;
    }
    fake_stripe_reply_clear(&f->dflt);
    for (size_t i = 0; i < f->request_count; i++)
        fake_stripe_request_free(f->requests[i]);
    free(f->requests);
    while (f->live) {
        fake_stripe_ctx_t *next = f->live->next;
        fake_stripe_ctx_free(f->live);
        f->live = next;
    }
    pthread_mutex_destroy(&f->lock);
    free(f);
}
