/* The dashboard's API calls against a big store: fills it with N events and their N runs (once;
 * a store that has them is reused), then times each call the pages make, answered by the REST
 * API's own handler (server time, no HTTP), and prints p50 and p99.
 *
 *   build/bench/dashboard_bench [--store URI] [--events N] [--rounds R]
 *
 * The store defaults to sqlite:/tmp/sluice-dashboard-bench.db; N to 1,000,000; R to 50. Each
 * event starts one run; about 1% of the runs fail and 1% are filtered, the rest succeed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/clock.h"
#include "core/crypt.h"
#include "flow/engine.h"
#include "http/api.h"
#include "store/store.h"

static const char *const types[] = {
    "invoice.paid",     "invoice.created",        "invoice.finalized", "customer.created",
    "customer.updated", "payment_intent.created", "charge.succeeded",  "checkout.session.completed",
    "product.updated",  "invoice.payment_failed"};
#define NTYPES (sizeof types / sizeof *types)

static int die(const char *what, const char *err)
{
    fprintf(stderr, "dashboard_bench: %s: %s\n", what, err);
    return 1;
}

/* Events in batches of 2000, each queueing a run of flow-a or flow-b. */
static int fill_events(sl_store_t *s, long long n, long long base_ms)
{
    enum { BATCH = 2000 };
    static char ids[BATCH][32], payloads[BATCH][400];
    sl_event_in_t ev[BATCH];
    int fresh[BATCH];
    static const char *const fa[] = {"flow-a"}, *const fb[] = {"flow-b"};
    char err[1024];
    for (long long done = 0; done < n;) {
        size_t k = 0;
        for (; k < BATCH && done < n; k++, done++) {
            const char *type = types[done % NTYPES];
            snprintf(ids[k], sizeof ids[k], "evt_%012lld", done);
            int len =
                snprintf(payloads[k], sizeof payloads[k],
                         "{\"id\":\"%s\",\"object\":\"event\",\"type\":\"%s\",\"created\":%lld,"
                         "\"data\":{\"object\":{\"id\":\"cus_%08lld\",\"object\":\"customer\","
                         "\"email\":\"c%lld@example.com\"}}}",
                         ids[k], type, (base_ms + done * 10) / 1000, done % 200000, done);
            ev[k] = (sl_event_in_t){.id = ids[k],
                                    .connection = done % 4 ? "shop" : "platform",
                                    .type = type,
                                    .source = done % 10 ? "webhook" : "catch-up",
                                    .payload = payloads[k],
                                    .payload_len = (size_t)len,
                                    .created = (base_ms + done * 10) / 1000,
                                    .received_ms = base_ms + done * 10,
                                    .flows = done % 2 ? fa : fb,
                                    .nflows = 1};
        }
        if (sl_store_events_insert(s, ev, k, fresh, err, sizeof err))
            return die("inserting events", err);
        if (done % 100000 == 0)
            fprintf(stderr, "  %lld events\n", done);
    }
    return 0;
}

/* The queued runs claimed and finished in batches: ~1% failed, ~1% filtered. */
static int finish_runs(sl_store_t *s)
{
    char err[1024];
    long long seen = 0;
    for (;;) {
        json_t *runs = NULL;
        if (sl_store_runs_claim(s, "bench", 600000, 2000, &runs, err, sizeof err))
            return die("claiming runs", err);
        size_t n = json_array_size(runs);
        if (!n) {
            json_decref(runs);
            return 0;
        }
        sl_run_finish_t *f = calloc(n, sizeof *f);
        for (size_t i = 0; i < n; i++, seen++) {
            const char *id = json_string_value(json_object_get(json_array_get(runs, i), "id"));
            int failed = seen % 100 == 7, filtered = seen % 100 == 13;
            f[i] = (sl_run_finish_t){.id = id,
                                     .status = failed     ? "failed"
                                               : filtered ? "filtered"
                                                          : "succeeded",
                                     .error = failed ? "the receiver answered HTTP 503" : NULL,
                                     .failed_step = failed ? "tell" : NULL};
        }
        sl_err rc = sl_store_runs_finish(s, "bench", f, n, NULL, err, sizeof err);
        free(f);
        json_decref(runs);
        if (rc)
            return die("finishing runs", err);
        if (seen % 100000 < 2000)
            fprintf(stderr, "  %lld runs finished\n", seen);
    }
}

/* A request's query: "k=v&k=v". */
typedef struct query {
    char k[8][32];
    char v[8][160];
    int n;
} query_t;

static const char *arg_of(void *conn, const char *name)
{
    query_t *q = conn;
    for (int i = 0; i < q->n; i++)
        if (!strcmp(q->k[i], name))
            return q->v[i];
    return NULL;
}

static void parse_query(const char *text, query_t *q)
{
    q->n = 0;
    char buf[512];
    snprintf(buf, sizeof buf, "%s", text);
    for (char *save = NULL, *kv = strtok_r(buf, "&", &save); kv && q->n < 8;
         kv = strtok_r(NULL, "&", &save)) {
        char *eq = strchr(kv, '=');
        if (!eq)
            continue;
        *eq = '\0';
        snprintf(q->k[q->n], sizeof q->k[0], "%s", kv);
        snprintf(q->v[q->n], sizeof q->v[0], "%s", eq + 1);
        q->n++;
    }
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void time_call(sl_api_t *api, const char *label, const char *path, const char *query,
                      int rounds)
{
    double *ms = calloc((size_t)rounds, sizeof *ms);
    query_t q;
    parse_query(query, &q);
    unsigned status = 0;
    size_t items = 0;
    for (int r = 0; r < rounds; r++) {
        json_t *out = NULL;
        double t0 = sl__mono_ms();
        status = sl__api_handle(api, "GET", path, NULL, 0, arg_of, &q, &out);
        ms[r] = sl__mono_ms() - t0;
        json_t *list = json_object_get(out, "events") ?: json_object_get(out, "runs");
        items = json_is_array(list) ? json_array_size(list) : 0;
        json_decref(out);
    }
    qsort(ms, (size_t)rounds, sizeof *ms, cmp_double);
    printf("%-44s %4u %4zu %9.2f %9.2f\n", label, status, items, ms[rounds / 2],
           ms[(rounds * 99) / 100 < rounds ? (rounds * 99) / 100 : rounds - 1]);
    free(ms);
}

int main(int argc, char **argv)
{
    const char *uri = "sqlite:/tmp/sluice-dashboard-bench.db";
    long long n = 1000000;
    int rounds = 50;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--store"))
            uri = argv[i + 1];
        else if (!strcmp(argv[i], "--events"))
            n = atoll(argv[i + 1]);
        else if (!strcmp(argv[i], "--rounds"))
            rounds = atoi(argv[i + 1]);
    }
    char err[1024];
    sl_store_t *s = NULL;
    if (sl_store_open(uri, &s, err, sizeof err))
        return die("opening the store", err);
    long long have = 0;
    sl_store_events_count(s, &have, err, sizeof err);
    long long base_ms = sl__now_ms() - n * 10;
    if (have < n) {
        fprintf(stderr, "filling %s with %lld events and their runs\n", sl_store_kind(s), n - have);
        double t0 = sl__mono_ms();
        if (fill_events(s, n - have, base_ms) || finish_runs(s))
            return 1;
        fprintf(stderr, "filled in %.1f s\n", (sl__mono_ms() - t0) / 1000);
    }
    /* An engine without workers: the API reads the flows' settings through it. */
    char dir[] = "/tmp/sluice-bench-XXXXXX";
    sl_crypt_t crypt;
    sl_flows_t flows = {0};
    sl_engine_t *engine = NULL;
    if (!mkdtemp(dir) || sl__crypt_init(&crypt, dir, err, sizeof err))
        return die("a master key", "cannot make one");
    sl_engine_config_t ecfg = {.store = s, .crypt = &crypt, .flows = &flows};
    if (sl__engine_start(&ecfg, &engine, err, sizeof err))
        return die("starting the engine", err);
    sl_api_t api;
    sl__api_init(&api, s, engine, &flows);

    /* A page in the middle of the inbox and of the runs, and an event and a run to open. */
    json_t *page = NULL;
    query_t q;
    parse_query("limit=500", &q);
    sl__api_handle(&api, "GET", "/api/events", NULL, 0, arg_of, &q, &page);
    char before_ev[200] = "", before_run[200] = "", event_id[64] = "", run_id[64] = "";
    snprintf(before_ev, sizeof before_ev, "before=%s",
             json_string_value(json_object_get(page, "next")) ?: "");
    json_decref(page);
    parse_query("limit=500&status=failed", &q);
    sl__api_handle(&api, "GET", "/api/runs", NULL, 0, arg_of, &q, &page);
    snprintf(
        run_id, sizeof run_id, "%s",
        json_string_value(json_object_get(json_array_get(json_object_get(page, "runs"), 0), "id"))
            ?: "");
    snprintf(event_id, sizeof event_id, "%s",
             json_string_value(
                 json_object_get(json_array_get(json_object_get(page, "runs"), 0), "event_id"))
                 ?: "");
    json_decref(page);
    parse_query("limit=500", &q);
    sl__api_handle(&api, "GET", "/api/runs", NULL, 0, arg_of, &q, &page);
    snprintf(before_run, sizeof before_run, "before=%s",
             json_string_value(json_object_get(page, "next")) ?: "");
    json_decref(page);
    char path_ev[128], path_run[128], q_ev[128], q_since[128], q_runs_since[128];
    snprintf(path_ev, sizeof path_ev, "/api/events/%s", event_id);
    snprintf(path_run, sizeof path_run, "/api/runs/%s", run_id);
    snprintf(q_ev, sizeof q_ev, "event=%s&limit=100", event_id);
    long long hour_ago = sl__now_ms() - 3600 * 1000LL;
    snprintf(q_since, sizeof q_since, "since=%lld&limit=500", hour_ago);
    snprintf(q_runs_since, sizeof q_runs_since, "since=%lld&limit=500", hour_ago);

    printf("%lld events, %lld runs in %s; %d rounds each; server time in ms\n", n, n,
           sl_store_kind(s), rounds);
    printf("%-44s %4s %4s %9s %9s\n", "call", "http", "rows", "p50", "p99");
    time_call(&api, "overview", "/api/overview", "", rounds);
    time_call(&api, "overview: events of the last hour", "/api/events", q_since, rounds);
    time_call(&api, "overview: runs of the last hour", "/api/runs", q_runs_since, rounds);
    time_call(&api, "inbox", "/api/events", "limit=50", rounds);
    time_call(&api, "inbox, a page deep", "/api/events", before_ev, rounds);
    time_call(&api, "inbox type=invoice.paid", "/api/events", "type=invoice.paid&limit=50", rounds);
    time_call(&api, "inbox type=invoice.*", "/api/events", "type=invoice.*&limit=50", rounds);
    time_call(&api, "inbox type=payout.paid (none)", "/api/events", "type=payout.paid&limit=50",
              rounds);
    time_call(&api, "inbox type=payout.* (none)", "/api/events", "type=payout.*&limit=50",
              rounds > 5 ? 5 : rounds);
    time_call(&api, "inbox connection=platform", "/api/events", "connection=platform&limit=50",
              rounds);
    time_call(&api, "inbox source=catch-up", "/api/events", "source=catch-up&limit=50", rounds);
    time_call(&api, "inbox object=cus_00000042 (common)", "/api/events",
              "object=cus_00000042&limit=50", rounds);
    time_call(&api, "inbox object=cus_nosuch (none)", "/api/events", "object=cus_nosuch&limit=50",
              rounds > 5 ? 5 : rounds);
    time_call(&api, "event", path_ev, "", rounds);
    time_call(&api, "event: its runs", "/api/runs", q_ev, rounds);
    time_call(&api, "runs", "/api/runs", "limit=50", rounds);
    time_call(&api, "runs, a page deep", "/api/runs", before_run, rounds);
    time_call(&api, "runs status=failed", "/api/runs", "status=failed&limit=50", rounds);
    time_call(&api, "runs flow=flow-a", "/api/runs", "flow=flow-a&limit=50", rounds);
    time_call(&api, "runs flow=flow-a&status=failed", "/api/runs",
              "flow=flow-a&status=failed&limit=50", rounds);
    time_call(&api, "run", path_run, "", rounds);

    sl__api_cleanup(&api);
    sl__engine_stop(engine);
    sl__crypt_cleanup(&crypt);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "dashboard_bench: could not remove %s\n", dir);
    sl_store_close(s);
    return 0;
}
