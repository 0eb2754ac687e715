/* libFuzzer: form decoding never crashes, and what it decodes encodes and decodes back to the
 * same tree. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "sluice/stripe.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t len)
{
    json_t *a = NULL, *b = NULL;
    char err[256], *enc = NULL;
    if (sl_form_decode((const char *)data, len, &a, err, sizeof err) == SL_OK) {
        if (sl_form_encode(a, &enc) != SL_OK)
            abort();
        if (sl_form_decode(enc, strlen(enc), &b, err, sizeof err) != SL_OK || !json_equal(a, b))
            abort();
    }
    free(enc);
    json_decref(a);
    json_decref(b);
    return 0;
}
