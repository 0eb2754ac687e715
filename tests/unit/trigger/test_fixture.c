/* Stripe CLI fixtures: the shape check (each error names the request and the field; references
 * only to earlier requests), a run against the fake Stripe on loopback (references to earlier
 * responses and the environment, expected errors, a stop on an unexpected one), and the
 * fixtures shipped inside sluice. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <jansson.h>

#include "core/utf8.h"
#include "fake_stripe.h"
#include "sluice/stripe.h"
#include "trigger/fixture.h"

#define KEY "sk_test_51HsecretsecretsecretsecretXYZ4f2a"

static json_t *doc_of(const char *text)
{
    json_error_t je;
    json_t *d = json_loads(text, 0, &je);
    if (!d)
        fail_msg("bad test JSON: %s: %s", je.text, text);
    return d;
}

static void check_shape(const char *text, sl_err want_rc, const char *want_err)
{
    json_t *d = doc_of(text);
    char err[512] = "";
    sl_err rc = sl__fixture_check(d, err, sizeof err);
    if (rc != want_rc)
        fail_msg("%s: rc %d (%s), want %d", text, rc, err, want_rc);
    if (want_err)
        assert_string_equal(err, want_err);
    json_decref(d);
}

#define NOT_A_FIXTURE_FILE "a fixture file is an object with a non-empty \"fixtures\" array"

static void test_check_ok(void **state)
{
    (void)state;
    check_shape(
        "{\"_meta\":{\"template_version\":0},\"fixtures\":["
        "{\"name\":\"customer\",\"path\":\"/v1/customers\",\"method\":\"POST\","
        " \"params\":{\"email\":\"${.env:EMAIL|a@b.c}\"}},"
        "{\"name\":\"invoice\",\"path\":\"/v1/invoices\",\"method\":\"post\","
        " \"params\":{\"customer\":\"${customer:id}\",\"n\":[1,{\"x\":\"${customer:a.b}\"}]}},"
        "{\"name\":\"get\",\"path\":\"/v1/invoices/${invoice:id}\",\"method\":\"get\"},"
        "{\"name\":\"del\",\"path\":\"/v1/customers/${customer:id}\",\"method\":\"Delete\","
        " \"expected_error_type\":\"invalid_request_error\"}]}",
        SL_OK, NULL);
}

static void test_check_shape_errors(void **state)
{
    (void)state;
    check_shape("[]", SL_EINVAL, NOT_A_FIXTURE_FILE);
    check_shape("{}", SL_EINVAL, NOT_A_FIXTURE_FILE);
    check_shape("{\"fixtures\":{}}", SL_EINVAL, NOT_A_FIXTURE_FILE);
    check_shape("{\"fixtures\":[]}", SL_EINVAL, NOT_A_FIXTURE_FILE);
    check_shape("{\"fixtures\":[1]}", SL_EINVAL, "fixtures[0] is not an object");
    check_shape("{\"fixtures\":[{\"path\":\"/v1/x\",\"method\":\"get\"}]}", SL_EINVAL,
                "fixtures[0] has no \"name\"");
    check_shape("{\"fixtures\":[{\"name\":\"\",\"path\":\"/v1/x\",\"method\":\"get\"}]}", SL_EINVAL,
                "fixtures[0] () has no \"name\"");
    check_shape("{\"fixtures\":[{\"name\":\"a\",\"path\":\"/v1/a\",\"method\":\"get\"},"
                "{\"name\":\"b\",\"method\":\"get\"}]}",
                SL_EINVAL, "fixtures[1] (b) has no \"path\" starting with /");
    check_shape("{\"fixtures\":[{\"name\":\"b\",\"path\":\"v1/b\",\"method\":\"get\"}]}", SL_EINVAL,
                "fixtures[0] (b) has no \"path\" starting with /");
    check_shape("{\"fixtures\":[{\"name\":\"b\",\"path\":\"/v1/b\"}]}", SL_EINVAL,
                "fixtures[0] (b) has no \"method\"");
    check_shape("{\"fixtures\":[{\"name\":\"b\",\"path\":\"/v1/b\",\"method\":\"put\"}]}",
                SL_EINVAL, "fixtures[0] (b) has a \"method\" other than get, post or delete");
    check_shape("{\"fixtures\":[{\"name\":\"b\",\"path\":\"/v1/b\",\"method\":\"get\","
                "\"params\":[1]}]}",
                SL_EINVAL, "fixtures[0] (b) has \"params\" that are not an object");
    /* A name used again is fine (the Stripe CLI's quote fixtures do): the later response
     * replaces the earlier. */
    check_shape("{\"fixtures\":[{\"name\":\"a\",\"path\":\"/v1/a\",\"method\":\"get\"},"
                "{\"name\":\"b\",\"path\":\"/v1/b\",\"method\":\"get\"},"
                "{\"name\":\"a\",\"path\":\"/v1/c/${a:id}\",\"method\":\"get\"}]}",
                SL_OK, NULL);
    /* The Stripe CLI's generated values. */
    check_shape("{\"fixtures\":[{\"name\":\"a\",\"path\":\"/v1/a\",\"method\":\"post\","
                "\"params\":{\"t\":\"${time-now-RFC3339}\",\"u\":\"id-${generate-uuid}\"}}]}",
                SL_OK, NULL);
    check_shape("{\"fixtures\":[{\"name\":\"a\",\"path\":\"/v1/a\",\"method\":\"post\","
                "\"params\":{\"t\":\"${time-now}\"}}]}",
                SL_EINVAL,
                "fixtures[0] (a): `${time-now}` is not ${name:field.path} or ${.env:VAR}");
}

/* ${time-now-RFC3339} is now in UTC; ${generate-uuid} a new UUID each time; a repeated name
 * refers to its latest response. */
static void test_subst_generated_and_repeated(void **state)
{
    (void)state;
    json_t *done = json_pack("{s:{s:s}}", "quote", "id", "qt_2");
    char err[256] = "";
    json_t *t = json_string("${time-now-RFC3339}");
    json_t *got = sl__fixture_subst(t, done, "w", err, sizeof err);
    if (!got)
        fail_msg("%s", err);
    const char *text = json_string_value(got);
    assert_int_equal(strlen(text), 20);
    assert_true(text[4] == '-' && text[10] == 'T' && text[19] == 'Z');
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    char year[8];
    strftime(year, sizeof year, "%Y", &tm);
    assert_memory_equal(text, year, 4);
    json_decref(got);
    json_decref(t);
    json_t *u = json_string("${generate-uuid}");
    json_t *u1 = sl__fixture_subst(u, done, "w", err, sizeof err);
    json_t *u2 = sl__fixture_subst(u, done, "w", err, sizeof err);
    assert_non_null(u1);
    assert_non_null(u2);
    assert_int_equal(json_string_length(u1), 36);
    assert_string_not_equal(json_string_value(u1), json_string_value(u2));
    json_decref(u1);
    json_decref(u2);
    json_decref(u);
    json_t *q = json_string("/v1/quotes/${quote:id}/accept");
    json_t *path = sl__fixture_subst(q, done, "w", err, sizeof err);
    assert_string_equal(json_string_value(path), "/v1/quotes/qt_2/accept");
    json_decref(path);
    json_decref(q);
    json_decref(done);
}

static void test_check_references(void **state)
{
    (void)state;
    /* a later request */
    check_shape("{\"fixtures\":[{\"name\":\"a\",\"path\":\"/v1/a\",\"method\":\"post\","
                "\"params\":{\"x\":\"${b:id}\"}},"
                "{\"name\":\"b\",\"path\":\"/v1/b\",\"method\":\"post\"}]}",
                SL_EINVAL,
                "fixtures[0] (a): `${b:id}` refers to `b`, which is not an earlier request");
    /* itself */
    check_shape("{\"fixtures\":[{\"name\":\"a\",\"path\":\"/v1/a/${a:id}\",\"method\":\"get\"}]}",
                SL_EINVAL,
                "fixtures[0] (a): `${a:id}` refers to `a`, which is not an earlier request");
    /* unknown, deep inside params, after a good one in the same string */
    check_shape("{\"fixtures\":[{\"name\":\"a\",\"path\":\"/v1/a\",\"method\":\"post\"},"
                "{\"name\":\"b\",\"path\":\"/v1/b\",\"method\":\"post\","
                "\"params\":{\"l\":[{\"m\":\"${a:id}-${zzz:x.y|d}\"}]}}]}",
                SL_EINVAL,
                "fixtures[1] (b): `${zzz:x.y|d}` refers to `zzz`, which is not an earlier request");
    check_shape("{\"fixtures\":[{\"name\":\"a\",\"path\":\"/v1/a\",\"method\":\"post\"},"
                "{\"name\":\"b\",\"path\":\"/v1/b\",\"method\":\"post\","
                "\"params\":{\"x\":\"${a:id\"}}]}",
                SL_EINVAL, "fixtures[1] (b): `${a:id` has ${ without its closing }");
    check_shape("{\"fixtures\":[{\"name\":\"a\",\"path\":\"/v1/a\",\"method\":\"post\"},"
                "{\"name\":\"b\",\"path\":\"/v1/b/${a}\",\"method\":\"post\"}]}",
                SL_EINVAL,
                "fixtures[1] (b): `/v1/b/${a}` is not ${name:field.path} or ${.env:VAR}");
}

/* A run against the fake Stripe. */

typedef struct fixture {
    fake_stripe_t *fake;
    sl_client_t *client;
    char steps[2048]; /* what the step callback saw */
} fixture_t;

static int setup(void **state)
{
    fixture_t *f = calloc(1, sizeof *f);
    f->fake = fake_stripe_start();
    assert_non_null(f->fake);
    sl_client_config_t cfg;
    sl_client_config_init(&cfg);
    cfg.api_key = KEY;
    cfg.base_url = fake_stripe_url(f->fake);
    cfg.max_retries = 0;
    cfg.timeout_ms = 5000;
    char err[128];
    assert_int_equal(sl_client_new(&cfg, &f->client, err, sizeof err), SL_OK);
    unsetenv("SLUICE_TEST_FIXTURE_EMAIL");
    unsetenv("SLUICE_TEST_FIXTURE_UNSET");
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture_t *f = *state;
    sl_client_free(f->client);
    fake_stripe_stop(f->fake);
    free(f);
    unsetenv("SLUICE_TEST_FIXTURE_EMAIL");
    return 0;
}

/* fuzz_fixture: the checker and the run read a reference alike (the name runs to the first ':',
 * the default from the first '|' after it), and messages stay whole UTF-8. */
static void test_subst_reads_references_as_the_check_does(void **state)
{
    (void)state;
    json_t *d = doc_of("{\"fixtures\":[{\"name\":\"a|b\",\"path\":\"/v1/a\",\"method\":\"get\"},"
                       "{\"name\":\"c\",\"path\":\"/v1/c/${a|b:id}/${a|b:x|d:e}\","
                       "\"method\":\"get\"}]}");
    char err[512] = "";
    assert_int_equal(sl__fixture_check(d, err, sizeof err), SL_OK);
    json_t *done = json_pack("{s:{s:s}}", "a|b", "id", "ab_1");
    json_t *path = sl__fixture_subst(
        json_object_get(json_array_get(json_object_get(d, "fixtures"), 1), "path"), done,
        "fixtures[1] (c)", err, sizeof err);
    if (!path)
        fail_msg("%s", err);
    assert_string_equal(json_string_value(path), "/v1/c/ab_1/d:e");
    json_decref(path);

    /* A reference too long to hold is refused, not cut; a message quoting a long string ends
     * between characters. */
    char text[2048] = "/v1/";
    for (int i = 0; i < 300; i++)
        strcat(text, "\xc3\xa9");
    strcat(text, "${a|b:");
    for (int i = 0; i < 600; i++)
        strcat(text, "x");
    strcat(text, "}");
    json_t *v = json_string(text);
    assert_null(sl__fixture_subst(v, done, "w", err, sizeof err));
    assert_string_equal(err, "w: a reference is longer than 511 bytes");
    json_decref(v);
    text[strlen(text) - 601] = '\0'; /* "...${a|b:" unclosed */
    v = json_string(text);
    assert_null(sl__fixture_subst(v, done, "w", err, sizeof err));
    assert_true(sl__utf8_valid(err));
    assert_non_null(strstr(err, "w: `/v1/"));
    json_decref(v);
    json_decref(done);
    json_decref(d);
}

static void on_step(void *ctx, const char *name, const char *method, const char *path, sl_err rc,
                    const sl_response_t *resp)
{
    fixture_t *f = ctx;
    size_t n = strlen(f->steps);
    snprintf(f->steps + n, sizeof f->steps - n, "%s %s %s %d %ld;", name, method, path, (int)rc,
             resp->status);
}

static sl_err run(fixture_t *f, const char *text, char *err, size_t errlen)
{
    json_t *d = doc_of(text);
    err[0] = '\0';
    sl_err rc = sl__fixture_run(f->client, d, on_step, f, err, errlen);
    json_decref(d);
    return rc;
}

static const char *body_of(fixture_t *f, size_t i)
{
    const fake_request_t *r = fake_stripe_request(f->fake, i);
    assert_non_null(r);
    return r->body;
}

static void test_run_references(void **state)
{
    fixture_t *f = *state;
    fake_stripe_push(f->fake, 200, NULL,
                     "{\"id\":\"cus_1\",\"email\":\"a@b.c\",\"count\":5,\"address\":null,"
                     "\"items\":{\"data\":[{\"id\":\"it_0\"},{\"id\":\"it_1\"}]},"
                     "\"meta\":{\"k\":\"v\"}}");
    fake_stripe_push(f->fake, 200, NULL, "{\"id\":\"in_1\",\"total\":1.5,\"paid\":true}");
    fake_stripe_push(f->fake, 200, NULL, "{\"id\":\"in_1\",\"object\":\"invoice\"}");
    char err[512];
    sl_err rc =
        run(f,
            "{\"fixtures\":["
            "{\"name\":\"customer\",\"path\":\"/v1/customers\",\"method\":\"post\","
            " \"params\":{\"email\":\"${.env:SLUICE_TEST_FIXTURE_EMAIL|x@example.com}\","
            "  \"metadata\":{\"n\":3,\"flag\":true,\"r\":0.5}}},"
            "{\"name\":\"invoice\",\"path\":\"/v1/invoices\",\"method\":\"post\","
            " \"params\":{\"customer\":\"${customer:id}\",\"count\":\"${customer:count}\","
            "  \"item\":\"${customer:items.data.1.id}\",\"meta\":\"${customer:meta}\","
            "  \"description\":\"for ${customer:email} in ${customer:address|nowhere}"
            " (${customer:count} items, ${customer:meta})\"}},"
            "{\"name\":\"fetch\",\"path\":\"/v1/invoices/${invoice:id}\",\"method\":\"get\","
            " \"params\":{\"expand\":[\"${invoice:total}\",\"${invoice:paid}\"]}}]}",
            err, sizeof err);
    assert_int_equal(rc, SL_OK);
    assert_string_equal(err, "");
    assert_int_equal(fake_stripe_request_count(f->fake), 3);

    const fake_request_t *r = fake_stripe_request(f->fake, 0);
    assert_string_equal(r->method, "POST");
    assert_string_equal(r->path, "/v1/customers");
    assert_string_equal(body_of(f, 0), "email=x%40example.com&metadata[n]=3&metadata[flag]=true"
                                       "&metadata[r]=0.5");
    assert_string_equal(body_of(f, 1),
                        "customer=cus_1&count=5&item=it_1&meta[k]=v&description=for%20a%40b.c"
                        "%20in%20nowhere%20%285%20items%2C%20%7B%22k%22%3A%22v%22%7D%29");
    r = fake_stripe_request(f->fake, 2);
    assert_string_equal(r->method, "GET");
    assert_string_equal(r->path, "/v1/invoices/in_1");
    assert_string_equal(r->query, "expand[0]=1.5&expand[1]=true");
    assert_string_equal(f->steps, "customer POST /v1/customers 0 200;"
                                  "invoice POST /v1/invoices 0 200;"
                                  "fetch GET /v1/invoices/in_1 0 200;");
}

static void test_run_env(void **state)
{
    fixture_t *f = *state;
    setenv("SLUICE_TEST_FIXTURE_EMAIL", "set@example.com", 1);
    fake_stripe_push(f->fake, 200, NULL, "{\"id\":\"cus_1\"}");
    char err[512];
    assert_int_equal(run(f,
                         "{\"fixtures\":[{\"name\":\"c\",\"path\":\"/v1/customers\","
                         "\"method\":\"post\",\"params\":{\"email\":"
                         "\"${.env:SLUICE_TEST_FIXTURE_EMAIL|x@example.com}\","
                         "\"name\":\"<${.env:SLUICE_TEST_FIXTURE_UNSET|}>\"}}]}",
                         err, sizeof err),
                     SL_OK);
    assert_string_equal(body_of(f, 0), "email=set%40example.com&name=%3C%3E");

    /* no value and no default: nothing is sent */
    assert_int_equal(run(f,
                         "{\"fixtures\":[{\"name\":\"c\",\"path\":\"/v1/customers\","
                         "\"method\":\"post\",\"params\":{\"email\":"
                         "\"${.env:SLUICE_TEST_FIXTURE_UNSET}\"}}]}",
                         err, sizeof err),
                     SL_EINVAL);
    assert_string_equal(err, "fixtures[0] (c): `${.env:SLUICE_TEST_FIXTURE_UNSET}`: the "
                             "environment variable SLUICE_TEST_FIXTURE_UNSET is not set");
    assert_int_equal(fake_stripe_request_count(f->fake), 1);
}

static void test_run_reference_to_nothing(void **state)
{
    fixture_t *f = *state;
    fake_stripe_push(f->fake, 200, NULL, "{\"id\":\"cus_1\",\"gone\":null,\"list\":[1]}");
    char err[512];
    const char *doc = "{\"fixtures\":["
                      "{\"name\":\"a\",\"path\":\"/v1/customers\",\"method\":\"post\"},"
                      "{\"name\":\"b\",\"path\":\"/v1/invoices\",\"method\":\"post\","
                      " \"params\":{\"x\":\"%s\"}},"
                      "{\"name\":\"c\",\"path\":\"/v1/never\",\"method\":\"post\"}]}";
    const char *refs[][2] = {
        {"${a:missing}", "fixtures[1] (b): `${a:missing}`: the response of `a` has no missing"},
        {"x-${a:gone}", "fixtures[1] (b): `${a:gone}`: the response of `a` has no gone"},
        {"${a:list.1}", "fixtures[1] (b): `${a:list.1}`: the response of `a` has no list.1"},
        {"${a:list.x}", "fixtures[1] (b): `${a:list.x}`: the response of `a` has no list.x"},
        {"${a:id.deeper}",
         "fixtures[1] (b): `${a:id.deeper}`: the response of `a` has no id.deeper"},
    };
    for (size_t i = 0; i < sizeof refs / sizeof *refs; i++) {
        char text[1024];
        snprintf(text, sizeof text, doc, refs[i][0]);
        if (i)
            fake_stripe_push(f->fake, 200, NULL, "{\"id\":\"cus_1\",\"gone\":null,\"list\":[1]}");
        assert_int_equal(run(f, text, err, sizeof err), SL_EINVAL);
        assert_string_equal(err, refs[i][1]);
        assert_int_equal(fake_stripe_request_count(f->fake), i + 1); /* b and c never sent */
    }
}

static void test_run_expected_error(void **state)
{
    fixture_t *f = *state;
    fake_stripe_push(f->fake, 402, NULL,
                     "{\"error\":{\"type\":\"card_error\",\"code\":\"card_declined\","
                     "\"message\":\"Your card was declined.\"}}");
    fake_stripe_push(f->fake, 200, NULL, "{\"id\":\"ok_1\"}");
    char err[512];
    assert_int_equal(run(f,
                         "{\"fixtures\":["
                         "{\"name\":\"declined\",\"path\":\"/v1/payment_intents\","
                         " \"method\":\"post\",\"expected_error_type\":\"card_error\"},"
                         "{\"name\":\"after\",\"path\":\"/v1/customers\",\"method\":\"post\","
                         " \"params\":{\"note\":\"${declined:error.code}\"}}]}",
                         err, sizeof err),
                     SL_OK);
    assert_int_equal(fake_stripe_request_count(f->fake), 2);
    assert_string_equal(body_of(f, 1), "note=card_declined");
    assert_string_equal(f->steps, "declined POST /v1/payment_intents -5 402;"
                                  "after POST /v1/customers 0 200;");
}

static void test_run_expected_error_mismatch(void **state)
{
    fixture_t *f = *state;
    fake_stripe_push(f->fake, 400, NULL,
                     "{\"error\":{\"type\":\"invalid_request_error\",\"message\":\"No such "
                     "price\"}}");
    char err[512];
    const char *doc = "{\"fixtures\":["
                      "{\"name\":\"pay\",\"path\":\"/v1/payment_intents\",\"method\":\"post\","
                      " \"expected_error_type\":\"card_error\"},"
                      "{\"name\":\"never\",\"path\":\"/v1/customers\",\"method\":\"post\"}]}";
    assert_int_equal(run(f, doc, err, sizeof err), SL_ESTRIPE);
    assert_string_equal(err, "fixtures[0] (pay): expected a card_error error, got "
                             "invalid_request_error: No such price");
    assert_int_equal(fake_stripe_request_count(f->fake), 1);

    /* As in the Stripe CLI, an expected error is allowed, not required: a success goes on. */
    fake_stripe_push(f->fake, 200, NULL, "{\"id\":\"pi_1\"}");
    fake_stripe_push(f->fake, 200, NULL, "{\"id\":\"cus_1\"}");
    assert_int_equal(run(f, doc, err, sizeof err), SL_OK);
    assert_int_equal(fake_stripe_request_count(f->fake), 3);
}

static void test_run_stops_on_error(void **state)
{
    fixture_t *f = *state;
    fake_stripe_push(f->fake, 200, NULL, "{\"id\":\"cus_1\"}");
    fake_stripe_push(f->fake, 400, NULL,
                     "{\"error\":{\"type\":\"invalid_request_error\",\"message\":\"Missing "
                     "required param: currency.\"}}");
    fake_stripe_push(f->fake, 200, NULL, "{\"id\":\"never\"}");
    char err[512];
    assert_int_equal(run(f,
                         "{\"fixtures\":["
                         "{\"name\":\"a\",\"path\":\"/v1/customers\",\"method\":\"post\"},"
                         "{\"name\":\"b\",\"path\":\"/v1/prices\",\"method\":\"post\","
                         " \"params\":{\"product\":\"${a:id}\"}},"
                         "{\"name\":\"c\",\"path\":\"/v1/x\",\"method\":\"post\"}]}",
                         err, sizeof err),
                     SL_ESTRIPE);
    assert_string_equal(err, "fixtures[1] (b): POST /v1/prices: Missing required param: "
                             "currency.");
    assert_int_equal(fake_stripe_request_count(f->fake), 2);
    assert_string_equal(f->steps, "a POST /v1/customers 0 200;b POST /v1/prices -5 400;");
}

static void test_run_refuses_bad_shape(void **state)
{
    fixture_t *f = *state;
    char err[512];
    assert_int_equal(run(f,
                         "{\"fixtures\":[{\"name\":\"a\",\"path\":\"/v1/a\",\"method\":\"post\","
                         "\"params\":{\"x\":\"${b:id}\"}}]}",
                         err, sizeof err),
                     SL_EINVAL);
    assert_string_equal(
        err, "fixtures[0] (a): `${b:id}` refers to `b`, which is not an earlier request");
    assert_int_equal(fake_stripe_request_count(f->fake), 0);
    assert_string_equal(f->steps, "");
}

/* The shipped fixtures. */

static int echo_id(const fake_request_t *r, char **body, void *ctx)
{
    size_t *n = ctx;
    char buf[128];
    snprintf(buf, sizeof buf, "{\"id\":\"obj_%zu\",\"object\":\"thing\"}", (*n)++);
    (void)r;
    *body = strdup(buf);
    return 200;
}

static void test_shipped(void **state)
{
    fixture_t *f = *state;
    size_t n = sl__fixture_shipped_count();
    assert_true(n > 0);
    assert_null(sl__fixture_shipped_name(n));
    assert_null(sl__fixture_shipped("no.such.event"));
    assert_null(sl__fixture_shipped(""));

    size_t served = 0;
    fake_stripe_set_responder(f->fake, echo_id, &served);
    for (size_t i = 0; i < n; i++) {
        const char *name = sl__fixture_shipped_name(i);
        assert_non_null(name);
        const char *text = sl__fixture_shipped(name);
        assert_non_null(text);

        /* the same text as fixtures/NAME.json */
        char path[1024];
        snprintf(path, sizeof path, "%s/fixtures/%s.json", SLUICE_SOURCE_DIR, name);
        json_error_t je;
        json_t *file = json_load_file(path, 0, &je);
        if (!file)
            fail_msg("%s: %s", path, je.text);
        json_t *d = json_loads(text, 0, &je);
        assert_non_null(d);
        assert_true(json_equal(file, d));
        json_decref(file);

        char err[512] = "";
        if (sl__fixture_check(d, err, sizeof err) != SL_OK)
            fail_msg("%s: %s", name, err);

        /* each runs to the end when every answer has an id (an expected error may not come) */
        sl_err rc = sl__fixture_run(f->client, d, NULL, NULL, err, sizeof err);
        if (rc != SL_OK)
            fail_msg("%s: %s", name, err);
        json_decref(d);
    }
    assert_true(served >= n);
    assert_non_null(sl__fixture_shipped("customer.created"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_check_ok),
        cmocka_unit_test(test_check_shape_errors),
        cmocka_unit_test(test_check_references),
        cmocka_unit_test(test_subst_reads_references_as_the_check_does),
        cmocka_unit_test(test_subst_generated_and_repeated),
        cmocka_unit_test_setup_teardown(test_run_references, setup, teardown),
        cmocka_unit_test_setup_teardown(test_run_env, setup, teardown),
        cmocka_unit_test_setup_teardown(test_run_reference_to_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_run_expected_error, setup, teardown),
        cmocka_unit_test_setup_teardown(test_run_expected_error_mismatch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_run_stops_on_error, setup, teardown),
        cmocka_unit_test_setup_teardown(test_run_refuses_bad_shape, setup, teardown),
        cmocka_unit_test_setup_teardown(test_shipped, setup, teardown),
    };
    return cmocka_run_group_tests_name("fixture", tests, NULL, NULL);
}
