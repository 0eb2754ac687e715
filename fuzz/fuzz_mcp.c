/* libFuzzer: one line of input to `sluice mcp` (sl__mcp_answer), with every tool listed and the
 * Stripe client pointed at a closed loopback port, so a call that gets past validation fails
 * fast. A reply is one line of JSON: an object with jsonrpc "2.0" and exactly one of result and
 * error (an error with an integer code and a message); a request with a string or integer id gets
 * it back; nothing is answered only for a notification or a response; nothing leaks. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "mcp/mcp.h"

static sl_mcp_t *server;
static sl_client_t *client;

static void setup(void)
{
    sl_client_config_t cfg;
    sl_client_config_init(&cfg);
    cfg.api_key = "sk_test_fuzz";
    cfg.base_url = "http://127.0.0.1:9";
    cfg.max_retries = 0;
    cfg.connect_timeout_ms = 200;
    if (sl_client_new(&cfg, &client, NULL, 0))
        abort();
    static sl_mcp_conn_t conns[2];
    conns[0] = (sl_mcp_conn_t){"test", client, 0};
    conns[1] = (sl_mcp_conn_t){"prod", client, 1};
    sl_mcp_config_t m = {0};
    m.conns = conns;
    m.nconns = 2;
    m.all_operations = 1;
    m.page_size = 50;
    server = sl__mcp_new(&m);
    if (!server)
        abort();
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t len)
{
    if (!server)
        setup();
    json_t *msg = json_loadb((const char *)data, len, JSON_REJECT_DUPLICATES, NULL);
    char *reply = sl__mcp_answer(server, (const char *)data, len);
    const json_t *id = json_object_get(msg, "id");
    int request = json_is_object(msg) && json_object_get(msg, "method");
    if (!reply) {
        /* Silence is for notifications and responses only. */
        if (!json_is_object(msg) || (request && id && !json_is_null(id)))
            abort();
        if (!request && !json_object_get(msg, "result") && !json_object_get(msg, "error"))
            abort();
        json_decref(msg);
        return 0;
    }
    if (strchr(reply, '\n'))
        abort();
    json_t *r = json_loads(reply, 0, NULL);
    if (!json_is_object(r) || !json_is_string(json_object_get(r, "jsonrpc")) ||
        strcmp(json_string_value(json_object_get(r, "jsonrpc")), "2.0"))
        abort();
    const json_t *res = json_object_get(r, "result"), *err = json_object_get(r, "error");
    if (!res == !err)
        abort();
    if (err && (!json_is_integer(json_object_get(err, "code")) ||
                !json_is_string(json_object_get(err, "message"))))
        abort();
    if (request && (json_is_string(id) || json_is_integer(id)) &&
        !json_equal(json_object_get(r, "id"), id) && !json_is_null(json_object_get(r, "id")))
        abort();
    json_decref(r);
    free(reply);
    json_decref(msg);
    return 0;
}
