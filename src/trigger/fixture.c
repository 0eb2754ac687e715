/* Runs Stripe CLI fixture files: see fixture.h. References are `${name:dotted.path}` (array
 * elements by index: `${invoice:lines.data.0.id}`) and `${.env:VAR}`, either may end with
 * `|default`, and the Stripe CLI's generated `${time-now-RFC3339}` and `${generate-uuid}`. A
 * string that is exactly one reference takes the referred value with its type; elsewhere
 * references are spliced into the string. A name used again refers to its latest response. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "core/buf.h"
#include "core/embedded.h"
#include "core/rand.h"
#include "core/utf8.h"
#include "trigger/fixture.h"

const char *sl__fixture_shipped(const char *event_type)
{
    return sl__embedded_find(sl__shipped_fixtures, sl__shipped_fixtures_count, event_type);
}

size_t sl__fixture_shipped_count(void)
{
    return sl__shipped_fixtures_count;
}

const char *sl__fixture_shipped_name(size_t i)
{
    return i < sl__shipped_fixtures_count ? sl__shipped_fixtures[i].name : NULL;
}

/* Walks a dotted path into a response: object keys, and array indexes as numbers. */
static const json_t *walk(const json_t *v, const char *path)
{
    char seg[256];
    while (v && *path) {
        size_t n = strcspn(path, ".");
        snprintf(seg, sizeof seg, "%.*s", (int)(n < 255 ? n : 255), path);
        if (json_is_array(v)) {
            char *end;
            unsigned long i = strtoul(seg, &end, 10);
            v = *seg && !*end ? json_array_get(v, i) : NULL;
        } else {
            v = json_object_get(v, seg);
        }
        path += n;
        if (*path == '.')
            path++;
    }
    return v;
}

/* The Stripe CLI's generated values, by the inside of their ${...}: ${time-now-RFC3339} (now,
 * UTC, to the second) and ${generate-uuid} (a random version-4 UUID). NULL for any other. */
static const char *const generators[] = {"time-now-RFC3339", "generate-uuid"};

static int is_generator(const char *ref, size_t n)
{
    for (size_t i = 0; i < sizeof generators / sizeof *generators; i++)
        if (strlen(generators[i]) == n && memcmp(ref, generators[i], n) == 0)
            return 1;
    return 0;
}

static json_t *generated(const char *ref)
{
    if (strcmp(ref, "time-now-RFC3339") == 0) {
        char text[32];
        time_t now = time(NULL);
        struct tm tm;
        gmtime_r(&now, &tm);
        strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &tm);
        return json_string(text);
    }
    char uuid[37];
    if (strcmp(ref, "generate-uuid") == 0 && sl__uuid4(uuid) == SL_OK)
        return json_string(uuid);
    return NULL;
}

/* Resolves the inside of one ${...}. Returns a new reference, or NULL with err set. */
static json_t *resolve(const char *ref, const json_t *done, const char *where, char *err,
                       size_t errlen)
{
    char buf[512];
    snprintf(buf, sizeof buf, "%s", ref);
    /* name:path|default, as fixture_check reads it: the name runs to the first ':' (it may hold
     * a '|'), the default from the first '|' after it. */
    json_t *made = generated(buf);
    if (made)
        return made;
    char *colon = strchr(buf, ':');
    if (!colon) {
        snprintf(err, errlen, "%s: `${%s}` is not ${name:field.path} or ${.env:VAR}", where, ref);
        return NULL;
    }
    *colon = '\0';
    char *bar = strchr(colon + 1, '|');
    const char *dflt = NULL;
    if (bar) {
        *bar = '\0';
        dflt = bar + 1;
    }
    const char *name = buf, *path = colon + 1;
    if (strcmp(name, ".env") == 0) {
        const char *v = getenv(path);
        if (v)
            return json_string(v);
        if (dflt)
            return json_string(dflt);
        snprintf(err, errlen, "%s: `${%s}`: the environment variable %s is not set", where, ref,
                 path);
        return NULL;
    }
    const json_t *resp = json_object_get(done, name);
    if (!resp) {
        snprintf(err, errlen, "%s: `${%s}` refers to `%s`, which is not an earlier request", where,
                 ref, name);
        return NULL;
    }
    const json_t *v = walk(resp, path);
    if (!v || json_is_null(v)) {
        if (dflt)
            return json_string(dflt);
        snprintf(err, errlen, "%s: `${%s}`: the response of `%s` has no %s", where, ref, name,
                 path);
        return NULL;
    }
    return json_incref((json_t *)v);
}

/* Copies the inside of the reference open..close ("${" to "}") into ref; 0 with err set when it
 * does not fit (it would be cut, inside a character maybe). */
static int ref_copy(char *ref, size_t n, const char *open, const char *close, const char *where,
                    char *err, size_t errlen)
{
    size_t len = (size_t)(close - open - 2);
    if (len >= n) {
        snprintf(err, errlen, "%s: a reference is longer than %zu bytes", where, n - 1);
        return 0;
    }
    memcpy(ref, open + 2, len);
    ref[len] = '\0';
    return 1;
}

/* Substitutes references in a string. */
static json_t *subst_string(const char *s, const json_t *done, const char *where, char *err,
                            size_t errlen)
{
    const char *open = strstr(s, "${");
    if (!open)
        return json_string(s);
    const char *close = strchr(open, '}');
    if (open == s && close && close[1] == '\0') {
        char ref[512];
        if (!ref_copy(ref, sizeof ref, open, close, where, err, errlen))
            return NULL;
        return resolve(ref, done, where, err, errlen);
    }
    sl_buf_t b;
    sl__buf_init(&b, 1 << 20);
    const char *p = s;
    while ((open = strstr(p, "${")) != NULL) {
        close = strchr(open, '}');
        if (!close) {
            snprintf(err, errlen, "%s: `%s` has ${ without its closing }", where, s);
            sl__buf_cleanup(&b);
            return NULL;
        }
        sl__buf_append(&b, p, (size_t)(open - p));
        char ref[512];
        json_t *v = ref_copy(ref, sizeof ref, open, close, where, err, errlen)
                        ? resolve(ref, done, where, err, errlen)
                        : NULL;
        if (!v) {
            sl__buf_cleanup(&b);
            return NULL;
        }
        if (json_is_string(v)) {
            sl__buf_puts(&b, json_string_value(v));
        } else {
            char *text = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
            sl__buf_puts(&b, text ? text : "");
            free(text);
        }
        json_decref(v);
        p = close + 1;
    }
    sl__buf_puts(&b, p);
    json_t *out = json_string(b.data ? b.data : "");
    sl__buf_cleanup(&b);
    return out;
}

json_t *sl__fixture_subst(const json_t *v, const json_t *done, const char *where, char *err,
                          size_t errlen)
{
    if (json_is_string(v)) {
        json_t *out = subst_string(json_string_value(v), done, where, err, errlen);
        if (!out && err && errlen)
            sl__utf8_clip(err); /* the string it quotes may have been cut */
        return out;
    }
    if (json_is_object(v)) {
        json_t *out = json_object();
        const char *k;
        json_t *x;
        json_object_foreach((json_t *)v, k, x)
        {
            json_t *y = sl__fixture_subst(x, done, where, err, errlen);
            if (!y) {
                json_decref(out);
                return NULL;
            }
            json_object_set_new(out, k, y);
        }
        return out;
    }
    if (json_is_array(v)) {
        json_t *out = json_array();
        size_t i;
        json_t *x;
        json_array_foreach(v, i, x)
        {
            json_t *y = sl__fixture_subst(x, done, where, err, errlen);
            if (!y) {
                json_decref(out);
                return NULL;
            }
            json_array_append_new(out, y);
        }
        return out;
    }
    return json_incref((json_t *)v);
}

/* Stripe's form encoding has no numbers or booleans: send scalars as their text. */
static json_t *as_form(const json_t *v)
{
    if (json_is_integer(v)) {
        char n[32];
        snprintf(n, sizeof n, "%lld", (long long)json_integer_value(v));
        return json_string(n);
    }
    if (json_is_real(v)) {
        char n[64];
        snprintf(n, sizeof n, "%.17g", json_real_value(v));
        return json_string(n);
    }
    if (json_is_boolean(v))
        return json_string(json_is_true(v) ? "true" : "false");
    if (json_is_object(v)) {
        json_t *out = json_object();
        const char *k;
        json_t *x;
        json_object_foreach((json_t *)v, k, x) json_object_set_new(out, k, as_form(x));
        return out;
    }
    if (json_is_array(v)) {
        json_t *out = json_array();
        size_t i;
        json_t *x;
        json_array_foreach(v, i, x) json_array_append_new(out, as_form(x));
        return out;
    }
    return json_incref((json_t *)v);
}

/* Every ${name:...} in v names one of the `seen` requests or .env. */
static int refs_ok(const json_t *v, const json_t *seen, const char *where, char *err, size_t errlen)
{
    if (json_is_string(v)) {
        const char *p = json_string_value(v);
        while ((p = strstr(p, "${")) != NULL) {
            const char *close = strchr(p, '}'), *colon = strchr(p, ':');
            if (!close) {
                snprintf(err, errlen, "%s: `%s` has ${ without its closing }", where,
                         json_string_value(v));
                return 0;
            }
            if (is_generator(p + 2, (size_t)(close - p - 2))) {
                p = close + 1;
                continue;
            }
            if (!colon || colon > close) {
                snprintf(err, errlen, "%s: `%s` is not ${name:field.path} or ${.env:VAR}", where,
                         json_string_value(v));
                return 0;
            }
            size_t nlen = (size_t)(colon - p - 2);
            if (!(nlen == 4 && !memcmp(p + 2, ".env", 4)) && !json_object_getn(seen, p + 2, nlen)) {
                snprintf(err, errlen,
                         "%s: `%.*s` refers to `%.*s`, which is not an earlier request", where,
                         (int)(close - p + 1), p, (int)nlen, p + 2);
                return 0;
            }
            p = close + 1;
        }
        return 1;
    }
    const char *k;
    json_t *x;
    size_t i;
    if (json_is_object(v))
        json_object_foreach((json_t *)v, k, x) if (!refs_ok(x, seen, where, err, errlen)) return 0;
    if (json_is_array(v))
        json_array_foreach(v, i, x) if (!refs_ok(x, seen, where, err, errlen)) return 0;
    return 1;
}

static sl_err fixture_check(const json_t *doc, char *err, size_t errlen)
{
    const json_t *list = json_object_get(doc, "fixtures");
    if (!json_is_object(doc) || !json_is_array(list) || !json_array_size(list)) {
        snprintf(err, errlen, "a fixture file is an object with a non-empty \"fixtures\" array");
        return SL_EINVAL;
    }
    json_t *seen = json_object();
    for (size_t i = 0; i < json_array_size(list); i++) {
        const json_t *f = json_array_get(list, i);
        const char *name = json_string_value(json_object_get(f, "name"));
        const char *path = json_string_value(json_object_get(f, "path"));
        const char *method = json_string_value(json_object_get(f, "method"));
        char where[300];
        snprintf(where, sizeof where, "fixtures[%zu]%s%s%s", i, name ? " (" : "", name ? name : "",
                 name ? ")" : "");
        const char *bad =
            !json_is_object(f)        ? "is not an object"
            : !name || !*name         ? "has no \"name\""
            : !path || path[0] != '/' ? "has no \"path\" starting with /"
            : !method                 ? "has no \"method\""
            : strcasecmp(method, "get") && strcasecmp(method, "post") &&
                    strcasecmp(method, "delete")
                ? "has a \"method\" other than get, post or delete"
            : json_object_get(f, "params") && !json_is_object(json_object_get(f, "params"))
                ? "has \"params\" that are not an object"
                : NULL;
        if (bad) {
            snprintf(err, errlen, "%s %s", where, bad);
            json_decref(seen);
            return SL_EINVAL;
        }
        if (!refs_ok(json_object_get(f, "path"), seen, where, err, errlen) ||
            !refs_ok(json_object_get(f, "params"), seen, where, err, errlen)) {
            json_decref(seen);
            return SL_EINVAL;
        }
        json_object_set_new(seen, name, json_true());
    }
    json_decref(seen);
    return SL_OK;
}

sl_err sl__fixture_check(const json_t *doc, char *err, size_t errlen)
{
    sl_err rc = fixture_check(doc, err, errlen);
    if (rc)
        sl__utf8_clip(err); /* messages quote names and strings, maybe cut */
    return rc;
}

sl_err sl__fixture_run(sl_client_t *client, const json_t *doc, sl_fixture_step_fn step, void *ctx,
                       char *err, size_t errlen)
{
    sl_err rc = sl__fixture_check(doc, err, errlen);
    if (rc)
        return rc;
    const json_t *list = json_object_get(doc, "fixtures");
    json_t *done = json_object();
    for (size_t i = 0; i < json_array_size(list) && rc == SL_OK; i++) {
        const json_t *f = json_array_get(list, i);
        const char *name = json_string_value(json_object_get(f, "name"));
        char where[300], method[8];
        snprintf(where, sizeof where, "fixtures[%zu] (%s)", i, name);
        snprintf(method, sizeof method, "%s", json_string_value(json_object_get(f, "method")));
        for (char *p = method; *p; p++)
            *p = (char)(*p >= 'a' && *p <= 'z' ? *p - 32 : *p);
        json_t *path = sl__fixture_subst(json_object_get(f, "path"), done, where, err, errlen);
        const json_t *raw = json_object_get(f, "params");
        json_t *params = raw ? sl__fixture_subst(raw, done, where, err, errlen) : json_object();
        if (!path || !params) {
            json_decref(path);
            json_decref(params);
            rc = SL_EINVAL;
            break;
        }
        json_t *form = as_form(params);
        sl_request_t req = {method, json_string_value(path), form, NULL, NULL, NULL, 0};
        sl_response_t resp;
        rc = sl_client_request(client, &req, &resp);
        if (step)
            step(ctx, name, method, json_string_value(path), rc, &resp);
        const char *expected = json_string_value(json_object_get(f, "expected_error_type"));
        if (rc == SL_ESTRIPE && expected && strcmp(expected, resp.error.type) != 0) {
            snprintf(err, errlen, "%s: expected a %s error, got %s: %s", where, expected,
                     resp.error.type, resp.error.message);
        } else if (rc == SL_ESTRIPE && expected) {
            rc = SL_OK;
            json_object_set_new(done, name, resp.json ? json_incref(resp.json) : json_object());
        } else if (rc) {
            snprintf(err, errlen, "%s: %s %s: %s", where, method, json_string_value(path),
                     resp.error.message[0] ? resp.error.message : sl_strerror(rc));
        } else {
            json_object_set(done, name, resp.json);
        }
        sl_response_cleanup(&resp);
        json_decref(form);
        json_decref(params);
        json_decref(path);
    }
    json_decref(done);
    if (rc)
        sl__utf8_clip(err);
    return rc;
}
