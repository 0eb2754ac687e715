/* libFuzzer: the flow expression and template language never crashes, leaks or runs away,
 * whatever the expression and the context; check and evaluation agree on what is a syntax
 * error; every failure has a message, and messages stay valid UTF-8 (they end up in JSON).
 * The input is the expression, then, after the first NUL or newline, a JSON context; a fixed
 * context stands in when that part is missing or not JSON. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "flow/expr.h"

static const char fallback_ctx[] =
    "{\"trigger\":{\"type\":\"invoice.paid\",\"data\":{\"object\":{\"id\":\"in_1\","
    "\"amount_due\":1999,\"paid\":true,\"total\":12.5,\"metadata\":{\"plan\":\"pro\","
    "\"note\":null},\"lines\":[{\"id\":\"li_1\",\"amount\":50,\"status\":\"open\"},"
    "{\"id\":\"li_2\",\"amount\":150,\"paid\":false}]}}},\"steps\":{\"loop-1\":{\"value\":"
    "{\"customer\":\"cus_9\"}}},\"item\":\"x\",\"index\":0,"
    "\"input\":{\"big\":9223372036854775807,\"small\":-9223372036854775808,\"e\":[],\"o\":{}}}";

static void message_ok(const char *err)
{
    if (!err[0])
        abort(); /* a failure without a message */
    json_t *s = json_string(err);
    if (!s)
        abort(); /* not valid UTF-8 */
    json_decref(s);
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t len)
{
    size_t elen = 0;
    while (elen < len && data[elen] != 0 && data[elen] != '\n')
        elen++;
    char *expr = malloc(elen + 1);
    if (!expr)
        return 0;
    memcpy(expr, data, elen);
    expr[elen] = '\0';
    json_t *ctx = NULL;
    if (elen < len)
        ctx = json_loadb((const char *)data + elen + 1, len - elen - 1, JSON_DECODE_ANY, NULL);
    if (!ctx)
        ctx = json_loads(fallback_ctx, 0, NULL);

    char err[256], err2[256];
    sl_err rc = sl__expr_check(expr, err, sizeof err);
    json_t *v = sl__expr_eval(expr, ctx, err2, sizeof err2);
    if (rc != SL_OK && v)
        abort(); /* evaluated what check calls a syntax error */
    if (rc != SL_OK && strcmp(err, err2) != 0)
        abort(); /* a different message for the same syntax error */
    if (!v)
        message_ok(err2);
    json_decref(v);

    rc = sl__template_check(expr, err, sizeof err);
    v = sl__template_render(expr, ctx, err2, sizeof err2);
    if (rc != SL_OK && v)
        abort();
    if (!v)
        message_ok(err2);
    json_decref(v);

    json_t *doc = json_pack("{s:[s,i]}", "a", expr, 1);
    if (doc) {
        rc = sl__template_check_json(doc, err, sizeof err);
        v = sl__template_render_json(doc, ctx, err2, sizeof err2);
        if (rc != SL_OK && v)
            abort();
        if (!v)
            message_ok(err2);
        json_decref(v);
        json_decref(doc);
    }
    json_decref(ctx);
    free(expr);
    return 0;
}
