/* libFuzzer: the JSON scanner never accepts what jansson refuses, and accepts what jansson
 * takes (NUL bytes and nesting past 256 aside). */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "core/jscan.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t len)
{
    sl_jscan_field_t f[2] = {{.name = "id"}, {.name = "type"}};
    int s = sl__jscan_object((const char *)data, len, f, 2) == SL_OK;
    json_t *v = json_loadb((const char *)data, len, 0, NULL);
    int j = json_is_object(v);
    if (s && !j)
        abort(); /* accepted what jansson cannot read back */
    if (j && !s && !memchr(data, 0, len) && len < 200)
        abort(); /* refused a document jansson takes (short ones cannot nest past 256) */
    if (s && f[0].kind == SL_JSCAN_STRING) {
        json_t *id = json_object_get(v, "id");
        if (!json_is_string(id) || json_string_length(id) != f[0].len ||
            memcmp(json_string_value(id), f[0].str, f[0].len))
            abort(); /* a different id than jansson's */
    }
    json_decref(v);
    return 0;
}
