/* JSONPath selection: a definite path ($.a.b[0]) walks straight to its value, any other
 * gathers every match ($..id, $.lines[*], $.lines[?(@.paid)]) into an array. */
#include <stdarg.h>
#include <stdlib.h>

#include "flow/expr/internal.h"

/* Fails with a missing value: the path did not resolve. */
static json_t *emissing(ev_t *ev, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static json_t *emissing(ev_t *ev, const char *fmt, ...)
{
    ev->missing = 1;
    va_list ap;
    va_start(ap, fmt);
    sl__expr_verrf(ev->err, ev->errlen, 0, fmt, ap);
    va_end(ap);
    return NULL;
}

/* Matches gathered while evaluating a path; borrowed from the context, which outlives them. */
typedef struct vec {
    json_t **v;
    size_t n, cap;
} vec_t;

static int vec_push(ev_t *ev, vec_t *a, json_t *x)
{
    if (sl__expr_charge(ev, 1))
        return -1;
    if (a->n == a->cap) {
        size_t cap = a->cap ? a->cap * 2 : 8;
        json_t **v = realloc(a->v, cap * sizeof *v);
        if (!v) {
            sl__expr_enomem(ev);
            return -1;
        }
        a->v = v;
        a->cap = cap;
    }
    a->v[a->n++] = x;
    return 0;
}

static json_t *array_at(const json_t *a, json_int_t idx)
{
    if (!json_is_array(a))
        return NULL;
    size_t size = json_array_size(a);
    if (idx < 0) {
        unsigned long long back = (unsigned long long)(-(idx + 1)) + 1; /* no overflow */
        if (back > size)
            return NULL;
        return json_array_get(a, size - (size_t)back);
    }
    if ((unsigned long long)idx >= size)
        return NULL;
    return json_array_get(a, (size_t)idx);
}

/* Adds x to out when the filter holds for it; a path the filter names that x lacks is "no". */
static int filter_one(ev_t *ev, const node_t *f, json_t *x, vec_t *out)
{
    json_t *r = sl__expr_eval_node(ev, f, x);
    if (!r) {
        if (!ev->missing)
            return -1;
        sl__expr_eforget(ev);
        return 0;
    }
    int t = sl__expr_is_true(r);
    json_decref(r);
    return t ? vec_push(ev, out, x) : 0;
}

/* Applies one selector to x (not to its descendants). */
static int select_in(ev_t *ev, const seg_t *sg, json_t *x, vec_t *out)
{
    json_t *m;
    switch (sg->kind) {
    case S_NAME:
        m = json_object_get(x, sg->name);
        return m ? vec_push(ev, out, m) : 0;
    case S_INDEX:
        m = array_at(x, sg->index);
        return m ? vec_push(ev, out, m) : 0;
    default:
        break;
    }
    if (json_is_array(x)) {
        for (size_t i = 0; i < json_array_size(x); i++) {
            m = json_array_get(x, i);
            if (sg->kind == S_WILD ? vec_push(ev, out, m) : filter_one(ev, sg->filter, m, out))
                return -1;
        }
    } else if (json_is_object(x)) {
        for (void *it = json_object_iter(x); it; it = json_object_iter_next(x, it)) {
            m = json_object_iter_value(it);
            if (sg->kind == S_WILD ? vec_push(ev, out, m) : filter_one(ev, sg->filter, m, out))
                return -1;
        }
    }
    return 0;
}

/* Applies a selector after ".." to x and every value inside it, in document order. The walk
 * keeps its own stack: contexts come from outside and may nest deeply. */
static int select_deep(ev_t *ev, const seg_t *sg, json_t *x, vec_t *out)
{
    typedef struct frame {
        json_t *v;
        size_t i;
        void *it;
    } frame_t;
    if (select_in(ev, sg, x, out))
        return -1;
    if (!json_is_array(x) && !json_is_object(x))
        return 0;
    frame_t *st = malloc(8 * sizeof *st);
    size_t n = 0, cap = 8;
    if (!st) {
        sl__expr_enomem(ev);
        return -1;
    }
    st[n++] = (frame_t){x, 0, json_object_iter(x)};
    int rc = 0;
    while (n) {
        frame_t *f = &st[n - 1];
        json_t *child = NULL;
        if (json_is_array(f->v)) {
            if (f->i < json_array_size(f->v))
                child = json_array_get(f->v, f->i++);
        } else if (f->it) {
            child = json_object_iter_value(f->it);
            f->it = json_object_iter_next(f->v, f->it);
        }
        if (!child) {
            n--;
            continue;
        }
        if (sl__expr_charge(ev, 1) || select_in(ev, sg, child, out)) {
            rc = -1;
            break;
        }
        if (!json_is_array(child) && !json_is_object(child))
            continue;
        if (n == cap) {
            frame_t *g = realloc(st, cap * 2 * sizeof *g);
            if (!g) {
                sl__expr_enomem(ev);
                rc = -1;
                break;
            }
            st = g;
            cap *= 2;
        }
        st[n++] = (frame_t){child, 0, json_object_iter(child)};
    }
    free(st);
    return rc;
}

static json_t *eval_definite(ev_t *ev, const node_t *n, json_t *v)
{
    for (size_t i = 0; i < n->nsegs; i++) {
        const seg_t *sg = &n->segs[i];
        int plen = (int)(i ? n->segs[i - 1].end : 1);
        json_t *next;
        if (sg->kind == S_NAME) {
            next = json_object_get(v, sg->name);
            if (!next && json_is_object(v))
                return emissing(ev, "%s: no `%s` in %.*s", n->text, sg->name, plen, n->text);
            if (!next)
                return emissing(ev, "%s: no `%s` in %.*s, which is %s", n->text, sg->name, plen,
                                n->text, sl__expr_tname(v));
        } else {
            next = array_at(v, sg->index);
            if (!next && json_is_array(v))
                return emissing(ev, "%s: no [%lld] in %.*s, which has %zu items", n->text,
                                (long long)sg->index, plen, n->text, json_array_size(v));
            if (!next)
                return emissing(ev, "%s: no [%lld] in %.*s, which is %s", n->text,
                                (long long)sg->index, plen, n->text, sl__expr_tname(v));
        }
        v = next;
    }
    return json_incref(v);
}

json_t *sl__expr_eval_path(ev_t *ev, const node_t *n, json_t *cur)
{
    json_t *start = n->from_cur ? cur : (json_t *)ev->root;
    if (n->definite)
        return eval_definite(ev, n, start);
    vec_t set = {0}, next = {0};
    json_t *out = NULL;
    if (vec_push(ev, &set, start))
        goto out;
    for (size_t i = 0; i < n->nsegs; i++) {
        const seg_t *sg = &n->segs[i];
        next.n = 0;
        for (size_t k = 0; k < set.n; k++)
            if (sg->recursive ? select_deep(ev, sg, set.v[k], &next)
                              : select_in(ev, sg, set.v[k], &next))
                goto out;
        vec_t t = set;
        set = next;
        next = t;
    }
    out = json_array();
    if (!out) {
        sl__expr_enomem(ev);
        goto out;
    }
    for (size_t k = 0; k < set.n; k++) {
        if (json_array_append(out, set.v[k])) {
            json_decref(out);
            out = sl__expr_enomem(ev);
            break;
        }
    }
out:
    free(set.v);
    free(next.v);
    return out;
}
