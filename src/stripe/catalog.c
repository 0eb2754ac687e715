/* Looking up, describing and validating the operations of the generated catalog. */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/buf.h"
#include "sluice/catalog.h"
#include "stripe/catalog.h"
#include "stripe/internal.h"

static const char *const method_names[] = {"GET", "POST", "DELETE"};

static const sl_cat_op_t *cat_op(const sl_op_t *op)
{
    return (const sl_cat_op_t *)(const void *)op;
}

const char *sl_catalog_api_version(void)
{
    return sl__cat_api_version;
}

size_t sl_op_count(void)
{
    return sl__cat_nops;
}

const sl_op_t *sl_op_at(size_t i)
{
    return i < sl__cat_nops ? (const sl_op_t *)(const void *)&sl__cat_ops[i] : NULL;
}

/* bsearch() comparators: a name against a table row's name offset (the first member). */
static int cmp_name_op(const void *key, const void *row)
{
    return strcmp(key, SL_CAT_STR(((const sl_cat_op_t *)row)->name));
}

static int cmp_name_field(const void *key, const void *row)
{
    return strcmp(key, SL_CAT_STR(((const sl_cat_field_t *)row)->name));
}

static int cmp_name_event(const void *key, const void *row)
{
    return strcmp(key, SL_CAT_STR(((const sl_cat_event_t *)row)->name));
}

const sl_op_t *sl_op_find(const char *name)
{
    return bsearch(name, sl__cat_ops, sl__cat_nops, sizeof *sl__cat_ops, cmp_name_op);
}

const char *sl_op_name(const sl_op_t *op)
{
    return SL_CAT_STR(cat_op(op)->name);
}

const char *sl_op_method(const sl_op_t *op)
{
    return method_names[cat_op(op)->method];
}

const char *sl_op_path(const sl_op_t *op)
{
    return SL_CAT_STR(cat_op(op)->path);
}

const char *sl_op_summary(const sl_op_t *op)
{
    return SL_CAT_STR(cat_op(op)->summary);
}

const char *sl_op_response(const sl_op_t *op)
{
    return SL_CAT_STR(cat_op(op)->response);
}

size_t sl_op_path_param_count(const sl_op_t *op)
{
    return cat_op(op)->npath;
}

const char *sl_op_path_param(const sl_op_t *op, size_t i)
{
    const sl_cat_op_t *o = cat_op(op);
    return i < o->npath ? SL_CAT_STR(sl__cat_fields[o->path_fields + i].name) : NULL;
}

/* --- Describing ---------------------------------------------------------------------------- */

static void kinds_text(char *out, size_t n, unsigned kinds, unsigned flags)
{
    static const char *const names[] = {"string",  "integer", "number",
                                        "boolean", "object",  "array"};
    out[0] = '\0';
    if (kinds == 63) {
        snprintf(out, n, "any");
        return;
    }
    for (int i = 0; i < 6; i++) {
        if (kinds & (1u << i)) {
            size_t l = strlen(out);
            snprintf(out + l, n - l, "%s%s", l ? "|" : "", names[i]);
        }
    }
    if (!out[0] && (flags & SL_SHAPE_EMPTY_OK))
        snprintf(out, n, "empty string");
}

static json_t *describe_shape(const sl_cat_shape_t *sh, int depth);

static json_t *describe_field(const sl_cat_field_t *f, int depth)
{
    json_t *d = describe_shape(&sl__cat_shapes[f->shape], depth);
    if (!d)
        return NULL;
    json_object_set_new(d, "name", json_string(SL_CAT_STR(f->name)));
    json_object_set_new(d, "required", json_boolean(f->required));
    if (SL_CAT_STR(f->desc)[0])
        json_object_set_new(d, "description", json_string(SL_CAT_STR(f->desc)));
    return d;
}

static json_t *describe_shape(const sl_cat_shape_t *sh, int depth)
{
    char type[96];
    kinds_text(type, sizeof type, sh->kinds, sh->flags);
    json_t *d = json_object();
    if (!d)
        return NULL;
    json_object_set_new(d, "type", json_string(type));
    if (sh->flags & SL_SHAPE_EMPTY_OK)
        json_object_set_new(d, "unsettable", json_true());
    if (sh->nenums) {
        json_t *e = json_array();
        for (size_t i = 0; i < sh->nenums; i++)
            json_array_append_new(e, json_string(SL_CAT_STR(sl__cat_enums[sh->enums + i])));
        json_object_set_new(d, "enum", e);
    }
    if ((sh->flags & SL_SHAPE_OPEN) && (sh->kinds & SL_KIND_OBJECT))
        json_object_set_new(d, "any_keys", json_true());
    if (depth < 10 && sh->nfields) {
        json_t *fields = json_array();
        for (size_t i = 0; i < sh->nfields; i++)
            json_array_append_new(fields,
                                  describe_field(&sl__cat_fields[sh->fields + i], depth + 1));
        json_object_set_new(d, "fields", fields);
    }
    if (depth < 10 && sh->items != SL_CAT_NONE)
        json_object_set_new(d, (sh->kinds & SL_KIND_ARRAY) ? "items" : "values",
                            describe_shape(&sl__cat_shapes[sh->items], depth + 1));
    if (sh->max_len)
        json_object_set_new(d, "max_length", json_integer(sh->max_len));
    return d;
}

json_t *sl_op_describe(const sl_op_t *op)
{
    const sl_cat_op_t *o = cat_op(op);
    json_t *d = json_pack("{s:s,s:s,s:s,s:s,s:s}", "name", SL_CAT_STR(o->name), "method",
                          method_names[o->method], "path", SL_CAT_STR(o->path), "summary",
                          SL_CAT_STR(o->summary), "response", SL_CAT_STR(o->response));
    if (!d)
        return NULL;
    json_t *pp = json_array();
    for (size_t i = 0; i < o->npath; i++) {
        const sl_cat_field_t *f = &sl__cat_fields[o->path_fields + i];
        json_array_append_new(pp, json_pack("{s:s,s:s}", "name", SL_CAT_STR(f->name), "description",
                                            SL_CAT_STR(f->desc)));
    }
    json_object_set_new(d, "path_params", pp);
    const sl_cat_shape_t *top = &sl__cat_shapes[o->params];
    json_t *params = json_array();
    /* Required parameters first, then the others, each group in name order. */
    for (int pass = 1; pass >= 0; pass--)
        for (size_t i = 0; i < top->nfields; i++)
            if (sl__cat_fields[top->fields + i].required == pass)
                json_array_append_new(params, describe_field(&sl__cat_fields[top->fields + i], 1));
    json_object_set_new(d, "params", params);
    return d;
}

/* --- Validation ---------------------------------------------------------------------------- */

typedef struct vctx {
    const sl_cat_op_t *op;
    char *err;
    size_t errlen;
    int (*opaque)(const json_t *v); /* values that stand for any value (NULL: none do) */
    const sl_buf_t *path;           /* the parameter being checked, for `where` */
    char *where;                    /* out: the parameter at fault (may be NULL) */
    size_t wherelen;
} vctx_t;

static int v_fail(vctx_t *v, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int v_fail(vctx_t *v, const char *fmt, ...)
{
    if (v->where && v->wherelen)
        snprintf(v->where, v->wherelen, "%s", v->path && v->path->data ? v->path->data : "");
    if (v->err && v->errlen) {
        int n = snprintf(v->err, v->errlen, "%s: ", SL_CAT_STR(v->op->name));
        if (n >= 0 && (size_t)n < v->errlen) {
            va_list ap;
            va_start(ap, fmt);
            vsnprintf(v->err + n, v->errlen - (size_t)n, fmt, ap);
            va_end(ap);
        }
    }
    return -1;
}

static const sl_cat_field_t *shape_field(const sl_cat_shape_t *sh, const char *name)
{
    if (!sh->nfields)
        return NULL;
    return bsearch(name, &sl__cat_fields[sh->fields], sh->nfields, sizeof *sl__cat_fields,
                   cmp_name_field);
}

/* Edit distance, for "did you mean"; names are short so a small table will do. */
size_t sl__edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 63 || lb > 63)
        return 99;
    size_t row[64];
    for (size_t j = 0; j <= lb; j++)
        row[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t prev = row[0];
        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t cur = row[j];
            size_t sub = prev + (a[i - 1] != b[j - 1]);
            size_t del = row[j] + 1, ins = row[j - 1] + 1;
            row[j] = sub < del ? (sub < ins ? sub : ins) : (del < ins ? del : ins);
            prev = cur;
        }
    }
    return row[lb];
}

static const char *closest_field(const sl_cat_shape_t *sh, const char *name)
{
    const char *best = NULL;
    size_t best_d = strlen(name) / 3 + 1;
    if (best_d > 3)
        best_d = 3;
    for (size_t i = 0; i < sh->nfields; i++) {
        const char *cand = SL_CAT_STR(sl__cat_fields[sh->fields + i].name);
        size_t d = sl__edit_distance(name, cand);
        if (d <= best_d && (!best || d < sl__edit_distance(name, best)))
            best = cand;
    }
    return best;
}

static void path_push(sl_buf_t *path, size_t mark, const char *name)
{
    path->len = mark;
    if (path->data)
        path->data[mark] = '\0';
    if (mark == 0)
        sl__buf_puts(path, name);
    else
        sl__buf_printf(path, "[%s]", name);
}

static void path_pop(sl_buf_t *path, size_t mark)
{
    path->len = mark;
    if (path->data)
        path->data[mark] = '\0';
}

static int text_is_integer(const char *s)
{
    if (*s == '-')
        s++;
    if (!*s)
        return 0;
    for (; *s; s++)
        if (!isdigit((unsigned char)*s))
            return 0;
    return 1;
}

static int text_is_number(const char *s)
{
    char *end;
    if (!*s || isspace((unsigned char)*s))
        return 0;
    strtod(s, &end);
    return *end == '\0';
}

/* A boolean as a form gives it: true or false in any case (stripe-python 6 sends True and False,
 * and Stripe takes them). 1 for true, 0 for false, -1 when it is not a boolean. */
static int text_boolean(const char *s)
{
    return strcasecmp(s, "true") == 0 ? 1 : strcasecmp(s, "false") == 0 ? 0 : -1;
}

static const char *expected_text(const sl_cat_shape_t *sh, char *buf, size_t n)
{
    static const char *const names[] = {
        "a string", "an integer", "a number", "a boolean (true or false)", "an object", "an array"};
    buf[0] = '\0';
    for (int i = 0; i < 6; i++) {
        if (sh->kinds & (1u << i)) {
            size_t l = strlen(buf);
            snprintf(buf + l, n - l, "%s%s", l ? " or " : "", names[i]);
        }
    }
    if (sh->flags & SL_SHAPE_EMPTY_OK) {
        size_t l = strlen(buf);
        snprintf(buf + l, n - l, "%s", l ? " (or empty to unset it)" : "empty");
    }
    return buf;
}

static int all_keys_numeric(const json_t *obj)
{
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)obj, k, v)
    {
        if (!text_is_integer(k) || k[0] == '-')
            return 0;
    }
    return 1;
}

static int validate_value(vctx_t *v, const sl_cat_shape_t *sh, const json_t *val, sl_buf_t *path);

static int validate_object(vctx_t *v, const sl_cat_shape_t *sh, const json_t *obj, sl_buf_t *path)
{
    size_t mark = path->len;
    const char *k;
    json_t *val;
    json_object_foreach((json_t *)obj, k, val)
    {
        const sl_cat_field_t *f = shape_field(sh, k);
        if (!f) {
            if (sh->flags & SL_SHAPE_OPEN)
                continue;
            path_push(path, mark, k);
            const char *near = closest_field(sh, k);
            if (near) {
                char shown[512];
                snprintf(shown, sizeof shown, "%s", path->data);
                path_push(path, mark, near);
                v_fail(v, "unknown parameter `%s` (did you mean `%s`?); see `sluice ops %s`", shown,
                       path->data, SL_CAT_STR(v->op->name));
                if (v->where && v->wherelen)
                    snprintf(v->where, v->wherelen, "%s", shown);
                return -1;
            }
            return v_fail(v, "unknown parameter `%s`; see `sluice ops %s` for the parameters",
                          path->data, SL_CAT_STR(v->op->name));
        }
        path_push(path, mark, k);
        if (validate_value(v, &sl__cat_shapes[f->shape], val, path))
            return -1;
    }
    for (size_t i = 0; i < sh->nfields; i++) {
        const sl_cat_field_t *f = &sl__cat_fields[sh->fields + i];
        if (f->required && !json_object_get(obj, SL_CAT_STR(f->name))) {
            char exp[160];
            path_push(path, mark, SL_CAT_STR(f->name));
            return v_fail(v, "missing required parameter `%s` (%s)", path->data,
                          expected_text(&sl__cat_shapes[f->shape], exp, sizeof exp));
        }
    }
    path_pop(path, mark);
    return 0;
}

static int validate_text(vctx_t *v, const sl_cat_shape_t *sh, const char *s, sl_buf_t *path)
{
    char exp[160];
    if (!*s) {
        if ((sh->flags & SL_SHAPE_EMPTY_OK) || ((sh->kinds & SL_KIND_STRING) && !sh->nenums))
            return 0;
        return v_fail(v, "`%s` must be %s, not empty", path->data,
                      expected_text(sh, exp, sizeof exp));
    }
    if (sh->nenums && (sh->kinds & SL_KIND_STRING)) {
        for (size_t i = 0; i < sh->nenums; i++)
            if (strcmp(s, SL_CAT_STR(sl__cat_enums[sh->enums + i])) == 0)
                return 0;
    } else if (sh->kinds & SL_KIND_STRING) {
        size_t chars = 0; /* characters, as Stripe counts them, not bytes */
        for (const unsigned char *p = (const unsigned char *)s; *p; p++)
            chars += (*p & 0xC0) != 0x80;
        if (sh->max_len && chars > sh->max_len)
            return v_fail(v, "`%s` must be at most %u characters; it has %zu", path->data,
                          (unsigned)sh->max_len, chars);
        return 0;
    }
    if (((sh->kinds & SL_KIND_INTEGER) && text_is_integer(s)) ||
        ((sh->kinds & SL_KIND_NUMBER) && text_is_number(s)) ||
        ((sh->kinds & SL_KIND_BOOLEAN) && text_boolean(s) >= 0))
        return 0;
    if (sh->nenums && (sh->kinds & SL_KIND_STRING)) {
        sl_buf_t list;
        sl__buf_init(&list, 2048);
        for (size_t i = 0; i < sh->nenums; i++)
            sl__buf_printf(&list, "%s%s", i ? ", " : "", SL_CAT_STR(sl__cat_enums[sh->enums + i]));
        v_fail(v, "`%s` must be one of %s; not `%s`", path->data, list.data ? list.data : "", s);
        sl__buf_cleanup(&list);
        return -1;
    }
    return v_fail(v, "`%s` must be %s, not `%s`", path->data, expected_text(sh, exp, sizeof exp),
                  s);
}

static int validate_value(vctx_t *v, const sl_cat_shape_t *sh, const json_t *val, sl_buf_t *path)
{
    char exp[160], num[64];
    if ((sh->kinds == 63 && !sh->nfields) || (v->opaque && v->opaque(val)))
        return 0;
    switch (json_typeof(val)) {
    case JSON_OBJECT:
        if (sh->kinds & SL_KIND_OBJECT)
            return validate_object(v, sh, val, path);
        if ((sh->kinds & SL_KIND_ARRAY) && all_keys_numeric(val)) {
            size_t mark = path->len;
            const char *k;
            json_t *item;
            json_object_foreach((json_t *)val, k, item)
            {
                path_push(path, mark, k);
                if (sh->items != SL_CAT_NONE &&
                    validate_value(v, &sl__cat_shapes[sh->items], item, path))
                    return -1;
            }
            path_pop(path, mark);
            return 0;
        }
        return v_fail(v, "`%s` must be %s, not an object", path->data,
                      expected_text(sh, exp, sizeof exp));
    case JSON_ARRAY:
        if (sh->kinds & SL_KIND_ARRAY) {
            size_t mark = path->len;
            for (size_t i = 0; i < json_array_size(val); i++) {
                snprintf(num, sizeof num, "%zu", i);
                path_push(path, mark, num);
                if (sh->items != SL_CAT_NONE &&
                    validate_value(v, &sl__cat_shapes[sh->items], json_array_get(val, i), path))
                    return -1;
            }
            path_pop(path, mark);
            return 0;
        }
        if (sh->kinds & SL_KIND_OBJECT)
            return v_fail(v, "`%s` must be an object (%s[KEY]=VALUE), not an array", path->data,
                          path->data);
        return v_fail(v, "`%s` must be %s, not an array", path->data,
                      expected_text(sh, exp, sizeof exp));
    case JSON_STRING:
        return validate_text(v, sh, json_string_value(val), path);
    case JSON_NULL:
        return validate_text(v, sh, "", path);
    case JSON_INTEGER:
        snprintf(num, sizeof num, "%" JSON_INTEGER_FORMAT, json_integer_value(val));
        return validate_text(v, sh, num, path);
    case JSON_REAL:
        snprintf(num, sizeof num, "%.17g", json_real_value(val));
        return validate_text(v, sh, num, path);
    case JSON_TRUE:
    case JSON_FALSE:
        return validate_text(v, sh, json_is_true(val) ? "true" : "false", path);
    }
    return 0;
}

sl_err sl__op_validate_open(const struct sl_op *op, const json_t *params,
                            int (*opaque)(const json_t *v), char *where, size_t wherelen, char *err,
                            size_t errlen)
{
    sl_buf_t path;
    sl__buf_init(&path, 4096);
    vctx_t v = {cat_op((const sl_op_t *)op), err, errlen, opaque, &path, where, wherelen};
    if (err && errlen)
        err[0] = '\0';
    if (where && wherelen)
        where[0] = '\0';
    json_t *empty = NULL;
    if (!params)
        params = empty = json_object();
    int rc = -1;
    if (!json_is_object(params))
        v_fail(&v, "parameters must be a JSON object");
    else
        rc = validate_object(&v, &sl__cat_shapes[v.op->params], params, &path);
    sl__buf_cleanup(&path);
    json_decref(empty);
    return rc ? SL_EINVAL : SL_OK;
}

sl_err sl_op_validate(const sl_op_t *op, const json_t *params, char *err, size_t errlen)
{
    return sl__op_validate_open((const struct sl_op *)op, params, NULL, NULL, 0, err, errlen);
}

/* --- Building calls ------------------------------------------------------------------------ */

void sl_op_call_cleanup(sl_op_call_t *call)
{
    if (!call)
        return;
    free(call->path_buf);
    json_decref(call->params);
    memset(call, 0, sizeof *call);
}

sl_err sl_op_call_init(sl_op_call_t *out, const sl_op_t *op, const json_t *params, int validate,
                       char *err, size_t errlen)
{
    const sl_cat_op_t *o = cat_op(op);
    char ignored[8];
    memset(out, 0, sizeof *out);
    if (!err || !errlen) {
        err = ignored;
        errlen = sizeof ignored;
    }
    err[0] = '\0';
    if (params && !json_is_object(params)) {
        snprintf(err, errlen, "%s: parameters must be a JSON object", SL_CAT_STR(o->name));
        return SL_EINVAL;
    }
    out->params = params ? json_deep_copy(params) : json_object();
    if (!out->params)
        return SL_ENOMEM;

    int has_id_param = 0;
    for (size_t i = 0; i < o->npath; i++)
        if (strcmp(SL_CAT_STR(sl__cat_fields[o->path_fields + i].name), "id") == 0)
            has_id_param = 1;

    sl_buf_t path;
    sl__buf_init(&path, 8192);
    sl_err rc = SL_OK;
    const char *tmpl = SL_CAT_STR(o->path);
    size_t next = 0;
    for (const char *p = tmpl; *p && !rc;) {
        if (*p != '{') {
            const char *brace = strchr(p, '{');
            size_t n = brace ? (size_t)(brace - p) : strlen(p);
            rc = sl__buf_append(&path, p, n);
            p += n;
            continue;
        }
        const char *close = strchr(p, '}');
        const char *name = SL_CAT_STR(sl__cat_fields[o->path_fields + next].name);
        const char *key = name;
        json_t *val = json_object_get(out->params, name);
        if (!val && next + 1 == o->npath && !has_id_param) {
            key = "id";
            val = json_object_get(out->params, key);
        }
        char num[32];
        const char *text = json_is_string(val) ? json_string_value(val) : NULL;
        if (json_is_integer(val)) {
            snprintf(num, sizeof num, "%" JSON_INTEGER_FORMAT, json_integer_value(val));
            text = num;
        }
        if (!text || !*text) {
            snprintf(err, errlen,
                     "%s: missing path parameter `%s` (give %s=ID%s, or the ID right after the "
                     "operation's name)",
                     SL_CAT_STR(o->name), name, name,
                     next + 1 == o->npath && !has_id_param ? " or id=ID" : "");
            rc = SL_EINVAL;
            break;
        }
        rc = sl__percent_escape(&path, text, strlen(text), 0);
        json_object_del(out->params, key);
        next++;
        p = close ? close + 1 : p + strlen(p);
    }
    if (!rc && validate)
        rc = sl_op_validate(op, out->params, err, errlen);
    if (rc) {
        sl__buf_cleanup(&path);
        return rc;
    }
    out->path_buf = sl__buf_take(&path);
    if (!out->path_buf)
        return SL_ENOMEM;
    out->req.method = method_names[o->method];
    out->req.path = out->path_buf;
    out->req.params = out->params;
    return SL_OK;
}

/* --- Typing parameters ---------------------------------------------------------------------- */

static json_t *coerce(const sl_cat_shape_t *sh, const json_t *v, int depth)
{
    if (depth > 32)
        return json_deep_copy(v);
    if (json_is_string(v)) {
        const char *t = json_string_value(v);
        int text_ok = (sh->kinds & SL_KIND_STRING) != 0;
        if (!*t && (sh->flags & SL_SHAPE_EMPTY_OK))
            return json_null();
        /* An integer, or one of a few words (tiers[][up_to]: inf or a number): a number. */
        if ((!text_ok || sh->nenums) && (sh->kinds & SL_KIND_INTEGER) && text_is_integer(t))
            return json_integer(strtoll(t, NULL, 10));
        if (!text_ok && (sh->kinds & SL_KIND_NUMBER) && text_is_number(t))
            return json_real(strtod(t, NULL));
        if (!text_ok && (sh->kinds & SL_KIND_BOOLEAN) && text_boolean(t) >= 0)
            return json_boolean(text_boolean(t));
        return json_incref((json_t *)v);
    }
    if (json_is_object(v) && (sh->kinds & SL_KIND_ARRAY) && !(sh->kinds & SL_KIND_OBJECT) &&
        all_keys_numeric(v)) {
        json_t *arr = json_array();
        const char *k;
        json_t *item;
        json_object_foreach((json_t *)v, k, item)
        {
            json_array_append_new(arr, sh->items == SL_CAT_NONE
                                           ? json_deep_copy(item)
                                           : coerce(&sl__cat_shapes[sh->items], item, depth + 1));
        }
        return arr;
    }
    if (json_is_object(v)) {
        json_t *out = json_object();
        const char *k;
        json_t *item;
        json_object_foreach((json_t *)v, k, item)
        {
            const sl_cat_field_t *f = shape_field(sh, k);
            /* An open object's values have a shape of their own (currency_options[eur]). */
            const sl_cat_shape_t *vs = f ? &sl__cat_shapes[f->shape]
                                       : sh->items != SL_CAT_NONE && !(sh->kinds & SL_KIND_ARRAY)
                                           ? &sl__cat_shapes[sh->items]
                                           : NULL;
            json_object_set_new(out, k, vs ? coerce(vs, item, depth + 1) : json_deep_copy(item));
        }
        return out;
    }
    if (json_is_array(v)) {
        json_t *out = json_array();
        for (size_t i = 0; i < json_array_size(v); i++)
            json_array_append_new(
                out, sh->items == SL_CAT_NONE
                         ? json_deep_copy(json_array_get(v, i))
                         : coerce(&sl__cat_shapes[sh->items], json_array_get(v, i), depth + 1));
        return out;
    }
    return json_deep_copy(v);
}

json_t *sl__op_coerce(const struct sl_op *op, const json_t *params)
{
    return coerce(&sl__cat_shapes[cat_op((const sl_op_t *)op)->params], params, 0);
}

/* --- Event types --------------------------------------------------------------------------- */

size_t sl_event_type_count(void)
{
    return sl__cat_nevents;
}

const char *sl_event_type_name(size_t i)
{
    return i < sl__cat_nevents ? SL_CAT_STR(sl__cat_events[i].name) : NULL;
}

const char *sl_event_type_description(size_t i)
{
    return i < sl__cat_nevents ? SL_CAT_STR(sl__cat_events[i].desc) : NULL;
}

int sl_event_type_known(const char *name)
{
    return bsearch(name, sl__cat_events, sl__cat_nevents, sizeof *sl__cat_events, cmp_name_event) !=
           NULL;
}
