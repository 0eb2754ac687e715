/* Sealed secrets and the SQLite store. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/crypt.h"
#include "store/store.h"

static char dir[64];

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

static void test_events_and_connections(void **state)
{
    (void)state;
    char uri[128], err[256];
    snprintf(uri, sizeof uri, "sqlite:%s/s.db", dir);
    sl_store_t *s = NULL;
    assert_int_equal(sl_store_open(uri, &s, err, sizeof err), SL_OK);

    sl_event_in_t ev[4] = {
        {"evt_1", "shop", "invoice.paid", "webhook", "{}", 2, 1, 1000, NULL, 0, NULL, 0},
        {"evt_2", "shop", "customer.created", "webhook", "{}", 2, 2, 2000, NULL, 0, NULL, 0},
        {"evt_1", "shop", "invoice.paid", "webhook", "{}", 2, 1, 3000, NULL, 0, NULL,
         0}, /* same batch */
        {"evt_3", "other", "invoice.created", "catch-up", "{}", 2, 3, 4000, NULL, 0, NULL, 0},
    };
    int fresh[4];
    assert_int_equal(sl_store_events_insert(s, ev, 4, fresh, err, sizeof err), SL_OK);
    assert_int_equal(fresh[0], 1);
    assert_int_equal(fresh[1], 1);
    assert_int_equal(fresh[2], 0);
    assert_int_equal(fresh[3], 1);
    assert_int_equal(sl_store_events_insert(s, ev, 1, fresh, err, sizeof err), SL_OK);
    assert_int_equal(fresh[0], 0);
    long long n = 0;
    assert_int_equal(sl_store_events_count(s, &n, err, sizeof err), SL_OK);
    assert_int_equal(n, 3);

    count_t c = {0, ""};
    sl_event_filter_t f = {"invoice.*", NULL, 0};
    assert_int_equal(sl_store_events_list(s, &f, count_events, &c, err, sizeof err), SL_OK);
    assert_int_equal(c.n, 2);
    assert_string_equal(c.first, "evt_3"); /* newest first */
    c = (count_t){0, ""};
    f = (sl_event_filter_t){NULL, "shop", 1};
    assert_int_equal(sl_store_events_list(s, &f, count_events, &c, err, sizeof err), SL_OK);
    assert_int_equal(c.n, 1);

    sl_event_row_t row;
    assert_int_equal(sl_store_event_get(s, "evt_3", &row, err, sizeof err), SL_OK);
    assert_string_equal(row.source, "catch-up");
    sl_event_row_cleanup(&row);
    assert_int_equal(sl_store_event_get(s, "evt_9", &row, err, sizeof err), SL_ENOTFOUND);

    sl_conn_row_t conn = {.name = "shop", .mode = "test", .key_sealed = "v1:x", .created = 5};
    assert_int_equal(sl_store_conn_put(s, &conn, err, sizeof err), SL_OK);
    sl_conn_row_t back;
    assert_int_equal(sl_store_conn_get(s, "shop", &back, err, sizeof err), SL_OK);
    assert_string_equal(back.key_sealed, "v1:x");
    assert_null(back.secret_sealed);
    sl_conn_row_cleanup(&back);
    assert_int_equal(sl_store_conn_delete(s, "shop", err, sizeof err), SL_OK);
    assert_int_equal(sl_store_conn_get(s, "shop", &back, err, sizeof err), SL_ENOTFOUND);

    long long cur = 0;
    assert_int_equal(sl_store_cursor_get(s, "shop", &cur, err, sizeof err), SL_ENOTFOUND);
    assert_int_equal(sl_store_cursor_put(s, "shop", 42, err, sizeof err), SL_OK);
    assert_int_equal(sl_store_cursor_get(s, "shop", &cur, err, sizeof err), SL_OK);
    assert_int_equal(cur, 42);
    sl_store_close(s);
    assert_int_equal(sl_store_open("mysql:x", &s, err, sizeof err), SL_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_seal_open, setup, teardown),
        cmocka_unit_test_setup_teardown(test_events_and_connections, setup, teardown),
    };
    return cmocka_run_group_tests_name("store", tests, NULL, NULL);
}
