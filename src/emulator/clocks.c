/* Time, as Stripe's test helpers move it: test clocks (created, advanced, deleted, with the
 * renewals of their customers' subscriptions as the clock passes each period's end) and
 * subscription schedules (a subscription from the first phase, cancel, release). */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "emulator/internal.h"

static sl_emu_reply_t unkept(const char *what, const char *verb)
{
    return sl__emu_unkept("sluice emulate does not keep %s.%s", what, verb);
}

/* Whether the kept object's customer runs on test clock `clock`. */
static int on_clock(sl_emulator_t *e, const json_t *obj, const char *clock)
{
    const json_t *cus = sl__emu_get(e, json_string_value(json_object_get(obj, "customer")) ?: "");
    return obj && strcmp(json_string_value(json_object_get(cus, "test_clock")) ?: "", clock) == 0;
}

/* The schedule's subscription takes the items of the phase it enters: the old items go, the
 * phase's come (customer.subscription.updated). */
static void enter_phase(sl_emulator_t *e, const json_t *ss, const json_t *phase,
                        const char *request_id)
{
    const char *sub_id = json_string_value(json_object_get(ss, "subscription"));
    const json_t *sub = sub_id ? sl__emu_get(e, sub_id) : NULL;
    if (!sub)
        return;
    json_t *items = json_array();
    size_t i;
    json_t *it;
    json_array_foreach(json_object_get(json_object_get(sub, "items"), "data"), i, it)
        json_array_append_new(
            items, json_pack("{s:O,s:b}", "id", json_object_get(it, "id"), "deleted", 1));
    json_array_foreach(json_object_get(phase, "items"), i, it)
        json_array_append_new(items, json_deep_copy(it));
    json_t *params = json_pack("{s:o}", "items", items);
    char id[96];
    snprintf(id, sizeof id, "%s", sub_id);
    json_decref(sl__emu_subscriptions(e, "update", id, params, request_id, NULL).body);
    json_decref(params);
}

/* A schedule moves along as the clock passes (from, to]: into the phase that holds `to`
 * (subscription_schedule.updated, its subscription given the phase's items),
 * subscription_schedule.expiring 7 days before its last phase ends, and at that end
 * subscription_schedule.completed, its subscription released (it goes on alone) or canceled, as
 * end_behavior says. */
static void schedule_passes(sl_emulator_t *e, const char *id, json_int_t from, json_int_t to,
                            const char *request_id)
{
    json_t *ss = sl__emu_get(e, id);
    const json_t *phases = json_object_get(ss, "phases");
    const json_t *last = json_array_get(phases, json_array_size(phases) - 1);
    json_int_t end = json_integer_value(json_object_get(last, "end_date"));
    if (!last || strcmp(sl__emu_status_of(ss), "active"))
        return;
    size_t i;
    json_t *ph;
    json_array_foreach(phases, i, ph)
    {
        json_int_t s = json_integer_value(json_object_get(ph, "start_date"));
        json_int_t t = json_integer_value(json_object_get(ph, "end_date"));
        const json_t *cur = json_object_get(ss, "current_phase");
        if (i == 0 || s <= from || s > to || t <= to ||
            json_integer_value(json_object_get(cur, "start_date")) == s)
            continue;
        json_t *prev = json_pack("{s:O?}", "current_phase", cur);
        json_object_set_new(ss, "current_phase",
                            json_pack("{s:I,s:I}", "start_date", s, "end_date", t));
        sl__emu_touch(e, id);
        sl__emu_emit(e, "subscription_schedule.updated", ss, prev, request_id, NULL);
        enter_phase(e, ss, ph, request_id);
        ss = sl__emu_get(e, id);
        phases = json_object_get(ss, "phases");
    }
    if (from < end - 7 * 86400 && end - 7 * 86400 <= to) {
        sl__emu_touch(e, id);
        sl__emu_emit(e, "subscription_schedule.expiring", ss, NULL, request_id, NULL);
    }
    if (end > to)
        return;
    const char *sub = json_string_value(json_object_get(ss, "subscription"));
    char sub_id[96];
    snprintf(sub_id, sizeof sub_id, "%s", sub ? sub : "");
    json_t *prev = json_pack("{s:s,s:O?}", "status", "active", "current_phase",
                             json_object_get(ss, "current_phase"));
    json_object_set_new(ss, "status", json_string("completed"));
    json_object_set_new(ss, "completed_at", json_integer(end));
    json_object_set_new(ss, "current_phase", json_null());
    int cancel =
        strcmp(json_string_value(json_object_get(ss, "end_behavior")) ?: "", "cancel") == 0;
    if (*sub_id && !cancel) {
        json_object_set_new(ss, "released_subscription", json_string(sub_id));
        json_object_set_new(ss, "subscription", json_null());
        json_t *so = sl__emu_get(e, sub_id);
        if (so) {
            json_object_set_new(so, "schedule", json_null());
            sl__emu_touch(e, sub_id);
        }
    }
    sl__emu_touch(e, id);
    sl__emu_emit(e, "subscription_schedule.completed", ss, prev, request_id, NULL);
    if (*sub_id && cancel)
        json_decref(sl__emu_subscriptions(e, "cancel", sub_id, NULL, request_id, NULL).body);
}

/* As the clock passes (from, to]: its customers' schedules move along, trials three days from
 * their end say so (customer.subscription.trial_will_end), and the subscriptions whose period
 * ended by `to` renew, each once. */
static void clock_passes(sl_emulator_t *e, const char *clock, json_int_t from, json_int_t to,
                         const char *request_id)
{
    json_t *ids = json_deep_copy(json_object_get(e->lists, "subscription_schedule"));
    size_t i;
    json_t *v;
    json_array_foreach(ids, i, v)
    {
        if (on_clock(e, sl__emu_get(e, json_string_value(v)), clock))
            schedule_passes(e, json_string_value(v), from, to, request_id);
    }
    json_decref(ids);
    ids = json_deep_copy(json_object_get(e->lists, "subscription"));
    json_array_foreach(ids, i, v)
    {
        const json_t *sub = sl__emu_get(e, json_string_value(v));
        if (!on_clock(e, sub, clock))
            continue;
        const char *st = sl__emu_status_of(sub);
        if (strcmp(st, "active") && strcmp(st, "trialing") && strcmp(st, "past_due"))
            continue;
        /* Stripe tells three days before a trial ends. */
        json_int_t warn = json_integer_value(json_object_get(sub, "trial_end")) - 3 * 86400;
        if (strcmp(st, "trialing") == 0 && json_is_integer(json_object_get(sub, "trial_end")) &&
            warn > from && warn <= to)
            sl__emu_emit(e, "customer.subscription.trial_will_end", sub, NULL, request_id, NULL);
        if (json_integer_value(json_object_get(sub, "current_period_end")) <= to)
            json_decref(sl__emu_subscription_renew(e, json_string_value(v), request_id).body);
    }
    json_decref(ids);
}

sl_emu_reply_t sl__emu_test_clocks(sl_emulator_t *e, const char *verb, const char *id,
                                   json_t *typed, const char *request_id, const char *idem_key)
{
    const sl_emu_resource_t *r = sl__emu_resource("test_helpers.test_clocks", 24);
    if (strcmp(verb, "create") == 0) {
        json_t *frozen = json_object_get(typed, "frozen_time");
        json_int_t t =
            json_is_integer(frozen) ? json_integer_value(frozen) : (json_int_t)time(NULL);
        json_object_set_new(typed, "status", json_string("ready"));
        json_object_set_new(typed, "deletes_after", json_integer(t + 30 * 86400));
        return sl__emu_create(e, r, typed, request_id, idem_key);
    }
    json_t *clock = id ? sl__emu_get(e, id) : NULL;
    if (!sl__emu_is_a(clock, "test_helpers.test_clock"))
        return sl__emu_no_such("test_helpers.test_clock", id ? id : "");
    if (strcmp(verb, "delete") == 0)
        return sl__emu_delete(e, r, id, request_id);
    if (strcmp(verb, "advance"))
        return unkept("test_helpers.test_clocks", verb);
    json_int_t to = json_integer_value(json_object_get(typed, "frozen_time"));
    json_int_t from = json_integer_value(json_object_get(clock, "frozen_time"));
    if (to <= from)
        return sl__emu_error(400, "invalid_request_error", "test_clock_unexpected_state",
                             "frozen_time",
                             "The test clock can only move forward: frozen_time %lld is not after "
                             "%lld.",
                             (long long)to, (long long)from);
    /* Stripe advances asynchronously: advancing, then ready. Here both happen at once. */
    json_object_set_new(clock, "status", json_string("advancing"));
    json_object_set_new(clock, "frozen_time", json_integer(to));
    sl__emu_touch(e, id);
    sl__emu_emit(e, "test_helpers.test_clock.advancing", clock, NULL, request_id, idem_key);
    clock_passes(e, id, from, to, request_id);
    json_t *reply = json_deep_copy(clock);
    json_object_set_new(clock, "status", json_string("ready"));
    sl__emu_emit(e, "test_helpers.test_clock.ready", clock, NULL, request_id, idem_key);
    return (sl_emu_reply_t){200, reply, 0, NULL, 0, 0};
}

sl_emu_reply_t sl__emu_subscription_schedules(sl_emulator_t *e, const char *verb, const char *id,
                                              json_t *typed, const char *request_id,
                                              const char *idem_key)
{
    json_int_t now = (json_int_t)time(NULL);
    if (strcmp(verb, "create") == 0) {
        const sl_emu_resource_t *r = sl__emu_resource("subscription_schedules", 22);
        if (json_object_get(typed, "from_subscription"))
            return unkept("subscription_schedules.create from_subscription", "create");
        const char *cus = json_string_value(json_object_get(typed, "customer"));
        const json_t *co = cus ? sl__emu_get(e, cus) : NULL;
        if (!sl__emu_is_a(co, "customer"))
            return sl__emu_error(400, "invalid_request_error", "resource_missing", "customer",
                                 "No such customer: '%s'", cus ? cus : "");
        json_t *phases = json_object_get(typed, "phases");
        if (!json_array_size(phases))
            return sl__emu_error(400, "invalid_request_error", "parameter_missing", "phases",
                                 "Missing required param: phases.");
        /* A start in the past or "now" starts at once; the customer's test clock is its now. */
        const json_t *clock =
            sl__emu_get(e, json_string_value(json_object_get(co, "test_clock")) ?: "");
        json_int_t at = clock ? json_integer_value(json_object_get(clock, "frozen_time")) : now;
        const json_t *sd = json_object_get(typed, "start_date");
        json_int_t start = json_is_integer(sd) ? json_integer_value(sd) : at;
        json_t *phase0 = json_deep_copy(json_array_get(phases, 0));
        json_object_del(typed, "start_date");
        json_object_set_new(typed, "status", json_string(start <= at ? "active" : "not_started"));
        json_object_set_new(typed, "subscription", json_null());
        json_object_set_new(typed, "current_phase", json_null());
        json_object_set_new(
            typed, "default_settings",
            json_pack("{s:n,s:s,s:n,s:s,s:n,s:n,s:n,s:n,s:n}", "application_fee_percent",
                      "billing_cycle_anchor", "automatic", "billing_thresholds",
                      "collection_method", "charge_automatically", "default_payment_method",
                      "description", "invoice_settings", "on_behalf_of", "transfer_data"));
        if (!json_object_get(typed, "end_behavior"))
            json_object_set_new(typed, "end_behavior", json_string("release"));
        sl_emu_reply_t out = sl__emu_create(e, r, typed, request_id, idem_key);
        if (out.status != 200) {
            json_decref(phase0);
            return out;
        }
        json_t *ss = sl__emu_get(e, json_string_value(json_object_get(out.body, "id")));
        json_decref(out.body);
        /* Each phase from its start: iterations months, or until its end_date. */
        json_int_t t = start;
        size_t i;
        json_t *ph;
        json_array_foreach(json_object_get(ss, "phases"), i, ph)
        {
            json_object_set_new(ph, "start_date", json_integer(t));
            json_int_t end = json_is_integer(json_object_get(ph, "end_date"))
                                 ? json_integer_value(json_object_get(ph, "end_date"))
                                 : t + (json_is_integer(json_object_get(ph, "iterations"))
                                            ? json_integer_value(json_object_get(ph, "iterations"))
                                            : 1) *
                                           30 * 86400;
            json_object_set_new(ph, "end_date", json_integer(end));
            t = end;
        }
        if (start <= at) {
            json_t *sp =
                json_pack("{s:s,s:O}", "customer", cus, "items", json_object_get(phase0, "items"));
            if (json_object_get(phase0, "default_payment_method"))
                json_object_set(sp, "default_payment_method",
                                json_object_get(phase0, "default_payment_method"));
            sl_emu_reply_t sr = sl__emu_subscriptions(e, "create", NULL, sp, request_id, NULL);
            json_decref(sp);
            if (sr.status == 200) {
                json_object_set(ss, "subscription", json_object_get(sr.body, "id"));
                json_t *sub = sl__emu_get(e, json_string_value(json_object_get(sr.body, "id")));
                json_object_set(sub, "schedule", json_object_get(ss, "id"));
                json_t *first = json_array_get(json_object_get(ss, "phases"), 0);
                json_object_set_new(ss, "current_phase",
                                    json_pack("{s:O,s:O}", "start_date",
                                              json_object_get(first, "start_date"), "end_date",
                                              json_object_get(first, "end_date")));
            }
            json_decref(sr.body);
        }
        json_decref(phase0);
        sl__emu_touch(e, json_string_value(json_object_get(ss, "id")));
        sl__emu_emit(e, "subscription_schedule.created", ss, NULL, request_id, idem_key);
        return (sl_emu_reply_t){200, json_deep_copy(ss), 0, NULL, 0, 0};
    }
    json_t *ss = id ? sl__emu_get(e, id) : NULL;
    if (!sl__emu_is_a(ss, "subscription_schedule"))
        return sl__emu_no_such("subscription_schedule", id ? id : "");
    const char *st = sl__emu_status_of(ss);
    int open = !strcmp(st, "active") || !strcmp(st, "not_started");
    if (strcmp(verb, "update") == 0) {
        if (!open)
            return sl__emu_error(400, "invalid_request_error", "resource_missing", NULL,
                                 "You cannot update a subscription schedule that is %s.", st);
        json_t *prev = json_object();
        sl__emu_apply(ss, typed, prev, 0);
        sl__emu_touch(e, id);
        sl__emu_emit(e, "subscription_schedule.updated", ss, prev, request_id, idem_key);
        return (sl_emu_reply_t){200, json_deep_copy(ss), 0, NULL, 0, 0};
    }
    if (strcmp(verb, "cancel") && strcmp(verb, "release"))
        return unkept("subscription_schedules", verb);
    if (!open)
        return sl__emu_error(400, "invalid_request_error", "resource_missing", NULL,
                             "You cannot %s a subscription schedule that is %s.", verb, st);
    json_t *prev = json_pack("{s:s}", "status", st);
    const char *sub = json_string_value(json_object_get(ss, "subscription"));
    if (strcmp(verb, "cancel") == 0) {
        /* A schedule canceled before it starts is aborted, as Stripe names it. */
        int aborted = strcmp(st, "not_started") == 0;
        json_object_set_new(ss, "status", json_string("canceled"));
        json_object_set_new(ss, "canceled_at", json_integer(now));
        if (sub)
            json_decref(sl__emu_subscriptions(e, "cancel", sub, NULL, request_id, NULL).body);
        sl__emu_touch(e, id);
        sl__emu_emit(e,
                     aborted ? "subscription_schedule.aborted" : "subscription_schedule.canceled",
                     ss, prev, request_id, idem_key);
    } else {
        json_object_set_new(ss, "status", json_string("released"));
        json_object_set_new(ss, "released_at", json_integer(now));
        json_object_set(ss, "released_subscription",
                        json_object_get(ss, "subscription") ?: json_null());
        json_object_set_new(ss, "subscription", json_null());
        json_t *so = sub ? sl__emu_get(e, sub) : NULL;
        if (so)
            json_object_set_new(so, "schedule", json_null());
        sl__emu_touch(e, id);
        sl__emu_emit(e, "subscription_schedule.released", ss, prev, request_id, idem_key);
    }
    return (sl_emu_reply_t){200, json_deep_copy(ss), 0, NULL, 0, 0};
}
