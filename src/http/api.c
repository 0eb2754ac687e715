/* The REST API: see api.h. Every answer is JSON; errors are {"error": code, "message": ...}. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/rand.h>

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
    unsigned status = handle(api, method, url, body, len, arg, conn, out);
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
            const char *lim = arg(conn, "limit");
            sl_run_filter_t f = {arg(conn, "flow"), arg(conn, "status"), arg(conn, "event"),
                                 lim ? (size_t)strtoul(lim, NULL, 10) : 50};
            json_t *runs = NULL;
            if (sl_store_runs_list(s, &f, &runs, err, sizeof err))
                return fail(out, 500, "store", err);
            *out = json_pack("{s:o}", "runs", runs);
            return 200;
        }
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
            const char *lim = arg(conn, "limit");
            sl_event_filter_t f = {arg(conn, "type"), arg(conn, "connection"),
                                   lim ? (size_t)strtoul(lim, NULL, 10) : 50};
            json_t *all = json_array();
            if (sl_store_events_list(s, &f, collect_event, all, err, sizeof err)) {
                json_decref(all);
                return fail(out, 500, "store", err);
            }
            *out = json_pack("{s:o}", "events", all);
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
    if (!strcmp(seg[0], "contacts") && n == 1 && get) {
        json_t *all = NULL;
        if (sl_store_contacts_list(s, &all, err, sizeof err))
            return fail(out, 500, "store", err);
        *out = json_pack("{s:o}", "contacts", all);
        return 200;
    }
    return fail(out, 404, "not_found",
                "the API has /api/flows, /api/runs, /api/events and /api/contacts");
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
