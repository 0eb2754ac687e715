/* The inbox: events from many submitters stored in group commits, duplicates kept once, the
 * counters /metrics reads, and no submission accepted once it stops. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "ingest/event.h"
#include "ingest/inbox.h"
#include "store/store.h"

static char dir[64];

static int setup(void **state)
{
    snprintf(dir, sizeof dir, "/tmp/sluice-inboxtest-XXXXXX");
    assert_non_null(mkdtemp(dir));
    char uri[128], err[256];
    snprintf(uri, sizeof uri, "sqlite:%s/i.db", dir);
    sl_store_t *store = NULL;
    assert_int_equal(sl_store_open(uri, &store, err, sizeof err), SL_OK);
    *state = store;
    return 0;
}

static int teardown(void **state)
{
    sl_store_close(*state);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
    return 0;
}

static void ingest(sl_inbox_t *in, const char *id, int want_fresh)
{
    char payload[256], err[256];
    snprintf(payload, sizeof payload,
             "{\"id\":\"%s\",\"object\":\"event\",\"type\":\"customer.created\",\"created\":7}",
             id);
    int fresh = -1;
    assert_int_equal(
        sl__event_ingest(in, "acme", "webhook", payload, strlen(payload), &fresh, err, sizeof err),
        SL_OK);
    assert_int_equal(fresh, want_fresh);
}

static void stores_once_and_counts(void **state)
{
    sl_store_t *store = *state;
    sl_inbox_t *in = NULL;
    assert_int_equal(sl__inbox_start(store, 16, &in), SL_OK);
    ingest(in, "evt_1", 1);
    ingest(in, "evt_2", 1);
    ingest(in, "evt_1", 0);
    sl_inbox_stats_t st;
    sl__inbox_stats(in, &st);
    assert_int_equal(st.received, 3);
    assert_int_equal(st.accepted, 2);
    assert_int_equal(st.duplicates, 1);
    assert_int_equal(st.store_errors, 0);
    assert_int_equal(st.batches, 3);
    long long n = 0;
    char err[256];
    assert_int_equal(sl_store_events_count(store, &n, err, sizeof err), SL_OK);
    assert_int_equal(n, 2);
    sl_event_row_t row;
    assert_int_equal(sl_store_event_get(store, "evt_2", &row, err, sizeof err), SL_OK);
    assert_string_equal(row.connection, "acme");
    assert_string_equal(row.type, "customer.created");
    assert_int_equal(row.created, 7);
    sl_event_row_cleanup(&row);
    sl__inbox_stop(in);
}

static void refuses_what_is_not_an_event(void **state)
{
    sl_inbox_t *in = NULL;
    assert_int_equal(sl__inbox_start(*state, 16, &in), SL_OK);
    const char *bad[][2] = {
        {"{\"id\":\"evt_1\",\"object\":\"customer\",\"type\":\"x\"}",
         "the body is not an event (\"object\": \"event\")"},
        {"{\"id\":\"cus_1\",\"object\":\"event\",\"type\":\"x\"}",
         "the body has no event id (evt_...)"},
        {"{\"id\":\"evt_1\",\"object\":\"event\"}", "the event has no type"},
        {"[1,2]", "the body is not a JSON object"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        char err[256];
        int fresh = -1;
        assert_int_equal(sl__event_ingest(in, "acme", "webhook", bad[i][0], strlen(bad[i][0]),
                                          &fresh, err, sizeof err),
                         SL_EPARSE);
        assert_string_equal(err, bad[i][1]);
    }
    sl_inbox_stats_t st;
    sl__inbox_stats(in, &st);
    assert_int_equal(st.received, 0); /* refused before the inbox */
    sl__inbox_stop(in);
}

/* Async items: done is called once each, after the batch is durable, with its own outcome. */
typedef struct counter {
    int done;
    int fresh;
} counter_t;

static void on_done(sl_inbox_item_t *item)
{
    counter_t *c = item->ctx;
    __atomic_add_fetch(&c->done, 1, __ATOMIC_SEQ_CST);
    if (!item->rc && item->fresh)
        __atomic_add_fetch(&c->fresh, 1, __ATOMIC_SEQ_CST);
}

static void async_items_commit_in_batches_and_drain(void **state)
{
    sl_store_t *store = *state;
    sl_inbox_t *in = NULL;
    assert_int_equal(sl__inbox_start(store, 8, &in), SL_OK);
    enum { N = 50 };
    static char ids[N][32];
    static sl_event_in_t evs[N];
    static sl_inbox_item_t items[N];
    counter_t c = {0, 0};
    const char *payload = "{}";
    for (int i = 0; i < N; i++) {
        snprintf(ids[i], sizeof ids[i], "evt_async_%d", i % 40); /* ten duplicates */
        evs[i] = (sl_event_in_t){.id = ids[i],
                                 .connection = "acme",
                                 .type = "invoice.paid",
                                 .source = "webhook",
                                 .payload = payload,
                                 .payload_len = 2,
                                 .created = 1,
                                 .received_ms = 1};
        items[i] = (sl_inbox_item_t){.ev = &evs[i], .done = on_done, .ctx = &c};
        assert_int_equal(sl__inbox_submit_async(in, &items[i]), SL_OK);
    }
    sl__inbox_drain(in); /* commits what waits: every done has been called */
    assert_int_equal(c.done, N);
    assert_int_equal(c.fresh, 40);
    sl_inbox_stats_t st;
    sl__inbox_stats(in, &st);
    assert_int_equal(st.accepted, 40);
    assert_int_equal(st.duplicates, 10);
    assert_true(st.batches >= N / 8); /* at most 8 a batch */
    /* Stopped: refused, counted as not kept. */
    sl_inbox_item_t late = {.ev = &evs[0], .done = on_done, .ctx = &c};
    assert_int_equal(sl__inbox_submit_async(in, &late), SL_EINVAL);
    sl__inbox_stats(in, &st);
    assert_int_equal(st.store_errors, 1);
    assert_int_equal(c.done, N);
    sl__inbox_stop(in);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(stores_once_and_counts, setup, teardown),
        cmocka_unit_test_setup_teardown(refuses_what_is_not_an_event, setup, teardown),
        cmocka_unit_test_setup_teardown(async_items_commit_in_batches_and_drain, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
