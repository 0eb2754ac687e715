/* Stripe's error bodies into sl_stripe_error_t. Every field stays valid UTF-8: the fields end
 * up in run records and JSON replies, which cannot hold anything else. */
#include <stdio.h>
#include <string.h>

#include "core/utf8.h"
#include "stripe/internal.h"

static void err_copy(char *dst, size_t n, const json_t *obj, const char *field)
{
    const json_t *v = json_object_get(obj, field);
    if (json_is_string(v))
        snprintf(dst, n, "%s", json_string_value(v));
    else if (json_is_integer(v))
        snprintf(dst, n, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
    sl__utf8_clip(dst); /* a long value is cut: not inside a character */
}

/* The first line of a body that is not Stripe's, as text: at most `max` bytes, whole UTF-8
 * characters only, each byte that is not part of one or is a control character shown as '?'. */
static void raw_line(char *out, size_t max, const char *raw)
{
    const unsigned char *p = (const unsigned char *)raw;
    size_t n = strcspn(raw, "\r\n"), o = 0;
    for (size_t i = 0; i < n;) {
        size_t k = p[i] < 0x80 ? 1 : sl__utf8_seq(p + i, n - i);
        if (k == 0 || (k == 1 && (p[i] < 0x20 || p[i] == 0x7f))) {
            k = 1;
            if (o + 1 > max)
                break;
            out[o++] = '?';
        } else {
            if (o + k > max)
                break;
            memcpy(out + o, p + i, k);
            o += k;
        }
        i += k;
    }
    out[o] = '\0';
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
        char line[201];
        raw_line(line, sizeof line - 1, raw);
        snprintf(e->message, sizeof e->message,
                 "HTTP %ld with a body that is not a Stripe error: %s", status, line);
    } else {
        snprintf(e->message, sizeof e->message, "HTTP %ld with an empty body", status);
    }
}
