/* Webhook ingest over libmicrohttpd: POST /hooks/CONNECTION is verified, parsed, stored through
 * the inbox and answered 2xx only once durable. A small pool of epoll threads serves every
 * connection: a verified request suspends its connection and joins the next group commit; the
 * committer resumes the connections of a batch once it is on disk, and the answer goes out. */
#include <arpa/inet.h>
#include <netdb.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <microhttpd.h>

#include "conn/conn.h"
#include "core/buf.h"
#include "core/jscan.h"
#include "core/log.h"
#include "http/inbox.h"
#include "http/api.h"
#include "http/server.h"
#include "sluice/webhook.h"

/* Why a request was refused; the order is the order /metrics prints them in. */
enum {
    REJ_MISSING_HEADER,
    REJ_MALFORMED_HEADER,
    REJ_TIMESTAMP,
    REJ_NO_MATCH,
    REJ_NO_SECRET,
    REJ_NOT_EVENT,
    REJ_UNKNOWN_CONNECTION,
    REJ_METHOD,
    REJ_TOO_LARGE,
    REJ_COUNT
};
static const char *const rej_names[REJ_COUNT] = {
    "missing_signature_header", "malformed_signature_header", "timestamp_outside_tolerance",
    "no_matching_signature",    "no_webhook_secret",          "not_a_stripe_event",
    "unknown_connection",       "method_not_allowed",         "body_too_large",
};

/* Unsealed webhook secrets of one connection, refreshed from the store every second so that
 * `sluice connect rotate-secret` reaches a running server at once. */
#define SECRET_TTL_S 1
typedef struct secret_entry {
    char name[64];
    int refreshing; /* one request reloads it; the others keep using what is here */
    char *current;
    char *previous;
    time_t loaded;
} secret_entry_t;

struct sl_server {
    sl_serve_config_t cfg;
    struct MHD_Daemon *daemon;
    int port;
    sl_inbox_t *inbox;
    pthread_mutex_t secrets_lock;
    secret_entry_t *secrets;
    size_t nsecrets;
    atomic_ullong received, accepted, duplicates, store_errors;
    atomic_ullong rejected[REJ_COUNT];
    /* Requests waiting for their commit; none may start once stopping is set. */
    pthread_mutex_t flight_lock;
    size_t in_flight;
    int stopping;
};

enum { RQ_READING, RQ_COMMITTING, RQ_COMMITTED };

typedef struct request {
    sl_buf_t body;
    int too_big;
    atomic_int state;
    char id[128]; /* ev's strings */
    char type[128];
    sl_event_in_t ev;
    sl_inbox_item_t item;
    struct MHD_Connection *conn;
    sl_server_t *server;
    int is_api;   /* an /api/ request collecting its body */
    int counted;  /* submitted: in_flight counts it until answered or closed */
    int answered; /* the answer is queued (or the connection gone) */
} request_t;

static enum MHD_Result reply(struct MHD_Connection *conn, unsigned status, const char *body,
                             const char *type)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(strlen(body), (void *)body, MHD_RESPMEM_MUST_COPY);
    if (!r)
        return MHD_NO;
    MHD_add_response_header(r, "Content-Type", type);
    if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
        MHD_add_response_header(r, "Allow", "POST");
    enum MHD_Result ret = MHD_queue_response(conn, status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result reply_json(struct MHD_Connection *conn, unsigned status, json_t *body)
{
    char *text = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    enum MHD_Result ret = reply(conn, status, text ? text : "{}", "application/json");
    free(text);
    return ret;
}

static const char *remote_addr(struct MHD_Connection *conn, char *buf, size_t n)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    buf[0] = '\0';
    if (ci && ci->client_addr) {
        const struct sockaddr *sa = ci->client_addr;
        if (sa->sa_family == AF_INET)
            inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, buf, (socklen_t)n);
        else if (sa->sa_family == AF_INET6)
            inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, buf, (socklen_t)n);
    }
    return buf;
}

static enum MHD_Result reject(sl_server_t *s, struct MHD_Connection *conn, int why, unsigned status,
                              const char *connection, const char *message)
{
    s->rejected[why]++;
    char addr[64];
    sl__log("warn", "webhook rejected",
            json_pack("{s:s,s:s,s:s,s:i}", "connection", connection ? connection : "", "reason",
                      rej_names[why], "remote", remote_addr(conn, addr, sizeof addr), "status",
                      (int)status));
    return reply_json(conn, status,
                      json_pack("{s:s,s:s}", "error", rej_names[why], "message", message));
}

/* Copies the connection's secrets into *cur and *prev. Entries are refreshed from the store when
 * older than SECRET_TTL_S by one request, outside the cache's lock, while the others go on with
 * the stale copy: a slow commit holds up at most that one request. Unknown names are not cached (a
 * flood of made-up names cannot grow it), and names no connection could have are refused without a
 * lookup. Returns 0 when the connection does not exist. */
static int secrets_for(sl_server_t *s, const char *name, char **cur, char **prev)
{
    time_t now = time(NULL);
    *cur = *prev = NULL;
    if (!sl__conn_name_ok(name))
        return 0;
    pthread_mutex_lock(&s->secrets_lock);
    for (size_t i = 0; i < s->nsecrets; i++) {
        secret_entry_t *e = &s->secrets[i];
        if (strcmp(e->name, name) != 0)
            continue;
        if (now - e->loaded < SECRET_TTL_S || e->refreshing) {
            *cur = e->current ? strdup(e->current) : NULL;
            *prev = e->previous ? strdup(e->previous) : NULL;
            pthread_mutex_unlock(&s->secrets_lock);
            return 1;
        }
        e->refreshing = 1; /* this request reloads it */
        break;
    }
    pthread_mutex_unlock(&s->secrets_lock);

    sl_conn_row_t row;
    char err[256];
    if (s->cfg.store->ops->conn_get(s->cfg.store, name, &row, err, sizeof err) != SL_OK) {
        /* Gone (removed): forget it. */
        pthread_mutex_lock(&s->secrets_lock);
        for (size_t i = 0; i < s->nsecrets; i++) {
            if (strcmp(s->secrets[i].name, name) == 0) {
                sl__crypt_free(s->secrets[i].current);
                sl__crypt_free(s->secrets[i].previous);
                s->secrets[i] = s->secrets[--s->nsecrets];
                break;
            }
        }
        pthread_mutex_unlock(&s->secrets_lock);
        return 0;
    }
    char *c = NULL, *p = NULL;
    if (sl__conn_secrets(&row, s->cfg.crypt, now, &c, &p))
        sl__log("error", "cannot decrypt the webhook secret",
                json_pack("{s:s}", "connection", name));
    sl_conn_row_cleanup(&row);

    pthread_mutex_lock(&s->secrets_lock);
    secret_entry_t *e = NULL;
    for (size_t i = 0; i < s->nsecrets; i++)
        if (strcmp(s->secrets[i].name, name) == 0)
            e = &s->secrets[i];
    if (!e) {
        secret_entry_t *grown = realloc(s->secrets, (s->nsecrets + 1) * sizeof *grown);
        if (grown) {
            s->secrets = grown;
            e = &s->secrets[s->nsecrets++];
            memset(e, 0, sizeof *e);
            snprintf(e->name, sizeof e->name, "%s", name);
        }
    }
    if (e) {
        sl__crypt_free(e->current);
        sl__crypt_free(e->previous);
        e->current = c ? strdup(c) : NULL;
        e->previous = p ? strdup(p) : NULL;
        e->loaded = now;
        e->refreshing = 0;
    }
    pthread_mutex_unlock(&s->secrets_lock);
    *cur = c;
    *prev = p;
    return 1;
}

static long long now_ms(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (long long)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

/* A Stripe event: an object with an evt_ id, "object": "event" and a type. Copies the id and
 * type out; returns what is wrong with the body, or NULL. */
static const char *event_fields(const char *body, size_t len, char *id, size_t idlen, char *type,
                                size_t typelen, long long *created)
{
    sl_jscan_field_t f[4] = {
        {.name = "id"}, {.name = "object"}, {.name = "type"}, {.name = "created"}};
    if (sl__jscan_object(body, len, f, 4))
        return "the body is not a JSON object";
    if (f[0].kind != SL_JSCAN_STRING || f[0].len < 5 || f[0].len >= idlen ||
        memcmp(f[0].str, "evt_", 4) != 0)
        return "the body has no event id (evt_...)";
    if (f[1].kind != SL_JSCAN_STRING || f[1].len != 5 || memcmp(f[1].str, "event", 5) != 0)
        return "the body is not an event (\"object\": \"event\")";
    if (f[2].kind != SL_JSCAN_STRING || !f[2].len || f[2].len >= typelen)
        return "the event has no type";
    memcpy(id, f[0].str, f[0].len);
    id[f[0].len] = '\0';
    memcpy(type, f[2].str, f[2].len);
    type[f[2].len] = '\0';
    *created = f[3].kind == SL_JSCAN_INTEGER ? f[3].integer : 0;
    return NULL;
}

sl_err sl__server_ingest(sl_server_t *s, const char *connection, const char *source,
                         const char *payload, size_t len, int *fresh, char *err, size_t errlen)
{
    char id[128], type[128];
    long long created;
    const char *problem = event_fields(payload, len, id, sizeof id, type, sizeof type, &created);
    if (problem) {
        snprintf(err, errlen, "%s", problem);
        return SL_EPARSE;
    }
    sl_event_in_t in = {id, connection, type, source, payload, len, created, now_ms()};
    s->received++;
    sl_err rc = sl__inbox_submit(s->inbox, &in, fresh, err, errlen);
    if (!rc)
        atomic_fetch_add(*fresh ? &s->accepted : &s->duplicates, 1);
    else
        s->store_errors++;
    return rc;
}

/* The committer calls this once the request's batch is durable (or failed). */
static void on_committed(sl_inbox_item_t *item)
{
    request_t *rq = item->ctx;
    sl_server_t *s = rq->server;
    struct MHD_Connection *conn = rq->conn; /* rq may be answered and freed once resumed */
    if (item->rc)
        s->store_errors++;
    else
        atomic_fetch_add(item->fresh ? &s->accepted : &s->duplicates, 1);
    atomic_store(&rq->state, RQ_COMMITTED);
    MHD_resume_connection(conn);
}

/* A submitted request is answered, or its connection closed before it could be. */
static void flight_done(sl_server_t *s, request_t *rq)
{
    if (!rq->counted || rq->answered)
        return;
    rq->answered = 1;
    pthread_mutex_lock(&s->flight_lock);
    s->in_flight--;
    pthread_mutex_unlock(&s->flight_lock);
}

/* After the commit: the answer. */
static enum MHD_Result answer_committed(sl_server_t *s, struct MHD_Connection *conn,
                                        const char *name, request_t *rq)
{
    flight_done(s, rq);
    if (rq->item.rc) {
        sl__log("error", "event not stored",
                json_pack("{s:s,s:s}", "connection", name, "error", rq->item.err));
        /* Stripe retries on 5xx, so nothing is lost. */
        return reply_json(
            conn, MHD_HTTP_SERVICE_UNAVAILABLE,
            json_pack("{s:s,s:s}", "error", "store_unavailable", "message", rq->item.err));
    }
    return reply(conn, MHD_HTTP_OK,
                 rq->item.fresh ? "{\"received\":true,\"duplicate\":false}"
                                : "{\"received\":true,\"duplicate\":true}",
                 "application/json");
}

static enum MHD_Result handle_hook(sl_server_t *s, struct MHD_Connection *conn, const char *name,
                                   request_t *rq)
{
    if (atomic_load(&rq->state) == RQ_COMMITTED)
        return answer_committed(s, conn, name, rq);
    if (atomic_load(&rq->state) == RQ_COMMITTING)
        return MHD_YES; /* not resumed yet */
    if (rq->too_big) {
        char msg[96];
        snprintf(msg, sizeof msg, "the body is larger than %zu bytes", s->cfg.max_body);
        return reject(s, conn, REJ_TOO_LARGE, MHD_HTTP_CONTENT_TOO_LARGE, name, msg);
    }
    char *cur = NULL, *prev = NULL;
    if (!secrets_for(s, name, &cur, &prev))
        return reject(s, conn, REJ_UNKNOWN_CONNECTION, MHD_HTTP_NOT_FOUND, name,
                      "no connection of that name");
    const char *header = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Stripe-Signature");
    const char *secrets[2] = {cur, prev};
    const char *body = rq->body.data ? rq->body.data : "";
    sl_webhook_reason why =
        sl_webhook_verify(header, body, rq->body.len, secrets, 2, s->cfg.tolerance, time(NULL));
    sl__crypt_free(cur);
    sl__crypt_free(prev);
    if (why != SL_WEBHOOK_OK) {
        static const int map[] = {[SL_WEBHOOK_NO_HEADER] = REJ_MISSING_HEADER,
                                  [SL_WEBHOOK_MALFORMED] = REJ_MALFORMED_HEADER,
                                  [SL_WEBHOOK_TIMESTAMP] = REJ_TIMESTAMP,
                                  [SL_WEBHOOK_NO_MATCH] = REJ_NO_MATCH,
                                  [SL_WEBHOOK_NO_SECRET] = REJ_NO_SECRET};
        static const char *const msgs[] = {
            [SL_WEBHOOK_NO_HEADER] = "no Stripe-Signature header",
            [SL_WEBHOOK_MALFORMED] = "the Stripe-Signature header needs t= and v1=",
            [SL_WEBHOOK_TIMESTAMP] = "the signature's timestamp is outside the tolerance",
            [SL_WEBHOOK_NO_MATCH] = "no signature matches the webhook secret",
            [SL_WEBHOOK_NO_SECRET] = "the connection has no webhook secret yet"};
        return reject(s, conn, map[why],
                      why == SL_WEBHOOK_NO_SECRET ? MHD_HTTP_SERVICE_UNAVAILABLE
                                                  : MHD_HTTP_BAD_REQUEST,
                      name, msgs[why]);
    }
    long long created = 0;
    const char *problem = event_fields(body, rq->body.len, rq->id, sizeof rq->id, rq->type,
                                       sizeof rq->type, &created);
    if (problem)
        return reject(s, conn, REJ_NOT_EVENT, MHD_HTTP_BAD_REQUEST, name, problem);
    pthread_mutex_lock(&s->flight_lock);
    int stopping = s->stopping;
    if (!stopping)
        s->in_flight++;
    pthread_mutex_unlock(&s->flight_lock);
    if (stopping)
        return reply_json(conn, MHD_HTTP_SERVICE_UNAVAILABLE,
                          json_pack("{s:s,s:s}", "error", "shutting_down", "message",
                                    "sluice is stopping; Stripe will retry"));
    rq->ev =
        (sl_event_in_t){rq->id, name, rq->type, "webhook", body, rq->body.len, created, now_ms()};
    rq->item = (sl_inbox_item_t){.ev = &rq->ev, .done = on_committed, .ctx = rq};
    rq->conn = conn;
    rq->server = s;
    rq->counted = 1;
    s->received++;
    /* Suspend first: the commit may finish, and resume us, before this function returns. */
    atomic_store(&rq->state, RQ_COMMITTING);
    MHD_suspend_connection(conn);
    if (sl__inbox_submit_async(s->inbox, &rq->item)) {
        rq->item.rc = SL_EINVAL;
        snprintf(rq->item.err, sizeof rq->item.err, "shutting down");
        on_committed(&rq->item);
    }
    return MHD_YES;
}

static enum MHD_Result handle_metrics(sl_server_t *s, struct MHD_Connection *conn)
{
    sl_buf_t b;
    sl__buf_init(&b, 1 << 20);
    sl__buf_printf(&b,
                   "# HELP sluice_webhooks_received_total Verified webhook events offered to the "
                   "inbox.\n# TYPE sluice_webhooks_received_total counter\n"
                   "sluice_webhooks_received_total %llu\n"
                   "# HELP sluice_webhooks_accepted_total Events stored for the first time.\n"
                   "# TYPE sluice_webhooks_accepted_total counter\n"
                   "sluice_webhooks_accepted_total %llu\n"
                   "# HELP sluice_webhooks_duplicate_total Events already in the inbox.\n"
                   "# TYPE sluice_webhooks_duplicate_total counter\n"
                   "sluice_webhooks_duplicate_total %llu\n"
                   "# HELP sluice_webhooks_store_errors_total Events the store failed to keep "
                   "(answered 503).\n# TYPE sluice_webhooks_store_errors_total counter\n"
                   "sluice_webhooks_store_errors_total %llu\n"
                   "# HELP sluice_webhooks_rejected_total Requests refused, by reason.\n"
                   "# TYPE sluice_webhooks_rejected_total counter\n",
                   (unsigned long long)s->received, (unsigned long long)s->accepted,
                   (unsigned long long)s->duplicates, (unsigned long long)s->store_errors);
    for (int i = 0; i < REJ_COUNT; i++)
        sl__buf_printf(&b, "sluice_webhooks_rejected_total{reason=\"%s\"} %llu\n", rej_names[i],
                       (unsigned long long)s->rejected[i]);
    sl_inbox_stats_t st;
    sl__inbox_stats(s->inbox, &st);
    sl__buf_printf(&b, "# HELP sluice_commit_batch_size Events per group commit.\n"
                       "# TYPE sluice_commit_batch_size histogram\n");
    unsigned long long cum = 0;
    for (int i = 0; i < SL_INBOX_BATCH_BUCKETS; i++) {
        cum += st.batch_le[i];
        if (i < SL_INBOX_BATCH_BUCKETS - 1)
            sl__buf_printf(&b, "sluice_commit_batch_size_bucket{le=\"%g\"} %llu\n",
                           sl__inbox_batch_bounds[i], cum);
        else
            sl__buf_printf(&b, "sluice_commit_batch_size_bucket{le=\"+Inf\"} %llu\n", cum);
    }
    sl__buf_printf(&b, "sluice_commit_batch_size_sum %llu\nsluice_commit_batch_size_count %llu\n",
                   st.events, st.batches);
    sl__buf_printf(&b, "# HELP sluice_commit_seconds Time to make one batch durable.\n"
                       "# TYPE sluice_commit_seconds histogram\n");
    cum = 0;
    for (int i = 0; i < SL_INBOX_LATENCY_BUCKETS; i++) {
        cum += st.latency_le[i];
        if (i < SL_INBOX_LATENCY_BUCKETS - 1)
            sl__buf_printf(&b, "sluice_commit_seconds_bucket{le=\"%g\"} %llu\n",
                           sl__inbox_latency_bounds_ms[i] / 1e3, cum);
        else
            sl__buf_printf(&b, "sluice_commit_seconds_bucket{le=\"+Inf\"} %llu\n", cum);
    }
    sl__buf_printf(&b, "sluice_commit_seconds_sum %.6f\nsluice_commit_seconds_count %llu\n",
                   st.latency_sum_s, st.batches);
    enum MHD_Result ret =
        reply(conn, MHD_HTTP_OK, b.data ? b.data : "", "text/plain; version=0.0.4");
    sl__buf_cleanup(&b);
    return ret;
}

static const char *api_arg(void *conn, const char *name)
{
    return MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, name);
}

/* Constant-time comparison of the bearer token. */
static int token_ok(const sl_server_t *s, struct MHD_Connection *conn)
{
    const char *auth = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Authorization");
    const char *want = s->cfg.admin_token;
    if (!auth || strncmp(auth, "Bearer ", 7) != 0 || !want || !*want)
        return 0;
    const char *got = auth + 7;
    size_t n = strlen(want);
    unsigned char diff = strlen(got) != n;
    for (size_t i = 0; i < n; i++)
        diff |= (unsigned char)(got[i] ^ want[i]) | (unsigned char)!got[i];
    return diff == 0;
}

static enum MHD_Result answer_api(sl_server_t *s, struct MHD_Connection *conn, const char *method,
                                  const char *url, const char *body, size_t len)
{
    json_t *out = NULL;
    unsigned status = sl__api_handle(s->cfg.api, method, url, body, len, api_arg, conn, &out);
    return reply_json(conn, status, out ? out : json_object());
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
    (void)version;
    sl_server_t *s = cls;
    int is_hook = strncmp(url, "/hooks/", 7) == 0;
    const char *name = url + 7;

    if (!*con_cls) {
        /* First call: headers only. Answer what needs no body at once. */
        if (strcmp(url, "/healthz") == 0)
            return reply(conn, MHD_HTTP_OK, "{\"ok\":true}", "application/json");
        if (strcmp(url, "/metrics") == 0)
            return handle_metrics(s, conn);
        if (s->cfg.api && strncmp(url, "/api/", 5) == 0) {
            if (!token_ok(s, conn))
                return reply_json(
                    conn, MHD_HTTP_UNAUTHORIZED,
                    json_pack("{s:s,s:s}", "error", "unauthorized", "message",
                              "the API needs Authorization: Bearer <admin token> (the token "
                              "is SLUICE_ADMIN_TOKEN, or DATA/admin.token)"));
            if (strcmp(method, "POST") != 0)
                return answer_api(s, conn, method, url, NULL, 0);
            request_t *rq = calloc(1, sizeof *rq);
            if (!rq)
                return MHD_NO;
            rq->is_api = 1;
            sl__buf_init(&rq->body, 1 << 20);
            *con_cls = rq;
            return MHD_YES;
        }
        if (!is_hook || !*name || strchr(name, '/'))
            return reply_json(conn, MHD_HTTP_NOT_FOUND,
                              json_pack("{s:s,s:s}", "error", "not_found", "message",
                                        "webhooks go to POST /hooks/CONNECTION"));
        if (strcmp(method, "POST") != 0)
            return reject(s, conn, REJ_METHOD, MHD_HTTP_METHOD_NOT_ALLOWED, name,
                          "webhooks are POSTed");
        const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Length");
        if (cl && strtoull(cl, NULL, 10) > s->cfg.max_body) {
            char msg[96];
            snprintf(msg, sizeof msg, "the body is larger than %zu bytes", s->cfg.max_body);
            return reject(s, conn, REJ_TOO_LARGE, MHD_HTTP_CONTENT_TOO_LARGE, name, msg);
        }
        request_t *rq = calloc(1, sizeof *rq);
        if (!rq)
            return MHD_NO;
        sl__buf_init(&rq->body, s->cfg.max_body);
        if (cl)
            sl__buf_reserve(&rq->body, strtoull(cl, NULL, 10)); /* one allocation, not seven */
        *con_cls = rq;
        return MHD_YES;
    }
    request_t *rq = *con_cls;
    if (*upload_data_size) {
        if (!rq->too_big && sl__buf_append(&rq->body, upload_data, *upload_data_size))
            rq->too_big = 1;
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (rq->is_api)
        return rq->too_big ? reply_json(conn, MHD_HTTP_CONTENT_TOO_LARGE,
                                        json_pack("{s:s}", "error", "too_large"))
                           : answer_api(s, conn, method, url, rq->body.data, rq->body.len);
    return handle_hook(s, conn, name, rq);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)conn;
    (void)toe;
    request_t *rq = *con_cls;
    if (rq) {
        flight_done(cls, rq); /* a client that hung up while its event committed */
        sl__buf_cleanup(&rq->body);
        free(rq);
        *con_cls = NULL;
    }
}

static sl_err parse_listen(const char *listen, struct sockaddr_storage *ss, char *err,
                           size_t errlen)
{
    char host[256];
    const char *colon = strrchr(listen, ':');
    if (!colon || colon == listen || !colon[1]) {
        snprintf(err, errlen, "--listen `%s` is not HOST:PORT", listen);
        return SL_EINVAL;
    }
    size_t hl = (size_t)(colon - listen);
    if (listen[0] == '[' && hl > 2 && listen[hl - 1] == ']') { /* [::1]:8080 */
        listen++;
        hl -= 2;
    }
    snprintf(host, sizeof host, "%.*s", (int)hl, listen);
    const char *port = colon + 1;
    if (strspn(port, "0123456789") != strlen(port) || strlen(port) > 5 || atol(port) > 65535) {
        snprintf(err, errlen, "--listen `%s`: the port must be a number from 0 to 65535", listen);
        return SL_EINVAL;
    }
    struct addrinfo hints = {0}, *res = NULL;
    hints.ai_flags = AI_NUMERICSERV | AI_PASSIVE;
    hints.ai_socktype = SOCK_STREAM;
    if (getaddrinfo(host, colon + 1, &hints, &res) || !res) {
        snprintf(err, errlen, "--listen `%s`: not an address and port", listen);
        return SL_EINVAL;
    }
    memcpy(ss, res->ai_addr, res->ai_addrlen);
    freeaddrinfo(res);
    return SL_OK;
}

/* One epoll thread per core (at least 2): parsing and HMAC run there, the commit elsewhere. */
static unsigned pool_size(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 2 ? 2 : n > 16 ? 16 : (unsigned)n;
}

sl_err sl__server_start(const sl_serve_config_t *cfg, sl_server_t **out, char *err, size_t errlen)
{
    *out = NULL;
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    sl_err rc = parse_listen(cfg->listen, &ss, err, errlen);
    if (rc)
        return rc;
    sl_server_t *s = calloc(1, sizeof *s);
    if (!s)
        return SL_ENOMEM;
    s->cfg = *cfg;
    pthread_mutex_init(&s->secrets_lock, NULL);
    pthread_mutex_init(&s->flight_lock, NULL);
    rc = sl__inbox_start(cfg->store, cfg->max_batch, &s->inbox);
    if (rc) {
        snprintf(err, errlen, "cannot start the committer");
        goto fail;
    }
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME |
                     MHD_USE_ERROR_LOG | MHD_USE_ITC;
    if (ss.ss_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    s->daemon = MHD_start_daemon(
        flags, 0, NULL, NULL, on_request, s, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, s, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)30,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned)4096, MHD_OPTION_THREAD_POOL_SIZE, pool_size(),
        MHD_OPTION_LISTENING_ADDRESS_REUSE, (unsigned)0, MHD_OPTION_END);
    if (!s->daemon) {
        snprintf(err, errlen, "cannot listen on %s (in use, or not an address of this machine)",
                 cfg->listen);
        rc = SL_EIO;
        goto fail;
    }
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_BIND_PORT);
    s->port = di ? di->port : 0;
    *out = s;
    return SL_OK;
fail:
    sl__inbox_stop(s->inbox);
    pthread_mutex_destroy(&s->secrets_lock);
    pthread_mutex_destroy(&s->flight_lock);
    free(s);
    return rc;
}

int sl__server_port(const sl_server_t *s)
{
    return s->port;
}

void sl__server_stop(sl_server_t *s)
{
    if (!s)
        return;
    /* Stop accepting connections and refuse new submissions; commit everything queued, which
     * resumes every suspended connection while the daemon still runs; then wait for those
     * answers to go out. Only then may connections close (libmicrohttpd aborts when stopped
     * with connections still suspended). */
    MHD_socket fd = MHD_quiesce_daemon(s->daemon);
    pthread_mutex_lock(&s->flight_lock);
    s->stopping = 1;
    pthread_mutex_unlock(&s->flight_lock);
    sl__inbox_drain(s->inbox);
    for (int i = 0; i < 30000; i++) {
        pthread_mutex_lock(&s->flight_lock);
        size_t left = s->in_flight;
        pthread_mutex_unlock(&s->flight_lock);
        if (!left)
            break;
        usleep(1000);
    }
    MHD_stop_daemon(s->daemon);
    if (fd != MHD_INVALID_SOCKET)
        close(fd);
    sl__inbox_stop(s->inbox);
    for (size_t i = 0; i < s->nsecrets; i++) {
        sl__crypt_free(s->secrets[i].current);
        sl__crypt_free(s->secrets[i].previous);
    }
    free(s->secrets);
    pthread_mutex_destroy(&s->secrets_lock);
    pthread_mutex_destroy(&s->flight_lock);
    free(s);
}
