/* Flow files (loading, checking, positions), event patterns, cron, and the scheduler with an
 * injected clock. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "flow/engine.h"
#include "flow/flow.h"
#include "store/store.h"

static char dir[64];

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/sluice-flowtest-XXXXXX");
    assert_non_null(mkdtemp(dir));
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
    return 0;
}

static void write_file(const char *name, const char *text)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

/* Loads dir/name and returns all its problems joined by newlines (caller frees). */
static char *problems(const char *name, const char *text)
{
    write_file(name, text);
    char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    json_t *errors = json_array();
    sl_flow_t f;
    sl__flow_load(path, &f, errors);
    sl__flow_cleanup(&f);
    size_t cap = 1;
    for (size_t i = 0; i < json_array_size(errors); i++)
        cap += strlen(json_string_value(json_array_get(errors, i))) + 1;
    char *out = calloc(1, cap);
    for (size_t i = 0; i < json_array_size(errors); i++) {
        strcat(out, json_string_value(json_array_get(errors, i)));
        strcat(out, "\n");
    }
    json_decref(errors);
    return out;
}

static void expect_problem(const char *text, const char *where, const char *what)
{
    char *got = problems("f.yaml", text);
    char want[256];
    snprintf(want, sizeof want, "%s/f.yaml:%s: ", dir, where);
    int ok = strstr(got, want) && strstr(got, what);
    if (!ok)
        print_error("wanted `%s...%s`, got:\n%s", want, what, got);
    free(got);
    assert_true(ok);
}

static const char *const good = "name: ok\n"
                                "connection: shop\n"
                                "trigger: [invoice.*, customer.created]\n"
                                "steps:\n"
                                "  - id: get\n"
                                "    stripe: find-customer\n"
                                "    with: {id: \"{{ $.trigger.data.object.customer }}\"}\n"
                                "  - id: each\n"
                                "    loop: $.trigger.data.object.lines.data\n"
                                "    steps:\n"
                                "      - id: v\n"
                                "        set: {amount: \"{{ $.item.amount }}\"}\n";

static void loads_a_good_flow(void **state)
{
    (void)state;
    char *got = problems("good.yaml", good);
    assert_string_equal(got, "");
    free(got);
    char path[256];
    snprintf(path, sizeof path, "%s/good.yaml", dir);
    sl_flow_t f;
    json_t *errors = json_array();
    assert_int_equal(sl__flow_load(path, &f, errors), SL_OK);
    assert_string_equal(f.name, "ok");
    assert_int_equal(f.trigger, SL_TRIGGER_EVENTS);
    assert_true(sl__flow_wants(&f, "invoice.paid", "shop"));
    assert_true(sl__flow_wants(&f, "customer.created", "shop"));
    assert_false(sl__flow_wants(&f, "customer.updated", "shop"));
    assert_false(sl__flow_wants(&f, "invoiceitem.created", "shop"));
    assert_false(sl__flow_wants(&f, "invoice.paid", "other-connection"));
    sl__flow_cleanup(&f);
    json_decref(errors);
}

static void json_flows_load_too(void **state)
{
    (void)state;
    char *got = problems("j.json", "{\"name\": \"j\", \"trigger\": \"manual\", \"steps\": "
                                   "[{\"id\": \"a\", \"set\": {\"x\": 1}}]}");
    assert_string_equal(got, "");
    free(got);
}

static void reports_problems_with_line_and_column(void **state)
{
    (void)state;
    expect_problem("name: x\ntrigger: manual\nsteps:\n  - id: a\n    sned: {}\n", "4:5",
                   "unknown step kind `sned`");
    expect_problem("name: x\nconnection: s\ntrigger: manual\nsteps:\n  - id: a\n"
                   "    stripe: customers.craete\n",
                   "6:13", "did you mean `customers.create`");
    expect_problem("name: x\nconnection: s\ntrigger: manual\nsteps:\n  - id: a\n"
                   "    stripe: customers.create\n    with: {emial: a@b.co}\n",
                   "7:19",
                   "step `a`, with.emial: customers.create: unknown parameter `emial` (did you "
                   "mean `email`?)");
    expect_problem("name: x\ntrigger: manual\nsteps:\n  - id: a\n    set: 1\n  - id: a\n"
                   "    set: 2\n",
                   "6:9", "step id `a` is used twice");
    expect_problem("name: x\ntrigger: manual\nsteps:\n  - id: a\n    filter: $.x ==\n", "5:13",
                   "filter:");
    expect_problem("name: x\ntrigger: manual\nsteps:\n  - id: a\n    set: \"{{ $.x \"\n", "5:10",
                   "");
    expect_problem("name: x\ntrigger: invoice.payed\nconnection: s\nsteps:\n  - id: a\n"
                   "    set: 1\n",
                   "2:10", "`invoice.payed` is not a Stripe event type");
    expect_problem("name: x\ntrigger: {schedule: \"61 * * * *\"}\nsteps:\n  - id: a\n    set: 1\n",
                   "2:21", "not a valid minute");
    expect_problem("name: x\ntrigger: manual\nsteps: []\n", "3:8", "non-empty list");
    expect_problem("name: x\ntrigger: manual\nsteps:\n  - id: a\n    email: {to: x@y.z}\n", "5:12",
                   "needs `subject`");
    expect_problem("name: [\n", "2:1", "");
}

/* The YAML reader's bounds reach `sluice flows validate` and `serve` with the file's name: the
 * billion laughs is refused at the alias that crosses the bound, a file over 1 MiB unread. */
static void bounded_files(void **state)
{
    (void)state;
    char t[1024];
    int n = snprintf(t, sizeof t, "name: lol\ntrigger: manual\nx:\n  a: &a [x,x,x,x,x,x,x,x,x]\n");
    for (int i = 1; i <= 8; i++) {
        n += snprintf(t + n, sizeof t - (size_t)n, "  %c: &%c [", 'a' + i, 'a' + i);
        for (int j = 0; j < 9; j++)
            n += snprintf(t + n, sizeof t - (size_t)n, "%s*%c", j ? "," : "", 'a' + i - 1);
        n += snprintf(t + n, sizeof t - (size_t)n, "]\n");
    }
    snprintf(t + n, sizeof t - (size_t)n, "steps:\n  - id: s\n    set: 1\n");
    expect_problem(t, "9:10", "aliases expand to more than 100000 nodes");

    size_t big = (1u << 20) + 1;
    char *text = malloc(big + 1);
    assert_non_null(text);
    memset(text, '#', big);
    memcpy(text, "name: big\ntrigger: manual\nsteps:\n  - {id: a, set: 1}\n", 53);
    text[big] = '\0';
    char *got = problems("big.yaml", text);
    char want[256];
    snprintf(want, sizeof want, "%s/big.yaml: larger than 1 MiB (the limit of a flow file)\n", dir);
    assert_string_equal(got, want);
    free(got);
    text[big - 1] = '\0'; /* at the limit: read */
    got = problems("big.yaml", text);
    assert_string_equal(got, "");
    free(got);
    free(text);
}

/* $.steps.ID must name a step that runs before the one reading it: one that does not exist, comes
 * later or is the step itself is refused at load, with the step, the field and a suggestion. */
static void reads_of_steps_are_checked(void **state)
{
    (void)state;
    expect_problem("name: x\nconnection: s\ntrigger: manual\nsteps:\n"
                   "  - id: get-customer\n    stripe: find-customer\n    with: {id: cus_1}\n"
                   "  - id: remind\n    email:\n      to: \"{{ $.steps.get-custmer.email }}\"\n"
                   "      subject: hi\n      text: hello\n",
                   "10:11",
                   "step `remind`, email.to: there is no step `get-custmer` "
                   "($.steps.get-custmer); did you mean `get-customer`?");
    expect_problem(
        "name: x\ntrigger: manual\nsteps:\n  - id: a\n    set: {v: \"{{ $.steps.b }}\"}\n"
        "  - id: b\n    set: 1\n",
        "5:14", "step `a`, set.v: step `b` comes later (line 6:9), so it has not run yet");
    expect_problem("name: x\ntrigger: manual\nsteps:\n  - id: a\n    filter: $.steps.a.passed\n",
                   "5:13",
                   "step `a`, filter: $.steps.a is the step itself, which has no output yet");
    /* in a loop's body, a later sibling has not run in the first iteration */
    expect_problem("name: x\ntrigger: manual\nsteps:\n  - id: each\n    loop: $.input.list\n"
                   "    steps:\n      - id: a\n        if: \"$['steps']['b'] > 1\"\n"
                   "        then: [{id: c, set: 1}]\n      - id: b\n        set: 2\n",
                   "8:13", "step `a`, if: step `b` comes later");
    /* inside filters and function arguments, and with a default: still a mistake */
    expect_problem("name: x\ntrigger: manual\nsteps:\n  - id: a\n    set: 1\n  - id: b\n"
                   "    loop: \"$.input.list[?(@.id == $.steps.nope.id)]\"\n"
                   "    steps: [{id: c, set: \"{{ lower($.steps.zz ?? 'none') }}\"}]\n",
                   "7:11", "step `b`, loop: there is no step `nope` ($.steps.nope)\n");
    expect_problem("name: x\ntrigger: manual\nsteps:\n  - id: a\n    set: 1\n  - id: b\n"
                   "    loop: \"$.input.list[?(@.id == $.steps.nope.id)]\"\n"
                   "    steps: [{id: c, set: \"{{ lower($.steps.zz ?? 'none') }}\"}]\n",
                   "8:26", "step `c`, set: there is no step `zz` ($.steps.zz)\n");
    expect_problem(
        "name: x\nconnection: s\ntrigger: manual\nsteps:\n"
        "  - id: get\n    stripe: customers.retrieve\n"
        "    with: {customer: \"{{ $.steps.gett.id }}\", expand: [\"{{ $.steps.q }}\"]}\n",
        "7:56", "step `get`, with.expand[0]: there is no step `q` ($.steps.q)\n");

    /* what runs before may be read: earlier steps, the loop or if around a step, a step inside
     * a loop or branch from after it; other roots and whole $.steps are not step reads */
    char *got = problems(
        "ok.yaml", "name: x\ntrigger: manual\nsteps:\n  - id: first\n    set: 1\n"
                   "  - id: each\n    loop: \"{{ $.input.list }}\"\n    steps:\n"
                   "      - id: inner\n        set: \"{{ $.steps.each.value }}\"\n"
                   "      - id: choose\n        if: $.steps.inner && $.steps.first\n"
                   "        then:\n          - id: deep\n"
                   "            set: \"{{ $.steps.choose.branch }} {{ $.steps.each.index }}\"\n"
                   "  - id: after\n    set: \"{{ $.steps.deep }} {{ $.steps.inner }} {{ "
                   "$.steps }} {{ $.steps[0] }} {{ $.trigger.steps.nope }} {{ $..later }}\"\n"
                   "  - id: later\n    set: \"$.steps.nope is text here\"\n");
    assert_string_equal(got, "");
    free(got);
}

/* A stripe step's parameters go through the catalog's validation, the one `sluice call` and
 * the run use: names, types, enums, required and path parameters are checked where the value is
 * written out; a {{ template }} stands for any value. */
static void stripe_parameters_are_checked(void **state)
{
    (void)state;
#define STRIPE_STEP(op, with)                                                                      \
    "name: x\nconnection: s\ntrigger: manual\nsteps:\n  - id: call\n    stripe: " op               \
    "\n    with: " with "\n"
    expect_problem(STRIPE_STEP("invoices.list", "{status: opn, limit: 3}"), "7:20",
                   "step `call`, with.status: invoices.list: `status` must be one of draft, open, "
                   "paid, uncollectible, void; not `opn`");
    expect_problem(STRIPE_STEP("list-invoices", "{limit: ten}"), "7:19",
                   "step `call`, with.limit: invoices.list: `limit` must be an integer, not `ten`");
    expect_problem(STRIPE_STEP("products.create",
                               "\n      name: p\n      default_price_data:\n"
                               "        currency: usd\n        unit_amount: [1]"),
                   "11:22",
                   "step `call`, with.default_price_data.unit_amount: products.create: "
                   "`default_price_data[unit_amount]` must be an integer, not an array");
    expect_problem(STRIPE_STEP("prices.create", "{unit_amount: 5, product: prod_1}"), "7:11",
                   "step `call`, with.currency: prices.create: missing required parameter "
                   "`currency`");
    expect_problem(STRIPE_STEP("customers.retrieve", "{expand: [sources]}"), "7:11",
                   "step `call`, with: customers.retrieve: missing path parameter `customer`");
    expect_problem("name: x\nconnection: s\ntrigger: manual\nsteps:\n  - id: call\n"
                   "    stripe: customers.retrieve\n",
                   "5:5",
                   "step `call`, with: customers.retrieve: missing path parameter `customer`");
    expect_problem(STRIPE_STEP("find-customer", "{expand: [x], limit: 2}"), "7:11",
                   "step `call`, with: find-customer: give id=cus_... or email=...");
    expect_problem(STRIPE_STEP("customers.create", "{metadata: {a: 1}, tax_exempt: \"{{ $.x }}\", "
                                                   "invoice_settings: {footer: [\"{{ $.y }}\"]}}"),
                   "7:82",
                   "step `call`, with.invoice_settings.footer: customers.create: "
                   "`invoice_settings[footer]` must be a string");

    /* templates stand for any value; path parameters by name or as id; the actions' own ids */
    static const char *const ok[] = {
        STRIPE_STEP("invoices.list",
                    "{status: \"{{ $.input.status }}\", limit: \"{{ $.input.n }}\"}"),
        STRIPE_STEP("invoices.list", "{status: open, limit: \"10\", created: {gte: 1700000000}}"),
        STRIPE_STEP("customers.retrieve", "{customer: cus_1, expand: [sources]}"),
        STRIPE_STEP("customers.update", "{id: \"{{ $.trigger.data.object.customer }}\", "
                                        "metadata: {plan: pro}, name: \"{{ $.input.name }}\"}"),
        STRIPE_STEP("find-customer", "{email: \"{{ $.trigger.data.object.email }}\"}"),
        STRIPE_STEP("find-customer", "{email: jenny@example.com}"),
        STRIPE_STEP("find-subscription", "{id: si_123}"),
        STRIPE_STEP("archive-price", "{id: price_1}"),
        STRIPE_STEP("get-account", "{}"),
        STRIPE_STEP("prices.create", "\"{{ $.input }}\""),
    };
    for (size_t i = 0; i < sizeof ok / sizeof *ok; i++) {
        char *got = problems("ok.yaml", ok[i]);
        if (i + 1 == sizeof ok / sizeof *ok)
            assert_non_null(strstr(got, "`with` holds the parameters as a mapping"));
        else if (*got)
            fail_msg("%s\ngave: %s", ok[i], got);
        free(got);
    }
#undef STRIPE_STEP
}

/* With the store's connections known (`sluice flows validate` when there is a store), a flow's
 * connection must be one of them; without, it is not checked (it may be added later). */
static void connections_are_checked_when_known(void **state)
{
    (void)state;
    write_file("c.yaml", "name: c\nconnection: shpo\ntrigger: invoice.paid\nsteps:\n"
                         "  - {id: a, set: 1}\n");
    char path[256], want[512];
    snprintf(path, sizeof path, "%s/c.yaml", dir);
    json_t *errors = json_array();
    sl_flow_t f;
    json_t *names = json_pack("[s,s]", "shop", "other");
    sl_flow_known_t known = {names};
    assert_int_equal(sl__flow_load_known(path, &known, &f, errors), SL_EINVAL);
    sl__flow_cleanup(&f);
    assert_int_equal(json_array_size(errors), 1);
    snprintf(want, sizeof want,
             "%s:2:13: connection: there is no connection `shpo` in the store; did you mean "
             "`shop`? (`sluice connect list` shows them)",
             path);
    assert_string_equal(json_string_value(json_array_get(errors, 0)), want);

    /* the same through a directory; none near; none at all */
    json_array_clear(errors);
    sl_flows_t flows;
    assert_int_equal(sl__flows_load_dir_known(dir, &known, &flows, errors), SL_EINVAL);
    assert_int_equal(flows.n, 0);
    sl__flows_free(&flows);
    assert_int_equal(json_array_size(errors), 1);
    json_array_clear(errors);
    json_array_clear(names);
    json_array_append_new(names, json_string("billing"));
    assert_int_equal(sl__flow_load_known(path, &known, &f, errors), SL_EINVAL);
    sl__flow_cleanup(&f);
    assert_non_null(strstr(json_string_value(json_array_get(errors, 0)),
                           "there is no connection `shpo` in the store (`sluice connect list` "
                           "shows them; `sluice connect add shpo --key KEY` adds it)"));
    json_array_clear(errors);
    json_array_clear(names);
    assert_int_equal(sl__flow_load_known(path, &known, &f, errors), SL_EINVAL);
    sl__flow_cleanup(&f);
    assert_non_null(
        strstr(json_string_value(json_array_get(errors, 0)), "the store has no connections yet"));

    /* known, or not checked */
    json_array_clear(errors);
    json_array_append_new(names, json_string("shpo"));
    assert_int_equal(sl__flow_load_known(path, &known, &f, errors), SL_OK);
    sl__flow_cleanup(&f);
    json_array_clear(names);
    sl_flow_known_t unknown = {NULL};
    assert_int_equal(sl__flow_load_known(path, &unknown, &f, errors), SL_OK);
    sl__flow_cleanup(&f);
    assert_int_equal(sl__flow_load_known(path, NULL, &f, errors), SL_OK);
    sl__flow_cleanup(&f);
    write_file("c.yaml", "name: c\ntrigger: manual\nsteps:\n  - {id: a, set: 1}\n");
    assert_int_equal(sl__flow_load_known(path, &known, &f, errors), SL_OK); /* uses none */
    sl__flow_cleanup(&f);
    assert_int_equal(json_array_size(errors), 0);
    json_decref(names);
    json_decref(errors);
}

/* A flow's `max_steps` bounds the steps of one run (the engine counts them): a whole number
 * up to 1,000,000, 100,000 when the file gives none. */
static void max_steps(void **state)
{
    (void)state;
    char path[256];
    json_t *errors = json_array();
    sl_flow_t f;
    write_file("m.yaml", "name: m\ntrigger: manual\nsteps:\n  - {id: a, set: 1}\n");
    snprintf(path, sizeof path, "%s/m.yaml", dir);
    assert_int_equal(sl__flow_load(path, &f, errors), SL_OK);
    assert_int_equal(f.max_steps, 100000);
    sl__flow_cleanup(&f);
    write_file("m.yaml",
               "name: m\ntrigger: manual\nmax_steps: 1000000\nsteps:\n  - {id: a, set: 1}\n");
    assert_int_equal(sl__flow_load(path, &f, errors), SL_OK);
    assert_int_equal(f.max_steps, 1000000);
    sl__flow_cleanup(&f);
    write_file("m.yaml", "name: m\ntrigger: manual\nmax_steps: 1\nsteps:\n  - {id: a, set: 1}\n");
    assert_int_equal(sl__flow_load(path, &f, errors), SL_OK);
    assert_int_equal(f.max_steps, 1);
    sl__flow_cleanup(&f);
    assert_int_equal(json_array_size(errors), 0);
    json_decref(errors);

    static const char *const bad[] = {"0", "-5", "1000001", "1.5", "\"100\"", "[1]", "null"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        char text[256];
        snprintf(text, sizeof text,
                 "name: m\ntrigger: manual\nmax_steps: %s\nsteps:\n  - {id: a, set: 1}\n", bad[i]);
        expect_problem(text, "3:12", "`max_steps` is a whole number from 1 to 1000000");
    }
}

/* The file's max_steps is the budget the engine counts a run's steps against. */
static void max_steps_bounds_the_run(void **state)
{
    (void)state;
    write_file("few.yaml", "name: few\ntrigger: manual\nmax_steps: 50\nsteps:\n"
                           "  - id: each\n    loop: $.input.list\n    steps:\n"
                           "      - id: s\n        set: 1\n");
    sl_flows_t flows;
    json_t *errors = json_array();
    assert_int_equal(sl__flows_load_dir(dir, &flows, errors), SL_OK);
    json_decref(errors);
    char uri[128], err[512], id[64];
    snprintf(uri, sizeof uri, "sqlite:%s/few.db", dir);
    sl_store_t *store = NULL;
    assert_int_equal(sl_store_open(uri, &store, err, sizeof err), SL_OK);
    sl_engine_config_t cfg = {store, NULL, &flows, 0, 0, 0, 0, 0, 0};
    sl_engine_t *e = NULL;
    assert_int_equal(sl__engine_start(&cfg, &e, err, sizeof err), SL_OK);
    json_t *list = json_array();
    for (int i = 0; i < 60; i++) /* 1 + 60 steps */
        json_array_append_new(list, json_integer(i));
    json_t *input = json_pack("{s:o}", "list", list);
    assert_int_equal(sl__engine_queue(e, "few", NULL, input, id, sizeof id, err, sizeof err),
                     SL_OK);
    json_decref(input);
    int here = 0;
    assert_int_equal(sl__engine_execute_id(e, id, &here, err, sizeof err), SL_EINTERNAL);
    assert_non_null(strstr(err, "step budget of 50 steps"));
    sl__engine_stop(e);
    sl_store_close(store);
    sl__flows_free(&flows);
}

static void patterns(void **state)
{
    (void)state;
    assert_true(sl__event_pattern_matches("*", "charge.succeeded"));
    assert_true(sl__event_pattern_matches("invoice.*", "invoice.payment_failed"));
    assert_true(
        sl__event_pattern_matches("customer.subscription.*", "customer.subscription.created"));
    assert_false(sl__event_pattern_matches("invoice.*", "invoiceitem.created"));
    assert_false(sl__event_pattern_matches("invoice.paid", "invoice.payment_succeeded"));
}

static time_t utc(int y, int mo, int d, int h, int mi, int s)
{
    struct tm tm = {.tm_year = y - 1900,
                    .tm_mon = mo - 1,
                    .tm_mday = d,
                    .tm_hour = h,
                    .tm_min = mi,
                    .tm_sec = s};
    return timegm(&tm);
}

/* fuzz_flow: a problem quoting a long value was cut inside a character, jansson refused it,
 * and the file failed with no problem listed; a long connection name was cut to another. */
static void problems_survive_long_values(void **state)
{
    (void)state;
    char text[4096] = "name: e\nconnection: shop\ntrigger: \"x";
    for (int i = 0; i < 600; i++)
        strcat(text, "\xc3\xa9");
    strcat(text, "\"\nsteps:\n  - id: s\n    set: 1\n");
    json_t *errors = json_array();
    sl_flow_t f;
    assert_int_equal(sl__flow_load_text("f.yaml", text, strlen(text), &f, errors), SL_EINVAL);
    assert_int_equal(json_array_size(errors), 1);
    assert_non_null(strstr(json_string_value(json_array_get(errors, 0)), "f.yaml:3:10: `x"));
    sl__flow_cleanup(&f);
    json_array_clear(errors);

    char conn[71];
    memset(conn, 'c', 70);
    conn[70] = '\0';
    snprintf(text, sizeof text,
             "name: e\nconnection: %s\ntrigger: manual\nsteps:\n  - id: s\n    set: 1\n", conn);
    assert_int_equal(sl__flow_load_text("f.yaml", text, strlen(text), &f, errors), SL_EINVAL);
    assert_non_null(strstr(json_string_value(json_array_get(errors, 0)), "at most 63"));
    sl__flow_cleanup(&f);
    json_decref(errors);
}

static void cron(void **state)
{
    (void)state;
    sl_cron_t c;
    char err[256];
    assert_int_equal(sl__cron_parse("0 9 * * 1", &c, err, sizeof err), SL_OK);
    assert_true(sl__cron_matches(&c, utc(2026, 11, 23, 9, 0, 30))); /* a Monday */
    assert_false(sl__cron_matches(&c, utc(2026, 11, 24, 9, 0, 0))); /* Tuesday */
    assert_false(sl__cron_matches(&c, utc(2026, 11, 23, 9, 1, 0)));
    assert_int_equal(sl__cron_parse("*/15 8-17 * * *", &c, err, sizeof err), SL_OK);
    assert_true(sl__cron_matches(&c, utc(2026, 1, 1, 8, 45, 0)));
    assert_false(sl__cron_matches(&c, utc(2026, 1, 1, 18, 0, 0)));
    assert_int_equal(sl__cron_parse("0 0 1,15 * 7", &c, err, sizeof err), SL_OK);
    assert_true(sl__cron_matches(&c, utc(2026, 11, 15, 0, 0, 0)));  /* the 15th */
    assert_true(sl__cron_matches(&c, utc(2026, 11, 22, 0, 0, 0)));  /* a Sunday */
    assert_false(sl__cron_matches(&c, utc(2026, 11, 23, 0, 0, 0))); /* neither */
    assert_int_equal(sl__cron_parse("@daily", &c, err, sizeof err), SL_OK);
    assert_true(sl__cron_matches(&c, utc(2026, 3, 3, 0, 0, 59)));
    assert_int_equal(sl__cron_parse("0 9 * *", &c, err, sizeof err), SL_EINVAL);
    assert_non_null(strstr(err, "five fields"));
    assert_int_equal(sl__cron_parse("0 24 * * *", &c, err, sizeof err), SL_EINVAL);
    assert_non_null(strstr(err, "hour"));
    /* fuzz_cron: what strtol and sscanf let through. */
    static const char *const bad[] = {"+5 * * * *", "-0 * * * *", "1,,2 * * * *",
                                      ",5 * * * *", "0- * * * *", "5-+7 * * * *"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        if (sl__cron_parse(bad[i], &c, err, sizeof err) != SL_EINVAL)
            fail_msg("cron `%s` was taken", bad[i]);
    /* A field past 127 characters was split in two: "0000...05 * * *" read as "0 5 * * *". */
    char longf[256];
    memset(longf, '0', 130);
    snprintf(longf + 130, sizeof longf - 130, "5 * * *");
    assert_int_equal(sl__cron_parse(longf, &c, err, sizeof err), SL_EINVAL);
    assert_non_null(strstr(err, "longer than 127"));
    assert_int_equal(sl__cron_parse(" 0\t9 * * 1-5/2 ", &c, err, sizeof err), SL_OK);
    assert_int_equal(c.dow, 0x2a);
}

static void schedules_fire_once_per_matching_minute(void **state)
{
    (void)state;
    write_file("daily.yaml", "name: daily\ntrigger: {schedule: \"0 9 * * *\"}\n"
                             "steps:\n  - id: a\n    set: 1\n");
    write_file("off.yaml", "name: off\nenabled: false\ntrigger: {schedule: \"* * * * *\"}\n"
                           "steps:\n  - id: a\n    set: 1\n");
    sl_flows_t flows;
    json_t *errors = json_array();
    assert_int_equal(sl__flows_load_dir(dir, &flows, errors), SL_OK);
    json_decref(errors);
    char uri[128], err[512];
    snprintf(uri, sizeof uri, "sqlite:%s/s.db", dir);
    sl_store_t *store = NULL;
    assert_int_equal(sl_store_open(uri, &store, err, sizeof err), SL_OK);
    sl_engine_config_t cfg = {store, NULL, &flows, 0, 0, 0, 0, 0, 0};
    sl_engine_t *e = NULL;
    assert_int_equal(sl__engine_start(&cfg, &e, err, sizeof err), SL_OK);
    assert_int_equal(sl__engine_schedule_tick(e, utc(2026, 11, 23, 8, 59, 30)), 0);
    assert_int_equal(sl__engine_schedule_tick(e, utc(2026, 11, 23, 9, 0, 10)), 1);
    assert_int_equal(sl__engine_schedule_tick(e, utc(2026, 11, 23, 9, 0, 50)), 0);
    assert_int_equal(sl__engine_schedule_tick(e, utc(2026, 11, 23, 12, 0, 0)), 0);
    /* Down over the next 09:00: it fires once when sluice is back. */
    assert_int_equal(sl__engine_schedule_tick(e, utc(2026, 11, 24, 10, 30, 0)), 1);
    /* Disabled in the store: nothing. */
    assert_int_equal(sl_store_flow_enabled_put(store, "daily", 0, err, sizeof err), SL_OK);
    sl__engine_refresh(e);
    assert_int_equal(sl__engine_schedule_tick(e, utc(2026, 11, 25, 9, 0, 0)), 0);
    sl_run_filter_t f = {.flow = "daily", .limit = 10};
    json_t *runs = NULL;
    assert_int_equal(sl_store_runs_list(store, &f, &runs, err, sizeof err), SL_OK);
    assert_int_equal(json_array_size(runs), 2);
    json_t *in = json_object_get(json_array_get(runs, 1), "input");
    assert_int_equal(json_integer_value(json_object_get(in, "scheduled_at")),
                     utc(2026, 11, 23, 9, 0, 0));
    json_decref(runs);
    f.flow = "off";
    assert_int_equal(sl_store_runs_list(store, &f, &runs, err, sizeof err), SL_OK);
    assert_int_equal(json_array_size(runs), 0);
    json_decref(runs);
    sl__engine_stop(e);
    sl_store_close(store);
    sl__flows_free(&flows);
}

static void manual_runs_execute_and_record_every_step(void **state)
{
    (void)state;
    write_file("m.yaml", "name: m\ntrigger: manual\nsteps:\n"
                         "  - id: total\n    set: \"{{ $.input.a + $.input.b }}\"\n"
                         "  - id: big\n    if: $.steps.total > 10\n"
                         "    then:\n      - id: yes\n        set: big\n"
                         "    else:\n      - id: no\n        set: small\n"
                         "  - id: each\n    loop: $.input.list\n    steps:\n"
                         "      - id: twice\n        set: \"{{ $.item * 2 }}\"\n"
                         "  - id: stop\n    filter: $.input.go\n"
                         "  - id: never\n    set: 1\n");
    sl_flows_t flows;
    json_t *errors = json_array();
    assert_int_equal(sl__flows_load_dir(dir, &flows, errors), SL_OK);
    json_decref(errors);
    char uri[128], err[512], id[64];
    snprintf(uri, sizeof uri, "sqlite:%s/m.db", dir);
    sl_store_t *store = NULL;
    assert_int_equal(sl_store_open(uri, &store, err, sizeof err), SL_OK);
    sl_engine_config_t cfg = {store, NULL, &flows, 0, 0, 0, 0, 0, 0};
    sl_engine_t *e = NULL;
    assert_int_equal(sl__engine_start(&cfg, &e, err, sizeof err), SL_OK);
    json_t *input = json_pack("{s:i,s:i,s:[i,i,i],s:b}", "a", 4, "b", 9, "list", 1, 2, 3, "go", 0);
    assert_int_equal(sl__engine_queue(e, "m", NULL, input, id, sizeof id, err, sizeof err), SL_OK);
    json_decref(input);
    json_t *runs = NULL;
    assert_int_equal(sl_store_runs_claim(store, "test", 30000, 5, &runs, err, sizeof err), SL_OK);
    assert_int_equal(json_array_size(runs), 1);
    assert_int_equal(sl__engine_execute(e, json_array_get(runs, 0), err, sizeof err), SL_OK);
    json_decref(runs);
    json_t *run = NULL, *steps = NULL;
    assert_int_equal(sl_store_run_get(store, id, &run, err, sizeof err), SL_OK);
    assert_string_equal(json_string_value(json_object_get(run, "status")), "filtered");
    assert_int_equal(sl_store_steps_get(store, id, &steps, err, sizeof err), SL_OK);
    const char *want[] = {"total",         "big",           "big.then.yes", "each[0].twice",
                          "each[1].twice", "each[2].twice", "each",         "stop"};
    assert_int_equal(json_array_size(steps), sizeof want / sizeof *want);
    for (size_t i = 0; i < sizeof want / sizeof *want; i++)
        assert_string_equal(json_string_value(json_object_get(json_array_get(steps, i), "path")),
                            want[i]);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(steps, 0), "output")), 13);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(steps, 5), "output")), 6);
    json_decref(run);
    json_decref(steps);
    sl__engine_stop(e);
    sl_store_close(store);
    sl__flows_free(&flows);
}

static void idempotency_keys_follow_run_and_path(void **state)
{
    (void)state;
    char a[64], b[64], c[64];
    sl__engine_idem_key("run_1", "each[3].charge", a, sizeof a);
    sl__engine_idem_key("run_1", "each[3].charge", b, sizeof b);
    sl__engine_idem_key("run_1", "each[4].charge", c, sizeof c);
    assert_string_equal(a, b);
    assert_string_not_equal(a, c);
    assert_true(strncmp(a, "sluice-", 7) == 0);
}

/* Loops inside loops multiply: a run stops at its step budget with an error that says so. */
static void nested_loops_stop_at_the_step_budget(void **state)
{
    (void)state;
    write_file("nest.yaml", "name: nest\ntrigger: manual\nsteps:\n"
                            "  - id: outer\n    loop: $.input.list\n    steps:\n"
                            "      - id: inner\n        loop: $.input.list\n        steps:\n"
                            "          - id: s\n            set: 1\n");
    sl_flows_t flows;
    json_t *errors = json_array();
    assert_int_equal(sl__flows_load_dir(dir, &flows, errors), SL_OK);
    json_decref(errors);
    char uri[128], err[512], id[64];
    snprintf(uri, sizeof uri, "sqlite:%s/n.db", dir);
    sl_store_t *store = NULL;
    assert_int_equal(sl_store_open(uri, &store, err, sizeof err), SL_OK);
    sl_engine_config_t cfg = {store, NULL, &flows, 0, 0, 0, 0, 0, 0};
    sl_engine_t *e = NULL;
    assert_int_equal(sl__engine_start(&cfg, &e, err, sizeof err), SL_OK);
    json_t *list = json_array();
    for (int i = 0; i < 400; i++) /* 400 x 400 = 160,000 steps: over the 100,000 default */
        json_array_append_new(list, json_integer(i));
    json_t *input = json_pack("{s:o}", "list", list);
    assert_int_equal(sl__engine_queue(e, "nest", NULL, input, id, sizeof id, err, sizeof err),
                     SL_OK);
    json_decref(input);
    int here = 0;
    assert_int_equal(sl__engine_execute_id(e, id, &here, err, sizeof err), SL_EINTERNAL);
    assert_int_equal(here, 1);
    assert_non_null(strstr(err, "step budget of 100000 steps"));
    json_t *run = NULL;
    assert_int_equal(sl_store_run_get(store, id, &run, err, sizeof err), SL_OK);
    assert_string_equal(json_string_value(json_object_get(run, "status")), "failed");
    assert_non_null(strstr(json_string_value(json_object_get(run, "error")), "step budget"));
    json_decref(run);
    sl__engine_stop(e);
    sl_store_close(store);
    sl__flows_free(&flows);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(loads_a_good_flow, setup, teardown),
        cmocka_unit_test_setup_teardown(json_flows_load_too, setup, teardown),
        cmocka_unit_test_setup_teardown(reports_problems_with_line_and_column, setup, teardown),
        cmocka_unit_test_setup_teardown(bounded_files, setup, teardown),
        cmocka_unit_test_setup_teardown(max_steps, setup, teardown),
        cmocka_unit_test_setup_teardown(max_steps_bounds_the_run, setup, teardown),
        cmocka_unit_test_setup_teardown(connections_are_checked_when_known, setup, teardown),
        cmocka_unit_test_setup_teardown(stripe_parameters_are_checked, setup, teardown),
        cmocka_unit_test_setup_teardown(reads_of_steps_are_checked, setup, teardown),
        cmocka_unit_test(patterns),
        cmocka_unit_test(problems_survive_long_values),
        cmocka_unit_test(cron),
        cmocka_unit_test_setup_teardown(schedules_fire_once_per_matching_minute, setup, teardown),
        cmocka_unit_test_setup_teardown(nested_loops_stop_at_the_step_budget, setup, teardown),
        cmocka_unit_test_setup_teardown(manual_runs_execute_and_record_every_step, setup, teardown),
        cmocka_unit_test(idempotency_keys_follow_run_and_path),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
