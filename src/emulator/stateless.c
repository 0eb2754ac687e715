/* Operations the emulator does not keep, answered as Stripe's stateless mock answers them: the
 * request already checked against the catalog, the reply is the example object of the
 * operation's response type, with the request's parameters applied and a fresh id, and nothing
 * is kept (the server marks such replies with Sluice-Stateless: true). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/rand.h"
#include "emulator/fixtures.h"
#include "emulator/internal.h"
#include "sluice/catalog.h"
#include "stripe/catalog.h"

/* The request's value as it may stand in the example's field, or NULL when it may not: the same
 * JSON type (numbers of either kind), or any value where the example is null; an integer given as
 * text where the example has an integer; and an object only with those of its fields that the
 * example's object has and that fit in turn, so that capabilities[card_payments][requested]=true
 * leaves the example's "active" in place rather than an object where a string belongs. */
static json_t *fitted(const json_t *example, const json_t *given, int depth)
{
    /* A null field, or an empty object such as metadata's, takes what is given. */
    if (json_is_null(example) || depth > 16 ||
        (json_is_object(example) && !json_object_size(example) && json_is_object(given)))
        return json_deep_copy(given);
    if (json_is_object(example) && json_is_object(given)) {
        json_t *out = json_object();
        const char *k;
        json_t *v;
        json_object_foreach((json_t *)given, k, v)
        {
            const json_t *cur = json_object_get(example, k);
            json_t *fit = cur ? fitted(cur, v, depth + 1) : NULL;
            if (fit)
                json_object_set_new(out, k, fit);
        }
        return out;
    }
    if (json_is_integer(example) && json_is_string(given)) {
        const char *t = json_string_value(given);
        char *end;
        long long n = strtoll(t, &end, 10);
        return *t && !*end ? json_integer(n) : NULL;
    }
    if (json_typeof(example) == json_typeof(given) ||
        (json_is_number(example) && json_is_number(given)) ||
        (json_is_boolean(example) && json_is_boolean(given)))
        return json_deep_copy(given);
    return NULL;
}

/* Every string in `v` that holds `from` with `from` replaced by `to`. */
static void replace_id(json_t *v, const char *from, const char *to, int depth)
{
    if (depth > 32)
        return;
    if (json_is_object(v)) {
        const char *k;
        json_t *c;
        json_object_foreach(v, k, c)
        {
            const char *t = json_string_value(c);
            const char *at = t ? strstr(t, from) : NULL;
            if (at) {
                char *out = NULL;
                if (asprintf(&out, "%.*s%s%s", (int)(at - t), t, to, at + strlen(from)) >= 0)
                    json_object_set_new(v, k, json_string(out));
                free(out);
            } else {
                replace_id(c, from, to, depth + 1);
            }
        }
    } else if (json_is_array(v)) {
        for (size_t i = 0; i < json_array_size(v); i++)
            replace_id(json_array_get(v, i), from, to, depth + 1);
    }
}

/* The example object of `type` ("customer"), with the request's parameters that name its fields
 * applied, and its id: the one the path names, or a fresh one with the example's prefix. */
static json_t *example_object(const char *type, const json_t *params, const char *id, int fresh)
{
    const char *tmpl = sl__fixture_json(type);
    json_t *obj = tmpl ? json_loads(tmpl, 0, NULL) : NULL;
    if (!obj)
        return NULL;
    json_int_t now = (json_int_t)time(NULL);
    if (json_object_get(obj, "created"))
        json_object_set_new(obj, "created", json_integer(now));
    char ex[256] = "", made[256] = "";
    snprintf(ex, sizeof ex, "%s", json_string_value(json_object_get(obj, "id")) ?: "");
    if (*ex && fresh) {
        char prefix[48];
        const char *us = strrchr(ex, '_');
        snprintf(prefix, sizeof prefix, "%.*s", us ? (int)(us - ex) : 0, ex);
        if (prefix[0])
            sl__emu_must_rand(sl__rand_id(prefix, made, sizeof made));
    } else if (*ex && id) {
        snprintf(made, sizeof made, "%s", id);
    }
    if (*made) /* its own id wherever the example names it (the URLs of its lists) */
        replace_id(obj, ex, made, 0);
    json_t *apply = json_object();
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)params, k, v)
    {
        const json_t *cur = json_object_get(obj, k);
        json_t *fit = strcmp(k, "expand") && strcmp(k, "id") && cur ? fitted(cur, v, 0) : NULL;
        if (fit)
            json_object_set_new(apply, k, fit);
    }
    sl__emu_apply(obj, apply, NULL, 0);
    json_decref(apply);
    return obj;
}

sl_emu_reply_t sl__emu_stateless(const sl_op_t *op, const json_t *params, const char *path)
{
    const char *name = sl_op_name(op);
    const char *verb = strrchr(name, '.') + 1;
    char type[128];
    const char *resp = sl_op_response(op);
    snprintf(type, sizeof type, "%.*s", (int)strcspn(resp, " |"), resp);
    int list = strncmp(resp, "list of ", 8) == 0,
        search = strncmp(resp, "search_result of ", 17) == 0;
    if (list || search) {
        const char *of = resp + (list ? 8 : 17);
        snprintf(type, sizeof type, "%.*s", (int)strcspn(of, " |"), of);
    }
    /* The id the path names: its last parameter (the parent's id on a nested create). */
    size_t np = sl_op_path_param_count(op);
    const char *last = np ? sl_op_path_param(op, np - 1) : NULL;
    const char *id = last ? json_string_value(json_object_get(params, last)) : NULL;
    json_t *body = NULL;
    if (strncmp(type, "deleted_", 8) == 0) {
        body = json_pack("{s:s,s:s,s:b}", "id", id ? id : "", "object", type + 8, "deleted", 1);
    } else if (list || search) {
        json_t *none = json_object();
        json_t *item = example_object(type, none, NULL, 0);
        json_decref(none);
        if (item) {
            body = json_pack("{s:s,s:[o],s:b,s:s}", "object", list ? "list" : "search_result",
                             "data", item, "has_more", 0, "url", path);
            if (search)
                json_object_set_new(body, "next_page", json_null());
        }
    } else {
        int fresh = strcmp(verb, "create") == 0 || !id;
        /* A parent's id in the path fills the example's field of that name (customer); the
         * object's own id is its id. */
        json_t *own = sl__op_coerce(op, params); /* typed: amount=100 is a number */
        if (!fresh)
            json_object_del(own, last);
        body = example_object(type, own, id, fresh);
        json_decref(own);
    }
    if (!body)
        return sl__emu_error(501, "api_error", "not_implemented", NULL,
                             "sluice emulate cannot answer %s: Stripe's description has no "
                             "example of what it returns",
                             name);
    sl_emu_reply_t out = {200, body, 0, NULL, 1, 0};
    return out;
}
