/* The operation catalog: lookups, validation, every operation's example call routed through a
 * recording fake server, and every seed alias mapped to the right request.
 * Usage: test_catalog tests/data/catalog_examples.json */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fake_stripe.h"
#include "sluice/catalog.h"
#include "stripe/catalog.h"

static const char *examples_path;

static void test_lookup(void **state)
{
    (void)state;
    assert_int_equal(sl_op_count(), 468);
    for (size_t i = 0; i < sl_op_count(); i++) {
        const sl_op_t *op = sl_op_at(i);
        assert_ptr_equal(sl_op_find(sl_op_name(op)), op);
        if (i)
            assert_true(strcmp(sl_op_name(sl_op_at(i - 1)), sl_op_name(op)) < 0);
    }
    assert_null(sl_op_at(468));
    assert_null(sl_op_find("customers.frobnicate"));
    struct {
        const char *name, *method, *path;
    } want[] = {
        {"customers.create", "POST", "/v1/customers"},
        {"customers.retrieve", "GET", "/v1/customers/{customer}"},
        {"customers.update", "POST", "/v1/customers/{customer}"},
        {"customers.delete", "DELETE", "/v1/customers/{customer}"},
        {"customers.list", "GET", "/v1/customers"},
        {"customers.search", "GET", "/v1/customers/search"},
        {"invoices.finalize", "POST", "/v1/invoices/{invoice}/finalize"},
        {"payment_intents.confirm", "POST", "/v1/payment_intents/{intent}/confirm"},
        {"checkout.sessions.create", "POST", "/v1/checkout/sessions"},
        {"billing_portal.sessions.create", "POST", "/v1/billing_portal/sessions"},
        {"customers.tax_ids.create", "POST", "/v1/customers/{customer}/tax_ids"},
        {"customers.tax_ids.retrieve", "GET", "/v1/customers/{customer}/tax_ids/{id}"},
        {"subscriptions.cancel", "DELETE", "/v1/subscriptions/{subscription_exposed_id}"},
        {"accounts.login_links.create", "POST", "/v1/accounts/{account}/login_links"},
        {"account.retrieve", "GET", "/v1/account"},
        {"invoices.upcoming", "GET", "/v1/invoices/upcoming"},
    };
    for (size_t i = 0; i < sizeof want / sizeof *want; i++) {
        const sl_op_t *op = sl_op_find(want[i].name);
        if (!op)
            fail_msg("no operation %s", want[i].name);
        assert_string_equal(sl_op_method(op), want[i].method);
        assert_string_equal(sl_op_path(op), want[i].path);
    }
    const sl_op_t *op = sl_op_find("customers.tax_ids.retrieve");
    assert_int_equal(sl_op_path_param_count(op), 2);
    assert_string_equal(sl_op_path_param(op, 0), "customer");
    assert_string_equal(sl_op_path_param(op, 1), "id");
    assert_string_equal(sl_op_response(sl_op_find("customers.list")), "list of customer");
    assert_string_equal(sl_op_suggest("custmers.create"), "customers.create");
    assert_string_equal(sl_op_suggest("find-custmer"), "find-customer");
    assert_null(sl_op_suggest("zzzzzzzzzzzz"));
}

static void test_event_types(void **state)
{
    (void)state;
    assert_int_equal(sl_event_type_count(), 223);
    assert_true(sl_event_type_known("invoice.paid"));
    assert_true(sl_event_type_known("customer.subscription.trial_will_end"));
    assert_true(sl_event_type_known("*"));
    assert_false(sl_event_type_known("invoice.nope"));
    for (size_t i = 0; i < sl_event_type_count(); i++)
        assert_true(strlen(sl_event_type_description(i)) > 3);
}

static void assert_rejects(const char *op, const char *params, const char *want)
{
    char err[512] = "";
    json_t *p = json_loads(params, 0, NULL);
    assert_non_null(p);
    assert_int_equal(sl_op_validate(sl_op_find(op), p, err, sizeof err), SL_EINVAL);
    if (!strstr(err, want))
        fail_msg("%s %s: message \"%s\" lacks \"%s\"", op, params, err, want);
    json_decref(p);
}

static void assert_accepts(const char *op, const char *params)
{
    char err[512] = "";
    json_t *p = json_loads(params, 0, NULL);
    assert_non_null(p);
    if (sl_op_validate(sl_op_find(op), p, err, sizeof err) != SL_OK)
        fail_msg("%s %s rejected: %s", op, params, err);
    json_decref(p);
}

static void test_validation_rejects(void **state)
{
    (void)state;
    assert_rejects("customers.create", "{\"emial\":\"a@b.co\"}",
                   "customers.create: unknown parameter `emial` (did you mean `email`?)");
    assert_rejects("customers.create", "{\"zzz\":\"1\"}", "unknown parameter `zzz`");
    assert_rejects("prices.create", "{}", "prices.create: missing required parameter `currency`");
    assert_rejects("customers.create", "{\"balance\":\"abc\"}",
                   "`balance` must be an integer, not `abc`");
    assert_rejects("customers.create", "{\"balance\":1.5}", "`balance` must be an integer");
    assert_rejects("products.create", "{\"name\":\"x\",\"shippable\":\"yes\"}",
                   "`shippable` must be a boolean (true or false), not `yes`");
    assert_rejects("customers.create", "{\"tax_exempt\":\"foo\"}",
                   "`tax_exempt` must be one of exempt, none, reverse; not `foo`");
    assert_rejects("customers.create", "{\"metadata\":[\"x\"]}",
                   "`metadata` must be an object (metadata[KEY]=VALUE), not an array");
    assert_rejects("customers.create", "{\"address\":{\"cty\":\"x\"}}",
                   "unknown parameter `address[cty]` (did you mean `address[city]`?)");
    assert_rejects("checkout.sessions.create",
                   "{\"success_url\":\"u\",\"line_items\":[{\"quantity\":\"two\"}]}",
                   "`line_items[0][quantity]` must be an integer, not `two`");
    assert_rejects("customers.create", "{\"email\":{\"a\":\"b\"}}",
                   "`email` must be a string, not an object");
    assert_rejects("invoices.list", "{\"created\":{\"gt\":\"soon\"}}",
                   "`created[gt]` must be an integer, not `soon`");
    assert_rejects("coupons.create", "{\"percent_off\":\"ten\"}",
                   "`percent_off` must be a number, not `ten`");
}

static void test_validation_accepts(void **state)
{
    (void)state;
    assert_accepts("customers.create", "{}");
    assert_accepts("customers.create", "{\"email\":\"a@b.co\",\"balance\":\"-500\","
                                       "\"metadata\":{\"any\":\"thing\"},\"address\":\"\"}");
    assert_accepts("customers.create", "{\"balance\":-500,\"metadata\":\"\"}");
    assert_accepts("prices.create", "{\"currency\":\"usd\",\"unit_amount\":\"1200\","
                                    "\"recurring\":{\"interval\":\"month\"}}");
    assert_accepts("checkout.sessions.create",
                   "{\"success_url\":\"u\",\"mode\":\"payment\",\"line_items\":{\"0\":{\"price\":"
                   "\"p\",\"quantity\":\"2\"}},\"expand\":[\"customer\"]}");
    assert_accepts("invoices.list", "{\"created\":\"1700000000\",\"limit\":3}");
    assert_accepts("invoices.list", "{\"created\":{\"gt\":1700000000}}");
    assert_accepts("coupons.create", "{\"percent_off\":\"12.5\",\"duration\":\"once\"}");
    assert_accepts("products.create", "{\"name\":\"x\",\"shippable\":true}");
    /* stripe-python 6 sends booleans as Python writes them; Stripe takes them. */
    assert_accepts("products.create", "{\"name\":\"x\",\"shippable\":\"True\"}");
    assert_accepts("tax_rates.create", "{\"display_name\":\"VAT\",\"percentage\":\"20\","
                                       "\"inclusive\":\"False\"}");
}

static void test_coerce_types_booleans_in_any_case(void **state)
{
    (void)state;
    json_t *p = json_loads("{\"name\":\"x\",\"shippable\":\"True\",\"active\":\"FALSE\"}", 0, NULL);
    json_t *typed = sl__op_coerce(sl_op_find("products.create"), p);
    assert_true(json_is_true(json_object_get(typed, "shippable")));
    assert_true(json_is_false(json_object_get(typed, "active")));
    assert_string_equal(json_string_value(json_object_get(typed, "name")), "x");
    json_decref(typed);
    json_decref(p);
}

static void test_call_init_fills_path_parameters(void **state)
{
    (void)state;
    char err[256];
    sl_op_call_t call;
    json_t *p = json_pack("{s:s,s:s}", "id", "cus 1/2", "name", "Jenny");
    assert_int_equal(sl_op_call_init(&call, sl_op_find("customers.update"), p, 1, err, sizeof err),
                     SL_OK);
    assert_string_equal(call.req.method, "POST");
    assert_string_equal(call.req.path, "/v1/customers/cus%201%2F2");
    assert_null(json_object_get(call.params, "id"));
    assert_string_equal(json_string_value(json_object_get(call.params, "name")), "Jenny");
    sl_op_call_cleanup(&call);
    json_decref(p);

    p = json_pack("{s:s,s:s}", "customer", "cus_1", "id", "txi_2");
    assert_int_equal(
        sl_op_call_init(&call, sl_op_find("customers.tax_ids.retrieve"), p, 1, err, sizeof err),
        SL_OK);
    assert_string_equal(call.req.path, "/v1/customers/cus_1/tax_ids/txi_2");
    assert_int_equal(json_object_size(call.params), 0);
    sl_op_call_cleanup(&call);
    json_decref(p);

    p = json_pack("{s:s}", "id", "txi_2");
    assert_int_equal(
        sl_op_call_init(&call, sl_op_find("customers.tax_ids.retrieve"), p, 1, err, sizeof err),
        SL_EINVAL);
    assert_non_null(strstr(err, "missing path parameter `customer`"));
    sl_op_call_cleanup(&call);
    json_decref(p);
}

/* Every operation's example call: validates, and arrives at the right method and path with
 * the right encoded parameters. */
static void test_every_operation_routes(void **state)
{
    (void)state;
    json_error_t jerr;
    json_t *examples = json_load_file(examples_path, 0, &jerr);
    if (!examples)
        fail_msg("%s: %s", examples_path, jerr.text);
    assert_int_equal(json_array_size(examples), sl_op_count());
    fake_stripe_t *fake = fake_stripe_start();
    fake_stripe_set_default(fake, 200, NULL, "{\"id\":\"x\"}");
    sl_client_config_t cfg;
    sl_client_config_init(&cfg);
    cfg.api_key = "sk_test_catalog";
    cfg.base_url = fake_stripe_url(fake);
    cfg.max_retries = 0;
    sl_client_t *client = NULL;
    assert_int_equal(sl_client_new(&cfg, &client, NULL, 0), SL_OK);

    size_t i;
    json_t *ex;
    json_array_foreach(examples, i, ex)
    {
        const char *name = json_string_value(json_object_get(ex, "name"));
        const sl_op_t *op = sl_op_find(name);
        if (!op)
            fail_msg("example %s has no operation", name);
        char err[512];
        sl_op_call_t call;
        sl_err rc = sl_op_call_init(&call, op, json_object_get(ex, "params"), 1, err, sizeof err);
        if (rc)
            fail_msg("%s: example rejected: %s", name, err);
        sl_response_t resp;
        rc = sl_client_request(client, &call.req, &resp);
        if (rc)
            fail_msg("%s: %s", name, resp.error.message);
        sl_response_cleanup(&resp);

        const fake_request_t *r = fake_stripe_request(fake, i);
        assert_string_equal(r->method, json_string_value(json_object_get(ex, "method")));
        assert_string_equal(r->path, json_string_value(json_object_get(ex, "path")));
        char *want = NULL;
        assert_int_equal(sl_form_encode(call.params, &want), SL_OK);
        assert_string_equal(strcmp(r->method, "POST") == 0 ? r->body : r->query, want);
        for (size_t k = 0; k < sl_op_path_param_count(op); k++)
            assert_null(json_object_get(call.params, sl_op_path_param(op, k)));
        free(want);
        sl_op_call_cleanup(&call);
    }
    assert_int_equal(fake_stripe_request_count(fake), sl_op_count());
    sl_client_free(client);
    fake_stripe_stop(fake);
    json_decref(examples);
}

static void test_aliases_table(void **state)
{
    (void)state;
    assert_int_equal(sl_alias_count(), 50);
    for (size_t i = 0; i < sl_alias_count(); i++) {
        const sl_alias_t *a = sl_alias_at(i);
        if (!sl_alias_op(a))
            fail_msg("alias %s names no operation", sl_alias_name(a));
        if (i)
            assert_true(strcmp(sl_alias_name(sl_alias_at(i - 1)), sl_alias_name(a)) < 0);
        assert_ptr_equal(sl_alias_find(sl_alias_name(a)), a);
        assert_ptr_equal(sl_alias_find(sl_alias_title(a)), a); /* "Find Customer" */
    }
    assert_ptr_equal(sl_alias_find("FIND_CUSTOMER"), sl_alias_find("find-customer"));
    assert_ptr_equal(sl_alias_find("  Find   Customer "), sl_alias_find("find-customer"));
    assert_null(sl_alias_find("find-dragon"));
}

typedef struct alias_case {
    const char *alias;
    const char *params; /* JSON */
    const char *reply;  /* scripted reply body, NULL for {"id":"x"} */
    const char *method;
    const char *path;
    const char *form; /* the body (POST) or query (else) */
} alias_case_t;

static const alias_case_t alias_cases[] = {
    {"search-invoice", "{\"query\":\"status:'open'\"}", NULL, "GET", "/v1/invoices/search",
     "query=status%3A%27open%27"},
    {"create-invoice", "{\"customer\":\"cus_1\"}", NULL, "POST", "/v1/invoices", "customer=cus_1"},
    {"update-invoice", "{\"id\":\"in_1\",\"description\":\"d\"}", NULL, "POST", "/v1/invoices/in_1",
     "description=d"},
    {"find-invoice", "{\"id\":\"in_1\"}", NULL, "GET", "/v1/invoices/in_1", ""},
    {"delete-invoice", "{\"id\":\"in_1\"}", NULL, "DELETE", "/v1/invoices/in_1", ""},
    {"finalize-invoice", "{\"id\":\"in_1\"}", NULL, "POST", "/v1/invoices/in_1/finalize", ""},
    {"mark-invoice-as-uncollectible", "{\"id\":\"in_1\"}", NULL, "POST",
     "/v1/invoices/in_1/mark_uncollectible", ""},
    {"pay-invoice", "{\"id\":\"in_1\"}", NULL, "POST", "/v1/invoices/in_1/pay", ""},
    {"create-price", "{\"currency\":\"usd\",\"unit_amount\":\"500\",\"product\":\"prod_1\"}", NULL,
     "POST", "/v1/prices", "currency=usd&unit_amount=500&product=prod_1"},
    {"update-price", "{\"id\":\"price_1\",\"nickname\":\"n\"}", NULL, "POST", "/v1/prices/price_1",
     "nickname=n"},
    {"find-price", "{\"id\":\"price_1\"}", NULL, "GET", "/v1/prices/price_1", ""},
    {"search-price", "{\"query\":\"active:'true'\"}", NULL, "GET", "/v1/prices/search",
     "query=active%3A%27true%27"},
    {"archive-price", "{\"id\":\"price_1\"}", NULL, "POST", "/v1/prices/price_1", "active=false"},
    {"create-product", "{\"name\":\"Pro\"}", NULL, "POST", "/v1/products", "name=Pro"},
    {"update-product", "{\"id\":\"prod_1\",\"name\":\"P\"}", NULL, "POST", "/v1/products/prod_1",
     "name=P"},
    {"find-product", "{\"id\":\"prod_1\"}", NULL, "GET", "/v1/products/prod_1", ""},
    {"search-product", "{\"query\":\"name~'pro'\"}", NULL, "GET", "/v1/products/search",
     "query=name~%27pro%27"},
    {"delete-product", "{\"id\":\"prod_1\"}", NULL, "DELETE", "/v1/products/prod_1", ""},
    {"create-customer", "{\"email\":\"a@b.co\"}", NULL, "POST", "/v1/customers", "email=a%40b.co"},
    {"update-customer", "{\"id\":\"cus_1\",\"name\":\"J\"}", NULL, "POST", "/v1/customers/cus_1",
     "name=J"},
    {"find-customer", "{\"id\":\"cus_1\"}", NULL, "GET", "/v1/customers/cus_1", ""},
    {"find-customer", "{\"email\":\"jenny@example.com\"}",
     "{\"object\":\"list\",\"has_more\":false,\"data\":[{\"id\":\"cus_9\",\"object\":\"customer\"}]"
     "}",
     "GET", "/v1/customers", "email=jenny%40example.com&limit=1"},
    {"find-customer", "{\"id\":\"jenny@example.com\"}",
     "{\"object\":\"list\",\"has_more\":false,\"data\":[{\"id\":\"cus_9\",\"object\":\"customer\"}]"
     "}",
     "GET", "/v1/customers", "email=jenny%40example.com&limit=1"},
    {"delete-customer", "{\"id\":\"cus_1\"}", NULL, "DELETE", "/v1/customers/cus_1", ""},
    {"create-subscription", "{\"customer\":\"cus_1\",\"items\":[{\"price\":\"price_1\"}]}", NULL,
     "POST", "/v1/subscriptions", "customer=cus_1&items[0][price]=price_1"},
    {"update-subscription", "{\"id\":\"sub_1\",\"description\":\"d\"}", NULL, "POST",
     "/v1/subscriptions/sub_1", "description=d"},
    {"find-subscription", "{\"id\":\"sub_1\"}", NULL, "GET", "/v1/subscriptions/sub_1", ""},
    {"find-subscription", "{\"id\":\"si_1\"}", NULL, "GET", "/v1/subscription_items/si_1", ""},
    {"cancel-subscription", "{\"id\":\"sub_1\"}", NULL, "DELETE", "/v1/subscriptions/sub_1", ""},
    {"search-subscription", "{\"query\":\"status:'active'\"}", NULL, "GET",
     "/v1/subscriptions/search", "query=status%3A%27active%27"},
    {"create-coupon", "{\"percent_off\":\"10\",\"duration\":\"once\"}", NULL, "POST", "/v1/coupons",
     "percent_off=10&duration=once"},
    {"update-coupon", "{\"id\":\"co_1\",\"name\":\"C\"}", NULL, "POST", "/v1/coupons/co_1",
     "name=C"},
    {"find-coupon", "{\"id\":\"co_1\"}", NULL, "GET", "/v1/coupons/co_1", ""},
    {"delete-coupon", "{\"id\":\"co_1\"}", NULL, "DELETE", "/v1/coupons/co_1", ""},
    {"create-payment-intent", "{\"amount\":\"500\",\"currency\":\"usd\"}", NULL, "POST",
     "/v1/payment_intents", "amount=500&currency=usd"},
    {"update-payment-intent", "{\"id\":\"pi_1\",\"description\":\"d\"}", NULL, "POST",
     "/v1/payment_intents/pi_1", "description=d"},
    {"find-payment-intent", "{\"id\":\"pi_1\"}", NULL, "GET", "/v1/payment_intents/pi_1", ""},
    {"cancel-payment-intent", "{\"id\":\"pi_1\"}", NULL, "POST", "/v1/payment_intents/pi_1/cancel",
     ""},
    {"retrieve-event", "{\"id\":\"evt_1\"}", NULL, "GET", "/v1/events/evt_1", ""},
    {"get-account", "{}", NULL, "GET", "/v1/account", ""},
    {"get-account", "{\"id\":\"acct_1\"}", NULL, "GET", "/v1/accounts/acct_1", ""},
    {"create-checkout-session",
     "{\"success_url\":\"https://x.co/ok\",\"mode\":\"payment\",\"line_items\":[{\"price\":"
     "\"price_1\",\"quantity\":\"1\"}]}",
     NULL, "POST", "/v1/checkout/sessions",
     "success_url=https%3A%2F%2Fx.co%2Fok&mode=payment&line_items[0][price]=price_1&"
     "line_items[0][quantity]=1"},
    {"create-an-invoice", "{\"customer\":\"cus_1\"}", NULL, "POST", "/v1/invoices",
     "customer=cus_1"},
    {"create-a-payment-link", "{\"line_items\":[{\"price\":\"price_1\",\"quantity\":\"1\"}]}", NULL,
     "POST", "/v1/payment_links", "line_items[0][price]=price_1&line_items[0][quantity]=1"},
    {"create-a-product", "{\"name\":\"Pro\"}", NULL, "POST", "/v1/products", "name=Pro"},
    {"confirm-a-payment-intent", "{\"id\":\"pi_1\",\"payment_method\":\"pm_card_visa\"}", NULL,
     "POST", "/v1/payment_intents/pi_1/confirm", "payment_method=pm_card_visa"},
    {"create-a-customer", "{\"name\":\"J\"}", NULL, "POST", "/v1/customers", "name=J"},
    {"create-a-payment-intent", "{\"amount\":\"1\",\"currency\":\"eur\"}", NULL, "POST",
     "/v1/payment_intents", "amount=1&currency=eur"},
    {"create-a-price", "{\"currency\":\"usd\",\"unit_amount\":\"5\",\"product\":\"prod_1\"}", NULL,
     "POST", "/v1/prices", "currency=usd&unit_amount=5&product=prod_1"},
    {"create-a-subscription", "{\"customer\":\"cus_1\",\"items\":[{\"price\":\"p\"}]}", NULL,
     "POST", "/v1/subscriptions", "customer=cus_1&items[0][price]=p"},
    {"update-a-customer", "{\"id\":\"cus_1\",\"email\":\"x@y.z\"}", NULL, "POST",
     "/v1/customers/cus_1", "email=x%40y.z"},
    {"list-invoices", "{\"limit\":\"3\"}", NULL, "GET", "/v1/invoices", "limit=3"},
    {"get-customer", "{\"id\":\"cus_1\"}", NULL, "GET", "/v1/customers/cus_1", ""},
    {"create-card", "{\"id\":\"cus_1\",\"source\":\"tok_visa\"}", NULL, "POST",
     "/v1/customers/cus_1/sources", "source=tok_visa"},
};

static void test_every_alias_maps_to_its_request(void **state)
{
    (void)state;
    fake_stripe_t *fake = fake_stripe_start();
    sl_client_config_t cfg;
    sl_client_config_init(&cfg);
    cfg.api_key = "sk_test_alias";
    cfg.base_url = fake_stripe_url(fake);
    cfg.max_retries = 0;
    sl_client_t *client = NULL;
    assert_int_equal(sl_client_new(&cfg, &client, NULL, 0), SL_OK);
    int covered[64] = {0};
    size_t n = sizeof alias_cases / sizeof *alias_cases;
    for (size_t i = 0; i < n; i++) {
        const alias_case_t *c = &alias_cases[i];
        fake_stripe_push(fake, 200, NULL, c->reply ? c->reply : "{\"id\":\"x\"}");
        json_t *p = json_loads(c->params, 0, NULL);
        sl_response_t resp;
        char err[512];
        sl_err rc = sl_action_call(client, c->alias, p, 1, NULL, &resp, err, sizeof err);
        if (rc)
            fail_msg("%s %s: %s", c->alias, c->params, err);
        if (c->reply) /* a lookup: the match itself comes back */
            assert_string_equal(json_string_value(json_object_get(resp.json, "id")), "cus_9");
        sl_response_cleanup(&resp);
        json_decref(p);
        const fake_request_t *r = fake_stripe_request(fake, i);
        if (strcmp(r->method, c->method) || strcmp(r->path, c->path))
            fail_msg("%s: sent %s %s, wanted %s %s", c->alias, r->method, r->path, c->method,
                     c->path);
        const char *form = strcmp(r->method, "POST") == 0 ? r->body : r->query;
        if (strcmp(form, c->form))
            fail_msg("%s: sent `%s`, wanted `%s`", c->alias, form, c->form);
        for (size_t k = 0; k < sl_alias_count(); k++)
            if (sl_alias_find(c->alias) == sl_alias_at(k))
                covered[k] = 1;
    }
    for (size_t k = 0; k < sl_alias_count(); k++)
        if (!covered[k])
            fail_msg("alias %s has no case", sl_alias_name(sl_alias_at(k)));

    /* Not found by email: a clear error, nothing else sent. */
    fake_stripe_push(fake, 200, NULL, "{\"object\":\"list\",\"has_more\":false,\"data\":[]}");
    json_t *p = json_pack("{s:s}", "email", "nobody@example.com");
    sl_response_t resp;
    char err[512];
    assert_int_equal(sl_action_call(client, "find-customer", p, 1, NULL, &resp, err, sizeof err),
                     SL_ENOTFOUND);
    assert_non_null(strstr(err, "no customer has the email `nobody@example.com`"));
    sl_response_cleanup(&resp);
    json_decref(p);
    assert_int_equal(fake_stripe_request_count(fake), n + 1);

    /* Validation happens before sending, for aliases too. */
    p = json_pack("{s:s}", "emial", "a@b.co");
    assert_int_equal(sl_action_call(client, "Create Customer", p, 1, NULL, &resp, err, sizeof err),
                     SL_EINVAL);
    assert_non_null(strstr(err, "unknown parameter `emial`"));
    sl_response_cleanup(&resp);
    assert_int_equal(sl_action_call(client, "nope.nope", p, 1, NULL, &resp, err, sizeof err),
                     SL_ENOTFOUND);
    sl_response_cleanup(&resp);
    json_decref(p);
    assert_int_equal(fake_stripe_request_count(fake), n + 1);
    sl_client_free(client);
    fake_stripe_stop(fake);
}

static void test_describe(void **state)
{
    (void)state;
    json_t *d = sl_op_describe(sl_op_find("prices.create"));
    assert_string_equal(json_string_value(json_object_get(d, "method")), "POST");
    const json_t *params = json_object_get(d, "params");
    const json_t *first = json_array_get(params, 0);
    assert_string_equal(json_string_value(json_object_get(first, "name")), "currency");
    assert_true(json_is_true(json_object_get(first, "required")));
    int found_enum = 0;
    for (size_t i = 0; i < json_array_size(params); i++) {
        const json_t *p = json_array_get(params, i);
        if (strcmp(json_string_value(json_object_get(p, "name")), "tax_behavior") == 0)
            found_enum = json_array_size(json_object_get(p, "enum")) == 3;
    }
    assert_true(found_enum);
    json_decref(d);
}

/* What a flow file's checker asks: a call checked as sl_action_call() would check it, without
 * sending, with templates standing for any value and the parameter at fault named. */
static int braces(const json_t *v)
{
    return json_is_string(v) && strstr(json_string_value(v), "{{") != NULL;
}

static void action_check(const char *name, const char *params, const char *where,
                         const char *err_part)
{
    json_t *p = json_loads(params, 0, NULL);
    assert_non_null(p);
    char w[256] = "x", err[512] = "";
    sl_err rc = sl__action_check(name, p, braces, w, sizeof w, err, sizeof err);
    json_decref(p);
    if (!where) {
        if (rc != SL_OK)
            fail_msg("%s %s: %s", name, params, err);
        return;
    }
    if (rc == SL_OK)
        fail_msg("%s %s was taken", name, params);
    assert_string_equal(w, where);
    if (!strstr(err, err_part))
        fail_msg("%s %s: `%s` does not say `%s`", name, params, err, err_part);
}

static void test_action_check(void **state)
{
    (void)state;
    action_check("invoices.list", "{\"status\": \"{{ $.s }}\", \"limit\": \"{{ $.n }}\"}", NULL,
                 NULL);
    action_check("invoices.list", "{\"status\": \"opn\"}", "status", "must be one of");
    action_check("prices.create", "{\"currency\": \"usd\", \"recurring\": {\"interval\": 3}}",
                 "recurring[interval]", "must be one of");
    action_check("prices.create", "{\"currency\": \"{{ $.c }}\", \"recurring\": \"{{ $.r }}\"}",
                 NULL, NULL);
    action_check("customers.create", "{\"emial\": \"a@b.co\"}", "emial", "did you mean `email`");
    action_check("customers.retrieve", "{}", "", "missing path parameter `customer`");
    action_check("customers.retrieve", "{\"id\": \"{{ $.id }}\"}", NULL, NULL);
    action_check("find-customer", "{\"email\": \"{{ $.e }}\"}", NULL, NULL);
    action_check("find-customer", "{\"email\": \"jenny@example.com\", \"limit\": 3}", NULL, NULL);
    action_check("find-customer", "{}", "", "give id=cus_... or email=...");
    action_check("find-subscription", "{\"id\": \"si_1\", \"expand\": \"x\"}", "expand",
                 "must be an array");
    action_check("get-account", "{}", NULL, NULL);
    action_check("archive-price", "{\"id\": \"price_1\"}", NULL, NULL);
    char err[256];
    assert_int_equal(sl__action_check("nope.nope", NULL, braces, NULL, 0, err, sizeof err),
                     SL_ENOTFOUND);
}

int main(int argc, char **argv)
{
    examples_path = argc > 1 ? argv[1] : "tests/data/catalog_examples.json";
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lookup),
        cmocka_unit_test(test_event_types),
        cmocka_unit_test(test_validation_rejects),
        cmocka_unit_test(test_validation_accepts),
        cmocka_unit_test(test_coerce_types_booleans_in_any_case),
        cmocka_unit_test(test_call_init_fills_path_parameters),
        cmocka_unit_test(test_every_operation_routes),
        cmocka_unit_test(test_aliases_table),
        cmocka_unit_test(test_every_alias_maps_to_its_request),
        cmocka_unit_test(test_describe),
        cmocka_unit_test(test_action_check),
    };
    return cmocka_run_group_tests_name("catalog", tests, NULL, NULL);
}
