/* Sealed secrets and the store, run against each backend: SQLite always, and PostgreSQL with
 * --pg (SLUICE_TEST_PG names a server that tests/support/with-pg.sh started; without it the
 * test fails rather than skipping). */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "core/clock.h"
#include "core/crypt.h"
#include "store/store.h"

static char dir[64];
static const char *pg_url; /* non-NULL: the PostgreSQL run */

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/sluice-test-XXXXXX");
    assert_non_null(mkdtemp(dir));
    unsetenv("SLUICE_MASTER_KEY");
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    return system(cmd);
}

static void test_seal_open(void **state)
{
    (void)state;
    sl_crypt_t c;
    char err[256];
    assert_int_equal(sl__crypt_init(&c, dir, err, sizeof err), SL_OK);
    char path[128];
    snprintf(path, sizeof path, "%s/master.key", dir);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(st.st_size, 32);

    char *sealed = NULL, *plain = NULL;
    assert_int_equal(sl__crypt_seal(&c, "sk_test_secret_value", "shop", &sealed), SL_OK);
    assert_null(strstr(sealed, "sk_test"));
    assert_int_equal(sl__crypt_open(&c, sealed, "shop", &plain), SL_OK);
    assert_string_equal(plain, "sk_test_secret_value");
    sl__crypt_free(plain);
    /* Bound to its connection, and tamper-evident. */
    assert_int_equal(sl__crypt_open(&c, sealed, "other", &plain), SL_EPARSE);
    sealed[10] = sealed[10] == 'A' ? 'B' : 'A';
    assert_int_equal(sl__crypt_open(&c, sealed, "shop", &plain), SL_EPARSE);
    assert_int_equal(sl__crypt_open(&c, "plaintext", "shop", &plain), SL_EPARSE);
    free(sealed);

    /* The same key file opens it again; another key does not. */
    sl_crypt_t again;
    assert_int_equal(sl__crypt_init(&again, dir, err, sizeof err), SL_OK);
    assert_memory_equal(again.key, c.key, 32);
    assert_int_equal(sl__crypt_seal(&c, "x", NULL, &sealed), SL_OK);
    setenv("SLUICE_MASTER_KEY", "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff",
           1);
    sl_crypt_t env;
    assert_int_equal(sl__crypt_init(&env, dir, err, sizeof err), SL_OK);
    assert_int_equal(sl__crypt_open(&env, sealed, NULL, &plain), SL_EPARSE);
    free(sealed);
    setenv("SLUICE_MASTER_KEY", "too-short", 1);
    assert_int_equal(sl__crypt_init(&env, dir, err, sizeof err), SL_EINVAL);
    assert_non_null(strstr(err, "64 hex"));
    unsetenv("SLUICE_MASTER_KEY");

    chmod(path, 0644);
    assert_int_equal(sl__crypt_init(&again, dir, err, sizeof err), SL_EINVAL);
    assert_non_null(strstr(err, "chmod 600"));
    sl__crypt_cleanup(&c);
}

typedef struct count {
    int n;
    char first[128];
} count_t;

static int count_events(const sl_event_row_t *r, void *ctx)
{
    count_t *c = ctx;
    if (!c->n++)
        snprintf(c->first, sizeof c->first, "%s", r->id);
    return 0;
}

/* A fresh, empty store of the backend under test. */
static sl_store_t *fresh_store(void)
{
    char uri[512], err[512];
    if (pg_url) {
        char cmd[1024];
        snprintf(cmd, sizeof cmd,
                 "psql -q -X '%s' -c 'DROP SCHEMA public CASCADE; CREATE SCHEMA public;'"
                 " >/dev/null 2>&1",
                 pg_url);
        assert_int_equal(system(cmd), 0);
        snprintf(uri, sizeof uri, "%s", pg_url);
    } else {
        snprintf(uri, sizeof uri, "sqlite:%s/s.db", dir);
    }
    sl_store_t *s = NULL;
    sl_err rc = sl_store_open(uri, &s, err, sizeof err);
    if (rc)
        fail_msg("opening %s: %s", uri, err);
    assert_string_equal(sl_store_kind(s), pg_url ? "postgres" : "sqlite");
    assert_int_equal(sl_store_schema_version(s), 6);
    return s;
}

static sl_event_in_t event(const char *id, const char *conn, const char *type, const char *source,
                           long long received)
{
    return (sl_event_in_t){.id = id,
                           .connection = conn,
                           .type = type,
                           .source = source,
                           .payload = "{}",
                           .payload_len = 2,
                           .created = 1,
                           .received_ms = received};
}

static void test_events_and_connections(void **state)
{
    (void)state;
    char err[256];
    sl_store_t *s = fresh_store();

    sl_event_in_t ev[5] = {
        event("evt_1", "shop", "invoice.paid", "webhook", 1000),
        event("evt_2", "shop", "customer.created", "webhook", 2000),
        event("evt_1", "shop", "invoice.paid", "webhook", 3000), /* same batch */
        event("evt_3", "other", "invoice.created", "catch-up", 4000),
        event("evt_4", "other", "paymentXintent.created", "webhook", 5000),
    };
    int fresh[5];
    assert_int_equal(sl_store_events_insert(s, ev, 5, fresh, err, sizeof err), SL_OK);
    assert_int_equal(fresh[0], 1);
    assert_int_equal(fresh[1], 1);
    assert_int_equal(fresh[2], 0);
    assert_int_equal(fresh[3], 1);
    assert_int_equal(sl_store_events_insert(s, ev, 1, fresh, err, sizeof err), SL_OK);
    assert_int_equal(fresh[0], 0);
    long long n = 0;
    assert_int_equal(sl_store_events_count(s, &n, err, sizeof err), SL_OK);
    assert_int_equal(n, 4);
    /* Deduplicated per connection: Stripe Connect sends one event to a platform and to the
     * connected account, each its own connection; each keeps its copy, once. */
    sl_event_in_t connect[3] = {event("evt_1", "platform", "invoice.paid", "webhook", 6000),
                                event("evt_1", "platform", "invoice.paid", "webhook", 6001),
                                event("evt_1", "shop", "invoice.paid", "webhook", 6002)};
    int fresh3[3];
    assert_int_equal(sl_store_events_insert(s, connect, 3, fresh3, err, sizeof err), SL_OK);
    assert_int_equal(fresh3[0], 1);
    assert_int_equal(fresh3[1], 0);
    assert_int_equal(fresh3[2], 0);
    assert_int_equal(sl_store_events_count(s, &n, err, sizeof err), SL_OK);
    assert_int_equal(n, 5);
    sl_event_row_t copy;
    assert_int_equal(sl_store_event_get(s, "evt_1", &copy, err, sizeof err), SL_OK);
    assert_string_equal(copy.connection, "platform"); /* the newest copy */
    sl_event_row_cleanup(&copy);

    count_t c = {0, ""};
    sl_event_filter_t f = {.type = "invoice.*"};
    assert_int_equal(sl_store_events_list(s, &f, count_events, &c, err, sizeof err), SL_OK);
    assert_int_equal(c.n, 3);
    assert_string_equal(c.first, "evt_1"); /* newest first: the platform's copy */
    /* A prefix, not a pattern: `_` is an underscore, not any character. */
    c = (count_t){0, ""};
    f = (sl_event_filter_t){.type = "payment_intent.*"};
    assert_int_equal(sl_store_events_list(s, &f, count_events, &c, err, sizeof err), SL_OK);
    assert_int_equal(c.n, 0);
    c = (count_t){0, ""};
    f = (sl_event_filter_t){.type = "invoice.paid"};
    assert_int_equal(sl_store_events_list(s, &f, count_events, &c, err, sizeof err), SL_OK);
    assert_int_equal(c.n, 2);
    c = (count_t){0, ""};
    f = (sl_event_filter_t){.connection = "shop", .limit = 1};
    assert_int_equal(sl_store_events_list(s, &f, count_events, &c, err, sizeof err), SL_OK);
    assert_int_equal(c.n, 1);

    sl_event_row_t row;
    assert_int_equal(sl_store_event_get(s, "evt_3", &row, err, sizeof err), SL_OK);
    assert_string_equal(row.source, "catch-up");
    assert_string_equal(row.payload, "{}");
    sl_event_row_cleanup(&row);
    assert_int_equal(sl_store_event_get(s, "evt_9", &row, err, sizeof err), SL_ENOTFOUND);

    sl_conn_row_t conn = {.name = "shop", .mode = "test", .key_sealed = "v1:x", .created = 5};
    assert_int_equal(sl_store_conn_put(s, &conn, err, sizeof err), SL_OK);
    sl_conn_row_t back;
    assert_int_equal(sl_store_conn_get(s, "shop", &back, err, sizeof err), SL_OK);
    assert_string_equal(back.key_sealed, "v1:x");
    assert_null(back.secret_sealed);
    assert_null(back.endpoint_events);
    sl_conn_row_cleanup(&back);
    conn.endpoint_events = "[\"invoice.paid\"]"; /* kept with the endpoint sluice registered */
    assert_int_equal(sl_store_conn_put(s, &conn, err, sizeof err), SL_OK);
    assert_int_equal(sl_store_conn_get(s, "shop", &back, err, sizeof err), SL_OK);
    assert_string_equal(back.endpoint_events, "[\"invoice.paid\"]");
    sl_conn_row_cleanup(&back);
    assert_int_equal(sl_store_conn_delete(s, "shop", err, sizeof err), SL_OK);
    assert_int_equal(sl_store_conn_get(s, "shop", &back, err, sizeof err), SL_ENOTFOUND);
    assert_int_equal(sl_store_conn_delete(s, "shop", err, sizeof err), SL_ENOTFOUND);

    long long cur = 0;
    assert_int_equal(sl_store_cursor_get(s, "shop", &cur, err, sizeof err), SL_ENOTFOUND);
    assert_int_equal(sl_store_cursor_put(s, "shop", 42, err, sizeof err), SL_OK);
    assert_int_equal(sl_store_cursor_put(s, "shop", 43, err, sizeof err), SL_OK);
    assert_int_equal(sl_store_cursor_get(s, "shop", &cur, err, sizeof err), SL_OK);
    assert_int_equal(cur, 43);
    sl_store_close(s);
    assert_int_equal(sl_store_open("mysql:x", &s, err, sizeof err), SL_EINVAL);
}

static int wakes;
static void on_runs(void *ctx)
{
    (void)ctx;
    __atomic_add_fetch(&wakes, 1, __ATOMIC_SEQ_CST);
}

static const char *str(const json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

/* Events start their runs in the transaction that stores them; a duplicate starts none. */
static void test_event_runs(void **state)
{
    (void)state;
    char err[256];
    sl_store_t *s = fresh_store();
    sl_store_on_runs(s, on_runs, NULL);
    int before = __atomic_load_n(&wakes, __ATOMIC_SEQ_CST);
    const char *flows[] = {"a", "b"};
    sl_event_in_t ev[2] = {event("evt_1", "shop", "invoice.paid", "webhook", 1),
                           event("evt_1", "shop", "invoice.paid", "webhook", 2)};
    ev[0].flows = ev[1].flows = flows;
    ev[0].nflows = ev[1].nflows = 2;
    int fresh[2];
    assert_int_equal(sl_store_events_insert(s, ev, 2, fresh, err, sizeof err), SL_OK);
    assert_int_equal(fresh[0] + fresh[1], 1);
    assert_int_equal(sl_store_events_insert(s, ev, 1, fresh, err, sizeof err), SL_OK);
    json_t *runs = NULL;
    sl_run_filter_t f = {.status = "queued", .event_id = "evt_1"};
    assert_int_equal(sl_store_runs_list(s, &f, &runs, err, sizeof err), SL_OK);
    assert_int_equal(json_array_size(runs), 2);
    json_t *r = json_array_get(runs, 0);
    assert_non_null(strstr(str(r, "id"), "run_"));
    assert_string_equal(str(r, "connection"), "shop");
    assert_int_equal(json_integer_value(json_object_get(r, "attempt")), 1);
    assert_true(json_is_null(json_object_get(r, "started_ms")));
    json_decref(runs);
    assert_true(__atomic_load_n(&wakes, __ATOMIC_SEQ_CST) > before);
    sl_store_on_runs(s, NULL, NULL);
    sl_store_close(s);
}

static json_t *queue(sl_store_t *s, const char *flow)
{
    char err[256];
    json_t *run = json_pack("{s:s,s:{s:i}}", "flow", flow, "input", "n", 7);
    assert_int_equal(sl_store_run_create(s, run, err, sizeof err), SL_OK);
    return run;
}

static json_t *step(const char *path, const char *status)
{
    return json_pack("{s:s,s:s,s:s,s:{s:i},s:{s:b},s:n,s:I,s:f,s:i}", "path", path, "kind", "set",
                     "status", status, "input", "x", 1, "output", "ok", 1, "error", "started_ms",
                     (json_int_t)5, "duration_ms", 1.5, "attempts", 1);
}

/* Claims, leases, heartbeats, expiry, finishing under a lease, retrying a failed run. */
static void test_runs_and_leases(void **state)
{
    (void)state;
    char err[256];
    sl_store_t *s = fresh_store();
    json_t *r1 = queue(s, "one"), *r2 = queue(s, "two"), *r3 = queue(s, "three");
    json_t *got = NULL;
    if (sl_store_runs_claim(s, "A", 60000, 2, &got, err, sizeof err))
        fail_msg("claim: %s", err);
    assert_int_equal(json_array_size(got), 2);
    assert_string_equal(str(json_array_get(got, 0), "id"), str(r1, "id")); /* oldest first */
    assert_string_equal(str(json_array_get(got, 0), "status"), "running");
    assert_string_equal(str(json_array_get(got, 0), "owner"), "A");
    /* A first start: started_ms as it was before the claim. */
    assert_true(json_is_null(json_object_get(json_array_get(got, 0), "started_ms")));
    json_decref(got);
    /* B gets what A does not hold. */
    assert_int_equal(sl_store_runs_claim(s, "B", 60000, 5, &got, err, sizeof err), SL_OK);
    assert_int_equal(json_array_size(got), 1);
    assert_string_equal(str(json_array_get(got, 0), "id"), str(r3, "id"));
    json_decref(got);
    assert_int_equal(sl_store_runs_claim(s, "B", 60000, 5, &got, err, sizeof err), SL_OK);
    assert_int_equal(json_array_size(got), 0);
    json_decref(got);

    long long n = 0;
    assert_int_equal(sl_store_runs_heartbeat(s, "A", 60000, &n, err, sizeof err), SL_OK);
    assert_int_equal(n, 2);

    /* A's lease on r2 runs out (A died): B reclaims it, as a resume. */
    assert_int_equal(sl_store_runs_heartbeat(s, "A", -1000, &n, err, sizeof err), SL_OK);
    assert_int_equal(sl_store_runs_claim(s, "B", 60000, 1, &got, err, sizeof err), SL_OK);
    assert_int_equal(json_array_size(got), 1);
    const char *taken = str(json_array_get(got, 0), "id");
    assert_true(json_is_integer(json_object_get(json_array_get(got, 0), "started_ms")));
    assert_true(!strcmp(taken, str(r1, "id")) || !strcmp(taken, str(r2, "id")));

    /* A comes back and finishes it: its record is refused, B's stands. */
    json_t *steps = json_pack("[o]", step("note", "succeeded"));
    sl_run_finish_t fin = {taken, "succeeded", NULL,
                           NULL,  steps,       1}; /* lazy, as workers finish runs */
    int ok = -1;
    assert_int_equal(sl_store_runs_finish(s, "A", &fin, 1, &ok, err, sizeof err), SL_OK);
    assert_int_equal(ok, 0);
    json_t *run = NULL;
    assert_int_equal(sl_store_run_get(s, taken, &run, err, sizeof err), SL_OK);
    assert_string_equal(str(run, "status"), "running");
    assert_string_equal(str(run, "owner"), "B");
    json_decref(run);
    json_t *recs = NULL;
    assert_int_equal(sl_store_steps_get(s, taken, &recs, err, sizeof err), SL_OK);
    assert_int_equal(json_array_size(recs), 0);
    json_decref(recs);
    assert_int_equal(sl_store_runs_finish(s, "B", &fin, 1, &ok, err, sizeof err), SL_OK);
    assert_int_equal(ok, 1);
    assert_int_equal(sl_store_run_get(s, taken, &run, err, sizeof err), SL_OK);
    assert_string_equal(str(run, "status"), "succeeded");
    assert_true(json_is_null(json_object_get(run, "owner")));
    assert_true(json_integer_value(json_object_get(run, "finished_ms")) > 0);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(run, "input"), "n")), 7);
    json_decref(run);
    json_decref(steps);
    json_decref(got);

    /* A failed run: records kept in order; a retry drops the failed one, counts an attempt. */
    steps = json_pack("[o,o]", step("first", "succeeded"), step("second", "failed"));
    sl_run_finish_t failed = {str(r3, "id"), "failed", "boom", "second", steps, 0};
    assert_int_equal(sl_store_runs_finish(s, "B", &failed, 1, &ok, err, sizeof err), SL_OK);
    assert_int_equal(ok, 1);
    json_decref(steps);
    assert_int_equal(
        sl_store_run_requeue_failed(s, str(r1, "id") /* not failed */, err, sizeof err), SL_EINVAL);
    assert_int_equal(sl_store_run_requeue_failed(s, str(r3, "id"), err, sizeof err), SL_OK);
    assert_int_equal(sl_store_run_get(s, str(r3, "id"), &run, err, sizeof err), SL_OK);
    assert_string_equal(str(run, "status"), "queued");
    assert_int_equal(json_integer_value(json_object_get(run, "attempt")), 2);
    assert_true(json_is_null(json_object_get(run, "error")));
    assert_true(json_is_null(json_object_get(run, "finished_ms")));
    json_decref(run);
    assert_int_equal(sl_store_steps_get(s, str(r3, "id"), &recs, err, sizeof err), SL_OK);
    assert_int_equal(json_array_size(recs), 1);
    assert_string_equal(str(json_array_get(recs, 0), "path"), "first");
    assert_int_equal(
        json_integer_value(json_object_get(json_object_get(json_array_get(recs, 0), "input"), "x")),
        1);
    json_decref(recs);
    assert_int_equal(sl_store_run_requeue_failed(s, str(r3, "id"), err, sizeof err), SL_EINVAL);
    assert_non_null(strstr(err, "only a failed run"));
    assert_int_equal(sl_store_run_requeue_failed(s, "run_nope", err, sizeof err), SL_ENOTFOUND);

    /* Released (a stopping instance): queued again at once, no attempt counted. */
    assert_int_equal(sl_store_runs_claim(s, "C", 60000, 5, &got, err, sizeof err), SL_OK);
    size_t c_held = json_array_size(got);
    assert_true(c_held >= 1);
    sl_run_finish_t back = {str(json_array_get(got, 0), "id"), "queued", NULL, NULL, NULL, 0};
    assert_int_equal(sl_store_runs_release(s, "C", &back, 1, err, sizeof err), SL_OK);
    assert_int_equal(sl_store_run_get(s, back.id, &run, err, sizeof err), SL_OK);
    assert_string_equal(str(run, "status"), "queued");
    assert_true(json_is_null(json_object_get(run, "owner")));
    json_decref(run);
    json_decref(got);

    /* Only this instance's leases end at a (SQLite) restart. */
    assert_int_equal(sl_store_runs_claim(s, "D", 60000, 5, &got, err, sizeof err), SL_OK);
    assert_true(json_array_size(got) >= 1);
    json_decref(got);
    assert_int_equal(sl_store_runs_expire_others(s, "E", &n, err, sizeof err), SL_OK);
    assert_true(n >= 1);
    assert_int_equal(sl_store_runs_claim(s, "E", 60000, 5, &got, err, sizeof err), SL_OK);
    assert_true(json_array_size(got) >= 1);
    json_decref(got);

    assert_int_equal(sl_store_run_set_status(s, "run_nope", "failed", "x", NULL, err, sizeof err),
                     SL_ENOTFOUND);
    json_decref(r1);
    json_decref(r2);
    json_decref(r3);
    sl_store_close(s);
}

/* Two claimers at once never get the same run. */
typedef struct claimer {
    sl_store_t *s;
    const char *owner;
    json_t *ids;
} claimer_t;

static void *claim_all(void *arg)
{
    claimer_t *c = arg;
    char err[256];
    for (;;) {
        json_t *got = NULL;
        if (sl_store_runs_claim(c->s, c->owner, 60000, 3, &got, err, sizeof err))
            fail_msg("claim: %s", err);
        size_t n = json_array_size(got);
        for (size_t i = 0; i < n; i++)
            json_array_append(c->ids, json_object_get(json_array_get(got, i), "id"));
        json_decref(got);
        if (!n)
            return NULL;
    }
}

static void test_concurrent_claims(void **state)
{
    (void)state;
    sl_store_t *s = fresh_store();
    enum { N = 200 };
    for (int i = 0; i < N; i++)
        json_decref(queue(s, "f"));
    claimer_t a = {s, "A", json_array()}, b = {s, "B", json_array()};
    pthread_t ta, tb;
    pthread_create(&ta, NULL, claim_all, &a);
    pthread_create(&tb, NULL, claim_all, &b);
    pthread_join(ta, NULL);
    pthread_join(tb, NULL);
    assert_int_equal(json_array_size(a.ids) + json_array_size(b.ids), N);
    json_t *seen = json_object();
    for (int k = 0; k < 2; k++) {
        json_t *ids = k ? b.ids : a.ids;
        for (size_t i = 0; i < json_array_size(ids); i++) {
            const char *id = json_string_value(json_array_get(ids, i));
            assert_null(json_object_get(seen, id));
            json_object_set_new(seen, id, json_true());
        }
    }
    json_decref(seen);
    json_decref(a.ids);
    json_decref(b.ids);
    sl_store_close(s);
}

/* A schedule's minute fires once however many instances try; named leases have one holder. */
static void test_schedules_and_leases(void **state)
{
    (void)state;
    char err[256];
    sl_store_t *s = fresh_store();
    int fired = -1;
    json_t *run = json_pack("{s:s,s:{s:i}}", "flow", "tick", "input", "scheduled_at", 60);
    assert_int_equal(sl_store_schedule_fire(s, "tick", 60, run, &fired, err, sizeof err), SL_OK);
    assert_int_equal(fired, 1);
    json_decref(run);
    run = json_pack("{s:s}", "flow", "tick");
    assert_int_equal(sl_store_schedule_fire(s, "tick", 60, run, &fired, err, sizeof err), SL_OK);
    assert_int_equal(fired, 0);
    assert_int_equal(sl_store_schedule_fire(s, "tick", 120, run, &fired, err, sizeof err), SL_OK);
    assert_int_equal(fired, 1);
    json_decref(run);
    json_t *runs = NULL;
    sl_run_filter_t f = {.flow = "tick"};
    assert_int_equal(sl_store_runs_list(s, &f, &runs, err, sizeof err), SL_OK);
    assert_int_equal(json_array_size(runs), 2);
    json_decref(runs);

    int held = -1;
    assert_int_equal(sl_store_lease_take(s, "catch-up", "A", 60000, &held, err, sizeof err), SL_OK);
    assert_int_equal(held, 1);
    assert_int_equal(sl_store_lease_take(s, "catch-up", "B", 60000, &held, err, sizeof err), SL_OK);
    assert_int_equal(held, 0);
    assert_int_equal(sl_store_lease_take(s, "catch-up", "A", -1, &held, err, sizeof err), SL_OK);
    assert_int_equal(held, 1); /* renewed, and now already over */
    assert_int_equal(sl_store_lease_take(s, "catch-up", "B", 60000, &held, err, sizeof err), SL_OK);
    assert_int_equal(held, 1);

    int on = 5;
    assert_int_equal(sl_store_flow_enabled_get(s, "tick", &on, err, sizeof err), SL_OK);
    assert_int_equal(on, -1);
    assert_int_equal(sl_store_flow_enabled_put(s, "tick", 0, err, sizeof err), SL_OK);
    assert_int_equal(sl_store_flow_enabled_get(s, "tick", &on, err, sizeof err), SL_OK);
    assert_int_equal(on, 0);

    int created = -1;
    json_t *c = NULL;
    assert_int_equal(
        sl_store_contact_upsert(s, "Jo@Example.com", "Jo", NULL, &created, &c, err, sizeof err),
        SL_OK);
    assert_int_equal(created, 1);
    assert_string_equal(str(c, "first_name"), "Jo");
    json_decref(c);
    assert_int_equal(
        sl_store_contact_upsert(s, "jo@example.com", NULL, "Doe", &created, &c, err, sizeof err),
        SL_OK);
    assert_int_equal(created, 0);
    assert_string_equal(str(c, "first_name"), "Jo");
    assert_string_equal(str(c, "last_name"), "Doe");
    json_decref(c);
    assert_int_equal(sl_store_contacts_list(s, &c, err, sizeof err), SL_OK);
    assert_int_equal(json_array_size(c), 1);
    json_decref(c);
    sl_store_close(s);
}

/* A data directory from the release before schema versions opens, upgrades and keeps every
 * row (tests/fixtures/store-v1.sql was dumped from one). */
/* The dashboard's lists: filters by source, object id and time, and keyset pages that neither
 * repeat nor skip a row, even where two share a time. */
static int collect_ids(const sl_event_row_t *r, void *ctx)
{
    json_array_append_new(ctx,
                          json_pack("{s:s,s:I}", "id", r->id, "ms", (json_int_t)r->received_ms));
    return 0;
}

static void test_dashboard_lists(void **state)
{
    (void)state;
    char err[256];
    sl_store_t *s = fresh_store();
    static const char *const payloads[7] = {"{\"data\":{\"object\":{\"id\":\"in_1\"}}}",
                                            "{\"data\":{\"object\":{\"id\":\"cus_1\"}}}",
                                            "{\"data\":{\"object\":{\"id\":\"in_2\"}}}",
                                            "{\"data\":{\"object\":{\"id\":\"in_3\"}}}",
                                            "{\"data\":{\"object\":{\"id\":\"cus_1\"}}}",
                                            "{\"data\":{\"object\":{\"id\":\"cus_12\"}}}",
                                            "{}"};
    static const char *const ids[7] = {"e1", "e2", "e3", "e4", "e5", "e6", "e7"};
    static const long long at[7] = {1000, 2000, 3000, 3000, 5000, 6000, 7000};
    const char *flows[] = {"f"};
    sl_event_in_t ev[7];
    for (int i = 0; i < 7; i++) {
        ev[i] = event(ids[i], "shop", "invoice.paid", i == 5 ? "catch-up" : "webhook", at[i]);
        ev[i].payload = payloads[i];
        ev[i].payload_len = strlen(payloads[i]);
        ev[i].flows = flows;
        ev[i].nflows = 1;
    }
    int fresh[7];
    assert_int_equal(sl_store_events_insert(s, ev, 7, fresh, err, sizeof err), SL_OK);

    /* Pages of 2, newest first, each after the last of the one before. */
    json_t *all = json_array();
    sl_event_filter_t f = {.limit = 2};
    char last_id[64] = "";
    for (int page = 0; page < 10; page++) {
        size_t had = json_array_size(all);
        sl_err rc = sl_store_events_list(s, &f, collect_ids, all, err, sizeof err);
        if (rc)
            fail_msg("listing events: %s", err);
        if (json_array_size(all) == had)
            break;
        json_t *last = json_array_get(all, json_array_size(all) - 1);
        snprintf(last_id, sizeof last_id, "%s", json_string_value(json_object_get(last, "id")));
        f.before_ms = json_integer_value(json_object_get(last, "ms"));
        f.before_id = last_id;
    }
    assert_int_equal(json_array_size(all), 7);
    static const char *const newest_first[7] = {"e7", "e6", "e5", "e4", "e3", "e2", "e1"};
    for (size_t i = 0; i < 7; i++)
        assert_string_equal(json_string_value(json_object_get(json_array_get(all, i), "id")),
                            newest_first[i]);
    json_decref(all);

    count_t c = {0, ""};
    f = (sl_event_filter_t){.since_ms = 2000, .until_ms = 5000};
    assert_int_equal(sl_store_events_list(s, &f, count_events, &c, err, sizeof err), SL_OK);
    assert_int_equal(c.n, 3);
    c = (count_t){0, ""};
    f = (sl_event_filter_t){.source = "catch-up"};
    assert_int_equal(sl_store_events_list(s, &f, count_events, &c, err, sizeof err), SL_OK);
    assert_int_equal(c.n, 1);
    assert_string_equal(c.first, "e6");
    /* The object's id exactly: cus_1, not cus_12. */
    c = (count_t){0, ""};
    f = (sl_event_filter_t){.object_id = "cus_1"};
    assert_int_equal(sl_store_events_list(s, &f, count_events, &c, err, sizeof err), SL_OK);
    assert_int_equal(c.n, 2);
    assert_string_equal(c.first, "e5");
    c = (count_t){0, ""};
    f = (sl_event_filter_t){
        .object_id = "cus_1", .type = "invoice.*", .before_ms = 5000, .before_id = "e5"};
    assert_int_equal(sl_store_events_list(s, &f, count_events, &c, err, sizeof err), SL_OK);
    assert_int_equal(c.n, 1);
    assert_string_equal(c.first, "e2");

    /* Per bucket, among the newest `cap`. */
    long long counts[8], total = 0;
    assert_int_equal(sl_store_histogram(s, 0, 1000, 1000, 100, counts, 8, &total, err, sizeof err),
                     SL_OK);
    assert_int_equal(total, 7);
    static const long long want[8] = {1, 1, 2, 0, 1, 1, 1, 0};
    for (int i = 0; i < 8; i++)
        assert_int_equal(counts[i], want[i]);
    assert_int_equal(sl_store_histogram(s, 0, 1000, 1000, 3, counts, 8, &total, err, sizeof err),
                     SL_OK);
    assert_int_equal(total, 3);
    assert_int_equal(counts[0] + counts[1] + counts[2], 0);
    assert_int_equal(sl_store_histogram(s, 1, 0, 60000, 100, counts, 1, &total, err, sizeof err),
                     SL_OK);
    assert_int_equal(total, 7); /* runs: counted, though all fall past the one bucket asked */

    /* Runs: their pages too (all seven were queued in one commit: equal or close times). */
    json_t *seen = json_object();
    sl_run_filter_t rf = {.flow = "f", .limit = 3};
    char before[64] = "";
    for (int page = 0; page < 10; page++) {
        json_t *runs = NULL;
        assert_int_equal(sl_store_runs_list(s, &rf, &runs, err, sizeof err), SL_OK);
        size_t n = json_array_size(runs);
        for (size_t i = 0; i < n; i++)
            json_object_set_new(seen, str(json_array_get(runs, i), "id"), json_true());
        if (n) {
            json_t *last = json_array_get(runs, n - 1);
            snprintf(before, sizeof before, "%s", str(last, "id"));
            rf.before_ms = json_integer_value(json_object_get(last, "created_ms"));
            rf.before_id = before;
        }
        json_decref(runs);
        if (n < 3)
            break;
    }
    assert_int_equal(json_object_size(seen), 7);
    json_decref(seen);
    json_t *runs = NULL;
    rf = (sl_run_filter_t){.event_id = "e4", .since_ms = 1, .until_ms = sl__now_ms() + 60000};
    assert_int_equal(sl_store_runs_list(s, &rf, &runs, err, sizeof err), SL_OK);
    assert_int_equal(json_array_size(runs), 1);
    json_decref(runs);
    rf = (sl_run_filter_t){.until_ms = 1};
    assert_int_equal(sl_store_runs_list(s, &rf, &runs, err, sizeof err), SL_OK);
    assert_int_equal(json_array_size(runs), 0);
    json_decref(runs);
    sl_store_close(s);
}

static void test_migrates_v1(void **state)
{
    (void)state;
    char path[512], uri[600], err[256];
    snprintf(path, sizeof path, "%s/tests/fixtures/store-v1.sql", SLUICE_SOURCE_DIR);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    static char sql[1 << 16];
    size_t len = fread(sql, 1, sizeof sql - 1, f);
    fclose(f);
    assert_true(len > 0 && len < sizeof sql - 1);
    sql[len] = '\0';
    snprintf(path, sizeof path, "%s/s.db", dir);
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    snprintf(uri, sizeof uri, "sqlite:%s", path);
    sl_store_t *s = NULL;
    assert_int_equal(sl_store_open(uri, &s, err, sizeof err), SL_OK);
    assert_int_equal(sl_store_schema_version(s), 6);
    long long n = 0;
    assert_int_equal(sl_store_events_count(s, &n, err, sizeof err), SL_OK);
    assert_int_equal(n, 7);
    json_t *runs = NULL;
    assert_int_equal(sl_store_runs_list(s, NULL, &runs, err, sizeof err), SL_OK);
    assert_int_equal(json_array_size(runs), 6);
    size_t steps = 0;
    for (size_t i = 0; i < json_array_size(runs); i++) {
        json_t *r = json_array_get(runs, i);
        assert_string_equal(str(r, "status"), "succeeded");
        assert_true(json_is_null(json_object_get(r, "owner")));
        json_t *recs = NULL;
        assert_int_equal(sl_store_steps_get(s, str(r, "id"), &recs, err, sizeof err), SL_OK);
        steps += json_array_size(recs);
        json_decref(recs);
    }
    assert_int_equal(steps, 10);
    json_decref(runs);
    sl_conn_row_t conn;
    assert_int_equal(sl_store_conn_get(s, "shop", &conn, err, sizeof err), SL_OK);
    assert_string_equal(conn.account_id, "acct_sluiceemulator");
    assert_non_null(conn.key_sealed);
    sl_conn_row_cleanup(&conn);
    json_t *contacts = NULL;
    assert_int_equal(sl_store_contacts_list(s, &contacts, err, sizeof err), SL_OK);
    assert_int_equal(json_array_size(contacts), 1);
    json_decref(contacts);
    /* The upgraded store takes new work. */
    json_decref(queue(s, "after"));
    sl_store_close(s);
    /* Opening again changes nothing. */
    assert_int_equal(sl_store_open(uri, &s, err, sizeof err), SL_OK);
    assert_int_equal(sl_store_events_count(s, &n, err, sizeof err), SL_OK);
    assert_int_equal(n, 7);
    sl_store_close(s);
}

int main(int argc, char **argv)
{
    if (argc > 1 && !strcmp(argv[1], "--pg")) {
        pg_url = getenv("SLUICE_TEST_PG");
        if (!pg_url || !*pg_url) {
            fprintf(stderr, "test_store --pg: SLUICE_TEST_PG is not set (run it through"
                            " tests/support/with-pg.sh)\n");
            return 1;
        }
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_seal_open, setup, teardown),
        cmocka_unit_test_setup_teardown(test_events_and_connections, setup, teardown),
        cmocka_unit_test_setup_teardown(test_event_runs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_runs_and_leases, setup, teardown),
        cmocka_unit_test_setup_teardown(test_concurrent_claims, setup, teardown),
        cmocka_unit_test_setup_teardown(test_schedules_and_leases, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dashboard_lists, setup, teardown),
        /* The release before schema versions had SQLite only. */
        cmocka_unit_test_setup_teardown(test_migrates_v1, setup, teardown),
    };
    size_t n = sizeof tests / sizeof tests[0] - (pg_url ? 1 : 0);
    return _cmocka_run_group_tests(pg_url ? "store (postgres)" : "store (sqlite)", tests, n, NULL,
                                   NULL);
}
