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
                   "7:19", "customers.create has no parameter `emial`");
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

static void patterns(void **state)
{
    (void)state;
    assert_true(sl__event_pattern_matches("*", "charge.succeeded"));
    assert_true(sl__event_pattern_matches("invoice.*", "invoice.payment_failed"));
    assert_true(sl__event_pattern_matches("customer.subscription.*",
                                          "customer.subscription.created"));
    assert_false(sl__event_pattern_matches("invoice.*", "invoiceitem.created"));
    assert_false(sl__event_pattern_matches("invoice.paid", "invoice.payment_succeeded"));
}

static time_t utc(int y, int mo, int d, int h, int mi, int s)
{
    struct tm tm = {.tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d, .tm_hour = h,
                    .tm_min = mi, .tm_sec = s};
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
    assert_true(sl__cron_matches(&c, utc(2026, 11, 23, 9, 0, 30)));  /* a Monday */
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
    sl_engine_config_t cfg = {store, NULL, &flows, 0, 0, 0, 0, 0};
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
    sl_run_filter_t f = {"daily", NULL, NULL, 10};
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
    sl_engine_config_t cfg = {store, NULL, &flows, 0, 0, 0, 0, 0};
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
    const char *want[] = {"total",          "big",  "big.then.yes", "each[0].twice",
                          "each[1].twice",  "each[2].twice", "each", "stop"};
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(loads_a_good_flow, setup, teardown),
        cmocka_unit_test_setup_teardown(json_flows_load_too, setup, teardown),
        cmocka_unit_test_setup_teardown(reports_problems_with_line_and_column, setup, teardown),
        cmocka_unit_test(patterns),
        cmocka_unit_test(problems_survive_long_values),
        cmocka_unit_test(cron),
        cmocka_unit_test_setup_teardown(schedules_fire_once_per_matching_minute, setup, teardown),
        cmocka_unit_test_setup_teardown(manual_runs_execute_and_record_every_step, setup,
                                        teardown),
        cmocka_unit_test(idempotency_keys_follow_run_and_path),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
