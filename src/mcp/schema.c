/* Input schemas of the Stripe tools, made at run time from the catalog's own description of
 * each operation (sl_op_describe), so they follow the catalog the validator checks against. */
#include <string.h>

#include "mcp/internal.h"

int sl__mcp_op_writes(const sl_op_t *op)
{
    return strcmp(sl_op_method(op), "GET") != 0;
}

/* "string|integer" into a JSON Schema type: a string, an array of them, or NULL for any. */
static json_t *schema_type(const char *type, int *has_string)
{
    *has_string = 0;
    if (!type || !strcmp(type, "any"))
        return NULL;
    if (!strcmp(type, "empty string")) {
        *has_string = 1;
        return json_string("string");
    }
    json_t *arr = json_array();
    const char *p = type;
    while (*p) {
        size_t n = strcspn(p, "|");
        json_array_append_new(arr, json_stringn(p, n));
        if (n == 6 && !strncmp(p, "string", 6))
            *has_string = 1;
        p += n;
        if (*p == '|')
            p++;
    }
    if (json_array_size(arr) == 1) {
        json_t *one = json_incref(json_array_get(arr, 0));
        json_decref(arr);
        return one;
    }
    return arr;
}

static json_t *shape_schema(const json_t *d, int depth, int max_depth);

/* The properties and required names of an object's fields, into s. */
static void object_fields(json_t *s, const json_t *fields, int closed, int depth, int max_depth)
{
    json_t *props = json_object(), *req = json_array();
    size_t i;
    const json_t *f;
    json_array_foreach(fields, i, f)
    {
        const char *name = json_string_value(json_object_get(f, "name"));
        if (!name)
            continue;
        json_object_set_new(props, name, shape_schema(f, depth, max_depth));
        if (json_is_true(json_object_get(f, "required")))
            json_array_append_new(req, json_string(name));
    }
    json_object_set_new(s, "properties", props);
    if (json_array_size(req))
        json_object_set_new(s, "required", req);
    else
        json_decref(req);
    if (closed)
        json_object_set_new(s, "additionalProperties", json_false());
}

/* depth: 1 for a parameter, 2 for its fields (or its items' fields), ...; past max_depth (0: none)
 * an object or array keeps its type and says where its fields are described, and below the top
 * level only the first sentence of a description is kept: a tools/list stays small enough for an
 * agent's context (describe_operation gives the whole). */
static json_t *shape_schema(const json_t *d, int depth, int max_depth)
{
    const char *type = json_string_value(json_object_get(d, "type"));
    int has_string;
    json_t *s = json_object();
    json_t *t = schema_type(type, &has_string);
    if (t)
        json_object_set_new(s, "type", t);
    const json_t *en = json_object_get(d, "enum");
    int unsettable = json_is_true(json_object_get(d, "unsettable"));
    if (type && !strcmp(type, "empty string")) {
        json_object_set_new(s, "enum", json_pack("[s]", ""));
    } else if (json_array_size(en) && t && json_is_string(t)) {
        json_t *e = json_deep_copy(en);
        if (unsettable)
            json_array_append_new(e, json_string(""));
        json_object_set_new(s, "enum", e);
    }
    const json_t *fields = json_object_get(d, "fields");
    const json_t *items = json_object_get(d, "items");
    int cut = max_depth && depth >= max_depth && json_array_size(fields);
    if (json_array_size(fields) && !cut)
        object_fields(s, fields, !json_is_true(json_object_get(d, "any_keys")), depth + 1,
                      max_depth);
    if (items && !cut)
        json_object_set_new(s, "items", shape_schema(items, depth, max_depth));
    const char *desc = json_string_value(json_object_get(d, "description"));
    size_t dlen = desc ? strlen(desc) : 0;
    if (max_depth && desc) {
        const char *stop = strstr(desc, ". ");
        if (stop)
            dlen = (size_t)(stop - desc) + 1;
    }
    if (cut) {
        char note[600];
        snprintf(note, sizeof note, "%.*s%s(fields: see describe_operation)",
                 (int)(dlen < 400 ? dlen : 400), desc ? desc : "", dlen ? " " : "");
        json_object_set_new(s, "description", json_string(note));
    } else if (dlen) {
        json_object_set_new(s, "description", json_stringn(desc, dlen));
    }
    if (unsettable && !has_string) {
        /* "" unsets the field: allowed beside the field's own shape. */
        json_t *any = json_pack("{s:[o,{s:s,s:[s]}]}", "anyOf", s, "type", "string", "enum", "");
        if (desc && *desc)
            json_object_set_new(any, "description", json_string(desc));
        return any;
    }
    return s;
}

json_t *sl__mcp_op_schema(const sl_op_t *op, const sl_alias_t *alias, int max_depth)
{
    json_t *d = sl_op_describe(op);
    json_t *s = json_pack("{s:s}", "type", "object");
    object_fields(s, json_object_get(d, "params"), 1, 1, max_depth);
    json_t *props = json_object_get(s, "properties");
    json_t *req = json_object_get(s, "required");
    if (!req) {
        req = json_array();
        json_object_set_new(s, "required", req);
    }
    /* An alias with its own way of finding what it acts on says so in its note (Find Customer
     * takes an id or an email): its path parameters become optional and `id` is offered. */
    int own_id = alias && sl_alias_note(alias)[0] && sl_op_path_param_count(op);
    const json_t *pp = json_object_get(d, "path_params");
    size_t i;
    const json_t *p;
    json_array_foreach(pp, i, p)
    {
        const char *name = json_string_value(json_object_get(p, "name"));
        const char *desc = json_string_value(json_object_get(p, "description"));
        json_t *ps = json_pack("{s:s,s:i}", "type", "string", "minLength", 1);
        json_object_set_new(ps, "description",
                            json_string(desc && *desc ? desc : "The id in the request's path."));
        json_object_set_new(props, name, ps);
        if (!own_id)
            json_array_insert_new(req, i, json_string(name));
    }
    if (own_id) {
        json_object_set_new(
            props, "id",
            json_pack("{s:s,s:s}", "type", "string", "description", sl_alias_note(alias)));
        json_object_del(s, "additionalProperties");
    }
    if (!json_array_size(req))
        json_object_del(s, "required");
    json_decref(d);
    return s;
}
