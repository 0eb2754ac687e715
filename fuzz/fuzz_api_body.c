/* libFuzzer: what the REST API of `sluice serve` reads from a request: the path under /api/
 * (split into segments) and the body of POST /api/flows/NAME/run (the run's input). The input
 * is the path, then after the first newline the body. Segments are never empty, at most 255
 * bytes (a longer one refuses the path) and whole, so valid UTF-8 when the path is; a body is
 * either a JSON value or refused with a message that can go into the JSON error reply; nothing
 * leaks. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "core/utf8.h"
#include "http/api.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t len)
{
    const unsigned char *nl = memchr(data, '\n', len);
    size_t plen = nl ? (size_t)(nl - data) : len;
    char *path = malloc(plen + 1);
    if (!path)
        return 0;
    memcpy(path, data, plen);
    path[plen] = '\0';
    char seg[SL_API_SEGS][256];
    int n = sl__api_split(path, seg);
    if (n < -1 || n > SL_API_SEGS)
        abort();
    int utf8 = sl__utf8_valid(path);
    for (int i = 0; i < SL_API_SEGS && n >= 0; i++) {
        if (strlen(seg[i]) > 255 || (i >= n && seg[i][0]) || (i < n && !seg[i][0]))
            abort();
        if (utf8 && !sl__utf8_valid(seg[i]))
            abort(); /* a segment cut inside a character */
    }
    if (nl) {
        char err[1024] = "";
        const char *body = (const char *)nl + 1;
        size_t blen = len - plen - 1;
        json_t *input = sl__api_run_input(body, blen, err, sizeof err);
        if (!input) {
            json_t *reply = json_pack("{s:s,s:s}", "error", "bad_request", "message", err);
            if (!err[0] || !reply)
                abort(); /* the 400 reply could not be built from its message */
            json_decref(reply);
        }
        json_decref(input);
    }
    free(path);
    return 0;
}
