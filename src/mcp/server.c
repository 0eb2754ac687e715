/* The JSON-RPC side: one message a line in, one reply a line out. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/utf8.h"
#include "mcp/internal.h"

#define MODERN "2026-07-28"
#define META_VERSION "io.modelcontextprotocol/protocolVersion"

/* The initialize-handshake revisions, newest first. */
static const char *const legacy_versions[] = {"2025-11-25", "2025-06-18", "2025-03-26",
                                              "2024-11-05", NULL};

enum {
    RPC_PARSE = -32700,
    RPC_INVALID = -32600,
    RPC_NO_METHOD = -32601,
    RPC_PARAMS = -32602,
    RPC_INTERNAL = -32603,
    RPC_VERSION = -32022, /* 2026-07-28: the request's protocol version is not supported */
};

static const char instructions[] =
    "sluice: Stripe's whole API as tools, validated before anything is sent. "
    "search_operations finds an operation by words, describe_operation shows its parameters, "
    "call_operation calls it; the named actions (find-customer, create-a-payment-link, ...) are "
    "tools of their own. Errors come back with Stripe's type, code, param and request id.";

sl_mcp_t *sl__mcp_new(const sl_mcp_config_t *cfg)
{
    sl_mcp_t *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    m->cfg = *cfg;
    if (!m->cfg.page_size)
        m->cfg.page_size = 100;
    if (sl__mcp_tools_build(m)) {
        sl__mcp_free(m);
        return NULL;
    }
    return m;
}

void sl__mcp_free(sl_mcp_t *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->ntools; i++)
        json_decref(m->tools[i].listed);
    free(m->tools);
    free(m);
}

size_t sl__mcp_tool_count(const sl_mcp_t *m)
{
    return m->ntools;
}

static json_t *versions(int modern)
{
    json_t *v = json_array();
    if (modern)
        json_array_append_new(v, json_string(MODERN));
    for (size_t i = 0; legacy_versions[i]; i++)
        json_array_append_new(v, json_string(legacy_versions[i]));
    return v;
}

static json_t *server_info(void)
{
    return json_pack("{s:s,s:s,s:s}", "name", "sluice", "title", "sluice (Stripe)", "version",
                     SLUICE_VERSION);
}

static json_t *capabilities(void)
{
    return json_pack("{s:{s:b},s:{},s:{}}", "tools", "listChanged", 0, "resources", "prompts");
}

static json_t *rpc_error(json_t *id, int code, const char *message, json_t *data)
{
    /* A message may quote the request (a parser's "near ..."): made valid UTF-8. */
    char text[512];
    snprintf(text, sizeof text, "%s", message);
    sl__utf8_mend(text);
    json_t *e = json_pack("{s:i,s:s}", "code", code, "message", text);
    if (data)
        json_object_set_new(e, "data", data);
    return json_pack("{s:s,s:O,s:o}", "jsonrpc", "2.0", "id", id ? id : json_null(), "error", e);
}

static json_t *initialize(const json_t *params)
{
    const char *asked = json_string_value(json_object_get(params, "protocolVersion"));
    const char *answer = legacy_versions[0];
    for (size_t i = 0; asked && legacy_versions[i]; i++)
        if (!strcmp(asked, legacy_versions[i]))
            answer = legacy_versions[i];
    return json_pack("{s:s,s:o,s:o,s:s}", "protocolVersion", answer, "capabilities", capabilities(),
                     "serverInfo", server_info(), "instructions", instructions);
}

static json_t *tools_list(sl_mcp_t *m, const json_t *params, json_t *id)
{
    size_t start = 0;
    const json_t *cursor = json_object_get(params, "cursor");
    if (cursor && !json_is_null(cursor)) {
        const char *c = json_string_value(cursor);
        char *end = NULL;
        unsigned long long v = c ? strtoull(c, &end, 10) : 0;
        if (!c || !*c || *end || v == 0 || v >= m->ntools)
            return rpc_error(id, RPC_PARAMS, "invalid cursor: pass the nextCursor of a tools/list",
                             NULL);
        start = (size_t)v;
    }
    json_t *tools = json_array();
    size_t end = start + m->cfg.page_size;
    if (end > m->ntools)
        end = m->ntools;
    for (size_t i = start; i < end; i++)
        json_array_append(tools, (json_t *)sl__mcp_tool_json(m, &m->tools[i]));
    json_t *r = json_pack("{s:o}", "tools", tools);
    if (end < m->ntools) {
        char next[32];
        snprintf(next, sizeof next, "%zu", end);
        json_object_set_new(r, "nextCursor", json_string(next));
    }
    return r;
}

/* The result of a request, or an error reply (then *is_reply is set). */
static json_t *dispatch(sl_mcp_t *m, const char *method, const json_t *params, json_t *id,
                        int *is_reply)
{
    *is_reply = 0;
    if (!strcmp(method, "initialize"))
        return initialize(params);
    if (!strcmp(method, "server/discover"))
        return json_pack("{s:o,s:o,s:o,s:s}", "supportedVersions", versions(1), "capabilities",
                         capabilities(), "serverInfo", server_info(), "instructions", instructions);
    if (!strcmp(method, "ping"))
        return json_object();
    if (!strcmp(method, "tools/list")) {
        json_t *r = tools_list(m, params, id);
        *is_reply = json_object_get(r, "error") != NULL;
        return r;
    }
    if (!strcmp(method, "tools/call")) {
        const char *name = json_string_value(json_object_get(params, "name"));
        const json_t *args = json_object_get(params, "arguments");
        *is_reply = 1;
        if (!name)
            return rpc_error(id, RPC_PARAMS, "tools/call needs params.name", NULL);
        if (args && !json_is_null(args) && !json_is_object(args))
            return rpc_error(id, RPC_PARAMS, "params.arguments must be an object", NULL);
        sl_mcp_tool_t *t = sl__mcp_tool_find(m, name);
        if (!t) {
            char msg[200];
            snprintf(msg, sizeof msg, "unknown tool `%.100s`; tools/list names them", name);
            return rpc_error(id, RPC_PARAMS, msg, NULL);
        }
        *is_reply = 0;
        return sl__mcp_tool_call(m, t, json_is_object(args) ? args : NULL);
    }
    if (!strcmp(method, "resources/list"))
        return json_pack("{s:[]}", "resources");
    if (!strcmp(method, "resources/templates/list"))
        return json_pack("{s:[]}", "resourceTemplates");
    if (!strcmp(method, "prompts/list"))
        return json_pack("{s:[]}", "prompts");
    if (!strcmp(method, "logging/setLevel"))
        return json_object();
    char msg[200];
    snprintf(msg, sizeof msg, "method `%.100s` is not supported by sluice mcp", method);
    *is_reply = 1;
    return rpc_error(id, RPC_NO_METHOD, msg, NULL);
}

static char *dump(json_t *reply)
{
    char *s = json_dumps(reply, JSON_COMPACT);
    json_decref(reply);
    return s;
}

char *sl__mcp_answer(sl_mcp_t *m, const char *line, size_t len)
{
    json_error_t jerr;
    json_t *msg = json_loadb(line, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!msg) {
        char text[300];
        snprintf(text, sizeof text, "parse error at column %d: %s", jerr.column, jerr.text);
        return dump(rpc_error(NULL, RPC_PARSE, text, NULL));
    }
    json_t *id = json_object_get(msg, "id");
    const json_t *method = json_object_get(msg, "method");
    const json_t *params = json_object_get(msg, "params");
    char *out = NULL;
    if (!json_is_object(msg)) {
        out = dump(rpc_error(NULL, RPC_INVALID,
                             json_is_array(msg) ? "batches are not supported: one message a line"
                                                : "a message is a JSON object",
                             NULL));
        goto done;
    }
    if (!method) { /* a response to a request of ours (we send none): nothing to say */
        if (!json_object_get(msg, "result") && !json_object_get(msg, "error"))
            out = dump(rpc_error(id, RPC_INVALID, "no method", NULL));
        goto done;
    }
    int valid_id = !id || json_is_string(id) || json_is_integer(id);
    if (!json_is_string(method) || !valid_id || !json_is_string(json_object_get(msg, "jsonrpc")) ||
        strcmp(json_string_value(json_object_get(msg, "jsonrpc")), "2.0") ||
        (params && !json_is_object(params))) {
        out = dump(rpc_error(valid_id ? id : NULL, RPC_INVALID,
                             "not a JSON-RPC 2.0 request (jsonrpc \"2.0\", a string method, an id "
                             "that is a string or an integer, params an object)",
                             NULL));
        goto done;
    }
    if (!id) /* a notification (notifications/initialized, cancelled, ...): no answer */
        goto done;
    /* 2026-07-28: each request names its protocol version in _meta. */
    const json_t *meta = json_object_get(params, "_meta");
    const json_t *ver = json_object_get(meta, META_VERSION);
    int modern = 0; /* answered in 2026-07-28's terms: nothing is kept between requests */
    if (ver) {
        const char *v = json_string_value(ver);
        int known = v && !strcmp(v, MODERN);
        for (size_t i = 0; v && legacy_versions[i]; i++)
            known |= !strcmp(v, legacy_versions[i]);
        if (!known) {
            out =
                dump(rpc_error(id, RPC_VERSION, "Unsupported protocol version",
                               json_pack("{s:o,s:O}", "supported", versions(1), "requested", ver)));
            goto done;
        }
        modern = !strcmp(v, MODERN);
    }
    int is_reply;
    json_t *r = dispatch(m, json_string_value(method), params, id, &is_reply);
    if (!r) {
        out = dump(rpc_error(id, RPC_INTERNAL, "out of memory", NULL));
        goto done;
    }
    if (is_reply) {
        out = dump(r);
        goto done;
    }
    if (modern)
        json_object_set_new(r, "resultType", json_string("complete"));
    out = dump(json_pack("{s:s,s:O,s:o}", "jsonrpc", "2.0", "id", id, "result", r));
done:
    json_decref(msg);
    return out;
}

static int write_line(FILE *out, char *reply)
{
    if (!reply)
        return 0;
    int bad = fputs(reply, out) == EOF || fputc('\n', out) == EOF || fflush(out) == EOF;
    free(reply);
    return bad ? -1 : 0;
}

int sl__mcp_serve(sl_mcp_t *m, int in, FILE *out, size_t max_line)
{
    size_t cap = max_line + 1, len = 0;
    char *line = malloc(cap);
    char chunk[65536];
    int skipping = 0, rc = 0;
    if (!line)
        return -1;
    for (;;) {
        ssize_t n = read(in, chunk, sizeof chunk);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rc = -1;
            break;
        }
        if (n == 0)
            break;
        for (ssize_t i = 0; i < n && rc == 0; i++) {
            char c = chunk[i];
            if (c != '\n') {
                if (skipping)
                    continue;
                if (len == max_line) {
                    skipping = 1;
                    char msg[120];
                    snprintf(msg, sizeof msg, "message longer than %zu bytes: skipped", max_line);
                    rc = write_line(out, dump(rpc_error(NULL, RPC_INVALID, msg, NULL)));
                    continue;
                }
                line[len++] = c;
                continue;
            }
            if (!skipping) {
                while (len && line[len - 1] == '\r')
                    len--;
                size_t blank = 0;
                while (blank < len && (line[blank] == ' ' || line[blank] == '\t'))
                    blank++;
                if (blank < len)
                    rc = write_line(out, sl__mcp_answer(m, line, len));
            }
            len = 0;
            skipping = 0;
        }
        if (rc)
            break;
    }
    /* A last message without its newline still counts. */
    if (rc == 0 && len && !skipping)
        rc = write_line(out, sl__mcp_answer(m, line, len));
    free(line);
    return rc;
}
