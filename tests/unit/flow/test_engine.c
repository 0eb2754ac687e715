/* The engine against a real HTTP server (the fake Stripe on loopback): one retry layer for a
 * stripe step, and clients renewed when a connection's key changes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/crypt.h"
#include "fake_stripe.h"
#include "flow/engine.h"
#include "flow/flow.h"
#include "store/store.h"

static char dir[64];

typedef struct fixture {
    fake_stripe_t *fake;
    sl_store_t *store;
    sl_crypt_t crypt;
    sl_flows_t flows;
    sl_engine_t *engine;
} fixture_t;

static const char *const error_body =
    "{\"error\":{\"type\":\"api_error\",\"message\":\"try again later\"}}";

static void put_connection(fixture_t *f, const char *key)
{
    sl_conn_row_t row;
    memset(&row, 0, sizeof row);
    snprintf(row.name, sizeof row.name, "acme");
    snprintf(row.mode, sizeof row.mode, "test");
    snprintf(row.base_url, sizeof row.base_url, "%s", fake_stripe_url(f->fake));
    assert_int_equal(sl__crypt_seal(&f->crypt, key, row.name, &row.key_sealed), SL_OK);
    char err[256];
    assert_int_equal(sl_store_conn_put(f->store, &row, err, sizeof err), SL_OK);
    sl_conn_row_cleanup(&row);
}

static int setup(void **state)
{
    snprintf(dir, sizeof dir, "/tmp/sluice-enginetest-XXXXXX");
    assert_non_null(mkdtemp(dir));
    setenv("SLUICE_MASTER_KEY", "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
           1);
    fixture_t *f = calloc(1, sizeof *f);
    char err[512], path[128], uri[128];
    assert_int_equal(sl__crypt_init(&f->crypt, dir, err, sizeof err), SL_OK);
    f->fake = fake_stripe_start();
    assert_non_null(f->fake);
    snprintf(uri, sizeof uri, "sqlite:%s/s.db", dir);
    assert_int_equal(sl_store_open(uri, &f->store, err, sizeof err), SL_OK);
    put_connection(f, "sk_test_first");
    snprintf(path, sizeof path, "%s/c.yaml", dir);
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    fputs("name: c\nconnection: acme\ntrigger: manual\nsteps:\n"
          "  - id: make\n    stripe: customers.create\n    with: {email: a@example.com}\n",
          fp);
    fclose(fp);
    json_t *errors = json_array();
    assert_int_equal(sl__flows_load_dir(dir, &f->flows, errors), SL_OK);
    json_decref(errors);
    sl_engine_config_t cfg = {f->store, &f->crypt, &f->flows, 0, 0, 1, 0, 0, 0};
    assert_int_equal(sl__engine_start(&cfg, &f->engine, err, sizeof err), SL_OK);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture_t *f = *state;
    sl__engine_stop(f->engine);
    sl__flows_free(&f->flows);
    sl_store_close(f->store);
    fake_stripe_stop(f->fake);
    sl__crypt_cleanup(&f->crypt);
    free(f);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
    return 0;
}

/* Queues and executes one run of flow c; returns its status (static). */
static const char *run_once(fixture_t *f)
{
    static char status[32];
    char err[1024], id[64];
    assert_int_equal(sl__engine_queue(f->engine, "c", NULL, NULL, id, sizeof id, err, sizeof err),
                     SL_OK);
    json_t *runs = NULL;
    assert_int_equal(sl_store_runs_claim(f->store, "test", 30000, 1, &runs, err, sizeof err), SL_OK);
    assert_int_equal(json_array_size(runs), 1);
    sl__engine_execute(f->engine, json_array_get(runs, 0), err, sizeof err);
    json_decref(runs);
    json_t *run = NULL;
    assert_int_equal(sl_store_run_get(f->store, id, &run, err, sizeof err), SL_OK);
    snprintf(status, sizeof status, "%s", json_string_value(json_object_get(run, "status")));
    json_decref(run);
    return status;
}

/* A failure that stays transient costs the client's max_retries + 1 requests, not more: the
 * engine does not retry on top of the client. */
static void one_transient_failure_costs_at_most_three_requests(void **state)
{
    fixture_t *f = *state;
    fake_stripe_set_default(f->fake, 503, NULL, error_body);
    assert_string_equal(run_once(f), "failed");
    assert_int_equal(fake_stripe_request_count(f->fake), 3);
}

/* Stripe-Should-Retry: false is the client's to honour, and the engine does not second-guess. */
static void should_retry_false_is_one_request(void **state)
{
    fixture_t *f = *state;
    fake_stripe_set_default(f->fake, 503, "Stripe-Should-Retry: false", error_body);
    assert_string_equal(run_once(f), "failed");
    assert_int_equal(fake_stripe_request_count(f->fake), 1);
}

/* A transient failure then success: one run, two requests, the same Idempotency-Key. */
static void a_retry_reuses_the_idempotency_key(void **state)
{
    fixture_t *f = *state;
    fake_stripe_push(f->fake, 500, NULL, error_body);
    fake_stripe_push(f->fake, 200, NULL, "{\"id\":\"cus_1\",\"object\":\"customer\"}");
    assert_string_equal(run_once(f), "succeeded");
    assert_int_equal(fake_stripe_request_count(f->fake), 2);
    assert_string_equal(fake_request_header(fake_stripe_request(f->fake, 0), "Idempotency-Key"),
                        fake_request_header(fake_stripe_request(f->fake, 1), "Idempotency-Key"));
}

/* The key is changed in the store while the engine runs: within a second the next run uses
 * the new one. */
static void a_rotated_key_reaches_the_running_engine(void **state)
{
    fixture_t *f = *state;
    fake_stripe_set_default(f->fake, 200, NULL, "{\"id\":\"cus_1\",\"object\":\"customer\"}");
    assert_string_equal(run_once(f), "succeeded");
    assert_string_equal(fake_request_header(fake_stripe_request(f->fake, 0), "Authorization"),
                        "Bearer sk_test_first");
    put_connection(f, "sk_test_second");
    usleep(1100 * 1000);
    assert_string_equal(run_once(f), "succeeded");
    assert_string_equal(fake_request_header(fake_stripe_request(f->fake, 1), "Authorization"),
                        "Bearer sk_test_second");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(one_transient_failure_costs_at_most_three_requests, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(should_retry_false_is_one_request, setup, teardown),
        cmocka_unit_test_setup_teardown(a_retry_reuses_the_idempotency_key, setup, teardown),
        cmocka_unit_test_setup_teardown(a_rotated_key_reaches_the_running_engine, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
