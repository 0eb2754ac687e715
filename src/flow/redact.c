/* Secrets out of run history: see internal.h, sl__record_redact.
 *
 * A step receives its real input; what is recorded (and so shown by `runs show`, the API and
 * the database) is a copy in which:
 *   - every value of a SLUICE_FLOW_* variable (and SLUICE_SMTP_PASSWORD), wherever it appears
 *     inside a string, reads "[redacted $.env.NAME]";
 *   - the value of a field whose name says it holds a credential (Authorization, Cookie,
 *     X-Api-Key, Stripe-Signature, or any name with "password", "secret" or "token" in it)
 *     reads "[redacted]";
 *   - a URL's password (scheme://user:PASSWORD@host) reads "***".
 * Values shorter than 4 bytes are not searched for: they would match everywhere and cannot be
 * secrets worth the name. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "flow/internal.h"

#define MIN_SECRET 4

json_t *sl__record_secrets(const json_t *env)
{
    json_t *out = json_object();
    const char *name;
    json_t *v;
    json_object_foreach((json_t *)env, name, v)
    {
        if (json_string_length(v) >= MIN_SECRET)
            json_object_set(out, name, v);
    }
    const char *pw = getenv("SLUICE_SMTP_PASSWORD");
    if (pw && strlen(pw) >= MIN_SECRET)
        json_object_set_new(out, "SLUICE_SMTP_PASSWORD", json_string(pw));
    return out;
}

static int credential_name(const char *k)
{
    static const char *const exact[] = {"authorization", "proxy-authorization", "cookie",
                                        "set-cookie",    "x-api-key",           "api-key",
                                        "apikey",        "stripe-signature",    NULL};
    for (size_t i = 0; exact[i]; i++)
        if (!strcasecmp(k, exact[i]))
            return 1;
    static const char *const parts[] = {"password", "secret", "token", NULL};
    for (size_t i = 0; parts[i]; i++)
        if (strcasestr(k, parts[i]))
            return 1;
    return 0;
}

/* Appends s[0..n) to a growing heap buffer; -1 when out of memory. */
static int put(char **buf, size_t *len, size_t *cap, const char *s, size_t n)
{
    if (*len + n + 1 > *cap) {
        size_t c = (*cap ? *cap * 2 : 64) + n;
        char *b = realloc(*buf, c);
        if (!b)
            return -1;
        *buf = b;
        *cap = c;
    }
    memcpy(*buf + *len, s, n);
    *len += n;
    (*buf)[*len] = '\0';
    return 0;
}

/* The length of the password in a URL's user info starting at s ("://user:pw@"), or 0. */
static size_t url_password(const char *s, size_t *skip)
{
    if (strncmp(s, "://", 3))
        return 0;
    const char *p = s + 3, *colon = NULL;
    for (; *p && *p != '/' && *p != '@' && *p != ' '; p++)
        if (*p == ':' && !colon)
            colon = p;
    if (*p != '@' || !colon || p == colon + 1)
        return 0;
    *skip = (size_t)(colon + 1 - s);
    return (size_t)(p - colon - 1);
}

char *sl__record_redact_str(const char *s, const json_t *secrets)
{
    char *out = NULL;
    size_t len = 0, cap = 0;
    int changed = 0;
    for (const char *p = s; *p;) {
        const char *name;
        json_t *v;
        size_t hit = 0;
        json_object_foreach((json_t *)secrets, name, v)
        {
            size_t n = json_string_length(v);
            if (n && !strncmp(p, json_string_value(v), n)) {
                char mark[300];
                int m = snprintf(mark, sizeof mark, "[redacted $.env.%s]", name);
                if (put(&out, &len, &cap, mark, (size_t)m))
                    goto oom;
                hit = n;
                break;
            }
        }
        size_t skip = 0, pw = hit ? 0 : url_password(p, &skip);
        if (pw) {
            if (put(&out, &len, &cap, p, skip) || put(&out, &len, &cap, "***", 3))
                goto oom;
            hit = skip + pw;
        }
        if (hit) {
            changed = 1;
            p += hit;
        } else {
            if (put(&out, &len, &cap, p, 1))
                goto oom;
            p++;
        }
    }
    if (changed)
        return out ? out : strdup("");
    free(out);
    return NULL;
oom:
    free(out);
    return strdup("[redacted]");
}

/* Whether v holds anything to redact (checked first: most records hold nothing, and are then
 * kept as they are rather than copied). */
static int dirty(const json_t *v, const json_t *secrets)
{
    if (json_is_string(v)) {
        const char *s = json_string_value(v), *name;
        json_t *x;
        json_object_foreach((json_t *)secrets, name, x)
        {
            if (strstr(s, json_string_value(x)))
                return 1;
        }
        for (const char *p = strstr(s, "://"); p; p = strstr(p + 3, "://")) {
            size_t skip;
            if (url_password(p, &skip))
                return 1;
        }
        return 0;
    }
    if (json_is_array(v)) {
        for (size_t i = 0; i < json_array_size(v); i++)
            if (dirty(json_array_get(v, i), secrets))
                return 1;
        return 0;
    }
    if (json_is_object(v)) {
        const char *k;
        json_t *x;
        json_object_foreach((json_t *)v, k, x)
        {
            if (credential_name(k) || dirty(x, secrets))
                return 1;
        }
    }
    return 0;
}

static json_t *copy_redacted(const json_t *v, const json_t *secrets);

json_t *sl__record_redact(const json_t *v, const json_t *secrets)
{
    return dirty(v, secrets) ? copy_redacted(v, secrets) : json_incref((json_t *)v);
}

static json_t *copy_redacted(const json_t *v, const json_t *secrets)
{
    if (json_is_string(v)) {
        char *r = sl__record_redact_str(json_string_value(v), secrets);
        if (!r)
            return json_incref((json_t *)v);
        json_t *s = json_string(r);
        free(r);
        return s ? s : json_string("[redacted]");
    }
    if (json_is_array(v)) {
        json_t *a = json_array();
        for (size_t i = 0; i < json_array_size(v); i++)
            json_array_append_new(a, copy_redacted(json_array_get(v, i), secrets));
        return a;
    }
    if (json_is_object(v)) {
        json_t *o = json_object();
        const char *k;
        json_t *x;
        json_object_foreach((json_t *)v, k, x)
        {
            if (credential_name(k) && (json_is_string(x) || json_is_number(x)))
                json_object_set_new(o, k, json_string("[redacted]"));
            else
                json_object_set_new(o, k, copy_redacted(x, secrets));
        }
        return o;
    }
    return json_incref((json_t *)v);
}
