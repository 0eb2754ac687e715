/* The flow engine: see engine.h.
 *
 * A run walks its flow's steps with a context {trigger, input, steps, run, flow}. Every leaf
 * step's input (its fields with templates rendered), output, error, timing and attempts are
 * recorded under its path ("each[2].get-customer"). A step with a side effect (stripe, http,
 * email, contact, emit) is recorded as soon as it finishes; pure steps (set, filter, if, loop)
 * are recorded in batches, since repeating them after a crash changes nothing. Resuming a run
 * replays recorded outputs instead of executing their steps again, so it continues at the first
 * unfinished step; Stripe writes also carry an Idempotency-Key derived from the run and the
 * path, so a step cut off mid-call is answered with its first result. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

#include <curl/curl.h>
#include <openssl/sha.h>

#include "conn/conn.h"
#include "core/buf.h"
#include "core/log.h"
#include "flow/engine.h"
#include "flow/expr.h"
#include "net/smtp.h"
#include "sluice/catalog.h"

#define MAX_LOOP_ITEMS 100000
#define PURE_BATCH 512
#define HTTP_MAX_BODY (4u << 20)

typedef struct client_slot {
    char connection[64];
    sl_client_t *client;
} client_slot_t;

struct sl_engine {
    sl_engine_config_t cfg;
    int *enabled; /* per flow, refreshed from the store */
    pthread_mutex_t lock;
    pthread_cond_t wake;
    int stopping;
    int pending; /* runs queued since the workers last looked */
    pthread_t *threads;
    int nthreads;
    pthread_t sched;
    int have_sched;
    client_slot_t clients[16];
    size_t nclients;
};

/* One run being executed. */
typedef struct exec {
    sl_engine_t *e;
    const sl_flow_t *flow;
    const char *run_id;
    json_t *ctx;      /* {trigger, input, steps, run, flow} */
    json_t *done;     /* path -> recorded step (from earlier attempts) */
    json_t *pure;     /* records not yet written */
    char failed[512]; /* the failing step's path */
    char error[2048]; /* why */
    int filtered;
} exec_t;

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static double mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

void sl__engine_idem_key(const char *run_id, const char *path, char *out, size_t n)
{
    unsigned char md[SHA256_DIGEST_LENGTH];
    char in[1600];
    int len = snprintf(in, sizeof in, "%s\n%s", run_id, path);
    SHA256((const unsigned char *)in, len > 0 && (size_t)len < sizeof in ? (size_t)len : 0, md);
    char hex[2 * 20 + 1];
    for (int i = 0; i < 20; i++)
        snprintf(hex + 2 * i, 3, "%02x", md[i]);
    snprintf(out, n, "sluice-%s", hex);
}

/* --- records ---------------------------------------------------------------------------------- */

static int flush_pure(exec_t *x)
{
    if (!json_array_size(x->pure))
        return 0;
    char err[512];
    sl_store_t *s = x->e->cfg.store;
    if (s->ops->steps_put(s, x->run_id, x->pure, err, sizeof err)) {
        snprintf(x->error, sizeof x->error, "could not record steps: %s", err);
        return -1;
    }
    json_array_clear(x->pure);
    return 0;
}

/* Records a step: at once for side effects and failures, batched for pure steps. */
static int record(exec_t *x, json_t *rec, int side_effect)
{
    json_array_append_new(x->pure, rec);
    if (side_effect || json_array_size(x->pure) >= PURE_BATCH ||
        strcmp(json_string_value(json_object_get(rec, "status")) ?: "", "succeeded") != 0)
        return flush_pure(x);
    return 0;
}

static json_t *make_record(const char *path, const char *kind, const char *status, json_t *input,
                           json_t *output, const char *error, long long started, double ms,
                           int attempts)
{
    return json_pack("{s:s,s:s,s:s,s:o,s:o,s:s?,s:I,s:f,s:i}", "path", path, "kind", kind, "status",
                     status, "input", input ? input : json_null(), "output",
                     output ? output : json_null(), "error", error, "started_ms",
                     (json_int_t)started, "duration_ms", ms, "attempts", attempts);
}

/* --- side effects ----------------------------------------------------------------------------- */

static sl_client_t *client_for(exec_t *x, char *err, size_t errlen)
{
    sl_engine_t *e = x->e;
    const char *name = x->flow->connection;
    pthread_mutex_lock(&e->lock);
    for (size_t i = 0; i < e->nclients; i++)
        if (strcmp(e->clients[i].connection, name) == 0) {
            pthread_mutex_unlock(&e->lock);
            return e->clients[i].client;
        }
    sl_client_t *c = NULL;
    sl_conn_row_t row;
    if (e->cfg.store->ops->conn_get(e->cfg.store, name, &row, err, errlen) == SL_OK &&
        sl__conn_client(&row, e->cfg.crypt, NULL, &c, err, errlen) == SL_OK &&
        e->nclients < sizeof e->clients / sizeof *e->clients) {
        snprintf(e->clients[e->nclients].connection, sizeof e->clients[0].connection, "%s", name);
        e->clients[e->nclients++].client = c;
    }
    sl_conn_row_cleanup(&row);
    pthread_mutex_unlock(&e->lock);
    return c;
}

/* A transient failure is worth retrying; others are not. */
enum { OK = 0, FAIL = 1, TRANSIENT = 2 };

static int do_stripe(exec_t *x, const char *op, const json_t *with, const char *path, json_t **out,
                     char *err, size_t errlen)
{
    sl_client_t *c = client_for(x, err, errlen);
    if (!c)
        return FAIL;
    char key[64];
    sl__engine_idem_key(x->run_id, path, key, sizeof key);
    sl_request_t base = {NULL, NULL, NULL, key, NULL, NULL};
    sl_response_t resp;
    char cerr[1024] = "";
    sl_err rc =
        sl_action_call(c, op, with ? with : json_object(), 1, &base, &resp, cerr, sizeof cerr);
    int result = OK;
    if (rc == SL_OK) {
        *out = json_incref(resp.json);
    } else if (rc == SL_ESTRIPE) {
        const sl_stripe_error_t *se = &resp.error;
        snprintf(err, errlen, "Stripe error (HTTP %ld, %s%s%s%s%s): %s%s%s", se->http_status,
                 se->type, se->code[0] ? " " : "", se->code, se->decline_code[0] ? " " : "",
                 se->decline_code, se->message, se->request_id[0] ? " (request " : "",
                 se->request_id[0] ? se->request_id : "");
        if (se->request_id[0])
            snprintf(err + strlen(err), errlen - strlen(err), ")");
        if (se->param[0])
            snprintf(err + strlen(err), errlen - strlen(err), " [param %s]", se->param);
        result = se->http_status == 429 || se->http_status == 409 || se->http_status >= 500
                     ? TRANSIENT
                     : FAIL;
        *out = resp.json ? json_incref(resp.json) : NULL;
    } else {
        snprintf(err, errlen, "%s: %s", op, cerr[0] ? cerr : resp.error.message);
        result = rc == SL_ENETWORK || rc == SL_ETIMEOUT ? TRANSIENT : FAIL;
    }
    sl_response_cleanup(&resp);
    return result;
}

static size_t collect(char *p, size_t size, size_t n, void *ctx)
{
    return sl__buf_append(ctx, p, size * n) ? 0 : size * n;
}

/* An HTTP request with a JSON (or text) body; the output is {status, body}. */
static int do_http(const char *method, const char *url, const json_t *headers, const json_t *body,
                   long timeout_ms, json_t **out, char *err, size_t errlen)
{
    CURL *h = curl_easy_init();
    if (!h) {
        snprintf(err, errlen, "out of memory");
        return FAIL;
    }
    struct curl_slist *hs = NULL;
    char *text = NULL;
    const char *k;
    json_t *v;
    int has_type = 0;
    json_object_foreach((json_t *)headers, k, v)
    {
        const char *val = json_string_value(v);
        if (!val || strpbrk(k, "\r\n:") || strpbrk(val, "\r\n")) {
            snprintf(err, errlen, "header `%s` must be a one-line string", k);
            curl_easy_cleanup(h);
            curl_slist_free_all(hs);
            return FAIL;
        }
        has_type |= strcasecmp(k, "Content-Type") == 0;
        char line[4096];
        snprintf(line, sizeof line, "%s: %s", k, val);
        hs = curl_slist_append(hs, line);
    }
    if (body && !json_is_null(body)) {
        text = json_is_string(body) ? strdup(json_string_value(body))
                                    : json_dumps(body, JSON_ENCODE_ANY | JSON_COMPACT);
        if (!has_type)
            hs = curl_slist_append(hs, json_is_string(body) ? "Content-Type: text/plain"
                                                            : "Content-Type: application/json");
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, text ? text : "");
    }
    hs = curl_slist_append(hs, "User-Agent: sluice-flow/1");
    sl_buf_t resp;
    sl__buf_init(&resp, HTTP_MAX_BODY);
    char cerr[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
    if (strcasecmp(method, "HEAD") == 0)
        curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hs);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, timeout_ms > 0 ? timeout_ms : 30000L);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &resp);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, cerr);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    CURLcode cc = curl_easy_perform(h);
    int result = OK;
    long status = 0;
    if (cc != CURLE_OK) {
        snprintf(err, errlen, "%s %s: %s", method, url, cerr[0] ? cerr : curl_easy_strerror(cc));
        result = cc == CURLE_URL_MALFORMAT || cc == CURLE_UNSUPPORTED_PROTOCOL ? FAIL : TRANSIENT;
    } else {
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
        json_t *parsed = resp.len ? json_loadb(resp.data, resp.len, JSON_DECODE_ANY, NULL) : NULL;
        if (!parsed)
            parsed = resp.len ? json_stringn_nocheck(resp.data, resp.len) : json_null();
        *out = json_pack("{s:i,s:o}", "status", (int)status, "body", parsed);
        if (status < 200 || status >= 300) {
            snprintf(err, errlen, "%s %s answered HTTP %ld: %.300s", method, url, status,
                     resp.data ? resp.data : "");
            result = status >= 500 || status == 429 || status == 408 ? TRANSIENT : FAIL;
        }
    }
    sl__buf_cleanup(&resp);
    curl_slist_free_all(hs);
    curl_easy_cleanup(h);
    free(text);
    return result;
}

static const char *str(const json_t *obj, const char *key)
{
    return json_string_value(json_object_get(obj, key));
}

static int do_email(exec_t *x, const json_t *in, json_t **out, char *err, size_t errlen)
{
    const json_t *smtp = json_object_get(in, "smtp");
    if (!smtp)
        smtp = json_object_get(x->flow->def, "smtp");
    const char *pw_env = str(smtp, "password_env");
    sl_smtp_config_t cfg = {
        str(smtp, "url") ? str(smtp, "url") : getenv("SLUICE_SMTP_URL"),
        str(smtp, "username") ? str(smtp, "username") : getenv("SLUICE_SMTP_USERNAME"),
        pw_env ? getenv(pw_env) : getenv("SLUICE_SMTP_PASSWORD"),
        str(smtp, "tls"),
        0,
    };
    if (!cfg.url) {
        snprintf(err, errlen,
                 "no SMTP server: give the flow `smtp: {url: smtp://host:port}` or "
                 "set SLUICE_SMTP_URL");
        return FAIL;
    }
    const json_t *to = json_object_get(in, "to");
    const char *list[65];
    size_t n = 0;
    if (json_is_string(to))
        list[n++] = json_string_value(to);
    for (size_t i = 0; json_is_array(to) && i < json_array_size(to) && n < 64; i++)
        if (json_is_string(json_array_get(to, i)))
            list[n++] = json_string_value(json_array_get(to, i));
    list[n] = NULL;
    if (!n) {
        snprintf(err, errlen, "email `to` is empty");
        return FAIL;
    }
    const char *from = str(in, "from") ? str(in, "from") : getenv("SLUICE_SMTP_FROM");
    sl_mail_t mail = {from ? from : "sluice <sluice@localhost>",
                      list,
                      str(in, "subject") ? str(in, "subject") : "",
                      str(in, "text"),
                      str(in, "html"),
                      str(in, "reply_to")};
    char mid[256] = "";
    sl_err rc = sl__smtp_check(&cfg, &mail, err, errlen);
    if (!rc)
        rc = sl__smtp_send(&cfg, &mail, mid, sizeof mid, err, errlen);
    if (rc)
        return rc == SL_ENETWORK ? TRANSIENT : FAIL;
    *out = json_pack("{s:s,s:O}", "message_id", mid, "to", to);
    return OK;
}

/* A contact's `name` ("Jenny Rosen") fills first_name and last_name when they are not given:
 * the first word, and the rest. */
static void contact_names(json_t *input)
{
    const char *name = str(input, "name");
    if (!name || str(input, "first_name") || str(input, "last_name"))
        return;
    while (*name == ' ')
        name++;
    size_t n = strcspn(name, " ");
    const char *rest = name + n;
    while (*rest == ' ')
        rest++;
    if (n)
        json_object_set_new(input, "first_name", json_stringn(name, n));
    if (*rest)
        json_object_set_new(input, "last_name", json_string(rest));
}

/* --- steps ------------------------------------------------------------------------------------ */

static int exec_steps(exec_t *x, const json_t *steps, const char *prefix, int depth);

static void set_output(exec_t *x, const char *id, json_t *output)
{
    json_object_set(json_object_get(x->ctx, "steps"), id, output ? output : json_null());
}

/* Evaluates an expression field ("$.x" or "{{ $.x }}"). */
static json_t *eval_field(exec_t *x, const json_t *v, char *err, size_t errlen)
{
    if (json_is_boolean(v))
        return json_incref((json_t *)v);
    const char *s = json_string_value(v);
    return strstr(s, "{{") ? sl__template_render(s, x->ctx, err, errlen)
                           : sl__expr_eval(s, x->ctx, err, errlen);
}

static int fail_step(exec_t *x, const char *path, const char *kind, json_t *input,
                     const char *error, long long started, double t0, int attempts)
{
    snprintf(x->failed, sizeof x->failed, "%s", path);
    snprintf(x->error, sizeof x->error, "%s", error);
    record(x,
           make_record(path, kind, "failed", input, NULL, error, started, mono_ms() - t0, attempts),
           1);
    return -1;
}

static int exec_leaf(exec_t *x, const json_t *step, const char *kind, const char *id,
                     const char *path)
{
    const json_t *prev = json_object_get(x->done, path);
    if (prev) {
        /* Done in an earlier attempt: its output stands. */
        set_output(x, id, json_object_get(prev, "output"));
        if (!strcmp(kind, "filter") &&
            !json_is_true(json_object_get(json_object_get(prev, "output"), "passed"))) {
            x->filtered = 1;
            return 1;
        }
        return 0;
    }
    long long started = now_ms();
    double t0 = mono_ms();
    char err[2048] = "";
    const json_t *body = json_object_get(step, kind);
    json_t *input = NULL, *output = NULL;
    int side = strcmp(kind, "set") && strcmp(kind, "filter");
    if (!strcmp(kind, "filter")) {
        json_t *v = eval_field(x, body, err, sizeof err);
        if (!v)
            return fail_step(x, path, kind, json_incref((json_t *)body), err, started, t0, 1);
        int pass = sl__expr_truthy(v);
        json_decref(v);
        output = json_pack("{s:b}", "passed", pass);
        set_output(x, id, output);
        record(x,
               make_record(path, kind, "succeeded", json_incref((json_t *)body), output, NULL,
                           started, mono_ms() - t0, 1),
               0);
        if (!pass) {
            x->filtered = 1;
            return 1;
        }
        return 0;
    }
    const json_t *with = !strcmp(kind, "stripe") ? json_object_get(step, "with") : body;
    input = with ? sl__template_render_json(with, x->ctx, err, sizeof err) : json_object();
    if (!input)
        return fail_step(x, path, kind, json_incref((json_t *)with), err, started, t0, 1);
    if (!strcmp(kind, "set")) {
        set_output(x, id, input);
        record(x,
               make_record(path, kind, "succeeded", NULL, json_incref(input), NULL, started,
                           mono_ms() - t0, 1),
               0);
        json_decref(input);
        return 0;
    }
    const json_t *retry = json_object_get(step, "retry");
    int attempts = json_is_integer(json_object_get(retry, "attempts"))
                       ? (int)json_integer_value(json_object_get(retry, "attempts"))
                       : 3;
    long backoff = json_is_integer(json_object_get(retry, "backoff_ms"))
                       ? (long)json_integer_value(json_object_get(retry, "backoff_ms"))
                       : x->e->cfg.retry_base_ms;
    int attempt = 0, result = FAIL;
    for (;;) {
        attempt++;
        err[0] = '\0';
        json_decref(output);
        output = NULL;
        if (!strcmp(kind, "stripe")) {
            result = do_stripe(x, str(step, "stripe"), input, path, &output, err, sizeof err);
        } else if (!strcmp(kind, "http")) {
            result = do_http(str(input, "method") ? str(input, "method") : "GET",
                             str(input, "url") ?: "", json_object_get(input, "headers"),
                             json_object_get(input, "body"),
                             (long)json_integer_value(json_object_get(input, "timeout_ms")),
                             &output, err, sizeof err);
        } else if (!strcmp(kind, "emit")) {
            json_t *payload =
                json_pack("{s:O,s:O,s:I,s:s,s:s}", "event", json_object_get(input, "event"),
                          "payload", json_object_get(input, "payload") ?: json_null(), "sent_at",
                          (json_int_t)time(NULL), "flow", x->flow->name, "run", x->run_id);
            result = do_http("POST", str(input, "url") ?: "", json_object_get(input, "headers"),
                             payload, 0, &output, err, sizeof err);
            json_decref(payload);
        } else if (!strcmp(kind, "email")) {
            result = do_email(x, input, &output, err, sizeof err);
        } else if (!strcmp(kind, "contact")) {
            const char *email = str(input, "email");
            int created = 0;
            json_t *row = NULL;
            if (!email || !strchr(email, '@')) {
                snprintf(err, sizeof err, "contact email `%s` is not an email address",
                         email ? email : "(not a string)");
                result = FAIL;
            } else if (contact_names(input),
                       x->e->cfg.store->ops->contact_upsert(
                           x->e->cfg.store, email, str(input, "first_name"),
                           str(input, "last_name"), &created, &row, err, sizeof err)) {
                result = TRANSIENT;
            } else {
                output = row ? row : json_object();
                json_object_set_new(output, "created", json_boolean(created));
                result = OK;
            }
        }
        if (result != TRANSIENT || attempt >= attempts)
            break;
        long wait = backoff << (attempt - 1);
        usleep((useconds_t)(wait > 30000 ? 30000 : wait) * 1000);
    }
    if (result != OK) {
        json_decref(output);
        return fail_step(x, path, kind, input, err, started, t0, attempt);
    }
    set_output(x, id, output);
    int rc = record(
        x,
        make_record(path, kind, "succeeded", input, output, NULL, started, mono_ms() - t0, attempt),
        side);
    return rc ? -1 : 0;
}

static int exec_step(exec_t *x, const json_t *step, const char *prefix, int depth)
{
    const char *id = str(step, "id");
    const char *kind = sl__step_kind(step);
    char path[1024];
    sl__path_fmt(path, sizeof path, "%s%s", prefix, id);
    if (!strcmp(kind, "loop")) {
        long long started = now_ms();
        double t0 = mono_ms();
        char err[1024];
        json_t *items = eval_field(x, json_object_get(step, "loop"), err, sizeof err);
        if (!items)
            return fail_step(x, path, kind, json_incref(json_object_get(step, "loop")), err,
                             started, t0, 1);
        if (json_is_null(items)) {
            json_decref(items);
            items = json_array();
        }
        if (!json_is_array(items) || json_array_size(items) > MAX_LOOP_ITEMS) {
            snprintf(err, sizeof err, "loop `%s` gives %s, not a list (of at most %d items)",
                     json_string_value(json_object_get(step, "loop")) ?: "",
                     json_is_array(items) ? "too many items" : "a single value", MAX_LOOP_ITEMS);
            json_decref(items);
            return fail_step(x, path, kind, json_incref(json_object_get(step, "loop")), err,
                             started, t0, 1);
        }
        size_t n = json_array_size(items);
        for (size_t i = 0; i < n; i++) {
            json_t *item = json_array_get(items, i);
            json_t *cur = json_pack("{s:O,s:I}", "value", item, "index", (json_int_t)i);
            set_output(x, id, cur);
            json_decref(cur);
            json_object_set(x->ctx, "item", item);
            json_object_set_new(x->ctx, "index", json_integer((json_int_t)i));
            char sub[1100];
            sl__path_fmt(sub, sizeof sub, "%s[%zu].", path, i);
            int rc = exec_steps(x, json_object_get(step, "steps"), sub, depth + 1);
            if (rc) {
                json_decref(items);
                return rc;
            }
        }
        json_decref(items);
        json_object_del(x->ctx, "item");
        json_object_del(x->ctx, "index");
        json_t *out = json_pack("{s:I}", "count", (json_int_t)n);
        set_output(x, id, out);
        if (!json_object_get(x->done, path))
            record(x,
                   make_record(path, kind, "succeeded", json_incref(json_object_get(step, "loop")),
                               json_incref(out), NULL, started, mono_ms() - t0, 1),
                   0);
        json_decref(out);
        return 0;
    }
    if (!strcmp(kind, "if")) {
        long long started = now_ms();
        double t0 = mono_ms();
        char err[1024];
        json_t *v = eval_field(x, json_object_get(step, "if"), err, sizeof err);
        if (!v)
            return fail_step(x, path, kind, json_incref(json_object_get(step, "if")), err, started,
                             t0, 1);
        int yes = sl__expr_truthy(v);
        json_decref(v);
        json_t *out = json_pack("{s:b,s:s}", "condition", yes, "branch", yes ? "then" : "else");
        set_output(x, id, out);
        if (!json_object_get(x->done, path))
            record(x,
                   make_record(path, kind, "succeeded", json_incref(json_object_get(step, "if")),
                               json_incref(out), NULL, started, mono_ms() - t0, 1),
                   0);
        json_decref(out);
        const json_t *branch = json_object_get(step, yes ? "then" : "else");
        if (!branch)
            return 0;
        char sub[1100];
        sl__path_fmt(sub, sizeof sub, "%s.%s.", path, yes ? "then" : "else");
        return exec_steps(x, branch, sub, depth + 1);
    }
    return exec_leaf(x, step, kind, id, path);
}

static int exec_steps(exec_t *x, const json_t *steps, const char *prefix, int depth)
{
    for (size_t i = 0; i < json_array_size(steps); i++) {
        int rc = exec_step(x, json_array_get(steps, i), prefix, depth);
        if (rc)
            return rc;
    }
    return 0;
}

/* --- runs ------------------------------------------------------------------------------------- */

static const sl_flow_t *flow_named(sl_engine_t *e, const char *name, size_t *index)
{
    for (size_t i = 0; i < e->cfg.flows->n; i++)
        if (strcmp(e->cfg.flows->v[i].name, name) == 0) {
            if (index)
                *index = i;
            return &e->cfg.flows->v[i];
        }
    return NULL;
}

sl_err sl__engine_execute(sl_engine_t *e, json_t *run, char *err, size_t errlen)
{
    sl_store_t *s = e->cfg.store;
    const char *run_id = str(run, "id");
    const sl_flow_t *flow = flow_named(e, str(run, "flow") ?: "", NULL);
    if (!flow) {
        snprintf(err, errlen, "flow `%s` is not loaded (was its file removed or renamed?)",
                 str(run, "flow") ?: "");
        s->ops->run_set_status(s, run_id, "failed", err, NULL, NULL, 0);
        return SL_ENOTFOUND;
    }
    /* The trigger: the stored event, or the manual input / schedule time. */
    json_t *trigger = NULL;
    const char *event_id = str(run, "event_id");
    if (event_id) {
        sl_event_row_t row;
        if (s->ops->event_get(s, event_id, &row, err, errlen) == SL_OK)
            trigger = json_loads(row.payload ? row.payload : "null", JSON_DECODE_ANY, NULL);
        sl_event_row_cleanup(&row);
        if (!trigger) {
            s->ops->run_set_status(s, run_id, "failed", err, NULL, NULL, 0);
            return SL_ENOTFOUND;
        }
    } else {
        trigger = json_incref(json_object_get(run, "input"));
        if (!trigger)
            trigger = json_object();
    }
    exec_t x = {0};
    x.e = e;
    x.flow = flow;
    x.run_id = run_id;
    x.pure = json_array();
    x.done = json_object();
    x.ctx = json_pack("{s:o,s:O,s:{},s:{s:s,s:O},s:{s:s,s:s}}", "trigger", trigger, "input",
                      json_object_get(run, "input") ?: json_null(), "steps", "run", "id", run_id,
                      "attempt", json_object_get(run, "attempt") ?: json_null(), "flow", "name",
                      flow->name, "connection", flow->connection);
    /* $.env: the environment variables meant for flows (SLUICE_FLOW_*), nothing else. */
    json_t *env = json_object();
    for (char **v = environ; v && *v; v++)
        if (strncmp(*v, "SLUICE_FLOW_", 12) == 0 && strchr(*v, '=')) {
            char name[256];
            snprintf(name, sizeof name, "%.*s", (int)(strchr(*v, '=') - *v), *v);
            json_object_set_new(env, name, json_string(strchr(*v, '=') + 1));
        }
    json_object_set_new(x.ctx, "env", env);
    json_t *steps = NULL;
    if (s->ops->steps_get(s, run_id, &steps, err, errlen) == SL_OK)
        for (size_t i = 0; i < json_array_size(steps); i++) {
            json_t *r = json_array_get(steps, i);
            if (!strcmp(str(r, "status") ?: "", "succeeded"))
                json_object_set(x.done, str(r, "path"), r);
        }
    json_decref(steps);
    int rc = exec_steps(&x, json_object_get(flow->def, "steps"), "", 0);
    if (flush_pure(&x))
        rc = -1;
    const char *status = rc < 0 ? "failed" : x.filtered ? "filtered" : "succeeded";
    s->ops->run_set_status(s, run_id, status, rc < 0 ? x.error : NULL,
                           rc < 0 && x.failed[0] ? x.failed : NULL, err, errlen);
    if (e->cfg.log_runs)
        sl__log(rc < 0 ? "warn" : "info", "run finished",
                json_pack("{s:s,s:s,s:s,s:s?}", "run", run_id, "flow", flow->name, "status", status,
                          "error", rc < 0 ? x.error : NULL));
    json_object_set_new(run, "status", json_string(status));
    json_decref(x.ctx);
    json_decref(x.done);
    json_decref(x.pure);
    if (rc < 0)
        snprintf(err, errlen, "%s%s%s", x.failed[0] ? x.failed : "", x.failed[0] ? ": " : "",
                 x.error);
    return rc < 0 ? SL_EINTERNAL : SL_OK;
}

sl_err sl__engine_queue(sl_engine_t *e, const char *flow, const char *event_id, const json_t *input,
                        char *run_id, size_t idlen, char *err, size_t errlen)
{
    const sl_flow_t *f = flow_named(e, flow, NULL);
    if (!f) {
        snprintf(err, errlen, "no flow `%s` (`sluice flows list` shows them)", flow);
        return SL_ENOTFOUND;
    }
    json_t *run = json_pack("{s:s,s:s?,s:s?,s:O?}", "flow", flow, "event_id", event_id,
                            "connection", f->connection[0] ? f->connection : NULL, "input", input);
    sl_err rc = e->cfg.store->ops->run_create(e->cfg.store, run, err, errlen);
    if (!rc && run_id)
        snprintf(run_id, idlen, "%s", str(run, "id"));
    json_decref(run);
    return rc;
}

int sl__engine_flow_enabled(sl_engine_t *e, const sl_flow_t *f)
{
    size_t i = (size_t)(f - e->cfg.flows->v);
    return i < e->cfg.flows->n ? __atomic_load_n(&e->enabled[i], __ATOMIC_RELAXED) : 0;
}

void sl__engine_refresh(sl_engine_t *e)
{
    for (size_t i = 0; i < e->cfg.flows->n; i++) {
        int on = -1;
        char err[256];
        if (e->cfg.store->ops->flow_enabled_get(e->cfg.store, e->cfg.flows->v[i].name, &on, err,
                                                sizeof err))
            continue;
        __atomic_store_n(&e->enabled[i], on < 0 ? e->cfg.flows->v[i].enabled_default : on,
                         __ATOMIC_RELAXED);
    }
}

void sl__engine_flows_for(sl_engine_t *e, const char *type, const char *connection, json_t *flows)
{
    for (size_t i = 0; i < e->cfg.flows->n; i++) {
        const sl_flow_t *f = &e->cfg.flows->v[i];
        if (__atomic_load_n(&e->enabled[i], __ATOMIC_RELAXED) &&
            sl__flow_wants(f, type, connection))
            json_array_append_new(flows, json_string(f->name));
    }
}

/* Called inside the store's transaction: no store calls here. */
static void route(void *ctx, const sl_event_in_t *ev, json_t *flows)
{
    sl__engine_flows_for(ctx, ev->type, ev->connection, flows);
}

static void on_runs(void *ctx)
{
    sl_engine_t *e = ctx;
    pthread_mutex_lock(&e->lock);
    e->pending++;
    pthread_cond_broadcast(&e->wake);
    pthread_mutex_unlock(&e->lock);
}

static void *worker(void *arg)
{
    sl_engine_t *e = arg;
    for (;;) {
        pthread_mutex_lock(&e->lock);
        int stop = e->stopping;
        pthread_mutex_unlock(&e->lock);
        if (stop)
            break;
        json_t *runs = NULL;
        char err[512];
        if (e->cfg.store->ops->runs_claim(e->cfg.store, 1, &runs, err, sizeof err) == SL_OK &&
            json_array_size(runs)) {
            char xerr[1024];
            sl__engine_execute(e, json_array_get(runs, 0), xerr, sizeof xerr);
            json_decref(runs);
            continue;
        }
        json_decref(runs);
        pthread_mutex_lock(&e->lock);
        if (!e->stopping && !e->pending) {
            struct timespec until;
            clock_gettime(CLOCK_REALTIME, &until);
            until.tv_nsec += 500 * 1000000L;
            if (until.tv_nsec >= 1000000000L) {
                until.tv_sec++;
                until.tv_nsec -= 1000000000L;
            }
            pthread_cond_timedwait(&e->wake, &e->lock, &until);
        }
        if (e->pending)
            e->pending--;
        pthread_mutex_unlock(&e->lock);
    }
    return NULL;
}

int sl__engine_schedule_tick(sl_engine_t *e, time_t now)
{
    int queued = 0;
    time_t minute = now - now % 60;
    for (size_t i = 0; i < e->cfg.flows->n; i++) {
        const sl_flow_t *f = &e->cfg.flows->v[i];
        if (f->trigger != SL_TRIGGER_SCHEDULE || !sl__engine_flow_enabled(e, f))
            continue;
        char key[200], err[256];
        snprintf(key, sizeof key, "schedule:%s", f->name);
        long long last = 0;
        sl_err rc = e->cfg.store->ops->cursor_get(e->cfg.store, key, &last, err, sizeof err);
        if (rc == SL_ENOTFOUND)
            last = minute - 60; /* a new schedule starts with the current minute */
        else if (rc)
            continue;
        if (last >= minute)
            continue;
        /* Missed minutes (sluice was down) fire once, for the latest of them. */
        time_t fire = 0;
        for (time_t t = minute; t > last && t > minute - 7 * 86400; t -= 60)
            if (sl__cron_matches(&f->cron, t)) {
                fire = t;
                break;
            }
        if (fire) {
            json_t *input =
                json_pack("{s:I,s:s}", "scheduled_at", (json_int_t)fire, "schedule", f->cron_text);
            if (sl__engine_queue(e, f->name, NULL, input, NULL, 0, err, sizeof err) == SL_OK)
                queued++;
            json_decref(input);
        }
        e->cfg.store->ops->cursor_put(e->cfg.store, key, minute, err, sizeof err);
    }
    return queued;
}

static void *scheduler(void *arg)
{
    sl_engine_t *e = arg;
    for (int tick = 0;; tick++) {
        pthread_mutex_lock(&e->lock);
        if (!e->stopping) {
            struct timespec until;
            clock_gettime(CLOCK_REALTIME, &until);
            until.tv_sec += 1;
            pthread_cond_timedwait(&e->wake, &e->lock, &until);
        }
        int stop = e->stopping;
        pthread_mutex_unlock(&e->lock);
        if (stop)
            break;
        sl__engine_refresh(e); /* `sluice flows disable` in another process */
        sl__engine_schedule_tick(e, time(NULL));
    }
    return NULL;
}

sl_err sl__engine_start(const sl_engine_config_t *cfg, sl_engine_t **out, char *err, size_t errlen)
{
    *out = NULL;
    sl_engine_t *e = calloc(1, sizeof *e);
    if (!e)
        return SL_ENOMEM;
    e->cfg = *cfg;
    if (e->cfg.retry_base_ms <= 0)
        e->cfg.retry_base_ms = 500;
    e->enabled = calloc(cfg->flows->n ? cfg->flows->n : 1, sizeof *e->enabled);
    pthread_mutex_init(&e->lock, NULL);
    pthread_cond_init(&e->wake, NULL);
    sl__engine_refresh(e);
    if (cfg->workers > 0) {
        long long n = 0;
        if (cfg->store->ops->runs_requeue_running(cfg->store, &n, err, errlen)) {
            sl__engine_stop(e);
            return SL_EIO;
        }
        if (n)
            sl__log("notice", "resuming runs cut off by a stop",
                    json_pack("{s:I}", "runs", (json_int_t)n));
        cfg->store->router = route;
        cfg->store->router_ctx = e;
        cfg->store->on_runs = on_runs;
        cfg->store->on_runs_ctx = e;
        e->threads = calloc((size_t)cfg->workers, sizeof *e->threads);
        for (int i = 0; i < cfg->workers; i++)
            if (pthread_create(&e->threads[i], NULL, worker, e) == 0)
                e->nthreads++;
    }
    if (cfg->scheduler && pthread_create(&e->sched, NULL, scheduler, e) == 0)
        e->have_sched = 1;
    *out = e;
    return SL_OK;
}

void sl__engine_stop(sl_engine_t *e)
{
    if (!e)
        return;
    if (e->cfg.store->router_ctx == e) {
        e->cfg.store->router = NULL;
        e->cfg.store->on_runs = NULL;
    }
    pthread_mutex_lock(&e->lock);
    e->stopping = 1;
    pthread_cond_broadcast(&e->wake);
    pthread_mutex_unlock(&e->lock);
    for (int i = 0; i < e->nthreads; i++)
        pthread_join(e->threads[i], NULL);
    if (e->have_sched)
        pthread_join(e->sched, NULL);
    for (size_t i = 0; i < e->nclients; i++)
        sl_client_free(e->clients[i].client);
    free(e->threads);
    free(e->enabled);
    pthread_mutex_destroy(&e->lock);
    pthread_cond_destroy(&e->wake);
    free(e);
}
