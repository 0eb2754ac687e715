/* The MCP server without a network: every tool's description and schema, paging, protocol
 * revisions, what read-only, --tools and live keys allow, local validation, and sluice's own
 * tools through a recording stand-in for the REST API. */
#include <regex.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "mcp/mcp.h"
#include "sluice/catalog.h"

static sl_client_t *client;

static int setup(void **state)
{
    (void)state;
    sl_client_config_t cfg;
    sl_client_config_init(&cfg);
    cfg.api_key = "sk_test_unit";
    cfg.base_url = "http://127.0.0.1:9"; /* nothing listens: no test may reach it */
    cfg.max_retries = 0;
    return sl_client_new(&cfg, &client, NULL, 0) == SL_OK ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    sl_client_free(client);
    return 0;
}

/* Sends one request and returns the parsed reply (the caller decrefs). */
static json_t *ask(sl_mcp_t *m, const char *fmt, ...)
{
    char line[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    char *out = sl__mcp_answer(m, line, strlen(line));
    assert_non_null(out);
    assert_null(strchr(out, '\n'));
    json_t *r = json_loads(out, 0, NULL);
    free(out);
    assert_non_null(r);
    return r;
}

static sl_mcp_t *server(sl_mcp_config_t *cfg, sl_mcp_conn_t *conn)
{
    if (!cfg->conns) {
        conn->name = "default";
        conn->client = client;
        conn->live = 0;
        cfg->conns = conn;
        cfg->nconns = 1;
    }
    sl_mcp_t *m = sl__mcp_new(cfg);
    assert_non_null(m);
    return m;
}

/* Every name in `required` is a property, at every level of the schema. */
static void check_schema(const json_t *s, const char *tool)
{
    const json_t *props = json_object_get(s, "properties");
    size_t i;
    const json_t *r;
    json_array_foreach(json_object_get(s, "required"), i, r)
    {
        if (!json_object_get(props, json_string_value(r)))
            fail_msg("%s: required `%s` is no property", tool, json_string_value(r));
    }
    const char *k;
    const json_t *v;
    json_object_foreach((json_t *)props, k, v) check_schema(v, tool);
    if (json_object_get(s, "items"))
        check_schema(json_object_get(s, "items"), tool);
    json_array_foreach(json_object_get(s, "anyOf"), i, r) check_schema(r, tool);
}

/* Lists every page; returns the tools (new array) and how many pages it took. */
static json_t *list_all(sl_mcp_t *m, int *pages)
{
    json_t *all = json_array();
    char cursor[64] = "";
    *pages = 0;
    do {
        json_t *r = cursor[0] ? ask(m,
                                    "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/list\","
                                    "\"params\":{\"cursor\":\"%s\"}}",
                                    cursor)
                              : ask(m, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/list\"}");
        json_t *res = json_object_get(r, "result");
        assert_non_null(res);
        json_array_extend(all, json_object_get(res, "tools"));
        const char *next = json_string_value(json_object_get(res, "nextCursor"));
        snprintf(cursor, sizeof cursor, "%s", next ? next : "");
        (*pages)++;
        json_decref(r);
    } while (cursor[0]);
    return all;
}

static void every_tool_is_described(void **state)
{
    (void)state;
    sl_mcp_conn_t conn;
    sl_mcp_config_t cfg = {0};
    cfg.all_operations = 1;
    sl_mcp_t *m = server(&cfg, &conn);
    int pages;
    json_t *tools = list_all(m, &pages);
    assert_int_equal(json_array_size(tools), 3 + sl_alias_count() + sl_op_count());
    assert_int_equal(json_array_size(tools), sl__mcp_tool_count(m));
    assert_true(pages > 1);
    regex_t re;
    assert_int_equal(regcomp(&re, "^[A-Za-z0-9_.-]{1,64}$", REG_EXTENDED | REG_NOSUB), 0);
    size_t i;
    const json_t *t;
    json_array_foreach(tools, i, t)
    {
        const char *name = json_string_value(json_object_get(t, "name"));
        assert_non_null(name);
        if (regexec(&re, name, 0, NULL, 0))
            fail_msg("tool name `%s`", name);
        const char *desc = json_string_value(json_object_get(t, "description"));
        assert_non_null(json_string_value(json_object_get(t, "title")));
        assert_non_null(desc);
        assert_null(strchr(desc, '\n'));
        const json_t *schema = json_object_get(t, "inputSchema");
        assert_string_equal(json_string_value(json_object_get(schema, "type")), "object");
        check_schema(schema, name);
        assert_true(
            json_is_boolean(json_object_get(json_object_get(t, "annotations"), "readOnlyHint")));
    }
    regfree(&re);
    json_decref(tools);
    sl__mcp_free(m);
}

static json_t *call(sl_mcp_t *m, const char *name, const char *args);

static void schemas_follow_the_catalog(void **state)
{
    (void)state;
    sl_mcp_conn_t conn;
    sl_mcp_config_t cfg = {0};
    cfg.all_operations = 1;
    sl_mcp_t *m = server(&cfg, &conn);
    json_t *r =
        ask(m, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{"
               "\"name\":\"describe_operation\",\"arguments\":{\"name\":\"prices.create\"}}}");
    json_t *s = json_object_get(json_object_get(json_object_get(r, "result"), "structuredContent"),
                                "input_schema");
    json_t *props = json_object_get(s, "properties");
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(props, "unit_amount"), "type")),
        "integer");
    json_t *en = json_object_get(json_object_get(props, "billing_scheme"), "enum");
    assert_true(json_array_size(en) >= 2);
    json_t *recurring = json_object_get(props, "recurring");
    assert_non_null(json_object_get(json_object_get(recurring, "properties"), "interval"));
    assert_false(json_is_true(json_object_get(s, "additionalProperties")));
    json_decref(r);
    /* A path parameter is a required string. */
    r = call(m, "describe_operation", "{\"name\":\"customers.update\"}");
    s = json_object_get(json_object_get(r, "structuredContent"), "input_schema");
    assert_string_equal(json_string_value(json_array_get(json_object_get(s, "required"), 0)),
                        "customer");
    json_decref(r);
    sl__mcp_free(m);
}

static void protocol_revisions(void **state)
{
    (void)state;
    sl_mcp_conn_t conn;
    sl_mcp_config_t cfg = {0};
    sl_mcp_t *m = server(&cfg, &conn);
    json_t *r = ask(m, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":{"
                       "\"protocolVersion\":\"2025-06-18\",\"capabilities\":{}}}");
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(r, "result"), "protocolVersion")),
        "2025-06-18");
    json_decref(r);
    r = ask(m, "{\"jsonrpc\":\"2.0\",\"id\":\"a\",\"method\":\"initialize\",\"params\":{"
               "\"protocolVersion\":\"2026-07-28\"}}");
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(r, "result"), "protocolVersion")),
        "2025-11-25");
    assert_string_equal(json_string_value(json_object_get(r, "id")), "a");
    json_decref(r);
    const char *note = "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}";
    char *none = sl__mcp_answer(m, note, strlen(note));
    assert_null(none);
    r = ask(m, "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"server/discover\",\"params\":{\"_meta\":"
               "{\"io.modelcontextprotocol/protocolVersion\":\"2026-07-28\"}}}");
    json_t *res = json_object_get(r, "result");
    assert_string_equal(json_string_value(json_object_get(res, "resultType")), "complete");
    assert_string_equal(
        json_string_value(json_array_get(json_object_get(res, "supportedVersions"), 0)),
        "2026-07-28");
    json_decref(r);
    r = ask(m, "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"ping\",\"params\":{\"_meta\":"
               "{\"io.modelcontextprotocol/protocolVersion\":\"1999-01-01\"}}}");
    assert_int_equal(json_integer_value(json_object_get(json_object_get(r, "error"), "code")),
                     -32022);
    json_decref(r);
    r = ask(m, "{\"jsonrpc\":\"2.0\",\"id\":4,\"method\":\"resources/templates/list\"}");
    assert_int_equal(
        json_array_size(json_object_get(json_object_get(r, "result"), "resourceTemplates")), 0);
    json_decref(r);
    r = ask(m, "{\"jsonrpc\":\"2.0\",\"id\":5,\"method\":\"sampling/whatever\"}");
    assert_int_equal(json_integer_value(json_object_get(json_object_get(r, "error"), "code")),
                     -32601);
    json_decref(r);
    sl__mcp_free(m);
}

/* The CallToolResult of one call (new reference). */
static json_t *call(sl_mcp_t *m, const char *name, const char *args)
{
    json_t *r = ask(m,
                    "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":"
                    "\"%s\",\"arguments\":%s}}",
                    name, args);
    json_t *res = json_incref(json_object_get(r, "result"));
    json_decref(r);
    assert_non_null(res);
    return res;
}

static const char *error_type(const json_t *res)
{
    assert_true(json_is_true(json_object_get(res, "isError")));
    return json_string_value(json_object_get(
        json_object_get(json_object_get(res, "structuredContent"), "error"), "type"));
}

static void what_is_allowed(void **state)
{
    (void)state;
    sl_mcp_conn_t conn;
    sl_mcp_config_t cfg = {0};
    cfg.read_only = 1;
    sl_mcp_t *m = server(&cfg, &conn);
    int pages;
    json_t *tools = list_all(m, &pages);
    size_t i;
    const json_t *t;
    json_array_foreach(tools, i, t)
    {
        const char *name = json_string_value(json_object_get(t, "name"));
        if (strcmp(name, "call_operation") &&
            !json_is_true(json_object_get(json_object_get(t, "annotations"), "readOnlyHint")))
            fail_msg("read-only lists `%s`", name);
    }
    json_decref(tools);
    json_t *res = call(m, "call_operation",
                       "{\"operation\":\"customers.create\",\"params\":{\"email\":\"a@b.co\"}}");
    assert_string_equal(error_type(res), "refused");
    json_decref(res);
    sl__mcp_free(m);

    const char *patterns[] = {"invoices.*"};
    sl_mcp_config_t narrow = {0};
    narrow.patterns = patterns;
    narrow.npatterns = 1;
    m = server(&narrow, &conn);
    tools = list_all(m, &pages);
    json_array_foreach(tools, i, t)
    {
        const char *name = json_string_value(json_object_get(t, "name"));
        assert_true(strstr(name, "invoice") || strstr(name, "_operation"));
    }
    json_decref(tools);
    res = call(m, "describe_operation", "{\"name\":\"customers.create\"}");
    assert_string_equal(error_type(res), "refused");
    json_decref(res);
    sl__mcp_free(m);

    sl_mcp_conn_t live = {"prod", client, 1};
    sl_mcp_config_t lcfg = {0};
    lcfg.conns = &live;
    lcfg.nconns = 1;
    m = server(&lcfg, NULL);
    res = call(m, "archive-price", "{\"price\":\"price_1\"}");
    assert_string_equal(error_type(res), "refused");
    json_decref(res);
    sl__mcp_free(m);
}

static void validation_before_sending(void **state)
{
    (void)state;
    sl_mcp_conn_t conn;
    sl_mcp_config_t cfg = {0};
    sl_mcp_t *m = server(&cfg, &conn);
    json_t *res = call(m, "create-a-price", "{\"currency\":\"usd\",\"unit_amount\":\"twelve\"}");
    assert_string_equal(error_type(res), "validation_error");
    const json_t *e = json_object_get(json_object_get(res, "structuredContent"), "error");
    assert_string_equal(json_string_value(json_object_get(e, "param")), "unit_amount");
    json_decref(res);
    res = call(m, "call_operation", "{\"operation\":\"customer.craete\"}");
    assert_string_equal(error_type(res), "not_found");
    json_decref(res);
    res = call(m, "create-customer", "{\"email\":\"a@b.co\",\"connection\":\"other\"}");
    assert_string_equal(error_type(res), "invalid_params");
    json_decref(res);
    res = call(m, "search_operations", "{\"query\":\"finalize invoice\"}");
    const json_t *ops = json_object_get(json_object_get(res, "structuredContent"), "operations");
    assert_string_equal(json_string_value(json_object_get(json_array_get(ops, 0), "name")),
                        "invoices.finalize");
    json_decref(res);
    sl__mcp_free(m);
}

/* A stand-in for the REST API: records the last request, answers 202 or 404. */
static char last[1024];
static unsigned fake_api(void *ctx, const char *method, const char *path, const json_t *query,
                         const json_t *body, json_t **out)
{
    (void)ctx;
    char *q = json_dumps(query, JSON_SORT_KEYS | JSON_COMPACT);
    char *b = body ? json_dumps(body, JSON_ENCODE_ANY | JSON_COMPACT) : NULL;
    snprintf(last, sizeof last, "%s %s %s %s", method, path, q, b ? b : "-");
    free(q);
    free(b);
    if (strstr(path, "missing")) {
        *out = json_pack("{s:s,s:s}", "error", "not_found", "message", "no such run");
        return 404;
    }
    *out = json_pack("{s:s}", "ok", path);
    return strcmp(method, "POST") ? 200 : 202;
}

static void sluice_tools(void **state)
{
    (void)state;
    sl_mcp_conn_t conn;
    sl_mcp_config_t cfg = {0};
    cfg.api = fake_api;
    sl_mcp_t *m = server(&cfg, &conn);
    json_t *res = call(m, "list_runs", "{\"flow\":\"hello\",\"limit\":5}");
    assert_string_equal(last, "GET runs {\"flow\":\"hello\",\"limit\":\"5\"} -");
    json_decref(res);
    res = call(m, "run_flow", "{\"name\":\"hello\",\"input\":[1,2]}");
    assert_string_equal(last, "POST flows/hello/run {} [1,2]");
    assert_false(json_is_true(json_object_get(res, "isError")));
    json_decref(res);
    last[0] = '\0';
    res = call(m, "get_run", "{\"id\":\"../flows/x/run\"}");
    assert_string_equal(error_type(res), "invalid_params");
    assert_string_equal(last, "");
    json_decref(res);
    res = call(m, "get_run", "{\"id\":\"run_missing\"}");
    assert_string_equal(error_type(res), "not_found");
    json_decref(res);
    res = call(m, "list_events", "{\"limit\":2.5}");
    assert_string_equal(error_type(res), "invalid_params");
    json_decref(res);
    sl__mcp_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_tool_is_described),   cmocka_unit_test(schemas_follow_the_catalog),
        cmocka_unit_test(protocol_revisions),        cmocka_unit_test(what_is_allowed),
        cmocka_unit_test(validation_before_sending), cmocka_unit_test(sluice_tools),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
