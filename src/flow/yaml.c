/* YAML to jansson with libyaml's event parser: see yaml.h. Plain scalars resolve as YAML 1.2's
 * core schema does (null, true/false, integers, floats, else strings); quoted ones stay strings.
 * Anchors and aliases work; tags are refused. Nesting is bounded. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "flow/yaml.h"

#define MAX_DEPTH 64
/* Nodes a file may make, aliases counted as the copies they are: a few aliases of aliases
 * ("billion laughs") would otherwise make billions from a page of text. */
#define MAX_NODES 1000000

typedef struct reader {
    yaml_parser_t parser;
    json_t *pos;
    json_t *anchors;      /* name -> the value anchored */
    json_t *anchor_nodes; /* name -> how many nodes that value is */
    size_t nodes;         /* made so far */
    char *err;
    size_t errlen;
    int failed;
} reader_t;

static void fail_at(reader_t *r, const yaml_mark_t *m, const char *msg)
{
    if (!r->failed)
        snprintf(r->err, r->errlen, "%zu:%zu: %s", m->line + 1, m->column + 1, msg);
    r->failed = 1;
}

static json_t *scalar(const yaml_event_t *ev)
{
    const char *v = (const char *)ev->data.scalar.value;
    size_t n = ev->data.scalar.length;
    if (ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
        return json_stringn(v, n);
    if (n == 0 || !strcmp(v, "~") || !strcmp(v, "null") || !strcmp(v, "Null") || !strcmp(v, "NULL"))
        return json_null();
    if (!strcmp(v, "true") || !strcmp(v, "True") || !strcmp(v, "TRUE"))
        return json_true();
    if (!strcmp(v, "false") || !strcmp(v, "False") || !strcmp(v, "FALSE"))
        return json_false();
    char *end;
    errno = 0;
    long long i = strtoll(v, &end, 10);
    if (*v && !*end && errno == 0 && (v[0] != '0' || n == 1) &&
        !(v[0] == '-' && v[1] == '0' && n > 2))
        return json_integer(i);
    const char *d = v + (*v == '-' || *v == '+');
    if (*d >= '0' && *d <= '9') {
        errno = 0;
        double x = strtod(v, &end);
        if (!*end && errno == 0 && isfinite(x))
            return json_real(x);
    }
    return json_stringn(v, n);
}

static void note(reader_t *r, const char *path, const yaml_mark_t *m)
{
    if (r->pos)
        json_object_set_new(r->pos, path,
                            json_pack("[I,I]", (json_int_t)m->line + 1, (json_int_t)m->column + 1));
}

static json_t *node(reader_t *r, yaml_event_t *ev, const char *path, int depth);

/* Reads the node after the current event (which the caller has consumed). */
static json_t *next_node(reader_t *r, const char *path, int depth)
{
    yaml_event_t ev;
    if (!yaml_parser_parse(&r->parser, &ev)) {
        fail_at(r, &r->parser.problem_mark, r->parser.problem ? r->parser.problem : "bad YAML");
        return NULL;
    }
    json_t *v = node(r, &ev, path, depth);
    yaml_event_delete(&ev);
    return v;
}

/* Keeps an anchored value and its size in nodes (those made since `first`). */
static void remember(reader_t *r, const yaml_char_t *anchor, json_t *v, size_t first)
{
    if (anchor && v) {
        json_object_set(r->anchors, (const char *)anchor, v);
        json_object_set_new(r->anchor_nodes, (const char *)anchor,
                            json_integer((json_int_t)(r->nodes - first)));
    }
}

/* Counts n more nodes; 0 (and the reader failed) past MAX_NODES. */
static int count(reader_t *r, const yaml_mark_t *m, size_t n)
{
    if (n > MAX_NODES - r->nodes) {
        fail_at(r, m, "the file makes more than 1000000 values (aliases count each copy)");
        return 0;
    }
    r->nodes += n;
    return 1;
}

static json_t *node(reader_t *r, yaml_event_t *ev, const char *path, int depth)
{
    if (depth > MAX_DEPTH) {
        fail_at(r, &ev->start_mark, "nested too deeply");
        return NULL;
    }
    char sub[1024];
    size_t first = r->nodes;
    if (ev->type != YAML_ALIAS_EVENT && !count(r, &ev->start_mark, 1))
        return NULL;
    switch (ev->type) {
    case YAML_SCALAR_EVENT: {
        if (ev->data.scalar.tag && ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE) {
            fail_at(r, &ev->start_mark, "YAML tags (!!...) are not used in flow files");
            return NULL;
        }
        note(r, path, &ev->start_mark);
        json_t *v = scalar(ev);
        if (!v) {
            fail_at(r, &ev->start_mark, "a string that is not valid UTF-8");
            return NULL;
        }
        remember(r, ev->data.scalar.anchor, v, first);
        return v;
    }
    case YAML_ALIAS_EVENT: {
        json_t *v = json_object_get(r->anchors, (const char *)ev->data.alias.anchor);
        if (!v) {
            fail_at(r, &ev->start_mark, "an alias (*name) with no anchor (&name) before it");
            return NULL;
        }
        json_int_t n = json_integer_value(
            json_object_get(r->anchor_nodes, (const char *)ev->data.alias.anchor));
        if (!count(r, &ev->start_mark, (size_t)n))
            return NULL;
        note(r, path, &ev->start_mark);
        return json_deep_copy(v);
    }
    case YAML_SEQUENCE_START_EVENT: {
        note(r, path, &ev->start_mark);
        json_t *arr = json_array();
        for (size_t i = 0;; i++) {
            yaml_event_t e2;
            if (!yaml_parser_parse(&r->parser, &e2)) {
                fail_at(r, &r->parser.problem_mark,
                        r->parser.problem ? r->parser.problem : "bad YAML");
                json_decref(arr);
                return NULL;
            }
            if (e2.type == YAML_SEQUENCE_END_EVENT) {
                yaml_event_delete(&e2);
                break;
            }
            if (snprintf(sub, sizeof sub, "%s[%zu]", path, i) >= (int)sizeof sub) {
                fail_at(r, &e2.start_mark, "nested too deeply");
                yaml_event_delete(&e2);
                json_decref(arr);
                return NULL;
            }
            json_t *v = node(r, &e2, sub, depth + 1);
            yaml_event_delete(&e2);
            if (!v) {
                json_decref(arr);
                return NULL;
            }
            json_array_append_new(arr, v);
        }
        remember(r, ev->data.sequence_start.anchor, arr, first);
        return arr;
    }
    case YAML_MAPPING_START_EVENT: {
        note(r, path, &ev->start_mark);
        json_t *obj = json_object();
        for (;;) {
            yaml_event_t k;
            if (!yaml_parser_parse(&r->parser, &k)) {
                fail_at(r, &r->parser.problem_mark,
                        r->parser.problem ? r->parser.problem : "bad YAML");
                json_decref(obj);
                return NULL;
            }
            if (k.type == YAML_MAPPING_END_EVENT) {
                yaml_event_delete(&k);
                break;
            }
            if (k.type != YAML_SCALAR_EVENT) {
                fail_at(r, &k.start_mark, "a key that is not a plain string");
                yaml_event_delete(&k);
                json_decref(obj);
                return NULL;
            }
            char key[256];
            if (k.data.scalar.length >= sizeof key ||
                memchr(k.data.scalar.value, 0, k.data.scalar.length)) {
                /* Cut, it would lose its value (or take another's); no key a flow uses is. */
                fail_at(r, &k.start_mark,
                        k.data.scalar.length >= sizeof key ? "a key longer than 255 bytes"
                                                           : "a key with a NUL character");
                yaml_event_delete(&k);
                json_decref(obj);
                return NULL;
            }
            memcpy(key, k.data.scalar.value, k.data.scalar.length);
            key[k.data.scalar.length] = '\0';
            if (json_object_get(obj, key)) {
                char msg[320];
                snprintf(msg, sizeof msg, "`%s` appears twice in the same mapping", key);
                fail_at(r, &k.start_mark, msg);
                yaml_event_delete(&k);
                json_decref(obj);
                return NULL;
            }
            if (snprintf(sub, sizeof sub, "%s%s%s", path, *path ? "." : "", key) >=
                (int)sizeof sub) {
                fail_at(r, &k.start_mark, "nested too deeply");
                yaml_event_delete(&k);
                json_decref(obj);
                return NULL;
            }
            note(r, sub, &k.start_mark);
            yaml_event_delete(&k);
            json_t *v = next_node(r, sub, depth + 1);
            if (!v) {
                json_decref(obj);
                return NULL;
            }
            json_object_set_new(obj, key, v);
        }
        remember(r, ev->data.mapping_start.anchor, obj, first);
        return obj;
    }
    default:
        fail_at(r, &ev->start_mark, "unexpected YAML structure");
        return NULL;
    }
}

json_t *sl__yaml_load(const char *text, size_t len, json_t *pos, char *err, size_t errlen)
{
    reader_t r = {.pos = pos,
                  .anchors = json_object(),
                  .anchor_nodes = json_object(),
                  .err = err,
                  .errlen = errlen};
    yaml_parser_initialize(&r.parser);
    yaml_parser_set_input_string(&r.parser, (const unsigned char *)text, len);
    json_t *root = NULL;
    int docs = 0;
    for (;;) {
        yaml_event_t ev;
        if (!yaml_parser_parse(&r.parser, &ev)) {
            fail_at(&r, &r.parser.problem_mark, r.parser.problem ? r.parser.problem : "bad YAML");
            break;
        }
        yaml_event_type_t t = ev.type;
        if (t == YAML_STREAM_END_EVENT) {
            yaml_event_delete(&ev);
            break;
        }
        if (t == YAML_DOCUMENT_START_EVENT && ++docs > 1) {
            fail_at(&r, &ev.start_mark, "one flow per file (a second YAML document starts here)");
            yaml_event_delete(&ev);
            break;
        }
        if (t == YAML_SCALAR_EVENT || t == YAML_SEQUENCE_START_EVENT ||
            t == YAML_MAPPING_START_EVENT || t == YAML_ALIAS_EVENT) {
            root = node(&r, &ev, "", 0);
            yaml_event_delete(&ev);
            if (!root)
                break;
            continue;
        }
        yaml_event_delete(&ev);
    }
    yaml_parser_delete(&r.parser);
    json_decref(r.anchors);
    json_decref(r.anchor_nodes);
    if (r.failed) {
        json_decref(root);
        return NULL;
    }
    if (!root)
        snprintf(err, errlen, "1:1: the file is empty");
    return root;
}

void sl__yaml_where(const json_t *pos, const char *path, char *out, size_t n)
{
    char p[1024];
    snprintf(p, sizeof p, "%s", path ? path : "");
    for (;;) {
        const json_t *lc = json_object_get(pos, p);
        if (lc) {
            snprintf(out, n, "%lld:%lld", (long long)json_integer_value(json_array_get(lc, 0)),
                     (long long)json_integer_value(json_array_get(lc, 1)));
            return;
        }
        char *cut = strrchr(p, '.');
        char *br = strrchr(p, '[');
        if (br && (!cut || br > cut))
            cut = br;
        if (!cut) {
            if (!*p)
                break;
            p[0] = '\0';
            continue;
        }
        *cut = '\0';
    }
    snprintf(out, n, "1:1");
}
