/* The PostgreSQL store's pool of connections, its thread that listens for runs queued by other
 * instances, and the helpers its files share to run statements and read results. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/log.h"
#include "store/postgres.h"

/* --- errors, results ------------------------------------------------------------------------ */

sl_err sl__pg_error(PGconn *c, const PGresult *r, const char *what, char *err, size_t errlen)
{
    const char *m = r ? PQresultErrorMessage(r) : "";
    if (!m || !*m)
        m = c ? PQerrorMessage(c) : "out of memory";
    size_t n = strlen(m);
    while (n && (m[n - 1] == '\n' || m[n - 1] == ' '))
        n--;
    if (err && errlen)
        snprintf(err, errlen, "store: %s: %.*s", what, (int)n, n ? m : "unknown error");
    return SL_EIO;
}

PGresult *sl__pg_exec(PGconn *c, const char *sql, int n, const char *const *v, const int *lens,
                      const int *fmts, const char *what, char *err, size_t errlen)
{
    PGresult *r = PQexecParams(c, sql, n, NULL, v, lens, fmts, 0);
    ExecStatusType s = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
    if (s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK)
        return r;
    sl__pg_error(c, r, what, err, errlen);
    PQclear(r);
    return NULL;
}

int sl__pg_cmd(PGconn *c, const char *sql, int n, const char *const *v, const char *what, char *err,
               size_t errlen)
{
    PGresult *r = sl__pg_exec(c, sql, n, v, NULL, NULL, what, err, errlen);
    PQclear(r);
    return r ? 0 : -1;
}

long long sl__pg_changed(const PGresult *r)
{
    return strtoll(PQcmdTuples((PGresult *)r), NULL, 10);
}

int sl__pg_commit(PGconn *c, const char *what, char *err, size_t errlen)
{
    if (sl__pg_cmd(c, "COMMIT", 0, NULL, what, err, errlen) == 0)
        return 0;
    sl__pg_rollback(c);
    return -1;
}

void sl__pg_rollback(PGconn *c)
{
    if (PQtransactionStatus(c) != PQTRANS_IDLE)
        PQclear(PQexec(c, "ROLLBACK"));
}

int sl__pg_notify(pg_store_t *st, PGconn *c, char *err, size_t errlen)
{
    const char *v[] = {st->token};
    return sl__pg_cmd(c, "SELECT pg_notify('" SL_PG_CHANNEL "', $1)", 1, v, "notifying", err,
                      errlen);
}

const char *sl__pg_str(const PGresult *r, int row, int col)
{
    return PQgetisnull(r, row, col) ? NULL : PQgetvalue(r, row, col);
}

void sl__pg_copy(char *dst, size_t n, const PGresult *r, int row, int col)
{
    snprintf(dst, n, "%s", PQgetvalue(r, row, col)); /* "" for NULL */
}

char *sl__pg_dup(const PGresult *r, int row, int col)
{
    return PQgetisnull(r, row, col) ? NULL : strdup(PQgetvalue(r, row, col));
}

long long sl__pg_ll(const PGresult *r, int row, int col, long long null)
{
    return PQgetisnull(r, row, col) ? null : strtoll(PQgetvalue(r, row, col), NULL, 10);
}

const char *sl__pg_text_or_null(const char *v)
{
    return v && *v ? v : NULL;
}

/* --- the pool ------------------------------------------------------------------------------- */

static void quiet_notices(void *arg, const char *message)
{
    (void)arg;
    (void)message; /* "relation already exists, skipping" and the like: not for the user */
}

/* A new connection (check PQstatus). The URI's own settings win over these defaults: a bounded
 * wait to connect, keepalives so that a dead server is noticed (by the listener too), and UTF-8,
 * which every text sluice stores is in. */
static PGconn *pg_connect(const pg_store_t *st)
{
    const char *const keys[] = {
        "connect_timeout",     "application_name", "client_encoding", "keepalives_idle",
        "keepalives_interval", "keepalives_count", "dbname",          NULL};
    const char *const vals[] = {"10", "sluice", "UTF8", "30", "10", "3", st->uri, NULL};
    PGconn *c = PQconnectdbParams(keys, vals, 1);
    if (c)
        PQsetNoticeProcessor(c, quiet_notices, NULL);
    return c;
}

static void connect_error(const pg_store_t *st, PGconn *c, char *err, size_t errlen)
{
    const char *m = c ? PQerrorMessage(c) : "out of memory";
    size_t n = strlen(m);
    while (n && (m[n - 1] == '\n' || m[n - 1] == ' '))
        n--;
    snprintf(err, errlen, "store: cannot connect to %s: %.*s", st->shown, (int)n, m);
}

/* Whether an idle connection still looks alive, without a round trip: a server that ended the
 * session (a restart, pg_terminate_backend) has closed the socket, which polls readable. */
static int looks_alive(PGconn *c)
{
    if (PQstatus(c) != CONNECTION_OK)
        return 0;
    /* The server's last words (FATAL: terminating connection) come first and are read past;
     * the end of the stream shows on a later read. An idle session has nothing else to say. */
    for (int i = 0; i < 4; i++) {
        struct pollfd p = {PQsocket(c), POLLIN, 0};
        if (p.fd < 0)
            return 0;
        if (poll(&p, 1, 0) <= 0)
            return 1;
        if (!PQconsumeInput(c) || PQstatus(c) != CONNECTION_OK)
            return 0;
    }
    return 1;
}

PGconn *sl__pg_get(pg_store_t *st, char *err, size_t errlen)
{
    PGconn *c = NULL;
    pthread_mutex_lock(&st->lock);
    while (!st->nidle && st->nopen >= st->size)
        pthread_cond_wait(&st->freed, &st->lock);
    if (st->nidle)
        c = st->idle[--st->nidle];
    else
        st->nopen++; /* a slot, filled outside the lock */
    pthread_mutex_unlock(&st->lock);
    if (!c) {
        c = pg_connect(st);
        if (c && PQstatus(c) == CONNECTION_OK)
            return c;
        connect_error(st, c, err, errlen);
        PQfinish(c);
        pthread_mutex_lock(&st->lock);
        st->nopen--;
        pthread_cond_signal(&st->freed);
        pthread_mutex_unlock(&st->lock);
        return NULL;
    }
    if (looks_alive(c))
        return c;
    PQreset(c);
    if (PQstatus(c) == CONNECTION_OK)
        return c;
    connect_error(st, c, err, errlen);
    sl__pg_put(st, c); /* the next checkout tries again */
    return NULL;
}

void sl__pg_put(pg_store_t *st, PGconn *c)
{
    if (!c)
        return;
    if (PQstatus(c) == CONNECTION_OK)
        sl__pg_rollback(c);
    pthread_mutex_lock(&st->lock);
    st->idle[st->nidle++] = c;
    pthread_cond_signal(&st->freed);
    pthread_mutex_unlock(&st->lock);
}

PGresult *sl__pg_query(pg_store_t *st, const char *sql, int n, const char *const *v,
                       const char *what, char *err, size_t errlen)
{
    PGconn *c = sl__pg_get(st, err, errlen);
    if (!c)
        return NULL;
    PGresult *r = sl__pg_exec(c, sql, n, v, NULL, NULL, what, err, errlen);
    sl__pg_put(st, c);
    return r;
}

char *sl__pg_mask_uri(const char *uri)
{
    /* Each *** replaces a password of at least "" after at least ":@" or "&password=": the
     * text grows by less than its own length. */
    size_t n = 2 * strlen(uri) + 16;
    char *out = malloc(n);
    if (!out)
        return NULL;
    const char *auth = strstr(uri, "://");
    auth = auth ? auth + 3 : uri;
    /* The user info ends at the last '@' before the path: a password with an unescaped '?' or
     * '#' is still hidden. */
    const char *end = auth + strcspn(auth, "/");
    const char *at = NULL, *colon = NULL;
    for (const char *p = auth; p < end; p++)
        if (*p == '@')
            at = p;
    for (const char *p = auth; at && p < at && !colon; p++)
        if (*p == ':')
            colon = p;
    if (colon)
        snprintf(out, n, "%.*s***%s", (int)(colon + 1 - uri), uri, at);
    else
        snprintf(out, n, "%s", uri);
    /* password=... among the query's parameters */
    char *q = strchr(out, '?');
    while (q) {
        char *next = strchr(q + 1, '&');
        if (!strncmp(q + 1, "password=", 9)) {
            char *v = q + 10;
            char *rest = next ? next : v + strlen(v);
            memmove(v + 3, rest, strlen(rest) + 1);
            memcpy(v, "***", 3);
            next = strchr(v, '&');
        }
        q = next;
    }
    return out;
}

/* --- the listener --------------------------------------------------------------------------- */

static int stopping(pg_store_t *st)
{
    return __atomic_load_n(&st->stop, __ATOMIC_ACQUIRE);
}

/* A connection that listens on the channel, or NULL with err set. */
static PGconn *listen_connect(pg_store_t *st, char *err, size_t errlen)
{
    PGconn *c = pg_connect(st);
    if (!c || PQstatus(c) != CONNECTION_OK) {
        connect_error(st, c, err, errlen);
        PQfinish(c);
        return NULL;
    }
    if (sl__pg_cmd(c, "LISTEN " SL_PG_CHANNEL, 0, NULL, "listening for runs", err, errlen)) {
        PQfinish(c);
        return NULL;
    }
    return c;
}

/* Waits up to ms for close(); 1 when it came. */
static int wait_stop(pg_store_t *st, int ms)
{
    struct pollfd p = {st->wake[0], POLLIN, 0};
    return poll(&p, 1, ms) > 0 || stopping(st);
}

/* Calls on_runs for every notification of another store, until close(). A lost connection is
 * made again with a growing pause; then on_runs is called once, for what was queued meanwhile. */
static void *listener(void *arg)
{
    pg_store_t *st = arg;
    int pause = 250, logged = 0;
    while (!stopping(st)) {
        if (!st->listen) {
            char err[512];
            if (wait_stop(st, pause))
                break;
            st->listen = listen_connect(st, err, sizeof err);
            if (!st->listen) {
                if (!logged++)
                    sl__log("warn", "cannot listen for runs queued by other instances; retrying",
                            json_pack("{s:s}", "error", err));
                pause = pause < 4000 ? pause * 2 : 5000;
                continue;
            }
            sl__log("notice", "listening for runs queued by other instances again", NULL);
            pause = 250;
            logged = 0;
            sl__store_runs_queued(&st->base);
        }
        struct pollfd p[2] = {{PQsocket(st->listen), POLLIN, 0}, {st->wake[0], POLLIN, 0}};
        int k = poll(p, 2, 250);
        if (k < 0 && errno != EINTR)
            break;
        if (p[1].revents)
            break;
        int lost = p[0].fd < 0;
        if (!lost && k > 0 && p[0].revents)
            lost = !PQconsumeInput(st->listen);
        PGnotify *n;
        while (!lost && (n = PQnotifies(st->listen))) {
            int own = n->extra && !strcmp(n->extra, st->token);
            PQfreemem(n);
            if (!own) /* this store's own commits called on_runs already */
                sl__store_runs_queued(&st->base);
        }
        if (lost || PQstatus(st->listen) != CONNECTION_OK) {
            sl__log("warn", "lost the connection that listens for runs; reconnecting",
                    json_pack("{s:s}", "store", st->shown));
            PQfinish(st->listen);
            st->listen = NULL;
        }
    }
    return NULL;
}

sl_err sl__pg_listen_start(pg_store_t *st, char *err, size_t errlen)
{
    /* Listening before open returns: no notification after it is missed. */
    st->listen = listen_connect(st, err, errlen);
    if (!st->listen)
        return SL_EIO;
    if (pipe2(st->wake, O_CLOEXEC)) {
        snprintf(err, errlen, "store: cannot start the listener: %s", strerror(errno));
        return SL_EINTERNAL;
    }
    int e = pthread_create(&st->listener, NULL, listener, st);
    if (e) {
        snprintf(err, errlen, "store: cannot start the listener: %s", strerror(e));
        return SL_EINTERNAL;
    }
    st->have_listener = 1;
    return SL_OK;
}

void sl__pg_listen_stop(pg_store_t *st)
{
    if (st->have_listener) {
        __atomic_store_n(&st->stop, 1, __ATOMIC_RELEASE);
        ssize_t w = write(st->wake[1], "x", 1);
        (void)w; /* the flag alone stops it within 250 ms */
        pthread_join(st->listener, NULL);
        st->have_listener = 0;
    }
    PQfinish(st->listen);
    st->listen = NULL;
    for (int i = 0; i < 2; i++)
        if (st->wake[i] >= 0)
            close(st->wake[i]);
    st->wake[0] = st->wake[1] = -1;
}
