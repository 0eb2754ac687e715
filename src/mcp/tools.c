/* The tools: which ones a configuration lists, how each is described, and how each is run. */
#include <ctype.h>
#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>

#include "core/utf8.h"
#include "mcp/internal.h"

static const sl_mcp_local_t locals[] = {
    {"list_events",
     "List received events",
     "Lists the newest events in sluice's inbox (filter by type, e.g. invoice.*, or connection).",
     "GET",
     "events",
     NULL,
     {"type", "connection", "limit", NULL},
     NULL},
    {"get_event",
     "Get a received event",
     "Shows one event of sluice's inbox with its payload.",
     "GET",
     "events/%s",
     "id",
     {NULL},
     NULL},
    {"replay_event",
     "Replay an event",
     "Runs every enabled flow that wants this inbox event again, to their end.",
     "POST",
     "events/%s/replay",
     "id",
     {NULL},
     NULL},
    {"list_runs",
     "List flow runs",
     "Lists the newest flow runs (filter by flow, status such as failed, or event id).",
     "GET",
     "runs",
     NULL,
     {"flow", "status", "event", "limit"},
     NULL},
    {"get_run",
     "Get a flow run",
     "Shows one flow run with every step's input, output and error.",
     "GET",
     "runs/%s",
     "id",
     {NULL},
     NULL},
    {"retry_run",
     "Retry a failed run",
     "Runs a failed run again from its failed step, to its end.",
     "POST",
     "runs/%s/retry",
     "id",
     {NULL},
     NULL},
    {"list_flows",
     "List flows",
     "Lists the flows with their triggers and whether each is enabled.",
     "GET",
     "flows",
     NULL,
     {NULL},
     NULL},
    {"run_flow",
     "Run a flow",
     "Runs a flow with an optional JSON input, to its end; returns its status.",
     "POST",
     "flows/%s/run",
     "name",
     {NULL},
     "input"},
};
#define NLOCALS (sizeof locals / sizeof *locals)

/* --- Which tools are listed --------------------------------------------------------------- */

static int pattern_match(const sl_mcp_t *m, const char *name)
{
    for (size_t i = 0; i < m->cfg.npatterns; i++)
        if (fnmatch(m->cfg.patterns[i], name, 0) == 0)
            return 1;
    return 0;
}

/* Whether --tools lets an operation (or alias) be called: its name or its operation's. */
static int op_allowed(const sl_mcp_t *m, const sl_op_t *op, const char *alias)
{
    if (m->cfg.read_only && sl__mcp_op_writes(op))
        return 0;
    if (!m->cfg.npatterns)
        return 1;
    return pattern_match(m, sl_op_name(op)) || (alias && pattern_match(m, alias));
}

/* Whether any operation is left for the generic tools to reach. */
static int any_op_allowed(const sl_mcp_t *m)
{
    for (size_t i = 0; i < sl_op_count(); i++)
        if (op_allowed(m, sl_op_at(i), NULL))
            return 1;
    return 0;
}

static int add_tool(sl_mcp_t *m, size_t *cap, sl_mcp_tool_t t)
{
    if (m->ntools == *cap) {
        size_t n = *cap ? *cap * 2 : 64;
        sl_mcp_tool_t *grown = realloc(m->tools, n * sizeof *grown);
        if (!grown)
            return -1;
        m->tools = grown;
        *cap = n;
    }
    m->tools[m->ntools++] = t;
    return 0;
}

int sl__mcp_tools_build(sl_mcp_t *m)
{
    size_t cap = 0;
    static const struct {
        sl_mcp_kind kind;
        const char *name;
    } generic[] = {{SL_MCP_SEARCH, "search_operations"},
                   {SL_MCP_DESCRIBE, "describe_operation"},
                   {SL_MCP_CALL, "call_operation"}};
    int reach = any_op_allowed(m);
    for (size_t i = 0; i < sizeof generic / sizeof *generic; i++)
        if (reach &&
            add_tool(m, &cap,
                     (sl_mcp_tool_t){generic[i].kind, generic[i].name, NULL, NULL, NULL, NULL}))
            return -1;
    for (size_t i = 0; i < sl_alias_count(); i++) {
        const sl_alias_t *a = sl_alias_at(i);
        if (op_allowed(m, sl_alias_op(a), sl_alias_name(a)) &&
            add_tool(
                m, &cap,
                (sl_mcp_tool_t){SL_MCP_ALIAS, sl_alias_name(a), sl_alias_op(a), a, NULL, NULL}))
            return -1;
    }
    for (size_t i = 0; m->cfg.api && i < NLOCALS; i++) {
        const sl_mcp_local_t *l = &locals[i];
        if (m->cfg.read_only && strcmp(l->method, "GET"))
            continue;
        if (m->cfg.npatterns && !pattern_match(m, l->name))
            continue;
        if (add_tool(m, &cap, (sl_mcp_tool_t){SL_MCP_LOCAL, l->name, NULL, NULL, l, NULL}))
            return -1;
    }
    for (size_t i = 0; m->cfg.all_operations && i < sl_op_count(); i++) {
        const sl_op_t *op = sl_op_at(i);
        if (op_allowed(m, op, NULL) &&
            add_tool(m, &cap, (sl_mcp_tool_t){SL_MCP_OP, sl_op_name(op), op, NULL, NULL, NULL}))
            return -1;
    }
    return 0;
}

sl_mcp_tool_t *sl__mcp_tool_find(sl_mcp_t *m, const char *name)
{
    for (size_t i = 0; i < m->ntools; i++)
        if (!strcmp(m->tools[i].name, name))
            return &m->tools[i];
    return NULL;
}

/* --- How each is described ---------------------------------------------------------------- */

static const char *const destructive_verbs[] = {
    "cancel", "void_invoice", "close",      "reject", "expire",  "mark_uncollectible",
    "detach", "delete",       "deactivate", "revoke", "archive", NULL};

/* The operation's verb: the last dotted part of its name ("create" of customers.create). */
static const char *op_verb(const sl_op_t *op)
{
    const char *dot = strrchr(sl_op_name(op), '.');
    return dot ? dot + 1 : sl_op_name(op);
}

static json_t *op_annotations(const sl_op_t *op, const sl_alias_t *alias, const char *title)
{
    const char *method = sl_op_method(op), *verb = op_verb(op);
    int get = !strcmp(method, "GET"), del = !strcmp(method, "DELETE");
    int destructive = del;
    for (size_t i = 0; !destructive && destructive_verbs[i]; i++)
        destructive = !strcmp(verb, destructive_verbs[i]) ||
                      (alias && !strncmp(sl_alias_name(alias), destructive_verbs[i],
                                         strlen(destructive_verbs[i])));
    int idempotent = get || del || !strcmp(verb, "update");
    json_t *a = json_pack("{s:s,s:b,s:b}", "title", title, "readOnlyHint", get, "openWorldHint", 1);
    if (!get) {
        json_object_set_new(a, "destructiveHint", json_boolean(destructive));
        json_object_set_new(a, "idempotentHint", json_boolean(idempotent));
    }
    return a;
}

/* "customers.tax_ids.list" -> "List customers tax ids". */
static void op_title(const sl_op_t *op, char *out, size_t n)
{
    const char *name = sl_op_name(op), *verb = op_verb(op);
    size_t k = 0;
    for (const char *p = verb; *p && k + 1 < n; p++)
        out[k++] = *p == '_' ? ' ' : (char)(p == verb ? toupper((unsigned char)*p) : *p);
    if (verb != name && k + 1 < n)
        out[k++] = ' ';
    for (const char *p = name; p < verb - 1 && k + 1 < n; p++)
        out[k++] = *p == '_' || *p == '.' ? ' ' : *p;
    out[k] = '\0';
}

/* Adds the arguments every Stripe tool takes besides its parameters. */
static void add_common_args(const sl_mcp_t *m, json_t *schema, int writes)
{
    json_t *props = json_object_get(schema, "properties");
    if (m->cfg.nconns > 1) {
        json_t *names = json_array();
        for (size_t i = 0; i < m->cfg.nconns; i++)
            json_array_append_new(names, json_string(m->cfg.conns[i].name));
        char desc[160];
        snprintf(desc, sizeof desc, "The Stripe connection to use (default: %s).",
                 m->cfg.conns[0].name);
        json_object_set_new(
            props, "connection",
            json_pack("{s:s,s:o,s:s}", "type", "string", "enum", names, "description", desc));
    }
    if (writes)
        json_object_set_new(props, "idempotency_key",
                            json_pack("{s:s,s:i,s:i,s:s}", "type", "string", "minLength", 1,
                                      "maxLength", 255, "description",
                                      "Idempotency-Key to send (default: a new random one); "
                                      "repeat it to retry a write safely."));
}

static json_t *local_schema(const sl_mcp_local_t *l)
{
    json_t *props = json_object(), *req = json_array();
    if (l->id_arg) {
        json_object_set_new(props, l->id_arg,
                            json_pack("{s:s,s:i,s:i,s:s}", "type", "string", "minLength", 1,
                                      "maxLength", 255, "pattern", "^[A-Za-z0-9_.:-]+$"));
        json_array_append_new(req, json_string(l->id_arg));
    }
    for (size_t i = 0; i < 4 && l->query_args[i]; i++) {
        const char *q = l->query_args[i];
        json_object_set_new(props, q,
                            !strcmp(q, "limit") ? json_pack("{s:s,s:i,s:i}", "type", "integer",
                                                            "minimum", 1, "maximum", 1000)
                                                : json_pack("{s:s}", "type", "string"));
    }
    if (l->body_arg)
        json_object_set_new(
            props, l->body_arg,
            json_pack("{s:s}", "description", "The run's input: any JSON value (default {})."));
    json_t *s = json_pack("{s:s,s:o,s:b}", "type", "object", "properties", props,
                          "additionalProperties", 0);
    if (json_array_size(req))
        json_object_set_new(s, "required", req);
    else
        json_decref(req);
    return s;
}

static json_t *generic_json(const sl_mcp_t *m, sl_mcp_kind kind)
{
    json_t *t = NULL;
    if (kind == SL_MCP_SEARCH) {
        t = json_pack(
            "{s:s,s:s,s:s,s:{s:s,s:{s:{s:s,s:i,s:s},s:{s:s,s:i,s:i}},s:[s],s:b}}", "name",
            "search_operations", "title", "Search Stripe operations", "description",
            "Finds Stripe API operations (and named actions) by words: name, path, summary.",
            "inputSchema", "type", "object", "properties", "query", "type", "string", "minLength",
            1, "description", "Words to look for, e.g. \"refund charge\" or \"invoice finalize\"",
            "limit", "type", "integer", "minimum", 1, "maximum", 50, "required", "query",
            "additionalProperties", 0);
        json_object_set_new(t, "annotations",
                            json_pack("{s:s,s:b,s:b}", "title", "Search Stripe operations",
                                      "readOnlyHint", 1, "openWorldHint", 0));
    } else if (kind == SL_MCP_DESCRIBE) {
        t = json_pack("{s:s,s:s,s:s,s:{s:s,s:{s:{s:s,s:s}},s:[s],s:b}}", "name",
                      "describe_operation", "title", "Describe a Stripe operation", "description",
                      "Shows an operation's parameters: types, allowed values, required ones, "
                      "nested fields, and its input schema.",
                      "inputSchema", "type", "object", "properties", "name", "type", "string",
                      "description", "An operation (customers.create) or named action name",
                      "required", "name", "additionalProperties", 0);
        json_object_set_new(t, "annotations",
                            json_pack("{s:s,s:b,s:b}", "title", "Describe a Stripe operation",
                                      "readOnlyHint", 1, "openWorldHint", 0));
    } else {
        t = json_pack(
            "{s:s,s:s,s:s,s:{s:s,s:{s:{s:s,s:s},s:{s:s,s:s}},s:[s],s:b}}", "name", "call_operation",
            "title", "Call a Stripe operation", "description",
            m->cfg.read_only ? "Calls any read-only Stripe operation by name with its parameters, "
                               "validated before anything is sent."
                             : "Calls any of Stripe's operations by name with its parameters, "
                               "validated before anything is sent; writes carry an "
                               "Idempotency-Key.",
            "inputSchema", "type", "object", "properties", "operation", "type", "string",
            "description", "An operation (customers.create) or named action name", "params", "type",
            "object", "description",
            "The operation's parameters (describe_operation lists them); path parameters by "
            "name, e.g. {\"customer\": \"cus_123\"}",
            "required", "operation", "additionalProperties", 0);
        json_object_set_new(t, "annotations",
                            json_pack("{s:s,s:b,s:b,s:b,s:b}", "title", "Call a Stripe operation",
                                      "readOnlyHint", m->cfg.read_only, "destructiveHint",
                                      !m->cfg.read_only, "idempotentHint", 0, "openWorldHint", 1));
        add_common_args(m, json_object_get(t, "inputSchema"), !m->cfg.read_only);
    }
    return t;
}

const json_t *sl__mcp_tool_json(sl_mcp_t *m, sl_mcp_tool_t *t)
{
    if (t->listed)
        return t->listed;
    char title[160], desc[1024];
    json_t *j = NULL;
    switch (t->kind) {
    case SL_MCP_SEARCH:
    case SL_MCP_DESCRIBE:
    case SL_MCP_CALL:
        j = generic_json(m, t->kind);
        break;
    case SL_MCP_ALIAS:
    case SL_MCP_OP: {
        const sl_op_t *op = t->op;
        if (t->alias) {
            snprintf(title, sizeof title, "%s", sl_alias_title(t->alias));
            snprintf(desc, sizeof desc, "%s (%s: %s %s).%s%s", sl_op_summary(op), sl_op_name(op),
                     sl_op_method(op), sl_op_path(op), sl_alias_note(t->alias)[0] ? " " : "",
                     sl_alias_note(t->alias));
        } else {
            op_title(op, title, sizeof title);
            snprintf(desc, sizeof desc, "%s (%s %s)", sl_op_summary(op), sl_op_method(op),
                     sl_op_path(op));
        }
        json_t *schema = sl__mcp_op_schema(op, t->alias, SL_MCP_LIST_DEPTH);
        add_common_args(m, schema, sl__mcp_op_writes(op));
        j = json_pack("{s:s,s:s,s:s,s:o,s:o}", "name", t->name, "title", title, "description", desc,
                      "inputSchema", schema, "annotations", op_annotations(op, t->alias, title));
        break;
    }
    case SL_MCP_LOCAL: {
        const sl_mcp_local_t *l = t->local;
        int get = !strcmp(l->method, "GET");
        json_t *ann =
            json_pack("{s:s,s:b,s:b}", "title", l->title, "readOnlyHint", get, "openWorldHint", 0);
        if (!get) {
            json_object_set_new(ann, "destructiveHint", json_false());
            json_object_set_new(ann, "idempotentHint", json_false());
        }
        j = json_pack("{s:s,s:s,s:s,s:o,s:o}", "name", l->name, "title", l->title, "description",
                      l->description, "inputSchema", local_schema(l), "annotations", ann);
        break;
    }
    }
    t->listed = j;
    return j;
}

/* --- How each is run ---------------------------------------------------------------------- */

/* A CallToolResult: `value` (taken) as structured content and as text. */
static json_t *result(json_t *value)
{
    if (!json_is_object(value)) /* structuredContent is an object */
        value = json_pack("{s:o}", "result", value ? value : json_null());
    char *text = json_dumps(value, JSON_INDENT(2) | JSON_SORT_KEYS);
    json_t *r = json_pack("{s:[{s:s,s:s}],s:o,s:b}", "content", "type", "text", "text",
                          text ? text : "", "structuredContent", value, "isError", 0);
    free(text);
    return r;
}

/* An error result: {"error": {type, message, what else `extra` (taken) holds}} as structured
 * content, and as text after a headline (NULL: the message) for clients that show only text. */
static json_t *fail_with(const char *kind, const char *message, json_t *extra, const char *headline)
{
    /* Messages quote what the caller sent, maybe cut inside a character: made valid UTF-8. */
    char *msg = strdup(message);
    char *head = strdup(headline ? headline : message);
    if (!msg || !head) {
        free(msg);
        free(head);
        json_decref(extra);
        return NULL;
    }
    sl__utf8_mend(msg);
    sl__utf8_mend(head);
    json_t *e = extra ? extra : json_object();
    json_object_set_new(e, "type", json_string(kind));
    json_object_set_new(e, "message", json_string(msg));
    json_t *r = json_pack("{s:o}", "error", e);
    char *full = json_dumps(r, JSON_INDENT(2) | JSON_SORT_KEYS);
    size_t need = strlen(head) + (full ? strlen(full) : 0) + 2;
    char *text = malloc(need);
    if (text)
        snprintf(text, need, "%s\n%s", head, full ? full : "");
    json_t *out = json_pack("{s:[{s:s,s:s}],s:o,s:b}", "content", "type", "text", "text",
                            text ? text : head, "structuredContent", r, "isError", 1);
    free(text);
    free(full);
    free(msg);
    free(head);
    return out;
}

static json_t *fail(const char *kind, const char *message, json_t *extra)
{
    return fail_with(kind, message, extra, NULL);
}

static const sl_mcp_conn_t *pick_conn(const sl_mcp_t *m, const json_t *args, char *err,
                                      size_t errlen)
{
    const json_t *c = json_object_get(args, "connection");
    if (!c || json_is_null(c))
        return &m->cfg.conns[0];
    const char *name = json_string_value(c);
    for (size_t i = 0; name && i < m->cfg.nconns; i++)
        if (!strcmp(m->cfg.conns[i].name, name))
            return &m->cfg.conns[i];
    size_t k = (size_t)snprintf(err, errlen, "connection: no connection `%.64s` here; use one of",
                                name ? name : "(not a string)");
    for (size_t i = 0; i < m->cfg.nconns && k < errlen; i++)
        k += (size_t)snprintf(err + k, errlen - k, "%s %s", i ? "," : "", m->cfg.conns[i].name);
    return NULL;
}

/* Runs an operation or alias by name through the client, as `sluice call NAME` does. */
static json_t *call_stripe(sl_mcp_t *m, const char *name, const sl_op_t *op, const json_t *params,
                           const json_t *args)
{
    char err[1024] = "";
    if (params && !json_is_object(params))
        return fail("invalid_params", "params must be a JSON object of the operation's parameters",
                    NULL);
    const sl_mcp_conn_t *conn = pick_conn(m, args, err, sizeof err);
    if (!conn)
        return fail("invalid_params", err, NULL);
    int writes = sl__mcp_op_writes(op);
    if (writes && m->cfg.read_only) {
        snprintf(err, sizeof err, "%s writes (%s %s), and this server is read-only", name,
                 sl_op_method(op), sl_op_path(op));
        return fail("refused", err, NULL);
    }
    if (writes && conn->live && !m->cfg.allow_live_writes) {
        snprintf(err, sizeof err,
                 "%s writes (%s %s) and connection `%s` has a live-mode key: live writes are "
                 "refused unless sluice mcp is started with --allow-live-writes",
                 name, sl_op_method(op), sl_op_path(op), conn->name);
        return fail("refused", err, NULL);
    }
    const json_t *idem = json_object_get(args, "idempotency_key");
    if (idem &&
        (!json_is_string(idem) || !json_string_length(idem) || json_string_length(idem) > 255))
        return fail("invalid_params", "idempotency_key: a string of 1 to 255 characters", NULL);
    json_t *p = params ? json_deep_copy(params) : json_object();
    sl_request_t base = {0};
    base.idempotency_key = json_string_value(idem);
    sl_response_t resp;
    sl_err rc = sl_action_call(conn->client, name, p, 1, &base, &resp, err, sizeof err);
    json_decref(p);
    json_t *out;
    if (rc == SL_OK) {
        out = result(json_incref(resp.json));
        json_t *meta = json_pack("{s:s,s:i}", "connection", conn->name, "attempts", resp.attempts);
        if (resp.request_id[0])
            json_object_set_new(meta, "request_id", json_string(resp.request_id));
        if (resp.idempotency_key[0])
            json_object_set_new(meta, "idempotency_key", json_string(resp.idempotency_key));
        json_object_set_new(out, "_meta", json_pack("{s:o}", "sluice", meta));
    } else if (rc == SL_ESTRIPE) {
        const sl_stripe_error_t *e = &resp.error;
        json_t *x = json_pack("{s:I}", "http_status", (json_int_t)e->http_status);
        const struct {
            const char *k, *v;
        } rows[] = {{"code", e->code},
                    {"decline_code", e->decline_code},
                    {"param", e->param},
                    {"doc_url", e->doc_url},
                    {"request_id", e->request_id[0] ? e->request_id : resp.request_id}};
        for (size_t i = 0; i < sizeof rows / sizeof *rows; i++)
            if (rows[i].v[0])
                json_object_set_new(x, rows[i].k, json_string(rows[i].v));
        char msg[1400];
        snprintf(msg, sizeof msg, "Stripe error (HTTP %ld%s%s%s%s): %s", e->http_status,
                 e->code[0] ? ", " : "", e->code, e->decline_code[0] ? ", " : "", e->decline_code,
                 e->message);
        out = fail_with(e->type[0] ? e->type : "api_error", e->message, x, msg);
    } else if (rc == SL_EINVAL || rc == SL_ENOTFOUND) {
        /* Nothing was sent (or the lookup found nothing): the catalog's own words. */
        json_t *x = NULL;
        const char *at = strchr(err, '`');
        if (rc == SL_EINVAL && at) {
            const char *end = strchr(at + 1, '`');
            if (end)
                x = json_pack("{s:s%}", "param", at + 1, (size_t)(end - at - 1));
        }
        out = fail(rc == SL_EINVAL ? "validation_error" : "not_found", err, x);
    } else {
        snprintf(err, sizeof err, "%s: %.900s", sl_strerror(rc),
                 resp.error.message[0] ? resp.error.message : "no answer");
        out = fail(rc == SL_ENETWORK || rc == SL_ETIMEOUT ? "network_error" : "error", err, NULL);
    }
    sl_response_cleanup(&resp);
    return out;
}

/* Resolves an operation or alias name for the generic tools, within what --tools allows. */
static const sl_op_t *resolve(const sl_mcp_t *m, const char *name, const sl_alias_t **alias,
                              const char **why, char *err, size_t errlen)
{
    *why = "not_found";
    const sl_op_t *op = sl_op_find(name);
    *alias = op ? NULL : sl_alias_find(name);
    if (*alias)
        op = sl_alias_op(*alias);
    if (!op) {
        const char *near = sl_op_suggest(name);
        snprintf(err, errlen, "unknown operation `%.100s`%s%s%s; search_operations finds them",
                 name, near ? " (did you mean `" : "", near ? near : "", near ? "`?)" : "");
        return NULL;
    }
    if (!op_allowed(m, op, *alias ? sl_alias_name(*alias) : NULL)) {
        *why = "refused";
        snprintf(err, errlen, "`%.100s` is not among the operations this server offers%s", name,
                 m->cfg.read_only && sl__mcp_op_writes(op) ? " (it writes; read-only)" : "");
        return NULL;
    }
    return op;
}

/* Whether s holds w, case-insensitively. */
static int has_word(const char *s, const char *w)
{
    return s && strcasestr(s, w) != NULL;
}

static json_t *search(sl_mcp_t *m, const json_t *args)
{
    const char *q = json_string_value(json_object_get(args, "query"));
    if (!q || !*q)
        return fail("invalid_params", "query: give some words, e.g. \"refund\"", NULL);
    json_int_t limit = json_integer_value(json_object_get(args, "limit"));
    if (limit <= 0 || limit > 50)
        limit = 10;
    char words[8][64];
    size_t nw = 0;
    for (const char *p = q; *p && nw < 8;) {
        while (*p && (isspace((unsigned char)*p) || *p == ',' || *p == '/'))
            p++;
        size_t n = 0;
        while (p[n] && !isspace((unsigned char)p[n]) && p[n] != ',' && p[n] != '/')
            n++;
        if (n) {
            snprintf(words[nw++], sizeof words[0], "%.*s", (int)(n < 63 ? n : 63), p);
            /* "customers" also finds "customer": drop a plural's s. */
            size_t l = strlen(words[nw - 1]);
            if (l > 3 && words[nw - 1][l - 1] == 's')
                words[nw - 1][l - 1] = '\0';
        }
        p += n;
    }
    size_t nops = sl_op_count();
    int *score = calloc(nops, sizeof *score);
    if (!score)
        return fail("error", "out of memory", NULL);
    for (size_t i = 0; i < nops; i++) {
        const sl_op_t *op = sl_op_at(i);
        if (!op_allowed(m, op, NULL))
            continue;
        int s = 0;
        for (size_t w = 0; w < nw; w++) {
            int ws = has_word(sl_op_name(op), words[w]) * 4 +
                     has_word(sl_op_path(op), words[w]) * 2 + has_word(sl_op_summary(op), words[w]);
            if (!ws) {
                s = 0;
                break;
            }
            s += ws;
        }
        score[i] = s;
    }
    json_t *found = json_array();
    for (json_int_t k = 0; k < limit; k++) {
        size_t best = nops;
        for (size_t i = 0; i < nops; i++)
            if (score[i] > 0 &&
                (best == nops || score[i] > score[best] ||
                 (score[i] == score[best] &&
                  strlen(sl_op_name(sl_op_at(i))) < strlen(sl_op_name(sl_op_at(best))))))
                best = i;
        if (best == nops)
            break;
        const sl_op_t *op = sl_op_at(best);
        json_array_append_new(found, json_pack("{s:s,s:s,s:s,s:s}", "name", sl_op_name(op),
                                               "method", sl_op_method(op), "path", sl_op_path(op),
                                               "summary", sl_op_summary(op)));
        score[best] = 0;
    }
    free(score);
    json_t *actions = json_array();
    for (size_t i = 0; i < sl_alias_count(); i++) {
        const sl_alias_t *a = sl_alias_at(i);
        int all = nw > 0;
        for (size_t w = 0; w < nw; w++)
            all &= has_word(sl_alias_name(a), words[w]) || has_word(sl_alias_title(a), words[w]);
        if (all && op_allowed(m, sl_alias_op(a), sl_alias_name(a)))
            json_array_append_new(actions, json_pack("{s:s,s:s,s:s}", "name", sl_alias_name(a),
                                                     "title", sl_alias_title(a), "operation",
                                                     sl_op_name(sl_alias_op(a))));
    }
    return result(
        json_pack("{s:s,s:o,s:o}", "query", q, "operations", found, "named_actions", actions));
}

static json_t *describe(sl_mcp_t *m, const json_t *args)
{
    const char *name = json_string_value(json_object_get(args, "name"));
    if (!name || !*name)
        return fail("invalid_params", "name: give an operation such as customers.create", NULL);
    char err[512];
    const sl_alias_t *alias;
    const char *why;
    const sl_op_t *op = resolve(m, name, &alias, &why, err, sizeof err);
    if (!op)
        return fail(why, err, NULL);
    json_t *d = sl_op_describe(op);
    if (alias)
        json_object_set_new(d, "named_action",
                            json_pack("{s:s,s:s,s:s,s:s}", "name", sl_alias_name(alias), "title",
                                      sl_alias_title(alias), "source", sl_alias_source(alias),
                                      "note", sl_alias_note(alias)));
    json_object_set_new(d, "input_schema", sl__mcp_op_schema(op, alias, 0));
    return result(d);
}

/* sluice's own tools: one request to its REST API. */
static json_t *call_local(sl_mcp_t *m, const sl_mcp_local_t *l, const json_t *args)
{
    char path[600];
    if (l->id_arg) {
        const char *id = json_string_value(json_object_get(args, l->id_arg));
        size_t n = id ? strlen(id) : 0;
        if (!n || n > 255 ||
            strspn(id, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                       "0123456789_.:-") != n) {
            char err[160];
            snprintf(err, sizeof err, "%s: give the %s (letters, digits, _ . : -)", l->id_arg,
                     strcmp(l->id_arg, "name") ? "id" : "flow's name");
            return fail("invalid_params", err, NULL);
        }
        snprintf(path, sizeof path, l->path, id);
    } else {
        snprintf(path, sizeof path, "%s", l->path);
    }
    json_t *query = json_object();
    for (size_t i = 0; i < 4 && l->query_args[i]; i++) {
        const json_t *v = json_object_get(args, l->query_args[i]);
        char num[32];
        if (json_is_string(v)) {
            json_object_set(query, l->query_args[i], (json_t *)v);
        } else if (json_is_integer(v)) {
            snprintf(num, sizeof num, "%lld", (long long)json_integer_value(v));
            json_object_set_new(query, l->query_args[i], json_string(num));
        } else if (v && !json_is_null(v)) {
            json_decref(query);
            char err[160];
            snprintf(err, sizeof err, "%s: expected a %s", l->query_args[i],
                     strcmp(l->query_args[i], "limit") ? "string" : "whole number");
            return fail("invalid_params", err, NULL);
        }
    }
    const json_t *body = l->body_arg ? json_object_get(args, l->body_arg) : NULL;
    json_t *out = NULL;
    unsigned status = m->cfg.api(m->cfg.api_ctx, l->method, path, query, body, &out);
    json_decref(query);
    if (status >= 200 && status < 300)
        return result(out ? out : json_object());
    const char *msg = json_string_value(json_object_get(out, "message"));
    const char *code = json_string_value(json_object_get(out, "error"));
    json_t *x = json_pack("{s:i}", "http_status", (int)status);
    if (code)
        json_object_set_new(x, "code", json_string(code));
    json_t *r = fail(status == 404 ? "not_found" : "error", msg ? msg : "the request failed", x);
    json_decref(out);
    return r;
}

json_t *sl__mcp_tool_call(sl_mcp_t *m, sl_mcp_tool_t *t, const json_t *args)
{
    json_t *none = NULL;
    if (!args) {
        none = json_object();
        args = none;
    }
    json_t *r = NULL;
    switch (t->kind) {
    case SL_MCP_SEARCH:
        r = search(m, args);
        break;
    case SL_MCP_DESCRIBE:
        r = describe(m, args);
        break;
    case SL_MCP_CALL: {
        const char *name = json_string_value(json_object_get(args, "operation"));
        char err[512];
        const sl_alias_t *alias;
        const char *why = "";
        const sl_op_t *op = name ? resolve(m, name, &alias, &why, err, sizeof err) : NULL;
        if (!name)
            r = fail("invalid_params", "operation: give its name, e.g. customers.create", NULL);
        else if (!op)
            r = fail(why, err, NULL);
        else
            r = call_stripe(m, name, op, json_object_get(args, "params"), args);
        break;
    }
    case SL_MCP_ALIAS:
    case SL_MCP_OP: {
        /* The tool's arguments are the parameters, less the ones the tool itself takes. */
        json_t *p = json_deep_copy(args);
        json_object_del(p, "connection");
        json_object_del(p, "idempotency_key");
        r = call_stripe(m, t->name, t->op, p, args);
        json_decref(p);
        break;
    }
    case SL_MCP_LOCAL:
        r = call_local(m, t->local, args);
        break;
    }
    json_decref(none);
    return r;
}
