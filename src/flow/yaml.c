/* YAML to jansson with libyaml's event parser: see yaml.h. Plain scalars resolve as YAML 1.2's
 * core schema does (null, true/false, integers, floats, else strings); quoted ones stay strings.
 * Anchors and aliases work, within the bounds of yaml.h: an anchor remembers how many values it
 * holds and how deep they go, so an alias past a bound is refused before it is copied. Tags are
 * refused on every node. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "flow/yaml.h"

typedef struct reader {
    yaml_parser_t parser;
    const char *text; /* the document, for the line of a reader error */
    size_t len;
    json_t *pos;
    json_t *anchors; /* name -> [value, values it holds, its height] */
    size_t nodes;    /* values made so far, copies of aliases included */
    int deepest;     /* the deepest depth reached so far */
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

/* libyaml's own error. A reader error (bad UTF-8, a control character) comes with the byte
 * offset only, so its line and column are counted here (columns in characters, as libyaml's). */
static void fail_parser(reader_t *r)
{
    yaml_mark_t m = r->parser.problem_mark;
    if (r->parser.error == YAML_READER_ERROR) {
        size_t off = r->parser.problem_offset < r->len ? r->parser.problem_offset : r->len;
        const char *t = r->text;
        m.line = m.column = 0;
        size_t i = off >= 3 && memcmp(t, "\xEF\xBB\xBF", 3) == 0 ? 3 : 0; /* a BOM */
        for (; i < off; i++) {
            if (t[i] == '\n' || (t[i] == '\r' && (i + 1 == r->len || t[i + 1] != '\n'))) {
                m.line++;
                m.column = 0;
            } else if (t[i] != '\r' && ((unsigned char)t[i] & 0xC0) != 0x80) {
                m.column++;
            }
        }
    }
    fail_at(r, &m, r->parser.problem ? r->parser.problem : "bad YAML");
}

/* Counts n more values (an alias's copy when alias is set); fails past SL_YAML_MAX_NODES. */
static int charge(reader_t *r, size_t n, const yaml_mark_t *m, int alias)
{
    if (n <= SL_YAML_MAX_NODES - r->nodes) {
        r->nodes += n;
        return 0;
    }
    char msg[128];
    snprintf(msg, sizeof msg, "%s more than %d nodes",
             alias ? "aliases expand to" : "the file holds", SL_YAML_MAX_NODES);
    fail_at(r, m, msg);
    return -1;
}

static int tagged(reader_t *r, const yaml_char_t *tag, const yaml_mark_t *m)
{
    if (!tag)
        return 0;
    fail_at(r, m, "YAML tags (!!...) are not used in flow files");
    return 1;
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
        fail_parser(r);
        return NULL;
    }
    json_t *v = node(r, &ev, path, depth);
    yaml_event_delete(&ev);
    return v;
}

static const yaml_char_t *anchor_of(const yaml_event_t *ev)
{
    switch (ev->type) {
    case YAML_SCALAR_EVENT:
        return ev->data.scalar.anchor;
    case YAML_SEQUENCE_START_EVENT:
        return ev->data.sequence_start.anchor;
    case YAML_MAPPING_START_EVENT:
        return ev->data.mapping_start.anchor;
    default:
        return NULL;
    }
}

static json_t *alias(reader_t *r, const yaml_event_t *ev, const char *path, int depth)
{
    const json_t *a = json_object_get(r->anchors, (const char *)ev->data.alias.anchor);
    if (!a) {
        fail_at(r, &ev->start_mark, "an alias (*name) with no anchor (&name) before it");
        return NULL;
    }
    int height = (int)json_integer_value(json_array_get(a, 2));
    if (height > SL_YAML_MAX_DEPTH - depth) {
        fail_at(r, &ev->start_mark, "nested too deeply (through an alias)");
        return NULL;
    }
    if (charge(r, (size_t)json_integer_value(json_array_get(a, 1)), &ev->start_mark, 1))
        return NULL;
    if (depth + height > r->deepest)
        r->deepest = depth + height;
    note(r, path, &ev->start_mark);
    json_t *v = json_deep_copy(json_array_get(a, 0));
    if (!v)
        fail_at(r, &ev->start_mark, "out of memory");
    return v;
}

static json_t *sequence(reader_t *r, const yaml_event_t *ev, const char *path, int depth)
{
    char sub[1024];
    note(r, path, &ev->start_mark);
    json_t *arr = json_array();
    for (size_t i = 0;; i++) {
        yaml_event_t e2;
        if (!yaml_parser_parse(&r->parser, &e2)) {
            fail_parser(r);
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
    return arr;
}

/* A mapping's key: a string without a tag, at most SL_YAML_MAX_KEY bytes and no NUL (jansson's
 * keys end at one). 0, or -1 with the error set. */
static int key_ok(reader_t *r, const yaml_event_t *k)
{
    if (k->type != YAML_SCALAR_EVENT) {
        fail_at(r, &k->start_mark, "a key that is not a plain string");
        return -1;
    }
    if (tagged(r, k->data.scalar.tag, &k->start_mark))
        return -1;
    if (k->data.scalar.length > SL_YAML_MAX_KEY) {
        char msg[128];
        snprintf(msg, sizeof msg, "a key of %zu bytes: keys are at most %d", k->data.scalar.length,
                 SL_YAML_MAX_KEY);
        fail_at(r, &k->start_mark, msg);
        return -1;
    }
    if (memchr(k->data.scalar.value, '\0', k->data.scalar.length)) {
        fail_at(r, &k->start_mark, "a key holding a NUL character (\\0)");
        return -1;
    }
    return 0;
}

static json_t *mapping(reader_t *r, const yaml_event_t *ev, const char *path, int depth)
{
    char sub[1024];
    note(r, path, &ev->start_mark);
    json_t *obj = json_object();
    for (;;) {
        yaml_event_t k;
        if (!yaml_parser_parse(&r->parser, &k)) {
            fail_parser(r);
            json_decref(obj);
            return NULL;
        }
        if (k.type == YAML_MAPPING_END_EVENT) {
            yaml_event_delete(&k);
            break;
        }
        if (key_ok(r, &k)) {
            yaml_event_delete(&k);
            json_decref(obj);
            return NULL;
        }
        const char *key = (const char *)k.data.scalar.value;
        if (json_object_get(obj, key)) {
            char msg[320];
            snprintf(msg, sizeof msg, "`%s` appears twice in the same mapping", key);
            fail_at(r, &k.start_mark, msg);
            yaml_event_delete(&k);
            json_decref(obj);
            return NULL;
        }
        if (snprintf(sub, sizeof sub, "%s%s%s", path, *path ? "." : "", key) >= (int)sizeof sub) {
            fail_at(r, &k.start_mark, "nested too deeply");
            yaml_event_delete(&k);
            json_decref(obj);
            return NULL;
        }
        note(r, sub, &k.start_mark);
        char name[SL_YAML_MAX_KEY + 1];
        memcpy(name, key, k.data.scalar.length + 1);
        yaml_event_delete(&k);
        json_t *v = next_node(r, sub, depth + 1);
        if (!v) {
            json_decref(obj);
            return NULL;
        }
        json_object_set_new(obj, name, v);
    }
    return obj;
}

/* The value of the node that starts with ev (the caller deletes ev). */
static json_t *node(reader_t *r, yaml_event_t *ev, const char *path, int depth)
{
    if (depth > SL_YAML_MAX_DEPTH) {
        fail_at(r, &ev->start_mark, "nested too deeply");
        return NULL;
    }
    if (ev->type == YAML_ALIAS_EVENT)
        return alias(r, ev, path, depth);
    if (ev->type != YAML_SCALAR_EVENT && ev->type != YAML_SEQUENCE_START_EVENT &&
        ev->type != YAML_MAPPING_START_EVENT) {
        fail_at(r, &ev->start_mark, "unexpected YAML structure");
        return NULL;
    }
    const yaml_char_t *tag = ev->type == YAML_SCALAR_EVENT           ? ev->data.scalar.tag
                             : ev->type == YAML_SEQUENCE_START_EVENT ? ev->data.sequence_start.tag
                                                                     : ev->data.mapping_start.tag;
    if (tagged(r, tag, &ev->start_mark) || charge(r, 1, &ev->start_mark, 0))
        return NULL;
    /* What this node holds (itself included) and how deep it goes, for an anchor on it. */
    size_t before = r->nodes - 1;
    int outer = r->deepest;
    r->deepest = depth;
    json_t *v;
    if (ev->type == YAML_SCALAR_EVENT) {
        note(r, path, &ev->start_mark);
        v = scalar(ev);
        if (!v)
            fail_at(r, &ev->start_mark, "a string that is not valid UTF-8");
    } else if (ev->type == YAML_SEQUENCE_START_EVENT) {
        v = sequence(r, ev, path, depth);
    } else {
        v = mapping(r, ev, path, depth);
    }
    int height = r->deepest - depth;
    if (outer > r->deepest)
        r->deepest = outer;
    const yaml_char_t *anchor = anchor_of(ev);
    if (v && anchor)
        json_object_set_new(
            r->anchors, (const char *)anchor,
            json_pack("[O,I,I]", v, (json_int_t)(r->nodes - before), (json_int_t)height));
    return v;
}

json_t *sl__yaml_load(const char *text, size_t len, json_t *pos, char *err, size_t errlen)
{
    if (len > SL_YAML_MAX_BYTES) {
        snprintf(err, errlen, "1:1: larger than %u MiB", SL_YAML_MAX_BYTES >> 20);
        return NULL;
    }
    reader_t r = {.text = text,
                  .len = len,
                  .pos = pos,
                  .anchors = json_object(),
                  .err = err,
                  .errlen = errlen};
    yaml_parser_initialize(&r.parser);
    yaml_parser_set_input_string(&r.parser, (const unsigned char *)text, len);
    json_t *root = NULL;
    int docs = 0;
    for (;;) {
        yaml_event_t ev;
        if (!yaml_parser_parse(&r.parser, &ev)) {
            fail_parser(&r);
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
