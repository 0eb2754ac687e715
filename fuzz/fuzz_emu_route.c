/* libFuzzer: the emulator's router. The input is "METHOD PATH" (the request line as the
 * emulator sees it, the query cut off). A path that routes names an operation of that method
 * with the same number of segments, every literal segment matching, and leaves each of its
 * path parameters in the params as a string (handlers take them as ids); nothing crashes or
 * leaks, whatever the path holds (raw bytes, long segments, many slashes). */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "emulator/internal.h"
#include "sluice/catalog.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t len)
{
    if (len > 8192)
        return 0;
    char *text = malloc(len + 1);
    if (!text)
        return 0;
    memcpy(text, data, len);
    text[len] = '\0';
    char *sp = strchr(text, ' ');
    const char *method = "GET", *path = text;
    if (sp) {
        *sp = '\0';
        method = text;
        path = sp + 1;
    }
    char *q = strchr(path, '?');
    if (q)
        *q = '\0';
    json_t *params = json_object();
    const sl_op_t *op = sl__emu_route(method, path, params);
    if (op) {
        if (strcmp(sl_op_method(op), method) != 0)
            abort();
        for (size_t i = 0; i < sl_op_path_param_count(op); i++)
            if (!json_is_string(json_object_get(params, sl_op_path_param(op, i))))
                abort(); /* a path parameter the handlers will find missing (NULL id) */
    } else if (json_object_size(params) != 0) {
        abort(); /* no route, yet parameters */
    }
    json_decref(params);
    free(text);
    return 0;
}
