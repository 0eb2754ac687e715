/* The webhook-secret cache: secrets from the store, refreshed within a second of a change,
 * forgotten when the connection goes, and no lookup for a name no connection could have. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "conn/secrets.h"

static char dir[64];
static sl_crypt_t mk;

static int setup(void **state)
{
    snprintf(dir, sizeof dir, "/tmp/sluice-secretstest-XXXXXX");
    assert_non_null(mkdtemp(dir));
    setenv("SLUICE_MASTER_KEY", "ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100",
           1);
    char uri[128], err[256];
    assert_int_equal(sl__crypt_init(&mk, dir, err, sizeof err), SL_OK);
    snprintf(uri, sizeof uri, "sqlite:%s/s.db", dir);
    sl_store_t *store = NULL;
    assert_int_equal(sl_store_open(uri, &store, err, sizeof err), SL_OK);
    *state = store;
    return 0;
}

static int teardown(void **state)
{
    sl_store_close(*state);
    sl__crypt_cleanup(&mk);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
    return 0;
}

static void put(sl_store_t *store, const char *secret, const char *old, long long old_expires)
{
    sl_conn_row_t row;
    memset(&row, 0, sizeof row);
    snprintf(row.name, sizeof row.name, "acme");
    snprintf(row.mode, sizeof row.mode, "test");
    assert_int_equal(sl__crypt_seal(&mk, "sk_test_x", row.name, &row.key_sealed), SL_OK);
    assert_int_equal(sl__crypt_seal(&mk, secret, row.name, &row.secret_sealed), SL_OK);
    if (old)
        assert_int_equal(sl__crypt_seal(&mk, old, row.name, &row.old_secret_sealed), SL_OK);
    row.old_secret_expires = old_expires;
    char err[256];
    assert_int_equal(sl_store_conn_put(store, &row, err, sizeof err), SL_OK);
    sl_conn_row_cleanup(&row);
}

static void expect(sl_secrets_t *c, const char *name, int found, const char *cur, const char *prev)
{
    char *a = NULL, *b = NULL;
    assert_int_equal(sl__secrets_get(c, name, &a, &b), found);
    if (cur)
        assert_string_equal(a, cur);
    else
        assert_null(a);
    if (prev)
        assert_string_equal(b, prev);
    else
        assert_null(b);
    sl__crypt_free(a);
    sl__crypt_free(b);
}

static void secrets_follow_the_store(void **state)
{
    sl_store_t *store = *state;
    put(store, "whsec_one", NULL, 0);
    sl_secrets_t *c = sl__secrets_new(store, &mk);
    assert_non_null(c);
    expect(c, "acme", 1, "whsec_one", NULL);
    expect(c, "nobody", 0, NULL, NULL);
    expect(c, "../etc", 0, NULL, NULL); /* not a name: no lookup */
    /* Rotated with a grace period: within a second both come back. */
    put(store, "whsec_two", "whsec_one", (long long)time(NULL) + 3600);
    expect(c, "acme", 1, "whsec_one", NULL); /* the cached copy, younger than a second */
    usleep(1100 * 1000);
    expect(c, "acme", 1, "whsec_two", "whsec_one");
    /* The grace period over: only the new one. */
    put(store, "whsec_two", "whsec_one", 1);
    usleep(1100 * 1000);
    expect(c, "acme", 1, "whsec_two", NULL);
    /* Removed: forgotten. */
    char err[256];
    assert_int_equal(sl_store_conn_delete(store, "acme", err, sizeof err), SL_OK);
    usleep(1100 * 1000);
    expect(c, "acme", 0, NULL, NULL);
    sl__secrets_free(c);
    sl__secrets_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(secrets_follow_the_store, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
