/* Sample events for every event type, built from Stripe's example objects. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "emulator/fixtures.h"
#include "sluice/catalog.h"

static void test_every_type_has_a_sample(void **state)
{
    (void)state;
    size_t from_examples = 0;
    for (size_t i = 0; i < sl_event_type_count(); i++) {
        const char *type = sl_event_type_name(i);
        json_t *ev = sl__sample_event(type);
        if (strcmp(type, "*") == 0) {
            assert_null(ev);
            continue;
        }
        if (!ev)
            fail_msg("no sample for %s", type);
        assert_string_equal(json_string_value(json_object_get(ev, "type")), type);
        assert_string_equal(json_string_value(json_object_get(ev, "object")), "event");
        assert_true(strncmp(json_string_value(json_object_get(ev, "id")), "evt_", 4) == 0);
        const json_t *obj = json_object_get(json_object_get(ev, "data"), "object");
        assert_true(json_is_string(json_object_get(obj, "object")));
        const char *oid = json_string_value(json_object_get(obj, "id")); /* balance has none */
        if (!oid || strcmp(oid, "sample_1") != 0)
            from_examples++;
        json_decref(ev);
    }
    /* All but a few retired types (orders, SKUs, recipients...) have an example object. */
    assert_true(from_examples >= 210);
    json_t *ev = sl__sample_event("customer.subscription.created");
    assert_string_equal(json_string_value(json_object_get(
                            json_object_get(json_object_get(ev, "data"), "object"), "object")),
                        "subscription");
    json_decref(ev);
    assert_null(sl__sample_event("invoice.nope"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_every_type_has_a_sample)};
    return cmocka_run_group_tests_name("sample", tests, NULL, NULL);
}
