/* The client against a fake Stripe on a random loopback port: what goes on the wire, retries,
 * errors, pagination, keep-alive and use from several threads. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "fake_stripe.h"
#include "sluice/stripe.h"

#define KEY "sk_test_51HsecretsecretsecretsecretXYZ4f2a"

typedef struct fixture {
    fake_stripe_t *fake;
    sl_client_t *client;
} fixture_t;

static sl_client_t *make_client(fake_stripe_t *fake, int max_retries, long total_ms)
{
    sl_client_config_t cfg;
    sl_client_config_init(&cfg);
    cfg.api_key = KEY;
    cfg.base_url = fake_stripe_url(fake);
    cfg.max_retries = max_retries;
    cfg.retry_initial_ms = 20;
    cfg.retry_max_ms = 100;
    cfg.retry_total_ms = total_ms;
    cfg.timeout_ms = 5000;
    sl_client_t *c = NULL;
    char err[128];
    assert_int_equal(sl_client_new(&cfg, &c, err, sizeof err), SL_OK);
    return c;
}

static int setup(void **state)
{
    fixture_t *f = calloc(1, sizeof *f);
    f->fake = fake_stripe_start();
    assert_non_null(f->fake);
    f->client = make_client(f->fake, 2, 10000);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture_t *f = *state;
    sl_client_free(f->client);
    fake_stripe_stop(f->fake);
    free(f);
    return 0;
}

static json_t *params_of(const char *json)
{
    json_t *p = json_loads(json, 0, NULL);
    assert_non_null(p);
    return p;
}

static void test_post_sends_what_stripe_expects(void **state)
{
    fixture_t *f = *state;
    fake_stripe_push(f->fake, 200, "Request-Id: req_create",
                     "{\"id\":\"cus_1\",\"object\":\"customer\",\"email\":\"jenny@example.com\"}");
    json_t *p = params_of("{\"email\":\"jenny@example.com\",\"metadata\":{\"plan\":\"pro\"}}");
    sl_request_t req = {.method = "POST", .path = "/v1/customers", .params = p};
    sl_response_t resp;
    assert_int_equal(sl_client_request(f->client, &req, &resp), SL_OK);
    assert_int_equal(resp.status, 200);
    assert_string_equal(json_string_value(json_object_get(resp.json, "id")), "cus_1");
    assert_string_equal(resp.request_id, "req_create");
    assert_int_equal(resp.attempts, 1);

    const fake_request_t *r = fake_stripe_request(f->fake, 0);
    assert_string_equal(r->method, "POST");
    assert_string_equal(r->path, "/v1/customers");
    assert_string_equal(r->body, "email=jenny%40example.com&metadata[plan]=pro");
    assert_string_equal(fake_request_header(r, "Authorization"), "Bearer " KEY);
    assert_string_equal(fake_request_header(r, "Content-Type"),
                        "application/x-www-form-urlencoded");
    assert_string_equal(fake_request_header(r, "Stripe-Version"), "2023-08-16");
    assert_null(fake_request_header(r, "Stripe-Account"));
    assert_non_null(strstr(fake_request_header(r, "User-Agent"), "sluice/"));
    const char *key = fake_request_header(r, "Idempotency-Key");
    assert_non_null(key);
    assert_int_equal(strlen(key), 36);
    assert_string_equal(key, resp.idempotency_key);
    sl_response_cleanup(&resp);
    json_decref(p);
}

static void test_get_and_delete_use_query_without_idempotency_key(void **state)
{
    fixture_t *f = *state;
    fake_stripe_push(f->fake, 200, NULL, "{\"object\":\"list\",\"data\":[],\"has_more\":false}");
    fake_stripe_push(f->fake, 200, NULL, "{\"id\":\"cus_1\",\"deleted\":true}");
    json_t *p = params_of("{\"email\":\"a b@x.com\",\"expand\":[\"data.default_source\"]}");
    sl_request_t get = {.method = "GET",
                        .path = "/v1/customers",
                        .params = p,
                        .stripe_account = "acct_123",
                        .stripe_version = "2024-06-20"};
    sl_response_t resp;
    assert_int_equal(sl_client_request(f->client, &get, &resp), SL_OK);
    sl_response_cleanup(&resp);
    sl_request_t del = {.method = "DELETE", .path = "/v1/customers/cus_1"};
    assert_int_equal(sl_client_request(f->client, &del, &resp), SL_OK);
    sl_response_cleanup(&resp);

    const fake_request_t *r = fake_stripe_request(f->fake, 0);
    assert_string_equal(r->method, "GET");
    assert_string_equal(r->query, "email=a%20b%40x.com&expand[0]=data.default_source");
    assert_string_equal(r->body, "");
    assert_null(fake_request_header(r, "Idempotency-Key"));
    assert_string_equal(fake_request_header(r, "Stripe-Account"), "acct_123");
    assert_string_equal(fake_request_header(r, "Stripe-Version"), "2024-06-20");
    r = fake_stripe_request(f->fake, 1);
    assert_string_equal(r->method, "DELETE");
    assert_string_equal(r->path, "/v1/customers/cus_1");
    assert_null(fake_request_header(r, "Idempotency-Key"));
    json_decref(p);
}

static void test_429_then_200_retries_once_with_same_key(void **state)
{
    fixture_t *f = *state;
    fake_stripe_push(f->fake, 429, NULL,
                     "{\"error\":{\"type\":\"invalid_request_error\",\"code\":\"rate_limit\","
                     "\"message\":\"Too many requests\"}}");
    fake_stripe_push(f->fake, 200, NULL, "{\"id\":\"cus_2\",\"object\":\"customer\"}");
    sl_request_t req = {.method = "POST", .path = "/v1/customers", .idempotency_key = "my-key-1"};
    sl_response_t resp;
    assert_int_equal(sl_client_request(f->client, &req, &resp), SL_OK);
    assert_int_equal(resp.attempts, 2);
    assert_int_equal(fake_stripe_request_count(f->fake), 2);
    assert_string_equal(fake_request_header(fake_stripe_request(f->fake, 0), "Idempotency-Key"),
                        "my-key-1");
    assert_string_equal(fake_request_header(fake_stripe_request(f->fake, 1), "Idempotency-Key"),
                        "my-key-1");
    sl_response_cleanup(&resp);
}

static void test_long_idempotency_keys_are_sent_whole_or_refused(void **state)
{
    fixture_t *f = *state;
    char key[300];
    memset(key, 'k', 255);
    key[255] = '\0';
    fake_stripe_push(f->fake, 200, NULL, "{\"id\":\"cus_1\"}");
    sl_request_t req = {.method = "POST", .path = "/v1/customers", .idempotency_key = key};
    sl_response_t resp;
    assert_int_equal(sl_client_request(f->client, &req, &resp), SL_OK);
    assert_string_equal(resp.idempotency_key, key);
    sl_response_cleanup(&resp);
    assert_string_equal(fake_request_header(fake_stripe_request(f->fake, 0), "Idempotency-Key"),
                        key);
    memset(key, 'k', 256);
    key[256] = '\0';
    assert_int_equal(sl_client_request(f->client, &req, &resp), SL_EINVAL);
    sl_response_cleanup(&resp);
    assert_int_equal(fake_stripe_request_count(f->fake), 1);
}

static void test_generated_key_is_reused_across_retries(void **state)
{
    fixture_t *f = *state;
    fake_stripe_push(f->fake, 500, NULL, "{\"error\":{\"type\":\"api_error\",\"message\":\"x\"}}");
    fake_stripe_push(f->fake, 409, NULL,
                     "{\"error\":{\"type\":\"idempotency_error\","
                     "\"message\":\"in progress\"}}");
    fake_stripe_push(f->fake, 200, NULL, "{\"id\":\"pi_1\"}");
    sl_request_t req = {.method = "POST", .path = "/v1/payment_intents"};
    sl_response_t resp;
    assert_int_equal(sl_client_request(f->client, &req, &resp), SL_OK);
    assert_int_equal(resp.attempts, 3);
    const char *k0 = fake_request_header(fake_stripe_request(f->fake, 0), "Idempotency-Key");
    assert_non_null(k0);
    for (size_t i = 1; i < 3; i++)
        assert_string_equal(fake_request_header(fake_stripe_request(f->fake, i), "Idempotency-Key"),
                            k0);
    sl_response_cleanup(&resp);
}

static void test_should_retry_false_stops_retries(void **state)
{
    fixture_t *f = *state;
    fake_stripe_push(f->fake, 500, "Stripe-Should-Retry: false\nRequest-Id: req_500",
                     "{\"error\":{\"type\":\"api_error\",\"message\":\"Something went wrong\"}}");
    fake_stripe_push(f->fake, 200, NULL, "{\"id\":\"never\"}");
    sl_request_t req = {.method = "POST", .path = "/v1/customers"};
    sl_response_t resp;
    assert_int_equal(sl_client_request(f->client, &req, &resp), SL_ESTRIPE);
    assert_int_equal(resp.attempts, 1);
    assert_int_equal(fake_stripe_request_count(f->fake), 1);
    assert_int_equal(resp.error.http_status, 500);
    assert_string_equal(resp.error.type, "api_error");
    assert_string_equal(resp.error.request_id, "req_500");
    sl_response_cleanup(&resp);
}

static void test_should_retry_true_retries_a_400(void **state)
{
    fixture_t *f = *state;
    fake_stripe_push(f->fake, 400, "Stripe-Should-Retry: true",
                     "{\"error\":{\"type\":\"invalid_request_error\",\"message\":\"lock\"}}");
    fake_stripe_push(f->fake, 200, NULL, "{\"id\":\"cus_3\"}");
    sl_request_t req = {.method = "POST", .path = "/v1/customers"};
    sl_response_t resp;
    assert_int_equal(sl_client_request(f->client, &req, &resp), SL_OK);
    assert_int_equal(resp.attempts, 2);
    sl_response_cleanup(&resp);
}

static void test_retries_are_bounded(void **state)
{
    fixture_t *f = *state;
    fake_stripe_push_ex(f->fake, 503, NULL,
                        "{\"error\":{\"type\":\"api_error\",\"message\":\"down\"}}", 0, 0, 1);
    sl_request_t req = {.method = "GET", .path = "/v1/balance"};
    sl_response_t resp;
    assert_int_equal(sl_client_request(f->client, &req, &resp), SL_ESTRIPE);
    assert_int_equal(resp.attempts, 3); /* 1 + max_retries (2) */
    assert_int_equal(fake_stripe_request_count(f->fake), 3);
    assert_int_equal(resp.error.http_status, 503);
    sl_response_cleanup(&resp);
}

static void test_retry_after_is_honoured(void **state)
{
    fixture_t *f = *state;
    fake_stripe_push(f->fake, 429, "Retry-After: 1",
                     "{\"error\":{\"type\":\"invalid_request_error\",\"message\":\"slow down\"}}");
    fake_stripe_push(f->fake, 200, NULL, "{\"id\":\"cus_4\"}");
    sl_request_t req = {.method = "GET", .path = "/v1/customers/cus_4"};
    sl_response_t resp;
    assert_int_equal(sl_client_request(f->client, &req, &resp), SL_OK);
    assert_int_equal(resp.attempts, 2);
    /* Backoff alone is capped at 100 ms here; only Retry-After makes it wait a second. */
    assert_true(resp.elapsed_ms >= 1000);
    sl_response_cleanup(&resp);
}

static void test_total_time_budget_stops_retries(void **state)
{
    fixture_t *f = *state;
    sl_client_t *c = make_client(f->fake, 5, 300);
    fake_stripe_push(f->fake, 429, "Retry-After: 2",
                     "{\"error\":{\"type\":\"invalid_request_error\",\"message\":\"slow down\"}}");
    fake_stripe_push(f->fake, 200, NULL, "{\"id\":\"never\"}");
    sl_request_t req = {.method = "GET", .path = "/v1/customers"};
    sl_response_t resp;
    assert_int_equal(sl_client_request(c, &req, &resp), SL_ESTRIPE);
    assert_int_equal(resp.attempts, 1);
    assert_int_equal(resp.error.http_status, 429);
    assert_true(resp.elapsed_ms < 1000);
    sl_response_cleanup(&resp);
    sl_client_free(c);
}

static void test_dropped_connection_is_retried(void **state)
{
    fixture_t *f = *state;
    fake_stripe_push_drop(f->fake);
    fake_stripe_push(f->fake, 200, NULL, "{\"id\":\"cus_5\"}");
    sl_request_t req = {.method = "POST", .path = "/v1/customers"};
    sl_response_t resp;
    assert_int_equal(sl_client_request(f->client, &req, &resp), SL_OK);
    assert_int_equal(resp.attempts, 2);
    assert_string_equal(fake_request_header(fake_stripe_request(f->fake, 0), "Idempotency-Key"),
                        fake_request_header(fake_stripe_request(f->fake, 1), "Idempotency-Key"));
    sl_response_cleanup(&resp);
}

static void test_network_failure_after_retries(void **state)
{
    fixture_t *f = *state;
    fake_stripe_push_ex(f->fake, 0, NULL, NULL, 0, 1, 1);
    sl_request_t req = {.method = "POST", .path = "/v1/customers"};
    sl_response_t resp;
    assert_int_equal(sl_client_request(f->client, &req, &resp), SL_ENETWORK);
    assert_int_equal(resp.attempts, 3);
    assert_int_equal(resp.status, 0);
    assert_non_null(strstr(resp.error.message, "after 3 attempts"));
    sl_response_cleanup(&resp);
}

static void test_card_error_parsed_whole(void **state)
{
    fixture_t *f = *state;
    fake_stripe_push(f->fake, 402, "Request-Id: req_card",
                     "{\"error\":{\"type\":\"card_error\",\"code\":\"card_declined\","
                     "\"decline_code\":\"insufficient_funds\",\"param\":\"payment_method\","
                     "\"message\":\"Your card has insufficient funds.\"}}");
    sl_request_t req = {.method = "POST", .path = "/v1/payment_intents/pi_1/confirm"};
    sl_response_t resp;
    assert_int_equal(sl_client_request(f->client, &req, &resp), SL_ESTRIPE);
    assert_int_equal(resp.attempts, 1);
    assert_int_equal(resp.error.http_status, 402);
    assert_string_equal(resp.error.type, "card_error");
    assert_string_equal(resp.error.code, "card_declined");
    assert_string_equal(resp.error.decline_code, "insufficient_funds");
    assert_string_equal(resp.error.param, "payment_method");
    assert_string_equal(resp.error.message, "Your card has insufficient funds.");
    assert_string_equal(resp.error.request_id, "req_card");
    sl_response_cleanup(&resp);
}

static void test_key_never_in_error_message(void **state)
{
    fixture_t *f = *state;
    fake_stripe_push(f->fake, 401, NULL,
                     "{\"error\":{\"type\":\"invalid_request_error\",\"message\":\"Invalid API "
                     "Key provided: " KEY "\"}}");
    sl_request_t req = {.method = "GET", .path = "/v1/account"};
    sl_response_t resp;
    assert_int_equal(sl_client_request(f->client, &req, &resp), SL_ESTRIPE);
    assert_null(strstr(resp.error.message, KEY));
    assert_non_null(strstr(resp.error.message, "4f2a"));
    sl_response_cleanup(&resp);
}

static void test_oversized_and_non_json_responses(void **state)
{
    fixture_t *f = *state;
    sl_client_config_t cfg;
    sl_client_config_init(&cfg);
    cfg.api_key = KEY;
    cfg.base_url = fake_stripe_url(f->fake);
    cfg.max_response_bytes = 64;
    sl_client_t *c = NULL;
    assert_int_equal(sl_client_new(&cfg, &c, NULL, 0), SL_OK);
    char big[200];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    fake_stripe_push(f->fake, 200, NULL, big);
    fake_stripe_push(f->fake, 200, "Content-Type: text/html", "<html>hi</html>");
    sl_request_t req = {.method = "GET", .path = "/v1/customers"};
    sl_response_t resp;
    assert_int_equal(sl_client_request(c, &req, &resp), SL_ETOOBIG);
    sl_response_cleanup(&resp);
    assert_int_equal(sl_client_request(c, &req, &resp), SL_EPARSE);
    assert_non_null(strstr(resp.error.message, "not JSON"));
    sl_response_cleanup(&resp);
    sl_client_free(c);
}

static void test_bad_configuration_and_requests(void **state)
{
    (void)state;
    sl_client_config_t cfg;
    sl_client_config_init(&cfg);
    sl_client_t *c = (sl_client_t *)1;
    char err[128];
    assert_int_equal(sl_client_new(&cfg, &c, err, sizeof err), SL_EINVAL);
    assert_null(c);
    assert_non_null(strstr(err, "API key"));
    cfg.api_key = KEY;
    cfg.base_url = "ftp://example";
    assert_int_equal(sl_client_new(&cfg, &c, err, sizeof err), SL_EINVAL);
    assert_non_null(strstr(err, "http://"));
    cfg.base_url = "http://";
    assert_int_equal(sl_client_new(&cfg, &c, err, sizeof err), SL_EINVAL);
    cfg.base_url = NULL;
    cfg.stripe_account = "acct_1\r\nX-Injected: yes";
    assert_int_equal(sl_client_new(&cfg, &c, err, sizeof err), SL_EINVAL);
    assert_non_null(strstr(err, "Stripe-Account"));
    cfg.stripe_account = NULL;
    cfg.api_key = "sk_test_with space";
    assert_int_equal(sl_client_new(&cfg, &c, err, sizeof err), SL_EINVAL);

    fixture_t *f = *state;
    sl_request_t req = {.method = "PATCH", .path = "/v1/customers"};
    sl_response_t resp;
    assert_int_equal(sl_client_request(f->client, &req, &resp), SL_EINVAL);
    assert_non_null(strstr(resp.error.message, "PATCH"));
    sl_response_cleanup(&resp);
    req = (sl_request_t){.method = "GET", .path = "v1/customers"};
    assert_int_equal(sl_client_request(f->client, &req, &resp), SL_EINVAL);
    sl_response_cleanup(&resp);
    req = (sl_request_t){.method = "GET", .path = "/v1/customers?x=a b"};
    assert_int_equal(sl_client_request(f->client, &req, &resp), SL_EINVAL);
    sl_response_cleanup(&resp);
    req = (sl_request_t){
        .method = "POST", .path = "/v1/customers", .idempotency_key = "k\r\nX-Injected: yes"};
    assert_int_equal(sl_client_request(f->client, &req, &resp), SL_EINVAL);
    sl_response_cleanup(&resp);
    req = (sl_request_t){.method = "GET", .path = "/v1/customers", .stripe_account = "a\nb"};
    assert_int_equal(sl_client_request(f->client, &req, &resp), SL_EINVAL);
    sl_response_cleanup(&resp);
    assert_int_equal(fake_stripe_request_count(f->fake), 0);
}

static void test_list_pages_through_three_pages(void **state)
{
    fixture_t *f = *state;
    fake_stripe_push(f->fake, 200, NULL,
                     "{\"object\":\"list\",\"has_more\":true,\"data\":[{\"id\":\"cus_1\"},"
                     "{\"id\":\"cus_2\"}]}");
    fake_stripe_push(f->fake, 200, NULL,
                     "{\"object\":\"list\",\"has_more\":true,\"data\":[{\"id\":\"cus_3\"},"
                     "{\"id\":\"cus_4\"}]}");
    fake_stripe_push(f->fake, 200, NULL,
                     "{\"object\":\"list\",\"has_more\":false,\"data\":[{\"id\":\"cus_5\"}]}");
    json_t *p = params_of("{\"limit\":2,\"email\":\"a@b.co\"}");
    sl_request_t req = {.method = "GET", .path = "/v1/customers", .params = p};
    sl_pager_t *pager = NULL;
    assert_int_equal(sl_pager_new(f->client, &req, 0, &pager), SL_OK);
    json_decref(p);
    json_t *item;
    const char *want[] = {"cus_1", "cus_2", "cus_3", "cus_4", "cus_5"};
    for (size_t i = 0; i < 5; i++) {
        assert_int_equal(sl_pager_next(pager, &item), SL_OK);
        assert_non_null(item);
        assert_string_equal(json_string_value(json_object_get(item, "id")), want[i]);
    }
    assert_int_equal(sl_pager_next(pager, &item), SL_OK);
    assert_null(item);
    assert_int_equal(sl_pager_pages(pager), 3);
    sl_pager_free(pager);
    assert_int_equal(fake_stripe_request_count(f->fake), 3);
    assert_string_equal(fake_stripe_request(f->fake, 0)->query, "limit=2&email=a%40b.co");
    assert_string_equal(fake_stripe_request(f->fake, 1)->query,
                        "limit=2&email=a%40b.co&starting_after=cus_2");
    assert_string_equal(fake_stripe_request(f->fake, 2)->query,
                        "limit=2&email=a%40b.co&starting_after=cus_4");
}

static void test_pager_bound_stops_early(void **state)
{
    fixture_t *f = *state;
    const char *page = "{\"object\":\"list\",\"has_more\":true,\"data\":[{\"id\":\"a\"},"
                       "{\"id\":\"b\"}]}";
    fake_stripe_push(f->fake, 200, NULL, page);
    fake_stripe_push(f->fake, 200, NULL, page);
    fake_stripe_push(f->fake, 200, NULL, page);
    sl_request_t req = {.method = "GET", .path = "/v1/invoices"};
    sl_pager_t *pager = NULL;
    assert_int_equal(sl_pager_new(f->client, &req, 3, &pager), SL_OK);
    json_t *item;
    size_t n = 0;
    while (sl_pager_next(pager, &item) == SL_OK && item)
        n++;
    assert_int_equal(n, 3);
    assert_int_equal(fake_stripe_request_count(f->fake), 2);
    sl_pager_free(pager);
}

static void test_search_follows_next_page(void **state)
{
    fixture_t *f = *state;
    fake_stripe_push(f->fake, 200, NULL,
                     "{\"object\":\"search_result\",\"has_more\":true,\"next_page\":\"pg_two\","
                     "\"data\":[{\"id\":\"cus_1\"}]}");
    fake_stripe_push(f->fake, 200, NULL,
                     "{\"object\":\"search_result\",\"has_more\":false,\"next_page\":null,"
                     "\"data\":[{\"id\":\"cus_2\"}]}");
    json_t *p = params_of("{\"query\":\"email:'a@b.co'\"}");
    sl_request_t req = {.method = "GET", .path = "/v1/customers/search", .params = p};
    sl_pager_t *pager = NULL;
    assert_int_equal(sl_pager_new(f->client, &req, 0, &pager), SL_OK);
    json_decref(p);
    json_t *item;
    size_t n = 0;
    while (sl_pager_next(pager, &item) == SL_OK && item)
        n++;
    assert_int_equal(n, 2);
    sl_pager_free(pager);
    assert_string_equal(fake_stripe_request(f->fake, 0)->query, "query=email%3A%27a%40b.co%27");
    assert_string_equal(fake_stripe_request(f->fake, 1)->query,
                        "query=email%3A%27a%40b.co%27&page=pg_two");
}

static void test_pager_reports_a_failed_page(void **state)
{
    fixture_t *f = *state;
    fake_stripe_push(f->fake, 200, NULL,
                     "{\"object\":\"list\",\"has_more\":true,\"data\":[{\"id\":\"a\"}]}");
    fake_stripe_push(f->fake, 400, NULL,
                     "{\"error\":{\"type\":\"invalid_request_error\","
                     "\"param\":\"starting_after\",\"message\":\"No such "
                     "object\"}}");
    sl_request_t req = {.method = "GET", .path = "/v1/invoices"};
    sl_pager_t *pager = NULL;
    assert_int_equal(sl_pager_new(f->client, &req, 0, &pager), SL_OK);
    json_t *item;
    assert_int_equal(sl_pager_next(pager, &item), SL_OK);
    assert_int_equal(sl_pager_next(pager, &item), SL_ESTRIPE);
    assert_null(item);
    assert_string_equal(sl_pager_response(pager)->error.param, "starting_after");
    sl_pager_free(pager);
}

static void test_connections_are_kept_alive(void **state)
{
    fixture_t *f = *state;
    fake_stripe_set_default(f->fake, 200, NULL, "{\"id\":\"cus_1\"}");
    sl_request_t req = {.method = "GET", .path = "/v1/customers/cus_1"};
    for (int i = 0; i < 10; i++) {
        sl_response_t resp;
        assert_int_equal(sl_client_request(f->client, &req, &resp), SL_OK);
        sl_response_cleanup(&resp);
    }
    assert_int_equal(fake_stripe_request_count(f->fake), 10);
    assert_int_equal(fake_stripe_connection_count(f->fake), 1);
}

#define THREADS 8
#define CALLS 25

static void *thread_calls(void *arg)
{
    sl_client_t *c = arg;
    long failures = 0;
    for (int i = 0; i < CALLS; i++) {
        json_t *p = json_pack("{s:i}", "n", i);
        sl_request_t req = {.method = "POST", .path = "/v1/customers", .params = p};
        sl_response_t resp;
        if (sl_client_request(c, &req, &resp) != SL_OK ||
            !json_is_string(json_object_get(resp.json, "id")))
            failures++;
        sl_response_cleanup(&resp);
        json_decref(p);
    }
    return (void *)failures;
}

static void test_one_client_many_threads(void **state)
{
    fixture_t *f = *state;
    fake_stripe_set_default(f->fake, 200, NULL, "{\"id\":\"cus_t\"}");
    pthread_t t[THREADS];
    for (int i = 0; i < THREADS; i++)
        assert_int_equal(pthread_create(&t[i], NULL, thread_calls, f->client), 0);
    for (int i = 0; i < THREADS; i++) {
        void *failures;
        pthread_join(t[i], &failures);
        assert_int_equal((long)failures, 0);
    }
    assert_int_equal(fake_stripe_request_count(f->fake), THREADS * CALLS);
    /* Every call sent its own idempotency key. */
    for (size_t i = 1; i < THREADS * CALLS; i++)
        assert_string_not_equal(
            fake_request_header(fake_stripe_request(f->fake, i - 1), "Idempotency-Key"),
            fake_request_header(fake_stripe_request(f->fake, i), "Idempotency-Key"));
    /* Connections are shared, so no more are opened than calls ever ran at once. */
    assert_in_range(fake_stripe_connection_count(f->fake), 1, THREADS);
}

static void test_rate_limit_spaces_requests(void **state)
{
    fixture_t *f = *state;
    sl_client_config_t cfg;
    sl_client_config_init(&cfg);
    cfg.api_key = KEY;
    cfg.base_url = fake_stripe_url(f->fake);
    cfg.rate_limit = 20; /* one request every 50 ms */
    sl_client_t *c = NULL;
    assert_int_equal(sl_client_new(&cfg, &c, NULL, 0), SL_OK);
    fake_stripe_set_default(f->fake, 200, NULL, "{\"id\":\"x\"}");
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (int i = 0; i < 6; i++) {
        sl_request_t req = {.method = "GET", .path = "/v1/balance"};
        sl_response_t resp;
        assert_int_equal(sl_client_request(c, &req, &resp), SL_OK);
        sl_response_cleanup(&resp);
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
    assert_true(ms >= 5 * 50 - 5); /* the first goes at once, each next 50 ms later */
    sl_client_free(c);
}

typedef struct trace_log {
    char text[8192];
} trace_log_t;

static void collect(void *ctx, const char *line)
{
    trace_log_t *l = ctx;
    strncat(l->text, line, sizeof l->text - strlen(l->text) - 2);
    strcat(l->text, "\n");
}

static void test_trace_masks_the_key(void **state)
{
    fixture_t *f = *state;
    trace_log_t log = {{0}};
    sl_client_config_t cfg;
    sl_client_config_init(&cfg);
    cfg.api_key = KEY;
    cfg.base_url = fake_stripe_url(f->fake);
    cfg.retry_initial_ms = 10;
    cfg.trace = collect;
    cfg.trace_ctx = &log;
    sl_client_t *c = NULL;
    assert_int_equal(sl_client_new(&cfg, &c, NULL, 0), SL_OK);
    fake_stripe_push(f->fake, 500, NULL, "{\"error\":{\"type\":\"api_error\",\"message\":\"x\"}}");
    fake_stripe_push(f->fake, 200, "Request-Id: req_t", "{\"id\":\"cus_1\"}");
    sl_request_t req = {.method = "POST", .path = "/v1/customers"};
    sl_response_t resp;
    assert_int_equal(sl_client_request(c, &req, &resp), SL_OK);
    sl_response_cleanup(&resp);
    sl_client_free(c);
    assert_null(strstr(log.text, KEY));
    assert_non_null(strstr(log.text, "Bearer sk_test_\xE2\x80\xA6"
                                     "4f2a"));
    assert_non_null(strstr(log.text, "> POST "));
    assert_non_null(strstr(log.text, "< 500"));
    assert_non_null(strstr(log.text, "retrying in"));
    assert_non_null(strstr(log.text, "< 200"));
    assert_non_null(strstr(log.text, "req_t"));
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_post_sends_what_stripe_expects),
        T(test_get_and_delete_use_query_without_idempotency_key),
        T(test_429_then_200_retries_once_with_same_key),
        T(test_generated_key_is_reused_across_retries),
        T(test_long_idempotency_keys_are_sent_whole_or_refused),
        T(test_should_retry_false_stops_retries),
        T(test_should_retry_true_retries_a_400),
        T(test_retries_are_bounded),
        T(test_retry_after_is_honoured),
        T(test_total_time_budget_stops_retries),
        T(test_dropped_connection_is_retried),
        T(test_network_failure_after_retries),
        T(test_card_error_parsed_whole),
        T(test_key_never_in_error_message),
        T(test_oversized_and_non_json_responses),
        T(test_bad_configuration_and_requests),
        T(test_list_pages_through_three_pages),
        T(test_pager_bound_stops_early),
        T(test_search_follows_next_page),
        T(test_pager_reports_a_failed_page),
        T(test_connections_are_kept_alive),
        T(test_one_client_many_threads),
        T(test_trace_masks_the_key),
        T(test_rate_limit_spaces_requests),
    };
    return cmocka_run_group_tests_name("client", tests, NULL, NULL);
}
