/* The Stripe HTTP client: one libcurl easy handle per call in flight, drawn from a pool, all
 * sharing one connection cache so keep-alive connections are reused across calls and threads. */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <curl/curl.h>

#include "core/buf.h"
#include "core/clock.h"
#include "core/rand.h"
#include "stripe/internal.h"

#define CLIENT_DEFAULT_API_VERSION "2023-08-16"

struct sl_client {
    char *api_key;
    char *base_url;
    char *stripe_version;
    char *stripe_account;
    char user_agent[96];
    long connect_timeout_ms;
    long timeout_ms;
    size_t max_response_bytes;
    sl_retry_policy_t retry;
    sl_trace_fn trace;
    void *trace_ctx;

    CURLSH *share;
    pthread_mutex_t share_locks[CURL_LOCK_DATA_LAST];
    pthread_mutex_t pool_lock;
    /* A token bucket: next_slot is when the next request may start (monotonic ms). */
    double rate_limit;
    pthread_mutex_t rate_lock;
    double next_slot;
    CURL **pool;
    size_t pool_len;
    size_t pool_cap;
};

/* What one attempt's header callback collects. */
typedef struct attempt {
    sl_buf_t body;
    int too_big;
    char request_id[128];
    char should_retry[16];
    char retry_after[64];
} attempt_t;

static pthread_once_t client_once = PTHREAD_ONCE_INIT;
static CURLcode client_global_rc;

static void client_global_init(void)
{
    client_global_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

void sl_client_config_init(sl_client_config_t *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->connect_timeout_ms = 30000;
    cfg->timeout_ms = 80000;
    cfg->max_retries = 2;
    cfg->retry_initial_ms = 500;
    cfg->retry_max_ms = 5000;
    cfg->retry_total_ms = 60000;
    cfg->max_response_bytes = 16u << 20;
}

static void client_trace(const sl_client_t *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void client_trace(const sl_client_t *c, const char *fmt, ...)
{
    if (!c->trace)
        return;
    char line[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    sl__redact(line, c->api_key);
    c->trace(c->trace_ctx, line);
}

static void share_lock(CURL *h, curl_lock_data data, curl_lock_access access, void *ctx)
{
    (void)h;
    (void)access;
    sl_client_t *c = ctx;
    pthread_mutex_lock(&c->share_locks[data]);
}

static void share_unlock(CURL *h, curl_lock_data data, void *ctx)
{
    (void)h;
    sl_client_t *c = ctx;
    pthread_mutex_unlock(&c->share_locks[data]);
}

/* A header value: printable, no CR/LF (and, for the key, no spaces), at most 255 bytes. */
static int header_safe(const char *v, int no_space)
{
    if (!v)
        return 1;
    size_t n = 0;
    for (const unsigned char *p = (const unsigned char *)v; *p; p++, n++) {
        if (*p < 0x20 || *p == 0x7f || (no_space && *p == ' '))
            return 0;
    }
    return n <= 255;
}

static int base_url_ok(const char *base)
{
    int ok = 0;
    CURLU *u = curl_url();
    char *scheme = NULL, *host = NULL;
    if (u && curl_url_set(u, CURLUPART_URL, base, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK && host[0])
        ok = strcmp(scheme, "http") == 0 || strcmp(scheme, "https") == 0;
    curl_free(scheme);
    curl_free(host);
    curl_url_cleanup(u);
    return ok;
}

static char *dup_or_null(const char *s)
{
    return s && *s ? strdup(s) : NULL;
}

sl_err sl_client_new(const sl_client_config_t *cfg, sl_client_t **out, char *err, size_t errlen)
{
    sl_err rc = SL_OK;
    sl_client_t *c = NULL;
    *out = NULL;
    if (err && errlen)
        err[0] = '\0';

    const char *base = cfg->base_url && *cfg->base_url ? cfg->base_url : SL_STRIPE_DEFAULT_BASE_URL;
    if (!cfg->api_key || !*cfg->api_key) {
        if (err)
            snprintf(err, errlen, "no API key given");
        return SL_EINVAL;
    }
    pthread_once(&client_once, client_global_init);
    if (client_global_rc != CURLE_OK) {
        if (err)
            snprintf(err, errlen, "libcurl failed to initialise");
        return SL_EINTERNAL;
    }
    if (!base_url_ok(base)) {
        if (err)
            snprintf(err, errlen,
                     "base URL `%.200s` is not an http:// or https:// address with a host", base);
        return SL_EINVAL;
    }
    /* Header values must not smuggle in other headers. */
    const struct {
        const char *what, *value;
    } fields[] = {{"API key", cfg->api_key},
                  {"Stripe-Version", cfg->stripe_version},
                  {"Stripe-Account", cfg->stripe_account}};
    for (size_t i = 0; i < sizeof fields / sizeof *fields; i++) {
        if (!header_safe(fields[i].value, i == 0)) {
            if (err)
                snprintf(err, errlen, "%s contains a control character%s or is too long",
                         fields[i].what, i == 0 ? " or a space" : "");
            return SL_EINVAL;
        }
    }

    c = calloc(1, sizeof *c);
    if (!c)
        return SL_ENOMEM;
    for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
        pthread_mutex_init(&c->share_locks[i], NULL);
    pthread_mutex_init(&c->pool_lock, NULL);
    pthread_mutex_init(&c->rate_lock, NULL);
    c->api_key = strdup(cfg->api_key);
    c->base_url = strdup(base);
    c->stripe_version =
        dup_or_null(cfg->stripe_version ? cfg->stripe_version : CLIENT_DEFAULT_API_VERSION);
    c->stripe_account = dup_or_null(cfg->stripe_account);
    if (!c->api_key || !c->base_url || !c->stripe_version ||
        (cfg->stripe_account && *cfg->stripe_account && !c->stripe_account)) {
        rc = SL_ENOMEM;
        goto fail;
    }
    /* "https://api.stripe.com/" and "https://api.stripe.com" name the same thing. */
    size_t bl = strlen(c->base_url);
    while (bl > 0 && c->base_url[bl - 1] == '/')
        c->base_url[--bl] = '\0';

    snprintf(c->user_agent, sizeof c->user_agent, "sluice/%s", SLUICE_VERSION);
    c->connect_timeout_ms = cfg->connect_timeout_ms > 0 ? cfg->connect_timeout_ms : 30000;
    c->timeout_ms = cfg->timeout_ms > 0 ? cfg->timeout_ms : 80000;
    c->max_response_bytes = cfg->max_response_bytes ? cfg->max_response_bytes : 16u << 20;
    c->retry.max_retries = cfg->max_retries < 0 ? 0 : cfg->max_retries;
    c->retry.initial_ms = cfg->retry_initial_ms > 0 ? cfg->retry_initial_ms : 500;
    c->retry.max_ms = cfg->retry_max_ms > 0 ? cfg->retry_max_ms : 5000;
    c->retry.total_ms = cfg->retry_total_ms > 0 ? cfg->retry_total_ms : 60000;
    c->trace = cfg->trace;
    c->trace_ctx = cfg->trace_ctx;
    c->rate_limit = cfg->rate_limit > 0 ? cfg->rate_limit : 0;

    c->share = curl_share_init();
    if (!c->share) {
        rc = SL_ENOMEM;
        goto fail;
    }
    /* DNS answers and TLS sessions are shared; connections are not (libcurl does not support
     * sharing them between threads), so each pooled handle keeps its own alive. */
    if (curl_share_setopt(c->share, CURLSHOPT_LOCKFUNC, share_lock) ||
        curl_share_setopt(c->share, CURLSHOPT_UNLOCKFUNC, share_unlock) ||
        curl_share_setopt(c->share, CURLSHOPT_USERDATA, c) ||
        curl_share_setopt(c->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS) ||
        curl_share_setopt(c->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION)) {
        rc = SL_EINTERNAL;
        goto fail;
    }
    *out = c;
    return SL_OK;

fail:
    if (err && errlen && !err[0])
        snprintf(err, errlen, "%s", sl_strerror(rc));
    sl_client_free(c);
    return rc;
}

void sl_client_free(sl_client_t *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->pool_len; i++)
        curl_easy_cleanup(c->pool[i]);
    free(c->pool);
    if (c->share)
        curl_share_cleanup(c->share);
    for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
        pthread_mutex_destroy(&c->share_locks[i]);
    pthread_mutex_destroy(&c->pool_lock);
    pthread_mutex_destroy(&c->rate_lock);
    if (c->api_key)
        memset(c->api_key, 0, strlen(c->api_key));
    free(c->api_key);
    free(c->base_url);
    free(c->stripe_version);
    free(c->stripe_account);
    free(c);
}

static CURL *pool_take(sl_client_t *c)
{
    CURL *h = NULL;
    pthread_mutex_lock(&c->pool_lock);
    if (c->pool_len)
        h = c->pool[--c->pool_len];
    pthread_mutex_unlock(&c->pool_lock);
    return h ? h : curl_easy_init();
}

static void pool_give(sl_client_t *c, CURL *h)
{
    pthread_mutex_lock(&c->pool_lock);
    if (c->pool_len == c->pool_cap) {
        size_t cap = c->pool_cap ? c->pool_cap * 2 : 4;
        CURL **p = realloc(c->pool, cap * sizeof *p);
        if (!p) {
            pthread_mutex_unlock(&c->pool_lock);
            curl_easy_cleanup(h);
            return;
        }
        c->pool = p;
        c->pool_cap = cap;
    }
    c->pool[c->pool_len++] = h;
    pthread_mutex_unlock(&c->pool_lock);
}

static size_t on_body(char *p, size_t size, size_t n, void *ctx)
{
    attempt_t *a = ctx;
    size_t len = size * n;
    sl_err rc = sl__buf_append(&a->body, p, len);
    if (rc == SL_ETOOBIG)
        a->too_big = 1;
    return rc ? 0 : len;
}

static void header_value(char *dst, size_t dstlen, const char *v, size_t n)
{
    while (n && (*v == ' ' || *v == '\t')) {
        v++;
        n--;
    }
    while (n && (v[n - 1] == '\r' || v[n - 1] == '\n' || v[n - 1] == ' '))
        n--;
    snprintf(dst, dstlen, "%.*s", (int)n, v);
}

static size_t on_header(char *p, size_t size, size_t n, void *ctx)
{
    attempt_t *a = ctx;
    size_t len = size * n;
    static const struct {
        const char *name;
        size_t off;
        size_t cap;
    } wanted[] = {
        {"request-id:", offsetof(attempt_t, request_id), sizeof(((attempt_t *)0)->request_id)},
        {"stripe-should-retry:", offsetof(attempt_t, should_retry),
         sizeof(((attempt_t *)0)->should_retry)},
        {"retry-after:", offsetof(attempt_t, retry_after), sizeof(((attempt_t *)0)->retry_after)},
    };
    for (size_t i = 0; i < sizeof wanted / sizeof *wanted; i++) {
        size_t m = strlen(wanted[i].name);
        if (len > m && strncasecmp(p, wanted[i].name, m) == 0)
            header_value((char *)a + wanted[i].off, wanted[i].cap, p + m, len - m);
    }
    return len;
}

void sl_response_cleanup(sl_response_t *resp)
{
    if (!resp)
        return;
    free(resp->body);
    json_decref(resp->json);
    memset(resp, 0, sizeof *resp);
}

static struct curl_slist *add_header(struct curl_slist *l, int *failed, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static struct curl_slist *add_header(struct curl_slist *l, int *failed, const char *fmt, ...)
{
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    struct curl_slist *n = curl_slist_append(l, line);
    if (!n)
        *failed = 1;
    return n ? n : l;
}

/* The request, ready to send on every attempt. */
typedef struct prepared {
    char *url;
    char *body; /* POST only */
    int is_post;
    struct curl_slist *headers;
    const char *method;
} prepared_t;

static void prepared_cleanup(prepared_t *p)
{
    free(p->url);
    free(p->body);
    curl_slist_free_all(p->headers);
}

static sl_err prepare(sl_client_t *c, const sl_request_t *req, sl_response_t *resp, prepared_t *p)
{
    memset(p, 0, sizeof *p);
    const char *m = req->method;
    if (!m || (strcmp(m, "GET") && strcmp(m, "POST") && strcmp(m, "DELETE"))) {
        snprintf(resp->error.message, sizeof resp->error.message,
                 "method `%s` is not one of GET, POST, DELETE", m ? m : "(none)");
        return SL_EINVAL;
    }
    if (!req->path || req->path[0] != '/' || strpbrk(req->path, " \t\r\n")) {
        snprintf(resp->error.message, sizeof resp->error.message,
                 "path `%.200s` must start with '/' and hold no spaces or line breaks (for "
                 "example /v1/customers)",
                 req->path ? req->path : "(none)");
        return SL_EINVAL;
    }
    if (req->params && !json_is_object(req->params)) {
        snprintf(resp->error.message, sizeof resp->error.message,
                 "parameters must be a JSON object");
        return SL_EINVAL;
    }
    p->method = m;
    p->is_post = strcmp(m, "POST") == 0;

    char *encoded = NULL;
    sl_err rc = sl_form_encode(req->params, &encoded);
    if (rc) {
        snprintf(resp->error.message, sizeof resp->error.message,
                 "parameters cannot be form-encoded (a number that is not finite, or nesting "
                 "deeper than 32)");
        return rc;
    }
    sl_buf_t url;
    sl__buf_init(&url, 0);
    rc = sl__buf_puts(&url, c->base_url);
    if (!rc)
        rc = sl__buf_puts(&url, req->path);
    if (!rc && !p->is_post && *encoded) {
        rc = sl__buf_putc(&url, strchr(req->path, '?') ? '&' : '?');
        if (!rc)
            rc = sl__buf_puts(&url, encoded);
    }
    p->url = sl__buf_take(&url);
    if (p->is_post) {
        p->body = encoded;
        encoded = NULL;
    }
    free(encoded);
    if (rc || !p->url)
        return rc ? rc : SL_ENOMEM;

    int failed = 0;
    p->headers = add_header(p->headers, &failed, "Authorization: Bearer %s", c->api_key);
    p->headers = add_header(p->headers, &failed, "Accept: application/json");
    p->headers = add_header(p->headers, &failed, "Expect:");
    const char *version = req->stripe_version ? req->stripe_version : c->stripe_version;
    const char *account = req->stripe_account ? req->stripe_account : c->stripe_account;
    if (version && *version)
        p->headers = add_header(p->headers, &failed, "Stripe-Version: %s", version);
    if (account && *account)
        p->headers = add_header(p->headers, &failed, "Stripe-Account: %s", account);
    if (!header_safe(version, 0) || !header_safe(account, 0) ||
        !header_safe(req->idempotency_key, 0)) {
        snprintf(resp->error.message, sizeof resp->error.message,
                 "Stripe-Version, Stripe-Account and Idempotency-Key must be printable, without "
                 "line breaks, and at most 255 bytes");
        return SL_EINVAL;
    }
    if (p->is_post) {
        if (req->idempotency_key && *req->idempotency_key) {
            snprintf(resp->idempotency_key, sizeof resp->idempotency_key, "%s",
                     req->idempotency_key);
        } else if (sl__uuid4(resp->idempotency_key)) {
            snprintf(resp->error.message, sizeof resp->error.message,
                     "no randomness for an Idempotency-Key");
            return SL_EINTERNAL;
        }
        p->headers = add_header(p->headers, &failed, "Idempotency-Key: %s", resp->idempotency_key);
        p->headers =
            add_header(p->headers, &failed, "Content-Type: application/x-www-form-urlencoded");
    }
    if (failed)
        return SL_ENOMEM;

    char mask[64];
    sl_key_mask(c->api_key, mask, sizeof mask);
    client_trace(c, "> %s %s", m, p->url);
    client_trace(c, "> Authorization: Bearer %s", mask);
    if (version && *version)
        client_trace(c, "> Stripe-Version: %s", version);
    if (account && *account)
        client_trace(c, "> Stripe-Account: %s", account);
    if (p->is_post) {
        client_trace(c, "> Idempotency-Key: %s", resp->idempotency_key);
        client_trace(c, "> %s", p->body);
    }
    return SL_OK;
}

/* One HTTP exchange. Returns the libcurl result; fills status and the attempt record. */
/* Waits for this request's turn under the rate limit: each request takes the next free slot,
 * 1/rate seconds after the previous one, so threads share the limit fairly. */
static void rate_wait(sl_client_t *c)
{
    if (c->rate_limit <= 0)
        return;
    pthread_mutex_lock(&c->rate_lock);
    double now = sl__mono_ms(), slot = c->next_slot > now ? c->next_slot : now;
    c->next_slot = slot + 1000.0 / c->rate_limit;
    pthread_mutex_unlock(&c->rate_lock);
    if (slot > now) {
        client_trace(c, "! waiting %.0f ms for the rate limit (%g/s)", slot - now, c->rate_limit);
        sl__sleep_ms((long)(slot - now + 0.5));
    }
}

static CURLcode perform(sl_client_t *c, CURL *h, const prepared_t *p, attempt_t *a, long *status,
                        char *errbuf)
{
    curl_easy_reset(h);
    curl_easy_setopt(h, CURLOPT_SHARE, c->share);
    curl_easy_setopt(h, CURLOPT_URL, p->url);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_USERAGENT, c->user_agent);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, p->headers);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, c->connect_timeout_ms);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, c->timeout_ms);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, a);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, a);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
    if (p->is_post) {
        curl_easy_setopt(h, CURLOPT_POST, 1L);
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, p->body);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)strlen(p->body));
    } else if (strcmp(p->method, "DELETE") == 0) {
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, "DELETE");
    } else {
        curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
    }
    errbuf[0] = '\0';
    CURLcode cc = curl_easy_perform(h);
    *status = 0;
    if (cc == CURLE_OK)
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, status);
    return cc;
}

sl_err sl_client_request(sl_client_t *c, const sl_request_t *req, sl_response_t *resp)
{
    memset(resp, 0, sizeof *resp);
    prepared_t p;
    attempt_t a;
    memset(&a, 0, sizeof a);
    sl__buf_init(&a.body, c->max_response_bytes);
    double start = sl__mono_ms();
    sl_retry_policy_t policy = c->retry;
    if (req->max_retries)
        policy.max_retries = req->max_retries < 0 ? 0 : req->max_retries;
    CURL *h = NULL;
    sl_err rc = prepare(c, req, resp, &p);
    if (rc)
        goto out;
    h = pool_take(c);
    if (!h) {
        rc = SL_ENOMEM;
        goto out;
    }

    char errbuf[CURL_ERROR_SIZE];
    CURLcode cc;
    long status;
    for (;;) {
        sl__buf_reset(&a.body);
        a.too_big = 0;
        a.request_id[0] = a.should_retry[0] = a.retry_after[0] = '\0';
        rate_wait(c);
        double t0 = sl__mono_ms();
        resp->attempts++;
        cc = perform(c, h, &p, &a, &status, errbuf);
        double took = sl__mono_ms() - t0;
        if (a.too_big) {
            curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &resp->status);
            snprintf(resp->request_id, sizeof resp->request_id, "%s", a.request_id);
            snprintf(resp->error.message, sizeof resp->error.message,
                     "response larger than the %zu-byte limit", c->max_response_bytes);
            rc = SL_ETOOBIG;
            goto out;
        }
        if (cc == CURLE_OK) {
            client_trace(c, "< %ld in %.1f ms (attempt %d%s%s)", status, took, resp->attempts,
                         a.request_id[0] ? ", request id " : "", a.request_id);
            if (status >= 200 && status < 300)
                break;
        } else if (cc == CURLE_URL_MALFORMAT || cc == CURLE_UNSUPPORTED_PROTOCOL) {
            snprintf(resp->error.message, sizeof resp->error.message, "bad request address: %s",
                     errbuf[0] ? errbuf : curl_easy_strerror(cc));
            rc = SL_EINVAL;
            goto out;
        } else {
            client_trace(c, "< no response after %.1f ms (attempt %d): %s", took, resp->attempts,
                         errbuf[0] ? errbuf : curl_easy_strerror(cc));
        }
        if (!sl__retry_should(&policy, status, a.should_retry[0] ? a.should_retry : NULL,
                              resp->attempts - 1)) {
            if (a.should_retry[0] && strcasecmp(a.should_retry, "false") == 0 &&
                resp->attempts - 1 < policy.max_retries)
                client_trace(c, "! not retrying: Stripe-Should-Retry: false");
            break;
        }
        long after = sl__retry_after_ms(a.retry_after[0] ? a.retry_after : NULL, time(NULL));
        long delay = sl__retry_delay_ms(&policy, resp->attempts, after, sl__rand_u32());
        double spent = sl__mono_ms() - start;
        if (spent + (double)delay > (double)c->retry.total_ms) {
            client_trace(c,
                         "! not retrying: the next attempt would start after the %ld ms "
                         "budget",
                         c->retry.total_ms);
            break;
        }
        client_trace(c, "! retrying in %ld ms (retry %d of %d%s)", delay, resp->attempts,
                     policy.max_retries, after >= 0 ? ", as Retry-After asks" : "");
        sl__sleep_ms(delay);
    }

    resp->status = status;
    snprintf(resp->request_id, sizeof resp->request_id, "%s", a.request_id);
    resp->body_len = a.body.len;
    resp->body = sl__buf_take(&a.body);
    if (!resp->body) {
        rc = SL_ENOMEM;
        goto out;
    }
    if (cc != CURLE_OK) {
        snprintf(resp->error.message, sizeof resp->error.message,
                 "no response from %s after %d attempt%s: %s", c->base_url, resp->attempts,
                 resp->attempts == 1 ? "" : "s", errbuf[0] ? errbuf : curl_easy_strerror(cc));
        rc = cc == CURLE_OPERATION_TIMEDOUT ? SL_ETIMEOUT : SL_ENETWORK;
        goto out;
    }
    resp->json = json_loadb(resp->body, resp->body_len, 0, NULL);
    if (status < 200 || status >= 300) {
        sl__stripe_error_parse(&resp->error, status, resp->json, resp->body, a.request_id);
        rc = SL_ESTRIPE;
        goto out;
    }
    if (!resp->json) {
        snprintf(resp->error.message, sizeof resp->error.message,
                 "HTTP %ld with a body that is not JSON", status);
        rc = SL_EPARSE;
    }

out : {
    /* Whatever Stripe (or a proxy) wrote back must not show the key. */
    char *fields[] = {resp->error.message,      resp->error.type,  resp->error.code,
                      resp->error.decline_code, resp->error.param, resp->error.doc_url};
    for (size_t i = 0; i < sizeof fields / sizeof *fields; i++)
        sl__redact(fields[i], c->api_key);
}
    if (h) {
        curl_easy_setopt(h, CURLOPT_ERRORBUFFER, NULL);
        pool_give(c, h);
    }
    if (rc == SL_EINVAL || rc == SL_ENOMEM)
        resp->error.http_status = 0;
    sl__buf_cleanup(&a.body);
    prepared_cleanup(&p);
    resp->elapsed_ms = sl__mono_ms() - start;
    return rc;
}
