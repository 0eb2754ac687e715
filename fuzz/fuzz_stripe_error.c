/* libFuzzer: an error response from Stripe (or from whatever answered in its place: a proxy's
 * HTML page, a truncated body, bytes that are not text) is read into sl_stripe_error_t the way
 * the client reads it. The input's first two bytes make the HTTP status, the rest is the body.
 * Every field comes out NUL-terminated and valid UTF-8 (they end up in run records and JSON
 * replies), the message is never empty, and the API key is redacted out of every field. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "core/utf8.h"
#include "stripe/internal.h"

static const char key[] = "sk_test_FUZZfuzzFUZZfuzz1234";

static void field_ok(const char *s, size_t cap)
{
    if (strnlen(s, cap) == cap)
        abort(); /* not NUL-terminated */
    if (!sl__utf8_valid(s))
        abort(); /* not UTF-8: cannot go into JSON */
    if (strstr(s, key))
        abort(); /* the key shows */
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t len)
{
    if (len < 2)
        return 0;
    long status = 100 + (data[0] << 8 | data[1]) % 500;
    size_t blen = len - 2;
    char *raw = malloc(blen + 1); /* the client's body: NUL-terminated, maybe with NULs inside */
    if (!raw)
        return 0;
    memcpy(raw, data + 2, blen);
    raw[blen] = '\0';
    json_t *body = json_loadb(raw, blen, 0, NULL);
    sl_stripe_error_t e;
    sl__stripe_error_parse(&e, status, body, raw, "req_fuzz");
    char *fields[] = {e.type, e.code, e.decline_code, e.param, e.message, e.doc_url};
    size_t caps[] = {sizeof e.type,  sizeof e.code,    sizeof e.decline_code,
                     sizeof e.param, sizeof e.message, sizeof e.doc_url};
    for (size_t i = 0; i < sizeof fields / sizeof *fields; i++)
        sl__redact(fields[i], key);
    for (size_t i = 0; i < sizeof fields / sizeof *fields; i++)
        field_ok(fields[i], caps[i]);
    if (!e.message[0] || e.http_status != status || strcmp(e.request_id, "req_fuzz") != 0)
        abort();
    json_decref(body);
    free(raw);
    return 0;
}
