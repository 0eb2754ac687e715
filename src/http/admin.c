/* The admin listener (--admin-listen): the dashboard's pages (web/, embedded), the REST API
 * under /api/, sign-in and sign-out under /auth/, and live changes at /api/stream.
 *
 * Who may: a request with Authorization: Bearer <admin token>, or one carrying the session
 * cookie that signing in with the token set. A session's state-changing requests (every
 * method but GET) must also carry its CSRF token in X-CSRF-Token and, when the browser says
 * where it comes from (Origin, Sec-Fetch-Site), come from this origin. Bearer requests need
 * neither: no browser sends that header on its own.
 *
 * One thread per connection (admin traffic is a few people, and a live stream waits in its
 * thread), apart from the webhook listener's epoll threads. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "core/clock.h"
#include "core/embedded.h"
#include "core/log.h"
#include "core/net.h"
#include "http/api.h"
#include "http/internal.h"

#define SESSION_MAX 256
#define SESSION_TTL_S (12 * 3600)
#define COOKIE "sl_session"
#define STREAM_POLL_MS 1000
#define STREAM_PING_MS 15000

typedef struct session {
    char id[65];   /* the cookie's value: 32 random bytes in hex */
    char csrf[65]; /* what X-CSRF-Token must say */
    long long expires_ms;
} session_t;

struct sl_admin {
    struct MHD_Daemon *daemon;
    int port;
    atomic_int stopping;
    pthread_mutex_t lock;
    session_t sessions[SESSION_MAX];
};

static int random_hex(char *out, size_t n)
{
    unsigned char raw[32];
    if (n < 2 * sizeof raw + 1 || RAND_bytes(raw, sizeof raw) != 1)
        return -1;
    for (size_t i = 0; i < sizeof raw; i++)
        snprintf(out + 2 * i, 3, "%02x", raw[i]);
    return 0;
}

static int same_secret(const char *got, const char *want)
{
    size_t n = strlen(want);
    return n && strlen(got) == n && CRYPTO_memcmp(got, want, n) == 0;
}

/* --- sessions ------------------------------------------------------------------------------ */

/* A new session (the oldest gives way when all are taken); 0, or -1 without randomness. */
static int session_new(sl_admin_t *a, session_t *out)
{
    session_t s;
    if (random_hex(s.id, sizeof s.id) || random_hex(s.csrf, sizeof s.csrf))
        return -1;
    s.expires_ms = sl__now_ms() + 1000LL * SESSION_TTL_S;
    pthread_mutex_lock(&a->lock);
    size_t slot = 0;
    for (size_t i = 0; i < SESSION_MAX; i++)
        if (a->sessions[i].expires_ms < a->sessions[slot].expires_ms)
            slot = i;
    a->sessions[slot] = s;
    pthread_mutex_unlock(&a->lock);
    *out = s;
    return 0;
}

/* The live session the request's cookie names, copied to out; 0 if there is none. */
static int session_of(sl_admin_t *a, struct MHD_Connection *conn, session_t *out)
{
    const char *id = MHD_lookup_connection_value(conn, MHD_COOKIE_KIND, COOKIE);
    if (!id || strlen(id) != 64)
        return 0;
    long long now = sl__now_ms();
    int found = 0;
    pthread_mutex_lock(&a->lock);
    for (size_t i = 0; i < SESSION_MAX && !found; i++) {
        session_t *s = &a->sessions[i];
        if (s->expires_ms > now && same_secret(id, s->id)) {
            *out = *s;
            found = 1;
        }
    }
    pthread_mutex_unlock(&a->lock);
    return found;
}

static void session_end(sl_admin_t *a, const char *id)
{
    pthread_mutex_lock(&a->lock);
    for (size_t i = 0; i < SESSION_MAX; i++)
        if (!strcmp(a->sessions[i].id, id))
            memset(&a->sessions[i], 0, sizeof a->sessions[i]);
    pthread_mutex_unlock(&a->lock);
}

/* --- answers ------------------------------------------------------------------------------- */

/* Served over TLS: a proxy in front that terminates it says so. */
static int over_tls(struct MHD_Connection *conn)
{
    const char *proto = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "X-Forwarded-Proto");
    return proto && !strcasecmp(proto, "https");
}

static void add_common_headers(struct MHD_Response *r)
{
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(r, "Referrer-Policy", "no-referrer");
    MHD_add_response_header(r, "X-Frame-Options", "DENY");
    MHD_add_response_header(r, "Content-Security-Policy",
                            "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; "
                            "base-uri 'none'; form-action 'self'");
}

/* Queues an answer (body copied) with the headers every admin answer has, and a Set-Cookie
 * when cookie is not NULL. */
static enum MHD_Result answer(struct MHD_Connection *conn, unsigned status, const char *body,
                              size_t len, const char *type, const char *cookie)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
    if (!r)
        return MHD_NO;
    MHD_add_response_header(r, "Content-Type", type);
    MHD_add_response_header(r, "Cache-Control", "no-store");
    add_common_headers(r);
    if (cookie)
        MHD_add_response_header(r, "Set-Cookie", cookie);
    enum MHD_Result ret = MHD_queue_response(conn, status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result answer_json(struct MHD_Connection *conn, unsigned status, json_t *body,
                                   const char *cookie)
{
    char *text = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    enum MHD_Result ret = answer(conn, status, text ? text : "{}", text ? strlen(text) : 2,
                                 "application/json", cookie);
    free(text);
    return ret;
}

static enum MHD_Result refuse(struct MHD_Connection *conn, unsigned status, const char *code,
                              const char *message)
{
    return answer_json(conn, status, json_pack("{s:s,s:s}", "error", code, "message", message),
                       NULL);
}

/* --- the dashboard's files ----------------------------------------------------------------- */

static const char *content_type(const char *name)
{
    const char *dot = strrchr(name, '.');
    if (!dot)
        return "application/octet-stream";
    if (!strcmp(dot, ".html"))
        return "text/html; charset=utf-8";
    if (!strcmp(dot, ".css"))
        return "text/css; charset=utf-8";
    if (!strcmp(dot, ".js"))
        return "text/javascript; charset=utf-8";
    if (!strcmp(dot, ".svg"))
        return "image/svg+xml";
    return "text/plain; charset=utf-8";
}

/* GET /static/NAME: an embedded file; any other page path: index.html, whose script shows the
 * page the path names (so links into the dashboard can be shared and reloaded). */
static enum MHD_Result answer_file(struct MHD_Connection *conn, const char *url)
{
    const char *name = strncmp(url, "/static/", 8) == 0 ? url + 8 : "index.html";
    const char *text = sl__embedded_find(sl__web_files, sl__web_files_count, name);
    if (!text)
        return refuse(conn, MHD_HTTP_NOT_FOUND, "not_found", "no such file in the dashboard");
    return answer(conn, MHD_HTTP_OK, text, strlen(text), content_type(name), NULL);
}

/* --- who is asking ------------------------------------------------------------------------- */

static int bearer_ok(const sl_server_t *s, struct MHD_Connection *conn)
{
    const char *auth = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Authorization");
    const char *want = s->cfg.admin_token;
    return auth && want && *want && strncmp(auth, "Bearer ", 7) == 0 && same_secret(auth + 7, want);
}

/* Whether the browser says the request comes from another site: its Origin is not this
 * listener's (the Host it asked for), or Sec-Fetch-Site says cross-site. A request that says
 * nothing (curl, an old browser) passes this check; the CSRF token still stops it. */
static int foreign_origin(struct MHD_Connection *conn)
{
    const char *site = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Sec-Fetch-Site");
    if (site && strcmp(site, "same-origin") && strcmp(site, "none"))
        return 1;
    const char *origin = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Origin");
    if (!origin)
        return 0;
    const char *host = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Host");
    const char *rest = !strncmp(origin, "http://", 7)    ? origin + 7
                       : !strncmp(origin, "https://", 8) ? origin + 8
                                                         : NULL;
    return !host || !rest || strcmp(rest, host) != 0;
}

enum { WHO_NOBODY, WHO_BEARER, WHO_SESSION };

/* May this request go on? Bearer, or a session (with its CSRF token and origin when it
 * changes something). Otherwise the refusal is queued and *ret says what to return. */
static int allowed(sl_server_t *s, struct MHD_Connection *conn, const char *method, session_t *ss,
                   enum MHD_Result *ret)
{
    if (bearer_ok(s, conn))
        return WHO_BEARER;
    if (!session_of(s->admin, conn, ss)) {
        *ret = refuse(conn, MHD_HTTP_UNAUTHORIZED, "unauthorized",
                      "sign in to the dashboard, or send Authorization: Bearer <admin token> "
                      "(the token is SLUICE_ADMIN_TOKEN, or DATA/admin.token)");
        return WHO_NOBODY;
    }
    if (!strcmp(method, "GET") || !strcmp(method, "HEAD"))
        return WHO_SESSION;
    const char *csrf = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "X-CSRF-Token");
    if (foreign_origin(conn) || !csrf || !same_secret(csrf, ss->csrf)) {
        char addr[64];
        sl__log("warn", "a state-changing request without the session's CSRF token refused",
                json_pack("{s:s,s:s}", "remote", sl__remote_addr(conn, addr, sizeof addr), "method",
                          method));
        *ret = refuse(conn, MHD_HTTP_FORBIDDEN, "csrf",
                      "this request needs the session's X-CSRF-Token and must come from the "
                      "dashboard's own origin");
        return WHO_NOBODY;
    }
    return WHO_SESSION;
}

/* --- /auth/ -------------------------------------------------------------------------------- */

static void session_cookie(struct MHD_Connection *conn, const char *id, int max_age, char *out,
                           size_t n)
{
    snprintf(out, n, COOKIE "=%s; Path=/; Max-Age=%d; HttpOnly; SameSite=Strict%s", id, max_age,
             over_tls(conn) ? "; Secure" : "");
}

/* POST /auth/login {"token": "..."}: a session for whoever knows the admin token. */
static enum MHD_Result login(sl_server_t *s, struct MHD_Connection *conn, const char *body,
                             size_t len)
{
    char addr[64];
    sl__remote_addr(conn, addr, sizeof addr);
    if (foreign_origin(conn))
        return refuse(conn, MHD_HTTP_FORBIDDEN, "csrf", "sign in from the dashboard itself");
    json_t *in = json_loadb(body, len, 0, NULL);
    const char *token = json_string_value(json_object_get(in, "token"));
    int ok = token && s->cfg.admin_token && same_secret(token, s->cfg.admin_token);
    json_decref(in);
    if (!ok) {
        sl__log("warn", "dashboard sign-in refused: wrong admin token",
                json_pack("{s:s}", "remote", addr));
        /* A guesser waits a little for each try. */
        usleep(200 * 1000);
        return refuse(conn, MHD_HTTP_UNAUTHORIZED, "wrong_token",
                      "that is not the admin token (SLUICE_ADMIN_TOKEN, or DATA/admin.token)");
    }
    session_t ss;
    if (session_new(s->admin, &ss))
        return refuse(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal", "no randomness");
    sl__log("info", "dashboard signed in", json_pack("{s:s}", "remote", addr));
    char cookie[256];
    session_cookie(conn, ss.id, SESSION_TTL_S, cookie, sizeof cookie);
    return answer_json(conn, MHD_HTTP_OK,
                       json_pack("{s:b,s:s,s:I}", "signed_in", 1, "csrf", ss.csrf, "expires_ms",
                                 (json_int_t)ss.expires_ms),
                       cookie);
}

static enum MHD_Result auth_route(sl_server_t *s, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *body, size_t len)
{
    if (!strcmp(url, "/auth/login") && !strcmp(method, "POST"))
        return login(s, conn, body, len);
    session_t ss;
    if (!strcmp(url, "/auth/session") && !strcmp(method, "GET")) {
        if (!session_of(s->admin, conn, &ss))
            return answer_json(conn, MHD_HTTP_UNAUTHORIZED, json_pack("{s:b}", "signed_in", 0),
                               NULL);
        return answer_json(conn, MHD_HTTP_OK,
                           json_pack("{s:b,s:s,s:I}", "signed_in", 1, "csrf", ss.csrf, "expires_ms",
                                     (json_int_t)ss.expires_ms),
                           NULL);
    }
    if (!strcmp(url, "/auth/logout") && !strcmp(method, "POST")) {
        enum MHD_Result ret = MHD_NO;
        if (allowed(s, conn, method, &ss, &ret) != WHO_SESSION)
            return ret == MHD_NO ? refuse(conn, MHD_HTTP_BAD_REQUEST, "no_session",
                                          "sign-out ends a dashboard session")
                                 : ret;
        session_end(s->admin, ss.id);
        char cookie[256];
        session_cookie(conn, "", 0, cookie, sizeof cookie);
        return answer_json(conn, MHD_HTTP_OK, json_pack("{s:b}", "signed_in", 0), cookie);
    }
    return refuse(conn, MHD_HTTP_NOT_FOUND, "not_found",
                  "POST /auth/login, GET /auth/session, POST /auth/logout");
}

/* --- /api/stream: Server-Sent Events ---------------------------------------------------------
 *
 * Each second the stream looks at the newest events and runs (two indexed queries of a few
 * rows) and sends what changed: `events` with the events received since the last look, `runs`
 * with the runs that are new or changed status among the 50 newest. */

typedef struct stream {
    sl_server_t *s;
    sl_buf_t out;
    size_t sent;
    long long last_ms; /* the newest event seen: received_ms, id */
    char last_id[128];
    json_t *runs; /* id -> status of the newest runs at the last look */
    long long polled, pinged;
    int primed;
} stream_t;

static int newer_event(const sl_event_row_t *r, void *ctx)
{
    void **c = ctx;
    stream_t *st = c[0];
    if (st->primed && (r->received_ms < st->last_ms ||
                       (r->received_ms == st->last_ms && strcmp(r->id, st->last_id) <= 0)))
        return 1;
    json_array_append_new(c[1], json_pack("{s:s,s:s,s:s,s:s,s:I}", "id", r->id, "connection",
                                          r->connection, "type", r->type, "source", r->source,
                                          "received_ms", (json_int_t)r->received_ms));
    return 0;
}

static void stream_send(stream_t *st, const char *name, json_t *data)
{
    char *text = json_dumps(data, JSON_COMPACT);
    json_decref(data);
    if (!text)
        return;
    char head[64];
    snprintf(head, sizeof head, "event: %s\ndata: ", name);
    sl__buf_append(&st->out, head, strlen(head));
    sl__buf_append(&st->out, text, strlen(text));
    sl__buf_append(&st->out, "\n\n", 2);
    free(text);
}

static void stream_poll(stream_t *st)
{
    char err[512];
    json_t *events = json_array();
    sl_event_filter_t ef = {.limit = 50};
    void *ctx[2] = {st, events};
    if (!sl_store_events_list(st->s->cfg.store, &ef, newer_event, ctx, err, sizeof err) &&
        json_array_size(events)) {
        json_t *top = json_array_get(events, 0);
        st->last_ms = json_integer_value(json_object_get(top, "received_ms"));
        snprintf(st->last_id, sizeof st->last_id, "%s",
                 json_string_value(json_object_get(top, "id")));
    }
    sl_run_filter_t rf = {.limit = 50};
    json_t *runs = NULL, *changed = json_array(), *now = json_object();
    if (!sl_store_runs_list(st->s->cfg.store, &rf, &runs, err, sizeof err)) {
        size_t i;
        json_t *r;
        json_array_foreach(runs, i, r)
        {
            const char *id = json_string_value(json_object_get(r, "id"));
            const char *status = json_string_value(json_object_get(r, "status"));
            const char *was = json_string_value(json_object_get(st->runs, id));
            json_object_set_new(now, id, json_string(status));
            if (!was || strcmp(was, status))
                json_array_append_new(changed,
                                      json_pack("{s:s,s:s,s:O,s:O}", "id", id, "status", status,
                                                "flow", json_object_get(r, "flow"), "event_id",
                                                json_object_get(r, "event_id")));
        }
        json_decref(runs);
        json_decref(st->runs);
        st->runs = now;
    } else {
        json_decref(now);
    }
    if (st->primed && json_array_size(events))
        stream_send(st, "events", json_incref(events));
    if (st->primed && json_array_size(changed))
        stream_send(st, "runs", json_incref(changed));
    if (!st->primed)
        stream_send(st, "hello", json_pack("{s:i}", "poll_ms", STREAM_POLL_MS));
    json_decref(events);
    json_decref(changed);
    st->primed = 1;
}

static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    (void)pos;
    stream_t *st = cls;
    while (st->sent == st->out.len) {
        if (atomic_load(&st->s->admin->stopping))
            return MHD_CONTENT_READER_END_OF_STREAM;
        st->out.len = st->sent = 0;
        long long now = (long long)sl__mono_ms();
        if (now - st->polled >= STREAM_POLL_MS) {
            st->polled = now;
            stream_poll(st);
        } else if (now - st->pinged >= STREAM_PING_MS) {
            sl__buf_append(&st->out, ": ping\n\n", 8);
        } else {
            usleep(100 * 1000);
            continue;
        }
        st->pinged = now;
    }
    size_t n = st->out.len - st->sent;
    if (n > max)
        n = max;
    memcpy(buf, st->out.data + st->sent, n);
    st->sent += n;
    return (ssize_t)n;
}

static void stream_free(void *cls)
{
    stream_t *st = cls;
    json_decref(st->runs);
    sl__buf_cleanup(&st->out);
    free(st);
}

static enum MHD_Result answer_stream(sl_server_t *s, struct MHD_Connection *conn)
{
    stream_t *st = calloc(1, sizeof *st);
    if (!st)
        return MHD_NO;
    st->s = s;
    st->runs = json_object();
    sl__buf_init(&st->out, 4 << 20);
    struct MHD_Response *r =
        MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16384, stream_read, st, stream_free);
    if (!r) {
        stream_free(st);
        return MHD_NO;
    }
    MHD_add_response_header(r, "Content-Type", "text/event-stream");
    MHD_add_response_header(r, "Cache-Control", "no-store");
    add_common_headers(r);
    enum MHD_Result ret = MHD_queue_response(conn, MHD_HTTP_OK, r);
    MHD_destroy_response(r);
    return ret;
}

/* --- routing ------------------------------------------------------------------------------- */

static const char *api_arg(void *conn, const char *name)
{
    return MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, name);
}

static enum MHD_Result answer_api(sl_server_t *s, struct MHD_Connection *conn, const char *method,
                                  const char *url, const char *body, size_t len)
{
    json_t *out = NULL;
    unsigned status = sl__api_handle(s->cfg.api, method, url, body, len, api_arg, conn, &out);
    return answer_json(conn, status, out ? out : json_object(), NULL);
}

/* What a POST may carry here: a flow's input, a sign-in. */
#define ADMIN_MAX_BODY (1 << 20)

static enum MHD_Result on_admin(void *cls, struct MHD_Connection *conn, const char *url,
                                const char *method, const char *version, const char *upload_data,
                                size_t *upload_data_size, void **con_cls)
{
    (void)version;
    sl_server_t *s = cls;
    int is_api = !strncmp(url, "/api/", 5), is_auth = !strncmp(url, "/auth/", 6);
    if (!*con_cls) {
        enum MHD_Result ret = MHD_NO;
        if (strcmp(method, "GET") && strcmp(method, "HEAD") && strcmp(method, "POST"))
            return refuse(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "method_not_allowed", "GET or POST");
        if (is_api && allowed(s, conn, method, &(session_t){0}, &ret) == WHO_NOBODY)
            return ret;
        if (!strcmp(method, "POST") && (is_api || is_auth)) {
            sl_request_t *rq = calloc(1, sizeof *rq);
            if (!rq)
                return MHD_NO;
            rq->is_api = 1;
            sl__buf_init(&rq->body, ADMIN_MAX_BODY);
            *con_cls = rq;
            return MHD_YES;
        }
        if (is_auth)
            return auth_route(s, conn, url, method, NULL, 0);
        if (!strcmp(url, "/api/stream"))
            return answer_stream(s, conn);
        if (is_api)
            return answer_api(s, conn, method, url, NULL, 0);
        if (!strcmp(url, "/healthz"))
            return sl__health_handle(s, conn);
        if (!strcmp(url, "/metrics")) /* for a scraper that reads only the admin side */
            return sl__metrics_handle(s, conn);
        if (strcmp(method, "POST"))
            return answer_file(conn, url);
        return refuse(conn, MHD_HTTP_NOT_FOUND, "not_found", "the dashboard's pages are GET");
    }
    sl_request_t *rq = *con_cls;
    if (*upload_data_size) {
        if (!rq->too_big && sl__buf_append(&rq->body, upload_data, *upload_data_size)) {
            rq->too_big = 1;
            sl__buf_cleanup(&rq->body);
        }
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (rq->too_big)
        return refuse(conn, MHD_HTTP_CONTENT_TOO_LARGE, "too_large", "the body is over 1 MiB");
    if (is_auth)
        return auth_route(s, conn, url, method, rq->body.data, rq->body.len);
    return answer_api(s, conn, method, url, rq->body.data, rq->body.len);
}

static void on_admin_done(void *cls, struct MHD_Connection *conn, void **con_cls,
                          enum MHD_RequestTerminationCode toe)
{
    (void)cls, (void)conn, (void)toe;
    sl_request_t *rq = *con_cls;
    if (rq) {
        sl__buf_cleanup(&rq->body);
        free(rq);
        *con_cls = NULL;
    }
}

sl_err sl__admin_start(sl_server_t *s, char *err, size_t errlen)
{
    struct sockaddr_storage ss;
    sl_err rc = sl__listen_parse(s->cfg.admin_listen, &ss, NULL, err, errlen);
    if (rc)
        return rc;
    sl_admin_t *a = calloc(1, sizeof *a);
    if (!a)
        return SL_ENOMEM;
    pthread_mutex_init(&a->lock, NULL);
    atomic_init(&a->stopping, 0);
    s->admin = a;
    /* No MHD_USE_ERROR_LOG: its lines are not JSON; a failure to bind is reported here. */
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION | MHD_USE_POLL;
    if (ss.ss_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    a->daemon = MHD_start_daemon(flags, 0, NULL, NULL, on_admin, s, MHD_OPTION_SOCK_ADDR,
                                 (struct sockaddr *)&ss, MHD_OPTION_NOTIFY_COMPLETED, on_admin_done,
                                 s, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)60,
                                 MHD_OPTION_CONNECTION_LIMIT, (unsigned)128,
                                 MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)64, MHD_OPTION_END);
    if (!a->daemon) {
        snprintf(err, errlen,
                 "cannot listen on %s for the dashboard (in use, or not an address of this "
                 "machine): pass --admin-listen HOST:PORT",
                 s->cfg.admin_listen);
        pthread_mutex_destroy(&a->lock);
        free(a);
        s->admin = NULL;
        return SL_EIO;
    }
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(a->daemon, MHD_DAEMON_INFO_BIND_PORT);
    a->port = di ? di->port : 0;
    return SL_OK;
}

void sl__admin_stop(sl_server_t *s)
{
    sl_admin_t *a = s->admin;
    if (!a)
        return;
    atomic_store(&a->stopping, 1); /* live streams end within 100 ms */
    MHD_stop_daemon(a->daemon);
    pthread_mutex_destroy(&a->lock);
    free(a);
    s->admin = NULL;
}

int sl__server_admin_port(const sl_server_t *s)
{
    return s->admin ? s->admin->port : 0;
}
