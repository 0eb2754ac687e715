/* libFuzzer: the emulator's reader of multipart/form-data uploads. The input is a Content-Type
 * line, then the body. Whatever the body holds (no boundary, parts without an end, NUL bytes,
 * headers past their buffer), sl__emu_multipart_form never crashes or reads past the body, and
 * what it writes is a form body: only unreserved characters, '%' with two hex digits, '=' and
 * '&', which sl_form_decode reads without a crash or a leak. */
#include <ctype.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "emulator/internal.h"
#include "sluice/stripe.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t len)
{
    if (len > 65536)
        return 0;
    const unsigned char *nl = memchr(data, '\n', len);
    if (!nl)
        return 0;
    size_t tl = (size_t)(nl - data);
    char *ctype = malloc(tl + 1);
    /* The body alone in its own allocation: a read past its end is ASan's to see. */
    size_t bl = len - tl - 1;
    char *body = malloc(bl ? bl : 1);
    if (!ctype || !body) {
        free(ctype);
        free(body);
        return 0;
    }
    memcpy(ctype, data, tl);
    ctype[tl] = '\0';
    memcpy(body, nl + 1, bl);
    sl_buf_t out;
    sl__buf_init(&out, 1u << 20);
    int rc = sl__emu_multipart_form(ctype, body, bl, &out);
    if (rc != 0 && rc != -1)
        abort();
    if (rc == -1 && out.len)
        abort(); /* not multipart, yet something written */
    for (size_t i = 0; i < out.len; i++) {
        unsigned char c = (unsigned char)out.data[i];
        if (c == '%') {
            if (i + 2 >= out.len)
                abort(); /* an escape cut short */
            if (!isxdigit((unsigned char)out.data[i + 1]) ||
                !isxdigit((unsigned char)out.data[i + 2]))
                abort();
            i += 2;
        } else if (!isalnum(c) && !strchr("-_.~=&", c)) {
            abort();
        }
    }
    json_t *form = NULL;
    char err[256];
    if (sl_form_decode(out.data ? out.data : "", out.len, &form, err, sizeof err) == SL_OK)
        json_decref(form);
    sl__buf_cleanup(&out);
    free(ctype);
    free(body);
    return 0;
}
