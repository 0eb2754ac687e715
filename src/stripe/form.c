/* Stripe's form encoding: JSON trees to `a[b][0][c]=v` and back. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/hex.h"
#include "sluice/stripe.h"
#include "stripe/internal.h"

#define FORM_MAX_DEPTH 32

/* --- Encoding ------------------------------------------------------------------------------- */

sl_err sl__percent_escape(sl_buf_t *b, const char *s, size_t n, int keep_brackets)
{
    static const char hex[] = "0123456789ABCDEF";
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        sl_err rc;
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '.' || c == '_' || c == '~' ||
            (keep_brackets && (c == '[' || c == ']'))) {
            rc = sl__buf_putc(b, (char)c);
        } else {
            char e[3] = {'%', hex[c >> 4], hex[c & 15]};
            rc = sl__buf_append(b, e, 3);
        }
        if (rc)
            return rc;
    }
    return SL_OK;
}

sl_err sl__js_number(double x, char *out, size_t outlen)
{
    if (!isfinite(x) || outlen < 32)
        return SL_EINVAL;
    if (x == 0) {
        snprintf(out, outlen, "0");
        return SL_OK;
    }
    /* Shortest digit string that reads back as x, as ECMAScript's Number::toString requires. */
    char sci[40];
    int prec;
    for (prec = 1; prec <= 17; prec++) {
        snprintf(sci, sizeof sci, "%.*e", prec - 1, x);
        if (strtod(sci, NULL) == x)
            break;
    }
    /* sci is [-]d[.ddd]e[+-]XX: collect the digits and the exponent. */
    const char *p = sci;
    int neg = 0;
    if (*p == '-') {
        neg = 1;
        p++;
    }
    char digits[20];
    int k = 0;
    for (; *p && *p != 'e'; p++)
        if (*p != '.')
            digits[k++] = *p;
    while (k > 1 && digits[k - 1] == '0')
        k--;
    digits[k] = '\0';
    int n = atoi(p + 1) + 1; /* the decimal point sits after n digits */

    char *o = out;
    if (neg)
        *o++ = '-';
    if (k <= n && n <= 21) {
        memcpy(o, digits, (size_t)k);
        o += k;
        for (int i = k; i < n; i++)
            *o++ = '0';
    } else if (0 < n && n <= 21) {
        memcpy(o, digits, (size_t)n);
        o += n;
        *o++ = '.';
        memcpy(o, digits + n, (size_t)(k - n));
        o += k - n;
    } else if (-6 < n && n <= 0) {
        *o++ = '0';
        *o++ = '.';
        for (int i = 0; i < -n; i++)
            *o++ = '0';
        memcpy(o, digits, (size_t)k);
        o += k;
    } else {
        *o++ = digits[0];
        if (k > 1) {
            *o++ = '.';
            memcpy(o, digits + 1, (size_t)(k - 1));
            o += k - 1;
        }
        o += sprintf(o, "e%c%d", n - 1 >= 0 ? '+' : '-', abs(n - 1));
    }
    *o = '\0';
    return SL_OK;
}

/* JavaScript objects list integer-like keys ("0".."4294967294") first, in numeric order, then
 * the others in insertion order; the npm encoder walks them that way. */
static int js_array_index(const char *k, unsigned long *v)
{
    size_t n = strlen(k);
    if (n == 0 || n > 10 || (n > 1 && k[0] == '0'))
        return 0;
    unsigned long x = 0;
    for (size_t i = 0; i < n; i++) {
        if (k[i] < '0' || k[i] > '9')
            return 0;
        x = x * 10 + (unsigned long)(k[i] - '0');
    }
    if (x > 4294967294UL)
        return 0;
    *v = x;
    return 1;
}

typedef struct form_key {
    const char *key;
    const json_t *value;
    unsigned long index;
    int is_index;
    size_t order;
} form_key_t;

static int form_key_cmp(const void *a, const void *b)
{
    const form_key_t *x = a, *y = b;
    if (x->is_index != y->is_index)
        return x->is_index ? -1 : 1;
    if (x->is_index)
        return x->index < y->index ? -1 : x->index > y->index;
    return x->order < y->order ? -1 : x->order > y->order;
}

static sl_err form_encode_value(sl_buf_t *out, sl_buf_t *path, const json_t *v, int depth);

static sl_err form_encode_child(sl_buf_t *out, sl_buf_t *path, const char *name, size_t namelen,
                                const json_t *v, int depth)
{
    size_t mark = path->len;
    sl_err rc;
    if (depth == 0) {
        rc = sl__buf_append(path, name, namelen);
    } else {
        rc = sl__buf_putc(path, '[');
        if (!rc)
            rc = sl__buf_append(path, name, namelen);
        if (!rc)
            rc = sl__buf_putc(path, ']');
    }
    if (!rc)
        rc = form_encode_value(out, path, v, depth + 1);
    path->len = mark;
    if (path->data)
        path->data[mark] = '\0';
    return rc;
}

static sl_err form_encode_object(sl_buf_t *out, sl_buf_t *path, const json_t *obj, int depth)
{
    size_t n = json_object_size(obj);
    if (n == 0)
        return SL_OK;
    form_key_t *keys = calloc(n, sizeof *keys);
    if (!keys)
        return SL_ENOMEM;
    size_t i = 0;
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)obj, k, v)
    {
        if (strlen(k) != json_object_iter_key_len(json_object_key_to_iter(k))) {
            free(keys);
            return SL_EINVAL; /* a key with a NUL byte inside cannot be encoded */
        }
        keys[i].key = k;
        keys[i].value = v;
        keys[i].order = i;
        keys[i].is_index = js_array_index(k, &keys[i].index);
        i++;
    }
    qsort(keys, n, sizeof *keys, form_key_cmp);
    sl_err rc = SL_OK;
    for (i = 0; i < n && !rc; i++)
        rc = form_encode_child(out, path, keys[i].key, strlen(keys[i].key), keys[i].value, depth);
    free(keys);
    return rc;
}

static sl_err form_emit(sl_buf_t *out, const sl_buf_t *path, const char *val, size_t len)
{
    sl_err rc = SL_OK;
    if (out->len)
        rc = sl__buf_putc(out, '&');
    if (!rc)
        rc = sl__percent_escape(out, path->data, path->len, 1);
    if (!rc)
        rc = sl__buf_putc(out, '=');
    if (!rc)
        rc = sl__percent_escape(out, val, len, 1);
    return rc;
}

static sl_err form_encode_value(sl_buf_t *out, sl_buf_t *path, const json_t *v, int depth)
{
    char num[64];
    if (depth > FORM_MAX_DEPTH)
        return SL_EINVAL;
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        return form_encode_object(out, path, v, depth);
    case JSON_ARRAY:
        for (size_t i = 0; i < json_array_size(v); i++) {
            int n = snprintf(num, sizeof num, "%zu", i);
            sl_err rc = form_encode_child(out, path, num, (size_t)n, json_array_get(v, i), depth);
            if (rc)
                return rc;
        }
        return SL_OK;
    case JSON_STRING:
        return form_emit(out, path, json_string_value(v), json_string_length(v));
    case JSON_INTEGER:
        snprintf(num, sizeof num, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        return form_emit(out, path, num, strlen(num));
    case JSON_REAL: {
        sl_err rc = sl__js_number(json_real_value(v), num, sizeof num);
        return rc ? rc : form_emit(out, path, num, strlen(num));
    }
    case JSON_TRUE:
        return form_emit(out, path, "true", 4);
    case JSON_FALSE:
        return form_emit(out, path, "false", 5);
    case JSON_NULL:
        return form_emit(out, path, "", 0);
    }
    return SL_EINVAL;
}

sl_err sl_form_encode(const json_t *params, char **out)
{
    *out = NULL;
    if (params && !json_is_object(params))
        return SL_EINVAL;
    sl_buf_t body, path;
    sl__buf_init(&body, 0);
    sl__buf_init(&path, 0);
    sl_err rc = params ? form_encode_object(&body, &path, params, 0) : SL_OK;
    sl__buf_cleanup(&path);
    if (rc) {
        sl__buf_cleanup(&body);
        return rc;
    }
    *out = sl__buf_take(&body);
    return *out ? SL_OK : SL_ENOMEM;
}

/* --- Building trees from bracketed keys ----------------------------------------------------- */

/* A bracketed number written without leading zeros and at most this is a list index; a larger
 * one is a plain name. `[]` never appends past it, so no list holds more than 10001 items. */
#define FORM_MAX_INDEX 10000

enum { SEG_KEY, SEG_INDEX, SEG_APPEND };

typedef struct form_seg {
    const char *s;
    size_t n;
    int kind;
    size_t index;
} form_seg_t;

/* A container met on the way down a key, and where it hangs in the one above it. */
typedef struct form_link {
    json_t *c;
    char key[256]; /* its name, when the one above is an object */
    size_t index;  /* its index, when the one above is an array */
} form_link_t;

static void form_err(char *err, size_t errlen, const char *fmt, const char *key)
{
    if (err && errlen)
        snprintf(err, errlen, fmt, key);
}

/* Whether s[0..n) is a list index (0..FORM_MAX_INDEX, no leading zeros); sets *index. */
static int form_index(const char *s, size_t n, size_t *index)
{
    if (n == 0 || n > 5 || (n > 1 && s[0] == '0'))
        return 0;
    size_t x = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return 0;
        x = x * 10 + (size_t)(s[i] - '0');
    }
    if (x > FORM_MAX_INDEX)
        return 0;
    *index = x;
    return 1;
}

static int form_seg_parse(const char *key, form_seg_t *segs, int *nseg, char *err, size_t errlen)
{
    const char *p = key;
    const char *b = strchr(key, '[');
    size_t namelen = b ? (size_t)(b - key) : strlen(key);
    if (namelen == 0) {
        form_err(err, errlen, "parameter `%s` has no name before its brackets", key);
        return -1;
    }
    int n = 0;
    segs[n++] = (form_seg_t){key, namelen, SEG_KEY, 0};
    p = key + namelen;
    while (*p == '[') {
        const char *close = strchr(p, ']');
        if (!close) {
            form_err(err, errlen, "parameter `%s` has a '[' without its ']'", key);
            return -1;
        }
        if (n == FORM_MAX_DEPTH) {
            form_err(err, errlen, "parameter `%s` nests too deeply", key);
            return -1;
        }
        form_seg_t s = {p + 1, (size_t)(close - p - 1), SEG_KEY, 0};
        if (s.n == 0)
            s.kind = SEG_APPEND;
        else if (form_index(s.s, s.n, &s.index))
            s.kind = SEG_INDEX;
        segs[n++] = s;
        p = close + 1;
    }
    if (*p) {
        form_err(err, errlen, "parameter `%s` has text after a ']' (write a[b][c])", key);
        return -1;
    }
    *nseg = n;
    return 0;
}

static json_t *form_array_to_object(const json_t *arr)
{
    json_t *o = json_object();
    char k[32];
    for (size_t i = 0; o && i < json_array_size(arr); i++) {
        snprintf(k, sizeof k, "%zu", i);
        if (json_object_set(o, k, json_array_get(arr, i))) {
            json_decref(o);
            return NULL;
        }
    }
    return o;
}

/* The list an object of entries stands for: *out is a new array when the object's keys are
 * exactly the indexes 0..n-1, in whatever order they came, and NULL when they are not. */
static sl_err form_as_array(const json_t *obj, json_t **out)
{
    *out = NULL;
    size_t n = json_object_size(obj), i;
    if (!json_is_object(obj) || n == 0 || n > FORM_MAX_INDEX + 1)
        return SL_OK;
    json_t **slot = calloc(n, sizeof *slot);
    if (!slot)
        return SL_ENOMEM;
    const char *k;
    json_t *v;
    int list = 1;
    json_object_foreach((json_t *)obj, k, v)
    {
        if (!form_index(k, strlen(k), &i) || i >= n || slot[i]) {
            list = 0;
            break;
        }
        slot[i] = v;
    }
    sl_err rc = SL_OK;
    json_t *arr = list ? json_array() : NULL;
    if (list && !arr)
        rc = SL_ENOMEM;
    for (i = 0; arr && i < n && !rc; i++)
        if (json_array_append(arr, slot[i]))
            rc = SL_ENOMEM;
    free(slot);
    if (rc) {
        json_decref(arr);
        return rc;
    }
    *out = arr;
    return SL_OK;
}

/* Hangs `v` (taking its reference) in container c: under `key` in an object, at `index` in an
 * array (appended when index is its size). */
static sl_err form_attach(json_t *c, const char *key, size_t index, json_t *v)
{
    int bad;
    if (json_is_object(c))
        bad = json_object_set_new(c, key, v);
    else if (index < json_array_size(c))
        bad = json_array_set_new(c, index, v);
    else
        bad = json_array_append_new(c, v);
    return bad ? SL_ENOMEM : SL_OK;
}

/* One past the highest index in container c (its size for an array, 0 when it has none). While
 * a form is decoded the count is kept in `next`, by container address, instead of searched for:
 * a long run of `a[]=` stays linear. */
static size_t form_next_index(const json_t *c, const json_t *next)
{
    if (json_is_array(c))
        return json_array_size(c);
    if (next) {
        char addr[32];
        snprintf(addr, sizeof addr, "%p", (const void *)c);
        return (size_t)json_integer_value(json_object_get(next, addr));
    }
    size_t end = 0, i;
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)c, k, v)
    {
        if (form_index(k, strlen(k), &i) && i + 1 > end)
            end = i + 1;
    }
    return end;
}

static sl_err form_note_index(json_t *next, const json_t *c, size_t index)
{
    char addr[32];
    if (!next)
        return SL_OK;
    snprintf(addr, sizeof addr, "%p", (const void *)c);
    if ((size_t)json_integer_value(json_object_get(next, addr)) > index)
        return SL_OK;
    return json_object_set_new(next, addr, json_integer((json_int_t)index + 1)) ? SL_ENOMEM : SL_OK;
}

/* sl_form_set, and the decoder's step: with `next` (decoding) every container is built as an
 * object of its entries and sl_form_decode turns lists into arrays once at the end; without it
 * the containers along the key are put right at once, so the tree is whole after every call. */
static sl_err form_put(json_t *root, const char *key, json_t *value, json_t *next, char *err,
                       size_t errlen)
{
    form_seg_t segs[FORM_MAX_DEPTH];
    form_link_t path[FORM_MAX_DEPTH];
    int nseg = 0;
    sl_err rc = SL_OK;
    if (err && errlen)
        err[0] = '\0';
    json_t *utf8 = key ? json_string(key) : NULL; /* jansson checks the UTF-8 */
    if (!utf8) {
        form_err(err, errlen, "%s", "a parameter name is not valid UTF-8 text");
        rc = SL_EINVAL;
        goto out;
    }
    json_decref(utf8);
    if (!json_is_object(root) || !value) {
        form_err(err, errlen, "%s", "no parameter tree or value");
        rc = SL_EINVAL;
        goto out;
    }
    if (form_seg_parse(key, segs, &nseg, err, errlen)) {
        rc = SL_EINVAL;
        goto out;
    }

    path[0].c = root;
    for (int i = 0; i < nseg; i++) {
        const form_seg_t *seg = &segs[i];
        json_t *cur = path[i].c, *child;
        int is_index = seg->kind != SEG_KEY;
        size_t idx = seg->index;
        char k[256];
        if (seg->kind == SEG_APPEND) {
            idx = form_next_index(cur, next);
            if (idx > FORM_MAX_INDEX) {
                form_err(err, errlen, "parameter `%s` appends past the 10001 items a list may hold",
                         key);
                rc = SL_EINVAL;
                goto out;
            }
        }
        if (json_is_array(cur) && !(is_index && idx <= json_array_size(cur))) {
            /* A name, or an index past the end: the list becomes an object of its entries
             * (and an array again below if the indexes close up). */
            json_t *o = form_array_to_object(cur);
            if (!o) {
                rc = SL_ENOMEM;
                goto out;
            }
            rc = form_attach(path[i - 1].c, path[i].key, path[i].index, o);
            if (rc)
                goto out;
            path[i].c = cur = o;
        }
        if (is_index) {
            snprintf(k, sizeof k, "%zu", idx);
        } else if (seg->n >= sizeof k) {
            form_err(err, errlen, "parameter `%s` has a name longer than 255 bytes", key);
            rc = SL_EINVAL;
            goto out;
        } else {
            memcpy(k, seg->s, seg->n);
            k[seg->n] = '\0';
        }
        child = json_is_array(cur) ? json_array_get(cur, idx) : json_object_get(cur, k);
        if (i == nseg - 1) {
            if (json_is_object(child) || json_is_array(child))
                goto nested_conflict;
            json_t *v = value;
            value = NULL;
            rc = form_attach(cur, k, idx, v);
            if (!rc && is_index && json_is_object(cur))
                rc = form_note_index(next, cur, idx);
            if (rc)
                goto out;
            break;
        }
        if (child && !json_is_object(child) && !json_is_array(child))
            goto value_conflict;
        if (!child) {
            child = json_object();
            if (!child) {
                rc = SL_ENOMEM;
                goto out;
            }
            rc = form_attach(cur, k, idx, child);
            if (!rc && is_index && json_is_object(cur))
                rc = form_note_index(next, cur, idx);
            if (rc)
                goto out;
        }
        path[i + 1].c = child;
        memcpy(path[i + 1].key, k, sizeof k);
        path[i + 1].index = idx;
    }
    /* Bottom up, each container the key went through is an array exactly when its entries
     * are the indexes 0..n-1. */
    for (int j = nseg - 1; !next && j >= 1; j--) {
        json_t *arr;
        rc = form_as_array(path[j].c, &arr);
        if (!rc && arr)
            rc = form_attach(path[j - 1].c, path[j].key, path[j].index, arr);
        if (rc)
            goto out;
    }
    goto out;

nested_conflict:
    form_err(err, errlen, "parameter `%s` is set both as a value and as nested parameters", key);
    rc = SL_EINVAL;
    goto out;
value_conflict:
    form_err(err, errlen, "parameter `%s` nests under a name already set as a value", key);
    rc = SL_EINVAL;
out:
    json_decref(value);
    return rc;
}

sl_err sl_form_set(json_t *root, const char *key, json_t *value, char *err, size_t errlen)
{
    return form_put(root, key, value, NULL, err, errlen);
}

/* Turns every object of list entries below v into its array, depth first. */
static sl_err form_lists_to_arrays(json_t *v)
{
    const char *k;
    json_t *c, *arr;
    size_t i;
    sl_err rc;
    if (json_is_object(v)) {
        json_object_foreach(v, k, c)
        {
            if (!json_is_object(c) && !json_is_array(c))
                continue;
            rc = form_lists_to_arrays(c);
            if (!rc)
                rc = form_as_array(c, &arr);
            if (!rc && arr && json_object_set_new(v, k, arr))
                rc = SL_ENOMEM;
            if (rc)
                return rc;
        }
    } else {
        json_array_foreach(v, i, c)
        {
            if (!json_is_object(c) && !json_is_array(c))
                continue;
            rc = form_lists_to_arrays(c);
            if (!rc)
                rc = form_as_array(c, &arr);
            if (!rc && arr && json_array_set_new(v, i, arr))
                rc = SL_ENOMEM;
            if (rc)
                return rc;
        }
    }
    return SL_OK;
}

/* --- Decoding ------------------------------------------------------------------------------- */

/* Percent-decodes s[0..n) into b ('+' is a space). Returns the offset of a bad escape or -1. */
static long form_unescape(sl_buf_t *b, const char *s, size_t n)
{
    sl__buf_reset(b);
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '+') {
            c = ' ';
        } else if (c == '%') {
            if (i + 2 >= n)
                return (long)i;
            int hi = sl__hex_val(s[i + 1]), lo = sl__hex_val(s[i + 2]);
            if (hi < 0 || lo < 0)
                return (long)i;
            c = (char)(hi * 16 + lo);
            i += 2;
        }
        if (sl__buf_putc(b, c))
            return (long)i;
    }
    if (!b->data)
        sl__buf_append(b, "", 0);
    return -1;
}

sl_err sl_form_decode(const char *s, size_t len, json_t **out, char *err, size_t errlen)
{
    sl_buf_t k, v;
    sl__buf_init(&k, 0);
    sl__buf_init(&v, 0);
    json_t *root = json_object(), *next = json_object();
    sl_err rc = root && next ? SL_OK : SL_ENOMEM;
    size_t i = 0;
    while (!rc && i < len) {
        size_t end = i;
        while (end < len && s[end] != '&')
            end++;
        size_t eq = i;
        while (eq < end && s[eq] != '=')
            eq++;
        if (end > i) {
            long bad = form_unescape(&k, s + i, eq - i);
            if (bad < 0)
                bad = eq < end ? form_unescape(&v, s + eq + 1, end - eq - 1)
                               : form_unescape(&v, "", 0);
            else
                bad += (long)i;
            if (bad >= 0) {
                if (err && errlen)
                    snprintf(err, errlen, "malformed percent-escape near byte %zu", i);
                rc = SL_EPARSE;
                break;
            }
            json_t *str = json_stringn(v.data, v.len);
            if (!str || strlen(k.data) != k.len) {
                if (err && errlen)
                    snprintf(err, errlen, "parameter near byte %zu is not valid UTF-8 text", i);
                json_decref(str);
                rc = SL_EPARSE;
                break;
            }
            rc = form_put(root, k.data, str, next, err, errlen);
            if (rc == SL_EINVAL)
                rc = SL_EPARSE;
        }
        i = end + 1;
    }
    if (!rc)
        rc = form_lists_to_arrays(root);
    sl__buf_cleanup(&k);
    sl__buf_cleanup(&v);
    json_decref(next);
    if (rc) {
        json_decref(root);
        root = NULL;
    }
    *out = root;
    return rc;
}
