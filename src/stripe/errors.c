#include <stdio.h>
#include <string.h>

#include "stripe/internal.h"

static void err_copy(char *dst, size_t n, const json_t *obj, const char *field)
{
    const json_t *v = json_object_get(obj, field);
    if (json_is_string(v))
        snprintf(dst, n, "%s", json_string_value(v));
    else if (json_is_integer(v))
        snprintf(dst, n, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
}

void sl__stripe_error_parse(sl_stripe_error_t *e, long status, const json_t *body, const char *raw,
                            const char *request_id)
{
    memset(e, 0, sizeof *e);
    e->http_status = status;
    if (request_id)
        snprintf(e->request_id, sizeof e->request_id, "%s", request_id);
    const json_t *err = json_object_get(body, "error");
    if (json_is_object(err)) {
        err_copy(e->type, sizeof e->type, err, "type");
        err_copy(e->code, sizeof e->code, err, "code");
        err_copy(e->decline_code, sizeof e->decline_code, err, "decline_code");
        err_copy(e->param, sizeof e->param, err, "param");
        err_copy(e->message, sizeof e->message, err, "message");
        err_copy(e->doc_url, sizeof e->doc_url, err, "doc_url");
    }
    if (e->message[0])
        return;
    /* Not Stripe's error shape (a proxy's page, an empty body): say what came back. */
    if (raw && *raw) {
        size_t n = strcspn(raw, "\r\n");
        snprintf(e->message, sizeof e->message,
                 "HTTP %ld with a body that is not a Stripe error: %.*s", status,
                 (int)(n > 200 ? 200 : n), raw);
    } else {
        snprintf(e->message, sizeof e->message, "HTTP %ld with an empty body", status);
    }
}
