/* The search query language of <resources>.search: field:'v' (equal, case-insensitive),
 * field~'v' (contains), metadata['k']:'v', created>N (and <, >=, <=), -negation, clauses joined
 * by AND or by OR (not both); pages named page_N. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "emulator/internal.h"

typedef struct clause {
    char field[128];
    char meta[128]; /* metadata['key'] */
    char op[3];
    char value[256];
    int is_number;
    int negate;
} clause_t;

/* How many bytes of p to quote in a message: up to max, not ending inside a character. */
static int quote_len(const char *p, int max)
{
    int n = (int)strnlen(p, (size_t)max);
    if (n == max)
        while (n > 0 && ((unsigned char)p[n] & 0xC0) == 0x80)
            n--; /* p[n] continues the character before it: leave that one out */
    return n;
}

static int parse_clause(const char **pp, clause_t *c, char *err, size_t errlen)
{
    const char *p = *pp;
    memset(c, 0, sizeof *c);
    while (*p == ' ')
        p++;
    if (*p == '-') {
        c->negate = 1;
        p++;
    }
    size_t n = 0;
    while ((isalnum((unsigned char)*p) || *p == '_' || *p == '.') && n + 1 < sizeof c->field)
        c->field[n++] = *p++;
    if (!n) {
        snprintf(err, errlen, "expected a field name at `%.*s`", quote_len(p, 20), p);
        return -1;
    }
    if (strcmp(c->field, "metadata") == 0) {
        if (strncmp(p, "['", 2) != 0) {
            snprintf(err, errlen, "metadata takes a key: metadata['key']");
            return -1;
        }
        p += 2;
        n = 0;
        while (*p && *p != '\'' && n + 1 < sizeof c->meta)
            c->meta[n++] = *p++;
        if (*p && *p != '\'') {
            snprintf(err, errlen, "a metadata key is at most %zu bytes", sizeof c->meta - 1);
            return -1;
        }
        if (strncmp(p, "']", 2) != 0) {
            snprintf(err, errlen, "unterminated metadata key");
            return -1;
        }
        p += 2;
    }
    if (p[0] == '>' || p[0] == '<') {
        c->op[0] = *p++;
        if (*p == '=')
            c->op[1] = *p++;
    } else if (*p == ':' || *p == '~') {
        c->op[0] = *p++;
    } else {
        snprintf(err, errlen, "expected :, ~, >, <, >= or <= after `%.64s`", c->field);
        return -1;
    }
    n = 0;
    if (*p == '\'' || *p == '"') {
        char q = *p++;
        while (*p && *p != q && n + 1 < sizeof c->value) {
            if (*p == '\\' && p[1])
                p++;
            c->value[n++] = *p++;
        }
        if (*p && *p != q) {
            snprintf(err, errlen, "the value for `%.64s` is longer than %zu bytes", c->field,
                     sizeof c->value - 1);
            return -1;
        }
        if (*p != q) {
            snprintf(err, errlen, "unterminated string value for `%.64s`", c->field);
            return -1;
        }
        p++;
    } else {
        while (*p && *p != ' ' && n + 1 < sizeof c->value)
            c->value[n++] = *p++;
        if (*p && *p != ' ') {
            snprintf(err, errlen, "the value for `%.64s` is longer than %zu bytes", c->field,
                     sizeof c->value - 1);
            return -1;
        }
        c->is_number = 1;
    }
    *pp = p;
    return 0;
}

static int clause_matches(const clause_t *c, const json_t *obj)
{
    const json_t *v = c->meta[0] ? json_object_get(json_object_get(obj, "metadata"), c->meta)
                                 : json_object_get(obj, c->field);
    int m = 0;
    char text[64];
    const char *s = json_string_value(v);
    if (!s && json_is_integer(v)) {
        snprintf(text, sizeof text, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        s = text;
    } else if (!s && json_is_boolean(v)) {
        s = json_is_true(v) ? "true" : "false";
    }
    if (c->op[0] == ':') {
        m = s ? strcasecmp(s, c->value) == 0 : strcmp(c->value, "null") == 0;
    } else if (c->op[0] == '~') {
        m = s && strcasestr(s, c->value) != NULL;
    } else if (json_is_integer(v)) {
        long long a = json_integer_value(v), b = strtoll(c->value, NULL, 10);
        m = c->op[0] == '>' ? (c->op[1] ? a >= b : a > b) : (c->op[1] ? a <= b : a < b);
    }
    return c->negate ? !m : m;
}

sl_emu_reply_t sl__emu_search(sl_emulator_t *e, const sl_emu_resource_t *r, const json_t *params,
                              const char *url)
{
    const char *q = json_string_value(json_object_get(params, "query"));
    clause_t clauses[16];
    size_t n = 0;
    int any = 0, all = 0;
    char err[256];
    const char *p = q ? q : "";
    while (*p) {
        if (n == 16)
            return sl__emu_error(400, "invalid_request_error", "search_query_invalid", "query",
                                 "Too many clauses in the search query");
        if (parse_clause(&p, &clauses[n++], err, sizeof err))
            return sl__emu_error(400, "invalid_request_error", "search_query_invalid", "query",
                                 "Invalid search query: %s", err);
        while (*p == ' ')
            p++;
        if (!strncmp(p, "AND ", 4)) {
            all = 1;
            p += 4;
        } else if (!strncmp(p, "OR ", 3)) {
            any = 1;
            p += 3;
        } else if (*p) {
            return sl__emu_error(400, "invalid_request_error", "search_query_invalid", "query",
                                 "Invalid search query: expected AND or OR at `%.*s`",
                                 quote_len(p, 20), p);
        }
    }
    if (any && all)
        return sl__emu_error(400, "invalid_request_error", "search_query_invalid", "query",
                             "A search query cannot mix AND and OR");
    json_t *hits = json_array();
    const json_t *ids = json_object_get(e->lists, r->object);
    for (size_t i = json_array_size(ids); i-- > 0;) {
        json_t *id = json_array_get(ids, i);
        json_t *obj = sl__emu_read(e, json_string_value(id));
        if (!obj)
            continue;
        int ok = any ? 0 : 1;
        for (size_t c = 0; c < n; c++)
            ok = any ? ok || clause_matches(&clauses[c], obj)
                     : ok && clause_matches(&clauses[c], obj);
        if (ok) /* by id: only the page's objects are read again */
            json_array_append(hits, id);
        json_decref(obj);
    }
    long long limit = json_is_integer(json_object_get(params, "limit"))
                          ? json_integer_value(json_object_get(params, "limit"))
                          : 10;
    const char *page = json_string_value(json_object_get(params, "page"));
    size_t offset = page && !strncmp(page, "page_", 5) ? strtoul(page + 5, NULL, 10) : 0;
    json_t *data = json_array();
    for (size_t i = offset; i < json_array_size(hits) && json_array_size(data) < (size_t)limit; i++)
        json_array_append_new(data, sl__emu_read(e, json_string_value(json_array_get(hits, i))));
    size_t next = offset + json_array_size(data);
    int more = next < json_array_size(hits);
    char next_page[32];
    snprintf(next_page, sizeof next_page, "page_%zu", next);
    json_t *out =
        json_pack("{s:s,s:o,s:b,s:s,s:I}", "object", "search_result", "data", data, "has_more",
                  more, "url", url, "total_count", (json_int_t)json_array_size(hits));
    json_object_set_new(out, "next_page", more ? json_string(next_page) : json_null());
    json_decref(hits);
    return (sl_emu_reply_t){200, out, 0, NULL, 0, 0};
}
