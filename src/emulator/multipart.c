/* multipart/form-data, as the SDKs upload files to POST /v1/files, read into the form body that
 * Stripe's other requests send, so that the rest of the request path (the catalog's checks,
 * idempotency fingerprints, stateless answers) treats an upload as any other request. */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "core/buf.h"
#include "emulator/internal.h"

/* Appends bytes to a form body, percent-encoded except for unreserved characters. */
static void form_escape(sl_buf_t *out, const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)p[i];
        if (isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~')
            sl__buf_append(out, p + i, 1);
        else
            sl__buf_printf(out, "%%%02X", c);
    }
}

int sl__emu_multipart_form(const char *ctype, const char *body, size_t len, struct sl_buf *out)
{
    const char *b = ctype ? strstr(ctype, "boundary=") : NULL;
    if (!ctype || strncasecmp(ctype, "multipart/form-data", 19) || !b)
        return -1;
    char delim[256];
    b += 9;
    size_t bl = strcspn(b, ";");
    if (b[0] == '"')
        bl = strcspn(++b, "\"");
    if (!bl || bl > 200)
        return -1;
    snprintf(delim, sizeof delim, "--%.*s", (int)bl, b);
    size_t dl = strlen(delim);
    const char *end = body + len;
    const char *p = memmem(body, len, delim, dl);
    while (p) {
        p += dl;
        if (end - p >= 2 && p[0] == '-' && p[1] == '-')
            break; /* the closing delimiter */
        const char *hdr_end = memmem(p, (size_t)(end - p), "\r\n\r\n", 4);
        if (!hdr_end)
            break;
        const char *value = hdr_end + 4;
        const char *next = memmem(value, (size_t)(end - value), delim, dl);
        if (!next)
            break;
        size_t vl = (size_t)(next - value);
        if (vl >= 2 && value[vl - 2] == '\r' && value[vl - 1] == '\n')
            vl -= 2;
        char headers[1024];
        snprintf(headers, sizeof headers, "%.*s", (int)(hdr_end - p), p);
        const char *name = strstr(headers, " name=\""), *file = strstr(headers, "filename=\"");
        if (name) {
            name += 7;
            if (out->len)
                sl__buf_append(out, "&", 1);
            form_escape(out, name, strcspn(name, "\""));
            sl__buf_append(out, "=", 1);
            if (file) {
                file += 10;
                form_escape(out, file, strcspn(file, "\""));
            } else {
                form_escape(out, value, vl);
            }
        }
        p = next;
    }
    return 0;
}
