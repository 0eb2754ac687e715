/* sluice serve's HTTP server: one libmicrohttpd daemon, a small pool of epoll threads serving
 * every connection, and the routing of each request to webhooks (hooks.c), /metrics
 * (metrics.c), /healthz and the REST API (api.c). */
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "core/clock.h"
#include "core/log.h"
#include "core/net.h"
#include "http/api.h"
#include "http/internal.h"

static const char *api_arg(void *conn, const char *name)
{
    return MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, name);
}

/* The bearer token, compared in constant time (the length is not secret). */
static int token_ok(const sl_server_t *s, struct MHD_Connection *conn)
{
    const char *auth = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Authorization");
    const char *want = s->cfg.admin_token;
    if (!auth || strncmp(auth, "Bearer ", 7) != 0 || !want || !*want)
        return 0;
    const char *got = auth + 7;
    size_t n = strlen(want);
    return strlen(got) == n && CRYPTO_memcmp(got, want, n) == 0;
}

static enum MHD_Result answer_api(sl_server_t *s, struct MHD_Connection *conn, const char *method,
                                  const char *url, const char *body, size_t len)
{
    json_t *out = NULL;
    unsigned status = sl__api_handle(s->cfg.api, method, url, body, len, api_arg, conn, &out);
    return sl__reply_json(conn, status, out ? out : json_object());
}

/* GET /healthz: 503 while the store fails to commit (webhooks get 503 then too), with why. */
static enum MHD_Result answer_health(sl_server_t *s, struct MHD_Connection *conn)
{
    sl_inbox_health_t h;
    sl__inbox_health(s->inbox, &h);
    if (!h.failing)
        return sl__reply(conn, MHD_HTTP_OK, "{\"ok\":true}", "application/json");
    long long for_ms = sl__now_ms() - h.since_ms;
    return sl__reply_json(conn, MHD_HTTP_SERVICE_UNAVAILABLE,
                          json_pack("{s:b,s:s,s:o,s:I,s:I}", "ok", 0, "reason", "store_failing",
                                    "message", sl__log_str(h.error), "failing_for_ms",
                                    (json_int_t)(for_ms > 0 ? for_ms : 0), "failures",
                                    (json_int_t)h.failures));
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
            return answer_health(s, conn);
        if (strcmp(url, "/metrics") == 0)
            return sl__metrics_handle(s, conn);
        if (s->cfg.api && strncmp(url, "/api/", 5) == 0) {
            if (!token_ok(s, conn))
                return sl__reply_json(
                    conn, MHD_HTTP_UNAUTHORIZED,
                    json_pack("{s:s,s:s}", "error", "unauthorized", "message",
                              "the API needs Authorization: Bearer <admin token> (the token "
                              "is SLUICE_ADMIN_TOKEN, or DATA/admin.token)"));
            if (strcmp(method, "POST") != 0)
                return answer_api(s, conn, method, url, NULL, 0);
            sl_request_t *rq = calloc(1, sizeof *rq);
            if (!rq)
                return MHD_NO;
            rq->is_api = 1;
            sl__buf_init(&rq->body, 1 << 20);
            *con_cls = rq;
            return MHD_YES;
        }
        if (!is_hook || !*name || strchr(name, '/'))
            return sl__reply_json(conn, MHD_HTTP_NOT_FOUND,
                                  json_pack("{s:s,s:s}", "error", "not_found", "message",
                                            "webhooks go to POST /hooks/CONNECTION"));
        if (strcmp(method, "POST") != 0)
            return sl__hook_reject(s, conn, SL_REJ_METHOD, MHD_HTTP_METHOD_NOT_ALLOWED, name,
                                   "webhooks are POSTed");
        const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Length");
        if (cl && strtoull(cl, NULL, 10) > s->cfg.max_body) {
            char msg[96];
            snprintf(msg, sizeof msg, "the body is larger than %zu bytes", s->cfg.max_body);
            return sl__hook_reject(s, conn, SL_REJ_TOO_LARGE, MHD_HTTP_CONTENT_TOO_LARGE, name,
                                   msg);
        }
        sl_request_t *rq = calloc(1, sizeof *rq);
        if (!rq)
            return MHD_NO;
        sl__buf_init(&rq->body, s->cfg.max_body);
        if (cl)
            sl__buf_reserve(&rq->body, strtoull(cl, NULL, 10)); /* one allocation, not seven */
        *con_cls = rq;
        return MHD_YES;
    }
    sl_request_t *rq = *con_cls;
    if (*upload_data_size) {
        if (!rq->too_big && sl__buf_append(&rq->body, upload_data, *upload_data_size))
            rq->too_big = 1;
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (rq->is_api)
        return rq->too_big ? sl__reply_json(conn, MHD_HTTP_CONTENT_TOO_LARGE,
                                            json_pack("{s:s}", "error", "too_large"))
                           : answer_api(s, conn, method, url, rq->body.data, rq->body.len);
    return sl__hook_handle(s, conn, name, rq);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)conn;
    (void)toe;
    sl_request_t *rq = *con_cls;
    if (rq) {
        sl__hook_flight_done(cls, rq); /* a client that hung up while its event committed */
        sl__buf_cleanup(&rq->body);
        free(rq);
        *con_cls = NULL;
    }
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
    sl_err rc = sl__listen_parse(cfg->listen, &ss, NULL, err, errlen);
    if (rc)
        return rc;
    sl_server_t *s = calloc(1, sizeof *s);
    if (!s)
        return SL_ENOMEM;
    s->cfg = *cfg;
    pthread_mutex_init(&s->flight_lock, NULL);
    s->secrets = sl__secrets_new(cfg->store, cfg->crypt);
    rc = s->secrets ? sl__inbox_start(cfg->store, cfg->max_batch, &s->inbox) : SL_ENOMEM;
    if (rc) {
        snprintf(err, errlen, "cannot start the committer");
        goto fail;
    }
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME |
                     MHD_USE_ERROR_LOG | MHD_USE_ITC;
    if (ss.ss_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    /* No MHD_OPTION_LISTENING_ADDRESS_REUSE: left out, libmicrohttpd sets SO_REUSEADDR on
     * POSIX, so a restart binds over the TIME_WAIT of the connections the last run closed.
     * Given 0 it sets nothing (the port stays blocked for a minute after a stop under load);
     * given 1 it adds SO_REUSEPORT, which would let a second live server share the port. */
    s->daemon =
        MHD_start_daemon(flags, 0, NULL, NULL, on_request, s, MHD_OPTION_SOCK_ADDR,
                         (struct sockaddr *)&ss, MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
                         MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)30, MHD_OPTION_CONNECTION_LIMIT,
                         (unsigned)4096, MHD_OPTION_THREAD_POOL_SIZE, pool_size(), MHD_OPTION_END);
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
    sl__secrets_free(s->secrets);
    pthread_mutex_destroy(&s->flight_lock);
    free(s);
    return rc;
}

int sl__server_port(const sl_server_t *s)
{
    return s->port;
}

sl_inbox_t *sl__server_inbox(sl_server_t *s)
{
    return s->inbox;
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
    sl__secrets_free(s->secrets);
    pthread_mutex_destroy(&s->flight_lock);
    free(s);
}
