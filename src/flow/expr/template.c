/* Templates: strings with {{ expr }} parts, and JSON values whose strings are templates. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/utf8.h"
#include "flow/expr/internal.h"

#define RENDER_MAX_DEPTH 256 /* nesting of a value given to sl__template_render_json */

/* The next {{ ... }} in t[from..len): 1 with *open on the "{{" and *close on the "}}", 0 when
 * there is none, -1 (err set) when a {{ is never closed. Quoted strings inside are skipped, so
 * '}}' in a literal does not end the part; an unterminated one is left for the parser to name. */
static int next_part(const char *t, size_t len, size_t from, size_t *open, size_t *close, char *err,
                     size_t errlen)
{
    const char *o = memmem(t + from, len - from, "{{", 2);
    if (!o)
        return 0;
    *open = (size_t)(o - t);
    size_t i = *open + 2;
    while (i < len) {
        char c = t[i];
        if (c == '}' && i + 1 < len && t[i + 1] == '}') {
            *close = i;
            return 1;
        }
        if (c != '\'' && c != '"') {
            i++;
            continue;
        }
        size_t j = i + 1;
        while (j < len && t[j] != c)
            j += t[j] == '\\' ? 2 : 1;
        if (j >= len) {
            const char *cl = memmem(t + i, len - i, "}}", 2);
            if (!cl)
                break;
            *close = (size_t)(cl - t);
            return 1;
        }
        i = j + 1;
    }
    sl__expr_errf(err, errlen, *open + 1, "`{{` without a closing `}}`");
    return -1;
}

/* 0, or -1 with err naming the column of the first byte of t that is not valid UTF-8. */
static int template_utf8(const char *t, size_t len, char *err, size_t errlen)
{
    size_t bad = sl__utf8_bad_at(t, len);
    if (bad == len)
        return 0;
    sl__expr_errf(err, errlen, bad + 1, "the template is not valid UTF-8");
    return -1;
}

json_t *sl__template_render(const char *tmpl, const json_t *ctx, char *err, size_t errlen)
{
    ev_t ev;
    sl__expr_ev_init(&ev, ctx, err, errlen);
    sl__expr_clear_err(err, errlen);
    if (!tmpl)
        return sl__expr_efail(&ev, 0, "no template");
    size_t len = strlen(tmpl), open, close;
    if (template_utf8(tmpl, len, err, errlen))
        return NULL;
    int rc = next_part(tmpl, len, 0, &open, &close, err, errlen);
    if (rc < 0)
        return NULL;
    if (rc == 0) {
        json_t *s = json_stringn(tmpl, len);
        return s ? s : sl__expr_enomem(&ev);
    }
    if (open == 0 && close + 2 == len) /* the whole string: keep the value's type */
        return sl__expr_own(&ev, sl__expr_eval_source(&ev, tmpl + 2, close - 2, 2));
    sl_buf_t b;
    sl__buf_init(&b, TEXT_MAX);
    size_t pos = 0;
    for (; rc > 0; rc = next_part(tmpl, len, pos, &open, &close, err, errlen)) {
        if (sl__buf_append(&b, tmpl + pos, open - pos)) {
            sl__expr_efail(&ev, 0, "text longer than %u bytes", TEXT_MAX);
            goto fail;
        }
        json_t *v = sl__expr_eval_source(&ev, tmpl + open + 2, close - open - 2, open + 2);
        int bad = !v || sl__expr_put_text(&ev, &b, v);
        json_decref(v);
        if (bad)
            goto fail;
        pos = close + 2;
    }
    if (rc < 0)
        goto fail;
    if (sl__buf_append(&b, tmpl + pos, len - pos)) {
        sl__expr_efail(&ev, 0, "text longer than %u bytes", TEXT_MAX);
        goto fail;
    }
    json_t *s = sl__expr_take_string(&ev, &b);
    if (s)
        sl__expr_clear_err(err, errlen);
    return s;
fail:
    sl__buf_cleanup(&b);
    return NULL;
}

sl_err sl__template_check(const char *tmpl, char *err, size_t errlen)
{
    sl__expr_clear_err(err, errlen);
    if (!tmpl) {
        sl__expr_errf(err, errlen, 0, "no template");
        return SL_EINVAL;
    }
    size_t len = strlen(tmpl), pos = 0, open, close;
    if (template_utf8(tmpl, len, err, errlen))
        return SL_EINVAL;
    for (;;) {
        int rc = next_part(tmpl, len, pos, &open, &close, err, errlen);
        if (rc < 0)
            return SL_EINVAL;
        if (rc == 0)
            return SL_OK;
        node_t *n = sl__expr_parse(tmpl + open + 2, close - open - 2, open + 2, err, errlen);
        if (!n)
            return SL_EINVAL;
        sl__expr_free(n);
        pos = close + 2;
    }
}

void sl__template_refs(const char *tmpl, sl_expr_ref_fn fn, void *ctx)
{
    if (!tmpl)
        return;
    size_t len = strlen(tmpl), pos = 0, open, close;
    while (next_part(tmpl, len, pos, &open, &close, NULL, 0) > 0) {
        node_t *n = sl__expr_parse(tmpl + open + 2, close - open - 2, open + 2, NULL, 0);
        if (!n)
            return;
        sl__expr_tree_refs(n, fn, ctx);
        sl__expr_free(n);
        pos = close + 2;
    }
}

/* Puts "where: " in front of the message in err. */
static void prefix_err(char *err, size_t errlen, const char *where)
{
    if (!err || !errlen || !*where)
        return;
    char *msg = strdup(err);
    if (!msg)
        return;
    sl__expr_errf(err, errlen, 0, "%s: %s", where, msg);
    free(msg);
}

typedef struct walk {
    const json_t *ctx;
    int render; /* 0: check only */
    char *err;
    size_t errlen;
    char where[256]; /* "/with/body/0" of the value being visited */
    size_t wlen;
} walk_t;

/* Sets *out (when rendering) to v with its strings rendered; -1 with err set on failure. The
 * depth is bounded: values come from flow files. */
static int walk_json(walk_t *w, const json_t *v, json_t **out, int depth)
{
    if (depth > RENDER_MAX_DEPTH) {
        sl__expr_errf(w->err, w->errlen, 0, "%s: nested deeper than %d", w->where,
                      RENDER_MAX_DEPTH);
        return -1;
    }
    if (json_is_string(v)) {
        const char *s = json_string_value(v);
        if (strlen(s) != json_string_length(v)) {
            sl__expr_errf(w->err, w->errlen, 0, "%s: a template cannot hold a NUL character",
                          *w->where ? w->where : "/");
            return -1;
        }
        if (w->render)
            *out = sl__template_render(s, w->ctx, w->err, w->errlen);
        if (w->render ? !*out : sl__template_check(s, w->err, w->errlen) != SL_OK) {
            prefix_err(w->err, w->errlen, w->where);
            return -1;
        }
        return 0;
    }
    if (!json_is_array(v) && !json_is_object(v)) {
        if (!w->render)
            return 0;
        *out = json_deep_copy(v);
        if (!*out)
            goto nomem;
        return 0;
    }
    json_t *copy = NULL;
    if (w->render) {
        copy = json_is_array(v) ? json_array() : json_object();
        if (!copy)
            goto nomem;
    }
    size_t saved = w->wlen;
    int rc = 0;
    if (json_is_array(v)) {
        for (size_t i = 0; i < json_array_size(v) && !rc; i++) {
            json_t *item = NULL;
            snprintf(w->where + saved, sizeof w->where - saved, "/%zu", i);
            w->wlen = strlen(w->where);
            rc = walk_json(w, json_array_get(v, i), &item, depth + 1);
            if (!rc && w->render && json_array_append_new(copy, item))
                rc = 1;
        }
    } else {
        json_t *obj = (json_t *)v;
        for (void *it = json_object_iter(obj); it && !rc; it = json_object_iter_next(obj, it)) {
            json_t *item = NULL;
            const char *key = json_object_iter_key(it);
            size_t klen = json_object_iter_key_len(it);
            snprintf(w->where + saved, sizeof w->where - saved, "/%.*s", (int)klen, key);
            w->wlen = strlen(w->where);
            rc = walk_json(w, json_object_iter_value(it), &item, depth + 1);
            if (!rc && w->render && json_object_setn_new_nocheck(copy, key, klen, item))
                rc = 1;
        }
    }
    w->where[saved] = '\0';
    w->wlen = saved;
    if (rc) {
        json_decref(copy);
        if (rc > 0)
            goto nomem;
        return -1;
    }
    if (w->render)
        *out = copy;
    return 0;
nomem:
    sl__expr_errf(w->err, w->errlen, 0, "out of memory");
    return -1;
}

json_t *sl__template_render_json(const json_t *v, const json_t *ctx, char *err, size_t errlen)
{
    walk_t w = {.ctx = ctx, .render = 1, .err = err, .errlen = errlen};
    json_t *out = NULL;
    sl__expr_clear_err(err, errlen);
    if (!v) {
        sl__expr_errf(err, errlen, 0, "no value");
        return NULL;
    }
    if (walk_json(&w, v, &out, 0))
        return NULL;
    sl__expr_clear_err(err, errlen);
    return out;
}

sl_err sl__template_check_json(const json_t *v, char *err, size_t errlen)
{
    walk_t w = {.render = 0, .err = err, .errlen = errlen};
    sl__expr_clear_err(err, errlen);
    if (!v) {
        sl__expr_errf(err, errlen, 0, "no value");
        return SL_EINVAL;
    }
    return walk_json(&w, v, NULL, 0) ? SL_EINVAL : SL_OK;
}
