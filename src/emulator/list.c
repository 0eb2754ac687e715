/* Lists: pagination (limit, starting_after, ending_before), the filters list calls take, the
 * events API, and expand[] (a reference becomes the object it names). */
#include <stdio.h>
#include <string.h>

#include "emulator/internal.h"

/* created=N or created[gt|gte|lt|lte]=N */
static int created_matches(const json_t *filter, long long created)
{
    if (!filter)
        return 1;
    if (json_is_integer(filter))
        return created == json_integer_value(filter);
    const json_t *v;
    if ((v = json_object_get(filter, "gt")) && !(created > json_integer_value(v)))
        return 0;
    if ((v = json_object_get(filter, "gte")) && !(created >= json_integer_value(v)))
        return 0;
    if ((v = json_object_get(filter, "lt")) && !(created < json_integer_value(v)))
        return 0;
    if ((v = json_object_get(filter, "lte")) && !(created <= json_integer_value(v)))
        return 0;
    return 1;
}

/* Parameters of a list call that page or expand, or that it takes otherwise, not filters. */
static int paging(const char *k)
{
    static const char *const names[] = {"limit", "starting_after", "ending_before",   "expand",
                                        "type",  "types",          "delivery_success"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++)
        if (strcmp(k, names[i]) == 0)
            return 1;
    return 0;
}

/* Parameters of a list call that filter by an equal top-level field (email=, product=, ...). */
static int filters_match(const json_t *obj, const json_t *params)
{
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)params, k, v)
    {
        if (paging(k) || strcmp(k, "created") == 0 || json_is_object(v) || json_is_array(v))
            continue;
        const json_t *have = json_object_get(obj, k);
        if (json_is_object(have) && json_is_string(v)) /* an expanded field: by its id */
            have = json_object_get(have, "id");
        if (!have || !json_equal(have, v))
            return 0;
    }
    return created_matches(json_object_get(params, "created"),
                           json_integer_value(json_object_get(obj, "created")));
}

/* An item of a page: an object, or the id of one (a stub read back whole once the page is cut). */
static const char *item_id(const json_t *item)
{
    return json_is_string(item) ? json_string_value(item)
                                : json_string_value(json_object_get(item, "id")) ?: "";
}

sl_emu_reply_t sl__emu_page(json_t *items, const json_t *params, const char *url)
{
    long long limit = json_is_integer(json_object_get(params, "limit"))
                          ? json_integer_value(json_object_get(params, "limit"))
                          : 10;
    if (limit < 1 || limit > 100) {
        json_decref(items);
        return sl__emu_error(400, "invalid_request_error", "parameter_invalid_integer", "limit",
                             "Invalid limit: must be an integer between 1 and 100");
    }
    const char *after = json_string_value(json_object_get(params, "starting_after"));
    const char *before = json_string_value(json_object_get(params, "ending_before"));
    size_t n = json_array_size(items), start = 0, end = n;
    const char *anchor = after ? after : before;
    if (anchor) {
        size_t at = n;
        for (size_t i = 0; i < n; i++)
            if (strcmp(item_id(json_array_get(items, i)), anchor) == 0)
                at = i;
        if (at == n) {
            json_decref(items);
            return sl__emu_error(400, "invalid_request_error", "resource_missing",
                                 after ? "starting_after" : "ending_before", "No such object: '%s'",
                                 anchor);
        }
        if (after)
            start = at + 1;
        else
            end = at;
    }
    json_t *data = json_array();
    int has_more;
    if (before && !after) {
        size_t from = end > (size_t)limit ? end - (size_t)limit : 0;
        for (size_t i = from; i < end; i++)
            json_array_append(data, json_array_get(items, i));
        has_more = from > 0;
    } else {
        for (size_t i = start; i < end && json_array_size(data) < (size_t)limit; i++)
            json_array_append(data, json_array_get(items, i));
        has_more = start + json_array_size(data) < end;
    }
    json_decref(items);
    return (sl_emu_reply_t){200,
                            json_pack("{s:s,s:o,s:b,s:s}", "object", "list", "data", data,
                                      "has_more", has_more, "url", url),
                            0,
                            NULL,
                            0,
                            0};
}

/* Whether a list call filters (by created or an equal field), which needs the objects read. */
static int filters(const json_t *params)
{
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)params, k, v)
    {
        if (!paging(k) && (strcmp(k, "created") == 0 || !(json_is_object(v) || json_is_array(v))))
            return 1;
    }
    return 0;
}

/* Whether object `id` may pass the list's equal-string filters, asked before it is read. */
static int may_match(sl_emulator_t *e, const char *id, const json_t *params)
{
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)params, k, v)
    {
        /* "field":"value", or an expanded field with "id":"value" */
        if (json_is_string(v) && !paging(k) && !sl__emu_may_match(e, id, k, json_string_value(v)) &&
            !sl__emu_may_match(e, id, "id", json_string_value(v)))
            return 0;
    }
    return 1;
}

sl_emu_reply_t sl__emu_list(sl_emulator_t *e, const sl_emu_resource_t *r, const json_t *params,
                            const char *url)
{
    /* The page is cut from the ids; only its objects are read (parsed) whole, unless a filter
     * needs each one read. */
    json_t *items = json_array();
    const json_t *ids = json_object_get(e->lists, r->object);
    int filtered = filters(params);
    for (size_t i = json_array_size(ids); i-- > 0;) {
        json_t *id = json_array_get(ids, i);
        if (filtered && !may_match(e, json_string_value(id), params))
            continue;
        json_t *obj = filtered ? sl__emu_read(e, json_string_value(id)) : NULL;
        if (!filtered || (obj && filters_match(obj, params)))
            json_array_append(items, id);
        json_decref(obj);
    }
    sl_emu_reply_t out = sl__emu_page(items, params, url);
    json_t *data = json_object_get(out.body, "data");
    for (size_t i = 0; i < json_array_size(data);) {
        json_t *obj = sl__emu_read(e, json_string_value(json_array_get(data, i)));
        if (obj)
            json_array_set_new(data, i++, obj);
        else
            json_array_remove(data, i);
    }
    return out;
}

/* --- Events API ------------------------------------------------------------------------------ */

static int type_matches(const char *pattern, const char *type)
{
    size_t n = strlen(pattern);
    if (n && pattern[n - 1] == '*')
        return strncmp(pattern, type, n - 1) == 0;
    return strcmp(pattern, type) == 0;
}

sl_emu_reply_t sl__emu_events_list(sl_emulator_t *e, const json_t *params)
{
    const char *type = json_string_value(json_object_get(params, "type"));
    const json_t *types = json_object_get(params, "types");
    json_t *items = json_array();
    for (size_t i = json_array_size(e->events); i-- > 0;) {
        json_t *ev = json_array_get(e->events, i);
        const char *t = json_string_value(json_object_get(ev, "type"));
        if (type && !type_matches(type, t))
            continue;
        if (json_array_size(types)) {
            int ok = 0;
            for (size_t k = 0; k < json_array_size(types); k++)
                ok |= type_matches(json_string_value(json_array_get(types, k)) ?: "", t);
            if (!ok)
                continue;
        }
        if (!created_matches(json_object_get(params, "created"),
                             json_integer_value(json_object_get(ev, "created"))))
            continue;
        json_array_append(items, ev);
    }
    /* The page is cut from the stubs; only its events are read back whole. */
    sl_emu_reply_t out = sl__emu_page(items, params, "/v1/events");
    json_t *data = json_object_get(out.body, "data");
    for (size_t i = 0; i < json_array_size(data); i++)
        json_array_set_new(data, i, sl__emu_event_full(json_array_get(data, i)));
    return out;
}

/* --- expand[]: a reference becomes the object it names ------------------------------------- */

/* The fields expand[] may name, at any depth: references to objects the emulator keeps. */
sl_emu_reply_t sl__emu_check_expand(const json_t *expand)
{
    static const char *const fields[] = {"customer",
                                         "invoice",
                                         "payment_intent",
                                         "default_payment_method",
                                         "latest_invoice",
                                         "latest_charge",
                                         "charge",
                                         "subscription",
                                         "payment_method",
                                         "price",
                                         "product",
                                         "line_items",
                                         "data",
                                         "default_price",
                                         "payment_link",
                                         "default_source",
                                         "source",
                                         "balance_transaction",
                                         "setup_intent",
                                         "pending_setup_intent",
                                         "schedule",
                                         "coupon",
                                         "promotion_code",
                                         "test_clock",
                                         "discount",
                                         "on_behalf_of",
                                         "transfer",
                                         "application",
                                         "review",
                                         "mandate",
                                         "latest_attempt",
                                         "refunds",
                                         NULL};
    if (expand && !json_is_array(expand))
        return sl__emu_error(400, "invalid_request_error", "parameter_invalid", "expand",
                             "expand must be a list of fields (expand[]=customer).");
    for (size_t i = 0; i < json_array_size(expand); i++) {
        const char *x = json_string_value(json_array_get(expand, i));
        char seg[128];
        for (const char *p = x ? x : ""; p;) {
            size_t n = strcspn(p, ".");
            snprintf(seg, sizeof seg, "%.*s", (int)(n < 127 ? n : 127), p);
            int ok = 0;
            for (size_t k = 0; fields[k] && !ok; k++)
                ok = strcmp(fields[k], seg) == 0;
            if (!ok)
                return sl__emu_error(400, "invalid_request_error", "parameter_invalid", "expand",
                                     "This property cannot be expanded (%s).", x ? x : "");
            p = p[n] == '.' ? p + n + 1 : NULL;
        }
    }
    return (sl_emu_reply_t){0, NULL, 0, NULL, 0, 0};
}

sl_emu_reply_t sl__emu_expand(sl_emulator_t *e, json_t *node, const char *path, const char *whole)
{
    size_t n = strcspn(path, ".");
    char seg[128];
    snprintf(seg, sizeof seg, "%.*s", (int)(n < 127 ? n : 127), path);
    const char *rest = path[n] == '.' ? path + n + 1 : NULL;
    const char *kind = json_string_value(json_object_get(node, "object")) ?: "";
    if (strcmp(seg, "data") == 0 && rest &&
        (strcmp(kind, "list") == 0 || strcmp(kind, "search_result") == 0)) {
        json_t *data = json_object_get(node, "data");
        for (size_t i = 0; i < json_array_size(data); i++) {
            sl_emu_reply_t r = sl__emu_expand(e, json_array_get(data, i), rest, whole);
            if (r.status)
                return r;
        }
        return (sl_emu_reply_t){0, NULL, 0, NULL, 0, 0};
    }
    json_t *v = json_object_get(node, seg);
    if (strcmp(seg, "line_items") == 0 && !v) {
        /* A checkout session's or payment link's items, kept beside it. */
        const json_t *li =
            sl__emu_line_items(e, json_string_value(json_object_get(node, "id")) ?: "");
        if (li) {
            json_object_set_new(node, seg, json_deep_copy(li));
            v = json_object_get(node, seg);
        }
    } else if (json_is_string(v)) {
        json_t *obj = sl__emu_read(e, json_string_value(v));
        if (!obj)
            return sl__emu_error(400, "invalid_request_error", "parameter_invalid", "expand",
                                 "This property cannot be expanded (%s): `%s` is not an object "
                                 "sluice emulate keeps.",
                                 whole, json_string_value(v));
        json_object_set_new(node, seg, obj);
        v = json_object_get(node, seg);
    }
    if (!v || !(json_is_object(v) || json_is_null(v) || json_is_string(v)))
        return sl__emu_error(400, "invalid_request_error", "parameter_invalid", "expand",
                             "This property cannot be expanded (%s).", whole);
    if (rest && json_is_object(v))
        return sl__emu_expand(e, v, rest, whole);
    return (sl_emu_reply_t){0, NULL, 0, NULL, 0, 0};
}
