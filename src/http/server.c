/* sluice serve's HTTP server: one libmicrohttpd daemon, a small pool of epoll threads serving
 * every connection, and the routing of each request to webhooks (hooks.c), /metrics
 * (metrics.c) and /healthz. The REST API and the dashboard are on the admin listener
 * (admin.c), a daemon of its own. */
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#ifdef __GLIBC__
#include <malloc.h>
#endif

#include "core/clock.h"
#include "core/log.h"
#include "core/net.h"
#include "http/internal.h"

/* --- connections and their deadlines -------------------------------------------------------
 *
 * libmicrohttpd's own timeout restarts at every byte, so a client trickling a header byte at a
 * time keeps its connection forever. Each connection here has a start (when it opened, or
 * when its previous request was answered) and a phase; a sweep thread shuts the socket of any
 * connection still waiting for its headers --header-timeout after its start, or for its body
 * --request-timeout after it. A request that has arrived is never cut off. */

static long long mono_ms(void)
{
    return (long long)sl__mono_ms();
}

static sl_conn_t *conn_of(struct MHD_Connection *conn)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return ci ? ci->socket_context : NULL;
}

/* Moves a connection from phase `from` to `to`; 0 if it is not in `from` (the sweep may have
 * closed it). An untracked connection (no memory for it) has no deadlines. */
static int conn_enter(sl_conn_t *c, int from, int to)
{
    int want = from;
    return !c || atomic_compare_exchange_strong(&c->phase, &want, to);
}

static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
                          enum MHD_ConnectionNotificationCode toe)
{
    sl_server_t *s = cls;
    if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
        sl_conn_t *c = ci ? calloc(1, sizeof *c) : NULL;
        if (!c)
            return;
        c->fd = ci->connect_fd;
        atomic_init(&c->phase, SL_CONN_HEADERS);
        atomic_init(&c->start_ms, mono_ms());
        pthread_mutex_lock(&s->conns_lock);
        c->next = s->conns;
        if (s->conns)
            s->conns->prev = c;
        s->conns = c;
        pthread_mutex_unlock(&s->conns_lock);
        *socket_context = c;
        return;
    }
    sl_conn_t *c = *socket_context;
    if (!c)
        return;
    /* The socket is closed only after this returns: while the sweep holds the lock, every fd
     * in the list is still its connection's. */
    pthread_mutex_lock(&s->conns_lock);
    if (c->prev)
        c->prev->next = c->next;
    else
        s->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    pthread_mutex_unlock(&s->conns_lock);
    free(c);
    *socket_context = NULL;
}

/* Shuts the sockets of the connections past their deadline; returns how many. libmicrohttpd
 * then reads the end of the stream and closes them as it would any client that hung up. */
static unsigned long long sweep(sl_server_t *s)
{
    long long now = mono_ms(), header_ms = 1000LL * s->cfg.header_timeout,
              request_ms = 1000LL * s->cfg.request_timeout;
    unsigned long long closed = 0;
    pthread_mutex_lock(&s->conns_lock);
    for (sl_conn_t *c = s->conns; c; c = c->next) {
        int phase = atomic_load(&c->phase);
        long long limit = phase == SL_CONN_HEADERS ? header_ms
                          : phase == SL_CONN_BODY  ? request_ms
                                                   : -1;
        if (limit < 0 || now - atomic_load(&c->start_ms) <= limit ||
            !conn_enter(c, phase, SL_CONN_CLOSING))
            continue;
        shutdown(c->fd, SHUT_RDWR);
        closed++;
    }
    pthread_mutex_unlock(&s->conns_lock);
    return closed;
}

#define TRIM_AFTER_BYTES (16LL << 20)

static void *sweeper(void *arg)
{
    sl_server_t *s = arg;
    pthread_setname_np(pthread_self(), "sl-sweep");
    pthread_mutex_lock(&s->sweep_lock);
    while (!s->sweep_stop) {
        struct timespec at = sl__deadline_ms(250);
        pthread_cond_timedwait(&s->sweep_wake, &s->sweep_lock, &at);
        unsigned long long closed = s->sweep_stop ? 0 : sweep(s);
        /* After a burst of large bodies, give their memory back: glibc keeps what the epoll
         * threads' arenas freed (a burst of 300 bodies of 1 MiB left 100-140 MB resident). */
        if (atomic_load(&s->body_freed) >= TRIM_AFTER_BYTES) {
            atomic_store(&s->body_freed, 0);
#ifdef __GLIBC__
            malloc_trim(0);
#endif
        }
        if (closed) {
            atomic_fetch_add(&s->deadline_closed, closed);
            sl__log("warn", "closed connections past their deadline",
                    json_pack("{s:I,s:i,s:i}", "connections", (json_int_t)closed, "header_timeout",
                              (int)s->cfg.header_timeout, "request_timeout",
                              (int)s->cfg.request_timeout));
        }
    }
    pthread_mutex_unlock(&s->sweep_lock);
    return NULL;
}

/* Counts the change in the bytes a request holds for its body. */
static void body_bytes_add(sl_server_t *s, size_t before, size_t after)
{
    atomic_fetch_add(&s->body_bytes, (long long)after - (long long)before);
    if (after < before)
        atomic_fetch_add(&s->body_freed, (long long)(before - after));
}

/* GET /healthz: 503 while the store fails to commit (webhooks get 503 then too), with why. */
enum MHD_Result sl__health_handle(sl_server_t *s, struct MHD_Connection *conn)
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

    sl_conn_t *c = conn_of(conn);
    if (!*con_cls) {
        /* First call: the headers have arrived. Answer what needs no body at once; what does
         * must arrive before the request's deadline. */
        int wants_body = strcmp(url, "/healthz") != 0 && strcmp(url, "/metrics") != 0 &&
                         strcmp(method, "POST") == 0;
        if (!conn_enter(c, SL_CONN_HEADERS, wants_body ? SL_CONN_BODY : SL_CONN_BUSY))
            return MHD_NO; /* closed by the sweep meanwhile */
        if (strcmp(url, "/healthz") == 0)
            return sl__health_handle(s, conn);
        if (strcmp(url, "/metrics") == 0)
            return sl__metrics_handle(s, conn);
        if (strncmp(url, "/api/", 5) == 0)
            return sl__reply_json(conn, MHD_HTTP_NOT_FOUND,
                                  json_pack("{s:s,s:s}", "error", "not_found", "message",
                                            "the REST API and the dashboard are on the admin "
                                            "listener (--admin-listen, 127.0.0.1:8081 unless "
                                            "set), not on the webhook port"));
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
        /* Nothing reserved from Content-Length: the body, not yet authenticated, gets memory
         * as it arrives, up to --max-body. */
        sl__buf_init(&rq->body, s->cfg.max_body);
        *con_cls = rq;
        return MHD_YES;
    }
    sl_request_t *rq = *con_cls;
    if (*upload_data_size) {
        size_t before = rq->body.cap;
        if (!rq->too_big && sl__buf_append(&rq->body, upload_data, *upload_data_size)) {
            rq->too_big = 1; /* answered 413 at the end; what came is not kept */
            sl__buf_cleanup(&rq->body);
        }
        body_bytes_add(s, before, rq->body.cap);
        *upload_data_size = 0;
        return MHD_YES;
    }
    /* The whole request has arrived (or, for a webhook, its commit is done). */
    if (!conn_enter(c, SL_CONN_BODY, SL_CONN_BUSY) && atomic_load(&c->phase) != SL_CONN_BUSY)
        return MHD_NO; /* closed by the sweep meanwhile; nothing was submitted */
    return sl__hook_handle(s, conn, name, rq);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)toe;
    sl_server_t *s = cls;
    sl_request_t *rq = *con_cls;
    if (rq) {
        sl__hook_flight_done(s, rq); /* a client that hung up while its event committed */
        body_bytes_add(s, rq->body.cap, 0);
        sl__buf_cleanup(&rq->body);
        free(rq);
        *con_cls = NULL;
    }
    /* Kept alive: the next request's headers are due --header-timeout from now. */
    sl_conn_t *c = conn_of(conn);
    int phase = c ? atomic_load(&c->phase) : SL_CONN_CLOSING;
    if (phase != SL_CONN_CLOSING) {
        atomic_store(&c->start_ms, mono_ms());
        conn_enter(c, phase, SL_CONN_HEADERS);
    }
}

/* One epoll thread per core (at least 2): parsing and HMAC run there, the commit elsewhere. */
static unsigned pool_size(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 2 ? 2 : n > 16 ? 16 : (unsigned)n;
}

static void stop_sweeper(sl_server_t *s)
{
    pthread_mutex_lock(&s->sweep_lock);
    s->sweep_stop = 1;
    pthread_cond_signal(&s->sweep_wake);
    pthread_mutex_unlock(&s->sweep_lock);
    pthread_join(s->sweeper, NULL);
}

static void destroy_locks(sl_server_t *s)
{
    pthread_mutex_destroy(&s->flight_lock);
    pthread_mutex_destroy(&s->conns_lock);
    pthread_mutex_destroy(&s->sweep_lock);
    pthread_cond_destroy(&s->sweep_wake);
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
    if (!s->cfg.max_conns_per_ip)
        s->cfg.max_conns_per_ip = SL_SERVE_MAX_CONNS_PER_IP;
    if (!s->cfg.header_timeout)
        s->cfg.header_timeout = SL_SERVE_HEADER_TIMEOUT;
    if (!s->cfg.request_timeout)
        s->cfg.request_timeout = SL_SERVE_REQUEST_TIMEOUT;
    pthread_mutex_init(&s->flight_lock, NULL);
    pthread_mutex_init(&s->conns_lock, NULL);
    pthread_mutex_init(&s->sweep_lock, NULL);
    pthread_cond_init(&s->sweep_wake, NULL);
    int sweeping = 0;
    s->secrets = sl__secrets_new(cfg->store, cfg->crypt);
    rc = s->secrets ? sl__inbox_start(cfg->store, cfg->max_batch, &s->inbox) : SL_ENOMEM;
    if (rc) {
        snprintf(err, errlen, "cannot start the committer");
        goto fail;
    }
    if (pthread_create(&s->sweeper, NULL, sweeper, s)) {
        snprintf(err, errlen, "cannot start the connection sweeper");
        rc = SL_EINTERNAL;
        goto fail;
    }
    sweeping = 1;
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME |
                     MHD_USE_ERROR_LOG | MHD_USE_ITC;
    if (ss.ss_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    /* No MHD_OPTION_LISTENING_ADDRESS_REUSE: left out, libmicrohttpd sets SO_REUSEADDR on
     * POSIX, so a restart binds over the TIME_WAIT of the connections the last run closed.
     * Given 0 it sets nothing (the port stays blocked for a minute after a stop under load);
     * given 1 it adds SO_REUSEPORT, which would let a second live server share the port. */
    s->daemon = MHD_start_daemon(
        flags, 0, NULL, NULL, on_request, s, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, s, MHD_OPTION_NOTIFY_CONNECTION, on_connection,
        s, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)30, MHD_OPTION_CONNECTION_LIMIT, (unsigned)4096,
        MHD_OPTION_PER_IP_CONNECTION_LIMIT, s->cfg.max_conns_per_ip, MHD_OPTION_THREAD_POOL_SIZE,
        pool_size(), MHD_OPTION_END);
    if (!s->daemon) {
        snprintf(err, errlen, "cannot listen on %s (in use, or not an address of this machine)",
                 cfg->listen);
        rc = SL_EIO;
        goto fail;
    }
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_BIND_PORT);
    s->port = di ? di->port : 0;
    if (cfg->admin_listen && (rc = sl__admin_start(s, err, errlen))) {
        if (!cfg->admin_optional) {
            MHD_stop_daemon(s->daemon);
            goto fail;
        }
        sl__log("warn", "no dashboard or REST API: their default address is taken",
                json_pack("{s:s}", "error", err));
        rc = SL_OK;
    }
    *out = s;
    return SL_OK;
fail:
    if (sweeping)
        stop_sweeper(s);
    sl__inbox_stop(s->inbox);
    sl__secrets_free(s->secrets);
    destroy_locks(s);
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
    sl__admin_stop(s); /* its API calls use the engine and store the caller stops next */
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
    MHD_stop_daemon(s->daemon); /* every connection closed, and out of the list */
    if (fd != MHD_INVALID_SOCKET)
        close(fd);
    stop_sweeper(s);
    sl__inbox_stop(s->inbox);
    sl__secrets_free(s->secrets);
    destroy_locks(s);
    free(s);
}
