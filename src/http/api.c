/* The REST API: see api.h. Every answer is JSON; errors are {"error": code, "message": ...}. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/rand.h>

#include "core/clock.h"
#include "core/utf8.h"
#include "http/api.h"

static unsigned fail(json_t **out, unsigned status, const char *code, const char *msg)
{
    *out = json_pack("{s:s,s:s}", "error", code, "message", msg);
    return status;
}

static json_t *flow_json(sl_api_t *api, const sl_flow_t *f)
{
    const char *trigger = f->trigger == SL_TRIGGER_MANUAL     ? "manual"
                          : f->trigger == SL_TRIGGER_SCHEDULE ? "schedule"
                                                              : "events";
    return json_pack("{s:s,s:s,s:O?,s:s?,s:s,s:b,s:s,s:I}", "name", f->name, "trigger", trigger,
                     "events", f->trigger == SL_TRIGGER_EVENTS ? f->events : NULL, "schedule",
                     f->trigger == SL_TRIGGER_SCHEDULE ? f->cron_text : NULL, "connection",
                     f->connection, "enabled", sl__engine_flow_enabled(api->engine, f), "file",
                     f->file, "steps",
                     (json_int_t)json_array_size(json_object_get(f->def, "steps")));
}

static json_t *event_json(const sl_event_row_t *r, int with_payload)
{
    json_t *ev = json_pack("{s:s,s:s,s:s,s:s,s:I,s:I}", "id", r->id, "connection", r->connection,
                           "type", r->type, "source", r->source, "created", (json_int_t)r->created,
                           "received_ms", (json_int_t)r->received_ms);
    if (with_payload && r->payload)
        json_object_set_new(ev, "payload", json_loads(r->payload, 0, NULL) ?: json_null());
    return ev;
}

static int collect_event(const sl_event_row_t *r, void *ctx)
{
    json_array_append_new(ctx, event_json(r, 0));
    return 0;
}

/* ?limit=, 1 to 500 (50 when absent or not a number). */
static size_t list_limit(sl_api_arg_fn arg, void *conn)
{
    const char *lim = arg(conn, "limit");
    long v = lim ? strtol(lim, NULL, 10) : 0;
    return v <= 0 ? 50 : v > 500 ? 500 : (size_t)v;
}

#define PAGE_ARGS_HELP                                                                             \
    "since and until are milliseconds since 1970; before is the `next` of the previous page "      \
    "(MS:ID)"

static int parse_ms(const char *v, long long *out)
{
    *out = 0;
    if (!v || !*v)
        return 0;
    char *end;
    long long n = strtoll(v, &end, 10);
    if (*end || n < 0)
        return -1;
    *out = n;
    return 0;
}

/* since, until and the keyset cursor before=MS:ID of a list; -1 when one is malformed. */
static int page_args(sl_api_arg_fn arg, void *conn, long long *since, long long *until,
                     long long *before_ms, char *before_id, size_t idlen)
{
    before_id[0] = '\0';
    *before_ms = 0;
    if (parse_ms(arg(conn, "since"), since) || parse_ms(arg(conn, "until"), until))
        return -1;
    const char *b = arg(conn, "before");
    if (!b || !*b)
        return 0;
    const char *colon = strchr(b, ':');
    char ms[24];
    if (!colon || colon == b || (size_t)(colon - b) >= sizeof ms || strlen(colon + 1) >= idlen ||
        !colon[1])
        return -1;
    snprintf(ms, sizeof ms, "%.*s", (int)(colon - b), b);
    if (parse_ms(ms, before_ms) || !*before_ms)
        return -1;
    snprintf(before_id, idlen, "%s", colon + 1);
    return 0;
}

static json_t *next_cursor(long long ms, const char *id)
{
    char buf[300];
    snprintf(buf, sizeof buf, "%lld:%s", ms, id ? id : "");
    return json_string(buf);
}

/* POST /api/runs/retry-failed?flow=&event=&since=&until=: every failed run the filter matches
 * back to the queue (at most 1000 a call; `more` says whether to call again). */
static unsigned retry_failed(sl_api_t *api, sl_api_arg_fn arg, void *conn, json_t **out)
{
    char err[1024];
    sl_run_filter_t f = {.flow = arg(conn, "flow"),
                         .status = "failed",
                         .event_id = arg(conn, "event"),
                         .limit = 1000};
    char before_id[2];
    if (page_args(arg, conn, &f.since_ms, &f.until_ms, &f.before_ms, before_id, sizeof before_id))
        return fail(out, 400, "bad_request", PAGE_ARGS_HELP);
    f.before_ms = 0;
    f.before_id = NULL;
    json_t *runs = NULL;
    if (sl_store_runs_list(api->store, &f, &runs, err, sizeof err))
        return fail(out, 500, "store", err);
    json_t *ids = json_array();
    size_t i;
    json_t *r;
    json_array_foreach(runs, i, r)
    {
        const char *id = json_string_value(json_object_get(r, "id"));
        if (!sl__run_requeue_failed(api->store, id, err, sizeof err))
            json_array_append_new(ids, json_string(id));
    }
    *out = json_pack("{s:o,s:b}", "retried", ids, "more", json_array_size(runs) == f.limit);
    json_decref(runs);
    return 202;
}

/* A connection as the dashboard shows it: never a key or secret, only what kind it is. */
static int collect_conn(const sl_conn_row_t *c, void *ctx)
{
    char masked[32];
    snprintf(masked, sizeof masked, "sk_%s_••••", c->mode[0] ? c->mode : "test");
    json_t *o = json_pack("{s:s,s:s,s:s,s:s,s:s?,s:s?,s:b,s:b,s:I}", "name", c->name, "mode",
                          c->mode, "account_id", c->account_id, "key", masked, "endpoint_id",
                          c->endpoint_id[0] ? c->endpoint_id : NULL, "endpoint_url",
                          c->endpoint_url[0] ? c->endpoint_url : NULL, "webhook_secret",
                          c->secret_sealed != NULL, "rotating", c->old_secret_sealed != NULL,
                          "created", (json_int_t)c->created);
    json_t *types = c->endpoint_events ? json_loads(c->endpoint_events, 0, NULL) : NULL;
    if (json_is_array(types))
        json_object_set_new(o, "endpoint_events", types);
    else
        json_decref(types);
    json_array_append_new(ctx, o);
    return 0;
}

/* Events and runs per bucket over a window ending with the current bucket, counted among the
 * newest ACTIVITY_CAP of each: {since_ms, bucket_ms, events, runs, events_counted,
 * runs_counted, cap}. */
#define ACTIVITY_CAP 25000
static json_t *activity(sl_store_t *s, long long bucket_ms, size_t n)
{
    char err[512];
    long long now = sl__now_ms(), since = (now / bucket_ms - (long long)n + 1) * bucket_ms;
    long long counts[2][60], total[2] = {0, 0};
    json_t *out = json_pack("{s:I,s:I,s:i}", "since_ms", (json_int_t)since, "bucket_ms",
                            (json_int_t)bucket_ms, "cap", ACTIVITY_CAP);
    for (int runs = 0; runs < 2 && n <= 60; runs++) {
        json_t *a = json_array();
        if (!sl_store_histogram(s, runs, since, bucket_ms, ACTIVITY_CAP, counts[runs], n,
                                &total[runs], err, sizeof err))
            for (size_t i = 0; i < n; i++)
                json_array_append_new(a, json_integer(counts[runs][i]));
        json_object_set_new(out, runs ? "runs" : "events", a);
        json_object_set_new(out, runs ? "runs_counted" : "events_counted",
                            json_integer(total[runs]));
    }
    return out;
}

/* GET /api/overview: the queue, the latest failures, each connection's last event, events and
 * runs per minute over the last hour and per hour over the last day. Each part is an indexed
 * query with a bound: nothing counts every event or run. */
static unsigned overview(sl_api_t *api, json_t **out)
{
    char err[1024];
    sl_store_t *s = api->store;
    long long depth = 0, oldest = -1;
    if (sl_store_runs_queue_stats(s, &depth, &oldest, err, sizeof err))
        return fail(out, 500, "store", err);
    sl_run_filter_t ff = {.status = "failed", .limit = 10};
    json_t *failed = NULL;
    if (sl_store_runs_list(s, &ff, &failed, err, sizeof err))
        return fail(out, 500, "store", err);
    json_t *conns = json_array();
    sl_store_conn_list(s, collect_conn, conns, err, sizeof err);
    size_t i;
    json_t *c;
    json_array_foreach(conns, i, c)
    {
        sl_event_filter_t ef = {.connection = json_string_value(json_object_get(c, "name")),
                                .limit = 1};
        json_t *last = json_array();
        sl_store_events_list(s, &ef, collect_event, last, err, sizeof err);
        json_object_set(c, "last_event",
                        json_array_size(last) ? json_array_get(last, 0) : json_null());
        json_decref(last);
    }
    *out =
        json_pack("{s:{s:I,s:I},s:o,s:o,s:{s:o,s:o}}", "queue", "depth", (json_int_t)depth,
                  "oldest_ms", (json_int_t)oldest, "latest_failures", failed, "connections", conns,
                  "activity", "hour", activity(s, 60000, 60), "day", activity(s, 3600000, 24));
    return 200;
}

void sl__api_init(sl_api_t *api, sl_store_t *store, sl_engine_t *engine, const sl_flows_t *flows)
{
    memset(api, 0, sizeof *api);
    api->store = store;
    api->engine = engine;
    api->flows = flows;
    pthread_rwlock_init(&api->lock, NULL);
}

void sl__api_cleanup(sl_api_t *api)
{
    pthread_rwlock_destroy(&api->lock);
    json_decref(api->load_errors);
}

void sl__api_swap(sl_api_t *api, sl_engine_t *engine, const sl_flows_t *flows, json_t *load_errors)
{
    pthread_rwlock_wrlock(&api->lock);
    api->engine = engine;
    api->flows = flows;
    json_decref(api->load_errors);
    api->load_errors = load_errors;
    pthread_rwlock_unlock(&api->lock);
}

static unsigned handle(sl_api_t *api, const char *method, const char *url, const char *body,
                       size_t len, sl_api_arg_fn arg, void *conn, json_t **out);

unsigned sl__api_handle(sl_api_t *api, const char *method, const char *url, const char *body,
                        size_t len, sl_api_arg_fn arg, void *conn, json_t **out)
{
    pthread_rwlock_rdlock(&api->lock);
    unsigned status = api->engine && api->flows
                          ? handle(api, method, url, body, len, arg, conn, out)
                          : fail(out, 503, "starting", "the flows are still loading: try again");
    pthread_rwlock_unlock(&api->lock);
    return status;
}

int sl__api_split(const char *path, char seg[SL_API_SEGS][256])
{
    int n = 0;
    for (int i = 0; i < SL_API_SEGS; i++)
        seg[i][0] = '\0';
    for (const char *p = path; n < SL_API_SEGS;) {
        while (*p == '/')
            p++;
        if (!*p)
            break;
        size_t k = strcspn(p, "/");
        if (k >= sizeof seg[0])
            return -1; /* no flow, run or event is named that long: not cut to one that is */
        memcpy(seg[n], p, k);
        seg[n++][k] = '\0';
        p += k;
    }
    return n;
}

json_t *sl__api_run_input(const char *body, size_t len, char *err, size_t errlen)
{
    json_error_t jerr;
    json_t *input = len ? json_loadb(body, len, JSON_DECODE_ANY, &jerr) : json_object();
    if (!input) {
        snprintf(err, errlen, "the body is not JSON: %s", jerr.text);
        sl__utf8_mend(err); /* jansson quotes the bytes near the error, half characters too */
    }
    return input;
}

static unsigned handle(sl_api_t *api, const char *method, const char *url, const char *body,
                       size_t len, sl_api_arg_fn arg, void *conn, json_t **out)
{
    char seg[SL_API_SEGS][256];
    int n = sl__api_split(url + 5, seg); /* after "/api/" */
    if (n < 0)
        return fail(out, 404, "not_found", "no such resource (a path segment is too long)");
    int get = strcmp(method, "GET") == 0, post = strcmp(method, "POST") == 0;
    char err[1024];
    sl_store_t *s = api->store;
    if (!strcmp(seg[0], "flows")) {
        if (n == 1 && get) {
            json_t *all = json_array();
            for (size_t i = 0; i < api->flows->n; i++)
                json_array_append_new(all, flow_json(api, &api->flows->v[i]));
            *out = json_pack("{s:o}", "flows", all);
            if (api->load_errors && json_array_size(api->load_errors))
                json_object_set(*out, "load_errors", api->load_errors);
            return 200;
        }
        const sl_flow_t *f = n >= 2 ? sl__flows_find(api->flows, seg[1]) : NULL;
        if (!f)
            return fail(out, 404, "not_found", "no such flow");
        if (n == 2 && get) {
            *out = flow_json(api, f);
            json_object_set(*out, "definition", f->def);
            return 200;
        }
        if (n == 3 && post && (!strcmp(seg[2], "enable") || !strcmp(seg[2], "disable"))) {
            if (sl_store_flow_enabled_put(s, f->name, !strcmp(seg[2], "enable"), err, sizeof err))
                return fail(out, 500, "store", err);
            sl__engine_refresh(api->engine);
            *out = flow_json(api, f);
            return 200;
        }
        if (n == 3 && post && !strcmp(seg[2], "run")) {
            json_t *input = sl__api_run_input(body, len, err, sizeof err);
            if (!input)
                return fail(out, 400, "bad_request", err);
            char run_id[64];
            sl_err rc = sl__engine_queue(api->engine, f->name, NULL, input, run_id, sizeof run_id,
                                         err, sizeof err);
            json_decref(input);
            if (rc)
                return fail(out, 500, "store", err);
            *out = json_pack("{s:s,s:s}", "run", run_id, "status", "queued");
            return 202;
        }
        return fail(out, 405, "method_not_allowed", "see the README's REST API section");
    }
    if (!strcmp(seg[0], "runs")) {
        if (n == 1 && get) {
            sl_run_filter_t f = {.flow = arg(conn, "flow"),
                                 .status = arg(conn, "status"),
                                 .event_id = arg(conn, "event"),
                                 .limit = list_limit(arg, conn)};
            char before_id[128];
            if (page_args(arg, conn, &f.since_ms, &f.until_ms, &f.before_ms, before_id,
                          sizeof before_id))
                return fail(out, 400, "bad_request", PAGE_ARGS_HELP);
            f.before_id = before_id;
            json_t *runs = NULL;
            if (sl_store_runs_list(s, &f, &runs, err, sizeof err))
                return fail(out, 500, "store", err);
            json_t *last = json_array_get(runs, json_array_size(runs) - 1);
            *out =
                json_pack("{s:o,s:o}", "runs", runs, "next",
                          json_array_size(runs) == f.limit
                              ? next_cursor(json_integer_value(json_object_get(last, "created_ms")),
                                            json_string_value(json_object_get(last, "id")))
                              : json_null());
            return 200;
        }
        if (n == 2 && post && !strcmp(seg[1], "retry-failed"))
            return retry_failed(api, arg, conn, out);
        json_t *run = NULL;
        if (n >= 2 && sl_store_run_get(s, seg[1], &run, err, sizeof err))
            return fail(out, 404, "not_found", err);
        if (n == 2 && get) {
            json_t *steps = NULL;
            sl_store_steps_get(s, seg[1], &steps, err, sizeof err);
            json_object_set_new(run, "steps", steps ? steps : json_array());
            *out = run;
            return 200;
        }
        if (n == 3 && post && !strcmp(seg[2], "retry")) {
            json_decref(run);
            sl_err rc = sl__run_requeue_failed(s, seg[1], err, sizeof err);
            if (rc == SL_EINVAL)
                return fail(out, 409, "not_failed", "only a failed run is retried");
            if (rc)
                return fail(out, 500, "store", err);
            *out = json_pack("{s:s,s:s}", "run", seg[1], "status", "queued");
            return 202;
        }
        json_decref(run);
        return fail(out, 405, "method_not_allowed", "see the README's REST API section");
    }
    if (!strcmp(seg[0], "events")) {
        if (n == 1 && get) {
            sl_event_filter_t f = {.type = arg(conn, "type"),
                                   .connection = arg(conn, "connection"),
                                   .limit = list_limit(arg, conn),
                                   .source = arg(conn, "source"),
                                   .object_id = arg(conn, "object")};
            char before_id[128];
            if (page_args(arg, conn, &f.since_ms, &f.until_ms, &f.before_ms, before_id,
                          sizeof before_id))
                return fail(out, 400, "bad_request", PAGE_ARGS_HELP);
            f.before_id = before_id;
            if (f.object_id && !*f.object_id)
                f.object_id = NULL;
            if (f.source && !*f.source)
                f.source = NULL;
            if (f.connection && !*f.connection)
                f.connection = NULL;
            json_t *all = json_array();
            if (sl_store_events_list(s, &f, collect_event, all, err, sizeof err)) {
                json_decref(all);
                return fail(out, 500, "store", err);
            }
            json_t *last = json_array_get(all, json_array_size(all) - 1);
            *out = json_pack(
                "{s:o,s:o}", "events", all, "next",
                json_array_size(all) == f.limit
                    ? next_cursor(json_integer_value(json_object_get(last, "received_ms")),
                                  json_string_value(json_object_get(last, "id")))
                    : json_null());
            return 200;
        }
        sl_event_row_t row;
        if (n >= 2 && sl_store_event_get(s, seg[1], &row, err, sizeof err))
            return fail(out, 404, "not_found", "no such event in the inbox");
        if (n == 2 && get) {
            *out = event_json(&row, 1);
            sl_event_row_cleanup(&row);
            return 200;
        }
        if (n == 3 && post && !strcmp(seg[2], "replay")) {
            sl_event_row_cleanup(&row);
            json_t *runs = NULL;
            if (sl__engine_replay(api->engine, seg[1], &runs, err, sizeof err)) {
                json_decref(runs);
                return fail(out, 500, "store", err);
            }
            *out = json_pack("{s:o}", "runs", runs);
            return 202;
        }
        sl_event_row_cleanup(&row);
        return fail(out, 405, "method_not_allowed", "see the README's REST API section");
    }
    if (!strcmp(seg[0], "connections") && n == 1 && get) {
        json_t *all = json_array();
        if (sl_store_conn_list(s, collect_conn, all, err, sizeof err)) {
            json_decref(all);
            return fail(out, 500, "store", err);
        }
        *out = json_pack("{s:o}", "connections", all);
        return 200;
    }
    if (!strcmp(seg[0], "overview") && n == 1 && get)
        return overview(api, out);
    if (!strcmp(seg[0], "contacts") && n == 1 && get) {
        json_t *all = NULL;
        if (sl_store_contacts_list(s, &all, err, sizeof err))
            return fail(out, 500, "store", err);
        *out = json_pack("{s:o}", "contacts", all);
        return 200;
    }
    return fail(out, 404, "not_found",
                "the API has /api/flows, /api/runs, /api/events, /api/connections, "
                "/api/contacts and /api/overview");
}

int sl__api_token(const char *data_dir, char *out, size_t n, int *made, char *err, size_t errlen)
{
    *made = 0;
    const char *env = getenv("SLUICE_ADMIN_TOKEN");
    if (env && *env) {
        if (strlen(env) < 16) {
            snprintf(err, errlen, "SLUICE_ADMIN_TOKEN must be at least 16 characters");
            return -1;
        }
        snprintf(out, n, "%s", env);
        return 0;
    }
    char path[4200];
    snprintf(path, sizeof path, "%s/admin.token", data_dir);
    int rfd = open(path, O_RDONLY | O_CLOEXEC);
    if (rfd < 0 && errno != ENOENT) {
        snprintf(err, errlen, "cannot read the admin token %s: %s", path, strerror(errno));
        return -1;
    }
    if (rfd >= 0) {
        /* As the master key (core/crypt.c): whoever reads it runs every flow and reads every
         * event, so a file others may read is refused, not used. */
        struct stat st;
        if (fstat(rfd, &st) || (st.st_mode & 077)) {
            close(rfd);
            snprintf(err, errlen, "the admin token %s may be read by others: chmod 600 it", path);
            return -1;
        }
        char line[256] = "";
        ssize_t got = read(rfd, line, sizeof line - 1);
        close(rfd);
        line[got > 0 ? got : 0] = '\0';
        line[strcspn(line, "\r\n")] = '\0';
        if (strlen(line) >= 16) {
            snprintf(out, n, "%s", line);
            return 0;
        }
    }
    unsigned char raw[24];
    if (RAND_bytes(raw, sizeof raw) != 1) {
        snprintf(err, errlen, "no randomness for the admin token");
        return -1;
    }
    char tok[64] = "sla_";
    for (size_t i = 0; i < sizeof raw; i++)
        snprintf(tok + 4 + 2 * i, 3, "%02x", raw[i]);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0 || write(fd, tok, strlen(tok)) != (ssize_t)strlen(tok) || fsync(fd)) {
        snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    close(fd);
    snprintf(out, n, "%s", tok);
    *made = 1;
    return 0;
}
